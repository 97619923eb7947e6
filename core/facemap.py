"""Per-face sources: which target face gets which source identity.

A ``FaceMap`` holds entries (a target, given by its index in the face order or by a reference
identity, and the source it gets) and an optional default source for the faces no entry takes.
One source for every face is the simple case: ``FaceMap.single(source)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .errors import SettingsError
from .recognize import cosine
from .select import order_faces
from .source import SourceFace
from .swap import Swapper
from .types import Embedding, Face, Frame


@dataclass(frozen=True)
class MapEntry:
    """One target and its source; ``name`` is how the user wrote it (``--map 0=anna.jpg``), for messages."""

    source: SourceFace
    index: int | None = None
    """The target's position in the face order (0-based)."""
    reference: Embedding | None = None
    """Or the target's identity: faces similar to it get ``source``."""
    name: str = ""

    def __post_init__(self) -> None:
        if (self.index is None) == (self.reference is None):
            raise SettingsError(
                f"Face mapping {self.label}: give its target as an index or a reference face."
            )
        if self.index is not None and self.index < 0:
            raise SettingsError(
                f"Face mapping {self.label}: index {self.index} is negative; faces are counted from 0."
            )

    @property
    def label(self) -> str:
        return self.name or (f"{self.index}" if self.index is not None else "by reference")


@dataclass(frozen=True)
class Assignment:
    """The faces that get a source, in face order, and the entries that found no face."""

    faces: list[Face]
    sources: list[SourceFace]
    entries: list[MapEntry | None]
    """The entry each face got its source from; None for the default source."""
    unmatched: list[MapEntry]
    """Index entries beyond the faces present, and reference entries no face matched."""
    conflicts: list[tuple[MapEntry, MapEntry]] = field(default_factory=list)
    """(index entry, reference entry) pairs that both take one face; the index entry has it."""


@dataclass(frozen=True)
class FaceMap:
    entries: tuple[MapEntry, ...] = ()
    default: SourceFace | None = None
    """The source of every face no entry takes; None leaves those faces alone."""
    threshold: float = 0.6
    """Cosine similarity a face needs to a reference entry's identity to be its target."""

    @classmethod
    def single(cls, source: SourceFace) -> FaceMap:
        return cls((), source)

    def validate(self) -> FaceMap:
        """Refuse a map whose entries would take the same face twice."""
        if not self.entries and self.default is None:
            raise SettingsError("The face map is empty: map at least one face to a source or give a default.")
        if not -1.0 <= self.threshold <= 1.0:
            raise SettingsError(f"Face map threshold {self.threshold} must be between -1 and 1.")
        seen: dict[int, MapEntry] = {}
        references: list[MapEntry] = []
        for entry in self.entries:
            if entry.index is not None:
                if entry.index in seen:
                    raise SettingsError(
                        f"Face {entry.index} is mapped twice ({seen[entry.index].label} and {entry.label}): "
                        "give each face one source."
                    )
                seen[entry.index] = entry
                continue
            assert entry.reference is not None
            for other in references:
                if cosine(entry.reference, other.reference) >= self.threshold:  # type: ignore[arg-type]
                    raise SettingsError(
                        f"Face mappings {other.label} and {entry.label} have the same person as their "
                        "reference: the same face would be mapped twice. Keep one of them."
                    )
            references.append(entry)
        return self

    @property
    def needs_identity(self) -> bool:
        """Whether assigning faces needs their embeddings (a reference entry)."""
        return any(e.reference is not None for e in self.entries)

    def sources(self) -> list[SourceFace]:
        """Every distinct source of the map, default included."""
        found: dict[int, SourceFace] = {}
        for source in [*(e.source for e in self.entries), self.default]:
            if source is not None:
                found.setdefault(id(source), source)
        return list(found.values())

    def assign(
        self,
        faces: Sequence[Face],
        order: str = "left-right",
        embed: Callable[[Sequence[Face]], object] | None = None,
    ) -> Assignment:
        """The source of each face: index entries count ``faces`` in ``order``; reference entries
        take the faces similar to their identity (``embed`` fills missing embeddings); the default
        takes the rest. An index entry wins over a reference entry for the same face."""
        ordered = order_faces(faces, order)
        chosen: dict[int, MapEntry | None] = {}
        unmatched: list[MapEntry] = []
        for entry in self.entries:
            if entry.index is None:
                continue
            if entry.index < len(ordered):
                chosen[entry.index] = entry
            else:
                unmatched.append(entry)
        by_reference = [e for e in self.entries if e.reference is not None]
        conflicts: list[tuple[MapEntry, MapEntry]] = []
        if by_reference:
            missing = [f for f in ordered if f.embedding is None]
            if missing and embed is not None:
                embed(missing)
            matched: set[int] = set()
            for i, face in enumerate(ordered):
                if face.embedding is None:
                    continue
                scores = [(cosine(face.embedding, e.reference), n) for n, e in enumerate(by_reference)]  # type: ignore[arg-type]
                score, best = max(scores)
                if score < self.threshold:
                    continue
                taken = chosen.get(i)
                if taken is not None:
                    conflicts.append((taken, by_reference[best]))
                    continue
                chosen[i] = by_reference[best]
                matched.add(best)
            unmatched += [e for n, e in enumerate(by_reference) if n not in matched]
        if self.default is not None:
            for i in range(len(ordered)):
                chosen.setdefault(i, None)
        keep = sorted(chosen)
        entries = [chosen[i] for i in keep]
        sources = [e.source if e is not None else self.default for e in entries]
        return Assignment([ordered[i] for i in keep], sources, entries, unmatched, conflicts)  # type: ignore[arg-type]


def swap_by_source(swapper: Swapper, crops: Sequence[Frame], sources: Sequence[SourceFace]) -> list[Frame]:
    """Swap each aligned crop with its own source; crops that share a source go in one batch."""
    groups: dict[int, tuple[SourceFace, list[int]]] = {}
    for i, source in enumerate(sources):
        groups.setdefault(id(source), (source, []))[1].append(i)
    swapped: list[Frame] = list(crops)
    for source, where in groups.values():
        results = swapper.swap_crops([crops[i] for i in where], swapper.latent(source.embedding))
        for i, result in zip(where, results, strict=True):
            swapped[i] = result
    return swapped
