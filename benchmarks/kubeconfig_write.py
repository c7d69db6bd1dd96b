"""What a kubeconfig write costs: kubesafe's surgical writer vs kubectl, kubectx, kubens.

Usage: .venv/bin/python benchmarks/kubeconfig_write.py [--repeats N] [--contexts N]

On a generated kubeconfig (1,000 contexts, clusters and users with long
base64 certificates, about 1.4 MB), each round runs, alternately so that
machine noise hits all of them, on private copies of the file:

1. ``set_current_context`` in a fresh ``python -c`` process (a CLI call minus
   click), with fsync (the default) and with fsync turned off, and the whole
   ``kubesafe ctx NAME`` command (no shell integration: it changes the file);
2. ``kubectl config use-context`` (kubectl 1.33);
3. Debian's ``kubectx NAME`` (the bash version; it runs ``kubectl config use-context``);
4. ``set_context_namespace`` and ``kubesafe ns -f NS`` vs
   ``kubectl config set-context NAME --namespace``
   vs ``kubens NS`` (which also lists namespaces from a fake API server);
5. the floor: ``python -c pass``.

Each call switches to a different value, so every call really writes. Medians
over the repeats, and the ratio to kubectl, are printed as a table. Requirement:
``kubesafe ctx NAME`` no slower than ``kubectl config use-context`` (ratio <= 1.00).
Without Debian's kubectx/kubens in /usr/bin their rows are left out.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
sys.path.insert(0, str(ROOT))
BENCHMARK = "kubeconfig switch"
USE_CONTEXT = "kubectl config use-context"
SET_NAMESPACE = "kubectl config set-context --namespace"
CTX = "kubesafe ctx NAME (the whole command)"
KUBECTX = "kubectx (bash)"

from benchmarks.report import (  # noqa: E402
    BenchmarkError,
    Budget,
    Row,
    ratio_at_most,
    row,
    run_main,
)
from tests.support.fake_apiserver import FakeAPIServer  # noqa: E402
from tests.support.kubectl_binaries import kubectl_binary  # noqa: E402


def generate(contexts: int = 1000, server: str = "", seed: int = 7) -> str:
    """A kubeconfig as kubectl writes it, with realistic certificate sizes."""
    rng = random.Random(seed)

    def blob(size: int) -> str:
        return base64.b64encode(rng.randbytes(size)).decode()

    lines = ["apiVersion: v1", "clusters:"]
    for i in range(contexts):
        address = server if (server and i == 0) else f"https://10.{i // 250}.{i % 250}.1:6443"
        lines += [
            "- cluster:",
            f"    certificate-authority-data: {blob(270)}",
            f"    server: {address}",
            f"  name: arn:aws:eks:eu-west-1:123456789012:cluster/cluster-{i}",
        ]
    lines.append("contexts:")
    for i in range(contexts):
        lines += [
            "- context:",
            f"    cluster: arn:aws:eks:eu-west-1:123456789012:cluster/cluster-{i}",
            f"    namespace: team-{i % 17}",
            f"    user: user-{i}",
            f"  name: ctx-{i}",
        ]
    lines += ["current-context: ctx-0", "kind: Config", "preferences: {}", "users:"]
    for i in range(contexts):
        lines += [
            f"- name: user-{i}",
            "  user:",
            f"    client-certificate-data: {blob(420)}",
            f"    client-key-data: {blob(150)}",
        ]
    return "\n".join(lines) + "\n"


def _timed(command: list[str], env: dict[str, str]) -> float:
    """Milliseconds ``command`` takes, start to exit."""
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode:
        error = done.stderr.decode(errors="replace").strip()
        raise BenchmarkError(f"{command[0]} failed: {error}")
    return (time.perf_counter() - start) * 1000


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); {code}"]


def timings(repeats: int, contexts: int) -> tuple[dict[str, list[float]], int]:
    """Milliseconds per run of each command, alternating, and the kubeconfig's size."""
    kubectl = str(kubectl_binary(33))
    with tempfile.TemporaryDirectory() as tmp, FakeAPIServer() as server:
        work = Path(tmp)
        (work / "bin").mkdir()
        (work / "cache").mkdir()  # kubectx/kubens remember the previous value there
        os.symlink(kubectl, work / "bin" / "kubectl")
        text = generate(contexts, server=server.url)
        names = [
            "ours",
            "ours-nofsync",
            "ctx-cli",
            "kubectl",
            "kubectx",
            "ns-ours",
            "ns-cli",
            "ns-kubectl",
            "kubens",
        ]
        files = {}
        for name in names:
            files[name] = work / name / "config"
            files[name].parent.mkdir()
            files[name].write_text(text)
            files[name].chmod(0o600)
        size = files["ours"].stat().st_size
        base = {
            "PATH": f"{work / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(work),
            "XDG_CACHE_HOME": str(work / "cache"),
        }

        def env(name: str) -> dict[str, str]:
            return {**base, "KUBECONFIG": str(files[name])}

        runs: dict[str, Callable[[int], float]] = {
            "python -c pass": lambda i: _timed([sys.executable, "-c", "pass"], base),
            "kubesafe set_current_context": lambda i: _timed(
                _python(
                    "from kubesafe.kubeconfig.write import set_current_context; "
                    f"set_current_context({str(files['ours'])!r}, 'ctx-{1 + i % 2}')"
                ),
                base,
            ),
            "kubesafe set_current_context, no fsync": lambda i: _timed(
                _python(
                    "import os; os.fsync = lambda fd: None; "
                    "from kubesafe.kubeconfig.write import set_current_context; "
                    f"set_current_context({str(files['ours-nofsync'])!r}, 'ctx-{1 + i % 2}')"
                ),
                base,
            ),
            CTX: lambda i: _timed([KUBESAFE, "ctx", f"ctx-{1 + i % 2}"], env("ctx-cli")),
            USE_CONTEXT: lambda i: _timed(
                [kubectl, "config", "use-context", f"ctx-{1 + i % 2}"], env("kubectl")
            ),
            KUBECTX: lambda i: _timed(["/usr/bin/kubectx", f"ctx-{1 + i % 2}"], env("kubectx")),
            "kubesafe set_context_namespace": lambda i: _timed(
                _python(
                    "from kubesafe.kubeconfig.write import set_context_namespace; "
                    f"set_context_namespace({str(files['ns-ours'])!r}, 'ctx-0', "
                    f"'{('default', 'kube-system')[i % 2]}')"
                ),
                base,
            ),
            "kubesafe ns -f NS (the whole command)": lambda i: _timed(
                [KUBESAFE, "ns", "-f", ("default", "kube-system")[i % 2]], env("ns-cli")
            ),
            SET_NAMESPACE: lambda i: _timed(
                [
                    kubectl,
                    "config",
                    "set-context",
                    "ctx-0",
                    f"--namespace={('default', 'kube-system')[i % 2]}",
                ],
                env("ns-kubectl"),
            ),
            "kubens (bash, lists namespaces)": lambda i: _timed(
                ["/usr/bin/kubens", ("default", "kube-system")[i % 2]], env("kubens")
            ),
        }
        available = {
            label: run
            for label, run in runs.items()
            if not label.startswith("kube")
            or label.split()[0] in ("kubectl", "kubesafe")
            or os.path.exists(f"/usr/bin/{label.split()[0]}")
        }
        timings: dict[str, list[float]] = {label: [] for label in available}
        for run in available.values():
            run(0)  # warm caches (kubectl's discovery cache, page cache)
        for i in range(repeats):
            for label, run in available.items():
                timings[label].append(run(i))

    return timings, size


