"""The model manifest: every known model file declared as data (``models/manifest.toml``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

MANIFEST_PATH = Path(__file__).resolve().parent.parent / "models" / "manifest.toml"


@dataclass(frozen=True)
class Archive:
    """A download that holds several models (InsightFace packs such as buffalo_l.zip)."""

    name: str
    file: str
    size: int | None
    sha256: str | None
    urls: tuple[str, ...]


@dataclass(frozen=True)
class FileVersion:
    """One exact byte version of a model file and the URLs that serve it."""

    sha256: str
    size: int | None
    urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelEntry:
    """One model file: what it is, the byte versions accepted and where to get them.

    Several redistributed copies of some files circulate (FaceFusion re-exports, fp16
    conversions); ``versions`` lists the ones known to work, the preferred one first.
    """

    name: str
    file: str
    kind: str
    licence: str
    vendor: str
    description: str = ""
    versions: tuple[FileVersion, ...] = ()
    archive: Archive | None = None
    member: str | None = None
    user_supplied: bool = False
    default: bool = False
    aliases: tuple[str, ...] = field(default=())

    def accepts(self, size: int, sha256: str | None = None) -> bool:
        """Whether a file of this size (and hash, when given) is a known version."""
        if not self.versions:
            return True
        return any(
            (v.size is None or v.size == size) and (sha256 is None or v.sha256 == sha256)
            for v in self.versions
        )


@dataclass(frozen=True)
class Manifest:
    models: dict[str, ModelEntry]
    archives: dict[str, Archive]

    def find(self, name: str) -> ModelEntry | None:
        """Look a model up by key, file name or alias (case-insensitive, ``.onnx`` optional)."""
        wanted = name.lower().removesuffix(".onnx")
        for entry in self.models.values():
            names = {entry.name, entry.file.removesuffix(".onnx"), *entry.aliases}
            if wanted in {n.lower() for n in names}:
                return entry
        return None

    def by_file(self, file_name: str) -> ModelEntry | None:
        for entry in self.models.values():
            if entry.file == file_name:
                return entry
        return None

    def defaults(self) -> list[ModelEntry]:
        return [e for e in self.models.values() if e.default]


def _archive(name: str, raw: dict) -> Archive:
    return Archive(
        name=name,
        file=raw["file"],
        size=raw.get("size"),
        sha256=raw.get("sha256"),
        urls=tuple(raw.get("urls", ())),
    )


def parse_manifest(text: str) -> Manifest:
    raw = tomllib.loads(text)
    archives = {name: _archive(name, a) for name, a in raw.get("archives", {}).items()}
    models: dict[str, ModelEntry] = {}
    for name, m in raw.get("models", {}).items():
        archive_name = m.get("archive")
        versions = tuple(
            FileVersion(sha256=v["sha256"].lower(), size=v.get("size"), urls=tuple(v.get("urls", ())))
            for v in m.get("versions", ())
        )
        models[name] = ModelEntry(
            name=name,
            file=m["file"],
            kind=m["kind"],
            licence=m["licence"],
            vendor=m["vendor"],
            description=m.get("description", ""),
            versions=versions,
            archive=archives[archive_name] if archive_name else None,
            member=m.get("member"),
            user_supplied=bool(m.get("user_supplied", False)),
            default=bool(m.get("default", False)),
            aliases=tuple(m.get("aliases", ())),
        )
    return Manifest(models=models, archives=archives)


@cache
def load_manifest(path: Path = MANIFEST_PATH) -> Manifest:
    return parse_manifest(path.read_text(encoding="utf-8"))
