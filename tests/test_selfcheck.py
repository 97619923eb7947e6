"""The install self-check: a real swap with whatever real models are present, stand-ins otherwise."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from inswapper_live.core import resolve as resolve_module
from inswapper_live.core import synthetic
from inswapper_live.core.errors import InswapperLiveError
from inswapper_live.core.install.selfcheck import PHOTO, probe_providers, run_selfcheck
from inswapper_live.core.manifest import load_manifest, parse_manifest


@pytest.fixture(autouse=True)
def no_user_models(monkeypatch, tmp_path: Path) -> None:
    """Only the folders a test names are searched (not the developer's ~/.insightface)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("INSWAPPER_LIVE_MODELS", raising=False)
    monkeypatch.delenv("COMFYUI_DIR", raising=False)


def test_stand_ins_with_the_packaged_detector_swap_only_the_face(tmp_path: Path) -> None:
    out = tmp_path / "out" / "selfcheck.png"
    check = run_selfcheck(tmp_path / "no-models", out)
    assert check.ok, check.lines
    assert check.stand_ins == ["inswapper_128", "w600k_r50"]
    text = "\n".join(check.lines)
    assert "STAND-IN for inswapper_128" in text and "STAND-IN for w600k_r50" in text
    assert (
        f"detector    yunet ({resolve_module.PACKAGED_MODELS / 'face_detection_yunet_2026may.onnx'})" in text
    )
    assert "on CPUExecutionProvider" in text
    assert "1 found, 1 swapped" in text and ", 0 outside" in text
    result, photo = cv2.imread(str(out)), cv2.imread(str(PHOTO))
    changed = np.any(result != photo, axis=2)
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 10_000
    assert 120 < ys.mean() < 330 and 180 < xs.mean() < 350, "the change sits on the face"
    assert not changed[:60].any() and not changed[:, :100].any(), "the rest of the photo is untouched"


def test_without_any_detector_it_says_so_and_swaps_nothing(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(resolve_module, "PACKAGED_MODELS", tmp_path / "no-package-data")
    check = run_selfcheck(tmp_path / "empty", tmp_path / "out.png")
    assert not check.ok and check.output is None
    assert check.skipped and "No face detector is present" in check.lines[0]
    assert not (tmp_path / "out.png").exists()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_real_models_are_used_when_present_and_verified(monkeypatch, yunet: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    swapper = synthetic.make_swapper(models / "inswapper_128.onnx", 128, seed=3)
    recognizer = synthetic.make_recognizer(models / "w600k_r50.onnx")
    (models / yunet.name).write_bytes(yunet.read_bytes())
    text = (resolve_module.MANIFEST_PATH).read_text(encoding="utf-8")
    real = load_manifest()
    for name, path in (("inswapper_128", swapper), ("w600k_r50", recognizer)):
        for version in real.models[name].versions:
            text = text.replace(version.sha256, _sha(path)).replace(
                str(version.size), str(path.stat().st_size)
            )
    manifest = parse_manifest(text)  # the stand-ins play the real files: their checksums are declared
    monkeypatch.setattr(resolve_module, "load_manifest", lambda: manifest)
    check = run_selfcheck(models, tmp_path / "out.png")
    assert check.ok and check.stand_ins == []
    body = "\n".join(check.lines)
    assert f"swapper     inswapper_128 ({models / 'inswapper_128.onnx'})" in body
    assert f"detector    yunet ({models / yunet.name})" in body and "identity    cosine similarity" in body

    (models / "inswapper_128.onnx").write_bytes(b"corrupt")
    check = run_selfcheck(models, tmp_path / "out.png")
    assert check.stand_ins == ["inswapper_128"], "a file failing its checksum is never used"


def test_providers_are_judged_by_running_a_model() -> None:
    probes = {p.provider: p for p in probe_providers()}
    assert probes["CPUExecutionProvider"].works
    assert "AzureExecutionProvider" not in probes, "only providers the engine would use are probed"


def test_a_python_without_onnxruntime_is_named(tmp_path: Path) -> None:
    bare = Path("/usr/bin/python3.11")
    if not bare.is_file():
        pytest.skip("no system Python without onnxruntime to try")
    with pytest.raises(InswapperLiveError, match=r"onnxruntime does not import in /usr/bin/python3\.11"):
        probe_providers(bare)


def test_a_failed_probe_is_told_without_terminal_colours() -> None:
    """onnxruntime colours its log lines; the install summary shows the words only."""
    from inswapper_live.core.install.selfcheck import _last_error

    stderr = "\x1b[1;31m2026-11-30 [E:onnxruntime:Default] FAIL : Failed to load library cuda.so\x1b[m\nok\n"
    assert _last_error(stderr) == "2026-11-30 [E:onnxruntime:Default] FAIL : Failed to load library cuda.so"
