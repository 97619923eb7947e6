"""ctypes bindings to libobs: the structs and functions the filter (and the test host) use.

OBS's own Python bindings leave out ``obs_source_info`` and ``obs_register_source_s``, so a
Python script cannot register a filter through them; through ctypes it can (see OBS.md).
Layouts are OBS 29's, checked with ``offsetof`` against its headers; later versions only
append fields. Every function gets ``argtypes`` and ``restype`` (ctypes' default ``int``
return would truncate pointers). Calls go through ``ctypes.CDLL``, which releases the GIL
while libobs runs: a libobs call that takes a source mutex must never hold the GIL, or it can
deadlock with the graphics thread waiting for the GIL inside our callback. Only the graphics
calls (``KEEPS_GIL``) keep it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import sys
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_double,
    c_float,
    c_int,
    c_long,
    c_longlong,
    c_size_t,
    c_uint8,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)
from functools import cache
from pathlib import Path

from .platforms import LIBOBS_ENV, ObsVersion, libobs_candidates

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- constants
OBS_SOURCE_TYPE_INPUT = 0
OBS_SOURCE_TYPE_FILTER = 1  # enum obs_source_type: INPUT, FILTER, TRANSITION, SCENE
OBS_SOURCE_VIDEO = 1 << 0
OBS_SOURCE_ASYNC = 1 << 2
OBS_SOURCE_CUSTOM_DRAW = 1 << 3
OBS_SOURCE_ASYNC_VIDEO = OBS_SOURCE_VIDEO | OBS_SOURCE_ASYNC

OBS_TEXT_DEFAULT, OBS_TEXT_INFO = 0, 3
OBS_TEXT_INFO_NORMAL, OBS_TEXT_INFO_WARNING, OBS_TEXT_INFO_ERROR = 0, 1, 2
OBS_PATH_FILE, OBS_PATH_DIRECTORY = 0, 2
OBS_COMBO_TYPE_LIST = 2
OBS_COMBO_FORMAT_INT, OBS_COMBO_FORMAT_STRING = 1, 3
OBS_EDITABLE_LIST_TYPE_FILES = 1

GS_RGBA, GS_BGRA = 3, 5
GS_ZS_NONE = 0
GS_DYNAMIC = 1 << 1
GS_CLEAR_COLOR = 1 << 0
GS_BLEND_ZERO, GS_BLEND_ONE = 0, 1
OBS_EFFECT_DEFAULT = 0

LOG_ERROR, LOG_WARNING, LOG_INFO, LOG_DEBUG = 100, 200, 300, 400
MAX_AV_PLANES = 8


# ---------------------------------------------------------------- structs
class ObsSourceFrame(Structure):
    """``struct obs_source_frame`` (232 bytes on 64-bit Linux/macOS)."""

    _fields_ = [
        ("data", POINTER(c_uint8) * MAX_AV_PLANES),
        ("linesize", c_uint32 * MAX_AV_PLANES),
        ("width", c_uint32),
        ("height", c_uint32),
        ("timestamp", c_uint64),
        ("format", c_int),
        ("color_matrix", c_float * 16),
        ("full_range", c_bool),
        ("max_luminance", c_uint16),
        ("color_range_min", c_float * 3),
        ("color_range_max", c_float * 3),
        ("flip", c_bool),
        ("flags", c_uint8),
        ("trc", c_uint8),
        ("refs", c_long),
        ("prev_frame", c_bool),
    ]


_SOURCE_INFO_FUNCTIONS = [
    "get_name",
    "create",
    "destroy",
    "get_width",
    "get_height",
    "get_defaults",
    "get_properties",
    "update",
    "activate",
    "deactivate",
    "show",
    "hide",
    "video_tick",
    "video_render",
    "filter_video",
    "filter_audio",
    "enum_active_sources",
    "save",
    "load",
    "mouse_click",
    "mouse_move",
    "mouse_wheel",
    "focus",
    "key_click",
    "filter_remove",
    "type_data",
    "free_type_data",
    "audio_render",
    "enum_all_sources",
    "transition_start",
    "transition_stop",
    "get_defaults2",
    "get_properties2",
    "audio_mix",
]
_MEDIA_FUNCTIONS = [
    "media_play_pause",
    "media_restart",
    "media_stop",
    "media_next",
    "media_previous",
    "media_get_duration",
    "media_get_time",
    "media_set_time",
    "media_get_state",
]


class ObsSourceInfo(Structure):
    """``struct obs_source_info`` up to ``video_get_color_space`` (400 bytes on 64-bit): function
    pointers are ``c_void_p`` fields set from CFUNCTYPE thunks."""

    _fields_ = [
        ("id", c_void_p),
        ("type", c_int),
        ("output_flags", c_uint32),
        *[(name, c_void_p) for name in _SOURCE_INFO_FUNCTIONS],
        ("icon_type", c_int),
        *[(name, c_void_p) for name in _MEDIA_FUNCTIONS],
        ("version", c_uint32),
        ("unversioned_id", c_void_p),
        ("missing_files", c_void_p),
        ("video_get_color_space", c_void_p),
    ]


class ObsVideoInfo(Structure):
    """``struct obs_video_info`` (56 bytes); only a host calls obs_reset_video."""

    _fields_ = [
        ("graphics_module", c_char_p),
        ("fps_num", c_uint32),
        ("fps_den", c_uint32),
        ("base_width", c_uint32),
        ("base_height", c_uint32),
        ("output_width", c_uint32),
        ("output_height", c_uint32),
        ("output_format", c_int),
        ("adapter", c_uint32),
        ("gpu_conversion", c_bool),
        ("colorspace", c_int),
        ("range", c_int),
        ("scale_type", c_int),
    ]


class ObsAudioInfo(Structure):
    _fields_ = [("samples_per_sec", c_uint32), ("speakers", c_int)]


class Vec4(Structure):
    _fields_ = [("x", c_float), ("y", c_float), ("z", c_float), ("w", c_float)]


# ---------------------------------------------------------------- callback types
GetNameFn = CFUNCTYPE(c_void_p, c_void_p)
CreateFn = CFUNCTYPE(c_void_p, c_void_p, c_void_p)
DataFn = CFUNCTYPE(None, c_void_p)
"""destroy, get_defaults (takes settings), activate and friends."""
GetSizeFn = CFUNCTYPE(c_uint32, c_void_p)
GetPropertiesFn = CFUNCTYPE(c_void_p, c_void_p)
DataPointerFn = CFUNCTYPE(None, c_void_p, c_void_p)
"""update(data, settings), video_render(data, effect), filter_remove(data, parent)."""
VideoTickFn = CFUNCTYPE(None, c_void_p, c_float)
FilterVideoFn = CFUNCTYPE(c_void_p, c_void_p, c_void_p)
ModifiedFn = CFUNCTYPE(c_bool, c_void_p, c_void_p, c_void_p, c_void_p)
"""obs_property_modified2_t(priv, props, property, settings)."""
ClickedFn = CFUNCTYPE(c_bool, c_void_p, c_void_p, c_void_p)
"""obs_property_clicked_t(props, property, data)."""
HotkeyPairFn = CFUNCTYPE(c_bool, c_void_p, c_size_t, c_void_p, c_bool)
"""obs_hotkey_active_func(data, pair id, hotkey, pressed): True when it acted."""
OBS_INVALID_HOTKEY_PAIR_ID = 2 ** (8 * ctypes.sizeof(c_size_t)) - 1


class ObsKeyCombination(Structure):
    _fields_ = [("modifiers", c_uint32), ("key", c_int)]


P = c_void_p
S = c_char_p
_FUNCTIONS: dict[str, tuple[object, list[object]]] = {
    # version and registration
    "obs_get_version": (c_uint32, []),
    "obs_get_version_string": (S, []),
    "obs_register_source_s": (None, [POINTER(ObsSourceInfo), c_size_t]),
    # sources and filters
    "obs_filter_get_parent": (P, [P]),
    "obs_filter_get_target": (P, [P]),
    "obs_source_release_frame": (None, [P, P]),
    "obs_source_skip_video_filter": (None, [P]),
    "obs_source_get_output_flags": (c_uint32, [P]),
    "obs_source_get_base_width": (c_uint32, [P]),
    "obs_source_get_base_height": (c_uint32, [P]),
    "obs_source_get_settings": (P, [P]),
    "obs_source_get_name": (S, [P]),
    "obs_source_enabled": (c_bool, [P]),
    "obs_source_set_enabled": (None, [P, c_bool]),
    # hotkeys
    "obs_hotkey_pair_register_source": (c_size_t, [P, S, S, S, S, HotkeyPairFn, HotkeyPairFn, P, P]),
    "obs_hotkey_pair_unregister": (None, [c_size_t]),
    "obs_hotkey_pair_save": (None, [c_size_t, POINTER(P), POINTER(P)]),
    "obs_hotkey_pair_load": (None, [c_size_t, P, P]),
    "obs_source_video_render": (None, [P]),
    "obs_source_default_render": (None, [P]),
    "obs_source_draw": (None, [P, c_int, c_int, c_uint32, c_uint32, c_bool]),
    # settings data
    "obs_data_release": (None, [P]),
    "obs_data_get_string": (S, [P, S]),
    "obs_data_get_int": (c_longlong, [P, S]),
    "obs_data_get_double": (c_double, [P, S]),
    "obs_data_get_bool": (c_bool, [P, S]),
    "obs_data_get_array": (P, [P, S]),
    "obs_data_array_count": (c_size_t, [P]),
    "obs_data_array_item": (P, [P, c_size_t]),
    "obs_data_array_release": (None, [P]),
    "obs_data_set_array": (None, [P, S, P]),
    "obs_data_erase": (None, [P, S]),
    "obs_data_set_string": (None, [P, S, S]),
    "obs_data_set_default_string": (None, [P, S, S]),
    "obs_data_set_default_int": (None, [P, S, c_longlong]),
    "obs_data_set_default_double": (None, [P, S, c_double]),
    "obs_data_set_default_bool": (None, [P, S, c_bool]),
    "obs_data_create_from_json": (P, [S]),
    "obs_data_get_json": (S, [P]),
    # properties
    "obs_properties_create": (P, []),
    "obs_properties_get": (P, [P, S]),
    "obs_properties_add_text": (P, [P, S, S, c_int]),
    "obs_properties_add_path": (P, [P, S, S, c_int, S, S]),
    "obs_properties_add_list": (P, [P, S, S, c_int, c_int]),
    "obs_properties_add_bool": (P, [P, S, S]),
    "obs_properties_add_int_slider": (P, [P, S, S, c_int, c_int, c_int]),
    "obs_properties_add_float_slider": (P, [P, S, S, c_double, c_double, c_double]),
    "obs_properties_add_editable_list": (P, [P, S, S, c_int, S, S]),
    "obs_properties_add_button2": (P, [P, S, S, ClickedFn, P]),
    "obs_property_list_add_string": (c_size_t, [P, S, S]),
    "obs_property_list_add_int": (c_size_t, [P, S, c_longlong]),
    "obs_property_set_long_description": (None, [P, S]),
    "obs_property_set_visible": (None, [P, c_bool]),
    "obs_property_set_modified_callback2": (None, [P, ModifiedFn, P]),
    "obs_property_text_set_info_type": (None, [P, c_int]),
    "obs_property_text_set_info_word_wrap": (None, [P, c_bool]),
    # graphics (video_render runs inside the graphics context)
    "obs_enter_graphics": (None, []),
    "obs_leave_graphics": (None, []),
    "obs_get_base_effect": (P, [c_int]),
    "gs_effect_loop": (c_bool, [P, S]),
    "gs_effect_get_param_by_name": (P, [P, S]),
    "gs_effect_set_texture": (None, [P, P]),
    "gs_draw_sprite": (None, [P, c_uint32, c_uint32, c_uint32]),
    "gs_texrender_create": (P, [c_int, c_int]),
    "gs_texrender_destroy": (None, [P]),
    "gs_texrender_reset": (None, [P]),
    "gs_texrender_begin": (c_bool, [P, c_uint32, c_uint32]),
    "gs_texrender_end": (None, [P]),
    "gs_texrender_get_texture": (P, [P]),
    "gs_stagesurface_create": (P, [c_uint32, c_uint32, c_int]),
    "gs_stagesurface_destroy": (None, [P]),
    "gs_stage_texture": (None, [P, P]),
    "gs_stagesurface_map": (c_bool, [P, POINTER(P), POINTER(c_uint32)]),
    "gs_stagesurface_unmap": (None, [P]),
    "gs_texture_create": (P, [c_uint32, c_uint32, c_int, c_uint32, P, c_uint32]),
    "gs_texture_destroy": (None, [P]),
    "gs_texture_set_image": (None, [P, P, c_uint32, c_bool]),
    "gs_clear": (None, [c_uint32, POINTER(Vec4), c_float, c_uint8]),
    "gs_ortho": (None, [c_float] * 6),
    "gs_blend_state_push": (None, []),
    "gs_blend_state_pop": (None, []),
    "gs_blend_function": (None, [c_int, c_int]),
    "gs_matrix_push": (None, []),
    "gs_matrix_pop": (None, []),
    "gs_matrix_translate3f": (None, [c_float, c_float, c_float]),
    # hosting libobs outside OBS (tests and benchmarks)
    "obs_startup": (c_bool, [S, S, P]),
    "obs_shutdown": (None, []),
    "obs_initialized": (c_bool, []),
    "obs_set_nix_platform": (None, [c_int]),
    "obs_set_nix_platform_display": (None, [P]),
    "obs_reset_video": (c_int, [POINTER(ObsVideoInfo)]),
    "obs_reset_audio": (c_bool, [POINTER(ObsAudioInfo)]),
    "obs_open_module": (c_int, [POINTER(P), S, S]),
    "obs_init_module": (c_bool, [P]),
    "obs_source_create": (P, [S, S, P, P]),
    "obs_source_release": (None, [P]),
    "obs_source_update": (None, [P, P]),
    "obs_source_filter_add": (None, [P, P]),
    "obs_source_filter_remove": (None, [P, P]),
    "obs_source_output_video": (None, [P, POINTER(ObsSourceFrame)]),
    "obs_source_set_async_unbuffered": (None, [P, c_bool]),
    "obs_set_output_source": (None, [c_uint32, P]),
    "obs_display_create": (P, [P, c_uint32]),
    "obs_display_destroy": (None, [P]),
    "obs_display_add_draw_callback": (None, [P, P, P]),
    "obs_render_main_texture": (None, []),
    "obs_get_video_frame_time": (c_uint64, []),
    "obs_get_average_frame_time_ns": (c_uint64, []),
    "obs_get_total_frames": (c_uint32, []),
    "obs_get_lagged_frames": (c_uint32, []),
    "os_gettime_ns": (c_uint64, []),
    "bnum_allocs": (c_long, []),
    "obs_hotkey_inject_event": (None, [ObsKeyCombination, c_bool]),
    "obs_key_from_name": (c_int, [S]),
    "obs_data_array_create": (P, []),
    "obs_data_array_push_back": (c_size_t, [P, P]),
    "profiler_start": (None, []),
    "profiler_stop": (None, []),
    "profile_snapshot_create": (P, []),
    "profile_snapshot_free": (None, [P]),
    "profiler_snapshot_dump_csv": (c_bool, [P, S]),
    "video_format_get_parameters": (
        c_bool,
        [c_int, c_int, POINTER(c_float * 16), POINTER(c_float * 3), POINTER(c_float * 3)],
    ),
}


KEEPS_GIL = frozenset(
    [name for name in _FUNCTIONS if name.startswith("gs_")]
    + [
        "obs_filter_get_parent",
        "obs_filter_get_target",
        "obs_source_get_output_flags",
        "obs_source_get_base_width",
        "obs_source_get_base_height",
        "obs_source_enabled",
    ]
)
"""Calls that keep the GIL: most of those OBS's graphics thread makes in every frame of a
capture source. The graphics calls run inside the graphics context (entered with
``obs_enter_graphics``, which does release it); the others read a source's fields. None takes
a lock that a thread waiting for the GIL could hold, and each returns in microseconds
(staging: a copy). Released, each would have to retake the GIL on return, and when the worker
took it meanwhile (it wants it whenever an inference returns) that is a whole switch interval.
Calls that render a source (``obs_source_skip_video_filter``) do release it."""


class Libobs:
    """The loaded libobs with every binding typed; a symbol this OBS lacks is None."""

    def __init__(self, lib: ctypes.CDLL, path: str) -> None:
        self.lib = lib
        self.path = path
        keeps_gil = ctypes.PyDLL(path, handle=lib._handle)
        for name, (restype, argtypes) in _FUNCTIONS.items():
            fn = getattr(keeps_gil if name in KEEPS_GIL else lib, name, None)
            if fn is not None:
                fn.restype = restype
                fn.argtypes = argtypes
            setattr(self, name, fn)

    @property
    def version(self) -> ObsVersion:
        return ObsVersion.from_packed(self.obs_get_version())

    def __getattr__(self, name: str) -> object:  # only reached for names not bound above
        raise AttributeError(f"libobs binding {name!r} is not declared in obs_plugin/libobs.py")


def _process_dir() -> str | None:
    """The folder of the running program (OBS's, inside OBS: sys.executable is not OBS there)."""
    if sys.platform == "win32":
        buffer = ctypes.create_unicode_buffer(32768)
        if ctypes.windll.kernel32.GetModuleFileNameW(None, buffer, len(buffer)):  # type: ignore[attr-defined]
            return str(Path(buffer.value).parent)
        return None
    try:
        return str(Path(os.readlink("/proc/self/exe")).parent)
    except OSError:
        return str(Path(sys.executable).parent)


@cache
def load() -> Libobs:
    """The process's libobs (OBS's own copy inside OBS); raises OSError naming what was tried."""
    tried: list[str] = []
    for candidate in libobs_candidates(platform.system(), _process_dir()):
        try:
            lib = ctypes.CDLL(candidate)
        except OSError as error:
            tried.append(f"{candidate} ({error})")
            continue
        if hasattr(lib, "obs_register_source_s"):
            return Libobs(lib, candidate)
        tried.append(f"{candidate} (no obs_register_source_s)")
    raise OSError(
        "libobs was not found: tried "
        + "; ".join(tried)
        + ". Run this script inside OBS Studio 29 or later, "
        f"or set {LIBOBS_ENV} to the libobs file."
    )


def text(value: bytes | None) -> str:
    """A C string from libobs as str (None and invalid UTF-8 are tolerated)."""
    return value.decode("utf-8", "replace") if value else ""


def frame_at(address: int) -> ObsSourceFrame:
    """The ``obs_source_frame`` at ``address`` (a view, not a copy)."""
    return ObsSourceFrame.from_address(address)
