"""Hooking the node pack into a ComfyUI checkout.

The checkout is linked into ``ComfyUI/custom_nodes/inswapper-live`` (a symbolic link; a
directory junction on Windows, which needs no administrator rights), so ``git pull`` here
updates ComfyUI too; ``--comfyui-copy`` copies it instead. The pack's requirements go into
ComfyUI's own Python (its venv, or the portable build's ``python_embeded``); an onnxruntime
build already there is kept, because installing a second one beside it breaks both. Models
ComfyUI already has are found by the model step (see ``comfyui_model_dirs``).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ..errors import InswapperLiveError
from ..manifest import MANIFEST_PATH
from .env import (
    OPENCV_PACKAGES,
    ORT_PACKAGES,
    PHOTO,
    REPO,
    OrtChoice,
    installed_distributions,
    pip,
    project_requirements,
    requirement_name,
    unsatisfied,
    with_onnxruntime,
)

PACK_NAME = "inswapper-live"
COPY_MARKER = ".inswapper-live-copy"
"""Left in a copied pack, so a later run knows the folder is ours to refresh."""
EXAMPLE_IMAGES = ("inswapper_live_source.jpg", "inswapper_live_target.jpg")
"""What the example workflows load as source and target: both the bundled public-domain portrait,
so that the first run works (it swaps her face with itself); choose your own photos after that."""
_NOT_COPIED = (".git", ".venv", "__pycache__", "_deps", "out", ".downloads", "*.onnx", "*.part", "*.invalid*")


def check_comfyui_dir(comfyui: Path) -> Path:
    """``comfyui`` resolved, or an error saying why it is not a ComfyUI checkout."""
    comfyui = comfyui.expanduser().resolve()
    if not (comfyui / "custom_nodes").is_dir() or not (
        (comfyui / "main.py").is_file() or (comfyui / "comfy").is_dir()
    ):
        raise InswapperLiveError(
            f"{comfyui} does not look like a ComfyUI folder (it needs custom_nodes/ and main.py). "
            "Give the folder that holds ComfyUI's main.py, e.g. --comfyui ~/ComfyUI."
        )
    return comfyui


def find_comfyui_python(comfyui: Path) -> Path | None:
    """ComfyUI's own interpreter: the portable build's, or a venv inside the checkout."""
    candidates = [
        comfyui.parent / "python_embeded" / "python.exe",
        comfyui / "venv" / "bin" / "python",
        comfyui / ".venv" / "bin" / "python",
        comfyui / "venv" / "Scripts" / "python.exe",
        comfyui / ".venv" / "Scripts" / "python.exe",
    ]
    return next((c for c in candidates if c.is_file()), None)


def pack_folder(comfyui: Path) -> Path:
    return comfyui / "custom_nodes" / PACK_NAME


def link_pack(comfyui: Path, copy: bool = False, repo: Path = REPO) -> str:
    """Put the pack into ``custom_nodes``; say what was done. Never replaces someone else's folder."""
    dest = pack_folder(comfyui)
    if dest.is_symlink() or dest.exists():
        if Path(os.path.realpath(dest)) == repo.resolve():
            return f"{dest} already links to {repo}"
        if (dest / COPY_MARKER).is_file():
            _copy_pack(repo, dest)
            return f"refreshed the copy in {dest}"
        raise InswapperLiveError(
            f"{dest} already exists and is not this checkout ({repo}); it was left alone. Remove or "
            "rename it, then run again."
        )
    if not copy:
        how = _link_dir(repo, dest)
        if how:
            return f"{how} {dest} -> {repo}"
    _copy_pack(repo, dest)
    return f"copied the pack to {dest} (run again after updating this checkout)"


def _link_dir(target: Path, link: Path) -> str | None:
    try:
        link.symlink_to(target, target_is_directory=True)
        return "linked"
    except OSError:
        pass
    if os.name == "nt":
        try:
            import _winapi

            _winapi.CreateJunction(str(target), str(link))
            return "made a directory junction"
        except OSError:
            pass
    return None


def _copy_pack(repo: Path, dest: Path) -> None:
    shutil.copytree(repo, dest, ignore=shutil.ignore_patterns(*_NOT_COPIED), dirs_exist_ok=True)
    (dest / COPY_MARKER).write_text(f"Copied from {repo} by install.py --comfyui-copy.\n", encoding="utf-8")
    models = dest / MANIFEST_PATH.parent.name
    for model in MANIFEST_PATH.parent.glob("*.onnx"):
        target = models / model.name
        if not target.exists():
            try:
                os.link(model.resolve(), target)
            except OSError:
                shutil.copy2(model, target)


def pack_requirements(repo: Path = REPO) -> list[str]:
    """What ComfyUI-Manager installs for the pack: its requirements.txt, else the package's dependencies."""
    path = repo / "requirements.txt"
    if not path.is_file():
        return project_requirements()
    lines = (line.split("#")[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def install_requirements(python: Path, requirements: list[str], choice: OrtChoice) -> str:
    """pip-install what ComfyUI's Python lacks of the pack's requirements; say what was done.

    An onnxruntime build it has (CPU, CUDA, DirectML, OpenVINO, ROCm) is kept: ``choice`` is
    installed only where there is none.
    """
    installed = installed_distributions(python)
    present = [p for p in ORT_PACKAGES if p in installed]
    needed = still_needed(requirements, installed, choice)
    if needed:
        pip(python, "install", *needed)
    done = f"installed {', '.join(needed)} into {python}" if needed else f"already in place in {python}"
    if present:
        return f"{done}; kept its {', '.join(f'{p} {installed[p]}' for p in present)}"
    return done


def still_needed(requirements: list[str], installed: dict[str, str], choice: OrtChoice) -> list[str]:
    """What ComfyUI's Python lacks: an onnxruntime build only where it has none, OpenCV likewise.

    OpenCV's four wheels (with or without GUI, with or without contrib) also share one module:
    installing the headless one beside another pack's ``opencv-contrib-python`` would replace it.
    """
    ort = None if any(p in installed for p in ORT_PACKAGES) else choice
    has_opencv = any(p in installed for p in OPENCV_PACKAGES)
    wanted = [
        r
        for r in with_onnxruntime(requirements, ort)
        if not (has_opencv and requirement_name(r) in OPENCV_PACKAGES)
    ]
    return unsatisfied(wanted, installed)


def comfyui_around(repo: Path = REPO) -> Path | None:
    """The ComfyUI folder when this checkout sits in its ``custom_nodes`` (as ComfyUI-Manager puts it)."""
    if repo.parent.name != "custom_nodes":
        return None
    home = repo.parent.parent
    return home if (home / "main.py").is_file() or (home / "models").is_dir() else None


def is_python_of(python: Path) -> bool:
    """Whether ``python`` (a venv's or the portable build's) is the interpreter running this."""
    here = Path(sys.prefix).resolve()
    return python.parent.resolve() == here or python.parent.parent.resolve() == here


def place_example_images(comfyui: Path) -> list[Path]:
    """Put the example workflows' input photos in ComfyUI's ``input`` folder (never over a user's file)."""
    placed = []
    for name in EXAMPLE_IMAGES:
        dest = comfyui / "input" / name
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(PHOTO, dest)
            placed.append(dest)
    return placed
