"""``kubesafe init``, ``kubesafe prompt`` and the shell's exit hook."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from kubesafe.commands.errors import CommandError
from kubesafe.shell.session import SessionError, end_session


def init(shell: str, pid: int, env: Mapping[str, str]) -> str:
    from kubesafe.shell.scripts import init_script

    try:
        script = init_script(shell, pid, env).rstrip("\n")
    except (OSError, SessionError, ValueError) as exc:
        raise CommandError(f"cannot set up the {shell} integration: {exc}") from None
    from kubesafe.shell.session import unannounced_rescues

    for path in unannounced_rescues():
        # Another tool wrote clusters or users into a terminal's own kubeconfig; the
        # shell has exited since. Say so once, where the user will see it.
        print(
            f"kubesafe: saved entries another tool wrote for a closed terminal: {path}",
            file=sys.stderr,
        )
    return script


def prompt(state: str | None, *, global_: bool, render: str | None, env: Mapping[str, str]) -> str:
    from kubesafe.shell.prompt import compute_segment, set_prompt
    from kubesafe.shell.prompt import render as render_prompt

    if render is not None:
        return render_prompt(render, env).rstrip("\n")
    if state is None:
        segment = compute_segment(env)
        return segment.text or "(the prompt segment is off or there is no kubeconfig)"
    try:
        path = set_prompt(state == "on", env, global_=global_)
    except OSError as exc:
        raise CommandError(str(exc)) from None
    scope = "every terminal" if global_ or not env.get("KUBESAFE_SESSION") else "this terminal"
    return f"Prompt segment {state} for {scope} ({path})."


def shell_exit(session: str, env: Mapping[str, str]) -> str:
    import os

    from kubesafe.shell.session import sessions_root

    root = os.path.realpath(sessions_root(env))
    if os.path.dirname(os.path.realpath(session)) != root:
        raise CommandError(f"{session} is not a kubesafe terminal directory")
    try:
        rescued = end_session(session)
    except SessionError as exc:
        raise CommandError(str(exc)) from None
    return f"saved entries other tools wrote for this terminal to {rescued}" if rescued else ""
