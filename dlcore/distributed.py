"""Training on several processes, the way PyTorch does it: ``torchrun`` starts one process per
GPU (on a CPU, per share of the cores), every process runs the same script on its own share of
the data, and :class:`torch.nn.parallel.DistributedDataParallel` (DDP) keeps their models
identical by averaging the gradients during the backward pass.

This module is the plumbing that :func:`dlcore.train.fit` and ``python -m
dlcore.scripts.train_imagenet`` use; nothing here starts or watches processes (torchrun does):

- :func:`setup` joins the process group that torchrun describes in the environment (``RANK``,
  ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``): NCCL on CUDA, gloo on the
  CPU. Without torchrun there is no group to join and everything below acts as for one process,
  so the same script runs under ``python`` and under ``torchrun``. :func:`cleanup` leaves it.
- :func:`rank`, :func:`world_size`, :func:`is_distributed`, :func:`is_main`, :func:`barrier`.
- :func:`all_reduce_sum` adds numbers over the processes: a mean over all the data is a sum of
  (value × examples) divided by a sum of examples, which is how ``fit`` reduces its metrics.
- :func:`wrap` and :func:`unwrap` put a model into DDP and take it out again.
- :class:`DistributedBatches`: a ``DataLoader`` over this process's share of a dataset
  (``DistributedSampler`` for training).
- :func:`save_checkpoint` and :func:`load_checkpoint`: model, optimiser, scheduler, epoch and
  the random-number states of every process, written by process 0 alone and atomically (a
  temporary file in the same folder, flushed to disk, then renamed over the old one). A
  checkpoint that cannot be used (unreadable, or made for another optimiser, scheduler or
  learning rate) raises :class:`CheckpointError`; a full disk, :class:`DiskFull`.

Imports torch, never :mod:`dlcore.nn`.
"""

from __future__ import annotations

import errno
import os
import random
import re
import warnings
from pathlib import Path

import numpy as np

from ._errors import ReaderError

__all__ = ["setup", "cleanup", "is_distributed", "rank", "world_size", "is_main", "barrier",
           "all_reduce_sum", "wrap", "unwrap", "DistributedBatches", "save_checkpoint",
           "load_checkpoint", "CheckpointError", "DiskFull"]

# Format 1 did not say how the model's keys were written, so loading guessed DDP's prefix from
# the keys. Format 2 always writes the bare model's keys and names the optimiser's and
# scheduler's classes and the optimiser's hyper-parameters.
_FORMAT = 2
_RESERVED = ("format", "epoch", "model", "optimizer", "scheduler", "rng", "world_size",
             "optimizer_class", "scheduler_class", "optimizer_hyperparameters")


# --------------------------------------------------------------------------- the process group


def _dist():
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def setup(backend: str | None = None):
    """Join the process group torchrun describes, and return the device this process trains on.

    Under ``torchrun`` (``RANK`` and ``WORLD_SIZE`` set): with CUDA, process ``LOCAL_RANK`` takes
    GPU ``LOCAL_RANK`` and the backend is NCCL; otherwise the device is the CPU and the backend
    gloo (``backend`` overrides the choice). ``$DLCORE_DEVICE=cpu`` keeps a GPU machine on the
    CPU. Without torchrun nothing is joined and the result is :func:`dlcore.train.device`.
    Calling it again is harmless.
    """
    import torch
    import torch.distributed as dist

    from ._device import device as best_device

    chosen = best_device()
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return chosen
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if chosen.type == "cuda":
        count = torch.cuda.device_count()
        if local >= count:
            raise RuntimeError(f"LOCAL_RANK is {local} but this machine has {count} GPU(s): start "
                               f"at most one process per GPU (torchrun --nproc_per_node={count})")
        chosen = torch.device("cuda", local)
        torch.cuda.set_device(chosen)
    else:
        chosen = torch.device("cpu")  # gloo reduces CPU tensors; MPS has no backend
    if not (dist.is_available() and dist.is_initialized()):
        missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
        if missing:
            raise RuntimeError(f"RANK and WORLD_SIZE are set but {' and '.join(missing)} "
                               f"{'is' if len(missing) == 1 else 'are'} not: start the script "
                               f"with torchrun, which sets all of them")
        dist.init_process_group(backend or ("nccl" if chosen.type == "cuda" else "gloo"))
    return chosen


