"""Box, occlusion, region and mouth masks: contract models on real photos with real detectors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from inswapper_live.core import synthetic_masks as sm
from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.errors import ModelLoadError, ModelNotFoundError, SettingsError
from inswapper_live.core.imageio import read_image
from inswapper_live.core.landmark106 import MOUTH, Landmarker106
from inswapper_live.core.live import LiveSession, LiveSettings
from inswapper_live.core.mask_model import open_mask_model
from inswapper_live.core.masks import MaskSettings, box_mask, parse_padding
from inswapper_live.core.runtime import RuntimeSettings
from inswapper_live.core.source import SourceFace

CPU = RuntimeSettings(provider="cpu")
SKIN_RGB = (190, 140, 120)
HAT_RGB = (0, 0, 255)
MOUTH_RGB = (0, 255, 0)
MARGIN = 12
"""Frame pixels in from a painted object's edge: the masks' soft edge (sigma 2% of the mask) reaches that far."""


@pytest.fixture(scope="module")
def mask_models(synthetic_dir: Path) -> dict[str, Path]:
    colours = {"background": (40, 40, 40), "skin": SKIN_RGB, "hat": HAT_RGB, "mouth": MOUTH_RGB}
    return {
        "xseg_nhwc": sm.make_occluder(synthetic_dir / "xseg_nhwc.onnx", layout="NHWC"),
        "xseg_nchw": sm.make_occluder(synthetic_dir / "xseg_nchw.onnx", layout="NCHW"),
        "parser": sm.make_parser(synthetic_dir / "parser.onnx", colours),
        "parser_dynamic": sm.make_parser(synthetic_dir / "parser_dyn.onnx", colours, size=None),
        "landmarker": sm.make_landmarker(synthetic_dir / "lmk.onnx"),
        "landmarker_plain": sm.make_landmarker(synthetic_dir / "lmk_plain.onnx", raw_pixels=False),
    }


def _engine(swapper: Path, detector: Path, recognizer: Path, masks: MaskSettings) -> Engine:
    engine = Engine(
        EngineSettings(swapper=str(swapper), detector=str(detector), recognizer=str(recognizer), masks=masks)
    )
    engine.set_source(SourceFace(np.full(512, 1 / np.sqrt(512), dtype=np.float32)))
    return engine


def _photo(faces_dir: Path, name: str = "obama_official_portrait.jpg") -> np.ndarray:
    return read_image(faces_dir / name).bgr


def _paint(image: np.ndarray, box: tuple[int, int, int, int], rgb: tuple[int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    out = image.copy()
    out[y0:y1, x0:x1] = rgb[::-1]
    return out


def _inside(shape: tuple[int, ...], box: tuple[int, int, int, int], margin: int) -> np.ndarray:
    x0, y0, x1, y1 = box
    keep = np.zeros(shape[:2], bool)
    keep[y0 + margin : y1 - margin, x0 + margin : x1 - margin] = True
    assert keep.sum() > 500
    return keep


def _cheek_box(engine: Engine, image: np.ndarray) -> tuple[int, int, int, int]:
    """A patch over the face's left cheek and nose: between the left eye, the nose and the mouth corner."""
    face = max(engine.detect(image), key=lambda f: f.area)
    (ex, ey), (nx, _ny), (_mx, my) = face.kps[0], face.kps[2], face.kps[3]
    return int(ex - 10), int(ey + 10), int(nx + 5), int(my)


# ---------------------------------------------------------------- box


def test_box_mask_at_its_defaults_is_the_reference_mask(faces_dir, yunet, swapper_128, recognizer) -> None:
    image = _photo(faces_dir)
    plain = _engine(swapper_128, yunet, recognizer, MaskSettings()).swap(image).frame
    boxed = _engine(swapper_128, yunet, recognizer, MaskSettings(types=("box",))).swap(image).frame
    assert not np.array_equal(plain, image)
    assert np.array_equal(plain, boxed)


def test_box_padding_keeps_the_target_on_the_padded_side(faces_dir, yunet, swapper_128, recognizer) -> None:
    image = _photo(faces_dir)
    engine = _engine(swapper_128, yunet, recognizer, MaskSettings(types=("box",), padding=(0, 0, 50, 0)))
    out = engine.swap(image).frame
    face = max(engine.detect(image), key=lambda f: f.area)
    below_mouth = int(face.kps[3:5, 1].max()) + 15
    lower = slice(below_mouth, int(face.bbox[3])), slice(int(face.kps[3, 0]), int(face.kps[4, 0]))
    upper = (
        slice(int(face.kps[0, 1]) - 10, int(face.kps[2, 1])),
        slice(int(face.kps[0, 0]), int(face.kps[1, 0])),
    )
    assert np.array_equal(out[lower], image[lower])
    assert not np.array_equal(out[upper], image[upper])


