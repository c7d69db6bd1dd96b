"""Per-terminal state: start, inherit, copy without credentials, rescue, sweep."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kubesafe.kubeconfig.parse import parse_bytes
from kubesafe.kubeconfig.resolve import Overrides, load_merged, resolve_merged
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
    "name",
    [
        *('quote"s', "it's", "colon: here", "#hash", "- dash", "yes", "123", "ünï", "a\\b"),
        *("nel\x85", "del\x7f", "ls\u2028", "ps\u2029", "tab\t", "emoji😀"),
    ],
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
    rescued = session.end_session(directory)
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


def test_rescued_files_are_announced_once(
    env: dict[str, str], kubectl33: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kubesafe.commands.shell import init

    directory, kubeconfig = session.start_session(_live_pid(), env)
    subprocess.run(
        [str(kubectl33), "config", "set-credentials", "eks-user", "--token=abc"],
        env={**env, "KUBECONFIG": kubeconfig},
        check=True,
        capture_output=True,
    )
    rescued = session.end_session(directory)
    init("bash", _live_pid(), env)
    assert f"saved entries another tool wrote for a closed terminal: {rescued}" in (
        capsys.readouterr().err
    )
    init("bash", _live_pid(), env)
    assert "saved entries" not in capsys.readouterr().err


def test_a_copied_context_follows_the_real_one(env: dict[str, str]) -> None:
    """The terminal owns only the namespace: protection added to the real context later,
    a new cluster or a deletion (by another terminal, an editor) reach the copy at the
    next prompt, and kubectl, the prompt and the decision agree on the real entry."""
    from kubesafe.shell import prompt
    from kubesafe.switching import Switcher

    directory, kubeconfig = session.start_session(_live_pid(), env)
    terminal = {**env, "KUBECONFIG": kubeconfig, SESSION_VARIABLE: directory}
    Switcher(terminal).use_namespace("team-b")
    real = Path(env["KUBECONFIG"])
    real.write_text(
        KUBECONFIG.replace(
            "context: {cluster: c1, user: u1, namespace: team-a}",
            "context: {cluster: c2, user: u1, namespace: team-a,"
            " extensions: [{name: kubesafe, extension: {environment: production}}]}",
        )
    )
    prompt.render("bash", terminal)
    target = resolve_merged(load_merged(Overrides(), terminal), Overrides(), terminal)
    assert (target.cluster, target.namespace) == ("c2", "team-b")
    assert target.context_extension == {"environment": "production"}
    assert "PROD dev:team-b" in prompt.compute_segment(terminal).text
    real.write_text(KUBECONFIG.replace("- name: dev\n", "- name: gone\n"))
    prompt.render("bash", terminal)
    own = parse_bytes(Path(session.session_kubeconfig(directory)).read_bytes())
    assert not own["contexts"]


def test_a_switch_under_sudo_keeps_the_terminal_file_its_owners(env: dict[str, str]) -> None:
    """`sudo -E kubesafe ctx prod` must not leave a root-owned file the user's own
    kubectl can no longer read."""
    from kubesafe.switching import Switcher

    directory, kubeconfig = session.start_session(_live_pid(), env)
    own = Path(session.session_kubeconfig(directory))
    os.chown(own, 4321, 4322)
    Switcher({**env, "KUBECONFIG": kubeconfig, SESSION_VARIABLE: directory}).use_context("prod")
    assert (own.stat().st_uid, own.stat().st_gid) == (4321, 4322)
    assert parse_bytes(own.read_bytes())["current_context"] == "prod"


def test_exec_of_the_shell_takes_over_its_directory(env: dict[str, str]) -> None:
    """`exec bash` keeps the PID and runs no exit hook: the new shell inherits the old
    directory's context and removes it, instead of leaving it until the terminal ends."""
    old_dir, old_kubeconfig = session.start_session(_live_pid(), env)
    old_file = session.session_kubeconfig(old_dir)
    state = session.read_session_file(old_file)
    state.current_context = "prod"
    session.write_session_file(old_file, state)
    exec_env = {**env, "KUBECONFIG": old_kubeconfig, SESSION_VARIABLE: old_dir}
    new_dir, _ = session.start_session(_live_pid(), exec_env)
    assert not os.path.exists(old_dir)
    assert session.read_session_file(session.session_kubeconfig(new_dir)).current_context == "prod"
    # A child shell (another PID) leaves its parent's directory alone.
    session.start_session(_live_pid() + 1, {**env, SESSION_VARIABLE: new_dir})
    assert os.path.isdir(new_dir)
