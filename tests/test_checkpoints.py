"""Checkpoints refuse what would silently go wrong: dlcore.distributed.save_checkpoint and
load_checkpoint, and fit(checkpoint=..., resume=...), on one process.

A checkpoint names the optimiser's and the scheduler's class and the optimiser's
hyper-parameters, so that resuming with others is an error rather than a run that quietly
differs; a model's own child called ``module`` is not mistaken for DDP's wrapper; unreadable
files, a full disk and extra values that could not be read back are named before anything
goes wrong; the temporary file of a save that was killed is removed by the next save.
"""

import errno
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dlcore import distributed, train
from dlcore.data import ArrayBatches
from dlcore.distributed import CheckpointError

ROOT = Path(__file__).resolve().parents[1]


def mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(),
                               torch.nn.Linear(8, 3)).double()


def blobs():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 90)
    X = rng.normal(size=(90, 2)) + np.array([[0, 3], [3, 0], [-3, -3]])[y]
    return ArrayBatches(X[:60], y[:60], batch_size=20), ArrayBatches(X[60:], y[60:],
                                                                     batch_size=30)


def fit_run(path, epochs, optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
            scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 1, 0.5), resume=False):
    model = mlp()
    opt = optimizer(model.parameters())
    sched = None if scheduler is None else scheduler(opt)
    tr, va = blobs()
    return train.fit(model, opt, tr, loss=train.supervised(torch.nn.CrossEntropyLoss()),
                     epochs=epochs, val=va, scheduler=sched, progress=False,
                     checkpoint=path, resume=resume)


def stepped(lr=0.1, momentum=0.9):
    """A model and an SGD optimiser after one step (so the optimiser has momentum buffers)."""
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    model(torch.ones(1, 2, dtype=torch.float64)).sum().backward()
    opt.step()
    return model, opt


# --------------------------------------------------------------------------- classes, lr


@pytest.mark.parametrize("swap, saved, now", [
    ("optimizer", "torch.optim.sgd.SGD", "torch.optim.adam.Adam"),
    ("scheduler", "torch.optim.lr_scheduler.StepLR", "torch.optim.lr_scheduler.CosineAnnealingLR"),
])
def test_resuming_with_another_optimizer_or_scheduler_class_names_both(tmp_path, swap, saved,
                                                                       now):
    fit_run(tmp_path / "c.pt", 2)
    other = {"optimizer": lambda p: torch.optim.Adam(p, lr=0.1)} if swap == "optimizer" else \
        {"scheduler": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 4)}
    with pytest.raises(CheckpointError) as info:
        fit_run(tmp_path / "c.pt", 4, resume=True, **other)
    message = str(info.value)
    assert str(tmp_path / "c.pt") in message and f"{swap} {saved}" in message
    assert f"this run's is {now}" in message
    assert isinstance(info.value, ValueError) and len(info.value._render_traceback_()) == 1


def test_a_checkpoint_saved_with_a_scheduler_does_not_resume_without_one(tmp_path):
    fit_run(tmp_path / "c.pt", 2)
    with pytest.raises(CheckpointError, match=r"saved with the scheduler "
                                              r"torch.optim.lr_scheduler.StepLR.*scheduler="):
        fit_run(tmp_path / "c.pt", 4, resume=True, scheduler=None)


def test_another_learning_rate_at_resume_is_reported_not_silently_overruled(tmp_path):
    model, opt = stepped(lr=0.1)
    path = distributed.save_checkpoint(tmp_path / "c.pt", model, opt)
    for changed, expected in [(dict(lr=0.01), "lr 0.1 in the checkpoint, 0.01 here"),
                              (dict(momentum=0.5), "momentum 0.9 in the checkpoint, 0.5 here")]:
        fresh = mlp(1)
        opt2 = torch.optim.SGD(fresh.parameters(), **{"lr": 0.1, "momentum": 0.9, **changed})
        with pytest.raises(CheckpointError, match=re.escape(expected)):
            distributed.load_checkpoint(path, fresh, opt2)
        assert not torch.equal(fresh[0].weight, model[0].weight)  # refused before any loading
    # The same hyper-parameters load, and the weights alone load into any optimiser's model.
    distributed.load_checkpoint(path, mlp(1), torch.optim.SGD(mlp(1).parameters(), lr=0.1,
                                                               momentum=0.9))
    distributed.load_checkpoint(path, mlp(1))


