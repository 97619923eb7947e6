"""Face restoration from the OBS filter (settings, live changes, the real libobs panel) and ComfyUI."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import read
from obs_env import need_libobs, xvfb
from test_comfy_nodes import comfy, comfy_base, extract, model, swap, to_image  # noqa: F401 (fixtures)
from test_obs_properties import data_from, obs  # noqa: F401 (fixture)

from inswapper_live.comfy_nodes import NODE_CLASS_MAPPINGS
from inswapper_live.comfy_nodes import nodes as comfy_nodes
from inswapper_live.core import synthetic
from inswapper_live.core.errors import ModelNotFoundError, SettingsError
from inswapper_live.core.restore import RestoreSettings
from inswapper_live.core.source import SourceFace
from inswapper_live.obs_plugin import libobs as bindings
from inswapper_live.obs_plugin import properties
from inswapper_live.obs_plugin.libobs import ClickedFn, ModifiedFn
from inswapper_live.obs_plugin.model import SwapModel
from inswapper_live.obs_plugin.properties import PanelCallbacks
from inswapper_live.obs_plugin.settings import FilterSettings

torch = pytest.importorskip("torch", reason="the ComfyUI nodes need torch (ComfyUI's own)")


@pytest.fixture(scope="module")
def restorer(synthetic_dir: Path) -> Path:
    return synthetic.make_restorer(synthetic_dir / "front_codeformer.onnx", "codeformer", batch=True)


@pytest.fixture(scope="module")
def face_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(5)
    return SourceFace.average([rng.normal(size=512).astype(np.float32)]).save(
        tmp_path_factory.mktemp("face") / "face.safetensors"
    )


# ---------------------------------------------------------------- OBS
def test_filter_settings_map_onto_the_engine(restorer: Path) -> None:
    assert FilterSettings().engine_settings().restore == RestoreSettings()
    settings = FilterSettings(restore_model=str(restorer), restore_blend=0.4, restore_fidelity=0.9)
    assert settings.engine_settings().restore == RestoreSettings(str(restorer), 0.4, 0.9)
    with pytest.raises(SettingsError, match="restore blend"):
        FilterSettings(restore_blend=3.0).engine_settings()


def test_obs_model_applies_restoration_live(restorer, face_model, swapper_128, yunet, faces_dir) -> None:
    """Changing the restorer's settings takes effect on the next frame, without reloading it."""
    base = FilterSettings(
        face_model=str(face_model), swapper=str(swapper_128), detector=str(yunet), threads=1
    )
    frame = read(faces_dir / "obama_small_320x240.jpg")
    live = SwapModel()
    live.configure(base)
    plain = live.process(frame.copy()).frame
    live.configure(
        FilterSettings(**{**base.__dict__, "restore_model": str(restorer), "restore_fidelity": 0.0})
    )
    assert live.status.state == "ready", live.status
    loaded = live._engine._state.restorer
    strong = live.process(frame.copy()).frame
    live.configure(
        FilterSettings(**{**base.__dict__, "restore_model": str(restorer), "restore_fidelity": 1.0})
    )
    assert live._engine._state.restorer is loaded
    weak = live.process(frame.copy()).frame
    change = lambda a: np.abs(a.astype(int) - plain).sum()  # noqa: E731
    assert change(strong) > change(weak) > 0
    live.configure(
        FilterSettings(**{**base.__dict__, "restore_model": "gfpgan_1.4", "models_dir": "/nowhere"})
    )
    assert live.status.state == "error" and "restore setting" in live.status.message


def test_obs_panel_offers_restoration_with_its_licence(obs, restorer) -> None:  # noqa: F811
    callbacks = PanelCallbacks(
        ModifiedFn(lambda _p, _props, _prop, data: properties.show_licence(obs, data) or True),
        ClickedFn(lambda *_: True),
    )
    props = properties.build(obs, FilterSettings(restore_model=str(restorer)), callbacks, 1, failing=False)
    lib = obs.lib
    try:
        for key in ("restore_model", "restore_blend", "restore_fidelity", properties.RESTORE_LICENCE_KEY):
            assert obs.obs_properties_get(props, key.encode()), key
        choices = obs.obs_properties_get(props, b"restore_model")
        items = [
            lib.obs_property_list_item_string(choices, i)
            for i in range(lib.obs_property_list_item_count(choices))
        ]
        assert items[0] == b"" and str(restorer).encode() in items
        data = data_from(obs, {"restore_model": "codeformer"})
        try:
            assert lib.obs_property_modified(choices, data)
            licence = bindings.text(obs.obs_data_get_string(data, properties.RESTORE_LICENCE_KEY.encode()))
            assert "non-commercial" in licence
            assert properties.read_settings(obs, data).restore_model == "codeformer"
        finally:
            obs.obs_data_release(data)
    finally:
        lib.obs_properties_destroy(props)


