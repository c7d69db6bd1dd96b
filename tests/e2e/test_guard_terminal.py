"""The guard wired into a real bash with the integration, against the HTTPS fake API server.

Clients that do not go through kubesafe (kubectl by absolute path, curl and the
Python ``kubernetes`` client with the terminal's kubeconfig) are refused every
write on the protected context, with the guard's Status message, and not one
write arrives; their reads arrive. ``kubesafe lift`` (the context name typed on
the terminal) lets writes through, audited with the reason, until it ends or
expires. The kubectl shim keeps its own confirmation and reaches the real
server directly, ``explain`` names the real server, and a killed guard is
started again at the next prompt, never bypassed.
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

import pytest

from tests.support.fake_apiserver import FakeAPIServer, write_kubeconfig
from tests.support.kubectl_binaries import helm_binary
from tests.support.shells import SHELL_BINARIES, InteractiveShell, strip_ansi

pytestmark = pytest.mark.e2e

BIN = str(Path(sys.executable).parent)
REAL_TOKEN = "real-upstream-token"
PYTHON_CREATE = (
    "from kubernetes import client, config\n"
    "config.load_kube_config(context='prod')\n"
    "api = client.CoreV1Api()\n"
    "print('LISTED', len(api.list_namespaced_pod('shop').items))\n"
    "body = {'metadata': {'name': 'from-python'}, 'data': {'a': 'b'}}\n"
    "try:\n"
    "    api.create_namespaced_config_map('shop', body)\n"
    "    print('CREATED')\n"
    "except client.ApiException as exc:\n"
    "    print('REFUSED', exc.status, exc.body)\n"
)


@pytest.fixture
def upstream() -> Iterator[FakeAPIServer]:
    with FakeAPIServer(tls=True, require_token=REAL_TOKEN) as server:
        server.add_pod("g-prod", "shop", "web-0")
        server.add_pod("g-dev", "team-a", "dev-0")
        yield server


@pytest.fixture
def world(upstream: FakeAPIServer, kubectl33: Path, isolated_home: Path) -> dict[str, str]:
    dev = upstream.kubeconfig("g-dev", context="dev", cluster="dev", token=REAL_TOKEN, user="u-dev")
    prod = upstream.kubeconfig(
        "g-prod", context="prod", cluster="prod", token=REAL_TOKEN, user="u-prod"
    )
    config = {
        **dev,
        "current-context": "prod",
        "contexts": dev["contexts"] + prod["contexts"],
        "clusters": dev["clusters"] + prod["clusters"],
        "users": dev["users"] + prod["users"],
    }
    kube = isolated_home / ".kube"
    kube.mkdir()
    write_kubeconfig(kube / "config", config)
    os.chmod(kube / "config", 0o600)
    policy_dir = isolated_home / ".config" / "kubesafe"
    policy_dir.mkdir(parents=True)
    (policy_dir / "config.yaml").write_text("rules:\n  - context: prod\n")
    env = {
        "HOME": str(isolated_home),
        "XDG_CONFIG_HOME": str(isolated_home / ".config"),
        "XDG_CACHE_HOME": str(isolated_home / ".cache"),
        "XDG_STATE_HOME": str(isolated_home / ".local" / "state"),
        "PATH": f"{BIN}:{kubectl33.parent}:/usr/bin:/bin",
        "TERM": "dumb",
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        "KUBESAFE_KUBECTL": str(kubectl33),
        "KUBESAFE_HELM": str(helm_binary(33)),
        # What the prompt shows, not how long it waits: let every render finish.
        "KUBESAFE_PROMPT_WAIT": "60",
    }
    if "KUBESAFE_TEST_CACHE" in os.environ:
        env["KUBESAFE_TEST_CACHE"] = os.environ["KUBESAFE_TEST_CACHE"]
    return env


def _start(kind: str, env: dict[str, str]) -> InteractiveShell:
    if SHELL_BINARIES[kind] is None:
        pytest.fail(f"{kind} is not installed")
    return InteractiveShell(kind, env, f'eval "$(kubesafe init {kind})"')


@pytest.fixture
def bash(world: dict[str, str]) -> Iterator[InteractiveShell]:
    shell = _start("bash", world)
    yield shell
    shell.child.sendline("exit")
    time.sleep(0.2)
    if shell.child.isalive():
        shell.child.terminate(force=True)


def _guard_dir(shell: InteractiveShell) -> Path:
    code, output = shell.run('printf "%s\\n" "$KUBESAFE_SESSION"')
    assert code == 0, output
    return Path(output.strip()) / "guard"


def _wait_serving(directory: Path, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state: dict[str, object] = json.loads((directory / "guard.json").read_text())
            return state
        except (OSError, ValueError):
            time.sleep(0.1)
    log = (directory / "guard.log").read_text() if (directory / "guard.log").exists() else ""
    raise AssertionError(f"the guard did not start: {log}")


def _writes(server: FakeAPIServer) -> list[str]:
    """Requests that change something (server-side dry runs do not)."""
    return [
        f"{r.method} {r.path}"
        for r in server.requests
        if r.method not in ("GET", "HEAD") and r.query.get("dryRun") != ["All"]
    ]


def _lift(shell: InteractiveShell, arguments: str) -> str:
    child = shell.child
    child.sendline(f"kubesafe lift prod {arguments}; echo LIFT'DONE':$?:")
    child.expect("Type the context name to confirm: ", timeout=60)
    child.sendline("prod")
    child.expect(r"LIFTDONE:(\d+):", timeout=60)
    output = child.before or ""
    assert child.match.group(1) == "0", output
    child.expect_exact(">>> ", timeout=60)
    shell.last_prompt = strip_ansi(child.before or "").strip()
    return output


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: tiny\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tiny-cm\ndata:\n  a: b\n"
    )
    return chart


def test_every_client_is_guarded_and_a_lift_opens_writes(
    bash: InteractiveShell,
    upstream: FakeAPIServer,
    kubectl33: Path,
    world: dict[str, str],
    chart: Path,
) -> None:
    helm = str(helm_binary(33))
    directory = _guard_dir(bash)
    state = _wait_serving(directory)
    kubeconfig = Path(directory.parent / "kubeconfig").read_text()
    assert REAL_TOKEN not in kubeconfig  # real credentials never enter the terminal's file
    assert f"https://127.0.0.1:{state['port']}/" in kubeconfig
    assert "g-dev" not in kubeconfig  # the unprotected context is not touched

    upstream.clear()
    kubectl = str(kubectl33)
    code, output = bash.run(f"{kubectl} create configmap by-path -n shop --from-literal=a=b")
    assert code != 0
    assert "kubesafe guard refused POST" in output and "kubesafe lift prod --for 15m" in output
    code, output = bash.run(f"{kubectl} delete pod web-0 -n shop")
    assert code != 0 and "kubesafe guard refused DELETE" in output
    code, output = bash.run(
        'curl -s --cacert "$(dirname "$KUBESAFE_SESSION/x")/guard/ca.pem" '
        '-H "Authorization: Bearer $(cat "$KUBESAFE_SESSION/guard/token")" '
        f"-X POST -H 'Content-Type: application/json' -d '{{}}' "
        f"https://127.0.0.1:{state['port']}/{_prefix(state)}/api/v1/namespaces/shop/configmaps"
    )
    assert '"code": 403' in output and "kubesafe guard refused" in output, output
    code, output = bash.run(f'{sys.executable} -c "$(printf %s {_shell_quote(PYTHON_CREATE)})"')
    assert "LISTED 1" in output and "REFUSED 403" in output, output
    # Real helm by its absolute path (not `kubesafe helm`): list works, install is refused.
    code, output = bash.run(f"{helm} list -n shop")
    assert code == 0, output
    code, output = bash.run(f"{helm} install tiny {chart} -n shop")
    assert code != 0 and "kubesafe guard refused" in output, output
    assert _writes(upstream) == []

    code, output = bash.run(f"{kubectl} get pods -n shop -o name")
    assert code == 0 and "pod/web-0" in output, output
    code, output = bash.run(f"{kubectl} --context dev get pods -n team-a -o name")
    assert code == 0 and "pod/dev-0" in output, output
    code, output = bash.run(f"{kubectl} create configmap dry -n shop --dry-run=server")
    assert code == 0, output
    assert _writes(upstream) == []
    dry = [r for r in upstream.requests if r.query.get("dryRun") == ["All"]]
    assert [r.method for r in dry] == ["POST"]  # the dry run arrived
    assert all(r.bearer_token == REAL_TOKEN for r in upstream.requests)

    # explain names the real server behind the guard; the prompt shows PROD.
    code, output = bash.run("kubesafe explain -- get pods")
    assert code == 0 and upstream.cluster_url("g-prod") in output, output
    assert "cluster:     prod" in output and "user:        u-prod" in output, output
    assert "through the terminal's API guard" in output
    assert "127.0.0.1:" + str(state["port"]) not in output.replace(upstream.cluster_url(""), "")
    assert "PROD" in bash.prompt()

    # The shim keeps its own question; once answered, its kubectl is not refused by the
    # guard (it reaches the real server with the real entries).
    upstream.clear()
    child = bash.child
    child.sendline("kubectl create configmap via-shim -n shop; echo SHIM'DONE':$?:")
    child.expect_exact("Proceed? [y/N] ", timeout=60)
    child.sendline("y")
    child.expect(r"SHIMDONE:(\d+):", timeout=60)
    assert child.match.group(1) == "0", child.before
    child.expect_exact(">>> ", timeout=60)
    bash.last_prompt = strip_ansi(child.before or "").strip()
    assert _writes(upstream) == ["POST /api/v1/namespaces/shop/configmaps"]

    upstream.clear()
    output = _lift(bash, '--for 1m --reason "rotate the cert"')
    assert "open in this terminal" in output
    assert "LIFT 1m" in bash.prompt()
    code, output = bash.run(f"{kubectl} create configmap lifted -n shop --from-literal=a=b")
    assert code == 0, output
    code, output = bash.run("kubectl create configmap lifted-shim -n shop --from-literal=a=b")
    assert code == 0, output
    assert _writes(upstream) == ["POST /api/v1/namespaces/shop/configmaps"] * 2
    audit = [
        json.loads(line)
        for line in (Path(world["XDG_STATE_HOME"]) / "kubesafe" / "audit.jsonl")
        .read_text()
        .splitlines()
    ]
    forwarded = [e for e in audit if e.get("decision") == "forwarded-under-lift"]
    assert [e["path"].split("?")[0] for e in forwarded] == ["/api/v1/namespaces/shop/configmaps"]
    assert forwarded[0]["lift_reason"] == "rotate the cert"
    assert forwarded[0]["status"] == 201
    shim_entry = [e for e in audit if "lift open in this terminal" in str(e.get("reason"))]
    assert shim_entry and "rotate the cert" in shim_entry[-1]["reason"]
    # `helm` through kubesafe honours the same lift and is not refused by the guard.
    before = len(_writes(upstream))
    code, output = bash.run(f"helm install tiny {chart} -n shop")
    assert code == 0, output
    assert len(_writes(upstream)) > before
    helm_entries = [
        json.loads(line)
        for line in (Path(world["XDG_STATE_HOME"]) / "kubesafe" / "audit.jsonl")
        .read_text()
        .splitlines()
        if '"program": "helm"' in line
    ]
    assert helm_entries and "lift open in this terminal" in helm_entries[-1]["reason"]
    lifted_writes = len(_writes(upstream))

    code, output = bash.run("kubesafe lift prod --end")
    assert code == 0 and "ended" in output
    code, output = bash.run(f"{kubectl} create configmap after -n shop --from-literal=a=b")
    assert code != 0 and "kubesafe guard refused" in output

    # A short lift expires by itself.
    _lift(bash, "--for 2s")
    time.sleep(2.5)
    code, output = bash.run(f"{kubectl} create configmap expired -n shop --from-literal=a=b")
    assert code != 0 and "kubesafe guard refused" in output
    assert len(_writes(upstream)) == lifted_writes


def _prefix(state: dict[str, object]) -> str:
    contexts = state["contexts"]
    assert isinstance(contexts, dict)
    return str(contexts["prod"])


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def test_lift_is_refused_for_agents_and_without_a_terminal(bash: InteractiveShell) -> None:
    _wait_serving(_guard_dir(bash))
    code, output = bash.run("KUBESAFE_AGENT=1 kubesafe lift prod --for 5m")
    assert code == 1 and "coding agent" in output
    code, output = bash.run("setsid kubesafe lift prod --for 5m </dev/null 2>&1 | cat")
    assert "no terminal to confirm on" in output
    code, output = bash.run("kubesafe lift prod --for 2h")
    assert code == 1 and "longer than the policy allows" in output
    code, output = bash.run("kubesafe guard status")
    assert code == 0 and "running" in output and "prod" in output and "LIFT" not in output
    doctor = (
        f"{sys.executable} -c 'import os; from kubesafe.doctor.guard_check import guard_check;"
        " c = guard_check(os.environ); print(c.status, c.summary)'"
    )
    code, output = bash.run(doctor)
    assert output.startswith("ok the guard runs (pid") and "for prod" in output, output
    pid = int((_guard_dir(bash) / "guard.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    while _alive(pid):
        time.sleep(0.05)
    code, output = bash.run(doctor)  # the doctor runs before the next prompt restarts it
    assert output.startswith("fail the guard for prod is not running"), output


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("kind", ["bash", "zsh"])
def test_a_killed_guard_is_never_bypassed_and_restarts_at_the_next_prompt(
    kind: str, world: dict[str, str], upstream: FakeAPIServer, kubectl33: Path
) -> None:
    bash = _start(kind, world)
    try:
        _killed_guard_restarts(bash, upstream, kubectl33)
    finally:
        bash.child.terminate(force=True)


def _killed_guard_restarts(
    bash: InteractiveShell, upstream: FakeAPIServer, kubectl33: Path
) -> None:
    directory = _guard_dir(bash)
    served = int(_wait_serving(directory)["pid"])  # type: ignore[call-overload]
    pid = int((directory / "guard.pid").read_text())  # its keeper: the PID the prompt watches
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    deadline = time.monotonic() + 10
    while _alive(served) and time.monotonic() < deadline:  # it dies with its keeper
        time.sleep(0.05)
    assert not _alive(served)
    (directory / "guard.json").unlink(missing_ok=True)  # a SIGKILL may leave it behind
    upstream.clear()
    # The command runs before any new prompt: the guard is down.
    code, output = bash.run(
        f"{kubectl33} create configmap while-down -n shop --from-literal=a=b --request-timeout=5s"
    )
    assert code != 0, output
    assert _writes(upstream) == []
    # That command's prompt started the guard again.
    _wait_serving(directory)
    assert int((directory / "guard.pid").read_text()) != pid
    code, output = bash.run(f"{kubectl33} get pods -n shop -o name")
    assert code == 0 and "pod/web-0" in output, output


def test_a_killed_guard_comes_back_before_the_next_prompt(
    bash: InteractiveShell, world: dict[str, str], upstream: FakeAPIServer, kubectl33: Path
) -> None:
    """k9s or Lens running meanwhile: no prompt, and no `connection refused` either."""
    directory = _guard_dir(bash)
    code, kubeconfig = bash.run('printf "%s\\n" "$KUBECONFIG"')
    assert code == 0, kubeconfig
    keeper = int((directory / "guard.pid").read_text())
    served = int(_wait_serving(directory)["pid"])  # type: ignore[call-overload]
    assert served != keeper
    os.kill(served, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(served) and time.monotonic() < deadline:
        time.sleep(0.05)
    upstream.clear()
    # Run from here, not from the shell: no prompt renders in between.
    client = {**world, "KUBECONFIG": kubeconfig.strip()}
    done = subprocess.run(
        [str(kubectl33), "get", "pods", "-n", "shop", "-o", "name", "--request-timeout=20s"],
        env=client,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "pod/web-0" in done.stdout, done.stderr
    done = subprocess.run(
        [sys.executable, "-c", PYTHON_CREATE], env=client, capture_output=True, text=True
    )
    assert "LISTED 1" in done.stdout, done.stderr
    assert "REFUSED 403" in done.stdout and '"kind": "Status"' in done.stdout, done.stdout
    assert _writes(upstream) == []
    assert int((directory / "guard.pid").read_text()) == keeper and _alive(keeper)
    assert int(_wait_serving(directory)["pid"]) != served  # type: ignore[call-overload]


def test_a_guard_that_cannot_start_is_reported_and_clients_fail_closed(
    world: dict[str, str], upstream: FakeAPIServer, kubectl33: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken-bin"
    broken.mkdir()
    (broken / "openssl").write_text("#!/bin/sh\nexit 1\n")  # no certificates: no guard
    (broken / "openssl").chmod(0o755)
    shell = _start("bash", {**world, "PATH": f"{broken}:{world['PATH']}"})
    try:
        directory = _guard_dir(shell)
        deadline = time.monotonic() + 60
        log = directory / "guard.log"
        while time.monotonic() < deadline and "restarting in" not in _text(log):
            time.sleep(0.1)
        assert "openssl req failed" in _text(log) and "restarting in" in _text(log), _text(log)
        keeper = int((directory / "guard.pid").read_text())
        assert _alive(keeper)
        upstream.clear()
        code, output = shell.run(f"{kubectl33} get pods -n shop --request-timeout=5s")
        assert code != 0, output
        assert upstream.requests == []
        code, output = shell.run("kubesafe guard status")
        assert f"running (pid {keeper}), but no guard serves yet" in output, output
        doctor = (
            f"{sys.executable} -c 'import os; from kubesafe.doctor.guard_check import guard_check;"
            " c = guard_check(os.environ); print(c.status, c.summary)'"
        )
        code, output = shell.run(doctor)
        assert output.startswith(f"warn the guard's keeper runs (pid {keeper})"), output
        while time.monotonic() < deadline and "restarting in 4s" not in _text(log):
            time.sleep(0.05)
        shell.child.kill(signal.SIGKILL)  # in the keeper's 4 s wait
        while shell.child.isalive():  # reaped, as a terminal would
            time.sleep(0.05)
        gone = time.monotonic()
        while _alive(keeper) and time.monotonic() < gone + 10:
            time.sleep(0.05)
        assert not _alive(keeper)
        assert time.monotonic() - gone < 3  # it does not sit out its backoff
    finally:
        shell.child.terminate(force=True)


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_the_guard_ends_with_its_shell_even_when_the_shell_is_killed(
    world: dict[str, str],
) -> None:
    shell = _start("bash", world)
    directory = _guard_dir(shell)
    served = int(_wait_serving(directory)["pid"])  # type: ignore[call-overload]
    pid = int((directory / "guard.pid").read_text())
    assert _alive(pid) and _alive(served)
    shell.child.kill(signal.SIGKILL)  # no exit hook runs
    deadline = time.monotonic() + 15
    while shell.child.isalive() and time.monotonic() < deadline:  # reaped, as a terminal would
        time.sleep(0.05)
    while (_alive(pid) or _alive(served)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid) and not _alive(served)


def test_a_context_protected_later_is_guarded_from_the_next_prompt(
    bash: InteractiveShell, upstream: FakeAPIServer, kubectl33: Path
) -> None:
    directory = _guard_dir(bash)
    _wait_serving(directory)
    kubectl = str(kubectl33)
    upstream.clear()
    code, output = bash.run(f"{kubectl} --context dev create configmap a -n team-a")
    assert code == 0, output  # dev is not protected: direct
    assert _writes(upstream) == ["POST /api/v1/namespaces/team-a/configmaps"]
    code, output = bash.run("kubesafe protect dev --env staging --level confirm")
    assert code == 0, output
    _wait_serving(directory)  # that prompt restarted the guard for prod and dev
    code, output = bash.run(f"{kubectl} --context dev create configmap b -n team-a")
    assert code != 0 and "kubesafe guard refused POST" in output, output
    code, output = bash.run(f"{kubectl} --context prod create configmap c -n shop")
    assert code != 0 and "kubesafe guard refused POST" in output, output
    code, output = bash.run(f"{kubectl} --context dev get pods -n team-a -o name")
    assert code == 0 and "pod/dev-0" in output, output
    assert len(_writes(upstream)) == 1
    code, output = bash.run("kubesafe unprotect dev")
    assert code == 0, output
    _wait_serving(directory)
    code, output = bash.run(f"{kubectl} --context dev create configmap d -n team-a")
    assert code == 0, output
    assert len(_writes(upstream)) == 2
