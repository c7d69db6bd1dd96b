"""kubesafe's own directory logic equals platformdirs on Linux, macOS and Windows.

paths.py avoids importing platformdirs on the hot path; these tests pin it to what
platformdirs (the design card's choice) answers for each platform, using
platformdirs' per-platform classes directly so all three run on Linux.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from platformdirs.macos import MacOS
from platformdirs.unix import Unix
from platformdirs.windows import Windows

from kubesafe import paths

PLATFORMS = {"linux": Unix, "darwin": MacOS, "win32": Windows}


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
@pytest.mark.parametrize("kind", ["cache", "config", "state"])
@pytest.mark.parametrize("xdg", [True, False], ids=["xdg-set", "xdg-unset"])
def test_directories_match_platformdirs(
    platform: str, kind: str, xdg: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    if not xdg:
        for variable in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
            monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "AppData" / "Local"))
    monkeypatch.setenv("APPDATA", str(tmp_path / "AppData" / "Roaming"))
    monkeypatch.delenv("KUBESAFE_CACHE_DIR", raising=False)
    if platform == "win32":
        # On Linux platformdirs would ask the Windows API; read the folders from the
        # environment as it does on Windows without one. Windows ignores XDG variables.
        import platformdirs.windows

        monkeypatch.setattr(
            platformdirs.windows,
            "_RESOLVE_WIN_FOLDER",
            platformdirs.windows.get_win_folder_from_env_vars,
        )
    expected = getattr(PLATFORMS[platform](appname="kubesafe", appauthor=False), f"user_{kind}_dir")
    actual = {"cache": paths.cache_dir, "config": paths.config_dir, "state": paths.state_dir}[
        kind
    ]()
    # ntpath joins with backslashes; os.path on this machine with slashes.
    assert actual.replace("\\", "/") == expected.replace("\\", "/")


def test_xdg_variables_win_on_linux(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    monkeypatch.delenv("KUBESAFE_CACHE_DIR", raising=False)
    assert paths.cache_dir() == str(tmp_path / "c" / "kubesafe")
    monkeypatch.setenv("KUBESAFE_CACHE_DIR", str(tmp_path / "own"))
    assert paths.cache_dir() == str(tmp_path / "own")
