"""Tests for the fake API server, mostly driven by real kubectl binaries."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_apiserver import (
    FakeAPIServer,
    FakeResponse,
    RecordedRequest,
    _decode_protobuf_object,
    _json_patch,
    _label_selector_matches,
    _strategic_merge_patch,
    human_duration,
    write_kubeconfig,
)
from tests.support.kubectl_binaries import kubectl_binary

TIMEOUT = 30


# --------------------------------------------------------------------------------------
# helpers and fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kubectl() -> Path:
    return kubectl_binary(33)


@pytest.fixture
def srv() -> Iterator[FakeAPIServer]:
    # TLS because client-go only sends a kubeconfig token to an https server.
    with FakeAPIServer(tls=True) as server:
        server.add_pod("c-one", "team-a", "web-0")
        server.add_pod("c-one", "team-a", "web-1", labels={"app": "web"})
        server.add_deployment("c-one", "team-a", "web", replicas=2)
        yield server
        assert server.errors == []


class Kubectl:
    """Runs one kubectl binary against a throwaway kubeconfig and HOME."""

    def __init__(self, binary: Path, tmp_path: Path, config: dict[str, Any]) -> None:
        self.binary = binary
        self.home = tmp_path / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", config)

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "KUBECONFIG": str(self.kubeconfig),
        }
        return subprocess.run(
            [str(self.binary), *args],
            env=env,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )


@pytest.fixture
def kc(kubectl: Path, srv: FakeAPIServer, tmp_path: Path) -> Kubectl:
    return Kubectl(kubectl, tmp_path, srv.kubeconfig("c-one", token="tok-alice"))


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\n{proc.stderr}"
    return proc


def raw_request(
    srv: FakeAPIServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One plain-HTTP request to a non-TLS server."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------------------
# real kubectl 1.33
# --------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_get_pods_records_cluster_namespace_and_user(kc: Kubectl, srv: FakeAPIServer) -> None:
    proc = ok(kc("get", "pods", "-n", "team-a", "--request-timeout=5s"))
    assert re.search(r"^web-0\s+1/1\s+Running\s+0\s+\S+$", proc.stdout, re.M), proc.stdout
    assert "web-1" in proc.stdout

    [req] = srv.find_requests("GET", resource="pods")
    assert req.prefix == "c-one"
    assert req.namespace == "team-a"
    assert req.path == "/api/v1/namespaces/team-a/pods"
    assert req.authorization == "Bearer tok-alice"
    assert req.bearer_token == "tok-alice"
    assert req.raw_path.startswith("/c-one/api/v1/namespaces/team-a/pods?")
    assert req.query["limit"] == ["500"]
    assert "as=Table" in req.accept
    # Every request, discovery included, went to the same cluster with the same user.
    assert {(r.prefix, r.authorization) for r in srv.requests} == {("c-one", "Bearer tok-alice")}


@pytest.mark.e2e
def test_aggregated_discovery_falls_back_to_legacy(kc: Kubectl, srv: FakeAPIServer) -> None:
    proc = ok(kc("get", "pods", "-n", "team-a", "-v=6"))
    assert "web-0" in proc.stdout
    # kubectl logs each response at -v=6; the pods list succeeded.
    assert re.search(
        r"GET.*http://127\.0\.0\.1:\d+/c-one/api/v1/namespaces/team-a/pods\?limit=500.*200 OK",
        proc.stderr.replace("https://", "http://"),
    ), proc.stderr
    paths = [r.path for r in srv.requests]
    assert paths[:2] == ["/api", "/apis"]
    assert "apidiscovery.k8s.io" in srv.requests[0].accept
    # The legacy fallback fetched the per-group-version resource lists.
    assert {"/api/v1", "/apis/apps/v1"} <= set(paths)


@pytest.mark.e2e
def test_plain_list_fallback_without_tables(kubectl: Path, tmp_path: Path) -> None:
    with FakeAPIServer(serve_tables=False) as server:
        server.add_pod("c-one", "team-a", "web-0")
        run = Kubectl(kubectl, tmp_path, server.kubeconfig("c-one"))
        proc = ok(run("get", "pods", "-n", "team-a"))
        assert re.search(r"^NAME\s+AGE$", proc.stdout, re.M), proc.stdout
        assert re.search(r"^web-0\s+\S+$", proc.stdout, re.M), proc.stdout
        assert server.errors == []


@pytest.mark.e2e
def test_plain_http_sends_no_credentials(kubectl: Path, tmp_path: Path) -> None:
    # client-go drops the kubeconfig user's credentials unless the server is https.
    with FakeAPIServer() as server:
        assert server.url.startswith("http://127.0.0.1:")
        server.add_pod("c-one", "team-a", "web-0")
        run = Kubectl(kubectl, tmp_path, server.kubeconfig("c-one", token="tok-alice"))
        ok(run("get", "pods", "-n", "team-a"))
        [req] = server.find_requests("GET", resource="pods")
        assert (req.prefix, req.namespace, req.authorization) == ("c-one", "team-a", None)


@pytest.mark.e2e
def test_get_deployments_and_namespaces(kc: Kubectl, srv: FakeAPIServer) -> None:
    proc = ok(kc("get", "deployments", "-n", "team-a"))
    assert re.search(r"^web\s+2/2\s+2\s+2\s+\S+$", proc.stdout, re.M), proc.stdout
    proc = ok(kc("get", "namespaces"))
    names = [line.split()[0] for line in proc.stdout.splitlines()[1:]]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system", "team-a"]
    [req] = srv.find_requests("GET", resource="namespaces")
    assert (req.prefix, req.namespace) == ("c-one", None)


@pytest.mark.e2e
def test_delete_pod_records_delete(kc: Kubectl, srv: FakeAPIServer) -> None:
    proc = ok(kc("delete", "pod", "web-0", "-n", "team-a", "--request-timeout=5s"))
    assert 'pod "web-0" deleted' in proc.stdout
    [req] = srv.find_requests("DELETE")
    assert (req.prefix, req.namespace, req.resource, req.name) == (
        "c-one",
        "team-a",
        "pods",
        "web-0",
    )
    assert req.authorization == "Bearer tok-alice"
    assert srv.get_object("c-one", "pods", "team-a", "web-0") is None
    assert srv.get_object("c-one", "pods", "team-a", "web-1") is not None


@pytest.mark.e2e
def test_describe_pod(kc: Kubectl, srv: FakeAPIServer) -> None:
    proc = ok(kc("describe", "pod", "web-1", "-n", "team-a"))
    assert re.search(r"^Name:\s+web-1$", proc.stdout, re.M)
    assert re.search(r"^Namespace:\s+team-a$", proc.stdout, re.M)
    assert re.search(r"^Events:\s+<none>$", proc.stdout, re.M)
    [events] = srv.find_requests("GET", resource="events")
    assert events.namespace == "team-a"
    assert "involvedObject.name=web-1" in events.query["fieldSelector"][0]


@pytest.mark.e2e
def test_scale_deployment(kc: Kubectl, srv: FakeAPIServer) -> None:
    proc = ok(kc("scale", "deployment", "web", "--replicas=5", "-n", "team-a"))
    assert "deployment.apps/web scaled" in proc.stdout
    writes = [r for r in srv.requests if r.method in ("PATCH", "PUT")]
    assert [(w.resource, w.name, w.subresource, w.namespace) for w in writes] == [
        ("deployments", "web", "scale", "team-a")
    ]
    dep = srv.get_object("c-one", "deployments", "team-a", "web")
    assert dep is not None
    assert dep["spec"]["replicas"] == 5
    assert dep["status"]["readyReplicas"] == 5
    proc = ok(kc("get", "deployment", "web", "-n", "team-a", "-o", "jsonpath={.spec.replicas}"))
    assert proc.stdout == "5"


@pytest.mark.e2e
def test_apply_configmap_create_then_update(
    kc: Kubectl, srv: FakeAPIServer, tmp_path: Path
) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: '1'\n"
    )
    proc = ok(kc("apply", "-f", str(manifest), "-n", "team-a"))
    assert "configmap/settings created" in proc.stdout
    [post] = srv.find_requests("POST")
    assert (post.prefix, post.namespace, post.resource) == ("c-one", "team-a", "configmaps")
    assert post.json()["data"] == {"a": "1"}

    srv.clear()
    manifest.write_text(manifest.read_text().replace("'1'", "'2'"))
    proc = ok(kc("apply", "-f", str(manifest), "-n", "team-a"))
    assert "configmap/settings configured" in proc.stdout
    [patch] = srv.find_requests("PATCH")
    assert patch.content_type == "application/strategic-merge-patch+json"
    stored = srv.get_object("c-one", "configmaps", "team-a", "settings")
    assert stored is not None
    assert stored["data"] == {"a": "2"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in stored["metadata"]["annotations"]


@pytest.mark.e2e
def test_create_namespace_via_protobuf(kc: Kubectl, srv: FakeAPIServer) -> None:
    ok(kc("create", "namespace", "team-x"))
    [post] = srv.find_requests("POST")
    assert post.content_type == "application/vnd.kubernetes.protobuf"
    assert srv.get_object("c-one", "namespaces", None, "team-x") is not None
    ok(kc("create", "configmap", "c1", "--from-literal=k=v", "-n", "team-x"))
    cm = srv.get_object("c-one", "configmaps", "team-x", "c1")
    assert cm is not None
    assert cm["data"] == {"k": "v"}


@pytest.mark.e2e
def test_api_resources(kc: Kubectl) -> None:
    proc = ok(kc("api-resources"))
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[1:]}
    assert rows["pods"] == ["pods", "po", "v1", "true", "Pod"]
    assert rows["namespaces"] == ["namespaces", "ns", "v1", "false", "Namespace"]
    assert rows["deployments"] == ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    assert {"configmaps", "services", "events"} <= rows.keys()


@pytest.mark.e2e
def test_version_reports_configured_server_version(kc: Kubectl, srv: FakeAPIServer) -> None:
    proc = ok(kc("version", "-o", "json"))
    data = json.loads(proc.stdout)
    assert data["serverVersion"]["gitVersion"] == "v1.33.2"
    assert data["serverVersion"]["minor"] == "33"
    assert data["clientVersion"]["gitVersion"].startswith("v1.33.")

    srv.set_version("c-one", "v1.32.5-eks-1a2b3c", minor="32+")
    data = json.loads(ok(kc("version", "-o", "json")).stdout)
    assert data["serverVersion"]["gitVersion"] == "v1.32.5-eks-1a2b3c"
    assert (data["serverVersion"]["major"], data["serverVersion"]["minor"]) == ("1", "32+")
    [req] = srv.find_requests("GET", path="/version")[-1:]
    assert (req.prefix, req.authorization) == ("c-one", "Bearer tok-alice")


@pytest.mark.e2e
def test_versions_are_per_prefix(kubectl: Path, tmp_path: Path) -> None:
    with FakeAPIServer(git_version="v1.30.1") as server:
        server.set_version("c-new", "v1.34.0")
        server.set_version_payload("c-eks", {"major": "1", "minor": "29+", "gitVersion": "v1.29.9"})
        for prefix, expected in [("c-old", "v1.30.1"), ("c-new", "v1.34.0"), ("c-eks", "v1.29.9")]:
            run = Kubectl(kubectl, tmp_path / prefix, server.kubeconfig(prefix))
            data = json.loads(ok(run("version", "-o", "json")).stdout)
            assert data["serverVersion"]["gitVersion"] == expected
        assert [r.prefix for r in server.requests] == ["c-old", "c-new", "c-eks"]


@pytest.mark.e2e
def test_require_token(kubectl: Path, tmp_path: Path) -> None:
    with FakeAPIServer(require_token="tok-alice", tls=True) as server:
        server.add_pod("c-one", "team-a", "web-0")

        wrong = Kubectl(kubectl, tmp_path / "bob", server.kubeconfig("c-one", token="tok-bob"))
        proc = wrong("get", "pods", "-n", "team-a", "--request-timeout=5s")
        assert proc.returncode != 0
        assert "must be logged in" in proc.stderr, proc.stderr
        assert server.requests, "rejected requests are recorded too"
        assert all(r.authorization == "Bearer tok-bob" for r in server.requests)
        assert not server.find_requests(resource="pods")  # never got past discovery

        right = Kubectl(kubectl, tmp_path / "alice", server.kubeconfig("c-one", token="tok-alice"))
        assert "web-0" in ok(right("get", "pods", "-n", "team-a")).stdout
        assert server.errors == []


@pytest.mark.e2e
def test_require_token_anonymous(kubectl: Path, tmp_path: Path) -> None:
    # Over http kubectl sends no credentials at all.  (Over https, a kubeconfig user
    # without any credentials makes kubectl prompt for a username on stdin instead.)
    with FakeAPIServer(require_token="tok-alice") as server:
        anonymous = Kubectl(kubectl, tmp_path / "a", server.kubeconfig("c-one", token="tok-alice"))
        proc = anonymous("get", "pods", "-n", "team-a", "--request-timeout=5s")
        assert proc.returncode != 0
        assert "must be logged in" in proc.stderr, proc.stderr
        # /version is public by default (anonymous_version=True)
        data = json.loads(ok(anonymous("version", "-o", "json")).stdout)
        assert data["serverVersion"]["gitVersion"] == "v1.33.2"

    with FakeAPIServer(require_token="tok-alice", anonymous_version=False) as server:
        anonymous = Kubectl(kubectl, tmp_path / "b", server.kubeconfig("c-one"))
        proc = anonymous("version", "-o", "json", "--request-timeout=5s")
        assert proc.returncode != 0
        assert [(r.path, r.authorization) for r in server.requests] == [("/version", None)]


@pytest.mark.e2e
def test_get_watch_streams_new_objects(kc: Kubectl, srv: FakeAPIServer) -> None:
    def add_later() -> None:
        time.sleep(0.7)
        srv.add_pod("c-one", "team-a", "web-new")
        srv.add_pod("c-one", "team-b", "elsewhere")

    thread = threading.Thread(target=add_later)
    thread.start()
    proc = ok(kc("get", "pods", "-n", "team-a", "-w", "-o", "name", "--request-timeout=2s"))
    thread.join()
    assert proc.stdout.split() == ["pod/web-0", "pod/web-1", "pod/web-new"]


@pytest.mark.e2e
def test_kubectl_37(tmp_path: Path) -> None:
    kubectl37 = kubectl_binary(37)
    with FakeAPIServer(tls=True) as server:
        server.add_pod("c-one", "team-a", "web-0")
        run = Kubectl(kubectl37, tmp_path, server.kubeconfig("c-one", token="tok-alice"))
        assert "web-0" in ok(run("get", "pods", "-n", "team-a")).stdout
        ok(run("delete", "pod", "web-0", "-n", "team-a"))
        [delete] = server.find_requests("DELETE")
        assert (delete.prefix, delete.namespace, delete.authorization) == (
            "c-one",
            "team-a",
            "Bearer tok-alice",
        )
        data = json.loads(ok(run("version", "-o", "json")).stdout)
        assert data["clientVersion"]["gitVersion"].startswith("v1.37.")
        assert data["serverVersion"]["gitVersion"] == "v1.33.2"
        assert server.errors == []


# --------------------------------------------------------------------------------------
# the server without kubectl
# --------------------------------------------------------------------------------------


def test_prefix_parsing_and_recording() -> None:
    with FakeAPIServer() as server:
        server.add_pod("c-prod", "ns1", "p1")
        status, _, body = raw_request(
            server,
            "GET",
            "/c-prod/api/v1/namespaces/ns1/pods?labelSelector=a%3Db&limit=5",
            headers={"Authorization": "Bearer xyz", "X-Extra": "1"},
        )
        assert status == 200
        assert json.loads(body)["kind"] == "PodList"
        raw_request(server, "GET", "/api/v1/namespaces/ns2/pods/p2")
        raw_request(server, "GET", "/version")
        raw_request(server, "GET", "/c-x/apis/apps/v1/namespaces/n/deployments/d/scale")
        raw_request(server, "GET", "/c-y/api/v1/namespaces/team-z")

        first, second, third, fourth, fifth = server.requests
        assert first == RecordedRequest(
            method="GET",
            raw_path="/c-prod/api/v1/namespaces/ns1/pods?labelSelector=a%3Db&limit=5",
            prefix="c-prod",
            path="/api/v1/namespaces/ns1/pods",
            query={"labelSelector": ["a=b"], "limit": ["5"]},
            authorization="Bearer xyz",
            namespace="ns1",
            headers=first.headers,
            body=b"",
        )
        assert first.header("x-extra") == "1"
        assert (second.prefix, second.namespace, second.resource, second.name) == (
            "",
            "ns2",
            "pods",
            "p2",
        )
        assert second.authorization is None
        assert (third.prefix, third.path, third.namespace) == ("", "/version", None)
        assert (fourth.prefix, fourth.namespace, fourth.subresource) == ("c-x", "n", "scale")
        assert (fifth.prefix, fifth.namespace, fifth.resource, fifth.name) == (
            "c-y",
            None,
            "namespaces",
            "team-z",
        )
        server.clear()
        assert server.requests == []


def test_unknown_path_is_404_status() -> None:
    with FakeAPIServer() as server:
        for path in (
            "/c-one/nope",
            "/apis/networking.k8s.io/v1",
            "/api/v1/widgets",
            "/c-one/c-two/api",
        ):
            status, headers, body = raw_request(server, "GET", path)
            assert status == 404, path
            assert headers["Content-Type"] == "application/json"
            data = json.loads(body)
            assert (data["kind"], data["status"], data["reason"], data["code"]) == (
                "Status",
                "Failure",
                "NotFound",
                404,
            )
        status, _, body = raw_request(server, "GET", "/c-one/api/v1/namespaces/a/pods/missing")
        assert status == 404
        assert json.loads(body)["message"] == 'pods "missing" not found'
        assert server.errors == []


def test_version_payload_and_discovery_documents() -> None:
    with FakeAPIServer(git_version="v1.31.7") as server:
        status, _, body = raw_request(server, "GET", "/c-a/version")
        version = json.loads(body)
        assert status == 200
        assert {k: version[k] for k in ("major", "minor", "gitVersion")} == {
            "major": "1",
            "minor": "31",
            "gitVersion": "v1.31.7",
        }
        assert set(version) >= {
            "gitCommit",
            "gitTreeState",
            "buildDate",
            "goVersion",
            "compiler",
            "platform",
        }
        assert all(isinstance(v, str) for v in version.values())

        resources = json.loads(raw_request(server, "GET", "/c-a/api/v1")[2])["resources"]
        by_name = {r["name"]: r for r in resources}
        assert by_name["pods"]["namespaced"] is True
        assert by_name["pods"]["shortNames"] == ["po"]
        assert "delete" in by_name["pods"]["verbs"]
        assert by_name["namespaces"]["namespaced"] is False
        apps = json.loads(raw_request(server, "GET", "/c-a/apis/apps/v1")[2])["resources"]
        scale = next(r for r in apps if r["name"] == "deployments/scale")
        assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
        groups = json.loads(raw_request(server, "GET", "/c-a/apis")[2])
        assert groups["kind"] == "APIGroupList"
        assert groups["groups"][0]["preferredVersion"]["groupVersion"] == "apps/v1"


def test_crud_roundtrip_over_http() -> None:
    with FakeAPIServer() as server:
        base = "/c-1/api/v1/namespaces/ns/configmaps"
        cm = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "x"},
            "data": {"a": "1"},
        }
        status, _, body = raw_request(server, "POST", base, json.dumps(cm).encode())
        created = json.loads(body)
        assert status == 201
        assert created["metadata"]["namespace"] == "ns"
        assert created["metadata"]["resourceVersion"]
        assert created["metadata"]["creationTimestamp"].endswith("Z")
        assert raw_request(server, "POST", base, json.dumps(cm).encode())[0] == 409

        patch = json.dumps({"data": {"b": "2", "a": None}}).encode()
        headers = {"Content-Type": "application/merge-patch+json"}
        status, _, body = raw_request(server, "PATCH", f"{base}/x", patch, headers)
        assert status == 200
        assert json.loads(body)["data"] == {"b": "2"}

        stale = dict(created, data={"c": "3"})
        assert raw_request(server, "PUT", f"{base}/x", json.dumps(stale).encode())[0] == 409

        dry = raw_request(server, "DELETE", f"{base}/x?dryRun=All")
        assert dry[0] == 200
        assert server.get_object("c-1", "configmaps", "ns", "x") is not None
        options = json.dumps({"dryRun": ["All"]}).encode()  # how kubectl sends it
        assert raw_request(server, "DELETE", f"{base}/x", options)[0] == 200
        assert server.get_object("c-1", "configmaps", "ns", "x") is not None
        assert raw_request(server, "DELETE", f"{base}/x")[0] == 200
        assert server.get_object("c-1", "configmaps", "ns", "x") is None
        # Other clusters never saw any of it.
        assert server.list_objects("c-2", "configmaps") == []
        assert server.errors == []


def test_table_and_selectors() -> None:
    with FakeAPIServer() as server:
        server.add_pod("c", "ns", "a", labels={"tier": "web"})
        server.add_pod("c", "ns", "b", labels={"tier": "db"})
        accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        path = "/c/api/v1/namespaces/ns/pods?labelSelector=tier%3Dweb"
        status, headers, body = raw_request(server, "GET", path, None, {"Accept": accept})
        table = json.loads(body)
        assert status == 200
        assert headers["Content-Type"].startswith("application/json")
        assert table["kind"] == "Table"
        assert [c["name"] for c in table["columnDefinitions"]][:5] == [
            "Name",
            "Ready",
            "Status",
            "Restarts",
            "Age",
        ]
        assert [row["cells"][0] for row in table["rows"]] == ["a"]
        assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"

        _, _, body = raw_request(
            server, "GET", "/c/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%21%3Da"
        )
        assert [p["metadata"]["name"] for p in json.loads(body)["items"]] == ["b"]


def test_requests_recorded_before_response_and_interceptors() -> None:
    with FakeAPIServer() as server:
        seen: list[int] = []

        def intercept(req: RecordedRequest) -> FakeResponse | None:
            seen.append(len(server.requests))
            if req.path == "/api/v1/namespaces/ns/pods/forbidden":
                return FakeResponse(403, {"kind": "Status", "code": 403})
            return None

        remove = server.intercept(intercept)
        assert raw_request(server, "GET", "/c/api/v1/namespaces/ns/pods/forbidden")[0] == 403
        assert raw_request(server, "GET", "/c/api/v1/namespaces/ns/pods")[0] == 200
        assert seen == [1, 2]
        remove()
        assert raw_request(server, "GET", "/c/api/v1/namespaces/ns/pods/forbidden")[0] == 404


def test_require_token_without_kubectl() -> None:
    with FakeAPIServer(require_token="s3cret") as server:
        status, _, body = raw_request(server, "GET", "/c/api/v1/namespaces/ns/pods")
        assert status == 401
        assert json.loads(body)["reason"] == "Unauthorized"
        assert raw_request(server, "GET", "/c/version")[0] == 200
        good = {"Authorization": "Bearer s3cret"}
        assert raw_request(server, "GET", "/c/api/v1/namespaces/ns/pods", None, good)[0] == 200
        server.set_required_token("open", None)
        assert raw_request(server, "GET", "/open/api/v1/namespaces/ns/pods")[0] == 200
        assert [r.authorization for r in server.requests] == [None, None, "Bearer s3cret", None]


def test_watch_stream_over_http() -> None:
    with FakeAPIServer() as server:
        server.add_pod("c", "ns", "a")

        def later() -> None:
            time.sleep(0.3)
            server.add_pod("c", "ns", "b")

        threading.Thread(target=later).start()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/c/api/v1/namespaces/ns/pods?watch=true&timeoutSeconds=1")
        resp = conn.getresponse()
        events = [json.loads(line) for line in resp.read().splitlines()]
        conn.close()
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("ADDED", "a"),
            ("ADDED", "b"),
        ]


def test_patch_helpers() -> None:
    doc = {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}
    merged = _strategic_merge_patch(
        doc,
        {
            "spec": {
                "containers": [{"name": "b", "image": "z"}, {"name": "a", "$patch": "delete"}],
                "$setElementOrder/containers": [{"name": "b"}],
            }
        },
    )
    assert merged == {"spec": {"containers": [{"name": "b", "image": "z"}]}}
    patched = _json_patch(
        {"a": [1, 2], "b": {"c": 1}},
        [
            {"op": "add", "path": "/a/-", "value": 3},
            {"op": "replace", "path": "/b/c", "value": 2},
            {"op": "remove", "path": "/a/0"},
        ],
    )
    assert patched == {"a": [2, 3], "b": {"c": 2}}
    assert _label_selector_matches("app in (a,b),!gone,tier!=db", {"app": "b", "tier": "web"})
    assert not _label_selector_matches("app notin (a,b)", {"app": "a"})


def test_protobuf_decoding() -> None:
    def field(no: int, payload: bytes) -> bytes:
        return bytes([no << 3 | 2, len(payload)]) + payload

    meta = field(1, b"team-x") + field(11, field(1, b"k") + field(2, b"v"))
    raw = field(1, meta) + field(2, field(1, b"key") + field(2, b"value"))
    body = b"k8s\x00" + field(1, field(1, b"v1") + field(2, b"ConfigMap")) + field(2, raw)
    assert _decode_protobuf_object(body) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "team-x", "labels": {"k": "v"}},
        "data": {"key": "value"},
    }


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (5, "5s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (259200, "3d"),
    ],
)
def test_human_duration(seconds: int, expected: str) -> None:
    assert human_duration(seconds) == expected


def test_tls_server_and_kubeconfig(tmp_path: Path) -> None:
    with FakeAPIServer(tls=True) as server:
        assert server.url.startswith("https://127.0.0.1:")
        config = server.kubeconfig("c-one", token="t", namespace="team-a")
        cluster = config["clusters"][0]["cluster"]
        assert cluster["server"] == f"{server.url}/c-one"
        assert cluster["certificate-authority-data"] == server.ca_data
        assert config["contexts"][0]["context"]["namespace"] == "team-a"
        path = write_kubeconfig(tmp_path / "kc", config)
        assert json.loads(path.read_text()) == config
        assert path.stat().st_mode & 0o777 == 0o600
