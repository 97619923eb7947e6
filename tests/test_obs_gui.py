"""The real OBS Studio program under Xvfb, driven through obs-websocket, with the real script.

One OBS session (then a restart) covers the user's path: the script loads from the scene
collection, a media source plays a clip of a real face, the Face Swap filter is added with
CreateSourceFilter, GetSourceScreenshot shows the face swapped and disabling restores it; with
a deliberately slow model (>= 150 ms, one inference thread) OBS renders on time; closing the
window shuts down cleanly; after a restart the saved filter swaps again. Then OBS is started
and closed again and again with working filters on a colour source (synchronous: the filter's
``video_render`` GPU readback) and on a media source (asynchronous: ``filter_video``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest
from obs_env import gl_env, need_binary, need_obs_python_match, xvfb
from obs_gui import ObsGui, click_reload_scripts, clip_frames, closest_frame, obs_env, open_scripts_dialog
from slow_model import make_slow_swapper

from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.source import SourceFace

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "obs_plugin" / "face_swap_filter.py"
CLIP = "clip_obama_zoom_3s.mp4"
FILTER = "Face Swap"
STATS_SECONDS = 5.0


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    need_binary("obs")
    need_obs_python_match()
    with xvfb() as value:
        yield value


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, swapper_128: Path, yunet: Path) -> dict:
    folder = tmp_path_factory.mktemp("gui-models")
    rng = np.random.default_rng(11)
    face = SourceFace.average([rng.normal(size=512).astype(np.float32)]).save(folder / "face.npz")
    slow, seconds = make_slow_swapper(folder / "slow_swapper.onnx")
    return {"face": face, "fast": swapper_128, "slow": slow, "slow_seconds": seconds, "yunet": yunet}


def swap_settings(models: dict) -> dict:
    """The filter's settings with the fast synthetic swapper and YuNet."""
    return {
        "face_model": str(models["face"]),
        "swapper": str(models["fast"]),
        "detector": str(models["yunet"]),
    }


class Evidence:
    """Whether a screenshot shows the clip's face swapped: compare with the clip frame it shows."""

    def __init__(self, clip: Path, models: dict) -> None:
        self.frames = clip_frames(clip)
        engine = Engine(EngineSettings(swapper=str(models["fast"]), detector=str(models["yunet"])))
        engine.set_source(SourceFace.load(models["face"]))
        self.engine = engine

    def errors(self, shot: np.ndarray) -> tuple[float, float]:
        """Mean difference to the matching clip frame inside and outside the face."""
        shot = cv2.resize(shot, (self.frames[0].shape[1], self.frames[0].shape[0]))
        frame = self.frames[closest_frame(shot, self.frames)]
        mask = self.engine.swap(frame).mask() > 0.5
        assert mask.sum() > 1000, "the clip frame has no detected face"
        diff = np.abs(shot.astype(np.float32) - frame.astype(np.float32)).mean(axis=2)
        ring = cv2.dilate(mask.astype(np.uint8), np.ones((41, 41), np.uint8)).astype(bool)
        return float(diff[mask].mean()), float(diff[~ring].mean())

    def swapped(self, shot: np.ndarray | None) -> bool:
        if shot is None:
            return False
        inside, outside = self.errors(shot)
        return inside > 12.0 and outside < 6.0

    def original(self, shot: np.ndarray | None) -> bool:
        if shot is None:
            return False
        inside, outside = self.errors(shot)
        return inside < 6.0 and outside < 6.0


def wait_until(check, timeout: float, step: float = 0.5) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(step)
    return False


def add_clip(gui: ObsGui, clip: Path) -> None:
    """A media source named "clip" in the scene, playing ``clip`` in a loop."""
    gui.request(
        "CreateInput",
        {"sceneName": "Scene", "inputName": "clip", "inputKind": "ffmpeg_source",
         "inputSettings": {"local_file": str(clip), "looping": True}, "sceneItemEnabled": True},
    )  # fmt: skip


def add_face_swap(gui: ObsGui, settings: dict) -> None:
    """The Face Swap filter on the "clip" source, as the Filters dialog's + adds it."""
    gui.request(
        "CreateSourceFilter",
        {"sourceName": "clip", "filterName": FILTER, "filterKind": "inswapper_live_face_swap",
         "filterSettings": settings},
    )  # fmt: skip


