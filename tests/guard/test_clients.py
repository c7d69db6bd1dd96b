"""Real clients through the guard: kubectl by absolute path, helm, the Python client, curl.

Every write to the protected context is refused with a Forbidden Status that names the
rule and the lift command, and not one of them reaches the API server; reads arrive and
succeed; with a lift open, writes pass and are audited.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from kubesafe.guard.gate import lift_command
from tests.support.fake_apiserver import FakeAPIServer
from tests.support.guard_harness import REAL_TOKEN, Guarded

pytestmark = pytest.mark.e2e

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
QUESTIONS = {"selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews"}


def persisted_writes(server: FakeAPIServer) -> list[str]:
    """Writes that reached the API server and could have changed something."""
    return [
        f"{r.method} {r.raw_path}"
        for r in server.requests
        if r.method in WRITE_METHODS
        and r.query.get("dryRun") != ["All"]
        and r.resource not in QUESTIONS
    ]


def assert_refusal(text: str) -> None:
    assert "kubesafe guard refused" in text
    assert "policy.yaml:2" in text  # the rule
    assert lift_command("prod") in text


def curl(guard: Guarded, *args: str, token: str | None = None) -> tuple[int, str]:
    headers = [] if token is None else ["-H", f"Authorization: Bearer {token}"]
    done = subprocess.run(
        ["curl", "-sS", "--cacert", guard.layout.ca, "-w", "\n%{http_code}", *headers, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    body, _, code = done.stdout.rpartition("\n")
    return int(code), body


def test_kubectl_writes_are_refused_and_never_arrive(fresh: Guarded, tmp_path: Path) -> None:
    manifest = tmp_path / "cm.json"
    manifest.write_text(
        json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}})
    )
    attempts = [
        ("create", "configmap", "cfg", "--from-literal=a=b"),
        ("apply", "-f", str(manifest)),
        ("delete", "pod", "web-0"),
        ("label", "pod", "web-0", "x=y"),
        ("annotate", "pod", "web-0", "x=y"),
        ("create", "-f", str(manifest), "--dry-run=none"),
    ]
    for argv in attempts:
        done = fresh.kubectl_run(*argv)
        assert done.returncode != 0, argv
        assert_refusal(done.stderr)
    assert persisted_writes(fresh.server) == []
    assert fresh.server.get_object("c-prod", "pods", "shop", "web-0") is not None


def test_kubectl_reads_arrive_and_succeed(fresh: Guarded) -> None:
    assert "web-0" in fresh.kubectl_run("get", "pods").stdout
    assert fresh.kubectl_run("get", "pods", "web-0", "-o", "name").stdout.strip() == "pod/web-0"
    assert fresh.kubectl_run("logs", "web-0").returncode == 0
    done = fresh.kubectl_run("auth", "can-i", "create", "pods")
    assert (done.returncode, done.stdout.strip()) == (0, "yes")
    done = fresh.kubectl_run("create", "configmap", "dry", "--from-literal=a=b", "--dry-run=server")
    assert done.returncode == 0 and "server dry run" in done.stdout
    watch = fresh.kubectl_run("get", "pods", "--watch", "--request-timeout=2s")
    assert "web-0" in watch.stdout
    seen = [(r.method, r.path) for r in fresh.server.requests]
    assert ("GET", "/api/v1/namespaces/shop/pods") in seen
    assert ("GET", "/api/v1/namespaces/shop/pods/web-0/log") in seen
    assert any(r.is_watch for r in fresh.server.requests)
    # Only the real credentials reach the server, never the terminal's guard token.
    assert {r.authorization for r in fresh.server.requests} == {f"Bearer {REAL_TOKEN}"}
    assert persisted_writes(fresh.server) == []
    assert fresh.server.get_object("c-prod", "configmaps", "shop", "dry") is None


def test_helm_install_is_refused_and_list_works(fresh: Guarded, helm: Path, tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: tiny\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tiny-cm\ndata:\n  a: b\n"
    )
    env = fresh.client_env()

    def helm_run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(helm), *argv], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    listed = helm_run("list", "-n", "shop")
    assert listed.returncode == 0, listed.stderr
    installed = helm_run("install", "tiny", str(chart), "-n", "shop")
    assert installed.returncode != 0
    assert_refusal(installed.stderr)
    assert persisted_writes(fresh.server) == []


def test_python_client(fresh: Guarded) -> None:
    from kubernetes import client, config, watch

    api_client = config.new_client_from_config(
        config_file=str(fresh.kubeconfig), context="prod", persist_config=False
    )
    core = client.CoreV1Api(api_client)
    assert [p.metadata.name for p in core.list_namespaced_pod("shop").items] == ["web-0"]
    events = list(watch.Watch().stream(core.list_namespaced_pod, "shop", timeout_seconds=1))
    assert [e["object"].metadata.name for e in events] == ["web-0"]
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py"), data={"a": "b"})
    with pytest.raises(client.ApiException) as refused:
        core.create_namespaced_config_map("shop", body)
    assert refused.value.status == 403
    status = json.loads(refused.value.body)
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "Forbidden", 403)
    assert_refusal(status["message"])
    dry = core.create_namespaced_config_map("shop", body, dry_run="All")
    assert dry.metadata.name == "py"
    review = client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(verb="create", resource="pods")
        )
    )
    answer = client.AuthorizationV1Api(api_client).create_self_subject_access_review(review)
    assert answer.status.allowed is True
    api_client.close()
    assert persisted_writes(fresh.server) == []


def test_curl_needs_the_terminal_token(fresh: Guarded) -> None:
    pods = f"{fresh.url}/api/v1/namespaces/shop/pods"
    code, body = curl(fresh, pods)
    assert code == 401 and json.loads(body)["reason"] == "Unauthorized"
    code, _ = curl(fresh, pods, token=fresh.token[:-1] + "x")
    assert code == 401
    code, _ = curl(fresh, pods, token=REAL_TOKEN)  # the real credential is no key here
    assert code == 401
    code, body = curl(fresh, pods, token=fresh.token)
    assert code == 200 and json.loads(body)["items"][0]["metadata"]["name"] == "web-0"
    code, body = curl(
        fresh,
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}',
        f"{fresh.url}/api/v1/namespaces/shop/configmaps",
        token=fresh.token,
    )
    status = json.loads(body)
    assert code == 403 and status["status"] == "Failure" and status["apiVersion"] == "v1"
    assert_refusal(status["message"])
    code, _ = curl(fresh, f"https://127.0.0.1:{fresh.port}/nope/api", token=fresh.token)
    assert code == 404
    # bound to 127.0.0.1 alone, not to every address (127.0.0.2 is loopback too)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", fresh.port), timeout=5).close()
    assert persisted_writes(fresh.server) == []
    # the token is in no log the guard or its proxy wrote
    logs = "".join(p.read_text() for p in Path(fresh.layout.directory).glob("*.log"))
    assert fresh.token not in logs


def test_a_lift_lets_writes_through_and_audits_them(fresh: Guarded) -> None:
    fresh.open_lift(reason="rotate the config")
    done = fresh.kubectl_run("create", "configmap", "lifted", "--from-literal=a=b")
    assert done.returncode == 0, done.stderr
    assert fresh.server.get_object("c-prod", "configmaps", "shop", "lifted") is not None
    audit = Path(fresh.env["XDG_STATE_HOME"]) / "kubesafe" / "audit.jsonl"
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    [entry] = [e for e in entries if e["decision"] == "forwarded-under-lift"]
    assert entry["method"] == "POST" and entry["namespace"] == "shop"
    assert entry["path"].startswith("/api/v1/namespaces/shop/configmaps")
    assert entry["status"] == 201 and entry["lift_reason"] == "rotate the config"
    assert entry["user_agent"].startswith("kubectl")
    fresh.close_lift()
    again = fresh.kubectl_run("create", "configmap", "after", "--from-literal=a=b")
    assert again.returncode != 0 and lift_command("prod") in again.stderr
    fresh.open_lift(seconds=-1)  # expired
    expired = fresh.kubectl_run("create", "configmap", "expired", "--from-literal=a=b")
    assert expired.returncode != 0 and lift_command("prod") in expired.stderr
    assert fresh.server.get_object("c-prod", "configmaps", "shop", "after") is None


def test_kubectl_exec_is_refused_without_a_lift(fresh: Guarded) -> None:
    done = fresh.kubectl_run("exec", "web-0", "--", "ls")
    assert done.returncode != 0
    assert "pods/exec" in done.stderr and lift_command("prod") in done.stderr
    assert not [r for r in fresh.server.requests if r.subresource == "exec"]


def test_kubectl_exec_over_websocket_during_a_lift(fresh: Guarded) -> None:
    fresh.open_lift(reason="debug a pod")
    done = fresh.kubectl_run("exec", "web-0", "--", "echo", "hi")
    assert (done.returncode, done.stdout) == (0, "echo hi\n"), done.stderr
    [exec_request] = [r for r in fresh.server.requests if r.subresource == "exec"]
    assert exec_request.header("Upgrade") == "websocket"
    assert exec_request.authorization == f"Bearer {REAL_TOKEN}"
