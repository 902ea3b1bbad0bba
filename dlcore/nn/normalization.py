"""Batch normalisation and local response normalisation.

BatchNorm, per channel c, over the m = N·H·W values of a batch (axes 0, 2, 3)::

    μ = mean(x),  σ² = mean((x - μ)²)  (biased),  x̂ = (x - μ) / √(σ² + ε),  y = γ x̂ + β

    ∂L/∂β = Σ g,   ∂L/∂γ = Σ g x̂
    ∂L/∂x = γ/√(σ² + ε) · (g - ∂L/∂β / m - x̂ · ∂L/∂γ / m)      (training: μ, σ² depend on x)
    ∂L/∂x = γ/√(σ² + ε) · g                                      (eval: running statistics)

Running statistics follow torch: ``running = (1 - momentum)·running + momentum·batch``, with
the *unbiased* batch variance σ²·m/(m-1) (momentum=None: cumulative average).

LocalResponseNorm (AlexNet), across channels, with n = ``size``::

    d_c = k + α/n Σ_{j = c - ⌊n/2⌋}^{c + ⌊(n-1)/2⌋} x_j²    (channels outside [0, C) count as 0)
    y_c = x_c d_c^{-β}
    ∂L/∂x_j = g_j d_j^{-β} - (2αβ/n) x_j Σ_{c : j in window(c)} g_c x_c d_c^{-β-1}
"""

import numpy as np

from ._checks import axis_size, float_dtype, float_input, in_range, positive_int, same_dtype
from .module import Module, Parameter


class _BatchNorm(Module):
    name, ndims, layout = "BatchNorm", (), ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, dtype=np.float32):
        super().__init__()
        self.num_features = positive_int(num_features, "num_features", self.name)
        self.eps = in_range(eps, "eps", self.name, 0, low_open=True)
        if momentum is not None:
            in_range(momentum, "momentum", self.name, 0, 1)
        self.momentum = momentum
        dtype = float_dtype(dtype, self.name)
        self.weight = Parameter(np.ones(num_features, dtype=dtype))
        self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        # buffers, as in torch: saved in state_dict(), not trained
        self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
        self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def forward(self, x):
        x = float_input(x, self.name, self.ndims, self.layout)
        axis_size(x, 1, self.num_features, "channels", self.name)
        same_dtype(x, self.weight, self.name)
        axes = (0, *range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)  # broadcasts a per-channel vector over x
        batch_stats = self.training and x.size > 0
        if batch_stats:
            mean, var = self._batch_statistics(x, axes)
        else:  # evaluation; or an empty batch, where torch leaves the statistics alone
            mean, var = self.running_mean, self.running_var
            self.num_batches_tracked += self.training  # ... but counts the batch, as torch
        inv_std = 1 / np.sqrt(var + self.eps)
        x_hat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
        self.save_for_backward(x_hat, inv_std, axes, shape, batch_stats)
        return x_hat * self.weight.data.reshape(shape) + self.bias.data.reshape(shape)

    def _batch_statistics(self, x, axes):
        m = x.size // self.num_features
        if m < 2:
            raise ValueError(f"{self.name} expects more than 1 value per channel when training, "
                             f"got an input of shape {x.shape}")
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        self.num_batches_tracked += 1
        f = 1 / self.num_batches_tracked if self.momentum is None else self.momentum
        self.running_mean[...] = (1 - f) * self.running_mean + f * mean
        self.running_var[...] = (1 - f) * self.running_var + f * var * (m / (m - 1))
        return mean, var

    def backward(self, grad_out):
        x_hat, inv_std, axes, shape, batch_stats = self.saved_tensors
        d_bias = grad_out.sum(axis=axes)
        d_weight = (grad_out * x_hat).sum(axis=axes)
        self.bias.grad += d_bias
        self.weight.grad += d_weight
        scale = (self.weight.data * inv_std).reshape(shape)
        if not batch_stats:
            return scale * grad_out
        m = x_hat.size // self.num_features
        mean_g, mean_g_x_hat = (d_bias / m).reshape(shape), (d_weight / m).reshape(shape)
        return scale * (grad_out - mean_g - x_hat * mean_g_x_hat)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Over (N, C) features, or (N, C, L) sequences. ``dtype`` of the parameters and running
    statistics: floating-point, as for :class:`~dlcore.nn.Linear`."""
    name, ndims, layout = "BatchNorm1d", (2, 3), "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Over (N, C, H, W) feature maps: one mean and variance per channel. ``dtype`` as for
    :class:`BatchNorm1d`."""
    name, ndims, layout = "BatchNorm2d", (4,), "(N, C, H, W)"


def _channel_window_sum(a, before, after):
    """Σ of ``a`` over the channel window [c - before, c + after], zero outside [0, C)."""
    c = a.shape[1]
    padded = np.zeros((a.shape[0], c + before + after, *a.shape[2:]), dtype=a.dtype)
    padded[:, before:before + c] = a
    total = padded[:, :c].copy()
    for offset in range(1, before + after + 1):
        total += padded[:, offset:offset + c]
    return total


class LocalResponseNorm(Module):
    """AlexNet's normalisation across ``size`` neighbouring channels, with torch's
    parameterisation: y_c = x_c (k + α/n Σ x_j²)^{-β} (α is divided by n = ``size``)."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = positive_int(size, "size", "LocalResponseNorm")
        self.alpha, self.beta, self.k = alpha, beta, k

    def forward(self, x):
        x = float_input(x, "LocalResponseNorm", (3, 4), "(N, C, L) or (N, C, H, W)")
        n = self.size
        d = self.k + self.alpha / n * _channel_window_sum(x * x, n // 2, (n - 1) // 2)
        d_pow = d ** -self.beta
        self.save_for_backward(x, d, d_pow)
        return x * d_pow

    def backward(self, grad_out):
        x, d, d_pow = self.saved_tensors
        n = self.size
        # channel c's window holds j exactly when j's mirrored window holds c
        t = _channel_window_sum(grad_out * x * d_pow / d, (n - 1) // 2, n // 2)
        return grad_out * d_pow - (2 * self.alpha * self.beta / n) * x * t

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