# ---------------------------------------------------------------- ComfyUI
@pytest.fixture
def with_restorer(comfy_base: Path, comfy, restorer: Path) -> str:  # noqa: F811
    folder = comfy_base / "models" / "facerestore_models"
    folder.mkdir(exist_ok=True)
    target = folder / "GFPGANv1.4.onnx"
    if not target.exists():
        target.write_bytes(restorer.read_bytes())
    return target.name


def test_comfy_restore_node_changes_only_faces(with_restorer, model, faces_dir) -> None:  # noqa: F811
    node = comfy_nodes.RestoreFace
    assert NODE_CLASS_MAPPINGS["InswapperLiveRestoreFace"] is node
    assert with_restorer in node.INPUT_TYPES()["required"]["restore_model"][0]
    frame = read(faces_dir / "pexels_group_meeting_4faces.jpeg")
    images = to_image(frame, frame)
    (out,) = node().restore(model, images, with_restorer, 1.0, 0.0)
    assert out.shape == images.shape
    changed = (out - images).abs().amax(dim=-1) > 0
    assert 0.005 < changed.float().mean() < 0.3
    assert torch.equal(out[0], out[1])
    with pytest.raises(ModelNotFoundError, match=r"restore model 'missing\.onnx'"):
        node().restore(model, images, "missing.onnx", 1.0, 0.5)


def test_comfy_swap_face_restores_when_asked(with_restorer, model, faces_dir) -> None:  # noqa: F811
    spec = comfy_nodes.SwapFace.INPUT_TYPES()["optional"]
    assert spec["restore_model"][0][0] == "none" and spec["restore_model"][1]["default"] == "none"
    source = extract(model, to_image(read(faces_dir / "grace_hopper.jpg")))
    images = to_image(read(faces_dir / "obama_biden_2faces.jpg"))
    plain, mask, _ = swap(model, source, images)
    restored, _, _ = swap(
        model, source, images, restore_model=with_restorer, restore_blend=1.0, codeformer_fidelity=0.0
    )
    again, _, _ = swap(model, source, images)  # "none" again: the shared engine stops restoring
    assert torch.equal(plain, again)
    diff = (restored - plain).abs().amax(dim=-1)
    assert diff.max() > 0.02 and torch.all(diff[mask == 0] == 0)


def test_example_workflows_carry_the_restore_widgets() -> None:
    """The shipped workflows set restoration off explicitly (a UI workflow stores every widget)."""
    api = json.loads(
        (Path(__file__).resolve().parent.parent / "comfy_nodes/workflows/swap_face_api.json").read_text()
    )
    swap_nodes = [n for n in api.values() if n["class_type"] == "InswapperLiveSwapFace"]
    assert swap_nodes and all(n["inputs"]["restore_model"] == "none" for n in swap_nodes)


def test_restoration_runs_inside_real_libobs(tmp_path, face_model, swapper_128, yunet, faces_dir) -> None:
    """The filter in the headless libobs host with the marker restorer: its green discs show up on
    the face's landmarks in OBS's own render of the source."""
    from test_obs_host import run
    from test_restore import _marker_restorer

    from inswapper_live.core.detect import DetectorSettings, load_detector
    from inswapper_live.core.runtime import RuntimeSettings

    need_libobs()
    marker = _marker_restorer(tmp_path / "marker.onnx")
    photo = faces_dir / "obama_small_320x240.jpg"
    settings = {
        "face_model": str(face_model), "swapper": str(swapper_128), "detector": str(yunet), "threads": 1,
        "restore_model": str(marker), "restore_blend": 1.0,
    }  # fmt: skip
    with xvfb() as display:
        result = run(
            display, "async", {"image": str(photo), "formats": ["BGRA"], "settings": settings}, tmp_path
        )
    assert result["formats"]["BGRA"]["swapped"] and result["leaks"] == 0
    shot = np.load(tmp_path / "BGRA_swapped.npy")
    b, g, r = (shot[..., i].astype(int) for i in range(3))
    green = ((g > 180) & (r < 90) & (b < 90)).astype(np.uint8)
    count, _, _, centres = cv2.connectedComponentsWithStats(green)
    assert count - 1 == 5
    face = load_detector(yunet, DetectorSettings(), RuntimeSettings()).detect(read(photo))[0]
    eye_gap = float(np.linalg.norm(face.kps[1] - face.kps[0]))
    for point in face.kps:
        assert np.linalg.norm(centres[1:] - point, axis=1).min() < 0.25 * eye_gap


