"""A stand-in Kubernetes API server on 127.0.0.1 for the demo, enough for real kubectl.

One server plays three clusters: ``http://127.0.0.1:PORT/dev``, ``/staging`` and
``/prod`` each have their own objects (see :mod:`kubesafe.demo.objects`). It
answers what kubectl 1.31+ asks for ``get``, ``describe``, ``delete``, ``scale``
and ``apply -f``:

* ``/version`` and legacy discovery (``/api``, ``/apis``...). kubectl first asks
  for aggregated discovery; a plain ``application/json`` answer makes it fall
  back to the legacy documents.
* ``/openapi/v3``: without it ``apply`` refuses to run. Each group-version gets a
  stub declaring that PATCH accepts ``fieldValidation``, so kubectl leaves
  validation to the server and builds its patches from compiled-in types.
* list/get (as a ``Table`` when kubectl asks for one), create, update, patch,
  delete, the ``scale`` subresource, and watches that only send the initial
  state (enough for ``delete`` waiting until the object is gone).

Plain HTTP without credentials: client-go sends none to an ``http://`` server.
"""

from __future__ import annotations

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from kubesafe.demo.objects import (
    BY_PATH,
    BY_PLURAL,
    CLUSTERS,
    DEMO_VERSION,
    JSON,
    RESOURCES,
    Resource,
    finish_new,
    merge_patch,
    pod_events,
    starting_objects,
    sync_status,
    table,
)

# (cluster, group, plural, namespace, name)
Key = tuple[str, str, str, str, str]
_MAX_WATCH = 60.0


class APIError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason

    def status(self) -> JSON:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": str(self),
            "reason": self.reason,
            "code": self.code,
        }


def _not_found(resource: Resource, name: str) -> APIError:
    what = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
    return APIError(404, "NotFound", f'{what} "{name}" not found')


class DemoAPIServer:
    """Serve the demo clusters from a background thread until :meth:`stop`."""

    def __init__(self, version: str = DEMO_VERSION) -> None:
        self.version = version
        self.lock = threading.Lock()
        self.objects: dict[Key, JSON] = {}
        self.resource_version = 100
        self.stopping = threading.Event()
        self._http = _HTTPServer(self)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        for cluster in CLUSTERS:
            self._seed(cluster)

    def _seed(self, cluster: str) -> None:
        for plural, namespace, obj in starting_objects(cluster):
            created = self.insert(cluster, BY_PLURAL[plural], namespace, obj)
            if plural == "pods":
                for item in pod_events(created):
                    self.insert(cluster, BY_PLURAL["events"], namespace, item)

    def start(self) -> DemoAPIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> DemoAPIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def cluster_url(self, cluster: str) -> str:
        return f"{self.url}/{cluster}"

    def insert(self, cluster: str, resource: Resource, namespace: str, obj: JSON) -> JSON:
        """Store a new object (the caller holds the lock, or nothing else runs yet)."""
        self.resource_version += 1
        ns = namespace if resource.namespaced else ""
        finish_new(resource, obj, ns, self.resource_version)
        self.objects[(cluster, resource.group, resource.plural, ns, obj["metadata"]["name"])] = obj
        return obj

    def find(self, cluster: str, plural: str, namespace: str, name: str) -> JSON | None:
        """An object as stored now (for tests and the tour)."""
        group = BY_PLURAL[plural].group
        with self.lock:
            found = self.objects.get((cluster, group, plural, namespace, name))
            return copy.deepcopy(found) if found is not None else None

    def version_payload(self) -> JSON:
        major, minor = self.version.removeprefix("v").split(".")[:2]
        return {
            "major": major,
            "minor": minor,
            "gitVersion": self.version,
            "gitCommit": "0" * 40,
            "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z",
            "goVersion": "go1.24.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        }


def _discovery(path: str) -> JSON | None:
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    groups = sorted({r.group for r in RESOURCES if r.group})
    if path == "/apis":
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g) for g in groups]}
    for group in groups:
        if path == f"/apis/{group}":
            return _group(group)
    for group in ("", *groups):
        prefix = f"/apis/{group}/v1" if group else "/api/v1"
        if path == prefix:
            entries = [e for r in RESOURCES if r.group == group for e in r.discovery()]
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{group}/v1" if group else "v1",
                "resources": entries,
            }
    return None


def _group(group: str) -> JSON:
    version = {"groupVersion": f"{group}/v1", "version": "v1"}
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": [version],
        "preferredVersion": version,
    }


