"""What a model file is, decided from its ONNX signature and never from its file name."""

from __future__ import annotations

import enum
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import onnxruntime as ort

from .errors import ModelLoadError

log = logging.getLogger(__name__)


class ModelKind(enum.Enum):
    SWAPPER = "face swapper (inswapper)"
    SCRFD = "face detector (SCRFD)"
    YUNET = "face detector (YuNet)"
    RECOGNIZER = "face recogniser (ArcFace)"
    RESTORER = "face restorer (GFPGAN, CodeFormer, GPEN-BFR)"
    OCCLUDER = "occlusion mask model (XSeg)"
    PARSER = "face parser (BiSeNet, 19 classes)"
    LANDMARKER = "106-point landmark model (2d106det)"


DETECTORS = frozenset({ModelKind.SCRFD, ModelKind.YUNET})


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int | str | None, ...]
    type: str

    @property
    def rank(self) -> int:
        return len(self.shape)

    def dim(self, axis: int) -> int | None:
        """The size of ``axis`` when it is fixed, else None."""
        value = self.shape[axis]
        return value if isinstance(value, int) and value > 0 else None


@dataclass(frozen=True)
class Signature:
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]

    @classmethod
    def of(cls, session: ort.InferenceSession) -> Signature:
        def tensors(items: list) -> tuple[Tensor, ...]:
            return tuple(Tensor(t.name, tuple(t.shape), t.type) for t in items)

        return cls(tensors(session.get_inputs()), tensors(session.get_outputs()))

    @classmethod
    def of_file(cls, path: Path | str) -> Signature:
        """The graph's inputs and outputs read with ``onnx``, without starting a session or loading weights."""
        import onnx

        graph = onnx.load(os.fspath(path), load_external_data=False).graph
        weights = {w.name for w in graph.initializer}

        def tensors(items: list) -> tuple[Tensor, ...]:
            out = []
            for value in items:
                tensor = value.type.tensor_type
                dims = tuple(
                    d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                    for d in tensor.shape.dim
                )
                kind = (
                    onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name if tensor.elem_type else "?"
                )
                out.append(Tensor(value.name, dims, f"tensor({kind})"))
            return tuple(out)

        return cls(tensors([v for v in graph.input if v.name not in weights]), tensors(list(graph.output)))

    def describe(self) -> str:
        def fmt(ts: tuple[Tensor, ...]) -> str:
            return ", ".join(f"{t.name}{list(t.shape)}" for t in ts)

        return f"inputs [{fmt(self.inputs)}], outputs [{fmt(self.outputs)}]"


def _is_image(t: Tensor) -> bool:
    return t.rank == 4 and t.dim(1) == 3


def classify(sig: Signature) -> ModelKind | None:
    """The kind of model, or None when it is none this engine uses."""
    ins, outs = sig.inputs, sig.outputs
    if len(ins) == 2 and len(outs) == 1:
        images = [t for t in ins if _is_image(t)]
        vectors = [t for t in ins if t.rank == 2]
        if len(images) == 1 and len(vectors) == 1 and outs[0].rank == 4:
            return ModelKind.SWAPPER
        frames = [t for t in ins if t.rank == 4]
        scalars = [t for t in ins if t.rank <= 1]
        if len(frames) == 1 and len(scalars) == 1 and _is_restored(frames[0], outs[0]):
            return ModelKind.RESTORER
    if len(ins) == 1 and len(outs) == 1 and _is_restored(ins[0], outs[0]):
        return ModelKind.RESTORER
    if len(ins) == 1 and outs and ins[0].rank == 4 and 3 in (ins[0].dim(1), ins[0].dim(3)):
        kind = _mask_kind(outs)
        if kind is not None:
            return kind
    if len(ins) != 1 or not _is_image(ins[0]):
        return None
    names = {t.name for t in outs}
    if len(outs) == 12 and {"cls_8", "obj_8", "bbox_8", "kps_8"} <= names:
        return ModelKind.YUNET
    if len(outs) in (6, 9, 10, 15):
        return ModelKind.SCRFD
    size = ins[0].dim(2)
    if len(outs) == 1 and size and size == ins[0].dim(3) and size % 112 == 0 and outs[0].shape[-1] == 512:
        return ModelKind.RECOGNIZER
    return None


def _mask_kind(outs: tuple[Tensor, ...] | list[Tensor]) -> ModelKind | None:
    """XSeg: one mask channel out (NCHW or NHWC); BiSeNet: 19 class maps; 2d106det: 212 numbers."""
    out = outs[0]
    if out.rank == 4 and 19 in (out.dim(1), out.dim(3)):
        return ModelKind.PARSER
    if len(outs) == 1 and out.rank == 4 and 1 in (out.dim(1), out.dim(3)):
        return ModelKind.OCCLUDER
    if len(outs) == 1 and out.rank == 2 and out.dim(1) == 212:
        return ModelKind.LANDMARKER
    return None


def _is_restored(image: Tensor, out: Tensor) -> bool:
    """A 3-channel square image out with the input's fixed size and layout (NCHW or NHWC): a
    restorer. CodeFormer adds a scalar ``weight`` input."""
    if image.rank != 4 or out.rank != 4:
        return False
    axes = (2, 3, 1) if image.dim(1) == 3 else (1, 2, 3)
    size = image.dim(axes[0])
    return (
        bool(size)
        and image.dim(axes[1]) == size
        and image.dim(axes[2]) == 3
        and all(out.dim(a) == image.dim(a) for a in axes)
    )


def kind_of_file(path: Path | str) -> ModelKind | None:
    """The kind of the model in ``path`` (None: unreadable, or no kind this engine uses).

    Read once per file version: the answer is cached by path, size and modification time, so
    listing a folder of large models again costs a ``stat`` each.
    """
    stat = os.stat(path)
    return _kind_of(os.path.realpath(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=1024)
def _kind_of(path: str, _size: int, _mtime_ns: int) -> ModelKind | None:
    try:
        return classify(Signature.of_file(path))
    except Exception as error:  # a damaged or foreign file: onnx raises many kinds of errors
        log.info("%s is not a readable ONNX model (%s).", path, error)
        return None


def expect_kind(
    session: ort.InferenceSession, path: Path | str, wanted: frozenset[ModelKind] | ModelKind, setting: str
) -> ModelKind:
    """Check that ``path`` is a model ``setting`` can use; say what it is otherwise."""
    allowed = wanted if isinstance(wanted, frozenset) else frozenset({wanted})
    sig = Signature.of(session)
    kind = classify(sig)
    if kind in allowed:
        return kind
    what = f"a {kind.value}" if kind else f"a model this engine does not use ({sig.describe()})"
    need = " or ".join(sorted(k.value for k in allowed))
    raise ModelLoadError(
        f"{path} is {what}, but the {setting} setting needs {need}. "
        f"Choose a {need} for {setting} (`inswapper-live models list` shows the known ones)."
    )
