"""The fast BGR warp equals OpenCV's own warp, and the uint8 coverage mask equals the float one."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import read

from inswapper_live.core.paste import blend_mask
from inswapper_live.core.warp import warp_bgr, warp_bgra


def _similarity(rng: np.random.Generator, scale: float, width: int, height: int) -> np.ndarray:
    angle = rng.uniform(-0.6, 0.6)
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    cx, cy = rng.uniform(-0.2, 1.2) * width, rng.uniform(-0.2, 1.2) * height
    return np.array([[c, -s, -(c * cx - s * cy) + 64], [s, c, -(s * cx + c * cy) + 64]], dtype=np.float64)


@pytest.mark.parametrize("size", [128, 256, 512])
def test_warp_bgr_matches_opencv(photos, size: int) -> None:
    rng = np.random.default_rng(size)
    image = read(photos[0])
    h, w = image.shape[:2]
    compared = 0
    for _ in range(12):
        matrix = _similarity(rng, rng.uniform(0.2, 3.0), w, h)
        ours = warp_bgr(image, matrix, (size, size))
        theirs = cv2.warpAffine(image, matrix, (size, size), borderValue=0.0)
        assert ours.shape == theirs.shape and ours.dtype == np.uint8
        diff = np.abs(ours.astype(np.int16) - theirs)
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01
        compared += int(theirs.any())
    assert compared >= 6, "most warps should land on the image"


def test_alpha_is_the_warped_coverage() -> None:
    rng = np.random.default_rng(1)
    crop = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    matrix = _similarity(rng, 2.7, 128, 128)
    warped = warp_bgra(crop, matrix, (400, 300))
    white = cv2.warpAffine(np.full((128, 128), 255, np.float32), matrix, (400, 300), borderValue=0.0)
    assert np.abs(warped[..., 3].astype(np.float32) - white).max() <= 0.5 + 1e-3
    ours, theirs = blend_mask(warped[..., 3].copy())[0], blend_mask(white)[0]
    assert theirs.max() > 0.99
    # Coverage rounds to whole grey levels; the edge values <= 20 that the reference keeps move by
    # up to 0.5, which after the erosion and blur is at most ~2 grey levels of weight.
    assert np.abs(ours - theirs).max() < 0.01
    assert np.abs(ours - theirs).mean() < 1e-4


def test_warp_off_the_image_is_black() -> None:
    image = np.full((50, 60, 3), 200, np.uint8)
    matrix = np.array([[1.0, 0.0, 500.0], [0.0, 1.0, 500.0]])
    assert not warp_bgr(image, matrix, (256, 256)).any()
    assert not warp_bgra(image, matrix, (256, 256)).any()
