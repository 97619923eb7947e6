"""Per-face sources (FaceMap, ``--map``): each face gets exactly the pixels of its own single-source swap."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import read

from inswapper_live.core.cli import main
from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.errors import InputError, SettingsError
from inswapper_live.core.facemap import FaceMap, MapEntry
from inswapper_live.core.live import LiveSession
from inswapper_live.core.mapping import build_facemap, split_mapping
from inswapper_live.core.select import FaceSelection
from inswapper_live.obs_plugin.model import SwapModel
from inswapper_live.obs_plugin.settings import FilterSettings


@pytest.fixture(scope="module")
def engine(yunet: Path, swapper_128: Path, recognizer: Path) -> Engine:
    return Engine(EngineSettings(swapper=str(swapper_128), detector=str(yunet), recognizer=str(recognizer)))


def _composite(original: np.ndarray, singles: list[np.ndarray]) -> np.ndarray:
    """The original with each single-source swap's changed pixels laid in; the changes must not overlap."""
    out = original.copy()
    taken = np.zeros(original.shape[:2], bool)
    for single in singles:
        changed = np.any(single != original, axis=2)
        assert changed.any(), "each single-source swap changed its face"
        assert not (changed & taken).any(), "the faces' regions are apart in this photo"
        out[changed] = single[changed]
        taken |= changed
    return out


def test_cli_map_equals_each_single_source_swap(
    tmp_path: Path, faces_dir: Path, cli_models: list[str]
) -> None:
    """The issue's done-when check, with one source an image and one a saved face model."""
    target = faces_dir / "obama_biden_2faces.jpg"
    a, b = faces_dir / "grace_hopper.jpg", tmp_path / "b.safetensors"
    assert (
        main(["face", "--source", str(faces_dir / "codait_luciano.png"), "--output", str(b), *cli_models[2:]])
        == 0
    )

    def swap(name: str, *args: str) -> np.ndarray:
        out = tmp_path / f"{name}.png"
        assert main(["swap", "--target", str(target), "--output", str(out), *args, *cli_models]) == 0
        return read(out)

    mapped = swap("mapped", "--map", f"0={a}", "--map", f"1={b}")
    single_a = swap("a", "--source", str(a), "--faces", "index:0")
    single_b = swap("b", "--face-model", str(b), "--faces", "index:1")
    original = read(target)
    assert np.array_equal(mapped, _composite(original, [single_a, single_b]))
    # Unmapped faces keep their look unless a default source is given.
    only_b = swap("only_b", "--map", f"1={b}")
    assert np.array_equal(only_b, single_b)
    with_default = swap("default", "--map", f"1={b}", "--source", str(a))
    assert np.array_equal(with_default, mapped)


def test_cli_map_by_reference_photo(tmp_path: Path, faces_dir: Path, cli_models: list[str]) -> None:
    target = faces_dir / "obama_biden_2faces.jpg"
    image = read(target)
    # The reference: a crop around the right-hand face (the same person, in another picture).
    reference = tmp_path / "right person.png"
    cv2.imwrite(str(reference), image[0:400, 650:1100])
    source = faces_dir / "grace_hopper.jpg"
    by_ref, by_index = tmp_path / "ref.png", tmp_path / "index.png"
    common = ["--target", str(target), *cli_models]
    assert main(["swap", "--map", f"{reference}={source}", "--output", str(by_ref), *common]) == 0
    assert (
        main(["swap", "--source", str(source), "--faces", "index:1", "--output", str(by_index), *common]) == 0
    )
    assert np.array_equal(read(by_ref), read(by_index))


@pytest.mark.parametrize(
    ("photo", "count"), [("apollo11_crew_3faces.jpg", 3), ("pexels_group_meeting_4faces.jpeg", 4)]
)
def test_library_map_on_group_photos(engine: Engine, faces_dir: Path, photo: str, count: int) -> None:
    image = read(faces_dir / photo)
    names = ("grace_hopper.jpg", "codait_luciano.png", "biden_portrait.jpg")
    a, b, c = (engine.analyse_source([read(faces_dir / n)]) for n in names)
    assigned = [a, b, a, c][:count]  # faces 0 and 2 share a source: one batch, and still the same pixels
    assert len(engine.detect(image)) >= count
    singles = [_single(engine, image, source, i) for i, source in enumerate(assigned)]
    entries = [MapEntry(source, index=i) for i, source in enumerate(assigned)]
    engine.set_facemap(FaceMap(tuple(entries)))
    try:
        result = engine.swap(image)
    finally:
        engine.set_facemap(None)
    assert len(result.swapped) == count and result.unmatched == ()
    assert np.array_equal(result.frame, _composite(image, singles))


def _single(engine: Engine, image: np.ndarray, source, index: int) -> np.ndarray:
    engine.set_source(source)
    engine.update(faces=FaceSelection("index", (index,)))
    try:
        return engine.swap(image).frame
    finally:
        engine.update(faces=FaceSelection())


