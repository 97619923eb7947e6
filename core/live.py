"""Live sessions: a stream of frames through one engine, steady and in order.

``LiveSession`` runs the detector every N frames and tracks faces in between, smooths their
landmarks, and keeps the choice of which faces to swap stable from frame to frame (a chosen
face stays chosen while it is in view). A scene cut (``core.scene``) drops every track and
choice at once. ``LiveSession.carry`` pastes the latest swapped faces onto frames the model
did not process (``core.carry``). ``LivePipeline`` runs a session on two threads, so the
next frame is analysed while the current one is swapped, and returns frames in order.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .carry import Carrier, CarrySettings, Pending, Reference
from .engine import Engine, SwapResult
from .facemap_live import TrackMapper
from .masks import MaskMemory
from .recognize import cosine
from .scene import CutSettings, is_cut, thumbnail
from .source import SourceFace
from .track import Track, Tracker, TrackerSettings
from .types import Face, Frame


@dataclass(frozen=True)
class LiveSettings:
    detect_every: int = 1
    """Run the detector on every Nth frame; optical flow moves the faces in between."""
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    reembed_every: int = 30
    """For ``similar`` selection: re-check a track's identity every N detector runs."""
    switch_ratio: float = 1.5
    """For ``largest``: another face must be this much larger before the choice moves to it."""
    cuts: CutSettings = field(default_factory=CutSettings)
    """A scene cut drops every track, choice and carried face at once."""
    carry: CarrySettings = field(default_factory=CarrySettings)
    lookahead: bool = True
    """``LivePipeline`` swaps frame N with landmarks refined by frame N+1's detection (a one-step
    fixed-lag smoother, ``core.smooth``): jitter 3-4x lower than the detector's and closer to the
    head, where the causal filter alone cuts it about 2x. It costs one frame of latency: off for a
    stream that must not wait for its next frame. ``LiveSession.process`` never waits."""


@dataclass(frozen=True)
class Analysis:
    """What the analysis stage decided for one frame."""

    frame: Frame
    faces: list[Face]
    """The faces to swap (smoothed)."""
    tracks: int
    detected: bool
    time: float = 0.0
    cut: bool = False
    """The frame starts a new scene: everything from before it was dropped."""
    ids: tuple[int, ...] = ()
    """The track of each face: carried faces and masks are kept per face."""
    sources: list[SourceFace] | None = None
    """With a face map: the source of each face."""
    unmatched: tuple[str, ...] = ()
    """With a face map: the entries whose face is not in this frame (their labels)."""


