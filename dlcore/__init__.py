"""dlcore: the shared package of *Deep Learning, Executable*.

Modules (one idea each):

- :mod:`dlcore.nn`     NumPy reference layers (forward and backward written out).
- :mod:`dlcore.data`   MNIST, Fashion-MNIST and CIFAR-10 loaders with checksums and a cache.
- :mod:`dlcore.twins`  copy a ``dlcore.nn`` model's state_dict to its torch twin and back.
- :mod:`dlcore.train`  device choice, seeding, one training loop for torch and NumPy models.
- :mod:`dlcore.distributed` the same loop on several processes (torchrun), checkpoints.
- :mod:`dlcore.plot`   the figures the chapters share.
- :mod:`dlcore.probe`  per-layer statistics of a ``dlcore.nn`` network (Chapter 3).
- :mod:`dlcore.convolution` convolution arithmetic and pooling in NumPy (Chapter 6).
- :mod:`dlcore.exercises`, :mod:`dlcore.ledger` exercise checkers; the claims ledger.

Sub-modules are imported on demand, so ``import dlcore`` stays cheap and never imports torch.
"""

__version__ = "0.2.0"