def cleanup() -> None:
    """Leave the process group (if one was joined); the last call of a distributed script."""
    dist = _dist()
    if dist is not None:
        dist.destroy_process_group()


def is_distributed() -> bool:
    """Whether this process is one of several in an initialised process group."""
    dist = _dist()
    return dist is not None and dist.get_world_size() > 1


def rank() -> int:
    """This process's number in the group, 0 … ``world_size() - 1`` (0 without a group)."""
    dist = _dist()
    return dist.get_rank() if dist is not None else 0


def world_size() -> int:
    """The number of processes in the group (1 without a group)."""
    dist = _dist()
    return dist.get_world_size() if dist is not None else 1


_group_rank, _group_size = rank, world_size  # for the classes whose arguments shadow the names


def is_main() -> bool:
    """Whether this is process 0, the one that prints, shows progress bars and writes files."""
    return rank() == 0


def barrier() -> None:
    """Wait until every process gets here (nothing to wait for without a group)."""
    if is_distributed():
        _dist().barrier()


def _collective_device():
    import torch

    if _dist().get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(values) -> list[float]:
    """The sums over all processes of a list of numbers (in float64); the numbers themselves
    without a group. Every process must call it, with a list of the same length."""
    values = [float(v) for v in values]
    if not is_distributed():
        return values
    import torch

    total = torch.tensor(values, dtype=torch.float64, device=_collective_device())
    _dist().all_reduce(total)
    return total.tolist()


def _gather(obj) -> list:
    """``[obj of process 0, obj of process 1, ...]`` on every process."""
    if not is_distributed():
        return [obj]
    out = [None] * world_size()
    _dist().all_gather_object(out, obj)
    return out


# --------------------------------------------------------------------------- models


def wrap(model):
    """``model`` in :class:`~torch.nn.parallel.DistributedDataParallel` when this process is one
    of several (the model must already be on its device: :func:`setup` returns it); otherwise,
    or if it is already wrapped, ``model`` itself."""
    from torch.nn.parallel import DistributedDataParallel

    if not is_distributed() or isinstance(model, DistributedDataParallel):
        return model
    device = next(model.parameters()).device
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                   else None)


def unwrap(model):
    """The model inside a ``DistributedDataParallel`` wrapper (``model`` itself if unwrapped)."""
    from torch.nn.parallel import DistributedDataParallel

    return model.module if isinstance(model, DistributedDataParallel) else model


# --------------------------------------------------------------------------- data


