"""Environments, protection rules and what they demand for a command on a target.

Rules come from the policy file (``policy_file``) and from a ``kubesafe``
extension on a context or cluster inside the kubeconfig itself. A rule matches
a target by context name (glob or regex), by API server URL (glob), or by the
kubeconfig entry carrying the extension, optionally narrowed to namespaces.
Among all matching rules the strictest level wins.
"""

from __future__ import annotations

import os

from kubesafe.glob import glob_match
from kubesafe.kubeconfig.cache import FileIndex, FileReadError
from kubesafe.kubeconfig.resolve import Merged, Target
from kubesafe.policy_file import LEVELS, PolicyError, parse_policy, policy_path
from kubesafe.record import Record

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    # The namespaces a command can change (None: any), or a function that works
    # them out (it may read manifest files) called only when a rule needs them.
    Reach = tuple[str, ...] | None | Callable[[], tuple[str, ...] | None]

NONE, CONFIRM, TYPED, BLOCK = LEVELS
_RANK = {level: rank for rank, level in enumerate(LEVELS)}

PRODUCTION_NAMES = frozenset({"production", "prod"})
DEFAULT_ENVIRONMENT = "production"
# environment -> (level for writes, level for destructive commands)
PRODUCTION_DEFAULTS = (CONFIRM, TYPED)
OTHER_DEFAULTS = (NONE, CONFIRM)


class Rule(Record):
    __slots__ = ("environment", "kind", "level", "namespaces", "pattern", "source")

    def __init__(
        self,
        kind: str,
        pattern: str,
        environment: str,
        level: str,
        namespaces: tuple[str, ...],
        source: str,
    ) -> None:
        # "context", "context-regex", "server", "kubeconfig-context", "kubeconfig-cluster"
        self.kind = kind
        self.pattern = pattern
        self.environment = environment
        # "" means the environment's defaults
        self.level = level
        self.namespaces = namespaces
        self.source = source


