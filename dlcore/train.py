"""Device choice, seeding and thread control (the first lines of every chapter), and one
training loop for every task: :func:`fit` for torch models, :func:`fit_numpy` for the NumPy
models of :mod:`dlcore.nn`, with the same signature and the same :class:`History`.

The loop knows nothing of the task. It takes

- ``train`` (and ``val``): re-iterable iterables of batches, each a tuple of arrays or tensors
  (a torch ``DataLoader``, or :class:`dlcore.data.ArrayBatches` over NumPy arrays);
- ``loss(model, batch)``: the scalar loss of one batch, or a pair ``(loss, outputs)`` so that
  metrics reuse that forward pass. torch: the loop calls ``backward()``. NumPy (no autograd):
  the callable runs forward *and*, when the model is in training mode, backward, leaving the
  gradients in ``.grad``. :func:`supervised` and :func:`reconstruction` build the usual ones;
- ``metrics``: callables ``(outputs, batch) -> float`` (:func:`accuracy`, :func:`top_k`),
  averaged over the examples of each pass.

Per epoch: ``on_epoch(epoch)``, one pass over ``train`` (an optimiser step per batch), one over
``val`` in evaluation mode, the scheduler's step, early stopping. A non-finite training loss
stops at once with :class:`TrainingDiverged`, naming the epoch and the batch; so does a
non-finite validation loss, saying whether the weights or the validation data are at fault.
Before the first step, an optimiser that holds none of the model's trainable parameters (one
made for another model) is refused, as is a model with nothing to train.

The same :func:`fit` runs unchanged under ``torchrun`` (see :mod:`dlcore.distributed`): once
the process group is set up, it wraps the model in ``DistributedDataParallel``, adds the sums
behind every loss and metric over the processes (so the History holds means over all the data,
the same on every process), shows its progress bar on process 0 only, and calls the batch
source's ``set_epoch`` (that of :class:`dlcore.distributed.DistributedBatches`, or of a
``DataLoader``'s ``DistributedSampler``) before each epoch. ``checkpoint=`` writes a resumable
checkpoint after every epoch (process 0, atomically) and ``resume=`` continues from one.
"""

from __future__ import annotations

import math
import os
import random
import time
import warnings
from collections.abc import Callable, Iterable

import numpy as np

from ._device import device  # noqa: F401  (its own module: dlcore.distributed uses it too)
from ._errors import ReaderError

__all__ = ["device", "seed_everything", "set_threads", "minibatches", "predict_numpy",
           "fit", "fit_numpy", "evaluate", "supervised", "reconstruction", "accuracy", "top_k",
           "reconstruction_error", "steps_to_error", "imagenet_recipe", "History", "TrainingDiverged"]


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
    """Use ``n`` threads in torch and in NumPy's BLAS, so that timings and the order of float
    summations do not depend on how many cores the machine happens to have.

    On a shared machine the thread count matters less than how idle threads wait: torch's
    OpenMP threads spin by default, and beside another busy process an epoch then takes many
    times longer (``benchmarks/bench_contention.md``). ``import dlcore`` sets
    ``OMP_WAIT_POLICY=PASSIVE`` unless the environment chose, which OpenMP reads when torch is
    first imported; if torch was imported before dlcore with nothing chosen, this function warns
    once (with ``n > 1``) that the setting came too late.
    """
    import torch
    from threadpoolctl import threadpool_limits

    import dlcore

    if n > 1 and dlcore._OMP_POLICY_TOO_LATE:
        dlcore._OMP_POLICY_TOO_LATE = False  # say it once
        warnings.warn("torch was imported before dlcore, so its threads spin while idle and can "
                      "slow down badly beside another busy program; import dlcore first, or "
                      "set OMP_WAIT_POLICY=PASSIVE before starting Python.", stacklevel=2)
    torch.set_num_threads(n)
    threadpool_limits(limits=n, user_api="blas")


# --------------------------------------------------------------------------- losses and metrics


def _is_numpy_model(model) -> bool:
    from . import nn

    return isinstance(model, nn.Module)


class _Criterion:
    """``loss(model, batch) -> (loss, outputs)`` around a criterion such as CrossEntropyLoss."""

    def __init__(self, criterion, name):
        if not callable(criterion):
            raise TypeError(f"{name}() expects a criterion such as nn.CrossEntropyLoss(), got "
                            f"{criterion!r}")
        self.criterion, self.name = criterion, name

    def targets(self, batch):
        raise NotImplementedError

    def __call__(self, model, batch):
        inputs, target = self.targets(batch)
        outputs = model(inputs)
        value = self.criterion(outputs, target)
        if _is_numpy_model(model) and model.training:
            model.backward(self.criterion.backward())  # no autograd: the chain rule, by hand
        return value, outputs

    def __repr__(self):
        return f"{self.name}({self.criterion!r})"


