"""The guard's keeper: owns the listening socket, restarts a guard that died.

``python -m kubesafe.guard.keeper --dir DIR --port N --shell-pid PID -- GUARD ARGV...``
binds ``127.0.0.1:N`` once and runs the guard (``GUARD ARGV`` plus
``--listen-fd FD --keeper PID``) as its child with that socket inherited. When the guard
dies (even by SIGKILL) the keeper starts it again at once: meanwhile clients
wait in the listen backlog instead of being refused, and no other process can
take the port. The keeper never reads a connection: when the guard keeps
failing it backs off (logged to its stderr, the guard log) and closes the
connections that wait, so clients fail closed, never reach anything else.

It ends with SIGTERM (``terminal.stop``; the guard is stopped first) and when
the terminal's shell is gone. It is what ``guard.pid`` names, so the prompt's
``kill -0`` check watches it; the guard itself dies with it (``PR_SET_PDEATHSIG``
where there is one, otherwise its parent check within a second).

Stdlib C modules only (no ``socket``, ``signal``, ``subprocess``: they import
``enum`` and ``selectors``): it lives as long as the terminal and should cost
nothing.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal imports enum: 8 ms
import _socket
import os
import select
import sys
import time

from kubesafe.guard.pids import alive

HEALTHY = 10.0  # a guard that lived this long was not failing to start
QUICK_RESTARTS = 2  # quick failures to start retried at once before backing off
KILLED_RESTARTS = 5  # the same for quick deaths by a signal (someone killed it)
MAX_DELAY = 30.0
STOP_GRACE = 10.0  # for the guard to end its proxies after SIGTERM
BIND_WAIT = 5.0  # a guard being replaced may still hold the port
_STOP_SIGNALS = (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP)


class KeeperError(Exception):
    """The keeper cannot run; one line for the guard log."""


def log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    os.write(2, f"{stamp} kubesafe guard keeper[{os.getpid()}]: {message}\n".encode())


def parse(argv: list[str]) -> tuple[int, int, list[str]]:
    """``--dir`` (only for the PID check), ``--port``, ``--shell-pid``, ``--`` guard argv."""
    if "--" not in argv:
        raise KeeperError("usage: --dir DIR --port N [--shell-pid PID] -- GUARD ARGV")
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    values = dict(zip(options[::2], options[1::2], strict=False))
    unknown = set(values) - {"--dir", "--port", "--shell-pid"}
    if len(options) % 2 or unknown or "--port" not in values or not command:
        raise KeeperError(f"bad arguments: {' '.join(options)}")
    try:
        return int(values["--port"]), int(values.get("--shell-pid", "0")), command
    except ValueError:
        raise KeeperError(f"bad arguments: {' '.join(options)}") from None


def listen(port: int) -> _socket.socket:
    """Bind 127.0.0.1:port, waiting a little for a guard that is going away."""
    deadline = time.monotonic() + BIND_WAIT
    while True:
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen(512)
            return sock
        except OSError as exc:
            sock.close()
            if time.monotonic() >= deadline:
                raise KeeperError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
            time.sleep(0.05)


def backoff(failures: int, status: int | None) -> float:
    """Seconds before the next start after ``failures`` quick ends in a row."""
    killed = status is not None and os.WIFSIGNALED(status)
    allowed = KILLED_RESTARTS if killed else QUICK_RESTARTS
    if failures <= allowed:
        return 0.0
    return min(0.5 * 2.0 ** (failures - allowed - 1), MAX_DELAY)


def describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


class Keeper:
    def __init__(self, sock: _socket.socket, shell_pid: int, command: list[str]) -> None:
        self.sock = sock
        self.shell_pid = shell_pid
        self.command = [*command, "--listen-fd", str(sock.fileno()), "--keeper", str(os.getpid())]
        self.stopping = False
        self.child = 0
        self.wake, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        _signal.set_wakeup_fd(wake_write)
        for signum in _STOP_SIGNALS:
            _signal.signal(signum, self._stop)
        _signal.signal(_signal.SIGCHLD, self._child_ended)

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _child_ended(self, signum: int, frame: object) -> None:
        pass  # the wakeup fd ends the wait; waitpid tells which child

    def _shell_gone(self) -> bool:
        return self.shell_pid > 0 and not alive(self.shell_pid)

    def _wait(self, timeout: float, *, refuse: bool = False) -> None:
        """Sleep until a signal or the timeout; with ``refuse``, close waiting connections."""
        watched = [self.wake, self.sock.fileno()] if refuse else [self.wake]
        try:
            ready, _, _ = select.select(watched, [], [], timeout)
        except InterruptedError:
            return
        if self.wake in ready:
            try:
                os.read(self.wake, 512)
            except BlockingIOError:
                pass
        if self.sock.fileno() in ready:
            self._close_waiting()

    def _close_waiting(self) -> None:
        # The guard cannot serve now: close, never serve (clients fail closed).
        self.sock.setblocking(False)
        while True:
            try:
                fd, _ = self.sock._accept()  # type: ignore[attr-defined]  # no socket.py
            except OSError:
                return
            os.close(fd)

    def _start(self) -> None:
        self.child = os.posix_spawn(self.command[0], self.command, os.environ)

    def _reap(self) -> int | None:
        """The child's wait status once it has ended, else None."""
        try:
            pid, status = os.waitpid(self.child, os.WNOHANG)
        except ChildProcessError:
            return 0
        return status if pid == self.child else None

    def _end_child(self) -> None:
        if self.child == 0 or self._reap() is not None:
            return
        try:
            os.kill(self.child, _signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + STOP_GRACE
        while self._reap() is None:
            if time.monotonic() >= deadline:
                os.kill(self.child, _signal.SIGKILL)
                os.waitpid(self.child, 0)
                return
            self._wait(0.1)

    def run(self) -> int:
        failures = 0
        while not self.stopping and not self._shell_gone():
            started = time.monotonic()
            try:
                self._start()
            except OSError as exc:
                log(f"cannot start the guard: {exc.strerror or exc}")
                status = None
            else:
                status = self._watch()
                if status is None:
                    break  # stopping, or the shell is gone
            failures = failures + 1 if time.monotonic() - started < HEALTHY else 0
            delay = backoff(failures, status)
            what = "did not start" if status is None else f"{self.child} ended, {describe(status)}"
            log(f"guard {what}; " + (f"restarting in {delay:g}s" if delay else "restarting"))
            deadline = time.monotonic() + delay
            while not self.stopping and (left := deadline - time.monotonic()) > 0:
                if self._shell_gone():
                    break
                self._wait(min(left, 1.0), refuse=True)
        self._end_child()
        return 0

    def _watch(self) -> int | None:
        """Wait for the child to end; its status, or None when the keeper must stop."""
        while True:
            status = self._reap()
            if status is not None:
                return None if self.stopping or self._shell_gone() else status
            if self.stopping or self._shell_gone():
                return None
            self._wait(1.0)


def main(argv: list[str]) -> int:
    try:
        port, shell_pid, command = parse(argv)
        sock = listen(port)
    except KeeperError as exc:
        log(str(exc))
        return 1
    os.set_inheritable(sock.fileno(), True)
    return Keeper(sock, shell_pid, command).run()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
