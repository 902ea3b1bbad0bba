"""Convolution and pooling written out: the reference functions of Chapter 6.

NumPy only, on plain 1-D and 2-D arrays (a 2-D function also takes a stack ``(..., H, W)``),
so every formula of the chapter is one short function that a test can pin:

- sizes: :func:`conv_output_size` ``(W - F + 2P)/S + 1``, refusing a stride that does not
  tile the input; :func:`same_padding` ``(F - 1)/2``; :func:`receptive_field` and
  :func:`receptive_cone` for stacked layers;
- 1-D: :func:`conv1d` ``(A∗B)(x) = Σ_i A(i) B(x − i)`` and :func:`correlate1d`, with
  ``np.convolve`` / ``np.correlate``'s modes;
- 2-D: :func:`correlate2d`, what ``torch.nn.Conv2d`` and :class:`dlcore.nn.Conv2d` compute
  (no kernel flip), :func:`convolve2d`, the convolution of mathematics (kernel flipped), and
  :func:`correlate2d_grads`, their backward pass;
- :func:`conv_matrix`: the same linear map as one explicit (doubly block Toeplitz) matrix;
- :func:`pool2d`: max, average, L2-norm and distance-weighted pooling, with the weights of the
  last from :func:`pooling_weights`.

Output sizes follow the lecture's formula strictly: where ``(W - F + 2P)/S + 1`` is not an
integer these functions raise a ``ValueError``, whereas torch silently drops the last rows and
columns (it floors). Windows are strided views (``sliding_window_view``), so nothing loops over
pixels; :func:`correlate2d_grads` loops over kernel offsets only.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["conv_output_size", "same_padding", "conv1d", "correlate1d", "correlate2d",
           "convolve2d", "correlate2d_grads", "conv_matrix", "receptive_field",
           "receptive_cone", "pooling_weights", "pool2d"]

POOLING_KINDS = ("max", "avg", "l2", "weighted")


def _int(value, name, minimum, where):
    """An int (not a bool, not a float) of at least ``minimum``, or a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{where}: {name} must be an int, got {value!r} "
                        f"({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value}")
    return int(value)


def _pair(value, name, minimum, where):
    """An int or a (height, width) pair of ints, as torch's kernel_size and stride."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{where}: {name} must be an int or a pair of ints, "
                             f"got {value!r}")
        return tuple(_int(v, name, minimum, where) for v in value)
    v = _int(value, name, minimum, where)
    return v, v


def conv_output_size(W, F, P=0, S=1):
    """Output width of a filter of width ``F`` sliding with stride ``S`` over an input of
    width ``W`` zero-padded by ``P`` on each side: ``(W - F + 2P)/S + 1``.

    Raises ``ValueError`` when the filter is wider than the padded input or when the formula
    does not give an integer (the last window would stick out of the input); the message names
    the four numbers and the strides that would fit. ``TypeError`` for a non-integer argument.
    """
    where = "conv_output_size"
    W, F = _int(W, "W (input size)", 1, where), _int(F, "F (filter size)", 1, where)
    P, S = _int(P, "P (padding)", 0, where), _int(S, "S (stride)", 1, where)
    span = W - F + 2 * P
    if span < 0:
        raise ValueError(f"{where}: the filter (F = {F}) is larger than the padded input "
                         f"(W + 2P = {W} + 2·{P} = {W + 2 * P})")
    if span % S:
        fits = [s for s in range(1, span + 1) if span % s == 0]
        raise ValueError(
            f"{where}: (W - F + 2P)/S + 1 = ({W} - {F} + 2·{P})/{S} + 1 = "
            f"{span / S + 1:.4g} is not an integer: at stride {S} the windows of a {F}-wide "
            f"filter do not end at the edge of a {W}-wide input padded by {P}; strides "
            f"that fit: "
            f"{', '.join(map(str, fits))}")
    return span // S + 1


def same_padding(F):
    """The zero padding ``P = (F - 1)/2`` that keeps the size at stride 1 (``W_out = W``).

    Only an odd filter width has one; an even ``F`` raises ``ValueError``.
    """
    F = _int(F, "F (filter size)", 1, "same_padding")
    if F % 2 == 0:
        raise ValueError(f"same_padding: (F - 1)/2 = {(F - 1) / 2:g} is not an integer for "
                         f"the even filter size F = {F}: no symmetric padding keeps the size")
    return (F - 1) // 2


def _vector(a, name, where):
    a = np.asarray(a)
    if a.ndim != 1 or a.size == 0 or a.dtype.kind not in "biuf":
        raise ValueError(f"{where}: {name} must be a non-empty 1-D array of numbers, got "
                         f"shape {a.shape} and dtype {a.dtype}")
    return a


def _mode_slice(full, n, m, mode, where):
    """``np.convolve``'s modes, as slices of the full result of lengths ``n >= m``."""
    if mode == "full":
        return full
    if mode == "same":
        start = (m - 1) // 2
        return full[start:start + n]
    if mode == "valid":
        return full[m - 1:n]
    raise ValueError(f"{where}: mode must be 'full', 'same' or 'valid', got {mode!r}")


