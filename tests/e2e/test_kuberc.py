"""kuberc aliases and defaults change what kubectl runs; kubesafe must see the same thing.

Compared with real kubectl 1.37 (kuberc on by default): the server kubectl
contacts (from its -v=6 log) is the server kubesafe decides about.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubesafe.commands.explain import plan_to_json
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubectl.plan import ALLOW, BLOCK, CONFIRM, make_plan
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
