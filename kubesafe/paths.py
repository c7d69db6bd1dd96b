"""Where kubesafe keeps its files, computed without importing platformdirs.

The answers equal ``platformdirs.user_*_dir("kubesafe", appauthor=False)``
(a test compares them); this copy exists because the shim runs on every
kubectl call and platformdirs costs an import it does not need.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from typing import Any

APP = "kubesafe"


def _home() -> str:
    return os.path.expanduser("~")


def _xdg(variable: str, fallback: str) -> str:
    value = os.environ.get(variable, "").strip()
    return os.path.join(value if value else os.path.join(_home(), fallback), APP)


def _macos(variable: str, default: str) -> str:
    """macOS: an absolute XDG variable wins over the Apple default (as platformdirs does)."""
    value = os.environ.get(variable, "")
    if os.path.isabs(value):
        return os.path.join(value, APP)
    return os.path.join(_home(), "Library", default, APP)


def _windows_local_appdata() -> str:
    value = os.environ.get("LOCALAPPDATA", "").strip()
    return value if value else os.path.join(_home(), "AppData", "Local")


def cache_dir() -> str:
    if os.environ.get("KUBESAFE_CACHE_DIR"):
        return os.environ["KUBESAFE_CACHE_DIR"]
    if sys.platform == "darwin":
        return _macos("XDG_CACHE_HOME", "Caches")
    if sys.platform == "win32":
        return os.path.join(_windows_local_appdata(), APP, "Cache")
    return _xdg("XDG_CACHE_HOME", ".cache")


def config_dir() -> str:
    if sys.platform == "darwin":
        return _macos("XDG_CONFIG_HOME", "Application Support")
    if sys.platform == "win32":
        return os.path.join(_windows_local_appdata(), APP)
    return _xdg("XDG_CONFIG_HOME", ".config")


def state_dir() -> str:
    if sys.platform == "darwin":
        return _macos("XDG_STATE_HOME", "Application Support")
    if sys.platform == "win32":
        return os.path.join(_windows_local_appdata(), APP)
    return _xdg("XDG_STATE_HOME", os.path.join(".local", "state"))


def runtime_dir() -> str:
    """Short-lived private files (the guard's keys, token and sockets).

    ``$XDG_RUNTIME_DIR/kubesafe`` when that is a writable directory (tmpfs,
    owner-only, emptied at logout; as for terminal sessions), else ``<state dir>/run``.
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    if (
        runtime
        and os.path.isabs(runtime)
        and os.path.isdir(runtime)
        and os.access(runtime, os.W_OK)
    ):
        return os.path.join(runtime, APP)
    return os.path.join(state_dir(), "run")


def account_home() -> str:
    """This user's home in the password database ("" without one): it ignores ``$HOME``."""
    try:
        import pwd
    except ImportError:  # Windows
        return ""
    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return ""


def ensure_private_dir(path: str) -> str:
    """Create ``path`` (and parents) readable by the owner alone."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def is_private(st: os.stat_result) -> bool:
    """Owned by this user and writable by no one else (a cache that decides protection)."""
    if not hasattr(os, "getuid"):
        return True
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def read_private(path: str) -> bytes | None:
    """A private file's content; None when missing, unreadable or writable by others."""
    try:
        with open(path, "rb") as handle:
            if not is_private(os.fstat(handle.fileno())):
                return None
            return handle.read()
    except OSError:
        return None


def read_private_table(path: str, header: object) -> dict[Any, Any]:
    """The dict a private marshal file of ``(header, dict)`` holds; {} when it is missing,
    untrusted, damaged or written with another header (another kubesafe or Python)."""
    import marshal

    content = read_private(path)
    if content is None:
        return {}
    try:
        payload = marshal.loads(content)
    except (EOFError, ValueError, TypeError):
        return {}
    valid = isinstance(payload, tuple) and len(payload) == 2 and payload[0] == header
    if valid and isinstance(payload[1], dict):
        table: dict[Any, Any] = payload[1]
        return table
    return {}


def write_private(path: str, payload: bytes) -> bool:
    """Atomically replace ``path`` with a 0600 file; False (and nothing left) on failure."""
    import time

    temporary = f"{path}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    try:
        ensure_private_dir(os.path.dirname(path))
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(temporary, path)
        return True
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return False
