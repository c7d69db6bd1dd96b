"""``kubesafe ctx``/``ns`` in-process: per-terminal and global behaviour, errors, notices."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kubesafe.cli import cli
from kubesafe.commands import switch
from kubesafe.commands.protect import CommandError
from kubesafe.kubeconfig.parse import parse_bytes
from kubesafe.shell import session
from kubesafe.shell.names import SESSION_VARIABLE

KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: dev
contexts:
- name: dev
  context: {cluster: c1, user: u, namespace: team-a}
- name: prod
  context: {cluster: c2, user: u}
- name: sneaky
  context: {cluster: c3, user: u}
- name: other
  context: {cluster: c1, user: u}
clusters:
- {name: c1, cluster: {server: "https://127.0.0.1:1"}}
- {name: c2, cluster: {server: "https://127.0.0.1:2"}}
- {name: c3, cluster: {server: "https://127.0.0.1:2/"}}
users:
- {name: u, user: {}}
"""


@pytest.fixture
def files(tmp_path: Path, isolated_home: Path) -> dict[str, str]:
    (tmp_path / "config").write_text(KUBECONFIG)
    (tmp_path / "policy.yaml").write_text("rules:\n  - context: prod\n")
    return {
        **os.environ,
        "KUBECONFIG": str(tmp_path / "config"),
        "KUBESAFE_CONFIG": str(tmp_path / "policy.yaml"),
    }


@pytest.fixture
def terminal(files: dict[str, str]) -> dict[str, str]:
    directory, kubeconfig = session.start_session(os.getpid(), files)
    return {**files, "KUBECONFIG": kubeconfig, SESSION_VARIABLE: directory}


def _real(env: dict[str, str]) -> dict[str, object]:
    path = env["KUBECONFIG"].split(os.pathsep)[-1]
    return dict(parse_bytes(Path(path).read_bytes()))


def _ctx(env: dict[str, str], *args: str, **flags: bool) -> str | None:
    options = {"current": False, "delete": False, "unset": False, "global_": False, **flags}
    return switch.ctx(args, env=env, **options)


def _ns(env: dict[str, str], *args: str, **flags: bool) -> str | None:
    options = {"current": False, "unset": False, "force": True, "global_": False, **flags}
    return switch.ns(args, env=env, **options)


