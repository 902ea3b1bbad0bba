"""LeNet-5 (LeCun et al. 1998) in two forms, and the lectures' small CNN (Chapter 7).

``lenet5(variant="modern")`` is the network most code calls LeNet-5 today: ReLU, 2×2 max
pooling, full connections between the two convolutions, 1×28×28 input with the first
convolution padded by 2 (which stands for the paper's 32×32 field), 6-16-120-84-10 maps or
units, 61,706 parameters. ``lenet5(variant="paper")`` is the paper's own architecture as far
as it can be written exactly:

=====  ==========================================================  ===========  =========
layer  what it computes                                            output       trainable
=====  ==========================================================  ===========  =========
C1     6 convolutions 5×5 of the 1×32×32 input                     6@28×28            156
S2     per map: the sum of each 2×2 block × a coefficient + bias   6@14×14             12
C3     16 convolutions 5×5, each over the S2 maps of Table I       16@10×10         1,516
S4     as S2                                                       16@5×5              32
C5     120 convolutions 5×5 over all 16 maps                       120@1×1         48,120
F6     84 units, fully connected                                   84              10,164
out    ``num_classes`` units                                       10                 850
=====  ==========================================================  ===========  =========

Every layer up to F6 is followed by the paper's squashing function ``1.7159·tanh(2x/3)``
(:class:`ScaledTanh`). Two departures, both stated where they matter: the output layer is a
plain linear layer (the paper's output units are Euclidean radial basis functions with fixed,
hand-designed parameters and its loss is not the cross-entropy), and the input is a 32×32
array as given (the paper also rescaled pixels so that the background is −0.1 and the ink
1.175). The weights start as the paper's did: uniform in ±2.4/F, F the unit's fan-in.

``lecture_cnn(in_channels=3)`` is the lectures' CIFAR-10 network: 64 and 128 filters 5×5,
each followed by a ReLU and 2×2 max pooling, then 128 hidden units and ``num_classes``
outputs, on 32×32 inputs.

All three are ``torch.nn.Sequential`` subclasses: their layers are numbered as a
:class:`dlcore.nn.Sequential` of the same layers numbers them, so the NumPy twin of the modern
LeNet-5 and this module share their ``state_dict`` keys (``"0.weight"`` … ``"11.bias"``), and
a loop ``for layer in model`` walks through the feature maps. A wrong input shape is refused
with a message naming the expected one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LeNet5", "lenet5", "LectureCNN", "lecture_cnn", "C3_TABLE", "ScaledTanh",
           "Subsampling", "ConnectionTableConv2d", "count_parameters"]

#: LeCun et al. (1998), Table I: the S2 maps that each of the 16 C3 maps combines. Six see
#: three contiguous maps, six four contiguous ones, three four non-contiguous ones, one all six.
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)

# The paper's layer names and where each layer sits in the Sequential.
_MODERN_LAYERS = {"C1": 0, "S2": 2, "C3": 3, "S4": 5, "C5": 7, "F6": 9, "output": 11}
_PAPER_LAYERS = {"C1": 0, "S2": 2, "C3": 4, "S4": 6, "C5": 8, "F6": 11, "output": 13}


class ScaledTanh(nn.Module):
    """The paper's squashing function ``A·tanh(S·x)`` with ``A = 1.7159`` and ``S = 2/3``,
    chosen so that f(1) = 1 and f(−1) = −1 (LeCun et al. 1998, appendix A)."""

    amplitude, slope = 1.7159, 2.0 / 3.0

    def forward(self, x):
        return self.amplitude * torch.tanh(self.slope * x)

    def extra_repr(self):
        return f"amplitude={self.amplitude}, slope={self.slope:.4f}"


class Subsampling(nn.Module):
    """The paper's S2 and S4: for each map, the four inputs of every non-overlapping 2×2 block
    are added, multiplied by the map's trainable coefficient and shifted by its trainable bias
    (two parameters per map). The squashing that follows is a separate layer."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = _positive_int(channels, "channels", "Subsampling")
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        block_sums = F.avg_pool2d(x, 2, divisor_override=1)  # the sum of each 2×2 block
        return block_sums * self.weight[:, None, None] + self.bias[:, None, None]

    def extra_repr(self):
        return f"{self.channels}, kernel_size=2, stride=2"


