"""A small fake Kubernetes API server on 127.0.0.1 that real kubectl can talk to.

It records every request (before answering it) so tests can check which cluster,
namespace and credentials a kubectl invocation actually used.

Many fake clusters share one server through a one-segment URL path prefix: a kubeconfig
cluster ``server: http://127.0.0.1:PORT/c-prod`` makes kubectl request
``/c-prod/api/v1/...``; such requests are recorded with ``prefix == "c-prod"`` and served
from that cluster's own object store and version.  A request whose first path segment is
one of :data:`ROOT_SEGMENTS` has ``prefix == ""`` (the "default" cluster).

What is served (per prefix):

* ``/version`` (configurable per prefix), ``/healthz``, ``/livez``, ``/readyz``.
* Legacy discovery: ``/api``, ``/api/v1``, ``/apis``, ``/apis/apps``, ``/apis/apps/v1``.
  kubectl >= 1.30 first asks for *aggregated* discovery via the Accept header; the server
  ignores that and answers with the legacy documents and ``Content-Type:
  application/json``, which client-go recognises and falls back on.
* ``/openapi/v3`` plus a minimal document per group-version.  kubectl ``apply``/``create``
  /``replace`` refuse to run (``failed to download openapi``) unless either v3 or v2 is
  served; the stub declares ``fieldValidation`` support so kubectl leaves validation to
  the server and builds strategic merge patches from its compiled-in types.
  ``/openapi/v2`` is 404 (kubectl only wants it as protobuf and copes without it).
* CRUD on an in-memory store for the resources in :data:`RESOURCE_TYPES` (pods,
  configmaps, services, secrets, serviceaccounts, events, namespaces, nodes, deployments,
  replicasets, statefulsets, daemonsets): list (field/label selectors), get, create,
  update (PUT, with resourceVersion conflicts), patch (JSON, merge, strategic-merge
  approximation, server-side apply), delete (single and collection), ``dryRun``,
  ``watch`` (chunked event stream, including ``sendInitialEvents`` bookmarks),
  ``meta.k8s.io/v1`` ``Table`` and ``PartialObjectMetadata[List]`` conversion, and the
  ``scale`` subresource.  Workloads "roll out" instantly: a deployment's status always
  mirrors ``spec.replicas``.  Every prefix starts with the namespaces default,
  kube-system, kube-public and kube-node-lease; other namespaces appear on first use.
* Anything else: 404 with a ``Status`` object.

Things worth knowing about kubectl:

* **Credentials need TLS.**  client-go only reads a kubeconfig user's token, client
  certificate or exec plugin when the server URL is https; with ``http://`` it silently
  sends no ``Authorization`` at all.  Use ``FakeAPIServer(tls=True)`` (self-signed
  certificate made with the ``openssl`` CLI; :meth:`FakeAPIServer.kubeconfig` embeds it
  as ``certificate-authority-data``) whenever a test looks at tokens.
* kubectl caches discovery under ``$HOME/.kube/cache`` for 10 minutes; give each test
  its own ``HOME`` to see (and not be confused by) the discovery requests.
* The typed generators ``kubectl create namespace|configmap|secret|serviceaccount`` POST
  protobuf; those four kinds are decoded, other protobuf bodies (e.g. ``kubectl create
  deployment``) get a 415 — use ``kubectl apply -f`` / ``create -f`` (JSON) instead.
* Requests are recorded before they are authenticated or answered, so a rejected
  request is recorded too.

Usage::

    with FakeAPIServer(git_version="v1.33.2") as srv:
        srv.add_pod("c-one", "team-a", "web-0")
        write_kubeconfig(tmp_path / "config", srv.kubeconfig("c-one", token="tok-alice"))
        ...run kubectl...
        [req] = [r for r in srv.requests if r.method == "GET" and r.resource == "pods"]
        assert (req.prefix, req.namespace) == ("c-one", "team-a")
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import copy
import datetime as _dt
import hashlib
import json
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "RESOURCE_TYPES",
    "ROOT_SEGMENTS",
    "FakeAPIServer",
    "FakeResponse",
    "RecordedRequest",
    "ResourceType",
    "human_duration",
    "self_signed_certificate",
    "write_kubeconfig",
]

JSONDict = dict[str, Any]

#: First path segments that belong to the API itself; any other first segment is a
#: cluster prefix.
ROOT_SEGMENTS = frozenset({"api", "apis", "version", "openapi", "healthz", "livez", "readyz"})

_TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"
_MAX_WATCH_SECONDS = 300.0


# ======================================================================================
# Recorded requests and canned responses
# ======================================================================================


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the fake server received it."""

    method: str
    #: Request target exactly as sent, including the prefix and the query string.
    raw_path: str
    #: Cluster prefix (first path segment when it is not an API root), "" when none.
    prefix: str
    #: Path after the prefix, without the query string, e.g. "/api/v1/namespaces/a/pods".
    path: str
    query: dict[str, list[str]]
    #: Value of the Authorization header, None when absent.
    authorization: str | None
    #: Namespace from ".../namespaces/<ns>/..." in the path (only when something follows
    #: the namespace name, so ``GET /api/v1/namespaces/foo`` has namespace None).
    namespace: str | None
    headers: dict[str, str]
    body: bytes
    #: Monotonic timestamp at which the request was recorded.
    time: float = field(default=0.0, compare=False)

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        lname = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lname:
                return value
        return None

    @property
    def accept(self) -> str:
        return self.header("Accept") or ""

    @property
    def content_type(self) -> str:
        return self.header("Content-Type") or ""

    @property
    def user_agent(self) -> str:
        return self.header("User-Agent") or ""

    @property
    def bearer_token(self) -> str | None:
        auth = self.authorization
        if auth and auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        return None

    @property
    def resource(self) -> str | None:
        """Plural resource name for resource requests (``pods``), None for discovery etc."""
        parsed = _parse_resource_path(self.path)
        return parsed.resource if parsed else None

    @property
    def name(self) -> str | None:
        """Object name for single-object requests, None for collections/discovery."""
        parsed = _parse_resource_path(self.path)
        return parsed.name if parsed else None

    @property
    def subresource(self) -> str | None:
        parsed = _parse_resource_path(self.path)
        return parsed.subresource if parsed else None

    @property
    def is_discovery(self) -> bool:
        return _parse_resource_path(self.path) is None and (
            self.path in ("/api", "/apis", "/version") or self.path.startswith(("/api/", "/apis/"))
        )

    @property
    def is_watch(self) -> bool:
        return _truthy(self.query.get("watch", [""])[-1])

    def json(self) -> Any:
        """The request body decoded as JSON."""
        return json.loads(self.body)


@dataclass
class FakeResponse:
    """A canned response returned by an interceptor (see :meth:`FakeAPIServer.intercept`).

    ``body`` may be bytes/str (sent as is) or any JSON-serialisable value.
    """

    status: int = 200
    body: Any = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds to sleep before answering (e.g. to exercise --request-timeout).
    delay: float = 0.0
    #: When > 0, the body is sent chunked, ``drip_bytes`` at a time, this many seconds
    #: apart: a server that answers, but too slowly to ever finish within a budget.
    drip_interval: float = 0.0
    drip_bytes: int = 8192

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


Interceptor = Callable[[RecordedRequest], FakeResponse | None]


# ======================================================================================
# Resource types
# ======================================================================================


_ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One API resource as advertised in discovery and served from the store."""

    group: str
    version: str
    name: str  # plural resource name
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = _ALL_VERBS
    categories: tuple[str, ...] = ()
    #: (subresource name, group, version, kind, verbs)
    subresources: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def discovery_entries(self) -> list[JSONDict]:
        entry: JSONDict = {
            "name": self.name,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
            "storageVersionHash": _short_hash(f"{self.api_version}/{self.kind}"),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        entries = [entry]
        for sub, group, version, kind, verbs in self.subresources:
            sub_entry: JSONDict = {
                "name": f"{self.name}/{sub}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": kind,
                "verbs": list(verbs),
            }
            if (group, version) != (self.group, self.version):
                sub_entry["group"] = group
                sub_entry["version"] = version
            entries.append(sub_entry)
        return entries


_Sub = tuple[str, str, str, str, tuple[str, ...]]


def _status_sub(group: str, kind: str) -> _Sub:
    return ("status", group, "v1", kind, ("get", "patch", "update"))


_SCALE_SUB: _Sub = ("scale", "autoscaling", "v1", "Scale", ("get", "patch", "update"))


def _rt(
    group: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    verbs: tuple[str, ...] = _ALL_VERBS,
    categories: tuple[str, ...] = (),
    subresources: tuple[_Sub, ...] = (),
) -> ResourceType:
    return ResourceType(
        group, "v1", plural, kind.lower(), kind, namespaced, short, verbs, categories, subresources
    )


_ALL = ("all",)
RESOURCE_TYPES: tuple[ResourceType, ...] = (
    _rt(
        "",
        "pods",
        "Pod",
        short=("po",),
        categories=_ALL,
        subresources=(
            _status_sub("", "Pod"),
            ("log", "", "v1", "Pod", ("get",)),
            ("exec", "", "v1", "PodExecOptions", ("create", "get")),
            ("eviction", "policy", "v1", "Eviction", ("create",)),
        ),
    ),
    _rt("", "configmaps", "ConfigMap", short=("cm",)),
    _rt(
        "",
        "services",
        "Service",
        short=("svc",),
        categories=_ALL,
        subresources=(_status_sub("", "Service"),),
    ),
    _rt("", "secrets", "Secret"),
    _rt("", "serviceaccounts", "ServiceAccount", short=("sa",)),
    _rt("", "events", "Event", short=("ev",)),
    _rt(
        "",
        "namespaces",
        "Namespace",
        namespaced=False,
        short=("ns",),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        subresources=(
            ("finalize", "", "v1", "Namespace", ("update",)),
            _status_sub("", "Namespace"),
        ),
    ),
    _rt(
        "",
        "nodes",
        "Node",
        namespaced=False,
        short=("no",),
        subresources=(_status_sub("", "Node"),),
    ),
    _rt("", "persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",)),
    _rt("batch", "jobs", "Job", categories=_ALL),
    _rt("", "persistentvolumes", "PersistentVolume", namespaced=False, short=("pv",)),
    _rt(
        "apps",
        "deployments",
        "Deployment",
        short=("deploy",),
        categories=_ALL,
        subresources=(_SCALE_SUB, _status_sub("apps", "Deployment")),
    ),
    _rt(
        "apps",
        "replicasets",
        "ReplicaSet",
        short=("rs",),
        categories=_ALL,
        subresources=(_SCALE_SUB, _status_sub("apps", "ReplicaSet")),
    ),
    _rt(
        "apps",
        "statefulsets",
        "StatefulSet",
        short=("sts",),
        categories=_ALL,
        subresources=(_SCALE_SUB, _status_sub("apps", "StatefulSet")),
    ),
    _rt(
        "apps",
        "daemonsets",
        "DaemonSet",
        short=("ds",),
        categories=_ALL,
        subresources=(_status_sub("apps", "DaemonSet"),),
    ),
)

_BY_GVR: dict[tuple[str, str, str], ResourceType] = {
    (rt.group, rt.version, rt.name): rt for rt in RESOURCE_TYPES
}
_BY_KIND: dict[tuple[str, str], ResourceType] = {
    (rt.api_version, rt.kind): rt for rt in RESOURCE_TYPES
}
_GROUPS: dict[str, list[str]] = {}
for _r in RESOURCE_TYPES:
    if _r.group and _r.version not in _GROUPS.setdefault(_r.group, []):
        _GROUPS[_r.group].append(_r.version)

_DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


# ======================================================================================
# Small helpers
# ======================================================================================


def _truthy(value: str) -> bool:
    return value.lower() in ("true", "1", "yes")


def _short_hash(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()[:8]).decode()


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)


def _timestamp(when: _dt.datetime | None = None) -> str:
    return (when or _now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_timestamp(value: Any) -> _dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return _dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=_dt.timezone.utc)
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """Kubernetes' ``duration.HumanDuration`` (the AGE column format)."""
    s = int(seconds)
    if s < 0:
        s = 0
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m{rem}s" if rem else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rem = minutes % 60
        return f"{hours}h{rem}m" if rem else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rem = hours % 24
        return f"{hours // 24}d{rem}h" if rem else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