def lag(gui: ObsGui, seconds: float) -> tuple[int, int]:
    """(render-lagged + output-skipped frames, rendered frames) over ``seconds``."""
    before = gui.stats()
    time.sleep(seconds)
    after = gui.stats()
    late = sum(after[k] - before[k] for k in ("renderSkippedFrames", "outputSkippedFrames"))
    return late, after["renderTotalFrames"] - before["renderTotalFrames"]


def test_face_swap_in_real_obs(display, models, clips_dir, tmp_path) -> None:
    assert models["slow_seconds"] >= 0.15
    evidence = Evidence(clips_dir / CLIP, models)
    gui = ObsGui(need_binary("obs"), tmp_path, obs_env(gl_env(display)), SCRIPT)
    gui.write_config()
    settings = swap_settings(models)
    try:
        gui.start()
        assert "Loaded python script: face_swap_filter.py" in gui.log()
        add_clip(gui, clips_dir / CLIP)
        assert wait_until(lambda: evidence.original(gui.screenshot("clip")), 15), "the clip does not play"
        baseline = lag(gui, STATS_SECONDS)

        add_face_swap(gui, settings)
        assert wait_until(lambda: evidence.swapped(gui.screenshot("clip")), 20), (
            f"no swapped face in the screenshot (errors {evidence.errors(gui.screenshot('clip'))})"
        )
        gui.request(
            "SetSourceFilterEnabled", {"sourceName": "clip", "filterName": FILTER, "filterEnabled": False}
        )
        assert wait_until(lambda: evidence.original(gui.screenshot("clip")), 10), "disabling did not restore"
        gui.request(
            "SetSourceFilterEnabled", {"sourceName": "clip", "filterName": FILTER, "filterEnabled": True}
        )

        # A slow model on one inference thread: OBS keeps rendering on time, frames are dropped
        # instead. Smooth motion off: its carrier thread (about 8 ms of CPU per 640x480 frame)
        # does not fit beside software OpenGL and the model on this 2-core machine (4 of 150
        # frames late in one quiet run); test_obs_host.py checks smooth motion itself.
        gui.request(
            "SetSourceFilterSettings",
            {
                "sourceName": "clip",
                "filterName": FILTER,
                "filterSettings": {"swapper": str(models["slow"]), "threads": 1, "smooth_motion": False},
            },
        )
        assert wait_until(lambda: "slow_swapper.onnx runs on" in gui.log(), 20), "the slow model never loaded"
        assert wait_until(lambda: evidence.swapped(gui.screenshot("clip")), 20), (
            "the slow model does not swap"
        )
        late, rendered = lag(gui, STATS_SECONDS)
        assert rendered >= STATS_SECONDS * 20, f"OBS rendered only {rendered} frames in {STATS_SECONDS} s"
        # A render thread that waited for the model (0.18 s a frame) would lag nearly every frame;
        # the margin over the same run's baseline absorbs this shared 2-core machine's own hiccups.
        allowed = baseline[0] / max(baseline[1], 1) * rendered + max(2, 0.02 * rendered)
        assert late <= allowed, (
            f"{late} of {rendered} frames lagged or skipped with the filter (without it: {baseline[0]} of {baseline[1]})"
        )
        code, log = gui.stop()
        assert code == 0, log[-3000:]
        assert "Unloaded python script: face_swap_filter.py" in log
        assert re.search(r"Number of memory leaks: 0\s*$", log), log[-2000:]
        # The worker's own summary: it processed slower than the clip and dropped the rest.
        summary = re.findall(
            r"Face Swap filter '.*' stopped: ready; on CPU; ([\d.]+) fps processed.*?(\d+) dropped", log
        )
        assert summary, log[-3000:]
        fps, dropped = float(summary[-1][0]), int(summary[-1][1])
        assert fps < 1.0 / models["slow_seconds"] + 1 and dropped > 0, summary

        # Restart: the saved scene brings the filter back, working.
        gui.start()
        assert wait_until(lambda: evidence.swapped(gui.screenshot("clip")), 40), (
            "the saved filter does not swap"
        )
        filters = gui.request("GetSourceFilterList", {"sourceName": "clip"})["filters"]
        assert [f["filterKind"] for f in filters] == ["inswapper_live_face_swap"]
        code, log = gui.stop()
        assert code == 0 and re.search(r"Number of memory leaks: 0\s*$", log), log[-2000:]
    finally:
        gui.kill()


