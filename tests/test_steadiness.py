"""The jitter and offset figures (core.jitter) and the constant-velocity landmark filter."""

from __future__ import annotations

import numpy as np
import pytest

from inswapper_live.core.align import ARCFACE_TEMPLATE
from inswapper_live.core.jitter import centred_fit, steadiness
from inswapper_live.core.smooth import ConstantVelocity, OneEuro, SmoothingSettings

FPS = 30.0


def test_the_centred_fit_is_exact_on_quadratic_motion_and_sees_jitter() -> None:
    t = np.arange(40, dtype=np.float64)
    quadratic = np.stack([0.02 * t**2 - 3 * t + 7, 1.5 * t], axis=-1)[:, None, :].repeat(5, axis=1)
    assert np.allclose(centred_fit(quadratic), quadratic[4:-4])
    noisy = quadratic + np.where(t % 2 == 0, 1.0, -1.0)[:, None, None] * [1.0, 0.0]  # +-1 px in x
    figures = steadiness([(noisy, quadratic)])
    # An alternating +-1 px is all jitter: the fit's weights (-21, 14, 39, 54, 59, ...)/231 take
    # -41/231 of it, so the track sits 1 + 41/231 px from its fit, and the fit 41/231 px off.
    assert figures.raw_jitter == pytest.approx(1 + 41 / 231)
    assert figures.live_jitter == pytest.approx(0.0, abs=1e-9)
    assert figures.offset == pytest.approx(41 / 231)
    shifted = steadiness([(quadratic, quadratic + np.array([3.0, 4.0]))])
    assert shifted.offset == pytest.approx(5.0) and shifted.live_jitter == pytest.approx(0.0, abs=1e-9)
    assert figures.samples == 32 * 5


def _walk(filter_, size: float, speed: float, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A face moving at ``speed`` px/s, measured with ``noise`` px of jitter: (raw, filtered)."""
    rng = np.random.default_rng(seed)
    shape = (ARCFACE_TEMPLATE - 56) / 112 * size + 300
    raw, out = [], []
    for i in range(150):
        measured = (
            shape + np.array([speed * i / FPS, 0.3 * speed * i / FPS]) + rng.normal(0, noise, shape.shape)
        )
        raw.append(measured)
        out.append(filter_(measured, i / FPS, size))
    return np.array(raw)[30:], np.array(out)[30:]


@pytest.mark.parametrize(("size", "noise"), [(90, 0.8), (250, 1.2), (600, 2.5)])
def test_constant_velocity_filter_cuts_jitter_without_trailing_a_moving_face(
    size: float, noise: float
) -> None:
    speed = 0.8 * size  # px/s: a head crossing its own width in about a second
    raw, kalman = _walk(ConstantVelocity(SmoothingSettings()), size, speed, noise, int(size))
    figures = steadiness([(raw, kalman)])
    eyes = figures.eye_distance
    assert figures.ratio >= 3.0
    assert figures.offset <= eyes / 50
    _, one_euro = _walk(OneEuro(SmoothingSettings(method="one_euro")), size, speed, noise, int(size))
    trailing = steadiness([(raw, one_euro)])
    assert trailing.offset > 2 * figures.offset, "the low-pass trails; the Kalman filter does not"


def test_constant_velocity_filter_snaps_to_a_jump() -> None:
    kalman = ConstantVelocity(SmoothingSettings())
    shape = (ARCFACE_TEMPLATE - 56) / 112 * 200 + 300
    rng = np.random.default_rng(3)
    for i in range(60):
        target = shape + (80.0 if i >= 30 else 0.0)
        out = kalman(target + rng.normal(0, 1.0, shape.shape), i / FPS, 200)
        if i == 30:
            assert np.abs(out - target).mean() < 3.0, "the frame of the jump"
