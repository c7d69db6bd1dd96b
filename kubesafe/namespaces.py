"""Namespaces of a context for ``kubesafe ns``: one GET to check a name, a cached LIST to offer.

Both run the real kubectl that kubesafe would choose for the context (never the shim
again, never a download), so exec credential plugins, OIDC and client certificates
behave exactly as with kubectl.

The LIST of a cluster with thousands of namespaces takes seconds, so
:func:`list_namespaces` answers from a cache at once and refreshes it in a detached
background process (``python -m kubesafe.namespaces refresh CONTEXT``), at most one
per context at a time. The cache is keyed by server URL, user and context name: two
users of one cluster may be allowed to see different namespaces. It holds names only,
as a private marshal file (``json`` would import ``re``: 8 ms of the 50 ms that listing
20,000 namespaces may take).
"""

from __future__ import annotations

import marshal
import os
import sys
import time

from kubesafe import paths
from kubesafe.kubeconfig.resolve import Overrides, ResolveError, Target, resolve

# ``kubesafe ns`` lists from the cache in a few milliseconds: subprocess, contextlib and
# hashlib (OpenSSL) are imported only by the paths that use them.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Mapping

    from kubesafe.versions.parse import KubeVersion

GET_TIMEOUT = 5.0
LIST_TIMEOUT = 30.0
# A cache younger than this is not refreshed again (several calls in a row, completion).
FRESH_SECONDS = 5.0
# kubectl's own --request-timeout does not cover exec credential plugins; this does.
_PROCESS_GRACE = 25.0
_MAX_NAME = 63
_UNREACHABLE = (
    "unable to connect",
    "connection refused",
    "connection to the server",
    "i/o timeout",
    "no such host",
    "deadline exceeded",
    "client.timeout",
    "tls handshake",
    "connection reset",
    "(timeout)",
)
# Refresh processes started here, kept so that they are reaped rather than reported as
# still running when their Popen objects are garbage-collected.
_children: list[subprocess.Popen[bytes]] = []
_spawned: list[int] = []


class NamespaceLookupError(Exception):
    """kubectl could not answer; the message is one line for the user.

    ``kind`` is "forbidden" or "unauthorized" (``--force`` helps), "unreachable",
    "config" (context, kubeconfig or kubectl problem) or "error".
    """

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind


def valid_name(name: str) -> bool:
    """A DNS-1123 label, as the API server requires of a namespace name."""
    if not 0 < len(name) <= _MAX_NAME or not (name[0].isalnum() and name[-1].isalnum()):
        return False
    return all(c.isascii() and (c.islower() or c.isdigit() or c == "-") for c in name)


def namespace_exists(
    context: str, namespace: str, env: Mapping[str, str], *, timeout: float = GET_TIMEOUT
) -> bool:
    """Whether ``namespace`` exists, from one GET of it (a user may get but not list)."""
    if not valid_name(namespace):
        raise NamespaceLookupError(
            f"{namespace!r} is not a valid namespace name "
            "(lowercase letters, digits and '-', at most 63)",
            "config",
        )
    target = _target(context, env)
    args = ["get", "namespace", namespace, "-o", "name"]
    try:
        _kubectl(target, args, env, timeout)
    except _NotFound:
        return False
    return True


def refresh_namespaces(
    context: str, env: Mapping[str, str], *, timeout: float = LIST_TIMEOUT
) -> list[str]:
    """LIST the context's namespaces now, remember them and return them sorted."""
    target = _target(context, env)
    try:
        output = _kubectl(target, ["get", "namespaces", "-o", "name"], env, timeout)
    except _NotFound as exc:  # only a broken server answers a LIST like this
        raise NamespaceLookupError(f"cannot list namespaces on {target.server}: {exc}") from None
    names = sorted(
        {line.split("/", 1)[1] for line in output.splitlines() if line.startswith("namespace/")}
    )
    payload = {"key": _key(target), "time": time.time(), "namespaces": names}
    paths.write_private(_cache_file(target), marshal.dumps(payload))
    return names


def cached_namespaces(context: str, env: Mapping[str, str]) -> list[str] | None:
    """The remembered namespaces of the context, None when there are none."""
    found = _read_cache(_target(context, env))
    return None if found is None else found[1]


