"""Scenarios for test_obs_host.py, each run in a child process that hosts libobs under Xvfb.

libobs can start only once per process and a crash in it must not take pytest down, so every
scenario runs here: ``python obs_host_scenarios.py SCENARIO CONFIG_JSON OUT_DIR``. It writes
``OUT_DIR/result.json`` and the screenshots (``.npy``, RGBA) the test then checks.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
import time
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from obs_frames import make_frame

from inswapper_live.obs_plugin import registration
from inswapper_live.obs_plugin.formats import PixelFormat
from inswapper_live.obs_plugin.host import TEST_SOURCE_ID, HostSettings, ObsHost
from inswapper_live.obs_plugin.libobs import ObsKeyCombination
from inswapper_live.obs_plugin.readback import Readback

FPS = 30
SCRIPT = Path(__file__).resolve().parent.parent / "obs_plugin" / "face_swap_filter.py"
Y800 = 9


def push(host: ObsHost, source: int, frame, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        host.output_frame(source, frame)
        time.sleep(1 / FPS)


def push_until(host: ObsHost, source: int, frame, done, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        host.output_frame(source, frame)
        time.sleep(1 / FPS)
        if done():
            return True
    return False


def face_changed(host: ObsHost, source: int, plain: np.ndarray) -> bool:
    shot = host.screenshot(source)
    return shot.shape == plain.shape and int(np.any(shot != plain, axis=2).sum()) > 500


def filter_of(host: ObsHost, context: int):
    return host.registry.impl.filters[host.instance_of(context)]


def processed(host: ObsHost, context: int) -> int:
    worker = filter_of(host, context)._worker
    return worker.stats.processed if worker is not None else 0


def scenario_async(host: ObsHost, cfg: dict, out: Path) -> dict:
    """Frames of each format through an async source: swapped, then restored when disabled."""
    obs = host.obs
    image = cv2.imread(cfg["image"])
    blank = np.full_like(image, 90)
    blank[:, : image.shape[1] // 2] = 160  # no face, some structure
    source = host.create_source(TEST_SOURCE_ID, "camera")
    face_swap = host.add_filter(source, json.dumps(cfg["settings"]))
    result: dict = {"formats": {}}
    for name in cfg["formats"]:
        frame = _gray_frame(image) if name == "Y800" else make_frame(image, PixelFormat[name])
        obs.obs_source_set_enabled(face_swap, False)
        push(host, source, frame, 0.3)
        plain = host.screenshot(source)
        obs.obs_source_set_enabled(face_swap, True)
        wait = 1.0 if name == "Y800" else 8.0  # Y800 passes through: it never changes
        swapped = push_until(host, source, frame, lambda plain=plain: face_changed(host, source, plain), wait)
        push(host, source, frame, 0.2)
        shot = host.screenshot(source)
        obs.obs_source_set_enabled(face_swap, False)
        push(host, source, frame, 0.3)
        restored = host.screenshot(source)
        np.save(out / f"{name}_plain.npy", plain)
        np.save(out / f"{name}_swapped.npy", shot)
        np.save(out / f"{name}_restored.npy", restored)
        result["formats"][name] = {"swapped": swapped}
    # A frame without a face goes through the worker and comes out with every byte as it was.
    frame = make_frame(blank, PixelFormat.I420)
    push(host, source, frame, 0.3)
    plain = host.screenshot(source)
    obs.obs_source_set_enabled(face_swap, True)
    before = processed(host, face_swap)
    push_until(host, source, frame, lambda: processed(host, face_swap) >= before + 5, 8.0)
    push(host, source, frame, 0.2)
    np.save(out / "noface_plain.npy", plain)
    np.save(out / "noface_filtered.npy", host.screenshot(source))
    result["noface_processed"] = processed(host, face_swap) - before
    result["status"] = filter_of(host, face_swap).status_text()
    host.remove_filter(source, face_swap)
    return result


def _gray_frame(image: np.ndarray) -> SimpleNamespace:
    """A Y800 (grayscale) frame: a format the filter does not handle and passes through."""
    frame = make_frame(image, PixelFormat.I444)
    return SimpleNamespace(**{**vars(frame), "format": Y800, "planes": frame.planes[:1]})


def _picture(host: ObsHost, image: str, settings: dict) -> tuple[int, int, np.ndarray]:
    """An image source showing ``image`` with the filter on it (switched on), and a screenshot of
    the picture as it is."""
    obs = host.obs
    source = host.create_source("image_source", "picture", json.dumps({"file": image}))
    face_swap = host.add_filter(source, json.dumps(settings))
    obs.obs_source_set_enabled(face_swap, False)
    host.wait_for(lambda: obs.obs_source_get_base_width(source) > 0, 5)
    time.sleep(0.3)
    plain = host.screenshot(source)
    obs.obs_source_set_enabled(face_swap, True)
    return source, face_swap, plain


def scenario_render(host: ObsHost, cfg: dict, out: Path) -> dict:
    """A synchronous source (an image source, as a capture source is): the GPU readback path."""
    obs = host.obs
    source, face_swap, plain = _picture(host, cfg["image"], cfg["settings"])
    live = filter_of(host, face_swap)
    recorder = _ReadbackCalls(obs, live.readback)
    live.readback.obs = recorder
    swapped = host.wait_for(lambda: face_changed(host, source, plain), 15.0, 0.05)
    time.sleep(0.3)
    shot = host.screenshot(source)
    latencies = list(live._worker.stats.latencies_frames)
    live.readback.obs = obs
    obs.obs_source_set_enabled(face_swap, False)
    time.sleep(0.2)
    restored = host.screenshot(source)
    np.save(out / "render_plain.npy", plain)
    np.save(out / "render_swapped.npy", shot)
    np.save(out / "render_restored.npy", restored)
    status = live.status_text()
    host.remove_filter(source, face_swap)
    return {
        "swapped": swapped,
        "status": status,
        "latency_frames": latencies,
        "readback_calls": recorder.calls,
        **destroy_while_creating(obs),
    }


class _ReadbackCalls:
    """The libobs bindings, recording (frame, call, object) for the readback's GPU steps."""

    STEPS = ("gs_texrender_end", "gs_stage_texture", "gs_stagesurface_map", "gs_stagesurface_unmap")

    def __init__(self, obs, readback: Readback) -> None:
        self._obs, self._readback = obs, readback
        self.calls: list[tuple[int, str, int]] = []

    def __getattr__(self, name: str):
        function = getattr(self._obs, name)
        if name not in self.STEPS:
            return function

        def recorded(*args):
            self.calls.append((self._readback.frames, name, int(args[0] or 0)))
            return function(*args)

        return recorded


