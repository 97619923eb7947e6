"""Video: every frame through the engine, the audio carried over, nothing half-written."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from inswapper_live.core.errors import InputError, OutputError
from inswapper_live.core.video import process_video


def make_clip(path: Path, frames: int = 20, audio: str | None = "aac", size=(160, 120)) -> Path:
    """A small clip with moving content and, optionally, a 440 Hz tone."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        sound = out.add_stream(audio, rate=48000) if audio else None
        for i in range(frames):
            img = np.zeros((size[1], size[0], 3), np.uint8)
            img[:, (i * 5) % size[0]] = 255
            for p in video.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(p)
        if sound is not None:
            t = np.arange(int(48000 * frames / 25)) / 48000
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            chunk = 1024
            for start in range(0, len(tone), chunk):
                part = tone[start : start + chunk][None]
                if audio == "pcm_s16le":
                    frame = av.AudioFrame.from_ndarray(
                        (part * 32767).astype(np.int16), format="s16", layout="mono"
                    )
                else:
                    frame = av.AudioFrame.from_ndarray(part, format="fltp", layout="mono")
                frame.sample_rate = 48000
                frame.pts = start
                frame.time_base = Fraction(1, 48000)
                for p in sound.encode(frame):
                    out.mux(p)
            for p in sound.encode(None):
                out.mux(p)
        for p in video.encode(None):
            out.mux(p)
    return path


def _streams(path: Path) -> tuple[int, list[str], float]:
    with av.open(str(path)) as f:
        frames = sum(1 for _ in f.decode(video=0))
        f.seek(0)
        codecs = [s.codec_context.name for s in f.streams.audio]
        audio_seconds = float(f.streams.audio[0].duration * f.streams.audio[0].time_base) if codecs else 0.0
    return frames, codecs, audio_seconds


def _invert(frame: np.ndarray) -> np.ndarray:
    return 255 - frame


def test_frames_processed_and_aac_audio_copied(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", audio="aac")
    seen = []
    report = process_video(src, tmp_path / "out.mp4", lambda f: seen.append(f.shape) or _invert(f))
    assert report.frames == 20 and report.audio == "copied"
    frames, codecs, seconds = _streams(tmp_path / "out.mp4")
    assert frames == 20 and codecs == ["aac"] and seconds == pytest.approx(0.8, abs=0.1)
    assert seen == [(120, 160, 3)] * 20
    with av.open(str(tmp_path / "out.mp4")) as f:
        first = next(f.decode(video=0)).to_ndarray(format="bgr24")
    assert first.mean() > 200, "the function's output was written"


def test_audio_that_does_not_fit_the_container_is_reencoded(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mkv", audio="pcm_s16le")
    report = process_video(src, tmp_path / "out.mp4", _invert)
    assert report.audio == "re-encoded as aac"
    assert _streams(tmp_path / "out.mp4")[1] == ["aac"]


def test_video_without_audio_and_the_shared_clip(tmp_path: Path, clips_dir: Path) -> None:
    report = process_video(clips_dir / "clip_apollo11_zoom_3s.mp4", tmp_path / "out.mkv", _invert)
    assert report.frames == 75 and report.audio == "none"
    assert _streams(tmp_path / "out.mkv")[:2] == (75, [])


def test_bad_inputs_leave_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "fake.mp4").write_bytes(b"not a video at all")
    with pytest.raises(InputError, match=r"fake\.mp4 cannot be"):
        process_video(tmp_path / "fake.mp4", tmp_path / "out.mp4", _invert)
    src = make_clip(tmp_path / "in.mp4", frames=5)
    with pytest.raises(OutputError, match="does not exist"):
        process_video(src, tmp_path / "no" / "out.mp4", _invert)
    with pytest.raises(OutputError, match=r"\.mp4"):
        process_video(src, tmp_path / "out.gif", _invert)

    def fail(frame):
        raise RuntimeError("engine failed mid-video")

    with pytest.raises(RuntimeError):
        process_video(src, tmp_path / "out.mp4", fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.mp4", "in.mp4"]


class _OneLate:
    """A FrameStream that gives each frame back (inverted) once the next one came."""

    def __init__(self) -> None:
        self.held: np.ndarray | None = None
        self.times: list[float] = []

    def push(self, frame: np.ndarray, time: float) -> list[np.ndarray]:
        self.times.append(time)
        held, self.held = self.held, frame
        return [] if held is None else [_invert(held)]

    def flush(self) -> list[np.ndarray]:
        return [] if self.held is None else [_invert(self.held)]


def test_a_stream_that_holds_a_frame_writes_every_frame_in_order_at_its_own_time(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", frames=12, audio=None)
    stream = _OneLate()
    report = process_video(src, tmp_path / "out.mkv", stream)
    assert report.frames == 12
    assert stream.times == pytest.approx([i / 25 for i in range(12)])
    with av.open(str(src)) as a, av.open(str(tmp_path / "out.mkv")) as b:
        ins = list(a.decode(video=0))
        outs = list(b.decode(video=0))
    assert [f.time for f in outs] == pytest.approx([f.time for f in ins])
    for i, (x, y) in enumerate(zip(ins, outs, strict=True)):
        bright = np.flatnonzero((255 - y.to_ndarray(format="bgr24")).mean(axis=(0, 2)) > 128)
        assert list(bright) == list(np.flatnonzero(x.to_ndarray(format="bgr24").mean(axis=(0, 2)) > 128)), i
