"""A program in a pseudo-terminal of its own, for the tour: what it shows, and typing into it.

The pseudo-terminal is the program's controlling terminal (``/dev/tty``), so
kubesafe's confirmation banner and question appear in it exactly as on a real
terminal, and an answer typed into it reaches the question, not stdin. The
program is started through a tiny Python step that adopts the terminal and
then execs it: ``subprocess`` cannot do that itself, and ``pty.fork`` is unsafe
in a process with threads (the demo's API server runs in threads).
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

# Run as `python -c ADOPT TTY PROGRAM ARGS...` in a new session: opening the terminal
# makes it the session's controlling terminal (TIOCSCTTY where opening alone does not).
_ADOPT = (
    "import os,sys\n"
    "fd=os.open(sys.argv[1],os.O_RDWR)\n"
    "try:\n"
    " import fcntl,termios;fcntl.ioctl(fd,termios.TIOCSCTTY,0)\n"
    "except Exception:\n"
    " pass\n"
    "os.close(fd)\n"
    "os.execvp(sys.argv[2],sys.argv[2:])\n"
)
# Escape sequences that are not colours (bracketed paste, cursor moves), and the
# readline markers around invisible text: never part of what the tour prints.
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-ln-z]|\x1b[()][A-Z0-9]|\x1b[=>]|[\x01\x02\r\x07]")
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


class TerminalError(Exception):
    """The program did not show what was waited for; one line."""


def available() -> bool:
    return os.name == "posix" and hasattr(os, "openpty")


def clean(text: str, *, colour: bool) -> str:
    text = _CONTROL.sub("", text)
    return text if colour else _COLOUR.sub("", text)


class PseudoTerminal:
    """Start with :meth:`start`; always :meth:`close`."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], columns: int = 160) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.columns = columns
        self.fd = -1
        self.process: subprocess.Popen[bytes] | None = None
        self._pending = ""

    def start(self) -> PseudoTerminal:
        import fcntl
        import struct
        import termios

        master, slave = os.openpty()
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, self.columns, 0, 0))
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _ADOPT, os.ttyname(slave), *self.argv],
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=self.env,
                start_new_session=True,
                close_fds=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.fd = master
        return self

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode("utf-8"))

    def read_until(self, pattern: re.Pattern[str], timeout: float) -> str:
        """Everything the program shows up to the end of the first match of ``pattern``."""
        deadline = time.monotonic() + timeout
        while True:
            found = pattern.search(_CONTROL.sub("", self._pending))
            if found is not None:
                return self._take(pattern)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TerminalError(f"no {pattern.pattern!r} within {timeout:g} s")
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the program ended
                chunk = b""
            if not chunk:
                raise TerminalError(f"the program ended before showing {pattern.pattern!r}")
            self._pending += chunk.decode("utf-8", "replace")

    def _take(self, pattern: re.Pattern[str]) -> str:
        """Cut the pending text after the match (found in its control-free form)."""
        for end in range(1, len(self._pending) + 1):
            if pattern.search(_CONTROL.sub("", self._pending[:end])):
                taken, self._pending = self._pending[:end], self._pending[end:]
                return taken
        taken, self._pending = self._pending, ""
        return taken

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGHUP)
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> PseudoTerminal:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