class _PausedTexrender:
    """The libobs bindings, with ``gs_texrender_create`` held (``started`` set) until ``go`` is set."""

    def __init__(self, obs) -> None:
        self._obs = obs
        self.started, self.go = threading.Event(), threading.Event()

    def __getattr__(self, name: str):
        return getattr(self._obs, name)

    def gs_texrender_create(self, *args):
        self.started.set()
        self.go.wait(10)
        return self._obs.gs_texrender_create(*args)


def destroy_while_creating(obs) -> dict:
    """The script unloads while a render is creating a filter's GPU objects: ``destroy`` must wait
    for the graphics context and free them, not find none yet and leave them behind."""
    paused = _PausedTexrender(obs)
    readback = Readback(paused)

    def render() -> None:
        obs.obs_enter_graphics()
        try:
            readback._ensure(64, 48)
        finally:
            obs.obs_leave_graphics()

    renderer = threading.Thread(target=render)
    renderer.start()
    paused.started.wait(10)
    destroyer = threading.Thread(target=readback.destroy)
    destroyer.start()
    destroyer.join(0.3)
    waited = destroyer.is_alive()
    paused.go.set()
    renderer.join(10)
    destroyer.join(10)
    left = [readback.texrender, *readback.surfaces]
    return {"destroy_waited": waited, "objects_left": sum(bool(o) for o in left)}


