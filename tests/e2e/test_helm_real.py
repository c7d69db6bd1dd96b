"""Real helm (3.17, 4.1, 4.3 from the kubectl wheels) through kubesafe, on the fake API server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from kubesafe.classification import READ, strictest
from kubesafe.helm.args import parse
from kubesafe.helm.classify import classify
from tests.helm.realenv import KUBESAFE, make_chart, make_env, writes
from tests.support.fake_apiserver import FakeAPIServer
from tests.support.kubectl_binaries import helm_binary

pytestmark = pytest.mark.e2e

MINORS = (31, 33, 37)


@pytest.fixture(params=MINORS, ids=lambda m: f"helm-from-1.{m}")
def helm(request: pytest.FixtureRequest) -> Path:
    return helm_binary(request.param)


def _prefixes(helm: Path) -> tuple[str, str]:
    tag = helm.parent.name.replace(".", "")
    return f"hprod-{tag}", f"hdev-{tag}"


@pytest.fixture
def env(tmp_path: Path, apiserver: FakeAPIServer, helm: Path) -> dict[str, str]:
    prod, dev = _prefixes(helm)
    make_chart(tmp_path / "chart")
    return make_env(tmp_path, apiserver, helm, prod, dev)


def _run(
    env: dict[str, str], *argv: str, cwd: Path | None = None, program: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    # A new session: no controlling terminal, like CI.
    return subprocess.run(
        [*(program or [KUBESAFE, "helm"]), *argv],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
    )


def test_list_passes_through(env: dict[str, str], apiserver: FakeAPIServer, helm: Path) -> None:
    prod, _ = _prefixes(helm)
    apiserver.clear()
    result = _run(env, "list", "--kube-context", "prod")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("NAME")
    hits = {(r.prefix, r.namespace) for r in apiserver.requests if r.resource == "secrets"}
    assert hits == {(prod, "shop")}


def test_install_then_refused_uninstall_then_override(
    env: dict[str, str], apiserver: FakeAPIServer, helm: Path, tmp_path: Path
) -> None:
    prod, _ = _prefixes(helm)
    release = f"web{helm.parent.name.replace('.', '')}"
    refused = _run(env, "--kube-context", "prod", "install", release, str(tmp_path / "chart"))
    assert refused.returncode == 3 and "KUBESAFE_CONFIRM=prod" in refused.stderr
    apiserver.clear()
    allowed = _run(
        {**env, "KUBESAFE_CONFIRM": "prod"},
        "--kube-context",
        "prod",
        "install",
        release,
        str(tmp_path / "chart"),
    )
    assert allowed.returncode == 0, allowed.stderr
    assert apiserver.get_object(prod, "configmaps", "shop", f"{release}-cm") is not None
    apiserver.clear()
    result = _run(env, "uninstall", release, "--kube-context", "prod")
    assert result.returncode == 3
    assert "without a terminal" in result.stderr and "Traceback" not in result.stderr
    assert writes(apiserver, prod) == []
    assert apiserver.get_object(prod, "configmaps", "shop", f"{release}-cm") is not None
    audit = Path(env["XDG_STATE_HOME"]) / "kubesafe" / "audit.jsonl"
    entry = json.loads(audit.read_text().splitlines()[-1])
    assert entry["program"] == "helm" and entry["release"] == release
    assert entry["decision"] == "refused" and entry["class"] == "destructive"
    # dry run of the same uninstall is a read: it runs, and changes nothing
    result = _run(env, "uninstall", release, "--kube-context", "prod", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert writes(apiserver, prod) == []


def test_writes_on_unprotected_context_just_run(
    env: dict[str, str], apiserver: FakeAPIServer, helm: Path, tmp_path: Path
) -> None:
    _, dev = _prefixes(helm)
    result = _run(env, "upgrade", "--install", "app", str(tmp_path / "chart"), "-n", "team")
    assert result.returncode == 0, result.stderr
    assert apiserver.get_object(dev, "configmaps", "team", "app-cm") is not None


# (extra environment, argv) pairs: kubesafe's resolution must match what helm hits.
COMBINATIONS: list[tuple[dict[str, str], list[str]]] = [
    ({}, ["list"]),
    ({}, ["--kube-context", "prod", "list"]),
    ({}, ["list", "--kube-context=prod"]),
    ({"HELM_KUBECONTEXT": "prod"}, ["list"]),
    ({"HELM_KUBECONTEXT": "prod"}, ["list", "--kube-context", "dev"]),
    ({"HELM_NAMESPACE": "envns"}, ["list"]),
    ({"HELM_NAMESPACE": "envns"}, ["list", "-n", "flagns"]),
    ({"HELM_NAMESPACE": "envns", "HELM_KUBECONTEXT": "prod"}, ["list"]),
    ({}, ["-n", "a", "list", "--namespace", "b"]),
    ({}, ["list", "-nshort"]),
    ({}, ["list", "--filter", "-nsneaky"]),
    ({}, ["--kube-context", "prod", "list", "-n="]),
    ({}, ["hist", "x", "--kube-context", "prod", "-n", "h"]),
    ({}, ["status", "x", "-n", "s", "--kube-context", "prod"]),
    ({}, ["get", "values", "x", "-n", "g"]),
]


def _resolved(env: dict[str, str], argv: list[str]) -> tuple[str, str]:
    result = subprocess.run(
        [KUBESAFE, "explain", "--helm", "--json", "--", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data = json.loads(result.stdout)
    return data["server"].rsplit("/", 1)[-1], data["namespace"]


@pytest.mark.parametrize(("extra", "argv"), COMBINATIONS)
def test_resolution_matches_real_helm(
    env: dict[str, str],
    apiserver: FakeAPIServer,
    helm: Path,
    extra: dict[str, str],
    argv: list[str],
) -> None:
    environment = {**env, **extra}
    apiserver.clear()
    subprocess.run(
        [str(helm), *argv], env=environment, capture_output=True, timeout=60, check=False
    )
    hit = {(r.prefix, r.namespace) for r in apiserver.requests if r.resource == "secrets"}
    assert len(hit) == 1, (argv, hit)
    assert _resolved(environment, argv) == hit.pop()


def test_kube_apiserver_and_kubeconfig_match_real_helm(
    env: dict[str, str], apiserver: FakeAPIServer, helm: Path, tmp_path: Path
) -> None:
    prod, _ = _prefixes(helm)
    url = apiserver.cluster_url(prod)
    cases = [
        ({}, ["--kube-apiserver", url, "list"]),
        ({"HELM_KUBEAPISERVER": url}, ["list"]),
        ({"KUBECONFIG": f"/nonexistent:{env['KUBECONFIG']}"}, ["list"]),
        ({"KUBECONFIG": "/nonexistent"}, ["--kubeconfig", env["KUBECONFIG"], "list", "-n", "k"]),
    ]
    for extra, argv in cases:
        environment = {**env, **extra}
        apiserver.clear()
        subprocess.run([str(helm), *argv], env=environment, capture_output=True, timeout=60)
        hit = {(r.prefix, r.namespace) for r in apiserver.requests if r.resource == "secrets"}
        assert len(hit) == 1, (argv, hit)
        assert _resolved(environment, argv) == hit.pop(), argv


# Variants of commands on an installed release; kubesafe calls some reads. Real helm
# must send no write request for those, and must write for the others.
VARIANTS = [
    "upgrade REL CHART --dry-run",
    "upgrade REL CHART --dry-run=client",
    "upgrade REL CHART --dry-run=server",
    "upgrade REL CHART --dry-run=true",
    "upgrade REL CHART --dry-run=false",
    "upgrade REL CHART --dry-run=none",
    "upgrade --install REL CHART --dry-run",
    "uninstall REL --dry-run",
    "rollback REL 1 --dry-run",
    "template REL CHART --validate",
    "template REL CHART --dry-run=server",
    "status REL",
    "history REL",
    "get all REL",
    "list -A",
    "upgrade REL CHART",
    "uninstall REL",
]


def test_classification_matches_what_real_helm_does(
    env: dict[str, str], apiserver: FakeAPIServer, helm: Path, tmp_path: Path
) -> None:
    _, dev = _prefixes(helm)
    chart = str(tmp_path / "chart")
    base = subprocess.run(
        [str(helm), "install", "rel", chart, "-n", "dry"], env=env, capture_output=True, timeout=60
    )
    assert base.returncode == 0, base.stderr
    for variant in VARIANTS:
        argv = [*variant.replace("REL", "rel").replace("CHART", chart).split(), "-n", "dry"]
        category = strictest([classify(r) for r in parse(argv).readings]).category
        apiserver.clear()
        ran = subprocess.run(
            [str(helm), *argv], env=env, capture_output=True, text=True, timeout=60
        )
        assert ran.returncode == 0, (variant, ran.stderr)
        wrote = writes(apiserver, dev)
        assert bool(wrote) == (category != READ and category != "local"), (variant, wrote)


def test_explicitly_empty_dry_run_is_a_write(
    env: dict[str, str], apiserver: FakeAPIServer, helm: Path, tmp_path: Path
) -> None:
    """helm 3.17 reads ``--dry-run=`` as "none" and installs for real; helm 4 rejects it."""
    prod, dev = _prefixes(helm)
    argv = ["upgrade", "--install", "emptydry", str(tmp_path / "chart"), "--dry-run="]
    apiserver.clear()
    direct = subprocess.run(
        [str(helm), *argv, "-n", "emptydry"], env=env, capture_output=True, timeout=60
    )
    wrote = bool(writes(apiserver, dev))
    assert wrote == (direct.returncode == 0)
    assert wrote or helm.parent.name != "v1.31"  # the helm 3.17 case is the dangerous one
    apiserver.clear()
    refused = _run(env, *argv, "--kube-context", "prod")
    assert refused.returncode == 3, refused.stderr
    assert writes(apiserver, prod) == []


def test_symlink_mode_skips_itself_on_path(
    env: dict[str, str], apiserver: FakeAPIServer, helm: Path, tmp_path: Path
) -> None:
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    (shim_dir / "helm").symlink_to(KUBESAFE)
    environment = {k: v for k, v in env.items() if k != "KUBESAFE_HELM"}
    environment["PATH"] = f"{shim_dir}:{helm.parent}:/usr/bin:/bin"
    result = _run(environment, "list", program=[str(shim_dir / "helm")])
    assert result.returncode == 0, result.stderr
    refused = _run(
        environment, "--kube-context", "prod", "uninstall", "x", program=[str(shim_dir / "helm")]
    )
    assert refused.returncode == 3


def test_missing_helm_is_one_line_and_127(env: dict[str, str], tmp_path: Path) -> None:
    environment = {k: v for k, v in env.items() if k != "KUBESAFE_HELM"}
    for argv in (["list"], ["version"]):
        result = _run(environment, *argv)
        assert result.returncode == 127
        assert result.stderr.count("\n") == 1 and "no helm found" in result.stderr
