"""Bad input fails at the layer that received it, naming what was expected and what came."""

import re

import numpy as np
import pytest

from dlcore import nn


def raises(exc, *fragments):
    """pytest.raises whose message must contain every fragment, in order."""
    return pytest.raises(exc, match=".*".join(re.escape(f) for f in fragments))


X4 = np.zeros((2, 3, 8, 8), np.float32)


@pytest.mark.parametrize("layer, x, fragments", [
    (nn.Conv2d(3, 4, 3), np.zeros((3, 8, 8), np.float32),
     ["Conv2d", "4-D input (N, C, H, W)", "3-D input of shape (3, 8, 8)"]),
    (nn.MaxPool2d(2), np.zeros((8, 8), np.float32), ["MaxPool2d", "4-D", "(8, 8)"]),
    (nn.AvgPool2d(2), np.zeros((1, 2, 3, 4, 5), np.float32), ["AvgPool2d", "4-D", "5-D"]),
    (nn.Linear(4, 2), np.zeros((2, 3, 4), np.float32),
     ["Linear", "2-D input (N, in_features)", "(2, 3, 4)"]),
    (nn.BatchNorm2d(3), np.zeros((2, 3), np.float32), ["BatchNorm2d", "4-D", "(2, 3)"]),
    (nn.BatchNorm1d(3), X4, ["BatchNorm1d", "2-D or 3-D", "(2, 3, 8, 8)"]),
    (nn.LocalResponseNorm(3), np.zeros((2, 3), np.float32), ["LocalResponseNorm", "(2, 3)"]),
])
def test_wrong_number_of_dimensions(layer, x, fragments):
    with raises(ValueError, *fragments):
        layer(x)


@pytest.mark.parametrize("layer, x, fragments", [
    (nn.Conv2d(1, 4, 3), X4, ["Conv2d expects 1 input channels (dim 1), got 3",
                              "(2, 3, 8, 8)"]),
    (nn.Linear(5, 2), np.zeros((4, 3), np.float32), ["Linear expects 5 input features", "got 3"]),
    (nn.BatchNorm2d(4), X4, ["BatchNorm2d expects 4 channels", "got 3"]),
    (nn.BatchNorm1d(2), np.zeros((4, 3), np.float32), ["BatchNorm1d expects 2", "got 3"]),
])
def test_channel_or_feature_mismatch(layer, x, fragments):
    with raises(ValueError, *fragments):
        layer(x)


@pytest.mark.parametrize("layer, fragments", [
    (nn.Conv2d(3, 2, 5), ["Conv2d: kernel size (5, 5)", "padded input (4, 4)"]),
    (nn.Conv2d(3, 2, (3, 7), padding=1), ["kernel size (3, 7)", "padded input (6, 6)"]),
    (nn.MaxPool2d(5, padding=0), ["MaxPool2d: kernel size (5, 5)", "(4, 4)"]),
    (nn.AvgPool2d((2, 7), padding=(0, 1)), ["AvgPool2d: kernel size (2, 7)", "(4, 6)"]),
])
def test_kernel_larger_than_padded_input(layer, fragments):
    with raises(ValueError, *fragments):
        layer(np.zeros((1, 3, 4, 4), np.float32))


def test_bad_layer_arguments():
    with raises(ValueError, "padding (2, 2) should be at most half of kernel_size (3, 3)"):
        nn.MaxPool2d(3, padding=2)
    with raises(ValueError, "stride must be >= 1, got (0, 0)"):
        nn.Conv2d(1, 1, 3, stride=0)
    with raises(ValueError, "kernel_size must be an int or a pair of ints, got (3, 3, 3)"):
        nn.Conv2d(1, 1, (3, 3, 3))
    with raises(ValueError, "dropout probability must be in [0, 1], got 1.5"):
        nn.Dropout(1.5)


@pytest.mark.parametrize("crit", [nn.CrossEntropyLoss(), nn.NLLLoss()], ids=repr)
def test_class_target_errors(crit):
    logits = np.zeros((3, 4))
    name = type(crit).__name__
    with raises(ValueError, name, "target values must be in [0, 3] for 4 classes, got 4"):
        crit(logits, np.array([0, 4, 1]))
    with raises(ValueError, "in [0, 3]", "got -1"):
        crit(logits, np.array([0, -1, 1]))
    with raises(TypeError, name, "integer class indices", "got dtype float64"):
        crit(logits, np.array([0.0, 1.0, 2.5]))
    with raises(ValueError, "target should have shape (3,) for an input of shape (3, 4), "
                            "got (3, 1)"):
        crit(logits, np.zeros((3, 1), int))
    with raises(ValueError, name, "2-D input (N, C)", "(12,)"):
        crit(np.zeros(12), np.zeros(12, int))


@pytest.mark.parametrize("crit", [nn.MSELoss(), nn.BCEWithLogitsLoss()], ids=repr)
def test_target_shape_mismatch_is_not_broadcast(crit):
    with raises(ValueError, "target shape (4, 1) does not match input shape (4,)"):
        crit(np.zeros(4), np.zeros((4, 1)))


