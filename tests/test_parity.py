"""Parity with the reference implementation on every shared photo, with the real SCRFD detectors.

Faces (count, landmarks within 0.5 px), latents (cosine >= 0.9999) and pasted frames
(PSNR >= 45 dB) must match insightface's, with synthetic ArcFace and swapper models that have
the exact contracts. ``detail=0`` selects the reference's paste-back recipe.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SCRFD_FILES, scrfd_skip_reason, shared_file
from helpers import psnr, read
from reference import Reference

from inswapper_live.core.engine import Engine, EngineSettings

if not any(shared_file("models", f) for f in SCRFD_FILES):  # one line for the module, not one per test
    pytest.skip(scrfd_skip_reason(" and ".join(SCRFD_FILES)), allow_module_level=True)


@pytest.fixture(scope="module", params=["scrfd_500m", "scrfd_2_5g"])
def pair(request, swapper_128: Path, recognizer: Path):
    detector = request.getfixturevalue(request.param)
    engine = Engine(
        EngineSettings(
            swapper=str(swapper_128), detector=str(detector), recognizer=str(recognizer), detail=0.0
        )
    )
    return engine, Reference.load(detector, recognizer, swapper_128)


def test_faces_match_reference(pair, photos: list[Path]) -> None:
    engine, ref = pair
    checked = 0
    for path in photos:
        image = read(path)
        ours = engine.detect(image)
        theirs = ref.faces(image)
        assert len(ours) == len(theirs), path.name
        for a, b in zip(ours, theirs, strict=True):
            assert np.abs(a.kps - b.kps).max() <= 0.5, path.name
            assert np.abs(a.bbox - b.bbox).max() <= 0.5, path.name
            assert a.score == pytest.approx(float(b.det_score), abs=1e-4)
        checked += len(ours)
    assert checked >= 20


def test_latents_match_reference(pair, photos: list[Path]) -> None:
    engine, ref = pair
    compared = 0
    for path in photos:
        image = read(path)
        if not ref.faces(image):
            continue
        ours = engine.swapper.latent(engine.analyse_source([image]).embedding).ravel()
        theirs = ref.latent(ref.source(image)).ravel()
        cosine = float(ours @ theirs / np.linalg.norm(ours) / np.linalg.norm(theirs))
        assert cosine >= 0.9999, path.name
        compared += 1
    assert compared >= len(photos) - 2


def test_pasted_frames_match_reference(pair, photos: list[Path], faces_dir: Path) -> None:
    engine, ref = pair
    source_image = read(faces_dir / "obama_official_portrait.jpg")
    engine.set_source(engine.analyse_source([source_image]))
    ref_source = ref.source(source_image)
    swapped = 0
    for path in photos:
        image = read(path)
        ours = engine.swap(image)
        theirs = ref.swap(image, ref_source)
        assert psnr(ours.frame, theirs) >= 45.0, path.name
        if ours.swapped:
            assert psnr(ours.frame, image) < 40.0, f"{path.name}: the swap changed nothing"
        swapped += len(ours.swapped)
    assert swapped >= 20


def test_pasted_frames_match_reference_at_512(
    scrfd_2_5g: Path, photos: list[Path], faces_dir: Path, swapper_512: Path, recognizer: Path
) -> None:
    detector = scrfd_2_5g
    engine = Engine(
        EngineSettings(
            swapper=str(swapper_512), detector=str(detector), recognizer=str(recognizer), detail=0.0
        )
    )
    ref = Reference.load(detector, recognizer, swapper_512)
    assert engine.swapper.size == 512
    source_image = read(faces_dir / "grace_hopper.jpg")
    engine.set_source(engine.analyse_source([source_image]))
    ref_source = ref.source(source_image)
    for path in photos:
        image = read(path)
        assert psnr(engine.swap(image).frame, ref.swap(image, ref_source)) >= 45.0, path.name
