"""A swapper that returns its target must give back the input frame.

Inside the face region the frame comes back within 40 dB PSNR (exactly, with the default
``detail``), and every byte outside it is unchanged: natively at 128 and 512 and through pixel
boost.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import psnr, read

from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.source import SourceFace

CASES = [
    ("identity_128", 0),
    ("identity_128", 256),
    ("identity_128", 384),
    ("identity_128", 512),
    ("identity_512", 0),
]


@pytest.mark.parametrize(("model", "boost"), CASES)
def test_identity_swapper_returns_the_frame(request, model, boost, yunet, recognizer, photos) -> None:
    swapper = request.getfixturevalue(model)
    engine = Engine(
        EngineSettings(
            swapper=str(swapper), detector=str(yunet), recognizer=str(recognizer), pixel_boost=boost
        )
    )
    engine.set_source(SourceFace(np.full(512, 1 / np.sqrt(512), dtype=np.float32)))
    swapped = 0
    for path in photos:
        image = read(path)
        result = engine.swap(image)
        if not result.regions:
            continue
        inside = result.mask() > 0
        assert np.array_equal(result.frame[~inside], image[~inside]), path.name
        assert psnr(result.frame[inside], image[inside]) >= 40.0, path.name
        untouched = np.ones(image.shape[:2], dtype=bool)
        for region in result.regions:
            untouched[region.slices] = False
        assert np.array_equal(result.frame[untouched], image[untouched]), path.name
        swapped += len(result.swapped)
    assert swapped >= len(photos)


def test_detail_zero_is_the_reference_recipe_and_loses_resolution(identity_128, yunet, recognizer, faces_dir):
    """At detail 0 a 128 crop of a large face pastes back blurred; detail 1 restores it."""
    image = read(faces_dir / "pexels_woman_neutral.jpeg")
    settings = EngineSettings(swapper=str(identity_128), detector=str(yunet), recognizer=str(recognizer))
    engine = Engine(settings)
    engine.set_source(SourceFace(np.full(512, 1 / np.sqrt(512), dtype=np.float32)))
    sharp = engine.swap(image)
    engine.update(detail=0.0)
    blurred = engine.swap(image)
    inside = sharp.mask() > 0
    assert psnr(blurred.frame[inside], image[inside]) < 35.0
    assert np.array_equal(sharp.frame, image)
