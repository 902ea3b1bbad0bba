"""The device choice of :func:`dlcore.train.device`, in a module of its own so that
:mod:`dlcore.distributed` (which :mod:`dlcore.train` imports) can use it without a cycle."""

from __future__ import annotations

import os

__all__ = ["device"]


def device(prefer: str | None = None):
    """The best available torch device: CUDA, then Apple's MPS, then the CPU.

    ``prefer`` (or ``$DLCORE_DEVICE``) forces one: ``"cpu"``, ``"cuda"``, ``"cuda:1"``,
    ``"mps"``. A name torch does not know, or an accelerator this machine lacks, is an error
    that says what is available.
    """
    import torch

    origin = "device(prefer=...)"
    if prefer is None and os.environ.get("DLCORE_DEVICE"):
        prefer, origin = os.environ["DLCORE_DEVICE"], "the environment variable DLCORE_DEVICE"
    available = _available_devices(torch)
    if not prefer:
        return torch.device(available[0])
    try:
        chosen = torch.device(prefer)
    except (RuntimeError, ValueError):
        chosen = None
    if chosen is None or chosen.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{origin} is {prefer!r}, which is not a device: use one of "
                         f"{', '.join(available)} (available here), e.g. DLCORE_DEVICE=cpu")
    ok = (chosen.type == "cpu" or (chosen.type == "mps" and "mps" in available)
          or (chosen.type == "cuda" and torch.cuda.is_available()
              and (chosen.index or 0) < torch.cuda.device_count()))
    if not ok:
        raise ValueError(f"{origin} is {prefer!r}, but this machine has no such device; "
                         f"available here: {', '.join(available)}")
    return chosen


def _available_devices(torch):
    names = []
    if torch.cuda.is_available():
        names += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    return names + ["cpu"]
