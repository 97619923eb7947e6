"""The manifest, the resolver and checksums: finding model files and refusing bad ones."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from inswapper_live.core import synthetic
from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.errors import ModelLoadError, ModelNotFoundError
from inswapper_live.core.manifest import load_manifest, parse_manifest
from inswapper_live.core.resolve import resolve, search_dirs


def test_manifest_declares_every_known_file() -> None:
    manifest = load_manifest()
    for name in (
        "inswapper_128",
        "inswapper_128_fp16",
        "w600k_r50",
        "det_10g",
        "det_2_5g",
        "det_500m",
        "yunet",
    ):
        entry = manifest.models[name]
        assert entry.versions and all(len(v.sha256) == 64 for v in entry.versions), name
        urls = [u for v in entry.versions for u in v.urls] + list(entry.archive.urls if entry.archive else [])
        assert len(urls) >= 2 or name == "det_500m", name
        assert entry.licence
    for name in ("inswapper_512_live", "inswapper_512_live_mini"):
        assert manifest.models[name].user_supplied
    assert {e.name for e in manifest.defaults()} == {"inswapper_128", "w600k_r50", "det_10g"}
    assert manifest.find("inswapper_128.onnx").name == "inswapper_128"
    assert manifest.find("SCRFD_2.5G").name == "det_2_5g"
    assert manifest.models["w600k_r50"].archive.file == "buffalo_l.zip"


def _manifest_for(path: Path, sha: str, size: int) -> str:
    return f"""
[models.tiny]
file = "{path.name}"
kind = "detector"
vendor = "test"
licence = "MIT"
[[models.tiny.versions]]
sha256 = "{sha}"
size = {size}
"""


@pytest.fixture
def tiny_manifest(monkeypatch, tmp_path: Path, yunet: Path):
    models = tmp_path / "models"
    models.mkdir()
    target = models / "tiny.onnx"
    shutil.copy(yunet, target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    manifest = parse_manifest(_manifest_for(target, digest, target.stat().st_size))
    monkeypatch.setattr("inswapper_live.core.resolve.load_manifest", lambda: manifest)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("INSWAPPER_LIVE_MODELS", raising=False)
    monkeypatch.delenv("COMFYUI_DIR", raising=False)
    return models, target


def test_resolves_names_in_search_folders_and_checks_them(tiny_manifest) -> None:
    models, target = tiny_manifest
    found = resolve("tiny", models)
    assert found.path == target and found.entry.name == "tiny"
    assert (models / ".verified.json").exists()
    sub = models / "pack"
    sub.mkdir()
    target.rename(sub / target.name)
    assert resolve("tiny", models).path == sub / target.name


def test_sha256_mismatch_and_truncation_are_refused(tiny_manifest) -> None:
    models, target = tiny_manifest
    data = bytearray(target.read_bytes())
    data[1000] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match=r"fails its checksum.*install\.py"):
        resolve("tiny", models)
    target.write_bytes(bytes(data[:5000]))
    with pytest.raises(ModelLoadError, match=r"5000 bytes.*truncated"):
        resolve("tiny", models)


def test_missing_model_names_the_file_and_the_install_command(tiny_manifest) -> None:
    models, target = tiny_manifest
    target.unlink()
    with pytest.raises(ModelNotFoundError, match=r"tiny \(tiny.onnx\) was not found(.|\n)*python install.py"):
        resolve("tiny", models)
    with pytest.raises(ModelNotFoundError, match="neither an existing file nor a known model name"):
        resolve("no_such_model", models)


def test_user_supplied_model_says_it_is_licensed_separately(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="licensed separately by InsightFace"):
        resolve("inswapper-512-live", tmp_path)


def test_search_folders_include_comfyui_and_insightface(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COMFYUI_DIR", str(tmp_path / "ComfyUI"))
    monkeypatch.setenv("INSWAPPER_LIVE_MODELS", str(tmp_path / "extra"))
    dirs = search_dirs(tmp_path / "mine")
    assert dirs[0] == tmp_path / "mine" and dirs[1] == tmp_path / "extra"
    assert tmp_path / "ComfyUI" / "models" / "insightface" in dirs
    assert tmp_path / "ComfyUI" / "models" / "reswapper" in dirs
    assert Path.home() / ".insightface" / "models" in dirs


def test_truncated_and_corrupt_onnx_files_are_explained(
    tmp_path: Path, yunet: Path, recognizer: Path
) -> None:
    swapper = synthetic.make_swapper(tmp_path / "swapper.onnx")
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(swapper.read_bytes()[: swapper.stat().st_size // 2])
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00\x01garbage" * 100)
    for bad in (truncated, garbage):
        with pytest.raises(ModelLoadError, match=rf"{bad.name}.*(truncated or corrupt|cannot load)"):
            Engine(EngineSettings(swapper=str(bad), detector=str(yunet), recognizer=str(recognizer)))


def test_wrong_signature_names_the_setting(yunet: Path, recognizer: Path, tmp_path: Path) -> None:
    swapper = synthetic.make_swapper(tmp_path / "swapper.onnx")
    with pytest.raises(ModelLoadError, match=r"face detector \(YuNet\), but the swapper setting"):
        Engine(EngineSettings(swapper=str(yunet), detector=str(yunet), recognizer=str(recognizer)))
    with pytest.raises(ModelLoadError, match=r"face swapper \(inswapper\), but the detector setting"):
        Engine(EngineSettings(swapper=str(swapper), detector=str(swapper), recognizer=str(recognizer)))
    engine = Engine(EngineSettings(swapper=str(swapper), detector=str(yunet), recognizer=str(yunet)))
    with pytest.raises(ModelLoadError, match="recognizer setting"):
        engine.recognizer()
