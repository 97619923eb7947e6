"""The only module that touches ComfyUI: model folders, the progress bar and interrupts.

Every ``folder_paths`` / ``comfy.*`` import happens inside a function, so the package imports
without ComfyUI (the library, the CLI, OBS, the tests) and ComfyUI is only asked when a node runs
or lists its choices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..core.manifest import MANIFEST_PATH

MODEL_FOLDER = "inswapper_live"
"""Our ComfyUI folder name: ``models/inswapper_live`` plus the folders other face-swap packs fill."""
SHARED_FOLDERS = ("insightface", "reswapper", "hyperswap", "facerestore_models")
"""Where users of ReActor and friends already keep inswapper, buffalo_l and friends."""
FACES_FOLDER = "inswapper_live_faces"
"""Saved face models: ours first (where SaveFaceModel writes), then ReActor's."""
FACE_EXTENSIONS = frozenset({".safetensors"})
MODEL_EXTENSIONS = frozenset({".onnx"})


class Progress(Protocol):
    def update(self, value: int) -> None: ...


def _unique(paths: list[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        if p not in out:
            out.append(p)
    return out


def _folder_paths():
    """ComfyUI's ``folder_paths`` with our two folder names registered (again: cheap, idempotent).

    Registering on every use picks up paths that ``extra_model_paths.yaml`` or other packs added
    for the shared folder names after we first looked.
    """
    import folder_paths

    table = folder_paths.folder_names_and_paths
    models = Path(folder_paths.models_dir)
    ours = table.get(MODEL_FOLDER, ([], set()))[0]
    shared: list[str] = []
    for name in SHARED_FOLDERS:
        shared += [str(models / name), *table.get(name, ([], set()))[0]]
    table[MODEL_FOLDER] = (
        _unique([str(models / MODEL_FOLDER), *ours, str(MANIFEST_PATH.parent), *shared]),
        set(MODEL_EXTENSIONS),
    )
    faces = table.get(FACES_FOLDER, ([], set()))[0]
    table[FACES_FOLDER] = (
        _unique([str(models / MODEL_FOLDER / "faces"), *faces, str(models / "reactor" / "faces")]),
        set(FACE_EXTENSIONS),
    )
    return folder_paths


def model_files() -> list[str]:
    """ONNX files in all our model folders, as names relative to their folder."""
    return list(_folder_paths().get_filename_list(MODEL_FOLDER))


def model_folders() -> list[Path]:
    return [Path(p) for p in _folder_paths().folder_names_and_paths[MODEL_FOLDER][0]]


def model_path(name: str) -> Path | None:
    """The file a model list entry stands for, or None when no folder has it."""
    found = _folder_paths().get_full_path(MODEL_FOLDER, name)
    return Path(found) if found else None


def face_files() -> list[str]:
    return list(_folder_paths().get_filename_list(FACES_FOLDER))


def face_path(name: str) -> Path | None:
    found = _folder_paths().get_full_path(FACES_FOLDER, name)
    return Path(found) if found else None


def faces_dir() -> Path:
    """Where SaveFaceModel writes (created on first save)."""
    return Path(_folder_paths().folder_names_and_paths[FACES_FOLDER][0][0])


def progress_bar(total: int) -> Progress:
    import comfy.utils

    return comfy.utils.ProgressBar(total)


def check_interrupt() -> None:
    """Raise ComfyUI's interrupt exception when the user pressed Cancel."""
    import comfy.model_management

    comfy.model_management.throw_exception_if_processing_interrupted()
