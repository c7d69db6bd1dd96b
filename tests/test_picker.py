"""The picker in a real pseudo-terminal (pexpect), built-in and with real fzf."""

from __future__ import annotations

import functools
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest

from kubesafe import picker
from kubesafe.picker import decode_keys, pick, pick_numbered, render

FZF = shutil.which("fzf")


def needs_fzf(test: Callable[..., None]) -> Callable[..., None]:
    """A real fzf is required: a missing one fails the test (.ci/run installs it)."""

    @functools.wraps(test)
    def run(*args: object, **kwargs: object) -> None:
        if FZF is None:
            pytest.fail("fzf is not installed; .ci/run installs Debian's fzf")
        test(*args, **kwargs)

    return run


FIVE = ["alpha", "beta", "gamma", "delta", "epsilon"]
DRIVER = """
import os, sys
from kubesafe.picker import PickerError, pick
n = int(os.environ.get("N", "0"))
items = [f"ns-{i:05d}" for i in range(n)] if n else os.environ["ITEMS"].split(",")
if os.environ.get("PIDFILE"):
    open(os.environ["PIDFILE"], "w").write(str(os.getpid()))
try:
    chosen = pick(items, os.environ.get("CUR") or None, "namespace", os.environ)
except PickerError as exc:
    print("ERROR=" + str(exc))
else:
    print("RESULT=" + repr(chosen))
"""
# Inside $(...) with stdin from /dev/null: the picker may only use the terminal.
SCRIPT = (
    'before=$(stty -g); x=$("$PY" -c "$DRIVER" </dev/null); after=$(stty -g); echo "GOT:$x"; '
    '[ "$before" = "$after" ] && echo TTY-RESTORED || echo TTY-CHANGED'
)
DOWN, UP, END, ENTER, ESC = "\x1b[B", "\x1b[A", "\x1b[F", "\r", "\x1b"


def _env(**extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ["HOME"],
        "TERM": "xterm",
        "PY": sys.executable,
        "DRIVER": DRIVER,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "ITEMS": ",".join(FIVE),
    }
    env.update(extra)
    return env


class Term:
    """A bash in a pty running the driver; answers fzf's cursor-position queries."""

    def __init__(
        self, env: dict[str, str], rows: int = 24, columns: int = 80, script: str = SCRIPT
    ) -> None:
        self.child = pexpect.spawn(
            "/bin/bash",
            ["-c", script],
            env=env,
            encoding="utf-8",
            timeout=15,
            dimensions=(rows, columns),
        )
        self.seen = ""

    def wait(self, pattern: str) -> str:
        """Output up to ``pattern`` (a regex); fzf --height asks where the cursor is."""
        while True:
            index = self.child.expect([r"\x1b\[6n", pattern])
            self.seen += self.child.before + self.child.after
            if index == 1:
                return self.child.before
            self.child.send("\x1b[1;1R")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.child.send(key)
            time.sleep(0.05)

    def result(self) -> tuple[str, bool]:
        self.wait(r"GOT:(.*?)\r\n")
        got = self.child.match.group(1)
        restored = self.child.expect(["TTY-RESTORED", "TTY-CHANGED"]) == 0
        self.child.expect(pexpect.EOF)
        return got, restored


BUILTIN_READY = "Esc cancel"


def _builtin(**extra: str) -> Term:
    term = Term(_env(KUBESAFE_IGNORE_FZF="1", **extra))
    term.wait(BUILTIN_READY)
    return term


# -- built-in picker in a pty ------------------------------------------------------------


def test_builtin_arrow_down_and_enter() -> None:
    term = _builtin()
    term.keys(DOWN, DOWN, UP, ENTER)
    assert term.result() == ("RESULT='beta'", True)


@pytest.mark.parametrize(("keys", "expected"), [("\x0e\x0e\x0e\x10", "gamma")])
def test_builtin_emacs_keys(keys: str, expected: str) -> None:
    term = _builtin()
    term.keys(*keys, ENTER)
    assert term.result() == (f"RESULT={expected!r}", True)


