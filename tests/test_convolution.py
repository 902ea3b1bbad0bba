"""dlcore.convolution, the reference functions of Chapter 6: hand examples, NumPy's
np.convolve / np.correlate, dlcore.nn's Conv2d and pooling layers, torch, and the errors."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as tF

from dlcore import convolution as cv
from dlcore import nn

TIGHT = dict(rtol=1e-12, atol=1e-12)
IMAGE_5x5 = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0],
                      [0, 1, 1, 0, 0]])
KERNEL_X = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def torch_correlate(x, kernel, stride=1, padding=0):
    """torch's conv2d on a stack (..., H, W) and one (kh, kw) kernel."""
    lead, (h, w) = x.shape[:-2], x.shape[-2:]
    out = tF.conv2d(torch.tensor(x.reshape(-1, 1, h, w)), torch.tensor(kernel)[None, None],
                    stride=stride, padding=padding)
    return out.numpy().reshape(*lead, *out.shape[-2:])


def dlcore_conv2d(kernel, stride=1, padding=0):
    """A one-channel dlcore.nn.Conv2d without bias holding ``kernel`` (float64)."""
    layer = nn.Conv2d(1, 1, kernel.shape, stride=stride, padding=padding, bias=False,
                      dtype=np.float64)
    layer.weight.data[...] = kernel
    return layer


# ---- output sizes -------------------------------------------------------------------------

@pytest.mark.parametrize("W, F, P, S, expected", [
    (7, 3, 0, 1, 5), (7, 3, 0, 2, 3), (7, 3, 1, 1, 7), (5, 3, 0, 1, 3), (227, 11, 0, 4, 55),
    (32, 5, 2, 1, 32), (28, 2, 0, 2, 14), (3, 3, 0, 1, 1), (1, 3, 1, 1, 1),
])
def test_conv_output_size_by_hand(W, F, P, S, expected):
    assert cv.conv_output_size(W, F, P, S) == expected
    assert type(cv.conv_output_size(W, F, P, S)) is int


def test_conv_output_size_refuses_a_stride_that_does_not_fit():
    with pytest.raises(ValueError, match=re.escape(
            "(W - F + 2P)/S + 1 = (7 - 3 + 2·0)/3 + 1 = 2.333 is not an integer")) as e:
        cv.conv_output_size(7, 3, 0, 3)
    assert "strides that fit: 1, 2, 4" in str(e.value)
    with pytest.raises(ValueError, match=r"54\.25 is not an integer"):
        cv.conv_output_size(224, 11, 0, 4)  # AlexNet's famous 224


@pytest.mark.parametrize("args, error, message", [
    ((3, 5), ValueError, r"filter \(F = 5\) is larger than the padded input \(W \+ 2P = "
                         r"3 \+ 2·0 = 3\)"),
    ((7.0, 3), TypeError, r"W \(input size\) must be an int, got 7\.0 \(float\)"),
    ((7, 3, -1), ValueError, r"P \(padding\) must be >= 0, got -1"),
    ((7, 3, 0, 0), ValueError, r"S \(stride\) must be >= 1, got 0"),
    ((7, True), TypeError, r"F \(filter size\) must be an int"),
])
def test_conv_output_size_errors(args, error, message):
    with pytest.raises(error, match=message):
        cv.conv_output_size(*args)


def test_conv_output_size_agrees_with_torch_where_the_stride_fits():
    rng = np.random.default_rng(0)
    for _ in range(50):
        W, F, P, S = (int(v) for v in rng.integers([1, 1, 0, 1], [20, 8, 4, 5]))
        if W + 2 * P < F or (W - F + 2 * P) % S:
            continue
        out = tF.conv2d(torch.zeros(1, 1, W, W), torch.zeros(1, 1, F, F), stride=S, padding=P)
        assert out.shape[-1] == cv.conv_output_size(W, F, P, S)


def test_same_padding():
    for F in (1, 3, 5, 7):
        P = cv.same_padding(F)
        assert P == (F - 1) // 2 and cv.conv_output_size(9, F, P, 1) == 9
    with pytest.raises(ValueError, match=r"\(F - 1\)/2 = 1\.5 is not an integer for the even "
                                         r"filter size F = 4"):
        cv.same_padding(4)


