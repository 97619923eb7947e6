"""``inswapper-live bench``: where the time goes, per stage, against the models' own floor.

Prints for each execution provider, frame size and face count: milliseconds per stage
(detect, align, swap, paste), the time inside the models' ``session.run`` (the floor), the
pipeline's overhead (total minus floor), and throughput sequentially and through the two-thread
LivePipeline as a ratio of the floor. ``--jitter`` adds the landmark jitter on a clip, raw
detections against the live session's smoothed faces; ``--soak`` runs many small frames and
prints resident memory as it goes. ``--masks occlusion,region`` times each mask model per refresh
and the live per-frame cost the masks add, every frame and refreshed every N frames.

Swappers and mask models default to cost-true stand-ins (core.synthetic.STANDINS,
core.synthetic_masks.MASK_STANDINS), built once into a cache folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from .align import warp_face
from .engine import Engine, EngineSettings
from .errors import InputError, SettingsError
from .imageio import read_image
from .jitter import Steadiness, carried_landmarks, head_motion_clip, head_path, steadiness
from .live import LivePipeline, LiveSession, LiveSettings
from .masks import MaskSettings, parse_list
from .paste import paste_into
from .restore import RestoreSettings, restore_swaps
from .runtime import available_providers, canonical_provider
from .select import FaceSelection
from .source import SourceFace
from .synthetic import (
    RESTORER_STANDINS,
    STANDINS,
    make_recognizer,
    make_restorer_standin,
    make_standin,
    make_swapper,
)
from .synthetic_masks import MASK_STANDINS, make_mask_standin
from .track import Tracker
from .zoomclip import make_zoom_clip

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
DATA_ENV = "INSWAPPER_LIVE_DATA"
HEAD_FPS = 25.0
PACKAGED_PHOTO = Path(__file__).resolve().parent / "data" / "grace_hopper.jpg"
"""The public-domain portrait shipped in the package: frames and clips when the shared data is absent."""


class Timed:
    """Wraps a session's ``run`` and ``run_with_iobinding``; adds up the seconds and calls inside them.

    Both entry points count: a GPU swapper runs through IO binding, and pixel boost may make
    k^2 runs per face, so a floor that saw only ``run`` would leave those out.
    """

    def __init__(self, session) -> None:
        self.inner, self.seconds, self.calls = session.run, 0.0, 0
        session.run = self
        bound = getattr(session, "run_with_iobinding", None)
        if bound is not None:
            session.run_with_iobinding = lambda *args, **kwargs: self._time(bound, args, kwargs)

    def __call__(self, *args, **kwargs):
        return self._time(self.inner, args, kwargs)

    def _time(self, fn, args, kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    path = Path(base) / "inswapper-live" / "standins"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _built(file_name: str, build: Callable[[Path], object]) -> Path:
    """``file_name`` in the cache folder, built by ``build(path)`` on first use."""
    path = cache_dir() / file_name
    if not path.exists():
        tmp = path.with_suffix(".tmp.onnx")
        build(tmp)
        os.replace(tmp, path)
    return path


def standin(name: str) -> Path:
    """The stand-in file for ``name`` (a swapper's or a mask model's), built on first use."""
    make = make_standin if name in STANDINS else make_mask_standin
    return _built(f"standin_{name}.onnx", lambda p: make(p, name))


def restorer_standin(name: str) -> Path:
    """The restorer stand-in file for ``name``, built on first use."""
    return _built(f"standin_restore_{name}.onnx", lambda p: make_restorer_standin(p, name))


def _model_path(spec: str, names: Sequence[str], build: Callable[[str], Path], what: str) -> str:
    """A model path, or for ``standin:NAME`` the stand-in's (built on first use)."""
    if not spec.startswith("standin:"):
        return spec
    name = spec.split(":", 1)[1]
    if name not in names:
        raise SettingsError(f"Unknown {what} {name!r}: choose one of {', '.join(names)}.")
    return str(build(name))


def _swapper_path(spec: str) -> str:
    return _model_path(spec, list(STANDINS), standin, "stand-in")