def test_box_mask_pads_each_side_and_blurs() -> None:
    mask = box_mask(100, (10, 20, 30, 40), 0.0)
    assert (
        mask[:10].max() == 0 and mask[70:].max() == 0 and mask[:, 80:].max() == 0 and mask[:, :40].max() == 0
    )
    assert mask[10:70, 40:80].min() == 1
    soft = box_mask(100, (0, 0, 0, 0), 0.4)
    assert 0 < soft[50, 12] < 1 and soft[50, 50] == pytest.approx(1.0, abs=1e-3) and soft[0, 50] < 0.1


def test_mask_settings_are_checked() -> None:
    assert parse_padding("5") == (5, 5, 5, 5) and parse_padding("1,2") == (1, 2, 1, 2)
    with pytest.raises(SettingsError, match="padding"):
        parse_padding("1,2,3")
    with pytest.raises(SettingsError, match="mask lips is unknown"):
        MaskSettings(types=("lips",)).validate()
    with pytest.raises(SettingsError, match="region ears is unknown"):
        MaskSettings(regions=("ears",)).validate()


# ---------------------------------------------------------------- occlusion


@pytest.mark.parametrize("layout", ["xseg_nhwc", "xseg_nchw"])
@pytest.mark.parametrize("swapper", ["swapper_128", "swapper_512"])
def test_an_object_over_the_face_keeps_the_target_pixels(
    request, faces_dir, yunet, recognizer, mask_models, layout, swapper
) -> None:
    swapper_path = request.getfixturevalue(swapper)
    image = _photo(faces_dir)
    probe = _engine(swapper_path, yunet, recognizer, MaskSettings())
    box = _cheek_box(probe, image)
    covered = _paint(image, box, sm.MARKER_BGR[::-1])
    inside = _inside(image.shape, box, MARGIN)
    plain = probe.swap(covered).frame
    assert (plain[inside] != covered[inside]).any(axis=1).mean() > 0.9  # without the mask it is painted over
    masks = MaskSettings(types=("occlusion",), occluder=str(mask_models[layout]))
    out = _engine(swapper_path, yunet, recognizer, masks).swap(covered).frame
    assert np.array_equal(out[inside], covered[inside])
    face = max(probe.detect(image), key=lambda f: f.area)
    eye = (
        slice(int(face.kps[1, 1]) - 5, int(face.kps[1, 1]) + 5),
        slice(int(face.kps[1, 0]) - 5, int(face.kps[1, 0]) + 5),
    )
    assert np.array_equal(out[eye], plain[eye])  # the uncovered face is swapped as before


# ---------------------------------------------------------------- region and mouth


def test_region_mask_keeps_what_the_parser_puts_outside_the_regions(
    faces_dir, yunet, swapper_128, recognizer, mask_models
) -> None:
    image = _photo(faces_dir)
    probe = _engine(swapper_128, yunet, recognizer, MaskSettings())
    box = _cheek_box(probe, image)
    hatted = _paint(image, box, HAT_RGB)
    inside = _inside(image.shape, box, MARGIN)
    for parser in ("parser", "parser_dynamic"):
        masks = MaskSettings(types=("region",), parser=str(mask_models[parser]), parser_size=128)
        out = _engine(swapper_128, yunet, recognizer, masks).swap(hatted).frame
        assert np.array_equal(out[inside], hatted[inside]), parser
    with_hat = MaskSettings(types=("region",), parser=str(mask_models["parser"]), regions=("skin", "hat"))
    out = _engine(swapper_128, yunet, recognizer, with_hat).swap(hatted).frame
    assert (out[inside] != hatted[inside]).any(axis=1).mean() > 0.9


def _mouth_box(engine: Engine, image: np.ndarray) -> tuple[int, int, int, int]:
    face = max(engine.detect(image), key=lambda f: f.area)
    (lx, ly), (rx, ry) = face.kps[3], face.kps[4]
    return int(lx), int(min(ly, ry) - 25), int(rx), int(max(ly, ry) + 25)


