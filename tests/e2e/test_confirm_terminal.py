"""The confirmation prompt in a real pseudo-terminal, with real kubectl behind it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.support.fake_apiserver import FakeAPIServer, write_kubeconfig

pytestmark = pytest.mark.e2e

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
PREFIX = "confirm-prod"


@pytest.fixture
def setup(
    tmp_path: Path, apiserver: FakeAPIServer, kubectl33: Path, isolated_home: Path
) -> dict[str, str]:
    apiserver.add_pod(PREFIX, "shop", "web-0")
    apiserver.add_pod(PREFIX, "shop", "web-1")
    config = apiserver.kubeconfig(PREFIX, context="prod", namespace="shop")
    config["contexts"].append(
        {"name": "dev", "context": {"cluster": config["clusters"][0]["name"]}}
    )
    write_kubeconfig(tmp_path / "kubeconfig", config)
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  - context: prod\n")
    return {
        "HOME": str(isolated_home),
        "XDG_STATE_HOME": str(isolated_home / "state"),
        "XDG_CACHE_HOME": str(isolated_home / "cache"),
        "PATH": "/usr/bin:/bin",
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        "KUBESAFE_CONFIG": str(policy),
        "KUBESAFE_KUBECTL": str(kubectl33),
        "NO_COLOR": "1",
        "TERM": "dumb",
    }


def _requests(apiserver: FakeAPIServer, method: str) -> list[object]:
    """Requests that change state: the preview's server dry runs (dryRun=All) do not."""
    return [
        r
        for r in apiserver.requests
        if r.prefix == PREFIX
        and r.method == method
        and "dryRun" not in r.query
        and b'"dryRun"' not in (r.body or b"")
    ]


def _spawn(env: dict[str, str], command: str) -> pexpect.spawn:
    return pexpect.spawn("/bin/bash", ["-c", command], env=env, timeout=30, encoding="utf-8")


def _audit(env: dict[str, str]) -> list[dict[str, object]]:
    path = Path(env["XDG_STATE_HOME"]) / "kubesafe" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_yes_runs_kubectl(setup: dict[str, str], apiserver: FakeAPIServer) -> None:
    apiserver.clear()
    child = _spawn(setup, f"{KUBESAFE} kubectl label pod web-0 tier=web")
    child.expect("PRODUCTION")
    child.expect(r"Proceed\? \[y/N\]")
    child.sendline("y")
    child.expect("labeled")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert _requests(apiserver, "PATCH")
    assert _audit(setup)[-1]["decision"] == "confirmed"


def test_no_runs_nothing(setup: dict[str, str], apiserver: FakeAPIServer) -> None:
    apiserver.clear()
    child = _spawn(setup, f"{KUBESAFE} kubectl label pod web-0 tier=web")
    child.expect(r"Proceed\? \[y/N\]")
    child.sendline("")
    child.expect("not confirmed: only y or yes proceeds; kubectl was not run")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
    assert not _requests(apiserver, "PATCH")
    assert _audit(setup)[-1]["decision"] == "declined"


def test_typed_name_wrong_then_right(setup: dict[str, str], apiserver: FakeAPIServer) -> None:
    apiserver.clear()
    child = _spawn(setup, f"{KUBESAFE} kubectl delete pod web-1")
    child.expect(r"class\s+destructive \(deletes objects\)")
    child.expect("Type prod to proceed: ")
    child.sendline("y")
    # Says what had to be typed, not just "not confirmed".
    child.expect("not confirmed: the answer had to be 'prod', typed exactly; kubectl was not run")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3 and not _requests(apiserver, "DELETE")
    child = _spawn(setup, f"{KUBESAFE} kubectl delete pod web-1")
    child.expect("Type prod to proceed: ")
    child.sendline("prod")
    child.expect("deleted")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and _requests(apiserver, "DELETE")


def test_piped_manifest_is_delivered_after_confirming(
    setup: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: piped\ndata:\n"
        + "".join(f"  key{i}: value-{i}-from-the-pipe\n" for i in range(200))
    )
    apiserver.clear()
    child = _spawn(setup, f"cat {manifest} | {KUBESAFE} kubectl apply -f -")
    child.expect(r"Proceed\? \[y/N\]")
    child.sendline("yes")
    child.expect("configmap/piped")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    stored = apiserver.get_object(PREFIX, "configmaps", "shop", "piped")
    assert stored is not None and len(stored["data"]) == 200
    assert stored["data"]["key199"] == "value-199-from-the-pipe"