_GO_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _parse_go_duration(text: str) -> float | None:
    """Seconds in a Go duration string such as "32s" or "1m30s"; None if unparsable."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _GO_DURATION_UNITS[u] for n, u in parts)


def _age(obj: JSONDict) -> str:
    created = _parse_timestamp(obj.get("metadata", {}).get("creationTimestamp"))
    if created is None:
        return "<unknown>"
    return human_duration((_now() - created).total_seconds())


def _get_path(obj: Any, dotted: str) -> Any:
    cur = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _media_params(accept: str) -> list[tuple[str, dict[str, str]]]:
    result = []
    for item in accept.split(","):
        parts = [p.strip() for p in item.split(";")]
        if not parts[0]:
            continue
        params = {}
        for p in parts[1:]:
            if "=" in p:
                k, v = p.split("=", 1)
                params[k.strip()] = v.strip()
        result.append((parts[0].lower(), params))
    return result


def _wanted_meta_kind(accept: str) -> str | None:
    """The meta.k8s.io view (Table, PartialObjectMetadata[List]) the client asks for, if any.

    Respects the client's order of preference; a plain ``application/json`` earlier in
    the list wins over conversions listed after it.
    """
    for media, params in _media_params(accept):
        if media not in ("application/json", "*/*", "application/*"):
            continue
        as_kind = params.get("as")
        if as_kind is None:
            return None
        if params.get("g") == "meta.k8s.io" and as_kind in (
            "Table",
            "PartialObjectMetadata",
            "PartialObjectMetadataList",
        ):
            return as_kind
    return None


# ---- selectors ------------------------------------------------------------------------


class SelectorError(ValueError):
    pass


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    cur = ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


_SET_RE = re.compile(r"^([^\s!=()]+)\s+(in|notin)\s+\((.*)\)$")
_EQ_RE = re.compile(r"^([^\s!=()]+)\s*(==|=|!=)\s*([^\s]*)$")


def _label_selector_matches(selector: str, labels: Mapping[str, str]) -> bool:
    for req in _split_top_level(selector):
        m = _SET_RE.match(req)
        if m:
            key, op, values_text = m.groups()
            values = {v.strip() for v in values_text.split(",") if v.strip()}
            if op == "in" and labels.get(key) not in values:
                return False
            if op == "notin" and key in labels and labels[key] in values:
                return False
            continue
        m = _EQ_RE.match(req)
        if m:
            key, op, value = m.groups()
            if op in ("=", "==") and labels.get(key) != value:
                return False
            if op == "!=" and labels.get(key) == value:
                return False
            continue
        if req.startswith("!"):
            if req[1:].strip() in labels:
                return False
            continue
        if re.match(r"^[^\s!=()]+$", req):
            if req not in labels:
                return False
            continue
        raise SelectorError(f"unable to parse requirement: {req!r}")
    return True


def _field_selector_matches(selector: str, obj: JSONDict) -> bool:
    for req in _split_top_level(selector):
        m = _EQ_RE.match(req)
        if not m:
            raise SelectorError(f"invalid field selector requirement: {req!r}")
        path, op, value = m.groups()
        actual = _get_path(obj, path)
        if actual is None:
            actual_s = ""
        elif isinstance(actual, bool):
            actual_s = "true" if actual else "false"
        else:
            actual_s = str(actual)
        if op in ("=", "==") and actual_s != value:
            return False
        if op == "!=" and actual_s == value:
            return False
    return True


# ---- patches --------------------------------------------------------------------------


class PatchError(ValueError):
    pass


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _strategic_merge_patch(target: Any, patch: Any) -> Any:
    """An approximation of Kubernetes' strategic merge patch.

    Lists of objects that all carry a ``name`` key (containers, ports, env, volumes...)
    are merged by name; other lists are replaced.  ``$patch: delete|replace`` and the
    ``$setElementOrder``/``$retainKeys``/``$deleteFromPrimitiveList`` directives are
    honoured or dropped.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            real = key.split("/", 1)[1]
            if isinstance(result.get(real), list) and isinstance(value, list):
                result[real] = [v for v in result[real] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
            continue
        current = result.get(key)
        if isinstance(current, list) and _named_list(value) and _named_list(current):
            result[key] = _merge_named_lists(current, value)
        elif isinstance(value, dict):
            merged = _strategic_merge_patch(current, value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    return result


def _named_list(items: Any) -> bool:
    return (
        isinstance(items, list)
        and bool(items)
        and all(isinstance(i, dict) and "name" in i for i in items)
    )


def _merge_named_lists(current: list[Any], patch: list[Any]) -> list[Any]:
    result = copy.deepcopy(current)
    for item in patch:
        idx = next((i for i, c in enumerate(result) if c.get("name") == item["name"]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                del result[idx]
        elif idx is None:
            result.append({k: copy.deepcopy(v) for k, v in item.items() if k != "$patch"})
        else:
            result[idx] = _strategic_merge_patch(result[idx], item)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _json_patch(target: Any, ops: Any) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, test, copy, move)."""
    if not isinstance(ops, list):
        raise PatchError("JSON patch must be a list of operations")
    doc = copy.deepcopy(target)

    def resolve(tokens: list[str]) -> tuple[Any, str]:
        cur = doc
        for tok in tokens[:-1]:
            cur = cur[int(tok)] if isinstance(cur, list) else cur[tok]
        return cur, tokens[-1]

    def get(tokens: list[str]) -> Any:
        cur = doc
        for tok in tokens:
            cur = cur[int(tok)] if isinstance(cur, list) else cur[tok]
        return cur

    def add(tokens: list[str], value: Any) -> None:
        nonlocal doc
        if not tokens:
            doc = value
            return
        parent, last = resolve(tokens)
        if isinstance(parent, list):
            if last == "-":
                parent.append(value)
            else:
                parent.insert(int(last), value)
        else:
            parent[last] = value

    def remove(tokens: list[str]) -> Any:
        parent, last = resolve(tokens)
        if isinstance(parent, list):
            return parent.pop(int(last))
        return parent.pop(last)

    try:
        for op in ops:
            kind = op["op"]
            tokens = _pointer(op["path"])
            if kind == "add":
                add(tokens, copy.deepcopy(op["value"]))
            elif kind == "remove":
                remove(tokens)
            elif kind == "replace":
                get(tokens)  # must exist
                if tokens:
                    remove(tokens)
                add(tokens, copy.deepcopy(op["value"]))
            elif kind == "test":
                if get(tokens) != op["value"]:
                    raise PatchError(f"test operation failed at {op['path']}")
            elif kind == "copy":
                add(tokens, copy.deepcopy(get(_pointer(op["from"]))))
            elif kind == "move":
                add(tokens, remove(_pointer(op["from"])))
            else:
                raise PatchError(f"unsupported JSON patch op {kind!r}")
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        if isinstance(exc, PatchError):
            raise
        raise PatchError(f"cannot apply JSON patch: {exc!r}") from exc
    return doc


# ---- protobuf request bodies ----------------------------------------------------------
#
# kubectl's typed clients (``kubectl create namespace|configmap|secret|serviceaccount``)
# POST ``application/vnd.kubernetes.protobuf`` bodies.  Decoding them needs the message
# schemas; the handful below cover those generators.  Other kinds get a 415.

_PB_MAGIC = b"k8s\x00"
# A schema maps field number -> (json name, type); type is "string", "bytes" (JSON:
# base64), "bool", "int", "[string]" (repeated string), "{string}" (map<string,string>),
# "{bytes}" (map<string,bytes>) or a nested schema dict.
_PbSchema = dict[int, tuple[str, Any]]
_PB_OBJECT_META: _PbSchema = {
    1: ("name", "string"),
    2: ("generateName", "string"),
    3: ("namespace", "string"),
    11: ("labels", "{string}"),
    12: ("annotations", "{string}"),
    14: ("finalizers", "[string]"),
}
_PB_SCHEMAS: dict[str, _PbSchema] = {
    "ConfigMap": {
        1: ("metadata", _PB_OBJECT_META),
        2: ("data", "{string}"),
        3: ("binaryData", "{bytes}"),
        4: ("immutable", "bool"),
    },
    "Secret": {
        1: ("metadata", _PB_OBJECT_META),
        2: ("data", "{bytes}"),
        3: ("type", "string"),
        4: ("stringData", "{string}"),
        5: ("immutable", "bool"),
    },
    "Namespace": {1: ("metadata", _PB_OBJECT_META), 2: ("spec", {1: ("finalizers", "[string]")})},
    "ServiceAccount": {
        1: ("metadata", _PB_OBJECT_META),
        4: ("automountServiceAccountToken", "bool"),
    },
}


def _pb_fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """Yield (field number, wire type, value) from one protobuf message."""
    pos = 0

    def varint() -> int:
        nonlocal pos
        result = shift = 0
        while True:
            if pos >= len(data):
                raise ValueError("truncated varint")
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    while pos < len(data):
        key = varint()
        field_no, wire = key >> 3, key & 7
        if wire == 0:
            yield field_no, wire, varint()
        elif wire == 2:
            length = varint()
            if pos + length > len(data):
                raise ValueError("truncated field")
            yield field_no, wire, data[pos : pos + length]
            pos += length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            yield field_no, wire, data[pos : pos + size]
            pos += size
        else:
            raise ValueError(f"unsupported wire type {wire}")


def _pb_decode(data: bytes, schema: _PbSchema) -> JSONDict:
    out: JSONDict = {}
    for field_no, _wire, value in _pb_fields(data):
        if field_no not in schema:
            continue
        name, kind = schema[field_no]
        if isinstance(kind, dict):
            out[name] = _pb_decode(value, kind)
        elif kind == "string":
            if value:  # Go marshals empty optional strings; JSON omits them
                out[name] = value.decode()
        elif kind == "bytes":
            out[name] = base64.b64encode(value).decode()
        elif kind == "bool":
            out[name] = bool(value)
        elif kind == "int":
            out[name] = value
        elif kind == "[string]":
            out.setdefault(name, []).append(value.decode())
        else:  # map entry: key = 1, value = 2
            entry = {f: v for f, _w, v in _pb_fields(value)}
            key = entry.get(1, b"").decode()
            raw = entry.get(2, b"")
            out.setdefault(name, {})[key] = (
                base64.b64encode(raw).decode() if kind == "{bytes}" else raw.decode()
            )
    return out


def _decode_protobuf_object(body: bytes) -> JSONDict:
    """Decode a ``application/vnd.kubernetes.protobuf`` object body to its JSON form."""
    if not body.startswith(_PB_MAGIC):
        raise ValueError("missing k8s protobuf envelope")
    unknown = {f: v for f, _w, v in _pb_fields(body[len(_PB_MAGIC) :])}
    type_meta = {f: v for f, _w, v in _pb_fields(unknown.get(1, b""))}
    api_version = type_meta.get(1, b"").decode()
    kind = type_meta.get(2, b"").decode()
    schema = _PB_SCHEMAS.get(kind)
    if schema is None:
        raise LookupError(kind or "<unknown>")
    obj = _pb_decode(unknown.get(2, b""), schema)
    return {"apiVersion": api_version, "kind": kind, **obj}


# ---- path parsing ---------------------------------------------------------------------


@dataclass(frozen=True)
class _ResourcePath:
    group: str
    version: str
    resource: str
    namespace: str | None  # namespace segment (for namespaced resources)
    name: str | None
    subresource: str | None


def _parse_resource_path(path: str) -> _ResourcePath | None:
    segs = [unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []
    if len(segs) >= 2 and segs[0] == "api":
        group, version, rest = "", segs[1], segs[2:]
    elif len(segs) >= 3 and segs[0] == "apis":
        group, version, rest = segs[1], segs[2], segs[3:]
    else:
        return None
    if not rest:
        return None
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        return None
    return _ResourcePath(
        group=group,
        version=version,
        resource=rest[0],
        namespace=namespace,
        name=rest[1] if len(rest) > 1 else None,
        subresource=rest[2] if len(rest) > 2 else None,
    )


def _namespace_of(path: str) -> str | None:
    segs = path.strip("/").split("/")
    for i, seg in enumerate(segs[:-2]):
        if seg == "namespaces":
            return unquote(segs[i + 1])
    return None


def _split_prefix(path: str) -> tuple[str, str]:
    stripped = path.lstrip("/")
    first, _, rest = stripped.partition("/")
    if not first or first in ROOT_SEGMENTS:
        return "", "/" + stripped if stripped else "/"
    return unquote(first), "/" + rest


# ======================================================================================
# Errors and object templates
# ======================================================================================


class _APIError(Exception):
    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: JSONDict | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> JSONDict:
        return _status_object(self.code, self.reason, self.message, self.details)


def _status_object(
    code: int, reason: str, message: str, details: JSONDict | None = None
) -> JSONDict:
    obj: JSONDict = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        obj["details"] = details
    return obj


def _resource_ref(rt: ResourceType) -> str:
    return f"{rt.name}.{rt.group}" if rt.group else rt.name


def _not_found(rt: ResourceType, name: str) -> _APIError:
    details: JSONDict = {"name": name, "kind": rt.name}
    if rt.group:
        details["group"] = rt.group
    return _APIError(404, "NotFound", f'{_resource_ref(rt)} "{name}" not found', details)


def _pod_template(
    namespace: str, name: str, labels: Mapping[str, str], image: str, phase: str
) -> JSONDict:
    ready = phase == "Running"
    container_state: JSONDict = (
        {"running": {"startedAt": _timestamp()}} if ready else {"waiting": {"reason": "Pending"}}
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                }
            ],
            "dnsPolicy": "ClusterFirst",
            "enableServiceLinks": True,
            "nodeName": "node-1",
            "preemptionPolicy": "PreemptLowerPriority",
            "priority": 0,
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "serviceAccount": "default",
            "serviceAccountName": "default",
            "terminationGracePeriodSeconds": 30,
            "tolerations": [],
        },
        "status": {
            "phase": phase,
            "hostIP": "192.168.0.10",
            "podIP": f"10.244.0.{int(hashlib.sha1(name.encode()).hexdigest()[:2], 16)}",
            "qosClass": "BestEffort",
            "startTime": _timestamp(),
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": _timestamp()},
                {"type": "Ready", "status": str(ready), "lastTransitionTime": _timestamp()},
                {
                    "type": "ContainersReady",
                    "status": str(ready),
                    "lastTransitionTime": _timestamp(),
                },
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": _timestamp()},
            ],
            "containerStatuses": [
                {
                    "name": "app",
                    "image": image,
                    "imageID": "",
                    "containerID": f"containerd://{hashlib.sha1(name.encode()).hexdigest()}",
                    "ready": ready,
                    "started": ready,
                    "restartCount": 0,
                    "state": container_state,
                }
            ],
        },
    }


def _deployment_template(
    namespace: str, name: str, replicas: int, labels: Mapping[str, str], image: str
) -> JSONDict:
    selector = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {**selector, **labels}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(selector)},
            "template": {
                "metadata": {"labels": dict(selector)},
                "spec": {
                    "containers": [{"name": "app", "image": image, "resources": {}}],
                    "restartPolicy": "Always",
                },
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": {},
    }


def _sync_workload_status(rt: ResourceType, obj: JSONDict) -> None:
    """Make apps/v1 workloads look fully rolled out, instantly."""
    if rt.group != "apps":
        return
    spec = obj.setdefault("spec", {})
    meta = obj.setdefault("metadata", {})
    replicas = spec.get("replicas", 1) if rt.kind != "DaemonSet" else 1
    if not isinstance(replicas, int):
        replicas = 1
    status: JSONDict = {"observedGeneration": meta.get("generation", 1)}
    if rt.kind == "DaemonSet":
        status.update(
            currentNumberScheduled=1,
            desiredNumberScheduled=1,
            numberAvailable=1,
            numberMisscheduled=0,
            numberReady=1,
            updatedNumberScheduled=1,
        )
    else:
        status.update(
            replicas=replicas,
            readyReplicas=replicas,
            availableReplicas=replicas,
            updatedReplicas=replicas,
        )
        if rt.kind == "StatefulSet":
            status.update(currentReplicas=replicas)
        if rt.kind == "Deployment":
            ts = _timestamp()
            status["conditions"] = [
                {
                    "type": "Available",
                    "status": "True",
                    "reason": "MinimumReplicasAvailable",
                    "message": "Deployment has minimum availability.",
                    "lastTransitionTime": ts,
                    "lastUpdateTime": ts,
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable",
                    "message": f'ReplicaSet "{meta.get("name", "")}" has successfully progressed.',
                    "lastTransitionTime": ts,
                    "lastUpdateTime": ts,
                },
            ]
    obj["status"] = status


def _selector_string(obj: JSONDict) -> str:
    match = _get_path(obj, "spec.selector.matchLabels")
    if isinstance(match, dict):
        return ",".join(f"{k}={v}" for k, v in sorted(match.items()))
    return ""


# ---- Table conversion -----------------------------------------------------------------


def _col(
    name: str, type_: str = "string", fmt: str = "", priority: int = 0, desc: str = ""
) -> JSONDict:
    return {
        "name": name,
        "type": type_,
        "format": fmt,
        "description": desc or name,
        "priority": priority,
    }


def _name_col() -> JSONDict:
    return _col("Name", fmt="name", desc="Name must be unique within a namespace.")


def _age_col() -> JSONDict:
    return _col(
        "Age",
        desc="CreationTimestamp is a timestamp representing the server time when this object "
        "was created.",
    )


def _pod_cells(obj: JSONDict) -> list[Any]:
    statuses = _get_path(obj, "status.containerStatuses") or []
    containers = _get_path(obj, "spec.containers") or []
    ready = sum(1 for s in statuses if isinstance(s, dict) and s.get("ready"))
    restarts = sum(int(s.get("restartCount", 0)) for s in statuses if isinstance(s, dict))
    phase = _get_path(obj, "status.phase") or "Pending"
    if _get_path(obj, "metadata.deletionTimestamp"):
        phase = "Terminating"
    return [
        obj["metadata"]["name"],
        f"{ready}/{len(containers)}",
        phase,
        str(restarts),
        _age(obj),
        _get_path(obj, "status.podIP") or "<none>",
        _get_path(obj, "spec.nodeName") or "<none>",
    ]


def _deployment_cells(obj: JSONDict) -> list[Any]:
    containers = _get_path(obj, "spec.template.spec.containers") or []
    return [
        obj["metadata"]["name"],
        f"{_get_path(obj, 'status.readyReplicas') or 0}/{_get_path(obj, 'spec.replicas') or 0}",
        _get_path(obj, "status.updatedReplicas") or 0,
        _get_path(obj, "status.availableReplicas") or 0,
        _age(obj),
        ",".join(str(c.get("name", "")) for c in containers if isinstance(c, dict)),
        ",".join(str(c.get("image", "")) for c in containers if isinstance(c, dict)),
        _selector_string(obj) or "<none>",
    ]


_TABLES: dict[str, tuple[list[JSONDict], Callable[[JSONDict], list[Any]]]] = {
    "Pod": (
        [
            _name_col(),
            _col("Ready", desc="The aggregate readiness state of this pod for accepting traffic."),
            _col("Status", desc="The aggregate status of the containers in this pod."),
            _col(
                "Restarts",
                desc="The number of times the containers in this pod have been restarted.",
            ),
            _age_col(),
            _col("IP", priority=1, desc="IP address allocated to the pod."),
            _col("Node", priority=1, desc="Name of the node this pod is assigned to."),
        ],
        _pod_cells,
    ),
    "Deployment": (
        [
            _name_col(),
            _col("Ready", desc="Number of the pod with ready state"),
            _col(
                "Up-to-date",
                "integer",
                desc="Total number of non-terminated pods targeted by this deployment that have "
                "the desired template spec.",
            ),
            _col(
                "Available",
                "integer",
                desc="Total number of available pods (ready for at least minReadySeconds) "
                "targeted by this deployment.",
            ),
            _age_col(),
            _col("Containers", priority=1),
            _col("Images", priority=1),
            _col("Selector", priority=1),
        ],
        _deployment_cells,
    ),
    "Namespace": (
        [_name_col(), _col("Status"), _age_col()],
        lambda o: [o["metadata"]["name"], _get_path(o, "status.phase") or "Active", _age(o)],
    ),
    "ConfigMap": (
        [_name_col(), _col("Data", "integer"), _age_col()],
        lambda o: [
            o["metadata"]["name"],
            len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            _age(o),
        ],
    ),
    "Secret": (
        [_name_col(), _col("Type"), _col("Data", "integer"), _age_col()],
        lambda o: [
            o["metadata"]["name"],
            o.get("type", "Opaque"),
            len(o.get("data") or {}),
            _age(o),
        ],
    ),
    "Service": (
        [
            _name_col(),
            _col("Type"),
            _col("Cluster-IP"),
            _col("External-IP"),
            _col("Port(s)"),
            _age_col(),
        ],
        lambda o: [
            o["metadata"]["name"],
            _get_path(o, "spec.type") or "ClusterIP",
            _get_path(o, "spec.clusterIP") or "<none>",
            "<none>",
            ",".join(
                f"{p.get('port')}/{p.get('protocol', 'TCP')}"
                for p in (_get_path(o, "spec.ports") or [])
                if isinstance(p, dict)
            )
            or "<none>",
            _age(o),
        ],
    ),
}


def _partial_metadata(obj: JSONDict) -> JSONDict:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": copy.deepcopy(obj.get("metadata", {})),
    }


def _to_table(
    kind: str,
    items: list[JSONDict],
    resource_version: str,
    include_object: str,
    with_columns: bool = True,
) -> JSONDict:
    columns, cells_fn = _TABLES.get(
        kind, ([_name_col(), _age_col()], lambda o: [o["metadata"]["name"], _age(o)])
    )
    rows = []
    for obj in items:
        row: JSONDict = {"cells": cells_fn(obj)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = _partial_metadata(obj)
        rows.append(row)
    table: JSONDict = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns if with_columns else [],
        "rows": rows,
    }
    return table


# ======================================================================================
# Store
# ======================================================================================

_Key = tuple[str, str, str, str, str]  # prefix, group, resource, namespace ("" if cluster), name


@dataclass
class _WatchEvent:
    rv: int
    prefix: str
    rt: ResourceType
    namespace: str
    type: str
    obj: JSONDict


class _Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.objects: dict[_Key, JSONDict] = {}
        self.rv = 1000
        self.events: list[_WatchEvent] = []
        self.known_prefixes: set[str] = set()

    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def ensure_prefix(self, prefix: str) -> None:
        if prefix in self.known_prefixes:
            return
        self.known_prefixes.add(prefix)
        ns_rt = _BY_GVR[("", "v1", "namespaces")]
        for ns in _DEFAULT_NAMESPACES:
            self._insert_new(prefix, ns_rt, "", _namespace_object(ns))

    def ensure_namespace(self, prefix: str, namespace: str) -> None:
        self.ensure_prefix(prefix)
        ns_rt = _BY_GVR[("", "v1", "namespaces")]
        if (prefix, "", "namespaces", "", namespace) not in self.objects:
            self._insert_new(prefix, ns_rt, "", _namespace_object(namespace))

    def _insert_new(self, prefix: str, rt: ResourceType, namespace: str, obj: JSONDict) -> JSONDict:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _timestamp())
        if rt.group == "apps":
            meta.setdefault("generation", 1)
        if rt.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        _apply_defaults(rt, obj)
        _sync_workload_status(rt, obj)
        rv = self.next_rv()
        meta["resourceVersion"] = str(rv)
        self.objects[(prefix, rt.group, rt.name, namespace, meta["name"])] = obj
        self._emit(rv, prefix, rt, namespace, "ADDED", obj)
        return obj

    def _emit(
        self, rv: int, prefix: str, rt: ResourceType, namespace: str, type_: str, obj: JSONDict
    ) -> None:
        self.events.append(_WatchEvent(rv, prefix, rt, namespace, type_, copy.deepcopy(obj)))
        self.changed.notify_all()


def _apply_defaults(rt: ResourceType, obj: JSONDict) -> None:
    """The few defaults a real apiserver fills in on create that kubectl output shows."""
    meta = obj["metadata"]
    if rt.kind == "Namespace":
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif rt.kind == "Secret":
        obj.setdefault("type", "Opaque")
    elif rt.kind == "Pod":
        obj.setdefault("status", {}).setdefault("phase", "Pending")
    elif rt.kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        obj.setdefault("spec", {}).setdefault("replicas", 1)


def _namespace_object(name: str) -> JSONDict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


# ======================================================================================
# The server
# ======================================================================================


_CERT_LOCK = threading.Lock()
_CERT: tuple[Path, Path] | None = None


def self_signed_certificate() -> tuple[Path, Path]:
    """``(cert.pem, key.pem)`` of a self-signed EC certificate for 127.0.0.1/localhost.

    Generated once per process with the ``openssl`` CLI into a private temporary
    directory (removed when the interpreter exits).
    """
    global _CERT
    with _CERT_LOCK:
        if _CERT is not None and _CERT[0].exists() and _CERT[1].exists():
            return _CERT
        openssl = shutil.which("openssl")
        if openssl is None:
            raise RuntimeError("FakeAPIServer(tls=True) needs the openssl command-line tool")
        directory = Path(tempfile.mkdtemp(prefix="fake-apiserver-tls-"))
        atexit.register(shutil.rmtree, directory, True)
        cert, key = directory / "cert.pem", directory / "key.pem"
        cmd = [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "3650",
            "-subj",
            "/CN=kubesafe-fake-apiserver",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"openssl failed to create a test certificate: {proc.stderr}")
        _CERT = (cert, key)
        return _CERT


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeAPIServer
    ssl_context: ssl.SSLContext | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        # TLS handshake failures and dropped connections are the client's business (some
        # tests provoke them on purpose); anything else is a bug in the fake server.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, TimeoutError)):
            return
        self.fake._errors.append(f"connection from {client_address}\n{traceback.format_exc()}")


class FakeAPIServer:
    """Fake kube-apiserver on ``127.0.0.1:<ephemeral port>``; see the module docstring."""

    def __init__(
        self,
        git_version: str = "v1.33.2",
        require_token: str | None = None,
        *,
        anonymous_version: bool = True,
        serve_tables: bool = True,
        tls: bool = False,
        port: int = 0,
        client_ca: str | None = None,
    ) -> None:
        self.git_version = git_version
        self.require_token = require_token
        self.anonymous_version = anonymous_version
        #: When False, Table/PartialObjectMetadata Accept requests get plain JSON objects.
        self.serve_tables = serve_tables
        #: Serve HTTPS with a self-signed certificate (see :attr:`ca_data`).  Needed for
        #: anything involving credentials: client-go ignores a kubeconfig user's token,
        #: client certificate and exec plugin entirely when the server URL is http://.
        self.tls = tls or client_ca is not None
        #: PEM file of the CA (or self-signed certificate) that client certificates must
        #: chain to: with it, the TLS handshake fails without a valid client certificate.
        self.client_ca = client_ca
        self._client_subjects: list[str] = []
        self._requested_port = port
        self._store = _Store()
        self._requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()
        self._versions: dict[str, str] = {}
        self._version_payloads: dict[str, JSONDict] = {}
        self._tokens: dict[str, str | None] = {}
        self._interceptors: list[Interceptor] = []
        self._errors: list[str] = []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()

    # ---- lifecycle ----------------------------------------------------------------

    def start(self) -> FakeAPIServer:
        if self._httpd is not None:
            return self
        httpd = _HTTPServer(("127.0.0.1", self._requested_port), _Handler)
        httpd.fake = self
        # stop() then start() comes back on the same port, as a restarted API server does.
        self._requested_port = int(httpd.server_address[1])
        if self.tls:
            cert, key = self_signed_certificate()
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            ctx.set_alpn_protocols(["http/1.1"])
            if self.client_ca is not None:
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(self.client_ca)
            httpd.ssl_context = ctx
        self._httpd = httpd
        self._stopping.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeAPIServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        self._stopping.set()
        with self._store.changed:
            self._store.changed.notify_all()
        httpd.shutdown()
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeAPIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeAPIServer is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` when ``tls=True``)."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_pem(self) -> str | None:
        """PEM of the server certificate (its own CA) when ``tls=True``, else None."""
        if not self.tls:
            return None
        return self_signed_certificate()[0].read_text()

    @property
    def ca_data(self) -> str | None:
        """:attr:`ca_pem` base64-encoded, for a kubeconfig's ``certificate-authority-data``."""
        pem = self.ca_pem
        if pem is None:
            return None
        return base64.b64encode(pem.encode()).decode()

    def cluster_url(self, prefix: str = "") -> str:
        """The ``server:`` URL of the fake cluster ``prefix`` ("" = no prefix)."""
        _check_prefix(prefix)
        return f"{self.url}/{prefix}" if prefix else self.url

    # ---- recorded requests --------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot (copy) of all requests recorded so far, oldest first."""
        with self._requests_lock:
            return list(self._requests)

    def clear(self) -> None:
        """Forget recorded requests (objects, versions, tokens and :attr:`errors` are kept)."""
        with self._requests_lock:
            self._requests.clear()

    def find_requests(
        self,
        method: str | None = None,
        *,
        prefix: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        path: str | None = None,
        include_discovery: bool = True,
    ) -> list[RecordedRequest]:
        """Recorded requests matching every given criterion."""
        out = []
        for req in self.requests:
            if method is not None and req.method != method.upper():
                continue
            if prefix is not None and req.prefix != prefix:
                continue
            if resource is not None and req.resource != resource:
                continue
            if namespace is not None and req.namespace != namespace:
                continue
            if name is not None and req.name != name:
                continue
            if path is not None and req.path != path:
                continue
            if not include_discovery and req.is_discovery:
                continue
            out.append(req)
        return out

    def resource_requests(self) -> list[RecordedRequest]:
        """Requests that addressed API resources (no discovery, /version, openapi...)."""
        return [r for r in self.requests if r.resource is not None]

    @property
    def errors(self) -> list[str]:
        """Tracebacks of unexpected exceptions inside the server (should stay empty)."""
        return list(self._errors)

    def _record(self, req: RecordedRequest) -> None:
        with self._requests_lock:
            self._requests.append(req)

    # ---- configuration ------------------------------------------------------------

    def set_version(self, prefix: str, git_version: str, *, minor: str | None = None) -> None:
        """Serve ``git_version`` on ``/<prefix>/version``; major/minor are derived from it
        unless ``minor`` is given (e.g. EKS-style ``"29+"``).  Clears a payload override."""
        self._versions[prefix] = git_version
        self._version_payloads.pop(prefix, None)
        if minor is not None:
            self._version_payloads[prefix] = {**self.version_payload(prefix), "minor": minor}

    def set_version_payload(self, prefix: str, payload: Mapping[str, Any]) -> None:
        """Serve exactly ``payload`` (e.g. ``{"minor": "29+", ...}``) on ``/<prefix>/version``."""
        self._version_payloads[prefix] = dict(payload)

    def version_payload(self, prefix: str = "") -> JSONDict:
        if prefix in self._version_payloads:
            return dict(self._version_payloads[prefix])
        git_version = self._versions.get(prefix, self.git_version)
        m = re.match(r"^v?(\d+)\.(\d+)", git_version)
        major, minor = (m.group(1), m.group(2)) if m else ("", "")
        return {
            "major": major,
            "minor": minor,
            "gitVersion": git_version,
            "gitCommit": hashlib.sha1(git_version.encode()).hexdigest(),
            "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z",
            "goVersion": "go1.24.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    def client_subjects(self) -> list[str]:
        """Common names of the client certificates presented, one per connection."""
        return list(self._client_subjects)

    def set_required_token(self, prefix: str, token: str | None) -> None:
        """Per-prefix override of ``require_token`` (None = this prefix needs no token)."""
        self._tokens[prefix] = token

    def required_token(self, prefix: str) -> str | None:
        return self._tokens.get(prefix, self.require_token)

    def intercept(self, fn: Interceptor) -> Callable[[], None]:
        """Register ``fn(request) -> FakeResponse | None``; it runs after recording and
        authentication, before normal handling.  Returns a function that unregisters it."""
        self._interceptors.append(fn)

        def remove() -> None:
            if fn in self._interceptors:
                self._interceptors.remove(fn)

        return remove

    def kubeconfig(
        self,
        prefix: str = "",
        *,
        token: str | None = None,
        namespace: str | None = None,
        context: str = "fake",
        cluster: str | None = None,
        user: str = "fake-user",
    ) -> JSONDict:
        """A one-context kubeconfig (as a dict) pointing at cluster ``prefix``.

        With ``tls=True`` the cluster entry carries ``certificate-authority-data``.  Note
        that kubectl only sends ``token`` to an https server.
        """
        cluster_name = cluster or prefix or "fake-cluster"
        ctx: JSONDict = {"cluster": cluster_name, "user": user}
        if namespace:
            ctx["namespace"] = namespace
        cluster_entry: JSONDict = {"server": self.cluster_url(prefix)}
        if self.ca_data is not None:
            cluster_entry["certificate-authority-data"] = self.ca_data
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster_name, "cluster": cluster_entry}],
            "users": [{"name": user, "user": {"token": token} if token else {}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
            "preferences": {},
        }

    # ---- objects ------------------------------------------------------------------

    def add_object(self, prefix: str, manifest: Mapping[str, Any]) -> JSONDict:
        """Store a copy of ``manifest`` (needs apiVersion, kind, metadata.name and, for
        namespaced kinds, metadata.namespace — "default" if missing); returns it as stored.
        Replaces an existing object of the same name."""
        _check_prefix(prefix)
        obj = copy.deepcopy(dict(manifest))
        rt = _BY_KIND.get((str(obj.get("apiVersion", "")), str(obj.get("kind", ""))))
        if rt is None:
            raise ValueError(f"unsupported kind {obj.get('apiVersion')}/{obj.get('kind')}")
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise ValueError("manifest needs metadata.name")
        namespace = str(meta.get("namespace") or "default") if rt.namespaced else ""
        with self._store.lock:
            self._store.ensure_prefix(prefix)
            if namespace:
                self._store.ensure_namespace(prefix, namespace)
            key = (prefix, rt.group, rt.name, namespace, meta["name"])
            if key in self._store.objects:
                self._delete_key(key, rt)
            return copy.deepcopy(self._store._insert_new(prefix, rt, namespace, obj))

    def add_namespace(self, prefix: str, name: str) -> JSONDict:
        return self.add_object(prefix, _namespace_object(name))

    def add_pod(
        self,
        prefix: str,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str] | None = None,
        image: str = "nginx:1.27",
        phase: str = "Running",
    ) -> JSONDict:
        return self.add_object(prefix, _pod_template(namespace, name, labels or {}, image, phase))

    def add_deployment(
        self,
        prefix: str,
        namespace: str,
        name: str,
        replicas: int = 1,
        *,
        labels: Mapping[str, str] | None = None,
        image: str = "nginx:1.27",
    ) -> JSONDict:
        return self.add_object(
            prefix, _deployment_template(namespace, name, replicas, labels or {}, image)
        )

    def add_configmap(
        self, prefix: str, namespace: str, name: str, data: Mapping[str, str] | None = None
    ) -> JSONDict:
        return self.add_object(
            prefix,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": namespace},
                "data": dict(data or {}),
            },
        )

    def get_object(
        self, prefix: str, resource: str, namespace: str | None, name: str
    ) -> JSONDict | None:
        """A copy of a stored object; ``resource`` is a plural name ("pods", "deployments")."""
        rt = _resource_by_plural(resource)
        with self._store.lock:
            obj = self._store.objects.get((prefix, rt.group, rt.name, namespace or "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def list_objects(
        self, prefix: str, resource: str, namespace: str | None = None
    ) -> list[JSONDict]:
        """Copies of stored objects of ``resource`` in ``namespace`` (None = all)."""
        rt = _resource_by_plural(resource)
        with self._store.lock:
            self._store.ensure_prefix(prefix)
            return [
                copy.deepcopy(obj)
                for (p, g, r, ns, _), obj in sorted(self._store.objects.items())
                if p == prefix
                and g == rt.group
                and r == rt.name
                and (namespace is None or ns == namespace)
            ]

    def _delete_key(self, key: _Key, rt: ResourceType, *, orphan: bool = False) -> JSONDict:
        """Delete one object, its namespace's contents, and (like the garbage collector,
        at once) every object whose ownerReferences name it, unless ``orphan``."""
        store = self._store
        obj = store.objects.pop(key)
        rv = store.next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        store._emit(rv, key[0], rt, key[3], "DELETED", obj)
        if rt.name == "namespaces":
            for other in [k for k in store.objects if k[0] == key[0] and k[3] == key[4]]:
                if other in store.objects:
                    self._delete_key(other, _BY_GVR_ANY[(other[1], other[2])])
        if rt.name == "persistentvolumeclaims":
            # The volume controller deletes a bound volume whose reclaim policy is Delete.
            for other, volume in list(store.objects.items()):
                spec = volume.get("spec") or {}
                claim = spec.get("claimRef") or {}
                if (
                    other[0] == key[0]
                    and other[2] == "persistentvolumes"
                    and (claim.get("namespace"), claim.get("name")) == (key[3], key[4])
                    and spec.get("persistentVolumeReclaimPolicy", "Delete") == "Delete"
                    and other in store.objects
                ):
                    self._delete_key(other, _BY_GVR_ANY[(other[1], other[2])])
        uid = obj["metadata"].get("uid")
        dependents = [
            k
            for k, o in store.objects.items()
            if k[0] == key[0]
            and any(ref.get("uid") == uid for ref in o["metadata"].get("ownerReferences") or [])
        ]
        for dependent in dependents:
            if dependent not in store.objects:
                continue
            if orphan:
                meta = store.objects[dependent]["metadata"]
                meta["ownerReferences"] = [
                    ref for ref in meta["ownerReferences"] if ref.get("uid") != uid
                ]
            else:
                self._delete_key(dependent, _BY_GVR_ANY[(dependent[1], dependent[2])])
        return obj

    # ---- request handling (called from handler threads) ---------------------------

    def _handle(self, handler: _Handler, method: str, body: bytes) -> None:
        raw_path = handler.path
        split = urlsplit(raw_path)
        prefix, path = _split_prefix(split.path)
        query = parse_qs(split.query, keep_blank_values=True)
        # A repeated header (Impersonate-Group) keeps every value, joined as HTTP allows.
        headers = {
            k: ", ".join(handler.headers.get_all(k) or [])
            for k in dict.fromkeys(handler.headers.keys())
        }
        req = RecordedRequest(
            method=method,
            raw_path=raw_path,
            prefix=prefix,
            path=path,
            query=query,
            authorization=handler.headers.get("Authorization"),
            namespace=_namespace_of(path),
            headers=headers,
            body=body,
            time=time.monotonic(),
        )
        self._record(req)

        token = self.required_token(prefix)
        anonymous_ok = self.anonymous_version and path.rstrip("/") == "/version"
        if token is not None and req.authorization != f"Bearer {token}" and not anonymous_ok:
            handler.send_json(401, _APIError(401, "Unauthorized", "Unauthorized").status())
            return

        try:
            for fn in list(self._interceptors):
                canned = fn(req)
                if canned is not None:
                    if canned.delay:
                        self._stopping.wait(canned.delay)
                    if canned.drip_interval > 0:
                        self._drip(handler, canned)
                        return
                    handler.send_bytes(
                        canned.status, canned.encoded(), canned.content_type, canned.headers
                    )
                    return
            self._dispatch(handler, req)
        except _APIError as exc:
            handler.send_json(exc.code, exc.status())
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception:
            tb = traceback.format_exc()
            self._errors.append(f"{method} {raw_path}\n{tb}")
            handler.send_json(500, _status_object(500, "InternalError", tb.splitlines()[-1]))

    def _drip(self, handler: _Handler, canned: FakeResponse) -> None:
        data = canned.encoded()
        handler.start_chunked(canned.status, canned.content_type)
        for start in range(0, len(data), canned.drip_bytes):
            if self._stopping.wait(canned.drip_interval if start else 0):
                return
            handler.write_chunk(data[start : start + canned.drip_bytes])
        handler.end_chunked()

    def _dispatch(self, handler: _Handler, req: RecordedRequest) -> None:
        path = req.path.rstrip("/") or "/"
        method = req.method
        if method not in ("GET", "HEAD") and _parse_resource_path(path) is None:
            raise _APIError(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            )
        if path == "/":
            handler.send_json(
                200,
                {
                    "paths": sorted(
                        [
                            "/api",
                            "/api/v1",
                            "/apis",
                            "/apis/apps",
                            "/apis/apps/v1",
                            "/healthz",
                            "/livez",
                            "/readyz",
                            "/version",
                        ]
                    )
                },
            )
            return
        if path == "/version":
            handler.send_json(200, self.version_payload(req.prefix))
            return
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(
            ("/healthz/", "/livez/", "/readyz/")
        ):
            handler.send_bytes(200, b"ok", "text/plain; charset=utf-8")
            return
        if path == "/openapi/v3":
            handler.send_json(200, _openapi_v3_index(self.version_payload(req.prefix)))
            return
        if path.startswith("/openapi/v3/"):
            gv_path = path[len("/openapi/v3/") :]
            doc = _openapi_v3_doc(gv_path, str(self.version_payload(req.prefix).get("gitVersion")))
            if doc is not None:
                handler.send_json(200, doc)
                return
        if path == "/api":
            handler.send_json(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}
                    ],
                },
            )
            return
        if path == "/api/v1":
            handler.send_json(200, _resource_list("", "v1"))
            return
        if path == "/apis":
            handler.send_json(
                200,
                {
                    "kind": "APIGroupList",
                    "apiVersion": "v1",
                    "groups": [_api_group(g) for g in sorted(_GROUPS)],
                },
            )
            return
        m = re.fullmatch(r"/apis/([^/]+)(?:/([^/]+))?", path)
        if m:
            group, version = m.group(1), m.group(2)
            if group in _GROUPS and version is None:
                handler.send_json(200, _api_group(group))
                return
            if group in _GROUPS and version in _GROUPS[group]:
                handler.send_json(200, _resource_list(group, version))
                return
        rp = _parse_resource_path(path)
        if rp is None:
            raise _APIError(404, "NotFound", "the server could not find the requested resource", {})
        rt = _BY_GVR.get((rp.group, rp.version, rp.resource))
        if rt is None:
            raise _APIError(404, "NotFound", "the server could not find the requested resource", {})
        if rp.namespace is not None and not rt.namespaced:
            raise _APIError(404, "NotFound", "the server could not find the requested resource", {})
        _Request(self, handler, req, rt, rp).run()


