"""Real kubectl 1.31/1.33/1.37 run no command for an unknown word after a command group.

kubesafe classifies ``kubectl rollout frobnicate`` (and the like) as a write, in case
a newer kubectl gives the word a meaning; this checks that today's kubectl only
errors (or prints its help, or for ``alpha`` says it has no commands), so that costs nothing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kubesafe.classification import WRITE
from kubesafe.kubectl.args import parse
from kubesafe.kubectl.classify import classify

pytestmark = pytest.mark.e2e

GROUPS = ["alpha", "auth", "certificate", "config", "plugin", "rollout", "top", "set"]


@pytest.mark.parametrize("fixture", ["kubectl31", "kubectl33", "kubectl37"])
def test_unknown_group_words_run_nothing_in_real_kubectl(
    fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    kubectl: Path = request.getfixturevalue(fixture)
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "KUBECONFIG": str(tmp_path / "none")}
    for group in GROUPS:
        argv = [group, "frobnicate"]
        result = subprocess.run(
            [str(kubectl), *argv], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        output = result.stdout + result.stderr
        if group == "alpha":
            assert "No alpha commands are available" in output, output
        elif group == "certificate":
            assert "Available Commands:" in output, output  # only its help
        else:
            assert result.returncode != 0 and 'unknown command "frobnicate"' in output, output
        assert classify(parse(argv).primary).category == WRITE, group
