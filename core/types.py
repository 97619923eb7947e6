"""Type aliases and the face record shared by every stage."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]
"""An image as OpenCV holds it: H x W x 3, BGR, uint8."""
Mask = npt.NDArray[np.float32]
"""A blend weight per pixel, H x W, 0..1."""
BBox = npt.NDArray[np.float32]
"""x1, y1, x2, y2 in image pixels."""
Landmarks = npt.NDArray[np.float32]
"""5 x 2 points in image pixels: left eye, right eye, nose, left and right mouth corner (image sides)."""
Embedding = npt.NDArray[np.float32]
"""A 512-d ArcFace identity vector, L2-normalised."""
Matrix = npt.NDArray[np.float64]
"""A 2 x 3 affine transform."""


@dataclass
class Face:
    """One detected face; ``embedding`` is filled only when a stage needs the identity."""

    bbox: BBox
    kps: Landmarks
    score: float
    embedding: Embedding | None = None
    gender: int | None = None
    """0 female, 1 male; filled only when a selection asks for it (core/attributes.py)."""
    age: int | None = None

    @property
    def area(self) -> float:
        return float(max(0.0, self.bbox[2] - self.bbox[0]) * max(0.0, self.bbox[3] - self.bbox[1]))

    @property
    def center_x(self) -> float:
        return float(self.bbox[0] + self.bbox[2]) / 2.0

    @property
    def center_y(self) -> float:
        return float(self.bbox[1] + self.bbox[3]) / 2.0
