"""The mask options SwapFace and FaceMask share: widgets in, the engine's MaskSettings out."""

from __future__ import annotations

from typing import Any

from ..core.face_parser import FACE_REGIONS
from ..core.manifest import load_manifest
from ..core.masks import MOUTH_SOURCES, MaskSettings, parse_list, parse_padding
from .loading import locate, model_choices

_DEFAULTS = MaskSettings()
MASK_MODELS = {"occluder": _DEFAULTS.occluder, "parser": _DEFAULTS.parser, "landmarker": _DEFAULTS.landmarker}
"""Setting -> the manifest model it defaults to; the setting's name is also the manifest kind."""


def _choices(kind: str, default: str) -> list[str]:
    """The default model's file first (listed even before it is installed), then every other file."""
    entry = load_manifest().find(default)
    first = entry.file if entry else default
    return [first, *(c for c in model_choices(kind) if c != first)]


def mask_inputs(default_types: str = "") -> dict[str, tuple[Any, ...]]:
    """The widgets, as ComfyUI's INPUT_TYPES entries."""
    inputs: dict[str, tuple[Any, ...]] = {
        "face_masks": (
            "STRING",
            {
                "default": default_types,
                "tooltip": "Comma list of box, occlusion, region, mouth (combined as their minimum); "
                "empty keeps the reference mask.",
            },
        ),
        "mask_padding": (
            "STRING",
            {"default": "0,0,0,0", "tooltip": "Box mask: top,right,bottom,left in %."},
        ),
        "mask_blur": ("FLOAT", {"default": _DEFAULTS.blur, "min": 0.0, "max": 1.0, "step": 0.01}),
        "mask_regions": (
            "STRING",
            {"default": ",".join(FACE_REGIONS), "tooltip": "Region mask: the face parser's classes swapped."},
        ),
        "mouth_from": (list(MOUTH_SOURCES), {"default": _DEFAULTS.mouth_from}),
    }
    for setting, default in MASK_MODELS.items():
        choices = _choices(setting, default)
        inputs[setting] = (choices, {"default": choices[0], "tooltip": f"The {setting} model (.onnx)."})
    return inputs


def mask_settings(
    face_masks: str,
    mask_padding: str,
    mask_blur: float,
    mask_regions: str,
    mouth_from: str,
    occluder: str,
    parser: str,
    landmarker: str,
) -> MaskSettings:
    """The engine's settings; only the model files the enabled masks need are looked up."""
    settings = MaskSettings(
        types=parse_list(face_masks, "face_masks"),
        padding=parse_padding(mask_padding),
        blur=float(mask_blur),
        regions=parse_list(mask_regions, "mask_regions"),
        mouth_from=mouth_from,
    ).validate()
    used = {
        "occluder": "occlusion" in settings.types,
        "parser": settings.uses_parser,
        "landmarker": settings.uses_landmarker,
    }
    files = {"occluder": occluder, "parser": parser, "landmarker": landmarker}
    paths = {k: str(locate(v, k)) if used[k] else MASK_MODELS[k] for k, v in files.items()}
    return MaskSettings(**{**settings.__dict__, **paths})
