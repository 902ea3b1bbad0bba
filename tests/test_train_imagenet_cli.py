"""``python -m dlcore.scripts.train_imagenet`` refuses what cannot work before it trains: every
argument is checked first and a bad one is one argparse line (``usage:``, then ``error:``, exit
code 2); a broken image read by a loader worker, or ``--resume`` into a checkpoint of another
architecture, is one ``train_imagenet: error:`` line, never a traceback.

Runs in this process, on the CPU, with the lectures' small CNN on tiny trees of PNGs.
"""

import re

import numpy as np
import pytest

from dlcore import distributed, models
from dlcore.scripts import train_imagenet

PROG = "python -m dlcore.scripts.train_imagenet"
QUICK = ["--image-size", "32", "--epochs", "1", "--max-steps", "1", "--batch-size", "2",
         "--workers", "0", "--lr", "0.01"]


def write_tree(root, classes=("cherry", "sky"), broken=()):
    """root/{train,val}/<class>/0.png, 12 x 12 noise; the splits in ``broken`` get files that
    are not images."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True)
            if split in broken:
                (folder / "0.png").write_bytes(b"not a png")
            else:
                Image.fromarray(rng.integers(0, 256, (12, 12, 3), np.uint8)).save(folder / "0.png")
    return root


@pytest.fixture(autouse=True)
def _on_the_cpu(monkeypatch):
    monkeypatch.setenv("DLCORE_DEVICE", "cpu")
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)


def usage_error(capsys, argv):
    """The one ``error:`` line of argparse's answer to ``argv`` (after the usage)."""
    with pytest.raises(SystemExit) as stop:
        train_imagenet.parse_args(list(map(str, argv)))
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("usage: "), err
    assert err.count("error:") == 1 and err.splitlines()[-1].startswith(f"{PROG}: error: "), err
    return err.splitlines()[-1]


def main_error(capsys, argv):
    """What ``main(argv)`` prints as it stops: a single line, no traceback."""
    with pytest.raises(SystemExit) as stop:
        train_imagenet.main(list(map(str, argv)))
    err = capsys.readouterr().err
    assert stop.value.code == 2, err
    assert err.startswith("train_imagenet: error: ") and err.count("\n") == 1, err
    return err


# --------------------------------------------------------------------------- argument checks


@pytest.mark.parametrize("argv, expected", [
    (["--lr", "nan"], "argument --lr: must be a finite number > 0, got nan"),
    (["--lr", "inf"], "argument --lr: must be a finite number > 0, got inf"),
    (["--lr", "-0.1"], "argument --lr: must be a finite number > 0, got -0.1"),
    (["--lr", "0"], "argument --lr: must be a finite number > 0, got 0"),
    (["--lr", "fast"], "argument --lr: must be a finite number > 0, got fast"),
    (["--epochs", "1.5"], "argument --epochs: must be a positive integer, got 1.5"),
    (["--epochs", "0"], "argument --epochs: must be a positive integer, got 0"),
    (["--batch-size", "-4"], "argument --batch-size: must be a positive integer, got -4"),
    (["--workers", "-1"], "argument --workers: must be an integer >= 0, got -1"),
    (["--seed", str(2**32)], "argument --seed: must be an integer in 0 .. 4294967295, got"),
    (["--resize", "480", "256"], "--resize 480 256: LOW must not exceed HIGH"),
    (["--resize", "200"], "--resize 200 is smaller than --image-size 224"),
    (["--image-size", "300", "--resize", "256", "480"], "smaller than --image-size 300"),
    (["--arch", "resnet18", "--warmup-epochs", "90"],
     "--warmup-epochs 90 leaves no epoch after the warm-up: --epochs is 90"),
    (["--arch", "resnet18", "--epochs", "3", "--warmup-epochs", "3"],
     "--warmup-epochs 3 leaves no epoch after the warm-up: --epochs is 3"),
    (["--arch", "lecture_cnn"], "--arch lecture_cnn takes 32 × 32 crops only, got "
                                "--image-size 224: pass --image-size 32"),
    (["--arch", "alexnet", "--image-size", "32"], "--image-size 32 is too small for --arch "
                                                  "alexnet: the smallest crop it takes is 63"),
    (["--arch", "vgg11", "--image-size", "16"], "the smallest crop it takes is 32"),
])
def test_bad_arguments_are_one_usage_line_before_anything_runs(capsys, argv, expected):
    line = usage_error(capsys, ["--arch", "alexnet", "--data", "x", *argv])
    assert expected in line


