"""Detail transfer without ghosts: add back the target's fine detail only where the swap kept it.

A swapper works on a 128 (or 512) crop, so a large face pastes back softer than the frame. The
frame's own detail finer than the crop (``frame - unwarp(crop)``) restores that sharpness, but
only where the swapped crop still has the target's structure there: skin texture, hair, or
everything when the swapper returns its input. Where the swap drew something else (another
person's eyes, nose, mouth, contour), the target's edges would come back as ghost lines and
carry its identity back in, so the detail is dropped there.

Structure is compared in the crop, on band-passed luma (colour and lighting shifts, which a
real swap makes everywhere, cancel out), relative to the target's own local contrast, so the
same rule holds for a low-contrast baby face and a high-contrast portrait.
"""

from __future__ import annotations

import cv2
import numpy as np

from .types import Frame, Mask, Matrix
from .warp import compose

KEEP_ABOVE = 0.8
"""Share of the target's structure present in the swap above which all of its detail is kept."""
DROP_BELOW = 0.4
"""Share below which none of it is kept; in between the weight rises linearly."""
WORK = 128
"""Crops are compared at this size at most: the weight is smooth, and a 512 crop costs 16x more."""
FLAT = 3.0
"""Band-pass contrast (grey levels) below which a crop counts as flat: skin keeps its texture."""


def _luma(crop: Frame, work: int) -> np.ndarray:
    """The crop's grey levels, area-averaged to ``work`` pixels: by halvings where the sizes allow
    (OpenCV vectorises the 2x area case only: two halvings cost a seventh of one 4x step, within a
    grey level of it)."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    while grey.shape[0] % (2 * work) == 0:
        grey = cv2.resize(grey, (grey.shape[1] // 2, grey.shape[0] // 2), interpolation=cv2.INTER_AREA)
    if grey.shape[0] != work:
        grey = cv2.resize(grey, (work, work), interpolation=cv2.INTER_AREA)
    return grey.astype(np.float32)


def _band(grey: np.ndarray, sigma: float) -> np.ndarray:
    """Structure at the crop's finest scales: the luma minus its blur."""
    return grey - cv2.GaussianBlur(grey, (0, 0), sigma)


def detail_weight(swapped: Frame, original: Frame) -> Mask | None:
    """Per crop pixel, how much of the target's fine detail to add back (0..1).

    How much local structure the two crops share: the windowed product of their band-pass lumas
    over the larger of their energies. It is 1 where the swap kept the target's edges (or both
    are flat, as skin is at the crop's scale) and falls to 0 where either has an edge the other
    lacks (another nose, other eyes, another contour drawn over the target's).
    None means 1 everywhere: the swap left the crop exactly as it was. The weight comes at ``WORK``
    pixels (or the crop's size, if smaller): it is smooth, so ``paste.paste_into`` samples it
    straight into the frame (``crop_to_weight``) rather than enlarging it to the crop first.
    """
    if np.array_equal(swapped, original):
        return None
    size = swapped.shape[0]
    work = min(size, WORK)
    a = _band(_luma(swapped, work), work / 64.0)
    b = _band(_luma(original, work), work / 64.0)
    window = work / 40.0
    flat = FLAT * FLAT
    shared = cv2.GaussianBlur(a * b, (0, 0), window) + flat
    most = cv2.max(cv2.GaussianBlur(a * a, (0, 0), window), cv2.GaussianBlur(b * b, (0, 0), window)) + flat
    weight = (shared / most - DROP_BELOW) * (1.0 / (KEEP_ABOVE - DROP_BELOW))
    np.clip(weight, 0.0, 1.0, out=weight)
    return weight


def crop_to_weight(matrix: Matrix, size: int, weight: Mask) -> Matrix:
    """``matrix`` (from a size x size crop) for a weight of that crop at its own, smaller size:
    the same sample positions as ``cv2.resize`` to the crop and then ``matrix``."""
    k = size / weight.shape[0]
    return compose(matrix, np.array([[k, 0.0, (k - 1.0) / 2.0], [0.0, k, (k - 1.0) / 2.0]]))


def add_detail(fake: Frame, roi: Frame, unwarped: Frame, amount: float, weight: Mask | None) -> Frame:
    """``fake + amount * weight * (roi - unwarped)``, clipped to 0..255 exactly.

    The positive and negative parts of the detail are taken apart so saturating uint8 arithmetic
    clips exactly (one of the two is zero at every pixel); with a weight of 1 and ``amount`` 1 a
    swap that changed nothing gives back ``roi`` byte for byte. The weight is applied in 1/255
    steps (uint8 products are a third faster than float ones; a pixel moves by one grey level
    at most).
    """
    if weight is None:
        gained = cv2.addWeighted(roi, amount, unwarped, -amount, 0.0)
        lost = cv2.addWeighted(unwarped, amount, roi, -amount, 0.0)
    else:
        level = cv2.convertScaleAbs(weight, alpha=255.0 * amount)
        scale = cv2.merge([level] * 3)
        gained = cv2.multiply(cv2.subtract(roi, unwarped), scale, scale=1.0 / 255.0)
        lost = cv2.multiply(cv2.subtract(unwarped, roi), scale, scale=1.0 / 255.0)
    return cv2.subtract(cv2.add(fake, gained), lost)
