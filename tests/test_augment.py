"""dlcore.augment: AlexNet's crops and flips, ten-crop testing and PCA colour augmentation."""

import numpy as np
import pytest

from dlcore import augment
from dlcore.data import ArrayBatches


def colour_image(n=1, h=8, w=10, seed=0):
    """RGB images whose colours vary mostly along one direction (as natural images do)."""
    r = np.random.default_rng(seed)
    t = r.random((n, 1, h, w))
    base = np.array([0.6, 0.4, 0.2])[None, :, None, None]
    return (0.2 + base * t + 0.02 * r.standard_normal((n, 3, h, w))).astype(np.float32)


def test_random_crops_are_windows_of_the_image_and_flips_mirror_them():
    x = np.arange(2 * 3 * 6 * 7, dtype=np.float32).reshape(2, 3, 6, 7)
    crops = augment.random_crop_flip(x, 4, rng=0, flip=False)
    assert crops.shape == (2, 3, 4, 4)
    windows = [x[n, :, r:r + 4, c:c + 4] for n in range(2) for r in range(3) for c in range(4)]
    for n in range(2):
        assert any(np.array_equal(crops[n], w) for w in windows[12 * n:12 * (n + 1)])
    flipped = augment.random_crop_flip(np.repeat(x[:1], 200, 0), 4, rng=1)
    mirrored = [np.array_equal(f, f[..., ::-1]) for f in flipped]
    assert not any(mirrored)  # the image is not symmetric, so a mirror shows
    firsts = flipped[:, 0, 0, 1] - flipped[:, 0, 0, 0]  # +1 along a row, -1 mirrored
    assert set(np.unique(firsts)) == {-1.0, 1.0} and 70 < (firsts < 0).sum() < 130
    # positions vary: many different windows over 200 draws
    assert len({f[0, 0, 0] for f in flipped}) > 6


def test_ten_crop_views():
    x = np.arange(1 * 1 * 5 * 5, dtype=np.float32).reshape(1, 1, 5, 5)
    views = augment.ten_crop(x, 3)
    assert views.shape == (10, 1, 1, 3, 3)
    assert [v[0, 0, 0, 0] for v in views[:5]] == [0, 2, 10, 12, 6]  # corners, centre
    np.testing.assert_array_equal(views[5:], views[:5][..., ::-1])
    probs = augment.ten_crop_predict(lambda v: np.full((len(v), 4), v.mean()), x, 3)
    assert probs.shape == (1, 4) and probs[0, 0] == pytest.approx(views.mean())


def test_pca_colour_basis_and_fancy_pca_on_a_colour_image():
    x = colour_image(n=4, h=16, w=16)
    values, vectors = augment.pca_colour_basis(x)
    assert values[0] > 10 * values[1] >= 0  # one dominant colour direction
    # the leading eigenvector is the direction the colours vary along (up to its sign)
    direction = np.array([0.6, 0.4, 0.2]) / np.linalg.norm([0.6, 0.4, 0.2])
    assert abs(vectors[:, 0] @ direction) > 0.99
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(3), atol=1e-12)
    out = augment.fancy_pca(x, values, vectors, std=0.1, rng=0)
    shift = out - x
    assert out.dtype == x.dtype
    # one RGB offset per image, the same at every pixel
    np.testing.assert_allclose(shift, shift[:, :, :1, :1].repeat(16, 2).repeat(16, 3),
                               atol=1e-6)
    alpha = np.random.default_rng(0).normal(0, 0.1, size=(4, 3))
    np.testing.assert_allclose(shift[:, :, 0, 0], (alpha * values) @ vectors.T, atol=1e-6)
    # the offsets lie (almost) along the dominant colour direction
    offsets = shift[:, :, 0, 0]
    along = np.abs(offsets @ vectors[:, 0]) / np.linalg.norm(offsets, axis=1)
    assert np.all(along > 0.9)
    with pytest.raises(ValueError, match="RGB images"):
        augment.pca_colour_basis(x[:, :1])
    with pytest.raises(ValueError, match="3 eigenvalues"):
        augment.fancy_pca(x, values[:2], vectors)


def test_augmented_wraps_any_batches_and_redraws_every_pass():
    x = np.random.default_rng(0).random((8, 1, 6, 6), dtype=np.float32)
    y = np.arange(8)
    batches = augment.Augmented(ArrayBatches(x, y, batch_size=4),
                                lambda images, rng: augment.random_crop_flip(images, 4, rng))
    first, second = list(batches), list(batches)
    assert len(batches) == 2 and first[0][0].shape == (4, 1, 4, 4)
    np.testing.assert_array_equal(first[0][1], y[:4])  # labels untouched
    assert not np.array_equal(first[0][0], second[0][0])  # new variants each pass
    again = list(augment.Augmented(ArrayBatches(x, y, batch_size=4),
                                   lambda images, rng: augment.random_crop_flip(images, 4, rng)))
    np.testing.assert_array_equal(first[0][0], again[0][0])  # the same seed, the same variants


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"float images \(N, C, H, W\)"):
        augment.random_crop_flip(np.zeros((2, 6, 6), np.float32), 4)
    with pytest.raises(ValueError, match=r"float images"):
        augment.ten_crop(np.zeros((1, 1, 6, 6), np.uint8), 4)
    with pytest.raises(ValueError, match=r"size must be an int in 1..6"):
        augment.random_crop_flip(np.zeros((1, 1, 6, 8), np.float32), 7)
    with pytest.raises(TypeError, match="transform must be a callable"):
        augment.Augmented([], None)
