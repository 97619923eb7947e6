"""Placing model files: downloads, archives, hand-downloaded files, reuse, offline reports."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from model_server import ModelServer

from inswapper_live.core.install.models import ModelSources, install_models, missing_report
from inswapper_live.core.manifest import Manifest, parse_manifest

SWAP = os.urandom(200_000)
REC = os.urandom(60_000)
DET = os.urandom(30_000)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


PACK = _zip({"rec.onnx": REC, "det.onnx": DET, "extra.txt": b"x"})


def manifest_text(base: str, pack: bytes = PACK) -> str:
    return f"""
[archives.pack]
file = "pack.zip"
size = {len(pack)}
sha256 = "{_sha(pack)}"
urls = ["{base}/missing/pack.zip", "{base}/ok/pack.zip"]

[models.swap]
file = "swap.onnx"
kind = "swapper"
vendor = "test"
licence = "test licence"
default = true
[[models.swap.versions]]
sha256 = "{_sha(SWAP)}"
size = {len(SWAP)}
urls = ["{base}/cut/swap.onnx", "{base}/ok/swap.onnx"]

[models.rec]
file = "rec.onnx"
kind = "recognizer"
vendor = "test"
licence = "test licence"
archive = "pack"
member = "rec.onnx"
default = true
[[models.rec.versions]]
sha256 = "{_sha(REC)}"
size = {len(REC)}
urls = ["{base}/missing/rec.onnx"]

[models.det]
file = "det.onnx"
kind = "detector"
vendor = "test"
licence = "test licence"
archive = "pack"
member = "det.onnx"
default = true
[[models.det.versions]]
sha256 = "{_sha(DET)}"
size = {len(DET)}

