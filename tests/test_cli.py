"""The ``inswapper-live`` command end to end, on real photos with a real detector."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import read
from test_video import make_clip

from inswapper_live.core.cli import main
from inswapper_live.core.source import SourceFace


@pytest.fixture
def models(cli_models: list[str]) -> list[str]:
    return cli_models


def test_swap_an_image(tmp_path: Path, faces_dir: Path, models: list[str], caplog) -> None:
    out = tmp_path / "out.png"
    target = faces_dir / "obama_biden_2faces.jpg"
    code = main(
        [
            "swap",
            "--source",
            str(faces_dir / "grace_hopper.jpg"),
            "--target",
            str(target),
            "--output",
            str(out),
            *models,
        ]
    )
    assert code == 0
    before, after = read(target), read(out)
    changed = np.any(before != after, axis=2)
    assert 0.02 < changed.mean() < 0.5, "the faces changed and the rest did not"
    assert "Swapped 2 of 2 faces" in caplog.text


def test_face_selection_and_reference(tmp_path: Path, faces_dir: Path, models: list[str]) -> None:
    target = faces_dir / "obama_biden_2faces.jpg"
    image = read(target)

    def swap(out: Path, *extra: str) -> int:
        source = str(faces_dir / "grace_hopper.jpg")
        return main(
            ["swap", "--source", source, "--target", str(target), "--output", str(out), *extra, *models]
        )

    outputs = {}
    for spec in ("index:0", "index:1", "largest"):
        out = tmp_path / f"{spec.replace(':', '_')}.png"
        assert swap(out, "--faces", spec) == 0
        outputs[spec] = np.any(read(out) != image, axis=2)
    left = np.nonzero(outputs["index:0"])[1].mean()
    right = np.nonzero(outputs["index:1"])[1].mean()
    assert left < right
    assert not (outputs["index:0"] & outputs["index:1"]).any()
    assert swap(tmp_path / "similar.png", "--faces", "similar:0.5") == 1  # needs --reference
    assert swap(tmp_path / "similar.png", "--faces", "similar:0.99", "--reference", str(target)) == 0


def test_face_model_then_swap_a_video_with_audio(
    tmp_path: Path, faces_dir: Path, clips_dir: Path, models
) -> None:
    face = tmp_path / "hopper.safetensors"
    assert (
        main(["face", "--source", str(faces_dir / "grace_hopper.jpg"), "--output", str(face), *models[2:]])
        == 0
    )
    assert SourceFace.load(face).count == 1
    clip = tmp_path / "clip.mp4"
    shutil.copy(clips_dir / "clip_obama_zoom_3s.mp4", clip)
    out = tmp_path / "out.mp4"
    assert (
        main(["swap", "--face-model", str(face), "--target", str(clip), "--output", str(out), *models]) == 0
    )
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 75
    talking = make_clip(tmp_path / "tone.mp4", frames=10)
    assert (
        main(
            [
                "swap",
                "--face-model",
                str(face),
                "--target",
                str(talking),
                "--output",
                str(tmp_path / "t.mp4"),
                *models,
            ]
        )
        == 0
    )


def test_a_video_is_swapped_through_a_live_session_and_a_mapping_without_a_face_is_counted(
    tmp_path: Path, faces_dir: Path, clips_dir: Path, models, caplog, live_engine
) -> None:
    """Every frame written, each with the changes on its face; face 3 of a one-face clip is counted missing."""
    clip = tmp_path / "clip.mp4"
    shutil.copy(clips_dir / "clip_obama_zoom_3s.mp4", clip)
    out = tmp_path / "out.mp4"
    hopper = str(faces_dir / "grace_hopper.jpg")
    maps = ["--map", f"0={hopper}", "--map", f"3={hopper}"]
    args = ["swap", *maps, "--target", str(clip), "--output", str(out)]
    assert main([*args, *models]) == 0
    assert f"--map 3={hopper} found no face in 75 of 75 frames" in caplog.text, caplog.text
    cap_in, cap_out = cv2.VideoCapture(str(clip)), cv2.VideoCapture(str(out))
    changed = []
    for i in range(75):
        (ok_in, a), (ok_out, b) = cap_in.read(), cap_out.read()
        assert ok_in and ok_out, i
        diff = np.abs(a.astype(np.int16) - b).max(axis=2) > 40
        changed.append(diff.mean())
        rows, cols = np.nonzero(diff)
        face = live_engine.detect(a)[0].bbox
        inside = face[0] <= cols.mean() <= face[2] and face[1] <= rows.mean() <= face[3]
        assert inside, f"frame {i}: the change is on the face"
    assert not cap_out.read()[0]
    assert min(changed) > 0.005, "every frame has its face swapped"


def test_failures_exit_non_zero_with_a_message_and_write_nothing(
    tmp_path: Path, faces_dir: Path, models, caplog
) -> None:
    src = str(faces_dir / "grace_hopper.jpg")
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((300, 300, 3), 128, np.uint8))
    cases = [
        (["--target", str(blank), "--output", str(tmp_path / "a.png")], "Found no face in"),
        (["--target", str(tmp_path / "missing.jpg"), "--output", str(tmp_path / "b.png")], "does not exist"),
        (["--target", str(blank), "--output", str(tmp_path / "nope" / "c.png")], "folder"),
    ]
    for extra, message in cases:
        caplog.clear()
        assert main(["swap", "--source", src, *extra, *models]) == 1
        assert message in caplog.text
    caplog.clear()
    assert (
        main(["swap", "--source", str(blank), "--target", src, "--output", str(tmp_path / "d.png"), *models])
        == 1
    )
    assert "No face found in" in caplog.text and "blank.png" in caplog.text
    caplog.clear()
    assert (
        main(
            [
                "swap",
                "--source",
                src,
                "--target",
                src,
                "--output",
                str(tmp_path / "e.png"),
                "--swapper",
                "inswapper_128",
                "--models-dir",
                str(tmp_path),
            ]
        )
        == 1
    )
    assert "python install.py" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blank.png"]


def test_models_list_and_verify(tmp_path: Path, yunet: Path, capsys) -> None:
    shutil.copy(yunet, tmp_path)
    assert main(["models", "list", "--models-dir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert str(tmp_path / yunet.name) in listing and "non-commercial" in listing
    assert main(["models", "verify", "yunet", "--models-dir", str(tmp_path)]) == 0
    with (tmp_path / yunet.name).open("r+b") as f:
        f.seek(100)
        f.write(b"\x00\x00\x00")
    assert main(["models", "verify", "yunet", "--models-dir", str(tmp_path)]) == 1
    assert "fails its checksum" in capsys.readouterr().out


def test_module_form_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "inswapper_live", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "swap" in result.stdout
    assert shutil.which("inswapper-live") or Path(sys.executable).with_name("inswapper-live").exists()