class DistributedBatches:
    """Batches of ``batch_size`` examples from this process's share of ``dataset`` (anything
    with ``__len__`` and ``__getitem__``, e.g. :class:`dlcore.data.ImageFolder`), through a
    torch ``DataLoader`` with ``workers`` loading processes.

    ``shuffle=True`` (training) uses ``DistributedSampler``: each epoch one permutation of the
    whole dataset, seeded by ``seed`` and the epoch, dealt out to the processes in turn (padded
    by repeating a few examples, or cut with ``drop_last``, so that every process takes the same
    number of steps, which DDP needs). With P processes and ``batch_size`` b, step k of the P
    processes together covers exactly the examples of step k of one process with batch P·b.

    ``shuffle=False`` (evaluation) deals every example out exactly once, in order: process r
    gets examples r, r + P, r + 2P, … (shares may differ by one; :func:`dlcore.train.fit` and
    ``evaluate`` add sums over processes, so means are exact).

    :func:`dlcore.train.fit` calls ``set_epoch(epoch)`` before each epoch; it reaches the sampler
    and, if it has one, the dataset's ``set_epoch`` (whose random crops depend on the epoch).
    ``rank`` and ``world_size`` default to this process's (see :func:`rank`).
    """

    def __init__(self, dataset, batch_size: int, *, shuffle: bool = False, seed: int = 0,
                 workers: int = 0, drop_last: bool = False, rank: int | None = None,
                 world_size: int | None = None, pin_memory: bool | None = None):
        import torch
        from torch.utils.data import DataLoader, DistributedSampler

        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"DistributedBatches: batch_size must be an int >= 1, got "
                             f"{batch_size!r}")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise ValueError(f"DistributedBatches: workers must be an int >= 0, got {workers!r}")
        self.world_size = _group_size() if world_size is None else int(world_size)
        self.rank = _group_rank() if rank is None else int(rank)
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"DistributedBatches: rank must be in 0..{self.world_size - 1}, "
                             f"got {self.rank}")
        self.dataset, self.batch_size = dataset, batch_size
        if shuffle:
            self.sampler = DistributedSampler(dataset, num_replicas=self.world_size,
                                              rank=self.rank, shuffle=True, seed=seed,
                                              drop_last=drop_last)
        else:
            self.sampler = range(self.rank, len(dataset), self.world_size)
        if pin_memory is None:
            pin_memory = torch.cuda.is_available()
        # Workers are started afresh each epoch (persistent_workers=False), so that they see
        # the epoch that set_epoch gave the dataset.
        self.loader = DataLoader(dataset, batch_size=batch_size, sampler=self.sampler,
                                 num_workers=workers, drop_last=drop_last, pin_memory=pin_memory)

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass the one of ``epoch``: its order and its random crops."""
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def __iter__(self):
        return iter(self.loader)

    def __len__(self):
        return len(self.loader)

    @property
    def examples(self) -> int:
        """The number of examples one pass gives this process (padding included)."""
        return len(self.sampler)


# --------------------------------------------------------------------------- checkpoints


def _rng_state() -> dict:
    import torch

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(),
             "numpy": {"kind": kind, "keys": keys.tolist(), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached": float(cached)},
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict) -> None:
    import torch

    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state((n["kind"], np.asarray(n["keys"], dtype=np.uint32), n["pos"],
                         n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"].cpu())


class CheckpointError(ReaderError, ValueError):
    """A checkpoint that cannot be used: empty, truncated or corrupt, of a newer format, or
    saved with another optimiser or scheduler class, or other optimiser hyper-parameters, than
    those it is loaded into. The message names the file and says what to do."""


class DiskFull(ReaderError, OSError):
    """:func:`save_checkpoint` found no space (or no quota) left on the checkpoint's disk. The
    previous checkpoint, if there was one, is intact; ``errno`` is that of the failed write."""


def _class_name(obj) -> str:
    kind = type(obj)
    return kind.__qualname__ if kind.__module__ == "builtins" else \
        f"{kind.__module__}.{kind.__qualname__}"


# Optimiser arguments that choose an implementation, not the optimisation itself: a resumed
# run may set them differently (e.g. on another device).
_IMPLEMENTATION = frozenset({"foreach", "fused", "capturable", "differentiable"})
_PLAIN = (type(None), bool, int, float, str)


def _hyperparameters(optimizer) -> dict:
    """The optimiser's constructor arguments (torch's ``defaults``: lr, momentum, betas, ...)
    as plain values. Unlike ``param_groups`` they are never changed by a scheduler, so a
    resumed run's optimiser must have the same ones."""
    out = {}
    for name, value in getattr(optimizer, "defaults", {}).items():
        value = value.tolist() if hasattr(value, "tolist") else value  # a tensor lr
        value = list(value) if isinstance(value, tuple) else value  # betas
        values = value if isinstance(value, list) else [value]
        if name not in _IMPLEMENTATION and all(isinstance(v, _PLAIN) for v in values):
            out[name] = value
    return out


def _check_loadable(value, where: str) -> None:
    """Refuse, before anything is written, an extra value that ``torch.load(weights_only=True)``
    would refuse when the checkpoint is loaded (it would then be unreadable as a whole)."""
    import collections

    import torch

    kind = type(value)
    if kind in (dict, collections.OrderedDict):
        for k, v in value.items():
            _check_loadable(k, f"a key of {where}")
            _check_loadable(v, f"{where}[{k!r}]")
    elif kind in (list, tuple):
        for i, v in enumerate(value):
            _check_loadable(v, f"{where}[{i}]")
    elif kind is set:
        for v in value:
            _check_loadable(v, f"an element of {where}")
    elif kind in (type(None), bool, int, float, complex, str, bytes, bytearray, torch.Tensor,
                  torch.nn.Parameter, torch.Size, torch.dtype, torch.device):
        return
    elif not _loads_back(value):  # anything else: ask torch itself, on this value alone
        raise TypeError(
            f"save_checkpoint: the extra value {where} is a {_class_name(value)}, which "
            f"load_checkpoint could not read back (it loads with torch.load(weights_only=True): "
            f"tensors, numbers, strings, None, and lists, tuples, sets and dicts of them). "
            f"Convert it first, e.g. float(x), x.tolist() or torch.from_numpy(x) for NumPy "
            f"values, dict(x) for a dict subclass; nothing was written")