class _Supervised(_Criterion):
    def targets(self, batch):
        if len(batch) < 2:
            raise ValueError(f"supervised() needs batches (inputs, targets), got a batch of "
                             f"{len(batch)} array(s); for autoencoders use reconstruction()")
        return batch[0], batch[1]


class _Reconstruction(_Criterion):
    def targets(self, batch):
        return batch[0], batch[0]


def supervised(criterion):
    """The loss of a batch ``(x, y, ...)``: ``criterion(model(x), y)``. For NumPy models it
    also runs ``model.backward(criterion.backward())`` in training mode."""
    return _Supervised(criterion, "supervised")


def reconstruction(criterion):
    """The loss of an autoencoder on a batch ``(x, ...)``: ``criterion(model(x), x)``. (A
    denoising autoencoder's batch ``(noisy, clean)`` is :func:`supervised`.)"""
    return _Reconstruction(criterion, "reconstruction")


def accuracy(outputs, batch) -> float:
    """The fraction of rows whose highest score is the label ``batch[1]``."""
    hits = outputs.argmax(1) == batch[1]
    return float(hits.sum()) / len(hits)


def reconstruction_error(outputs, batch) -> float:
    """Squared error per example, summed over its features, between the reconstruction
    ``outputs`` and the input ``batch[0]`` (the monitor of Hinton's practical guide to RBMs)."""
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    if outputs is None or tuple(outputs.shape) != tuple(x.shape):
        got = None if outputs is None else tuple(outputs.shape)
        raise ValueError(f"reconstruction_error: the outputs must be reconstructions shaped like "
                         f"the inputs {tuple(x.shape)}, got {got}")
    diff = (outputs - x).reshape(len(x), -1)
    return float((diff ** 2).sum(1).mean()) if len(x) else 0.0


