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
    assert "as production: writes ask y/N, deletes need 'prod' typed" in result.stdout
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
    # Nothing is known to be unprotected while the policy cannot be read.
    assert report["protected"] is None
    listing = run(env, "policy")
    # One message, on stderr, and a failure: not "refuses every write" next to "nothing is
    # protected".
    assert listing.returncode == 1 and listing.stdout == ""
    assert listing.stderr.count("\n") == 1 and "line 3" in listing.stderr
    assert "refuses every write" in listing.stderr
    assert "nothing is protected" not in listing.stderr
    added = run(env, "protect", "other")
    assert added.returncode == 1 and "fix it before adding rules" in added.stderr


def test_protect_twice_changes_nothing_the_second_time(
    env: dict[str, str], isolated_home: Path
) -> None:
    path = isolated_home / ".config" / "kubesafe" / "config.yaml"
    assert run(env, "protect", "prod").returncode == 0
    before = path.read_text()
    again = run(env, "protect", "prod")
    assert again.returncode == 0
    assert again.stdout.startswith("Already protected: context 'prod'")
    assert "nothing changed" in again.stdout and "config.yaml:2" in again.stdout
    # The default environment spelled out is the same rule.
    assert run(env, "protect", "prod", "--env", "production").stdout.startswith("Already")
    assert path.read_text() == before
    stricter = run(env, "protect", "prod", "--level", "block")
    assert stricter.stdout.startswith("Protected context 'prod' as production: writes and")
    assert "Other rules for 'prod' (line 2) apply too; the strictest level wins" in stricter.stdout
    assert "Removed 2 rules" in run(env, "unprotect", "prod").stdout


def test_policy_listing_says_levels_in_plain_words(env: dict[str, str]) -> None:
    run(env, "protect", "prod")
    run(env, "protect", "d*", "--env", "staging")
    listing = run(env, "policy")
    assert listing.returncode == 0
    assert "- context 'prod': production, writes ask y/N, deletes need 'prod' typed" in (
        listing.stdout
    )
    assert "- context 'd*': staging, writes go ahead unasked, deletes ask y/N" in listing.stdout
    assert "'confirm'" not in listing.stdout and "typed)" not in listing.stdout


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("clusters: [\n", "line 1: did not find expected node content"),  # as kubectl says
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
    lines = result.stdout.splitlines()
    # The command as typed, object included; the class on its own line.
    assert lines[0] == "command:     kubectl -n kube-system --context prod rollout restart deploy/x"
    assert lines[1].startswith("class:       write (")
    assert "namespace:   kube-system  (from --namespace)" in result.stdout
    assert "server:      https://api.prod.example:6443  (from cluster)" in result.stdout


def _nested(text: str) -> bool:
    depth = 0
    for char in text:
        depth += char in "(["
        depth -= char in ")]"
        if depth > 1:
            return True
    return False


def test_explain_text_has_no_nested_brackets_and_says_what_to_type(env: dict[str, str]) -> None:
    run(env, "protect", "prod")
    result = run(env, "explain", "--", "--context", "prod", "delete", "pod", "web-0")
    assert result.returncode == 0
    assert "command:     kubectl --context prod delete pod web-0" in result.stdout
    assert "decision:    confirm: asks for 'prod' to be typed on the terminal" in result.stdout
    assert "rule:        " in result.stdout
    assert not any(_nested(line) for line in result.stdout.splitlines()), result.stdout


def test_explain_broken_policy_is_unknown_protection_and_fails_like_a_broken_kubeconfig(
    env: dict[str, str], isolated_home: Path
) -> None:
    write(isolated_home / ".config" / "kubesafe" / "config.yaml", "rules: [\n")
    for argv in (["delete", "pod", "x"], ["get", "pods"]):
        result = run(env, "explain", "--", *argv)
        assert "protected:   unknown: the policy file is broken" in result.stdout
        assert "protected:   no" not in result.stdout
        assert "policy:      policy file " in result.stdout
        policy_status = result.returncode
        write(Path(env["KUBECONFIG"]), "clusters: [\n")
        assert run(env, "explain", "--", *argv).returncode == policy_status == 1
        write(Path(env["KUBECONFIG"]), "{}\n")
    helm = run(env, "explain", "--helm", "--", "uninstall", "web")
    assert helm.returncode == 1 and "protected:   unknown" in helm.stdout


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
    from kubesafe.execute import _run_child

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
