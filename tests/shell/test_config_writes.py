"""``kubectl config`` through the shim in an integrated terminal, with real kubectl."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubesafe.kubeconfig.parse import parse_bytes
from kubesafe.kubectl.args import parse
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


def _shadow_dev(env: dict[str, str]) -> Path:
    own, _ = _files(env)
    shadow = session.ShadowContext("c1", "u1", "team", None)
    session.write_session_file(str(own), session.SessionFile("dev", {"dev": shadow}))
    return own


def test_rename_of_a_namespace_switched_context_renames_the_real_one(
    terminal: dict[str, str],
) -> None:
    # kubectl writes to the first file that defines the context: without care only
    # this terminal's copy was renamed, and the rename vanished with the shell.
    own = _shadow_dev(terminal)
    _, real = _files(terminal)
    _kubectl(terminal, "config", "rename-context", "dev", "dev2")
    assert set(parse_bytes(real.read_bytes())["contexts"]) == {"dev2"}
    mine = parse_bytes(own.read_bytes())
    assert mine["current_context"] == "dev2"
    assert not mine["contexts"]


def test_delete_of_a_namespace_switched_context_deletes_the_real_one(
    terminal: dict[str, str],
) -> None:
    own = _shadow_dev(terminal)
    _, real = _files(terminal)
    _kubectl(terminal, "config", "set-context", "other", "--cluster=c1", "--user=u1")
    _kubectl(terminal, "config", "delete-context", "dev")
    assert set(parse_bytes(real.read_bytes())["contexts"]) == {"other"}
    assert not parse_bytes(own.read_bytes())["contexts"]


def test_set_context_cluster_of_a_namespace_switched_context_edits_the_real_one(
    terminal: dict[str, str],
) -> None:
    own = _shadow_dev(terminal)
    _, real = _files(terminal)
    _kubectl(terminal, "config", "set-context", "dev", "--cluster=c2")
    assert parse_bytes(real.read_bytes())["contexts"]["dev"][0] == "c2"
    # The terminal keeps its namespace; its copy follows the real entry at the next
    # prompt (session.sync_shadows).
    assert parse_bytes(own.read_bytes())["contexts"]["dev"][2] == "team"


def test_set_context_current_cluster_of_a_namespace_switched_context_edits_the_real_one(
    terminal: dict[str, str],
) -> None:
    own = _shadow_dev(terminal)
    _, real = _files(terminal)
    _kubectl(terminal, "config", "set-context", "--current", "--cluster=c2")
    assert parse_bytes(real.read_bytes())["contexts"]["dev"][0] == "c2"
    mine = parse_bytes(own.read_bytes())
    assert mine["current_context"] == "dev"
    assert not mine["contexts"]


def test_completing_a_delete_leaves_the_copy(terminal: dict[str, str]) -> None:
    own = _shadow_dev(terminal)
    before = own.read_bytes()
    for args in (
        ["__complete", "config", "delete-context", "dev"],
        ["__complete", "config", "rename-context", "dev", ""],
        ["__complete", "config", "set-context", "--current", "--cluster", ""],
    ):
        assert kubeconfig_without_session(parse(args).readings, terminal) is None
    assert own.read_bytes() == before
