"""Flatten: reshape (N, C, H, W) to (N, C·H·W) between the convolutional and dense parts.

Backward only undoes the reshape: ``∂L/∂x = reshape(g, x.shape)``.
"""

import numpy as np

from ._checks import float_input
from .module import Module


class Flatten(Module):
    """Merge axes ``start_dim`` … ``end_dim`` (inclusive) into one, as ``torch.nn.Flatten``."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        x = float_input(x, "Flatten")
        dims_ok = all(-x.ndim <= d < x.ndim for d in (self.start_dim, self.end_dim))
        if not dims_ok or self.start_dim % x.ndim > self.end_dim % x.ndim:
            raise ValueError(f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) "
                             f"does not fit an input of shape {x.shape}")
        start, end = self.start_dim % x.ndim, self.end_dim % x.ndim
        self.save_for_backward(x.shape)
        merged = int(np.prod(x.shape[start:end + 1]))  # not -1: ambiguous for an empty batch
        return x.reshape(x.shape[:start] + (merged,) + x.shape[end + 1:])

    def backward(self, grad_out):
        (shape,) = self.saved_tensors
        return grad_out.reshape(shape)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
