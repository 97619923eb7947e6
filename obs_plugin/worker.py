"""The inference worker: one thread, a bounded queue that drops the oldest frame, nothing leaked.

OBS calls a filter on its graphics thread, which must never wait for a model (see OBS.md:
a 60 ms inference there lags the whole program). The filter hands each frame to this worker
and takes back whatever has finished; when the model is slower than the source, the oldest
unprocessed frame is dropped (handed to ``release``), so at most ``max_pending`` frames wait
and latency stays at a couple of frames. Every item the worker ever accepted goes to
``release`` exactly once unless it is returned by ``take``.

``release`` is never called with the worker's lock held: it calls into libobs, which may take
a mutex that another thread holds while it waits for this lock.

``close(wait=False)`` never waits for an inference: it hands the item in progress to
``abandon`` (which gives its outside resources back at once, e.g. an OBS frame, and makes the
item's later ``release`` a no-op) and lets the thread finish on its own and release it.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

_FINISHING: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
"""Threads closed without waiting, possibly still inside an inference."""


@atexit.register
def _join_finishing() -> None:
    """At interpreter exit (OBS quitting, a test process ending) wait for the threads still
    finishing an inference: exiting under a running onnxruntime session can abort the process."""
    for thread in list(_FINISHING):
        thread.join(STOP_TIMEOUT_S)


T = TypeVar("T")

FPS_WINDOW_S = 5.0
STOP_TIMEOUT_S = 10.0
"""How long ``close`` waits for an inference in progress before giving up on its frame."""


@dataclass
class WorkerStats:
    """Counts since the worker started; latencies of the last ``window`` frames taken."""

    submitted: int = 0
    processed: int = 0
    dropped: int = 0
    failed: int = 0
    window: int = 120
    latencies_frames: deque[int] = field(default_factory=deque)
    latencies_ms: deque[float] = field(default_factory=deque)
    taken_at: deque[float] = field(default_factory=deque)

    def record(self, frames: int, seconds: float, now: float) -> None:
        for values, value in (
            (self.latencies_frames, frames),
            (self.latencies_ms, seconds * 1000.0),
            (self.taken_at, now),
        ):
            values.append(value)
            if len(values) > self.window:
                values.popleft()

    @property
    def fps(self) -> float:
        """Frames taken per second over the last FPS_WINDOW_S seconds."""
        recent = [t for t in self.taken_at if self.taken_at and t >= self.taken_at[-1] - FPS_WINDOW_S]
        if len(recent) < 2:
            return 0.0
        span = recent[-1] - recent[0]
        return (len(recent) - 1) / span if span > 0 else 0.0


@dataclass
class _Item(Generic[T]):
    value: T
    seq: int
    submitted_at: float


class FrameWorker(Generic[T]):
    """Run ``process`` on submitted items in one thread; ``take`` returns the newest finished one.

    ``prepare`` runs in the worker thread before each item and whenever ``poke`` wakes it:
    the place to apply new settings (load models) without blocking the caller.
    """

    def __init__(
        self,
        process: Callable[[T], None],
        release: Callable[[T], None],
        *,
        prepare: Callable[[], None] | None = None,
        abandon: Callable[[T], None] | None = None,
        max_pending: int = 1,
        name: str = "face-swap-worker",
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self._process = process
        self._release = release
        self._prepare = prepare
        self._abandon = abandon
        self._max_pending = max_pending
        self._cond = threading.Condition()
        self._pending: deque[_Item[T]] = deque()
        self._done: deque[_Item[T]] = deque()
        self._busy: _Item[T] | None = None
        self._discard_busy = False
        """``flush`` ran while the busy item was processed: it is released, not returned."""
        self._poked = prepare is not None
        self._closing = False
        self._seq = 0
        self.stats = WorkerStats()
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ producer side
    def submit(self, value: T) -> None:
        """Queue ``value``; when the queue is full its oldest item is dropped (released)."""
        dropped: list[T] = []
        with self._cond:
            if self._closing:
                dropped.append(value)
            else:
                self._seq += 1
                self.stats.submitted += 1
                self._pending.append(_Item(value, self._seq, time.perf_counter()))
                while len(self._pending) > self._max_pending:
                    dropped.append(self._pending.popleft().value)
                    self.stats.dropped += 1
                self._cond.notify()
        for value in dropped:
            self._release(value)

    def take(self) -> T | None:
        """The newest finished item (the caller owns it now); older finished ones are released."""
        with self._cond:
            if not self._done:
                return None
            item = self._done.pop()
            stale = [i.value for i in self._done]
            self._done.clear()
            self.stats.dropped += len(stale)
            self.stats.processed += 1
            now = time.perf_counter()
            self.stats.record(self._seq - item.seq, now - item.submitted_at, now)
        for value in stale:
            self._release(value)
        return item.value

    def wants_frame(self) -> bool:
        """Whether no frame is waiting: one submitted now is the next to be processed, not dropped."""
        with self._cond:
            return not self._pending

    def poke(self) -> None:
        """Wake the worker to run ``prepare`` (new settings) even when no frame comes."""
        with self._cond:
            self._poked = True
            self._cond.notify()

    def flush(self) -> None:
        """Release every frame not yet being processed, and the one in progress once it is done
        (the filter went to pass-through: none of them may be shown later)."""
        with self._cond:
            values = [i.value for i in self._pending] + [i.value for i in self._done]
            self.stats.dropped += len(values)
            self._pending.clear()
            self._done.clear()
            self._discard_busy = self._busy is not None
        for value in values:
            self._release(value)

    @property
    def held(self) -> int:
        """Items the worker holds: waiting, in progress and finished."""
        with self._cond:
            return len(self._pending) + len(self._done) + (self._busy is not None)

    def close(self, wait: bool = True) -> bool:
        """Stop the thread and release everything; False if an inference did not finish in time.

        With ``wait`` the thread waits here for the frame in progress (never released while in
        use; the wait releases the GIL, so OBS threads that need it keep running). Without it
        (needs ``abandon``) the frame in progress is abandoned and this returns at once.
        """
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if not wait and self._abandon is not None:
            _FINISHING.add(self._thread)
            with self._cond:
                values = [i.value for i in self._pending] + [i.value for i in self._done]
                self._pending.clear()
                self._done.clear()
                busy = self._busy
            for value in values:
                self._release(value)
            if busy is not None:
                self._abandon(busy.value)  # the thread releases it when its process returns
            return True
        self._thread.join(STOP_TIMEOUT_S)
        finished = not self._thread.is_alive()
        with self._cond:
            values = [i.value for i in self._pending] + [i.value for i in self._done]
            self._pending.clear()
            self._done.clear()
            busy = self._busy
            if busy is not None and finished:
                values.append(busy.value)
                self._busy = None
        if not finished:
            log.error(
                "The face swap worker did not stop within %.0f s; its frame in progress is kept.",
                STOP_TIMEOUT_S,
            )
        for value in values:
            self._release(value)
        return finished

    # ------------------------------------------------------------ worker thread
    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._pending or self._poked or self._closing):
                    self._cond.wait()
                if self._closing:
                    return
                poked, self._poked = self._poked, False
                item = self._pending.popleft() if self._pending else None
                self._busy = item
            if self._prepare is not None and (poked or item is not None):
                self._call(self._prepare)
            if item is None:
                continue
            if not self._call(self._process, item.value):
                self.stats.failed += 1
            with self._cond:
                self._busy = None
                closed = self._closing
                discard, self._discard_busy = self._discard_busy, False
                if discard:
                    self.stats.dropped += 1
                elif not closed:
                    self._done.append(item)  # returned by take(), or released by close()
            if closed or discard:  # not kept: it is this thread's to release
                self._release(item.value)
            if closed:
                return

    def _call(self, fn: Callable[..., None], *args: object) -> bool:
        try:
            fn(*args)
        except Exception as error:  # a worker that dies would freeze the video: log and go on
            self.last_error = f"{type(error).__name__}: {error}"
            log.exception("Face swap worker: %s", self.last_error)
            return False
        return True
