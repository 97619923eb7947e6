"""Capture sources (display, window, game, browser): swap faces through a GPU readback.

Synchronous sources have no CPU frame to filter, so ``video_render`` draws the source into a
texture, copies it to a staging surface and reads back the frame staged on the *previous*
call (mapping the surface just staged would stall until the GPU finishes it). The readback
goes to the worker like an async frame; the newest swapped frame is uploaded to a dynamic
texture and drawn instead of the source. A frame is read back only when the worker has no
frame waiting (a newer one would replace it anyway). Until the first swapped frame exists
the source is drawn as it is: enabling the filter never blanks the source.

Every method except ``destroy`` runs on the graphics thread inside ``video_render``.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from .formats import FrameView, PixelFormat, yuv_matrix
from .libobs import (
    GS_BGRA,
    GS_BLEND_ONE,
    GS_BLEND_ZERO,
    GS_CLEAR_COLOR,
    GS_DYNAMIC,
    GS_ZS_NONE,
    OBS_EFFECT_DEFAULT,
    OBS_SOURCE_CUSTOM_DRAW,
    Libobs,
    Vec4,
)
from .worker import FrameWorker

_IDENTITY = yuv_matrix("709", True)
"""Unused for BGRA frames, but a FrameView always carries a matrix."""


class ReadbackFrame:
    """One read-back BGRA frame in a pooled buffer; ``release`` returns the buffer to the pool."""

    __slots__ = ("buffer", "height", "pool", "width")

    def __init__(self, buffer: np.ndarray, width: int, height: int, pool: BufferPool) -> None:
        self.buffer, self.width, self.height, self.pool = buffer, width, height, pool

    def view(self) -> FrameView:
        return FrameView(PixelFormat.BGRA, self.width, self.height, [self.buffer], *_IDENTITY, True)

    @contextmanager
    def open(self) -> Iterator[FrameView]:
        """The buffer is the filter's own: always there until the worker releases it."""
        yield self.view()

    def abandon(self) -> None:
        """Nothing to hand back early: the worker returns the buffer when it is done with it."""

    def release(self) -> None:
        self.pool.give(self.buffer)


class BufferPool:
    """Reused frame buffers, so a 1080p readback does not allocate 8 MB per frame."""

    def __init__(self) -> None:
        self._free: list[np.ndarray] = []
        self._lock = threading.Lock()

    def get(self, height: int, row_bytes: int) -> np.ndarray:
        with self._lock:
            while self._free:
                buffer = self._free.pop()
                if buffer.shape == (height, row_bytes):
                    return buffer
        return np.empty((height, row_bytes), dtype=np.uint8)

    def give(self, buffer: np.ndarray) -> None:
        with self._lock:
            if len(self._free) < 4:
                self._free.append(buffer)


