"""Message heads: what the guard forwards, and the framing it refuses."""

from __future__ import annotations

import pytest

from kubesafe.guard.http1 import (
    MessageError,
    parse_request,
    parse_response,
    response_framing,
    upstream_request,
)


def _request(*headers: str, line: str = "POST /ctx/api/v1/pods HTTP/1.1") -> bytes:
    return ("\r\n".join([line, *headers]) + "\r\n\r\n").encode()


@pytest.mark.parametrize(
    "headers",
    [
        ("Content-Length: 5", "Transfer-Encoding: chunked"),
        ("Content-Length: 5", "Content-Length: 6"),
        ("Transfer-Encoding: gzip, chunked",),
        ("Transfer-Encoding: chunked", "Transfer-Encoding: chunked"),
        ("Content-Length: -1",),
        ("Content-Length: 1e3",),
        (" Folded: header",),
        ("Bad Name: x",),
        ("X-HTTP-Method-Override: DELETE",),
        ("X-HTTP-Method: PATCH",),
        ("X-Method-Override: PUT",),
        ("X-HTTP-Method-Override: POST", "X-HTTP-Method-Override: DELETE"),
    ],
)
def test_ambiguous_or_malformed_requests_are_refused(headers):
    with pytest.raises(MessageError):
        parse_request(_request("Host: x", *headers))


def test_a_content_length_of_non_ascii_digits_is_a_message_error():
    # "²" is a digit to str.isdigit() and not to int(): a MessageError (400), no traceback
    with pytest.raises(MessageError):
        parse_request(_request("Host: x", "Content-Length: 1\u00b2").decode().encode("latin-1"))


def test_a_method_override_naming_the_method_itself_is_accepted():
    assert parse_request(_request("X-HTTP-Method-Override: post")).method == "POST"


@pytest.mark.parametrize(
    "line",
    [
        "GET http://evil/api HTTP/1.1",
        "GET /api HTTP/2.0",
        "GET /api HTTP/1.0",  # no chunked responses: not served rather than half served
        "get /api HTTP/1.1",
        "GET /a b HTTP/1.1",
    ],
)
def test_odd_request_lines_are_refused(line):
    with pytest.raises(MessageError):
        parse_request(_request("Host: x", line=line))


def test_the_upstream_head_drops_credentials_and_hop_by_hop_headers():
    request = parse_request(
        _request(
            "Host: 127.0.0.1:1234",
            "Authorization: Bearer terminal-secret",
            "Proxy-Authorization: Basic x",
            "Connection: keep-alive",
            "Keep-Alive: 5",
            "Expect: 100-continue",
            "Impersonate-User: alice",
            "Content-Length: 2",
            "User-Agent: kubectl/v1.33",
        )
    )
    head = upstream_request(request, "/api/v1/pods").decode()
    assert head.startswith("POST /api/v1/pods HTTP/1.1\r\nHost: localhost\r\n")
    assert "terminal-secret" not in head
    assert "Proxy-Authorization" not in head
    assert "Keep-Alive" not in head and "Connection" not in head and "Expect" not in head
    # the client's own impersonation travels, as kubectl sends it directly
    assert "Impersonate-User: alice" in head
    assert "Content-Length: 2" in head and "User-Agent: kubectl/v1.33" in head


def test_upgrade_requests_keep_their_upgrade():
    request = parse_request(
        _request(
            "Connection: Upgrade",
            "Upgrade: SPDY/3.1",
            "X-Stream-Protocol-Version: v4.channel.k8s.io",
            line="POST /ctx/api/v1/namespaces/a/pods/p/exec?command=sh HTTP/1.1",
        )
    )
    assert request.upgrade == "SPDY/3.1"
    head = upstream_request(request, "/api/v1/namespaces/a/pods/p/exec?command=sh").decode()
    assert "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n" in head
    assert "X-Stream-Protocol-Version: v4.channel.k8s.io" in head


@pytest.mark.parametrize(
    ("status_line", "headers", "method", "kind"),
    [
        ("HTTP/1.1 200 OK", ("Content-Length: 10",), "GET", "length"),
        ("HTTP/1.1 200 OK", ("Transfer-Encoding: chunked",), "GET", "chunked"),
        ("HTTP/1.1 200 OK", (), "GET", "eof"),
        ("HTTP/1.1 200 OK", ("Content-Length: 10",), "HEAD", "none"),
        ("HTTP/1.1 204 No Content", (), "DELETE", "none"),
        ("HTTP/1.1 304 Not Modified", (), "GET", "none"),
    ],
)
def test_response_framing(status_line, headers, method, kind):
    response = parse_response(("\r\n".join([status_line, *headers]) + "\r\n\r\n").encode())
    assert response_framing(response, method).kind == kind
