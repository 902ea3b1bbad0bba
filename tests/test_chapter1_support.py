"""What Chapter 1 relies on beyond dlcore.linear: the colour bar of decision_boundary, and the
chapter's exercise check cells, run here with right, wrong and missing answers."""

import contextlib
import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlcore import exercises, nn, plot  # noqa: E402
from dlcore.linear import Perceptron, binary_cross_entropy, sigmoid  # noqa: E402

CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "01_perceptron.ipynb"
X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
Y = np.array([0, 1, 1, 0])


def _colorbars(ax):
    """The colour-bar axes drawn for ``ax`` (a figure's axes other than ``ax`` itself)."""
    return [a for a in ax.figure.axes if a is not ax]


def test_probability_scores_get_a_labelled_colour_bar_on_a_fixed_scale():
    ax = plot.decision_boundary(lambda G: sigmoid(G[:, 0] - 0.5), X, Y, scores=True,
                                resolution=20)
    (bar,) = _colorbars(ax)
    assert bar.get_ylabel() == "$P(y = 1 \\mid x)$"
    assert list(bar.get_yticks()) == [0, 0.25, 0.5, 0.75, 1]
    shading = ax.collections[0]
    np.testing.assert_allclose(shading.levels, np.linspace(0, 1, 21), rtol=0, atol=1e-12)
    plt.close(ax.figure)


def test_real_scores_are_labelled_score_or_as_asked():
    ax = plot.decision_boundary(lambda G: 3 * (G[:, 0] - 0.5), X, Y, scores=True,
                                resolution=20)
    (bar,) = _colorbars(ax)
    assert bar.get_ylabel() == "score"
    plt.close(ax.figure)
    ax = plot.decision_boundary(lambda G: 3 * (G[:, 0] - 0.5), X, Y, scores=True,
                                resolution=20, score_label="logit $s$")
    assert _colorbars(ax)[0].get_ylabel() == "logit $s$"
    plt.close(ax.figure)


@pytest.mark.parametrize("kwargs", [dict(scores=True, colorbar=False), dict(scores=False)])
def test_no_colour_bar_when_turned_off_or_for_class_regions(kwargs):
    predict = (lambda G: sigmoid(G[:, 0])) if kwargs["scores"] else (
        lambda G: (G[:, 0] > 0.5).astype(int))
    fig, ax = plt.subplots()
    plot.decision_boundary(predict, X, Y, ax=ax, resolution=20, **kwargs)
    assert _colorbars(ax) == []
    plt.close(fig)


def _exercise_cells():
    cells = json.loads(CHAPTER.read_text())["cells"]
    found = {}
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and source.startswith("# Exercise "):
            found[int(source.split()[2].rstrip(":"))] = source
        if cell["cell_type"] == "code" and "def separable_blobs" in source:
            found["data"] = source
    return found


def _run(source, replace=None):
    """Execute a check cell (its answer line replaced) and return what it printed."""
    if replace is not None:
        old, new = replace
        assert old in source, old
        source = source.replace(old, new)
    names = dict(np=np, Perceptron=Perceptron, exercises=exercises, nn=nn, sigmoid=sigmoid,
                 binary_cross_entropy=binary_cross_entropy,
                 X_bits=np.array([[0, 0], [0, 1], [1, 0], [1, 1]]), y_xor=np.array([0, 1, 1, 0]))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(_exercise_cells()["data"], names)  # the §1.2 data for Exercise 2
        out.seek(0), out.truncate()
        exec(source, names)
    return out.getvalue()


ANSWERS = {  # exercise: (the line the book ships, a right answer, a wrong answer)
    2: ("updates_by_seed = None", "updates_by_seed = {right}", "updates_by_seed = [1, 2, 3]"),
    3: ("w_nand, b_nand = None, None", "w_nand, b_nand = np.array([-1.0, -1.0]), 1.5",
        "w_nand, b_nand = np.array([1.0, 1.0]), -1.5"),
    4: ("dJ_ds = None", "dJ_ds = lambda s, y: sigmoid(s) - y",
        "dJ_ds = lambda s, y: y - sigmoid(s)"),
    5: ("xor_feature = None", "xor_feature = lambda X: -X[:, 0] * X[:, 1]",
        "xor_feature = lambda X: X[:, 0]"),
}


def _right_updates():
    names = {"np": np, "Perceptron": Perceptron}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(_exercise_cells()["data"], names)
    counts = []
    for seed in (1, 2, 3):
        p = Perceptron(2)
        p.fit(names["X2"], names["y2"], epochs=100, seed=seed)
        counts.append(p.updates)
    return counts


def test_at_least_half_of_the_exercises_have_a_check_cell():
    cells = _exercise_cells()
    assert set(ANSWERS) <= set(cells)
    assert all("exercises.check_" in cells[n] for n in ANSWERS)
    assert len(ANSWERS) >= 6 / 2


@pytest.mark.parametrize("number", sorted(ANSWERS))
def test_exercise_check_cells(number):
    source = _exercise_cells()[number]
    shipped, right, wrong = ANSWERS[number]
    right = right.format(right=_right_updates()) if number == 2 else right
    assert _run(source).startswith("No answer yet: ")
    assert _run(source, (shipped, right)).startswith("Correct: ")
    verdict = _run(source, (shipped, wrong))
    assert verdict.startswith("Not yet: ")
    if number == 2:  # a checked value is never revealed
        assert str(_right_updates()) not in verdict
