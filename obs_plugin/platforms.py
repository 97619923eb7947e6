"""Everything that differs between Windows, macOS and Linux, and between OBS versions.

Kept in one module of pure functions (no OBS, no ctypes loading) so every choice has a unit
test on any machine: where libobs is, which struct size the running OBS expects, and where
OBS's embedded Python finds numpy, OpenCV and onnxruntime.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

LIBOBS_ENV = "INSWAPPER_LIVE_LIBOBS"
"""A libobs file to load instead of the platform's usual one (portable or custom builds)."""
PACKAGES_ENV = "INSWAPPER_LIVE_PYTHONPATH"
"""Extra folders (os.pathsep-separated) holding the packages for OBS's Python."""
OBS_VENV = ".obs-venv"
"""The virtual environment, inside the repository, made with the Python OBS embeds."""
REQUIREMENTS = ("numpy", "opencv-python-headless", "onnxruntime", "onnx", "safetensors", "pillow")


@dataclass(frozen=True, order=True)
class ObsVersion:
    major: int
    minor: int
    patch: int = 0

    @classmethod
    def from_packed(cls, value: int) -> ObsVersion:
        """``obs_get_version()``: major << 24 | minor << 16 | patch."""
        return cls((value >> 24) & 0xFF, (value >> 16) & 0xFF, value & 0xFFFF)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


MIN_VERSION = ObsVersion(29, 0, 0)


class UnsupportedObsError(RuntimeError):
    """The running OBS is older than the struct layouts this plugin was written for."""


def libobs_candidates(
    system: str, process_dir: str | None = None, env: dict[str, str] | None = None
) -> list[str]:
    """Names or paths to try, in order, for the libobs already loaded in the OBS process.

    Loading a library that is already loaded returns that same library, so inside OBS these
    resolve to OBS's own copy: ``obs.dll`` (Windows), the ``libobs`` framework (macOS),
    ``libobs.so.0`` (Linux, Flatpak included).
    """
    env = os.environ if env is None else env
    found: list[str] = [env[LIBOBS_ENV]] if env.get(LIBOBS_ENV) else []
    if system == "Windows":
        found.append("obs.dll")
        if process_dir:
            found.append(str(PureWindowsPath(process_dir) / "obs.dll"))
    elif system == "Darwin":
        framework = "libobs.framework/Versions/A/libobs"
        if process_dir:
            found.append(str(PurePosixPath(process_dir).parent / "Frameworks" / framework))
        found += [f"/Applications/OBS.app/Contents/Frameworks/{framework}", "@rpath/libobs.framework/libobs"]
    else:
        found += ["libobs.so.0", "libobs.so"]
    return found


def source_info_size(version: ObsVersion, struct_size: int) -> int:
    """The ``size`` to pass to ``obs_register_source_s`` for our ``struct obs_source_info``.

    Our struct holds every field up to ``video_get_color_space`` (OBS 28): OBS 29 and later
    have all of them and copy only the bytes we pass (later versions append fields), so
    the whole struct is right. Older versions reject a size larger than theirs.
    """
    if version < MIN_VERSION:
        raise UnsupportedObsError(
            f"OBS {version} is older than {MIN_VERSION}, the oldest version the Face Swap filter supports. "
            "Update OBS Studio (obsproject.com/download)."
        )
    return struct_size


def embedded_python(system: str, base_prefix: str, version: tuple[int, int]) -> str:
    """The python executable behind OBS's embedded interpreter (inside OBS, sys.executable is OBS)."""
    major, minor = version
    if system == "Windows":
        return str(PureWindowsPath(base_prefix) / "python.exe")
    return str(PurePosixPath(base_prefix) / "bin" / f"python{major}.{minor}")


def venv_site_packages(system: str, venv: str, version: tuple[int, int]) -> str:
    """The site-packages folder of a virtual environment."""
    if system == "Windows":
        return str(PureWindowsPath(venv) / "Lib" / "site-packages")
    return str(PurePosixPath(venv) / "lib" / f"python{version[0]}.{version[1]}" / "site-packages")


def venv_python(system: str, venv: str) -> str:
    if system == "Windows":
        return str(PureWindowsPath(venv) / "Scripts" / "python.exe")
    return str(PurePosixPath(venv) / "bin" / "python")


def package_dirs(
    system: str, repo: str, version: tuple[int, int], env: dict[str, str] | None = None
) -> list[str]:
    """Folders to add to OBS's ``sys.path``, in order: the environment variable, then the repository's
    OBS venv (``install.py`` makes it with OBS's own Python) and its development ``.venv``."""
    env = os.environ if env is None else env
    dirs = [p for p in env.get(PACKAGES_ENV, "").split(os.pathsep) if p]
    for name in (OBS_VENV, ".venv"):
        dirs.append(venv_site_packages(system, str(Path(repo) / name), version))
    return dirs


def install_hint(system: str, repo: str, base_prefix: str, version: tuple[int, int]) -> str:
    """The exact commands that give OBS's Python the packages the filter needs."""
    python = embedded_python(system, base_prefix, version)
    venv = str((PureWindowsPath if system == "Windows" else PurePosixPath)(repo) / OBS_VENV)
    pip = venv_python(system, venv)
    return (
        f'"{python}" -m venv "{venv}"\n'
        f'"{pip}" -m pip install {" ".join(REQUIREMENTS)}\n'
        f"then reload the script in Tools > Scripts (or restart OBS)."
    )
