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

from .detail import add_detail, crop_to_weight, detail_weight
from .types import Frame, Mask, Matrix
from .warp import warp_bgr, warp_bgra

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
def _blur_kernels(k: int) -> tuple[np.ndarray, np.ndarray]:
    """GaussianBlur's (2k+1) kernel (sigma from the size), the second one scaled to give 0..1."""
    kernel = cv2.getGaussianKernel(2 * k + 1, 0, cv2.CV_32F)
    return kernel, kernel * np.float32(1.0 / 255.0)


Box = tuple[int, int, int, int]
"""(y0, y1, x0, x1) in a region's pixels."""


@dataclass(frozen=True)
class Footprint:
    """Where a warped crop is opaque for sure: a square of ``half`` around (``cx``, ``cy``), in
    the region's pixels, turned by the warp's angle (``spread`` = |cos| + |sin|)."""

    cx: float
    cy: float
    half: float
    spread: float

    @classmethod
    def of(cls, local: Matrix, size: int) -> Footprint:
        """The footprint of a size x size crop pasted with ``local`` (crop -> region)."""
        scale = float(np.sqrt(abs(np.linalg.det(local[:, :2]))))
        centre = local @ np.array([(size - 1) / 2.0, (size - 1) / 2.0, 1.0])
        spread = (abs(local[0, 0]) + abs(local[1, 0])) / max(scale, 1e-12)
        # Pixels 0 .. size-1 of the crop are fully opaque after the bilinear warp.
        return cls(float(centre[0]), float(centre[1]), scale * (size - 1) / 2.0, spread)

    def solid(self, reach: int, height: int, width: int) -> Box | None:
        """The largest centred upright box whose pixels are ``reach`` or more inside, clipped."""
        h = self.half / self.spread - reach - 1  # a pixel's margin for the warp's 1/32 grid
        if h <= 0:
            return None
        y0, y1 = max(int(np.ceil(self.cy - h)), 0), min(int(np.floor(self.cy + h)) + 1, height)
        x0, x1 = max(int(np.ceil(self.cx - h)), 0), min(int(np.floor(self.cx + h)) + 1, width)
        return (y0, y1, x0, x1) if y1 > y0 and x1 > x0 else None