def _green_discs(shot: np.ndarray | None) -> int:
    if shot is None:
        return -1
    b, g, r = (shot[..., i].astype(int) for i in range(3))
    _, _, stats, _ = cv2.connectedComponentsWithStats(((g > 180) & (r < 90) & (b < 90)).astype(np.uint8))
    return int((stats[1:, cv2.CC_STAT_AREA] >= 4).sum())


def test_restoration_in_the_real_obs_program_changes_live(
    tmp_path, face_model, swapper_128, yunet, faces_dir
) -> None:
    """OBS Studio itself (obs-websocket): a Face Swap filter with the marker restorer shows its five
    discs; switching restoration off, or its strength to 0, takes effect without a restart."""
    from obs_env import gl_env, need_binary, need_obs_python_match
    from obs_gui import ObsGui, obs_env
    from test_obs_gui import SCRIPT, wait_until
    from test_restore import _marker_restorer

    need_binary("obs")
    need_obs_python_match()
    marker = _marker_restorer(tmp_path / "marker.onnx")
    settings = {
        "face_model": str(face_model), "swapper": str(swapper_128), "detector": str(yunet),
        "restore_model": str(marker), "restore_blend": 1.0,
    }  # fmt: skip
    with xvfb() as display:
        gui = ObsGui(need_binary("obs"), tmp_path, obs_env(gl_env(display)), SCRIPT)
        gui.write_config()
        try:
            gui.start()
            gui.request(
                "CreateInput",
                {
                    "sceneName": "Scene",
                    "inputName": "photo",
                    "inputKind": "image_source",
                    "inputSettings": {"file": str(faces_dir / "pexels_woman_neutral.jpeg")},
                    "sceneItemEnabled": True,
                },
            )
            assert wait_until(lambda: _green_discs(gui.screenshot("photo")) == 0, 15), (
                "the photo does not show"
            )
            gui.request(
                "CreateSourceFilter",
                {
                    "sourceName": "photo",
                    "filterName": "Face Swap",
                    "filterKind": "inswapper_live_face_swap",
                    "filterSettings": settings,
                },
            )
            assert wait_until(lambda: _green_discs(gui.screenshot("photo")) == 5, 30), gui.log()[-3000:]
            cv2.imwrite(str(tmp_path / "obs_restored.png"), gui.screenshot("photo"))
            for change in ({"restore_model": ""}, {"restore_model": str(marker), "restore_blend": 0.0}):
                gui.request(
                    "SetSourceFilterSettings",
                    {"sourceName": "photo", "filterName": "Face Swap", "filterSettings": change},
                )
                assert wait_until(lambda: _green_discs(gui.screenshot("photo")) == 0, 20), change
            gui.request(
                "SetSourceFilterSettings",
                {"sourceName": "photo", "filterName": "Face Swap", "filterSettings": {"restore_blend": 1.0}},
            )
            assert wait_until(lambda: _green_discs(gui.screenshot("photo")) == 5, 20)
        finally:
            gui.stop()


def test_obs_lists_restorer_files_it_does_not_know(tmp_path, restorer) -> None:
    """A ReActor-style GFPGANv1.4.onnx in the models folder is offered, marked licence unknown."""
    from inswapper_live.obs_plugin import catalog

    (tmp_path / "GFPGANv1.4.onnx").write_bytes(restorer.read_bytes())
    offered = {c.value: c for c in catalog.choices("restorer", str(tmp_path))}
    choice = offered[str(tmp_path / "GFPGANv1.4.onnx")]
    assert choice.licence == catalog.UNKNOWN_LICENCE and "licence unknown" in choice.label