def _restorer_path(spec: str) -> str:
    return _model_path(spec, list(RESTORER_STANDINS), restorer_standin, "restorer stand-in")


def _mask_path(spec: str) -> str:
    return _model_path(spec, list(MASK_STANDINS), standin, "mask stand-in")


def measure_masks(
    engine: Engine, frame: np.ndarray, masks: MaskSettings, frames: int, live: LiveSettings
) -> dict[str, float]:
    """Each mask model's ms per refresh (all faces in one batch), and mean live ms per frame without
    and with the masks: two sessions on the same frame, timed alternately so load drift cancels."""
    masked = Engine(replace(engine.settings, masks=masks))
    masked.set_source(engine.source)
    state = masked._state
    faces = state.detector.detect(frame)
    crops = [warp_face(frame, f.kps, state.swapper.size)[0] for f in faces]
    models = state.masker._models
    out: dict[str, float] = {"faces": float(len(faces))}
    if models.occluder is not None and crops:
        out["occlusion"] = _median_ms(lambda: models.occluder[1].masks(crops), 3)
    if models.parser is not None and crops:
        out["region"] = _median_ms(lambda: models.parser[1].classes(crops), 3)
    sessions = {"plain": LiveSession(engine, live), "masked": LiveSession(masked, live)}
    totals = dict.fromkeys(sessions, 0.0)
    every = masks.refresh_every
    count = max(frames, 2 * every) // every * every
    for session in sessions.values():
        session.process(frame, 0.0)  # tracks start; the masked session computes its first masks
    for i in range(1, count + 1):
        for name in sorted(sessions, reverse=bool(i % 2)):
            start = time.perf_counter()
            sessions[name].process(frame, i / 30.0)
            totals[name] += time.perf_counter() - start
    out["plain"] = totals["plain"] / count * 1000
    out["masked"] = totals["masked"] / count * 1000
    return out


def _data_dir() -> Path:
    path = Path(os.environ.get(DATA_ENV, Path(__file__).resolve().parents[2] / "shared" / "data"))
    return path


def _frame_with_faces(faces: int, data: Path) -> np.ndarray:
    """A photo with the asked number of faces: one portrait, or the group photo (4-5 faces).

    Without the shared data, the packaged portrait once, or tiled 2 x 2 for four faces, each
    copy widened to 16:9 with a plain border so that fitting the frame crops no face away.
    """
    name = "obama_oval_office_1080p.jpg" if faces == 1 else "pexels_group_meeting_4faces.jpeg"
    path = data / "faces" / name
    if path.exists():
        return read_image(path).bgr
    photo = read_image(PACKAGED_PHOTO).bgr
    side = max(0, round(photo.shape[0] * 16 / 9) - photo.shape[1]) // 2
    cell = cv2.copyMakeBorder(photo, 0, 0, side, side, cv2.BORDER_CONSTANT, value=(96, 96, 96))
    if faces == 1:
        return cell
    row = np.hstack([cell, cell])
    return np.vstack([row, row])


def _clips(data: Path) -> list[Path]:
    """The shared clips, or one made from the packaged portrait (a slow zoom, so any jerk is jitter)."""
    shared = sorted((data / "video").glob("*.mp4"))
    if shared:
        return shared
    clip = cache_dir() / "clip_grace_hopper_zoom_3s.mp4"
    if not clip.exists():
        tmp = make_zoom_clip(PACKAGED_PHOTO, clip.with_suffix(".tmp.mp4"), focus=(0.5, 0.4))
        os.replace(tmp, clip)
    return [clip]


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
    restorer, pasted, placed = state.restorer, swapped, warped
    if restorer is not None:
        clocks.append(Timed(restorer.session))

        def restore() -> tuple:
            return restore_swaps(restorer, state.settings.restore, frame, swapped, warped)

        pasted, placed = restore()

    def paste() -> None:
        canvas = frame.copy()
        for result, (crop, m) in zip(pasted, placed, strict=True):
            paste_into(canvas, result, m, state.settings.blend, state.settings.detail, crop)

    out = {
        "faces": float(len(faces)),
        "detect": _median_ms(lambda: state.detector.detect(frame), repeat),
        "align": _median_ms(lambda: [warp_face(frame, f.kps, size) for f in faces], repeat),
        "swap": _median_ms(lambda: state.swapper.swap_crops([c for c, _ in warped], state.latent), repeat),
        "paste": _median_ms(paste, repeat),
    }
    if restorer is not None:
        out["restore"] = _median_ms(restore, repeat)
    totals, floors = [], []
    calls = clocks[1].calls
    for _ in range(repeat):
        before = sum(c.seconds for c in clocks)
        start = time.perf_counter()
        engine.swap(frame)
        totals.append(time.perf_counter() - start)
        floors.append(sum(c.seconds for c in clocks) - before)
    out["swap_runs"] = (clocks[1].calls - calls) / max(repeat, 1)
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
    pipeline.close()  # with look-ahead the last frame waits for a next one: closing flushes it
    pipeline.get(timeout=600)
    out["pipeline_fps"] = pipeline_frames / (time.perf_counter() - start)
    return out


