"""``kubesafe helm ARGS`` (or kubesafe invoked as ``helm``).

argv -> plan (target, class, decision) -> [preview and ask on the terminal] ->
exec the real helm with the arguments untouched. Same environments, rules,
confirmation, ``KUBESAFE_CONFIRM`` and audit log as for kubectl.
"""

from __future__ import annotations

import os

from kubesafe.execute import EXIT_ERROR, EXIT_NOT_FOUND, EXIT_REFUSED, exec_kubectl
from kubesafe.kubectl.locate import DEPTH_VARIABLE, LocateError, next_depth

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from kubesafe.helm.plan import HelmPlan


def _error(message: str) -> None:
    import sys

    sys.stderr.write(f"kubesafe: {message}\n")
    sys.stderr.flush()


def _all_local(argv: list[str]) -> bool:
    from kubesafe.classification import LOCAL
    from kubesafe.helm.args import parse
    from kubesafe.helm.classify import classify

    return all(classify(reading).category == LOCAL for reading in parse(argv).readings)


def _details(plan: HelmPlan) -> tuple[tuple[str, str], ...]:
    rows: list[tuple[str, str]] = []
    if plan.release is not None:
        rows.append(("release", plan.release))
    if plan.chart is not None:
        rows.append(("chart", plan.chart))
    return tuple(rows)


def _preview(plan: HelmPlan, helm: str, env: Mapping[str, str]) -> Callable[[], str] | None:
    if plan.parsed.primary.command not in (("install",), ("upgrade",)):
        return None

    def show() -> str:
        from kubesafe.helm.preview import preview

        return preview(plan, helm, env)

    return show


def run(argv: list[str], env: Mapping[str, str] | None = None) -> int:
    """Plan the helm call and replace this process with helm. Returns only on failure."""
    environment = dict(os.environ if env is None else env)
    try:
        depth = next_depth(environment)
    except LocateError:
        _error("helm keeps resolving back to kubesafe; set KUBESAFE_HELM=/path/to/the/real/helm")
        return EXIT_ERROR
    if _all_local(argv):
        from kubesafe.helm.locate import locate_helm

        helm, reason = locate_helm(environment)
    else:
        from kubesafe.approval import approve, audit_decision
        from kubesafe.helm.plan import make_helm_plan
        from kubesafe.kubectl.shim import _past_the_guard, open_lift_reason
        from kubesafe.verdict import ALLOW

        plan = make_helm_plan(argv, environment)
        helm, reason = plan.helm, plan.helm_reason
        if helm is None:
            _error(reason)
            return EXIT_NOT_FOUND
        lifted = open_lift_reason(plan, environment) if plan.decision != ALLOW else None
        if lifted is not None:
            why = f"lift open in this terminal ({lifted or 'no reason given'})"
            audit_decision(plan, "allowed", why, {"program": "helm", **dict(_details(plan))})
        elif plan.decision != ALLOW:
            details = _details(plan)
            approved, message = approve(
                plan, environment, "helm", details, _preview(plan, helm, environment)
            )
            if not approved:
                _error(message)
                return EXIT_REFUSED
        elif plan.classification.mutating and plan.protection.protected:
            audit_decision(
                plan, "allowed", plan.decision_reason, {"program": "helm", **dict(_details(plan))}
            )
        _past_the_guard(plan, environment)
    if helm is None:
        _error(reason)
        return EXIT_NOT_FOUND
    environment[DEPTH_VARIABLE] = str(depth)
    return exec_kubectl(helm, argv, environment, program="helm")
