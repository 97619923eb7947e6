"""The swapper contract: inputs and sizes read from the model, emap latent, fp16, batches, pixel boost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from inswapper_live.core import synthetic
from inswapper_live.core.errors import ModelLoadError
from inswapper_live.core.runtime import RuntimeSettings
from inswapper_live.core.swap import Swapper, from_output, to_blob

CPU = RuntimeSettings(provider="cpu")


def _embedding(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=512).astype(np.float32)
    return v / np.linalg.norm(v)


def test_latent_is_normalised_embedding_times_emap(swapper_128: Path) -> None:
    swapper = Swapper(swapper_128, CPU)
    emap = onnx.numpy_helper.to_array(onnx.load(str(swapper_128)).graph.initializer[-1])
    e = _embedding(1)
    expected = e @ emap
    expected /= np.linalg.norm(expected)
    assert np.allclose(swapper.latent(e).ravel(), expected, atol=1e-6)


@pytest.mark.parametrize("size", [128, 512])
def test_size_and_names_come_from_the_model(tmp_path: Path, size: int) -> None:
    swapper = Swapper(synthetic.make_swapper(tmp_path / "s.onnx", size), CPU)
    assert swapper.size == size
    assert (swapper.target_name, swapper.source_name) == ("target", "source")
    crop = np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8)
    a = swapper.swap_crops([crop], swapper.latent(_embedding(1)))[0]
    b = swapper.swap_crops([crop], swapper.latent(_embedding(2)))[0]
    assert a.shape == crop.shape and a.dtype == np.uint8
    assert not np.array_equal(a, b), "the output must depend on the source identity"
    assert not np.array_equal(a, swapper.swap_crops([255 - crop], swapper.latent(_embedding(1)))[0])


def test_fp16_model_matches_fp32(tmp_path: Path) -> None:
    fp32 = Swapper(synthetic.make_swapper(tmp_path / "a.onnx", 128, seed=4), CPU)
    fp16 = Swapper(synthetic.make_swapper(tmp_path / "b.onnx", 128, seed=4, fp16=True), CPU)
    assert fp16.target_dtype == np.float16 and fp16.latent(_embedding(3)).dtype == np.float16
    crop = np.random.default_rng(1).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    a = fp32.swap_crops([crop], fp32.latent(_embedding(3)))[0].astype(int)
    b = fp16.swap_crops([crop], fp16.latent(_embedding(3)))[0].astype(int)
    assert np.abs(a - b).max() <= 2


@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("boost", [256, 384, 512])
def test_pixel_boost_interleaves_subsampled_tiles(tmp_path: Path, batch: bool, boost: int) -> None:
    swapper = Swapper(synthetic.make_swapper(tmp_path / "s.onnx", 128, batch=batch), CPU)
    assert swapper.batchable == batch
    latent = swapper.latent(_embedding(5))
    crop = np.random.default_rng(boost).integers(0, 255, (boost, boost, 3), dtype=np.uint8)
    out = swapper.swap_crops([crop], latent)[0]
    k = boost // 128
    for i in range(k):
        for j in range(k):
            tile = np.ascontiguousarray(crop[i::k, j::k])
            assert np.array_equal(out[i::k, j::k], swapper.swap_crops([tile], latent)[0])


def test_several_faces_and_tiles_in_one_call(tmp_path: Path) -> None:
    swapper = Swapper(synthetic.make_swapper(tmp_path / "s.onnx", 128, batch=True), CPU)
    latent = swapper.latent(_embedding(6))
    rng = np.random.default_rng(2)
    crops = [rng.integers(0, 255, (256, 256, 3), dtype=np.uint8) for _ in range(3)]
    together = swapper.swap_crops(crops, latent)
    assert all(
        np.array_equal(t, swapper.swap_crops([c], latent)[0]) for t, c in zip(together, crops, strict=True)
    )


def test_a_detector_is_not_a_swapper(yunet: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"face detector \(YuNet\).*swapper setting"):
        Swapper(yunet, CPU)


def test_wrong_emap_is_refused(tmp_path: Path) -> None:
    path = synthetic.make_swapper(tmp_path / "s.onnx", 128)
    model = onnx.load(str(path))
    model.graph.initializer.append(onnx.numpy_helper.from_array(np.zeros((3, 3), np.float32), "extra"))
    onnx.save(model, str(path))
    with pytest.raises(ModelLoadError, match="not an emap"):
        Swapper(path, CPU)


def test_io_binding_path_gives_the_same_crops(tmp_path: Path) -> None:
    """The GPU path (inputs bound once, output kept on the device) exercised on the CPU device."""
    swapper = Swapper(synthetic.make_swapper(tmp_path / "s.onnx", 128, batch=True), CPU)
    assert swapper.device == "cpu" and not swapper.use_binding
    latent = swapper.latent(_embedding(8))
    crops = [np.random.default_rng(i).integers(0, 255, (256, 256, 3), dtype=np.uint8) for i in range(2)]
    plain = swapper.swap_crops(crops, latent)
    swapper.use_binding = True
    bound = swapper.swap_crops(crops, latent)
    assert all(np.array_equal(a, b) for a, b in zip(plain, bound, strict=True))


def test_output_is_rounded_clipped_and_back_to_bgr() -> None:
    rng = np.random.default_rng(3)
    pred = rng.uniform(-0.3, 1.3, (2, 3, 64, 48)).astype(np.float32)
    pred[0, 0, 0, :6] = np.array([-0.0, 0.5, 1.5, 2.5, 253.5, 254.5], np.float32) / np.float32(255)
    scaled = np.clip(pred * np.float32(255), 0, 255)
    expected = np.rint(scaled).astype(np.uint8).transpose(0, 2, 3, 1)[..., ::-1]
    for given in (pred.copy(), pred.astype(np.float16).astype(np.float32), np.asfortranarray(pred)):
        exact = np.rint(np.clip(given.astype(np.float32) * np.float32(255), 0, 255)).astype(np.uint8)
        assert np.array_equal(from_output(given), exact.transpose(0, 2, 3, 1)[..., ::-1])
    assert np.array_equal(from_output(pred.copy()), expected)


def test_blob_is_rgb_planes_in_zero_to_one() -> None:
    crops = np.random.default_rng(4).integers(0, 256, (3, 32, 40, 3), dtype=np.uint8)
    blob = to_blob(crops)
    expected = crops[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32) * np.float32(1 / 255)
    assert blob.shape == (3, 3, 32, 40) and blob.dtype == np.float32
    assert np.array_equal(blob, expected)
    assert to_blob(crops, np.float16).dtype == np.float16
