"""Making the engine's dependencies importable by OBS Studio's embedded Python.

OBS runs Python scripts in its own interpreter: on Linux the libpython it was built against
(Debian's OBS: the system Python 3.11), on Windows and macOS the Python the user picked in
Tools > Scripts > Python Settings (OBS stores it as ``[Python] Path64bit`` in ``user.ini``, or
``global.ini`` before OBS 31). That interpreter cannot see our venv, so ``install.py --obs``
runs ``pip install --target`` *for that Python* into :func:`obs_deps_dir`, one folder per
Python version and platform inside the checkout. The filter script loads the package from
the checkout and calls :func:`activate_obs_deps`, which puts that folder first on
``sys.path``. Standard library only: it runs inside OBS before the dependencies are found.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .env import LOAD_CHECKOUT, REPO

OBS_SCRIPT = REPO / "obs_plugin" / "face_swap_filter.py"
"""The file to add in OBS under Tools > Scripts."""
DEPS_ROOT = REPO / "obs_plugin" / "_deps"
MARKER = "inswapper-live-deps.json"
"""Written last into a finished deps folder: what was installed, for which Python."""
MODULES = ("numpy", "cv2", "onnxruntime", "onnx", "PIL", "safetensors")
LINUX_LIB_DIRS = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
)


def deps_tag(version: tuple[int, int] | None = None, platform: str | None = None) -> str:
    """``py311-linux-x86_64``: deps are binary, so they belong to one Python version and platform."""
    major, minor = version or sys.version_info[:2]
    plat = (platform or sysconfig.get_platform()).replace(".", "_")
    return f"py{major}{minor}-{plat}"


def obs_deps_dir(version: tuple[int, int] | None = None, platform: str | None = None) -> Path:
    """Where ``install.py --obs`` puts the packages for a Python (default: the running one)."""
    return DEPS_ROOT / deps_tag(version, platform)


def activate_obs_deps() -> Path | None:
    """Put the running Python's deps folder first on ``sys.path``; None when it was never installed."""
    folder = obs_deps_dir()
    if not (folder / MARKER).is_file():
        return None
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
        importlib.invalidate_caches()
    return folder


def setup_hint() -> str:
    """What to run when OBS's Python cannot import the dependencies."""
    major, minor = sys.version_info[:2]
    return (
        f"OBS's Python {major}.{minor} has no inswapper-live dependencies ({obs_deps_dir()} is missing). "
        f"Close OBS and run `python install.py --obs` in {REPO}, then restart OBS."
    )


# ---------------------------------------------------------------- finding OBS's Python


@dataclass(frozen=True)
class ObsPython:
    python: Path | None
    version: tuple[int, int] | None
    found_by: str
    problem: str | None = None


def obs_config_dirs(
    system: str, env: Mapping[str, str] | None = None, home: Path | None = None
) -> list[Path]:
    """OBS's settings folders on this OS, the usual one first (Flatpak's too on Linux)."""
    env = os.environ if env is None else env
    home = home or Path.home()
    if system == "Windows":
        return [Path(env.get("APPDATA", home / "AppData" / "Roaming")) / "obs-studio"]
    if system == "Darwin":
        return [home / "Library" / "Application Support" / "obs-studio"]
    xdg = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    return [xdg / "obs-studio", home / ".var" / "app" / "com.obsproject.Studio" / "config" / "obs-studio"]


def configured_python_home(config_dir: Path) -> str | None:
    """The folder chosen in OBS's Python Settings (``[Python] Path64bit``), if any."""
    for name in ("user.ini", "global.ini"):
        path = config_dir / name
        try:
            text = path.read_text(encoding="utf-8-sig", errors="replace")
        except OSError:
            continue
        section = ""
        for raw in text.splitlines():
            line = raw.strip()
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1].strip().lower()
            elif section == "python" and "=" in line:
                key, _, value = line.partition("=")
                if key.strip().lower() == "path64bit" and value.strip():
                    return value.strip().strip('"')
    return None


