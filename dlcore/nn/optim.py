"""Optimisers and a step learning-rate schedule, with the update rules of ``torch.optim``.

For each parameter θ with gradient g (weight decay λ first adds λθ to g):

SGD, momentum μ, dampening τ::

    b ← g  (first step),   b ← μ b + (1 - τ) g  (later steps)
    θ ← θ - lr · (g + μ b)   if nesterov   else   θ - lr · b      (μ = 0: θ - lr · g)

RMSprop, smoothing α, momentum μ::

    v ← α v + (1 - α) g²,   u = g / (√v + ε)
    θ ← θ - lr · u   (μ = 0),   or   b ← μ b + u,  θ ← θ - lr · b

Adam, step t::

    m ← β₁ m + (1 - β₁) g,   v ← β₂ v + (1 - β₂) g²
    θ ← θ - lr/(1 - β₁ᵗ) · m / (√v / √(1 - β₂ᵗ) + ε)
"""

import math

import numpy as np

from ._checks import in_range
from .module import Parameter


class Optimizer:
    """Base class: holds the parameters, the learning rate ``lr`` and per-parameter state.

    Every hyper-parameter is checked when the optimiser is built: ``lr``, ``weight_decay``,
    ``eps``, ``momentum`` and the like must be finite numbers >= 0 (a ValueError otherwise)."""

    def __init__(self, params, lr):
        name = type(self).__name__
        if callable(params):
            raise TypeError(f"{name} got the method {getattr(params, '__qualname__', params)} "
                            f"itself: call it, {name}(model.parameters(), ...)")
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{name} got an empty parameter list")
        for p in self.params:
            if not isinstance(p, Parameter):
                raise TypeError(f"{name} expects Parameters (e.g. model.parameters()), "
                                f"got {type(p).__name__}")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{name}: a Parameter is listed twice and would be stepped twice; "
                             f"model.parameters() lists each shared Parameter once")
        self.lr = in_range(lr, "lr", name, 0)
        self.state = [{} for _ in self.params]  # per-parameter buffers, created on first use

    def zero_grad(self):
        """Set every parameter's ``.grad`` to zero."""
        for p in self.params:
            p.grad[...] = 0

    def step(self):
        """Update every parameter from its ``.grad`` (one optimisation step)."""
        for p, state in zip(self.params, self.state):
            self._update(p, state)

    def _decayed_grad(self, p):
        wd = self.weight_decay
        return p.grad + wd * p.data if wd else p.grad


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and
    weight decay, as ``torch.optim.SGD``."""

    def __init__(self, params, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        super().__init__(params, lr)
        in_range(momentum, "momentum", "SGD", 0)
        in_range(dampening, "dampening", "SGD", 0, 1)
        in_range(weight_decay, "weight_decay", "SGD", 0)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self.momentum, self.dampening = momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov

    def _update(self, p, state):
        g = self._decayed_grad(p)
        if self.momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.copy()
            else:
                buf = state["momentum_buffer"]
                buf *= self.momentum
                buf += (1 - self.dampening) * g
            buf = state["momentum_buffer"]
            g = g + self.momentum * buf if self.nesterov else buf
        p.data -= self.lr * g


class RMSprop(Optimizer):
    """RMSprop (Tieleman and Hinton 2012) as ``torch.optim.RMSprop``: steps divided by a
    running root-mean-square of the gradient."""

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0):
        super().__init__(params, lr)
        in_range(alpha, "alpha", "RMSprop", 0)
        in_range(eps, "eps", "RMSprop", 0)
        in_range(weight_decay, "weight_decay", "RMSprop", 0)
        in_range(momentum, "momentum", "RMSprop", 0)
        self.alpha, self.eps, self.weight_decay, self.momentum = alpha, eps, weight_decay, momentum

    def _update(self, p, state):
        g = self._decayed_grad(p)
        if not state:
            state["square_avg"] = np.zeros_like(p.data)
            if self.momentum:
                state["momentum_buffer"] = np.zeros_like(p.data)
        v = state["square_avg"]
        v *= self.alpha
        v += (1 - self.alpha) * g * g
        step = g / (np.sqrt(v) + self.eps)
        if self.momentum:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += step
            step = buf
        p.data -= self.lr * step


class Adam(Optimizer):
    """Adam (Kingma and Ba 2015) as ``torch.optim.Adam``: bias-corrected running means of
    the gradient and of its square."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        super().__init__(params, lr)
        if len(tuple(betas)) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            in_range(beta, f"betas[{i}]", "Adam", 0, 1, high_open=True)
        in_range(eps, "eps", "Adam", 0)
        in_range(weight_decay, "weight_decay", "Adam", 0)
        self.betas, self.eps, self.weight_decay = tuple(betas), eps, weight_decay

    def _update(self, p, state):
        g = self._decayed_grad(p)
        b1, b2 = self.betas
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
        state["step"] += 1
        m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        # bias correction: m and v start at 0, so early averages are too small by 1 - βᵗ
        denom = np.sqrt(v) / math.sqrt(1 - b2**t) + self.eps
        p.data -= self.lr / (1 - b1**t) * m / denom


class StepLR:
    """Multiply the optimiser's lr by ``gamma`` every ``step_size`` calls of ``step()``
    (one call per epoch, after the optimiser's steps), as ``torch.optim.lr_scheduler.StepLR``."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"StepLR expects a dlcore.nn.optim optimizer, got "
                            f"{type(optimizer).__name__}")
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be an int >= 1, got {step_size!r}")
        in_range(gamma, "gamma", "StepLR", 0)
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.last_epoch = 0
        self._last_lr = [optimizer.lr]

    def step(self):
        """Count one epoch; every ``step_size`` epochs multiply the lr by ``gamma``."""
        self.last_epoch += 1
        if self.last_epoch % self.step_size == 0:
            self.optimizer.lr *= self.gamma
        self._last_lr = [self.optimizer.lr]

    def get_last_lr(self):
        """A list with one lr per parameter group, as torch returns (we have one group)."""
        return list(self._last_lr)
