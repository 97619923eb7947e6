"""Opening the mask models (occluder, face parser, 106-point landmarker) with errors that name the setting.

A mask model is chosen by a setting (``occluder``, ``parser``, ``landmarker``); when its file is
missing, corrupt or of the wrong kind, the message names both the file and that setting, so the
CLI, the OBS status line and the ComfyUI popup all say which choice to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .errors import InswapperLiveError, ModelLoadError
from .modelinfo import Signature, Tensor
from .resolve import resolve
from .runtime import RuntimeSettings, create_session


@dataclass(frozen=True)
class MaskModelFile:
    """An open mask model: its session, its signature and the setting that chose it."""

    path: Path
    session: ort.InferenceSession
    signature: Signature
    setting: str

    @property
    def input(self) -> Tensor:
        return self.signature.inputs[0]

    @property
    def input_dtype(self) -> type:
        return np.float16 if "float16" in self.input.type else np.float32

    @property
    def batchable(self) -> bool:
        return self.input.dim(0) is None or (self.input.dim(0) or 1) > 1

    def wrong(self, why: str) -> ModelLoadError:
        """The error for a file that loads but does not have the contract ``setting`` needs."""
        return ModelLoadError(
            f"{self.path} cannot be used as the {self.setting}: {why} (it has {self.signature.describe()}). "
            f"Choose a {self.setting} model for the {self.setting} setting (`inswapper-live models list`)."
        )

    def run(self, blob: np.ndarray) -> np.ndarray:
        """The first output for a batch, one item at a time when the file takes no batch."""
        name = self.input.name
        blob = blob.astype(self.input_dtype, copy=False)
        if self.batchable or len(blob) == 1:
            return self.session.run(None, {name: blob})[0]
        return np.concatenate([self.session.run(None, {name: blob[i : i + 1]})[0] for i in range(len(blob))])


def open_mask_model(
    name_or_path: str, models_dir: str | None, runtime: RuntimeSettings, setting: str
) -> MaskModelFile:
    """Resolve, verify and open ``name_or_path`` for ``setting``; every error names both."""
    try:
        path = resolve(name_or_path, models_dir).path
        session = create_session(path, runtime)
    except InswapperLiveError as error:
        raise type(error)(f"{setting} setting ({name_or_path}): {error}") from error
    model = MaskModelFile(path, session, Signature.of(session), setting)
    if len(model.signature.inputs) != 1 or model.input.rank != 4:
        raise model.wrong("it needs one image input of rank 4")
    return model


def spatial_size(model: MaskModelFile, layout: str, default: int) -> int:
    """The square input size the file fixes, or ``default`` where its height and width are dynamic."""
    axes = (1, 2) if layout == "NHWC" else (2, 3)
    h, w = (model.input.dim(a) for a in axes)
    if h is None and w is None:
        return default
    if h != w or h is None:
        raise model.wrong(f"its input is not square ({h} x {w})")
    return h
