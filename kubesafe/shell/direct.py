"""The kubeconfig for a kubectl that kubesafe's shim runs on a guarded context.

In a terminal with the guard, the terminal's own kubeconfig sends protected
contexts to the guard, which refuses writes. The shim has already decided
about the command (asked a person, or found a lift), so the kubectl it execs
goes to the real cluster with the real user, as before the guard: a
one-context kubeconfig put first in that kubectl's ``KUBECONFIG`` and nowhere
else. Other processes of the terminal never see it, so nothing else can ride
the decision.

Hot path: stdlib only, no json or hashlib; each file is named after the PID
that execs kubectl (kept across exec), and files of ended PIDs are removed.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubesafe.kubeconfig.resolve import Target

DIRECTORY = "direct"


def _scalar(text: str) -> str | None:
    """A YAML single-quoted scalar; None for text that cannot be one safely."""
    if any(ord(c) < 0x20 or c in "\x7f\x85\u2028\u2029\ufeff" for c in text):
        return None
    return "'" + text.replace("'", "''") + "'"


def _sweep(directory: str) -> None:
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        head = name.partition(".")[0]
        if not head.isdigit() or int(head) == os.getpid():
            continue
        try:
            os.kill(int(head), 0)
        except ProcessLookupError:
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass
        except OSError:
            pass


def direct_kubeconfig(session: str, target: Target, env: Mapping[str, str]) -> str | None:
    """The ``KUBECONFIG`` value that reaches ``target`` without the guard, or None."""
    values = [_scalar(v) for v in (target.context, target.cluster, target.user)]
    namespace = target.namespace if target.namespace_source == "context" else ""
    quoted_namespace = _scalar(namespace)
    if any(v is None for v in values) or quoted_namespace is None:
        return None
    context, cluster, user = values
    lines = [
        "# kubesafe: one kubectl's way to a guarded context, decided by the shim.\n",
        "apiVersion: v1\nkind: Config\n",
        f"current-context: {context}\n",
        f"contexts:\n- name: {context}\n  context:\n    cluster: {cluster}\n    user: {user}\n",
    ]
    if namespace:
        lines.append(f"    namespace: {quoted_namespace}\n")
    directory = os.path.join(session, DIRECTORY)
    path = os.path.join(directory, f"{os.getpid()}.yaml")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        _sweep(directory)
        temporary = f"{path}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("".join(lines))
        os.replace(temporary, path)
    except OSError:
        return None
    own = os.path.join(session, "kubeconfig")
    rest = [p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p and p != own]
    return os.pathsep.join([path, *rest])
