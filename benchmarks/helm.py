"""What ``kubesafe helm`` adds to a helm call, measured side by side in one run.

Usage: .venv/bin/python benchmarks/helm.py [--repeats N]

Real helm (from the kubectl 1.33 test wheel), run alternately (A B A B ...) directly and
through ``kubesafe helm`` with ``KUBESAFE_HELM`` pointing at it:

1. ``helm version`` (local: no cluster, passes straight through);
2. ``helm list --kube-context prod`` on a protected context: a read against the fake API
   server (tests.support.fake_apiserver) on 127.0.0.1, so helm really lists its releases.

The kubeconfig and policy are settled first so kubesafe's parsed-file cache is warm, as it
is for every call but the first after a change. Medians over the repeats. Budget: the
shim's +20 ms, as for kubectl.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.hot_path import KUBESAFE, pair  # noqa: E402
from benchmarks.report import Row, markdown_table, run_main  # noqa: E402
from tests.support.fake_apiserver import FakeAPIServer, write_kubeconfig  # noqa: E402
from tests.support.kubectl_binaries import helm_binary  # noqa: E402

BENCHMARK = "helm"


def make_env(directory: Path, server: FakeAPIServer, helm: Path) -> dict[str, str]:
    """Context ``prod`` (protected by the policy) and ``dev`` (current), as a user has them."""
    config = server.kubeconfig("c-prod", context="prod", namespace="shop")
    dev = server.kubeconfig("c-dev", context="dev")
    config["clusters"] += dev["clusters"]
    config["contexts"] += dev["contexts"]
    config["current-context"] = "dev"
    write_kubeconfig(directory / "kubeconfig", config)
    (directory / "policy.yaml").write_text("rules:\n  - context: prod\n")
    home = directory / "home"
    home.mkdir()
    return {
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "PATH": "/usr/bin:/bin",
        "KUBECONFIG": str(directory / "kubeconfig"),
        "KUBESAFE_CONFIG": str(directory / "policy.yaml"),
        "KUBESAFE_HELM": str(helm),
    }


def measure(repeats: int = 20, quick: bool = False) -> list[Row]:
    """Both pairs; ``quick`` warms up once instead of three times."""
    warmups = 1 if quick else 3
    helm = helm_binary(33)
    with tempfile.TemporaryDirectory() as tmp, FakeAPIServer() as server:
        env = make_env(Path(tmp), server, helm)
        time.sleep(2.2)  # let the files settle so kubesafe's cache may keep them (racy-file rule)
        listing = ["list", "--kube-context", "prod"]
        return [
            pair(
                ("kubesafe helm version", "helm version"),
                ([str(helm), "version"], env),
                ([KUBESAFE, "helm", "version"], env),
                repeats,
                warmups,
                benchmark=BENCHMARK,
            ),
            pair(
                (
                    "kubesafe helm list --kube-context prod (protected read)",
                    "helm list --kube-context prod",
                ),
                ([str(helm), *listing], env),
                ([KUBESAFE, "helm", *listing], env),
                repeats,
                warmups,
                benchmark=BENCHMARK,
            ),
        ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    print(f"real helm from the kubectl 1.33 test wheel, medians of {args.repeats}\n")
    print(markdown_table(measure(args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
