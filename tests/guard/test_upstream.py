"""The upstream half: real credentials used by kubectl proxy, restarts, and failures."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.fake_apiserver import FakeAPIServer, FakeResponse
from tests.support.guard_harness import REAL_TOKEN, Guarded, wait_for

pytestmark = pytest.mark.e2e


def _exec_plugin(directory: Path, lifetime: float = 3600 * 24) -> tuple[Path, Path]:
    """A credential plugin that counts its calls and hands out the real token."""
    counter = directory / "plugin-calls"
    script = directory / "count-plugin"
    script.write_text(
        f"#!{sys.executable}\n"
        "import datetime, json\n"
        f"with open({str(counter)!r}, 'a') as f: f.write('call\\n')\n"
        "now = datetime.datetime.now(datetime.timezone.utc)\n"
        f"until = (now + datetime.timedelta(seconds={lifetime})).strftime('%Y-%m-%dT%H:%M:%SZ')\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', "
        "'kind': 'ExecCredential', "
        f"'status': {{'token': {REAL_TOKEN!r}, 'expirationTimestamp': until}}}}))\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, counter


def _exec_user(script: Path) -> dict[str, object]:
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": str(script),
            "interactiveMode": "Never",
        }
    }


def test_exec_plugin_credentials_are_used_upstream(tmp_path: Path, kubectl: Path) -> None:
    script, counter = _exec_plugin(tmp_path)
    user = _exec_user(script)
    with FakeAPIServer(tls=True, require_token=REAL_TOKEN) as server:
        server.add_pod("c-prod", "shop", "web-0")
        with Guarded(tmp_path / "g", server, kubectl, user=user) as guard:
            for _ in range(3):
                done = guard.kubectl_run("get", "pods")
                assert done.returncode == 0 and "web-0" in done.stdout, done.stderr
            # the plugin ran in the guard's kubectl proxy, not in the client
            calls = counter.read_text().count("call")
            assert 1 <= calls < 3
            assert "exec" not in guard.kubeconfig.read_text()
            assert {r.authorization for r in server.requests} == {f"Bearer {REAL_TOKEN}"}


def test_expired_exec_credentials_are_refreshed_upstream(tmp_path: Path, kubectl: Path) -> None:
    script, counter = _exec_plugin(tmp_path, lifetime=1)
    with FakeAPIServer(tls=True, require_token=REAL_TOKEN) as server:
        server.add_pod("c-prod", "shop", "web-0")
        with Guarded(tmp_path / "g", server, kubectl, user=_exec_user(script)) as guard:
            assert guard.kubectl_run("get", "pods").returncode == 0
            calls = counter.read_text().count("call")
            time.sleep(2.5)  # the credential expires: the proxy must run the plugin again
            done = guard.kubectl_run("get", "pods")
            assert done.returncode == 0 and "web-0" in done.stdout, done.stderr
            assert counter.read_text().count("call") > calls


def test_client_certificate_upstream(tmp_path: Path, kubectl: Path) -> None:
    """A user with a client certificate (file paths) reaches a server that demands one."""
    key, cert = tmp_path / "client.key", tmp_path / "client.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=alice"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    with FakeAPIServer(tls=True, client_ca=str(cert)) as server:
        server.add_pod("c-prod", "shop", "web-0")
        user = {"client-certificate": str(cert), "client-key": str(key)}
        with Guarded(tmp_path / "g", server, kubectl, user=user) as guard:
            done = guard.kubectl_run("get", "pods")
            assert done.returncode == 0 and "web-0" in done.stdout, done.stderr
            assert server.client_subjects() and server.client_subjects()[-1] == "alice"


def test_a_killed_kubectl_proxy_is_restarted_on_next_use(fresh: Guarded) -> None:
    assert fresh.kubectl_run("get", "pods").returncode == 0
    [pid] = fresh.proxy_pids()
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: pid not in fresh.proxy_pids())
    done = fresh.kubectl_run("get", "pods")
    assert done.returncode == 0 and "web-0" in done.stdout, done.stderr
    [new_pid] = fresh.proxy_pids()
    assert new_pid != pid


def test_a_slow_upstream_gets_504_and_others_are_served(tmp_path: Path, kubectl: Path) -> None:
    with FakeAPIServer(tls=True, require_token=REAL_TOKEN) as server:
        server.add_pod("c-prod", "shop", "web-0")

        def slow(request):  # type: ignore[no-untyped-def]
            if request.resource == "configmaps":
                return FakeResponse(200, {"kind": "ConfigMapList", "items": []}, delay=5)
            return None

        server.intercept(slow)
        with Guarded(tmp_path / "g", server, kubectl, extra_args=("--head-timeout", "1")) as guard:
            started = time.monotonic()
            slow_done = guard.kubectl_run("get", "configmaps", "--request-timeout=20s")
            assert slow_done.returncode != 0
            assert "did not answer" in slow_done.stderr
            assert time.monotonic() - started < 5
            done = guard.kubectl_run("get", "pods")
            assert done.returncode == 0 and "web-0" in done.stdout


def test_an_upstream_that_is_down_gets_a_status_then_recovers(
    tmp_path: Path, kubectl: Path
) -> None:
    server = FakeAPIServer(tls=True, require_token=REAL_TOKEN).start()
    port = server.port
    try:
        server.add_pod("c-prod", "shop", "web-0")
        with Guarded(tmp_path / "g", server, kubectl) as guard:
            assert guard.kubectl_run("get", "pods").returncode == 0
            server.stop()
            down = guard.kubectl_run("get", "pods", "-o", "json", "--request-timeout=10s")
            assert down.returncode != 0
            assert "unreachable" in down.stderr or "failed" in down.stderr, down.stderr
            server = FakeAPIServer(tls=True, require_token=REAL_TOKEN, port=port).start()
            server.add_pod("c-prod", "shop", "web-1")
            back = guard.kubectl_run("get", "pods", "-o", "json")
            assert back.returncode == 0, back.stderr
            assert [i["metadata"]["name"] for i in json.loads(back.stdout)["items"]] == ["web-1"]
    finally:
        server.stop()


@pytest.mark.parametrize("minor", [31, 37])
def test_other_kubectl_releases_as_the_proxy(tmp_path: Path, minor: int) -> None:
    """The flags the guard relies on, and the server URL's path, work across releases."""
    from tests.support.kubectl_binaries import kubectl_binary

    with FakeAPIServer(tls=True, require_token=REAL_TOKEN) as server:
        server.add_pod("c-prod", "shop", "web-0")
        with Guarded(tmp_path / "g", server, kubectl_binary(minor)) as guard:
            done = guard.kubectl_run("get", "pods")
            assert done.returncode == 0 and "web-0" in done.stdout, done.stderr
            refused = guard.kubectl_run("delete", "pod", "web-0")
            assert refused.returncode != 0 and "kubesafe lift prod" in refused.stderr
        assert {r.prefix for r in server.requests} == {"c-prod"}
        assert server.get_object("c-prod", "pods", "shop", "web-0") is not None


