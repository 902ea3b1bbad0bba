"""Every layer and loss through the centred-difference gradient checker (float64, small sizes)."""

import numpy as np
import pytest

from dlcore import nn
from dlcore.nn import gradcheck, numerical_gradient

F64 = np.float64


def randn(*shape, seed=10):
    # not seed 0: gradcheck projects the output with default_rng(0) draws, and with x equal to
    # the projection, f = Σ x ⊙ BatchNorm(x) has an almost-zero input gradient
    return np.random.default_rng(seed).standard_normal(shape)


def batchnorm2d_with_affine():
    layer = nn.BatchNorm2d(3, dtype=F64)
    layer.weight.data[:] = randn(3, seed=1)
    layer.bias.data[:] = randn(3, seed=2)
    return layer


def batchnorm_eval():
    layer = nn.BatchNorm1d(4, dtype=F64)
    layer(randn(5, 4, seed=3))  # non-trivial running statistics
    return layer.eval()


LAYERS = [  # (name, module factory, input shape)
    ("linear", lambda: nn.Linear(4, 3, dtype=F64), (2, 4)),
    ("linear-no-bias", lambda: nn.Linear(3, 5, bias=False, dtype=F64), (1, 3)),
    ("conv", lambda: nn.Conv2d(2, 3, 3, dtype=F64), (2, 2, 5, 5)),
    ("conv-stride-pad", lambda: nn.Conv2d(2, 2, (3, 2), (2, 1), (1, 2), dtype=F64), (1, 2, 5, 4)),
    ("maxpool", lambda: nn.MaxPool2d(2), (2, 2, 4, 4)),
    ("maxpool-overlap-pad", lambda: nn.MaxPool2d(3, 2, 1), (1, 2, 5, 5)),
    ("avgpool", lambda: nn.AvgPool2d(2), (2, 2, 4, 5)),
    ("avgpool-overlap-pad", lambda: nn.AvgPool2d((3, 2), 1, (1, 1)), (1, 2, 4, 4)),
    ("sigmoid", nn.Sigmoid, (3, 4)),
    ("tanh", nn.Tanh, (3, 4)),
    ("relu", nn.ReLU, (3, 4)),
    ("leaky-relu", lambda: nn.LeakyReLU(0.1), (3, 4)),
    ("elu", nn.ELU, (3, 4)),
    ("softmax", lambda: nn.Softmax(1), (3, 4)),
    ("log-softmax", lambda: nn.LogSoftmax(0), (3, 4)),
    ("flatten", nn.Flatten, (2, 3, 2)),
    ("batchnorm1d-train", lambda: nn.BatchNorm1d(4, dtype=F64), (5, 4)),
    ("batchnorm1d-eval", batchnorm_eval, (5, 4)),
    ("batchnorm2d-train", batchnorm2d_with_affine, (2, 3, 2, 3)),
    ("lrn", lambda: nn.LocalResponseNorm(3, alpha=0.5, k=2.0), (2, 5, 2, 2)),
    ("lrn-even", lambda: nn.LocalResponseNorm(4, alpha=0.5, beta=0.5), (1, 6, 3)),
    ("sequential", lambda: nn.Sequential(nn.Conv2d(1, 2, 2, dtype=F64), nn.Tanh(), nn.Flatten(),
                                         nn.Linear(8, 2, dtype=F64)), (2, 1, 3, 3)),
]


@pytest.mark.parametrize("make, shape", [case[1:] for case in LAYERS],
                         ids=[case[0] for case in LAYERS])
def test_layer_gradients(make, shape):
    layer = make()
    errors = gradcheck(layer, randn(*shape))
    assert set(errors) == {"input", *dict(layer.named_parameters())}
    assert max(errors.values()) < 1e-7


def test_dropout_gradient_with_a_fixed_mask():
    mask = np.random.default_rng(1).random((4, 5)) > 0.3
    errors = gradcheck(nn.Dropout(0.3), randn(4, 5), mask=mask)
    assert errors["input"] < 1e-8


def rng(seed):
    return np.random.default_rng(seed)


LOSSES = [
    ("mse", nn.MSELoss(), randn(3, 4), randn(3, 4, seed=1)),
    ("cross-entropy", nn.CrossEntropyLoss(), randn(5, 3), rng(1).integers(0, 3, 5)),
    ("nll", nn.NLLLoss(), randn(4, 3), rng(2).integers(0, 3, 4)),
    ("bce-with-logits", nn.BCEWithLogitsLoss(), randn(2, 3), rng(3).uniform(size=(2, 3))),
]


@pytest.mark.parametrize("crit, x, target", [c[1:] for c in LOSSES], ids=[c[0] for c in LOSSES])
def test_loss_gradients(crit, x, target):
    assert gradcheck(crit, x, target=target)["input"] < 1e-7


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
