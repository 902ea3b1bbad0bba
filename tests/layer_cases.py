"""The one table of dlcore.nn layer and loss cases.

Each case builds one of our modules (in a given dtype) and, where torch has one, its torch twin
(float64), with an input shape. tests/test_nn_layers.py runs every case against its twin,
tests/test_nn_gradcheck.py through the finite-difference checker, and both run the float32,
empty-batch and bad-gradient checks; tests/test_nn_layers.py also fails when a public layer of
dlcore.nn has no case here.
"""

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from dlcore import nn

F64 = np.float64


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@dataclass
class LayerCase:
    id: str
    make: Callable  # make(dtype) -> a dlcore.nn module, deterministic
    twin: Callable  # twin() -> the float64 torch module; our state is copied into it
    shape: tuple  # input shape, batch first
    scale: float = 1.0  # the input is scale * N(0, 1)
    kwargs: dict = field(default_factory=dict)  # forward keyword arguments (ours only)
    empty_twin: Callable = None  # the twin for an empty batch, where ``twin`` cannot take one

    def input(self, dtype=F64, seed=0, batch=None):
        shape = self.shape if batch is None else (batch, *self.shape[1:])
        return (self.scale * randn(*shape, seed=seed)).astype(dtype)


@dataclass
class LossCase:
    id: str
    make: Callable
    twin: Callable
    pred: np.ndarray
    target: np.ndarray


# --------------------------------------------------------------------------- torch twins
# of the two dlcore.nn modules that torch spells differently


class TorchTiedLinear(torch.nn.Module):
    """A decoder that uses an encoder weight transposed: y = h W + b."""

    def __init__(self, weight, bias=True):
        super().__init__()
        self.weight = weight
        out = weight.shape[1]
        self.bias = torch.nn.Parameter(torch.zeros(out, dtype=weight.dtype)) if bias else None

    def forward(self, h):
        return torch.nn.functional.linear(h, self.weight.t(), self.bias)


class TorchMaskedDropout(torch.nn.Module):
    """Inverted dropout with a given keep-mask, so both sides drop the same units."""

    def __init__(self, mask, p):
        super().__init__()
        self.mask, self.p = torch.from_numpy(mask).double(), p

    def forward(self, x):
        return x * self.mask / (1 - self.p) if self.p < 1 else x * 0


# --------------------------------------------------------------------------- builders


def linear(fin, fout, bias=True):
    return LayerCase(f"linear-{fin}-{fout}-{'bias' if bias else 'nobias'}",
                     lambda dt: nn.Linear(fin, fout, bias=bias, dtype=dt, rng=1),
                     lambda: torch.nn.Linear(fin, fout, bias=bias).double(), (4, fin))


def conv(n, c, h, w, f, k, s=1, p=0, bias=True, groups=1):
    return LayerCase(
        f"conv-{c}x{h}x{w}-f{f}-k{k}-s{s}-p{p}-g{groups}{'' if bias else '-nobias'}",
        lambda dt: nn.Conv2d(c, f, k, stride=s, padding=p, bias=bias, groups=groups, dtype=dt,
                             rng=2),
        lambda: torch.nn.Conv2d(c, f, k, stride=s, padding=p, bias=bias, groups=groups).double(),
        (n, c, h, w))


def pool(kind, n, c, h, w, k, s=None, p=0):
    ours, theirs = {"max": (nn.MaxPool2d, torch.nn.MaxPool2d),
                    "avg": (nn.AvgPool2d, torch.nn.AvgPool2d)}[kind]
    return LayerCase(f"{kind}pool-{h}x{w}-k{k}-s{s}-p{p}", lambda dt: ours(k, s, p),
                     lambda: theirs(k, s, p), (n, c, h, w))


def batchnorm(dims, shape, momentum=0.1, eps=1e-5, train=True):
    ours, theirs = {1: (nn.BatchNorm1d, torch.nn.BatchNorm1d),
                    2: (nn.BatchNorm2d, torch.nn.BatchNorm2d)}[dims]
    c = shape[1]

    def make(dt):
        layer = ours(c, eps=eps, momentum=momentum, dtype=dt)
        layer.weight.data[:] = randn(c, seed=5)
        layer.bias.data[:] = randn(c, seed=6)
        if not train:  # non-trivial running statistics, then evaluation mode
            layer(2 + 3 * randn(*shape, seed=3).astype(dt))
            layer.eval()
        return layer

    mode = "train" if train else "eval"
    return LayerCase(f"batchnorm{dims}d-{mode}-{shape}-m{momentum}-eps{eps}", make,
                     lambda: theirs(c, eps=eps, momentum=momentum).double(), shape, scale=3.0)


