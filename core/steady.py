"""Steadier places for carried faces: the picture's jerks smoothed away, the head's motion kept.

Smooth motion pastes the latest swapped faces where optical flow moves them, and flow follows
the picture exactly: a camera's frame-to-frame jerks (a zoomed or scaled clip's rounding shifts
the whole picture by up to a pixel, unevenly) come through in full, while the live session
smooths its detections past them. Two things steady the pasted faces:

- ``CameraPath`` follows the background (the picture outside the faces) frame to frame and
  filters that camera path with the constant-velocity Kalman filter of ``core.smooth``, held
  within a small distance of the measured path. A face is moved by the filtered camera motion
  since its swap instead of the measured one. A still camera changes nothing, nor does a head
  moving over a still background: its motion is its own, not the camera's, and is kept as measured.
- ``Steadier`` keeps each face's steadied landmarks, moves them along with the face's flow
  frame by frame, and draws them toward where the latest swap places the face, so a new swap
  blends in over a few frames rather than pops, and the detections' jitter that each new swap
  brings is averaged away.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Sequence
from dataclasses import replace

import numpy as np

from .align import umeyama
from .smooth import ConstantVelocity, SmoothingSettings
from .track import background_transform, transform_face
from .types import Face

_HISTORY = 256
"""Frames whose camera correction is remembered, so a swap that arrives late finds its frame's."""
_JUMP = 0.1
"""Face sizes: a swap placed this far from the steadied face is somewhere else, not jitter: it is
pasted there at once."""
_ANCHORS = np.array([[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]])
"""Where the camera path is followed, in frame widths and heights."""


def _homogeneous(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0.0, 0.0, 1.0]])


class CameraPath:
    """The camera's motion over the frames shown, measured and filtered (``SmoothingSettings``
    in frame widths), the filtered path held within ``limit`` frame widths of the measured one;
    ``correction`` takes a measured position to the filtered path's."""

    def __init__(self, settings: SmoothingSettings, limit: float) -> None:
        self.settings = settings
        self.limit = limit
        self.reset()

    def reset(self) -> None:
        """Start again (a cut, no faces): the next frame begins a new path."""
        self._filter = ConstantVelocity(self.settings)
        self._camera = np.eye(3)
        """The measured motion from the path's first frame to the latest (3x3)."""
        self.gray: np.ndarray | None = None
        """The flow image of the latest frame."""
        self._times: list[float] = []
        self._corrections: list[np.ndarray] = []

    def update(self, gray: np.ndarray, scale: float, time: float, faces: Sequence[Face]) -> None:
        """Follow the background from the previous frame to this one (``gray``: its flow image;
        ``time`` later than the previous frame's)."""
        previous, self.gray = self.gray, gray
        if not self.settings.enabled:
            return
        step = None
        if (
            previous is not None
            and previous.shape == gray.shape
            and (not self._times or time > self._times[-1])
        ):
            step = background_transform(previous, gray, faces, scale)
        if step is None:  # a first frame, a new size, or too little background to follow: a new path
            self.reset()
            self.gray = gray
        else:
            self._camera = _homogeneous(step) @ self._camera
        height, width = gray.shape[:2]
        size = np.array([width, height]) / scale
        points = _ANCHORS * size
        measured = np.c_[points, np.ones(len(points))] @ self._camera[:2].T
        filtered = self._filter(measured, time, float(size[0])).astype(np.float64)
        lag = filtered - measured
        longest = float(np.linalg.norm(lag, axis=-1).max())
        if longest > self.limit * size[0]:  # a real pan or zoom: follow it, at most ``limit`` behind
            filtered = measured + lag * (self.limit * size[0] / longest)
            self._filter.value = filtered
        smoothed = _homogeneous(umeyama(points, filtered))
        self._times.append(time)
        self._corrections.append(smoothed @ np.linalg.inv(self._camera))
        del self._times[:-_HISTORY], self._corrections[:-_HISTORY]

    def correction(self, since: float, time: float) -> np.ndarray:
        """The move (2x3) that takes a face carried from frame ``since`` to frame ``time`` by the
        measured camera motion to where the filtered camera motion takes it."""
        now, then = self._at(time), self._at(since)
        if now is None or then is None:  # a frame from before the path began: nothing to correct
            return np.eye(3)[:2]
        return (now @ np.linalg.inv(then))[:2]

    def _at(self, time: float) -> np.ndarray | None:
        """The correction of the latest frame at or before ``time`` (a swap's time may be taken a
        little after the frame was shown)."""
        index = bisect.bisect_right(self._times, time) - 1
        return self._corrections[index] if index >= 0 else None


class Steadier:
    """Each carried face's steadied landmarks, by the face's key: moved along with the face frame by
    frame, and drawn toward where the latest swap places it with a time constant of ``settle``."""

    def __init__(self, settle: float) -> None:
        self.settle = settle
        self._faces: dict[Hashable, tuple[Face, float]] = {}

    def reset(self) -> None:
        self._faces = {}

    def previous(self, key: Hashable | None) -> tuple[Face, float] | None:
        """The face's steadied landmarks on the frame it was last carried to, and that frame's time."""
        return self._faces.get(key) if key is not None else None

    def update(self, key: Hashable | None, measured: Face, step: np.ndarray | None, time: float) -> Face:
        """The face steadied at ``time``: its previous steadied face moved by ``step`` (2x3, from the
        frame before; None where it is not known) and drawn toward ``measured``."""
        before = self._faces.get(key) if key is not None else None
        steady = measured
        if before is not None and step is not None and self.settle > 0 and time > before[1]:
            moved = transform_face(before[0], step)
            gap = measured.kps - moved.kps
            if np.linalg.norm(gap, axis=-1).max() <= _JUMP * np.sqrt(max(measured.area, 1.0)):
                pull = 1.0 - np.exp(-(time - before[1]) / self.settle)
                steady = replace(moved, kps=(moved.kps + pull * gap).astype(np.float32))
        if key is not None:
            self._faces[key] = (steady, time)
        return steady

    def keep(self, keys: Sequence[Hashable | None]) -> None:
        """Forget the faces no longer carried."""
        self._faces = {k: v for k, v in self._faces.items() if k in keys}
