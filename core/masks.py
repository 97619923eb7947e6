"""Masks that decide, inside the aligned crop, where the swap shows: box, occlusion, region, mouth.

As in FaceFusion, each enabled mask is a 0..1 weight over the crop and they combine as their
per-pixel minimum; the result is carried through the inverse warp and multiplied into the
reference blend mask at paste-back (core.paste). With no mask enabled nothing changes: the
reference mask alone. The models behind the masks are opened only when a mask needs them, and
reused while their file and runtime stay the same. A live session may keep each tracked face's
model masks for a few frames (``refresh_every``), which is where most of their cost goes.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import SettingsError
from .face_parser import FACE_REGIONS, REGIONS, FaceParser
from .landmark106 import MOUTH, Landmarker106
from .mask_model import open_mask_model
from .occlusion import Occluder
from .paste import Footprint, blend_mask, crop_box
from .runtime import RuntimeSettings
from .types import Face, Frame, Mask, Matrix

MASK_TYPES = ("box", "occlusion", "region", "mouth")
MOUTH_SOURCES = ("parser", "landmarks")
_EDGE = 0.02
"""Soft edge of model masks, as a share of the mask's size (FaceFusion: sigma 5 at 256)."""


@dataclass(frozen=True)
class MaskSettings:
    """Which masks shape the swap, and their settings; the default is the reference mask alone."""

    types: tuple[str, ...] = ()
    """Any of box, occlusion, region, mouth; combined as their per-pixel minimum."""
    padding: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    """Box mask: top, right, bottom, left, in % of the crop, kept as the target."""
    blur: float = 0.0
    """Box mask: edge blur as a share of half the crop (FaceFusion's face_mask_blur); 0 is a hard edge."""
    occluder: str = "xseg"
    """XSeg-family model (name or path) for the occlusion mask."""
    parser: str = "faceparser_resnet34"
    """BiSeNet-family face parser (name or path) for the region mask and the parser's mouth."""
    regions: tuple[str, ...] = FACE_REGIONS
    """Parser classes the swap covers (region mask)."""
    mouth_from: str = "parser"
    """Where the mouth comes from: the parser's inner-mouth class, or 2d106det's mouth points."""
    landmarker: str = "2d106det"
    """106-point landmark model (name or path) for ``mouth_from = landmarks``."""
    parser_size: int = 256
    """Parser input size when the file leaves it dynamic (a fixed size in the file wins)."""
    refresh_every: int = 1
    """Live sessions: recompute a tracked face's model masks every N frames (1: every frame)."""

    def validate(self) -> MaskSettings:
        unknown = [t for t in self.types if t not in MASK_TYPES]
        if unknown:
            raise SettingsError(f"mask {', '.join(unknown)} is unknown; choose from {', '.join(MASK_TYPES)}.")
        bad = [r for r in self.regions if r not in REGIONS]
        if bad:
            raise SettingsError(f"mask region {', '.join(bad)} is unknown; choose from {', '.join(REGIONS)}.")
        if len(self.padding) != 4 or not all(0.0 <= p <= 100.0 for p in self.padding):
            raise SettingsError(
                f"mask padding is {self.padding}; give 4 values top,right,bottom,left from 0 to 100 (%)."
            )
        if not 0.0 <= self.blur <= 1.0:
            raise SettingsError(f"mask blur is {self.blur}; it must be between 0 and 1.")
        if self.mouth_from not in MOUTH_SOURCES:
            raise SettingsError(f"mouth source is {self.mouth_from!r}; choose {' or '.join(MOUTH_SOURCES)}.")
        if self.refresh_every < 1:
            raise SettingsError(f"mask refresh is {self.refresh_every}; use 1 (every frame) or more.")
        if self.parser_size < 64 or self.parser_size % 32:
            raise SettingsError(
                f"parser size is {self.parser_size}; use a multiple of 32 such as 256 or 512."
            )
        return self

    @property
    def uses_parser(self) -> bool:
        return "region" in self.types or ("mouth" in self.types and self.mouth_from == "parser")

    @property
    def uses_landmarker(self) -> bool:
        return "mouth" in self.types and self.mouth_from == "landmarks"

    @property
    def model_types(self) -> tuple[str, ...]:
        return tuple(t for t in self.types if t != "box")


def parse_list(text: str, what: str) -> tuple[str, ...]:
    """``a,b, c`` -> ("a", "b", "c"); ``none`` or empty -> ()."""
    items = tuple(t.strip().lower() for t in text.split(",") if t.strip())
    if items in ((), ("none",)):
        return ()
    if len(set(items)) != len(items):
        raise SettingsError(f"{what} lists an item twice: {text!r}.")
    return items


