"""Every code path of the book runs in CI, including the cells nbval skips.

The chapters' GPU cells call :mod:`dlcore.scaleup`, and their online cells call
:mod:`dlcore.models.published`. Under nbval those cells are skipped (no GPU, no network), so here:

- each scale-up run executes in its smoke mode on the CPU (a few batches, every code path);
- CIFAR-10 and the published weights are tiny stand-ins served from 127.0.0.1, fetched through
  the same code, with their checksums and ``check_hash`` verified;
- every name a skipped cell uses is defined by the chapter before it (pyflakes), and every
  ``scaleup``/``models`` function a skipped cell calls is one this file runs.
"""

import functools
import hashlib
import http.server
import io
import json
import pickle
import re
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from dlcore import data, models, scaleup

ROOT = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A static file server on 127.0.0.1 over a temporary folder; yields (folder, base URL)."""
    folder = tmp_path_factory.mktemp("served")
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _cifar_batch(rng, n):
    return pickle.dumps({b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                         b"labels": rng.integers(0, 10, n).tolist()})


def _tiny_cifar10(path: Path):
    """A CIFAR-10 archive in the original layout with 5 x 60 training and 60 test images."""
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            payload = _cifar_batch(rng, 60)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))


@pytest.fixture
def cifar10(server, tmp_path, monkeypatch):
    """DLCORE_DATA with the real MNIST beside a stand-in CIFAR-10 served from 127.0.0.1."""
    served, url = server
    archive = served / "cifar-10-python.tar.gz"
    if not archive.exists():
        _tiny_cifar10(archive)
    blob = archive.read_bytes()
    monkeypatch.setattr(data, "CIFAR10_FILE", data.RemoteFile(
        "cifar-10-python.tar.gz", (url + "cifar-10-python.tar.gz",),
        hashlib.md5(blob).hexdigest(), hashlib.sha256(blob).hexdigest(), len(blob)))
    real = data.data_dir()
    for name in ("mnist", "fashion-mnist"):
        (tmp_path / name).symlink_to(real / name, target_is_directory=True)
    monkeypatch.setenv("DLCORE_DATA", str(tmp_path))
    return tmp_path


def test_mlp_mnist_smoke():
    result = scaleup.mlp_mnist(CPU, smoke=True)
    assert result["epochs"] == 2 and 0 <= result["test_accuracy"] <= 1


def test_dbn_autoencoder_smoke():
    result = scaleup.dbn_autoencoder(CPU, smoke=True)
    assert np.isfinite(result["error"]) and np.isfinite(result["pca_error"])


@pytest.mark.parametrize("variant", ["modern", "paper"])
def test_lenet5_mnist_smoke(variant):
    result = scaleup.lenet5_mnist(CPU, variant, smoke=True)
    assert result["variant"] == variant and 0 <= result["test_error"] <= 1


def test_alexnet_throughput_smoke():
    result = scaleup.alexnet_throughput(CPU, smoke=True)
    assert result["images_per_second"] > 0 and not result["mixed_precision"]  # CPU: off


def test_lecture_cnn_cifar10_needs_a_local_copy_then_runs(cifar10):
    with pytest.raises(data.DataError):  # the cell's "nothing to do" branch
        scaleup.lecture_cnn_cifar10(CPU, smoke=True)
    data.load_cifar10()  # fetched from 127.0.0.1 and checked against the stand-in's hashes
    result = scaleup.lecture_cnn_cifar10(CPU, smoke=True)
    assert result["images"] == 256 and 0 <= result["test_accuracy"] <= 1


def test_cifar_resnet20_smoke(cifar10):
    result = scaleup.cifar_resnet20(CPU, smoke=True)
    assert result["epochs"] == 2 and 0 <= result["test_error"] <= 1


def test_a_corrupt_cifar10_download_is_refused(cifar10, monkeypatch):
    spec = data.CIFAR10_FILE
    monkeypatch.setattr(data, "CIFAR10_FILE", data.RemoteFile(
        spec.name, spec.urls, "0" * 32, "0" * 64, spec.size))
    with pytest.raises(data.DataError):
        data.load_cifar10()
    assert not (cifar10 / "cifar-10" / spec.name).exists()


# --------------------------------------------------------------------------- published weights


def _serve_weights(folder: Path, stem: str, obj) -> str:
    """Save ``obj`` as torch.hub names published files: stem-<first 8 hex of SHA-256>.pth."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    blob = buffer.getvalue()
    name = f"{stem}-{hashlib.sha256(blob).hexdigest()[:8]}.pth"
    (folder / name).write_bytes(blob)
    return name


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("DLCORE_WEIGHTS_URL", raising=False)
    return tmp_path


def _tiny():
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))


def test_pretrained_fetches_checks_the_hash_and_loads_strictly(server, hub, monkeypatch):
    folder, url = server
    torch.manual_seed(0)
    source = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    name = _serve_weights(folder, "tiny", source.state_dict())
    monkeypatch.setitem(models.PUBLISHED, "tiny", models.PublishedWeights(_tiny, name, url))
    net = models.pretrained("tiny")
    assert not net.training
    for key, value in source.state_dict().items():
        assert torch.equal(net.state_dict()[key], value)


