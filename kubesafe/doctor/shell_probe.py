"""Ask the user's interactive shell what ``kubectl`` means there.

A child process cannot see its parent shell's functions and aliases, so this
starts the shell the user works in (``-i``: it reads the rc files) and has it
describe ``kubectl`` itself: what runs first, every alias, and whether kubectl
completion is registered. Its output is split at marker lines, so whatever the
rc files print does not confuse the parser.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

MARKER = "@@kubesafe-doctor@@"
# Stands in for the segment while the shell expands its prompt: does it come out?
SEGMENT_MARKER = "@@kubesafe-segment@@"
TIMEOUT = 8.0

# The prompt as the rc files left it; then, when it mentions the segment, the prompt
# expanded as the shell would show it, with the segment set to SEGMENT_MARKER and the
# refresh stubbed out (nothing is rendered for real, no kubesafe process is started).
_STUB = f"KUBESAFE_PROMPT={SEGMENT_MARKER}; __kubesafe_refresh() {{ :; }}"
_PROMPT_PARTS = {
    "bash": (
        "printf '%s\\n' \"${PS1-}\"",
        "[[ ${PS1-} == *KUBESAFE_PROMPT* || ${PS1-} == *kubesafe_prompt* ]] && "
        f'{{ {_STUB}; eval \'printf "<%s>\\n" "${{PS1@P}}"\'; }}',
    ),
    "zsh": (
        'print -r -- "${PROMPT-}"',
        "[[ ${PROMPT-} == *(KUBESAFE_PROMPT|kubesafe_prompt)* ]] && "
        f'{{ {_STUB}; print -rP -- "<$PROMPT>"; }}',
    ),
    "fish": (
        "functions fish_prompt",
        "functions fish_prompt | string match -qr 'KUBESAFE_PROMPT|kubesafe_prompt'; and begin; "
        f"set -g KUBESAFE_PROMPT {SEGMENT_MARKER}; function __kubesafe_refresh; end; "
        "printf '<'; fish_prompt; printf '>\\n'; end",
    ),
}


def _section(name: str, shell: str) -> str:
    if shell == "bash":
        return f"printf '\\n%s\\n' '{MARKER} {name}'"
    return f"echo '{MARKER} {name}'"


def script(shell: str) -> str:
    if shell == "bash":
        parts = [
            ("type", "type -a kubectl 2>/dev/null"),
            ("alias", "alias"),
            ("complete", "complete -p kubectl 2>/dev/null"),
        ]
    elif shell == "zsh":
        parts = [
            ("type", "whence -va kubectl 2>/dev/null"),
            ("function", "functions kubectl 2>/dev/null"),
            ("alias", "alias"),
            ("complete", 'print -r -- "${_comps[kubectl]-}"'),
        ]
    else:
        parts = [
            ("type", "type -a kubectl 2>/dev/null"),
            ("alias", "alias"),
            (
                "complete",
                "complete -c kubectl; for d in $fish_complete_path; "
                "test -f $d/kubectl.fish; and echo $d/kubectl.fish; end",
            ),
        ]
    raw, rendered = _PROMPT_PARTS[shell]
    parts += [("prompt", raw), ("prompt-rendered", rendered)]
    lines = [f"{_section(name, shell)}; {command}" for name, command in parts]
    lines.append(_section("end", shell))
    return "\n".join(lines)


@dataclass(frozen=True)
class Entry:
    """One meaning of ``kubectl`` in the shell, in the order the shell tries them."""

    kind: str  # "alias", "function", "file", "builtin"
    text: str  # alias value, function body, or path


@dataclass(frozen=True)
class ShellReport:
    shell: str
    entries: tuple[Entry, ...]
    aliases: tuple[tuple[str, str], ...]
    completion: str  # what the shell reports as kubectl's completion; "" when none
    prompt: str = ""  # PS1 (bash), PROMPT (zsh) or the fish_prompt function, as the rc left it
    # That prompt as the shell shows it, SEGMENT_MARKER standing for the segment; None when
    # the prompt does not mention the segment or the shell cannot expand it (bash < 4.4).
    prompt_rendered: str | None = None


class ProbeError(Exception):
    """The shell could not be asked; one line."""


def split_sections(output: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        if line.startswith(MARKER + " "):
            current = sections.setdefault(line[len(MARKER) + 1 :].strip(), [])
            continue
        if current is not None:
            current.append(line)
    return sections


def _header_kind(rest: str) -> tuple[str, str]:
    """(kind, alias value or path) from the text after ``kubectl is ``."""
    if rest.startswith("aliased to `"):
        return "alias", rest[len("aliased to `") :].removesuffix("'")
    if rest.startswith("an alias for "):
        return "alias", rest[len("an alias for ") :]
    if rest.startswith("hashed ("):
        return "file", rest[len("hashed (") :].removesuffix(")")
    if rest.startswith(("/", "./")) or (len(rest) > 2 and rest[1:3] == ":\\"):
        return "file", rest
    if "function" in rest:
        return "function", ""
    return "builtin", rest


def parse_type(lines: list[str], function_body: list[str] | None = None) -> tuple[Entry, ...]:
    """Entries from ``type -a kubectl`` (bash, fish) or ``whence -va kubectl`` (zsh)."""
    entries: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith("kubectl is "):
            kind, text = _header_kind(line[len("kubectl is ") :].strip())
            entries.append((kind, [text] if text else []))
        elif entries and entries[-1][0] == "function":
            entries[-1][1].append(line)
    result = []
    for kind, body in entries:
        if kind == "function" and function_body is not None:
            body = function_body
        result.append(Entry(kind, "\n".join(body).strip()))
    return tuple(result)


def _unquote(text: str) -> str:
    try:
        return " ".join(shlex.split(text))
    except ValueError:
        return text


def parse_aliases(shell: str, lines: list[str]) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for line in lines:
        if shell == "fish":
            try:
                words = shlex.split(line)
            except ValueError:
                continue
            if len(words) >= 3 and words[0] == "alias":
                found.append((words[1], " ".join(words[2:])))
            continue
        text = line.removeprefix("alias ") if shell == "bash" else line
        name, equals, value = text.partition("=")
        if equals and name and " " not in name:
            found.append((name, _unquote(value)))
    return tuple(found)


def _framed(lines: list[str]) -> str | None:
    """The text between the ``<`` and ``>`` the probe printed around it, if it did."""
    text = "\n".join(lines).strip("\n")
    if len(text) >= 2 and text.startswith("<") and text.endswith(">"):
        return text[1:-1]
    return None


def _run(argv: list[str], env: Mapping[str, str], timeout: float) -> str:
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=dict(env),
        # Its own session: an interactive shell must not take over our terminal.
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise ProbeError(f"{argv[0]} -i did not answer within {timeout:g}s") from None
    return output.decode("utf-8", "replace")


def probe(shell: str, env: Mapping[str, str], timeout: float = TIMEOUT) -> ShellReport:
    """What ``kubectl`` means in an interactive ``shell``. Raises ProbeError."""
    binary = shutil.which(shell, path=env.get("PATH"))
    if binary is None:
        raise ProbeError(f"{shell} is not on PATH")
    try:
        output = _run([binary, "-i", "-c", script(shell)], env, timeout)
    except OSError as exc:
        raise ProbeError(f"cannot run {binary}: {exc.strerror or exc}") from None
    sections = split_sections(output)
    if "end" not in sections:
        raise ProbeError(f"{shell} -i stopped before answering (an error in its rc file?)")
    body = sections.get("function") if shell == "zsh" else None
    return ShellReport(
        shell=shell,
        entries=parse_type(sections.get("type", []), body),
        aliases=parse_aliases(shell, sections.get("alias", [])),
        completion="\n".join(sections.get("complete", [])).strip(),
        prompt="\n".join(sections.get("prompt", [])).strip("\n"),
        prompt_rendered=_framed(sections.get("prompt-rendered", [])),
    )
