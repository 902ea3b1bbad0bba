"""GoogLeNet (Szegedy et al. 2015), Inception v1 (Chapter 9).

``googlenet()`` has torchvision's layout and ``state_dict`` keys: every convolution is followed
by batch normalisation (:class:`BasicConv2d`), the branch the paper gives a 5×5 convolution has
a 3×3 one, and there is no local response normalisation — 6,624,904 parameters without the
auxiliary classifiers, 13,004,888 with them (``aux_logits=True``), as torchvision counts.
``googlenet(variant="paper")`` is the paper's network: plain convolutions with biases and ReLUs,
the 5×5 branch, local response normalisation after the first two stages, dropout 0.4 before
the classifier. :class:`Inception` takes ``reduce=False`` for the naive module (1×1, 3×3 and
5×5 convolutions and 3×3 pooling side by side, no 1×1 reductions), for comparison.

With ``aux_logits``, the two auxiliary classifiers (after inception 4a and 4d) are used in
training mode only: ``forward`` then returns ``(logits, aux1, aux2)`` — the paper adds their
losses with weight 0.3 — and in evaluation mode the logits alone.

torchvision's published weights (``googlenet-1378be20.pth``) include the auxiliary heads: they
load with ``strict=True`` into ``googlenet(aux_logits=True)`` (in evaluation mode the heads are
not run). They were converted from a network that expects inputs scaled to [-1, 1]: torchvision
feeds them ``2 * x - 1`` for ``x`` in [0, 1] (its ``transform_input`` step), and so must you.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .alexnet import paper_lrn

__all__ = ["BasicConv2d", "Inception", "InceptionAux", "GoogLeNet", "googlenet",
           "INCEPTION_TABLE"]

#: The paper's Table 1, per inception module: input channels, #1×1, #3×3 reduce, #3×3,
#: #5×5 reduce, #5×5, pool projection.
INCEPTION_TABLE = {
    "3a": (192, 64, 96, 128, 16, 32, 32), "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64), "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64), "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128), "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


class BasicConv2d(nn.Module):
    """A convolution without bias, batch normalisation (eps 0.001) and a ReLU (torchvision's
    layout); with ``paper=True`` a convolution with bias and a ReLU."""

    def __init__(self, c_in, c_out, paper=False, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, bias=paper, **kwargs)
        self.bn = None if paper else nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x):
        x = self.conv(x)
        return F.relu(x if self.bn is None else self.bn(x), inplace=True)


class Inception(nn.Module):
    """Four branches concatenated along the channels: 1×1; 1×1 then 3×3; 1×1 then 5×5 (3×3 in
    torchvision's layout); 3×3 max pooling then a 1×1 projection. ``reduce=False``: the naive
    module, whose 3×3 and 5×5 convolutions and pooling act on the input directly."""

    def __init__(self, c_in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, paper=False,
                 reduce=True):
        super().__init__()
        k5 = 5 if paper or not reduce else 3
        conv = lambda a, b, **kw: BasicConv2d(a, b, paper, **kw)  # noqa: E731
        self.branch1 = conv(c_in, ch1x1, kernel_size=1)
        if reduce:
            self.branch2 = nn.Sequential(conv(c_in, ch3x3red, kernel_size=1),
                                         conv(ch3x3red, ch3x3, kernel_size=3, padding=1))
            self.branch3 = nn.Sequential(conv(c_in, ch5x5red, kernel_size=1),
                                         conv(ch5x5red, ch5x5, kernel_size=k5, padding=k5 // 2))
            self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True),
                                         conv(c_in, pool_proj, kernel_size=1))
        else:
            self.branch2 = conv(c_in, ch3x3, kernel_size=3, padding=1)
            self.branch3 = conv(c_in, ch5x5, kernel_size=5, padding=2)
            self.branch4 = nn.MaxPool2d(3, 1, 1, ceil_mode=True)

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x),
                          self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """An auxiliary classifier: 4×4 average pooling, a 1×1 convolution to 128 maps, 1,024 units,
    dropout 0.7, the classes."""

    def __init__(self, c_in, num_classes, paper=False):
        super().__init__()
        self.conv = BasicConv2d(c_in, 128, paper, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(0.7)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))
        x = self.dropout(F.relu(self.fc1(torch.flatten(x, 1)), inplace=True))
        return self.fc2(x)


class GoogLeNet(nn.Module):
    """GoogLeNet (Inception v1), torchvision's layout or, with ``variant="paper"``, the
    paper's; see the module docstring."""

    def __init__(self, num_classes: int = 1000, aux_logits: bool = False,
                 variant: str = "torchvision"):
        super().__init__()
        if variant not in ("torchvision", "paper"):
            raise ValueError(f"GoogLeNet: variant must be 'torchvision' or 'paper', got "
                             f"{variant!r}")
        paper = variant == "paper"
        self.variant, self.aux_logits = variant, aux_logits
        self.conv1 = BasicConv2d(3, 64, paper, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.lrn1 = paper_lrn() if paper else None
        self.conv2 = BasicConv2d(64, 64, paper, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, paper, kernel_size=3, padding=1)
        self.lrn2 = paper_lrn() if paper else None
        self.maxpool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        for name in ("3a", "3b"):
            setattr(self, f"inception{name}", Inception(*INCEPTION_TABLE[name], paper=paper))
        self.maxpool3 = nn.MaxPool2d(3, 2, ceil_mode=True)
        for name in ("4a", "4b", "4c", "4d", "4e"):
            setattr(self, f"inception{name}", Inception(*INCEPTION_TABLE[name], paper=paper))
        self.maxpool4 = nn.MaxPool2d(2, 2, ceil_mode=True)
        for name in ("5a", "5b"):
            setattr(self, f"inception{name}", Inception(*INCEPTION_TABLE[name], paper=paper))
        self.aux1 = InceptionAux(512, num_classes, paper) if aux_logits else None
        self.aux2 = InceptionAux(528, num_classes, paper) if aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.4 if paper else 0.2)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        if self.lrn1 is not None:
            x = self.lrn1(x)
        x = self.conv3(self.conv2(x))
        if self.lrn2 is not None:
            x = self.lrn2(x)
        x = self.maxpool2(x)
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        logits = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        return (logits, aux1, aux2) if aux1 is not None else logits


def googlenet(num_classes: int = 1000, aux_logits: bool = False,
              variant: str = "torchvision") -> GoogLeNet:
    """GoogLeNet: torchvision's layout (6,624,904 parameters; 13,004,888 with
    ``aux_logits``) or ``variant="paper"``."""
    return GoogLeNet(num_classes, aux_logits, variant)
