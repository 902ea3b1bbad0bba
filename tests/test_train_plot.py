"""dlcore.train (device, seeding) and dlcore.plot (the shared figures)."""

import random

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
    assert train.device("meta").type == "meta"


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


# ----------------------------------------------------------------------------- NumPy training loop


def _blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    X = rng.normal(size=(n, 2)) * 0.7 + np.array([[0, 3], [3, 0], [-3, -3]])[y]
    return X, y


def _mlp():
    from dlcore import nn

    rng = np.random.default_rng(0)
    return nn.Sequential(nn.Linear(2, 16, rng=rng, dtype=np.float64), nn.ReLU(),
                         nn.Linear(16, 3, rng=rng, dtype=np.float64))


def test_minibatches_cover_every_index_once():
    batches = list(train.minibatches(10, 4, np.random.default_rng(0)))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    assert np.concatenate(list(train.minibatches(5, 2))).tolist() == [0, 1, 2, 3, 4]


def test_fit_numpy_learns_and_records_history():
    from dlcore import nn

    X, y = _blobs()
    model, crit = _mlp(), nn.CrossEntropyLoss()
    hist = train.fit_numpy(model, crit, nn.optim.SGD(model.parameters(), lr=0.1), X[:200], y[:200],
                           X[200:], y[200:], epochs=5, batch_size=32, progress=False)
    assert list(hist) == ["train loss", "train acc", "val loss", "val acc"]
    assert all(len(v) == 5 for v in hist.values())
    assert hist["train loss"][-1] < hist["train loss"][0] and hist["val acc"][-1] > 0.95
    assert train.evaluate_numpy(model, crit, X[200:], y[200:]) == (hist["val loss"][-1], hist["val acc"][-1])


def test_early_stopping_restores_the_best_epoch():
    from dlcore import nn

    X, y = _blobs(seed=1)
    y_val = (y[200:] + 1) % 3  # validation labels that training makes worse and worse
    model, crit = _mlp(), nn.CrossEntropyLoss()
    hist = train.fit_numpy(model, crit, nn.optim.SGD(model.parameters(), lr=0.1), X[:200], y[:200],
                           X[200:], y_val, epochs=50, batch_size=32, patience=2, progress=False)
    assert hist.stopped_early and len(hist["val loss"]) == hist.best_epoch + 2
    assert hist.best_epoch == int(np.argmin(hist["val loss"])) + 1
    restored_loss, _ = train.evaluate_numpy(model, crit, X[200:], y_val)
    assert restored_loss == pytest.approx(hist["val loss"][hist.best_epoch - 1], rel=1e-12)


def test_predict_numpy_batches_in_eval_mode():
    from dlcore import nn

    model = nn.Sequential(nn.Linear(2, 3, dtype=np.float64, rng=0), nn.Dropout(0.5))
    X = np.random.default_rng(0).normal(size=(7, 2))
    out = train.predict_numpy(model, X, batch_size=3)
    assert model.training  # restored
    np.testing.assert_array_equal(out, model[0](X))  # dropout off: eval mode


def test_fit_numpy_rejects_bad_input():
    from dlcore import nn

    model = _mlp()
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="X has 10 examples but y has 9"):
        train.fit_numpy(model, nn.CrossEntropyLoss(), opt, np.zeros((10, 2)), np.zeros(9, int), progress=False)
    with pytest.raises(ValueError, match="needs validation data"):
        train.fit_numpy(model, nn.CrossEntropyLoss(), opt, np.zeros((10, 2)), np.zeros(10, int), patience=2,
                        progress=False)


# ----------------------------------------------------------------------------- torch training loop


def _torch_mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))


def test_evaluate_topk_matches_a_hand_count():
    model = _torch_mlp()
    X = torch.randn(50, 2, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 3, (50,), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        scores = model(X)
    rank_of_true = (scores > scores.gather(1, y[:, None])).sum(1)  # 0 = the top score
    out = train.evaluate(model, torch.nn.CrossEntropyLoss(), X, y, batch_size=7, topk=(1, 2, 3))
    assert out["top1"] == pytest.approx((rank_of_true < 1).float().mean().item())
    assert out["top2"] == pytest.approx((rank_of_true < 2).float().mean().item())
    assert out["top3"] == 1.0
    assert out["loss"] == pytest.approx(torch.nn.functional.cross_entropy(scores, y).item(), rel=1e-6)
    assert model.training


def test_fit_trains_a_torch_model_and_stops_early():
    X, y = _blobs()
    model = _torch_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    hist = train.fit(model, torch.nn.CrossEntropyLoss(), opt, X[:200].astype(np.float32), y[:200],
                     X[200:].astype(np.float32), y[200:], epochs=5, batch_size=32, progress=False)
    assert list(hist) == ["train loss", "train acc", "val loss", "val acc"] and len(hist["val acc"]) == 5
    assert hist["train loss"][-1] < hist["train loss"][0] and hist["val acc"][-1] > 0.95

    y_bad = (y[200:] + 1) % 3
    model = _torch_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    hist = train.fit(model, torch.nn.CrossEntropyLoss(), opt, X[:200].astype(np.float32), y[:200],
                     X[200:].astype(np.float32), y_bad, epochs=50, batch_size=32, patience=2,
                     progress=False)
    assert hist.stopped_early and hist.best_epoch == int(np.argmin(hist["val loss"])) + 1
    restored = train.evaluate(model, torch.nn.CrossEntropyLoss(), X[200:].astype(np.float32), y_bad)
    assert restored["loss"] == pytest.approx(hist["val loss"][hist.best_epoch - 1], rel=1e-6)