def test_mouth_from_the_parser_keeps_the_target_mouth(
    faces_dir, yunet, swapper_512, recognizer, mask_models
) -> None:
    image = _photo(faces_dir)
    probe = _engine(swapper_512, yunet, recognizer, MaskSettings())
    box = _mouth_box(probe, image)
    open_mouth = _paint(image, box, MOUTH_RGB)
    inside = _inside(image.shape, box, MARGIN)
    assert (probe.swap(open_mouth).frame[inside] != open_mouth[inside]).any(axis=1).mean() > 0.9
    masks = MaskSettings(types=("mouth",), parser=str(mask_models["parser"]))
    out = _engine(swapper_512, yunet, recognizer, masks).swap(open_mouth).frame
    assert np.array_equal(out[inside], open_mouth[inside])


@pytest.mark.parametrize("name", ["obama_official_portrait.jpg", "pexels_group_meeting_4faces.jpeg"])
def test_mouth_from_landmarks_keeps_the_target_mouth_region(
    faces_dir, yunet, swapper_128, recognizer, mask_models, name
) -> None:
    image = _photo(faces_dir, name)
    masks = MaskSettings(types=("mouth",), mouth_from="landmarks", landmarker=str(mask_models["landmarker"]))
    engine = _engine(swapper_128, yunet, recognizer, masks)
    result = engine.swap(image)
    plain = _engine(swapper_128, yunet, recognizer, MaskSettings()).swap(image).frame
    marker = Landmarker106(open_mask_model(str(mask_models["landmarker"]), None, CPU, "landmarker"))
    points = marker.landmarks(image, [f.bbox for f in result.swapped])
    for p in points:
        area = np.zeros(image.shape[:2], np.uint8)
        cv2.fillConvexPoly(area, cv2.convexHull(np.round(p[MOUTH]).astype(np.int32)), 1)
        area = cv2.erode(area, np.ones((7, 7), np.uint8)).astype(bool)
        assert area.sum() > 20
        assert np.array_equal(result.frame[area], image[area])
        assert (plain[area] != image[area]).any(axis=1).mean() > 0.9


@pytest.mark.parametrize("raw", [True, False])
def test_landmarks_match_insightface(faces_dir, photos, yunet, mask_models, raw) -> None:
    from insightface.app.common import Face as RefFace
    from insightface.model_zoo.landmark import Landmark

    from inswapper_live.core.detect import DetectorSettings, load_detector

    path = mask_models["landmarker" if raw else "landmarker_plain"]
    ours = Landmarker106(open_mask_model(str(path), None, CPU, "landmarker"))
    assert (ours.mean, ours.std) == ((0.0, 1.0) if raw else (127.5, 128.0))
    oracle = Landmark(model_file=str(path))
    detector = load_detector(yunet, DetectorSettings(), CPU)
    checked = 0
    for photo in photos[:8]:
        image = read_image(photo).bgr
        faces = detector.detect(image)
        if not faces:
            continue
        got = ours.landmarks(image, [f.bbox for f in faces])
        for face, points in zip(faces, got, strict=True):
            expected = oracle.get(image, RefFace(bbox=face.bbox))
            np.testing.assert_allclose(points, expected, atol=0.02)
            checked += 1
    assert checked >= 6


# ---------------------------------------------------------------- combining, batching, live refresh


class _Counter:
    def __init__(self, session) -> None:
        self.inner, self.calls, self.items = session.run, 0, 0
        session.run = self

    def __call__(self, names, feeds):
        self.calls += 1
        self.items += len(next(iter(feeds.values())))
        return self.inner(names, feeds)


def test_masks_combine_and_run_once_per_frame_for_all_faces(
    faces_dir, yunet, swapper_128, recognizer, mask_models
) -> None:
    image = _photo(faces_dir, "pexels_group_meeting_4faces.jpeg")
    masks = MaskSettings(
        types=("box", "occlusion", "region"), occluder=str(mask_models["xseg_nhwc"]),
        parser=str(mask_models["parser"]), padding=(0, 0, 20, 0),
    )  # fmt: skip
    engine = _engine(swapper_128, yunet, recognizer, masks)
    occluder = _Counter(engine._state.masker._models.occluder[1].model.session)
    result = engine.swap(image)
    assert len(result.swapped) >= 4
    assert occluder.calls == 1 and occluder.items == len(result.swapped)
    # The combined mask is at most each single one.
    singles = [replace(masks, types=(t,)) for t in masks.types]
    combined = result.mask()
    for single in singles:
        one = _engine(swapper_128, yunet, recognizer, single).swap(image).mask()
        assert (combined <= one + 1e-6).all()