def test_piped_yes_is_not_an_answer(setup: dict[str, str], apiserver: FakeAPIServer) -> None:
    apiserver.clear()
    child = _spawn(
        setup, f"printf 'y\\ny\\nprod\\n' | {KUBESAFE} kubectl label pod web-0 tier=x --overwrite"
    )
    child.expect(r"Proceed\? \[y/N\]")
    # The prompt still waits for the terminal: the pipe did not answer it.
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
    assert not _requests(apiserver, "PATCH")


def _no_tty(
    env: dict[str, str], *argv: str, stdin: bytes = b"y\n"
) -> subprocess.CompletedProcess[str]:
    # A new session has no controlling terminal, like cron or CI.
    return subprocess.run(
        [KUBESAFE, "kubectl", *argv],
        env=env,
        input=stdin.decode(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        start_new_session=True,
    )


def test_no_terminal_refuses_and_names_the_override(
    setup: dict[str, str], apiserver: FakeAPIServer
) -> None:
    apiserver.clear()
    result = _no_tty(setup, "label", "pod", "web-0", "tier=web")
    assert result.returncode == 3
    assert "without a terminal" in result.stderr and "KUBESAFE_CONFIRM=prod" in result.stderr
    assert "Traceback" not in result.stderr
    assert not _requests(apiserver, "PATCH")
    assert _audit(setup)[-1]["decision"] == "refused"


def test_override_approves_only_its_own_context(
    setup: dict[str, str], apiserver: FakeAPIServer
) -> None:
    apiserver.clear()
    wrong = _no_tty({**setup, "KUBESAFE_CONFIRM": "dev"}, "label", "pod", "web-0", "tier=a")
    assert wrong.returncode == 3 and not _requests(apiserver, "PATCH")
    blanket = _no_tty({**setup, "KUBESAFE_CONFIRM": "yes"}, "label", "pod", "web-0", "tier=a")
    assert blanket.returncode == 3 and not _requests(apiserver, "PATCH")
    right = _no_tty({**setup, "KUBESAFE_CONFIRM": "prod"}, "label", "pod", "web-0", "tier=a")
    assert right.returncode == 0, right.stderr
    assert _requests(apiserver, "PATCH")
    entry = _audit(setup)[-1]
    assert entry["decision"] == "allowed" and entry["context"] == "prod"


def test_exit_status_after_yes_is_kubectls(setup: dict[str, str]) -> None:
    child = _spawn(setup, f"{KUBESAFE} kubectl label pod does-not-exist tier=web")
    child.expect(r"Proceed\? \[y/N\]")
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1  # kubectl's NotFound


def test_reads_on_prod_never_prompt(setup: dict[str, str]) -> None:
    result = _no_tty(setup, "get", "pods")
    assert result.returncode == 0 and "web-0" in result.stdout


def test_audit_log_redacts_tokens(setup: dict[str, str]) -> None:
    result = _no_tty(setup, "label", "pod", "web-0", "a=b", "--token", "SECRET123")
    assert result.returncode == 3
    entry = _audit(setup)[-1]
    assert "SECRET123" not in json.dumps(entry)
    assert entry["argv"] == ["label", "pod", "web-0", "a=b", "--token", "REDACTED"]
    assert (
        os.stat(Path(setup["XDG_STATE_HOME"]) / "kubesafe" / "audit.jsonl").st_mode & 0o777 == 0o600
    )


@pytest.mark.parametrize("marker", ["CLAUDECODE", "KUBESAFE_AGENT"])
def test_an_agent_in_a_pseudo_terminal_is_not_asked(
    setup: dict[str, str], apiserver: FakeAPIServer, marker: str
) -> None:
    """An agent driving a pty could type "y"; in its session nothing is asked at all."""
    apiserver.clear()
    child = _spawn({**setup, marker: "1"}, f"{KUBESAFE} kubectl label pod web-0 tier=web")
    index = child.expect([r"Proceed\? \[y/N\]", "coding agent"])
    if index == 0:
        child.sendline("y")  # what an agent would do; the test must then fail below
    child.expect(pexpect.EOF)
    child.close()
    assert index == 1
    assert child.exitstatus == 3
    assert _requests(apiserver, "PATCH") == []
    assert _audit(setup)[-1]["decision"] == "refused"
