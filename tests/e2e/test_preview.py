"""Blast-radius previews with real kubectl against the fake API server.

Differential: the preview is computed first (reads and dry runs only), then the real
write runs, and what the server really deleted or changed must be what the preview said.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.support.fake_apiserver import FakeAPIServer, FakeResponse, write_kubeconfig

pytestmark = pytest.mark.e2e

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
RESOURCES = (
    "pods",
    "deployments",
    "replicasets",
    "statefulsets",
    "persistentvolumeclaims",
    "persistentvolumes",
    "configmaps",
    "secrets",
    "services",
    "namespaces",
)


def _owned(kind: str, api: str, name: str, owner: dict[str, Any], **extra: Any) -> dict[str, Any]:
    meta = owner["metadata"]
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": extra.pop("labels", {}),
            "ownerReferences": [
                {
                    "apiVersion": owner["apiVersion"],
                    "kind": owner["kind"],
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                }
            ],
        },
        **extra,
    }


def seed(server: FakeAPIServer, prefix: str) -> None:
    """shop: Deployment api -> ReplicaSet -> 3 pods, Deployment web, StatefulSet db -> pod,
    a PVC bound to a reclaim-Delete PV, a ConfigMap and a Secret; team: one pod."""
    api = server.add_deployment(prefix, "shop", "api", replicas=3, labels={"app": "api"})
    rs = server.add_object(
        prefix,
        _owned(
            "ReplicaSet",
            "apps/v1",
            "api-7d9",
            api,
            labels={"app": "api"},
            spec={"replicas": 3, "selector": {"matchLabels": {"app": "api"}}},
        ),
    )
    for i in range(3):
        server.add_object(
            prefix,
            _owned(
                "Pod",
                "v1",
                f"api-7d9-{i}",
                rs,
                labels={"app": "api"},
                spec={"nodeName": "node-1", "containers": [{"name": "c", "image": "api:1"}]},
            ),
        )
    server.add_deployment(prefix, "shop", "web", replicas=2, labels={"app": "web"})
    db = server.add_object(
        prefix,
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "shop"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "db"}}},
        },
    )
    server.add_object(prefix, _owned("Pod", "v1", "db-0", db, labels={"app": "db"}))
    server.add_object(
        prefix,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data-db-0", "namespace": "shop"},
            "spec": {"volumeName": "pv-db"},
        },
    )
    server.add_object(
        prefix,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": "pv-db"},
            "spec": {
                "persistentVolumeReclaimPolicy": "Delete",
                "claimRef": {"namespace": "shop", "name": "data-db-0"},
            },
        },
    )
    server.add_configmap(prefix, "shop", "settings", {"a": "1"})
    server.add_object(
        prefix,
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls", "namespace": "shop"}},
    )
    server.add_pod(prefix, "team", "other-0")


def snapshot(server: FakeAPIServer, prefix: str) -> set[str]:
    found = set()
    for resource in RESOURCES:
        for obj in server.list_objects(prefix, resource):
            meta = obj["metadata"]
            where = f"{meta['namespace']}/" if meta.get("namespace") else ""
            found.add(f"{obj['kind']}/{where}{meta['name']}")
    return found


@pytest.fixture
def env(tmp_path: Path, apiserver: FakeAPIServer, kubectl33: Path, isolated_home: Path, request):
    prefix = "pv-" + request.node.name.split("[")[-1].strip("]").replace("_", "-")[:40].lower()
    prefix = "".join(c if c.isalnum() or c == "-" else "-" for c in prefix)
    seed(apiserver, prefix)
    config = apiserver.kubeconfig(prefix, context="prod", namespace="shop")
    write_kubeconfig(tmp_path / "kubeconfig", config)
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  - context: prod\n")
    return {
        "prefix": prefix,
        "HOME": str(isolated_home),
        "XDG_STATE_HOME": str(isolated_home / "state"),
        "XDG_CACHE_HOME": str(isolated_home / "cache"),
        "PATH": "/usr/bin:/bin",
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        "KUBESAFE_CONFIG": str(policy),
        "KUBESAFE_KUBECTL": str(kubectl33),
        "NO_COLOR": "1",
        "TERM": "dumb",
    }


def _environ(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != "prefix"}


def explain_preview(env: dict[str, str], argv: list[str]) -> dict[str, Any]:
    result = subprocess.run(
        [KUBESAFE, "explain", "--preview", "--json", "--", *argv],
        env=_environ(env),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def run_approved(env: dict[str, str], argv: list[str]) -> None:
    result = subprocess.run(
        [KUBESAFE, "kubectl", *argv],
        env={**_environ(env), "KUBESAFE_CONFIRM": "prod"},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr


def writes(server: FakeAPIServer, prefix: str) -> list[str]:
    """Requests that could change state: every non-GET without a dry run."""
    found = []
    for request in server.requests:
        if request.prefix != prefix or request.method in ("GET", "HEAD"):
            continue
        body = request.body.decode("utf-8", "replace") if request.body else ""
        if "dryRun" in request.query or '"dryRun"' in body:
            continue
        found.append(f"{request.method} {request.path}")
    return found


@pytest.mark.parametrize(
    "argv",
    [
        ["delete", "deployment", "api"],
        ["delete", "pods", "-l", "app=api"],
        ["delete", "statefulset/db", "pvc/data-db-0"],
        ["delete", "deploy", "--all"],
        ["delete", "namespace", "shop"],
        ["delete", "deploy", "api", "--cascade=orphan"],
    ],
    ids=["deploy", "selector", "sts-and-pvc", "all", "namespace", "orphan"],
)
def test_delete_preview_is_what_the_server_then_deletes(
    env: dict[str, str], apiserver: FakeAPIServer, argv: list[str]
) -> None:
    prefix = env["prefix"]
    before = snapshot(apiserver, prefix)
    apiserver.clear()
    report = explain_preview(env, argv)
    assert writes(apiserver, prefix) == []
    assert snapshot(apiserver, prefix) == before
    run_approved(env, argv)
    gone = before - snapshot(apiserver, prefix)
    assert gone, "the real delete removed nothing"
    if "namespace" in argv:
        # Contents are counted per kind; the kinds the preview counts must match exactly.
        counted = report["preview"]["kinds"]
        really = Counter(ref.split("/", 1)[0] for ref in gone)
        assert {kind: really[kind] for kind in counted} == counted
        assert "PersistentVolume/pv-db" in report["preview_objects"]
    else:
        assert set(report["preview_objects"]) == gone
        assert report["preview"]["objects"] == len(gone)


def test_scale_preview_shows_current_and_new_replicas(
    env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    report = explain_preview(env, ["scale", "deploy/web", "--replicas=5"])
    assert "Deployment/shop/web: replicas 2 -> 5" in report["preview_text"]
    run_approved(env, ["scale", "deploy/web", "--replicas=5"])
    web = apiserver.get_object(env["prefix"], "deployments", "shop", "web")
    assert web is not None and web["spec"]["replicas"] == 5


def test_apply_preview_lists_the_fields_the_server_then_changes(
    env: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    prefix = env["prefix"]
    live = apiserver.get_object(prefix, "deployments", "shop", "web")
    assert live is not None
    changed = json.loads(json.dumps(live))
    for field in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
        changed["metadata"].pop(field, None)
    changed.pop("status", None)
    changed["metadata"]["labels"]["tier"] = "front"
    changed["spec"]["replicas"] = 4
    manifest = tmp_path / "web.json"
    manifest.write_text(json.dumps(changed))
    new_config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "fresh", "namespace": "shop"},
        "data": {"x": "1"},
    }
    (tmp_path / "fresh.json").write_text(json.dumps(new_config))
    argv = ["apply", "-f", str(manifest), "-f", str(tmp_path / "fresh.json")]
    apiserver.clear()
    report = explain_preview(env, argv)
    assert writes(apiserver, prefix) == []
    text = report["preview_text"]
    assert "creates ConfigMap/shop/fresh" in text
    shown = {
        line.strip().split(":", 1)[0]
        for line in text.splitlines()
        if line.startswith("    ") and "->" in line
    }
    run_approved(env, argv)
    after = apiserver.get_object(prefix, "deployments", "shop", "web")
    assert after is not None
    really = set()
    if after["metadata"]["labels"] != live["metadata"]["labels"]:
        really |= {
            f"metadata.labels.{k}"
            for k in after["metadata"]["labels"]
            if live["metadata"]["labels"].get(k) != after["metadata"]["labels"][k]
        }
    if after["spec"]["replicas"] != live["spec"]["replicas"]:
        really.add("spec.replicas")
    assert really == {"metadata.labels.tier", "spec.replicas"}
    assert really <= shown
    assert apiserver.get_object(prefix, "configmaps", "shop", "fresh") is not None


def test_drain_preview_names_the_pods_it_evicts(
    env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    argv = ["drain", "node-1", "--ignore-daemonsets", "--force", "--pod-selector=app=api"]
    apiserver.add_object(
        env["prefix"], {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}
    )
    apiserver.clear()
    report = explain_preview(env, argv)
    assert writes(apiserver, env["prefix"]) == []
    assert "cordons node/node-1" in report["preview_text"]
    for i in range(3):
        assert f"shop/api-7d9-{i}" in report["preview_text"]


def _spawn(env: dict[str, str], argv: str) -> pexpect.spawn:
    return pexpect.spawn(
        "/bin/bash",
        ["-c", f"{KUBESAFE} kubectl {argv}"],
        env=_environ(env),
        timeout=30,
        encoding="utf-8",
    )


def test_the_terminal_shows_the_preview_and_nothing_is_written_before_the_answer(
    env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    prefix = env["prefix"]
    apiserver.clear()
    child = _spawn(env, "delete deployment api")
    child.expect("Preview")
    child.expect(r"and with them, by owner references, 4")
    child.expect("Type prod to proceed")
    assert writes(apiserver, prefix) == []
    child.sendline("prod")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert apiserver.get_object(prefix, "deployments", "shop", "api") is None
    audit = Path(env["XDG_STATE_HOME"], "kubesafe", "audit.jsonl").read_text().splitlines()
    entry = json.loads(audit[-1])
    assert entry["decision"] == "confirmed"
    assert entry["preview"]["objects"] == 5
    assert entry["preview"]["kinds"] == {"Deployment": 1, "Pod": 3, "ReplicaSet": 1}


def _staging(env: dict[str, str], extra: str = "") -> None:
    Path(env["KUBESAFE_CONFIG"]).write_text(
        "rules:\n  - context: prod\n    environment: staging\n"
        "environments:\n  staging: {write: confirm, destructive: confirm}\n" + extra
    )


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        ("delete namespace shop", "deletes shop and everything in it"),
        ("label pods --all tier=x", "selects by --all"),
        ("delete pvc data-db-0", "reaches persistent volumes"),
    ],
    ids=["namespace", "all", "volume"],
)
def test_a_big_write_demands_the_typed_name(
    env: dict[str, str], apiserver: FakeAPIServer, argv: str, why: str
) -> None:
    _staging(env)
    child = _spawn(env, argv)
    child.expect("Asking harder: " + why.replace("--", r"\-\-"))
    child.expect("Type prod to proceed")
    child.sendline("y")
    child.expect("not confirmed")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
    assert writes(apiserver, env["prefix"]) == []


def test_a_small_write_keeps_the_y_n_question(
    env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    _staging(env)
    child = _spawn(env, "delete pod other-0 -n team")
    child.expect(r"deletes 1 object")
    child.expect(r"Proceed\? \[y/N\]")
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_many_objects_escalate_by_the_configured_count(
    env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    _staging(env, "blast-radius:\n  objects-over: 3\n")
    child = _spawn(env, "delete deployment api")  # 1 + ReplicaSet + 3 pods
    child.expect("Asking harder: reaches 5 objects, more than 3")
    child.expect("Type prod to proceed")
    child.sendline("")
    child.expect(pexpect.EOF)
    child.close()
    assert apiserver.get_object(env["prefix"], "deployments", "shop", "api") is not None


def test_blocked_by_blast_radius_is_refused_without_a_question(
    env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    _staging(env, "blast-radius:\n  namespace-delete: block\n")
    child = _spawn(env, "delete namespace shop")
    child.expect("blocks a write this big")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
    assert writes(apiserver, env["prefix"]) == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_server_gives_preview_unavailable_and_still_asks(
    env: dict[str, str], tmp_path: Path
) -> None:
    config = (
        json.loads(Path(env["KUBECONFIG"]).read_text())
        if Path(env["KUBECONFIG"]).read_text().startswith("{")
        else None
    )
    import yaml

    config = config or yaml.safe_load(Path(env["KUBECONFIG"]).read_text())
    config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{_closed_port()}"
    Path(env["KUBECONFIG"]).write_text(yaml.safe_dump(config))
    started = time.monotonic()
    child = _spawn(env, "delete deployment api")
    child.expect("Preview unavailable: ")
    child.expect("Type prod to proceed")
    elapsed = time.monotonic() - started
    child.sendline("")
    child.expect(pexpect.EOF)
    child.close()
    assert elapsed < 2.0 + 3.0, elapsed  # the 2 s budget, plus starting kubesafe and kubectl


def test_a_slow_server_is_cut_off_at_the_budget(
    env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    Path(env["KUBESAFE_CONFIG"]).write_text(
        "rules:\n  - context: prod\nblast-radius:\n  timeout: 1\n"
    )
    prefix = env["prefix"]
    remove = apiserver.intercept(
        lambda request: (
            FakeResponse(status=200, body={"kind": "Status"}, delay=6.0)
            if request.prefix == prefix and request.method == "GET" and request.resource
            else None
        )
    )
    try:
        started = time.monotonic()
        child = _spawn(env, "delete deployment api")
        child.expect(r"Preview unavailable: no answer within 1 s")
        child.expect("Type prod to proceed")
        elapsed = time.monotonic() - started
        child.sendline("")
        child.expect(pexpect.EOF)
        child.close()
    finally:
        remove()
    assert elapsed < 1.0 + 3.0, elapsed


def test_explain_preview_asks_nothing_and_writes_nothing(
    env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    apiserver.clear()
    report = explain_preview(env, ["delete", "namespace", "shop"])
    assert report["level"] == "typed"
    assert report["level_after_preview"] == "typed"
    assert "namespace shop holds:" in report["preview_text"]
    assert writes(apiserver, env["prefix"]) == []
    assert os.path.exists(env["KUBECONFIG"])


def test_a_manifest_directory_is_expanded_like_kubectl_expands_it(
    env: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    prefix = env["prefix"]
    manifests = tmp_path / "manifests"
    (manifests / "nested").mkdir(parents=True)
    (manifests / "web.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n"
    )
    (manifests / "nested" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\n"
    )
    argv = ["delete", "-R", "-f", str(manifests)]
    before = snapshot(apiserver, prefix)
    report = explain_preview(env, argv)
    run_approved(env, argv)
    gone = before - snapshot(apiserver, prefix)
    assert (
        set(report["preview_objects"])
        == gone
        == {
            "Deployment/shop/web",
            "ConfigMap/shop/settings",
        }
    )


def test_run_and_create_preview_the_objects_they_create(
    env: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    report = explain_preview(env, ["run", "debug", "--image=busybox"])
    assert "creates Pod/shop/debug" in report["preview_text"]
    manifest = tmp_path / "cm.json"
    manifest.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "new", "namespace": "shop"},
            }
        )
    )
    report = explain_preview(env, ["create", "-f", str(manifest)])
    assert "creates ConfigMap/shop/new" in report["preview_text"]
    assert apiserver.get_object(env["prefix"], "configmaps", "shop", "new") is None


def test_a_no_execute_taint_names_the_node_and_its_pods(
    env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    apiserver.add_object(
        env["prefix"], {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}
    )
    report = explain_preview(env, ["taint", "nodes", "node-1", "dedicated=db:NoExecute"])
    text = report["preview_text"]
    assert "changes Node/node-1:" in text and "spec.taints" in text
    on_node = [
        pod
        for pod in apiserver.list_objects(env["prefix"], "pods")
        if (pod.get("spec") or {}).get("nodeName") == "node-1"
    ]
    assert len(on_node) >= 3
    assert f"node node-1: NoExecute evicts those of its {len(on_node)} pod(s)" in text


def _pod_lists(prefix: str, response: FakeResponse) -> Any:
    """An interceptor for the preview's own LISTs of pods (kubectl get reads by name)."""
    return lambda request: (
        response
        if request.prefix == prefix and request.resource == "pods" and request.name is None
        else None
    )


