"""``inswapper-live bench``: where the time goes, per stage, against the models' own floor.

Prints for each execution provider, frame size and face count: milliseconds per stage
(detect, align, swap, paste), the time inside the models' ``session.run`` (the floor), the
pipeline's overhead (total minus floor), and throughput sequentially and through the two-thread
LivePipeline as a ratio of the floor. ``--jitter`` adds the landmark jitter on a clip, raw
detections against the live session's smoothed faces; ``--soak`` runs many small frames and
prints resident memory as it goes.

Swappers default to cost-true stand-ins (core.synthetic.STANDINS), built once into a cache folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from .align import warp_face
from .engine import Engine, EngineSettings
from .errors import InputError, SettingsError
from .imageio import read_image
from .jitter import Steadiness, steadiness
from .live import LivePipeline, LiveSession, LiveSettings
from .paste import paste_into
from .runtime import available_providers, canonical_provider
from .select import FaceSelection
from .source import SourceFace
from .synthetic import STANDINS, make_recognizer, make_standin, make_swapper

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
DATA_ENV = "INSWAPPER_LIVE_DATA"


class Timed:
    """Wraps a session's ``run`` and adds up the seconds spent inside it."""

    def __init__(self, session) -> None:
        self.inner, self.seconds = session.run, 0.0
        session.run = self

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.inner(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    path = Path(base) / "inswapper-live" / "standins"
    path.mkdir(parents=True, exist_ok=True)
    return path


def standin(name: str) -> Path:
    """The stand-in file for ``name``, built on first use."""
    path = cache_dir() / f"standin_{name}.onnx"
    if not path.exists():
        tmp = path.with_suffix(".tmp.onnx")
        make_standin(tmp, name)
        os.replace(tmp, path)
    return path


def _swapper_path(spec: str) -> str:
    if spec.startswith("standin:"):
        name = spec.split(":", 1)[1]
        if name not in STANDINS:
            raise SettingsError(f"Unknown stand-in {name!r}: choose one of {', '.join(STANDINS)}.")
        return str(standin(name))
    return spec


def _data_dir() -> Path:
    path = Path(os.environ.get(DATA_ENV, Path(__file__).resolve().parents[2] / "shared" / "data"))
    return path


def _frame_with_faces(faces: int, data: Path) -> np.ndarray:
    """A photo with the asked number of faces: one portrait, or the group photo (4-5 faces)."""
    name = "obama_oval_office_1080p.jpg" if faces == 1 else "pexels_group_meeting_4faces.jpeg"
    path = data / "faces" / name
    if not path.exists():
        raise InputError(f"Benchmark frames need {path}; set {DATA_ENV} to the shared data folder.")
    return read_image(path).bgr


def _fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale ``image`` to cover ``size`` and centre-crop it, so faces keep their proportions."""
    w, h = size
    scale = max(w / image.shape[1], h / image.shape[0])
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
    y = (resized.shape[0] - h) // 2
    x = (resized.shape[1] - w) // 2
    return np.ascontiguousarray(resized[y : y + h, x : x + w])


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure_case(
    engine: Engine, frame: np.ndarray, repeat: int, pipeline_frames: int, live: LiveSettings
) -> dict[str, float]:
    """Stages, floor, overhead and throughput for one frame through one engine."""
    state = engine._state
    clocks = [Timed(state.detector.session), Timed(state.swapper.session)]
    faces = state.detector.detect(frame)
    size = max(state.settings.pixel_boost, state.swapper.size)
    warped = [warp_face(frame, f.kps, size) for f in faces]
    swapped = state.swapper.swap_crops([c for c, _ in warped], state.latent)

    def paste() -> None:
        canvas = frame.copy()
        for result, (crop, m) in zip(swapped, warped, strict=True):
            paste_into(canvas, result, m, state.settings.blend, state.settings.detail, crop)

    out = {
        "faces": float(len(faces)),
        "detect": _median_ms(lambda: state.detector.detect(frame), repeat),
        "align": _median_ms(lambda: [warp_face(frame, f.kps, size) for f in faces], repeat),
        "swap": _median_ms(lambda: state.swapper.swap_crops([c for c, _ in warped], state.latent), repeat),
        "paste": _median_ms(paste, repeat),
    }
    totals, floors = [], []
    for _ in range(repeat):
        before = sum(c.seconds for c in clocks)
        start = time.perf_counter()
        engine.swap(frame)
        totals.append(time.perf_counter() - start)
        floors.append(sum(c.seconds for c in clocks) - before)
    out["total"] = statistics.median(totals) * 1000
    out["floor"] = statistics.median(floors) * 1000
    out["overhead"] = out["total"] - out["floor"]
    out["fps"] = 1000.0 / out["total"]
    out["floor_fps"] = 1000.0 / out["floor"]
    pipeline = LivePipeline(LiveSession(engine, live))
    start = time.perf_counter()
    for i in range(pipeline_frames):
        pipeline.submit(frame, i / 30.0, tag=i)
        if i >= 1:
            pipeline.get(timeout=600)
    pipeline.get(timeout=600)
    out["pipeline_fps"] = pipeline_frames / (time.perf_counter() - start)
    pipeline.close()
    return out


def landmark_tracks(
    engine: Engine, frames: Iterable[np.ndarray], fps: float, settings: LiveSettings
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each face's raw (detected) and live (output) landmarks, frame by frame, through a live session.

    A track is cut into runs of consecutive frames where the face was detected.
    """
    session = LiveSession(engine, settings)
    runs: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = {}
    done: list[list[tuple[int, np.ndarray, np.ndarray]]] = []
    for index, frame in enumerate(frames):
        session.analyse(frame, index / fps)
        for track in session.tracker.tracks:
            if track.missed or track.time != index / fps:
                continue
            run = runs.setdefault(track.id, [])
            if run and run[-1][0] != index - 1:
                done.append(run)
                run = runs[track.id] = []
            run.append((index, track.raw.kps, track.face.kps))
    done += runs.values()
    return [(np.stack([r for _, r, _ in run]), np.stack([v for _, _, v in run])) for run in done]


def clip_frames(clip: Path) -> Iterator[np.ndarray]:
    cap = cv2.VideoCapture(str(clip))
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield frame
    finally:
        cap.release()


def clip_steadiness(engine: Engine, clip: Path, settings: LiveSettings) -> Steadiness:
    """Jitter and offset (``core.jitter``) of the live session on a video file."""
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    cap.release()
    try:
        return steadiness(landmark_tracks(engine, clip_frames(clip), fps, settings))
    except ValueError as error:
        raise InputError(f"{clip}: {error}; pick a clip with steady faces.") from error


def print_steadiness(name: str, s: Steadiness) -> None:
    print(
        f"jitter {name}: raw {s.raw_jitter:.3f} px, live {s.live_jitter:.3f} px ({s.ratio:.1f}x lower); "
        f"offset {s.offset:.3f} px = 1/{1 / max(s.offset_eyes, 1e-9):.0f} of the {s.eye_distance:.1f} px "
        f"eye distance ({s.samples} landmark samples)"
    )


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def soak(frames: int, data: Path) -> list[tuple[int, float]]:
    """Many small frames through a live session with tiny models; resident MB every 1000 frames."""
    tmp = Path(tempfile.mkdtemp(prefix="inswapper-soak-"))
    engine = Engine(
        EngineSettings(
            swapper=str(make_swapper(tmp / "swapper.onnx", 128)),
            detector=str(data / "models" / "face_detection_yunet_2026may.onnx"),
            recognizer=str(make_recognizer(tmp / "arcface.onnx")),
            det_size=160,
        )
    )
    face = read_image(data / "faces" / "codait_luciano.png").bgr
    engine.set_source(SourceFace(np.full(512, 1 / np.sqrt(512), dtype=np.float32)))
    session = LiveSession(engine, LiveSettings(detect_every=3))
    base = cv2.resize(face, (160, 160))
    readings = []
    for i in range(1, frames + 1):
        shift = (i % 20) - 10
        frame = np.roll(base, shift, axis=1)
        session.process(frame, i / 30.0)
        if i % 1000 == 0:
            readings.append((i, _rss_mb()))
            print(f"soak: {i:6d} frames, resident {readings[-1][1]:.1f} MB", flush=True)
    return readings


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="inswapper-live bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--swapper",
        default="standin:inswapper_512_live_mini",
        help=f"model name or path, or standin:NAME ({', '.join(STANDINS)})",
    )
    parser.add_argument("--detector", default="yunet", help="detector name or path (default yunet)")
    parser.add_argument("--models-dir", help="folder searched first for models")
    parser.add_argument("--providers", default="cpu", help="comma list: cpu,cuda,tensorrt,... or 'all'")
    parser.add_argument("--sizes", default="720p,1080p")
    parser.add_argument("--faces", default="1,4")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--pipeline-frames", type=int, default=20)
    parser.add_argument("--pixel-boost", type=int, default=0)
    parser.add_argument(
        "--detect-every", type=int, default=1, help="live pipeline: detector on every Nth frame"
    )
    parser.add_argument("--jitter", action="store_true", help="also measure jitter on the shared clips")
    parser.add_argument(
        "--soak", type=int, default=0, metavar="FRAMES", help="run a memory soak of this many frames"
    )
    args = parser.parse_args(argv)
    data = _data_dir()
    if args.soak:
        readings = soak(args.soak, data)
        settled = [mb for n, mb in readings if n > 1000]
        if settled:
            print(f"soak: resident after warm-up {min(settled):.1f}..{max(settled):.1f} MB")
        return 0
    models = Path(args.models_dir) if args.models_dir else data / "models"
    swapper = _swapper_path(args.swapper)
    recognizer = str(make_recognizer(cache_dir() / "arcface_contract.onnx"))
    if args.providers == "all":
        wanted = [
            p for p in available_providers() if p != "AzureExecutionProvider"
        ]  # a cloud endpoint, no device
    else:
        wanted = [canonical_provider(p) for p in args.providers.split(",")]
    print(
        f"swapper {Path(swapper).name}, detector {args.detector}; providers available: {', '.join(available_providers())}"
    )
    live = LiveSettings(detect_every=args.detect_every)
    print("ms per frame (median); floor = time inside the detector's and swapper's session.run")
    print(f"pipe = the two-thread LivePipeline, detector on every {args.detect_every} frame(s)")
    header = (
        f"{'provider':10} {'case':14} {'detect':>7} {'align':>6} {'swap':>7} {'paste':>6} {'total':>7} {'floor':>7} "
        f"{'overhead':>8} {'fps':>6} {'seq/floor':>9} {'pipe/floor':>10}"
    )
    print(header)
    for provider in wanted:
        if provider not in available_providers():
            print(f"{provider:10} not available in this onnxruntime build")
            continue
        engine = Engine(
            EngineSettings(
                swapper=swapper,
                detector=args.detector,
                recognizer=recognizer,
                models_dir=str(models),
                provider=provider,
                pixel_boost=args.pixel_boost,
                faces=FaceSelection(),
            )
        )
        engine.set_source(SourceFace(np.full(512, 1 / np.sqrt(512), dtype=np.float32)))
        short = provider.removesuffix("ExecutionProvider")
        for size in args.sizes.split(","):
            for count in (int(n) for n in args.faces.split(",")):
                frame = _fit(_frame_with_faces(count, data), SIZES[size])
                r = measure_case(engine, frame, args.repeat, args.pipeline_frames, live)
                case = f"{size} {int(r['faces'])} face{'s' if r['faces'] != 1 else ''}"
                print(
                    f"{short:10} {case:14} {r['detect']:7.1f} {r['align']:6.2f} {r['swap']:7.1f} {r['paste']:6.2f} "
                    f"{r['total']:7.1f} {r['floor']:7.1f} {r['overhead']:8.2f} {r['fps']:6.1f} "
                    f"{r['fps'] / r['floor_fps']:9.2f} {r['pipeline_fps'] / r['floor_fps']:10.2f}",
                    flush=True,
                )
        if args.jitter:
            print("jitter: mean distance of a landmark track from its centred quadratic fit over +-4 frames;")
            print("offset: mean distance of the live landmarks from the fit of the raw detections")
            for clip in sorted((data / "video").glob("*.mp4")):
                print_steadiness(clip.name, clip_steadiness(engine, clip, LiveSettings()))
    return 0
