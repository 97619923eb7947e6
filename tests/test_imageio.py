"""Images in every common layout come back in their own layout; writes are atomic."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from inswapper_live.core.errors import InputError, OutputError
from inswapper_live.core.imageio import read_image, write_image


def _changed_face(bgr: np.ndarray) -> np.ndarray:
    out = bgr.copy()
    out[10:20, 10:20] = (0, 0, 255)
    return out


def test_grayscale_comes_back_grayscale(tmp_path: Path) -> None:
    gray = np.random.default_rng(0).integers(0, 255, (40, 60), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    image = read_image(tmp_path / "g.png")
    assert image.bgr.shape == (40, 60, 3)
    restored = image.restore(image.bgr)
    assert restored.shape == (40, 60) and np.array_equal(restored, gray)


def test_rgba_keeps_its_alpha(tmp_path: Path) -> None:
    rgba = np.random.default_rng(1).integers(0, 255, (30, 30, 4), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    image = read_image(tmp_path / "a.png")
    out = image.restore(_changed_face(image.bgr))
    assert out.shape == (30, 30, 4)
    assert np.array_equal(out[:, :, 3], rgba[:, :, 3])
    assert np.array_equal(out[0, 0], rgba[0, 0]) and tuple(out[15, 15, :3]) == (0, 0, 255)


def test_16_bit_pixels_outside_the_swap_keep_their_values(tmp_path: Path) -> None:
    deep = np.random.default_rng(2).integers(0, 65535, (32, 32, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), deep)
    image = read_image(tmp_path / "d.png")
    assert image.bgr.dtype == np.uint8
    out = image.restore(_changed_face(image.bgr))
    assert out.dtype == np.uint16
    assert np.array_equal(out[:10], deep[:10])
    assert tuple(out[15, 15]) == (0, 0, 65535)
    path = write_image(tmp_path / "out.png", out)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).dtype == np.uint16


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :5] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise to display
    Image.fromarray(pixels).save(tmp_path / "phone.jpg", exif=exif, quality=100)
    image = read_image(tmp_path / "phone.jpg")
    assert image.bgr.shape == (40, 20, 3)
    assert image.bgr[:5].mean() > 200 and image.bgr[-5:].mean() < 50


@pytest.mark.parametrize("size", [(1, 1), (3, 7), (4000, 6000)])
def test_tiny_and_huge_images_read(tmp_path: Path, size: tuple[int, int]) -> None:
    cv2.imwrite(str(tmp_path / "x.png"), np.full((*size, 3), 9, np.uint8))
    assert read_image(tmp_path / "x.png").bgr.shape == (*size, 3)


def test_undecodable_and_missing_images_are_named(tmp_path: Path) -> None:
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    with pytest.raises(InputError, match=r"broken\.jpg cannot be decoded"):
        read_image(tmp_path / "broken.jpg")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.png cannot be decoded"):
        read_image(tmp_path / "empty.png")
    with pytest.raises(InputError, match="does not exist"):
        read_image(tmp_path / "nope.png")


def test_writes_are_atomic_and_unwritable_paths_are_named(tmp_path: Path) -> None:
    target = tmp_path / "out.jpg"
    target.write_bytes(b"previous result")
    with pytest.raises(OutputError, match="cannot encode"):
        write_image(tmp_path / "out.unknownext", np.zeros((4, 4, 3), np.uint8))
    assert target.read_bytes() == b"previous result"
    write_image(target, np.zeros((4, 4, 3), np.uint8))
    assert cv2.imread(str(target)) is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jpg"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    with pytest.raises(OutputError, match="does not exist"):
        write_image(tmp_path / "missing" / "x.png", np.zeros((4, 4, 3), np.uint8))


def test_unwritable_folder_is_named(tmp_path: Path, monkeypatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # Root can write anywhere, so the folder's permission bits alone cannot make this fail here.
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
    with pytest.raises(OutputError, match="locked is not writable"):
        write_image(locked / "x.png", np.zeros((4, 4, 3), np.uint8))
    assert list(locked.iterdir()) == []


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
