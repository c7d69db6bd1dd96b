"""Environments, protection rules and what they demand for a command on a target.

Rules come from the policy file (``policy_file``) and from a ``kubesafe``
extension on a context or cluster inside the kubeconfig itself. A rule matches
a target by context name (glob or regex), by API server URL (glob), or by the
kubeconfig entry carrying the extension, optionally narrowed to namespaces.
Among all matching rules the strictest level wins.
"""

from __future__ import annotations

import os

from kubesafe.endpoint import Identity, canonical_urls, identity, same_cluster, url_keys
from kubesafe.glob import glob_match
from kubesafe.kubeconfig.cache import FileIndex, FileReadError
from kubesafe.kubeconfig.resolve import Merged, Target, ca_file_path
from kubesafe.policy_file import LEVELS, PolicyError, parse_policy, policy_path
from kubesafe.record import Record

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    # The namespaces a command can change (None: any), or a function that works
    # them out (it may read manifest files) called only when a rule needs them.
    Reach = tuple[str, ...] | None | Callable[[], tuple[str, ...] | None]
    # identity key -> clusters; explicit server name -> clusters; https host name ->
    # clusters; (cluster, CA file, request path) of entries with a CA file
    EndpointIndex = tuple[
        dict[str, list[str]],
        dict[str, list[str]],
        dict[str, list[str]],
        list[tuple[str, str, str]],
    ]

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
        "note",
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
        note: str = "",
        guard: dict[str, Any] | None = None,
    ) -> None:
        # The file in use (not necessarily policy_path(env): see load_policy).
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
        # Why this file and not the usual one ("" when it is the usual one).
        self.note = note


class Protection(Record):
    """What the policy says about one command class on one target."""

    __slots__ = ("deciding", "environment", "lenders", "level", "protected", "rules")

    def __init__(
        self,
        environment: str | None,
        protected: bool,
        level: str,
        rules: tuple[Rule, ...],
        deciding: Rule | None = None,
        lenders: tuple[str, ...] = (),
    ) -> None:
        self.environment = environment
        self.protected = protected
        self.level = level
        self.rules = rules
        # The rule that sets ``level`` (or, for reads, the strictest one).
        self.deciding = deciding
        # The protected contexts lending the strictest lent rules ("endpoint"), strictest
        # first: the names that approve a write here.
        self.lenders = lenders


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
    """The policy in effect: ``policy_path`` unless it holds no rules and a policy
    with rules is known elsewhere (``policy_location``); ``note`` then says so."""
    path = policy_path(env)
    policy = _load_file(path, index)
    if policy.rules or policy.error is not None:
        return policy
    from kubesafe.policy_location import fallbacks

    for candidate, why in fallbacks(env):
        other = _load_file(candidate, index)
        if other.rules or other.error is not None:
            other.note = f"no rules in {path}; using {candidate}, {why}"
            return other
    return policy


def _load_file(path: str, index: FileIndex) -> Policy:
    misses = index.misses
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
    if rules and index.misses != misses:
        # Parsed just now (the slow path): remember where a policy with rules lives,
        # for the day a moved XDG_CONFIG_HOME or HOME hides it.
        from kubesafe.policy_location import remember

        remember(path)
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


def target_identity(target: Target, index: FileIndex | None = None) -> Identity:
    """The endpoint identity of where ``target``'s requests go."""
    return identity(target.server, *target.tls, index)


def cluster_identity(merged: Merged, cluster: str, index: FileIndex | None = None) -> Identity:
    server = merged.clusters.get(cluster, ("", None))[0]
    return identity(server, *merged.cluster_tls.get(cluster, _NO_TLS), index)


def linked_clusters(merged: Merged, mine: Identity, index: FileIndex | None) -> set[str]:
    """The cluster entries of ``merged`` that are the same cluster as ``mine``.

    Parsing a thousand server URLs would cost milliseconds on every kubectl
    call, so each kubeconfig file's entries are indexed by identity key once
    (kept in the parsed-file cache while the file and the hosts file are
    unchanged); a call then looks up only its own keys.
    """
    from kubesafe.endpoint import from_parts, hosts, parts
    from kubesafe.kubeconfig.parse import KubeconfigError, parse_bytes

    def compute(path: str) -> EndpointIndex:
        # From the file alone, never from this merge: the result is cached per file.
        by_key: dict[str, list[str]] = {}
        by_server_name: dict[str, list[str]] = {}
        by_name: dict[str, list[str]] = {}
        ca_files: list[tuple[str, str, str]] = []
        try:
            data = index.read(path, "kubeconfig", parse_bytes) if index is not None else None
        except (KubeconfigError, FileReadError):
            data = None
        if data is None:
            clusters = {n: merged.clusters[n] for n, p in merged.cluster_files.items() if p == path}
            tls_of = merged.cluster_tls
        else:
            clusters, tls_of = data["clusters"], data.get("cluster_tls", {})
        for name, (server, _extension) in clusters.items():
            digest, ca_file, server_name, _insecure = tls_of.get(name, _NO_TLS)
            keys, server_names, names, prefix = parts(server, digest, server_name)
            for table, values in ((by_key, keys), (by_server_name, server_names), (by_name, names)):
                for value in values:
                    table.setdefault(value, []).append(name)
            if ca_file:
                ca_files.append((name, ca_file_path(path, ca_file), prefix))
        return by_key, by_server_name, by_name, ca_files

    kind = f"endpoint-index:{hosts().signature}"
    found: set[str] = set()
    for path in merged.files:
        table = (
            compute(path)
            if index is None
            else index.computed(path, kind, compute, _clusters_digest(path, index))
        )
        by_key, by_server_name, by_name, ca_files = table
        candidates = [name for key in mine.keys for name in by_key.get(key, ())]
        candidates += [name for key in mine.server_names for name in by_name.get(key, ())]
        candidates += [name for key in mine.names for name in by_server_name.get(key, ())]
        for name, ca_file, prefix in ca_files:
            if same_cluster(from_parts(((), (), (), prefix), ca_file, index), mine):
                candidates.append(name)
        # A name counts only where that file's entry is the one the merge kept.
        found.update(name for name in candidates if merged.cluster_files.get(name) == path)
    return found


