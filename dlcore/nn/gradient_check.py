"""Numerical gradient checking by centred differences.

For a scalar function f and an array x, each partial derivative is estimated as::

    ∂f/∂x_i ≈ (f(x + ε e_i) - f(x - ε e_i)) / (2ε)          error O(ε²) + rounding O(u/ε)

In float64 (u ≈ 1e-16) ε = 1e-6 balances the two, leaving about 1e-10 relative error, so an
analytic gradient that disagrees by more than ~1e-6 has a bug. float32 is too coarse for this.

A layer's output is a tensor, not a scalar: ``gradcheck`` reduces it with a fixed random
projection ``f = Σ r ⊙ y`` (every output entry matters, with a different weight), whose
gradient w.r.t. y is ``r`` — the ``grad_out`` it feeds to ``backward``. The projection comes
from its own random stream (``projection(shape, seed)``), not from ``default_rng(seed)``:
were it equal to the input, as when both are drawn with seed 0, ``Σ x ⊙ BatchNorm(x)`` has an
input gradient of almost zero and the relative error measures only rounding noise.
"""

import numpy as np

from .loss import _Loss


def numerical_gradient(f, x, eps=1e-6):
    """Centred-difference gradient of ``f()`` (no arguments, returns a float) w.r.t. ``x``.

    ``f`` must read ``x``, which is perturbed in place one entry at a time and restored.
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    for i in np.ndindex(x.shape):  # a loop per entry: this is a test tool, not a layer
        old = x[i]
        x[i] = old + eps
        f_plus = f()
        x[i] = old - eps
        f_minus = f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def projection(shape, seed=0):
    """The fixed random weights r of ``f = Σ r ⊙ y``: standard normal, from a stream of their
    own (``SeedSequence([seed, PROJECTION_STREAM])``) that no ``default_rng(seed)`` repeats."""
    return np.random.default_rng([seed, PROJECTION_STREAM]).standard_normal(shape)


PROJECTION_STREAM = 0x67726164  # "grad": any constant other than a plain seed


def relative_error(analytic, numerical):
    """``max |a - n| / max(|a|, |n|)``, over the whole tensor (robust to entries near zero)."""
    scale = max(np.abs(analytic).max(initial=0), np.abs(numerical).max(initial=0), 1e-12)
    return float(np.abs(analytic - numerical).max(initial=0) / scale)


def gradcheck(module, x, target=None, eps=1e-6, tol=1e-6, seed=0, **forward_kwargs):
    """Compare ``module.backward`` with centred differences, for the input and every parameter.

    ``module`` is a layer (checked through a random projection of its output) or, when
    ``target`` is given, a loss (``module(x, target)`` is already a scalar). Extra keyword
    arguments go to every forward call, e.g. ``mask=`` for Dropout, so randomness stays fixed.
    Returns ``{"input": err, "weight": err, ...}`` (relative errors); raises AssertionError
    naming the tensor if one exceeds ``tol`` (``tol=None`` only reports).
    """
    x = np.array(x)
    if x.dtype != np.float64:
        raise TypeError(f"gradcheck needs float64 input (finite differences), got {x.dtype}")
    is_loss = isinstance(module, _Loss)
    if is_loss == (target is None):
        raise ValueError("pass target= exactly when checking a loss")
    r = None

    def f():
        nonlocal r
        if is_loss:
            return module(x, target, **forward_kwargs)
        y = module(x, **forward_kwargs)
        if r is None:
            r = projection(y.shape, seed)
        return float(np.sum(r * y))

    module.zero_grad()
    f()
    grad_x = module.backward() if is_loss else module.backward(r)
    analytic = {"input": np.array(grad_x)}
    params = list(module.named_parameters())
    analytic.update((name, p.grad.copy()) for name, p in params)

    errors = {"input": relative_error(analytic["input"], numerical_gradient(f, x, eps))}
    for name, p in params:
        errors[name] = relative_error(analytic[name], numerical_gradient(f, p.data, eps))
    failed = {k: e for k, e in errors.items() if tol is not None and e > tol}
    if failed:
        detail = ", ".join(f"{k}: {e:.2e}" for k, e in failed.items())
        raise AssertionError(f"gradient check of {type(module).__name__} failed "
                             f"(relative error > {tol:g}): {detail}")
    return errors
