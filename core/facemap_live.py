"""A FaceMap over a live stream: each mapping stays on its person.

An index mapping takes the face at its position once, when it first finds one, and learns
that person's identity. From then on the mapping follows the track (so faces that cross keep
their sources), and when the person leaves and comes back it is given back by identity, never
by position. A reference mapping always finds its person by identity.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from .facemap import FaceMap, MapEntry
from .recognize import cosine
from .select import order_faces
from .source import SourceFace
from .track import Track
from .types import Embedding

log = logging.getLogger(__name__)


class TrackMapper:
    """Which track each entry of a FaceMap is on; one per live session."""

    def __init__(self) -> None:
        self._facemap: FaceMap | None = None
        self._owner: dict[int, int] = {}
        """Entry position -> the id of the track it is on."""
        self._identity: dict[int, Embedding] = {}
        """Entry position -> the identity it follows (learned for index entries)."""
        self._warned: set[int] = set()

    def reset(self) -> None:
        """Forget which track each entry is on; learned identities stay (the people are the same)."""
        self._owner.clear()

    def assign(
        self,
        facemap: FaceMap,
        tracks: Sequence[Track],
        alive: set[int],
        order: str,
        embed: Callable[[list[Track]], None],
    ) -> tuple[list[Track], list[SourceFace]]:
        """The tracks to swap among ``tracks`` (visible and chosen) and the source of each.

        ``alive`` holds the ids of every track the tracker still remembers; ``embed`` fills the
        embeddings of tracks just measured by the detector, so identities can be compared.
        """
        if facemap is not self._facemap:
            self._facemap = facemap
            self._owner.clear()
            self._warned.clear()
            self._identity = {
                n: e.reference for n, e in enumerate(facemap.entries) if e.reference is not None
            }
        self._owner = {n: tid for n, tid in self._owner.items() if tid in alive}
        by_id = {t.id: t for t in tracks}
        owned = set(self._owner.values())
        if facemap.needs_identity or len(self._identity) < len(facemap.entries):
            embed([t for t in tracks if t.embedding is None and t.missed == 0])
        for n, tid in self._owner.items():  # learn who an index entry is on, once it can be seen
            track = by_id.get(tid)
            if n not in self._identity and track is not None and track.embedding is not None:
                self._identity[n] = track.embedding
        for n in range(len(facemap.entries)):
            if n in self._owner or n not in self._identity:
                continue
            track = self._best_match(self._identity[n], [t for t in tracks if t.id not in owned], facemap)
            if track is not None:
                self._own(n, track, owned)
        ordered = order_faces([t.face for t in tracks], order)
        position = {id(face): i for i, face in enumerate(ordered)}
        by_position = sorted(tracks, key=lambda t: position[id(t.face)])
        for n, entry in enumerate(facemap.entries):
            if n in self._owner or n in self._identity or entry.index is None:
                continue
            if entry.index >= len(by_position):
                self._warn(n, entry, len(by_position))
                continue
            track = by_position[entry.index]
            if track.id not in owned and not self._belongs_elsewhere(track, n, facemap):
                self._own(n, track, owned)
        sources = {tid: facemap.entries[n].source for n, tid in self._owner.items()}
        chosen = [t for t in by_position if t.id in sources or facemap.default is not None]
        return chosen, [sources.get(t.id, facemap.default) for t in chosen]  # type: ignore[misc]

    def unplaced(self, shown: Sequence[Track]) -> tuple[str, ...]:
        """The labels of the entries on none of the ``shown`` tracks (their person is not in view)."""
        if self._facemap is None:
            return ()
        ids = {t.id for t in shown}
        return tuple(e.label for n, e in enumerate(self._facemap.entries) if self._owner.get(n) not in ids)

    def _own(self, n: int, track: Track, owned: set[int]) -> None:
        self._owner[n] = track.id
        owned.add(track.id)
        self._warned.discard(n)
        if n not in self._identity and track.embedding is not None:
            self._identity[n] = track.embedding

    def _belongs_elsewhere(self, track: Track, n: int, facemap: FaceMap) -> bool:
        """Whether ``track`` is the person another entry follows (who must not be taken by position)."""
        if track.embedding is None:
            return False
        return any(
            m != n and cosine(track.embedding, identity) >= facemap.threshold
            for m, identity in self._identity.items()
        )

    @staticmethod
    def _best_match(identity: Embedding, tracks: Sequence[Track], facemap: FaceMap) -> Track | None:
        scored = [(cosine(t.embedding, identity), t.id, t) for t in tracks if t.embedding is not None]
        if not scored:
            return None
        score, _, track = max(scored, key=lambda s: (s[0], -s[1]))
        return track if score >= facemap.threshold else None

    def _warn(self, n: int, entry: MapEntry, count: int) -> None:
        if n not in self._warned:
            self._warned.add(n)
            log.warning(
                "Face mapping %s: only %d face(s) in view, so face %d is not there yet; it is mapped as soon "
                "as it appears.",
                entry.label,
                count,
                entry.index,
            )
