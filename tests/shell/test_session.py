"""Per-terminal state: start, inherit, copy without credentials, rescue, sweep."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kubesafe.kubeconfig import Overrides, load_merged, resolve_merged
from kubesafe.kubeconfig_parse import parse_bytes
from kubesafe.shell import session
from kubesafe.shell.names import SESSION_VARIABLE
from tests.support.kubectl_binaries import kubectl_binary

KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: dev
contexts:
- name: dev
  context: {cluster: c1, user: u1, namespace: team-a}
- name: prod
  context:
    cluster: c2
    user: u1
    extensions:
    - name: kubesafe
      extension: {environment: production, level: typed}
clusters:
- {name: c1, cluster: {server: "https://127.0.0.1:1"}}
- {name: c2, cluster: {server: "https://127.0.0.1:2"}}
users:
- {name: u1, user: {token: secret-token}}
"""


@pytest.fixture(scope="module")
def kubectl33() -> Path:
    return kubectl_binary(33)


@pytest.fixture
def env(tmp_path: Path, isolated_home: Path) -> dict[str, str]:
    (tmp_path / "config").write_text(KUBECONFIG)
    return {**os.environ, "KUBECONFIG": str(tmp_path / "config")}


def _live_pid() -> int:
    return os.getpid()


def test_start_pins_the_current_context_and_copies_no_credentials(env: dict[str, str]) -> None:
    directory, kubeconfig = session.start_session(_live_pid(), env)
    own = session.session_kubeconfig(directory)
    assert kubeconfig.split(os.pathsep) == [own, env["KUBECONFIG"]]
    assert oct(os.stat(own).st_mode & 0o777) == "0o600"
    assert oct(os.stat(directory).st_mode & 0o777) == "0o700"
    text = Path(own).read_text()
    assert "secret-token" not in text and "server" not in text
    assert parse_bytes(text.encode())["current_context"] == "dev"
    # Changing the global current context later does not move this terminal.
    Path(env["KUBECONFIG"]).write_text(
        KUBECONFIG.replace("current-context: dev", "current-context: prod")
    )
    merged = load_merged(Overrides(), {**env, "KUBECONFIG": kubeconfig})
    assert merged.current_context == "dev"


def test_unset_kubeconfig_means_the_default_file(env: dict[str, str], isolated_home: Path) -> None:
    del env["KUBECONFIG"]
    env["HOME"] = str(isolated_home)
    _, kubeconfig = session.start_session(_live_pid(), env)
    assert kubeconfig.split(os.pathsep)[1] == str(isolated_home / ".kube" / "config")


def test_nested_shell_inherits_the_terminal_not_the_global_state(env: dict[str, str]) -> None:
    parent_dir, parent_kubeconfig = session.start_session(_live_pid(), env)
    parent_file = session.session_kubeconfig(parent_dir)
    state = session.read_session_file(parent_file)
    state.current_context = "prod"
    state.contexts["prod"] = session.ShadowContext("c2", "u1", "payments", {"level": "typed"})
    session.write_session_file(parent_file, state)
    child_env = {**env, "KUBECONFIG": parent_kubeconfig, SESSION_VARIABLE: parent_dir}
    _child_dir, child_kubeconfig = session.start_session(_live_pid(), child_env)
    assert parent_file not in child_kubeconfig.split(os.pathsep)
    target = resolve_merged(
        load_merged(Overrides(), {**env, "KUBECONFIG": child_kubeconfig}),
        Overrides(),
        env,
    )
    assert (target.context, target.namespace) == ("prod", "payments")


def test_shadow_keeps_the_kubesafe_extension(env: dict[str, str]) -> None:
    """Overriding a namespace must not drop protection carried by the context itself."""
    directory, kubeconfig = session.start_session(_live_pid(), env)
    own = session.session_kubeconfig(directory)
    merged = load_merged(Overrides(), env)
    cluster, user, _, extension = merged.contexts["prod"]
    state = session.read_session_file(own)
    state.contexts["prod"] = session.ShadowContext(cluster, user, "other", extension)
    state.current_context = "prod"
    session.write_session_file(own, state)
    target = resolve_merged(
        load_merged(Overrides(), {**env, "KUBECONFIG": kubeconfig}), Overrides(), env
    )
    assert target.namespace == "other"
    assert target.context_extension == {"environment": "production", "level": "typed"}


