"""``kubesafe explain`` without click: the same output and exit code as click's, always.

Each command line runs twice in one world, once through the entry point's fast path and
once through click; both must print the same on both streams and exit the same. The
forms the fast path does not read (help, ``--json=...``, a short group holding ``-h``)
must reach click.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubesafe.commands.explain_entry import parse
from tests.support.cli_world import cli_world

_SETUP = "import os, sys; sys.argv[0] = 'kubesafe'\n"
FAST = _SETUP + (
    "from kubesafe.entry import main\n"
    "rc = main()\n"
    "open(os.environ['PROBE'], 'w').write('click' if 'click' in sys.modules else '')\n"
    "sys.exit(rc)\n"
)
CLICK = _SETUP + "from kubesafe.cli import main\nsys.exit(main())\n"

CONFIG = """\
apiVersion: v1
kind: Config
clusters:
- {name: c1, cluster: {server: "https://127.0.0.1:1"}}
- {name: c2, cluster: {server: "https://127.0.0.1:2"}}
contexts:
- {name: dev, context: {cluster: c1, user: u, namespace: team-a}}
- {name: prod, context: {cluster: c2, user: u}}
current-context: dev
users:
- {name: u, user: {token: secret}}
"""

STEPS = [
    [],
    ["--", "get", "pods"],
    ["--", "--context", "prod", "delete", "pod", "web-0"],
    ["--json", "--", "--context", "prod", "delete", "pod", "web-0"],
    ["--context=prod", "apply", "-f", "x.yaml"],  # no "--": click keeps unknown options
    ["get", "pods", "--json"],  # explain's flag after the words is still explain's
    ["-n", "shop", "get", "pods", "--", "--json"],  # after "--" it is kubectl's
    ["--jsonx", "get", "pods"],
    ["-1", "-", "get"],
    ["--", "-h", "--help"],
    ["--helm", "--", "--kube-context", "prod", "uninstall", "web"],
    ["--helm", "--json", "--", "list"],
    ["--preview", "--", "--context", "dev", "get", "pods"],
    ["--", "--context", "nope", "get", "pods"],
    ["--", "--kubeconfig", "/missing/config", "get", "pods"],
    ["--", "--context", "\x1b[31mred", "get", "pods"],  # click strips colour off a terminal
    ["--", "--context", "it's", "get", "pods"],  # shell quoting of the command line
    ["--", "--context", "", "get", "pods"],
]


def _world(root: Path, policy: str) -> dict[str, str]:
    return cli_world(root, CONFIG, policy)


def _run(code: str, env: dict[str, str], args: list[str]) -> tuple[int, str, str, bool]:
    done = subprocess.run(
        [sys.executable, "-c", code, "explain", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    probe = Path(env["PROBE"])
    loaded_click = probe.exists() and probe.read_text() == "click"
    probe.unlink(missing_ok=True)
    return done.returncode, done.stdout, done.stderr, loaded_click


@pytest.mark.parametrize(
    "policy",
    ["rules:\n  - context: prod\n", "rules: [\n"],
    ids=["policy", "broken-policy"],
)
def test_every_step_as_click_runs_it(tmp_path: Path, policy: str) -> None:
    env = _world(tmp_path, policy)
    for args in STEPS:
        *fast, loaded_click = _run(FAST, env, args)
        *slow, _ = _run(CLICK, env, args)
        assert fast == slow, args
        # Colour codes are the one output left to click.echo (it strips them off a terminal).
        assert loaded_click == any("\x1b" in arg for arg in args), args


def test_the_outputs_compared_are_the_real_ones(tmp_path: Path) -> None:
    env = _world(tmp_path, "rules:\n  - context: prod\n")
    code, out, err, _ = _run(FAST, env, ["--", "--context", "prod", "delete", "pod", "web-0"])
    assert code == 0 and err == ""
    assert "command:     kubectl --context prod delete pod web-0" in out
    assert "https://127.0.0.1:2" in out
    code, out, _, _ = _run(FAST, env, ["--json", "--", "get", "pods"])
    assert code == 0 and out.lstrip().startswith("{") and '"namespace": "team-a"' in out
    quoted = _run(FAST, env, ["--", "--context", "it's", "get", "pods"])[1]
    assert "--context 'it'\"'\"'s' get pods" in quoted
    broken = _world(tmp_path / "broken", "rules: [\n")
    assert _run(FAST, broken, ["--", "get", "pods"])[0] == 1


@pytest.mark.parametrize(
    "args", [["-h"], ["--help"], ["get", "--help"], ["--json=1"], ["-nh"], ["--preview=x"]]
)
def test_help_and_odd_forms_go_to_click(tmp_path: Path, args: list[str]) -> None:
    env = _world(tmp_path, "rules: []\n")
    fast = _run(FAST, env, args)
    assert fast[3], args
    assert fast[:3] == _run(CLICK, env, args)[:3]


@pytest.mark.parametrize(
    ("args", "flags", "words"),
    [
        (["--", "--json"], set(), ["--json"]),
        (["--json", "get", "--", "--helm"], {"--json"}, ["get", "--helm"]),
        (["get", "--preview", "-n", "x"], {"--preview"}, ["get", "-n", "x"]),
        (["--", "--", "x"], set(), ["--", "x"]),
        (["-", "-1"], set(), ["-", "-1"]),
    ],
)
def test_parse_reads_as_click(args: list[str], flags: set[str], words: list[str]) -> None:
    assert parse(args) == (frozenset(flags), words)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=8) | st.sampled_from(["", "a b", "it's", "x=y", "é", "-n"])))
def test_the_command_line_is_quoted_as_shlex_quotes_it(words: list[str]) -> None:
    """explain quotes without shlex (which imports re); the output must not change."""
    from kubesafe.commands.explain import _shell_join

    assert _shell_join(words) == shlex.join(words)
