"""The engine API the plugins use: load once, swap many, change settings live, two threads."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers import read

from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.errors import SettingsError
from inswapper_live.core.select import FaceSelection


@pytest.fixture
def engine(yunet: Path, swapper_128: Path, recognizer: Path) -> Engine:
    return Engine(EngineSettings(swapper=str(swapper_128), detector=str(yunet), recognizer=str(recognizer)))


def test_update_reloads_only_what_changed(
    engine: Engine, yunet: Path, swapper_512: Path, faces_dir: Path, tmp_path: Path
) -> None:
    engine.set_source(engine.analyse_source([read(faces_dir / "grace_hopper.jpg")]))
    swapper, detector = engine.swapper, engine.detector
    engine.update(blend=0.5, faces=FaceSelection.parse("largest"))
    assert engine.swapper is swapper and engine.detector is detector
    engine.update(det_thresh=0.6)
    assert engine.detector is not detector and engine.detector.session is detector.session
    engine.update(detector=str(shutil.copy(yunet, tmp_path / "another_detector.onnx")))
    assert engine.detector.session is not detector.session
    engine.update(swapper=str(swapper_512))
    assert engine.swapper.size == 512 and engine.source is not None
    assert engine.swap(read(faces_dir / "obama_biden_2faces.jpg")).swapped


def test_bad_settings_are_refused_and_the_old_ones_stay(engine: Engine) -> None:
    before = engine.settings
    for bad in (
        {"blend": 1.5},
        {"det_size": 100},
        {"pixel_boost": 200},
        {"det_thresh": 0.0},
        {"detail": -1.0},
    ):
        with pytest.raises(SettingsError):
            engine.update(**bad)
    assert engine.settings == before


def test_swap_without_a_source_is_explained(engine: Engine) -> None:
    with pytest.raises(SettingsError, match="No source face"):
        engine.swap(np.zeros((64, 64, 3), np.uint8))


def test_no_face_passes_the_frame_through(engine: Engine, faces_dir: Path) -> None:
    engine.set_source(engine.analyse_source([read(faces_dir / "grace_hopper.jpg")]))
    flat = np.full((240, 320, 3), 90, np.uint8)
    result = engine.swap(flat)
    assert np.array_equal(result.frame, flat) and result.faces == [] and not result.mask().any()


def test_in_place_and_given_faces(engine: Engine, faces_dir: Path) -> None:
    engine.set_source(engine.analyse_source([read(faces_dir / "grace_hopper.jpg")]))
    image = read(faces_dir / "apollo11_crew_3faces.jpg")
    copy = engine.swap(image)
    frame = image.copy()
    result = engine.swap(frame, faces=engine.detect(image), in_place=True)
    assert result.frame is frame and np.array_equal(frame, copy.frame)
    assert len(result.swapped) == 3 and result.mask().shape == image.shape[:2]


def test_producer_and_worker_threads(engine: Engine, faces_dir: Path, swapper_512: Path) -> None:
    """A worker swaps frames while a producer changes source and settings: no error, every frame whole."""
    image = read(faces_dir / "obama_biden_2faces.jpg")
    sources = [
        engine.analyse_source([read(faces_dir / n)]) for n in ("grace_hopper.jpg", "biden_portrait.jpg")
    ]
    engine.set_source(sources[0])
    stop = threading.Event()
    errors: list[BaseException] = []
    results = []

    def worker() -> None:
        try:
            while not stop.is_set():
                results.append(engine.swap(image))
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        for i in range(12):
            seen = len(results)
            engine.set_source(sources[i % 2])
            swapper = str(swapper_512) if i >= 6 else engine.settings.swapper
            engine.update(blend=0.5 + (i % 2) / 2, swapper=swapper)
            while len(results) < seen + 2 and thread.is_alive():  # let the worker swap with these settings
                threading.Event().wait(0.005)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors and len(results) >= 24
    assert all(r.frame.shape == image.shape and len(r.swapped) == 2 for r in results)


@pytest.mark.parametrize("shape", [(1, 1, 3), (3, 7, 3), (31, 2000, 3), (6000, 8000, 3)])
def test_tiny_and_huge_frames(engine: Engine, faces_dir: Path, shape) -> None:
    engine.set_source(engine.analyse_source([read(faces_dir / "grace_hopper.jpg")]))
    frame = np.full(shape, 120, np.uint8)
    if shape[0] > 1000:
        face = read(faces_dir / "pexels_woman_neutral.jpeg")
        frame[: face.shape[0], : face.shape[1]] = face
    result = engine.swap(frame)
    assert result.frame.shape == frame.shape
    assert len(result.swapped) == (1 if shape[0] > 1000 else 0)
