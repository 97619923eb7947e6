"""Capture sources (display, window, game, browser, image, colour): swap faces through a GPU readback.

Synchronous sources have no CPU frame to filter. ``video_render`` draws the source as it is
(OBS's own path), then the newest swapped face patches on top; when the worker waits for a
frame it also renders the source into a texture. The rest happens in ``video_tick``, before
OBS draws anything of the frame: OBS waited for the last frame's drawing when it presented it,
so little GPU work is pending then for ours to wait for. (Measured with llvmpipe: in
``video_render``, staging first waited for OBS's clear of the frame, and drawing a patch
uploaded there for all of the frame drawn so far; rendering the source in ``video_tick``
waited for that drawing when leaving the graphics context. Some waits of 2 to 5 ms remain,
in drawing the source and the patches, mostly in frames after an upload.) One readback thus
takes three steps, each in a different frame:

1. frame N, ``video_render``: the source is rendered into a texture;
2. frame N+1, ``video_tick``: the texture is staged into one of ``RING`` staging surfaces (on
   a GPU without memory of its own, such as Mesa's llvmpipe or many integrated GPUs, that
   copies the texture inside the call);
3. ``LAG`` frames after staging, ``video_tick``: the surface is mapped (a GPU's copy has long
   finished, so mapping never waits for it) and handed to the worker *mapped*: the copy out
   of it, the conversion and everything after happen on the worker.

``video_tick`` also unmaps the surfaces the worker has finished reading and uploads the small
patches of pixels the swap changed (faces, the label; never a whole frame). Frames are counted
by ``video_tick`` (once per frame; ``video_render`` may run more than once).

Until the first swapped patches exist the source simply shows as it is: enabling the filter
never blanks it. A patch stays until the next result (one inference later).

Every method except ``destroy`` runs on the graphics thread (``video_tick``, ``video_render``); the
worker touches a mapped surface only inside ``ReadbackFrame.read``, which ``destroy`` and a
resize wait for (milliseconds: a conversion, never an inference) before unmapping.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .libobs import (
    GS_BGRA,
    GS_BLEND_ONE,
    GS_BLEND_ZERO,
    GS_CLEAR_COLOR,
    GS_RGBA,
    GS_ZS_NONE,
    OBS_EFFECT_DEFAULT,
    OBS_SOURCE_CUSTOM_DRAW,
    Libobs,
    Vec4,
)
from .worker import FrameWorker

if TYPE_CHECKING:
    from .model import SwapModel

RING = 3
"""Staging surfaces: one being staged, one waiting out the GPU, one with the worker."""
LAG = 2
"""Frames between staging a surface and mapping it."""
READBACK_FRAMES = 1 + LAG
"""Frames from rendering the source for a readback to handing it to the worker."""
FORMAT = GS_RGBA
"""The texture and staging surfaces' pixel format: the one a GPU stores (and llvmpipe copies
without reordering channels, a third faster than BGRA)."""


@dataclass
class Patch:
    """Swapped pixels to draw over the source: BGRA, at (x, y)."""

    x: int
    y: int
    pixels: np.ndarray


class ReadbackFrame:
    """One mapped staging surface, for the worker: read once, then the surface can be unmapped."""

    __slots__ = ("_lock", "_open", "address", "height", "linesize", "patches", "width")

    def __init__(self, address: int, linesize: int, width: int, height: int) -> None:
        self.address, self.linesize, self.width, self.height = address, linesize, width, height
        self.patches: list[Patch] | None = None
        """Set by the worker: what the swap changed (None until then or when it failed)."""
        self._lock = threading.Lock()
        self._open = True

    @property
    def finished(self) -> bool:
        """Whether the mapped memory is no longer needed (read, dropped or abandoned); never
        waits: while the worker is reading it, it is not finished."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            return not self._open
        finally:
            self._lock.release()

    def read(self) -> np.ndarray | None:
        """The frame as BGR (copied out of the mapped memory), once; None if it was let go."""
        with self._lock:
            if not self._open:
                return None
            mapped = np.ctypeslib.as_array(
                ctypes.cast(self.address, ctypes.POINTER(ctypes.c_uint8)), (self.height, self.linesize)
            )
            rgba = mapped[:, : 4 * self.width].reshape(self.height, self.width, 4)
            bgr = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGR)  # OpenCV lets OBS's thread have the GIL meanwhile
            self._open = False
            return bgr

    def swap(self, model: SwapModel) -> None:
        """Worker side: read the frame, swap it, keep the changed pixels as patches."""
        before = self.read()
        if before is not None:
            self.patches = patches_of(before, *model.swapped(before))

    def release(self) -> None:
        """Dropped or done: the render thread may unmap the surface."""
        with self._lock:
            self._open = False

    abandon = release


