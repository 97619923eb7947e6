"""Cost-true stand-ins and the bench command (figures are printed by the benchmark, not asserted)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from inswapper_live.core.bench import clip_steadiness
from inswapper_live.core.cli import main
from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.live import LiveSettings
from inswapper_live.core.runtime import RuntimeSettings
from inswapper_live.core.swap import Swapper
from inswapper_live.core.synthetic import STANDINS, _plan, make_standin


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
    clips_dir: Path, scrfd_500m, swapper_128, recognizer
) -> None:
    engine = Engine(
        EngineSettings(swapper=str(swapper_128), detector=str(scrfd_500m), recognizer=str(recognizer))
    )
    for clip in sorted(clips_dir.glob("*.mp4")):
        figures = clip_steadiness(engine, clip, LiveSettings())
        assert figures.ratio >= 3.0, clip.name
        assert figures.offset_eyes <= 1 / 50, clip.name


def test_bench_command_prints_a_row(capsys, swapper_128: Path, data_dir: Path) -> None:
    code = main(["bench", "--swapper", str(swapper_128), "--sizes", "720p", "--faces", "1", "--repeat", "2",
                 "--pipeline-frames", "3"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("CPU"))
    numbers = [float(v) for v in row.split()[4:]]
    assert len(numbers) == 10 and all(v > 0 for v in numbers[:6])
