"""The documented prompt line in real bash and zsh, in front of their default prompts.

Each case reads the prompt the shell draws before and after the line, through a
pseudo-terminal: after must be exactly the segment followed by before. The old,
unbraced line is run too, to show that this comparison catches what it broke.
"""

from __future__ import annotations

import getpass
import os
import re
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect  # type: ignore[import-untyped]
import pytest

from kubesafe.doctor.shells import prompt_line
from tests.support.shells import SHELL_BINARIES, strip_ansi

BIN = str(Path(sys.executable).parent)
KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: dev
contexts:
- name: dev
  context: {cluster: c1, user: u, namespace: team-a}
clusters:
- {name: c1, cluster: {server: "https://127.0.0.1:1"}}
users:
- {name: u, user: {}}
"""
SEGMENT = "⎈ dev:team-a "
OLD_LINE = {
    "bash": "PS1='$KUBESAFE_PROMPT'\"$PS1\"",
    "zsh": "setopt prompt_subst; PROMPT='$KUBESAFE_PROMPT'\"$PROMPT\"",
}
# (shell, the prompt the user had, or None for the shell's own default)
CASES = [
    ("bash", None),  # \s-\v\$
    ("bash", r"\u@\h:\w\$ "),
    ("bash", r"${debian_chroot:+($debian_chroot)}\u@\h:\w\$ "),  # Debian's /etc/skel/.bashrc
    ("zsh", None),  # %m%#
    ("zsh", "%n@%m %1~ %# "),
]
# Every prompt here ends with the shell's "#", "$" or "%" and a space.
PROMPT_END = re.compile(r"[#$%] ")


@pytest.fixture
def env(tmp_path: Path, isolated_home: Path) -> dict[str, str]:
    (tmp_path / "config").write_text(KUBECONFIG)
    return {
        "HOME": str(isolated_home),
        "XDG_CONFIG_HOME": str(isolated_home / ".config"),
        "XDG_CACHE_HOME": str(isolated_home / ".cache"),
        "XDG_STATE_HOME": str(isolated_home / ".local" / "state"),
        "KUBECONFIG": str(tmp_path / "config"),
        "PATH": f"{BIN}:/usr/bin:/bin",
        "TERM": "dumb",
        "LANG": "C.UTF-8",
        # What the prompt shows, not how long it waits: let every render finish.
        "KUBESAFE_PROMPT_WAIT": "60",
    }


class PromptReader:
    def __init__(self, shell: str, env: dict[str, str], cwd: Path) -> None:
        binary = SHELL_BINARIES[shell]
        if binary is None:
            pytest.fail(f"{shell} is not installed; .ci/run installs Debian's {shell}")
        args = ["--norc", "--noprofile", "-i"] if shell == "bash" else ["-f", "-i"]
        self.child = pexpect.spawn(
            binary, args, env=env, cwd=str(cwd), encoding="utf-8", timeout=60, dimensions=(24, 400)
        )
        self.count = 0
        if shell == "zsh":
            # Only the end-of-line mark zsh prints before a prompt; the prompt is untouched.
            self.child.sendline("setopt no_prompt_sp")

    def send(self, line: str) -> str:
        """Run ``line``; returns the prompt drawn after it, escapes removed."""
        self.count += 1
        # Split so the echoed command line never matches.
        self.child.sendline(f"{line}; echo KS'MARK'{self.count}")
        self.child.expect_exact(f"KSMARK{self.count}\r\n")
        self.child.expect(PROMPT_END)
        return strip_ansi((self.child.before or "") + (self.child.after or ""))


@pytest.fixture
def readers() -> Iterator[list[PromptReader]]:
    opened: list[PromptReader] = []
    yield opened
    for reader in opened:
        reader.child.terminate(force=True)


def _reader(
    shell: str, env: dict[str, str], cwd: Path, registry: list[PromptReader]
) -> PromptReader:
    reader = PromptReader(shell, env, cwd)
    registry.append(reader)
    return reader


def _before_and_after(
    shell: str, base: str | None, line: str, env: dict[str, str], cwd: Path, registry: list
) -> tuple[str, str]:
    reader = _reader(shell, env, cwd, registry)
    variable = "PS1" if shell == "bash" else "PROMPT"
    if base is not None:
        quoted = "'" + base.replace("'", "'\\''") + "'"
        reader.send(f"{variable}={quoted}")
    reader.send(f'eval "$(kubesafe init {shell})"')
    before = reader.send("true")
    after = reader.send(line)
    return before, after


@pytest.mark.parametrize(("shell", "base"), CASES)
def test_documented_line_prepends_the_segment_and_keeps_the_prompt(
    shell: str, base: str | None, env: dict[str, str], tmp_path: Path, readers: list
) -> None:
    before, after = _before_and_after(shell, base, prompt_line(shell), env, tmp_path, readers)
    # The prompt the user had really rendered: the shell's name, the user, the host.
    expected_part = {
        ("bash", None): "bash-",
        ("zsh", None): socket.gethostname().split(".")[0],
    }.get((shell, base), getpass.getuser())
    assert expected_part in before, before
    assert after == SEGMENT + before


@pytest.mark.parametrize(("shell", "base"), CASES[:2])
def test_the_old_unbraced_line_loses_the_segment(
    shell: str, base: str | None, env: dict[str, str], tmp_path: Path, readers: list
) -> None:
    """What the braces fix: bash expands \\s or \\u first and reads $KUBESAFE_PROMPTbash.

    (Debian's own prompt starts with ``${debian_chroot...}`` and hid the bug.)
    """
    before, after = _before_and_after(shell, base, OLD_LINE[shell], env, tmp_path, readers)
    assert SEGMENT.strip() not in after
    assert after != SEGMENT + before


def test_every_place_that_shows_the_line_uses_the_braced_form() -> None:
    root = Path(__file__).resolve().parents[2]
    import subprocess

    texts = {
        name: (root / name).read_text(encoding="utf-8")
        for name in ("README.md", "docs/index.md", "docs/shell.md", "docs/troubleshooting.md")
    }
    texts["kubesafe init --help"] = subprocess.run(
        [sys.executable, "-m", "kubesafe", "init", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    ).stdout
    for name, text in texts.items():
        assert "'$KUBESAFE_PROMPT'" not in text, name
    for name in ("README.md", "docs/index.md", "docs/shell.md", "kubesafe init --help"):
        assert prompt_line("bash") in texts[name], name
    for name in ("docs/index.md", "docs/shell.md", "kubesafe init --help"):
        assert prompt_line("zsh") in texts[name], name
