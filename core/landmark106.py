"""106-point landmarks (InsightFace ``2d106det``, in buffalo_l), for the mouth mask.

The pre- and post-processing are InsightFace's ``model_zoo/landmark.py``: the face box's centre,
scaled so that 1.5 x its longer side fills the input, no rotation; RGB; the mean and standard
deviation are (0, 1) when the graph starts with its own Sub and Mul nodes, else (127.5, 128);
the output is (x, y) pairs in -1..1 of the input, the last 106 of them.
"""

from __future__ import annotations

import cv2
import numpy as np
import onnx

from .mask_model import MaskModelFile
from .types import BBox, Frame

POINTS = 106
MOUTH = slice(52, 72)
"""The 20 mouth points of the 2d106 layout (lips, outer and inner contours)."""


def normalisation(model: MaskModelFile) -> tuple[float, float]:
    """InsightFace's rule: a graph that subtracts and multiplies in its first nodes takes raw pixels."""
    graph = onnx.load(str(model.path), load_external_data=False).graph
    sub = mul = False
    for i, node in enumerate(graph.node[:8]):
        sub |= node.name.startswith(("Sub", "_minus"))
        mul |= node.name.startswith(("Mul", "_mul"))
        if i < 3 and node.name == "bn_data":
            sub = mul = True
    return (0.0, 1.0) if sub and mul else (127.5, 128.0)


class Landmarker106:
    """Frame + face boxes -> 106 x 2 points in frame pixels per face."""

    def __init__(self, model: MaskModelFile) -> None:
        self.model = model
        size = model.input.dim(2)
        if model.input.dim(1) != 3 or size is None or size != model.input.dim(3):
            raise model.wrong("its input is not NCHW, 3 channels, square and fixed")
        self.size = size
        out = model.signature.outputs[0]
        width = out.dim(out.rank - 1)
        if out.rank != 2 or (width is not None and width < 2 * POINTS):
            raise model.wrong(f"its output does not hold {POINTS} (x, y) points")
        self.mean, self.std = normalisation(model)

    def matrix(self, bbox: BBox) -> np.ndarray:
        """InsightFace's crop: the box centre to the input's centre, 1.5 x the longer side across."""
        w, h = float(bbox[2] - bbox[0]), float(bbox[3] - bbox[1])
        cx, cy = float(bbox[2] + bbox[0]) / 2, float(bbox[3] + bbox[1]) / 2
        scale = self.size / (max(w, h) * 1.5)
        half = self.size / 2
        return np.array([[scale, 0.0, half - cx * scale], [0.0, scale, half - cy * scale]])

    def landmarks(self, frame: Frame, boxes: list[BBox]) -> list[np.ndarray]:
        s = self.size
        matrices = [self.matrix(b) for b in boxes]
        blob = np.empty((len(boxes), 3, s, s), dtype=np.float32)
        for i, m in enumerate(matrices):
            crop = cv2.warpAffine(frame, m, (s, s), borderValue=0.0)
            rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32)
            blob[i] = ((rgb - self.mean) / self.std).transpose(2, 0, 1)
        pred = self.model.run(blob).astype(np.float32).reshape(len(boxes), -1, 2)[:, -POINTS:]
        points = []
        for p, m in zip(pred, matrices, strict=True):
            p = (p + 1.0) * (s // 2)
            inverse = cv2.invertAffineTransform(m)
            points.append(p @ inverse[:, :2].T + inverse[:, 2])
        return points
