"""Train an ImageNet architecture of :mod:`dlcore.models` on a folder of images with the paper's
recipe, on one process or on many with ``torchrun``, and evaluate it as the papers did (centre
crop and ten crops, top-1 and top-5 error). On one machine::

    python -m dlcore.scripts.train_imagenet --arch resnet50 --data /data/imagenet
    torchrun --standalone --nproc_per_node=8 -m dlcore.scripts.train_imagenet \\
        --arch resnet50 --data /data/imagenet --checkpoint-dir runs/resnet50 --resume

``--data`` holds ``train/`` and ``val/``, each with one folder of images per class
(:class:`dlcore.data.ImageFolder`). Every process runs this same program on its share of the
data (:class:`dlcore.distributed.DistributedBatches`), and :func:`dlcore.train.fit` does the
rest: DistributedDataParallel, metrics over all processes, a checkpoint after every epoch
(``--checkpoint-dir``), ``--resume`` after an interruption. On a GPU, mixed precision and the
channels-last layout are on unless turned off (``--no-amp``, ``--no-channels-last``).

Every argument is checked before any data is read or any training starts (:func:`parse_args`);
what can only be found later (a data folder in the wrong layout, an unreadable image, a
checkpoint of another architecture) is one line ``train_imagenet: error: ...`` (:func:`main`).

``--batch-size`` is per process; by default the paper's batch is shared out, so that the global
batch is the paper's. The default learning rate is the paper's, scaled by global batch / paper's
batch, the linear scaling rule of Goyal et al. (2017), who add a gradual warm-up for large
batches (``--warmup-epochs``; 5 by default with the step schedule when the global batch exceeds
the paper's). Process 0 prints one line per epoch (with the training throughput in images per
second) and the final errors, and writes ``checkpoint.pt`` and ``model.pt`` (the weights of
the epoch of lowest validation loss) into ``--checkpoint-dir``.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Recipe", "RECIPES", "ARCHS", "make_optimizer", "ten_crop_loss", "parse_args", "main"]


@dataclass(frozen=True)
class Recipe:
    """A paper's training recipe: SGD with ``momentum`` and ``weight_decay``, learning rate
    ``lr`` for a batch of ``batch`` images, a ``schedule`` ("plateau": divide by 10 when the
    validation loss stops improving; "step": divide by 10 at fixed epochs; "exponential":
    multiply by 0.96 every 8 epochs), ``epochs``, and the training ``scale``: the range of the
    shorter side of the resized image from which 224 × 224 crops are taken."""

    lr: float
    batch: int
    momentum: float
    weight_decay: float
    schedule: str
    epochs: int
    scale: tuple[int, int]
    source: str


RECIPES = {
    # Krizhevsky et al. 2012, section 5: batch 128, momentum 0.9, weight decay 0.0005, learning
    # rate 0.01 divided by 10 "when the validation error rate stopped improving" (three times),
    # about 90 epochs; 224 crops of images whose shorter side is 256 (section 2).
    "alexnet": Recipe(0.01, 128, 0.9, 5e-4, "plateau", 90, (256, 256),
                      "Krizhevsky et al. 2012, section 5"),
    # Simonyan & Zisserman 2015, section 3.1: batch 256, momentum 0.9, weight decay 5e-4,
    # learning rate 0.01 divided by 10 when the validation accuracy stopped improving (three
    # times), 74 epochs; scale jittering, shorter side S drawn from [256, 512].
    "vgg": Recipe(0.01, 256, 0.9, 5e-4, "plateau", 74, (256, 512),
                  "Simonyan & Zisserman 2015, section 3.1"),
    # He et al. 2016, section 3.4: batch 256, learning rate 0.1 "divided by 10 when the error
    # plateaus", weight decay 1e-4, momentum 0.9, shorter side drawn from [256, 480]. The fixed
    # steps at epochs 30, 60 and 80 of 90 (with warm-up for large batches) are Goyal et al.
    # 2017, section 5.1, which torchvision's reference recipe also follows.
    "resnet": Recipe(0.1, 256, 0.9, 1e-4, "step", 90, (256, 480),
                     "He et al. 2016, section 3.4; steps of Goyal et al. 2017"),
    # Szegedy et al. 2015, section 6: momentum 0.9 and the learning rate decreased by 4% every
    # 8 epochs. The paper trained asynchronously and gives neither the initial learning rate,
    # the batch nor the weight decay: 0.01, 256 and 1e-4 here are this book's choice.
    "googlenet": Recipe(0.01, 256, 0.9, 1e-4, "exponential", 90, (256, 256),
                        "Szegedy et al. 2015, section 6 (learning rate, batch, decay: ours)"),
}

# Builder name in dlcore.models -> the recipe it trains with by default. lecture_cnn (the
# lectures' small CNN for 32 x 32 images) is here for quick runs, with AlexNet's recipe.
ARCHS = {"alexnet": "alexnet", "googlenet": "googlenet", "lecture_cnn": "alexnet",
         **{f"vgg{d}{bn}": "vgg" for d in (11, 13, 16, 19) for bn in ("", "_bn")},
         **{f"resnet{d}": "resnet" for d in (18, 34, 50, 101, 152)}, "cifar_resnet": "resnet"}


def make_optimizer(model, recipe: Recipe, lr: float, epochs: int, warmup_epochs: int = 0):
    """SGD and the learning-rate schedule of ``recipe`` for ``model``, with learning rate
    ``lr``. The step schedule divides it by 10 at 1/3, 2/3 and 8/9 of ``epochs`` (30, 60, 80 of
    90); with ``warmup_epochs``, it first climbs linearly from the paper's rate ``recipe.lr`` to
    ``lr`` (Goyal et al. 2017, section 2.2: from η to kη over 5 epochs; here one step per epoch,
    where they take one per iteration). Returns ``(optimizer, scheduler)`` for
    :func:`dlcore.train.fit`."""
    import torch

    from dlcore import train

    if warmup_epochs and recipe.schedule != "step":
        raise ValueError(f"warm-up goes with the step schedule (the ResNet recipe of Goyal et "
                         f"al.), not with the {recipe.schedule} one")
    if recipe.schedule == "plateau":
        return train.imagenet_recipe(model, lr=lr, momentum=recipe.momentum,
                                     weight_decay=recipe.weight_decay)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay)
    if recipe.schedule == "exponential":
        return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=8, gamma=0.96)
    milestones = [max(1, round(epochs * f)) for f in (1 / 3, 2 / 3, 8 / 9)]
    start = min(1.0, recipe.lr / lr)  # 1/k for k times the paper's batch

    def factor(epoch):  # epoch: the number of epochs completed
        warm = start + (1 - start) * epoch / warmup_epochs if epoch < warmup_epochs else 1.0
        return warm * 0.1 ** sum(epoch >= m for m in milestones)

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def ten_crop_loss(model, batch):
    """The loss of a batch ``(views, labels)`` of ten-crop views (N, 10, C, H, W): the softmax
    outputs averaged over each image's ten views, as Krizhevsky et al. (2012) evaluated, and
    the negative log of the label's averaged probability. Returns ``(loss, probabilities)``
    for :func:`dlcore.train.evaluate`."""
    from torch.nn import functional as F

    x, y = batch[0], batch[1]
    n, views = x.shape[:2]
    logits = model(x.reshape(n * views, *x.shape[2:]))
    probs = logits.float().softmax(1).reshape(n, views, -1).mean(1)
    return F.nll_loss(probs.clamp_min(1e-12).log(), y), probs


def _integer(text, low, high, wanted):
    """``text`` as an int in low..high (high None: no bound), or argparse's one-line error."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"must be {wanted}, got {text}")
    return value


