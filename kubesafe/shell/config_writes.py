"""Keep ``kubectl config`` from writing new entries into a terminal's own file.

kubectl writes a new cluster, user or context to the first existing file in
``KUBECONFIG``, which in an integrated terminal is the terminal's own file,
deleted when the shell exits. For those commands the shim leaves that file
out of ``KUBECONFIG``, so the entry lands where it would without kubesafe.
Changes to existing entries need nothing: kubectl writes them back to the
file that defined them, and ``use-context`` is meant to stay in the terminal.
"""

from __future__ import annotations

import os

from kubesafe.shell.names import KUBECONFIG_NAME, SESSION_VARIABLE

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from kubesafe.kubectl_args import Reading

_CREATING: dict[tuple[str, ...], str] = {
    ("config", "set-cluster"): "clusters",
    ("config", "set-credentials"): "users",
    ("config", "set-context"): "contexts",
}
_PROPERTY_EDITS = frozenset({("config", "set"), ("config", "unset")})


def _exists(kind: str, name: str, env: Mapping[str, str]) -> bool:
    from kubesafe.kubeconfig import Overrides, ResolveError, load_merged

    try:
        merged = load_merged(Overrides(), env)
    except ResolveError:
        return False
    if kind == "contexts":
        return name in merged.contexts
    if kind == "clusters":
        return name in merged.clusters
    return name in merged.users


def kubeconfig_without_session(readings: Iterable[Reading], env: Mapping[str, str]) -> str | None:
    """The ``KUBECONFIG`` to run this command with, or None to leave it alone."""
    session = env.get(SESSION_VARIABLE, "")
    if not session:
        return None
    own = os.path.join(session, KUBECONFIG_NAME)
    listed = env.get("KUBECONFIG", "").split(os.pathsep)
    if listed[0] != own:
        return None
    rest = os.pathsep.join(entry for entry in listed[1:] if entry and entry != own)
    for reading in readings:
        if reading.last("kubeconfig"):
            continue
        if reading.command in _PROPERTY_EDITS:
            if reading.positionals and reading.positionals[0] != "current-context":
                return rest
            continue
        kind = _CREATING.get(reading.command)
        if kind is None or reading.flags.get("current") is not None or not reading.positionals:
            continue
        if not _exists(kind, reading.positionals[0], env):
            return rest
    return None
