"""The policy decision for a write arriving at the guard.

The same ``kubesafe.policy`` that drives the shim decides here, on the
target the context resolves to in the user's real kubeconfig files (the
terminal's own file, which points protected contexts at the guard, is never
among them). Namespace rules get the namespace from the request path. The
policy and kubeconfig files are re-read when they change (checked at most
once per ``RECHECK_SECONDS``), so a rule added while the guard runs applies.

A write is forwarded when its level is ``none`` (a rule protects the target
only for other namespaces, say) or when a lift is open for the context in
this terminal and the level is not ``block``. Anything the guard cannot work
out (an unresolvable context, a broken policy file) refuses writes.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass

from kubesafe.guard.access import Access
from kubesafe.guard.lifts import Lift, LiftBook
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubeconfig.resolve import Overrides, ResolveError, Target, load_merged, resolve_merged
from kubesafe.policy import BLOCK, NONE, Policy, Rule, endpoint_rules, load_policy, protection
from kubesafe.policy_file import policy_path

RECHECK_SECONDS = 1.0
DEFAULT_LIFT = "15m"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    message: str
    # The lift a write goes through under (audited), None otherwise.
    lift: Lift | None = None
    rule: str = ""


def lift_command(context: str) -> str:
    return f"kubesafe lift {shlex.quote(context)} --for {DEFAULT_LIFT}"


@dataclass(frozen=True)
class _Resolved:
    target: Target | None
    endpoints: tuple[Rule, ...]
    error: str | None


class Gate:
    """Decides writes for the contexts of one guard."""

    def __init__(self, env: Mapping[str, str], lifts: LiftBook) -> None:
        # ``env`` carries KUBECONFIG (the real files) and KUBESAFE_CONFIG.
        self.env = dict(env)
        self.lifts = lifts
        self._index = FileIndex()
        self._checked = 0.0
        self._signature: tuple[object, ...] | None = None
        self._policy: Policy | None = None
        self._targets: dict[str, _Resolved] = {}

    def _files(self) -> list[str]:
        listed = self.env.get("KUBECONFIG", "")
        return [policy_path(self.env), *(p for p in listed.split(os.pathsep) if p)]

    def _current_signature(self) -> tuple[object, ...]:
        signature: list[object] = []
        for path in self._files():
            try:
                st = os.stat(path)
                signature.append((path, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
            except OSError:
                signature.append((path, None))
        return tuple(signature)

    def _refresh(self) -> Policy:
        now = time.monotonic()
        if self._policy is not None and now - self._checked < RECHECK_SECONDS:
            return self._policy
        self._checked = now
        signature = self._current_signature()
        if self._policy is None or signature != self._signature:
            self._signature = signature
            self._policy = load_policy(self.env, self._index)
            self._targets = {}
        return self._policy

    def _resolve(self, context: str, policy: Policy) -> _Resolved:
        cached = self._targets.get(context)
        if cached is not None:
            return cached
        overrides = Overrides(context=context)
        try:
            merged = load_merged(overrides, self.env, self._index)
            target = resolve_merged(merged, overrides, self.env)
            resolved = _Resolved(target, endpoint_rules(policy, merged, target), None)
        except ResolveError as exc:
            resolved = _Resolved(None, (), str(exc))
        self._targets[context] = resolved
        return resolved

    def decide(self, context: str, access: Access, what: str) -> Verdict:
        """``what`` names the request in messages ("POST .../configmaps")."""
        if not access.mutating:
            return Verdict(True, access.reason)
        policy = self._refresh()
        refused = f"kubesafe guard refused {what} on context {context!r}"
        if policy.error is not None:
            message = f"{refused}: {policy.error}; writes are refused until it is fixed"
            return Verdict(False, message)
        resolved = self._resolve(context, policy)
        if resolved.target is None:
            return Verdict(False, f"{refused}: cannot tell where it goes: {resolved.error}")
        found = protection(
            policy,
            resolved.target,
            mutating=True,
            destructive=access.category == "destructive",
            namespaces=None if access.namespace is None else (access.namespace,),
            endpoints=resolved.endpoints,
        )
        rule = found.deciding.source if found.deciding else ""
        if found.level == NONE:
            return Verdict(True, "the policy allows it here", rule=rule)
        environment = found.environment or "protected"
        why = f"{environment} target, level {found.level} (rule: {rule})"
        if found.level == BLOCK:
            message = f"{refused}: {why}; this rule blocks every write and no lift opens it"
            return Verdict(False, message, rule=rule)
        lift = self.lifts.current(context)
        if lift is not None:
            return Verdict(True, f"lift open ({lift.reason or 'no reason given'})", lift, rule)
        return Verdict(
            False,
            f"{refused}: {why}; {access.reason}. "
            f"To allow writes from this terminal for a while, run: {lift_command(context)}",
            rule=rule,
        )
