"""Every dlcore.nn layer against its torch twin: forward values and every gradient, float64."""

import numpy as np
import pytest
import torch

from dlcore import nn
from nn_helpers import assert_close, check_against_torch

F64 = np.float64


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("n, fin, fout, bias", [(4, 5, 3, True), (1, 7, 2, True),
                                                (3, 1, 6, False), (9, 13, 11, True)])
def test_linear(n, fin, fout, bias):
    layer = nn.Linear(fin, fout, bias=bias, dtype=F64, rng=1)
    check_against_torch(layer, torch.nn.Linear(fin, fout, bias=bias).double(), randn(n, fin))


# (N, C, H, W, F, kernel, stride, padding, bias)
CONV_CASES = [
    (2, 3, 7, 9, 4, 3, 1, 0, True),
    (1, 2, 8, 8, 3, 3, 2, 1, True),
    (3, 1, 6, 5, 2, (2, 3), (2, 1), (1, 0), True),
    (2, 4, 5, 5, 3, 5, 1, 2, False),
    (1, 1, 11, 7, 2, 4, 3, (1, 2), True),
    (2, 3, 9, 10, 5, (1, 1), 1, 0, True),
    (2, 2, 13, 13, 3, 11, 4, 2, True),
]


@pytest.mark.parametrize("n, c, h, w, f, k, s, p, bias", CONV_CASES)
def test_conv2d(n, c, h, w, f, k, s, p, bias):
    layer = nn.Conv2d(c, f, k, stride=s, padding=p, bias=bias, dtype=F64, rng=2)
    twin = torch.nn.Conv2d(c, f, k, stride=s, padding=p, bias=bias).double()
    check_against_torch(layer, twin, randn(n, c, h, w))


POOL_CASES = [  # (N, C, H, W, kernel, stride, padding)
    (2, 3, 8, 8, 2, None, 0),
    (1, 2, 7, 9, 3, 2, 1),
    (2, 1, 6, 7, (2, 3), (1, 2), (1, 1)),
    (3, 2, 7, 8, 3, None, 0),
    (1, 1, 5, 5, 2, 1, 0),
    (2, 2, 9, 6, (3, 2), (2, 2), (1, 0)),
    (2, 3, 7, 9, 2, 2, 0),  # 2×2 fast path with an odd last row and column
]


@pytest.mark.parametrize("n, c, h, w, k, s, p", POOL_CASES)
def test_maxpool2d(n, c, h, w, k, s, p):
    check_against_torch(nn.MaxPool2d(k, s, p), torch.nn.MaxPool2d(k, s, p), randn(n, c, h, w))


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


@pytest.mark.parametrize("n, c, h, w, k, s, p", POOL_CASES)
def test_avgpool2d(n, c, h, w, k, s, p):
    check_against_torch(nn.AvgPool2d(k, s, p), torch.nn.AvgPool2d(k, s, p), randn(n, c, h, w))


ACTIVATIONS = [
    (nn.Sigmoid(), torch.nn.Sigmoid()),
    (nn.Tanh(), torch.nn.Tanh()),
    (nn.ReLU(), torch.nn.ReLU()),
    (nn.LeakyReLU(), torch.nn.LeakyReLU()),
    (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
    (nn.ELU(), torch.nn.ELU()),
    (nn.ELU(0.5), torch.nn.ELU(0.5)),
]


@pytest.mark.parametrize("layer, twin", ACTIVATIONS, ids=lambda m: repr(m))
@pytest.mark.parametrize("shape", [(4, 5), (1, 3, 2, 7)])
def test_activation(layer, twin, shape):
    x = 3 * randn(*shape)
    x.flat[::7] = 0  # the kink: both must take the same one-sided derivative
    check_against_torch(layer, twin, x)


def test_sigmoid_saturates_without_overflow():
    x = np.array([[-800.0, -40.0, 0.0, 40.0, 800.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        check_against_torch(nn.Sigmoid(), torch.nn.Sigmoid(), x)


@pytest.mark.parametrize("cls, twin", [(nn.Softmax, torch.nn.Softmax),
                                       (nn.LogSoftmax, torch.nn.LogSoftmax)])
@pytest.mark.parametrize("shape, dim", [((4, 6), 1), ((4, 6), 0), ((2, 3, 5), -1),
                                        ((2, 3, 5), 1), ((1, 10), -1)])
def test_softmax(cls, twin, shape, dim):
    x = 10 * randn(*shape)
    check_against_torch(cls(dim), twin(dim), x)


@pytest.mark.parametrize("start, end", [(1, -1), (0, -1), (2, 3), (1, 2)])
def test_flatten(start, end):
    check_against_torch(nn.Flatten(start, end), torch.nn.Flatten(start, end), randn(2, 3, 4, 5))


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("shape", [(5, 8), (2, 3, 4, 4)])
def test_dropout_train_matches_torch_with_the_same_mask(p, shape):
    layer = nn.Dropout(p, rng=3)
    x, g = randn(*shape), randn(*shape, seed=1)
    y = layer(x)
    assert layer.mask.shape == x.shape and layer.mask.dtype == bool
    mask = torch.from_numpy(layer.mask).double()
    x_t = torch.tensor(x, requires_grad=True)
    y_t = x_t * mask / (1 - p) if p < 1 else x_t * 0
    y_t.backward(torch.from_numpy(g))
    assert_close(y, y_t)
    assert_close(layer.backward(g), x_t.grad)


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


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("shape", [(2, 7, 3, 4), (3, 4, 5)])
def test_local_response_norm(size, shape):
    kw = dict(alpha=0.5, beta=0.75, k=2.0)
    check_against_torch(nn.LocalResponseNorm(size, **kw), torch.nn.LocalResponseNorm(size, **kw),
                        2 * randn(*shape))


def test_local_response_norm_alexnet_defaults():
    kw = dict(size=5, alpha=1e-4, beta=0.75, k=2.0)
    check_against_torch(nn.LocalResponseNorm(**kw), torch.nn.LocalResponseNorm(**kw),
                        10 * randn(2, 8, 3, 3))


FLOAT32_LAYERS = [
    (lambda: nn.Linear(4, 3), (2, 4)), (lambda: nn.Conv2d(2, 3, 3, padding=1), (2, 2, 5, 5)),
    (lambda: nn.MaxPool2d(2), (2, 2, 4, 4)), (lambda: nn.AvgPool2d(3, 2, 1), (2, 2, 5, 5)),
    (nn.Sigmoid, (3, 4)), (nn.Tanh, (3, 4)), (nn.ReLU, (3, 4)), (nn.LeakyReLU, (3, 4)),
    (nn.ELU, (3, 4)), (lambda: nn.Softmax(1), (3, 4)), (lambda: nn.LogSoftmax(1), (3, 4)),
    (nn.Flatten, (2, 3, 4)), (lambda: nn.Dropout(0.5, rng=0), (3, 4)),
    (lambda: nn.BatchNorm1d(4), (3, 4)), (lambda: nn.BatchNorm2d(2), (3, 2, 2, 2)),
    (lambda: nn.LocalResponseNorm(3), (2, 4, 3, 3)),
]


@pytest.mark.parametrize("make, shape", FLOAT32_LAYERS)
def test_float32_in_float32_out(make, shape):
    layer = make()
    x = randn(*shape).astype(np.float32)
    y = layer(x)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())
