"""Benchmark: what the Face Swap filter costs OBS's graphics thread at 1080p (a benchmark, not a test).

Runs the real filter in a headless libobs (``host.py``; Linux, under Xvfb) for each case, each
in its own process: 1080p I420 and NV12 frames pushed at 30 fps into an async source (the
``filter_video`` path), and a 1080p image source (the ``video_render`` GPU-readback path),
each with and without the filter. Prints per frame, p50 / p99:

- our callbacks' time per frame: ``video_tick`` plus the ``filter_video`` / ``video_render``
  calls that follow it (each from entering the Python callback to leaving it; the target is
  p99 <= 2 ms);
- libobs's own profiler for ``render_main_texture`` (the graphics thread's frame, which also
  includes calling into Python and taking the GIL), with and without the filter;
- frames processed vs dropped by the worker, the worker's time per frame, latency in frames
  (the render path adds ``READBACK_FRAMES`` of delayed readback), and frames OBS rendered late.

The host shows the program in a preview window, as OBS's main window does: presenting it at
the end of each frame waits for the frame's GPU work, as in OBS. ``--no-preview`` leaves it
out; then nothing waits for the GPU until something reads it back, and with Mesa's llvmpipe
the work of earlier frames piles up for the next readback.

    DISPLAY=:1 LIBGL_ALWAYS_SOFTWARE=1 python -m inswapper_live.obs_plugin.bench --seconds 10

The default swapper is the synthetic contract model (``core/synthetic.py``), so the worker's
time is mostly detection and conversion; pass ``--swapper`` for a real model.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from ..core import synthetic
from ..core.source import SourceFace
from .formats import FrameView, PixelFormat, yuv_matrix
from .host import TEST_SOURCE_ID, HostSettings, ObsHost
from .readback import READBACK_FRAMES

CASES = ("I420", "NV12", "capture")
DATA = Path(
    os.environ.get("INSWAPPER_LIVE_DATA", Path(__file__).resolve().parent.parent.parent / "shared" / "data")
)
"""The shared photos and detectors, as the tests find them."""


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def profile_percentiles(path: Path, section: str) -> tuple[float, float, int]:
    """p50, p99 (ms) and count of one libobs profiler section's durations."""
    buckets: list[tuple[float, int]] = []
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["name"] == section and row["time_between_calls"] == "0":
                buckets.append((int(row["time_delta_µs"]) / 1000.0, int(row["count"])))
    buckets.sort()
    total = sum(c for _, c in buckets)
    if not total:
        return float("nan"), float("nan"), 0

    def at(q: float) -> float:
        seen = 0
        for value, count in buckets:
            seen += count
            if seen >= q * total:
                return value
        return buckets[-1][0]

    return at(0.50), at(0.99), total


