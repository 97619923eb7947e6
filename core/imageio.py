"""Reading and writing images without losing what the engine does not touch.

The engine works on 8-bit BGR. A grayscale, RGBA or 16-bit image is converted for it and
converted back on output: the alpha channel is kept, and 16-bit pixels the swap did not
change keep their exact values.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError, OutputError
from .types import Frame

_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class LoadedImage:
    path: Path
    bgr: Frame
    original: np.ndarray
    """The decoded pixels in their own layout (H x W, H x W x 3 or x 4; uint8 or uint16)."""

    def restore(self, result: Frame) -> np.ndarray:
        """``result`` (8-bit BGR, same size) in the original's channel layout and depth."""
        src = self.original
        out8: np.ndarray = result
        if src.ndim == 2:
            out8 = cv2.cvtColor(result, cv2.COLOR_BGR2GRAY)
        elif src.shape[2] == 4:
            out8 = np.dstack([result, _to8(src[:, :, 3])])
        if src.dtype == np.uint8:
            return out8
        changed = np.any(result != self.bgr, axis=2)
        out = src.copy()
        if src.ndim == 2:
            out[changed] = out8[changed].astype(np.uint16) * 257
        else:
            out[changed, :3] = out8[changed, :3].astype(np.uint16) * 257
        return out


def _to8(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    return (pixels.astype(np.uint32) * 255 // 65535).astype(np.uint8)


def _orient(pixels: np.ndarray, path: Path) -> np.ndarray:
    """Apply the EXIF orientation a phone photo carries (cv2's UNCHANGED mode ignores it)."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:
        return pixels
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.rot90(a[:, ::-1], 1),
        6: lambda a: np.rot90(a, 3),
        7: lambda a: np.rot90(a[:, ::-1], 3),
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(ops[orientation](pixels)) if orientation in ops else pixels


def read_image(path: Path | str) -> LoadedImage:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Image {path} does not exist.")
    data = np.fromfile(str(path), dtype=np.uint8)
    pixels = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if pixels is None:
        raise InputError(f"Image {path} cannot be decoded: it is not an image or it is damaged.")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise InputError(f"Image {path} has {pixels.dtype} pixels; save it as 8- or 16-bit PNG or JPEG.")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    pixels = _orient(pixels, path)
    if pixels.ndim == 2:
        bgr = cv2.cvtColor(_to8(pixels), cv2.COLOR_GRAY2BGR)
    elif pixels.shape[2] == 4:
        bgr = np.ascontiguousarray(_to8(pixels[:, :, :3]))
    elif pixels.shape[2] == 3:
        bgr = _to8(pixels)
    else:
        raise InputError(f"Image {path} has {pixels.shape[2]} channels; use a gray, RGB or RGBA image.")
    return LoadedImage(path, bgr, pixels)


def check_writable(path: Path | str) -> Path:
    """Fail before any work when ``path`` cannot be written."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"Cannot write {path}: folder {folder} does not exist.")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"Cannot write {path}: folder {folder} is not writable.")
    if path.is_dir():
        raise OutputError(f"Cannot write {path}: it is a folder; give a file name.")
    return path


def refuse_overwriting_inputs(output: Path | str, inputs: Iterable[tuple[str, Path | str | None]]) -> None:
    """Fail when ``output`` is one of ``inputs`` (``("--target", path)`` pairs), also through links."""
    output = Path(output)
    if not output.exists():
        return
    for option, path in inputs:
        if path is not None and Path(path).exists() and os.path.samefile(output, path):
            raise OutputError(
                f"--output {output} is the same file as {option} {path}: writing it would destroy the input. "
                "Give another output file name."
            )


def temp_beside(path: Path) -> Path:
    """A fresh temporary file next to ``path``, so the final rename is atomic."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    except OSError as error:  # e.g. /proc or a read-only mount that os.access calls writable
        raise OutputError(f"Cannot write {path}: {error.strerror or error}.") from error
    os.close(fd)
    return Path(name)


def commit_file(tmp: Path, path: Path) -> None:
    """Move a finished temporary file into place with the permissions a new file would get."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` that replaces it only if the block completes."""
    tmp = temp_beside(path)
    try:
        yield tmp
        commit_file(tmp, path)
    except OSError as error:
        raise OutputError(f"Cannot write {path}: {error.strerror or error}.") from error
    finally:
        tmp.unlink(missing_ok=True)


def write_image(path: Path | str, pixels: np.ndarray) -> Path:
    """Encode by extension and replace ``path`` atomically: never a half-written file."""
    path = check_writable(path)
    ext = path.suffix.lower()
    try:
        ok, encoded = cv2.imencode(ext, pixels) if ext and cv2.haveImageWriter(f"x{ext}") else (False, None)
    except cv2.error:
        ok = False
    if not ok:
        raise OutputError(f"Cannot write {path}: OpenCV cannot encode {ext} images; use .png or .jpg.")
    with atomic_output(path) as tmp:
        encoded.tofile(str(tmp))
    return path
