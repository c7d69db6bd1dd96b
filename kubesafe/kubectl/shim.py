"""The hot path: ``kubesafe kubectl ARGS`` (or kubesafe invoked as ``kubectl``).

argv -> plan (target, class, decision) -> [ask on the terminal] -> exec kubectl
with the arguments untouched. Stdlib only and no YAML on a warm cache: this
runs before every kubectl command and every TAB.
"""

from __future__ import annotations

import os
import sys

from kubesafe.execute import EXIT_ERROR, EXIT_NOT_FOUND, EXIT_REFUSED, exec_kubectl
from kubesafe.execute import report as _error
from kubesafe.kubectl.locate import (
    DEPTH_VARIABLE,
    NO_KUBECTL,
    LocateError,
    next_depth,
    pinned_kubectl,
)

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubesafe.approval import Judged, Shown
    from kubesafe.kubectl.args import ParsedArgs
    from kubesafe.kubectl.plan import Plan



def run(argv: list[str], env: Mapping[str, str] | None = None) -> int:
    """Plan the kubectl call and replace this process with kubectl. Returns only on failure."""
    environment = dict(os.environ if env is None else env)
    try:
        depth = next_depth(environment)
    except LocateError as exc:
        _error(str(exc))
        return EXIT_ERROR
    from kubesafe.kubectl.args import parse

    # Parsed once here; the local fast path and the plan share the reading.
    parsed = parse(argv)
    local = _local_kubectl(argv, parsed, environment)
    if local is not None:
        environment[DEPTH_VARIABLE] = str(depth)
        return exec_kubectl(local, argv, environment)
    from kubesafe.kubectl.plan import make_plan
    from kubesafe.verdict import ALLOW

    plan = make_plan(argv, environment, parsed=parsed)
    if plan.kubectl_dependent and plan.choice.stale and plan.target is not None:
        plan = _replanned(plan, argv, environment)
    if plan.decision != ALLOW:
        lifted = open_lift_reason(plan, environment)
        if lifted is not None:
            from kubesafe.approval import audit_decision

            audit_decision(
                plan, "allowed", f"lift open in this terminal ({lifted or 'no reason given'})"
            )
        else:
            from kubesafe.approval import approve

            approved, message = approve(
                plan, environment, preview=lambda: blast_preview(plan, environment)
            )
            if not approved:
                _error(message)
                return EXIT_REFUSED
    elif plan.classification.mutating and plan.protection.protected:
        from kubesafe.approval import audit_decision

        audit_decision(plan, "allowed", plan.decision_reason)
    kubectl = _ensure_kubectl(plan, environment)
    if kubectl is None:
        return EXIT_NOT_FOUND
    _past_the_guard(plan, environment)
    environment[DEPTH_VARIABLE] = str(depth)
    return exec_kubectl(kubectl, argv, environment)


def open_lift_reason(plan: Judged, env: Mapping[str, str]) -> str | None:
    """The reason of a lift open in this terminal for the plan's target, or None.

    ``kubesafe lift`` opened it with a person present; it covers what the
    guard lets through: not ``block``, not an unresolvable target, not an
    agent session.
    """
    from kubesafe.verdict import BLOCK

    session = env.get("KUBESAFE_SESSION", "")
    target = plan.guarded
    if not session or target is None or not plan.overridable or plan.decision == BLOCK:
        return None
    if len({t.context for t in plan.targets}) != 1:
        return None
    path = os.path.join(session, "guard", "lifts.json")
    if not os.path.exists(path):
        return None
    from kubesafe.agents import agent_marker

    if agent_marker(env) is not None:
        return None
    from kubesafe.guard.lifts import LiftBook

    lift = LiftBook(path, os.path.basename(session)).current(target.context)
    return None if lift is None else lift.reason


def _past_the_guard(plan: Judged, env: dict[str, str]) -> None:
    """Let the kubectl (or helm) about to run reach a guarded target directly (decided above)."""
    session = env.get("KUBESAFE_SESSION", "")
    target = plan.target
    if not session or target is None or not target.guard:
        return
    if any(t != target for t in plan.targets):
        return  # readings disagree: leave it to the guard, which fails closed
    from kubesafe.shell.direct import direct_kubeconfig

    replacement = direct_kubeconfig(session, target, env)
    if replacement is not None:
        env["KUBECONFIG"] = replacement


