"""Gender and age selection: genderage.onnx's recipe held to the reference, and the selections built on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import read

from inswapper_live.core import synthetic
from inswapper_live.core.attributes import GenderAge
from inswapper_live.core.cli import main
from inswapper_live.core.detect import DetectorSettings, load_detector
from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.errors import ModelLoadError, SettingsError
from inswapper_live.core.runtime import RuntimeSettings
from inswapper_live.core.select import FaceSelection

GROUPS = ("pexels_group_meeting_4faces.jpeg", "apollo11_crew_3faces.jpg", "obama_biden_2faces.jpg")


@pytest.fixture(scope="module")
def genderage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic.make_genderage(tmp_path_factory.mktemp("genderage") / "genderage.onnx")


@pytest.mark.parametrize("batch", [True, False])
def test_gender_and_age_equal_the_reference(
    genderage: Path, yunet: Path, faces_dir: Path, tmp_path: Path, batch: bool
) -> None:
    from insightface.app.common import Face as ReferenceFace
    from insightface.model_zoo.attribute import Attribute

    path = genderage if batch else synthetic.make_genderage(tmp_path / "single.onnx", batch=False)
    ours = GenderAge(path, RuntimeSettings())
    reference = Attribute(str(path))
    detector = load_detector(yunet, DetectorSettings(), RuntimeSettings())
    seen = set()
    for name in GROUPS:
        image = read(faces_dir / name)
        faces = detector.detect(image)
        ours.predict(image, faces)
        for face in faces:
            gender, age = reference.get(image, ReferenceFace(bbox=face.bbox))
            assert (face.gender, face.age) == (int(gender), age), name
            seen.add(face.gender)
    assert seen == {0, 1}, "the stand-in tells some faces apart, so the check compares something"


def test_a_model_of_another_kind_is_refused(recognizer: Path) -> None:
    with pytest.raises(ModelLoadError, match="not a gender-age model"):
        GenderAge(recognizer, RuntimeSettings())


def test_parse_gender_and_age_alone_and_combined() -> None:
    assert FaceSelection.parse("gender:female") == FaceSelection(gender="female")
    assert FaceSelection.parse("age:20-40") == FaceSelection(age=(20, 40))
    combined = FaceSelection.parse("largest + gender:Male+age:30-60")
    assert combined == FaceSelection("largest", gender="male", age=(30, 60))
    assert FaceSelection.parse(str(combined)) == combined
    assert FaceSelection.parse("index:0,2+gender:female").indices == (0, 2)
    for bad in (
        "gender:other",
        "age:40-20",
        "age:30",
        "gender:male+gender:female",
        "largest+index:0+age:1-2",
    ):
        with pytest.raises(SettingsError, match="not understood"):
            FaceSelection.parse(bad)


@pytest.fixture
def engine(genderage: Path, yunet: Path, swapper_128: Path, recognizer: Path) -> Engine:
    settings = EngineSettings(
        swapper=str(swapper_128),
        detector=str(yunet),
        recognizer=str(recognizer),
        genderage=str(genderage),
    )
    return Engine(settings)


def test_engine_swaps_only_the_faces_of_the_chosen_gender_and_age(
    engine: Engine, genderage: Path, faces_dir: Path
) -> None:
    engine.set_source(engine.analyse_source([read(faces_dir / "grace_hopper.jpg")]))
    image = read(faces_dir / "pexels_group_meeting_4faces.jpeg")
    everyone = engine.detect(image)
    GenderAge(genderage, RuntimeSettings()).predict(image, everyone)
    for spec, keep in (
        ("gender:female", lambda f: f.gender == 0),
        ("gender:male", lambda f: f.gender == 1),
        ("age:15-40", lambda f: 15 <= f.age <= 40),
        ("gender:male+age:0-20", lambda f: f.gender == 1 and f.age <= 20),
    ):
        engine.update(faces=FaceSelection.parse(spec))
        swapped = engine.swap(image).swapped
        expected = sorted(f.center_x for f in everyone if keep(f))
        assert sorted(f.center_x for f in swapped) == pytest.approx(expected), spec
        assert 0 < len(expected) < len(everyone), f"{spec} keeps some faces and drops others"


def test_cli_faces_gender_with_a_map(
    tmp_path: Path, genderage: Path, cli_models: list[str], yunet: Path, faces_dir: Path, caplog
) -> None:
    """Map indices count the faces the gender filter keeps: 0 is the leftmost woman."""
    models = [*cli_models, "--genderage", str(genderage)]
    target = faces_dir / "pexels_group_meeting_4faces.jpeg"
    source = faces_dir / "grace_hopper.jpg"

    def swap(name: str, *args: str) -> np.ndarray:
        out = tmp_path / f"{name}.png"
        assert main(["swap", "--target", str(target), "--output", str(out), *args, *models]) == 0
        return read(out)

    mapped = swap("mapped", "--faces", "gender:female", "--map", f"0={source}")
    image = read(target)
    faces = load_detector(yunet, DetectorSettings(), RuntimeSettings()).detect(image)
    GenderAge(genderage, RuntimeSettings()).predict(image, faces)
    ordered = sorted(faces, key=lambda f: f.center_x)
    index = next(i for i, f in enumerate(ordered) if f.gender == 0)
    single = swap("single", "--source", str(source), "--faces", f"index:{index}")
    assert np.array_equal(mapped, single)
    missing = [*cli_models, "--genderage", str(tmp_path / "none.onnx")]
    args = ["--target", str(target), "--output", str(tmp_path / "x.png"), "--source", str(source)]
    assert main(["swap", *args, "--faces", "gender:female", *missing]) == 1
    assert "needs genderage.onnx" in caplog.text and "none.onnx" in caplog.text


def test_live_session_keeps_the_chosen_gender(engine: Engine, faces_dir: Path) -> None:
    from inswapper_live.core.live import LiveSession

    engine.update(faces=FaceSelection.parse("gender:female"))
    engine.set_source(engine.analyse_source([read(faces_dir / "grace_hopper.jpg")]))
    image = read(faces_dir / "pexels_group_meeting_4faces.jpeg")
    expected = sorted(f.center_x for f in engine.swap(image).swapped)
    assert 0 < len(expected) < len(engine.detect(image))
    session = LiveSession(engine)
    for i in range(4):
        shifted = np.roll(image, 3 * i, axis=1)
        chosen = sorted(f.center_x - 3 * i for f in session.analyse(shifted, i / 30).faces)
        assert chosen == pytest.approx(expected, abs=15), f"frame {i}"  # smoothing lags a little


def test_install_py_knows_genderage_and_where_it_is(tmp_path: Path) -> None:
    """`install.py --model genderage` lists it (offline) with its hash, URL and the buffalo_l archive."""
    from inswapper_live.core.install.models import ModelSources, install_models, missing_report
    from inswapper_live.core.manifest import load_manifest

    manifest = load_manifest()
    entry = manifest.find("genderage")
    assert entry is not None and entry.kind == "attributes" and not entry.default
    assert entry.archive is not None and entry.archive.name == "buffalo_l" and "non-commercial" in entry.licence
    outcomes = install_models(manifest, ["genderage"], ModelSources(tmp_path, offline=True))
    assert [o.how for o in outcomes] == ["missing"]
    report = "\n".join(missing_report(outcomes, tmp_path))
    assert "genderage.onnx" in report and "4fde69b1c810857b" in report and "buffalo_l.zip" in report
