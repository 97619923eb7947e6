"""Face restoration: contract models of each family on real photos with a real detector."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import psnr, read

from inswapper_live.core import synthetic
from inswapper_live.core.align import warp_face
from inswapper_live.core.detect import DetectorSettings, load_detector
from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.errors import ModelLoadError, ModelNotFoundError, SettingsError
from inswapper_live.core.modelinfo import ModelKind, Signature, classify
from inswapper_live.core.restore import (
    FFHQ_TEMPLATE_512,
    Restorer,
    RestoreSettings,
    _between,
    _restorer_input,
    ffhq_crop,
    paste_size,
    restore_swaps,
)
from inswapper_live.core.runtime import RuntimeSettings
from inswapper_live.core.source import SourceFace
from inswapper_live.core.swap import Swapper
from inswapper_live.core.warp import compose

PHOTOS = ("obama_official_portrait.jpg", "pexels_woman_neutral.jpeg", "grace_hopper.jpg")
GROUP = "pexels_group_meeting_4faces.jpeg"


@pytest.fixture(scope="module")
def restorers(synthetic_dir: Path) -> dict[str, Path]:
    made = {}
    for family in synthetic.RESTORER_FAMILIES:
        made[family] = synthetic.make_restorer(synthetic_dir / f"r_{family}.onnx", family)
        made[f"{family}_batch"] = synthetic.make_restorer(
            synthetic_dir / f"r_{family}_batch.onnx", family, batch=True
        )
        made[f"{family}_nhwc"] = synthetic.make_restorer(
            synthetic_dir / f"r_{family}_nhwc.onnx", family, channels_last=True
        )
        made[f"{family}_identity"] = synthetic.make_restorer(
            synthetic_dir / f"r_{family}_id.onnx", family, identity=True, batch=True
        )
    return made


def _source() -> SourceFace:
    rng = np.random.default_rng(3)
    v = rng.normal(size=512).astype(np.float32)
    return SourceFace.average([v / np.linalg.norm(v)], {})


def _engine(swapper: Path, detector: Path, recognizer: Path, **settings: object) -> Engine:
    engine = Engine(
        EngineSettings(swapper=str(swapper), detector=str(detector), recognizer=str(recognizer), **settings)
    )
    engine.set_source(_source())
    return engine


@pytest.mark.parametrize("family", synthetic.RESTORER_FAMILIES)
def test_contract_is_read_from_the_file(restorers, family) -> None:
    for variant in ("", "_batch", "_nhwc"):
        r = Restorer(restorers[family + variant], RuntimeSettings())
        assert classify(Signature.of(r.session)) is ModelKind.RESTORER
        assert r.size == 512
        assert r.has_fidelity == (family == "codeformer")
        assert r.batchable == (variant == "_batch")
        assert r.channels_last == (variant == "_nhwc")
    faces = np.random.default_rng(0).integers(0, 255, (2, 512, 512, 3), dtype=np.uint8)
    nchw = Restorer(restorers[family], RuntimeSettings()).run(faces)
    nhwc = Restorer(restorers[family + "_nhwc"], RuntimeSettings()).run(faces)
    assert np.abs(nchw.astype(int) - nhwc).max() <= 1
    assert np.abs(nchw.astype(int) - faces).mean() > 5  # it does something


def test_codeformer_fidelity_reaches_the_model(restorers) -> None:
    r = Restorer(restorers["codeformer"], RuntimeSettings())
    faces = np.random.default_rng(1).integers(0, 255, (1, 512, 512, 3), dtype=np.uint8)
    assert np.abs(r.run(faces, 1.0).astype(int) - faces).max() <= 1  # w = 1: the stand-in keeps the input
    assert np.abs(r.run(faces, 0.0).astype(int) - faces).mean() > 5


def test_restorer_input_is_ffhq_aligned_from_the_swap_crop(faces_dir, yunet) -> None:
    """Composing the two templates' transform with the swap's gives the same crop as aligning the
    frame to the FFHQ template directly (checked at the landmarks, and over the whole crop)."""
    detector = load_detector(yunet, DetectorSettings(), RuntimeSettings())
    frame = read(faces_dir / "obama_official_portrait.jpg")
    face = detector.detect(frame)[0]
    direct, matrix = ffhq_crop(frame, face.kps, 512)
    mapped = np.c_[face.kps, np.ones(5)] @ matrix.T
    assert np.abs(mapped - FFHQ_TEMPLATE_512).mean() < 8  # a 5-point fit to a smiling face, not exact
    crop, m = warp_face(frame, face.kps, 512)
    via_swap = np.c_[face.kps, np.ones(5)] @ compose(_between(512, 512), m).T
    assert np.abs(via_swap - mapped).max() < 3
    # The crop itself: the swap crop (here the unchanged target) brought in, the frame around it.
    composed = _restorer_input(frame, crop, m, 512)
    expected = cv2.warpAffine(frame, compose(_between(512, 512), m), (512, 512))
    assert psnr(composed, expected) > 35
    assert direct.shape == composed.shape


def _swap_pair(
    engine: Engine, frame: np.ndarray, restore: RestoreSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    engine.update(restore=RestoreSettings())
    plain = engine.swap(frame)
    engine.update(restore=restore)
    restored = engine.swap(frame)
    return plain.frame, restored.frame, np.maximum(plain.mask(), restored.mask())


@pytest.mark.parametrize(("swapper", "boost"), [("swapper_128", 0), ("swapper_128", 256), ("swapper_512", 0)])
def test_identity_restorer_leaves_the_swap_as_it_was(
    request, restorers, faces_dir, yunet, recognizer, swapper, boost
) -> None:
    """Tolerance: 40 dB inside the face (the path adds one bilinear resampling); outside the
    swap's box nothing changes."""
    engine = _engine(request.getfixturevalue(swapper), yunet, recognizer, pixel_boost=boost)
    for name in PHOTOS:
        frame = read(faces_dir / name)
        plain, same, mask = _swap_pair(
            engine, frame, RestoreSettings(str(restorers["gfpgan_identity"]), blend=1.0)
        )
        inside = mask > 0.01
        assert psnr(plain[inside], same[inside]) >= 40, name
        assert np.array_equal(plain[mask == 0], same[mask == 0])


