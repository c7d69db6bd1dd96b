"""Protected endpoints remembered across kubeconfig files.

Protection is decided per command from the kubeconfig files that command
loads, so ``--kubeconfig admin.conf`` (kubeadm's ``kubernetes-admin@kubernetes``
pointing at prod's server) would see no protected context at all. kubesafe
therefore remembers, in a private file in its state directory, the endpoint
identity of every protected context it has seen, with the rules that protect
it, and lends those rules to any target with the same identity.

The file is refreshed on the slow path (a kubeconfig or the policy file was
re-parsed), from a default kubeconfig a call does not load once that file
changed, whenever a command resolves a protected context that is not in it
yet, and by ``kubesafe protect``. Reading it costs one small file per command.
A remembered rule from the policy file counts only while the policy still has
it (``kubesafe unprotect`` ends it); one from a kubeconfig extension counts
until that file is seen again without it.
"""

from __future__ import annotations

import marshal
import os

from kubesafe import paths, reads

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from kubesafe.endpoint import Identity
    from kubesafe.kubeconfig.cache import FileIndex
    from kubesafe.kubeconfig.resolve import Merged, Target
    from kubesafe.policy import Policy, Rule

    # (kind, pattern, environment, level, namespaces, source)
    RuleData = tuple[str, str, str, str, tuple[str, ...], str]
    # (identity keys, explicit server names, https host names, rules)
    Entry = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[RuleData, ...]]

_HEADER = ("kubesafe-protected-endpoints", 1)
MAX_ENTRIES = 1024
MAX_MEMOS = 64
_POLICY_KINDS = frozenset({"context", "context-regex", "server"})
# Marks a memo entry for a default kubeconfig file (refresh_defaults): the file's identity
# when it was last refreshed, where other entries map a merge's files to a digest.
_DEFAULT_FILE = "default-file:"

_loaded: dict[tuple[str, str], Entry] | None = None
# The file's identity when it was loaded, for the resolution memo (kubesafe.reads).
_loaded_identity: Any = None


def state_path() -> str:
    return os.path.join(paths.state_dir(), "protected-endpoints.marshal")


def entries() -> dict[tuple[str, str], Entry]:
    """(kubeconfig file, context) -> what identifies its endpoint and protects it."""
    global _loaded, _loaded_identity
    if _loaded is None:
        _loaded_identity = reads.file_identity(state_path())
        _loaded = paths.read_private_table(state_path(), _HEADER)
    reads.note(state_path(), _loaded_identity)
    return _loaded


def forget_loaded() -> None:
    """Read the file again on next use (tests, and after another process wrote it)."""
    global _loaded
    _loaded = None


def _save(current: dict[tuple[str, str], Entry]) -> None:
    while len(current) > MAX_ENTRIES:
        del current[next(iter(current))]
    paths.write_private(state_path(), marshal.dumps((_HEADER, current)))


def lend(
    policy: Policy, merged: Merged, target: Target, mine: Identity, own: set[Rule]
) -> list[Rule]:
    """Rules of remembered protected contexts whose endpoint is ``target``'s.

    ``own``: the policy rules that match ``target`` itself (not lent again).
    """
    from kubesafe.policy import Rule, lent_rule

    found: list[Rule] = []
    for (path, context), entry in entries().items():
        if merged.context_files.get(context) == path:
            continue  # in this very kubeconfig: endpoint_rules looked at it already
        keys, server_names, names, _ = entry
        linked = any(key in mine.keys for key in keys) or (
            any(name in mine.names for name in server_names)
            or any(name in mine.server_names for name in names)
        )
        if not linked:
            continue
        for kind, pattern, environment, level, namespaces, source in entry[3]:
            if kind in _POLICY_KINDS:
                current = [r for r in policy.rules if (r.kind, r.pattern) == (kind, pattern)]
                if not current:
                    continue  # unprotected since
                rule = current[0]
                if rule in own:
                    continue
            else:
                rule = Rule(kind, pattern, environment, level, namespaces, source)
            found.append(lent_rule(rule, context, f"context {context!r} of {path}, remembered"))
    return found


