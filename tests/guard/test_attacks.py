"""Adversarial requests against a real guard, its real kubectl proxy and the HTTPS fake server.

Each attack is sent as raw bytes over TLS (what a hostile or buggy client can send, not
what a polite one does) or with curl. What counts is what reached the API server: no
request that could change state arrives, whatever the guard answered. Where the answer
is a refusal the status code is checked too, so a guard that merely hangs up is not
mistaken for one that refused.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_apiserver import FakeAPIServer, RecordedRequest
from tests.support.guard_harness import Guarded

pytestmark = pytest.mark.e2e

CM = "/api/v1/namespaces/shop/configmaps"
POD = "/api/v1/namespaces/shop/pods/web-0"
_CHANGING_SUBRESOURCES = {"exec", "attach", "proxy", "token"}


def changes(server: FakeAPIServer) -> list[str]:
    """Requests that reached the server and could change something (or mint a credential)."""
    return [f"{r.method} {r.raw_path}" for r in server.requests if _changing(r)]


def _changing(request: RecordedRequest) -> bool:
    if request.method not in ("GET", "HEAD"):
        return True
    segments = request.path.split("/")
    return bool(_CHANGING_SUBRESOURCES & set(segments)) or "proxy" in request.path


def exchange(guard: Guarded, data: bytes, *, timeout: float = 10) -> bytes:
    """Send raw bytes to the guard over TLS; everything it answers until it closes."""
    context = ssl.create_default_context(cafile=guard.layout.ca)
    with (
        socket.create_connection(("127.0.0.1", guard.port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(data)
        received = b""
        try:
            while chunk := tls.recv(65536):
                received += chunk
        except (TimeoutError, ssl.SSLError, ConnectionError):
            pass
        return received


def statuses(answer: bytes) -> list[int]:
    """Status codes of the responses in ``answer`` (bodies here are small JSON)."""
    codes = []
    for part in answer.split(b"HTTP/1.1 ")[1:]:
        code = part[:3]
        if code.isdigit():
            codes.append(int(code))
    return codes


def prefix(guard: Guarded) -> str:
    return "/" + guard.url.rsplit("/", 1)[1]


def head(guard: Guarded, line: str, *headers: str, body: bytes = b"") -> bytes:
    """A request head with the terminal's token; ``line`` is "METHOD PATH" (prefix added)."""
    method, _, path = line.partition(" ")
    lines = [
        f"{method} {prefix(guard)}{path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {guard.token}",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@pytest.fixture
def attacked(fresh: Guarded) -> Iterator[Guarded]:
    yield fresh
    assert changes(fresh.server) == [], "a write reached the API server"


# ---- framing and smuggling -----------------------------------------------------------

SMUGGLED = f"POST {{p}}{CM} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{{{}}}}"


def _smuggled(guard: Guarded) -> str:
    return SMUGGLED.format(p=prefix(guard))


@pytest.mark.parametrize(
    "headers",
    [
        ("Content-Length: 4", "Transfer-Encoding: chunked"),
        ("Transfer-Encoding: chunked", "Content-Length: 4"),
        ("Content-Length: 4", "Content-Length: 70"),
        ("Transfer-Encoding: chunked", "Transfer-Encoding: chunked"),
        ("Transfer-Encoding: chunked, identity",),
        ("Transfer-Encoding: identity",),
        ("Transfer-Encoding: xchunked",),
        ("Content-Length: +70",),
        ("Content-Length: 7\u00b2",),  # str.isdigit() is true for "²"
        ("Content-Length: 70, 70",),
        ("Transfer-Encoding : chunked",),
        (" Transfer-Encoding: chunked",),
    ],
)
def test_ambiguous_framing_is_refused_and_nothing_smuggled_arrives(
    attacked: Guarded, headers: tuple[str, ...]
) -> None:
    body = f"0\r\n\r\n{_smuggled(attacked)}".encode()
    answer = exchange(attacked, head(attacked, f"GET {CM}", *headers, body=body))
    assert statuses(answer) == [400]


@pytest.mark.parametrize(
    "chunks",
    [
        "0x5\r\nhello\r\n0\r\n\r\n",  # Python's int(x, 16) takes 0x, Go does not
        " 5\r\nhello\r\n0\r\n\r\n",
        "5 ;x\r\nhello\r\n0\r\n\r\n",
        "5\r\nhelloXY0\r\n\r\n",  # no CRLF after the data
        '5;ext="a"\r\nhello\r\n0;last\r\nTrailer: x\r\n\r\n',
        "5\nhello\n0\n\n",  # bare LF
        "0\r\n \r\n\r\n",  # a trailer line of one space
        "0\r\nX: y\r\n \r\n\r\n",
        "0\r\nX: y\r\n",  # trailers never ended: the smuggled head is read as trailers
        "ffffffffffffffffff\r\n",  # beyond 64 bits
    ],
)
def test_odd_chunked_bodies_smuggle_no_write(attacked: Guarded, chunks: str) -> None:
    """The guard and kubectl proxy (Go) must agree on where a chunked GET ends."""
    data = head(attacked, f"GET {CM}", "Transfer-Encoding: chunked", "Connection: close")
    exchange(attacked, data + chunks.encode() + _smuggled(attacked).encode())


def test_a_pipelined_write_behind_a_read_is_judged_on_its_own(attacked: Guarded) -> None:
    read = head(attacked, f"GET {CM}")
    write = head(attacked, f"POST {CM}", "Content-Length: 2", body=b"{}")
    answer = exchange(attacked, read + write + read)
    assert statuses(answer) == [200, 403]  # the write's body is never read: the guard hangs up
    assert [r.method for r in attacked.server.requests] == ["GET"]


@pytest.mark.parametrize(
    "line",
    [
        "POST http://127.0.0.1{p}{cm} HTTP/1.1",  # absolute form
        "POST //{p}{cm} HTTP/1.1",
        "POST {p}//api/v1/namespaces/shop/configmaps HTTP/1.1",
        "POST {p}/api/v1/namespaces/shop/pods/x/..%2f..%2fconfigmaps HTTP/1.1",
        "POST {p}/api/v1/namespaces/shop/pods/x/%2e%2e/%2e%2e/configmaps HTTP/1.1",
        "POST {p}/api/v1/namespaces/shop/configmaps%zz HTTP/1.1",
        "post {p}{cm} HTTP/1.1",
        "Post {p}{cm} HTTP/1.1",
        "POST {p}{cm} HTTP/1.0",
        "POST {p}{cm} HTTP/2.0",
        "PRI * HTTP/2.0",
        "POST  {p}{cm} HTTP/1.1",
        "POST {p}{cm}\tHTTP/1.1",
    ],
)
def test_odd_request_lines_are_refused(attacked: Guarded, line: str) -> None:
    start = line.format(p=prefix(attacked), cm=CM)
    data = f"{start}\r\nHost: x\r\nAuthorization: Bearer {attacked.token}\r\n\r\n".encode()
    assert statuses(exchange(attacked, data)) in ([400], [404])  # 404: no context at "//"


def test_http2_prior_knowledge_gets_no_write_through(attacked: Guarded) -> None:
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    assert statuses(exchange(attacked, preface)) == [400]


@pytest.mark.parametrize("method", ["PROPFIND", "MKCOL", "TRACE", "CONNECT", "PURGE", "LINK"])
def test_unknown_methods_are_writes(attacked: Guarded, method: str) -> None:
    answer = exchange(attacked, head(attacked, f"{method} {CM}", "Connection: close"))
    assert statuses(answer) == [403]


@pytest.mark.parametrize(
    "override", ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"]
)
def test_method_override_headers_are_refused(attacked: Guarded, override: str) -> None:
    """kube-apiserver ignores them; a gateway behind kubectl proxy (Rancher...) may not."""
    answer = exchange(attacked, head(attacked, f"GET {POD}", f"{override}: DELETE"))
    assert statuses(answer) == [400]


def test_a_method_override_naming_the_method_itself_is_harmless(attacked: Guarded) -> None:
    data = head(attacked, f"GET {CM}", "X-HTTP-Method-Override: get", "Connection: close")
    assert statuses(exchange(attacked, data)) == [200]


# ---- upgrades and proxies -----------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "upgrade"),
    [
        (f"POST {CM}", "websocket"),
        (f"GET {CM}?watch=1", "websocket"),
        (f"GET {CM}", "h2c"),
        (f"GET {POD}/exec?command=sh", "SPDY/3.1"),
        (f"GET {POD}/attach", "websocket"),
        (f"GET {POD}%2Fexec?command=sh", "websocket"),
        (
            "POST /apis/evil.example/v1/namespaces/shop/things/x/portforward",
            "SPDY/3.1",
        ),
    ],
)
def test_upgrades_outside_port_forward_are_writes(
    attacked: Guarded, line: str, upgrade: str
) -> None:
    headers = ("Connection: Upgrade, HTTP2-Settings", f"Upgrade: {upgrade}", "Connection: close")
    assert statuses(exchange(attacked, head(attacked, line, *headers))) == [403]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/shop/services/web:80/proxy/admin/drop",
        "/api/v1/namespaces/shop/services/https:web:443/proxy/",
        "/api/v1/namespaces/shop/pods/web-0/proxy/shutdown",
        "/api/v1/namespaces/shop/pods/web-0:8080/proxy",
        "/api/v1/nodes/n1/proxy/configz",
        "/api/v1/namespaces/shop/services/web%3A80/pro%78y/",
        # the old forms, gone from kube-apiserver, still not a way past the guard
        "/api/v1/proxy/namespaces/shop/services/web/admin",
        "/api/v1/redirect/namespaces/shop/services/web",
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_a_read_through_a_proxy_subresource_is_a_write(
    attacked: Guarded, path: str, method: str
) -> None:
    """A GET relayed to an in-cluster service can be a write to that service."""
    answer = exchange(attacked, head(attacked, f"{method} {path}", "Connection: close"))
    assert statuses(answer) == [403]


