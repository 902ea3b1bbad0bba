"""dlcore.train's one loop: fit (torch) and fit_numpy (dlcore.nn), with the same contract."""

import math

import numpy as np
import pytest
import torch

from dlcore import nn, train
from dlcore.data import ArrayBatches
from dlcore.train import TrainingDiverged, accuracy, reconstruction, supervised, top_k


def blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    X = rng.normal(size=(n, 2)) * 0.7 + np.array([[0, 3], [3, 0], [-3, -3]])[y]
    return X, y


def numpy_mlp(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(2, 16, rng=rng, dtype=np.float64), nn.ReLU(),
                         nn.Linear(16, 3, rng=rng, dtype=np.float64))


def torch_mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(),
                               torch.nn.Linear(16, 3)).double()


def numpy_setup(lr=0.1):
    model = numpy_mlp()
    return model, nn.optim.SGD(model.parameters(), lr=lr), supervised(nn.CrossEntropyLoss())


def torch_setup(lr=0.1):
    model = torch_mlp()
    return model, torch.optim.SGD(model.parameters(), lr=lr), \
        supervised(torch.nn.CrossEntropyLoss())


SETUPS = {"numpy": (train.fit_numpy, numpy_setup), "torch": (train.fit, torch_setup)}


def data(seed=0, shuffle=True):
    X, y = blobs(seed=seed)
    return ArrayBatches(X[:200], y[:200], batch_size=32, shuffle=shuffle, seed=0), \
        ArrayBatches(X[200:], y[200:], batch_size=50)


# --------------------------------------------------------------------------- batching helper


def test_array_batches_cover_every_example_once_per_pass_in_a_seeded_order():
    X, y = np.arange(10)[:, None], np.arange(10)
    batches = ArrayBatches(X, y, batch_size=4, shuffle=True, seed=3)
    first, second = list(batches), list(batches)
    assert [len(b[0]) for b in first] == [4, 4, 2] and len(batches) == 3
    for one_pass in (first, second):
        seen = np.concatenate([b[1] for b in one_pass])
        assert sorted(seen.tolist()) == list(range(10))
        assert all(np.array_equal(bx[:, 0], by) for bx, by in one_pass)  # rows stay paired
    assert not np.array_equal(np.concatenate([b[1] for b in first]),
                              np.concatenate([b[1] for b in second]))  # a fresh order per pass
    again = ArrayBatches(X, y, batch_size=4, shuffle=True, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, again))  # and the same per run
    assert [len(b[0]) for b in ArrayBatches(X, batch_size=4, drop_last=True)] == [4, 4]
    assert np.concatenate([b[0] for b in ArrayBatches(y, batch_size=3)]).tolist() == \
        list(range(10))


