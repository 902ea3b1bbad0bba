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
turn, ordinary file permissions, sizes in the diagnosis, and errors that say what to do.

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
import tarfile
import urllib.error
import urllib.request
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
                    bar.update(len(chunk))

    return download


def _remove_stale_downloads(folder: Path, spec: RemoteFile) -> None:
    """Temporary files that a killed download left: pooch's ``tmp*`` and older ``.part`` ones."""
    for stale in [*folder.glob("tmp*"), *folder.glob(f".{spec.name}.*.part")]:
        if stale.is_file() and stale.suffix in ("", ".part"):
            stale.unlink(missing_ok=True)


def _download(url: str, target: Path, spec: RemoteFile) -> None:
    """Download ``url`` to ``target`` with pooch: into a temporary file beside it, renamed into
    place only once its hash is right; then give it ordinary permissions."""
    import pooch

    algorithm, digest = _checksum(spec)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # pooch logs every download at INFO: noise in a notebook
    try:
        pooch.retrieve(url, known_hash=f"{algorithm}:{digest}", fname=target.name,
                       path=target.parent, downloader=_downloader(spec), progressbar=False)
    except ValueError as e:  # pooch's hash mismatch
        raise DataError(f"downloaded {url} but its {_label(algorithm)} is wrong: {e}") from e
    finally:
        logger.setLevel(level)
    _readable_by_all(target)


def fetch(spec: RemoteFile, subdir: str, root=None, download: bool = True) -> Path:
    """Return the path of a verified copy of ``spec``, downloading it if needed.

    Raises :class:`DataError` naming the file, where it comes from and where to put it when
    no verified copy exists and none can be downloaded. Each mirror in ``spec.urls`` is tried
    in turn; pooch does the download itself (temporary file, hash check, atomic rename).
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
    if not download:
        raise DataError(f"{problem or f'{spec.name} is not in {folder}'}; download=False. {where}")
    errors = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the dataset directory {folder}: {e}. {where}") from e
    _remove_stale_downloads(folder, spec)
    for url in spec.urls:
        try:
            _download(url, target, spec)
            return target
        except (OSError, urllib.error.URLError, http.client.HTTPException, DataError) as e:
            errors.append(f"{url}: {getattr(e, 'reason', e)}")
    head = problem or f"{spec.name} is not in {folder}"
    raise DataError(f"{head}, and it could not be downloaded ({'; '.join(errors)}). {where}")


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


def _resize_arg(resize, size):
    if resize is None:
        resize = round(size * 256 / 224)  # 256 for 224: the papers' ratio
    pair = tuple(resize) if isinstance(resize, (tuple, list)) else (resize, resize)
    if len(pair) != 2 or any(isinstance(r, bool) or not isinstance(r, (int, np.integer))
                             for r in pair) or not size <= pair[0] <= pair[1]:
        raise ValueError(f"ImageFolder: resize must be an int or a pair (low, high) of ints with "
                         f"size <= low <= high (size is {size}), got {resize!r}")
    return int(pair[0]), int(pair[1])


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
    """

    def __init__(self, root, *, train: bool, size: int = 224, resize=None,
                 ten_crop: bool = False, seed: int = 0, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"ImageFolder: size must be a positive int, got {size!r}")
        if ten_crop and train:
            raise ValueError("ImageFolder: ten_crop is a test-time view: use it with train=False")
        self.root, self.train, self.size = Path(root), bool(train), int(size)
        self.resize = _resize_arg(resize, self.size)
        self.ten_crop, self.seed, self.epoch = bool(ten_crop), int(seed), 0
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
        classes = sorted(e.name for e in os.scandir(self.root) if e.is_dir())
        if not classes:
            loose = [p.name for p in self.root.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS]
            found = (f"; it holds {len(loose)} image(s) directly, e.g. {loose[0]}: move each into "
                     f"the folder of its class" if loose else "")
            raise DataError(f"{self.root} has no class folders: expected {self._LAYOUT}{found}")
        return classes

    def _find_samples(self):
        samples, empty = [], []
        for name in self.classes:
            before = len(samples)
            for folder, _, files in sorted(os.walk(self.root / name, followlinks=True)):
                samples += [(os.path.join(folder, f), self.class_to_idx[name])
                            for f in sorted(files) if f.lower().endswith(IMAGE_EXTENSIONS)]
            if len(samples) == before:
                empty.append(name)
        if empty:
            shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
            raise DataError(f"{len(empty)} class folder(s) of {self.root} hold no images: {shown}. "
                            f"Expected files ending in {', '.join(IMAGE_EXTENSIONS)} in each "
                            f"class folder; add the class's images or remove the empty folder")
        return samples

    def __len__(self):
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        """Use the random crops of ``epoch`` from now on (training only)."""
        self.epoch = int(epoch)

    def load(self, i: int) -> np.ndarray:
        """Image ``i`` decoded to RGB, shorter side resized (its training scale, or the test
        scale), as a float32 array (3, H, W) in 0..1, before cropping and normalising."""
        from PIL import Image  # Pillow comes with matplotlib

        path = self.samples[i][0]
        low, high = self.resize
        target = int(self._rng(i, "scale").integers(low, high + 1)) if self.train else low
        try:
            with Image.open(path) as image:
                image = image.convert("RGB")
        except OSError as e:
            raise DataError(f"cannot read the image {path}: {e}; delete or replace the file") from e
        w, h = image.size
        shape = (target, round(h * target / w)) if w <= h else (round(w * target / h), target)
        image = image.resize(shape, Image.BILINEAR)
        return np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0

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