def test_live_session_refreshes_masks_every_n_frames(
    faces_dir, yunet, swapper_128, recognizer, mask_models
) -> None:
    image = _photo(faces_dir)
    masks = MaskSettings(types=("occlusion",), occluder=str(mask_models["xseg_nhwc"]), refresh_every=3)
    engine = _engine(swapper_128, yunet, recognizer, masks)
    occluder = _Counter(engine._state.masker._models.occluder[1].model.session)
    session = LiveSession(engine, LiveSettings())
    frames = [session.process(image, i / 30).frame for i in range(7)]
    assert occluder.calls == 3  # frames 0, 3 and 6
    assert all(np.array_equal(f, frames[0]) for f in frames)
    loaded = engine._state.masker._models.occluder[1]
    engine.update(masks=replace(masks, refresh_every=1))
    assert engine._state.masker._models.occluder[1] is loaded  # the same file: not loaded again
    occluder = _Counter(engine._state.masker._models.occluder[1].model.session)
    session.process(image, 8 / 30)
    session.process(image, 9 / 30)
    assert occluder.calls == 2


# ---------------------------------------------------------------- errors


def test_wrong_or_damaged_mask_models_name_the_file_and_setting(
    tmp_path, yunet, swapper_128, recognizer, mask_models
) -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"face_detection_yunet_2026may.onnx cannot be used as the occluder: it is a face detector",
    ):
        _engine(swapper_128, yunet, recognizer, MaskSettings(types=("occlusion",), occluder=str(yunet)))
    with pytest.raises(ModelLoadError, match=r"cannot be used as the parser.*19 class scores"):
        _engine(
            swapper_128,
            yunet,
            recognizer,
            MaskSettings(types=("region",), parser=str(mask_models["xseg_nchw"])),
        )
    damaged = tmp_path / "xseg_damaged.onnx"
    damaged.write_bytes(mask_models["xseg_nhwc"].read_bytes()[:200])
    with pytest.raises(ModelLoadError, match=r"occluder setting .*xseg_damaged.onnx.*corrupt"):
        _engine(swapper_128, yunet, recognizer, MaskSettings(types=("occlusion",), occluder=str(damaged)))
    with pytest.raises(ModelLoadError, match=r"cannot be used as the landmarker"):
        _engine(
            swapper_128, yunet, recognizer,
            MaskSettings(types=("mouth",), mouth_from="landmarks", landmarker=str(mask_models["parser"])),
        )  # fmt: skip
    with pytest.raises(ModelNotFoundError, match=r"parser setting \(no_such_parser.onnx\)"):
        _engine(swapper_128, yunet, recognizer, MaskSettings(types=("region",), parser="no_such_parser.onnx"))


# ---------------------------------------------------------------- front ends


def test_cli_swap_with_occlusion_and_mouth_masks(
    tmp_path, faces_dir, yunet, swapper_128, recognizer, mask_models, caplog
) -> None:
    from inswapper_live.core.cli import main

    image = _photo(faces_dir)
    probe = _engine(swapper_128, yunet, recognizer, MaskSettings())
    box = _cheek_box(probe, image)
    covered = _paint(image, box, sm.MARKER_BGR[::-1])
    target = tmp_path / "covered.png"
    cv2.imwrite(str(target), covered)
    out = tmp_path / "out.png"
    args = [
        "swap", "--source", str(faces_dir / "grace_hopper.jpg"), "--target", str(target), "--output", str(out),
        "--swapper", str(swapper_128), "--recognizer", str(recognizer), "--detector", str(yunet),
        "--mask", "box,occlusion,mouth", "--mask-padding", "0,0,5,0", "--occluder", str(mask_models["xseg_nhwc"]),
        "--mouth-from", "landmarks", "--landmarker", str(mask_models["landmarker"]),
    ]  # fmt: skip
    assert main(args) == 0
    result = cv2.imread(str(out))
    inside = _inside(image.shape, box, MARGIN)
    assert np.array_equal(result[inside], covered[inside])
    assert (result != covered).any(axis=2).mean() > 0.01
    assert main([*args[:-2], "--landmarker", str(yunet)]) == 1
    assert "cannot be used as the landmarker" in caplog.text


