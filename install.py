#!/usr/bin/env python3
"""Set up inswapper-live: packages, models, OBS and ComfyUI hookup, and a self-check swap.

    python install.py            # .venv, the right onnxruntime, verified models, a test swap
    python install.py --help     # every option
    python install.py --check    # what is installed and working

In ComfyUI/custom_nodes (as ComfyUI-Manager runs it) it sets up that ComfyUI's Python instead.

It runs before anything is installed, so it loads the package from this folder directly.
"""

import sys

if sys.version_info < (3, 11):  # noqa: UP036 - an older Python must still be told what to do
    sys.exit(
        f"inswapper-live needs Python 3.11 or newer; this is Python {sys.version.split()[0]} "
        f"({sys.executable}). Install Python 3.11+ (python.org, or `sudo apt install python3.11 "
        "python3.11-venv`) and run it with that: python3.11 install.py"
    )

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def _load_package() -> None:
    """Import this checkout as the ``inswapper_live`` package, whatever its folder is called."""
    spec = importlib.util.spec_from_file_location(
        "inswapper_live", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["inswapper_live"] = module
    spec.loader.exec_module(module)


if __name__ == "__main__":
    _load_package()
    from inswapper_live.core.install.cli import main

    sys.exit(main())
