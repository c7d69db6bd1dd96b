"""The locks a kubeconfig writer holds: kubectl's ``<file>.lock`` and a private flock.

kubectl (client-go ``ModifyConfig``) creates ``<file>.lock`` with
``O_CREATE|O_EXCL`` for every file it may write, spelled as given, and gives up
at once with "file exists" if one is there. kubesafe creates the same files,
so the two never write at the same time, but waits a bounded time instead of
failing. Before that, kubesafe writers queue on an ``fcntl.flock`` of the
file's directory (released by the kernel even when a writer is killed), so
they never poll each other; holding it also proves that a ``.lock`` marked as
kubesafe's was left behind by a killed kubesafe and may be removed. Without
fcntl (Windows) only the ``.lock`` files are used.
"""

from __future__ import annotations

import os
import time
from types import TracebackType

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

DEFAULT_TIMEOUT = 10.0
_POLL = 0.02
MARKER = b"kubesafe lock\n"


class LockError(Exception):
    """A lock stayed held; the message says which file to remove if it is stale."""


def lock_names(path: str) -> list[str]:
    """The ``.lock`` files kubectl would use for ``path`` under any spelling we know."""
    names = {os.path.abspath(path) + ".lock": path + ".lock"}
    real = os.path.realpath(path)
    names.setdefault(real + ".lock", real + ".lock")
    return [names[key] for key in sorted(names)]


class WriteLock:
    """Hold all locks for writing ``path``; use as a context manager."""

    def __init__(self, path: str, timeout: float | None = None) -> None:
        self.path = path
        self.timeout = _timeout() if timeout is None else timeout
        self.directory = os.path.dirname(os.path.realpath(path)) or "."
        self._dir_fd: int | None = None
        self._held: list[str] = []

    def __enter__(self) -> WriteLock:
        deadline = time.monotonic() + self.timeout
        try:
            self._flock(deadline)
            for name in lock_names(self.path):
                self._create(name, deadline)
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def _flock(self, deadline: float) -> None:
        if fcntl is None:
            return
        self._dir_fd = os.open(self.directory, os.O_RDONLY)
        while True:
            try:
                fcntl.flock(self._dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockError(
                        f"another kubesafe process keeps {self.directory} locked; try again"
                    ) from None
                time.sleep(_POLL)

    def _create(self, name: str, deadline: float) -> None:
        while True:
            try:
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                if self._dir_fd is not None and _is_ours(name):
                    # We hold the flock, so no live kubesafe writer owns it.
                    _remove(name)
                    continue
                if time.monotonic() > deadline:
                    raise LockError(
                        f"{name} exists: kubectl or another program is writing {self.path}; "
                        f"if none is running, remove {name}"
                    ) from None
                time.sleep(_POLL)
                continue
            self._held.append(name)
            try:
                os.write(fd, MARKER)
            finally:
                os.close(fd)
            return

    def release(self) -> None:
        while self._held:
            _remove(self._held.pop())
        if self._dir_fd is not None:
            os.close(self._dir_fd)  # closing drops the flock
            self._dir_fd = None


def _is_ours(name: str) -> bool:
    try:
        with open(name, "rb") as handle:
            return handle.read(len(MARKER) + 1) == MARKER
    except OSError:
        return False


def _remove(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass


def _timeout() -> float:
    try:
        return float(os.environ.get("KUBESAFE_LOCK_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT
