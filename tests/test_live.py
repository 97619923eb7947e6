"""Live sessions: smoothing, tracking, stable identities and the in-order pipeline."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import read

from inswapper_live.core.align import ARCFACE_TEMPLATE
from inswapper_live.core.engine import Engine
from inswapper_live.core.jitter import steadiness
from inswapper_live.core.live import LivePipeline, LiveSession, LiveSettings, SteadyVideo
from inswapper_live.core.select import FaceSelection
from inswapper_live.core.smooth import OneEuro, SmoothingSettings
from inswapper_live.core.track import Tracker
from inswapper_live.core.types import Face

FPS = 30.0


def _face(cx: float, cy: float, size: float, noise: np.ndarray | None = None) -> Face:
    kps = (ARCFACE_TEMPLATE - 56) / 112 * size + [cx, cy]
    if noise is not None:
        kps = kps + noise
    half = size / 2
    return Face(
        np.array([cx - half, cy - half, cx + half, cy + half], np.float32), kps.astype(np.float32), 0.9
    )


@pytest.mark.parametrize(("size", "jitter"), [(120, 0.8), (250, 1.5), (600, 3.0)])
def test_smoothing_cuts_jitter_3x_and_follows_a_50px_step_within_2_frames(size: float, jitter: float) -> None:
    rng = np.random.default_rng(int(size))
    truth = (ARCFACE_TEMPLATE - 56) / 112 * size + 400
    still = OneEuro(SmoothingSettings())
    raw, smoothed = [], []
    for i in range(300):
        measured = truth + rng.normal(0, jitter, truth.shape)
        out = still(measured, i / FPS, size)
        if i >= 30:
            raw.append(measured - truth)
            smoothed.append(out - truth)
    assert np.std(raw) / np.std(smoothed) >= 3.0
    stepper = OneEuro(SmoothingSettings())
    for i in range(120):
        target = truth + (50.0 if i >= 60 else 0.0)
        out = stepper(target + rng.normal(0, jitter, truth.shape), i / FPS, size)
        if i >= 61:  # the second frame after the step
            assert np.abs(out - target).mean() < 3 * jitter, f"frame {i - 60} after the step"


def test_identities_hold_when_two_faces_cross() -> None:
    rng = np.random.default_rng(7)
    tracker = Tracker()
    ids_left, ids_right = set(), set()
    for i in range(90):
        t = i / FPS
        a = _face(100 + 6 * i, 300, 160, rng.normal(0, 1, (5, 2)))  # left to right
        b = _face(640 - 6 * i, 330, 150, rng.normal(0, 1, (5, 2)))  # right to left
        faces = (
            [a, b] if abs(a.center_x - b.center_x) > 40 else [a]
        )  # the detector loses b while they overlap
        tracks = tracker.update(faces, t)
        for track in tracks:
            if track.missed:
                continue
            (ids_left if abs(track.raw.center_x - a.center_x) < 1 else ids_right).add(track.id)
    assert len(ids_left) == 1 and len(ids_right) == 1 and ids_left != ids_right


@pytest.fixture(scope="module")
def engine(live_engine: Engine) -> Engine:
    return live_engine


def _frames(path: Path, count: int = 75) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    return frames


def test_tracking_between_detections_stays_on_the_faces(engine: Engine, clips_dir: Path) -> None:
    frames = _frames(clips_dir / "clip_apollo11_zoom_3s.mp4")
    session = LiveSession(engine, LiveSettings(detect_every=5))
    worst = 0.0
    ids = set()
    for i, frame in enumerate(frames):
        analysis = session.analyse(frame, i / 25)
        assert analysis.detected == (i % 5 == 0)
        ids |= {t.id for t in session.tracker.tracks}
        if not analysis.detected:
            truth = sorted(engine.detect(frame), key=lambda f: f.center_x)
            tracked = sorted(analysis.faces, key=lambda f: f.center_x)
            assert len(tracked) == len(truth) == 3
            for f, g in zip(tracked, truth, strict=True):
                worst = max(worst, float(np.abs(f.kps - g.kps).max()) / np.sqrt(g.area))
    assert len(ids) == 3, "the three astronauts keep their identities over the whole clip"
    assert worst < 0.15


def test_chosen_face_sticks(engine: Engine, faces_dir: Path) -> None:
    image = read(faces_dir / "obama_biden_2faces.jpg")
    mirrored = np.ascontiguousarray(image[:, ::-1])
    engine.update(faces=FaceSelection.parse("index:0"))
    try:
        session = LiveSession(engine)
        first = session.analyse(image, 0.0).faces
        assert len(first) == 1
        chosen = next(iter(session._chosen))
        # The same two people, and the chosen one moves slightly: still the same track.
        shifted = np.roll(image, 4, axis=1)
        assert session.analyse(shifted, 1 / FPS).faces and session._chosen == {chosen}
        # A scene where the order flips is a different pair of tracks: the choice is made again.
        session.reset()
        assert len(session.analyse(mirrored, 2 / FPS).faces) == 1
    finally:
        engine.update(faces=FaceSelection())


def test_a_missed_detection_does_not_switch_the_swap_off(engine: Engine, faces_dir: Path) -> None:
    image = read(faces_dir / "grace_hopper.jpg")
    session = LiveSession(engine)
    first = session.analyse(image, 0.0).faces
    assert len(first) == 1
    blank = _paint_out(image, first)  # the detector misses; the rest of the frame is as it was
    assert engine.detect(blank) == []
    coasting = session.analyse(blank, 1 / FPS)
    assert len(coasting.faces) == 1 and not coasting.cut, "a one-frame miss coasts on the last position"
    last = session.analyse(blank, 4 / FPS)
    assert last.faces == [], "coasting ends after 100 ms"


def _paint_out(image: np.ndarray, faces: list[Face]) -> np.ndarray:
    """``image`` with each face's box (grown by a quarter) filled with flat gray."""
    out = image.copy()
    for f in faces:
        x1, y1, x2, y2 = f.bbox
        grow = 0.25 * (x2 - x1)
        x1, y1, x2, y2 = (int(v) for v in (x1 - grow, y1 - grow, x2 + grow, y2 + grow))
        out[max(y1, 0) : y2, max(x1, 0) : x2] = 127
    return out


