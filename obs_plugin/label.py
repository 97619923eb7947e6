"""The optional on-stream disclosure label ("AI face swap") a streamer can turn on."""

from __future__ import annotations

import cv2
import numpy as np

from ..core.types import Frame
from .formats import Box

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_SHADE = 0.6
"""How dark the box behind the text is (0 clear .. 1 black)."""


def draw_label(frame: Frame, text: str, position: str, size_percent: int) -> Box | None:
    """Draw ``text`` on a dark box in a corner of ``frame`` (in place); return the box it covers."""
    h, w = frame.shape[:2]
    if not text or h < 8 or w < 8:
        return None
    text_h = max(6, round(h * min(max(size_percent, 1), 50) / 100))
    thickness = max(1, text_h // 12)
    scale = cv2.getFontScaleFromHeight(_FONT, text_h, thickness)
    (tw, th), baseline = cv2.getTextSize(text, _FONT, scale, thickness)
    pad = max(2, text_h // 4)
    bw, bh = min(tw + 2 * pad, w), min(th + baseline + 2 * pad, h)
    margin = max(2, min(w, h) // 50)
    x0 = margin if position.endswith("left") else w - bw - margin
    y0 = margin if position.startswith("top") else h - bh - margin
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(w, x0 + bw), min(h, y0 + bh)
    region = frame[y0:y1, x0:x1]
    region[...] = (region.astype(np.float32) * (1.0 - _SHADE)).astype(np.uint8)
    cv2.putText(frame, text, (x0 + pad, y0 + pad + th), _FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return y0, y1, x0, x1
