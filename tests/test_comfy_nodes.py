"""The ComfyUI nodes without ComfyUI: contracts, tensor layouts, batches, progress, caching, files.

ComfyUI's three modules are stand-ins (fake_comfy.py); everything else is real: CPU torch,
onnxruntime, the real YuNet and SCRFD detectors on real photos and clip frames, and synthetic
swapper and recogniser models with the exact inswapper / ArcFace contracts.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shared_file
from fake_comfy import FakeComfy, InterruptProcessingException
from helpers import read, upscaler_onnx

import inswapper_live
from inswapper_live.comfy_nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS, comfy_adapter
from inswapper_live.comfy_nodes import nodes as comfy_nodes
from inswapper_live.comfy_nodes.loading import model_choices, provider_choices
from inswapper_live.core import modelinfo, synthetic
from inswapper_live.core import resolve as core_resolve
from inswapper_live.core.engine import Engine
from inswapper_live.core.errors import (
    InputError,
    ModelLoadError,
    ModelNotFoundError,
    NoFaceError,
    OutputError,
    SettingsError,
)
from inswapper_live.core.install.comfyui import pack_requirements
from inswapper_live.core.install.env import ORT_PACKAGES, requirement_name
from inswapper_live.core.select import order_faces
from inswapper_live.core.source import SourceFace
from inswapper_live.core.types import Face

torch = pytest.importorskip(
    "torch", reason="the ComfyUI nodes need torch (ComfyUI's own); .ci/run installs it"
)

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO / "comfy_nodes" / "workflows"
YUNET = "face_detection_yunet_2026may.onnx"
MODEL_ARGS = {
    "swapper": "inswapper_128.onnx",
    "detector": YUNET,
    "recognizer": "w600k_r50.onnx",
    "provider": "cpu",
    "det_size": 640,
    "det_thresh": 0.5,
    "threads": 0,
}


# ---------------------------------------------------------------- fixtures and helpers
@pytest.fixture(scope="module")
def comfy_base(tmp_path_factory: pytest.TempPathFactory, yunet: Path) -> Path:
    """A ComfyUI base folder with models where users of other face-swap packs keep them."""
    base = tmp_path_factory.mktemp("comfyui")
    models = base / "models"
    synthetic.make_swapper(models / "insightface" / "inswapper_128.onnx", 128, batch=True)
    synthetic.make_swapper(models / "reswapper" / "swapper_512.onnx", 512, seed=5)
    synthetic.make_recognizer(models / "insightface" / "models" / "buffalo_l" / "w600k_r50.onnx")
    (models / "inswapper_live").mkdir(parents=True)
    shutil.copy(yunet, models / "inswapper_live" / YUNET)
    (models / "insightface" / "models" / "buffalo_sc").mkdir(parents=True)
    scrfd = shared_file("models", "det_500m.onnx")  # non-commercial: only from the shared data
    if scrfd is not None:
        shutil.copy(scrfd, models / "insightface" / "models" / "buffalo_sc" / "det_500m.onnx")
    (base / "repo_models").mkdir()
    return base


@pytest.fixture
def comfy(comfy_base: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeComfy:
    """ComfyUI's modules faked; the engine's own model folders pointed at empty places."""
    empty = comfy_base / "repo_models" / "manifest.toml"
    monkeypatch.setattr(comfy_adapter, "MANIFEST_PATH", empty)
    monkeypatch.setattr(core_resolve, "MANIFEST_PATH", empty)
    monkeypatch.delenv("INSWAPPER_LIVE_MODELS", raising=False)
    monkeypatch.delenv("COMFYUI_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return FakeComfy(comfy_base).install(monkeypatch)


@pytest.fixture
def model(comfy: FakeComfy) -> Engine:
    return comfy_nodes.LoadSwapModel().load(**MODEL_ARGS)[0]


def to_image(*frames: np.ndarray) -> torch.Tensor:
    """BGR uint8 frames -> a ComfyUI IMAGE batch, the way LoadImage builds one (k / 255)."""
    rgb = np.stack([f[..., ::-1] for f in frames]).astype(np.float32) / 255.0
    return torch.from_numpy(rgb)


@pytest.fixture(scope="module")
def clip_frames(clips_dir: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(clips_dir / "clip_obama_zoom_3s.mp4"))
    frames = []
    while len(frames) < 16:
        ok, frame = capture.read()
        assert ok
        frames.append(frame)
    capture.release()
    return frames


@pytest.fixture(scope="module")
def photo(faces_dir: Path) -> Callable[[str], np.ndarray]:
    return lambda name: read(faces_dir / name)


def extract(model: Engine, image: torch.Tensor, index: int = 0, order: str = "large-small") -> SourceFace:
    return comfy_nodes.ExtractSource().extract(model, image, index, order)[0]


def swap(model: Engine, source: SourceFace, images: torch.Tensor, **options: object) -> tuple:
    args = {"target_faces": "all", "face_order": "left-right", "pixel_boost": "native", "blend": 1.0}
    return comfy_nodes.SwapFace().swap(model, source, images, **{**args, **options})


def centre(face: Face) -> tuple[int, int]:
    return int((face.bbox[1] + face.bbox[3]) / 2), int((face.bbox[0] + face.bbox[2]) / 2)


# ---------------------------------------------------------------- import and contracts
LOAD_LIKE_COMFYUI = """
import importlib.util, sys
folder = sys.argv[1]
name = folder.replace(".", "_x_")  # what ComfyUI's load_custom_node names a folder module
spec = importlib.util.spec_from_file_location(name, folder + "/__init__.py")
module = importlib.util.module_from_spec(spec)
sys.modules[name] = module
spec.loader.exec_module(module)
"""


def test_pack_loads_lazily_the_way_comfyui_loads_it() -> None:
    """The repository root as ComfyUI imports a custom-node folder; torch and ComfyUI stay out."""
    code = LOAD_LIKE_COMFYUI + (
        "assert not hasattr(module, 'WEB_DIRECTORY')\n"
        "heavy = [m for m in ('numpy', 'cv2', 'onnxruntime') if m in sys.modules]\n"
        "assert sorted(module.NODE_CLASS_MAPPINGS) == sorted(module.NODE_DISPLAY_NAME_MAPPINGS)\n"
        "print(heavy, len(module.NODE_CLASS_MAPPINGS), [m for m in ('torch', 'folder_paths', 'comfy') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code, str(REPO)], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", str(len(NODE_CLASS_MAPPINGS)), "[]"]


def test_package_imports_without_any_dependency() -> None:
    """install.py runs the root __init__ before numpy or onnxruntime are installed (-S: no site-packages)."""
    code = LOAD_LIKE_COMFYUI + "print(module.__version__)"
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, str(REPO)], capture_output=True, text=True, cwd="/"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == inswapper_live.__version__


@pytest.mark.parametrize("node_id", sorted(NODE_CLASS_MAPPINGS))
def test_node_contract(node_id: str, comfy: FakeComfy) -> None:
    cls = NODE_CLASS_MAPPINGS[node_id]
    assert node_id.startswith("InswapperLive") and "(inswapper-live)" in NODE_DISPLAY_NAME_MAPPINGS[node_id]
    spec = cls.INPUT_TYPES()
    assert set(spec) <= {"required", "optional", "hidden"} and spec["required"]
    builtin = {"IMAGE", "MASK", "INT", "FLOAT", "STRING", "BOOLEAN"}
    for group in ("required", "optional"):
        for name, entry in spec.get(group, {}).items():
            kind = entry[0]
            assert isinstance(kind, list) or kind in builtin or kind.startswith("INSWAPPER_LIVE_"), (
                name,
                kind,
            )
            if isinstance(kind, list):
                assert all(isinstance(v, str) for v in kind), name  # empty: no saved face model yet
                options = entry[1] if len(entry) > 1 else {}
                assert "default" not in options or options["default"] in kind, name
    for kind in cls.RETURN_TYPES:
        assert kind in builtin or kind.startswith("INSWAPPER_LIVE_")
    if hasattr(cls, "RETURN_NAMES"):
        assert len(cls.RETURN_NAMES) == len(cls.RETURN_TYPES)
    if hasattr(cls, "OUTPUT_TOOLTIPS"):
        assert len(cls.OUTPUT_TOOLTIPS) == len(cls.RETURN_TYPES)
    assert cls.CATEGORY == "inswapper-live" and cls.DESCRIPTION
    assert getattr(cls, "OUTPUT_NODE", False) is (not cls.RETURN_TYPES)
    # ComfyUI calls FUNCTION with every input as a keyword: the names must match exactly.
    params = inspect.signature(getattr(cls, cls.FUNCTION)).parameters
    names = [p for p in params if p != "self"]
    assert set(names) == set(spec["required"]) | set(spec.get("optional", {}))
    for name in spec.get("optional", {}):
        assert params[name].default is not inspect.Parameter.empty, name
    for name in spec["required"]:
        assert params[name].default is inspect.Parameter.empty, name


def test_model_lists_cover_every_folder(request, comfy: FakeComfy, tmp_path: Path, recognizer: Path) -> None:
    """Files from models/inswapper_live, insightface (with buffalo_l below it) and reswapper."""
    request.getfixturevalue("scrfd_500m")
    swappers, detectors, recognizers = (model_choices(k) for k in ("swapper", "detector", "recognizer"))
    assert swappers[0] == "inswapper_128.onnx" and "swapper_512.onnx" in swappers
    assert YUNET not in swappers and "det_500m.onnx" not in swappers
    assert detectors[0] == "det_10g.onnx"  # the default, listed although missing, so workflows validate
    assert {YUNET, "det_500m.onnx"} <= set(detectors) and "inswapper_128.onnx" not in detectors
    assert recognizers[0] == "w600k_r50.onnx"
    assert provider_choices()[:1] == ["auto"] and "cpu" in provider_choices()
    assert "AzureExecutionProvider" not in provider_choices()
    # A folder another pack or extra_model_paths.yaml registered under a shared name is searched too.
    extra = tmp_path / "elsewhere"
    for sub in ("a", "b"):
        (extra / sub).mkdir(parents=True)
        shutil.copy(recognizer, extra / sub / "arcface.onnx")
    shutil.copy(recognizer, extra / "arcface_copy.onnx")
    comfy.folder_paths.folder_names_and_paths["insightface"] = ([str(extra)], set())
    listed = model_choices("recognizer")
    assert "arcface_copy.onnx" in listed
    # A bare file name that two files share is listed by their relative paths instead.
    assert {"a/arcface.onnx", "b/arcface.onnx"} <= set(listed) and "arcface.onnx" not in listed
    assert comfy_adapter.model_path("b/arcface.onnx") == extra / "b" / "arcface.onnx"


def test_unknown_files_are_listed_under_the_kind_their_signature_shows(
    comfy: FakeComfy, comfy_base: Path, recognizer: Path, scrfd_500m: Path
) -> None:
    folder = comfy.models_dir / "inswapper_live" / "mine"
    folder.mkdir()
    shutil.copy(recognizer, folder / "my_arcface.onnx")
    shutil.copy(scrfd_500m, folder / "my_scrfd.onnx")
    upscaler_onnx(folder / "upscaler_x4.onnx")
    (folder / "broken.onnx").write_bytes(b"half a download")
    lists = {kind: model_choices(kind) for kind in ("swapper", "detector", "recognizer")}
    assert "my_arcface.onnx" in lists["recognizer"] and "my_scrfd.onnx" in lists["detector"]
    assert "swapper_512.onnx" in lists["swapper"]
    for kind, names in lists.items():
        assert "upscaler_x4.onnx" not in names and "broken.onnx" not in names, kind
        if kind != "recognizer":
            assert "my_arcface.onnx" not in names, kind
        if kind != "detector":
            assert "my_scrfd.onnx" not in names, kind
    # Read once per file version: listing again reads no file; a replaced file is read again.
    before = modelinfo._kind_of.cache_info()
    model_choices("detector")
    after = modelinfo._kind_of.cache_info()
    assert after.misses == before.misses and after.hits > before.hits
    shutil.copy(recognizer, folder / "my_scrfd.onnx")
    assert "my_scrfd.onnx" in model_choices("recognizer") and "my_scrfd.onnx" not in model_choices("detector")


def test_is_changed_is_silent_about_a_missing_model(comfy: FakeComfy, caplog) -> None:
    """ComfyUI logs what IS_CHANGED raises; the missing file is LoadSwapModel's own error, said once."""
    with caplog.at_level(logging.DEBUG):
        value = comfy_nodes.LoadSwapModel.IS_CHANGED(**{**MODEL_ARGS, "detector": "det_10g.onnx"})
    assert value == "missing" and caplog.text == ""
    assert comfy_nodes.LoadSwapModel.IS_CHANGED(**MODEL_ARGS) != value


