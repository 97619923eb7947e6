"""Video in, video out: every frame through a function, the audio carried over unchanged.

The function may also be a ``FrameStream``: frames in, the same frames out in order but possibly
later (a live session that swaps each frame once the next one is analysed); each frame out keeps
the timestamp of the frame it was made from.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol, runtime_checkable

import av

from .errors import InputError, OutputError
from .imageio import atomic_output, check_writable
from .types import Frame

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm"})
_VIDEO_CODEC = {".webm": "libvpx-vp9", ".avi": "mpeg4"}
_AUDIO_COPY = {
    ".mp4": {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"},
    ".m4v": {"aac", "mp3", "alac", "ac3", "eac3"},
    ".mov": {"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s24le"},
    ".webm": {"opus", "vorbis"},
    ".avi": {"mp3", "ac3", "pcm_s16le"},
}
_AUDIO_FALLBACK = {".webm": "libopus"}


@runtime_checkable
class FrameStream(Protocol):
    """Frames in, the same frames out in order, possibly some pushes later."""

    def push(self, frame: Frame, time: float) -> list[Frame]:
        """Take ``frame`` (shown at ``time`` seconds); give back the frames that are done."""
        ...

    def flush(self) -> list[Frame]:
        """The frames still held, at the end of the video."""
        ...


class _EachFrame:
    """A function of one frame as a ``FrameStream``."""

    def __init__(self, fn: Callable[[Frame], Frame]) -> None:
        self.fn = fn

    def push(self, frame: Frame, time: float) -> list[Frame]:
        return [self.fn(frame)]

    def flush(self) -> list[Frame]:
        return []


@dataclass(frozen=True)
class VideoReport:
    frames: int
    audio: str
    """What happened to the audio: ``copied``, ``re-encoded as X`` or ``none``."""
    announced: int | None = None
    """The frame count the input's header gives, where it gives one."""

    @property
    def frames_lost(self) -> int:
        """Frames the header announces that could not be decoded (a truncated or damaged file)."""
        return max(0, (self.announced or 0) - self.frames)


def ffmpeg_message(error: Exception) -> str:
    """FFmpeg's own words for ``error``, without PyAV's errno number and repeated file name."""
    return getattr(error, "strerror", None) or str(error)


def is_video(path: Path | str) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def process_video(
    src: Path | str,
    dst: Path | str,
    fn: Callable[[Frame], Frame] | FrameStream,
    progress: Callable[[int, int | None], None] | None = None,
) -> VideoReport:
    """Run ``fn`` on every frame of ``src`` and write ``dst`` (written whole or not at all)."""
    stream = fn if isinstance(fn, FrameStream) else _EachFrame(fn)
    src, dst = Path(src), check_writable(dst)
    suffix = dst.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise OutputError(f"Cannot write video {dst}: use one of {', '.join(sorted(VIDEO_SUFFIXES))}.")
    try:
        inp = av.open(str(src))
    except (av.error.FFmpegError, OSError) as error:
        raise InputError(f"Video {src} cannot be opened: {ffmpeg_message(error)}.") from error
    try:
        with inp, atomic_output(dst) as tmp:
            report = _transcode(inp, tmp, suffix, stream, progress)
            if report.frames == 0:
                raise InputError(f"{src} has no decodable video frames.")
    except av.error.FFmpegError as error:
        raise InputError(f"Video {src} cannot be processed: {ffmpeg_message(error)}.") from error
    if report.frames_lost:
        log.warning(
            "Only %d of the %d frames that %s's header announces could be decoded: the file is probably "
            "truncated or damaged. %s has those %d frames.",
            report.frames,
            report.announced,
            src,
            dst,
            report.frames,
        )
    return report


def _transcode(
    inp: av.container.InputContainer,
    tmp: Path,
    suffix: str,
    stream: FrameStream,
    progress: Callable[[int, int | None], None] | None,
) -> VideoReport:
    if not inp.streams.video:
        raise InputError(f"{inp.name} has no video stream.")
    vin = inp.streams.video[0]
    vin.thread_type = "AUTO"
    ain = inp.streams.audio[0] if inp.streams.audio else None
    with av.open(str(tmp), "w", format=_container_format(suffix)) as out:
        vout = out.add_stream(_VIDEO_CODEC.get(suffix, "libx264"), rate=vin.average_rate or Fraction(25))
        vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
        vout.pix_fmt = "yuv420p"
        if vout.codec_context.name == "libx264":
            vout.options = {"crf": "18", "preset": "medium"}
        vout.time_base = vin.time_base
        aout, audio = _audio_stream(out, ain, suffix)
        total = vin.frames or None
        count = 0
        stamps: deque = deque()  # (pts, time_base) of the frames pushed and not yet written

        def write(results: list[Frame]) -> None:
            nonlocal count
            for result in results:
                new = av.VideoFrame.from_ndarray(result, format="bgr24")
                new.pts, new.time_base = stamps.popleft()
                for p in vout.encode(new):
                    out.mux(p)
                count += 1
                if progress:
                    progress(count, total)

        streams = [s for s in (vin, ain) if s is not None]
        for packet in inp.demux(*streams):
            if packet.stream is ain and aout is not None:
                _carry_audio(out, aout, packet, audio)
                continue
            if packet.stream is not vin:
                continue
            for frame in packet.decode():
                stamps.append((frame.pts, frame.time_base))
                index = count + len(stamps) - 1
                seconds = frame.time if frame.time is not None else index / float(vin.average_rate or 25)
                write(stream.push(frame.to_ndarray(format="bgr24"), float(seconds)))
        write(stream.flush())
        for p in vout.encode(None):
            out.mux(p)
        if aout is not None and audio != "copied":
            for p in aout.encode(None):
                out.mux(p)
    return VideoReport(count, audio, total)


def _container_format(suffix: str) -> str:
    return {".mkv": "matroska", ".m4v": "mp4"}.get(suffix, suffix.lstrip("."))


def _audio_stream(out: av.container.OutputContainer, ain: av.audio.stream.AudioStream | None, suffix: str):
    """Copy the audio when the container takes its codec, else re-encode it (AAC, Opus for webm)."""
    if ain is None:
        return None, "none"
    name = ain.codec_context.name
    if suffix == ".mkv" or name in _AUDIO_COPY.get(suffix, set()):
        return out.add_stream_from_template(ain), "copied"
    codec = _AUDIO_FALLBACK.get(suffix, "aac")
    aout = out.add_stream(codec, rate=ain.codec_context.sample_rate)
    log.info("Audio codec %s does not fit %s: re-encoding it as %s.", name, suffix, codec)
    return aout, f"re-encoded as {codec}"


def _carry_audio(out, aout, packet, audio: str) -> None:
    if audio == "copied":
        if packet.dts is None:
            return
        packet.stream = aout
        out.mux(packet)
        return
    for frame in packet.decode():
        frame.pts = None
        for p in aout.encode(frame):
            out.mux(p)
