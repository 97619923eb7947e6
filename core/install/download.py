"""Fetching a model file over HTTP: resumable, verified, one mirror after another.

Users' top complaints about model downloads are broken links, truncated files and corrupt
copies. So every byte goes to a ``.part`` file that a later run resumes with an HTTP Range
request, the result is checked against the size and sha256 the manifest declares, and only
a file that matches is renamed into place. A URL that fails, serves the wrong bytes or
cuts the connection too often is skipped for the next one. Standard library only: this
runs before anything else is installed.
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ... import __version__
from ..resolve import sha256_of

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int | None], None]
"""Called with (file name, bytes so far, total bytes or None) as a download advances."""

USER_AGENT = f"inswapper-live/{__version__} (install.py)"
CHUNK = 1 << 20
ATTEMPTS_PER_URL = 5
"""A URL is retried (resuming) only while each try brings new bytes, at most this often."""
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True)
class Expected:
    """The bytes a download must produce."""

    sha256: str
    size: int | None = None


@dataclass
class Fetched:
    """The outcome of :func:`fetch`: the file in place, or why each URL failed."""

    path: Path | None = None
    url: str | None = None
    failures: list[str] = field(default_factory=list)
    reached_a_server: bool = False
    """False when no URL got as far as an HTTP answer: the network (or DNS) is down."""

    @property
    def ok(self) -> bool:
        return self.path is not None


class _Incomplete(Exception):
    """The connection ended before the file did; the ``.part`` file keeps what arrived."""


class _WrongBytes(Exception):
    """The server sent more bytes than the file has: not the file we want."""


def part_path(dest: Path, expected: Expected, part_dir: Path) -> Path:
    """Where the bytes of ``dest`` collect until verified (one per expected version)."""
    return part_dir / f"{dest.name}.{expected.sha256[:12]}.part"


def fetch(
    urls: Sequence[str],
    dest: Path,
    expected: Expected,
    part_dir: Path,
    progress: Progress | None = None,
    timeout: float = 30.0,
) -> Fetched:
    """Download ``dest`` from the first URL that serves exactly the expected bytes.

    An interrupted ``.part`` file in ``part_dir`` is resumed. A finished file that fails its
    checksum is thrown away and fetched once more from scratch if it had been resumed (the
    earlier bytes may be the bad ones), else the next URL is tried.
    """
    part_dir.mkdir(parents=True, exist_ok=True)
    part = part_path(dest, expected, part_dir)
    result = Fetched()
    for url in urls:
        fresh_retry_done = False
        for _ in range(ATTEMPTS_PER_URL):
            before = _size(part)
            try:
                _transfer(url, part, expected, dest.name, progress, timeout)
            except _Incomplete as cut:
                result.reached_a_server = True
                result.failures.append(f"{url}: {cut}")
                if _size(part) > before:
                    continue
                break
            except _WrongBytes as error:
                result.reached_a_server = True
                part.unlink(missing_ok=True)
                result.failures.append(f"{url}: {error}")
                break
            except urllib.error.HTTPError as error:
                result.reached_a_server = True
                result.failures.append(f"{url}: HTTP {error.code} {error.reason}")
                break
            except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
                result.failures.append(f"{url}: {getattr(error, 'reason', error)}")
                break
            result.reached_a_server = True
            problem = _mismatch(part, expected)
            if problem is None:
                os.replace(part, dest)
                result.path, result.url = dest, url
                return result
            part.unlink(missing_ok=True)
            result.failures.append(f"{url}: {problem}")
            if before and not fresh_retry_done:  # the resumed bytes may be the bad ones
                fresh_retry_done = True
                continue
            break
    return result


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _mismatch(part: Path, expected: Expected) -> str | None:
    """Why the finished ``part`` is not the expected file, or None when it is."""
    size = part.stat().st_size
    if expected.size is not None and size != expected.size:
        return f"got {size} bytes, expected {expected.size} (truncated or a different file)"
    digest = sha256_of(part)
    if digest != expected.sha256:
        return f"sha256 {digest} does not match the expected {expected.sha256} (corrupt or altered)"
    return None


def _transfer(
    url: str, part: Path, expected: Expected, label: str, progress: Progress | None, timeout: float
) -> None:
    """Append the rest of ``url`` to ``part``; raise :class:`_Incomplete` when cut short."""
    have = _size(part)
    if expected.size is not None and have >= expected.size:
        if have == expected.size:
            return
        part.unlink()
        have = 0
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # nothing after what we have: verify it as it is
            return
        raise
    with response:
        start = _resume_offset(response, have)
        if start is None:
            raise _WrongBytes(
                f"answered a resume from byte {have} with {response.headers.get('Content-Range')}"
            )
        if start == 0 and have:
            log.info("%s does not resume downloads; starting %s again.", url, part.name)
        total = _total_size(response, start) or expected.size
        length = response.headers.get("Content-Length")
        body = int(length) if length and length.isdigit() else None
        done = start
        with part.open("r+b" if start else "wb") as out:
            out.seek(start)
            out.truncate()
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (TimeoutError, ConnectionError, http.client.IncompleteRead) as error:
                    raise _Incomplete(f"connection lost after {done} bytes ({error})") from error
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                if expected.size is not None and done > expected.size:
                    raise _WrongBytes(f"sent more than the expected {expected.size} bytes")
                if progress:
                    progress(label, done, total)
    if body is not None and done - start < body:
        raise _Incomplete(f"connection closed after {done} of {start + body} bytes")


def _resume_offset(response: http.client.HTTPResponse, have: int) -> int | None:
    """Where the body starts in the file: 0 for a whole file, ``have`` for a matching 206, None otherwise."""
    if response.status != 206:
        return 0
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    return have if match and int(match.group(1)) == have else None


def _total_size(response: http.client.HTTPResponse, start: int) -> int | None:
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if match and match.group(3) != "*":
        return int(match.group(3))
    length = response.headers.get("Content-Length")
    return start + int(length) if length and length.isdigit() else None
