"""The script file OBS loads: finding the package and its dependencies, or saying exactly what to run.

Each case runs the script in a fresh interpreter started with -I -S (no site-packages, no
PYTHON* variables), as OBS's embedded Python is before the script sets up its paths.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from inswapper_live.core.install.obs import MARKER, deps_tag

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path("obs_plugin") / "face_swap_filter.py"
PROBE = """
import importlib.util, json, runpy, sys
script = runpy.run_path(sys.argv[1])
package = sys.modules.get("inswapper_live")
if sys.argv[2] == "load":
    script["script_load"](None)  # outside OBS: logs the problem or fails to find libobs, never raises silently
print(json.dumps({
    "problem": script["_PROBLEM"],
    "description": script["script_description"](),
    "package": getattr(package, "__file__", None),
    "script_dir_on_path": any(p.rstrip("/").endswith("obs_plugin") for p in sys.path),
    "numpy_from": getattr(importlib.util.find_spec("numpy"), "origin", None),
}))
"""


def copy_repository(to: Path) -> Path:
    """The package's files without any virtual environment beside them."""
    for item in ["__init__.py", "core", "obs_plugin", "models/manifest.toml"]:
        source, target = REPO / item, to / item
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    return to


def run_script(repo: Path, env: dict[str, str], load: bool = True) -> tuple[dict, str]:
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE, str(repo / SCRIPT), "load" if load else "-"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.strip(), proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_missing_packages_are_named_with_what_to_run(tmp_path: Path) -> None:
    repo = copy_repository(tmp_path / "inswapper-live")
    result, stderr = run_script(repo, {"PATH": "/usr/bin:/bin"})
    problem = result["problem"]
    assert "numpy" in problem and "cv2" in problem and "onnxruntime" in problem
    assert f"run `python install.py --obs` in {repo}" in problem
    assert str(repo / "obs_plugin" / "_deps" / deps_tag()) in problem
    assert "Not loaded." in result["description"] and "install.py --obs" in result["description"]
    assert "numpy" in stderr  # script_load logged it (in OBS: to OBS's log)
    assert not result["script_dir_on_path"], "the script's folder must not shadow other modules"


def test_packages_where_install_py_puts_them_for_obs(tmp_path: Path) -> None:
    """``install.py --obs`` fills ``obs_plugin/_deps/<python>-<platform>`` (pip --target) and marks it done."""
    repo = copy_repository(tmp_path / "inswapper-live")
    deps = repo / "obs_plugin" / "_deps" / deps_tag()
    for name in ("numpy", "cv2", "onnxruntime", "onnx", "safetensors", "PIL"):  # stand-ins: found, not run
        (deps / name).mkdir(parents=True)
        (deps / name / "__init__.py").write_text("")
    (deps / MARKER).write_text("{}")
    result, stderr = run_script(repo, {"PATH": "/usr/bin:/bin"}, load=False)
    assert result["problem"] == "", stderr[-2000:]
    assert result["numpy_from"] == str(deps / "numpy" / "__init__.py")
    assert result["package"] == str(repo / "__init__.py")


def test_packages_from_the_environment_and_the_repository_as_package(tmp_path: Path) -> None:
    """Dependencies from INSWAPPER_LIVE_PYTHONPATH; the package is the folder the script sits in."""
    repo = copy_repository(tmp_path / "inswapper-live")
    deps = tmp_path / "deps"
    deps.mkdir()
    # A .pth naming this test run's site-packages: numpy & co importable, this package not installed.
    (deps / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    result, stderr = run_script(repo, {"PATH": "/usr/bin:/bin", "INSWAPPER_LIVE_PYTHONPATH": str(deps)})
    assert result["problem"] == "", stderr[-2000:]
    assert result["package"] == str(repo / "__init__.py")
    assert "The Face Swap filter was not registered: libobs" in stderr  # got as far as registering
