"""The training loop beyond one process: dlcore.distributed, dlcore.data.ImageFolder and
``python -m dlcore.scripts.train_imagenet``, on the CPU with gloo, on a synthetic ImageFolder
tree written here (3 classes of 40 x 40 PNGs).

Two processes started by torchrun take the same steps as one process with their global batch;
only process 0 writes, each checkpoint once, atomically; a run killed with SIGKILL after an
epoch resumes from its checkpoint and ends exactly where a run never interrupted ends.
Every child process runs on one thread (OMP_NUM_THREADS=1).
"""

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dlcore import distributed, train
from dlcore.augment import Augmented
from dlcore.data import IMAGENET_MEAN, IMAGENET_STD, ArrayBatches, DataError, ImageFolder
from dlcore.scripts import train_imagenet

ROOT = Path(__file__).resolve().parents[1]
ENTRY = ROOT / "tests" / "ddp_entry.py"
CLASSES = ("cherry", "leaf", "sky")
EPOCHS = 4
# The lectures' small CNN (no batch norm, no dropout: one process with batch 8 and two with 4
# each compute the same thing), 32 x 32 crops, 24 training images: 3 steps of 8 per epoch.
RUN = ["--arch", "lecture_cnn", "--image-size", "32", "--epochs", str(EPOCHS), "--lr", "0.01",
       "--workers", "0", "--seed", "3"]