class ConnectionTableConv2d(nn.Conv2d):
    """A convolution in which output map ``j`` sees only the input maps ``table[j]``.

    The weight keeps torch's dense shape (out, in, kh, kw); a fixed 0/1 buffer ``connections``
    (out, in, 1, 1) multiplies it in every forward pass. So the unconnected kernels start at
    zero, receive a zero gradient, and stay zero under SGD or Adam; :func:`count_parameters`
    counts only the connected ones.
    """

    def __init__(self, in_channels, out_channels, kernel_size, table, **kwargs):
        super().__init__(in_channels, out_channels, kernel_size, **kwargs)
        if len(table) != out_channels:
            raise ValueError(f"ConnectionTableConv2d: the table lists {len(table)} output "
                             f"maps, expected out_channels = {out_channels}")
        connections = torch.zeros(out_channels, in_channels, 1, 1)
        for j, inputs in enumerate(table):
            bad = [i for i in inputs if not 0 <= i < in_channels]
            if bad or not inputs:
                raise ValueError(f"ConnectionTableConv2d: output map {j} lists input maps "
                                 f"{tuple(inputs)}; expected a non-empty subset of "
                                 f"0..{in_channels - 1}")
            connections[j, list(inputs)] = 1.0
        self.register_buffer("connections", connections, persistent=False)
        with torch.no_grad():
            self.weight.mul_(connections)

    def forward(self, x):
        return self._conv_forward(x, self.weight * self.connections, self.bias)


def count_parameters(module: nn.Module) -> int:
    """The trainable numbers of ``module``: every entry of every parameter, except the kernels
    a :class:`ConnectionTableConv2d` leaves unconnected (the paper's count)."""
    total = 0
    for m in module.modules():
        for name, p in m.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            if isinstance(m, ConnectionTableConv2d) and name == "weight":
                total += int(m.connections.sum().item()) * p.shape[2] * p.shape[3]
            else:
                total += p.numel()
    return total


def _positive_int(value, name, owner):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}: {name} must be an int, got {type(value).__name__} "
                        f"{value!r}")
    if value < 1:
        raise ValueError(f"{owner}: {name} must be >= 1, got {value}")
    return value


class _ImageSequential(nn.Sequential):
    """A Sequential that refuses inputs of the wrong shape with a message saying which shape
    it expects (instead of a matrix-size error several layers down)."""

    input_shape: tuple[int, int, int]
    hint = ""

    def forward(self, x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{type(self).__name__} expects a torch.Tensor of shape "
                            f"(N, {', '.join(map(str, self.input_shape))}), got "
                            f"{type(x).__name__}")
        if x.dim() != 4 or tuple(x.shape[1:]) != self.input_shape:
            c, h, w = self.input_shape
            raise ValueError(f"{type(self).__name__} expects inputs of shape (N, {c}, {h}, {w}),"
                             f" got {tuple(x.shape)}{self.hint}")
        return super().forward(x)

    def __getitem__(self, index):
        """``model[i]`` is a layer; ``model[a:b]`` a plain ``nn.Sequential`` of those layers
        (e.g. ``model[:6]``, the convolutional part), which takes inputs of any size."""
        if isinstance(index, slice):
            return nn.Sequential(*list(self)[index])
        return super().__getitem__(index)


