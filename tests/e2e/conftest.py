"""Fixtures for tests that run real kubectl binaries against a fake API server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_apiserver import FakeAPIServer
from tests.support.kubectl_binaries import kubectl_binary


@pytest.fixture(scope="session")
def kubectl33() -> Path:
    return kubectl_binary(33)


@pytest.fixture(scope="session")
def kubectl37() -> Path:
    return kubectl_binary(37)


@pytest.fixture(scope="session")
def kubectl31() -> Path:
    return kubectl_binary(31)


@pytest.fixture(scope="session")
def apiserver() -> Iterator[FakeAPIServer]:
    with FakeAPIServer() as server:
        yield server


@pytest.fixture(scope="session")
def tls_apiserver() -> Iterator[FakeAPIServer]:
    """HTTPS: client-go only sends a kubeconfig user's credentials to https servers."""
    with FakeAPIServer(tls=True) as server:
        yield server