def test_default_source_and_selection_with_a_map(engine: Engine, faces_dir: Path) -> None:
    """Map indices count the faces the selection keeps; the default takes the other kept faces."""
    image = read(faces_dir / "apollo11_crew_3faces.jpg")
    a = engine.analyse_source([read(faces_dir / "grace_hopper.jpg")])
    d = engine.analyse_source([read(faces_dir / "codait_luciano.png")])
    expected = _composite(image, [_single(engine, image, a, 1), _single(engine, image, d, 2)])
    engine.set_facemap(FaceMap((MapEntry(a, index=0),), default=d))
    engine.update(faces=FaceSelection("index", (1, 2)))
    try:
        result = engine.swap(image)
    finally:
        engine.set_facemap(None)
        engine.update(faces=FaceSelection())
    assert np.array_equal(result.frame, expected)


def test_bad_mappings_name_the_setting(
    tmp_path: Path, faces_dir: Path, cli_models: list[str], caplog
) -> None:
    target = faces_dir / "obama_biden_2faces.jpg"
    source = faces_dir / "grace_hopper.jpg"

    def swap(*maps: str) -> int:
        caplog.clear()
        args = [a for m in maps for a in ("--map", m)]
        out = tmp_path / "out.png"
        code = main(["swap", "--target", str(target), "--output", str(out), *args, *cli_models])
        assert code == 0 or not out.exists(), "a failed swap writes nothing"
        return code

    assert swap(f"2={source}") == 1
    assert f"--map 2={source}: no such face" in caplog.text and "2 faces" in caplog.text
    assert swap(f"0={tmp_path / 'missing.jpg'}") == 1
    assert f"--map 0={tmp_path / 'missing.jpg'}: source" in caplog.text and "does not exist" in caplog.text
    assert swap(f"{tmp_path / 'nobody.jpg'}={source}") == 1
    assert "reference photo" in caplog.text and "nobody.jpg does not exist" in caplog.text
    short = tmp_path / "short.npz"
    np.savez(short, embedding=np.ones(256, np.float32))
    assert swap(f"0={short}") == 1
    assert f"--map 0={short}:" in caplog.text and "512-d" in caplog.text
    assert swap(f"1={source}", f"1={source}") == 1
    assert "Face 1 is mapped twice" in caplog.text and f"--map 1={source}" in caplog.text
    assert swap(f"{target}={source}", f"{target}={source}") == 1
    assert "the same face would be mapped twice" in caplog.text
    assert swap("0:grace.jpg") == 1 and "is not understood" in caplog.text
    right = tmp_path / "right person.png"
    cv2.imwrite(str(right), read(target)[0:400, 650:1100])
    assert swap(f"1={source}", f"{right}={faces_dir / 'codait_luciano.png'}") == 1
    assert (
        f"--map 1={source} and --map {right}=" in caplog.text
        and "the same face is mapped twice" in caplog.text
    )
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 127, np.uint8))
    assert swap(f"{blank}={source}") == 1
    assert "No face found" in caplog.text and "--map" in caplog.text
    assert main(["swap", "--target", str(target), "--output", str(tmp_path / "o.png"), *cli_models]) == 1
    assert "swap needs a source" in caplog.text


def test_split_mapping_and_empty_maps(tmp_path: Path) -> None:
    assert split_mapping("0=a.jpg") == (0, Path("a.jpg"))
    assert split_mapping(" 12 =b.npz") == (12, Path("b.npz"))
    odd = tmp_path / "x=y.jpg"
    odd.write_bytes(b"")
    assert split_mapping(f"{odd}=c.jpg") == (odd, Path("c.jpg"))
    with pytest.raises(SettingsError, match="empty"):
        FaceMap().validate()
    with pytest.raises(SettingsError, match="negative"):
        MapEntry(FaceMap.__new__(FaceMap), index=-1)  # type: ignore[arg-type]


def test_build_facemap_shares_one_source_per_file(engine: Engine, faces_dir: Path) -> None:
    source = faces_dir / "grace_hopper.jpg"
    facemap = build_facemap(engine, [f"0={source}", f"2={source}"])
    assert facemap.entries[0].source is facemap.entries[1].source and len(facemap.sources()) == 1
    with pytest.raises(InputError, match="--map 0="):
        build_facemap(engine, [f"0={faces_dir / 'missing.jpg'}"])


