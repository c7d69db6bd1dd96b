"""Replace a file atomically, keeping its mode and owner.

The new content goes to a temporary file in the same directory, gets the old
file's mode and owner, is flushed to disk and renamed over the old one, so a
reader (or a crash, or a kill) sees either the old or the new file, never a
part. A symlink is written through: its target is replaced, the link stays.
Temporary files are named ``.<name>.kubesafe-tmp.<pid>.<random>``; one left
by a killed writer is swept by the next write (callers hold the write lock).
"""

from __future__ import annotations

import os
import stat

NEW_FILE_MODE = 0o600
NEW_DIR_MODE = 0o700
TEMP_MARK = ".kubesafe-tmp."


class AtomicWriteError(Exception):
    """The file could not be replaced; one line for the user."""


def temp_prefix(real_path: str) -> str:
    return "." + os.path.basename(real_path) + TEMP_MARK


def sweep(real_path: str) -> list[str]:
    """Remove temporary files left by killed writers of ``real_path``; returns them."""
    directory = os.path.dirname(real_path) or "."
    prefix = temp_prefix(real_path)
    removed: list[str] = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        if name.startswith(prefix):
            try:
                os.unlink(os.path.join(directory, name))
                removed.append(name)
            except OSError:
                pass
    return removed


def replace(path: str, content: bytes, *, durable: bool = True) -> None:
    """Atomically make ``content`` the content of ``path`` (created 0600 if missing)."""
    real = os.path.realpath(path)
    directory = os.path.dirname(real) or "."
    try:
        old = os.stat(real)
    except FileNotFoundError:
        old = None
    except OSError as exc:
        raise AtomicWriteError(f"cannot read {path}: {exc.strerror or exc}") from None
    if old is not None and not stat.S_ISREG(old.st_mode):
        raise AtomicWriteError(f"{path} is not a regular file")
    try:
        if old is None and not os.path.isdir(directory):
            os.makedirs(directory, mode=NEW_DIR_MODE)
        sweep(real)
        temp = os.path.join(directory, f"{temp_prefix(real)}{os.getpid()}.{os.urandom(4).hex()}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE)
    except OSError as exc:
        raise AtomicWriteError(f"cannot write in {directory}: {exc.strerror or exc}") from None
    try:
        try:
            _keep_identity(fd, temp, old, path)
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, real)
    except BaseException as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise AtomicWriteError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    if durable:
        _sync_directory(directory)


def _keep_identity(fd: int, temp: str, old: os.stat_result | None, path: str) -> None:
    if old is None:
        return
    if hasattr(os, "fchmod"):
        os.fchmod(fd, stat.S_IMODE(old.st_mode))
    else:  # Windows before Python 3.13
        os.chmod(temp, stat.S_IMODE(old.st_mode))
    if not hasattr(os, "fchown"):
        return
    current = os.fstat(fd)
    if (current.st_uid, current.st_gid) == (old.st_uid, old.st_gid):
        return
    try:
        os.fchown(fd, old.st_uid, old.st_gid)
    except PermissionError:
        # Replacing it would hand another user's (or group's) file to us.
        raise AtomicWriteError(
            f"{path} belongs to uid {old.st_uid}/gid {old.st_gid}; "
            "writing it would change its owner: run as its owner"
        ) from None


def _sync_directory(directory: str) -> None:
    if os.name == "nt":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
