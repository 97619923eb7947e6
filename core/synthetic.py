"""Small ONNX models with the exact contracts of the real ones, for tests and self-checks.

The real inswapper and ArcFace weights are hundreds of MB under a non-commercial licence;
these stand-ins have the same inputs, outputs and emap layout, deterministic weights, and
outputs that depend on every input, so the whole pipeline runs without them.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    face: np.ndarray | None = None,
    batch: bool = False,
    fp16: bool = False,
    seed: int = 0,
) -> Path:
    """An inswapper-contract model: ``target`` [N,3,S,S] x/255 RGB, ``source`` [N,512] latent.

    The output tints the target towards a colour computed from the latent (so different sources
    give different faces); ``identity`` returns the target exactly; ``face`` (an aligned S x S BGR
    crop of another person) is returned whatever the inputs, as a swap that replaces every
    feature would. The emap is the last initializer, as in the real files.
    """
    rng = np.random.default_rng(seed)
    dtype = np.float16 if fp16 else np.float32
    elem = TensorProto.FLOAT16 if fp16 else TensorProto.FLOAT
    n = "N" if batch else 1
    target = helper.make_tensor_value_info("target", elem, [n, 3, size, size])
    source = helper.make_tensor_value_info("source", elem, [n, 512])
    output = helper.make_tensor_value_info("output", elem, [n, 3, size, size])
    emap = np.linalg.qr(rng.normal(size=(512, 512)))[0]
    if identity or face is not None:
        nodes = [
            helper.make_node("ReduceSum", ["source", "axes1"], ["src_sum"], keepdims=1, name="src_sum"),
            helper.make_node("Mul", ["src_sum", "zero"], ["src_zero"], name="src_zero"),
            helper.make_node("Unsqueeze", ["src_zero", "axes23"], ["src_zero4"], name="src_zero4"),
            helper.make_node("Add", ["target", "src_zero4"], ["passed"], name="passthrough"),
        ]
        inits = [
            _init("axes1", [1], np.int64),
            _init("zero", 0.0, dtype),
            _init("axes23", [2, 3], np.int64),
        ]
        if face is None:
            nodes[-1].output[0] = "output"
        else:
            rgb = face[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
            nodes += [
                helper.make_node("Mul", ["passed", "zero"], ["nothing"], name="drop_target"),
                helper.make_node("Add", ["nothing", "face"], ["output"], name="replace"),
            ]
            inits.append(_init("face", rgb, dtype))
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


def make_genderage(path: Path | str, size: int = 96, *, batch: bool = True, seed: int = 2) -> Path:
    """A genderage.onnx-contract model: ``data`` [N,3,size,size] -> ``fc1`` [N,3] = female and male
    scores, age / 100. Its first node is ``bn_data``, as in the mxnet export, so inputs are raw 0..255."""
    rng = np.random.default_rng(seed)
    pool = size // 8
    features = 3 * 8 * 8
    n = "N" if batch else 1
    inp = helper.make_tensor_value_info("data", TensorProto.FLOAT, [n, 3, size, size])
    out = helper.make_tensor_value_info("fc1", TensorProto.FLOAT, [n, 3])
    nodes = [
        helper.make_node(
            "BatchNormalization",
            ["data", "bn_scale", "bn_bias", "bn_mean", "bn_var"],
            ["bn"],
            epsilon=1e-5,
            name="bn_data",
        ),
        helper.make_node(
            "AveragePool", ["bn"], ["pooled"], kernel_shape=[pool, pool], strides=[pool, pool], name="pool"
        ),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["fc1"], name="fc1"),
    ]
    weights = rng.normal(scale=2.0 / np.sqrt(features), size=(features, 3)) * [1.0, 1.0, 0.5]
    weights -= weights.mean(axis=0)  # scores follow the pattern of the face, not its brightness
    inits = [
        _init("bn_scale", np.full(3, 1.0 / 255.0), np.float32),
        _init("bn_bias", np.zeros(3), np.float32),
        _init("bn_mean", np.zeros(3), np.float32),
        _init("bn_var", np.ones(3), np.float32),
        _init("fc_w", weights, np.float32),
        _init("fc_b", [0.0, 0.0, 0.38], np.float32),
    ]
    graph = helper.make_graph(nodes, "synthetic_genderage", [inp], [out], inits)
    return _save(graph, path)


# ---------------------------------------------------------------------------------------------
# Cost-true stand-ins: same I/O as the real swappers and close to their published cost, for
# benchmarks. FLOPs count 2 per multiply-add (convolutions and matrix products).


@dataclass(frozen=True)
class StandinSpec:
    size: int
    gflops: float
    mparams: float
    downs: int
    """Stride-2 convolutions before the bottleneck blocks (and resize-convs after)."""


STANDINS: dict[str, StandinSpec] = {
    "inswapper_128": StandinSpec(128, 174.7, 138.3, downs=2),
    "inswapper_512_live": StandinSpec(512, 12.1, 9.5, downs=3),
    "inswapper_512_live_mini": StandinSpec(512, 6.3, 4.7, downs=3),
}


@dataclass(frozen=True)
class _Plan:
    base: int
    blocks: int
    mlp: int
    flops: float
    params: int


def conv_cost(cin: int, cout: int, hw: int) -> tuple[float, int]:
    """FLOPs and params of a 3 x 3 convolution with bias over an hw x hw map."""
    return 2.0 * 9 * cin * cout * hw * hw, 9 * cin * cout + cout


class ConvChain:
    """3 x 3 convolutions (each with bias, optionally a ReLU) appended to one graph's node and
    initializer lists, with He-initialised weights drawn from ``rng`` in call order."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[TensorProto] = []

    def __call__(self, x: str, cin: int, cout: int, stride: int, name: str, act: bool = True) -> str:
        w = self.rng.normal(scale=np.sqrt(2.0 / (9 * cin)), size=(cout, cin, 3, 3))
        self.inits.extend([_init(f"{name}_w", w, np.float32), _init(f"{name}_b", np.zeros(cout), np.float32)])
        self.nodes.append(
            helper.make_node(
                "Conv",
                [x, f"{name}_w", f"{name}_b"],
                [f"{name}_c"],
                kernel_shape=[3, 3],
                pads=[1, 1, 1, 1],
                strides=[stride, stride],
                name=name,
            )
        )
        if not act:
            return f"{name}_c"
        self.nodes.append(helper.make_node("Relu", [f"{name}_c"], [f"{name}_r"], name=f"{name}_relu"))
        return f"{name}_r"


