"""Weight initialisation, named and computed as in ``torch.nn.init``.

Each scheme fixes the variance of the weights from the fan-in (inputs per output unit) and/or
fan-out so that activations (forward) or gradients (backward) keep their scale layer after layer:

=====================  ===========================================  ====================
function               distribution                                 Var(w)
=====================  ===========================================  ====================
``uniform_fan_in_``    U(-1/√fan_in, 1/√fan_in)  (old heuristic,    1 / (3 fan_in)
                       torch's default for Linear and Conv2d)
``lecun_uniform_``     U(-√(3/fan_in), √(3/fan_in))                 1 / fan_in
``lecun_normal_``      N(0, 1/fan_in)                               1 / fan_in
``xavier_uniform_``    U(-b, b), b = gain·√(6/(fan_in+fan_out))     2 gain² / (fan_in+fan_out)
``xavier_normal_``     N(0, gain²·2/(fan_in+fan_out))               2 gain² / (fan_in+fan_out)
``kaiming_uniform_``   U(-b, b), b = gain·√(3/fan)                  gain² / fan
``kaiming_normal_``    N(0, gain²/fan)                              gain² / fan
=====================  ===========================================  ====================

For a weight of shape ``(out, in, *kernel)`` — Linear (out, in), Conv2d (out, in, kh, kw) —
fan_in = in·kh·kw and fan_out = out·kh·kw. Every function fills its argument in place (the
trailing underscore, as in torch) and returns it; it takes a ``Parameter`` or an array.

Randomness: ``rng`` may be a ``np.random.Generator``, an int seed, or ``None``. ``None`` draws a
fresh Generator seeded from NumPy's *global* state, so ``np.random.seed(0)`` beforehand makes
the draw reproducible (as ``torch.manual_seed`` does for torch).
"""

import math

import numpy as np

from .module import Parameter


def get_rng(rng=None):
    """A ``np.random.Generator`` from a Generator, an int seed, or ``None`` (global seed)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        rng = np.random.randint(2**31)  # legacy global state: np.random.seed() controls it
    return np.random.default_rng(rng)


def _array(tensor):
    return tensor.data if isinstance(tensor, Parameter) else tensor


def calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight shaped ``(out, in, *kernel)``, as torch computes them."""
    shape = _array(tensor).shape
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, "
                         f"got shape {shape}")
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def calculate_gain(nonlinearity, param=None):
    """The factor that keeps Var(activation) after the nonlinearity (torch's table)."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def _fan(tensor, mode):
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0, rng=None):
    """Fill with U(a, b)."""
    arr = _array(tensor)
    arr[...] = get_rng(rng).uniform(a, b, size=arr.shape)
    return tensor


def normal_(tensor, mean=0.0, std=1.0, rng=None):
    """Fill with N(mean, std²)."""
    arr = _array(tensor)
    arr[...] = get_rng(rng).normal(mean, std, size=arr.shape)
    return tensor


def zeros_(tensor):
    """Fill with 0."""
    _array(tensor)[...] = 0
    return tensor


def ones_(tensor):
    """Fill with 1."""
    _array(tensor)[...] = 1
    return tensor


def uniform_fan_in_(tensor, fan_in=None, rng=None):
    """U(-1/√fan_in, 1/√fan_in); ``fan_in`` defaults to the tensor's own (give it for a bias)."""
    fan_in = calculate_fan_in_and_fan_out(tensor)[0] if fan_in is None else fan_in
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return uniform_(tensor, -bound, bound, rng)


def lecun_uniform_(tensor, rng=None):
    """U(-√(3/fan_in), √(3/fan_in)): variance 1/fan_in (LeCun et al. 1998)."""
    bound = math.sqrt(3.0 / calculate_fan_in_and_fan_out(tensor)[0])
    return uniform_(tensor, -bound, bound, rng)


def lecun_normal_(tensor, rng=None):
    """Plain (not truncated) normal with variance 1/fan_in."""
    return normal_(tensor, 0.0, 1 / math.sqrt(calculate_fan_in_and_fan_out(tensor)[0]), rng)


def xavier_uniform_(tensor, gain=1.0, rng=None):
    """U(-b, b), b = gain·√(6/(fan_in + fan_out)) (Glorot and Bengio 2010)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, rng)


def xavier_normal_(tensor, gain=1.0, rng=None):
    """N(0, gain²·2/(fan_in + fan_out)) (Glorot and Bengio 2010)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    """He et al.; ``a`` is the leaky-ReLU slope (torch's default nonlinearity 'leaky_relu')."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode))
    return uniform_(tensor, -bound, bound, rng)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    """N(0, gain²/fan) (He et al. 2015); ``a`` is the leaky-ReLU slope."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std, rng)


def torch_default_(weight, bias=None, rng=None):
    """torch's default for Linear and Conv2d: weight and bias both U(-1/√fan_in, 1/√fan_in).

    torch spells the weight's draw ``kaiming_uniform_(a=√5)``, which is the same bound:
    gain √(2/(1+5)) times √(3/fan_in) = 1/√fan_in. The bias uses the weight's fan-in.
    """
    rng = get_rng(rng)
    kaiming_uniform_(weight, a=math.sqrt(5), rng=rng)
    if bias is not None:
        uniform_fan_in_(bias, fan_in=calculate_fan_in_and_fan_out(weight)[0], rng=rng)
    return weight
