"""A self-contained world for running the ``kubesafe`` CLI in a subprocess."""

from __future__ import annotations

import os
from pathlib import Path


def cli_world(root: Path, config: str, policy: str) -> dict[str, str]:
    """The environment of a user under ``root``: one kubeconfig, one policy, no guard.

    ``PROBE`` names a file a test's runner script may write what it loaded to.
    """
    home = root / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text(config)
    (home / "policy.yaml").write_text(policy)
    return {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        "KUBECONFIG": str(home / ".kube" / "config"),
        "KUBESAFE_CONFIG": str(home / "policy.yaml"),
        "KUBESAFE_GUARD": "off",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(root / "cache"),
        "XDG_STATE_HOME": str(root / "state"),
        "PROBE": str(root / "probe"),
    }
