"""Hotkeys for each Face Swap filter: a streamer shows the real face, and swaps again, mid-stream.

A pair per filter, "Face Swap 'NAME': swap faces" and "... show the real face", switches the
filter on and off: the eye in the Filters dialog, which OBS saves with the scene collection.
Bound to one key, the pair is a toggle (OBS's hotkey pairs, as Mute / Unmute). OBS's Settings >
Hotkeys lists the hotkeys of sources, not of their filters, so the pair is registered on the
filter's source (as obs-face-tracker does), once the filter is on one.

OBS saves a source's bindings with it and loads them by name when a hotkey is registered. A
script reload registers the pair again, and OBS would then give it the bindings the source was
loaded with, losing any made since: so the pair's bindings are kept in the filter's settings
when it is unregistered, and loaded from there (and dropped) when it is registered again.

Threads: ``register`` runs on OBS's graphics thread (``video_tick``), ``unregister`` on any;
the pair's functions on whichever thread OBS calls hotkeys from (the UI thread in OBS). No
libobs call is made while the lock is held, and the pair's functions never take it: OBS holds
its hotkey mutex while it calls them, and ``register`` / ``unregister`` wait for that mutex.
"""

from __future__ import annotations

import ctypes
import logging
import threading

from .libobs import OBS_INVALID_HOTKEY_PAIR_ID, HotkeyPairFn, Libobs

log = logging.getLogger(__name__)

NAMES = ("inswapper_live.swap_faces", "inswapper_live.show_real_face")
"""The pair's names in the source's saved hotkeys (their bindings are found by these)."""
KEPT = ("hotkeys_swap_faces", "hotkeys_show_real_face")
"""Where the filter's settings keep the bindings between an unregister and the next register."""


class SwapHotkeys:
    """The hotkey pair of one filter, registered on the source the filter is on."""

    def __init__(self, obs: Libobs, context: int, name: str) -> None:
        self.obs = obs
        self.context = context
        self.name = name
        self._lock = threading.Lock()
        self._pair: int | None = None
        self._parent = 0
        self._closed = False
        # libobs keeps these function pointers while the pair exists: they live with this object.
        self._swap_faces = HotkeyPairFn(lambda data, pair, hotkey, pressed: self._switch(True, pressed))
        self._show_real_face = HotkeyPairFn(lambda data, pair, hotkey, pressed: self._switch(False, pressed))

    @property
    def pair(self) -> int | None:
        with self._lock:
            return self._pair

    def register(self, parent: int) -> None:
        """On ``parent`` (the filter's source), unless already there or closed."""
        with self._lock:
            if self._closed or not parent or self._parent == parent:
                return
            self._parent = parent
        label = f"Face Swap '{self.name}'"
        pair = self.obs.obs_hotkey_pair_register_source(
            parent,
            NAMES[0].encode(),
            f"{label}: swap faces".encode(),
            NAMES[1].encode(),
            f"{label}: show the real face".encode(),
            self._swap_faces,
            self._show_real_face,
            None,
            None,
        )
        if pair == OBS_INVALID_HOTKEY_PAIR_ID:
            log.warning("Face Swap '%s': OBS did not register its hotkeys", self.name)
            return
        self._load_kept(pair)
        with self._lock:
            closed, self._pair = self._closed, pair
        if closed:  # ``close`` ran meanwhile and found nothing to unregister
            self.unregister()

    def unregister(self) -> None:
        """Off the source (the filter was removed), its bindings kept for the next ``register``."""
        with self._lock:
            pair, self._pair, self._parent = self._pair, None, 0
        if pair is None:
            return
        self._keep(pair)
        self.obs.obs_hotkey_pair_unregister(pair)

    def close(self) -> None:
        """The filter goes away: unregister for good (OBS calls the pair no more once this returns)."""
        with self._lock:
            self._closed = True
        self.unregister()

    def _switch(self, enabled: bool, pressed: bool) -> bool:
        """A key of the pair: switch the filter to ``enabled``; True when it changed (OBS then
        holds the partner off until the key is released, which makes one key a toggle)."""
        try:
            if not pressed or self._closed or self.obs.obs_source_enabled(self.context) == enabled:
                return False
            self.obs.obs_source_set_enabled(self.context, enabled)
            log.info(
                "Face Swap '%s': %s (hotkey)",
                self.name,
                "swapping faces" if enabled else "showing the real face",
            )
            return True
        except Exception:  # never into libobs
            log.exception("Face Swap '%s': hotkey failed", self.name)
            return False

    def _keep(self, pair: int) -> None:
        bindings = (ctypes.c_void_p(), ctypes.c_void_p())
        self.obs.obs_hotkey_pair_save(pair, ctypes.byref(bindings[0]), ctypes.byref(bindings[1]))
        settings = self.obs.obs_source_get_settings(self.context)
        try:
            for key, array in zip(KEPT, bindings, strict=True):
                if array.value:
                    self.obs.obs_data_set_array(settings, key.encode(), array.value)
                    self.obs.obs_data_array_release(array.value)
        finally:
            self.obs.obs_data_release(settings)

    def _load_kept(self, pair: int) -> None:
        settings = self.obs.obs_source_get_settings(self.context)
        try:
            arrays = [self.obs.obs_data_get_array(settings, key.encode()) for key in KEPT]
            if any(arrays):
                self.obs.obs_hotkey_pair_load(pair, *arrays)
            for key, array in zip(KEPT, arrays, strict=True):
                if array:
                    self.obs.obs_data_array_release(array)
                self.obs.obs_data_erase(settings, key.encode())
        finally:
            self.obs.obs_data_release(settings)
