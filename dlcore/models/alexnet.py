"""AlexNet (Krizhevsky, Sutskever & Hinton 2012) in three layouts, and its normalisations
(Chapter 8).

``alexnet()`` (``variant="torchvision"``) is parameter for parameter torchvision's ``alexnet``:
64-192-384-256-256 filters, no normalisation, an adaptive 6×6 average pool, the same
``state_dict`` keys and shapes (``features.0.weight`` … ``classifier.6.bias``), 61,100,840
parameters for 1,000 classes, so the published ImageNet weights load into it with
``strict=True``. ``variant="paper"`` is the network of the paper: 96-256-384-384-256 filters,
layers 2, 4 and 5 split into two groups (the two GPUs, which saw only their own half of the
layer below), local response normalisation after layers 1 and 2, overlapping 3×3 max pooling
of stride 2, dropout 0.5 before the two 4,096-unit layers; 60,965,224 parameters. Its input is
227×227: the paper says 224, but an 11×11 convolution of stride 4 only gives its 55×55 maps
from 227 pixels. ``variant="cifar"`` keeps the five convolutions and three fully connected
layers at a scale that trains on a CPU: 32×32 inputs, 3×3 kernels, 2×2 pooling, 1,024-unit
fully connected layers (7,506,762 parameters for 10 classes).

Every variant takes switches for the tricks the chapter measures one at a time: ``lrn`` (local
response normalisation after the first two convolutions), ``overlap`` (3×3 pooling windows of
stride 2 instead of 2×2), ``dropout`` (its probability, 0 for none) and ``activation``
(``"relu"`` or ``"tanh"``); ``width`` scales every layer's filters and hidden units (the
chapter's fixed-budget experiments use a quarter-width network); ``hidden_layers`` (2, 1 or 0)
and ``conv34`` remove layers for Zeiler and Fergus's ablation; ``init`` is torch's default
(``"torch"``), He et al.'s (``"he"``) or the paper's (``"paper"``). With ``overlap`` the ``"cifar"`` variant pads its 3×3 pooling windows
by 1, so that its maps shrink 32 → 16 → 8 → 4 either way, as the paper's do (55 → 27 → 13 → 6)
with 2×2 or 3×3 windows.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["AlexNet", "alexnet", "PAPER_LRN", "paper_lrn", "local_response_norm",
           "local_contrast_norm"]

#: The paper's local response normalisation: k = 2, n = 5, α = 1e-4, β = 0.75 (section 3.3).
PAPER_LRN = {"k": 2.0, "n": 5, "alpha": 1e-4, "beta": 0.75}


def paper_lrn(k: float = 2.0, n: int = 5, alpha: float = 1e-4, beta: float = 0.75):
    """``torch.nn.LocalResponseNorm`` computing the paper's formula

        b_i = a_i / (k + α Σ_{j=i-n/2}^{i+n/2} a_j²)^β,

    the sum over the n channels around i. torch divides its ``alpha`` by ``size`` (it averages
    the squares), so the paper's α becomes ``alpha = α·n`` there."""
    return nn.LocalResponseNorm(size=n, alpha=alpha * n, beta=beta, k=k)


