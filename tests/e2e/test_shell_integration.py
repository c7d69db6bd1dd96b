"""The shell integration in real bash, zsh and fish, driven through a pseudo-terminal.

Two terminals of the same user switch independently; kubectl in each hits its own
context (seen by real kubectl against the fake API server); the prompt follows every
change at once; kubectl's own completion still completes; state is removed on exit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_apiserver import FakeAPIServer, write_kubeconfig
from tests.support.shells import SHELL_BINARIES, InteractiveShell

pytestmark = pytest.mark.e2e

BIN = str(Path(sys.executable).parent)
INIT = {
    "bash": 'eval "$(kubesafe init bash)"',
    "zsh": 'eval "$(kubesafe init zsh)"',
    "fish": "kubesafe init fish | source",
}
COMPLETION = {
    "bash": (
        "source /usr/share/bash-completion/bash_completion && source <(kubectl completion bash)"
    ),
    "zsh": "autoload -Uz compinit && compinit -u && source <(kubectl completion zsh)",
    "fish": "kubectl completion fish | source",
}


def _require(shell: str) -> None:
    if SHELL_BINARIES[shell] is None:
        pytest.fail(f"{shell} is not installed; .ci/run installs Debian's {shell}")


@pytest.fixture
def world(
    tmp_path: Path, apiserver: FakeAPIServer, kubectl33: Path, isolated_home: Path
) -> dict[str, str]:
    dev = apiserver.kubeconfig("sh-dev", context="dev", namespace="team-a", cluster="dev")
    prod = apiserver.kubeconfig("sh-prod", context="prod", cluster="prod")
    config = {
        **dev,
        "current-context": "dev",
        "contexts": dev["contexts"] + prod["contexts"],
        "clusters": dev["clusters"] + prod["clusters"],
    }
    kube = isolated_home / ".kube"
    kube.mkdir()
    write_kubeconfig(kube / "config", config)
    os.chmod(kube / "config", 0o600)
    policy_dir = isolated_home / ".config" / "kubesafe"
    policy_dir.mkdir(parents=True)
    (policy_dir / "config.yaml").write_text("rules:\n  - context: prod\n")
    return {
        "HOME": str(isolated_home),
        "XDG_CONFIG_HOME": str(isolated_home / ".config"),
        "XDG_CACHE_HOME": str(isolated_home / ".cache"),
        "XDG_STATE_HOME": str(isolated_home / ".local" / "state"),
        # The real kubectl comes first; /usr/bin holds the shells (and another kubectl).
        "PATH": f"{BIN}:{kubectl33.parent}:/usr/bin:/bin",
        "TERM": "dumb",
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        # These tests check what the prompt shows after each change, so the prompt waits
        # for every render; the 30 ms default and its marker are tested in test_prompt.py.
        "KUBESAFE_PROMPT_WAIT": "60",
    }


@pytest.fixture
def open_shells() -> Iterator[list[InteractiveShell]]:
    shells: list[InteractiveShell] = []
    yield shells
    for shell in shells:
        if shell.child.isalive():
            shell.child.terminate(force=True)


def _shell(kind: str, env: dict[str, str], registry: list[InteractiveShell]) -> InteractiveShell:
    _require(kind)
    shell = InteractiveShell(kind, env, INIT[kind])
    registry.append(shell)
    return shell


def _explained_context(shell: InteractiveShell) -> str:
    code, output = shell.run("kubesafe explain -- get pods | grep -i '^context'")
    assert code == 0, output
    return output.split()[-1]


def _pod_request_prefixes(apiserver: FakeAPIServer, since: int) -> list[str]:
    return [
        r.prefix for r in apiserver.requests[since:] if r.method == "GET" and r.resource == "pods"
    ]


@pytest.mark.parametrize("kind", ["bash", "zsh", "fish"])
def test_two_terminals_switch_independently(
    kind: str, world: dict[str, str], apiserver: FakeAPIServer, open_shells: list[InteractiveShell]
) -> None:
    first = _shell(kind, world, open_shells)
    second = _shell(kind, world, open_shells)
    code, output = first.run("kubesafe ctx prod")
    assert code == 0, output
    assert "in this terminal" in output
    assert "PROD" in first.prompt() and "prod:default" in first.prompt()
    second.run("true")
    assert "dev:team-a" in second.prompt()

    assert _explained_context(first) == "prod"
    assert _explained_context(second) == "dev"

    before = len(apiserver.requests)
    code, output = first.run("kubectl get pods")
    assert code == 0, output
    code, output = second.run("kubectl get pods")
    assert code == 0, output
    assert _pod_request_prefixes(apiserver, before) == ["sh-prod", "sh-dev"]

    # The global kubeconfig was not touched: a new terminal still starts on dev.
    third = _shell(kind, world, open_shells)
    assert "dev:team-a" in third.prompt()


@pytest.mark.parametrize("kind", ["bash", "zsh", "fish"])
def test_previous_context_is_per_terminal(
    kind: str, world: dict[str, str], open_shells: list[InteractiveShell]
) -> None:
    first = _shell(kind, world, open_shells)
    second = _shell(kind, world, open_shells)
    assert first.run("kubesafe ctx prod")[0] == 0
    assert first.run("kubesafe ctx dev")[0] == 0
    code, output = second.run("kubesafe ctx -")
    assert code == 1 and "no previous context" in output
    assert first.run("kubesafe ctx -")[0] == 0
    assert "prod:default" in first.prompt()
    assert "dev:team-a" in second.prompt()


@pytest.mark.parametrize("kind", ["bash", "zsh", "fish"])
def test_prompt_follows_kubectl_use_context_and_outside_writes(
    kind: str, world: dict[str, str], open_shells: list[InteractiveShell], kubectl33: Path
) -> None:
    shell = _shell(kind, world, open_shells)
    assert shell.run("kubectl config use-context prod")[0] == 0
    assert "PROD prod:default" in shell.prompt()
    assert shell.run("kubectl config use-context dev")[0] == 0
    assert "dev:team-a" in shell.prompt()
    # Another program changes the real kubeconfig twice within one second; the very
    # next prompt shows the second change.
    env = {**world, "KUBECONFIG": str(Path(world["HOME"]) / ".kube" / "config")}
    for namespace in ("ns-one", "ns-two"):
        subprocess.run(
            [str(kubectl33), "config", "set-context", "dev", f"--namespace={namespace}"],
            env=env,
            check=True,
            capture_output=True,
        )
    assert shell.run("true")[0] == 0
    assert "dev:ns-two" in shell.prompt()


@pytest.mark.parametrize("kind", ["bash", "zsh", "fish"])
def test_namespace_switch_stays_in_the_terminal(
    kind: str, world: dict[str, str], open_shells: list[InteractiveShell]
) -> None:
    first = _shell(kind, world, open_shells)
    second = _shell(kind, world, open_shells)
    code, output = first.run("kubesafe ns --force payments")
    assert code == 0, output
    assert "dev:payments" in first.prompt()
    assert "dev:team-a" in second.prompt()
    assert first.run("kubesafe ns -c")[1] == "payments"
    assert second.run("kubesafe ns -c")[1] == "team-a"
    config = (Path(world["HOME"]) / ".kube" / "config").read_text()
    assert "payments" not in config


@pytest.mark.parametrize("kind", ["bash", "zsh", "fish"])
def test_kubectl_completion_still_completes(
    kind: str, world: dict[str, str], open_shells: list[InteractiveShell]
) -> None:
    shell = _shell(kind, world, open_shells)
    code, output = shell.run(COMPLETION[kind])
    assert code == 0, output
    child = shell.child
    child.send("kubectl config use-con")
    child.send("\t")
    child.expect("use-context", timeout=30)
    child.sendcontrol("c")
    shell.run("true")


@pytest.mark.parametrize("kind", ["bash", "zsh", "fish"])
def test_terminal_state_is_removed_on_exit_and_swept_after_kill(
    kind: str, world: dict[str, str], open_shells: list[InteractiveShell]
) -> None:
    sessions = Path(world["XDG_STATE_HOME"]) / "kubesafe" / "sessions"
    shell = _shell(kind, world, open_shells)
    assert len(list(sessions.iterdir())) == 1
    shell.close()
    assert list(sessions.iterdir()) == []

    killed = _shell(kind, world, open_shells)
    pid = killed.child.pid
    assert [p.name.split("-")[0] for p in sessions.iterdir()] == [str(pid)]
    os.kill(pid, signal.SIGKILL)
    killed.child.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    _shell(kind, world, open_shells)
    assert [p.name.split("-")[0] for p in sessions.iterdir()] != [str(pid)]
    assert len(list(sessions.iterdir())) == 1


@pytest.mark.parametrize("kind", ["bash", "zsh", "fish"])
def test_prompt_off_and_on(
    kind: str, world: dict[str, str], open_shells: list[InteractiveShell]
) -> None:
    shell = _shell(kind, world, open_shells)
    other = _shell(kind, world, open_shells)
    assert shell.run("kubesafe prompt off")[0] == 0
    assert "dev:team-a" not in shell.prompt()
    other.run("true")
    assert "dev:team-a" in other.prompt()
    assert shell.run("kubesafe prompt on")[0] == 0
    assert "dev:team-a" in shell.prompt()
    assert shell.run("kubesafe prompt off --global")[0] == 0
    other.run("true")
    assert "dev:team-a" not in other.prompt()


@pytest.mark.parametrize("kind", ["bash", "zsh", "fish"])
def test_scripts_started_from_the_shell_are_guarded(
    kind: str, world: dict[str, str], open_shells: list[InteractiveShell]
) -> None:
    """A child process finds kubesafe first on PATH, not the real kubectl.

    ``setsid`` runs it without a controlling terminal, as a cron job or CI step would
    be: kubesafe must refuse the delete on prod instead of asking.
    """
    shell = _shell(kind, world, open_shells)
    shell.run("kubesafe ctx prod")
    code, output = shell.run("setsid -w env kubectl delete pod web-0 </dev/null")
    assert code == 3, output
    assert "refusing" in output


def _config_with_namespace(original: str, namespace: str, path: Path) -> None:
    path.write_text(original.replace("team-a", namespace))


@pytest.mark.parametrize("kind", ["bash", "zsh", "fish"])
def test_prompt_follows_files_replaced_by_older_ones(
    kind: str, world: dict[str, str], open_shells: list[InteractiveShell]
) -> None:
    # `mv` of a backup, `cp -p`, tar and rsync keep an old mtime; a clock behind
    # (NFS) or `touch -d` does the same. None of them is newer than the last render.
    shell = _shell(kind, world, open_shells)
    config = Path(world["HOME"]) / ".kube" / "config"
    assert "dev:team-a" in shell.prompt()
    original = config.read_text()
    hour_ago = time.time() - 3600
    backup = config.with_name("config.bak")
    _config_with_namespace(original, "restored", backup)
    os.utime(backup, (hour_ago, hour_ago))
    assert shell.run(f"mv {backup} {config}")[0] == 0
    assert "dev:restored" in shell.prompt()
    _config_with_namespace(original, "backdated", config)
    os.utime(config, (hour_ago - 60, hour_ago - 60))
    assert shell.run("true")[0] == 0
    assert "dev:backdated" in shell.prompt()


SUBSHELLS = {
    # zsh runs zshexit hooks in a subshell that calls `exit` (bash resets its traps).
    "bash": "( exit 0 ); x=$(exit 0); (exit 3) | cat; bash -c 'exit 0'; true",
    "zsh": "( exit 0 ); x=$(exit 0); (exit 3) | cat; zsh -c 'exit 0'; true",
    "fish": "fish -c 'exit 0'; set x (fish -c 'exit 0'); true",
}


@pytest.mark.parametrize("kind", ["bash", "zsh", "fish"])
def test_subshells_and_child_shells_leave_the_terminal_state(
    kind: str, world: dict[str, str], open_shells: list[InteractiveShell]
) -> None:
    sessions = Path(world["XDG_STATE_HOME"]) / "kubesafe" / "sessions"
    shell = _shell(kind, world, open_shells)
    assert shell.run("kubectl config use-context prod")[0] == 0
    before = list(sessions.iterdir())
    assert shell.run(SUBSHELLS[kind])[0] == 0
    assert list(sessions.iterdir()) == before
    assert shell.run("kubectl config current-context")[1] == "prod"
    assert "PROD prod:default" in shell.prompt()


def test_a_namespace_switched_context_follows_its_real_cluster(
    world: dict[str, str], apiserver: FakeAPIServer, open_shells: list[InteractiveShell]
) -> None:
    """Another terminal points `dev` at the production cluster: this terminal's copy
    of `dev` (made by `ns`) must not keep sending kubectl to the old one while the
    prompt and kubesafe's decision say something else."""
    shell = _shell("bash", world, open_shells)
    assert shell.run("kubesafe ns --force payments")[0] == 0
    kube = Path(world["HOME"]) / ".kube" / "config"
    env = {**world, "KUBECONFIG": str(kube)}
    subprocess.run(
        ["kubectl", "config", "set-context", "dev", "--cluster=prod"],
        env=env,
        check=True,
        capture_output=True,
    )
    assert shell.run("true")[0] == 0
    assert "PROD dev:payments" in shell.prompt()
    code, output = shell.run("kubesafe explain -- apply -f x.yaml")
    assert code == 0, output
    assert "/sh-prod" in output and "protected:   yes (production)" in output, output
    before = len(apiserver.requests)
    code, output = shell.run("kubectl get pods")
    assert code == 0, output
    assert _pod_request_prefixes(apiserver, before) == ["sh-prod"]