@pytest.mark.parametrize("family", synthetic.RESTORER_FAMILIES)
@pytest.mark.parametrize(("swapper", "boost"), [("swapper_128", 0), ("swapper_512", 0)])
def test_restoration_changes_only_the_face(
    request, restorers, faces_dir, yunet, recognizer, family, swapper, boost
) -> None:
    engine = _engine(request.getfixturevalue(swapper), yunet, recognizer, pixel_boost=boost)
    frame = read(faces_dir / "pexels_woman_neutral.jpeg")
    plain, restored, mask = _swap_pair(
        engine, frame, RestoreSettings(str(restorers[family]), blend=1.0, fidelity=0.2)
    )
    inside = mask > 0.5

    # The sharpening stand-in changes the face (it sharpens an already sharp-ish face: small)...
    change = np.abs(restored.astype(int) - plain)[inside]
    assert change.mean() > 0.5 and change.max() >= 10
    # ...and nothing changes where the swap's mask is zero.
    assert np.array_equal(plain[mask == 0], restored[mask == 0])


def test_blend_zero_is_exactly_no_restoration_and_blend_scales(
    restorers, faces_dir, yunet, recognizer, swapper_128
) -> None:
    engine = _engine(swapper_128, yunet, recognizer)
    frame = read(faces_dir / "grace_hopper.jpg")
    plain, zero, _ = _swap_pair(engine, frame, RestoreSettings(str(restorers["gpen"]), blend=0.0))
    assert np.array_equal(plain, zero)
    _, half, mask = _swap_pair(engine, frame, RestoreSettings(str(restorers["gfpgan"]), blend=0.5))
    _, full, _ = _swap_pair(engine, frame, RestoreSettings(str(restorers["gfpgan"]), blend=1.0))
    inside = mask > 0.5
    _, quarter, _ = _swap_pair(engine, frame, RestoreSettings(str(restorers["gfpgan"]), blend=0.25))
    # Linear in blend: (half - quarter) is a third of (full - quarter), up to rounding.
    d_half = (half.astype(float) - quarter)[inside]
    d_full = (full.astype(float) - quarter)[inside]
    slope = (d_half * d_full).sum() / (d_full * d_full).sum()
    assert 0.28 < slope < 0.38


