"""Registering the Face Swap filter type with libobs: once per process, surviving script reloads.

libobs cannot unregister a type and keeps the pointers it was given (the info struct, the id
and name strings, every callback), so they live in one registry object kept in
``sys.modules`` for the life of the process. Its callbacks ("thunks") route each call to the
current ``Plugin``; between a script unload and the next load there is none, and the thunks
pass frames through untouched. Every thunk catches everything: an exception must never reach
libobs, and a failing ``filter_video`` returns its input frame.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

from .filter import Plugin
from .libobs import (
    OBS_SOURCE_CUSTOM_DRAW,
    OBS_SOURCE_TYPE_FILTER,
    OBS_SOURCE_VIDEO,
    ClickedFn,
    CreateFn,
    DataFn,
    DataPointerFn,
    FilterVideoFn,
    GetNameFn,
    GetPropertiesFn,
    Libobs,
    ModifiedFn,
    ObsSourceInfo,
    VideoTickFn,
)
from .platforms import source_info_size
from .properties import PanelCallbacks

log = logging.getLogger(__name__)

REGISTRY_KEY = "_inswapper_live_obs_registry"
SWITCH_INTERVAL_S = 0.001
"""OBS's graphics thread takes the GIL in every callback; while the worker runs Python code it
keeps the GIL up to the interpreter's switch interval (5 ms by default) before handing it over."""
FILTER_ID = "inswapper_live_face_swap"
FILTER_NAME = "Face Swap"
OUTPUT_FLAGS = OBS_SOURCE_VIDEO | OBS_SOURCE_CUSTOM_DRAW
"""Not OBS_SOURCE_ASYNC: the filter is offered for every video source. Async sources call
``filter_video`` (CPU frames); capture sources call ``video_render`` (GPU readback), which
draws with its own effect loop (custom draw: OBS does not wrap it in one)."""


class Registry:
    """What libobs points at, for the life of the process."""

    def __init__(self, obs: Libobs) -> None:
        self.obs = obs
        self.impl: Plugin | None = None
        self.contexts: dict[int, int] = {}
        """Every live filter instance (id -> its obs_source_t), also across script reloads."""
        self.registered = False
        self.switch_interval: float | None = None
        """The interpreter's switch interval before the plugin lowered it, restored on unload."""
        self._lock = threading.Lock()
        self._next_id = 1
        self._logged: set[str] = set()
        self._id = ctypes.create_string_buffer(FILTER_ID.encode())
        self._name = ctypes.create_string_buffer(FILTER_NAME.encode())
        self.thunks: dict[str, Any] = {
            "get_name": GetNameFn(self._get_name),
            "create": CreateFn(self._create),
            "destroy": DataFn(self._destroy),
            "get_defaults": DataFn(self._get_defaults),
            "get_properties": GetPropertiesFn(self._get_properties),
            "update": DataPointerFn(self._update),
            "video_tick": VideoTickFn(self._video_tick),
            "video_render": DataPointerFn(self._video_render),
            "filter_video": FilterVideoFn(self._filter_video),
            "filter_remove": DataPointerFn(self._filter_remove),
        }
        self.callbacks = PanelCallbacks(ModifiedFn(self._modified), ClickedFn(self._refresh))
        info = ObsSourceInfo()
        info.id = ctypes.addressof(self._id)
        info.type = OBS_SOURCE_TYPE_FILTER
        info.output_flags = OUTPUT_FLAGS
        for name, thunk in self.thunks.items():
            setattr(info, name, ctypes.cast(thunk, ctypes.c_void_p).value)
        self.info = info

    # ------------------------------------------------------------ thunks
    def _guard(self, where: str, call: Callable[[Plugin], Any], fallback: Callable[[], Any]) -> Any:
        impl = self.impl
        if impl is None:
            return fallback()
        try:
            return call(impl)
        except Exception as error:
            key = f"{where}: {type(error).__name__}: {error}"
            if key not in self._logged:  # once per distinct error, not once per frame
                self._logged.add(key)
                log.exception("Face Swap %s failed", where)
            return fallback()

    def _get_name(self, _type_data: int | None) -> int:
        return ctypes.addressof(self._name)

    def _create(self, settings: int | None, source: int | None) -> int:
        with self._lock:
            instance = self._next_id
            self._next_id += 1
            self.contexts[instance] = source or 0
        self._guard("create", lambda impl: impl.create(instance, source or 0, settings or 0), lambda: None)
        return instance  # never NULL: libobs treats NULL as a failed create

    def _destroy(self, instance: int | None) -> None:
        with self._lock:
            self.contexts.pop(instance or 0, None)
        self._guard("destroy", lambda impl: impl.destroy(instance or 0), lambda: None)

    def _get_defaults(self, settings: int | None) -> None:
        self._guard("get_defaults", lambda impl: impl.get_defaults(settings or 0), lambda: None)

    def _get_properties(self, instance: int | None) -> int:
        return self._guard(
            "get_properties", lambda impl: impl.get_properties(instance), self.obs.obs_properties_create
        )

    def _update(self, instance: int | None, settings: int | None) -> None:
        self._guard("update", lambda impl: impl.update(instance or 0, settings or 0), lambda: None)

    def _video_tick(self, instance: int | None, _seconds: float) -> None:
        self._guard("video_tick", lambda impl: impl.video_tick(instance or 0), lambda: None)

    def _video_render(self, instance: int | None, _effect: int | None) -> None:
        context = self.contexts.get(instance or 0, 0)
        self._guard(
            "video_render",
            lambda impl: impl.video_render(instance or 0, context),
            lambda: self.obs.obs_source_skip_video_filter(context),
        )

    def _filter_video(self, instance: int | None, frame: int | None) -> int | None:
        return self._guard(
            "filter_video", lambda impl: impl.filter_video(instance or 0, frame or 0), lambda: frame
        )

    def _filter_remove(self, instance: int | None, _parent: int | None) -> None:
        self._guard("filter_remove", lambda impl: impl.filter_remove(instance or 0), lambda: None)

    def _modified(
        self, _priv: int | None, props: int | None, _prop: int | None, settings: int | None
    ) -> bool:
        return bool(
            self._guard("modified", lambda impl: impl.modified(props or 0, settings or 0), lambda: False)
        )

    def _refresh(self, _props: int | None, _prop: int | None, instance: int | None) -> bool:
        return bool(self._guard("refresh", lambda impl: impl.refresh(instance or 0), lambda: False))


