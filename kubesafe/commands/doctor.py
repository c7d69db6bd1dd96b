"""``kubesafe doctor``: run the checks, print them (text or JSON), set the exit status."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence

from kubesafe.doctor.check import FAIL, OK, WARN, Check

_LABELS = {OK: "ok", WARN: "warn", FAIL: "FAIL"}


def use_colour(env: Mapping[str, str], stream: object) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    isatty = getattr(stream, "isatty", None)
    return not env.get("NO_COLOR") and callable(isatty) and bool(isatty())


def _label(status: str, colour: bool) -> str:
    text = f"{_LABELS[status]:<4}"
    if not colour:
        return text
    from colorama import Fore, Style

    tint = {OK: Fore.GREEN, WARN: Fore.YELLOW, FAIL: Fore.RED + Style.BRIGHT}[status]
    return f"{tint}{text}{Style.RESET_ALL}"


def render_text(checks: Sequence[Check], colour: bool) -> str:
    lines = []
    for check in checks:
        lines.append(f"{_label(check.status, colour)}  {check.name}: {check.summary}")
        lines += [f"        {line}" for line in check.detail]
        if check.status != OK:
            lines += [f"        fix: {line}" for line in check.fix]
    failed = sum(check.status == FAIL for check in checks)
    warned = sum(check.status == WARN for check in checks)
    verdict = f"{failed} problem{'s' if failed != 1 else ''}" if failed else "all good"
    if warned:
        verdict += f", {warned} warning{'s' if warned != 1 else ''}"
    lines.append(verdict)
    return "\n".join(lines)


def render_json(checks: Sequence[Check]) -> str:
    return json.dumps([check.to_json() for check in checks], indent=2)


def exit_status(checks: Sequence[Check]) -> int:
    return 1 if any(check.status == FAIL for check in checks) else 0


def run(env: Mapping[str, str], *, as_json: bool) -> int:
    from kubesafe.doctor.run import run_checks

    checks = run_checks(env)
    if as_json:
        sys.stdout.write(render_json(checks) + "\n")
    else:
        sys.stdout.write(render_text(checks, use_colour(env, sys.stdout)) + "\n")
    sys.stdout.flush()
    return exit_status(checks)