# ---- 1-D ----------------------------------------------------------------------------------

def test_conv1d_by_hand_flips_the_kernel():
    # (A∗B)(x) = Σ_i A(i) B(x − i): B runs backwards under A
    np.testing.assert_allclose(cv.conv1d([1, 2, 3], [0, 1, 0.5]), [0, 1, 2.5, 4, 1.5], **TIGHT)
    np.testing.assert_array_equal(cv.conv1d([1, 2, 3], [1, 0], mode="valid"), [2, 3])
    np.testing.assert_array_equal(cv.correlate1d([1, 2, 3], [1, 0]), [1, 2])


@pytest.mark.parametrize("n, m", [(5, 3), (3, 5), (4, 2), (2, 4), (1, 1), (6, 6), (7, 4),
                                  (1, 4)])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_conv1d_and_correlate1d_match_numpy(n, m, mode):
    a, b = randn(n, seed=n), randn(m, seed=10 + m)
    np.testing.assert_allclose(cv.conv1d(a, b, mode), np.convolve(a, b, mode), **TIGHT)
    np.testing.assert_allclose(cv.correlate1d(a, b, mode), np.correlate(a, b, mode), **TIGHT)


def test_conv1d_is_commutative_and_correlation_is_not():
    a, b = randn(6), randn(3, seed=1)
    np.testing.assert_allclose(cv.conv1d(a, b), cv.conv1d(b, a), **TIGHT)
    assert not np.allclose(cv.correlate1d(a, b, "full"), cv.correlate1d(b, a, "full"))
    np.testing.assert_allclose(cv.correlate1d(a, b, "full"),
                               cv.correlate1d(b, a, "full")[::-1], **TIGHT)


def test_1d_errors():
    with pytest.raises(ValueError, match=r"conv1d: mode must be 'full', 'same' or 'valid', "
                                         r"got 'circular'"):
        cv.conv1d([1, 2], [1], mode="circular")
    with pytest.raises(ValueError, match=r"conv1d: b must be a non-empty 1-D array of "
                                         r"numbers, got shape \(2, 2\)"):
        cv.conv1d([1, 2], np.eye(2))
    with pytest.raises(ValueError, match=r"correlate1d: v must be a non-empty 1-D array"):
        cv.correlate1d([1, 2], [])


# ---- 2-D ----------------------------------------------------------------------------------

def test_the_lectures_5x5_example():
    expected = [[4, 3, 4], [2, 4, 3], [2, 3, 4]]
    np.testing.assert_array_equal(cv.correlate2d(IMAGE_5x5, KERNEL_X), expected)
    np.testing.assert_array_equal(cv.convolve2d(IMAGE_5x5, KERNEL_X), expected)  # symmetric


def test_convolve2d_flips_and_correlate2d_does_not():
    x = np.arange(9.0).reshape(3, 3)
    k = np.array([[1.0, 0], [0, 0]])  # picks the top-left pixel of each window
    np.testing.assert_array_equal(cv.correlate2d(x, k), [[0, 1], [3, 4]])
    np.testing.assert_array_equal(cv.convolve2d(x, k), [[4, 5], [7, 8]])  # flipped: bottom-right


def test_convolve2d_of_one_row_is_np_convolve_valid():
    x, k = randn(1, 12), randn(1, 4, seed=1)
    np.testing.assert_allclose(cv.convolve2d(x, k)[0], np.convolve(x[0], k[0], "valid"),
                               **TIGHT)
    np.testing.assert_allclose(cv.correlate2d(x, k)[0], np.correlate(x[0], k[0], "valid"),
                               **TIGHT)


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 0), (1, 1), (2, 1), ((1, 2), (2, 0)),
                                             (2, 2)])
def test_correlate2d_matches_dlcore_conv2d_and_torch(stride, padding):
    x, k = randn(3, 9, 11), randn(3, 3, seed=1)  # every (stride, padding) here fits 9 x 11
    ours = cv.correlate2d(x, k, stride, padding)
    layer = dlcore_conv2d(k, stride, padding)
    np.testing.assert_allclose(ours, layer(x[:, None])[:, 0], **TIGHT)
    np.testing.assert_allclose(ours, torch_correlate(x, k, stride, padding), **TIGHT)
    np.testing.assert_allclose(cv.convolve2d(x, k, stride, padding),
                               torch_correlate(x, k[::-1, ::-1].copy(), stride, padding),
                               **TIGHT)