def i420_frame(bgr: np.ndarray) -> FrameView:
    """OpenCV's I420 (BT.601 limited range), as a webcam would send it."""
    h, w = bgr.shape[:2]
    yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).reshape(-1)
    y = yuv[: h * w].reshape(h, w)
    u = yuv[h * w : h * w * 5 // 4].reshape(h // 2, w // 2)
    v = yuv[h * w * 5 // 4 :].reshape(h // 2, w // 2)
    return FrameView(PixelFormat.I420, w, h, [y, u, v], *yuv_matrix("601", False), False)


def nv12_frame(bgr: np.ndarray) -> FrameView:
    i420 = i420_frame(bgr)
    y, u, v = i420.planes
    uv = np.stack([u, v], axis=2).reshape(u.shape[0], -1)
    return FrameView(PixelFormat.NV12, i420.width, i420.height, [y, uv], *yuv_matrix("601", False), False)


# ---------------------------------------------------------------- one case, in a child process
def run_case(
    case: str, with_filter: bool, seconds: float, settings: dict, image: Path, out: Path, preview: bool = True
) -> dict:
    from .filter import Plugin
    from .model import SwapModel

    callback_ms: list[float] = []
    worker_ms: list[float] = []

    def timed(method, sink: list[float]):
        def wrapper(*args, **kwargs):
            start = time.perf_counter_ns()
            try:
                return method(*args, **kwargs)
            finally:
                sink.append((time.perf_counter_ns() - start) / 1e6)

        return wrapper

    def per_frame(method, starts_frame: bool):
        """Time ``method`` into ``callback_ms``: a new frame's entry, or added to the current one."""

        def wrapper(*args, **kwargs):
            start = time.perf_counter_ns()
            try:
                return method(*args, **kwargs)
            finally:
                ms = (time.perf_counter_ns() - start) / 1e6
                if starts_frame or not callback_ms:
                    callback_ms.append(ms)
                else:
                    callback_ms[-1] += ms

        return wrapper

    method = "video_render" if case == "capture" else "filter_video"
    setattr(Plugin, method, per_frame(getattr(Plugin, method), False))
    Plugin.video_tick = per_frame(Plugin.video_tick, True)  # type: ignore[method-assign]
    SwapModel.process = timed(SwapModel.process, worker_ms)  # type: ignore[method-assign]

    host = ObsHost(HostSettings(width=1920, height=1080, fps=30, profile=True, preview=preview)).start()
    obs = host.obs
    bgr = cv2.imread(str(image))
    stop = threading.Event()
    if case == "capture":
        source = host.create_source("image_source", "picture", json.dumps({"file": str(image)}))
        pusher = None
    else:
        source = host.create_source(TEST_SOURCE_ID, "camera")
        frame = i420_frame(bgr) if case == "I420" else nv12_frame(bgr)

        def push() -> None:
            next_at = time.monotonic()
            while not stop.is_set():
                host.output_frame(source, frame)
                next_at += 1 / 30
                time.sleep(max(0.0, next_at - time.monotonic()))

        pusher = threading.Thread(target=push, daemon=True)
        pusher.start()
    live = None
    if with_filter:
        context = host.add_filter(source, json.dumps(settings))
        live = host.registry.impl.filters[host.instance_of(context)]
        host.wait_for(lambda: live.model.status.state in ("ready", "error"), 60)
        time.sleep(1.0)  # warm-up: first inferences, first readbacks
    else:
        time.sleep(1.0)
    callback_ms.clear()
    worker_ms.clear()
    lagged0, total0 = obs.obs_get_lagged_frames(), obs.obs_get_total_frames()
    stats0 = (live._worker.stats.processed, live._worker.stats.dropped) if live else (0, 0)
    profile_start = host.profile_csv(out / "start.csv")
    time.sleep(seconds)
    profile_end = host.profile_csv(out / "end.csv")
    result: dict = {
        "lagged": obs.obs_get_lagged_frames() - lagged0,
        "rendered": obs.obs_get_total_frames() - total0,
        "callback_ms": callback_ms[:],
        "worker_ms": worker_ms[:],
    }
    if live is not None:
        stats = live._worker.stats
        result |= {
            "processed": stats.processed - stats0[0],
            "dropped": stats.dropped - stats0[1],
            "latency_frames": list(stats.latencies_frames),
            "status": live.status_text(),
        }
    stop.set()
    if pusher is not None:
        pusher.join()
    host.shutdown()
    result["profile"] = _profile_delta(profile_start, profile_end)
    return result


def _profile_delta(start: Path, end: Path) -> dict:
    """render_main_texture p50/p99 over the measured window (the end snapshot minus the start)."""

    def histogram(path: Path) -> dict[float, int]:
        counts: dict[float, int] = {}
        with path.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row["name"] == "render_main_texture" and row["time_between_calls"] == "0":
                    key = int(row["time_delta_µs"]) / 1000.0
                    counts[key] = counts.get(key, 0) + int(row["count"])
        return counts

    before, after = histogram(start), histogram(end)
    window = [(k, after[k] - before.get(k, 0)) for k in after if after[k] > before.get(k, 0)]
    values = [k for k, count in window for _ in range(count)]
    return {"p50": percentile(values, 50), "p99": percentile(values, 99), "frames": len(values)}


# ---------------------------------------------------------------- driver
def _settings(args: argparse.Namespace, work: Path) -> dict:
    swapper = args.swapper or str(synthetic.make_swapper(work / "synthetic_swapper_128.onnx", 128))
    face = SourceFace.average([np.random.default_rng(1).normal(size=512).astype(np.float32)]).save(
        work / "face.npz"
    )
    return {
        "face_model": str(face),
        "swapper": swapper,
        "detector": args.detector,
        "threads": args.threads,
        "provider": args.provider,
    }


def _child(args: argparse.Namespace) -> int:
    config = json.loads(args.child)
    out = Path(config["out"])
    result = run_case(
        config["case"],
        config["filter"],
        config["seconds"],
        config["settings"],
        Path(config["image"]),
        out,
        config["preview"],
    )
    (out / "result.json").write_text(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per case")
    parser.add_argument("--cases", default=",".join(CASES), help="I420, NV12, capture")
    parser.add_argument("--image", default=str(DATA / "faces" / "obama_oval_office_1080p.jpg"))
    parser.add_argument("--swapper", default="", help="swapper model (default: synthetic contract model)")
    parser.add_argument("--detector", default=str(DATA / "models" / "face_detection_yunet_2026may.onnx"))
    parser.add_argument("--provider", default="auto")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--no-preview", action="store_true", help="no preview window (see above)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    with tempfile.TemporaryDirectory(prefix="obs-bench-") as tmp:
        work = Path(tmp)
        settings = _settings(args, work)
        rows = []
        for case in args.cases.split(","):
            for with_filter in (False, True):
                out = work / f"{case}-{int(with_filter)}"
                out.mkdir()
                config = {
                    "case": case,
                    "filter": with_filter,
                    "seconds": args.seconds,
                    "settings": settings,
                    "image": args.image,
                    "out": str(out),
                    "preview": not args.no_preview,
                }
                proc = subprocess.run(
                    [sys.executable, "-m", "inswapper_live.obs_plugin.bench", "--child", json.dumps(config)],
                    capture_output=True,
                    text=True,
                )
                if proc.returncode != 0:
                    print(proc.stdout[-2000:], proc.stderr[-4000:], file=sys.stderr)
                    return proc.returncode
                rows.append((case, with_filter, json.loads((out / "result.json").read_text())))
        _print(rows, args)
    return 0


def _print(rows: list[tuple[str, bool, dict]], args: argparse.Namespace) -> None:
    print(
        f"1080p, 30 fps, {args.seconds:g} s per case; swapper {args.swapper or 'synthetic 128'}; "
        f"detector {Path(args.detector).name}; preview window {'off' if args.no_preview else 'on'}"
    )
    print(
        f"{'case':8} {'filter':6} {'callback p50/p99 ms':>20} {'frame p50/p99 ms':>17} {'worker ms/frame':>15} "
        f"{'processed/dropped':>17} {'latency p50/max':>15} {'late/rendered':>13}"
    )
    for case, with_filter, r in rows:
        callback = (
            f"{percentile(r['callback_ms'], 50):.3f}/{percentile(r['callback_ms'], 99):.3f}"
            if with_filter
            else "-"
        )
        frame = f"{r['profile']['p50']:.2f}/{r['profile']['p99']:.2f}"
        worker = f"{statistics.median(r['worker_ms']):.1f}" if r["worker_ms"] else "-"
        counts = f"{r['processed']}/{r['dropped']}" if with_filter else "-"
        extra = READBACK_FRAMES if case == "capture" else 0  # the readback is late by design
        latency = (
            f"{statistics.median(r['latency_frames']) + extra:g}/{max(r['latency_frames']) + extra}"
            if with_filter and r["latency_frames"]
            else "-"
        )
        print(
            f"{case:8} {'on' if with_filter else 'off':6} {callback:>20} {frame:>17} {worker:>15} "
            f"{counts:>17} {latency:>15} {r['lagged']:>6}/{r['rendered']:<6}"
        )


if __name__ == "__main__":
    sys.exit(main())
