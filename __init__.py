"""inswapper-live: a live face-swap engine for the inswapper model family.

The repository root is the ``inswapper_live`` package: ``core`` is the engine, ``obs_plugin``
the OBS Studio filter and ``comfy_nodes`` the ComfyUI nodes. Cloned into
``ComfyUI/custom_nodes/``, this folder loads as a node pack through ``NODE_CLASS_MAPPINGS`` and
``NODE_DISPLAY_NAME_MAPPINGS``.
"""

__version__ = "0.1.0"
__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "__version__"]


def __getattr__(name: str) -> object:
    """The ComfyUI node mappings, imported from ``.comfy_nodes`` when first asked for.

    ComfyUI asks for them when it loads the pack; importing the package itself (the library, the
    CLI, OBS, or install.py before any dependency is installed) stays free of third-party imports.
    """
    if name in ("NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"):
        from . import comfy_nodes

        return getattr(comfy_nodes, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
