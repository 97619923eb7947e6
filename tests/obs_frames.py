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


def encode_yuv(bgr: np.ndarray, space: str, full_range: bool) -> np.ndarray:
    """H x W x 3 float Y, U, V bytes for ``bgr`` with OBS's matrix for ``space`` and range."""
    matrix, _, _ = yuv_matrix(space, full_range)
    m = matrix.astype(np.float64)
    rgb = bgr[:, :, ::-1].astype(np.float64) / 255.0
    yuv = (rgb - m[:3, 3]) @ np.linalg.inv(m[:3, :3]).T
    return np.clip(yuv * 255.0, 0, 255)


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
