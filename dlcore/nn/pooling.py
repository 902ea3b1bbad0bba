"""Max and average pooling over (kh, kw) windows with a stride.

Both loop over the kh·kw kernel offsets; offset (u, v) sees the strided view
``x_pad[:, :, u::s, v::s]`` (cropped to OH×OW), one element of every window at once.

MaxPool2d::

    y[n, c, i, j] = max_{u,v} x_pad[n, c, s·i + u, s·j + v]        (padding is -inf)
    ∂L/∂x routes g[n, c, i, j] to the arg-max of its window, only to the *first* maximum in
    row-major window order when there are ties (as torch does; ties are common after a ReLU).
    Forward records the arg-max offset, so backward needs neither x nor y.
    The common 2×2, stride 2 case takes a faster route: two pairwise maxima (see _forward_2x2).

AvgPool2d (count_include_pad=True, torch's default: padded zeros count in the mean)::

    y[n, c, i, j] = 1/(kh·kw) Σ_{u,v} x_pad[n, c, s·i + u, s·j + v]
    ∂L/∂x_pad[n, c, s·i + u, s·j + v] += g[n, c, i, j] / (kh·kw)
"""

import numpy as np

from ._checks import float_input, pair, window_fits
from .module import Module


class _Pool2d(Module):
    name = "Pool2d"

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size", 1)
        self.stride = pair(kernel_size if stride is None else stride, "stride", 1)
        self.padding = pair(padding, "padding", 0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{self.name}: padding {self.padding} should be at most half of "
                             f"kernel_size {self.kernel_size}")
        # windows that tile the input without overlap receive disjoint gradient blocks
        self.overlapping = any(s < k for s, k in zip(self.stride, self.kernel_size))

    def _pad(self, x, value):
        (ph, pw), (n, c, h, w) = self.padding, x.shape
        if not (ph or pw):
            return x
        xp = np.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
        xp[:, :, ph:ph + h, pw:pw + w] = x
        return xp

    def _tiles(self, padded_shape):
        """Do the windows cover the input exactly once (then no zero-fill is needed)?"""
        return (self.stride == self.kernel_size and self.padding == (0, 0)
                and padded_shape[2] % self.kernel_size[0] == 0
                and padded_shape[3] % self.kernel_size[1] == 0)

    def _unpad(self, dxp):
        (ph, pw), (h, w) = self.padding, dxp.shape[2:]
        return dxp[:, :, ph:h - ph, pw:w - pw]

    def _windows(self, out_hw):
        """One index per kernel offset: the strided view of x_pad that the offset sees."""
        (kh, kw), (sh, sw), (oh, ow) = self.kernel_size, self.stride, out_hw
        for u in range(kh):
            for v in range(kw):
                yield (slice(None), slice(None), slice(u, u + sh * oh, sh),
                       slice(v, v + sw * ow, sw))

    def _check(self, x):
        x = float_input(x, self.name, 4, "(N, C, H, W)")
        return x, window_fits(x.shape, self.kernel_size, self.stride, self.padding, self.name)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """The maximum of each ``kernel_size`` window (stride defaults to the kernel size,
    padding counts as −∞), as ``torch.nn.MaxPool2d``; ties go to the first maximum."""

    name = "MaxPool2d"

    def forward(self, x):
        x, out_hw = self._check(x)
        if self.kernel_size == self.stride == (2, 2) and self.padding == (0, 0):
            return self._forward_2x2(x, out_hw)
        xp = self._pad(x, -np.inf)
        views = [xp[w] for w in self._windows(out_hw)]
        y = views[0].copy()
        # argmax: which kernel offset holds each window's maximum (all backward needs)
        argmax = np.zeros(y.shape, dtype=np.min_scalar_type(len(views) - 1))
        for k, view in enumerate(views[1:], start=1):
            larger = view > y  # strictly: on a tie the earlier offset keeps it, as in torch
            np.maximum(y, view, out=y)
            # offsets come in increasing order, so "the last k that was larger" is a running
            # maximum of k·larger (much faster than the masked write argmax[larger] = k)
            np.maximum(argmax, larger * argmax.dtype.type(k), out=argmax)
        self.save_for_backward(argmax, xp.shape, out_hw)
        return y

    def backward(self, grad_out):
        if self.kernel_size == self.stride == (2, 2) and self.padding == (0, 0):
            return self._backward_2x2(grad_out, *self.saved_tensors)
        argmax, padded_shape, out_hw = self.saved_tensors
        fill = np.empty if self._tiles(padded_shape) else np.zeros
        dxp = fill(padded_shape, dtype=grad_out.dtype)
        for k, w in enumerate(self._windows(out_hw)):
            if self.overlapping:
                dxp[w] += grad_out * (argmax == k)
            else:
                np.multiply(grad_out, argmax == k, out=dxp[w])
        return self._unpad(dxp)

    def _forward_2x2(self, x, out_hw):
        """A window ``[[a, b], [c, d]]`` is reduced pairwise, along rows first::

            y = max(max(a, b), max(c, d))
            go_right = (b > a, d > c),   go_down = max(c, d) > max(a, b)

        Strict comparisons keep the first maximum in row-major order (a, b, c, d), as torch.
        Two passes over x (each a single strided loop) instead of four views and an arg-max
        code; the two boolean masks are all backward needs.
        """
        (oh, ow), h, w = out_hw, *x.shape[2:]
        x = x[:, :, :2 * oh, :2 * ow]  # an odd last row or column belongs to no window
        left, right = x[..., 0::2], x[..., 1::2]  # (N, C, 2·OH, OW)
        go_right = right > left
        row_max = np.maximum(left, right)
        upper, lower = row_max[:, :, 0::2], row_max[:, :, 1::2]  # (N, C, OH, OW)
        go_down = lower > upper
        self.save_for_backward(go_right, go_down, (h, w))
        return np.maximum(upper, lower)

    def _backward_2x2(self, grad_out, go_right, go_down, in_hw):
        """Send g to the winning row of its window, then to the winning column of that row.

        ``g·mask`` and ``g - g·mask`` are exactly g or 0, so each quarter of dx is written once.
        """
        (n, c, oh, ow), (h, w) = grad_out.shape, in_hw
        rows = np.empty((n, c, 2 * oh, ow), dtype=grad_out.dtype)
        np.multiply(grad_out, go_down, out=rows[:, :, 1::2])
        np.subtract(grad_out, rows[:, :, 1::2], out=rows[:, :, 0::2])
        # np.empty is enough when the windows tile the input; an odd border gets no gradient
        dx = (np.empty if (h, w) == (2 * oh, 2 * ow) else np.zeros)((n, c, h, w), grad_out.dtype)
        tiles = dx[:, :, :2 * oh, :2 * ow]
        np.multiply(rows, go_right, out=tiles[..., 1::2])
        np.subtract(rows, tiles[..., 1::2], out=tiles[..., 0::2])
        return dx


class AvgPool2d(_Pool2d):
    """The mean of each ``kernel_size`` window (padded zeros count, as torch's default
    ``count_include_pad=True``)."""

    name = "AvgPool2d"

    def forward(self, x):
        x, out_hw = self._check(x)
        xp = self._pad(x, 0)
        first, *rest = (xp[w] for w in self._windows(out_hw))
        y = first.copy()
        for view in rest:
            y += view
        y /= self.kernel_size[0] * self.kernel_size[1]
        self.save_for_backward(xp.shape, out_hw)
        return y

    def backward(self, grad_out):
        padded_shape, out_hw = self.saved_tensors
        share = grad_out / (self.kernel_size[0] * self.kernel_size[1])
        dxp = np.zeros(padded_shape, dtype=grad_out.dtype)
        for w in self._windows(out_hw):
            dxp[w] += share
        return self._unpad(dxp)
