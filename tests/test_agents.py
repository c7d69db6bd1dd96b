"""Coding-agent sessions: markers found, and the confirmation path refuses in them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubesafe.agents import AGENT_PROCESSES, AGENT_VARIABLES, agent_marker
from tests.kubeconfigs import kubeconfig, write


def _fake_proc(root: Path, chain: list[tuple[int, str, int]]) -> str:
    for pid, comm, ppid in chain:
        (root / str(pid)).mkdir(parents=True)
        (root / str(pid) / "stat").write_text(f"{pid} ({comm}) S {ppid} 1 1 0 -1\n")
    return str(root)


@pytest.mark.parametrize("name", AGENT_VARIABLES)
def test_every_documented_variable_marks_an_agent(name: str, tmp_path: Path) -> None:
    empty_proc = str(tmp_path / "noproc")
    assert agent_marker({name: "1"}, empty_proc) == f"{name}=1"
    assert agent_marker({name: "claude"}, empty_proc) == f"{name}=claude"


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_empty_or_negative_values_mark_nothing(value: str, tmp_path: Path) -> None:
    assert agent_marker({"AI_AGENT": value}, str(tmp_path / "noproc")) is None


def test_an_ancestor_process_marks_an_agent_even_with_a_clean_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "getppid", lambda: 300)
    proc = _fake_proc(
        tmp_path / "proc",
        [(300, "bash", 200), (200, "my (odd) shell", 100), (100, "codex", 1)],
    )
    assert agent_marker({}, proc) == "parent process 'codex'"


def test_a_marker_in_an_ancestor_s_starting_environment_survives_unset_and_env_i(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gemini runs as ``node``: only the environment of the shell it started shows it."""
    monkeypatch.setattr(os, "getppid", lambda: 300)
    proc = _fake_proc(tmp_path / "proc", [(300, "bash", 200), (200, "bash", 100), (100, "node", 1)])
    (Path(proc) / "300" / "environ").write_bytes(b"PATH=/usr/bin\0HOME=/home/me\0")
    (Path(proc) / "200" / "environ").write_bytes(b"PATH=/usr/bin\0GEMINI_CLI=1\0")
    assert agent_marker({}, proc) == "GEMINI_CLI=1 in the environment of parent process 'bash'"


def test_a_person_s_shell_chain_marks_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(os, "getppid", lambda: 30)
    proc = _fake_proc(
        tmp_path / "proc", [(30, "bash", 20), (20, "tmux: server", 10), (10, "sshd", 1)]
    )
    assert agent_marker({}, proc) is None


def test_a_parent_loop_ends(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(os, "getppid", lambda: 40)
    proc = _fake_proc(tmp_path / "proc", [(40, "bash", 41), (41, "zsh", 40)])
    assert agent_marker({}, proc) is None


def test_known_agent_names_fit_in_comm() -> None:
    assert all(len(name) <= 15 for name in AGENT_PROCESSES)


def _protected_env(tmp_path: Path) -> dict[str, str]:
    config = write(
        tmp_path / "kubeconfig",
        kubeconfig(
            clusters={"prod": "https://10.9.9.9:6443"},
            contexts={"prod": {"cluster": "prod"}},
            current="prod",
        ),
    )
    policy = write(tmp_path / "policy.yaml", "rules:\n  - context: prod\n")
    return {
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "KUBECONFIG": str(config),
        "KUBESAFE_CONFIG": str(policy),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "KUBESAFE_KUBECTL": "/bin/true",
    }


@pytest.mark.parametrize("marker", ["CLAUDECODE", "KUBESAFE_AGENT", "AI_AGENT"])
def test_an_agent_cannot_approve_with_the_override_variable(tmp_path: Path, marker: str) -> None:
    env = {**_protected_env(tmp_path), "KUBESAFE_CONFIRM": "prod", marker: "1"}
    result = subprocess.run(
        [sys.executable, "-m", "kubesafe", "kubectl", "delete", "pod", "web-0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 3
    assert "coding agent" in result.stderr and f"{marker}=1" in result.stderr
    assert result.stderr.count("\n") == 1


def test_an_agent_that_unsets_its_marker_and_runs_env_i_is_still_refused(tmp_path: Path) -> None:
    """A real process chain: the agent's shell carries the marker, the command does not."""
    env = {**_protected_env(tmp_path), "KUBESAFE_CONFIRM": "prod"}
    assignments = " ".join(f"{name}={value}" for name, value in env.items())
    script = (
        f"unset CLAUDECODE; env -i {assignments} {sys.executable} -m kubesafe kubectl "
        "delete pod web-0; status=$?; exit $status"
    )
    result = subprocess.run(
        ["/bin/bash", "-c", script],
        env={"PATH": "/usr/bin:/bin", "CLAUDECODE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 3, result.stderr
    assert "CLAUDECODE=1 in the environment of parent process 'bash'" in result.stderr


def test_without_a_marker_the_override_still_approves(tmp_path: Path) -> None:
    env = {**_protected_env(tmp_path), "KUBESAFE_CONFIRM": "prod"}
    result = subprocess.run(
        [sys.executable, "-m", "kubesafe", "kubectl", "delete", "pod", "web-0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr


def test_a_pseudo_terminal_from_script_and_a_clean_environment_do_not_hide_an_agent(
    tmp_path: Path,
) -> None:
    """``script -qc`` gives the command a pty (a question could be answered by the agent
    that reads it); the agent's shell above it still shows the marker."""
    env = _protected_env(tmp_path)
    assignments = " ".join(f"{name}={value}" for name, value in env.items())
    inner = f"env -i {assignments} {sys.executable} -m kubesafe kubectl delete pod web-0"
    result = subprocess.run(
        ["/bin/bash", "-c", f"script -qec '{inner}' /dev/null; status=$?; exit $status"],
        env={"PATH": "/usr/bin:/bin", "GEMINI_CLI": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 3, result.stdout
    assert "GEMINI_CLI=1 in the environment of parent process" in result.stdout
    assert "Proceed?" not in result.stdout and "Type prod" not in result.stdout
