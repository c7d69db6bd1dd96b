"""Streaming copies between two connections: bodies in their framing, and tunnels.

Nothing is buffered beyond one read (``CHUNK`` bytes): a LIST of thousands of
objects or a watch that runs for hours costs the same memory as a GET.
Chunked bodies are copied verbatim while their chunk sizes are followed, only
to know where the message ends so the connection can serve the next one.
"""

from __future__ import annotations

import asyncio
import contextlib

from kubesafe.guard.http1 import Framing, MessageError

CHUNK = 64 * 1024
_MAX_LINE = 4096


class PeerClosed(Exception):
    """The other side went away in the middle of a message."""


async def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    if writer.transport.get_write_buffer_size() > CHUNK:
        await writer.drain()


async def _copy_exact(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, size: int
) -> None:
    remaining = size
    while remaining > 0:
        data = await reader.read(min(CHUNK, remaining))
        if not data:
            raise PeerClosed("the body ended early")
        remaining -= len(data)
        await _write(writer, data)


async def _line(reader: asyncio.StreamReader) -> bytes:
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        raise PeerClosed("the body ended early") from None
    except asyncio.LimitOverrunError:
        raise MessageError("chunk line too long") from None
    if len(line) > _MAX_LINE:
        raise MessageError("chunk line too long")
    return line


async def _copy_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        line = await _line(reader)
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise MessageError("malformed chunk size") from None
        if size < 0 or not size_text.isalnum():
            raise MessageError("malformed chunk size")
        await _write(writer, line)
        if size == 0:
            while True:  # trailer section, ends with an empty line
                trailer = await _line(reader)
                await _write(writer, trailer)
                if trailer in (b"\r\n", b"\n"):
                    return
        await _copy_exact(reader, writer, size + 2)  # data and its CRLF
        if writer.transport.get_write_buffer_size():
            # Flush each chunk: watch events must reach the client as they happen.
            await writer.drain()


async def _copy_until_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        data = await reader.read(CHUNK)
        if not data:
            return
        writer.write(data)
        await writer.drain()


async def copy_body(
    framing: Framing, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    if framing.kind == "length":
        await _copy_exact(reader, writer, framing.length)
    elif framing.kind == "chunked":
        await _copy_chunked(reader, writer)
    elif framing.kind == "eof":
        await _copy_until_eof(reader, writer)
    await writer.drain()


async def tunnel(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    """Bytes both ways (an upgraded SPDY or WebSocket stream) until either side ends."""

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            # Half-close is passed on where the transport can (the Unix socket);
            # TLS cannot half-close, so that side is closed, which ends the other pump.
            if writer.can_write_eof():
                writer.write_eof()
            else:
                writer.close()

    tasks = [asyncio.create_task(pump(a[0], b[1])), asyncio.create_task(pump(b[0], a[1]))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