def list_namespaces(context: str, env: Mapping[str, str]) -> list[str]:
    """The remembered namespaces at once (refreshed in the background), else a LIST now."""
    target = _target(context, env)
    found = _read_cache(target)
    if found is None:
        return refresh_namespaces(context, env)
    fetched, names = found
    if not 0 <= time.time() - fetched < FRESH_SECONDS:
        start_background_refresh(target, env)
    return names


def start_background_refresh(target: Target, env: Mapping[str, str]) -> bool:
    """Start a refresh that outlives this process, unless one is running; True if started."""
    lock = _cache_file(target) + ".lock"
    with _Locked(lock) as free:
        if not free:
            return False
    command = [sys.executable, "-m", "kubesafe.namespaces", "refresh", target.context]
    if sys.platform != "win32":
        spawned = _spawn_detached(command, env)
        if spawned is not None:
            return spawned
    import subprocess

    _children[:] = [child for child in _children if child.poll() is None]
    flags = 0  # start_new_session detaches on POSIX; Windows needs these instead
    if sys.platform == "win32":
        flags = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
    try:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(env),
            close_fds=True,
            start_new_session=True,
            creationflags=flags,
        )
    except OSError:
        return False
    _children.append(child)
    return True


def _spawn_detached(command: list[str], env: Mapping[str, str]) -> bool | None:
    """posix_spawn in a new session, stdio on /dev/null: no subprocess import (7 ms), no fork.

    Only file descriptors marked inheritable pass, and Python opens none so. Earlier
    children that have finished are reaped here, so a long-lived caller keeps no zombies.
    None when this system's posix_spawn cannot start a new session.
    """
    for pid in list(_spawned):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _spawned.remove(pid)
    null = os.devnull
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, null, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, null, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, null, os.O_WRONLY, 0),
    ]
    try:
        pid = os.posix_spawn(command[0], command, dict(env), file_actions=actions, setsid=True)
    except (NotImplementedError, AttributeError):
        return None
    except OSError:
        return False
    _spawned.append(pid)
    return True


def _refresh_in_background(context: str, env: Mapping[str, str]) -> int:
    target = _target(context, env)
    with _Locked(_cache_file(target) + ".lock") as free:
        if not free:
            return 0  # another refresh of this context is under way
        found = _read_cache(target)
        if found is not None and 0 <= time.time() - found[0] < FRESH_SECONDS:
            return 0
        refresh_namespaces(context, env)
    return 0


# -- kubectl ---------------------------------------------------------------------------


class _NotFound(Exception):
    pass


def _target(context: str, env: Mapping[str, str]) -> Target:
    try:
        return resolve(Overrides(context=context), env)
    except ResolveError as exc:
        raise NamespaceLookupError(str(exc), "config") from None


def _kubectl_binary(target: Target, env: Mapping[str, str]) -> str:
    """The kubectl kubesafe would run for the target, or the nearest one here; never a download."""
    from kubesafe.kubeconfig.cache import FileIndex
    from kubesafe.kubectl.locate import NO_KUBECTL, LocateError, pinned_kubectl
    from kubesafe.policy import load_policy
    from kubesafe.versions.choose import choose
    from kubesafe.versions.store import any_kubectl, cached, system

    try:
        pinned = pinned_kubectl(env)
    except LocateError as exc:
        raise NamespaceLookupError(str(exc), "config") from None
    if pinned:
        return pinned
    index = FileIndex()
    try:
        choice = choose(target, load_policy(env, index).kubectl, env, index)
        wanted = _version(choice.download) if choice.download else None
        if choice.path is None and wanted is not None:
            # The matching release is not downloaded: reading one namespace works with
            # any kubectl, the one nearest the wanted minor (newer on a tie) is safest.
            known = [(c.version, c.path) for c in cached() + system(env, index) if c.version]
            known.sort(key=lambda vp: (abs(vp[0][1] - wanted[1]), [-n for n in vp[0]]))
            if known:
                return known[0][1]
    finally:
        index.save()
    if choice.path:
        return choice.path
    found = any_kubectl(env)
    if found is None:
        raise NamespaceLookupError(NO_KUBECTL, "config")
    return found[0]