def test_builtin_typing_filters_case_insensitively() -> None:
    term = _builtin()
    term.keys(*"PS")
    term.wait("1/5")
    term.keys(ENTER)
    assert term.result() == ("RESULT='epsilon'", True)


def test_builtin_backspace_widens_the_filter_again() -> None:
    term = _builtin()
    term.keys(*"eps", "\x7f", "\x7f", "\x7f")
    term.wait("5/5")
    term.keys(UP, ENTER)  # the cursor stayed on epsilon while the list widened
    assert term.result() == ("RESULT='delta'", True)


def test_builtin_letters_always_filter_never_move() -> None:
    """j, k and q are text: typing kube-system must filter, not move or cancel."""
    term = _builtin(ITEMS="default,kube-public,kube-system,quota")
    term.keys(*"kube-s")
    term.wait("1/4")
    term.keys(ENTER)
    assert term.result() == ("RESULT='kube-system'", True)


@pytest.mark.parametrize("key", [ESC, "\x03", "\x04"], ids=["esc", "ctrl-c", "ctrl-d"])
def test_builtin_cancel_keys(key: str) -> None:
    term = _builtin()
    term.keys(DOWN, key)
    assert term.result() == ("RESULT=None", True)


def test_builtin_starts_on_the_current_item() -> None:
    term = _builtin(CUR="delta", NO_COLOR="1")
    term.wait(">\\* delta")  # cursor and current mark on one row
    term.keys(ENTER)
    assert term.result() == ("RESULT='delta'", True)


def test_builtin_thousands_scroll_to_the_end() -> None:
    term = Term(_env(KUBESAFE_IGNORE_FZF="1", N="3000"), rows=24)
    term.wait(BUILTIN_READY)
    frame = term.wait(r"\x1b\[\d+A")  # the rest of the first frame
    assert "ns-00000" in frame and "ns-00019" in frame
    assert "ns-00020" not in frame  # only what fits (at most 20 rows)
    term.keys(END)
    term.wait("ns-02999")
    term.keys(ENTER)
    assert term.result() == ("RESULT='ns-02999'", True)


def test_builtin_thousands_filtered() -> None:
    term = Term(_env(KUBESAFE_IGNORE_FZF="1", N="3000"))
    term.wait(BUILTIN_READY)
    term.keys(*"2999")
    term.wait("1/3000")
    term.keys(ENTER)
    assert term.result() == ("RESULT='ns-02999'", True)


def test_builtin_draws_only_rows_that_fit() -> None:
    term = Term(_env(KUBESAFE_IGNORE_FZF="1", N="50"), rows=8, columns=30)
    frame = term.wait(r"\x1b\[\d+A")  # the first frame
    assert [f"ns-{i:05d}" in frame for i in range(7)] == [True] * 5 + [False] * 2
    term.keys(*[DOWN] * 10, ENTER)
    assert term.result() == ("RESULT='ns-00010'", True)


def test_builtin_colours_and_no_color() -> None:
    term = _builtin(CUR="beta")
    term.keys(DOWN)
    term.wait("gamma")
    term.keys(ESC)
    term.result()
    assert "\x1b[7m" in term.seen and "\x1b[1;33m * beta" in term.seen
    plain = _builtin(CUR="beta", NO_COLOR="1")
    plain.keys(DOWN, ESC)
    plain.result()
    assert (
        "\x1b[7m" not in plain.seen
        and "\x1b[1;33m" not in plain.seen
        and "\x1b[2m" not in plain.seen
    )


def test_builtin_restores_the_terminal_when_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    term = _builtin(PIDFILE=str(pidfile))
    os.kill(int(pidfile.read_text()), signal.SIGTERM)
    got, restored = term.result()
    assert got == "" and restored


def test_no_terminal_is_a_clear_error() -> None:
    env = _env(KUBESAFE_IGNORE_FZF="1")
    result = subprocess.run(
        [sys.executable, "-c", DRIVER],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,  # no controlling terminal
        timeout=30,
    )
    assert result.stdout.startswith("ERROR=no terminal"), result.stdout + result.stderr
    assert result.stderr == ""


