"""docs/troubleshooting.md quotes real messages: produce them and find them in the page.

The page wraps long messages and writes paths under /home/me; the comparison ignores line
breaks and puts /home/me where the test's home directory is.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kubesafe.approval import _not_confirmed
from kubesafe.confirm import Question

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
PAGE = Path(__file__).resolve().parent.parent / "docs" / "troubleshooting.md"


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home" / "me"
    (home / ".kube").mkdir(parents=True)
    return home


def _run(home: Path, env: dict[str, str], *argv: str) -> str:
    result = subprocess.run(
        [KUBESAFE, *argv],
        env={
            "HOME": str(home),
            "PATH": str(home / "bin"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode != 0
    return result.stderr.replace(str(home), "/home/me")


def _quoted(message: str) -> bool:
    return _flat(message) in _flat(PAGE.read_text(encoding="utf-8"))


def test_broken_policy_message(home: Path) -> None:
    policy = home / ".config" / "kubesafe" / "config.yaml"
    policy.parent.mkdir(parents=True)
    policy.write_text("rules:\n  - context: prod\n    level: hard\n")
    message = _run(home, {}, "policy")
    assert _quoted(message), message


@pytest.mark.parametrize(
    "kubeconfig",
    [
        'apiVersion: v1\nclusters:\n- name: a\n  cluster: {server: "x"\n',
        "apiVersion: v1\ncontexts: {}\n",
    ],
)
def test_kubeconfig_messages(home: Path, kubeconfig: str) -> None:
    (home / ".kube" / "config").write_text(kubeconfig)
    message = _run(home, {}, "kubectl", "delete", "pod", "web-0")
    assert _quoted(message), message


def test_missing_kubeconfig_file_message(home: Path) -> None:
    missing = home / ".kube" / "cluster-a.yaml"
    message = _run(home, {"KUBECONFIG": str(missing)}, "ctx", "dev")
    assert _quoted(message), message


@pytest.mark.parametrize("level", ["typed", "confirm"])
def test_not_confirmed_messages(level: str) -> None:
    question = Question(
        "production", "prod", "p", "https://x", "default", (), "write", level, "prod"
    )
    assert _quoted(f"kubesafe: {_not_confirmed(question, 'kubectl')}")