class _Runs:
    """Landmark tracks cut into runs of consecutive frames: (first frame, raw, live) each."""

    def __init__(self) -> None:
        self._open: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = {}
        self._done: list[list[tuple[int, np.ndarray, np.ndarray]]] = []

    def last(self, key: int) -> int | None:
        """The last frame of ``key``'s open run."""
        run = self._open.get(key)
        return run[-1][0] if run else None

    def refine_last(self, key: int, live: np.ndarray) -> None:
        index, raw, _ = self._open[key][-1]
        self._open[key][-1] = (index, raw, live)

    def add(self, key: int, index: int, raw: np.ndarray, live: np.ndarray) -> None:
        run = self._open.setdefault(key, [])
        if run and run[-1][0] != index - 1:
            self._done.append(run)
            run = self._open[key] = []
        run.append((index, raw, live))

    def tracks(self) -> list[tuple[int, np.ndarray, np.ndarray]]:
        runs = self._done + list(self._open.values())
        return [
            (run[0][0], np.stack([r for _, r, _ in run]), np.stack([v for _, _, v in run])) for run in runs
        ]


def _landmark_runs(
    engine: Engine, frames: Iterable[np.ndarray], fps: float, settings: LiveSettings
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Each face's raw (detected) and live (output) landmarks through a live session: (first frame,
    raw, live) per run of consecutive frames where the face was detected. With
    ``settings.lookahead`` each frame's live landmarks are those refined by the next frame, as
    ``LivePipeline`` swaps them.
    """
    session = LiveSession(engine, settings)
    runs = _Runs()
    for index, frame in enumerate(frames):
        session.analyse(frame, index / fps)
        for track in session.tracker.tracks:
            if track.missed or track.time != index / fps:
                continue
            last = runs.last(track.id)
            if (
                settings.lookahead
                and last == index - 1
                and track.lagged is not None
                and track.lagged_time == last / fps
            ):
                runs.refine_last(track.id, track.lagged.kps)
            runs.add(track.id, index, track.raw.kps, track.face.kps)
    return runs.tracks()


def carried_runs(
    engine: Engine, frames: Iterable[np.ndarray], fps: float, settings: LiveSettings, every: int = 1
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Raw detections and where smooth motion pastes the faces, on every frame: (first frame, raw, live).

    As the OBS filter's smooth motion with a model that needs ``every`` frames' time per frame:
    it takes a frame, analyses it and swaps it, and is done when it takes the next one, every
    ``every`` frames (``LiveSession.process``); every frame gets the latest swapped faces moved
    there by optical flow and steadied (``LiveSession.carry``, ``core.steady``), with the
    filter's defaults and the same timestamp for a frame's carry and analysis. Each carried face
    is measured against the detection nearest to it on that frame.
    """
    session = LiveSession(engine, settings)
    detected = Tracker()
    runs = _Runs()
    every = max(1, every)
    taken = None
    for index, frame in enumerate(frames):
        t = index / fps
        if index % every == 0 and taken is not None:
            session.render(taken, wait=settings.carry.lookahead)  # the swap of the frame taken before is done
        carried = session.carry(frame, t).faces
        seen = [tr for tr in detected.update(engine.detect(frame), t) if tr.missed == 0]
        for face in carried:
            gaps = [float(np.linalg.norm(face.kps - tr.raw.kps, axis=-1).mean()) / tr.size for tr in seen]
            if gaps and min(gaps) < 0.3:
                track = seen[int(np.argmin(gaps))]
                runs.add(track.id, index, track.raw.kps, face.kps)
        if index % every == 0:
            taken = session.analyse(frame, t)  # the model takes this frame
    return runs.tracks()


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


