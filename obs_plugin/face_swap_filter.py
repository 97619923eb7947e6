"""Face Swap for OBS Studio: add this file in Tools > Scripts, then add "Face Swap" to a source's filters.

This is the script OBS loads. It makes the ``inswapper_live`` package (this checkout) and its
dependencies (numpy, OpenCV, onnxruntime, from where ``install.py --obs`` put them for OBS's
Python) importable, registers the filter type and routes the package's log to OBS's log. When
a dependency is missing it says, in the script's description and in OBS's log, what to run.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import logging
import platform
import site
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PACKAGE = "inswapper_live"
REQUIRED_MODULES = ("numpy", "cv2", "onnxruntime", "onnx", "safetensors", "PIL")


class _ScriptFinder(importlib.abc.MetaPathFinder):
    """Finds this script by its module name, and nothing else.

    OBS imports the script by name from its folder on sys.path, and *Reload Scripts* calls
    ``importlib.reload``, which looks the name up again. The folder is taken off sys.path (its
    module names, formats, settings, ..., must not shadow anything), so this finder answers
    that one lookup instead.
    """

    def __init__(self, name: str, path: Path) -> None:
        self.name, self.path = name, str(path)

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        return importlib.util.spec_from_file_location(fullname, self.path)


def _findable_by_name(name: str) -> None:
    """Keep exactly one finder for this script (a reload runs this again) and the folder off sys.path."""
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
    script = str(Path(__file__).resolve())
    sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "path", None) != script]
    sys.meta_path.append(_ScriptFinder(name, Path(script)))


_findable_by_name(__name__)


def _use_repository_as_package() -> None:
    """Import the checkout this script sits in as ``inswapper_live`` when nothing installed it."""
    if importlib.util.find_spec(PACKAGE) is not None:
        return
    spec = importlib.util.spec_from_file_location(
        PACKAGE, REPO / "__init__.py", submodule_search_locations=[str(REPO)]
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]


_use_repository_as_package()
# Both standard library only: they run before the dependencies can be found.
from inswapper_live.core.install.obs import activate_obs_deps, setup_hint  # noqa: E402
from inswapper_live.obs_plugin.platforms import package_dirs  # noqa: E402


def _use_package_dirs() -> None:
    """install.py's folder for this Python first, then the development ones, all before the system's."""
    for folder in reversed(package_dirs(platform.system(), str(REPO), sys.version_info[:2])):
        if Path(folder).is_dir() and folder not in sys.path:
            before = list(sys.path)
            site.addsitedir(folder)  # runs .pth files: an editable install of this checkout is one
            sys.path[:] = [p for p in sys.path if p not in before] + before
    activate_obs_deps()


def _missing_modules() -> list[str]:
    return [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]


class _ObsLogHandler(logging.Handler):
    """Sends the package's log records to OBS's log (Help > Log Files) at the matching level."""

    def __init__(self, blog) -> None:
        super().__init__()
        self._blog = blog

    def emit(self, record: logging.LogRecord) -> None:
        level = 100 if record.levelno >= logging.ERROR else 200 if record.levelno >= logging.WARNING else 300
        try:
            self._blog(level, f"[Face Swap] {self.format(record)}")
        except Exception:
            self.handleError(record)


def _obs_logging() -> logging.Handler | None:
    try:
        import obspython  # only inside OBS
    except ImportError:
        return None
    handler = _ObsLogHandler(obspython.blog)
    logger = logging.getLogger(PACKAGE)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return handler


_use_package_dirs()
_MISSING = _missing_modules()
_PROBLEM = (
    f"The Face Swap filter needs Python packages that OBS's Python does not have: {', '.join(_MISSING)}. "
    + setup_hint()
    if _MISSING
    else ""
)
_handler: logging.Handler | None = None


def script_description() -> str:
    text = (
        "<b>Face Swap</b> (inswapper-live): adds a <i>Face Swap</i> video filter. Right-click a source, "
        "choose Filters, press + and pick Face Swap. Swap only faces of people who agreed, and tell "
        "your audience (the filter can show a label)."
    )
    if _PROBLEM:
        text += "<br><br><b>Not loaded.</b> " + _PROBLEM
    return text


def script_load(settings: object) -> None:
    global _handler
    _handler = _handler or _obs_logging()
    log = logging.getLogger(f"{PACKAGE}.obs_plugin")
    if _PROBLEM:
        log.error("%s", _PROBLEM)
        return
    from inswapper_live.obs_plugin import libobs
    from inswapper_live.obs_plugin.registration import register

    try:
        register(libobs.load())
    except (OSError, RuntimeError) as error:
        log.error("The Face Swap filter was not registered: %s", error)


def script_unload() -> None:
    global _handler
    if not _PROBLEM:
        from inswapper_live.obs_plugin.registration import unload

        unload()
    if _handler is not None:
        logging.getLogger(PACKAGE).removeHandler(_handler)
        _handler = None
