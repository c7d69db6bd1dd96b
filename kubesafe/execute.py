"""Becoming the real program: ``execve`` on POSIX, a child with its exit status on Windows.

Stdlib only: every guarded command ends here.
"""

from __future__ import annotations

import os
import sys


def report(message: str) -> None:
    """One ``kubesafe:`` line on stderr."""
    sys.stderr.write(f"kubesafe: {message}\n")
    sys.stderr.flush()


EXIT_ERROR = 1


# kubesafe refused or the user declined; distinct from kubectl's own failures.
EXIT_REFUSED = 3


EXIT_NOT_FOUND = 127


def exec_kubectl(
    binary: str, argv: list[str], env: dict[str, str], program: str = "kubectl"
) -> int:
    """Become kubectl (POSIX) or run it as a child with the same exit status (Windows)."""
    args = [program, *argv]
    if os.name != "nt":
        try:
            os.execve(binary, args, env)
        except OSError as exc:
            report(f"cannot run {binary}: {exc.strerror or exc}")
            return EXIT_NOT_FOUND
    return _run_child(binary, args, env)


def _run_child(binary: str, args: list[str], env: dict[str, str]) -> int:
    import signal
    import subprocess

    # Ctrl+C reaches every process on the console; kubectl handles it, and the
    # parent only waits so that it can return kubectl's exit status.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process = subprocess.Popen(args, executable=binary, env=env)
        return process.wait()
    except OSError as exc:
        report(f"cannot run {binary}: {exc.strerror or exc}")
        return EXIT_NOT_FOUND
    finally:
        signal.signal(signal.SIGINT, previous)
