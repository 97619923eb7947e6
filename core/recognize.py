"""ArcFace identity embeddings: what inswapper takes as the source face."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import onnx

from .align import warp_face
from .modelinfo import ModelKind, expect_kind
from .runtime import RuntimeSettings, create_session
from .types import Embedding, Face, Frame


def _input_normalisation(path: Path | str) -> tuple[float, float]:
    """The reference's rule: mxnet exports (Sub and Mul among the first nodes) normalise inside."""
    graph = onnx.load(str(path), load_external_data=False).graph
    names = [node.name for node in graph.node[:8]]
    has_sub = any(n.startswith(("Sub", "_minus")) for n in names)
    has_mul = any(n.startswith(("Mul", "_mul")) for n in names)
    return (0.0, 1.0) if has_sub and has_mul else (127.5, 127.5)


def l2_normalise(vector: np.ndarray) -> Embedding:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)


def cosine(a: Embedding, b: Embedding) -> float:
    return float(np.dot(l2_normalise(a.ravel()), l2_normalise(b.ravel())))


class Recognizer:
    """Aligned crop (112 family), RGB, (x - mean) / std, 512-d output, L2-normalised."""

    def __init__(self, path: Path | str, runtime: RuntimeSettings) -> None:
        self.session = create_session(path, runtime)
        expect_kind(self.session, path, ModelKind.RECOGNIZER, "recognizer")
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.size = int(inp.shape[2])
        self.batchable = not isinstance(inp.shape[0], int)
        self.dtype = np.float16 if "float16" in inp.type else np.float32
        self.output_name = self.session.get_outputs()[0].name
        self.mean, self.std = _input_normalisation(path)

    def embed_crops(self, crops: Sequence[Frame]) -> np.ndarray:
        """N aligned BGR crops -> N x 512 normalised embeddings."""
        blob = cv2.dnn.blobFromImages(
            list(crops), 1.0 / self.std, (self.size, self.size), (self.mean,) * 3, swapRB=True
        ).astype(self.dtype, copy=False)
        if self.batchable:
            raw = self.session.run([self.output_name], {self.input_name: blob})[0]
        else:
            raw = np.concatenate(
                [self.session.run([self.output_name], {self.input_name: b[None]})[0] for b in blob]
            )
        raw = raw.astype(np.float32).reshape(len(crops), -1)
        return np.stack([l2_normalise(r) for r in raw])

    def embed(self, frame: Frame, faces: Sequence[Face]) -> list[Embedding]:
        """Fill and return each face's embedding."""
        if not faces:
            return []
        crops = [warp_face(frame, f.kps, self.size)[0] for f in faces]
        embeddings = self.embed_crops(crops)
        for face, emb in zip(faces, embeddings, strict=True):
            face.embedding = emb
        return list(embeddings)
