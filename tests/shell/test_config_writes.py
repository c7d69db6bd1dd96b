"""``kubectl config`` through the shim in an integrated terminal, with real kubectl."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubesafe.kubeconfig_parse import parse_bytes
from kubesafe.kubectl_args import parse
from kubesafe.shell import session
from kubesafe.shell.config_writes import kubeconfig_without_session
from kubesafe.shell.names import SESSION_VARIABLE
from tests.support.kubectl_binaries import kubectl_binary

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: dev
contexts:
- {name: dev, context: {cluster: c1, user: u1}}
clusters:
- {name: c1, cluster: {server: "https://127.0.0.1:1"}}
users:
- {name: u1, user: {token: t}}
"""


@pytest.fixture
def terminal(tmp_path: Path, isolated_home: Path) -> dict[str, str]:
    real = tmp_path / "config"
    real.write_text(KUBECONFIG)
    base = {**os.environ, "KUBECONFIG": str(real)}
    directory, kubeconfig = session.start_session(os.getpid(), base)
    return {
        **base,
        "KUBECONFIG": kubeconfig,
        SESSION_VARIABLE: directory,
        "KUBESAFE_KUBECTL": str(kubectl_binary(33)),
    }


def _files(env: dict[str, str]) -> tuple[Path, Path]:
    own, real = env["KUBECONFIG"].split(os.pathsep)
    return Path(own), Path(real)


def _kubectl(env: dict[str, str], *args: str) -> None:
    subprocess.run([KUBESAFE, "kubectl", *args], env=env, check=True, capture_output=True)


@pytest.mark.parametrize(
    "args",
    [
        ("config", "set-cluster", "new", "--server=https://10.0.0.1"),
        ("config", "set-credentials", "someone", "--token=abc"),
        ("config", "set-context", "new-ctx", "--cluster=c1", "--user=u1"),
        ("config", "set", "clusters.c9.server", "https://10.0.0.9"),
    ],
)
def test_new_entries_go_to_the_real_file(terminal: dict[str, str], args: tuple[str, ...]) -> None:
    own, real = _files(terminal)
    before = own.read_bytes()
    _kubectl(terminal, *args)
    assert own.read_bytes() == before
    data = parse_bytes(real.read_bytes())
    created = args[2].split(".")[1] if args[1] == "set" else args[2]
    assert created in {*data["clusters"], *data["users"], *data["contexts"]}


def test_use_context_stays_in_the_terminal(terminal: dict[str, str]) -> None:
    own, real = _files(terminal)
    _kubectl(terminal, "config", "set-context", "other", "--cluster=c1", "--user=u1")
    _kubectl(terminal, "config", "use-context", "other")
    assert parse_bytes(own.read_bytes())["current_context"] == "other"
    assert parse_bytes(real.read_bytes())["current_context"] == "dev"


def test_existing_entries_are_left_to_kubectl(terminal: dict[str, str]) -> None:
    readings = parse(["config", "set-context", "dev", "--namespace=x"]).readings
    assert kubeconfig_without_session(readings, terminal) is None
    readings = parse(["config", "set-context", "--current", "--namespace=x"]).readings
    assert kubeconfig_without_session(readings, terminal) is None
    readings = parse(["config", "unset", "current-context"]).readings
    assert kubeconfig_without_session(readings, terminal) is None
    readings = parse(["--kubeconfig=/x", "config", "set-cluster", "n"]).readings
    assert kubeconfig_without_session(readings, terminal) is None


def test_outside_a_terminal_nothing_changes(terminal: dict[str, str]) -> None:
    readings = parse(["config", "set-cluster", "new"]).readings
    stepped_out = {**terminal, "KUBECONFIG": _files(terminal)[1].as_posix()}
    assert kubeconfig_without_session(readings, stepped_out) is None
    no_session = {k: v for k, v in terminal.items() if k != SESSION_VARIABLE}
    assert kubeconfig_without_session(readings, no_session) is None
