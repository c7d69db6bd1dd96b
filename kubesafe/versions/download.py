"""Download a kubectl release, check it against its published digest, store it in the cache.

The server is dl.k8s.io or a mirror with the same tree::

    <base>/release/stable-1.NN.txt                        "v1.NN.P", the newest patch of 1.NN
    <base>/release/vX.Y.Z/bin/<os>/<arch>/kubectl[.exe]   the binary
    <base>/release/vX.Y.Z/bin/<os>/<arch>/kubectl.sha256  its hex digest (1.16 and later)
    <base>/release/vX.Y.Z/bin/<os>/<arch>/kubectl.sha512  its hex digest (1.12 and later)

The store holds ``<store_dir>/vX.Y.Z/kubectl[.exe]``.  A binary is streamed into a
temporary file beside its final name, hashed on the way, and renamed into place only once
it is complete and verified, so nothing partial or unchecked is ever visible there.  The
lock file ``<store_dir>/.vX.Y.Z.lock`` makes concurrent first runs download once.

Everything beyond ``os`` and ``sys`` (httpx above all) is imported inside the functions
that need it: finding an already stored binary must stay cheap.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

__all__ = [
    "DEFAULT_BASE_URL",
    "DownloadError",
    "binary_name",
    "download_url",
    "install",
    "platform_pair",
    "resolve_version",
]

DEFAULT_BASE_URL = "https://dl.k8s.io"

# Preferred first. kubectl.sha256 exists from 1.16 on, kubectl.sha512 from 1.12 on.
_DIGESTS = (("sha256", 64), ("sha512", 128))
_BATCH = 1 << 20
_PRERELEASES = ("alpha", "beta", "rc")
_PART_PREFIX, _PART_SUFFIX = ".kubectl-", ".part"
_MIRROR_HINT = "check the version and KUBESAFE_MIRROR, or retry"

_GOOS = {"linux": "linux", "darwin": "darwin", "win32": "windows", "cygwin": "windows"}
_GOARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "x64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "armv8l": "arm",
    "arm": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "i386": "386",
    "i686": "386",
    "x86": "386",
}


class DownloadError(Exception):
    """Getting a kubectl binary failed; the one-line message says why and what to do."""


# --------------------------------------------------------------------------------------
# Names and URLs
# --------------------------------------------------------------------------------------


def platform_pair(sys_platform: str | None = None, machine: str | None = None) -> tuple[str, str]:
    """Go's (GOOS, GOARCH) for this machine, or for the given ``sys.platform``/``machine()``."""
    if sys_platform is None:
        sys_platform = sys.platform
    if machine is None:
        import platform

        machine = platform.machine()
    goos = _GOOS.get("linux" if sys_platform.startswith("linux") else sys_platform)
    goarch = _GOARCH.get(machine.lower())
    if goos is None or goarch is None:
        raise DownloadError(
            f"kubectl is not published for {sys_platform}/{machine}; "
            "install one yourself and put it on PATH"
        )
    return goos, goarch


def binary_name(goos: str) -> str:
    return "kubectl.exe" if goos == "windows" else "kubectl"


def download_url(base: str, version: str, goos: str, goarch: str) -> str:
    """``<base>/release/vX.Y.Z/bin/<os>/<arch>/kubectl[.exe]``."""
    tag = _tag_or_error(version)
    return f"{base.rstrip('/')}/release/{tag}/bin/{goos}/{goarch}/{binary_name(goos)}"


def _number(text: str) -> bool:
    return text.isascii() and text.isdigit() and (text == "0" or not text.startswith("0"))


def _release_tag(spec: str) -> str | None:
    """ "1.31.4", "v1.31.4", "v1.32.0-rc.1" -> "v1.31.4" ... ; anything else -> None."""
    core = spec.strip()
    core = core[1:] if core.startswith("v") else core
    core, dash, pre = core.partition("-")
    if dash:
        label, dot, n = pre.partition(".")
        if label not in _PRERELEASES or not dot or not _number(n):
            return None
    parts = core.split(".")
    if len(parts) != 3 or not all(_number(p) for p in parts):
        return None
    return f"v{core}{dash}{pre}"


def _minor_spec(spec: str) -> str | None:
    """ "1.31" or "v1.31" -> "1.31"; anything else -> None."""
    core = spec.strip()
    core = core[1:] if core.startswith("v") else core
    parts = core.split(".")
    return core if len(parts) == 2 and all(_number(p) for p in parts) else None


def _tag_or_error(version: str) -> str:
    tag = _release_tag(version)
    if tag is None:
        raise DownloadError(
            f"invalid kubectl version {version!r}: expected a release such as v1.31.4"
        )
    return tag