SHUTDOWN_STARTS = 8


def filters_running(gui: ObsGui) -> bool:
    """Both filters loaded their models and the colour source shows read-back frames (the filter
    draws nothing until its first frame came back from the worker)."""
    if gui.log().count("Face swap ready") < 2:
        return False
    shot = gui.screenshot("colour")
    return shot is not None and shot.mean() > 100


def test_obs_closes_cleanly_with_filters_on_sync_and_async_sources(
    display, models, clips_dir, tmp_path
) -> None:
    """Every start adds a colour source and a media source, each with a working Face Swap filter,
    and closes OBS either at once (models loading, first frames held) or once both filters run
    (read-back surfaces staged, frames in the workers): OBS exits with 0, unloads the script and
    reports no leaks each time."""
    settings = swap_settings(models)
    sources = {
        "colour": ("color_source_v3", {}),
        "clip": ("ffmpeg_source", {"local_file": str(clips_dir / CLIP), "looping": True}),
    }
    for start in range(SHUTDOWN_STARTS):
        running = start % 2 == 1
        gui = ObsGui(need_binary("obs"), tmp_path / f"start-{start}", obs_env(gl_env(display)), SCRIPT)
        gui.write_config()
        try:
            gui.start()
            for name, (kind, input_settings) in sources.items():
                gui.request(
                    "CreateInput",
                    {
                        "sceneName": "Scene",
                        "inputName": name,
                        "inputKind": kind,
                        "inputSettings": input_settings,
                        "sceneItemEnabled": True,
                    },
                )
                gui.request(
                    "CreateSourceFilter",
                    {
                        "sourceName": name,
                        "filterName": f"Swap {name}",
                        "filterKind": "inswapper_live_face_swap",
                        "filterSettings": settings,
                    },
                )
            if running:
                assert wait_until(partial(filters_running, gui), 20), gui.log()[-3000:]
            code, log = gui.stop()
        finally:
            gui.kill()
        assert code == 0, f"start {start}: exit code {code}\n{log[-3000:]}"
        assert "Unloaded python script: face_swap_filter.py" in log, log[-3000:]
        assert re.search(r"Number of memory leaks: 0\s*$", log), log[-2000:]
        if running:
            for name in sources:
                assert f"Face Swap filter 'Swap {name}' stopped: ready" in log, log[-3000:]


def test_remote_changes_stay_with_the_filters_dialog_open(
    display, models, scrfd_500m, swapper_512, tmp_path
) -> None:
    """A Stream Deck-style tool changes the swapper and the detector over obs-websocket while
    the Filters dialog is open: the change stays (the dialog used to write its values back
    within half a second) and the filter loads the new models."""
    gui = ObsGui(need_binary("obs"), tmp_path, obs_env(gl_env(display)), SCRIPT)
    gui.write_config()
    filter_ref = {"sourceName": "colour", "filterName": FILTER}
    try:
        gui.start()
        gui.request(
            "CreateInput",
            {"sceneName": "Scene", "inputName": "colour", "inputKind": "color_source_v3",
             "inputSettings": {}, "sceneItemEnabled": True},
        )  # fmt: skip
        settings = swap_settings(models)
        gui.request(
            "CreateSourceFilter",
            {**filter_ref, "filterKind": "inswapper_live_face_swap", "filterSettings": settings},
        )
        assert wait_until(lambda: "Face swap ready" in gui.log(), 20), gui.log()[-3000:]
        gui.request("OpenInputFiltersDialog", {"inputName": "colour"})
        time.sleep(2.0)  # the dialog shows the filter's properties
        changed = {"swapper": str(swapper_512), "detector": str(scrfd_500m)}
        gui.request("SetSourceFilterSettings", {**filter_ref, "filterSettings": changed})
        seen = []
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            stored = gui.request("GetSourceFilter", filter_ref)["filterSettings"]
            seen.append((stored["swapper"], stored["detector"]))
            time.sleep(0.05)
        reverted = [s for s in seen if s != (changed["swapper"], changed["detector"])]
        assert not reverted, (
            f"{len(reverted)} of {len(seen)} reads show the dialog's old values: {reverted[:2]}"
        )
        assert wait_until(lambda: "Face swap ready: swapper " + str(swapper_512) in gui.log(), 20), gui.log()[
            -3000:
        ]
        code, log = gui.stop()
        assert code == 0, log[-3000:]
    finally:
        gui.kill()


