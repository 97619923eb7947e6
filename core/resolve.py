"""Find a model file from a name or a path, in our folder and in the folders other tools use."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelLoadError, ModelNotFoundError
from .manifest import MANIFEST_PATH, ModelEntry, load_manifest

log = logging.getLogger(__name__)

MODELS_ENV = "INSWAPPER_LIVE_MODELS"
"""Extra model folders, separated by os.pathsep; searched after an explicit models dir."""
COMFYUI_ENV = "COMFYUI_DIR"
INSTALL_HINT = "Run `python install.py` to download it"
_VERIFIED_CACHE = ".verified.json"
PACKAGED_MODELS = Path(__file__).resolve().parent / "data"
"""Small MIT models shipped in the package (YuNet), searched last so a downloaded copy wins."""


@dataclass(frozen=True)
class ResolvedModel:
    path: Path
    entry: ModelEntry | None


def search_dirs(models_dir: Path | str | None = None) -> list[Path]:
    """Folders searched in order: explicit, environment, ours, ComfyUI's, InsightFace's home, packaged."""
    dirs: list[Path] = []
    if models_dir:
        dirs.append(Path(models_dir))
    dirs += [Path(p) for p in os.environ.get(MODELS_ENV, "").split(os.pathsep) if p]
    dirs.append(MANIFEST_PATH.parent)
    comfy = os.environ.get(COMFYUI_ENV)
    if comfy:
        dirs += comfyui_model_dirs(Path(comfy))
    dirs.append(Path.home() / ".insightface" / "models")
    dirs.append(PACKAGED_MODELS)
    unique: list[Path] = []
    for d in dirs:
        d = d.expanduser()
        if d not in unique:
            unique.append(d)
    return unique


def comfyui_model_dirs(comfyui: Path) -> list[Path]:
    """The folders of a ComfyUI checkout where face-swap packs keep their models."""
    base = comfyui / "models"
    return [
        base / "inswapper_live",
        base / "insightface",
        base / "insightface" / "models",
        base / "reswapper",
        base / "hyperswap",
        base / "facerestore_models",
    ]


def find_file(file_name: str, dirs: list[Path]) -> Path | None:
    """``dir/file`` first, then one folder down (``dir/buffalo_l/file``), in folder order."""
    for d in dirs:
        if (d / file_name).is_file():
            return d / file_name
        if d.is_dir():
            for sub in sorted(p for p in d.iterdir() if p.is_dir()):
                if (sub / file_name).is_file():
                    return sub / file_name
    return None


def resolve(
    name_or_path: str | Path, models_dir: Path | str | None = None, verify: bool = True
) -> ResolvedModel:
    """The file for a manifest name or a path; a name's file is checked against its sha256."""
    manifest = load_manifest()
    text = os.fspath(name_or_path)
    candidate = Path(text).expanduser()
    if candidate.is_file():
        return ResolvedModel(candidate, manifest.by_file(candidate.name))
    entry = manifest.find(text) if "/" not in text and os.sep not in text else None
    dirs = search_dirs(models_dir)
    if entry is None:
        found = find_file(candidate.name, dirs) if candidate.suffix == ".onnx" else None
        if found:
            return ResolvedModel(found, None)
        known = ", ".join(sorted(manifest.models))
        raise ModelNotFoundError(
            f"No model file {text!r}: it is neither an existing file nor a known model name "
            f"(known: {known}). Give the path to an .onnx file or one of those names."
        )
    found = find_file(entry.file, dirs)
    if found is None:
        where = "\n  ".join(str(d) for d in dirs)
        if entry.user_supplied:
            hint = (
                f"{entry.name} is licensed separately by {entry.vendor} and is not downloaded for you: "
                f"put your licensed file at {MANIFEST_PATH.parent / entry.file} or give its path"
            )
        else:
            hint = f"{INSTALL_HINT}, or give the file's path"
        raise ModelNotFoundError(f"Model {entry.name} ({entry.file}) was not found in:\n  {where}\n{hint}.")
    if verify:
        verify_file(found, entry)
    return ResolvedModel(found, entry)


def repair_hint(path: Path | str) -> str:
    """What to do about a damaged model file: fetch ours again, or replace the user's own copy."""
    entry = load_manifest().by_file(Path(path).name)
    if entry is not None and not entry.user_supplied:
        return f"Delete it and {INSTALL_HINT.lower()} again."
    return "Replace it with a good copy from where you got it (download or export it again)."


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, entry: ModelEntry) -> None:
    """Raise unless ``path`` is one of the entry's known versions; hashes are cached per size and mtime."""
    if not entry.versions:
        return
    stat = path.stat()
    sizes = sorted({v.size for v in entry.versions if v.size is not None})
    if not entry.accepts(stat.st_size):
        raise ModelLoadError(
            f"{path} has {stat.st_size} bytes but {entry.name} has {' or '.join(map(str, sizes))}: the file is "
            f"truncated or not the right one. Delete it and {INSTALL_HINT.lower()} again."
        )
    cache_path = path.parent / _VERIFIED_CACHE
    key = f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"
    cache = _read_cache(cache_path)
    digest = cache.get(key) or sha256_of(path)
    if not entry.accepts(stat.st_size, digest):
        expected = " or ".join(v.sha256 for v in entry.versions)
        raise ModelLoadError(
            f"{path} fails its checksum (sha256 {digest}, expected {expected} for {entry.name}): the file "
            f"is corrupt or altered. Delete it and {INSTALL_HINT.lower()} again."
        )
    if key not in cache:
        cache[key] = digest
        _write_cache(cache_path, cache)


def _read_cache(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(path: Path, cache: dict[str, str]) -> None:
    try:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as error:  # a read-only models folder only costs a re-hash next time
        log.debug("Cannot write %s: %s", path, error)
