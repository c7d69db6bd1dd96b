"""argv -> target -> classification -> decision: the one code path for the shim and explain.

``kubesafe explain`` prints a Plan; the shim carries it out. Keeping them on
the same function is what makes ``explain`` trustworthy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from kubesafe import kubectl_args
from kubesafe.classify import LOCAL, Classification, classify, namespaces_reached, strictest
from kubesafe.filecache import FileIndex
from kubesafe.kubeconfig import Overrides, ResolveError, Target, resolve
from kubesafe.kubectl_args import ParsedArgs, Reading
from kubesafe.locate import LocateError, find_kubectl
from kubesafe.policy import BLOCK as LEVEL_BLOCK
from kubesafe.policy import NONE, Policy, Protection, load_policy, protection

ALLOW = "allow"
CONFIRM = "confirm"
BLOCK = "block"

_CREDENTIAL_FLAGS = ("token", "username", "password", "client-certificate")


@dataclass(frozen=True)
class Plan:
    argv: tuple[str, ...]
    parsed: ParsedArgs
    classification: Classification
    # One target per distinct reading of an ambiguous argv; the first is kubectl's.
    targets: tuple[Target, ...]
    # Why the target could not be resolved (the kubeconfig, context or flags are wrong).
    resolve_error: str | None
    # The protection of the strictest (reading, target) pair.
    protection: Protection
    # The target that protection applies to (what a typed confirmation names).
    guarded: Target | None
    decision: str
    decision_reason: str
    # True when the decision comes from a protection level, so that a human (or
    # KUBESAFE_CONFIRM) may approve it; False when kubesafe cannot tell the target.
    overridable: bool
    policy_error: str | None
    kubectl: str | None
    kubectl_reason: str

    @property
    def target(self) -> Target | None:
        return self.targets[0] if self.targets else None

    @property
    def command(self) -> tuple[str, ...]:
        return self.parsed.primary.command

    @property
    def level(self) -> str:
        return self.protection.level


def overrides_from(reading: Reading) -> Overrides:
    return Overrides(
        kubeconfig=reading.last("kubeconfig") or "",
        context=reading.last("context") or "",
        cluster=reading.last("cluster") or "",
        user=reading.last("user") or "",
        server=reading.last("server") or "",
        namespace=reading.last("namespace") or "",
        credentials=any(reading.last(name) for name in _CREDENTIAL_FLAGS),
    )


def target_label(target: Target) -> str:
    """The name a user types (or sets KUBESAFE_CONFIRM to) to approve a write."""
    return target.context or target.cluster or target.server


_UNPROTECTED = Protection(None, False, NONE, ())


def _level_decision(level: str) -> str:
    if level == NONE:
        return ALLOW
    return BLOCK if level == LEVEL_BLOCK else CONFIRM


def make_plan(
    argv: list[str] | tuple[str, ...],
    env: Mapping[str, str] | None = None,
    index: FileIndex | None = None,
) -> Plan:
    environment = os.environ if env is None else env
    parsed = kubectl_args.parse(argv)
    per_reading = [classify(reading) for reading in parsed.readings]
    classification = strictest(per_reading)
    own_index = index if index is not None else FileIndex()
    targets: list[Target] = []
    resolve_error: str | None = None
    policy: Policy | None = None
    best: tuple[Protection, Target | None] = (_UNPROTECTED, None)
    try:
        if classification.category != LOCAL:
            for reading, reading_class in zip(parsed.readings, per_reading, strict=True):
                try:
                    target = resolve(overrides_from(reading), environment, own_index)
                except ResolveError as exc:
                    resolve_error = resolve_error or str(exc)
                    continue
                if target not in targets:
                    targets.append(target)
                if policy is None:
                    policy = load_policy(environment, own_index)
                found = protection(
                    policy,
                    target,
                    mutating=reading_class.mutating,
                    destructive=reading_class.destructive,
                    namespaces=namespaces_reached(reading, target.namespace),
                )
                if _outranks(found, best[0]):
                    best = (found, target)
    finally:
        if index is None:
            own_index.save()
    decision, reason, overridable = _decide(classification, resolve_error, parsed, policy, best[0])
    try:
        kubectl, kubectl_reason = find_kubectl(environment)
    except LocateError as exc:
        kubectl, kubectl_reason = None, str(exc)
    return Plan(
        argv=tuple(argv),
        parsed=parsed,
        classification=classification,
        targets=tuple(targets),
        resolve_error=resolve_error,
        protection=best[0],
        guarded=best[1],
        decision=decision,
        decision_reason=reason,
        overridable=overridable and best[1] is not None,
        policy_error=policy.error if policy else None,
        kubectl=kubectl,
        kubectl_reason=kubectl_reason,
    )


_RANK = {"none": 0, "confirm": 1, "typed": 2, "block": 3}


def _outranks(candidate: Protection, current: Protection) -> bool:
    if _RANK[candidate.level] != _RANK[current.level]:
        return _RANK[candidate.level] > _RANK[current.level]
    return candidate.protected and not current.protected


def _decide(
    classification: Classification,
    resolve_error: str | None,
    parsed: ParsedArgs,
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
    if not parsed.exhaustive:
        unknown = " ".join(parsed.uncertain_flags)
        reason = f"too many flags kubesafe does not know ({unknown}) to tell where this goes"
        return BLOCK, reason, False
    decision = _level_decision(found.level)
    if decision == ALLOW:
        protected = "protected target allows it" if found.protected else "target is not protected"
        return ALLOW, f"{what}; {protected}", False
    source = found.deciding.source if found.deciding else "policy"
    environment = found.environment or "protected"
    return decision, f"{what}; {environment} target, level {found.level} (rule: {source})", True