def test_reload_scripts_button_keeps_live_filters_working(display, models, clips_dir, tmp_path) -> None:
    """Tools > Scripts > Reload Scripts, clicked twice with the mouse: the script reloads each
    time (its filters stop and start again) and the filter on a playing clip swaps after each."""
    evidence = Evidence(clips_dir / CLIP, models)
    gui = ObsGui(need_binary("obs"), tmp_path, obs_env(gl_env(display)), SCRIPT)
    gui.write_config()
    settings = swap_settings(models)
    try:
        gui.start()
        add_clip(gui, clips_dir / CLIP)
        add_face_swap(gui, settings)
        assert wait_until(lambda: evidence.swapped(gui.screenshot("clip")), 20), "no swap before reloading"
        open_scripts_dialog(gui.env["DISPLAY"])
        stopped = f"Face Swap filter '{FILTER}' stopped"
        for reload in (1, 2):
            clicks = []
            while len(clicks) < 2 and not gui.log().count(stopped) >= reload:
                # A user clicks again when the first click shows nothing; a loaded CI machine once
                # lost the first click after the dialog opened (no unload, nothing logged).
                clicks.append(click_reload_scripts(gui.env["DISPLAY"]))
                wait_until(lambda reload=reload: gui.log().count(stopped) >= reload, 8)
            assert gui.log().count(stopped) == reload, (
                f"reload {reload} did not unload the script once ({clicks}):\n{gui.log()[-3000:]}"
            )
            time.sleep(1.0)
            assert "spec not found" not in gui.log() and "Traceback" not in gui.log(), gui.log()[-3000:]
            assert wait_until(lambda: evidence.swapped(gui.screenshot("clip")), 20), (
                f"no swap after reload {reload}:\n{gui.log()[-3000:]}"
            )
        code, log = gui.stop()
        assert code == 0 and re.search(r"Number of memory leaks: 0\s*$", log), log[-2000:]
    finally:
        gui.kill()


def test_hotkeys_are_the_sources_and_show_the_real_face(display, models, clips_dir, tmp_path) -> None:
    """Settings > Hotkeys lists the filter's pair under its source: "show the real face" (here
    triggered over obs-websocket, as OBS routes a bound key) switches the filter off and the clip
    shows unswapped; switched on again it swaps; OBS saves the pair with the source."""
    evidence = Evidence(clips_dir / CLIP, models)
    gui = ObsGui(need_binary("obs"), tmp_path, obs_env(gl_env(display)), SCRIPT)
    gui.write_config()
    filter_ref = {"sourceName": "clip", "filterName": FILTER}
    try:
        gui.start()
        add_clip(gui, clips_dir / CLIP)
        add_face_swap(gui, swap_settings(models))
        assert wait_until(lambda: evidence.swapped(gui.screenshot("clip")), 20), gui.log()[-3000:]
        names = gui.request("GetHotkeyList")["hotkeys"]
        assert {"inswapper_live.swap_faces", "inswapper_live.show_real_face"} <= set(names), names
        gui.request("TriggerHotkeyByName", {"hotkeyName": "inswapper_live.show_real_face"})
        assert wait_until(lambda: not gui.request("GetSourceFilter", filter_ref)["filterEnabled"], 5)
        assert wait_until(lambda: evidence.original(gui.screenshot("clip")), 10), gui.log()[-3000:]
        assert "showing the real face (hotkey)" in gui.log()
        gui.request("SetSourceFilterEnabled", {**filter_ref, "filterEnabled": True})
        assert wait_until(lambda: evidence.swapped(gui.screenshot("clip")), 20), gui.log()[-3000:]
        code, log = gui.stop()
        assert code == 0 and re.search(r"Number of memory leaks: 0\s*$", log), log[-2000:]
        saved = json.loads(gui.collection_file().read_text())
        clip = next(s for s in saved["sources"] if s["name"] == "clip")
        assert {"inswapper_live.swap_faces", "inswapper_live.show_real_face"} <= set(
            clip.get("hotkeys", {})
        ), clip
    finally:
        gui.kill()
