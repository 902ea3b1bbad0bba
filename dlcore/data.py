"""Datasets: download from the canonical source, verify the checksum, cache, load as NumPy arrays.

Where the files live: ``$DLCORE_DATA`` if it is set, else a per-user cache directory
(``$XDG_CACHE_HOME/dlcore`` or ``~/.cache/dlcore``; ``~/Library/Caches/dlcore`` on macOS).
Each dataset has its own sub-directory holding the original distribution files under their
original names, e.g. ``mnist/train-images-idx3-ubyte.gz``, so a directory of pre-placed files
works offline exactly like a filled cache.

Every file is checked against its published checksum before it is read. A corrupt or truncated
file is fetched again. Downloads go through pooch, the field's library for this: a temporary
file in the same directory, renamed into place only once its hash is right, so the cache never
holds a half-written file. What pooch has no notion of is done here: several mirrors tried in
turn, ordinary file permissions, sizes in the diagnosis, and errors that say what to do; and a
lock per file (``<name>.lock``, with filelock), so that processes sharing a cache (torchrun
ranks, two notebooks) download each file once and never remove one another's files (see
:func:`fetch`).

Datasets too large to download here (ImageNet) are read from a folder of images in
torchvision's ImageFolder layout by :class:`ImageFolder`, which decodes them with Pillow and
crops them as the ImageNet papers did.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import pickle
import shutil
import stat
import tarfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._errors import ReaderError

__all__ = [
    "MNIST_CLASSES",
    "FASHION_MNIST_CLASSES",
    "CIFAR10_CLASSES",
    "DataError",
    "Splits",
    "data_dir",
    "fetch",
    "load_mnist",
    "load_fashion_mnist",
    "load_cifar10",
    "subset",
    "to_float",
    "ArrayBatches",
    "IMAGE_EXTENSIONS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MAX_RESIZED_PIXELS",
    "ImageFolder",
]

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)

_TIMEOUT_S = 30
_CHUNK = 1 << 20


class DataError(ReaderError, RuntimeError):
    """A dataset file is missing, corrupt or unreadable, and could not be fetched. In a
    notebook, IPython shows only its message (which says what to do), not the traceback."""


@dataclass(frozen=True)
class RemoteFile:
    """One original distribution file: where it comes from and what it must hash to."""

    name: str
    urls: tuple[str, ...]
    md5: str
    sha256: str | None = None
    size: int | None = None


def _idx_files(base_urls, table):
    return {
        key: RemoteFile(name, tuple(u + name for u in base_urls), md5, sha, size)
        for key, (name, md5, sha, size) in table.items()
    }


# The MNIST home page (yann.lecun.com) has refused anonymous downloads at times; the S3 mirror
# used by torchvision serves byte-identical files. MD5s are the published ones.
MNIST_FILES = _idx_files(
    ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    {
        "train_images": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                         "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
        "train_labels": ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432",
                         "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
        "test_images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3",
                        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
        "test_labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c",
                        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
    },
)

FASHION_MNIST_FILES = _idx_files(
    ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    {
        "train_images": ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                         "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
        "train_labels": ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe",
                         "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
        "test_images": ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79",
                        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102),
        "test_labels": ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310",
                        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
    },
)

CIFAR10_FILE = RemoteFile(
    "cifar-10-python.tar.gz",
    ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
    "c58f30108f718f92721af3b95e74349a",
    size=170498071,
)


class Splits(tuple):
    """``((X_train, y_train), (X_test, y_test))`` that also carries the class names.

    Unpacks like the plain pair of pairs; ``.classes`` names the labels 0..K-1.
    """

    def __new__(cls, train, test, classes):
        self = super().__new__(cls, (train, test))
        self.classes = tuple(classes)
        return self

    @property
    def train(self):
        """``(X_train, y_train)``."""
        return self[0]

    @property
    def test(self):
        """``(X_test, y_test)``."""
        return self[1]


# --------------------------------------------------------------------------- where files live


def _default_cache() -> Path:
    """The per-user cache, from platformdirs through pooch: ``~/.cache/dlcore`` (or
    ``$XDG_CACHE_HOME/dlcore``) on Linux, ``~/Library/Caches/dlcore`` on macOS,
    ``%LOCALAPPDATA%\\dlcore\\dlcore\\Cache`` on Windows."""
    import pooch

    return Path(pooch.os_cache("dlcore"))


def data_dir(root: str | os.PathLike | None = None) -> Path:
    """The directory datasets live in: ``root``, else ``$DLCORE_DATA``, else the user cache.

    A directory named explicitly (argument or environment variable) must exist: a typo there
    should fail loudly rather than quietly download a second copy somewhere else.
    """
    if root is None and os.environ.get("DLCORE_DATA"):
        root, origin = os.environ["DLCORE_DATA"], "$DLCORE_DATA"
    elif root is not None:
        origin = "the root argument"
    else:
        return _default_cache()
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DataError(
            f"dataset directory {path} (from {origin}) does not exist or is not a directory. "
            "Create it, or point it at the folder that holds mnist/, fashion-mnist/, cifar-10/, "
            "or unset DLCORE_DATA to use the per-user cache."
        )
    return path


# --------------------------------------------------------------------------- download + verify


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _checksum(spec: RemoteFile) -> tuple[str, str]:
    """The one checksum every check and every message uses: SHA-256 where published, else MD5."""
    return ("sha256", spec.sha256) if spec.sha256 else ("md5", spec.md5)


def _label(algorithm: str) -> str:
    return {"sha256": "SHA-256", "md5": "MD5"}[algorithm]


def _check(path: Path, spec: RemoteFile) -> str | None:
    """None if ``path`` is the published file, else a sentence saying what is wrong."""
    if spec.size is not None and path.stat().st_size != spec.size:
        return f"it has {path.stat().st_size:,} bytes, expected {spec.size:,} (truncated or not the original file)"
    algorithm, expected = _checksum(spec)
    actual = _digest(path, algorithm)
    if actual != expected:
        return f"its {_label(algorithm)} is {actual}, expected {expected}"
    return None


def _readable_by_all(path: Path) -> None:
    """Temporary files are created 0600 (pooch's too); a cache shared between users needs the
    usual 0644 (whatever the umask allows)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def _urlopen(url: str):
    # A seam for the tests, which replace it so that no test touches the network.
    return urllib.request.urlopen(url, timeout=_TIMEOUT_S)


def _downloader(spec: RemoteFile):
    """A pooch downloader: stream ``url`` into the temporary file pooch gives, with a bar."""

    def download(url, output_file, _pooch):
        from tqdm.auto import tqdm

        with open(output_file, "wb") as out, _urlopen(url) as response:
            total = spec.size or int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=spec.name, leave=False) as bar:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    out.flush()  # a process waiting on the lock judges progress by the file's size
                    bar.update(len(chunk))

    return download


