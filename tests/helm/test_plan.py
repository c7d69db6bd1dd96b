"""Where a helm command goes (flags, HELM_* variables, kubeconfig) and what is decided."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubesafe.helm.plan import HelmPlan, make_helm_plan
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubeconfig.resolve import Target
from tests.kubeconfigs import kubeconfig, write


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    config = write(
        tmp_path / "config",
        kubeconfig(
            clusters={"prod": "https://prod.example:6443", "dev": "https://dev.example:6443"},
            contexts={
                "prod": {"cluster": "prod", "namespace": "shop"},
                "dev": {"cluster": "dev"},
            },
            current="dev",
        ),
    )
    policy = write(tmp_path / "policy.yaml", "rules:\n  - context: prod\n")
    fake_helm = tmp_path / "bin" / "helm"
    fake_helm.parent.mkdir()
    fake_helm.write_text("#!/bin/sh\nexit 0\n")
    fake_helm.chmod(0o755)
    return {
        "HOME": str(tmp_path),
        "PATH": f"{fake_helm.parent}:/usr/bin:/bin",
        "KUBECONFIG": str(config),
        "KUBESAFE_CONFIG": str(policy),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }


def _plan(argv: str, env: dict[str, str], **extra: str) -> HelmPlan:
    return make_helm_plan(argv.split(), {**env, **extra}, FileIndex())


def _target(plan: HelmPlan) -> Target:
    assert plan.target is not None
    return plan.target


def test_current_context_read_and_write(env: dict[str, str]) -> None:
    plan = _plan("uninstall web", env)
    assert plan.target is not None and plan.target.context == "dev"
    assert plan.decision == "allow" and plan.release == "web"


def test_kube_context_flag_and_variable(env: dict[str, str]) -> None:
    by_flag = _plan("--kube-context prod uninstall web", env)
    by_env = _plan("uninstall web", env, HELM_KUBECONTEXT="prod")
    for plan in (by_flag, by_env):
        assert plan.target is not None and plan.target.context == "prod"
        assert plan.target.namespace == "shop"
        assert plan.decision == "confirm" and plan.level == "typed"
    # the flag beats the variable
    plan = _plan("--kube-context dev uninstall web", env, HELM_KUBECONTEXT="prod")
    assert plan.target is not None and plan.target.context == "dev" and plan.decision == "allow"


def test_namespace_flag_beats_variable_beats_context(env: dict[str, str]) -> None:
    base = "--kube-context prod list"
    assert _target(_plan(base, env)).namespace == "shop"
    target = _target(_plan(base, env, HELM_NAMESPACE="envns"))
    assert (target.namespace, target.namespace_source) == ("envns", "HELM_NAMESPACE")
    target = _target(_plan(base + " -n flagns", env, HELM_NAMESPACE="envns"))
    assert (target.namespace, target.namespace_source) == ("flagns", "--namespace")


def test_kube_apiserver_pointing_at_prod_is_protected(env: dict[str, str]) -> None:
    plan = _plan("--kube-apiserver https://prod.example:6443 upgrade web ./c", env)
    assert plan.target is not None and plan.target.server_source == "--kube-apiserver"
    assert plan.decision == "confirm"
    plan = _plan("upgrade web ./c", env, HELM_KUBEAPISERVER="https://prod.example:6443")
    assert plan.decision == "confirm"
    assert plan.target is not None and plan.target.server_source == "HELM_KUBEAPISERVER"


def test_kubeconfig_flag_is_explicit(env: dict[str, str], tmp_path: Path) -> None:
    plan = _plan(f"--kubeconfig {tmp_path / 'missing'} uninstall web", env)
    assert plan.decision == "block" and plan.resolve_error is not None
    assert not plan.overridable


def test_unknown_context_blocks_writes_only(env: dict[str, str]) -> None:
    assert _plan("--kube-context nope uninstall web", env).decision == "block"
    assert _plan("--kube-context nope list", env).decision == "allow"


def test_local_commands_need_no_target(env: dict[str, str]) -> None:
    plan = _plan("--kube-context nope template web ./c", env)
    assert plan.decision == "allow" and plan.targets == () and plan.resolve_error is None


def test_plugin_on_prod_is_guarded(env: dict[str, str]) -> None:
    plan = _plan("diff upgrade web ./c --kube-context prod", env)
    assert plan.classification.category == "write" and plan.decision == "confirm"


def test_namespace_scoped_rule_matches_any_helm_write(env: dict[str, str], tmp_path: Path) -> None:
    write(
        tmp_path / "policy.yaml",
        "rules:\n  - context: dev\n    environment: staging\n    namespaces: [kube-system]\n",
    )
    # A chart can put objects in any namespace: the rule applies whatever -n says.
    assert _plan("-n web upgrade web ./c", env).protection.protected
    assert _plan("-n web list", env).decision == "allow"


def test_helm_location(env: dict[str, str], tmp_path: Path) -> None:
    assert _plan("list", env).helm == str(tmp_path / "bin" / "helm")
    plan = _plan("list", env, KUBESAFE_HELM=str(tmp_path / "nothing"))
    assert plan.helm is None and "KUBESAFE_HELM" in plan.helm_reason
    plan = _plan("list", env, PATH="/nonexistent")
    assert plan.helm is None and "no helm found" in plan.helm_reason


KUBESAFE = str(Path(sys.executable).parent / "kubesafe")


def test_explain_json_fields(env: dict[str, str]) -> None:
    result = subprocess.run(
        [
            KUBESAFE,
            "explain",
            "--helm",
            "--json",
            "--",
            "-n",
            "x",
            "--kube-context",
            "prod",
            "upgrade",
            "--install",
            "web",
            "./chart",
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    data = json.loads(result.stdout)
    assert data["context"] == "prod" and data["namespace"] == "x"
    assert data["release"] == "web" and data["chart"] == "./chart"
    assert data["command"] == ["upgrade"] and data["category"] == "write"
    assert data["decision"] == "confirm" and data["confirm_with"] == "prod"
    assert data["namespace_source"] == "--namespace"
    for key in ("server", "cluster", "user", "protected", "environment", "level", "helm"):
        assert key in data
    assert "kubectl" not in data


def test_explain_text_and_unresolvable(env: dict[str, str]) -> None:
    result = subprocess.run(
        [KUBESAFE, "explain", "--helm", "--", "--kube-context", "nope", "uninstall", "web"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "command:     helm --kube-context nope uninstall web" in result.stdout
    assert 'context "nope" not found' in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("argv", "policy", "label"),
    [
        ("--kube-context prod uninstall web", "rules:\n  - context: prod\n", "prod"),
        ("uninstall web --kube-apiserver https://prod.example:6443", None, "prod"),
        (
            "--kube-context prod uninstall web --kube-apiserver https://prod.example:6443",
            None,
            "prod",
        ),
        (
            "uninstall web --kube-apiserver https://prod.example:6443",
            "rules:\n  - context: dev\n    environment: staging\n  - context: prod\n",
            "prod",
        ),
        (
            "uninstall web --kube-apiserver https://prod.example:6443",
            "rules:\n  - server: https://prod.example:6443\n",
            "https://prod.example:6443",
        ),
    ],
)
def test_a_server_override_is_approved_by_naming_where_it_goes(
    env: dict[str, str], tmp_path: Path, argv: str, policy: str | None, label: str
) -> None:
    from kubesafe.verdict import approval_label

    if policy is not None:
        write(tmp_path / "policy.yaml", policy)
    plan = _plan(argv, env)
    assert plan.guarded is not None and plan.decision != "allow"
    assert approval_label(plan.guarded, plan.protection) == label


@pytest.mark.parametrize(
    "server",
    [
        "https://prod.example:6443",
        "HTTPS://PROD.example:6443/",
        "https://deployer@prod.example:6443",  # client-go ignores the user part
        "https://prod.example.:6443",  # a fully qualified name is the same host
    ],
)
def test_kube_apiserver_spellings_of_prods_endpoint_are_protected(
    env: dict[str, str], server: str
) -> None:
    plan = _plan(f"upgrade --install web ./c --kube-apiserver {server}", env)
    assert _target(plan).context == "dev"
    assert plan.decision == "confirm", plan.decision_reason
