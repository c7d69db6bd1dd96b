"""The tour's terminal steps: two bash terminals with the shell integration, side by side.

They show what the piped steps cannot: each terminal's own context, the prompt
segment following it, and the confirmation banner on the terminal, answered by
typing the context's name (the tour types it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from kubesafe.demo.terminal import PseudoTerminal, TerminalError, clean

READ_TIMEOUT = 60.0
# The demo rc's prompt: `${KUBESAFE_PROMPT}(kubesafe demo) \W \$ `
PROMPT = re.compile(r"\(kubesafe demo\) [^\n]*[#$] ")
QUESTION = re.compile(r"to proceed: |\[y/N\] ")


@dataclass(frozen=True)
class TerminalStep:
    title: str
    terminal: str  # which terminal, "A" or "B"
    line: str  # typed at its prompt
    texts: tuple[str, ...] = ()  # must appear on the terminal
    answer: str = ""  # typed at kubesafe's question, when one is expected
    result: str = ""  # must appear too, when a kubectl could run

    def problem(self, shown: str, have_kubectl: bool) -> str:
        wanted = (*self.texts, self.result) if have_kubectl and self.result else self.texts
        for text in wanted:
            if text not in shown:
                return f"the terminal lacks {text!r}"
        return ""


TERMINAL_STEPS = (
    TerminalStep(
        "Two terminals open side by side, both on dev. In terminal A, switch to prod: "
        "only A switches, and its prompt says PROD (in red)",
        "A",
        "kubesafe ctx prod",
        texts=("⎈ PROD prod:default (kubesafe demo)",),
    ),
    TerminalStep(
        "Terminal B is still on dev: each terminal has its own context",
        "B",
        "kubesafe ctx -c",
        texts=("⎈ dev:default (kubesafe demo)", "\ndev\n"),
    ),
    TerminalStep(
        "On a terminal kubesafe asks instead of refusing: the banner, then the context's name "
        "typed (the tour types prod)",
        "A",
        "kubectl delete pod web-1",
        texts=("=== kubesafe:", "context     prod", "Type prod to proceed: prod"),
        answer="prod",
        result='pod "web-1" deleted',
    ),
)


class DemoTerminals:
    """The tour's terminals, opened together on first use; always :meth:`close`."""

    def __init__(
        self, bash: str, rc_file: str, env: Mapping[str, str], *, colour: bool = False
    ) -> None:
        self.command = [bash, "--rcfile", rc_file, "-i"]
        self.env = {**env, "TERM": "dumb"}
        if not colour:
            self.env["NO_COLOR"] = "1"
        self.colour = colour
        self.terminals: dict[str, PseudoTerminal] = {}
        self.prompts: dict[str, str] = {}

    def _open(self, names: tuple[str, ...]) -> None:
        for name in names:
            terminal = PseudoTerminal(self.command, self.env)
            self.terminals[name] = terminal
            terminal.start()
        for name in names:
            shown = self.terminals[name].read_until(PROMPT, READ_TIMEOUT)
            self.prompts[name] = clean(shown, colour=True).rsplit("\n", 1)[-1]

    def run(self, step: TerminalStep) -> str:
        """What the terminal shows for the step: prompt, typed line, output, next prompt."""
        if not self.terminals:
            self._open(("A", "B"))
        terminal = self.terminals[step.terminal]
        terminal.type(step.line + "\r")
        shown = self.prompts[step.terminal]
        if step.answer:
            shown += terminal.read_until(QUESTION, READ_TIMEOUT)
            terminal.type(step.answer + "\r")
        shown += terminal.read_until(PROMPT, READ_TIMEOUT)
        text = clean(shown, colour=self.colour)
        self.prompts[step.terminal] = clean(shown, colour=True).rsplit("\n", 1)[-1]
        return text

    def close(self) -> None:
        for terminal in self.terminals.values():
            terminal.close()
        self.terminals.clear()


__all__ = ["TERMINAL_STEPS", "DemoTerminals", "TerminalError", "TerminalStep"]