def conv1d(a, b, mode="full"):
    """The convolution ``(A∗B)(x) = Σ_i A(i) B(x − i)`` of two 1-D arrays, as ``np.convolve``.

    The formula evaluated as written: an index grid ``x − i`` picks ``B(x − i)`` for every
    output ``x`` and term ``i`` at once (terms outside ``B`` count as zero). ``mode``:
    ``"full"`` (every ``x`` with a non-zero term, length N + M − 1), ``"same"`` (length
    max(N, M), centred) or ``"valid"`` (only full overlaps).
    """
    a, b = _vector(a, "a", "conv1d"), _vector(b, "b", "conv1d")
    if len(b) > len(a):  # A∗B = B∗A; np.convolve's modes are defined with the longer first
        a, b = b, a
    n, m = len(a), len(b)
    x = np.arange(n + m - 1)[:, None]
    i = np.arange(n)[None, :]
    inside = (x - i >= 0) & (x - i < m)
    terms = np.where(inside, a[i] * b[np.clip(x - i, 0, m - 1)], 0)
    return _mode_slice(terms.sum(axis=1), n, m, mode, "conv1d")


def correlate1d(a, v, mode="valid"):
    """The cross-correlation ``c(k) = Σ_n a(n + k) v(n)`` of two 1-D arrays, as
    ``np.correlate`` (whose default mode is ``"valid"``).

    It is the convolution with ``v`` reversed: no flip of the kernel. When ``v`` is longer
    than ``a``, NumPy defines the result as ``correlate(v, a)`` reversed; so does this.
    """
    a, v = _vector(a, "a", "correlate1d"), _vector(v, "v", "correlate1d")
    if len(v) > len(a):
        return correlate1d(v, a, mode)[::-1]
    return conv1d(a, v[::-1], mode)


def _image_and_kernel(x, kernel, where):
    x, kernel = np.asarray(x), np.asarray(kernel)
    if x.ndim < 2 or x.dtype.kind not in "biuf":
        raise ValueError(f"{where}: x must be an array (..., H, W) of numbers, got shape "
                         f"{x.shape} and dtype {x.dtype}")
    if kernel.ndim != 2 or kernel.dtype.kind not in "biuf":
        raise ValueError(f"{where}: kernel must be a 2-D array (kh, kw) of numbers, got "
                         f"shape {kernel.shape} and dtype {kernel.dtype}")
    return x, kernel


def _out_hw(shape, kernel_hw, stride, padding):
    return tuple(conv_output_size(n, k, p, s)
                 for n, k, p, s in zip(shape[-2:], kernel_hw, padding, stride))


