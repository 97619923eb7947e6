"""``python install.py``: from a fresh clone to a working swap in one command.

Two stages. Under whatever Python started install.py (standard library only), it makes the
environment (``.venv`` unless ``--here``) and hands over to that environment's Python, which
installs the packages with the right onnxruntime build, places and verifies the models, sets
up OBS and ComfyUI when asked, and ends with a self-check swap. Every step says what it did;
a step that fails says why and what to do, and the others still run where they can.

A checkout inside ``ComfyUI/custom_nodes`` (where ComfyUI-Manager clones the pack and then runs
``install.py`` with ComfyUI's Python and no arguments) is set up for that ComfyUI instead: only
what ComfyUI's Python lacks is installed, an onnxruntime build it has is kept, the default models
go to ``ComfyUI/models/inswapper_live``, and no ``.venv`` is made.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ... import __version__
from ..errors import InswapperLiveError
from ..manifest import MANIFEST_PATH, load_manifest
from ..resolve import MODELS_ENV, comfyui_model_dirs, search_dirs
from .comfyui import comfyui_around, find_comfyui_python, is_python_of, place_example_images
from .env import (
    MIN_PYTHON,
    ORT_CHOICES,
    REPO,
    OrtChoice,
    choose_onnxruntime,
    create_venv,
    install_packages,
    onnxruntime_minimum,
    probe_nvidia,
    project_requirements,
    requirement_name,
    running_in,
    venv_python,
    with_onnxruntime,
)
from .models import ModelOutcome, ModelSources, install_models, missing_report

log = logging.getLogger("inswapper_live.install")

STATE = REPO / ".install-state.json"
"""What earlier runs set up (models folder, ComfyUI, OBS's Python), for ``--check`` and re-runs."""
SELFCHECK_OUTPUT = REPO / "out" / "install-selfcheck.png"
OBS_NOT_NEEDED = ("av",)
"""Video-file IO for the CLI; the OBS filter gets frames from OBS (saves OBS's Python ~100 MB)."""
EPILOG = """exit status: 0 when every step worked (missing model files are listed but do not fail
the run: the self-check then uses stand-ins), 1 when a step failed; with --check, 1 when
anything is broken or the CLI is not ready."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python install.py",
        description="Set up inswapper-live: packages, models, OBS and ComfyUI hookup, and a self-check swap.",
        epilog=EPILOG,
    )
    models = p.add_argument_group("models")
    models.add_argument(
        "--models-dir",
        type=Path,
        metavar="DIR",
        help=f"where model files go (default {MANIFEST_PATH.parent})",
    )
    models.add_argument(
        "--from",
        dest="from_dirs",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="a folder of model files or archives you downloaded by hand: verified, then copied in (repeatable)",
    )
    models.add_argument("--offline", action="store_true", help="download nothing; report what is missing")
    models.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help="also install this model (e.g. inswapper_128_fp16, det_500m, yunet)",
    )
    env = p.add_argument_group("Python environment")
    where = env.add_mutually_exclusive_group()
    where.add_argument(
        "--venv",
        type=Path,
        help="the virtual environment (default .venv; inside ComfyUI/custom_nodes: ComfyUI's Python, no venv)",
    )
    where.add_argument(
        "--here", action="store_true", help="install into the Python running install.py instead"
    )
    env.add_argument(
        "--dev", action="store_true", help="also install the test tools (pytest, ruff, insightface)"
    )
    env.add_argument(
        "--onnxruntime",
        choices=ORT_CHOICES,
        default="auto",
        help="onnxruntime build: auto picks CUDA where nvidia-smi finds a GPU, else CPU",
    )
    obs = p.add_argument_group("OBS Studio")
    obs.add_argument("--obs", action="store_true", help="make the dependencies importable by OBS's Python")
    obs.add_argument(
        "--obs-python", type=Path, metavar="PATH", help="OBS's Python (interpreter or folder) when not found"
    )
    obs.add_argument(
        "--obs-collection", metavar="NAME", help="also load the filter script in this OBS scene collection"
    )
    comfy = p.add_argument_group("ComfyUI")
    comfy.add_argument("--comfyui", type=Path, metavar="DIR", help="link the node pack into DIR/custom_nodes")
    comfy.add_argument(
        "--comfyui-python", type=Path, metavar="PATH", help="ComfyUI's Python (default: found in DIR)"
    )
    comfy.add_argument("--comfyui-copy", action="store_true", help="copy the pack instead of linking it")
    p.add_argument(
        "--check", action="store_true", help="report what is installed and working; change nothing"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log every step in detail")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    explicit = args.venv or args.here or args.comfyui
    args.in_comfyui = None if explicit else comfyui_around()
    args.venv = args.venv or REPO / ".venv"
    try:
        if args.in_comfyui:
            return _in_comfyui(args, argv)
        if not args.here and not running_in(args.venv):
            return _hand_over(args, argv)
        return _check(args) if args.check else _install(args)
    except KeyboardInterrupt:
        print("\nInterrupted. Nothing half-written was left in place; run install.py again to go on.")
        return 130


def _hand_over(args: argparse.Namespace, argv: list[str]) -> int:
    """Stage one: make the venv with this Python, then run install.py again inside it."""
    venv = args.venv.expanduser().resolve()
    python = venv_python(venv)
    if args.check:
        if not python.exists():
            print(f"Not installed: {venv} does not exist. Run `python install.py` first.")
            return 1
    else:
        print(f"== Python environment: {venv}", flush=True)
        if not python.exists():
            print(f"   creating it with {sys.executable} (Python {sys.version.split()[0]})", flush=True)
        try:
            python = create_venv(venv)
        except RuntimeError as error:
            print(f"   FAILED: {error}")
            return 1
    return subprocess.run([str(python), str(REPO / "install.py"), *argv]).returncode


def _in_comfyui(args: argparse.Namespace, argv: list[str]) -> int:
    """Set up for the ComfyUI around this checkout, with its Python (the one running, as Manager does)."""
    comfyui = args.in_comfyui
    python = find_comfyui_python(comfyui)
    if python is not None and not is_python_of(python) and sys.prefix == sys.base_prefix:
        print(f"== ComfyUI in {comfyui}: running install.py with its Python {python}", flush=True)
        return subprocess.run([str(python), str(REPO / "install.py"), *argv]).returncode
    args.here = True
    args.models_dir = args.models_dir or comfyui_model_dirs(comfyui)[0]
    return _check(args) if args.check else _install(args)


# ---------------------------------------------------------------- install


class _Run:
    """Collects what each step did, so the summary can say what is ready and what is not."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.next_steps: list[str] = []

    def step(self, title: str) -> None:
        print(f"\n== {title}", flush=True)

    def say(self, text: str) -> None:
        print(f"   {text}", flush=True)

    def fail(self, what: str) -> None:
        self.failures.append(what)
        print(f"   FAILED: {what}", flush=True)


def _install(args: argparse.Namespace) -> int:
    run = _Run()
    state = _read_state()
    models_dir = (
        (args.models_dir or Path(state.get("models_dir") or MANIFEST_PATH.parent)).expanduser().resolve()
    )
    comfyui = args.comfyui.expanduser().resolve() if args.comfyui else None
    choice = None
    whose = "ComfyUI's Python " if args.in_comfyui else ""
    run.step(f"Packages for {whose}{sys.executable} (Python {sys.version.split()[0]})")
    try:
        choice = _pack_packages(run, args) if args.in_comfyui else _packages(run, args)
    except (RuntimeError, ValueError, OSError) as error:
        run.fail(str(error))
    except ImportError as error:
        run.fail(f"the packages were installed but do not import ({error}); run install.py again with -v")
    outcomes = _models(run, args, models_dir, comfyui or args.in_comfyui)
    if args.obs and choice:
        obs_requirements = [r for r in project_requirements() if requirement_name(r) not in OBS_NOT_NEEDED]
        _obs(run, args, with_onnxruntime(obs_requirements, choice))
    if comfyui and choice:
        _comfyui(run, args, comfyui, choice)
    if args.in_comfyui:
        _example_images(run, args.in_comfyui)
    if choice:
        _selfcheck(run, models_dir)
    else:
        skipped = ["OBS"] * args.obs + ["ComfyUI"] * bool(comfyui) + ["the self-check"]
        run.say(f"skipped {', '.join(skipped)}: they need the packages of the first step")
    if not args.in_comfyui:  # ComfyUI's folder is found again from where the pack sits
        state.update({"models_dir": str(models_dir)})
    if comfyui:
        state.update({"comfyui": str(comfyui), "comfyui_python": str(args.comfyui_python or "") or None})
    if args.obs_python:
        state["obs_python"] = str(args.obs_python.expanduser().resolve())
    _write_state(state)
    _summary(run, outcomes, models_dir, args.in_comfyui, packages_ok=choice is not None)
    return 1 if run.failures else 0


def _packages(run: _Run, args: argparse.Namespace) -> OrtChoice:
    if sys.version_info[:2] < MIN_PYTHON:
        raise RuntimeError(f"Python {sys.version.split()[0]} is too old; inswapper-live needs 3.11 or newer.")
    base = project_requirements()
    gpu = probe_nvidia()
    choice = choose_onnxruntime(args.onnxruntime, gpu, minimum=onnxruntime_minimum(base))
    run.say(f"onnxruntime build: {choice.package} ({choice.reason})")
    requirements = with_onnxruntime(project_requirements(["test"] if args.dev else []), choice)
    removed, installed = install_packages(requirements, choice, REPO, __version__)
    if removed:
        run.say(
            f"removed {', '.join(removed)}: it provides the same module as {choice.package} and would shadow it"
        )
    run.say(f"installed {', '.join(installed)}" if installed else "every package was already in place")
    _say_working(run)
    return choice


def _pack_packages(run: _Run, args: argparse.Namespace) -> OrtChoice:
    """ComfyUI's Python: what it lacks of requirements.txt; onnxruntime only where it has no build."""
    from .comfyui import install_requirements, pack_requirements

    choice = choose_onnxruntime(
        args.onnxruntime, probe_nvidia(), minimum=onnxruntime_minimum(project_requirements())
    )
    done = install_requirements(Path(sys.executable), pack_requirements(), choice)
    run.say(f"requirements {done}")
    if "kept its onnxruntime" in done and args.onnxruntime != "auto":
        run.say(
            f"--onnxruntime {args.onnxruntime} was not applied: ComfyUI's build is never replaced here "
            "(other packs use it too); uninstall it first to change it"
        )
    run.say("the pack runs from this folder in ComfyUI: no .venv and no editable install are made")
    _say_working(run)
    return choice


def _say_working(run: _Run) -> None:
    """Import what was installed, fresh, and say which onnxruntime providers it offers."""
    importlib.invalidate_caches()
    import numpy
    import onnxruntime

    from ..runtime import available_providers

    run.say(
        f"working: numpy {numpy.__version__}, onnxruntime {onnxruntime.__version__} with "
        f"{', '.join(available_providers())}"
    )


def _models(
    run: _Run, args: argparse.Namespace, models_dir: Path, comfyui: Path | None
) -> list[ModelOutcome]:
    run.step(f"Models in {models_dir}")
    manifest = load_manifest()
    names = [e.name for e in manifest.defaults()] + list(args.model)
    runtime_dirs = [d for d in search_dirs(None) if d.resolve() != models_dir]
    sources = ModelSources(
        models_dir=models_dir,
        from_dirs=tuple(d.expanduser().resolve() for d in args.from_dirs),
        reuse_dirs=tuple(runtime_dirs),
        link_dirs=tuple(d for d in comfyui_model_dirs(comfyui) if d.resolve() != models_dir)
        if comfyui
        else (),
        offline=args.offline,
    )
    try:
        outcomes = install_models(manifest, names, sources, _ByteProgress())
    except (InswapperLiveError, OSError) as error:
        run.fail(f"models: {error}")
        return []
    for o in outcomes:
        if o.ok:
            detail = f" ({o.detail})" if o.detail and o.how != "reused" else ""
            run.say(f"ok       {o.entry.file:34} {o.how}{detail}: {o.path}")
        elif o.how == "user-supplied":
            run.say(f"-        {o.entry.file:34} not present; {o.entry.licence}")
        else:
            run.say(f"MISSING  {o.entry.file:34} {o.detail}")
        unreachable = o.detail.startswith("network unreachable")
        for problem in o.problems[:1] if unreachable else o.problems:  # one "no network" is enough
            run.say(f"         note: {problem}")
    missing = missing_report(outcomes, models_dir)
    if missing:
        run.say("")
        run.say("These files are missing. Download each from one of its URLs and put it where shown,")
        run.say("or put the downloads (files or archives) in one folder and run:")
        flag = "" if args.in_comfyui else _models_dir_flag(models_dir)  # there it is the default
        run.say(f"    python install.py --from FOLDER{flag}")
        for line in missing:
            run.say(f"  {line}")
    if models_dir != MANIFEST_PATH.parent.resolve() and str(models_dir) not in os.environ.get(MODELS_ENV, ""):
        run.next_steps.append(
            f"Models are in {models_dir}: pass --models-dir {models_dir} to inswapper-live, or set {MODELS_ENV}={models_dir}"
        )
    return outcomes


def _models_dir_flag(models_dir: Path) -> str:
    return "" if models_dir == MANIFEST_PATH.parent.resolve() else f" --models-dir {models_dir}"


def _obs(run: _Run, args: argparse.Namespace, requirements: list[str]) -> None:
    from .obs import (
        OBS_SCRIPT,
        add_script_to_collection,
        check_obs_imports,
        find_obs_python,
        obs_config_dirs,
        obs_is_running,
        scene_collections,
    )

    run.step("OBS Studio")
    state_python = _read_state().get("obs_python")
    explicit = args.obs_python or (Path(state_python) if state_python else None)
    found = find_obs_python(explicit.expanduser() if explicit else None)
    if found.python is None or found.version is None:
        run.fail(f"OBS: {found.problem}")
        return
    run.say(f"OBS's Python: {found.python} (Python {found.version[0]}.{found.version[1]}; {found.found_by})")
    if found.version < MIN_PYTHON:
        run.fail(
            f"OBS uses Python {found.version[0]}.{found.version[1]}; inswapper-live needs 3.11 or newer. "
            "Install Python 3.11 or 3.12 and choose it in OBS under Tools > Scripts > Python Settings."
        )
        return
    from .obs import install_obs_deps

    try:
        run.say(f"dependencies {install_obs_deps(found.python, found.version, requirements)}")
    except RuntimeError as error:
        run.fail(f"OBS: {error}")
        return
    versions, why = check_obs_imports(found.python)
    if versions is None:
        run.fail(f"OBS: its Python still cannot import the engine: {why}")
        return
    run.say(
        f"checked: OBS's Python imports the engine (numpy {versions['numpy']}, onnxruntime "
        f"{versions['onnxruntime']}: {', '.join(versions['providers'])})"
    )
    if not OBS_SCRIPT.is_file():
        run.say(f"note: the filter script {OBS_SCRIPT} is not in this checkout yet")
    run.next_steps.append(f"OBS: Tools > Scripts > + and choose {OBS_SCRIPT}")
    if args.obs_collection:
        collections: dict[str, Path] = {}
        for config in obs_config_dirs(platform.system()):
            collections.update(scene_collections(config))
        target = collections.get(args.obs_collection)
        if target is None:
            known = ", ".join(sorted(collections)) or "none found"
            run.fail(f"OBS: no scene collection called {args.obs_collection!r} (collections: {known})")
        elif obs_is_running():
            run.fail(
                "OBS is running; it rewrites the scene collection when it exits. Close OBS and run again."
            )
        elif add_script_to_collection(target):
            run.say(f"added the filter script to scene collection {args.obs_collection!r} ({target})")
        else:
            run.say(f"scene collection {args.obs_collection!r} already loads the filter script")


def _comfyui(run: _Run, args: argparse.Namespace, comfyui: Path, choice: OrtChoice) -> None:
    from .comfyui import (
        check_comfyui_dir,
        find_comfyui_python,
        install_requirements,
        link_pack,
        pack_requirements,
    )

    requirements = pack_requirements()
    run.step(f"ComfyUI in {comfyui}")
    try:
        comfyui = check_comfyui_dir(comfyui)
        run.say(link_pack(comfyui, copy=args.comfyui_copy))
    except (InswapperLiveError, OSError) as error:
        run.fail(f"ComfyUI: {error}")
        return
    python = args.comfyui_python or find_comfyui_python(comfyui)
    if python is None:
        run.say("ComfyUI's Python was not found in that folder; install the requirements with it yourself:")
        run.say(f"    <ComfyUI's python> -m pip install {' '.join(with_onnxruntime(requirements, choice))}")
        run.say("    (keep an onnxruntime build it already has; never install a second one)")
    else:
        try:
            run.say(f"requirements {install_requirements(python.expanduser(), requirements, choice)}")
        except (RuntimeError, OSError) as error:
            run.fail(f"ComfyUI: {error}")
            return
    run.next_steps.append(
        f"ComfyUI: restart it; the nodes are in {comfyui / 'custom_nodes' / 'inswapper-live'}"
    )


def _example_images(run: _Run, comfyui: Path) -> None:
    run.step("Example workflow")
    try:
        placed = place_example_images(comfyui)
    except OSError as error:
        run.fail(f"ComfyUI: cannot put the example photo in {comfyui / 'input'}: {error}")
        return
    for path in placed:
        run.say(f"copied the example photo (public domain) to {path}")
    if not placed:
        run.say(f"the example photo is already in {comfyui / 'input'}")


def _selfcheck(run: _Run, models_dir: Path) -> None:
    from .check import report_providers
    from .selfcheck import run_selfcheck

    run.step("Self-check")
    report_providers(run.say, run.fail)
    result = run_selfcheck(models_dir, SELFCHECK_OUTPUT)
    for line in result.lines:
        run.say(line)
    if result.stand_ins and not result.skipped:
        run.say(
            f"NOTE: the swap used synthetic STAND-INS for {', '.join(result.stand_ins)}, not the real "
            "weights: it proves the pipeline runs, the picture is tinted rather than face-swapped."
        )
    if result.ok:
        run.say(f"result written to {result.output}")
    elif result.skipped:
        run.say("self-check skipped: it needs a face detector (see the missing files above)")
    else:
        run.fail("the self-check swap did not succeed (see above)")


def _summary(
    run: _Run, outcomes: list[ModelOutcome], models_dir: Path, comfyui: Path | None, packages_ok: bool
) -> None:
    missing = [o.entry.file for o in outcomes if o.how == "missing"]
    run.step("Summary")
    if run.failures:
        run.say(f"{len(run.failures)} step(s) FAILED:")
        for failure in run.failures:
            run.say(f"  - {failure}")
    elif missing:
        run.say(f"Installed, but {len(missing)} model file(s) are missing: {', '.join(missing)} (see above).")
    else:
        run.say("Everything is installed and the self-check swapped a face with the real models.")
    if not packages_ok:
        return
    if comfyui:
        _comfyui_summary(run, comfyui, missing)
        return
    flags, lacking = _swap_flags(models_dir)
    command = f"{Path(sys.executable).parent / 'inswapper-live'} swap --source ME.jpg --target PHOTO.jpg --output OUT.jpg"
    if lacking:
        run.say(f"Swap:   not ready: it needs {' and '.join(lacking)} (see the missing files above); then")
        run.say(f"        {command}{_models_dir_flag(models_dir)}")
    else:
        run.say(f"Swap:   {command}{flags}")
    run.say(f"Check:  {Path(sys.executable)} {REPO / 'install.py'} --check")
    for step in run.next_steps:
        run.say(step)


def _swap_flags(models_dir: Path) -> tuple[str, list[str]]:
    """CLI flags that name the installed models where the CLI's defaults are missing, and what is lacking.

    The swapper and recogniser have no stand-in outside the self-check; a detector other than
    det_10g works as well (smaller, a little less accurate), so it is named instead.
    """
    from ..engine import EngineSettings
    from .selfcheck import DETECTORS, RECOGNIZERS, SWAPPERS, first_present

    defaults = EngineSettings()
    flags = _models_dir_flag(models_dir)
    lacking = []
    for flag, names, default in (
        ("--swapper", SWAPPERS, defaults.swapper),
        ("--recognizer", RECOGNIZERS, defaults.recognizer),
        ("--detector", DETECTORS, defaults.detector),
    ):
        found = first_present(names, models_dir)
        if found is None:
            lacking.append(default)
        elif found[0] != default:
            flags += f" {flag} {found[0]}"
    return flags, lacking


def _comfyui_summary(run: _Run, comfyui: Path, missing: list[str]) -> None:
    workflow = REPO / "comfy_nodes" / "workflows" / "swap_face_ui.json"
    run.say(f"ComfyUI: restart it (or press R to refresh the model lists); the nodes are in {REPO}")
    if missing:
        run.say(f"Example: {workflow} runs once {', '.join(missing)} are in {comfyui_model_dirs(comfyui)[0]}")
    else:
        run.say(f"Example: drag {workflow} onto the canvas and press Run")


class _ByteProgress:
    """Download progress: one redrawn line on a terminal, a line every 10% otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.started: dict[str, float] = {}
        self.shown: dict[str, int] = {}

    def __call__(self, name: str, done: int, total: int | None) -> None:
        start = self.started.setdefault(name, time.monotonic())
        step = (total or 1 << 30) // 10
        if not self.tty and done != total and done - self.shown.get(name, 0) < step:
            return
        self.shown[name] = done
        rate = done / max(time.monotonic() - start, 1e-3) / 1e6
        size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        line = f"   downloading {name}: {size} at {rate:.1f} MB/s"
        if self.tty:
            sys.stderr.write("\r" + line + ("\n" if done == total else ""))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


# ---------------------------------------------------------------- check


def _check(args: argparse.Namespace) -> int:
    from .check import check

    state = _read_state()
    models_dir = args.models_dir or (Path(state["models_dir"]) if state.get("models_dir") else None)
    comfyui = args.comfyui or (Path(state["comfyui"]) if state.get("comfyui") else None)
    comfyui_python = args.comfyui_python or (
        Path(state["comfyui_python"]) if state.get("comfyui_python") else None
    )
    obs_python = args.obs_python or (Path(state["obs_python"]) if state.get("obs_python") else None)
    report = check(models_dir, comfyui, comfyui_python, obs_python, in_comfyui=args.in_comfyui)
    print("\n".join(report.lines))
    if report.exit_code:
        problems = report.broken + [f"{part} is not ready" for part in report.not_ready]
        print(f"\n{len(problems)} problem(s): " + "; ".join(problems))
    else:
        print("\nEverything checked works.")
    return report.exit_code


def _read_state() -> dict:
    try:
        data = json.loads(STATE.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_state(state: dict) -> None:
    try:
        STATE.write_text(json.dumps(state, indent=1), encoding="utf-8")
    except OSError as error:
        log.warning("Cannot write %s: %s", STATE, error)
