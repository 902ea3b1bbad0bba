"""The bridge between a :mod:`dlcore.nn` model and its PyTorch twin.

Both sides name their arrays alike (``"0.weight"``, ``"3.running_mean"``) and list them in a
``state_dict``, so copying one model into the other is a copy by key, with every shape checked
first. Models that name their layers differently pass ``key_map``: a dict or a function from
the NumPy model's keys to the torch model's keys (a key the map does not rename keeps its
name). The map must send each array to a torch key of its own: two arrays sent to one key are
refused (a tied weight, one array under two names, may go to one key from both). This module
imports torch; :mod:`dlcore.nn` never does.

>>> to_torch(numpy_model, torch_model)      # NumPy weights into the torch twin
>>> from_torch(torch_model, numpy_model)    # and back, e.g. after training on a GPU
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

__all__ = ["to_torch", "from_torch", "matched_keys"]


def _mapper(key_map):
    if key_map is None:
        return lambda key: key
    if isinstance(key_map, Mapping):
        return lambda key: key_map.get(key, key)
    if callable(key_map):
        return key_map
    raise TypeError(f"key_map must be a dict or a function from the NumPy model's keys to the "
                    f"torch model's keys, got {type(key_map).__name__}")


def _and(names):
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _refuse_collisions(pairs, ours):
    """Refuse two arrays sent to one torch key: one would overwrite the other (to_torch), or
    both would receive one array (from_torch). One array under two names is fine."""
    sources = {}
    for key, their_key in pairs:
        sources.setdefault(their_key, []).append(key)
    for their_key, keys in sources.items():
        if any(ours[k] is not ours[keys[0]] for k in keys[1:]):
            raise ValueError(f"key_map sends {_and(keys)} {'both' if len(keys) == 2 else 'all'} "
                             f"to {their_key}: each torch key takes one array (a key the map "
                             f"does not rename keeps its name)")


def matched_keys(numpy_model, torch_model, key_map: Mapping | Callable | None = None,
                 strict: bool = True) -> list[tuple[str, str]]:
    """Pairs (NumPy key, torch key) of the arrays the two models share, in the NumPy order.

    Nothing is copied before every check passes. Raises a ``ValueError`` when ``key_map``
    sends two arrays to one torch key (naming both and the key; with or without ``strict``);
    with ``strict``, a ``KeyError`` that lists the keys only one side has; and a
    ``ValueError`` that lists every shape mismatch. A dict ``key_map`` may hold entries for
    keys the model does not have (one map for a family of models): they are not used.
    """
    ours, theirs = numpy_model.state_dict(), torch_model.state_dict()
    to_theirs = _mapper(key_map)
    pairs = [(key, to_theirs(key)) for key in ours]
    _refuse_collisions(pairs, ours)
    mapped = {t for _, t in pairs}
    only_ours = [f"{k} (as {t})" if k != t else k for k, t in pairs if t not in theirs]
    only_theirs = [k for k in theirs if k not in mapped]
    if strict and (only_ours or only_theirs):
        raise KeyError(
            f"the models' state_dict keys differ: only in the NumPy model: {only_ours or 'none'}; "
            f"only in the torch model: {only_theirs or 'none'}. Pass key_map= to rename keys, "
            f"or strict=False to copy the shared ones")
    pairs = [(k, t) for k, t in pairs if t in theirs]
    mismatched = [f"{k}: {ours[k].shape} vs {t}: {tuple(theirs[t].shape)}" for k, t in pairs
                  if tuple(ours[k].shape) != tuple(theirs[t].shape)]
    if mismatched:
        raise ValueError("shapes differ between the NumPy and the torch model: "
                         + "; ".join(mismatched))
    return pairs


def to_torch(numpy_model, torch_model, key_map=None, strict: bool = True):
    """Copy a :mod:`dlcore.nn` model's parameters and buffers into ``torch_model``, in place.

    ``key_map`` and ``strict`` as for :func:`matched_keys`, which checks everything before
    anything is copied. Values are cast to the torch tensors' dtype and device. Returns
    ``torch_model``.
    """
    import torch

    pairs = matched_keys(numpy_model, torch_model, key_map, strict)
    ours, theirs = numpy_model.state_dict(), torch_model.state_dict()
    with torch.no_grad():
        for key, their_key in pairs:
            target = theirs[their_key]
            target.copy_(torch.as_tensor(np.asarray(ours[key])).to(target.dtype))
    return torch_model


def from_torch(torch_model, numpy_model, key_map=None, strict: bool = True):
    """Copy a torch model's parameters and buffers into a :mod:`dlcore.nn` model, in place.

    ``key_map`` maps the NumPy model's keys to the torch model's, as in :func:`to_torch`.
    Values are cast to the NumPy arrays' dtype. Returns ``numpy_model``.
    """
    pairs = matched_keys(numpy_model, torch_model, key_map, strict)
    theirs = torch_model.state_dict()
    numpy_model.load_state_dict(
        {key: theirs[their_key].detach().cpu().numpy() for key, their_key in pairs},
        strict=False)
    return numpy_model
