"""Detail transfer without ghosts.

Two oracle swappers with the inswapper contract judge it: one returns its input (the frame must
come back, tested in test_identity.py), one returns another person's aligned face whatever it is
given, as a swap that replaces every feature does. With that one, the target's own fine detail
(its edges finer than the crop: contours, nostrils, eyelids) must not come back inside the new face.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import ghost_measure, psnr, read

from inswapper_live.core import paste, synthetic
from inswapper_live.core.align import ARCFACE_TEMPLATE, estimate_norm, warp_face
from inswapper_live.core.detail import add_detail, crop_to_weight, detail_weight
from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.source import SourceFace


def _donor(name: str) -> str:
    """Whose face the replacing oracle returns: Obama's, except on photos with Obama (then a CC0 headshot)."""
    return "codait_luciano.png" if "obama" in name else "obama_official_portrait.jpg"


def _engine(swapper, detector, recognizer, **changes) -> Engine:
    engine = Engine(EngineSettings(swapper=str(swapper), detector=str(detector), recognizer=str(recognizer)))
    engine.update(**changes)
    engine.set_source(SourceFace(np.full(512, 1 / np.sqrt(512), dtype=np.float32)))
    return engine


@pytest.fixture(scope="module")
def replacing(synthetic_dir, faces_dir, yunet, recognizer, identity_128):
    """Replacing oracles at 128 and 512 for each donor: ``{(donor, size): path}``."""
    finder = _engine(identity_128, yunet, recognizer)
    models = {}
    for donor in ("codait_luciano.png", "obama_official_portrait.jpg"):
        image = read(faces_dir / donor)
        face = finder.detect(image)[0]
        for size in (128, 512):
            crop, _ = warp_face(image, face.kps, size)
            models[donor, size] = synthetic.make_swapper(
                synthetic_dir / f"replacing_{size}_{donor}.onnx", size, face=crop
            )
    return models


def _ghosts(engine: Engine, image: np.ndarray) -> tuple[float, int]:
    """The ghost measure of a default-settings swap of ``image``, over faces with detail to lose."""
    result = engine.swap(image)
    size = max(engine.settings.pixel_boost, engine.swapper.size)
    crops = [(size, estimate_norm(f.kps, size)) for f in result.swapped]
    # A face much smaller in the frame than in the crop has no detail finer than the crop: what
    # the measure would divide by there is interpolation residue.
    large = [(s, m) for s, m in crops if np.sqrt(abs(np.linalg.det(m[:, :2]))) < 2.0]
    if not large:
        return 0.0, 0
    default = engine.settings.detail
    engine.update(detail=0.0)
    plain = engine.swap(image)
    engine.update(detail=default)
    mask = result.mask()
    return ghost_measure(image, result.frame, plain.frame, mask, large), len(large)


@pytest.mark.parametrize("size", [128, 512])
def test_replacing_swap_brings_back_no_ghosts_at_default_settings(
    size, replacing, photos, yunet, recognizer
) -> None:
    assert EngineSettings().detail == 1.0  # the default is what is judged
    measured = []
    engines = {}
    for path in photos:
        donor = _donor(path.name)
        if donor not in engines:
            engines[donor] = _engine(replacing[donor, size], yunet, recognizer)
        ghost, faces = _ghosts(engines[donor], read(path))
        if faces:
            measured.append(ghost)
            assert ghost <= 0.15, (path.name, ghost)
    assert len(measured) >= (0.7 if size == 128 else 0.4) * len(photos)  # 14 and 8 of the 20 shared ones


def test_the_measure_sees_the_ghosts_of_a_full_transfer(replacing, faces_dir, yunet, recognizer, monkeypatch):
    """Without the structure weight (detail added everywhere) nearly all the target's detail is back."""
    monkeypatch.setattr(paste, "detail_weight", lambda swapped, original: None)
    engine = _engine(replacing["obama_official_portrait.jpg", 128], yunet, recognizer)
    ghost, faces = _ghosts(engine, read(faces_dir / "pexels_woman_neutral.jpeg"))
    assert faces == 1
    assert ghost > 0.9