def _pad(x, padding, value=0):
    (ph, pw) = padding
    if not (ph or pw):
        return x
    widths = [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)]
    return np.pad(x, widths, constant_values=value)


def _windows(xp, kernel_hw, stride, out_hw):
    """The (..., OH, OW, kh, kw) array of windows: a strided view, no copy."""
    view = sliding_window_view(xp, kernel_hw, axis=(-2, -1))
    return view[..., ::stride[0], ::stride[1], :, :][..., :out_hw[0], :out_hw[1], :, :]


def correlate2d(x, kernel, stride=1, padding=0):
    """The 2-D cross-correlation of deep learning (what ``torch.nn.Conv2d`` computes)::

        y[i, j] = Σ_{u,v} kernel[u, v] · x_pad[S·i + u, S·j + v]

    ``x`` is (H, W) or a stack (..., H, W), ``kernel`` (kh, kw); ``stride`` and ``padding``
    (zeros) are ints or (height, width) pairs. Output (..., OH, OW) with OH =
    ``conv_output_size(H, kh, P, S)``, which raises where the stride does not tile the input.
    """
    x, kernel = _image_and_kernel(x, kernel, "correlate2d")
    stride = _pair(stride, "stride", 1, "correlate2d")
    padding = _pair(padding, "padding", 0, "correlate2d")
    out_hw = _out_hw(x.shape, kernel.shape, stride, padding)
    windows = _windows(_pad(x, padding), kernel.shape, stride, out_hw)
    return np.einsum("...ijuv,uv->...ij", windows, kernel)


def convolve2d(x, kernel, stride=1, padding=0):
    """The 2-D convolution of mathematics, ``y[i, j] = Σ_{u,v} K[u, v] · x[i − u, j − v]``
    over the positions where the kernel fits: :func:`correlate2d` with the kernel flipped in
    both axes (``kernel[::-1, ::-1]``). Arguments and output as for :func:`correlate2d`.
    """
    kernel = np.asarray(kernel)
    if kernel.ndim != 2:
        raise ValueError(f"convolve2d: kernel must be a 2-D array (kh, kw), got shape "
                         f"{kernel.shape}")
    return correlate2d(x, kernel[::-1, ::-1], stride, padding)


def correlate2d_grads(x, kernel, grad_out, stride=1, padding=0):
    """Backward pass of :func:`correlate2d`: ``(∂L/∂x, ∂L/∂kernel)`` given ``∂L/∂y``.

    The kernel is shared by every output position, so its gradient is a *sum over
    positions* (and over a leading stack of images)::

        ∂L/∂kernel[u, v] = Σ_{i,j} g[i, j] · x_pad[S·i + u, S·j + v]
        ∂L/∂x_pad[S·i + u, S·j + v] += g[i, j] · kernel[u, v]

    ``grad_out`` has the shape of the output, (..., OH, OW). The loop runs over the kh·kw
    kernel offsets; each step is one strided slice of the whole array.
    """
    x, kernel = _image_and_kernel(x, kernel, "correlate2d_grads")
    stride = _pair(stride, "stride", 1, "correlate2d_grads")
    padding = _pair(padding, "padding", 0, "correlate2d_grads")
    out_hw = _out_hw(x.shape, kernel.shape, stride, padding)
    g = np.asarray(grad_out)
    if g.shape != x.shape[:-2] + out_hw:
        raise ValueError(f"correlate2d_grads: grad_out must have the output's shape "
                         f"{x.shape[:-2] + out_hw}, got {g.shape}")
    xp = _pad(x, padding)
    windows = _windows(xp, kernel.shape, stride, out_hw)
    lead = "".join(chr(ord("a") + k) for k in range(x.ndim - 2))
    grad_kernel = np.einsum(f"{lead}ijuv,{lead}ij->uv", windows, g)
    grad_xp = np.zeros(xp.shape, dtype=np.result_type(g, kernel, float))
    (sh, sw), (oh, ow), (ph, pw) = stride, out_hw, padding
    for u in range(kernel.shape[0]):
        for v in range(kernel.shape[1]):
            grad_xp[..., u:u + sh * oh:sh, v:v + sw * ow:sw] += g * kernel[u, v]
    h, w = x.shape[-2:]
    return grad_xp[..., ph:ph + h, pw:pw + w], grad_kernel


