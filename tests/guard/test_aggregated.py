"""Server-side dry runs pass the guard only where kube-apiserver itself serves the group.

An aggregated API server (an APIService with a service) gets the request proxied
as it is and need not honour ``dryRun``: there the dry run is the write it may be.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesafe.classification import DESTRUCTIVE, READ, WRITE
from kubesafe.guard.access import classify_request
from kubesafe.guard.aggregated import apiservice_path, served_locally
from kubesafe.guard.gate import lift_command
from tests.guard.test_clients import curl
from tests.support.fake_apiserver import FakeResponse, RecordedRequest
from tests.support.guard_harness import Guarded

pytestmark = pytest.mark.e2e

WIDGETS = "/apis/widgets.example.com/v1/namespaces/shop/widgets"
METRICS = "/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods"
SECRETS = "/apis/secrets.example.org/v1/namespaces/shop/vaults"


def _apiservice(service: dict[str, object] | None) -> dict[str, object]:
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "x"},
        "spec": {"service": service, "group": "x", "version": "v1"},
    }


@pytest.mark.parametrize(
    ("status", "body", "local", "words"),
    [
        (200, _apiservice(None), True, ""),
        (200, _apiservice({"namespace": "kube-system", "name": "metrics"}), False, "kube-system"),
        (404, {"kind": "Status"}, False, "no APIService"),
        (403, {"kind": "Status"}, False, "cannot be read with these credentials"),
        (500, {"kind": "Status"}, False, "HTTP 500"),
        (200, "not json", False, "not JSON"),
        (200, ["a list"], False, "no spec"),
        (200, {"spec": {"service": "odd"}}, False, "unknown kind"),
    ],
)
def test_what_an_apiservice_answer_means(
    status: int, body: object, local: bool, words: str
) -> None:
    encoded = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    found, why = served_locally(status, encoded)
    assert found is local and words in why


@pytest.mark.parametrize(
    ("method", "path", "check", "fallback"),
    [
        ("POST", "/api/v1/namespaces/shop/configmaps", None, WRITE),
        ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/web", None, WRITE),
        ("POST", WIDGETS, ("widgets.example.com", "v1"), WRITE),
        ("DELETE", METRICS + "/p", ("metrics.k8s.io", "v1beta1"), DESTRUCTIVE),
    ],
)
def test_dry_runs_outside_the_built_in_groups_are_to_be_checked(
    method: str, path: str, check: tuple[str, str] | None, fallback: str
) -> None:
    access = classify_request(method, path, "dryRun=All", None)
    assert access.category == READ
    assert access.dry_run_api == check and access.fallback == fallback


def test_a_dry_run_to_a_path_that_is_no_resource_is_no_read() -> None:
    assert classify_request("POST", "/metrics", "dryRun=All", None).category == WRITE
    assert classify_request("POST", "/apis", "dryRun=All", None).category == WRITE


def _apiservices(request: RecordedRequest) -> FakeResponse | None:
    if request.method != "GET" or "/apiregistration.k8s.io/v1/apiservices/" not in request.path:
        return None
    name = request.path.rsplit("/", 1)[1]
    if name == "v1.widgets.example.com":
        return FakeResponse(body=_apiservice(None))
    if name == "v1beta1.metrics.k8s.io":
        return FakeResponse(body=_apiservice({"namespace": "kube-system", "name": "metrics"}))
    if name == "v1.secrets.example.org":
        return FakeResponse(403, {"kind": "Status", "reason": "Forbidden"})
    return FakeResponse(404, {"kind": "Status", "reason": "NotFound"})


def _created(request: RecordedRequest) -> FakeResponse | None:
    # The fake server knows no such kinds: answer the dry runs that get through.
    if request.method == "POST" and request.path.startswith(("/apis/widgets.", "/apis/metrics.")):
        return FakeResponse(201, {"kind": "Widget", "apiVersion": "x/v1", "metadata": {}})
    return None


@pytest.fixture
def aggregated(fresh: Guarded) -> Iterator[Guarded]:
    removers = [fresh.server.intercept(_apiservices), fresh.server.intercept(_created)]
    yield fresh
    for remove in removers:
        remove()


def _post(guard: Guarded, path: str) -> tuple[int, str]:
    return curl(
        guard,
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"apiVersion":"x/v1","kind":"Widget","metadata":{"name":"w"}}',
        f"{guard.url}{path}?dryRun=All",
        token=guard.token,
    )


def _arrived(guard: Guarded, path: str) -> list[RecordedRequest]:
    return [r for r in guard.server.requests if r.method == "POST" and r.path.endswith(path)]


def test_a_dry_run_to_a_crd_group_passes_after_one_apiservice_lookup(
    aggregated: Guarded,
) -> None:
    for _ in range(3):
        code, body = _post(aggregated, WIDGETS)
        assert code == 201, body
    assert len(_arrived(aggregated, "/widgets")) == 3
    lookups = [r.path for r in aggregated.server.requests if "apiservices" in r.path]
    assert lookups == [apiservice_path("widgets.example.com", "v1")]


@pytest.mark.parametrize(
    ("path", "words"),
    [
        (METRICS, "an aggregated API server (service kube-system/metrics) serves it"),
        (SECRETS, "cannot be read with these credentials"),
        ("/apis/nothing.example.net/v1/namespaces/shop/things", "no APIService registers it"),
    ],
)
def test_a_dry_run_the_guard_cannot_trust_is_refused_like_the_write(
    aggregated: Guarded, path: str, words: str
) -> None:
    code, body = _post(aggregated, path)
    status = json.loads(body)
    assert code == 403 and status["reason"] == "Forbidden", body
    assert words in status["message"] and "is not trusted" in status["message"]
    assert lift_command("prod") in status["message"]
    assert _arrived(aggregated, path.rsplit("/", 1)[1]) == []


def test_under_a_lift_the_untrusted_dry_run_goes_through_and_is_audited(
    aggregated: Guarded,
) -> None:
    aggregated.open_lift(reason="metrics check")
    code, body = _post(aggregated, METRICS)
    assert code == 201, body
    assert len(_arrived(aggregated, "/pods")) == 1
    audit = Path(aggregated.env["XDG_STATE_HOME"]) / "kubesafe" / "audit.jsonl"
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    [entry] = [
        e
        for e in entries
        if e["decision"] == "forwarded-under-lift" and e.get("path", "").startswith(METRICS)
    ]
    assert entry["lift_reason"] == "metrics check" and entry["status"] == 201
