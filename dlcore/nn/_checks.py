"""Input validation shared by the layers.

Every check names the layer, the expected and the received shape or value, so a wrong input
fails at the layer that received it rather than deep inside a NumPy broadcast.
"""

import math

import numpy as np


def float_input(x, layer, ndim=None, layout=None):
    """Return ``x`` as a floating-point array, checking its number of dimensions.

    ``ndim`` is an int or a tuple of allowed ints; ``layout`` spells the expected axes,
    e.g. ``"(N, C, H, W)"``, for the error message.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{layer} expects a floating-point array, got dtype {x.dtype}")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if allowed is not None and x.ndim not in allowed:
        dims = " or ".join(f"{d}-D" for d in allowed)
        where = f" {layout}" if layout else ""
        raise ValueError(f"{layer} expects a {dims} input{where}, "
                         f"got a {x.ndim}-D input of shape {x.shape}")
    return x


def float_dtype(dtype, owner):
    """A ``dtype`` argument (a NumPy dtype, its type or name) as a floating-point ``np.dtype``.

    Anything else is a TypeError naming what came: integer weights would be drawn as floats
    and cast to all zeros, and no gradient step could update them; ``None`` would mean float64
    to NumPy but float32 to torch.
    """
    try:
        resolved = None if dtype is None else np.dtype(dtype)
    except (TypeError, ValueError):
        resolved = None
    if resolved is None or not np.issubdtype(resolved, np.floating):
        shown = repr(dtype) if resolved is None else resolved
        raise TypeError(f"{owner}: dtype must be a floating-point dtype such as float32 or "
                        f"float64, got {shown}")
    return resolved


def same_dtype(x, param, layer):
    """Refuse to mix precisions: NumPy would silently promote float32 to float64."""
    if x.dtype != param.data.dtype:
        raise TypeError(f"{layer} has {param.data.dtype} parameters but got a {x.dtype} input; "
                        f"build the layer with dtype={x.dtype} or cast the input")


def axis_size(x, axis, expected, what, layer):
    """Check ``x.shape[axis] == expected``; ``what`` names the axis, e.g. ``"channels"``."""
    if x.shape[axis] != expected:
        raise ValueError(f"{layer} expects {expected} {what} (dim {axis}), "
                         f"got {x.shape[axis]} in an input of shape {x.shape}")


def pair(value, name, minimum):
    """Turn an int or a pair of ints (torch's convention for kernel_size etc.) into a pair."""
    if isinstance(value, (int, np.integer)):
        value = (value, value)
    try:
        value = tuple(value)
    except TypeError:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    if len(value) != 2 or not all(isinstance(v, (int, np.integer)) for v in value):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value[0]), int(value[1])


def window_fits(shape, kernel, stride, padding, layer):
    """Output size of a sliding window over the last two axes; refuse an empty output."""
    (h, w), (kh, kw), (sh, sw), (ph, pw) = shape[-2:], kernel, stride, padding
    if h + 2 * ph < kh or w + 2 * pw < kw:
        raise ValueError(f"{layer}: kernel size ({kh}, {kw}) is larger than the padded input "
                         f"({h + 2 * ph}, {w + 2 * pw}) (input {h}x{w}, padding ({ph}, {pw}))")
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


def positive_int(value, name, layer, minimum=1):
    """A constructor's size argument: an int (not a float, not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{layer}: {name} must be an int, got {value!r} "
                        f"({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{layer}: {name} must be >= {minimum}, got {value}")
    return int(value)


def in_range(value, name, layer, low, high=None, low_open=False, high_open=False):
    """A hyper-parameter within [low, high] (``*_open``: the bound itself is excluded); with no
    ``high``, within [low, ∞), which excludes infinity as well as NaN."""
    original = value
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{layer}: {name} must be a number, got {value!r}") from None
    too_low = value <= low if low_open else value < low
    if high is None:
        too_high = value == math.inf
    else:
        too_high = value >= high if high_open else value > high
    if too_low or too_high or value != value:  # value != value: NaN
        interval = ("(" if low_open else "[") + f"{low}, " + \
            (f"{high}" + (")" if high_open else "]") if high is not None else "∞)")
        raise ValueError(f"{layer}: {name} must be in {interval}, got {value}")
    return original
