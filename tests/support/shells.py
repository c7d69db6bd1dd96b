"""Drive a real interactive bash, zsh or fish through a pseudo-terminal.

Each command is followed by a marker line carrying its exit status, so a test
reads exactly that command's output; the prompt that follows is kept too, so
a test can check what the user would see.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping

import pexpect  # type: ignore[import-untyped]

SHELL_BINARIES = {name: shutil.which(name) for name in ("bash", "zsh", "fish")}
PROMPT_END = ">>> "
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]|[\x01\x02\r]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class InteractiveShell:
    def __init__(self, shell: str, env: Mapping[str, str], init_line: str | None = None) -> None:
        binary = SHELL_BINARIES[shell]
        if binary is None:
            raise RuntimeError(f"{shell} is not installed")
        self.shell = shell
        args = {
            "bash": ["--norc", "--noprofile", "-i"],
            "zsh": ["-f", "-i"],
            "fish": ["--no-config", "-i"],
        }[shell]
        self.child = pexpect.spawn(
            binary, args, env=dict(env), encoding="utf-8", timeout=60, dimensions=(40, 200)
        )
        self._count = 0
        self._prompt_ready = False
        self.last_prompt = ""
        if shell == "fish":
            self.child.sendline("function fish_greeting; end")
        self.run("true")
        if init_line is not None:
            code, output = self.run(init_line)
            if code != 0:
                raise RuntimeError(f"init failed ({code}): {output}")
        prompt = {
            "bash": f"PS1='${{KUBESAFE_PROMPT}}{PROMPT_END}'",
            "zsh": f"setopt prompt_subst; PROMPT='${{KUBESAFE_PROMPT}}{PROMPT_END}'",
            "fish": f"function fish_prompt; kubesafe_prompt; printf '{PROMPT_END}'; end",
        }[shell]
        self.run(prompt)
        self._prompt_ready = True
        self.run("true")

    def run(self, command: str, timeout: float = 60) -> tuple[int, str]:
        """Run one command line; returns (exit status, its output without escapes)."""
        self._count += 1
        marker = f"KSDONE{self._count}"
        status = "$status" if self.shell == "fish" else "$?"
        # Split the marker so the echoed command line itself never matches it.
        self.child.sendline(f"{command}; echo KS'DONE'{self._count}:{status}:")
        self.child.expect(rf"{marker}:(\d+):", timeout=timeout)
        output = strip_ansi(self.child.before or "")
        code = int(self.child.match.group(1))
        if self._prompt_ready:
            self.child.expect_exact(PROMPT_END, timeout=timeout)
            self.last_prompt = strip_ansi(self.child.before or "").strip()
        lines = output.splitlines()
        # Drop the echoed command line (the terminal echoes what was typed).
        body = [line for line in lines if "KS'DONE'" not in line]
        return code, "\n".join(body).strip()

    def prompt(self) -> str:
        """The prompt shown after the last command (segment plus PROMPT_END marker)."""
        return self.last_prompt

    def close(self) -> int | None:
        self.child.sendline("exit")
        self.child.expect(pexpect.EOF, timeout=30)
        self.child.close()
        status: int | None = self.child.exitstatus
        return status
