"""Source identities: averaging, and face models saved and loaded without pickle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import read

from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.errors import InputError, NoFaceError, OutputError
from inswapper_live.core.source import SourceFace


def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=512).astype(np.float32)
    return v / np.linalg.norm(v)


def test_average_is_the_normalised_mean() -> None:
    a, b = _unit(1), _unit(2)
    face = SourceFace.average([a, b * 3])
    expected = (a + b) / np.linalg.norm(a + b)
    assert np.allclose(face.embedding, expected, atol=1e-6) and face.count == 2


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_save_load_round_trip(tmp_path: Path, suffix: str) -> None:
    face = SourceFace(_unit(4), 3, {"images": "a.jpg, b.jpg"})
    path = face.save(tmp_path / f"me{suffix}")
    loaded = SourceFace.load(path)
    assert np.allclose(loaded.embedding, face.embedding)
    assert loaded.count == 3 and loaded.metadata["images"] == "a.jpg, b.jpg"
    assert [p.name for p in tmp_path.iterdir()] == [f"me{suffix}"], "no temporary file left behind"


def test_npz_with_a_pickled_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    np.savez(path, embedding=np.array([{"x": 1}], dtype=object))
    with pytest.raises(InputError, match="cannot be read"):
        SourceFace.load(path)


def test_bad_face_models(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        SourceFace.load(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(InputError, match="cannot be read"):
        SourceFace.load(tmp_path / "junk.safetensors")
    np.savez(tmp_path / "short.npz", embedding=np.ones(10, np.float32), metadata=np.array(json.dumps({})))
    with pytest.raises(InputError, match="512-d"):
        SourceFace.load(tmp_path / "short.npz")
    with pytest.raises(OutputError, match=r"\.safetensors or \.npz"):
        SourceFace(_unit(1)).save(tmp_path / "me.pkl")
    with pytest.raises(OutputError, match="does not exist"):
        SourceFace(_unit(1)).save(tmp_path / "nowhere" / "me.npz")


def test_analyse_source_averages_largest_faces(faces_dir, yunet, swapper_128, recognizer) -> None:
    engine = Engine(EngineSettings(swapper=str(swapper_128), detector=str(yunet), recognizer=str(recognizer)))
    a, b = read(faces_dir / "obama_official_portrait.jpg"), read(faces_dir / "obama_oval_office_1080p.jpg")
    both = engine.analyse_source([a, b], ["a", "b"])
    ea = engine.analyse_source([a]).embedding
    eb = engine.analyse_source([b]).embedding
    assert np.allclose(both.embedding, SourceFace.average([ea, eb]).embedding, atol=1e-6)
    group = read(faces_dir / "pexels_group_meeting_4faces.jpeg")
    largest = max(engine.detect(group), key=lambda f: f.area)
    engine.recognizer().embed(group, [largest])
    assert np.allclose(engine.analyse_source([group]).embedding, largest.embedding, atol=1e-6)
    with pytest.raises(NoFaceError, match=r"No face found in blank\.png"):
        engine.analyse_source([a, np.zeros((200, 200, 3), np.uint8)], ["a.jpg", "blank.png"])
