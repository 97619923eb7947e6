"""The Face Swap filter: OBS's callbacks for one instance, and the plugin object that routes to them.

Threads (OBS.md, "Threading rules"): ``filter_video``, ``video_tick`` and ``video_render`` run on OBS's graphics
thread and only hand frames over; the model runs in the instance's worker thread; ``update``,
``get_properties``, ``filter_remove`` and ``destroy`` come from the UI (or another) thread.
No libobs call is made while this module's locks are held.
"""

from __future__ import annotations

import logging
import statistics
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from .formats import SUPPORTED, FrameView, PixelFormat, format_name, plane_sizes
from .hotkeys import SwapHotkeys
from .libobs import OBS_SOURCE_ASYNC, Libobs, frame_at, text
from .model import SwapModel
from .properties import (
    STATUS_KEY,
    apply_visibility,
    build,
    read_settings,
    set_defaults,
    show_licence,
)
from .readback import Readback, ReadbackFrame
from .settings import FilterSettings
from .smooth import Carrier, Snapshot
from .worker import FrameWorker

if TYPE_CHECKING:
    from .properties import PanelCallbacks

log = logging.getLogger(__name__)

_HOLDING = ("idle", "loading", "ready")
"""Model states in which frames go to the worker; in the others (disabled, error) they pass through."""


class HeldFrame:
    """An async frame the filter kept (it returned NULL to OBS); released to its source exactly once.

    Its pixels are touched only inside ``open`` (converting, writing back: milliseconds), never
    during inference, so a removal can release it while the model still runs on a copy.
    """

    __slots__ = ("_lock", "_released", "address", "obs", "parent", "shape")

    def __init__(
        self, obs: Libobs, address: int, parent: int, shape: tuple[int, int, int] = (0, 0, 0)
    ) -> None:
        self.obs, self.address, self.parent = obs, address, parent
        self.shape = shape
        """(format, width, height) when it arrived."""
        self._lock = threading.Lock()
        self._released = False

    @contextmanager
    def open(self) -> Iterator[FrameView | None]:
        """The frame's planes while it is still held (None once released); release waits for it."""
        with self._lock:
            yield None if self._released else self.view()

    def view(self) -> FrameView:
        """The frame's planes as writable numpy views (a flipped frame is seen upright)."""
        frame = frame_at(self.address)
        fmt = PixelFormat(frame.format)
        planes = []
        for i, (rows, _) in enumerate(plane_sizes(fmt, frame.width, frame.height)):
            plane = np.ctypeslib.as_array(frame.data[i], (rows, frame.linesize[i]))
            planes.append(plane[::-1] if frame.flip else plane)
        return FrameView(
            fmt,
            frame.width,
            frame.height,
            planes,
            np.ctypeslib.as_array(frame.color_matrix).reshape(4, 4).copy(),
            np.ctypeslib.as_array(frame.color_range_min).copy(),
            np.ctypeslib.as_array(frame.color_range_max).copy(),
            bool(frame.full_range),
        )

    def swap(self, model: SwapModel) -> None:
        """Worker side: swap the faces in place, touching the pixels only while still held."""
        model.swap_held(self.open)

    def abandon(self) -> None:
        """The filter is going away: back to its source now, even while the model runs on a copy."""
        self.release()

    def release(self) -> None:
        """Back to its source, once; later calls do nothing."""
        with self._lock:
            if self._released:
                return
            self._released = True
        self.obs.obs_source_release_frame(self.parent, self.address)


def _shown(done: object, incoming: HeldFrame) -> int | None:
    """The frame to give OBS: ``done`` when it is a held frame of the incoming frame's format
    and size. A frame from before the source changed format (OBS freed its cache of them
    then) or a copy from smooth motion goes back instead and OBS keeps its last frame."""
    if done is None:
        return None
    if isinstance(done, HeldFrame) and done.shape == incoming.shape:
        return done.address
    done.release()  # type: ignore[attr-defined]
    return None


def _let_go(worker: FrameWorker | None, carrier: Carrier | None) -> None:
    """Pass-through: every frame the worker and the smooth-motion carrier hold goes back to the
    source, the ones in progress once they are done (none may be shown later)."""
    for holder in (worker, carrier.worker if carrier is not None else None):
        if holder is not None and holder.held:
            holder.flush()


