"""ComfyUI custom nodes for inswapper-live: LoadSwapModel, ExtractSource, SwapFace and friends.

requirements.txt leaves onnxruntime out (it would replace a GPU build ComfyUI has), so a pack
installed by hand may lack it: then no node is registered and the log says how to get one,
instead of an import traceback.
"""

import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)

try:
    import onnxruntime  # noqa: F401
except ImportError as error:
    pack = Path(__file__).resolve().parent.parent
    log.error(
        "inswapper-live: onnxruntime does not import in ComfyUI's Python %s (%s), so its nodes are not "
        "loaded. Run `%s %s` (it installs the build that fits this machine and keeps any other), or "
        "`%s -m pip install onnxruntime-gpu` (NVIDIA) / `onnxruntime` (CPU, Apple); then restart ComfyUI.",
        sys.executable,
        error,
        sys.executable,
        pack / "install.py",
        sys.executable,
    )
    NODE_CLASS_MAPPINGS: dict[str, type] = {}
    NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
else:
    from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