# --------------------------------------------------------------------------- one download at a time

#: How long a process waits on another that holds a file's lock but writes nothing (seconds).
#: While the holder's download grows, the waiter waits however long it takes.
_LOCK_STALL_S = 300
_LOCK_POLL_S = 1.0


def _lock_path(target: Path) -> Path:
    """The lock beside the file, ``<name>.lock``. It stays after the download (filelock leaves
    it: deleting a lock file that another process has open would let a third one in)."""
    return target.with_name(f"{target.name}.lock")


def _staging(target: Path) -> Path:
    """The folder a download of ``target`` works in, ``.<name>.download``: pooch's temporary
    file lives there, so that every file left by a killed download is provably dlcore's."""
    return target.with_name(f".{target.name}.download")


def _progress(target: Path) -> tuple:
    """What changes while a download of ``target`` goes on: the sizes and times of its files."""
    seen = []
    for path in [target, *sorted(_staging(target).glob("*"))]:
        try:
            st = path.stat()
        except OSError:  # not there (yet), or renamed into place meanwhile
            continue
        seen.append((path.name, st.st_size, st.st_mtime_ns))
    return tuple(seen)


def _wait_for_lock(lock, target: Path) -> None:
    """Acquire ``lock``, waiting while its holder's download of ``target`` makes progress; a
    holder that writes nothing for ``_LOCK_STALL_S`` seconds is a :class:`DataError`."""
    import filelock

    last, since = None, time.monotonic()
    while True:
        try:
            lock.acquire(timeout=_LOCK_POLL_S)
            return
        except filelock.Timeout:
            now = _progress(target)
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since > _LOCK_STALL_S:
                raise DataError(
                    f"waited {_LOCK_STALL_S} s for the lock {lock.lock_file}: another process "
                    f"holds it to download {target.name} but has made no progress. Stop that "
                    f"process (or, if none is running, delete {lock.lock_file}), then load again"
                ) from None


@contextmanager
def _download_lock(target: Path, problem: str, where: str):
    """Hold ``<name>.lock`` while downloading ``target``: one process downloads, the others wait
    and then find the file verified. ``problem`` and ``where`` frame the error if the lock
    cannot be created (a read-only folder: no lock, so no download either)."""
    import filelock

    lock = filelock.FileLock(_lock_path(target))
    try:
        _wait_for_lock(lock, target)
    except OSError as e:
        raise DataError(f"{problem}, and it cannot be downloaded there: cannot create the lock "
                        f"file {lock.lock_file} ({e.strerror or e}). {where}") from e
    try:
        yield
    finally:
        lock.release()


