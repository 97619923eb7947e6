"""Pixel formats: every supported one converts to BGR and back, and only changed pixels are written."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import psnr, read
from obs_frames import PAD, encode_yuv, make_frame

from inswapper_live.obs_plugin.formats import (
    SUBSAMPLING,
    SUPPORTED,
    FrameView,
    PixelFormat,
    plane_sizes,
    to_bgr,
    write_back,
    yuv_matrix,
)

FORMATS = sorted(SUPPORTED)
SIZES = [(64, 48), (33, 17), (1, 1), (7, 2)]


def _image(w: int, h: int, seed: int = 0) -> np.ndarray:
    """A smooth colourful image (the same at any size): gentle gradients plus blurred noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([40 + 2 * xx, 60 + 2 * yy, 160 - xx - yy], -1).astype(np.float64)
    noise = cv2.GaussianBlur(rng.uniform(0, 60, (h, w, 3)), (0, 0), 3)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _snapshot(frame: FrameView) -> list[np.ndarray]:
    return [p.copy() for p in frame.planes]


def test_supported_formats_are_the_ten_the_issue_names_and_two_ten_bit() -> None:
    names = {f.name for f in SUPPORTED}
    eight_bit = {"I420", "NV12", "YUY2", "UYVY", "YVYU", "BGRA", "BGRX", "RGBA", "I422", "I444"}
    assert names == eight_bit | {"I010", "P010"}


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize(("w", "h"), SIZES, ids=lambda v: str(v))
@pytest.mark.parametrize(("space", "full"), [("709", False), ("601", True)], ids=["709-partial", "601-full"])
def test_to_bgr_recovers_the_image(fmt: PixelFormat, w: int, h: int, space: str, full: bool) -> None:
    image = _image(w, h)
    frame = make_frame(image, fmt, space, full)
    before = _snapshot(frame)
    bgr = to_bgr(frame)
    assert bgr.shape == (h, w, 3) and bgr.dtype == np.uint8
    if fmt in (PixelFormat.BGRA, PixelFormat.BGRX, PixelFormat.RGBA):
        assert np.array_equal(bgr, image)
    else:
        # Smooth content: chroma subsampling and 8-bit rounding cost only a little.
        full_chroma = SUBSAMPLING[fmt] == (1, 1)
        assert np.abs(bgr.astype(int) - image).max() <= (4 if full_chroma else 12)
        assert psnr(bgr, image) > (40 if full_chroma else 33)
    assert all(np.array_equal(a, b) for a, b in zip(before, frame.planes, strict=True)), "reading wrote"