def test_load_swap_model_is_cached_per_settings(comfy: FakeComfy, comfy_base: Path) -> None:
    load = comfy_nodes.LoadSwapModel().load
    first = load(**MODEL_ARGS)[0]
    assert load(**MODEL_ARGS)[0] is first
    other = load(**{**MODEL_ARGS, "det_thresh": 0.6})[0]
    assert other is not first and other.settings.det_thresh == 0.6
    assert load(**MODEL_ARGS)[0] is first  # two model sets stay loaded
    fingerprint = comfy_nodes.LoadSwapModel.IS_CHANGED(**MODEL_ARGS)
    assert comfy_nodes.LoadSwapModel.IS_CHANGED(**{**MODEL_ARGS, "det_thresh": 0.6}) == fingerprint
    swapper = comfy_base / "models" / "insightface" / "inswapper_128.onnx"
    stat = swapper.stat()
    os.utime(swapper, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert comfy_nodes.LoadSwapModel.IS_CHANGED(**MODEL_ARGS) != fingerprint  # ComfyUI runs the node again
    assert load(**MODEL_ARGS)[0] is not first  # and a replaced file loads again


def test_missing_and_wrong_models_say_what_to_change(comfy: FakeComfy) -> None:
    load = comfy_nodes.LoadSwapModel().load
    with pytest.raises(ModelNotFoundError) as missing:
        load(**{**MODEL_ARGS, "detector": "det_10g.onnx"})
    message = str(missing.value)
    assert "detector" in message and "det_10g.onnx" in message
    assert str(comfy.models_dir / "inswapper_live") in message and "insightface" in message
    with pytest.raises(ModelLoadError, match=r"face detector \(YuNet\), but the swapper setting"):
        load(**{**MODEL_ARGS, "swapper": YUNET})
    with pytest.raises(ModelLoadError, match="recognizer setting"):
        load(**{**MODEL_ARGS, "recognizer": "swapper_512.onnx"})


# ---------------------------------------------------------------- ExtractSource
def test_extract_source_matches_the_engine(model: Engine, comfy: FakeComfy, photo: Callable) -> None:
    """The tensor arrives as the same BGR frame the engine would read from disk."""
    portrait = photo("obama_official_portrait.jpg")
    face = extract(model, to_image(portrait))
    assert face.count == 1
    assert np.allclose(face.embedding, model.largest_face(portrait).embedding, atol=1e-5)
    assert comfy.bars[-1].total == comfy.bars[-1].current == 1

    group = photo("apollo11_crew_3faces.jpg")
    third = extract(model, to_image(group), 2, "left-right")
    expected = model.recognizer().embed(group, [order_faces(model.detect(group), "left-right")[2]])[0]
    assert np.allclose(third.embedding, expected, atol=1e-5)
    with pytest.raises(NoFaceError, match=r"has 3 face\(s\).*choose an index from 0 to 2"):
        extract(model, to_image(group), 3, "left-right")


def test_extract_source_averages_a_batch(model: Engine, comfy: FakeComfy, clip_frames: list) -> None:
    face = extract(model, to_image(*clip_frames))
    assert face.count == 16
    assert comfy.bars[-1].total == comfy.bars[-1].current == 16
    singles = np.stack([model.largest_face(f).embedding for f in clip_frames])
    mean = singles.mean(axis=0)
    assert np.allclose(face.embedding, mean / np.linalg.norm(mean), atol=1e-5)


def test_extract_source_errors(model: Engine, comfy: FakeComfy, photo: Callable) -> None:
    empty = np.ascontiguousarray(photo("obama_official_portrait.jpg")[-150:, :300])
    with pytest.raises(NoFaceError, match="0 faces detected"):
        extract(model, to_image(empty))
    with pytest.raises(NoFaceError, match=r"None of the 2 source images.*0 faces detected"):
        extract(model, to_image(empty, empty))
    with pytest.raises(InputError, match=r"empty \(0 frames\)"):
        extract(model, torch.zeros((0, 64, 64, 3)))
    with pytest.raises(InputError, match=r"not an IMAGE batch"):
        extract(model, torch.zeros((64, 64, 3)))


# ---------------------------------------------------------------- SwapFace
@pytest.mark.parametrize("detector", [YUNET, "det_500m.onnx"])
def test_swap_face_single_image(request, detector: str, comfy: FakeComfy, photo: Callable) -> None:
    if detector == "det_500m.onnx":
        request.getfixturevalue("scrfd_500m")
    model = comfy_nodes.LoadSwapModel().load(**{**MODEL_ARGS, "detector": detector})[0]
    source = extract(model, to_image(photo("biden_portrait.jpg")))
    target = photo("obama_official_portrait.jpg")
    # Values between the 8-bit steps, as a VAE decode gives: they must come out untouched.
    images = (to_image(target) + 0.0011).clamp(0.0, 1.0)
    out, mask, _ = swap(model, source, images)
    assert out.shape == images.shape and out.dtype == torch.float32
    assert mask.shape == images.shape[:3] and mask.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0 and float(mask.max()) > 0.99
    assert torch.equal(images, (to_image(target) + 0.0011).clamp(0.0, 1.0))  # input not changed in place
    changed = mask[0] > 0
    # Outside the swapped region every value is the input's, exactly.
    assert torch.equal(out[0][~changed], images[0][~changed])
    # Inside it, the pixels are what the engine gives for the same frame.
    model.set_source(source)
    expected = to_image(model.swap(target).frame)[0]
    assert torch.equal(out[0][changed], expected[changed])
    y, x = centre(model.detect(target)[0])
    assert bool(changed[y, x]) and float((out[0] - images[0]).abs()[changed].mean()) > 0.05
    assert comfy.bars[-1].total == comfy.bars[-1].current == 1


def test_swap_face_sixteen_frames_reuses_sessions(model: Engine, comfy: FakeComfy, clip_frames: list) -> None:
    source = extract(model, to_image(clip_frames[0]))
    swapper_session, detector_session = model.swapper.session, model.detector.session
    images = to_image(*clip_frames)
    out, mask, _ = swap(model, source, images)
    assert out.shape == (16, 480, 640, 3) and mask.shape == (16, 480, 640)
    assert all(float(mask[i].max()) > 0.99 for i in range(16))  # a face swapped in every frame
    assert comfy.bars[-1].total == comfy.bars[-1].current == 16 and comfy.checks >= 16
    again, _, _ = swap(model, source, images)
    assert torch.equal(out, again)
    assert model.swapper.session is swapper_session and model.detector.session is detector_session


def test_swap_face_stops_on_interrupt(model: Engine, comfy: FakeComfy, clip_frames: list) -> None:
    source = extract(model, to_image(clip_frames[0]))
    comfy.checks, comfy.interrupt_after = 0, 4
    with pytest.raises(InterruptProcessingException):
        swap(model, source, to_image(*clip_frames[:8]))
    assert comfy.bars[-1].total == 8 and comfy.bars[-1].current == 3


def test_target_faces_and_order(model: Engine, comfy: FakeComfy, photo: Callable) -> None:
    group = photo("apollo11_crew_3faces.jpg")
    faces = order_faces(model.detect(group), "left-right")
    source = extract(model, to_image(photo("biden_portrait.jpg")))
    _, mask, _ = swap(model, source, to_image(group), target_faces="0, 2")
    assert [bool(mask[0][centre(f)] > 0) for f in faces] == [True, False, True]
    _, mask, _ = swap(model, source, to_image(group), target_faces="0", face_order="right-left")
    assert [bool(mask[0][centre(f)] > 0) for f in faces] == [False, False, True]
    _, mask, _ = swap(model, source, to_image(group), target_faces="largest")
    largest = max(range(3), key=lambda i: faces[i].area)
    assert [bool(mask[0][centre(f)] > 0) for f in faces] == [i == largest for i in range(3)]
    with pytest.raises(SettingsError, match="target_faces 'first'"):
        swap(model, source, to_image(group), target_faces="first")


def test_frames_left_unchanged_are_reported(
    model: Engine, comfy: FakeComfy, photo: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    """No face, a 1x1 or 8x5 image, or target_faces past the last face: the log and the report say so."""
    group, portrait = photo("apollo11_crew_3faces.jpg"), photo("obama_official_portrait.jpg")
    source = extract(model, to_image(photo("biden_portrait.jpg")))
    empty = portrait[-150:, :300]
    with caplog.at_level(logging.WARNING):
        out, mask, report = swap(model, source, to_image(empty))
    assert torch.equal(out, to_image(empty)) and not mask.any()
    assert report.startswith("Swapped 0 faces in 1 frame.\nNo face found in the image: returned unchanged.")
    assert "Lower det_thresh" in report and "No face found in the image" in caplog.text
    for tiny in (np.full((1, 1, 3), 128, np.uint8), np.full((5, 8, 3), 128, np.uint8)):
        out, _, report = swap(model, source, to_image(tiny))
        assert out.shape == (1, *tiny.shape) and "No face found in the image" in report
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        out, mask, report = swap(model, source, to_image(group), target_faces="9", face_order="left-right")
    assert not mask.any()
    assert (
        "target_faces 9: the image has 3 faces (counted left-right from 0), so face 9 is not there" in report
    )
    assert "face 9 is not there: returned unchanged" in caplog.text
    _, mask, report = swap(model, source, to_image(group, group), target_faces="0,9")
    assert mask.any() and report.startswith("Swapped 2 faces in 2 frames.")
    assert "frames 1, 2 of 2 have 3 faces" in report and "the other chosen faces were swapped" in report
    _, _, report = swap(model, source, to_image(portrait, np.zeros_like(portrait), portrait))
    assert report == (
        "Swapped 2 faces in 3 frames.\nNo face found in frame 2 of 3: returned unchanged. Lower det_thresh "
        "or raise det_size in Load Swap Model, or use a larger, sharper image with a visible face."
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        _, _, report = swap(model, source, to_image(portrait))
    assert report == "Swapped 1 face in 1 frame." and caplog.text == ""


def test_reference_face_swaps_only_similar_faces(model: Engine, comfy: FakeComfy, photo: Callable) -> None:
    group = photo("apollo11_crew_3faces.jpg")
    faces = order_faces(model.detect(group), "left-right")
    source = extract(model, to_image(photo("biden_portrait.jpg")))
    reference = extract(model, to_image(group), 1, "left-right")
    _, mask, _ = swap(model, source, to_image(group), reference_face=reference, similarity_threshold=0.95)
    assert [bool(mask[0][centre(f)] > 0) for f in faces] == [False, True, False]
    with pytest.raises(SettingsError, match="reference_face"):
        swap(model, source, to_image(group), target_faces="0", reference_face=reference)


def test_mask_input_limits_the_swap(model: Engine, comfy: FakeComfy, photo: Callable) -> None:
    target = photo("obama_official_portrait.jpg")
    source = extract(model, to_image(photo("biden_portrait.jpg")))
    images = to_image(target)
    full, full_mask, _ = swap(model, source, images)
    x = centre(model.detect(target)[0])[1]
    limit = torch.zeros(images.shape[1:3])
    limit[:, :x] = 1.0
    out, mask, _ = swap(model, source, images, mask=limit)
    assert torch.equal(out[0, :, x:], images[0, :, x:]) and float(mask[0, :, x:].max()) == 0.0
    assert torch.allclose(out[0, :, :x], full[0, :, :x], atol=1e-6) and torch.equal(
        mask[0, :, :x], full_mask[0, :, :x]
    )
    with pytest.raises(InputError, match=r"mask is 64x64 but the images are 910x1137.*LoadImage"):
        swap(model, source, images, mask=torch.zeros((1, 64, 64)))
    with pytest.raises(InputError, match="3 masks for 1 frames"):
        swap(model, source, images, mask=torch.zeros((3, *images.shape[1:3])))


def test_swap_face_keeps_alpha_blend_zero_and_pixel_boost(
    model: Engine, comfy: FakeComfy, photo: Callable
) -> None:
    target = photo("obama_small_320x240.jpg")
    source = extract(model, to_image(photo("biden_portrait.jpg")))
    rgb = to_image(target)
    alpha = torch.linspace(0, 1, rgb.shape[2]).expand(1, rgb.shape[1], rgb.shape[2])[..., None]
    rgba = torch.cat([rgb, alpha], dim=-1)
    out, mask, _ = swap(model, source, rgba)
    assert out.shape == rgba.shape and torch.equal(out[..., 3], rgba[..., 3])
    assert torch.equal(out[..., :3], swap(model, source, rgb)[0])
    unchanged, none, _ = swap(model, source, rgb, blend=0.0)
    assert torch.equal(unchanged, rgb) and float(none.max()) == 0.0
    boosted, _, _ = swap(model, source, rgb, pixel_boost="256")
    changed = mask[0] > 0
    assert not torch.equal(boosted[0][changed], out[0, ..., :3][changed])
    with pytest.raises(InputError, match="empty"):
        swap(model, source, torch.zeros((0, 8, 8, 3)))


# ---------------------------------------------------------------- face models and similarity
def test_face_models_round_trip(model: Engine, comfy: FakeComfy, photo: Callable) -> None:
    face = extract(
        model, to_image(photo("obama_official_portrait.jpg"), photo("obama_official_portrait.jpg"))
    )
    save, load = comfy_nodes.SaveFaceModel(), comfy_nodes.LoadFaceModel()
    shown = save.save(face, "paul", False)
    path = comfy.models_dir / "inswapper_live" / "faces" / "paul.safetensors"
    assert shown == {"ui": {"text": [str(path)]}} and path.is_file()
    assert "paul.safetensors" in comfy_nodes.LoadFaceModel.INPUT_TYPES()["required"]["face_model"][0]
    loaded = load.load("paul.safetensors")[0]
    assert np.allclose(loaded.embedding, face.embedding, atol=1e-6) and loaded.count == 2
    before = comfy_nodes.LoadFaceModel.IS_CHANGED("paul.safetensors")
    with pytest.raises(OutputError, match="already exists"):
        save.save(face, "paul", False)
    other = extract(model, to_image(photo("biden_portrait.jpg")))
    stat = path.stat()
    save.save(other, "paul.safetensors", True)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert comfy_nodes.LoadFaceModel.IS_CHANGED("paul.safetensors") != before
    assert np.allclose(load.load("paul.safetensors")[0].embedding, other.embedding, atol=1e-6)
    for bad in ("", "../x", "a/b", ".hidden"):
        with pytest.raises(OutputError, match="plain file name"):
            save.save(face, bad, True)
    with pytest.raises(InputError, match="press R"):
        load.load("gone.safetensors")


def test_reactor_face_models_load(model: Engine, comfy: FakeComfy, photo: Callable) -> None:
    """ReActor saves insightface Face fields with a raw (not normalised) 'embedding' tensor."""
    from safetensors.numpy import save_file

    face = model.largest_face(photo("biden_portrait.jpg"))
    raw = (face.embedding * 23.5).astype(np.float32)
    folder = comfy.models_dir / "reactor" / "faces"
    folder.mkdir(parents=True, exist_ok=True)
    fields = {
        "bbox": face.bbox.astype(np.float32),
        "kps": face.kps.astype(np.float32),
        "det_score": np.array(face.score, dtype=np.float32),
        "embedding": raw,
        "gender": np.array(1, dtype=np.int64),
        "age": np.array(40, dtype=np.int64),
    }
    save_file(fields, str(folder / "chris.safetensors"))
    assert "chris.safetensors" in comfy_adapter.face_files()
    loaded = comfy_nodes.LoadFaceModel().load("chris.safetensors")[0]
    assert np.allclose(loaded.embedding, face.embedding, atol=1e-6)


def test_face_similarity(model: Engine, comfy: FakeComfy, photo: Callable) -> None:
    compare = comfy_nodes.FaceSimilarity().compare
    a = to_image(photo("obama_official_portrait.jpg"))
    (same,) = compare(model, a, a)
    (other,) = compare(model, a, to_image(photo("grace_hopper.jpg")))
    assert isinstance(same, float) and same == pytest.approx(1.0, abs=1e-5)
    assert -1.0 <= other < 0.999


# ---------------------------------------------------------------- example workflows
def _widget_names(class_type: str) -> list[str]:
    """Widget inputs in the order the UI format stores their values (links are not widgets)."""
    if class_type == "LoadImage":
        return ["image", "upload"]
    if class_type == "SaveImage":
        return ["filename_prefix"]
    if class_type == "PreviewAny":
        return []
    spec = NODE_CLASS_MAPPINGS[class_type].INPUT_TYPES()
    entries = {**spec["required"], **spec.get("optional", {})}
    return [
        n
        for n, e in entries.items()
        if isinstance(e[0], list) or e[0] in {"INT", "FLOAT", "STRING", "BOOLEAN"}
    ]


def test_ui_workflow_is_the_api_workflow(comfy: FakeComfy) -> None:
    api = json.loads((WORKFLOWS / "swap_face_api.json").read_text())
    ui = json.loads((WORKFLOWS / "swap_face_ui.json").read_text())
    nodes = {str(n["id"]): n for n in ui["nodes"]}
    assert {k: n["type"] for k, n in nodes.items()} == {k: n["class_type"] for k, n in api.items()}
    links = {link[0]: link for link in ui["links"]}
    for node_id, node in nodes.items():
        expected = api[node_id]["inputs"]
        for slot, entry in enumerate(node["inputs"]):
            if entry["link"] is None:
                assert entry["name"] not in expected
                continue
            _, src, src_slot, dst, dst_slot, kind = links[entry["link"]]
            assert (str(dst), dst_slot) == (node_id, slot)
            assert expected[entry["name"]] == [str(src), src_slot]
            assert nodes[str(src)]["outputs"][src_slot]["type"] == kind
            assert entry["type"] in (kind, "*")  # "*": PreviewAny takes any type
        widgets = dict(zip(_widget_names(node["type"]), node["widgets_values"], strict=True))
        assert {k: v for k, v in expected.items() if not isinstance(v, list)} == {
            k: v for k, v in widgets.items() if k != "upload"
        }


def test_api_workflow_runs(comfy: FakeComfy, photo: Callable) -> None:
    """Executes the example API workflow with LoadImage / SaveImage played by the test."""
    api = json.loads((WORKFLOWS / "swap_face_api.json").read_text())
    api["3"]["inputs"]["detector"] = YUNET  # det_10g is not downloadable here
    images = {
        "inswapper_live_source.jpg": photo("biden_portrait.jpg"),
        "inswapper_live_target.jpg": photo("obama_official_portrait.jpg"),
    }
    saved: list[torch.Tensor] = []
    shown: list[str] = []
    results: dict[str, tuple] = {}

    def run(node_id: str) -> tuple:
        if node_id not in results:
            node = api[node_id]
            args = {k: run(v[0])[v[1]] if isinstance(v, list) else v for k, v in node["inputs"].items()}
            if node["class_type"] == "LoadImage":
                results[node_id] = (to_image(images[args["image"]]), None)
            elif node["class_type"] == "SaveImage":
                saved.append(args["images"])
                results[node_id] = ()
            elif node["class_type"] == "PreviewAny":
                shown.append(args["source"])
                results[node_id] = ()
            else:
                cls = NODE_CLASS_MAPPINGS[node["class_type"]]
                results[node_id] = getattr(cls(), cls.FUNCTION)(**args)
        return results[node_id]

    run("6")
    run("7")
    (out,) = saved
    assert shown == ["Swapped 1 face in 1 frame."]
    target = to_image(images["inswapper_live_target.jpg"])
    assert out.shape == target.shape
    changed = (out != target).any(dim=-1)[0]
    y, x = centre(results["3"][0].detect(images["inswapper_live_target.jpg"])[0])
    assert bool(changed[y, x]) and 0.01 < float(changed.float().mean()) < 0.3


# ---------------------------------------------------------------- per-face sources and attributes
def _laid_in(original: torch.Tensor, singles: list[torch.Tensor]) -> torch.Tensor:
    """The original batch with each single-source swap's changed pixels laid in (apart from each other)."""
    out = original.clone()
    taken = torch.zeros(original.shape[:3], dtype=torch.bool)
    for single in singles:
        changed = (single != original).any(dim=-1)
        assert changed.any() and not (changed & taken).any()
        out[changed] = single[changed]
        taken |= changed
    return out


def test_face_list_and_reactor_indices_map_each_face(
    model: Engine, comfy: FakeComfy, photo: Callable
) -> None:
    pair = photo("obama_biden_2faces.jpg")
    batch = to_image(pair, np.ascontiguousarray(np.roll(pair, 9, axis=1)))  # the same mapping on every frame
    a = extract(model, to_image(photo("grace_hopper.jpg")))
    b = extract(model, to_image(photo("codait_luciano.png")))
    c = extract(model, to_image(photo("biden_portrait.jpg")))
    face_list = comfy_nodes.MakeFaceList().collect(b, face_3=c)[0]
    assert face_list == (b, c)
    assert comfy_nodes.MakeFaceList().collect(a, face_list=face_list)[0] == (b, c, a)
    # target face 0 <- face_list's second face (c), target face 1 <- source_face (a)
    mapped, mask, _ = swap(
        model, a, batch, face_list=face_list, source_faces_index="2, 0", input_faces_index="0,1"
    )
    singles = [swap(model, c, batch, target_faces="0")[0], swap(model, a, batch, target_faces="1")[0]]
    assert torch.equal(mapped, _laid_in(batch, singles))
    assert (mask[:, :, :] > 0).any(dim=(1, 2)).all()
    # One source index serves every listed face; faces not listed keep their look.
    only_right, _, _ = swap(model, a, batch, face_list=face_list, source_faces_index="1", input_faces_index="1")
    assert torch.equal(only_right, swap(model, b, batch, target_faces="1")[0])
    # Without input_faces_index the node is what it was: source_face into every target face.
    assert torch.equal(swap(model, a, batch)[0], swap(model, a, batch, input_faces_index="  ")[0])


def test_bad_face_mappings_name_the_widget(model: Engine, comfy: FakeComfy, photo: Callable, caplog) -> None:
    pair = to_image(photo("obama_biden_2faces.jpg"))
    a = extract(model, to_image(photo("grace_hopper.jpg")))
    face_list = comfy_nodes.MakeFaceList().collect(a)[0]
    for options, message in (
        ({"face_list": face_list}, "input_faces_index is empty"),
        (
            {"source_faces_index": "0,1,0", "input_faces_index": "0,1", "face_list": face_list},
            "names 3 sources",
        ),
        ({"source_faces_index": "2", "input_faces_index": "0"}, "source 2 does not exist"),
        ({"source_faces_index": "0", "input_faces_index": "1,1"}, "Face 1 is mapped twice"),
        ({"input_faces_index": "first"}, "input_faces_index 'first' is not understood"),
        ({"target_age": "old"}, "target_age 'old'"),
    ):
        with pytest.raises(SettingsError, match=message):
            swap(model, a, pair, **options)
    # An index beyond the faces of a frame leaves that frame's other faces swapped (a batch goes on).
    result, _, _ = swap(model, a, pair, input_faces_index="1,5")
    assert torch.equal(result, swap(model, a, pair, target_faces="1")[0])
    assert "input_faces_index 5 (source 0) found no face in 1 of 1 frames" in caplog.text


def test_target_gender_and_age(model: Engine, comfy: FakeComfy, comfy_base: Path, photo: Callable) -> None:
    from inswapper_live.core.attributes import GenderAge
    from inswapper_live.core.runtime import RuntimeSettings

    path = synthetic.make_genderage(
        comfy_base / "models" / "insightface" / "models" / "buffalo_l" / "genderage.onnx"
    )
    group = photo("pexels_group_meeting_4faces.jpeg")
    faces = order_faces(model.detect(group), "left-right")
    GenderAge(path, RuntimeSettings()).predict(group, faces)
    source = extract(model, to_image(photo("biden_portrait.jpg")))
    _, mask, _ = swap(model, source, to_image(group), target_gender="female")
    women = [f.gender == 0 for f in faces]
    assert [bool(mask[0][centre(f)] > 0) for f in faces] == women and 0 < sum(women) < len(faces)
    _, mask, _ = swap(model, source, to_image(group), target_gender="male", target_age="0-30")
    assert [bool(mask[0][centre(f)] > 0) for f in faces] == [f.gender == 1 and f.age <= 30 for f in faces]
def test_without_onnxruntime_the_pack_registers_nothing_and_says_how_to_get_it() -> None:
    """requirements.txt leaves onnxruntime to install.py; a pack installed by hand may lack it."""
    code = (
        "import importlib.abc, logging, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.partition('.')[0] == 'onnxruntime':\n"
        "            raise ImportError('No module named onnxruntime')\n"
        "sys.meta_path.insert(0, Block())\n"
        "logging.basicConfig()\n"
        "import inswapper_live\n"
        "print(inswapper_live.NODE_CLASS_MAPPINGS, inswapper_live.NODE_DISPLAY_NAME_MAPPINGS)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{} {}"
    assert "onnxruntime does not import" in done.stderr and f"{REPO / 'install.py'}" in done.stderr
    assert "onnxruntime-gpu" in done.stderr and "Traceback" not in done.stderr


def test_requirements_never_name_an_onnxruntime_build() -> None:
    """Any onnxruntime line would make pip install that build over the one ComfyUI has."""
    names = {requirement_name(r) for r in pack_requirements(REPO)}
    assert "numpy" in names and not names & set(ORT_PACKAGES)
    assert "torch" not in names
# ---------------------------------------------------------------- masks
def test_swap_face_masks_and_the_face_mask_node(
    model: Engine, comfy: FakeComfy, comfy_base: Path, photo: Callable
) -> None:
    from inswapper_live.core.synthetic_masks import MARKER_BGR, make_occluder

    make_occluder(comfy_base / "models" / "inswapper_live" / "xseg_contract.onnx")
    assert "xseg_contract.onnx" in comfy_nodes.SwapFace.INPUT_TYPES()["optional"]["occluder"][0]
    target = photo("obama_official_portrait.jpg")
    face = model.detect(target)[0]
    (ex, ey), (nx, _), (_, my) = face.kps[0], face.kps[2], face.kps[3]
    x0, y0, x1, y1 = int(ex - 10), int(ey + 10), int(nx + 5), int(my)
    covered = target.copy()
    covered[y0:y1, x0:x1] = MARKER_BGR
    inside = np.zeros(target.shape[:2], bool)
    inside[y0 + 12 : y1 - 12, x0 + 12 : x1 - 12] = True
    source = extract(model, to_image(photo("biden_portrait.jpg")))
    images = to_image(covered)
    plain, _, _ = swap(model, source, images)
    assert bool((plain[0][torch.from_numpy(inside)] != images[0][torch.from_numpy(inside)]).any())
    out, swap_mask, _ = swap(model, source, images, face_masks="occlusion", occluder="xseg_contract.onnx")
    keep = torch.from_numpy(inside)
    assert torch.equal(out[0][keep], images[0][keep]) and float(swap_mask[0][keep].max()) == 0.0
    (mask,) = comfy_nodes.FaceMask().mask(
        model, torch.cat([images, images]), "all", "left-right", "occlusion", "0,0,0,0", 0.0,
        "skin", "parser", "xseg_contract.onnx", "faceparser_resnet34.onnx", "2d106det.onnx",
    )  # fmt: skip
    assert mask.shape == (2, *target.shape[:2]) and torch.equal(mask[0], mask[1])
    assert float(mask[0][keep].max()) == 0.0
    eye = int(face.kps[1, 1]), int(face.kps[1, 0])
    assert float(mask[0][eye]) > 0.99 and float(mask[0][:, :20].max()) == 0.0
    with pytest.raises(ModelNotFoundError, match=r"occluder model 'no_such\.onnx'"):
        swap(model, source, images, face_masks="occlusion", occluder="no_such.onnx")