def write_tree(root, per_class=(("train", 8), ("val", 4)), seed=0):
    """root/{train,val}/{cherry,leaf,sky}/NN.png: noisy images tinted by class."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    tints = np.array([[150, 100, 100], [100, 150, 100], [100, 100, 150]])
    for split, n in per_class:
        for c, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                pixels = np.clip(tints[c] + rng.normal(0, 50, (40, 40, 3)), 0, 255)
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i:02d}.png")
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return write_tree(tmp_path_factory.mktemp("imagefolder"))


def child_env(**extra):
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", DLCORE_DEVICE="cpu",
               PYTHONPATH=path)
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    env.update(extra)
    return env


def run(cmd, env=None, check=True):
    proc = subprocess.run(list(map(str, cmd)), cwd=ROOT, env=env or child_env(),
                          capture_output=True, text=True, timeout=180)
    if check:
        assert proc.returncode == 0, \
            f"{' '.join(map(str, cmd))}\n{proc.stdout}\n{proc.stderr}"
    return proc


def torchrun(*args, env=None, check=True):
    return run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node=2", *map(str, args)], env, check)


def load(path):
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def ddp_run(tree, tmp_path_factory):
    """Two processes, batch 4 each, EPOCHS epochs, never interrupted; every rename logged."""
    out = tmp_path_factory.mktemp("ddp")
    proc = torchrun(ENTRY, *RUN, "--data", tree, "--batch-size", 4, "--checkpoint-dir",
                    out / "run", env=child_env(DLCORE_TEST_WRITES=str(out / "writes")))
    return out, proc


def assert_same_run(a, b, rtol, atol, weights_scale=0.0):
    """The same History and weights; each weight tensor to within ``weights_scale`` times its
    largest weight, if given (else to ``rtol`` and ``atol``, element by element)."""
    history_a, history_b = a["loop"]["history"]["values"], b["loop"]["history"]["values"]
    assert history_a.keys() == history_b.keys()
    for key in history_a:
        np.testing.assert_allclose(history_a[key], history_b[key], rtol=rtol, atol=atol,
                                   err_msg=key)
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        expected = b["model"][key]
        tolerance = dict(rtol=0, atol=weights_scale * float(expected.abs().max())) \
            if weights_scale else dict(rtol=rtol, atol=atol)
        torch.testing.assert_close(a["model"][key], expected, **tolerance,
                                   msg=lambda m, key=key: f"{key}: {m}")


# --------------------------------------------------------------------------- torchrun


def test_two_processes_take_the_steps_of_one_process_with_their_global_batch(
        ddp_run, tree, tmp_path):
    out, proc = ddp_run
    one = run([sys.executable, "-m", "dlcore.scripts.train_imagenet", *RUN, "--data", tree,
               "--batch-size", 8, "--checkpoint-dir", tmp_path / "one"])
    assert "1 process(es) on cpu, batch 8 per process = 8" in one.stdout
    assert "2 process(es) on cpu, batch 4 per process = 8" in proc.stdout
    two, single = load(out / "run" / "checkpoint.pt"), load(tmp_path / "one" / "checkpoint.pt")
    assert two["epoch"] == single["epoch"] == EPOCHS and two["world_size"] == 2
    losses = two["loop"]["history"]["values"]["train loss"]
    assert losses[-1] < 0.5 * losses[0], losses  # it learns: these are real steps
    # Same examples in each global step; only the order of float32 additions differs (each
    # process sums its 4 examples, DDP adds the two sums). Those rounding differences (~1e-7
    # relative) grow where a ReLU or a max-pool flips on a near tie, so a few weights of the
    # convolutions differ by up to 1e-4 of their tensor's largest weight (seen: 3e-6 in 3.weight,
    # whose largest is 0.03; 57 of its 204,800 weights beyond 1e-6). An element-wise relative
    # tolerance fails on the smallest weights; compare with each tensor's scale instead: 1e-3 of
    # its largest weight, ten times what was seen, yet 100 times less than the 12 steps move the
    # weights (5e-3 to 3e-2), so a step missed, doubled or taken on other examples would fail.
    assert_same_run(two, single, rtol=1e-4, atol=1e-6, weights_scale=1e-3)


def test_only_process_0_logs_and_writes_each_checkpoint_once_atomically(ddp_run):
    out, proc = ddp_run
    assert (out / "writes.rank0").read_text().split() == ["checkpoint.pt"] * EPOCHS + ["model.pt"]
    assert not (out / "writes.rank1").exists()
    assert sorted(p.name for p in (out / "run").iterdir()) == ["checkpoint.pt", "model.pt"]
    for epoch in range(1, EPOCHS + 1):
        assert proc.stdout.count(f"epoch {epoch}/{EPOCHS}:") == 1
    assert proc.stdout.count("val, centre crop (12 images): top-1 error") == 1
    weights = load(out / "run" / "model.pt")
    assert weights["arch"] == "lecture_cnn" and weights["classes"] == list(CLASSES)


def test_a_killed_run_resumes_from_its_last_checkpoint_with_identical_results(
        ddp_run, tree, tmp_path):
    out, _ = ddp_run
    folder = tmp_path / "run"
    args = [*RUN, "--data", tree, "--batch-size", 4, "--checkpoint-dir", folder]
    killed = torchrun(ENTRY, *args, env=child_env(DLCORE_TEST_KILL_AFTER="2"), check=False)
    assert killed.returncode != 0 and "epoch 2/4:" in killed.stdout
    assert "epoch 3/4:" not in killed.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint.pt"]
    assert load(folder / "checkpoint.pt")["epoch"] == 2

    resumed = torchrun("-m", "dlcore.scripts.train_imagenet", *args, "--resume")
    assert "epoch 1/4:" not in resumed.stdout and "epoch 2/4:" not in resumed.stdout
    assert "epoch 3/4:" in resumed.stdout and "epoch 4/4:" in resumed.stdout
    # Same processes, same data order (a function of the epoch), random states restored:
    # the resumed run ends bit for bit where the uninterrupted one did.
    assert_same_run(load(folder / "checkpoint.pt"), load(out / "run" / "checkpoint.pt"),
                    rtol=0, atol=0)


def test_when_process_0_cannot_write_a_checkpoint_every_process_stops(tree, tmp_path):
    proc = torchrun(ENTRY, *RUN, "--epochs", 1, "--data", tree, "--batch-size", 4,
                    "--checkpoint-dir", tmp_path / "run", env=child_env(DLCORE_TEST_DISK_FULL="1"),
                    check=False)
    assert proc.returncode != 0
    assert "DiskFull: [Errno 28] could not write the checkpoint" in proc.stderr, proc.stderr
    assert "RuntimeError: process 0 could not write the checkpoint" in proc.stderr  # process 1
    assert not (tmp_path / "run").exists() or not list((tmp_path / "run").iterdir())


def test_the_script_trains_a_resnet_end_to_end_with_mixed_precision_and_ten_crops(tree):
    proc = run([sys.executable, "-m", "dlcore.scripts.train_imagenet", "--arch", "resnet18",
                "--data", tree, "--image-size", "32", "--epochs", "2", "--batch-size", "6",
                "--max-steps", "2", "--amp", "--channels-last", "--ten-crop", "--workers", "1"])
    out = proc.stdout
    assert "recipe resnet (He et al. 2016, section 3.4; steps of Goyal et al. 2017)" in out
    assert "lr 0.00234375 (the paper's 0.1 for batch 256 scaled linearly)" in out
    assert "epoch 2/2:" in out and "images/s" in out
    assert "mixed precision: bfloat16, channels-last: on" in out
    assert "val, centre crop (12 images): top-1 error" in out
    assert "val, ten crops (12 images): top-1 error" in out


# --------------------------------------------------------------------------- the script's errors


def broken_data(root, case):
    """A data folder with one thing wrong."""
    if case == "no data folder":
        return root / "nowhere"
    if case == "no train folder":
        (root / "val").mkdir(parents=True)
        return root
    write_tree(root, (("train", 1), ("val", 1)))
    if case == "val not sorted into classes":
        for image in (root / "val").rglob("*.png"):
            image.rename(root / "val" / f"{image.parent.name}.png")
        for folder in (root / "val").iterdir():
            if folder.is_dir():
                folder.rmdir()
    elif case == "an empty class folder":
        (root / "train" / "zebra").mkdir()
    return root


@pytest.mark.parametrize("case, expected", [
    ("no data folder", "is not a folder: expected one holding train/ and val/"),
    ("no train folder", "train does not exist: expected one sub-folder per class"),
    ("val not sorted into classes", "has no class folders: expected one sub-folder per class"),
    ("an empty class folder", "1 class folder(s) of"),
])
def test_the_script_says_what_is_wrong_with_the_data(tmp_path, capsys, case, expected):
    data = broken_data(tmp_path / "data", case)
    with pytest.raises(SystemExit) as stop:
        train_imagenet.main(["--arch", "lecture_cnn", "--data", str(data), "--image-size", "32",
                             "--epochs", "1", "--workers", "0"])
    assert stop.value.code == 2
    message = capsys.readouterr().err
    assert message.startswith("train_imagenet: error: ") and expected in message
    assert "Traceback" not in message


def test_the_script_refuses_contradictory_options(capsys):
    for argv, expected in [(["--resume"], "give --checkpoint-dir"),
                           (["--resize", "20"], "smaller than --image-size"),
                           (["--warmup-epochs", "2"], "goes with the step schedule"),
                           (["--arch", "lenet6"], "invalid choice")]:
        with pytest.raises(SystemExit):
            train_imagenet.parse_args(["--arch", "alexnet", "--data", "x", *argv])
        assert expected in capsys.readouterr().err


def test_the_recipes_follow_the_papers():
    model = torch.nn.Linear(2, 2)
    r = train_imagenet.RECIPES["resnet"]
    opt, sched = train_imagenet.make_optimizer(model, r, lr=0.4, epochs=90, warmup_epochs=5)
    lrs = []
    for _ in range(90):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    # Goyal et al.'s warm-up, from the paper's 0.1 to 0.4 (4 x its batch) over 5 epochs
    np.testing.assert_allclose(lrs[:7], [0.1, 0.16, 0.22, 0.28, 0.34, 0.4, 0.4])
    np.testing.assert_allclose([lrs[29], lrs[30], lrs[60], lrs[80]], [0.4, 0.04, 0.004, 0.0004])
    opt, sched = train_imagenet.make_optimizer(model, train_imagenet.RECIPES["alexnet"], 0.01, 90)
    assert isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert opt.defaults["weight_decay"] == 5e-4 and opt.defaults["momentum"] == 0.9
    assert set(train_imagenet.ARCHS.values()) <= set(train_imagenet.RECIPES)


# --------------------------------------------------------------------------- ImageFolder


def test_image_folder_reads_the_layout_as_torchvision_does(tree, tmp_path):
    ds = ImageFolder(tree / "train", train=False, size=32)
    assert ds.classes == list(CLASSES) and ds.class_to_idx == {"cherry": 0, "leaf": 1, "sky": 2}
    assert len(ds) == 24 and ds.targets == [0] * 8 + [1] * 8 + [2] * 8
    assert [Path(p).name for p, _ in ds.samples[:3]] == ["00.png", "01.png", "02.png"]
    x, y = ds[9]
    assert x.shape == (3, 32, 32) and x.dtype == np.float32 and y == 1
    assert ImageFolder(tree / "train", train=False, size=32, ten_crop=True)[9][0].shape == \
        (10, 3, 32, 32)
    # Sub-folders are read, other files ignored, classes sorted by name.
    (tmp_path / "b" / "nested").mkdir(parents=True)
    (tmp_path / "a").mkdir()
    from PIL import Image

    grey = Image.new("RGB", (50, 40), (128, 64, 255))
    grey.save(tmp_path / "b" / "nested" / "x.JPG")
    grey.save(tmp_path / "a" / "y.png")
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    other = ImageFolder(tmp_path, train=False, size=32)
    assert other.classes == ["a", "b"] and [label for _, label in other.samples] == [0, 1]
    x, _ = other[0]  # a constant image: the normalisation is exact
    expected = (np.array([128, 64, 255]) / 255 - IMAGENET_MEAN) / IMAGENET_STD
    np.testing.assert_allclose(x[:, 5, 5], expected, rtol=1e-5)


def test_training_crops_depend_only_on_seed_epoch_and_index(tree):
    a = ImageFolder(tree / "train", train=True, size=32, resize=(36, 48), seed=1)
    b = ImageFolder(tree / "train", train=True, size=32, resize=(36, 48), seed=1)
    np.testing.assert_array_equal(a[5][0], b[5][0])  # another process or worker: same crop
    a.set_epoch(1)
    assert not np.array_equal(a[5][0], b[5][0])
    b.set_epoch(1)
    np.testing.assert_array_equal(a[5][0], b[5][0])


def test_image_folder_errors_say_what_was_expected(tmp_path):
    with pytest.raises(DataError, match="does not exist: expected one sub-folder per class"):
        ImageFolder(tmp_path / "missing", train=True)
    (tmp_path / "file").write_text("")
    with pytest.raises(DataError, match="is a file, where a folder of class folders should be"):
        ImageFolder(tmp_path / "file", train=True)
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "img.png").write_bytes(b"")
    with pytest.raises(DataError, match="no class folders.*1 image.*move each into the folder"):
        ImageFolder(tmp_path / "flat", train=True)
    write_tree(tmp_path / "t", (("train", 1),))
    (tmp_path / "t" / "train" / "zebra").mkdir()
    with pytest.raises(DataError, match=r"1 class folder\(s\) of .* hold no images: zebra"):
        ImageFolder(tmp_path / "t" / "train", train=True)
    (tmp_path / "t" / "train" / "zebra" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="cannot read the image .*broken.png"):
        ImageFolder(tmp_path / "t" / "train", train=True, size=32)[3]
    with pytest.raises(ValueError, match="size <= low <= high"):
        ImageFolder(tmp_path / "t" / "train", train=True, size=32, resize=(40, 36))
    with pytest.raises(ValueError, match="ten_crop is a test-time view"):
        ImageFolder(tmp_path / "t" / "train", train=True, ten_crop=True)


# --------------------------------------------------------------------------- dlcore.distributed


def test_without_torchrun_everything_acts_as_one_process():
    assert distributed.setup() == train.device()
    assert (distributed.rank(), distributed.world_size()) == (0, 1)
    assert distributed.is_main() and not distributed.is_distributed()
    assert distributed.all_reduce_sum([1, 2.5]) == [1.0, 2.5]
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap(model) is model and distributed.unwrap(model) is model
    distributed.barrier()
    distributed.cleanup()


def test_sharded_batches_cover_the_global_batches_of_one_process():
    data = [(np.float32(i), i) for i in range(24)]
    one = distributed.DistributedBatches(data, 8, shuffle=True, seed=5, rank=0, world_size=1)
    two = [distributed.DistributedBatches(data, 4, shuffle=True, seed=5, rank=r, world_size=2)
           for r in range(2)]
    orders = []
    for epoch in (1, 2):
        for b in (one, *two):
            b.set_epoch(epoch)
        steps = [set(y.tolist()) for _, y in one]
        shares = [[set(y.tolist()) for _, y in b] for b in two]
        assert [a | b for a, b in zip(*shares)] == steps and len(steps) == 3
        orders.append(steps)
    assert orders[0] != orders[1]  # a new order each epoch
    # Evaluation: every example exactly once, shares differing by at most one.
    shares = [[y for _, ys in distributed.DistributedBatches(data[:7], 2, rank=r, world_size=2)
               for y in ys.tolist()] for r in range(2)]
    assert shares == [[0, 2, 4, 6], [1, 3, 5]]
    with pytest.raises(ValueError, match="rank must be in 0..1"):
        distributed.DistributedBatches(data, 4, rank=2, world_size=2)


def test_checkpoints_are_written_atomically_and_restore_weights_optimiser_and_rng(
        tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    path = distributed.save_checkpoint(tmp_path / "ck" / "c.pt", model, opt, epoch=7, note="x")
    after_save = (torch.rand(3), np.random.rand(), random.random())
    assert sorted(p.name for p in path.parent.iterdir()) == ["c.pt"]

    other = torch.nn.Linear(3, 2)
    opt2 = torch.optim.SGD(other.parameters(), lr=0.1, momentum=0.9)  # (another lr: refused)
    state = distributed.load_checkpoint(path, other, opt2)
    assert state["epoch"] == 7 and state["note"] == "x"
    torch.testing.assert_close(other.state_dict(), model.state_dict())
    assert opt2.state_dict()["state"]  # the momentum buffers
    again = (torch.rand(3), np.random.rand(), random.random())  # the random states are back
    assert torch.equal(again[0], after_save[0]) and again[1:] == after_save[1:]
    # A state_dict saved from a DDP model (keys "module.weight", ...) loads into a plain one.
    torch.save({"model": {f"module.{k}": v for k, v in model.state_dict().items()}},
               tmp_path / "ddp.pt")
    distributed.load_checkpoint(tmp_path / "ddp.pt", torch.nn.Linear(3, 2))
    with pytest.raises(ValueError, match="holds no optimizer state"):
        distributed.load_checkpoint(tmp_path / "ddp.pt", other, opt2)
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*: expected a file written"):
        distributed.load_checkpoint(tmp_path / "none.pt", other)
    with pytest.raises(ValueError, match="rng cannot be passed as extra values"):
        distributed.save_checkpoint(path, model, **{"rng": 1})
    # A write that fails half-way leaves the old checkpoint and no temporary file.
    before = path.read_bytes()

    def broken(obj, f):
        f.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        distributed.save_checkpoint(path, model, opt, epoch=8)
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == ["c.pt"]


def _mlp_run(epochs, checkpoint=None, resume=False, init_seed=0):
    torch.manual_seed(init_seed)
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                                torch.nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, 2, 0.5)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 120)
    X = (rng.normal(size=(120, 2)) + np.array([[0, 3], [3, 0], [-3, -3]])[y]).astype(np.float32)
    jitter = lambda x, g: x + g.normal(0, 0.1, x.shape).astype(np.float32)  # noqa: E731
    batches = Augmented(ArrayBatches(X[:90], y[:90], batch_size=16, shuffle=True), jitter)
    val = ArrayBatches(X[90:], y[90:], batch_size=30)
    history = train.fit(model, opt, batches, loss=train.supervised(torch.nn.CrossEntropyLoss()),
                        epochs=epochs, val=val, metrics=[train.accuracy], scheduler=sched,
                        progress=False, checkpoint=checkpoint, resume=resume)
    return history, model


def test_fit_resumes_from_a_checkpoint_as_if_never_interrupted(tmp_path):
    torch.manual_seed(1)
    whole, model = _mlp_run(5)
    _mlp_run(3, checkpoint=tmp_path / "c.pt")  # an interrupted run: 3 epochs saved
    torch.manual_seed(99)  # another process: other random state, other initial weights
    resumed, model2 = _mlp_run(5, checkpoint=tmp_path / "c.pt", resume=True, init_seed=7)
    assert resumed == whole and resumed.best_epoch == whole.best_epoch
    torch.testing.assert_close(model2.state_dict(), model.state_dict(), rtol=0, atol=0)
    assert load(tmp_path / "c.pt")["epoch"] == 5
    # resume=True without a checkpoint file yet starts afresh; an explicit path must exist.
    fresh, _ = _mlp_run(1, checkpoint=tmp_path / "new.pt", resume=True)
    assert fresh.epochs == 1 and (tmp_path / "new.pt").is_file()
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        _mlp_run(1, resume=tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="resume=True continues from the file given as"):
        _mlp_run(1, resume=True)