class Policy(Record):
    """The user's config file: protection rules, plus prompt aliases and kubectl settings."""

    __slots__ = (
        "aliases",
        "blast",
        "environments",
        "error",
        "guard",
        "kubectl",
        "path",
        "rules",
    )

    def __init__(
        self,
        path: str,
        rules: tuple[Rule, ...] = (),
        environments: dict[str, dict[str, str]] | None = None,
        aliases: dict[str, str] | None = None,
        kubectl: dict[str, Any] | None = None,
        error: str | None = None,
        blast: dict[str, Any] | None = None,
        guard: dict[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.rules = rules
        self.environments = environments or {}
        self.aliases = aliases or {}
        # The ``kubectl:`` section (version selection, mirror, timeouts, pins).
        self.kubectl = kubectl or {}
        # The ``blast-radius:`` section (escalation by what a write would touch).
        self.blast = blast or {}
        # The ``guard:`` section (max-lift).
        self.guard = guard or {}
        # Set when the policy file cannot be used: writes are then refused everywhere.
        self.error = error


class Protection(Record):
    """What the policy says about one command class on one target."""

    __slots__ = ("deciding", "environment", "level", "protected", "rules")

    def __init__(
        self,
        environment: str | None,
        protected: bool,
        level: str,
        rules: tuple[Rule, ...],
        deciding: Rule | None = None,
    ) -> None:
        self.environment = environment
        self.protected = protected
        self.level = level
        self.rules = rules
        # The rule that sets ``level`` (or, for reads, the strictest one).
        self.deciding = deciding


_NORMALIZED: dict[str, str] = {}


def normalize_server(url: str) -> str:
    """Lower-case scheme and host, no trailing slash, default ports dropped.

    A user part (``https://me@host``) and a fully qualified name's final dot
    (``host.``) do not change the endpoint client-go connects to: both go too.
    Remembered per URL: judging every context (the terminal guard's start)
    compares each one's server with every other's.
    """
    found = _NORMALIZED.get(url)
    if found is None:
        if len(_NORMALIZED) > 4096:
            _NORMALIZED.clear()
        found = _NORMALIZED[url] = _normalize(url)
    return found


def _normalize(url: str) -> str:
    text = url.strip()
    scheme, separator, rest = text.partition("://")
    if not separator or not scheme:
        return text.rstrip("/")
    cut = len(rest)
    for marker in "/?#":
        index = rest.find(marker)
        if index != -1:
            cut = min(cut, index)
    authority, tail = rest[:cut].lower().rpartition("@")[2], rest[cut:]
    scheme = scheme.lower()
    host, colon, port = authority.rpartition(":")
    if not colon or "]" in port:
        host, port = authority, ""
    if (scheme, port) in (("https", "443"), ("http", "80")):
        port = ""
    host = host.rstrip(".") or host
    authority = f"{host}:{port}" if port else host
    return f"{scheme}://{authority}{tail.rstrip('/')}"


def load_policy(env: Mapping[str, str], index: FileIndex) -> Policy:
    path = policy_path(env)
    try:
        data = index.read(os.path.abspath(path), "policy", parse_policy)
    except (PolicyError, FileReadError) as exc:
        return Policy(path=path, error=f"policy file {path}: {exc}")
    if data is None:
        return Policy(path=path)
    rules = tuple(
        Rule(kind, pattern, environment or DEFAULT_ENVIRONMENT, level, namespaces, f"{path}:{line}")
        for kind, pattern, environment, level, namespaces, line, _ in data["rules"]
    )
    return Policy(
        path,
        rules,
        dict(data["environments"]),
        dict(data["aliases"]),
        dict(data["kubectl"]),
        blast=dict(data.get("blast", {})),
        guard=dict(data.get("guard", {})),
    )


def _extension_rule(extension: Any, kind: str, name: str, files: tuple[str, ...]) -> Rule | None:
    """A rule from a ``kubesafe`` extension: ``{environment, level, namespaces}``.

    A malformed extension protects at the production defaults rather than nothing.
    """
    if extension is None:
        return None
    source = f"kubeconfig extension on {kind.removeprefix('kubeconfig-')} {name!r}"
    if files:
        source += f" ({', '.join(files)})"
    if not isinstance(extension, dict):
        return Rule(kind, name, DEFAULT_ENVIRONMENT, "", (), source + " [malformed]")
    environment = extension.get("environment")
    level = extension.get("level", "")
    namespaces = extension.get("namespaces", ())
    valid = (
        (environment is None or isinstance(environment, str))
        and (level == "" or level in LEVELS)
        and isinstance(namespaces, (list, tuple))
        and all(isinstance(n, str) for n in namespaces)
    )
    if not valid:
        return Rule(kind, name, DEFAULT_ENVIRONMENT, "", (), source + " [malformed]")
    return Rule(kind, name, environment or DEFAULT_ENVIRONMENT, level, tuple(namespaces), source)


def all_rules(policy: Policy, target: Target) -> tuple[Rule, ...]:
    extra = [
        _extension_rule(
            target.context_extension, "kubeconfig-context", target.context, target.kubeconfig
        ),
        _extension_rule(
            target.cluster_extension, "kubeconfig-cluster", target.cluster, target.kubeconfig
        ),
    ]
    return policy.rules + tuple(rule for rule in extra if rule is not None)


def endpoint_rules(policy: Policy, merged: Merged, target: Target) -> tuple[Rule, ...]:
    """Protection that other contexts' rules carry over to ``target``'s endpoint.

    A rule naming the context ``prod`` must also catch ``--cluster prod``,
    ``--server <prod's URL>`` and a ``sandbox`` context that points at prod's
    cluster: whatever the path, the same API server is hit. So every context
    sharing the target's cluster or API server lends it its rules.
    """
    server = normalize_server(target.server)
    derived: list[Rule] = []
    for name, (cluster, _user, _namespace, extension) in merged.contexts.items():
        if name == target.context:
            continue
        other = merged.clusters.get(cluster, ("", None))[0]
        same_cluster = bool(cluster) and cluster == target.cluster
        if not same_cluster and (not other or normalize_server(other) != server):
            continue
        probe = Target(name, cluster, "", other, "", merged.files, extension)
        for rule in all_rules(policy, probe):
            if rule.kind in _CONTEXT_KINDS and _matches_target(rule, probe):
                source = f"{rule.source}, via context {name!r} (same endpoint)"
                derived.append(
                    Rule("endpoint", name, rule.environment, rule.level, rule.namespaces, source)
                )
    return tuple(derived)


_CONTEXT_KINDS = frozenset({"context", "context-regex", "kubeconfig-context"})


def _matches_target(rule: Rule, target: Target) -> bool:
    if rule.kind == "endpoint":
        return True  # derived for this very target by endpoint_rules
    if rule.kind == "kubeconfig-context":
        return target.context == rule.pattern
    if rule.kind == "context":
        return bool(target.context) and glob_match(rule.pattern, target.context)
    if rule.kind == "context-regex":
        import re

        return bool(target.context) and re.search(rule.pattern, target.context) is not None
    if rule.kind == "server":
        return glob_match(normalize_server(rule.pattern), normalize_server(target.server))
    # Extension rules were built for this very target.
    return True


def _matches_namespaces(rule: Rule, namespaces: tuple[str, ...] | None) -> bool:
    """``namespaces`` None means the command may reach any namespace (fail closed)."""
    if not rule.namespaces or namespaces is None:
        return True
    return any(glob_match(pattern, ns) for ns in namespaces for pattern in rule.namespaces)


def rule_levels(policy: Policy, rule: Rule) -> tuple[str, str]:
    """(level for writes, level for destructive commands) under this rule."""
    if rule.level:
        return rule.level, rule.level
    configured = policy.environments.get(rule.environment, {})
    defaults = PRODUCTION_DEFAULTS if rule.environment in PRODUCTION_NAMES else OTHER_DEFAULTS
    return configured.get("write", defaults[0]), configured.get("destructive", defaults[1])


def protection(
    policy: Policy,
    target: Target,
    *,
    mutating: bool,
    destructive: bool,
    namespaces: Reach,
    endpoints: tuple[Rule, ...] = (),
) -> Protection:
    """``endpoints``: ``endpoint_rules`` for the kubeconfig the target came from.

    ``namespaces`` is only worked out when a rule on this target is narrowed to
    namespaces, so that commands nobody narrowed a rule for read no manifests.
    """
    on_target = [
        rule for rule in (*all_rules(policy, target), *endpoints) if _matches_target(rule, target)
    ]
    reached: tuple[str, ...] | None = None
    if callable(namespaces):
        if any(rule.namespaces for rule in on_target):
            reached = namespaces()
    else:
        reached = namespaces
    matching = tuple(rule for rule in on_target if _matches_namespaces(rule, reached))
    if not matching:
        return Protection(None, False, NONE, ())
    levels = {rule: rule_levels(policy, rule) for rule in matching}
    protected = any(_RANK[level] > 0 for pair in levels.values() for level in pair)
    column = 1 if destructive else 0
    deciding = max(matching, key=lambda r: (_RANK[levels[r][column]], _RANK[levels[r][1]]))
    level = levels[deciding][column] if mutating else NONE
    return Protection(deciding.environment, protected, level, matching, deciding)


def guard_wanted(policy: Policy, found: Protection) -> bool:
    """Whether a target so protected goes through the per-terminal guard.

    Every protected target does, unless each environment protecting it says
    ``guard: off``.
    """
    if not found.protected:
        return False
    environments = {rule.environment for rule in found.rules}
    return any(policy.environments.get(name, {}).get("guard") != "off" for name in environments)


def max_lift(policy: Policy) -> float:
    """The longest lift ``kubesafe lift`` opens, in seconds."""
    from kubesafe.policy_file import DEFAULT_MAX_LIFT

    return float(policy.guard.get("max-lift", DEFAULT_MAX_LIFT))


def level_rank(level: str) -> int:
    """Order of strictness: none < confirm < typed < block."""
    return _RANK[level]