#: (label, baseline label, budget) of every row, in table order.
ROWS: tuple[tuple[str, str, Budget | None], ...] = (
    ("python -c pass", USE_CONTEXT, None),
    ("kubesafe set_current_context", USE_CONTEXT, None),
    ("kubesafe set_current_context, no fsync", USE_CONTEXT, None),
    (CTX, USE_CONTEXT, ratio_at_most(1.0)),
    (KUBECTX, USE_CONTEXT, None),
    (CTX, KUBECTX, None),
    ("kubesafe set_context_namespace", SET_NAMESPACE, None),
    ("kubesafe ns -f NS (the whole command)", SET_NAMESPACE, None),
    ("kubens (bash, lists namespaces)", SET_NAMESPACE, None),
)


def rows_of(samples: dict[str, list[float]], contexts: int) -> list[Row]:
    return [
        row(
            f"{BENCHMARK}, {contexts} contexts",
            label,
            baseline,
            samples[baseline],
            samples[label],
            "ms",
            budget,
        )
        for label, baseline, budget in ROWS
        if label in samples and baseline in samples
    ]


def measure(repeats: int = 15, quick: bool = False, contexts: int | None = None) -> list[Row]:
    """The rows above; ``quick`` uses a 100-context kubeconfig instead of 1,000."""
    contexts = contexts or (100 if quick else 1000)
    return rows_of(timings(repeats, contexts)[0], contexts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--contexts", type=int, default=1000)
    args = parser.parse_args(argv)
    samples, size = timings(args.repeats, args.contexts)
    print(f"kubeconfig: {args.contexts} contexts, {size / 1e6:.2f} MB; {args.repeats} repeats")
    print(f"{'what':42} {'median':>9} {'ratio':>6}  to")
    for r in rows_of(samples, args.contexts):
        print(
            f"{r.label:42} {r.measured:7.1f}ms {r.ratio:5.2f}x  {r.baseline_label}"
            f"{'' if r.budget is None else f'  ({r.budget.text}: {r.verdict})'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