def _plan(spec: StandinSpec) -> _Plan:
    """Pick widths and depth that land on the published FLOPs, then an MLP for the rest of the params."""
    best: _Plan | None = None
    for base in range(8, 1025, 8):
        for blocks in range(1, 17):
            flops, params, size, ch = 0.0, 0, spec.size, 3
            widths = [min(base * 2**i, 1024) for i in range(spec.downs + 1)]
            f, p = conv_cost(3, widths[0], size)
            flops, params = flops + f, params + p
            for i in range(1, spec.downs + 1):
                size //= 2
                f, p = conv_cost(widths[i - 1], widths[i], size)
                flops, params = flops + f, params + p
            f, p = conv_cost(widths[-1], widths[-1], size)
            flops, params = flops + blocks * f, params + blocks * p
            for i in range(spec.downs, 0, -1):
                size *= 2
                f, p = conv_cost(widths[i], widths[i - 1], size)
                flops, params = flops + f, params + p
            f, p = conv_cost(widths[0], 3, size)
            flops, params = flops + f, params + p
            ch = widths[-1]
            spare = spec.mparams * 1e6 - params
            if spare < 512 * ch:
                continue
            mlp = int(spare // (512 + ch + 1))
            params += 512 * mlp + mlp * ch + mlp
            flops += 2.0 * (512 * mlp + mlp * ch)
            if best is None or abs(flops - spec.gflops * 1e9) < abs(best.flops - spec.gflops * 1e9):
                best = _Plan(base, blocks, mlp, flops, params)
    assert best is not None
    return best


def make_standin(
    path: Path | str, name: str, *, seed: int = 0, spec: StandinSpec | None = None
) -> tuple[Path, float, int]:
    """A stand-in for ``name`` (a key of STANDINS, or any name with ``spec``); returns the path, its
    GFLOPs and params."""
    spec = spec or STANDINS[name]
    plan = _plan(spec)
    rng = np.random.default_rng(seed)
    widths = [min(plan.base * 2**i, 1024) for i in range(spec.downs + 1)]
    conv = ConvChain(rng)
    nodes, inits = conv.nodes, conv.inits

    x = conv("target", 3, widths[0], 1, "stem")
    for i in range(1, spec.downs + 1):
        x = conv(x, widths[i - 1], widths[i], 2, f"down{i}")
    bottom = widths[-1]
    inits += [
        _init("mlp1_w", rng.normal(scale=1 / np.sqrt(512), size=(512, plan.mlp)), np.float32),
        _init("mlp1_b", np.zeros(plan.mlp), np.float32),
        _init("mlp2_w", rng.normal(scale=1 / np.sqrt(plan.mlp), size=(plan.mlp, bottom)), np.float32),
        _init("style_shape", [1, bottom, 1, 1], np.int64),
        _init("scales", [1.0, 1.0, 2.0, 2.0], np.float32),
    ]
    nodes += [
        helper.make_node("Gemm", ["source", "mlp1_w", "mlp1_b"], ["mlp1"], name="mlp1"),
        helper.make_node("Relu", ["mlp1"], ["mlp1_r"], name="mlp1_relu"),
        helper.make_node("MatMul", ["mlp1_r", "mlp2_w"], ["style"], name="mlp2"),
        helper.make_node("Reshape", ["style", "style_shape"], ["style4"], name="style4"),
    ]
    for b in range(plan.blocks):
        y = conv(x, bottom, bottom, 1, f"block{b}", act=False)
        nodes += [
            helper.make_node("Add", [y, "style4"], [f"block{b}_s"], name=f"block{b}_style"),
            helper.make_node("Relu", [f"block{b}_s"], [f"block{b}_o"], name=f"block{b}_relu"),
        ]
        x = f"block{b}_o"
    for i in range(spec.downs, 0, -1):
        nodes.append(helper.make_node("Resize", [x, "", "scales"], [f"up{i}"], mode="nearest", name=f"up{i}"))
        x = conv(f"up{i}", widths[i], widths[i - 1], 1, f"dec{i}")
    x = conv(x, widths[0], 3, 1, "head", act=False)
    nodes.append(helper.make_node("Sigmoid", [x], ["output"], name="head_sigmoid"))
    inits.append(_init("emap", np.linalg.qr(rng.normal(size=(512, 512)))[0], np.float32))
    graph = helper.make_graph(
        nodes,
        f"standin_{name}",
        [
            helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, spec.size, spec.size]),
            helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512]),
        ],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, spec.size, spec.size])],
        inits,
    )
    return _save(graph, path), plan.flops / 1e9, plan.params


