"""The real filter inside libobs (headless host under Xvfb): real registration, real frames, real YuNet.

Each scenario runs in a child process (obs_host_scenarios.py): libobs starts once per process.
The swapper is the synthetic contract model, so a swapped face is a tinted face; the checks
are that the face changed, every pixel away from it rendered exactly as without the filter,
and that libobs reports no leaked allocation at shutdown (a frame never released would show).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from obs_env import gl_env, need_libobs, xvfb
from slow_model import make_slow_swapper

from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.source import SourceFace
from inswapper_live.obs_plugin.readback import LAG

SCENARIOS = Path(__file__).resolve().parent / "obs_host_scenarios.py"
MARGIN = 6
"""Pixels around the swapped face where GPU chroma upsampling may differ."""


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    need_libobs()
    with xvfb() as value:
        yield value


@pytest.fixture(scope="module")
def face_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(7)
    return SourceFace.average([rng.normal(size=512).astype(np.float32)]).save(
        tmp_path_factory.mktemp("face") / "face.npz"
    )


@pytest.fixture(scope="module")
def settings(face_model: Path, swapper_128: Path, yunet: Path) -> dict:
    return {"face_model": str(face_model), "swapper": str(swapper_128), "detector": str(yunet), "threads": 1}


@pytest.fixture(scope="module")
def photo(faces_dir: Path) -> Path:
    return faces_dir / "obama_small_320x240.jpg"


def run(display: str, scenario: str, config: dict, out: Path) -> dict:
    proc = subprocess.run(
        # faulthandler: a crash in libobs prints every Python thread's stack (what each was doing)
        [sys.executable, "-X", "faulthandler", str(SCENARIOS), scenario, json.dumps(config), str(out)],
        env=gl_env(display),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, (
        f"{scenario} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    )
    return json.loads((out / "result.json").read_text())


def face_region(photo: Path, settings: dict) -> np.ndarray:
    """Where the engine changes this photo, grown by MARGIN: the only place a render may differ."""
    engine = Engine(EngineSettings(swapper=settings["swapper"], detector=settings["detector"]))
    engine.set_source(SourceFace.load(settings["face_model"]))
    mask = engine.swap(cv2.imread(str(photo))).mask() > 0
    assert mask.any()
    kernel = np.ones((2 * MARGIN + 1, 2 * MARGIN + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def check_swap(plain: np.ndarray, swapped: np.ndarray, restored: np.ndarray, region: np.ndarray) -> None:
    assert swapped.shape == plain.shape == (*region.shape, 4)
    outside = ~region
    assert np.array_equal(swapped[outside], plain[outside]), "pixels away from the face changed"
    change = np.abs(swapped[region].astype(int) - plain[region].astype(int))[:, :3]
    assert change.mean() > 8, f"the face did not change enough (mean {change.mean():.1f})"
    assert np.array_equal(restored, plain), "disabling the filter did not restore the source"


def test_async_frames_of_each_format_get_the_face_swapped(display, settings, photo, tmp_path) -> None:
    formats = ["I420", "NV12", "YUY2", "BGRA", "I010", "P010", "Y800"]
    result = run(display, "async", {"image": str(photo), "formats": formats, "settings": settings}, tmp_path)
    region = face_region(photo, settings)
    for name in ["I420", "NV12", "YUY2", "BGRA", "I010", "P010"]:
        assert result["formats"][name]["swapped"], name
        shots = [np.load(tmp_path / f"{name}_{kind}.npy") for kind in ("plain", "swapped", "restored")]
        check_swap(*shots, region)
    # Y800 (grayscale) is not a supported format: it passes through untouched.
    assert not result["formats"]["Y800"]["swapped"]
    assert np.array_equal(np.load(tmp_path / "Y800_swapped.npy"), np.load(tmp_path / "Y800_plain.npy"))
    # A frame without a face went through the worker and rendered exactly as without the filter.
    assert result["noface_processed"] >= 5
    assert np.array_equal(np.load(tmp_path / "noface_filtered.npy"), np.load(tmp_path / "noface_plain.npy"))
    assert result["status"].startswith("ready; on CPU;") and "fps processed" in result["status"]
    assert result["status"].endswith("passed through unswapped (pixel format not supported): Y800")
    assert result["leaks"] == 0, "libobs reports leaked allocations (a held frame not released?)"


@pytest.mark.parametrize("preview", [False, True], ids=["headless", "preview-window"])
def test_capture_source_is_swapped_through_delayed_gpu_readback(
    display, settings, photo, tmp_path, preview
) -> None:
    """Also with a preview window, as in OBS (its present ends every frame)."""
    config = {"image": str(photo), "settings": settings, "preview": preview}
    result = run(display, "render", config, tmp_path)
    assert result["swapped"]
    shots = [np.load(tmp_path / f"render_{kind}.npy") for kind in ("plain", "swapped", "restored")]
    check_swap(*shots, face_region(photo, settings))
    assert result["latency_frames"] and max(result["latency_frames"]) <= 2
    check_readback_steps(result["readback_calls"])
    assert result["destroy_waited"] and result["objects_left"] == 0, result
    assert result["leaks"] == 0


def check_readback_steps(calls: list[list]) -> None:
    """Each readback took its steps in different frames (none waits for the GPU): the source
    rendered into the texture in one frame, staged in a later one, the surface mapped LAG or
    more frames after that, and unmapped once (when the worker has read it)."""
    rendered: int | None = None
    staged: dict[int, int] = {}
    mapped: dict[int, int] = {}
    maps = 0
    for frame, step, surface in calls:
        if step == "gs_texrender_end":
            assert rendered is None, "the texture was rendered again before it was staged"
            rendered = frame
        elif step == "gs_stage_texture":
            assert rendered is not None and frame > rendered, (frame, rendered)
            staged[surface], rendered = frame, None
        elif step == "gs_stagesurface_map":
            assert surface in staged and frame >= staged.pop(surface) + LAG
            mapped[surface] = frame
            maps += 1
        else:
            assert mapped.pop(surface, None) is not None, "a surface was unmapped that was not mapped"
    assert maps >= 3, f"only {maps} readbacks were mapped"


def test_script_reload_live_settings_bad_setting_and_removal(display, settings, photo, tmp_path) -> None:
    result = run(display, "lifecycle", {"image": str(photo), "settings": settings}, tmp_path)
    assert result["first"], "the filter never swapped"
    for reload in result["reloads"]:  # Reload Scripts, twice, as OBS runs it
        assert reload["unloaded_impl"] and reload["passes_through"], "an unloaded script must pass through"
        assert reload["error"] == "", f"Reload Scripts failed: {reload['error']}"
        assert reload["swaps_again"], "the live filter did not come back after the script reloaded"
    assert result["blend0_identical"], "blend 0 must leave the frame exactly as it was"
    assert result["bad_status"].startswith("error;") and "/nonexistent/swapper.onnx" in result["bad_status"]
    assert result["bad_passes_through"], "with a bad setting the video must pass through"
    assert result["recovered"], "fixing the setting mid-stream did not bring the swap back"
    assert result["held_after_remove"] == 0 and result["worker_stopped"]
    assert result["leaks"] == 0, "libobs reports leaked allocations after a filter was live at exit"


def test_source_slots_swap_each_face_with_its_own_source_in_obs(
    display, settings, recognizer, faces_dir, tmp_path
) -> None:
    """Two slots on a two-face photo through the real filter: each face gets its slot's source."""
    from inswapper_live.core.facemap import FaceMap, MapEntry

    rng = np.random.default_rng(11)
    other = SourceFace.average([rng.normal(size=512).astype(np.float32)]).save(tmp_path / "other.npz")
    photo = faces_dir / "obama_biden_2faces.jpg"
    slots = {
        **settings,
        "recognizer": str(recognizer),
        "face_model": "",
        "slot_count": 2,
        "slot1_face_model": settings["face_model"],
        "slot1_target": "0",
        "slot2_face_model": str(other),
        "slot2_target": "1",
    }
    result = run(display, "async", {"image": str(photo), "formats": ["BGRA"], "settings": slots}, tmp_path)
    assert result["formats"]["BGRA"]["swapped"] and result["leaks"] == 0
    engine = Engine(EngineSettings(swapper=settings["swapper"], detector=settings["detector"]))
    image = cv2.imread(str(photo))
    first, second = SourceFace.load(settings["face_model"]), SourceFace.load(other)

    def mapped(a: SourceFace, b: SourceFace) -> np.ndarray:
        engine.set_facemap(FaceMap((MapEntry(a, index=0), MapEntry(b, index=1))))
        return engine.swap(image).frame

    right, crossed = mapped(first, second), mapped(second, first)
    changed = np.any(right != image, axis=2)
    kernel = np.ones((2 * MARGIN + 1, 2 * MARGIN + 1), np.uint8)
    region = cv2.dilate(changed.astype(np.uint8), kernel).astype(bool)
    shots = [np.load(tmp_path / f"BGRA_{kind}.npy") for kind in ("plain", "swapped", "restored")]
    check_swap(*shots, region)
    swapped = shots[1][..., 2::-1].astype(int)  # the screenshot is RGBA
    error_right = np.abs(swapped[changed] - right[changed]).mean()
    error_crossed = np.abs(swapped[changed] - crossed[changed]).mean()
    assert error_right < 2.0 < error_crossed, (error_right, error_crossed)


