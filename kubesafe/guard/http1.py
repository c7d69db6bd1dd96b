"""HTTP/1.1 message heads: parsing, framing, and the rewrite sent upstream.

The guard relays bodies as raw bytes in their original framing, so all it
needs from a message is its head: the request line or status line, the
headers, and how the body is delimited. Ambiguous framing (both
``Content-Length`` and ``Transfer-Encoding``, several different lengths, a
transfer coding other than ``chunked``) is refused: a guard and the server
behind it must never disagree on where one request ends (request smuggling).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_HEAD_BYTES = 64 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TOKEN_BREAK = re.compile(r"[\s:]")

# Never forwarded: the client's credentials for the guard, and hop-by-hop headers
# (RFC 9110 7.6.1). Upgrade and Connection are re-added for upgrade requests.
_DROPPED_REQUEST_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "connection",
        "keep-alive",
        "proxy-connection",
        "upgrade",
        "expect",
        "host",
    }
)


# Headers some gateways honour to run a request as another method than its own.
_METHOD_OVERRIDES = ("x-http-method-override", "x-http-method", "x-method-override")


class MessageError(Exception):
    """A malformed or ambiguous message; the text is safe to show the client."""


@dataclass(frozen=True)
class Framing:
    """How a body is delimited: ``length`` bytes, chunked, until EOF, or none."""

    kind: str  # "none", "length", "chunked", "eof"
    length: int = 0

    @property
    def has_body(self) -> bool:
        return self.kind == "chunked" or self.kind == "eof" or self.length > 0


NO_BODY = Framing("none")


@dataclass(frozen=True)
class Head:
    """A parsed message head. ``headers`` keeps order and the original spelling."""

    start: tuple[str, str, str]
    headers: tuple[tuple[str, str], ...]

    def get(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def tokens(self, name: str) -> set[str]:
        """Comma-separated, case-insensitive tokens of every ``name`` header."""
        found: set[str] = set()
        for value in self.get_all(name):
            found.update(part.strip().lower() for part in value.split(",") if part.strip())
        return found


@dataclass(frozen=True)
class Request:
    head: Head

    @property
    def method(self) -> str:
        return self.head.start[0]

    @property
    def target(self) -> str:
        return self.head.start[1]

    @property
    def version(self) -> str:
        return self.head.start[2]

    @property
    def keep_alive(self) -> bool:
        return "close" not in self.head.tokens("connection")

    @property
    def upgrade(self) -> str | None:
        """The protocol asked for when this is an upgrade request (SPDY, WebSocket)."""
        if "upgrade" not in self.head.tokens("connection"):
            return None
        value = self.head.get("upgrade")
        return value.strip() if value else None

    @property
    def framing(self) -> Framing:
        return request_framing(self.head)


@dataclass(frozen=True)
class Response:
    head: Head

    @property
    def status(self) -> int:
        return int(self.head.start[1])


def _split_head(data: bytes) -> tuple[str, list[tuple[str, str]]]:
    if len(data) > MAX_HEAD_BYTES:
        raise MessageError("request head too large")
    try:
        text = data.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise MessageError("undecodable head") from None
    lines = text.split("\r\n")
    while lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise MessageError("empty head")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line or line[0] in " \t":
            raise MessageError("folded or empty header line")
        name, colon, value = line.partition(":")
        if not colon or not name or _TOKEN_BREAK.search(name):
            raise MessageError(f"malformed header line {line[:40]!r}")
        if _CONTROL.search(value):
            raise MessageError("control character in a header value")
        headers.append((name, value.strip(" \t")))
    return lines[0], headers


def parse_request(data: bytes) -> Request:
    line, headers = _split_head(data)
    parts = line.split(" ")
    if len(parts) != 3:
        raise MessageError("malformed request line")
    method, target, version = parts
    if not method.isalpha() or not method.isupper():
        raise MessageError("malformed method")
    if version != "HTTP/1.1":
        raise MessageError("only HTTP/1.1 is served")
    if not target.startswith("/"):
        raise MessageError("only origin-form request targets are served")
    if not (target.isascii() and target.isprintable()) or " " in target:
        raise MessageError("invalid character in the request target")
    request = Request(Head((method, target, version), tuple(headers)))
    request_framing(request.head)  # ambiguous framing is refused up front
    for name in _METHOD_OVERRIDES:
        if any(value.strip().upper() != method for value in request.head.get_all(name)):
            # The API server ignores these, a gateway behind kubectl proxy may not.
            raise MessageError(f"{name} naming another method is not served")
    return request


def parse_response(data: bytes) -> Response:
    line, headers = _split_head(data)
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise MessageError("malformed status line")
    return Response(Head((version, code, reason), tuple(headers)))


def _content_length(head: Head) -> int | None:
    values = {value.strip() for value in head.get_all("content-length")}
    if not values:
        return None
    if len(values) > 1:
        raise MessageError("conflicting Content-Length headers")
    value = values.pop()
    if not (value.isascii() and value.isdigit()):  # str.isdigit() also takes "²"
        raise MessageError("invalid Content-Length")
    return int(value)


def request_framing(head: Head) -> Framing:
    codings = head.get_all("transfer-encoding")
    length = _content_length(head)
    if codings:
        if length is not None:
            raise MessageError("both Content-Length and Transfer-Encoding")
        if [c.strip().lower() for c in codings] != ["chunked"]:
            raise MessageError("unsupported Transfer-Encoding")
        return Framing("chunked")
    if length:
        return Framing("length", length)
    return NO_BODY


def response_framing(response: Response, request_method: str) -> Framing:
    """RFC 9112 6.3: how the response body ends."""
    status = response.status
    if request_method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return NO_BODY
    codings = [c.strip().lower() for c in response.head.get_all("transfer-encoding")]
    if codings:
        return Framing("chunked") if codings[-1] == "chunked" else Framing("eof")
    length = _content_length(response.head)
    if length is not None:
        return Framing("length", length) if length else NO_BODY
    return Framing("eof")


def upstream_request(request: Request, path: str) -> bytes:
    """The head sent to the upstream proxy: ``path`` replaces the target.

    The guard's token never leaves the guard; kubectl proxy adds the real
    credentials (and would keep a client's own Authorization if one got
    through, so it must not). Host is fixed: the proxy serves no one else.
    """
    lines = [f"{request.method} {path} HTTP/1.1", "Host: localhost"]
    for name, value in request.head.headers:
        if name.lower() not in _DROPPED_REQUEST_HEADERS:
            lines.append(f"{name}: {value}")
    upgrade = request.upgrade
    if upgrade:
        lines.append("Connection: Upgrade")
        lines.append(f"Upgrade: {upgrade}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def response_keeps_alive(response: Response) -> bool:
    closes = "close" in response.head.tokens("connection")
    return not closes and response.head.start[0] != "HTTP/1.0"