def _remove_stale_downloads(target: Path, spec: RemoteFile) -> None:
    """What a killed download of ``target`` left, removed under its lock, so no live download
    can be hit: the ``.<name>.download`` folder and older dlcore versions' ``.<name>.*.part``.
    Nothing else in the folder is touched: a ``tmp*`` file there may be anyone's."""
    shutil.rmtree(_staging(target), ignore_errors=True)
    for stale in target.parent.glob(f".{spec.name}.*.part"):
        if stale.is_file():
            stale.unlink(missing_ok=True)


def _download(url: str, target: Path, spec: RemoteFile) -> None:
    """Download ``url`` to ``target`` with pooch: into a temporary file in the staging folder,
    moved beside ``target`` once its hash is right, given ordinary permissions, then renamed
    into place (one atomic step: a reader sees the old file or the new one, whole)."""
    import pooch

    algorithm, digest = _checksum(spec)
    staging = _staging(target)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # pooch logs every download at INFO: noise in a notebook
    try:
        done = pooch.retrieve(url, known_hash=f"{algorithm}:{digest}", fname=target.name,
                              path=staging, downloader=_downloader(spec), progressbar=False)
    except ValueError as e:  # pooch's hash mismatch
        raise DataError(f"downloaded {url} but its {_label(algorithm)} is wrong: {e}") from e
    finally:
        logger.setLevel(level)
    _readable_by_all(Path(done))
    os.replace(done, target)


def fetch(spec: RemoteFile, subdir: str, root=None, download: bool = True) -> Path:
    """Return the path of a verified copy of ``spec``, downloading it if needed.

    Raises :class:`DataError` naming the file, where it comes from and where to put it when
    no verified copy exists and none can be downloaded. Each mirror in ``spec.urls`` is tried
    in turn; pooch does the download itself (temporary file, hash check, atomic rename).

    Several processes may share one folder (torchrun ranks, two notebooks): a verified file is
    read without writing anything, so a read-only folder of verified files works. A download
    holds the lock ``<name>.lock`` beside the file (created by ``filelock``, left in place);
    a second process waits for it, then finds the file verified and does not download it
    again. It waits as long as the download makes progress; a holder that writes nothing for
    five minutes, or a folder where the lock cannot be created, is a :class:`DataError`. Only
    what dlcore's own killed downloads left is cleaned up; no other file is ever touched.
    """
    folder = data_dir(root) / subdir
    target = folder / spec.name
    problem = None
    algorithm, digest = _checksum(spec)
    if target.is_dir():
        raise DataError(f"{target} is a directory, where the file {spec.name} should be: "
                        f"remove or rename it, then load again (the file comes from "
                        f"{spec.urls[0]}, {_label(algorithm)} {digest})")
    if target.is_file():
        problem = _check(target, spec)
        if problem is None:
            return target
        problem = f"the cached file {target} is corrupt: {problem}"
    where = (
        f"Download it from {spec.urls[0]} ({_label(algorithm)} {digest}) and put it at {target}, "
        f"or set DLCORE_DATA to a directory holding {subdir}/{spec.name}."
    )
    head = problem or f"{spec.name} is not in {folder}"
    if not download:
        raise DataError(f"{head}; download=False. {where}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the dataset directory {folder}: {e}. {where}") from e
    with _download_lock(target, head, where):
        if target.is_file() and _check(target, spec) is None:
            return target  # another process downloaded it while this one waited
        errors = _download_from_mirrors(target, spec)
    if not errors:
        return target
    raise DataError(f"{head}, and it could not be downloaded ({'; '.join(errors)}). {where}")


def _download_from_mirrors(target: Path, spec: RemoteFile) -> list[str]:
    """Try each mirror in turn (the lock held); the errors, none if a download succeeded."""
    errors = []
    _remove_stale_downloads(target, spec)
    try:
        for url in spec.urls:
            try:
                _download(url, target, spec)
                return []
            except (OSError, urllib.error.URLError, http.client.HTTPException, DataError) as e:
                errors.append(f"{url}: {getattr(e, 'reason', e)}")
    finally:
        shutil.rmtree(_staging(target), ignore_errors=True)
    return errors


# --------------------------------------------------------------------------- parsers


