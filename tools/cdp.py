"""A small Chrome DevTools Protocol client for Debian's headless chromium, over a pipe.

``--remote-debugging-pipe`` makes chromium read commands from its file descriptor 3 and
write answers and events to descriptor 4, as JSON messages each ended by a NUL byte. That
needs no websocket library and opens no debugging port.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

# What the machine's closed network needs: no background traffic, no first-run or sync, and
# a fresh profile every time.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--hide-scrollbars",
    # Any name other than 127.0.0.1 fails to resolve: a page that asks for a CDN cannot
    # reach it (and the request is still recorded, so the test sees it).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


class CDPError(RuntimeError):
    """chromium is missing, died, timed out, or answered a command with an error."""


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise CDPError("no chromium on PATH (Debian: apt-get install chromium; tools/test.sh does)")


class Browser:
    """One headless chromium, one page (tab) driven through a flat CDP session."""

    def __init__(self, extra_flags: Sequence[str] = (), timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        self._profile = tempfile.TemporaryDirectory(prefix="kubesafe-chromium-")
        self._next_id = 0
        self._buffer = b""
        self.session = ""
        # Our ends: we write commands to to_browser_w and read from from_browser_r.
        to_browser_r, self._to_browser_w = os.pipe()
        self._from_browser_r, from_browser_w = os.pipe()
        command = [
            chromium_path(),
            *CHROMIUM_FLAGS,
            *extra_flags,
            f"--user-data-dir={self._profile.name}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self._log = open(os.path.join(self._profile.name, "chromium.log"), "w+b")  # noqa: SIM115
        # chromium wants the pipe on exactly fds 3 and 4; bash puts them there (dash cannot
        # name fds above 9).
        wrapper = f'exec "$@" 3<&{to_browser_r} 4>&{from_browser_w}'
        self._process = subprocess.Popen(
            ["bash", "-c", wrapper, "bash", *command],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        target = self.send("Target.createTarget", {"url": "about:blank"}, page=False)["targetId"]
        attached = self.send(
            "Target.attachToTarget", {"targetId": target, "flatten": True}, page=False
        )
        self.session = str(attached["sessionId"])

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                self.send("Browser.close", page=False)
            except CDPError:
                pass
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for fd in (self._to_browser_w, self._from_browser_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        self._profile.cleanup()

    def _log_tail(self) -> str:
        self._log.flush()
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return ": " + "\n".join(lines[-15:]) if lines else ""

    # ------------------------------------------------------------------ protocol

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, page: bool = True
    ) -> dict[str, Any]:
        """Send one command (to the page's session unless ``page=False``); return its result."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if page and self.session:
            message["sessionId"] = self.session
        try:
            os.write(self._to_browser_w, json.dumps(message).encode() + b"\0")
        except OSError as exc:
            raise CDPError(f"chromium is gone ({exc}){self._log_tail()}") from exc
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == message["id"]:
                if "error" in reply:
                    raise CDPError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str, timeout: float | None = None) -> dict[str, Any]:
        """The first event named ``method`` not yet consumed (waiting for it if need be)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for index, event in enumerate(self.events):
                if event["method"] == method:
                    del self.events[index]
                    return event
            message = self._read(deadline)
            if "method" in message:
                self.events.append(message)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError(f"chromium did not answer within {self.timeout:.0f} s")
            ready, _, _ = select.select([self._from_browser_r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._from_browser_r, 1 << 20)
            if not chunk:
                raise CDPError(f"chromium exited ({self._process.poll()}){self._log_tail()}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    # ------------------------------------------------------------------ page helpers

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise CDPError(f"JavaScript error: {result['exceptionDetails']}")
        return result["result"].get("value")
