"""Resolve the cluster, user, server and namespace a kubectl call will use.

This follows client-go's ``clientcmd`` (loading rules, merge, overrides,
in-cluster fallback) as observed with real kubectl, which the differential
tests keep honest:

* ``--kubeconfig FILE`` (must exist) replaces ``KUBECONFIG``; otherwise
  ``KUBECONFIG`` is an ``os.pathsep`` list (empty entries and missing files are
  skipped, duplicates dropped); unset or empty means ``~/.kube/config``.
* For contexts, clusters and users the first file that defines a name wins as
  a whole; ``current-context`` comes from the first file with a non-empty one.
* ``--context`` picks the context, ``--cluster``/``--user`` replace its
  references (and must exist), ``--server`` replaces the URL, ``-n`` beats the
  context's namespace, which beats ``default``. An empty flag value counts as
  unset. A context that names a missing cluster is tolerated: the server is
  then ``$KUBERNETES_MASTER`` or ``http://localhost:8080``.
"""

from __future__ import annotations

import os

from kubesafe import reads
from kubesafe.kubeconfig.cache import FileIndex, FileReadError, NotRegularFile
from kubesafe.kubeconfig.parse import KubeconfigError, file_problem, parse_bytes
from kubesafe.record import Record

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from kubesafe.kubeconfig.parse import FileData

DEFAULT_SERVER = "http://localhost:8080"
# Clusters and users the shell integration writes into a terminal's own kubeconfig to
# send a protected context through that terminal's guard (kubesafe/guard/terminal.py).
GUARD_PREFIX = "kubesafe-guard/"
GUARD_SERVER_PREFIX = "https://127.0.0.1:"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class ResolveError(Exception):
    """The target cannot be determined; the message is one line for the user."""


