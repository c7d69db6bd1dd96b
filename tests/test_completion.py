"""TAB completion of kubesafe's own arguments: contexts, cached namespaces, versions.

Driven the way the shell scripts in completions/ drive it (``_KUBESAFE_COMPLETE``),
so the click wiring is tested too, not just the name functions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubesafe import paths
from kubesafe.versions.server_cache import ServerVersions

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
KUBECONFIG = """\
current-context: dev
contexts:
- {name: dev, context: {cluster: c, user: u}}
- {name: prod-eu, context: {cluster: c, user: u}}
- {name: prod-us, context: {cluster: c, user: u}}
clusters:
- {name: c, cluster: {server: "https://127.0.0.1:9"}}
users:
- {name: u, user: {}}
"""


def _complete(words: str, env: dict[str, str]) -> list[str]:
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    result = subprocess.run(
        [KUBESAFE],
        env={
            **env,
            "_KUBESAFE_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(cword),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.split(",", 1)[1] for line in result.stdout.splitlines() if line]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "config").write_text(KUBECONFIG)
    return {**os.environ, "KUBECONFIG": str(tmp_path / "config")}


def test_context_names(env: dict[str, str]) -> None:
    assert _complete("kubesafe ctx prod", env) == ["prod-eu", "prod-us"]
    assert _complete("kubesafe ctx ", env) == ["dev", "prod-eu", "prod-us"]


def test_namespace_names_come_from_the_cache_only(env: dict[str, str]) -> None:
    """No cache: nothing (and no request to the unreachable server, which would hang)."""
    assert _complete("kubesafe ns ", env) == []
    import marshal
    import time

    from kubesafe import namespaces

    # What a refresh stores (namespaces.refresh_namespaces, tested against a fake server).
    target = namespaces._target("dev", env)
    payload = {"key": namespaces._key(target), "time": time.time(), "namespaces": ["payments"]}
    paths.write_private(namespaces._cache_file(target), marshal.dumps(payload))
    assert _complete("kubesafe ns pa", env) == ["payments"]


def test_version_names(env: dict[str, str]) -> None:
    versions = ServerVersions()
    versions.record("https://127.0.0.1:9", "v1.33.4-eks-1234")
    versions.save()
    store = Path(paths.cache_dir()) / "kubectl" / "v1.31.2"
    store.mkdir(parents=True)
    binary = store / "kubectl"
    binary.write_text("#!/bin/sh\necho fake\n")
    binary.chmod(0o755)
    names = _complete("kubesafe versions install ", env)
    assert "1.33.4" in names and "v1.31.2" in names
    assert _complete("kubesafe versions install 1.3", env) == ["1.31.2", "1.33.4"]
