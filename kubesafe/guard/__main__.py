"""``python -m kubesafe.guard serve``: run one terminal's guard in the foreground.

A test and benchmark entry until ``kubesafe guard`` and the shell
integration's auto-start exist. The environment is taken as it is:
``KUBECONFIG`` must list the user's real kubeconfig files. Prints one JSON
line (``{"port": N, "directory": ...}``) once it serves.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from kubesafe.guard.app import GuardConfig, GuardError, run_guard
from kubesafe.guard.layout import default_directory
from kubesafe.guard.server import HEAD_TIMEOUT
from kubesafe.guard.tls import CertificateError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubesafe.guard")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the guard for some contexts")
    serve.add_argument("--context", action="append", required=True, help="a protected context")
    serve.add_argument("--terminal", default=f"pid-{os.getppid()}", help="terminal id")
    serve.add_argument("--dir", default="", help="private directory (default: runtime dir)")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--kubectl", default=None, help="kubectl binary (default: selected)")
    serve.add_argument("--head-timeout", type=float, default=HEAD_TIMEOUT, help="seconds")
    serve.add_argument("--shell-pid", type=int, default=0, help="end when this process ends")
    serve.add_argument("--listen-fd", type=int, default=-1, help="socket from the keeper")
    serve.add_argument("--keeper", type=int, default=0, help="the keeper's PID: end without it")
    args = parser.parse_args(argv)
    directory = args.dir or default_directory(args.terminal)
    config = GuardConfig(
        directory,
        args.terminal,
        tuple(args.context),
        dict(os.environ),
        args.port,
        args.kubectl,
        args.head_timeout,
        args.shell_pid,
        args.listen_fd,
        args.keeper,
    )

    def ready(port: int) -> None:
        print(json.dumps({"port": port, "directory": directory}), flush=True)

    try:
        run_guard(config, ready)
    except (GuardError, CertificateError) as exc:
        print(f"kubesafe guard: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
