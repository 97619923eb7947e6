"""The properties panel and settings storage, built with the real libobs (no OBS program needed)."""

from __future__ import annotations

import ctypes
import json

import pytest
from obs_env import need_libobs

from inswapper_live.obs_plugin import libobs as bindings
from inswapper_live.obs_plugin import properties
from inswapper_live.obs_plugin.libobs import ClickedFn, ModifiedFn
from inswapper_live.obs_plugin.properties import PanelCallbacks
from inswapper_live.obs_plugin.settings import FilterSettings


@pytest.fixture(scope="module")
def obs() -> bindings.Libobs:
    need_libobs()
    obs = bindings.load()
    lib = obs.lib  # getters only this test needs
    for name, restype, argtypes in [
        ("obs_data_create", ctypes.c_void_p, []),
        ("obs_property_visible", ctypes.c_bool, [ctypes.c_void_p]),
        ("obs_property_list_item_count", ctypes.c_size_t, [ctypes.c_void_p]),
        ("obs_property_list_item_string", ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_size_t]),
        ("obs_property_modified", ctypes.c_bool, [ctypes.c_void_p, ctypes.c_void_p]),
        ("obs_properties_destroy", None, [ctypes.c_void_p]),
    ]:
        getattr(lib, name).restype = restype
        getattr(lib, name).argtypes = argtypes
    return obs


def data_from(obs: bindings.Libobs, values: dict) -> int:
    data = obs.obs_data_create_from_json(json.dumps(values).encode())
    properties.set_defaults(obs, data)
    return data


def test_defaults_read_back_as_the_default_settings(obs) -> None:
    data = data_from(obs, {})
    try:
        assert properties.read_settings(obs, data) == FilterSettings()
    finally:
        obs.obs_data_release(data)


def test_stored_values_and_the_editable_list_are_read(obs) -> None:
    stored = {
        "source_images": [
            {"value": "/a/me.jpg", "selected": False, "hidden": False},
            {"value": "/b/me2.png"},
        ],
        "swapper": "inswapper_128_fp16",
        "blend": 0.25,
        "pixel_boost": 384,
        "enabled": False,
        "label_enabled": True,
        "detection_interval": 4,
    }
    data = data_from(obs, stored)
    try:
        settings = properties.read_settings(obs, data)
    finally:
        obs.obs_data_release(data)
    assert settings.source_images == ("/a/me.jpg", "/b/me2.png")
    assert (settings.swapper, settings.blend, settings.pixel_boost) == ("inswapper_128_fp16", 0.25, 384)
    assert settings.enabled is False and settings.label_enabled is True and settings.detection_interval == 4


def test_panel_has_every_setting_and_shows_only_what_applies(obs) -> None:
    calls: list[str] = []

    def modified(_priv, props, _prop, settings) -> bool:
        calls.append("modified")
        properties.apply_visibility(obs, props, settings)
        properties.show_licence(obs, settings)
        return True

    callbacks = PanelCallbacks(ModifiedFn(modified), ClickedFn(lambda *_: True))
    props = properties.build(obs, FilterSettings(), callbacks, 1, failing=True)
    lib = obs.lib
    try:
        for key in [*FilterSettings.defaults(), properties.STATUS_KEY, properties.LICENCE_KEY, "refresh"]:
            assert obs.obs_properties_get(props, key.encode()), f"no property {key}"

        def visible(key: str) -> bool:
            return lib.obs_property_visible(obs.obs_properties_get(props, key.encode()))

        assert not visible("indices") and not visible("reference_image") and not visible("label_text")
        boosts = obs.obs_properties_get(props, b"pixel_boost")
        assert lib.obs_property_list_item_count(boosts) == 4
        modes = obs.obs_properties_get(props, b"selection")
        assert [lib.obs_property_list_item_string(modes, i) for i in range(4)] == [
            b"all",
            b"largest",
            b"index",
            b"similar",
        ]
        provider = obs.obs_properties_get(props, b"provider")
        assert lib.obs_property_list_item_string(provider, 0) == b"auto"
        # Choosing "similar" shows the threshold and reference; the swapper's licence is written.
        data = data_from(obs, {"selection": "similar", "swapper": "yunet"})
        try:
            assert lib.obs_property_modified(modes, data)
            assert calls == ["modified"]
            assert visible("threshold") and visible("reference_image") and not visible("indices")
            licence = bindings.text(obs.obs_data_get_string(data, properties.LICENCE_KEY.encode()))
            assert licence.startswith("MIT")
        finally:
            obs.obs_data_release(data)
    finally:
        lib.obs_properties_destroy(props)


def test_source_slots_show_as_many_as_chosen_and_read_back(obs) -> None:
    callbacks = PanelCallbacks(
        ModifiedFn(
            lambda _priv, props, _prop, settings: properties.apply_visibility(obs, props, settings) or True
        ),
        ClickedFn(lambda *_: True),
    )
    props = properties.build(obs, FilterSettings(), callbacks, 1, failing=False)
    lib = obs.lib
    stored = {
        "slot_count": 2,
        "slot1_images": [{"value": "/a/anna.jpg"}, {"value": "/a/anna2.jpg"}],
        "slot2_face_model": "/b/bob.safetensors",
        "slot2_target": "/c/bob_reference.jpg",
        "gender": "female",
        "age_range": "20-40",
    }
    data = data_from(obs, stored)
    try:

        def visible(key: str) -> bool:
            return lib.obs_property_visible(obs.obs_properties_get(props, key.encode()))

        assert not visible("slot1_images") and not visible("slot4_target")
        assert lib.obs_property_modified(obs.obs_properties_get(props, b"slot_count"), data)
        assert visible("slot1_images") and visible("slot2_target") and not visible("slot3_face_model")
        settings = properties.read_settings(obs, data)
    finally:
        obs.obs_data_release(data)
        lib.obs_properties_destroy(props)
    assert settings.slot1_images == ("/a/anna.jpg", "/a/anna2.jpg") and settings.slot1_target == "0"
    slots = settings.source_slots()
    assert [(s.name, s.target, s.face_model) for s in slots] == [
        ("Slot 1", "0", ""),
        ("Slot 2", "/c/bob_reference.jpg", "/b/bob.safetensors"),
    ]
    assert str(settings.face_selection()) == "all+gender:female+age:20-40"
