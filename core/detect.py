"""Face detection: SCRFD (InsightFace) and YuNet (OpenCV Zoo), decoded in numpy."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import onnxruntime as ort

from . import planes
from .errors import ModelLoadError
from .modelinfo import DETECTORS, ModelKind, expect_kind
from .runtime import RuntimeSettings, create_session
from .types import Face, Frame


@dataclass(frozen=True)
class DetectorSettings:
    """Defaults equal the reference (insightface): 640 x 640, score 0.5, SCRFD NMS 0.4."""

    size: int = 640
    threshold: float = 0.5
    nms: float | None = None
    """IoU above which the weaker of two boxes is dropped; None takes the model's own (0.4 / 0.3)."""
    max_faces: int = 0
    """Keep only the largest N faces; 0 keeps all."""


class Detector(Protocol):
    kind: ModelKind
    session: ort.InferenceSession
    settings: DetectorSettings

    def detect(self, frame: Frame) -> list[Face]: ...


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Greedy NMS in the reference's form (pixel areas with +1), strongest first."""
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size > 0:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        overlap = inter / (areas[i] + areas[rest] - inter)
        order = rest[overlap <= iou]
    return keep


def _to_faces(boxes: np.ndarray, kps: np.ndarray, scores: np.ndarray, max_faces: int) -> list[Face]:
    faces = [
        Face(bbox=boxes[i].astype(np.float32), kps=kps[i].astype(np.float32), score=float(scores[i]))
        for i in range(len(scores))
    ]
    if max_faces > 0 and len(faces) > max_faces:
        faces = sorted(faces, key=lambda f: f.area, reverse=True)[:max_faces]
    return faces


