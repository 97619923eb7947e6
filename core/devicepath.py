"""A device-resident frame path: the frame goes up once, only the changed face regions come back.

On a GPU provider, OpenCV would do the warps, the blob, the blend and the colour conversion on
the CPU while the GPU waits. Here they are two small ONNX graphs, built in code and run by
onnxruntime on the swapper's own device, chained with IO binding so that nothing in between
leaves the device:

    frame (uint8 BGR, uploaded once) --crops graph--> swapper input (RGB 0..1, all faces, tiles)
    swapper output + frame           --paste graph--> blended face regions (uint8 BGR), downloaded

Both graphs have fixed shapes per (faces, region size) and take the geometry as small inputs
(2 x 3 matrices, kernels), so a moving face does not rebuild anything. The mask is the
reference's recipe (coverage > 20, erode by k x k, Gaussian blur) with per-face kernels given as
inputs to grouped convolutions; the erosion counts uncovered pixels with a box filter, which is
the same as a minimum for the binary coverage. On the CPU provider OpenCV is faster (see
``core.warp``); the same graphs run there in tests so that their results are checked.
"""

from __future__ import annotations

import functools
import logging
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from . import detail
from .paste import PasteRegion
from .swap import Swapper
from .types import Frame, Matrix

log = logging.getLogger(__name__)

_OPSET = 17
_REGION_STEP = 64
"""Face regions are padded to a multiple of this, so the graphs see few shapes."""
_KEEP_SESSIONS = 8
"""Graph sessions kept per engine (shapes: frame size, faces, region size)."""
_GPU_PROVIDERS = (
    "CUDAExecutionProvider",
    "TensorrtExecutionProvider",
    "ROCMExecutionProvider",
    "MIGraphXExecutionProvider",
    "DmlExecutionProvider",
    "CoreMLExecutionProvider",
)


def wanted(mode: str, swapper: Swapper) -> bool:
    """``on`` forces the device path (tests on the CPU provider), ``auto`` takes it on GPU providers."""
    if mode == "on":
        return True
    return mode == "auto" and swapper.session.get_providers()[0] in _GPU_PROVIDERS


def _normalizer(size: int) -> np.ndarray:
    """Pixel coordinates -> GridSample's normalised ones (align_corners=0): n = (2p + 1) / size - 1."""
    return np.array([[2.0 / size, 0.0, 1.0 / size - 1.0], [0.0, 2.0 / size, 0.0], [0.0, 0.0, 1.0]])


def _to_normalized(matrix: np.ndarray, width: int, height: int) -> np.ndarray:
    """A 2 x 3 map into pixel coordinates of a width x height image, made to give normalised ones."""
    scale = np.array([[2.0 / width, 0.0, 1.0 / width - 1.0], [0.0, 2.0 / height, 1.0 / height - 1.0]])
    return scale[:, :2] @ matrix + np.array([[0.0, 0.0, scale[0, 2]], [0.0, 0.0, scale[1, 2]]])


def _pixel_grid(height: int, width: int) -> np.ndarray:
    """(x, y, 1) of every pixel, row-major, as a (h * w) x 3 float32 array."""
    ys, xs = np.mgrid[:height, :width].astype(np.float32)
    return np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size, np.float32)], axis=1)


def _tile_grid(size: int, k: int) -> np.ndarray:
    """(x, y, 1) in the k*S crop of every pixel of its k^2 pixel-boost tiles, tile by tile.

    Tile (i, j) is ``crop[i::k, j::k]``, the order in which ``Swapper.swap_crops`` builds them.
    """
    tiles = []
    ys, xs = np.mgrid[:size, :size].astype(np.float32)
    for i in range(k):
        for j in range(k):
            tiles.append(np.stack([(xs * k + j).ravel(), (ys * k + i).ravel()], axis=1))
    points = np.concatenate(tiles)
    return np.concatenate([points, np.ones((len(points), 1), np.float32)], axis=1)