@pytest.mark.parametrize(
    "body",
    [
        [1, 2],
        {"items": [{"metadata": "x"}]},
        {"items": [], "metadata": {"remainingItemCount": "9"}},
    ],
    ids=["not-an-object", "garbage-item", "garbage-count"],
)
def test_a_garbage_answer_gives_preview_unavailable_and_still_asks(
    env: dict[str, str], apiserver: FakeAPIServer, body: Any
) -> None:
    remove = apiserver.intercept(_pod_lists(env["prefix"], FakeResponse(body=body)))
    try:
        child = _spawn(env, "delete deployment api")
        child.expect("Preview unavailable: ")
        child.expect("Type prod to proceed")
        before = child.before
        child.sendline("")
        child.expect(pexpect.EOF)
        child.close()
    finally:
        remove()
    assert "Traceback" not in before
    assert child.exitstatus == 3
    assert apiserver.get_object(env["prefix"], "deployments", "shop", "api") is not None


def test_a_server_that_trickles_its_answer_is_cut_off_at_the_budget(
    env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    """Every chunk arrives well within the budget; the whole answer never does."""
    Path(env["KUBESAFE_CONFIG"]).write_text(
        "rules:\n  - context: prod\nblast-radius:\n  timeout: 1\n"
    )
    body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [], "x": "y" * 400_000}
    trickle = FakeResponse(body=body, drip_interval=0.3)
    remove = apiserver.intercept(_pod_lists(env["prefix"], trickle))
    try:
        started = time.monotonic()
        child = _spawn(env, "delete deployment api")
        child.expect(r"Preview unavailable: no answer within 1 s")
        child.expect("Type prod to proceed")
        elapsed = time.monotonic() - started
        child.sendline("")
        child.expect(pexpect.EOF)
        child.close()
    finally:
        remove()
    assert elapsed < 1.0 + 3.0, elapsed


