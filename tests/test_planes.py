"""Colour planes split into kept buffers: the same planes as OpenCV's, for each shape and thread."""

from __future__ import annotations

import threading

import cv2
import numpy as np

from inswapper_live.core import planes


def test_split_equals_opencv_for_each_shape_and_reuses_buffers() -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((36, 64, 3), (40, 40, 3), (36, 64, 4))]
    for image in images * 2:
        assert all(np.array_equal(a, b) for a, b in zip(planes.split(image), cv2.split(image), strict=True))
    first = planes.split(images[0])
    again = planes.split(images[0][::-1].copy())
    assert all(a is b for a, b in zip(first, again, strict=True))  # the same buffers, refilled
    assert np.array_equal(again[0], images[0][::-1, :, 0])
    for n in range(10):  # many shapes: only the last few are kept
        planes.split(rng.integers(0, 256, (8 + n, 8, 3), dtype=np.uint8))
    assert len(planes._local.kept) <= planes._KEPT


def test_threads_get_their_own_buffers() -> None:
    image = np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    mine = planes.split(image)
    theirs: list[np.ndarray] = []
    thread = threading.Thread(target=lambda: theirs.extend(planes.split(image)))
    thread.start()
    thread.join()
    assert all(a is not b for a, b in zip(mine, theirs, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))
