"""Restricted Boltzmann machines and deep belief networks in PyTorch (Chapter 5).

:class:`RBM` is the twin of :class:`dlcore.nn.RBM`: the same parameters under the same names
(``weight`` (n_hidden, n_visible), ``visible_bias``, ``hidden_bias``), the same formulas, the same
``noise`` arguments, so that both make the same update from the same random numbers. Here the
contrastive-divergence update comes from autograd: :meth:`RBM.cd_objective` returns
``mean F(v0) - mean F(v_k)`` with the negative sample ``v_k`` detached, whose gradient is exactly
the CD-k estimate of the log-likelihood gradient (with the opposite sign), so any torch optimiser
and :func:`dlcore.train.fit` train an RBM like any other model (:func:`contrastive_divergence`
is the loss to pass).

``hidden="gaussian"`` gives linear hidden units with unit-variance Gaussian noise (Hinton &
Salakhutdinov 2006 use them for the code layer of a deep autoencoder): ``h ~ N(c + Wv, 1)`` and
``F(v) = -bᵀv - Σ_j (c_j + W_j·v)² / 2`` (up to a constant).

:class:`DBN` stacks RBMs greedily (:meth:`DBN.pretrain`) and unrolls them into a deep
autoencoder (:meth:`DBN.unroll`, a :class:`dlcore.models.autoencoder.Autoencoder`) or a
classifier (:meth:`DBN.classifier`) for fine-tuning by backpropagation.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .autoencoder import Autoencoder, classifier_from_encoder

__all__ = ["RBM", "DBN", "contrastive_divergence", "all_binary_states"]

#: Exact sums enumerate 2 ** min(n_visible, n_hidden) configurations; beyond this it refuses.
MAX_ENUMERATED_UNITS = 20


def all_binary_states(n, dtype=torch.float64, device=None):
    """The 2**n binary vectors of length n, one per row, in counting order."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"all_binary_states: n must be a positive int, got {n!r}")
    if n > MAX_ENUMERATED_UNITS:
        raise ValueError(f"all_binary_states: 2**{n} states is too many to enumerate; at most "
                         f"{MAX_ENUMERATED_UNITS} units")
    codes = torch.arange(2 ** n, device=device)[:, None] >> torch.arange(n - 1, -1, -1,
                                                                         device=device)
    return (codes & 1).to(dtype)


def _check_binary(v, who):
    if v.numel() and not bool(((v == 0) | (v == 1)).all()):
        bad = v[(v != 0) & (v != 1)].flatten()[0].item()
        raise ValueError(f"{who} needs binary inputs (0 or 1), got a value {bad!r}; binarise "
                         f"grey levels first, e.g. (x > 0.5).float() or torch.bernoulli(x)")


