"""Affine warps of BGR images, fast: OpenCV's bilinear warp has SIMD for 4 channels, not for 3.

``cv2.warpAffine`` on a 3-channel uint8 image runs about 3x slower than on 4 channels, so a
large warp converts just the source pixels it reads to BGRA, warps that and drops (or keeps)
the fourth channel. The fourth channel also carries the crop's coverage for free: warping an
opaque crop gives, in alpha, the same footprint as warping a white mask alongside it.
"""

from __future__ import annotations

import cv2
import numpy as np

from .types import Frame, Matrix

_DIRECT_NS, _BGRA_NS, _CONVERT_NS, _FIXED_NS = 5.5, 2.3, 0.45, 5000.0
"""Cost per output pixel of each warp, per source pixel converted, and per call (a 2-core EPYC)."""


def source_box(matrix: Matrix, dsize: tuple[int, int], height: int, width: int) -> tuple[int, int, int, int]:
    """The box (y0, y1, x0, x1) of the source that a warp into ``dsize`` reads, clipped; may be empty."""
    w, h = dsize
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[-1, -1, 1], [w, -1, 1], [-1, h, 1], [w, h, 1]], dtype=np.float64) @ inverse.T
    x0 = min(max(int(np.floor(corners[:, 0].min())) - 1, 0), width)
    y0 = min(max(int(np.floor(corners[:, 1].min())) - 1, 0), height)
    x1 = max(min(int(np.ceil(corners[:, 0].max())) + 2, width), x0)
    y1 = max(min(int(np.ceil(corners[:, 1].max())) + 2, height), y0)
    return y0, y1, x0, x1


def shifted(matrix: Matrix, x0: int, y0: int) -> Matrix:
    """The same warp read from a sub-image whose top-left is (x0, y0) in the source."""
    out = np.array(matrix, dtype=np.float64)
    out[:, 2] += out[:, :2] @ np.array([x0, y0], dtype=np.float64)
    return out


def compose(outer: Matrix, inner: Matrix) -> Matrix:
    """The 2 x 3 affine transform that applies ``inner``, then ``outer`` (both 2 x 3)."""
    return np.hstack([outer[:, :2] @ inner[:, :2], outer[:, :2] @ inner[:, 2:] + outer[:, 2:]])


def warp_bgra(image: Frame, matrix: Matrix, dsize: tuple[int, int], alpha: int = 255) -> np.ndarray:
    """Bilinear warp of a BGR (or BGRA) uint8 image to BGRA, zeros outside; alpha is the coverage."""
    return _warp_region(image, matrix, dsize, source_box(matrix, dsize, *image.shape[:2]), alpha)


def _warp_region(
    image: Frame, matrix: Matrix, dsize: tuple[int, int], box: tuple[int, int, int, int], alpha: int = 255
) -> np.ndarray:
    y0, y1, x0, x1 = box
    if y1 <= y0 or x1 <= x0:
        return np.zeros((dsize[1], dsize[0], 4), dtype=np.uint8)
    region = image[y0:y1, x0:x1]
    if region.shape[2] == 3:
        region = cv2.cvtColor(region, cv2.COLOR_BGR2BGRA)
        if alpha != 255:
            region[..., 3] = alpha
    return cv2.warpAffine(region, shifted(matrix, x0, y0), dsize, borderValue=0.0)


def warp_bgr(image: Frame, matrix: Matrix, dsize: tuple[int, int]) -> Frame:
    """``cv2.warpAffine(image, matrix, dsize, borderValue=0)`` for BGR uint8, through BGRA when cheaper.

    Equal to OpenCV's own warp within one grey level (the shifted origin rounds a few sample
    positions the other way).
    """
    box = source_box(matrix, dsize, *image.shape[:2])
    out_area = dsize[0] * dsize[1]
    src_area = (box[1] - box[0]) * (box[3] - box[2])
    if _DIRECT_NS * out_area <= _BGRA_NS * out_area + _CONVERT_NS * src_area + _FIXED_NS:
        return cv2.warpAffine(image, matrix, dsize, borderValue=0.0)
    return cv2.cvtColor(_warp_region(image, matrix, dsize, box), cv2.COLOR_BGRA2BGR)