# ---- dry runs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["dryRun=All&dryRun=", "dryRun=all", "dryrun=All", "dryRun=All,All", "dryRun=All;", "dryRun"],
)
def test_a_dry_run_the_server_would_not_honour_is_a_write(attacked: Guarded, query: str) -> None:
    data = head(attacked, f"POST {CM}?{query}", "Content-Length: 2", body=b"{}")
    assert statuses(exchange(attacked, data)) == [403]


def test_a_delete_with_a_body_ignores_the_query_s_dry_run(attacked: Guarded) -> None:
    """kube-apiserver reads a DELETE's options from its body when there is one.

    ``DELETE ...?dryRun=All`` with the body ``{}`` deletes for real: the query is
    not read at all (``handlers/delete.go``).
    """
    body = json.dumps({"kind": "DeleteOptions", "apiVersion": "v1"}).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    for framing, payload in (
        (f"Content-Length: {len(body)}", body),
        ("Transfer-Encoding: chunked", chunked),
    ):
        data = head(attacked, f"DELETE {POD}?dryRun=All", framing, body=payload)
        answer = exchange(attacked, data)
        assert statuses(answer) == [403]
        assert b"DELETE deletes" in answer


def test_a_bodiless_delete_dry_run_still_passes(fresh: Guarded) -> None:
    data = head(fresh, f"DELETE {POD}?dryRun=All", "Connection: close")
    assert statuses(exchange(fresh, data)) == [200]
    assert [(r.method, r.query.get("dryRun")) for r in fresh.server.requests] == [
        ("DELETE", ["All"])
    ]


