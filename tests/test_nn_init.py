"""Initialisers: fans as torch computes them, and the variance each scheme promises."""

import math

import numpy as np
import pytest
import torch

from dlcore import nn
from dlcore.nn import init

SHAPES = [(5, 3), (8, 4, 3, 3), (2, 3, 4, 5, 6), (10, 1, 5, 5)]


@pytest.mark.parametrize("shape", SHAPES)
def test_fans_match_torch(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.calculate_fan_in_and_fan_out(np.empty(shape)) == expected
    assert init.calculate_fan_in_and_fan_out(nn.Parameter(np.empty(shape))) == expected


@pytest.mark.parametrize("nonlinearity, param", [("linear", None), ("sigmoid", None),
                                                 ("tanh", None), ("relu", None),
                                                 ("leaky_relu", None), ("leaky_relu", 0.2),
                                                 ("selu", None), ("conv2d", None)])
def test_gains_match_torch(nonlinearity, param):
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert math.isclose(init.calculate_gain(nonlinearity, param), expected, rel_tol=1e-12)


FAN_IN, FAN_OUT = 64 * 3 * 3, 128 * 3 * 3  # a (128, 64, 3, 3) conv weight
VARIANCE_CASES = [
    (init.uniform_fan_in_, {}, 1 / (3 * FAN_IN)),
    (init.lecun_uniform_, {}, 1 / FAN_IN),
    (init.lecun_normal_, {}, 1 / FAN_IN),
    (init.xavier_uniform_, {}, 2 / (FAN_IN + FAN_OUT)),
    (init.xavier_uniform_, {"gain": 5 / 3}, (5 / 3) ** 2 * 2 / (FAN_IN + FAN_OUT)),
    (init.xavier_normal_, {}, 2 / (FAN_IN + FAN_OUT)),
    (init.kaiming_uniform_, {}, 2 / FAN_IN),
    (init.kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "relu"}, 2 / FAN_OUT),
    (init.kaiming_uniform_, {"a": math.sqrt(5)}, 1 / (3 * FAN_IN)),
    (init.kaiming_normal_, {}, 2 / FAN_IN),
    (init.kaiming_normal_, {"a": 0.1, "mode": "fan_out"}, 2 / (1.01 * FAN_OUT)),
]


@pytest.mark.parametrize("fn, kw, variance", VARIANCE_CASES,
                         ids=[f"{c[0].__name__}{c[1]}" for c in VARIANCE_CASES])
def test_empirical_variance_matches_formula(fn, kw, variance):
    w = np.empty((128, 64, 3, 3))  # 73,728 draws: the sample variance is within ~1.5%
    assert fn(w, rng=0, **kw) is w
    assert abs(w.var() / variance - 1) < 0.03
    assert abs(w.mean()) < 4 * math.sqrt(variance / w.size)


def test_uniform_schemes_respect_their_bound():
    w = nn.Parameter(np.empty((50, 200), np.float32))
    init.uniform_fan_in_(w, rng=1)
    assert np.abs(w.data).max() <= 1 / math.sqrt(200)
    assert w.data.dtype == np.float32
    init.xavier_uniform_(w, rng=1)
    assert np.abs(w.data).max() <= math.sqrt(6 / 250)


@pytest.mark.parametrize("make, fan_in", [(lambda: nn.Conv2d(16, 32, 5, rng=0), 16 * 25),
                                           (lambda: nn.Conv2d(16, 32, 5, groups=4, rng=0), 4 * 25),
                                           (lambda: nn.Linear(300, 200, rng=0), 300)])
def test_default_layer_init_is_torchs_uniform_fan_in(make, fan_in):
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    for p in (layer.weight.data, layer.bias.data):
        assert np.abs(p).max() <= bound
    assert abs(layer.weight.data.var() / (bound**2 / 3) - 1) < 0.05
    assert np.abs(layer.bias.data).max() > 0.8 * bound  # the bias uses the weight's fan-in too
    twin = torch.nn.Linear(300, 200) if isinstance(layer, nn.Linear) else \
        torch.nn.Conv2d(16, 32, 5, groups=layer.groups)
    assert abs(layer.weight.data.var() / twin.weight.detach().var().item() - 1) < 0.1


def test_layers_draw_through_the_one_default_helper():
    weight, bias = np.empty((5, 3), np.float32), np.empty(5, np.float32)
    init.torch_default_(weight, bias, rng=7)
    layer = nn.Linear(3, 5, rng=7)
    assert np.array_equal(layer.weight.data, weight) and np.array_equal(layer.bias.data, bias)


def test_zeros_and_rng_forms():
    w = np.ones((3, 3))
    assert not init.zeros_(w).any()
    a = init.kaiming_normal_(np.empty((4, 4)), rng=np.random.default_rng(5))
    assert np.array_equal(a, init.kaiming_normal_(np.empty((4, 4)), rng=5))


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(7,\)"):
        init.xavier_uniform_(np.empty(7))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan'"):
        init.kaiming_uniform_(np.empty((3, 3)), mode="fan")
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