@pytest.mark.parametrize(
    ("fmt", "code"),
    [
        (PixelFormat.I420, cv2.COLOR_YUV2BGR_I420),
        (PixelFormat.NV12, cv2.COLOR_YUV2BGR_NV12),
        (PixelFormat.YUY2, cv2.COLOR_YUV2BGR_YUY2),
        (PixelFormat.UYVY, cv2.COLOR_YUV2BGR_UYVY),
        (PixelFormat.YVYU, cv2.COLOR_YUV2BGR_YVYU),
    ],
    ids=lambda v: getattr(v, "name", ""),
)
def test_bt601_partial_matches_opencv(fmt: PixelFormat, code: int) -> None:
    """OpenCV's own YUV decoders (BT.601, limited range) agree with ours to rounding."""
    w, h = 64, 48
    frame = make_frame(_image(w, h, 3), fmt, "601", False, extra=0)
    if fmt in (PixelFormat.I420,):
        raw = np.concatenate(
            [
                frame.planes[0][:h].ravel(),
                frame.planes[1][: h // 2].ravel(),
                frame.planes[2][: h // 2].ravel(),
            ]
        )
        packed = raw.reshape(h * 3 // 2, w)
    elif fmt == PixelFormat.NV12:
        packed = np.concatenate([frame.planes[0][:h], frame.planes[1][: h // 2]]).reshape(h * 3 // 2, w)
    else:
        packed = frame.planes[0][:h].reshape(h, w, 2)
    expected = cv2.cvtColor(np.ascontiguousarray(packed), code)
    assert np.abs(to_bgr(frame).astype(int) - expected).max() <= 2


def test_yuv_matrix_matches_libobs_values() -> None:
    """The numbers libobs 29's video_format_get_parameters returns (BT.709 partial, BT.601 full)."""
    m, lo, hi = yuv_matrix("709", False)
    assert np.allclose(m[0], [1.164384, 0.0, 1.792741, -0.972945], atol=2e-6)
    assert np.allclose(m[1], [1.164384, -0.213249, -0.532909, 0.301483], atol=2e-6)
    assert np.allclose(lo, 16 / 255) and np.allclose(hi, [235 / 255, 240 / 255, 240 / 255])
    m, lo, hi = yuv_matrix("601", True)
    assert np.allclose(m[2], [1.0, 1.772, 0.0, -0.889475], atol=2e-6)
    assert np.allclose(lo, 0) and np.allclose(hi, 1)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize(("w", "h"), [(64, 48), (33, 17)], ids=str)
def test_write_back_changes_only_the_changed_pixels(fmt: PixelFormat, w: int, h: int) -> None:
    image = _image(w, h, 1)
    frame = make_frame(image, fmt)
    original = _snapshot(frame)
    before = to_bgr(frame)
    after = before.copy()
    # A flat disc of a new colour, inside a box that does not start on a chroma boundary.
    cy, cx, r = h // 2, w // 2 + 1, min(w, h) // 4
    yy, xx = np.mgrid[0:h, 0:w]
    disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    after[disc] = (40, 200, 90)
    box = (cy - r, cy + r + 1, cx - r, cx + r + 1)
    written = write_back(frame, before, after, [box])
    assert written == int(disc.sum())
    result = to_bgr(frame)
    # The disc now has the new colour (its rim shares chroma with the old pixels around it).
    sx, sy = SUBSAMPLING.get(fmt, (1, 1))
    inner = cv2.erode(disc.astype(np.uint8), np.ones((2 * sy + 1, 2 * sx + 1), np.uint8)).astype(bool)
    assert np.abs(result[inner].astype(int) - (40, 200, 90)).max() <= 3
    # Outside the disc's chroma blocks every byte is what it was, padding included.
    touched = _touched_bytes(fmt, w, h, disc)
    for plane, old, mask in zip(frame.planes, original, touched, strict=True):
        assert np.array_equal(plane[~mask], old[~mask]), f"{fmt.name}: bytes outside the face changed"
    # Unchanged pixels keep their exact luma even inside the box.
    if fmt not in (PixelFormat.BGRA, PixelFormat.BGRX, PixelFormat.RGBA):
        keep = ~disc
        assert np.array_equal(_luma(frame)[keep], _luma_of(original, fmt, w, h)[keep])


def _luma_of(planes: list[np.ndarray], fmt: PixelFormat, w: int, h: int) -> np.ndarray:
    if fmt in (PixelFormat.YUY2, PixelFormat.YVYU):
        return planes[0][:h, 0 : 2 * w : 2]
    if fmt == PixelFormat.UYVY:
        return planes[0][:h, 1 : 2 * w : 2]
    if fmt in (PixelFormat.I010, PixelFormat.P010):
        return planes[0][:h, : 2 * w].view(np.uint16)
    return planes[0][:h, :w]


def _luma(frame: FrameView) -> np.ndarray:
    return _luma_of(frame.planes, frame.format, frame.width, frame.height)


def _touched_bytes(fmt: PixelFormat, w: int, h: int, changed: np.ndarray) -> list[np.ndarray]:
    """Per plane, the bytes that may change when ``changed`` pixels are written."""
    sizes = plane_sizes(fmt, w, h)
    masks = [np.zeros((rows + 1, used + 13), dtype=bool) for rows, used in sizes]
    if fmt in (PixelFormat.BGRA, PixelFormat.BGRX, PixelFormat.RGBA):
        masks[0][:h, : 4 * w] = np.repeat(changed, 4, axis=1)
        return masks
    sx, sy = SUBSAMPLING[fmt]
    ch, cw = -(-h // sy), -(-w // sx)
    padded = np.zeros((ch * sy, cw * sx), dtype=bool)
    padded[:h, :w] = changed
    blocks = padded.reshape(ch, sy, cw, sx).any(axis=(1, 3))
    if fmt in (PixelFormat.YUY2, PixelFormat.UYVY, PixelFormat.YVYU):
        masks[0][:h, : 4 * cw] = np.repeat(blocks, 4, axis=1)
    elif fmt == PixelFormat.P010:  # 2 bytes a sample
        masks[0][:h, : 2 * w] = np.repeat(changed, 2, axis=1)
        masks[1][:ch, : 4 * cw] = np.repeat(blocks, 4, axis=1)
    elif fmt == PixelFormat.I010:
        masks[0][:h, : 2 * w] = np.repeat(changed, 2, axis=1)
        masks[1][:ch, : 2 * cw] = np.repeat(blocks, 2, axis=1)
        masks[2][:ch, : 2 * cw] = np.repeat(blocks, 2, axis=1)
    elif fmt == PixelFormat.NV12:
        masks[0][:h, :w] = changed
        masks[1][:ch, : 2 * cw] = np.repeat(blocks, 2, axis=1)
    else:
        masks[0][:h, :w] = changed
        masks[1][:ch, :cw] = blocks
        masks[2][:ch, :cw] = blocks
    return masks


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_unchanged_result_writes_nothing(fmt: PixelFormat) -> None:
    frame = make_frame(_image(33, 17, 2), fmt)
    original = _snapshot(frame)
    before = to_bgr(frame)
    assert write_back(frame, before, before.copy(), [(0, 17, 0, 33)]) == 0
    assert all(np.array_equal(a, b) for a, b in zip(original, frame.planes, strict=True))


def test_bgrx_and_rgba_keep_their_fourth_byte() -> None:
    for fmt in (PixelFormat.BGRX, PixelFormat.RGBA):
        frame = make_frame(_image(8, 8), fmt)
        before = to_bgr(frame)
        after = np.full_like(before, 200)
        write_back(frame, before, after, [(0, 8, 0, 8)])
        px = frame.planes[0][:8, :32].reshape(8, 8, 4)
        assert np.all(px[:, :, 3] == (7 if fmt == PixelFormat.BGRX else 255))
        assert np.array_equal(to_bgr(frame), after)


def test_real_photo_round_trip(faces_dir) -> None:
    """A real photo in every YUV format: the conversion OBS would render is close to the photo."""
    image = read(faces_dir / "obama_small_320x240.jpg")
    for fmt in FORMATS:
        assert psnr(to_bgr(make_frame(image, fmt)), image) > 30, fmt.name


def test_empty_colour_matrix_falls_back_to_bt709() -> None:
    image = _image(16, 16)
    frame = make_frame(image, PixelFormat.I420, "709", False)
    frame.color_matrix = np.zeros((4, 4), np.float32)
    assert psnr(to_bgr(frame), image) > 38


@pytest.mark.parametrize("value", [0, 9, 11, 13, 14, 15, 16, 19, 20, 21])
def test_other_formats_are_not_supported(value: int) -> None:
    """Other high bit depths, alpha-planar, grayscale and 24-bit frames pass through."""
    assert value not in SUPPORTED
    if value in PixelFormat._value2member_map_:
        with pytest.raises(ValueError, match="not supported"):
            plane_sizes(PixelFormat(value), 8, 8)


def test_encoder_reference_is_independent() -> None:
    """Sanity of the test encoder itself: mid-grey is Y=126, U=V=128 in BT.709 partial range."""
    yuv = encode_yuv(np.full((1, 1, 3), 128, np.uint8), "709", False)
    assert np.allclose(yuv[0, 0], [125.96, 128, 128], atol=0.05)
    assert PAD not in (0, 255)
