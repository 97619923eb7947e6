"""What LoadSwapModel offers and loads: model lists per kind, file lookup, the engine cache.

The lists come from ComfyUI's model folders. A file the manifest knows is listed under its kind;
any other ``.onnx`` file under the kind its ONNX signature shows (read once per file version),
and not at all when it is no model these nodes use.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path, PurePath

from ..core.engine import Engine, EngineSettings
from ..core.errors import ModelNotFoundError
from ..core.manifest import load_manifest
from ..core.modelinfo import DETECTORS, ModelKind, kind_of_file
from ..core.resolve import resolve, search_dirs
from ..core.runtime import PROVIDER_ALIASES, available_providers
from . import comfy_adapter

log = logging.getLogger(__name__)

KINDS = ("swapper", "detector", "recognizer")
CACHE_SIZE = 2
"""Engines kept loaded; switching back and forth between two model sets reloads nothing."""


def _listed_files() -> dict[str, str]:
    """List entry -> name relative to its folder; the bare file name when no other file has it.

    Bare names keep workflows portable: ``w600k_r50.onnx`` finds the file whether it sits in
    ``models/inswapper_live`` or in ``models/insightface/models/buffalo_l``.
    """
    files = comfy_adapter.model_files()
    counts = Counter(PurePath(f).name for f in files)
    return {(PurePath(f).name if counts[PurePath(f).name] == 1 else f): f for f in files}


def model_choices(kind: str) -> list[str]:
    """Files for ``kind``: the manifest's default first, then its other known files, then unknown ones.

    The default's file name is listed even when no folder has it, so a shared workflow still
    validates and running it says where to put the file.
    """
    manifest = load_manifest()
    known: list[tuple[int, str]] = []
    unknown: list[str] = []
    for name, relative in _listed_files().items():
        entry = manifest.by_file(PurePath(name).name)
        if entry is None:
            if _kind_of(relative) == kind:
                unknown.append(name)
        elif entry.kind == kind:
            known.append((0 if entry.default else 1, name))
    listed = [name for _, name in sorted(known)]
    defaults = [e.file for e in manifest.defaults() if e.kind == kind]
    missing = [f for f in defaults if not any(PurePath(n).name == f for n in listed)]
    return missing + listed + unknown


_KIND_NAMES = {
    ModelKind.SWAPPER: "swapper",
    ModelKind.RECOGNIZER: "recognizer",
    ModelKind.RESTORER: "restorer",
    ModelKind.OCCLUDER: "occluder",
    ModelKind.PARSER: "parser",
    ModelKind.LANDMARKER: "landmarker",
}
"""The manifest's kind name for each kind an unknown file's signature shows."""


def _kind_of(relative: str) -> str | None:
    """The manifest's kind (``swapper``, ``detector``, ``occluder``, ...) from the file's ONNX signature."""
    path = comfy_adapter.model_path(relative)
    try:
        kind = kind_of_file(path) if path is not None else None
    except OSError:  # removed since the folder was listed
        return None
    if kind is None:
        return None
    if kind in DETECTORS:
        return "detector"
    return _KIND_NAMES.get(kind)


def provider_choices() -> list[str]:
    """``auto`` and the short names of the providers this onnxruntime build has."""
    short: dict[str, str] = {}
    for alias, full in PROVIDER_ALIASES.items():
        short.setdefault(full, alias)
    return ["auto", *(short.get(p, p) for p in available_providers())]


def locate(name: str, setting: str) -> Path:
    """The file for a list entry: ComfyUI's folders first, then the engine's own search."""
    found = comfy_adapter.model_path(_listed_files().get(name, name))
    if found is not None:
        return found
    try:
        return resolve(name).path
    except ModelNotFoundError:
        folders = comfy_adapter.model_folders()
        where = "\n  ".join(dict.fromkeys(str(p) for p in [*folders, *search_dirs()]))
        raise ModelNotFoundError(
            f"The {setting} model {name!r} was not found in:\n  {where}\n"
            f"Put the file in {folders[0]} (or in models/insightface, where other face-swap packs keep "
            "it) or run `python install.py` in this node pack's folder to download it; then press R in "
            "ComfyUI to refresh the lists and choose it in LoadSwapModel."
        ) from None  # the engine's own search is in the list above: one message in ComfyUI's log


def file_state(swapper: str, detector: str, recognizer: str) -> tuple[tuple[str, int, int], ...]:
    """Path, size and modification time of the three model files: a replaced file loads again."""
    paths = [
        locate(name, setting) for name, setting in zip((swapper, detector, recognizer), KINDS, strict=True)
    ]
    return tuple((str(p), (st := p.stat()).st_size, st.st_mtime_ns) for p in paths)


def fingerprint(swapper: str, detector: str, recognizer: str) -> str:
    """:func:`file_state` as text, or ``missing`` without a word: LoadSwapModel itself says where to put it.

    ComfyUI logs whatever IS_CHANGED raises, also for prompts it then rejects, so raising here
    would repeat the node's own error as a warning.
    """
    try:
        return repr(file_state(swapper, detector, recognizer))
    except (ModelNotFoundError, OSError):
        return "missing"


@dataclass(frozen=True)
class _Key:
    files: tuple[tuple[str, int, int], ...]
    provider: str
    threads: int
    det_size: int
    det_thresh: float


_engines: OrderedDict[_Key, Engine] = OrderedDict()
_lock = threading.Lock()


def load_engine(
    swapper: str,
    detector: str,
    recognizer: str,
    provider: str = "auto",
    threads: int = 0,
    det_size: int = 640,
    det_thresh: float = 0.5,
) -> Engine:
    """An engine for these models, loaded once and reused while the files stay the same."""
    files = file_state(swapper, detector, recognizer)
    paths = [Path(path) for path, _, _ in files]
    key = _Key(files, provider, threads, det_size, det_thresh)
    with _lock:
        engine = _engines.get(key)
        if engine is not None:
            _engines.move_to_end(key)
            return engine
    settings = EngineSettings(
        swapper=str(paths[0]),
        detector=str(paths[1]),
        recognizer=str(paths[2]),
        provider=provider,
        threads=threads,
        det_size=det_size,
        det_thresh=det_thresh,
    )
    engine = Engine(settings)
    engine.recognizer()  # a wrong recogniser file fails here, in the node where it was chosen
    with _lock:
        _engines[key] = engine
        while len(_engines) > CACHE_SIZE:
            _engines.popitem(last=False)
    log.info("Loaded %s, %s and %s on %s.", *(p.name for p in paths), provider)
    return engine
