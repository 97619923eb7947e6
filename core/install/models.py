"""Getting the manifest's model files into the models folder, verified, from wherever they are.

For each model, in order: a verified copy already in the models folder; a verified copy in
a folder the engine also searches (``~/.insightface``) or in a ComfyUI checkout (linked in,
never copied twice); a file the user downloaded by hand (``--from``, matched by name or by
size and sha256, so a renamed file is recognised too); the archive that holds it (a local
one, or downloaded); a download from the manifest's URLs. What cannot be had is reported
with its URLs, checksums and the path it belongs at. A file in the models folder that fails
its checksum is moved aside (renamed ``*.invalid``), never deleted. Standard library only.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InswapperLiveError
from ..manifest import Archive, Manifest, ModelEntry
from ..resolve import find_file, sha256_of, verify_file
from .archive import extract_member
from .download import Expected, Progress, fetch

log = logging.getLogger(__name__)

DOWNLOADS = ".downloads"
"""Sub-folder of the models folder for ``.part`` files and fetched archives (ours to delete)."""
_SCAN_DEPTH = 3


@dataclass(frozen=True)
class ModelSources:
    """Where :func:`install_models` looks, besides the network."""

    models_dir: Path
    from_dirs: tuple[Path, ...] = ()
    """Folders of files downloaded by hand: verified copies are placed in ``models_dir``."""
    reuse_dirs: tuple[Path, ...] = ()
    """Folders the engine searches at run time: a verified file there is used where it is."""
    link_dirs: tuple[Path, ...] = ()
    """Folders of other tools (ComfyUI): a verified file there is linked into ``models_dir``."""
    offline: bool = False


@dataclass
class ModelOutcome:
    entry: ModelEntry
    path: Path | None
    how: str
    """present, reused, linked, copied, extracted, downloaded, missing or user-supplied."""
    detail: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.path is not None


@dataclass
class FolderScan:
    """Known files found in a folder of hand-downloaded files."""

    models: dict[str, Path] = field(default_factory=dict)
    archives: dict[str, Path] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)


def scan_folder(manifest: Manifest, folder: Path) -> FolderScan:
    """Recognise the manifest's files in ``folder`` by name, or by size and then sha256."""
    scan = FolderScan()
    if not folder.is_dir():
        scan.rejected.append(f"{folder} is not a folder")
        return scan
    by_size: dict[int, list[tuple[str, str, str]]] = {}
    names: dict[str, tuple[str, str]] = {}
    unverifiable = {e.file: e.name for e in manifest.models.values() if not e.versions}
    for entry in manifest.models.values():
        names[entry.file] = ("model", entry.name)
        for v in entry.versions:
            if v.size is not None:
                by_size.setdefault(v.size, []).append(("model", entry.name, v.sha256))
    for archive in manifest.archives.values():
        names[archive.file] = ("archive", archive.name)
        if archive.size is not None and archive.sha256:
            by_size.setdefault(archive.size, []).append(("archive", archive.name, archive.sha256))
    for path in _walk(folder, _SCAN_DEPTH):
        size = path.stat().st_size
        candidates = by_size.get(size, [])
        digest = sha256_of(path) if candidates else None
        matched = [(kind, name) for kind, name, sha in candidates if sha == digest]
        if matched:
            kind, name = matched[0]
            (scan.models if kind == "model" else scan.archives).setdefault(name, path)
        elif path.name in unverifiable:  # a user-supplied model: no checksum is published
            scan.models.setdefault(unverifiable[path.name], path)
        elif path.name in names:
            kind, name = names[path.name]
            scan.rejected.append(
                f"{path}: {size} bytes"
                + (f", sha256 {digest}" if digest else "")
                + f" is not a known version of {name}; not used"
            )
    return scan


def _walk(folder: Path, depth: int) -> Iterable[Path]:
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return
    for child in children:
        if child.name.startswith("."):
            continue
        if child.is_file():
            yield child
        elif child.is_dir() and depth > 1:
            yield from _walk(child, depth - 1)


def check_file(path: Path, entry: ModelEntry) -> str | None:
    """Why ``path`` is not a known version of ``entry``, or None when it is."""
    try:
        verify_file(path, entry)
    except InswapperLiveError as error:
        return str(error).split(". Delete it")[0]
    except OSError as error:
        return f"cannot read {path}: {error}"
    return None


