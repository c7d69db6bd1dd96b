"""What the demo clusters hold: resource types, starting objects, table rows, patches.

Plain dicts in the shape the Kubernetes API uses, so that real kubectl can
print, describe and patch them. Only what the demo needs; nothing is validated.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

CLUSTERS = ("dev", "staging", "prod")
DEMO_VERSION = "v1.33.9"


@dataclass(frozen=True)
class Resource:
    group: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    scalable: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/v1" if self.group else "v1"

    def discovery(self) -> list[JSON]:
        verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
        entry: JSON = {
            "name": self.plural,
            "singularName": self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": verbs,
            "shortNames": list(self.short_names),
        }
        if self.kind in ("Pod", "Deployment", "ReplicaSet"):
            entry["categories"] = ["all"]
        entries = [entry]
        if self.scalable:
            entries.append(
                {
                    "name": f"{self.plural}/scale",
                    "singularName": "",
                    "namespaced": True,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
        return entries


RESOURCES = (
    Resource("", "pods", "Pod", short_names=("po",)),
    Resource("", "configmaps", "ConfigMap", short_names=("cm",)),
    Resource("", "events", "Event", short_names=("ev",)),
    Resource("", "namespaces", "Namespace", namespaced=False, short_names=("ns",)),
    Resource("apps", "deployments", "Deployment", short_names=("deploy",), scalable=True),
    Resource("apps", "replicasets", "ReplicaSet", short_names=("rs",), scalable=True),
)
BY_PATH = {(r.group, r.plural): r for r in RESOURCES}
BY_PLURAL = {r.plural: r for r in RESOURCES}


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def finish_new(resource: Resource, obj: JSON, namespace: str, version: int) -> JSON:
    """Fill in what the API server sets on create."""
    meta = obj.setdefault("metadata", {})
    meta.setdefault("uid", str(uuid.uuid4()))
    meta.setdefault("creationTimestamp", now())
    meta["resourceVersion"] = str(version)
    if resource.namespaced:
        meta["namespace"] = namespace
    obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
    if resource.kind == "Deployment":
        meta.setdefault("generation", 1)
        obj.setdefault("spec", {}).setdefault("replicas", 1)
    if resource.kind == "Namespace":
        obj["status"] = {"phase": "Active"}
    sync_status(resource, obj)
    return obj


def sync_status(resource: Resource, obj: JSON) -> None:
    """Deployments roll out instantly: status always mirrors spec.replicas."""
    if resource.kind != "Deployment":
        return
    replicas = obj.get("spec", {}).get("replicas", 1)
    obj["status"] = {
        "observedGeneration": obj["metadata"].get("generation", 1),
        "replicas": replicas,
        "readyReplicas": replicas,
        "updatedReplicas": replicas,
        "availableReplicas": replicas,
    }


def pod(name: str, app: str, image: str) -> JSON:
    started = now()
    ip = f"10.0.0.{sum(name.encode()) % 250 + 2}"
    return {
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {
            "containers": [{"name": app, "image": image}],
            "nodeName": "node-1",
            "restartPolicy": "Always",
            "serviceAccountName": "default",
        },
        "status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "hostIP": "192.168.1.10",
            "startTime": started,
            "qosClass": "BestEffort",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {
                    "name": app,
                    "image": image,
                    "imageID": "",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": started}},
                }
            ],
        },
    }


def deployment(name: str, replicas: int, image: str) -> JSON:
    labels = {"app": name}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


def event(pod_obj: JSON, number: int, reason: str, message: str) -> JSON:
    meta = pod_obj["metadata"]
    return {
        # kubectl describe lists events in the server's order, which is by name here.
        "metadata": {"name": f"{meta['name']}.{number}-{reason.lower()}"},
        "involvedObject": {
            "kind": "Pod",
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta["uid"],
            "apiVersion": "v1",
        },
        "reason": reason,
        "message": message,
        "type": "Normal",
        "count": 1,
        "firstTimestamp": meta["creationTimestamp"],
        "lastTimestamp": meta["creationTimestamp"],
        "source": {"component": "kubelet", "host": "node-1"},
    }


def starting_objects(cluster: str) -> list[tuple[str, str, JSON]]:
    """(plural, namespace, object) for a fresh cluster; pods first, their events after."""
    web_image = "nginx:1.27" if cluster == "prod" else "nginx:1.28"
    objects: list[tuple[str, str, JSON]] = [
        ("namespaces", "", {"metadata": {"name": name}})
        for name in ("default", "kube-system", "shop")
    ]
    objects += [
        ("deployments", "default", deployment("web", 2, web_image)),
        ("deployments", "default", deployment("api", 1, "ghcr.io/example/api:2.4")),
        ("pods", "default", pod("web-0", "web", web_image)),
        ("pods", "default", pod("web-1", "web", web_image)),
        ("pods", "default", pod("api-7c9d8b6f5-x2lq4", "api", "ghcr.io/example/api:2.4")),
    ]
    return objects


def pod_events(pod_obj: JSON) -> list[JSON]:
    image = pod_obj["spec"]["containers"][0]["image"]
    name = pod_obj["metadata"]["name"]
    return [
        event(pod_obj, 1, "Scheduled", f"Successfully assigned default/{name} to node-1"),
        event(pod_obj, 2, "Pulled", f'Container image "{image}" already present on machine'),
        event(pod_obj, 3, "Started", "Started container"),
    ]


def _age(obj: JSON) -> str:
    created = obj["metadata"].get("creationTimestamp", "")
    try:
        then = datetime.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc
        )
    except ValueError:
        return "<unknown>"
    seconds = int((datetime.datetime.now(datetime.timezone.utc) - then).total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _column(name: str, priority: int = 0) -> JSON:
    return {"name": name, "type": "string", "format": "", "description": name, "priority": priority}


def _pod_row(obj: JSON) -> list[Any]:
    statuses = obj.get("status", {}).get("containerStatuses", [])
    ready = sum(1 for s in statuses if s.get("ready"))
    containers = len(obj.get("spec", {}).get("containers", []))
    return [
        obj["metadata"]["name"],
        f"{ready}/{containers}",
        obj.get("status", {}).get("phase", "Pending"),
        str(sum(s.get("restartCount", 0) for s in statuses)),
        _age(obj),
        obj.get("status", {}).get("podIP", "<none>"),
        obj.get("spec", {}).get("nodeName", "<none>"),
    ]


def _deployment_row(obj: JSON) -> list[Any]:
    status = obj.get("status", {})
    return [
        obj["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{obj.get('spec', {}).get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(obj),
    ]


def table(kind: str, items: list[JSON], include_object: str) -> JSON:
    """The ``meta.k8s.io/v1`` Table kubectl asks for when it prints ``get`` output."""
    if kind == "Pod":
        columns = [_column(n) for n in ("Name", "Ready", "Status", "Restarts", "Age")]
        columns += [_column("IP", 1), _column("Node", 1)]
        row = _pod_row
    elif kind == "Deployment":
        columns = [_column(n) for n in ("Name", "Ready", "Up-to-date", "Available", "Age")]
        row = _deployment_row
    else:
        columns = [_column("Name"), _column("Age")]

        def row(obj: JSON) -> list[Any]:
            return [obj["metadata"]["name"], _age(obj)]

    rows = []
    for obj in items:
        entry: JSON = {"cells": row(obj)}
        if include_object != "None":
            # kubectl needs at least the metadata of each row (names for -o name, sorting).
            entry["object"] = (
                obj
                if include_object == "Object"
                else {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj["metadata"],
                }
            )
        rows.append(entry)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": columns,
        "rows": rows,
    }


def merge_patch(target: Any, patch: Any) -> Any:
    """JSON merge patch, plus what ``kubectl apply`` sends: lists of named items
    (containers, ports) merge by name, and ``$``-directives are ignored."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and _named(value) and _named(result.get(key)):
            result[key] = _merge_named(result[key], value)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _named(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "name" in i for i in value)


def _merge_named(current: list[JSON], patch: list[JSON]) -> list[JSON]:
    by_name = {item["name"]: item for item in current}
    merged = [item for item in current]
    for item in patch:
        if item.get("$patch") == "delete":
            merged = [m for m in merged if m["name"] != item["name"]]
        elif item["name"] in by_name:
            index = next(i for i, m in enumerate(merged) if m["name"] == item["name"])
            merged[index] = merge_patch(merged[index], item)
        else:
            merged.append(merge_patch({}, item))
    return merged
