"""Loss functions with mean reduction. ``loss = crit(pred, target)`` returns a float;
``crit.backward()`` then returns ∂loss/∂pred (times an optional upstream scalar ``grad``).

=================  ====================================================  =====================
loss               value                                                 ∂loss/∂pred
=================  ====================================================  =====================
MSELoss            mean((p - t)²) over all M entries                     2 (p - t) / M
CrossEntropyLoss   mean_n [log Σ_c e^{z_nc} - z_{n,t_n}]   (logits z)    (softmax(z) - 1_t) / N
NLLLoss            mean_n [-z_{n,t_n}]                 (log-probs z)     -1_t / N
BCEWithLogitsLoss  mean[max(z,0) - z t + log(1 + e^{-|z|})]              (σ(z) - t) / M
=================  ====================================================  =====================

The cross-entropy and BCE forms never exponentiate a large positive number, so they are exact
where the naive ``-log(softmax(z))`` / ``-log σ(z)`` would overflow or give ``log 0``.
"""

import numpy as np

from ._checks import float_input
from .activation import log_softmax
from .module import Module


class _Loss(Module):
    def backward(self, grad=1.0):
        (grad_pred,) = self.saved_tensors
        return grad_pred * grad_pred.dtype.type(grad)


def _nonempty(pred, loss):
    """torch returns NaN (with a warning) for the mean over an empty batch; we refuse it."""
    if pred.size == 0:
        raise ValueError(f"{loss}: empty batch (input of shape {pred.shape}): the mean loss over "
                         f"no examples is undefined; skip empty batches")
    return pred


def _same_shape(pred, target, loss):
    """A target of exactly ``pred``'s shape, in ``pred``'s precision."""
    target = np.asarray(target)
    if target.shape != pred.shape:
        raise ValueError(f"{loss}: target shape {target.shape} does not match input shape "
                         f"{pred.shape} (no broadcasting)")
    return target.astype(pred.dtype, copy=False)


def _class_targets(logits, target, loss):
    """Integer class indices, one per row of ``logits`` (N, C), each in [0, C)."""
    target = np.asarray(target)
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(f"{loss} expects integer class indices as target, got dtype "
                        f"{target.dtype}")
    n, c = logits.shape
    if target.shape != (n,):
        raise ValueError(f"{loss}: target should have shape ({n},) for an input of shape "
                         f"{logits.shape}, got {target.shape}")
    bad = (target < 0) | (target >= c)
    if bad.any():
        raise ValueError(f"{loss}: target values must be in [0, {c - 1}] for {c} classes, "
                         f"got {target[bad][0]}")
    return target


class MSELoss(_Loss):
    """The mean of (prediction − target)² over every entry."""

    def forward(self, pred, target):
        pred = float_input(pred, "MSELoss")
        _nonempty(pred, "MSELoss")
        diff = pred - _same_shape(pred, target, "MSELoss")
        self.save_for_backward(2 * diff / diff.size)
        return float(np.mean(diff * diff))


class CrossEntropyLoss(_Loss):
    """Softmax and negative log-likelihood in one, from raw logits (N, C)."""

    def forward(self, logits, target):
        logits = float_input(logits, "CrossEntropyLoss", 2, "(N, C)")
        _nonempty(logits, "CrossEntropyLoss")
        target = _class_targets(logits, target, "CrossEntropyLoss")
        n = len(target)
        log_p = log_softmax(logits, 1)
        grad = np.exp(log_p)
        grad[np.arange(n), target] -= 1
        self.save_for_backward(grad / n)
        return float(-log_p[np.arange(n), target].mean())


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (N, C), e.g. from LogSoftmax(dim=1)."""

    def forward(self, log_probs, target):
        log_probs = float_input(log_probs, "NLLLoss", 2, "(N, C)")
        _nonempty(log_probs, "NLLLoss")
        target = _class_targets(log_probs, target, "NLLLoss")
        n = len(target)
        grad = np.zeros_like(log_probs)
        grad[np.arange(n), target] = -1 / n
        self.save_for_backward(grad)
        return float(-log_probs[np.arange(n), target].mean())


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and binary cross-entropy in one, from logits; targets in [0, 1], same shape."""

    def forward(self, logits, target):
        logits = float_input(logits, "BCEWithLogitsLoss")
        _nonempty(logits, "BCEWithLogitsLoss")
        target = _same_shape(logits, target, "BCEWithLogitsLoss")
        e = np.exp(-np.abs(logits))
        loss = np.maximum(logits, 0) - logits * target + np.log1p(e)
        sigmoid = np.where(logits >= 0, 1 / (1 + e), e / (1 + e))
        self.save_for_backward((sigmoid - target) / logits.size)
        return float(loss.mean())