def test_correlate2d_on_a_stack_and_on_integers():
    x = randn(2, 3, 6, 6)
    k = randn(2, 2, seed=3)
    stacked = cv.correlate2d(x, k)
    assert stacked.shape == (2, 3, 5, 5)
    np.testing.assert_allclose(stacked[1, 2], cv.correlate2d(x[1, 2], k), **TIGHT)
    assert cv.correlate2d(IMAGE_5x5, KERNEL_X).dtype.kind == "i"  # exact integers


@pytest.mark.parametrize("call, error, message", [
    (lambda: cv.correlate2d(np.zeros(5), KERNEL_X), ValueError,
     r"correlate2d: x must be an array \(\.\.\., H, W\) of numbers, got shape \(5,\)"),
    (lambda: cv.correlate2d(np.zeros((5, 5)), np.ones(3)), ValueError,
     r"correlate2d: kernel must be a 2-D array \(kh, kw\) of numbers, got shape \(3,\)"),
    (lambda: cv.correlate2d(np.zeros((7, 7)), np.ones((3, 3)), stride=3), ValueError,
     r"2\.333 is not an integer"),
    (lambda: cv.correlate2d(np.zeros((5, 5)), np.ones((3, 3)), stride=(1, 2, 3)), ValueError,
     r"stride must be an int or a pair of ints"),
    (lambda: cv.convolve2d(np.zeros((5, 5)), np.ones(3)), ValueError,
     r"convolve2d: kernel must be a 2-D array"),
    (lambda: cv.correlate2d(np.array([["a"]]), np.ones((1, 1))), ValueError,
     r"dtype <U1"),
])
def test_2d_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---- backward -----------------------------------------------------------------------------

