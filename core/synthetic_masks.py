"""Small ONNX models with the exact contracts of the mask models, and cost-true stand-ins for the bench.

The occluder, face parser and 106-point landmarker weights are tens of MB under their own
licences; these have the same inputs and outputs and a behaviour a test can predict:
the occluder marks one colour as "covered", the parser classes pixels by nearest colour, the
landmarker returns a fixed face layout moved a little by the image (so pre-processing mistakes
show). The stand-ins match the real families' published or estimated cost (see MASK_STANDINS).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

from .face_parser import CLASSES
from .landmark106 import POINTS
from .synthetic import ConvChain, _init, _save, conv_cost

MARKER_BGR = (255, 0, 255)
"""The colour the contract occluder reports as covering the face (magenta)."""


def make_occluder(
    path: Path | str, size: int = 256, *, layout: str = "NHWC", marker: tuple[int, int, int] = MARKER_BGR
) -> Path:
    """An XSeg-contract occluder: BGR 0..1 in, 1 where the face shows, 0 on ``marker`` coloured pixels."""
    nhwc = layout == "NHWC"
    shape_in = ["N", size, size, 3] if nhwc else ["N", 3, size, size]
    shape_out = ["N", size, size, 1] if nhwc else ["N", 1, size, size]
    colour = np.array(marker, dtype=np.float32) / 255.0
    axis = 3 if nhwc else 1
    nodes = [
        helper.make_node("Sub", ["input", "marker"], ["diff"], name="diff"),
        helper.make_node("Abs", ["diff"], ["dist"], name="dist"),
        helper.make_node("ReduceSum", ["dist", "axis"], ["total"], keepdims=1, name="total"),
        helper.make_node("Sub", ["total", "threshold"], ["shifted"], name="shift"),
        helper.make_node("Mul", ["shifted", "gain"], ["scaled"], name="gain"),
        helper.make_node("Clip", ["scaled", "zero", "one"], ["output"], name="clip"),
    ]
    inits = [
        _init("marker", colour.reshape((1, 1, 1, 3) if nhwc else (1, 3, 1, 1)), np.float32),
        _init("axis", [axis], np.int64),
        _init("threshold", 0.3, np.float32),
        _init("gain", 10.0, np.float32),
        _init("zero", 0.0, np.float32),
        _init("one", 1.0, np.float32),
    ]
    graph = helper.make_graph(
        nodes,
        "contract_xseg",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape_in)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, shape_out)],
        inits,
    )
    return _save(graph, path)


def make_parser(path: Path | str, colours: dict[str, tuple[int, int, int]], size: int | None = 512) -> Path:
    """A BiSeNet-contract parser: ImageNet-normalised RGB in, 19 class scores out.

    Each pixel gets the class whose RGB colour in ``colours`` is nearest (a 1 x 1 convolution on
    the normalised input); classes without a colour never win. ``size=None`` leaves H and W dynamic.
    """
    mean = np.array([0.485, 0.456, 0.406]) * 255.0
    std = np.array([0.229, 0.224, 0.225]) * 255.0
    weights = np.zeros((len(CLASSES), 3, 1, 1))
    bias = np.full(len(CLASSES), -1e4)
    for name, rgb in colours.items():
        mu = (np.array(rgb, dtype=np.float64) - mean) / std
        c = CLASSES.index(name)
        weights[c, :, 0, 0] = 2.0 * mu
        bias[c] = -float(mu @ mu)
    hw: list[int | str] = [size, size] if size else ["H", "W"]
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w", "b"], ["out"], kernel_shape=[1, 1], name="classes")],
        "contract_bisenet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, *hw])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", len(CLASSES), *hw])],
        [_init("w", weights, np.float32), _init("b", bias, np.float32)],
    )
    return _save(graph, path)


def face_layout_106() -> np.ndarray:
    """106 points in -1..1 of a 2d106det input: a ring of contour/eye points and the mouth at 52-71."""
    angles = np.linspace(0, 2 * np.pi, POINTS, endpoint=False)
    points = np.stack([0.45 * np.cos(angles), 0.5 * np.sin(angles)], axis=1)
    mouth = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    points[52:72] = np.stack([0.16 * np.cos(mouth), 0.22 + 0.06 * np.sin(mouth)], axis=1)
    return points.astype(np.float32)


def make_landmarker(path: Path | str, size: int = 192, *, raw_pixels: bool = True, seed: int = 3) -> Path:
    """A 2d106det-contract model: [N,3,S,S] -> [N,212], the face layout nudged by the image.

    ``raw_pixels`` starts the graph with Sub and Mul nodes (as the real file does, so InsightFace
    feeds it 0..255); without, it expects (x - 127.5) / 128 from outside.
    """
    rng = np.random.default_rng(seed)
    pool = size // 8
    nodes, inits = [], []
    x = "data"
    if raw_pixels:
        nodes += [
            helper.make_node("Sub", [x, "mean"], ["centred"], name="Sub_0"),
            helper.make_node("Mul", ["centred", "scale"], ["scaled"], name="Mul_1"),
        ]
        inits += [_init("mean", 127.5, np.float32), _init("scale", 1 / 128.0, np.float32)]
        x = "scaled"
    features = 3 * 8 * 8
    nodes += [
        helper.make_node(
            "AveragePool", [x], ["pooled"], kernel_shape=[pool, pool], strides=[pool, pool], name="pool"
        ),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["flat", "w", "b"], ["fc1"], name="fc"),
    ]
    inits += [
        _init("w", rng.normal(scale=0.05 / np.sqrt(features), size=(features, 2 * POINTS)), np.float32),
        _init("b", face_layout_106().reshape(-1), np.float32),
    ]
    graph = helper.make_graph(
        nodes,
        "contract_2d106det",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, ["N", 2 * POINTS])],
        inits,
    )
    return _save(graph, path)


# ---------------------------------------------------------------------------------------------
# Cost-true stand-ins for the bench. FLOPs count 2 per multiply-add.


@dataclass(frozen=True)
class MaskStandin:
    size: int
    layout: str
    channels_out: int
    gflops: float
    mparams: float
    source: str


MASK_STANDINS: dict[str, MaskStandin] = {
    # DeepFaceLab's XSegNet (FaceFusion xseg_1/2/3, 67 MB fp32): 256 x 256 NHWC. No FLOPs are
    # published; ~21 GFLOPs and ~16.8 M params are our count from XSegNet's layer list
    # (base 32 channels, 6 levels, two dense layers) and the file's size.
    "xseg": MaskStandin(256, "NHWC", 1, 21.0, 16.8, "estimate from DFL XSegNet's layers and file size"),
    # face-parsing BiSeNet (FaceFusion bisenet_resnet_18 51 MB, _34 89 MB) at 512 x 512: ResNet-18/34
    # publish 1.8/3.6 GMACs at 224; scaled to 512 plus BiSeNet's context and fusion heads.
    "bisenet_resnet_18": MaskStandin(
        512, "NCHW", 19, 25.0, 13.3, "ResNet-18 1.8 GMACs@224 scaled; 51 MB file"
    ),
    "bisenet_resnet_34": MaskStandin(
        512, "NCHW", 19, 42.0, 22.3, "ResNet-34 3.6 GMACs@224 scaled; 89 MB file"
    ),
}


def _cost(spec: MaskStandin, base: int, blocks: int, downs: int = 3) -> tuple[float, int, int]:
    """FLOPs, conv params and bottleneck width of the encoder-decoder stand-in."""
    flops, params, size = 0.0, 0, spec.size
    widths = [base * 2**i for i in range(downs + 1)]

    def conv(cin: int, cout: int, hw: int) -> None:
        nonlocal flops, params
        f, p = conv_cost(cin, cout, hw)
        flops, params = flops + f, params + p

    conv(3, widths[0], size)
    for i in range(1, downs + 1):
        size //= 2
        conv(widths[i - 1], widths[i], size)
    for _ in range(blocks):
        conv(widths[-1], widths[-1], size)
    for i in range(downs, 0, -1):
        size *= 2
        conv(widths[i], widths[i - 1], size)
    conv(widths[0], spec.channels_out, size)
    return flops, params, widths[-1]


def plan_mask_standin(spec: MaskStandin) -> tuple[int, int, int, float, int]:
    """base width, bottleneck blocks, dense width, FLOPs and params closest to the spec."""
    best = None
    for base in range(8, 257, 4):
        for blocks in range(1, 25):
            flops, params, ch = _cost(spec, base, blocks)
            spare = spec.mparams * 1e6 - params
            if spare < 2 * ch:
                continue
            dense = int(spare // (2 * ch + 1))
            params += 2 * ch * dense + dense + ch
            flops += 4.0 * ch * dense
            if best is None or abs(flops - spec.gflops * 1e9) < abs(best[3] - spec.gflops * 1e9):
                best = (base, blocks, dense, flops, params)
    assert best is not None
    return best


def make_mask_standin(path: Path | str, name: str, *, seed: int = 0) -> tuple[Path, float, int]:
    """A stand-in with the I/O of ``name`` (a key of MASK_STANDINS); returns path, GFLOPs, params."""
    spec = MASK_STANDINS[name]
    base, blocks, dense, flops, params = plan_mask_standin(spec)
    rng = np.random.default_rng(seed)
    conv = ConvChain(rng)
    nodes, inits = conv.nodes, conv.inits
    widths = [base * 2**i for i in range(4)]

    s = spec.size
    nhwc = spec.layout == "NHWC"
    x = "input"
    if nhwc:
        nodes.append(helper.make_node("Transpose", [x], ["nchw"], perm=[0, 3, 1, 2], name="to_nchw"))
        x = "nchw"
    x = conv(x, 3, widths[0], 1, "stem")
    for i in range(1, 4):
        x = conv(x, widths[i - 1], widths[i], 2, f"down{i}")
    ch = widths[-1]
    inits += [
        _init("d1_w", rng.normal(scale=1 / np.sqrt(ch), size=(ch, dense)), np.float32),
        _init("d1_b", np.zeros(dense), np.float32),
        _init("d2_w", rng.normal(scale=1 / np.sqrt(dense), size=(dense, ch)), np.float32),
        _init("d2_b", np.zeros(ch), np.float32),
        _init("ctx_shape", [-1, ch, 1, 1], np.int64),
        _init("scales", [1.0, 1.0, 2.0, 2.0], np.float32),
    ]
    nodes += [
        helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["gap_flat"], axis=1, name="gap_flat"),
        helper.make_node("Gemm", ["gap_flat", "d1_w", "d1_b"], ["d1"], name="dense1"),
        helper.make_node("Relu", ["d1"], ["d1_r"], name="dense1_relu"),
        helper.make_node("Gemm", ["d1_r", "d2_w", "d2_b"], ["d2"], name="dense2"),
        helper.make_node("Reshape", ["d2", "ctx_shape"], ["ctx"], name="ctx"),
    ]
    for b in range(blocks):
        y = conv(x, ch, ch, 1, f"block{b}", act=False)
        nodes += [
            helper.make_node("Add", [y, "ctx"], [f"block{b}_s"], name=f"block{b}_ctx"),
            helper.make_node("Relu", [f"block{b}_s"], [f"block{b}_o"], name=f"block{b}_relu"),
        ]
        x = f"block{b}_o"
    for i in range(3, 0, -1):
        nodes.append(helper.make_node("Resize", [x, "", "scales"], [f"up{i}"], mode="nearest", name=f"up{i}"))
        x = conv(f"up{i}", widths[i], widths[i - 1], 1, f"dec{i}")
    x = conv(x, widths[0], spec.channels_out, 1, "head", act=False)
    out_shape: list[int | str]
    if nhwc:
        nodes.append(helper.make_node("Sigmoid", [x], ["sig"], name="sigmoid"))
        nodes.append(helper.make_node("Transpose", ["sig"], ["output"], perm=[0, 2, 3, 1], name="to_nhwc"))
        in_shape: list[int | str] = [1, s, s, 3]
        out_shape = [1, s, s, spec.channels_out]
    else:
        nodes.append(helper.make_node("Identity", [x], ["output"], name="scores"))
        in_shape = [1, 3, s, s]
        out_shape = [1, spec.channels_out, s, s]
    graph = helper.make_graph(
        nodes,
        f"standin_{name}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)],
        inits,
    )
    return _save(graph, path), flops / 1e9, params
