"""What a computation read: each file with its identity then, each environment variable.

The resolution memo (``kubesafe.resolution_memo``) keeps a result with this record
and answers from it only while every file still has that identity and every
variable that value. Code on the resolution path calls ``note`` for each file it
reads (or finds missing) and reads the environment through ``RecordingEnv``;
``tests/test_resolution_memo.py`` watches every ``open``, ``stat`` and
``os.environ`` access of that path to prove nothing is missed.
"""

from __future__ import annotations

import os

# The ABCs' own module, already loaded by os: collections.abc would import collections
# (2-4 ms on every kubectl call).
from _collections_abc import Mapping

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Iterator

    # (device, inode, size, mtime ns, ctime ns, mode); None: the file does not exist.
    FileIdentity = tuple[int, int, int, int, int, int] | None

UNKNOWN = (-1, -1, -1, -1, -1, -1)


class Reads:
    """The files and variables one computation depended on."""

    __slots__ = ("environment", "files", "unkeyable")

    def __init__(self) -> None:
        self.files: dict[str, FileIdentity] = {}
        self.environment: dict[str, str | None] = {}
        # Set when the result depends on something no record can hold (the whole
        # environment was listed, a file changed while being read, a stat failed).
        self.unkeyable = False


_active: list[Reads] = []


def identity_of(st: os.stat_result) -> tuple[int, int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


def file_identity(path: str) -> FileIdentity:
    """The identity ``note`` records for ``path`` now (``UNKNOWN`` if it cannot be told)."""
    try:
        return identity_of(os.stat(path))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError):
        return UNKNOWN


def note(path: str, identity: FileIdentity) -> None:
    """Record that the computation read ``path`` as it was when it had ``identity``."""
    for reads in _active:
        if identity == UNKNOWN:
            reads.unkeyable = True
        previous = reads.files.setdefault(path, identity)
        if previous != identity:
            reads.unkeyable = True  # changed while this computation ran


def note_now(path: str) -> None:
    """``note`` with the identity ``path`` has now (for a file about to be read)."""
    if _active:
        note(path, file_identity(path))


def note_environment(name: str, value: str | None) -> None:
    for reads in _active:
        previous = reads.environment.setdefault(name, value)
        if previous != value:
            reads.unkeyable = True


def unkeyable() -> None:
    for reads in _active:
        reads.unkeyable = True


def start(reads: Reads) -> None:
    _active.append(reads)


def stop(reads: Reads) -> None:
    _active.remove(reads)


class RecordingEnv(Mapping[str, str]):
    """A read-only view of an environment that notes each variable looked up."""

    __slots__ = ("_env",)

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def __getitem__(self, name: str) -> str:
        value = self._env.get(name)
        note_environment(name, value)
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        unkeyable()
        return iter(self._env)

    def __len__(self) -> int:
        unkeyable()
        return len(self._env)