def blast_preview(plan: Plan, env: dict[str, str]) -> Shown:
    """What the write will do, and the level its size asks for (slow path: a human waits)."""
    from kubesafe.approval import Shown
    from kubesafe.kubectl.escalate import escalate, settings
    from kubesafe.kubectl.preview import preview

    rules = settings(plan.policy.blast if plan.policy is not None else {})
    reading = plan.parsed.primary
    kubectl = _ensure_kubectl(plan, env)
    target = plan.guarded or plan.target
    if kubectl is None or target is None or plan.parsed.ambiguous:
        # Ambiguous: the reading the preview would use may reach another cluster than
        # the guarded one, and its dry run may not be one (see preview._with_dry_run).
        why = (
            "no kubectl to read with"
            if not plan.parsed.ambiguous
            else (
                "kubesafe reads this command line more than one way "
                f"({' '.join(plan.parsed.uncertain_flags)})"
            )
        )
        level, reasons = escalate(plan.level, reading, None, rules)
        return Shown(f"Preview unavailable: {why}\n", level, reasons, {"unavailable": why})
    try:
        result = preview(
            reading, plan.parsed.argv, kubectl, env, target.namespace, rules["timeout"]
        )
    except Exception as exc:  # whatever the server sent, the question is still asked
        message = str(exc).splitlines()[0][:120] if str(exc) else ""
        text = f"Preview unavailable: unexpected answer ({type(exc).__name__}: {message})\n"
        level, reasons = escalate(plan.level, reading, None, rules)
        return Shown(text, level, reasons, {"unavailable": text.strip()})
    level, reasons = escalate(plan.level, reading, result.blast, rules)
    objects = result.blast.refs() if result.blast is not None else ()
    return Shown(result.text, level, reasons, result.summary(), objects)


def _local_kubectl(argv: list[str], parsed: ParsedArgs, env: dict[str, str]) -> str | None:
    """Fast path for commands that contact no cluster (TAB completion above all).

    Returns the kubectl to exec, or None to go through the full plan. It picks
    exactly what ``make_plan`` would pick for such a command. A ``kubectl config``
    command that would create an entry in a terminal's own kubeconfig gets
    ``KUBECONFIG`` without that file (``env`` is changed in place).
    """
    from kubesafe.classification import LOCAL
    from kubesafe.kubectl.classify import classify

    readings = parsed.readings
    if any(classify(reading).category != LOCAL for reading in readings):
        return None
    if readings[0].command[:1] == ("help",):
        return None  # kubectl runs a kuberc alias named "help" instead: see the plan
    if argv and "config" in argv and "KUBESAFE_SESSION" in env:
        from kubesafe.shell.config_writes import kubeconfig_without_session

        replacement = kubeconfig_without_session(readings, env)
        if replacement is not None:
            env["KUBECONFIG"] = replacement
    try:
        pinned = pinned_kubectl(env)
    except LocateError:
        return None  # let the full path report it
    if pinned:
        return pinned
    from kubesafe.versions.store import any_kubectl

    found = any_kubectl(env)
    if found is None:
        _error(NO_KUBECTL)
        raise SystemExit(EXIT_NOT_FOUND)
    return found[0]


def _replanned(plan: Plan, argv: list[str], env: dict[str, str]) -> Plan:
    """Ask the server for its version now rather than after the decision (the
    shim would ask anyway): with kuberc, the kubectl that runs decides the command."""
    from kubesafe.kubeconfig.cache import FileIndex
    from kubesafe.kubectl.plan import make_plan
    from kubesafe.versions.choose import choose

    settings = plan.policy.kubectl if plan.policy is not None else {}
    index = FileIndex()
    choice = choose(plan.target, settings, env, index, discover=True)
    if choice.warning and _chatty(env):
        _error(choice.warning)
    replanned = make_plan(argv, env, index)
    index.save()
    return replanned


def _ensure_kubectl(plan: Plan, env: dict[str, str]) -> str | None:
    """The kubectl binary to exec: ask the server and download only when needed."""
    choice = plan.choice
    settings = plan.policy.kubectl if plan.policy is not None else {}
    if choice.stale and plan.target is not None:
        from kubesafe.kubeconfig.cache import FileIndex
        from kubesafe.versions.choose import choose

        index = FileIndex()
        choice = choose(plan.target, settings, env, index, discover=True)
        index.save()
        if choice.warning and _chatty(env):
            _error(choice.warning)
    if choice.path is not None:
        return choice.path
    if choice.download is None:
        _error(choice.reason)
        return None
    from kubesafe.versions.fetch import FetchError, fetch

    try:
        return fetch(choice.download, settings, env, plan.target)
    except FetchError as exc:
        _error(str(exc))
        return None


def _chatty(env: Mapping[str, str]) -> bool:
    """Fallback notices go to interactive terminals, or anywhere with KUBESAFE_VERBOSE."""
    return bool(env.get("KUBESAFE_VERBOSE")) or sys.stderr.isatty()