def python_in_home(home: Path, system: str) -> Path | None:
    """The interpreter inside an OBS Python folder: where OBS looks for the library, per OS."""
    if system == "Windows":
        candidates = [home / "python.exe"]
    elif system == "Darwin":  # OBS loads <home>/Python.framework/Versions/3.X/lib/libpython3.X.dylib
        versions = sorted((home / "Python.framework" / "Versions").glob("3.*"), reverse=True)
        candidates = [v / "bin" / f"python{v.name}" for v in versions] + [home / "bin" / "python3"]
    else:
        candidates = [home / "bin" / "python3", home / "python3"]
    return next((c for c in candidates if c.is_file()), None)


def linux_obs_python_version(lib_dirs: Sequence[str] = LINUX_LIB_DIRS) -> tuple[int, int] | None:
    """The libpython OBS's scripting library was linked against (read from the library's bytes)."""
    for folder in lib_dirs:
        for lib in sorted(Path(folder).glob("libobs-scripting.so*")):
            try:
                match = re.search(rb"libpython3\.(\d+)", lib.read_bytes())
            except OSError:
                continue
            if match:
                return 3, int(match.group(1))
    return None


def find_obs_python(
    explicit: Path | None = None,
    system: str | None = None,
    config_dirs: Sequence[Path] | None = None,
    lib_dirs: Sequence[str] = LINUX_LIB_DIRS,
) -> ObsPython:
    """The Python OBS embeds on this machine, or what the user must do to give it one."""
    import platform

    system = system or platform.system()
    if explicit is not None:
        python = explicit if explicit.is_file() else python_in_home(explicit, system)
        if python is None:
            return ObsPython(None, None, "--obs-python", f"no Python interpreter found at {explicit}")
        return ObsPython(python, _version_of(python), f"--obs-python {explicit}")
    if system == "Linux":
        version = linux_obs_python_version(lib_dirs)
        if version is None:
            return ObsPython(
                None,
                None,
                "libobs-scripting",
                "OBS Studio with Python scripting was not found (no libobs-scripting library). Install "
                "OBS from your distribution (Debian/Ubuntu: apt install obs-studio), or pass --obs-python "
                "PATH for the Python your OBS uses (a Flatpak OBS uses its runtime's Python).",
            )
        python = Path(f"/usr/bin/python{version[0]}.{version[1]}")
        if not python.is_file():
            return ObsPython(
                None,
                version,
                "libobs-scripting",
                f"OBS uses Python {version[0]}.{version[1]} but {python} is missing: install it "
                f"(apt install python{version[0]}.{version[1]}) or pass --obs-python PATH.",
            )
        return ObsPython(python, version, f"OBS links libpython{version[0]}.{version[1]}")
    for config_dir in config_dirs if config_dirs is not None else obs_config_dirs(system):
        home = configured_python_home(config_dir)
        if home:
            python = python_in_home(Path(home), system)
            if python is None:
                return ObsPython(
                    None,
                    None,
                    f"OBS settings in {config_dir}",
                    f"OBS's Python folder {home} has no interpreter",
                )
            return ObsPython(python, _version_of(python), f"OBS's Python Settings ({home})")
    return ObsPython(
        None,
        None,
        "OBS settings",
        "OBS has no Python set. Install 64-bit Python 3.11 or 3.12 from python.org, choose its folder in "
        "OBS under Tools > Scripts > Python Settings, close OBS and run this again (or pass --obs-python PATH).",
    )


