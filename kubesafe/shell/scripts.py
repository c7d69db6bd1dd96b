"""``kubesafe init SHELL``: the code a shell evaluates at startup.

It routes ``kubectl`` and ``helm`` through kubesafe twice over: shell
functions (they win over anything on PATH, whatever the rc file does later)
and a directory of links put first in PATH (so scripts, ``xargs kubectl`` and
``watch kubectl`` started from the shell are guarded too). kubectl's own
completion keeps working because it calls ``kubectl __complete``, which now
reaches kubesafe and passes straight through.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from kubesafe import paths
from kubesafe.fast_launch import launcher_script, package_root, usable
from kubesafe.policy_location import PIN_VARIABLE
from kubesafe.shell.names import SESSION_VARIABLE, SHELL_KUBECONFIG_VARIABLE, SHELL_VARIABLE
from kubesafe.shell.prompt import SHELLS, fish_quote, posix_quote
from kubesafe.shell.session import session_kubeconfig, start_session, sweep

WRAPPED = ("kubectl", "helm")


def launcher() -> list[str]:
    """How the shell should start this very kubesafe (it may not be on PATH)."""
    script = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if (
        script
        and os.path.basename(script).lower() in ("kubesafe", "kubesafe.exe")
        and os.access(script, os.X_OK)
    ):
        return [script]
    return [sys.executable, "-m", "kubesafe"]


def bin_dir() -> str:
    return os.path.join(paths.state_dir(), "bin")


def ensure_fast_self() -> str:
    """A fast launcher of kubesafe itself for the shell functions and the prompt, or "".

    It lives outside the links directory, so ``kubesafe`` on PATH stays what pip installed;
    the functions ``kubectl``, ``helm`` and ``kubesafe`` and every prompt render start
    through it without the site-packages scan (kubesafe/fast_launch.py).
    """
    interpreter, root = sys.executable, package_root()
    if not usable(interpreter, root):
        return ""
    text = launcher_script(interpreter, root)
    try:
        directory = paths.ensure_private_dir(os.path.join(paths.state_dir(), "launch"))
    except OSError:
        return ""
    path = os.path.join(directory, "kubesafe")
    if not os.path.islink(path) and _text(path) == text and os.access(path, os.X_OK):
        return path
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o755)
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return ""
    return path


def ensure_bin_dir(command: list[str]) -> str:
    """Launchers (or links, or tiny wrappers) named kubectl and helm that run kubesafe.

    Where it can, the fast launcher of :mod:`kubesafe.fast_launch`: this interpreter
    without the site-packages scan, about 4 ms less on every kubectl call and TAB.
    """
    directory = paths.ensure_private_dir(bin_dir())
    interpreter, root = sys.executable, package_root()
    fast = launcher_script(interpreter, root) if usable(interpreter, root) else ""
    for name in WRAPPED:
        path = os.path.join(directory, name)
        temporary = f"{path}.{os.getpid()}.tmp"
        try:
            if fast:
                if not os.path.islink(path) and _text(path) == fast:
                    continue
                with open(temporary, "w", encoding="utf-8") as handle:
                    handle.write(fast)
                os.chmod(temporary, 0o755)
            elif len(command) == 1:
                if os.path.islink(path) and os.readlink(path) == command[0]:
                    continue
                os.symlink(command[0], temporary)
            else:
                # "-m kubesafe" unquoted: locate.is_self recognises wrappers by it.
                interpreter = posix_quote(command[0])
                with open(temporary, "w", encoding="utf-8") as handle:
                    handle.write(f'#!/bin/sh\nexec {interpreter} -m kubesafe {name} "$@"\n')
                os.chmod(temporary, 0o755)
            os.replace(temporary, path)
        except OSError:
            try:
                os.unlink(temporary)
            except OSError:
                pass
    return directory


def _text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read(4096)
    except (OSError, UnicodeDecodeError):
        return ""


# Shared by bash and zsh: exports, the wrappers, and the freshness check (builtins only).
_POSIX_SETUP = r"""export @SHELL_VAR@=@SHELL@
export @SESSION_VAR@=@SESSION@
export @FILE_VAR@=@FILE@
export @PIN_VAR@=@PIN@
export KUBECONFIG=@KUBECONFIG@
case ":$PATH:" in *:@BIN@:*) ;; *) export PATH=@BIN@:"$PATH" ;; esac
function kubectl { "${__kubesafe_launcher[@]}" kubectl "$@"; }
function helm { "${__kubesafe_launcher[@]}" helm "$@"; }
function kubesafe { "${__kubesafe_launcher[@]}" "$@"; }
"""

# The freshness check costs builtins only. After a change the render runs in the background
# on a pipe; the prompt waits at most KUBESAFE_PROMPT_WAIT seconds for it (default 0.03)
# and otherwise shows the last segment with the refreshing marker, taking the answer at the
# next prompt (zsh: as soon as it arrives). @COLLECT@ is the shell's own reading of the pipe.
_POSIX_REFRESH = r"""__kubesafe_apply() {
  @UNWATCH@exec {__kubesafe_fd}<&-
  __kubesafe_fd=
  local code=$__kubesafe_partial
  __kubesafe_partial=
  [[ $code == *__kubesafe_key=* ]] || code="KUBESAFE_PROMPT='⎈ ? '"
  eval "$code"
}
@COLLECT@
__kubesafe_refresh() {
  local st=$? f s=
  if [[ -n $__kubesafe_fd ]]; then
    # The last render is still running: the marked segment stays, no second render starts.
    __kubesafe_collect || { KUBESAFE_PROMPT=$__kubesafe_refreshing; return $st; }
  fi
  local key="${KUBECONFIG-}|${KUBESAFE_CONFIG-}|${HOME-}|${XDG_CONFIG_HOME-}"
  key+="|${XDG_STATE_HOME-}|${NO_COLOR-}|${KUBESAFE_PROMPT_FORMAT-}|${KUBERNETES_MASTER-}"
  # A guard that died, or a lift's countdown reaching its next minute, renders again.
  [[ -n ${__kubesafe_guard-} ]] && ! kill -0 "$__kubesafe_guard" 2>/dev/null && key=
  [[ -n ${__kubesafe_until-} ]] && (( ${EPOCHSECONDS:-0} >= __kubesafe_until )) && key=
  if [[ $key == "$__kubesafe_key" ]]; then
    # Pairs of (stamp, file): the file must still have exactly the stamp's mtime.
    for f in "${__kubesafe_present[@]}"; do
      [[ -z $s ]] && { s=$f; continue; }
      [[ -e $f && ! $f -nt $s && ! $f -ot $s ]] || { key=; break; }
      s=
    done
    if [[ -n $key ]]; then
      for f in "${__kubesafe_absent[@]}"; do
        [[ -e $f ]] && { key=; break; }
      done
    fi
    [[ -n $key ]] && return $st
  fi
  exec {__kubesafe_fd}< <("${__kubesafe_launcher[@]}" prompt --render @SHELL@ 2>/dev/null)
  __kubesafe_collect || { KUBESAFE_PROMPT=$__kubesafe_refreshing; @WATCH@}
  return $st
}
"""

# bash: read until the end of the pipe; a timeout (status > 128) keeps what came so far.
_BASH_COLLECT = r"""__kubesafe_collect() {
  local chunk= rc
  IFS= read -r -d '' -t "${KUBESAFE_PROMPT_WAIT:-0.03}" -u "$__kubesafe_fd" chunk
  rc=$?
  __kubesafe_partial+=$chunk
  (( rc > 128 )) && return 1
  __kubesafe_apply
}"""

# zsh: sysread tells a timeout (4) from the end of the pipe (5).
_ZSH_COLLECT = r"""__kubesafe_collect() {
  local chunk rc
  while :; do
    chunk=
    sysread -t "${KUBESAFE_PROMPT_WAIT:-0.03}" -i "$__kubesafe_fd" chunk
    rc=$?
    __kubesafe_partial+=$chunk
    (( rc == 4 )) && return 1
    (( rc == 0 )) || break
  done
  __kubesafe_apply
}
# Called by the line editor when the background render answers: redraw the prompt now.
__kubesafe_ready() {
  [[ $1 == "$__kubesafe_fd" ]] || { zle -F "$1"; return; }
  __kubesafe_collect && zle reset-prompt
}
zle -N __kubesafe_ready"""

_BASH = (
    r"""# kubesafe shell integration for bash; see `kubesafe init --help`.
