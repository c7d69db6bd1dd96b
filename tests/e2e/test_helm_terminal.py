"""The helm confirmation prompt in a real pseudo-terminal, real helm behind it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pexpect
import pytest

from tests.helm.realenv import KUBESAFE, make_chart, make_env, writes
from tests.support.fake_apiserver import FakeAPIServer
from tests.support.kubectl_binaries import helm_binary

pytestmark = pytest.mark.e2e

PROD, DEV = "helm-term-prod", "helm-term-dev"


@pytest.fixture
def setup(tmp_path: Path, apiserver: FakeAPIServer) -> dict[str, str]:
    helm = helm_binary(37)
    env = make_env(tmp_path, apiserver, helm, PROD, DEV)
    env["CHART"] = str(make_chart(tmp_path / "chart"))
    make_chart(tmp_path / "chart2", value="v2")
    env["CHART2"] = str(tmp_path / "chart2")
    subprocess.run(
        [str(helm), "uninstall", "web", "--kube-context", "prod"], env=env, capture_output=True
    )
    installed = subprocess.run(
        [str(helm), "install", "web", env["CHART"], "--kube-context", "prod"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert installed.returncode == 0, installed.stderr
    return env


def _spawn(env: dict[str, str], command: str) -> pexpect.spawn:
    return pexpect.spawn("/bin/bash", ["-c", command], env=env, timeout=60, encoding="utf-8")


def _audit(env: dict[str, str]) -> dict[str, object]:
    path = Path(env["XDG_STATE_HOME"]) / "kubesafe" / "audit.jsonl"
    return json.loads(path.read_text().splitlines()[-1])  # type: ignore[no-any-return]


def test_yes_runs_helm_after_a_preview(setup: dict[str, str], apiserver: FakeAPIServer) -> None:
    apiserver.clear()
    child = _spawn(setup, f"{KUBESAFE} helm --kube-context prod upgrade web {setup['CHART2']}")
    child.expect("kubesafe preview, server dry run")
    child.expect(r"changed\s+ConfigMap/web-cm")
    child.expect("PRODUCTION")
    child.expect(r"namespace\s+shop")
    child.expect(r"release\s+web")
    child.expect(r"chart\s+" + setup["CHART2"])
    child.expect(r"command\s+helm --kube-context prod upgrade web")
    # the preview changed nothing
    assert apiserver.get_object(PROD, "configmaps", "shop", "web-cm")["data"]["key"] == "v1"  # type: ignore[index]
    child.expect(r"Proceed\? \[y/N\]")
    child.sendline("y")
    child.expect("has been upgraded")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert apiserver.get_object(PROD, "configmaps", "shop", "web-cm")["data"]["key"] == "v2"  # type: ignore[index]
    assert _audit(setup)["decision"] == "confirmed"


def test_no_runs_nothing(setup: dict[str, str], apiserver: FakeAPIServer) -> None:
    apiserver.clear()
    child = _spawn(setup, f"{KUBESAFE} helm upgrade web {setup['CHART2']} --kube-context prod")
    child.expect(r"Proceed\? \[y/N\]")
    child.sendline("n")
    child.expect("not confirmed: only y or yes proceeds; helm was not run")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
    assert writes(apiserver, PROD) == []
    assert _audit(setup)["decision"] == "declined"


def test_uninstall_wants_the_context_typed(setup: dict[str, str], apiserver: FakeAPIServer) -> None:
    apiserver.clear()
    child = _spawn(setup, f"HELM_KUBECONTEXT=prod {KUBESAFE} helm uninstall web")
    child.expect("Type prod to proceed: ")
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3 and writes(apiserver, PROD) == []
    child = _spawn(setup, f"HELM_KUBECONTEXT=prod {KUBESAFE} helm uninstall web")
    child.expect("Type prod to proceed: ")
    child.sendline("prod")
    child.expect("uninstalled")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert apiserver.get_object(PROD, "configmaps", "shop", "web-cm") is None


def test_piped_yes_is_not_an_answer(setup: dict[str, str], apiserver: FakeAPIServer) -> None:
    apiserver.clear()
    child = _spawn(setup, f"yes | {KUBESAFE} helm --kube-context prod rollback web 1")
    child.expect(r"Proceed\? \[y/N\]")
    child.sendline("")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3 and writes(apiserver, PROD) == []


def _no_tty(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBESAFE, "helm", *argv],
        env=env,
        input="y\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        start_new_session=True,
    )


def test_no_terminal_refuses_and_override_approves_only_its_context(
    setup: dict[str, str], apiserver: FakeAPIServer
) -> None:
    apiserver.clear()
    argv = ("upgrade", "web", setup["CHART2"], "--kube-context", "prod")
    refused = _no_tty(setup, *argv)
    assert refused.returncode == 3 and "KUBESAFE_CONFIRM=prod" in refused.stderr
    assert _no_tty({**setup, "KUBESAFE_CONFIRM": "dev"}, *argv).returncode == 3
    assert _no_tty({**setup, "KUBESAFE_CONFIRM": "yes"}, *argv).returncode == 3
    assert writes(apiserver, PROD) == []
    allowed = _no_tty({**setup, "KUBESAFE_CONFIRM": "prod"}, *argv)
    assert allowed.returncode == 0, allowed.stderr
    assert writes(apiserver, PROD) != []
    entry = _audit(setup)
    assert entry["decision"] == "allowed" and entry["program"] == "helm"
    assert entry["chart"] == setup["CHART2"]


def test_diff_plugin_output_is_the_preview(setup: dict[str, str], tmp_path: Path) -> None:
    # A stand-in for the helm-diff plugin (no network here): it prints what it was given.
    plugin = tmp_path / "plugins" / "diff"
    plugin.mkdir(parents=True)
    (plugin / "plugin.yaml").write_text(
        'name: "diff"\nversion: "0.0.1"\nusage: "diff"\ndescription: "d"\n'
        'command: "$HELM_PLUGIN_DIR/diff.sh"\n'
    )
    (plugin / "diff.sh").write_text('#!/bin/sh\necho "DIFF-ARGS: $*"\necho "NS=$HELM_NAMESPACE"\n')
    (plugin / "diff.sh").chmod(0o755)
    env = {**setup, "HELM_PLUGINS": str(tmp_path / "plugins")}
    child = _spawn(env, f"{KUBESAFE} helm --kube-context prod install web2 {setup['CHART']}")
    child.expect("helm diff:")
    child.expect("DIFF-ARGS: upgrade --allow-unreleased web2")
    child.expect("NS=shop")
    child.expect(r"Proceed\? \[y/N\]")
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3


def test_preview_failure_still_asks(setup: dict[str, str]) -> None:
    child = _spawn(setup, f"{KUBESAFE} helm --kube-context prod upgrade web /nonexistent/chart")
    child.expect("preview unavailable")
    child.expect(r"Proceed\? \[y/N\]")
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