STEADINESS_MODES = (
    ("default: LivePipeline and CLI video, 1 frame look-ahead", LiveSettings(), 0),
    ("LiveSession.process, OBS without smooth motion: no look-ahead", LiveSettings(lookahead=False), 0),
    ("OBS smooth motion, model as fast as the source", LiveSettings(), 1),
    ("OBS smooth motion, model at 1/3 of the source's rate", LiveSettings(), 3),
)
"""What ``bench --jitter`` measures: a label, the live settings, and 0 for the session's own
landmarks or ``every`` for the faces smooth motion carries (``carried_runs``)."""


def _runs(
    engine: Engine, frames: Iterable[np.ndarray], fps: float, settings: LiveSettings, carried: int
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    if carried:
        return carried_runs(engine, frames, fps, settings, carried)
    return _landmark_runs(engine, frames, fps, settings)


def clip_steadiness(engine: Engine, clip: Path, settings: LiveSettings, carried: int = 0) -> Steadiness:
    """Jitter and offset (``core.jitter``) of the live session on a video file; with ``carried``
    (the model on every ``carried``-th frame), of the faces smooth motion pastes (``carried_runs``)."""
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    cap.release()
    try:
        return steadiness(
            [(raw, live) for _, raw, live in _runs(engine, clip_frames(clip), fps, settings, carried)]
        )
    except ValueError as error:
        raise InputError(f"{clip}: {error}; pick a clip with steady faces.") from error


@dataclass(frozen=True)
class HeadMotion:
    """The live session on a made-up clip of a moving head, against the known path."""

    steadiness: Steadiness
    raw_error: float
    """Mean distance of the detected landmarks from the true ones, pixels."""
    live_error: float


def head_clip(
    engine: Engine, photo: np.ndarray, frames: int = 250, seed: int = 1
) -> tuple[list[np.ndarray], np.ndarray]:
    """A head from ``photo`` (eyes 37 px apart in a 640x360 frame, 25 fps) moving along
    ``head_path``, and the true landmarks of each frame."""
    faces = engine.detect(photo)
    if not faces:
        raise InputError("The head-motion photo has no face the detector finds.")
    face = max(faces, key=lambda f: f.area)
    clip, transforms = head_motion_clip(photo, face, (640, 360), 37.0, head_path(frames, HEAD_FPS, seed))
    rest, at = head_motion_clip(photo, face, (640, 360), 37.0, np.array([[0.0, 0.0, 0.0, 1.0]]))
    seen = engine.detect(rest[0])
    if len(seen) != 1:
        raise InputError("The head-motion clip's rest frame must show exactly one face.")
    return clip, carried_landmarks(seen[0].kps, at[0], transforms)


def head_motion(
    engine: Engine, clip: list[np.ndarray], truth: np.ndarray, settings: LiveSettings, carried: int = 0
) -> HeadMotion:
    """The live session on a ``head_clip``, against its true landmarks (``carried``: as ``clip_steadiness``)."""
    runs = _runs(engine, clip, HEAD_FPS, settings, carried)
    if len(runs) != 1 or runs[0][0] > 2 * carried or runs[0][0] + len(runs[0][1]) != len(clip):
        raise InputError("The face was not tracked through the whole head-motion clip.")
    first, raw, live = runs[0]
    truth = truth[first:]
    return HeadMotion(
        steadiness([(raw, live)]),
        float(np.linalg.norm(raw - truth, axis=-1).mean()),
        float(np.linalg.norm(live - truth, axis=-1).mean()),
    )


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
            detector="yunet",
            recognizer=str(make_recognizer(tmp / "arcface.onnx")),
            det_size=160,
        )
    )
    shared = data / "faces" / "codait_luciano.png"
    face = read_image(shared if shared.exists() else PACKAGED_PHOTO).bgr
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


