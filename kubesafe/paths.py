"""Where kubesafe keeps its files, computed without importing platformdirs.

The answers equal ``platformdirs.user_*_dir("kubesafe", appauthor=False)``
(a test compares them); this copy exists because the shim runs on every
kubectl call and platformdirs costs an import it does not need.
"""

from __future__ import annotations

import os
import sys

APP = "kubesafe"


def _home() -> str:
    return os.path.expanduser("~")


def _xdg(variable: str, fallback: str) -> str:
    value = os.environ.get(variable, "").strip()
    return os.path.join(value if value else os.path.join(_home(), fallback), APP)


def _windows_local_appdata() -> str:
    value = os.environ.get("LOCALAPPDATA", "").strip()
    return value if value else os.path.join(_home(), "AppData", "Local")


def cache_dir() -> str:
    if os.environ.get("KUBESAFE_CACHE_DIR"):
        return os.environ["KUBESAFE_CACHE_DIR"]
    if sys.platform == "darwin":
        return os.path.join(_home(), "Library", "Caches", APP)
    if sys.platform == "win32":
        return os.path.join(_windows_local_appdata(), APP, "Cache")
    return _xdg("XDG_CACHE_HOME", ".cache")


def config_dir() -> str:
    if sys.platform == "darwin":
        return os.path.join(_home(), "Library", "Application Support", APP)
    if sys.platform == "win32":
        return os.path.join(_windows_local_appdata(), APP)
    return _xdg("XDG_CONFIG_HOME", ".config")


def state_dir() -> str:
    if sys.platform == "darwin":
        return os.path.join(_home(), "Library", "Application Support", APP)
    if sys.platform == "win32":
        return os.path.join(_windows_local_appdata(), APP)
    return _xdg("XDG_STATE_HOME", os.path.join(".local", "state"))


def ensure_private_dir(path: str) -> str:
    """Create ``path`` (and parents) readable by the owner alone."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path