def _loads_back(value) -> bool:
    import io

    import torch

    buffer = io.BytesIO()
    try:
        torch.save(value, buffer)
        buffer.seek(0)
        torch.load(buffer, weights_only=True)
    except Exception:  # unpicklable (a lambda), or refused by the weights-only unpickler
        return False
    return True


def _temporary(path: Path, pid: int) -> Path:
    # A name that only dlcore writes, so that a later save can recognise its own leftovers.
    return path.with_name(f".{path.name}.dlcore-save-{pid}.tmp")


def _remove_leftovers(path: Path) -> None:
    """Remove the temporary files of earlier saves of ``path`` that were killed mid-write:
    files with dlcore's own name pattern, of processes that no longer run."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.dlcore-save-(\d+)\.tmp")
    for entry in path.parent.iterdir():
        found = pattern.fullmatch(entry.name)
        if found and not _running(int(found[1])):
            entry.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a save still writing its file)."""
    if os.name != "posix":  # on Windows os.kill would end the process: keep its file
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # it exists, but belongs to another user
        return True
    return True


_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _atomic_save(obj, path: Path) -> None:
    """torch.save to a temporary file beside ``path``, flushed to disk, then renamed over
    ``path``: a reader (or a run killed mid-write) sees the old file or the new, never half."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(path)
    tmp = _temporary(path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno in _NO_SPACE:
            raise _disk_full(err, path) from err
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _disk_full(err: OSError, path: Path) -> DiskFull:
    kept = "the previous checkpoint is intact" if path.exists() else "no checkpoint was written"
    return DiskFull(err.errno, f"could not write the checkpoint {path}: no space left on its "
                               f"disk ({err.strerror}); {kept}. Free some space or write the "
                               f"checkpoint to another disk, then run again (resume=True "
                               f"continues from the last checkpoint)")


def save_checkpoint(path, model, optimizer=None, scheduler=None, *, epoch: int = 0,
                    **extra) -> Path:
    """Write what a run needs to continue: the model's ``state_dict`` (unwrapped from DDP and
    ``torch.compile``, so without their ``module.`` and ``_orig_mod.`` prefixes), the
    optimiser's and scheduler's (when given) with their classes and the optimiser's
    hyper-parameters, ``epoch`` (the last one completed), the random-number states (Python,
    NumPy, torch, CUDA) of every process, and any ``extra`` keyword values (e.g. the History).

    ``extra`` values must be what ``torch.load(weights_only=True)`` reads back (tensors,
    numbers, strings, None, and lists, tuples, sets and dicts of them): anything else (a NumPy
    scalar, a dict subclass, a function) is refused with a ``TypeError`` naming its key and
    type, before anything is written.

    Every process must call it (the random states are gathered); process 0 alone writes, to a
    temporary file that is then renamed over ``path``; all return once the file is in place, or
    all raise if process 0 could not write it. A full disk raises :class:`DiskFull`, leaving
    the previous checkpoint intact; the temporary file of a save that was killed mid-write is
    removed by the next save of ``path``.
    """
    path = Path(path)
    clash = sorted(set(extra) & set(_RESERVED))
    if clash:
        raise ValueError(f"save_checkpoint: {', '.join(clash)} cannot be passed as extra values; "
                         f"reserved names are {', '.join(_RESERVED)}")
    for key, value in extra.items():  # on every process, so that all refuse alike
        _check_loadable(value, key)
    rngs = _gather(_rng_state())
    failed = None
    if is_main():
        state = {"format": _FORMAT, "epoch": int(epoch), "model": _bare(model).state_dict(),
                 "optimizer": None if optimizer is None else optimizer.state_dict(),
                 "scheduler": None if scheduler is None else scheduler.state_dict(),
                 "optimizer_class": None if optimizer is None else _class_name(optimizer),
                 "scheduler_class": None if scheduler is None else _class_name(scheduler),
                 "optimizer_hyperparameters": None if optimizer is None
                 else _hyperparameters(optimizer),
                 "rng": rngs, "world_size": world_size(), **extra}
        try:
            _atomic_save(state, path)
        except Exception as err:
            failed = err
    # In place of a barrier: the other processes learn that process 0 failed, rather than
    # waiting for it.
    if all_reduce_sum([failed is not None])[0] and failed is None:
        raise RuntimeError(f"process 0 could not write the checkpoint {path}; its error says why")
    if failed is not None:
        raise failed
    return path


def _bare(model):
    """The model inside DDP's and torch.compile's wrappers, whose ``state_dict`` keys carry the
    prefixes ``module.`` and ``_orig_mod.``."""
    while True:
        inner = unwrap(model)
        if type(inner).__name__ == "OptimizedModule":  # torch.compile's wrapper
            inner = inner._orig_mod
        if inner is model:
            return model
        model = inner


def _strip_prefixes(state: dict, model) -> dict:
    # Format 1 did not say whether the keys came from DDP ("module.conv1.weight") or
    # torch.compile ("_orig_mod.conv1.weight"): strip a prefix only when the keys do not fit
    # the model as they are (its own child may be called "module").
    expected = set(model.state_dict())
    for prefix in ("module.", "_orig_mod."):
        if set(state) != expected and state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def _read(path: Path, model, map_location):
    """The checkpoint's dict, or a :class:`CheckpointError` that names the file and what is
    wrong with it (never torch's advice to unpickle it with ``weights_only=False``)."""
    import torch

    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: expected a file written by "
                                f"dlcore.distributed.save_checkpoint (or fit(checkpoint=...)); "
                                f"check the path, or start without resuming")
    if map_location is None:
        params = [] if model is None else list(_bare(model).parameters())
        map_location = params[0].device if params else "cpu"
    problem = _damage(path)
    if problem is None:
        try:
            return torch.load(path, map_location=map_location, weights_only=True)
        except Exception as err:
            problem = _unreadable(path, err)
            if problem is None:
                raise
    raise CheckpointError(f"{path} {problem}") from None


