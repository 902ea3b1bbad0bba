"""Residual networks (He et al. 2016) for ImageNet and for CIFAR-sized images (Chapter 9).

``resnet18`` … ``resnet152`` have torchvision's layout and ``state_dict`` keys: a 7×7 stem,
four stages of :class:`BasicBlock` (two 3×3 convolutions, ``expansion`` 1) or
:class:`Bottleneck` (1×1, 3×3, 1×1, ``expansion`` 4) built by one ``_make_layer``, each block
computing ``relu(F(x) + shortcut(x))`` with a 1×1 projection where the shape changes. torchvision
puts a bottleneck's stride in its 3×3 convolution ("ResNet v1.5"); ``stride_in_1x1=True`` puts it
in the first 1×1 convolution, as the paper did, which is what its Table 1's multiply-adds count.

``cifar_resnet(depth)`` is the paper's CIFAR-10 family (section 4.2): a 3×3 convolution of 16
filters, three stages of (depth − 2)/6 basic blocks with 16, 32 and 64 filters, global average
pooling and a linear layer; shortcuts are identities, with the paper's option A where the shape
changes (subsample, pad the new channels with zeros), so ResNet-20 has 0.27 M parameters.
``plain=True`` builds the same network without shortcuts, its "plain" twin.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet34", "resnet50",
           "resnet101", "resnet152", "CifarResNet", "cifar_resnet"]


def _conv3x3(c_in, c_out, stride=1):
    return nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with batch normalisation; ``out = relu(F(x) + shortcut(x))``."""

    expansion = 1

    def __init__(self, c_in, planes, stride=1, downsample=None, stride_in_1x1=False):
        super().__init__()
        self.conv1 = _conv3x3(c_in, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1×1 (reduce), 3×3, 1×1 (expand ×4) convolutions with batch normalisation; the stride in
    the 3×3 convolution (torchvision) or, with ``stride_in_1x1``, in the first 1×1 (the paper)."""

    expansion = 4

    def __init__(self, c_in, planes, stride=1, downsample=None, stride_in_1x1=False):
        super().__init__()
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = nn.Conv2d(c_in, planes, 1, s1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, s3)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """The ImageNet ResNet: ``block`` (:class:`BasicBlock` or :class:`Bottleneck`) repeated
    ``layers[i]`` times in stage i (64, 128, 256, 512 planes), torchvision's layout."""

    def __init__(self, block, layers, num_classes=1000, stride_in_1x1=False):
        super().__init__()
        self.inplanes, self.stride_in_1x1 = 64, stride_in_1x1
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.stride_in_1x1)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes=1000, **kwargs):
    """ResNet-18: basic blocks [2, 2, 2, 2]; 11,689,512 parameters."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, **kwargs)


def resnet34(num_classes=1000, **kwargs):
    """ResNet-34: basic blocks [3, 4, 6, 3]; 21,797,672 parameters."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, **kwargs)


def resnet50(num_classes=1000, **kwargs):
    """ResNet-50: bottlenecks [3, 4, 6, 3]; 25,557,032 parameters."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, **kwargs)


def resnet101(num_classes=1000, **kwargs):
    """ResNet-101: bottlenecks [3, 4, 23, 3]; 44,549,160 parameters."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes, **kwargs)


def resnet152(num_classes=1000, **kwargs):
    """ResNet-152: bottlenecks [3, 8, 36, 3]; 60,192,808 parameters."""
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes, **kwargs)


class _CifarBlock(nn.Module):
    """A basic block whose shortcut is the identity, or the paper's option A where the shape
    changes (every other pixel, the new channels zero); none at all when ``plain``."""

    def __init__(self, c_in, c_out, stride, plain):
        super().__init__()
        self.conv1 = _conv3x3(c_in, c_out, stride)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = _conv3x3(c_out, c_out)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.plain, self.stride, self.extra = plain, stride, c_out - c_in

    def shortcut(self, x):
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra)) if self.extra else x

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out if self.plain else out + self.shortcut(x))


class CifarResNet(nn.Module):
    """The paper's CIFAR-10 networks of ``depth`` = 6n + 2 weight layers (20, 32, 44, 56, 110,
    …): 16-32-64 filters, option-A shortcuts, or none with ``plain``."""

    def __init__(self, depth: int = 20, num_classes: int = 10, plain: bool = False,
                 in_channels: int = 3):
        super().__init__()
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or \
                (depth - 2) % 6:
            raise ValueError(f"CifarResNet: depth must be 6n + 2 (20, 32, 44, 56, 110, ...), "
                             f"got {depth!r}")
        n = (depth - 2) // 6
        self.depth, self.plain = depth, plain
        self.conv1 = _conv3x3(in_channels, 16)
        self.bn1 = nn.BatchNorm2d(16)
        blocks, c_in = [], 16
        for stage, width in enumerate((16, 32, 64)):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(_CifarBlock(c_in, width, stride, plain))
                c_in = width
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def cifar_resnet(depth: int = 20, num_classes: int = 10, plain: bool = False,
                 in_channels: int = 3) -> CifarResNet:
    """The paper's CIFAR ResNet of ``depth`` layers (``plain=True``: without shortcuts)."""
    return CifarResNet(depth, num_classes, plain, in_channels)
