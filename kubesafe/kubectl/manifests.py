"""The namespaces the objects named by ``-f``/``--filename`` live in, read like kubectl reads them.

kubectl applies ``-n`` (or the context's namespace) only to namespaced objects
that name no namespace themselves: a Namespace, a ClusterRoleBinding or a custom
resource in a manifest goes wherever the manifest says, whatever ``-n`` says.
So a namespace-narrowed rule can only be skipped when every object is known:
read here from local regular files and directories (``-R`` respected), each of
a built-in namespaced kind. Anything else (stdin, a URL, a glob, a device or
FIFO, an unreadable or unparsable file, a List, a cluster-scoped or unknown
kind) means "any namespace" (None): kubesafe fails closed.

Slow path only: ``classify.namespaces_reached`` imports this module for writes
that a namespace-narrowed rule might cover; never for TAB completion or reads.
Stdin is never read, under any name (``-``, ``/dev/stdin``, ``/proc/self/fd/0``).
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False  # typing costs an import; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Iterator

    import yaml

# The built-in kinds that are namespaced, as (API group, kind); "" is the core group.
# Source: `kubectl api-resources --namespaced=true` against kube-apiserver 1.31-1.37
# with every built-in API group enabled (alpha and beta included), that is the
# resources served under /namespaces/{namespace}/ in Kubernetes' OpenAPI; a test
# checks the list against the generated `kubernetes` Python client (1.37's API).
# Subresources (pods/eviction, scale, serviceaccounts/token) are not listed: kubectl
# cannot create them from a manifest. Everything not here (Namespace, Node,
# ClusterRole, StorageClass, CRDs...) counts as cluster-scoped or unknown: any namespace.
NAMESPACED_KINDS: frozenset[tuple[str, str]] = frozenset(
    {
        ("", "Binding"),
        ("", "ConfigMap"),
        ("", "Endpoints"),
        ("", "Event"),
        ("", "LimitRange"),
        ("", "PersistentVolumeClaim"),
        ("", "Pod"),
        ("", "PodTemplate"),
        ("", "ReplicationController"),
        ("", "ResourceQuota"),
        ("", "Secret"),
        ("", "Service"),
        ("", "ServiceAccount"),
        ("apps", "ControllerRevision"),
        ("apps", "DaemonSet"),
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "StatefulSet"),
        ("authorization.k8s.io", "LocalSubjectAccessReview"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("batch", "CronJob"),
        ("batch", "Job"),
        ("certificates.k8s.io", "PodCertificateRequest"),
        ("coordination.k8s.io", "Lease"),
        ("coordination.k8s.io", "LeaseCandidate"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("events.k8s.io", "Event"),
        ("lifecycle.k8s.io", "Eviction"),
        ("lifecycle.k8s.io", "EvictionRequest"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("policy", "PodDisruptionBudget"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("resource.k8s.io", "PodSchedulingContext"),  # alpha in 1.31, removed in 1.32
        ("resource.k8s.io", "ResourceClaim"),
        ("resource.k8s.io", "ResourceClaimTemplate"),
        ("scheduling.k8s.io", "CompositePodGroup"),
        ("scheduling.k8s.io", "PodGroup"),
        ("scheduling.k8s.io", "Workload"),
        ("storage.k8s.io", "CSIStorageCapacity"),
    }
)

# kubectl (cli-runtime resource.FileExtensions) reads only these files from a directory;
# a file named explicitly is read whatever its name.
_EXTENSIONS = (".json", ".yaml", ".yml")
# Beyond this much input, reading it would slow kubectl down: assume any namespace.
_MAX_BYTES = 8 * 1024 * 1024
_MAX_FILES = 1000
_MAX_DEPTH = 32


class _Unknown(Exception):
    """The objects (or their namespaces) cannot be known without asking the server."""


def manifest_namespaces(
    filenames: list[str], *, recursive: bool, namespace: str
) -> tuple[str, ...] | None:
    """The namespaces the objects in ``filenames`` (``-f`` values) live in; None: any.

    ``namespace`` is where kubectl puts namespaced objects that name none (the
    resolved ``-n``, context namespace or ``default``).
    """
    budget = _Budget()
    reached: set[str] = set()
    try:
        paths = [path for value in filenames for path in _split_slice(value)]
        if not paths:
            return None
        for path in paths:
            for found in _namespaces_at(path, recursive, budget):
                reached.add(found or namespace)
    except _Unknown:
        return None
    return tuple(sorted(reached)) or None


def _split_slice(value: str) -> list[str]:
    """pflag's StringSlice: ``-f a.yaml,b.yaml`` names two files (CSV, quotes aside)."""
    if '"' in value:
        raise _Unknown  # Go's and Python's CSV quoting rules differ: do not guess
    return value.split(",") if value else []


class _Budget:
    __slots__ = ("bytes", "files")

    def __init__(self) -> None:
        self.bytes = 0
        self.files = 0

    def spend(self, size: int) -> None:
        self.bytes += size
        self.files += 1
        if self.bytes > _MAX_BYTES or self.files > _MAX_FILES:
            raise _Unknown


def _namespaces_at(path: str, recursive: bool, budget: _Budget) -> Iterator[str]:
    if not path or path == "-" or path.startswith(("http://", "https://")):
        raise _Unknown  # stdin or a URL: never read by kubesafe
    try:
        info = os.stat(path)
    except OSError:
        raise _Unknown from None  # missing (kubectl would try it as a glob) or unreadable
    if stat.S_ISDIR(info.st_mode):
        yield from _namespaces_in_directory(path, recursive, budget, 0)
    else:
        yield from _namespaces_in_file(path, budget)