def test_batch_of_faces_equals_face_by_face(restorers, faces_dir, yunet, swapper_128) -> None:
    """All faces of the group photo in one batch give what each face gives alone."""
    detector = load_detector(yunet, DetectorSettings(), RuntimeSettings())
    frame = read(faces_dir / GROUP)
    faces = detector.detect(frame)
    assert len(faces) >= 4
    swapper = Swapper(swapper_128, RuntimeSettings())
    latent = swapper.latent(_source().embedding)
    warped = [warp_face(frame, f.kps, 128) for f in faces]
    swapped = swapper.swap_crops([c for c, _ in warped], latent)
    settings = RestoreSettings("x", blend=0.7)
    batched = Restorer(restorers["gfpgan_batch"], RuntimeSettings())
    looped = Restorer(restorers["gfpgan"], RuntimeSettings())
    all_crops, all_pairs = restore_swaps(batched, settings, frame, swapped, warped)
    loop_crops, _ = restore_swaps(looped, settings, frame, swapped, warped)
    for i in range(len(faces)):
        one_crop, one_pair = restore_swaps(batched, settings, frame, [swapped[i]], [warped[i]])
        assert np.abs(one_crop[0].astype(int) - all_crops[i]).max() <= 1
        assert np.abs(loop_crops[i].astype(int) - all_crops[i]).max() <= 1
        assert np.allclose(one_pair[0][1], all_pairs[i][1])
        assert all_crops[i].shape == (512, 512, 3)  # a 128 swap is pasted at the restorer's 512


def test_paste_size() -> None:
    assert [paste_size(s, 512) for s in (128, 256, 384, 512, 640)] == [512, 512, 512, 512, 640]


def test_standalone_restore_changes_faces_only(restorers, faces_dir, yunet, recognizer, swapper_128) -> None:
    engine = _engine(
        swapper_128,
        yunet,
        recognizer,
        restore=RestoreSettings(str(restorers["codeformer_batch"]), blend=1.0, fidelity=0.0),
    )
    frame = read(faces_dir / GROUP)
    result = engine.restore(frame)
    assert len(result.regions) >= 4
    mask = result.mask()
    assert np.array_equal(result.frame[mask == 0], frame[mask == 0])
    assert np.abs(result.frame.astype(int) - frame)[mask > 0.5].mean() > 1


def test_model_is_loaded_only_when_asked_and_reused(restorers, yunet, recognizer, swapper_128) -> None:
    engine = _engine(swapper_128, yunet, recognizer)
    assert engine._state.restorer is None
    engine.update(restore=RestoreSettings(str(restorers["gfpgan"])))
    first = engine._state.restorer
    assert first is not None
    engine.update(restore=RestoreSettings(str(restorers["gfpgan"]), blend=0.3, fidelity=0.9), blend=0.9)
    assert engine._state.restorer is first
    with pytest.raises(SettingsError, match="No face restoration model"):
        Engine(EngineSettings(swapper=str(swapper_128), detector=str(yunet))).restore(
            np.zeros((64, 64, 3), np.uint8)
        )


