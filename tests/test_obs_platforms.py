"""Platform and version choices: libobs per OS, struct size per OBS version, OBS's Python packages."""

from __future__ import annotations

import ctypes

import pytest

from inswapper_live.obs_plugin import platforms as plat
from inswapper_live.obs_plugin.platforms import ObsVersion, UnsupportedObsError


def test_version_unpacks_obs_get_version() -> None:
    assert ObsVersion.from_packed(0x1D000002) == ObsVersion(29, 0, 2)  # what OBS 29.0.2 returns
    assert ObsVersion.from_packed((31 << 24) | (1 << 16) | 300) == ObsVersion(31, 1, 300)
    assert str(ObsVersion(30, 2, 3)) == "30.2.3"
    assert ObsVersion(29, 1) > ObsVersion(29, 0, 9)


def test_libobs_candidates_per_platform() -> None:
    win = plat.libobs_candidates("Windows", r"C:\Program Files\obs-studio\bin\64bit", env={})
    assert win == ["obs.dll", r"C:\Program Files\obs-studio\bin\64bit\obs.dll"]
    mac = plat.libobs_candidates("Darwin", "/Applications/OBS.app/Contents/MacOS", env={})
    assert mac[0] == "/Applications/OBS.app/Contents/Frameworks/libobs.framework/Versions/A/libobs"
    assert all("libobs.framework" in c for c in mac)
    assert plat.libobs_candidates("Linux", "/usr/bin", env={}) == ["libobs.so.0", "libobs.so"]


def test_libobs_override_comes_first() -> None:
    env = {plat.LIBOBS_ENV: "/opt/obs/lib/libobs.so.30"}
    assert plat.libobs_candidates("Linux", None, env=env)[0] == "/opt/obs/lib/libobs.so.30"


@pytest.mark.parametrize("version", [ObsVersion(29, 0, 2), ObsVersion(30, 2, 3), ObsVersion(31, 0, 0)])
def test_struct_size_for_supported_versions(version: ObsVersion) -> None:
    from inswapper_live.obs_plugin.libobs import ObsSourceInfo

    expected = 400 if ctypes.sizeof(ctypes.c_void_p) == 8 else ctypes.sizeof(ObsSourceInfo)
    assert plat.source_info_size(version, ctypes.sizeof(ObsSourceInfo)) == expected


def test_older_obs_is_refused_with_what_to_do() -> None:
    with pytest.raises(UnsupportedObsError, match=r"OBS 28\.1\.2 is older than 29\.0\.0.*Update OBS"):
        plat.source_info_size(ObsVersion(28, 1, 2), 400)


def test_package_dirs_search_env_then_dev_venv() -> None:
    env = {plat.PACKAGES_ENV: plat.os.pathsep.join(["/a", "/b"])}
    assert plat.package_dirs("Linux", "/repo", (3, 11), env=env) == [
        "/a",
        "/b",
        "/repo/.venv/lib/python3.11/site-packages",
    ]
    assert plat.package_dirs("Windows", r"C:\inswapper-live", (3, 12), env={}) == [
        r"C:\inswapper-live\.venv\Lib\site-packages"
    ]
    assert plat.package_dirs("Darwin", "/Users/me/il", (3, 12), env={}) == [
        "/Users/me/il/.venv/lib/python3.12/site-packages"
    ]
