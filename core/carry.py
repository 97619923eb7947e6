"""Carrying swapped faces onto frames the model did not process.

A swapper slower than the source (6 results a second against 30 frames) would make the video
choppy if every frame waited for it. Instead the latest swapped faces are kept, and each new
frame gets them pasted again at the place optical flow tracks them to: the swap lags by the
model's latency, but motion stays at the source's rate. A scene cut, a face the flow loses, or
faces older than ``max_age`` drop at once, and the frame then passes through unchanged. Where
they are pasted is steadied (``core.steady``): a face moves with the head as flow measures it,
but by the camera's filtered motion rather than its frame-to-frame jerks, and settles onto
each new swap's place over a few frames instead of jumping there.

With ``CarrySettings.lookahead`` the swapped faces are kept only once the model has analysed
its next frame: the landmarks they were swapped with (the causal filter's) are then refined by
that frame's measurement (``core.smooth``'s one-step smoother) and the patches moved there. The
faces shown are one analysed frame older; where they are pasted is steadier and nearer the head.

``Carrier`` is safe across threads: ``publish`` (from whatever thread runs the model) and
``carry`` (from the thread that shows frames) share one immutable snapshot under a lock; the
optical flow and the paste run outside it.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from .align import umeyama
from .detail import detail_weight
from .engine import SwappedCrop, SwapResult
from .paste import crop_coverage, paste_into
from .scene import CutSettings, is_cut, thumbnail
from .smooth import SmoothingSettings
from .steady import CameraPath, Steadier
from .track import flow_image, flow_transform, transform_face
from .types import Face, Frame, Mask
from .warp import compose


@dataclass(frozen=True)
class CarrySettings:
    enabled: bool = True
    """Keep the latest swapped faces so ``LiveSession.carry`` can paste them on later frames."""
    max_age: float = 1.0
    """Seconds after the processed frame beyond which its faces are no longer carried."""
    lookahead: bool = True
    """``LiveSession.process`` keeps its swapped faces for carrying once the next frame is
    analysed, moved to the landmarks that frame refines: one analysed frame older, and on the
    head clip of ``bench --jitter`` about 1.5x steadier and nearer the true path."""
    camera: SmoothingSettings = field(default_factory=lambda: SmoothingSettings(noise=0.002, accel=0.03))
    """The camera path's filter (``core.steady.CameraPath``), in frame widths: a carried face moves
    by the filtered motion of the background instead of its frame-to-frame jerks."""
    camera_limit: float = 0.002
    """Frame widths: the filtered camera path keeps at most this far from the measured one, so a
    real pan or zoom is followed closely while jerks smaller than this are smoothed away."""
    settle: float = 0.1
    """Seconds: the time constant with which a carried face moves onto the place of the latest
    swap (``core.steady.Steadier``; 0: pasted there at once)."""


@dataclass(frozen=True)
class Reference:
    """What carrying needs of a frame before it is swapped: its flow image and thumbnail."""

    gray: np.ndarray
    scale: float
    thumb: np.ndarray

    @classmethod
    def of(cls, frame: Frame) -> Reference:
        gray, scale = flow_image(frame)
        return cls(gray, scale, thumbnail(frame))


@dataclass(frozen=True)
class Pending:
    """A swap kept back until the next frame is analysed (``CarrySettings.lookahead``)."""

    result: SwapResult
    reference: Reference
    time: float
    keys: tuple[object, ...] | None


@dataclass(frozen=True)
class _Kept:
    face: Face
    crop: SwappedCrop
    coverage: np.ndarray
    """The part of the crop that saw the processed frame (see ``paste.crop_coverage``)."""
    weight: Mask | bool | None = True
    """The crop's ``detail.detail_weight``, once a paste computed it (True: not yet)."""
    key: Hashable | None = None
    """The face's track: its steadiness filter carries over from one swap to the next."""


@dataclass(frozen=True)
class _Snapshot:
    kept: tuple[_Kept, ...]
    reference: Reference
    """The frame the faces' positions refer to (the processed one, then the latest carried one)."""
    time: float
    """The processed frame's time: the faces' age is counted from it."""


def _moved(crop: SwappedCrop, m: np.ndarray) -> SwappedCrop:
    """The crop's frame-to-crop matrix after the face moved by ``m`` (frame to frame, 2x3)."""
    return replace(crop, matrix=compose(crop.matrix, cv2.invertAffineTransform(m)))


