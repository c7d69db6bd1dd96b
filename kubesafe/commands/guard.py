"""``kubesafe guard status``: this terminal's guard, the contexts it covers, open lifts."""

from __future__ import annotations

import os
from collections.abc import Mapping


def status_lines(env: Mapping[str, str]) -> list[str]:
    from kubesafe.guard.lifts import LiftBook
    from kubesafe.guard.terminal import load_terminal, running
    from kubesafe.shell.session import active_session, guard_dir

    session = active_session(env)
    if session is None:
        return ["No guard: this shell has no kubesafe integration (kubesafe init)."]
    directory = guard_dir(session)
    guard = load_terminal(directory)
    if guard is None or not guard.contexts:
        return ["No guard in this terminal: no context here is protected (or the guard is off)."]
    pid = running(directory)
    state = f"running (pid {pid})" if pid else "not running (it starts again at the next prompt)"
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


def status(env: Mapping[str, str]) -> str:
    return "\n".join(status_lines(env))
