"""Data augmentation as in AlexNet (Krizhevsky et al. 2012, section 4.1), on NumPy batches.

Images are float arrays in (N, C, H, W) layout, as :func:`dlcore.data.to_float` returns them.

- :func:`random_crop_flip` — at training time, a random ``size``×``size`` crop of each image,
  mirrored left-right with probability 1/2 (the paper: 224×224 crops of 256×256 images, which
  with the flips makes 2,048 variants of each image);
- :func:`ten_crop` — at test time, the four corner crops and the centre crop and their mirror
  images; average the network's softmax outputs over the ten (:func:`ten_crop_predict`);
- :func:`pca_colour_basis` and :func:`fancy_pca` — the "PCA colour augmentation": add to every
  pixel of an image ``Σ_k α_k λ_k p_k``, with ``p_k, λ_k`` the eigenvectors and eigenvalues of
  the 3×3 covariance of RGB values over the training set and ``α_k ~ N(0, 0.1²)`` drawn once per
  image (its intensity and colour change, its objects do not);
- :class:`Augmented` — wraps any iterable of batches ``(x, ...)`` and applies a transform to
  ``x`` every time a batch is drawn (so every epoch sees new variants), for
  :func:`dlcore.train.fit`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["random_crop_flip", "ten_crop", "ten_crop_predict", "pca_colour_basis",
           "fancy_pca", "Augmented"]


def _images(x, who):
    x = np.asarray(x)
    if x.ndim != 4 or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{who} expects float images (N, C, H, W), got {x.dtype} of shape "
                         f"{x.shape}; convert with dlcore.data.to_float")
    return x


def _crop_size(x, size, who):
    h, w = x.shape[2:]
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= min(h, w):
        raise ValueError(f"{who}: size must be an int in 1..{min(h, w)} for {h}x{w} images, "
                         f"got {size!r}")
    return size


def random_crop_flip(x, size: int, rng=None, flip: bool = True):
    """A random ``size``×``size`` crop of each image (its own position for each), mirrored
    left-right with probability 1/2 when ``flip``; returns a new (N, C, size, size) array."""
    x = _images(x, "random_crop_flip")
    size = _crop_size(x, size, "random_crop_flip")
    rng = np.random.default_rng(rng)
    n, _, h, w = x.shape
    top = rng.integers(0, h - size + 1, n)
    left = rng.integers(0, w - size + 1, n)
    rows = (top[:, None] + np.arange(size))[:, None, :, None]  # n, 1, size, 1
    cols = (left[:, None] + np.arange(size))[:, None, None, :]  # n, 1, 1, size
    if flip:
        mirrored = rng.random(n) < 0.5
        cols = np.where(mirrored[:, None, None, None], cols[..., ::-1], cols)
    return x[np.arange(n)[:, None, None, None], np.arange(x.shape[1])[None, :, None, None],
             rows, cols]


def ten_crop(x, size: int):
    """The ten test-time views of each image: the four corner crops, the centre crop, and the
    five mirrored. Returns (10, N, C, size, size), views in that order."""
    x = _images(x, "ten_crop")
    size = _crop_size(x, size, "ten_crop")
    h, w = x.shape[2:]
    t, l = (h - size) // 2, (w - size) // 2
    corners = [(0, 0), (0, w - size), (h - size, 0), (h - size, w - size), (t, l)]
    crops = [x[:, :, r:r + size, c:c + size] for r, c in corners]
    return np.stack(crops + [crop[..., ::-1] for crop in crops])


def ten_crop_predict(predict, x, size: int):
    """The mean over the ten views of ``predict(view)`` (class probabilities, e.g. a softmax),
    shape (N, classes)."""
    views = ten_crop(x, size)
    return np.mean([np.asarray(predict(np.ascontiguousarray(v))) for v in views], axis=0)


def pca_colour_basis(x):
    """Eigenvalues (descending) and eigenvectors (columns) of the 3×3 covariance of the RGB
    values of every pixel of ``x`` (N, 3, H, W): the basis of :func:`fancy_pca`."""
    x = _images(x, "pca_colour_basis")
    if x.shape[1] != 3:
        raise ValueError(f"pca_colour_basis needs RGB images (N, 3, H, W), got {x.shape}")
    pixels = x.transpose(1, 0, 2, 3).reshape(3, -1).astype(np.float64)
    values, vectors = np.linalg.eigh(np.cov(pixels))
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order]


def fancy_pca(x, eigenvalues, eigenvectors, std: float = 0.1, rng=None):
    """Add ``eigenvectors @ (α · eigenvalues)`` to every pixel of each image, α ~ N(0, std²)
    drawn per image (3 numbers); returns a new array of ``x``'s dtype."""
    x = _images(x, "fancy_pca")
    if x.shape[1] != 3:
        raise ValueError(f"fancy_pca needs RGB images (N, 3, H, W), got {x.shape}")
    eigenvalues, eigenvectors = np.asarray(eigenvalues), np.asarray(eigenvectors)
    if eigenvalues.shape != (3,) or eigenvectors.shape != (3, 3):
        raise ValueError(f"fancy_pca expects 3 eigenvalues and a 3x3 matrix of eigenvectors "
                         f"(pca_colour_basis gives both), got {eigenvalues.shape} and "
                         f"{eigenvectors.shape}")
    alpha = np.random.default_rng(rng).normal(0.0, std, size=(len(x), 3))
    shift = (alpha * eigenvalues) @ eigenvectors.T  # (N, 3): one RGB offset per image
    return (x + shift[:, :, None, None]).astype(x.dtype)


class Augmented:
    """The batches of ``batches`` with ``transform(x, rng)`` applied to their first element
    each time one is drawn; ``seed`` makes the sequence of variants repeatable."""

    def __init__(self, batches, transform, seed: int = 0):
        if not callable(transform):
            raise TypeError(f"Augmented: transform must be a callable transform(x, rng), got "
                            f"{transform!r}")
        self.batches, self.transform = batches, transform
        self.rng = np.random.default_rng(seed)

    def __iter__(self):
        for batch in self.batches:
            x, *rest = batch if isinstance(batch, (tuple, list)) else (batch,)
            yield (self.transform(x, self.rng), *rest)

    def __len__(self):
        return len(self.batches)

    def set_epoch(self, epoch: int) -> None:
        """Pass the epoch on to the wrapped batches, if they shuffle by epoch (e.g.
        ``dlcore.distributed.DistributedBatches``); ``dlcore.train.fit`` calls it."""
        inner = getattr(self.batches, "set_epoch", None)
        if callable(inner):
            inner(epoch)

    def state_dict(self) -> dict:
        """The state of the generator (and of the wrapped batches', if they have one), which a
        checkpoint of ``dlcore.train.fit`` keeps so that a resumed run draws the same variants."""
        inner = getattr(self.batches, "state_dict", None)
        return {"rng": self.rng.bit_generator.state, "batches": inner() if inner else None}

    def load_state_dict(self, state: dict) -> None:
        """Put back a state from :meth:`state_dict`."""
        self.rng.bit_generator.state = state["rng"]
        if state.get("batches") is not None:
            self.batches.load_state_dict(state["batches"])
