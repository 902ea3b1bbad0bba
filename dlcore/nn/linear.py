"""Linear (fully connected) layer.

Forward, for a batch ``x`` of shape (N, in) and ``W`` of shape (out, in)::

    y = x Wᵀ + b                                  (N, out)

Backward, given ``g = ∂L/∂y`` (N, out)::

    ∂L/∂x = g W                                   (N, in)
    ∂L/∂W = gᵀ x                                  (out, in)   summed over the batch by the GEMM
    ∂L/∂b = Σ_n g[n]                              (out,)

TiedLinear uses another layer's weight *transposed* (the decoder of a tied autoencoder):
``y = h W + b`` maps the encoder's outputs back to its inputs, and its weight gradient
``hᵀ g`` is added to the same ``.grad`` as the encoder's own.
"""

import numpy as np

from . import init
from ._checks import axis_size, float_dtype, float_input, positive_int, same_dtype
from .module import Module, Parameter


class Linear(Module):
    """``y = x Wᵀ + b``; weight and bias drawn as torch does, U(-1/√in, 1/√in).

    ``dtype`` of the parameters, floating-point (float32 like torch, or float64; a TypeError
    for anything else; inputs must match), ``rng`` a Generator or seed for the initial values
    (``None``: from NumPy's global seed, see ``init.get_rng``).
    """

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32, rng=None):
        super().__init__()
        self.in_features = positive_int(in_features, "in_features", "Linear")
        self.out_features = positive_int(out_features, "out_features", "Linear")
        dtype = float_dtype(dtype, "Linear")
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        self.bias = Parameter(np.empty(out_features, dtype=dtype)) if bias else None
        init.torch_default_(self.weight, self.bias, rng)

    def forward(self, x):
        x = float_input(x, "Linear", 2, "(N, in_features)")
        axis_size(x, 1, self.in_features, "input features", "Linear")
        same_dtype(x, self.weight, "Linear")
        self.save_for_backward(x)
        y = x @ self.weight.data.T
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward(self, grad_out):
        (x,) = self.saved_tensors
        self.weight.grad += grad_out.T @ x
        if self.bias is not None:
            self.bias.grad += grad_out.sum(axis=0)
        return grad_out @ self.weight.data if self.needs_input_grad else None

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class TiedLinear(Module):
    """``y = h W + b``: the transpose of a Linear whose ``weight`` W (out, in) it shares.

    ``TiedLinear(encoder.weight)`` maps ``out`` features back to ``in`` features. The
    Parameter is the encoder's own object, so ``parameters()`` lists it once and an optimiser
    steps it once with the sum of both layers' gradients. The bias is this layer's own,
    drawn as torch draws a Linear bias, U(-1/√fan_in, 1/√fan_in) with fan_in = ``out``.
    """

    def __init__(self, weight, bias=True, rng=None):
        super().__init__()
        if not isinstance(weight, Parameter) or weight.data.ndim != 2:
            raise TypeError(f"TiedLinear expects the 2-D weight Parameter of a Linear (e.g. "
                            f"encoder.weight), got {weight!r}")
        self.weight = weight
        self.in_features, self.out_features = weight.shape
        self.bias = None
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype=weight.dtype))
            init.uniform_fan_in_(self.bias, fan_in=self.in_features, rng=rng)

    def forward(self, h):
        h = float_input(h, "TiedLinear", 2, "(N, in_features)")
        axis_size(h, 1, self.in_features, "input features", "TiedLinear")
        same_dtype(h, self.weight, "TiedLinear")
        self.save_for_backward(h)
        y = h @ self.weight.data
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward(self, grad_out):
        (h,) = self.saved_tensors
        self.weight.grad += h.T @ grad_out
        if self.bias is not None:
            self.bias.grad += grad_out.sum(axis=0)
        return grad_out @ self.weight.data.T if self.needs_input_grad else None

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, tied weight {self.weight.shape}")
