"""Find the real helm to run, never kubesafe itself."""

from __future__ import annotations

import os

from kubesafe.kubectl.locate import is_self

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Mapping

HELM_NAME = "helm.exe" if os.name == "nt" else "helm"
HELM_VARIABLE = "KUBESAFE_HELM"
NO_HELM = "no helm found on PATH besides kubesafe itself; install helm or set KUBESAFE_HELM"


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def locate_helm(env: Mapping[str, str]) -> tuple[str | None, str]:
    """(path of the real helm or None, where it comes from or why there is none)."""
    pinned = env.get(HELM_VARIABLE, "")
    if pinned:
        if not _executable(pinned):
            return None, f"{HELM_VARIABLE}={pinned} is not an executable file"
        if is_self(pinned):
            return None, f"{HELM_VARIABLE}={pinned} is kubesafe itself, not helm"
        return pinned, f"from {HELM_VARIABLE}"
    for directory in env.get("PATH", "").split(os.pathsep):
        if not directory:
            continue
        candidate = os.path.join(directory, HELM_NAME)
        if _executable(candidate) and not is_self(candidate):
            return candidate, "first helm on PATH"
    return None, NO_HELM
