"""``kubesafe guard kubeconfig PATH``: a user-level guard for programs started outside a terminal.

No shell integration: real kubectl by absolute path with ``KUBECONFIG=PATH`` is refused
writes on the protected context (none arrive) and reads pass; PATH holds no real
credential; ``kubesafe lift --user-guard`` typed on a terminal opens writes; a second
``guard kubeconfig`` reuses the running guard and its port.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect  # type: ignore[import-untyped]
import pytest

from tests.support.fake_apiserver import FakeAPIServer, write_kubeconfig

pytestmark = pytest.mark.e2e

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
REAL_TOKEN = "real-upstream-token"


@pytest.fixture
def world(tmp_path: Path, kubectl33: Path) -> Iterator[tuple[dict[str, str], FakeAPIServer]]:
    with FakeAPIServer(tls=True, require_token=REAL_TOKEN) as server:
        server.add_pod("u-prod", "shop", "web-0")
        prod = server.kubeconfig("u-prod", context="prod", cluster="prod", token=REAL_TOKEN)
        home = tmp_path / "home"
        (home / ".kube").mkdir(parents=True)
        write_kubeconfig(home / ".kube" / "config", prod)
        (home / ".config" / "kubesafe").mkdir(parents=True)
        (home / ".config" / "kubesafe" / "config.yaml").write_text("rules:\n  - context: prod\n")
        env = {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_STATE_HOME": str(home / ".state"),
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "KUBESAFE_KUBECTL": str(kubectl33),
        }
        yield env, server
        directory = home / ".state" / "kubesafe" / "run" / "guard" / "user"
        pid_file = directory / "guard.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            except ProcessLookupError:
                pass


def _run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)


def _writes(server: FakeAPIServer) -> list[str]:
    return [r.method for r in server.requests if r.method not in ("GET", "HEAD")]


def _guard_kubeconfig(env: dict[str, str], path: Path) -> subprocess.CompletedProcess[str]:
    done = _run(env, KUBESAFE, "guard", "kubeconfig", str(path))
    assert done.returncode == 0, done.stderr
    return done


def test_a_user_level_guard_for_programs_outside_a_terminal(
    world: tuple[dict[str, str], FakeAPIServer], tmp_path: Path, kubectl33: Path
) -> None:
    env, server = world
    path = tmp_path / "guarded.yaml"
    done = _guard_kubeconfig(env, path)
    assert "prod through the user-level guard" in done.stdout
    text = path.read_text()
    assert REAL_TOKEN not in text and "https://127.0.0.1:" in text
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    client = {**env, "KUBECONFIG": str(path)}
    server.clear()
    refused = _run(client, str(kubectl33), "create", "configmap", "x", "-n", "shop")
    assert refused.returncode != 0 and "kubesafe guard refused POST" in refused.stderr
    listed = _run(client, str(kubectl33), "get", "pods", "-n", "shop", "-o", "name")
    assert listed.returncode == 0 and "pod/web-0" in listed.stdout, listed.stderr
    assert _writes(server) == []
    assert all(r.bearer_token == REAL_TOKEN for r in server.requests)

    port = json.loads(text)["clusters"][0]["cluster"]["server"].split(":")[2].split("/")[0]
    again = _run(env, KUBESAFE, "guard", "kubeconfig", str(path))
    assert again.returncode == 0 and f"127.0.0.1:{port}" in again.stdout
    status = _run(env, KUBESAFE, "guard", "status")
    assert "User-level guard: running" in status.stdout and "prod" in status.stdout

    child = pexpect.spawn(
        KUBESAFE,
        ["lift", "prod", "--for", "1m", "--reason", "ide fix", "--user-guard"],
        env=env,
        encoding="utf-8",
        timeout=60,
    )
    child.expect("Type the context name to confirm: ")
    child.sendline("prod")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    lifted = _run(client, str(kubectl33), "create", "configmap", "y", "-n", "shop")
    assert lifted.returncode == 0, lifted.stderr
    assert _writes(server) == ["POST"]
    ended = _run(env, KUBESAFE, "lift", "prod", "--end", "--user-guard")
    assert ended.returncode == 0 and "ended" in ended.stdout
    time.sleep(0.1)
    refused = _run(client, str(kubectl33), "create", "configmap", "z", "-n", "shop")
    assert refused.returncode != 0 and "kubesafe guard refused" in refused.stderr
    assert _writes(server) == ["POST"]


def test_a_killed_user_level_guard_is_restarted_by_itself(
    world: tuple[dict[str, str], FakeAPIServer], tmp_path: Path, kubectl33: Path
) -> None:
    env, server = world
    path = tmp_path / "guarded.yaml"
    _guard_kubeconfig(env, path)
    directory = Path(env["XDG_STATE_HOME"]) / "kubesafe" / "run" / "guard" / "user"
    keeper = int((directory / "guard.pid").read_text())
    served = json.loads((directory / "guard.json").read_text())["pid"]
    assert served != keeper
    os.kill(served, signal.SIGKILL)
    client = {**env, "KUBECONFIG": str(path)}
    server.clear()
    # Nothing runs `guard kubeconfig` again: the next request is served all the same.
    listed = _run(client, str(kubectl33), "get", "pods", "-n", "shop", "-o", "name")
    assert listed.returncode == 0 and "pod/web-0" in listed.stdout, listed.stderr
    refused = _run(client, str(kubectl33), "create", "configmap", "x", "-n", "shop")
    assert refused.returncode != 0 and "kubesafe guard refused POST" in refused.stderr
    assert _writes(server) == []
    again = json.loads((directory / "guard.json").read_text())["pid"]
    assert again not in (served, keeper)
    status = _run(env, KUBESAFE, "guard", "status")
    expected = f"User-level guard: running (pid {keeper}, guard pid {again})"
    assert expected in status.stdout, status.stdout
