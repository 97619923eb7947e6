"""Taking model files out of an archive (InsightFace packs such as buffalo_l.zip) safely.

An archive is refused as a whole when any entry is absolute, climbs out with ``..`` or is
a symbolic link: such a file is not the pack the manifest describes. Only the members asked
for are written, each to a temporary file, checked against its size and sha256 and then
renamed into place, so nothing half-extracted is ever left where a model is expected.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import zipfile
from pathlib import Path

from ..errors import ModelLoadError
from .download import Expected

_DRIVE = re.compile(r"^[A-Za-z]:")
_UNIX_SYSTEM = 3


def unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    """Why extracting this entry could write outside the target folder, or None."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or _DRIVE.match(name):
        return "an absolute path"
    if ".." in name.split("/"):
        return "a '..' path component"
    mode = info.external_attr >> 16
    if info.create_system == _UNIX_SYSTEM and stat.S_ISLNK(mode):
        return "a symbolic link"
    return None


def open_checked(path: Path) -> zipfile.ZipFile:
    """Open ``path`` after checking every entry's path; ModelLoadError names the first bad one."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ModelLoadError(
            f"{path} is not a readable zip archive ({error}): it is truncated or corrupt. "
            "Delete it and download it again."
        ) from error
    for info in archive.infolist():
        reason = unsafe_reason(info)
        if reason:
            archive.close()
            raise ModelLoadError(
                f"{path} was refused: its entry {info.filename!r} is {reason}, which could write "
                "outside the models folder. It is not the archive the manifest describes; delete it "
                "and download it again from a URL that `python install.py` lists."
            )
    return archive


def find_member(archive: zipfile.ZipFile, member: str) -> zipfile.ZipInfo:
    """The entry called ``member``, at the root or in one folder (``buffalo_l/det_10g.onnx``)."""
    files = [i for i in archive.infolist() if not i.is_dir()]
    for info in files:
        if info.filename == member:
            return info
    matches = [i for i in files if i.filename.replace("\\", "/").rsplit("/", 1)[-1] == member]
    if len(matches) != 1:
        found = "several" if matches else "no"
        raise ModelLoadError(f"{archive.filename} has {found} entries called {member}; expected exactly one.")
    return matches[0]


def extract_member(archive_path: Path, member: str, dest: Path, expected: Expected, part_dir: Path) -> None:
    """Write ``member`` of ``archive_path`` to ``dest`` if and only if it has the expected bytes."""
    part_dir.mkdir(parents=True, exist_ok=True)
    part = part_dir / f"{dest.name}.extract.part"
    with open_checked(archive_path) as archive:
        info = find_member(archive, member)
        if expected.size is not None and info.file_size != expected.size:
            raise ModelLoadError(
                f"{member} in {archive_path} has {info.file_size} bytes, expected {expected.size}: "
                "the archive is a different version than the manifest describes."
            )
        digest = hashlib.sha256()
        written = 0
        try:
            with archive.open(info) as src, part.open("wb") as out:
                while block := src.read(1 << 22):
                    written += len(block)
                    if expected.size is not None and written > expected.size:
                        raise ModelLoadError(f"{member} in {archive_path} is larger than its declared size.")
                    digest.update(block)
                    out.write(block)
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            part.unlink(missing_ok=True)
            raise ModelLoadError(f"Cannot extract {member} from {archive_path}: {error}.") from error
        except ModelLoadError:
            part.unlink(missing_ok=True)
            raise
    if digest.hexdigest() != expected.sha256:
        part.unlink(missing_ok=True)
        raise ModelLoadError(
            f"{member} in {archive_path} has sha256 {digest.hexdigest()}, expected {expected.sha256}: "
            "the archive is corrupt or altered."
        )
    os.replace(part, dest)