def scenario_lifecycle(host: ObsHost, cfg: dict, out: Path) -> dict:
    """Script reload with a live filter, settings changed mid-stream, a bad setting, removal."""
    obs = host.obs
    image = cv2.imread(cfg["image"])
    frame = make_frame(image, PixelFormat.NV12)
    source = host.create_source(TEST_SOURCE_ID, "camera")
    face_swap = host.add_filter(source, json.dumps(cfg["settings"]))
    obs.obs_source_set_enabled(face_swap, False)
    push(host, source, frame, 0.3)
    plain = host.screenshot(source)
    obs.obs_source_set_enabled(face_swap, True)
    result: dict = {"first": push_until(host, source, frame, lambda: face_changed(host, source, plain), 10.0)}

    # Tools > Scripts > Reload Scripts, as OBS's obs-scripting-python does it: the script was
    # imported by name from its folder on sys.path (PyImport_Import); a reload calls its
    # script_unload, then importlib.reload (PyImport_ReloadModule), then its script_load.
    sys.path.append(str(SCRIPT.parent))
    script = importlib.import_module(SCRIPT.stem)
    script.script_load(None)
    result["reloads"] = []
    for _ in range(2):  # a second reload must work as the first
        script.script_unload()
        unloaded = host.registry.impl is None
        push(host, source, frame, 0.4)
        passes = bool(np.array_equal(host.screenshot(source), plain))
        try:
            script = importlib.reload(script)
            error = ""
            script.script_load(None)
        except Exception as failure:  # OBS logs it and does not call script_load
            error = f"{type(failure).__name__}: {failure}"
        live = filter_of(host, face_swap) if host.registry.impl is not None else None
        back = live is not None and push_until(
            host, source, frame, lambda: face_changed(host, source, plain), 10.0
        )
        result["reloads"].append(
            {"unloaded_impl": unloaded, "passes_through": passes, "error": error, "swaps_again": back}
        )

    def update(**changes: object) -> None:
        data = obs.obs_data_create_from_json(json.dumps({**cfg["settings"], **changes}).encode())
        obs.obs_source_update(face_swap, data)
        obs.obs_data_release(data)

    update(blend=0.0)  # blend 0 leaves every face as it was: bytes identical to the source
    result["blend0_identical"] = push_until(
        host, source, frame, lambda: np.array_equal(host.screenshot(source), plain), 10.0
    )
    update(swapper="/nonexistent/swapper.onnx")
    live = filter_of(host, face_swap)
    host.wait_for(lambda: live.model.status.state == "error", 10.0)
    push(host, source, frame, 0.3)
    result["bad_status"] = live.status_text()
    result["bad_passes_through"] = bool(np.array_equal(host.screenshot(source), plain))
    update(blend=1.0)  # obs_source_update merges: blend stays 0 unless set again
    result["recovered"] = push_until(host, source, frame, lambda: face_changed(host, source, plain), 10.0)
    worker = live._worker
    host.remove_filter(source, face_swap)
    worker._thread.join(10)  # removal does not wait for it: it ends on its own
    result["held_after_remove"] = worker.held
    result["worker_stopped"] = not worker._thread.is_alive()
    # A filter still live when the program exits: unload, then sources destroyed, then shutdown.
    obs.obs_source_release(host.add_filter(source, json.dumps(cfg["settings"])))  # the source keeps it
    push(host, source, frame, 0.5)
    return result


def _swapped_once(live, worker) -> bool:
    return live.model.ready and worker.stats.processed >= 1


def _in_inference(worker) -> bool:
    return worker._busy is not None


def scenario_removal(host: ObsHost, cfg: dict, out: Path) -> dict:
    """A slow model (>= 150 ms a frame): removing the filter, and unloading the script, while
    an inference runs return before it ends; every frame still goes back to the source."""
    obs = host.obs
    frame = make_frame(cv2.imread(cfg["image"]), PixelFormat.NV12)
    source = host.create_source(TEST_SOURCE_ID, "camera")
    result: dict = {}
    for case in cfg.get("cases", ("remove", "unload")):
        face_swap = host.add_filter(source, json.dumps(cfg["settings"]))
        live = filter_of(host, face_swap)
        worker = live._worker
        busy = push_until(host, source, frame, partial(_swapped_once, live, worker), 30.0) and push_until(
            host, source, frame, partial(_in_inference, worker), 5.0
        )
        started = time.perf_counter()
        if case == "remove":
            host.remove_filter(source, face_swap)
        else:
            registration.unload()
            obs.obs_source_release(face_swap)  # the source keeps it
        took = time.perf_counter() - started
        still_running = worker._busy is not None  # the inference outlived the call
        worker._thread.join(10)
        result[case] = {
            "busy_before": busy,
            "ms": round(took * 1000, 1),
            "inference_outlived_call": still_running,
            "held_after": worker.held,
            "thread_ended": not worker._thread.is_alive(),
        }
        push(host, source, frame, 0.2)
    host.registry = registration.register(obs)
    return result


def _blank_shots(host: ObsHost, source: int, seconds: float) -> tuple[int, int]:
    """(screenshots with nothing drawn, screenshots) taken as fast as they come for ``seconds``."""
    blank = shots = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        shot = host.screenshot(source)
        shots += 1
        blank += int(shot[..., 3].max() == 0)  # nothing drawn: fully transparent
        time.sleep(0.01)
    return blank, shots


