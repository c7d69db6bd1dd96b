"""The terminal's kubeconfig sends protected contexts to its guard; kubesafe sees through it.

Unit level (no guard process): which contexts get guard entries, that the file holds
no real credential, that resolution maps a guard entry back to the real cluster, user
and server only for the terminal's own file, that the prompt's sync leaves the
entries alone, the ``guard: off`` policy switch, and the shim's direct kubeconfig.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubesafe.guard.layout import context_id
from kubesafe.kubeconfig.parse import parse_bytes
from kubesafe.kubeconfig.resolve import Overrides, load_merged, resolve_merged
from kubesafe.shell import session
from kubesafe.shell.direct import direct_kubeconfig
from kubesafe.shell.names import SESSION_VARIABLE

KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: prod
contexts:
- name: dev
  context: {cluster: c-dev, user: u-dev, namespace: team-a}
- name: prod
  context: {cluster: c-prod, user: u-prod, namespace: shop}
- name: stage
  context: {cluster: c-stage, user: u-dev}
clusters:
- {name: c-dev, cluster: {server: "https://dev.example:6443"}}
- {name: c-prod, cluster: {server: "https://prod.example:6443"}}
- {name: c-stage, cluster: {server: "https://stage.example:6443"}}
users:
- {name: u-dev, user: {token: dev-secret}}
- {name: u-prod, user: {token: prod-secret}}
"""
POLICY = "rules:\n  - context: prod\n  - context: stage\n    environment: staging\n"


@pytest.fixture
def env(tmp_path: Path, isolated_home: Path) -> dict[str, str]:
    (tmp_path / "config").write_text(KUBECONFIG)
    (tmp_path / "policy.yaml").write_text(POLICY)
    return {
        **os.environ,
        "KUBECONFIG": str(tmp_path / "config"),
        "KUBESAFE_CONFIG": str(tmp_path / "policy.yaml"),
        "KUBESAFE_GUARD": "on",
    }


def _terminal(env: dict[str, str]) -> tuple[str, dict[str, str]]:
    directory, kubeconfig = session.start_session(os.getpid(), env)
    return directory, {**env, "KUBECONFIG": kubeconfig, SESSION_VARIABLE: directory}


def test_protected_contexts_point_at_the_guard_without_real_credentials(
    env: dict[str, str],
) -> None:
    directory, _ = _terminal(env)
    text = Path(session.session_kubeconfig(directory)).read_text()
    assert "prod-secret" not in text and "dev-secret" not in text
    data = parse_bytes(text.encode())
    # staging writes are "none" by default, destructive ones "confirm": protected too.
    assert sorted(data["clusters"]) == ["kubesafe-guard/prod", "kubesafe-guard/stage"]
    assert "dev" not in data["contexts"]  # unprotected: not touched
    server = data["clusters"]["kubesafe-guard/prod"][0]
    assert server.startswith("https://127.0.0.1:")
    assert server.endswith("/" + context_id("prod"))
    token = Path(session.guard_dir(directory), "token").read_text().strip()
    assert f'token: "{token}"' in text
    assert oct(os.stat(Path(session.guard_dir(directory), "token")).st_mode & 0o777) == "0o600"
    assert str(Path(session.guard_dir(directory), "ca.pem")) in text
    # The file is one another tool could also write to: ours are not "foreign".
    assert session.read_session_file(session.session_kubeconfig(directory)).foreign == ()


def test_resolution_sees_the_real_target_behind_the_guard(env: dict[str, str]) -> None:
    _, terminal = _terminal(env)
    target = resolve_merged(load_merged(Overrides(), terminal), Overrides(), terminal)
    assert (target.context, target.cluster, target.user) == ("prod", "c-prod", "u-prod")
    assert target.server == "https://prod.example:6443"
    assert target.namespace == "shop"
    assert target.guard.startswith("https://127.0.0.1:")
    # An explicit --cluster is what kubectl uses: no guard then.
    direct = Overrides(cluster="c-prod")
    target = resolve_merged(load_merged(direct, terminal), direct, terminal)
    assert target.guard == "" and target.server == "https://prod.example:6443"
    dev = Overrides(context="dev")
    assert resolve_merged(load_merged(dev, terminal), dev, terminal).guard == ""


def test_a_guard_entry_outside_the_terminals_own_file_is_taken_at_its_word(
    env: dict[str, str],
) -> None:
    _, terminal = _terminal(env)
    # The same file, but not as this terminal's: its server (127.0.0.1) is the target.
    stranger = {k: v for k, v in terminal.items() if k != SESSION_VARIABLE}
    target = resolve_merged(load_merged(Overrides(), stranger), Overrides(), stranger)
    assert target.server.startswith("https://127.0.0.1:") and target.guard == ""
    assert target.cluster == "kubesafe-guard/prod"


def test_the_prompts_sync_keeps_guard_entries_and_follows_namespace(
    env: dict[str, str],
) -> None:
    directory, terminal = _terminal(env)
    before = Path(session.session_kubeconfig(directory)).read_text()
    assert session.sync_shadows(directory, terminal) is False
    assert Path(session.session_kubeconfig(directory)).read_text() == before
    from kubesafe.switching import Switcher

    Switcher(terminal).use_namespace("payments")
    target = resolve_merged(load_merged(Overrides(), terminal), Overrides(), terminal)
    assert (target.cluster, target.namespace) == ("c-prod", "payments")
    assert target.guard


