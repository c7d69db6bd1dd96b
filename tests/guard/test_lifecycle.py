"""The guard's lifetime: it outlives an API server restart, and comes back when killed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.fake_apiserver import FakeAPIServer
from tests.support.guard_harness import REAL_TOKEN, Guarded

pytestmark = pytest.mark.e2e


def _pod_names(guard: Guarded) -> list[str]:
    done = guard.kubectl_run("get", "pods", "-o", "json", "--request-timeout=20s")
    assert done.returncode == 0, done.stderr
    return [item["metadata"]["name"] for item in json.loads(done.stdout)["items"]]


def test_the_guard_survives_an_api_server_restart(tmp_path: Path, kubectl: Path) -> None:
    from kubernetes import client, config

    with FakeAPIServer(tls=True, require_token=REAL_TOKEN) as server:
        server.add_pod("c-prod", "shop", "web-0")
        port = server.port
        with Guarded(tmp_path / "g", server, kubectl) as guard:
            assert guard.process is not None
            guard_pid = guard.process.pid
            api_client = config.new_client_from_config(
                config_file=str(guard.kubeconfig), context="prod", persist_config=False
            )
            core = client.CoreV1Api(api_client)
            assert [p.metadata.name for p in core.list_namespaced_pod("shop").items] == ["web-0"]
            assert _pod_names(guard) == ["web-0"]

            server.stop()
            for _ in range(2):  # the kept-alive connection, then a fresh one
                with pytest.raises(client.ApiException) as down:
                    core.list_namespaced_pod("shop", _request_timeout=20)
                assert down.value.status in (502, 503), down.value
                status = json.loads(down.value.body)
                assert status["kind"] == "Status" and status["code"] == down.value.status
                assert "'prod'" in status["message"]
            refused = guard.kubectl_run("get", "pods", "--request-timeout=20s")
            assert refused.returncode != 0
            assert "Error from server" in refused.stderr, refused.stderr
            assert guard.process.poll() is None and guard.process.pid == guard_pid

            server.start()
            assert server.port == port
            server.add_pod("c-prod", "shop", "web-1")
            # The same client object, its pool and the same guard: nothing restarted.
            names = [p.metadata.name for p in core.list_namespaced_pod("shop").items]
            assert names == ["web-0", "web-1"]
            assert _pod_names(guard) == ["web-0", "web-1"]
            assert guard.process.poll() is None and guard.process.pid == guard_pid
            api_client.close()