@pytest.mark.parametrize("args, kwargs, exc, match", [
    ((np.zeros(3),), dict(batch_size=0), ValueError, "batch_size must be an int >= 1, got 0"),
    ((np.zeros(3),), dict(batch_size=2.5), ValueError, "batch_size must be an int >= 1"),
    ((np.zeros((3, 2)), [0, 1, 2]), dict(batch_size=2), TypeError,
     r"array 1 is a list; pass NumPy arrays \(e.g. np.asarray\(labels\)\)"),
    ((np.zeros(3), np.zeros(4)), dict(batch_size=2), ValueError, r"different lengths \[3, 4\]"),
    ((), dict(batch_size=2), ValueError, "needs at least one array"),
])
def test_array_batches_errors(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ArrayBatches(*args, **kwargs)


# --------------------------------------------------------------------------- the contract


@pytest.mark.parametrize("kind", SETUPS)
def test_a_classifier_learns_and_the_history_says_so(kind):
    fit, setup = SETUPS[kind]
    model, opt, loss = setup()
    tr, va = data()
    hist = fit(model, opt, tr, loss=loss, epochs=5, val=va, metrics=[accuracy, top_k(2)],
               progress=False)
    assert list(hist) == ["train loss", "train accuracy", "train top2", "lr", "val loss",
                          "val accuracy", "val top2"]
    assert all(len(v) == 5 for v in hist.values()) and hist.epochs == 5
    assert hist["train loss"][-1] < hist["train loss"][0] and hist["val accuracy"][-1] > 0.95
    assert all(t >= a for t, a in zip(hist["val top2"], hist["val accuracy"]))
    measured = train.evaluate(model, va, loss=loss, metrics=[accuracy])
    held = hist.best_epoch - 1  # the model holds the weights of best_epoch
    assert measured["loss"] == pytest.approx(hist["val loss"][held], rel=1e-12)
    assert measured["accuracy"] == hist["val accuracy"][held]
    assert hist["val loss"][held] == min(hist["val loss"])


def test_numpy_and_torch_loops_take_the_same_steps():
    """The same network, data order and optimiser: the two loops' numbers agree to 1e-10."""
    from dlcore.twins import to_torch

    ours, opt, loss = numpy_setup()
    theirs = torch_mlp()
    to_torch(ours, theirs)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.1)
    tr, va = data()
    tr_t, _ = data()
    h = train.fit_numpy(ours, opt, tr, loss=loss, epochs=3, val=va, progress=False)
    h_t = train.fit(theirs, opt_t, tr_t, loss=supervised(torch.nn.CrossEntropyLoss()), epochs=3,
                    val=va, progress=False)
    np.testing.assert_allclose(h["train loss"], h_t["train loss"], rtol=1e-10, atol=0)
    np.testing.assert_allclose(h["val loss"], h_t["val loss"], rtol=1e-10, atol=0)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_a_reconstruction_loss_trains_an_autoencoder(kind):
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(256, 2))
    X = np.tanh(codes @ rng.normal(size=(2, 6)))  # 6-D data on a 2-D surface
    batches = ArrayBatches(X, batch_size=32, shuffle=True)
    if kind == "numpy":
        model = nn.Sequential(nn.Linear(6, 2, dtype=np.float64, rng=1), nn.Tanh(),
                              nn.Linear(2, 6, dtype=np.float64, rng=2))
        opt, crit, fit = nn.optim.Adam(model.parameters(), lr=0.02), nn.MSELoss(), train.fit_numpy
    else:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(6, 2), torch.nn.Tanh(),
                                    torch.nn.Linear(2, 6)).double()
        opt, crit, fit = torch.optim.Adam(model.parameters(), lr=0.02), torch.nn.MSELoss(), \
            train.fit
    hist = fit(model, opt, batches, loss=reconstruction(crit), epochs=30, progress=False)
    assert list(hist) == ["train loss", "lr"] and hist.best_epoch == 30
    assert hist["train loss"][-1] < 0.2 * hist["train loss"][0]


def test_a_hand_written_numpy_loss_for_an_objective_without_labels():
    """What an RBM's contrastive divergence will need: a loss callable that sets .grad itself."""
    p = nn.Parameter(np.array([3.0, -2.0]))

    class Quadratic(nn.Module):
        def __init__(self):
            super().__init__()
            self.p = p

    def loss(model, batch):  # ½‖p - mean(batch)‖², gradient by hand
        diff = model.p.data - batch[0].mean(axis=0)
        model.p.grad += diff
        return 0.5 * float(diff @ diff)

    target = np.tile([1.0, 1.0], (64, 1))
    hist = train.fit_numpy(Quadratic(), nn.optim.SGD([p], lr=0.5), ArrayBatches(target,
                           batch_size=64), loss=loss, epochs=20, progress=False)
    np.testing.assert_allclose(p.data, [1.0, 1.0], atol=1e-5)
    assert hist["train loss"][0] == pytest.approx(0.5 * (4 + 9))


@pytest.mark.parametrize("kind", SETUPS)
def test_scheduler_steps_once_per_epoch(kind):
    fit, setup = SETUPS[kind]
    model, opt, loss = setup(lr=0.4)
    sched = (nn.optim.StepLR(opt, 2, 0.5) if kind == "numpy"
             else torch.optim.lr_scheduler.StepLR(opt, 2, 0.5))
    tr, _ = data()
    hist = fit(model, opt, tr, loss=loss, epochs=5, scheduler=sched, progress=False)
    assert hist["lr"] == [0.4, 0.4, 0.2, 0.2, 0.1]  # the lr each epoch trained with


