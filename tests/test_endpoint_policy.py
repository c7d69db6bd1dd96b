"""Protection lent by endpoint identity, and who may approve it (issue 11, classes 1-4)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from kubesafe import protected_endpoints
from kubesafe.kubectl.plan import Plan, make_plan
from kubesafe.verdict import ALLOW, CONFIRM, approval_labels
from tests.kubeconfigs import write

PROD_URL = "https://api.prod.example:6443"
CA = base64.b64encode(
    b"-----BEGIN CERTIFICATE-----\nMIIBprodprodprod\n-----END CERTIFICATE-----\n"
).decode()


def _config(extra_clusters: list[dict[str, Any]] | None = None, **contexts: str) -> dict[str, Any]:
    clusters = [
        {"name": "prodc", "cluster": {"server": PROD_URL, "certificate-authority-data": CA}},
        {"name": "devc", "cluster": {"server": "https://api.dev.example:6443"}},
        *(extra_clusters or []),
    ]
    named = {"prod": "prodc", "dev": "devc", **contexts}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "contexts": [{"name": n, "context": {"cluster": c}} for n, c in named.items()],
        "current-context": "dev",
    }


@pytest.fixture(autouse=True)
def fresh_memory() -> None:
    protected_endpoints.forget_loaded()


def _env(tmp_path: Path, config: dict[str, Any], policy: str) -> dict[str, str]:
    write(tmp_path / "kubeconfig", config)
    write(tmp_path / "policy.yaml", policy)
    return {
        "HOME": str(tmp_path),
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        "KUBESAFE_CONFIG": str(tmp_path / "policy.yaml"),
        "PATH": "",
    }


def _plan(env: dict[str, str], *argv: str) -> Plan:
    return make_plan([*argv, "delete", "ns", "x"], env)


def _labels(plan: Plan) -> tuple[str, ...]:
    assert plan.guarded is not None
    return approval_labels(plan.guarded, plan.protection)


def test_a_tunnel_entry_with_prods_ca_is_prod(tmp_path: Path) -> None:
    tunnel = {"name": "t", "cluster": {"server": "https://localhost:16443"}}
    tunnel["cluster"]["certificate-authority-data"] = CA
    env = _env(tmp_path, _config([tunnel], tunnel="t"), "rules:\n  - context: prod\n")
    plan = _plan(env, "--context", "tunnel")
    assert plan.decision == CONFIRM and _labels(plan) == ("prod",)
    assert _plan(env, "--context", "dev").decision == ALLOW


def test_a_tls_server_name_links_a_tunnel(tmp_path: Path) -> None:
    tunnel = {"name": "t", "cluster": {"server": "https://127.0.0.1:16443"}}
    tunnel["cluster"]["tls-server-name"] = "api.prod.example"
    env = _env(tmp_path, _config([tunnel], tunnel="t"), "rules:\n  - context: prod\n")
    assert _plan(env, "--context", "tunnel").decision == CONFIRM
    flag = ("--server", "https://localhost:1", "--tls-server-name", "API.prod.example")
    assert _plan(env, *flag).decision == CONFIRM


def test_a_cluster_extension_is_lent_by_endpoint(tmp_path: Path) -> None:
    config = _config([{"name": "copy", "cluster": {"server": PROD_URL + "/"}}], copyctx="copy")
    config["clusters"][0]["cluster"]["extensions"] = [
        {"name": "kubesafe", "extension": {"environment": "production"}}
    ]
    del config["contexts"][0]  # no context uses prodc: the cluster itself lends
    env = _env(tmp_path, config, "rules: []\n")
    for flags in (("--server", PROD_URL), ("--context", "copyctx"), ("--cluster", "prodc")):
        assert _plan(env, *flags).decision == CONFIRM, flags
    assert _labels(_plan(env, "--context", "copyctx")) == ("prodc",)
    assert _plan(env).decision == ALLOW


def test_protecting_dev_does_not_let_dev_approve_prod(tmp_path: Path) -> None:
    policy = (
        "rules:\n  - context: prod\n  - context: dev\n  - context: dev2\n    environment: dev\n"
    )
    env = _env(tmp_path, _config(dev2="prodc"), policy)
    for flags in (("--cluster", "prodc"), ("--server", PROD_URL), ("--context", "dev2")):
        assert _labels(_plan(env, *flags)) == ("prod",), flags
    assert _labels(_plan(env)) == ("dev",)


def test_one_rule_on_two_names_of_one_cluster_is_approved_by_either(tmp_path: Path) -> None:
    env = _env(tmp_path, _config(**{"prod-admin": "prodc"}), "rules:\n  - context: 'prod*'\n")
    assert _labels(_plan(env, "--context", "prod")) == ("prod",)
    assert _labels(_plan(env, "--context", "prod-admin")) == ("prod-admin",)


def test_a_server_rule_reached_by_cluster_flag_is_approved_by_the_server(tmp_path: Path) -> None:
    env = _env(tmp_path, _config(), f"rules:\n  - server: '{PROD_URL}'\n")
    labels = _labels(_plan(env, "--cluster", "prodc"))
    assert "dev" not in labels and labels[0] == PROD_URL


def test_protected_endpoints_are_remembered_across_files(tmp_path: Path) -> None:
    env = _env(tmp_path, _config(), "rules:\n  - context: prod\n")
    admin = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "kubernetes", "cluster": {"server": "https://API.prod.example:6443/"}}
        ],
        "contexts": [{"name": "kubernetes-admin@kubernetes", "context": {"cluster": "kubernetes"}}],
        "current-context": "kubernetes-admin@kubernetes",
    }
    write(tmp_path / "admin.conf", admin)
    assert make_plan(["get", "pods"], env).decision == ALLOW  # sees prod
    other = {**env, "KUBECONFIG": str(tmp_path / "admin.conf")}
    plan = _plan(other)
    assert plan.decision == CONFIRM and _labels(plan) == ("prod",)
    assert plan.protection.deciding is not None
    assert "remembered" in plan.protection.deciding.source
    write(tmp_path / "policy.yaml", "rules: []\n")
    assert _plan(other).decision == ALLOW  # unprotected: the memory does not outlive the rule


def test_the_memory_file_is_private_and_holds_no_credentials(tmp_path: Path) -> None:
    config = _config()
    config["users"] = [{"name": "u", "user": {"token": "s3cret-token"}}]
    env = _env(tmp_path, config, "rules:\n  - context: prod\n")
    make_plan(["--context", "prod", "delete", "ns", "x"], env)
    state = Path(protected_endpoints.state_path())
    assert state.stat().st_mode & 0o777 == 0o600
    content = state.read_bytes()
    assert b"s3cret-token" not in content and CA.encode() not in content
    assert b"prod" in content


def test_tls_flags_tie_a_server_override_to_prod(tmp_path: Path) -> None:
    from kubesafe.helm.plan import make_helm_plan

    env = _env(tmp_path, _config(), "rules:\n  - context: prod\n")
    (tmp_path / "prod-ca.crt").write_bytes(base64.b64decode(CA))
    tunnel = "https://localhost:16443"
    ca_flag = ("--certificate-authority", str(tmp_path / "prod-ca.crt"))
    assert _plan(env, "--server", tunnel, *ca_flag).decision == CONFIRM
    assert _plan(env, "--server", tunnel).decision == ALLOW
    helm = ["uninstall", "web", "--kube-apiserver", tunnel]
    assert make_helm_plan([*helm, "--kube-ca-file", ca_flag[1]], env).decision == CONFIRM
    variable = {**env, "HELM_KUBECAFILE": ca_flag[1]}
    assert make_helm_plan(helm, variable).decision == CONFIRM
    assert make_helm_plan(helm, env).decision == ALLOW
    # prod's own entry stays prod whatever the flags do to its URL and CA
    insecure = ("--server", tunnel, "--insecure-skip-tls-verify")
    assert _plan(env, "--cluster", "prodc", *insecure).decision == CONFIRM