class FaceSwapFilter:
    """One Face Swap filter on one source."""

    def __init__(self, obs: Libobs, context: int, settings: FilterSettings, name: str = "face-swap") -> None:
        self.obs = obs
        self.context = context
        self.name = name
        self.model = SwapModel()
        self.readback = Readback(obs)
        self.hotkeys = SwapHotkeys(obs, context, name)
        self._lock = threading.Lock()
        self._wanted = settings
        self._worker: FrameWorker | None = None
        self._carrier: Carrier | None = None
        """Async sources with smooth motion: the thread that pastes the latest faces on every frame."""
        self._parent: int | None = None
        self._parent_flags = 0
        self._closed = False
        self._unsupported: set[int] = set()
        """Pixel formats (libobs values) seen and passed through unswapped, named in the status."""
        self._was_off = False
        """Switched off (OBS skips the filter): what it held and drew was let go."""
        self._worker_for_frames()

    # ------------------------------------------------------------ worker plumbing
    def _worker_for_frames(self) -> FrameWorker | None:
        """The running worker, started again if the filter was removed and added back."""
        with self._lock:
            if self._worker is None and not self._closed:
                self._worker = FrameWorker(
                    self._process,
                    self._release,
                    prepare=self._prepare,
                    abandon=self._abandon,
                    name=f"face-swap: {self.name}",
                )
            return self._worker

    def _carrier_for_frames(self, worker: FrameWorker) -> Carrier | None:
        """The carrier (smooth motion), started with the worker it feeds."""
        with self._lock:
            if self._carrier is None and not self._closed and self._worker is worker:
                self._carrier = Carrier(self.model, worker, f"face-swap: {self.name}")
            return self._carrier

    def _prepare(self) -> None:
        with self._lock:
            wanted = self._wanted
        self.model.configure(wanted)

    def _process(self, item: HeldFrame | ReadbackFrame | Snapshot) -> None:
        if self.model.ready:
            item.swap(self.model)

    @staticmethod
    def _release(item: HeldFrame) -> None:
        item.release()

    @staticmethod
    def _abandon(item: HeldFrame) -> None:
        item.abandon()

    @property
    def settings(self) -> FilterSettings:
        with self._lock:
            return self._wanted

    # ------------------------------------------------------------ OBS callbacks
    def update(self, settings: FilterSettings) -> None:
        """New settings from the panel or a script: applied by the worker, never on this thread."""
        with self._lock:
            self._wanted = settings
            worker = self._worker
        if worker is not None:
            worker.poke()

    def filter_video(self, address: int) -> int | None:
        """Async sources: keep this frame for the worker, give back the newest swapped one (or NULL)."""
        worker = self._worker_for_frames()
        incoming = frame_at(address)
        fmt = incoming.format
        if fmt not in SUPPORTED and fmt not in self._unsupported:
            self._unsupported.add(fmt)
            log.warning("Face Swap '%s': %s frames pass through unswapped", self.name, format_name(fmt))
        carrier = self._carrier
        if worker is None or self.model.status.state not in _HOLDING or fmt not in SUPPORTED:
            _let_go(worker, carrier)
            return address
        parent, _ = self._source()
        held = HeldFrame(self.obs, address, parent, (fmt, incoming.width, incoming.height))
        if self.settings.smooth_motion:
            carrier = self._carrier_for_frames(worker)
            if carrier is not None:
                carrier.worker.submit(held)
                return _shown(carrier.worker.take(), held)
        if carrier is not None and carrier.worker.held:
            carrier.worker.flush()  # smooth motion was switched off
        worker.submit(held)
        return _shown(worker.take(), held)

    def _source(self) -> tuple[int, int]:
        """The source this filter is on and its output flags: fixed while the filter is on it,
        so looked up once (libobs calls less per frame)."""
        if not self._parent:
            self._parent = self.obs.obs_filter_get_parent(self.context)
            self._parent_flags = self.obs.obs_source_get_output_flags(self._parent) if self._parent else 0
        return self._parent or 0, self._parent_flags

    def video_tick(self) -> None:
        """Every frame, before any is drawn: the capture readback's GPU work (none for async
        sources). OBS ticks a filter that is switched off too, but skips it otherwise: what it
        holds then is let go at once, so switching it on again never shows a frame from before."""
        self.hotkeys.register(self._source()[0])
        with self._lock:
            worker, carrier = self._worker, self._carrier
        if not self.obs.obs_source_enabled(self.context):
            _let_go(worker, carrier)
            if not self._was_off:  # a readback under way or patches drawn before are stale
                self._was_off = True
                self.readback.drop()
            self.readback.tick(None)
            return
        self._was_off = False
        holding = worker is not None and self.model.status.state in _HOLDING
        self.readback.tick(worker if holding else None)

    def video_render(self) -> None:
        """Capture sources: swap through a delayed GPU readback; async sources draw as they are."""
        obs = self.obs
        parent, flags = self._source()
        target = obs.obs_filter_get_target(self.context)
        if not parent or not target or flags & OBS_SOURCE_ASYNC:
            obs.obs_source_skip_video_filter(self.context)  # no worker for it: none is started
            return
        worker = self._worker_for_frames()
        width, height = obs.obs_source_get_base_width(target), obs.obs_source_get_base_height(target)
        if worker is None or self.model.status.state not in _HOLDING or not width or not height:
            if worker is not None and worker.held:
                worker.flush()
            self.readback.forget_result()
            obs.obs_source_skip_video_filter(self.context)
            return
        self.readback.render(self.context, width, height, worker)

    def remove(self) -> None:
        """Removed from its source: hand every held frame back to the source now, the one in
        inference included, and let the worker finish on its own (never waited for)."""
        summary = self.status_text()
        self.hotkeys.unregister()
        with self._lock:
            worker, self._worker = self._worker, None
            carrier, self._carrier = self._carrier, None
            self._parent = None
        if carrier is not None:
            carrier.worker.close(wait=False)
        if worker is not None:
            if worker.stats.submitted:
                log.info("Face Swap filter '%s' stopped: %s", self.name, summary)
            worker.close(wait=False)

    def close(self) -> None:
        """Destroyed or the script unloads: as ``remove``, and free the GPU objects."""
        with self._lock:
            self._closed = True
        self.hotkeys.close()
        self.remove()
        self.readback.destroy()

    # ------------------------------------------------------------ status
    def status_text(self) -> str:
        status = self.model.status
        parts = [status.state]
        if status.provider:
            parts.append(f"on {status.provider}")
        with self._lock:
            worker = self._worker
        if worker is not None and status.state == "ready":
            stats = worker.stats
            parts.append(f"{stats.fps:.1f} fps processed")
            if stats.latencies_frames:
                frames = statistics.median(stats.latencies_frames)
                ms = statistics.median(stats.latencies_ms)
                parts.append(f"latency {frames:g} frames ({ms:.0f} ms)")
            parts.append(f"{stats.processed} processed, {stats.dropped} dropped")
            if worker.last_error:
                parts.append(f"last error: {worker.last_error}")
        if status.message:
            parts.append(status.message)
        unsupported = tuple(self._unsupported)  # one atomic copy: OBS's thread may add to it
        if unsupported:
            names = ", ".join(sorted(format_name(f) for f in unsupported))
            parts.append(f"passed through unswapped (pixel format not supported): {names}")
        return "; ".join(parts)


