"""Benchmark (not a test): per-stage time and pipeline overhead, this engine vs the reference.

Overhead = total time minus the time inside the detector's and the swapper's ``session.run``:
what the pipeline adds around the models, taken frame by frame (the median of each frame's
difference: a difference of two medians of ~50 ms would carry both medians' noise). Both run the same frames, the same real SCRFD
detector and the same synthetic contract swapper, in one process, one after the other.
``faults`` is the median of minor page faults per frame: the reference's whole-frame float arrays
come either from fresh pages (thousands of faults a frame) or from memory glibc kept from an
earlier large free (none), depending on what ran before in the process, and its 720p overhead
moves with that (about 22 against 37 ms at S=128).

    .venv/bin/python tests/bench_reference.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from reference import Reference

from inswapper_live.core import synthetic
from inswapper_live.core.align import warp_face
from inswapper_live.core.bench import Timed
from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.paste import paste_into

DATA = Path(os.environ.get("INSWAPPER_LIVE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def measure(
    fns: list, repeat: int, clocks: list[list[Timed]], rounds: int = 3
) -> list[tuple[float, float, float, float]]:
    """Median total ms, ms inside the clocked sessions, overhead ms and page faults per frame, for
    each function.

    The functions take turns in blocks, so load from elsewhere hits them alike, while one's
    thread pool winding down after its last run does not land in the other's timings.
    """
    totals: list[list[float]] = [[] for _ in fns]
    inside: list[list[float]] = [[] for _ in fns]
    faults: list[list[int]] = [[] for _ in fns]
    for _ in range(rounds):
        for i, (fn, group) in enumerate(zip(fns, clocks, strict=True)):
            fn()
            for _ in range(max(1, repeat // rounds)):
                before = sum(c.seconds for c in group)
                faulted = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                start = time.perf_counter()
                fn()
                totals[i].append(time.perf_counter() - start)
                inside[i].append(sum(c.seconds for c in group) - before)
                faults[i].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faulted)
    return [
        (
            statistics.median(t) * 1000,
            statistics.median(n) * 1000,
            statistics.median(a - b for a, b in zip(t, n, strict=True)) * 1000,
            statistics.median(f),
        )
        for t, n, f in zip(totals, inside, faults, strict=True)
    ]


def stage_times(engine: Engine, frame: np.ndarray, repeat: int) -> dict[str, float]:
    """Each stage of Engine.swap on its own, median ms."""
    state = engine._state
    det = Timed(state.detector.session)
    swp = Timed(state.swapper.session)
    out: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeat):
        t0 = time.perf_counter()
        faces = state.detector.detect(frame)
        t1 = time.perf_counter()
        warped = [warp_face(frame, f.kps, state.swapper.size) for f in faces]
        t2 = time.perf_counter()
        swapped = state.swapper.swap_crops([c for c, _ in warped], state.latent)
        t3 = time.perf_counter()
        canvas = frame.copy()
        for result, (crop, m) in zip(swapped, warped, strict=True):
            paste_into(canvas, result, m, 1.0, state.settings.detail, crop)
        t4 = time.perf_counter()
        for key, value in (("detect", t1 - t0), ("align", t2 - t1), ("swap", t3 - t2), ("paste", t4 - t3)):
            out[key].append(value * 1000)
    det.seconds = swp.seconds = 0.0
    return {k: statistics.median(v) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    detector = DATA / "models" / "det_2.5g.onnx"
    recognizer = synthetic.make_recognizer(tmp / "arcface.onnx")
    source_image = cv2.imread(str(DATA / "faces" / "grace_hopper.jpg"))
    base = cv2.imread(str(DATA / "faces" / "obama_oval_office_1080p.jpg"))
    print(f"onnxruntime threads: default; frames from obama_oval_office_1080p.jpg; median of {args.repeat}")
    print(
        f"{'case':22} {'impl':10} {'total':>8} {'inference':>10} {'overhead':>9} {'faults':>7}   stages (ms)"
    )
    for size in (128, 512):
        swapper = synthetic.make_swapper(tmp / f"swapper_{size}.onnx", size)
        for label, (w, h) in (("1080p", (1920, 1080)), ("720p", (1280, 720))):
            frame = cv2.resize(base, (w, h)) if (w, h) != base.shape[1::-1] else base
            engine = Engine(
                EngineSettings(
                    swapper=str(swapper), detector=str(detector), recognizer=str(recognizer), detail=0.0
                )
            )
            engine.set_source(engine.analyse_source([source_image]))
            ref = Reference.load(detector, recognizer, swapper)
            ref_source = ref.source(source_image)
            stages = stage_times(engine, frame, args.repeat)
            ours_clocks = [Timed(engine.detector.session), Timed(engine.swapper.session)]
            # insightface runs its detector through a session made for each input size.
            ref_det_session = ref.detector._session_for_input_size((640, 640))
            ref_clocks = [Timed(ref_det_session), Timed(ref.swapper.session)]
            for _ in range(3):
                engine.swap(frame)
                ref.swap(frame, ref_source)
            ours, theirs = measure(
                [lambda f=frame, e=engine: e.swap(f), lambda f=frame, r=ref, s=ref_source: r.swap(f, s)],
                args.repeat,
                [ours_clocks, ref_clocks],
            )
            case = f"{label} 1 face S={size}"
            detail = " ".join(f"{k} {v:.2f}" for k, v in stages.items())
            print(
                f"{case:22} {'ours':10} {ours[0]:8.1f} {ours[1]:10.1f} {ours[2]:9.2f} {ours[3]:7.0f}   {detail}"
            )
            print(
                f"{case:22} {'reference':10} {theirs[0]:8.1f} {theirs[1]:10.1f} {theirs[2]:9.2f} {theirs[3]:7.0f}"
            )
            ratio = theirs[2] / max(ours[2], 1e-9)
            print(f"{'':22} overhead ours / reference = 1/{ratio:.1f}")


if __name__ == "__main__":
    main()
