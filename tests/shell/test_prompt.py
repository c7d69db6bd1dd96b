"""The prompt segment and its freshness check, with the real shells' ``-nt``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubesafe.shell import prompt
from kubesafe.shell.names import NO_CONTEXT
from tests.support.shells import SHELL_BINARIES

KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: {current}
contexts:
- name: dev
  context: {{cluster: c1, user: u, namespace: team-a}}
- name: prod
  context: {{cluster: c2, user: u}}
- name: stage
  context: {{cluster: c3, user: u}}
- name: "arn:aws:eks:eu-west-1:123456789012:cluster/shop-%d"
  context: {{cluster: c1, user: u}}
clusters:
- {{name: c1, cluster: {{server: "https://127.0.0.1:1"}}}}
- {{name: c2, cluster: {{server: "https://127.0.0.1:2"}}}}
- {{name: c3, cluster: {{server: "https://127.0.0.1:3"}}}}
users:
- {{name: u, user: {{}}}}
"""

POLICY = """\
rules:
  - context: prod
  - context: stage
    environment: staging
aliases:
  "arn:aws:eks:*:cluster/shop-*": shop
"""


@pytest.fixture
def env(tmp_path: Path, isolated_home: Path) -> dict[str, str]:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(KUBECONFIG.format(current="dev"))
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    session = tmp_path / "session"
    session.mkdir()
    return {
        "HOME": str(isolated_home),
        "XDG_STATE_HOME": os.environ["XDG_STATE_HOME"],
        "XDG_CACHE_HOME": os.environ["XDG_CACHE_HOME"],
        "KUBECONFIG": str(kubeconfig),
        "KUBESAFE_CONFIG": str(policy),
        "KUBESAFE_SESSION": str(session),
    }


def _use(env: dict[str, str], current: str) -> None:
    Path(env["KUBECONFIG"]).write_text(KUBECONFIG.format(current=f'"{current}"'))


@pytest.mark.parametrize(
    ("current", "text", "color"),
    [
        ("dev", "⎈ dev:team-a", prompt.CYAN),
        ("prod", "⎈ PROD prod:default", prompt.RED),
        ("stage", "⎈ STAGING stage:default", prompt.YELLOW),
        ("arn:aws:eks:eu-west-1:123456789012:cluster/shop-%d", "⎈ shop:default", prompt.CYAN),
        (NO_CONTEXT, "⎈ no context", prompt.CYAN),
        ("missing", "⎈ kubeconfig error", prompt.RED),
    ],
)
def test_segment_follows_policy_and_aliases(
    env: dict[str, str], current: str, text: str, color: str
) -> None:
    _use(env, current)
    segment = prompt.compute_segment(env)
    assert (segment.text, segment.color) == (text, color)


def test_broken_policy_shows_in_red(env: dict[str, str]) -> None:
    Path(env["KUBESAFE_CONFIG"]).write_text("rules: [\n")
    segment = prompt.compute_segment(env)
    assert (segment.text, segment.color) == ("⎈ policy error", prompt.RED)


def test_no_kubeconfig_no_segment(env: dict[str, str], tmp_path: Path) -> None:
    env["KUBECONFIG"] = str(tmp_path / "absent")
    assert prompt.compute_segment(env).text == ""


def test_custom_format_and_bad_format(env: dict[str, str]) -> None:
    env["KUBESAFE_PROMPT_FORMAT"] = "[{context}|{namespace}]"
    assert prompt.compute_segment(env).text == "[dev|team-a]"
    env["KUBESAFE_PROMPT_FORMAT"] = "{nope}"
    assert prompt.compute_segment(env).text == "⎈ dev:team-a"


