"""Does this command run in a coding agent's session rather than a person's?

An agent that runs commands in a pseudo-terminal can type "y" or a context's name
as well as a person can, so a terminal is no proof of a human there. kubesafe
refuses its confirmations (and the ``KUBESAFE_CONFIRM`` override, which an agent
can set as easily) when a session shows an agent.

Two kinds of evidence, both best effort and documented as such in
docs/security.md: the environment markers agents set for the commands they run,
and the names and starting environments of the processes this command descends
from (which survive an ``unset`` or an ``env -i``). Neither stops an agent that
is trying to hide; the per-terminal guard's lifts and a person's own terminal are
the boundary, not this module.
Only the confirmation path calls it, never the hot path.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Mapping

EXPLICIT_VARIABLE = "KUBESAFE_AGENT"

# Environment markers that coding agents set for the shell commands they run.
# Generic conventions first (AI_AGENT, AGENT), then tool-specific ones.
AGENT_VARIABLES = (
    EXPLICIT_VARIABLE,
    "AI_AGENT",
    "AGENT",
    "CLAUDECODE",
    "CLAUDE_CODE_ENTRYPOINT",
    "CURSOR_AGENT",
    "CODEX_SANDBOX",
    "CODEX_THREAD_ID",
    "GEMINI_CLI",
    "AUGMENT_AGENT",
    "OPENCODE",
    "OPENCODE_CLIENT",
    "AMP_CURRENT_THREAD_ID",
    "GOOSE_TERMINAL",
    "ANTIGRAVITY_AGENT",
    "COPILOT_AGENT",
)

# Process names (the kernel's 15-character ``comm``) of agent programs.
AGENT_PROCESSES = frozenset(
    {"claude", "codex", "cursor-agent", "gemini", "aider", "goose", "opencode", "amp", "kilo"}
)

_MAX_ANCESTORS = 64
# Bytes of an ancestor's environment read (Linux caps argv plus environment near 2 MiB).
_MAX_ENVIRON = 1 << 20


def agent_marker(env: Mapping[str, str], proc: str = "/proc") -> str | None:
    """What shows an agent here (``"CLAUDECODE=1"``, ``"parent process codex"``), or None."""
    found = _marker_in(env)
    if found is not None:
        return found
    for pid, command in _ancestors(proc):
        if command in AGENT_PROCESSES:
            return f"parent process {command!r}"
        # The environment an ancestor started with: ``unset CLAUDECODE`` or ``env -i``
        # clean this command's environment, not the agent shell's it runs under.
        inherited = _marker_in(_environ(proc, pid))
        if inherited is not None:
            return f"{inherited} in the environment of parent process {command!r}"
    return None


def _marker_in(env: Mapping[str, str]) -> str | None:
    for name in AGENT_VARIABLES:
        value = env.get(name, "")
        if value and value.lower() not in ("0", "false", "no"):
            return f"{name}={value}"
    return None


def _environ(proc: str, pid: int) -> dict[str, str]:
    """``/proc/PID/environ`` (empty when unreadable: another user's process, not Linux)."""
    try:
        with open(f"{proc}/{pid}/environ", "rb") as handle:
            data = handle.read(_MAX_ENVIRON)
    except OSError:
        return {}
    found: dict[str, str] = {}
    for entry in data.split(b"\0"):
        name, eq, value = entry.partition(b"=")
        if eq:
            found[name.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return found


def _ancestors(proc: str) -> list[tuple[int, str]]:
    """(pid, ``comm``) of every ancestor of this process (Linux /proc; empty elsewhere)."""
    found: list[tuple[int, str]] = []
    pid = os.getppid()
    seen: set[int] = set()
    while pid > 1 and pid not in seen and len(seen) < _MAX_ANCESTORS:
        seen.add(pid)
        try:
            with open(f"{proc}/{pid}/stat", "rb") as handle:
                stat = handle.read().decode("utf-8", "replace")
        except OSError:
            break
        # "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
        opening, closing = stat.find("("), stat.rfind(")")
        if opening == -1 or closing == -1:
            break
        found.append((pid, stat[opening + 1 : closing]))
        fields = stat[closing + 2 :].split()
        try:
            pid = int(fields[1])
        except (IndexError, ValueError):
            break
    return found
