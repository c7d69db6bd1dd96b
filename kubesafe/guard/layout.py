"""The files of one terminal's guard, all in one private (0700) directory.

::

    <dir>/ca.pem            the terminal's CA certificate (goes into its kubeconfig)
    <dir>/server.pem        the guard's certificate, signed by that CA
    <dir>/server-key.pem    its key (0600)
    <dir>/token             the terminal's bearer token for the guard (0600)
    <dir>/lifts.json        open lifts (0600, see ``lifts``)
    <dir>/guard.json        port, pid and context ids of the running guard
    <dir>/proxy-<id>.log    stderr of each context's kubectl proxy
    <sockets>/<id>.sock     each context's kubectl proxy socket

Unix socket paths are limited to about 100 bytes; when the directory is too
deep the sockets go to a fresh private directory under the system temp dir.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tempfile
from dataclasses import dataclass

from kubesafe import paths

_SOCKET_PATH_LIMIT = 100


@dataclass(frozen=True)
class Layout:
    directory: str

    @property
    def ca(self) -> str:
        return os.path.join(self.directory, "ca.pem")

    @property
    def certificate(self) -> str:
        return os.path.join(self.directory, "server.pem")

    @property
    def key(self) -> str:
        return os.path.join(self.directory, "server-key.pem")

    @property
    def token_file(self) -> str:
        return os.path.join(self.directory, "token")

    @property
    def lifts(self) -> str:
        return os.path.join(self.directory, "lifts.json")

    @property
    def state(self) -> str:
        return os.path.join(self.directory, "guard.json")

    def proxy_log(self, context_id: str) -> str:
        return os.path.join(self.directory, f"proxy-{context_id}.log")


def context_id(name: str) -> str:
    """A URL path segment for a context: readable, and unique by its hash."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:24] or "context"
    return f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def default_directory(terminal: str) -> str:
    return os.path.join(paths.runtime_dir(), "guard", terminal)


def prepare(directory: str) -> Layout:
    """Create the directory owner-only; refuse one that others can write."""
    paths.ensure_private_dir(directory)
    os.chmod(directory, 0o700)
    if not paths.is_private(os.stat(directory)):
        raise OSError(f"{directory} is not private to this user")
    return Layout(directory)


def ensure_token(layout: Layout) -> str:
    """The terminal's token, created on first use (256 random bits)."""
    existing = paths.read_private(layout.token_file)
    if existing:
        return existing.decode("ascii").strip()
    token = secrets.token_urlsafe(32)
    if not paths.write_private(layout.token_file, token.encode("ascii") + b"\n"):
        raise OSError(f"cannot write {layout.token_file}")
    return token


def socket_directory(layout: Layout, longest_name: int = 24) -> str:
    if len(layout.directory) + 1 + longest_name <= _SOCKET_PATH_LIMIT:
        return layout.directory
    return tempfile.mkdtemp(prefix="kubesafe-guard-")  # mkdtemp makes it 0700
