"""How steady and how timely a live session's landmarks are, measured on a clip.

Jitter is a landmark track's mean distance (pixels) from a centred quadratic fit over +-4
frames of that same track: what the track does that smooth motion does not explain. It is
measured for the raw detections and for the live session's output. Offset is the live
landmarks' mean distance from the fit of the raw detections: how far the swapped face sits from
where the head is, lag included. Both are also given as a fraction of the eye distance.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from .types import Face

HALF_WINDOW = 4
"""The fit spans this many frames on each side of the frame it is evaluated at."""


@functools.cache
def _centre_weights(half: int) -> np.ndarray:
    """Weights that give a quadratic least-squares fit's value at the centre of 2*half+1 samples."""
    x = np.arange(-half, half + 1, dtype=np.float64)
    design = np.stack([np.ones_like(x), x, x * x], axis=1)
    hat = design @ np.linalg.pinv(design)
    return hat[half]


def centred_fit(track: np.ndarray, half: int = HALF_WINDOW) -> np.ndarray:
    """The fit's value at each frame with ``half`` frames on both sides (``track``: T x ...)."""
    weights = _centre_weights(half)
    count = len(track) - 2 * half
    if count <= 0:
        return np.zeros((0, *track.shape[1:]))
    return sum(w * track[k : k + count] for k, w in enumerate(weights))


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=-1)


@dataclass(frozen=True)
class Steadiness:
    """Figures for one clip, in pixels and in eye distances."""

    raw_jitter: float
    live_jitter: float
    offset: float
    eye_distance: float
    samples: int
    """Landmark positions the figures average over (frames x landmarks)."""

    @property
    def ratio(self) -> float:
        """How many times lower the live jitter is than the raw."""
        return self.raw_jitter / max(self.live_jitter, 1e-9)

    @property
    def offset_eyes(self) -> float:
        return self.offset / max(self.eye_distance, 1e-9)


def steadiness(tracks: list[tuple[np.ndarray, np.ndarray]], half: int = HALF_WINDOW) -> Steadiness:
    """Jitter and offset over several tracks, each a pair (raw, live) of T x 5 x 2 landmarks.

    Every track holds consecutive frames of one face; frames without ``half`` neighbours on both
    sides of the same track are not measured.
    """
    raw_d, live_d, offset_d, eyes = [], [], [], []
    for raw, live in tracks:
        raw, live = np.asarray(raw, np.float64), np.asarray(live, np.float64)
        if len(raw) <= 2 * half:
            continue
        inner = slice(half, len(raw) - half)
        raw_fit = centred_fit(raw, half)
        raw_d.append(_distances(raw[inner], raw_fit).ravel())
        live_d.append(_distances(live[inner], centred_fit(live, half)).ravel())
        offset_d.append(_distances(live[inner], raw_fit).ravel())
        eyes.append(_distances(raw[inner, 0], raw[inner, 1]))
    if not raw_d:
        raise ValueError(f"no track is longer than {2 * half + 1} frames")
    return Steadiness(
        float(np.concatenate(raw_d).mean()),
        float(np.concatenate(live_d).mean()),
        float(np.concatenate(offset_d).mean()),
        float(np.concatenate(eyes).mean()),
        int(sum(len(d) for d in raw_d)),
    )


def _similarity(scale: float, angle: float, centre: np.ndarray, to: np.ndarray) -> np.ndarray:
    """2x3: rotate by ``angle`` and scale by ``scale`` about ``centre``, which lands on ``to``."""
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    m = np.array([[c, -s, 0.0], [s, c, 0.0]])
    m[:, 2] = to - m[:, :2] @ centre
    return m


def head_path(frames: int, fps: float, seed: int = 0) -> np.ndarray:
    """A head's motion, frame by frame: (dx, dy) in face sizes, rotation (radians), scale factor.

    Sways (two sines each way), a nod or turn now and then (a quick smooth step of up to half a
    face), a slight roll and a slight lean in and out, at irregular times a seed fixes.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    path = np.zeros((frames, 4))
    for axis, amplitude in ((0, 0.25), (1, 0.1)):
        for _ in range(2):
            f, phase = rng.uniform(0.2, 0.9), rng.uniform(0, 2 * np.pi)
            path[:, axis] += amplitude * rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * f * t + phase)
        for at in rng.uniform(0, t[-1], 3):
            step, width = rng.uniform(-0.5, 0.5), rng.uniform(0.3, 0.8)
            path[:, axis] += step * 0.5 * (1 + np.tanh((t - at) / width * 3))
    path[:, 2] = np.radians(6) * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t + rng.uniform(0, 6))
    path[:, 3] = 1 + 0.06 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t + rng.uniform(0, 6))
    return path


def head_motion_clip(
    photo: np.ndarray, face: Face, size: tuple[int, int], eyes: float, path: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames of ``photo``'s head moving along ``path`` over a still background, and each frame's transform.

    The head (an ellipse around ``face``) is warped by the path and laid over a still, faceless
    background, so only the head moves. ``eyes`` sets the eye distance in pixels
    at rest. The transforms (2x3, photo to frame) give the true landmarks: ``transform @ kps``.
    """
    width, height = size
    kps = face.kps.astype(np.float64)
    centre = kps.mean(axis=0)
    rest = eyes / float(np.linalg.norm(kps[1] - kps[0]))
    middle = np.array([width / 2, height / 2])
    face_size = float(np.sqrt(face.area)) * rest
    # A still background with texture but no face: the photo's colours, scrambled and blurred.
    rng = np.random.default_rng(0)
    pixels = photo.reshape(-1, 3)[rng.integers(0, photo.shape[0] * photo.shape[1], width * height)]
    background = cv2.GaussianBlur(pixels.reshape(height, width, 3), (0, 0), 6).astype(np.float32)
    mask = np.zeros(photo.shape[:2], np.float32)
    axes = (int(0.75 * np.sqrt(face.area)), int(np.sqrt(face.area)))
    cv2.ellipse(mask, tuple(int(v) for v in centre), axes, 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 0.08 * np.sqrt(face.area))
    frames, transforms = [], []
    for dx, dy, angle, lean in path:
        m = _similarity(rest * lean, angle, centre, middle + face_size * np.array([dx, dy]))
        head = cv2.warpAffine(photo, m, size).astype(np.float32)
        alpha = cv2.warpAffine(mask, m, size)[..., None]
        frames.append((head * alpha + background * (1 - alpha)).round().astype(np.uint8))
        transforms.append(m)
    return frames, transforms