_BY_GVR_ANY: dict[tuple[str, str], ResourceType] = {
    (rt.group, rt.name): rt for rt in RESOURCE_TYPES
}


def _resource_by_plural(resource: str) -> ResourceType:
    matches = [rt for rt in RESOURCE_TYPES if resource in (rt.name, rt.singular, *rt.short_names)]
    if not matches:
        raise ValueError(f"unknown resource {resource!r}")
    return matches[0]


def _check_prefix(prefix: str) -> None:
    if "/" in prefix or prefix in ROOT_SEGMENTS:
        raise ValueError(f"invalid cluster prefix {prefix!r}")


def _group_versions() -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    for rt in RESOURCE_TYPES:
        if (rt.group, rt.version) not in seen:
            seen.append((rt.group, rt.version))
    return seen


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _openapi_v3_index(version: Mapping[str, Any]) -> JSONDict:
    """``/openapi/v3``: where each group-version's OpenAPI v3 document lives.

    The URLs are server-relative *without* the cluster prefix, like a real apiserver
    behind a path-prefixing proxy; client-go prepends its own prefix.
    """
    token = _short_hash(json.dumps(version, sort_keys=True)).replace("/", "_").replace("+", "-")
    return {
        "paths": {
            _gv_path(g, v): {"serverRelativeURL": f"/openapi/v3/{_gv_path(g, v)}?hash={token}"}
            for g, v in _group_versions()
        }
    }


