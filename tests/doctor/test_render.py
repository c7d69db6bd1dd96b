"""Text (with or without colour) and JSON output, and the exit status."""

from __future__ import annotations

import io
import json

from kubesafe.commands.doctor import exit_status, render_json, render_text, use_colour
from kubesafe.doctor.check import FAIL, OK, WARN, Check

CHECKS = [
    Check("cache", OK, "writable", subject="/c", fix=("never shown for ok",)),
    Check("policy", WARN, "protects nothing", fix=("kubesafe protect prod",)),
    Check("kubeconfig", FAIL, "mode 0644", subject="/k", detail=("d1",), fix=("chmod 600 /k",)),
]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_without_no_color() -> None:
    assert use_colour({}, _Terminal())
    assert not use_colour({"NO_COLOR": "1"}, _Terminal())
    assert not use_colour({}, io.StringIO())


def test_text_lists_details_and_fixes_of_problems() -> None:
    text = render_text(CHECKS, colour=False)
    assert text.splitlines() == [
        "ok    cache: writable",
        "warn  policy: protects nothing",
        "        fix: kubesafe protect prod",
        "FAIL  kubeconfig: mode 0644",
        "        d1",
        "        fix: chmod 600 /k",
        "1 problem, 1 warning",
    ]
    coloured = render_text(CHECKS, colour=True)
    assert "\x1b[31m" in coloured and "\x1b[32m" in coloured and "\x1b[33m" in coloured


def test_json_has_stable_keys() -> None:
    data = json.loads(render_json(CHECKS))
    assert data[2] == {
        "name": "kubeconfig",
        "subject": "/k",
        "status": "fail",
        "summary": "mode 0644",
        "detail": ["d1"],
        "fix": ["chmod 600 /k"],
    }


def test_exit_status_fails_only_on_failures() -> None:
    assert exit_status(CHECKS) == 1
    assert exit_status(CHECKS[:2]) == 0
    assert render_text(CHECKS[:1], colour=False).endswith("\nall good")
