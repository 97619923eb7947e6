"""``python install.py --check``: what is installed, what works, what is ready; non-zero when broken.

Nothing is changed. Execution providers are judged by running a tiny model on each, not by
what the onnxruntime build claims; models by their sha256; OBS by importing the engine in
OBS's own Python the way the filter script does; ComfyUI by its link and its Python.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InswapperLiveError
from ..manifest import load_manifest
from ..resolve import find_file, search_dirs
from .comfyui import COPY_MARKER, find_comfyui_python, pack_folder
from .env import ORT_PACKAGES, REPO, probe_nvidia, project_requirements, requirement_name
from .models import check_file
from .obs import MARKER, OBS_SCRIPT, check_obs_imports, find_obs_python, obs_deps_dir, platform_of
from .selfcheck import probe_providers


@dataclass
class CheckReport:
    lines: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    not_ready: list[str] = field(default_factory=list)

    def say(self, text: str = "") -> None:
        self.lines.append(text)

    def bad(self, what: str) -> None:
        self.broken.append(what)
        self.say(f"  BROKEN  {what}")

    @property
    def exit_code(self) -> int:
        return 1 if self.broken or self.not_ready else 0


def check(
    models_dir: Path | None,
    comfyui: Path | None,
    comfyui_python: Path | None,
    obs_python: Path | None,
    in_comfyui: Path | None = None,
) -> CheckReport:
    """``in_comfyui``: this checkout is a pack in that ComfyUI's custom_nodes, run with ComfyUI's Python."""
    report = CheckReport()
    _packages(report, installed=in_comfyui is None)
    _providers(report)
    defaults_ok = _models(report, models_dir)
    report.say("Parts")
    if in_comfyui is not None:
        _pack_in_comfyui(report, defaults_ok)
        return report
    if defaults_ok and not report.broken:
        report.say("  ready   CLI: `inswapper-live swap --source ME.jpg --target PHOTO.jpg --output OUT.jpg`")
    else:
        report.not_ready.append("CLI")
        report.say("  NOT READY  CLI: see the problems above")
    _obs(report, obs_python)
    _comfyui(report, comfyui, comfyui_python)
    return report


def _pack_in_comfyui(report: CheckReport, defaults_ok: bool) -> None:
    if defaults_ok and not report.broken:
        report.say(f"  ready   ComfyUI: the pack in {REPO}, with {sys.executable}")
    else:
        report.not_ready.append("ComfyUI")
        report.say("  NOT READY  ComfyUI: see the problems above")


def _packages(report: CheckReport, installed: bool = True) -> None:
    """``installed``: the package must import from this checkout (not so in ComfyUI, which loads the folder)."""
    report.say("Python")
    report.say(f"  {sys.executable} (Python {sys.version.split()[0]})")
    if installed:
        _editable(report)
    else:
        report.say(f"  ok      inswapper_live runs from {REPO} (ComfyUI loads its custom_nodes folders)")
    for requirement in project_requirements():
        name = requirement_name(requirement)
        if name == "onnxruntime":
            continue
        try:
            report.say(f"  ok      {name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            report.bad(f"{name} is not installed: run `python install.py`")
    builds = []
    for name in ORT_PACKAGES:
        try:
            builds.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    if not builds:
        report.bad("no onnxruntime build is installed: run `python install.py`")
    elif len(builds) > 1:
        report.bad(
            f"several onnxruntime builds are installed ({', '.join(builds)}); they overwrite each other's "
            "files. Run `python install.py`: it keeps the right one"
        )
    else:
        report.say(f"  ok      {builds[0]}")
    gpu = probe_nvidia()
    report.say(f"  GPU     {gpu.note}")
    if gpu.gpus and not any(b.startswith("onnxruntime-gpu ") for b in builds):
        report.say(
            "  WARNING an NVIDIA GPU is present but the onnxruntime build is not the GPU one: "
            "run `python install.py` (or `--onnxruntime cuda`)"
        )


def _editable(report: CheckReport) -> None:
    """The package imports from this checkout (an editable install), not another copy."""
    done = subprocess.run(
        [sys.executable, "-c", "import inswapper_live; print(inswapper_live.__file__)"],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),  # not the checkout: its folder must not shadow the install
    )
    location = Path(done.stdout.strip()).resolve().parent if done.returncode == 0 else None
    if location != REPO:
        where = f"from {location}" if location else "not at all"
        report.bad(
            f"`import inswapper_live` finds it {where}, not this checkout {REPO}: run `python install.py`"
        )
    else:
        report.say(f"  ok      inswapper_live {location} (editable install)")


def report_providers(say: Callable[[str], None], bad: Callable[[str], None]) -> None:
    """Run the tiny model on each provider; a provider that is offered but fails is broken."""
    try:
        probes = probe_providers()
    except InswapperLiveError as error:
        bad(str(error))
        return
    for probe in probes:
        if probe.works:
            say(f"ok      {probe.provider}: {probe.detail}")
        else:
            bad(f"{probe.provider} is in the onnxruntime build but does not run: {probe.detail}")


def _providers(report: CheckReport) -> None:
    report.say("Execution providers (a tiny model run on each)")
    report_providers(lambda text: report.say(f"  {text}"), report.bad)


def _models(report: CheckReport, models_dir: Path | None) -> bool:
    """Report every known model; True when the default ones are present and verified."""
    report.say("Models")
    dirs = search_dirs(models_dir)
    defaults_ok = True
    for entry in load_manifest().models.values():
        found = find_file(entry.file, dirs)
        if found is None:
            if entry.default:
                defaults_ok = False
                report.say(f"  MISSING {entry.file} (a default model): run `python install.py`")
            else:
                note = "licensed separately; supply your own file" if entry.user_supplied else "optional"
                report.say(f"  -       {entry.file}: not installed ({note})")
            continue
        problem = check_file(found, entry)
        if problem:
            defaults_ok = defaults_ok and not entry.default
            report.bad(f"{found}: {problem}. Run `python install.py` to replace it")
        else:
            verified = "sha256 verified" if entry.versions else "no published checksum"
            report.say(f"  ok      {entry.file}: {found} ({verified})")
    return defaults_ok


def _obs(report: CheckReport, explicit: Path | None) -> None:
    found = find_obs_python(explicit)
    if found.python is None or found.version is None:
        report.say(f"  -       OBS: not set up ({found.problem or 'OBS Python not found'})")
        return
    folder = obs_deps_dir(found.version, platform_of(found.python))
    if not (folder / MARKER).is_file():
        report.say(f"  -       OBS: not set up for {found.python} (run `python install.py --obs`)")
        return
    versions, why = check_obs_imports(found.python)
    if versions is None:
        report.bad(f"OBS: {found.python} cannot import the engine with {folder}: {why}")
    elif not OBS_SCRIPT.is_file():
        report.bad(f"OBS: the filter script {OBS_SCRIPT} is missing from this checkout")
    else:
        report.say(
            f"  ready   OBS ({found.python}, onnxruntime {versions['onnxruntime']}): add {OBS_SCRIPT} "
            "in Tools > Scripts"
        )


def _comfyui(report: CheckReport, comfyui: Path | None, python: Path | None) -> None:
    if comfyui is None:
        report.say("  -       ComfyUI: not set up (run `python install.py --comfyui DIR`)")
        return
    pack = pack_folder(comfyui)
    linked = pack.exists() and (pack.resolve() == REPO or (pack / COPY_MARKER).is_file())
    if not linked:
        report.bad(
            f"ComfyUI: {pack} is missing or not this pack: run `python install.py --comfyui {comfyui}`"
        )
        return
    python = python or find_comfyui_python(comfyui)
    if python is None:
        report.say(f"  ready   ComfyUI: {pack} (ComfyUI's Python unknown: its packages were not checked)")
        return
    code = "import json, numpy, cv2, onnxruntime; print(json.dumps(onnxruntime.__version__))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        report.bad(f"ComfyUI: {python} cannot import the pack's requirements: {lines[-1] if lines else ''}")
    else:
        version = json.loads(done.stdout)
        report.say(f"  ready   ComfyUI: {pack} ({python}, onnxruntime {version})")
