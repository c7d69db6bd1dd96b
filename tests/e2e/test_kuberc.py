"""kuberc aliases and defaults change what kubectl runs; kubesafe must see the same thing.

Compared with real kubectl 1.37 (kuberc on by default): the server kubectl
contacts (from its -v=6 log) is the server kubesafe decides about.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubesafe.commands.explain import plan_to_json
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubectl.plan import make_plan
from kubesafe.verdict import ALLOW, BLOCK, CONFIRM
from tests.support.kubectl_log import kubectl_server

pytestmark = pytest.mark.e2e

KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: dev
  cluster: {server: "http://127.0.0.1:9/dev"}
- name: prod
  cluster: {server: "http://127.0.0.1:9/prod"}
contexts:
- name: dev
  context: {cluster: dev}
- name: prod
  context: {cluster: prod}
current-context: dev
"""

KUBERC = """apiVersion: kubectl.config.k8s.io/v1beta1
kind: Preference
defaults:
- command: delete
  options:
  - name: context
    default: prod
aliases:
- name: nuke
  command: delete
  prependArgs: [namespace]
  options:
  - name: context
    default: prod
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "config").write_text(KUBECONFIG)
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "kuberc").write_text(KUBERC)
    (tmp_path / "policy.yaml").write_text("rules:\n  - context: prod\n")
    return {
        "HOME": str(tmp_path),
        "KUBECONFIG": str(tmp_path / "config"),
        "KUBESAFE_CONFIG": str(tmp_path / "policy.yaml"),
        "PATH": "",
    }


@pytest.mark.parametrize(
    "argv",
    [["delete", "ns", "x"], ["nuke", "x"], ["delete", "pod", "x", "--context", "dev"]],
)
def test_kuberc_changes_the_target_as_kubectl_sees_it(
    argv: list[str], env: dict[str, str], tmp_path: Path, kubectl37: Path
) -> None:
    server = kubectl_server(kubectl37, argv, env)
    plan = make_plan(argv, env, FileIndex(str(tmp_path / "cache")))
    report = plan_to_json(plan)
    assert report["server"] == server
    expected = CONFIRM if server and server.endswith("/prod") else ALLOW
    assert plan.decision == expected


def test_kuberc_can_be_turned_off(env: dict[str, str], tmp_path: Path, kubectl37: Path) -> None:
    for extra in ({"KUBERC": "off"}, {"KUBECTL_KUBERC": "false"}):
        both = {**env, **extra}
        assert kubectl_server(kubectl37, ["delete", "ns", "x"], both) == "http://127.0.0.1:9/dev"
        plan = make_plan(["delete", "ns", "x"], both, FileIndex(str(tmp_path / "c2")))
        assert plan.decision == ALLOW


def test_raw_default_defeats_dry_run(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / ".kube" / "kuberc").write_text(
        "apiVersion: kubectl.config.k8s.io/v1beta1\nkind: Preference\ndefaults:\n"
        "- command: create\n  options:\n  - name: raw\n    default: /api/v1/namespaces\n"
    )
    plan = make_plan(
        ["--context", "prod", "create", "-f", "ns.json", "--dry-run=server"],
        env,
        FileIndex(str(tmp_path / "cache")),
    )
    assert plan.classification.mutating and plan.decision == CONFIRM


def test_a_broken_kuberc_refuses_writes(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / ".kube" / "kuberc").write_text("defaults: [\n")
    plan = make_plan(["delete", "ns", "x"], env, FileIndex(str(tmp_path / "cache")))
    assert plan.decision == BLOCK and "kuberc" in plan.decision_reason
    assert make_plan(["get", "pods"], env, FileIndex(str(tmp_path / "cache"))).decision == ALLOW


def test_a_read_alias_on_a_protected_context_runs_once_the_version_is_known(
    tmp_path: Path, kubectl37: Path
) -> None:
    """Unknown server version: the alias could be a plugin to an old kubectl, so
    kubesafe asks the server first (it would anyway) instead of refusing the read."""
    import os
    import subprocess
    import sys

    from tests.support.fake_apiserver import FakeAPIServer, write_kubeconfig

    with FakeAPIServer(git_version="v1.37.1") as server:
        write_kubeconfig(tmp_path / "config", server.kubeconfig("c-prod", context="prod"))
        home = tmp_path / "home"
        (home / ".kube").mkdir(parents=True)
        (home / ".kube" / "kuberc").write_text(
            "apiVersion: kubectl.config.k8s.io/v1beta1\nkind: Preference\n"
            "aliases:\n- name: gp\n  command: get\n  prependArgs: [pods]\n"
        )
        (tmp_path / "policy.yaml").write_text("rules:\n  - context: prod\n")
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        os.symlink(kubectl37, bin_dir / "kubectl")
        env = {
            "HOME": str(home),
            "PATH": str(bin_dir),
            "KUBECONFIG": str(tmp_path / "config"),
            "KUBESAFE_CONFIG": str(tmp_path / "policy.yaml"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_STATE_HOME": str(home / ".state"),
        }
        kubesafe = str(Path(sys.executable).parent / "kubesafe")
        result = subprocess.run(
            [kubesafe, "kubectl", "gp"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, result.stderr
        assert server.find_requests("GET", prefix="c-prod", resource="pods")
        asked = [r for r in server.requests if r.path.rstrip("/") == "/version"]
        assert asked and server.requests[0] == asked[0]
        # A write alias on the same protected context is still refused without a terminal.
        (home / ".kube" / "kuberc").write_text(
            "apiVersion: kubectl.config.k8s.io/v1beta1\nkind: Preference\n"
            "aliases:\n- name: rm\n  command: delete\n  prependArgs: [pod]\n"
        )
        refused = subprocess.run(
            [kubesafe, "kubectl", "rm", "web"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert refused.returncode == 3, refused.stderr
        assert not server.find_requests("DELETE")


@pytest.mark.parametrize(("minor", "decision"), [(37, ALLOW), (31, CONFIRM)])
def test_kubesafe_kubectl_is_asked_its_version(
    minor: int, decision: str, tmp_path: Path, kubectl37: Path, kubectl31: Path
) -> None:
    """To kubectl 1.37 ``gp`` is ``get pods``; to 1.31 it is an unknown plugin."""
    (tmp_path / "config").write_text(
        KUBECONFIG.replace("current-context: dev", "current-context: prod")
    )
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "kuberc").write_text(
        "apiVersion: kubectl.config.k8s.io/v1beta1\nkind: Preference\n"
        "aliases:\n- name: gp\n  command: get\n  prependArgs: [pods]\n"
    )
    (tmp_path / "policy.yaml").write_text("rules:\n  - context: prod\n")
    env = {
        "HOME": str(tmp_path),
        "KUBECONFIG": str(tmp_path / "config"),
        "KUBESAFE_CONFIG": str(tmp_path / "policy.yaml"),
        "KUBESAFE_KUBECTL": str(kubectl37 if minor == 37 else kubectl31),
        "PATH": "",
    }
    plan = make_plan(["gp"], env, FileIndex(str(tmp_path / "cache")))
    assert plan.decision == decision
    assert plan.classification.category == ("read" if minor == 37 else "write")
