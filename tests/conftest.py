"""Every test runs with a private HOME, XDG directories and no KUBECONFIG.

A child process given a fresh environment (not a copy of ``os.environ``) should
carry ``KUBESAFE_CONFIG`` or ``KUBESAFE_POLICY_PIN``: without either, a kubesafe
that finds no policy rules falls back to the password database's home.

Nothing may read or write the real ~/.kube, user config or cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesafe import paths
from kubesafe.agents import AGENT_VARIABLES
from kubesafe.policy_location import PIN_VARIABLE

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
    # The policy falls back to the password database's home when HOME moves: point
    # it at the private home here, and pin the policy there for child processes
    # (a pin replaces that fallback), so no test sees the real user's policy.
    monkeypatch.setattr(paths, "account_home", lambda: str(home))
    monkeypatch.setenv(PIN_VARIABLE, str(home / ".config" / "kubesafe" / "config.yaml"))
    yield home