@pytest.mark.parametrize(
    "path",
    [
        # TokenRequest ignores dryRun: a "dry run" mints a live service account token
        "/api/v1/namespaces/shop/serviceaccounts/default/token",
        "/api/v1/namespaces/kube-system/serviceaccounts/admin/token",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        "/api/v1/namespaces/shop/pods/web-0/unknownsub",
    ],
)
def test_dry_run_is_not_trusted_where_the_server_ignores_it(attacked: Guarded, path: str) -> None:
    body = b'{"spec":{"audiences":["x"]}}'
    data = head(attacked, f"POST {path}?dryRun=All", f"Content-Length: {len(body)}", body=body)
    assert statuses(exchange(attacked, data)) == [403]


# ---- prefixes and tokens ------------------------------------------------------------


def test_prefix_and_token_tricks(attacked: Guarded) -> None:
    context_id = prefix(attacked)[1:]
    token = attacked.token
    attempts = {
        f"POST {CM}": None,  # no prefix
        f"POST /{context_id[:-1]}{CM}": None,  # a prefix of the real id
        f"POST /{context_id}x{CM}": None,
        f"POST /{context_id.upper()}{CM}": None,
        f"POST /%{context_id.encode().hex()[:2]}{context_id[1:]}{CM}": None,
    }
    for line in attempts:
        method, _, path = line.partition(" ")
        data = (
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            "Content-Length: 2\r\n\r\n{}"
        ).encode()
        assert statuses(exchange(attacked, data)) == [404], line
    for headers in (
        (),
        (f"Authorization: Bearer {token}x",),
        (f"Authorization: bearer {token}",),
        (f"Authorization: Bearer {token}", f"Authorization: Bearer {token}"),
        ("Authorization: Bearer real-upstream-token",),
    ):
        lines = [f"POST {prefix(attacked)}{CM}?access_token={token} HTTP/1.1", "Host: x"]
        data = ("\r\n".join([*lines, *headers, "Content-Length: 2", "", ""])).encode() + b"{}"
        assert statuses(exchange(attacked, data)) == [401], headers


