"""Downloads against a local server: resume, checksums, mirror fallback, nothing half-written."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from model_server import ModelServer

from inswapper_live.core.install.download import Expected, fetch, part_path

DATA = os.urandom(300_000)
EXPECTED = Expected(hashlib.sha256(DATA).hexdigest(), len(DATA))


@pytest.fixture
def server() -> Iterator[ModelServer]:
    srv = ModelServer(cut_at=100_000).start()
    srv.add("model.onnx", DATA)
    yield srv
    srv.stop()


def _leave_part(tmp_path: Path, data: bytes) -> Path:
    """A ``.part`` file as an earlier, interrupted run leaves it."""
    part = part_path(tmp_path / "model.onnx", EXPECTED, tmp_path / ".downloads")
    part.parent.mkdir()
    part.write_bytes(data)
    return part


def _fetch(server: ModelServer, tmp_path: Path, *modes: str, expected: Expected = EXPECTED, **kw):
    urls = [server.url(m, "model.onnx") for m in modes]
    return fetch(urls, tmp_path / "model.onnx", expected, tmp_path / ".downloads", **kw)


def test_plain_download_lands_verified_and_reports_progress(server: ModelServer, tmp_path: Path) -> None:
    seen: list[tuple[str, int, int | None]] = []
    result = _fetch(server, tmp_path, "ok", progress=lambda *a: seen.append(a))
    assert result.ok and result.url == server.url("ok", "model.onnx")
    assert (tmp_path / "model.onnx").read_bytes() == DATA
    assert seen[-1] == ("model.onnx", len(DATA), len(DATA))
    assert not list((tmp_path / ".downloads").iterdir())


def test_cut_connection_is_resumed_with_a_range_request(server: ModelServer, tmp_path: Path) -> None:
    result = _fetch(server, tmp_path, "cut")
    assert result.ok, result.failures
    assert (tmp_path / "model.onnx").read_bytes() == DATA
    assert server.ranges("model.onnx") == [None, "bytes=100000-"]
    assert "connection closed after 100000" in result.failures[0]


def test_a_part_file_left_by_an_earlier_run_is_resumed(server: ModelServer, tmp_path: Path) -> None:
    part = _leave_part(tmp_path, DATA[:123_456])
    result = _fetch(server, tmp_path, "ok")
    assert result.ok and (tmp_path / "model.onnx").read_bytes() == DATA
    assert server.ranges("model.onnx") == ["bytes=123456-"]
    assert not part.exists()


def test_a_server_without_range_support_restarts_the_file(server: ModelServer, tmp_path: Path) -> None:
    _leave_part(tmp_path, DATA[:5000])
    result = _fetch(server, tmp_path, "norange")
    assert result.ok and (tmp_path / "model.onnx").read_bytes() == DATA


def test_corrupt_resumed_bytes_are_fetched_again_from_scratch(server: ModelServer, tmp_path: Path) -> None:
    _leave_part(tmp_path, b"\0" * 50_000)  # an earlier run's bytes, wrong
    result = _fetch(server, tmp_path, "ok")
    assert result.ok and (tmp_path / "model.onnx").read_bytes() == DATA
    assert server.ranges("model.onnx") == ["bytes=50000-", None]
    assert "does not match" in result.failures[0]


def test_sha256_mismatch_falls_back_to_the_next_mirror(server: ModelServer, tmp_path: Path) -> None:
    result = _fetch(server, tmp_path, "corrupt", "ok")
    assert result.ok and result.url == server.url("ok", "model.onnx")
    assert "does not match the expected" in result.failures[0]
    assert (tmp_path / "model.onnx").read_bytes() == DATA


def test_failing_first_mirrors_are_skipped(server: ModelServer, tmp_path: Path) -> None:
    dead = "http://127.0.0.1:9/model.onnx"  # discard port: nothing listens
    result = fetch(
        [dead, server.url("missing", "model.onnx"), server.url("ok", "model.onnx")],
        tmp_path / "model.onnx",
        EXPECTED,
        tmp_path / ".downloads",
    )
    assert result.ok
    assert "HTTP 404" in result.failures[1]
    assert result.reached_a_server


def test_nothing_half_written_when_every_mirror_fails(server: ModelServer, tmp_path: Path) -> None:
    result = _fetch(server, tmp_path, "corrupt", "missing")
    assert not result.ok and len(result.failures) == 2
    assert not (tmp_path / "model.onnx").exists()
    assert not list((tmp_path / ".downloads").iterdir())


def test_a_wrong_size_is_caught_before_hashing(server: ModelServer, tmp_path: Path) -> None:
    result = _fetch(server, tmp_path, "ok", expected=Expected(EXPECTED.sha256, len(DATA) - 10))
    assert not result.ok
    assert "more than the expected" in result.failures[0]
    assert not (tmp_path / "model.onnx").exists()


def test_no_network_is_told_apart_from_a_bad_mirror(tmp_path: Path) -> None:
    result = fetch(["http://127.0.0.1:9/x.onnx"], tmp_path / "x.onnx", EXPECTED, tmp_path / ".d")
    assert not result.ok and not result.reached_a_server
    assert "refused" in result.failures[0].lower()
