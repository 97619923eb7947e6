"""Which detected faces get swapped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .attributes import GENDERS
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
    gender: str = ""
    """``female`` or ``male``: only those faces (genderage.onnx); empty keeps every face."""
    age: tuple[int, int] | None = None
    """Only faces whose estimated age is in this range (inclusive)."""

    @property
    def needs_attributes(self) -> bool:
        return bool(self.gender) or self.age is not None

    @classmethod
    def parse(cls, spec: str) -> FaceSelection:
        """``all`` | ``largest`` | ``index:0,2`` | ``similar:0.6`` (the CLI and plugin syntax), with
        ``gender:female`` and ``age:20-40`` alone or joined to one of them by ``+``."""
        parts = [p.strip() for p in spec.replace(" ", "").lower().split("+") if p.strip()]
        filters = [p for p in parts if p.partition(":")[0] in ("gender", "age")]
        modes = [p for p in parts if p not in filters]
        if filters and len(modes) <= 1:
            selection = cls._parse_mode(modes[0] if modes else "all")
            return replace(selection, **cls._parse_filters(spec, filters))
        return cls._parse_mode(spec)

    @staticmethod
    def _parse_filters(spec: str, filters: list[str]) -> dict[str, object]:
        found: dict[str, object] = {}
        for part in filters:
            key, _, arg = part.partition(":")
            if key in found:
                break
            if key == "gender" and arg in GENDERS:
                found["gender"] = arg
                continue
            low, dash, high = arg.partition("-")
            if key == "age" and dash and low.isdigit() and high.isdigit() and int(low) <= int(high):
                found["age"] = (int(low), int(high))
                continue
            break
        else:
            return found
        raise SettingsError(
            f"Face selection {spec!r} is not understood: filter by gender:female or gender:male and by "
            "age:20-40 (years, inclusive), joined by + to one of all, largest, index:0,2, similar:0.6."
        )

    @classmethod
    def _parse_mode(cls, spec: str) -> FaceSelection:
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
            text = "index:" + ",".join(map(str, self.indices))
        elif self.mode == "similar":
            text = f"similar:{self.threshold:g}"
        else:
            text = self.mode
        if self.gender:
            text += f"+gender:{self.gender}"
        if self.age is not None:
            text += f"+age:{self.age[0]}-{self.age[1]}"
        return text

    def keeps(self, face: Face) -> bool:
        """Whether ``face`` (its gender and age filled) passes the gender and age filters."""
        if self.gender and face.gender != GENDERS[self.gender]:
            return False
        return self.age is None or (face.age is not None and self.age[0] <= face.age <= self.age[1])

    def apply(
        self,
        faces: Sequence[Face],
        reference: Embedding | None = None,
        embed: Callable[[Sequence[Face]], object] | None = None,
        attributes: Callable[[Sequence[Face]], object] | None = None,
    ) -> list[Face]:
        """The faces to swap. ``similar`` needs a reference and ``embed`` to fill face embeddings;
        gender and age filters apply first, with ``attributes`` to fill genders and ages."""
        if self.needs_attributes:
            missing = [f for f in faces if f.gender is None or f.age is None]
            if missing and attributes is not None:
                attributes(missing)
            faces = [f for f in faces if self.keeps(f)]
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
