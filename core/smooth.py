"""Landmark smoothing for live video: a One-Euro filter that snaps on real jumps.

Detectors jitter by a pixel or two from frame to frame even on a still face, and the swapped
face inherits every twitch. A One-Euro filter smooths hard when the face is still and opens up
as it moves, so jitter goes without holding back real motion. A sudden move (the innovation is
many times the jitter seen so far) resets it to the new position at once. Speeds are measured
in face sizes per second, so the same settings suit a 100 px and a 1000 px face.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SmoothingSettings:
    enabled: bool = True
    min_cutoff: float = 0.5
    """Hz: the cutoff for a still face; lower smooths more."""
    beta: float = 2.0
    """How fast the cutoff rises with speed (per face size per second)."""
    d_cutoff: float = 1.0
    """Hz: the cutoff of the speed estimate."""
    jump: float = 8.0
    """A move larger than this many times the typical jitter resets the filter."""
    min_jitter: float = 0.5
    """Pixels: the jitter assumed at least, so a perfectly still input does not make every move a jump."""


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
        self.jitter = settings.min_jitter

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
        change = np.abs(x - self.value)
        jumped = float(change.mean()) > s.jump * self.jitter
        # A jump adds at most a few times the current jitter, so one real move barely raises it.
        innovation = min(float(change.mean()), 4.0 * self.jitter)
        self.jitter = max(s.min_jitter, 0.95 * self.jitter + 0.05 * innovation)
        if jumped:
            return self._restart(x, t)
        dt = t - self.time
        speed = (x - self.value) / dt / max(scale, 1.0)
        a_d = _alpha(s.d_cutoff, dt)
        self.speed = a_d * speed + (1.0 - a_d) * self.speed
        a = _alpha(s.min_cutoff + s.beta * np.abs(self.speed), dt)
        self.value = a * x + (1.0 - a) * self.value
        self.time = t
        return self.value.astype(np.float32)
