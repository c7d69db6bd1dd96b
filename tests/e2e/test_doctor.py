"""`kubesafe doctor` end to end: real bash, real kubectl, a fake API server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_apiserver import FakeAPIServer, write_kubeconfig

pytestmark = pytest.mark.e2e

KUBESAFE = Path(sys.executable).parent / "kubesafe"
KEYS = {"name", "subject", "status", "summary", "detail", "fix"}
RC = 'kubectl() { command kubesafe kubectl "$@"; }\nsource <(kubectl completion bash)\n'


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _world(
    tmp_path: Path,
    apiserver: FakeAPIServer,
    kubectl: Path | None,
    *,
    rc: str = RC,
    server: str | None = None,
) -> dict[str, str]:
    """A healthy setup: the integration loaded, kubesafe first on PATH, a protected context."""
    bash = shutil.which("bash")
    assert bash is not None
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text(rc)
    shim, tools = tmp_path / "shim", tmp_path / "tools"
    shim.mkdir()
    tools.mkdir()
    (shim / "kubectl").symlink_to(KUBESAFE)
    (tools / "kubesafe").symlink_to(KUBESAFE)
    (tools / "bash").symlink_to(bash)
    if kubectl is not None:
        (tools / "kubectl").symlink_to(kubectl)
    apiserver.set_version("doctor", "v1.33.2")
    config = apiserver.kubeconfig("doctor", context="doc", namespace="shop")
    if server is not None:
        config["clusters"][0]["cluster"]["server"] = server
    main = write_kubeconfig(tmp_path / "kube" / "config", config)
    terminal = tmp_path / "terminal-kubeconfig"
    terminal.write_text("current-context: doc\n")
    terminal.chmod(0o600)
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  - context: doc\n")
    return {
        "HOME": str(home),
        "SHELL": "/bin/bash",
        "PATH": os.pathsep.join([str(shim), str(tools)]),
        "KUBESAFE_SHELL": "bash",
        "KUBESAFE_SHELL_KUBECONFIG": str(terminal),
        "KUBECONFIG": os.pathsep.join([str(terminal), str(main)]),
        "KUBESAFE_CONFIG": str(policy),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CONFIG_HOME": str(home / ".config"),
    }


def _doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KUBESAFE), "doctor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _checks(env: dict[str, str]) -> tuple[int, dict[str, dict[str, Any]]]:
    result = _doctor(env, "--json")
    data = json.loads(result.stdout)  # nothing but the JSON on stdout
    assert isinstance(data, list)
    for item in data:
        assert set(item) == KEYS
        assert item["status"] in ("ok", "warn", "fail")
        assert isinstance(item["detail"], list) and isinstance(item["fix"], list)
    by_name = {item["name"]: item for item in data if item["name"] != "kubeconfig"}
    by_name.update({f"kubeconfig {i['subject']}": i for i in data if i["name"] == "kubeconfig"})
    return result.returncode, by_name


def test_healthy_setup_passes_with_exit_status_0(
    tmp_path: Path, apiserver: FakeAPIServer, kubectl33: Path
) -> None:
    env = _world(tmp_path, apiserver, kubectl33)
    main = Path(env["KUBECONFIG"].split(os.pathsep)[1])
    before = main.read_bytes()
    apiserver.clear()
    status, checks = _checks(env)
    problems = {name: c for name, c in checks.items() if c["status"] != "ok"}
    assert problems == {}
    assert status == 0
    assert checks["server"]["summary"].endswith("is reachable, version v1.33.2")
    asked = [r.path for r in apiserver.find_requests("GET", prefix="doctor")]
    assert [path.rstrip("/") for path in asked] == ["/version"]  # and nothing else
    assert "v1.33" in checks["kubectl-version"]["summary"]
    assert "within the supported skew of server v1.33.2" in checks["kubectl-version"]["summary"]
    assert checks["policy"]["detail"] == [
        "doc: production, writes ask y/N, deletes need 'doc' typed"
    ]
    assert checks["current-context"]["summary"] == (
        f"current context 'doc': set in {env['KUBESAFE_SHELL_KUBECONFIG']}, defined in {main}"
    )
    assert "1 context offered" in checks["completion"]["summary"]
    assert main.read_bytes() == before  # doctor never writes the kubeconfig


def test_problems_fail_with_their_fixes(
    tmp_path: Path, apiserver: FakeAPIServer, kubectl33: Path
) -> None:
    rc = RC + f"alias k={kubectl33}\n"
    env = _world(tmp_path, apiserver, kubectl33, rc=rc, server=f"http://127.0.0.1:{_closed_port()}")
    main = Path(env["KUBECONFIG"].split(os.pathsep)[1])
    main.chmod(0o644)
    Path(env["KUBESAFE_CONFIG"]).write_text("rules:\n  - context: doc\n    level: maybe\n")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    env["XDG_CACHE_HOME"] = str(blocker)
    status, checks = _checks(env)
    assert status == 1
    failed = {name for name, c in checks.items() if c["status"] == "fail"}
    assert failed == {"aliases", f"kubeconfig {main}", "policy", "cache", "server"}
    assert checks["aliases"]["fix"][0] == "alias k=kubectl"
    assert checks[f"kubeconfig {main}"]["fix"] == [f"chmod 600 {main}"]
    assert "line 3" in checks["policy"]["summary"]
    assert checks["cache"]["fix"][0].startswith(f"mv {blocker} ")
    assert "unreachable: cannot connect to http://127.0.0.1:" in checks["server"]["summary"]
    # Switch the kubesafe way (this terminal only), not with kubectl config use-context.
    assert checks["server"]["fix"][0].endswith("or switch: kubesafe ctx OTHER")
    policy = env["KUBESAFE_CONFIG"]
    assert checks["policy"]["fix"] == [
        f"edit {policy} at line 3, then check it with: kubesafe policy"
    ]
    listing = subprocess.run(
        [str(KUBESAFE), "policy"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert listing.returncode == 1 and listing.stdout == ""
    assert listing.stderr.startswith(f"kubesafe: {checks['policy']['summary']}. While it is broken")


def test_text_reads_plainly(tmp_path: Path, apiserver: FakeAPIServer, kubectl33: Path) -> None:
    # An unreachable server: its version is unknown, so the kubectl on PATH is the fallback.
    env = _world(tmp_path, apiserver, kubectl33, server=f"http://127.0.0.1:{_closed_port()}")
    result = _doctor(env)
    terminal = env["KUBESAFE_SHELL_KUBECONFIG"]
    assert (
        f"ok    kubeconfig: {terminal} is this terminal's own kubeconfig "
        "(current context 'doc'), mode 0600\n"
    ) in result.stdout
    assert "0 contexts" not in result.stdout
    assert "ok    kubectl-path: the first kubectl on PATH is kubesafe" in result.stdout
    # Below that line, "first kubectl on PATH" would contradict it: the real one is meant.
    rest = result.stdout.split("kubectl-path:", 1)[1].split("\n", 1)[1]
    assert "first kubectl on PATH" not in rest
    assert "first real kubectl on PATH" in rest
    assert "use-context OTHER" not in result.stdout and "kubesafe ctx OTHER" in result.stdout


def test_integration_missing_and_real_kubectl_first(
    tmp_path: Path, apiserver: FakeAPIServer, kubectl33: Path
) -> None:
    env = _world(tmp_path, apiserver, kubectl33, rc="")
    for name in ("KUBESAFE_SHELL", "KUBESAFE_SHELL_KUBECONFIG"):
        del env[name]
    env["KUBECONFIG"] = env["KUBECONFIG"].split(os.pathsep)[1]
    env["PATH"] = env["PATH"].split(os.pathsep, 1)[1]  # no kubesafe-as-kubectl on PATH
    status, checks = _checks(env)
    assert status == 1
    rc_line = f"echo 'eval \"$(kubesafe init bash)\"' >> {env['HOME']}/.bashrc"
    assert checks["integration"]["status"] == "fail"
    assert checks["integration"]["fix"][0] == rc_line
    assert checks["kubectl-command"]["status"] == "fail"
    assert "the real kubectl, not kubesafe" in checks["kubectl-command"]["summary"]
    assert checks["kubectl-path"]["status"] == "warn"
    assert checks["shell-completion"]["status"] == "warn"
    assert checks["shell-completion"]["fix"] == [
        f"echo 'source <(kubectl completion bash)' >> {env['HOME']}/.bashrc"
    ]


def test_pinned_kubectl_outside_the_skew_fails(
    tmp_path: Path, apiserver: FakeAPIServer, kubectl33: Path, kubectl37: Path
) -> None:
    env = _world(tmp_path, apiserver, kubectl33)
    env["KUBESAFE_KUBECTL"] = str(kubectl37)
    status, checks = _checks(env)
    assert status == 1
    check = checks["kubectl-version"]
    assert check["status"] == "fail"
    assert "outside the supported skew (one minor) of server v1.33.2" in check["summary"]
    assert check["fix"] == ["unset KUBESAFE_KUBECTL"]


def test_no_real_kubectl_breaks_completion(tmp_path: Path, apiserver: FakeAPIServer) -> None:
    env = _world(tmp_path, apiserver, None, rc='kubectl() { command kubesafe kubectl "$@"; }\n')
    status, checks = _checks(env)
    assert status == 1
    assert checks["completion"]["status"] == "fail"
    assert "does not reach a real kubectl (exit status 127)" in checks["completion"]["summary"]
    assert checks["kubectl-version"]["status"] == "warn"
    assert checks["kubectl-version"]["fix"] == ["kubesafe versions install 1.33.2"]


def test_text_output_is_plain_off_a_terminal(
    tmp_path: Path, apiserver: FakeAPIServer, kubectl33: Path
) -> None:
    env = _world(tmp_path, apiserver, kubectl33)
    Path(env["KUBECONFIG"].split(os.pathsep)[1]).chmod(0o640)
    result = _doctor(env)
    assert result.returncode == 1
    assert "\x1b[" not in result.stdout
    assert "FAIL  kubeconfig: " in result.stdout
    assert "        fix: chmod 600 " in result.stdout
    assert result.stdout.rstrip().endswith("1 problem")
    assert result.stderr == ""


def test_help_has_an_example() -> None:
    result = subprocess.run(
        [str(KUBESAFE), "doctor", "--help"], capture_output=True, text=True, check=True
    )
    assert "kubesafe doctor --json" in result.stdout