def _read_idx(path: Path, expected_dims: int) -> np.ndarray:
    """Read a gzip-compressed IDX file (big-endian header; magic 0x0000080D, D = dims)."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path} is not a readable gzip file ({e}); delete it to fetch it again") from e
    magic = int.from_bytes(raw[:4], "big")
    if magic != 0x0800 + expected_dims:
        raise DataError(f"{path}: IDX magic number {magic:#010x}, expected {0x0800 + expected_dims:#010x}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(expected_dims))
    offset = 4 + 4 * expected_dims
    if len(raw) - offset != int(np.prod(shape)):
        raise DataError(f"{path}: header promises shape {shape} but holds {len(raw) - offset} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape).copy()


def _load_idx_dataset(files, subdir, classes, root, download) -> Splits:
    paths = {key: fetch(spec, subdir, root, download) for key, spec in files.items()}
    out = []
    for split in ("train", "test"):
        X = _read_idx(paths[f"{split}_images"], 3)
        y = _read_idx(paths[f"{split}_labels"], 1).astype(np.int64)
        if len(X) != len(y):
            raise DataError(f"{subdir} {split}: {len(X)} images but {len(y)} labels")
        out.append((X, y))
    return Splits(out[0], out[1], classes)


def load_mnist(root=None, download: bool = True) -> Splits:
    """MNIST: 60,000 training and 10,000 test digits, 28×28 uint8, labels int64 in 0..9.

    >>> (X_train, y_train), (X_test, y_test) = load_mnist()      # doctest: +SKIP
    """
    return _load_idx_dataset(MNIST_FILES, "mnist", MNIST_CLASSES, root, download)


def load_fashion_mnist(root=None, download: bool = True) -> Splits:
    """Fashion-MNIST (Zalando): same shapes as MNIST, ten kinds of clothing."""
    return _load_idx_dataset(FASHION_MNIST_FILES, "fashion-mnist", FASHION_MNIST_CLASSES, root, download)


def _read_cifar10_archive(path: Path) -> Splits:
    """Parse the python-pickle CIFAR-10 archive without extracting it to disk."""

    def batch(tar, name):
        try:
            member = tar.extractfile(f"cifar-10-batches-py/{name}")
        except KeyError as e:
            raise DataError(f"{path} has no member cifar-10-batches-py/{name}") from e
        d = pickle.load(member, encoding="bytes")
        X = np.asarray(d[b"data"], dtype=np.uint8)
        if X.ndim != 2 or X.shape[1] != 3072:
            raise DataError(f"{path}:{name}: data has shape {X.shape}, expected (N, 3072)")
        # Rows are 1024 red, then 1024 green, then 1024 blue values: (N, 3, 32, 32) -> NHWC.
        return X.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), np.asarray(d[b"labels"], dtype=np.int64)

    try:
        with tarfile.open(path, "r:gz") as tar:
            train = [batch(tar, f"data_batch_{i}") for i in range(1, 6)]
            test = batch(tar, "test_batch")
    except (tarfile.TarError, EOFError, OSError, pickle.UnpicklingError) as e:
        raise DataError(f"{path} is not a readable CIFAR-10 archive ({e})") from e
    X_train = np.ascontiguousarray(np.concatenate([X for X, _ in train]))
    y_train = np.concatenate([y for _, y in train])
    return Splits((X_train, y_train), (np.ascontiguousarray(test[0]), test[1]), CIFAR10_CLASSES)


def load_cifar10(root=None, download: bool = True) -> Splits:
    """CIFAR-10: 50,000 training and 10,000 test colour images, N×32×32×3 uint8, labels int64."""
    return _read_cifar10_archive(fetch(CIFAR10_FILE, "cifar-10", root, download))


# --------------------------------------------------------------------------- helpers for chapters


def subset(X: np.ndarray, y: np.ndarray, n: int, seed: int = 0):
    """A deterministic, class-balanced random subset of ``n`` examples.

    Each class gets its share of ``n`` in proportion to its frequency in ``y`` (largest
    remainders round up), so a 1,000-image subset of MNIST has about 100 of each digit.
    The same ``(n, seed)`` always gives the same examples, in shuffled order.
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}; expected the same number")
    if not 0 < n <= len(y):
        raise ValueError(f"n must be in 1..{len(y)}, got {n}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    share = n * counts / counts.sum()
    take = np.floor(share).astype(int)
    take[np.argsort(take - share)[: n - take.sum()]] += 1
    order = rng.permutation(len(y))
    picked = np.concatenate([order[y[order] == c][:k] for c, k in zip(classes, take)])
    picked = rng.permutation(picked)
    return X[picked], y[picked]


def to_float(X: np.ndarray, dtype=np.float32) -> np.ndarray:
    """uint8 images → floats in [0, 1], with a channel axis in N×C×H×W layout.

    N×H×W (MNIST) becomes N×1×H×W; N×H×W×C (CIFAR-10) becomes N×C×H×W.
    """
    X = np.asarray(X)
    if X.dtype != np.uint8:
        raise TypeError(f"expected uint8 images as loaded, got dtype {X.dtype}")
    if X.ndim == 3:
        X = X[:, None]
    elif X.ndim == 4:
        X = X.transpose(0, 3, 1, 2)
    else:
        raise ValueError(f"expected N×H×W or N×H×W×C images, got shape {X.shape}")
    return np.ascontiguousarray(X, dtype=dtype) / dtype(255)



class ArrayBatches:
    """Minibatches of NumPy arrays, re-iterable: ``for x, y in ArrayBatches(X, y, batch_size=128)``.

    Every pass yields tuples ``(X[idx], y[idx], ...)`` covering all examples once, in batches of
    ``batch_size`` (the last one smaller unless ``drop_last``). With ``shuffle``, each pass takes
    a fresh order from one Generator seeded once with ``seed``: pass k is the same in every run,
    and different from pass k + 1. What :func:`dlcore.train.fit` and ``fit_numpy`` take, beside
    a torch ``DataLoader``.
    """

    def __init__(self, *arrays, batch_size: int, shuffle: bool = False, seed: int = 0,
                 drop_last: bool = False):
        if not arrays:
            raise ValueError("ArrayBatches needs at least one array, e.g. ArrayBatches(X, y, ...)")
        for i, a in enumerate(arrays):
            if not hasattr(a, "shape") or not hasattr(a, "__getitem__"):
                raise TypeError(f"ArrayBatches: array {i} is a {type(a).__name__}; pass NumPy "
                                f"arrays (e.g. np.asarray(labels)), so a batch can be indexed")
        lengths = [len(a) for a in arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"ArrayBatches: the arrays have different lengths {lengths}; "
                             f"expected one example per row in each")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"ArrayBatches: batch_size must be an int >= 1, got {batch_size!r}")
        self.arrays, self.batch_size = arrays, int(batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        self._rng = np.random.default_rng(seed)

    def __len__(self):
        n = len(self.arrays[0])
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.arrays[0])
        order = self._rng.permutation(n) if self.shuffle else np.arange(n)
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield tuple(a[idx] for a in self.arrays)

    def state_dict(self) -> dict:
        """The state of the shuffling generator: what a checkpoint keeps so that a resumed
        run draws the same orders as one never interrupted (see ``dlcore.train.fit``)."""
        return {"rng": self._rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        """Put back a state from :meth:`state_dict`."""
        self._rng.bit_generator.state = state["rng"]


# --------------------------------------------------------------------------- image folders

#: The file endings :class:`ImageFolder` reads (torchvision's ``IMG_EXTENSIONS``), any case.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
#: Mean and standard deviation of ImageNet's training images per RGB channel (pixels in 0..1),
#: the normalisation torchvision's pretrained models expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: The most pixels an image may have once :class:`ImageFolder` has resized it, 2**24 (a float32
#: RGB array of 192 MiB). Checked from the file's header, before decoding: a 1×60000 strip whose
#: shorter side is resized to 256 would otherwise ask for 256×15,360,000 pixels (46 GB).
MAX_RESIZED_PIXELS = 1 << 24


def _resize_arg(resize, size):
    if resize is None:
        resize = round(size * 256 / 224)  # 256 for 224: the papers' ratio
    pair = tuple(resize) if isinstance(resize, (tuple, list)) else (resize, resize)
    if len(pair) != 2 or any(isinstance(r, bool) or not isinstance(r, (int, np.integer))
                             for r in pair) or not size <= pair[0] <= pair[1]:
        raise ValueError(f"ImageFolder: resize must be an int or a pair (low, high) of ints with "
                         f"size <= low <= high (size is {size}), got {resize!r}")
    return int(pair[0]), int(pair[1])


_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


def _not_regular(path, mode: int) -> DataError:
    return DataError(f"{path} is {_KINDS.get(stat.S_IFMT(mode), 'not a file')}, not a regular "
                     f"file: ImageFolder reads images only from regular files (a pipe or a "
                     f"device can block or never end). Remove it, or rename it so that its name "
                     f"does not end in an image extension")


def _check_listed_file(entry: os.DirEntry) -> None:
    """Refuse an entry named like an image that is not a regular file (or a link to one)."""
    if entry.is_file():  # a regular file needs no system call here, a link one stat
        return
    if entry.is_symlink() and not os.path.exists(entry.path):
        raise DataError(f"{entry.path} is a link to {os.readlink(entry.path)}, which does not "
                        f"exist: remove the link or restore its target")
    raise _not_regular(entry.path, entry.stat().st_mode)


def _open_regular(path):
    """``path`` opened for reading, if it is a regular file (or a link to one). A FIFO or a
    device is refused before it is opened: opening one can block, or act (a tape rewinds)."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise _not_regular(path, mode)
    # O_NONBLOCK: were a FIFO put in its place since the stat, the open returns instead of hanging.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _not_regular(path, mode)
    return os.fdopen(fd, "rb")


def _resized_shape(size, target: int, path) -> tuple[int, int]:
    """(width, height) with the shorter side ``target``, refused above MAX_RESIZED_PIXELS."""
    w, h = size
    if w < 1 or h < 1:
        raise DataError(f"{path} is {w}×{h} pixels, an empty image: delete or replace the file")
    shape = (target, round(h * target / w)) if w <= h else (round(w * target / h), target)
    pixels = shape[0] * shape[1]
    if pixels > MAX_RESIZED_PIXELS:
        raise DataError(f"{path} is {w}×{h} pixels: resized to {shape[0]}×{shape[1]} it would "
                        f"have {pixels:,} pixels, more than dlcore.data.MAX_RESIZED_PIXELS = "
                        f"{MAX_RESIZED_PIXELS:,} (an extreme aspect ratio). Crop the image, "
                        f"remove it, or raise the cap")
    return shape


def _integer_top(image, pixels: np.ndarray) -> int:
    """The largest value the integer samples of ``image`` can take, from its bit depth."""
    if image.mode != "I":
        return int(np.iinfo(pixels.dtype).max)  # I;16 in its byte orders: 65535
    # Mode I holds 32-bit ints whatever the file's depth: a TIFF says it (BitsPerSample,
    # SampleFormat 2 = signed); Pillow gives I to 16-bit PGM (and, before 10.x, 16-bit PNG).
    tags = getattr(image, "tag_v2", {})
    bits = int(np.atleast_1d(tags.get(258, 16))[0])
    signed = int(np.atleast_1d(tags.get(339, 1))[0]) == 2
    return 2 ** (min(bits, 32) - signed) - 1


def _unit_range(image, path):
    """``image`` as Pillow's 8-bit RGB; or, one channel of deeper pixels (16- or 32-bit
    integers, floats), as a float image (mode F) of its values scaled to 0..1 by its bit depth,
    so that Pillow's conversion does not clip them to 8 bits. Values out of range are refused."""
    from PIL import Image

    if image.mode == "F":
        pixels = np.asarray(image, dtype=np.float32)
        if not np.isfinite(pixels).all():
            raise DataError(f"{path} holds float pixels with NaN or infinite values, expected "
                            f"0..1: save the image scaled to 0..1, or as 8- or 16-bit integers")
        lo, hi = float(pixels.min()), float(pixels.max())
        if lo < 0 or hi > 1:
            raise DataError(f"{path} holds float pixels in [{lo:g}, {hi:g}], expected 0..1 "
                            f"(ImageFolder does not guess a scale): save the image scaled to "
                            f"0..1, or as 8- or 16-bit integers")
    elif image.mode.startswith("I"):
        pixels = np.asarray(image)
        top = _integer_top(image, pixels)
        lo, hi = int(pixels.min()), int(pixels.max())
        if lo < 0 or hi > top:
            raise DataError(f"{path} holds integer pixels in [{lo}, {hi}], expected 0..{top} "
                            f"(mode {image.mode}): save the image as unsigned integers, or as "
                            f"floats in 0..1")
        pixels = (pixels.astype(np.float64) / top).astype(np.float32)
    else:
        return image.convert("RGB")
    return Image.fromarray(pixels)


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _read_image(path, target: int) -> np.ndarray:
    """The image at ``path``, shorter side resized to ``target``: float32 (3, H, W) in 0..1."""
    from PIL import Image  # Pillow comes with matplotlib

    try:
        with _open_regular(path) as f, Image.open(f) as image:
            shape = _resized_shape(image.size, target, path)  # before anything is decoded
            image = _unit_range(image, path)
            pixels = np.asarray(image.resize(shape, Image.BILINEAR), dtype=np.float32)
    except Image.DecompressionBombError as e:
        raise DataError(f"{path} would decode to more pixels than Pillow allows "
                        f"(PIL.Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS:,}; "
                        f"{_one_line(e)}): a decompression bomb or a damaged header. Delete or "
                        f"replace the file, or raise the limit if the image is genuine") from e
    except (OSError, SyntaxError, ValueError, EOFError) as e:  # Pillow's ways of saying corrupt
        raise DataError(f"cannot read the image {path}: {_one_line(e)}; delete or replace "
                        f"the file") from e
    if pixels.ndim == 2:  # one deep channel, already in 0..1: grey
        return np.repeat(pixels[None], 3, axis=0)
    return pixels.transpose(2, 0, 1) / 255.0