class Readback:
    """The GPU objects of one filter instance on a capture source."""

    def __init__(self, obs: Libobs) -> None:
        self.obs = obs
        self.size = (0, 0)
        self.texrender: int | None = None
        self.surfaces: list[int | None] = [None, None]
        self.staged = [False, False]
        self.slot = 0
        self.result: int | None = None
        self.has_result = False
        self.pool = BufferPool()
        self._clear = Vec4(0.0, 0.0, 0.0, 0.0)
        self._data = ctypes.c_void_p()
        self._linesize = ctypes.c_uint32()

    def _ensure(self, width: int, height: int) -> None:
        if self.size == (width, height) and self.texrender:
            return
        self._free_objects()
        obs = self.obs
        self.texrender = obs.gs_texrender_create(GS_BGRA, GS_ZS_NONE)
        self.surfaces = [obs.gs_stagesurface_create(width, height, GS_BGRA) for _ in range(2)]
        self.result = obs.gs_texture_create(width, height, GS_BGRA, 1, None, GS_DYNAMIC)
        self.size = (width, height)

    def render(self, parent: int, target: int, width: int, height: int, worker: FrameWorker) -> bool:
        """Draw the newest swapped frame; queue the previous frame's readback for the worker.

        False when no swapped frame exists yet: the caller draws the source itself."""
        obs = self.obs
        self._ensure(width, height)
        previous = self.slot ^ 1
        if self.staged[previous]:
            self._read(self.surfaces[previous], width, height, worker)
            self.staged[previous] = False
        # Capture this frame only if the worker will want it: while a frame waits for the
        # worker, a newer one would only replace it, so it is neither rendered nor read back.
        if worker.wants_frame() and self._capture(parent, target, width, height):
            obs.gs_stage_texture(self.surfaces[self.slot], obs.gs_texrender_get_texture(self.texrender))
            self.staged[self.slot] = True
        self.slot = previous

        done = worker.take()
        if done is not None:
            obs.gs_texture_set_image(self.result, done.buffer.ctypes.data, done.buffer.strides[0], False)
            self.has_result = True
            done.release()
        if not self.has_result:
            return False
        effect = obs.obs_get_base_effect(OBS_EFFECT_DEFAULT)
        obs.gs_effect_set_texture(obs.gs_effect_get_param_by_name(effect, b"image"), self.result)
        while obs.gs_effect_loop(effect, b"Draw"):
            obs.gs_draw_sprite(self.result, 0, width, height)
        return True

    def _capture(self, parent: int, target: int, width: int, height: int) -> bool:
        """Render the filter's target (the source, or the filter before this one) into the texrender."""
        obs = self.obs
        obs.gs_texrender_reset(self.texrender)
        if not obs.gs_texrender_begin(self.texrender, width, height):
            return False
        obs.gs_clear(GS_CLEAR_COLOR, ctypes.byref(self._clear), 0.0, 0)
        obs.gs_ortho(0.0, float(width), 0.0, float(height), -100.0, 100.0)
        obs.gs_blend_state_push()
        obs.gs_blend_function(GS_BLEND_ONE, GS_BLEND_ZERO)
        if target == parent and not obs.obs_source_get_output_flags(parent) & OBS_SOURCE_CUSTOM_DRAW:
            obs.obs_source_default_render(target)  # as obs_source_process_filter_begin does
        else:
            obs.obs_source_video_render(target)
        obs.gs_blend_state_pop()
        obs.gs_texrender_end(self.texrender)
        return True

    def _read(self, surface: int | None, width: int, height: int, worker: FrameWorker) -> None:
        obs = self.obs
        if not obs.gs_stagesurface_map(surface, ctypes.byref(self._data), ctypes.byref(self._linesize)):
            return
        try:
            linesize = self._linesize.value
            mapped = np.ctypeslib.as_array(
                ctypes.cast(self._data, ctypes.POINTER(ctypes.c_uint8)), (height, linesize)
            )
            buffer = self.pool.get(height, width * 4)
            np.copyto(buffer, mapped[:, : width * 4])
        finally:
            obs.gs_stagesurface_unmap(surface)
        worker.submit(ReadbackFrame(buffer, width, height, self.pool))

    def forget_result(self) -> None:
        """Pass-through from now on: the next swap starts from a fresh readback."""
        self.has_result = False
        self.staged = [False, False]

    def _free_objects(self) -> None:
        obs = self.obs
        if self.texrender:
            obs.gs_texrender_destroy(self.texrender)
        for surface in self.surfaces:
            if surface:
                obs.gs_stagesurface_destroy(surface)
        if self.result:
            obs.gs_texture_destroy(self.result)
        self.texrender, self.surfaces, self.result = None, [None, None], None
        self.staged, self.has_result, self.size = [False, False], False, (0, 0)

    def destroy(self) -> None:
        """Free the GPU objects (any thread). What exists is looked at inside the graphics
        context: a ``video_render`` halfway through creating them holds it, and finishes first."""
        self.obs.obs_enter_graphics()
        try:
            self._free_objects()
        finally:
            self.obs.obs_leave_graphics()
