"""Published ImageNet weights, fetched safely, and the names of the 1,000 classes.

The chapters that show a trained network (Chapters 8 and 9) load torchvision's published
weights into this package's builders, whose ``state_dict`` layout is torchvision's. Every such
cell goes through :func:`pretrained`, which asks ``torch.hub`` for both safeguards it leaves off
by default:

- ``check_hash=True``: the file's SHA-256 must begin with the eight hex digits in its name
  (``alexnet-owt-7be5be79.pth``); a corrupt or substituted file is refused, not loaded;
- ``weights_only=True``: the file is read as tensors only; a pickle that would run code is refused.

The weights are cached where ``torch.hub`` caches them (``$TORCH_HOME/hub/checkpoints``).
Offline, :func:`pretrained` raises :class:`WeightsUnavailable` with one line that says which URL
and what to do. A mirror is named with ``DLCORE_WEIGHTS_URL`` (the folder that holds the files,
which keep their names and so their hashes); a test or a fork adds an entry to
:data:`PUBLISHED` to serve a stand-in of its own.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from importlib import resources
from typing import Callable

import torch

from .._errors import ReaderError

__all__ = ["PUBLISHED", "PublishedWeights", "WeightsUnavailable", "pretrained",
           "imagenet_classes", "top_classes"]

_TORCHVISION = "https://download.pytorch.org/models/"


@dataclass(frozen=True)
class PublishedWeights:
    """Where one set of weights lives (``base_url + file``; the file name carries the first
    eight hex digits of its SHA-256) and the builder whose ``state_dict`` it fits."""

    build: Callable[[], torch.nn.Module]
    file: str
    base_url: str = _TORCHVISION

    @property
    def url(self) -> str:
        """The address it is fetched from: ``DLCORE_WEIGHTS_URL`` (a mirror) if set."""
        return os.environ.get("DLCORE_WEIGHTS_URL", self.base_url).rstrip("/") + "/" + self.file


def _builder(name, **kwargs):
    def build():
        from .. import models
        return getattr(models, name)(**kwargs)
    return build


#: torchvision's published ImageNet weights for the builders of :mod:`dlcore.models`.
PUBLISHED: dict[str, PublishedWeights] = {
    "alexnet": PublishedWeights(_builder("alexnet"), "alexnet-owt-7be5be79.pth"),
    "vgg11": PublishedWeights(_builder("vgg11"), "vgg11-8a719046.pth"),
    "vgg13": PublishedWeights(_builder("vgg13"), "vgg13-19584684.pth"),
    "vgg16": PublishedWeights(_builder("vgg16"), "vgg16-397923af.pth"),
    "vgg19": PublishedWeights(_builder("vgg19"), "vgg19-dcbb9e9d.pth"),
    # torchvision's file holds the auxiliary heads too: build them so that the load is strict.
    "googlenet": PublishedWeights(_builder("googlenet", aux_logits=True),
                                  "googlenet-1378be20.pth"),
    "resnet18": PublishedWeights(_builder("resnet18"), "resnet18-f37072fd.pth"),
    "resnet34": PublishedWeights(_builder("resnet34"), "resnet34-b627a593.pth"),
    "resnet50": PublishedWeights(_builder("resnet50"), "resnet50-0676ba61.pth"),
    "resnet101": PublishedWeights(_builder("resnet101"), "resnet101-63fe2227.pth"),
    "resnet152": PublishedWeights(_builder("resnet152"), "resnet152-394f9c45.pth"),
}


class WeightsUnavailable(ReaderError, RuntimeError):
    """The published weights could not be fetched (no network, a refused or corrupt file)."""


def pretrained(name: str, *, progress: bool = False) -> torch.nn.Module:
    """The model ``name`` (a key of :data:`PUBLISHED`) with its published weights, loaded
    strictly, in evaluation mode, on the CPU.

    Raises :class:`WeightsUnavailable` when the file cannot be fetched or fails its hash, and
    ``KeyError`` naming the known models for an unknown ``name``.
    """
    if name not in PUBLISHED:
        raise KeyError(f"no published weights for {name!r}; known: {', '.join(PUBLISHED)}")
    entry = PUBLISHED[name]
    url = entry.url
    quiet = io.StringIO()  # torch.hub prints where its cache folder is
    try:
        with contextlib.redirect_stderr(quiet), contextlib.redirect_stdout(quiet):
            weights = torch.hub.load_state_dict_from_url(
                url, progress=progress, check_hash=True, weights_only=True, map_location="cpu")
    except Exception as error:  # URLError, an HTTP error, a hash mismatch, a refused pickle
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise WeightsUnavailable(  # no machine path here: chapters store this line
            f"the weights for {name} could not be fetched from {url} ({reason}). Without the "
            f"network, put {entry.file} in the checkpoints folder of torch.hub.get_dir(), or "
            f"set DLCORE_WEIGHTS_URL to a folder that serves it.") from error
    model = entry.build()
    model.load_state_dict(weights, strict=True)
    return model.eval()


def imagenet_classes() -> list[str]:
    """The names of ImageNet's 1,000 classes in the order of the networks' outputs, as
    torchvision lists them (shipped with dlcore, so no download is needed)."""
    text = resources.files("dlcore.models").joinpath("imagenet_classes.txt").read_text("utf-8")
    names = text.splitlines()
    assert len(names) == 1000, "dlcore/models/imagenet_classes.txt must hold 1,000 names"
    return names


def top_classes(probabilities, k: int = 5, names=None) -> list[tuple[str, float]]:
    """The ``k`` most probable classes of one image, as ``(name, probability)`` pairs, most
    probable first. ``probabilities`` is a vector over the classes (a tensor or an array);
    ``names`` defaults to :func:`imagenet_classes`."""
    p = torch.as_tensor(probabilities).detach().flatten().cpu()
    names = imagenet_classes() if names is None else list(names)
    if len(names) != len(p):
        raise ValueError(f"{len(p)} probabilities but {len(names)} class names")
    top = p.topk(min(k, len(p)))
    return [(names[i], float(v)) for v, i in zip(top.values.tolist(), top.indices.tolist())]