_NO_TLS = ("", "", "", False)


def _clusters_digest(path: str, index: FileIndex) -> bytes:
    """A digest of the file's cluster entries: the endpoint index depends on nothing else.

    ``kubectl config use-context`` rewrites the whole file; keyed on this, the index of
    10,000 clusters is not rebuilt for a change of the current context.
    """
    from kubesafe.kubeconfig.parse import KubeconfigError, parse_bytes

    try:
        data = index.read(path, "kubeconfig", parse_bytes)
    except (KubeconfigError, FileReadError):
        return b""
    return data.get("clusters_digest", b"") if data is not None else b""


def lent_rule(rule: Rule, lender: str, via: str) -> Rule:
    """``rule`` of the protected context ``lender``, carried over to another target."""
    source = f"{rule.source}, via {via} (same endpoint)"
    return Rule("endpoint", lender, rule.environment, rule.level, rule.namespaces, source)


def endpoint_rules(
    policy: Policy, merged: Merged, target: Target, index: FileIndex | None = None
) -> tuple[Rule, ...]:
    """Protection that other contexts' and clusters' rules carry over to ``target``'s endpoint.

    A rule naming the context ``prod`` must also catch ``--cluster prod``,
    ``--server <prod's URL in any spelling>``, a ``sandbox`` context that points
    at prod's cluster, and a tunnel entry with prod's CA: whatever the path, the
    same API server is hit (``kubesafe.endpoint``). So every context sharing the
    target's cluster or endpoint identity lends it its rules, and so does every
    cluster entry carrying a ``kubesafe`` extension. Protected endpoints seen in
    other kubeconfig files are lent too (``kubesafe.protected_endpoints``).
    """
    from kubesafe import protected_endpoints

    mine = target_identity(target, index)
    linked = linked_clusters(merged, mine, index)
    # A policy rule that matches the target itself is its own, not lent: naming the
    # target approves it (``prod*`` on prod and prod-admin, one cluster, lends nothing).
    own = {rule for rule in policy.rules if _matches_target(rule, target)}

    derived: list[Rule] = []
    used: set[str] = set()
    for name, (cluster, user, namespace, extension) in merged.contexts.items():
        used.add(cluster)
        if name == target.context:
            continue
        if not (cluster and cluster == target.cluster) and cluster not in linked:
            continue
        other, cluster_extension = merged.clusters.get(cluster, ("", None))
        probe = Target(
            name,
            cluster,
            user,
            other,
            namespace,
            merged.files,
            extension,
            cluster_extension,
            tls=merged.cluster_tls.get(cluster, _NO_TLS),
        )
        for rule in all_rules(policy, probe):
            if rule.kind != "endpoint" and rule not in own and _matches_target(rule, probe):
                derived.append(lent_rule(rule, name, f"context {name!r}"))
    for cluster, (_server, extension) in merged.clusters.items():
        if extension is None or cluster in used or cluster == target.cluster:
            continue
        if cluster in linked:
            tagged = _extension_rule(extension, "kubeconfig-cluster", cluster, merged.files)
            if tagged is not None:
                derived.append(lent_rule(tagged, cluster, f"cluster {cluster!r}"))
    derived.extend(protected_endpoints.lend(policy, merged, target, mine, own))
    return tuple(derived)


_GLOB = frozenset("*?[")


def _is_glob(pattern: str) -> bool:
    """Glob characters outside a bracketed IPv6 host (``https://[::1]:6443`` is no glob)."""
    scheme, separator, rest = pattern.partition("://")
    authority, _, path = (rest if separator else scheme).partition("/")
    user, _, host = authority.rpartition("@")
    opening, closing = host.find("["), host.find("]")
    if opening == 0 and closing > 0 and ":" in host[:closing]:
        host = host[closing + 1 :]
    checked = (scheme if separator else "") + user + host + path
    return not _GLOB.isdisjoint(checked)


def server_matches(pattern: str, server: str) -> bool:
    """A ``server`` rule's pattern against a server URL, in every spelling of both."""
    if not _is_glob(pattern):
        return not set(url_keys(pattern)).isdisjoint(url_keys(server))
    forms = (*canonical_urls(server), normalize_server(server))
    host_part = pattern.partition("://")[2].partition("/")[0]
    patterns = [normalize_server(pattern)]
    if _GLOB.isdisjoint(host_part):
        patterns.extend(canonical_urls(pattern))
    return any(glob_match(p, form) for p in patterns for form in forms)


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
        return server_matches(rule.pattern, target.server)
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

    def strictness(rule: Rule) -> tuple[int, int]:
        return _RANK[levels[rule][column]], _RANK[levels[rule][1]]

    deciding = max(matching, key=strictness)
    level = levels[deciding][column] if mutating else NONE
    lent = [rule for rule in matching if rule.kind == "endpoint"]
    strictest = max(map(strictness, lent), default=None)
    lenders = tuple(dict.fromkeys(r.pattern for r in lent if strictness(r) == strictest))
    return Protection(deciding.environment, protected, level, matching, deciding, lenders)


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