class ImageFolder:
    """The images of ``root/<class name>/<image file>``, the layout of ImageNet's ``train`` and
    ``val`` folders (one folder per WordNet id) and of torchvision's ``ImageFolder``: classes
    sorted by folder name (``classes``, ``class_to_idx``), then each class's files in sorted
    order, sub-folders included (``samples``: pairs (path, class index); ``targets``). Files
    whose names end in one of :data:`IMAGE_EXTENSIONS` are read; others are ignored.

    ``dataset[i]`` is ``(image, label)``: a float32 array (3, ``size``, ``size``), RGB scaled to
    0..1 then normalised by ``mean`` and ``std`` per channel, and the class index. Decoded with
    Pillow, the shorter side resized (bilinear) to ``resize`` pixels (default ``size`` × 256/224),
    then

    - ``train=True``: a random ``size`` × ``size`` crop, mirrored with probability 1/2
      (Krizhevsky et al. 2012). ``resize=(low, high)`` draws the shorter side from low…high for
      each image, the scale augmentation of VGG (256…512) and ResNet (256…480). The random
      numbers come from ``(seed, epoch, i)`` alone (``set_epoch`` sets the epoch), so image i's
      crop in an epoch is the same whichever process or loader worker reads it;
    - ``train=False``: the centre crop, or with ``ten_crop`` the ten views of
      :func:`dlcore.augment.ten_crop`, an array (10, 3, ``size``, ``size``); the shorter side is
      resized to ``resize`` (the low end of a pair).

    A missing folder, a folder without class folders, or a class folder without images is a
    :class:`DataError` that says what was expected.

    **Links.** Links to folders are not followed unless ``follow_links=True``: one inside a class
    folder is skipped (as ``os.walk`` does by default), and a class folder that is itself a link
    is a :class:`DataError` saying to pass ``follow_links=True`` (skipping it would renumber the
    classes). torchvision's ``ImageFolder`` follows every link (``os.walk(followlinks=True)``),
    so there a link to ``..`` reads the tree again under the wrong label, and two links to ``.``
    never end. With ``follow_links=True`` each real folder is read once, whatever the number of
    links or loops that lead to it (the same route each time), and a link that leads to the root,
    above it, into another class's folder, or to a folder another class reaches too is a
    :class:`DataError`: its images would get the wrong label. A link to an image file is a
    sample of the class folder it is listed in. A dangling link, a FIFO, a device or a socket
    named like an image is a :class:`DataError` when the folder is listed, and a file found to be
    one when it is read is refused again, never opened.

    **Pixels.** 8-bit images in any Pillow mode become RGB as Pillow converts them (as
    torchvision's loader does: alpha dropped, palettes and CMYK mapped). One channel of deeper
    pixels keeps its precision and becomes grey: 16-bit integers (Pillow's mode ``I;16``: 16-bit
    PNG and TIFF) are divided by 65535; 32-bit integers (mode ``I``) by the largest value of the
    bit depth the file declares (16 bits where it declares none, as for 16-bit PGM); floats (mode
    ``F``) are kept. Negative integers and floats outside 0..1 (or NaN) are a :class:`DataError`,
    never clipped.

    **Size and damage.** An image of more than twice ``PIL.Image.MAX_IMAGE_PIXELS`` (Pillow's
    decompression-bomb limit; above once it warns), or one that resized would exceed
    :data:`MAX_RESIZED_PIXELS` (an extreme aspect ratio), is refused from its header before it is
    decoded; a corrupt or truncated file is a one-line :class:`DataError` naming it.
    """

    def __init__(self, root, *, train: bool, size: int = 224, resize=None,
                 ten_crop: bool = False, seed: int = 0, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                 follow_links: bool = False):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"ImageFolder: size must be a positive int, got {size!r}")
        if ten_crop and train:
            raise ValueError("ImageFolder: ten_crop is a test-time view: use it with train=False")
        self.root, self.train, self.size = Path(root), bool(train), int(size)
        self.resize = _resize_arg(resize, self.size)
        self.ten_crop, self.seed, self.epoch = bool(ten_crop), int(seed), 0
        self.follow_links = bool(follow_links)
        self.mean = np.asarray(mean, dtype=np.float32).reshape(3, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(3, 1, 1)
        self.classes = self._find_classes()
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        self.samples = self._find_samples()
        self.targets = [label for _, label in self.samples]

    _LAYOUT = ("one sub-folder per class holding that class's images, e.g. "
               "root/n01440764/n01440764_10026.JPEG (ImageNet's layout; torchvision's ImageFolder)")

    def _find_classes(self):
        if not self.root.exists():
            raise DataError(f"the image folder {self.root} does not exist: expected "
                            f"{self._LAYOUT}. Check the path")
        if not self.root.is_dir():
            raise DataError(f"{self.root} is a file, where a folder of class folders should be: "
                            f"expected {self._LAYOUT}")
        with os.scandir(self.root) as entries:
            folders = sorted((e for e in entries if e.is_dir()), key=lambda e: e.name)
        linked = [e.path for e in folders if e.is_symlink()]
        if linked and not self.follow_links:
            more = f" (and {len(linked) - 1} more class folders)" if len(linked) > 1 else ""
            raise DataError(f"{linked[0]}{more} is a link to the folder "
                            f"{os.path.realpath(linked[0])}: ImageFolder follows links to "
                            f"folders only with follow_links=True (which reads each folder "
                            f"once); pass it, or put the folder itself there")
        classes = [e.name for e in folders]
        if not classes:
            loose = [p.name for p in self.root.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS]
            found = (f"; it holds {len(loose)} image(s) directly, e.g. {loose[0]}: move each into "
                     f"the folder of its class" if loose else "")
            raise DataError(f"{self.root} has no class folders: expected {self._LAYOUT}{found}")
        return classes

    def _find_samples(self):
        self._class_at = {}  # real path of each class folder -> its class
        for name in self.classes:
            real = os.path.realpath(self.root / name)
            if real in self._class_at:
                raise DataError(f"classes {self._class_at[real]!r} and {name!r} are the same "
                                f"folder {real} (links): its images cannot have both labels; "
                                f"remove one of the links")
            self._class_at[real] = name
        reached = dict(self._class_at)  # real path of each folder read -> the class reading it
        samples, empty = [], []
        for name in self.classes:
            label = self.class_to_idx[name]
            found = [(os.path.join(folder, f), label) for folder, files in self._walk(name, reached)
                     for f in files]
            samples += found
            if not found:
                empty.append(name)
        if empty:
            shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
            raise DataError(f"{len(empty)} class folder(s) of {self.root} hold no images: {shown}. "
                            f"Expected files ending in {', '.join(IMAGE_EXTENSIONS)} in each "
                            f"class folder; add the class's images or remove the empty folder")
        return samples

    def _walk(self, name, reached):
        """(folder, sorted image names) for each folder of class ``name``, sorted by folder as
        torchvision's ``sorted(os.walk(...))`` is. Sub-folders in name order, so that a folder
        that several links lead to is always read through the same one."""
        stack, found = [os.path.join(self.root, name)], []
        while stack:
            folder, files, below = stack.pop(), [], []
            with os.scandir(folder) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    if entry.is_dir():
                        if self._enter(entry, name, reached):
                            below.append(entry.path)
                    elif entry.name.lower().endswith(IMAGE_EXTENSIONS):
                        _check_listed_file(entry)
                        files.append(entry.name)
            stack += reversed(below)
            found.append((folder, files))
        return sorted(found)

    def _enter(self, entry, name, reached) -> bool:
        """Whether to read the sub-folder ``entry`` of class ``name``: not a link unless
        ``follow_links``, never a folder already read (a loop, a second link), and never one
        whose images would get a wrong label (a DataError)."""
        if entry.is_symlink() and not self.follow_links:
            return False
        real = os.path.realpath(entry.path)
        if reached.get(real, name) != name:
            where = ("the folder of" if real in self._class_at else
                     "a folder read (through a link) as images of")
            raise self._mislabel(entry.path, real, name, reached[real], where)
        if real in reached:
            return False
        if Path(os.path.realpath(self.root)).is_relative_to(real):
            raise DataError(f"{entry.path} leads to {real}, which holds the image folder "
                            f"{self.root} itself: following it would read every class again "
                            f"as {name!r}. Remove the link")
        owner = next((self._class_at[str(p)] for p in Path(real).parents
                      if str(p) in self._class_at), name)
        if owner != name:
            raise self._mislabel(entry.path, real, name, owner, "inside the folder of")
        reached[real] = name
        return True

    @staticmethod
    def _mislabel(path, real, name, owner, where):
        return DataError(f"{path} leads to {real}, {where} class {owner!r}: its images would be "
                         f"labelled {name!r}. Remove the link, or move the images into the "
                         f"folder of their class")

    def __len__(self):
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        """Use the random crops of ``epoch`` from now on (training only)."""
        self.epoch = int(epoch)

    def load(self, i: int) -> np.ndarray:
        """Image ``i`` decoded to RGB, shorter side resized (its training scale, or the test
        scale), as a float32 array (3, H, W) in 0..1, before cropping and normalising. Raises
        :class:`DataError` for a file that is not a regular file, corrupt or truncated, too
        large, or of pixels outside their range (see the class's description)."""
        path = self.samples[i][0]
        low, high = self.resize
        target = int(self._rng(i, "scale").integers(low, high + 1)) if self.train else low
        return _read_image(path, target)

    def _rng(self, i, stream):
        # One generator per (seed, epoch, image, use): independent of who loads the image.
        return np.random.default_rng([self.seed, self.epoch, i, ("scale", "crop").index(stream)])

    def __getitem__(self, i):
        from . import augment

        i = int(i)
        if not 0 <= i < len(self):
            raise IndexError(f"ImageFolder index {i} out of range for {len(self)} images")
        x = self.load(i)[None]
        if self.train:
            x = augment.random_crop_flip(x, self.size, self._rng(i, "crop"))[0]
        elif self.ten_crop:
            x = augment.ten_crop(x, self.size)[:, 0]
        else:
            h, w = x.shape[2:]
            t, left = (h - self.size) // 2, (w - self.size) // 2
            x = x[0, :, t:t + self.size, left:left + self.size]
        x = (x - self.mean) / self.std
        return np.ascontiguousarray(x, dtype=np.float32), self.samples[i][1]

    def __repr__(self):
        mode = "train" if self.train else ("ten-crop" if self.ten_crop else "centre crop")
        return (f"ImageFolder({str(self.root)!r}, {len(self)} images, {len(self.classes)} "
                f"classes, {mode}, size={self.size}, resize={self.resize})")
