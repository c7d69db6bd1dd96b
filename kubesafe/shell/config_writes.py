"""Keep ``kubectl config`` from writing new entries into a terminal's own file.

kubectl writes a new cluster, user or context to the first existing file in
``KUBECONFIG``, which in an integrated terminal is the terminal's own file,
deleted when the shell exits. For those commands the shim leaves that file
out of ``KUBECONFIG``, so the entry lands where it would without kubesafe.
Changes to existing entries need nothing: kubectl writes them back to the
file that defined them, and ``use-context`` is meant to stay in the terminal.

Renaming or deleting a context whose namespace was switched in the terminal
would reach only the terminal's copy of it (the first file that defines it),
so that copy is dropped first and kubectl acts on the real entry. Likewise
``set-context NAME --cluster/--user`` edits the real entry (the copy follows it
at the next prompt, keeping the terminal's namespace); with ``--current`` the
copy is dropped first.
"""

from __future__ import annotations

import os

from kubesafe.shell.names import KUBECONFIG_NAME, SESSION_VARIABLE

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from kubesafe.kubectl.args import Reading

_CREATING: dict[tuple[str, ...], str] = {
    ("config", "set-cluster"): "clusters",
    ("config", "set-credentials"): "users",
    ("config", "set-context"): "contexts",
}
_PROPERTY_EDITS = frozenset({("config", "set"), ("config", "unset")})
_REPLACING = frozenset({("config", "rename-context"), ("config", "delete-context")})


def _exists(kind: str, name: str, env: Mapping[str, str]) -> bool:
    from kubesafe.kubeconfig.resolve import Overrides, ResolveError, load_merged

    try:
        merged = load_merged(Overrides(), env)
    except ResolveError:
        return False
    if kind == "contexts":
        return name in merged.contexts
    if kind == "clusters":
        return name in merged.clusters
    return name in merged.users


def _shadowed(own: str, name: str) -> bool:
    from kubesafe.shell.session import SessionError, read_session_file

    try:
        return name in read_session_file(own).contexts
    except SessionError:
        return False


def _current(own: str) -> str:
    from kubesafe.shell.session import SessionError, read_session_file

    try:
        return read_session_file(own).current_context
    except SessionError:
        return ""


def _release_shadow(own: str, name: str) -> None:
    """Drop this terminal's copy of context ``name``, so kubectl edits the real one."""
    from kubesafe.shell.session import SessionError, read_session_file, write_session_file

    try:
        state = read_session_file(own)
        if state.contexts.pop(name, None) is not None:
            write_session_file(own, state)
    except SessionError:
        pass  # kubectl then reports on the file as it is


def kubeconfig_without_session(readings: Iterable[Reading], env: Mapping[str, str]) -> str | None:
    """The ``KUBECONFIG`` to run this command with, or None to leave it alone.

    For ``rename-context`` and ``delete-context`` it also drops the terminal's copy
    of the named context (its namespace choice) before kubectl runs.
    """
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
        if reading.command in _REPLACING and reading.positionals:
            _release_shadow(own, reading.positionals[0])
            continue
        if reading.command in _PROPERTY_EDITS:
            if reading.positionals and reading.positionals[0] != "current-context":
                return rest
            continue
        kind = _CREATING.get(reading.command)
        if kind is None:
            continue
        retargets = any(reading.flags.get(flag) is not None for flag in ("cluster", "user"))
        if reading.flags.get("current") is not None:
            if kind == "contexts" and retargets:
                # The current context is this terminal's: drop the copy, keep the file.
                _release_shadow(own, _current(own))
            continue
        if not reading.positionals:
            continue
        name = reading.positionals[0]
        if not _exists(kind, name, env):
            return rest
        if kind == "contexts" and retargets and _shadowed(own, name):
            return rest
    return None