def test_plateau_scheduler_gets_the_validation_loss():
    model, opt, loss = torch_setup(lr=0.1)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    X, y = blobs(seed=1)
    tr = ArrayBatches(X[:200], y[:200], batch_size=32)
    va = ArrayBatches(X[200:], (y[200:] + 1) % 3, batch_size=50)  # gets worse every epoch
    hist = train.fit(model, opt, tr, loss=loss, epochs=4, val=va, scheduler=sched,
                     progress=False)
    worse = [b > a for a, b in zip(hist["val loss"], hist["val loss"][1:])]
    assert all(worse) and hist["lr"] == [0.1, 0.1, 0.05, 0.025]
    with pytest.raises(ValueError, match="plateau scheduler steps on the validation loss"):
        train.fit(model, opt, tr, loss=loss, epochs=1, scheduler=sched, progress=False)


@pytest.mark.parametrize("kind", SETUPS)
def test_early_stopping_restores_the_best_epoch(kind):
    fit, setup = SETUPS[kind]
    model, opt, loss = setup()
    X, y = blobs(seed=1)
    tr = ArrayBatches(X[:200], y[:200], batch_size=32, shuffle=True)
    va = ArrayBatches(X[200:], (y[200:] + 1) % 3, batch_size=50)
    hist = fit(model, opt, tr, loss=loss, epochs=50, val=va, patience=2, progress=False)
    assert hist.stopped_early and hist.epochs == hist.best_epoch + 2
    assert hist.best_epoch == int(np.argmin(hist["val loss"])) + 1
    restored = train.evaluate(model, va, loss=loss)["loss"]
    assert restored == pytest.approx(hist["val loss"][hist.best_epoch - 1], rel=1e-12)


@pytest.mark.parametrize("kind", SETUPS)
def test_on_epoch_is_called_before_each_epoch(kind):
    fit, setup = SETUPS[kind]
    model, opt, loss = setup()
    tr = data()[0]
    batches_seen, calls = [], []

    def counting_loss(model, batch):
        batches_seen.append(1)
        return loss(model, batch)

    def on_epoch(epoch):  # e.g. DistributedSampler.set_epoch: before the epoch's first batch
        calls.append((epoch, len(batches_seen)))

    fit(model, opt, tr, loss=counting_loss, epochs=3, on_epoch=on_epoch, progress=False)
    assert calls == [(1, 0), (2, len(tr)), (3, 2 * len(tr))]


def test_validation_outputs_are_computed_once_per_batch():
    model, opt, loss = numpy_setup()
    forwards = []
    original = model.forward
    model.forward = lambda x: forwards.append(len(x)) or original(x)
    tr, va = data()
    train.fit_numpy(model, opt, tr, loss=loss, epochs=1, val=va, metrics=[accuracy, top_k(2)],
                    progress=False)
    assert sum(forwards) == 200 + 100  # one forward per example: training, then validation


@pytest.mark.parametrize("kind", SETUPS)
def test_a_nan_loss_stops_at_once_and_says_where(kind):
    fit, setup = SETUPS[kind]
    model, opt, loss = setup()
    X, y = blobs()
    X[70, 1] = np.nan  # in the third batch of 30
    tr = ArrayBatches(X, y, batch_size=30)
    with pytest.raises(TrainingDiverged) as info:
        fit(model, opt, tr, loss=loss, epochs=5, progress=False)
    message = str(info.value)
    assert "the training loss is nan at epoch 1, batch 3 of 10" in message
    assert "learning rate" in message and "0..1" in message
    params = (model.parameters() if kind == "torch" else [p.data for p in model.parameters()])
    assert all(np.isfinite(np.asarray(p.detach() if kind == "torch" else p)).all()
               for p in params)  # stopped before the step that the NaN would have spoilt
    assert isinstance(info.value, FloatingPointError)
    assert len(info.value._render_traceback_()) == 1