[models.private]
file = "private.onnx"
kind = "swapper"
vendor = "test"
licence = "licensed separately"
user_supplied = true
"""


DEFAULTS = ["swap", "rec", "det"]


@pytest.fixture
def server() -> Iterator[ModelServer]:
    srv = ModelServer(cut_at=50_000).start()
    for name, data in (("swap.onnx", SWAP), ("rec.onnx", REC), ("pack.zip", PACK)):
        srv.add(name, data)
    yield srv
    srv.stop()


@pytest.fixture
def manifest(server: ModelServer) -> Manifest:
    return parse_manifest(manifest_text(server.base))


def _by_name(outcomes) -> dict:
    return {o.entry.name: o for o in outcomes}


def test_downloads_resume_and_fall_back_to_the_archive(
    server: ModelServer, manifest: Manifest, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    out = _by_name(install_models(manifest, DEFAULTS, ModelSources(models)))
    assert out["swap"].how == "downloaded" and out["swap"].detail == server.url("cut", "swap.onnx")
    assert out["rec"].how == "extracted" and out["det"].how == "extracted"
    assert "HTTP 404" in out["rec"].problems[0]
    assert (models / "swap.onnx").read_bytes() == SWAP
    assert (models / "rec.onnx").read_bytes() == REC and (models / "det.onnx").read_bytes() == DET
    assert server.ranges("swap.onnx") == [None, "bytes=50000-"]
    archive_requests = [p for p, _ in server.requests if p.endswith("pack.zip")]
    assert len(archive_requests) == 2, "the 404 mirror, then one download for both members"
    assert not [p for p in (models / ".downloads").iterdir()], "the fetched archive is removed once used"

    before = len(server.requests)
    again = _by_name(install_models(manifest, DEFAULTS, ModelSources(models)))
    assert {o.how for o in again.values()} == {"present"}
    assert len(server.requests) == before, "a second run downloads nothing"


def test_offline_reports_exactly_what_is_missing_and_where_it_goes(
    manifest: Manifest, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    outcomes = install_models(manifest, DEFAULTS, ModelSources(models, offline=True))
    assert {o.how for o in outcomes} == {"missing"}
    report = "\n".join(missing_report(outcomes, models))
    assert f"swap.onnx  ->  put it at {models / 'swap.onnx'}" in report
    assert _sha(SWAP) in report and str(len(SWAP)) in report and "/ok/swap.onnx" in report
    assert "or inside pack.zip" in report and "/ok/pack.zip" in report and _sha(PACK) in report
    assert not [p for p in models.iterdir() if p.name != ".downloads"]


def test_an_unreachable_network_is_tried_once_then_skipped(tmp_path: Path) -> None:
    manifest = parse_manifest(manifest_text("http://127.0.0.1:9"))
    outcomes = _by_name(install_models(manifest, DEFAULTS, ModelSources(tmp_path / "models")))
    assert {o.how for o in outcomes.values()} == {"missing"}
    assert outcomes["swap"].detail == "network unreachable: no URL answered"
    assert "refused" in outcomes["swap"].problems[0].lower()
    assert outcomes["rec"].detail == "not tried: the network is unreachable"
    assert outcomes["rec"].problems == outcomes["det"].problems == [], "no download is tried once it is down"


def test_from_a_folder_takes_renamed_and_named_files_and_rejects_wrong_ones(
    manifest: Manifest, tmp_path: Path, caplog
) -> None:
    hand = tmp_path / "Downloads"
    (hand / "sub").mkdir(parents=True)
    (hand / "swap (1).onnx").write_bytes(SWAP)  # renamed by a browser: found by size + sha256
    (hand / "sub" / "pack.zip").write_bytes(PACK)
    (hand / "det.onnx").write_bytes(DET[:-1])  # the right name, the wrong bytes
    (hand / "private.onnx").write_bytes(b"licensed")
    models = tmp_path / "models"
    out = _by_name(install_models(manifest, DEFAULTS, ModelSources(models, from_dirs=(hand,), offline=True)))
    assert out["swap"].how == "copied" and out["swap"].detail == str(hand / "swap (1).onnx")
    assert out["rec"].how == "extracted" and out["det"].how == "extracted"
    assert out["private"].how == "copied", "a user-supplied model found in --from is placed too"
    assert (models / "swap.onnx").read_bytes() == SWAP and (models / "det.onnx").read_bytes() == DET
    assert (hand / "swap (1).onnx").exists() and (hand / "sub" / "pack.zip").exists(), "sources are kept"
    assert "det.onnx: 29999 bytes" in caplog.text and "is not a known version of det" in caplog.text


def test_an_archive_with_a_parent_path_entry_is_refused(tmp_path: Path) -> None:
    evil = _zip({"rec.onnx": REC, "det.onnx": DET, "../../escape.onnx": b"owned"})
    manifest = parse_manifest(manifest_text("http://127.0.0.1:9", pack=evil))
    hand = tmp_path / "hand"
    hand.mkdir()
    (hand / "pack.zip").write_bytes(evil)
    models = tmp_path / "a" / "b" / "models"
    out = _by_name(install_models(manifest, ["rec"], ModelSources(models, from_dirs=(hand,), offline=True)))
    assert out["rec"].how == "missing"
    assert "'../../escape.onnx' is a '..' path component" in out["rec"].problems[0]
    assert not (tmp_path / "a" / "escape.onnx").exists() and not (models / "rec.onnx").exists()


def test_a_corrupt_file_is_moved_aside_and_fetched_again(
    server: ModelServer, manifest: Manifest, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "swap.onnx").write_bytes(SWAP[: len(SWAP) // 2])  # truncated
    out = _by_name(install_models(manifest, ["swap"], ModelSources(models)))
    assert out["swap"].how == "downloaded"
    assert "100000 bytes" in out["swap"].problems[0] and "moved it aside" in out["swap"].problems[0]
    assert (models / "swap.onnx").read_bytes() == SWAP
    assert (models / "swap.onnx.invalid").read_bytes() == SWAP[: len(SWAP) // 2], "nothing is deleted"


def test_files_other_tools_have_are_reused_or_linked(manifest: Manifest, tmp_path: Path) -> None:
    insightface = tmp_path / "home" / ".insightface" / "models"
    (insightface / "pack").mkdir(parents=True)
    (insightface / "pack" / "rec.onnx").write_bytes(REC)
    comfy = tmp_path / "ComfyUI" / "models" / "insightface"
    comfy.mkdir(parents=True)
    (comfy / "swap.onnx").write_bytes(SWAP)
    (comfy / "det.onnx").write_bytes(b"broken")
    models = tmp_path / "models"
    sources = ModelSources(models, reuse_dirs=(insightface,), link_dirs=(comfy,), offline=True)
    out = _by_name(install_models(manifest, DEFAULTS, sources))
    assert out["rec"].how == "reused" and out["rec"].path == insightface / "pack" / "rec.onnx"
    assert out["swap"].how == "linked" and (models / "swap.onnx").samefile(comfy / "swap.onnx")
    assert out["det"].how == "missing" and "not used" in out["det"].problems[0]
    assert (comfy / "det.onnx").read_bytes() == b"broken", "another tool's file is never touched"
