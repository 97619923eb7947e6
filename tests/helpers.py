"""Small helpers the tests share."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return image


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def ghost_measure(
    target: np.ndarray, swapped: np.ndarray, plain: np.ndarray, mask: np.ndarray, crops
) -> float:
    """How much of the target's detail finer than the swapper's crop reappears inside the swapped face.

    ``crops`` are (size, matrix) of the faces swapped; ``plain`` is the same swap at ``detail=0``
    (the reference recipe, which adds none). The target's fine detail is ``target - unwarp(crop)``;
    the measure projects what the swap added over ``plain`` onto it, inside the mask (> 0.5), and
    divides by what a full transfer adds (``mask * detail``): 1 means every ghost line of the
    target is back, 0 none.
    """
    frame = target.astype(np.float32)
    fine = np.zeros_like(frame)
    height, width = target.shape[:2]
    for size, matrix in crops:
        crop = cv2.warpAffine(target, matrix, (size, size))
        inverse = cv2.invertAffineTransform(matrix)
        unwarped = cv2.warpAffine(crop, inverse, (width, height)).astype(np.float32)
        inside = cv2.warpAffine(np.ones((size, size), np.float32), inverse, (width, height)) > 0.999
        fine[inside] = (frame - unwarped)[inside]
    weight = np.where(mask > 0.5, mask, 0.0)[..., None]
    added = (swapped.astype(np.float32) - plain.astype(np.float32)) * (mask[..., None] > 0.5)
    return float((added * fine).sum() / (weight * fine * fine).sum())
