"""``kubesafe doctor``: is this terminal's API guard covering what the policy protects?"""

from __future__ import annotations

from collections.abc import Mapping

from kubesafe.doctor.check import FAIL, OK, WARN, Check


def guard_check(env: Mapping[str, str]) -> Check:
    from kubesafe.guard.terminal import guarded_contexts, load_terminal, running, serving
    from kubesafe.shell.session import active_session, guard_dir

    session = active_session(env)
    if session is None:
        # The integration check already says how to load it; the guard comes with it.
        return Check(
            "guard",
            OK,
            "no API guard in this shell (it comes with the shell integration): only kubectl "
            "and helm run through kubesafe are guarded here",
        )
    directory = guard_dir(session)
    guard = load_terminal(directory)
    if guard is None or not guard.contexts:
        return Check("guard", OK, "no guard needed in this terminal: no context is guarded here")
    real_env = {**env, "KUBECONFIG": guard.kubeconfig}
    missing = sorted(set(guarded_contexts(real_env) or ()) - set(guard.contexts))
    pid = running(directory)
    names = ", ".join(sorted(guard.contexts))
    if pid is None:
        return Check(
            "guard",
            FAIL,
            f"the guard for {names} is not running: clients other than kubesafe get "
            "connection errors (never the real server) until the next prompt starts it",
            detail=(f"log: {directory}/guard.log",),
            fix=("press Enter at the prompt, then: kubesafe guard status",),
        )
    if serving(directory) is None:
        return Check(
            "guard",
            WARN,
            f"the guard's keeper runs (pid {pid}) but no guard serves {names} yet: it is "
            "starting, or failing to start (clients wait, then are closed)",
            detail=(f"log: {directory}/guard.log",),
            fix=("kubesafe guard status; if it stays so, read the log",),
        )
    if missing:
        return Check(
            "guard",
            WARN,
            f"protected since the last prompt, not yet guarded here: {', '.join(missing)}",
            fix=("press Enter: the next prompt sends them through the guard",),
        )
    return Check("guard", OK, f"the guard runs (pid {pid}) for {names}")