def conv_matrix(kernel, input_shape, stride=1, padding=0):
    """The matrix ``T`` of :func:`correlate2d`: ``T @ x.ravel() == correlate2d(x, kernel,
    stride, padding).ravel()`` for every image ``x`` of shape ``input_shape`` (H, W).

    Row ``i·OW + j`` holds the kernel at the input pixels that output ``(i, j)`` sees, and
    zeros elsewhere (taps that fall on the zero padding are dropped), so ``T`` is
    (OH·OW) × (H·W) with at most kh·kw non-zeros a row. At stride 1 it is *doubly block
    Toeplitz*: cut into OH × H blocks of size OW × W, block ``(i, r)`` depends only on
    ``r − i`` and is itself a Toeplitz matrix. For a true convolution pass the flipped kernel.
    """
    kernel = np.asarray(kernel)
    if kernel.ndim != 2 or kernel.dtype.kind not in "biuf":
        raise ValueError(f"conv_matrix: kernel must be a 2-D array (kh, kw) of numbers, got "
                         f"shape {kernel.shape}")
    if len(input_shape) != 2:
        raise ValueError(f"conv_matrix: input_shape must be (H, W), got {input_shape!r}")
    h, w = (_int(n, "input_shape", 1, "conv_matrix") for n in input_shape)
    stride = _pair(stride, "stride", 1, "conv_matrix")
    padding = _pair(padding, "padding", 0, "conv_matrix")
    (oh, ow), (kh, kw) = _out_hw((h, w), kernel.shape, stride, padding), kernel.shape
    i, j, u, v = np.meshgrid(np.arange(oh), np.arange(ow), np.arange(kh), np.arange(kw),
                             indexing="ij")
    r, c = stride[0] * i + u - padding[0], stride[1] * j + v - padding[1]
    inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
    T = np.zeros((oh * ow, h * w), dtype=np.result_type(kernel, float))
    # one row's taps land on distinct pixels, so a plain assignment never collides
    T[(i * ow + j)[inside], (r * w + c)[inside]] = kernel[u[inside], v[inside]]
    return T


def _layers(kernel_sizes, strides, paddings, where):
    n = len(kernel_sizes)
    strides = [1] * n if strides is None else list(strides)
    paddings = [0] * n if paddings is None else list(paddings)
    if not n or len(strides) != n or len(paddings) != n:
        raise ValueError(f"{where}: give one stride and padding per layer: {n} kernel "
                         f"sizes, {len(strides)} strides, {len(paddings)} paddings")
    return [(_int(F, "kernel size", 1, where), _int(S, "stride", 1, where),
             _int(P, "padding", 0, where)) for F, S, P in zip(kernel_sizes, strides, paddings)]


def receptive_field(kernel_sizes, strides=None):
    """Width of the input region one unit of the last layer sees through a stack of
    layers (convolutions or poolings) of the given kernel sizes and strides (default 1)::

        r = 1 + Σ_l (F_l − 1) · Π_{m<l} S_m

    Three 3-wide layers of stride 1 see 7 inputs; each layer's stride multiplies how far the
    layers above it reach.
    """
    layers = _layers(kernel_sizes, strides, None, "receptive_field")
    r, jump = 1, 1
    for F, S, _ in layers:
        r += (F - 1) * jump
        jump *= S
    return r