def test_sizes_every_architecture_takes_pass():
    for arch in ("alexnet", "vgg11", "resnet18", "googlenet", "cifar_resnet"):
        train_imagenet.parse_args(["--arch", arch, "--data", "x", "--image-size", "64"])
    train_imagenet.parse_args(["--arch", "lecture_cnn", "--data", "x", "--image-size", "32"])
    train_imagenet.parse_args(["--arch", "alexnet", "--data", "x", "--image-size", "63"])


def test_a_checkpoint_dir_that_cannot_be_written_is_refused(tmp_path, capsys, monkeypatch):
    base = ["--arch", "alexnet", "--data", "x", "--checkpoint-dir"]
    file = tmp_path / "file"
    file.write_text("")
    # Before: accepted, and the first epoch trained before the checkpoint could not be written
    assert f"--checkpoint-dir {file} is a file, not a folder" in usage_error(capsys, [*base, file])
    line = usage_error(capsys, [*base, file / "run"])
    assert f"--checkpoint-dir {file / 'run'} cannot be created: {file} is a file" in line
    # Not writable (os.access says no; as root, chmod would not stop a write)
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = train_imagenet.os.access
    monkeypatch.setattr(train_imagenet.os, "access",
                        lambda path, mode, **kw: False if str(path) == str(locked)
                        else real_access(path, mode, **kw))
    assert f"--checkpoint-dir {locked} is not writable" in usage_error(capsys, [*base, locked])
    line = usage_error(capsys, [*base, locked / "new" / "run"])
    assert f"--checkpoint-dir {locked / 'new' / 'run'} cannot be created: {locked} is not " \
           f"writable" in line
    # A folder that does not exist yet, under a writable one, is fine.
    assert train_imagenet.parse_args([*base, str(tmp_path / "a" / "b")]).checkpoint_dir == \
        tmp_path / "a" / "b"


# --------------------------------------------------------------------------- errors while running


@pytest.mark.parametrize("rank", ["0", "1"])
def test_a_broken_image_read_by_a_loader_worker_is_one_line(tmp_path, capsys, monkeypatch,
                                                            rank):
    data = write_tree(tmp_path / "data", broken=("train",))
    monkeypatch.setenv("RANK", rank)  # without WORLD_SIZE: one process, told it is rank 1
    err = main_error(capsys, ["--arch", "lecture_cnn", "--data", data, *QUICK, "--workers", "1"])
    # Each process reads its own share of the images, so every rank says what it found.
    assert re.fullmatch(r"train_imagenet: error: cannot read the image .*0\.png[^\n]*\n", err)
    assert "Traceback" not in err and "DataLoader worker" not in err


