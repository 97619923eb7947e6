"""Everything that differs between Windows, macOS and Linux, and between OBS versions.

Kept in one module of pure functions (no OBS, no ctypes loading, standard library only) so
every choice has a unit test on any machine: where libobs is, which struct size the running
OBS expects, and which development folders OBS's Python may take packages from (install.py's
own folder for them is ``core.install.obs.obs_deps_dir``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

LIBOBS_ENV = "INSWAPPER_LIVE_LIBOBS"
"""A libobs file to load instead of the platform's usual one (portable or custom builds)."""
PACKAGES_ENV = "INSWAPPER_LIVE_PYTHONPATH"
"""Extra folders (os.pathsep-separated) holding the packages for OBS's Python."""


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


def package_dirs(
    system: str, repo: str, version: tuple[int, int], env: dict[str, str] | None = None
) -> list[str]:
    """Development folders for OBS's ``sys.path``, in order: ``INSWAPPER_LIVE_PYTHONPATH``, then the
    site-packages of the repository's ``.venv`` (they suit OBS when it was made with OBS's Python
    version)."""
    env = os.environ if env is None else env
    dirs = [p for p in env.get(PACKAGES_ENV, "").split(os.pathsep) if p]
    if system == "Windows":
        dirs.append(str(PureWindowsPath(repo) / ".venv" / "Lib" / "site-packages"))
    else:
        dirs.append(
            str(PurePosixPath(repo) / ".venv" / "lib" / f"python{version[0]}.{version[1]}" / "site-packages")
        )
    return dirs
