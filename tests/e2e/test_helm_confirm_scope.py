"""KUBESAFE_CONFIRM names where a write goes, not the context a server flag overrides.

``KUBESAFE_CONFIRM=dev`` (set for a dev deployment) must not approve a write that
``--kube-apiserver``/``HELM_KUBEAPISERVER`` (kubectl: ``--server``, ``--cluster``)
sends to the API server of the protected context ``prod``: only
``KUBESAFE_CONFIRM=prod`` does.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pexpect
import pytest

from tests.helm.realenv import KUBESAFE, make_chart, make_env, writes
from tests.support.fake_apiserver import FakeAPIServer
from tests.support.kubectl_binaries import helm_binary, kubectl_binary

pytestmark = pytest.mark.e2e

PROD, DEV = "scope-prod", "scope-dev"


@pytest.fixture
def env(tmp_path: Path, apiserver: FakeAPIServer) -> dict[str, str]:
    make_chart(tmp_path / "chart")
    environment = make_env(tmp_path, apiserver, helm_binary(37), PROD, DEV)
    environment["KUBESAFE_KUBECTL"] = str(kubectl_binary(33))
    return environment


def _no_tty(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBESAFE, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
    )


def _cases(url: str, chart: str) -> list[tuple[dict[str, str], list[str]]]:
    install = ["helm", "upgrade", "--install", "scoped", chart]
    return [
        ({}, [*install, "--kube-apiserver", url]),
        ({"HELM_KUBEAPISERVER": url}, install),
        ({}, ["kubectl", "--server", url, "create", "configmap", "scoped"]),
        ({}, ["kubectl", "--cluster", PROD, "create", "configmap", "scoped2"]),
    ]


def test_override_naming_the_overridden_context_does_not_approve(
    env: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    url = apiserver.cluster_url(PROD)
    for extra, argv in _cases(url, str(tmp_path / "chart")):
        apiserver.clear()
        refused = _no_tty({**env, **extra, "KUBESAFE_CONFIRM": "dev"}, *argv)
        assert refused.returncode == 3, (argv, refused.stderr)
        assert "KUBESAFE_CONFIRM=prod" in refused.stderr, refused.stderr
        assert writes(apiserver, PROD) == [], argv


def test_override_naming_the_protected_context_approves(
    env: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    url = apiserver.cluster_url(PROD)
    for extra, argv in _cases(url, str(tmp_path / "chart")):
        apiserver.clear()
        allowed = _no_tty({**env, **extra, "KUBESAFE_CONFIRM": "prod"}, *argv)
        assert allowed.returncode == 0, (argv, allowed.stderr)
        assert writes(apiserver, PROD) != [], argv


def test_explain_names_the_protected_context(env: dict[str, str], apiserver: FakeAPIServer) -> None:
    url = apiserver.cluster_url(PROD)
    result = subprocess.run(
        [KUBESAFE, "explain", "--helm", "--json", "--", "uninstall", "x", "--kube-apiserver", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data = json.loads(result.stdout)
    assert data["context"] == "dev" and data["confirm_with"] == "prod"


def test_a_user_part_in_the_server_url_still_reaches_prod(
    env: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    url = apiserver.cluster_url(PROD).replace("://", "://deployer@")
    argv = ["upgrade", "--install", "userpart", str(tmp_path / "chart"), "--kube-apiserver", url]
    apiserver.clear()
    direct = subprocess.run([env["KUBESAFE_HELM"], *argv], env=env, capture_output=True, timeout=60)
    assert direct.returncode == 0 and writes(apiserver, PROD) != []  # helm ignores the user part
    apiserver.clear()
    refused = _no_tty(env, "helm", "upgrade", "--install", "userpart2", *argv[3:])
    assert refused.returncode == 3, refused.stderr
    assert writes(apiserver, PROD) == []


def test_the_typed_confirmation_names_the_protected_context(
    env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    url = apiserver.cluster_url(PROD)
    command = f"{KUBESAFE} helm uninstall nothing --kube-apiserver {url}"
    child = pexpect.spawn("/bin/bash", ["-c", command], env=env, timeout=60, encoding="utf-8")
    child.expect("Type prod to proceed: ")
    child.sendline("dev")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
