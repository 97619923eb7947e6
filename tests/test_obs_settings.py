"""Filter settings: OBS values to FilterSettings to EngineSettings; model choices and licences; the label."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inswapper_live.core.errors import SettingsError
from inswapper_live.obs_plugin import catalog
from inswapper_live.obs_plugin.label import draw_label
from inswapper_live.obs_plugin.settings import FilterSettings


def test_defaults_follow_the_engine() -> None:
    mapped = FilterSettings(face_model="x.npz").engine_settings()
    assert (mapped.swapper, mapped.detector, mapped.provider, mapped.blend) == (
        "inswapper_128",
        "det_10g",
        "auto",
        1.0,
    )
    assert mapped.models_dir is None and str(mapped.faces) == "all"


def test_values_from_obs_are_coerced() -> None:
    settings = FilterSettings.from_values(
        {
            "enabled": 0,
            "source_images": [" a.jpg ", "", "b.png"],
            "threads": 2.0,
            "blend": 1,
            "pixel_boost": "256",
            "selection": " largest ",
            "detection_interval": 3,
            "unknown_key": "ignored",
        }
    )
    assert settings.enabled is False
    assert settings.source_images == ("a.jpg", "b.png")
    assert settings.threads == 2 and isinstance(settings.blend, float) and settings.pixel_boost == 256
    assert settings.selection == "largest" and settings.detection_interval == 3
    assert FilterSettings.from_values({}) == FilterSettings()


def test_engine_settings_mapping() -> None:
    settings = FilterSettings(
        swapper="/m/s.onnx",
        detector="yunet",
        models_dir="/models",
        provider="cuda",
        threads=1,
        selection="index",
        indices="0, 2",
        pixel_boost=512,
        blend=0.5,
        det_thresh=0.3,
    )
    engine = settings.engine_settings()
    assert engine.swapper == "/m/s.onnx" and engine.detector == "yunet" and engine.models_dir == "/models"
    assert engine.faces.mode == "index" and engine.faces.indices == (0, 2)
    assert (engine.pixel_boost, engine.blend, engine.det_thresh, engine.threads) == (512, 0.5, 0.3, 1)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pixel_boost": 200}, "Pixel boost 200"),
        ({"detection_interval": 0}, "Detection interval"),
        ({"selection": "random"}, "Face selection 'random'"),
        ({"selection": "index", "indices": "a,b"}, "index:a,b"),
        ({"selection": "similar"}, "reference face"),
        ({"blend": 1.5}, "blend"),
    ],
)
def test_bad_settings_name_the_setting(changes: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        FilterSettings(**changes).engine_settings()


def test_similar_needs_a_reference_and_uses_the_threshold() -> None:
    faces = FilterSettings(selection="similar", threshold=0.45, reference_image="me.jpg").face_selection()
    assert faces.mode == "similar" and faces.threshold == pytest.approx(0.45)


def test_source_is_analysed_again_only_when_it_depends_on_what_changed() -> None:
    base = FilterSettings(source_images=("a.jpg",))
    assert (
        base.source_key() == FilterSettings(source_images=("a.jpg",), blend=0.2, pixel_boost=256).source_key()
    )
    assert base.source_key() != FilterSettings(source_images=("b.jpg",)).source_key()
    assert base.source_key() != FilterSettings(source_images=("a.jpg",), detector="yunet").source_key()
    assert (
        base.reference_key()
        == FilterSettings(source_images=("a.jpg",), reference_image="r.jpg").reference_key()
    )


def test_model_choices_list_installed_files_with_licences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INSWAPPER_LIVE_MODELS", raising=False)
    monkeypatch.delenv("COMFYUI_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "inswapper_128.onnx").write_bytes(b"x")
    (tmp_path / "my_swapper.onnx").write_bytes(b"x")
    (tmp_path / "face_detection_yunet_2026may.onnx").write_bytes(b"x")
    swappers = {c.value: c for c in catalog.choices("swapper", str(tmp_path))}
    assert "inswapper_128" in swappers and "non-commercial" in swappers["inswapper_128"].licence
    assert "non-commercial" in swappers["inswapper_128"].label
    custom = swappers[str(tmp_path / "my_swapper.onnx")]
    assert custom.licence == catalog.UNKNOWN_LICENCE and "licence unknown" in custom.label
    assert str(tmp_path / "face_detection_yunet_2026may.onnx") not in swappers  # a known detector file
    detectors = {c.value: c for c in catalog.choices("detector", str(tmp_path))}
    assert detectors["yunet"].licence.startswith("MIT")
    missing = catalog.choices("swapper", str(tmp_path), "/gone/other.onnx")[0]
    assert missing.value == "/gone/other.onnx" and missing.label == "other.onnx (not found)"


def test_licence_of_names_and_paths() -> None:
    assert catalog.licence_of("inswapper_128").startswith("InsightFace")
    assert catalog.licence_of("/anywhere/inswapper_128.onnx").startswith("InsightFace")
    assert catalog.licence_of("/anywhere/mystery.onnx") == catalog.UNKNOWN_LICENCE


@pytest.mark.parametrize("position", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_label_goes_in_its_corner_and_nowhere_else(position: str) -> None:
    frame = np.full((480, 640, 3), 128, np.uint8)
    box = draw_label(frame, "AI face swap", position, 5)
    assert box is not None
    y0, y1, x0, x1 = box
    assert (y0 < 240) == position.startswith("top") and (x0 < 320) == position.endswith("left")
    assert 20 <= y1 - y0 <= 60 and x1 - x0 > 100  # about 5 % of the height, text-wide
    inside = frame[y0:y1, x0:x1]
    assert inside.max() == 255 and inside.min() < 128  # white text on a dark box
    outside = frame.copy()
    outside[y0:y1, x0:x1] = 128
    assert np.all(outside == 128)


def test_label_size_scales_and_tiny_frames_are_left_alone() -> None:
    small = draw_label(np.zeros((480, 640, 3), np.uint8), "AI face swap", "top-left", 3)
    big = draw_label(np.zeros((480, 640, 3), np.uint8), "AI face swap", "top-left", 10)
    assert small is not None and big is not None and (big[1] - big[0]) > 2 * (small[1] - small[0])
    assert draw_label(np.zeros((4, 4, 3), np.uint8), "AI face swap", "top-left", 5) is None


def test_gender_and_age_join_the_selection() -> None:
    settings = FilterSettings(selection="largest", gender="male", age_range="30-50")
    assert str(settings.face_selection()) == "largest+gender:male+age:30-50"
    assert settings.engine_settings().faces.needs_attributes
    with pytest.raises(SettingsError, match="Age range 'old'"):
        FilterSettings(age_range="old").face_selection()
    with pytest.raises(SettingsError, match="Gender 'other'"):
        FilterSettings(gender="other").face_selection()
