"""Paste a swapped crop back into the frame: the reference recipe, computed only near the face.

The reference warps the crop and a white mask over the whole frame, erodes and blurs the mask
there and blends every pixel. All of that is zero away from the face, so doing it inside the
face's bounding box (plus a margin wider than the blur can reach) gives the same pixels at a
fraction of the cost, and leaves every byte outside the box untouched.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from .types import Frame, Mask, Matrix

_MARGIN = 2
"""Frame pixels around the warped crop's box, so the blur's edge always sees zeros."""


@dataclass(frozen=True)
class PasteRegion:
    """Where a paste changed the frame, and its blend weights there."""

    y0: int
    y1: int
    x0: int
    x1: int
    mask: Mask

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


def crop_box(inverse: Matrix, size: int, height: int, width: int) -> tuple[int, int, int, int] | None:
    """The frame box (y0, y1, x0, x1) a size x size crop lands in, clipped; None if off-frame."""
    # Bilinear sampling reaches one crop pixel past the edges: -1 .. size in crop coordinates.
    lo, hi = -1, size
    corners = np.array([[lo, lo, 1], [hi, lo, 1], [lo, hi, 1], [hi, hi, 1]], dtype=np.float64)
    pts = corners @ inverse.T
    x0 = max(int(np.floor(pts[:, 0].min())) - _MARGIN, 0)
    y0 = max(int(np.floor(pts[:, 1].min())) - _MARGIN, 0)
    x1 = min(int(np.ceil(pts[:, 0].max())) + _MARGIN, width)
    y1 = min(int(np.ceil(pts[:, 1].max())) + _MARGIN, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return y0, y1, x0, x1


@functools.cache
def _white(size: int) -> np.ndarray:
    white = np.full((size, size), 255, dtype=np.float32)
    white.flags.writeable = False
    return white


def blend_mask(white: np.ndarray) -> Mask:
    """The reference mask: >20 -> 255, erode by max(size//10, 10), blur by max(size//20, 5), as 0..1."""
    _, binary = cv2.threshold(white, 20, 255, cv2.THRESH_BINARY)
    _, _, w, h = cv2.boundingRect(binary.astype(np.uint8))
    if w == 0:
        return np.zeros(white.shape, dtype=np.float32)
    # Values <= 20 stay as they are, as in the reference: they matter where the crop's edge
    # runs along the frame's border, which erodes as if it were 255.
    white = cv2.max(white, binary)
    mask_size = int(np.sqrt((h - 1) * (w - 1)))
    k = max(mask_size // 10, 10)
    eroded = cv2.erode(white, np.ones((k, k), np.uint8), iterations=1)
    k = max(mask_size // 20, 5)
    mask = cv2.GaussianBlur(eroded, (2 * k + 1, 2 * k + 1), 0)
    mask *= 1.0 / 255.0
    return mask


def crop_coverage(matrix: Matrix, size: int, height: int, width: int) -> np.ndarray:
    """Where a size x size crop taken with ``matrix`` from a height x width frame saw the frame.

    Beyond the frame's edge the swapper saw black and made something of it; that part must not
    be pasted when the crop is used again on a frame where the face has moved.
    """
    inside = np.full((height, width), 255, dtype=np.uint8)
    return cv2.warpAffine(inside, matrix, (size, size), borderValue=0).astype(np.float32)


def paste_into(
    frame: Frame,
    swapped: Frame,
    matrix: Matrix,
    blend: float = 1.0,
    detail: float = 0.0,
    original: Frame | None = None,
    coverage: np.ndarray | None = None,
) -> PasteRegion | None:
    """Blend ``swapped`` (aligned with ``matrix``) into ``frame`` in place; return what changed.

    ``blend`` scales the mask: 1 is a full swap, 0 leaves the frame as it was.
    ``detail`` adds back, in proportion, the frame's fine detail that the crop's resolution could
    not carry: ``frame - unwarp(original)``, where ``original`` is the aligned crop the swapper was
    given. At 0 this is exactly the reference recipe; at 1 a swapper that returns its input gives
    back the frame unchanged, and a real swap keeps the target's sharpness above the crop's
    resolution (a 128 crop of a 500 px face otherwise pastes back blurred).
    ``coverage`` (crop-sized, float32 0..255) limits the paste to part of the crop: where a crop
    made on another frame held pixels of that frame (see ``crop_coverage``).
    """
    height, width = frame.shape[:2]
    size = swapped.shape[0]
    inverse = cv2.invertAffineTransform(matrix)
    box = crop_box(inverse, size, height, width)
    if box is None:
        return None
    y0, y1, x0, x1 = box
    local = inverse.copy()
    local[:, 2] -= (x0, y0)
    dsize = (x1 - x0, y1 - y0)
    roi = frame[y0:y1, x0:x1]
    white = cv2.warpAffine(_white(size) if coverage is None else coverage, local, dsize, borderValue=0.0)
    mask = blend_mask(white)
    if blend != 1.0:
        mask *= float(np.clip(blend, 0.0, 1.0))
    fake = cv2.warpAffine(swapped, local, dsize, borderValue=0.0)
    if detail > 0.0 and original is not None:
        # fake + detail * (roi - unwarp(original)): the swap plus the frame's detail that the crop
        # could not hold, clipped to 0..255. The positive and negative parts are taken apart so
        # saturating uint8 arithmetic clips exactly (one of the two is zero at every pixel).
        unwarped = cv2.warpAffine(original, local, dsize, borderValue=0.0)
        d = float(detail)
        gained = cv2.addWeighted(roi, d, unwarped, -d, 0.0)
        lost = cv2.addWeighted(unwarped, d, roi, -d, 0.0)
        fake = cv2.subtract(cv2.add(fake, gained), lost)
    roi[...] = cv2.blendLinear(fake, roi, mask, 1.0 - mask)
    return PasteRegion(y0, y1, x0, x1, mask)
