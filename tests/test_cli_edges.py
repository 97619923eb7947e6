"""The CLI at its edges: signals, outputs that are inputs, bad paths and files, help and arguments."""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from inswapper_live.core import bench, runtime
from inswapper_live.core.cli import _parser, main
from inswapper_live.core.source import SourceFace
from inswapper_live.core.zoomclip import make_zoom_clip


@pytest.fixture
def models(swapper_128: Path, recognizer: Path, yunet: Path) -> list[str]:
    return ["--swapper", str(swapper_128), "--recognizer", str(recognizer), "--detector", str(yunet)]


@pytest.fixture
def portrait(faces_dir: Path, tmp_path: Path) -> Path:
    """A copy of a photo in the test's own folder, so a wrongly written file shows."""
    path = tmp_path / "portrait.jpg"
    path.write_bytes((faces_dir / "grace_hopper.jpg").read_bytes())
    return path


def _swap(source: Path, target: Path, output: Path, models: list[str], *extra: str) -> int:
    return main(
        ["swap", "--source", str(source), "--target", str(target), "--output", str(output), *models, *extra]
    )


# ---------------------------------------------------------------- signals
@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="SIGHUP exists on POSIX only")
@pytest.mark.parametrize("signum", [signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)])
def test_sigterm_and_sighup_leave_no_temporary_file(
    signum: int, tmp_path: Path, faces_dir: Path, models: list[str]
) -> None:
    clip = make_zoom_clip(faces_dir / "obama_official_portrait.jpg", tmp_path / "long.mp4", frames=600)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    command = [sys.executable, "-m", "inswapper_live", "swap", "--source", str(faces_dir / "grace_hopper.jpg"),
               "--target", str(clip), "--output", str(out_dir / "result.mp4"), *models]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list(out_dir.glob(".result-*.mp4")):  # the video is being written
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, err
    assert f"Stopped by {signal.Signals(signum).name}" in err
    assert list(out_dir.iterdir()) == [], "neither a temporary file nor a partial result is left"


# ---------------------------------------------------------------- outputs that are inputs
def test_output_equal_to_an_input_is_refused_also_through_links(
    tmp_path: Path, portrait: Path, faces_dir: Path, models: list[str], caplog
) -> None:
    target = tmp_path / "target.jpg"
    target.write_bytes((faces_dir / "obama_small_320x240.jpg").read_bytes())
    clip = make_zoom_clip(faces_dir / "obama_official_portrait.jpg", tmp_path / "clip.mp4", frames=5)
    (tmp_path / "link.jpg").symlink_to(target)
    os.link(portrait, tmp_path / "hard.jpg")
    before = {p: p.read_bytes() for p in (target, portrait, clip)}
    cases = [
        (target, "--target"),
        (tmp_path / "link.jpg", "--target"),  # a symbolic link to the target
        (tmp_path / "hard.jpg", "--source"),  # a hard link to the source
        (portrait, "--source"),
    ]
    for output, option in cases:
        caplog.clear()
        assert _swap(portrait, target, output, models) == 1
        assert f"same file as {option}" in caplog.text, caplog.text
    caplog.clear()
    assert _swap(portrait, clip, clip, models) == 1  # a video too
    assert "same file as --target" in caplog.text
    caplog.clear()
    assert main(["face", "--source", str(portrait), "--output", str(tmp_path / "hard.jpg"), *models[2:]]) == 1
    assert "same file as --source" in caplog.text
    assert {p: p.read_bytes() for p in before} == before


# ---------------------------------------------------------------- bad paths and files
def test_a_folder_as_target_is_called_a_folder(
    tmp_path: Path, portrait: Path, models: list[str], caplog
) -> None:
    assert _swap(portrait, tmp_path, tmp_path / "out.png", models) == 1
    assert f"Target {tmp_path} is a folder" in caplog.text and "does not exist" not in caplog.text


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_unwritable_output_place_is_an_output_error(
    tmp_path: Path, portrait: Path, models: list[str], caplog
) -> None:
    assert _swap(portrait, portrait, Path("/proc/x.png"), models) == 1
    assert "Cannot write /proc/x.png" in caplog.text
    assert "Unexpected error" not in caplog.text and "/proc/.x-" not in caplog.text


def test_ffmpeg_errors_are_words_not_numbers(tmp_path: Path, portrait: Path, faces_dir: Path, models, caplog):
    clip = make_zoom_clip(faces_dir / "obama_official_portrait.jpg", tmp_path / "clip.mp4", frames=5)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clip.read_bytes()[:3000])
    assert _swap(portrait, broken, tmp_path / "out.mp4", models) == 1
    assert "Invalid data found when processing input" in caplog.text
    assert "Errno" not in caplog.text and not re.search(r"\d{6,}", caplog.text)


