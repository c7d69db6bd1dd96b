"""What the per-terminal guard costs, side by side in one run against one fake API server.

Usage: .venv/bin/python benchmarks/guard.py [--repeats N] [--watches N]

The HTTPS fake API server (tests.support.fake_apiserver, requiring a token) is reached
directly and through a real guard (``python -m kubesafe.guard serve`` with real kubectl
1.33 as its ``kubectl proxy``), alternately:

1. median latency of a GET of one pod on a kept-alive connection (budget: +2 ms);
2. a LIST of 5,000 pods, as throughput (budget: at least 90 % of direct);
3. the guard's resident memory before and after streaming those LISTs and a long
   watch (budget: flat, +10 MiB at most);
4. N (default 200) concurrent watches held open, then one new pod: the time until
   every watch has seen it (no budget: both numbers are printed; all N must arrive).
"""

from __future__ import annotations

import argparse
import http.client
import socket
import ssl
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import (  # noqa: E402
    BenchmarkError,
    Row,
    added_at_most,
    markdown_table,
    ratio_at_least,
    row,
    run_main,
)
from tests.support.fake_apiserver import (  # noqa: E402
    FakeAPIServer,
    FakeResponse,
    self_signed_certificate,
)
from tests.support.guard_harness import REAL_TOKEN, Guarded  # noqa: E402
from tests.support.kubectl_binaries import kubectl_binary  # noqa: E402

BENCHMARK = "guard"
LIST_SIZE = 5000


class Endpoint:
    def __init__(self, port: int, prefix: str, token: str, ca: str) -> None:
        self.port, self.prefix, self.token = port, prefix, token
        self.context = ssl.create_default_context(cafile=ca)

    def connection(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context)

    def get(self, conn: http.client.HTTPSConnection, path: str) -> bytes:
        conn.request("GET", self.prefix + path, headers={"Authorization": f"Bearer {self.token}"})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise BenchmarkError(f"GET {path}: {response.status} {body[:200]!r}")
        return body


def _latency(endpoint: Endpoint, count: int) -> list[float]:
    conn = endpoint.connection()
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        endpoint.get(conn, "/api/v1/namespaces/shop/pods/web-0")
        samples.append((time.perf_counter() - start) * 1000)
    conn.close()
    return samples


def _throughput(endpoint: Endpoint) -> float:
    conn = endpoint.connection()
    start = time.perf_counter()
    size = len(endpoint.get(conn, "/api/v1/namespaces/bulk/pods"))
    elapsed = time.perf_counter() - start
    conn.close()
    return size / elapsed / 1e6


def _watch_socket(endpoint: Endpoint) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", endpoint.port))
    sock = endpoint.context.wrap_socket(raw, server_hostname="127.0.0.1")
    path = f"{endpoint.prefix}/api/v1/namespaces/watched/pods?watch=1&timeoutSeconds=120"
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {endpoint.token}\r\n\r\n".encode()
    )
    return sock


def _read_until(sock: ssl.SSLSocket, marker: bytes, seen: bytes = b"") -> bytes:
    while marker not in seen:
        data = sock.recv(65536)
        if not data:
            raise BenchmarkError("a watch ended early")
        seen += data
    return seen


def _fan_out(server: FakeAPIServer, endpoint: Endpoint, watches: int, name: str) -> float:
    """Open ``watches`` watches, add a pod, and time until all have seen it (ms)."""
    sockets = [_watch_socket(endpoint) for _ in range(watches)]
    try:
        for sock in sockets:
            _read_until(sock, b"seed-pod")  # the initial ADDED event: the watch is live
        start = time.perf_counter()
        server.add_pod("c-prod", "watched", name)
        for sock in sockets:
            _read_until(sock, name.encode())
        return (time.perf_counter() - start) * 1000
    finally:
        for sock in sockets:
            sock.close()


