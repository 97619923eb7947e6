"""``install.py --check``: ready when everything works, non-zero when something is broken."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from inswapper_live.core import synthetic
from inswapper_live.core.install import check as install_check
from inswapper_live.core.install.check import check
from inswapper_live.core.install.comfyui import link_pack
from inswapper_live.core.manifest import parse_manifest


def _entry(name: str, path: Path, default: bool) -> str:
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return f"""
[models.{name}]
file = "{path.name}"
kind = "swapper"
vendor = "test"
licence = "test"
default = {str(default).lower()}
[[models.{name}.versions]]
sha256 = "{sha}"
size = {path.stat().st_size}
"""


@pytest.fixture
def models(monkeypatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("INSWAPPER_LIVE_MODELS", raising=False)
    folder = tmp_path / "models"
    swap = synthetic.make_swapper(folder / "swap.onnx")
    rec = synthetic.make_recognizer(folder / "rec.onnx")
    extra = synthetic.make_recognizer(tmp_path / "elsewhere" / "extra.onnx", seed=4)
    manifest = parse_manifest(
        _entry("swap", swap, True) + _entry("rec", rec, True) + _entry("extra", extra, False)
    )
    monkeypatch.setattr(install_check, "load_manifest", lambda: manifest)
    return folder


def test_everything_present_and_working_is_ready(models: Path, tmp_path: Path) -> None:
    report = check(models, None, None, tmp_path / "no-obs-python")
    text = "\n".join(report.lines)
    assert report.exit_code == 0, text
    assert "ok      CPUExecutionProvider: ran the test model" in text
    assert f"ok      swap.onnx: {models / 'swap.onnx'} (sha256 verified)" in text
    assert "-       extra.onnx: not installed (optional)" in text
    assert "ready   CLI" in text
    assert "OBS: not set up" in text and "ComfyUI: not set up" in text


def test_a_corrupt_model_is_broken(models: Path, tmp_path: Path) -> None:
    (models / "rec.onnx").write_bytes(b"truncated")
    report = check(models, None, None, tmp_path / "no-obs-python")
    assert report.exit_code == 1
    assert any("rec.onnx has 9 bytes" in b for b in report.broken)
    assert "NOT READY  CLI" in "\n".join(report.lines)


def test_a_missing_default_model_means_the_cli_is_not_ready(models: Path, tmp_path: Path) -> None:
    (models / "swap.onnx").unlink()
    report = check(models, None, None, tmp_path / "no-obs-python")
    assert report.exit_code == 1 and report.not_ready == ["CLI"] and not report.broken
    assert "MISSING swap.onnx (a default model)" in "\n".join(report.lines)


def test_comfyui_is_ready_when_linked_with_a_working_python(models: Path, tmp_path: Path) -> None:
    comfy = tmp_path / "ComfyUI"
    (comfy / "custom_nodes").mkdir(parents=True)
    (comfy / "main.py").write_text("")
    report = check(models, comfy, Path(sys.executable), tmp_path / "no-obs-python")
    assert report.exit_code == 1 and "is missing or not this pack" in report.broken[0]
    link_pack(comfy)
    report = check(models, comfy, Path(sys.executable), tmp_path / "no-obs-python")
    assert report.exit_code == 0, report.broken
    assert f"ready   ComfyUI: {comfy / 'custom_nodes' / 'inswapper-live'} ({sys.executable}" in "\n".join(
        report.lines
    )


def test_inside_comfyui_the_pack_folder_is_what_runs(models: Path, tmp_path: Path) -> None:
    """ComfyUI loads the pack from custom_nodes: no editable install is expected, and ComfyUI is the part."""
    report = check(models, None, None, tmp_path / "no-obs-python", in_comfyui=tmp_path / "ComfyUI")
    text = "\n".join(report.lines)
    assert report.exit_code == 0, text
    assert "(ComfyUI loads its custom_nodes folders)" in text and "import inswapper_live" not in text
    assert f"ready   ComfyUI: the pack in {install_check.REPO}, with {sys.executable}" in text
    assert "CLI" not in text
    (models / "swap.onnx").unlink()
    report = check(models, None, None, tmp_path / "no-obs-python", in_comfyui=tmp_path / "ComfyUI")
    assert report.exit_code == 1 and report.not_ready == ["ComfyUI"]