class Carrier:
    """The latest swapped faces of one live session, and pasting them onto new frames."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        # Used by ``carry`` alone (one thread): where the pasted faces are steadied to.
        defaults = CarrySettings()
        self._camera = CameraPath(defaults.camera, defaults.camera_limit)
        self._steadier = Steadier(defaults.settle)
        self._last: Reference | None = None
        """The frame carried last."""

    def publish(
        self,
        result: SwapResult,
        reference: Reference,
        time: float,
        keys: Sequence[object] | None = None,
        refined: dict[object, Face] | None = None,
    ) -> None:
        """Keep ``result``'s swapped faces (``reference`` is of the frame before the swap).

        ``refined`` (by ``keys``, one per swapped face) gives better landmarks for some faces:
        each of those patches moves by the similarity from its swapped landmarks to them.
        """
        height, width = result.frame.shape[:2]
        kept = []
        for i, (face, crop) in enumerate(zip(result.swapped, result.crops, strict=True)):
            key = keys[i] if keys is not None and len(keys) == len(result.swapped) else None
            better = (refined or {}).get(key) if key is not None else None
            if better is not None:
                m = umeyama(face.kps, better.kps)
                face, crop = transform_face(face, m), _moved(crop, m)
            coverage = crop_coverage(crop.matrix, crop.swapped.shape[0], height, width)
            kept.append(_Kept(face, crop, coverage, key=key))
        with self._lock:
            self._snapshot = _Snapshot(tuple(kept), reference, time)

    def drop(self) -> None:
        with self._lock:
            self._snapshot = None

    @property
    def faces(self) -> int:
        """How many swapped faces are kept now."""
        with self._lock:
            return 0 if self._snapshot is None else len(self._snapshot.kept)

    def carry(
        self,
        frame: Frame,
        time: float,
        cuts: CutSettings,
        settings: CarrySettings,
        blend: float = 1.0,
        detail: float = 0.0,
        in_place: bool = False,
    ) -> SwapResult:
        """``frame`` with the kept faces pasted where they moved to; unchanged when there are none."""
        out = frame if in_place else frame.copy()
        with self._lock:
            snapshot = self._snapshot
        self._configure(settings)
        if snapshot is None or not snapshot.kept:
            return self._nothing_carried(out)
        current = Reference.of(frame)
        stale = time - snapshot.time > settings.max_age or not settings.enabled
        if stale or is_cut(snapshot.reference.thumb, current.thumb, cuts):
            self._replace(snapshot, None)
            return self._nothing_carried(out)
        previous = snapshot.reference
        kept, moves = [], []
        if previous.gray.shape == current.gray.shape:
            for item in snapshot.kept:
                m = flow_transform(previous.gray, current.gray, item.face, current.scale)
                if m is not None:
                    kept.append(replace(item, face=transform_face(item.face, m), crop=_moved(item.crop, m)))
                    moves.append(m)
        if detail > 0.0:  # the detail weight depends on the crop alone: once per swapped face
            kept = [
                replace(k, weight=detail_weight(k.crop.swapped, k.crop.original)) if k.weight is True else k
                for k in kept
            ]
        self._replace(snapshot, _Snapshot(tuple(kept), current, snapshot.time) if kept else None)
        before = self._camera.gray
        self._camera.update(current.gray, current.scale, time, [k.face for k in kept])
        self._steadier.keep([k.key for k in kept])
        # No new swap since the frame before: the flow that moved the faces moved the steadied ones too.
        follows = previous is self._last
        self._last = current
        kept = [
            self._steadied(k, m if follows else None, before, current, snapshot.time, time)
            for k, m in zip(kept, moves, strict=True)
        ]
        regions = []
        for item in kept:
            c = item.crop
            region = paste_into(
                out, c.swapped, c.matrix, blend, detail, c.original, c.mask, item.coverage, item.weight
            )
            if region is not None:
                regions.append(region)
        faces = [k.face for k in kept]
        return SwapResult(out, faces, faces, regions, [k.crop for k in kept])

    def _nothing_carried(self, out: Frame) -> SwapResult:
        """``out`` as it is: no faces to carry, so the steadying starts again with the next ones."""
        self._camera.reset()
        self._steadier.reset()
        return SwapResult(out, [], [], [])

    def _configure(self, settings: CarrySettings) -> None:
        if (self._camera.settings, self._camera.limit) != (settings.camera, settings.camera_limit):
            self._camera = CameraPath(settings.camera, settings.camera_limit)
        if self._steadier.settle != settings.settle:
            self._steadier = Steadier(settings.settle)

    def _steadied(
        self,
        item: _Kept,
        move: np.ndarray | None,
        before: np.ndarray | None,
        current: Reference,
        since: float,
        time: float,
    ) -> _Kept:
        """``item`` moved to its steadied place: the camera's filtered motion since the swap, and
        the face's steadied landmarks from the frame ``before`` moved along (by ``move``, the
        face's flow from there, where known) and drawn toward it."""
        measured = transform_face(item.face, self._camera.correction(since, time))
        step = None
        last = self._steadier.previous(item.key)
        if last is not None and before is not None and before.shape == current.gray.shape:
            if move is None:
                move = flow_transform(before, current.gray, last[0], current.scale)
            if move is not None:
                step = compose(self._camera.correction(last[1], time), move)
        steady = self._steadier.update(item.key, measured, step, time)
        m = umeyama(item.face.kps, steady.kps)
        return replace(item, face=transform_face(item.face, m), crop=_moved(item.crop, m))

    def _replace(self, old: _Snapshot, new: _Snapshot | None) -> None:
        """Store what a carry made of ``old``, unless a newer result was published meanwhile."""
        with self._lock:
            if self._snapshot is old:
                self._snapshot = new
