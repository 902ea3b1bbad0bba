"""dlcore: the shared package of *Deep Learning, Executable*.

Modules (one idea each):

- :mod:`dlcore.nn`     NumPy reference layers (forward and backward written out).
- :mod:`dlcore.data`   MNIST, Fashion-MNIST and CIFAR-10 loaders with checksums and a cache.
- :mod:`dlcore.train`  device choice, seeding, a training loop.
- :mod:`dlcore.plot`   the figures the chapters share.

Sub-modules are imported on demand, so ``import dlcore`` stays cheap and never imports torch.
"""

__version__ = "0.1.0"