def _extension(name: str) -> str:
    """Go's filepath.Ext: from the last dot on (``.yaml`` for a file called ``.yaml``)."""
    dot = name.rfind(".")
    return name[dot:] if dot != -1 else ""


def _namespaces_in_directory(
    directory: str, recursive: bool, budget: _Budget, depth: int
) -> Iterator[str]:
    """Like Go's filepath.Walk in kubectl: symlinked directories are not followed."""
    if depth > _MAX_DEPTH:
        raise _Unknown
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError:
        raise _Unknown from None
    for entry in entries:
        try:
            is_directory = entry.is_dir(follow_symlinks=False)
        except OSError:
            raise _Unknown from None
        if is_directory:
            if recursive:
                yield from _namespaces_in_directory(entry.path, recursive, budget, depth + 1)
        elif _extension(entry.name) in _EXTENSIONS:
            yield from _namespaces_in_file(entry.path, budget)


def _is_stdin(info: os.stat_result) -> bool:
    try:
        standard_input = os.fstat(0)
    except OSError:
        return False
    return os.path.samestat(info, standard_input)


def _namespaces_in_file(path: str, budget: _Budget) -> Iterator[str]:
    try:
        # Non-blocking, so that a FIFO swapped in cannot hang; checked once opened.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        raise _Unknown from None
    with os.fdopen(descriptor, "rb") as handle:
        try:
            info = os.fstat(descriptor)
            # Only regular files: a FIFO, a terminal or stdin under another name
            # (/dev/stdin, /proc/self/fd/0) would block or eat kubectl's input.
            if not stat.S_ISREG(info.st_mode) or _is_stdin(info):
                raise _Unknown
            if os.path.realpath(path).startswith(("/dev/", "/proc/")):
                raise _Unknown
            budget.spend(info.st_size)
            data = handle.read(_MAX_BYTES + 1)
        except OSError:
            raise _Unknown from None
    if len(data) > _MAX_BYTES:
        raise _Unknown
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Unknown from None
    for document in _documents(text):
        yield _object_namespace(document)


def _documents(text: str) -> Iterator[object]:
    """The objects in one file, split the way kubectl's YAMLOrJSONDecoder splits them."""
    body = text.lstrip(" \t\r\n\ufeff")
    if body.startswith("{"):
        yield from _json_stream(body)
        return
    for chunk in _yaml_chunks(text):
        yield from _yaml_chunk(chunk)


def _json_stream(text: str) -> Iterator[object]:
    import json

    decoder = json.JSONDecoder()
    position = 0
    while True:
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        if position == len(text):
            return
        try:
            value, position = decoder.raw_decode(text, position)
        except ValueError:
            raise _Unknown from None
        yield value


def _yaml_chunks(text: str) -> Iterator[str]:
    """kubectl's YAMLReader: a line starting with ``---`` ends a document; after the
    dashes only spaces or a comment may follow (anything else is kubectl's error)."""
    chunk: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("---"):
            rest = line[3:].strip()
            if rest and not rest.startswith("#"):
                raise _Unknown
            if chunk:
                yield "".join(chunk)
            chunk = []
            continue
        chunk.append(line)
    if chunk:
        yield "".join(chunk)


def _yaml_chunk(chunk: str) -> Iterator[object]:
    import yaml

    try:
        documents = list(yaml.load_all(chunk, Loader=_strict_loader()))
    except Exception:  # any parser failure (YAMLError, RecursionError...): unknown
        raise _Unknown from None
    documents = [document for document in documents if document is not None]
    if len(documents) > 1:
        raise _Unknown  # kubectl would read only the first: do not guess which one counts
    yield from documents


_LOADER: list[type[yaml.SafeLoader]] = []


def _strict_loader() -> type[yaml.SafeLoader]:
    """A safe loader that refuses duplicate keys (parsers disagree on which one wins)."""
    if _LOADER:
        return _LOADER[0]
    import yaml

    # libyaml's parser when PyYAML has it: many times faster on big manifests.
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class StrictLoader(base):  # type: ignore[valid-type,misc]
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[object, object]:
        # Keys merged in with "<<" may be overridden; keys written twice may not.
        own = [
            (key.tag, key.value)
            for key, _ in node.value
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge"
        ]
        if len(set(own)) != len(own):
            raise yaml.constructor.ConstructorError(None, None, "duplicate key", node.start_mark)
        return loader.construct_mapping(node, deep=True)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    _LOADER.append(StrictLoader)
    return StrictLoader


def _object_namespace(document: object) -> str:
    """The object's own namespace ("" when it names none) if it is of a namespaced kind."""
    if not isinstance(document, dict):
        raise _Unknown
    if "items" in document:
        raise _Unknown  # kubectl flattens anything with items[] as a List
    kind = document.get("kind")
    api_version = document.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(api_version, str):
        raise _Unknown
    group, slash, version = api_version.rpartition("/")
    if not version or (slash and not group) or "/" in group:
        raise _Unknown
    if (group, kind) not in NAMESPACED_KINDS:
        raise _Unknown
    metadata = document.get("metadata")
    if metadata is None:
        return ""
    if not isinstance(metadata, dict):
        raise _Unknown
    namespace = metadata.get("namespace")
    if namespace is None:
        return ""
    if not isinstance(namespace, str):
        raise _Unknown
    return namespace
