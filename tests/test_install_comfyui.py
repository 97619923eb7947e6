"""Hooking the pack into a fake ComfyUI tree: link, copy, refuse what is not ours.

Installing the requirements into ComfyUI's own Python runs for real in test_install_script.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from inswapper_live.core.errors import InswapperLiveError
from inswapper_live.core.install.comfyui import (
    COPY_MARKER,
    check_comfyui_dir,
    comfyui_around,
    find_comfyui_python,
    is_python_of,
    link_pack,
    pack_folder,
    place_example_images,
    still_needed,
)
from inswapper_live.core.install.env import PHOTO, REPO, OrtChoice


def fake_comfyui(root: Path) -> Path:
    comfy = root / "ComfyUI"
    (comfy / "custom_nodes").mkdir(parents=True)
    (comfy / "models" / "insightface").mkdir(parents=True)
    (comfy / "main.py").write_text("# ComfyUI\n")
    return comfy


def test_the_pack_is_linked_once(tmp_path: Path) -> None:
    comfy = fake_comfyui(tmp_path)
    assert link_pack(comfy).startswith("linked")
    pack = pack_folder(comfy)
    assert pack.resolve() == REPO and (pack / "__init__.py").is_file()
    assert "already links" in link_pack(comfy)


def test_someone_elses_folder_is_never_replaced(tmp_path: Path) -> None:
    comfy = fake_comfyui(tmp_path)
    theirs = pack_folder(comfy)
    theirs.mkdir()
    (theirs / "their_file.py").write_text("x = 1\n")
    with pytest.raises(InswapperLiveError, match="left alone"):
        link_pack(comfy)
    other = tmp_path / "other-checkout"
    other.mkdir()
    link = pack_folder(fake_comfyui(tmp_path / "b"))
    link.symlink_to(other, target_is_directory=True)
    with pytest.raises(InswapperLiveError, match="is not this checkout"):
        link_pack(tmp_path / "b" / "ComfyUI")
    assert (theirs / "their_file.py").read_text() == "x = 1\n" and link.resolve() == other


def test_copy_mode_copies_code_not_weights_and_refreshes_its_own_copy(tmp_path: Path) -> None:
    comfy = fake_comfyui(tmp_path)
    assert link_pack(comfy, copy=True).startswith("copied")
    pack = pack_folder(comfy)
    assert not pack.is_symlink() and (pack / COPY_MARKER).is_file()
    assert (pack / "core" / "engine.py").read_bytes() == (REPO / "core" / "engine.py").read_bytes()
    assert (pack / "models" / "manifest.toml").is_file()
    assert not (pack / ".git").exists() and not (pack / ".venv").exists()
    (pack / "core" / "engine.py").write_text("stale")
    assert link_pack(comfy, copy=True).startswith("refreshed")
    assert (pack / "core" / "engine.py").read_bytes() == (REPO / "core" / "engine.py").read_bytes()


def test_what_is_not_comfyui_is_named(tmp_path: Path) -> None:
    with pytest.raises(InswapperLiveError, match="does not look like a ComfyUI folder"):
        check_comfyui_dir(tmp_path)
    assert check_comfyui_dir(fake_comfyui(tmp_path)) == (tmp_path / "ComfyUI").resolve()


def test_comfyuis_own_python_is_found(tmp_path: Path) -> None:
    comfy = fake_comfyui(tmp_path)
    assert find_comfyui_python(comfy) is None
    portable = tmp_path / "python_embeded" / "python.exe"
    portable.parent.mkdir()
    portable.write_bytes(b"")
    assert find_comfyui_python(comfy) == portable
    portable.unlink()
    venv = comfy / "venv" / "bin" / "python"
    venv.parent.mkdir(parents=True)
    venv.symlink_to(sys.executable)
    assert find_comfyui_python(comfy) == venv


def test_a_pack_inside_custom_nodes_finds_its_comfyui(tmp_path: Path) -> None:
    comfy = fake_comfyui(tmp_path)
    pack = comfy / "custom_nodes" / "inswapper-live"
    pack.mkdir()
    assert comfyui_around(pack) == comfy
    assert comfyui_around(tmp_path / "elsewhere" / "inswapper-live") is None
    (tmp_path / "custom_nodes" / "x").mkdir(parents=True)  # a folder merely called custom_nodes
    assert comfyui_around(tmp_path / "custom_nodes" / "x") is None


def test_the_running_python_is_recognised(tmp_path: Path) -> None:
    assert is_python_of(Path(sys.prefix) / "bin" / "python")
    assert not is_python_of(tmp_path / "venv" / "bin" / "python")


def test_example_photos_go_to_input_and_never_over_a_users_file(tmp_path: Path) -> None:
    comfy = fake_comfyui(tmp_path)
    (comfy / "input").mkdir()
    (comfy / "input" / "inswapper_live_target.jpg").write_bytes(b"the user's own")
    assert place_example_images(comfy) == [comfy / "input" / "inswapper_live_source.jpg"]
    assert (comfy / "input" / "inswapper_live_source.jpg").read_bytes() == PHOTO.read_bytes()
    assert (comfy / "input" / "inswapper_live_target.jpg").read_bytes() == b"the user's own"
    assert place_example_images(comfy) == []


def test_comfyuis_python_gets_only_what_it_lacks_and_keeps_its_builds() -> None:
    """onnxruntime and OpenCV come as several wheels of one module: one ComfyUI has is kept."""
    requirements = ["numpy>=1.24", "opencv-python-headless>=4.8", "pillow>=10"]
    cpu = OrtChoice("onnxruntime", "onnxruntime>=1.16", "CPU build")
    theirs = {"numpy": "2.1.0", "opencv-contrib-python": "4.10.0.84", "onnxruntime-gpu": "1.31.1"}
    assert still_needed(requirements, theirs, cpu) == ["pillow>=10"]
    bare = {"numpy": "1.26.4"}
    assert still_needed(requirements, bare, cpu) == [
        "opencv-python-headless>=4.8",
        "pillow>=10",
        "onnxruntime>=1.16",
    ]
