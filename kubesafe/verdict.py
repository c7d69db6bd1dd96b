"""Judging the readings of one command against the policy: the decision and who may approve it.

Shared by kubectl (``kubectl/plan.py``) and helm (``helm/plan.py``): each turns its
argv into ``Case``s (a reading's overrides, class and reach), and ``judge`` resolves
every case's target, applies the policy with the protection lent across endpoints,
and decides; the strictest reading wins.
"""

from __future__ import annotations

import time

from kubesafe import protected_endpoints, reads, resolution_memo
from kubesafe.classification import LOCAL, Classification, strictest
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubeconfig.resolve import (
    Overrides,
    ResolveError,
    Target,
    load_merged,
    resolve_merged,
)
from kubesafe.policy import BLOCK as LEVEL_BLOCK
from kubesafe.policy import (
    NONE,
    Policy,
    Protection,
    Rule,
    endpoint_rules,
    level_rank,
    load_policy,
    protection,
)
from kubesafe.record import Record

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from kubesafe.kubeconfig.resolve import Merged


ALLOW = "allow"


CONFIRM = "confirm"


BLOCK = "block"


def target_label(target: Target) -> str:
    """The name a user types (or sets KUBESAFE_CONFIRM to) to approve a write."""
    return target.context or target.cluster or target.server


def approval_labels(target: Target, found: Protection) -> tuple[str, ...]:
    """The names that approve this write (typed, or in KUBESAFE_CONFIRM); the first is asked for.

    When another protected context's rule applies (``--cluster prod`` or
    ``--server <prod's URL>`` under ``dev``, a ``dev`` context on prod's cluster
    entry or CA, prod's endpoint seen in another kubeconfig), the write is
    approved only by naming a protected context lending its rule, even when
    the context used has rules of its own: protecting ``dev`` must not make
    ``KUBESAFE_CONFIRM=dev`` approve writes to prod. Only the strictest lenders count.
    A ``server`` rule on a server reached through ``--server``/``--cluster`` is
    approved by naming the server.
    """
    labels: list[str] = []
    redirected = target.server_source != "cluster" or target.cluster_source == "--cluster"
    if redirected and any(rule.kind == "server" for rule in found.rules):
        labels.append(target.server)
    # Only the strictest lenders: a weaker protected context must not approve.
    labels.extend(found.lenders)
    return tuple(dict.fromkeys(labels)) if labels else (target_label(target),)


def approval_label(target: Target, found: Protection) -> str:
    """The name asked for: the first of ``approval_labels``."""
    return approval_labels(target, found)[0]


_UNPROTECTED = Protection(None, False, NONE, ())


def _level_decision(level: str) -> str:
    if level == NONE:
        return ALLOW
    return BLOCK if level == LEVEL_BLOCK else CONFIRM


class Case(Record):
    """One reading of an argv, as the decision needs it."""

    __slots__ = ("classification", "namespaces", "overrides", "resolver")

    def __init__(
        self,
        overrides: Overrides,
        classification: Classification,
        namespaces: Callable[[str], tuple[str, ...] | None],
        resolver: Callable[[Merged, Overrides], Target] | None = None,
    ) -> None:
        self.overrides = overrides
        self.classification = classification
        # resolved namespace -> the namespaces the command can change (None: any)
        self.namespaces = namespaces
        # (merged kubeconfig, overrides) -> target; None means ``resolve_merged``.
        self.resolver = resolver


class Verdict(Record):
    """What the policy decides for every reading of one command (kubectl's or helm's)."""

    __slots__ = (
        "classification",
        "decision",
        "decision_reason",
        "guarded",
        "overridable",
        "policy",
        "protection",
        "resolve_error",
        "targets",
    )

    def __init__(
        self,
        classification: Classification,
        targets: tuple[Target, ...],
        resolve_error: str | None,
        policy: Policy | None,
        protection: Protection,
        guarded: Target | None,
        decision: str,
        decision_reason: str,
        overridable: bool,
    ) -> None:
        self.classification = classification
        self.targets = targets
        self.resolve_error = resolve_error
        self.policy = policy
        self.protection = protection
        self.guarded = guarded
        self.decision = decision
        self.decision_reason = decision_reason
        self.overridable = overridable


def judge(
    cases: list[Case],
    resolve_error: str | None,
    *,
    exhaustive: bool,
    uncertain_flags: tuple[str, ...],
    env: Mapping[str, str],
    index: FileIndex,
) -> Verdict:
    """Resolve every reading's target, apply the policy, and decide (strictest wins)."""
    classification = strictest([case.classification for case in cases])
    targets: list[Target] = []
    policy: Policy | None = None
    loaded: Policy | None = None
    policy_parsed = False
    best: tuple[Protection, Target | None] = (_UNPROTECTED, None)
    if classification.category != LOCAL:
        for case in cases:
            if loaded is None:
                misses = index.misses
                loaded = load_policy(env, index)
                policy_parsed = index.misses > misses
            try:
                resolved = _resolve(case, loaded, env, index, policy_parsed)
            except ResolveError as exc:
                resolve_error = resolve_error or str(exc)
                continue
            target = resolved.target
            if target not in targets:
                targets.append(target)
            policy = loaded
            found = protection(
                policy,
                target,
                mutating=case.classification.mutating,
                destructive=case.classification.destructive,
                namespaces=_bind(case.namespaces, target.namespace),
                endpoints=resolved.endpoints,
            )
            if resolved.merged is not None:
                if found.protected:
                    protected_endpoints.remember(policy, resolved.merged, target, index)
                resolved.keep()
            if _outranks(found, best[0]):
                best = (found, target)
    decision, reason, overridable = _decide(
        classification, resolve_error, exhaustive, uncertain_flags, policy, best[0]
    )
    return Verdict(
        classification=classification,
        targets=tuple(targets),
        resolve_error=resolve_error,
        policy=policy,
        protection=best[0],
        guarded=best[1],
        decision=decision,
        decision_reason=reason,
        overridable=overridable and best[1] is not None,
    )