def top_k(k: int) -> Callable:
    """A metric: the fraction of rows whose label is among the ``k`` highest scores
    (``k`` is capped at the number of classes). Named ``"top{k}"`` in a History."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"top_k: k must be an int >= 1, got {k!r}")

    def metric(outputs, batch):
        labels, kk = batch[1], min(k, outputs.shape[1])
        if isinstance(outputs, np.ndarray):
            ranked = np.argpartition(-outputs, kk - 1, axis=1)[:, :kk]
            hits = (ranked == np.asarray(labels)[:, None]).any(axis=1)
        else:
            hits = (outputs.topk(kk, dim=1).indices == labels[:, None]).any(dim=1)
        return float(hits.sum()) / len(hits)

    metric.__name__ = metric.__qualname__ = f"top{k}"
    return metric


def _metric_name(metric) -> str:
    return getattr(metric, "__name__", type(metric).__name__)


# --------------------------------------------------------------------------- history, errors


class History(dict):
    """Per-epoch numbers: ``"train loss"``, ``"val loss"``, ``"lr"`` and, per metric,
    ``"train <name>"`` and ``"val <name>"``.

    ``best_epoch`` (1-based) is the epoch whose weights the model holds when the loop returns:
    with ``val``, the one with the lowest validation loss (the loop puts its weights back);
    without, the last. ``stopped_early`` says whether ``patience`` ended training, ``seconds``
    how long it took; for :func:`fit`, ``mixed_precision`` names the autocast dtype used
    (None: full precision) and ``channels_last`` whether that layout was used.
    """

    best_epoch: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    mixed_precision: str | None = None
    channels_last: bool = False

    @property
    def epochs(self) -> int:
        """The number of epochs trained."""
        return len(self.get("train loss", []))


class TrainingDiverged(ReaderError, FloatingPointError):
    """The training or the validation loss became NaN or infinite; ``history`` holds the epochs
    completed before. The message says where, and for the validation loss whether the weights
    or the validation data hold the non-finite values."""

    def __init__(self, message, history=None):
        super().__init__(message)
        self.history = history


# --------------------------------------------------------------------------- the loop


class _Torch:
    """What the loop needs from torch: device moves, a training step, snapshots; on request
    (or on CUDA, by default) mixed precision and the channels-last memory layout; under
    torchrun, DDP (with ``ddp``), sums over processes and checkpoints."""

    def __init__(self, model, optimizer, mixed_precision=False, channels_last=False, ddp=False):
        import torch

        from . import distributed

        self.torch, self.optimizer, self.dist = torch, optimizer, distributed
        self.distributed, self.is_main = distributed.is_distributed(), distributed.is_main()
        self.model = model = distributed.unwrap(model)  # snapshots, evaluation, checkpoints
        params = list(model.parameters())
        if not params:
            raise ValueError("fit: the model has no parameters to train")
        self.device, self.dtype = params[0].device, params[0].dtype
        cuda = self.device.type == "cuda"
        has_conv = any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
        self.mixed = _resolve("mixed_precision", mixed_precision, cuda)
        self.channels_last = _resolve("channels_last", channels_last, cuda and has_conv)
        self.autocast_dtype, self.scaler = None, None
        if self.mixed:
            if self.dtype != torch.float32:
                raise ValueError(f"mixed precision needs a float32 model, got {self.dtype}")
            bf16 = not cuda or torch.cuda.is_bf16_supported()
            self.autocast_dtype = torch.bfloat16 if bf16 else torch.float16
            if not bf16:  # float16 gradients underflow without loss scaling
                self.scaler = torch.amp.GradScaler("cuda")
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        # The training steps go through DDP, which averages the gradients over the processes.
        self.trainee = distributed.wrap(model) if ddp else model

    def check_optimizer(self):
        """Refuse an optimiser whose steps could not change the model."""
        params = list(self.model.parameters())
        trainable = [p for p in params if p.requires_grad]
        if not trainable:
            raise ValueError(f"fit: none of the model's {len(params)} parameter tensors requires "
                             f"a gradient (all have requires_grad=False), so no step could "
                             f"change it: unfreeze those to train, e.g. "
                             f"model.classifier.requires_grad_(True)")
        groups = getattr(self.optimizer, "param_groups", None)
        if groups is None:
            raise TypeError(f"fit needs an optimizer such as torch.optim.SGD(model.parameters(), "
                            f"lr=0.1), got {self.optimizer!r}")
        _check_holds("fit", [p for g in groups for p in g["params"]], trainable, params,
                     "torch.optim.SGD")

    def nonfinite_parameters(self):
        return [n for n, p in self.model.named_parameters()
                if not bool(self.torch.isfinite(p).all())]

    def has_nonfinite(self, batch):
        return any(a.is_floating_point() and not bool(self.torch.isfinite(a).all())
                   for a in batch)

    def _autocast(self):
        if not self.mixed:
            return _Nothing()
        return self.torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def batch(self, batch):
        out = []
        for i, a in enumerate(_as_tuple(batch)):
            _refuse_lists(a, i)
            t = self.torch.as_tensor(a).to(self.device, non_blocking=True)
            if self.channels_last and t.dim() == 4:
                t = t.contiguous(memory_format=self.torch.channels_last)
            out.append(t)
        return tuple(out)

    def dtype_of(self, batch):
        return batch[0].dtype if batch[0].is_floating_point() else None

    def scalar(self, value):
        return float(value.detach()) if isinstance(value, self.torch.Tensor) else float(value)

    def forward(self, loss_fn, batch):
        self.optimizer.zero_grad()
        with self._autocast():
            return _split(loss_fn(self.trainee, batch))

    def update(self, value):
        if self.scaler is not None:
            self.scaler.scale(value).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            value.backward()
            self.optimizer.step()

    def no_grad(self):
        return _Both(self.torch.no_grad(), self._autocast())

    def snapshot(self):
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def restore(self, state):
        self.model.load_state_dict(state)

    def lr(self):
        return self.optimizer.param_groups[0]["lr"]

    def is_plateau(self, scheduler):
        return isinstance(scheduler, self.torch.optim.lr_scheduler.ReduceLROnPlateau)

    def all_reduce_sum(self, values):
        return self.dist.all_reduce_sum(values)

    def save(self, path, epoch, scheduler, train, extra):
        if self.scaler is not None:
            extra["scaler"] = self.scaler.state_dict()
        if hasattr(train, "state_dict") and hasattr(train, "load_state_dict"):
            extra["batches"] = train.state_dict()  # e.g. ArrayBatches' shuffling generator
        self.dist.save_checkpoint(path, self.model, self.optimizer, scheduler, epoch=epoch,
                                  **extra)

    def load(self, path, scheduler, train):
        # resuming: a checkpoint saved with a scheduler needs one to continue the same run
        state = self.dist._load(path, self.model, self.optimizer, scheduler, resuming=True)
        if self.scaler is not None and state.get("scaler") is not None:
            self.scaler.load_state_dict(state["scaler"])
        if state.get("batches") is not None and hasattr(train, "load_state_dict"):
            train.load_state_dict(state["batches"])
        return state


class _NumPy:
    distributed, is_main = False, True

    def __init__(self, model, optimizer):
        if not _is_numpy_model(model):
            raise TypeError(f"fit_numpy trains dlcore.nn models; got a {type(model).__name__} "
                            f"(for a torch model use dlcore.train.fit)")
        self.model, self.optimizer = model, optimizer
        params = list(model.parameters())
        if not params:
            raise ValueError("fit_numpy: the model has no parameters to train")
        self.dtype = params[0].dtype

    def check_optimizer(self):
        """Refuse an optimiser whose steps could not change the model."""
        if self.optimizer is None:
            raise TypeError("fit_numpy needs an optimizer such as "
                            "dlcore.nn.optim.SGD(model.parameters(), lr=0.1), got None")
        held = getattr(self.optimizer, "params", None)  # dlcore.nn.optim
        if held is None and hasattr(self.optimizer, "param_groups"):  # torch.optim
            held = [p for g in self.optimizer.param_groups for p in g["params"]]
        if held is not None:  # a hand-written optimiser may not say what it holds
            params = list(self.model.parameters())
            _check_holds("fit_numpy", held, params, params, "dlcore.nn.optim.SGD")

    def nonfinite_parameters(self):
        return [n for n, p in self.model.named_parameters() if not np.isfinite(p.data).all()]

    def has_nonfinite(self, batch):
        return any(np.issubdtype(a.dtype, np.inexact) and not np.isfinite(a).all()
                   for a in batch)

    def batch(self, batch):
        out = []
        for i, a in enumerate(_as_tuple(batch)):
            _refuse_lists(a, i)
            out.append(a.numpy() if hasattr(a, "numpy") and not isinstance(a, np.ndarray)
                       else np.asarray(a))
        return tuple(out)

    def dtype_of(self, batch):
        return batch[0].dtype if np.issubdtype(batch[0].dtype, np.floating) else None

    def scalar(self, value):
        return float(value)

    def forward(self, loss_fn, batch):
        self.optimizer.zero_grad()
        return _split(loss_fn(self.model, batch))  # forward and backward: no autograd here

    def update(self, value):
        self.optimizer.step()

    def no_grad(self):
        return _Nothing()

    def snapshot(self):
        return {k: v.copy() for k, v in self.model.state_dict().items()}

    def restore(self, state):
        self.model.load_state_dict(state)

    def lr(self):
        return self.optimizer.lr

    def is_plateau(self, scheduler):
        return False


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _Both:
    """Two context managers entered in order, left in reverse."""

    def __init__(self, first, second):
        self.first, self.second = first, second

    def __enter__(self):
        self.first.__enter__()
        self.second.__enter__()
        return self

    def __exit__(self, *exc):
        self.second.__exit__(*exc)
        return bool(self.first.__exit__(*exc))


def _resolve(name, value, auto):
    if value == "auto":
        return bool(auto)
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True, False or 'auto', got {value!r}")
    return value


def _as_tuple(batch):
    if isinstance(batch, (tuple, list)):
        return tuple(batch)
    return (batch,)


def _refuse_lists(a, i):
    if isinstance(a, (list, tuple)):
        raise TypeError(f"batch element {i} is a Python {type(a).__name__}; pass NumPy arrays or "
                        f"tensors (e.g. np.asarray(labels)), one row per example")


def _split(result):
    if isinstance(result, tuple):
        if len(result) != 2:
            raise TypeError(f"loss(model, batch) must return a loss or (loss, outputs), got a "
                            f"tuple of {len(result)}")
        return result
    return result, None


def _check_holds(fn, held, trainable, params, example):
    """Refuse an optimiser that holds none of the ``trainable`` parameters: its steps would
    leave the model as it is, and the loss would stay flat with no word why. (One that holds
    some of them is fine: fine-tuning a head.)"""
    ids = {id(p) for p in held}
    if any(id(p) in ids for p in trainable):
        return
    frozen = sum(id(p) in ids for p in params)
    what = [f"{len(held) - frozen} others"] if len(held) > frozen else []
    what += [f"{frozen} that are frozen (requires_grad=False)"] if frozen else []
    raise ValueError(f"{fn}: the optimizer holds none of the model's {len(trainable)} trainable "
                     f"parameters (it holds {' and '.join(what) or 'none at all'}), so its steps "
                     f"would leave the model unchanged: build it from this model, e.g. "
                     f"{example}(model.parameters(), lr=0.1), after the model is created (an "
                     f"optimizer made before the model was rebuilt holds the old one's)")


def _check_args(epochs, patience, val, scheduler, engine):
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
    if patience is not None and val is None:
        raise ValueError("early stopping (patience) needs validation data: pass val=")
    if patience is not None and (not isinstance(patience, int) or patience < 1):
        raise ValueError(f"patience must be an int >= 1 or None, got {patience!r}")
    if scheduler is not None and engine.is_plateau(scheduler) and val is None:
        raise ValueError("a plateau scheduler steps on the validation loss: pass val=")


def _run_pass(engine, loss_fn, data, metrics, training, epoch=None, history=None):
    """One pass over ``data``: mean loss and metrics, weighted by the examples per batch."""
    model = engine.model
    model.train(training)
    total, sums, n = 0.0, dict.fromkeys(map(_metric_name, metrics), 0.0), 0
    checked, first_bad = False, None
    for b, raw in enumerate(data, start=1):
        batch = engine.batch(raw)
        if not checked:
            _check_dtype(engine, batch)
            checked = True
        size = len(batch[0])
        if training:
            value, outputs = engine.forward(loss_fn, batch)
            _check_finite(engine.scalar(value), epoch, b, data, history)  # before the step
            engine.update(value)
        else:
            with engine.no_grad():
                value, outputs = _split(loss_fn(model, batch))
        if first_bad is None and not math.isfinite(engine.scalar(value)):
            first_bad = b
        total += engine.scalar(value) * size
        if metrics:
            if outputs is None:
                with engine.no_grad():
                    outputs = model(batch[0])
            for m in metrics:
                sums[_metric_name(m)] += float(m(outputs, batch)) * size
        n += size
    if getattr(engine, "distributed", False):  # under torchrun: sums over every process
        total, n, *values = engine.all_reduce_sum([total, n, *sums.values()])
        n, sums = round(n), dict(zip(sums, values))
    if n == 0:
        which = "train" if training else "val"
        raise ValueError(f"{which} yielded no examples: pass a non-empty DataLoader or "
                         f"ArrayBatches")
    if not training and epoch is not None and not math.isfinite(total / n):  # fit's val pass
        raise _validation_diverged(engine, total / n, epoch, first_bad, data, history)
    return total / n, {k: v / n for k, v in sums.items()}


def _check_dtype(engine, batch):
    dtype = engine.dtype_of(batch)
    if dtype is not None and dtype != engine.dtype:
        raise TypeError(f"the model's parameters are {engine.dtype} but the batch's inputs are "
                        f"{dtype}: convert the data (e.g. X.astype(np.float32)) or the model "
                        f"(e.g. model.double(), or build dlcore.nn layers with dtype=)")


def _check_finite(value, epoch, batch_index, data, history):
    if math.isfinite(value):
        return
    of = f" of {len(data)}" if hasattr(data, "__len__") else ""
    raise TrainingDiverged(
        f"the training loss is {value} at epoch {epoch}, batch {batch_index}{of}; training "
        f"stopped before that batch's step, so the model holds the weights of the step before. "
        f"Usual causes: a learning rate too large for this model (try one ten times smaller), "
        f"inputs on a large scale (e.g. pixels in 0..255 rather than 0..1), or a log or a "
        f"division of zero in a hand-written loss.", history)


_TOO_LARGE = ("a learning rate too large for this model (try one ten times smaller), or inputs "
              "on a large scale")


def _validation_diverged(engine, value, epoch, batch_index, data, history):
    """The validation loss is not finite (summed over every process, so all of them stop)."""
    of = f" of {len(data)}" if hasattr(data, "__len__") else ""
    where = f", first in validation batch {batch_index}{of}" if batch_index else ""
    spoilt, bad_data = engine.nonfinite_parameters(), None
    if not spoilt:  # the error path only: look through the validation data once more
        bad_data = next((b for b, raw in enumerate(data, start=1)
                         if engine.has_nonfinite(engine.batch(raw))), None)
    if spoilt:  # the last steps of the epoch, whose losses nobody measured after them
        cause = (f"the weights are no longer finite ({', '.join(spoilt[:3])}"
                 f"{', ...' if len(spoilt) > 3 else ''}): the epoch's last training steps "
                 f"diverged (each training loss is measured before its step). Usual causes: "
                 f"{_TOO_LARGE}")
    elif bad_data:
        cause = (f"the weights are finite but the validation data is not: batch {bad_data} "
                 f"holds NaN or infinite values (check e.g. np.isfinite(X_val).all())")
    else:
        cause = (f"the weights and the validation data are finite, so the model's outputs or "
                 f"the loss overflowed: weights grown too large by the epoch's last training "
                 f"steps ({_TOO_LARGE}), or targets the loss cannot take")
    return TrainingDiverged(
        f"the validation loss is {value} at epoch {epoch}{where}; {cause}. Training stopped; "
        f"the model holds the weights of the end of epoch {epoch}'s training, the History the "
        f"epochs before.", history)


def _set_epoch(train, epoch):
    """Tell a sharded batch source which epoch comes (its shuffling depends on it)."""
    for source in (train, getattr(train, "sampler", None)):
        if callable(getattr(source, "set_epoch", None)):
            source.set_epoch(epoch)
            return


def _history_state(history):
    return {"values": {k: list(v) for k, v in history.items()}, "best_epoch": history.best_epoch,
            "stopped_early": history.stopped_early, "seconds": history.seconds}


def _resume(engine, resume, checkpoint, scheduler, train):
    """The loop's state from a checkpoint, or None to start afresh (``resume=True`` and no
    checkpoint file yet)."""
    if resume is True:
        if checkpoint is None:
            raise ValueError("resume=True continues from the file given as checkpoint=; pass "
                             "checkpoint= too, or resume='path/to/checkpoint.pt'")
        path = checkpoint
        found = os.path.isfile(path)
        if engine.distributed:  # every process must take the same branch
            seen = round(engine.all_reduce_sum([found])[0])
            if 0 < seen < engine.dist.world_size():
                raise RuntimeError(f"{path} exists for {seen} of {engine.dist.world_size()} "
                                   f"processes: put the checkpoint on a file system that "
                                   f"every machine shares")
        if not found:
            return None
    else:
        path = resume
    state = engine.load(path, scheduler, train)
    saved = state.get("loop")
    if saved is None:
        raise ValueError(f"{path} holds a model but not the state of a fit() run (history, "
                         f"best epoch); it cannot be resumed by fit")
    history = History(saved["history"]["values"])
    history.best_epoch = saved["history"]["best_epoch"]
    history.stopped_early = saved["history"]["stopped_early"]
    history.seconds = saved["history"]["seconds"]
    best_state = saved["best_state"]
    if best_state is None and saved["best_loss"] < math.inf:
        best_state = engine.snapshot()  # the best epoch was the last one saved
    return history, saved["best_loss"], best_state, saved["waited"], state["epoch"]


def _record(history, which, loss, metrics):
    history.setdefault(f"{which} loss", []).append(loss)
    for name, value in metrics.items():
        history.setdefault(f"{which} {name}", []).append(value)


def _check_checkpointing(checkpoint, resume):
    if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike)):
        raise TypeError(f"checkpoint must be a file path, got {checkpoint!r}")
    if not isinstance(resume, (bool, str, os.PathLike)):
        raise TypeError(f"resume must be False, True (continue from checkpoint= if it exists) "
                        f"or a checkpoint's path, got {resume!r}")


def _fit(engine, train, loss, epochs, val, metrics, scheduler, patience, on_epoch, progress,
         on_epoch_end=None, checkpoint=None, resume=False):
    from tqdm.auto import tqdm

    _check_args(epochs, patience, val, scheduler, engine)
    if not callable(loss):
        raise TypeError(f"loss must be a callable loss(model, batch), e.g. "
                        f"dlcore.train.supervised(criterion); got {loss!r}")
    _check_checkpointing(checkpoint, resume)
    engine.check_optimizer()
    metrics = tuple(metrics)
    history = History({"train loss": []})
    best_loss, best_state, waited, done = math.inf, None, 0, 0
    start = time.perf_counter()
    if resume is not False:
        restored = _resume(engine, resume, checkpoint, scheduler, train)
        if restored is not None:
            history, best_loss, best_state, waited, done = restored
    earlier = history.seconds
    bar = tqdm(total=epochs, initial=min(done, epochs), desc="epochs", unit="epoch",
               disable=not progress or not engine.is_main)
    try:
        for epoch in range(done + 1, epochs + 1):
            if history.stopped_early:  # a resumed run that had already stopped early
                break
            _set_epoch(train, epoch)
            if on_epoch is not None:
                on_epoch(epoch)
            train_loss, train_metrics = _run_pass(engine, loss, train, metrics, True, epoch,
                                                  history)
            lr = engine.lr()
            val_loss = None
            if val is not None:  # a non-finite loss raises, the History without this epoch
                val_loss, val_metrics = _run_pass(engine, loss, val, metrics, False, epoch,
                                                  history)
            _record(history, "train", train_loss, train_metrics)
            history.setdefault("lr", []).append(lr)
            if val is not None:
                _record(history, "val", val_loss, val_metrics)
                bar.set_postfix({"val loss": f"{val_loss:.4f}",
                                 **{k: f"{v:.4f}" for k, v in val_metrics.items()}})
            if scheduler is not None:
                scheduler.step(val_loss) if engine.is_plateau(scheduler) else scheduler.step()
            bar.update(1)
            stop = False
            if val_loss is None:
                history.best_epoch = epoch
            elif val_loss < best_loss:
                best_loss, waited, history.best_epoch = val_loss, 0, epoch
                best_state = engine.snapshot()
            else:
                waited += 1
                if patience is not None and waited >= patience:
                    history.stopped_early = stop = True
                    bar.total = epoch  # a finished run, not an interrupted one
                    bar.set_description(f"epochs (early stop, best {history.best_epoch})")
            if checkpoint is not None:
                history.seconds = earlier + time.perf_counter() - start
                engine.save(checkpoint, epoch, scheduler, train, {"loop": {
                    "history": _history_state(history), "best_loss": best_loss,
                    "waited": waited,
                    # the best epoch's weights, unless they are the ones saved anyway
                    "best_state": None if history.best_epoch == epoch else best_state}})
            if on_epoch_end is not None:
                on_epoch_end(epoch, history)
            if stop:
                break
    finally:
        bar.close()
        engine.model.train()
    if best_state is not None and history.best_epoch != history.epochs:
        engine.restore(best_state)  # the model holds the weights of best_epoch
    history.seconds = earlier + time.perf_counter() - start
    return history


def fit(model, optimizer, train: Iterable, *, loss: Callable, epochs: int,
        val: Iterable | None = None, metrics=(), scheduler=None, patience: int | None = None,
        on_epoch: Callable | None = None, progress: bool = True,
        mixed_precision="auto", channels_last="auto", checkpoint=None, resume=False,
        on_epoch_end: Callable | None = None) -> History:
    """Train a torch model on the device its parameters live on (move it first:
    ``model.to(dlcore.train.device())``); each batch is moved there as it comes.

    ``optimizer`` must hold at least one of the model's trainable parameters (some suffice:
    fine-tuning a head); one made for another model, or a model whose parameters are all
    frozen, is a ``ValueError`` before the first step.

    ``scheduler`` steps once per epoch (a ``ReduceLROnPlateau`` with the validation loss).
    ``patience``: stop once the validation loss has not improved for that many epochs. Either
    way, with ``val`` the model ends with the weights of the epoch of lowest validation loss
    (``History.best_epoch``). A NaN or infinite training or validation loss raises
    :class:`TrainingDiverged` (the validation loss alone selects the best epoch and feeds the
    plateau scheduler; metrics are only recorded).

    ``mixed_precision``: run forward passes and losses under ``torch.autocast`` (bfloat16, or
    float16 with a gradient scaler on GPUs without bfloat16); ``channels_last``: keep the model
    and 4-D batches in the channels-last memory layout, which tensor cores prefer. ``"auto"``
    (the default) turns both on for a model on a CUDA device (channels-last only if it has
    convolutions) and off elsewhere; True or False forces them (mixed precision on a CPU uses
    bfloat16). The History says what was used.

    ``checkpoint``: a file that receives, after every epoch, everything needed to continue
    (model, optimiser, scheduler, epoch, History, best weights so far, random-number states;
    :func:`dlcore.distributed.save_checkpoint`), written atomically, by process 0 alone under
    torchrun. ``resume=True`` continues from that file if it exists (and starts afresh if not),
    ``resume="path"`` from the given file: the run goes on from the epoch after the saved one,
    the History covering all epochs, with the same results as a run never interrupted (given a
    batch source whose order depends only on the epoch, such as a ``DistributedSampler``, a
    ``DataLoader`` shuffling with torch's generator, or :class:`dlcore.data.ArrayBatches`).
    Resuming needs the objects the run was saved with: an optimiser or scheduler of another
    class, a missing scheduler, or an optimiser built with other hyper-parameters (a new
    ``lr``, say, which the saved state would silently overrule) raise
    :class:`dlcore.distributed.CheckpointError`; to train on with a new learning rate, load the
    weights alone (:func:`dlcore.distributed.load_checkpoint` with ``optimizer=None``) and start
    a new run. ``on_epoch_end(epoch, history)`` runs after each epoch (and its checkpoint).

    Under ``torchrun``, after :func:`dlcore.distributed.setup`: every process calls ``fit`` with
    its own share of the data (:class:`dlcore.distributed.DistributedBatches`); ``fit`` wraps the
    model in ``DistributedDataParallel`` and reports means over all processes.
    """
    engine = _Torch(model, optimizer, mixed_precision, channels_last, ddp=True)
    history = _fit(engine, train, loss, epochs, val, metrics, scheduler, patience, on_epoch,
                   progress, on_epoch_end, checkpoint, resume)
    history.mixed_precision = str(engine.autocast_dtype).replace("torch.", "") \
        if engine.mixed else None
    history.channels_last = engine.channels_last
    return history


def steps_to_error(model, optimizer, batches: Iterable, *, target: float, max_steps: int,
                   window: int = 20, loss: Callable | None = None):
    """Train a torch classifier on ``batches`` (passed over again and again) until its training
    error, averaged over the last ``window`` batches (each measured before that batch's step),
    is at most ``target``; at most ``max_steps`` steps. Returns ``(steps, curve)``: the number of
    steps taken to get there (None if it did not) and the running error after every step.

    This is how Krizhevsky et al. (2012, figure 1) compared ReLU and tanh: the number of
    iterations each needs to reach 25% training error. ``loss`` defaults to cross-entropy.
    """
    import torch

    if not 0 < target < 1:
        raise ValueError(f"steps_to_error: target must be an error rate in (0, 1), got {target}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"steps_to_error: max_steps must be a positive int, got {max_steps!r}")
    criterion = loss or torch.nn.functional.cross_entropy
    device = next(model.parameters()).device
    model.train()
    errors, curve, step = [], [], 0
    while step < max_steps:
        seen = 0
        for x, y, *_ in batches:
            x, y = torch.as_tensor(x).to(device), torch.as_tensor(y).to(device)
            optimizer.zero_grad()
            outputs = model(x)
            value = criterion(outputs, y)
            if not torch.isfinite(value):
                raise TrainingDiverged(f"steps_to_error: the training loss is {float(value)} "
                                       f"at step {step + 1}; try a smaller learning rate")
            value.backward()
            optimizer.step()
            errors.append(float((outputs.argmax(1) != y).float().mean()))
            step, seen = step + 1, seen + 1
            curve.append(float(np.mean(errors[-window:])))
            if len(errors) >= window and curve[-1] <= target:
                return step, curve
            if step >= max_steps:
                break
        if not seen:
            raise ValueError("steps_to_error: the batches yielded nothing")
    return None, curve


def imagenet_recipe(model, lr: float = 0.01, momentum: float = 0.9,
                    weight_decay: float = 5e-4, patience: int = 2):
    """The learning rule of Krizhevsky et al. (2012): SGD with momentum 0.9 and weight decay
    0.0005, the learning rate (0.01 at the start) divided by 10 when the validation loss stops
    improving (the paper watched the validation *error*; ``fit`` steps a plateau scheduler on
    the validation loss). Returns ``(optimizer, scheduler)`` for :func:`fit`."""
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                                weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.1,
                                                           patience=patience)
    return optimizer, scheduler


def fit_numpy(model, optimizer, train: Iterable, *, loss: Callable, epochs: int,
              val: Iterable | None = None, metrics=(), scheduler=None,
              patience: int | None = None, on_epoch: Callable | None = None,
              progress: bool = True, on_epoch_end: Callable | None = None) -> History:
    """:func:`fit` for :mod:`dlcore.nn` models: the same arguments, checks and History
    (checkpoints and torchrun are for torch models only). ``loss`` runs forward and backward
    (:func:`supervised` and :func:`reconstruction` do); ``optimizer`` is a
    :mod:`dlcore.nn.optim` optimiser over (some of) the model's parameters."""
    return _fit(_NumPy(model, optimizer), train, loss, epochs, val, metrics, scheduler,
                patience, on_epoch, progress, on_epoch_end)


def evaluate(model, data: Iterable, *, loss: Callable, metrics=()) -> dict:
    """Mean loss and metrics of a torch or :mod:`dlcore.nn` model over ``data``, in evaluation
    mode (and without gradients), e.g. ``{"loss": 0.07, "accuracy": 0.98, "top5": 1.0}``.
    The model's train/eval mode is restored afterwards. Under ``torchrun`` every process must
    call it, each with its share of ``data``: the means are over all of them."""
    engine = _NumPy(model, None) if _is_numpy_model(model) else _Torch(model, None)
    was_training = model.training
    try:
        value, measured = _run_pass(engine, loss, data, tuple(metrics), False)
    finally:
        model.train(was_training)
    return {"loss": value, **measured}


# --------------------------------------------------------------------------- NumPy helpers


def minibatches(n: int, batch_size: int, rng: np.random.Generator | None = None):
    """Index arrays that cover ``range(n)`` in batches of ``batch_size`` (shuffled if ``rng``)."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def predict_numpy(model, X, batch_size: int = 2000):
    """The outputs of a :mod:`dlcore.nn` model on ``X``, in eval mode, batch by batch."""
    was_training = model.training
    model.eval()
    try:
        return np.concatenate([model(X[idx]) for idx in minibatches(len(X), batch_size)])
    finally:
        model.train(was_training)