def _two_people(faces_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    image = read(faces_dir / "obama_biden_2faces.jpg")
    return image[0:260, 200:420].copy(), image[10:270, 755:975].copy()


def _scene(patches: list[tuple[np.ndarray, int, int]]) -> np.ndarray:
    canvas = np.full((560, 760, 3), 90, np.uint8)
    for patch, x, y in patches:
        canvas[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
    return canvas


def test_live_mappings_follow_people_across_crossing_and_reentry(
    faces_dir: Path, yunet: Path, swapper_128: Path, recognizer: Path, caplog
) -> None:
    engine = Engine(EngineSettings(swapper=str(swapper_128), detector=str(yunet), recognizer=str(recognizer)))
    first, second = _two_people(faces_dir)
    src_a = engine.analyse_source([read(faces_dir / "grace_hopper.jpg")])
    src_b = engine.analyse_source([read(faces_dir / "codait_luciano.png")])
    engine.set_facemap(
        FaceMap((MapEntry(src_a, index=0), MapEntry(src_b, index=1), MapEntry(src_b, index=2, name="slot 3")))
    )
    session = LiveSession(engine)
    checked = {"crossed": 0, "alone": 0, "back": 0}
    bottom_ids: dict[str, set[int]] = {"crossed": set(), "alone": set(), "back": set()}
    frames = []
    for i in range(36):  # the first person goes right along the top, the second left along the bottom
        frames.append(("crossed", [(first, 20 + 14 * i, 10), (second, 520 - 14 * i, 290)]))
    for _ in range(40):  # the second person leaves for longer than the tracker remembers
        frames.append(("alone", [(first, 510, 10)]))
    for _ in range(10):  # and comes back on the left: position 0, where the first person started
        frames.append(("back", [(first, 510, 10), (second, 30, 290)]))
    for n, (phase, patches) in enumerate(frames):
        analysis = session.analyse(_scene(patches), n / 30)
        assert analysis.sources is not None
        for face, source in zip(analysis.faces, analysis.sources, strict=True):
            person = src_a if face.center_y < 280 else src_b  # each keeps to a row (a coasting face too)
            assert source is person, f"frame {n} ({phase}): a face got the other person's source"
            checked[phase] += 1
        bottom_ids[phase] |= {t.id for t in session.tracker.visible() if t.face.center_y >= 280}
    assert checked["crossed"] >= 60 and checked["alone"] >= 35 and checked["back"] >= 18
    assert not bottom_ids["crossed"] & bottom_ids["back"], "the tracker forgot the second person: a new track"
    assert "slot 3: only 2 face(s) in view" in caplog.text
    # The rendered frame: each face swapped with its own source, exactly as a single-source swap.
    result = session.render(analysis)
    singles = [
        engine.swap(analysis.frame, faces=[f], select=False, sources=[s]).frame
        for f, s in zip(analysis.faces, analysis.sources, strict=True)
    ]
    assert np.array_equal(result.frame, _composite(analysis.frame, singles))


def _obs_ready(settings: FilterSettings) -> SwapModel:
    model = SwapModel()
    model.configure(settings)
    assert model.status.state == "ready", model.status
    return model


def test_obs_source_slots(
    tmp_path: Path, faces_dir: Path, swapper_128: Path, recognizer: Path, yunet: Path, caplog
) -> None:
    image = read(faces_dir / "obama_biden_2faces.jpg")
    reference = tmp_path / "right person.png"
    cv2.imwrite(str(reference), image[0:400, 650:1100])
    grace = str(faces_dir / "grace_hopper.jpg")
    face_model = str(tmp_path / "pratt.npz")
    engine = Engine(EngineSettings(swapper=str(swapper_128), detector=str(yunet), recognizer=str(recognizer)))
    engine.analyse_source([read(faces_dir / "codait_luciano.png")]).save(face_model)
    base = FilterSettings(
        swapper=str(swapper_128), detector=str(yunet), recognizer=str(recognizer), threads=1
    )
    slots = replace(
        base,
        slot_count=2,
        slot1_images=(grace,),
        slot1_target="0",
        slot2_face_model=face_model,
        slot2_target="1",
    )
    mapped = _obs_ready(slots).process(image.copy()).frame
    singles = [
        _obs_ready(replace(base, source_images=(grace,), selection="index", indices="0"))
        .process(image.copy())
        .frame,
        _obs_ready(replace(base, face_model=face_model, selection="index", indices="1"))
        .process(image.copy())
        .frame,
    ]
    assert np.array_equal(mapped, _composite(image, singles))
    by_reference = _obs_ready(replace(slots, slot2_target=str(reference))).process(image.copy()).frame
    assert np.array_equal(by_reference, mapped), "a reference photo finds the same person as index 1"
    # A slot whose face is not in view is a warning; the other slots go on.
    caplog.clear()
    missing = _obs_ready(replace(slots, slot2_target="5")).process(image.copy()).frame
    assert np.array_equal(missing, singles[0]) and "Slot 2: only 2 face(s) in view" in caplog.text
    for changes, message in (
        ({"slot2_face_model": ""}, "Slot 2 has no source"),
        ({"slot2_target": "0"}, "Face 0 is mapped twice (Slot 1 and Slot 2)"),
        ({"slot2_target": str(tmp_path / "nobody.jpg")}, "Slot 2: reference photo"),
        ({"slot1_images": (str(tmp_path / "gone.jpg"),)}, "Slot 1: photo"),
        ({"slot2_face_model": str(tmp_path / "gone.npz")}, "Slot 2 face model: source"),
        ({"slot_count": 9}, "Source slots is 9"),
    ):
        model = SwapModel()
        model.configure(replace(slots, **changes))
        assert model.status.state == "error" and message in model.status.message, (changes, model.status)
