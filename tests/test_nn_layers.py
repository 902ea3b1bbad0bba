"""Every dlcore.nn layer against its torch twin (forward values and every gradient, float64),
from the one table of cases in layer_cases.py; then what the table cannot say: ties, saturation,
dropout statistics, running statistics, empty batches and the checks on ``backward``'s input."""

import re

import numpy as np
import pytest
import torch

from dlcore import nn
from layer_cases import LAYER_CASES, LOSS_CASES, public_layer_classes
from dlcore.twins import to_torch
from nn_helpers import assert_close, check_against_torch

F64 = np.float64
IDS = [case.id for case in LAYER_CASES]


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("case", LAYER_CASES, ids=IDS)
def test_layer_matches_its_torch_twin(case):
    layer = case.make(F64)
    check_against_torch(layer, case.twin(), case.input(), **case.kwargs)


def test_every_public_layer_has_a_case():
    covered = {type(case.make(F64)) for case in LAYER_CASES}
    covered |= {type(case.make()) for case in LOSS_CASES}
    missing = sorted(c.__name__ for c in public_layer_classes() - covered)
    assert not missing, f"no case in tests/layer_cases.py for {missing}"


@pytest.mark.parametrize("case", LAYER_CASES, ids=IDS)
def test_float32_in_float32_out(case):
    layer = case.make(np.float32)
    y = layer(case.input(np.float32), **case.kwargs)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())


@pytest.mark.parametrize("case", LAYER_CASES, ids=IDS)
def test_empty_batch_as_torch_does(case):
    """N = 0: an empty output of torch's shape, an empty input gradient, zero parameter
    gradients, and the buffers torch leaves (BatchNorm counts the batch, keeps its statistics)."""
    layer, twin = case.make(F64), (case.empty_twin or case.twin)()
    to_torch(layer, twin, strict=False)
    twin.train(layer.training)
    x = case.input(batch=0)
    x_t = torch.tensor(x, requires_grad=True)
    y, y_t = layer(x), twin(x_t)  # no mask for Dropout: the full batch's does not fit
    assert y.shape == tuple(y_t.shape) and y.dtype == x.dtype
    y_t.sum().backward()
    assert layer.backward(np.zeros_like(y)).shape == tuple(x_t.grad.shape) == x.shape
    assert not any(p.grad.any() for p in layer.parameters())
    theirs = twin.state_dict()
    for name, buffer in layer.named_buffers():
        assert_close(buffer, theirs[name], what=name)


@pytest.mark.parametrize("case", LAYER_CASES, ids=IDS)
def test_backward_checks_the_gradient_it_receives(case):
    layer = case.make(F64)
    y = layer(case.input(), **case.kwargs)
    wrong = (y.shape[0] + 1, *y.shape[1:])
    with pytest.raises(ValueError, match=re.escape(f"shaped like the forward output, {y.shape}, "
                                                   f"got {wrong}")):
        layer.backward(np.zeros(wrong))
    with pytest.raises(ValueError, match="expects a float64 gradient.*got float32"):
        layer.backward(np.zeros(y.shape, np.float32))
    assert layer.backward(np.zeros_like(y)).shape == case.shape  # still usable afterwards


@pytest.mark.parametrize("case", LAYER_CASES, ids=IDS)
def test_integer_input_is_refused(case):
    with pytest.raises(TypeError, match="floating-point array, got dtype int64"):
        case.make(F64)(np.zeros(case.shape, np.int64))


@pytest.mark.parametrize("case", LAYER_CASES, ids=IDS)
def test_needs_input_grad_false_returns_none_and_keeps_parameter_gradients(case):
    layer = case.make(F64)
    g = randn(*layer(case.input(), **case.kwargs).shape, seed=1)
    layer.backward(g)
    full = [p.grad.copy() for p in layer.parameters()]
    layer.zero_grad()
    layer.needs_input_grad = False
    layer(case.input(), **case.kwargs)
    assert layer.backward(g) is None
    for expected, p in zip(full, layer.parameters()):
        assert_close(p.grad, expected)


ACTIVATION_CASES = [c for c in LAYER_CASES
                    if c.id.split("-(")[0] in ("relu", "leaky-relu", "leaky-relu-0.2", "elu",
                                               "elu-0.5", "sigmoid", "tanh")]


