"""How much kubesafe adds to every kubectl call, measured side by side in one run.

Usage: .venv/bin/python benchmarks/hot_path.py [--repeats N] [--markdown]

Pairs, each run alternately (A B A B ...) so that machine noise hits both sides:

1. ``kubectl version --client`` directly vs ``kubesafe kubectl version --client``
   with a 200-context kubeconfig (the foundation issue's budget: +20 ms median).
2. A read on a protected context, ``get pods --context ctx-150``, through the
   shim vs ``/bin/true`` directly, with ``/bin/true`` installed in kubesafe's
   store as the kubectl matching the (remembered) server version: the shim's
   whole cost (parse, resolve, classify, policy, version selection).
3. The same for a write that the policy lets through (unprotected context).
4. TAB: ``__complete`` (passes straight through).
5. The floor: ``python -c pass`` with the same interpreter.

Medians over the repeats; the kubeconfig and policy are settled first so the
parsed-file cache is warm, as it is for every call but the first after a change.
Nothing is pinned with KUBESAFE_KUBECTL: the kubectl is chosen as for a user.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import (  # noqa: E402
    BenchmarkError,
    Budget,
    Row,
    added_at_most,
    markdown_table,
    row,
    run_main,
)
from tests.support.kubectl_binaries import kubectl_binary  # noqa: E402

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
CONTEXTS = 200
BENCHMARK = "hot path"
BUDGET = added_at_most(20, "ms")  # the foundation issue's budget


def make_world(directory: Path) -> dict[str, str]:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "ctx-0",
        "clusters": [
            {
                "name": f"cluster-{i}",
                "cluster": {
                    "server": f"https://10.0.{i // 250}.{i % 250}:6443",
                    # One CA per cluster: entries sharing a CA are one cluster to kubesafe.
                    "certificate-authority-data": base64.b64encode(
                        f"CA {i} ".encode() * 60
                    ).decode(),
                },
            }
            for i in range(CONTEXTS)
        ],
        "users": [{"name": f"user-{i}", "user": {"token": "t" * 900}} for i in range(CONTEXTS)],
        "contexts": [
            {
                "name": f"ctx-{i}",
                "context": {"cluster": f"cluster-{i}", "user": f"user-{i}", "namespace": f"ns-{i}"},
            }
            for i in range(CONTEXTS)
        ],
    }
    kubeconfig = directory / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(doc))
    policy = directory / "policy.yaml"
    policy.write_text("rules:\n  - context: 'ctx-1??'\n  - server: 'https://10.0.0.7:6443'\n")
    home = directory / "home"
    home.mkdir()
    (directory / "emptybin").mkdir()
    return {
        "HOME": str(home),
        "PATH": str(directory / "emptybin"),
        "KUBECONFIG": str(kubeconfig),
        "KUBESAFE_CONFIG": str(policy),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".state"),
    }


def install_as_store(cache_home: Path, binary: str, tag: str, servers: list[str]) -> None:
    """Put ``binary`` in kubesafe's store as kubectl ``tag`` and remember every server at it."""
    from kubesafe.versions.server_cache import ServerVersions

    store = cache_home / "kubesafe" / "kubectl" / tag
    store.mkdir(parents=True)
    (store / "kubectl").symlink_to(binary)
    versions = ServerVersions(str(cache_home / "kubesafe" / "server-versions.marshal"))
    for server in servers:
        versions.record(server, tag)
    versions.save()


def run_once(argv: list[str], env: dict[str, str]) -> float:
    """Milliseconds from spawning ``argv`` to its exit (output to /dev/null)."""
    devnull = os.open(os.devnull, os.O_RDWR)
    actions = [
        (os.POSIX_SPAWN_DUP2, devnull, 0),
        (os.POSIX_SPAWN_DUP2, devnull, 1),
        (os.POSIX_SPAWN_DUP2, devnull, 2),
    ]
    try:
        start = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter() - start
    finally:
        os.close(devnull)
    if os.waitstatus_to_exitcode(status) != 0:
        raise BenchmarkError(f"benchmark command failed: {' '.join(argv)}")
    return elapsed * 1000


def pair(
    labels: tuple[str, str],
    direct: tuple[list[str], dict[str, str]],
    shim: tuple[list[str], dict[str, str]],
    repeats: int,
    warmups: int,
    budget: Budget | None = BUDGET,
    benchmark: str = BENCHMARK,
) -> Row:
    """``labels`` is (what runs through the shim, the direct baseline)."""
    for _ in range(warmups):  # warm page cache and kubesafe's parsed-file cache
        run_once(*direct)
        run_once(*shim)
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeats):
        a.append(run_once(*direct))
        b.append(run_once(*shim))
    return row(benchmark, labels[0], labels[1], a, b, "ms", budget)


def measure(repeats: int = 40, quick: bool = False) -> list[Row]:
    """Each pair alternately, ``repeats`` times; ``quick`` warms up once instead of three times."""
    warmups = 1 if quick else 3
    kubectl = str(kubectl_binary(33))
    with tempfile.TemporaryDirectory() as temporary:
        env = make_world(Path(temporary))
        servers = [f"https://10.0.{i // 250}.{i % 250}:6443" for i in range(CONTEXTS)]
        real_cache = Path(temporary) / "cache-real"
        install_as_store(real_cache, kubectl, "v1.33.9", servers)
        true_cache = Path(temporary) / "cache-true"
        install_as_store(true_cache, "/bin/true", "v1.33.9", servers)
        time.sleep(2.2)  # let the files settle so the cache may keep them (racy-file rule)
        shim_env = {**env, "XDG_CACHE_HOME": str(real_cache)}
        true_env = {**env, "XDG_CACHE_HOME": str(true_cache)}
        return [
            pair(
                ("kubesafe kubectl version --client", "kubectl 1.33 version --client"),
                ([kubectl, "version", "--client"], env),
                ([KUBESAFE, "kubectl", "version", "--client"], shim_env),
                repeats,
                warmups,
            ),
            pair(
                ("kubesafe kubectl get pods --context ctx-150 (protected read)", "/bin/true"),
                (["/bin/true", "get", "pods"], env),
                ([KUBESAFE, "kubectl", "get", "pods", "--context", "ctx-150"], true_env),
                repeats,
                warmups,
            ),
            pair(
                (
                    "kubesafe kubectl -n x scale deploy/web --replicas=2 (allowed write)",
                    "/bin/true",
                ),
                (["/bin/true"], env),
                ([KUBESAFE, "kubectl", "-n", "x", "scale", "deploy/web", "--replicas=2"], true_env),
                repeats,
                warmups,
            ),
            pair(
                ("kubesafe kubectl __complete get pods '' (TAB)", "/bin/true"),
                (["/bin/true"], env),
                ([KUBESAFE, "kubectl", "__complete", "get", "pods", ""], true_env),
                repeats,
                warmups,
            ),
            pair(
                ("floor: python -c pass (the same interpreter)", "/bin/true"),
                (["/bin/true"], env),
                ([sys.executable, "-c", "pass"], env),
                repeats,
                warmups,
                budget=None,
            ),
        ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    rows = measure(args.repeats)
    if args.markdown:
        print(
            f"{CONTEXTS}-context kubeconfig, medians of {args.repeats}, kubesafe's budget +20 ms\n"
        )
        print(markdown_table(rows))
    else:
        for r in rows:
            print(
                f"{r.label:<68} direct {r.baseline:6.1f} ms  "
                f"shim {r.measured:6.1f} ms  "
                f"added {r.added:5.1f} ms  x{r.ratio:.2f}  {r.verdict}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