def _print_masks(
    engine: Engine, masks: MaskSettings, args: argparse.Namespace, data: Path, live: LiveSettings, short: str
) -> None:
    print(
        f"masks {','.join(masks.types)} (occluder {Path(masks.occluder).name}, parser {Path(masks.parser).name}): "
        "ms per refresh for all faces in one batch; mean live ms per frame without and with the masks "
        f"refreshed every {masks.refresh_every} frames while tracked; ratio = added / without"
    )
    for size in args.sizes.split(","):
        for count in (int(n) for n in args.faces.split(",")):
            frame = _fit(_frame_with_faces(count, data), SIZES[size])
            r = measure_masks(engine, frame, masks, args.mask_frames, live)
            stages = " ".join(f"{k} {r[k]:.1f}" for k in ("occlusion", "region") if k in r)
            every_frame = sum(r.get(k, 0.0) for k in ("occlusion", "region")) / r["plain"]
            ratio = (r["masked"] - r["plain"]) / r["plain"]
            print(
                f"{short:10} {size} {int(r['faces'])} face(s): {stages}; live without {r['plain']:.1f}, "
                f"with {r['masked']:.1f}; mask overhead ratio {ratio:.2f} (every frame it would be "
                f"~{every_frame:.2f})",
                flush=True,
            )


def parser() -> argparse.ArgumentParser:
    """The bench's options, each with its help and default."""
    parser = argparse.ArgumentParser(
        prog="inswapper-live bench",
        description="Where the time goes, per stage, against the models' own floor.",
    )
    parser.add_argument(
        "--swapper",
        default="standin:inswapper_512_live_mini",
        help=f"model name or path, or standin:NAME ({', '.join(STANDINS)}; default %(default)s)",
    )
    parser.add_argument(
        "--detector",
        default="yunet",
        help="detector name or path (default %(default)s, shipped in the package)",
    )
    parser.add_argument("--models-dir", help="folder searched first for models")
    parser.add_argument(
        "--providers", default="cpu", help="comma list: cpu,cuda,tensorrt,... or 'all' (default %(default)s)"
    )
    parser.add_argument(
        "--sizes",
        default="720p,1080p",
        help=f"comma list of frame sizes: {', '.join(SIZES)} (default %(default)s)",
    )
    parser.add_argument(
        "--faces", default="1,4", help="comma list of face counts per frame: 1 or 4 (default %(default)s)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=10,
        help="timed runs per stage; the median is shown (default %(default)s)",
    )
    parser.add_argument(
        "--pipeline-frames",
        type=int,
        default=20,
        help="frames through the two-thread live pipeline (default %(default)s)",
    )
    parser.add_argument(
        "--pixel-boost",
        type=int,
        default=0,
        choices=(0, 256, 384, 512),
        help="crop size for 128 swappers; 0: the swapper's own size (default %(default)s)",
    )
    parser.add_argument(
        "--detail",
        type=float,
        help="engine detail, 0..1 (default: the engine's own); the device path transfers detail too",
    )
    parser.add_argument(
        "--device-path",
        default="auto",
        choices=("auto", "on", "off"),
        help="warps and paste on the swapper's device: auto on GPU providers (default %(default)s)",
    )
    parser.add_argument(
        "--detect-every",
        type=int,
        default=1,
        help="live pipeline: detector on every Nth frame (default %(default)s)",
    )
    parser.add_argument(
        "--jitter",
        action="store_true",
        help="also measure landmark jitter on clips (the shared ones, or one made from the packaged photo)",
    )
    parser.add_argument(
        "--restore",
        default="",
        help=f"also restore each face: model name or path, or standin:NAME ({', '.join(RESTORER_STANDINS)}); "
        "a restorer costs seconds per face on a CPU, so use a small --repeat",
    )
    parser.add_argument(
        "--soak", type=int, default=0, metavar="FRAMES", help="run a memory soak of this many frames"
    )
    parser.add_argument(
        "--masks",
        default="",
        help="also time these masks in a live session, e.g. occlusion,region (default: none)",
    )
    parser.add_argument(
        "--occluder",
        default="standin:xseg",
        help=f"name, path or standin:NAME ({', '.join(MASK_STANDINS)}; default %(default)s)",
    )
    parser.add_argument(
        "--parser",
        default="standin:bisenet_resnet_34",
        help="name, path or standin:NAME (default %(default)s)",
    )
    parser.add_argument(
        "--mask-refresh",
        type=int,
        default=20,
        help="live: masks recomputed every N frames (default %(default)s)",
    )
    parser.add_argument(
        "--mask-frames", type=int, default=30, help="live frames timed per mask case (default %(default)s)"
    )
    return parser


