"""What the OBS tests need from the machine: Xvfb, libobs, the obs program; skip visibly without them.

CI installs them (.ci/run); a development machine without OBS still passes, with the reason shown.
"""

from __future__ import annotations

import ctypes.util
import glob
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

APT_HINT = (
    "apt-get install --no-install-recommends obs-studio xvfb xauth libgl1-mesa-dri libegl-mesa0 libegl1"
)


def need_libobs() -> None:
    try:
        ctypes.CDLL("libobs.so.0")
    except OSError:
        pytest.skip(f"libobs is not installed ({APT_HINT})")


def need_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed ({APT_HINT})")
    return path


def need_obs_python_match() -> None:
    """OBS's script finds the packages of a Python of its own version (here: this run's .venv)."""
    for path in glob.glob("/usr/lib/*/libobs-scripting.so*") + glob.glob("/usr/lib/libobs-scripting.so*"):
        found = re.search(rb"libpython(\d+)\.(\d+)", Path(path).read_bytes())
        if found:
            embedded = (int(found.group(1)), int(found.group(2)))
            if embedded != sys.version_info[:2]:
                pytest.skip(
                    f"OBS embeds Python {embedded[0]}.{embedded[1]} but the tests run on "
                    f"{sys.version_info[0]}.{sys.version_info[1]}: make .venv with python{embedded[0]}.{embedded[1]}"
                )
            return


@contextmanager
def xvfb() -> Iterator[str]:
    """A private X server; yields its DISPLAY value (":N")."""
    binary = need_binary("Xvfb")
    if ctypes.util.find_library("X11") is None:
        pytest.skip(f"libX11 is not installed ({APT_HINT})")
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [binary, "-displayfd", str(write_end), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as pipe:
            number = pipe.readline().strip()
        if not number:
            pytest.fail("Xvfb did not start")
        yield f":{number}"
    finally:
        process.terminate()
        process.wait(10)


def gl_env(display: str) -> dict[str, str]:
    """The environment OBS needs under Xvfb: software OpenGL, this display."""
    return {**os.environ, "DISPLAY": display, "LIBGL_ALWAYS_SOFTWARE": "1"}
