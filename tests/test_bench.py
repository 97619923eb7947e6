"""Cost-true stand-ins and the bench command (figures are printed by the benchmark, not asserted)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from helpers import read

from inswapper_live.core.bench import Timed, clip_steadiness, head_clip, head_motion
from inswapper_live.core.carry import CarrySettings
from inswapper_live.core.cli import main
from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.live import LiveSettings
from inswapper_live.core.runtime import RuntimeSettings
from inswapper_live.core.smooth import SmoothingSettings
from inswapper_live.core.source import SourceFace
from inswapper_live.core.swap import Swapper
from inswapper_live.core.synthetic import STANDINS, _plan, make_standin
from inswapper_live.core.track import TrackerSettings


@pytest.mark.parametrize("name", list(STANDINS))
def test_standin_plans_hit_the_published_cost(name: str) -> None:
    spec, plan = STANDINS[name], _plan(STANDINS[name])
    assert plan.flops / 1e9 == pytest.approx(spec.gflops, rel=0.05)
    assert plan.params / 1e6 == pytest.approx(spec.mparams, rel=0.02)


@pytest.mark.parametrize("name", ["inswapper_512_live", "inswapper_512_live_mini"])
def test_512_standins_have_the_contract(tmp_path: Path, name: str) -> None:
    path, gflops, params = make_standin(tmp_path / f"{name}.onnx", name)
    assert gflops == pytest.approx(STANDINS[name].gflops, rel=0.05)
    model = onnx.load(str(path))
    stored = sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.name != "emap")
    assert stored == pytest.approx(params, rel=0.01)
    assert model.graph.initializer[-1].name == "emap"
    swapper = Swapper(path, RuntimeSettings(provider="cpu"))
    assert swapper.size == 512
    crop = np.random.default_rng(0).integers(0, 255, (512, 512, 3), dtype=np.uint8)
    a = swapper.swap_crops([crop], swapper.latent(np.eye(512, dtype=np.float32)[0]))[0]
    b = swapper.swap_crops([crop], swapper.latent(np.eye(512, dtype=np.float32)[1]))[0]
    assert a.shape == crop.shape and not np.array_equal(a, b)


def test_live_landmarks_are_steady_and_keep_up_on_the_shared_clips(
    clips_dir: Path, yunet, swapper_128, recognizer
) -> None:
    engine = Engine(EngineSettings(swapper=str(swapper_128), detector=str(yunet), recognizer=str(recognizer)))
    for clip in sorted(clips_dir.glob("*.mp4")):
        default = clip_steadiness(engine, clip, LiveSettings())  # what LivePipeline users get
        assert default.ratio >= 3.0, clip.name
        assert default.offset_eyes <= 1 / 50, clip.name
        now = clip_steadiness(engine, clip, LiveSettings(lookahead=False))  # without the frame of latency
        assert now.ratio >= 2.0, clip.name
        assert now.offset_eyes <= 1 / 50, clip.name


def test_live_landmarks_follow_a_moving_head(scrfd_500m, swapper_128, recognizer, faces_dir: Path) -> None:
    """A head swaying, nodding and rolling at 25 fps, eyes 37 px apart: errors against the known path."""
    engine = Engine(
        EngineSettings(swapper=str(swapper_128), detector=str(scrfd_500m), recognizer=str(recognizer))
    )
    clip, truth = head_clip(engine, read(faces_dir / "obama_official_portrait.jpg"), 100)
    one_euro = LiveSettings(tracker=TrackerSettings(smoothing=SmoothingSettings(method="one_euro")))
    low_pass = head_motion(engine, clip, truth, one_euro)
    now = head_motion(engine, clip, truth, LiveSettings(lookahead=False))
    ahead = head_motion(engine, clip, truth, LiveSettings())  # the default: one frame of look-ahead
    assert low_pass.raw_error == now.raw_error == ahead.raw_error
    assert low_pass.live_error > 3 * low_pass.raw_error, "the One-Euro filter trails the head"
    assert now.live_error < 0.5 * low_pass.live_error
    assert now.steadiness.ratio >= 2.0
    assert ahead.live_error < ahead.raw_error, "one frame of look-ahead: closer to the truth than a detection"
    assert ahead.steadiness.ratio >= 3.0
    assert ahead.steadiness.offset_eyes <= 1 / 50
    # OBS smooth motion, a model as fast as the source: faces carried by optical flow, by default
    # once the next frame is analysed and moved to its refinement.
    engine.set_source(SourceFace(np.full(512, 1 / np.sqrt(512), dtype=np.float32)))
    carried = head_motion(engine, clip, truth, LiveSettings(), 1)
    at_once = head_motion(engine, clip, truth, LiveSettings(carry=CarrySettings(lookahead=False)), 1)
    assert carried.live_error < at_once.live_error, (carried, at_once)
    assert carried.steadiness.ratio > at_once.steadiness.ratio, (carried, at_once)
    assert carried.steadiness.offset < at_once.steadiness.offset, (carried, at_once)


def test_bench_command_prints_a_row(capsys, swapper_128: Path) -> None:
    code = main(["bench", "--swapper", str(swapper_128), "--sizes", "720p", "--faces", "1", "--repeat", "2",
                 "--pipeline-frames", "3"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("CPU"))
    numbers = [float(v) for v in row.split()[4:]]
    assert len(numbers) == 11 and all(v > 0 for v in numbers[:6])
    assert numbers[-1] == 1, "one swapper run for one face without pixel boost"


def test_bench_runs_with_only_what_the_package_ships(capsys, monkeypatch, tmp_path: Path, swapper_128: Path):
    """After install.py alone: no shared data, no models folder; YuNet and the portrait come from the package."""
    monkeypatch.setenv("INSWAPPER_LIVE_DATA", str(tmp_path / "no-shared-data"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code = main(["bench", "--swapper", str(swapper_128), "--sizes", "720p", "--faces", "1,4", "--repeat", "1",
                 "--pipeline-frames", "2", "--jitter"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "detector yunet" in out
    assert re.search(r"^CPU +720p 1 face ", out, re.M) and re.search(r"^CPU +720p 4 faces ", out, re.M), out
    jitter_line = re.search(
        r"jitter clip_grace_hopper_zoom_3s\.mp4 \[default: [^]]+\]: raw ([\d.]+) px, live ([\d.]+) px", out
    )
    assert jitter_line and float(jitter_line.group(1)) > 3 * float(jitter_line.group(2)), out
    assert "[OBS smooth motion, model at 1/3 of the source's rate]" in out


def test_floor_counts_io_binding_and_every_pixel_boost_run(swapper_128: Path) -> None:
    """16 tiles of a 512 boost through an unbatched model are 16 timed runs, bound or not."""
    swapper = Swapper(swapper_128, RuntimeSettings(provider="cpu"))
    assert not swapper.batchable
    latent = swapper.latent(np.eye(512, dtype=np.float32)[0])
    crop = np.random.default_rng(0).integers(0, 255, (512, 512, 3), dtype=np.uint8)
    plain = swapper.swap_crops([crop], latent)[0]
    clock = Timed(swapper.session)
    swapper.use_binding = True  # the GPU path's IO binding, here bound on the CPU device
    bound = swapper.swap_crops([crop], latent)[0]
    assert clock.calls == 16 and clock.seconds > 0.0
    np.testing.assert_array_equal(bound, plain)
    swapper.use_binding = False
    swapper.swap_crops([crop], latent)
    assert clock.calls == 32
