"""The install command's own behaviour: progress lines, and --check before anything is installed."""

from __future__ import annotations

import io
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
