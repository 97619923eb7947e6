"""The install command's own behaviour: progress lines, and --check before anything is installed."""

from __future__ import annotations

import io
import shlex
import shutil
import sys
from pathlib import Path

from inswapper_live.core.install import cli as install_cli
from inswapper_live.core.install.cli import _ByteProgress, main


def test_download_progress_without_a_terminal_prints_every_tenth(monkeypatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    progress = _ByteProgress()
    total = 100_000_000
    for done in range(0, total + 1, 1_000_000):
        progress("inswapper_128.onnx", done, total)
    lines = err.getvalue().splitlines()
    assert 10 <= len(lines) <= 12
    assert lines[-1].startswith("   downloading inswapper_128.onnx: 100.0/100.0 MB at ")


def test_check_before_install_says_what_to_run(tmp_path: Path, capsys) -> None:
    assert main(["--check", "--venv", str(tmp_path / "no-venv")]) == 1
    assert f"Not installed: {tmp_path / 'no-venv'} does not exist. Run `python install.py` first." in (
        capsys.readouterr().out
    )


def test_state_of_earlier_runs_is_kept(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(install_cli, "STATE", tmp_path / "state.json")
    assert install_cli._read_state() == {}
    install_cli._write_state({"models_dir": "/m", "comfyui": "/c"})
    assert install_cli._read_state() == {"models_dir": "/m", "comfyui": "/c"}
    (tmp_path / "state.json").write_text("not json")
    assert install_cli._read_state() == {}


def _stand_ins_as_real(monkeypatch, models: Path, scrfd_500m: Path) -> None:
    """Stand-in swapper and recogniser whose checksums a patched manifest declares, and real det_500m."""
    import hashlib

    from inswapper_live.core import resolve as resolve_module
    from inswapper_live.core import synthetic
    from inswapper_live.core.manifest import load_manifest, parse_manifest

    swapper = synthetic.make_swapper(models / "inswapper_128.onnx", 128, seed=3)
    recognizer = synthetic.make_recognizer(models / "w600k_r50.onnx")
    shutil.copy(scrfd_500m, models / "det_500m.onnx")
    text = resolve_module.MANIFEST_PATH.read_text(encoding="utf-8")
    for name, path in (("inswapper_128", swapper), ("w600k_r50", recognizer)):
        for version in load_manifest().models[name].versions:
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            text = text.replace(version.sha256, sha).replace(str(version.size), str(path.stat().st_size))
    manifest = parse_manifest(text)
    monkeypatch.setattr(resolve_module, "load_manifest", lambda: manifest)


def test_the_summary_suggests_a_swap_command_that_runs(
    monkeypatch, scrfd_500m: Path, tmp_path: Path, capsys
) -> None:
    """det_10g missing, det_500m installed: the suggested command names det_500m, and it runs."""
    from inswapper_live.core.cli import main as cli_main
    from inswapper_live.core.install.selfcheck import PHOTO

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("INSWAPPER_LIVE_MODELS", raising=False)
    monkeypatch.delenv("COMFYUI_DIR", raising=False)
    models = tmp_path / "models"
    _stand_ins_as_real(monkeypatch, models, scrfd_500m)
    install_cli._summary(install_cli._Run(), [], models, None, packages_ok=True)
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("   Swap:")]
    command = shlex.split(line.removeprefix("   Swap:"))
    assert command[0].endswith("inswapper-live") and command[1] == "swap"
    assert command[-4:] == ["--models-dir", str(models), "--detector", "det_500m"]
    out = tmp_path / "out.png"
    paths = {"ME.jpg": str(PHOTO), "PHOTO.jpg": str(PHOTO), "OUT.jpg": str(out)}
    assert cli_main([paths.get(arg, arg) for arg in command[1:]]) == 0 and out.is_file()

    (models / "inswapper_128.onnx").unlink()
    install_cli._summary(install_cli._Run(), [], models, None, packages_ok=True)
    text = capsys.readouterr().out
    assert "Swap:   not ready: it needs inswapper_128 (see the missing files above); then" in text


def test_a_skipped_self_check_mentions_no_stand_ins(monkeypatch, tmp_path: Path, capsys) -> None:
    from inswapper_live.core import resolve as resolve_module

    monkeypatch.setattr(resolve_module, "PACKAGED_MODELS", tmp_path / "no-packaged-yunet")  # no detector at all
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("INSWAPPER_LIVE_MODELS", raising=False)
    monkeypatch.delenv("COMFYUI_DIR", raising=False)
    install_cli._selfcheck(install_cli._Run(), tmp_path / "no-models")
    out = capsys.readouterr().out
    assert "self-check skipped: it needs a face detector" in out
    assert "STAND-IN" not in out and "result written" not in out