@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), (1, 2)])
def test_correlate2d_grads_against_finite_differences_torch_and_dlcore(stride, padding):
    x, k = randn(2, 7, 7), randn(3, 3, seed=1)
    g = randn(*cv.correlate2d(x, k, stride, padding).shape, seed=2)
    dx, dk = cv.correlate2d_grads(x, k, g, stride, padding)
    loss = lambda: float(np.sum(g * cv.correlate2d(x, k, stride, padding)))
    np.testing.assert_allclose(dk, nn.numerical_gradient(loss, k), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(dx, nn.numerical_gradient(loss, x), rtol=1e-7, atol=1e-8)

    x_t, k_t = torch.tensor(x[:, None], requires_grad=True), torch.tensor(k[None, None],
                                                                        requires_grad=True)
    (tF.conv2d(x_t, k_t, stride=stride, padding=padding)[:, 0] * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(dx, x_t.grad.numpy()[:, 0], **TIGHT)
    np.testing.assert_allclose(dk, k_t.grad.numpy()[0, 0], **TIGHT)

    layer = dlcore_conv2d(k, stride, padding)
    layer(x[:, None])
    np.testing.assert_allclose(dx, layer.backward(g[:, None])[:, 0], **TIGHT)
    np.testing.assert_allclose(dk, layer.weight.grad[0, 0], **TIGHT)


def test_the_shared_weight_gradient_is_a_sum_over_positions():
    x, k = randn(5, 6), randn(2, 2, seed=1)
    g = randn(4, 5, seed=2)
    _, dk = cv.correlate2d_grads(x, k, g)
    by_position = sum(g[i, j] * x[i:i + 2, j:j + 2] for i in range(4) for j in range(5))
    np.testing.assert_allclose(dk, by_position, **TIGHT)


def test_correlate2d_grads_refuses_a_wrong_grad_out():
    with pytest.raises(ValueError, match=r"grad_out must have the output's shape \(3, 3\), "
                                         r"got \(5, 5\)"):
        cv.correlate2d_grads(np.zeros((5, 5)), np.ones((3, 3)), np.zeros((5, 5)))


# ---- the Toeplitz matrix ------------------------------------------------------------------

@pytest.mark.parametrize("shape, stride, padding", [((5, 5), 1, 0), ((6, 7), 1, 1),
                                                    ((7, 7), 2, 0), ((5, 7), (1, 2), (2, 1))])
def test_conv_matrix_is_the_convolution(shape, stride, padding):
    k = randn(3, 3, seed=1)
    T = cv.conv_matrix(k, shape, stride, padding)
    x = randn(4, *shape)
    y = cv.correlate2d(x, k, stride, padding)
    assert T.shape == (y.shape[-2] * y.shape[-1], shape[0] * shape[1])
    np.testing.assert_allclose(x.reshape(4, -1) @ T.T, y.reshape(4, -1), **TIGHT)
    layer = dlcore_conv2d(k, stride, padding)
    np.testing.assert_allclose(x.reshape(4, -1) @ T.T,
                               layer(x[:, None]).reshape(4, -1), **TIGHT)


def test_conv_matrix_is_doubly_block_toeplitz_and_sparse():
    k = np.arange(1.0, 10.0).reshape(3, 3)
    h, w = 6, 7
    T = cv.conv_matrix(k, (h, w))
    oh, ow = 4, 5
    blocks = T.reshape(oh, ow, h, w).transpose(0, 2, 1, 3)  # blocks[i, r] is OW × W
    for i in range(oh):
        for r in range(h):
            np.testing.assert_array_equal(blocks[i, r], blocks[0, r - i] if r >= i else 0)
            B = blocks[i, r]
            for d in range(-ow + 1, w):  # each block is constant along its diagonals
                assert len(set(np.diagonal(B, d))) == 1
    assert (T != 0).sum() == oh * ow * 9
    np.testing.assert_array_equal(blocks[0, :3, 0, :3], k)  # block r holds kernel row r
    # padding drops the taps that fall on zeros: 19 taps a row direction for 7x7, P = 1
    assert (cv.conv_matrix(np.ones((3, 3)), (7, 7), padding=1) != 0).sum() == 19 ** 2


def test_conv_matrix_errors():
    with pytest.raises(ValueError, match=r"input_shape must be \(H, W\), got \(1, 5, 5\)"):
        cv.conv_matrix(np.ones((3, 3)), (1, 5, 5))
    with pytest.raises(ValueError, match=r"kernel must be a 2-D array"):
        cv.conv_matrix(np.ones(3), (5, 5))
    with pytest.raises(ValueError, match=r"2\.333 is not an integer"):
        cv.conv_matrix(np.ones((3, 3)), (7, 7), stride=3)


# ---- receptive fields ---------------------------------------------------------------------

@pytest.mark.parametrize("kernels, strides, expected", [
    ([3], None, 3), ([3, 3], None, 5), ([3, 3, 3], None, 7), ([3, 2, 3], [1, 2, 1], 8),
    ([11, 3, 5], [4, 2, 1], 11 + 2 * 4 + 4 * 8), ([2, 2, 2], [2, 2, 2], 8),
])
def test_receptive_field(kernels, strides, expected):
    assert cv.receptive_field(kernels, strides) == expected


def test_receptive_field_is_where_the_gradient_reaches():
    """Brute force: the input pixels whose gradient is non-zero for one output of a stack."""
    kernels, strides = [3, 2, 3], [1, 2, 1]
    x = torch.zeros(1, 1, 40, requires_grad=True)
    h = x
    for F, S in zip(kernels, strides):
        h = tF.conv1d(h, torch.ones(1, 1, F), stride=S)
    h[0, 0, 5].backward()
    reached = np.flatnonzero(x.grad.numpy()[0, 0])
    assert len(reached) == reached[-1] - reached[0] + 1 == cv.receptive_field(kernels, strides)
    masks = cv.receptive_cone(40, kernels, 5, strides)
    np.testing.assert_array_equal(np.flatnonzero(masks[0]), reached)
    assert [len(m) for m in masks] == [40, 38, 19, 17] and masks[-1].sum() == 1


def test_receptive_cone_grows_with_depth_and_is_clipped_at_a_border():
    masks = cv.receptive_cone(11, [3, 3, 3], 4, paddings=[1, 1, 1])
    assert [int(m.sum()) for m in masks] == [7, 5, 3, 1]
    border = cv.receptive_cone(11, [3, 3, 3], 0, paddings=[1, 1, 1])
    assert [int(m.sum()) for m in border] == [4, 3, 2, 1]


def test_receptive_errors():
    with pytest.raises(ValueError, match=r"one stride and padding per layer: 3 kernel sizes, "
                                         r"2 strides"):
        cv.receptive_field([3, 3, 3], [1, 1])
    with pytest.raises(ValueError, match=r"the top layer has 5 units, got index 5"):
        cv.receptive_cone(11, [3, 3, 3], 5)


# ---- pooling ------------------------------------------------------------------------------

def test_the_lectures_max_pooling_example():
    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]])
    np.testing.assert_array_equal(cv.pool2d(x, 2, 2, "max"), [[6, 8], [3, 4]])
    np.testing.assert_allclose(cv.pool2d(x, 2, 2, "avg"), [[3.25, 5.25], [2, 2]], **TIGHT)
    np.testing.assert_allclose(cv.pool2d(x, 2, 2, "l2"),
                               np.sqrt([[63, 133], [18, 26]]), **TIGHT)
    np.testing.assert_allclose(cv.pool2d(x, 2, 2, "weighted"), [[3.25, 5.25], [2, 2]], **TIGHT)


