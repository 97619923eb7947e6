"""Face selection: all, largest, index (left to right) and similarity to a reference."""

from __future__ import annotations

import numpy as np
import pytest

from inswapper_live.core.errors import SettingsError
from inswapper_live.core.select import FaceSelection
from inswapper_live.core.types import Face


def _face(x: float, size: float, emb: np.ndarray | None = None) -> Face:
    return Face(np.array([x, 0, x + size, size], np.float32), np.zeros((5, 2), np.float32), 0.9, emb)


def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=512).astype(np.float32)
    return v / np.linalg.norm(v)


FACES = [_face(300, 50), _face(10, 80), _face(150, 30)]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("all", [300, 10, 150]),
        ("largest", [10]),
        ("index:0", [10]),
        ("index:2,0", [300, 10]),
        ("index:7", []),
    ],
)
def test_modes(spec: str, expected: list[int]) -> None:
    chosen = FaceSelection.parse(spec).apply(FACES)
    assert [int(f.bbox[0]) for f in chosen] == expected


def test_similar_uses_embeddings_and_fills_missing_ones() -> None:
    ref = _unit(1)
    near = ref + 0.1 * _unit(2)
    faces = [_face(0, 10, near / np.linalg.norm(near)), _face(50, 10, _unit(3)), _face(90, 10)]
    filled = []

    def embed(missing):
        filled.extend(missing)
        for f in missing:
            f.embedding = ref

    chosen = FaceSelection.parse("similar:0.6").apply(faces, ref, embed)
    assert [int(f.bbox[0]) for f in chosen] == [0, 90]
    assert filled == [faces[2]]


def test_similar_without_reference_says_what_to_do() -> None:
    with pytest.raises(SettingsError, match="reference face"):
        FaceSelection.parse("similar").apply(FACES)


@pytest.mark.parametrize("spec", ["", "some", "index:", "index:a", "index:-1", "similar:2", "largest:3"])
def test_bad_specs_are_refused_with_the_syntax(spec: str) -> None:
    with pytest.raises(SettingsError, match=r"index:0,2"):
        FaceSelection.parse(spec)


@pytest.mark.parametrize("spec", ["all", "largest", "index:0,2", "similar:0.45"])
def test_round_trip(spec: str) -> None:
    assert str(FaceSelection.parse(spec)) == spec
