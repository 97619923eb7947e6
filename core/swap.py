"""The inswapper contract: aligned target crop + latent (embedding @ emap) -> swapped crop."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import numpy_helper

from . import planes
from .errors import ModelLoadError
from .modelinfo import ModelKind, expect_kind
from .resolve import repair_hint
from .runtime import RuntimeSettings, create_session
from .types import Embedding, Frame

_CUDA_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")


def read_emap(path: Path | str) -> np.ndarray:
    """The emap is the last initializer of the graph (512 x latent)."""
    try:
        model = onnx.load(str(path))
    except Exception as error:  # protobuf's DecodeError and friends
        raise ModelLoadError(
            f"{path} is not a readable ONNX file ({error}): it is truncated or corrupt. {repair_hint(path)}"
        ) from error
    if not model.graph.initializer:
        raise ModelLoadError(f"{path} has no initializers, so it has no emap: it is not an inswapper model.")
    return numpy_helper.to_array(model.graph.initializer[-1]).astype(np.float32)


class Swapper:
    """One swapper model; crop size S, batch support and dtypes are read from the file."""

    def __init__(self, path: Path | str, runtime: RuntimeSettings) -> None:
        self.path = Path(path)
        self.session = create_session(path, runtime)
        expect_kind(self.session, path, ModelKind.SWAPPER, "swapper")
        inputs = self.session.get_inputs()
        target = next(i for i in inputs if len(i.shape) == 4)
        source = next(i for i in inputs if len(i.shape) == 2)
        self.target_name, self.source_name = target.name, source.name
        self.output_name = self.session.get_outputs()[0].name
        size = target.shape[2]
        if not isinstance(size, int) or (size % 128 and size % 112):
            raise ModelLoadError(
                f"{path}: target input {target.name}{target.shape} has no usable fixed size."
            )
        self.size = size
        self.batchable = not isinstance(target.shape[0], int) or target.shape[0] > 1
        self.target_dtype = np.float16 if "float16" in target.type else np.float32
        self.source_dtype = np.float16 if "float16" in source.type else np.float32
        self.emap = read_emap(path)
        self.device = "cuda" if self.session.get_providers()[0] in _CUDA_PROVIDERS else "cpu"
        # On a GPU, inputs are bound once and the output stays on the device until copied back.
        self.use_binding = self.device != "cpu"
        latent_dim = source.shape[1]
        if (
            self.emap.ndim != 2
            or self.emap.shape[0] != 512
            or (isinstance(latent_dim, int) and self.emap.shape[1] != latent_dim)
        ):
            raise ModelLoadError(
                f"{path}: the last initializer has shape {self.emap.shape}, not an emap of 512 x "
                f"{latent_dim}; this is not an inswapper model."
            )

    def latent(self, embedding: Embedding) -> np.ndarray:
        """normed_embedding @ emap, divided by its L2 norm: what the ``source`` input takes."""
        latent = embedding.reshape(1, -1).astype(np.float32) @ self.emap
        latent /= np.linalg.norm(latent)
        return latent.astype(self.source_dtype)

    def _infer(self, blob: np.ndarray, latent: np.ndarray) -> np.ndarray:
        if not self.use_binding:
            return self.session.run([self.output_name], {self.target_name: blob, self.source_name: latent})[0]
        binding = self.session.io_binding()
        binding.bind_cpu_input(self.target_name, blob)
        binding.bind_cpu_input(self.source_name, latent)
        binding.bind_output(self.output_name, self.device)
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]

    def run(self, crops: np.ndarray, latent: np.ndarray) -> np.ndarray:
        """N x S x S x 3 BGR uint8 crops -> swapped crops, same layout."""
        blob = to_blob(crops, self.target_dtype)
        if self.batchable and len(blob) > 1:
            pred = self._infer(blob, np.repeat(latent, len(blob), axis=0))
        elif len(blob) == 1:
            pred = self._infer(blob, latent)
        else:
            pred = np.concatenate([self._infer(blob[i : i + 1], latent) for i in range(len(blob))])
        return from_output(pred)

    def swap_crops(self, crops: list[Frame], latent: np.ndarray) -> list[Frame]:
        """Swap aligned crops of size k*S: k = 1 natively, k > 1 is pixel boost.

        Pixel boost splits a k*S crop into k^2 sub-sampled S x S tiles (``crop[i::k, j::k]``),
        swaps them and interleaves the results back. The tiles of all crops go to the model in
        one batch when it takes one.
        """
        tiles: list[Frame] = []
        for crop in crops:
            k = crop.shape[0] // self.size
            if k * self.size != crop.shape[0]:
                raise ValueError(f"crop size {crop.shape[0]} is not a multiple of the model's {self.size}")
            tiles += [crop[i::k, j::k] for i in range(k) for j in range(k)]
        if not tiles:
            return []
        swapped = self.run(tiles[0][None] if len(tiles) == 1 else np.stack(tiles), latent)
        results: list[Frame] = []
        n = 0
        for crop in crops:
            k = crop.shape[0] // self.size
            if k == 1:
                results.append(swapped[n])
                n += 1
                continue
            out = np.empty_like(crop)
            for i in range(k):
                for j in range(k):
                    out[i::k, j::k] = swapped[n]
                    n += 1
            results.append(out)
        return results


def to_blob(crops: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """BGR uint8 N x S x S x 3 -> RGB N x 3 x S x S in 0..1 (plane copies: faster than cv2.dnn here)."""
    n, h, w, _ = crops.shape
    blob = np.empty((n, 3, h, w), dtype=np.float32)
    for i, crop in enumerate(crops):
        b, g, r = planes.split(crop)
        blob[i, 0], blob[i, 1], blob[i, 2] = r, g, b
    blob *= 1.0 / 255.0
    return blob.astype(dtype, copy=False)


def from_output(pred: np.ndarray) -> np.ndarray:
    """RGB N x 3 x S x S in ~0..1 -> BGR uint8 N x S x S x 3, rounded and clipped.

    ``pred`` is the model's output, which nothing else holds: negatives are clipped in place.
    """
    pred = np.ascontiguousarray(pred, dtype=np.float32)
    out = np.empty((pred.shape[0], pred.shape[2], pred.shape[3], 3), dtype=np.uint8)
    for i, p in enumerate(pred):
        rows = p.reshape(-1, p.shape[-1])
        cv2.threshold(rows, 0.0, 0.0, cv2.THRESH_TOZERO, dst=rows)  # 8x faster than np.maximum here
        cv2.merge([cv2.convertScaleAbs(p[c], alpha=255.0) for c in (2, 1, 0)], dst=out[i])
    return out