# -- real fzf ------------------------------------------------------------------------------


def _fzf(**extra: str) -> Term:
    term = Term(_env(**extra))
    total = extra.get("N") or "5"
    term.wait(f"{total}/{total}")
    return term


def _fzf_cursor_on(item: str) -> str:
    """fzf's row with the pointer: ">" then colour changes and spaces, then the item."""
    return rf">\x1b\[m(?:\x1b\[[\d;]*m| )*{item}"


@needs_fzf
def test_fzf_arrow_down_and_enter() -> None:
    term = _fzf()
    term.keys(DOWN, ENTER)
    got = term.result()
    assert got == ("RESULT='beta'", True)
    assert BUILTIN_READY not in term.seen  # it really was fzf


@needs_fzf
def test_fzf_typed_filter() -> None:
    term = _fzf()
    term.keys(*"psil")
    term.wait("1/5")
    term.keys(ENTER)
    assert term.result() == ("RESULT='epsilon'", True)


@needs_fzf
@pytest.mark.parametrize("key", [ESC, "\x03"], ids=["esc", "ctrl-c"])
def test_fzf_cancel(key: str) -> None:
    term = _fzf()
    term.keys(key)
    assert term.result() == ("RESULT=None", True)


@needs_fzf
def test_fzf_no_match_is_none() -> None:
    term = _fzf()
    term.keys("3")  # only the names are searched, not the index fzf answers with
    term.wait("0/5")
    term.keys(ENTER)
    assert term.result() == ("RESULT=None", True)


@needs_fzf
def test_fzf_current_is_preselected_and_marked() -> None:
    term = _fzf(CUR="delta")
    term.wait(_fzf_cursor_on("delta"))  # fzf moves the cursor once the list is loaded
    term.keys(ENTER)
    assert term.result() == ("RESULT='delta'", True)  # plain name: fzf --ansi drops colours
    assert "current: delta" in term.seen
    assert re.search(r"\x1b\[;?1;33(;40)?mdelta", term.seen)  # our colour, kept by --ansi


@needs_fzf
def test_fzf_thousands_filtered() -> None:
    term = _fzf(N="3000")
    term.keys(*"02999")
    term.wait("1/3000")
    term.keys(ENTER)
    assert term.result() == ("RESULT='ns-02999'", True)


@needs_fzf
@pytest.mark.parametrize("variable", ["KUBESAFE_IGNORE_FZF", "KUBECTX_IGNORE_FZF"])
def test_ignore_fzf_variables(variable: str) -> None:
    term = Term(_env(**{variable: "1"}))
    term.wait(BUILTIN_READY)
    term.keys(DOWN, ENTER)
    assert term.result() == ("RESULT='beta'", True)


@needs_fzf
def test_old_fzf_is_not_given_pos(tmp_path: Path) -> None:
    old = tmp_path / "fzf"
    old.write_text(
        "#!/bin/sh\n"
        '[ "$1" = --version ] && { echo "0.35.1 (old)"; exit 0; }\n'
        'for a in "$@"; do case "$a" in --bind=*) echo "unknown: pos" >&2; exit 2;; esac; done\n'
        f'exec {FZF} "$@"\n'
    )
    old.chmod(0o755)
    term = _fzf(CUR="delta", PATH=f"{tmp_path}:{os.environ['PATH']}")
    term.keys(DOWN, ENTER)
    assert term.result() == ("RESULT='beta'", True)  # no preselection, but fzf it is
    assert BUILTIN_READY not in term.seen


def test_broken_fzf_falls_back_to_the_builtin(tmp_path: Path) -> None:
    broken = tmp_path / "fzf"
    broken.write_text("#!/bin/sh\necho 'fzf: cannot start' >&2\nexit 2\n")
    broken.chmod(0o755)
    term = Term(_env(PATH=f"{tmp_path}:{os.environ['PATH']}"))
    term.wait(BUILTIN_READY)
    term.keys(DOWN, ENTER)
    assert term.result() == ("RESULT='beta'", True)
    assert "fzf: cannot start" in term.seen  # on the terminal, not hidden