@pytest.mark.parametrize("scheduler", [
    lambda o: torch.optim.lr_scheduler.StepLR(o, 1, 0.5),
    lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=0),
])
def test_a_learning_rate_lowered_by_the_schedule_is_no_new_learning_rate(tmp_path, scheduler):
    whole = fit_run(tmp_path / "whole.pt", 4, scheduler=scheduler)
    fit_run(tmp_path / "c.pt", 2, scheduler=scheduler)
    resumed = fit_run(tmp_path / "c.pt", 4, scheduler=scheduler, resume=True)
    assert resumed["lr"] == whole["lr"] and resumed == whole


# --------------------------------------------------------------------------- model keys


class Holder(torch.nn.Module):
    """A model whose own child is called ``module``, as DDP's is."""

    def __init__(self):
        super().__init__()
        self.module = torch.nn.Linear(3, 2)


def test_a_model_whose_child_is_called_module_loads_its_own_checkpoint(tmp_path):
    torch.manual_seed(0)
    saved = Holder()
    path = distributed.save_checkpoint(tmp_path / "c.pt", saved)
    loaded = Holder()
    distributed.load_checkpoint(path, loaded)
    torch.testing.assert_close(loaded.state_dict(), saved.state_dict(), rtol=0, atol=0)
    # A file of the first format (no record of how it was written) loads too, whether its
    # "module." is the model's own child or DDP's prefix.
    torch.save({"format": 1, "model": saved.state_dict()}, tmp_path / "old.pt")
    distributed.load_checkpoint(tmp_path / "old.pt", Holder())
    torch.save({"model": {f"module.{k}": v for k, v in saved.module.state_dict().items()}},
               tmp_path / "ddp.pt")
    plain = torch.nn.Linear(3, 2)
    distributed.load_checkpoint(tmp_path / "ddp.pt", plain)
    torch.testing.assert_close(plain.state_dict(), saved.module.state_dict())


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.compile's own imports
def test_a_compiled_model_saves_and_loads_like_the_model_it_wraps(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    path = distributed.save_checkpoint(tmp_path / "c.pt", torch.compile(model))
    assert set(torch.load(path, weights_only=True)["model"]) == {"weight", "bias"}
    for target in (torch.nn.Linear(3, 2), torch.compile(torch.nn.Linear(3, 2))):
        distributed.load_checkpoint(path, target)
        torch.testing.assert_close(target.state_dict()["_orig_mod.weight" if hasattr(
            target, "_orig_mod") else "weight"], model.weight, rtol=0, atol=0)


def test_a_checkpoint_of_a_newer_format_is_refused(tmp_path):
    torch.save({"format": 99, "model": {}}, tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match=r"new.pt has format 99; this dlcore reads up to"):
        distributed.load_checkpoint(tmp_path / "new.pt", torch.nn.Linear(3, 2))


# --------------------------------------------------------------------------- unreadable files


class Opaque:
    """Not one of the types torch.load(weights_only=True) accepts."""


def unreadable(folder, case):
    path = folder / f"{case.replace(' ', '_')}.pt"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "truncated":
        whole = distributed.save_checkpoint(folder / "whole.pt", torch.nn.Linear(30, 20))
        path.write_bytes(whole.read_bytes()[:300])
    elif case == "bytes changed":
        model = torch.nn.Linear(30, 20)
        whole = bytearray(distributed.save_checkpoint(folder / "whole.pt", model).read_bytes())
        at = whole.find(model.weight.detach().numpy().tobytes()[:64])
        whole[at + 8:at + 16] = b"\xff" * 8  # in the weights: torch would load them as NaN
        path.write_bytes(bytes(whole))
    elif case == "not a checkpoint":
        path.write_text("epoch,loss\n1,0.5\n" * 20)
    elif case == "a pickle":
        path.write_bytes(pickle.dumps({"model": {}}))
    elif case == "python objects":
        torch.save({"model": {}, "note": Opaque()}, path)
    return path


@pytest.mark.parametrize("case, expected", [
    ("empty", "is empty (0 bytes)"),
    ("truncated", "is truncated or corrupt"),
    ("bytes changed", "is corrupt: the record"),
    ("not a checkpoint", "is truncated or corrupt"),
    ("a pickle", "is truncated or corrupt"),
    ("python objects", "holds Python objects other than tensors, numbers, strings"),
])
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's, on the pickle
def test_an_unreadable_checkpoint_is_named_without_torch_s_advice(tmp_path, case, expected):
    path = unreadable(tmp_path, case)
    with pytest.raises(CheckpointError) as info:
        distributed.load_checkpoint(path, torch.nn.Linear(30, 20))
    message = str(info.value)
    assert message.startswith(str(path)) and expected in message, message
    assert "weights_only" not in message.replace("weights_only=True", "")
    assert info.value.__cause__ is None and info.value.__suppress_context__


# --------------------------------------------------------------------------- writing


@pytest.mark.parametrize("fails", ["torch.save", "os.fsync"])
def test_a_full_disk_is_named_and_leaves_the_old_checkpoint(tmp_path, monkeypatch, fails):
    model, opt = stepped()
    path = distributed.save_checkpoint(tmp_path / "c.pt", model, opt, epoch=1)
    before = path.read_bytes()

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch if fails == "torch.save" else os, fails.split(".")[1], no_space)
    with pytest.raises(OSError) as info:
        distributed.save_checkpoint(path, model, opt, epoch=2)
    assert info.value.errno == errno.ENOSPC
    message = str(info.value)
    assert f"could not write the checkpoint {path}: no space left" in message, message
    assert "the previous checkpoint is intact" in message
    assert len(info.value._render_traceback_()) == 1
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["c.pt"]