def measure(repeats: int = 5, quick: bool = False, watches: int = 200) -> list[Row]:
    kubectl = kubectl_binary(33)
    requests_per_round = 50 if quick else 200
    if quick:
        watches = min(watches, 20)
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeAPIServer(tls=True, require_token=REAL_TOKEN) as server,
    ):
        server.add_pod("c-prod", "shop", "web-0")
        server.add_pod("c-prod", "watched", "seed-pod")
        for index in range(LIST_SIZE):
            server.add_pod("c-prod", "bulk", f"pod-{index:05d}", labels={"app": "bulk"})
        with Guarded(Path(tmp), server, kubectl) as guard:
            direct = Endpoint(server.port, "/c-prod", REAL_TOKEN, str(self_signed_certificate()[0]))
            guarded = Endpoint(
                guard.port, "/" + guard.url.rsplit("/", 1)[1], guard.token, guard.layout.ca
            )
            for endpoint in (direct, guarded):  # warm up connections, TLS, kubectl proxy
                _latency(endpoint, 20)
            direct_ms: list[float] = []
            guard_ms: list[float] = []
            for _ in range(repeats):
                direct_ms += _latency(direct, requests_per_round)
                guard_ms += _latency(guarded, requests_per_round)
            rss_before = guard.rss_kib() / 1024
            direct_mbs, guard_mbs = [], []
            for _ in range(max(2, repeats // 2 if quick else repeats)):
                direct_mbs.append(_throughput(direct))
                guard_mbs.append(_throughput(guarded))
            rss_after = guard.rss_kib() / 1024
            # The same LIST as pre-encoded bytes: the fake server at wire speed, so what
            # is left is the guard's (and its kubectl proxy's) own ceiling.
            body = direct.get(direct.connection(), "/api/v1/namespaces/bulk/pods")
            remove = server.intercept(
                lambda request: FakeResponse(body=body)
                if request.path.endswith("/namespaces/bulk/pods")
                else None
            )
            canned_direct, canned_guard = [], []
            try:
                for _ in range(max(2, repeats // 2 if quick else repeats)):
                    canned_direct.append(_throughput(direct))
                    canned_guard.append(_throughput(guarded))
            finally:
                remove()
            fan_direct = _fan_out(server, direct, watches, "new-direct")
            fan_guard = _fan_out(server, guarded, watches, "new-guard")
            rss_watches = guard.rss_kib() / 1024
    return [
        row(
            BENCHMARK,
            "GET one pod through the guard",
            "GET one pod direct",
            direct_ms,
            guard_ms,
            "ms",
            added_at_most(2, "ms"),
        ),
        row(
            BENCHMARK,
            f"LIST {LIST_SIZE} pods through the guard",
            f"LIST {LIST_SIZE} pods direct",
            direct_mbs,
            guard_mbs,
            "MB/s",
            ratio_at_least(0.9),
        ),
        row(
            BENCHMARK,
            f"LIST {LIST_SIZE} pods pre-encoded (server at wire speed) through the guard",
            f"LIST {LIST_SIZE} pods pre-encoded direct",
            canned_direct,
            canned_guard,
            "MB/s",
        ),
        row(
            BENCHMARK,
            "guard RSS after streaming the LISTs",
            "guard RSS before",
            [rss_before],
            [rss_after],
            "MiB",
            added_at_most(10, "MiB"),
        ),
        row(
            BENCHMARK,
            f"{watches} watches through the guard: all see a new pod",
            f"{watches} watches direct",
            [fan_direct],
            [fan_guard],
            "ms",
        ),
        row(
            BENCHMARK,
            f"guard RSS holding {watches} watches",
            "guard RSS before",
            [rss_before],
            [rss_watches],
            "MiB",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--watches", type=int, default=200)
    args = parser.parse_args()
    print("guard vs direct, fake API server over HTTPS, kubectl 1.33 proxy upstream\n")
    print(markdown_table(measure(args.repeats, watches=args.watches)))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