# ---------------------------------------------------------------------------------------------
# Face restorers: GFPGAN 1.4, GPEN-BFR and CodeFormer exports take ``input`` [N,3,S,S], RGB
# scaled to -1..1, and give the restored face the same way; CodeFormer adds ``weight`` (a double
# [1], its fidelity w).

RESTORER_FAMILIES = ("gfpgan", "gpen", "codeformer")


def make_restorer(
    path: Path | str,
    family: str = "gfpgan",
    size: int = 512,
    *,
    identity: bool = False,
    batch: bool = False,
    channels_last: bool = False,
) -> Path:
    """A restorer-contract model: an unsharp mask (x + a * (x - blur x), clipped to -1..1) stands in
    for restoration; for CodeFormer a = 1 - weight, so fidelity 1 returns the input. ``identity``
    returns its input exactly; ``channels_last`` takes and gives N x S x S x 3."""
    if family not in RESTORER_FAMILIES:
        raise ValueError(f"family must be one of {RESTORER_FAMILIES}")
    n = "N" if batch else 1
    shape = [n, size, size, 3] if channels_last else [n, 3, size, size]
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)]
    if family == "codeformer":
        inputs.append(helper.make_tensor_value_info("weight", TensorProto.DOUBLE, [1]))
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)
    nodes: list[onnx.NodeProto] = []
    inits: list[TensorProto] = []
    x = "input"
    if channels_last:
        nodes.append(helper.make_node("Transpose", [x], ["nchw"], perm=[0, 3, 1, 2], name="to_nchw"))
        x = "nchw"
    if identity:
        nodes.append(helper.make_node("Identity", [x], ["restored"], name="same"))
        if family == "codeformer":  # the weight is read but changes nothing
            inits.append(_init("zero", 0.0, np.float32))
            nodes += [
                helper.make_node("Cast", ["weight"], ["w32"], to=TensorProto.FLOAT, name="w32"),
                helper.make_node("Mul", ["w32", "zero"], ["w0"], name="w0"),
                helper.make_node("Add", ["restored", "w0"], ["restored_w"], name="plus_w0"),
            ]
    else:
        inits += [
            _init("box", np.full((3, 1, 5, 5), 1.0 / 25.0), np.float32),
            _init("lo", -1.0, np.float32),
            _init("hi", 1.0, np.float32),
        ]
        nodes += [
            helper.make_node("Conv", [x, "box"], ["blur"], group=3, pads=[2, 2, 2, 2], name="blur"),
            helper.make_node("Sub", [x, "blur"], ["high"], name="high"),
        ]
        if family == "codeformer":
            inits.append(_init("one", 1.0, np.float32))
            nodes += [
                helper.make_node("Cast", ["weight"], ["w32"], to=TensorProto.FLOAT, name="w32"),
                helper.make_node("Sub", ["one", "w32"], ["amount"], name="amount"),
            ]
        else:
            inits.append(_init("amount", 1.0 if family == "gfpgan" else 0.7, np.float32))
        nodes += [
            helper.make_node("Mul", ["high", "amount"], ["boost"], name="boost"),
            helper.make_node("Add", [x, "boost"], ["sharp"], name="sharpen"),
            helper.make_node("Clip", ["sharp", "lo", "hi"], ["restored"], name="clip"),
        ]
    last = "restored_w" if identity and family == "codeformer" else "restored"
    if channels_last:
        nodes.append(helper.make_node("Transpose", [last], ["output"], perm=[0, 2, 3, 1], name="to_nhwc"))
    else:
        nodes.append(helper.make_node("Identity", [last], ["output"], name="out"))
    graph = helper.make_graph(nodes, f"synthetic_{family}", inputs, [output], inits)
    return _save(graph, path)


