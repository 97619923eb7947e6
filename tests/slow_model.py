"""A deliberately slow swapper with the inswapper contract, for the OBS tests' frame-drop checks.

The output is the synthetic swapper's tint, plus zero times the sum of a chain of 512 x 512
MatMuls that start from the source input (so nothing can be folded away at load time). The
chain's length is calibrated on this machine until one run takes at least ``min_seconds`` on
one thread.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from inswapper_live.core.synthetic import IR_VERSION, OPSET

DIM = 512


def _build(path: Path, matmuls: int, size: int = 128) -> Path:
    rng = np.random.default_rng(3)
    f32 = TensorProto.FLOAT
    target = helper.make_tensor_value_info("target", f32, [1, 3, size, size])
    source = helper.make_tensor_value_info("source", f32, [1, 512])
    output = helper.make_tensor_value_info("output", f32, [1, 3, size, size])
    weight = np.linalg.qr(rng.normal(size=(DIM, DIM)))[0].astype(np.float32)  # keeps norms: no overflow
    nodes = [
        helper.make_node("Transpose", ["source"], ["source_t"], perm=[1, 0]),
        helper.make_node("MatMul", ["source_t", "source"], ["h0"]),  # 512 x 512 outer product
    ]
    for i in range(matmuls):
        nodes.append(helper.make_node("MatMul", [f"h{i}", "w"], [f"h{i + 1}"]))
    nodes += [
        helper.make_node("ReduceSum", [f"h{matmuls}"], ["total"], keepdims=0),
        helper.make_node("Mul", ["total", "zero"], ["nothing"]),
        helper.make_node("MatMul", ["source", "colour_w"], ["colour_logit"]),
        helper.make_node("Sigmoid", ["colour_logit"], ["colour"]),
        helper.make_node("Unsqueeze", ["colour", "axes23"], ["colour4"]),
        helper.make_node("Mul", ["target", "half"], ["kept"]),
        helper.make_node("Mul", ["colour4", "half"], ["tinted"]),
        helper.make_node("Add", ["kept", "tinted"], ["mixed"]),
        helper.make_node("Add", ["mixed", "nothing"], ["output"]),
    ]
    inits = [
        numpy_helper.from_array(weight, "w"),
        numpy_helper.from_array(np.float32(0.0), "zero"),
        numpy_helper.from_array(np.float32(0.5), "half"),
        numpy_helper.from_array(np.array([2, 3], np.int64), "axes23"),
        numpy_helper.from_array(rng.normal(scale=0.2, size=(512, 3)).astype(np.float32), "colour_w"),
        numpy_helper.from_array(np.linalg.qr(rng.normal(size=(512, 512)))[0].astype(np.float32), "emap"),
    ]
    graph = helper.make_graph(nodes, "slow_inswapper", [target, source], [output], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def seconds_per_run(path: Path) -> float:
    """Median of three runs on one thread, as the filter runs it with ``threads`` = 1."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {"target": np.zeros((1, 3, 128, 128), np.float32), "source": np.full((1, 512), 0.04, np.float32)}
    session.run(None, feed)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def make_slow_swapper(path: Path, min_seconds: float = 0.15) -> tuple[Path, float]:
    """A swapper taking at least ``min_seconds`` per run here; returns it and its measured time."""
    matmuls = 4
    while True:
        _build(path, matmuls)
        took = seconds_per_run(path)
        if took >= min_seconds:
            return path, took
        matmuls = int(matmuls * min_seconds * 1.3 / max(took, 1e-3)) + 1