def _const(name: str, value: np.ndarray):
    return numpy_helper.from_array(np.asarray(value), name)


def _model(nodes, inputs, outputs, initializers) -> bytes:
    graph = helper.make_graph(nodes, "devicepath", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)])
    model.ir_version = 8
    return model.SerializeToString()


def _frame_sampler(
    prefix: str, theta: str, points: str, count: int, rows: int, cols: int, rgb: bool
) -> tuple[list, list]:
    """Nodes sampling the uint8 HWC ``frame`` bilinearly (zeros outside, align_corners=0).

    ``theta`` [B, 2, 3] maps the (x, y, 1) ``points`` of each face to frame-normalised
    coordinates; the result ``prefix`` is [count, 3, rows, cols] float 0..255 (RGB if ``rgb``).
    One image and one tall grid with every face stacked along y: the frame is never copied per face.
    """
    p = prefix
    nodes = [
        helper.make_node("Cast", ["frame"], [f"{p}_f"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", [f"{p}_f"], [f"{p}_chw"], perm=[2, 0, 1]),
    ]
    image = f"{p}_chw"
    if rgb:
        nodes.append(helper.make_node("Gather", [image, f"{p}_rgb"], [f"{p}_rgbchw"], axis=0))
        image = f"{p}_rgbchw"
    nodes += [
        helper.make_node("Unsqueeze", [image, f"{p}_ax0"], [f"{p}_image"]),
        helper.make_node("Transpose", [theta], [f"{p}_theta_t"], perm=[0, 2, 1]),
        helper.make_node("MatMul", [points, f"{p}_theta_t"], [f"{p}_grid_flat"]),
        helper.make_node("Reshape", [f"{p}_grid_flat", f"{p}_grid_shape"], [f"{p}_grid"]),
        helper.make_node("GridSample", [f"{p}_image", f"{p}_grid"], [f"{p}_tall"]),
        helper.make_node("Reshape", [f"{p}_tall", f"{p}_planes_shape"], [f"{p}_planes"]),
        helper.make_node("Transpose", [f"{p}_planes"], [p], perm=[1, 0, 2, 3]),
    ]
    inits = [
        *([_const(f"{p}_rgb", np.array([2, 1, 0], np.int64))] if rgb else []),
        _const(f"{p}_ax0", np.array([0], np.int64)),
        _const(f"{p}_grid_shape", np.array([1, count * rows, cols, 2], np.int64)),
        _const(f"{p}_planes_shape", np.array([3, count, rows, cols], np.int64)),
    ]
    return nodes, inits


def crops_model(height: int, width: int, faces: int, size: int, k: int, dtype: int, split: bool) -> bytes:
    """frame uint8 [H,W,3] BGR + theta [B,2,3] (crop pixel -> frame normalised) -> RGB 0..1 tiles.

    Output: [B*k^2, 3, S, S] in the swapper's dtype, or B*k^2 outputs of [1, 3, S, S] (``split``)
    for a swapper that takes one crop per run.
    """
    tiles = faces * k * k
    f = TensorProto.FLOAT
    nodes, sampler = _frame_sampler("tiles255", "theta", "points", tiles, size, size, rgb=True)
    nodes += [
        helper.make_node("Mul", ["tiles255", "inv255"], ["tilesf"]),
        helper.make_node("Cast", ["tilesf"], ["tiles"], to=dtype),
    ]
    outputs = [helper.make_tensor_value_info("tiles", dtype, [tiles, 3, size, size])]
    if split:
        names = [f"tile{i}" for i in range(tiles)]
        nodes.append(helper.make_node("Split", ["tiles"], names, axis=0))
        outputs = [helper.make_tensor_value_info(n, dtype, [1, 3, size, size]) for n in names]
    inits = [
        *sampler,
        _const("points", _tile_grid(size, k)),
        _const("inv255", np.array(1.0 / 255.0, np.float32)),
    ]
    inputs = [
        helper.make_tensor_value_info("frame", TensorProto.UINT8, [height, width, 3]),
        helper.make_tensor_value_info("theta", f, [faces, 2, 3]),
    ]
    return _model(nodes, inputs, outputs, inits)


def paste_model(
    height: int, width: int, faces: int, size: int, k: int, region: int, dtype: int, split: bool
) -> bytes:
    """Swapped tiles + frame -> each face's region, blended with the reference mask, uint8 BGR.

    Inputs: ``swapped`` [B*k^2, 3, S, S] (or one input per tile), ``frame`` [H, W, 3] uint8,
    ``to_crop`` [B, 2, 3] (region pixel -> crop normalised), ``to_frame`` [B, 2, 3] (region pixel
    -> frame normalised), ``erode_x/erode_y`` and ``blur_x/blur_y`` [B, 1, K, 1] / [B, 1, 1, K]
    per-face kernels zero-padded to K, and ``blend`` [B, 1, 1, 1]. Output [B, R, R, 3] uint8.
    """
    f = TensorProto.FLOAT
    tiles = faces * k * k
    crop = size * k
    kmax = kernel_size(region)
    pad = kmax // 2
    nodes = []
    if split:
        nodes.append(helper.make_node("Concat", [f"swapped{i}" for i in range(tiles)], ["swapped"], axis=0))
        nodes.append(helper.make_node("Concat", [f"original{i}" for i in range(tiles)], ["original"], axis=0))
    nodes += _crops_from_tiles("crop", "swapped", faces, size, k) + _crops_from_tiles(
        "orig", "original", faces, size, k
    )
    weight_nodes, weight_inits = _detail_weight_nodes(crop)
    nodes += weight_nodes
    nodes += [
        helper.make_node("Gather", ["rgb_crop", "bgr"], ["bgr_crop"], axis=1),
        helper.make_node("Gather", ["rgb_orig", "bgr"], ["bgr_orig"], axis=1),
        # One warp for all that goes back: swap (3), coverage (1), detail weight (1), original (3).
        helper.make_node("Concat", ["bgr_crop", "ones", "dweight", "bgr_orig"], ["bgra_crop"], axis=1),
        helper.make_node("Transpose", ["to_crop"], ["to_crop_t"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["points", "to_crop_t"], ["crop_grid_flat"]),
        helper.make_node("Reshape", ["crop_grid_flat", "grid_shape"], ["crop_grid"]),
        helper.make_node(
            "GridSample", ["bgra_crop", "crop_grid"], ["warped"]
        ),  # bilinear, zeros outside, align_corners=0
        helper.make_node("Slice", ["warped", "c0", "c3", "c1"], ["fake01"]),
        helper.make_node("Slice", ["warped", "c3", "c4", "c1"], ["cover"]),
        helper.make_node("Slice", ["warped", "c4", "c5", "c1"], ["dweight_roi"]),
        helper.make_node("Slice", ["warped", "c5", "c8", "c1"], ["unwarped01"]),
        # The reference mask: coverage > 20/255 is 1 (values at or below keep their own), then
        # eroded (a pixel stays only if no uncovered pixel is in its window), then blurred.
        helper.make_node("Greater", ["cover", "thresh"], ["covered"]),
        helper.make_node("Cast", ["covered"], ["binary"], to=f),
        helper.make_node("Max", ["cover", "binary"], ["white"]),
        helper.make_node("Sub", ["one", "binary"], ["holes"]),
        helper.make_node("Reshape", ["holes", "group_shape"], ["holes_g"]),
        helper.make_node("Conv", ["holes_g", "erode_x"], ["holes_x"], group=faces, pads=[0, pad, 0, pad]),
        helper.make_node("Conv", ["holes_x", "erode_y"], ["holes_xy"], group=faces, pads=[pad, 0, pad, 0]),
        helper.make_node("Less", ["holes_xy", "half"], ["solid"]),
        helper.make_node("Reshape", ["white", "group_shape"], ["white_g"]),
        helper.make_node("Cast", ["solid"], ["solid_f"], to=f),
        helper.make_node("Mul", ["white_g", "solid_f"], ["eroded"]),
        helper.make_node("Conv", ["eroded", "blur_x"], ["blur_h"], group=faces, pads=[0, pad, 0, pad]),
        helper.make_node("Conv", ["blur_h", "blur_y"], ["blurred"], group=faces, pads=[pad, 0, pad, 0]),
        helper.make_node("Reshape", ["blurred", "mask_shape"], ["mask_full"]),
        helper.make_node("Mul", ["mask_full", "blend"], ["mask"]),
    ]
    # The frame's pixels under each region (exact: the grid hits pixel centres).
    roi_nodes, sampler = _frame_sampler("roi", "to_frame", "points", faces, region, region, rgb=False)
    nodes += roi_nodes
    nodes += [
        helper.make_node("Mul", ["fake01", "k255"], ["fake_plain"]),
        # Detail: fake + amount * weight * (roi - unwarped original), clipped (detail.add_detail).
        helper.make_node("Mul", ["unwarped01", "k255"], ["unwarped"]),
        helper.make_node("Sub", ["roi", "unwarped"], ["fine"]),
        helper.make_node("Mul", ["dweight_roi", "detail"], ["dscale"]),
        helper.make_node("Mul", ["fine", "dscale"], ["gain"]),
        helper.make_node("Add", ["fake_plain", "gain"], ["fake_detail"]),
        helper.make_node("Clip", ["fake_detail", "zero", "k255"], ["fake"]),
        helper.make_node("Sub", ["fake", "roi"], ["diff"]),
        helper.make_node("Mul", ["diff", "mask"], ["change"]),
        helper.make_node("Add", ["roi", "change"], ["blended"]),
        helper.make_node("Clip", ["blended", "zero", "k255"], ["clamped"]),
        helper.make_node("Round", ["clamped"], ["rounded"]),
        helper.make_node("Transpose", ["rounded"], ["hwc"], perm=[0, 2, 3, 1]),
        helper.make_node("Cast", ["hwc"], ["regions"], to=TensorProto.UINT8),
        helper.make_node("Reshape", ["mask", "masks_shape"], ["masks"]),
    ]
    inits = [
        _const("zero", np.array(0.0, np.float32)),
        _const("one", np.array(1.0, np.float32)),
        _const("half", np.array(0.5, np.float32)),
        _const("k255", np.array(255.0, np.float32)),
        _const("thresh", np.array(20.0 / 255.0, np.float32)),
        _const("tiles6", np.array([faces, k, k, 3, size, size], np.int64)),
        _const("crop_shape", np.array([faces, 3, crop, crop], np.int64)),
        _const("bgr", np.array([2, 1, 0], np.int64)),
        _const("ones", np.ones((faces, 1, crop, crop), np.float32)),
        _const("points", _pixel_grid(region, region)),
        _const("grid_shape", np.array([faces, region, region, 2], np.int64)),
        _const("c0", np.array([0], np.int64)),
        _const("c1", np.array([1], np.int64)),
        _const("c3", np.array([3], np.int64)),
        _const("c4", np.array([4], np.int64)),
        _const("c5", np.array([5], np.int64)),
        _const("c8", np.array([8], np.int64)),
        *weight_inits,
        _const("group_shape", np.array([1, faces, region, region], np.int64)),
        _const("mask_shape", np.array([faces, 1, region, region], np.int64)),
        _const("masks_shape", np.array([faces, region, region], np.int64)),
        *sampler,
    ]
    dtype_shape = [1, 3, size, size] if split else [tiles, 3, size, size]
    swapped = (
        [f"{n}{i}" for n in ("swapped", "original") for i in range(tiles)]
        if split
        else ["swapped", "original"]
    )
    inputs = [helper.make_tensor_value_info(n, dtype, dtype_shape) for n in swapped] + [
        helper.make_tensor_value_info("frame", TensorProto.UINT8, [height, width, 3]),
        helper.make_tensor_value_info("to_crop", f, [faces, 2, 3]),
        helper.make_tensor_value_info("to_frame", f, [faces, 2, 3]),
        helper.make_tensor_value_info("erode_x", f, [faces, 1, 1, kmax]),
        helper.make_tensor_value_info("erode_y", f, [faces, 1, kmax, 1]),
        helper.make_tensor_value_info("blur_x", f, [faces, 1, 1, kmax]),
        helper.make_tensor_value_info("blur_y", f, [faces, 1, kmax, 1]),
        helper.make_tensor_value_info("blend", f, [faces, 1, 1, 1]),
        helper.make_tensor_value_info("detail", f, [faces, 1, 1, 1]),
    ]
    outputs = [
        helper.make_tensor_value_info("regions", TensorProto.UINT8, [faces, region, region, 3]),
        helper.make_tensor_value_info("masks", f, [faces, region, region]),
    ]
    return _model(nodes, inputs, outputs, inits)


def _gauss_size(sigma: float) -> int:
    """The kernel OpenCV's GaussianBlur picks for a float image and ``sigma`` (ksize (0, 0))."""
    return int(np.floor(sigma * 8 + 1 + 0.5)) | 1


def _blur_nodes(x: str, out: str, sigma: float, tag: str) -> tuple[list, list]:
    """Separable Gaussian blur of [N, 1, H, W] ``x`` with reflected borders (BORDER_REFLECT_101)."""
    size = _gauss_size(sigma)
    r = size // 2
    kernel = cv2.getGaussianKernel(size, sigma, cv2.CV_32F).ravel()
    nodes = [
        helper.make_node("Pad", [x, f"{tag}_pads"], [f"{tag}_padded"], mode="reflect"),
        helper.make_node("Conv", [f"{tag}_padded", f"{tag}_ky"], [f"{tag}_v"]),
        helper.make_node("Conv", [f"{tag}_v", f"{tag}_kx"], [out]),
    ]
    inits = [
        _const(f"{tag}_pads", np.array([0, 0, r, r, 0, 0, r, r], np.int64)),
        _const(f"{tag}_ky", kernel.reshape(1, 1, size, 1)),
        _const(f"{tag}_kx", kernel.reshape(1, 1, 1, size)),
    ]
    return nodes, inits


def _detail_weight_nodes(crop: int) -> tuple[list, list]:
    """``detail.detail_weight`` on the device: ``rgb_crop`` (swap) and ``rgb_orig`` -> ``dweight``.

    Both [B, 3, kS, kS] in 0..1; the weight is [B, 1, kS, kS], compared at ``min(kS, 128)``
    (area-averaged down, bilinear back up) with the same blurs, thresholds and flat floor.
    """
    work = min(crop, detail.WORK)
    factor = crop // work
    nodes, inits = (
        [],
        [_const("luma_w", np.array([0.299, 0.587, 0.114], np.float32).reshape(1, 3, 1, 1) * 255)],
    )
    for name in ("crop", "orig"):
        nodes += [
            helper.make_node("Mul", [f"rgb_{name}", "luma_w"], [f"{name}_rgbw"]),
            helper.make_node("ReduceSum", [f"{name}_rgbw", "c1"], [f"{name}_grey_full"], keepdims=1),
        ]
        grey = f"{name}_grey_full"
        if factor > 1:
            nodes.append(helper.make_node("AveragePool", [grey], [f"{name}_grey"], kernel_shape=[factor, factor],
                                          strides=[factor, factor]))  # fmt: skip
            grey = f"{name}_grey"
        blur_nodes, blur_inits = _blur_nodes(grey, f"{name}_low", work / 64.0, f"band_{name}")
        nodes += [*blur_nodes, helper.make_node("Sub", [grey, f"{name}_low"], [f"{name}_band"])]
        inits += blur_inits
    window = work / 40.0
    nodes += [
        helper.make_node("Mul", ["crop_band", "orig_band"], ["ab"]),
        helper.make_node("Mul", ["crop_band", "crop_band"], ["aa"]),
        helper.make_node("Mul", ["orig_band", "orig_band"], ["bb"]),
    ]
    for name in ("ab", "aa", "bb"):
        blur_nodes, blur_inits = _blur_nodes(name, f"{name}_w", window, f"win_{name}")
        nodes += blur_nodes
        inits += blur_inits
    nodes += [
        helper.make_node("Add", ["ab_w", "flat"], ["shared"]),
        helper.make_node("Max", ["aa_w", "bb_w"], ["most0"]),
        helper.make_node("Add", ["most0", "flat"], ["most"]),
        helper.make_node("Div", ["shared", "most"], ["share"]),
        helper.make_node("Sub", ["share", "drop_below"], ["above"]),
        helper.make_node("Mul", ["above", "keep_scale"], ["rising"]),
        helper.make_node("Clip", ["rising", "zero", "one"], ["dweight_work" if factor > 1 else "dweight"]),
    ]
    if factor > 1:
        nodes.append(helper.make_node("Resize", ["dweight_work", "", "up_scales"], ["dweight"], mode="linear",
                                      coordinate_transformation_mode="half_pixel"))  # fmt: skip
        inits.append(_const("up_scales", np.array([1, 1, factor, factor], np.float32)))
    inits += [
        _const("flat", np.array(detail.FLAT * detail.FLAT, np.float32)),
        _const("drop_below", np.array(detail.DROP_BELOW, np.float32)),
        _const("keep_scale", np.array(1.0 / (detail.KEEP_ABOVE - detail.DROP_BELOW), np.float32)),
    ]
    return nodes, inits


def _crops_from_tiles(prefix: str, tiles: str, faces: int, size: int, k: int) -> list:
    """k^2 tiles of S x S back into one kS x kS crop per face: [B,k,k,3,S,S] -> [B,3,S,k,S,k]."""
    return [
        helper.make_node("Cast", [tiles], [f"{prefix}_f"], to=TensorProto.FLOAT),
        helper.make_node("Clip", [f"{prefix}_f", "zero", "one"], [f"{prefix}_clipped"]),
        helper.make_node("Reshape", [f"{prefix}_clipped", "tiles6"], [f"{prefix}_t6"]),
        helper.make_node("Transpose", [f"{prefix}_t6"], [f"{prefix}_t6t"], perm=[0, 3, 4, 1, 5, 2]),
        helper.make_node("Reshape", [f"{prefix}_t6t", "crop_shape"], [f"rgb_{prefix}"]),
    ]


def kernel_size(region: int) -> int:
    """Kernel length (odd) that holds the erosion (<= size/10) and blur (<= size/10 + 1) of a region."""
    return max(2 * (region // 20) + 3, 13)


@dataclass(frozen=True)
class _Face:
    y0: int
    y1: int
    x0: int
    x1: int
    to_crop: np.ndarray
    erode: int
    blur: int


def _face_geometry(matrix: Matrix, crop: int, height: int, width: int) -> _Face | None:
    """Where a crop lands (as ``paste.crop_box``) and the reference's kernel sizes for it."""
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[-1, -1, 1], [crop, -1, 1], [-1, crop, 1], [crop, crop, 1]], np.float64) @ inverse.T
    x0 = max(int(np.floor(corners[:, 0].min())) - 2, 0)
    y0 = max(int(np.floor(corners[:, 1].min())) - 2, 0)
    x1 = min(int(np.ceil(corners[:, 0].max())) + 2, width)
    y1 = min(int(np.ceil(corners[:, 1].max())) + 2, height)
    if x1 <= x0 or y1 <= y0:
        return None
    # The reference sizes its kernels from the covered box (coverage > 20 of 255), clipped.
    inner = np.array([[0, 0, 1], [crop - 1, 0, 1], [0, crop - 1, 1], [crop - 1, crop - 1, 1]], np.float64)
    pts = inner @ inverse.T
    w = min(int(np.ceil(pts[:, 0].max())), width - 1) - max(int(np.floor(pts[:, 0].min())), 0) + 1
    h = min(int(np.ceil(pts[:, 1].max())), height - 1) - max(int(np.floor(pts[:, 1].min())), 0) + 1
    mask_size = int(np.sqrt(max(h - 1, 0) * max(w - 1, 0)))
    local = np.array(matrix, np.float64)
    local[:, 2] += local[:, :2] @ np.array([x0, y0], np.float64)  # region pixel -> crop pixel
    return _Face(y0, y1, x0, x1, _to_normalized(local, crop, crop).astype(np.float32),
                 max(mask_size // 10, 10), max(mask_size // 20, 5))  # fmt: skip


def _box_kernel(k: int, kmax: int) -> np.ndarray:
    """OpenCV's k-wide erosion window (anchor k // 2) inside a centred kmax-wide kernel."""
    kernel = np.zeros(kmax, np.float32)
    start = kmax // 2 - k // 2
    kernel[start : start + k] = 1.0
    return kernel


def _gauss_kernel(k: int, kmax: int) -> np.ndarray:
    kernel = np.zeros(kmax, np.float32)
    start = kmax // 2 - k
    kernel[start : start + 2 * k + 1] = cv2.getGaussianKernel(2 * k + 1, 0, cv2.CV_32F).ravel()
    return kernel


class DevicePath:
    """Crops, swapper and paste chained on the swapper's device; one instance per engine."""

    def __init__(self, swapper: Swapper) -> None:
        self.swapper = swapper
        # TensorRT would compile each small graph; CUDA runs them on the same device memory.
        self.providers = [p for p in swapper.session.get_providers() if p != "TensorrtExecutionProvider"]
        self.device = swapper.device
        self.enabled = True
        self._sessions: OrderedDict[tuple, ort.InferenceSession] = OrderedDict()

    def _session(self, key: tuple, build) -> ort.InferenceSession:
        session = self._sessions.get(key)
        if session is not None:
            self._sessions.move_to_end(key)
        else:
            options = ort.SessionOptions()
            options.log_severity_level = 2  # nodes that fall back to the CPU are named at warning level
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = ort.InferenceSession(build(), sess_options=options, providers=self.providers)
            self._sessions[key] = session
            log.info("Device path: %s graph built for %s on %s.", key[0], key[1:], session.get_providers()[0])
            if len(self._sessions) > _KEEP_SESSIONS:  # the least recently used shape goes
                self._sessions.popitem(last=False)
        return session

    def swap(
        self,
        frame: Frame,
        matrices: list[Matrix],
        crop: int,
        blend: float,
        latent: np.ndarray,
        amount: float = 0.0,
    ) -> list[PasteRegion] | None:
        """Swap and paste every face of ``frame`` in place; None when it must go the CPU way.

        ``amount`` is the engine's ``detail``. The CPU way is taken when face regions overlap (each
        paste must see the one before it), or for detail on a crop that is no whole multiple of
        the size the detail weight is computed at.
        """
        if amount > 0.0 and crop % min(crop, detail.WORK):
            return None
        height, width = frame.shape[:2]
        swapper, size = self.swapper, self.swapper.size
        k = crop // size
        faces = [_face_geometry(m, crop, height, width) for m in matrices]
        kept = [(m, f) for m, f in zip(matrices, faces, strict=True) if f is not None]
        if not kept:
            return []
        if _overlap([f for _, f in kept]):
            return None
        n = len(kept)
        region = -(-max(max(f.y1 - f.y0, f.x1 - f.x0) for _, f in kept) // _REGION_STEP) * _REGION_STEP
        kmax = kernel_size(region)
        dtype = TensorProto.FLOAT16 if swapper.target_dtype == np.float16 else TensorProto.FLOAT
        split = not swapper.batchable and n * k * k > 1
        key = (height, width, n, size, k, region, dtype, split)
        crops = self._session(("crops", *key[:5], dtype, split), functools.partial(
            crops_model, height, width, n, size, k, dtype, split))  # fmt: skip
        paste = self._session(("paste", *key), functools.partial(paste_model, *key))
        theta = np.stack([_to_normalized(cv2.invertAffineTransform(m), width, height) for m, _ in kept])
        frame_value = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(frame), self.device, 0)

        binding = crops.io_binding()
        binding.bind_ortvalue_input("frame", frame_value)
        binding.bind_cpu_input("theta", theta.astype(np.float32))
        tile_names = [o.name for o in crops.get_outputs()]
        for name in tile_names:
            binding.bind_output(name, self.device)
        crops.run_with_iobinding(binding)
        tiles = binding.get_outputs()

        if not split:
            latent = np.repeat(latent, n * k * k, axis=0)
        swapped = []
        for tile in tiles:
            run = swapper.session.io_binding()
            run.bind_ortvalue_input(swapper.target_name, tile)
            run.bind_cpu_input(swapper.source_name, latent)
            run.bind_output(swapper.output_name, self.device)
            swapper.session.run_with_iobinding(run)
            swapped.append(run.get_outputs()[0])

        binding = paste.io_binding()
        for i, (value, tile) in enumerate(zip(swapped, tiles, strict=True)):
            binding.bind_ortvalue_input(f"swapped{i}" if split else "swapped", value)
            binding.bind_ortvalue_input(f"original{i}" if split else "original", tile)
        binding.bind_ortvalue_input("frame", frame_value)
        to_frame = []
        for _, f in kept:
            shift = np.array([[1.0, 0.0, f.x0], [0.0, 1.0, f.y0]])
            to_frame.append(_to_normalized(shift, width, height))
        erode = np.stack([_box_kernel(f.erode, kmax) for _, f in kept])
        blur = np.stack([_gauss_kernel(f.blur, kmax) for _, f in kept])
        binding.bind_cpu_input("to_crop", np.stack([f.to_crop for _, f in kept]))
        binding.bind_cpu_input("to_frame", np.stack(to_frame).astype(np.float32))
        binding.bind_cpu_input("erode_x", erode.reshape(n, 1, 1, kmax))
        binding.bind_cpu_input("erode_y", erode.reshape(n, 1, kmax, 1))
        binding.bind_cpu_input("blur_x", blur.reshape(n, 1, 1, kmax))
        binding.bind_cpu_input("blur_y", blur.reshape(n, 1, kmax, 1))
        binding.bind_cpu_input("blend", np.full((n, 1, 1, 1), float(np.clip(blend, 0.0, 1.0)), np.float32))
        binding.bind_cpu_input("detail", np.full((n, 1, 1, 1), float(np.clip(amount, 0.0, 1.0)), np.float32))
        binding.bind_output("regions", self.device)
        binding.bind_output("masks", self.device)
        paste.run_with_iobinding(binding)
        regions, masks = binding.copy_outputs_to_cpu()
        return [_write_back(frame, regions[i], masks[i], f) for i, (_, f) in enumerate(kept)]


def _overlap(faces: list[_Face]) -> bool:
    for i, a in enumerate(faces):
        for b in faces[i + 1 :]:
            if a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1:
                return True
    return False


def _write_back(frame: Frame, region: np.ndarray, mask: np.ndarray, face: _Face) -> PasteRegion:
    h, w = face.y1 - face.y0, face.x1 - face.x0
    frame[face.y0 : face.y1, face.x0 : face.x1] = region[:h, :w]
    return PasteRegion(face.y0, face.y1, face.x0, face.x1, np.ascontiguousarray(mask[:h, :w]))