def test_pipeline_returns_every_frame_in_order(engine: Engine, clips_dir: Path) -> None:
    frames = _frames(clips_dir / "clip_obama_zoom_3s.mp4", 30)
    pipeline = LivePipeline(LiveSession(engine, LiveSettings(detect_every=2, lookahead=False)))
    results = []
    consumer = threading.Thread(target=lambda: results.extend(pipeline.get(timeout=60) for _ in frames))
    consumer.start()
    for i, frame in enumerate(frames):
        pipeline.submit(frame, i / 25, tag=i)
    consumer.join()
    pipeline.close()
    assert [r.tag for r in results] == list(range(len(frames)))
    assert all(r.dropped == () for r in results)
    assert all(len(r.result.swapped) == 1 for r in results)
    sequential = LiveSession(engine, LiveSettings(detect_every=2, lookahead=False))
    expected = [sequential.process(f, i / 25).frame for i, f in enumerate(frames)]
    assert all(np.array_equal(r.result.frame, e) for r, e in zip(results, expected, strict=True))


def test_pipeline_with_lookahead_swaps_each_frame_with_landmarks_refined_by_the_next(
    engine: Engine, clips_dir: Path
) -> None:
    frames = _frames(clips_dir / "clip_obama_zoom_3s.mp4", 12)
    pipeline = LivePipeline(LiveSession(engine, LiveSettings(lookahead=True)))
    for i, frame in enumerate(frames):
        pipeline.submit(frame, i / 25, tag=i)
    results = [pipeline.get(timeout=60) for _ in frames[:-1]]
    with pytest.raises(queue.Empty):
        pipeline.get(timeout=0.5)  # the last frame waits for a next one
    pipeline.close()
    results.append(pipeline.get(timeout=10))  # close flushes it
    assert [r.tag for r in results] == list(range(len(frames)))
    sequential = LiveSession(engine, LiveSettings(lookahead=True))
    analyses = [sequential.analyse(frames[0], 0.0)]
    expected = []
    for i, frame in enumerate(frames[1:], 1):
        analyses.append(sequential.analyse(frame, i / 25))
        expected.append(sequential.refine(analyses[-2], analyses[-1]).faces)
    expected.append(analyses[-1].faces)
    for result, faces in zip(results, expected, strict=True):
        assert len(result.result.swapped) == 1
        assert np.array_equal(result.result.swapped[0].kps, faces[0].kps)
    refined = [not np.array_equal(e[0].kps, a.faces[0].kps) for e, a in zip(expected, analyses, strict=True)]
    assert all(refined[1:-1]), "every frame but the first (a restart) and the last moved with the next"


def test_a_video_file_is_swapped_frame_by_frame_with_landmarks_refined_by_the_next(
    engine: Engine, clips_dir: Path
) -> None:
    """The CLI's video path: each frame comes out once the next is analysed, steady and on the face."""
    frames = _frames(clips_dir / "clip_obama_zoom_3s.mp4")
    results = []
    stream = SteadyVideo(LiveSession(engine), results.append)
    out = [done for i, frame in enumerate(frames) for done in stream.push(frame.copy(), i / 25)]
    assert len(out) == len(frames) - 1, "the last frame waits for a next one"
    out += stream.flush()
    assert len(out) == len(results) == len(frames)
    for i in range(len(frames) - 1):
        own = np.abs(out[i].astype(np.int16) - frames[i]).mean()
        assert own < np.abs(out[i].astype(np.int16) - frames[i + 1]).mean(), f"frame {i} is its own frame"
    raw = np.stack([engine.detect(f)[0].kps for f in frames])
    swapped = np.stack([r.swapped[0].kps for r in results])
    figures = steadiness([(raw, swapped)])
    assert figures.ratio >= 3.0 and figures.offset_eyes <= 1 / 50


def test_pipeline_without_waiting_reports_each_drop(engine: Engine, faces_dir: Path) -> None:
    frame = read(faces_dir / "obama_oval_office_1080p.jpg")
    pipeline = LivePipeline(LiveSession(engine), depth=1)  # with look-ahead, the default
    for i in range(20):
        pipeline.submit(frame, i / 25, tag=i, block=False)
    pipeline.close()  # flushes the frame held for look-ahead
    seen, dropped = [], []
    while len(seen) + len(dropped) < 20:
        try:
            result = pipeline.get(timeout=30)
        except queue.Empty:
            break
        seen.append(result.tag)
        dropped += result.dropped
    assert sorted(seen + dropped) == list(range(20))
    assert seen == sorted(seen) and dropped
