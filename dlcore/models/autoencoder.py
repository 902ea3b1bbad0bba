"""Autoencoders in PyTorch: h = f(x), r = g(h), trained to make r close to x.

:class:`Autoencoder` takes the layer sizes of its encoder (``[784, 256, 30]``) and mirrors them in
the decoder; ``tied=True`` makes every decoder layer use its encoder layer's weight transposed. The
regularisers are functions of ``(model, x, h)``: :func:`sparsity_penalty` (L1), :func:`kl_sparsity_penalty`
(a target mean activation), :func:`contractive_penalty` (the Frobenius norm of the encoder's Jacobian,
in closed form for a one-layer sigmoid encoder). :func:`masking_noise` and :func:`gaussian_noise` are the
corruption processes of denoising autoencoders. :func:`reconstruction_loss` turns all of these into a
loss callable for :func:`dlcore.train.fit`; :func:`pretrain_greedy` trains a deep autoencoder one layer
at a time and :func:`unroll` stacks the layers into one network for fine-tuning.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["Autoencoder", "sparsity_penalty", "kl_sparsity_penalty", "contractive_penalty",
           "masking_noise", "gaussian_noise", "reconstruction_loss", "pretrain_greedy", "unroll",
           "classifier_from_encoder"]

_ACTIVATIONS = {"sigmoid": torch.sigmoid, "relu": F.relu, "tanh": torch.tanh,
                "linear": lambda x: x}
_MODULES = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh, "linear": nn.Identity}


def _activation(name):
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {name!r}")
    return _ACTIVATIONS[name]


class Autoencoder(nn.Module):
    """An autoencoder with encoder sizes ``sizes`` (input first, code last), mirrored decoder.

    ``activation`` follows every hidden layer (encoder and decoder); ``code_activation`` the code
    layer; ``output_activation`` the reconstruction (``"sigmoid"`` for pixels in [0, 1]). With
    ``tied=True`` decoder layer i uses the transpose of encoder layer i's weight, so only its
    bias is its own. Parameter names follow ``encoder.0.weight``, ``decoder.0.bias``, ...
    """

    def __init__(self, sizes, activation="sigmoid", code_activation=None,
                 output_activation="sigmoid", tied=False):
        super().__init__()
        sizes = list(sizes)
        if len(sizes) < 2 or any(not isinstance(s, int) or s < 1 for s in sizes):
            raise ValueError(f"sizes must be at least two positive ints (input ... code), "
                             f"got {sizes}")
        self.sizes, self.tied = sizes, tied
        self.activation = _activation(activation)
        self.code_activation = _activation(code_activation or activation)
        self.output_activation = _activation(output_activation)
        self.encoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        pairs = list(zip(sizes[::-1], sizes[-2::-1]))
        if tied:
            self.decoder_bias = nn.ParameterList(nn.Parameter(torch.zeros(b)) for _, b in pairs)
        else:
            self.decoder = nn.ModuleList(nn.Linear(a, b) for a, b in pairs)

    def encode(self, x):
        """The code h = f(x)."""
        if x.shape[-1] != self.sizes[0]:
            raise ValueError(f"Autoencoder expects inputs with {self.sizes[0]} features, "
                             f"got shape {tuple(x.shape)}")
        for i, layer in enumerate(self.encoder):
            last = i == len(self.encoder) - 1
            x = (self.code_activation if last else self.activation)(layer(x))
        return x

    def decode(self, h):
        """The reconstruction r = g(h)."""
        n = len(self.encoder)
        for i in range(n):
            if self.tied:
                h = F.linear(h, self.encoder[n - 1 - i].weight.t(), self.decoder_bias[i])
            else:
                h = self.decoder[i](h)
            h = (self.output_activation if i == n - 1 else self.activation)(h)
        return h

    def forward(self, x):
        return self.decode(self.encode(x))


def sparsity_penalty(weight):
    """``Ω(h) = λ Σ_i |h_i|``, averaged over the batch, as a function of (model, x, h)."""
    return lambda model, x, h: weight * h.abs().sum(dim=1).mean()


def kl_sparsity_penalty(target, weight):
    """λ Σ_j KL(ρ ‖ ρ̂_j), ρ̂_j the mean activation of code unit j over the batch (codes in
    (0, 1), e.g. sigmoid): pushes every unit to be active a fraction ``target`` of the time."""
    if not 0 < target < 1:
        raise ValueError(f"target activation must be in (0, 1), got {target}")

    def penalty(model, x, h):
        rho_hat = h.mean(dim=0).clamp(1e-6, 1 - 1e-6)
        kl = target * torch.log(target / rho_hat) + (1 - target) * torch.log(
            (1 - target) / (1 - rho_hat))
        return weight * kl.sum()

    return penalty


def contractive_penalty(weight):
    """λ ‖∂h/∂x‖²_F averaged over the batch, for a one-layer sigmoid encoder h = σ(Wx + b):
    ∂h_j/∂x_i = h_j (1 - h_j) W_ji, so ‖J‖²_F = Σ_j (h_j (1 - h_j))² Σ_i W_ji²."""

    def penalty(model, x, h):
        if len(model.encoder) != 1:
            raise ValueError("the closed-form contractive penalty is for one-layer encoders")
        w_norms = model.encoder[0].weight.pow(2).sum(dim=1)  # Σ_i W_ji², one per unit j
        return weight * ((h * (1 - h)).pow(2) * w_norms).sum(dim=1).mean()

    return penalty


def masking_noise(fraction, generator=None):
    """Corruption C(x̃|x): set a random ``fraction`` of the entries to 0."""
    if not 0 <= fraction < 1:
        raise ValueError(f"masking fraction must be in [0, 1), got {fraction}")
    return lambda x: x * (torch.rand(x.shape, generator=generator, dtype=x.dtype) >= fraction)


def gaussian_noise(std, generator=None):
    """Corruption C(x̃|x): add N(0, std²) to every entry."""
    if std < 0:
        raise ValueError(f"noise std must be >= 0, got {std}")
    return lambda x: x + std * torch.randn(x.shape, generator=generator, dtype=x.dtype)


def reconstruction_loss(penalty=None, corrupt=None, criterion=None):
    """A loss for :func:`dlcore.train.fit` on batches ``(x, ...)``: encode the (corrupted, in
    training mode) input, decode, compare with the *clean* x (mean squared error unless
    ``criterion``), add ``penalty(model, x_in, h)``. Returns ``(loss, reconstruction)``."""
    criterion = criterion or nn.MSELoss()

    def loss(model, batch):
        x = batch[0]
        x_in = corrupt(x) if corrupt is not None and model.training else x
        h = model.encode(x_in)
        r = model.decode(h)
        value = criterion(r, x)
        if penalty is not None and model.training:
            value = value + penalty(model, x_in, h)
        return value, r

    return loss


def pretrain_greedy(sizes, data, train_fn, activation="sigmoid", code_activation=None,
                    output_activation="sigmoid"):
    """Greedy layer-wise pretraining: one autoencoder per pair of consecutive ``sizes``, each
    trained by ``train_fn(autoencoder, inputs)`` to reconstruct the codes of the one before (the
    ``data`` tensor for the first). Returns the trained one-layer autoencoders, in order.
    """
    layers, inputs = [], data
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        last = i == len(sizes) - 2
        ae = Autoencoder([a, b], activation=activation,
                         code_activation=code_activation if last else None,
                         output_activation=output_activation if i == 0 else activation)
        train_fn(ae, inputs)
        with torch.no_grad():
            inputs = ae.encode(inputs)
        layers.append(ae)
    return layers


def unroll(layers, activation="sigmoid", code_activation=None, output_activation="sigmoid"):
    """Stack one-layer autoencoders (from :func:`pretrain_greedy`) into one deep
    :class:`Autoencoder`: their encoders in order, their decoders in reverse."""
    sizes = [layers[0].sizes[0]] + [ae.sizes[1] for ae in layers]
    deep = Autoencoder(sizes, activation=activation, code_activation=code_activation,
                       output_activation=output_activation)
    with torch.no_grad():
        for i, ae in enumerate(layers):
            deep.encoder[i].load_state_dict(ae.encoder[0].state_dict())
            deep.decoder[len(layers) - 1 - i].load_state_dict(ae.decoder[0].state_dict())
    return deep


def classifier_from_encoder(autoencoder, num_classes, activation="sigmoid", depth=None):
    """A classifier for supervised fine-tuning: copies of the autoencoder's first ``depth``
    encoder layers (all by default), each followed by ``activation``, then a new linear output
    layer of ``num_classes`` scores.

    The copies start from the (pre)trained encoder weights; training the classifier leaves the
    autoencoder unchanged.
    """
    if activation not in _MODULES:
        raise ValueError(f"activation must be one of {sorted(_MODULES)}, got {activation!r}")
    depth = len(autoencoder.encoder) if depth is None else depth
    if not 1 <= depth <= len(autoencoder.encoder):
        raise ValueError(f"depth must be in 1..{len(autoencoder.encoder)}, got {depth}")
    layers = []
    for linear in list(autoencoder.encoder)[:depth]:
        copy = nn.Linear(linear.in_features, linear.out_features)
        copy.load_state_dict(linear.state_dict())
        layers += [copy, _MODULES[activation]()]
    layers.append(nn.Linear(autoencoder.sizes[depth], num_classes))
    return nn.Sequential(*layers)