if [ "$$" = @PID@ ]; then
__kubesafe_launcher=(@LAUNCHER@)
"""
    + _POSIX_SETUP
    + r"""__kubesafe_key= KUBESAFE_PROMPT= __kubesafe_fd= __kubesafe_partial=
__kubesafe_guard= __kubesafe_until=
__kubesafe_refreshing='⎈ ↻ '
__kubesafe_present=() __kubesafe_absent=()
@FIRST_RENDER@"""
    + _POSIX_REFRESH.replace("@COLLECT@", _BASH_COLLECT)
    .replace("@UNWATCH@", "")
    .replace("@WATCH@", "")
    + r"""kubesafe_prompt() { __kubesafe_refresh; printf '%s' "$KUBESAFE_PROMPT"; }
__kubesafe_exit() { "${__kubesafe_launcher[@]}" shell-exit "$@" >/dev/null 2>&1; }
__kubesafe_install() {
  if [[ ${PROMPT_COMMAND@a} == *a* ]]; then
    [[ " ${PROMPT_COMMAND[*]} " == *" __kubesafe_refresh "* ]] ||
      PROMPT_COMMAND=(__kubesafe_refresh "${PROMPT_COMMAND[@]}")
  else
    case ";${PROMPT_COMMAND-};" in *";__kubesafe_refresh;"*) ;;
      *) PROMPT_COMMAND="__kubesafe_refresh${PROMPT_COMMAND:+;$PROMPT_COMMAND}" ;; esac
  fi
  local previous
  previous=$(trap -p EXIT)
  if [[ -n $previous ]]; then
    eval "set -- $previous"
    [[ $3 == *__kubesafe_exit* ]] || trap "__kubesafe_exit @SESSION@; $3" EXIT
  else
    trap '__kubesafe_exit @SESSION@' EXIT
  fi
}
__kubesafe_install
unset -f __kubesafe_install
else
eval "$(@LAUNCHER_WORDS@ init bash --pid "$$")"
fi
"""
)

_ZSH = (
    r"""# kubesafe shell integration for zsh; see `kubesafe init --help`.
