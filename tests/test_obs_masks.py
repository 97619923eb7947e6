"""Masks in the OBS filter: settings mapping, live changes without a restart, licence lines in the panel."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import read

from inswapper_live.core.source import SourceFace
from inswapper_live.core.synthetic_masks import MARKER_BGR, make_occluder
from inswapper_live.obs_plugin.model import SwapModel
from inswapper_live.obs_plugin.settings import FilterSettings


@pytest.fixture(scope="module")
def face_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(5)
    return SourceFace.average([rng.normal(size=512).astype(np.float32)]).save(
        tmp_path_factory.mktemp("face") / "face.safetensors"
    )


def test_mask_settings_map_onto_the_engine() -> None:
    settings = FilterSettings(
        face_model="x.npz", mask_box=True, mask_mouth=True, mask_padding_bottom=10.0, mask_blur=0.2,
        mask_regions="skin, nose", mouth_from="landmarks", mask_refresh=5,
    )  # fmt: skip
    masks = settings.engine_settings().masks
    assert masks.types == ("box", "mouth") and masks.padding == (0.0, 0.0, 10.0, 0.0)
    assert masks.blur == 0.2 and masks.regions == ("skin", "nose") and masks.mouth_from == "landmarks"
    assert masks.refresh_every == 5
    assert FilterSettings(face_model="x.npz").engine_settings().masks.types == ()
    with pytest.raises(Exception, match="region ear is unknown"):
        FilterSettings(face_model="x.npz", mask_region=True, mask_regions="ear").engine_settings()


def test_occlusion_mask_switches_on_live_and_errors_name_the_setting(
    face_model: Path, swapper_128: Path, yunet: Path, faces_dir: Path, synthetic_dir: Path
) -> None:
    occluder = make_occluder(synthetic_dir / "obs_xseg.onnx")
    photo = read(faces_dir / "obama_official_portrait.jpg")
    base = FilterSettings(
        face_model=str(face_model), swapper=str(swapper_128), detector=str(yunet), threads=1
    )
    model = SwapModel()
    model.configure(base)
    face = max(model._engine.detect(photo), key=lambda f: f.area)
    (ex, ey), (nx, _), (_, my) = face.kps[0], face.kps[2], face.kps[3]
    x0, y0, x1, y1 = int(ex - 10), int(ey + 10), int(nx + 5), int(my)
    covered = photo.copy()
    covered[y0:y1, x0:x1] = MARKER_BGR
    inside = (slice(y0 + 12, y1 - 12), slice(x0 + 12, x1 - 12))
    assert not np.array_equal(model.process(covered.copy()).frame[inside], covered[inside])
    engine = model._engine
    model.configure(FilterSettings(**{**vars(base), "mask_occlusion": True, "occluder": str(occluder)}))
    assert model.status.state == "ready" and model._engine is engine  # the same engine, updated
    assert np.array_equal(model.process(covered.copy()).frame[inside], covered[inside])
    model.configure(FilterSettings(**{**vars(base), "mask_occlusion": True, "occluder": str(yunet)}))
    assert model.status.state == "error" and "cannot be used as the occluder" in model.status.message
    model.configure(base)
    assert model.status.state == "ready"


def test_panel_shows_the_mask_models_licences() -> None:
    from obs_env import need_libobs

    need_libobs()
    from inswapper_live.obs_plugin import libobs as bindings
    from inswapper_live.obs_plugin import properties

    obs = bindings.load()
    data = obs.obs_data_create_from_json(
        json.dumps({"mask_occlusion": True, "mask_mouth": True, "mouth_from": "landmarks"}).encode()
    )
    try:
        properties.set_defaults(obs, data)
        properties.show_licence(obs, data)
        line = bindings.text(obs.obs_data_get_string(data, properties.MASK_LICENCE_KEY.encode()))
    finally:
        obs.obs_data_release(data)
    assert line.startswith("occluder xseg: GPL-3.0") and "landmarker 2d106det: InsightFace" in line
    assert "parser" not in line