def lrn(size, shape, alpha=0.5, beta=0.75, k=2.0, scale=2.0):
    kw = dict(alpha=alpha, beta=beta, k=k)
    return LayerCase(f"lrn-{size}-{shape}-a{alpha}", lambda dt: nn.LocalResponseNorm(size, **kw),
                     lambda: torch.nn.LocalResponseNorm(size, **kw), shape, scale=scale)


def elementwise(name, make, twin, shape=(3, 4), scale=2.0):
    return LayerCase(f"{name}-{shape}", lambda dt: make(), twin, shape, scale=scale)


def dropout(p, shape):
    mask = np.random.default_rng(1).random(shape) >= p
    return LayerCase(f"dropout-{p}-{shape}", lambda dt: nn.Dropout(p, rng=3),
                     lambda: TorchMaskedDropout(mask, p), shape, kwargs={"mask": mask},
                     empty_twin=lambda: torch.nn.Dropout(p))


def tied_linear(fin, fout, bias=True):
    def make(dt):
        encoder = nn.Linear(fout, fin, dtype=dt, rng=4)  # weight (fin, fout)
        return nn.TiedLinear(encoder.weight, bias=bias, rng=5)

    def twin():
        weight = torch.nn.Parameter(torch.zeros(fin, fout, dtype=torch.float64))
        return TorchTiedLinear(weight, bias)

    return LayerCase(f"tied-linear-{fin}-{fout}-{bias}", make, twin, (3, fin))


def rbm_layer(nv, nh):
    """An RBM as a layer: P(h = 1 | v), the encoder it becomes when a DBN is unrolled."""
    from dlcore.models import RBM as TorchRBM

    def make(dt):
        rbm = nn.RBM(nv, nh, dtype=dt, rng=6)
        rbm.weight.data[...] = randn(nh, nv, seed=7).astype(dt)  # not 0.01: a real test
        rbm.hidden_bias.data[...] = randn(nh, seed=8).astype(dt)
        return rbm

    return LayerCase(f"rbm-{nv}-{nh}", make, lambda: TorchRBM(nv, nh).double(), (3, nv))


def small_cnn_case():
    def make(dt):
        # no convolution bias: BatchNorm subtracts the mean, so its gradient is exactly zero
        return nn.Sequential(nn.Conv2d(1, 2, 2, bias=False, dtype=dt, rng=0),
                             nn.BatchNorm2d(2, dtype=dt),
                             nn.Tanh(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(8, 2, dtype=dt, rng=1))

    def twin():
        return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 2, bias=False), torch.nn.BatchNorm2d(2),
                                   torch.nn.Tanh(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                                   torch.nn.Linear(8, 2)).double()

    return LayerCase("sequential-cnn", make, twin, (3, 1, 5, 5))


