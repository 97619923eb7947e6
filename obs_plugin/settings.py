"""The filter's settings as one frozen dataclass, and how they map onto the engine's.

Field names are the keys OBS stores in the scene collection, so a saved filter comes back with
the same settings; the properties panel (``properties.py``) is built from the same names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields, replace
from typing import Any

from ..core.engine import EngineSettings
from ..core.errors import SettingsError
from ..core.mapping import SourceSlot
from ..core.masks import MaskSettings, parse_list
from ..core.restore import RestoreSettings
from ..core.select import FaceSelection

SELECTION_MODES = ("all", "largest", "index", "similar")
GENDERS = ("any", "female", "male")
LABEL_POSITIONS = ("top-left", "top-right", "bottom-left", "bottom-right")
PIXEL_BOOSTS = (0, 256, 384, 512)
MAX_SLOTS = 4
_ENGINE = EngineSettings()
_RESTORE = RestoreSettings()
_MASKS = MaskSettings()


@dataclass(frozen=True)
class FilterSettings:
    enabled: bool = True
    """The filter's own switch: off passes every frame through untouched."""
    source_images: tuple[str, ...] = ()
    """Photos of the face to swap in; their identities are averaged."""
    face_model: str = ""
    """A saved face model (.safetensors / .npz); used instead of the photos when set."""
    swapper: str = _ENGINE.swapper
    detector: str = _ENGINE.detector
    recognizer: str = _ENGINE.recognizer
    models_dir: str = ""
    provider: str = _ENGINE.provider
    threads: int = 0
    """Inference threads per model; 0 lets onnxruntime choose."""
    selection: str = "all"
    indices: str = "0"
    """For ``index``: faces counted left to right from 0, comma-separated."""
    threshold: float = 0.6
    """For ``similar``: cosine similarity to the reference face."""
    reference_image: str = ""
    gender: str = "any"
    """Swap only women or men (genderage.onnx); ``any`` keeps every face."""
    age_range: str = ""
    """Swap only faces of this estimated age, such as ``20-40``; empty keeps every face."""
    pixel_boost: int = 0
    blend: float = 1.0
    det_thresh: float = _ENGINE.det_thresh
    detection_interval: int = 1
    """Run the detector every N frames; the live session tracks faces in between."""
    restore_model: str = ""
    """Face restorer run on each swapped face (gfpgan_1.4, codeformer, gpen_bfr_512 or a path); empty is off."""
    restore_blend: float = _RESTORE.blend
    restore_fidelity: float = _RESTORE.fidelity
    """CodeFormer's fidelity weight."""
    label_enabled: bool = False
    label_text: str = "AI face swap"
    label_position: str = "bottom-right"
    label_size: int = 5
    """Label height in percent of the frame height."""
    slot_count: int = 0
    """Source slots in use (up to ``MAX_SLOTS``): each gives one face its own source; the source
    above, if any, then swaps only the faces no slot takes."""
    slot1_images: tuple[str, ...] = ()
    slot1_face_model: str = ""
    slot1_target: str = "0"
    slot2_images: tuple[str, ...] = ()
    slot2_face_model: str = ""
    slot2_target: str = "1"
    slot3_images: tuple[str, ...] = ()
    slot3_face_model: str = ""
    slot3_target: str = "2"
    slot4_images: tuple[str, ...] = ()
    slot4_face_model: str = ""
    slot4_target: str = "3"
    mask_box: bool = False
    mask_occlusion: bool = False
    mask_region: bool = False
    mask_mouth: bool = False
    mask_padding_top: float = 0.0
    mask_padding_right: float = 0.0
    mask_padding_bottom: float = 0.0
    mask_padding_left: float = 0.0
    """Box mask padding per side, in % of the face crop."""
    mask_blur: float = _MASKS.blur
    occluder: str = _MASKS.occluder
    parser: str = _MASKS.parser
    mask_regions: str = ",".join(_MASKS.regions)
    """Region mask: the parser's classes the swap covers, comma-separated."""
    mouth_from: str = _MASKS.mouth_from
    landmarker: str = _MASKS.landmarker
    mask_refresh: int = 10
    """Recompute a tracked face's occlusion, region and mouth masks every N frames."""
    smooth_motion: bool = True
    """Async sources: paste the latest swapped faces on every frame at its tracked positions,
    so a model slower than the source costs latency, not frame rate."""

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> FilterSettings:
        """Settings from OBS's stored values; missing keys take their defaults, values are coerced."""
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in values:
                continue
            default = f.default if f.default is not MISSING else None
            value = values[f.name]
            if isinstance(default, bool):
                kwargs[f.name] = bool(value)
            elif isinstance(default, int):
                kwargs[f.name] = int(value)
            elif isinstance(default, float):
                kwargs[f.name] = float(value)
            elif isinstance(default, tuple):
                kwargs[f.name] = tuple(str(v).strip() for v in value if str(v).strip())
            else:
                kwargs[f.name] = str(value).strip()
        return cls(**kwargs)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {f.name: f.default for f in fields(cls) if f.default is not MISSING}

    def face_selection(self) -> FaceSelection:
        """The engine's selection; SettingsError names the setting when it makes no sense."""
        selection = self._mode_selection()
        if self.gender not in GENDERS:
            raise SettingsError(f"Gender {self.gender!r} is unknown: choose one of {', '.join(GENDERS)}.")
        filters = [
            f"gender:{self.gender}" if self.gender != "any" else "",
            f"age:{self.age_range}" if self.age_range else "",
        ]
        if not any(filters):
            return selection
        try:
            chosen = FaceSelection.parse("+".join(f for f in filters if f))
        except SettingsError as error:
            raise SettingsError(
                f"Age range {self.age_range!r} is not understood: write years such as 20-40."
            ) from error
        return replace(selection, gender=chosen.gender, age=chosen.age)

    def _mode_selection(self) -> FaceSelection:
        if self.selection not in SELECTION_MODES:
            raise SettingsError(
                f"Face selection {self.selection!r} is unknown: choose one of {', '.join(SELECTION_MODES)}."
            )
        if self.selection == "index":
            return FaceSelection.parse(f"index:{self.indices}")
        if self.selection == "similar":
            if not self.reference_image:
                raise SettingsError(
                    "Face selection 'similar' needs a reference face: choose a reference image in the filter's settings."
                )
            return FaceSelection.parse(f"similar:{self.threshold}")
        return FaceSelection.parse(self.selection)

    def engine_settings(self) -> EngineSettings:
        if self.pixel_boost not in PIXEL_BOOSTS:
            raise SettingsError(
                f"Pixel boost {self.pixel_boost} is not offered: choose 0 (off), 256, 384 or 512."
            )
        if self.detection_interval < 1:
            raise SettingsError(
                f"Detection interval is {self.detection_interval}; it must be 1 or more frames."
            )
        return EngineSettings(
            swapper=self.swapper,
            detector=self.detector,
            recognizer=self.recognizer,
            models_dir=self.models_dir or None,
            provider=self.provider,
            threads=self.threads,
            det_thresh=self.det_thresh,
            faces=self.face_selection(),
            pixel_boost=self.pixel_boost,
            blend=self.blend,
            restore=RestoreSettings(self.restore_model, self.restore_blend, self.restore_fidelity),
            masks=self.mask_settings(),
        ).validate()

    def mask_settings(self) -> MaskSettings:
        flags = zip(
            ("box", "occlusion", "region", "mouth"),
            (self.mask_box, self.mask_occlusion, self.mask_region, self.mask_mouth),
            strict=True,
        )
        return MaskSettings(
            types=tuple(name for name, on in flags if on),
            padding=(
                self.mask_padding_top,
                self.mask_padding_right,
                self.mask_padding_bottom,
                self.mask_padding_left,
            ),
            blur=self.mask_blur,
            occluder=self.occluder,
            parser=self.parser,
            regions=parse_list(self.mask_regions, "Face regions"),
            mouth_from=self.mouth_from,
            landmarker=self.landmarker,
            refresh_every=self.mask_refresh,
        )

    def source_key(self) -> tuple[object, ...]:
        """What the source identity depends on: it is analysed again only when this changes."""
        return (
            self.face_model,
            self.source_images,
            self.detector,
            self.recognizer,
            self.models_dir,
            self.det_thresh,
        )

    def source_slots(self) -> list[SourceSlot]:
        """The slots in use, for the core's ``slot_facemap``."""
        if not 0 <= self.slot_count <= MAX_SLOTS:
            raise SettingsError(
                f"Source slots is {self.slot_count}; use 0 (one source for all) to {MAX_SLOTS}."
            )
        return [
            SourceSlot(
                f"Slot {n}",
                getattr(self, f"slot{n}_target"),
                getattr(self, f"slot{n}_images"),
                getattr(self, f"slot{n}_face_model"),
            )
            for n in range(1, self.slot_count + 1)
        ]

    def slots_key(self) -> tuple[object, ...]:
        """What the slots' face map depends on: it is built again only when this changes."""
        return (tuple(self.source_slots()), *self.source_key())

    def reference_key(self) -> tuple[object, ...]:
        return (self.reference_image if self.selection == "similar" else "", *self.source_key()[2:])