def install_models(
    manifest: Manifest,
    names: Sequence[str],
    sources: ModelSources,
    progress: Progress | None = None,
) -> list[ModelOutcome]:
    """Make each named model present and verified, and every known file in ``from_dirs`` or already
    in the models folder (a bad one there is moved aside and fetched again)."""
    return _Installer(manifest, sources, progress).run(names)


class _Installer:
    def __init__(self, manifest: Manifest, sources: ModelSources, progress: Progress | None) -> None:
        self.manifest, self.sources, self.progress = manifest, sources, progress
        self.models_dir = sources.models_dir
        self.part_dir = self.models_dir / DOWNLOADS
        self.scan = FolderScan()
        for folder in sources.from_dirs:
            found = scan_folder(manifest, folder)
            for name, path in found.models.items():
                self.scan.models.setdefault(name, path)
            for name, path in found.archives.items():
                self.scan.archives.setdefault(name, path)
            self.scan.rejected += found.rejected
        self.unreachable = False
        self.archive_paths: dict[str, Path | None] = {}
        self.fetched_archives: list[Path] = []

    def run(self, names: Sequence[str]) -> list[ModelOutcome]:
        self.models_dir.mkdir(parents=True, exist_ok=True)
        already = [e.name for e in self.manifest.models.values() if (self.models_dir / e.file).exists()]
        wanted = list(dict.fromkeys([*names, *self.scan.models, *already]))
        outcomes = []
        for name in wanted:
            entry = self.manifest.find(name)
            if entry is None:
                raise InswapperLiveError(f"No model called {name!r} in the manifest.")
            outcomes.append(self.one(entry))
        for path in self.fetched_archives:
            path.unlink(missing_ok=True)
        for line in self.scan.rejected:
            log.warning("%s", line)
        return outcomes

    def one(self, entry: ModelEntry) -> ModelOutcome:
        dest = self.models_dir / entry.file
        problems: list[str] = []
        if dest.is_file():
            bad = check_file(dest, entry)
            if bad is None:
                return ModelOutcome(entry, dest, "present")
            aside = _move_aside(dest)
            problems.append(f"{bad}; moved it aside to {aside.name}")
        for folder in self.sources.reuse_dirs:
            found = self._verified_in(entry, folder, problems)
            if found:
                return ModelOutcome(entry, found, "reused", str(found), problems)
        for folder in self.sources.link_dirs:
            found = self._verified_in(entry, folder, problems)
            if found:
                how = _link(found, dest)
                if how:
                    return ModelOutcome(entry, dest, "linked", f"{how} to {found}", problems)
                return ModelOutcome(entry, found, "reused", f"{found} (could not link it)", problems)
        if entry.name in self.scan.models:
            src = self.scan.models[entry.name]
            if self._copy(src, dest, entry, problems):
                return ModelOutcome(entry, dest, "copied", str(src), problems)
        if entry.user_supplied:
            return ModelOutcome(entry, None, "user-supplied", entry.licence, problems)
        if entry.archive and entry.member:
            archive = self._local_archive(entry.archive)
            if archive and self._extract(archive, entry, dest, problems):
                return ModelOutcome(entry, dest, "extracted", str(archive), problems)
        if self.sources.offline:
            return ModelOutcome(entry, None, "missing", "--offline: no download tried", problems)
        if self.unreachable:
            return ModelOutcome(entry, None, "missing", "not tried: the network is unreachable", problems)
        for version in entry.versions:
            if not version.urls:
                continue
            result = fetch(
                version.urls, dest, Expected(version.sha256, version.size), self.part_dir, self.progress
            )
            if result.ok:
                return ModelOutcome(entry, dest, "downloaded", result.url or "", problems)
            problems += result.failures
            if not result.reached_a_server:
                self.unreachable = True
        if entry.archive and entry.member and not self.unreachable:
            archive = self._download_archive(entry.archive, problems)
            if archive and self._extract(archive, entry, dest, problems):
                return ModelOutcome(entry, dest, "extracted", f"downloaded {entry.archive.file}", problems)
        reason = "network unreachable: no URL answered" if self.unreachable else "every URL failed"
        return ModelOutcome(entry, None, "missing", reason, problems)

    def _verified_in(self, entry: ModelEntry, folder: Path, problems: list[str]) -> Path | None:
        found = find_file(entry.file, [folder])
        if found is None or found.resolve() == (self.models_dir / entry.file).resolve():
            return None
        bad = check_file(found, entry)
        if bad:
            problems.append(f"{bad}; not used")
            return None
        return found

    def _copy(self, src: Path, dest: Path, entry: ModelEntry, problems: list[str]) -> bool:
        self.part_dir.mkdir(parents=True, exist_ok=True)
        part = self.part_dir / f"{dest.name}.copy.part"
        try:
            shutil.copyfile(src, part)
        except OSError as error:
            part.unlink(missing_ok=True)
            problems.append(f"cannot copy {src}: {error}")
            return False
        digest = sha256_of(part)
        if not entry.accepts(part.stat().st_size, digest):
            part.unlink()
            problems.append(f"{src} changed while it was copied; not used")
            return False
        os.replace(part, dest)
        return True

    def _local_archive(self, archive: Archive) -> Path | None:
        if archive.name in self.archive_paths:
            return self.archive_paths[archive.name]
        path = self.scan.archives.get(archive.name)
        beside = self.models_dir / archive.file
        if path is None and beside.is_file() and _is_archive(beside, archive):
            path = beside
        self.archive_paths[archive.name] = path
        return path

    def _download_archive(self, archive: Archive, problems: list[str]) -> Path | None:
        if self.archive_paths.get(archive.name):
            return self.archive_paths[archive.name]
        if not archive.sha256 or not archive.urls:
            return None
        dest = self.part_dir / archive.file
        result = fetch(
            archive.urls, dest, Expected(archive.sha256, archive.size), self.part_dir, self.progress
        )
        problems += result.failures
        if not result.ok:
            self.unreachable = self.unreachable or not result.reached_a_server
            return None
        self.archive_paths[archive.name] = dest
        self.fetched_archives.append(dest)
        return dest

    def _extract(self, archive: Path, entry: ModelEntry, dest: Path, problems: list[str]) -> bool:
        member = entry.member or entry.file
        for version in entry.versions:
            try:
                extract_member(archive, member, dest, Expected(version.sha256, version.size), self.part_dir)
                return True
            except InswapperLiveError as error:
                problems.append(str(error))
        return False


