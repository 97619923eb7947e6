"""Which model files the properties panel offers, each with its licence."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.errors import InswapperLiveError
from ..core.manifest import load_manifest
from ..core.resolve import resolve, search_dirs

UNKNOWN_LICENCE = "not in the manifest: check the licence of whoever made this file"


@dataclass(frozen=True)
class Choice:
    value: str
    """What the setting stores: a manifest name or a file path."""
    label: str
    licence: str


def licence_of(value: str) -> str:
    """The licence of a model given by name or path; a file the manifest does not know says so."""
    manifest = load_manifest()
    entry = manifest.find(value) if value and "/" not in value and "\\" not in value else None
    entry = entry or manifest.by_file(Path(value).name)
    return entry.licence if entry else UNKNOWN_LICENCE


def choices(kind: str, models_dir: str | None, current: str = "") -> list[Choice]:
    """Installed models of ``kind`` (swapper, detector, recognizer, restorer); for swappers and
    restorers also any other ``.onnx`` file in the models folders (what a file is gets checked when
    it is chosen). ``current`` is kept even when its file is missing."""
    manifest = load_manifest()
    found: list[Choice] = []
    for entry in manifest.models.values():
        if entry.kind != kind:
            continue
        try:
            resolve(entry.name, models_dir, verify=False)
        except InswapperLiveError:
            continue
        found.append(Choice(entry.name, f"{entry.name} ({entry.licence})", entry.licence))
    if kind in ("swapper", "restorer"):
        known = {e.file for e in manifest.models.values()}
        for folder in search_dirs(models_dir):
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.onnx")):
                if path.name not in known and all(c.value != str(path) for c in found):
                    found.append(Choice(str(path), f"{path.name} (licence unknown)", UNKNOWN_LICENCE))
    if current and all(c.value != current for c in found):
        licence = licence_of(current)
        try:
            resolve(current, models_dir, verify=False)
            label = f"{Path(current).name} ({licence})"
        except InswapperLiveError:
            label = f"{Path(current).name} (not found)"
        found.insert(0, Choice(current, label, licence))
    return found