_EARLIER = "use an earlier checkpoint, or start afresh"


def _damage(path: Path) -> str | None:
    """What is wrong with the file as a zip archive (torch.save's format), if anything: torch
    itself does not check the archive's checksums, and would load changed bytes as weights."""
    import zipfile

    size = path.stat().st_size
    if size == 0:
        return f"is empty (0 bytes): a save or a copy that never wrote anything; {_EARLIER}"
    if not zipfile.is_zipfile(path):
        return None  # perhaps torch's older format: torch.load decides
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError):
        bad = "its index"
    if bad is None:
        return None
    return (f"is corrupt: the record {bad} does not match its checksum (bytes changed on disk "
            f"or in a copy); {_EARLIER}")


def _unreadable(path: Path, err: Exception) -> str | None:
    import pickle
    import zipfile

    if not zipfile.is_zipfile(path):
        return (f"is truncated or corrupt ({path.stat().st_size:,} bytes that are not the zip "
                f"archive torch.save writes): a save or a copy cut short, or another kind of "
                f"file; {_EARLIER}")
    if isinstance(err, pickle.UnpicklingError):
        return ("holds Python objects other than tensors, numbers, strings, None, and lists, "
                "tuples, sets and dicts of them; load_checkpoint does not unpickle those (it "
                "uses torch.load(weights_only=True): unpickling other objects can run any "
                "code). It was not written by dlcore.distributed.save_checkpoint")
    return None  # an intact archive that failed for another reason: torch's error says which


