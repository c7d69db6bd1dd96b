"""Is every way of typing ``kubectl`` in the user's shell routed through kubesafe?"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Mapping

from kubesafe.doctor.check import FAIL, OK, WARN, Check
from kubesafe.doctor.shell_probe import SEGMENT_MARKER, Entry, ShellReport
from kubesafe.doctor.shells import (
    SUPPORTED,
    append_command,
    completion_line,
    init_line,
    prompt_line,
    rc_file,
)
from kubesafe.kubectl.locate import KUBECTL_NAME, is_self

# `command kubesafe kubectl "$@"`, `"${__kubesafe_launcher[@]}" kubectl "$@"`, fish's `$argv`
_CALLS_KUBESAFE = re.compile(r"kubesafe[^\s;]*\s+kubectl\b")
_KUBECTL_NAMES = frozenset({"kubectl", "kubectl.exe"})
# Separators after which the next word is in command position again.
_COMMAND_SEPARATORS = (";", "&&", "||", "|", "(", "{")

IsSelf = Callable[[str], bool]


def _integration_fix(shell: str, env: Mapping[str, str]) -> tuple[str, ...]:
    if shell not in SUPPORTED:
        return ('use bash, zsh or fish, or run: ln -s "$(command -v kubesafe)" ~/bin/kubectl',)
    return (append_command(init_line(shell), rc_file(shell, env)), "then open a new terminal")


def integration(env: Mapping[str, str], shell: str) -> Check:
    """Loaded: ``KUBESAFE_SHELL`` set, the terminal kubeconfig present and first in KUBECONFIG."""
    loaded_shell = env.get("KUBESAFE_SHELL", "")
    own = env.get("KUBESAFE_SHELL_KUBECONFIG", "")
    first = env.get("KUBECONFIG", "").split(os.pathsep)[0]
    problems = []
    if not loaded_shell:
        problems.append("KUBESAFE_SHELL is not set: the init script did not run in this shell")
    elif not own:
        problems.append("KUBESAFE_SHELL_KUBECONFIG is not set")
    elif first != own:
        problems.append(
            f"KUBECONFIG does not start with this terminal's kubeconfig {own} "
            f"(it starts with {first or 'nothing'}); something changed KUBECONFIG after init"
        )
    elif not os.path.isfile(own):
        problems.append(f"this terminal's kubeconfig {own} does not exist")
    if not problems:
        return Check(
            "integration",
            OK,
            f"the {loaded_shell} integration is loaded",
            detail=(f"per-terminal kubeconfig: {own}",),
        )
    return Check(
        "integration",
        FAIL,
        f"the kubesafe shell integration is not loaded in this {shell or 'shell'}",
        detail=tuple(problems),
        fix=_integration_fix(shell, env),
    )


def _calls_kubesafe(words: list[str], self_check: IsSelf) -> bool:
    while words and words[0] in ("command", "builtin", "exec"):
        words = words[1:]
    if len(words) < 2 or words[1] != "kubectl":
        return False
    program = words[0].lstrip("\\")
    if "/" in program:
        return self_check(program)
    return os.path.basename(program) == "kubesafe"


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def judge(entries: tuple[Entry, ...], self_check: IsSelf = is_self) -> tuple[bool, str]:
    """(goes through kubesafe, what runs) for the first meaning of ``kubectl``."""
    for position, entry in enumerate(entries):
        if entry.kind == "alias":
            words = _split(entry.text)
            if _calls_kubesafe(words, self_check):
                return True, f"the alias kubectl='{entry.text}'"
            if words and words[0] == "kubectl":
                # An alias that only adds flags: the shell goes on to the function or file.
                rest = tuple(e for e in entries[position + 1 :] if e.kind != "alias")
                through, what = judge(rest, self_check)
                return through, f"the alias kubectl='{entry.text}', then {what}"
            return False, f"the alias kubectl='{entry.text}'"
        if entry.kind == "function":
            if _CALLS_KUBESAFE.search(entry.text):
                return True, "a shell function that runs kubesafe kubectl"
            return False, "a shell function that does not run kubesafe"
        if entry.kind == "file":
            if self_check(entry.text):
                return True, f"{entry.text} (kubesafe itself)"
            return False, f"{entry.text} (the real kubectl, not kubesafe)"
        return False, f"a shell {entry.kind}"
    return False, "nothing (kubectl is not found)"


def _gist(entry: Entry) -> str:
    """One line saying what an entry does (for a function, the line that runs something)."""
    lines = [line.strip() for line in entry.text.splitlines() if line.strip()]
    if entry.kind == "function":
        calls = [line for line in lines if "kubectl" in line and not line.startswith(_HEADERS)]
        lines = calls or lines
    return lines[0] if lines else ""


_HEADERS = ("kubectl ()", "kubectl()", "function kubectl", "#")


def kubectl_command(
    report: ShellReport, env: Mapping[str, str], self_check: IsSelf = is_self
) -> Check:
    through, what = judge(report.entries, self_check)
    detail = tuple(f"{entry.kind}: {_gist(entry)}".rstrip(": ") for entry in report.entries)
    if through:
        return Check("kubectl-command", OK, f"kubectl in {report.shell} runs {what}", detail=detail)
    fix = list(_integration_fix(report.shell, env))
    if report.entries and report.entries[0].kind in ("alias", "function"):
        kind = report.entries[0].kind
        fix.insert(
            0,
            f"remove the other kubectl {kind} from {rc_file(report.shell, env)} "
            "(or wherever it is defined)",
        )
    return Check(
        "kubectl-command",
        FAIL,
        f"kubectl in {report.shell} runs {what}: commands bypass kubesafe",
        detail=detail,
        fix=tuple(fix),
    )


def path_kubectls(env: Mapping[str, str]) -> list[str]:
    """Every executable ``kubectl`` on PATH, in order, each real file once."""
    found: list[str] = []
    seen: set[str] = set()
    for directory in env.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(directory, KUBECTL_NAME) if directory else ""
        if not candidate or not os.path.isfile(candidate) or not os.access(candidate, os.X_OK):
            continue
        real = os.path.realpath(candidate)
        if real not in seen:
            seen.add(real)
            found.append(candidate)
    return found


def kubectl_path(env: Mapping[str, str], shell: str, self_check: IsSelf = is_self) -> Check:
    """What scripts, ``xargs kubectl`` and ``watch kubectl`` run: PATH, not the function."""
    found = path_kubectls(env)
    detail = tuple(
        f"{path}: {'kubesafe' if self_check(path) else 'real kubectl'}" for path in found
    )
    if not found:
        return Check(
            "kubectl-path", OK, "no kubectl on PATH: nothing bypasses kubesafe from scripts"
        )
    first = found[0]
    if self_check(first):
        return Check(
            "kubectl-path", OK, f"the first kubectl on PATH is kubesafe ({first})", detail=detail
        )
    return Check(
        "kubectl-path",
        WARN,
        f"the first kubectl on PATH, {first}, is the real kubectl: scripts, "
        "'xargs kubectl' and 'watch kubectl' bypass kubesafe",
        detail=(*detail, "the shell function only covers what you type at the prompt"),
        fix=(
            *_integration_fix(shell, env)[:1],
            "as the last line there: it puts kubesafe's kubectl first on PATH; or:",
            'mkdir -p ~/.local/bin && ln -sf "$(command -v kubesafe)" ~/.local/bin/kubectl',
            f"with ~/.local/bin before {os.path.dirname(first)} in PATH",
        ),
    )


def _kubectl_word(words: list[str]) -> int | None:
    for index, word in enumerate(words):
        if os.path.basename(word.lstrip("\\")) in _KUBECTL_NAMES:
            return index
    return None


def alias_bypass(
    value: str,
    entries: tuple[Entry, ...],
    env: Mapping[str, str],
    self_check: IsSelf = is_self,
) -> str | None:
    """The fixed alias value when ``value`` runs kubectl around kubesafe, else None."""
    words = _split(value)
    index = _kubectl_word(words)
    if index is None:
        return None
    word = words[index]
    in_command_position = index == 0 or words[index - 1].endswith(_COMMAND_SEPARATORS)
    if "/" in word:
        if self_check(word):
            return None
    elif in_command_position and not word.startswith("\\"):
        return None  # the shell's kubectl: the kubectl-command check covers it
    elif in_command_position:
        # \kubectl skips aliases, not functions
        if judge(tuple(e for e in entries if e.kind != "alias"), self_check)[0]:
            return None
    else:
        # After command/env/sudo/watch/xargs...: the first kubectl on PATH runs.
        on_path = path_kubectls(env)
        if on_path and self_check(on_path[0]):
            return None
        if words[index - 1] in ("command", "builtin"):
            del words[index - 1]
            index -= 1
            in_command_position = index == 0
    words[index] = "kubectl" if in_command_position else "kubesafe kubectl"
    return " ".join(words)


def aliases(report: ShellReport, env: Mapping[str, str], self_check: IsSelf = is_self) -> Check:
    bypasses = []
    for name, value in report.aliases:
        if name in ("kubectl", "helm"):
            continue
        fixed = alias_bypass(value, report.entries, env, self_check)
        if fixed is not None:
            bypasses.append((name, value, fixed))
    if not bypasses:
        return Check("aliases", OK, f"no {report.shell} alias runs kubectl around kubesafe")
    where = rc_file(report.shell, env)
    return Check(
        "aliases",
        FAIL,
        f"{len(bypasses)} alias{'es run' if len(bypasses) > 1 else ' runs'} kubectl "
        "around kubesafe: " + ", ".join(name for name, _, _ in bypasses),
        detail=tuple(f"alias {name}='{value}'" for name, value, _ in bypasses),
        fix=(
            *(f"alias {name}={shlex.quote(fixed)}" for name, _, fixed in bypasses),
            f"(replace the old definitions in {where}, or wherever they are defined)",
        ),
    )


def shell_completion(report: ShellReport, env: Mapping[str, str]) -> Check:
    if report.completion:
        first = report.completion.splitlines()[0]
        return Check(
            "shell-completion",
            OK,
            f"kubectl completion is loaded in {report.shell}",
            detail=(first,),
        )
    return Check(
        "shell-completion",
        WARN,
        f"kubectl completion is not loaded in {report.shell}",
        fix=(append_command(completion_line(report.shell), rc_file(report.shell, env)),),
    )


_PROMPT_NAMES = {"bash": "PS1", "zsh": "PROMPT", "fish": "fish_prompt"}
# `$KUBESAFE_PROMPT` glued to a name character, or (bash) to an escape such as \u that
# bash expands first: either way the shell reads a longer, unset variable name.
_GLUED = re.compile(r"\$KUBESAFE_PROMPT(?=[A-Za-z0-9_]|\\[A-Za-z])")
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x01\x02]")


def _mentions_segment(text: str) -> bool:
    return "KUBESAFE_PROMPT" in text or "kubesafe_prompt" in text


def _why_hidden(report: ShellReport, shown: str) -> str:
    if report.shell in ("bash", "zsh") and _GLUED.search(report.prompt):
        first = "bash expands \\u, \\s, \\h... before variables, so " * (report.shell == "bash")
        return (
            f"{first}$KUBESAFE_PROMPT runs into the text after it and names another, "
            "unset variable: write ${KUBESAFE_PROMPT}"
        )
    if report.shell == "zsh" and _mentions_segment(shown):
        return "prompt_subst is off: zsh shows the variable's name, not its value"
    if "kubesafe_prompt" in report.prompt:
        return "kubesafe_prompt prints nothing there: is the integration loaded?"
    return "the prompt expands without the segment"


def prompt_segment(report: ShellReport, env: Mapping[str, str]) -> Check:
    """Does the prompt that mentions the segment really show it?"""
    name = _PROMPT_NAMES.get(report.shell, "the prompt")
    where = rc_file(report.shell, env)
    if not _mentions_segment(report.prompt):
        return Check(
            "prompt",
            OK,
            f"{name} does not show the kubesafe segment (optional)",
            detail=(
                f"to show it: {prompt_line(report.shell)}"
                if report.shell == "fish"
                else f"to show it, add to {where}: {prompt_line(report.shell)}",
            ),
        )
    if report.prompt_rendered is None:
        return Check(
            "prompt",
            OK,
            f"{name} mentions the kubesafe segment; {report.shell} could not expand it to check",
        )
    if SEGMENT_MARKER in report.prompt_rendered:
        return Check("prompt", OK, f"{name} shows the kubesafe segment")
    shown = _ESCAPES.sub("", report.prompt_rendered)
    reason = _why_hidden(report, shown)
    if report.shell == "fish":
        fix = [f"in {where}, {init_line('fish')} must come first"]
    else:
        fix = [f"in {where}, replace the prompt line with: {prompt_line(report.shell)}"]
    if reason.startswith("prompt_subst"):
        fix.insert(0, f"add 'setopt prompt_subst' to {where}, before the PROMPT line")
    written = f"{name}: {report.prompt}" if "\n" not in report.prompt else f"{name} (a function)"
    return Check(
        "prompt",
        WARN,
        f"{name} mentions the kubesafe segment but does not show it",
        detail=(written, f"shows as: {shown}", reason),
        fix=tuple(fix),
    )


def unprobed(shell: str, reason: str, env: Mapping[str, str]) -> Check:
    """What to report when the shell cannot be asked."""
    detail = (reason, "aliases and shell completion were not checked")
    if shell not in SUPPORTED:
        return Check(
            "kubectl-command",
            WARN,
            f"cannot tell what kubectl runs in {shell or 'your shell'} "
            "(supported: bash, zsh, fish)",
            detail=detail,
        )
    return Check(
        "kubectl-command",
        WARN,
        f"cannot tell what kubectl runs in {shell}",
        detail=detail,
        fix=(f"check {rc_file(shell, env)} for errors: {shell} -i -c 'type kubectl'",),
    )
