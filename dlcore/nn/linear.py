"""Linear (fully connected) layer.

Forward, for a batch ``x`` of shape (N, in) and ``W`` of shape (out, in)::

    y = x Wᵀ + b                                  (N, out)

Backward, given ``g = ∂L/∂y`` (N, out)::

    ∂L/∂x = g W                                   (N, in)
    ∂L/∂W = gᵀ x                                  (out, in)   summed over the batch by the GEMM
    ∂L/∂b = Σ_n g[n]                              (out,)
"""

import numpy as np

from . import init
from ._checks import axis_size, float_input, same_dtype
from .module import Module, Parameter


class Linear(Module):
    """``y = x Wᵀ + b``; weight and bias drawn as torch does, U(-1/√in, 1/√in).

    ``dtype`` of the parameters (float32 like torch; inputs must match), ``rng`` a Generator
    or seed for the initial values (``None``: from NumPy's global seed, see ``init.get_rng``).
    """

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32, rng=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        rng = init.get_rng(rng)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        # kaiming_uniform with a=√5 is torch's spelling of U(-1/√fan_in, 1/√fan_in)
        init.kaiming_uniform_(self.weight, a=np.sqrt(5), rng=rng)
        self.bias = None
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dtype))
            init.uniform_fan_in_(self.bias, fan_in=in_features, rng=rng)

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
