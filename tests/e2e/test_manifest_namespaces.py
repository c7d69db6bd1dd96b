"""Namespace-narrowed rules against real kubectl 1.31/1.33/1.37 and a recording API server.

A rule protects the namespace ``shop`` of context ``prod``; the terminal works
in ``team``. kubectl applies ``-n`` only to namespaced objects, so a manifest
holding the Namespace ``shop`` (or any cluster-scoped object) is not kept in
``team`` by ``-n team``. Without a terminal each such write must be refused
with nothing sent, while namespaced manifests for ``team`` and dry runs pass.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fake_apiserver import FakeAPIServer, RecordedRequest, write_kubeconfig

pytestmark = pytest.mark.e2e

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
PREFIX = "manifest-ns"
VERSIONS = ["kubectl31", "kubectl33", "kubectl37"]

NAMESPACE_SHOP = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"
BINDING = (
    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
    "metadata: {name: everyone-admin}\n"
    "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\n"
    "subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: system:authenticated}]\n"
)
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata: {{a: b}}\n"


@pytest.fixture
def world(
    tmp_path: Path, apiserver: FakeAPIServer, isolated_home: Path, request: pytest.FixtureRequest
) -> dict[str, str]:
    kubectl: Path = request.getfixturevalue(request.param)
    for namespace in ("shop", "team"):
        apiserver.add_namespace(PREFIX, namespace)
    apiserver.add_configmap(PREFIX, "shop", "prices")
    apiserver.add_pod(PREFIX, "team", "web-0")
    write_kubeconfig(
        tmp_path / "kubeconfig", apiserver.kubeconfig(PREFIX, context="prod", namespace="team")
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  - context: prod\n    namespaces: [shop]\n")
    (tmp_path / "ns.yaml").write_text(NAMESPACE_SHOP)
    (tmp_path / "crb.yaml").write_text(BINDING)
    (tmp_path / "mixed.yaml").write_text(CONFIGMAP.format(name="m1") + "---\n" + NAMESPACE_SHOP)
    (tmp_path / "kust").mkdir()
    (tmp_path / "kust" / "kustomization.yaml").write_text("resources: [ns.yaml]\n")
    (tmp_path / "kust" / "ns.yaml").write_text(NAMESPACE_SHOP)
    (tmp_path / "app" / "more").mkdir(parents=True)
    (tmp_path / "app" / "one.yaml").write_text(CONFIGMAP.format(name="one"))
    (tmp_path / "app" / "more" / "two.json").write_text(
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "two"}}'
    )
    return {
        "HOME": str(isolated_home),
        "XDG_STATE_HOME": str(isolated_home / "state"),
        "XDG_CACHE_HOME": str(isolated_home / "cache"),
        "PATH": "/usr/bin:/bin",
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        "KUBESAFE_CONFIG": str(policy),
        "KUBESAFE_KUBECTL": str(kubectl),
        "NO_COLOR": "1",
    }


def _run(
    env: dict[str, str], cwd: Path, *argv: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    # A new session has no controlling terminal, like cron or CI.
    return subprocess.run(
        [KUBESAFE, "kubectl", *argv],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        start_new_session=True,
    )


def _writes(apiserver: FakeAPIServer) -> list[str]:
    return [
        f"{r.method} {r.path}"
        for r in apiserver.requests
        if r.prefix == PREFIX and r.method not in ("GET", "HEAD")
    ]


ATTACKS = [
    ["delete", "-f", "ns.yaml", "-n", "team", "--wait=false"],
    ["delete", "-f", "ns.yaml", "--namespace=team", "--wait=false"],
    ["apply", "-f", "crb.yaml", "-n", "team"],
    ["auth", "reconcile", "-f", "crb.yaml", "-n", "team"],
    ["apply", "-f", "mixed.yaml", "-n", "team"],
    ["apply", "-k", "kust", "-n", "team"],
    ["delete", "-f", "http://127.0.0.1:9/ns.yaml", "-n", "team"],
    ["debug", "node/node-1", "-n", "team", "--image=busybox"],
    ["debug", "nodes/node-1", "-n", "team", "--image=busybox"],
]


@pytest.mark.parametrize("world", VERSIONS, indirect=True)
@pytest.mark.parametrize("argv", ATTACKS, ids=" ".join)
def test_writes_that_escape_minus_n_are_refused(
    world: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path, argv: list[str]
) -> None:
    apiserver.clear()
    result = _run(world, tmp_path, *argv)
    assert result.returncode == 3, result.stderr
    assert "without a terminal" in result.stderr and "Traceback" not in result.stderr
    assert _writes(apiserver) == []


@pytest.mark.parametrize("world", VERSIONS, indirect=True)
def test_the_namespace_attack_is_real(
    world: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    """Approved, kubectl really deletes the protected namespace despite ``-n team``."""
    apiserver.clear()
    approved = {**world, "KUBESAFE_CONFIRM": "prod"}
    result = _run(approved, tmp_path, "delete", "-f", "ns.yaml", "-n", "team", "--wait=false")
    assert result.returncode == 0, result.stderr
    assert _writes(apiserver) == ["DELETE /api/v1/namespaces/shop"]


@pytest.mark.parametrize("world", VERSIONS, indirect=True)
def test_a_piped_manifest_is_refused_and_kubectl_gets_nothing(
    world: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    apiserver.clear()
    result = _run(world, tmp_path, "apply", "-f", "-", "-n", "team", stdin=NAMESPACE_SHOP)
    assert result.returncode == 3 and _writes(apiserver) == []


@pytest.mark.parametrize("world", VERSIONS, indirect=True)
def test_namespaced_manifests_outside_the_rule_still_pass(
    world: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    (tmp_path / "cm.yaml").write_text(CONFIGMAP.format(name="settings"))
    apiserver.clear()
    applied = _run(world, tmp_path, "apply", "-f", "cm.yaml", "-n", "team")
    assert applied.returncode == 0, applied.stderr
    assert _writes(apiserver) == ["POST /api/v1/namespaces/team/configmaps"]
    recursive = _run(world, tmp_path, "apply", "-R", "-f", "app")  # the context's namespace
    assert recursive.returncode == 0, recursive.stderr
    assert apiserver.get_object(PREFIX, "configmaps", "team", "two") is not None
    apiserver.clear()
    deleted = _run(world, tmp_path, "delete", "-f", "cm.yaml")
    assert deleted.returncode == 0, deleted.stderr
    assert _writes(apiserver) == ["DELETE /api/v1/namespaces/team/configmaps/settings"]
    # The same manifest aimed at the protected namespace is refused.
    apiserver.clear()
    assert _run(world, tmp_path, "apply", "-f", "cm.yaml", "-n", "shop").returncode == 3
    assert _writes(apiserver) == []


def _server_dry_run(request: RecordedRequest) -> bool:
    """dryRun=All in the query (create, patch) or in the DeleteOptions body (delete)."""
    if request.query.get("dryRun") == ["All"]:
        return True
    return bool(request.body) and request.json().get("dryRun") == ["All"]


DRY_RUNS = ["1", "t", "T", "true", "True", "TRUE", "client", "server"]


@pytest.mark.parametrize("world", VERSIONS, indirect=True)
def test_dry_run_spellings_pass_and_send_no_write(
    world: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    (tmp_path / "cm.yaml").write_text(CONFIGMAP.format(name="prices"))
    for value in DRY_RUNS:
        for argv in (
            ["delete", "configmap", "prices", "-n", "shop", f"--dry-run={value}"],
            ["apply", "-f", "cm.yaml", "-n", "shop", f"--dry-run={value}"],
        ):
            apiserver.clear()
            result = _run(world, tmp_path, *argv)
            assert result.returncode == 0, (argv, result.stderr)
            # Only a server-side dry run sends anything but reads, and only with dryRun=All.
            sent = [r for r in apiserver.requests if r.method not in ("GET", "HEAD")]
            assert all(_server_dry_run(r) for r in sent), argv
            assert bool(sent) == (value == "server"), argv  # client dry runs send no write
    assert apiserver.get_object(PREFIX, "configmaps", "shop", "prices") is not None


@pytest.mark.parametrize("world", VERSIONS, indirect=True)
def test_dry_run_false_spellings_persist_and_are_refused(
    world: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    for value in ("0", "f", "F", "false", "False", "FALSE", "none"):
        apiserver.clear()
        result = _run(
            world, tmp_path, "delete", "configmap", "prices", "-n", "shop", f"--dry-run={value}"
        )
        assert result.returncode == 3, (value, result.stderr)
        assert _writes(apiserver) == []


def test_kuberc_is_a_plugin_before_kubectl_1_35(
    tmp_path: Path, apiserver: FakeAPIServer, isolated_home: Path, kubectl33: Path
) -> None:
    """kubectl 1.33 runs a ``kubectl-kuberc`` plugin: kubesafe must treat it as a write."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    marker = tmp_path / "plugin-ran"
    plugin = plugins / "kubectl-kuberc"
    plugin.write_text(f"#!/bin/sh\ntouch {marker}\n")
    plugin.chmod(0o755)
    write_kubeconfig(tmp_path / "kubeconfig", apiserver.kubeconfig(PREFIX, context="prod"))
    (tmp_path / "policy.yaml").write_text("rules:\n  - context: prod\n")
    env = {
        "HOME": str(isolated_home),
        "XDG_STATE_HOME": str(isolated_home / "state"),
        "XDG_CACHE_HOME": str(isolated_home / "cache"),
        "PATH": f"{plugins}:/usr/bin:/bin",
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        "KUBESAFE_CONFIG": str(tmp_path / "policy.yaml"),
        "KUBESAFE_KUBECTL": str(kubectl33),
    }
    # kubectl itself runs the plugin (the proof that the word is not a builtin there)...
    subprocess.run([str(kubectl33), "kuberc", "view"], env=env, check=False, timeout=60)
    assert marker.exists()
    marker.unlink()
    # ...so through kubesafe, without a terminal, on a protected context: refused.
    result = _run(env, tmp_path, "kuberc", "view")
    assert result.returncode == 3, result.stderr
    assert not marker.exists()