T = torch.nn
LAYER_CASES = [
    linear(5, 3), linear(7, 2), linear(1, 6, bias=False), linear(13, 11),
    tied_linear(4, 3), tied_linear(2, 5, bias=False),
    rbm_layer(6, 4), rbm_layer(3, 7),
    conv(2, 3, 7, 9, 4, 3),
    conv(1, 2, 8, 8, 3, 3, 2, 1),
    conv(3, 1, 6, 5, 2, (2, 3), (2, 1), (1, 0)),
    conv(2, 4, 5, 5, 3, 5, 1, 2, bias=False),
    conv(1, 1, 11, 7, 2, 4, 3, (1, 2)),
    conv(2, 3, 5, 6, 5, 1),
    conv(2, 2, 13, 13, 3, 11, 4, 2),
    conv(2, 4, 6, 6, 6, 3, 1, 1, groups=2),
    conv(1, 6, 5, 7, 3, (3, 2), 2, 1, groups=3),
    conv(2, 4, 5, 5, 8, 3, groups=4, bias=False),  # depthwise, two filters per channel
    pool("max", 2, 3, 8, 8, 2),
    pool("max", 1, 2, 7, 9, 3, 2, 1),
    pool("max", 2, 1, 6, 7, (2, 3), (1, 2), (1, 1)),
    pool("max", 3, 2, 7, 8, 3),
    pool("max", 1, 1, 5, 5, 2, 1),
    pool("max", 2, 2, 9, 6, (3, 2), (2, 2), (1, 0)),
    pool("max", 2, 3, 7, 9, 2, 2),  # 2×2 fast path with an odd last row and column
    pool("avg", 2, 3, 8, 8, 2),
    pool("avg", 1, 2, 7, 9, 3, 2, 1),
    pool("avg", 2, 1, 6, 7, (2, 3), (1, 2), (1, 1)),
    pool("avg", 2, 2, 9, 6, (3, 2), (2, 2), (1, 0)),
    elementwise("sigmoid", nn.Sigmoid, T.Sigmoid),
    elementwise("tanh", nn.Tanh, T.Tanh, shape=(1, 3, 2, 5)),
    elementwise("relu", nn.ReLU, T.ReLU),
    elementwise("leaky-relu", nn.LeakyReLU, T.LeakyReLU),
    elementwise("leaky-relu-0.2", lambda: nn.LeakyReLU(0.2), lambda: T.LeakyReLU(0.2),
                shape=(2, 3, 2, 2)),
    elementwise("elu", nn.ELU, T.ELU),
    elementwise("elu-0.5", lambda: nn.ELU(0.5), lambda: T.ELU(0.5)),
    elementwise("softmax-1", lambda: nn.Softmax(1), lambda: T.Softmax(1), scale=5.0),
    elementwise("softmax-0", lambda: nn.Softmax(0), lambda: T.Softmax(0), scale=5.0),
    elementwise("softmax--1", lambda: nn.Softmax(-1), lambda: T.Softmax(-1), (2, 3, 4), 5.0),
    elementwise("log-softmax-1", lambda: nn.LogSoftmax(1), lambda: T.LogSoftmax(1), scale=5.0),
    elementwise("log-softmax-0", lambda: nn.LogSoftmax(0), lambda: T.LogSoftmax(0), scale=5.0),
    elementwise("log-softmax-1-3d", lambda: nn.LogSoftmax(1), lambda: T.LogSoftmax(1),
                (2, 3, 4), 5.0),
    elementwise("flatten", nn.Flatten, T.Flatten, shape=(2, 3, 2, 2)),
    elementwise("flatten-0", lambda: nn.Flatten(0, -1), lambda: T.Flatten(0, -1), (2, 3, 2)),
    elementwise("flatten-2-3", lambda: nn.Flatten(2, 3), lambda: T.Flatten(2, 3), (2, 3, 2, 2)),
    dropout(0.3, (4, 5)), dropout(0.5, (2, 3, 2, 2)), dropout(0.0, (3, 4)),
    batchnorm(1, (5, 4)), batchnorm(1, (4, 3, 5), momentum=None),
    batchnorm(1, (5, 4), train=False),
    batchnorm(2, (2, 3, 2, 3)), batchnorm(2, (3, 2, 3, 3), eps=0.1, momentum=0.5),
    batchnorm(2, (2, 3, 2, 2), train=False),
    lrn(1, (2, 3, 2, 2)), lrn(2, (1, 6, 3)), lrn(3, (2, 5, 2, 2)), lrn(4, (1, 6, 3), beta=0.5),
    lrn(5, (2, 7, 2, 3)), lrn(5, (2, 8, 2, 2), alpha=1e-4, scale=10.0),  # AlexNet's values
    small_cnn_case(),
]


def _rng(seed):
    return np.random.default_rng(seed)


LOSS_CASES = [
    LossCase("mse", nn.MSELoss, torch.nn.MSELoss, randn(3, 4, seed=10), randn(3, 4, seed=1)),
    LossCase("cross-entropy", nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss,
             randn(5, 3, seed=10), _rng(1).integers(0, 3, 5)),
    LossCase("nll", nn.NLLLoss, torch.nn.NLLLoss, np.log(_rng(2).dirichlet(np.ones(3), 4)),
             _rng(2).integers(0, 3, 4)),
    LossCase("bce-with-logits", nn.BCEWithLogitsLoss, torch.nn.BCEWithLogitsLoss,
             randn(2, 3, seed=10), _rng(3).uniform(size=(2, 3))),
]


def public_layer_classes():
    """Every public dlcore.nn Module class that has a backward of its own."""
    classes = set()
    for name in nn.__all__:
        obj = getattr(nn, name)
        if (isinstance(obj, type) and issubclass(obj, nn.Module) and obj is not nn.Module
                and obj.backward is not nn.Module.backward):
            classes.add(obj)
    return classes
