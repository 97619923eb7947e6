"""Landmark smoothing for live video: steady landmarks that keep up with the head.

Detectors jitter by a pixel or two from frame to frame even on a still face, and the swapped
face inherits every twitch. A plain low-pass (One-Euro) cuts the jitter but trails a moving
head: the swapped face slides behind it. The default filter is a constant-velocity Kalman
filter instead: it predicts where a moving face will be and corrects by each detection, so
steady motion is followed without lag while jitter is averaged away. Its motion and noise are
in face sizes, so the same settings suit a 100 px and a 1000 px face. A sudden move (the
innovation is many times the jitter seen so far) resets either filter to the new position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import SettingsError

FILTERS = ("kalman", "one_euro")


@dataclass(frozen=True)
class SmoothingSettings:
    enabled: bool = True
    method: str = "kalman"
    """``kalman`` (constant velocity: no lag on steady motion) or ``one_euro`` (a low-pass)."""
    noise: float = 0.01
    """Kalman, face sizes: the detector's landmark noise (standard deviation)."""
    accel: float = 0.1
    """Kalman: how freely the speed may change, in face sizes per second^1.5 (white-noise
    acceleration); higher follows sudden moves sooner and smooths less."""
    maneuver: float = 2.0
    """Kalman: an innovation this many standard deviations from the prediction raises the
    process noise for that step (0: never), so a sudden move is followed sooner."""
    min_cutoff: float = 0.5
    """One-Euro, Hz: the cutoff for a still face; lower smooths more."""
    beta: float = 2.0
    """One-Euro: how fast the cutoff rises with speed (per face size per second)."""
    d_cutoff: float = 1.0
    """One-Euro, Hz: the cutoff of the speed estimate."""
    jump: float = 8.0
    """A move larger than this many times the typical jitter resets the filter."""
    min_jitter: float = 0.5
    """Pixels: the jitter assumed at least, so a perfectly still input does not make every move a jump."""


class _Jumps:
    """Tells a real jump from jitter: a change many times the typical innovation."""

    def __init__(self, settings: SmoothingSettings) -> None:
        self.settings = settings
        self.jitter = settings.min_jitter

    def __call__(self, change: float) -> bool:
        s = self.settings
        jumped = change > s.jump * self.jitter
        # A jump adds at most a few times the current jitter, so one real move barely raises it.
        innovation = min(change, 4.0 * self.jitter)
        self.jitter = max(s.min_jitter, 0.95 * self.jitter + 0.05 * innovation)
        return jumped


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuro:
    """Filters one array of coordinates (any shape) sampled at known times."""

    def __init__(self, settings: SmoothingSettings) -> None:
        self.settings = settings
        self.value: np.ndarray | None = None
        self.speed: np.ndarray | None = None
        self.time: float | None = None
        self._jumps = _Jumps(settings)

    def _restart(self, x: np.ndarray, t: float) -> np.ndarray:
        self.value, self.speed, self.time = x.copy(), np.zeros_like(x), t
        return x.astype(np.float32)

    def __call__(self, x: np.ndarray, t: float, scale: float) -> np.ndarray:
        """The smoothed ``x`` at time ``t`` (seconds); ``scale`` is the face size in pixels."""
        s = self.settings
        x = np.asarray(x, dtype=np.float64)
        if not s.enabled:
            return x.astype(np.float32)
        if self.value is None or self.time is None or t <= self.time or x.shape != self.value.shape:
            return self._restart(x, t)
        if self._jumps(float(np.abs(x - self.value).mean())):
            return self._restart(x, t)
        dt = t - self.time
        speed = (x - self.value) / dt / max(scale, 1.0)
        a_d = _alpha(s.d_cutoff, dt)
        self.speed = a_d * speed + (1.0 - a_d) * self.speed
        a = _alpha(s.min_cutoff + s.beta * np.abs(self.speed), dt)
        self.value = a * x + (1.0 - a) * self.value
        self.time = t
        return self.value.astype(np.float32)


class ConstantVelocity:
    """A constant-velocity Kalman filter over an array of coordinates sampled at known times.

    Every coordinate has the same noise and motion model, so they share one 2x2 covariance.
    """

    def __init__(self, settings: SmoothingSettings) -> None:
        self.settings = settings
        self.value: np.ndarray | None = None
        self.velocity: np.ndarray | None = None
        self.covariance = np.zeros((2, 2))
        self.time: float | None = None
        self._jumps = _Jumps(settings)

    def _restart(self, x: np.ndarray, t: float, scale: float) -> np.ndarray:
        self.value, self.velocity, self.time = x.copy(), np.zeros_like(x), t
        # Position as sure as one detection; speed unknown (up to a face size per second).
        size = max(scale, 1.0)
        self.covariance = np.diag([(self.settings.noise * size) ** 2, size**2])
        return x.astype(np.float32)

    def __call__(self, x: np.ndarray, t: float, scale: float) -> np.ndarray:
        """The filtered ``x`` at time ``t`` (seconds); ``scale`` is the face size in pixels."""
        s = self.settings
        x = np.asarray(x, dtype=np.float64)
        if not s.enabled:
            return x.astype(np.float32)
        if self.value is None or self.time is None or t <= self.time or x.shape != self.value.shape:
            return self._restart(x, t, scale)
        dt = t - self.time
        predicted = self.value + self.velocity * dt
        innovation = x - predicted
        if self._jumps(float(np.abs(innovation).mean())):
            return self._restart(x, t, scale)
        f = np.array([[1.0, dt], [0.0, 1.0]])
        size = max(scale, 1.0)
        r = (s.noise * size) ** 2
        carried = f @ self.covariance @ f.T
        white = (s.accel * size) ** 2 * np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]])
        p = carried + white
        if s.maneuver > 0:
            # The head changed speed more than the model expects: let the speed go for this step.
            surprise = float(np.sqrt(np.mean(innovation**2) / (p[0, 0] + r))) / s.maneuver
            if surprise > 1.0:
                p = carried + white * surprise**2
        gain = p[:, 0] / (p[0, 0] + r)
        self.value = predicted + gain[0] * innovation
        self.velocity = self.velocity + gain[1] * innovation
        self.covariance = p - np.outer(gain, p[0])
        self.time = t
        return self.value.astype(np.float32)


def make_filter(settings: SmoothingSettings) -> OneEuro | ConstantVelocity:
    """The landmark filter ``settings.method`` names."""
    if settings.method == "kalman":
        return ConstantVelocity(settings)
    if settings.method == "one_euro":
        return OneEuro(settings)
    raise SettingsError(f"Unknown smoothing method {settings.method!r}: choose one of {', '.join(FILTERS)}.")
