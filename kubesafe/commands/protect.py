"""``kubesafe protect`` / ``unprotect`` / ``policy``: edit and show protection rules."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from kubesafe import protected_endpoints
from kubesafe.commands.errors import CommandError as CommandError
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubeconfig.resolve import (
    Merged,
    Overrides,
    ResolveError,
    Target,
    load_merged,
    resolve_merged,
)
from kubesafe.level_words import levels_words
from kubesafe.policy import (
    DEFAULT_ENVIRONMENT,
    Policy,
    Rule,
    all_rules,
    endpoint_rules,
    load_policy,
    protection,
    rule_levels,
)
from kubesafe.policy_file import (
    PolicyError,
    RuleTuple,
    add_rule,
    read_rules,
    remove_rules,
    rule_fields,
)


@dataclass(frozen=True)
class RuleReport:
    rule: Rule
    write_level: str
    destructive_level: str
    contexts: tuple[str, ...]


def _typed_name(kind: str, pattern: str) -> str:
    """The name a typed confirmation wants, when the pattern names one context."""
    return pattern if kind == "context" and not any(c in pattern for c in "*?[") else ""


def _same_rule(
    rules: tuple[RuleTuple, ...], wanted: Rule
) -> tuple[RuleTuple | None, list[RuleTuple]]:
    """The rule in the file identical to ``wanted``, and the others on the same pattern."""
    same = None
    others = []
    for rule in rules:
        kind, pattern, environment, level, namespaces = rule[:5]
        if (kind, pattern) != (wanted.kind, wanted.pattern):
            continue
        identical = (
            (environment or DEFAULT_ENVIRONMENT) == wanted.environment
            and level == wanted.level
            and set(namespaces) == set(wanted.namespaces)
        )
        if identical and same is None:
            same = rule
        else:
            others.append(rule)
    return same, others


def protect(
    pattern: str,
    *,
    environment: str,
    level: str,
    server: bool,
    regex: bool,
    namespaces: tuple[str, ...],
    env: Mapping[str, str],
) -> str:
    """Add a rule, unless the very same rule is already there (then nothing changes)."""
    kind = "server" if server else ("context-regex" if regex else "context")
    path = _file_in_use(env)
    rule = Rule(kind, pattern, environment or DEFAULT_ENVIRONMENT, level, namespaces, path)
    try:
        same, others = _same_rule(read_rules(path), rule)
        if same is None:
            add_rule(path, rule_fields(kind, pattern, environment, level, namespaces))
    except PolicyError as exc:
        raise CommandError(f"policy file {path}: {exc}; fix it before adding rules") from None
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    index = FileIndex()
    policy = load_policy(env, index)
    try:
        protected_endpoints.refresh(policy, load_merged(Overrides(), env, index), index)
    except ResolveError:
        pass  # nothing to remember from a kubeconfig that does not load
    rule = Rule(kind, pattern, environment or DEFAULT_ENVIRONMENT, level, namespaces, path)
    write, destructive = rule_levels(policy, rule)
    scope = f" in namespaces {', '.join(namespaces)}" if namespaces else ""
    what = f"{kind} {pattern!r}{scope}"
    levels = levels_words(write, destructive, _typed_name(kind, pattern))
    if same is not None:
        message = (
            f"Already protected: {what} as {rule.environment}, {levels} "
            f"(rule at {path}:{same[5]}); nothing changed"
        )
    else:
        message = f"Protected {what} as {rule.environment}: {levels} (rule in {path})"
    if others:
        lines = ", ".join(str(other[5]) for other in others)
        message += (
            f". Other rules for {pattern!r} (line {lines}) apply too; the strictest level wins"
        )
    return message


def _file_in_use(env: Mapping[str, str]) -> str:
    """The file to edit: the one load_policy uses, so that a rule added where
    XDG_CONFIG_HOME points now cannot shadow the rules kubesafe falls back to."""
    return load_policy(env, FileIndex()).path


def unprotect(pattern: str, env: Mapping[str, str]) -> str:
    path = _file_in_use(env)
    try:
        removed = remove_rules(path, pattern)
    except PolicyError as exc:
        raise CommandError(f"policy file {path}: {exc}; fix it by hand") from None
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    if removed:
        return f"Removed {removed} rule{'s' if removed > 1 else ''} for {pattern!r} from {path}"
    hint = ""
    try:
        merged = load_merged(Overrides(), env)
        if pattern in merged.contexts and merged.contexts[pattern][3] is not None:
            source = merged.context_files.get(pattern, "the kubeconfig")
            hint = (
                f"; context {pattern!r} is tagged by a kubesafe extension in {source}, "
                "which only that file's owner can change"
            )
    except ResolveError:
        pass
    raise CommandError(f"no rule for {pattern!r} in {path}{hint}")


def _context_targets(env: Mapping[str, str]) -> tuple[list[Target], Policy, Merged]:
    index = FileIndex()
    try:
        merged = load_merged(Overrides(), env, index)
    except ResolveError as exc:
        raise CommandError(str(exc)) from None
    targets = []
    for name in sorted(merged.contexts):
        try:
            targets.append(resolve_merged(merged, Overrides(context=name), env))
        except ResolveError:
            continue
    policy = load_policy(env, index)
    index.save()
    return targets, policy, merged


def rule_reports(env: Mapping[str, str]) -> tuple[list[RuleReport], Policy]:
    targets, policy, merged = _context_targets(env)
    reports: dict[Rule, list[str]] = {rule: [] for rule in policy.rules}
    for target in targets:
        endpoints = endpoint_rules(policy, merged, target)
        found = protection(
            policy, target, mutating=True, destructive=True, namespaces=None, endpoints=endpoints
        )
        for rule in found.rules:
            if rule.kind == "endpoint":
                # Shown under the rule it was carried over from.
                origin = next((r for r in reports if rule.source.startswith(r.source)), None)
                if origin is not None:
                    reports[origin].append(f"{target.context} (same endpoint)")
                continue
            reports.setdefault(rule, []).append(target.context)
        for rule in all_rules(policy, target):
            reports.setdefault(rule, [])
    result = []
    for rule, contexts in reports.items():
        write, destructive = rule_levels(policy, rule)
        result.append(RuleReport(rule, write, destructive, tuple(dict.fromkeys(contexts))))
    return result, policy


def render_policy(env: Mapping[str, str]) -> str:
    broken = load_policy(env, FileIndex()).error
    if broken:
        # Nothing in the file counts while it is broken: no rule listing, one message.
        raise CommandError(
            f"{broken}. While it is broken, kubesafe refuses every write "
            "(reads still work); fix it, then run kubesafe policy again"
        )
    reports, policy = rule_reports(env)
    lines = [f"policy file: {policy.path}" + ("" if os.path.exists(policy.path) else " (none yet)")]
    if policy.note:
        lines.append(f"  ({policy.note})")
    if not reports:
        lines.append("No rules: nothing is protected. Try: kubesafe protect prod")
    for report in reports:
        rule = report.rule
        scope = f" namespaces {', '.join(rule.namespaces)}" if rule.namespaces else ""
        levels = levels_words(
            report.write_level, report.destructive_level, _typed_name(rule.kind, rule.pattern)
        )
        lines.append(f"- {rule.kind} {rule.pattern!r}{scope}: {rule.environment}, {levels}")
        lines.append(f"    from:     {rule.source}")
        matched = (
            ", ".join(report.contexts) if report.contexts else "(no context in the kubeconfig)"
        )
        lines.append(f"    contexts: {matched}")
    return "\n".join(lines)