class Plugin:
    """The current implementation behind the registered type: instances by id, one per filter."""

    def __init__(self, obs: Libobs, callbacks: PanelCallbacks) -> None:
        self.obs = obs
        self.callbacks = callbacks
        self.filters: dict[int, FaceSwapFilter] = {}

    def create(self, instance: int, context: int, settings: int) -> None:
        name = text(self.obs.obs_source_get_name(context)) or f"face-swap-{instance}"
        self.filters[instance] = FaceSwapFilter(self.obs, context, read_settings(self.obs, settings), name)

    def attach(self, instance: int, context: int) -> None:
        """A filter made before a script reload: rebuild it from its stored settings."""
        data = self.obs.obs_source_get_settings(context)
        try:
            self.create(instance, context, data)
        finally:
            self.obs.obs_data_release(data)

    def destroy(self, instance: int) -> None:
        live = self.filters.pop(instance, None)
        if live is not None:
            live.close()

    def get_defaults(self, settings: int) -> None:
        set_defaults(self.obs, settings)

    def update(self, instance: int, settings: int) -> None:
        live = self.filters.get(instance)
        if live is not None:
            live.update(read_settings(self.obs, settings))

    def filter_video(self, instance: int, frame: int) -> int | None:
        live = self.filters.get(instance)
        return live.filter_video(frame) if live is not None else frame

    def video_tick(self, instance: int) -> None:
        live = self.filters.get(instance)
        if live is not None:
            live.video_tick()

    def video_render(self, instance: int, context: int) -> None:
        live = self.filters.get(instance)
        if live is not None:
            live.video_render()
        else:
            self.obs.obs_source_skip_video_filter(context)

    def filter_remove(self, instance: int) -> None:
        live = self.filters.get(instance)
        if live is not None:
            live.remove()

    def get_properties(self, instance: int | None) -> int:
        live = self.filters.get(instance) if instance else None
        current = self._stored(live) if live is not None else FilterSettings()
        failing = live is not None and live.model.status.state == "error"
        if live is not None:
            self._show_status(live)
        return build(self.obs, current, self.callbacks, instance or 0, failing)

    def modified(self, props: int, settings: int) -> bool:
        show_licence(self.obs, settings)
        apply_visibility(self.obs, props, settings)
        return True

    def refresh(self, instance: int) -> bool:
        live = self.filters.get(instance)
        if live is not None:
            self._show_status(live)
        return True

    def _stored(self, live: FaceSwapFilter) -> FilterSettings:
        """The settings as stored now: a remote change (obs-websocket) is stored at once, while
        OBS calls ``update`` for video filters only on its next frame. A panel built from the
        applied ones would list, and on its next change write back, the values from before."""
        data = self.obs.obs_source_get_settings(live.context)
        try:
            return read_settings(self.obs, data)
        finally:
            self.obs.obs_data_release(data)

    def _show_status(self, live: FaceSwapFilter) -> None:
        """Write the status line and the swapper's licence where the panel reads them."""
        data = self.obs.obs_source_get_settings(live.context)
        try:
            self.obs.obs_data_set_string(data, STATUS_KEY.encode(), live.status_text().encode())
            show_licence(self.obs, data)
        finally:
            self.obs.obs_data_release(data)

    def shutdown(self) -> None:
        """The script unloads: every instance stops its worker and hands back its frames."""
        for live in list(self.filters.values()):
            live.close()
        self.filters.clear()
