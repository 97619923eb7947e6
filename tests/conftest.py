"""Shared fixtures: real photos, clips and detectors, and synthetic models.

The photos, YuNet and the clips come from the shared data folder when it is there
(``INSWAPPER_LIVE_DATA``, default ``../shared/data`` beside the checkout), and otherwise from
what the repository ships: ``tests/data/faces`` (public-domain and CC0 photos), the packaged
YuNet (``core/data``) and clips made at test time from those photos. InsightFace's SCRFD
detectors are non-commercial and never shipped: only tests about SCRFD need them, and those
skip with a reason saying where to get them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import read

from inswapper_live.core import synthetic
from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.resolve import PACKAGED_MODELS
from inswapper_live.core.zoomclip import make_zoom_clip

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("INSWAPPER_LIVE_DATA", REPO.parent / "shared" / "data"))
SHIPPED = REPO / "tests" / "data"
YUNET_FILE = "face_detection_yunet_2026may.onnx"
CLIPS = {
    # name: (photo, size, focus of the zoom); the shared folder has clips of the same names
    "clip_obama_zoom_3s.mp4": ("obama_official_portrait.jpg", (640, 480), (0.54, 0.22)),
    "clip_apollo11_zoom_3s.mp4": ("apollo11_crew_3faces.jpg", (480, 360), (0.5, 0.4)),
}


def shared_file(*parts: str) -> Path | None:
    """A file or folder of the shared data, or None where it is absent."""
    path = DATA.joinpath(*parts)
    return path if path.exists() else None


SCRFD_FILES = ("det_500m.onnx", "det_2.5g.onnx")


def scrfd_skip_reason(files: str) -> str:
    return (
        f"needs InsightFace's SCRFD {files} (non-commercial, so not in the repository): put the shared "
        f"data folder at ../shared/data or point INSWAPPER_LIVE_DATA at a folder with models/{files} "
        "(det_500m is in InsightFace's buffalo_sc.zip, det_2.5g in buffalo_m.zip; README, Development)"
    )


def _scrfd(file: str) -> Path:
    path = shared_file("models", file)
    if path is None:
        pytest.skip(scrfd_skip_reason(file))
    return path


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    return shared_file("faces") or SHIPPED / "faces"


@pytest.fixture(scope="session")
def photos(faces_dir: Path) -> list[Path]:
    return sorted(p for p in faces_dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


@pytest.fixture(scope="session")
def scrfd_500m() -> Path:
    return _scrfd("det_500m.onnx")


@pytest.fixture(scope="session")
def scrfd_2_5g() -> Path:
    return _scrfd("det_2.5g.onnx")


@pytest.fixture(scope="session")
def yunet() -> Path:
    return shared_file("models", YUNET_FILE) or PACKAGED_MODELS / YUNET_FILE


@pytest.fixture(scope="session")
def clips_dir(tmp_path_factory: pytest.TempPathFactory, faces_dir: Path) -> Path:
    shared = shared_file("video")
    if shared is not None:
        return shared
    folder = tmp_path_factory.mktemp("clips")
    for name, (photo, size, focus) in CLIPS.items():
        make_zoom_clip(faces_dir / photo, folder / name, size=size, focus=focus)
    return folder


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
def live_engine(yunet: Path, swapper_128: Path, recognizer: Path, faces_dir: Path) -> Engine:
    """An engine with YuNet, the 128 synthetic swapper and Grace Hopper as the source."""
    e = Engine(EngineSettings(swapper=str(swapper_128), detector=str(yunet), recognizer=str(recognizer)))
    e.set_source(e.analyse_source([read(faces_dir / "grace_hopper.jpg")]))
    return e


@pytest.fixture
def cli_models(swapper_128: Path, recognizer: Path, yunet: Path) -> list[str]:
    """CLI model options: the synthetic swapper and recogniser, the real YuNet detector."""
    return [
        "--swapper", str(swapper_128),
        "--recognizer", str(recognizer),
        "--detector", "yunet",
        "--models-dir", str(yunet.parent),
    ]  # fmt: skip
