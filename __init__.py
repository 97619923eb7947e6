"""inswapper-live: a live face-swap engine for the inswapper model family.

The repository root is the ``inswapper_live`` package: ``core`` is the engine, ``obs_plugin``
the OBS Studio filter and ``comfy_nodes`` the ComfyUI nodes. Cloned into
``ComfyUI/custom_nodes/``, this folder loads as a node pack through the two mappings below;
importing them needs neither ComfyUI nor torch.
"""

from .comfy_nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

__version__ = "0.1.0"
__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "__version__"]
