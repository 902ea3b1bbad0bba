"""dlcore.data: real files, checksums, corrupt and missing files, offline errors, CIFAR-10 parsing."""

import gzip
import hashlib
import http.client
import io
import os
import pickle
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from dlcore import data
from dlcore.data import DataError

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# ----------------------------------------------------------------------------- the real files


@pytest.fixture(scope="module")
def mnist():
    return data.load_mnist()


@pytest.fixture(scope="module")
def fashion():
    return data.load_fashion_mnist()


def test_mnist_shapes_dtypes_and_label_counts(mnist):
    (X_train, y_train), (X_test, y_test) = mnist
    assert X_train.shape == (60000, 28, 28) and X_test.shape == (10000, 28, 28)
    assert X_train.dtype == np.uint8 and y_train.dtype == np.int64
    assert np.bincount(y_train).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(y_test).tolist() == MNIST_TEST_COUNTS
    assert X_train.max() == 255 and X_train.min() == 0
    assert mnist.classes == tuple("0123456789")
    # The first training image is the famous "5"; its pixel sum pins the parser's byte offset.
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert int(X_train[0].sum()) == 27525


def test_fashion_mnist_shapes_and_balanced_labels(fashion):
    (X_train, y_train), (X_test, y_test) = fashion
    assert X_train.shape == (60000, 28, 28) and X_test.shape == (10000, 28, 28)
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert fashion.classes[9] == "Ankle boot"
    assert fashion.train[1] is fashion[0][1]


@pytest.mark.parametrize("files, subdir", [(data.MNIST_FILES, "mnist"), (data.FASHION_MNIST_FILES, "fashion-mnist")])
def test_cached_files_match_published_md5_and_sha256(files, subdir, mnist, fashion):
    for spec in files.values():
        path = data.fetch(spec, subdir)
        assert path.stat().st_size == spec.size
        assert hashlib.md5(path.read_bytes()).hexdigest() == spec.md5
        assert hashlib.sha256(path.read_bytes()).hexdigest() == spec.sha256


# ----------------------------------------------------------------------------- a fake network


class FakeResponse(io.BytesIO):
    def __init__(self, payload, fail_after=None):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}
        self.fail_after = fail_after

    def read(self, n=-1):
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        return super().read(n if self.fail_after is None else min(n, self.fail_after))


@pytest.fixture
def network(monkeypatch):
    """Replace the network: ``network.serve[url_suffix] = bytes``; everything else is offline."""

    class Net:
        serve = {}
        requests = []
        fail_after = None

    def fake_urlopen(url):
        Net.requests.append(url)
        for suffix, payload in Net.serve.items():
            if url.endswith(suffix):
                return FakeResponse(payload, Net.fail_after)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(data, "_urlopen", fake_urlopen)
    monkeypatch.delenv("DLCORE_DATA", raising=False)
    return Net


LABELS = data.MNIST_FILES["test_labels"]
LOCK = f"{LABELS.name}.lock"  # the lock of a download stays beside its file, as filelock leaves it


@pytest.fixture(scope="module")
def real_label_bytes(mnist):  # module scope: resolved before `network` hides $DLCORE_DATA
    return data.fetch(LABELS, "mnist").read_bytes()


def leftovers(folder):
    """Temporary files: pooch's tmp*, and the .part files of older dlcore versions."""
    return [p.name for p in Path(folder).rglob("*")
            if p.name.startswith((".", "tmp")) or p.suffix == ".part"]


def test_offline_with_nothing_cached_names_file_source_and_destination(tmp_path, network):
    with pytest.raises(DataError) as e:
        data.load_mnist(root=tmp_path)
    msg = str(e.value)
    assert "train-images-idx3-ubyte.gz" in msg
    assert "could not be downloaded" in msg and "name resolution" in msg
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz" in msg
    assert str(tmp_path / "mnist" / "train-images-idx3-ubyte.gz") in msg
    assert "DLCORE_DATA" in msg
    assert len(network.requests) == 2  # tried every mirror
    assert leftovers(tmp_path) == []


