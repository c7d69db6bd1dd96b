"""Pure blast-radius logic: owner-reference cascades, volumes, field changes."""

from __future__ import annotations

from typing import Any

from kubesafe.kubectl.blast import Blast, bound_volumes, dependents, field_changes, namespace_counts


def obj(
    kind: str, name: str, uid: str, owners: tuple[str, ...] = (), ns: str = "shop"
) -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": uid,
            "ownerReferences": [{"uid": owner} for owner in owners],
        },
    }


def test_dependents_follow_owner_references_transitively() -> None:
    deploy = obj("Deployment", "api", "d1")
    rs = obj("ReplicaSet", "api-1", "r1", ("d1",))
    pods = [obj("Pod", f"api-1-{i}", f"p{i}", ("r1",)) for i in range(3)]
    stranger = obj("Pod", "other", "x1", ("zz",))
    found = dependents([deploy], [rs, *pods, stranger])
    assert [o["metadata"]["name"] for o in found] == ["api-1", "api-1-0", "api-1-1", "api-1-2"]


def test_dependents_survive_reference_cycles_and_shared_owners() -> None:
    a = obj("X", "a", "a", ("b",))
    b = obj("X", "b", "b", ("a",))
    shared = obj("Pod", "p", "p", ("a", "b"))
    found = dependents([a], [a, b, shared])
    assert sorted(o["metadata"]["name"] for o in found) == ["b", "p"]  # not the owner itself


def test_an_object_without_a_uid_owns_nothing() -> None:
    assert (
        dependents([{"kind": "Pod", "metadata": {"name": "x"}}], [obj("Pod", "y", "y", ("",))])
        == []
    )


def test_only_volumes_whose_reclaim_policy_deletes_are_lost_with_the_claim() -> None:
    claim = obj("PersistentVolumeClaim", "data", "c1")
    deleting = {
        "kind": "PersistentVolume",
        "metadata": {"name": "pv-1"},
        "spec": {
            "claimRef": {"namespace": "shop", "name": "data"},
            "persistentVolumeReclaimPolicy": "Delete",
        },
    }
    retained = {
        "kind": "PersistentVolume",
        "metadata": {"name": "pv-2"},
        "spec": {
            "claimRef": {"namespace": "shop", "name": "data"},
            "persistentVolumeReclaimPolicy": "Retain",
        },
    }
    elsewhere = {
        "kind": "PersistentVolume",
        "metadata": {"name": "pv-3"},
        "spec": {"claimRef": {"namespace": "other", "name": "data"}},
    }
    assert bound_volumes([claim], [deleting, retained, elsewhere]) == [deleting]


def test_blast_counts_namespace_contents_and_flags_volumes() -> None:
    blast = Blast(
        direct=[{"kind": "Namespace", "metadata": {"name": "shop"}}],
        namespace_contents={"shop": {"Pod": 4, "PersistentVolumeClaim": 2}},
    )
    assert blast.objects == 7
    assert blast.namespaces == ["shop"]
    assert blast.volumes == ["2 PVC(s) in namespace shop"]
    assert blast.kinds() == {"Namespace": 1, "PersistentVolumeClaim": 2, "Pod": 4}


def test_namespace_counts_keep_the_shown_order_and_drop_zeroes() -> None:
    items = [{"kind": "Secret"}, {"kind": "Pod"}, {"kind": "Pod"}, {"kind": "Lease"}]
    assert list(namespace_counts(items).items()) == [("Pod", 2), ("Secret", 1)]


def test_field_changes_name_each_changed_leaf_and_skip_noise() -> None:
    before = {
        "metadata": {"name": "web", "labels": {"a": "1"}, "resourceVersion": "5"},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"image": "nginx:1"}]}}},
        "status": {"readyReplicas": 2},
    }
    after = {
        "metadata": {"name": "web", "labels": {"a": "1", "b": "2"}, "resourceVersion": "9"},
        "spec": {"replicas": 5, "template": {"spec": {"containers": [{"image": "nginx:2"}]}}},
        "status": {"readyReplicas": 0},
    }
    assert field_changes(before, after) == [
        ("metadata.labels.b", None, "2"),
        ("spec.replicas", 2, 5),
        ("spec.template.spec.containers", [{"image": "nginx:1"}], [{"image": "nginx:2"}]),
    ]
    assert field_changes(before, before) == []
