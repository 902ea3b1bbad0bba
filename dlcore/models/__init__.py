"""PyTorch models, one file per family, with builders named like torchvision's.

- :mod:`dlcore.models.autoencoder` — autoencoders (tied weights optional), their regularisers and
  corruption processes, greedy layer-wise pretraining (Chapter 4);
- :mod:`dlcore.models.rbm` — restricted Boltzmann machines (CD-k, persistent CD, exact likelihood
  of small models) and deep belief networks, unrolled into autoencoders or classifiers (Chapter 5);
- :mod:`dlcore.models.lenet` — LeNet-5 (the modern variant and the paper's) and the lectures'
  small CNN (Chapter 7);
- :mod:`dlcore.models.alexnet` — AlexNet in torchvision's layout, the paper's and a CIFAR-scale
  one, local response and local contrast normalisation (Chapter 8);
- :mod:`dlcore.models.vgg` — VGG configurations A–E from the paper's table (Chapter 9);
- :mod:`dlcore.models.googlenet` — GoogLeNet in torchvision's layout and the paper's, the
  inception module with and without its 1×1 reductions (Chapter 9);
- :mod:`dlcore.models.resnet` — ResNet-18 … 152 and the paper's CIFAR ResNets with their plain
  twins (Chapter 9);
- :mod:`dlcore.models.summary` — per-layer output shapes, parameters, multiply-adds (counted by
  torch's ``FlopCounterMode``) and neurons;
- :mod:`dlcore.models.published` — torchvision's published ImageNet weights, fetched with their
  hash checked and read as tensors only, and the names of the 1,000 classes (Chapters 8, 9).

This package imports torch and never :mod:`dlcore.nn`; the twin tests tie the two sides together.
Names are loaded on first use, so ``import dlcore.models`` stays cheap.
"""

import importlib
import sys
import types

_FAMILY = {
    # autoencoder.py
    "Autoencoder": "autoencoder", "sparsity_penalty": "autoencoder",
    "kl_sparsity_penalty": "autoencoder", "contractive_penalty": "autoencoder",
    "masking_noise": "autoencoder", "gaussian_noise": "autoencoder",
    "pretrain_greedy": "autoencoder", "unroll": "autoencoder",
    "reconstruction_loss": "autoencoder", "classifier_from_encoder": "autoencoder",
    # rbm.py
    "RBM": "rbm", "DBN": "rbm", "contrastive_divergence": "rbm",
    # lenet.py
    "LeNet5": "lenet", "lenet5": "lenet", "LectureCNN": "lenet", "lecture_cnn": "lenet",
    # alexnet.py
    "AlexNet": "alexnet", "alexnet": "alexnet", "paper_lrn": "alexnet",
    "local_response_norm": "alexnet", "local_contrast_norm": "alexnet",
    # summary.py
    "summary": "summary", "summary_table": "summary", "stack_receptive_field": "summary",
    # vgg.py
    "VGG": "vgg", "vgg": "vgg", "CONFIGS": "vgg", "vgg11": "vgg", "vgg13": "vgg", "vgg16": "vgg", "vgg19": "vgg",
    "vgg11_bn": "vgg", "vgg13_bn": "vgg", "vgg16_bn": "vgg", "vgg19_bn": "vgg",
    # googlenet.py
    "GoogLeNet": "googlenet", "googlenet": "googlenet", "Inception": "googlenet",
    "INCEPTION_TABLE": "googlenet",
    # resnet.py
    "ResNet": "resnet", "BasicBlock": "resnet", "Bottleneck": "resnet",
    "resnet18": "resnet", "resnet34": "resnet", "resnet50": "resnet", "resnet101": "resnet",
    "resnet152": "resnet", "CifarResNet": "resnet", "cifar_resnet": "resnet",
    # published.py
    "PUBLISHED": "published", "PublishedWeights": "published",
    "WeightsUnavailable": "published", "pretrained": "published",
    "imagenet_classes": "published", "top_classes": "published",
}

__all__ = sorted(_FAMILY)


class _Package(types.ModuleType):
    """Where a file and its builder share a name (``alexnet.py`` and ``alexnet()``), importing
    the file binds the *module* to the package's attribute; the builder is what users mean."""

    def __setattr__(self, name, value):
        if isinstance(value, types.ModuleType) and _FAMILY.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name):
    if name in _FAMILY:
        return getattr(importlib.import_module(f".{_FAMILY[name]}", __name__), name)
    raise AttributeError(f"module 'dlcore.models' has no attribute {name!r}")


def __dir__():
    return __all__
