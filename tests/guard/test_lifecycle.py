"""The guard's lifetime: it outlives an API server restart, and comes back when killed."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubesafe.guard.terminal import describe, keeper_command
from tests.support.fake_apiserver import FakeAPIServer
from tests.support.guard_harness import REAL_TOKEN, Guarded, wait_for

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


def _port_taken(port: int) -> bool:
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", port))
    except OSError:
        return True
    finally:
        probe.close()
    return False


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _configmap_create(guard: Guarded) -> subprocess.CompletedProcess[str]:
    return guard.kubectl_run(
        "create", "configmap", "kept", "-n", "shop", "--from-literal=a=b", "--request-timeout=20s"
    )


def _write_pid_file(directory: Path, pid: int) -> None:
    """What ``terminal.spawn`` writes for the keeper it starts."""
    fd = os.open(directory / "guard.pid", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{pid}\n")


def _get(guard: Guarded, connection: socket.socket, path: str) -> bytes:
    """One GET on an open connection, through TLS with the guard's CA and the token."""
    context = ssl.create_default_context(cafile=guard.layout.ca)
    with context.wrap_socket(connection, server_hostname="127.0.0.1") as tls:
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {guard.token}\r\nConnection: close\r\n\r\n"
        )
        tls.sendall(request.encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    return answer


def _python_create(guard: Guarded) -> dict[str, object]:
    """The Status a fresh Python client gets for a configmap create."""
    from kubernetes import client, config

    api_client = config.new_client_from_config(
        config_file=str(guard.kubeconfig), context="prod", persist_config=False
    )
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py"), data={"a": "b"})
    try:
        client.CoreV1Api(api_client).create_namespaced_config_map("shop", body)
    except client.ApiException as exc:
        answer: dict[str, object] = json.loads(exc.body)
        return answer
    finally:
        api_client.close()
    raise AssertionError("the create was not refused")


def test_a_killed_guard_is_restarted_by_its_keeper_and_never_bypassed(
    upstream: FakeAPIServer, kubectl: Path, tmp_path: Path
) -> None:
    with Guarded(tmp_path / "g", upstream, kubectl, keeper=True) as guard:
        assert guard.process is not None
        keeper = guard.process.pid
        assert _pod_names(guard) == ["web-0"]
        version = guard.url.partition(f":{guard.port}")[2] + "/version"
        for _ in range(3):  # quick deaths in a row are not taken for a failing start
            killed = guard.guard_pid()
            assert killed != keeper
            os.kill(killed, signal.SIGKILL)
            assert wait_for(lambda pid=killed: _gone(pid))  # type: ignore[misc]
            assert _port_taken(guard.port)  # the keeper holds it: nobody else can listen
            # Connected while no guard runs: it waits in the backlog and is served.
            waiting = socket.create_connection(("127.0.0.1", guard.port), timeout=30)
            assert guard.guard_pid() == killed  # its guard.json: no new guard serves yet
            assert _get(guard, waiting, version).startswith(b"HTTP/1.1 200 ")
            upstream.clear()
            # No prompt in between: the connection waits in the backlog for the next guard.
            assert _pod_names(guard) == ["web-0"]
            refused = _configmap_create(guard)
            assert refused.returncode != 0
            assert "kubesafe guard refused POST" in refused.stderr, refused.stderr
            status = _python_create(guard)
            assert (status["kind"], status["code"], status["reason"]) == (
                "Status",
                403,
                "Forbidden",
            )
            assert [r.method for r in upstream.requests if r.method != "GET"] == []
            assert guard.guard_pid() not in (killed, keeper)
        assert guard.process.poll() is None and guard.process.pid == keeper
        _write_pid_file(Path(guard.layout.directory), keeper)
        served = f"running (pid {keeper}, guard pid {guard.guard_pid()})"
        assert describe(guard.layout.directory, "down") == served
        log = guard.stderr()
        assert log.count("killed by signal 9; restarting\n") == 3, log


def test_stop_ends_the_keeper_and_its_guard(
    upstream: FakeAPIServer, kubectl: Path, tmp_path: Path
) -> None:
    guard = Guarded(tmp_path / "g", upstream, kubectl, keeper=True).start()
    assert guard.process is not None
    keeper, served, port = guard.process, guard.guard_pid(), guard.port
    keeper.send_signal(signal.SIGTERM)
    assert keeper.wait(timeout=20) == 0
    assert _gone(served) and not _port_taken(port)
    assert not Path(guard.layout.state).exists()
    guard.stop()


def test_the_keeper_and_its_guard_end_with_the_shell(
    upstream: FakeAPIServer, kubectl: Path, tmp_path: Path
) -> None:
    shell = subprocess.Popen(["sleep", "300"])
    guard = Guarded(tmp_path / "g", upstream, kubectl, keeper=True, shell_pid=shell.pid)
    try:
        guard.start()
        assert guard.process is not None
        served, port = guard.guard_pid(), guard.port
        shell.kill()
        shell.wait()
        assert guard.process.wait(timeout=20) == 0
        assert wait_for(lambda: _gone(served)) and not _port_taken(port)
    finally:
        shell.kill()
        guard.stop()


def test_a_guard_that_cannot_start_is_retried_with_backoff_and_clients_fail_closed(
    tmp_path: Path,
) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    log_path = tmp_path / "guard.log"
    # The real guard, with an argument it refuses: it exits at once, every time.
    guard = [sys.executable, "-m", "kubesafe.guard", "serve", "--context", "prod", "--port", "x"]
    with open(log_path, "wb") as log:
        keeper = subprocess.Popen(
            keeper_command(str(tmp_path), port, 0, guard),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        assert wait_for(lambda: "restarting in 1s" in log_path.read_text(), timeout=30)
        client = socket.create_connection(("127.0.0.1", port), timeout=30)
        with client:
            client.sendall(b"\x16\x03\x01\x00\x05hello")  # the start of a TLS handshake
            try:  # closed (reset: the bytes sent were never read), never answered
                assert client.recv(100) == b""
            except ConnectionResetError:
                pass
        assert keeper.poll() is None
        _write_pid_file(tmp_path, keeper.pid)
        state = describe(str(tmp_path), "down")
        assert state.startswith(f"running (pid {keeper.pid}), but no guard serves yet"), state
        started = time.monotonic()
        ends = log_path.read_text().count("exit code 2")
        time.sleep(2)
        # Backing off: at most one more start in two seconds (delays 0.5, 1, 2, 4 s...).
        assert log_path.read_text().count("exit code 2") - ends <= 1
        assert time.monotonic() - started >= 2
        assert "invalid int value: 'x'" in log_path.read_text()  # the guard's own error
    finally:
        keeper.send_signal(signal.SIGTERM)
        assert keeper.wait(timeout=20) == 0
    assert not _port_taken(port)


@pytest.mark.parametrize(
    "argv",
    [
        ["--port", "1"],  # no guard command
        ["--port", "x", "--", "true"],
        ["--dir", "d", "--", "true"],  # no port
        ["--port", "1", "--what", "2", "--", "true"],
    ],
)
def test_bad_keeper_arguments_are_one_line_and_exit_1(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kubesafe.guard.keeper", *argv],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "kubesafe guard keeper" in done.stderr