def test_truncated_cached_file_is_detected_and_fetched_again(tmp_path, network, real_label_bytes):
    target = tmp_path / "mnist" / LABELS.name
    target.parent.mkdir()
    target.write_bytes(real_label_bytes[:1000])
    network.serve[LABELS.name] = real_label_bytes
    path = data.fetch(LABELS, "mnist", root=tmp_path)
    assert path == target and path.read_bytes() == real_label_bytes
    assert leftovers(tmp_path) == []


def test_corrupt_cached_file_offline_says_corrupt(tmp_path, network, real_label_bytes):
    target = tmp_path / "mnist" / LABELS.name
    target.parent.mkdir()
    corrupt = bytearray(real_label_bytes)
    corrupt[2000] ^= 0xFF  # right size, one byte flipped
    target.write_bytes(bytes(corrupt))
    with pytest.raises(DataError, match=r"is corrupt: its SHA-256 is [0-9a-f]{64}, expected f7ae60f9"):
        data.fetch(LABELS, "mnist", root=tmp_path)


def test_truncated_file_error_mentions_sizes(tmp_path, network, real_label_bytes):
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / LABELS.name).write_bytes(real_label_bytes[:100])
    with pytest.raises(DataError, match=r"has 100 bytes, expected 4,542"):
        data.fetch(LABELS, "mnist", root=tmp_path, download=False)


def test_corrupt_download_is_rejected_and_leaves_nothing(tmp_path, network, real_label_bytes):
    network.serve[LABELS.name] = real_label_bytes[:-10] + b"0123456789"
    with pytest.raises(DataError, match="downloaded .* but its SHA-256 is wrong: .*f7ae60f9"):
        data.fetch(LABELS, "mnist", root=tmp_path)
    assert [p.name for p in (tmp_path / "mnist").iterdir()] == [LOCK]  # no partial file


def test_interrupted_download_leaves_no_partial_file(tmp_path, network, real_label_bytes):
    network.serve[LABELS.name] = real_label_bytes
    network.fail_after = 2048
    with pytest.raises(DataError, match="connection reset"):
        data.fetch(LABELS, "mnist", root=tmp_path)
    assert [p.name for p in (tmp_path / "mnist").iterdir()] == [LOCK]  # no partial file


def test_downloaded_files_get_ordinary_permissions(tmp_path, network, real_label_bytes):
    network.serve[LABELS.name] = real_label_bytes
    old = os.umask(0o022)
    try:
        path = data.fetch(LABELS, "mnist", root=tmp_path)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600: a shared cache works


def test_a_download_cut_midway_tries_the_next_mirror(tmp_path, network, real_label_bytes,
                                                     monkeypatch):
    calls = []

    def cut_then_serve(url):
        calls.append(url)
        if len(calls) == 1:  # the first mirror closes the connection early
            response = FakeResponse(real_label_bytes, None)
            response.read = lambda n=-1: (_ for _ in ()).throw(
                http.client.IncompleteRead(b"partial", 4000))
            return response
        return FakeResponse(real_label_bytes, None)

    monkeypatch.setattr(data, "_urlopen", cut_then_serve)
    path = data.fetch(LABELS, "mnist", root=tmp_path)
    assert path.read_bytes() == real_label_bytes and len(calls) == 2
    assert leftovers(tmp_path) == []


def test_a_download_cut_on_every_mirror_is_the_loaders_own_error(tmp_path, monkeypatch):
    def always_cut(url):
        raise http.client.IncompleteRead(b"", 4542)

    monkeypatch.setattr(data, "_urlopen", always_cut)
    monkeypatch.delenv("DLCORE_DATA", raising=False)
    with pytest.raises(DataError, match="could not be downloaded .*IncompleteRead"):
        data.fetch(LABELS, "mnist", root=tmp_path)