def test_dtype_errors():
    with raises(TypeError, "Linear has float32 parameters but got a float64 input"):
        nn.Linear(3, 2)(np.zeros((1, 3)))
    with raises(TypeError, "ReLU expects a floating-point array, got dtype int64"):
        nn.ReLU()(np.arange(3))
    with raises(TypeError, "Conv2d expects a floating-point array, got dtype uint8"):
        nn.Conv2d(1, 1, 1)(np.zeros((1, 1, 2, 2), np.uint8))


def test_other_bad_input():
    with raises(ValueError, "Softmax(dim=2) is out of range for a 2-D input", "[-2, 1]"):
        nn.Softmax(2)(np.zeros((2, 3)))
    with raises(ValueError, "Flatten(start_dim=3, end_dim=-1) does not fit", "(2, 3)"):
        nn.Flatten(3)(np.zeros((2, 3)))
    with raises(ValueError, "Dropout mask has shape (2,), expected the input's shape (2, 3)"):
        nn.Dropout()(np.zeros((2, 3)), mask=np.ones(2, bool))
    with raises(ValueError, "more than 1 value per channel when training", "(1, 3)"):
        nn.BatchNorm1d(3)(np.zeros((1, 3), np.float32))


@pytest.mark.parametrize("make, exc, fragments", [
    (lambda: nn.Conv2d(1, 1, 2.5), ValueError, ["kernel_size must be an int or a pair of ints",
                                                "2.5"]),
    (lambda: nn.MaxPool2d((2.0, 2)), ValueError, ["kernel_size", "(2.0, 2)"]),
    (lambda: nn.Conv2d(0, 4, 3), ValueError, ["Conv2d: in_channels must be >= 1, got 0"]),
    (lambda: nn.Conv2d(3, 0, 3), ValueError, ["Conv2d: out_channels must be >= 1, got 0"]),
    (lambda: nn.Conv2d(3.0, 4, 3), TypeError, ["Conv2d: in_channels must be an int, got 3.0"]),
    (lambda: nn.Conv2d(4, 6, 3, groups=3), ValueError,
     ["in_channels (4) must be divisible by groups (3)"]),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), ValueError,
     ["out_channels (6) must be divisible by groups (4)"]),
    (lambda: nn.Linear(0, 2), ValueError, ["Linear: in_features must be >= 1, got 0"]),
    (lambda: nn.Linear(3, True), TypeError, ["Linear: out_features must be an int, got True"]),
    (lambda: nn.LocalResponseNorm(0), ValueError, ["LocalResponseNorm: size must be >= 1, got 0"]),
    (lambda: nn.BatchNorm2d(3, eps=0), ValueError, ["BatchNorm2d: eps must be in (0, ∞), got 0"]),
    (lambda: nn.BatchNorm1d(3, momentum=1.5), ValueError,
     ["BatchNorm1d: momentum must be in [0, 1], got 1.5"]),
    (lambda: nn.BatchNorm1d(0), ValueError, ["num_features must be >= 1"]),
    (lambda: nn.TiedLinear(np.zeros((3, 2))), TypeError, ["TiedLinear expects the 2-D weight "
                                                          "Parameter of a Linear"]),
])
def test_constructor_arguments_are_checked(make, exc, fragments):
    with raises(exc, *fragments):
        make()


P = [nn.Parameter(np.zeros(2))]


@pytest.mark.parametrize("make, exc, fragments", [
    (lambda: nn.optim.SGD(P, lr=-0.1), ValueError, ["SGD: lr must be in [0, ∞), got -0.1"]),
    (lambda: nn.optim.SGD(P, lr="fast"), TypeError, ["SGD: lr must be a number, got 'fast'"]),
    (lambda: nn.optim.SGD(P, lr=0.1, momentum=-0.9), ValueError, ["SGD: momentum", "-0.9"]),
    (lambda: nn.optim.SGD(P, lr=0.1, weight_decay=-1), ValueError, ["weight_decay"]),
    (lambda: nn.optim.Adam(P, betas=(0.9, 1.0)), ValueError,
     ["Adam: betas[1] must be in [0, 1), got 1.0"]),
    (lambda: nn.optim.Adam(P, betas=(0.9,)), ValueError, ["betas must be a pair"]),
    (lambda: nn.optim.Adam(P, eps=-1e-8), ValueError, ["Adam: eps must be in [0, ∞)"]),
    (lambda: nn.optim.RMSprop(P, alpha=-0.5), ValueError, ["RMSprop: alpha"]),
    (lambda: nn.optim.RMSprop(P, eps=float("nan")), ValueError, ["RMSprop: eps", "nan"]),
    (lambda: nn.optim.SGD(nn.Linear(2, 2).parameters, lr=0.1), TypeError,
     ["SGD got the method Module.parameters itself: call it, SGD(model.parameters(), ...)"]),
    (lambda: nn.optim.SGD(P + P, lr=0.1), ValueError, ["listed twice"]),
    (lambda: nn.optim.StepLR(nn.optim.SGD(P, lr=0.1), step_size=0), ValueError,
     ["StepLR: step_size must be an int >= 1, got 0"]),
])
def test_optimizer_arguments_are_checked(make, exc, fragments):
    with raises(exc, *fragments):
        make()