RESTORER_STANDINS: dict[str, StandinSpec] = {
    "gfpgan_1.4": StandinSpec(512, 550.0, 85.1, downs=4),
    "codeformer": StandinSpec(512, 520.0, 94.2, downs=4),
    "gpen_bfr_512": StandinSpec(512, 350.0, 71.1, downs=4),
}
"""Cost-true stand-ins for the restorers. Parameters: the published fp32 ONNX files' sizes / 4
(340.3, 377.0 and 284.3 MB). FLOPs: no published figure was found; these are estimates from the
architectures' main 3x3 convolutions at 512 (a StyleGAN2-512 decoder at channel multiplier 2 alone
is ~113 GMACs), so treat restorer timings as the right order of magnitude, not exact."""


def make_restorer_standin(
    path: Path | str, name: str, *, seed: int = 0, spec: StandinSpec | None = None
) -> tuple[Path, float, int]:
    """A restorer-contract stand-in: the swapper stand-in's network with ``input`` [1,3,S,S] in and a
    tanh image out (its style vector becomes a constant); CodeFormer's also takes ``weight``."""
    spec = spec or RESTORER_STANDINS[name]
    path = Path(path)
    _, gflops, params = make_standin(path, name, seed=seed, spec=spec)
    model = onnx.load(str(path))
    graph = model.graph
    rng = np.random.default_rng(seed + 1)
    style = rng.normal(size=(1, 512)) / np.sqrt(512)
    kept = [i for i in graph.initializer if i.name != "emap"]
    del graph.initializer[:]
    graph.initializer.extend([*kept, _init("source", style, np.float32)])
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, spec.size, spec.size])]
    for node in graph.node:
        node.input[:] = ["input" if x == "target" else x for x in node.input]
        if node.op_type == "Sigmoid" and node.output[0] == "output":
            node.op_type, node.name = "Tanh", "head_tanh"
    if name == "codeformer":
        inputs.append(helper.make_tensor_value_info("weight", TensorProto.DOUBLE, [1]))
        graph.initializer.append(_init("weight_zero", 0.0, np.float32))
        for node in graph.node:
            if node.output[0] == "output":
                node.output[0] = "restored"
        graph.node.extend(
            [
                helper.make_node("Cast", ["weight"], ["w32"], to=TensorProto.FLOAT, name="w32"),
                helper.make_node("Mul", ["w32", "weight_zero"], ["w0"], name="w0"),
                helper.make_node("Add", ["restored", "w0"], ["output"], name="plus_w0"),
            ]
        )
    del graph.input[:]
    graph.input.extend(inputs)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path, gflops, params
