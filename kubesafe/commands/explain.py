"""``kubesafe explain``: what the shim would do with a kubectl command line."""

from __future__ import annotations

from kubesafe.classification import LOCAL

TYPE_CHECKING = False  # explain runs on a cold start: no typing, helm or json for kubectl's text
if TYPE_CHECKING:
    from typing import Any

    from kubesafe.helm.plan import HelmPlan
    from kubesafe.kubectl.plan import Plan


def explain(
    args: list[str], *, as_json: bool, for_helm: bool, with_preview: bool
) -> tuple[str, bool]:
    """What ``kubesafe explain`` prints for ``args``, and whether it exits 1 (:func:`failed`).

    ``--preview`` reads the cluster for kubectl's writes; helm has no preview.
    """
    if for_helm:
        from kubesafe.helm.plan import make_helm_plan

        helm_plan = make_helm_plan(args)
        text = render_helm_json(helm_plan) if as_json else render_helm_text(helm_plan)
        return text, failed(helm_plan)
    from kubesafe.kubectl.plan import make_plan

    plan = make_plan(args)
    if with_preview:
        from kubesafe.commands.preview import explain_preview

        return explain_preview(plan, as_json), failed(plan)
    return (render_json(plan) if as_json else render_text(plan)), failed(plan)


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The stable machine-readable form of a plan (documented in docs/explain.md)."""
    result = _target_json(plan)
    result.update(
        {
            "kubectl": plan.kubectl,
            "kubectl_reason": plan.kubectl_reason,
            "kubectl_version": plan.choice.version or None,
            "kubectl_download": plan.choice.download,
            "server_version": plan.choice.server_version,
            "server_version_stale": plan.choice.stale,
            "kubectl_dependent": plan.kubectl_dependent,
        }
    )
    return _finish_json(plan, result)


def helm_plan_to_json(plan: HelmPlan) -> dict[str, Any]:
    """The same fields as for kubectl where they mean something for helm (docs/helm.md)."""
    result = _target_json(plan)
    result.update(
        {
            "release": plan.release,
            "chart": plan.chart,
            "helm": plan.helm,
            "helm_reason": plan.helm_reason,
        }
    )
    return _finish_json(plan, result)


def _target_json(plan: Plan | HelmPlan) -> dict[str, Any]:
    target = plan.target
    return {
        "context": target.context if target else None,
        "cluster": target.cluster if target else None,
        "user": target.user if target else None,
        "server": target.server if target else None,
        "namespace": target.namespace if target else None,
        "kubeconfig": list(target.kubeconfig) if target else [],
        "command": list(plan.command),
        "plugin": plan.parsed.primary.plugin,
        "category": plan.classification.category,
        "reason": plan.classification.reason,
        "mutating": plan.classification.mutating,
        # None when kubesafe cannot know: the target cannot be resolved or the policy is broken.
        "protected": None if _unknown(plan) else plan.protection.protected,
        "environment": plan.protection.environment,
        "level": plan.level,
        "decision": plan.decision,
        "decision_reason": plan.decision_reason,
    }


def _unknown(plan: Plan | HelmPlan) -> bool:
    contacts_cluster = plan.classification.category != LOCAL
    return contacts_cluster and (plan.resolve_error is not None or plan.policy_error is not None)


def _finish_json(plan: Plan | HelmPlan, result: dict[str, Any]) -> dict[str, Any]:
    target = plan.target
    result["ambiguous"] = plan.parsed.ambiguous
    result["uncertain_flags"] = list(plan.parsed.uncertain_flags)
    if target is not None:
        result["server_source"] = target.server_source
        result["namespace_source"] = target.namespace_source
        if target.guard:
            # Other clients of this terminal reach the server through its API guard.
            result["terminal_guard"] = True
    if len(plan.targets) > 1:
        result["alternative_targets"] = [
            {"context": t.context, "server": t.server, "namespace": t.namespace}
            for t in plan.targets[1:]
        ]
    if plan.guarded is not None and plan.decision != "allow":
        from kubesafe.verdict import approval_label

        result["confirm_with"] = approval_label(plan.guarded, plan.protection)
    if plan.policy_error is not None:
        result["policy_error"] = plan.policy_error
    if plan.policy is not None and plan.policy.note:
        result["policy_file"] = plan.policy.path
        result["policy_note"] = plan.policy.note
    if plan.resolve_error is not None:
        result["error"] = plan.resolve_error
    return result


def render_json(plan: Plan) -> str:
    import json

    return json.dumps(plan_to_json(plan), indent=2, sort_keys=False)


def render_helm_json(plan: HelmPlan) -> str:
    import json

    return json.dumps(helm_plan_to_json(plan), indent=2, sort_keys=False)


def render_helm_text(plan: HelmPlan) -> str:
    data = helm_plan_to_json(plan)
    details = []
    if data["release"] is not None:
        details.append(f"release:     {data['release']}")
    if data["chart"] is not None:
        details.append(f"chart:       {data['chart']}")
    lines = _target_lines(plan, data, "helm", details)
    # "binary: why" rather than brackets: reasons have brackets of their own.
    lines.append(f"helm:        {data['helm'] or '(none)'}: {data['helm_reason']}")
    return "\n".join(lines)


def render_text(plan: Plan) -> str:
    data = plan_to_json(plan)
    return "\n".join(_target_lines(plan, data, "kubectl") + _kubectl_lines(data))


def failed(plan: Plan | HelmPlan) -> bool:
    """explain exits 1 when kubesafe cannot judge: a broken kubeconfig or policy file."""
    return plan.resolve_error is not None or plan.policy_error is not None


def _target_lines(
    plan: Plan | HelmPlan, data: dict[str, Any], program: str, details: list[str] | None = None
) -> list[str]:
    lines = [
        f"command:     {_shell_join([program, *plan.argv])}",
        f"class:       {data['category']} ({data['reason']})",
        *(details or []),
    ]
    if "error" in data:
        lines.append(f"target:      cannot be resolved: {data['error']}")
    elif data["context"] is None:
        lines.append("target:      not needed (this command does not contact a cluster)")
    else:
        lines += [
            f"context:     {data['context'] or '(none)'}",
            f"cluster:     {data['cluster'] or '(none)'}",
            f"server:      {data['server']}  (from {data['server_source']})",
            f"user:        {data['user'] or '(none)'}",
            f"namespace:   {data['namespace']}  (from {data['namespace_source']})",
            f"kubeconfig:  {', '.join(data['kubeconfig']) or '(no file)'}",
        ]
        if data.get("terminal_guard"):
            lines.append(
                "guard:       other clients in this terminal reach it through the terminal's "
                "API guard; kubesafe's kubectl goes direct once it has decided"
            )
    why = (
        "a kubectl that reads kuberc differently runs"
        if data.get("kubectl_dependent")
        else "an unknown flag reads differently"
    )
    for alternative in data.get("alternative_targets", []):
        lines.append(
            f"  or, if {why}: context {alternative['context']!r}, "
            f"server {alternative['server']}, namespace {alternative['namespace']}"
        )
    if "policy_error" in data:
        lines.append(f"policy:      {data['policy_error']}")
    if data["protected"] is None:
        why = "the target cannot be resolved" if "error" in data else "the policy file is broken"
        lines.append(f"protected:   unknown: {why}")
    elif data["category"] != LOCAL:
        environment = f" ({data['environment']})" if data["environment"] else ""
        lines.append(f"protected:   {'yes' if data['protected'] else 'no'}{environment}")
    if "policy_note" in data:
        lines.append(f"policy file: {data['policy_file']}  ({data['policy_note']})")
    lines.append(f"decision:    {data['decision']}: {_decision_words(plan, data)}")
    deciding = plan.protection.deciding
    if plan.overridable and deciding is not None:
        lines.append(f"rule:        {deciding.source}")
    return lines


# shlex.quote's safe characters (``[\\w@%+=:,./-]``, ASCII): shlex imports re, which explain
# otherwise need not load.
_SHELL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")


def _shell_join(words: list[str]) -> str:
    """``shlex.join(words)``."""
    return " ".join(
        word if word and _SHELL_SAFE.issuperset(word) else "'" + word.replace("'", "'\"'\"'") + "'"
        for word in words
    )


def _decision_words(plan: Plan | HelmPlan, data: dict[str, Any]) -> str:
    """Why, in plain words (the same order of reasons as ``plan._decide``)."""
    if not data["mutating"]:
        return "no cluster is contacted" if data["category"] == LOCAL else "reads never ask"
    if "error" in data:
        return "kubesafe cannot tell where this write goes; refused, with no override"
    if "policy_error" in data:
        return "every write is refused until the policy file is fixed; no override"
    if not plan.overridable and data["decision"] != "allow":
        return str(data["decision_reason"])
    label = data.get("confirm_with", "")
    override = (
        f"; without a terminal only KUBESAFE_CONFIRM={label} lets it through"
        if len(plan.targets) == 1
        else "; without a terminal it is refused (the target is uncertain)"
    )
    if data["decision"] == "allow":
        if data["protected"]:
            return f"{data['environment']} lets this command through unasked"
        return "the target is not protected"
    if data["decision"] == "block":
        if len(plan.targets) == 1:
            return f"refused; only KUBESAFE_CONFIRM={label} lets it through"
        return "refused (the target is uncertain, so KUBESAFE_CONFIRM cannot help)"
    if data["level"] == "typed":
        return f"asks for {label!r} to be typed on the terminal{override}"
    return f"asks y/N on the terminal{override}"


def _kubectl_lines(data: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if data["kubectl_download"]:
        kubectl = f"kubectl {data['kubectl_download']} (would be downloaded first)"
    else:
        kubectl = data["kubectl"] or "(none)"
        if data["kubectl_version"]:
            kubectl += f" {data['kubectl_version']}"
    if data["context"] is not None:
        server_version = data["server_version"] or "unknown"
        if data["server_version_stale"]:
            server_version += " (kubesafe kubectl asks the server first; the choice may change)"
        lines.append(f"version:     server {server_version}")
    lines.append(f"kubectl:     {kubectl}: {data['kubectl_reason']}")
    return lines
