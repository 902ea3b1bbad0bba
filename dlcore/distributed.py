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
  temporary file in the same folder, flushed to disk, then renamed over the old one).

Imports torch, never :mod:`dlcore.nn`.
"""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path

import numpy as np

__all__ = ["setup", "cleanup", "is_distributed", "rank", "world_size", "is_main", "barrier",
           "all_reduce_sum", "wrap", "unwrap", "DistributedBatches", "save_checkpoint",
           "load_checkpoint"]

_RESERVED = ("format", "epoch", "model", "optimizer", "scheduler", "rng", "world_size")


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


def _atomic_save(obj, path: Path) -> None:
    """torch.save to a temporary file beside ``path``, flushed to disk, then renamed over
    ``path``: a reader (or a run killed mid-write) sees the old file or the new, never half."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def save_checkpoint(path, model, optimizer=None, scheduler=None, *, epoch: int = 0,
                    **extra) -> Path:
    """Write what a run needs to continue: the model's ``state_dict`` (unwrapped from DDP, so
    without the ``module.`` prefix), the optimiser's and scheduler's (when given), ``epoch``
    (the last one completed), the random-number states (Python, NumPy, torch, CUDA) of every
    process, and any ``extra`` keyword values (e.g. the History).

    Every process must call it (the random states are gathered); process 0 alone writes, to a
    temporary file that is then renamed over ``path``; all return once the file is in place.
    """
    path = Path(path)
    clash = sorted(set(extra) & set(_RESERVED))
    if clash:
        raise ValueError(f"save_checkpoint: {', '.join(clash)} cannot be passed as extra values; "
                         f"reserved names are {', '.join(_RESERVED)}")
    rngs = _gather(_rng_state())
    if is_main():
        state = {"format": 1, "epoch": int(epoch), "model": unwrap(model).state_dict(),
                 "optimizer": None if optimizer is None else optimizer.state_dict(),
                 "scheduler": None if scheduler is None else scheduler.state_dict(),
                 "rng": rngs, "world_size": world_size(), **extra}
        _atomic_save(state, path)
    barrier()
    return path


def _strip_prefixes(state: dict) -> dict:
    # DDP saves "module.conv1.weight", torch.compile "_orig_mod.conv1.weight".
    for prefix in ("module.", "_orig_mod."):
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def load_checkpoint(path, model=None, optimizer=None, scheduler=None, *, map_location=None,
                    restore_rng: bool = True) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` and put its parts back: the model's
    weights (into ``model``, wrapped in DDP or not; a ``module.`` prefix in the file is
    removed), the optimiser's and the scheduler's state, and, with ``restore_rng``, this
    process's random-number states (when the checkpoint was written by as many processes as
    there are now; otherwise a warning says the run will not repeat bit for bit).

    Tensors go to ``map_location``, by default the device of ``model``'s parameters. Returns the
    whole checkpoint as a dict (``"epoch"``, and the extra values it was saved with).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: expected a file written by "
                                f"dlcore.distributed.save_checkpoint (or fit(checkpoint=...)); "
                                f"check the path, or start without resuming")
    if map_location is None:
        params = [] if model is None else list(unwrap(model).parameters())
        map_location = params[0].device if params else "cpu"
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{path} is not a checkpoint of dlcore.distributed.save_checkpoint "
                         f"(no 'model' entry)")
    if model is not None:
        unwrap(model).load_state_dict(_strip_prefixes(state["model"]))
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is None:
            continue
        if state.get(name) is None:
            raise ValueError(f"{path} holds no {name} state (it was saved without one), so the "
                             f"run cannot continue exactly: pass {name}=None to load the weights "
                             f"alone")
        obj.load_state_dict(state[name])
    if restore_rng and state.get("rng"):
        rngs = state["rng"]
        if len(rngs) == world_size():
            _set_rng_state(rngs[rank()])
        else:
            warnings.warn(f"{path} was written by {len(rngs)} process(es), this run has "
                          f"{world_size()}: random-number states are not restored, so the run "
                          f"continues but does not repeat the original bit for bit", stacklevel=2)
    return state