if [[ "$$" == @PID@ ]]; then
typeset -ga __kubesafe_launcher
__kubesafe_launcher=(@LAUNCHER@)
"""
    + _POSIX_SETUP
    + r"""typeset -g __kubesafe_key= KUBESAFE_PROMPT= __kubesafe_fd= __kubesafe_partial=
typeset -g __kubesafe_guard= __kubesafe_until=
typeset -g __kubesafe_refreshing='⎈ ↻ '
typeset -ga __kubesafe_present __kubesafe_absent
zmodload zsh/system
zmodload -F zsh/datetime p:EPOCHSECONDS 2>/dev/null
@FIRST_RENDER@"""
    + _POSIX_REFRESH.replace("@COLLECT@", _ZSH_COLLECT)
    .replace("@UNWATCH@", "zle -F $__kubesafe_fd 2>/dev/null\n  ")
    .replace("@WATCH@", "zle -F -w $__kubesafe_fd __kubesafe_ready 2>/dev/null; ")
    + r"""kubesafe_prompt() { __kubesafe_refresh; print -rn -- "$KUBESAFE_PROMPT"; }
# zsh runs zshexit hooks in a subshell that calls `exit`, too: only the shell itself cleans up.
__kubesafe_exit() {
  (( ${ZSH_SUBSHELL:-0} )) || "${__kubesafe_launcher[@]}" shell-exit @SESSION@ >/dev/null 2>&1
}
autoload -Uz add-zsh-hook
add-zsh-hook precmd __kubesafe_refresh
add-zsh-hook zshexit __kubesafe_exit
else
eval "$(@LAUNCHER_WORDS@ init zsh --pid "$$")"
fi
"""
)

_FISH = r"""# kubesafe shell integration for fish; see `kubesafe init --help`.
if test $fish_pid = @PID@
set -g __kubesafe_launcher @LAUNCHER@
set -gx @SHELL_VAR@ fish
set -gx @SESSION_VAR@ @SESSION@
set -gx @FILE_VAR@ @FILE@
set -gx @PIN_VAR@ @PIN@
set -gx KUBECONFIG @KUBECONFIG@
contains -- @BIN@ $PATH; or set -gx PATH @BIN@ $PATH
function kubectl; $__kubesafe_launcher kubectl $argv; end
function helm; $__kubesafe_launcher helm $argv; end
function kubesafe; $__kubesafe_launcher $argv; end
set -g __kubesafe_key ''
set -g KUBESAFE_PROMPT ''
set -g __kubesafe_present
set -g __kubesafe_absent
@FIRST_RENDER@function __kubesafe_refresh --on-event fish_prompt
  set -l key (string join '|' -- "$KUBECONFIG" "$KUBESAFE_CONFIG" "$HOME" "$XDG_CONFIG_HOME" \
    "$XDG_STATE_HOME" "$NO_COLOR" "$KUBESAFE_PROMPT_FORMAT" "$KUBERNETES_MASTER")
  if test "$key" = "$__kubesafe_key"
    set -l fresh 1
    set -l s ''
    for f in $__kubesafe_present
      if test -z "$s"
        set s $f; continue
      end
      if not test -e $f; or test $f -nt $s; or test $f -ot $s
        set fresh 0; break
      end
      set s ''
    end
    if test $fresh = 1
      for f in $__kubesafe_absent
        if test -e $f
          set fresh 0; break
        end
      end
    end
    test $fresh = 1; and return
  end
  set -l code ($__kubesafe_launcher prompt --render fish 2>/dev/null | string collect)
  or set code "set -g KUBESAFE_PROMPT '⎈ ? '"
  echo $code | source