@pytest.mark.parametrize("shape, size, stride", [((8, 10), 2, 2), ((7, 9), 3, 1),
                                                  ((7, 9), 3, 2), ((8, 9), (2, 3), (2, 1))])
def test_pooling_matches_dlcore_nn_and_torch(shape, size, stride):
    x = randn(2, 3, *shape)
    x_t = torch.tensor(x)
    np.testing.assert_allclose(cv.pool2d(x, size, stride, "max"),
                               nn.MaxPool2d(size, stride)(x), **TIGHT)
    np.testing.assert_allclose(cv.pool2d(x, size, stride, "max"),
                               tF.max_pool2d(x_t, size, stride).numpy(), **TIGHT)
    np.testing.assert_allclose(cv.pool2d(x, size, stride, "avg"),
                               nn.AvgPool2d(size, stride)(x), **TIGHT)
    np.testing.assert_allclose(cv.pool2d(x, size, stride, "l2"),
                               tF.lp_pool2d(x_t, 2, size, stride).numpy(), rtol=1e-10,
                               atol=1e-12)


def test_distance_weighted_pooling():
    w = cv.pooling_weights(3, sigma=1.0)
    np.testing.assert_allclose(w.sum(), 1, rtol=0, atol=1e-15)
    np.testing.assert_allclose(w, w[::-1, ::-1], **TIGHT)
    np.testing.assert_allclose(w, w.T, **TIGHT)
    assert w.argmax() == 4 and w[0, 0] < w[0, 1] < w[1, 1]  # the centre counts most
    np.testing.assert_allclose(w[0, 1] / w[1, 1], np.exp(-0.5), **TIGHT)  # distance 1, σ = 1
    np.testing.assert_allclose(cv.pooling_weights(2, sigma=0.1), np.full((2, 2), 0.25), **TIGHT)
    np.testing.assert_allclose(cv.pooling_weights(3, sigma=1e6), np.full((3, 3), 1 / 9),
                               rtol=1e-9, atol=0)
    x = randn(9, 9)
    pooled = cv.pool2d(x, 3, 3, "weighted", sigma=0.7)
    w = cv.pooling_weights(3, sigma=0.7)
    np.testing.assert_allclose(pooled[1, 2], np.sum(w * x[3:6, 6:9]), **TIGHT)
    np.testing.assert_allclose(cv.pool2d(np.full((6, 6), 2.5), 3, kind="weighted"),
                               np.full((2, 2), 2.5), **TIGHT)
    with pytest.raises(ValueError, match=r"sigma must be a positive number, got 0"):
        cv.pooling_weights(3, sigma=0)


def test_pooling_errors():
    with pytest.raises(ValueError, match=r"kind must be one of 'max', 'avg', 'l2', 'weighted'"
                                         r", got 'median'"):
        cv.pool2d(np.zeros((4, 4)), 2, kind="median")
    with pytest.raises(ValueError, match=r"\(5 - 2 \+ 2·0\)/2 \+ 1 = 2\.5 is not an integer"):
        cv.pool2d(np.zeros((5, 5)), 2)
    with pytest.raises(ValueError, match=r"pool2d: x must be an array \(\.\.\., H, W\)"):
        cv.pool2d(np.zeros(4), 2)
