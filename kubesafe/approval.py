"""The confirmation path both guarded programs share: refuse, approve by variable, or ask.

``approve`` takes anything that looks like a ``Judged`` plan (kubectl's ``Plan``,
helm's ``HelmPlan``), audits the outcome, and asks a human on the controlling
terminal, with a preview that may raise the question's level. Slow path: the
shims import it only when a write needs a decision.
"""

from __future__ import annotations

from kubesafe.execute import report as _error

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Protocol

    from kubesafe.classification import Classification
    from kubesafe.confirm import Question
    from kubesafe.kubeconfig.resolve import Target
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


CONFIRM_VARIABLE = "KUBESAFE_CONFIRM"


# --kube-token is helm's bearer token flag.
_SECRET_FLAGS = ("--token", "--password", "--kube-token")


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


def audit_decision(
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


def approve(
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
    from kubesafe.verdict import BLOCK, approval_labels

    extra: dict[str, object] | None = (
        {"program": program, **dict(details)} if program != "kubectl" else None
    )
    target = plan.guarded
    if target is None or not plan.overridable:
        # Unresolvable target, broken policy, unparseable argv: no override helps.
        audit_decision(plan, "refused", plan.decision_reason, extra)
        return False, f"refusing to run {program}: {plan.decision_reason}"
    labels = approval_labels(target, plan.protection)
    label = labels[0]
    from kubesafe.agents import agent_marker

    agent = agent_marker(env)
    if agent is not None:
        # An agent can type an answer into a pseudo-terminal or set the override.
        audit_decision(plan, "refused", f"coding agent session ({agent})", extra)
        return False, (
            f"refusing a {plan.classification.category} command on "
            f"{plan.protection.environment} target {label!r}: this session shows a coding agent "
            f"({agent}), and an agent can answer a confirmation. Run it from your own terminal"
        )
    override = env.get(CONFIRM_VARIABLE, "")
    if override and override in labels and len(plan.targets) == 1:
        audit_decision(plan, "allowed", f"{CONFIRM_VARIABLE}={override}", extra)
        return True, ""
    if plan.decision == BLOCK:
        audit_decision(plan, "refused", plan.decision_reason, extra)
        return False, (
            f"refusing to run {program}: {plan.decision_reason}. "
            f"Only {CONFIRM_VARIABLE}={label} lets this through."
        )
    from kubesafe.confirm import Question, ask, open_terminal

    terminal = open_terminal()
    if terminal is None:
        audit_decision(plan, "refused", "no terminal to confirm on", extra)
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
            try:
                shown = preview()
            except KeyboardInterrupt:
                terminal.write("\n")
                audit_decision(plan, "declined", "interrupted during the preview", extra)
                return (
                    False,
                    f"not confirmed: interrupted during the preview; {program} was not run",
                )
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
        audit_decision(plan, "refused", f"blast radius: {'; '.join(reasons)}", extra)
        return False, (
            f"refusing to run {program}: the policy blocks a write this big. "
            f"Only {CONFIRM_VARIABLE}={label} lets this through."
        )
    audit_decision(plan, "confirmed" if approved else "declined", f"asked ({level})", extra)
    return approved, "" if approved else _not_confirmed(question, program)


def _not_confirmed(question: Question, program: str) -> str:
    if question.level == "typed":
        return (
            f"not confirmed: the answer had to be {question.label!r}, typed exactly; "
            f"{program} was not run"
        )
    return f"not confirmed: only y or yes proceeds; {program} was not run"
