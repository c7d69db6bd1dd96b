"""Find the real kubectl to run, never kubesafe itself."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Mapping

KUBECTL_NAME = "kubectl.exe" if os.name == "nt" else "kubectl"
# A kubectl that turns out to be kubesafe again (a missed self-detection) would
# exec in a loop; each shim generation increments this and gives up past the limit.
DEPTH_VARIABLE = "KUBESAFE_SHIM_DEPTH"
MAX_DEPTH = 8


class LocateError(Exception):
    """No runnable kubectl; the message says what to do."""


def _own_files() -> set[str]:
    own = {os.path.realpath(sys.argv[0])} if sys.argv and sys.argv[0] else set()
    own.add(os.path.realpath(os.path.join(os.path.dirname(sys.executable), "kubesafe")))
    return own


def _is_kubesafe_script(path: str) -> bool:
    """A console-script wrapper of kubesafe (pip writes one that imports its entry point),
    or the fast launcher that ``kubesafe init`` writes (kubesafe/fast_launch.py)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(2048)
    except OSError:
        return False
    markers = (b"kubesafe.entry", b"kubesafe.fast_launch", b"-m kubesafe")
    return head.startswith(b"#!") and any(marker in head for marker in markers)


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def is_self(path: str) -> bool:
    return os.path.realpath(path) in _own_files() or _is_kubesafe_script(path)


def system_kubectls(env: Mapping[str, str]) -> list[str]:
    """Every ``kubectl`` on PATH that is not kubesafe, in PATH order."""
    found: list[str] = []
    seen: set[str] = set()
    for directory in env.get("PATH", "").split(os.pathsep):
        if not directory:
            continue
        candidate = os.path.join(directory, KUBECTL_NAME)
        real = os.path.realpath(candidate)
        if real in seen or not _is_executable(candidate) or is_self(candidate):
            continue
        seen.add(real)
        found.append(candidate)
    return found


def pinned_kubectl(env: Mapping[str, str]) -> str | None:
    """``KUBESAFE_KUBECTL`` if set. Raises LocateError when it is not a usable kubectl."""
    pinned = env.get("KUBESAFE_KUBECTL", "")
    if not pinned:
        return None
    if not _is_executable(pinned):
        raise LocateError(f"KUBESAFE_KUBECTL={pinned} is not an executable file")
    if is_self(pinned):
        raise LocateError(f"KUBESAFE_KUBECTL={pinned} is kubesafe itself, not kubectl")
    return pinned


NO_KUBECTL = (
    "no kubectl found on PATH besides kubesafe itself; "
    "install kubectl, run 'kubesafe versions install 1.NN', or set KUBESAFE_KUBECTL"
)


def next_depth(env: Mapping[str, str]) -> int:
    """The shim generation after this one. Raises LocateError on a loop."""
    try:
        depth = int(env.get(DEPTH_VARIABLE, "0"))
    except ValueError:
        depth = 0
    if depth >= MAX_DEPTH:
        raise LocateError(
            f"kubectl keeps resolving back to kubesafe ({depth} nested calls); "
            "set KUBESAFE_KUBECTL=/path/to/the/real/kubectl"
        )
    return depth + 1