def _openapi_v3_doc(gv_path: str, git_version: str) -> JSONDict | None:
    """A minimal OpenAPI v3 document for one group-version.

    It only declares, for each kind, a PATCH operation (tagged with
    ``x-kubernetes-group-version-kind``) that accepts the ``fieldValidation`` and
    ``dryRun`` query parameters.  That is what kubectl checks to decide that the server
    validates fields itself (so ``kubectl apply``/``create`` skip client-side schema
    validation).  Without a ``requestBody`` kubectl computes strategic merge patches
    from its compiled-in types.  No schemas are provided.
    """
    match = [(g, v) for g, v in _group_versions() if _gv_path(g, v) == gv_path]
    if not match:
        return None
    group, version = match[0]
    paths: JSONDict = {}
    for rt in RESOURCE_TYPES:
        if (rt.group, rt.version) != (group, version):
            continue
        base = f"/{gv_path}/namespaces/{{namespace}}" if rt.namespaced else f"/{gv_path}"
        params = [
            {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
            for name in ("dryRun", "fieldManager", "fieldValidation")
        ]
        paths[f"{base}/{rt.name}/{{name}}"] = {
            "patch": {
                "operationId": f"patch{rt.kind}",
                "parameters": params,
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {
                    "group": rt.group,
                    "version": rt.version,
                    "kind": rt.kind,
                },
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": git_version},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _api_group(group: str) -> JSONDict:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in _GROUPS[group]]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": versions,
        "preferredVersion": versions[0],
    }


def _resource_list(group: str, version: str) -> JSONDict:
    resources: list[JSONDict] = []
    for rt in RESOURCE_TYPES:
        if (rt.group, rt.version) == (group, version):
            resources.extend(rt.discovery_entries())
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


# ======================================================================================
# Resource request handling
# ======================================================================================


class _Request:
    def __init__(
        self,
        server: FakeAPIServer,
        handler: _Handler,
        req: RecordedRequest,
        rt: ResourceType,
        rp: _ResourcePath,
    ) -> None:
        self.server = server
        self.store = server._store
        self.handler = handler
        self.req = req
        self.rt = rt
        self.rp = rp
        self.prefix = req.prefix
        self.namespace = rp.namespace or ""
        # client-go sends a DELETE's dryRun in the DeleteOptions body, not the query.
        self.dry_run = bool(req.query.get("dryRun")) or (
            req.method == "DELETE" and bool(self.body_delete_options().get("dryRun"))
        )

    def q(self, name: str, default: str = "") -> str:
        values = self.req.query.get(name)
        return values[-1] if values else default

    # -- helpers --

    def key(self, name: str) -> _Key:
        ns = self.namespace if self.rt.namespaced else ""
        return (self.prefix, self.rt.group, self.rt.name, ns, name)

    def existing(self, name: str) -> JSONDict:
        obj = self.store.objects.get(self.key(name))
        if obj is None:
            raise _not_found(self.rt, name)
        return obj

    def body_json(self) -> Any:
        ctype = self.req.content_type.split(";")[0].strip().lower()
        if ctype == "application/vnd.kubernetes.protobuf":
            try:
                return _decode_protobuf_object(self.req.body)
            except LookupError as exc:
                raise _APIError(
                    415,
                    "UnsupportedMediaType",
                    f"the fake apiserver cannot decode protobuf bodies of kind {exc.args[0]} "
                    f"(supported: {', '.join(sorted(_PB_SCHEMAS))}); send JSON instead",
                ) from exc
            except (ValueError, UnicodeDecodeError) as exc:
                raise _APIError(400, "BadRequest", f"cannot decode protobuf body: {exc}") from exc
        try:
            return json.loads(self.req.body or b"null")
        except ValueError:
            return self.body_yaml()

    def body_yaml(self) -> Any:
        try:
            import yaml
        except ImportError as exc:  # pragma: no cover
            raise _APIError(415, "UnsupportedMediaType", "body is not JSON") from exc
        try:
            return yaml.safe_load(self.req.body)
        except yaml.YAMLError as exc:
            raise _APIError(400, "BadRequest", f"cannot decode body: {exc}") from exc

    def send_object(self, code: int, obj: JSONDict) -> None:
        want = _wanted_meta_kind(self.req.accept) if self.server.serve_tables else None
        if want == "Table":
            table = _to_table(
                self.rt.kind,
                [obj],
                obj["metadata"].get("resourceVersion", ""),
                self.q("includeObject", "Metadata"),
            )
            self.handler.send_json(code, table, _TABLE_CONTENT_TYPE)
        elif want in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            self.handler.send_json(code, _partial_metadata(obj))
        else:
            self.handler.send_json(code, obj)

    def matching(self, namespace: str | None) -> list[JSONDict]:
        label_sel = self.q("labelSelector")
        field_sel = self.q("fieldSelector")
        out = []
        try:
            for (p, g, r, ns, _), obj in sorted(self.store.objects.items()):
                if p != self.prefix or g != self.rt.group or r != self.rt.name:
                    continue
                if namespace is not None and ns != namespace:
                    continue
                if label_sel and not _label_selector_matches(
                    label_sel, obj["metadata"].get("labels") or {}
                ):
                    continue
                if field_sel and not _field_selector_matches(field_sel, obj):
                    continue
                out.append(obj)
        except SelectorError as exc:
            raise _APIError(400, "BadRequest", str(exc)) from exc
        return out

    def check_body(self, obj: Any, name: str | None) -> JSONDict:
        if not isinstance(obj, dict):
            raise _APIError(400, "BadRequest", "the body of the request was in an unknown format")
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise _APIError(400, "BadRequest", "metadata must be an object")
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if api_version not in (None, "", self.rt.api_version):
            raise _APIError(
                400,
                "BadRequest",
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({self.rt.api_version})",
            )
        if kind not in (None, "", self.rt.kind):
            raise _APIError(
                400, "BadRequest", f"the kind in the data ({kind}) does not match {self.rt.kind}"
            )
        body_ns = meta.get("namespace")
        if self.rt.namespaced and body_ns and body_ns != self.namespace:
            raise _APIError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on "
                "the request",
            )
        if name is not None and meta.get("name") not in (None, name):
            raise _APIError(
                400, "BadRequest", "the name of the object does not match the name on the URL"
            )
        return obj

    # -- verbs --

    def run(self) -> None:
        method = self.req.method
        rp = self.rp
        with self.store.lock:
            self.store.ensure_prefix(self.prefix)
        if rp.subresource is not None:
            self.subresource(method, rp.name or "", rp.subresource)
            return
        if method in ("GET", "HEAD"):
            if rp.name is None:
                if _truthy(self.q("watch")):
                    self.watch()
                else:
                    self.list()
            else:
                with self.store.lock:
                    obj = copy.deepcopy(self.existing(rp.name))
                self.send_object(200, obj)
        elif method == "POST" and rp.name is None:
            self.create()
        elif method == "PUT" and rp.name is not None:
            self.update(rp.name)
        elif method == "PATCH" and rp.name is not None:
            self.patch(rp.name)
        elif method == "DELETE":
            if rp.name is None:
                self.delete_collection()
            else:
                self.delete(rp.name)
        else:
            raise _APIError(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            )

    def list(self) -> None:
        if self.rt.namespaced and self.rp.namespace is None:
            namespace = None
        else:
            namespace = self.namespace if self.rt.namespaced else ""
        with self.store.lock:
            items = copy.deepcopy(self.matching(namespace))
            rv = str(self.store.rv)
        want = _wanted_meta_kind(self.req.accept) if self.server.serve_tables else None
        if want == "Table":
            table = _to_table(self.rt.kind, items, rv, self.q("includeObject", "Metadata"))
            self.handler.send_json(200, table, _TABLE_CONTENT_TYPE)
            return
        if want in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            self.handler.send_json(
                200,
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": {"resourceVersion": rv},
                    "items": [_partial_metadata(o) for o in items],
                },
            )
            return
        metadata: JSONDict = {"resourceVersion": rv}
        limit = int(self.q("limit", "0") or 0)
        start = int(self.q("continue", "0") or 0)
        if limit > 0 or start:
            # Pagination as the real server does it: a continue token and, for a plain
            # LIST, how many items remain after this page.
            end = start + limit if limit > 0 else len(items)
            if end < len(items):
                metadata["continue"] = str(end)
                metadata["remainingItemCount"] = len(items) - end
            items = items[start:end]
        self.handler.send_json(
            200,
            {
                "kind": f"{self.rt.kind}List",
                "apiVersion": self.rt.api_version,
                "metadata": metadata,
                "items": items,
            },
        )

    def create(self) -> None:
        obj = self.check_body(self.body_json(), None)
        meta = obj["metadata"]
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
            else:
                raise _APIError(
                    422,
                    "Invalid",
                    f'{self.rt.kind} "" is invalid: metadata.name: Required value: name or '
                    "generateName is required",
                )
        name = meta["name"]
        for k in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
            meta.pop(k, None)
        with self.store.lock:
            if self.key(name) in self.store.objects:
                raise _APIError(
                    409,
                    "AlreadyExists",
                    f'{_resource_ref(self.rt)} "{name}" already exists',
                    {
                        "name": name,
                        "kind": self.rt.name,
                        **({"group": self.rt.group} if self.rt.group else {}),
                    },
                )
            if self.dry_run:
                result = self.preview_new(obj)
            else:
                if self.rt.namespaced:
                    self.store.ensure_namespace(self.prefix, self.namespace)
                result = copy.deepcopy(
                    self.store._insert_new(
                        self.prefix, self.rt, self.namespace if self.rt.namespaced else "", obj
                    )
                )
        self.send_object(201, result)

    def preview_new(self, obj: JSONDict) -> JSONDict:
        obj = copy.deepcopy(obj)
        meta = obj["metadata"]
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _timestamp())
        if self.rt.namespaced:
            meta["namespace"] = self.namespace
        obj["apiVersion"], obj["kind"] = self.rt.api_version, self.rt.kind
        _apply_defaults(self.rt, obj)
        _sync_workload_status(self.rt, obj)
        return obj

    def store_update(
        self, name: str, new: JSONDict, old: JSONDict, *, status_write: bool = False
    ) -> JSONDict:
        """Store (unless dry-run) ``new`` as the next version of ``old``.

        Like a real apiserver, writes to the main resource keep the old ``status`` when the
        resource has a status subresource; ``status_write`` is for that subresource.
        """
        if (
            not status_write
            and "status" in old
            and any(sub[0] == "status" for sub in self.rt.subresources)
        ):
            new["status"] = copy.deepcopy(old["status"])
        meta = new.setdefault("metadata", {})
        old_meta = old["metadata"]
        for k in ("uid", "creationTimestamp", "name"):
            meta[k] = old_meta.get(k)
        if self.rt.namespaced:
            meta["namespace"] = self.namespace
        else:
            meta.pop("namespace", None)
        new["apiVersion"], new["kind"] = self.rt.api_version, self.rt.kind
        if self.rt.group == "apps":
            gen = old_meta.get("generation", 1)
            meta["generation"] = gen + 1 if new.get("spec") != old.get("spec") else gen
        _sync_workload_status(self.rt, new)
        if self.dry_run:
            meta["resourceVersion"] = old_meta.get("resourceVersion")
            return copy.deepcopy(new)
        rv = self.store.next_rv()
        meta["resourceVersion"] = str(rv)
        self.store.objects[self.key(name)] = new
        self.store._emit(
            rv, self.prefix, self.rt, self.namespace if self.rt.namespaced else "", "MODIFIED", new
        )
        return copy.deepcopy(new)

    def conflict(self, name: str) -> _APIError:
        return _APIError(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {_resource_ref(self.rt)} "{name}": the object has '
            "been modified; please apply your changes to the latest version and try again",
            {"name": name, "kind": self.rt.name},
        )

    def update(self, name: str) -> None:
        obj = self.check_body(self.body_json(), name)
        with self.store.lock:
            old = self.existing(name)
            rv = obj["metadata"].get("resourceVersion")
            if rv and rv != old["metadata"].get("resourceVersion"):
                raise self.conflict(name)
            result = self.store_update(name, obj, old)
        self.send_object(200, result)

    def apply_patch(self, target: JSONDict) -> JSONDict:
        ctype = self.req.content_type.split(";")[0].strip().lower()
        try:
            if ctype == "application/json-patch+json":
                result = _json_patch(target, self.body_json())
            elif ctype == "application/merge-patch+json":
                result = _merge_patch(target, self.body_json())
            elif ctype == "application/strategic-merge-patch+json":
                result = _strategic_merge_patch(target, self.body_json())
            elif ctype == "application/apply-patch+yaml":
                result = _strategic_merge_patch(target, self.body_yaml())
            else:
                raise _APIError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types "
                    f"include: application/json-patch+json, application/merge-patch+json, "
                    f"application/apply-patch+yaml (got {ctype!r})",
                )
        except PatchError as exc:
            raise _APIError(422, "Invalid", str(exc)) from exc
        if not isinstance(result, dict):
            raise _APIError(422, "Invalid", "patch did not produce an object")
        return result

    def patch(self, name: str) -> None:
        is_apply = self.req.content_type.lower().startswith("application/apply-patch")
        with self.store.lock:
            old = self.store.objects.get(self.key(name))
            if old is None:
                if not is_apply:
                    raise _not_found(self.rt, name)
                obj = self.check_body(self.body_yaml(), name)
                obj["metadata"]["name"] = name
                if self.dry_run:
                    result = self.preview_new(obj)
                else:
                    if self.rt.namespaced:
                        self.store.ensure_namespace(self.prefix, self.namespace)
                    result = copy.deepcopy(
                        self.store._insert_new(
                            self.prefix, self.rt, self.namespace if self.rt.namespaced else "", obj
                        )
                    )
                self.send_object(201, result)
                return
            new = self.apply_patch(old)
            rv = _get_path(new, "metadata.resourceVersion")
            if rv and rv != old["metadata"].get("resourceVersion"):
                raise self.conflict(name)
            result = self.store_update(name, new, old)
        self.send_object(200, result)

    def delete(self, name: str) -> None:
        with self.store.lock:
            obj = self.existing(name)
            precond = self.body_delete_options().get("preconditions") or {}
            if precond.get("uid") and precond["uid"] != obj["metadata"].get("uid"):
                raise self.conflict(name)
            if precond.get("resourceVersion") and precond["resourceVersion"] != obj["metadata"].get(
                "resourceVersion"
            ):
                raise self.conflict(name)
            if self.dry_run:
                result = copy.deepcopy(obj)
            else:
                result = copy.deepcopy(
                    self.server._delete_key(self.key(name), self.rt, orphan=self.orphan())
                )
        self.send_object(200, result)

    def orphan(self) -> bool:
        policy = self.body_delete_options().get("propagationPolicy") or self.q("propagationPolicy")
        return policy == "Orphan" or self.body_delete_options().get("orphanDependents") is True

    def body_delete_options(self) -> JSONDict:
        if not self.req.body:
            return {}
        try:
            opts = json.loads(self.req.body)
        except ValueError:
            return {}
        return opts if isinstance(opts, dict) else {}

    def delete_collection(self) -> None:
        if self.rt.namespaced and self.rp.namespace is None:
            raise _APIError(405, "MethodNotAllowed", "deletecollection needs a namespace")
        with self.store.lock:
            items = self.matching(self.namespace if self.rt.namespaced else "")
            deleted = []
            for obj in list(items):
                name = obj["metadata"]["name"]
                deleted.append(
                    copy.deepcopy(obj)
                    if self.dry_run
                    else copy.deepcopy(self.server._delete_key(self.key(name), self.rt))
                )
            rv = str(self.store.rv)
        self.handler.send_json(
            200,
            {
                "kind": f"{self.rt.kind}List",
                "apiVersion": self.rt.api_version,
                "metadata": {"resourceVersion": rv},
                "items": deleted,
            },
        )

    # -- subresources --

    def subresource(self, method: str, name: str, sub: str) -> None:
        known = {s[0] for s in self.rt.subresources}
        upgrade = (self.req.header("Upgrade") or "").lower()
        if sub == "exec" and self.rt.name == "pods" and upgrade == "websocket":
            with self.store.lock:
                self.existing(name)
            self.handler.websocket_exec(self.req)
            return
        if sub not in known or sub in ("exec", "log", "eviction", "finalize"):
            if sub == "log" and method == "GET":
                with self.store.lock:
                    self.existing(name)
                self.handler.send_bytes(200, b"", "text/plain")
                return
            raise _APIError(404, "NotFound", "the server could not find the requested resource", {})
        with self.store.lock:
            obj = self.existing(name)
            if sub == "status":
                if method == "GET":
                    result = copy.deepcopy(obj)
                elif method == "PUT":
                    body = self.check_body(self.body_json(), name)
                    new = copy.deepcopy(obj)
                    new["status"] = body.get("status", {})
                    result = self.store_update(name, new, obj, status_write=True)
                elif method == "PATCH":
                    patched = self.apply_patch(obj)
                    new = copy.deepcopy(obj)
                    new["status"] = patched.get("status", {})
                    result = self.store_update(name, new, obj, status_write=True)
                else:
                    raise _APIError(405, "MethodNotAllowed", "method not allowed on status")
                self.send_object(200, result)
                return
            # scale
            scale = self._scale_of(obj)
            if method == "GET":
                result = scale
            elif method in ("PUT", "PATCH"):
                if method == "PUT":
                    body = self.body_json()
                    if not isinstance(body, dict):
                        raise _APIError(400, "BadRequest", "invalid Scale")
                    rv = _get_path(body, "metadata.resourceVersion")
                    if rv and rv != obj["metadata"].get("resourceVersion"):
                        raise self.conflict(name)
                    new_scale = body
                else:
                    new_scale = self.apply_patch(scale)
                replicas = _get_path(new_scale, "spec.replicas")
                if not isinstance(replicas, int) or replicas < 0:
                    raise _APIError(
                        422,
                        "Invalid",
                        f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value',
                    )
                new = copy.deepcopy(obj)
                new.setdefault("spec", {})["replicas"] = replicas
                stored = self.store_update(name, new, obj)
                result = self._scale_of(stored)
            else:
                raise _APIError(405, "MethodNotAllowed", "method not allowed on scale")
        self.handler.send_json(200, result)

    def _scale_of(self, obj: JSONDict) -> JSONDict:
        meta = obj["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": _get_path(obj, "spec.replicas") or 0},
            "status": {
                "replicas": _get_path(obj, "status.replicas") or 0,
                "selector": _selector_string(obj),
            },
        }

    # -- watch --

    def watch(self) -> None:
        if self.rt.namespaced and self.rp.namespace is None:
            namespace: str | None = None
        else:
            namespace = self.namespace if self.rt.namespaced else ""
        want = _wanted_meta_kind(self.req.accept) if self.server.serve_tables else None
        include_object = self.q("includeObject", "Metadata")
        label_sel = self.q("labelSelector")
        field_sel = self.q("fieldSelector")
        try:
            timeout = float(self.q("timeoutSeconds") or _MAX_WATCH_SECONDS)
        except ValueError:
            timeout = _MAX_WATCH_SECONDS
        request_timeout = _parse_go_duration(self.q("timeout"))
        if request_timeout:
            timeout = min(timeout, request_timeout)
        deadline = time.monotonic() + min(timeout, _MAX_WATCH_SECONDS)
        start_rv = self.q("resourceVersion")
        send_initial = _truthy(self.q("sendInitialEvents")) or start_rv in ("", "0")
        first_table = True

        def matches(ev_ns: str, obj: JSONDict) -> bool:
            if namespace is not None and ev_ns != namespace:
                return False
            try:
                if label_sel and not _label_selector_matches(
                    label_sel, obj["metadata"].get("labels") or {}
                ):
                    return False
                if field_sel and not _field_selector_matches(field_sel, obj):
                    return False
            except SelectorError:
                return False
            return True

        def encode(type_: str, obj: JSONDict) -> bytes:
            nonlocal first_table
            out = obj
            if type_ != "BOOKMARK":
                if want == "Table":
                    out = _to_table(
                        self.rt.kind,
                        [obj],
                        obj["metadata"].get("resourceVersion", ""),
                        include_object,
                        first_table,
                    )
                    first_table = False
                elif want in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                    out = _partial_metadata(obj)
            return json.dumps({"type": type_, "object": out}).encode() + b"\n"

        with self.store.lock:
            initial: list[bytes] = []
            if send_initial:
                for obj in self.matching(namespace):
                    initial.append(encode("ADDED", obj))
                last = self.store.rv
            else:
                try:
                    last = int(start_rv)
                except ValueError:
                    raise _APIError(
                        400, "BadRequest", f"invalid resourceVersion {start_rv!r}"
                    ) from None
            if _truthy(self.q("sendInitialEvents")):
                initial.append(
                    encode(
                        "BOOKMARK",
                        {
                            "kind": self.rt.kind,
                            "apiVersion": self.rt.api_version,
                            "metadata": {
                                "resourceVersion": str(self.store.rv),
                                "annotations": {"k8s.io/initial-events-end": "true"},
                            },
                        },
                    )
                )
        content_type = _TABLE_CONTENT_TYPE if want == "Table" else "application/json"
        self.handler.start_chunked(200, content_type)
        try:
            for chunk in initial:
                self.handler.write_chunk(chunk)
            while not self.server._stopping.is_set():
                with self.store.changed:
                    pending = [
                        ev
                        for ev in self.store.events
                        if ev.rv > last and ev.prefix == self.prefix and ev.rt is self.rt
                    ]
                    if not pending:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            break
                        self.store.changed.wait(min(remaining, 0.25))
                        continue
                for ev in pending:
                    last = max(last, ev.rv)
                    if matches(ev.namespace, ev.obj):
                        self.handler.write_chunk(encode(ev.type, ev.obj))
            self.handler.end_chunked()
        except OSError:
            self.handler.close_connection = True


