"""Console entry point: dispatch to the shim without importing the CLI stack."""

from __future__ import annotations

import os
import sys

_SHIM_NAMES = frozenset({"kubectl", "kubectl.exe"})


def main() -> int:
    argv = sys.argv
    program = os.path.basename(argv[0]).lower() if argv else ""
    if program in _SHIM_NAMES:
        from kubesafe.shim import run

        return run(argv[1:])
    if len(argv) > 1 and argv[1] == "kubectl":
        from kubesafe.shim import run

        return run(argv[2:])
    from kubesafe.cli import main as cli_main

    return cli_main()
