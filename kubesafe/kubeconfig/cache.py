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
_HEADER = ("kubesafe-file-index", 2, __version__, sys.version_info[:2])

Identity = tuple[int, int, int, int, int]


class FileReadError(Exception):
    """A file that exists but cannot be read; the message is one line."""


def _identity(st: os.stat_result) -> Identity:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def default_path() -> str:
    return os.path.join(paths.cache_dir(), "parsed-files.marshal")


class FileIndex:
    """The on-disk cache, loaded once per process and saved only when changed."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or default_path()
        self.entries: dict[tuple[str, str], tuple[Identity, Any]] = {}
        self.dirty = False
        self.hits = 0
        self.misses = 0
        # Files changed within RACY_SECONDS are not stored for later processes, but one
        # process reading the same unchanged file twice (the prompt's sync, then its
        # segment) parses it once.
        self._recent: dict[tuple[str, str], tuple[Identity, Any]] = {}
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
            handle = open(path, "rb")  # noqa: SIM115 - closed below; fstat needs the fd
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise FileReadError(f"cannot read it: {exc.strerror or exc}") from None
        key = (kind, path)
        with handle:
            try:
                before = _identity(os.fstat(handle.fileno()))
                cached = self.entries.get(key)
                if cached is None or cached[0] != before:
                    cached = self._recent.get(key)
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
        settled = time.time_ns() - max(after[3], after[4]) > RACY_SECONDS * 1_000_000_000
        if before == after and not settled:
            self._recent[key] = (after, data)
        if before == after and settled:
            self.entries.pop(key, None)
            self.entries[key] = (after, data)
            while len(self.entries) > MAX_ENTRIES:
                del self.entries[next(iter(self.entries))]
            self.dirty = True
        return data

    def computed(self, path: str, kind: str, compute: Callable[[str], T]) -> T:
        """``compute(path)``, remembered while the file's identity stays the same.

        For facts about big files (a binary's version) that must not be re-read.
        """
        try:
            identity = _identity(os.stat(path))
        except OSError:
            return compute(path)
        key = (kind, path)
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
