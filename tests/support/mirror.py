"""A loopback stand-in for dl.k8s.io, with fault injection, for download tests.

:class:`Mirror` serves a directory laid out like dl.k8s.io (see :func:`build_mirror_tree`)
on ``http://127.0.0.1:<port>`` from a thread, and counts every request by path in
:attr:`Mirror.requests` (before answering it) so a test can assert that none was made.

Faults are set per URL path (``/release/v1.33.9/bin/linux/amd64/kubectl``, see
:func:`release_path`) and stay until :meth:`Mirror.clear`:

* :meth:`Mirror.status` -- answer with an HTTP error (404, 500, ...);
* :meth:`Mirror.body` -- serve these bytes instead (e.g. a wrong digest, see
  :meth:`Mirror.wrong_digest`);
* :meth:`Mirror.truncate` -- announce the full Content-Length, send only the first bytes,
  then close the connection;
* :meth:`Mirror.reset` -- send the first bytes, then abort the connection (TCP RST);
* :meth:`Mirror.slow` -- send the first bytes, then stall before each further chunk;
* :meth:`Mirror.redirect` -- answer every path under ``/release/`` with a 302 to the same
  path under ``/cdn/`` (which always serves the tree too), as dl.k8s.io does to its CDN.

Usage::

    with Mirror(tree) as mirror:
        mirror.status(release_path("v1.33.9", "kubectl.sha256"), 404)
        install("v1.33.9", base_url=mirror.url, ...)
        assert mirror.requests[release_path("v1.33.9")] == 1
"""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import socket
import struct
import threading
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["Mirror", "build_mirror_tree", "file_digest", "release_path"]

CDN_PREFIX = "/cdn"
_CHUNK = 64 * 1024


def release_path(
    version: str, name: str = "kubectl", goos: str = "linux", goarch: str = "amd64"
) -> str:
    """The URL path of a release file, e.g. ``/release/v1.33.9/bin/linux/amd64/kubectl``."""
    return f"/release/{version}/bin/{goos}/{goarch}/{name}"


def file_digest(path: Path, algorithm: str) -> str:
    hasher = hashlib.new(algorithm)
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()


def build_mirror_tree(
    root: Path, version: str, binary: Path, goos: str = "linux", goarch: str = "amd64"
) -> Path:
    """Lay out ``release/<version>/bin/<goos>/<goarch>/kubectl`` (a copy of ``binary``) with
    ``kubectl.sha256``/``kubectl.sha512`` beside it and ``release/stable-1.NN.txt`` naming
    ``version``; returns the copied binary's path.  Several versions may share one root."""
    name = "kubectl.exe" if goos == "windows" else "kubectl"
    directory = root / "release" / version / "bin" / goos / goarch
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    shutil.copyfile(binary, target)
    for algorithm in ("sha256", "sha512"):
        (directory / f"{name}.{algorithm}").write_text(file_digest(target, algorithm))
    major_minor = ".".join(version.removeprefix("v").split(".")[:2])
    (root / "release" / f"stable-{major_minor}.txt").write_text(version + "\n")
    return target


class _Fault:
    def __init__(self, kind: str, **params: Any) -> None:
        self.kind = kind
        self.params = params


class Mirror:
    """Serve ``root`` on 127.0.0.1; see the module docstring."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.requests: Counter[str] = Counter()
        self._faults: dict[str, _Fault] = {}
        self._redirect = False
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Mirror:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Mirror:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- faults ------------------------------------------------------------------------

    def status(self, path: str, code: int) -> None:
        self._set(path, _Fault("status", code=code))

    def body(self, path: str, data: bytes) -> None:
        self._set(path, _Fault("body", data=data))

    def wrong_digest(self, path: str) -> None:
        """Make ``.../kubectl.sha256`` (or ``.sha512``) hold a well-formed but wrong digest."""
        algorithm = path.rsplit(".", 1)[-1]
        self.body(path, hashlib.new(algorithm, b"not kubectl").hexdigest().encode() + b"\n")

    def truncate(self, path: str, after: int) -> None:
        self._set(path, _Fault("truncate", after=after))

    def reset(self, path: str, after: int) -> None:
        self._set(path, _Fault("reset", after=after))

    def slow(self, path: str, delay: float, after: int = 0) -> None:
        self._set(path, _Fault("slow", delay=delay, after=after))

    def redirect(self, enabled: bool = True) -> None:
        self._redirect = enabled

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._redirect = False

    def _set(self, path: str, fault: _Fault) -> None:
        with self._lock:
            self._faults[path] = fault

    def _fault(self, path: str) -> _Fault | None:
        with self._lock:
            return self._faults.get(path)

    def _count(self, path: str) -> None:
        with self._lock:
            self.requests[path] += 1


def _handler_for(mirror: Mirror) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(_Handler):
        pass

    Handler.mirror = mirror
    return Handler


class _Handler(http.server.BaseHTTPRequestHandler):
    mirror: Mirror
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        self.mirror._count(path)
        if self.mirror._redirect and path.startswith("/release/"):
            self._send_simple(302, b"", location=CDN_PREFIX + path)
            return
        fault = self.mirror._fault(path)
        if fault is not None and fault.kind == "status":
            self._send_simple(fault.params["code"], b"fault injected\n")
            return
        if fault is not None and fault.kind == "body":
            self._send_simple(200, fault.params["data"])
            return
        file = self._resolve(path.removeprefix(CDN_PREFIX) if path.startswith("/cdn/") else path)
        if file is None:
            self._send_simple(404, b"404 page not found\n")
            return
        size = file.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        try:
            with file.open("rb") as fh:
                if fault is None:
                    self.connection.sendfile(fh)
                else:
                    self._send_faulty(fh, fault)
        except OSError:  # the client went away (e.g. it timed out)
            self.close_connection = True

    def _resolve(self, path: str) -> Path | None:
        root = self.mirror.root
        candidate = (root / path.lstrip("/")).resolve()
        if candidate.is_file() and candidate.is_relative_to(root):
            return candidate
        return None

    def _send_simple(self, code: int, body: bytes, location: str | None = None) -> None:
        self.send_response(code)
        if location is not None:
            self.send_header("Location", location)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_faulty(self, fh: Any, fault: _Fault) -> None:
        after = fault.params["after"]
        self.wfile.write(fh.read(after))
        stopping = self.mirror._stopping
        if fault.kind == "truncate":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_WR)
        elif fault.kind == "reset":
            # Let the client read what was sent and block for more, then abort: closing a
            # socket with SO_LINGER {on, 0} sends RST instead of FIN.
            stopping.wait(0.2)
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            os.close(self.connection.detach())
        elif fault.kind == "slow":
            while chunk := fh.read(_CHUNK):
                if stopping.wait(fault.params["delay"]):
                    break
                self.wfile.write(chunk)
            self.close_connection = True


def _main() -> None:  # pragma: no cover - manual use: python -m tests.support.mirror DIR
    import sys

    with Mirror(Path(sys.argv[1])) as mirror:
        print(mirror.url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    _main()