def _openapi(path: str, version: str) -> JSON | None:
    group_paths = {"api/v1": "", "apis/apps/v1": "apps"}
    if path == "/openapi/v3":
        return {
            "paths": {
                gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={version}"} for gv in group_paths
            }
        }
    gv = path.removeprefix("/openapi/v3/")
    if gv not in group_paths:
        return None
    params = [
        {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
        for name in ("dryRun", "fieldManager", "fieldValidation")
    ]
    paths = {}
    for resource in RESOURCES:
        if resource.group != group_paths[gv]:
            continue
        scope = "/namespaces/{namespace}" if resource.namespaced else ""
        paths[f"/{gv}{scope}/{resource.plural}/{{name}}"] = {
            "patch": {
                "parameters": params,
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {
                    "group": resource.group,
                    "version": "v1",
                    "kind": resource.kind,
                },
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _lookup(obj: JSON, dotted: str) -> str:
    value: Any = obj
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _selected(obj: JSON, labels: str, fields: str) -> bool:
    """Equality-based selectors (``a=b``, ``a==b``, ``a!=b``, ``a``), all must hold."""
    own_labels = obj["metadata"].get("labels") or {}
    for term in filter(None, labels.split(",")):
        key, negate, value = _term(term)
        matched = key in own_labels if value is None else own_labels.get(key) == value
        if matched == negate:
            return False
    for term in filter(None, fields.split(",")):
        key, negate, value = _term(term)
        if (_lookup(obj, key) == (value or "")) == negate:
            return False
    return True


def _term(term: str) -> tuple[str, bool, str | None]:
    for operator, negate in (("!=", True), ("==", False), ("=", False)):
        key, found, value = term.partition(operator)
        if found:
            return key.strip(), negate, value.strip()
    if term.startswith("!"):
        return term[1:].strip(), True, None
    return term.strip(), False, None


class _Call:
    """One request to a resource path, already split into its parts."""

    def __init__(self, handler: _Handler, cluster: str, parts: list[str], query: JSON) -> None:
        self.handler = handler
        self.demo = handler.server.demo
        self.cluster = cluster
        self.query = query
        group = "" if parts[0] == "api" else parts[1]
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        self.namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            self.namespace, rest = rest[1], rest[2:]
        resource = BY_PATH.get((group, rest[0])) if rest else None
        if resource is None or len(rest) > 3 or (self.namespace and not resource.namespaced):
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        self.resource = resource
        self.name = rest[1] if len(rest) > 1 else ""
        self.sub = rest[2] if len(rest) > 2 else ""
        self.all_namespaces = resource.namespaced and not self.namespace

    def q(self, name: str) -> str:
        values = self.query.get(name) or [""]
        return str(values[-1])

    def key(self, name: str) -> Key:
        return (self.cluster, self.resource.group, self.resource.plural, self.namespace, name)

    def existing(self) -> JSON:
        obj = self.demo.objects.get(self.key(self.name))
        if obj is None:
            raise _not_found(self.resource, self.name)
        return obj

    def matching(self) -> list[JSON]:
        return [
            obj
            for (cluster, group, plural, ns, _), obj in sorted(self.demo.objects.items())
            if (cluster, group, plural) == (self.cluster, self.resource.group, self.resource.plural)
            and (self.all_namespaces or ns == self.namespace)
            and _selected(obj, self.q("labelSelector"), self.q("fieldSelector"))
        ]

    def reply(self, code: int, obj: JSON) -> None:
        if "as=Table" in self.handler.headers.get("Accept", ""):
            items = obj["items"] if obj.get("kind", "").endswith("List") else [obj]
            kind = self.resource.kind
            answer = table(kind, items, self.q("includeObject") or "Metadata")
            self.handler.send_json(code, answer, "application/json;as=Table;v=v1;g=meta.k8s.io")
        else:
            self.handler.send_json(code, obj)

    def run(self, method: str, body: Any) -> None:
        if self.sub == "log" and self.resource.kind == "Pod" and method == "GET":
            with self.demo.lock:
                self.existing()
            self.handler.send_text(f"{self.name}: a stand-in pod in the kubesafe demo; no logs.\n")
        elif self.sub:
            if self.sub != "scale" or not self.resource.scalable:
                raise APIError(404, "NotFound", "the server could not find the requested resource")
            self.scale(method, body)
        elif method == "GET" and not self.name:
            if self.q("watch") in ("1", "true"):
                self.watch()
                return
            with self.demo.lock:
                items = copy.deepcopy(self.matching())
            kind = f"{self.resource.kind}List"
            listed = {"kind": kind, "apiVersion": self.resource.api_version, "items": items}
            self.reply(200, {**listed, "metadata": {"resourceVersion": "1"}})
        elif method == "GET":
            with self.demo.lock:
                self.reply(200, copy.deepcopy(self.existing()))
        elif method == "POST" and not self.name:
            self.create(body)
        elif method in ("PUT", "PATCH") and self.name:
            self.update(method, body)
        elif method == "DELETE" and self.name:
            with self.demo.lock:
                obj = self.existing()
                if not self.q("dryRun"):
                    del self.demo.objects[self.key(self.name)]
            self.reply(200, obj)
        else:
            raise APIError(405, "MethodNotAllowed", "method not allowed here")

    def create(self, body: Any) -> None:
        if not isinstance(body, dict) or not body.get("metadata", {}).get("name"):
            raise APIError(422, "Invalid", "metadata.name: Required value")
        name = body["metadata"]["name"]
        with self.demo.lock:
            if self.key(name) in self.demo.objects:
                raise APIError(409, "AlreadyExists", f'{self.resource.plural} "{name}" exists')
            if self.q("dryRun"):
                obj = finish_new(self.resource, body, self.namespace, 0)
            else:
                obj = self.demo.insert(self.cluster, self.resource, self.namespace, body)
            self.reply(201, copy.deepcopy(obj))

    def update(self, method: str, body: Any) -> None:
        with self.demo.lock:
            old = self.existing()
            new = merge_patch(old, body) if method == "PATCH" else body
            if not isinstance(new, dict):
                raise APIError(400, "BadRequest", "the body is not an object")
            self.reply(200, self.store(old, new))

    def store(self, old: JSON, new: JSON) -> JSON:
        new = copy.deepcopy(new)
        meta = new.setdefault("metadata", {})
        for field in ("name", "namespace", "uid", "creationTimestamp"):
            if field in old["metadata"]:
                meta[field] = old["metadata"][field]
        new["apiVersion"], new["kind"] = self.resource.api_version, self.resource.kind
        if new.get("spec") != old.get("spec") and "generation" in old["metadata"]:
            meta["generation"] = old["metadata"]["generation"] + 1
        sync_status(self.resource, new)
        if self.q("dryRun"):
            return new
        self.demo.resource_version += 1
        meta["resourceVersion"] = str(self.demo.resource_version)
        self.demo.objects[self.key(self.name)] = new
        return copy.deepcopy(new)

    def scale(self, method: str, body: Any) -> None:
        with self.demo.lock:
            obj = self.existing()
            if method in ("PUT", "PATCH"):
                replicas = merge_patch({}, body).get("spec", {}).get("replicas")
                if not isinstance(replicas, int) or replicas < 0:
                    raise APIError(422, "Invalid", "spec.replicas: Invalid value")
                obj = self.store(obj, merge_patch(obj, {"spec": {"replicas": replicas}}))
            elif method != "GET":
                raise APIError(405, "MethodNotAllowed", "method not allowed on scale")
            meta = obj["metadata"]
            self.handler.send_json(
                200,
                {
                    "kind": "Scale",
                    "apiVersion": "autoscaling/v1",
                    "metadata": {k: meta[k] for k in ("name", "namespace", "resourceVersion")},
                    "spec": {"replicas": obj["spec"]["replicas"]},
                    "status": {"replicas": obj["status"]["replicas"], "selector": ""},
                },
            )

    def watch(self) -> None:
        """The current objects (and the end-of-initial-events bookmark when asked), then
        silence until the client gives up: nothing in the demo changes behind kubectl."""
        initial = self.q("sendInitialEvents") == "true"
        with self.demo.lock:
            wanted = initial or self.q("resourceVersion") in ("", "0")
            items = copy.deepcopy(self.matching()) if wanted else []
        lines = [{"type": "ADDED", "object": obj} for obj in items]
        if initial:
            bookmark = {
                "kind": self.resource.kind,
                "apiVersion": self.resource.api_version,
                "metadata": {
                    "resourceVersion": str(self.demo.resource_version),
                    "annotations": {"k8s.io/initial-events-end": "true"},
                },
            }
            lines.append({"type": "BOOKMARK", "object": bookmark})
        handler = self.handler
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for line in lines:
            data = json.dumps(line).encode() + b"\n"
            handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()
        try:
            limit = min(float(self.q("timeoutSeconds") or _MAX_WATCH), _MAX_WATCH)
        except ValueError:
            limit = _MAX_WATCH
        self.demo.stopping.wait(limit)
        handler.wfile.write(b"0\r\n\r\n")
        handler.close_connection = True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, demo: DemoAPIServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.demo = demo


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubesafe-demo"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_json(self, code: int, obj: JSON, content_type: str = "application/json") -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_text(self, text: str) -> None:
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            # kubectl sends JSON for everything the demo supports; protobuf (the typed
            # `kubectl create configmap ...` generators) is not understood.
            raise APIError(415, "UnsupportedMediaType", "the demo server only reads JSON") from None

    def _serve(self) -> None:
        demo = self.server.demo
        split = urlsplit(self.path)
        cluster, _, path = split.path.lstrip("/").partition("/")
        path = "/" + path.rstrip("/")
        try:
            body = self._body()
            if cluster not in CLUSTERS:
                raise APIError(404, "NotFound", f"no cluster {cluster!r} in the demo")
            if path == "/version":
                self.send_json(200, demo.version_payload())
                return
            if path in ("/healthz", "/livez", "/readyz"):
                self.send_json(200, {"status": "ok"})
                return
            found = _discovery(path) or (
                _openapi(path, demo.version) if path.startswith("/openapi/v3") else None
            )
            if found is not None:
                self.send_json(200, found)
                return
            parts = [unquote(p) for p in path.strip("/").split("/")]
            if len(parts) < 3 or parts[0] not in ("api", "apis"):
                raise APIError(404, "NotFound", "the server could not find the requested resource")
            call = _Call(self, cluster, parts, parse_qs(split.query))
            call.run(self.command, body)
        except APIError as exc:
            self.send_json(exc.code, exc.status())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