def test_pretrained_refuses_a_file_whose_hash_does_not_match_its_name(server, hub, monkeypatch):
    folder, url = server
    name = _serve_weights(folder, "tampered", _tiny().state_dict())
    wrong = name.replace(name[-12:-4], "00000000" if name[-12:-4] != "00000000" else "11111111")
    (folder / wrong).write_bytes((folder / name).read_bytes())
    monkeypatch.setitem(models.PUBLISHED, "tampered", models.PublishedWeights(_tiny, wrong, url))
    with pytest.raises(models.WeightsUnavailable, match="tampered"):
        models.pretrained("tampered")
    assert not list((hub / "torch").rglob("tampered-*.pth"))  # nothing cached


class _Boom:
    def __reduce__(self):  # what a malicious pickle does: call something on load
        return (print, ("this should never run",))


def test_pretrained_refuses_a_pickle_that_runs_code(server, hub, monkeypatch, capsys):
    folder, url = server
    name = _serve_weights(folder, "pickle", {"weight": _Boom()})
    monkeypatch.setitem(models.PUBLISHED, "pickle", models.PublishedWeights(_tiny, name, url))
    with pytest.raises(models.WeightsUnavailable):
        models.pretrained("pickle")
    assert "should never run" not in capsys.readouterr().out


def test_pretrained_offline_is_one_clear_error(hub, monkeypatch):
    monkeypatch.setenv("DLCORE_WEIGHTS_URL", "http://127.0.0.1:9/")  # nothing listens there
    with pytest.raises(models.WeightsUnavailable) as caught:
        models.pretrained("alexnet")
    message = str(caught.value)
    assert "127.0.0.1:9/alexnet-owt-7be5be79.pth" in message and "\n" not in message
    assert "DLCORE_WEIGHTS_URL" in message


def test_pretrained_names_the_known_models_for_an_unknown_one():
    with pytest.raises(KeyError, match="resnet50"):
        models.pretrained("resnet-50")


def test_every_published_entry_builds_and_names_its_hash():
    for name, entry in models.PUBLISHED.items():
        assert re.fullmatch(r"[\w-]+-[0-9a-f]{8}\.pth", entry.file), name
        assert entry.url.startswith("https://download.pytorch.org/models/"), name


def test_imagenet_classes_and_top_classes():
    names = models.imagenet_classes()
    assert len(names) == 1000 and names[0] == "tench" and names[281] == "tabby"
    p = torch.zeros(1000)
    p[281], p[0] = 0.7, 0.2
    assert models.top_classes(p, k=2) == [("tabby", pytest.approx(0.7)),
                                          ("tench", pytest.approx(0.2))]
    with pytest.raises(ValueError, match="10 probabilities but 1000"):
        models.top_classes(torch.ones(10))


def test_alexnet_and_the_class_names_run_on_a_photograph_without_weights():
    """What the online cells do after the download, with random weights."""
    torch.manual_seed(0)
    net = models.alexnet().eval()
    with torch.inference_mode():
        p = net(torch.rand(1, 3, 224, 224)).softmax(1)[0]
    top = models.top_classes(p, k=5)
    assert len(top) == 5 and all(name in models.imagenet_classes() for name, _ in top)


# --------------------------------------------------------------------------- the skipped cells


def _chapters():
    return sorted((ROOT / "chapters").glob("*.ipynb"))


def _code(cell) -> str:
    """A cell's source as plain Python: IPython's ! and % lines become pass."""
    lines = "".join(cell["source"]).splitlines()
    return "\n".join(re.sub(r"^(\s*)[!%].*", r"\1pass", line) for line in lines) + "\n"


def _skipped_cells(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    return [(i, cell) for i, cell in enumerate(cells) if cell["cell_type"] == "code"
            and "nbval-skip" in cell.get("metadata", {}).get("tags", [])]


SMOKE_TESTED = {f"scaleup.{name}" for name in scaleup.__all__} | {
    "models.pretrained", "models.imagenet_classes", "models.top_classes"}


@pytest.mark.parametrize("notebook", _chapters(), ids=lambda p: p.stem)
def test_skipped_cells_use_only_defined_names(notebook):
    """pyflakes over the chapter's code in order: an undefined name in a skipped cell fails."""
    from pyflakes import api, reporter

    cells = json.loads(notebook.read_text())["cells"]
    source = "".join(_code(c) for c in cells if c["cell_type"] == "code")
    out, err = io.StringIO(), io.StringIO()
    api.check(source, notebook.name, reporter.Reporter(out, err))
    problems = [line for line in (out.getvalue() + err.getvalue()).splitlines()
                if "undefined name" in line or "syntax" in line.lower()]
    assert problems == []


@pytest.mark.parametrize("notebook", _chapters(), ids=lambda p: p.stem)
def test_skipped_cells_call_only_what_this_file_runs(notebook):
    for i, cell in _skipped_cells(notebook):
        source = _code(cell)
        calls = set(re.findall(r"\b((?:scaleup|models)\.\w+)\(", source))
        assert calls <= SMOKE_TESTED, (i, calls - SMOKE_TESTED)
        assert "load_state_dict_from_url" not in source, f"cell {i}: use models.pretrained"
        assert "torch.hub" not in source, f"cell {i}: use models.pretrained"
        lines = [line for line in source.splitlines() if line.strip()]
        assert len(lines) <= 25, f"cell {i} has {len(lines)} lines: move the run to dlcore"