# ======================================================================================
# HTTP plumbing
# ======================================================================================


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    server_version = "FakeKubeAPIServer/1.0"
    sys_version = ""
    timeout = 60.0  # idle keep-alive connections and stalled TLS handshakes

    def setup(self) -> None:
        # As Go's net/http does: without it the head and body writes meet Nagle and
        # delayed ACKs, and every response takes ~40 ms (benchmarks would measure that).
        with contextlib.suppress(OSError):
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = self.server.ssl_context
        if ctx is not None:
            # Handshake here, in the connection's own thread, not in the accept loop.
            self.request.settimeout(self.timeout)
            self.request = ctx.wrap_socket(self.request, server_side=True)
            peer = self.request.getpeercert()
            if peer:
                names = [v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"]
                self.server.fake._client_subjects.extend(names[:1])
        super().setup()
        fake = self.server.fake
        with fake._conn_lock:
            fake._connections.add(self.connection)

    def finish(self) -> None:
        fake = self.server.fake
        with fake._conn_lock:
            fake._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = b""
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        try:
            body = self._read_body()
            self.server.fake._handle(self, self.command, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_PATCH = _serve
    do_DELETE = _serve
    do_OPTIONS = _serve
    do_HEAD = _serve

    def send_bytes(
        self,
        code: int,
        data: bytes,
        content_type: str = "application/json",
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        if code == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="kubernetes-master"')
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def send_json(self, code: int, obj: Any, content_type: str = "application/json") -> None:
        self.send_bytes(code, json.dumps(obj).encode(), content_type)

    def start_chunked(self, code: int, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()

    def write_chunk(self, data: bytes) -> None:
        if not data:
            return
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- exec over WebSocket (the v5/v4 channel protocols kubectl >= 1.30 speaks) --

    def websocket_exec(self, req: RecordedRequest) -> None:
        """Run nothing: write the command line to stdout, report success, close.

        ``kubectl exec POD -- echo hi`` prints ``echo hi``. Channel 1 is stdout, channel
        3 the final Status; the client's frames are not read.
        """
        protocols = [p.strip() for p in (req.header("Sec-WebSocket-Protocol") or "").split(",")]
        chosen = next((p for p in ("v5.channel.k8s.io", "v4.channel.k8s.io") if p in protocols), "")
        key = req.header("Sec-WebSocket-Key") or ""
        if not chosen or not key:
            self.send_json(400, _status_object(400, "BadRequest", "no supported subprotocol"))
            return
        magic = (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()
        accept = base64.b64encode(hashlib.sha1(magic).digest()).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.send_header("Sec-WebSocket-Protocol", chosen)
        self.end_headers()
        output = " ".join(req.query.get("command", [])) + "\n"
        self._websocket_frame(b"\x01" + output.encode())
        success = {"metadata": {}, "status": "Success"}
        self._websocket_frame(b"\x03" + json.dumps(success).encode())
        self._websocket_frame(b"\x03\xe8", opcode=8)  # close, 1000 normal
        self.close_connection = True

    def _websocket_frame(self, payload: bytes, opcode: int = 2) -> None:
        size = len(payload)
        if size < 126:
            header = bytes([0x80 | opcode, size])
        elif size < 65536:
            header = bytes([0x80 | opcode, 126]) + size.to_bytes(2, "big")
        else:
            header = bytes([0x80 | opcode, 127]) + size.to_bytes(8, "big")
        self.wfile.write(header + payload)
        self.wfile.flush()


# ======================================================================================
# Kubeconfig helper
# ======================================================================================


def write_kubeconfig(path: Path | str, config: Mapping[str, Any]) -> Path:
    """Write a kubeconfig dict (e.g. from :meth:`FakeAPIServer.kubeconfig`) as JSON —
    valid YAML, which kubectl accepts — with mode 0600.  Returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(config, indent=2) + "\n")
    target.chmod(0o600)
    return target