class LiveSession:
    """Frame-by-frame face swapping for one video stream.

    ``analyse``/``render``/``process`` are for one thread at a time. ``carry`` may run on another
    thread at the same time: it only shares the kept faces, which sit behind their own lock.
    """

    def __init__(self, engine: Engine, settings: LiveSettings | None = None) -> None:
        self.engine = engine
        self.settings = settings or LiveSettings()
        self.tracker = Tracker(self.settings.tracker)
        self._frames = 0
        self._chosen: set[int] = set()
        self._selection = engine.settings.faces
        self._embedded_at: dict[int, int] = {}
        self._thumb = None
        self.carrier = Carrier()
        self.cuts = 0
        """Scene cuts seen by ``analyse`` so far."""
        self._mapper = TrackMapper()
        self._attributes: dict[int, tuple[int | None, int | None]] = {}
        self._masks = MaskMemory()
        self._pending: Pending | None = None
        """A swap waiting for the next analysed frame before it is carried (``CarrySettings.lookahead``)."""

    def update(self, settings: LiveSettings) -> None:
        if settings.tracker != self.settings.tracker:
            self.tracker = Tracker(settings.tracker)
            self._chosen.clear()
            self._mapper.reset()
        self.settings = settings

    def reset(self) -> None:
        """Forget every track, choice and kept face (a scene cut, a new source)."""
        self.tracker.reset()
        self._chosen.clear()
        self._embedded_at.clear()
        self._mapper.reset()
        self._frames = 0
        self.carrier.drop()
        self._pending = None
        self._masks.clear()

    def analyse(self, frame: Frame, timestamp: float | None = None) -> Analysis:
        """Detect or track, smooth, and choose the faces to swap in ``frame``."""
        t = time.monotonic() if timestamp is None else timestamp
        thumb = thumbnail(frame)
        cut = is_cut(self._thumb, thumb, self.settings.cuts)
        self._thumb = thumb
        if cut:
            self.cuts += 1
            self.reset()
        every = max(1, self.settings.detect_every)
        detect = self._frames % every == 0 or not self.tracker.tracks
        self._frames += 1
        if detect:
            self.tracker.update(self.engine.detect(frame), t, frame if every > 1 else None)
        else:
            self.tracker.follow(frame, t)
        self._publish_pending()
        tracks = self.tracker.visible()
        if self.engine.settings.faces != self._selection:
            self._selection = self.engine.settings.faces
            self._chosen.clear()
        if self._selection.needs_attributes:
            tracks = self._with_attributes(frame, tracks)
        chosen = self._choose(frame, tracks, detect)
        sources = None
        unmatched: tuple[str, ...] = ()
        if self.engine.facemap is not None:
            alive = {t.id for t in self.tracker.tracks}
            embed = lambda due: self._embed(frame, due)  # noqa: E731
            chosen, sources = self._mapper.assign(
                self.engine.facemap, chosen, alive, self._selection.order, embed
            )
            unmatched = self._mapper.unplaced(chosen)
        return Analysis(
            frame,
            [t.face for t in chosen],
            len(tracks),
            detect,
            t,
            cut,
            tuple(t.id for t in chosen),
            sources,
            unmatched,
        )

    def refine(self, previous: Analysis, latest: Analysis) -> Analysis:
        """``previous`` with each face moved to its track's estimate given ``latest`` too."""
        if latest.cut:
            return previous
        tracks = {t.id: t for t in self.tracker.tracks}
        faces = []
        for face, track_id in zip(previous.faces, previous.ids, strict=True):
            track = tracks.get(track_id)
            refined = track is not None and track.lagged is not None and track.lagged_time == previous.time
            faces.append(track.lagged if refined else face)
        return replace(previous, faces=faces)

    def _publish_pending(self) -> None:
        """Keep the swap that waited for this frame, its faces moved to where this frame's
        measurement refines them (``Track.lagged``)."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        refined = {
            t.id: t.lagged
            for t in self.tracker.tracks
            if t.missed == 0 and t.lagged is not None and t.lagged_time == pending.time
        }
        self.carrier.publish(pending.result, pending.reference, pending.time, pending.keys, refined)

    def _with_attributes(self, frame: Frame, tracks: list[Track]) -> list[Track]:
        """The tracks that pass the gender and age filters; each track is estimated once, when measured."""
        alive = {t.id for t in self.tracker.tracks}
        self._attributes = {k: v for k, v in self._attributes.items() if k in alive}
        due = [t for t in tracks if t.id not in self._attributes and t.missed == 0]
        if due:
            self.engine.genderage().predict(frame, [t.raw for t in due])
            self._attributes.update({t.id: (t.raw.gender, t.raw.age) for t in due})
        kept = []
        for t in tracks:
            gender, age = self._attributes.get(t.id, (None, None))
            if self._selection.keeps(replace(t.face, gender=gender, age=age)):
                kept.append(t)
        return kept

    def _embed(self, frame: Frame, tracks: list[Track]) -> None:
        """Fill the identity of tracks the detector just measured (for a face map)."""
        if tracks:
            faces = [t.raw for t in tracks]
            self.engine.recognizer().embed(frame, faces)
            for t, f in zip(tracks, faces, strict=True):
                t.embedding = f.embedding

    def render(self, analysis: Analysis, in_place: bool = False, *, wait: bool = False) -> SwapResult:
        """Swap the analysed faces into the frame, and keep them for ``carry``; with ``wait``, once
        the next frame is analysed (``CarrySettings.lookahead``: one thread must run both)."""
        keep = self.settings.carry.enabled
        reference = Reference.of(analysis.frame) if keep else None  # before an in-place swap
        keys = analysis.ids if len(analysis.ids) == len(analysis.faces) else None
        result = self.engine.swap(
            analysis.frame,
            faces=analysis.faces,
            in_place=in_place,
            select=False,
            sources=analysis.sources,
            mask_memory=self._masks,
            face_keys=keys,
        )
        if reference is not None and wait:
            self._pending = Pending(result, reference, analysis.time, keys)
        elif reference is not None:
            self.carrier.publish(result, reference, analysis.time, keys)
        return replace(result, unmatched=analysis.unmatched) if analysis.unmatched else result

    def process(self, frame: Frame, timestamp: float | None = None, in_place: bool = False) -> SwapResult:
        """Analyse and swap ``frame``; its faces are carried once the next frame is analysed
        (``CarrySettings.lookahead``)."""
        return self.render(self.analyse(frame, timestamp), in_place, wait=self.settings.carry.lookahead)

    def carry(self, frame: Frame, timestamp: float | None = None, *, in_place: bool = False) -> SwapResult:
        """``frame`` with the latest swapped faces pasted where optical flow tracks them to.

        For frames the model does not process (it is slower than the source): costs a flow and
        a paste, not a swap. After a scene cut, or once the faces are lost or older than
        ``LiveSettings.carry.max_age``, the frame comes back unchanged and the faces are dropped.
        Safe to call while another thread runs ``process`` on this session.
        """
        t = time.monotonic() if timestamp is None else timestamp
        engine = self.engine.settings
        return self.carrier.carry(
            frame, t, self.settings.cuts, self.settings.carry, engine.blend, engine.detail, in_place
        )

    # ---------------------------------------------------------------- selection
    def _choose(self, frame: Frame, tracks: list[Track], detected: bool) -> list[Track]:
        selection = self._selection
        self._chosen &= {t.id for t in self.tracker.tracks}
        if selection.mode == "all":
            return list(tracks)
        if selection.mode == "similar":
            return self._similar(frame, tracks, detected, selection.threshold)
        if selection.mode == "largest":
            if tracks:
                best = max(tracks, key=lambda t: t.raw.area)
                current = next((t for t in tracks if t.id in self._chosen), None)
                if current is None or best.raw.area > self.settings.switch_ratio * current.raw.area:
                    self._chosen = {best.id}
        elif tracks:
            # A chosen face that left the view no longer holds its index: when fewer chosen faces
            # are in view than indices can be filled, choose again by the current order.
            ordered = sorted(tracks, key=lambda t: t.raw.center_x)
            wanted = [i for i in selection.indices if i < len(ordered)]
            if len(self._chosen & {t.id for t in tracks}) < len(wanted):
                self._chosen = {ordered[i].id for i in wanted}
        return [t for t in tracks if t.id in self._chosen]

    def _similar(self, frame: Frame, tracks: list[Track], detected: bool, threshold: float) -> list[Track]:
        reference = self.engine.reference
        if reference is None:
            return []
        if detected:
            due = [
                t
                for t in tracks
                if t.missed == 0
                and (
                    t.embedding is None
                    or t.hits - self._embedded_at.get(t.id, 0) >= self.settings.reembed_every
                )
            ]
            if due:
                faces = [t.raw for t in due]
                self.engine.recognizer().embed(frame, faces)
                for t, f in zip(due, faces, strict=True):
                    t.embedding = f.embedding
                    self._embedded_at[t.id] = t.hits
        return [t for t in tracks if t.embedding is not None and cosine(t.embedding, reference) >= threshold]


class SteadyVideo:
    """A video file's frames through a live session (a ``core.video.FrameStream``).

    With ``LiveSettings.lookahead`` (the default) each frame is swapped once the next one is
    analysed, with landmarks refined by it: for a file the frame of latency costs nothing.
    ``on_result`` sees every frame's ``SwapResult``.
    """

    def __init__(self, session: LiveSession, on_result: Callable[[SwapResult], None] | None = None) -> None:
        self.session = session
        self.on_result = on_result
        self._held: Analysis | None = None

    def push(self, frame: Frame, time: float) -> list[Frame]:
        analysis = self.session.analyse(frame, time)
        if not self.session.settings.lookahead:
            return [self._render(analysis)]
        held, self._held = self._held, analysis
        return [] if held is None else [self._render(self.session.refine(held, analysis))]

    def flush(self) -> list[Frame]:
        held, self._held = self._held, None
        return [] if held is None else [self._render(held)]

    def _render(self, analysis: Analysis) -> Frame:
        result = self.session.render(analysis, in_place=True)
        if self.on_result is not None:
            self.on_result(result)
        return result.frame


@dataclass(frozen=True)
class LiveResult:
    tag: object
    result: SwapResult
    dropped: tuple[object, ...]
    """Tags of frames dropped since the previous result (only when submitted without waiting)."""


_STOP = object()


class LivePipeline:
    """A LiveSession on two threads: analyse frame N+1 while frame N is swapped; results in order.

    ``submit(block=True)`` waits for room and loses nothing; ``block=False`` drops the oldest
    frame not yet started when the pipeline is full, and the next result names every drop.
    With ``LiveSettings.lookahead`` (the default) a frame is swapped once the next one is analysed
    (``close`` flushes the last one).
    """

    def __init__(self, session: LiveSession, depth: int = 2) -> None:
        self.session = session
        self._inbox: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._middle: queue.Queue = queue.Queue(maxsize=1)
        self._outbox: queue.Queue = queue.Queue()
        self._dropped: list[object] = []
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._analyse_loop, name="live-analyse", daemon=True),
            threading.Thread(target=self._render_loop, name="live-render", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def submit(
        self, frame: Frame, timestamp: float | None = None, tag: object = None, block: bool = True
    ) -> None:
        item = (tag, frame, timestamp)
        if block:
            self._inbox.put(item)
            return
        while True:
            try:
                self._inbox.put_nowait(item)
                return
            except queue.Full:
                try:
                    old_tag = self._inbox.get_nowait()[0]
                except queue.Empty:
                    continue
                with self._lock:
                    self._dropped.append(old_tag)

    def get(self, timeout: float | None = None) -> LiveResult:
        """The next result in submission order; raises queue.Empty after ``timeout``."""
        item = self._outbox.get(timeout=timeout)
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._inbox.put(_STOP)
        for thread in self._threads:
            thread.join(timeout=10)

    def _analyse_loop(self) -> None:
        held = None  # with lookahead: the analysed frame waiting for the next one
        while True:
            item = self._inbox.get()
            if item is _STOP:
                if held is not None:
                    self._middle.put(held)
                self._middle.put(_STOP)
                return
            tag, frame, timestamp = item
            try:
                analysis = self.session.analyse(frame, timestamp)
            except Exception as error:  # handed to the caller in order
                if held is not None:
                    self._middle.put(held)
                    held = None
                self._middle.put((tag, error))
                continue
            if held is not None:
                self._middle.put((held[0], self.session.refine(held[1], analysis)))
                held = None
            if self.session.settings.lookahead:
                held = (tag, analysis)
            else:
                self._middle.put((tag, analysis))

    def _render_loop(self) -> None:
        while True:
            item = self._middle.get()
            if item is _STOP:
                return
            tag, analysis = item
            with self._lock:
                dropped, self._dropped = tuple(self._dropped), []
            if isinstance(analysis, Exception):
                self._outbox.put(analysis)
                continue
            try:
                self._outbox.put(LiveResult(tag, self.session.render(analysis), dropped))
            except Exception as error:
                self._outbox.put(error)
