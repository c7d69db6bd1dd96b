"""``kubesafe lift CONTEXT --for 15m [--reason TEXT]`` and ``--end``: time-boxed writes.

A lift opens writes to one protected context for this terminal only: its
guard forwards them (and audits each one) and the kubectl shim runs them
without asking. It needs a person: the context's name typed on the
controlling terminal. No terminal, or a session that shows a coding agent,
is refused. ``block`` rules cannot be lifted, and no lift is longer than the
policy's ``guard.max-lift`` (1h by default).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from kubesafe.commands.errors import CommandError
from kubesafe.policy_file import parse_duration


def _session(env: Mapping[str, str]) -> str:
    from kubesafe.shell.session import active_session

    session = active_session(env)
    if session is None:
        raise CommandError(
            "lifts are per terminal: run this in a terminal with the shell integration "
            '(eval "$(kubesafe init bash)")'
        )
    return session


def _format(seconds: float) -> str:
    minutes = int(-(-seconds // 60))
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def _protection_level(context: str, env: Mapping[str, str]) -> tuple[str, str, float]:
    """(level for writes anywhere on the context, deciding rule, max lift seconds)."""
    from kubesafe.kubeconfig.cache import FileIndex
    from kubesafe.kubeconfig.resolve import Overrides, ResolveError, load_merged, resolve_merged
    from kubesafe.policy import endpoint_rules, load_policy, max_lift, protection

    index = FileIndex()
    policy = load_policy(env, index)
    if policy.error is not None:
        raise CommandError(f"{policy.error}; fix it first")
    try:
        merged = load_merged(Overrides(), env, index)
        target = resolve_merged(merged, Overrides(context=context), env)
    except ResolveError as exc:
        raise CommandError(str(exc)) from None
    found = protection(
        policy,
        target,
        mutating=True,
        destructive=True,
        namespaces=None,
        endpoints=endpoint_rules(policy, merged, target),
    )
    rule = found.deciding.source if found.deciding else ""
    return found.level, rule, max_lift(policy)


def lift(
    context: str,
    duration: str | None,
    reason: str,
    *,
    end: bool,
    env: Mapping[str, str],
    user_guard: bool = False,
) -> str:
    """``user_guard``: the lift is for the user-level guard (``kubesafe guard kubeconfig``)."""
    from kubesafe.guard.lifts import close_lift, open_lift

    if user_guard:
        from kubesafe.guard.user_guard import USER_TERMINAL, user_guard_dir

        terminal = USER_TERMINAL
        path = os.path.join(user_guard_dir(), "lifts.json")
    else:
        from kubesafe.shell.session import guard_dir

        session = _session(env)
        terminal = os.path.basename(session)
        path = os.path.join(guard_dir(session), "lifts.json")
    if end:
        if duration is not None:
            raise CommandError("--end closes a lift; it takes no --for")
        if close_lift(path, terminal, context):
            _audit(context, "lift-ended", reason, terminal)
            return f"Lift on {context!r} ended: writes are refused again in this terminal."
        return f"No lift was open on {context!r} in this terminal."
    if duration is None:
        raise CommandError("say for how long: kubesafe lift CONTEXT --for 15m")
    try:
        seconds = parse_duration(duration)
    except ValueError:
        raise CommandError(f"--for {duration!r} is not a duration like 15m or 1h") from None
    if seconds <= 0:
        raise CommandError("--for must be more than 0")
    level, rule, longest = _protection_level(context, env)
    if level == "none":
        return f"{context!r} is not protected: writes need no lift."
    if level == "block":
        raise CommandError(
            f"{context!r} is under a block rule ({rule}): no lift opens it; "
            "change the policy if writes must be possible"
        )
    if seconds > longest:
        raise CommandError(
            f"--for {duration} is longer than the policy allows ({_format(longest)}, "
            "guard.max-lift in the policy file)"
        )
    _person_present(context, seconds, reason, terminal, env)
    opened = open_lift(path, terminal, context, seconds, reason)
    _audit(context, "lift-opened", reason, terminal, until=opened.until)
    return (
        f"Writes to {context!r} are open "
        f"{'through the user-level guard' if user_guard else 'in this terminal'} "
        f"for {_format(seconds)} "
        f"(until {time.strftime('%H:%M', time.localtime(opened.until))}). "
        f"End early: kubesafe lift {context} --end"
    )


def _person_present(
    context: str, seconds: float, reason: str, terminal: str, env: Mapping[str, str]
) -> None:
    from kubesafe.agents import agent_marker
    from kubesafe.confirm import open_terminal

    agent = agent_marker(env)
    if agent is not None:
        _audit(context, "lift-refused", f"coding agent session ({agent})", terminal)
        raise CommandError(
            f"refusing to lift {context!r}: this session shows a coding agent ({agent}), and an "
            "agent can answer a question. Run it from your own terminal"
        )
    tty = open_terminal()
    if tty is None:
        _audit(context, "lift-refused", "no terminal to confirm on", terminal)
        raise CommandError(f"refusing to lift {context!r}: no terminal to confirm on")
    try:
        tty.write(
            f"Open writes to {context!r} from this terminal for {_format(seconds)}"
            f"{f' ({reason})' if reason else ''}?\n"
            f"Every client in this terminal (kubectl, helm, k9s, scripts) may then write.\n"
            f"Type the context name to confirm: "
        )
        answer = tty.readline()
    finally:
        tty.close()
    if answer is None or answer.rstrip("\r\n") != context:
        _audit(context, "lift-refused", "the context name was not typed", terminal)
        raise CommandError(f"not confirmed: the answer had to be {context!r}, typed exactly")


def _audit(
    context: str, decision: str, reason: str, terminal: str, until: float | None = None
) -> None:
    from kubesafe.audit import record

    entry: dict[str, object] = {
        "decision": decision,
        "reason": reason,
        "context": context,
        "terminal": terminal,
        "program": "kubesafe lift",
    }
    if until is not None:
        entry["until"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until))
    problem = record(entry)
    if problem:
        raise CommandError(problem)
