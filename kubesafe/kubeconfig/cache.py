"""Parsed-file cache so the shim does not pay for YAML on every call.

Private files in the cache directory map each (kind, path) to the identity
of the file when it was parsed (device, inode, size, mtime and ctime in
nanoseconds) and the values extracted from it: for kubeconfigs the names,
references, server URLs, namespaces and kubesafe extensions (never
credentials); for the policy file its rules. An entry is used only while the
identity still matches exactly.

Kubeconfig entries (and what is derived from them alone) live in a file of their
own, loaded only when one is asked for: at 10,000 contexts they are megabytes, and
a call answered from the resolution memo (``kubesafe.resolution_memo``) must not
pay for loading them to read the policy or the version cache.

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

from kubesafe import __version__, paths, reads

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")

RACY_SECONDS = 2
MAX_ENTRIES = 256
_HEADER = ("kubesafe-file-index", 4, __version__, sys.version_info[:2])
# Kinds kept in the kubeconfig group (``endpoint-index:<hosts>`` kinds by prefix).
_KUBECONFIG_KINDS = frozenset({"kubeconfig", "kubeconfig-sections"})
_KUBECONFIG_PREFIX = "endpoint-index:"

Identity = tuple[int, int, int, int, int]
if TYPE_CHECKING:
    # (the file's identity, or a digest of the content used; the value)
    Entry = tuple[Identity | bytes, Any]


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


def _group_of(kind: str) -> int:
    """0: small entries (policy, kuberc, binaries); 1: kubeconfig-derived ones."""
    return 1 if kind in _KUBECONFIG_KINDS or kind.startswith(_KUBECONFIG_PREFIX) else 0



class FileIndex:
    """The on-disk cache: each group loaded on first use, saved only when changed."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or default_path()
        stem = self.path.removesuffix(".marshal")
        self.paths = (self.path, f"{stem}-kubeconfigs.marshal")
        # per group: (kind, path) -> Entry
        self._groups: list[dict[tuple[str, str], Entry] | None] = [None, None]
        self._dirty = [False, False]
        self.hits = 0
        self.misses = 0
        # What this process parsed, also files too fresh to cache on disk: never twice.
        self._parsed: dict[tuple[str, str], Entry] = {}

    def _group(self, kind: str) -> dict[tuple[str, str], Entry]:
        number = _group_of(kind)
        group = self._groups[number]
        if group is None:
            group = self._groups[number] = self._load(self.paths[number])
        return group

    def _changed(self, kind: str) -> None:
        self._dirty[_group_of(kind)] = True

    @staticmethod
    def _load(path: str) -> dict[tuple[str, str], Entry]:
        return paths.read_private_table(path, _HEADER)

    def _store(self, kind: str, path: str, entry: Entry) -> None:
        group = self._group(kind)
        group.pop((kind, path), None)
        group[(kind, path)] = entry
        while len(group) > MAX_ENTRIES:
            del group[next(iter(group))]
        self._changed(kind)

    def forget(self, kind: str, path: str) -> None:
        """Drop the saved entry of ``path`` (a file this process just replaced)."""
        if self._group(kind).pop((kind, path), None) is not None:
            self._changed(kind)

    def read(self, path: str, kind: str, parse: Callable[[bytes], T]) -> T | None:
        """``parse(content)`` of the file, or None when it does not exist.

        Raises FileReadError when it cannot be read, and whatever ``parse`` raises.
        """
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            reads.note(path, None)
            return None
        except OSError as exc:
            reads.unkeyable()
            raise FileReadError(f"cannot read it: {exc.strerror or exc}") from None
        if not stat.S_ISREG(st.st_mode):
            reads.unkeyable()
            if _is_devnull(st):
                return parse(b"")
            _refuse_special(st)
        try:
            # O_NONBLOCK: should the path turn into a FIFO after the stat, opening
            # it must not wait for a writer; the fstat below then refuses it unread.
            fd = os.open(path, _OPEN_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            reads.note(path, None)
            return None
        except OSError as exc:
            reads.unkeyable()
            raise FileReadError(f"cannot read it: {exc.strerror or exc}") from None
        key = (kind, path)
        with open(fd, "rb") as handle:
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    reads.unkeyable()
                    _refuse_special(st)
                reads.note(path, reads.identity_of(st))
                before = _identity(st)
                # This process's own parse first: the saved entry may be of an older file.
                own = self._parsed.get(key)
                if own is not None and own[0] == before:
                    self.hits += 1
                    mine: T = own[1]
                    return mine
                cached = self._group(kind).get(key)
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
            self._store(kind, path, (after, data))
        return data

    def memo(self, kind: str, path: str) -> dict[Any, Any]:
        """A mutable per-file memo kept with the cache (content-addressed by its user).

        Handed out only to a parse that is about to run, so it is saved with the cache.
        """
        group = self._group(kind)
        cached = group.get((kind, path))
        if cached is None or not isinstance(cached[1], dict):
            cached = ((0, 0, 0, 0, 0), {})
            group[(kind, path)] = cached
        self._changed(kind)
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
        reads.note_now(path)
        key = (kind, path)
        group = self._group(kind)
        if content_key:
            found = group.get(key)
            if found is not None and found[0] == content_key:
                self.hits += 1
                kept: T = found[1]
                return kept
            self.misses += 1
            value = compute(path)
            self._store(kind, path, (content_key, value))
            return value
        try:
            identity = _identity(os.stat(path))
        except OSError:
            return compute(path)
        cached = group.get(key)
        if cached is not None and cached[0] == identity:
            self.hits += 1
            result: T = cached[1]
            return result
        self.misses += 1
        value = compute(path)
        if time.time_ns() - max(identity[3], identity[4]) > RACY_SECONDS * 1_000_000_000:
            self._store(kind, path, (identity, value))
        return value

    def save(self) -> None:
        """Write the cache atomically if it changed; failures only cost speed."""
        for number, group in enumerate(self._groups):
            if not self._dirty[number] or group is None:
                continue
            if paths.write_private(self.paths[number], marshal.dumps((_HEADER, group))):
                self._dirty[number] = False
