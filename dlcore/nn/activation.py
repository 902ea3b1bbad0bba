"""Element-wise nonlinearities and (log-)softmax.

Each backward is ``∂L/∂x = g ⊙ f'(x)``, with ``f'`` written through what forward kept:

==============  ======================================  ========================================
layer           forward ``y = f(x)``                    derivative ``f'(x)``
==============  ======================================  ========================================
Sigmoid         1 / (1 + e^{-x})                        y (1 - y)
Tanh            tanh x                                  1 - y²
ReLU            max(x, 0)                               1 if x > 0 else 0
LeakyReLU       x if x > 0 else a x                     1 if x > 0 else a
ELU             x if x > 0 else α (e^x - 1)             1 if x > 0 else y + α   (= α e^x)
==============  ======================================  ========================================

Softmax couples the entries along ``dim``: ``y_i = e^{x_i} / Σ_j e^{x_j}`` has Jacobian
``∂y_i/∂x_j = y_i (δ_ij - y_j)``, so ``∂L/∂x = y ⊙ (g - Σ_j g_j y_j)``.
LogSoftmax ``y_i = x_i - log Σ_j e^{x_j}`` gives ``∂L/∂x = g - softmax(x) Σ_j g_j``.
"""

import numpy as np

from ._checks import float_input
from .module import Module


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e^{-x}), element-wise; computed without overflow for any x."""

    def forward(self, x):
        x = float_input(x, "Sigmoid")
        # e^{-|x|} never overflows; the two branches are the same function rearranged
        e = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        self.save_for_backward(y)
        return y

    def backward(self, grad_out):
        (y,) = self.saved_tensors
        return grad_out * y * (1 - y)


class Tanh(Module):
    """tanh(x), element-wise."""

    def forward(self, x):
        y = np.tanh(float_input(x, "Tanh"))
        self.save_for_backward(y)
        return y

    def backward(self, grad_out):
        (y,) = self.saved_tensors
        return grad_out * (1 - y * y)


class ReLU(Module):
    """max(x, 0), element-wise; the derivative at 0 is taken as 0, as in torch."""

    def forward(self, x):
        y = np.maximum(float_input(x, "ReLU"), 0)
        self.save_for_backward(y)
        return y

    def backward(self, grad_out):
        (y,) = self.saved_tensors
        # y > 0 exactly where x > 0; at x = 0 the subgradient 0 is taken, as torch does
        return grad_out * (y > 0)


class LeakyReLU(Module):
    """x for x > 0, ``negative_slope``·x otherwise, element-wise."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        x = float_input(x, "LeakyReLU")
        self.save_for_backward(x)
        return np.where(x > 0, x, self.negative_slope * x)

    def backward(self, grad_out):
        (x,) = self.saved_tensors
        return np.where(x > 0, grad_out, self.negative_slope * grad_out)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x for x > 0, α(e^x − 1) otherwise, element-wise."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        x = float_input(x, "ELU")
        # expm1 is accurate near 0; min(x, 0) keeps the unused branch from overflowing
        y = np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0)))
        self.save_for_backward(x, y)
        return y

    def backward(self, grad_out):
        x, y = self.saved_tensors
        return np.where(x > 0, grad_out, grad_out * (y + self.alpha))

    def extra_repr(self):
        return f"alpha={self.alpha}"


def _check_dim(x, dim, layer):
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"{layer}(dim={dim}) is out of range for a {x.ndim}-D input of "
                         f"shape {x.shape}: expected dim in [{-x.ndim}, {x.ndim - 1}]")


def log_softmax(x, dim):
    """``x - log Σ exp x`` along ``dim``, shifting by the max so that exp cannot overflow."""
    if x.size == 0:  # an empty batch: nothing to normalise (and no log of an empty sum)
        return x.copy()
    shifted = x - x.max(axis=dim, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


class Softmax(Module):
    """e^{x_i} / Σ_j e^{x_j} along ``dim`` (shifted by the maximum: no overflow)."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        x = float_input(x, "Softmax")
        _check_dim(x, self.dim, "Softmax")
        e = np.exp(x - x.max(axis=self.dim, keepdims=True, initial=-np.inf))
        y = e / e.sum(axis=self.dim, keepdims=True)
        self.save_for_backward(y)
        return y

    def backward(self, grad_out):
        (y,) = self.saved_tensors
        return y * (grad_out - (grad_out * y).sum(axis=self.dim, keepdims=True))

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x_i − log Σ_j e^{x_j} along ``dim``; pair it with NLLLoss."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        x = float_input(x, "LogSoftmax")
        _check_dim(x, self.dim, "LogSoftmax")
        y = log_softmax(x, self.dim)
        self.save_for_backward(y)
        return y

    def backward(self, grad_out):
        (y,) = self.saved_tensors
        return grad_out - np.exp(y) * grad_out.sum(axis=self.dim, keepdims=True)

    def extra_repr(self):
        return f"dim={self.dim}"
