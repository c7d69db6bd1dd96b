"""Does the policy parse, and which contexts does it protect, at what level?"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from kubesafe.doctor.check import FAIL, OK, WARN, Check
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubeconfig.resolve import Merged, Overrides, ResolveError, resolve_merged
from kubesafe.level_words import levels_words
from kubesafe.policy import Policy, endpoint_rules, load_policy, protection
from kubesafe.verdict import approval_label


def protected_contexts(policy: Policy, merged: Merged, env: Mapping[str, str]) -> list[str]:
    """``name: environment (writes L, destructive L)`` for each protected context."""
    lines = []
    for name in sorted(merged.contexts):
        try:
            target = resolve_merged(merged, Overrides(context=name), env)
        except ResolveError:
            continue
        endpoints = endpoint_rules(policy, merged, target)
        levels = [
            protection(
                policy,
                target,
                mutating=True,
                destructive=destructive,
                namespaces=None,
                endpoints=endpoints,
            )
            for destructive in (False, True)
        ]
        if not levels[1].protected:
            continue
        deciding = levels[1].deciding
        scope = ""
        if deciding is not None and deciding.namespaces:
            scope = f" (only in namespaces {', '.join(deciding.namespaces)})"
        words = levels_words(levels[0].level, levels[1].level, approval_label(target, levels[1]))
        lines.append(f"{name}: {levels[1].environment}, {words}{scope}")
    return lines


def policy_check(env: Mapping[str, str], merged: Merged | None) -> Check:
    policy = load_policy(env, FileIndex())
    if policy.error is not None:
        line = re.search(r"\bline (\d+)\b", policy.error)
        where = f" at line {line.group(1)}" if line else ""
        return Check(
            "policy",
            FAIL,
            f"{policy.error}",
            subject=policy.path,
            detail=("while it is broken kubesafe refuses every write (reads still work)",),
            fix=(f"edit {policy.path}{where}, then check it with: kubesafe policy",),
        )
    origin = policy.path if os.path.exists(policy.path) else f"{policy.path} (none yet)"
    if merged is None:
        return Check(
            "policy",
            WARN,
            f"the policy {origin} parses; protected contexts unknown (kubeconfig broken)",
            subject=policy.path,
        )
    protected = protected_contexts(policy, merged, env)
    if not protected:
        example = sorted(merged.contexts)[0] if merged.contexts else "CONTEXT"
        return Check(
            "policy",
            WARN,
            f"the policy {origin} parses, but it protects none of your "
            f"{len(merged.contexts)} contexts",
            subject=policy.path,
            fix=(f"kubesafe protect {example}",),
        )
    return Check(
        "policy",
        OK,
        f"the policy {origin} parses and protects {len(protected)} of "
        f"{len(merged.contexts)} contexts",
        subject=policy.path,
        detail=tuple(protected),
    )
