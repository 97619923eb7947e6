"""Face restoration (GFPGAN, CodeFormer, GPEN-BFR) on the swapped crop, before it is pasted back.

Restorers are trained on FFHQ-aligned faces at their own size (512), while the swapper's crop
uses the ArcFace template at 128 (or k x 128, or a native 512). The two templates differ by a
fixed similarity transform, so everything here is composed from the swap's own matrix:

- restorer input = the swapped crop warped straight into the FFHQ template at the restorer's size
  (one interpolation); the few pixels of the FFHQ crop outside the swap crop (top of the head,
  sides) come straight from the frame;
- restorer output = warped back into the ArcFace template at max(S, restorer size), so a 128 swap
  is pasted at 512 and keeps the detail the restorer added;
- blend mixes the restored crop with the swap brought to that same size, and the crop the
  detail transfer compares against travels the same path, so a restorer that returns its input
  leaves the paste as it was (up to one extra interpolation).

The cost is per face (crops of the restorer's size), never per frame pixel, and all faces of a
frame go to the model in one batch when its batch axis is dynamic.

Every restorer is fed the FFHQ template, which is right for GFPGAN 1.4, CodeFormer and GPEN-BFR
512/1024/2048; FaceFusion's GPEN-BFR-256 export was trained on the ArcFace template and would be
fed the wrong crop.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .align import template, umeyama
from .errors import InswapperLiveError, ModelLoadError, ModelNotFoundError, SettingsError
from .modelinfo import ModelKind, expect_kind
from .paste import PasteRegion, paste_into
from .resolve import resolve
from .runtime import RuntimeSettings, create_session
from .swap import from_output, to_blob
from .types import Frame, Landmarks, Matrix
from .warp import compose

FFHQ_TEMPLATE_512 = np.array(
    [
        [192.98138, 239.94708],
        [318.90277, 240.19360],
        [256.63416, 314.01935],
        [201.26117, 371.41043],
        [313.08905, 371.15118],
    ],
    dtype=np.float64,
)
"""The five landmarks of an FFHQ-aligned 512 face (facexlib / GFPGAN's face template)."""

RESTORERS = ("gfpgan_1.4", "codeformer", "gpen_bfr_512")
"""The manifest names offered by the front ends; any file with a restorer's signature works too."""


@dataclass(frozen=True)
class RestoreSettings:
    """Optional restoration of each swapped face; ``model`` empty is off."""

    model: str = ""
    """A manifest name (gfpgan_1.4, codeformer, gpen_bfr_512) or the path of a restorer .onnx."""
    blend: float = 0.8
    """How much of the restored face is used: 0 is exactly no restoration, 1 all of it."""
    fidelity: float = 0.5
    """CodeFormer's weight w: 0 restores most, 1 keeps closest to the input; ignored by others."""

    @property
    def active(self) -> bool:
        return bool(self.model) and self.blend > 0.0

    def validate(self) -> RestoreSettings:
        if not 0.0 <= self.blend <= 1.0:
            raise SettingsError(f"restore blend is {self.blend}; it must be between 0 and 1.")
        if not 0.0 <= self.fidelity <= 1.0:
            raise SettingsError(f"CodeFormer fidelity is {self.fidelity}; it must be between 0 and 1.")
        return self


def ffhq_template(size: int) -> np.ndarray:
    return FFHQ_TEMPLATE_512 * (size / 512.0)


@functools.cache
def _between(src: int, dst: int) -> Matrix:
    """The similarity that takes ArcFace-template crop coordinates at ``src`` to FFHQ ones at ``dst``."""
    return _frozen(umeyama(template(src), ffhq_template(dst)))


@functools.cache
def _rescale(src: int, dst: int) -> Matrix:
    """ArcFace-template crop coordinates at ``src`` -> the same template at ``dst`` (a pure scale)."""
    return _frozen(umeyama(template(src), template(dst)))


def _frozen(array: np.ndarray) -> np.ndarray:
    """Cached arrays are shared by every engine: make them read-only."""
    array.flags.writeable = False
    return array


class Restorer:
    """One restorer model; size, layout, batch axis and the CodeFormer weight input are read from the file."""

    def __init__(self, path: Path | str, runtime: RuntimeSettings) -> None:
        self.path = Path(path)
        self.session = create_session(path, runtime)
        expect_kind(self.session, path, ModelKind.RESTORER, "restore")
        inputs = self.session.get_inputs()
        image = next(i for i in inputs if len(i.shape) == 4)
        weights = [i for i in inputs if i is not image]
        self.input_name = image.name
        self.weight_name = weights[0].name if weights else None
        self.weight_dtype = np.float64 if weights and "double" in weights[0].type else np.float32
        self.output_name = self.session.get_outputs()[0].name
        shape = image.shape
        self.channels_last = shape[3] == 3 and shape[1] != 3
        height, width = (shape[1], shape[2]) if self.channels_last else (shape[2], shape[3])
        if not isinstance(height, int) or height != width or height < 64:
            raise ModelLoadError(
                f"{path}: restorer input {image.name}{list(shape)} has no fixed square size; the restore "
                "setting needs a model with a fixed input such as 512 x 512."
            )
        self.size = height
        self.batchable = not isinstance(shape[0], int) or shape[0] > 1
        self.input_dtype = np.float16 if "float16" in image.type else np.float32

    @property
    def has_fidelity(self) -> bool:
        return self.weight_name is not None

    def run(self, crops: np.ndarray, fidelity: float = 0.5) -> np.ndarray:
        """N x size x size x 3 BGR uint8 FFHQ-aligned faces -> restored faces, same layout.

        Inputs are RGB scaled to -1..1 and outputs read back from -1..1, as every GFPGAN,
        CodeFormer and GPEN-BFR export expects.
        """
        blob = to_blob(crops)  # RGB N x 3 x S x S in 0..1
        blob *= 2.0
        blob -= 1.0
        if self.channels_last:
            blob = blob.transpose(0, 2, 3, 1)
        blob = np.ascontiguousarray(blob, dtype=self.input_dtype)
        feeds = {}
        if self.weight_name is not None:
            feeds[self.weight_name] = np.array([fidelity], dtype=self.weight_dtype)
        if self.batchable:
            pred = self._infer(blob, feeds)
        else:
            pred = np.concatenate([self._infer(blob[i : i + 1], feeds) for i in range(len(blob))])
        if self.channels_last:
            pred = pred.transpose(0, 3, 1, 2)
        pred = pred.astype(np.float32)  # a copy, scaled in place to 0..1
        pred *= 0.5
        pred += 0.5
        return from_output(pred)

    def _infer(self, blob: np.ndarray, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run([self.output_name], {self.input_name: blob, **feeds})[0]


def load_restorer(name: str, models_dir: str | None, runtime: RuntimeSettings) -> Restorer:
    """The restorer for the restore setting; errors say it is that setting's file."""
    try:
        return Restorer(resolve(name, models_dir).path, runtime)
    except ModelNotFoundError as error:
        raise ModelNotFoundError(
            f"Face restoration (the restore setting, {name!r}): {error} Restorers are not installed by "
            f"default: run `python install.py --model {name}` (one of {', '.join(RESTORERS)}), or give "
            "the path of a restorer .onnx file."
        ) from error
    except InswapperLiveError as error:
        raise type(error)(f"Face restoration (the restore setting, {name!r}): {error}") from error


def paste_size(swap_size: int, restore_size: int) -> int:
    """The ArcFace-template crop size a restored face is pasted at: the swap's, or more."""
    if swap_size >= restore_size:
        return swap_size
    step = 112 if swap_size % 128 and swap_size % 112 == 0 else 128
    return -(-restore_size // step) * step


def restore_swaps(
    restorer: Restorer,
    settings: RestoreSettings,
    frame: Frame,
    swapped: list[Frame],
    warped: list[tuple[Frame, Matrix]],
) -> tuple[list[Frame], list[tuple[Frame, Matrix]]]:
    """Restore each swapped crop; return crops and (original crop, matrix) pairs for paste_into.

    ``warped`` holds, per face, the crop the swapper was given and the matrix that made it.
    """
    if not swapped or not settings.active:
        return swapped, warped
    size = restorer.size
    inputs = np.empty((len(swapped), size, size, 3), dtype=np.uint8)
    for i, (result, (_, matrix)) in enumerate(zip(swapped, warped, strict=True)):
        inputs[i] = _restorer_input(frame, result, matrix, size)
    restored = restorer.run(inputs, settings.fidelity)
    crops: list[Frame] = []
    pairs: list[tuple[Frame, Matrix]] = []
    for result, (original, matrix), face in zip(swapped, warped, restored, strict=True):
        s = result.shape[0]
        big = paste_size(s, size)
        big_original, big_matrix = original, matrix
        if big != s:
            big_original = rescale_crop(original, big)
            big_matrix = compose(_rescale(s, big), matrix)
        back = cv2.warpAffine(
            face,
            _between(big, size),
            (big, big),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        if settings.blend < 1.0:
            up = rescale_crop(result, big)
            back = cv2.addWeighted(back, settings.blend, up, 1.0 - settings.blend, 0.0)
        crops.append(back)
        pairs.append((big_original, big_matrix))
    return crops, pairs


def rescale_crop(crop: np.ndarray, size: int) -> np.ndarray:
    """An ArcFace-template crop (image or per-pixel mask) brought to the same template at ``size``:
    how anything aligned with a swap crop follows a restored face to its paste size."""
    if crop.shape[0] == size:
        return crop
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    scale = _rescale(size, crop.shape[0])
    return cv2.warpAffine(crop, scale, (size, size), flags=flags, borderMode=cv2.BORDER_REPLICATE)


def _restorer_input(frame: Frame, swapped: Frame, matrix: Matrix, size: int) -> Frame:
    """The swapped face in the FFHQ template at ``size``, with the frame around the swap crop."""
    s = swapped.shape[0]
    between = _between(s, size)
    around = cv2.warpAffine(frame, compose(between, matrix), (size, size), borderValue=0.0)
    face = cv2.warpAffine(swapped, between, (size, size), borderMode=cv2.BORDER_REPLICATE)
    inside, outside = _inside(s, size)
    return cv2.blendLinear(face, around, inside, outside)


@functools.cache
def _inside(swap_size: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Where the swap crop covers the FFHQ crop (bilinear edge), and the rest: the same for every face."""
    ones = np.ones((swap_size, swap_size), dtype=np.float32)
    inside = cv2.warpAffine(ones, _between(swap_size, size), (size, size), borderValue=0.0)
    outside = 1.0 - inside
    inside.flags.writeable = outside.flags.writeable = False
    return inside, outside


def ffhq_crop(frame: Frame, kps: Landmarks, size: int) -> tuple[Frame, Matrix]:
    """A face of the frame aligned to the FFHQ template at ``size`` (a restorer's own input)."""
    matrix = umeyama(kps, ffhq_template(size))
    return cv2.warpAffine(frame, matrix, (size, size), borderValue=0.0), matrix


def restore_faces(
    restorer: Restorer, settings: RestoreSettings, frame: Frame, kps: list[Landmarks]
) -> list[PasteRegion]:
    """Restore faces of ``frame`` in place, without a swap (ReActor's "restore face" step).

    Each face is cut out in the FFHQ template straight from the frame, all faces go to the model
    as one batch, and each result is pasted back with the reference mask at ``settings.blend``.
    """
    if not kps or not settings.active:
        return []
    cut = [ffhq_crop(frame, points, restorer.size) for points in kps]
    restored = restorer.run(np.stack([crop for crop, _ in cut]), settings.fidelity)
    regions = []
    for face, (_, matrix) in zip(restored, cut, strict=True):
        region = paste_into(frame, face, matrix, settings.blend)
        if region is not None:
            regions.append(region)
    return regions