def test_detail_stays_where_the_swap_kept_the_structure(faces_dir, yunet, recognizer, identity_128) -> None:
    """A swap that redraws only the mouth keeps the target's exact pixels around the eyes."""
    image = read(faces_dir / "pexels_woman_neutral.jpeg")
    face = _engine(identity_128, yunet, recognizer).detect(image)[0]
    crop, matrix = warp_face(image, face.kps, 128)
    donor = read(faces_dir / "codait_luciano.png")
    donor_crop, _ = warp_face(donor, _engine(identity_128, yunet, recognizer).detect(donor)[0].kps, 128)
    swapped = crop.copy()
    swapped[80:] = donor_crop[80:]  # the mouth and chin of someone else
    out = image.copy()
    region = paste.paste_into(out, swapped, matrix, 1.0, 1.0, crop)
    assert region is not None
    eyes = np.zeros((128, 128), np.float32)
    eyes[30:60, 30:100] = 1
    eyes = cv2.warpAffine(eyes, cv2.invertAffineTransform(matrix), image.shape[1::-1]) > 0.999
    assert np.array_equal(out[eyes], image[eyes])
    mouth = np.zeros((128, 128), np.float32)
    mouth[95:110, 45:85] = 1
    mouth = cv2.warpAffine(mouth, cv2.invertAffineTransform(matrix), image.shape[1::-1]) > 0.999
    plain = image.copy()
    paste.paste_into(plain, swapped, matrix, 1.0, 0.0, crop)
    assert psnr(out[mouth], plain[mouth]) > 40.0  # the donor's mouth, without the target's


def test_weight_follows_the_targets_structure() -> None:
    rng = np.random.default_rng(3)
    original = cv2.GaussianBlur(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8), (0, 0), 1.5)
    assert detail_weight(original, original) is None
    recoloured = cv2.add(original, np.full_like(original, 30))  # lighting changed, structure kept
    assert detail_weight(recoloured, original).min() > 0.9
    flat = np.full_like(original, 128)  # the target's edges gone
    assert detail_weight(flat, original).mean() < 0.05
    other = cv2.GaussianBlur(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8), (0, 0), 1.5)
    assert detail_weight(other, original).mean() < 0.1


def test_weight_sampled_from_its_own_grid_lands_where_the_enlarged_one_does() -> None:
    """A 512 crop's weight stays at 128 and is warped into the frame from there: the same places
    as enlarging it to 512 first (``cv2.resize``) and warping that, up to the second interpolation
    (a scaling without resize's half-pixel shift is 50x further off)."""
    rng = np.random.default_rng(5)
    weight = np.clip(cv2.GaussianBlur(rng.random((128, 128), dtype=np.float32), (0, 0), 4) * 4 - 1.5, 0, 1)
    kps = (ARCFACE_TEMPLATE * 3 + 40).astype(np.float32)
    inverse = cv2.invertAffineTransform(estimate_norm(kps, 512))
    enlarged = cv2.warpAffine(cv2.resize(weight, (512, 512)), inverse, (480, 480), borderValue=0.0)
    direct = cv2.warpAffine(weight, crop_to_weight(inverse, 512, weight), (480, 480), borderValue=0.0)
    inside = cv2.erode((enlarged > 0).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0  # off the crop's edge
    assert inside.mean() > 0.3
    error = np.abs(direct - enlarged)[inside]
    assert error.mean() < 5e-4
    assert error.max() < 0.005
    assert np.allclose(crop_to_weight(inverse, 128, weight), inverse)  # a 128 crop's weight is its own size


def test_detail_weight_steps_move_a_pixel_by_one_grey_level_at_most() -> None:
    """The weight is applied in 1/255 steps: against the exact float sum, no pixel is off by more
    than one level, and weights of exactly 0 and 1 give exact results."""
    rng = np.random.default_rng(6)
    fake, roi, unwarped = (rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(3))
    weight = rng.random((64, 64), dtype=np.float32)
    weight[:8], weight[8:16] = 0.0, 1.0
    out = add_detail(fake, roi, unwarped, 1.0, weight).astype(np.float64)
    exact = np.clip(fake + weight[..., None] * (roi.astype(np.float64) - unwarped), 0, 255)
    assert np.abs(out - exact).max() <= 1.0
    assert np.array_equal(out[:16], np.round(exact[:16]))
