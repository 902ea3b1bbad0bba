"""Device choice, seeding and thread control: the first lines of every chapter."""

from __future__ import annotations

import os
import random

import numpy as np

__all__ = ["device", "seed_everything", "set_threads"]


def device(prefer: str | None = None):
    """The best available torch device: CUDA, then Apple's MPS, then the CPU.

    ``prefer="cpu"`` (or ``$DLCORE_DEVICE=cpu``) forces a device, e.g. to compare with a GPU run.
    """
    import torch

    prefer = prefer or os.environ.get("DLCORE_DEVICE")
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0, deterministic: bool = True) -> np.random.Generator:
    """Seed Python, NumPy and torch; ask cuDNN and torch for deterministic kernels.

    Returns a fresh ``np.random.Generator`` seeded with ``seed``, the recommended source of
    randomness for NumPy code in the chapters. Same-machine reruns are then bit-identical;
    across CPUs, BLAS kernels may still differ in the last bits (see the book's testing notes).
    """
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # dlcore.nn and dlcore.data work without torch
        return np.random.default_rng(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        # Needed by cuBLAS for deterministic GEMMs; harmless on CPU.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    return np.random.default_rng(seed)


def set_threads(n: int = 2) -> None:
    """Fix torch's intra-op thread count so timings and float summation order are repeatable."""
    import torch

    torch.set_num_threads(n)
