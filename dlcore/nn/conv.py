"""2-D convolution (cross-correlation, as in every deep-learning library) by im2col + GEMM.

For input x (N, C, H, W), weight W (F, C, kh, kw), stride s and zero padding p::

    y[n, f, i, j] = b[f] + Σ_{c,u,v} W[f, c, u, v] · x_pad[n, c, s·i + u, s·j + v]
    OH = ⌊(H + 2p - kh) / s⌋ + 1,   OW likewise

im2col copies, for each kernel offset (u, v), the strided slice of x_pad that the offset sees
into one row block of a matrix ``cols`` of shape (C·kh·kw, N·OH·OW); the convolution is then
one matrix product ``y = W₂ cols`` with ``W₂ = W.reshape(F, C·kh·kw)``. Backward, with
``g = ∂L/∂y`` reshaped to (F, N·OH·OW)::

    ∂L/∂W₂   = g colsᵀ                     one GEMM, summed over batch and positions
    ∂L/∂b    = Σ_{n,i,j} g
    ∂L/∂cols = W₂ᵀ g                       one GEMM
    ∂L/∂x    = col2im(∂L/∂cols)            add each offset's block back where it came from

Layout: inside the layer we work channel-major, (C, N, H, W). The GEMM then yields
(F, N·OH·OW) directly and the NCHW result is a transposed *view*; a neighbour that kept our
layout (ReLU, pooling) hands its gradient back already channel-major, so no copy is made.
"""

import numpy as np

from . import init
from ._checks import (axis_size, float_dtype, float_input, pair, positive_int, same_dtype,
                      window_fits)
from .module import Module, Parameter


def im2col(xp, kernel, stride, out_hw, out=None):
    """Columns of the channel-major padded input ``xp`` (C, N, Hp, Wp).

    Returns an array (C, kh, kw, N, OH, OW): reshaped to (C·kh·kw, N·OH·OW) it is ``cols``.
    The loop runs over kernel offsets only; each step copies one strided view.
    """
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    c, n = xp.shape[:2]
    if out is None:
        out = np.empty((c, kh, kw, n, oh, ow), dtype=xp.dtype)
    for u in range(kh):
        for v in range(kw):
            out[:, u, v] = xp[:, :, u:u + sh * oh:sh, v:v + sw * ow:sw]
    return out


def col2im(dcols, padded_shape, stride):
    """Adjoint of im2col: sum each offset's block back onto a zero (C, N, Hp, Wp) array.

    Overlapping windows (stride < kernel) receive several contributions, hence ``+=``; slicing
    with a step writes in place, which is much faster than ``np.add.at``.
    """
    _, kh, kw, _, oh, ow = dcols.shape
    sh, sw = stride
    dxp = np.zeros(padded_shape, dtype=dcols.dtype)
    for u in range(kh):
        for v in range(kw):
            dxp[:, :, u:u + sh * oh:sh, v:v + sw * ow:sw] += dcols[:, u, v]
    return dxp


class Conv2d(Module):
    """``torch.nn.Conv2d`` without dilation; ``kernel_size``, ``stride`` and ``padding`` are
    ints or (height, width) pairs. Weights drawn as torch does; ``dtype`` and ``rng`` as for
    :class:`~dlcore.nn.Linear`.

    ``groups`` = G splits the channels into G independent convolutions (AlexNet's two GPUs,
    ResNeXt's cardinality): output channels ``[g·F/G, (g+1)·F/G)`` see only input channels
    ``[g·C/G, (g+1)·C/G)``, so the weight is (F, C/G, kh, kw) and the GEMM becomes G smaller
    GEMMs, one per group (a stacked ``matmul``).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 dtype=np.float32, rng=None, groups=1):
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels", "Conv2d")
        self.out_channels = positive_int(out_channels, "out_channels", "Conv2d")
        self.groups = positive_int(groups, "groups", "Conv2d")
        dtype = float_dtype(dtype, "Conv2d")
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if value % groups:
                raise ValueError(f"Conv2d: {name} ({value}) must be divisible by groups "
                                 f"({groups})")
        self.kernel_size = pair(kernel_size, "kernel_size", 1)
        self.stride = pair(stride, "stride", 1)
        self.padding = pair(padding, "padding", 0)
        self.weight = Parameter(np.empty((out_channels, in_channels // groups,
                                          *self.kernel_size), dtype))
        self.bias = Parameter(np.empty(out_channels, dtype=dtype)) if bias else None
        init.torch_default_(self.weight, self.bias, rng)
        # cols is the largest array of a CNN step: keep it between calls instead of having the
        # OS hand out (and zero) hundreds of fresh megabytes every batch
        self._cols = None

    def _grouped_weight(self):
        """The weight as G stacked matrices (G, F/G, C/G·kh·kw)."""
        g = self.groups
        return self.weight.data.reshape(g, self.out_channels // g, self._group_rows())

    def _group_rows(self):
        """Rows of cols per group, C/G·kh·kw (spelled out: reshape(-1) fails when N = 0)."""
        return self.in_channels // self.groups * self.kernel_size[0] * self.kernel_size[1]

    def forward(self, x):
        x = float_input(x, "Conv2d", 4, "(N, C, H, W)")
        axis_size(x, 1, self.in_channels, "input channels", "Conv2d")
        same_dtype(x, self.weight, "Conv2d")
        oh, ow = window_fits(x.shape, self.kernel_size, self.stride, self.padding, "Conv2d")
        n, c, h, w = x.shape
        (ph, pw), f, g = self.padding, self.out_channels, self.groups
        xp = x.transpose(1, 0, 2, 3)
        if ph or pw:
            xp = np.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
            xp[:, :, ph:ph + h, pw:pw + w] = x.transpose(1, 0, 2, 3)
        cols = im2col(xp, self.kernel_size, self.stride, (oh, ow), out=self._workspace(x, oh, ow))
        m = n * oh * ow
        y = np.matmul(self._grouped_weight(), cols.reshape(g, self._group_rows(), m)).reshape(f, m)
        if self.bias is not None:
            y += self.bias.data[:, None]
        self.save_for_backward(cols, xp.shape, x.shape)
        return y.reshape(f, n, oh, ow).transpose(1, 0, 2, 3)

    def _workspace(self, x, oh, ow):
        shape = (self.in_channels, *self.kernel_size, x.shape[0], oh, ow)
        if self._cols is None or self._cols.shape != shape or self._cols.dtype != x.dtype:
            self._cols = np.empty(shape, dtype=x.dtype)
        return self._cols

    def backward(self, grad_out):
        cols, padded_shape, (n, c, h, w) = self.saved_tensors
        (ph, pw), f, groups = self.padding, self.out_channels, self.groups
        m = grad_out.shape[0] * grad_out.shape[2] * grad_out.shape[3]
        g = grad_out.transpose(1, 0, 2, 3).reshape(groups, f // groups, m)
        cols3 = cols.reshape(groups, self._group_rows(), m)
        if self.bias is not None:
            self.bias.grad += g.sum(axis=2).reshape(f)
        self.weight.grad += np.matmul(g, cols3.transpose(0, 2, 1)).reshape(self.weight.shape)
        if not self.needs_input_grad:
            return None
        # cols has served its purpose: the column gradient overwrites it
        np.matmul(self._grouped_weight().transpose(0, 2, 1), g, out=cols3)
        dxp = col2im(cols, padded_shape, self.stride)
        return dxp[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)

    def extra_repr(self):
        groups = f", groups={self.groups}" if self.groups != 1 else ""
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}"
                f"{groups}")
