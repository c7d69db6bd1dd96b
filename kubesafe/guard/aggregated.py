"""Is a server-side dry run safe to pass? Only where the API server itself serves the group.

``dryRun=All`` persists nothing because kube-apiserver's own storage honours it:
the built-in groups and CRDs. A group served by an *aggregated* API server (an
``APIService`` with a ``service``: metrics-server, a vendor's extension server)
gets the request proxied as it is, and nothing makes that server honour
``dryRun``. kubectl once guarded against this too (its dry-run verifier, until
1.25). So for a group outside the built-in list the guard asks the cluster,
through the context's own kubectl proxy, for the group version's
``APIService``: no ``service`` means kube-apiserver serves it (a CRD or a
built-in), and the dry run passes as a read. Anything else, an aggregated
server, no such ``APIService``, no permission to read it, or no answer in
time, turns the dry run back into the write it would be if the server ignored
``dryRun``. Answers are remembered for ``TTL`` seconds per context; failures are
not remembered.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

from kubesafe.guard.http1 import MessageError, parse_response, response_framing
from kubesafe.guard.upstream import UpstreamError

# Groups kube-apiserver serves itself (kube-aggregator registers them as local
# APIServices and keeps them so): their dry runs need no question.
BUILT_IN_GROUPS = frozenset(
    {
        "",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "apps",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "extensions",
        "flowcontrol.apiserver.k8s.io",
        "internal.apiserver.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "resource.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
        "storagemigration.k8s.io",
    }
)
TTL = 60.0
TIMEOUT = 5.0
_MAX_BODY = 256 * 1024

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


def apiservice_path(group: str, version: str) -> str:
    return f"/apis/apiregistration.k8s.io/v1/apiservices/{version}.{group}"


def served_locally(status: int, body: bytes) -> tuple[bool, str]:
    """From the APIService lookup's answer: (kube-apiserver serves it, why not)."""
    if status == 404:
        return False, "no APIService registers it"
    if status in (401, 403):
        return False, "its APIService cannot be read with these credentials"
    if status != 200:
        return False, f"its APIService could not be read (HTTP {status})"
    try:
        document = json.loads(body)
    except ValueError:
        return False, "its APIService could not be read (not JSON)"
    spec = document.get("spec") if isinstance(document, dict) else None
    if not isinstance(spec, dict):
        return False, "its APIService has no spec"
    service = spec.get("service")
    if service is None:
        return True, ""
    if isinstance(service, dict):
        where = f"{service.get('namespace', '?')}/{service.get('name', '?')}"
        return False, f"an aggregated API server (service {where}) serves it"
    return False, "its APIService names an unknown kind of service"


async def _get(connect: Connect, path: str) -> tuple[int, bytes]:
    reader, writer = await connect()
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        await writer.drain()
        response = parse_response(await reader.readuntil(b"\r\n\r\n"))
        framing = response_framing(response, "GET")
        if framing.kind == "length" and framing.length <= _MAX_BODY:
            body = await reader.readexactly(framing.length)
        elif framing.kind == "none":
            body = b""
        else:  # chunked or until EOF: an APIService is small; anything big is not one
            body = await reader.read(_MAX_BODY)
        return response.status, body
    finally:
        writer.close()


class DryRunCheck:
    """Remembers, per context, which group versions kube-apiserver serves itself."""

    def __init__(self, ttl: float = TTL, timeout: float = TIMEOUT) -> None:
        self.ttl = ttl
        self.timeout = timeout
        self._known: dict[tuple[str, str, str], tuple[float, bool, str]] = {}

    async def why_not(self, context: str, connect: Connect, group: str, version: str) -> str:
        """"" when a dry run to ``group/version`` may pass as a read, else why not."""
        if group in BUILT_IN_GROUPS:
            return ""
        key = (context, group, version)
        known = self._known.get(key)
        now = time.monotonic()
        if known is not None and known[0] > now:
            return "" if known[1] else known[2]
        try:
            status, body = await asyncio.wait_for(
                _get(connect, apiservice_path(group, version)), self.timeout
            )
        except (OSError, MessageError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return "its APIService could not be read (the API server did not answer)"
        except (TimeoutError, asyncio.TimeoutError):
            return "its APIService could not be read in time"
        except UpstreamError as exc:
            return f"its APIService could not be read: {exc}"
        local, why = served_locally(status, body)
        if status in (200, 404):  # definite answers; credentials or outages may change
            self._known[key] = (now + self.ttl, local, why)
        return "" if local else why
