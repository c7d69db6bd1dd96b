"""Remembered server versions, so the common path makes no network request.

One private marshal file maps each API server URL to the ``gitVersion`` it
reported and when; a failed discovery is remembered briefly too, so that an
unreachable cluster costs the discovery timeout once, not on every command.
The kubectl last used for a server is kept as the fallback when the server
cannot be asked.
"""

from __future__ import annotations

import marshal
import os
import time

from kubesafe import __version__, paths

DEFAULT_TTL = 12 * 3600.0
FAILURE_TTL = 300.0
_HEADER = ("kubesafe-server-versions", 1, __version__)


class ServerVersions:
    """{server: (git_version or "", checked_at, failed, last_used_kubectl_tag)}."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or os.path.join(paths.cache_dir(), "server-versions.marshal")
        self.entries: dict[str, tuple[str, float, bool, str]] = {}
        self.dirty = False
        content = paths.read_private(self.path)
        try:
            payload = marshal.loads(content) if content is not None else None
        except (EOFError, ValueError, TypeError):
            payload = None
        if isinstance(payload, tuple) and len(payload) == 2 and payload[0] == _HEADER:
            self.entries = dict(payload[1])

    def known(self, server: str) -> str | None:
        """The last version the server reported, however old."""
        entry = self.entries.get(server)
        return entry[0] or None if entry else None

    def fresh(self, server: str, ttl: float, now: float | None = None) -> bool:
        """Whether the cached answer (or recent failure) may be used without asking again."""
        entry = self.entries.get(server)
        if entry is None:
            return False
        age = (time.time() if now is None else now) - entry[1]
        return 0 <= age < (FAILURE_TTL if entry[2] else ttl)

    def last_used(self, server: str) -> str | None:
        entry = self.entries.get(server)
        return entry[3] or None if entry else None

    def record(self, server: str, git_version: str) -> None:
        self.entries[server] = (git_version, time.time(), False, self.last_used(server) or "")
        self.dirty = True

    def record_failure(self, server: str) -> None:
        known = self.known(server) or ""
        self.entries[server] = (known, time.time(), True, self.last_used(server) or "")
        self.dirty = True

    def record_use(self, server: str, tag: str) -> None:
        entry = self.entries.get(server, ("", 0.0, True, ""))
        if entry[3] != tag:
            self.entries[server] = (entry[0], entry[1], entry[2], tag)
            self.dirty = True

    def save(self) -> None:
        if self.dirty and paths.write_private(self.path, marshal.dumps((_HEADER, self.entries))):
            self.dirty = False
