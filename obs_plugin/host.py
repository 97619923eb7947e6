"""libobs hosted in this Python process, without the OBS program: for the tests and the benchmark.

Linux with X11 (Xvfb on a machine without a screen): the process loads libobs through the same
bindings as the filter, starts it with the OpenGL renderer, loads only the OBS modules asked
for, and registers the project's real Face Swap filter. A small async input type
(``inswapper_live_test_frames``) lets a caller push frames of any pixel format, exactly as a
webcam plugin does; ``screenshot`` renders a source and reads it back.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import libobs
from .formats import FrameView
from .libobs import (
    GS_BGRA,
    GS_BLEND_ONE,
    GS_BLEND_ZERO,
    GS_CLEAR_COLOR,
    GS_RGBA,
    GS_ZS_NONE,
    OBS_SOURCE_ASYNC_VIDEO,
    OBS_SOURCE_TYPE_INPUT,
    CreateFn,
    DataFn,
    GetNameFn,
    Libobs,
    ObsAudioInfo,
    ObsSourceFrame,
    ObsSourceInfo,
    ObsVideoInfo,
    Vec4,
)
from .registration import Registry, register, unload

PLUGINS_DIR = Path("/usr/lib/x86_64-linux-gnu/obs-plugins")
DATA_DIR = Path("/usr/share/obs")
TEST_SOURCE_ID = "inswapper_live_test_frames"
OBS_NIX_PLATFORM_X11_EGL = 1
VIDEO_FORMAT_NV12 = 2
VIDEO_CS_709, VIDEO_RANGE_PARTIAL = 2, 1
OBS_SCALE_BICUBIC = 2
SPEAKERS_STEREO = 2


@dataclass
class HostSettings:
    width: int = 640
    height: int = 480
    fps: int = 30
    modules: tuple[str, ...] = ("image-source",)
    profile: bool = False
    """Record libobs's profiler (per-frame times of the graphics thread) for ``profile_csv``."""
    preview: bool = False
    """Show the program in a (small) window, as OBS's main window does: libobs then presents it
    at the end of every frame, which waits for the frame's drawing, so with Mesa's llvmpipe
    (almost) all GPU work of a frame is done when the next begins, as in OBS. Without it
    nothing waits for the GPU until something reads from it, and the work of earlier frames
    piles up for that."""


class _GsWindow(ctypes.Structure):
    """``struct gs_window`` on Linux."""

    _fields_ = [("id", ctypes.c_uint32), ("display", ctypes.c_void_p)]


class _GsInitData(ctypes.Structure):
    """``struct gs_init_data``: a window for ``obs_display_create``."""

    _fields_ = [
        ("window", _GsWindow),
        ("cx", ctypes.c_uint32),
        ("cy", ctypes.c_uint32),
        ("num_backbuffers", ctypes.c_uint32),
        ("format", ctypes.c_int),
        ("zsformat", ctypes.c_int),
        ("adapter", ctypes.c_uint32),
    ]


