"""Choose one item on the terminal: fzf when installed, otherwise a small built-in picker.

Everything happens on the controlling terminal (``/dev/tty``), never on stdin or
stdout, so that ``ns=$(kubesafe ns)`` and pipes still work. fzf reads its keys and
draws on the terminal by itself; its stdin carries the items and its stdout the choice.

The built-in picker (Unix) draws a few lines below the cursor with ANSI escapes, like
``fzf --height``: arrows and Ctrl-N/Ctrl-P move; every printable key filters
(case-insensitive substring), so typing ``kube-system`` never moves the cursor; Enter
picks; Esc, Ctrl-C and Ctrl-D cancel.
Without termios (Windows) a numbered list is read from the console instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO

IGNORE_FZF_VARIABLES = ("KUBESAFE_IGNORE_FZF", "KUBECTX_IGNORE_FZF")
FZF_INTERRUPTED = 130
FZF_NO_MATCH = 1
MAX_ROWS = 20
NUMBERED_LIMIT = 100
NO_TERMINAL = "no terminal to pick on; give the name as an argument"
HINT = "↑↓ move  type to filter  Enter pick  Esc cancel"

_KEYS = {
    "\x1b[A": "up",
    "\x1bOA": "up",
    "\x1b[B": "down",
    "\x1bOB": "down",
    "\x1b[H": "home",
    "\x1bOH": "home",
    "\x1b[1~": "home",
    "\x1b[7~": "home",
    "\x1b[F": "end",
    "\x1bOF": "end",
    "\x1b[4~": "end",
    "\x1b[8~": "end",
    "\x1b[5~": "pgup",
    "\x1b[6~": "pgdn",
    "\r": "enter",
    "\n": "enter",
    "\x7f": "backspace",
    "\x08": "backspace",
    "\x03": "ctrl-c",
    "\x04": "ctrl-d",
    "\x0e": "down",
    "\x10": "up",
    "\x15": "clear",
}
_CANCEL = ("esc", "ctrl-c", "ctrl-d")


class PickerError(Exception):
    """No terminal to pick on; the message is one line for the user."""


def pick(
    items: Sequence[str], current: str | None, title: str, env: Mapping[str, str]
) -> str | None:
    """The item chosen on the terminal, or None when the user cancels (or there are none)."""
    if not items:
        return None
    fzf = _fzf(env)
    if fzf is not None:
        try:
            return _pick_fzf(fzf, items, current, title, env)
        except _FzfFailed:
            pass  # fall back on the built-in picker
    try:
        import termios  # noqa: F401
    except ImportError:
        return _pick_on_console(items, current, title)
    return _pick_builtin(items, current, title, env)


# -- fzf -------------------------------------------------------------------------------


class _FzfFailed(Exception):
    pass


def _fzf(env: Mapping[str, str]) -> str | None:
    if any(env.get(name) for name in IGNORE_FZF_VARIABLES):
        return None
    return shutil.which("fzf", path=env.get("PATH", os.defpath))


def _pick_fzf(
    fzf: str, items: Sequence[str], current: str | None, title: str, env: Mapping[str, str]
) -> str | None:
    colour = not env.get("NO_COLOR")
    # "INDEX<TAB>shown name": fzf shows and searches the name only, and answers with the
    # index, so that a name fzf would mangle (escape sequences, tabs) still comes back intact.
    lines = []
    for index, item in enumerate(items):
        shown = printable(item)
        if colour and item == current:
            shown = f"\x1b[1;33m{shown}\x1b[0m"
        lines.append(f"{index}\t{shown}\n")
    arguments = [fzf, "--height=40%", "--layout=reverse", "--no-multi", "--ansi"]
    arguments += ["--delimiter=\t", "--with-nth=2..", f"--prompt={printable(title)}> "]
    if current is not None and current in items:
        arguments.append(f"--header=current: {printable(current)}")
        if _fzf_version(fzf, env) >= (0, 36):  # the load event and pos() action
            arguments.append(f"--bind=load:pos({items.index(current) + 1})")
    terminal = _terminal_output()
    try:
        result = subprocess.run(
            arguments,
            input="".join(lines),
            stdout=subprocess.PIPE,
            stderr=terminal,
            env=dict(env),
            text=True,
            check=False,
        )
    except OSError:
        raise _FzfFailed from None
    finally:
        if terminal is not None:
            os.close(terminal)
    if result.returncode in (FZF_INTERRUPTED, FZF_NO_MATCH):
        return None
    if result.returncode != 0:
        raise _FzfFailed
    answer = result.stdout.split("\t", 1)[0]
    return items[int(answer)] if answer.isdigit() and int(answer) < len(items) else None


def _fzf_version(fzf: str, env: Mapping[str, str]) -> tuple[int, ...]:
    try:
        result = subprocess.run(
            [fzf, "--version"], capture_output=True, text=True, env=dict(env), timeout=5
        )
        numbers = result.stdout.split()[0].split(".")[:2]
        return tuple(int(number) for number in numbers)
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return ()


def _terminal_output() -> int | None:
    """fzf --height draws on its stderr: point that at the terminal, wherever stderr goes."""
    if os.name == "nt":
        return None
    try:
        return os.open("/dev/tty", os.O_WRONLY | os.O_NOCTTY)
    except OSError:
        raise PickerError(NO_TERMINAL) from None


# -- built-in picker: pure state -------------------------------------------------------


class _State:
    """What the user has typed and where the cursor is; no I/O."""

    def __init__(self, items: Sequence[str], current: str | None) -> None:
        self.items = items
        self.current = current
        self.lowered = [item.lower() for item in items]
        self.filter = ""
        self.matches = list(range(len(items)))
        self.cursor = items.index(current) if current in items else 0
        self.offset = 0
        self.page = 1

    @property
    def selected(self) -> str | None:
        return self.items[self.matches[self.cursor]] if self.matches else None

    def handle(self, key: str) -> str | None:
        """Apply one key; "pick" or "cancel" when the session is over."""
        if key in _CANCEL:
            return "cancel"
        if key == "enter":
            return "pick" if self.matches else None
        moves = {"up": -1, "down": 1, "pgup": -self.page, "pgdn": self.page}
        if key in moves:
            self._move(self.cursor + moves[key])
        elif key == "home":
            self._move(0)
        elif key == "end":
            self._move(len(self.matches) - 1)
        elif key == "backspace":
            if self.filter:
                self._refilter(self.filter[:-1])
        elif key == "clear":
            self._refilter("")
        elif len(key) == 1:
            self._refilter(self.filter + key)
        return None

    def _move(self, cursor: int) -> None:
        self.cursor = max(0, min(cursor, len(self.matches) - 1))

    def _refilter(self, text: str) -> None:
        before = self.matches[self.cursor] if self.matches else None
        needle = text.lower()
        # A longer filter can only narrow: search the current matches, not all 20,000 items.
        narrowing = bool(self.filter) and needle.startswith(self.filter.lower())
        pool: Sequence[int] = self.matches if narrowing else range(len(self.items))
        lowered = self.lowered
        self.filter = text
        self.matches = [i for i in pool if needle in lowered[i]]
        self.cursor = 0
        if before is not None:
            # matches are in ascending order: find the previous selection by bisection
            at = bisect_left(self.matches, before)
            if at < len(self.matches) and self.matches[at] == before:
                self.cursor = at
        self.offset = 0

    def visible(self, rows: int) -> list[int]:
        """The match positions to draw in ``rows`` lines, scrolled to show the cursor."""
        self.page = max(1, rows)
        if self.cursor < self.offset:
            self.offset = self.cursor
        elif self.cursor >= self.offset + self.page:
            self.offset = self.cursor - self.page + 1
        return list(range(self.offset, min(len(self.matches), self.offset + self.page)))


def decode_keys(text: str) -> list[str]:
    """Key names ("up", "enter", "esc", or the character typed) in terminal input."""
    keys: list[str] = []
    i = 0
    while i < len(text):
        for length in (4, 3, 2, 1):
            name = _KEYS.get(text[i : i + length])
            if name is not None:
                keys.append(name)
                i += length
                break
        else:
            char = text[i]
            if char == "\x1b" and text[i + 1 : i + 2] in ("[", "O"):
                i += 2  # an escape sequence we do not use: skip to its final byte
                while i < len(text) and not "@" <= text[i] <= "~":
                    i += 1
                i += 1
                continue
            if char == "\x1b":
                keys.append("esc")
            elif char.isprintable():
                keys.append(char)
            i += 1
    return keys


def render(state: _State, title: str, rows: int, columns: int, colour: bool) -> list[str]:
    """The lines of the picker for a terminal of ``rows`` x ``columns`` (prompt first)."""
    width = max(10, columns - 1)  # never wrap: redrawing counts lines
    prompt = printable(f"{title}> {state.filter}")
    info = f"  {len(state.matches)}/{len(state.items)}  {HINT}"
    lines = [prompt[:width], _paint(info[:width], "2", colour)]
    for position in state.visible(min(MAX_ROWS, rows - 3)):
        item = state.items[state.matches[position]]
        here = position == state.cursor
        mark = "*" if item == state.current else " "
        text = f"{'>' if here else ' '}{mark} {printable(item)}"[:width]
        if here:
            text = _paint(text, "7", colour)
        elif mark == "*":
            text = _paint(text, "1;33", colour)
        lines.append(text)
    return lines


def printable(text: str) -> str:
    """``text`` safe to show: control characters (escape sequences, tabs...) become "?"."""
    return text if text.isprintable() else "".join(c if c.isprintable() else "?" for c in text)


def _paint(text: str, sgr: str, colour: bool) -> str:
    return f"\x1b[{sgr}m{text}\x1b[0m" if colour else text


# -- built-in picker: the terminal -----------------------------------------------------


def _pick_builtin(
    items: Sequence[str], current: str | None, title: str, env: Mapping[str, str]
) -> str | None:
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        raise PickerError(NO_TERMINAL) from None
    try:
        with _raw_mode(fd), _signals_restore():
            return _session(fd, _State(items, current), title, not env.get("NO_COLOR"))
    finally:
        os.close(fd)


@contextmanager
def _raw_mode(fd: int) -> Iterator[None]:
    import termios

    saved = termios.tcgetattr(fd)
    mode = termios.tcgetattr(fd)
    mode[0] &= ~(termios.ICRNL | termios.INLCR | termios.IXON | termios.ISTRIP)
    # No ISIG: Ctrl-C and Ctrl-Z arrive as keys (cancel) rather than as signals.
    mode[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG | termios.IEXTEN)
    mode[6][termios.VMIN] = 1
    mode[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, mode)
    try:
        yield
    finally:
        try:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        except termios.error:
            pass  # the terminal is gone: nothing left to restore


@contextmanager
def _signals_restore() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind (and so restore the terminal) instead of killing at once."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def leave(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    wanted = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {signum: signal.signal(signum, leave) for signum in wanted}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _session(fd: int, state: _State, title: str, colour: bool) -> str | None:
    def write(text: str) -> None:
        _write_all(fd, text.encode("utf-8", "replace"))

    try:
        while True:
            rows, columns = _size(fd)
            lines = render(state, title, rows, columns, colour)
            # Draw below the cursor, then park it after the prompt on the first line.
            up = f"\x1b[{len(lines) - 1}A" if len(lines) > 1 else ""
            right = f"\x1b[{len(lines[0])}C" if lines[0] else ""
            write("\r\x1b[J" + "\r\n".join(lines) + up + "\r" + right)
            for key in decode_keys(_read(fd)):
                outcome = state.handle(key)
                if outcome == "pick":
                    return state.selected
                if outcome == "cancel":
                    return None
    except OSError:
        return None  # the terminal went away
    finally:
        try:
            write("\r\x1b[J")
        except OSError:
            pass


def _size(fd: int) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return 24, 80
    return size.lines or 24, size.columns or 80


def _read(fd: int) -> str:
    import select

    data = os.read(fd, 1024)
    if data == b"\x1b":
        # A lone Esc, or the first byte of an arrow key that is still on its way?
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            data += os.read(fd, 1024)
    if not data:
        return "\x04"  # the terminal went away: cancel
    return data.decode("utf-8", "replace")


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


# -- numbered list (no termios) --------------------------------------------------------


def _pick_on_console(items: Sequence[str], current: str | None, title: str) -> str | None:
    from kubesafe.confirm import open_terminal

    terminal = open_terminal()
    if terminal is None:
        raise PickerError(NO_TERMINAL)
    try:
        return pick_numbered(items, current, title, terminal.reader, terminal.writer)
    finally:
        terminal.close()


def pick_numbered(
    items: Sequence[str], current: str | None, title: str, reader: IO[str], writer: IO[str]
) -> str | None:
    """A numbered list; answer a number, a name, or text to narrow the list (empty: cancel)."""
    shown = list(items)
    while True:
        for number, item in enumerate(shown[:NUMBERED_LIMIT], 1):
            writer.write(f"{number:>4}{'*' if item == current else ' '} {item}\n")
        if len(shown) > NUMBERED_LIMIT:
            writer.write(f"     ... {len(shown) - NUMBERED_LIMIT} more: type text to narrow\n")
        writer.write(f"{title} (number, name or text; empty to cancel): ")
        writer.flush()
        try:
            line = reader.readline()
        except (KeyboardInterrupt, OSError):
            return None
        answer = line.strip()
        if not answer or answer == "q":
            return None
        if answer.isdigit() and 1 <= int(answer) <= min(len(shown), NUMBERED_LIMIT):
            return shown[int(answer) - 1]
        if answer in items:
            return answer
        narrowed = [item for item in items if answer.lower() in item.lower()]
        if narrowed:
            shown = narrowed
        else:
            writer.write(f"nothing matches {answer!r}\n")
