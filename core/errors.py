"""The few exception classes the project raises.

Every message names the file or setting at fault and what to do about it, because the
OBS status line, the ComfyUI error popup and the CLI all show ``str(error)`` as is.
"""

from __future__ import annotations


class InswapperLiveError(Exception):
    """Base class: anything a user can cause and fix."""


class ModelNotFoundError(InswapperLiveError):
    """A model name or path that resolves to no file."""


class ModelLoadError(InswapperLiveError):
    """A model file that is truncated, corrupt, fails its checksum or has the wrong signature."""


class InputError(InswapperLiveError):
    """An image, video or face file that cannot be read, or holds no usable face."""


class NoFaceError(InputError):
    """No face was found where one is required (a source image, a face-model image)."""


class OutputError(InswapperLiveError):
    """An output path that cannot be written."""


class SettingsError(InswapperLiveError):
    """A setting with a value the engine cannot use."""