def test_toggle_per_terminal_over_global(env: dict[str, str]) -> None:
    prompt.set_prompt(False, env, global_=True)
    assert prompt.compute_segment(env).text == ""
    prompt.set_prompt(True, env, global_=False)
    assert prompt.compute_segment(env).text == "⎈ dev:team-a"
    prompt.set_prompt(False, env, global_=False)
    assert prompt.compute_segment(env).text == ""


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_escapes_are_bracketed_for_the_line_editor(env: dict[str, str], shell: str) -> None:
    _use(env, "arn:aws:eks:eu-west-1:123456789012:cluster/shop-%d")
    env["KUBESAFE_PROMPT_FORMAT"] = "{context}%"
    text = prompt._colored(prompt.compute_segment(env), shell, env)
    if shell == "bash":
        assert text == "\001\033[36m\002shop%\001\033[0m\002 "
    else:
        assert text == "%{\033[36m%}shop%%%{\033[0m%} "
    env["NO_COLOR"] = "1"
    assert "\033" not in prompt._colored(prompt.compute_segment(env), shell, env)


def test_render_stamps_each_file_with_its_own_mtime(env: dict[str, str]) -> None:
    kubeconfig = Path(env["KUBECONFIG"])
    hour_ago = time.time_ns() - 3600 * 10**9
    os.utime(kubeconfig, ns=(hour_ago, hour_ago))
    code = prompt.render("bash", env)
    stamp = Path(env["KUBESAFE_SESSION"]) / "prompt-stamp.0"
    assert stamp.stat().st_mtime_ns == hour_ago
    present = code.split("__kubesafe_present=")[1].splitlines()[0]
    assert present.startswith(f"('{stamp}' '{kubeconfig}'")
    # A file changed within the last two seconds may change again within the same
    # timestamp tick: its stamp is one nanosecond older, so the next prompt reads it.
    kubeconfig.write_text(kubeconfig.read_text())
    prompt.render("bash", env)
    assert stamp.stat().st_mtime_ns == kubeconfig.stat().st_mtime_ns - 1
    # Toggle files that do not exist are watched for appearing.
    absent = code.split("__kubesafe_absent=")[1].splitlines()[0]
    assert str(Path(env["KUBESAFE_SESSION"]) / "prompt") in absent


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_render_output_survives_hostile_names(env: dict[str, str], shell: str) -> None:
    """Context names are data: quotes, $(...) and backslashes must not be evaluated."""
    if SHELL_BINARIES[shell] is None:
        pytest.fail(f"{shell} is not installed")
    hostile = 'it\'s $(touch pwned) `x` \\ "q" %F{red}'
    Path(env["KUBECONFIG"]).write_text(
        json.dumps(
            {
                "current-context": hostile,
                "contexts": [{"name": hostile, "context": {"cluster": "c", "user": "u"}}],
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {}}],
            }
        )
    )
    segment = prompt.compute_segment(env)
    assert hostile in segment.text, segment.text
    code = prompt.render(shell, {**env, "NO_COLOR": "1"})
    show = "printf '%s' \"$KUBESAFE_PROMPT\""
    result = subprocess.run(
        [SHELL_BINARIES[shell] or shell, "-c", f"{code}\n{show}"],
        capture_output=True,
        text=True,
        cwd=env["KUBESAFE_SESSION"],
        check=True,
    )
    expected = segment.text.replace("%", "%%") if shell == "zsh" else segment.text
    assert result.stdout == f"{expected} "
    assert not (Path(env["KUBESAFE_SESSION"]) / "pwned").exists()


def _three_prompts(shell: str, env: dict[str, str], driver: str) -> list[str]:
    """Run a REFRESH_DRIVER script; the segment before, between and after the changes."""
    result = subprocess.run(
        [SHELL_BINARIES[shell] or shell, "-c", driver],
        capture_output=True,
        text=True,
        env={**env, "PATH": os.environ["PATH"], "NO_COLOR": "1"},
        check=True,
    )
    return [line.strip() for line in result.stdout.splitlines()]


