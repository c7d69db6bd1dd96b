"""The hot path: ``kubesafe kubectl ARGS`` (or kubesafe invoked as ``kubectl``).

argv -> plan (target, class, decision) -> [ask on the terminal] -> exec kubectl
with the arguments untouched. Stdlib only and no YAML on a warm cache: this
runs before every kubectl command and every TAB.
"""

from __future__ import annotations

import os
import sys

from kubesafe.kubectl.locate import (
    DEPTH_VARIABLE,
    NO_KUBECTL,
    LocateError,
    next_depth,
    pinned_kubectl,
)

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Protocol

    from kubesafe.confirm import Question
    from kubesafe.kubeconfig.resolve import Target
    from kubesafe.kubectl.args import ParsedArgs
    from kubesafe.kubectl.classify import Classification
    from kubesafe.kubectl.plan import Plan
    from kubesafe.policy import Protection

    class Judged(Protocol):
        """What the confirmation path needs from a kubectl Plan or a helm HelmPlan."""

        @property
        def argv(self) -> tuple[str, ...]: ...
        @property
        def classification(self) -> Classification: ...
        @property
        def targets(self) -> tuple[Target, ...]: ...
        @property
        def target(self) -> Target | None: ...
        @property
        def guarded(self) -> Target | None: ...
        @property
        def protection(self) -> Protection: ...
        @property
        def level(self) -> str: ...
        @property
        def decision(self) -> str: ...
        @property
        def decision_reason(self) -> str: ...
        @property
        def overridable(self) -> bool: ...


EXIT_ERROR = 1
# kubesafe refused or the user declined; distinct from kubectl's own failures.
EXIT_REFUSED = 3
EXIT_NOT_FOUND = 127
CONFIRM_VARIABLE = "KUBESAFE_CONFIRM"

# --kube-token is helm's bearer token flag.
_SECRET_FLAGS = ("--token", "--password", "--kube-token")


def _error(message: str) -> None:
    sys.stderr.write(f"kubesafe: {message}\n")
    sys.stderr.flush()


def redact(argv: tuple[str, ...]) -> list[str]:
    """argv for the audit log, without bearer tokens or passwords."""
    redacted: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            redacted.append("REDACTED")
            hide_next = False
            continue
        if arg == "--":
            redacted.append(arg)
            hide_next = False
            continue
        name, eq, _ = arg.partition("=")
        normalized = name.replace("_", "-")
        if normalized in _SECRET_FLAGS:
            redacted.append(f"{name}=REDACTED" if eq else arg)
            hide_next = not eq
            continue
        redacted.append(arg)
    return redacted


def _audit(
    plan: Judged, decision: str, reason: str, extra: Mapping[str, object] | None = None
) -> None:
    """``extra``: more fields for the entry (helm adds program, release and chart)."""
    from kubesafe.audit import record

    target = plan.guarded or plan.target
    problem = record(
        {
            **(extra or {}),
            "decision": decision,
            "reason": reason,
            "context": target.context if target else None,
            "cluster": target.cluster if target else None,
            "server": target.server if target else None,
            "namespace": target.namespace if target else None,
            "environment": plan.protection.environment,
            "level": plan.level,
            "class": plan.classification.category,
            "argv": redact(plan.argv),
        }
    )
    if problem:
        _error(problem)


class Shown:
    """A preview as the confirmation path takes it: text, and the level it asks for."""

    __slots__ = ("level", "objects", "reasons", "summary", "text")

    def __init__(
        self,
        text: str,
        level: str | None = None,
        reasons: tuple[str, ...] = (),
        summary: dict[str, object] | None = None,
        objects: tuple[str, ...] = (),
    ) -> None:
        self.text = text
        # Every object the preview found the write reaching (kind/namespace/name).
        self.objects = objects
        # The level the blast radius raises the question to (None: unchanged).
        self.level = level
        self.reasons = reasons
        # What the audit log records of the preview.
        self.summary = summary