def local_response_norm(x, k=2.0, n=5, alpha=1e-4, beta=0.75):
    """The paper's formula written out (a reference for :func:`paper_lrn`): for each channel i,
    the sum of squares over channels max(0, i - n//2) … min(C - 1, i + n//2)."""
    if x.dim() != 4:
        raise ValueError(f"local_response_norm expects (N, C, H, W), got {tuple(x.shape)}")
    squares = x ** 2
    channels = x.shape[1]
    sums = torch.stack([squares[:, max(0, i - n // 2):min(channels, i + n // 2 + 1)].sum(1)
                        for i in range(channels)], dim=1)
    return x / (k + alpha * sums) ** beta


def local_contrast_norm(x, size: int = 7, sigma: float | None = None, eps: float = 1e-4):
    """Local contrast normalisation (Jarrett et al. 2009, as used before LRN): subtract from
    each pixel the Gaussian-weighted mean of its ``size``×``size`` neighbourhood over all
    channels, then divide by the Gaussian-weighted standard deviation of that neighbourhood
    (where it exceeds the mean standard deviation of the image; below it the divisor is that
    mean, so flat regions are not blown up). ``sigma`` defaults to ``size / 4``. The borders
    use zero padding with the weights renormalised, so a constant image maps to zero
    everywhere."""
    if x.dim() != 4:
        raise ValueError(f"local_contrast_norm expects (N, C, H, W), got {tuple(x.shape)}")
    if size < 1 or size % 2 == 0:
        raise ValueError(f"local_contrast_norm: size must be odd and positive, got {size}")
    sigma = size / 4 if sigma is None else sigma
    r = torch.arange(size, dtype=x.dtype, device=x.device) - size // 2
    g = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma ** 2))
    channels = x.shape[1]
    kernel = (g / (g.sum() * channels)).expand(1, channels, size, size)

    def local_mean(t):
        ones = torch.ones_like(t[:, :1].expand(-1, channels, -1, -1))
        weight_sum = F.conv2d(ones, kernel, padding=size // 2)  # < 1 near the borders
        return F.conv2d(t, kernel, padding=size // 2) / weight_sum

    centred = x - local_mean(x)
    std = local_mean(centred ** 2).sqrt()
    floor = std.mean(dim=(1, 2, 3), keepdim=True).clamp_min(eps)
    return centred / torch.maximum(std, floor)


_LAYOUTS = {
    # filters, (kernel, stride, padding) of each convolution, groups, input side, pooling
    "torchvision": dict(filters=(64, 192, 384, 256, 256), kernels=((11, 4, 2), (5, 1, 2),
                        (3, 1, 1), (3, 1, 1), (3, 1, 1)), groups=(1, 1, 1, 1, 1), side=224,
                        hidden=4096, lrn=False, overlap=True),
    "paper": dict(filters=(96, 256, 384, 384, 256), kernels=((11, 4, 0), (5, 1, 2), (3, 1, 1),
                  (3, 1, 1), (3, 1, 1)), groups=(1, 2, 1, 2, 2), side=227, hidden=4096,
                  lrn=True, overlap=True),
    "cifar": dict(filters=(64, 192, 384, 256, 256), kernels=((3, 1, 1), (3, 1, 1), (3, 1, 1),
                  (3, 1, 1), (3, 1, 1)), groups=(1, 1, 1, 1, 1), side=32, hidden=1024,
                  lrn=False, overlap=False),
}


class AlexNet(nn.Module):
    """AlexNet as ``features`` (five convolutions with ReLUs, pooling after the first, second
    and fifth), ``avgpool`` (adaptive, to the 6×6 — 4×4 for ``"cifar"`` — maps the classifier
    expects) and ``classifier`` (dropout, 4,096 units, dropout, 4,096 units, classes), as
    torchvision numbers them. See the module docstring for the variants and switches;
    ``input_size`` is the (C, H, W) each variant was designed for."""

    variants = tuple(_LAYOUTS)

    def __init__(self, num_classes: int = 1000, variant: str = "torchvision",
                 lrn: bool | None = None, overlap: bool | None = None, dropout: float = 0.5,
                 activation: str = "relu", in_channels: int = 3, width: float = 1.0,
                 hidden_layers: int = 2, conv34: bool = True, init: str = "torch"):
        super().__init__()
        if variant not in _LAYOUTS:
            raise ValueError(f"AlexNet: unknown variant {variant!r}; expected one of "
                             f"{', '.join(map(repr, _LAYOUTS))}")
        if activation not in ("relu", "tanh"):
            raise ValueError(f"AlexNet: activation must be 'relu' or 'tanh', got {activation!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"AlexNet: dropout must be in [0, 1), got {dropout}")
        for name, value in (("num_classes", num_classes), ("in_channels", in_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"AlexNet: {name} must be a positive int, got {value!r}")
        if not 0 < width <= 1:
            raise ValueError(f"AlexNet: width must be in (0, 1], got {width}")
        if init not in ("torch", "he", "paper"):
            raise ValueError(f"AlexNet: init must be 'torch', 'he' or 'paper', got {init!r}")
        if hidden_layers not in (0, 1, 2):
            raise ValueError(f"AlexNet: hidden_layers must be 0, 1 or 2, got {hidden_layers!r}")
        layout = _LAYOUTS[variant]
        self.variant = variant
        self.lrn = layout["lrn"] if lrn is None else lrn
        self.overlap = layout["overlap"] if overlap is None else overlap
        self.input_size = (in_channels, layout["side"], layout["side"])
        act = nn.ReLU if activation == "relu" else nn.Tanh
        pad = 1 if variant == "cifar" else 0  # 32 -> 16 -> 8 -> 4 either way

        def pool():
            return nn.MaxPool2d(3, 2, padding=pad) if self.overlap else nn.MaxPool2d(2, 2)

        layers, c_in = [], in_channels
        for i, (c_out, (k, s, p), g) in enumerate(zip(layout["filters"], layout["kernels"],
                                                      layout["groups"])):
            if i in (2, 3) and not conv34:
                continue
            c_out = max(g, round(c_out * width / g) * g)
            layers += [nn.Conv2d(c_in, c_out, k, s, p, groups=g), act()]
            if i < 2 and self.lrn:
                layers.append(paper_lrn())
            if i in (0, 1, 4):
                layers.append(pool())
            c_in = c_out
        self.features = nn.Sequential(*layers)
        side = 6 if variant != "cifar" else 4
        self.avgpool = nn.AdaptiveAvgPool2d((side, side))
        hidden, fan_in, head = max(1, round(layout["hidden"] * width)), c_in * side * side, []
        for _ in range(hidden_layers):
            head += [nn.Dropout(dropout), nn.Linear(fan_in, hidden), act()]
            fan_in = hidden
        self.classifier = nn.Sequential(*head, nn.Linear(fan_in, num_classes))
        self.init = init
        if init != "torch":
            self._initialise(init, activation)

    @torch.no_grad()
    def _initialise(self, init, activation):
        """``"he"``: weights N(0, gain²/fan_in) with the activation's gain (√2 for ReLU, 5/3
        for tanh), biases 0. ``"paper"``: weights N(0, 0.01²); biases 1 in the second, fourth
        and fifth convolutions and the hidden fully connected layers (positive inputs for the
        ReLUs), 0 elsewhere (Krizhevsky et al. 2012, section 5)."""
        layers = [m for m in self.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        for i, layer in enumerate(layers):
            if init == "he":
                gain = nn.init.calculate_gain(activation)
                fan_in = layer.weight[0].numel()
                layer.weight.normal_(0.0, gain / fan_in ** 0.5)
                layer.bias.zero_()
            else:
                layer.weight.normal_(0.0, 0.01)
                convs = [j for j, m in enumerate(layers) if isinstance(m, nn.Conv2d)]
                ones = {convs[k] for k in (1, 3, 4) if k < len(convs)}
                ones |= {j for j, m in enumerate(layers[:-1]) if isinstance(m, nn.Linear)}
                layer.bias.fill_(1.0 if i in ones else 0.0)

    def forward(self, x):
        if x.dim() != 4 or x.shape[1] != self.input_size[0]:
            raise ValueError(f"AlexNet expects images (N, {self.input_size[0]}, H, W), "
                             f"e.g. {(1, *self.input_size)}; got {tuple(x.shape)}")
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def alexnet(num_classes: int = 1000, variant: str = "torchvision", **switches) -> AlexNet:
    """AlexNet: ``"torchvision"`` (61,100,840 parameters, torchvision's layout and weights),
    ``"paper"`` (Krizhevsky et al. 2012, 60,965,224) or ``"cifar"`` (32×32 inputs); keyword
    switches ``lrn``, ``overlap``, ``dropout``, ``activation``, ``in_channels`` as in
    :class:`AlexNet`."""
    return AlexNet(num_classes, variant, **switches)