REFRESH_DRIVER = """
{init}
__kubesafe_refresh
first="$KUBESAFE_PROMPT"
{change_one}
__kubesafe_refresh
second="$KUBESAFE_PROMPT"
{change_two}
__kubesafe_refresh
printf '%s\\n%s\\n%s\\n' "$first" "$second" "$KUBESAFE_PROMPT"
"""


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_two_changes_within_one_second_are_both_seen(env: dict[str, str], shell: str) -> None:
    """Freshness does not depend on whole-second mtimes: change, refresh, change, refresh."""
    if SHELL_BINARIES[shell] is None:
        pytest.fail(f"{shell} is not installed")
    kubesafe = Path(sys.executable).parent / "kubesafe"
    real = env["KUBECONFIG"]

    def change(namespace: str) -> str:
        text = KUBECONFIG.format(current="dev").replace("team-a", namespace)
        return f"printf '%s' {prompt.posix_quote(text)} > {prompt.posix_quote(real)}"

    driver = REFRESH_DRIVER.format(
        init=f'eval "$({kubesafe} init {shell})"',
        change_one=change("team-b"),
        change_two=change("team-c"),
    )
    assert _three_prompts(shell, env, driver) == [
        "⎈ dev:team-a",
        "⎈ dev:team-b",
        "⎈ dev:team-c",
    ]


FORK_DRIVER = """
eval "$({kubesafe} init {shell})"
__kubesafe_refresh
sleep 2.2
__kubesafe_refresh
builtin echo START
for i in 1 2 3 4 5 6 7 8 9 10; do __kubesafe_refresh; kubesafe_prompt >/dev/null; done
builtin echo END
"""


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_unchanged_prompt_forks_nothing(env: dict[str, str], shell: str, tmp_path: Path) -> None:
    """strace shows no clone/fork/exec between the markers: ten refreshes, zero processes."""
    binary = SHELL_BINARIES[shell]
    if binary is None:
        pytest.fail(f"{shell} is not installed")
    strace = shutil.which("strace")
    if strace is None:
        pytest.fail("strace is not installed; .ci/run installs Debian's strace")
    kubesafe = Path(sys.executable).parent / "kubesafe"
    log = tmp_path / "strace.log"
    subprocess.run(
        [
            strace,
            "-f",
            "-qq",
            "-o",
            str(log),
            "-e",
            "trace=process,write",
            binary,
            "-c",
            FORK_DRIVER.format(kubesafe=kubesafe, shell=shell),
        ],
        capture_output=True,
        env={**env, "PATH": os.environ["PATH"]},
        check=True,
    )
    lines = log.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if '"START\\n"' in line)
    end = next(i for i, line in enumerate(lines) if '"END\\n"' in line)
    # The shell's own calls: the terminal's API guard (started by the first render,
    # for prod and stage) is another process, and may still be making its certificates.
    shell_pid = lines[start].split()[0]
    spawned = [
        line
        for line in lines[start:end]
        if line.split()[0] == shell_pid
        and any(call in line for call in ("clone", "fork", "execve"))
    ]
    assert spawned == []
    # The guard was started, so each refresh ran its `kill -0` check (a builtin).
    assert any("kubesafe.guard" in line and "execve" in line for line in lines[:start])


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_kubernetes_master_change_is_seen(env: dict[str, str], shell: str) -> None:
    """A context whose cluster is missing goes to $KUBERNETES_MASTER (client-go): a
    server rule there makes it production, and exporting it must reach the prompt."""
    if SHELL_BINARIES[shell] is None:
        pytest.fail(f"{shell} is not installed")
    kubesafe = Path(sys.executable).parent / "kubesafe"
    Path(env["KUBECONFIG"]).write_text(
        KUBECONFIG.format(current="dev").replace(
            "{cluster: c1, user: u, namespace", "{cluster: gone, user: u, namespace"
        )
    )
    Path(env["KUBESAFE_CONFIG"]).write_text("rules:\n  - server: https://prod.example\n")
    driver = REFRESH_DRIVER.format(
        init=f'eval "$({kubesafe} init {shell})"',
        # After two quiet seconds the stamps are exact: only the variable can tell.
        change_one="sleep 2.2; __kubesafe_refresh; export KUBERNETES_MASTER=https://prod.example",
        change_two="unset KUBERNETES_MASTER",
    )
    assert _three_prompts(shell, env, driver) == [
        "⎈ dev:team-a",
        "⎈ PROD dev:team-a",
        "⎈ dev:team-a",
    ]
