"""Smooth motion for async sources: every frame shows the latest swapped faces, at the source's rate.

With a model slower than the source (6 processed fps against 30 rendered), showing only the
processed frames looks choppy. Here every frame OBS hands the filter goes to a light second
thread (the carrier): it converts the frame, offers a copy to the inference worker when that is
idle, and pastes the latest swapped faces onto the frame at the positions optical flow tracks
them to (``LiveSession.carry``: a flow and a paste, milliseconds), then gives the frame back
to OBS. The inference worker's results are never shown themselves (they would be older than
the carried frames already shown); they only replace the faces the carrier pastes. A slow
model costs latency of the faces, not frame rate; after a scene cut, or once the faces are
lost, frames pass through unchanged until the model has swapped a new one.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..core.types import Frame
from .formats import to_bgr, write_back
from .worker import FrameWorker

if TYPE_CHECKING:
    from .filter import HeldFrame
    from .model import SwapModel


class Snapshot:
    """A copy of a frame for the inference worker: its result only feeds the carrier."""

    __slots__ = ("frame", "time")

    def __init__(self, frame: Frame, time: float) -> None:
        self.frame, self.time = frame, time

    def swap(self, model: SwapModel) -> None:
        model.process(self.frame, self.time)  # publishes the swapped faces for carrying

    def release(self) -> None:
        """A copy: nothing to hand back."""

    abandon = release


class Carrier:
    """The carrier thread of one filter: frames in, frames with the latest faces out, in order."""

    def __init__(self, model: SwapModel, inference: FrameWorker, name: str) -> None:
        self.model = model
        self.inference = inference
        self.worker: FrameWorker[HeldFrame] = FrameWorker(
            self._carry, _release, abandon=_abandon, name=f"{name} (smooth motion)"
        )

    def _carry(self, item: HeldFrame) -> None:
        if not self.model.ready:
            return
        with item.open() as view:
            if view is None:
                return
            before = to_bgr(view)
        now = time.monotonic()
        done = self.inference.take()  # counted as processed; only its published faces matter
        if done is not None:
            done.release()  # a Snapshot, or a frame held before smooth motion was switched on
        if self.inference.held == 0:  # idle: this frame is the next one the model sees
            self.inference.submit(Snapshot(before.copy(), now))
        after, boxes = self.model.carried(before, now)
        with item.open() as view:
            if view is not None:
                write_back(view, before, after, boxes)


def _release(item: HeldFrame) -> None:
    item.release()


def _abandon(item: HeldFrame) -> None:
    item.abandon()