def patches_of(before: np.ndarray, after: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> list[Patch]:
    """BGRA patches of ``after`` over the part of each box where it differs from ``before``."""
    patches = []
    for y0, y1, x0, x1 in boxes:
        diff = np.any(after[y0:y1, x0:x1] != before[y0:y1, x0:x1], axis=2)
        if not diff.any():
            continue
        rows, cols = np.flatnonzero(diff.any(axis=1)), np.flatnonzero(diff.any(axis=0))
        top, bottom, left, right = y0 + rows[0], y0 + rows[-1] + 1, x0 + cols[0], x0 + cols[-1] + 1
        pixels = cv2.cvtColor(after[top:bottom, left:right], cv2.COLOR_BGR2BGRA)
        patches.append(Patch(int(left), int(top), pixels))
    return patches


@dataclass
class _Slot:
    surface: int | None = None
    staged_at: int | None = None
    """The render count when the surface was staged (None: nothing staged)."""
    frame: ReadbackFrame | None = None
    """The worker's frame while the surface is mapped."""


@dataclass
class _Drawn:
    texture: int
    x: int
    y: int
    width: int
    height: int


@dataclass
class Readback:
    """The GPU objects of one filter instance on a capture source."""

    obs: Libobs
    size: tuple[int, int] = (0, 0)
    texrender: int | None = None
    slots: list[_Slot] = field(default_factory=list)
    drawn: list[_Drawn] = field(default_factory=list)
    has_result: bool = False
    frames: int = 0
    """Frames ticked: OBS's frame count as this filter sees it."""
    rendered_at: int | None = None
    """The frame in which the source was rendered into the texture not yet staged."""

    def __post_init__(self) -> None:
        self._clear = Vec4(0.0, 0.0, 0.0, 0.0)
        self._data = ctypes.c_void_p()
        self._linesize = ctypes.c_uint32()
        self._effect: int | None = None
        self._image: int | None = None

    @property
    def surfaces(self) -> list[int | None]:
        return [s.surface for s in self.slots]

    def _ensure(self, width: int, height: int) -> None:
        if self.size == (width, height) and self.texrender:
            return
        self._free_objects()
        obs = self.obs
        self.texrender = obs.gs_texrender_create(FORMAT, GS_ZS_NONE)
        self.slots = [_Slot(obs.gs_stagesurface_create(width, height, FORMAT)) for _ in range(RING)]
        self.size = (width, height)

    def render(self, context: int, width: int, height: int, worker: FrameWorker) -> bool:
        """Draw the source and the newest patches; start a readback if the worker waits for one.

        False when nothing swapped exists yet (the source was drawn as it is)."""
        self._ensure(width, height)
        if (
            self.rendered_at is None
            and worker.wants_frame()
            and not any(s.staged_at is not None for s in self.slots)
            and self._capture(context)
        ):
            self.rendered_at = self.frames
        self.obs.obs_source_skip_video_filter(context)
        self._draw()
        return self.has_result

    def tick(self, worker: FrameWorker | None) -> None:
        """A new frame, before OBS draws any of it: upload the worker's newest patches, map and
        stage (see the module), unmap the surfaces the worker has read. Nothing without a
        worker (passing through) or before the first ``render`` (an async source), and the
        graphics context is entered only for that work: with llvmpipe, leaving it waits for
        whatever the GPU still draws."""
        self.frames += 1
        if worker is None or not self.texrender:
            return
        done = worker.take()
        if done is None and not self._due(worker):
            return
        self.obs.obs_enter_graphics()
        try:
            if self.texrender:  # unless ``destroy`` freed it meanwhile
                self._step(worker, done)
            elif done is not None:
                done.release()
        finally:
            self.obs.obs_leave_graphics()

    def _due(self, worker: FrameWorker) -> bool:
        """Whether a staging or a map is due this frame."""
        if self.rendered_at is not None and self.rendered_at < self.frames:
            return True
        ready = any(s.staged_at is not None and self.frames - s.staged_at >= LAG for s in self.slots)
        return ready and worker.wants_frame()

    def _step(self, worker: FrameWorker, done: ReadbackFrame | None) -> None:
        obs = self.obs
        for slot in self.slots:  # the worker is done with these: unmapping is cheap now
            if slot.frame is not None and slot.frame.finished:
                obs.gs_stagesurface_unmap(slot.surface)
                slot.frame = None
        if done is not None:
            if done.patches is not None:
                self._upload(done.patches)
            done.release()
        if worker.wants_frame():
            self._hand_over(worker)
        if self.rendered_at is not None and self.rendered_at < self.frames:
            free = next((s for s in self.slots if s.frame is None and s.staged_at is None), None)
            if free is not None:
                obs.gs_stage_texture(free.surface, obs.gs_texrender_get_texture(self.texrender))
                free.staged_at = self.frames
                self.rendered_at = None

    def _hand_over(self, worker: FrameWorker) -> None:
        """Map the surface staged LAG frames ago (if any) and give it to the worker, mapped."""
        ready = [s for s in self.slots if s.staged_at is not None and self.frames - s.staged_at >= LAG]
        if not ready:
            return
        slot = min(ready, key=lambda s: s.staged_at or 0)
        slot.staged_at = None
        if not self.obs.gs_stagesurface_map(
            slot.surface, ctypes.byref(self._data), ctypes.byref(self._linesize)
        ):
            return
        slot.frame = ReadbackFrame(self._data.value or 0, self._linesize.value, *self.size)
        worker.submit(slot.frame)

    def _upload(self, patches: list[Patch]) -> None:
        """Replace the drawn patches: small textures, created per result (a few per second)
        with their pixels. (A dynamic texture filled afterwards is copied by the GPU, and with
        llvmpipe the first draw of it waited milliseconds for that copy.)"""
        obs = self.obs
        self._free_drawn()
        for patch in patches:
            h, w = patch.pixels.shape[:2]
            pixels = np.ascontiguousarray(patch.pixels)
            levels = (ctypes.c_void_p * 1)(pixels.ctypes.data)
            texture = obs.gs_texture_create(w, h, GS_BGRA, 1, ctypes.addressof(levels), 0)
            if texture:
                self.drawn.append(_Drawn(texture, patch.x, patch.y, w, h))
        self.has_result = True

    def _draw(self) -> None:
        if not self.drawn:
            return
        obs = self.obs
        if self._effect is None:  # OBS's default effect: the same for the life of the program
            self._effect = obs.obs_get_base_effect(OBS_EFFECT_DEFAULT)
            self._image = obs.gs_effect_get_param_by_name(self._effect, b"image")
        effect, image = self._effect, self._image
        for patch in self.drawn:
            obs.gs_effect_set_texture(image, patch.texture)
            obs.gs_matrix_push()
            obs.gs_matrix_translate3f(float(patch.x), float(patch.y), 0.0)
            while obs.gs_effect_loop(effect, b"Draw"):
                obs.gs_draw_sprite(patch.texture, 0, patch.width, patch.height)
            obs.gs_matrix_pop()

    def _capture(self, context: int) -> bool:
        """Render the filter's target (the source, or the filter before this one) into the texrender."""
        obs = self.obs
        parent, target = obs.obs_filter_get_parent(context), obs.obs_filter_get_target(context)
        width, height = self.size
        if not parent or not target:
            return False
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

    def forget_result(self) -> None:
        """Pass-through from now on: the next swap starts from a fresh readback."""
        self._free_drawn()
        self.has_result = False
        self.rendered_at = None
        for slot in self.slots:
            slot.staged_at = None

    def drop(self) -> None:
        """``forget_result`` from outside the graphics context (the filter was switched off: OBS
        stops drawing it, and what it staged or drew is of frames from before)."""
        if not self.texrender and not self.drawn:
            return
        self.obs.obs_enter_graphics()
        try:
            self.forget_result()
        finally:
            self.obs.obs_leave_graphics()

    def _free_drawn(self) -> None:
        for patch in self.drawn:
            self.obs.gs_texture_destroy(patch.texture)
        self.drawn = []

    def _free_objects(self) -> None:
        obs = self.obs
        if self.texrender:
            obs.gs_texrender_destroy(self.texrender)
        for slot in self.slots:
            if slot.frame is not None:
                slot.frame.abandon()  # waits for a read in progress; the worker reads no more
                obs.gs_stagesurface_unmap(slot.surface)
            if slot.surface:
                obs.gs_stagesurface_destroy(slot.surface)
        self._free_drawn()
        self.texrender, self.slots, self.has_result, self.size = None, [], False, (0, 0)
        self.rendered_at = None

    def destroy(self) -> None:
        """Free the GPU objects (any thread). What exists is looked at inside the graphics
        context: a ``video_render`` halfway through creating them holds it, and finishes first."""
        self.obs.obs_enter_graphics()
        try:
            self._free_objects()
        finally:
            self.obs.obs_leave_graphics()
