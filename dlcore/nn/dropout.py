"""Inverted dropout.

Training: keep each unit with probability ``1 - p`` and scale the survivors by ``1/(1-p)``, so
that ``E[y] = x`` and nothing needs rescaling at test time::

    m ~ Bernoulli(1 - p)  (element-wise),   y = x ⊙ m / (1 - p),   ∂L/∂x = g ⊙ m / (1 - p)

Evaluation (``eval()``): ``y = x``, ``∂L/∂x = g``.
"""

import numpy as np

from . import init
from ._checks import float_input
from .module import Module


class Dropout(Module):
    """``rng``: a Generator or seed for reproducible masks (``None``: NumPy's global seed).

    After a training-mode forward, ``self.mask`` holds the boolean keep-mask that was used;
    ``forward(x, mask=m)`` applies a given mask instead of drawing one (to test against
    another implementation, or to check gradients with the randomness held fixed).
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p
        self.rng = init.get_rng(rng)
        self.mask = None

    def forward(self, x, mask=None):
        x = float_input(x, "Dropout")
        if not self.training:
            self.save_for_backward(None)
            return x
        if mask is None:
            mask = self.rng.random(x.shape) >= self.p
        elif np.shape(mask) != x.shape:
            raise ValueError(f"Dropout mask has shape {np.shape(mask)}, "
                             f"expected the input's shape {x.shape}")
        self.mask = np.asarray(mask, dtype=bool)
        # p = 1 drops everything; torch returns zeros rather than dividing by zero
        scaled_mask = self.mask * x.dtype.type(0 if self.p == 1 else 1 / (1 - self.p))
        self.save_for_backward(scaled_mask)
        return x * scaled_mask

    def backward(self, grad_out):
        (scaled_mask,) = self.saved_tensors
        return grad_out if scaled_mask is None else grad_out * scaled_mask

    def extra_repr(self):
        return f"p={self.p}"
