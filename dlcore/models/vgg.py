"""VGG (Simonyan & Zisserman 2015), configurations A–E from one table (Chapter 9).

``CONFIGS`` reads like the paper's Table 1: each configuration is a list of stages, each stage a
list of convolutions (``3`` for a 3×3 convolution, ``1`` for the 1×1 convolutions of
configuration C, ``"LRN"`` for A-LRN's local response normalisation), with the number of
filters of each stage in ``STAGE_WIDTHS``; every stage ends with 2×2 max pooling. The builders
``vgg11``, ``vgg13``, ``vgg16``, ``vgg19`` (configurations A, B, D, E) and their ``_bn``
variants have torchvision's layout and ``state_dict`` keys (``features.N``, ``avgpool``,
``classifier.{0,3,6}``), so its published weights load with ``strict=True``;
``vgg(config)`` builds any row of the table, A-LRN and C included.
"""

from __future__ import annotations

import torch
from torch import nn

from .alexnet import paper_lrn

__all__ = ["VGG", "vgg", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn",
           "vgg16_bn", "vgg19_bn", "CONFIGS", "STAGE_WIDTHS"]

#: Filters per stage: the same in every configuration.
STAGE_WIDTHS = (64, 128, 256, 512, 512)

#: The paper's Table 1: per stage, its convolutions (3: 3×3, 1: 1×1, "LRN": normalisation).
CONFIGS = {
    "A": [[3], [3], [3, 3], [3, 3], [3, 3]],
    "A-LRN": [[3, "LRN"], [3], [3, 3], [3, 3], [3, 3]],
    "B": [[3, 3], [3, 3], [3, 3], [3, 3], [3, 3]],
    "C": [[3, 3], [3, 3], [3, 3, 1], [3, 3, 1], [3, 3, 1]],
    "D": [[3, 3], [3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]],
    "E": [[3, 3], [3, 3], [3, 3, 3, 3], [3, 3, 3, 3], [3, 3, 3, 3]],
}


def _features(config, batch_norm, in_channels):
    layers, c_in = [], in_channels
    for width, stage in zip(STAGE_WIDTHS, CONFIGS[config]):
        for item in stage:
            if item == "LRN":  # the paper's A-LRN uses AlexNet's normalisation
                layers.append(paper_lrn())
                continue
            layers.append(nn.Conv2d(c_in, width, item, padding=item // 2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
            c_in = width
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """``features`` (the configuration's convolutions, ReLUs and poolings), ``avgpool``
    (adaptive, to 7×7) and ``classifier`` (4,096, 4,096, ``num_classes`` units with dropout),
    as torchvision's VGG. ``config`` is a key of :data:`CONFIGS`."""

    def __init__(self, config: str = "D", num_classes: int = 1000, batch_norm: bool = False,
                 dropout: float = 0.5, in_channels: int = 3):
        super().__init__()
        if config not in CONFIGS:
            raise ValueError(f"VGG: unknown configuration {config!r}; expected one of "
                             f"{', '.join(CONFIGS)}")
        self.config = config
        self.features = _features(config, batch_norm, in_channels)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(dropout),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def vgg(config: str = "D", num_classes: int = 1000, batch_norm: bool = False, **kwargs) -> VGG:
    """Any configuration of the paper's Table 1: ``"A"``, ``"A-LRN"``, ``"B"``, ``"C"``,
    ``"D"``, ``"E"``."""
    return VGG(config, num_classes, batch_norm, **kwargs)


def vgg11(num_classes=1000, **kwargs):
    """Configuration A (11 weight layers), torchvision's ``vgg11``: 132,863,336 parameters."""
    return VGG("A", num_classes, False, **kwargs)


def vgg13(num_classes=1000, **kwargs):
    """Configuration B (13 weight layers), torchvision's ``vgg13``: 133,047,848 parameters."""
    return VGG("B", num_classes, False, **kwargs)


def vgg16(num_classes=1000, **kwargs):
    """Configuration D (16 weight layers), torchvision's ``vgg16``: 138,357,544 parameters."""
    return VGG("D", num_classes, False, **kwargs)


def vgg19(num_classes=1000, **kwargs):
    """Configuration E (19 weight layers), torchvision's ``vgg19``: 143,667,240 parameters."""
    return VGG("E", num_classes, False, **kwargs)


def vgg11_bn(num_classes=1000, **kwargs):
    """Configuration A with batch normalisation after every convolution (``vgg11_bn``)."""
    return VGG("A", num_classes, True, **kwargs)


def vgg13_bn(num_classes=1000, **kwargs):
    """Configuration B with batch normalisation after every convolution (``vgg13_bn``)."""
    return VGG("B", num_classes, True, **kwargs)


def vgg16_bn(num_classes=1000, **kwargs):
    """Configuration D with batch normalisation after every convolution (``vgg16_bn``)."""
    return VGG("D", num_classes, True, **kwargs)


def vgg19_bn(num_classes=1000, **kwargs):
    """Configuration E with batch normalisation after every convolution (``vgg19_bn``)."""
    return VGG("E", num_classes, True, **kwargs)
