"""The model wrapper: settings applied in the worker, frames swapped in their own format, errors shown."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import read
from obs_frames import make_frame

from inswapper_live.core.source import SourceFace
from inswapper_live.obs_plugin.formats import PixelFormat, to_bgr
from inswapper_live.obs_plugin.model import SwapModel
from inswapper_live.obs_plugin.settings import FilterSettings


@pytest.fixture(scope="module")
def face_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(5)
    return SourceFace.average([rng.normal(size=512).astype(np.float32)]).save(
        tmp_path_factory.mktemp("face") / "face.safetensors"
    )


@pytest.fixture
def settings(face_model: Path, swapper_128: Path, yunet: Path) -> FilterSettings:
    return FilterSettings(
        face_model=str(face_model), swapper=str(swapper_128), detector=str(yunet), threads=1
    )


@pytest.fixture
def photo(faces_dir: Path) -> np.ndarray:
    return read(faces_dir / "obama_small_320x240.jpg")


def ready(settings: FilterSettings) -> SwapModel:
    model = SwapModel()
    model.configure(settings)
    assert model.status.state == "ready", model.status
    return model


def test_ready_model_reports_its_provider(settings: FilterSettings) -> None:
    model = ready(settings)
    assert model.status.provider == "CPU" and model.status.message == ""


@pytest.mark.parametrize("fmt", [PixelFormat.I420, PixelFormat.NV12, PixelFormat.YUY2, PixelFormat.BGRA])
def test_swap_view_changes_the_face_and_keeps_every_other_byte(
    settings: FilterSettings, photo: np.ndarray, fmt: PixelFormat
) -> None:
    model = ready(settings)
    frame = make_frame(photo, fmt)
    original = [p.copy() for p in frame.planes]
    before = to_bgr(frame)
    expected = model.process(before).mask() > 0
    written = model.swap_view(frame)
    after = to_bgr(frame)
    assert written > 1000
    changed = np.any(after != before, axis=2)
    assert changed.any() and np.abs(after.astype(int) - before)[expected].mean() > 8
    # Every changed pixel lies in the engine's paste region (grown by one chroma block).
    grown = cv2.dilate(expected.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert not np.any(changed & ~grown)
    # Rows the face does not reach keep their exact bytes, padding included.
    rows = np.nonzero(grown.any(axis=1))[0]
    top = int(rows.min()) - 2
    for plane, old in zip(frame.planes, original, strict=True):
        scale = plane.shape[0] / original[0].shape[0]
        limit = max(0, int(top * scale) - 1)
        assert np.array_equal(plane[:limit], old[:limit])


def test_frame_without_a_face_keeps_every_byte(settings: FilterSettings) -> None:
    model = ready(settings)
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), (0, 0), 4)
    frame = make_frame(image, PixelFormat.I420)
    original = [p.copy() for p in frame.planes]
    assert model.swap_view(frame) == 0
    assert all(np.array_equal(a, b) for a, b in zip(original, frame.planes, strict=True))


def test_disclosure_label_is_drawn_even_without_a_face(settings: FilterSettings) -> None:
    model = ready(FilterSettings(**{**vars(settings), "label_enabled": True, "label_position": "top-left"}))
    frame = make_frame(np.full((240, 320, 3), 100, np.uint8), PixelFormat.NV12)
    before = to_bgr(frame)
    assert model.swap_view(frame) > 0
    changed = np.any(to_bgr(frame) != before, axis=2)
    ys, xs = np.nonzero(changed)
    assert ys.max() < 120 and xs.max() < 200  # only the top-left corner


def test_detection_runs_every_n_frames(settings: FilterSettings, photo: np.ndarray) -> None:
    model = ready(FilterSettings(**{**vars(settings), "detection_interval": 3}))
    engine = model._engine
    calls = []
    detect = engine.detect
    engine.detect = lambda frame: calls.append(1) or detect(frame)  # type: ignore[method-assign]
    results = [model.process(photo) for _ in range(7)]
    assert len(calls) == 3  # frames 1, 4 and 7
    assert all(r.swapped for r in results)


def test_bad_settings_show_in_the_status_and_recover(settings: FilterSettings, tmp_path: Path) -> None:
    model = SwapModel()
    model.configure(FilterSettings(swapper=settings.swapper, detector=settings.detector))
    assert model.status.state == "error" and "No source face" in model.status.message
    missing = tmp_path / "missing.onnx"
    model.configure(FilterSettings(**{**vars(settings), "swapper": str(missing)}))
    assert model.status.state == "error" and str(missing) in model.status.message
    model.configure(FilterSettings(**{**vars(settings), "face_model": str(tmp_path / "nope.npz")}))
    assert model.status.state == "error" and "nope.npz" in model.status.message
    model.configure(settings)
    assert model.status.state == "ready"


def test_similar_selection_needs_and_uses_a_reference(
    settings: FilterSettings, faces_dir: Path, recognizer: Path
) -> None:
    model = SwapModel()
    similar = FilterSettings(**{**vars(settings), "selection": "similar", "recognizer": str(recognizer)})
    model.configure(similar)
    assert model.status.state == "error" and "reference" in model.status.message
    reference = faces_dir / "obama_official_portrait.jpg"
    model.configure(FilterSettings(**{**vars(similar), "reference_image": str(reference), "threshold": 0.5}))
    assert model.status.state == "ready", model.status
    assert model._engine is not None and model._engine._state.reference is not None


def test_source_images_are_analysed_with_the_recogniser(
    settings: FilterSettings, faces_dir: Path, recognizer: Path
) -> None:
    images = (str(faces_dir / "obama_official_portrait.jpg"), str(faces_dir / "obama_oval_office_1080p.jpg"))
    model = ready(
        FilterSettings(
            **{**vars(settings), "face_model": "", "source_images": images, "recognizer": str(recognizer)}
        )
    )
    assert model._engine is not None and model._engine.source is not None and model._engine.source.count == 2


def test_disabled_needs_nothing_loaded() -> None:
    model = SwapModel()
    model.configure(FilterSettings(enabled=False))
    assert model.status.state == "disabled" and not model.ready
