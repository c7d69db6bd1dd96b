"""Ask a human on the controlling terminal, never on stdin.

stdin belongs to kubectl (``cat app.yaml | kubectl apply -f -``) and a pipe
must never be able to answer (``printf y | kubectl delete ...``), so the banner
and the question go to ``/dev/tty`` (``CONIN$``/``CONOUT$`` on Windows) and the
answer comes from there. No terminal means no human: the caller refuses.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

MAX_ANSWER = 4096

_COLOURS = {
    "production": "RED",
    "prod": "RED",
    "staging": "YELLOW",
    "stage": "YELLOW",
    "qa": "CYAN",
    "test": "CYAN",
    "dev": "GREEN",
    "development": "GREEN",
}


@dataclass
class Terminal:
    reader: IO[str]
    writer: IO[str]

    def write(self, text: str) -> None:
        self.writer.write(text)
        self.writer.flush()

    def readline(self) -> str | None:
        """One line typed by the user; None on end of input or Ctrl+C."""
        try:
            line = self.reader.readline(MAX_ANSWER)
        except KeyboardInterrupt:
            self.write("\n")
            return None
        except OSError:
            return None
        return line if line else None

    def close(self) -> None:
        for stream in {id(self.reader): self.reader, id(self.writer): self.writer}.values():
            try:
                stream.close()
            except OSError:
                pass


def open_terminal() -> Terminal | None:
    """The controlling terminal, or None when there is none (CI, cron, editors)."""
    try:
        if os.name == "nt":
            reader = open("CONIN$", encoding="utf-8", errors="replace")  # noqa: SIM115
            writer = open("CONOUT$", "w", encoding="utf-8", errors="replace")  # noqa: SIM115
            return Terminal(reader, writer)
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    # A terminal is not seekable, so it cannot be one "r+" text stream: read and write apart.
    reader = open(fd, encoding="utf-8", errors="replace")  # noqa: SIM115
    writer = open(os.dup(fd), "w", encoding="utf-8", errors="replace")  # noqa: SIM115
    return Terminal(reader, writer)


def colour_name(environment: str | None) -> str:
    return _COLOURS.get((environment or "").lower(), "MAGENTA")


def paint(text: str, environment: str | None, env: Mapping[str, str]) -> str:
    if env.get("NO_COLOR"):
        return text
    from colorama import Fore, Style

    if os.name == "nt":
        from colorama import just_fix_windows_console

        just_fix_windows_console()
    colour: str = getattr(Fore, colour_name(environment))
    return f"{Style.BRIGHT}{colour}{text}{Style.RESET_ALL}"


@dataclass(frozen=True)
class Question:
    environment: str
    context: str
    cluster: str
    server: str
    namespace: str
    argv: tuple[str, ...]
    category: str
    level: str  # "confirm" or "typed"
    label: str  # what a typed confirmation must match
    alternatives: tuple[str, ...] = ()
    program: str = "kubectl"
    details: tuple[tuple[str, str], ...] = ()  # extra rows, e.g. helm's release and chart
    reason: str = ""  # what the command does, in words: "deletes objects"


def banner(question: Question, env: Mapping[str, str]) -> str:
    title = f" {question.environment.upper()} "
    rows = [
        ("environment", question.environment),
        ("context", question.context or "(none)"),
        ("cluster", f"{question.cluster or '(none)'}  {question.server}"),
        ("namespace", question.namespace),
        *question.details,
        ("command", f"{question.program} " + shlex.join(question.argv)),
        (
            "class",
            f"{question.category} ({question.reason})" if question.reason else question.category,
        ),
    ]
    lines = [paint(f"=== kubesafe: {title}target ===", question.environment, env)]
    lines += [f"  {name:<12}{value}" for name, value in rows]
    for alternative in question.alternatives:
        lines.append(
            f"  {'or maybe':<12}{alternative}  (an unknown flag makes the target uncertain)"
        )
    return "\n".join(lines) + "\n"


def ask(terminal: Terminal, question: Question, env: Mapping[str, str]) -> bool:
    """Show the banner and ask; True only for a deliberate yes."""
    terminal.write(banner(question, env))
    if question.level == "typed":
        terminal.write(f"Type {paint(question.label, question.environment, env)} to proceed: ")
        answer = terminal.readline()
        return answer is not None and answer.rstrip("\r\n") == question.label
    terminal.write("Proceed? [y/N] ")
    answer = terminal.readline()
    return answer is not None and answer.strip().lower() in ("y", "yes")