@needs_fzf
def test_fzf_draws_on_the_terminal_even_when_stderr_is_redirected() -> None:
    term = Term(_env(), script=SCRIPT.replace("</dev/null)", "</dev/null 2>/dev/null)"))
    term.wait("5/5")
    term.keys(DOWN, ENTER)
    assert term.result() == ("RESULT='beta'", True)


EVIL = "evil\x1b[2J\tname"


@pytest.mark.parametrize("picker_kind", ["builtin", "fzf"])
def test_control_characters_are_shown_harmlessly_and_returned_intact(picker_kind: str) -> None:
    if picker_kind == "fzf" and FZF is None:
        pytest.fail("fzf is not installed; .ci/run installs Debian's fzf")
    extra = {"KUBESAFE_IGNORE_FZF": "1"} if picker_kind == "builtin" else {}
    term = Term(_env(ITEMS=f"alpha,{EVIL}", CUR=EVIL, **extra))
    term.wait("evil\\?\\[2J\\?name")
    term.keys(*"evil")
    term.wait("1/2")
    term.keys(ENTER)
    assert term.result() == (f"RESULT={EVIL!r}", True)
    assert "\x1b[2J" not in term.seen


# -- pure parts -------------------------------------------------------------------------------


def test_decode_keys() -> None:
    assert decode_keys("\x1b[A\x1bOB\x1b[5~x\x1b\r\x7f\x1b[1;5C/") == [
        "up",
        "down",
        "pgup",
        "x",
        "esc",
        "enter",
        "backspace",
        "/",
    ]


def test_render_never_wraps_and_marks_rows() -> None:
    state = picker._State(["a" * 200, "b", "c"], "b")
    lines = render(state, "ns", rows=10, columns=40, colour=False)
    assert all(len(line) <= 39 for line in lines)
    assert lines[0] == "ns> " and lines[1].startswith("  3/3")
    assert lines[2:] == ["   " + "a" * 36, ">* b", "   c"]  # starts on the current item


def test_empty_list_picks_nothing() -> None:
    assert pick([], None, "ns", {}) is None


def test_numbered_list_for_consoles_without_termios() -> None:
    out = io.StringIO()
    items = [f"ns-{i}" for i in range(150)]
    assert pick_numbered(items, "ns-1", "ns", io.StringIO("2\n"), out) == "ns-1"
    assert "   2* ns-1" in out.getvalue() and "50 more" in out.getvalue()
    assert pick_numbered(items, None, "ns", io.StringIO("149\n1\n"), io.StringIO()) == "ns-149"
    assert pick_numbered(items, None, "ns", io.StringIO("ns-7\n"), io.StringIO()) == "ns-7"
    assert pick_numbered(items, None, "ns", io.StringIO("nope\n\n"), io.StringIO()) is None
    assert pick_numbered(items, None, "ns", io.StringIO(""), io.StringIO()) is None


class _CountingList(list[str]):
    """A list that counts reads by index: how many items a filter looked at."""

    reads = 0

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        _CountingList.reads += 1
        return super().__getitem__(index)


def test_filter_on_twenty_thousand_items_narrows_instead_of_rescanning() -> None:
    items = [f"team-{i:05d}" for i in range(20_000)]
    state = picker._State(items, "team-01234")
    state.lowered = _CountingList(state.lowered)
    for key in "01234":
        state.handle(key)
    # The first key scans everything; each further key looks only at what still matches.
    pools = [sum(1 for item in items if "01234"[:n] in item) for n in range(5)]
    assert _CountingList.reads == sum(pools) < 2 * 20_000  # rescanning would read 100,000
    assert [items[i] for i in state.matches] == [item for item in items if "01234" in item]
    assert state.selected == "team-01234"  # the selection survives narrowing
    state.handle("backspace")  # widening scans again and keeps the selection
    assert [items[i] for i in state.matches] == [item for item in items if "0123" in item]
    assert state.selected == "team-01234"
    state.handle("clear")
    assert len(state.matches) == 20_000 and state.selected == "team-01234"
