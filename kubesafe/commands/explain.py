"""``kubesafe explain``: what the shim would do with a kubectl command line."""

from __future__ import annotations

import json
from typing import Any

from kubesafe.helm.plan import HelmPlan
from kubesafe.plan import Plan


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
        "protected": plan.protection.protected,
        "environment": plan.protection.environment,
        "level": plan.level,
        "decision": plan.decision,
        "decision_reason": plan.decision_reason,
    }


def _finish_json(plan: Plan | HelmPlan, result: dict[str, Any]) -> dict[str, Any]:
    target = plan.target
    result["ambiguous"] = plan.parsed.ambiguous
    result["uncertain_flags"] = list(plan.parsed.uncertain_flags)
    if target is not None:
        result["server_source"] = target.server_source
        result["namespace_source"] = target.namespace_source
    if len(plan.targets) > 1:
        result["alternative_targets"] = [
            {"context": t.context, "server": t.server, "namespace": t.namespace}
            for t in plan.targets[1:]
        ]
    if plan.guarded is not None and plan.decision != "allow":
        from kubesafe.plan import approval_label

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
    return json.dumps(plan_to_json(plan), indent=2, sort_keys=False)


def render_helm_json(plan: HelmPlan) -> str:
    return json.dumps(helm_plan_to_json(plan), indent=2, sort_keys=False)


def render_helm_text(plan: HelmPlan) -> str:
    data = helm_plan_to_json(plan)
    lines = _target_lines(data, "helm")
    if data["release"] is not None:
        lines.insert(1, f"release:     {data['release']}")
    if data["chart"] is not None:
        lines.insert(2 if data["release"] is not None else 1, f"chart:       {data['chart']}")
    lines.append(f"helm:        {data['helm'] or '(none)'}  ({data['helm_reason']})")
    return "\n".join(lines)


def render_text(plan: Plan) -> str:
    data = plan_to_json(plan)
    return "\n".join(_target_lines(data, "kubectl") + _kubectl_lines(data))


def _target_lines(data: dict[str, Any], program: str) -> list[str]:
    command = " ".join(data["command"]) or "(none)"
    lines = [f"command:     {program} {command}  [{data['category']}: {data['reason']}]"]
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
    for alternative in data.get("alternative_targets", []):
        lines.append(
            f"  or, if an unknown flag reads differently: context {alternative['context']!r}, "
            f"server {alternative['server']}, namespace {alternative['namespace']}"
        )
    environment = data["environment"] or "(none)"
    lines.append(
        f"protected:   {'yes' if data['protected'] else 'no'}  (environment: {environment})"
    )
    if "policy_note" in data:
        lines.append(f"policy:      {data['policy_file']}  ({data['policy_note']})")
    lines.append(f"decision:    {data['decision']}  ({data['decision_reason']})")
    return lines


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
    lines.append(f"kubectl:     {kubectl}  ({data['kubectl_reason']})")
    return lines