def test_without_integration_the_kubeconfig_changes(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _ctx(files, "prod")
    assert _real(files)["current_context"] == "prod"
    err = capsys.readouterr().err
    assert 'Switched to context "prod".' in err
    assert "in this terminal" not in err
    # In plain words, not the policy file's level names.
    assert "prod (default) is PRODUCTION: writes ask y/N, deletes need 'prod' typed" in err
    _ctx(files, "-")
    assert _real(files)["current_context"] == "dev"


def test_in_a_terminal_only_the_terminal_changes(
    terminal: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _ctx(terminal, "prod")
    assert _real(terminal)["current_context"] == "dev"
    assert _ctx(terminal, current=True) == "prod"
    assert "in this terminal" in capsys.readouterr().err
    _ctx(terminal, "other", global_=True)
    assert _real(terminal)["current_context"] == "other"
    assert _ctx(terminal, current=True) == "other"


def test_namespace_per_terminal_and_back(terminal: dict[str, str]) -> None:
    _ns(terminal, "payments")
    assert _ns(terminal, current=True) == "payments"
    contexts = _real(terminal)["contexts"]
    assert isinstance(contexts, dict) and contexts["dev"][2] == "team-a"
    _ns(terminal, "-")
    assert _ns(terminal, current=True) == "team-a"
    _ns(terminal, "x")
    _ns(terminal, unset=True)
    assert _ns(terminal, current=True) == "team-a"
    _ns(terminal, "shop", global_=True)
    assert _ns(terminal, current=True) == "shop"
    contexts = _real(terminal)["contexts"]
    assert isinstance(contexts, dict) and contexts["dev"][2] == "shop"


def test_unset_in_a_terminal_refuses_kubectl(terminal: dict[str, str]) -> None:
    _ctx(terminal, unset=True)
    assert _real(terminal)["current_context"] == "dev"
    with pytest.raises(CommandError, match="current-context is not set"):
        _ctx(terminal, current=True)
    from kubesafe.kubectl.plan import make_plan

    plan = make_plan(["delete", "pod", "x"], terminal)
    assert plan.decision != "allow"


def test_rename_and_delete_follow_into_the_terminal(terminal: dict[str, str]) -> None:
    _ctx(terminal, "other")
    _ctx(terminal, "renamed=.")
    assert _ctx(terminal, current=True) == "renamed"
    contexts = _real(terminal)["contexts"]
    assert isinstance(contexts, dict) and "renamed" in contexts and "other" not in contexts
    _ctx(terminal, "renamed", delete=True)
    contexts = _real(terminal)["contexts"]
    assert isinstance(contexts, dict) and "renamed" not in contexts


@pytest.mark.parametrize(
    ("args", "flags", "message"),
    [
        (("nope",), {}, 'no context exists with the name: "nope"'),
        (("a", "b"), {}, "give one context name"),
        (("x",), {"current": True}, "-c takes no arguments"),
        ((), {"current": True, "unset": True}, "use only one of"),
        ((), {"delete": True}, "-d needs at least one"),
        (("=x",), {}, "rename with NEW=OLD"),
        (("-",), {}, "no previous context"),
        (("dev=prod",), {}, 'context "dev" already exists'),
    ],
)
def test_ctx_errors_are_one_line(
    files: dict[str, str], args: tuple[str, ...], flags: dict[str, bool], message: str
) -> None:
    with pytest.raises(CommandError, match=message) as caught:
        _ctx(files, *args, **flags)
    assert "\n" not in str(caught.value)
    assert _real(files)["current_context"] == "dev"


def test_cli_reports_errors_with_exit_status_1(files: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["ctx", "nope"], env=files)
    assert result.exit_code == 1
    assert result.output.strip() == 'kubesafe: no context exists with the name: "nope"'


def test_protected_endpoints_are_labelled(files: dict[str, str]) -> None:
    """sneaky points at prod's API server (another spelling of the URL): labelled too."""
    labels = switch.context_environments(files)
    assert labels == {"prod": "production", "sneaky": "production"}


def test_list_plain_when_piped(files: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["ctx"], env=files)
    assert result.output.split() == ["dev", "other", "prod", "sneaky"]


def test_broken_kubeconfig_is_one_line(files: dict[str, str]) -> None:
    Path(files["KUBECONFIG"]).write_text("contexts: [\n")
    with pytest.raises(CommandError) as caught:
        _ctx(files, "prod")
    assert "\n" not in str(caught.value) and "line" in str(caught.value)


def test_switch_never_touches_credentials(terminal: dict[str, str]) -> None:
    _ns(terminal, "payments")
    own = terminal["KUBECONFIG"].split(os.pathsep)[0]
    assert (
        "users" not in parse_bytes(Path(own).read_bytes())
        or not parse_bytes(Path(own).read_bytes())["users"]
    )
    assert sys.platform == "win32" or oct(os.stat(own).st_mode & 0o777) == "0o600"


def test_deleting_the_terminals_context_does_not_fall_through_to_the_global_one(
    terminal: dict[str, str],
) -> None:
    """As after `kubectx -d .`, kubectl must refuse until a context is picked, not move
    this terminal to whatever the kubeconfig's current context is (here prod)."""
    _ctx(terminal, "other")
    real = Path(terminal["KUBECONFIG"].split(os.pathsep)[-1])
    real.write_text(KUBECONFIG.replace("current-context: dev", "current-context: prod"))
    _ctx(terminal, ".", delete=True)
    with pytest.raises(CommandError, match="current-context is not set"):
        _ctx(terminal, current=True)
    assert _real(terminal)["current_context"] == "prod"


def test_ctx_and_ns_see_the_copy_follow_the_real_context(terminal: dict[str, str]) -> None:
    """`kubesafe ns` checks the namespace on the cluster kubectl will use: the copy
    made by an earlier switch takes the real entry's new cluster first."""
    _ns(terminal, "payments")
    real = Path(terminal["KUBECONFIG"].split(os.pathsep)[-1])
    real.write_text(
        KUBECONFIG.replace("{cluster: c1, user: u, namespace: team-a}", "{cluster: c2, user: u}")
    )
    from kubesafe.switching import Switcher

    entry = Switcher(terminal).merged().contexts["dev"]
    assert (entry[0], entry[2]) == ("c2", "payments")


def test_single_file_switch_checks_the_name_in_the_same_parse(files: dict[str, str]) -> None:
    """The one-parse path (one kubeconfig, no terminal state) refuses unknown names too."""
    before = Path(files["KUBECONFIG"]).read_bytes()
    with pytest.raises(CommandError, match='no context exists with the name: "nope"'):
        _ctx(files, "nope")
    assert Path(files["KUBECONFIG"]).read_bytes() == before
    # A dangling current-context is not "already there".
    Path(files["KUBECONFIG"]).write_text(
        KUBECONFIG.replace("current-context: dev", "current-context: gone")
    )
    with pytest.raises(CommandError, match='no context exists with the name: "gone"'):
        _ctx(files, "gone")
    _ctx(files, "prod")
    assert _real(files)["current_context"] == "prod"
    with pytest.raises(CommandError, match='"gone"'):  # the previous one no longer exists
        _ctx(files, "-")


def test_set_current_context_reports_what_it_found(tmp_path: Path) -> None:
    from kubesafe.kubeconfig.write import KubeconfigWriteError, set_current_context

    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    switched = set_current_context(str(path), "prod", must_define=True)
    assert switched.previous == "dev"
    assert switched.data is not None and switched.data["current_context"] == "prod"
    assert set_current_context(str(path), "prod").data is None  # nothing to change
    with pytest.raises(KubeconfigWriteError):
        set_current_context(str(path), "absent", must_define=True)
    assert parse_bytes(path.read_bytes())["current_context"] == "prod"


def test_a_missing_kubeconfig_is_named_when_it_explains_an_empty_list(
    files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "typo-config")
    env = {**files, "KUBECONFIG": missing}
    assert not _ctx(env)
    assert capsys.readouterr().err == f"warning: kubeconfig file not found: {missing}\n"
    with pytest.raises(CommandError, match='no context exists with the name: "dev"'):
        _ctx(env, "dev")
    assert f"warning: kubeconfig file not found: {missing}\n" in capsys.readouterr().err
    with pytest.raises(CommandError, match="current-context is not set"):
        _ns(env)
    assert missing in capsys.readouterr().err


def test_a_missing_file_beside_real_ones_is_skipped_silently_as_kubectl_does(
    files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "gone")
    env = {**files, "KUBECONFIG": os.pathsep.join([missing, files["KUBECONFIG"]])}
    assert _ctx(env) == "dev\nother\nprod\nsneaky"
    _ctx(env, "prod")
    err = capsys.readouterr().err
    assert "warning" not in err and 'Switched to context "prod"' in err
    # ...but named when a context cannot be found: it may be in the missing file.
    with pytest.raises(CommandError):
        _ctx(env, "staging")
    assert f"warning: kubeconfig file not found: {missing}" in capsys.readouterr().err


def test_a_missing_kubeconfig_is_named_in_a_terminal_too(
    isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nothing-here")
    env = {**os.environ, "KUBECONFIG": missing, "KUBESAFE_CONFIG": str(tmp_path / "p.yaml")}
    directory, kubeconfig = session.start_session(os.getpid(), env)
    terminal = {**env, "KUBECONFIG": kubeconfig, SESSION_VARIABLE: directory}
    assert not _ctx(terminal)
    err = capsys.readouterr().err
    # The terminal's own file exists; the user's file is the one to name.
    assert err == f"warning: kubeconfig file not found: {missing}\n"


def test_cli_ctx_with_a_missing_kubeconfig_exits_0_with_the_warning(
    files: dict[str, str], tmp_path: Path
) -> None:
    missing = str(tmp_path / "typo-config")
    result = CliRunner().invoke(cli, ["ctx"], env={"KUBECONFIG": missing})
    assert result.exit_code == 0
    assert result.output == f"warning: kubeconfig file not found: {missing}\n"


@pytest.mark.parametrize("where", ["files", "terminal"])
def test_messages_keep_kubectx_wording_whole(
    where: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    """kubectx 0.9.5's sentences, period included; kubesafe's scope note comes after them."""
    env = request.getfixturevalue(where)
    scope = " (in this terminal)" if where == "terminal" else ""
    _ctx(env, "prod")
    _ns(env, "payments")
    _ctx(env, unset=True)
    _ctx(env, "dev")
    _ctx(env, "renamed=other")
    _ctx(env, "renamed", delete=True)
    _ctx(env, ".", delete=True)
    lines = capsys.readouterr().err.splitlines()
    for expected in (
        f'Switched to context "prod".{scope}',
        f'Context "prod" modified.{scope}',
        'Active namespace is "payments".',
        f"Active context unset for kubectl.{scope}",
        "Context other renamed to renamed.",
        "Deleted context renamed.",
        'warning: You deleted the current context. Use "kubesafe ctx" to select a new context.',
        "Deleted context dev.",
    ):
        assert expected in lines, (expected, lines)


def test_previous_namespace_and_rename_errors_use_kubens_and_kubectx_words(
    files: dict[str, str],
) -> None:
    with pytest.raises(
        CommandError, match=r"^No previous namespace found for current context \(dev\)$"
    ):
        _ns(files, "-")
    with pytest.raises(CommandError, match=r"^context \"nope\" not found, can't rename it$"):
        _ctx(files, "x=nope")