class Overrides(Record):
    """The kubectl flags that change which target a command hits ("" = not given)."""

    __slots__ = (
        "certificate_authority",
        "cluster",
        "context",
        "credentials",
        "insecure",
        "kubeconfig",
        "namespace",
        "server",
        "tls_server_name",
        "user",
    )

    def __init__(
        self,
        kubeconfig: str = "",
        context: str = "",
        cluster: str = "",
        user: str = "",
        server: str = "",
        namespace: str = "",
        credentials: bool = False,
        certificate_authority: str = "",
        tls_server_name: str = "",
        insecure: bool = False,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.cluster = cluster
        self.user = user
        self.server = server
        self.namespace = namespace
        # --token/--username/--password/--client-certificate: credentials given on
        # the command line, which rule out client-go's in-cluster fallback.
        self.credentials = credentials
        # --certificate-authority (a path as given), --tls-server-name,
        # --insecure-skip-tls-verify: they tie the server to a cluster's identity.
        self.certificate_authority = certificate_authority
        self.tls_server_name = tls_server_name
        self.insecure = insecure


class Merged(Record):
    """The merged view of all kubeconfig files in effect."""

    __slots__ = (
        "cluster_files",
        "cluster_tls",
        "clusters",
        "context_files",
        "contexts",
        "current_context",
        "files",
        "guards",
        "users",
    )

    def __init__(
        self,
        files: tuple[str, ...],
        current_context: str,
        contexts: dict[str, tuple[str, str, str, Any]],
        clusters: dict[str, tuple[str, Any]],
        users: frozenset[str],
        context_files: dict[str, str],
        cluster_tls: dict[str, tuple[str, str, str, bool]] | None = None,
        cluster_files: dict[str, str] | None = None,
        guards: dict[str, str] | None = None,
    ) -> None:
        self.files = files
        self.current_context = current_context
        self.contexts = contexts
        self.clusters = clusters
        self.users = users
        # context name -> file that defined it (first wins), for messages and `policy`
        self.context_files = context_files
        # cluster name -> (CA data digest, absolute CA file, tls-server-name, insecure)
        self.cluster_tls = cluster_tls or {}
        # cluster name -> file that defined it (first wins)
        self.cluster_files = cluster_files or {}
        # Contexts this terminal sends through its guard: name -> the guard's URL. Their
        # entries in ``contexts`` already name the real cluster and user (see _unguard).
        self.guards = guards or {}


class Target(Record):
    """Where a kubectl command goes."""

    __slots__ = (
        "cluster",
        "cluster_extension",
        "cluster_source",
        "context",
        "context_extension",
        "guard",
        "kubeconfig",
        "namespace",
        "namespace_source",
        "server",
        "server_source",
        "tls",
        "user",
    )

    def __init__(
        self,
        context: str,
        cluster: str,
        user: str,
        server: str,
        namespace: str,
        kubeconfig: tuple[str, ...],
        context_extension: Any = None,
        cluster_extension: Any = None,
        server_source: str = "cluster",
        namespace_source: str = "default",
        tls: tuple[str, str, str, bool] = ("", "", "", False),
        cluster_source: str = "context",
        guard: str = "",
    ) -> None:
        self.context = context
        self.cluster = cluster
        self.user = user
        self.server = server
        self.namespace = namespace
        self.kubeconfig = kubeconfig
        self.context_extension = context_extension
        self.cluster_extension = cluster_extension
        # where the server came from: "cluster", "--server", "default", "in-cluster"
        self.server_source = server_source
        # where the namespace came from: "--namespace", "context", "default", "in-cluster"
        self.namespace_source = namespace_source
        # (CA data digest, absolute CA file, tls-server-name, insecure) as client-go uses them
        self.tls = tls
        # where the cluster came from: "context" or "--cluster"
        self.cluster_source = cluster_source
        # The terminal guard's URL when requests really go there (the other fields then
        # name the real cluster, user and server behind it); "" when they go direct.
        self.guard = guard

    def __hash__(self) -> int:
        # Extensions may hold dicts; identity of the endpoint is enough for hashing.
        return hash((self.context, self.cluster, self.user, self.server, self.namespace))


def home_dir(env: Mapping[str, str], windows: bool = os.name == "nt") -> str:
    """client-go's homedir.HomeDir(): $HOME on POSIX; a search on Windows."""
    if not windows:
        return env.get("HOME", "")
    home = env.get("HOME", "")
    drive_path = env.get("HOMEDRIVE", "") + env.get("HOMEPATH", "")
    profile = env.get("USERPROFILE", "")
    if not (env.get("HOMEDRIVE") and env.get("HOMEPATH")):
        drive_path = ""
    for candidate in (home, drive_path, profile):
        if candidate and os.path.isfile(os.path.join(candidate, ".kube", "config")):
            return candidate
    ordered = [c for c in (home, profile, drive_path) if c]
    for candidate in ordered:
        if os.path.isdir(candidate) and os.access(candidate, os.W_OK):
            return candidate
    for candidate in ordered:
        if os.path.isdir(candidate):
            return candidate
    return ordered[0] if ordered else ""


def candidate_files(
    explicit: str, env: Mapping[str, str], pathsep: str = os.pathsep
) -> tuple[list[str], bool]:
    """The kubeconfig paths kubectl considers, and whether they came from --kubeconfig."""
    if explicit:
        return [explicit], True
    listed = env.get("KUBECONFIG", "")
    if listed:
        unique: list[str] = []
        for entry in listed.split(pathsep):
            if entry and entry not in unique:
                unique.append(entry)
        return unique, False
    return [os.path.join(home_dir(env), ".kube", "config")], False


def opened_path(path: str) -> str:
    """``path`` made absolute as kubectl opens it: a ``..`` is left to the kernel.

    client-go opens a kubeconfig by the name given, so ``link/../config`` is the
    file beside the link's target; ``os.path.abspath`` drops ``link/..`` as text
    and would read (and show) the file beside the link instead.
    """
    if os.name == "nt" or ".." not in path.replace(os.altsep or os.sep, os.sep).split(os.sep):
        return os.path.abspath(path)
    return os.path.join(os.getcwd(), path)


def ca_file_path(holder: str, ca_file: str) -> str:
    """The ``certificate-authority`` file a kubeconfig at ``holder`` names, as client-go
    finds it: a relative one is joined to the holder's directory as text (``filepath.Abs``
    then ``Join``, which cleans ``..``), unlike the kubeconfig's own path."""
    if os.path.isabs(ca_file):
        return ca_file
    return os.path.normpath(os.path.join(os.path.abspath(os.path.dirname(holder)), ca_file))


def load(
    explicit: str,
    env: Mapping[str, str],
    index: FileIndex,
    pathsep: str = os.pathsep,
) -> list[tuple[str, FileData]]:
    """Read every kubeconfig in effect; missing ones are skipped unless explicit."""
    paths, is_explicit = candidate_files(explicit, env, pathsep)
    loaded: list[tuple[str, FileData]] = []
    for path in paths:
        absolute = opened_path(path)
        try:
            data = index.read(absolute, "kubeconfig", _parser(index, absolute))
        except NotRegularFile as exc:
            # Reading a pipe would leave kubectl an empty config (and a different
            # target): the file stays unread, and writes through it are refused.
            raise ResolveError(
                f"kubeconfig {path} {exc}; kubesafe leaves it for kubectl to read "
                "(use a regular file for writes)"
            ) from None
        except (KubeconfigError, FileReadError) as exc:
            raise ResolveError(file_problem(path, exc)) from None
        if data is None:
            if is_explicit:
                raise ResolveError(f"kubeconfig {path} (from --kubeconfig) does not exist")
            continue
        loaded.append((absolute, data))
    return loaded


def merge(files: list[tuple[str, FileData]]) -> Merged:
    contexts: dict[str, tuple[str, str, str, Any]] = {}
    context_files: dict[str, str] = {}
    clusters: dict[str, tuple[str, Any]] = {}
    cluster_tls: dict[str, tuple[str, str, str, bool]] = {}
    cluster_files: dict[str, str] = {}
    users: set[str] = set()
    current = ""
    for path, data in files:
        if not current:
            current = data["current_context"]
        for name, context in data["contexts"].items():
            if name not in contexts:
                contexts[name] = context
                context_files[name] = path
        tls = data.get("cluster_tls", {})
        for name, cluster in data["clusters"].items():
            if name in clusters:
                continue
            clusters[name] = cluster
            cluster_files[name] = path
            digest, ca_file, server_name, insecure = tls.get(name, ("", "", "", False))
            if ca_file:
                ca_file = ca_file_path(path, ca_file)
            cluster_tls[name] = (digest, ca_file, server_name, insecure)
        users.update(data["users"])
    return Merged(
        files=tuple(path for path, _ in files),
        current_context=current,
        contexts=contexts,
        clusters=clusters,
        users=frozenset(users),
        context_files=context_files,
        cluster_tls=cluster_tls,
        cluster_files=cluster_files,
    )


def _in_cluster_possible(env: Mapping[str, str]) -> bool:
    if not (env.get("KUBERNETES_SERVICE_HOST") and env.get("KUBERNETES_SERVICE_PORT")):
        return False
    token = os.path.join(SERVICE_ACCOUNT_DIR, "token")
    found = reads.file_identity(token)
    reads.note(token, found)
    return found is not None and found != reads.UNKNOWN


def _in_cluster_server(env: Mapping[str, str]) -> str:
    host = env["KUBERNETES_SERVICE_HOST"]
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"https://{host}:{env['KUBERNETES_SERVICE_PORT']}"


def _in_cluster_namespace(env: Mapping[str, str]) -> str:
    if env.get("POD_NAMESPACE"):
        return env["POD_NAMESPACE"]
    path = os.path.join(SERVICE_ACCOUNT_DIR, "namespace")
    reads.note_now(path)
    try:
        with open(path, encoding="utf-8") as handle:
            namespace = handle.read().strip()
    except (OSError, UnicodeDecodeError):
        namespace = ""
    return namespace or "default"


def resolve_merged(merged: Merged, overrides: Overrides, env: Mapping[str, str]) -> Target:
    context_name = overrides.context or merged.current_context
    context = merged.contexts.get(context_name)
    if context_name and context is None:
        raise ResolveError(f'context "{context_name}" not found in {_describe_files(merged)}')
    ctx_cluster, ctx_user, ctx_namespace, ctx_extension = context or ("", "", "", None)
    cluster_name = overrides.cluster or ctx_cluster
    user_name = overrides.user or ctx_user
    if overrides.cluster and cluster_name not in merged.clusters:
        raise ResolveError(f'cluster "{cluster_name}" (--cluster) not found in the kubeconfig')
    if overrides.user and user_name not in merged.users:
        raise ResolveError(f'user "{user_name}" (--user) not found in the kubeconfig')
    cluster_server, cluster_extension = merged.clusters.get(cluster_name, ("", None))

    if overrides.server:
        server, server_source = overrides.server, "--server"
    elif cluster_server:
        server, server_source = cluster_server, "cluster"
    else:
        server, server_source = env.get("KUBERNETES_MASTER") or DEFAULT_SERVER, "default"

    tls = _effective_tls(merged.cluster_tls.get(cluster_name, ("", "", "", False)), overrides)

    if overrides.namespace:
        namespace, namespace_source = overrides.namespace, "--namespace"
    elif ctx_namespace:
        namespace, namespace_source = ctx_namespace, "context"
    else:
        namespace, namespace_source = "default", "default"

    if _in_cluster_possible(env):
        # client-go falls back to the pod's service account when the kubeconfig
        # yields nothing usable, and takes the pod's namespace whenever neither
        # the flag nor the context sets one.
        unconfigured = (
            server_source == "default" and user_name not in merged.users
        ) and not overrides.credentials
        if unconfigured:
            server, server_source = _in_cluster_server(env), "in-cluster"
        if namespace_source == "default":
            namespace, namespace_source = _in_cluster_namespace(env), "in-cluster"

    return Target(
        context=context_name,
        cluster=cluster_name,
        user=user_name,
        server=server,
        namespace=namespace,
        kubeconfig=merged.files,
        context_extension=ctx_extension,
        cluster_extension=cluster_extension,
        server_source=server_source,
        namespace_source=namespace_source,
        tls=tls,
        cluster_source="--cluster" if overrides.cluster else "context",
        guard="" if overrides.server or overrides.cluster else merged.guards.get(context_name, ""),
    )


def _effective_tls(
    cluster: tuple[str, str, str, bool], overrides: Overrides
) -> tuple[str, str, str, bool]:
    """client-go's merge of the TLS flags over the cluster entry.

    ``--certificate-authority`` or ``--insecure-skip-tls-verify`` replace the
    entry's CA (data and file); ``--server`` or ``--tls-server-name`` replace
    its server name.
    """
    digest, ca_file, server_name, insecure = cluster
    if overrides.certificate_authority or overrides.insecure:
        digest, insecure = "", overrides.insecure
        given = overrides.certificate_authority
        ca_file = os.path.abspath(given) if given else ""
    if overrides.tls_server_name or overrides.server:
        server_name = overrides.tls_server_name
    return digest, ca_file, server_name, insecure


def _unguard(merged: Merged, env: Mapping[str, str]) -> None:
    """Show the real cluster and user of contexts the terminal sends through its guard.

    Only the terminal's own file (``$KUBESAFE_SESSION/kubeconfig``) can send a
    context through a guard, and only to 127.0.0.1; the guard's cluster entry
    names the real cluster and user in its ``kubesafe`` extension. So every
    decision (the context's own rules, rules lent by contexts on the same
    endpoint, version discovery, the prompt) is about the real target. A guard
    entry anywhere else is taken at its word: its server.
    """
    session = env.get("KUBESAFE_SESSION", "")
    if not session:
        return
    own = os.path.abspath(os.path.join(session, "kubeconfig"))
    if own not in merged.files:
        return
    for name, (cluster, user, namespace, extension) in list(merged.contexts.items()):
        if not cluster.startswith(GUARD_PREFIX) or merged.context_files.get(name) != own:
            continue
        server, cluster_extension = merged.clusters.get(cluster, ("", None))
        guard = cluster_extension.get("guard") if isinstance(cluster_extension, dict) else None
        if not server.startswith(GUARD_SERVER_PREFIX) or not isinstance(guard, dict):
            continue
        real_cluster, real_user = guard.get("cluster"), guard.get("user")
        if not isinstance(real_cluster, str) or not isinstance(real_user, str):
            continue
        if user.startswith(GUARD_PREFIX):
            user = real_user
        merged.contexts[name] = (real_cluster, user, namespace, extension)
        merged.guards[name] = server


def _describe_files(merged: Merged) -> str:
    if not merged.files:
        return "the kubeconfig (no kubeconfig file exists)"
    if len(merged.files) == 1:
        return merged.files[0]
    return "the kubeconfig files " + ", ".join(merged.files)


def load_merged(
    overrides: Overrides,
    env: Mapping[str, str] | None = None,
    index: FileIndex | None = None,
) -> Merged:
    environment = os.environ if env is None else env
    own_index = index if index is not None else FileIndex()
    try:
        merged = merge(load(overrides.kubeconfig, environment, own_index))
        _unguard(merged, environment)
        return merged
    finally:
        if index is None:
            own_index.save()


def resolve(
    overrides: Overrides,
    env: Mapping[str, str] | None = None,
    index: FileIndex | None = None,
) -> Target:
    """Resolve the target; raises ResolveError with a one-line reason."""
    environment = os.environ if env is None else env
    return resolve_merged(load_merged(overrides, environment, index), overrides, environment)


def _parser(index: FileIndex, path: str) -> Callable[[bytes], FileData]:
    """``parse_bytes`` with the file's section memo, fetched only when a parse runs."""

    def parse(content: bytes) -> FileData:
        return parse_bytes(content, index.memo("kubeconfig-sections", path))

    return parse
