"""Parsed-file cache so the shim does not pay for YAML on every call.

One private file in the cache directory maps each (kind, path) to the identity
of the file when it was parsed (device, inode, size, mtime and ctime in
nanoseconds) and the values extracted from it: for kubeconfigs the names,
references, server URLs, namespaces and kubesafe extensions (never
credentials); for the policy file its rules. An entry is used only while the
identity still matches exactly.

A file changed twice within the filesystem's timestamp granularity can keep
its identity while its content differs (the "racy git" problem), so a file
modified less than ``RACY_SECONDS`` ago is parsed but not cached. A cache file
that another user could have written is ignored: it decides protection.
"""

from __future__ import annotations

import marshal
import os
import stat
import sys
import time

from kubesafe import __version__, paths

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")

RACY_SECONDS = 2
MAX_ENTRIES = 256
_HEADER = ("kubesafe-file-index", 3, __version__, sys.version_info[:2])

Identity = tuple[int, int, int, int, int]


class FileReadError(Exception):
    """A file that exists but cannot be read; the message is one line."""


class NotRegularFile(FileReadError):
    """A pipe, FIFO, socket or device: reading it would take its content from the
    program the file is meant for (``--kubeconfig <(sops -d ...)`` is read once)."""


_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def _is_devnull(st: os.stat_result) -> bool:
    """``KUBECONFIG=/dev/null`` is a common way to say "no kubeconfig": it reads empty."""
    if not stat.S_ISCHR(st.st_mode):
        return False
    try:
        null = os.stat(os.devnull)
    except OSError:
        return False
    return stat.S_ISCHR(null.st_mode) and null.st_rdev == st.st_rdev


def _refuse_special(st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise FileReadError("cannot read it: Is a directory")
    if stat.S_ISFIFO(st.st_mode):
        what = "a pipe"
    elif stat.S_ISSOCK(st.st_mode):
        what = "a socket"
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        what = "a device"
    else:
        what = "special"
    raise NotRegularFile(f"is {what}, not a regular file")


def _identity(st: os.stat_result) -> Identity:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def default_path() -> str:
    return os.path.join(paths.cache_dir(), "parsed-files.marshal")


class FileIndex:
    """The on-disk cache, loaded once per process and saved only when changed."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or default_path()
        # (kind, path) -> (the file's identity, or a digest of the content used; value)
        self.entries: dict[tuple[str, str], tuple[Identity | bytes, Any]] = {}
        self.dirty = False
        self.hits = 0
        self.misses = 0
        # What this process parsed, also files too fresh to cache on disk: never twice.
        self._parsed: dict[tuple[str, str], tuple[Identity | bytes, Any]] = {}
        self._load()

    def _load(self) -> None:
        content = paths.read_private(self.path)
        if content is None:
            return
        try:
            payload = marshal.loads(content)
        except (EOFError, ValueError, TypeError):
            return
        valid = isinstance(payload, tuple) and len(payload) == 2 and payload[0] == _HEADER
        if valid and isinstance(payload[1], dict):
            self.entries = payload[1]

    def read(self, path: str, kind: str, parse: Callable[[bytes], T]) -> T | None:
        """``parse(content)`` of the file, or None when it does not exist.

        Raises FileReadError when it cannot be read, and whatever ``parse`` raises.
        """
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise FileReadError(f"cannot read it: {exc.strerror or exc}") from None
        if not stat.S_ISREG(st.st_mode):
            if _is_devnull(st):
                return parse(b"")
            _refuse_special(st)
        try:
            # O_NONBLOCK: should the path turn into a FIFO after the stat, opening
            # it must not wait for a writer; the fstat below then refuses it unread.
            fd = os.open(path, _OPEN_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise FileReadError(f"cannot read it: {exc.strerror or exc}") from None
        key = (kind, path)
        with open(fd, "rb") as handle:
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    _refuse_special(st)
                before = _identity(st)
                # This process's own parse first: the saved entry may be of an older file.
                for cached in (self._parsed.get(key), self.entries.get(key)):
                    if cached is not None and cached[0] == before:
                        self.hits += 1
                        result: T = cached[1]
                        return result
                self.misses += 1
                content = handle.read()
                after = _identity(os.fstat(handle.fileno()))
            except OSError as exc:
                raise FileReadError(f"cannot read it: {exc.strerror or exc}") from None
        data = parse(content)
        if before == after:
            self._parsed[key] = (after, data)
        settled = time.time_ns() - max(after[3], after[4]) > RACY_SECONDS * 1_000_000_000
        if before == after and settled:
            self.entries.pop(key, None)
            self.entries[key] = (after, data)
            while len(self.entries) > MAX_ENTRIES:
                del self.entries[next(iter(self.entries))]
            self.dirty = True
        return data

    def memo(self, kind: str, path: str) -> dict[Any, Any]:
        """A mutable per-file memo kept with the cache (content-addressed by its user).

        Handed out only to a parse that is about to run, so it is saved with the cache.
        """
        key = (kind, path)
        cached = self.entries.get(key)
        if cached is None or not isinstance(cached[1], dict):
            cached = ((0, 0, 0, 0, 0), {})
            self.entries[key] = cached
        self.dirty = True
        found: dict[Any, Any] = cached[1]
        return found

    def computed(
        self, path: str, kind: str, compute: Callable[[str], T], content_key: bytes = b""
    ) -> T:
        """``compute(path)``, remembered while the file's identity stays the same.

        For facts about big files (a binary's version) that must not be re-read.
        ``content_key`` (a digest of what ``compute`` depends on) replaces the file's
        identity: the result then survives rewrites that keep that content, and
        needs no racy wait.
        """
        key = (kind, path)
        if content_key:
            found = self.entries.get(key)
            if found is not None and found[0] == content_key:
                self.hits += 1
                kept: T = found[1]
                return kept
            self.misses += 1
            value = compute(path)
            self.entries.pop(key, None)
            self.entries[key] = (content_key, value)
            self.dirty = True
            return value
        try:
            identity = _identity(os.stat(path))
        except OSError:
            return compute(path)
        cached = self.entries.get(key)
        if cached is not None and cached[0] == identity:
            self.hits += 1
            result: T = cached[1]
            return result
        self.misses += 1
        value = compute(path)
        if time.time_ns() - max(identity[3], identity[4]) > RACY_SECONDS * 1_000_000_000:
            self.entries.pop(key, None)
            self.entries[key] = (identity, value)
            self.dirty = True
        return value

    def save(self) -> None:
        """Write the cache atomically if it changed; failures only cost speed."""
        if self.dirty and paths.write_private(self.path, marshal.dumps((_HEADER, self.entries))):
            self.dirty = False
