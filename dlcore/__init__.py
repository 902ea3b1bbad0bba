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

On a shared machine (a laptop running a browser, two notebooks, a CI runner) the OpenMP threads
of torch's CPU build spin while they wait for work, and steal the cores the other programs need:
measured here, one epoch took 375 s instead of 8 s beside a process using about one core.
``import dlcore`` therefore sets ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep when idle) unless the
environment already chose; OpenMP reads it once, when torch is first imported, so import dlcore
*before* torch, as every chapter's setup cell does (see :func:`dlcore.train.set_threads` and
``benchmarks/bench_contention.md``).
"""

import os
import sys

__version__ = "0.2.0"

# Too late to take effect if torch came first and the environment chose nothing: then
# dlcore.train.set_threads says so once.
_OMP_POLICY_TOO_LATE = "torch" in sys.modules and "OMP_WAIT_POLICY" not in os.environ
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
