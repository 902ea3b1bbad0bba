"""Every case of layer_cases.py, layers and losses, through the centred-difference gradient
checker (float64, small sizes)."""

import numpy as np
import pytest

from dlcore import nn
from dlcore.nn import gradcheck, numerical_gradient
from dlcore.nn.gradient_check import projection
from layer_cases import LAYER_CASES, LOSS_CASES

F64 = np.float64


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("case", LAYER_CASES, ids=[case.id for case in LAYER_CASES])
def test_layer_gradients(case):
    layer = case.make(F64)
    errors = gradcheck(layer, case.input(), **case.kwargs)
    assert set(errors) == {"input", *dict(layer.named_parameters())}
    assert max(errors.values()) < 1e-7


@pytest.mark.parametrize("case", LOSS_CASES, ids=[case.id for case in LOSS_CASES])
def test_loss_gradients(case):
    assert gradcheck(case.make(), case.pred, target=case.target)["input"] < 1e-7


def test_projection_is_not_the_plain_seeded_draw():
    """The input of a test is often default_rng(0) draws: with the projection equal to it,
    Σ x ⊙ BatchNorm(x) has an input gradient of about zero, and the check measures noise."""
    x = randn(5, 4)
    assert not np.allclose(projection(x.shape, seed=0), x)
    layer = nn.BatchNorm1d(4, dtype=F64)
    errors = gradcheck(layer, x)  # seed 0 input, as every table case uses
    assert errors["input"] < 1e-7
    layer(x)
    assert np.abs(layer.backward(projection(x.shape))).max() > 0.1  # a real gradient


class WrongTanh(nn.Tanh):
    def backward(self, grad_out):
        return 1.01 * super().backward(grad_out)


def test_gradcheck_catches_a_wrong_gradient():
    with pytest.raises(AssertionError, match=r"WrongTanh failed .*input: 9\.\d+e-03"):
        gradcheck(WrongTanh(), randn(3, 3))
    assert 9e-3 < gradcheck(WrongTanh(), randn(3, 3), tol=None)["input"] < 1.1e-2


def test_gradcheck_refuses_float32():
    with pytest.raises(TypeError, match="float64.*float32"):
        gradcheck(nn.Tanh(), randn(2, 2).astype(np.float32))


def test_numerical_gradient_of_a_known_function():
    x = randn(3, 2)
    grad = numerical_gradient(lambda: np.sum(np.sin(x)), x)
    np.testing.assert_allclose(grad, np.cos(x), rtol=1e-8)
    assert np.array_equal(x, randn(3, 2))  # restored after the perturbations
