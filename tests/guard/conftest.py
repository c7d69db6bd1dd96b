"""A guard in front of the HTTPS fake API server, shared by the e2e guard tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_apiserver import FakeAPIServer, FakeResponse, RecordedRequest
from tests.support.guard_harness import REAL_TOKEN, Guarded
from tests.support.kubectl_binaries import helm_binary, kubectl_binary

REVIEWS = ("selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews")


def answer_reviews(request: RecordedRequest) -> FakeResponse | None:
    """The fake server knows no reviews: answer them as an API server would.

    kubectl sends them as protobuf; the answer may be JSON all the same.
    """
    if request.method != "POST" or request.resource not in REVIEWS:
        return None
    group = (
        "authentication.k8s.io"
        if request.resource == "selfsubjectreviews"
        else "authorization.k8s.io"
    )
    body: dict[str, object] = {"apiVersion": f"{group}/v1", "metadata": {}, "spec": {}}
    if request.resource == "selfsubjectreviews":
        body["kind"] = "SelfSubjectReview"
        body["status"] = {"userInfo": {"username": "alice", "groups": ["system:authenticated"]}}
    else:
        body["kind"] = "SelfSubjectAccessReview"
        body["status"] = {"allowed": True, "reason": "fake"}
    return FakeResponse(201, body)


@pytest.fixture(scope="session")
def kubectl() -> Path:
    return kubectl_binary(33)


@pytest.fixture(scope="session")
def helm() -> Path:
    return helm_binary(33)


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeAPIServer]:
    with FakeAPIServer(tls=True, require_token=REAL_TOKEN) as server:
        server.intercept(answer_reviews)
        server.add_pod("c-prod", "shop", "web-0")
        yield server


@pytest.fixture(scope="module")
def guard(
    upstream: FakeAPIServer, kubectl: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Guarded]:
    with Guarded(tmp_path_factory.mktemp("guard"), upstream, kubectl) as started:
        yield started


@pytest.fixture
def fresh(guard: Guarded) -> Guarded:
    """The shared guard with no lift open and an empty request record."""
    guard.close_lift()
    guard.server.clear()
    return guard
