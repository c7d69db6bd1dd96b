"""A 10,000-context kubeconfig: kubesafe's fast paths against real kubectl."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")


def test_ten_thousand_contexts_switch_like_kubectl(
    tmp_path: Path, kubectl33: Path, isolated_home: Path
) -> None:
    """Differential: after ``kubesafe ctx --global``, kubectl and explain agree on the target."""
    from benchmarks.kubeconfig_write import generate

    path = tmp_path / "config"
    path.write_text(generate(10_000))
    env = {
        **os.environ,
        "KUBECONFIG": str(path),
        "KUBESAFE_CONFIG": str(tmp_path / "policy.yaml"),
    }
    env.pop("KUBESAFE_SESSION", None)
    switched = subprocess.run(
        [KUBESAFE, "ctx", "ctx-4242"], env=env, capture_output=True, text=True, timeout=120
    )
    assert switched.returncode == 0, switched.stderr
    view = subprocess.run(
        [str(kubectl33), "config", "view", "--minify", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    kubectl = json.loads(view.stdout)
    explained = subprocess.run(
        [KUBESAFE, "explain", "--json", "--", "get", "pods"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    mine = json.loads(explained.stdout)
    assert mine["context"] == kubectl["current-context"] == "ctx-4242"
    assert mine["server"] == kubectl["clusters"][0]["cluster"]["server"]
    assert mine["namespace"] == kubectl["contexts"][0]["context"].get("namespace", "default")