def test_a_part_file_left_by_a_killed_download_is_cleaned_up(tmp_path, network, real_label_bytes):
    folder = tmp_path / "mnist"
    staging = folder / f".{LABELS.name}.download"  # where a download puts pooch's temporary file
    staging.mkdir(parents=True)
    (staging / "tmpa1b2c3d4").write_bytes(b"half a file")
    (folder / f".{LABELS.name}.abc123.part").write_bytes(b"an older dlcore's")
    # Not dlcore's, or not provably stale: a user's notes, another program's live download.
    others = {"tmp_notes": b"mine", "tmpz9y8x7w6": b"pooch downloading for someone else"}
    for name, content in others.items():
        (folder / name).write_bytes(content)
    network.serve[LABELS.name] = real_label_bytes
    data.fetch(LABELS, "mnist", root=tmp_path)
    assert sorted(leftovers(tmp_path)) == sorted(others)
    staging.mkdir()  # and also when the next attempt fails
    (staging / "tmpa1b2c3d4").write_bytes(b"half a file")
    (folder / LABELS.name).unlink()
    network.serve.clear()
    with pytest.raises(DataError):
        data.fetch(LABELS, "mnist", root=tmp_path)
    assert sorted(leftovers(tmp_path)) == sorted(others)
    assert {name: (folder / name).read_bytes() for name in others} == others


def test_advice_and_diagnosis_name_the_same_checksum(tmp_path, network, real_label_bytes):
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / LABELS.name).write_bytes(real_label_bytes[:-1] + b"x")
    with pytest.raises(DataError) as e:
        data.fetch(LABELS, "mnist", root=tmp_path)
    message = str(e.value)
    assert f"expected {LABELS.sha256}" in message  # the diagnosis
    assert f"(SHA-256 {LABELS.sha256}) and put it at" in message  # the advice
    assert "MD5" not in message


def test_a_directory_where_the_file_should_be(tmp_path, network):
    (tmp_path / "mnist" / LABELS.name).mkdir(parents=True)
    with pytest.raises(DataError, match=rf"{LABELS.name} is a directory, where the file "
                                        rf"{LABELS.name} should be: remove or rename it"):
        data.fetch(LABELS, "mnist", root=tmp_path)
    assert network.requests == []


def test_in_a_notebook_a_data_error_shows_only_its_message():
    error = DataError("t10k-labels-idx1-ubyte.gz is not in /data/mnist; download=False.")
    lines = error._render_traceback_()  # what IPython prints instead of the traceback
    assert len(lines) == 1 and "DataError" in lines[0] and "download=False" in lines[0]


def test_good_cached_file_is_not_replaced_by_a_failed_download(tmp_path, network, real_label_bytes):
    (tmp_path / "mnist").mkdir()
    good = tmp_path / "mnist" / LABELS.name
    good.write_bytes(real_label_bytes)
    assert data.fetch(LABELS, "mnist", root=tmp_path) == good
    assert network.requests == []  # a verified cache needs no network


def test_wrong_dataset_directory_is_a_clear_error(tmp_path, monkeypatch):
    missing = tmp_path / "no-such-dir"
    with pytest.raises(DataError, match=rf"dataset directory {missing} \(from the root argument\) does not exist"):
        data.load_mnist(root=missing)
    monkeypatch.setenv("DLCORE_DATA", str(missing))
    with pytest.raises(DataError, match=r"from \$DLCORE_DATA"):
        data.load_fashion_mnist()
    assert not missing.exists()


def test_download_false_with_missing_file(tmp_path, network):
    with pytest.raises(DataError, match="is not in .*download=False"):
        data.load_fashion_mnist(root=tmp_path, download=False)
    assert network.requests == []


