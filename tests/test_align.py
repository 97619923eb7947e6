"""ArcFace alignment: template families and the similarity fit, against the reference."""

from __future__ import annotations

import numpy as np
import pytest

from inswapper_live.core.align import ARCFACE_TEMPLATE, estimate_norm, template, umeyama, warp_face


@pytest.mark.parametrize(
    ("size", "scale", "shift"),
    [(112, 1.0, 0.0), (224, 2.0, 0.0), (448, 4.0, 0.0), (128, 1.0, 8.0), (256, 2.0, 16.0), (512, 4.0, 32.0)],
)
def test_template_families(size: int, scale: float, shift: float) -> None:
    points = template(size)
    base = ARCFACE_TEMPLATE * (scale if size % 112 == 0 else size / 128)
    assert np.allclose(points[:, 0], base[:, 0] + shift)
    assert np.allclose(points[:, 1], base[:, 1])


def test_template_rejects_other_sizes() -> None:
    with pytest.raises(ValueError, match="neither"):
        template(100)


def test_umeyama_recovers_a_known_similarity() -> None:
    rng = np.random.default_rng(3)
    src = rng.uniform(0, 300, (5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -40.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ (scale * rot).T + shift
    m = umeyama(src, dst)
    assert np.allclose(m[:, :2], scale * rot) and np.allclose(m[:, 2], shift)


def test_umeyama_equals_the_svd_solution_on_any_points() -> None:
    """Scattered and mirrored point sets too (where the SVD solution must refuse a reflection)."""
    from skimage.transform import SimilarityTransform

    rng = np.random.default_rng(7)
    for i in range(200):
        src = rng.normal(0, 50, (5, 2))
        dst = rng.normal(0, 50, (5, 2)) if i % 2 else src[:, ::-1] * 1.3 + rng.normal(0, 2, (5, 2))
        reference = SimilarityTransform.from_estimate(src, dst)
        assert np.allclose(umeyama(src, dst), reference.params[:2], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("size", [112, 128, 256, 384, 512])
def test_matches_reference_estimate_norm(size: int) -> None:
    from insightface.utils.face_align import estimate_norm as reference

    rng = np.random.default_rng(size)
    for _ in range(25):
        kps = (
            ARCFACE_TEMPLATE * rng.uniform(0.5, 5) + rng.normal(0, 4, (5, 2)) + rng.uniform(0, 900, 2)
        ).astype(np.float32)
        ours, theirs = estimate_norm(kps, size), reference(kps, size)
        assert np.allclose(ours, theirs, rtol=1e-5, atol=1e-3)


def test_warp_puts_landmarks_on_the_template() -> None:
    frame = np.zeros((400, 400, 3), np.uint8)
    kps = (ARCFACE_TEMPLATE * 2.5 + [60, 40]).astype(np.float32)
    crop, m = warp_face(frame, kps, 256)
    assert crop.shape == (256, 256, 3)
    mapped = np.c_[kps, np.ones(5)] @ m.T
    assert np.abs(mapped - template(256)).max() < 1e-3
