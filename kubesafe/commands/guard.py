"""``kubesafe guard status``: this terminal's guard, the contexts it covers, open lifts."""

from __future__ import annotations

import os
from collections.abc import Mapping


def status_lines(env: Mapping[str, str]) -> list[str]:
    from kubesafe.guard.lifts import LiftBook
    from kubesafe.guard.terminal import describe, load_terminal
    from kubesafe.shell.session import active_session, guard_dir

    session = active_session(env)
    if session is None:
        return ["No guard: this shell has no kubesafe integration (kubesafe init)."]
    directory = guard_dir(session)
    guard = load_terminal(directory)
    if guard is None or not guard.contexts:
        return ["No guard in this terminal: no context here is protected (or the guard is off)."]
    state = describe(directory, "it starts again at the next prompt")
    lines = [f"Guard: {state} on https://127.0.0.1:{guard.port}, directory {directory}"]
    book = LiftBook(os.path.join(directory, "lifts.json"), guard.terminal)
    for name in sorted(guard.contexts):
        lift = book.current(name)
        opened = ""
        if lift is not None:
            minutes = int(-(-lift.remaining() // 60))
            why = f", {lift.reason}" if lift.reason else ""
            opened = f"  LIFT open, {minutes}m left{why}"
        lines.append(f"  {name}: {guard.server(name)}{opened}")
    return lines


def user_guard_lines() -> list[str]:
    from kubesafe.guard.terminal import describe, load_terminal
    from kubesafe.guard.user_guard import user_guard_dir

    directory = user_guard_dir()
    guard = load_terminal(directory)
    if guard is None:
        return []
    state = describe(directory, "kubesafe guard kubeconfig PATH")
    names = ", ".join(sorted(guard.contexts))
    return [f"User-level guard: {state} on https://127.0.0.1:{guard.port} for {names}"]


def status(env: Mapping[str, str]) -> str:
    return "\n".join(status_lines(env) + user_guard_lines())


def write_kubeconfig(path: str, env: Mapping[str, str]) -> str:
    from kubesafe.commands.errors import CommandError
    from kubesafe.guard.user_guard import UserGuardError, write_client_kubeconfig

    try:
        guard = write_client_kubeconfig(path, env)
    except (UserGuardError, OSError) as exc:
        raise CommandError(str(exc)) from None
    names = ", ".join(sorted(guard.contexts))
    return (
        f"Wrote {os.path.abspath(path)}: {names} through the user-level guard on "
        f"https://127.0.0.1:{guard.port}. Writes are refused until "
        "kubesafe lift CONTEXT --for 15m --user-guard (from a terminal)."
    )
