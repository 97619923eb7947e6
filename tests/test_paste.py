"""Paste-back in the face's box gives the reference's whole-frame pixels and touches nothing else."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from inswapper_live.core.align import ARCFACE_TEMPLATE, estimate_norm
from inswapper_live.core.paste import Footprint, blend_mask, crop_box, paste_into


def _reference_paste(frame: np.ndarray, crop: np.ndarray, m: np.ndarray) -> np.ndarray:
    """insightface's INSwapper paste-back, on the whole frame (float result, before rounding)."""
    h, w = frame.shape[:2]
    inverse = cv2.invertAffineTransform(m)
    size = crop.shape[0]
    white = np.full((size, size), 255, dtype=np.float32)
    fake = cv2.warpAffine(crop, inverse, (w, h), borderValue=0.0)
    white = cv2.warpAffine(white, inverse, (w, h), borderValue=0.0)
    white[white > 20] = 255
    ys, xs = np.where(white == 255)
    mask_size = int(np.sqrt((ys.max() - ys.min()) * (xs.max() - xs.min())))
    k = max(mask_size // 10, 10)
    white = cv2.erode(white, np.ones((k, k), np.uint8), iterations=1)
    k = max(mask_size // 20, 5)
    white = cv2.GaussianBlur(white, (2 * k + 1, 2 * k + 1), 0) / 255
    return white[:, :, None] * fake + (1 - white[:, :, None]) * frame.astype(np.float32)


# Faces in the middle, cut by the left, top and right borders, tiny and huge, rotated.
PLACES = [
    (1.0, (300, 200), 0.0),
    (2.5, (-60, 100), 0.2),
    (1.5, (200, -80), -0.4),
    (0.4, (500, 300), 0.0),
    (6.0, (-100, -150), 0.1),
    (3.0, (420, 250), 0.6),
]


@pytest.mark.parametrize(("scale", "offset", "angle"), PLACES)
@pytest.mark.parametrize("size", [128, 512])
def test_region_paste_equals_whole_frame_recipe(scale, offset, angle, size) -> None:
    rng = np.random.default_rng(size)
    frame = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    kps = (ARCFACE_TEMPLATE @ rot.T * scale + offset).astype(np.float32)
    m = estimate_norm(kps, size)
    crop = cv2.GaussianBlur(rng.integers(0, 255, (size, size, 3), dtype=np.uint8), (0, 0), size / 64)
    expected = _reference_paste(frame, crop, m)
    out = frame.copy()
    region = paste_into(out, crop, m)
    assert region is not None
    # Equal up to rounding: our uint8 vs the reference's float, and OpenCV's 1/32-pixel warp grid,
    # whose cell a coordinate falls in can flip when the box's origin moves the arithmetic.
    error = np.abs(out.astype(np.float32) - expected)
    assert error.max() <= 1.5
    assert (error > 0.51).mean() < 1e-3
    outside = np.ones(frame.shape[:2], bool)
    outside[region.slices] = False
    assert np.array_equal(out[outside], frame[outside])


def test_blend_zero_changes_nothing_and_blend_scales() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)
    m = estimate_norm((ARCFACE_TEMPLATE * 1.5 + 60).astype(np.float32), 128)
    crop = np.zeros((128, 128, 3), np.uint8)
    untouched = frame.copy()
    paste_into(untouched, crop, m, blend=0.0)
    assert np.array_equal(untouched, frame)
    half, full = frame.copy(), frame.copy()
    paste_into(half, crop, m, blend=0.5)
    region = paste_into(full, crop, m, blend=1.0)
    sl = region.slices
    assert (frame[sl].astype(int) - half[sl]).sum() == pytest.approx(
        (frame[sl].astype(int) - full[sl]).sum() / 2, rel=0.01
    )


def test_crop_entirely_off_frame_changes_nothing() -> None:
    frame = np.zeros((100, 100, 3), np.uint8)
    m = estimate_norm((ARCFACE_TEMPLATE + 1000).astype(np.float32), 128)
    assert paste_into(frame, np.full((128, 128, 3), 255, np.uint8), m) is None
    assert not frame.any()


@pytest.mark.parametrize(("scale", "offset", "angle"), PLACES)
@pytest.mark.parametrize("size", [128, 512])
def test_mask_blurred_around_its_solid_box_equals_the_whole_blur(scale, offset, angle, size) -> None:
    """The blur skipped inside the crop's opaque square, and done band by band around it, gives the
    mask of one blur over the whole region; the skipped box really is 1 there."""
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    m = estimate_norm((ARCFACE_TEMPLATE @ rot.T * scale + offset).astype(np.float32), size)
    inverse = cv2.invertAffineTransform(m)
    box = crop_box(inverse, size, 480, 640)
    assert box is not None
    y0, y1, x0, x1 = box
    inverse[:, 2] -= (x0, y0)
    crop = np.full((size, size), 255, np.uint8)
    white = cv2.warpAffine(crop, inverse, (x1 - x0, y1 - y0), borderValue=0)
    whole, none = blend_mask(white)
    banded, solid = blend_mask(white, Footprint.of(inverse, size))
    assert none is None
    np.testing.assert_allclose(banded, whole, atol=1e-5)
    if solid is not None:
        sy0, sy1, sx0, sx1 = solid
        assert whole[sy0:sy1, sx0:sx1].min() > 1.0 - 1e-5
    if scale >= 1.0 and min(offset) > 0 and abs(angle) <= 0.2:  # upright faces: most of it is skipped
        assert solid is not None
        assert (solid[1] - solid[0]) * (solid[3] - solid[2]) > 0.3 * whole.size