def test_a_layout_error_is_said_once_by_rank_0(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RANK", "1")  # every process finds it: rank 0 alone says so
    with pytest.raises(SystemExit) as stop:
        train_imagenet.main(["--arch", "lecture_cnn", "--data", str(tmp_path / "none"), *QUICK])
    assert stop.value.code == 2 and capsys.readouterr().err == ""


@pytest.fixture(scope="module")
def lecture_cnn_run(tmp_path_factory):
    """A one-step run of lecture_cnn on two classes (cherry, sky), with its checkpoint."""
    root = tmp_path_factory.mktemp("run")
    data = write_tree(root / "data")
    train_imagenet.main(["--arch", "lecture_cnn", "--data", str(data), *QUICK,
                         "--checkpoint-dir", str(root / "out")])
    return data, root / "out"


def test_resume_into_another_architecture_names_both(lecture_cnn_run, capsys):
    data, out = lecture_cnn_run
    err = main_error(capsys, ["--arch", "cifar_resnet", "--data", data, *QUICK,
                              "--checkpoint-dir", out, "--resume"])
    assert f"--resume: {out / 'checkpoint.pt'} was written by --arch lecture_cnn, not " \
           f"cifar_resnet: pass --arch lecture_cnn" in err


def test_resume_with_other_classes_recipe_or_lr_says_so(lecture_cnn_run, tmp_path, capsys):
    data, out = lecture_cnn_run
    three = write_tree(tmp_path / "three", classes=("cherry", "leaf", "sky"))
    err = main_error(capsys, ["--arch", "lecture_cnn", "--data", three, *QUICK,
                              "--checkpoint-dir", out, "--resume"])
    assert "was trained on 2 classes (cherry, sky), not the 3 of " in err
    err = main_error(capsys, ["--arch", "lecture_cnn", "--data", data, *QUICK, "--recipe",
                              "resnet", "--checkpoint-dir", out, "--resume"])
    assert "was written with --recipe alexnet, not resnet: pass --recipe alexnet" in err
    # e.g. resumed on more processes: the default lr scales with the global batch
    err = main_error(capsys, ["--arch", "lecture_cnn", "--data", data, *QUICK, "--lr", "0.02",
                              "--checkpoint-dir", out, "--resume"])
    assert "was trained with learning rate 0.01, not 0.02 (--lr, or by default the paper's " \
           "scaled to the global batch): pass --lr 0.01" in err


def test_resume_continues_the_same_run(lecture_cnn_run, capsys):
    data, out = lecture_cnn_run
    results = train_imagenet.main(["--arch", "lecture_cnn", "--data", str(data), *QUICK,
                                   "--epochs", "2", "--checkpoint-dir", str(out), "--resume"])
    assert results["history"].epochs == 2
    assert "epoch 1/2:" not in capsys.readouterr().out


def test_resume_from_a_checkpoint_without_the_record_names_the_architecture(tmp_path, capsys):
    # An older checkpoint.pt: weights, no record of the architecture that wrote them.
    distributed.save_checkpoint(tmp_path / "out" / "checkpoint.pt",
                                models.lecture_cnn(num_classes=2), epoch=1)
    data = write_tree(tmp_path / "data")
    err = main_error(capsys, ["--arch", "cifar_resnet", "--data", data, *QUICK,
                              "--checkpoint-dir", tmp_path / "out", "--resume"])
    assert f"--resume: {tmp_path / 'out' / 'checkpoint.pt'} holds weights that do not fit " \
           f"--arch cifar_resnet with 2 classes (missing: " in err
    assert "unexpected: 0.weight" in err


def test_resume_from_a_file_that_is_not_a_checkpoint(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "checkpoint.pt").write_bytes(b"half a file")
    data = write_tree(tmp_path / "data")
    err = main_error(capsys, ["--arch", "lecture_cnn", "--data", data, *QUICK,
                              "--checkpoint-dir", tmp_path / "out", "--resume"])
    # the reason is load_checkpoint's (which names the file), on one line
    assert err.startswith("train_imagenet: error: --resume: ")
    assert str(tmp_path / "out" / "checkpoint.pt") in err


def test_a_new_run_does_not_overwrite_an_earlier_run_s_checkpoint(tmp_path, capsys):
    """Before: a run without --resume replaced checkpoint.pt after its first epoch."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"an earlier run")
    base = ["--arch", "lecture_cnn", "--data", "x", "--image-size", "32", "--checkpoint-dir"]
    line = usage_error(capsys, [*base, out])
    assert "holds checkpoint.pt from an earlier run: pass --resume" in line
    assert train_imagenet.parse_args([*base, str(out), "--resume"]).resume
    assert (out / "checkpoint.pt").read_bytes() == b"an earlier run"
