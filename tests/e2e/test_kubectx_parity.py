"""Without the shell integration, ``kubesafe ctx``/``ns`` change the kubeconfig as kubectx does.

Differential: Debian's kubectx/kubens (the bash versions, which drive real kubectl) run on
one copy of a kubeconfig, ``kubesafe ctx``/``ns`` on another; the parsed results must be
equal after every step. kubesafe must also keep what kubectx (through ``kubectl config``)
throws away: comments and the file's layout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kubesafe.kubeconfig.parse import parse_bytes
from tests.support.fake_apiserver import FakeAPIServer

pytestmark = pytest.mark.e2e

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
KUBECONFIG = """\
# team kubeconfig: keep this comment
apiVersion: v1
kind: Config
current-context: dev
contexts:
- name: dev      # the laptop cluster
  context:
    cluster: fake
    user: me
    namespace: team-a
- name: prod
  context:
    cluster: fake
    user: me
- name: "arn:aws:eks:eu-west-1:123456789012:cluster/shop"
  context:
    cluster: fake
    user: me
clusters:
- name: fake
  cluster:
    server: {server}
users:
- name: me
  user: {{}}
"""


def _tools() -> tuple[str, str]:
    kubectx, kubens = shutil.which("kubectx"), shutil.which("kubens")
    if kubectx is None or kubens is None:
        pytest.fail("kubectx is not installed; .ci/run installs Debian's kubectx")
    return kubectx, kubens


@pytest.fixture
def copies(tmp_path: Path, apiserver: FakeAPIServer, kubectl33: Path, isolated_home: Path):
    text = KUBECONFIG.format(server=apiserver.cluster_url("parity"))
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    for directory in (theirs, ours):
        directory.mkdir()
        (directory / "config").write_text(text)
        (directory / "config").chmod(0o600)
    base = {
        "PATH": f"{kubectl33.parent}:/usr/bin:/bin",
        "HOME": str(isolated_home),
        "XDG_STATE_HOME": str(isolated_home / ".local" / "state"),
        "XDG_CACHE_HOME": str(isolated_home / ".cache"),
        "KUBESAFE_KUBECTL": str(kubectl33),
        "KUBECTX_IGNORE_FZF": "1",
        "NO_COLOR": "1",
    }
    return (
        # Debian's kubectx keeps its previous context under $XDG_CACHE_HOME.
        {
            **base,
            "KUBECONFIG": str(theirs / "config"),
            "HOME": str(theirs),
            "XDG_CACHE_HOME": str(theirs),
        },
        {**base, "KUBECONFIG": str(ours / "config")},
    )


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def _state(env: dict[str, str]) -> tuple[str, dict[str, tuple[str, str, str]]]:
    data = parse_bytes(Path(env["KUBECONFIG"]).read_bytes())
    contexts = {name: value[:3] for name, value in data["contexts"].items()}
    return data["current_context"], contexts


CTX_STEPS: list[list[str]] = [
    ["prod"],
    ["-"],
    ["-"],
    ["arn:aws:eks:eu-west-1:123456789012:cluster/shop"],
    ["shop=arn:aws:eks:eu-west-1:123456789012:cluster/shop"],
    ["short=."],
    ["-c"],
    ["dev"],
    ["-d", "short"],
    ["-u"],
]


def test_ctx_matches_kubectx_step_by_step(copies: tuple[dict[str, str], dict[str, str]]) -> None:
    kubectx, _ = _tools()
    theirs, ours = copies
    for step in CTX_STEPS:
        expected = _run([kubectx, *step], theirs)
        got = _run([KUBESAFE, "ctx", *step], ours)
        assert got.returncode == expected.returncode, (step, expected.stderr, got.stderr)
        assert _state(ours) == _state(theirs), step
        if step == ["-c"]:
            assert got.stdout == expected.stdout
    listing_theirs = _run([kubectx], theirs).stdout.split()
    listing_ours = _run([KUBESAFE, "ctx"], ours).stdout.split()
    assert listing_ours == listing_theirs
    text = Path(ours["KUBECONFIG"]).read_text()
    assert "# team kubeconfig: keep this comment" in text
    assert "# the laptop cluster" in text


def test_ctx_errors_like_kubectx(copies: tuple[dict[str, str], dict[str, str]]) -> None:
    kubectx, _ = _tools()
    theirs, ours = copies
    for step in (["nope"], ["-d", "nope"], ["x=nope"]):
        expected = _run([kubectx, *step], theirs)
        got = _run([KUBESAFE, "ctx", *step], ours)
        assert expected.returncode != 0 and got.returncode != 0, step
        assert got.stderr.count("\n") == 1 and "Traceback" not in got.stderr
        assert _state(ours) == _state(theirs)
    # A fresh kubesafe state has no previous context, as kubectx has none.
    assert _run([KUBESAFE, "ctx", "-"], ours).returncode != 0


def test_ns_matches_kubens(
    copies: tuple[dict[str, str], dict[str, str]], apiserver: FakeAPIServer
) -> None:
    _, kubens = _tools()
    theirs, ours = copies
    apiserver.add_namespace("parity", "payments")
    for step in (["kube-system"], ["-"], ["-c"], ["kube-public"]):
        expected = _run([kubens, *step], theirs)
        got = _run([KUBESAFE, "ns", *step], ours)
        assert got.returncode == expected.returncode, (step, expected.stderr, got.stderr)
        assert _state(ours) == _state(theirs), step
        if step == ["-c"]:
            assert got.stdout == expected.stdout
    expected = _run([kubens, "does-not-exist"], theirs)
    got = _run([KUBESAFE, "ns", "does-not-exist"], ours)
    assert expected.returncode != 0 and got.returncode != 0
    assert _state(ours) == _state(theirs)
    assert sorted(_run([KUBESAFE, "ns"], ours).stdout.split()) == sorted(
        _run([kubens], theirs).stdout.split()
    )