@pytest.mark.parametrize("kind", SETUPS)
def test_clear_errors(kind):
    fit, setup = SETUPS[kind]
    model, opt, loss = setup()
    tr, va = data()
    with pytest.raises(ValueError, match="epochs must be an int >= 1, got 0"):
        fit(model, opt, tr, loss=loss, epochs=0)
    with pytest.raises(ValueError, match="patience.*needs validation data"):
        fit(model, opt, tr, loss=loss, epochs=1, patience=2)
    with pytest.raises(ValueError, match="train yielded no examples"):
        fit(model, opt, [], loss=loss, epochs=1, progress=False)
    with pytest.raises(ValueError, match="val yielded no examples"):
        fit(model, opt, tr, loss=loss, epochs=1, val=[], progress=False)
    X, y = blobs()
    with pytest.raises(TypeError, match="batch element 1 is a Python list"):
        fit(model, opt, [(X[:4], [0, 1, 2, 0])], loss=loss, epochs=1, progress=False)
    with pytest.raises(TypeError, match="parameters are .*64 but the batch's inputs are "
                                        ".*32: convert the data"):
        fit(model, opt, [(X[:4].astype(np.float32), y[:4])], loss=loss, epochs=1,
            progress=False)
    with pytest.raises(TypeError, match="loss must be a callable loss"):
        fit(model, opt, tr, loss=None, epochs=1)


def test_fit_numpy_refuses_a_torch_model_and_supervised_needs_targets():
    model = torch_mlp()
    with pytest.raises(TypeError, match="fit_numpy trains dlcore.nn models.*use dlcore.train.fit"):
        train.fit_numpy(model, None, [], loss=supervised(nn.MSELoss()), epochs=1)
    with pytest.raises(ValueError, match="supervised\\(\\) needs batches \\(inputs, targets\\)"):
        supervised(nn.MSELoss())(numpy_mlp(), (np.zeros((2, 2)),))


