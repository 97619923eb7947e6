"""OBS pixel formats to BGR and back, writing back only the pixels a swap changed.

A frame arrives in its source's own format (a media source gives I420, webcams NV12 or YUY2,
captures BGRA, HDR and 10-bit media I010 or P010). It is converted to BGR with the frame's own colour matrix and range (the same
affine map OBS's shaders apply), handed to the engine, and only the pixels that differ
afterwards are converted back and written into the frame's planes. Every other byte keeps its
exact value, so a frame without a face comes out byte-identical. 10-bit frames stay 10-bit:
the engine sees 8-bit BGR, and the changed pixels are written back as 10-bit samples.

Planes are 2-D ``uint8`` arrays of ``rows x linesize`` bytes (padding included); every view
below is a strided view into them, so writes land in the frame's own memory.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..core.types import Frame

Box = tuple[int, int, int, int]
"""y0, y1, x0, x1 in frame pixels (end exclusive)."""


class PixelFormat(enum.IntEnum):
    """libobs ``enum video_format`` (values are the ABI)."""

    NONE = 0
    I420 = 1
    NV12 = 2
    YVYU = 3
    YUY2 = 4
    UYVY = 5
    RGBA = 6
    BGRA = 7
    BGRX = 8
    Y800 = 9
    I444 = 10
    BGR3 = 11
    I422 = 12
    I010 = 17
    """10-bit 4:2:0, three planes of 16-bit samples holding 0..1023."""
    P010 = 18
    """10-bit 4:2:0, Y and interleaved UV planes of 16-bit samples, the value in the top 10 bits."""


YUV_FORMATS = frozenset(
    {
        PixelFormat.I420,
        PixelFormat.NV12,
        PixelFormat.YVYU,
        PixelFormat.YUY2,
        PixelFormat.UYVY,
        PixelFormat.I444,
        PixelFormat.I422,
        PixelFormat.I010,
        PixelFormat.P010,
    }
)
TEN_BIT = frozenset({PixelFormat.I010, PixelFormat.P010})
RGB_FORMATS = frozenset({PixelFormat.RGBA, PixelFormat.BGRA, PixelFormat.BGRX})
SUPPORTED = YUV_FORMATS | RGB_FORMATS
"""Everything else (alpha-planar, Y800, BGR3, other high bit depths) passes through untouched."""

SUBSAMPLING: dict[PixelFormat, tuple[int, int]] = {
    PixelFormat.I420: (2, 2),
    PixelFormat.NV12: (2, 2),
    PixelFormat.YVYU: (2, 1),
    PixelFormat.YUY2: (2, 1),
    PixelFormat.UYVY: (2, 1),
    PixelFormat.I422: (2, 1),
    PixelFormat.I444: (1, 1),
    PixelFormat.I010: (2, 2),
    PixelFormat.P010: (2, 2),
}
"""Chroma subsampling (x, y) of each YUV format."""

_PACKED_422: dict[PixelFormat, tuple[int, int, int]] = {
    PixelFormat.YUY2: (0, 1, 3),
    PixelFormat.UYVY: (1, 0, 2),
    PixelFormat.YVYU: (0, 3, 1),
}
"""Byte offsets of (first Y, U, V) in each 4-byte macropixel."""

_SAMPLE_MAX: dict[PixelFormat, float] = {PixelFormat.I010: 1023.0, PixelFormat.P010: 65535.0 / 64.0}
"""What a sample of 1.0 is in the units the views give (0..255 for 8-bit formats). OBS's
shaders read P010 as 16-bit unorm (value / 65535), so 1.0 there is 65535 / 64 in 10-bit steps."""
_SHIFT = {PixelFormat.P010: 6}
"""Bits a sample is stored shifted up by."""


_OTHER_FORMATS = {13: "I40A", 14: "I42A", 15: "YUVA", 16: "AYUV", 19: "I210", 20: "I412", 21: "YA2L"}
"""libobs's names of the formats this module does not handle (for the status line)."""


def format_name(value: int) -> str:
    """libobs's name of a ``video_format`` value, e.g. Y800, I210; its number when unknown."""
    if value in PixelFormat._value2member_map_:
        return PixelFormat(value).name
    return _OTHER_FORMATS.get(value, f"format {value}")


