"""The upstream half: one real ``kubectl proxy`` per protected context.

``kubectl proxy --unix-socket`` authenticates to the API server exactly as
kubectl does, because it is kubectl: tokens and token files, client
certificates, exec plugins with expiry and refresh, auth providers,
impersonation, ``proxy-url``, ``tls-server-name``, CA data and insecure
flags all come from client-go itself. The guard talks plain HTTP to it over a
Unix socket in its private directory. Flags:

* ``--disable-filter``: the guard is the filter. The proxy's own one would
  reject exec/attach (``--reject-paths``) even during a lift, and its
  ``--accept-hosts`` only checks the Host header, which on a Unix socket says
  nothing about who connects (the guard sends ``Host: localhost``). Nothing
  but this user can reach the socket (0700 directory).
* ``--append-server-path``: without it kubectl proxy drops the path of a
  server URL (``https://rancher/k8s/clusters/c-1``), which client-go keeps.
* ``--context`` and ``KUBECONFIG`` set to the user's real files: the
  terminal's own file points protected contexts at the guard and would loop.

A proxy that died (or was killed) is started again on the next request.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping

START_TIMEOUT = 15.0


def die_with_parent() -> None:
    """Linux: this process gets SIGTERM when its parent dies, even by SIGKILL.

    For the proxies (their guard) and the guard (its keeper); nothing elsewhere.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _child_setup() -> Callable[[], None] | None:
    # Elsewhere an orphaned proxy lives on until the guard's sweep (next step) ends it.
    return die_with_parent if sys.platform.startswith("linux") else None


class UpstreamError(Exception):
    """The context's upstream cannot be reached; one line for the client."""


class KubectlProxy:
    def __init__(
        self,
        kubectl: str | Callable[[], str],
        context: str,
        socket_path: str,
        env: Mapping[str, str],
        log_path: str,
    ) -> None:
        # A callable chooses the binary at the first request (it may ask the server for
        # its version or download one): a guard for many contexts starts at once.
        self._choose = kubectl if callable(kubectl) else None
        self.kubectl = "" if callable(kubectl) else kubectl
        self.context = context
        self.socket_path = socket_path
        self.env = dict(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._lock = asyncio.Lock()

    def argv(self) -> list[str]:
        return [
            self.kubectl,
            "--context",
            self.context,
            "proxy",
            "--unix-socket",
            self.socket_path,
            "--disable-filter",
            "--append-server-path",
        ]

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _spawn(self) -> None:
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            self.process = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=fd,
                env=self.env,
                start_new_session=True,  # a terminal's Ctrl-C must not kill it
                # Safe: the guard runs one thread (the death signal follows that thread).
                preexec_fn=_child_setup(),
            )
        except OSError as exc:
            why = exc.strerror or exc
            raise UpstreamError(f"cannot start {self.kubectl} proxy: {why}") from None
        finally:
            os.close(fd)
        self.starts += 1

    def _last_log_line(self) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(max(0, os.path.getsize(self.log_path) - 2048))
                lines = handle.read().decode("utf-8", "replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not self.alive():
                detail = self._last_log_line() or "it exited"
                raise UpstreamError(f"kubectl proxy for context {self.context!r} failed: {detail}")
            if os.path.exists(self.socket_path):
                return
            await asyncio.sleep(0.01)
        self.stop()
        raise UpstreamError(f"kubectl proxy for context {self.context!r} did not start in time")

    async def ensure(self) -> None:
        """Start the proxy unless it runs (one start at a time)."""
        if self.alive() and os.path.exists(self.socket_path):
            return
        async with self._lock:
            if self.alive() and os.path.exists(self.socket_path):
                return
            self.stop()
            if not self.kubectl and self._choose is not None:
                try:
                    self.kubectl = await asyncio.to_thread(self._choose)
                except Exception as exc:  # GuardError and what choosing may raise
                    raise UpstreamError(f"no kubectl for context {self.context!r}: {exc}") from None
            self._spawn()
            await self._wait_ready()

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to the proxy; a dead or unreachable proxy is restarted once."""
        for attempt in (1, 2):
            await self.ensure()
            try:
                return await asyncio.open_unix_connection(self.socket_path, limit=1 << 20)
            except OSError:
                if attempt == 2:
                    raise UpstreamError(
                        f"cannot connect to kubectl proxy for context {self.context!r}"
                    ) from None
                self.stop()
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        try:
            os.unlink(self.socket_path)
        except OSError:
            pass