def resolve_version(spec: str, base: str, client: httpx.Client) -> str:
    """A release tag for ``spec``: "1.31" -> the newest 1.31 patch (from stable-1.31.txt);
    "1.31.4" or "v1.31.4" -> "v1.31.4"."""
    tag = _release_tag(spec)
    if tag is not None:
        return tag
    minor = _minor_spec(spec)
    if minor is None:
        raise DownloadError(
            f"invalid kubectl version {spec!r}: expected 1.31 (newest patch of 1.31), "
            "1.31.4 or v1.31.4"
        )
    url = f"{base.rstrip('/')}/release/stable-{minor}.txt"
    label = f"kubectl {minor}"
    response = _get(client, url, label)
    if response.status_code == 404:
        raise DownloadError(
            f"{label}: no release marker at {url} (HTTP 404); is Kubernetes {minor} "
            f"released? {_MIRROR_HINT}"
        )
    _check_status(response, url, label)
    text = response.text.strip()
    tag = _release_tag(text)
    if tag is None or not tag.startswith(f"v{minor}."):
        raise DownloadError(
            f"{label}: {url} does not name a {minor} release (it says {_excerpt(text)}); "
            f"{_MIRROR_HINT}"
        )
    return tag


# --------------------------------------------------------------------------------------
# Install
# --------------------------------------------------------------------------------------


def _usable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def install(
    version: str,
    *,
    store_dir: str | os.PathLike[str],
    base_url: str,
    goos: str,
    goarch: str,
    timeout: float = 30.0,
    progress: bool | None = None,
) -> str:
    """Make sure ``<store_dir>/<version>/kubectl[.exe]`` holds the verified release binary
    and return its path; an already stored binary costs no network request.

    Raises :class:`DownloadError` when the binary cannot be fetched, verified or stored;
    nothing is left behind then but the lock file.
    """
    tag = _tag_or_error(version)
    store = os.fspath(store_dir)
    final = os.path.join(store, tag, binary_name(goos))
    if _usable(final):
        return final
    show = sys.stderr.isatty() if progress is None else progress
    try:
        os.makedirs(store, exist_ok=True)
    except OSError as exc:
        raise _write_error(tag, store, exc) from exc
    with _ExclusiveLock(os.path.join(store, f".{tag}.lock"), tag, show):
        if _usable(final):  # another process finished it while we waited
            return final
        url = download_url(base_url, tag, goos, goarch)
        with _client(timeout) as client:
            algorithm, expected = _published_digest(client, url, tag)
            _download_verified(client, url, final, tag, algorithm, expected, show)
    return final


def _client(timeout: float) -> httpx.Client:
    import httpx

    from kubesafe import __version__

    return httpx.Client(
        timeout=httpx.Timeout(connect=timeout, read=timeout, write=timeout, pool=timeout),
        follow_redirects=True,  # dl.k8s.io answers with a redirect to its CDN
        # The digest covers the file as published: ask for it unencoded, byte for byte.
        headers={"Accept-Encoding": "identity", "User-Agent": f"kubesafe/{__version__}"},
    )


def _published_digest(client: httpx.Client, url: str, tag: str) -> tuple[str, str]:
    """(algorithm, hex digest) from ``kubectl.sha256``, else ``kubectl.sha512``."""
    for algorithm, length in _DIGESTS:
        digest_url = f"{url}.{algorithm}"
        response = _get(client, digest_url, f"kubectl {tag}")
        if response.status_code == 404:
            continue
        _check_status(response, digest_url, f"kubectl {tag}")
        fields = response.text.split()  # "<hex>" or "<hex>  kubectl", maybe with a newline
        digest = fields[0].lower() if fields else ""
        if len(digest) != length or not all(c in "0123456789abcdef" for c in digest):
            raise DownloadError(
                f"kubectl {tag}: {digest_url} does not hold a {algorithm} digest (it says "
                f"{_excerpt(response.text)}); {_MIRROR_HINT}"
            )
        return algorithm, digest
    raise DownloadError(
        f"kubectl {tag}: no checksum published at {url}.sha256 or .sha512 (HTTP 404); "
        f"does this version exist for this platform? {_MIRROR_HINT}"
    )


