"""dlcore.data.ImageFolder on hostile folders: symbolic links (loops, duplicates, wrong labels),
files that are not regular files, pixel depths beyond 8 bits, decompression bombs, extreme
aspect ratios, corrupt files. Each is read correctly or refused with a one-line DataError; none
hangs (the tests that could hang run under a deadline)."""

import os
import signal
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlcore import data
from dlcore.data import DataError, ImageFolder

RED, BLUE = (200, 30, 30), (30, 30, 200)


@contextmanager
def deadline(seconds=10):
    """Raise TimeoutError in this (the main) thread if the block runs longer: a test of a hang
    fails instead of hanging."""

    def expire(*_):
        raise TimeoutError(f"still running after {seconds} s: it hangs")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def write_images(folder, n, colour, size=(40, 40)):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", size, colour).save(folder / f"{i}.png")


@pytest.fixture
def tree(tmp_path):
    """root/a/{0,1}.png (red), root/b/{0,1}.png (blue)."""
    root = tmp_path / "root"
    write_images(root / "a", 2, RED)
    write_images(root / "b", 2, BLUE)
    return root


def labelled(ds):
    """Each sample as (path relative to the root, label), to compare with what is expected."""
    return [(os.path.relpath(p, ds.root), label) for p, label in ds.samples]


FOUR = [("a/0.png", 0), ("a/1.png", 0), ("b/0.png", 1), ("b/1.png", 1)]


# --------------------------------------------------------------------------- symbolic links


def test_a_link_to_the_parent_inside_a_class_folder_is_not_followed(tree):
    (tree / "a" / "up").symlink_to("..")
    with deadline():
        ds = ImageFolder(tree, train=False, size=32)
    assert labelled(ds) == FOUR


def test_two_links_to_the_folder_itself_do_not_hang(tree):
    (tree / "a" / "x").symlink_to(".")
    (tree / "a" / "y").symlink_to(".")
    with deadline():
        ds = ImageFolder(tree, train=False, size=32)
    assert labelled(ds) == FOUR


def test_follow_links_reads_each_linked_folder_once(tree, tmp_path):
    outside = tmp_path / "outside"
    write_images(outside, 1, RED)
    (tree / "a" / "more").symlink_to(outside)
    (tree / "a" / "again").symlink_to(outside)  # the same folder twice: read once
    (tree / "a" / "loop").symlink_to(".")  # a loop: read once
    (outside / "back").symlink_to(tree / "a")  # a loop through a folder outside the root
    with deadline():
        followed = ImageFolder(tree, train=False, size=32, follow_links=True)
        plain = ImageFolder(tree, train=False, size=32)
    assert labelled(followed) == [("a/0.png", 0), ("a/1.png", 0), ("a/again/0.png", 0), *FOUR[2:]]
    assert labelled(plain) == FOUR
    assert followed.follow_links and not plain.follow_links


def test_a_linked_class_folder_is_read_only_with_follow_links(tree, tmp_path):
    write_images(tmp_path / "elsewhere" / "c", 1, RED)
    (tree / "c").symlink_to(tmp_path / "elsewhere" / "c")
    with pytest.raises(DataError, match=r"root/c is a link to the folder .*elsewhere/c.* "
                                        r"follow_links=True") as e:
        ImageFolder(tree, train=False, size=32)
    assert "\n" not in str(e.value)
    ds = ImageFolder(tree, train=False, size=32, follow_links=True)
    assert ds.classes == ["a", "b", "c"] and labelled(ds)[-1] == ("c/0.png", 2)


@pytest.mark.parametrize("link, target, message", [
    ("a/up", "..", r"a/up leads to .*root, which holds the image folder .*root.*every class"),
    ("a/other", "../b", r"a/other leads to .*root/b, the folder of class 'b': its images would "
                        r"be labelled 'a'"),
    ("a/deep", "../b/nested", r"a/deep leads to .*root/b/nested, inside the folder of class 'b'"),
])
def test_followed_links_that_would_mislabel_images_are_refused(tree, link, target, message):
    (tree / "b" / "nested").mkdir()
    Image.new("RGB", (40, 40), BLUE).save(tree / "b" / "nested" / "n.png")
    (tree / link).symlink_to(target)
    with deadline(), pytest.raises(DataError, match=message) as e:
        ImageFolder(tree, train=False, size=32, follow_links=True)
    assert "\n" not in str(e.value)


def test_two_class_folders_linked_to_one_folder_are_refused(tree, tmp_path):
    write_images(tmp_path / "same", 1, RED)
    (tree / "c").symlink_to(tmp_path / "same")
    (tree / "d").symlink_to(tmp_path / "same")
    with pytest.raises(DataError, match=r"classes 'c' and 'd' are the same folder .*same"):
        ImageFolder(tree, train=False, size=32, follow_links=True)