def shrink(frame: Frame, width: int, height: int) -> Frame:
    """``cv2.resize(frame, (width, height))``, bilinear, as the reference letterboxes.

    By an odd whole factor (1080p to 640 x 360 is 3) each bilinear sample falls on a source pixel's
    centre, so picking those pixels gives the same bytes at half the cost.
    """
    h, w = frame.shape[:2]
    factor = w // width
    if factor > 1 and factor % 2 == 1 and w == width * factor and h == height * factor:
        return cv2.resize(frame, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    return cv2.resize(frame, (width, height))


class ScrfdDetector:
    """SCRFD: letterboxed at the top-left into size x size, RGB, (x - 127.5) / 128."""

    kind = ModelKind.SCRFD

    def __init__(self, session: ort.InferenceSession, settings: DetectorSettings) -> None:
        self.session = session
        self.settings = settings
        self.input_name = session.get_inputs()[0].name
        outputs = session.get_outputs()
        self.output_names = [o.name for o in outputs]
        count = len(outputs)
        self.batched = len(outputs[0].shape) == 3
        self.fmc = 3 if count in (6, 9) else 5
        self.strides = (8, 16, 32) if self.fmc == 3 else (8, 16, 32, 64, 128)
        self.anchors = 2 if self.fmc == 3 else 1
        self.use_kps = count in (9, 15)
        fixed = session.get_inputs()[0].shape[2:4]
        self.input_size = (
            tuple(fixed[::-1])
            if all(isinstance(v, int) for v in fixed)
            else (
                settings.size,
                settings.size,
            )
        )
        self.nms_iou = settings.nms if settings.nms is not None else 0.4
        self._centers: dict[tuple[int, int, int], np.ndarray] = {}
        self._buffers = threading.local()

    def _blob(self, in_h: int, in_w: int, new_h: int, new_w: int) -> np.ndarray:
        """This thread's input buffer; the letterbox padding ((0 - 127.5) / 128) is kept from last time."""
        cached = getattr(self._buffers, "blob", None)
        if cached is None or cached[1] != (new_h, new_w):
            blob = np.full((1, 3, in_h, in_w), -127.5 / 128.0, dtype=np.float32)
            self._buffers.blob = (blob, (new_h, new_w))
            return blob
        return cached[0]

    def _anchor_centers(self, height: int, width: int, stride: int) -> np.ndarray:
        key = (height, width, stride)
        if key not in self._centers:
            grid = np.stack(np.mgrid[:height, :width][::-1], axis=-1).astype(np.float32)
            centers = (grid * stride).reshape(-1, 2)
            if self.anchors > 1:
                centers = np.repeat(centers, self.anchors, axis=0)
            self._centers[key] = centers
        return self._centers[key]

    def detect(self, frame: Frame) -> list[Face]:
        in_w, in_h = self.input_size
        img_h, img_w = frame.shape[:2]
        if img_h / img_w > in_h / in_w:
            new_h = in_h
            new_w = int(new_h / (img_h / img_w))
        else:
            new_w = in_w
            new_h = int(new_w * (img_h / img_w))
        new_w, new_h = max(new_w, 1), max(new_h, 1)
        scale = new_h / img_h
        blob = self._blob(in_h, in_w, new_h, new_w)
        b, g, r = planes.split(shrink(frame, new_w, new_h))
        region = blob[0, :, :new_h, :new_w]
        region[0], region[1], region[2] = r, g, b
        region -= 127.5
        region *= 1.0 / 128.0
        outs = self.session.run(self.output_names, {self.input_name: blob})
        threshold = self.settings.threshold
        all_scores, all_boxes, all_kps = [], [], []
        for idx, stride in enumerate(self.strides):

            def out(k: int, i: int = idx) -> np.ndarray:
                value = outs[i + k * self.fmc]
                return value[0] if self.batched else value

            scores = out(0).reshape(-1)
            keep = np.nonzero(scores >= threshold)[0]
            if keep.size == 0:
                continue
            centers = self._anchor_centers(in_h // stride, in_w // stride, stride)[keep]
            dist = out(1)[keep] * stride
            boxes = np.concatenate([centers - dist[:, :2], centers + dist[:, 2:4]], axis=1)
            all_scores.append(scores[keep])
            all_boxes.append(boxes)
            all_kps.append(out(2)[keep].reshape(-1, 5, 2) * stride + centers[:, None, :])
        if not all_scores:
            return []
        scores = np.concatenate(all_scores)
        boxes = np.concatenate(all_boxes) / scale
        kps = np.concatenate(all_kps) / scale
        order = np.argsort(-scores, kind="stable")
        scores, boxes, kps = scores[order], boxes[order], kps[order]
        keep = nms(boxes, scores, self.nms_iou)
        return _to_faces(boxes[keep], kps[keep], scores[keep], self.settings.max_faces)


class YunetDetector:
    """YuNet: BGR 0..255 unnormalised, H and W padded to multiples of 32, one anchor per cell."""

    kind = ModelKind.YUNET
    strides = (8, 16, 32)

    def __init__(self, session: ort.InferenceSession, settings: DetectorSettings) -> None:
        self.session = session
        self.settings = settings
        self.input_name = session.get_inputs()[0].name
        self.nms_iou = settings.nms if settings.nms is not None else 0.3
        self.output_names = [f"{part}_{s}" for s in self.strides for part in ("cls", "obj", "bbox", "kps")]

    def detect(self, frame: Frame) -> list[Face]:
        img_h, img_w = frame.shape[:2]
        scale = self.settings.size / max(img_h, img_w)
        new_w, new_h = max(1, round(img_w * scale)), max(1, round(img_h * scale))
        resized = shrink(frame, new_w, new_h) if (new_w, new_h) != (img_w, img_h) else frame
        faces = self.detect_native(resized)
        sx, sy = img_w / new_w, img_h / new_h
        for f in faces:
            f.bbox *= np.array([sx, sy, sx, sy], dtype=np.float32)
            f.kps *= np.array([sx, sy], dtype=np.float32)
        return faces

    def detect_native(self, frame: Frame) -> list[Face]:
        """Detect at the frame's own size (what cv2.FaceDetectorYN does)."""
        h, w = frame.shape[:2]
        pad_h, pad_w = -(-h // 32) * 32, -(-w // 32) * 32
        blob = np.zeros((1, 3, pad_h, pad_w), dtype=np.float32)
        for channel, plane in enumerate(planes.split(frame)):
            blob[0, channel, :h, :w] = plane
        outs = dict(
            zip(self.output_names, self.session.run(self.output_names, {self.input_name: blob}), strict=True)
        )
        all_scores, all_boxes, all_kps = [], [], []
        for s in self.strides:
            cols = pad_w // s
            cls = np.clip(outs[f"cls_{s}"].reshape(-1), 0.0, 1.0)
            obj = np.clip(outs[f"obj_{s}"].reshape(-1), 0.0, 1.0)
            scores = np.sqrt(cls * obj)
            keep = np.nonzero(scores >= self.settings.threshold)[0]
            if keep.size == 0:
                continue
            cells = np.stack([keep % cols, keep // cols], axis=1).astype(np.float32)
            bbox = outs[f"bbox_{s}"].reshape(-1, 4)[keep]
            centre = (cells + bbox[:, :2]) * s
            size = np.exp(bbox[:, 2:4]) * s
            all_boxes.append(np.concatenate([centre - size / 2, centre + size / 2], axis=1))
            kps = outs[f"kps_{s}"].reshape(-1, 5, 2)[keep]
            all_kps.append((cells[:, None, :] + kps) * s)
            all_scores.append(scores[keep])
        if not all_scores:
            return []
        scores = np.concatenate(all_scores)
        boxes = np.concatenate(all_boxes)
        kps = np.concatenate(all_kps)
        keep = nms_opencv(boxes, scores, self.nms_iou)
        return _to_faces(boxes[keep], kps[keep], scores[keep], self.settings.max_faces)


def nms_opencv(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """OpenCV's NMSBoxes on integer boxes, as cv2.FaceDetectorYN runs it."""
    rects = [(int(b[0]), int(b[1]), int(b[2] - b[0]), int(b[3] - b[1])) for b in boxes]
    keep = cv2.dnn.NMSBoxes(rects, scores.astype(float).tolist(), 0.0, iou)
    return [int(i) for i in np.asarray(keep).reshape(-1)]


def load_detector(
    path: Path | str,
    settings: DetectorSettings,
    runtime: RuntimeSettings,
    session: ort.InferenceSession | None = None,
) -> Detector:
    """A detector for ``path``; pass the ``session`` of an earlier one to change only its settings."""
    session = session or create_session(path, runtime)
    kind = expect_kind(session, path, DETECTORS, "detector")
    if kind is ModelKind.YUNET:
        return YunetDetector(session, settings)
    detector = ScrfdDetector(session, settings)
    if not detector.use_kps:
        raise ModelLoadError(
            f"{path} is an SCRFD detector without landmark outputs; swapping needs the 5 landmarks. "
            "Use det_10g, det_2.5g or det_500m (the models with keypoints)."
        )
    return detector
