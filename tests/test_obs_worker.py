"""The inference worker: bounded queue, drops the oldest, releases every frame exactly once."""

from __future__ import annotations

import threading
import time

import pytest

from inswapper_live.obs_plugin.worker import FrameWorker


class Ledger:
    """Frames as small dicts; records what was processed and released, and by which thread."""

    def __init__(self, delay: float = 0.0, gate: threading.Event | None = None) -> None:
        self.delay = delay
        self.gate = gate
        self.processed: list[int] = []
        self.released: list[int] = []
        self.threads: set[str] = set()
        self.lock = threading.Lock()
        self.started = threading.Event()

    def process(self, frame: dict) -> None:
        self.started.set()
        if self.gate is not None:
            self.gate.wait(5)
        time.sleep(self.delay)
        frame["done"] = True
        with self.lock:
            self.processed.append(frame["n"])
            self.threads.add(threading.current_thread().name)

    def release(self, frame: dict) -> None:
        with self.lock:
            assert frame["n"] not in self.released, f"frame {frame['n']} released twice"
            self.released.append(frame["n"])


def _wait(predicate, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.002)


def _busy(first: int = 1, **options) -> tuple[threading.Event, Ledger, FrameWorker]:
    """A worker whose frame ``first`` is in inference, held there until the returned gate opens."""
    gate = threading.Event()
    ledger = Ledger(gate=gate)
    worker = FrameWorker(ledger.process, ledger.release, **options)
    worker.submit({"n": first})
    if not ledger.started.wait(5):
        gate.set()
        worker.close()
        raise AssertionError("the worker never started on its first frame")
    return gate, ledger, worker


def test_frames_come_back_processed_in_another_thread() -> None:
    ledger = Ledger()
    worker = FrameWorker(ledger.process, ledger.release)
    try:
        worker.submit({"n": 1})
        _wait(lambda: worker.held == 1 and ledger.processed == [1])
        frame = worker.take()
        assert frame == {"n": 1, "done": True}
        assert worker.take() is None
        assert ledger.threads == {"face-swap-worker"}
        assert worker.stats.processed == 1 and worker.stats.dropped == 0
    finally:
        assert worker.close()
    assert ledger.released == []  # the taken frame belongs to the caller


def test_slow_worker_drops_the_oldest_and_never_queues_without_bound() -> None:
    gate, ledger, worker = _busy(0, max_pending=1)  # frame 0 is in progress, blocked on the gate
    try:
        assert worker.wants_frame()  # nothing waits behind it
        worker.submit({"n": 1})
        assert not worker.wants_frame()
        for n in range(2, 50):
            worker.submit({"n": n})
            assert worker.held <= 2  # one in progress + one waiting, whatever the source does
        assert ledger.released == list(range(1, 49))  # oldest dropped first, as they came
        gate.set()
        _wait(lambda: ledger.processed == [0, 49])
        _wait(lambda: worker.held == 2 and len(ledger.processed) == 2)
        latest = worker.take()
        assert latest is not None and latest["n"] == 49  # frame 0 was superseded: dropped
        assert 0 in ledger.released
        assert worker.stats.dropped == 49 and worker.stats.processed == 1
        assert worker.stats.latencies_frames[-1] == 0
    finally:
        worker.close()
    assert sorted(ledger.released) == list(range(49))


def test_close_releases_every_held_frame_and_waits_for_the_one_in_progress() -> None:
    gate, ledger, worker = _busy(max_pending=2)
    worker.submit({"n": 2})
    worker.submit({"n": 3})
    closer = threading.Thread(target=worker.close)
    closer.start()
    time.sleep(0.05)
    assert closer.is_alive(), "close() must wait for the inference in progress"
    assert 1 not in ledger.released, "a frame in use was released"
    gate.set()
    closer.join(5)
    assert not closer.is_alive()
    assert sorted(ledger.released) == [1, 2, 3]
    assert ledger.processed == [1]  # the waiting frames were not processed after close
    worker.submit({"n": 4})  # after close a frame is handed straight back
    assert ledger.released[-1] == 4


def test_flush_releases_waiting_and_finished_frames() -> None:
    ledger = Ledger()
    worker = FrameWorker(ledger.process, ledger.release, max_pending=1)
    try:
        worker.submit({"n": 1})
        _wait(lambda: worker.held == 1 and ledger.processed == [1])
        worker.flush()
        assert ledger.released == [1] and worker.held == 0 and worker.take() is None
    finally:
        worker.close()