def blend_mask(white: np.ndarray, footprint: Footprint | None = None) -> tuple[Mask, Box | None]:
    """The reference mask: >20 -> 255, erode by max(size//10, 10), blur by max(size//20, 5), as 0..1.

    ``white`` is the crop's warped coverage, 0..255, as float32 or (cheaper, same mask within
    rounding) uint8: the blur reads the eroded bytes straight into float32.
    With the crop's ``footprint`` (coverage that is the whole crop) the mask is 1 wherever the
    erosion and the blur see only the opaque square; that box is returned and not blurred, and
    the blur runs on the four bands around it only (the same values: each band is blurred with
    all the rows and columns its kernel reads; ``_blurred_ends``).
    """
    _, binary = cv2.threshold(white, 20, 255, cv2.THRESH_BINARY)
    _, _, w, h = cv2.boundingRect(binary if binary.dtype == np.uint8 else binary.astype(np.uint8))
    if w == 0:
        return np.zeros(white.shape, dtype=np.float32), None
    # Values <= 20 stay as they are, as in the reference: they matter where the crop's edge
    # runs along the frame's border, which erodes as if it were 255.
    white = cv2.max(white, binary)
    mask_size = int(np.sqrt((h - 1) * (w - 1)))
    k = max(mask_size // 10, 10)
    eroded = cv2.erode(white, np.ones((k, k), np.uint8), iterations=1)
    blur = max(mask_size // 20, 5)
    kx, ky = _blur_kernels(blur)
    solid = None if footprint is None else footprint.solid(k // 2 + blur, *white.shape[:2])
    if solid is None:
        return cv2.sepFilter2D(eroded, cv2.CV_32F, kx, ky), None
    mask = np.empty(white.shape, dtype=np.float32)
    y0, y1, x0, x1 = solid
    mask[y0:y1, x0:x1] = 1.0
    height, width = white.shape[:2]
    if y0 > 0 or y1 < height:
        mask[:y0], mask[y1:] = _blurred_ends(eroded, y0, y1, kx, ky)
    if x0 > 0 or x1 < width:
        wy0, wy1 = max(y0 - blur, 0), min(y1 + blur, height)
        left, right = _blurred_ends(eroded[wy0:wy1].T, x0, x1, kx, ky)
        mask[y0:y1, :x0] = left[:, y0 - wy0 : y1 - wy0].T
        mask[y0:y1, x1:] = right[:, y0 - wy0 : y1 - wy0].T
    return mask, solid


def _blurred_ends(image: np.ndarray, a: int, b: int, kx: np.ndarray, ky: np.ndarray) -> tuple[Mask, Mask]:
    """Rows ``:a`` and ``b:`` of ``image`` blurred as in the whole image, in one filter call.

    The two ends are stacked, each with the rows its kernel reads beyond it, so no kept row
    reads the other end, and the image's own edges stay where the border rule applies. One
    call on a few long rows costs OpenCV less than one per band, and the caller passes the
    left and right bands transposed: the Gaussian is the same along both axes.
    """
    n = image.shape[0]
    reach = kx.shape[0] // 2
    top = min(a + reach, n) if a > 0 else 0
    bottom = max(b - reach, 0) if b < n else n
    if top >= bottom:  # the ends would read each other's rows: blur the whole image
        out = cv2.sepFilter2D(np.ascontiguousarray(image), cv2.CV_32F, kx, ky)
        return out[:a], out[b:]
    out = cv2.sepFilter2D(np.concatenate((image[:top], image[bottom:])), cv2.CV_32F, kx, ky)
    return out[:a], out[top + b - bottom :]


def _bands(solid: Box, height: int, width: int) -> list[Box]:
    """The parts of a height x width region around ``solid``: top, bottom, left, right; non-empty."""
    y0, y1, x0, x1 = solid
    bands = [(0, y0, 0, width), (y1, height, 0, width), (y0, y1, 0, x0), (y0, y1, x1, width)]
    return [b for b in bands if b[1] > b[0] and b[3] > b[2]]


def crop_coverage(matrix: Matrix, size: int, height: int, width: int) -> np.ndarray:
    """Where a size x size crop taken with ``matrix`` from a height x width frame saw the frame.

    Beyond the frame's edge the swapper saw black and made something of it; that part must not
    be pasted when the crop is used again on a frame where the face has moved.
    """
    inside = np.full((height, width), 255, dtype=np.uint8)
    return cv2.warpAffine(inside, matrix, (size, size), borderValue=0)


def paste_into(
    frame: Frame,
    swapped: Frame,
    matrix: Matrix,
    blend: float = 1.0,
    detail: float = 0.0,
    original: Frame | None = None,
    crop_mask: Mask | None = None,
    coverage: np.ndarray | None = None,
    weight: Mask | bool | None = True,
) -> PasteRegion | None:
    """Blend ``swapped`` (aligned with ``matrix``) into ``frame`` in place; return what changed.

    ``blend`` scales the mask: 1 is a full swap, 0 leaves the frame as it was.
    ``detail`` adds back, in proportion, the frame's fine detail that the crop's resolution could
    not carry: ``frame - unwarp(original)``, where ``original`` is the aligned crop the swapper was
    given, weighted by where the swap kept the target's structure (``detail.detail_weight``). At 0
    this is exactly the reference recipe; at 1 a swapper that returns its input gives back the
    frame unchanged, and a real swap keeps the target's sharpness in skin and hair without ghosts
    of the target's features.
    ``crop_mask`` (S x S, 0..1, in the crop's space: box, occlusion, region and mouth masks) is
    carried through the same inverse warp and multiplied into the blend mask.
    ``weight`` is ``detail.detail_weight(swapped, original)`` when already known (a crop pasted
    again on later frames); True computes it.
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
    # ``coverage`` (crop-sized, 0..255) limits the paste to the part of a crop made on another
    # frame that held pixels of that frame (``crop_coverage``); by default all of it. The warp's
    # alpha is the crop's coverage: the reference's warped white square.
    source = swapped if coverage is None else np.dstack((swapped, coverage))
    warped = warp_bgra(source, local, dsize)
    footprint = Footprint.of(local, size) if coverage is None else None
    mask, solid = blend_mask(cv2.extractChannel(warped, 3), footprint)
    if crop_mask is not None:
        mask *= cv2.warpAffine(crop_mask, local, dsize, borderValue=0.0)
        solid = None
    if blend != 1.0:
        mask *= float(np.clip(blend, 0.0, 1.0))
        solid = None
    fake = cv2.cvtColor(warped, cv2.COLOR_BGRA2BGR)
    if detail > 0.0 and original is not None:
        unwarped = warp_bgr(original, local, dsize)
        if weight is True:
            weight = detail_weight(swapped, original)
        if weight is not None:
            weight = cv2.warpAffine(weight, crop_to_weight(local, size, weight), dsize, borderValue=0.0)
        fake = add_detail(fake, roi, unwarped, float(detail), weight)
    if solid is None:
        roi[...] = cv2.blendLinear(fake, roi, mask, 1.0 - mask)
    else:  # the mask is 1 in ``solid``: the swap's pixels as they are, blended around it
        sy0, sy1, sx0, sx1 = solid
        roi[sy0:sy1, sx0:sx1] = fake[sy0:sy1, sx0:sx1]
        for by0, by1, bx0, bx1 in _bands(solid, *roi.shape[:2]):
            weights = mask[by0:by1, bx0:bx1]
            roi[by0:by1, bx0:bx1] = cv2.blendLinear(
                fake[by0:by1, bx0:bx1], roi[by0:by1, bx0:bx1], weights, 1.0 - weights
            )
    return PasteRegion(y0, y1, x0, x1, mask)