class LeNet5(_ImageSequential):
    """LeNet-5 as a ``torch.nn.Sequential``; ``variant`` is ``"modern"`` or ``"paper"``.

    ``"modern"``: 1×28×28 inputs; Conv 5×5 (padding 2) → ReLU → MaxPool 2 → Conv 5×5 → ReLU →
    MaxPool 2 → Flatten → Linear 400→120 → ReLU → Linear 120→84 → ReLU → Linear 84→classes;
    61,706 parameters for 10 classes, torch's default initialisation.

    ``"paper"``: 1×32×32 inputs; C1, S2, C3 (with the connection table :data:`C3_TABLE`), S4,
    C5, F6, each followed by :class:`ScaledTanh`, then a *linear* output layer where the paper
    has radial basis function units (see the module docstring); 60,850 trainable parameters
    for 10 classes, initialised uniformly in ±2.4/fan-in as in the paper.

    ``layers`` maps the paper's layer names (C1, S2, C3, S4, C5, F6, output) to positions in
    the Sequential; :meth:`layer_parameters` counts each one's trainable parameters.
    """

    variants = ("modern", "paper")

    def __init__(self, variant: str = "modern", num_classes: int = 10):
        if variant not in self.variants:
            raise ValueError(f"LeNet5: unknown variant {variant!r}; expected one of "
                             f"{', '.join(map(repr, self.variants))}")
        _positive_int(num_classes, "num_classes", "LeNet5")
        super().__init__(*(_modern(num_classes) if variant == "modern"
                           else _paper(num_classes)))
        self.variant, self.num_classes = variant, num_classes
        if variant == "modern":
            self.input_shape, self.layers = (1, 28, 28), dict(_MODERN_LAYERS)
            self.hint = " (MNIST digits as they come; the first convolution pads them by 2)"
        else:
            self.input_shape, self.layers = (1, 32, 32), dict(_PAPER_LAYERS)
            self.hint = (" (the paper's 32×32 field: pad a 28×28 digit by 2 on each side, "
                         "e.g. torch.nn.functional.pad(x, (2, 2, 2, 2)))")
            self._paper_init()

    def _paper_init(self):
        """Weights and biases uniform in ±2.4/F, F the fan-in of the unit (LeCun et al. 1998,
        section II.B; for C3 the fan-in of each map follows its row of the table)."""
        with torch.no_grad():
            for layer in self:
                if isinstance(layer, Subsampling):
                    bound = torch.full((layer.channels,), 2.4 / 4)
                elif isinstance(layer, ConnectionTableConv2d):
                    fan_in = layer.connections.sum(dim=(1, 2, 3)) * layer.weight[0, 0].numel()
                    bound = 2.4 / fan_in
                elif isinstance(layer, (nn.Conv2d, nn.Linear)):
                    fan_in = layer.weight[0].numel()
                    bound = torch.full((layer.weight.shape[0],), 2.4 / fan_in)
                else:
                    continue
                shape = (-1,) + (1,) * (layer.weight.dim() - 1)
                layer.weight.uniform_(-1, 1).mul_(bound.reshape(shape))
                layer.bias.uniform_(-1, 1).mul_(bound)
                if isinstance(layer, ConnectionTableConv2d):
                    layer.weight.mul_(layer.connections)

    def layer_parameters(self) -> dict[str, int]:
        """Trainable parameters per layer, under the paper's layer names."""
        return {name: count_parameters(self[i]) for name, i in self.layers.items()}


def _modern(num_classes):
    return [nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, num_classes)]


def _paper(num_classes):
    return [nn.Conv2d(1, 6, 5), ScaledTanh(),                           # C1: 6@28×28
            Subsampling(6), ScaledTanh(),                               # S2: 6@14×14
            ConnectionTableConv2d(6, 16, 5, C3_TABLE), ScaledTanh(),    # C3: 16@10×10
            Subsampling(16), ScaledTanh(),                              # S4: 16@5×5
            nn.Conv2d(16, 120, 5), ScaledTanh(), nn.Flatten(),          # C5: 120@1×1
            nn.Linear(120, 84), ScaledTanh(),                           # F6: 84
            nn.Linear(84, num_classes)]                                 # output


def lenet5(variant: str = "modern", num_classes: int = 10) -> LeNet5:
    """LeNet-5: ``variant="modern"`` (ReLU, max pooling, 28×28 inputs, 61,706 parameters) or
    ``"paper"`` (LeCun et al. 1998's architecture, 32×32 inputs); see :class:`LeNet5`."""
    return LeNet5(variant, num_classes)


class LectureCNN(_ImageSequential):
    """The lectures' small CNN for 32×32 images: Conv 5×5 ``in_channels`` → 64 → ReLU →
    MaxPool 2 → Conv 5×5 64→128 → ReLU → MaxPool 2 → Flatten → Linear 128·5·5→128 → ReLU →
    Linear 128 → ``num_classes``. 620,810 parameters for CIFAR-10 (3 channels, 10 classes).
    ``activation="tanh"`` puts tanh units where the ReLUs are (Chapter 8 compares the two)."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, activation: str = "relu"):
        _positive_int(in_channels, "in_channels", "LectureCNN")
        _positive_int(num_classes, "num_classes", "LectureCNN")
        units = {"relu": nn.ReLU, "tanh": nn.Tanh}
        if activation not in units:
            raise ValueError(f"LectureCNN: activation must be 'relu' or 'tanh', got "
                             f"{activation!r}")
        act = units[activation]
        super().__init__(
            nn.Conv2d(in_channels, 64, 5), act(), nn.MaxPool2d(2),      # 64@14×14
            nn.Conv2d(64, 128, 5), act(), nn.MaxPool2d(2), nn.Flatten(),  # 128@5×5
            nn.Linear(128 * 5 * 5, 128), act(), nn.Linear(128, num_classes))
        self.input_shape = (in_channels, 32, 32)
        self.hint = " (32×32 images: pad a 28×28 one by 2 on each side)"


def lecture_cnn(in_channels: int = 3, num_classes: int = 10,
                activation: str = "relu") -> LectureCNN:
    """The lectures' small CNN (:class:`LectureCNN`) for inputs of shape
    (N, ``in_channels``, 32, 32)."""
    return LectureCNN(in_channels, num_classes, activation)