def _namespace_manifest(tmp_path: Path) -> Path:
    manifest = tmp_path / "ns.yaml"
    manifest.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n")
    return manifest


def test_a_namespace_deleted_through_a_manifest_asks_harder(
    env: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    _staging(env)
    report = explain_preview(env, ["delete", "-f", str(_namespace_manifest(tmp_path))])
    assert report["level"] == "confirm"
    assert report["level_after_preview"] == "typed"
    assert "namespace shop holds:" in report["preview_text"]


def test_a_manifest_delete_without_a_preview_asks_harder(
    env: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    """The server is too slow to read the manifest's objects: a namespace cannot be ruled out."""
    _staging(env, "blast-radius:\n  timeout: 0.5\n")
    prefix = env["prefix"]
    remove = apiserver.intercept(
        lambda request: (
            FakeResponse(status=200, body={"kind": "Status"}, delay=3.0)
            if request.prefix == prefix and request.method == "GET" and request.resource
            else None
        )
    )
    try:
        child = _spawn(env, f"delete -f {_namespace_manifest(tmp_path)}")
        child.expect("Preview unavailable: ")
        child.expect("Asking harder: deletes what its manifests name")
        child.expect("Type prod to proceed")
        child.sendline("y")
        child.expect("not confirmed")
        child.expect(pexpect.EOF)
        child.close()
    finally:
        remove()
    assert child.exitstatus == 3
    assert writes(apiserver, prefix) == []


def test_a_flag_unknown_to_kubesafe_cannot_swallow_the_preview_s_dry_run(
    env: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kubectl newer than kubesafe's flag table: ``--field-manager`` stands for a flag
    kubesafe does not know yet. Last on the line, real kubectl gives it the next word,
    so ``... --field-manager --dry-run=server`` would be a real apply."""
    from kubesafe.kubectl import table
    from kubesafe.kubectl.args import parse
    from kubesafe.kubectl.preview import preview

    local, short = table.COMMANDS["apply"]
    monkeypatch.setitem(
        table.COMMANDS, "apply", ({k: v for k, v in local.items() if k != "field-manager"}, short)
    )
    manifest = tmp_path / "cm.json"
    manifest.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "sneak", "namespace": "shop"},
            }
        )
    )
    argv = ("apply", "-f", str(manifest), "--field-manager")
    parsed = parse(argv)
    assert parsed.ambiguous  # kubesafe cannot tell whether --field-manager takes a value
    apiserver.clear()
    result = preview(parsed.primary, argv, env["KUBESAFE_KUBECTL"], _environ(env), "shop", 10.0)
    assert writes(apiserver, env["prefix"]) == []
    assert apiserver.get_object(env["prefix"], "configmaps", "shop", "sneak") is None
    assert result.unavailable is not None and "could swallow --dry-run" in result.unavailable


def test_an_ambiguous_command_line_gets_no_preview_from_one_of_its_readings(
    env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    """``--no-such-flag`` may take ``--namespace=team`` as its value or not: the preview
    would read one reading's namespace (or cluster) while the question judged another."""
    apiserver.clear()
    report = explain_preview(env, ["delete", "deploy", "api", "--no-such-flag", "--namespace=team"])
    assert report["preview_text"].startswith("Preview unavailable: kubesafe reads this")
    assert [r for r in apiserver.requests if r.prefix == env["prefix"]] == []


def _children(parent: int) -> list[tuple[int, list[bytes]]]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat[stat.rfind(")") + 2 :].split()[1]) == parent:
            found.append((int(entry), argv))
    return found


def _preview_proxies(parent: int) -> list[tuple[int, str]]:
    """(pid, socket path) of the preview's ``kubectl proxy`` children of ``parent``."""
    found = []
    for pid, argv in _children(parent):
        sockets = [a.decode() for a in argv if a.startswith(b"--unix-socket=")]
        if b"proxy" in argv and sockets:
            found.append((pid, sockets[0].split("=", 1)[1]))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_preview_s_proxy_is_private_and_dies_with_kubesafe(
    env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    """kubesafe killed mid-preview (SIGKILL: no finally runs) leaves no proxy serving
    the user's credentials; while it runs, only its owner can reach the socket."""
    Path(env["KUBESAFE_CONFIG"]).write_text(
        "rules:\n  - context: prod\nblast-radius:\n  timeout: 20\n"
    )
    hold = FakeResponse(status=200, body={"kind": "PodList", "items": []}, delay=15.0)
    remove = apiserver.intercept(_pod_lists(env["prefix"], hold))
    # The shell stays the session leader, as in a terminal: killing kubesafe alone
    # sends no SIGHUP to the proxy.
    child = pexpect.spawn(
        "/bin/bash",
        ["-c", f"{KUBESAFE} kubectl delete deployment api; sleep 30"],
        env=_environ(env),
        timeout=30,
    )
    try:
        deadline = time.monotonic() + 15
        proxies: list[tuple[int, str]] = []
        kubesafe = 0
        while not proxies and time.monotonic() < deadline:
            time.sleep(0.05)
            kubesafe = next((pid for pid, _ in _children(child.pid)), 0)
            proxies = [p for p in _preview_proxies(kubesafe) if os.path.exists(p[1])]
        assert proxies, "no preview proxy seen"
        [(proxy, socket_path)] = proxies
        assert os.stat(os.path.dirname(socket_path)).st_mode & 0o077 == 0
        os.kill(kubesafe, 9)
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{proxy}") and time.monotonic() < deadline:
            status = Path(f"/proc/{proxy}/stat").read_text().split(")")[-1].split()[0]
            if status == "Z":
                break  # dead, waiting for init to reap it
            time.sleep(0.05)
        gone = not os.path.exists(f"/proc/{proxy}") or status == "Z"
    finally:
        remove()
        child.close(force=True)
        for pid, _ in _preview_proxies(1):
            os.kill(pid, 9)
    assert gone, "the preview's kubectl proxy outlived kubesafe"


def test_ctrl_c_during_the_preview_declines_and_leaves_nothing_behind(
    env: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    Path(env["KUBESAFE_CONFIG"]).write_text(
        "rules:\n  - context: prod\nblast-radius:\n  timeout: 20\n"
    )
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    hold = FakeResponse(status=200, body={"kind": "PodList", "items": []}, delay=15.0)
    remove = apiserver.intercept(_pod_lists(env["prefix"], hold))
    child = pexpect.spawn(
        KUBESAFE,
        ["kubectl", "delete", "deployment", "api"],
        env={**_environ(env), "TMPDIR": str(scratch)},
        timeout=30,
        encoding="utf-8",
    )
    try:
        deadline = time.monotonic() + 15
        while not _preview_proxies(child.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _preview_proxies(child.pid), "no preview proxy seen"
        time.sleep(0.3)  # the pod LISTs are under way, held by the server
        started = time.monotonic()
        child.sendintr()
        child.expect("not confirmed: interrupted during the preview")
        child.expect(pexpect.EOF)
        elapsed = time.monotonic() - started
        child.close()
    finally:
        remove()
    assert "Traceback" not in (child.before or "")
    assert child.exitstatus == 3
    assert elapsed < 3.0, elapsed  # not the 15 s the server holds the reads
    assert list(scratch.iterdir()) == []
    assert _preview_proxies(child.pid) == []
    assert apiserver.get_object(env["prefix"], "deployments", "shop", "api") is not None


def test_what_an_owner_holds_beyond_pods_and_replica_sets_is_in_the_preview(
    env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    """An operator's object owns a StatefulSet (with its pod), a Service, a Secret and a
    ConfigMap; the garbage collector removes them all with it. Deployment ``web`` stands
    in for the operator's custom resource."""
    prefix = env["prefix"]
    web = apiserver.get_object(prefix, "deployments", "shop", "web")
    assert web is not None
    cache = apiserver.add_object(
        prefix,
        _owned(
            "StatefulSet",
            "apps/v1",
            "web-cache",
            web,
            spec={"replicas": 1, "selector": {"matchLabels": {"app": "cache"}}},
        ),
    )
    apiserver.add_object(prefix, _owned("Pod", "v1", "web-cache-0", cache))
    apiserver.add_object(prefix, _owned("Service", "v1", "web", web, spec={"ports": []}))
    apiserver.add_object(prefix, _owned("Secret", "v1", "web-tls", web))
    apiserver.add_object(prefix, _owned("ConfigMap", "v1", "web-settings", web))
    argv = ["delete", "deployment", "web"]
    before = snapshot(apiserver, prefix)
    report = explain_preview(env, argv)
    run_approved(env, argv)
    gone = before - snapshot(apiserver, prefix)
    assert {"StatefulSet/shop/web-cache", "Pod/shop/web-cache-0", "Secret/shop/web-tls"} <= gone
    assert set(report["preview_objects"]) == gone


def test_the_preview_reads_as_every_impersonated_group(
    env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    """The preview must read with the permissions the write will have: all of them."""
    apiserver.clear()
    explain_preview(
        env, ["delete", "deployment", "api", "--as=alice", "--as-group=ops", "--as-group=dba"]
    )
    reads = [r for r in apiserver.requests if r.prefix == env["prefix"] and r.resource]
    assert reads
    for request in reads:
        groups = sorted((request.header("Impersonate-Group") or "").split(", "))
        assert groups == ["dba", "ops"], (request.path, request.headers)


@pytest.mark.parametrize("stdin_name", ["-", "/dev/stdin"])
def test_a_manifest_list_that_names_stdin_gets_no_preview_of_the_rest_alone(
    env: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path, stdin_name: str
) -> None:
    """``-f a.yaml,-``: real kubectl reads stdin too (a Namespace there is deleted), so a
    preview of a.yaml alone under-reports and dodged the namespace escalation."""
    _staging(env)
    manifest = tmp_path / "a.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\n"
    )
    report = explain_preview(env, ["delete", "-f", f"{manifest},{stdin_name}"])
    assert report["preview_text"] == (
        "Preview unavailable: the manifest comes from stdin, which belongs to kubectl\n"
    )
    assert report["level_after_preview"] == "typed"


def test_apply_prune_previews_what_it_deletes(
    env: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    """``apply --prune`` deletes what was applied before and its manifests no longer hold;
    kubectl's -o json dry run prints those after the applied objects (the preview said
    "kubectl did not print JSON")."""
    _staging(env)
    prefix = env["prefix"]

    def config_map(name: str) -> Path:
        path = tmp_path / f"{name}.json"
        meta = {"name": name, "namespace": "shop", "labels": {"set": "x"}}
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}))
        return path

    run_approved(env, ["apply", "-f", str(config_map("old"))])
    argv = ["apply", "-f", str(config_map("new1")), "-f", str(config_map("new2")), "--prune"]
    argv += ["-l", "set=x", "--prune-allowlist=core/v1/ConfigMap"]
    before = snapshot(apiserver, prefix)
    apiserver.clear()
    report = explain_preview(env, argv)
    assert writes(apiserver, prefix) == []
    assert "prunes (deletes) 1 object(s):\n    ConfigMap (1): shop/old\n" in report["preview_text"]
    assert report["level_after_preview"] == "typed"
    run_approved(env, argv)
    after = snapshot(apiserver, prefix)
    assert before - after == {"ConfigMap/shop/old"}
    assert set(report["preview_objects"]) == (before - after) | (after - before)


def test_an_empty_flag_value_stays_empty_in_the_preview_s_reads(
    env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    """``--namespace=`` is the context's namespace to kubectl; passed on bare, it took
    the preview's next word (``get``) as the namespace."""
    argv = ["delete", "deployment", "api", "--namespace="]
    prefix = env["prefix"]
    before = snapshot(apiserver, prefix)
    report = explain_preview(env, argv)
    run_approved(env, argv)
    gone = before - snapshot(apiserver, prefix)
    assert "Deployment/shop/api" in gone
    assert set(report["preview_objects"]) == gone


def test_rollout_restart_of_a_type_without_a_name_is_a_wide_selection(
    env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    """kubectl restarts every deployment of the namespace for ``rollout restart deployment``."""
    _staging(env)
    report = explain_preview(env, ["rollout", "restart", "deployment"])
    assert report["level"] == "confirm"
    assert "restarts deployment/shop/api" in report["preview_text"].replace(
        "Deployment", "deployment"
    )
    assert report["level_after_preview"] == "typed"
    named = explain_preview(env, ["rollout", "restart", "deployment", "api"])
    assert named["level_after_preview"] == "confirm"
    run_approved(env, ["rollout", "restart", "deployment"])
    for name in ("api", "web"):
        live = apiserver.get_object(env["prefix"], "deployments", "shop", name)
        assert live is not None
        annotations = live["spec"]["template"]["metadata"].get("annotations") or {}
        assert "kubectl.kubernetes.io/restartedAt" in annotations, name


def test_a_claim_s_volume_beyond_the_first_list_page_is_still_found(
    env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    """A cluster with more PersistentVolumes than one LIST page: the claim's volume, whose
    reclaim policy deletes it, must still be named (and counted)."""
    prefix = env["prefix"]
    for i in range(LIST_PAGE + 5):
        apiserver.add_object(
            prefix,
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": f"aa-{i:04d}"},
                "spec": {"persistentVolumeReclaimPolicy": "Retain"},
            },
        )
    claim = apiserver.get_object(prefix, "persistentvolumeclaims", "shop", "data-db-0")
    assert claim is not None
    claim["spec"]["volumeName"] = "zz-late"
    apiserver.add_object(prefix, claim)  # replacing the claim removes pv-db, bound to it
    apiserver.add_object(
        prefix,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": "zz-late"},
            "spec": {
                "persistentVolumeReclaimPolicy": "Delete",
                "claimRef": {"namespace": "shop", "name": "data-db-0"},
            },
        },
    )
    assert apiserver.get_object(prefix, "persistentvolumes", None, "pv-db") is None
    argv = ["delete", "pvc", "data-db-0"]
    before = snapshot(apiserver, prefix)
    report = explain_preview(env, argv)
    run_approved(env, argv)
    gone = before - snapshot(apiserver, prefix)
    assert gone == {"PersistentVolumeClaim/shop/data-db-0", "PersistentVolume/zz-late"}
    assert set(report["preview_objects"]) == gone


LIST_PAGE = 500