def _faststart_clip(path: Path, frames: int) -> Path:
    """An mp4 with its index (moov) at the front, as web uploads have; frames differ so none is dropped."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.options = {"g": "5"}  # keyframes often, so the part that survives truncation decodes
        for _ in range(frames):
            image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_a_truncated_video_warns_with_the_frame_counts(
    tmp_path: Path, portrait: Path, models, caplog
) -> None:
    whole = _faststart_clip(tmp_path / "whole.mp4", 75)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    out = tmp_path / "out.mp4"
    assert _swap(portrait, cut, out, models) == 0  # what could be read is written, and said
    match = re.search(r"Only (\d+) of the 75 frames that .*cut\.mp4's header announces", caplog.text)
    assert match, caplog.text
    with av.open(str(out)) as result:
        written = sum(1 for _ in result.decode(video=0))
    assert 0 < written == int(match.group(1)) < 75


def test_models_verify_opens_a_file_it_has_no_checksum_for(tmp_path: Path, swapper_128: Path, capsys) -> None:
    good = tmp_path / "mine.onnx"
    good.write_bytes(swapper_128.read_bytes())
    cut = tmp_path / "mine_cut.onnx"
    cut.write_bytes(swapper_128.read_bytes()[:5000])
    assert main(["models", "verify", str(good)]) == 0
    assert main(["models", "verify", str(cut)]) == 1
    out = capsys.readouterr().out
    assert f"ok       {good}" in out and f"FAILED   {cut}" in out
    assert "Replace it with a good copy" in out and "install.py" not in out
    licensed = tmp_path / "licensed"  # a user-supplied model: the manifest has no checksum for it
    licensed.mkdir()
    (licensed / "inswapper-512-live.onnx").write_bytes(swapper_128.read_bytes()[:5000])
    assert main(["models", "verify", "inswapper_512_live", "--models-dir", str(licensed)]) == 1
    out = capsys.readouterr().out
    assert "FAILED   inswapper_512_live" in out and "Replace it with a good copy" in out


def test_a_missing_provider_is_reported_once(
    tmp_path: Path, portrait: Path, models: list[str], caplog
) -> None:
    if "CUDAExecutionProvider" in runtime.available_providers():
        pytest.skip("CUDA is available here; this checks the warning of a machine without it")
    runtime._warn_unavailable.cache_clear()
    assert _swap(portrait, portrait, tmp_path / "out.png", models, "--provider", "cuda") == 0
    assert caplog.text.count("CUDAExecutionProvider is not in this onnxruntime build") == 1


# ---------------------------------------------------------------- help and arguments
def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_help_is_plain_text_and_shows_the_defaults(capsys) -> None:
    parser = _parser()
    parsers = {"": parser, **_subparsers(parser), "bench": bench.parser()}
    for name, sub in parsers.items():
        text = sub.format_help()
        assert "``" not in text, name
        for action in sub._actions:
            if action.dest in ("help", "version") or isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
            shown = action.default not in (None, False, argparse.SUPPRESS, "") and action.default != []
            if shown and action.option_strings:
                assert "default" in action.help, f"{name} {action.option_strings} hides its default"
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and re.match(r"inswapper-live \d+\.\d+", capsys.readouterr().out)


def test_models_needs_no_names_and_verbose_works_after_the_subcommand(
    tmp_path: Path, portrait: Path, models: list[str], capsys, caplog
) -> None:
    assert main(["models"]) == 0  # lists, as `models list` does
    assert "Search folders" in capsys.readouterr().out
    assert "names" not in _subparsers(_parser())["models"].format_usage()
    with caplog.at_level(logging.INFO):
        assert _swap(portrait, portrait, tmp_path / "out.png", models, "-v") == 0
    assert "runs on CPUExecutionProvider" in caplog.text
    swap = ["swap", "--source", "a.jpg", "--target", "b.jpg", "--output", "c.png"]
    for argv, verbose in (
        ([*swap, "-v"], True),
        (["-v", *swap], True),
        (swap, False),
        (["models", "-v"], True),
    ):
        assert _parser().parse_args(argv).verbose is verbose, argv


def test_face_needs_no_swapper_and_stores_only_file_names(
    tmp_path: Path, faces_dir: Path, recognizer: Path, yunet: Path, monkeypatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no inswapper_128 anywhere
    out = tmp_path / "me.safetensors"
    sources = [faces_dir / "grace_hopper.jpg", faces_dir / "obama_small_320x240.jpg"]
    args = ["face", *[x for p in sources for x in ("--source", str(p))], "--output", str(out)]
    assert (
        main(
            [*args, "--recognizer", str(recognizer), "--detector", str(yunet), "--models-dir", str(tmp_path)]
        )
        == 0
    )
    face = SourceFace.load(out)
    assert face.count == 2 and face.metadata["images"] == "grace_hopper.jpg, obama_small_320x240.jpg"
    assert str(faces_dir).encode() not in out.read_bytes()
