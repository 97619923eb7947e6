"""Face tracks for live video: stable identities, and cheap motion between detections.

Detections are matched to tracks by distance to where each track is predicted to be, so two
faces that cross keep their identities. Between detector runs, each track is moved by the
similarity transform that best explains optical flow (Lucas-Kanade) inside its box. A track
that misses a detection coasts for a short time (100 ms: a one-frame detector miss at 30 fps does
not make the swap flicker off, while at a slow model's 6 fps a face that is gone is not swapped
again) and is remembered a while longer, so a face hidden behind another for a moment comes back
as itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from .smooth import ConstantVelocity, OneEuro, SmoothingSettings, make_filter
from .types import Embedding, Face, Frame

_PREDICT_LIMIT = 0.5
"""Seconds a lost face's motion is extrapolated; beyond that it is looked for where it was."""
_FLOW_WIDTH = 960
"""Optical flow runs on a gray copy at most this wide; enough for face motion, cheap at 1080p."""


@dataclass(frozen=True)
class TrackerSettings:
    coast_seconds: float = 0.1
    """How long a face is still swapped, at its last position, after the detector stops seeing it."""
    memory: int = 30
    """Frames a lost face is remembered, so it keeps its identity when it reappears."""
    gate: float = 0.6
    """A detection farther than this many face sizes from a track's prediction starts a new track."""
    smoothing: SmoothingSettings = field(default_factory=SmoothingSettings)


@dataclass
class Track:
    id: int
    raw: Face
    """The last measured face (detector or flow)."""
    face: Face
    """The smoothed face that gets swapped."""
    filter: OneEuro | ConstantVelocity
    time: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    """Centre speed, pixels per second."""
    missed: int = 0
    hits: int = 1
    embedding: Embedding | None = None
    lagged: Face | None = None
    """The face at ``lagged_time`` (the previous measurement) refined by the latest one."""
    lagged_time: float | None = None

    @property
    def size(self) -> float:
        return _size(self.raw)

    def predicted_centre(self, t: float) -> np.ndarray:
        return _centre(self.raw) + self.velocity * min(t - self.time, _PREDICT_LIMIT)


def _centre(face: Face) -> np.ndarray:
    return np.array([(face.bbox[0] + face.bbox[2]) / 2, (face.bbox[1] + face.bbox[3]) / 2], dtype=np.float64)


def _size(face: Face) -> float:
    return float(max(1.0, np.sqrt(max(face.area, 1.0))))


def transform_face(face: Face, m: np.ndarray) -> Face:
    """``face`` moved by the 2x3 transform ``m``."""
    kps = (np.c_[face.kps, np.ones(5)] @ m.T).astype(np.float32)
    corners = (
        np.array([[face.bbox[0], face.bbox[1], 1], [face.bbox[2], face.bbox[3], 1]], dtype=np.float64) @ m.T
    )
    bbox = np.array([*corners.min(axis=0), *corners.max(axis=0)], dtype=np.float32)
    return Face(bbox=bbox, kps=kps, score=face.score, embedding=face.embedding)


