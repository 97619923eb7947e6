"""The Python side of installing: which interpreter, which onnxruntime build, and pip.

By default everything goes into ``.venv`` in the checkout, made with the Python that runs
install.py: it works the same on every OS, needs no administrator rights, and cannot break
the system's Python (Debian and Ubuntu refuse ``pip install`` into it). ``--here`` installs
into the running interpreter instead (an environment the user manages, such as conda).

onnxruntime comes in builds that all provide the same ``onnxruntime`` module, so exactly one
may be installed: the GPU build only where ``nvidia-smi`` runs and names a GPU whose driver
supports the CUDA version that build needs; the CPU build everywhere else (on macOS it
includes CoreML). Standard library only: this runs before anything is installed.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import platform
import re
import shutil
import site
import subprocess
import sys
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
PHOTO = REPO / "core" / "data" / "grace_hopper.jpg"
"""Grace Hopper, US Navy portrait, public domain (see core/data/README.md): the self-check's and the example workflows' photo."""
MIN_PYTHON = (3, 11)

LOAD_CHECKOUT = """
import importlib.util, sys
repo = sys.argv[1]
spec = importlib.util.spec_from_file_location(
    "inswapper_live", repo + "/__init__.py", submodule_search_locations=[repo])
module = importlib.util.module_from_spec(spec)
sys.modules["inswapper_live"] = module
spec.loader.exec_module(module)
"""
"""Start of a ``python -c`` script: import the checkout given as its first argument as ``inswapper_live``,
in a Python where it is not installed (OBS's; ComfyUI's, which loads the pack from custom_nodes)."""

ORT_PACKAGES = (
    "onnxruntime",
    "onnxruntime-gpu",
    "onnxruntime-directml",
    "onnxruntime-openvino",
    "onnxruntime-rocm",
)
"""Distributions that install the ``onnxruntime`` module; two of them break each other."""

OPENCV_PACKAGES = (
    "opencv-python-headless",
    "opencv-python",
    "opencv-contrib-python",
    "opencv-contrib-python-headless",
)
"""Distributions that install the ``cv2`` module (any of them serves the engine)."""

ORT_CHOICES = ("auto", "cpu", "cuda", "directml", "openvino")

CUDA12_ORT = ">=1.19,<1.27"
"""onnxruntime-gpu 1.19 to 1.26 are built for CUDA 12, 1.27 and later for CUDA 13 (their PyPI
metadata: nvidia-cuda-runtime-cu12 ~=12 / nvidia-cuda-runtime ~=13). A driver supports the CUDA
versions up to the one nvidia-smi prints."""

Runner = Callable[..., subprocess.CompletedProcess]


@dataclass(frozen=True)
class Gpu:
    name: str
    driver: str
    cuda: tuple[int, int] | None
    """The newest CUDA version the driver supports ("CUDA Version" in nvidia-smi's header)."""


@dataclass(frozen=True)
class GpuProbe:
    gpus: tuple[Gpu, ...]
    note: str
    """What was found, or why nothing was (nvidia-smi missing, failing, no GPU)."""


@dataclass(frozen=True)
class OrtChoice:
    package: str
    requirement: str
    reason: str


def probe_nvidia(run: Runner = subprocess.run) -> GpuProbe:
    """The NVIDIA GPUs that ``nvidia-smi`` can talk to; a working driver is the test."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return GpuProbe((), "no NVIDIA GPU: nvidia-smi is not installed")
    try:
        query = run(
            [exe, "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        header = run([exe], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        return GpuProbe((), f"nvidia-smi did not run: {error}")
    if query.returncode != 0:
        message = (query.stderr or query.stdout).strip().splitlines()
        return GpuProbe((), f"nvidia-smi failed: {message[0] if message else query.returncode}")
    match = re.search(r"CUDA Version:\s*(\d+)\.(\d+)", header.stdout)
    cuda = (int(match.group(1)), int(match.group(2))) if match else None
    gpus = []
    for line in query.stdout.strip().splitlines():
        name, _, driver = line.rpartition(",")
        if name.strip():
            gpus.append(Gpu(name.strip(), driver.strip(), cuda))
    if not gpus:
        return GpuProbe((), "nvidia-smi lists no GPU")
    cuda_text = f"CUDA {cuda[0]}.{cuda[1]}" if cuda else "CUDA version unknown"
    names = ", ".join(g.name for g in gpus)
    return GpuProbe(tuple(gpus), f"{names} (driver {gpus[0].driver}, {cuda_text})")


def choose_onnxruntime(
    wanted: str = "auto",
    gpu: GpuProbe | None = None,
    system: str | None = None,
    machine: str | None = None,
    minimum: str = ">=1.16",
) -> OrtChoice:
    """The onnxruntime build for this machine, with the reason in words."""
    system = system or platform.system()
    machine = (machine or platform.machine()).lower()
    if wanted not in ORT_CHOICES:
        raise ValueError(f"--onnxruntime {wanted!r}: choose one of {', '.join(ORT_CHOICES)}")
    if wanted == "cpu":
        return OrtChoice("onnxruntime", f"onnxruntime{minimum}", "asked for the CPU build")
    if wanted == "directml":
        return OrtChoice(
            "onnxruntime-directml", f"onnxruntime-directml{minimum}", "asked for DirectML (Windows GPUs)"
        )
    if wanted == "openvino":
        return OrtChoice(
            "onnxruntime-openvino", f"onnxruntime-openvino{minimum}", "asked for OpenVINO (Intel)"
        )
    if system == "Darwin":
        return OrtChoice(
            "onnxruntime", f"onnxruntime{minimum}", "macOS: the standard build includes CoreML (Apple GPU)"
        )
    gpu = gpu if gpu is not None else probe_nvidia()
    cpu_reason = gpu.note
    if wanted == "cuda" or gpu.gpus:
        if machine not in ("x86_64", "amd64"):
            cpu_reason = f"{gpu.note}; onnxruntime-gpu has no wheels for {machine}"
        else:
            cuda = gpu.gpus[0].cuda if gpu.gpus else None
            found = f"found {gpu.note}" if gpu.gpus else "asked for CUDA"
            if cuda is None or cuda[0] >= 13:
                return OrtChoice(
                    "onnxruntime-gpu",
                    f"onnxruntime-gpu[cuda,cudnn]{minimum}",
                    f"{found}: the CUDA build, with CUDA and cuDNN from pip",
                )
            if cuda[0] == 12:
                versions = ",".join(v for v in (minimum, CUDA12_ORT) if v)
                return OrtChoice(
                    "onnxruntime-gpu",
                    f"onnxruntime-gpu[cuda,cudnn]{versions}",
                    f"{found}: the CUDA 12 build ({CUDA12_ORT}), with CUDA and cuDNN from pip",
                )
            cpu_reason = (
                f"{gpu.note}: this driver supports only CUDA {cuda[0]}.{cuda[1]} and onnxruntime-gpu needs 12 "
                "or later; update the NVIDIA driver and run install.py again"
            )
    hint = " (for an AMD or Intel GPU: --onnxruntime directml)" if system == "Windows" else ""
    return OrtChoice("onnxruntime", f"onnxruntime{minimum}", f"CPU build: {cpu_reason}{hint}")


_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)")


def requirement_name(requirement: str) -> str:
    """The normalised distribution name of a requirement: ``Opencv_Python[x]>=4`` -> ``opencv-python``."""
    match = _REQUIREMENT.match(requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else requirement.strip().lower()


def project_requirements(extras: Sequence[str] = (), pyproject: Path = REPO / "pyproject.toml") -> list[str]:
    """The package's dependencies (and extras) as declared in pyproject.toml."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    for extra in extras:
        requirements += project.get("optional-dependencies", {}).get(extra, [])
    return requirements


def with_onnxruntime(requirements: Sequence[str], choice: OrtChoice | None) -> list[str]:
    """``requirements`` with the onnxruntime line replaced by the chosen build (or dropped: None)."""
    out = [r for r in requirements if requirement_name(r) not in ORT_PACKAGES]
    return [*out, choice.requirement] if choice else out


def onnxruntime_minimum(requirements: Sequence[str]) -> str:
    """The version specifier the project puts on onnxruntime (``>=1.16``), to keep for any build."""
    for r in requirements:
        match = _REQUIREMENT.match(r)
        if match and requirement_name(r) == "onnxruntime":
            return match.group(3).strip()
    return ""


# ---------------------------------------------------------------- interpreters


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def python_version(python: Path, run: Runner = subprocess.run) -> tuple[int, int] | None:
    try:
        done = run(
            [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    major, minor = done.stdout.strip().split(".")
    return int(major), int(minor)


def running_in(venv: Path) -> bool:
    """Whether this process is the venv's interpreter."""
    try:
        return Path(sys.prefix).resolve() == venv.resolve()
    except OSError:
        return False


def create_venv(venv: Path) -> Path:
    """Make ``venv`` with the running Python (kept when it exists and works); return its python."""
    python = venv_python(venv)
    if python.exists():
        version = python_version(python)
        if version is None or version < MIN_PYTHON:
            raise RuntimeError(
                f"{venv} exists but its Python does not work or is older than "
                f"{'.'.join(map(str, MIN_PYTHON))}. Move it away (or pass --venv OTHER_DIR) and run again."
            )
        return python
    done = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
    if done.returncode != 0 or not python.exists():
        detail = (done.stderr or done.stdout).strip()
        hint = ""
        if "ensurepip" in detail:
            v = f"{sys.version_info[0]}.{sys.version_info[1]}"
            hint = f" On Debian or Ubuntu: sudo apt install python{v}-venv"
        raise RuntimeError(f"Cannot create a virtual environment at {venv}: {detail}.{hint}")
    return python


def installed_distributions(python: Path | str, run: Runner = subprocess.run) -> dict[str, str]:
    """Normalised name -> version of every distribution ``python`` can import."""
    code = (
        "import importlib.metadata as m, json, re;"
        "print(json.dumps({re.sub(r'[-_.]+', '-', (d.metadata['Name'] or '')).lower(): d.version"
        " for d in m.distributions()}))"
    )
    done = run([str(python), "-c", code], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{python} cannot list its packages: {done.stderr.strip()}")
    return json.loads(done.stdout)


def pip(python: Path | str, *args: str, run: Runner = subprocess.run) -> None:
    """Run pip for ``python``; its output goes to the terminal so big downloads show progress."""
    command = [str(python), "-m", "pip", *args, "--disable-pip-version-check"]
    log.info("Running %s", " ".join(command))
    done = run(command)
    if done.returncode != 0:
        raise RuntimeError(
            f"pip failed (exit {done.returncode}; its message is above; check the network or proxy): "
            + " ".join(command)
        )


def conflicting_onnxruntimes(installed: dict[str, str], keep: str | None) -> list[str]:
    """Installed onnxruntime builds other than ``keep`` (None: all but one are conflicts)."""
    present = [p for p in ORT_PACKAGES if p in installed]
    if keep is None:
        return present[1:] if len(present) > 1 else []
    return [p for p in present if p != keep]


def unsatisfied(requirements: Sequence[str], installed: Mapping[str, str] | None = None) -> list[str]:
    """The requirements not met yet (all of them before ``packaging`` is there).

    ``installed`` is another interpreter's :func:`installed_distributions`; None means this one.
    One with extras (``onnxruntime-gpu[cuda,cudnn]``) is always left to pip, which checks the extras.
    """
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:
        return list(requirements)
    missing = []
    for text in requirements:
        try:
            requirement = Requirement(text)
            if installed is None:
                version = importlib.metadata.version(requirement.name)
            else:
                version = installed[requirement_name(requirement.name)]
        except (InvalidRequirement, importlib.metadata.PackageNotFoundError, KeyError):
            missing.append(text)
            continue
        if requirement.extras or not requirement.specifier.contains(version, prereleases=True):
            missing.append(text)
    return missing


def editable_from(repo: Path, version: str) -> bool:
    """Whether this interpreter has inswapper-live ``version`` installed in editable mode from ``repo``."""
    for dist in importlib.metadata.distributions(name="inswapper-live", path=site.getsitepackages()):
        try:
            url = json.loads(dist.read_text("direct_url.json") or "{}")
        except ValueError:
            continue
        if not url.get("dir_info", {}).get("editable") or dist.version != version:
            continue
        where = Path(urllib.request.url2pathname(urllib.parse.urlparse(url.get("url", "")).path))
        if where.resolve() == repo.resolve():
            return True
    return False


def install_packages(
    requirements: Sequence[str], choice: OrtChoice, editable: Path, version: str
) -> tuple[list[str], list[str]]:
    """pip-install what this interpreter lacks of ``requirements``, and ``editable`` without its deps.

    Other onnxruntime builds are uninstalled first: they share the module and the one
    installed last silently wins, the usual reason a GPU is not used. Returns (removed,
    installed); a second run with everything in place runs no pip at all.
    """
    python = sys.executable
    removed = conflicting_onnxruntimes(installed_distributions(python), choice.package)
    if removed:
        pip(python, "uninstall", "--yes", *removed)
    needed = unsatisfied(requirements)
    if needed:
        pip(python, "install", *needed)
    if not editable_from(editable, version):
        pip(python, "install", "--quiet", "--no-deps", "--editable", str(editable))
        needed.append(f"inswapper-live (editable, {editable})")
    return removed, needed