def scenario_enable(host: ObsHost, cfg: dict, out: Path) -> dict:
    """Adding the filter, and switching Swap faces back on, on an image and a colour source:
    the source shows as it is until the first swapped frame is ready, never a blank frame."""
    obs = host.obs
    sources = {
        "image": host.create_source("image_source", "picture", json.dumps({"file": cfg["image"]})),
        "colour": host.create_source(
            "color_source", "colour", json.dumps({"color": 0xFF4080C0, "width": 320, "height": 240})
        ),
    }
    result: dict = {}
    for name, source in sources.items():
        obs.obs_set_output_source(0, source)
        host.wait_for(lambda source=source: obs.obs_source_get_base_width(source) > 0, 5)
        time.sleep(0.3)
        face_swap = host.add_filter(source, json.dumps(cfg["settings"]))
        added = _blank_shots(host, source, cfg["seconds"])
        live = filter_of(host, face_swap)
        host.wait_for(lambda live=live: live.model.ready, 10)
        for enabled in (False, True):
            data = obs.obs_data_create_from_json(json.dumps({"enabled": enabled}).encode())
            obs.obs_source_update(face_swap, data)
            obs.obs_data_release(data)
            if not enabled:
                host.wait_for(lambda live=live: live.model.status.state == "disabled", 5)
                time.sleep(0.2)
        switched_on = _blank_shots(host, source, cfg["seconds"])
        result[name] = {"added": added, "switched_on": switched_on, "state": live.model.status.state}
        host.remove_filter(source, face_swap)
    return result


def scenario_smooth(host: ObsHost, cfg: dict, out: Path) -> dict:
    """A slow model on a moving face at 30 fps: how many frames OBS gets back, swapped; then a
    cut to a frame without a face."""
    obs = host.obs
    image = cv2.imread(cfg["image"])
    frames = [make_frame(np.roll(image, 2 * i - 10, axis=1), PixelFormat.I420) for i in range(10)]
    frames += frames[-2:0:-1]  # the head moves right, then back
    blank = make_frame(np.full_like(image, 90), PixelFormat.I420)
    source = host.create_source(TEST_SOURCE_ID, "camera")
    face_swap = host.add_filter(source, json.dumps(cfg["settings"]))
    obs.obs_source_set_enabled(face_swap, False)
    push(host, source, frames[0], 0.3)
    plain = host.screenshot(source)
    push(host, source, blank, 0.3)
    blank_plain = host.screenshot(source)
    obs.obs_source_set_enabled(face_swap, True)
    impl = host.registry.impl
    shown = []
    original = impl.filter_video

    def counting(instance: int, frame: int):
        out = original(instance, frame)
        shown.append(out is not None)
        return out

    impl.filter_video = counting
    swapped = push_until(host, source, frames[0], lambda: face_changed(host, source, plain), 30.0)
    worker = filter_of(host, face_swap)._worker
    processed0 = worker.stats.processed
    shown.clear()
    pushed = swapped_shots = shots = 0
    end = time.monotonic() + cfg["seconds"]
    while time.monotonic() < end:
        host.output_frame(source, frames[pushed % len(frames)])
        pushed += 1
        time.sleep(1 / FPS)
        if pushed % 5 == 0:
            shots += 1
            swapped_shots += int(np.any(host.screenshot(source) != plain, axis=2).sum() > 500)
    result = {
        "swapped": swapped,
        "pushed": pushed,
        "shown": sum(shown),
        "processed": worker.stats.processed - processed0,
        "swapped_shots": swapped_shots,
        "shots": shots,
    }
    push(host, source, blank, 0.15)  # a cut: the last faces must not be pasted onto this
    after_cut = host.screenshot(source)
    result["cut_changed_pixels"] = int(np.any(after_cut != blank_plain, axis=2).sum())
    impl.filter_video = original
    host.remove_filter(source, face_swap)
    return result


def _bind(obs, pair: int, key: str) -> None:
    """``key`` on both halves of a hotkey pair (a toggle), as Settings > Hotkeys binds it."""
    arrays = []
    for _ in range(2):
        array, item = (
            obs.obs_data_array_create(),
            obs.obs_data_create_from_json(json.dumps({"key": key}).encode()),
        )
        obs.obs_data_array_push_back(array, item)
        obs.obs_data_release(item)
        arrays.append(array)
    obs.obs_hotkey_pair_load(pair, *arrays)
    for array in arrays:
        obs.obs_data_array_release(array)


def _press(obs, key: str) -> None:
    combination = ObsKeyCombination(0, obs.obs_key_from_name(key.encode()))
    obs.obs_hotkey_inject_event(combination, True)
    obs.obs_hotkey_inject_event(combination, False)


