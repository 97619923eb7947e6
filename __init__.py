"""inswapper-live: a live face-swap engine for the inswapper model family.

The repository root is the ``inswapper_live`` package: ``core`` is the engine, ``obs_plugin``
the OBS Studio filter and ``comfy_nodes`` the ComfyUI nodes.
"""

__version__ = "0.1.0"
