"""The filter's properties panel, its defaults, and reading OBS's stored settings into FilterSettings.

Keys are FilterSettings' field names. Three keys are only shown, never read: ``status`` (provider,
processed fps, latency, last error), ``licence`` (of the chosen swapper), ``restore_licence``
(of the chosen face restorer) and ``mask_licence`` (of the models behind the enabled masks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.runtime import PROVIDER_ALIASES, available_providers
from . import catalog
from .libobs import (
    OBS_COMBO_FORMAT_INT,
    OBS_COMBO_FORMAT_STRING,
    OBS_COMBO_TYPE_LIST,
    OBS_EDITABLE_LIST_TYPE_FILES,
    OBS_PATH_DIRECTORY,
    OBS_PATH_FILE,
    OBS_TEXT_DEFAULT,
    OBS_TEXT_INFO,
    OBS_TEXT_INFO_ERROR,
    ClickedFn,
    Libobs,
    ModifiedFn,
    text,
)
from .settings import GENDERS, LABEL_POSITIONS, MAX_SLOTS, PIXEL_BOOSTS, SELECTION_MODES, FilterSettings

STATUS_KEY = "status"
LICENCE_KEY = "licence"
RESTORE_LICENCE_KEY = "restore_licence"
MASK_LICENCE_KEY = "mask_licence"
IMAGE_FILTER = b"Images (*.jpg *.jpeg *.png *.webp *.bmp);;All files (*.*)"
FACE_MODEL_FILTER = b"Face models (*.safetensors *.npz)"
_SELECTION_LABELS = {
    "all": "All faces",
    "largest": "Largest face",
    "index": "Faces by position (index)",
    "similar": "Faces similar to a reference",
}
_DEPENDENT = {
    "selection": {"indices": ("index",), "threshold": ("similar",), "reference_image": ("similar",)},
    "label_enabled": {"label_text": (True,), "label_position": (True,), "label_size": (True,)},
    "slot_count": {
        f"slot{n}_{part}": tuple(range(n, MAX_SLOTS + 1))
        for n in range(1, MAX_SLOTS + 1)
        for part in ("images", "face_model", "target")
    },
    "mask_box": {f"mask_padding_{side}": (True,) for side in ("top", "right", "bottom", "left")}
    | {"mask_blur": (True,)},
    "mask_occlusion": {"occluder": (True,)},
    "mask_region": {"mask_regions": (True,)},
    "mask_mouth": {"mouth_from": (True,)},
}
"""Which properties show only for some values of another."""
MASK_SWITCHES = (
    ("mask_box", "Box mask (padding, blur)"),
    ("mask_occlusion", "Occlusion mask (hands, objects in front of the face)"),
    ("mask_region", "Region mask (face parser)"),
    ("mask_mouth", "Keep the target's mouth"),
)
MASK_MODELS = (
    ("occluder", "Occlusion model", "occluder"),
    ("parser", "Face parser", "parser"),
    ("landmarker", "Landmark model (mouth)", "landmarker"),
)


@dataclass(frozen=True)
class PanelCallbacks:
    """Thunks that live as long as the process (libobs keeps the pointers)."""

    modified: ModifiedFn
    refresh: ClickedFn


def _b(value: str) -> bytes:
    return value.encode("utf-8")


def set_defaults(obs: Libobs, data: int) -> None:
    for key, value in FilterSettings.defaults().items():
        if isinstance(value, bool):
            obs.obs_data_set_default_bool(data, _b(key), value)
        elif isinstance(value, int):
            obs.obs_data_set_default_int(data, _b(key), value)
        elif isinstance(value, float):
            obs.obs_data_set_default_double(data, _b(key), value)
        elif isinstance(value, str):
            obs.obs_data_set_default_string(data, _b(key), _b(value))


def read_values(obs: Libobs, data: int) -> dict[str, Any]:
    """Every FilterSettings key from an ``obs_data_t`` (defaults where unset)."""
    values: dict[str, Any] = {}
    for key, default in FilterSettings.defaults().items():
        name = _b(key)
        if isinstance(default, bool):
            values[key] = obs.obs_data_get_bool(data, name)
        elif isinstance(default, int):
            values[key] = obs.obs_data_get_int(data, name)
        elif isinstance(default, float):
            values[key] = obs.obs_data_get_double(data, name)
        elif isinstance(default, tuple):
            values[key] = _read_list(obs, data, name)
        else:
            values[key] = text(obs.obs_data_get_string(data, name))
    return values


def _read_list(obs: Libobs, data: int, name: bytes) -> list[str]:
    """An editable list: an array of objects whose ``value`` is the text of each row."""
    array = obs.obs_data_get_array(data, name)
    if not array:
        return []
    try:
        items = []
        for i in range(obs.obs_data_array_count(array)):
            item = obs.obs_data_array_item(array, i)
            items.append(text(obs.obs_data_get_string(item, b"value")))
            obs.obs_data_release(item)
        return items
    finally:
        obs.obs_data_array_release(array)


def read_settings(obs: Libobs, data: int) -> FilterSettings:
    return FilterSettings.from_values(read_values(obs, data))


def apply_visibility(obs: Libobs, props: int, data: int) -> None:
    """Show the properties that matter for the stored selection mode and label switch."""
    _set_visibility(obs, props, read_values(obs, data))


def _set_visibility(obs: Libobs, props: int, values: dict[str, Any]) -> None:
    for key, dependents in _DEPENDENT.items():
        for name, shown_for in dependents.items():
            prop = obs.obs_properties_get(props, _b(name))
            if prop:
                obs.obs_property_set_visible(prop, values[key] in shown_for)


def show_licence(obs: Libobs, data: int) -> None:
    swapper = text(obs.obs_data_get_string(data, b"swapper"))
    obs.obs_data_set_string(data, _b(LICENCE_KEY), _b(catalog.licence_of(swapper)))
    restorer = text(obs.obs_data_get_string(data, b"restore_model"))
    restore_licence = catalog.licence_of(restorer) if restorer else "no restoration"
    obs.obs_data_set_string(data, _b(RESTORE_LICENCE_KEY), _b(restore_licence))
    masks = FilterSettings.from_values(read_values(obs, data)).mask_settings()
    used = [("occluder", masks.occluder)] if "occlusion" in masks.types else []
    used += [("parser", masks.parser)] if masks.uses_parser else []
    used += [("landmarker", masks.landmarker)] if masks.uses_landmarker else []
    lines = "; ".join(f"{what} {name}: {catalog.licence_of(name)}" for what, name in used)
    obs.obs_data_set_string(data, _b(MASK_LICENCE_KEY), _b(lines or "no mask model in use"))


def build(
    obs: Libobs, current: FilterSettings, callbacks: PanelCallbacks, instance: int, failing: bool
) -> int:
    """A new ``obs_properties_t`` for one filter instance (OBS takes ownership); ``failing`` shows
    the status line as an error."""
    props = obs.obs_properties_create()

    def info(key: str, label: str) -> None:
        obs.obs_properties_add_text(props, _b(key), _b(label), OBS_TEXT_INFO)

    def string_list(key: str, label: str, items: list[tuple[str, str]]) -> int:
        prop = obs.obs_properties_add_list(
            props, _b(key), _b(label), OBS_COMBO_TYPE_LIST, OBS_COMBO_FORMAT_STRING
        )
        for name, value in items:
            obs.obs_property_list_add_string(prop, _b(name), _b(value))
        return prop

    def models(key: str, label: str, kind: str, value: str) -> int:
        found = catalog.choices(kind, current.models_dir or None, value)
        return string_list(key, label, [(c.label, c.value) for c in found])

    info(STATUS_KEY, "Status")
    if failing and obs.obs_property_text_set_info_type is not None:
        obs.obs_property_text_set_info_type(
            obs.obs_properties_get(props, _b(STATUS_KEY)), OBS_TEXT_INFO_ERROR
        )
    obs.obs_properties_add_button2(props, b"refresh", b"Refresh status", callbacks.refresh, instance)
    swap = obs.obs_properties_add_bool(props, b"enabled", b"Swap faces")
    obs.obs_property_set_long_description(
        swap,
        b"Off passes every frame through. To switch the swap during a stream, bind the hotkeys "
        b"'Face Swap ...: swap faces' and '...: show the real face' in Settings > Hotkeys, under "
        b"this source (one key for both toggles); they switch the filter's eye.",
    )
    obs.obs_properties_add_editable_list(
        props, b"source_images", b"Source face images", OBS_EDITABLE_LIST_TYPE_FILES, IMAGE_FILTER, None
    )
    obs.obs_properties_add_path(
        props,
        b"face_model",
        b"Saved face model (used instead of the images)",
        OBS_PATH_FILE,
        FACE_MODEL_FILTER,
        None,
    )
    swapper = models("swapper", "Swapper model", "swapper", current.swapper)
    obs.obs_property_set_modified_callback2(swapper, callbacks.modified, instance)
    info(LICENCE_KEY, "Model licence")
    models("detector", "Face detector", "detector", current.detector)
    models("recognizer", "Face recogniser (for source images)", "recognizer", current.recognizer)
    obs.obs_properties_add_path(
        props, b"models_dir", b"Models folder (optional)", OBS_PATH_DIRECTORY, None, None
    )
    providers = [("Automatic (fastest available)", "auto")]
    available, offered = set(available_providers()), set()
    for alias, full in PROVIDER_ALIASES.items():
        if full in available and full not in offered:
            providers.append((alias, alias))
            offered.add(full)
    string_list("provider", "Execution provider", providers)
    obs.obs_properties_add_int_slider(props, b"threads", b"Inference threads (0 = automatic)", 0, 32, 1)
    selection = string_list(
        "selection", "Faces to swap", [(_SELECTION_LABELS[m], m) for m in SELECTION_MODES]
    )
    obs.obs_property_set_modified_callback2(selection, callbacks.modified, instance)
    obs.obs_properties_add_text(
        props, b"indices", b"Face indices (left to right, from 0; e.g. 0,2)", OBS_TEXT_DEFAULT
    )
    obs.obs_properties_add_float_slider(props, b"threshold", b"Similarity threshold", 0.0, 1.0, 0.01)
    obs.obs_properties_add_path(
        props, b"reference_image", b"Reference face image", OBS_PATH_FILE, IMAGE_FILTER, None
    )
    slots = obs.obs_properties_add_int_slider(
        props, b"slot_count", b"Source slots (a source per face; 0 = one source for all)", 0, MAX_SLOTS, 1
    )
    obs.obs_property_set_modified_callback2(slots, callbacks.modified, instance)
    for n in range(1, MAX_SLOTS + 1):
        obs.obs_properties_add_editable_list(
            props, _b(f"slot{n}_images"), _b(f"Slot {n}: source face images"), OBS_EDITABLE_LIST_TYPE_FILES,
            IMAGE_FILTER, None,
        )  # fmt: skip
        obs.obs_properties_add_path(
            props, _b(f"slot{n}_face_model"), _b(f"Slot {n}: saved face model (instead of images)"),
            OBS_PATH_FILE, FACE_MODEL_FILTER, None,
        )  # fmt: skip
        obs.obs_properties_add_text(
            props, _b(f"slot{n}_target"), _b(f"Slot {n}: target face (index from 0, or a reference photo's path)"),
            OBS_TEXT_DEFAULT,
        )  # fmt: skip
    string_list("gender", "Only faces of gender", [(g.capitalize(), g) for g in GENDERS])
    obs.obs_properties_add_text(
        props, b"age_range", b"Only faces aged (e.g. 20-40; empty = any)", OBS_TEXT_DEFAULT
    )
    boost = obs.obs_properties_add_list(
        props, b"pixel_boost", b"Pixel boost", OBS_COMBO_TYPE_LIST, OBS_COMBO_FORMAT_INT
    )
    for size in PIXEL_BOOSTS:
        obs.obs_property_list_add_int(boost, _b(f"{size} px" if size else "Off (model's own size)"), size)
    obs.obs_properties_add_float_slider(props, b"blend", b"Blend strength", 0.0, 1.0, 0.01)
    restorers = catalog.choices("restorer", current.models_dir or None, current.restore_model)
    restore = string_list(
        "restore_model", "Face restoration", [("Off", ""), *((c.label, c.value) for c in restorers)]
    )
    obs.obs_property_set_modified_callback2(restore, callbacks.modified, instance)
    info(RESTORE_LICENCE_KEY, "Restorer licence")
    obs.obs_properties_add_float_slider(props, b"restore_blend", b"Restoration strength", 0.0, 1.0, 0.01)
    obs.obs_properties_add_float_slider(
        props, b"restore_fidelity", b"CodeFormer fidelity (higher keeps closer to the swap)", 0.0, 1.0, 0.01
    )
    obs.obs_properties_add_float_slider(props, b"det_thresh", b"Detection threshold", 0.05, 0.95, 0.05)
    obs.obs_properties_add_int_slider(props, b"detection_interval", b"Detect faces every N frames", 1, 30, 1)
    obs.obs_properties_add_bool(props, b"smooth_motion", b"Smooth motion (faces follow every frame)")
    label = obs.obs_properties_add_bool(props, b"label_enabled", b"Show disclosure label on stream")
    obs.obs_property_set_modified_callback2(label, callbacks.modified, instance)
    obs.obs_properties_add_text(props, b"label_text", b"Label text", OBS_TEXT_DEFAULT)
    string_list(
        "label_position", "Label position", [(p.replace("-", " ").capitalize(), p) for p in LABEL_POSITIONS]
    )
    obs.obs_properties_add_int_slider(props, b"label_size", b"Label size (% of frame height)", 2, 20, 1)
    for key, label in MASK_SWITCHES:
        switch = obs.obs_properties_add_bool(props, _b(key), _b(label))
        obs.obs_property_set_modified_callback2(switch, callbacks.modified, instance)
    for side in ("top", "right", "bottom", "left"):
        obs.obs_properties_add_float_slider(
            props, _b(f"mask_padding_{side}"), _b(f"Box padding {side} (%)"), 0.0, 100.0, 1.0
        )
    obs.obs_properties_add_float_slider(props, b"mask_blur", b"Box edge blur", 0.0, 1.0, 0.01)
    for key, label, kind in MASK_MODELS:
        chosen = models(key, label, kind, getattr(current, key))
        obs.obs_property_set_modified_callback2(chosen, callbacks.modified, instance)
    obs.obs_properties_add_text(
        props, b"mask_regions", b"Face regions swapped (e.g. skin,nose,upper-lip)", OBS_TEXT_DEFAULT
    )
    mouth = string_list(
        "mouth_from", "Mouth from", [("Face parser", "parser"), ("106 landmarks", "landmarks")]
    )
    obs.obs_property_set_modified_callback2(mouth, callbacks.modified, instance)
    obs.obs_properties_add_int_slider(props, b"mask_refresh", b"Recompute masks every N frames", 1, 30, 1)
    info(MASK_LICENCE_KEY, "Mask model licences")
    _set_visibility(
        obs,
        props,
        {
            "selection": current.selection,
            "label_enabled": current.label_enabled,
            "slot_count": current.slot_count,
            **{key: getattr(current, key) for key, _ in MASK_SWITCHES},
        },
    )
    return props