def test_mask_models_are_in_the_manifest_and_fetched_only_on_demand(tmp_path, caplog) -> None:
    from inswapper_live.core.install.models import ModelSources, install_models, missing_report
    from inswapper_live.core.manifest import load_manifest

    manifest = load_manifest()
    names = {"xseg": "occluder", "faceparser_resnet34": "parser", "2d106det": "landmarker"}
    for name, kind in names.items():
        entry = manifest.models[name]
        assert entry.kind == kind and entry.licence and not entry.default
        assert all(len(v.sha256) == 64 and v.urls for v in entry.versions)
    assert manifest.models["xseg"].licence.startswith("GPL-3.0")
    assert "non-commercial" in manifest.models["2d106det"].licence
    hand = tmp_path / "downloads"
    hand.mkdir()
    (hand / "XSeg_model.onnx").write_bytes(b"not the model")
    sources = ModelSources(models_dir=tmp_path / "models", from_dirs=(hand,), offline=True)
    outcomes = install_models(manifest, list(names), sources)
    assert [o.how for o in outcomes] == ["missing"] * 3
    report = "\n".join(missing_report(outcomes, tmp_path / "models"))
    for name in names:
        assert manifest.models[name].versions[0].sha256 in report
    assert "visomaster-assets" in report and "buffalo_l.zip" in report
    assert "XSeg_model.onnx: 13 bytes is not a known version of xseg; not used" in caplog.text


# ---------------------------------------------------------------- bench stand-ins


@pytest.mark.parametrize("name", list(sm.MASK_STANDINS))
def test_mask_standins_hit_their_cost_and_have_the_contract(tmp_path, name) -> None:
    from inswapper_live.core.face_parser import FaceParser
    from inswapper_live.core.occlusion import Occluder

    spec = sm.MASK_STANDINS[name]
    *_, flops, params = sm.plan_mask_standin(spec)
    assert flops / 1e9 == pytest.approx(spec.gflops, rel=0.03)
    assert params / 1e6 == pytest.approx(spec.mparams, rel=0.02)
    path, gflops, stored = sm.make_mask_standin(tmp_path / f"{name}.onnx", name)
    assert (gflops, stored) == (flops / 1e9, params)
    model = open_mask_model(str(path), None, CPU, "occluder" if spec.layout == "NHWC" else "parser")
    crop = np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    if spec.layout == "NHWC":
        occluder = Occluder(model)
        assert (occluder.layout, occluder.size) == ("NHWC", 256)
        (mask,) = occluder.masks([crop])
        assert mask.shape == (256, 256) and 0.0 <= mask.min() <= mask.max() <= 1.0
    else:
        parser = FaceParser(model, size=256)
        assert parser.size == 512  # the file's fixed size wins over the asked one
        (labels,) = parser.classes([crop])
        assert labels.shape == (512, 512) and labels.max() < 19


def test_bench_prints_mask_stage_times_and_the_overhead_ratio(capsys, swapper_128, mask_models) -> None:
    from inswapper_live.core.cli import main

    code = main([
        "bench", "--swapper", str(swapper_128), "--sizes", "720p", "--faces", "1", "--repeat", "2",
        "--pipeline-frames", "3", "--masks", "occlusion,region", "--occluder", str(mask_models["xseg_nchw"]),
        "--parser", str(mask_models["parser"]), "--mask-refresh", "2", "--mask-frames", "4",
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    row = next(line for line in out.splitlines() if "mask overhead ratio" in line)
    assert "occlusion" in row and "region" in row and "720p 1 face(s)" in row
    float(row.split("mask overhead ratio ")[1].split()[0])


def test_mask_models_are_known_by_their_signature(mask_models, yunet, recognizer, identity_128) -> None:
    """Files the manifest does not know are listed (ComfyUI, OBS) under the kind their ONNX signature shows."""
    from inswapper_live.core.modelinfo import ModelKind, Signature, classify

    expected = {
        "xseg_nhwc": ModelKind.OCCLUDER,
        "xseg_nchw": ModelKind.OCCLUDER,
        "parser": ModelKind.PARSER,
        "parser_dynamic": ModelKind.PARSER,
        "landmarker": ModelKind.LANDMARKER,
        "landmarker_plain": ModelKind.LANDMARKER,
    }
    for name, kind in expected.items():
        assert classify(Signature.of_file(mask_models[name])) is kind, name
    others = {yunet: ModelKind.YUNET, recognizer: ModelKind.RECOGNIZER, identity_128: ModelKind.SWAPPER}
    for path, kind in others.items():
        assert classify(Signature.of_file(path)) is kind, path.name
