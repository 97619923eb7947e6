"""Build OBS frames in memory (every supported pixel format) from a BGR image, for the OBS tests.

The encoder here is written independently of ``obs_plugin.formats`` (float maths per pixel,
chroma averaged over its block) so a test compares two implementations, not one with itself.
Planes get a linesize wider than the row and are filled with a sentinel around the image, so
a write outside the image shows.
"""

from __future__ import annotations

import numpy as np

from inswapper_live.obs_plugin.formats import SUBSAMPLING, FrameView, PixelFormat, plane_sizes, yuv_matrix

PAD = 0xAB
PACKED = {PixelFormat.YUY2: "YUYV", PixelFormat.UYVY: "UYVY", PixelFormat.YVYU: "YVYU"}


TEN_BIT_SCALE = {PixelFormat.I010: 1023.0, PixelFormat.P010: 65535.0 / 64.0}
"""1.0 in stored 10-bit steps: OBS reads P010 as 16-bit unorm, I010 as 0..1023."""


def encode_yuv(
    bgr: np.ndarray, space: str, full_range: bool, bits: int = 8, scale: float = 255.0
) -> np.ndarray:
    """H x W x 3 float Y, U, V samples for ``bgr`` with OBS's matrix for ``space``, range and depth."""
    matrix, _, _ = yuv_matrix(space, full_range, bits)
    m = matrix.astype(np.float64)
    rgb = bgr[:, :, ::-1].astype(np.float64) / 255.0
    yuv = (rgb - m[:3, 3]) @ np.linalg.inv(m[:3, :3]).T
    return np.clip(yuv * scale, 0, min(scale, (1 << bits) - 1))


def _subsample(channel: np.ndarray, sx: int, sy: int) -> np.ndarray:
    h, w = channel.shape
    ch, cw = -(-h // sy), -(-w // sx)
    out = np.zeros((ch, cw))
    for r in range(ch):
        for c in range(cw):
            out[r, c] = channel[r * sy : (r + 1) * sy, c * sx : (c + 1) * sx].mean()
    return out


def make_frame(
    bgr: np.ndarray,
    fmt: PixelFormat,
    space: str = "709",
    full_range: bool = False,
    extra: int = 13,
) -> FrameView:
    """``bgr`` as a frame of ``fmt`` with ``extra`` padding bytes per row and one padding row."""
    h, w = bgr.shape[:2]
    sizes = plane_sizes(fmt, w, h)
    planes = [np.full((rows + 1, used + extra), PAD, dtype=np.uint8) for rows, used in sizes]
    matrix, lo, hi = yuv_matrix(space, full_range)
    if fmt in (PixelFormat.BGRA, PixelFormat.BGRX, PixelFormat.RGBA):
        order = [2, 1, 0] if fmt == PixelFormat.RGBA else [0, 1, 2]
        px = np.full((h, w, 4), 255, dtype=np.uint8)
        px[:, :, order] = bgr
        if fmt == PixelFormat.BGRX:
            px[:, :, 3] = 7  # X is unused: whatever is there must survive
        planes[0][:h, : 4 * w] = px.reshape(h, 4 * w)
        return FrameView(fmt, w, h, planes, matrix, lo, hi, full_range)
    if fmt in TEN_BIT_SCALE:
        return _ten_bit_frame(bgr, fmt, space, full_range, planes)
    yuv = encode_yuv(bgr, space, full_range)
    sx, sy = SUBSAMPLING[fmt]
    y = np.rint(yuv[:, :, 0]).astype(np.uint8)
    u = np.rint(_subsample(yuv[:, :, 1], sx, sy)).astype(np.uint8)
    v = np.rint(_subsample(yuv[:, :, 2], sx, sy)).astype(np.uint8)
    ch, cw = u.shape
    if fmt in PACKED:
        order = PACKED[fmt]
        ys = np.zeros((h, 2 * cw), dtype=np.uint8)
        ys[:, :w] = y
        ys[:, w:] = y[:, -1:]  # an odd width's last macropixel repeats its pixel
        packed = np.zeros((h, cw, 4), dtype=np.uint8)
        first_y = True
        for i, letter in enumerate(order):
            if letter == "Y":
                packed[:, :, i] = ys[:, 0::2] if first_y else ys[:, 1::2]
                first_y = False
            else:
                packed[:, :, i] = u if letter == "U" else v
        planes[0][:h, : 4 * cw] = packed.reshape(h, 4 * cw)
    elif fmt == PixelFormat.NV12:
        planes[0][:h, :w] = y
        planes[1][:ch, 0 : 2 * cw : 2] = u
        planes[1][:ch, 1 : 2 * cw : 2] = v
    else:
        planes[0][:h, :w] = y
        planes[1][:ch, :cw] = u
        planes[2][:ch, :cw] = v
    return FrameView(fmt, w, h, planes, matrix, lo, hi, full_range)


def _ten_bit_frame(
    bgr: np.ndarray, fmt: PixelFormat, space: str, full_range: bool, planes: list[np.ndarray]
) -> FrameView:
    """I010 (samples 0..1023) or P010 (the sample in the top 10 bits of 16) in 16-bit planes."""
    h, w = bgr.shape[:2]
    matrix, lo, hi = yuv_matrix(space, full_range, 10)
    yuv = encode_yuv(bgr, space, full_range, 10, TEN_BIT_SCALE[fmt])
    shift = 6 if fmt == PixelFormat.P010 else 0
    y = np.rint(yuv[:, :, 0]).astype(np.uint16) << shift
    u = np.rint(_subsample(yuv[:, :, 1], 2, 2)).astype(np.uint16) << shift
    v = np.rint(_subsample(yuv[:, :, 2], 2, 2)).astype(np.uint16) << shift
    ch, cw = u.shape
    wide = [p[:, : p.shape[1] // 2 * 2].view(np.uint16) for p in planes]
    wide[0][:h, :w] = y
    if fmt == PixelFormat.P010:
        wide[1][:ch, 0 : 2 * cw : 2] = u
        wide[1][:ch, 1 : 2 * cw : 2] = v
    else:
        wide[1][:ch, :cw] = u
        wide[2][:ch, :cw] = v
    return FrameView(fmt, w, h, planes, matrix, lo, hi, full_range)
