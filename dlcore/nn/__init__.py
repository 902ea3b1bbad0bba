"""NumPy reference layers, named and shaped like their ``torch.nn`` twins.

Every layer is a :class:`Module` with ``forward(x)`` and ``backward(grad_out)``; backward
returns the gradient w.r.t. the input and adds the parameters' gradients to their ``.grad``.
Tensors are NumPy arrays in torch's (N, C, H, W) layout; this package never imports torch.

Sub-modules: :mod:`~dlcore.nn.init` (weight initialisation), :mod:`~dlcore.nn.optim`
(SGD, RMSprop, Adam, StepLR), :mod:`~dlcore.nn.rbm` (the restricted Boltzmann machine of
Chapter 5 and its contrastive-divergence loss), :mod:`~dlcore.nn.gradient_check` (centred
differences: :func:`gradcheck`, :func:`numerical_gradient`).
"""

from . import gradient_check, init, optim, rbm
from .activation import ELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .conv import Conv2d
from .dropout import Dropout
from .flatten import Flatten
from .gradient_check import gradcheck, numerical_gradient
from .linear import Linear, TiedLinear
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, ModuleList, Parameter, Sequential
from .normalization import BatchNorm1d, BatchNorm2d, LocalResponseNorm
from .pooling import AvgPool2d, MaxPool2d
from .rbm import RBM

__all__ = [
    "Parameter", "Module", "ModuleList", "Sequential",
    "Linear", "TiedLinear", "Flatten", "Conv2d", "MaxPool2d", "AvgPool2d",
    "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Softmax", "LogSoftmax",
    "Dropout", "BatchNorm1d", "BatchNorm2d", "LocalResponseNorm", "RBM",
    "MSELoss", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss",
    "init", "optim", "rbm", "gradient_check", "gradcheck", "numerical_gradient",
]
