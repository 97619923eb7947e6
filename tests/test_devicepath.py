"""The device frame path (ONNX graphs chained with IO binding), run here on the CPU provider.

It must give the CPU path's frames (PSNR >= 45 dB at detail 0) and masks, on real photos with
the real SCRFD detector, natively, with pixel boost tiles and with several faces in one run.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from helpers import psnr, read

from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.errors import SettingsError

PHOTOS = [
    "obama_oval_office_1080p.jpg",
    "pexels_group_meeting_4faces.jpeg",
    "apollo11_crew_3faces.jpg",
    "obama_small_320x240.jpg",
    "biden_portrait.jpg",
]


def _engines(swapper: Path, detector: Path, recognizer: Path, **settings) -> tuple[Engine, Engine]:
    settings = {"detail": 0.0, **settings}
    base = EngineSettings(
        swapper=str(swapper), detector=str(detector), recognizer=str(recognizer), **settings
    )
    return Engine(replace(base, device_path="off")), Engine(replace(base, device_path="on"))


@pytest.mark.parametrize(("model", "boost"), [("swapper_128", 0), ("swapper_128", 256), ("swapper_512", 0)])
def test_device_path_gives_the_cpu_paths_frames(
    request, faces_dir: Path, yunet: Path, recognizer: Path, model: str, boost: int
) -> None:
    cpu, device = _engines(request.getfixturevalue(model), yunet, recognizer, pixel_boost=boost)
    assert cpu._state.device is None and device._state.device is not None
    source = cpu.analyse_source([read(faces_dir / "grace_hopper.jpg")])
    cpu.set_source(source)
    device.set_source(source)
    swapped = 0
    for name in PHOTOS:
        image = read(faces_dir / name)
        a, b = cpu.swap(image), device.swap(image)
        assert [f.kps.tolist() for f in a.swapped] == [f.kps.tolist() for f in b.swapped]
        assert psnr(a.frame, b.frame) >= 45.0, name
        if a.swapped:
            assert psnr(b.frame, image) < 40.0, f"{name}: the device path changed nothing"
            assert np.abs(a.mask() - b.mask()).mean() < 1e-3, name
        swapped += len(a.swapped)
    assert swapped >= 8


def test_device_path_keeps_every_pixel_outside_the_faces(
    faces_dir: Path, swapper_128: Path, yunet: Path, recognizer: Path
) -> None:
    _, device = _engines(swapper_128, yunet, recognizer)
    image = read(faces_dir / "pexels_group_meeting_4faces.jpeg")
    device.set_source(device.analyse_source([read(faces_dir / "grace_hopper.jpg")]))
    result = device.swap(image)
    assert len(result.regions) >= 4
    outside = np.ones(image.shape[:2], bool)
    for r in result.regions:
        outside[r.slices] = False
    np.testing.assert_array_equal(result.frame[outside], image[outside])
    half = device.update(blend=0.0)
    assert half.blend == 0.0
    np.testing.assert_array_equal(device.swap(image).frame, image)


def test_overlapping_faces_take_the_cpu_path(
    faces_dir: Path, swapper_128: Path, yunet: Path, recognizer: Path
) -> None:
    """Each paste must see the one before it, so overlapping faces go the CPU way, byte for byte."""
    cpu, device = _engines(swapper_128, yunet, recognizer)
    image = read(faces_dir / "obama_oval_office_1080p.jpg")
    source = cpu.analyse_source([read(faces_dir / "grace_hopper.jpg")])
    cpu.set_source(source)
    device.set_source(source)
    face = cpu.detect(image)[0]
    twice = [face, face]
    np.testing.assert_array_equal(
        cpu.swap(image, twice, select=False).frame, device.swap(image, twice, select=False).frame
    )


@pytest.mark.parametrize(("model", "boost"), [("identity_128", 0), ("swapper_128", 0), ("swapper_512", 0)])
def test_device_path_detail_matches_the_cpu_paths(
    request, faces_dir: Path, yunet: Path, recognizer: Path, model: str, boost: int
) -> None:
    """Detail transfer on the device: the CPU path's frames, and its effect (a swapper that
    returns its input gives back the frame's own sharpness)."""
    cpu, device = _engines(request.getfixturevalue(model), yunet, recognizer, detail=1.0, pixel_boost=boost)
    plain = Engine(replace(cpu.settings, detail=0.0))
    source = cpu.analyse_source([read(faces_dir / "grace_hopper.jpg")])
    for engine in (cpu, device, plain):
        engine.set_source(source)
    for name in ("obama_oval_office_1080p.jpg", "pexels_group_meeting_4faces.jpeg"):
        image = read(faces_dir / name)
        a, b, c = cpu.swap(image), device.swap(image), plain.swap(image)
        assert a.swapped
        assert psnr(a.frame, b.frame) >= 45.0, name
        if model == "identity_128":  # there detail is large: the swap gives back the frame's sharpness
            assert psnr(a.frame, b.frame) > psnr(a.frame, c.frame) + 3.0, f"{name}: detail made no difference"
            assert psnr(b.frame, image) > psnr(c.frame, image) + 3.0, name


def test_device_path_setting(swapper_128: Path, yunet: Path, recognizer: Path) -> None:
    with pytest.raises(SettingsError, match="device_path"):
        EngineSettings(device_path="gpu").validate()
    auto = Engine(EngineSettings(swapper=str(swapper_128), detector=str(yunet), recognizer=str(recognizer)))
    assert auto._state.device is None, "auto keeps OpenCV on the CPU provider"
    assert auto.update(device_path="on") and auto._state.device is not None