def test_removal_and_unload_never_wait_for_inference(display, settings, photo, tmp_path) -> None:
    """Removing a filter (from the Filters dialog: the UI thread) or unloading the script while
    a slow model runs returns before the inference ends; the frame goes back to its source."""
    slow, _ = make_slow_swapper(tmp_path / "slow_swapper.onnx")
    config = {"image": str(photo), "settings": {**settings, "swapper": str(slow)}}
    result = run(display, "removal", config, tmp_path)
    for case in ("remove", "unload"):
        outcome = result[case]
        assert outcome["busy_before"], f"{case}: the worker never started an inference"
        assert outcome["inference_outlived_call"], f"{case} waited for the inference ({outcome})"
        assert outcome["held_after"] == 0 and outcome["thread_ended"], outcome
    assert result["leaks"] == 0, "a frame was not handed back to its source"


def test_enabling_never_blanks_image_or_colour_sources(display, settings, photo, tmp_path) -> None:
    """Adding the filter or switching Swap faces back on: the source passes through until the
    first swapped frame is ready (the swapper takes over a second to load here)."""
    result = run(display, "enable", {"image": str(photo), "settings": settings, "seconds": 1.5}, tmp_path)
    for name in ("image", "colour"):
        for when in ("added", "switched_on"):
            blank, shots = result[name][when]
            assert shots >= 10 and blank == 0, f"{name}, {when}: {blank} of {shots} screenshots blank"
        assert result[name]["state"] == "ready"
    assert result["leaks"] == 0