def _download_verified(
    client: httpx.Client,
    url: str,
    final: str,
    tag: str,
    algorithm: str,
    expected: str,
    show: bool,
) -> None:
    """Stream ``url`` into a temporary file beside ``final``, verify it, rename it into place."""
    import tempfile

    directory = os.path.dirname(final)
    try:
        os.makedirs(directory, exist_ok=True)
        _remove_stale_parts(directory)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=_PART_PREFIX, suffix=_PART_SUFFIX)
    except OSError as exc:
        _remove_quietly(None, directory)
        raise _write_error(tag, directory, exc) from exc
    try:
        try:
            # Buffered on purpose: a raw write may write less than it is given.
            with open(fd, "wb") as out, _ThreadedHash(algorithm) as hasher:
                _stream_into(client, url, tag, out.write, hasher.update, show)
                actual = hasher.hexdigest()
                if actual != expected:
                    raise DownloadError(
                        f"kubectl {tag}: checksum mismatch ({algorithm} expected "
                        f"{expected[:12]}..., got {actual[:12]}...) from {url}; the download "
                        "was discarded. Check KUBESAFE_MIRROR or retry."
                    )
                os.chmod(tmp, 0o755)
                # No fsync: the rename alone guarantees no process sees a partial file,
                # and forcing 50-100 MB to disk costs more than the download itself here
                # (install fell to 68% of the raw transfer rate). A file emptied by a
                # crash is skipped by store.cached() and downloaded again.
            os.replace(tmp, final)
        except OSError as exc:
            raise _write_error(tag, directory, exc) from exc
    except BaseException:
        _remove_quietly(tmp, directory)
        raise


def _stream_into(
    client: httpx.Client,
    url: str,
    tag: str,
    write: Callable[[bytes], object],
    update: Callable[[bytes], object],
    show: bool,
) -> None:
    """GET ``url`` and pass its body, chunk by chunk, to ``update`` and ``write``."""
    import httpx

    label = f"kubectl {tag}"
    received, total = 0, None
    try:
        with client.stream("GET", url) as response:
            if response.status_code == 404:
                raise DownloadError(
                    f"{label}: HTTP 404 for {url}; does this version exist for this "
                    f"platform? {_MIRROR_HINT}"
                )
            _check_status(response, url, label)
            length = response.headers.get("Content-Length", "")
            total = int(length) if length.isascii() and length.isdigit() else None
            bar = _Progress(label, total) if show else None
            try:
                for chunk in response.iter_bytes():
                    update(chunk)
                    write(chunk)
                    received = response.num_bytes_downloaded
                    if bar is not None:
                        bar.update(received)
            finally:
                if bar is not None:
                    bar.close()
            received = response.num_bytes_downloaded
    except httpx.HTTPError as exc:
        raise _network_error(label, url, exc, client, received, total) from exc
    if total is not None and received != total:
        raise DownloadError(
            f"{label}: got {received} of {total} bytes from {url} (truncated download); "
            "the download was discarded. Retry, or check KUBESAFE_MIRROR."
        )


class _ThreadedHash:
    """A hashlib object fed from a helper thread, so hashing overlaps network and disk.

    hashlib and file writes both release the GIL on large buffers; hashing in line would
    add its whole cost to the download time.  The queue is bounded, so memory stays flat.
    """

    def __init__(self, algorithm: str) -> None:
        import hashlib
        import queue
        import threading

        self._hash = hashlib.new(algorithm)
        # Chunks travel in batches of about a megabyte: one hand-off per chunk costs
        # more than the hashing it saves.
        self._queue: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=8)
        self._batch: list[bytes] = []
        self._batched = 0
        self._thread = threading.Thread(target=self._run, name="kubesafe-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            for chunk in batch:
                self._hash.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._batch.append(chunk)
        self._batched += len(chunk)
        if self._batched >= _BATCH:
            self._queue.put(self._batch)
            self._batch, self._batched = [], 0

    def hexdigest(self) -> str:
        self._stop()
        return self._hash.hexdigest()

    def _stop(self) -> None:
        if self._thread.is_alive():
            if self._batch:
                self._queue.put(self._batch)
                self._batch, self._batched = [], 0
            self._queue.put(None)
            self._thread.join()

    def __enter__(self) -> _ThreadedHash:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop()


def _get(client: httpx.Client, url: str, label: str) -> httpx.Response:
    import httpx

    try:
        return client.get(url)
    except httpx.HTTPError as exc:
        raise _network_error(label, url, exc, client) from exc


def _check_status(response: httpx.Response, url: str, label: str) -> None:
    if response.status_code != 200:
        raise DownloadError(
            f"{label}: HTTP {response.status_code} {response.reason_phrase} from {url}; "
            f"{_MIRROR_HINT}"
        )


# --------------------------------------------------------------------------------------
# Errors, locking, progress
# --------------------------------------------------------------------------------------


def _excerpt(text: str, limit: int = 40) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "...")


