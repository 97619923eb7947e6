"""Gender and age of faces, from InsightFace's ``genderage.onnx`` (in buffalo_l).

The recipe is the reference's (insightface ``model_zoo/attribute.py``): a square crop centred
on the box, 1.5 times its longer side, no rotation; RGB, (x - mean) / std with mean 0, std 1
for the mxnet exports (which normalise inside) and 127.5 / 128 otherwise; the output is
[female score, male score, age / 100].
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import onnx

from .errors import ModelLoadError
from .runtime import RuntimeSettings, create_session
from .types import Face, Frame

FEMALE, MALE = 0, 1
GENDERS = {"female": FEMALE, "male": MALE}


def _input_normalisation(path: Path | str) -> tuple[float, float]:
    """The reference's rule for attribute models: a Sub and a Mul, or a first ``bn_data`` node."""
    nodes = onnx.load(str(path), load_external_data=False).graph.node[:8]
    has_sub = any(n.name.startswith(("Sub", "_minus")) for n in nodes)
    has_mul = any(n.name.startswith(("Mul", "_mul")) for n in nodes)
    if any(n.name == "bn_data" for n in nodes[:3]):
        has_sub = has_mul = True
    return (0.0, 1.0) if has_sub and has_mul else (127.5, 128.0)


def crop_matrix(face: Face, size: int) -> np.ndarray:
    """The affine matrix of the reference's crop: centre of the box, scale size / (1.5 x longer side)."""
    x1, y1, x2, y2 = (float(v) for v in face.bbox)
    scale = size / (max(x2 - x1, y2 - y1) * 1.5)
    cx, cy = (x1 + x2) / 2 * scale, (y1 + y2) / 2 * scale
    return np.array([[scale, 0.0, size / 2 - cx], [0.0, scale, size / 2 - cy]], dtype=np.float64)


class GenderAge:
    """Fills ``face.gender`` (0 female, 1 male) and ``face.age`` (years)."""

    def __init__(self, path: Path | str, runtime: RuntimeSettings) -> None:
        self.session = create_session(path, runtime)
        inp, outputs = self.session.get_inputs()[0], self.session.get_outputs()
        if len(inp.shape) != 4 or len(outputs) != 1 or outputs[0].shape[-1] != 3:
            raise ModelLoadError(
                f"{path} is not a gender-age model: it needs one N x 3 x S x S input and one N x 3 output "
                "(InsightFace genderage.onnx from buffalo_l)."
            )
        self.input_name, self.output_name = inp.name, outputs[0].name
        self.size = int(inp.shape[2])
        self.batchable = not isinstance(inp.shape[0], int)
        self.mean, self.std = _input_normalisation(path)

    def predict(self, frame: Frame, faces: Sequence[Face]) -> None:
        """Fill the gender and age of each face."""
        if not faces:
            return
        crops = [
            cv2.warpAffine(frame, crop_matrix(f, self.size), (self.size, self.size), borderValue=0.0)
            for f in faces
        ]
        blob = cv2.dnn.blobFromImages(
            crops, 1.0 / self.std, (self.size, self.size), (self.mean,) * 3, swapRB=True
        ).astype(np.float32)
        if self.batchable:
            pred = self.session.run([self.output_name], {self.input_name: blob})[0]
        else:
            pred = np.concatenate(
                [self.session.run([self.output_name], {self.input_name: b[None]})[0] for b in blob]
            )
        for face, p in zip(faces, pred.reshape(len(faces), 3), strict=True):
            face.gender = int(np.argmax(p[:2]))
            face.age = int(np.round(p[2] * 100))