def _is_archive(path: Path, archive: Archive) -> bool:
    if archive.size is not None and path.stat().st_size != archive.size:
        return False
    return archive.sha256 is None or sha256_of(path) == archive.sha256


def _move_aside(path: Path) -> Path:
    """Rename a bad file to ``<name>.invalid`` (``.invalid-2``, ... when taken): kept, out of the way."""
    aside = path.with_name(path.name + ".invalid")
    n = 2
    while aside.exists():
        aside = path.with_name(f"{path.name}.invalid-{n}")
        n += 1
    path.rename(aside)
    return aside


def _link(src: Path, dest: Path) -> str | None:
    """Make ``dest`` the same file as ``src`` without copying it: a hard link, else a symbolic one."""
    if dest.is_symlink():
        dest.unlink()  # a dangling link (a good target would have been used): no data is lost
    for how, make in (("hard link", os.link), ("symbolic link", os.symlink)):
        try:
            make(src, dest)
            return how
        except OSError as error:
            log.debug("Cannot make a %s %s -> %s: %s", how, dest, src, error)
    return None


def missing_report(outcomes: Sequence[ModelOutcome], models_dir: Path) -> list[str]:
    """For each missing file: where it belongs, its accepted checksums and where to get it."""
    lines: list[str] = []
    for o in outcomes:
        if o.ok or o.how != "missing":
            continue
        entry = o.entry
        lines.append(f"{entry.file}  ->  put it at {models_dir / entry.file}")
        for i, v in enumerate(entry.versions):
            size = f", {v.size} bytes" if v.size else ""
            lines.append(f"    {'sha256' if i == 0 else 'or sha256'} {v.sha256}{size}")
            lines += [f"      {url}" for url in v.urls]
        if entry.archive:
            a = entry.archive
            lines.append(f"    or inside {a.file} ({a.size} bytes, sha256 {a.sha256}) as {entry.member}:")
            lines += [f"      {url}" for url in a.urls]
    return lines