def test_flush_discards_the_frame_in_progress_when_it_is_done() -> None:
    """A filter switched off while a frame is in inference: that frame is released when the
    inference ends and never comes back from take(); the next frame is kept as usual."""
    gate, ledger, worker = _busy(max_pending=1)
    try:
        worker.submit({"n": 2})  # waiting behind it
        worker.flush()
        assert ledger.released == [2] and worker.held == 1  # 1 is still in use
        gate.set()
        _wait(lambda: ledger.released == [2, 1] and worker.held == 0)
        assert worker.take() is None and ledger.processed == [1]
        worker.submit({"n": 3})
        _wait(lambda: worker.held == 1 and ledger.processed == [1, 3])
        taken = worker.take()
        assert taken is not None and taken["n"] == 3
    finally:
        worker.close()


def test_prepare_runs_in_the_worker_when_poked_and_before_frames() -> None:
    calls: list[str] = []
    ledger = Ledger()

    def prepare() -> None:
        calls.append(threading.current_thread().name)

    worker = FrameWorker(ledger.process, ledger.release, prepare=prepare)
    try:
        _wait(lambda: len(calls) == 1)  # runs once at start
        worker.poke()
        _wait(lambda: len(calls) == 2)
        worker.submit({"n": 1})
        _wait(lambda: len(calls) == 3 and ledger.processed == [1])
        assert set(calls) == {"face-swap-worker"}
    finally:
        worker.close()


def test_errors_are_counted_logged_and_the_frame_still_comes_back() -> None:
    released: list[dict] = []

    def process(frame: dict) -> None:
        raise RuntimeError("model exploded")

    worker = FrameWorker(process, released.append)
    try:
        worker.submit({"n": 1})
        _wait(lambda: worker.held == 1 and worker.stats.failed == 1)
        assert worker.take() == {"n": 1}
        assert worker.last_error == "RuntimeError: model exploded"
    finally:
        worker.close()


def test_hung_inference_keeps_its_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    from inswapper_live.obs_plugin import worker as worker_module

    monkeypatch.setattr(worker_module, "STOP_TIMEOUT_S", 0.05)
    gate, ledger, worker = _busy()
    assert worker.close() is False
    assert ledger.released == []  # never release memory a running inference still writes
    gate.set()


def test_latency_in_frames_counts_frames_submitted_meanwhile() -> None:
    gate, ledger, worker = _busy(max_pending=1)
    try:
        worker.submit({"n": 2})
        gate.set()
        _wait(lambda: ledger.processed == [1, 2])
        _wait(lambda: worker.held == 2)
        assert worker.take()["n"] == 2
        assert list(worker.stats.latencies_frames) == [0]
        worker.submit({"n": 3})
        worker.submit({"n": 4})
        _wait(lambda: ledger.processed[-1] == 4 and worker.held == 1)
        assert worker.take()["n"] == 4
        assert worker.stats.fps > 0
    finally:
        worker.close()


def test_processed_fps_looks_at_the_last_seconds_only() -> None:
    from inswapper_live.obs_plugin.worker import WorkerStats

    stats = WorkerStats()
    for t in [0.0, 0.1, 0.2, 10.0, 10.5, 11.0]:  # fast at first, then 2 frames per second
        stats.record(1, 0.05, t)
    assert stats.fps == pytest.approx(2.0)
    assert WorkerStats().fps == 0.0


def test_close_without_waiting_abandons_the_frame_in_progress() -> None:
    """A removal never waits for the model: the frame being processed is abandoned (handed
    back early), the others released, and the thread releases its frame when process returns."""
    abandoned: list[int] = []
    gate, ledger, worker = _busy(abandon=lambda f: abandoned.append(f["n"]))
    worker.submit({"n": 2})  # waiting behind the busy one
    assert worker.close(wait=False)
    assert abandoned == [1] and ledger.released == [2], "close waited or lost a frame"
    assert worker._thread.is_alive(), "close waited for the frame in progress"
    gate.set()
    worker._thread.join(5)
    assert not worker._thread.is_alive()
    assert ledger.processed == [1] and sorted(ledger.released) == [1, 2]
    assert worker.held == 0