def test_hotkey_toggles_the_swap_and_switching_on_shows_nothing_stale(
    display, settings, photo, tmp_path
) -> None:
    """A streamer's hotkey (the filter's pair, bound to F5 on its source): the first press shows
    the real face, the second swaps again, and no frame from before the first press comes back
    (the picture changed meanwhile), on a webcam-like source and on an image source; after a
    script reload F5 still works; removed, it does nothing."""
    r = run(display, "hotkeys", {"image": str(photo), "settings": settings}, tmp_path)
    assert r["swapped"] and r["registered"], r
    # the real face, byte for byte, once OBS shows a frame pushed after the press (within 2 frames)
    assert r["off"] and not any(r["off_changed"][2:]), r
    assert r["on"] and not any(r["on_changed"]), r  # a frame without a face: nothing may change
    assert r["off_after_reload"] and not any(r["reloaded_off"][2:]) and r["on_after_reload"], r
    # an image source (the GPU readback path): its picture changed while off, no old patch shows
    assert r["capture_swapped"] and r["capture_on"] and not any(r["capture_on_changed"]), r
    assert r["leaks"] == 0


@pytest.fixture(scope="module")
def slow_swapper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_slow_swapper(tmp_path_factory.mktemp("slow") / "slow_swapper.onnx")[0]


@pytest.mark.parametrize("smooth", [True, False], ids=["smooth", "processed-only"])
def test_smooth_motion_shows_every_frame_with_a_slow_model(
    display, settings, photo, slow_swapper, smooth, tmp_path
) -> None:
    """A model slower than the source (>= 150 ms against 30 fps) on a moving face: with smooth
    motion OBS gets back (nearly) every frame, swapped, and a cut to a frame without a face
    shows no swapped pixels 0.15 s later; without it OBS gets only the processed frames."""
    config = {
        "image": str(photo),
        "seconds": 3.0,
        "settings": {**settings, "swapper": str(slow_swapper), "smooth_motion": smooth},
    }
    r = run(display, "smooth", config, tmp_path)
    assert r["swapped"], r
    if smooth:
        assert r["shown"] >= 0.6 * r["pushed"] and r["shown"] >= 3 * r["processed"], r
        assert r["swapped_shots"] >= 0.8 * r["shots"], r
        assert r["cut_changed_pixels"] == 0, r
    else:  # a frame shows one inference late: the cut too
        assert r["shown"] <= r["processed"] + 2, r
    assert r["leaks"] == 0
