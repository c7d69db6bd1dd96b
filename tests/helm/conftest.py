"""helm's own environment variables must not leak into tests from the developer's shell."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def no_helm_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HELM_"):
            monkeypatch.delenv(name, raising=False)
