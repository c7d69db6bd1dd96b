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

import os

from kubesafe import paths
from kubesafe.guard.naming import context_id

__all__ = ["Layout", "context_id", "default_directory", "ensure_token", "prepare"]

_SOCKET_PATH_LIMIT = 100


class Layout:
    # A plain class: the shell integration loads this module at every shell start.
    __slots__ = ("directory",)

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Layout) and other.directory == self.directory

    def __hash__(self) -> int:
        return hash(self.directory)

    def __repr__(self) -> str:
        return f"Layout({self.directory!r})"

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
    import base64

    token = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode("ascii")
    if not paths.write_private(layout.token_file, token.encode("ascii") + b"\n"):
        raise OSError(f"cannot write {layout.token_file}")
    return token


def socket_directory(layout: Layout, longest_name: int = 24) -> str:
    if len(layout.directory) + 1 + longest_name <= _SOCKET_PATH_LIMIT:
        return layout.directory
    import tempfile

    return tempfile.mkdtemp(prefix="kubesafe-guard-")  # mkdtemp makes it 0700
