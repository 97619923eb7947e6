"""The reference implementation (PyPI ``insightface``), driven the way its own examples drive it.

A test-only oracle: the same inputs through it and through our engine must agree.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

insightface = pytest.importorskip(
    "insightface", reason="the reference implementation (pip install insightface)"
)
from insightface.app.common import Face as RefFace  # noqa: E402
from insightface.model_zoo.arcface_onnx import ArcFaceONNX  # noqa: E402
from insightface.model_zoo.inswapper import INSwapper  # noqa: E402
from insightface.model_zoo.scrfd import SCRFD  # noqa: E402

warnings.filterwarnings("ignore", category=FutureWarning, module="insightface")


@dataclass
class Reference:
    detector: SCRFD
    recognizer: ArcFaceONNX
    swapper: INSwapper

    @classmethod
    def load(cls, detector: Path, recognizer: Path, swapper: Path) -> Reference:
        det = SCRFD(model_file=str(detector))
        det.prepare(-1, input_size=(640, 640), det_thresh=0.5, nms_thresh=0.4)
        return cls(det, ArcFaceONNX(model_file=str(recognizer)), INSwapper(model_file=str(swapper)))

    def faces(self, image: np.ndarray) -> list[RefFace]:
        boxes, kps = self.detector.detect(image, input_size=(640, 640))
        return [RefFace(bbox=b[:4], kps=k, det_score=b[4]) for b, k in zip(boxes, kps, strict=True)]

    def source(self, image: np.ndarray) -> RefFace:
        face = max(self.faces(image), key=lambda f: (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]))
        self.recognizer.get(image, face)
        return face

    def latent(self, source: RefFace) -> np.ndarray:
        latent = source.normed_embedding.reshape(1, -1) @ self.swapper.emap
        return latent / np.linalg.norm(latent)

    def swap(self, image: np.ndarray, source: RefFace) -> np.ndarray:
        result = image.copy()
        for face in self.faces(image):
            result = self.swapper.get(result, face, source, paste_back=True)
        return result
