"""dlcore.train (device, seeding) and dlcore.plot (the shared figures)."""

import random

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dlcore import plot, train


def test_seed_everything_makes_python_numpy_and_torch_repeat():
    def draw():
        rng = train.seed_everything(123)
        return random.random(), np.random.rand(), torch.rand(1).item(), rng.random()

    first, second = draw(), draw()
    assert first == second
    assert train.seed_everything(124) is not None and draw() == first
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
    assert train.device("meta").type == "meta"


def test_set_threads():
    before = torch.get_num_threads()
    train.set_threads(1)
    assert torch.get_num_threads() == 1
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


def test_decision_boundary_draws_regions_points_and_line():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    y = np.array([0, 1, 1, 0])
    ax = plot.decision_boundary(lambda G: (G[:, 1] > 0.5).astype(int), X, y, resolution=20)
    assert len(ax.collections) >= 3  # filled regions + one scatter per class
    assert ax.get_legend() is not None and ax.get_xlabel() == "$x_1$"
    ax = plot.decision_boundary(lambda G: 1 / (1 + np.exp(-(G[:, 0] - 0.5))), X, y, scores=True, resolution=20)
    assert any(len(c.get_paths()) for c in ax.collections)
    with pytest.raises(ValueError, match=r"expected X of shape \(N, 2\), got \(4, 3\)"):
        plot.decision_boundary(lambda G: G[:, 0], np.zeros((4, 3)), y)


def test_learning_curves_one_line_per_key():
    ax = plot.learning_curves({"train loss": [3, 2, 1], "val loss": [3, 2.5, 2]}, logy=True, title="t")
    assert [line.get_label() for line in ax.get_lines()] == ["train loss", "val loss"]
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3] and ax.get_yscale() == "log"


def test_book_style_sets_moderate_dpi():
    plot.use_book_style()
    assert plt.rcParams["figure.dpi"] == 100 and plt.rcParams["savefig.dpi"] == 100