def test_default_cache_is_platformdirs_and_dlcore_data_overrides(monkeypatch, tmp_path):
    import platformdirs
    import pooch
    from platformdirs.macos import MacOS
    from platformdirs.unix import Unix

    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("DLCORE_DATA", raising=False)
    # on every platform: the OS's own cache folder, as platformdirs (through pooch) names it
    assert data.data_dir() == Path(pooch.os_cache("dlcore"))
    assert data.data_dir() == Path(platformdirs.user_cache_dir("dlcore"))
    # what the README promises for Linux and macOS, whichever OS runs this test
    assert Path(Unix("dlcore").user_cache_dir) == tmp_path / "xdg" / "dlcore"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert Path(Unix("dlcore").user_cache_dir) == home / ".cache" / "dlcore"
    assert Path(MacOS("dlcore").user_cache_dir) == home / "Library" / "Caches" / "dlcore"
    monkeypatch.setenv("DLCORE_DATA", str(tmp_path))
    assert data.data_dir() == tmp_path


def test_idx_parser_rejects_wrong_magic_and_short_payload(tmp_path):
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress((0x0801).to_bytes(4, "big") + (5).to_bytes(4, "big") + b"\x01\x02"))
    with pytest.raises(DataError, match="magic number 0x00000801, expected 0x00000803"):
        data._read_idx(bad, 3)
    with pytest.raises(DataError, match=r"header promises shape \(5,\) but holds 2 bytes"):
        data._read_idx(bad, 1)
    (tmp_path / "notgz.gz").write_bytes(b"plain text")
    with pytest.raises(DataError, match="not a readable gzip file"):
        data._read_idx(tmp_path / "notgz.gz", 1)


# ----------------------------------------------------------------------------- CIFAR-10


def _cifar_batch(n, seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)  # the archive's own layout
    labels = rng.integers(0, 10, size=n).tolist()
    blob = pickle.dumps({b"batch_label": b"x", b"labels": labels, b"data": images.reshape(n, 3072),
                         b"filenames": [b"f.png"] * n}, protocol=2)
    return blob, images, labels


def make_cifar_archive(path, n=4):
    """A CIFAR-10 archive in the real format: a gzip tar of python pickles of 3072-byte rows."""
    parts = {}
    with tarfile.open(path, "w:gz") as tar:
        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        for seed, name in enumerate(names):
            blob, images, labels = _cifar_batch(n, seed)
            parts[name] = (images, labels)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
        meta = pickle.dumps({b"label_names": [c.encode() for c in data.CIFAR10_CLASSES]})
        info = tarfile.TarInfo("cifar-10-batches-py/batches.meta")
        info.size = len(meta)
        tar.addfile(info, io.BytesIO(meta))
    return parts


@pytest.fixture
def cifar_spec(tmp_path, monkeypatch):
    archive = tmp_path / "built.tar.gz"
    parts = make_cifar_archive(archive)
    payload = archive.read_bytes()
    spec = data.RemoteFile(data.CIFAR10_FILE.name, data.CIFAR10_FILE.urls,
                           hashlib.md5(payload).hexdigest(), size=len(payload))
    monkeypatch.setattr(data, "CIFAR10_FILE", spec)
    return spec, payload, parts