@pytest.mark.parametrize("world", VERSIONS, indirect=True)
def test_a_namespace_that_disagrees_with_minus_n_fails_only_after_earlier_objects(
    world: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    """kubectl refuses an object whose namespace is not -n's, but writes the ones before it:
    the objects' own namespaces all count, -n does not replace them."""
    early = CONFIGMAP.format(name="early")
    late = CONFIGMAP.format(name="late").replace("name: late", "name: late\n  namespace: shop")
    (tmp_path / "two.yaml").write_text(early + "---\n" + late)
    apiserver.clear()
    kubectl = world["KUBESAFE_KUBECTL"]
    direct = subprocess.run(
        [kubectl, "apply", "-f", "two.yaml", "-n", "team"],
        env=world,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert direct.returncode != 0 and "does not match the namespace" in direct.stderr
    assert _writes(apiserver) == ["POST /api/v1/namespaces/team/configmaps"]
    apiserver.clear()
    assert _run(world, tmp_path, "apply", "-f", "two.yaml", "-n", "team").returncode == 3
    assert _writes(apiserver) == []
    apiserver.clear()
    # Without the protected namespace in it, the same kind of file passes.
    (tmp_path / "two.yaml").write_text(early + "---\n" + late.replace("shop", "team"))
    assert _run(world, tmp_path, "apply", "-f", "two.yaml", "-n", "team").returncode == 0
    assert apiserver.get_object(PREFIX, "configmaps", "team", "late") is not None


@pytest.mark.parametrize("world", VERSIONS, indirect=True)
def test_other_dry_run_values_stay_writes_and_kubectl_rejects_them(
    world: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    approved = {**world, "KUBESAFE_CONFIRM": "prod"}
    for value in ("yes", "Client", "tRuE"):
        argv = ["delete", "configmap", "prices", "-n", "shop", f"--dry-run={value}"]
        apiserver.clear()
        assert _run(world, tmp_path, *argv).returncode == 3, value
        result = _run(approved, tmp_path, *argv)
        assert result.returncode != 0 and "dry-run" in result.stderr, (value, result.stderr)
        assert _writes(apiserver) == [], value
    # "--dry-run=" reads like the bare flag to kubesafe; kubectl rejects it and sends nothing.
    apiserver.clear()
    empty = _run(world, tmp_path, "delete", "configmap", "prices", "-n", "shop", "--dry-run=")
    assert empty.returncode == 1 and "Invalid dry-run value" in empty.stderr
    assert _writes(apiserver) == []
