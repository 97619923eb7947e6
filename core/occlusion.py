"""The occluder (XSeg family): what covers the face, so that it keeps the target's pixels.

FaceFusion's face_masker feeds its XSeg exports (xseg_1/2/3, dfl_xseg) the aligned crop in BGR
order, scaled to 0..1, resized to the model's square input, and reads one channel back: 1 where
the face shows, 0 where a hand, a microphone or hair covers it. The layout (NHWC or NCHW), the
input size and the dtype differ between exports, so they are read from the file.
"""

from __future__ import annotations

import cv2
import numpy as np

from .mask_model import MaskModelFile, spatial_size
from .modelinfo import DETECTORS, classify
from .types import Frame, Mask

DEFAULT_SIZE = 256
"""XSeg's native size, used when a file leaves its height and width dynamic."""


class Occluder:
    """Aligned crops -> face-visible masks (1: swap, 0: keep the target) at the model's size."""

    def __init__(self, model: MaskModelFile) -> None:
        self.model = model
        kind = classify(model.signature)
        if kind in DETECTORS:  # YuNet's first output passes for a one-channel mask: say what it is
            raise model.wrong(f"it is a {kind.value}")
        shape = model.input
        if shape.dim(1) == 3:
            self.layout = "NCHW"
        elif shape.dim(3) == 3:
            self.layout = "NHWC"
        else:
            raise model.wrong("its input has no axis of 3 colour channels (NCHW or NHWC)")
        self.size = spatial_size(model, self.layout, DEFAULT_SIZE)
        out = model.signature.outputs[0]
        channels = [out.dim(a) for a in range(1, out.rank)] if out.rank == 4 else []
        if out.rank not in (3, 4) or (out.rank == 4 and 1 not in (channels[0], channels[-1])):
            raise model.wrong("its first output is not a one-channel mask")

    def masks(self, crops: list[Frame]) -> list[Mask]:
        s = self.size
        blob = np.stack([cv2.resize(c, (s, s), interpolation=cv2.INTER_AREA) for c in crops])
        blob = blob.astype(np.float32) * (1.0 / 255.0)
        if self.layout == "NCHW":
            blob = blob.transpose(0, 3, 1, 2)
        out = self.model.run(np.ascontiguousarray(blob)).astype(np.float32)
        if out.ndim == 4:
            out = out[:, 0] if out.shape[1] == 1 else out[..., 0]
        return [np.clip(m, 0.0, 1.0) for m in out]