def parse_padding(text: str) -> tuple[float, float, float, float]:
    """``T,R,B,L`` in %; one value pads every side, two are vertical,horizontal (as in CSS)."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise SettingsError(
            f"mask padding {text!r} is not numbers: give top,right,bottom,left in %."
        ) from None
    if len(values) == 1:
        values *= 4
    elif len(values) == 2:
        values *= 2
    if len(values) != 4:
        raise SettingsError(f"mask padding {text!r} has {len(values)} values; give 1, 2 or 4.")
    return (values[0], values[1], values[2], values[3])


def box_mask(size: int, padding: Sequence[float], blur: float) -> Mask:
    """FaceFusion's static box: zero on the padded sides (at least the blur's reach), then blurred."""
    amount = int(size * 0.5 * blur)
    reach = max(amount // 2, 1) if amount else 0
    top, right, bottom, left = (max(reach, int(size * p / 100.0)) for p in padding)
    mask = np.ones((size, size), dtype=np.float32)
    mask[:top] = 0.0
    mask[size - bottom :] = 0.0
    mask[:, :left] = 0.0
    mask[:, size - right :] = 0.0
    if amount:
        mask = cv2.GaussianBlur(mask, (0, 0), amount * 0.25)
    return mask


def soften(mask: Mask) -> Mask:
    """FaceFusion's edge for model masks: blur, then keep only what stays above half, rescaled.

    Inside an area the model marks (an occluder, the mouth) the weight stays exactly 0, so the
    target's pixels come through unchanged there.
    """
    sigma = max(1.0, _EDGE * mask.shape[0])
    blurred = cv2.GaussianBlur(mask, (0, 0), sigma)
    return (np.clip(blurred, 0.5, 1.0) - 0.5) * 2.0


def polygon_mask(size: int, points: np.ndarray) -> Mask:
    """1 inside the convex hull of ``points`` (crop pixels), 0 elsewhere."""
    mask = np.zeros((size, size), dtype=np.float32)
    hull = cv2.convexHull(np.round(points * 16).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1.0, lineType=cv2.LINE_AA, shift=4)
    return mask


class MaskMemory:
    """Model masks per tracked face, so a live session recomputes them every N frames, not each one."""

    def __init__(self) -> None:
        self._masks: dict[Hashable, tuple[int, Mask]] = {}
        self._frame = 0
        self._owner: object = None

    def clear(self) -> None:
        self._masks.clear()

    def start_frame(self, owner: object, keys: Sequence[Hashable]) -> None:
        """A new frame: forget faces no longer tracked, and everything when the mask settings changed."""
        self._frame += 1
        if owner is not self._owner:
            self._owner = owner
            self._masks.clear()
        live = set(keys)
        for key in [k for k in self._masks if k not in live]:
            del self._masks[key]

    def fresh(self, key: Hashable, every: int, size: int) -> Mask | None:
        entry = self._masks.get(key)
        if entry is None or self._frame - entry[0] >= every or entry[1].shape[0] != size:
            return None
        return entry[1]

    def keep(self, key: Hashable, mask: Mask) -> None:
        self._masks[key] = (self._frame, mask)


@dataclass
class _Models:
    """The opened mask models, each with the key (name, models dir, runtime) it was opened for."""

    occluder: tuple[tuple, Occluder] | None = None
    parser: tuple[tuple, FaceParser] | None = None
    landmarker: tuple[tuple, Landmarker106] | None = None


class Masker:
    """The crop-space masks of a frame's faces, for one engine's settings."""

    def __init__(
        self,
        settings: MaskSettings,
        models_dir: str | None,
        runtime: RuntimeSettings,
        previous: Masker | None = None,
    ) -> None:
        self.settings = settings
        old = previous._models if previous is not None else _Models()
        models = _Models()
        if "occlusion" in settings.types:
            key = (settings.occluder, models_dir, runtime)
            models.occluder = (
                old.occluder
                if old.occluder and old.occluder[0] == key
                else (key, Occluder(open_mask_model(settings.occluder, models_dir, runtime, "occluder")))
            )
        if settings.uses_parser:
            key = (settings.parser, models_dir, runtime, settings.parser_size)
            models.parser = (
                old.parser
                if old.parser and old.parser[0] == key
                else (
                    key,
                    FaceParser(
                        open_mask_model(settings.parser, models_dir, runtime, "parser"), settings.parser_size
                    ),
                )
            )
        if settings.uses_landmarker:
            key = (settings.landmarker, models_dir, runtime)
            models.landmarker = (
                old.landmarker
                if old.landmarker and old.landmarker[0] == key
                else (
                    key,
                    Landmarker106(open_mask_model(settings.landmarker, models_dir, runtime, "landmarker")),
                )
            )
        self._models = models
        self._box: Mask | None = None

    @property
    def active(self) -> bool:
        return bool(self.settings.types)

    def box(self, size: int) -> Mask:
        if self._box is None or self._box.shape[0] != size:
            self._box = box_mask(size, self.settings.padding, self.settings.blur)
        return self._box

    def model_masks(
        self, frame: Frame, crops: list[Frame], matrices: list[Matrix], faces: list[Face]
    ) -> list[Mask]:
        """The minimum of the occlusion, region and mouth masks of each crop, at the crop's size."""
        settings = self.settings
        size = crops[0].shape[0]
        masks = [np.ones((size, size), dtype=np.float32) for _ in crops]

        def combine(parts: list[Mask]) -> None:
            for mask, part in zip(masks, parts, strict=True):
                if part.shape[0] != size:
                    part = cv2.resize(part, (size, size), interpolation=cv2.INTER_LINEAR)
                np.minimum(mask, part, out=mask)

        models = self._models
        if models.occluder is not None:
            combine([soften(m) for m in models.occluder[1].masks(crops)])
        if models.parser is not None:
            labels = models.parser[1].classes(crops)
            if "region" in settings.types:
                wanted = np.array([REGIONS[r] for r in settings.regions], dtype=np.uint8)
                combine([soften(np.isin(lab, wanted).astype(np.float32)) for lab in labels])
            if "mouth" in settings.types and settings.mouth_from == "parser":
                mouth = REGIONS["mouth"]
                combine([soften((lab != mouth).astype(np.float32)) for lab in labels])
        if models.landmarker is not None:
            points = models.landmarker[1].landmarks(frame, [f.bbox for f in faces])
            parts = []
            for p, m in zip(points, matrices, strict=True):
                in_crop = p[MOUTH] @ m[:, :2].T + m[:, 2]
                parts.append(soften(1.0 - polygon_mask(size, in_crop)))
            combine(parts)
        return masks

    def crop_masks(
        self,
        frame: Frame,
        crops: list[Frame],
        matrices: list[Matrix],
        faces: list[Face],
        memory: MaskMemory | None = None,
        keys: Sequence[Hashable] | None = None,
    ) -> list[Mask | None]:
        """Each crop's combined mask for paste_into, or None for each when no mask is enabled.

        With ``memory`` and one ``keys`` entry per face (tracker ids), a face's model masks are
        reused for ``refresh_every`` frames; the faces due are computed together in one batch.
        """
        if not self.active or not crops:
            return [None] * len(crops)
        size = crops[0].shape[0]
        models: list[Mask | None] = [None] * len(crops)
        if self.settings.model_types:
            due = list(range(len(crops)))
            if memory is not None and keys is not None:
                memory.start_frame(self, keys)
                every = self.settings.refresh_every
                models = [memory.fresh(k, every, size) for k in keys]
                due = [i for i, m in enumerate(models) if m is None]
            if due:
                fresh = self.model_masks(
                    frame, [crops[i] for i in due], [matrices[i] for i in due], [faces[i] for i in due]
                )
                for i, mask in zip(due, fresh, strict=True):
                    models[i] = mask
                    if memory is not None and keys is not None:
                        memory.keep(keys[i], mask)
        boxed = "box" in self.settings.types and (any(self.settings.padding) or self.settings.blur > 0)
        box = self.box(size) if boxed else None  # at padding 0 and blur 0 the box is all ones
        out: list[Mask | None] = []
        for mask in models:
            if mask is None:
                out.append(box)
            elif box is None:
                out.append(mask)
            else:
                out.append(np.minimum(mask, box))
        return out


def frame_mask(
    shape: tuple[int, ...], matrices: list[Matrix], crops: list[Frame], crop_masks: list[Mask | None]
) -> Mask:
    """The frame-space weight paste-back would give these faces: reference mask x crop mask, max over faces."""
    height, width = shape[:2]
    out = np.zeros((height, width), dtype=np.float32)
    for matrix, crop, crop_mask in zip(matrices, crops, crop_masks, strict=True):
        size = crop.shape[0]
        inverse = cv2.invertAffineTransform(matrix)
        box = crop_box(inverse, size, height, width)
        if box is None:
            continue
        y0, y1, x0, x1 = box
        inverse[:, 2] -= (x0, y0)
        dsize = (x1 - x0, y1 - y0)
        white = np.full((size, size), 255, dtype=np.float32)
        mask, _ = blend_mask(
            cv2.warpAffine(white, inverse, dsize, borderValue=0.0), Footprint.of(inverse, size)
        )
        if crop_mask is not None:
            mask *= cv2.warpAffine(crop_mask, inverse, dsize, borderValue=0.0)
        np.maximum(out[y0:y1, x0:x1], mask, out=out[y0:y1, x0:x1])
    return out
