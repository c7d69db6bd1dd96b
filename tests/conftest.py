"""Every test runs with a private HOME, XDG directories and no KUBECONFIG.

Nothing may read or write the real ~/.kube, user config or cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesafe.agents import AGENT_VARIABLES

_CLEARED_PREFIXES = (
    "KUBESAFE_",
    "KUBECONFIG",
    "KUBERNETES_",
    "XDG_",
    "POD_NAMESPACE",
    "NO_COLOR",
    "HELM_",
    "KUBECTX_",
)


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith(_CLEARED_PREFIXES) and name != "KUBESAFE_TEST_CACHE":
            monkeypatch.delenv(name, raising=False)
    # A developer running the suite from a coding agent's shell must get the same
    # results as CI: the agent's markers would refuse every confirmation.
    for name in AGENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # No per-terminal guard processes from unit tests that start a session; the guard's
    # own tests turn it on (KUBESAFE_GUARD=on) in the environment they build.
    monkeypatch.setenv("KUBESAFE_GUARD", "off")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    yield home
