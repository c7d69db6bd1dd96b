"""The user's shell: which one, its rc file, and the lines kubesafe wants in it."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping

SUPPORTED = ("bash", "zsh", "fish")


def user_shell(env: Mapping[str, str]) -> str:
    """``KUBESAFE_SHELL`` (set by the integration), else the login shell's name."""
    return env.get("KUBESAFE_SHELL") or os.path.basename(env.get("SHELL", ""))


def rc_file(shell: str, env: Mapping[str, str]) -> str:
    home = env.get("HOME", "~")
    if shell == "zsh":
        return os.path.join(env.get("ZDOTDIR") or home, ".zshrc")
    if shell == "fish":
        config = env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
        return os.path.join(config, "fish", "config.fish")
    return os.path.join(home, ".bashrc")


def init_line(shell: str) -> str:
    if shell == "fish":
        return "status is-interactive; and kubesafe init fish | source"
    return f'eval "$(kubesafe init {shell})"'


def prompt_line(shell: str) -> str:
    r"""The line that puts the segment in front of the prompt the rc file built.

    The braces matter in bash: it expands ``\u``, ``\s``... before variables, so a
    bare ``$KUBESAFE_PROMPT\u`` becomes ``$KUBESAFE_PROMPTroot``, an unset variable.
    fish has no prompt string: its ``fish_prompt`` function calls ``kubesafe_prompt``.
    """
    if shell == "fish":
        return "call kubesafe_prompt at the start of fish_prompt (funced fish_prompt)"
    if shell == "zsh":
        return "setopt prompt_subst; PROMPT='${KUBESAFE_PROMPT}'\"$PROMPT\""
    return "PS1='${KUBESAFE_PROMPT}'\"$PS1\""


def completion_line(shell: str) -> str:
    if shell == "fish":
        return "kubectl completion fish | source"
    if shell == "zsh":
        return "autoload -Uz compinit && compinit; source <(kubectl completion zsh)"
    return "source <(kubectl completion bash)"


def append_command(line: str, path: str) -> str:
    """A command that appends ``line`` to ``path``."""
    return f"echo {shlex.quote(line)} >> {shlex.quote(path)}"