class RBM(nn.Module):
    """Restricted Boltzmann machine with binary visible units and binary (``hidden=
    "bernoulli"``) or linear Gaussian (``hidden="gaussian"``) hidden units.

    Weights start N(0, 0.01²), biases at zero (Hinton's practical guide). ``forward(v)`` is the
    hidden units' mean given v, ``P(h = 1 | v)`` or ``c + Wv``: the RBM as an encoder layer.
    """

    def __init__(self, n_visible: int, n_hidden: int, hidden: str = "bernoulli"):
        super().__init__()
        for name, value in (("n_visible", n_visible), ("n_hidden", n_hidden)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"RBM: {name} must be a positive int, got {value!r}")
        if hidden not in ("bernoulli", "gaussian"):
            raise ValueError(f"RBM: hidden must be 'bernoulli' or 'gaussian', got {hidden!r}")
        self.n_visible, self.n_hidden, self.hidden = n_visible, n_hidden, hidden
        self.weight = nn.Parameter(0.01 * torch.randn(n_hidden, n_visible))
        self.visible_bias = nn.Parameter(torch.zeros(n_visible))
        self.hidden_bias = nn.Parameter(torch.zeros(n_hidden))
        # persistent CD's fantasy particles and their hidden means (not part of the state_dict)
        self.register_buffer("chain", None, persistent=False)
        self.register_buffer("chain_hidden", None, persistent=False)

    # ------------------------------------------------------------------ inputs
    def _visible(self, v, who):
        if not isinstance(v, torch.Tensor):
            raise TypeError(f"RBM.{who} expects a torch.Tensor (N, {self.n_visible}), got "
                            f"{type(v).__name__}")
        if v.dim() != 2 or v.shape[1] != self.n_visible:
            raise ValueError(f"RBM.{who} expects visible vectors of shape (N, "
                             f"{self.n_visible}), got {tuple(v.shape)}")
        if not v.is_floating_point() or v.dtype != self.weight.dtype:
            raise TypeError(f"RBM.{who}: the parameters are {self.weight.dtype}, the input is "
                            f"{v.dtype}; convert one of them (e.g. x.float())")
        return v

    def _hidden(self, h, who):
        if not isinstance(h, torch.Tensor) or h.dim() != 2 or h.shape[1] != self.n_hidden:
            shape = tuple(h.shape) if isinstance(h, torch.Tensor) else type(h).__name__
            raise ValueError(f"RBM.{who} expects hidden vectors of shape (N, {self.n_hidden}),"
                             f" got {shape}")
        return h

    @staticmethod
    def _noise(noise, like, who, kind="uniform"):
        if noise is None:
            return torch.rand_like(like) if kind == "uniform" else torch.randn_like(like)
        if tuple(noise.shape) != tuple(like.shape):
            raise ValueError(f"RBM.{who}: noise must have shape {tuple(like.shape)}, got "
                             f"{tuple(noise.shape)}")
        return noise.to(like)

    # ------------------------------------------------------------------ the model
    def hidden_preactivation(self, v):
        """``c + W v`` for each row, shape (N, n_hidden)."""
        return F.linear(self._visible(v, "hidden_preactivation"), self.weight, self.hidden_bias)

    def energy(self, v, h):
        """``E(v, h) = -bᵀv - cᵀh - hᵀWv`` (Gaussian hidden units: ``+ ‖h‖²/2``), shape (N,)."""
        v, h = self._visible(v, "energy"), self._hidden(h, "energy")
        e = -(v @ self.visible_bias) - (h @ self.hidden_bias) - ((h @ self.weight) * v).sum(1)
        return e + 0.5 * (h ** 2).sum(1) if self.hidden == "gaussian" else e

    def free_energy(self, v):
        """``F(v) = -bᵀv - Σ_j softplus(c_j + W_j·v)`` (Gaussian: ``- Σ_j (c_j + W_j·v)²/2``,
        dropping the constant ``n_hidden/2 · log 2π``), shape (N,)."""
        a = self.hidden_preactivation(v)
        hidden_term = F.softplus(a) if self.hidden == "bernoulli" else 0.5 * a ** 2
        return -(v @ self.visible_bias) - hidden_term.sum(1)

    def hidden_mean(self, v):
        """E[h | v]: ``σ(c + Wv)`` for binary hidden units, ``c + Wv`` for Gaussian ones."""
        a = self.hidden_preactivation(v)
        return torch.sigmoid(a) if self.hidden == "bernoulli" else a

    def visible_probabilities(self, h):
        """``P(v_i = 1 | h) = σ(b_i + (Wᵀh)_i)``, shape (N, n_visible)."""
        return torch.sigmoid(self._hidden(h, "visible_probabilities") @ self.weight
                             + self.visible_bias)

    def sample_h(self, v, noise=None):
        """(E[h | v], a sample of h). ``noise``: uniform numbers in [0, 1) for binary units
        (sample = mean > noise), standard normal ones for Gaussian units (mean + noise)."""
        mean = self.hidden_mean(v)
        return mean, self._sample_hidden_from_mean(mean, noise)

    def sample_v(self, h, noise=None):
        """(P(v = 1 | h), a binary sample of v); ``noise`` uniform in [0, 1)."""
        p = self.visible_probabilities(h)
        return p, (p > self._noise(noise, p, "sample_v")).to(p.dtype)

    def _sample_hidden_from_mean(self, mean, noise=None):
        if self.hidden == "bernoulli":
            return (mean > self._noise(noise, mean, "sample_h")).to(mean.dtype)
        return mean + self._noise(noise, mean, "sample_h", "normal")

    @torch.no_grad()
    def gibbs(self, v, k=1, noise=None):
        """k steps of block Gibbs sampling from ``v``; ``noise`` ``None`` or a pair
        (hidden_noise (k, N, n_hidden), visible_noise (k, N, n_visible)). Returns ``(v_k,
        P(v_k = 1 | h_{k-1}), P(v_1 = 1 | h_0))``, as :meth:`dlcore.nn.RBM.gibbs`."""
        v = self._visible(v, "gibbs")
        return self._chain(self.hidden_mean(v), k, noise, "gibbs")[:3]

    def _chain(self, mean, k, noise, who):
        """The chain from hidden means ``mean``: (v_k, P(v_k|h_{k-1}), P(v_1|h_0), E[h|v_k])."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"RBM.{who}: k must be a positive int, got {k!r}")
        noise_h, noise_v = (None, None) if noise is None else noise
        for name, arr, width in (("hidden", noise_h, self.n_hidden),
                                 ("visible", noise_v, self.n_visible)):
            if arr is not None and tuple(arr.shape) != (k, len(mean), width):
                raise ValueError(f"RBM.{who}: {name} noise must have shape "
                                 f"{(k, len(mean), width)}, got {tuple(arr.shape)}")
        first = None
        for step in range(k):
            h = self._sample_hidden_from_mean(mean, None if noise_h is None else noise_h[step])
            p_v, v = self.sample_v(h, None if noise_v is None else noise_v[step])
            first = p_v if first is None else first
            mean = self.hidden_mean(v)
        return v, p_v, first, mean

    def forward(self, v):
        return self.hidden_mean(v)

    # ------------------------------------------------------------------ learning
    def cd_objective(self, v0, k=1, persistent=False, noise=None, weight_decay=0.0,
                     reconstruct=True):
        """``(objective, reconstruction)``: ``mean F(v0) - mean F(v_k) + weight_decay/2 ‖W‖²``
        with ``v_k`` the end of a k-step Gibbs chain (from ``v0``, or with ``persistent`` where
        the last persistent call left the fantasy particles, continuing from the hidden means
        computed then), detached; ``objective.backward()`` leaves the CD-k update in ``.grad``,
        as :meth:`dlcore.nn.RBM.contrastive_divergence` does. ``reconstruction`` as there."""
        v0 = self._visible(v0, "cd_objective")
        if weight_decay < 0:
            raise ValueError(f"RBM.cd_objective: weight_decay must be >= 0, got {weight_decay}")
        with torch.no_grad():
            if persistent and self.chain is not None and self.chain.shape == v0.shape:
                start = self.chain_hidden
            else:  # CD, or the persistent chain's first update: from the data
                start = self.hidden_mean(v0)
            vk, _, reconstruction, mean_k = self._chain(start, k, noise, "cd_objective")
            if persistent:
                self.chain, self.chain_hidden = vk, mean_k
                reconstruction = (self.visible_probabilities(self.hidden_mean(v0))
                                  if reconstruct else None)
        objective = self.free_energy(v0).mean() - self.free_energy(vk).mean()
        if weight_decay:
            objective = objective + 0.5 * weight_decay * (self.weight ** 2).sum()
        return objective, reconstruction

    def reset_chain(self):
        """Forget the persistent chain."""
        self.chain = self.chain_hidden = None

    @torch.no_grad()
    def init_visible_bias(self, data, eps=1e-3):
        """``b_i = log(p_i / (1 - p_i))`` from the data's means, clipped to [eps, 1 - eps]."""
        p = self._visible(data, "init_visible_bias").mean(0).clamp(eps, 1 - eps)
        self.visible_bias.copy_(torch.log(p / (1 - p)))

    # ------------------------------------------------------------------ monitors
    @torch.no_grad()
    def reconstruction_error(self, v):
        """Squared error per example (summed over the visible units) of the one-step
        mean-field reconstruction P(v | E[h|v])."""
        r = self.visible_probabilities(self.hidden_mean(v))
        return float(((v - r) ** 2).sum(1).mean())

    @torch.no_grad()
    def pseudo_likelihood(self, v, index=None, generator=None):
        """``n_visible · log σ(F(ṽ) - F(v))`` per example, ṽ = v with unit ``index[n]`` of
        example n flipped (drawn at random when ``index`` is None); ``v`` binary."""
        v = self._visible(v, "pseudo_likelihood")
        _check_binary(v, "RBM.pseudo_likelihood")
        if index is None:
            index = torch.randint(0, self.n_visible, (len(v),), generator=generator,
                                  device=v.device)
        index = torch.as_tensor(index, device=v.device)
        if tuple(index.shape) != (len(v),) or index.is_floating_point():
            raise ValueError(f"RBM.pseudo_likelihood: index must be {len(v)} integers, got "
                             f"{index.dtype} of shape {tuple(index.shape)}")
        flipped = v.clone()
        rows = torch.arange(len(v), device=v.device)
        flipped[rows, index] = 1 - flipped[rows, index]
        gap = self.free_energy(flipped) - self.free_energy(v)
        return -self.n_visible * F.softplus(-gap)

    @torch.no_grad()
    def log_partition(self):
        """``log Z`` exactly (float64), enumerating the smaller layer's 2 ** n states; binary
        hidden units only."""
        if self.hidden != "bernoulli":
            raise ValueError("RBM.log_partition: only for binary hidden units")
        smaller = min(self.n_visible, self.n_hidden)
        if smaller > MAX_ENUMERATED_UNITS:
            raise ValueError(f"RBM: the exact partition function sums over 2**{smaller} "
                             f"states; at most {MAX_ENUMERATED_UNITS} units in the smaller "
                             f"layer")
        W, b, c = (t.double() for t in (self.weight, self.visible_bias, self.hidden_bias))
        if self.n_hidden <= self.n_visible:
            h = all_binary_states(self.n_hidden, device=W.device)
            return float(torch.logsumexp(h @ c + F.softplus(h @ W + b).sum(1), 0))
        v = all_binary_states(self.n_visible, device=W.device)
        return float(torch.logsumexp(v @ b + F.softplus(v @ W.T + c).sum(1), 0))

    @torch.no_grad()
    def log_likelihood(self, v):
        """Mean exact log-likelihood of binary ``v``, nats per example (small models only)."""
        _check_binary(self._visible(v, "log_likelihood"), "RBM.log_likelihood")
        return float(-self.free_energy(v).double().mean()) - self.log_partition()

    def extra_repr(self):
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}, hidden={self.hidden!r}"