def _check_fits(path: Path, state, optimizer, scheduler, resuming: bool) -> None:
    """Refuse, before anything is loaded, a checkpoint whose parts do not fit the objects."""
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path} is not a checkpoint of dlcore.distributed.save_checkpoint "
                              f"(no 'model' entry)")
    version = state.get("format", 1)
    if not isinstance(version, int) or version > _FORMAT:
        raise CheckpointError(f"{path} has format {version}; this dlcore reads up to format "
                              f"{_FORMAT}: it was written by a newer dlcore, update this one")
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        saved = state.get(f"{name}_class")
        if obj is None:
            if resuming and state.get(name) is not None:
                raise CheckpointError(f"{path} was saved with the {name} "
                                      f"{saved or '(class not recorded)'} and this run has none: "
                                      f"pass the same {name}= to continue the run as saved")
            continue
        if state.get(name) is None:
            raise CheckpointError(f"{path} holds no {name} state (it was saved without one), so "
                                  f"the run cannot continue exactly: pass {name}=None to load "
                                  f"the weights alone")
        if saved is not None and saved != _class_name(obj):
            raise CheckpointError(f"{path} was saved with the {name} {saved}; this run's is "
                                  f"{_class_name(obj)}, which the saved state does not fit. "
                                  f"Continue with a {saved.rsplit('.', 1)[-1]}, as saved, or "
                                  f"load the rest without it ({name}=None)")
    if optimizer is not None:
        _check_hyperparameters(path, state.get("optimizer_hyperparameters"), optimizer)


def _check_hyperparameters(path: Path, saved, optimizer) -> None:
    # torch's load_state_dict would replace the optimiser's hyper-parameters with the saved
    # ones without a word: a new learning rate given at resume would be ignored.
    if saved is None:  # format 1 did not record them
        return
    now = _hyperparameters(optimizer)
    changed = [f"{k} {saved[k]!r} in the checkpoint, {now[k]!r} here"
               for k in saved if k in now and saved[k] != now[k]]
    if changed:
        raise CheckpointError(
            f"{path} was saved by an optimizer built with other hyper-parameters ("
            f"{'; '.join(changed)}). Loading would silently put the saved ones back, so the "
            f"run would not use the values this code gives. To continue the saved run, build "
            f"the optimizer as it did; to train on with new values, load the weights alone "
            f"(optimizer=None and scheduler=None) and start a new optimizer and schedule")


def _load(path, model, optimizer, scheduler, map_location=None, restore_rng=True,
          resuming=False) -> dict:
    path = Path(path)
    state = _read(path, model, map_location)
    _check_fits(path, state, optimizer, scheduler, resuming)
    if model is not None:
        bare = _bare(model)
        weights = state["model"]
        bare.load_state_dict(weights if state.get("format", 1) >= 2
                             else _strip_prefixes(weights, bare))
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is not None:
            obj.load_state_dict(state[name])
    if restore_rng and state.get("rng"):
        rngs = state["rng"]
        if len(rngs) == world_size():
            _set_rng_state(rngs[rank()])
        else:
            warnings.warn(f"{path} was written by {len(rngs)} process(es), this run has "
                          f"{world_size()}: random-number states are not restored, so the run "
                          f"continues but does not repeat the original bit for bit", stacklevel=3)
    return state


def load_checkpoint(path, model=None, optimizer=None, scheduler=None, *, map_location=None,
                    restore_rng: bool = True) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` and put its parts back: the model's
    weights (into ``model``, wrapped in DDP or ``torch.compile`` or not), the optimiser's and
    the scheduler's state, and, with ``restore_rng``, this process's random-number states (when
    the checkpoint was written by as many processes as there are now; otherwise a warning says
    the run will not repeat bit for bit).

    Everything is checked before anything is loaded. :class:`CheckpointError` names the file
    when it is empty, truncated or corrupt (its checksums are verified), holds objects other
    than plain data, or is of a newer format; and when ``optimizer`` or ``scheduler`` is of
    another class than the saved one, or the optimiser was built with other hyper-parameters
    (``lr``, ``momentum``, ...): the saved ones would silently replace them, so a new learning
    rate given at resume is reported, not ignored (to train on with new values, load the
    weights alone and build a new optimiser). The scheduler's settings (``step_size``, ...) are
    the saved ones. Checkpoints of the first format (before dlcore recorded classes) load as
    before, without these checks.

    Tensors go to ``map_location``, by default the device of ``model``'s parameters. Returns the
    whole checkpoint as a dict (``"epoch"``, and the extra values it was saved with).
    """
    return _load(path, model, optimizer, scheduler, map_location, restore_rng)