def plane_sizes(fmt: PixelFormat, width: int, height: int) -> list[tuple[int, int]]:
    """(rows, bytes used per row) of each plane; a plane's linesize may be larger."""
    cw, ch = -(-width // 2), -(-height // 2)
    if fmt == PixelFormat.I420:
        return [(height, width), (ch, cw), (ch, cw)]
    if fmt == PixelFormat.NV12:
        return [(height, width), (ch, 2 * cw)]
    if fmt == PixelFormat.I422:
        return [(height, width), (height, cw), (height, cw)]
    if fmt == PixelFormat.I444:
        return [(height, width)] * 3
    if fmt == PixelFormat.I010:
        return [(height, 2 * width), (ch, 2 * cw), (ch, 2 * cw)]
    if fmt == PixelFormat.P010:
        return [(height, 2 * width), (ch, 4 * cw)]
    if fmt in _PACKED_422:
        return [(height, 4 * cw)]
    if fmt in RGB_FORMATS:
        return [(height, 4 * width)]
    raise ValueError(f"pixel format {fmt!r} is not supported")


# ---------------------------------------------------------------- colour
def yuv_matrix(
    space: str = "709", full_range: bool = False, bits: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OBS's (matrix, range_min, range_max) for a colour space, as libobs's
    video_format_get_parameters_for_format (``bits`` 10 for I010 and P010).

    The matrix maps (y, u, v, 1) with components in 0..1 to (r, g, b, 1); it is the fallback
    for a frame whose source left its matrix empty, and what tests build frames with.
    """
    kr, kb = {"601": (0.299, 0.114), "709": (0.2126, 0.0722)}[space]
    kg = 1.0 - kr - kb
    top, step = float((1 << bits) - 1), float(1 << (bits - 8))
    if full_range:
        y_scale, c_scale, y_off = 1.0, 1.0, 0.0
        lo, hi = np.zeros(3), np.ones(3)
    else:
        y_scale, c_scale, y_off = top / (219.0 * step), top / (224.0 * step), 16.0 * step / top
        lo = np.full(3, 16.0 * step / top)
        hi = np.array([235.0, 240.0, 240.0]) * step / top
    c_off = 128.0 * step / top
    coeffs = np.array(
        [
            [1.0, 0.0, 2.0 * (1.0 - kr)],
            [1.0, -2.0 * kb * (1.0 - kb) / kg, -2.0 * kr * (1.0 - kr) / kg],
            [1.0, 2.0 * (1.0 - kb), 0.0],
        ]
    ) * np.array([y_scale, c_scale, c_scale])
    matrix = np.eye(4)
    matrix[:3, :3] = coeffs
    matrix[:3, 3] = -coeffs @ np.array([y_off, c_off, c_off])
    return matrix.astype(np.float32), lo.astype(np.float32), hi.astype(np.float32)


@dataclass(frozen=True)
class _Colour:
    """The frame's affine YUV<->BGR maps in sample units (bytes for 8-bit formats), for cv2.transform."""

    to_bgr: np.ndarray
    """3 x 4: (Y, U, V, 1) samples -> (B, G, R) bytes."""
    to_yuv: np.ndarray
    """3 x 4: (B, G, R, 1) bytes -> (Y, U, V) samples."""
    lo: np.ndarray
    hi: np.ndarray
    """Per-channel YUV sample range OBS clamps to before converting."""

    @classmethod
    def of(
        cls, matrix: np.ndarray, lo: np.ndarray, hi: np.ndarray, full_range: bool, scale: float = 255.0
    ) -> _Colour:
        matrix = np.asarray(matrix, dtype=np.float64).reshape(4, 4)
        if not np.any(matrix[:3, :3]):  # a source that never filled it in
            bits = 8 if scale == 255.0 else 10
            matrix, lo, hi = (np.asarray(v, np.float64) for v in yuv_matrix("709", full_range, bits))
        lo_b = np.asarray(lo, np.float64) * scale
        hi_b = np.asarray(hi, np.float64) * scale
        if not np.all(hi_b > lo_b):
            lo_b, hi_b = np.zeros(3), np.full(3, scale)
        rgb = np.empty((3, 4))
        rgb[:, :3] = matrix[:3, :3] * (255.0 / scale)
        rgb[:, 3] = matrix[:3, 3] * 255.0
        bgr = rgb[::-1]
        inverse = np.linalg.inv(bgr[:, :3])
        to_yuv = np.empty((3, 4))
        to_yuv[:, :3] = inverse
        to_yuv[:, 3] = -inverse @ bgr[:, 3]
        return cls(bgr, to_yuv, lo_b, hi_b)


# ---------------------------------------------------------------- frames
@dataclass
class FrameView:
    """One video frame's planes, writable, with what OBS says about its colours."""

    format: PixelFormat
    width: int
    height: int
    planes: list[np.ndarray]
    color_matrix: np.ndarray
    range_min: np.ndarray
    range_max: np.ndarray
    full_range: bool = False

    def __post_init__(self) -> None:
        sizes = plane_sizes(self.format, self.width, self.height)
        if len(self.planes) != len(sizes):
            raise ValueError(f"{self.format.name} has {len(sizes)} planes, not {len(self.planes)}")
        for plane, (rows, used) in zip(self.planes, sizes, strict=True):
            if plane.ndim != 2 or plane.shape[0] < rows or plane.shape[1] < used:
                raise ValueError(
                    f"{self.format.name} {self.width}x{self.height}: plane of shape {plane.shape} "
                    f"is smaller than {rows}x{used}"
                )

    @property
    def subsampling(self) -> tuple[int, int]:
        return SUBSAMPLING.get(self.format, (1, 1))

    def _colour(self) -> _Colour:
        scale = _SAMPLE_MAX.get(self.format, 255.0)
        return _Colour.of(self.color_matrix, self.range_min, self.range_max, self.full_range, scale)

    def _yuv_views(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Writable Y (h x w), U and V (chroma rows x chroma columns) views into the planes
        (16-bit samples as stored for 10-bit formats)."""
        w, h = self.width, self.height
        sx, sy = self.subsampling
        cw, ch = -(-w // sx), -(-h // sy)
        fmt, planes = self.format, self.planes
        if fmt in TEN_BIT:
            planes = [p[:, : p.shape[1] // 2 * 2].view(np.uint16) for p in planes]
        if fmt == PixelFormat.P010:
            uv = planes[1][:ch]
            return planes[0][:h, :w], uv[:, 0 : 2 * cw : 2], uv[:, 1 : 2 * cw : 2]
        if fmt in _PACKED_422:
            y_at, u_at, v_at = _PACKED_422[fmt]
            row = planes[0][:h]
            return row[:, y_at : y_at + 2 * w : 2], row[:, u_at : 4 * cw : 4], row[:, v_at : 4 * cw : 4]
        if fmt == PixelFormat.NV12:
            uv = planes[1][:ch]
            return planes[0][:h, :w], uv[:, 0 : 2 * cw : 2], uv[:, 1 : 2 * cw : 2]
        return planes[0][:h, :w], planes[1][:ch, :cw], planes[2][:ch, :cw]

    def _rgb_view(self) -> tuple[np.ndarray, list[int]]:
        """The H x W x 4 pixels and the channel index of B, G and R."""
        view = self.planes[0][: self.height, : 4 * self.width].reshape(self.height, self.width, 4)
        return view, ([2, 1, 0] if self.format == PixelFormat.RGBA else [0, 1, 2])


def to_bgr(frame: FrameView) -> Frame:
    """The frame as 8-bit BGR, converted the way OBS renders it."""
    if frame.format in RGB_FORMATS:
        view, order = frame._rgb_view()
        return np.ascontiguousarray(view[:, :, order])
    if frame.format not in YUV_FORMATS:
        raise ValueError(f"pixel format {frame.format!r} is not supported")
    colour = frame._colour()
    sx, sy = frame.subsampling
    h, w = frame.height, frame.width
    lo, hi = (np.rint(colour.lo).astype(int).tolist(), np.rint(colour.hi).astype(int).tolist())
    shift = _SHIFT.get(frame.format, 0)
    channels = []
    for i, plane in enumerate(frame._yuv_views()):
        if shift:
            plane = plane >> shift
        plane = np.clip(plane, lo[i], hi[i])  # as OBS's shader clamps (a new array: the frame is untouched)
        if i and (sx, sy) != (1, 1):
            plane = cv2.resize(
                plane, (plane.shape[1] * sx, plane.shape[0] * sy), interpolation=cv2.INTER_NEAREST
            )
        channels.append(plane[:h, :w])
    if frame.format in TEN_BIT:
        bgr = cv2.transform(cv2.merge(channels).astype(np.float32), colour.to_bgr)
        return np.clip(np.rint(bgr), 0, 255).astype(np.uint8)
    return cv2.transform(cv2.merge(channels), colour.to_bgr)


def _aligned(box: Box, sx: int, sy: int, width: int, height: int) -> Box:
    """``box`` grown to whole chroma blocks and clipped to the frame."""
    y0, y1, x0, x1 = box
    y0, x0 = max(0, y0 - y0 % sy), max(0, x0 - x0 % sx)
    y1 = min(height, y1 + (-y1) % sy)
    x1 = min(width, x1 + (-x1) % sx)
    return y0, y1, x0, x1


def _blocks(values: np.ndarray, sx: int, sy: int) -> np.ndarray:
    """The mean of ``values`` (h x w [x c]) over sy x sx blocks; a partial edge block repeats its last pixels."""
    h, w = values.shape[:2]
    if (sx, sy) == (1, 1):
        return values
    if h % sy or w % sx:  # only at a frame edge of odd size
        values = np.pad(values, [(0, (-h) % sy), (0, (-w) % sx)] + [(0, 0)] * (values.ndim - 2), mode="edge")
    size = (values.shape[1] // sx, values.shape[0] // sy)
    return cv2.resize(values, size, interpolation=cv2.INTER_AREA)  # exact block means at integer factors


def _changed(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """Pixels (h x w, uint8 255 / 0) where any channel differs."""
    b, g, r = cv2.split(cv2.absdiff(new, old))
    return cv2.compare(cv2.max(cv2.max(b, g), r), 0, cv2.CMP_GT)


def _to_samples(values: np.ndarray, lo: float, hi: float, fmt: PixelFormat) -> np.ndarray:
    """Float YUV values as the format stores them, clamped to the frame's range (as OBS clamps them)."""
    if fmt not in TEN_BIT:
        return np.clip(np.rint(values), lo, hi).astype(np.uint8)
    samples = np.clip(np.rint(values), lo, min(hi, 1023.0)).astype(np.uint16)
    return samples << _SHIFT.get(fmt, 0)


def write_back(frame: FrameView, before: Frame, after: Frame, boxes: Sequence[Box]) -> int:
    """Write the pixels of ``after`` that differ from ``before`` into the frame, only inside ``boxes``.

    ``before`` is ``to_bgr(frame)``; ``after`` is the engine's result. A chroma sample shared by
    several pixels is rewritten when any of them changed. Returns the number of pixels written.
    """
    written = 0
    if frame.format in RGB_FORMATS:
        view, order = frame._rgb_view()
        for y0, y1, x0, x1 in boxes:
            new = after[y0:y1, x0:x1]
            changed = _changed(new, before[y0:y1, x0:x1]).astype(bool)
            if changed.any():
                region = view[y0:y1, x0:x1]
                for channel, index in enumerate(order):
                    region[:, :, index][changed] = new[:, :, channel][changed]
                written += int(changed.sum())
        return written
    colour = frame._colour()
    to_yuv = colour.to_yuv.astype(np.float32)
    lo, hi = colour.lo.tolist(), colour.hi.tolist()
    y_plane, u_plane, v_plane = frame._yuv_views()
    sx, sy = frame.subsampling
    for box in boxes:
        y0, y1, x0, x1 = _aligned(box, sx, sy, frame.width, frame.height)
        if y1 <= y0 or x1 <= x0:
            continue
        new = after[y0:y1, x0:x1]
        mask = _changed(new, before[y0:y1, x0:x1])
        changed = mask.astype(bool)
        if not changed.any():
            continue
        yuv = cv2.transform(new.astype(np.float32), to_yuv)
        y_plane[y0:y1, x0:x1][changed] = _to_samples(yuv[:, :, 0][changed], lo[0], hi[0], frame.format)
        block_changed = _blocks(mask, sx, sy) > 0
        chroma = _blocks(np.ascontiguousarray(yuv[:, :, 1:]), sx, sy)[block_changed]
        cy, cx = y0 // sy, x0 // sx
        rows, cols = block_changed.shape
        u_plane[cy : cy + rows, cx : cx + cols][block_changed] = _to_samples(
            chroma[:, 0], lo[1], hi[1], frame.format
        )
        v_plane[cy : cy + rows, cx : cx + cols][block_changed] = _to_samples(
            chroma[:, 1], lo[2], hi[2], frame.format
        )
        written += int(changed.sum())
    return written
