"""LiveSession.carry: the latest swapped faces pasted onto frames the model did not process."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import read

from inswapper_live.core import carry
from inswapper_live.core.align import umeyama
from inswapper_live.core.bench import clip_frames
from inswapper_live.core.carry import CarrySettings
from inswapper_live.core.detail import detail_weight
from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.live import LiveSession, LiveSettings
from inswapper_live.core.masks import MaskSettings
from inswapper_live.core.paste import paste_into
from inswapper_live.core.smooth import SmoothingSettings
from inswapper_live.core.zoomclip import make_zoom_clip

FPS = 25.0
NOW = LiveSettings(carry=CarrySettings(lookahead=False))
"""Faces carried as soon as they are swapped: the carry mechanics, without the look-ahead frame."""
AS_FLOW = LiveSettings(
    carry=CarrySettings(lookahead=False, camera=SmoothingSettings(enabled=False), settle=0.0)
)
"""As ``NOW``, pasted exactly where optical flow moves the faces (nothing steadied)."""


@pytest.fixture(scope="module")
def engine(live_engine: Engine) -> Engine:
    return live_engine


@pytest.fixture(scope="module")
def frames(clips_dir: Path) -> list[np.ndarray]:
    return list(itertools.islice(clip_frames(clips_dir / "clip_obama_zoom_3s.mp4"), 40))


@pytest.fixture(scope="module")
def pull_back(tmp_path_factory: pytest.TempPathFactory, faces_dir: Path) -> list[np.ndarray]:
    """A camera pulling back from a face near the top edge, so frame 20 shows what lay above
    frame 0: a zoom toward the face made here from a shipped photo, played backwards (the
    conftest's clip zooms in with its window against the photo's top edge, so it never does)."""
    clip = tmp_path_factory.mktemp("carry") / "pull_back.mp4"
    make_zoom_clip(faces_dir / "obama_official_portrait.jpg", clip, frames=60, zoom=1.6, focus=(0.54, 0.4))
    return list(itertools.islice(reversed(list(clip_frames(clip))), 40))


def _camera(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The similarity transform from frame ``a`` to ``b`` of the whole picture.

    The clip moves a still photo, so this is the true motion of every point, the face's included
    (the detector's landmarks are no oracle here: they shift by up to 6% of the face as it zooms).
    """
    ga, gb = (cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in (a, b))
    points = cv2.goodFeaturesToTrack(ga, 400, 0.01, 8)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(ga, gb, points, None, winSize=(21, 21), maxLevel=3)
    ok = status.ravel() == 1
    m, _ = cv2.estimateAffinePartial2D(points[ok, 0], moved[ok, 0])
    return m


