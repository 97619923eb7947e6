"""The filter's settings as one frozen dataclass, and how they map onto the engine's.

Field names are the keys OBS stores in the scene collection, so a saved filter comes back with
the same settings; the properties panel (``properties.py``) is built from the same names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any

from ..core.engine import EngineSettings
from ..core.errors import SettingsError
from ..core.select import FaceSelection

SELECTION_MODES = ("all", "largest", "index", "similar")
LABEL_POSITIONS = ("top-left", "top-right", "bottom-left", "bottom-right")
PIXEL_BOOSTS = (0, 256, 384, 512)
_ENGINE = EngineSettings()


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
    pixel_boost: int = 0
    blend: float = 1.0
    det_thresh: float = _ENGINE.det_thresh
    detection_interval: int = 1
    """Run the detector every N frames; the live session tracks faces in between."""
    label_enabled: bool = False
    label_text: str = "AI face swap"
    label_position: str = "bottom-right"
    label_size: int = 5
    """Label height in percent of the frame height."""
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
        ).validate()

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

    def reference_key(self) -> tuple[object, ...]:
        return (self.reference_image if self.selection == "similar" else "", *self.source_key()[2:])