def receptive_cone(n_inputs, kernel_sizes, index, strides=None, paddings=None):
    """Which units of every layer one unit at the top depends on, in a stack of 1-D layers.

    Returns a list of boolean masks, from the input (length ``n_inputs``) to the top layer
    (where only ``index`` is set); layer sizes follow :func:`conv_output_size`. Unit ``i`` of
    a layer reads units ``S·i + u − P`` (u < F) of the layer below; padding units are
    dropped, so at a border the cone is narrower than :func:`receptive_field`.
    """
    layers = _layers(kernel_sizes, strides, paddings, "receptive_cone")
    sizes = [_int(n_inputs, "n_inputs", 1, "receptive_cone")]
    for F, S, P in layers:
        sizes.append(conv_output_size(sizes[-1], F, P, S))
    index = _int(index, "index", 0, "receptive_cone")
    if index >= sizes[-1]:
        raise ValueError(f"receptive_cone: the top layer has {sizes[-1]} units, got index "
                         f"{index}")
    masks = [np.zeros(sizes[-1], dtype=bool)]
    masks[0][index] = True
    for (F, S, P), below in zip(reversed(layers), reversed(sizes[:-1])):
        reads = S * np.flatnonzero(masks[0])[:, None] + np.arange(F)[None, :] - P
        mask = np.zeros(below, dtype=bool)
        mask[reads[(reads >= 0) & (reads < below)]] = True
        masks.insert(0, mask)
    return masks


def pooling_weights(size, sigma=1.0):
    """The weights of distance-weighted pooling over a ``size`` window (int or pair).

    Each position gets ``exp(−d² / (2σ²))``, with d its distance from the window's centre
    (which lies between pixels for an even size), normalised to sum to 1: the centre counts
    most, and ``sigma → ∞`` gives average pooling. A 2×2 window is uniform whatever ``sigma``.
    """
    kh, kw = _pair(size, "size", 1, "pooling_weights")
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"pooling_weights: sigma must be a positive number, got {sigma!r}")
    du = np.arange(kh) - (kh - 1) / 2
    dv = np.arange(kw) - (kw - 1) / 2
    w = np.exp(-(du[:, None] ** 2 + dv[None, :] ** 2) / (2 * sigma ** 2))
    return w / w.sum()


def pool2d(x, size, stride=None, kind="max", sigma=1.0):
    """Pool each ``size`` window (int or pair) of ``x`` (H, W) or (..., H, W) into one number.

    ``stride`` defaults to ``size`` (windows that tile the input); the output size is
    ``conv_output_size(H, size, 0, stride)``, which raises where the stride does not tile the
    input. ``kind``:

    - ``"max"``: the largest value of the window;
    - ``"avg"``: the mean;
    - ``"l2"``: the L2 norm ``sqrt(Σ x²)`` (``torch.nn.functional.lp_pool2d`` with p = 2);
    - ``"weighted"``: ``Σ w[u, v] · x[u, v]`` with the distance weights of
      :func:`pooling_weights` (``sigma``): a mean that favours the window's centre.
    """
    x = np.asarray(x)
    if x.ndim < 2 or x.dtype.kind not in "biuf":
        raise ValueError(f"pool2d: x must be an array (..., H, W) of numbers, got shape "
                         f"{x.shape} and dtype {x.dtype}")
    if kind not in POOLING_KINDS:
        raise ValueError(f"pool2d: kind must be one of {', '.join(map(repr, POOLING_KINDS))},"
                         f" got {kind!r}")
    size = _pair(size, "size", 1, "pool2d")
    stride = size if stride is None else _pair(stride, "stride", 1, "pool2d")
    out_hw = _out_hw(x.shape, size, stride, (0, 0))
    windows = _windows(x, size, stride, out_hw)
    if kind == "max":
        return windows.max(axis=(-2, -1))
    if kind == "avg":
        return windows.mean(axis=(-2, -1))
    if kind == "l2":
        return np.sqrt(np.einsum("...uv,...uv->...", windows, windows, dtype=float))
    return np.einsum("...uv,uv->...", windows, pooling_weights(size, sigma))