def test_one_folder_linked_from_two_classes_is_refused(tree, tmp_path):
    write_images(tmp_path / "shared", 1, RED)
    (tree / "a" / "x").symlink_to(tmp_path / "shared")
    (tree / "b" / "y").symlink_to(tmp_path / "shared")
    assert labelled(ImageFolder(tree, train=False, size=32)) == FOUR  # links not followed
    with pytest.raises(DataError, match=r"b/y leads to .*shared, a folder read \(through a link\) "
                                        r"as images of class 'a': its images would be labelled 'b'"):
        ImageFolder(tree, train=False, size=32, follow_links=True)


def test_a_link_to_an_image_is_a_sample_of_the_folder_it_is_listed_in(tree):
    (tree / "a" / "borrowed.png").symlink_to(tree / "b" / "0.png")
    ds = ImageFolder(tree, train=False, size=32)
    assert labelled(ds)[:3] == [("a/0.png", 0), ("a/1.png", 0), ("a/borrowed.png", 0)]
    np.testing.assert_allclose(ds.load(2)[:, 0, 0], np.array(BLUE) / 255, rtol=1e-6)


def test_a_dangling_link_named_like_an_image_is_a_clear_error(tree):
    (tree / "a" / "gone.png").symlink_to(tree / "nowhere.png")
    with pytest.raises(DataError, match=r"a/gone.png is a link to .*nowhere.png, which does not "
                                        r"exist: remove the link or restore its target"):
        ImageFolder(tree, train=False, size=32)


# --------------------------------------------------------------------------- not regular files


@pytest.mark.parametrize("kind", ["fifo", "link to a fifo", "link to a device"])
def test_a_fifo_or_device_named_like_an_image_is_refused_unopened(tree, tmp_path, kind):
    if kind == "fifo":
        os.mkfifo(tree / "a" / "x.jpg")
        found = "a FIFO"
    elif kind == "link to a fifo":
        os.mkfifo(tmp_path / "pipe")
        (tree / "a" / "x.jpg").symlink_to(tmp_path / "pipe")
        found = "a FIFO"
    else:
        if not os.path.exists("/dev/zero"):
            pytest.skip("no /dev/zero")
        (tree / "a" / "x.jpg").symlink_to("/dev/zero")
        found = "a character device"
    with deadline(), pytest.raises(DataError, match=rf"a/x.jpg is {found}, not a regular file"):
        ImageFolder(tree, train=False, size=32)


def test_a_fifo_put_in_place_of_an_image_after_listing_is_refused_on_load(tree):
    ds = ImageFolder(tree, train=False, size=32)
    (tree / "a" / "0.png").unlink()
    os.mkfifo(tree / "a" / "0.png")
    with deadline(), pytest.raises(DataError, match=r"a/0.png is a FIFO, not a regular file"):
        ds.load(0)


# --------------------------------------------------------------------------- pixel depth


def one_image(tmp_path, save):
    """An ImageFolder of the single image ``save(path_without_suffix)`` writes; its (3, H, W)
    pixels as ``load`` gives them."""
    folder = tmp_path / "root" / "a"
    folder.mkdir(parents=True)
    save(folder / "img")
    return ImageFolder(tmp_path / "root", train=False, size=32, resize=40)


def save_pgm16(stem, value):
    pixels = np.full((40, 40), value, dtype=">u2")
    Path(f"{stem}.pgm").write_bytes(b"P5\n40 40\n65535\n" + pixels.tobytes())


DEPTHS = {
    "16-bit PNG (I;16)": (lambda s: Image.fromarray(np.full((40, 40), 40000, np.uint16))
                          .save(f"{s}.png"), 40000 / 65535),
    "16-bit TIFF (I;16)": (lambda s: Image.fromarray(np.full((40, 40), 40000, np.uint16))
                           .save(f"{s}.tif"), 40000 / 65535),
    "16-bit PGM (I)": (lambda s: save_pgm16(s, 40000), 40000 / 65535),
    "32-bit int TIFF (I)": (lambda s: Image.fromarray(np.full((40, 40), 2**30, np.int32))
                            .save(f"{s}.tif"), 2**30 / (2**31 - 1)),
    "float TIFF (F)": (lambda s: Image.fromarray(np.full((40, 40), 0.25, np.float32))
                       .save(f"{s}.tif"), 0.25),
}


@pytest.mark.parametrize("name", list(DEPTHS))
def test_deep_pixels_decode_to_their_real_values(tmp_path, name):
    save, expected = DEPTHS[name]
    x = one_image(tmp_path, save).load(0)
    assert x.shape == (3, 40, 40) and x.dtype == np.float32
    np.testing.assert_allclose(x, expected, rtol=1e-6)


def test_a_16_bit_gradient_keeps_more_than_256_levels(tmp_path):
    ramp = np.linspace(0, 65535, 40 * 40).astype(np.uint16).reshape(40, 40)
    x = one_image(tmp_path, lambda s: Image.fromarray(ramp).save(f"{s}.png")).load(0)
    assert x.min() == 0 and x.max() == 1 and len(np.unique(x)) > 1000