@pytest.mark.parametrize(
    ("settings", "limit"),
    [(AS_FLOW, lambda eyes: 1.0), (NOW, lambda eyes: eyes / 80)],
    ids=["as flow: within a pixel", "steadied: within 1/80 of the eye distance"],
)
def test_carry_follows_the_face_between_processed_frames(
    engine: Engine, pull_back: list[np.ndarray], settings: LiveSettings, limit: Callable[[float], float]
) -> None:
    """Pasted where flow moves the face, it keeps within a pixel of the true motion; steadied (the
    default) it trails the camera's zoom, which speeds up as it goes, by a little more."""
    frames = pull_back
    session = LiveSession(engine, settings)
    processed = session.process(frames[0], 0.0)
    kps = processed.swapped[0].kps
    # The same frame carried gives back the same swap (the flow finds no motion).
    again = session.carry(frames[0], 0.0)
    assert len(again.swapped) == 1
    mask = processed.mask() > 0.5
    diff = np.abs(again.frame.astype(int) - processed.frame.astype(int))
    assert diff[mask].mean() < 2.0
    # Over 20 frames the face zooms and moves by tens of pixels; the carried one follows it.
    worst = 0.0
    for i in range(1, 21):
        carried = session.carry(frames[i], i / FPS)
        assert len(carried.swapped) == 1 and len(carried.regions) == 1
        truth = np.c_[kps, np.ones(5)] @ _camera(frames[0], frames[i]).T
        worst = max(worst, float(np.abs(carried.swapped[0].kps - truth).max()))
        changed = np.any(carried.frame != frames[i], axis=2)
        inside = carried.mask() > 0
        assert changed.any() and not (changed & ~inside).any(), "only pixels under the paste change"
    assert np.abs(truth - kps).max() > 20, "the face did move"
    assert worst < limit(float(np.linalg.norm(kps[1] - kps[0]))), "pixels off the true motion"
    # Part of the crop lay above frame 0's top edge; that part (the swapper's view of black)
    # has now come into view and must not be pasted.
    back = cv2.invertAffineTransform(_camera(frames[0], frames[20]))
    ys, xs = np.nonzero(carried.mask() > 0.02)
    assert len(ys) > 1000
    above = (np.c_[xs, ys, np.ones(len(xs))] @ back.T)[:, 1] < -2
    height, width = frames[0].shape[:2]
    yy, xx = np.mgrid[0:height, 0:width]
    outside = (np.c_[xx.ravel(), yy.ravel(), np.ones(xx.size)] @ back.T)[:, 1].reshape(height, width) < -2
    assert outside[:, width // 3 : 2 * width // 3].any(), "frame 20 shows what was above frame 0"
    assert not above.any()


def test_faces_are_carried_once_the_next_frame_is_analysed_moved_to_its_refinement(
    engine: Engine, frames: list[np.ndarray]
) -> None:
    """The default: frame 0's swap is kept back until frame 1 is analysed, then pasted where the
    one-step smoother puts frame 0's landmarks given frame 1 (``Track.lagged``)."""
    session, oracle = LiveSession(engine), LiveSession(engine)
    session.process(frames[0], 0.0)
    assert session.carry(frames[1], 0.5 / FPS).swapped == [], "kept back until the next frame is analysed"
    analyses = [oracle.analyse(frames[0], 0.0)]
    swapped = {}
    for i in range(1, 11):
        swapped[i] = session.process(frames[i], i / FPS).swapped[0].kps
        analyses.append(oracle.analyse(frames[i], i / FPS))
    swapped = swapped[9]
    refined = oracle.refine(analyses[9], analyses[10]).faces[0].kps
    assert np.abs(refined - swapped).max() > 0.2, "the refinement moves the landmarks"
    on_ninth = session.carry(frames[9], 10.5 / FPS)  # frame 9 itself: no motion since it was swapped
    assert len(on_ninth.swapped) == 1
    carried = on_ninth.swapped[0].kps
    # Patches move rigidly: by the similarity that best takes the swapped landmarks to the refined.
    fit = np.c_[swapped, np.ones(5)] @ umeyama(swapped, refined).T
    assert np.abs(carried - fit).max() < 0.1
    assert np.linalg.norm(carried - refined, axis=1).mean() < np.linalg.norm(swapped - refined, axis=1).mean()


def test_carry_passes_a_frame_through_after_a_cut_and_drops_the_faces(
    engine: Engine, frames: list[np.ndarray], faces_dir: Path
) -> None:
    session = LiveSession(engine, NOW)
    assert session.carry(frames[0], 0.0).swapped == [], "nothing processed yet"
    session.process(frames[0], 0.0)
    other = cv2.resize(read(faces_dir / "pexels_group_meeting_4faces.jpeg"), frames[0].shape[1::-1])
    cut = session.carry(other, 1 / FPS)
    assert cut.swapped == [] and cut.regions == [] and np.array_equal(cut.frame, other)
    assert session.carrier.faces == 0
    back = session.carry(frames[1], 2 / FPS)
    assert back.swapped == [] and np.array_equal(back.frame, frames[1]), "dropped, not kept for later"


def test_carry_drops_faces_that_are_too_old(engine: Engine, frames: list[np.ndarray]) -> None:
    session = LiveSession(engine, LiveSettings(carry=CarrySettings(max_age=0.2, lookahead=False)))
    session.process(frames[0], 0.0)
    assert len(session.carry(frames[1], 0.16).swapped) == 1
    late = session.carry(frames[2], 0.24)
    assert late.swapped == [] and np.array_equal(late.frame, frames[2])
    assert session.carrier.faces == 0


def test_carry_in_place_writes_into_the_frame(engine: Engine, frames: list[np.ndarray]) -> None:
    session = LiveSession(engine, NOW)
    session.process(frames[0], 0.0)
    frame = frames[1].copy()
    result = session.carry(frame, 1 / FPS, in_place=True)
    assert result.frame is frame and not np.array_equal(frame, frames[1])


def test_carry_from_another_thread_while_process_runs(engine: Engine, frames: list[np.ndarray]) -> None:
    """A slow model's thread processes every 5th frame once the display has reached it; the display
    thread carries every frame meanwhile, so both use the session at once, in the order a stream
    has them (how fast each side runs decides only which processed frame a carry starts from)."""
    session = LiveSession(engine, NOW)
    session.process(frames[0], 0.0)
    truth = [engine.detect(f)[0].kps for f in frames]
    errors: list[BaseException] = []
    carried: list[tuple[int, np.ndarray]] = []
    shown = threading.Condition()
    position = 0

    def model() -> None:
        try:
            for i in range(5, len(frames), 5):
                with shown:
                    shown.wait_for(lambda i=i: position >= i, timeout=30)
                session.process(frames[i], i / FPS)
        except BaseException as error:  # handed to the test thread
            errors.append(error)

    worker = threading.Thread(target=model)
    worker.start()
    for k in range(1, len(frames)):
        with shown:
            position = k
            shown.notify_all()
        result = session.carry(frames[k], k / FPS)
        carried += [(k, f.kps) for f in result.swapped]
    worker.join()
    assert not errors
    assert len(carried) >= len(frames) - 1
    size = np.sqrt(engine.detect(frames[-1])[0].area)
    worst = max(float(np.abs(kps - truth[k]).max()) for k, kps in carried) / size
    assert worst < 0.1


def test_a_carried_face_computes_its_detail_weight_once_and_pastes_the_same_pixels(
    engine: Engine, frames: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    def run() -> list[np.ndarray]:
        session = LiveSession(engine, NOW)
        session.process(frames[0], 0.0)
        return [session.carry(frames[i], i / FPS).frame for i in range(1, 6)]

    calls = []
    monkeypatch.setattr(carry, "detail_weight", lambda *a: calls.append(1) or detail_weight(*a))
    cached = run()
    assert len(calls) == 1, "one swapped face: its weight once for five carried frames"
    monkeypatch.setattr(carry, "paste_into", lambda *a: paste_into(*a[:-1]))  # the weight computed every time
    assert all(np.array_equal(a, b) for a, b in zip(cached, run(), strict=True))


def test_a_carried_face_keeps_its_mask(
    swapper_128: Path, yunet: Path, recognizer: Path, faces_dir: Path, frames: list[np.ndarray]
) -> None:
    """A box mask keeping the lower half of the crop as the target holds on carried frames too."""
    masks = MaskSettings(types=("box",), padding=(0, 0, 50, 0))
    engine = Engine(
        EngineSettings(swapper=str(swapper_128), detector=str(yunet), recognizer=str(recognizer), masks=masks)
    )
    engine.set_source(engine.analyse_source([read(faces_dir / "grace_hopper.jpg")]))
    session = LiveSession(engine, NOW)
    processed = session.process(frames[0], 0.0)
    carried = session.carry(frames[1], 1 / FPS)
    assert carried.crops[0].mask is not None
    assert np.array_equal(carried.crops[0].mask, processed.crops[0].mask)
    # The mouth lies in the kept lower half: the carried frame leaves it as the target has it.
    mouth = np.round(carried.swapped[0].kps[3:].mean(axis=0)).astype(int)
    patch = (slice(mouth[1] - 3, mouth[1] + 4), slice(mouth[0] - 3, mouth[0] + 4))
    assert np.abs(carried.frame[patch].astype(int) - frames[1][patch]).max() <= 2
