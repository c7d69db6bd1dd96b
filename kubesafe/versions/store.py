"""kubectl binaries kubesafe can run: its own verified downloads, and those on the system.

Downloads live in ``<cache dir>/kubectl/vX.Y.Z/kubectl``. System candidates are
``kubectl`` on PATH (never kubesafe's own shim) and the versioned names other
tools leave behind (``kubectl1.30``, ``kubectl.1.30``); their versions come from
running ``kubectl version --client`` once per binary (remembered by file identity).
"""

from __future__ import annotations

import os

from kubesafe import paths
from kubesafe.kubectl.locate import KUBECTL_NAME, is_self, system_kubectls
from kubesafe.record import Record
from kubesafe.versions.parse import KubeVersion, parse_git_version

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubesafe.kubeconfig.cache import FileIndex


class Candidate(Record):
    __slots__ = ("path", "source", "version")

    def __init__(self, version: KubeVersion | None, path: str, source: str) -> None:
        # None for a system binary whose version was not (or could not be) asked
        self.version = version
        self.path = path
        # "cache" (kubesafe's verified download) or "system"
        self.source = source


def store_dir() -> str:
    return os.path.join(paths.cache_dir(), "kubectl")


def cached(directory: str | None = None) -> list[Candidate]:
    """kubesafe's downloaded binaries, newest first."""
    root = directory or store_dir()
    found: list[Candidate] = []
    try:
        names = os.listdir(root)
    except OSError:
        return found
    for name in names:
        version = parse_git_version(name)
        binary = os.path.join(root, name, KUBECTL_NAME)
        if version is not None and name == version.tag and _runnable(binary):
            found.append(Candidate(version, binary, "cache"))
    found.sort(key=lambda c: c.version or (0, 0, 0), reverse=True)
    return found


def _runnable(path: str) -> bool:
    """Executable and not empty (a crash right after a download can leave it empty)."""
    try:
        return os.stat(path).st_size > 0 and os.access(path, os.X_OK)
    except OSError:
        return False


def _versioned_name(name: str) -> bool:
    if name.endswith(".exe"):
        name = name[:-4]
    for prefix in ("kubectl.", "kubectl"):
        if name.startswith(prefix):
            parts = name[len(prefix) :].split(".")
            if len(parts) in (2, 3) and all(part.isdigit() for part in parts):
                return True
    return False


def _client_version(path: str) -> str:
    """``gitVersion`` of a kubectl binary, "" when it cannot say."""
    import json
    import subprocess

    try:
        result = subprocess.run(
            [path, "version", "--client", "-o", "json"],
            capture_output=True,
            timeout=10,
            check=False,
            env={**os.environ, "KUBESAFE_DISCOVERY": "1"},
        )
        payload = json.loads(result.stdout or b"{}")
        return str(payload.get("clientVersion", {}).get("gitVersion", ""))
    except (OSError, ValueError, AttributeError, subprocess.SubprocessError):
        return ""


def binary_version(path: str, index: FileIndex) -> KubeVersion | None:
    """A kubectl binary's own version, asked once per file identity."""
    return parse_git_version(index.computed(path, "kubectl-version", _client_version))


def system(env: Mapping[str, str], index: FileIndex, *, probe: bool = True) -> list[Candidate]:
    """kubectl binaries on PATH, in PATH order; with ``probe``, with their versions."""
    paths_found: list[str] = list(system_kubectls(env))
    seen = {os.path.realpath(p) for p in paths_found}
    for directory in env.get("PATH", "").split(os.pathsep):
        try:
            names = sorted(os.listdir(directory)) if directory else []
        except OSError:
            continue
        for name in names:
            if not _versioned_name(name):
                continue
            candidate = os.path.join(directory, name)
            real = os.path.realpath(candidate)
            if real in seen or not os.access(candidate, os.X_OK) or is_self(candidate):
                continue
            seen.add(real)
            paths_found.append(candidate)
    found: list[Candidate] = []
    for path in paths_found:
        version = None
        if probe:
            version = binary_version(path, index)
        found.append(Candidate(version, path, "system"))
    return found


def any_kubectl(env: Mapping[str, str]) -> tuple[str, str] | None:
    """(path, why) for commands that involve no cluster: help, completion, config.

    The kubectl on PATH, else the newest download; never a download, never a probe.
    """
    on_path = system_kubectls(env)
    if on_path:
        return on_path[0], "no cluster involved; first real kubectl on PATH"
    downloads = cached()
    if downloads:
        return downloads[0].path, "no cluster involved; newest downloaded kubectl"
    return None