@pytest.mark.parametrize("mode, suffix, colour", [
    ("1", "png", 1), ("L", "png", 77), ("P", "png", 5), ("LA", "png", (77, 10)),
    ("RGBA", "png", (10, 200, 90, 0)), ("CMYK", "tif", (10, 200, 90, 30)), ("RGB", "bmp", RED),
])
def test_eight_bit_modes_read_as_pillow_converts_them(tmp_path, mode, suffix, colour):
    image = Image.new(mode, (40, 40), colour)
    x = one_image(tmp_path, lambda s: image.save(f"{s}.{suffix}")).load(0)
    expected = np.asarray(image.convert("RGB"), dtype=np.float32)[0, 0] / 255
    np.testing.assert_allclose(x[:, 7, 7], expected, rtol=1e-6)


@pytest.mark.parametrize("pixels, message", [
    (np.full((40, 40), 2.5, np.float32), r"float pixels in \[2.5, 2.5\], expected 0..1"),
    (np.full((40, 40), np.nan, np.float32), r"float pixels .*NaN"),
    (np.full((40, 40), -7, np.int32), r"integer pixels in \[-7, -7\], expected 0..2147483647"),
])
def test_pixels_outside_their_range_are_refused_not_clipped(tmp_path, pixels, message):
    ds = one_image(tmp_path, lambda s: Image.fromarray(pixels).save(f"{s}.tif"))
    with pytest.raises(DataError, match=message) as e:
        ds.load(0)
    assert "img.tif" in str(e.value) and "\n" not in str(e.value)


# --------------------------------------------------------------------------- size


def test_a_decompression_bomb_is_a_one_line_data_error(tree, monkeypatch):
    ds = ImageFolder(tree, train=False, size=32)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 40 x 40 = 1,600 > 2 x 100: a "bomb"
    with pytest.raises(DataError, match=r"a/0.png would decode to more pixels than Pillow "
                                        r"allows .*1600 pixels") as e:
        ds.load(0)
    assert "\n" not in str(e.value) and "MAX_IMAGE_PIXELS" in str(e.value)


@pytest.mark.parametrize("shape", [(1, 60000), (60000, 1)])
def test_an_extreme_aspect_ratio_is_refused_before_resizing(tmp_path, monkeypatch, shape):
    monkeypatch.setattr(data, "MAX_RESIZED_PIXELS", 100_000, raising=False)
    folder = tmp_path / "root" / "a"
    folder.mkdir(parents=True)
    Image.new("L", shape, 50).save(folder / "thin.png")
    ds = ImageFolder(tmp_path / "root", train=False, size=8)  # shorter side resized to 9
    with pytest.raises(DataError, match=rf"thin.png is {shape[0]}×{shape[1]} pixels: resized to "
                                        rf"{'9×540000' if shape[0] == 1 else '540000×9'} it would "
                                        rf"have 4,860,000 pixels, more than .*100,000") as e:
        ds.load(0)
    assert "\n" not in str(e.value)


def test_the_default_cap_refuses_a_1_by_60000_image_and_allows_a_panorama(tmp_path):
    folder = tmp_path / "root" / "a"
    folder.mkdir(parents=True)
    Image.new("L", (1, 60000), 50).save(folder / "0_thin.png")
    Image.new("L", (400, 100), 50).save(folder / "1_panorama.png")
    ds = ImageFolder(tmp_path / "root", train=False, size=224)
    with pytest.raises(DataError, match="resized to 256×15360000"):
        ds.load(0)
    assert ds.load(1).shape == (3, 256, 1024)


# --------------------------------------------------------------------------- corrupt files


def png_bytes():
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(
        buffer, "PNG")
    return buffer.getvalue()


def jpeg_bytes():
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(
        buffer, "JPEG")
    return buffer.getvalue()


def flipped(blob, start, end):
    out = bytearray(blob)
    for i in range(start, end):
        out[i] ^= 0xFF
    return bytes(out)


CORRUPT = {
    "empty.png": lambda: b"",
    "text.jpg": lambda: b"not an image at all",
    "half.png": lambda: png_bytes()[:len(png_bytes()) // 2],
    "half.jpg": lambda: jpeg_bytes()[:len(jpeg_bytes()) // 2],
    "scrambled.png": lambda: flipped(png_bytes(), 60, 400),
    "header_only.png": lambda: png_bytes()[:33],
}


@pytest.mark.parametrize("name", list(CORRUPT))
def test_a_corrupt_or_truncated_image_is_a_one_line_data_error(tmp_path, name):
    folder = tmp_path / "root" / "a"
    folder.mkdir(parents=True)
    (folder / name).write_bytes(CORRUPT[name]())
    ds = ImageFolder(tmp_path / "root", train=False, size=32)
    with pytest.raises(DataError, match=rf"cannot read the image .*{name}") as e:
        ds[0]
    assert "\n" not in str(e.value) and "delete or replace the file" in str(e.value)
