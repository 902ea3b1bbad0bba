"""The book's one rule for comparing settings over seeds.

Every comparison a chapter, an experiment or the claims ledger makes goes through these
functions, so that "reproduced" means the same thing everywhere:

- :func:`interval` — the mean of a sample (one setting, several seeds) with its Student-t
  confidence interval;
- :func:`compare_paired` — two settings run on the *same* seeds: the mean of the per-seed
  differences, its t-interval, and a verdict against the direction the claim expects;
- :func:`proportion` and :func:`compare_proportions` — counts (runs that reached a target, test
  images classified correctly): Wilson's interval for one proportion, Newcombe's for a
  difference of two.

The verdict of a comparison is read off its interval, never typed by hand:

=================  =====================================================================
verdict            the interval of (first - second) ...
=================  =====================================================================
``holds``          lies wholly on the side the claim expects
``reversed``       lies wholly on the other side
``within noise``   contains zero: these seeds cannot tell the settings apart
=================  =====================================================================

**What few seeds buy.** The t-interval's half-width is :math:`t_{n-1}\\,s/\\sqrt n`, and
:math:`t_{n-1}` is large for small :math:`n`: 12.71 for 2 seeds, 4.30 for 3, 2.78 for 5, 2.26
for 10. With 3 seeds a difference must be about 2.5 times its seed-to-seed spread before it is
more than noise, so most comparisons a chapter can afford live (3 seeds in about 80 s) read
"within noise". That is honest, not a failure: the verdict of a claim comes from a stored run
with at least 5 seeds (better 10), and the live run shows the reader the same code at a smaller
size.

**Paired or not.** When both settings can be run with the same seeds (the same initial weights,
the same batches), pair them: the seed-to-seed variation common to both cancels, and the interval
of the difference is much narrower than the two separate intervals suggest. Do not read two
overlapping :func:`interval` results as "no difference" — compare them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "Comparison", "interval", "compare_paired", "proportion",
           "compare_proportions", "VERDICTS"]

#: The three verdicts a comparison can reach.
VERDICTS = ("holds", "reversed", "within noise")
_DIRECTIONS = ("greater", "less")


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval: ``estimate`` in ``[low, high]`` at level
    ``confidence``, from ``n`` observations (seeds, runs or trials)."""

    estimate: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    def __str__(self) -> str:
        return self.format()

    def format(self, digits: int = 3, scale: float = 1.0, unit: str = "") -> str:
        """``"0.123 [0.101, 0.145] (95%, n = 5)"``; ``scale=100, unit="%"`` for percentages."""
        f = lambda v: f"{v * scale:.{digits}g}{unit}"  # noqa: E731
        return (f"{f(self.estimate)} [{f(self.low)}, {f(self.high)}] "
                f"({self.confidence:.0%}, n = {self.n})")


@dataclass(frozen=True)
class Comparison:
    """A difference (first - second) with its interval, the direction the claim expects
    (``"greater"``: first > second; ``"less"``: first < second) and the verdict."""

    difference: Interval
    expected: str
    verdict: str

    def __str__(self) -> str:
        return f"{self.verdict}: difference {self.difference} (expected {self.expected})"


def _sample(values, what: str) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} must be numbers, got {type(values).__name__}") from e
    if x.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional (one value per seed), got shape "
                         f"{x.shape}")
    if len(x) < 2:
        raise ValueError(f"{what} needs at least 2 values for an interval, got {len(x)}")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} holds a value that is not finite: {x.tolist()}")
    return x


def _confidence(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    return float(confidence)


def _verdict(low: float, high: float, expected: str) -> str:
    if expected not in _DIRECTIONS:
        raise ValueError(f"expected must be 'greater' or 'less' (the direction of first - "
                         f"second the claim predicts), got {expected!r}")
    sign = 1 if expected == "greater" else -1
    low, high = sorted((sign * low, sign * high))
    if low > 0:
        return "holds"
    if high < 0:
        return "reversed"
    return "within noise"


def _t_quantile(confidence: float, dof: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + confidence / 2, dof))


def interval(values, confidence: float = 0.95) -> Interval:
    """Mean of ``values`` (one per seed) and its Student-t interval.

    Applies to a measurement repeated over independent seeds whose spread is roughly normal (a
    final loss, an error rate over many test images). For counts of successes use
    :func:`proportion`; for two settings use :func:`compare_paired`.
    """
    x, confidence = _sample(values, "values"), _confidence(confidence)
    mean = float(x.mean())
    half = _t_quantile(confidence, len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return Interval(mean, mean - half, mean + half, len(x), confidence)


def compare_paired(first, second, *, expected: str, confidence: float = 0.95) -> Comparison:
    """Two settings run on the same seeds: ``first[i]`` and ``second[i]`` share seed ``i``.

    The interval is the t-interval of the per-seed differences ``first - second``; the verdict
    says whether it lies wholly on the ``expected`` side (``"greater"`` or ``"less"``), wholly on
    the other, or across zero. With identical differences on every seed the interval has zero
    width, and the verdict is that of their sign.
    """
    a, b = _sample(first, "first"), _sample(second, "second")
    if a.shape != b.shape:
        raise ValueError(f"a paired comparison needs one value per seed on both sides, got "
                         f"{len(a)} and {len(b)}")
    diff = interval(a - b, confidence)
    return Comparison(diff, expected, _verdict(diff.low, diff.high, expected))


def _counts(successes, trials, what: str) -> tuple[int, int]:
    if isinstance(successes, bool) or isinstance(trials, bool):
        raise TypeError(f"{what}: successes and trials are counts (ints), not booleans")
    if int(successes) != successes or int(trials) != trials:
        raise TypeError(f"{what}: successes and trials must be whole numbers, got "
                        f"{successes!r} and {trials!r}")
    k, n = int(successes), int(trials)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"{what}: need 0 <= successes <= trials and trials >= 1, got "
                         f"{k} of {n}")
    return k, n


def _wilson(k: int, n: int, confidence: float) -> tuple[float, float]:
    from scipy import stats

    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # At 0 of n (n of n) the bound is 0 (1) exactly; the formula may miss it by a rounding.
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def proportion(successes: int, trials: int, confidence: float = 0.95) -> Interval:
    """The fraction ``successes / trials`` with Wilson's score interval.

    Applies to counts of independent yes/no outcomes: runs out of ``trials`` seeds that reached
    a target, test images classified correctly. Unlike the textbook interval
    ``p ± z sqrt(p(1-p)/n)``, Wilson's stays inside [0, 1] and is not of zero width at 0 of n
    or n of n — which is where small studies often land.
    """
    k, n = _counts(successes, trials, "proportion")
    low, high = _wilson(k, n, _confidence(confidence))
    return Interval(k / n, low, high, n, confidence)


def compare_proportions(first: tuple[int, int], second: tuple[int, int], *, expected: str,
                        confidence: float = 0.95) -> Comparison:
    """Two proportions, each ``(successes, trials)``, from independent samples: the difference
    first - second with Newcombe's interval (his method 10, built from the two Wilson intervals),
    and the verdict against ``expected``.

    Applies when the two counts come from different runs or images (e.g. how many of 10 seeds of
    each setting reached 25% error). When both settings were scored on the *same* items, the
    pairing carries information this interval ignores; it is then conservative.
    """
    (k1, n1), (k2, n2) = (_counts(*first, "first"), _counts(*second, "second"))
    confidence = _confidence(confidence)
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = _wilson(k1, n1, confidence)
    l2, u2 = _wilson(k2, n2, confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    diff = Interval(d, low, high, n1 + n2, confidence)
    return Comparison(diff, expected, _verdict(low, high, expected))
