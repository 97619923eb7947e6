"""Shared fixtures: the real photos, clips and detectors of ../shared/data, and synthetic models.

``INSWAPPER_LIVE_DATA`` points at the shared data folder (default ``../shared/data`` beside the
checkout). Tests that need it skip with a visible reason when it is absent, so a fresh clone
without it still passes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import read

from inswapper_live.core import synthetic
from inswapper_live.core.engine import Engine, EngineSettings

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("INSWAPPER_LIVE_DATA", REPO.parent / "shared" / "data"))


def _data_path(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not found: {path} (set INSWAPPER_LIVE_DATA to the shared/data folder)")
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _data_path()


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    return _data_path("faces")


@pytest.fixture(scope="session")
def photos(faces_dir: Path) -> list[Path]:
    return sorted(p for p in faces_dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


@pytest.fixture(scope="session")
def scrfd_500m() -> Path:
    return _data_path("models", "det_500m.onnx")


@pytest.fixture(scope="session")
def scrfd_2_5g() -> Path:
    return _data_path("models", "det_2.5g.onnx")


@pytest.fixture(scope="session")
def yunet() -> Path:
    return _data_path("models", "face_detection_yunet_2026may.onnx")


@pytest.fixture(scope="session")
def clips_dir() -> Path:
    return _data_path("video")


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("synthetic-models")


@pytest.fixture(scope="session")
def swapper_128(synthetic_dir: Path) -> Path:
    return synthetic.make_swapper(synthetic_dir / "swapper_128.onnx", 128)


@pytest.fixture(scope="session")
def swapper_512(synthetic_dir: Path) -> Path:
    return synthetic.make_swapper(synthetic_dir / "swapper_512.onnx", 512, seed=5)


@pytest.fixture(scope="session")
def identity_128(synthetic_dir: Path) -> Path:
    return synthetic.make_swapper(synthetic_dir / "identity_128.onnx", 128, identity=True, batch=True)


@pytest.fixture(scope="session")
def identity_512(synthetic_dir: Path) -> Path:
    return synthetic.make_swapper(synthetic_dir / "identity_512.onnx", 512, identity=True)


@pytest.fixture(scope="session")
def recognizer(synthetic_dir: Path) -> Path:
    return synthetic.make_recognizer(synthetic_dir / "arcface.onnx")


@pytest.fixture(scope="module")
def live_engine(scrfd_500m: Path, swapper_128: Path, recognizer: Path, faces_dir: Path) -> Engine:
    """An engine with SCRFD-500m, the 128 synthetic swapper and Grace Hopper as the source."""
    e = Engine(EngineSettings(swapper=str(swapper_128), detector=str(scrfd_500m), recognizer=str(recognizer)))
    e.set_source(e.analyse_source([read(faces_dir / "grace_hopper.jpg")]))
    return e
@pytest.fixture
def cli_models(swapper_128: Path, recognizer: Path, data_dir: Path) -> list[str]:
    """CLI model options: the synthetic swapper and recogniser, the real SCRFD 2.5g detector."""
    return [
        "--swapper", str(swapper_128),
        "--recognizer", str(recognizer),
        "--detector", "det_2.5g",
        "--models-dir", str(data_dir / "models"),
    ]  # fmt: skip