def registry(obs: Libobs) -> Registry:
    """The process's registry, created on first use."""
    holder = sys.modules.get(REGISTRY_KEY)
    if holder is None:
        holder = types.ModuleType(
            REGISTRY_KEY, "Face Swap filter type registered with libobs (do not remove)"
        )
        holder.registry = Registry(obs)  # type: ignore[attr-defined]
        sys.modules[REGISTRY_KEY] = holder
    return holder.registry  # type: ignore[attr-defined, no-any-return]


def register(obs: Libobs) -> Registry:
    """Register the type (first load only) and install a fresh Plugin; filters that outlived a
    script reload are rebuilt from their stored settings."""
    if not obs.obs_initialized():
        raise RuntimeError(
            f"libobs ({obs.path}) is loaded but not running: load this script from OBS Studio."
        )
    reg = registry(obs)
    if not reg.registered:
        size = source_info_size(obs.version, ctypes.sizeof(ObsSourceInfo))
        obs.obs_register_source_s(ctypes.byref(reg.info), size)
        reg.registered = True
        log.info("Face Swap filter registered with OBS %s (struct size %d)", obs.version, size)
    if reg.impl is None:
        reg.switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(reg.switch_interval, SWITCH_INTERVAL_S))
        plugin = Plugin(obs, reg.callbacks)
        for instance, context in list(reg.contexts.items()):
            plugin.attach(instance, context)
        reg.impl = plugin
    return reg


def unload() -> None:
    """The script unloads: frames pass through from now on, workers stop, held frames go back."""
    holder = sys.modules.get(REGISTRY_KEY)
    reg: Registry | None = getattr(holder, "registry", None)
    if reg is None or reg.impl is None:
        return
    impl, reg.impl = reg.impl, None
    impl.shutdown()
    if reg.switch_interval is not None:
        sys.setswitchinterval(reg.switch_interval)
