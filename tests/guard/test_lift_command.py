"""``kubesafe lift``: its refusals, its limits, and what it writes (the typed answer faked)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from kubesafe.commands import lift as lift_module
from kubesafe.commands.errors import CommandError
from kubesafe.confirm import Terminal
from kubesafe.guard.lifts import LiftBook
from kubesafe.shell import session
from kubesafe.shell.names import SESSION_VARIABLE

KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: prod
contexts:
- name: prod
  context: {cluster: c-prod, user: u}
- name: vault
  context: {cluster: c-vault, user: u}
- name: dev
  context: {cluster: c-dev, user: u}
clusters:
- {name: c-prod, cluster: {server: "https://prod.example"}}
- {name: c-vault, cluster: {server: "https://vault.example"}}
- {name: c-dev, cluster: {server: "https://dev.example"}}
users:
- {name: u, user: {token: t}}
"""
POLICY = (
    "rules:\n  - context: prod\n  - context: vault\n    level: block\nguard:\n  max-lift: 30m\n"
)


@pytest.fixture
def terminal_env(tmp_path: Path, isolated_home: Path) -> dict[str, str]:
    (tmp_path / "config").write_text(KUBECONFIG)
    (tmp_path / "policy.yaml").write_text(POLICY)
    env = {
        **os.environ,
        "KUBECONFIG": str(tmp_path / "config"),
        "KUBESAFE_CONFIG": str(tmp_path / "policy.yaml"),
        "KUBESAFE_GUARD": "on",
    }
    directory, kubeconfig = session.start_session(os.getpid(), env)
    return {**env, "KUBECONFIG": kubeconfig, SESSION_VARIABLE: directory}


class _Kept(io.StringIO):
    def close(self) -> None:  # the command closes the terminal; the test reads it after
        pass


def _typed(monkeypatch: pytest.MonkeyPatch, answer: str) -> io.StringIO:
    shown = _Kept()
    monkeypatch.setattr(
        "kubesafe.confirm.open_terminal", lambda: Terminal(io.StringIO(answer), shown)
    )
    return shown


def _book(env: dict[str, str]) -> LiftBook:
    directory = env[SESSION_VARIABLE]
    return LiftBook(
        os.path.join(session.guard_dir(directory), "lifts.json"), os.path.basename(directory)
    )


def test_the_typed_name_opens_a_lift_and_end_closes_it(
    terminal_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = _typed(monkeypatch, "prod\n")
    message = lift_module.lift("prod", "15m", "deploy 42", end=False, env=terminal_env)
    assert "open in this terminal for 15m" in message
    assert "Type the context name" in shown.getvalue() and "deploy 42" in shown.getvalue()
    lift = _book(terminal_env).current("prod")
    assert lift is not None and lift.reason == "deploy 42"
    assert 14 * 60 < lift.remaining() <= 15 * 60
    audit = Path(os.environ["XDG_STATE_HOME"], "kubesafe", "audit.jsonl").read_text()
    opened = [json.loads(line) for line in audit.splitlines()]
    assert opened[-1]["decision"] == "lift-opened" and opened[-1]["reason"] == "deploy 42"
    assert "ended" in lift_module.lift("prod", None, "", end=True, env=terminal_env)
    assert _book(terminal_env).current("prod") is None
    assert "No lift" in lift_module.lift("prod", None, "", end=True, env=terminal_env)


@pytest.mark.parametrize(
    ("context", "duration", "answer", "problem"),
    [
        ("prod", "15m", "Prod\n", "typed exactly"),
        ("prod", "15m", "", "typed exactly"),
        ("prod", "45m", "prod\n", r"longer than the policy allows \(30m"),
        ("prod", "soon", "prod\n", "not a duration"),
        ("prod", "0", "prod\n", "more than 0"),
        ("prod", None, "prod\n", "say for how long"),
        ("vault", "5m", "vault\n", "block rule"),
        ("nowhere", "5m", "nowhere\n", "not found"),
    ],
)
def test_refusals(
    terminal_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    context: str,
    duration: str | None,
    answer: str,
    problem: str,
) -> None:
    _typed(monkeypatch, answer)
    with pytest.raises(CommandError, match=problem):
        lift_module.lift(context, duration, "", end=False, env=terminal_env)
    assert _book(terminal_env).current(context) is None


def test_an_unprotected_context_needs_no_lift(
    terminal_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _typed(monkeypatch, "dev\n")
    assert "not protected" in lift_module.lift("dev", "5m", "", end=False, env=terminal_env)
    assert _book(terminal_env).current("dev") is None


def test_agents_and_missing_terminals_are_refused(
    terminal_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _typed(monkeypatch, "prod\n")
    with pytest.raises(CommandError, match="coding agent"):
        lift_module.lift("prod", "5m", "", end=False, env={**terminal_env, "KUBESAFE_AGENT": "1"})
    monkeypatch.setattr("kubesafe.confirm.open_terminal", lambda: None)
    with pytest.raises(CommandError, match="no terminal to confirm on"):
        lift_module.lift("prod", "5m", "", end=False, env=terminal_env)
    assert _book(terminal_env).current("prod") is None


def test_outside_an_integrated_terminal_there_is_nothing_to_lift(
    terminal_env: dict[str, str],
) -> None:
    outside = {k: v for k, v in terminal_env.items() if k != SESSION_VARIABLE}
    with pytest.raises(CommandError, match="lifts are per terminal"):
        lift_module.lift("prod", "5m", "", end=False, env=outside)