def _entry(identity: Identity, rules: tuple[Rule, ...]) -> Entry:
    return (
        tuple(sorted(identity.keys)),
        tuple(sorted(identity.server_names)),
        tuple(sorted(identity.names)),
        tuple(
            (r.kind, r.pattern, r.environment, r.level, tuple(r.namespaces), r.source)
            for r in rules
        ),
    )


def _own_protection(policy: Policy, target: Target) -> tuple[Rule, ...]:
    from kubesafe.policy import protection

    found = protection(policy, target, mutating=True, destructive=True, namespaces=None)
    if not found.protected:
        return ()
    return tuple(rule for rule in found.rules if rule.kind != "endpoint")


def _context_target(merged: Merged, name: str) -> Target:
    from kubesafe.kubeconfig.resolve import Target

    cluster, user, namespace, extension = merged.contexts[name]
    server, cluster_extension = merged.clusters.get(cluster, ("", None))
    tls = merged.cluster_tls.get(cluster, ("", "", "", False))
    return Target(
        name, cluster, user, server, namespace, merged.files, extension, cluster_extension, tls=tls
    )


def memo_path() -> str:
    return os.path.join(paths.state_dir(), "protected-endpoints.memo.marshal")


def _inputs_digest(policy: Policy, merged: Merged) -> bytes | None:
    """A digest of everything ``refresh`` reads for ``merged``; None if it has no digest.

    The contexts, clusters and their TLS settings (not the users: ``kubectl config
    use-context`` or a rotated token leave the result unchanged), the rules and levels,
    and the stat of the hosts file and of every CA file behind an identity. Equal bytes
    mean equal inputs. marshal version 2: later versions mark shared and interned
    objects, which would spell equal inputs differently from run to run.
    """
    from kubesafe import __version__
    from kubesafe.digest import blake2b
    from kubesafe.endpoint import hosts

    ca_files = sorted({tls[1] for tls in merged.cluster_tls.values() if tls[1]})
    stats = []
    for name in ca_files:
        reads.note_now(name)  # whether the memory is refreshed depends on it
        try:
            st = os.stat(name)
            stats.append((name, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        except OSError:
            stats.append((name, -1, -1, -1, -1, -1))
    rules = [
        (r.kind, r.pattern, r.environment, r.level, tuple(r.namespaces), r.source)
        for r in policy.rules
    ]
    inputs = (
        __version__,
        policy.path,
        rules,
        policy.environments,
        hosts().signature,
        stats,
        merged.files,
        merged.context_files,
        merged.contexts,
        merged.clusters,
        merged.cluster_tls,
    )
    try:
        return bytes(blake2b(marshal.dumps(inputs, 2), 32).digest())
    except ValueError:
        return None  # an extension holding what marshal cannot write (a YAML timestamp)


def _entries_signature() -> tuple[int, ...]:
    try:
        st = os.stat(state_path())
    except OSError:
        return ()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _load_memo() -> dict[tuple[str, ...], bytes]:
    """The refreshes still valid: any write of the endpoints file since voids them all."""
    content = paths.read_private(memo_path())
    if content is None:
        return {}
    try:
        payload: Any = marshal.loads(content)
    except (EOFError, ValueError, TypeError):
        return {}
    if not (isinstance(payload, tuple) and len(payload) == 3 and payload[0] == _HEADER):
        return {}
    if payload[1] != _entries_signature() or not isinstance(payload[2], dict):
        return {}
    return payload[2]


def _store_memo(files: tuple[str, ...], digest: bytes) -> None:
    memo = _load_memo()
    memo.pop(files, None)
    memo[files] = digest
    while len(memo) > MAX_MEMOS:
        del memo[next(iter(memo))]
    paths.write_private(memo_path(), marshal.dumps((_HEADER, _entries_signature(), memo)))


def refresh(policy: Policy, merged: Merged, index: FileIndex | None = None) -> None:
    """Remember every protected context of ``merged``; forget its ones no longer protected.

    Judging every context costs about 25 us each (a quarter second at 10,000), so a
    refresh whose inputs (``_inputs_digest``) match the last one for these files, with
    the endpoints file untouched since, is skipped.
    """
    from kubesafe.policy import cluster_identity

    if policy.error is not None:
        return
    digest = _inputs_digest(policy, merged)
    if digest is not None and _load_memo().get(merged.files) == digest:
        return
    current = dict(entries())
    before = dict(current)
    for name, path in merged.context_files.items():
        target = _context_target(merged, name)
        rules = _own_protection(policy, target)
        if not rules or not target.server:
            current.pop((path, name), None)
            continue
        entry = _entry(cluster_identity(merged, target.cluster, index), rules)
        current.pop((path, name), None)
        current[(path, name)] = entry
    if current != before:
        global _loaded
        _loaded = current
        _save(current)
    if digest is not None:
        _store_memo(merged.files, digest)


def refresh_defaults(
    policy: Policy,
    env: Mapping[str, str],
    index: FileIndex,
    loaded: tuple[str, ...],
    slow: bool = True,
) -> None:
    """Also remember the protected contexts of the kubeconfig files in effect without flags.

    ``--kubeconfig admin.conf`` (or ``KUBECONFIG=admin.conf``) skips the files
    that hold the protected contexts; reading them here links admin.conf's entry
    to prod before anything was run with them. On the slow path (``slow``: a file
    of this call or the policy was parsed again) each is refreshed; otherwise only
    one whose identity differs from when it was last refreshed, so that prod just
    added to ``~/.kube/config`` protects the very next ``--kubeconfig admin.conf``
    call. That check costs a ``stat`` per file and is void after any write of the
    endpoints file.
    """
    from kubesafe.kubeconfig.cache import FileReadError
    from kubesafe.kubeconfig.parse import KubeconfigError, parse_bytes
    from kubesafe.kubeconfig.resolve import candidate_files, home_dir, merge, opened_path

    listed, _ = candidate_files("", env)
    defaults = dict.fromkeys(
        opened_path(path) for path in [*listed, os.path.join(home_dir(env), ".kube", "config")]
    )
    unloaded = [path for path in defaults if path not in loaded]
    if not unloaded:
        return
    seen = _load_memo()
    for absolute in unloaded:
        identity = reads.file_identity(absolute)
        reads.note(absolute, identity)
        mark = (_DEFAULT_FILE + absolute,)
        if not slow and policy.error is None and seen.get(mark) == _identity_bytes(identity):
            continue
        try:
            data = index.read(absolute, "kubeconfig", parse_bytes)
        except (KubeconfigError, FileReadError):
            continue  # a broken file only means nothing to remember
        if data is not None:
            refresh(policy, merge([(absolute, data)]), index)
        if policy.error is None:
            _store_memo(mark, _identity_bytes(identity))


def _identity_bytes(identity: reads.FileIdentity) -> bytes:
    return marshal.dumps(identity, 2)


def remember(
    policy: Policy, merged: Merged, target: Target, index: FileIndex | None = None
) -> None:
    """Make sure the context ``target`` resolved from is remembered if it is protected."""
    from kubesafe.policy import cluster_identity

    path = merged.context_files.get(target.context)
    if path is None or policy.error is not None:
        return
    probe = _context_target(merged, target.context)  # its own cluster, not --cluster/--server
    rules = _own_protection(policy, probe) if probe.server else ()
    if not rules:
        return
    entry = _entry(cluster_identity(merged, probe.cluster, index), rules)
    current = entries()
    if current.get((path, target.context)) != entry:
        current[(path, target.context)] = entry
        _save(current)
