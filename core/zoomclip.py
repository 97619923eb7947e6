"""A short clip that zooms and pans over a still photo.

The tests and ``bench --jitter`` need clips with steady faces, and no video with a clear
licence is committed: a camera move over a public-domain still gives frame I/O and tracking
a clip whose only motion is smooth, so any acceleration a tracker reports is jitter.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .errors import OutputError
from .imageio import read_image


def _window(
    w: int, h: int, t: float, aspect: float, zoom: float, focus: tuple[float, float]
) -> tuple[float, float, float, float]:
    """x, y, width, height at ``t`` (0..1): the widest ``aspect`` window around ``focus``, shrunk by ``zoom``.

    The window stays inside the photo, so it also pans while it narrows toward a focus near an edge.
    """
    full_w = min(w, h * aspect)
    ease = t * t * (3 - 2 * t)  # smoothstep: the camera starts and stops gently
    cw = full_w / (1 + (zoom - 1) * ease)
    ch = cw / aspect
    cx, cy = focus[0] * w, focus[1] * h
    x0 = float(np.clip(cx - cw / 2, 0, w - cw))
    y0 = float(np.clip(cy - ch / 2, 0, h - ch))
    return x0, y0, cw, ch


def make_zoom_clip(
    photo: Path | str,
    output: Path | str,
    size: tuple[int, int] = (640, 480),
    frames: int = 75,
    fps: int = 25,
    zoom: float = 1.4,
    focus: tuple[float, float] = (0.5, 0.4),
) -> Path:
    """Write ``frames`` frames (mp4v) of a slow zoom by ``zoom`` toward ``focus`` (fractions of the photo)."""
    image = read_image(photo).bgr
    output = Path(output)
    writer = cv2.VideoWriter(str(output), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise OutputError(f"Cannot write clip {output}: OpenCV has no mp4v encoder here.")
    try:
        for i in range(frames):
            t = i / max(frames - 1, 1)
            x0, y0, cw, ch = _window(image.shape[1], image.shape[0], t, size[0] / size[1], zoom, focus)
            sx, sy = size[0] / cw, size[1] / ch
            matrix = np.array([[sx, 0, -x0 * sx], [0, sy, -y0 * sy]], dtype=np.float64)
            writer.write(
                cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            )
    finally:
        writer.release()
    return output
