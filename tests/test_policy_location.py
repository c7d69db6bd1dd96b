"""Where the policy is when XDG_CONFIG_HOME or HOME moved (kubesafe/policy_location.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubesafe import paths
from kubesafe.commands.protect import protect
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.policy import load_policy
from kubesafe.policy_location import PIN_VARIABLE, record_path, remembered
from kubesafe.shell.scripts import init_script

RULES = "rules:\n  - context: prod\n"


@pytest.fixture
def account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A password-database home holding a policy with rules; HOME and XDG point elsewhere."""
    home = tmp_path / "account"
    policy = home / ".config" / "kubesafe" / "config.yaml"
    policy.parent.mkdir(parents=True)
    policy.write_text(RULES)
    monkeypatch.setattr(paths, "account_home", lambda: str(home))
    monkeypatch.delenv(PIN_VARIABLE)
    monkeypatch.setenv("HOME", str(tmp_path / "moved-home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "moved-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "moved-state"))
    return policy


def _load(env: dict[str, str] | None = None) -> tuple[str, tuple[str, ...], str, str | None]:
    policy = load_policy(os.environ if env is None else env, FileIndex())
    return policy.path, tuple(r.pattern for r in policy.rules), policy.note, policy.error


def test_password_database_home_is_the_last_fallback(account: Path) -> None:
    path, rules, note, _ = _load()
    assert (path, rules) == (str(account), ("prod",))
    assert "password database" in note


def test_a_pin_replaces_the_password_database_guess(account: Path, tmp_path: Path) -> None:
    env = {**os.environ, PIN_VARIABLE: str(tmp_path / "none.yaml")}
    assert _load(env)[1] == ()
    pinned = tmp_path / "pinned.yaml"
    pinned.write_text("rules:\n  - context: staging\n")
    path, rules, note, _ = _load({**env, PIN_VARIABLE: str(pinned)})
    assert (path, rules) == (str(pinned), ("staging",)) and PIN_VARIABLE in note


def test_explicit_kubesafe_config_is_authoritative(account: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    env = {**os.environ, "KUBESAFE_CONFIG": str(empty), PIN_VARIABLE: str(account)}
    assert _load(env) == (str(empty), (), "", None)
    # Even a missing one: it is a deliberate choice.
    assert _load({**env, "KUBESAFE_CONFIG": str(tmp_path / "gone.yaml")})[1] == ()


def test_usual_file_with_rules_wins_over_every_fallback(account: Path, tmp_path: Path) -> None:
    usual = tmp_path / "moved-config" / "kubesafe" / "config.yaml"
    usual.parent.mkdir(parents=True)
    usual.write_text("rules:\n  - context: other\n")
    assert _load()[:3] == (str(usual), ("other",), "")


def test_usual_file_without_rules_falls_back(account: Path, tmp_path: Path) -> None:
    usual = tmp_path / "moved-config" / "kubesafe" / "config.yaml"
    usual.parent.mkdir(parents=True)
    usual.write_text("aliases: {prod: p}\n")
    path, rules, note, _ = _load()
    assert (path, rules) == (str(account), ("prod",)) and str(usual) in note


def test_a_broken_fallback_refuses_rather_than_protecting_nothing(account: Path) -> None:
    account.write_text("rules: [\n")
    path, _, _, error = _load()
    assert path == str(account) and error is not None and "line" in error


def test_record_is_written_on_parse_and_only_for_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without = tmp_path / "no-rules.yaml"
    without.write_text("aliases: {}\n")
    load_policy({"KUBESAFE_CONFIG": str(without)}, FileIndex())
    assert remembered() == ""
    with_rules = tmp_path / "rules.yaml"
    with_rules.write_text(RULES)
    load_policy({"KUBESAFE_CONFIG": str(with_rules)}, FileIndex())
    assert remembered() == str(with_rules)
    assert os.stat(record_path()).st_mode & 0o777 == 0o600


def test_the_record_finds_a_policy_and_is_ignored_when_others_can_write_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "dotfiles" / "kubesafe.yaml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(RULES)
    load_policy({"KUBESAFE_CONFIG": str(elsewhere)}, FileIndex())
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "moved"))
    monkeypatch.setenv(PIN_VARIABLE, str(tmp_path / "none.yaml"))
    path, rules, note, _ = _load()
    assert (path, rules) == (str(elsewhere), ("prod",)) and record_path() in note
    os.chmod(record_path(), 0o666)
    assert _load()[1] == ()


def test_protect_edits_the_file_in_use(account: Path, tmp_path: Path) -> None:
    message = protect(
        "staging",
        environment="",
        level="",
        server=False,
        regex=False,
        namespaces=(),
        env=os.environ,
    )
    assert str(account) in message
    assert "staging" in account.read_text() and "prod" in account.read_text()
    assert not (tmp_path / "moved-config" / "kubesafe" / "config.yaml").exists()


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_init_exports_the_policy_in_use(account: Path, shell: str) -> None:
    script = init_script(shell, os.getpid(), os.environ)
    exported = (
        f"set -gx {PIN_VARIABLE} '{account}'"
        if shell == "fish"
        else f"export {PIN_VARIABLE}='{account}'"
    )
    assert exported in script
