"""A restricted Boltzmann machine with binary visible and hidden units (Chapter 5), in NumPy.

Visible units ``v`` (n_visible) and hidden units ``h`` (n_hidden), no connections within a
layer. With ``W`` of shape (n_hidden, n_visible) as in :class:`~dlcore.nn.Linear`, visible bias
``b`` and hidden bias ``c``::

    energy        E(v, h) = -bᵀv - cᵀh - hᵀWv
    joint         P(v, h) = exp(-E(v, h)) / Z,       Z = Σ_{v,h} exp(-E(v, h))
    free energy   F(v)    = -log Σ_h exp(-E(v, h)) = -bᵀv - Σ_j softplus(c_j + W_j·v)
    conditionals  P(h_j = 1 | v) = σ(c_j + W_j·v),   P(v_i = 1 | h) = σ(b_i + (Wᵀh)_i)

so ``P(v) = exp(-F(v)) / Z`` and the gradient of the mean negative log-likelihood is
``E_data[∂F/∂θ] - E_model[∂F/∂θ]``, with ``∂F/∂W = -P(h=1|v) vᵀ``, ``∂F/∂b = -v`` and
``∂F/∂c = -P(h=1|v)``. Contrastive divergence (CD-k) replaces the model expectation by the
end ``v_k`` of a k-step Gibbs chain started at the data (persistent CD: started where the
previous update's chain ended). :meth:`RBM.contrastive_divergence` *adds* that gradient to the
parameters' ``.grad``, as ``backward`` does, so the optimisers of :mod:`dlcore.nn.optim`
train an RBM unchanged; :func:`contrastive_divergence` wraps it as a loss for
:func:`dlcore.train.fit_numpy`.

Every random draw can be given: ``noise`` arrays of uniform numbers in [0, 1) decide the
samples (``sample = probability > noise``), so that this RBM and its PyTorch twin
(:class:`dlcore.models.rbm.RBM`) make the same updates from the same random numbers.

As a layer, ``forward(v)`` is ``P(h = 1 | v)`` (a sigmoid of a linear map) and ``backward``
its gradient, which is what an RBM becomes when a deep belief network is unrolled.
"""

import numpy as np

from . import init
from ._checks import axis_size, float_dtype, float_input, in_range, positive_int, same_dtype
from .module import Module, Parameter

#: Exact sums enumerate 2 ** min(n_visible, n_hidden) configurations; beyond this many units
#: the sum is refused (2 ** 20 is a million terms).
MAX_ENUMERATED_UNITS = 20


def _sigmoid(x):
    """σ(x) = (1 + tanh(x/2)) / 2: one transcendental, no overflow for any x; in place on a
    new array (four times faster than the exp/where form for the RBM's large batches)."""
    y = np.multiply(x, 0.5)
    np.tanh(y, out=y)
    y += 1
    y *= 0.5
    return y


def _softplus(x):
    """log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}), without overflow (and ten times faster
    than np.logaddexp(0, x) in float32)."""
    y = np.abs(x)
    np.negative(y, out=y)
    np.exp(y, out=y)
    np.log1p(y, out=y)
    y += np.maximum(x, 0)
    return y


def _logsumexp(a):
    m = a.max()
    return float(m + np.log(np.exp(a - m).sum()))


def all_binary_states(n, dtype=np.float64):
    """The 2**n binary vectors of length n, one per row, in counting order (row i is i's bits,
    most significant first)."""
    n = positive_int(n, "n", "all_binary_states")
    if n > MAX_ENUMERATED_UNITS:
        raise ValueError(f"all_binary_states: 2**{n} states is too many to enumerate; at most "
                         f"{MAX_ENUMERATED_UNITS} units")
    codes = np.arange(2 ** n)[:, None] >> np.arange(n - 1, -1, -1)
    return (codes & 1).astype(dtype)


def check_binary(v, who):
    """Refuse values other than 0 and 1 where a formula counts binary states."""
    if v.size and not np.all((v == 0) | (v == 1)):
        bad = v[(v != 0) & (v != 1)].flat[0]
        raise ValueError(f"{who} needs binary inputs (0 or 1), got a value {bad!r}; binarise "
                         f"grey levels first, e.g. (x > 0.5) or by sampling (rng.random(x.shape) "
                         f"< x)")


