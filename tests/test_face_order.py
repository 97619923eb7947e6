"""Face order, face_at and batch source analysis (the engine side of the ComfyUI nodes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import read

from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.errors import NoFaceError, SettingsError
from inswapper_live.core.select import ORDERS, FaceSelection, order_faces


@pytest.fixture(scope="module")
def engine(yunet: Path, swapper_128: Path, recognizer: Path) -> Engine:
    return Engine(EngineSettings(swapper=str(swapper_128), detector=str(yunet), recognizer=str(recognizer)))


@pytest.fixture(scope="module")
def group(faces_dir: Path) -> np.ndarray:
    return read(faces_dir / "apollo11_crew_3faces.jpg")


def test_orders_count_faces_as_named(engine: Engine, group: np.ndarray) -> None:
    faces = engine.detect(group)
    assert len(faces) == 3
    xs = {o: [f.center_x for f in order_faces(faces, o)] for o in ORDERS}
    ys = {o: [f.center_y for f in order_faces(faces, o)] for o in ORDERS}
    areas = {o: [f.area for f in order_faces(faces, o)] for o in ORDERS}
    assert xs["left-right"] == sorted(xs["left-right"])
    assert xs["right-left"] == sorted(xs["right-left"], reverse=True)
    assert ys["top-bottom"] == sorted(ys["top-bottom"])
    assert ys["bottom-top"] == sorted(ys["bottom-top"], reverse=True)
    assert areas["large-small"] == sorted(areas["large-small"], reverse=True)
    assert areas["small-large"] == sorted(areas["small-large"])
    with pytest.raises(SettingsError, match="left-right"):
        order_faces(faces, "random")


def test_index_selection_follows_its_order(engine: Engine, group: np.ndarray) -> None:
    faces = engine.detect(group)
    rightmost = FaceSelection("index", (0,), order="right-left").apply(faces)
    assert rightmost == [max(faces, key=lambda f: f.center_x)]
    assert FaceSelection.parse("index:0").apply(faces) == [min(faces, key=lambda f: f.center_x)]


def test_face_at_picks_by_order_and_names_the_count(engine: Engine, group: np.ndarray) -> None:
    largest = engine.largest_face(group, "crew")
    assert engine.face_at(group, 0, "large-small").area == largest.area
    smallest = engine.face_at(group, 0, "small-large")
    assert smallest.area < largest.area and smallest.embedding is not None
    with pytest.raises(NoFaceError, match=r"crew has 3 face\(s\).*from 0 to 2"):
        engine.face_at(group, 3, "left-right", "crew")


def test_analyse_source_skips_frames_without_the_face(engine: Engine, faces_dir: Path) -> None:
    portrait = read(faces_dir / "obama_official_portrait.jpg")
    empty = portrait[-150:, :300].copy()  # jacket and background only
    assert engine.detect(empty) == []
    calls: list[tuple[int, int]] = []
    source = engine.analyse_source(
        [empty, portrait, portrait], skip_missing=True, progress=lambda d, t: calls.append((d, t))
    )
    assert source.count == 2
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert np.allclose(source.embedding, engine.largest_face(portrait).embedding, atol=1e-5)
    with pytest.raises(NoFaceError, match=r"None of the 2 source images.*0 faces detected"):
        engine.analyse_source([empty, empty], skip_missing=True)
    with pytest.raises(NoFaceError, match="source image 1"):
        engine.analyse_source([empty, portrait])
