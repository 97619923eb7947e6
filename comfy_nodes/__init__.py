"""ComfyUI custom nodes for inswapper-live: LoadSwapModel, ExtractSource, SwapFace and friends."""

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