def contrastive_divergence(k=1, persistent=False, weight_decay=0.0):
    """A loss for :func:`dlcore.train.fit`: ``loss(rbm, batch)`` returns
    ``rbm.cd_objective(batch[0], k, persistent, weight_decay=weight_decay)``, i.e. (objective,
    reconstruction), so :func:`dlcore.train.reconstruction_error` works as a metric."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"contrastive_divergence: k must be a positive int, got {k!r}")

    def loss(rbm, batch):
        if not isinstance(rbm, RBM):
            raise TypeError(f"contrastive_divergence trains a dlcore.models.RBM, got "
                            f"{type(rbm).__name__}")
        v = batch[0] if isinstance(batch, (tuple, list)) else batch
        return rbm.cd_objective(v, k, persistent and rbm.training, weight_decay=weight_decay)

    loss.__name__ = f"{'P' if persistent else ''}CD-{k}"
    return loss


class DBN(nn.Module):
    """A deep belief network: RBMs ``sizes[0]-sizes[1]``, ``sizes[1]-sizes[2]``, ... in a
    ``ModuleList`` (``dbn.rbms``), each trained on the hidden means of the one below.

    ``top="gaussian"`` gives the last RBM linear Gaussian hidden units (the code layer of
    Hinton & Salakhutdinov's deep autoencoders).
    """

    def __init__(self, sizes, top: str = "bernoulli"):
        super().__init__()
        sizes = list(sizes)
        if len(sizes) < 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1
                                 for s in sizes):
            raise ValueError(f"DBN: sizes must be at least two positive ints, got {sizes}")
        self.sizes, self.top = sizes, top
        last = len(sizes) - 2
        self.rbms = nn.ModuleList(RBM(a, b, hidden=top if i == last else "bernoulli")
                                  for i, (a, b) in enumerate(zip(sizes, sizes[1:])))

    def pretrain(self, data, train_layer):
        """Greedy layer-wise training: ``train_layer(i, rbm, inputs)`` trains RBM i on
        ``inputs`` (the ``data`` tensor for the first RBM, then the hidden means of the one
        below). Returns the inputs each RBM was trained on."""
        inputs, seen = data, []
        for i, rbm in enumerate(self.rbms):
            seen.append(inputs)
            train_layer(i, rbm, inputs)
            with torch.no_grad():
                inputs = rbm.hidden_mean(inputs)
        return seen

    def forward(self, v):
        """The top layer's hidden means, each layer's means fed to the next."""
        for rbm in self.rbms:
            v = rbm.hidden_mean(v)
        return v

    def unroll(self) -> Autoencoder:
        """The deep autoencoder of Hinton & Salakhutdinov (2006): encoder layer i computes
        RBM i's hidden means (weight W_i, bias c_i), decoder layers the visible
        probabilities in reverse order (weight W_iᵀ, bias b_i); untied, ready for fine-tuning."""
        deep = Autoencoder(self.sizes, activation="sigmoid",
                           code_activation="linear" if self.top == "gaussian" else "sigmoid",
                           output_activation="sigmoid")
        n = len(self.rbms)
        with torch.no_grad():
            for i, rbm in enumerate(self.rbms):
                deep.encoder[i].weight.copy_(rbm.weight)
                deep.encoder[i].bias.copy_(rbm.hidden_bias)
                deep.decoder[n - 1 - i].weight.copy_(rbm.weight.T)
                deep.decoder[n - 1 - i].bias.copy_(rbm.visible_bias)
        return deep

    def classifier(self, num_classes: int, depth: int | None = None) -> nn.Sequential:
        """The recognition path of the first ``depth`` RBMs (all by default): copies of their
        weights and hidden biases, each followed by a sigmoid, then a new linear output layer
        of ``num_classes`` scores, for supervised fine-tuning."""
        depth = len(self.rbms) if depth is None else depth
        if not 1 <= depth <= len(self.rbms):
            raise ValueError(f"DBN.classifier: depth must be in 1..{len(self.rbms)}, got {depth}")
        if any(rbm.hidden != "bernoulli" for rbm in list(self.rbms)[:depth]):
            raise ValueError("DBN.classifier: the recognition path is made of sigmoid units; "
                             "stop below the Gaussian top layer (depth=) or build the DBN "
                             "with top='bernoulli'")
        return classifier_from_encoder(self.unroll(), num_classes, activation="sigmoid",
                                       depth=depth)