def _version(spec: str) -> KubeVersion | None:
    from kubesafe.versions.parse import parse_user_version

    try:
        return parse_user_version(spec)[0]
    except ValueError:
        return None


def _kubectl(target: Target, args: list[str], env: Mapping[str, str], timeout: float) -> str:
    import subprocess

    binary = _kubectl_binary(target, env)
    command = [binary, *args, f"--request-timeout={max(1, round(timeout))}s"]
    if target.context:
        command.append(f"--context={target.context}")
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            timeout=timeout + _PROCESS_GRACE,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise NamespaceLookupError(
            f"no answer from {target.server} within {timeout + _PROCESS_GRACE:g}s "
            f"(context {target.context!r})",
            "unreachable",
        ) from None
    except OSError as exc:
        message = f"cannot run {binary}: {exc.strerror or exc}"
        raise NamespaceLookupError(message, "config") from None
    if result.returncode == 0:
        return result.stdout.decode("utf-8", "replace")
    stderr = result.stderr.decode("utf-8", "replace")
    if b"Please enter Username" in result.stdout:
        # kubectl asks for a user name when the kubeconfig user has no credentials at all.
        stderr += "\n(Unauthorized)"
    raise _failure(stderr, target)


def _failure(stderr: str, target: Target) -> Exception:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    # kubectl may log warnings (deprecations, klog lines) before the real error.
    errors = [line for line in lines if line.lower().startswith(("error", "unable", "the "))]
    line = (errors or lines or ["kubectl failed without a message"])[-1][:300]
    lower = stderr.lower()
    where = f"{target.server} (context {target.context!r})"
    if "(notfound)" in lower:
        return _NotFound(line)
    if "(forbidden)" in lower:
        return NamespaceLookupError(
            f"not allowed to read namespaces on {where}; use --force to switch anyway",
            "forbidden",
        )
    if "(unauthorized)" in lower or "provide credentials" in lower:
        return NamespaceLookupError(
            f"not logged in to {where}; log in again, or use --force to switch anyway",
            "unauthorized",
        )
    if any(marker in lower for marker in _UNREACHABLE):
        return NamespaceLookupError(f"cannot reach {where}: {line}", "unreachable")
    return NamespaceLookupError(f"kubectl failed for {where}: {line}")


# -- cache -----------------------------------------------------------------------------


def _key(target: Target) -> list[str]:
    return [target.server, target.user, target.context]


def _cache_file(target: Target) -> str:
    digest = _sha256_hex("\0".join(_key(target)).encode("utf-8", "surrogateescape"))[:32]
    return os.path.join(paths.cache_dir(), "namespaces", f"{digest}.marshal")


def _read_cache(target: Target) -> tuple[float, list[str]] | None:
    raw = paths.read_private(_cache_file(target))
    if raw is None:
        return None
    try:
        payload = marshal.loads(raw)
        if payload["key"] != _key(target):
            return None
        names = payload["namespaces"]
        fetched = float(payload["time"])
    except (ValueError, TypeError, KeyError, EOFError):
        return None
    if not isinstance(names, list) or not {type(name) for name in names} <= {str}:
        return None
    return fetched, names


class _Locked:
    """Hold an exclusive lock on a file if nobody else does; ``with`` gives whether it is held."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> bool:
        try:
            paths.ensure_private_dir(os.path.dirname(self.path))
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return False
        return _try_lock(self.fd)

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing releases the lock
            self.fd = -1


def _sha256_hex(data: bytes) -> str:
    """SHA-256 without hashlib's OpenSSL import (4 ms)."""
    from kubesafe.digest import sha256

    return str(sha256(data).hexdigest())


def _try_lock(fd: int) -> bool:
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def main(argv: list[str]) -> int:
    """``python -m kubesafe.namespaces refresh CONTEXT`` (what the background refresh runs)."""
    if len(argv) != 2 or argv[0] != "refresh":
        print("usage: python -m kubesafe.namespaces refresh CONTEXT", file=sys.stderr)
        return 2
    try:
        return _refresh_in_background(argv[1], os.environ)
    except NamespaceLookupError as exc:
        print(f"kubesafe: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
