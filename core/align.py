"""ArcFace alignment: the similarity transform that maps 5 landmarks onto the template."""

from __future__ import annotations

import numpy as np

from .types import Frame, Landmarks, Matrix
from .warp import warp_bgr

ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)
"""Landmark positions in a 112 x 112 ArcFace crop."""


def template(size: int) -> Landmarks:
    """The template for a crop of ``size``: 112 family scales, 128 family scales and shifts x."""
    if size % 112 == 0:
        return ARCFACE_TEMPLATE * (size / 112.0)
    if size % 128 == 0:
        points = ARCFACE_TEMPLATE * (size / 128.0)
        points[:, 0] += 8.0 * size / 128.0
        return points
    raise ValueError(f"Crop size {size} is neither a multiple of 112 nor of 128.")


def umeyama(src: np.ndarray, dst: np.ndarray) -> Matrix:
    """Least-squares similarity transform (rotation, uniform scale, translation) from src to dst.

    Umeyama's SVD solution, in the closed form it has in 2-D: with centred points as complex
    numbers the best scaled rotation is z = sum(conj(src) * dst) / sum(|src|^2) (no SVD, a tenth
    of the time: it runs for every face of every frame).
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean = src.mean(axis=0)
    dst_mean = dst.mean(axis=0)
    x, y = (src - src_mean).T
    u, v = (dst - dst_mean).T
    src_var = float(x @ x + y @ y)
    a, b = (float(x @ u + y @ v) / src_var, float(x @ v - y @ u) / src_var) if src_var > 0 else (1.0, 0.0)
    matrix = np.empty((2, 3), dtype=np.float64)
    matrix[:, :2] = ((a, -b), (b, a))
    matrix[:, 2] = dst_mean - matrix[:, :2] @ src_mean
    return matrix


def estimate_norm(kps: Landmarks, size: int) -> Matrix:
    """The 2 x 3 matrix that takes frame pixels to the aligned ``size`` x ``size`` crop."""
    return umeyama(kps, template(size))


def warp_face(frame: Frame, kps: Landmarks, size: int) -> tuple[Frame, Matrix]:
    """The aligned crop and the matrix that made it (needed to paste the swap back)."""
    matrix = estimate_norm(kps, size)
    crop = warp_bgr(frame, matrix, (size, size))
    return crop, matrix