def _network_error(
    label: str,
    url: str,
    exc: Exception,
    client: httpx.Client,
    received: int = 0,
    total: int | None = None,
) -> DownloadError:
    import httpx

    progress = ""
    if received or total:
        progress = f" after {received} of {total if total is not None else '?'} bytes"
    seconds = f"{client.timeout.read:g} s"
    if isinstance(exc, httpx.ConnectTimeout):
        what = f"could not connect to {url} within {seconds}"
    elif isinstance(exc, httpx.TimeoutException):
        what = f"timed out{progress} waiting {seconds} for data from {url}"
    elif isinstance(exc, httpx.RemoteProtocolError):
        what = f"the connection closed{progress} from {url} (truncated download: {_flat(exc)})"
    elif isinstance(exc, httpx.ConnectError):
        what = f"cannot connect to {url}: {_flat(exc)}"
    else:
        what = f"network error{progress} from {url}: {_flat(exc)}"
    discarded = "; the partial download was discarded" if received else ""
    return DownloadError(
        f"{label}: {what}{discarded}. Check the network and KUBESAFE_MIRROR, or retry."
    )


def _flat(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _write_error(tag: str, directory: str, exc: OSError) -> DownloadError:
    import errno

    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        advice = "free some space or set KUBESAFE_CACHE_DIR to a directory with room"
    else:
        advice = "set KUBESAFE_CACHE_DIR to a writable directory"
    reason = exc.strerror or _flat(exc)
    return DownloadError(f"kubectl {tag}: cannot write to {directory}: {reason}; {advice}")


def _remove_stale_parts(directory: str) -> None:
    """Temporary files left by a killed download; only the lock holder writes here."""
    for name in os.listdir(directory):
        if name.startswith(_PART_PREFIX) and name.endswith(_PART_SUFFIX):
            os.unlink(os.path.join(directory, name))


def _remove_quietly(tmp: str | None, directory: str) -> None:
    if tmp is not None:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    try:
        os.rmdir(directory)  # only if empty: a failed first download leaves no version dir
    except OSError:
        pass


class _ExclusiveLock:
    """Hold an exclusive lock on ``path`` (created if needed) for the ``with`` block."""

    def __init__(self, path: str, tag: str, show: bool) -> None:
        self.path, self.tag, self.show = path, tag, show
        self.fd = -1

    def __enter__(self) -> None:
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _write_error(self.tag, os.path.dirname(self.path), exc) from exc
        try:
            if not _try_lock(self.fd):
                if self.show:
                    sys.stderr.write(
                        f"kubesafe: waiting for another kubesafe to finish downloading "
                        f"kubectl {self.tag}...\n"
                    )
                _lock(self.fd)
        except BaseException:
            os.close(self.fd)
            raise

    def __exit__(self, *exc_info: object) -> None:
        try:
            _unlock(self.fd)
        finally:
            os.close(self.fd)


if sys.platform == "win32":

    def _try_lock(fd: int) -> bool:
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _lock(fd: int) -> None:
        import msvcrt

        while True:  # LK_LOCK itself gives up after ten one-second attempts
            os.lseek(fd, 0, os.SEEK_SET)
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except OSError:
                continue

    def _unlock(fd: int) -> None:
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:

    def _try_lock(fd: int) -> bool:
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _lock(fd: int) -> None:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)

    def _unlock(fd: int) -> None:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


class _Progress:
    """A one-line text bar on stderr, redrawn with ``\\r`` at most ten times a second."""

    WIDTH = 24
    INTERVAL = 0.1

    def __init__(self, label: str, total: int | None) -> None:
        import time

        self.clock = time.monotonic
        self.label, self.total = label, total
        self.started = self.last = self.clock()
        self.done = 0

    def update(self, done: int) -> None:
        self.done = done
        now = self.clock()
        if now - self.last >= self.INTERVAL:
            self.last = now
            self._draw(now)

    def close(self) -> None:
        self._draw(self.clock())
        sys.stderr.write("\n")
        sys.stderr.flush()

    def _draw(self, now: float) -> None:
        done, total = self.done, self.total
        rate = done / max(now - self.started, 1e-6) / 1e6
        if total:
            filled = min(self.WIDTH, self.WIDTH * done // total)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            amount = f"[{bar}] {100 * done // total:3d}% {done / 1e6:.1f}/{total / 1e6:.1f} MB"
        else:
            amount = f"{done / 1e6:.1f} MB"
        sys.stderr.write(f"\r{self.label} {amount} {rate:.1f} MB/s ")
        sys.stderr.flush()
