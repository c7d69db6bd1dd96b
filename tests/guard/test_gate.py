"""The guard's policy decision: the shim's policy, the request path's namespace, lifts."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from kubesafe.guard import gate as gate_module
from kubesafe.guard.access import classify_request
from kubesafe.guard.gate import Gate, lift_command
from kubesafe.guard.lifts import LiftBook, open_lift
from tests.support.fake_apiserver import write_kubeconfig
from tests.support.guard_harness import isolated_env


def _setup(tmp_path: Path, policy: str) -> tuple[Gate, str]:
    kubeconfig = tmp_path / "kubeconfig"
    write_kubeconfig(
        kubeconfig,
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "c", "cluster": {"server": "https://prod.example:6443"}},
                {"name": "d", "cluster": {"server": "https://dev.example:6443"}},
            ],
            "users": [{"name": "u", "user": {}}],
            "contexts": [
                {"name": "prod", "context": {"cluster": "c", "user": "u"}},
                {"name": "dev", "context": {"cluster": "d", "user": "u"}},
                {"name": "alias", "context": {"cluster": "c", "user": "u"}},
            ],
        },
    )
    (tmp_path / "policy.yaml").write_text(policy)
    env = {
        **isolated_env(tmp_path / "home"),
        "KUBECONFIG": str(kubeconfig),
        "KUBESAFE_CONFIG": str(tmp_path / "policy.yaml"),
    }
    lifts = str(tmp_path / "lifts.json")
    return Gate(env, LiftBook(lifts, "t1")), lifts


def _decide(gate: Gate, context: str, method: str, path: str) -> bool:
    access = classify_request(method, path, "", None)
    return gate.decide(context, access, f"{method} {path}").allowed


def test_namespace_rules_use_the_namespace_in_the_path(tmp_path: Path) -> None:
    gate, _ = _setup(tmp_path, "rules:\n  - context: prod\n    namespaces: [shop, 'pay-*']\n")
    assert not _decide(gate, "prod", "POST", "/api/v1/namespaces/shop/configmaps")
    assert not _decide(gate, "prod", "DELETE", "/apis/apps/v1/namespaces/pay-eu/deployments/x")
    assert _decide(gate, "prod", "POST", "/api/v1/namespaces/sandbox/configmaps")
    # no namespace in the path: it may reach any, so the rule applies
    assert not _decide(gate, "prod", "DELETE", "/api/v1/nodes/n1")
    assert not _decide(gate, "prod", "POST", "/api/v1/namespaces")
    assert _decide(gate, "prod", "GET", "/api/v1/namespaces/shop/secrets")


def test_the_same_endpoint_under_another_name_is_protected(tmp_path: Path) -> None:
    gate, _ = _setup(tmp_path, "rules:\n  - context: prod\n")
    assert not _decide(gate, "alias", "POST", "/api/v1/namespaces/a/configmaps")
    assert _decide(gate, "dev", "POST", "/api/v1/namespaces/a/configmaps")


def test_a_lift_opens_writes_but_never_a_block_rule(tmp_path: Path) -> None:
    gate, lifts = _setup(
        tmp_path,
        "rules:\n  - context: prod\n    level: typed\n  - context: dev\n    level: block\n",
    )
    open_lift(lifts, "t1", "prod", 60, "change 42")
    open_lift(lifts, "t1", "dev", 60)
    access = classify_request("DELETE", "/api/v1/namespaces/a/pods/p", "", None)
    verdict = gate.decide("prod", access, "DELETE pod")
    assert verdict.allowed and verdict.lift is not None and verdict.lift.reason == "change 42"
    blocked = gate.decide("dev", access, "DELETE pod")
    assert not blocked.allowed and "no lift opens it" in blocked.message
    assert lift_command("dev") not in blocked.message


def test_the_refusal_names_rule_level_and_lift_command(tmp_path: Path) -> None:
    gate, _ = _setup(tmp_path, "rules:\n  - context: prod\n")
    access = classify_request("PATCH", "/api/v1/namespaces/a/pods/p", "", None)
    verdict = gate.decide("prod", access, "PATCH /api/v1/namespaces/a/pods/p")
    assert not verdict.allowed
    assert f"{tmp_path / 'policy.yaml'}:2" in verdict.message
    assert "level confirm" in verdict.message
    assert "kubesafe lift prod --for 15m" in verdict.message


def test_context_names_are_quoted_in_the_lift_command() -> None:
    assert lift_command("arn:aws:eks:eu-west-1:1:cluster/prod") == (
        "kubesafe lift arn:aws:eks:eu-west-1:1:cluster/prod --for 15m"
    )
    assert lift_command("it's prod") == "kubesafe lift 'it'\"'\"'s prod' --for 15m"


def test_a_rule_added_while_running_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gate_module, "RECHECK_SECONDS", 0.0)
    gate, _ = _setup(tmp_path, "rules: []\n")
    assert _decide(gate, "dev", "POST", "/api/v1/namespaces/a/configmaps")
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  - context: dev\n")
    later = time.time() + 5
    os.utime(policy, (later, later))
    assert not _decide(gate, "dev", "POST", "/api/v1/namespaces/a/configmaps")


def test_a_broken_policy_or_unknown_context_refuses_writes(tmp_path: Path) -> None:
    gate, _ = _setup(tmp_path, "rules: [\n")
    assert not _decide(gate, "dev", "POST", "/api/v1/namespaces/a/configmaps")
    assert _decide(gate, "dev", "GET", "/api/v1/namespaces/a/configmaps")
    gate, _ = _setup(tmp_path / "other", "rules: []\n")
    access = classify_request("POST", "/api/v1/namespaces/a/configmaps", "", None)
    verdict = gate.decide("gone", access, "POST")
    assert not verdict.allowed and "cannot tell where it goes" in verdict.message
