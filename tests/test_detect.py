"""Detection: YuNet against OpenCV's own decoder, every SCRFD output layout against the reference."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from helpers import read
from onnx import TensorProto, helper, numpy_helper

from inswapper_live.core.detect import (
    DetectorSettings,
    ScrfdDetector,
    YunetDetector,
    load_detector,
    nms,
    shrink,
)
from inswapper_live.core.errors import ModelLoadError
from inswapper_live.core.runtime import RuntimeSettings

CPU = RuntimeSettings(provider="cpu")


def test_yunet_matches_opencv_face_detector_yn(yunet: Path, photos: list[Path]) -> None:
    detector = load_detector(yunet, DetectorSettings(threshold=0.7), CPU)
    assert isinstance(detector, YunetDetector)
    total = 0
    for path in photos:
        image = read(path)
        h, w = image.shape[:2]
        reference = cv2.FaceDetectorYN.create(str(yunet), "", (w, h), 0.7, 0.3, 5000)
        _, rows = reference.detect(image)
        rows = np.zeros((0, 15)) if rows is None else rows
        ours = detector.detect_native(image)
        assert len(ours) == len(rows), path.name
        for face, row in zip(ours, rows, strict=True):
            x, y, bw, bh = row[:4]
            assert np.abs(face.bbox - [x, y, x + bw, y + bh]).max() < 0.01, path.name
            assert np.abs(face.kps.ravel() - row[4:14]).max() < 0.01, path.name
            assert face.score == pytest.approx(row[14], abs=1e-4)
        total += len(ours)
    assert total >= len(photos)  # most photos have one face; the group photos make up for the one without


def test_yunet_scales_frames_to_the_detector_size(yunet: Path, faces_dir: Path) -> None:
    image = read(faces_dir / "obama_official_portrait.jpg")
    faces = load_detector(yunet, DetectorSettings(size=640, threshold=0.7), CPU).detect(image)
    assert len(faces) == 1
    # README of the shared data: bbox [374,94,232,321], left eye (443,207) at full resolution.
    assert np.abs(faces[0].kps[0] - [443, 207]).max() < 6
    assert abs(faces[0].bbox[2] - faces[0].bbox[0] - 232) < 12


def _scrfd_model(path: Path, strides: tuple[int, ...], anchors: int, kps: bool, batched: bool) -> Path:
    """An SCRFD-layout model whose outputs are fixed tensors: one face at a known cell."""
    size = 640
    inp = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, size, size])
    nodes = [
        helper.make_node("ReduceMean", ["input.1"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["z"]),
    ]
    inits = [numpy_helper.from_array(np.array(0.0, np.float32), "zero")]
    outputs = []
    rng = np.random.default_rng(len(strides) * 10 + anchors)
    groups = {"score": 1, "bbox": 4, "kps": 10} if kps else {"score": 1, "bbox": 4}
    for group, width in groups.items():
        for stride in strides:
            n = (size // stride) ** 2 * anchors
            value = np.zeros((n, width), np.float32)
            if group == "score":
                value[:] = rng.uniform(0, 0.3, (n, 1))
                if stride == 16:
                    cell = (12 * (size // 16) + 20) * anchors
                    value[cell] = 0.92
                    value[cell + anchors - 1] = 0.85  # overlapping duplicate, NMS must drop it
            elif group == "bbox":
                value[:] = rng.uniform(1.0, 4.0, (n, 4))
            else:
                value[:] = rng.uniform(-3.0, 3.0, (n, 10))
            if batched:
                value = value[None]
            name = f"{group}_{stride}"
            inits.append(numpy_helper.from_array(value, name + "_c"))
            nodes.append(helper.make_node("Add", [name + "_c", "z"], [name]))
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    graph = helper.make_graph(nodes, "scrfd_layout", [inp], outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


LAYOUTS = {
    "9 outputs, 3 strides, 2 anchors": ((8, 16, 32), 2, False),
    "9 outputs with a batch axis": ((8, 16, 32), 2, True),
    "15 outputs, 5 strides, 1 anchor": ((8, 16, 32, 64, 128), 1, False),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_scrfd_output_layouts_decode_like_the_reference(layout: str, tmp_path: Path, faces_dir: Path) -> None:
    from reference import SCRFD

    strides, anchors, batched = LAYOUTS[layout]
    path = _scrfd_model(tmp_path / "scrfd.onnx", strides, anchors, kps=True, batched=batched)
    ours = load_detector(path, DetectorSettings(), CPU)
    assert isinstance(ours, ScrfdDetector) and ours.batched == batched
    ref = SCRFD(model_file=str(path))
    ref.prepare(-1, input_size=(640, 640), det_thresh=0.5, nms_thresh=0.4)
    image = read(faces_dir / "obama_biden_2faces.jpg")
    boxes, kps = ref.detect(image, input_size=(640, 640))
    faces = ours.detect(image)
    assert len(faces) == len(boxes) >= 1
    for face, box, points in zip(faces, boxes, kps, strict=True):
        assert np.abs(face.bbox - box[:4]).max() < 1e-3
        assert np.abs(face.kps - points).max() < 1e-3


def test_scrfd_without_keypoints_is_refused_with_a_reason(tmp_path: Path) -> None:
    path = _scrfd_model(tmp_path / "scrfd_nokps.onnx", (8, 16, 32), 2, kps=False, batched=False)
    with pytest.raises(ModelLoadError, match="without landmark outputs"):
        load_detector(path, DetectorSettings(), CPU)


def test_threshold_and_max_faces(yunet: Path, faces_dir: Path) -> None:
    image = read(faces_dir / "pexels_group_meeting_4faces.jpeg")
    every = load_detector(yunet, DetectorSettings(), CPU).detect(image)
    assert len(every) == 5  # the fifth person, cut at the edge, too
    two = load_detector(yunet, DetectorSettings(max_faces=2), CPU).detect(image)
    assert sorted(f.area for f in two) == sorted(f.area for f in every)[-2:]
    strict = load_detector(yunet, DetectorSettings(threshold=0.9), CPU).detect(image)
    assert len(strict) < 5 and all(f.score >= 0.9 for f in strict)


@pytest.mark.parametrize("detector", ["scrfd_500m", "yunet"])
def test_no_face_in_a_flat_image(request, detector: str) -> None:
    flat = np.full((480, 640, 3), 127, np.uint8)
    assert load_detector(request.getfixturevalue(detector), DetectorSettings(), CPU).detect(flat) == []


def test_nms_keeps_the_strongest_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 100, 100], [5, 5, 105, 105], [200, 200, 260, 260]], np.float32)
    scores = np.array([0.6, 0.9, 0.7], np.float32)
    assert nms(boxes, scores, 0.4) == [1, 2]
    assert nms(boxes, scores, 0.95) == [1, 2, 0]


def test_a_recogniser_is_not_accepted_as_detector(recognizer: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"face recogniser \(ArcFace\).*detector setting"):
        load_detector(recognizer, DetectorSettings(), CPU)


@pytest.mark.parametrize(
    ("size", "target"),
    [
        ((1920, 1080), (640, 360)),
        ((3200, 1800), (640, 360)),
        ((1280, 720), (640, 360)),
        ((1000, 600), (640, 384)),
    ],
)
def test_shrink_gives_the_bilinear_resize(size: tuple[int, int], target: tuple[int, int]) -> None:
    """The odd-factor shortcut (3x, 5x) and the plain resize give OpenCV's bilinear bytes."""
    frame = np.random.default_rng(size[0]).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    assert np.array_equal(shrink(frame, *target), cv2.resize(frame, target))
