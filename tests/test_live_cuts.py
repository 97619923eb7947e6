"""Scene cuts, coasting by time and index choices that follow the faces in view."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import read
from test_live import _paint_out

from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.live import LiveSession
from inswapper_live.core.scene import CutSettings, is_cut, thumbnail
from inswapper_live.core.select import FaceSelection
from inswapper_live.core.types import Face


@pytest.fixture(scope="module")
def engine(scrfd_500m: Path, swapper_128: Path, recognizer: Path, faces_dir: Path) -> Engine:
    e = Engine(EngineSettings(swapper=str(swapper_128), detector=str(scrfd_500m), recognizer=str(recognizer)))
    e.set_source(e.analyse_source([read(faces_dir / "grace_hopper.jpg")]))
    return e


@pytest.fixture(scope="module")
def group(faces_dir: Path) -> np.ndarray:
    return read(faces_dir / "pexels_group_meeting_4faces.jpeg")


@pytest.fixture(scope="module")
def crew(faces_dir: Path, group: np.ndarray) -> np.ndarray:
    return cv2.resize(read(faces_dir / "apollo11_crew_3faces.jpg"), group.shape[1::-1])


def _ordered(faces: list[Face]) -> list[Face]:
    return sorted(faces, key=lambda f: f.center_x)


def _centres(faces: list[Face]) -> np.ndarray:
    return np.array([[f.center_x, (f.bbox[1] + f.bbox[3]) / 2] for f in _ordered(faces)])


def test_cuts_are_told_from_motion(clips_dir: Path, photos: list[Path]) -> None:
    settings = CutSettings()
    for clip in sorted(clips_dir.glob("*.mp4")):
        cap = cv2.VideoCapture(str(clip))
        previous, frames = None, 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            thumb = thumbnail(frame)
            assert not is_cut(previous, thumb, settings), f"{clip.name} frame {frames}"
            previous, frames = thumb, frames + 1
        assert frames == 75
    images = [cv2.resize(read(p), (640, 360)) for p in photos[:8]]
    for i, a in enumerate(images):
        pan = np.ascontiguousarray(a[:, 16:])  # a fast pan: 2.5% of the width in one frame
        assert not is_cut(thumbnail(a[:, :-16]), thumbnail(pan), settings)
        for b in images[i + 1 :]:
            assert is_cut(thumbnail(a), thumbnail(b), settings)


def test_a_cut_drops_every_track_at_once(engine: Engine, group: np.ndarray, crew: np.ndarray) -> None:
    session = LiveSession(engine)
    before = session.process(group, 0.0)
    assert len(before.swapped) >= 4
    after = session.process(crew, 1 / 30)
    assert session.cuts == 1
    truth = engine.detect(crew)
    assert len(after.swapped) == len(truth) == 3, "only the faces of the new scene"
    assert np.abs(_centres(after.swapped) - _centres(truth)).max() < 2.0
    assert [t.id for t in session.tracker.tracks] == [t.id for t in session.tracker.visible()]
    assert len(session.tracker.tracks) == 3


def test_no_swapped_pixels_where_a_face_left_at_a_slow_rate(engine: Engine, faces_dir: Path) -> None:
    """At 6 processed frames a second, one frame is past the 100 ms of coasting."""
    image = read(faces_dir / "grace_hopper.jpg")
    session = LiveSession(engine)
    first = session.process(image, 0.0)
    assert len(first.swapped) == 1
    gone = _paint_out(image, first.swapped)
    result = session.process(gone, 1 / 6)
    assert session.cuts == 0, "a face leaving is no scene cut"
    assert result.swapped == [] and np.array_equal(result.frame, gone)


def test_index_choice_after_a_cut_is_made_on_the_new_scene(
    engine: Engine, group: np.ndarray, crew: np.ndarray
) -> None:
    engine.update(faces=FaceSelection.parse("index:0,2"))
    try:
        session = LiveSession(engine)
        first = session.process(group, 0.0)
        ordered = _ordered(engine.detect(group))
        assert np.abs(_centres(first.swapped) - _centres([ordered[0], ordered[2]])).max() < 2.0
        after = session.process(crew, 1 / 30)
        crew_faces = _ordered(engine.detect(crew))
        assert len(after.swapped) == 2
        assert np.abs(_centres(after.swapped) - _centres([crew_faces[0], crew_faces[2]])).max() < 2.0
    finally:
        engine.update(faces=FaceSelection())


def test_index_choice_moves_on_when_a_chosen_face_leaves(engine: Engine, group: np.ndarray) -> None:
    engine.update(faces=FaceSelection.parse("index:0,2"))
    try:
        session = LiveSession(engine)
        ordered = _ordered(engine.detect(group))
        assert len(ordered) >= 4
        session.process(group, 0.0)
        left = _paint_out(group, [ordered[2]])  # the third face leaves; the fourth is now third
        assert len(engine.detect(left)) == len(ordered) - 1
        for i in range(1, 6):
            result = session.process(left, i / 30)
        assert session.cuts == 0
        expected = _centres([ordered[0], ordered[3]])
        assert len(result.swapped) == 2
        assert np.abs(_centres(result.swapped) - expected).max() < 2.0
    finally:
        engine.update(faces=FaceSelection())
