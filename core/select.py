"""Which detected faces get swapped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import SettingsError
from .recognize import cosine
from .types import Embedding, Face

MODES = ("all", "largest", "index", "similar")
ORDERS = ("left-right", "right-left", "top-bottom", "bottom-top", "large-small", "small-large")
"""How face indices count the faces of an image (the order ReActor users know)."""

_ORDER_KEYS: dict[str, Callable[[Face], float]] = {
    "left-right": lambda f: f.center_x,
    "right-left": lambda f: -f.center_x,
    "top-bottom": lambda f: f.center_y,
    "bottom-top": lambda f: -f.center_y,
    "large-small": lambda f: -f.area,
    "small-large": lambda f: f.area,
}


def order_faces(faces: Sequence[Face], order: str = "left-right") -> list[Face]:
    """The faces in the order face indices count them; ties keep the detector's order."""
    key = _ORDER_KEYS.get(order)
    if key is None:
        raise SettingsError(f"Face order {order!r} is not known: choose one of {', '.join(ORDERS)}.")
    return sorted(faces, key=key)


@dataclass(frozen=True)
class FaceSelection:
    """``all``, ``largest``, ``index`` (0-based, counted in ``order``) or ``similar`` to a reference face."""

    mode: str = "all"
    indices: tuple[int, ...] = ()
    threshold: float = 0.6
    order: str = "left-right"
    """How ``index`` counts faces (one of ``ORDERS``)."""

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
            ordered = order_faces(faces, self.order)
            return [ordered[i] for i in self.indices if i < len(ordered)]
        if reference is None:
            raise SettingsError("Face selection 'similar' needs a reference face: set one first.")
        missing = [f for f in faces if f.embedding is None]
        if missing and embed is not None:
            embed(missing)
        return [
            f for f in faces if f.embedding is not None and cosine(f.embedding, reference) >= self.threshold
        ]