class Resolved(Record):
    """A case's target and the rules lent to its endpoint, fresh or from the memo."""

    __slots__ = ("endpoints", "key", "merged", "recorded", "started", "target")

    def __init__(
        self,
        target: Target,
        endpoints: tuple[Rule, ...],
        merged: Merged | None = None,
        key: tuple[Any, ...] | None = None,
        recorded: reads.Reads | None = None,
        started: int = 0,
    ) -> None:
        self.target = target
        self.endpoints = endpoints
        # The merged kubeconfig when resolved afresh (None: answered by the memo).
        self.merged = merged
        self.key = key
        self.recorded = recorded
        self.started = started

    def keep(self) -> None:
        """Store a fresh answer in the memo (after ``remember``: its write voids the entry)."""
        if self.key is not None and self.recorded is not None:
            answer = (self.target.values(), tuple(rule.values() for rule in self.endpoints))
            resolution_memo.store(self.key, self.recorded, answer, self.started)


def _resolve(
    case: Case, policy: Policy, env: Mapping[str, str], index: FileIndex, policy_parsed: bool
) -> Resolved:
    """The case's target and endpoint rules: from the memo while its inputs hold.

    ``policy_parsed``: the policy file was parsed again for this call (the slow path).
    """
    key = resolution_memo.key_for(case.overrides, policy) if case.resolver is None else None
    # A re-parsed policy file sends the call down the slow path, whose refresh of the
    # endpoint memory reads files a fast-path answer never recorded (the default
    # kubeconfig behind --kubeconfig): with equal rules the key holds, the answer may not.
    if key is not None and not policy_parsed:
        answer = resolution_memo.lookup(key, env)
        if answer is not None:
            try:
                target_values, rule_values = answer
                target = Target.from_values(target_values)
                rules = tuple(Rule.from_values(values) for values in rule_values)
            except (TypeError, ValueError):
                pass  # an answer of another shape (another build): resolved afresh
            else:
                return Resolved(target, rules)
    recorded = reads.Reads() if key is not None else None
    started = time.time_ns()
    view: Mapping[str, str] = env
    if recorded is not None:
        view = reads.RecordingEnv(env)
        reads.start(recorded)
    try:
        misses = index.misses
        merged = load_merged(case.overrides, view, index)
        if case.resolver is None:
            target = resolve_merged(merged, case.overrides, view)
        else:
            target = case.resolver(merged, case.overrides)
        slow = policy_parsed or index.misses > misses
        if slow:
            # Slow path: a file was parsed again, so its protected contexts may be new.
            protected_endpoints.refresh(policy, merged, index)
        protected_endpoints.refresh_defaults(policy, view, index, merged.files, slow)
        endpoints = endpoint_rules(policy, merged, target, index)
    finally:
        if recorded is not None:
            reads.stop(recorded)
    return Resolved(target, endpoints, merged, key, recorded, started)


def _bind(
    reach: Callable[[str], tuple[str, ...] | None], namespace: str
) -> Callable[[], tuple[str, ...] | None]:
    return lambda: reach(namespace)


def _outranks(candidate: Protection, current: Protection) -> bool:
    if candidate.level != current.level:
        return level_rank(candidate.level) > level_rank(current.level)
    return candidate.protected and not current.protected


def _decide(
    classification: Classification,
    resolve_error: str | None,
    exhaustive: bool,
    uncertain_flags: tuple[str, ...],
    policy: Policy | None,
    found: Protection,
) -> tuple[str, str, bool]:
    what = f"{classification.category}: {classification.reason}"
    if not classification.mutating:
        return ALLOW, what, False
    if resolve_error is not None:
        return BLOCK, f"cannot tell where this write goes: {resolve_error}", False
    if policy is not None and policy.error is not None:
        return BLOCK, f"{policy.error}; writes are refused until it is fixed", False
    if not exhaustive:
        unknown = " ".join(uncertain_flags)
        reason = f"too many flags kubesafe does not know ({unknown}) to tell where this goes"
        return BLOCK, reason, False
    decision = _level_decision(found.level)
    if decision == ALLOW:
        protected = "protected target allows it" if found.protected else "target is not protected"
        return ALLOW, f"{what}; {protected}", False
    source = found.deciding.source if found.deciding else "policy"
    environment = found.environment or "protected"
    return decision, f"{what}; {environment} target, level {found.level} (rule: {source})", True