# ---- namespaces ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop_only(
    upstream: FakeAPIServer, kubectl: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Guarded]:
    """A guard whose policy protects only the namespace ``shop`` of ``prod``."""
    policy = "rules:\n  - context: prod\n    namespaces: [shop]\n"
    directory = tmp_path_factory.mktemp("shop-only")
    with Guarded(directory, upstream, kubectl, policy=policy) as started:
        yield started


@pytest.mark.parametrize(
    "namespace", ["shop;x=y", "SHOP", "Shop", "shop%3B", "shop%20", "shop.", "-shop", "s" * 64]
)
def test_a_namespace_no_namespace_can_be_named_reaches_every_namespace(
    shop_only: Guarded, namespace: str
) -> None:
    """Only a valid name is trusted to be the namespace a write reaches."""
    shop_only.close_lift()
    shop_only.server.clear()
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    data = head(shop_only, f"POST {path}", "Content-Length: 2", body=b"{}")
    assert statuses(exchange(shop_only, data)) == [403]
    assert changes(shop_only.server) == []


def test_a_write_to_another_namespace_still_passes(shop_only: Guarded) -> None:
    shop_only.server.clear()
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    data = head(
        shop_only,
        "POST /api/v1/namespaces/dev/configmaps",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
        body=body.encode(),
    )
    assert statuses(exchange(shop_only, data))[0] in (200, 201)
    assert [r.method for r in shop_only.server.requests] == ["POST"]


# ---- the same with real clients -----------------------------------------------------


def test_real_clients_cannot_delete_or_mint_tokens_behind_a_dry_run(attacked: Guarded) -> None:
    """The Python client sends DeleteOptions in the body when given one: the query's
    dryRun is then ignored by the server; curl does what it is told."""
    from kubernetes import client, config

    api_client = config.new_client_from_config(
        config_file=str(attacked.kubeconfig), context="prod", persist_config=False
    )
    core = client.CoreV1Api(api_client)
    attempts = [
        lambda: core.delete_namespaced_pod(
            "web-0", "shop", dry_run="All", body=client.V1DeleteOptions()
        ),
        lambda: core.delete_collection_namespaced_pod(
            "shop", dry_run="All", body=client.V1DeleteOptions(grace_period_seconds=0)
        ),
        lambda: core.create_namespaced_service_account_token(
            "default",
            "shop",
            client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=["x"])),
            dry_run="All",
        ),
    ]
    for attempt in attempts:
        with pytest.raises(client.ApiException) as refused:
            attempt()
        assert refused.value.status == 403
        assert "kubesafe guard refused" in json.loads(refused.value.body)["message"]
    api_client.close()
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "--cacert",
            attacked.layout.ca,
            "-H",
            f"Authorization: Bearer {attacked.token}",
            "-H",
            "Content-Type: application/json",
            "-X",
            "DELETE",
            "--data",
            "{}",
            "-w",
            "\n%{http_code}",
            f"{attacked.url}{POD}?dryRun=All",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.rsplit("\n", 1)[1] == "403"


def test_kubectl_raw_delete_with_a_body_behind_a_dry_run_is_refused(
    attacked: Guarded, tmp_path: Path
) -> None:
    """Real kubectl by absolute path: ``delete --raw URL?dryRun=All -f options``.

    ``--raw`` drops the server URL's path, so the context's prefix is given by hand.
    """
    options = tmp_path / "options.json"
    options.write_text(json.dumps({"kind": "DeleteOptions", "apiVersion": "v1"}))
    raw = f"{prefix(attacked)}{POD}?dryRun=All"
    done = attacked.kubectl_run("delete", "--raw", raw, "-f", str(options))
    assert done.returncode != 0
    assert "kubesafe guard refused DELETE" in done.stderr
    # without a body the query is what the server reads: a real dry run, passed
    attacked.server.clear()
    dry = attacked.kubectl_run("delete", "--raw", raw)
    assert dry.returncode == 0, dry.stderr
    assert [(r.method, r.query.get("dryRun"), r.body) for r in attacked.server.requests] == [
        ("DELETE", ["All"], b"")
    ]
    attacked.server.clear()
