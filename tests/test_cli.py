"""The kubesafe command line, run as users run it (the installed console script)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kubeconfigs import kubeconfig, write

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")


@pytest.fixture
def env(tmp_path: Path, isolated_home: Path) -> dict[str, str]:
    config = write(
        tmp_path / "kubeconfig",
        kubeconfig(
            clusters={"p": "https://api.prod.example:6443", "d": "https://dev.example:6443"},
            contexts={
                "prod": {"cluster": "p", "namespace": "shop"},
                "dev": {"cluster": "d"},
                "innocent": {"cluster": "p"},
            },
            current="dev",
        ),
    )
    return {
        "HOME": str(isolated_home),
        "PATH": str(tmp_path),
        "KUBECONFIG": str(config),
        "XDG_CONFIG_HOME": str(isolated_home / ".config"),
        "XDG_CACHE_HOME": str(isolated_home / ".cache"),
        "XDG_STATE_HOME": str(isolated_home / ".state"),
    }


def run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBESAFE, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def explain(env: dict[str, str], *argv: str) -> dict[str, object]:
    result = run(env, "explain", "--json", "--", *argv)
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_protect_with_no_options_uses_production_defaults(
    env: dict[str, str], isolated_home: Path
) -> None:
    result = run(env, "protect", "prod")
    assert result.returncode == 0, result.stderr
    assert "writes confirm, destructive commands typed" in result.stdout
    path = isolated_home / ".config" / "kubesafe" / "config.yaml"
    assert path.exists()
    write_report = explain(env, "--context", "prod", "label", "pod", "x", "a=b")
    assert (
        write_report["protected"],
        write_report["environment"],
        write_report["decision"],
        write_report["level"],
    ) == (True, "production", "confirm", "confirm")
    delete_report = explain(env, "--context", "prod", "delete", "pod", "x")
    assert delete_report["level"] == "typed" and delete_report["confirm_with"] == "prod"
    assert explain(env, "--context", "dev", "delete", "pod", "x")["decision"] == "allow"


def test_server_rule_and_policy_listing(env: dict[str, str]) -> None:
    assert (
        run(
            env, "protect", "--server", "https://api.prod.example:6443", "--level", "block"
        ).returncode
        == 0
    )
    report = explain(env, "--context", "innocent", "scale", "deploy/x", "--replicas=2")
    assert report["decision"] == "block"
    listing = run(env, "policy")
    assert "server 'https://api.prod.example:6443'" in listing.stdout
    assert "contexts: innocent, prod" in listing.stdout
    assert "config.yaml:2" in listing.stdout  # where the rule came from


def test_unprotect(env: dict[str, str]) -> None:
    run(env, "protect", "prod")
    removed = run(env, "unprotect", "prod")
    assert removed.returncode == 0 and "Removed 1 rule" in removed.stdout
    assert explain(env, "--context", "prod", "delete", "pod", "x")["decision"] == "allow"
    missing = run(env, "unprotect", "prod")
    assert missing.returncode == 1 and missing.stderr.startswith("kubesafe: no rule for 'prod'")


def test_protect_with_namespace_and_env(env: dict[str, str]) -> None:
    result = run(
        env, "protect", "dev", "--env", "staging", "--namespace", "staging", "--level", "confirm"
    )
    assert result.returncode == 0, result.stderr
    assert explain(env, "-n", "staging", "delete", "pod", "x")["decision"] == "confirm"
    assert explain(env, "-n", "feature-1", "delete", "pod", "x")["decision"] == "allow"


def test_broken_policy_file_is_reported_with_its_line(
    env: dict[str, str], isolated_home: Path
) -> None:
    write(
        isolated_home / ".config" / "kubesafe" / "config.yaml",
        "rules:\n  - context: prod\n    level: maybe\n",
    )
    report = explain(env, "--context", "dev", "delete", "pod", "x")
    assert report["decision"] == "block" and "line 3" in str(report["policy_error"])
    listing = run(env, "policy")
    assert "ERROR" in listing.stdout and "line 3" in listing.stdout
    added = run(env, "protect", "other")
    assert added.returncode == 1 and "fix it before adding rules" in added.stderr


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("clusters: [\n", "line 2"),
        ("contexts:\n- name: a\n- name: a\n", 'duplicate name "a"'),
    ],
)
def test_explain_on_a_broken_kubeconfig(
    env: dict[str, str], tmp_path: Path, setup: str, message: str
) -> None:
    write(Path(env["KUBECONFIG"]), setup)
    result = run(env, "explain", "--json", "--", "delete", "pod", "x")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert message in report["error"] and env["KUBECONFIG"] in report["error"]
    assert report["decision"] == "block"
    human = run(env, "explain", "--", "get", "pods")
    assert human.returncode == 1 and "cannot be resolved" in human.stdout
    assert "Traceback" not in human.stderr + result.stderr


def test_explain_unknown_context(env: dict[str, str]) -> None:
    result = run(env, "explain", "--json", "--", "--context", "nope", "get", "pods")
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"].startswith('context "nope" not found')


def test_explain_human_output(env: dict[str, str]) -> None:
    result = run(
        env,
        "explain",
        "--",
        "-n",
        "kube-system",
        "--context",
        "prod",
        "rollout",
        "restart",
        "deploy/x",
    )
    assert result.returncode == 0
    assert "kubectl rollout restart  [write" in result.stdout
    assert "namespace:   kube-system  (from --namespace)" in result.stdout
    assert "server:      https://api.prod.example:6443  (from cluster)" in result.stdout


def test_every_command_has_an_example_in_its_help(env: dict[str, str]) -> None:
    for command in (
        ["explain"],
        ["protect"],
        ["unprotect"],
        ["policy"],
        ["versions"],
        ["versions", "install"],
        ["versions", "prune"],
        ["versions", "which"],
        [],
    ):
        result = run(env, *command, "--help")
        assert result.returncode == 0 and "Example" in result.stdout, command


def test_version_flag(env: dict[str, str]) -> None:
    result = run(env, "--version")
    assert result.returncode == 0 and result.stdout.startswith("kubesafe, version ")


def test_windows_child_mode_returns_the_exit_status() -> None:
    from kubesafe.kubectl.shim import _run_child

    assert _run_child("/bin/sh", ["sh", "-c", "exit 7"], dict(os.environ)) == 7
    assert _run_child("/nonexistent/kubectl", ["kubectl"], dict(os.environ)) == 127


def test_explain_changes_no_remembered_state(
    env: dict[str, str], isolated_home: Path, tmp_path: Path
) -> None:
    kubectl = tmp_path / "kubectl"
    kubectl.write_text('#!/bin/sh\necho \'{"clientVersion": {"gitVersion": "v1.30.1"}}\'\n')
    kubectl.chmod(0o755)
    for _ in range(2):
        report = explain(env, "--context", "prod", "get", "pods")
        assert report["server_version"] is None and report["server_version_stale"] is True
    assert not (isolated_home / ".cache" / "kubesafe" / "server-versions.marshal").exists()
