"""dlcore.stats against scipy.stats and the published worked examples, on fixed samples."""

import numpy as np
import pytest
from scipy import stats as sp

from dlcore import stats

SAMPLES = [
    [0.231, 0.254, 0.240],
    [1.0, 2.0, 3.0, 4.5, 2.2],
    np.random.default_rng(0).normal(0.1, 0.02, 10).tolist(),
]


@pytest.mark.parametrize("values", SAMPLES)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_interval_is_scipys_t_interval(values, confidence):
    x = np.asarray(values)
    low, high = sp.t.interval(confidence, len(x) - 1, loc=x.mean(), scale=sp.sem(x))
    got = stats.interval(values, confidence)
    assert got.estimate == pytest.approx(x.mean())
    assert (got.low, got.high) == (pytest.approx(low), pytest.approx(high))
    assert got.n == len(x) and got.confidence == confidence


def test_the_docstring_s_t_values():
    """What few seeds buy, as the module says: t = 12.71, 4.30, 2.78, 2.26 for 2, 3, 5, 10."""
    for n, t in [(2, 12.71), (3, 4.30), (5, 2.78), (10, 2.26)]:
        assert round(sp.t.ppf(0.975, n - 1), 2) == t
        assert t in [float(w) for w in stats.__doc__.replace(",", " ").split() if
                     w.replace(".", "").isdigit()]


@pytest.mark.parametrize("seed", range(4))
def test_paired_comparison_is_scipys_paired_t_interval(seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(0.3, 0.05, 6)
    b = a - rng.normal(0.02, 0.03, 6)
    ci = sp.ttest_rel(a, b).confidence_interval(0.95)
    got = stats.compare_paired(a, b, expected="greater")
    assert (got.difference.low, got.difference.high) == (pytest.approx(ci.low),
                                                        pytest.approx(ci.high))
    assert got.difference.estimate == pytest.approx(np.mean(a - b))


@pytest.mark.parametrize("first, second, expected, verdict", [
    ([3.0, 3.1, 3.2], [1.0, 1.2, 1.1], "greater", "holds"),
    ([3.0, 3.1, 3.2], [1.0, 1.2, 1.1], "less", "reversed"),
    ([1.0, 1.2, 1.1], [3.0, 3.1, 3.2], "less", "holds"),
    ([1.0, 2.0, 3.0], [1.5, 1.5, 2.0], "greater", "within noise"),
    ([1.0, 2.0, 3.0], [0.5, 1.5, 2.5], "greater", "holds"),  # the same difference every seed
    ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], "greater", "within noise"),  # no difference at all
])
def test_verdicts_come_from_the_interval(first, second, expected, verdict):
    got = stats.compare_paired(first, second, expected=expected)
    assert got.verdict == verdict and got.verdict in stats.VERDICTS


def test_pairing_sees_what_two_separate_intervals_cannot():
    """Seeds that vary a lot but move both settings together: the separate intervals overlap,
    the paired difference is clear."""
    base = np.array([0.2, 0.5, 0.8, 0.3, 0.6])
    a, b = base + 0.05, base + np.array([0.0, 0.01, -0.01, 0.0, 0.005])
    ia, ib = stats.interval(a), stats.interval(b)
    assert ia.low < ib.high and ib.low < ia.high  # they overlap
    assert stats.compare_paired(a, b, expected="greater").verdict == "holds"


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (10, 10), (81, 263), (1, 1), (500, 1000)])
def test_proportion_is_scipys_wilson_interval(k, n):
    ci = sp.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    got = stats.proportion(k, n)
    assert (got.low, got.high) == (pytest.approx(ci.low, abs=1e-12),
                                   pytest.approx(ci.high, abs=1e-12))
    assert got.estimate == k / n and 0 <= got.low <= got.estimate <= got.high <= 1


def test_newcombes_worked_examples():
    """Newcombe (1998), Statistics in Medicine 17:873-890: 81/263 has Wilson interval
    0.2553-0.3662; 56/70 - 48/80 has hybrid-score (method 10) interval 0.0524-0.3339."""
    one = stats.proportion(81, 263)
    assert (round(one.low, 4), round(one.high, 4)) == (0.2553, 0.3662)
    two = stats.compare_proportions((56, 70), (48, 80), expected="greater")
    assert (round(two.difference.low, 4), round(two.difference.high, 4)) == (0.0524, 0.3339)
    assert two.verdict == "holds"
    assert stats.compare_proportions((48, 80), (56, 70), expected="greater").verdict == "reversed"
    assert stats.compare_proportions((5, 10), (4, 10), expected="greater").verdict == \
        "within noise"


def test_formatting():
    got = stats.interval([0.1, 0.2, 0.3])
    assert str(got).startswith("0.2 [") and "(95%, n = 3)" in str(got)
    assert stats.proportion(3, 10).format(digits=2, scale=100, unit="%").startswith("30%")
    assert str(stats.compare_paired([2, 3], [1, 3.2], expected="greater")).startswith(
        "within noise: difference")


@pytest.mark.parametrize("call, error, match", [
    (lambda: stats.interval([1.0]), ValueError, "at least 2"),
    (lambda: stats.interval([[1.0, 2.0]]), ValueError, "one-dimensional"),
    (lambda: stats.interval([1.0, float("nan")]), ValueError, "not finite"),
    (lambda: stats.interval(["a", "b"]), TypeError, "numbers"),
    (lambda: stats.interval([1.0, 2.0], confidence=95), ValueError, "between 0 and 1"),
    (lambda: stats.compare_paired([1, 2, 3], [1, 2], expected="greater"), ValueError,
     "one value per seed"),
    (lambda: stats.compare_paired([1, 2], [1, 2], expected="bigger"), ValueError, "'greater'"),
    (lambda: stats.proportion(11, 10), ValueError, "successes <= trials"),
    (lambda: stats.proportion(2.5, 10), TypeError, "whole numbers"),
    (lambda: stats.proportion(True, 10), TypeError, "booleans"),
    (lambda: stats.compare_proportions((1, 0), (1, 2), expected="less"), ValueError,
     "trials >= 1"),
])
def test_bad_input_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()