def test_cifar10_parser_layout_and_labels(tmp_path, cifar_spec, network):
    spec, payload, parts = cifar_spec
    root = tmp_path / "root"
    (root / "cifar-10").mkdir(parents=True)
    (root / "cifar-10" / spec.name).write_bytes(payload)
    (X_train, y_train), (X_test, y_test) = splits = data.load_cifar10(root=root)
    assert X_train.shape == (20, 32, 32, 3) and X_test.shape == (4, 32, 32, 3)
    assert X_train.dtype == np.uint8 and y_train.dtype == np.int64
    first = parts["data_batch_1"][0]
    # Channel c of pixel (i, j) comes from byte c*1024 + 32*i + j of the row.
    assert np.array_equal(X_train[0, :, :, 0], first[0, 0]) and np.array_equal(X_train[0, 5, 7], first[0, :, 5, 7])
    assert np.array_equal(X_train[4:8], parts["data_batch_2"][0].transpose(0, 2, 3, 1))
    assert y_train.tolist() == sum((parts[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    assert y_test.tolist() == parts["test_batch"][1]
    assert splits.classes[0] == "airplane"


def test_cifar10_downloaded_through_the_fake_network(tmp_path, cifar_spec, network):
    spec, payload, _ = cifar_spec
    network.serve[spec.name] = payload
    (X_train, _), _ = data.load_cifar10(root=tmp_path)
    assert X_train.shape == (20, 32, 32, 3)
    assert network.requests == ["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"]
    assert leftovers(tmp_path) == []


def test_cifar10_archive_missing_a_batch(tmp_path, monkeypatch, network):
    archive = tmp_path / "cifar-10" / data.CIFAR10_FILE.name
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        blob = _cifar_batch(2, 0)[0]
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = len(blob)
        tar.addfile(info, io.BytesIO(blob))
    payload = archive.read_bytes()
    monkeypatch.setattr(data, "CIFAR10_FILE", data.RemoteFile(archive.name, ("u",), hashlib.md5(payload).hexdigest()))
    with pytest.raises(DataError, match="no member cifar-10-batches-py/data_batch_2"):
        data.load_cifar10(root=tmp_path)


# ----------------------------------------------------------------------------- helpers


def test_subset_is_deterministic_balanced_and_checked():
    y = np.repeat(np.arange(10), [50, 60, 70, 80, 90, 100, 110, 120, 130, 190])
    X = np.arange(len(y))
    Xa, ya = data.subset(X, y, 100, seed=3)
    Xb, yb = data.subset(X, y, 100, seed=3)
    Xc, _ = data.subset(X, y, 100, seed=4)
    assert np.array_equal(Xa, Xb) and not np.array_equal(Xa, Xc)
    assert len(Xa) == 100 and len(set(Xa.tolist())) == 100
    assert np.array_equal(y[Xa], ya)
    assert np.bincount(ya).tolist() == [5, 6, 7, 8, 9, 10, 11, 12, 13, 19]
    with pytest.raises(ValueError, match="n must be in 1..1000, got 1001"):
        data.subset(X, y, 1001)
    with pytest.raises(ValueError, match="X has 3 rows but y has 1000"):
        data.subset(X[:3], y, 2)


@pytest.mark.parametrize("counts, n, expected", [
    ([34, 33, 33], 10, [4, 3, 3]),  # shares 3.4, 3.3, 3.3: the one left over goes to the largest remainder
    ([50, 30, 20], 8, [4, 2, 2]),  # shares 4, 2.4, 1.6: to the smallest class, whose remainder is largest
    ([155, 265, 580], 10, [1, 3, 6]),  # shares 1.55, 2.65, 5.8: two left over (rounding each gives 11)
])
def test_subset_shares_that_do_not_divide_evenly(counts, n, expected):
    y = np.repeat(np.arange(len(counts)), counts)
    X = np.arange(len(y))
    Xa, ya = data.subset(X, y, n, seed=3)
    Xb, _ = data.subset(X, y, n, seed=3)
    Xc, _ = data.subset(X, y, n, seed=4)
    assert np.bincount(ya).tolist() == expected and len(set(Xa.tolist())) == n
    assert np.array_equal(y[Xa], ya)
    assert np.array_equal(Xa, Xb) and not np.array_equal(Xa, Xc)


def test_to_float_layout_and_checks():
    X = np.full((2, 28, 28), 255, dtype=np.uint8)
    out = data.to_float(X)
    assert out.shape == (2, 1, 28, 28) and out.dtype == np.float32 and out.max() == 1.0
    rgb = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    rgb[..., 2] = 51
    out = data.to_float(rgb, dtype=np.float64)
    assert out.shape == (2, 3, 32, 32) and out[:, 2].max() == 0.2
    with pytest.raises(TypeError, match="expected uint8 images as loaded, got dtype float64"):
        data.to_float(X.astype(float))
    with pytest.raises(ValueError, match=r"got shape \(28, 28\)"):
        data.to_float(X[0])
