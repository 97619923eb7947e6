"""Where OBS's Python is on each OS, where its dependencies go, and scene collections.

Only Linux runs here, so every OS's choices are tested on folders laid out like that OS's.
The real install for Debian's OBS Python runs in test_install_script.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from inswapper_live.core.install import obs as install_obs
from inswapper_live.core.install.env import REPO
from inswapper_live.core.install.obs import (
    activate_obs_deps,
    add_script_to_collection,
    configured_python_home,
    deps_tag,
    find_obs_python,
    linux_obs_python_version,
    obs_config_dirs,
    obs_deps_dir,
    python_in_home,
    scene_collections,
    setup_hint,
)


def test_one_deps_folder_per_python_version_and_platform() -> None:
    assert deps_tag((3, 11), "linux-x86_64") == "py311-linux-x86_64"
    assert deps_tag((3, 12), "win-amd64") == "py312-win-amd64"
    assert deps_tag((3, 12), "macosx-11.0-arm64") == "py312-macosx-11_0-arm64"
    assert obs_deps_dir((3, 11), "linux-x86_64") == REPO / "obs_plugin" / "_deps" / "py311-linux-x86_64"
    assert obs_deps_dir().name == deps_tag(sys.version_info[:2])


def test_activation_puts_a_finished_folder_first_once(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(install_obs, "DEPS_ROOT", tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert activate_obs_deps() is None, "no folder: nothing to activate"
    folder = tmp_path / deps_tag()
    folder.mkdir()
    assert activate_obs_deps() is None, "a folder without the marker is unfinished"
    (folder / install_obs.MARKER).write_text("{}")
    assert activate_obs_deps() == folder
    assert activate_obs_deps() == folder
    assert sys.path[0] == str(folder) and sys.path.count(str(folder)) == 1
    assert "install.py --obs" in setup_hint()


def test_obs_settings_folders_per_os(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert obs_config_dirs("Windows", {"APPDATA": "C:/Users/u/AppData/Roaming"}, home) == [
        Path("C:/Users/u/AppData/Roaming/obs-studio")
    ]
    assert obs_config_dirs("Darwin", {}, home) == [home / "Library/Application Support/obs-studio"]
    linux = obs_config_dirs("Linux", {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}, home)
    assert linux == [tmp_path / "xdg/obs-studio", home / ".var/app/com.obsproject.Studio/config/obs-studio"]
    assert obs_config_dirs("Linux", {}, home)[0] == home / ".config/obs-studio"


def test_the_python_chosen_in_obs_settings_is_read(tmp_path: Path) -> None:
    assert configured_python_home(tmp_path) is None
    (tmp_path / "global.ini").write_text("[General]\nFirstRun=true\n[Python]\nPath64bit=C:/Python311\n")
    assert configured_python_home(tmp_path) == "C:/Python311"
    (tmp_path / "user.ini").write_text('\ufeff[python]\nPath64bit="C:/Program Files/Python312"\n')
    assert configured_python_home(tmp_path) == "C:/Program Files/Python312", "OBS 31+ keeps it in user.ini"


def test_the_interpreter_inside_an_obs_python_folder(tmp_path: Path) -> None:
    win = tmp_path / "win"
    win.mkdir()
    assert python_in_home(win, "Windows") is None
    (win / "python.exe").write_bytes(b"")
    assert python_in_home(win, "Windows") == win / "python.exe"
    frameworks = tmp_path / "Frameworks"
    for version in ("3.10", "3.12"):
        bin_dir = frameworks / "Python.framework" / "Versions" / version / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / f"python{version}").write_bytes(b"")
    assert python_in_home(frameworks, "Darwin") == bin_dir / "python3.12"


def _fake_lib(folder: Path, soname: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "libobs-scripting.so.30").write_bytes(b"\x7fELF...\0" + soname + b"\0more")
    return folder


def test_linux_reads_the_libpython_obs_was_built_with(tmp_path: Path) -> None:
    lib = _fake_lib(tmp_path / "lib", b"libpython3.12.so.1.0")
    assert linux_obs_python_version([str(tmp_path / "nothing"), str(lib)]) == (3, 12)
    assert linux_obs_python_version([str(tmp_path / "nothing")]) is None


def test_find_obs_python_on_linux(tmp_path: Path) -> None:
    missing = find_obs_python(system="Linux", lib_dirs=[str(tmp_path)])
    assert missing.python is None and "apt install obs-studio" in missing.problem
    odd = find_obs_python(system="Linux", lib_dirs=[str(_fake_lib(tmp_path / "a", b"libpython3.99.so"))])
    assert odd.python is None and odd.version == (3, 99) and "apt install python3.99" in odd.problem
    if not Path("/usr/bin/python3.11").is_file():
        pytest.skip("/usr/bin/python3.11 is not installed")
    found = find_obs_python(system="Linux", lib_dirs=[str(_fake_lib(tmp_path / "b", b"libpython3.11.so"))])
    assert found.python == Path("/usr/bin/python3.11") and found.version == (3, 11)
    assert found.found_by == "OBS links libpython3.11"


def test_find_obs_python_on_windows_and_macos(tmp_path: Path) -> None:
    unset = find_obs_python(system="Windows", config_dirs=[tmp_path / "none"])
    assert unset.python is None and "Tools > Scripts > Python Settings" in unset.problem
    config = tmp_path / "obs-studio"
    config.mkdir()
    home = tmp_path / "Python312"
    (config / "user.ini").write_text(f"[Python]\nPath64bit={home.as_posix()}\n")
    empty = find_obs_python(system="Windows", config_dirs=[config])
    assert empty.python is None and "has no interpreter" in empty.problem
    home.mkdir()
    (home / "python.exe").write_bytes(b"")
    chosen = find_obs_python(system="Windows", config_dirs=[config])
    assert chosen.python == home / "python.exe" and "Python Settings" in chosen.found_by
    assert find_obs_python(system="Darwin", config_dirs=[tmp_path / "none"]).python is None


def test_an_explicit_obs_python_is_used(tmp_path: Path) -> None:
    chosen = find_obs_python(Path(sys.executable), system="Windows")
    assert chosen.python == Path(sys.executable) and chosen.version == sys.version_info[:2]
    assert find_obs_python(tmp_path, system="Linux").problem.startswith("no Python interpreter found")


def test_the_script_is_added_to_a_scene_collection_once_with_a_backup(tmp_path: Path) -> None:
    scenes = tmp_path / "basic" / "scenes"
    scenes.mkdir(parents=True)
    original = {
        "name": "Streaming",
        "sources": [{"name": "Cam"}],
        "modules": {"scripts-tool": [{"path": "/x.py"}]},
    }
    collection = scenes / "Streaming.json"
    collection.write_text(json.dumps(original))
    (scenes / "Other_name.json").write_text(json.dumps({"name": "Other name"}))
    assert scene_collections(tmp_path) == {"Streaming": collection, "Other name": scenes / "Other_name.json"}
    script = tmp_path / "face_swap_filter.py"
    assert add_script_to_collection(collection, script)
    assert not add_script_to_collection(collection, script), "a second run changes nothing"
    data = json.loads(collection.read_text())
    assert data["sources"] == original["sources"]
    assert data["modules"]["scripts-tool"] == [{"path": "/x.py"}, {"path": script.as_posix(), "settings": {}}]
    backup = scenes / "Streaming.json.before-inswapper-live"
    assert json.loads(backup.read_text()) == original
    assert sorted(p.name for p in scenes.iterdir()) == [
        "Other_name.json",
        "Streaming.json",
        "Streaming.json.before-inswapper-live",
    ]
