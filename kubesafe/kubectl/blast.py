"""What a write would touch, worked out from objects read off the cluster (pure logic).

``preview`` reads; this module only counts, follows owner references and compares.
Objects are the JSON dicts the API server returns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

VOLUME_KINDS = frozenset({"PersistentVolumeClaim", "PersistentVolume"})
# Kinds a namespace preview counts, in the order they are shown.
NAMESPACE_CONTENTS = (
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "Service",
    "PersistentVolumeClaim",
    "Secret",
    "ConfigMap",
)


def ref(obj: JSON) -> str:
    """``kind/name`` or ``kind/namespace/name``, as shown to the user."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    name = meta.get("name", "?")
    kind = str(obj.get("kind", "?"))
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def uid(obj: JSON) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


@dataclass
class Blast:
    """The objects a write reaches, and the facts the escalation rules look at."""

    # Objects the command itself names (deleted, changed, created).
    direct: list[JSON] = field(default_factory=list)
    # Objects removed with them by the garbage collector (owner references), transitively.
    cascade: list[JSON] = field(default_factory=list)
    # namespace -> kind -> count, for namespaces that would be deleted.
    namespace_contents: dict[str, dict[str, int]] = field(default_factory=dict)
    # True when a count is a lower bound (a LIST was cut at its limit).
    truncated: bool = False
    # The command selects by --all, -A or a selector rather than by name.
    wide: bool = False

    @property
    def objects(self) -> int:
        inside = sum(sum(kinds.values()) for kinds in self.namespace_contents.values())
        return len(self.direct) + len(self.cascade) + inside

    @property
    def volumes(self) -> list[str]:
        found = [ref(o) for o in (*self.direct, *self.cascade) if o.get("kind") in VOLUME_KINDS]
        for namespace, kinds in self.namespace_contents.items():
            if kinds.get("PersistentVolumeClaim"):
                found.append(f"{kinds['PersistentVolumeClaim']} PVC(s) in namespace {namespace}")
        return found

    @property
    def namespaces(self) -> list[str]:
        return sorted(self.namespace_contents)

    def refs(self) -> tuple[str, ...]:
        return tuple(ref(o) for o in (*self.direct, *self.cascade))

    def kinds(self) -> dict[str, int]:
        counts = Counter(str(o.get("kind", "?")) for o in (*self.direct, *self.cascade))
        for kinds in self.namespace_contents.values():
            counts.update(kinds)
        return dict(sorted(counts.items()))


def dependents(owners: Iterable[JSON], candidates: Iterable[JSON]) -> list[JSON]:
    """Every candidate owned, directly or through others, by one of ``owners``.

    This is what the garbage collector removes after a background or foreground
    delete. Orphaning deletes (``--cascade=orphan``) remove none of them.
    """
    pending = [uid(o) for o in owners if uid(o)]
    seen = set(pending)
    by_owner: dict[str, list[JSON]] = {}
    for obj in candidates:
        for owner in (obj.get("metadata") or {}).get("ownerReferences") or []:
            by_owner.setdefault(str(owner.get("uid", "")), []).append(obj)
    found: list[JSON] = []
    while pending:
        for obj in by_owner.get(pending.pop(), []):
            key = uid(obj)
            if key and key not in seen:
                seen.add(key)
                found.append(obj)
                pending.append(key)
    return found


def namespace_counts(objects: Iterable[JSON]) -> dict[str, int]:
    counts = Counter(str(o.get("kind", "?")) for o in objects)
    return {kind: counts[kind] for kind in NAMESPACE_CONTENTS if counts.get(kind)}


def bound_volumes(claims: Iterable[JSON], volumes: Iterable[JSON]) -> list[JSON]:
    """PersistentVolumes bound to ``claims`` whose reclaim policy deletes them with the claim."""
    wanted = {
        ((c.get("metadata") or {}).get("namespace"), (c.get("metadata") or {}).get("name"))
        for c in claims
    }
    found = []
    for volume in volumes:
        spec = volume.get("spec") or {}
        claim = spec.get("claimRef") or {}
        if (claim.get("namespace"), claim.get("name")) in wanted and spec.get(
            "persistentVolumeReclaimPolicy", "Delete"
        ) == "Delete":
            found.append(volume)
    return found


# Fields that change on every write and say nothing about what the user changes.
_NOISE = frozenset(
    {
        "metadata.resourceVersion",
        "metadata.generation",
        "metadata.managedFields",
        "metadata.creationTimestamp",
        "metadata.uid",
        "status",
    }
)


def field_changes(before: Any, after: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted path, old, new) for every leaf that differs; lists compared as values."""
    if path in _NOISE or path.startswith("status."):
        return []
    if (isinstance(before, dict) and after is None) or (before is None and isinstance(after, dict)):
        # A section added or removed: name its leaves, not the whole section.
        before, after = before or {}, after or {}
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[tuple[str, Any, Any]] = []
        for key in sorted(set(before) | set(after), key=str):
            child = f"{path}.{key}" if path else str(key)
            if (
                key == "metadata"
                or isinstance(before.get(key), dict)
                or isinstance(after.get(key), dict)
            ):
                changes.extend(field_changes(before.get(key), after.get(key), child))
            elif before.get(key) != after.get(key) and child not in _NOISE:
                changes.append((child, before.get(key), after.get(key)))
        return changes
    if before != after:
        return [(path, before, after)]
    return []
