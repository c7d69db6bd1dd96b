"""Console entry point: dispatch to the shim without importing the CLI stack."""

from __future__ import annotations

import os
import sys

_SHIM_NAMES = frozenset({"kubectl", "kubectl.exe"})
_HELM_NAMES = frozenset({"helm", "helm.exe"})


def main() -> int:
    argv = sys.argv
    program = os.path.basename(argv[0]).lower() if argv else ""
    if program in _SHIM_NAMES:
        from kubesafe.kubectl.shim import run

        return run(argv[1:])
    if len(argv) > 1 and argv[1] == "kubectl":
        from kubesafe.kubectl.shim import run

        return run(argv[2:])
    if program in _HELM_NAMES or (len(argv) > 1 and argv[1] == "helm"):
        from kubesafe.helm.shim import run as run_helm

        return run_helm(argv[1:] if program in _HELM_NAMES else argv[2:])
    if len(argv) == 4 and argv[1:3] == ["prompt", "--render"]:
        # Runs on the first prompt after every change: skip click's import.
        from kubesafe.shell.prompt import SHELLS, render

        if argv[3] in SHELLS:
            sys.stdout.write(render(argv[3], os.environ))
            return 0
    if len(argv) in (3, 5) and argv[1] == "init" and _plain_init(argv[2:]):
        # Runs at every shell start: skip click's import (~35 ms).
        return _init(argv[2], int(argv[4]) if len(argv) == 5 else os.getppid())
    if argv[1:] == ["ns"]:
        # Listing thousands of cached namespaces: skip click and the kubeconfig writer.
        from kubesafe.commands.ns_list import list_fast

        listed = list_fast(os.environ)
        if listed is not None:
            return listed
    if len(argv) in (3, 4) and argv[1] == "ctx":
        # A switch on a big kubeconfig: click alone costs more than the edit.
        switched = _ctx_switch(argv[2:])
        if switched is not None:
            return switched
    if len(argv) > 1 and argv[1] == "explain":
        # The first call after a kubeconfig change: click would cost more than the decision.
        from kubesafe.commands.explain_entry import run as explain

        explained = explain(argv[2:])
        if explained is not None:
            return explained
    from kubesafe.cli import main as cli_main

    return cli_main()


def _plain_init(args: list[str]) -> bool:
    shells = ("bash", "zsh", "fish")
    if len(args) == 1:
        return args[0] in shells
    return args[0] in shells and args[1] == "--pid" and args[2].isdigit()


def _init(shell: str, pid: int) -> int:
    from kubesafe.commands.errors import CommandError
    from kubesafe.commands.shell import init

    try:
        sys.stdout.write(init(shell, pid, os.environ) + "\n")
    except CommandError as exc:
        sys.stderr.write(f"kubesafe: {exc}\n")
        return 1
    return 0


def _ctx_switch(args: list[str]) -> int | None:
    """``kubesafe ctx NAME [--global]`` as click would run it; None: let click parse it.

    Only the forms click reads unambiguously: one argument that is no option (or
    ``-``), with ``--global`` before or after it.
    """
    names = [arg for arg in args if arg != "--global"]
    if len(names) != 1 or "_KUBESAFE_COMPLETE" in os.environ:  # click's completion variable
        return None
    name = names[0]
    if name.startswith("-") and name != "-":
        return None
    from kubesafe.commands.errors import CommandError
    from kubesafe.commands.switch import ctx

    try:
        printed = ctx((name,), current=False, delete=False, unset=False, global_=len(args) == 2)
    except CommandError as exc:
        _echo_error(f"kubesafe: {exc}")
        return 1
    except (EOFError, KeyboardInterrupt):
        sys.stderr.write("\nAborted!\n")  # click's words
        return 1
    if printed:
        sys.stdout.write(printed + "\n")
    return 0


def _echo_error(message: str) -> None:
    """``click.echo(message, err=True)``: colour codes dropped unless stderr is a terminal."""
    if "\x1b" in message and not sys.stderr.isatty():
        import re

        message = re.sub(r"\033\[[;?0-9]*[a-zA-Z]", "", message)
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
