"""Build a FaceMap from what users type: ``INDEX=SOURCE`` or ``REF.jpg=SOURCE`` (the CLI's ``--map``).

SOURCE is an image (its largest face) or a saved face model. Every error names the mapping as
the user wrote it, so the CLI, the OBS status line and the ComfyUI popup all point at it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .engine import Engine
from .errors import InputError, SettingsError
from .facemap import FaceMap, MapEntry
from .imageio import read_image
from .source import SourceFace
from .types import Embedding

FACE_MODEL_SUFFIXES = (".safetensors", ".npz")


def split_mapping(spec: str) -> tuple[int | Path, Path]:
    """``"1=b.jpg"`` -> (1, b.jpg); ``"ref.jpg=b.jpg"`` -> (ref.jpg, b.jpg)."""
    match = re.fullmatch(r"\s*(\d+)\s*=(.+)", spec)
    if match:
        return int(match.group(1)), Path(match.group(2).strip())
    # A reference path may itself hold "=": split where the left side names a file, else at the first.
    cuts = [i for i, c in enumerate(spec) if c == "="]
    for cut in cuts:
        if Path(spec[:cut]).is_file():
            return Path(spec[:cut]), Path(spec[cut + 1 :])
    if not cuts or not spec[: cuts[0]].strip() or not spec[cuts[0] + 1 :].strip():
        raise SettingsError(
            f"Face mapping {spec!r} is not understood: write INDEX=SOURCE (0=anna.jpg) or "
            "REFERENCE=SOURCE (bob_photo.jpg=anna.safetensors)."
        )
    return Path(spec[: cuts[0]]), Path(spec[cuts[0] + 1 :])


def load_source(engine: Engine, path: Path, setting: str) -> SourceFace:
    """A face model file, or the largest face of an image; errors name ``setting``."""
    if not path.is_file():
        raise InputError(f"{setting}: source {path} does not exist.")
    try:
        if path.suffix.lower() in FACE_MODEL_SUFFIXES:
            return SourceFace.load(path)
        return engine.analyse_source([read_image(path).bgr], [str(path)])
    except InputError as error:
        raise InputError(f"{setting}: {error}") from error


def reference_identity(engine: Engine, path: Path, setting: str) -> Embedding:
    """The identity of the largest face of a reference photo; errors name ``setting``."""
    if not path.is_file():
        raise InputError(f"{setting}: reference photo {path} does not exist.")
    try:
        return engine.largest_face(read_image(path).bgr, f"reference photo {path}").embedding  # type: ignore[return-value]
    except InputError as error:
        raise InputError(f"{setting}: {error}") from error


def build_facemap(
    engine: Engine,
    specs: Sequence[str],
    default: SourceFace | None = None,
    setting: str = "--map",
) -> FaceMap:
    """The FaceMap of ``specs``; ``default`` swaps the faces no mapping takes."""
    loaded: dict[Path, SourceFace] = {}
    entries = []
    for spec in specs:
        target, source_path = split_mapping(spec)
        name = f"{setting} {spec}"
        key = source_path.resolve()
        if key not in loaded:
            loaded[key] = load_source(engine, source_path, name)
        if isinstance(target, int):
            entries.append(MapEntry(loaded[key], index=target, name=name))
            continue
        entries.append(MapEntry(loaded[key], reference=reference_identity(engine, target, name), name=name))
    return FaceMap(tuple(entries), default).validate()


def _indices(text: str, setting: str) -> list[int]:
    parts = [p for p in text.replace(" ", "").split(",") if p != ""]
    if not parts or not all(p.isdigit() for p in parts):
        raise SettingsError(
            f"{setting} {text!r} is not understood: write face numbers such as 0 or 0,1 (from 0)."
        )
    return [int(p) for p in parts]


def indexed_facemap(
    sources: Sequence[SourceFace],
    source_indices: str,
    target_indices: str,
    source_setting: str = "source_faces_index",
    target_setting: str = "input_faces_index",
) -> FaceMap:
    """ReActor's pairs: target face ``target_indices[i]`` gets ``sources[source_indices[i]]``; one
    source index serves every target. Faces not named are left alone."""
    chosen = _indices(source_indices, source_setting)
    targets = _indices(target_indices, target_setting)
    if len(chosen) == 1:
        chosen *= len(targets)
    if len(chosen) != len(targets):
        raise SettingsError(
            f"{source_setting} {source_indices!r} names {len(chosen)} sources but {target_setting} "
            f"{target_indices!r} names {len(targets)} faces: give one source for all, or one per face."
        )
    entries = []
    for s, t in zip(chosen, targets, strict=True):
        if s >= len(sources):
            raise SettingsError(
                f"{source_setting} {source_indices!r}: source {s} does not exist; there are {len(sources)} "
                f"source faces, numbered 0 to {len(sources) - 1}."
            )
        entries.append(MapEntry(sources[s], index=t, name=f"{target_setting} {t} (source {s})"))
    return FaceMap(tuple(entries)).validate()


@dataclass(frozen=True)
class SourceSlot:
    """One source slot of a plugin: its photos (averaged) or a face model, and its target face."""

    name: str
    """How the plugin names the slot in messages (``Slot 2``)."""
    target: str
    """A face index (``0``) or the path of a reference photo of the person."""
    images: tuple[str, ...] = ()
    face_model: str = ""


def slot_facemap(engine: Engine, slots: Sequence[SourceSlot], default: SourceFace | None = None) -> FaceMap:
    """The FaceMap of a plugin's source slots; ``default`` swaps the faces no slot takes."""
    entries = []
    for slot in slots:
        if slot.face_model:
            source = load_source(engine, Path(slot.face_model), f"{slot.name} face model")
        elif slot.images:
            missing = [p for p in slot.images if not Path(p).is_file()]
            if missing:
                raise InputError(f"{slot.name}: photo {missing[0]} does not exist.")
            try:
                images = [read_image(p).bgr for p in slot.images]
                source = engine.analyse_source(images, [f"{slot.name} photo {p}" for p in slot.images])
            except InputError as error:
                raise InputError(f"{slot.name}: {error}") from error
        else:
            raise SettingsError(f"{slot.name} has no source: choose its photos or a saved face model.")
        target = slot.target.strip()
        if target.isdigit():
            entries.append(MapEntry(source, index=int(target), name=slot.name))
            continue
        if not target:
            raise SettingsError(
                f"{slot.name} has no target: give a face index (0 is the first) or a reference photo."
            )
        entries.append(
            MapEntry(source, reference=reference_identity(engine, Path(target), slot.name), name=slot.name)
        )
    return FaceMap(tuple(entries), default).validate()