def _positive(text):
    return _integer(text, 1, None, "a positive integer")


def _non_negative(text):
    return _integer(text, 0, None, "an integer >= 0")


def _seed(text):  # NumPy's global seed takes 32 bits
    return _integer(text, 0, 2**32 - 1, f"an integer in 0 .. {2**32 - 1}")


def _learning_rate(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):  # NaN fails every comparison
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m dlcore.scripts.train_imagenet",
        description="Train a dlcore.models ImageNet architecture on an ImageFolder tree with the "
                    "paper's recipe, on one process or under torchrun.")
    p.add_argument("--arch", required=True, choices=sorted(ARCHS), metavar="ARCH",
                   help=f"a builder of dlcore.models: {', '.join(sorted(ARCHS))}")
    p.add_argument("--data", required=True, type=Path,
                   help="folder holding train/ and val/, one sub-folder of images per class")
    p.add_argument("--recipe", choices=sorted(RECIPES),
                   help="training recipe (default: the architecture's paper)")
    p.add_argument("--epochs", type=_positive, help="epochs (default: the paper's)")
    p.add_argument("--batch-size", type=_positive,
                   help="images per process and step (default: the paper's batch / processes)")
    p.add_argument("--lr", type=_learning_rate,
                   help="initial learning rate, finite and > 0 (default: the paper's, scaled by "
                        "global batch / paper's batch)")
    p.add_argument("--warmup-epochs", type=_non_negative,
                   help="linear warm-up epochs, fewer than --epochs (step schedule; default 5 if "
                        "the global batch exceeds the paper's, else 0)")
    p.add_argument("--workers", type=_non_negative,
                   help="data-loading processes per training process (default: from the cores)")
    p.add_argument("--image-size", type=_positive, default=224,
                   help="crop size (224); the architecture must take it")
    p.add_argument("--resize", type=_positive, nargs="+", metavar="SIDE",
                   help="shorter side before cropping, at least --image-size: one value, or LOW "
                        "HIGH for scale augmentation (default: the paper's, scaled to "
                        "--image-size)")
    p.add_argument("--checkpoint-dir", type=Path,
                   help="write checkpoint.pt after every epoch and model.pt at the end (a "
                        "folder, created if need be)")
    p.add_argument("--resume", action="store_true",
                   help="continue from CHECKPOINT_DIR/checkpoint.pt if it exists (written by "
                        "the same --arch, --recipe, classes and learning rate)")
    p.add_argument("--ten-crop", action="store_true",
                   help="also evaluate with ten crops per image at the end")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="mixed precision (default: on for CUDA)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="channels-last memory layout (default: on for CUDA)")
    p.add_argument("--max-steps", type=_positive,
                   help="at most this many training steps per epoch (smoke tests, throughput)")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--deterministic", action="store_true",
                   help="deterministic kernels (slower on a GPU: no cuDNN autotuning)")
    return p


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (``--help`` lists it); ``argv`` defaults to ``sys.argv[1:]``.

    Every argument is checked here, before any data is read or any training starts: numbers
    in range (a learning rate finite and > 0, ``--seed`` within NumPy's 32 bits), options that
    go together (``--resize`` at least ``--image-size``, LOW <= HIGH; ``--warmup-epochs`` with
    the step schedule and fewer than the epochs), a ``--checkpoint-dir`` that is, or can be
    created as, a writable folder, and an ``--image-size`` that ``--arch`` takes (tried with a
    forward pass on torch's meta device, which computes shapes only). A bad argument ends the
    program as argparse does: the usage, one ``error:`` line, exit status 2."""
    p = _parser()
    args = p.parse_args(argv)
    for check in (_contradiction, _checkpoint_dir_problem, _image_size_problem):
        problem = check(args)
        if problem:
            p.error(problem)
    return args


def _contradiction(args):
    """Options that cannot go together, or None."""
    if args.resume and args.checkpoint_dir is None:
        return "--resume continues from CHECKPOINT_DIR/checkpoint.pt: give --checkpoint-dir"
    resize = args.resize
    if resize is not None:
        shown = " ".join(map(str, resize))
        if len(resize) > 2:
            return f"--resize takes one value or two (LOW HIGH), got {len(resize)}"
        if resize[0] > resize[-1]:
            return f"--resize {shown}: LOW must not exceed HIGH"
        if resize[0] < args.image_size:
            return (f"--resize {shown} is smaller than --image-size {args.image_size}: the "
                    f"crops are taken from the resized image")
    recipe_name = args.recipe or ARCHS[args.arch]
    recipe = RECIPES[recipe_name]
    if args.warmup_epochs and recipe.schedule != "step":
        return (f"--warmup-epochs goes with the step schedule (--recipe resnet); the "
                f"{recipe_name} recipe's schedule is {recipe.schedule}")
    epochs = args.epochs or recipe.epochs
    if args.warmup_epochs and args.warmup_epochs >= epochs:
        return (f"--warmup-epochs {args.warmup_epochs} leaves no epoch after the warm-up: "
                f"--epochs is {epochs}")
    return None


def _checkpoint_dir_problem(args):
    """Why checkpoints could not be written into ``--checkpoint-dir``, or None: found now, not
    after the first epoch's training."""
    folder = args.checkpoint_dir
    if folder is None:
        return None
    if folder.exists():
        if not folder.is_dir():
            return (f"--checkpoint-dir {folder} is a file, not a folder: checkpoint.pt and "
                    f"model.pt are written into it")
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"--checkpoint-dir {folder} is not writable"
        if not args.resume and (folder / "checkpoint.pt").exists():
            # A new run would replace it after its first epoch: say so before, not after.
            return (f"--checkpoint-dir {folder} holds checkpoint.pt from an earlier run: pass "
                    f"--resume to continue it, or choose another --checkpoint-dir")
        return None
    parent = next(p for p in folder.parents if p.exists())  # where it would be created
    if not parent.is_dir():
        return f"--checkpoint-dir {folder} cannot be created: {parent} is a file"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"--checkpoint-dir {folder} cannot be created: {parent} is not writable"
    return None


def _crop_problem(model, size):
    """None if ``model`` (on the meta device) takes size × size images, else why not."""
    import torch

    try:
        with torch.no_grad():
            model(torch.empty(1, 3, size, size, device="meta"))
    except (RuntimeError, ValueError) as e:
        return str(e).strip().splitlines()[-1]
    return None


def _image_size_problem(args):
    """Why ``--arch`` cannot take ``--image-size`` crops, or None. The model is built and run
    on torch's meta device: shapes are computed, nothing is allocated, so even ResNet-152
    takes a fraction of a second."""
    import torch

    from dlcore import models

    with torch.device("meta"):
        model = getattr(models, args.arch)().eval()
    size = args.image_size
    why = _crop_problem(model, size)
    if why is None:
        return None
    fixed = getattr(model, "input_shape", None)  # e.g. lecture_cnn: 32 x 32 only
    if fixed is not None:
        return (f"--arch {args.arch} takes {fixed[-2]} × {fixed[-1]} crops only, got "
                f"--image-size {size}: pass --image-size {fixed[-1]}")
    if size < 224 and _crop_problem(model, 224) is None:
        # Too small: the feature maps shrink to nothing. Larger inputs only help, so bisect.
        low, high = size, 224
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (low, mid) if _crop_problem(model, mid) is None else (mid, high)
        return (f"--image-size {size} is too small for --arch {args.arch}: the smallest crop "
                f"it takes is {high}")
    return f"--arch {args.arch} cannot take {size} × {size} crops: {why}"


class _Epochs:
    """The training batches of an epoch, at most ``max_steps`` of them, timed and counted.

    ``record`` (architecture, recipe, classes, learning rate) is this batch source's state: fit keeps it in
    every checkpoint (see :meth:`state_dict`), so that ``--resume`` can tell which run wrote
    one."""

    def __init__(self, batches, max_steps=None, record=None):
        self.batches, self.max_steps, self.record = batches, max_steps, record or {}
        self.seconds, self.examples = 0.0, 0

    def state_dict(self):
        # fit saves a batch source's state_dict with each checkpoint ("batches")
        return dict(self.record)

    def load_state_dict(self, state):
        pass  # nothing to restore: _check_resume compared the record before fit loaded it

    def set_epoch(self, epoch):
        self.batches.set_epoch(epoch)

    def __len__(self):
        n = len(self.batches)
        return n if self.max_steps is None else min(n, self.max_steps)

    def __iter__(self):
        start, self.examples = time.perf_counter(), 0
        for step, batch in enumerate(self.batches):
            if step == len(self):
                break
            self.examples += len(batch[0])
            yield batch
        self.seconds = time.perf_counter() - start


def _default_workers():
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(0, min(8, (os.cpu_count() or 1) // per_node - 1))


def _errors(history, split):
    top1, top5 = history[f"{split} accuracy"][-1], history[f"{split} top5"][-1]
    return f"top-1 error {100 * (1 - top1):.2f}%, top-5 error {100 * (1 - top5):.2f}%"


class _Refused(Exception):
    """An argument that turned out wrong once the data or the checkpoint was read: main prints
    the message as one line."""


def _shown(names, n=5):
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def _weights_mismatch(saved, own):
    """What differs between two state_dicts ("missing: ...; unexpected: ..."), or ""."""
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    shapes = [f"{k} {tuple(saved[k].shape)} for {tuple(own[k].shape)}" for k in own
              if k in saved and saved[k].shape != own[k].shape]
    return "; ".join(f"{what}: {_shown(keys)}" for what, keys in (
        ("missing", missing), ("unexpected", unexpected), ("shapes", shapes)) if keys)


def _read_checkpoint(path):
    from dlcore import distributed

    try:
        return distributed.load_checkpoint(path, map_location="cpu", restore_rng=False)
    except Exception as e:  # whatever the reason (torn, another format), it cannot be resumed
        reason = str(e).strip().splitlines()[-1]
        if str(path) not in reason:
            reason = f"cannot read {path}: {reason}"
        raise _Refused(f"--resume: {reason}") from None


def _record_mismatch(saved, record, data):
    """How the run that wrote a checkpoint (its record ``saved``) differs from this one, or
    None. Each of these would fail in fit's load, or worse, be silently replaced by it."""
    for key, how in (("arch", "by"), ("recipe", "with")):
        if key in saved and saved[key] != record[key]:
            return (f"was written {how} --{key} {saved[key]}, not {record[key]}: pass "
                    f"--{key} {saved[key]} to continue that run")
    old, new = saved.get("classes"), record["classes"]
    if old is not None and list(old) != new:
        return (f"was trained on {len(old)} classes ({_shown(old)}), not the {len(new)} of "
                f"--data {data} ({_shown(new)}): resume with the data it was trained on")
    if "lr" in saved and saved["lr"] != record["lr"]:  # str(float) round-trips exactly
        return (f"was trained with learning rate {saved['lr']}, not {record['lr']} (--lr, or "
                f"by default the paper's scaled to the global batch): pass --lr {saved['lr']} "
                f"to continue that run")
    return None


def _check_resume(path, record, model, data):
    """Refuse, before fit loads it, a checkpoint that another run wrote: another ``--arch``,
    ``--recipe``, set of classes or learning rate, as its record says (:class:`_Epochs`); for
    a checkpoint without one, weights that do not fit ``model``."""
    state = _read_checkpoint(path)
    saved = state.get("batches")
    problem = _record_mismatch(saved if isinstance(saved, dict) else {}, record, data)
    mismatch = _weights_mismatch(state["model"], model.state_dict())
    if problem is None and mismatch:
        problem = (f"holds weights that do not fit --arch {record['arch']} with "
                   f"{len(record['classes'])} classes ({mismatch}): resume with the --arch and "
                   f"--data it was trained with")
    if problem is not None:
        raise _Refused(f"--resume: {path} {problem}, or choose another --checkpoint-dir to "
                       f"start afresh")


def _run(args, on_epoch_end):
    import torch

    from dlcore import data, distributed, models, train

    device = distributed.setup()
    world = distributed.world_size()
    say = print if distributed.is_main() else (lambda *a, **k: None)
    recipe_name = args.recipe or ARCHS[args.arch]
    recipe = RECIPES[recipe_name]
    if not args.data.is_dir():
        raise data.DataError(f"--data {args.data} is not a folder: expected one holding train/ "
                             f"and val/, each with one sub-folder of images per class "
                             f"(ImageFolder layout, as ImageNet's train/ comes)")
    scale = args.resize or [round(args.image_size * s / 224) for s in recipe.scale]
    low, high = scale[0], scale[-1]
    train_set = data.ImageFolder(args.data / "train", train=True, size=args.image_size,
                                 resize=(low, high), seed=args.seed)
    val_set = data.ImageFolder(args.data / "val", train=False, size=args.image_size, resize=low)
    if val_set.classes != train_set.classes:
        only = sorted(set(train_set.classes) ^ set(val_set.classes))[:5]
        raise data.DataError(f"{args.data}/train has {len(train_set.classes)} classes and "
                             f"{args.data}/val {len(val_set.classes)}; they must hold the same "
                             f"class folders (differing, e.g.: {', '.join(only)}). ImageNet's "
                             f"validation images come in one folder: sort them into class "
                             f"folders first")

    batch = args.batch_size or max(1, recipe.batch // world)
    global_batch = batch * world
    lr = args.lr if args.lr is not None else recipe.lr * global_batch / recipe.batch
    warmup = args.warmup_epochs
    if warmup is None:
        warmup = 5 if recipe.schedule == "step" and global_batch > recipe.batch else 0
    epochs = args.epochs or recipe.epochs
    workers = _default_workers() if args.workers is None else args.workers

    train.seed_everything(args.seed, deterministic=args.deterministic)
    if device.type == "cuda" and not args.deterministic:
        torch.backends.cudnn.benchmark = True  # autotuned convolutions: fixed input sizes
    model = getattr(models, args.arch)(num_classes=len(train_set.classes)).to(device)
    optimizer, scheduler = make_optimizer(model, recipe, lr, epochs, warmup)
    record = {"arch": args.arch, "recipe": recipe_name, "classes": list(train_set.classes),
              "lr": lr}
    batches = _Epochs(distributed.DistributedBatches(train_set, batch, shuffle=True,
                                                     seed=args.seed, workers=workers),
                      args.max_steps, record)
    val = distributed.DistributedBatches(val_set, batch, workers=workers)
    checkpoint = None if args.checkpoint_dir is None else args.checkpoint_dir / "checkpoint.pt"
    if args.resume and checkpoint.is_file():
        _check_resume(checkpoint, record, model, args.data)

    n_params = sum(p.numel() for p in model.parameters())
    say(f"{args.arch}: {n_params:,} parameters, {len(train_set.classes)} classes; "
        f"{len(train_set):,} training and {len(val_set):,} validation images")
    say(f"{world} process(es) on {device.type}, batch {batch} per process = {global_batch}; "
        f"recipe {recipe_name} ({recipe.source}): SGD lr {lr:g} (the paper's {recipe.lr:g} "
        f"for batch {recipe.batch}{' scaled linearly' if args.lr is None else ''}), momentum "
        f"{recipe.momentum}, weight decay {recipe.weight_decay:g}, {recipe.schedule} schedule"
        f"{f', {warmup} warm-up epochs' if warmup else ''}; {epochs} epochs", flush=True)

    def log(epoch, history):
        rate = batches.examples * world / batches.seconds if batches.seconds else 0.0
        say(f"epoch {epoch}/{epochs}: train loss {history['train loss'][-1]:.4f}, val loss "
            f"{history['val loss'][-1]:.4f}, val {_errors(history, 'val')}, lr "
            f"{history['lr'][-1]:.3g}; training {batches.seconds:.1f} s, {rate:,.0f} images/s",
            flush=True)
        if on_epoch_end is not None:
            on_epoch_end(epoch, history)

    amp = "auto" if args.amp is None else args.amp
    channels_last = "auto" if args.channels_last is None else args.channels_last
    metrics = [train.accuracy, train.top_k(5)]
    history = train.fit(model, optimizer, batches,
                        loss=train.supervised(torch.nn.CrossEntropyLoss()), epochs=epochs,
                        val=val, metrics=metrics, scheduler=scheduler, progress=False,
                        mixed_precision=amp, channels_last=channels_last,
                        checkpoint=checkpoint, resume=args.resume, on_epoch_end=log)
    say(f"mixed precision: {history.mixed_precision or 'off'}, channels-last: "
        f"{'on' if history.channels_last else 'off'}; best epoch {history.best_epoch}")

    results = {"history": history}
    results["centre crop"] = train.evaluate(model, val, loss=train.supervised(
        torch.nn.CrossEntropyLoss()), metrics=metrics)
    if args.ten_crop:
        views = data.ImageFolder(args.data / "val", train=False, size=args.image_size,
                                 resize=low, ten_crop=True)
        views_batches = distributed.DistributedBatches(views, max(1, batch // 4),
                                                       workers=workers)
        results["ten crops"] = train.evaluate(model, views_batches, loss=ten_crop_loss,
                                              metrics=metrics)
    for name in ("centre crop", "ten crops"):
        if name in results:
            r = results[name]
            say(f"val, {name} ({len(val_set):,} images): top-1 error "
                f"{100 * (1 - r['accuracy']):.2f}%, top-5 error {100 * (1 - r['top5']):.2f}%, "
                f"loss {r['loss']:.4f}")
    if args.checkpoint_dir is not None:
        distributed.save_checkpoint(args.checkpoint_dir / "model.pt", model,
                                    epoch=history.best_epoch, arch=args.arch,
                                    classes=list(train_set.classes))
    return results


def _worker_message(error):
    """The original message of an exception raised in a DataLoader worker, or None for one
    raised here. torch re-raises a worker's exception as the same type with the worker's
    whole traceback as its message; the traceback ends with "module.Type: message"."""
    text = str(error)
    if not re.match(r"Caught \w+ in DataLoader worker process \d+\.\n", text):
        return None
    kind = type(error)
    _, found, message = text.rpartition(f"\n{kind.__module__}.{kind.__qualname__}: ")
    return message.strip() if found else text.strip().splitlines()[-1]


def main(argv=None, *, on_epoch_end=None) -> dict:
    """Run the program: parse ``argv`` (:func:`parse_args` checks every argument first), join
    torchrun's process group if there is one, train, evaluate, leave the group. Returns
    ``{"history": History, "centre crop": {...}, "ten crops": {...}}`` (the latter with
    ``--ten-crop``). ``on_epoch_end(epoch, history)`` runs on every process after each epoch's
    checkpoint.

    What can only be found once the data or the checkpoint is read ends the program with one
    line, ``train_imagenet: error: <what was expected>``, and exit status 2: a data folder
    that is missing or not in ImageFolder layout; an image that cannot be read (also by a
    loader worker, whose traceback is left out; said by whichever process read it); a
    ``--resume`` checkpoint written by another ``--arch``, ``--recipe``, set of classes or
    learning rate (each checkpoint records them; for an older one without the record, weights
    that do not fit ``--arch``), or one that cannot be read."""
    from dlcore import distributed
    from dlcore.data import DataError

    args = parse_args(argv)
    try:
        return _run(args, on_epoch_end)
    except (DataError, _Refused) as e:
        from_worker = _worker_message(e)
        # Every process finds the same layout or checkpoint problem: process 0 says it. A
        # worker reads its own process's share of the images: that process says it.
        if from_worker is not None or os.environ.get("RANK", "0") == "0":
            print(f"train_imagenet: error: {from_worker or e}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        distributed.cleanup()


if __name__ == "__main__":
    main()
