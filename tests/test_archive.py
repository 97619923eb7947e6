"""Archive members are extracted only when safe and only when they are the expected bytes."""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from pathlib import Path

import pytest

from inswapper_live.core.errors import ModelLoadError
from inswapper_live.core.install.archive import extract_member, open_checked
from inswapper_live.core.install.download import Expected

MEMBER = os.urandom(20_000)
EXPECTED = Expected(hashlib.sha256(MEMBER).hexdigest(), len(MEMBER))


def make_zip(path: Path, entries: dict[str, bytes], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, "/etc/passwd")
    return path


def test_member_at_the_root_or_in_a_folder_is_extracted(tmp_path: Path) -> None:
    for name in ("det_10g.onnx", "buffalo_l/det_10g.onnx"):
        archive = make_zip(tmp_path / "pack.zip", {name: MEMBER, "other.onnx": b"x"})
        dest = tmp_path / "det_10g.onnx"
        extract_member(archive, "det_10g.onnx", dest, EXPECTED, tmp_path / ".d")
        assert dest.read_bytes() == MEMBER
        dest.unlink()
    assert not list((tmp_path / ".d").iterdir())


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("../escape.onnx", "'..' path component"),
        ("models/../../escape.onnx", "'..' path component"),
        ("/etc/escape.onnx", "absolute path"),
        ("C:/escape.onnx", "absolute path"),
        ("..\\escape.onnx", "'..' path component"),
    ],
)
def test_an_archive_with_an_unsafe_path_is_refused_whole(tmp_path: Path, bad: str, reason: str) -> None:
    archive = make_zip(tmp_path / "evil.zip", {"det_10g.onnx": MEMBER, bad: b"payload"})
    with pytest.raises(ModelLoadError, match=reason):
        extract_member(archive, "det_10g.onnx", tmp_path / "det_10g.onnx", EXPECTED, tmp_path / ".d")
    assert not (tmp_path / "det_10g.onnx").exists()
    assert not (tmp_path.parent / "escape.onnx").exists()


def test_a_symlink_entry_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "link.zip", {"det_10g.onnx": MEMBER}, symlink="w600k_r50.onnx")
    with pytest.raises(ModelLoadError, match="symbolic link"):
        open_checked(archive)


def test_wrong_bytes_in_the_member_leave_nothing_behind(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "pack.zip", {"det_10g.onnx": MEMBER[::-1]})
    with pytest.raises(ModelLoadError, match="sha256"):
        extract_member(archive, "det_10g.onnx", tmp_path / "det_10g.onnx", EXPECTED, tmp_path / ".d")
    archive = make_zip(tmp_path / "pack.zip", {"det_10g.onnx": MEMBER + b"more"})
    with pytest.raises(ModelLoadError, match="different version"):
        extract_member(archive, "det_10g.onnx", tmp_path / "det_10g.onnx", EXPECTED, tmp_path / ".d")
    assert not (tmp_path / "det_10g.onnx").exists()
    assert not list((tmp_path / ".d").iterdir())


def test_a_truncated_archive_is_named(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "pack.zip", {"det_10g.onnx": MEMBER})
    archive.write_bytes(archive.read_bytes()[:5000])
    with pytest.raises(ModelLoadError, match="not a readable zip archive"):
        extract_member(archive, "det_10g.onnx", tmp_path / "det_10g.onnx", EXPECTED, tmp_path / ".d")


def test_a_missing_member_is_named(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "pack.zip", {"a.onnx": MEMBER})
    with pytest.raises(ModelLoadError, match=r"no entries called det_10g\.onnx"):
        extract_member(archive, "det_10g.onnx", tmp_path / "det_10g.onnx", EXPECTED, tmp_path / ".d")