def _approve(
    plan: Judged,
    env: Mapping[str, str],
    program: str = "kubectl",
    details: tuple[tuple[str, str], ...] = (),
    preview: Callable[[], str | Shown] | None = None,
) -> tuple[bool, str]:
    """Whether a protected write may go ahead; audits the outcome.

    ``details``: extra banner rows (helm: release, chart). ``preview``: text (or a
    ``Shown``, which may raise the level) shown on the terminal before the
    question, computed only when there is one to ask.
    """
    from kubesafe.kubectl.plan import BLOCK, approval_label

    extra: dict[str, object] | None = (
        {"program": program, **dict(details)} if program != "kubectl" else None
    )
    target = plan.guarded
    if target is None or not plan.overridable:
        # Unresolvable target, broken policy, unparseable argv: no override helps.
        _audit(plan, "refused", plan.decision_reason, extra)
        return False, f"refusing to run {program}: {plan.decision_reason}"
    label = approval_label(target, plan.protection)
    from kubesafe.agents import agent_marker

    agent = agent_marker(env)
    if agent is not None:
        # An agent can type an answer into a pseudo-terminal or set the override.
        _audit(plan, "refused", f"coding agent session ({agent})", extra)
        return False, (
            f"refusing a {plan.classification.category} command on "
            f"{plan.protection.environment} target {label!r}: this session shows a coding agent "
            f"({agent}), and an agent can answer a confirmation. Run it from your own terminal"
        )
    override = env.get(CONFIRM_VARIABLE, "")
    if override and override == label and len(plan.targets) == 1:
        _audit(plan, "allowed", f"{CONFIRM_VARIABLE}={label}", extra)
        return True, ""
    if plan.decision == BLOCK:
        _audit(plan, "refused", plan.decision_reason, extra)
        return False, (
            f"refusing to run {program}: {plan.decision_reason}. "
            f"Only {CONFIRM_VARIABLE}={label} lets this through."
        )
    from kubesafe.confirm import Question, ask, open_terminal

    terminal = open_terminal()
    if terminal is None:
        _audit(plan, "refused", "no terminal to confirm on", extra)
        return False, (
            f"refusing a {plan.classification.category} command on "
            f"{plan.protection.environment} target {label!r} without a terminal to confirm on. "
            "To approve writes to this "
            f"context only, set {CONFIRM_VARIABLE}={label}"
        )
    question = Question(
        environment=plan.protection.environment or "protected",
        context=target.context,
        cluster=target.cluster,
        server=target.server,
        namespace=target.namespace,
        argv=plan.argv,
        category=plan.classification.category,
        reason=plan.classification.reason,
        level=plan.level,
        label=label,
        alternatives=tuple(
            f"{t.context or t.server} ns {t.namespace}" for t in plan.targets if t != target
        ),
        program=program,
        details=details,
    )
    level = plan.level
    reasons: tuple[str, ...] = ()
    try:
        if preview is not None:
            shown = preview()
            shown = shown if isinstance(shown, Shown) else Shown(shown)
            terminal.write(shown.text)
            if shown.summary is not None:
                extra = {**(extra or {}), "preview": shown.summary}
            if shown.level is not None and shown.level != level:
                from dataclasses import replace

                level, reasons = shown.level, shown.reasons
                question = replace(question, level=level)
                terminal.write("".join(f"Asking harder: {why}\n" for why in reasons))
        approved = level != BLOCK and ask(terminal, question, env)
    finally:
        terminal.close()
    if level == BLOCK:
        _audit(plan, "refused", f"blast radius: {'; '.join(reasons)}", extra)
        return False, (
            f"refusing to run {program}: the policy blocks a write this big. "
            f"Only {CONFIRM_VARIABLE}={label} lets this through."
        )
    _audit(plan, "confirmed" if approved else "declined", f"asked ({level})", extra)
    return approved, "" if approved else _not_confirmed(question, program)


def _not_confirmed(question: Question, program: str) -> str:
    if question.level == "typed":
        return (
            f"not confirmed: the answer had to be {question.label!r}, typed exactly; "
            f"{program} was not run"
        )
    return f"not confirmed: only y or yes proceeds; {program} was not run"


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
    from kubesafe.kubectl.plan import ALLOW, make_plan

    plan = make_plan(argv, environment, parsed=parsed)
    if plan.decision != ALLOW:
        lifted = open_lift_reason(plan, environment)
        if lifted is not None:
            _audit(plan, "allowed", f"lift open in this terminal ({lifted or 'no reason given'})")
        else:
            approved, message = _approve(
                plan, environment, preview=lambda: blast_preview(plan, environment)
            )
            if not approved:
                _error(message)
                return EXIT_REFUSED
    elif plan.classification.mutating and plan.protection.protected:
        _audit(plan, "allowed", plan.decision_reason)
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
    from kubesafe.kubectl.plan import BLOCK

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
    from kubesafe.kubectl.escalate import escalate, settings
    from kubesafe.kubectl.preview import preview

    rules = settings(plan.policy.blast if plan.policy is not None else {})
    reading = plan.parsed.primary
    kubectl = _ensure_kubectl(plan, env)
    target = plan.guarded or plan.target
    if kubectl is None or target is None:
        level, reasons = escalate(plan.level, reading, None, rules)
        return Shown("Preview unavailable: no kubectl to read with\n", level, reasons)
    result = preview(reading, plan.parsed.argv, kubectl, env, target.namespace, rules["timeout"])
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
    from kubesafe.kubectl.classify import LOCAL, classify

    readings = parsed.readings
    if any(classify(reading).category != LOCAL for reading in readings):
        return None
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


def exec_kubectl(
    binary: str, argv: list[str], env: dict[str, str], program: str = "kubectl"
) -> int:
    """Become kubectl (POSIX) or run it as a child with the same exit status (Windows)."""
    args = [program, *argv]
    if os.name != "nt":
        try:
            os.execve(binary, args, env)
        except OSError as exc:
            _error(f"cannot run {binary}: {exc.strerror or exc}")
            return EXIT_NOT_FOUND
    return _run_child(binary, args, env)


def _run_child(binary: str, args: list[str], env: dict[str, str]) -> int:
    import signal
    import subprocess

    # Ctrl+C reaches every process on the console; kubectl handles it, and the
    # parent only waits so that it can return kubectl's exit status.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process = subprocess.Popen(args, executable=binary, env=env)
        return process.wait()
    except OSError as exc:
        _error(f"cannot run {binary}: {exc.strerror or exc}")
        return EXIT_NOT_FOUND
    finally:
        signal.signal(signal.SIGINT, previous)