def test_a_proxy_that_cannot_start_gets_503(tmp_path: Path, kubectl: Path) -> None:
    broken = tmp_path / "broken-kubectl"
    broken.write_text("#!/bin/sh\necho 'error: no such context' >&2\nexit 1\n")
    broken.chmod(0o755)
    with FakeAPIServer(tls=True, require_token=REAL_TOKEN) as server:
        with Guarded(tmp_path / "g", server, broken) as guard:
            done = subprocess.run(
                ["curl", "-sS", "--cacert", guard.layout.ca, "-H",
                 f"Authorization: Bearer {guard.token}", f"{guard.url}/api/v1/pods"],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            status = json.loads(done.stdout)
            assert status["code"] == 503 and status["reason"] == "ServiceUnavailable"
            assert "error: no such context" in status["message"]
        assert server.requests == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_proxies_end_with_a_killed_guard(tmp_path: Path, kubectl: Path) -> None:
    with FakeAPIServer(tls=True, require_token=REAL_TOKEN) as server:
        guard = Guarded(tmp_path / "g", server, kubectl).start()
        try:
            assert guard.kubectl_run("get", "pods").returncode == 0
            [pid] = guard.proxy_pids()
            assert guard.process is not None
            guard.process.kill()
            guard.process.wait()

            def gone() -> bool:
                try:
                    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                except OSError:
                    return True
                return state == "Z"

            assert wait_for(gone)
        finally:
            guard.stop()


def test_the_proxy_kubectl_comes_from_kubesafes_version_selection(tmp_path: Path) -> None:
    """Server 1.31 and kubectl 1.31 and 1.37 on PATH: the guard runs 1.31, as the shim would."""
    from kubesafe.guard.app import choose_kubectl
    from tests.support.kubectl_binaries import kubectl_binary

    bin_old, bin_new = tmp_path / "old", tmp_path / "new"
    for directory, minor in ((bin_old, 31), (bin_new, 37)):
        directory.mkdir()
        (directory / "kubectl").symlink_to(kubectl_binary(minor))
    with FakeAPIServer(git_version="v1.31.4", tls=True) as server:
        guard = Guarded(tmp_path / "g", server, kubectl_binary(33))
        env = {**guard.env, "PATH": f"{bin_new}:{bin_old}:/usr/bin:/bin"}
        assert choose_kubectl("prod", env) == str(bin_old / "kubectl")
        # it asked the server for its version, as the shim does when it knows none
        assert any(r.path.rstrip("/") == "/version" for r in server.requests)