def test_guard_off_per_environment_and_per_shell(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY + "environments:\n  staging: {guard: off}\n")
    directory, _ = _terminal(env)
    data = parse_bytes(Path(session.session_kubeconfig(directory)).read_bytes())
    assert sorted(data["clusters"]) == ["kubesafe-guard/prod"]
    directory, _ = _terminal({**env, "KUBESAFE_GUARD": "off"})
    data = parse_bytes(Path(session.session_kubeconfig(directory)).read_bytes())
    assert data["clusters"] == {}


def test_the_shims_direct_kubeconfig_names_the_real_entries(env: dict[str, str]) -> None:
    directory, terminal = _terminal(env)
    target = resolve_merged(load_merged(Overrides(), terminal), Overrides(), terminal)
    value = direct_kubeconfig(directory, target, terminal)
    assert value is not None
    files = value.split(os.pathsep)
    assert files[1:] == [env["KUBECONFIG"]]  # the terminal's own file is left out
    assert oct(os.stat(files[0]).st_mode & 0o777) == "0o600"
    direct_env = {**terminal, "KUBECONFIG": value}
    seen = resolve_merged(load_merged(Overrides(), direct_env), Overrides(), direct_env)
    assert (seen.context, seen.cluster, seen.user, seen.namespace) == (
        "prod",
        "c-prod",
        "u-prod",
        "shop",
    )
    assert seen.server == "https://prod.example:6443" and seen.guard == ""


def test_the_prompt_shows_an_open_lift_and_its_remaining_minutes(env: dict[str, str]) -> None:
    import time

    from kubesafe.guard.lifts import close_lift, open_lift
    from kubesafe.shell import prompt

    directory, terminal = _terminal(env)
    lifts = os.path.join(session.guard_dir(directory), "lifts.json")
    assert lifts in prompt.watched_files(terminal)  # opening one re-renders the prompt
    assert "LIFT" not in prompt.compute_segment(terminal).text
    lift = open_lift(lifts, os.path.basename(directory), "prod", 14 * 60 + 30, "deploy")
    segment = prompt.compute_segment(terminal)
    assert segment.text.endswith("prod:shop LIFT 15m")
    # The text changes when 14m remain: the shell renders again then, not before.
    assert segment.until == int(lift.until - 14 * 60) + 1
    assert segment.until > time.time()
    text, _ = prompt.lift_marker(directory, "prod", now=lift.until - 30)
    assert text == "LIFT 1m "
    assert prompt.lift_marker(directory, "prod", now=lift.until + 1) == ("", 0)
    close_lift(lifts, os.path.basename(directory), "prod")
    assert "LIFT" not in prompt.compute_segment(terminal).text


def test_rules_lent_on_one_endpoint_still_see_the_real_cluster(
    env: dict[str, str], tmp_path: Path
) -> None:
    """`sandbox` shares prod's cluster: prod's rule protects it, through the guard too."""
    from kubesafe.kubeconfig.cache import FileIndex
    from kubesafe.policy import endpoint_rules, load_policy, protection

    (tmp_path / "config").write_text(
        KUBECONFIG.replace(
            "- name: stage\n",
            "- name: sandbox\n  context: {cluster: c-prod, user: u-dev}\n- name: stage\n",
        )
    )
    directory, terminal = _terminal(env)
    data = parse_bytes(Path(session.session_kubeconfig(directory)).read_bytes())
    assert "kubesafe-guard/sandbox" in data["clusters"]
    merged = load_merged(Overrides(), terminal)
    for name in ("prod", "sandbox"):
        target = resolve_merged(merged, Overrides(context=name), terminal)
        assert target.cluster == "c-prod" and target.guard
        policy = load_policy(terminal, FileIndex())
        found = protection(
            policy,
            target,
            mutating=True,
            destructive=False,
            namespaces=None,
            endpoints=endpoint_rules(policy, merged, target),
        )
        assert found.level == "confirm", name


def test_a_broken_policy_guards_every_context_and_a_fix_releases_them(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Fail closed: while the policy cannot be read, nothing goes direct."""
    (tmp_path / "policy.yaml").write_text("rules: [\n")
    directory, terminal = _terminal(env)
    data = parse_bytes(Path(session.session_kubeconfig(directory)).read_bytes())
    assert sorted(data["clusters"]) == [
        "kubesafe-guard/dev",
        "kubesafe-guard/prod",
        "kubesafe-guard/stage",
    ]
    # Fixed while the terminal runs: the next prompt's refresh sends dev direct again.
    (tmp_path / "policy.yaml").write_text(POLICY)
    assert session.refresh_guard(directory, terminal) is True
    data = parse_bytes(Path(session.session_kubeconfig(directory)).read_bytes())
    assert sorted(data["clusters"]) == ["kubesafe-guard/prod", "kubesafe-guard/stage"]
    assert session.refresh_guard(directory, terminal) is False  # nothing changed
    # Broken again: what is guarded stays guarded, and everything else joins it.
    (tmp_path / "policy.yaml").write_text("rules: [\n")
    assert session.refresh_guard(directory, terminal) is True
    data = parse_bytes(Path(session.session_kubeconfig(directory)).read_bytes())
    assert "kubesafe-guard/dev" in data["clusters"]