def run(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    data = _data_dir()
    if args.soak:
        readings = soak(args.soak, data)
        settled = [mb for n, mb in readings if n > 1000]
        if settled:
            print(f"soak: resident after warm-up {min(settled):.1f}..{max(settled):.1f} MB")
        return 0
    models = args.models_dir or (str(data / "models") if (data / "models").is_dir() else None)
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
    if args.restore:
        print(f"restorer {args.restore} on every face before paste-back")
    live = LiveSettings(detect_every=args.detect_every)
    print(
        "ms per frame (median); floor = time inside the detector's and swapper's session.run and "
        "run_with_iobinding; runs = swapper runs per frame"
    )
    print(f"pipe = the two-thread LivePipeline, detector on every {args.detect_every} frame(s)")
    header = (
        f"{'provider':10} {'case':14} {'detect':>7} {'align':>6} {'swap':>7} {'paste':>6} {'total':>7} {'floor':>7} "
        f"{'overhead':>8} {'fps':>6} {'seq/floor':>9} {'pipe/floor':>10} {'runs':>5}"
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
                models_dir=models,
                provider=provider,
                pixel_boost=args.pixel_boost,
                faces=FaceSelection(),
                restore=RestoreSettings(_restorer_path(args.restore), blend=1.0)
                if args.restore
                else RestoreSettings(),
                device_path=args.device_path,
                **({} if args.detail is None else {"detail": args.detail}),
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
                    f"{r['fps'] / r['floor_fps']:9.2f} {r['pipeline_fps'] / r['floor_fps']:10.2f} "
                    f"{r['swap_runs']:5.0f}",
                    flush=True,
                )
                if "restore" in r:
                    batch = "one batch" if engine._state.restorer.batchable else "face by face"
                    print(
                        f"{'':10} {'':14} restore {r['restore']:.1f} ms ({batch}; included in total and floor)",
                        flush=True,
                    )
        if args.masks:
            masks = MaskSettings(
                types=parse_list(args.masks, "--masks"),
                occluder=_mask_path(args.occluder),
                parser=_mask_path(args.parser),
                refresh_every=args.mask_refresh,
            ).validate()
            _print_masks(engine, masks, args, data, live, short)
        if args.jitter:
            print("jitter: mean distance of a landmark track from its centred quadratic fit over +-4 frames;")
            print("offset: mean distance of the live landmarks from the fit of the raw detections")
            for clip in _clips(data):
                for label, settings, carried in STEADINESS_MODES:
                    print_steadiness(
                        f"{clip.name} [{label}]", clip_steadiness(engine, clip, settings, carried)
                    )
            portrait = data / "faces" / "obama_official_portrait.jpg"
            photo = read_image(portrait if portrait.exists() else PACKAGED_PHOTO).bgr
            clip, truth = head_clip(engine, photo)
            for label, settings, carried in STEADINESS_MODES:
                head = head_motion(engine, clip, truth, settings, carried)
                print_steadiness(f"head motion [{label}]", head.steadiness)
                print(
                    f"head motion [{label}]: landmark error against the true path: raw {head.raw_error:.2f} px, "
                    f"live {head.live_error:.2f} px"
                )
    return 0