def test_bad_files_and_settings_name_the_file_and_the_setting(
    restorers, tmp_path, yunet, swapper_128
) -> None:
    base = EngineSettings(swapper=str(swapper_128), detector=str(yunet))
    damaged = tmp_path / "gfpgan_damaged.onnx"
    damaged.write_bytes(restorers["gfpgan"].read_bytes()[:300])
    with pytest.raises(ModelLoadError, match=r"restore setting.*gfpgan_damaged\.onnx"):
        Engine(base).update(restore=RestoreSettings(str(damaged)))
    with pytest.raises(ModelLoadError, match=r"restore setting.*swapper_128\.onnx.*face swapper"):
        Engine(base).update(restore=RestoreSettings(str(swapper_128)))
    with pytest.raises(ModelNotFoundError, match=r"restore setting.*nowhere\.onnx"):
        Engine(base).update(restore=RestoreSettings(str(tmp_path / "nowhere.onnx")))
    with pytest.raises(ModelNotFoundError, match=r"restore setting.*gfpgan_1\.4"):
        Engine(base).update(restore=RestoreSettings("gfpgan_1.4"), models_dir=str(tmp_path))
    for bad in (RestoreSettings("gfpgan_1.4", blend=1.5), RestoreSettings("codeformer", fidelity=-0.1)):
        with pytest.raises(SettingsError, match=r"restore blend|fidelity"):
            Engine(base).update(restore=bad)


def test_restorers_are_in_the_manifest_and_fetched_on_demand_only(tmp_path) -> None:
    from inswapper_live.core.install.models import ModelSources, install_models, missing_report
    from inswapper_live.core.manifest import load_manifest

    manifest = load_manifest()
    names = ("gfpgan_1.4", "codeformer", "gpen_bfr_512")
    for name in names:
        entry = manifest.find(name)
        assert entry is not None and entry.kind == "restorer" and not entry.default
        assert (
            entry.licence and entry.versions and all(len(v.sha256) == 64 and v.size for v in entry.versions)
        )
        assert all(v.urls for v in entry.versions)
    assert "non-commercial" in manifest.find("codeformer").licence
    outcomes = install_models(manifest, list(names), ModelSources(tmp_path, offline=True))
    assert [o.how for o in outcomes] == ["missing"] * 3
    report = "\n".join(missing_report(outcomes, tmp_path))
    assert (
        "gfpgan_1.4.onnx" in report and "accc4757b26bdb89" in report and "huggingface.co/facefusion" in report
    )


def test_cli_restore_flags(tmp_path, restorers, faces_dir, cli_models, caplog) -> None:
    from inswapper_live.core.cli import main

    common = [
        "swap", "--source", str(faces_dir / "grace_hopper.jpg"), "--target", str(faces_dir / "obama_biden_2faces.jpg"),
        *cli_models,
    ]  # fmt: skip
    plain, restored = tmp_path / "plain.png", tmp_path / "restored.png"
    assert main([*common, "--output", str(plain)]) == 0
    flags = ["--restore", str(restorers["codeformer"]), "--restore-blend", "1", "--codeformer-fidelity", "0"]
    assert main([*common, "--output", str(restored), *flags]) == 0
    a, b = read(plain), read(restored)
    changed = np.any(a != b, axis=2)
    assert 0.005 < changed.mean() < 0.3  # the two faces only
    caplog.clear()
    assert main([*common, "--output", str(tmp_path / "x.png"), "--restore", "gfpgan_1.4"]) == 1
    assert "restore setting" in caplog.text and "install.py --model gfpgan_1.4" in caplog.text
    assert not (tmp_path / "x.png").exists()
    caplog.clear()
    assert main([*common, "--output", str(tmp_path / "y.png"), *flags[:2], "--restore-blend", "2"]) == 1
    assert "restore blend is 2.0" in caplog.text


@pytest.mark.parametrize("name", sorted(synthetic.RESTORER_STANDINS))
def test_restorer_standins_plan_to_their_cost_and_have_the_contract(tmp_path, name) -> None:
    spec = synthetic.RESTORER_STANDINS[name]
    plan = synthetic._plan(spec)
    assert plan.flops / 1e9 == pytest.approx(spec.gflops, rel=0.05)
    assert plan.params / 1e6 == pytest.approx(spec.mparams, rel=0.05)
    # The graph surgery, on a small network of the same shape (the full ones are 280-380 MB).
    small = synthetic.StandinSpec(128, 1.0, 0.5, downs=2)
    path, _, _ = synthetic.make_restorer_standin(tmp_path / f"{name}.onnx", name, spec=small)
    r = Restorer(path, RuntimeSettings())
    assert (r.size, r.has_fidelity) == (128, name == "codeformer")
    assert r.run(np.zeros((2, 128, 128, 3), np.uint8), 0.5).shape == (2, 128, 128, 3)