@pytest.mark.parametrize(
    "name", ['quote"s', "it's", "colon: here", "#hash", "- dash", "yes", "123", "ünï", "a\\b"]
)
def test_written_file_round_trips_awkward_names(env: dict[str, str], name: str) -> None:
    directory, _ = session.start_session(_live_pid(), env)
    own = session.session_kubeconfig(directory)
    state = session.SessionFile(name, {name: session.ShadowContext("c", "u", name, None)})
    session.write_session_file(own, state)
    again = session.read_session_file(own)
    assert again.current_context == name
    assert again.contexts[name].namespace == name


def test_kubectl_readable(env: dict[str, str], kubectl33: Path) -> None:
    """Real kubectl accepts the file and resolves through it."""
    directory, kubeconfig = session.start_session(_live_pid(), env)
    own = session.session_kubeconfig(directory)
    state = session.read_session_file(own)
    state.contexts["dev"] = session.ShadowContext("c1", "u1", "from-terminal", None)
    session.write_session_file(own, state)
    result = subprocess.run(
        [str(kubectl33), "config", "view", "--minify", "-o", "jsonpath={..namespace}"],
        env={**env, "KUBECONFIG": kubeconfig},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == "from-terminal"


def test_end_rescues_entries_other_tools_wrote(env: dict[str, str], kubectl33: Path) -> None:
    directory, kubeconfig = session.start_session(_live_pid(), env)
    # What `aws eks update-kubeconfig` or `kubectl config set-cluster` without the shim
    # would do in this terminal: write a new cluster into the first file.
    subprocess.run(
        [str(kubectl33), "config", "set-cluster", "new-eks", "--server=https://10.0.0.1"],
        env={**env, "KUBECONFIG": kubeconfig},
        check=True,
        capture_output=True,
    )
    with pytest.raises(session.SessionError, match="cluster new-eks"):
        session.write_session_file(
            session.session_kubeconfig(directory),
            session.read_session_file(session.session_kubeconfig(directory)),
        )
    rescued = session.end_session(directory, env)
    assert rescued is not None and "new-eks" in Path(rescued).read_text()
    assert not Path(directory).exists()


def test_sweep_removes_dead_shells_only(env: dict[str, str]) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    dead_dir, _ = session.start_session(dead.pid, env)
    live_dir, _ = session.start_session(_live_pid(), env)
    (Path(session.sessions_root(env)) / "not-a-session").mkdir()
    session.sweep(env)
    assert not Path(dead_dir).exists()
    assert Path(live_dir).exists()
    assert (Path(session.sessions_root(env)) / "not-a-session").exists()


def test_active_only_while_first_in_kubeconfig(env: dict[str, str]) -> None:
    directory, kubeconfig = session.start_session(_live_pid(), env)
    loaded = {**env, "KUBECONFIG": kubeconfig, SESSION_VARIABLE: directory}
    assert session.active_session(loaded) == directory
    assert session.active_session({**loaded, "KUBECONFIG": env["KUBECONFIG"]}) is None
    assert session.active_session({**env, "KUBECONFIG": kubeconfig}) is None


def test_rescued_files_are_announced_once(env: dict[str, str], kubectl33: Path, capsys) -> None:
    from kubesafe.commands.shell import init

    directory, kubeconfig = session.start_session(_live_pid(), env)
    subprocess.run(
        [str(kubectl33), "config", "set-credentials", "eks-user", "--token=abc"],
        env={**env, "KUBECONFIG": kubeconfig},
        check=True,
        capture_output=True,
    )
    rescued = session.end_session(directory, env)
    init("bash", _live_pid(), env)
    assert f"saved entries another tool wrote for a closed terminal: {rescued}" in (
        capsys.readouterr().err
    )
    init("bash", _live_pid(), env)
    assert "saved entries" not in capsys.readouterr().err