def scenario_hotkeys(host: ObsHost, cfg: dict, out: Path) -> dict:
    """The filter's hotkey pair bound to one key: a toggle. Switched on again after the picture
    changed, no frame from before shows; the binding survives a script reload; removed, the key
    does nothing."""
    obs = host.obs
    image = cv2.imread(cfg["image"])
    face, blank = make_frame(image, PixelFormat.I420), make_frame(np.full_like(image, 90), PixelFormat.I420)
    source = host.create_source(TEST_SOURCE_ID, "camera")
    face_swap = host.add_filter(source, json.dumps(cfg["settings"]))
    obs.obs_source_set_enabled(face_swap, False)
    push(host, source, face, 0.3)
    plain = host.screenshot(source)
    push(host, source, blank, 0.3)
    blank_plain = host.screenshot(source)
    obs.obs_source_set_enabled(face_swap, True)
    result: dict = {
        "swapped": push_until(host, source, face, lambda: face_changed(host, source, plain), 30.0)
    }
    pair = filter_of(host, face_swap).hotkeys.pair
    result["registered"] = pair is not None
    _bind(obs, pair, "OBS_KEY_F5")

    def toggle_and_show(frame) -> list[int]:
        """Press the key, then push ``frame`` for a third of a second: pixels changed against
        the frame as it is, after each push."""
        _press(obs, "OBS_KEY_F5")
        reference = plain if frame is face else blank_plain
        changed = []
        for _ in range(10):
            host.output_frame(source, frame)
            time.sleep(1 / FPS)
            changed.append(int(np.any(host.screenshot(source) != reference, axis=2).sum()))
        return changed

    result["off_changed"] = toggle_and_show(face)
    result["off"] = not obs.obs_source_enabled(face_swap)
    push(host, source, blank, 0.5)  # the picture changes while the real face shows
    result["on_changed"] = toggle_and_show(blank)  # a frame from before would show the face
    result["on"] = bool(obs.obs_source_enabled(face_swap))

    sys.path.append(str(SCRIPT.parent))  # a script reload, as in scenario_lifecycle
    script = importlib.import_module(SCRIPT.stem)
    script.script_load(None)
    script.script_unload()
    script = importlib.reload(script)
    script.script_load(None)
    push_until(host, source, face, lambda: filter_of(host, face_swap).hotkeys.pair is not None, 10.0)
    result["reloaded_off"] = toggle_and_show(face)
    result["off_after_reload"] = not obs.obs_source_enabled(face_swap)
    _press(obs, "OBS_KEY_F5")
    result["on_after_reload"] = bool(obs.obs_source_enabled(face_swap))
    host.remove_filter(source, face_swap)
    _press(obs, "OBS_KEY_F5")  # nothing is bound any more: no call into the removed filter
    push(host, source, face, 0.2)

    # A capture source (an image source): switched off, its picture changes to one without a
    # face; switched on, the patches drawn before must not come back over it.
    blank_file = out / "no_face.png"
    cv2.imwrite(str(blank_file), np.full_like(image, 90))
    picture, face_swap, plain = _picture(host, cfg["image"], cfg["settings"])
    result["capture_swapped"] = host.wait_for(lambda: face_changed(host, picture, plain), 15.0, 0.05)
    host.wait_for(lambda: filter_of(host, face_swap).hotkeys.pair is not None, 5)
    _bind(obs, filter_of(host, face_swap).hotkeys.pair, "OBS_KEY_F5")
    _press(obs, "OBS_KEY_F5")
    data = obs.obs_data_create_from_json(json.dumps({"file": str(blank_file)}).encode())
    obs.obs_source_update(picture, data)
    obs.obs_data_release(data)
    time.sleep(0.5)
    blank_plain = host.screenshot(picture)
    _press(obs, "OBS_KEY_F5")
    result["capture_on"] = bool(obs.obs_source_enabled(face_swap))
    result["capture_on_changed"] = []
    for _ in range(10):
        time.sleep(1 / FPS)
        result["capture_on_changed"].append(
            int(np.any(host.screenshot(picture) != blank_plain, axis=2).sum())
        )
    host.remove_filter(picture, face_swap)
    return result


SCENARIOS = {
    "hotkeys": scenario_hotkeys,
    "smooth": scenario_smooth,
    "enable": scenario_enable,
    "async": scenario_async,
    "render": scenario_render,
    "lifecycle": scenario_lifecycle,
    "removal": scenario_removal,
}


def main() -> int:
    scenario, config, out = sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3])
    host = ObsHost(HostSettings(modules=("image-source",), preview=config.get("preview", False))).start()
    result = SCENARIOS[scenario](host, config, out)
    host.shutdown()
    result["leaks"] = host.obs.bnum_allocs()
    (out / "result.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
