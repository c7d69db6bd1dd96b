"""The demo's stand-in API server against real kubectl: what the demo's users will type."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kubesafe.demo.apiserver import DemoAPIServer
from kubesafe.demo.objects import CLUSTERS, DEMO_VERSION
from kubesafe.demo.sandbox import kubeconfig_text
from tests.support.kubectl_binaries import kubectl_binary

pytestmark = pytest.mark.e2e

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def server() -> Iterator[DemoAPIServer]:
    with DemoAPIServer() as demo:
        yield demo


@pytest.fixture(params=[33, 37, 31])
def kubectl(request: pytest.FixtureRequest) -> Path:
    return kubectl_binary(request.param)


@pytest.fixture
def run(tmp_path: Path, server: DemoAPIServer, kubectl: Path) -> Kubectl:
    config = tmp_path / "kubeconfig"
    config.write_text(kubeconfig_text({name: server.cluster_url(name) for name in CLUSTERS}))
    env = {"HOME": str(tmp_path), "KUBECONFIG": str(config), "PATH": "/usr/bin:/bin"}

    def kubectl_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(kubectl), *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    return kubectl_run


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_version_and_get_pods_table(run: Kubectl, server: DemoAPIServer) -> None:
    assert f"Server Version: {DEMO_VERSION}" in _ok(run("version"))
    table = _ok(run("get", "pods")).splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = {line.split()[0]: line.split()[1:3] for line in table[1:]}
    assert rows["web-0"] == ["1/1", "Running"]
    assert set(rows) == {"web-0", "web-1", "api-7c9d8b6f5-x2lq4"}
    wide = _ok(run("get", "deployments", "-o", "wide"))
    assert wide.split()[:5] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert "web    2/2" in wide


def test_each_cluster_has_its_own_objects(run: Kubectl) -> None:
    images = {
        cluster: _ok(
            run(
                "--context",
                cluster,
                "get",
                "pod",
                "web-0",
                "-o",
                "jsonpath={.spec.containers[0].image}",
            )
        )
        for cluster in CLUSTERS
    }
    assert images == {"dev": "nginx:1.28", "staging": "nginx:1.28", "prod": "nginx:1.27"}
    _ok(run("--context", "staging", "delete", "pod", "web-0"))
    assert "web-0" in _ok(run("--context", "prod", "get", "pods"))


def test_describe_pod_shows_its_events(run: Kubectl) -> None:
    out = _ok(run("describe", "pod", "web-0"))
    assert "Name:             web-0" in out
    assert "Status:           Running" in out
    events = out.split("Events:")[1]
    assert [line.split()[1] for line in events.splitlines()[3:6]] == [
        "Scheduled",
        "Pulled",
        "Started",
    ]


def test_delete_pod_is_gone_afterwards(run: Kubectl, server: DemoAPIServer) -> None:
    # kubectl 1.37 adds "from default namespace"
    assert _ok(run("delete", "pod", "web-0")).startswith('pod "web-0" deleted')
    assert server.find("dev", "pods", "default", "web-0") is None
    missing = run("get", "pod", "web-0")
    assert missing.returncode == 1
    assert 'pods "web-0" not found' in missing.stderr
    assert server.find("prod", "pods", "default", "web-0") is not None


def test_scale_deployment(run: Kubectl, server: DemoAPIServer) -> None:
    assert "scaled" in _ok(run("scale", "deployment", "web", "--replicas=5"))
    stored = server.find("dev", "deployments", "default", "web")
    assert stored is not None
    assert stored["spec"]["replicas"] == 5
    assert stored["status"]["readyReplicas"] == 5
    assert "web    5/5" in _ok(run("get", "deploy", "web"))


def test_apply_creates_then_configures(run: Kubectl, server: DemoAPIServer, tmp_path: Path) -> None:
    manifest = tmp_path / "settings.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  colour: blue\n"
    )
    assert _ok(run("apply", "-f", str(manifest))).strip() == "configmap/settings created"
    assert _ok(run("apply", "-f", str(manifest))).strip() == "configmap/settings unchanged"
    manifest.write_text(manifest.read_text().replace("blue", "red"))
    assert _ok(run("apply", "-f", str(manifest))).strip() == "configmap/settings configured"
    stored = server.find("dev", "configmaps", "default", "settings")
    assert stored is not None and stored["data"] == {"colour": "red"}
    applied = json.loads(
        stored["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    )
    assert applied["data"] == {"colour": "red"}


def test_apply_merges_containers_by_name(
    run: Kubectl, server: DemoAPIServer, tmp_path: Path
) -> None:
    from kubesafe.demo.sandbox import MANIFEST

    manifest = tmp_path / "web.yaml"
    manifest.write_text(MANIFEST)
    assert "deployment.apps/web configured" in _ok(run("apply", "-f", str(manifest)))
    stored = server.find("dev", "deployments", "default", "web")
    assert stored is not None
    assert stored["spec"]["replicas"] == 3
    assert stored["spec"]["template"]["spec"]["containers"] == [
        {"name": "web", "image": "nginx:1.29"}
    ]
