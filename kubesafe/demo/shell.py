"""The interactive demo: bash with the sandbox's rc file instead of the user's.

The rc file loads ``kubesafe init bash`` (``kubectl`` becomes a function that
goes through kubesafe, and ``$KUBESAFE_PROMPT`` shows the context in its
environment's colour). It calls kubesafe through a launcher script in the
sandbox, ``#!<this python>`` importing ``kubesafe.entry`` as pip's console
scripts do, so the demo works from a virtualenv that is not on PATH and the
shell reaches this very kubesafe. (A script named ``kubesafe`` rather than
``python -m kubesafe``: the shell integration recognises such a script as
kubesafe, so it never mistakes its own links for a real kubectl.) Should the
integration fail to load, a plain ``kubectl`` function still routes every
command through kubesafe: the demo never runs an unguarded kubectl.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping

RC_NAME = "bashrc"
_SHEBANG_LIMIT = 127  # longer #! lines are cut by Linux


def write_launcher(directory: str) -> list[str]:
    """The command that runs this kubesafe: a launcher script, else ``python -m kubesafe``."""
    interpreter = sys.executable
    if len(interpreter) + 2 > _SHEBANG_LIMIT or any(c.isspace() for c in interpreter):
        return [interpreter, "-m", "kubesafe"]
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, "kubesafe")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(
            f"#!{interpreter}\n"
            "# kubesafe for the demo shell: the interpreter and package that started the demo.\n"
            "import sys\n\nfrom kubesafe.entry import main\n\nsys.exit(main())\n"
        )
    os.chmod(path, 0o700)
    return [path]


def rc_text(command: list[str]) -> str:
    words = " ".join(shlex.quote(word) for word in command)
    return f"""\
# kubesafe demo shell. Your own ~/.bashrc is not read: an alias there could bypass kubesafe.
__kubesafe_demo=({words})
# The demo's kubeconfig is tiny and the point is to see the prompt turn red right after a
# switch: wait for each render (up to 2 s) instead of showing the refreshing marker.
KUBESAFE_PROMPT_WAIT=2
if __kubesafe_code=$("${{__kubesafe_demo[@]}}" init bash 2>/dev/null) && eval "$__kubesafe_code"
then
  PS1='${{KUBESAFE_PROMPT}}'"(kubesafe demo) \\W \\$ "
else
  # No shell integration in this kubesafe: kubectl still goes through it, without the prompt.
  kubectl() {{ "${{__kubesafe_demo[@]}}" kubectl "$@"; }}
  kubesafe() {{ "${{__kubesafe_demo[@]}}" "$@"; }}
  PS1='(kubesafe demo) \\W \\$ '
fi
unset __kubesafe_code
cd ~ || true
"""


def write_rc(directory: str) -> str:
    """The shell's rc file (and the launcher it uses) in ``directory``; returns its path."""
    command = write_launcher(os.path.join(directory, "bin"))
    path = os.path.join(directory, RC_NAME)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(rc_text(command))
    return path


def find_bash(env: Mapping[str, str]) -> str | None:
    return shutil.which("bash", path=env.get("PATH", os.defpath))


def welcome(server_url: str, has_ctx: bool) -> str:
    switch = "kubesafe ctx prod" if has_ctx else "kubectl config use-context prod"
    return f"""\
Welcome to the kubesafe demo. This shell runs in a throw-away sandbox: three stand-in
clusters (dev, staging, prod) served by {server_url}, a policy that protects prod, and
kubectl going through kubesafe. Your kubeconfig, policy, cache and ~/.bashrc are not used;
everything is removed when you leave.

Try:
  kubectl get pods                       # on dev, the current context
  {switch:<38} # watch the prompt turn red
  kubectl delete pod web-0               # on prod kubesafe asks first: type "prod" to confirm
  kubectl apply -f web.yaml              # a write: y/N on prod
  kubesafe explain -- delete pod web-0   # what would happen, without running anything
  exit                                   # leave; the sandbox is deleted
"""


def run_shell(bash: str, rc_file: str, env: Mapping[str, str]) -> int:
    """Run the interactive shell until it exits; returns its exit status.

    Ctrl+C belongs to the shell while it runs. SIGTERM/SIGHUP reaching this
    process (handled by the caller as an exit) hang the shell up too.
    """
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    process = subprocess.Popen([bash, "--rcfile", rc_file, "-i"], env=dict(env))
    try:
        return process.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
        if process.poll() is None:
            process.send_signal(getattr(signal, "SIGHUP", signal.SIGTERM))
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