class ObsHost:
    """One libobs per process: ``start`` once, ``shutdown`` once."""

    def __init__(self, settings: HostSettings | None = None) -> None:
        self.settings = settings or HostSettings()
        self.obs: Libobs = libobs.load()
        self.registry: Registry | None = None
        self._keep: list[object] = []
        self._sources: list[int] = []
        self._display: int | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> ObsHost:
        obs, s = self.obs, self.settings
        x11 = ctypes.CDLL("libX11.so.6")
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        display = x11.XOpenDisplay(None)
        if not display:
            raise RuntimeError("Cannot open the X display: run under Xvfb (DISPLAY must be set).")
        if s.profile:
            obs.profiler_start()
        obs.obs_set_nix_platform(OBS_NIX_PLATFORM_X11_EGL)
        obs.obs_set_nix_platform_display(display)
        if not obs.obs_startup(b"en-US", None, None):
            raise RuntimeError("obs_startup failed")
        video = ObsVideoInfo(
            graphics_module=b"libobs-opengl.so.1",
            fps_num=s.fps,
            fps_den=1,
            base_width=s.width,
            base_height=s.height,
            output_width=s.width,
            output_height=s.height,
            output_format=VIDEO_FORMAT_NV12,
            adapter=0,
            gpu_conversion=True,
            colorspace=VIDEO_CS_709,
            range=VIDEO_RANGE_PARTIAL,
            scale_type=OBS_SCALE_BICUBIC,
        )
        result = obs.obs_reset_video(ctypes.byref(video))
        if result != 0:
            raise RuntimeError(f"obs_reset_video failed ({result})")
        if not obs.obs_reset_audio(ctypes.byref(ObsAudioInfo(48000, SPEAKERS_STEREO))):
            raise RuntimeError("obs_reset_audio failed")
        for name in s.modules:
            module = ctypes.c_void_p()
            binary = str(PLUGINS_DIR / f"{name}.so").encode()
            data = str(DATA_DIR / "obs-plugins" / name).encode()
            if obs.obs_open_module(ctypes.byref(module), binary, data) != 0 or not obs.obs_init_module(
                module
            ):
                raise RuntimeError(f"OBS module {name} did not load")
        self._register_test_source()
        self.registry = register(obs)
        if s.preview:
            self._display = self._open_preview(x11, display)
        return self

    def _open_preview(self, x11: ctypes.CDLL, display: int) -> int:
        """An X window showing the program, as OBS's preview: libobs draws into it and presents
        it every frame, and presenting waits for the frame's drawing. An eighth of the program's
        width and height (it shows the top left corner): here only that wait matters, and a
        small window adds little drawing of its own to a machine drawing in software."""
        obs = self.obs
        width, height = max(1, self.settings.width // 8), max(1, self.settings.height // 8)
        x11.XDefaultRootWindow.restype = ctypes.c_ulong
        x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        x11.XCreateSimpleWindow.restype = ctypes.c_ulong
        x11.XCreateSimpleWindow.argtypes = (
            [ctypes.c_void_p, ctypes.c_ulong]
            + [ctypes.c_int] * 2
            + [ctypes.c_uint] * 3
            + [ctypes.c_ulong] * 2
        )
        x11.XMapWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        x11.XFlush.argtypes = [ctypes.c_void_p]
        window = x11.XCreateSimpleWindow(
            display, x11.XDefaultRootWindow(display), 0, 0, width, height, 0, 0, 0
        )
        x11.XMapWindow(display, window)
        x11.XFlush(display)
        info = _GsInitData(_GsWindow(window, display), width, height, 2, GS_BGRA, GS_ZS_NONE, 0)
        preview = obs.obs_display_create(ctypes.byref(info), 0)
        if not preview:
            raise RuntimeError("obs_display_create failed for the preview window")
        # libobs calls draw(param, cx, cy); obs_render_main_texture takes no arguments and the
        # C calling conventions let a function ignore the ones it is given.
        draw = ctypes.cast(obs.obs_render_main_texture, ctypes.c_void_p)
        obs.obs_display_add_draw_callback(preview, draw, None)
        return int(preview)

    def shutdown(self) -> None:
        """As OBS exits: the script unloads first, then sources are destroyed, then libobs stops."""
        unload()
        for source in self._sources:
            self.obs.obs_set_output_source(0, None)
            self.obs.obs_source_release(source)
        self._sources.clear()
        if self._display is not None:
            self.obs.obs_display_destroy(self._display)
            self._display = None
        self.obs.obs_shutdown()

    def profile_csv(self, path: Path) -> Path:
        """libobs's profiler so far as CSV: one row per (section, time bucket, count)."""
        snapshot = self.obs.profile_snapshot_create()
        try:
            if not self.obs.profiler_snapshot_dump_csv(snapshot, str(path).encode()):
                raise RuntimeError(f"Cannot write the profile to {path}")
        finally:
            self.obs.profile_snapshot_free(snapshot)
        return path

    def _register_test_source(self) -> None:
        name = ctypes.create_string_buffer(b"Test frames")
        ident = ctypes.create_string_buffer(TEST_SOURCE_ID.encode())
        thunks = [
            GetNameFn(lambda _t: ctypes.addressof(name)),
            CreateFn(lambda _settings, _source: 1),
            DataFn(lambda _data: None),
        ]
        info = ObsSourceInfo()
        info.id = ctypes.addressof(ident)
        info.type = OBS_SOURCE_TYPE_INPUT
        info.output_flags = OBS_SOURCE_ASYNC_VIDEO
        info.get_name, info.create, info.destroy = (ctypes.cast(t, ctypes.c_void_p).value for t in thunks)
        self.obs.obs_register_source_s(ctypes.byref(info), ctypes.sizeof(info))
        self._keep += [name, ident, info, *thunks]

    # ------------------------------------------------------------ sources
    def create_source(self, kind: str, name: str, settings_json: str = "{}", *, show: bool = True) -> int:
        obs = self.obs
        data = obs.obs_data_create_from_json(settings_json.encode())
        source = obs.obs_source_create(kind.encode(), name.encode(), data, None)
        obs.obs_data_release(data)
        if not source:
            raise RuntimeError(f"Cannot create a {kind} source")
        if kind == TEST_SOURCE_ID:
            obs.obs_source_set_async_unbuffered(source, True)
        if show:
            obs.obs_set_output_source(0, source)
        self._sources.append(source)
        return source

    def add_filter(self, source: int, settings_json: str, name: str = "Face Swap") -> int:
        from .registration import FILTER_ID

        obs = self.obs
        data = obs.obs_data_create_from_json(settings_json.encode())
        face_swap = obs.obs_source_create(FILTER_ID.encode(), name.encode(), data, None)
        obs.obs_data_release(data)
        if not face_swap:
            raise RuntimeError("Cannot create the Face Swap filter")
        obs.obs_source_filter_add(source, face_swap)
        return face_swap

    def remove_filter(self, source: int, face_swap: int) -> None:
        self.obs.obs_source_filter_remove(source, face_swap)
        self.obs.obs_source_release(face_swap)

    def instance_of(self, face_swap_context: int) -> int:
        assert self.registry is not None
        return next(i for i, ctx in self.registry.contexts.items() if ctx == face_swap_context)

    def output_frame(self, source: int, frame: FrameView) -> None:
        """Push ``frame`` (its planes are copied by libobs) as the source's newest frame."""
        out = ObsSourceFrame()
        planes = [np.ascontiguousarray(p) for p in frame.planes]  # alive until libobs copied them
        for i, plane in enumerate(planes):
            out.data[i] = plane.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))
            out.linesize[i] = plane.shape[1]
        out.width, out.height = frame.width, frame.height
        out.timestamp = self.obs.os_gettime_ns()
        out.format = int(frame.format)
        for i, value in enumerate(np.asarray(frame.color_matrix, np.float32).ravel()):
            out.color_matrix[i] = float(value)
        for i in range(3):
            out.color_range_min[i] = float(frame.range_min[i])
            out.color_range_max[i] = float(frame.range_max[i])
        out.full_range = frame.full_range
        self.obs.obs_source_output_video(source, ctypes.byref(out))

    def screenshot(self, source: int) -> np.ndarray:
        """Render ``source`` at its size and read it back (H x W x 4, RGBA)."""
        obs = self.obs
        width = obs.obs_source_get_base_width(source)
        height = obs.obs_source_get_base_height(source)
        if not width or not height:
            raise RuntimeError("The source has no size yet (no frame shown)")
        obs.obs_enter_graphics()
        try:
            texrender = obs.gs_texrender_create(GS_RGBA, GS_ZS_NONE)
            surface = obs.gs_stagesurface_create(width, height, GS_RGBA)
            try:
                if not obs.gs_texrender_begin(texrender, width, height):
                    raise RuntimeError("gs_texrender_begin failed")
                obs.gs_clear(GS_CLEAR_COLOR, ctypes.byref(Vec4(0, 0, 0, 0)), 0.0, 0)
                obs.gs_ortho(0.0, float(width), 0.0, float(height), -100.0, 100.0)
                obs.gs_blend_state_push()
                obs.gs_blend_function(GS_BLEND_ONE, GS_BLEND_ZERO)
                obs.obs_source_video_render(source)
                obs.gs_blend_state_pop()
                obs.gs_texrender_end(texrender)
                obs.gs_stage_texture(surface, obs.gs_texrender_get_texture(texrender))
                data, linesize = ctypes.c_void_p(), ctypes.c_uint32()
                if not obs.gs_stagesurface_map(surface, ctypes.byref(data), ctypes.byref(linesize)):
                    raise RuntimeError("gs_stagesurface_map failed")
                try:
                    pixels = np.ctypeslib.as_array(
                        ctypes.cast(data, ctypes.POINTER(ctypes.c_uint8)), (height, linesize.value)
                    )
                    return pixels[:, : width * 4].reshape(height, width, 4).copy()
                finally:
                    obs.gs_stagesurface_unmap(surface)
            finally:
                obs.gs_stagesurface_destroy(surface)
                obs.gs_texrender_destroy(texrender)
        finally:
            obs.obs_leave_graphics()

    def wait_for(self, predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            time.sleep(step)
        return predicate()
