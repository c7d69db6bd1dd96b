"""The guard's relay, in process, against a stand-in for kubectl proxy on a Unix socket.

Shows what the fake API server cannot: upgrades (exec over SPDY or WebSocket) tunnelled
byte for byte during a lift and refused without one, and a chunked stream passed on event
by event rather than buffered.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from kubesafe.guard.gate import Gate
from kubesafe.guard.layout import ensure_token, prepare
from kubesafe.guard.lifts import LiftBook, open_lift
from kubesafe.guard.server import GuardedContext, GuardServer
from kubesafe.guard.tls import make_certificates, server_context
from kubesafe.guard.upstream import KubectlProxy
from tests.support.fake_apiserver import write_kubeconfig
from tests.support.guard_harness import isolated_env

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
EXEC = "/api/v1/namespaces/shop/pods/web-0/exec?command=sh&stdin=true"


class StandInProxy(KubectlProxy):
    """Connects to a test server instead of starting kubectl."""

    def __init__(self, socket_path: str) -> None:
        super().__init__("kubectl", "prod", socket_path, {}, "/dev/null")
        self.connections = 0

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.connections += 1
        return await asyncio.open_unix_connection(self.socket_path)

    def stop(self) -> None:
        pass


@asynccontextmanager
async def guard_with(tmp_path: Path, handler: Handler) -> AsyncIterator[tuple[int, str, str]]:
    """(port, token, ca file) of a guard whose upstream is ``handler``."""
    layout = prepare(str(tmp_path / "guard"))
    token = ensure_token(layout)
    make_certificates(layout)
    socket_path = str(tmp_path / "up.sock")
    upstream = await asyncio.start_unix_server(handler, socket_path)
    kubeconfig = tmp_path / "kubeconfig"
    write_kubeconfig(
        kubeconfig,
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": "https://prod.example:6443"}}],
            "users": [{"name": "u", "user": {}}],
            "contexts": [{"name": "prod", "context": {"cluster": "c", "user": "u"}}],
        },
    )
    (tmp_path / "policy.yaml").write_text("rules:\n  - context: prod\n")
    env = {
        **isolated_env(tmp_path / "home"),
        "KUBECONFIG": str(kubeconfig),
        "KUBESAFE_CONFIG": str(tmp_path / "policy.yaml"),
    }
    gate = Gate(env, LiftBook(layout.lifts, "t1"))
    server = GuardServer(
        token, [GuardedContext("prod", "p", StandInProxy(socket_path))], gate, "t1"
    )
    port = await server.start(server_context(layout))
    try:
        yield port, token, layout.ca
    finally:
        server.close()
        upstream.close()


async def _open(port: int, ca: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    context = ssl.create_default_context(cafile=ca)
    return await asyncio.open_connection("127.0.0.1", port, ssl=context)


async def _echo_upgrade(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    assert b"Upgrade: SPDY/3.1" in head and b"Authorization" not in head
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n"
    )
    while data := await reader.read(1024):
        writer.write(data.upper())
        await writer.drain()
    writer.close()


def _upgrade_request(token: str) -> bytes:
    return (
        f"POST /p{EXEC} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
        "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n"
    ).encode()


def test_exec_upgrade_is_tunnelled_during_a_lift(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with guard_with(tmp_path, _echo_upgrade) as (port, token, ca):
            open_lift(str(tmp_path / "guard" / "lifts.json"), "t1", "prod", 60, "debug")
            reader, writer = await _open(port, ca)
            writer.write(_upgrade_request(token))
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 101 ")
            for word in (b"hello", b"\x00\x01binary\xff"):
                writer.write(word)
                await writer.drain()
                assert await reader.readexactly(len(word)) == word.upper()
            writer.close()

    asyncio.run(scenario())


def test_exec_upgrade_is_refused_without_a_lift(tmp_path: Path) -> None:
    reached: list[bytes] = []

    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reached.append(await reader.read(1024))
        writer.close()

    async def scenario() -> None:
        async with guard_with(tmp_path, upstream) as (port, token, ca):
            reader, writer = await _open(port, ca)
            writer.write(_upgrade_request(token))
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 403 ")
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            status = json.loads(await reader.readexactly(length))
            assert status["reason"] == "Forbidden"
            assert "kubesafe lift prod --for 15m" in status["message"]
            assert "exec" in status["message"]
            writer.close()

    asyncio.run(scenario())
    assert reached == []


def test_a_chunked_stream_is_passed_on_event_by_event(tmp_path: Path) -> None:
    release = asyncio.Event()

    async def watch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        event = b'{"type":"ADDED"}\n'
        writer.write(b"%x\r\n%s\r\n" % (len(event), event))
        await writer.drain()
        await release.wait()  # the stream stays open: the first event must already be out
        writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(event), event))
        await writer.drain()

    async def scenario() -> None:
        async with guard_with(tmp_path, watch) as (port, token, ca):
            reader, writer = await _open(port, ca)
            writer.write(
                f"GET /p/api/v1/pods?watch=1 HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {token}\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            assert b"200 OK" in head
            first = await asyncio.wait_for(reader.readuntil(b"}\n\r\n"), 10)
            assert b'"ADDED"' in first
            release.set()
            rest = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 10)
            assert b'"ADDED"' in rest
            writer.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "request_head",
    [
        b"POST /p/api/v1/namespaces/shop/configmaps HTTP/1.1\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\nAuthorization: Bearer TOKEN\r\n\r\n",
        b"GET /p/api/v1/namespaces/shop/pods/web-0%2Fexec HTTP/1.1\r\n"
        b"Authorization: Bearer TOKEN\r\n\r\n",
    ],
)
def test_smuggling_and_escaped_paths_never_reach_upstream(
    tmp_path: Path, request_head: bytes
) -> None:
    reached: list[bytes] = []

    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reached.append(await reader.read(1024))
        writer.close()

    async def scenario() -> None:
        async with guard_with(tmp_path, upstream) as (port, token, ca):
            reader, writer = await _open(port, ca)
            writer.write(request_head.replace(b"TOKEN", token.encode()))
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.split(b" ")[1] in (b"400", b"403")
            writer.close()

    asyncio.run(scenario())
    assert reached == []


def test_keep_alive_survives_a_refusal(tmp_path: Path) -> None:
    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
        writer.close()

    async def scenario() -> None:
        async with guard_with(tmp_path, upstream) as (port, token, ca):
            reader, writer = await _open(port, ca)
            headers = f"HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
            codes = []
            for method in ("GET", "DELETE", "GET", "DELETE", "GET"):
                writer.write(f"{method} /p/api/v1/namespaces/a/pods/x {headers}".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                codes.append(int(head.split(b" ")[1]))
            assert codes == [200, 403, 200, 403, 200]
            writer.close()

    asyncio.run(scenario())


def test_an_upstream_reset_gets_502_and_the_guard_keeps_serving(tmp_path: Path) -> None:
    seen = 0

    async def flaky(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal seen
        seen += 1
        await reader.readuntil(b"\r\n\r\n")
        if seen == 1:
            writer.transport.abort()  # reset before any answer
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    async def scenario() -> None:
        async with guard_with(tmp_path, flaky) as (port, token, ca):
            request = (
                f"GET /p/api/v1/pods HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
            ).encode()
            answers = []
            for _ in range(2):
                reader, writer = await _open(port, ca)
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                answers.append(int(head.split(b" ")[1]))
                if answers[-1] == 502:
                    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                    status = json.loads(await reader.readexactly(length))
                    assert status["kind"] == "Status" and "context 'prod'" in status["message"]
                writer.close()
            assert answers == [502, 200]

    asyncio.run(scenario())


@pytest.mark.parametrize("ending", ["end", "expiry"])
def test_a_tunnel_opened_under_a_lift_ends_with_the_lift(
    tmp_path: Path, ending: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exec shell opened during a lift gives no access after it: closed and audited."""
    from kubesafe import audit
    from kubesafe.guard import server as server_module
    from kubesafe.guard.lifts import close_lift

    lifts = str(tmp_path / "guard" / "lifts.json")

    async def scenario() -> float:
        async with guard_with(tmp_path, _echo_upgrade) as (port, token, ca):
            open_lift(lifts, "t1", "prod", 60 if ending == "end" else 1.5, "debug")
            reader, writer = await _open(port, ca)
            writer.write(_upgrade_request(token))
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101 ")
            writer.write(b"before")
            assert await reader.readexactly(6) == b"BEFORE"
            loop = asyncio.get_running_loop()
            started = loop.time()
            if ending == "end":
                close_lift(lifts, "t1", "prod")
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the guard
            elapsed = loop.time() - started
            writer.close()
            return elapsed

    monkeypatch.setattr(server_module, "LIFT_CHECK_SECONDS", 0.2)
    elapsed = asyncio.run(scenario())
    assert elapsed < 3
    entries = [json.loads(line) for line in Path(audit.audit_path()).read_text().splitlines()]
    closed = [e for e in entries if e["decision"] == "tunnel-closed-lift-ended"]
    assert len(closed) == 1 and closed[0]["context"] == "prod"
    assert closed[0]["path"].startswith("/api/v1/namespaces/shop/pods/web-0/exec")


def test_a_tunnel_outlives_its_lift_only_while_another_is_open(tmp_path: Path) -> None:
    lifts = str(tmp_path / "guard" / "lifts.json")

    async def scenario() -> None:
        async with guard_with(tmp_path, _echo_upgrade) as (port, token, ca):
            open_lift(lifts, "t1", "prod", 1, "first")
            reader, writer = await _open(port, ca)
            writer.write(_upgrade_request(token))
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101 ")
            open_lift(lifts, "t1", "prod", 60, "extended")  # replaces the first one
            await asyncio.sleep(1.6)
            writer.write(b"still")
            assert await asyncio.wait_for(reader.readexactly(5), 5) == b"STILL"
            writer.close()

    asyncio.run(scenario())