class Tracker:
    def __init__(self, settings: TrackerSettings | None = None) -> None:
        self.settings = settings or TrackerSettings()
        self.tracks: list[Track] = []
        self._ids = itertools.count()
        self._gray: np.ndarray | None = None
        self._gray_scale = 1.0

        self.now = 0.0
        """The time of the latest update or follow."""

    def reset(self) -> None:
        self.tracks = []
        self._gray = None

    def visible(self) -> list[Track]:
        """Tracks seen now or within the coasting time: the faces to swap."""
        coast = self.settings.coast_seconds
        return [t for t in self.tracks if t.missed == 0 or self.now - t.time <= coast]

    def _smooth(self, track: Track, measured: Face, t: float) -> None:
        points = np.vstack([measured.kps, measured.bbox.reshape(2, 2)])
        smoothed = track.filter(points, t, _size(measured))
        track.face = self._face(smoothed, measured.score, track.embedding)
        lagged = track.filter.lagged
        track.lagged = None if lagged is None else self._face(lagged, measured.score, track.embedding)
        track.lagged_time = track.filter.lagged_time

    @staticmethod
    def _face(points: np.ndarray, score: float, embedding: Embedding | None) -> Face:
        return Face(bbox=points[5:].reshape(4), kps=points[:5], score=score, embedding=embedding)

    def _move(self, track: Track, measured: Face, t: float) -> None:
        dt = t - track.time
        if dt > 0:
            speed = (_centre(measured) - _centre(track.raw)) / dt
            track.velocity = 0.5 * track.velocity + 0.5 * speed
        track.raw, track.time = measured, t
        self._smooth(track, measured, t)

    def update(self, detections: list[Face], t: float, frame: Frame | None = None) -> list[Track]:
        """Match a detector's faces to the tracks (nearest to prediction first); start and end tracks."""
        self.now = t
        pairs = []
        for ti, track in enumerate(self.tracks):
            predicted = track.predicted_centre(t)
            for di, face in enumerate(detections):
                distance = float(np.linalg.norm(_centre(face) - predicted)) / max(track.size, _size(face))
                if distance <= self.settings.gate:
                    pairs.append((distance, ti, di))
        used_tracks: set[int] = set()
        used_faces: set[int] = set()
        for _, ti, di in sorted(pairs):
            if ti in used_tracks or di in used_faces:
                continue
            used_tracks.add(ti)
            used_faces.add(di)
            track = self.tracks[ti]
            track.missed, track.hits = 0, track.hits + 1
            self._move(track, detections[di], t)
        for ti, track in enumerate(self.tracks):
            if ti not in used_tracks:
                track.missed += 1
        self.tracks = [tr for tr in self.tracks if tr.missed <= self.settings.memory]
        for di, face in enumerate(detections):
            if di not in used_faces:
                track = Track(next(self._ids), face, face, make_filter(self.settings.smoothing), t)
                self._smooth(track, face, t)
                self.tracks.append(track)
        if frame is not None:
            self._remember(frame)
        return self.tracks

    def _remember(self, frame: Frame) -> np.ndarray:
        previous = self._gray
        self._gray, self._gray_scale = flow_image(frame)
        return previous

    def follow(self, frame: Frame, t: float) -> list[Track]:
        """Move every track by the optical flow from the previous frame (no detector run)."""
        self.now = t
        previous = self._remember(frame)
        if previous is None or previous.shape != self._gray.shape:
            return self.tracks
        scale = self._gray_scale
        for track in self.visible():
            m = flow_transform(previous, self._gray, track.raw, scale)
            if m is None:
                track.missed += 1
                continue
            self._move(track, transform_face(track.raw, m), t)
        self.tracks = [tr for tr in self.tracks if tr.missed <= self.settings.memory]
        return self.tracks


def flow_image(frame: Frame) -> tuple[np.ndarray, float]:
    """The gray copy optical flow runs on, and its scale from the frame."""
    scale = min(1.0, _FLOW_WIDTH / frame.shape[1])
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if scale < 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return gray, scale


def flow_transform(previous: np.ndarray, current: np.ndarray, face: Face, scale: float) -> np.ndarray | None:
    """The similarity transform (2x3, frame pixels) that moved ``face`` between two flow images."""
    x1, y1, x2, y2 = face.bbox * scale
    grid = np.stack(np.meshgrid(np.linspace(0.2, 0.8, 4), np.linspace(0.2, 0.8, 4)), axis=-1).reshape(-1, 2)
    points = np.vstack([face.kps * scale, grid * [x2 - x1, y2 - y1] + [x1, y1]])
    return _points_transform(previous, current, points, scale, 6, 2.0)


def background_transform(
    previous: np.ndarray, current: np.ndarray, faces: Sequence[Face], scale: float
) -> np.ndarray | None:
    """The similarity transform (2x3, frame pixels) that moved the picture outside ``faces``: the
    camera's motion, where the background can be followed (None where too little of it shows)."""
    height, width = previous.shape[:2]
    xs, ys = np.meshgrid(np.linspace(0.04, 0.96, 12) * width, np.linspace(0.06, 0.94, 8) * height)
    points = np.stack([xs.ravel(), ys.ravel()], axis=-1)
    outside = np.ones(len(points), dtype=bool)
    for face in faces:
        x1, y1, x2, y2 = face.bbox * scale
        margin_x, margin_y = 0.25 * (x2 - x1), 0.25 * (y2 - y1)  # hair and neck move with the head
        outside &= ~(
            (points[:, 0] > x1 - margin_x)
            & (points[:, 0] < x2 + margin_x)
            & (points[:, 1] > y1 - margin_y)
            & (points[:, 1] < y2 + 2 * margin_y)
        )
    return _points_transform(previous, current, points[outside], scale, 12, 1.0)


def _points_transform(
    previous: np.ndarray, current: np.ndarray, points: np.ndarray, scale: float, least: int, threshold: float
) -> np.ndarray | None:
    """The similarity that best explains how ``points`` (flow-image pixels) moved, in frame pixels;
    None when fewer than ``least`` points are followed and agree within ``threshold`` pixels."""
    if len(points) < least:
        return None
    points = points.astype(np.float32)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(
        previous, current, points[:, None], None, winSize=(21, 21), maxLevel=3
    )
    ok = status.ravel() == 1
    if ok.sum() < least:
        return None
    m, inliers = cv2.estimateAffinePartial2D(
        points[ok], moved[ok, 0], method=cv2.RANSAC, ransacReprojThreshold=threshold
    )
    if m is None or inliers is None or inliers.sum() < least:
        return None
    m[:, 2] /= scale  # back to full-resolution pixels: same rotation and scale, scaled shift
    return m
