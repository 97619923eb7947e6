"""Stand-ins for the three ComfyUI modules the node pack's adapter imports, for the CI tier.

``folder_paths`` follows ComfyUI 0.3.64's behaviour for what the adapter uses (folder table of
(paths, extensions), recursive listing relative to each folder, first folder wins); the
real-ComfyUI tier (test_comfy_real.py) runs the same code against the real modules.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest


class InterruptProcessingException(Exception):
    pass


class FakeComfy:
    """Installs ``folder_paths``, ``comfy.utils`` and ``comfy.model_management`` into sys.modules."""

    def __init__(self, base: Path) -> None:
        self.models_dir = base / "models"
        self.models_dir.mkdir(parents=True, exist_ok=True)
        self.bars: list[FakeProgressBar] = []
        self.interrupt_after: int | None = None
        """Raise the interrupt on this many-th check (1-based); None never interrupts."""
        self.checks = 0
        self.folder_paths = self._folder_paths()
        utils = types.ModuleType("comfy.utils")
        utils.ProgressBar = self._progress_bar  # type: ignore[attr-defined]
        management = types.ModuleType("comfy.model_management")
        management.InterruptProcessingException = InterruptProcessingException  # type: ignore[attr-defined]
        management.throw_exception_if_processing_interrupted = self._check  # type: ignore[attr-defined]
        comfy = types.ModuleType("comfy")
        comfy.utils = utils  # type: ignore[attr-defined]
        comfy.model_management = management  # type: ignore[attr-defined]
        self.modules = {
            "folder_paths": self.folder_paths,
            "comfy": comfy,
            "comfy.utils": utils,
            "comfy.model_management": management,
        }

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeComfy:
        for name, module in self.modules.items():
            monkeypatch.setitem(sys.modules, name, module)
        return self

    def _progress_bar(self, total: int) -> FakeProgressBar:
        bar = FakeProgressBar(total)
        self.bars.append(bar)
        return bar

    def _check(self) -> None:
        self.checks += 1
        if self.interrupt_after is not None and self.checks >= self.interrupt_after:
            raise InterruptProcessingException()

    def _folder_paths(self) -> types.ModuleType:
        fp = types.ModuleType("folder_paths")
        fp.models_dir = str(self.models_dir)  # type: ignore[attr-defined]
        table: dict[str, tuple[list[str], set[str]]] = {}
        fp.folder_names_and_paths = table  # type: ignore[attr-defined]

        def get_filename_list(name: str) -> list[str]:
            paths, extensions = table[name]
            found: set[str] = set()
            for folder in paths:
                for root, dirs, files in os.walk(folder, followlinks=True):
                    dirs[:] = [d for d in dirs if d != ".git"]
                    for f in files:
                        rel = os.path.relpath(os.path.join(root, f), folder)
                        if not extensions or os.path.splitext(rel)[1].lower() in extensions:
                            found.add(rel)
            return sorted(found)

        def get_full_path(name: str, filename: str) -> str | None:
            if name not in table:
                return None
            filename = os.path.relpath(os.path.join("/", filename), "/")
            for folder in table[name][0]:
                path = os.path.join(folder, filename)
                if os.path.isfile(path):
                    return path
            return None

        fp.get_filename_list = get_filename_list  # type: ignore[attr-defined]
        fp.get_full_path = get_full_path  # type: ignore[attr-defined]
        return fp


class FakeProgressBar:
    def __init__(self, total: int) -> None:
        self.total = total
        self.current = 0

    def update(self, value: int) -> None:
        self.current += value