class RBM(Module):
    """Bernoulli-Bernoulli restricted Boltzmann machine: ``weight`` (n_hidden, n_visible),
    ``visible_bias`` (n_visible,), ``hidden_bias`` (n_hidden,).

    The weights start as Hinton's practical guide advises, N(0, 0.01²), the biases at zero
    (:meth:`init_visible_bias` sets the visible biases to log p/(1-p) of the data's means).
    ``dtype`` of the parameters, float32 or float64 (a TypeError for anything else; inputs must
    match); ``rng`` a Generator or seed for the initial weights and for the Gibbs samples when no
    ``noise`` is given.
    """

    def __init__(self, n_visible, n_hidden, dtype=np.float32, rng=None):
        super().__init__()
        self.n_visible = positive_int(n_visible, "n_visible", "RBM")
        self.n_hidden = positive_int(n_hidden, "n_hidden", "RBM")
        dtype = float_dtype(dtype, "RBM")
        if dtype not in (np.float32, np.float64):  # e.g. float16
            raise TypeError(f"RBM: dtype must be float32 or float64, the dtypes in which "
                            f"NumPy's Generator draws the Gibbs sampler's uniform numbers; got "
                            f"{dtype}")
        self.rng = init.get_rng(rng)
        self.weight = Parameter((0.01 * self.rng.standard_normal((n_hidden, n_visible)))
                                .astype(dtype))
        self.visible_bias = Parameter(np.zeros(n_visible, dtype=dtype))
        self.hidden_bias = Parameter(np.zeros(n_hidden, dtype=dtype))
        # persistent CD: where the fantasy particles' chain has got to, and P(h=1 | chain)
        self.chain = self.chain_hidden = None

    # ------------------------------------------------------------------ inputs
    def _visible(self, v, who):
        v = float_input(v, f"RBM.{who}", 2, "(N, n_visible)")
        axis_size(v, 1, self.n_visible, "visible units", f"RBM.{who}")
        same_dtype(v, self.weight, f"RBM.{who}")
        return v

    def _hidden(self, h, who):
        h = float_input(h, f"RBM.{who}", 2, "(N, n_hidden)")
        axis_size(h, 1, self.n_hidden, "hidden units", f"RBM.{who}")
        same_dtype(h, self.weight, f"RBM.{who}")
        return h

    def _noise(self, noise, shape, who):
        if noise is None:
            return self.rng.random(shape, dtype=self.weight.dtype)
        noise = np.asarray(noise)
        if noise.shape != shape:
            raise ValueError(f"RBM.{who}: noise must have shape {shape} (uniform numbers in "
                             f"[0, 1), one per unit and example), got {noise.shape}")
        return noise

    # ------------------------------------------------------------------ the model
    def energy(self, v, h):
        """``E(v, h) = -bᵀv - cᵀh - hᵀWv`` for each row pair, shape (N,)."""
        v, h = self._visible(v, "energy"), self._hidden(h, "energy")
        if len(v) != len(h):
            raise ValueError(f"RBM.energy: {len(v)} visible but {len(h)} hidden vectors")
        return -(v @ self.visible_bias.data) - (h @ self.hidden_bias.data) \
            - np.einsum("nj,ji,ni->n", h, self.weight.data, v)

    def free_energy(self, v):
        """``F(v) = -bᵀv - Σ_j log(1 + exp(c_j + W_j·v))`` for each row, shape (N,)."""
        v = self._visible(v, "free_energy")
        return -(v @ self.visible_bias.data) \
            - _softplus(v @ self.weight.data.T + self.hidden_bias.data).sum(axis=1)

    def hidden_probabilities(self, v):
        """``P(h_j = 1 | v) = σ(c_j + W_j·v)``, shape (N, n_hidden)."""
        v = self._visible(v, "hidden_probabilities")
        return _sigmoid(v @ self.weight.data.T + self.hidden_bias.data)

    def visible_probabilities(self, h):
        """``P(v_i = 1 | h) = σ(b_i + (Wᵀh)_i)``, shape (N, n_visible)."""
        h = self._hidden(h, "visible_probabilities")
        return _sigmoid(h @ self.weight.data + self.visible_bias.data)

    def sample_h(self, v, noise=None):
        """(P(h = 1 | v), a binary sample of h); ``noise`` (N, n_hidden) decides the sample."""
        p = self.hidden_probabilities(v)
        return p, (p > self._noise(noise, p.shape, "sample_h")).astype(p.dtype)

    def sample_v(self, h, noise=None):
        """(P(v = 1 | h), a binary sample of v); ``noise`` (N, n_visible) decides the sample."""
        p = self.visible_probabilities(h)
        return p, (p > self._noise(noise, p.shape, "sample_v")).astype(p.dtype)

    def gibbs(self, v, k=1, noise=None):
        """k steps of block Gibbs sampling from ``v``: h ~ P(h|v), then v ~ P(v|h), k times.

        ``noise`` is ``None`` or a pair ``(hidden_noise, visible_noise)`` of shapes
        (k, N, n_hidden) and (k, N, n_visible). Returns ``(v_k, P(v_k = 1 | h_{k-1}),
        P(v_1 = 1 | h_0))``: the last sample, its probabilities, and the first step's
        probabilities (the one-step reconstruction).
        """
        k = positive_int(k, "k", "RBM.gibbs")
        v = self._visible(v, "gibbs")
        noise_h, noise_v = (None, None) if noise is None else noise
        if noise is not None:
            noise_h = self._noise(noise_h, (k, len(v), self.n_hidden), "gibbs")
            noise_v = self._noise(noise_v, (k, len(v), self.n_visible), "gibbs")
        first = None
        for step in range(k):
            _, h = self.sample_h(v, None if noise_h is None else noise_h[step])
            p_v, v = self.sample_v(h, None if noise_v is None else noise_v[step])
            first = p_v if first is None else first
        return v, p_v, first

    # ------------------------------------------------------------------ learning
    def contrastive_divergence(self, v0, k=1, persistent=False, noise=None, weight_decay=0.0,
                               reconstruct=True):
        """Add the CD-k (or persistent CD-k) gradient of the mean negative log-likelihood to
        the parameters' ``.grad``; return ``(objective, reconstruction)``.

        The gradient is that of ``mean(F(v0)) - mean(F(v_k)) + weight_decay/2 · ‖W‖²`` with
        the negative sample ``v_k`` held fixed::

            W.grad += (P(h=1|v_k) v_kᵀ - P(h=1|v0) v0ᵀ) / N + weight_decay · W
            b.grad += mean(v_k - v0),     c.grad += mean(P(h=1|v_k) - P(h=1|v0))

        ``persistent=True`` continues the chain of the fantasy particles where the last
        persistent call left it (from ``v0`` the first time; ``reset_chain()`` forgets it): its
        first hidden sample is drawn from P(h | v_k) as computed in that call, with the weights
        of then, which saves a product per update (scikit-learn's ``BernoulliRBM`` does the
        same). ``noise`` as in :meth:`gibbs`. ``objective`` is the number whose gradient this
        is; ``reconstruction`` is P(v_1 = 1 | h_0) of the chain started at ``v0``, for the
        reconstruction error; with ``persistent``, whose chain does not start at ``v0``, it is
        the mean-field P(v = 1 | P(h|v0)), one extra product, or None if not ``reconstruct``.
        """
        v0 = self._visible(v0, "contrastive_divergence")
        k = positive_int(k, "k", "RBM.contrastive_divergence")
        in_range(weight_decay, "weight_decay", "RBM.contrastive_divergence", 0)
        noise_h, noise_v = (None, None) if noise is None else noise
        if noise is not None:
            noise_h = self._noise(noise_h, (k, len(v0), self.n_hidden), "contrastive_divergence")
            noise_v = self._noise(noise_v, (k, len(v0), self.n_visible),
                                  "contrastive_divergence")
        W, b, c = self.weight.data, self.visible_bias.data, self.hidden_bias.data
        a0 = v0 @ W.T + c  # pre-activations of the hidden units: P(h|v0) and F(v0) from one GEMM
        p0 = _sigmoid(a0)
        reconstruction = None
        if persistent and self.chain is not None and self.chain.shape == v0.shape:
            v, p = self.chain, self.chain_hidden
        else:  # CD, or the persistent chain's first update: from the data
            v, p = v0, p0
        for step in range(k):
            u = self._noise(None if noise_h is None else noise_h[step], p.shape,
                            "contrastive_divergence")
            p_v = _sigmoid((p > u).astype(p.dtype) @ W + b)
            reconstruction = p_v if reconstruction is None else reconstruction
            u = self._noise(None if noise_v is None else noise_v[step], p_v.shape,
                            "contrastive_divergence")
            v = (p_v > u).astype(p_v.dtype)
            a = v @ W.T + c
            p = _sigmoid(a)
        if persistent:
            self.chain, self.chain_hidden = v, p
            # one mean-field step from the data
            reconstruction = _sigmoid(p0 @ W + b) if reconstruct else None
        n = len(v0)
        # the negative minus the positive statistics, as one product: [p; -p0]ᵀ [v; v0] / n
        self.weight.grad += np.concatenate([p, -p0]).T @ (np.concatenate([v, v0]) / n)
        if weight_decay:
            self.weight.grad += weight_decay * W
        self.visible_bias.grad += (v - v0).mean(axis=0)
        self.hidden_bias.grad += (p - p0).mean(axis=0)
        free_gap = ((v - v0) @ b).mean() + (_softplus(a).sum() - _softplus(a0).sum()) / n
        objective = free_gap + 0.5 * weight_decay * float(np.vdot(W, W))
        return float(objective), reconstruction

    def reset_chain(self):
        """Forget the persistent chain; the next persistent update starts from its data."""
        self.chain = self.chain_hidden = None

    def init_visible_bias(self, data, eps=1e-3):
        """Set ``b_i = log(p_i / (1 - p_i))``, p_i the mean of visible unit i over ``data``
        (clipped to [eps, 1 - eps]): the practical guide's start for the visible biases."""
        data = self._visible(data, "init_visible_bias")
        p = np.clip(data.mean(axis=0), eps, 1 - eps)
        self.visible_bias.data[...] = np.log(p / (1 - p))

    # ------------------------------------------------------------------ monitors
    def reconstruction_error(self, v):
        """Squared error per example, summed over the visible units, between ``v`` and its
        one-step mean-field reconstruction P(v | P(h|v))."""
        v = self._visible(v, "reconstruction_error")
        r = self.visible_probabilities(self.hidden_probabilities(v))
        return float(((v - r) ** 2).sum(axis=1).mean())

    def pseudo_likelihood(self, v, index=None, rng=None):
        """Stochastic estimate of the log pseudo-likelihood per example, as scikit-learn's
        ``BernoulliRBM.score_samples``: ``n_visible · log σ(F(ṽ) - F(v))``, where ṽ is v with
        one visible unit flipped, unit ``index[n]`` of example n (drawn at random by ``rng``
        when ``index`` is None). ``v`` must be binary. Returns shape (N,)."""
        v = self._visible(v, "pseudo_likelihood")
        check_binary(v, "RBM.pseudo_likelihood")
        if index is None:
            index = init.get_rng(rng).integers(0, self.n_visible, len(v))
        index = np.asarray(index)
        if index.shape != (len(v),) or not np.issubdtype(index.dtype, np.integer):
            raise ValueError(f"RBM.pseudo_likelihood: index must be {len(v)} integers (one "
                             f"unit per example), got {index.dtype} of shape {index.shape}")
        flipped = v.copy()
        rows = np.arange(len(v))
        flipped[rows, index] = 1 - flipped[rows, index]
        gap = self.free_energy(flipped) - self.free_energy(v)
        return -self.n_visible * _softplus(-gap)

    def log_partition(self):
        """``log Z`` exactly, by enumerating the 2 ** min(n_visible, n_hidden) states of the
        smaller layer (the other is summed out in closed form), in float64."""
        W = self.weight.data.astype(np.float64)
        b = self.visible_bias.data.astype(np.float64)
        c = self.hidden_bias.data.astype(np.float64)
        if self.n_hidden <= self.n_visible:
            self._enumerable()
            h = all_binary_states(self.n_hidden)
            return _logsumexp(h @ c + _softplus(h @ W + b).sum(axis=1))
        self._enumerable()
        v = all_binary_states(self.n_visible)
        return _logsumexp(v @ b + _softplus(v @ W.T + c).sum(axis=1))

    def log_likelihood(self, v):
        """Mean exact log-likelihood ``mean(-F(v)) - log Z`` of binary data ``v`` (nats per
        example); only for small models (see :meth:`log_partition`)."""
        v = self._visible(v, "log_likelihood")
        check_binary(v, "RBM.log_likelihood")
        return float(-self.free_energy(v).astype(np.float64).mean() - self.log_partition())

    def exact_gradient(self, v):
        """Add the exact gradient of the mean negative log-likelihood of binary ``v`` to the
        parameters' ``.grad`` and return that mean negative log-likelihood (small models only).

        ``∂(-log P(v))/∂W_ji = ⟨v_i h_j⟩_model - ⟨v_i h_j⟩_data``, with the data term from
        P(h_j = 1 | v) and the model term by enumerating the smaller layer's states (the other
        layer summed out in closed form); likewise for the biases. Computed in float64.
        """
        v = self._visible(v, "exact_gradient")
        check_binary(v, "RBM.exact_gradient")
        self._enumerable()
        W = self.weight.data.astype(np.float64)
        b = self.visible_bias.data.astype(np.float64)
        c = self.hidden_bias.data.astype(np.float64)
        log_z = self.log_partition()
        if self.n_hidden <= self.n_visible:
            h = all_binary_states(self.n_hidden)
            p_h = np.exp(h @ c + _softplus(h @ W + b).sum(axis=1) - log_z)  # P(h)
            mean_v = _sigmoid(h @ W + b)  # E[v | h]
            model_w, model_b, model_c = (h.T * p_h) @ mean_v, p_h @ mean_v, p_h @ h
        else:
            states = all_binary_states(self.n_visible)
            a = states @ W.T + c
            p_v = np.exp(states @ b + _softplus(a).sum(axis=1) - log_z)  # P(v) = e^{-F(v)}/Z
            mean_h = _sigmoid(a)  # E[h | v]
            model_w, model_b, model_c = (mean_h.T * p_v) @ states, p_v @ states, p_v @ mean_h
        v64 = v.astype(np.float64)
        data_h = _sigmoid(v64 @ W.T + c)
        dtype = self.weight.dtype
        self.weight.grad += (model_w - data_h.T @ v64 / len(v)).astype(dtype)
        self.visible_bias.grad += (model_b - v64.mean(axis=0)).astype(dtype)
        self.hidden_bias.grad += (model_c - data_h.mean(axis=0)).astype(dtype)
        return -self.log_likelihood(v)

    def _enumerable(self):
        smaller = min(self.n_visible, self.n_hidden)
        if smaller > MAX_ENUMERATED_UNITS:
            raise ValueError(f"RBM: the exact partition function sums over 2**{smaller} "
                             f"states; that is only done for models with at most "
                             f"{MAX_ENUMERATED_UNITS} units in the smaller layer (use the "
                             f"pseudo-likelihood or the reconstruction error to monitor a "
                             f"large RBM)")

    # ------------------------------------------------------------------ as a layer
    def forward(self, v):
        v = self._visible(v, "forward")
        p = self.hidden_probabilities(v)
        self.save_for_backward(v, p)
        return p

    def backward(self, grad_out):
        v, p = self.saved_tensors
        g = grad_out * p * (1 - p)
        self.weight.grad += g.T @ v
        self.hidden_bias.grad += g.sum(axis=0)
        return g @ self.weight.data if self.needs_input_grad else None

    def extra_repr(self):
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}"


def contrastive_divergence(k=1, persistent=False, weight_decay=0.0):
    """A loss for :func:`dlcore.train.fit_numpy`: ``loss(rbm, batch)`` adds the CD-k gradient
    (see :meth:`RBM.contrastive_divergence`) and returns ``(objective, reconstruction)``, so
    that :func:`dlcore.train.reconstruction_error` can be passed as a metric."""
    positive_int(k, "k", "contrastive_divergence")

    def loss(rbm, batch):
        v = batch[0] if isinstance(batch, (tuple, list)) else batch
        if not isinstance(rbm, RBM):
            raise TypeError(f"contrastive_divergence trains a dlcore.nn.RBM, got "
                            f"{type(rbm).__name__}")
        if not rbm.training:  # validation: the objective of a CD step, no gradient kept
            saved = [p.grad.copy() for p in rbm.parameters()]
            result = rbm.contrastive_divergence(v, k, False, None, weight_decay)
            for p, g in zip(rbm.parameters(), saved):
                p.grad[...] = g
            return result
        return rbm.contrastive_divergence(v, k, persistent, None, weight_decay)

    loss.__name__ = f"{'P' if persistent else ''}CD-{k}"
    return loss