@pytest.mark.parametrize("extra, where, kind", [
    (dict(note=np.float64(0.5)), "note", "numpy.float64"),
    (dict(stats={"losses": [0.5, np.arange(3)]}), "stats['losses'][1]", "numpy.ndarray"),
    (dict(stats={np.int64(1): 2.0}), "a key of stats", "numpy.int64"),
    (dict(hook=lambda epoch: epoch), "hook", "function"),
    (dict(history=train.History({"train loss": [1.0]})), "history", "dlcore.train.History"),
])
def test_extras_that_could_not_be_loaded_back_are_refused_before_writing(tmp_path, extra,
                                                                         where, kind):
    model, opt = stepped()
    path = distributed.save_checkpoint(tmp_path / "c.pt", model, opt, epoch=1)
    before = path.read_bytes()
    with pytest.raises(TypeError) as info:
        distributed.save_checkpoint(path, model, opt, epoch=2, **extra)
    message = str(info.value)
    assert f"save_checkpoint: the extra value {where} is a {kind}" in message, message
    assert "weights_only=True" in message
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["c.pt"]
    # What torch.load(weights_only=True) reads back is accepted, nested as deep as it likes.
    fine = {"lists": [1, 2.5, "x", None, (True, b"y")], "t": torch.ones(2),
            "dtype": torch.float16, "shape": torch.Size([2]), "set": {1, 2}}
    distributed.save_checkpoint(path, model, epoch=3, fine=fine)
    assert distributed.load_checkpoint(path, model)["fine"]["set"] == {1, 2}


KILLED_SAVE = """
import os, signal, sys, torch
from dlcore import distributed

def half_then_killed(obj, f):
    f.write(b"half a checkpoint")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)

torch.save = half_then_killed
distributed.save_checkpoint(sys.argv[1], torch.nn.Linear(3, 2))
"""


def test_the_next_save_removes_the_temporary_file_of_a_killed_save_and_nothing_else(tmp_path):
    path = distributed.save_checkpoint(tmp_path / "c.pt", torch.nn.Linear(3, 2), epoch=1)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [
        str(ROOT), os.environ.get("PYTHONPATH")])), OMP_NUM_THREADS="1")
    killed = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(path)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    left = [p.name for p in tmp_path.iterdir() if p.name != "c.pt"]
    assert len(left) == 1, left  # the killed save's temporary file
    # Files that are not a dead save's temporary file of c.pt stay: others' files, another
    # checkpoint's, and that of a save still running (here: this process's parent).
    live = re.sub(r"\d+", str(os.getppid()), left[0])
    kept = ["notes.tmp", ".c.pt.tmp", ".c.pt.backup.tmp", left[0].replace("c.pt", "d.pt"), live]
    for name in kept:
        (tmp_path / name).write_text("keep")
    distributed.save_checkpoint(path, torch.nn.Linear(3, 2), epoch=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["c.pt", *kept])
    assert distributed.load_checkpoint(path)["epoch"] == 2
