"""The guard: HTTPS on 127.0.0.1 for one terminal, in front of its kubectl proxies.

Each protected context is served under its own path prefix,
``https://127.0.0.1:PORT/<context id>``; client-go (and the Python client)
keep a server URL's path as a prefix of every request, so one guard serves
all the protected contexts of a terminal. Per request:

1. the bearer token must be the terminal's (constant-time comparison; the
   token is never logged or forwarded) or the answer is 401;
2. the prefix picks the context (404 for an unknown one);
3. ``access`` classifies the request and ``gate`` applies the policy: a
   refusal is a 403 ``Status`` naming the rule and the lift command;
4. otherwise the request goes to the context's kubectl proxy and the
   response streams back. Upgrades (exec, attach, port-forward over SPDY or
   WebSocket) become a byte tunnel. Writes forwarded under a lift are audited.

Upstream failures become 502/503/504 ``Status`` answers for that request
only; the guard keeps serving everything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import socket
import ssl
from dataclasses import dataclass

from kubesafe import audit
from kubesafe.guard.access import Access, PathError, classify_request
from kubesafe.guard.aggregated import DryRunCheck
from kubesafe.guard.gate import Gate, Verdict
from kubesafe.guard.http1 import (
    MAX_HEAD_BYTES,
    NO_BODY,
    Framing,
    MessageError,
    Request,
    Response,
    parse_request,
    parse_response,
    response_framing,
    response_keeps_alive,
    upstream_request,
)
from kubesafe.guard.relay import PeerClosed, copy_body, tunnel
from kubesafe.guard.status import status_response
from kubesafe.guard.upstream import KubectlProxy, UpstreamError

HEAD_TIMEOUT = 120.0  # the API server's answer to start (a watch starts at once)
IDLE_TIMEOUT = 300.0  # an idle keep-alive client connection
SMALL_BODY = 256 * 1024
# How often a tunnel opened under a lift checks that a lift is still open.
LIFT_CHECK_SECONDS = 1.0
_END = b"\r\n\r\n"
_STREAM_ERRORS = (ConnectionError, OSError, PeerClosed, MessageError, asyncio.IncompleteReadError)

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass(frozen=True)
class GuardedContext:
    name: str
    id: str
    proxy: KubectlProxy


class _Done(Exception):
    """The client connection ends here (after an answer, or without one)."""


class GuardServer:
    def __init__(
        self,
        token: str,
        contexts: list[GuardedContext],
        gate: Gate,
        terminal: str,
        *,
        head_timeout: float = HEAD_TIMEOUT,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self._expected = f"Bearer {token}".encode()
        self.contexts = {context.id: context for context in contexts}
        self.gate = gate
        self.terminal = terminal
        self.head_timeout = head_timeout
        self.idle_timeout = idle_timeout
        self.dry_runs = DryRunCheck()
        self._server: asyncio.Server | None = None

    async def start(
        self, ssl_context: ssl.SSLContext, port: int = 0, sock: socket.socket | None = None
    ) -> int:
        """Listen on 127.0.0.1:port, or on ``sock`` (bound by the keeper)."""
        where = {"sock": sock} if sock is not None else {"host": "127.0.0.1", "port": port}
        self._server = await asyncio.start_server(
            self._connection, ssl=ssl_context, limit=MAX_HEAD_BYTES, **where
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def serve_forever(self) -> None:
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for context in self.contexts.values():
            context.proxy.stop()

    # ---- one client connection ------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstreams: dict[str, Stream] = {}
        pushed_back = b""
        try:
            while True:
                try:
                    head = pushed_back + await asyncio.wait_for(
                        reader.readuntil(_END), self.idle_timeout
                    )
                except (asyncio.LimitOverrunError, ValueError):
                    writer.write(status_response(400, "request head too large", close=True))
                    return
                try:
                    request = parse_request(head)
                except MessageError as exc:
                    writer.write(status_response(400, f"kubesafe guard: {exc}", close=True))
                    return
                pushed_back = await self._request(request, reader, writer, upstreams)
        except (_Done, TimeoutError, asyncio.TimeoutError, *_STREAM_ERRORS):
            return
        finally:
            for _, upstream_writer in upstreams.values():
                upstream_writer.close()
            with contextlib.suppress(*_STREAM_ERRORS):
                await writer.drain()
            writer.close()

    def _authorized(self, request: Request) -> bool:
        given = "\n".join(request.head.get_all("authorization")).encode("latin-1")
        return hmac.compare_digest(given, self._expected)

    async def _refuse(
        self, writer: asyncio.StreamWriter, request: Request, code: int, message: str
    ) -> bytes:
        # The body of a refused request is never read: close rather than drain it.
        close = request.framing.has_body or not request.keep_alive
        writer.write(status_response(code, message, close=close))
        await writer.drain()
        if close:
            raise _Done
        return b""

    async def _request(
        self,
        request: Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstreams: dict[str, Stream],
    ) -> bytes:
        """Answer one request; returns bytes of the next request read ahead, if any."""
        if not self._authorized(request):
            return await self._refuse(writer, request, 401, "Unauthorized")
        path, question, query = request.target.partition("?")
        context_id, _, rest = path[1:].partition("/")
        context = self.contexts.get(context_id)
        if context is None:
            message = "kubesafe guard: no guarded context at this address"
            return await self._refuse(writer, request, 404, message)
        upstream_path = "/" + rest
        try:
            access = classify_request(
                request.method,
                upstream_path,
                query,
                request.upgrade,
                has_body=request.framing.has_body,
            )
        except PathError as exc:
            return await self._refuse(writer, request, 400, f"kubesafe guard: {exc}")
        if access.dry_run_api is not None:
            access = await self._checked_dry_run(context, access)
        what = f"{request.method} {upstream_path}"
        verdict = self.gate.decide(context.name, access, what)
        if not verdict.allowed:
            self._audit(context, request, upstream_path, access.namespace, verdict, None)
            return await self._refuse(writer, request, 403, verdict.message)
        target = upstream_path + question + query
        return await self._forward(
            context, request, target, reader, writer, upstreams, verdict, access.namespace
        )

    async def _checked_dry_run(self, context: GuardedContext, access: Access) -> Access:
        assert access.dry_run_api is not None
        group, version = access.dry_run_api
        why = await self.dry_runs.why_not(context.id, context.proxy.connect, group, version)
        if not why:
            return access
        reason = f"a dry run to {group}/{version} is not trusted: {why}"
        return Access(access.fallback, reason, access.namespace)

    def _audit(
        self,
        context: GuardedContext,
        request: Request,
        path: str,
        namespace: str | None,
        verdict: Verdict,
        status: int | None,
    ) -> None:
        if verdict.allowed and verdict.lift is None:
            return
        audit.record(
            {
                "source": "guard",
                "decision": "forwarded-under-lift" if verdict.allowed else "refused",
                "context": context.name,
                "terminal": self.terminal,
                "method": request.method,
                "path": path,
                "namespace": namespace,
                "user_agent": request.head.get("user-agent") or "",
                "status": status,
                "rule": verdict.rule,
                "lift_reason": verdict.lift.reason if verdict.lift else None,
            }
        )

    # ---- forwarding -------------------------------------------------------------------

    async def _open(self, context: GuardedContext, upstreams: dict[str, Stream]) -> Stream:
        stream = upstreams.pop(context.id, None)
        if stream is not None and not stream[0].at_eof() and not stream[1].is_closing():
            return stream
        if stream is not None:
            stream[1].close()
        return await context.proxy.connect()

    async def _forward(
        self,
        context: GuardedContext,
        request: Request,
        target: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstreams: dict[str, Stream],
        verdict: Verdict,
        namespace: str | None,
    ) -> bytes:
        retry = not request.framing.has_body and request.method in ("GET", "HEAD", "OPTIONS")
        reused = context.id in upstreams
        try:
            upstream = await self._open(context, upstreams)
        except UpstreamError as exc:
            return await self._refuse(writer, request, 503, f"kubesafe guard: {exc}")
        up_reader, up_writer = upstream
        if "100-continue" in request.head.tokens("expect"):
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        up_writer.write(upstream_request(request, target))
        upload = _start_upload(request.framing, reader, up_writer)
        try:
            response, raw_head = await self._response_head(up_reader, writer)
        except (TimeoutError, asyncio.TimeoutError):
            upload.cancel()
            up_writer.close()
            self._audit(context, request, target, namespace, verdict, None)
            message = f"kubesafe guard: the API server of context {context.name!r} did not answer"
            return await self._refuse(writer, request, 504, message)
        except (*_STREAM_ERRORS, UpstreamError) as exc:
            upload.cancel()
            up_writer.close()
            if reused and retry:
                return await self._forward(
                    context, request, target, reader, writer, upstreams, verdict, namespace
                )
            self._audit(context, request, target, namespace, verdict, None)
            message = f"kubesafe guard: the connection to context {context.name!r} failed: {exc}"
            return await self._refuse(writer, request, 502, message)

        self._audit(context, request, target, namespace, verdict, response.status)
        if response.status == 101:
            writer.write(raw_head)
            await writer.drain()
            with contextlib.suppress(*_STREAM_ERRORS):
                await upload
            if verdict.lift is None:
                await tunnel((reader, writer), upstream)
            else:
                await self._lifted_tunnel(context, request, target, (reader, writer), upstream)
            raise _Done
        framing = response_framing(response, request.method)
        if response.status in (500, 502, 503) and _plain(response) and framing.kind == "length":
            # kubectl proxy's own error (a plain-text 500 when the API server is
            # unreachable; the API server's errors are JSON): a 502 Status instead.
            await self._proxy_error(context, request, response, framing, up_reader, writer)
            up_writer.close()
            upload.cancel()
            raise _Done
        if framing.kind == "length" and framing.length <= SMALL_BODY:
            # One write for head and body: one TLS record, one syscall.
            writer.write(raw_head + await up_reader.readexactly(framing.length))
            framing = NO_BODY
        else:
            writer.write(raw_head)
        # The client's reader is free only once its request body is all read.
        watch_client = upload.done()
        pushed_back = await self._stream_response(
            framing, up_reader, reader if watch_client else None, writer
        )
        if pushed_back is None or not upload.done():
            # The client hung up, or the server answered without reading the whole body:
            # both connections are spent.
            upload.cancel()
            up_writer.close()
            raise _Done
        upload.result()
        if framing.kind == "eof" or not response_keeps_alive(response):
            up_writer.close()
        else:
            upstreams[context.id] = upstream
        if framing.kind == "eof" or not request.keep_alive:
            raise _Done
        return pushed_back

    async def _lifted_tunnel(
        self,
        context: GuardedContext,
        request: Request,
        target: str,
        client: Stream,
        upstream: Stream,
    ) -> None:
        """A tunnel a lift let through (an exec shell) ends when no lift is open any more.

        Checked at least once a second and at the lift's expiry; a new lift for the
        context keeps it open. Both connections are closed and the end is audited.
        """
        piped = asyncio.create_task(tunnel(client, upstream))
        try:
            while not piped.done():
                lift = self.gate.lifts.current(context.name)
                if lift is None:
                    audit.record(
                        {
                            "source": "guard",
                            "decision": "tunnel-closed-lift-ended",
                            "context": context.name,
                            "terminal": self.terminal,
                            "method": request.method,
                            "path": target,
                            "user_agent": request.head.get("user-agent") or "",
                        }
                    )
                    return
                wait = min(LIFT_CHECK_SECONDS, max(lift.remaining(), 0.01))
                await asyncio.wait([piped], timeout=wait)
        finally:
            if not piped.done():
                piped.cancel()
                with contextlib.suppress(asyncio.CancelledError, *_STREAM_ERRORS):
                    await piped
            for _, writer in (client, upstream):
                writer.close()

    async def _response_head(
        self, up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[Response, bytes]:
        while True:
            raw = await asyncio.wait_for(up_reader.readuntil(_END), self.head_timeout)
            response = parse_response(raw)
            if response.status == 101 or not 100 <= response.status < 200:
                return response, raw
            writer.write(raw)  # 1xx informational: pass on, the real answer follows

    async def _stream_response(
        self,
        framing: Framing,
        up_reader: asyncio.StreamReader,
        reader: asyncio.StreamReader | None,
        writer: asyncio.StreamWriter,
    ) -> bytes | None:
        """Copy the body; returns read-ahead bytes, or None when the client went away.

        Long streams (chunked or until EOF: watches, ``logs -f``) also watch the
        client, so a client that hangs up ends its upstream watch at once.
        """
        if framing.kind in ("none", "length") or reader is None:
            await copy_body(framing, up_reader, writer)
            return b""
        copy = asyncio.create_task(copy_body(framing, up_reader, writer))
        peek = asyncio.create_task(reader.read(1))
        done, _ = await asyncio.wait({copy, peek}, return_when=asyncio.FIRST_COMPLETED)
        if copy in done:
            if peek in done:
                return peek.result() or None
            peek.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await peek
            copy.result()
            return b""
        ahead = peek.result()
        if not ahead:  # the client hung up
            copy.cancel()
            return None
        await copy  # a pipelined request: finish this answer first
        return ahead

    async def _proxy_error(
        self,
        context: GuardedContext,
        request: Request,
        response: Response,
        framing: Framing,
        up_reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        body = b""
        if framing.length <= 64 * 1024:
            body = await up_reader.readexactly(framing.length)
        detail = body.decode("utf-8", "replace").strip().splitlines()
        message = f"kubesafe guard: the API server of context {context.name!r} is unreachable" + (
            f": {detail[0]}" if detail else ""
        )
        writer.write(status_response(502, message, close=True))
        await writer.drain()


def _start_upload(
    framing: Framing, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> asyncio.Future[None]:
    """Stream the request body upstream while the response is awaited."""
    if not framing.has_body:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done
    return asyncio.ensure_future(copy_body(framing, reader, writer))


def _plain(response: Response) -> bool:
    return "json" not in (response.head.get("content-type") or "")
