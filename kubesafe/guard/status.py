"""Kubernetes ``Status`` responses made by the guard itself.

Clients (kubectl, helm, client libraries, k9s) print a ``Status`` message as
the server's own error, so the guard's refusals read like
``Error from server (Forbidden): <message>``.
"""

from __future__ import annotations

import json

_REASONS = {
    400: ("BadRequest", "Bad Request"),
    401: ("Unauthorized", "Unauthorized"),
    403: ("Forbidden", "Forbidden"),
    404: ("NotFound", "Not Found"),
    502: ("InternalError", "Bad Gateway"),
    503: ("ServiceUnavailable", "Service Unavailable"),
    504: ("Timeout", "Gateway Timeout"),
}


def status_object(code: int, message: str, reason: str | None = None) -> dict[str, object]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or _REASONS[code][0],
        "code": code,
    }


def status_response(code: int, message: str, *, close: bool = False) -> bytes:
    """A complete HTTP/1.1 response carrying a Status body."""
    body = json.dumps(status_object(code, message)).encode()
    headers = [
        f"HTTP/1.1 {code} {_REASONS[code][1]}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-cache, private",
    ]
    if code == 401:
        headers.append('WWW-Authenticate: Bearer realm="kubesafe guard"')
    if close:
        headers.append("Connection: close")
    return ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + body