@pytest.mark.parametrize("crit, pred, target", [
    (nn.MSELoss(), np.zeros((0, 3)), np.zeros((0, 3))),
    (nn.BCEWithLogitsLoss(), np.zeros(0), np.zeros(0)),
    (nn.CrossEntropyLoss(), np.zeros((0, 4)), np.zeros(0, int)),
    (nn.NLLLoss(), np.zeros((0, 4)), np.zeros(0, int)),
], ids=repr)
def test_losses_refuse_an_empty_batch(crit, pred, target):
    with raises(ValueError, type(crit).__name__, "empty batch", "skip empty batches"):
        crit(pred, target)


# --------------------------------------------------------------------------- parameter dtypes

DTYPE_LAYERS = {
    "Linear": lambda dtype: nn.Linear(3, 2, dtype=dtype, rng=0),
    "Conv2d": lambda dtype: nn.Conv2d(1, 2, 3, dtype=dtype, rng=0),
    "BatchNorm1d": lambda dtype: nn.BatchNorm1d(3, dtype=dtype),
    "BatchNorm2d": lambda dtype: nn.BatchNorm2d(3, dtype=dtype),
    "RBM": lambda dtype: nn.RBM(4, 3, dtype=dtype, rng=0),
}


@pytest.mark.parametrize("dtype, shown", [
    (np.int64, "int64"), (int, "int64"), (np.uint8, "uint8"), (bool, "bool"),
    (np.complex128, "complex128"), (complex, "complex128"), (object, "object"),
    ("U3", "<U3"), ("datetime64[s]", "datetime64[s]"), (None, "None"),
    ("nonsense", "'nonsense'"),
], ids=str)
@pytest.mark.parametrize("layer", DTYPE_LAYERS)
def test_layers_refuse_parameter_dtypes_that_are_not_floating_point(layer, dtype, shown):
    # Linear(dtype=int64) used to build all-zero weights (U(-1/√in, 1/√in) cast to integers).
    with raises(TypeError, f"{layer}: dtype must be a floating-point dtype such as float32 or "
                           f"float64, got {shown}"):
        DTYPE_LAYERS[layer](dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, "float64", "f4", float,
                                   np.dtype(np.float32)], ids=str)
@pytest.mark.parametrize("layer", DTYPE_LAYERS)
def test_layers_take_every_spelling_of_float32_and_float64(layer, dtype):
    assert DTYPE_LAYERS[layer](dtype).weight.dtype == np.dtype(dtype)


def test_half_precision_works_where_it_can_and_the_rbm_says_why_not():
    x = np.ones((2, 3), np.float16)
    layer = nn.Linear(3, 2, dtype=np.float16, rng=0)
    assert layer(x).dtype == np.float16 and layer.backward(np.ones((2, 2), np.float16)).shape
    # The RBM's Gibbs sampler draws its uniform numbers in the parameters' dtype, which
    # NumPy's Generator.random offers in float32 and float64 only.
    with raises(TypeError, "RBM: dtype must be float32 or float64", "got float16"):
        nn.RBM(4, 3, dtype=np.float16)


@pytest.mark.parametrize("data", [np.arange(3), [1, 2], np.zeros(2, bool), np.zeros(2, complex),
                                  np.array(["a"])], ids=repr)
def test_parameters_hold_floating_point_arrays(data):
    with raises(TypeError, "Parameter: dtype must be a floating-point dtype", "got"):
        nn.Parameter(data)


@pytest.mark.parametrize("make, fragments", [
    (lambda: nn.optim.SGD(P, lr=float("inf")), ["SGD: lr must be in [0, ∞), got inf"]),
    (lambda: nn.optim.Adam(P, lr=float("inf")), ["Adam: lr must be in [0, ∞), got inf"]),
    (lambda: nn.optim.SGD(P, lr=0.1, momentum=float("inf")), ["SGD: momentum", "got inf"]),
    (lambda: nn.optim.RMSprop(P, weight_decay=float("inf")), ["weight_decay", "got inf"]),
    (lambda: nn.optim.StepLR(nn.optim.SGD(P, lr=0.1), 1, gamma=float("inf")),
     ["StepLR: gamma must be in [0, ∞), got inf"]),
    (lambda: nn.BatchNorm1d(3, eps=float("inf")), ["BatchNorm1d: eps must be in (0, ∞), got inf"]),
])
def test_unbounded_hyperparameters_refuse_infinity(make, fragments):
    # "[0, ∞)" excludes ∞ itself; an infinite lr or eps would turn every weight into inf or 0.
    with raises(ValueError, *fragments):
        make()
