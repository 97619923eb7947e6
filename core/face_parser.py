"""The face parser (BiSeNet family): the 19 CelebAMask-HQ classes of every crop pixel.

FaceFusion's bisenet_resnet_18/34 exports (and VisoMaster's faceparser_resnet34) take the crop as
RGB, normalised with the ImageNet mean and standard deviation, NCHW, 512 x 512; the first output
holds 19 class scores per pixel. A file whose height and width are dynamic runs at the size asked
for (a lower size costs a quarter per halving).
"""

from __future__ import annotations

import cv2
import numpy as np

from .mask_model import MaskModelFile, spatial_size
from .types import Frame

CLASSES = (
    "background", "skin", "left-eyebrow", "right-eyebrow", "left-eye", "right-eye", "glasses",
    "left-ear", "right-ear", "earring", "nose", "mouth", "upper-lip", "lower-lip", "neck",
    "necklace", "cloth", "hair", "hat",
)  # fmt: skip
"""CelebAMask-HQ's classes in the order face-parsing BiSeNet models output them; ``mouth`` is the inner mouth."""
REGIONS = {name: index for index, name in enumerate(CLASSES) if name != "background"}
FACE_REGIONS = (
    "skin", "left-eyebrow", "right-eyebrow", "left-eye", "right-eye", "glasses", "nose", "mouth",
    "upper-lip", "lower-lip",
)  # fmt: skip
"""The default region mask: FaceFusion's ten face regions (no ears, neck, hair, hat or clothes)."""
DEFAULT_SIZE = 512
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255.0
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255.0


class FaceParser:
    """Aligned crops -> a class index per pixel (uint8, at the parser's size)."""

    def __init__(self, model: MaskModelFile, size: int = DEFAULT_SIZE) -> None:
        self.model = model
        if model.input.dim(1) != 3:
            raise model.wrong("its input is not NCHW with 3 colour channels")
        self.size = spatial_size(model, "NCHW", size)
        out = model.signature.outputs[0]
        if out.rank != 4 or out.dim(1) != len(CLASSES):
            raise model.wrong(f"its first output does not hold {len(CLASSES)} class scores per pixel")

    def classes(self, crops: list[Frame]) -> list[np.ndarray]:
        s = self.size
        blob = np.empty((len(crops), 3, s, s), dtype=np.float32)
        for i, crop in enumerate(crops):
            rgb = cv2.cvtColor(cv2.resize(crop, (s, s), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
            blob[i] = ((rgb.astype(np.float32) - _MEAN) / _STD).transpose(2, 0, 1)
        scores = self.model.run(blob)
        return [s.argmax(axis=0).astype(np.uint8) for s in scores]
