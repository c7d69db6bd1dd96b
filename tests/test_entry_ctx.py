"""``kubesafe ctx NAME [--global]`` without click: the same output, exit code and files as click's.

Two copies of one world (kubeconfig, policy, state, cache) take the same commands, one
through the entry point's fast path and one through click; after every step both must
have printed the same, exited the same and left the same kubeconfig and switch state.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubesafe.shell import session
from kubesafe.shell.names import SESSION_VARIABLE
from tests.support.cli_world import cli_world

# Both runners let the parsed-file cache keep files this young, so that a warm call
# is warm here too (the cache's racy-file wait would otherwise parse the policy again).
_SETUP = (
    "import os, sys; sys.argv[0] = 'kubesafe'\n"
    "import kubesafe.kubeconfig.cache as c; c.RACY_SECONDS = 0\n"
)
FAST = _SETUP + (
    "from kubesafe.entry import main\n"
    "rc = main()\n"
    "loaded = [m for m in ('click', 'yaml', 'dataclasses') if m in sys.modules]\n"
    "open(os.environ['PROBE'], 'w').write(' '.join(loaded))\n"
    "sys.exit(rc)\n"
)
CLICK = _SETUP + "from kubesafe.cli import main\nsys.exit(main())\n"

BLOCK = """\
apiVersion: v1
clusters:
- cluster:
    server: https://127.0.0.1:1
  name: c1
- cluster:
    server: https://127.0.0.1:2
  name: c2
- cluster:
    server: https://127.0.0.1:2/
  name: c3
contexts:
- context:
    cluster: c1
    namespace: team-a
    user: u
  name: dev
- context:
    cluster: c2
    user: u
  name: prod
- context:
    cluster: c3
    user: u
  name: sneaky
- context:
    cluster: c1
    user: u
  name: "yes"
current-context: dev
kind: Config
preferences: {}
users:
- name: u
  user:
    token: secret
"""
# Flow style: the general (event-checked) edit, not the one-line one.
FLOW = BLOCK.replace("- name: u\n  user:\n    token: secret\n", "- {name: u, user: {}}\n")
FLOW = FLOW.replace("preferences: {}", "preferences: {colors: true}  # kept")

STEPS = [
    ["prod"],  # protected: the notice
    ["dev", "--global"],
    ["--global", "sneaky"],  # the same endpoint as prod: protected too
    ["-"],
    ["-", "--global"],
    ["dev"],
    ["dev"],  # already current
    ["nope"],  # kubectx's error, exit 1
    ["nope", "--global"],
    ["\x1b[31mred"],  # click drops the colour codes of an error off a terminal
    ["yes"],  # a name YAML would read as a boolean: quoted
    ["staging=dev"],  # a rename
    ["staging"],
    ["a b"],
]


def _world(root: Path, config: str) -> dict[str, str]:
    return cli_world(root, config, "rules:\n  - context: prod\n")


def _run(code: str, env: dict[str, str], args: list[str], root: Path) -> tuple[object, ...]:
    done = subprocess.run(
        [sys.executable, "-c", code, "ctx", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    names = [env.get(SESSION_VARIABLE, ""), str(root)]

    def plain(text: str) -> str:
        for name, mark in zip(names, ["<session>", "<world>"], strict=True):
            text = text.replace(name, mark) if name else text
        return text

    files = []
    for name in env["KUBECONFIG"].split(os.pathsep):
        path = Path(name)
        files.append(plain(path.read_text()) if path.exists() else None)
    state = sorted(
        (plain(str(p.relative_to(root))), p.read_text()) for p in root.rglob("switch.json")
    )
    return done.returncode, plain(done.stdout), plain(done.stderr), files, state


def _compare(tmp_path: Path, config: str, *, terminal: bool = False, extra: str = "") -> list[str]:
    """Run STEPS both ways; returns what the fast path had loaded at each step."""
    roots = [tmp_path / "fast", tmp_path / "click"]
    envs = [_world(root, config) for root in roots]
    if extra:
        for env in envs:
            env["KUBECONFIG"] = os.pathsep.join([env["KUBECONFIG"], env["HOME"] + extra])
    if terminal:
        for env in envs:
            directory, kubeconfig = session.start_session(os.getpid(), env)
            env.update({"KUBECONFIG": kubeconfig, SESSION_VARIABLE: directory})
    loaded = []
    for args in STEPS:
        fast = _run(FAST, envs[0], args, roots[0])
        slow = _run(CLICK, envs[1], args, roots[1])
        assert fast == slow, args
        probe = Path(envs[0]["PROBE"])
        loaded.append(probe.read_text())
        probe.unlink()
    return loaded


@pytest.mark.parametrize("config", [BLOCK, FLOW], ids=["block", "flow"])
def test_without_the_integration_as_click_runs_it(tmp_path: Path, config: str) -> None:
    loaded = _compare(tmp_path, config)
    assert all("click" not in step for step in loaded)
    if config is BLOCK:
        # Warm (the policy cached by the first call): neither PyYAML nor dataclasses, but
        # for the rename and the name with an escape, which the event-checked edit writes.
        general = [STEPS.index(["\x1b[31mred"]), STEPS.index(["staging=dev"])]
        expected = ["yaml" if i in general else "" for i in range(1, len(STEPS))]
        assert loaded[1:] == expected, loaded


def test_in_a_terminal_as_click_runs_it(tmp_path: Path, isolated_home: Path) -> None:
    loaded = _compare(tmp_path, BLOCK, terminal=True)
    assert all("click" not in step for step in loaded)


def test_with_a_missing_kubeconfig_named_as_click_names_it(tmp_path: Path) -> None:
    loaded = _compare(tmp_path, BLOCK, extra="/missing")
    assert all("click" not in step for step in loaded)


def test_the_outputs_compared_are_the_real_ones(tmp_path: Path) -> None:
    """The comparison above is worth something only if the steps do what they say."""
    root = tmp_path / "one"
    env = _world(root, BLOCK)
    protected = _run(FAST, env, ["prod"], root)
    assert protected[0] == 0 and 'Switched to context "prod".' in str(protected[2])
    assert "PRODUCTION" in str(protected[2])
    assert protected[3] == [BLOCK.replace("current-context: dev", "current-context: prod")]
    endpoint = _run(FAST, env, ["sneaky", "--global"], root)
    assert "sneaky" in str(endpoint[2]) and "PRODUCTION" in str(endpoint[2])
    unknown = _run(FAST, env, ["\x1b[31mred"], root)
    assert unknown[:2] == (1, "")
    assert unknown[2] == 'kubesafe: no context exists with the name: "red"\n'
    quoted = _run(FAST, env, ["yes"], root)
    assert quoted[3] == [BLOCK.replace("current-context: dev", 'current-context: "yes"')]


@pytest.mark.parametrize(
    "args",
    [["--global"], ["-c"], ["a", "b"], ["--", "dev"], ["-d", "dev"], ["--global", "--global"]],
)
def test_other_forms_go_to_click(tmp_path: Path, args: list[str]) -> None:
    root = tmp_path / "one"
    env = _world(root, BLOCK)
    _run(FAST, env, args, root)
    assert "click" in Path(env["PROBE"]).read_text()