@pytest.mark.parametrize("case", ACTIVATION_CASES, ids=[c.id for c in ACTIVATION_CASES])
def test_activation_at_the_kink(case):
    x = case.input()
    x.flat[::3] = 0  # the kink: both must take the same one-sided derivative
    check_against_torch(case.make(F64), case.twin(), x)


@pytest.mark.parametrize("k, s", [(2, None), (3, 1), (2, 1)])
def test_maxpool2d_ties_go_to_the_first_maximum(k, s):
    # after a ReLU and on quantised values most windows hold several equal maxima
    x = np.maximum(np.round(randn(2, 3, 6, 6)), 0)
    check_against_torch(nn.MaxPool2d(k, s), torch.nn.MaxPool2d(k, s), x)


@pytest.mark.parametrize("h, w", [(6, 6), (7, 5)])
def test_maxpool2d_2x2_ties_on_a_channel_major_input(h, w):
    # Conv2d hands on a (C, N, H, W) array seen as (N, C, H, W); the 2×2 fast path takes views
    x = np.maximum(np.round(randn(3, 2, h, w)), 0).transpose(1, 0, 2, 3)
    check_against_torch(nn.MaxPool2d(2), torch.nn.MaxPool2d(2), x)


def test_sigmoid_saturates_without_overflow():
    x = np.array([[-800.0, -40.0, 0.0, 40.0, 800.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        check_against_torch(nn.Sigmoid(), torch.nn.Sigmoid(), x)


def test_dropout_eval_is_identity_and_train_keeps_the_mean():
    layer = nn.Dropout(0.4, rng=0)
    x = randn(3, 4)
    layer.eval()
    assert_close(layer(x), x)
    assert_close(layer.backward(x + 1), x + 1)
    layer.train()
    big = np.full((2000, 500), 1.5)
    y = layer(big)
    assert abs(layer.mask.mean() - 0.6) < 0.005  # keep probability 1 - p
    assert abs(y.mean() - 1.5) < 0.01  # inverted dropout: E[y] = x
    assert set(np.unique(y)) == {0.0, 1.5 / 0.6}


def test_dropout_is_reproducible_with_a_seed():
    x = randn(10, 10)
    assert np.array_equal(nn.Dropout(0.5, rng=7)(x), nn.Dropout(0.5, rng=7)(x))
    np.random.seed(11)
    a = nn.Dropout(0.5)(x)
    np.random.seed(11)
    assert np.array_equal(a, nn.Dropout(0.5)(x))


def run_batchnorm(layer, twin, shape, momentum_steps=3):
    """Several training batches (running statistics), then an eval batch, all against torch."""
    for step in range(momentum_steps):
        check_against_torch(layer, twin, 2 + 3 * randn(*shape, seed=step), seed=step)
        assert_close(layer.running_mean, twin.running_mean, what="running_mean")
        assert_close(layer.running_var, twin.running_var, what="running_var")
        assert layer.num_batches_tracked == twin.num_batches_tracked.item()
        layer.zero_grad()
        twin.zero_grad()
    layer.eval(), twin.eval()
    check_against_torch(layer, twin, randn(*shape, seed=9))
    assert_close(layer.running_var, twin.running_var)  # eval leaves the statistics alone


@pytest.mark.parametrize("shape", [(6, 4), (2, 3), (5, 3, 7)])
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm1d(shape, momentum):
    layer = nn.BatchNorm1d(shape[1], momentum=momentum, dtype=F64)
    layer.weight.data[:] = randn(shape[1], seed=5)
    layer.bias.data[:] = randn(shape[1], seed=6)
    run_batchnorm(layer, torch.nn.BatchNorm1d(shape[1], momentum=momentum).double(), shape)


@pytest.mark.parametrize("shape, eps", [((4, 3, 5, 6), 1e-5), ((1, 2, 3, 3), 1e-3),
                                        ((3, 5, 2, 7), 0.1)])
def test_batchnorm2d(shape, eps):
    layer = nn.BatchNorm2d(shape[1], eps=eps, dtype=F64)
    layer.weight.data[:] = randn(shape[1], seed=5)
    layer.bias.data[:] = randn(shape[1], seed=6)
    run_batchnorm(layer, torch.nn.BatchNorm2d(shape[1], eps=eps).double(), shape)
