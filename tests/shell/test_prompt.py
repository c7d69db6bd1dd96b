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
        # Wait for every render: these tests check freshness, not the wait (see below).
        "KUBESAFE_PROMPT_WAIT": "60",
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


# -- after a change to a big kubeconfig: the prompt does not wait for the render ---------

BIG_DRIVER = """
{load}
{init}
KUBESAFE_PROMPT_WAIT=600 __kubesafe_refresh  # the first render of 10,000 contexts: wait
before="$KUBESAFE_PROMPT"
cp {switched} {config}
__kubesafe_refresh
marked="$KUBESAFE_PROMPT" fd=$__kubesafe_fd
__kubesafe_refresh
again="$KUBESAFE_PROMPT"
[[ $__kubesafe_fd == "$fd" ]] && same=same-render || same=another-render
KUBESAFE_PROMPT_WAIT=600 __kubesafe_refresh
printf '%s\\n' "$before" "$marked" "${{fd:+pending}}" "$again" "$same" "$KUBESAFE_PROMPT"
"""


@pytest.fixture(scope="module")
def big_kubeconfigs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """10,000 contexts (14.6 MB), and the same file with ctx-0 in another namespace."""
    from benchmarks.kubeconfig_write import generate

    directory = tmp_path_factory.mktemp("big")
    text = generate(10_000)
    first, second = directory / "team-0", directory / "moved"
    first.write_text(text)
    old = "    namespace: team-0\n    user: user-0\n"
    assert text.count(old) == 1
    second.write_text(text.replace(old, "    namespace: moved\n    user: user-0\n"))
    return str(first), str(second)


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_a_change_to_10000_contexts_shows_the_last_segment_marked_until_the_render_answers(
    env: dict[str, str], shell: str, big_kubeconfigs: tuple[str, str]
) -> None:
    """The render of a 14.6 MB kubeconfig takes far longer than the prompt's 30 ms wait:
    the prompt comes back with the last segment and the refreshing marker, never the old
    segment as if it were current, starts no second render, and the answer lands later."""
    if SHELL_BINARIES[shell] is None:
        pytest.fail(f"{shell} is not installed")
    first, switched = big_kubeconfigs
    shutil.copy(first, env["KUBECONFIG"])
    env = {key: value for key, value in env.items() if key != "KUBESAFE_PROMPT_WAIT"}
    kubesafe = Path(sys.executable).parent / "kubesafe"
    driver = BIG_DRIVER.format(
        load="zmodload zsh/datetime" if shell == "zsh" else "",
        init=f'eval "$({kubesafe} init {shell})"',
        switched=prompt.posix_quote(switched),
        config=prompt.posix_quote(env["KUBECONFIG"]),
    )
    assert _three_prompts(shell, env, driver) == [
        "⎈ ctx-0:team-0",
        f"⎈ ctx-0:team-0 {prompt.REFRESHING}",
        "pending",
        f"⎈ ctx-0:team-0 {prompt.REFRESHING}",
        "same-render",
        "⎈ ctx-0:moved",
    ]


def test_zsh_redraws_the_prompt_when_the_background_render_answers(
    env: dict[str, str], big_kubeconfigs: tuple[str, str]
) -> None:
    """In zsh the line editor watches the render's pipe: no key press is needed."""
    from tests.support.shells import PROMPT_END, InteractiveShell

    if SHELL_BINARIES["zsh"] is None:
        pytest.fail("zsh is not installed")
    first, switched = big_kubeconfigs
    shutil.copy(first, env["KUBECONFIG"])
    env = {key: value for key, value in env.items() if key != "KUBESAFE_PROMPT_WAIT"}
    env.update(PATH=os.environ["PATH"], NO_COLOR="1", TERM="dumb", LANG="C.UTF-8")
    kubesafe = Path(sys.executable).parent / "kubesafe"
    shell = InteractiveShell("zsh", env, f'eval "$({kubesafe} init zsh)"')
    try:
        shell.child.expect_exact(f"⎈ ctx-0:team-0 {PROMPT_END}", timeout=120)
        shell.run(f"cp {prompt.posix_quote(switched)} {prompt.posix_quote(env['KUBECONFIG'])}")
        assert shell.prompt().endswith(f"⎈ ctx-0:team-0 {prompt.REFRESHING}")
        # Nothing is typed: the prompt is drawn again once the render answers.
        shell.child.expect_exact(f"⎈ ctx-0:moved {PROMPT_END}", timeout=120)
    finally:
        shell.child.terminate(force=True)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_a_new_terminal_has_its_segment_before_the_first_prompt(
    env: dict[str, str], shell: str
) -> None:
    """init renders once as the shell starts, so the first prompt never shows only the
    marker; that first prompt may still render again (the terminal's file is brand new)."""
    if SHELL_BINARIES[shell] is None:
        pytest.fail(f"{shell} is not installed")
    kubesafe = Path(sys.executable).parent / "kubesafe"
    env = {key: value for key, value in env.items() if key != "KUBESAFE_PROMPT_WAIT"}
    if shell == "fish":
        script = f"{kubesafe} init fish | source; printf '%s\\n' \"$KUBESAFE_PROMPT\""
        command = [SHELL_BINARIES[shell] or shell, "--no-config", "-c", script]
    else:
        script = f'eval "$({kubesafe} init {shell})"; printf "%s\\n" "$KUBESAFE_PROMPT"'
        command = [SHELL_BINARIES[shell] or shell, "-c", script]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**env, "PATH": os.environ["PATH"], "NO_COLOR": "1", "LANG": "C.UTF-8"},
        check=True,
    )
    assert done.stdout == "⎈ dev:team-a \n"