def _version_of(python: Path) -> tuple[int, int] | None:
    try:
        done = subprocess.run(
            [str(python), "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        major, minor = done.stdout.split()
        return int(major), int(minor)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def platform_of(python: Path) -> str:
    done = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_platform())"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip()


# ---------------------------------------------------------------- installing and checking

_IMPORT_CHECK = (
    LOAD_CHECKOUT
    + """
import json
from inswapper_live.core.install.obs import activate_obs_deps
folder = activate_obs_deps()
import numpy, cv2, onnxruntime
from inswapper_live.core.engine import Engine
print(json.dumps({"deps": str(folder), "numpy": numpy.__version__, "cv2": cv2.__version__,
    "onnxruntime": onnxruntime.__version__, "providers": onnxruntime.get_available_providers(),
    "numpy_from": numpy.__file__}))
"""
)


def check_obs_imports(python: Path, repo: Path = REPO) -> tuple[dict | None, str]:
    """Import the engine in ``python`` the way the OBS script does; (versions, "") or (None, why)."""
    try:
        done = subprocess.run(
            [str(python), "-c", _IMPORT_CHECK, str(repo)], capture_output=True, text=True, timeout=300
        )
    except (OSError, subprocess.SubprocessError) as error:
        return None, str(error)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        return None, lines[-1] if lines else f"exit {done.returncode}"
    return json.loads(done.stdout.strip().splitlines()[-1]), ""


def read_marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def install_obs_deps(
    obs_python: Path,
    version: tuple[int, int],
    requirements: Sequence[str],
    pip_python: Path | str = sys.executable,
) -> str:
    """Install ``requirements`` for ``obs_python`` into its :func:`obs_deps_dir`; say what was done.

    A complete earlier install with the same requirements that still imports is kept. A new
    one is built beside it and swapped in only when pip succeeded, so OBS never sees half a
    folder; a folder without our marker is never touched. pip runs from ``pip_python`` with
    ``--python``, so OBS's Python needs no pip of its own.
    """
    folder = obs_deps_dir(version, platform_of(obs_python))
    marker = read_marker(folder)
    if folder.exists() and marker is None:
        raise RuntimeError(f"{folder} exists but was not made by install.py; move it away and run again.")
    if marker and marker.get("requirements") == list(requirements) and check_obs_imports(obs_python)[0]:
        return f"already in place in {folder}"
    staging = folder.with_name(folder.name + ".new")
    if staging.exists():
        shutil.rmtree(staging)  # our own unfinished attempt
    command = [str(pip_python), "-m", "pip", "--python", str(obs_python), "install", "--target", str(staging)]
    done = subprocess.run([*command, "--disable-pip-version-check", *requirements])
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(
            f"pip could not install the OBS dependencies (exit {done.returncode}): {' '.join(command)}"
        )
    (staging / MARKER).write_text(
        json.dumps({"python": str(obs_python), "requirements": list(requirements)}, indent=1),
        encoding="utf-8",
    )
    old = folder.with_name(folder.name + ".old")
    if folder.exists():
        os.replace(folder, old)
    os.replace(staging, folder)
    shutil.rmtree(old, ignore_errors=True)
    return f"installed into {folder}"


# ---------------------------------------------------------------- scene collections


def scene_collections(config_dir: Path) -> dict[str, Path]:
    """Scene collection name -> its JSON file in OBS's settings folder."""
    found = {}
    for path in sorted((config_dir / "basic" / "scenes").glob("*.json")):
        try:
            name = json.loads(path.read_text(encoding="utf-8")).get("name") or path.stem
        except (OSError, ValueError):
            continue
        found[name] = path
    return found


def add_script_to_collection(collection: Path, script: Path = OBS_SCRIPT) -> bool:
    """Load ``script`` with this scene collection; False when it is already there.

    The collection file is first copied to ``<file>.before-inswapper-live`` (once), then
    replaced atomically. OBS rewrites the file when it exits, so OBS must be closed.
    """
    data = json.loads(collection.read_text(encoding="utf-8"))
    scripts = data.setdefault("modules", {}).setdefault("scripts-tool", [])
    wanted = script.resolve().as_posix()
    if any(Path(s.get("path", "")).resolve().as_posix() == wanted for s in scripts if isinstance(s, dict)):
        return False
    scripts.append({"path": wanted, "settings": {}})
    backup = collection.with_name(collection.name + ".before-inswapper-live")
    if not backup.exists():
        shutil.copy2(collection, backup)
    tmp = collection.with_name(collection.name + ".tmp-inswapper-live")
    tmp.write_text(json.dumps(data, indent=4), encoding="utf-8")
    os.replace(tmp, collection)
    return True


def obs_is_running(system: str | None = None) -> bool:
    """Best effort: whether an OBS process is running (it would overwrite an edited collection)."""
    import platform

    system = system or platform.system()
    try:
        if system == "Linux":
            for comm in Path("/proc").glob("[0-9]*/comm"):
                try:
                    if comm.read_text().strip() == "obs":
                        return True
                except OSError:
                    continue
            return False
        if system == "Windows":
            done = subprocess.run(
                ["tasklist", "/FI", "IMAGENAME eq obs64.exe"], capture_output=True, text=True
            )
            return "obs64.exe" in done.stdout
        done = subprocess.run(["pgrep", "-x", "OBS"], capture_output=True, text=True)
        return done.returncode == 0
    except OSError:
        return False
