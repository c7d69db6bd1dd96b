"""kubesafe/helm/table.py is exactly what the real helm binaries say about themselves."""

from __future__ import annotations

import pytest

from kubesafe.helm import table
from tests.helm.helm_help import merge
from tests.support.kubectl_binaries import helm_binary

pytestmark = pytest.mark.e2e


def test_table_matches_real_helm() -> None:
    helms = [str(helm_binary(minor)) for minor in (31, 33, 37)]
    fresh = merge(helms)
    assert tuple(fresh.versions) == table.HELM_VERSIONS
    assert fresh.global_flags == table.GLOBAL_FLAGS
    assert fresh.global_short == table.GLOBAL_SHORTHANDS
    assert fresh.commands == table.COMMANDS
    assert fresh.aliases == table.ALIASES


def test_table_covers_the_flags_the_issue_names() -> None:
    for name in ("kube-context", "kubeconfig", "namespace", "kube-apiserver", "kube-token"):
        assert table.GLOBAL_FLAGS[name] is True
    assert table.GLOBAL_SHORTHANDS["n"] == "namespace"
    # --dry-run has a no-option default: "--dry-run web" does not take "web" as its value.
    assert table.COMMANDS["upgrade"][0]["dry-run"] is False


HIDDEN_VALUES = {
    "log-backtrace-at": "a.go:1",
    "log-dir": "/tmp",
    "log-file": "/dev/null",
    "log-file-max-size": "1",
    "stderrthreshold": "1",
    "v": "1",
    "vmodule": "a=1",
}


@pytest.mark.parametrize("minor", [31, 37])
def test_hidden_global_flags_behave_as_the_table_says(minor: int, tmp_path: object) -> None:
    import subprocess

    from tests.helm.helm_help import HIDDEN_GLOBALS

    helm = str(helm_binary(minor))
    for name, takes in HIDDEN_GLOBALS.items():
        args = [f"--{name}", HIDDEN_VALUES[name]] if takes else [f"--{name}"]
        result = subprocess.run(
            [helm, *args, "env"],
            capture_output=True,
            text=True,
            timeout=30,
            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
            check=False,
        )
        assert "HELM_BIN" in result.stdout, (name, result.stderr)