end
function kubesafe_prompt; __kubesafe_refresh; printf '%s' "$KUBESAFE_PROMPT"; end
function __kubesafe_exit --on-event fish_exit
  $__kubesafe_launcher shell-exit @SESSION@ >/dev/null 2>&1
end
else
@LAUNCHER_WORDS@ init fish --pid $fish_pid | source
end
"""

_TEMPLATES = {"bash": _BASH, "zsh": _ZSH, "fish": _FISH}


def pinned_policy(env: Mapping[str, str]) -> str:
    """The policy file this terminal keeps using when a command moves XDG_CONFIG_HOME or
    HOME: the one in effect now (or where ``kubesafe protect`` would create it)."""
    from kubesafe.kubeconfig.cache import FileIndex
    from kubesafe.policy import load_policy

    index = FileIndex()
    path = load_policy(env, index).path
    index.save()
    return os.path.abspath(path)


def init_script(shell: str, pid: int, env: Mapping[str, str]) -> str:
    """Start this terminal's session and return the code that loads it."""
    if shell not in SHELLS:
        raise ValueError(f"unsupported shell {shell!r}; use one of {', '.join(SHELLS)}")
    sweep(env)
    command = launcher()
    directory, kubeconfig = start_session(pid, env)
    binaries = ensure_bin_dir(command)
    fast = ensure_fast_self()
    quote = fish_quote if shell == "fish" else posix_quote
    words = " ".join(quote(word) for word in ([fast] if fast else command))
    values = {
        "@SHELL@": shell,
        "@PID@": str(pid),
        "@LAUNCHER@": words,
        "@LAUNCHER_WORDS@": words,
        "@SHELL_VAR@": SHELL_VARIABLE,
        "@SESSION_VAR@": SESSION_VARIABLE,
        "@FILE_VAR@": SHELL_KUBECONFIG_VARIABLE,
        "@SESSION@": quote(directory),
        "@FILE@": quote(session_kubeconfig(directory)),
        "@PIN_VAR@": PIN_VARIABLE,
        "@PIN@": quote(pinned_policy(env)),
        "@KUBECONFIG@": quote(kubeconfig),
        "@BIN@": quote(binaries),
    }
    text = _TEMPLATES[shell]
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    shell_env = {
        **env,
        SHELL_VARIABLE: shell,
        SESSION_VARIABLE: directory,
        SHELL_KUBECONFIG_VARIABLE: session_kubeconfig(directory),
        "KUBECONFIG": kubeconfig,
    }
    return text.replace("@FIRST_RENDER@", _first_render(shell, shell_env))


def _first_render(shell: str, env: Mapping[str, str]) -> str:
    """The first prompt's segment, rendered now with the environment the shell will have.

    The shell is starting anyway: without this its first prompt would show only the
    refreshing marker until a background render answered. Any failure leaves that to
    the first prompt, as before.
    """
    from kubesafe.shell.prompt import render

    try:
        return render(shell, env)
    except Exception:  # a broken file must never break the shell's start
        return ""