def test_a_torch_dataloader_is_a_batch_source():
    X, y = blobs()
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    loader = torch.utils.data.DataLoader(dataset, batch_size=32, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    model, opt, loss = torch_setup()
    hist = train.fit(model, opt, loader, loss=loss, epochs=3, val=loader, metrics=[accuracy],
                     progress=False)
    assert hist["val accuracy"][-1] > 0.95


def test_evaluate_topk_matches_a_hand_count():
    model = torch_mlp()
    X, y = blobs(n=50, seed=3)
    with torch.no_grad():
        scores = model(torch.from_numpy(X))
    ranked = scores.argsort(dim=1, descending=True)
    hand = {k: float((ranked[:, :k] == torch.from_numpy(y)[:, None]).any(1).float().mean())
            for k in (1, 2, 3)}
    got = train.evaluate(model, ArrayBatches(X, y, batch_size=7),
                         loss=supervised(torch.nn.CrossEntropyLoss()),
                         metrics=[accuracy, top_k(2), top_k(5)])
    assert got["accuracy"] == pytest.approx(hand[1]) and got["top2"] == pytest.approx(hand[2])
    assert got["top5"] == 1.0  # k capped at the number of classes
    assert model.training  # restored
    numpy_scores = scores.numpy()
    assert top_k(2)(numpy_scores, (None, y)) == pytest.approx(hand[2])


def test_predict_numpy_batches_in_eval_mode():
    model = nn.Sequential(nn.Linear(2, 3, dtype=np.float64, rng=0), nn.Dropout(0.5))
    X = np.random.default_rng(0).normal(size=(7, 2))
    out = train.predict_numpy(model, X, batch_size=3)
    assert model.training  # restored
    np.testing.assert_array_equal(out, model[0](X))  # dropout off: eval mode


def test_minibatches_cover_every_index_once():
    batches = list(train.minibatches(10, 4, np.random.default_rng(0)))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    assert math.isclose(sum(len(b) for b in train.minibatches(5, 2)), 5)


# --------------------------------------------------------------------------- silent failures


def with_nan(X, row):
    X = X.copy()
    X[row, 0] = np.nan
    return X


@pytest.mark.parametrize("kind", SETUPS)
def test_a_nan_validation_loss_stops_and_names_the_validation_data(kind):
    fit, setup = SETUPS[kind]
    model, opt, loss = setup()
    X, y = blobs()
    tr = ArrayBatches(X[:200], y[:200], batch_size=32)
    va = ArrayBatches(with_nan(X[200:], 60), y[200:], batch_size=50)  # in batch 2 of 2
    with pytest.raises(TrainingDiverged) as info:
        fit(model, opt, tr, loss=loss, epochs=5, val=va, patience=2, progress=False)
    message = str(info.value)
    assert "the validation loss is nan at epoch 1, first in validation batch 2 of 2" in message
    assert "the weights are finite but the validation data is not: batch 2 holds NaN" in message
    assert info.value.history.epochs == 0 and set(map(len, info.value.history.values())) == {0}


@pytest.mark.parametrize("kind", SETUPS)
@pytest.mark.parametrize("scale, expected", [
    (1e3, "the weights are no longer finite (0.weight, 2.weight): the epoch's last training "
          "steps diverged"),
    (1, "the weights and the validation data are finite, so the model's outputs or the loss "
        "overflowed: weights grown too large"),
])
def test_weights_spoilt_by_an_epoch_s_last_step_are_caught_by_the_validation_loss(kind, scale,
                                                                                  expected):
    """Each training loss is measured before its step; the last step of an epoch is seen by
    the validation pass alone. One step with lr 1e308 makes the weights huge (and, with
    gradients 1000 times larger, infinite)."""
    fit, setup = SETUPS[kind]
    model, opt, loss = setup(lr=1e308)
    X, y = blobs()
    tr = ArrayBatches(X[:200] * scale, y[:200], batch_size=200)  # one step per epoch
    with pytest.raises(TrainingDiverged) as info:
        with np.errstate(all="ignore"):
            fit(model, opt, tr, loss=loss, epochs=3, val=ArrayBatches(X[200:], y[200:],
                batch_size=50), progress=False)
    message = str(info.value)
    assert "the validation loss is nan at epoch 1, first in validation batch 1 of 2" in message
    assert expected in message, message


@pytest.mark.parametrize("kind", SETUPS)
def test_an_optimizer_that_holds_none_of_the_model_s_parameters_is_refused(kind):
    fit, setup = SETUPS[kind]
    model, _, loss = setup()
    other, opt, _ = setup()  # an optimiser made for another model (e.g. before a rebuild)
    tr = data()[0]
    with pytest.raises(ValueError, match=r"the optimizer holds none of the model's 4 trainable "
                                         r"parameters \(it holds 4 others\)"):
        fit(model, opt, tr, loss=loss, epochs=1, progress=False)
    with pytest.raises(TypeError, match="needs an optimizer such as .*SGD.*got None"):
        fit(model, None, tr, loss=loss, epochs=1, progress=False)
    # One that holds some of them is fine: fine-tuning the last layer alone.
    head = list(model.parameters())[2:]
    before = [(p.detach().numpy() if kind == "torch" else p.data).copy()
              for p in model.parameters()]
    head_opt = (torch.optim.SGD(head, lr=0.1) if kind == "torch" else nn.optim.SGD(head, lr=0.1))
    fit(model, head_opt, tr, loss=loss, epochs=1, progress=False)
    after = [np.asarray(p.detach() if kind == "torch" else p.data) for p in model.parameters()]
    assert [np.array_equal(a, b) for a, b in zip(before, after)] == [True, True, False, False]


def test_optimizers_of_the_other_library_and_frozen_models_are_refused():
    model, _, loss = numpy_setup()
    torch_opt = torch.optim.SGD(torch_mlp().parameters(), lr=0.1)
    with pytest.raises(ValueError, match="the optimizer holds none of the model's 4 trainable "
                                         "parameters.*dlcore.nn.optim.SGD"):
        train.fit_numpy(model, torch_opt, data()[0], loss=loss, epochs=1, progress=False)
    model, opt, loss = torch_setup()
    with pytest.raises(TypeError, match="fit needs an optimizer such as torch.optim.SGD"):
        train.fit(model, nn.optim.SGD(numpy_mlp().parameters(), lr=0.1), data()[0], loss=loss,
                  epochs=1, progress=False)
    model.requires_grad_(False)  # frozen: no step could change it
    with pytest.raises(ValueError, match="none of the model's 4 parameter tensors requires a "
                                         "gradient"):
        train.fit(model, opt, data()[0], loss=loss, epochs=1, progress=False)
    model[2].requires_grad_(True)  # the head trains, but the optimiser holds only the body
    body_opt = torch.optim.SGD(model[0].parameters(), lr=0.1)
    with pytest.raises(ValueError, match="holds none of the model's 2 trainable parameters "
                                         r"\(it holds 2 that are frozen"):
        train.fit(model, body_opt, data()[0], loss=loss, epochs=1, progress=False)
