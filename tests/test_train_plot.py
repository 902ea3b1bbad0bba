"""dlcore.train (device, seeding) and dlcore.plot (the shared figures)."""

import random
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.contour import ContourSet

from dlcore import plot, train


def test_seed_everything_seeds_python_numpy_and_torch():
    def draw():  # one number from each global generator; nothing here seeds
        return random.random(), np.random.rand(), torch.rand(1).item()

    rng = train.seed_everything(123)
    first = draw()
    assert np.array_equal(rng.random(3), np.random.default_rng(123).random(3))
    train.seed_everything(123)
    assert draw() == first
    train.seed_everything(124)
    assert all(a != b for a, b in zip(draw(), first))
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark


def test_device_prefers_accelerators_and_can_be_forced(monkeypatch):
    monkeypatch.delenv("DLCORE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if torch.backends.mps.is_available() else "cpu")
    assert train.device().type == expected
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert train.device().type == "cuda"
    monkeypatch.setenv("DLCORE_DEVICE", "cpu")
    assert train.device().type == "cpu"
    assert train.device("cpu").type == "cpu"


@pytest.mark.parametrize("value, fragments", [
    ("gpu", ["DLCORE_DEVICE is 'gpu', which is not a device", "cpu (available here)"]),
    ("meta", ["DLCORE_DEVICE is 'meta', which is not a device"]),
    ("cuda", ["DLCORE_DEVICE is 'cuda', but this machine has no such device",
              "available here: cpu"]),
    ("cuda:3", ["'cuda:3', but this machine has no such device"]),
    ("mps", ["DLCORE_DEVICE is 'mps', but this machine has no such device"]),
])
def test_dlcore_device_is_validated(monkeypatch, value, fragments):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setenv("DLCORE_DEVICE", value)
    with pytest.raises(ValueError, match=".*".join(map(re.escape, fragments))):
        train.device()
    monkeypatch.delenv("DLCORE_DEVICE")
    with pytest.raises(ValueError, match=r"device\(prefer=...\) is"):
        train.device(value)


def test_set_threads_limits_torch_and_numpy_blas():
    from threadpoolctl import threadpool_info

    before = torch.get_num_threads()
    train.set_threads(1)
    assert torch.get_num_threads() == 1
    blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    assert blas and all(p["num_threads"] == 1 for p in blas)
    train.set_threads(before)


def test_image_grid_layouts():
    fig = plot.image_grid(np.zeros((7, 28, 28)), labels=[0, 1, 2, 3, 4, 5, 6], classes=list("abcdefg"), ncols=4)
    axes = fig.get_axes()
    assert len(axes) == 8 and axes[1].get_title() == "b" and not axes[7].axison
    fig = plot.image_grid(np.zeros((3, 1, 8, 8)), ncols=3)  # N×C×H×W is accepted
    assert fig.get_axes()[0].get_images()[0].get_array().shape == (8, 8)
    fig = plot.image_grid(np.zeros((2, 32, 32, 3), dtype=np.uint8))
    assert fig.get_axes()[0].get_images()[0].get_array().shape == (32, 32, 3)
    with pytest.raises(ValueError, match=r"got shape \(28, 28\)"):
        plot.image_grid(np.zeros((28, 28)))


def _contours(ax):
    """The filled regions and the boundary lines that decision_boundary drew."""
    sets = [c for c in ax.collections if isinstance(c, ContourSet)]
    return [c for c in sets if c.filled], [c for c in sets if not c.filled]


def _assert_regions_split_at_half(ax):
    """Two bands meeting at x2 = 0.5 (within a grid step): the first class below, the second above."""
    (regions,), _ = _contours(ax)
    below, above = regions.get_paths()
    step = 2 / 19  # the axes span [-0.5, 1.5] with resolution=20
    assert below.vertices[:, 1].min() == -0.5 and below.vertices[:, 1].max() == pytest.approx(0.5, abs=step)
    assert above.vertices[:, 1].min() == pytest.approx(0.5, abs=step) and above.vertices[:, 1].max() == 1.5
    assert not np.allclose(*regions.get_facecolor())


def test_decision_boundary_draws_regions_points_and_line():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    y = np.array([0, 1, 1, 0])
    ax = plot.decision_boundary(lambda G: (G[:, 1] > 0.5).astype(int), X, y, resolution=20)
    _assert_regions_split_at_half(ax)
    points = [c for c in ax.collections if not isinstance(c, ContourSet)]
    assert [p.get_offsets().tolist() for p in points] == [X[y == 0].tolist(), X[y == 1].tolist()]
    assert ax.get_legend() is not None and ax.get_xlabel() == "$x_1$"

    def score(G):
        return 1 / (1 + np.exp(-(G[:, 0] - 0.5)))

    ax = plot.decision_boundary(score, X, y, scores=True, resolution=20)
    (shading,), (line,) = _contours(ax)
    for band, lo, hi in zip(shading.get_paths(), shading.levels, shading.levels[1:]):
        assert np.all((lo - 1e-3 <= score(band.vertices)) & (score(band.vertices) <= hi + 1e-3))
    assert list(line.levels) == [0.5]
    (boundary,) = line.get_paths()
    assert np.allclose(boundary.vertices[:, 0], 0.5, atol=2 / 19)  # score 0.5 where x1 = 0.5
    assert boundary.vertices[:, 1].min() == -0.5 and boundary.vertices[:, 1].max() == 1.5
    with pytest.raises(ValueError, match=r"expected X of shape \(N, 2\), got \(4, 3\)"):
        plot.decision_boundary(lambda G: G[:, 0], np.zeros((4, 3)), y)


def test_decision_boundary_with_plus_minus_one_labels():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    y = np.array([-1, 1, 1, -1])
    ax = plot.decision_boundary(lambda G: np.where(G[:, 1] > 0.5, 1, -1), X, y, resolution=20,
                                labels=("y = -1", "y = +1"))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["y = -1", "y = +1"]
    _assert_regions_split_at_half(ax)


def test_learning_curves_one_line_per_key():
    ax = plot.learning_curves({"train loss": [3, 2, 1], "val loss": [3, 2.5, 2]}, logy=True, title="t")
    assert [line.get_label() for line in ax.get_lines()] == ["train loss", "val loss"]
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3] and ax.get_yscale() == "log"


def test_book_style_sets_moderate_dpi():
    plot.use_book_style()
    assert plt.rcParams["figure.dpi"] == 100 and plt.rcParams["savefig.dpi"] == 100


def test_signed_image_is_symmetric_red_positive_with_a_colour_bar():
    fig, ax = plt.subplots()
    im = plot.signed_image(ax, np.array([[-1.0, 0.5], [0.0, 2.0]]), label="weight")
    assert im.get_clim() == (-2.0, 2.0) and im.get_cmap().name == plot.DIVERGING == "RdBu_r"
    red, blue = im.cmap(im.norm(2.0)), im.cmap(im.norm(-2.0))
    assert red[0] > red[2] and blue[2] > blue[0]  # positive red, negative blue
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "weight"
    with pytest.raises(ValueError, match="2-D array"):
        plot.signed_image(ax, np.zeros(5))
    plt.close(fig)


def test_book_style_keeps_figures_within_the_column():
    with plt.rc_context():
        plot.use_book_style()
        width, _ = plt.rcParams["figure.figsize"]
        assert width * plt.rcParams["figure.dpi"] <= 700
        assert plt.rcParams["xtick.labelsize"] >= 9