def test_bench_prints_the_restore_stage(capsys, restorers, swapper_128) -> None:
    from inswapper_live.core.cli import main

    code = main(["bench", "--swapper", str(swapper_128), "--sizes", "720p", "--faces", "1", "--repeat", "1",
                 "--pipeline-frames", "2", "--restore", str(restorers["gpen"])])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    line = next(x for x in out.splitlines() if " restore " in x)
    assert float(line.split("restore")[1].split()[0]) > 0 and "face by face" in line


def _marker_restorer(path: Path, size: int = 512) -> Path:
    """An oracle with the restorer contract that returns its input with pure green discs drawn at
    the five FFHQ template points: where they land in the frame shows the geometry."""
    from onnx import TensorProto, helper, numpy_helper

    mask = np.zeros((size, size), np.float32)
    for x, y in FFHQ_TEMPLATE_512 * size / 512:
        cv2.circle(mask, (round(x), round(y)), size // 64, 1.0, -1)
    colour = np.array([-1.0, 1.0, -1.0], np.float32).reshape(1, 3, 1, 1)  # RGB in -1..1: green
    shape = [1, 3, size, size]
    graph = helper.make_graph(
        [
            helper.make_node("Sub", ["colour", "input"], ["towards"]),
            helper.make_node("Mul", ["towards", "mask"], ["paint"]),
            helper.make_node("Add", ["input", "paint"], ["output"]),
        ],
        "marker_restorer",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)],
        [numpy_helper.from_array(mask[None, None], "mask"), numpy_helper.from_array(colour, "colour")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize(
    ("swapper", "boost"), [("identity_128", 0), ("identity_128", 384), ("identity_512", 0)]
)
def test_restored_face_lands_on_the_face(
    request, tmp_path, faces_dir, yunet, recognizer, swapper, boost
) -> None:
    """The marker oracle's discs come back onto the detected landmarks in the frame, within the
    5-point fit's own residual (the discs mark the template, the detector marks this face)."""
    marker = _marker_restorer(tmp_path / "marker.onnx")
    engine = _engine(request.getfixturevalue(swapper), yunet, recognizer, pixel_boost=boost, detail=0.0)
    engine.update(restore=RestoreSettings(str(marker), blend=1.0))
    for name in PHOTOS:
        frame = read(faces_dir / name)
        result = engine.swap(frame)
        b, g, r = (result.frame[..., i].astype(int) for i in range(3))
        green = (g > 200) & (r < 60) & (b < 60) & ~((frame[..., 1] > 200) & (frame[..., 2] < 60))
        count, _, _, centres = cv2.connectedComponentsWithStats(green.astype(np.uint8))
        assert count - 1 == 5, name
        face = result.swapped[0]
        eye_gap = float(np.linalg.norm(face.kps[1] - face.kps[0]))
        for point in face.kps:
            nearest = np.linalg.norm(centres[1:] - point, axis=1).min()
            assert nearest < 0.2 * eye_gap, (name, point, nearest)
        if name == PHOTOS[0] and swapper == "identity_128" and boost == 0:
            cv2.imwrite(str(tmp_path / "markers.png"), result.frame)


def test_rescale_crop_follows_the_template() -> None:
    """A crop-aligned mask brought to the paste size keeps marking the same face points."""
    from inswapper_live.core.align import template
    from inswapper_live.core.restore import rescale_crop

    mask = np.zeros((128, 128), np.float32)
    for x, y in template(128):
        cv2.circle(mask, (round(x), round(y)), 3, 1.0, -1)
    big = rescale_crop(mask, 512)
    assert big.shape == (512, 512) and big.dtype == np.float32
    for x, y in template(512):
        assert big[round(y), round(x)] > 0.9
    assert rescale_crop(mask, 128) is mask
