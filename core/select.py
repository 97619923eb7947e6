"""Which detected faces get swapped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import SettingsError
from .recognize import cosine
from .types import Embedding, Face

MODES = ("all", "largest", "index", "similar")


@dataclass(frozen=True)
class FaceSelection:
    """``all``, ``largest``, ``index`` (left to right, 0-based) or ``similar`` to a reference face."""

    mode: str = "all"
    indices: tuple[int, ...] = ()
    threshold: float = 0.6

    @classmethod
    def parse(cls, spec: str) -> FaceSelection:
        """``all`` | ``largest`` | ``index:0,2`` | ``similar:0.6`` (the CLI and plugin syntax)."""
        text = spec.strip().lower()
        mode, _, arg = text.partition(":")
        try:
            if mode in ("all", "largest") and not arg:
                return cls(mode)
            if mode == "index" and arg:
                indices = tuple(int(v) for v in arg.replace(" ", "").split(",") if v != "")
                if indices and min(indices) >= 0:
                    return cls("index", indices=indices)
            if mode == "similar":
                threshold = float(arg) if arg else 0.6
                if -1.0 <= threshold <= 1.0:
                    return cls("similar", threshold=threshold)
        except ValueError:
            pass
        raise SettingsError(
            f"Face selection {spec!r} is not understood: use all, largest, index:0,2 (faces counted "
            "left to right from 0) or similar:0.6 (cosine threshold to the reference face)."
        )

    def __str__(self) -> str:
        if self.mode == "index":
            return "index:" + ",".join(map(str, self.indices))
        if self.mode == "similar":
            return f"similar:{self.threshold:g}"
        return self.mode

    def apply(
        self,
        faces: Sequence[Face],
        reference: Embedding | None = None,
        embed: Callable[[Sequence[Face]], object] | None = None,
    ) -> list[Face]:
        """The faces to swap. ``similar`` needs a reference and ``embed`` to fill face embeddings."""
        if not faces:
            return []
        if self.mode == "all":
            return list(faces)
        if self.mode == "largest":
            return [max(faces, key=lambda f: f.area)]
        if self.mode == "index":
            ordered = sorted(faces, key=lambda f: f.center_x)
            return [ordered[i] for i in self.indices if i < len(ordered)]
        if reference is None:
            raise SettingsError("Face selection 'similar' needs a reference face: set one first.")
        missing = [f for f in faces if f.embedding is None]
        if missing and embed is not None:
            embed(missing)
        return [
            f for f in faces if f.embedding is not None and cosine(f.embedding, reference) >= self.threshold
        ]
