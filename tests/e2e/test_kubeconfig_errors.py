"""A malformed kubeconfig: the line number and wording real kubectl reports, one wording everywhere.

kubectl (go-yaml v2) counts some lines from 0 and some from 1, and names no line when the one it
picks is 0; a user comparing kubesafe's refusal with ``kubectl config view`` must see the same
line. Every case runs real kubectl 1.31, 1.33 and 1.37.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.kubectl_binaries import kubectl_binary

pytestmark = pytest.mark.e2e

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")

MALFORMED = {
    "unclosed flow mapping": 'apiVersion: v1\nclusters:\n- name: a\n  cluster: {server: "x"\n',
    "unclosed flow sequence": "apiVersion: v1\nkind: Config\ncontexts: [a, b\n",
    "bad indentation": "apiVersion: v1\nclusters:\n- name: a\n  cluster:\n    server: x\n   b: y\n",
    "sequence after a mapping": "a: b\n- c\n",
    "sequence item at the wrong level": (
        "apiVersion: v1\nclusters:\n- name: a\n  cluster:\n    server: x\n  - name: b\n"
    ),
    "dedent": "a:\n  b: 1\n c: 2\n",
    "open bracket at the end": "\n\n\nkey: [\n",
    "tab": "apiVersion: v1\nkind: Config\n\tfoo: 1\n",
    "unterminated quote": 'apiVersion: v1\nkind: Config\nusers:\n- name: "me\n',
    "character that starts no token": "apiVersion: v1\nkind: Config\nx: @foo\n",
    "mapping value in a scalar": "apiVersion: v1\nkind: Config\ncurrent-context: a: b\n",
    "error on the first line": "a: b: c\n",
    "unclosed flow on the first line": "{a: 1\n",
    "undefined alias": "apiVersion: v1\nkind: Config\ncurrent-context: *nope\n",
    "CRLF line ends": 'apiVersion: v1\r\nkind: Config\r\nx: "a\r\n\r\n',
}


def _kubectl_problem(kubectl: Path, path: Path) -> str:
    """What kubectl says is wrong with the file, after its own prefixes."""
    result = subprocess.run(
        [str(kubectl), "config", "view", "--kubeconfig", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"HOME": str(path.parent), "PATH": os.defpath},
    )
    assert result.returncode != 0
    line = result.stderr.strip().splitlines()[0]
    prefix = f'error: error loading config file "{path}": yaml: '
    assert line.startswith(prefix), line
    return line.removeprefix(prefix)


@pytest.mark.parametrize("minor", [31, 33, 37])
def test_yaml_errors_carry_kubectls_line_and_words(tmp_path: Path, minor: int) -> None:
    from kubesafe.kubeconfig.parse import KubeconfigError, parse_bytes

    kubectl = kubectl_binary(minor)
    differences = {}
    for name, text in MALFORMED.items():
        path = tmp_path / f"{name.replace(' ', '-')}.yaml"
        path.write_bytes(text.encode())
        expected = _kubectl_problem(kubectl, path)
        try:
            parse_bytes(text.encode())
        except KubeconfigError as exc:
            ours = str(exc)
        else:
            ours = "(parsed)"
        if ours != expected:
            differences[name] = (expected, ours)
    assert differences == {}


def _run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBESAFE, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_one_wording_in_the_shim_explain_ctx_and_doctor(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(MALFORMED["unclosed flow mapping"])
    path.chmod(0o600)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "HOME": str(home),
        "PATH": str(tmp_path / "bin"),
        "KUBECONFIG": str(path),
        "KUBESAFE_CONFIG": str(tmp_path / "policy.yaml"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".state"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "SHELL": "/bin/sh",
    }
    wording = f"kubeconfig {path}: line 4: did not find expected ',' or '}}'"
    refused = _run(env, "kubectl", "delete", "pod", "web-0")
    assert refused.returncode == 3
    assert refused.stderr == (
        f"kubesafe: refusing to run kubectl: cannot tell where this write goes: {wording}\n"
    )
    explained = _run(env, "explain", "--", "delete", "pod", "web-0")
    assert f"target:      cannot be resolved: {wording}\n" in explained.stdout
    assert _run(env, "ctx").stderr == f"kubesafe: {wording}\n"
    doctor = _run(env, "doctor")
    assert f"FAIL  kubeconfig: {wording}\n" in doctor.stdout
    assert f"fix: edit {path} at line 4, then check: kubectl config view" in doctor.stdout
