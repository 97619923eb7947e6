"""Small ONNX models with the exact contracts of the real ones, for tests and self-checks.

The real inswapper and ArcFace weights are hundreds of MB under a non-commercial licence;
these stand-ins have the same inputs, outputs and emap layout, deterministic weights, and
outputs that depend on every input, so the whole pipeline runs without them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # loads in every onnxruntime >= 1.14


def _save(graph: onnx.GraphProto, path: Path | str) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def _init(name: str, value: np.ndarray, dtype: type) -> TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def make_swapper(
    path: Path | str,
    size: int = 128,
    *,
    identity: bool = False,
    batch: bool = False,
    fp16: bool = False,
    seed: int = 0,
) -> Path:
    """An inswapper-contract model: ``target`` [N,3,S,S] x/255 RGB, ``source`` [N,512] latent.

    The output tints the target towards a colour computed from the latent (so different sources
    give different faces); ``identity`` returns the target exactly. The emap is the last
    initializer, as in the real files.
    """
    rng = np.random.default_rng(seed)
    dtype = np.float16 if fp16 else np.float32
    elem = TensorProto.FLOAT16 if fp16 else TensorProto.FLOAT
    n = "N" if batch else 1
    target = helper.make_tensor_value_info("target", elem, [n, 3, size, size])
    source = helper.make_tensor_value_info("source", elem, [n, 512])
    output = helper.make_tensor_value_info("output", elem, [n, 3, size, size])
    emap = np.linalg.qr(rng.normal(size=(512, 512)))[0]
    if identity:
        nodes = [
            helper.make_node("ReduceSum", ["source", "axes1"], ["src_sum"], keepdims=1, name="src_sum"),
            helper.make_node("Mul", ["src_sum", "zero"], ["src_zero"], name="src_zero"),
            helper.make_node("Unsqueeze", ["src_zero", "axes23"], ["src_zero4"], name="src_zero4"),
            helper.make_node("Add", ["target", "src_zero4"], ["output"], name="passthrough"),
        ]
        inits = [
            _init("axes1", [1], np.int64),
            _init("zero", 0.0, dtype),
            _init("axes23", [2, 3], np.int64),
        ]
    else:
        nodes = [
            helper.make_node("MatMul", ["source", "colour_w"], ["colour_logit"], name="colour"),
            helper.make_node("Sigmoid", ["colour_logit"], ["colour"], name="colour_sigmoid"),
            helper.make_node("Unsqueeze", ["colour", "axes23"], ["colour4"], name="colour4"),
            helper.make_node("Mul", ["target", "keep"], ["kept"], name="keep_target"),
            helper.make_node("Mul", ["colour4", "tint"], ["tinted"], name="tint"),
            helper.make_node("Add", ["kept", "tinted"], ["output"], name="mix"),
        ]
        inits = [
            _init("colour_w", rng.normal(scale=0.2, size=(512, 3)), dtype),
            _init("axes23", [2, 3], np.int64),
            _init("keep", 0.5, dtype),
            _init("tint", 0.5, dtype),
        ]
    inits.append(_init("emap", emap, dtype))
    graph = helper.make_graph(nodes, "synthetic_inswapper", [target, source], [output], inits)
    return _save(graph, path)


def make_recognizer(path: Path | str, size: int = 112, *, seed: int = 1) -> Path:
    """An ArcFace-contract model: [N,3,size,size] -> [N,512]; nearby crops give nearby vectors."""
    rng = np.random.default_rng(seed)
    pool = size // 14
    features = 3 * 14 * 14
    inp = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["N", 3, size, size])
    out = helper.make_tensor_value_info("683", TensorProto.FLOAT, ["N", 512])
    nodes = [
        helper.make_node(
            "AveragePool",
            ["input.1"],
            ["pooled"],
            kernel_shape=[pool, pool],
            strides=[pool, pool],
            name="pool",
        ),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["683"], name="fc"),
    ]
    inits = [
        _init("fc_w", rng.normal(scale=1.0 / np.sqrt(features), size=(features, 512)), np.float32),
        _init("fc_b", rng.normal(scale=0.1, size=(512,)), np.float32),
    ]
    graph = helper.make_graph(nodes, "synthetic_arcface", [inp], [out], inits)
    return _save(graph, path)
