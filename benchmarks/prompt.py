"""What the prompt segment costs per prompt, in real bash and zsh, side by side.

Usage: .venv/bin/python benchmarks/prompt.py [--repeats N] [--calls N] [--guard on|off]

In one shell process per shell (the integration loaded with ``kubesafe init``):

1. ``__kubesafe_refresh; kubesafe_prompt`` when nothing changed (what every prompt
   costs) vs an empty shell function called the same way (the floor);
2. the first prompt after a switch (the kubeconfig rewritten): one render;
3. for reference, ``kube_ps1``-style work: a ``$(kubectl config current-context)``
   per prompt, through the real kubectl.

Times come from the shell's own ``EPOCHREALTIME`` around a loop of ``--calls`` calls;
medians over ``--repeats`` loops (5 loops of 5 calls for the switch and the reference).
The kubeconfig has 200 contexts. Budget: an unchanged prompt adds at most 3 ms to the empty
function (that it forks nothing is checked by ``tests/shell/test_prompt.py`` under strace).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import (  # noqa: E402
    BenchmarkError,
    Row,
    added_at_most,
    row,
    run_main,
)
from tests.support.kubectl_binaries import kubectl_binary  # noqa: E402

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
CONTEXTS = 200
BENCHMARK = "prompt"
SHELLS = ("bash", "zsh")

LOOP = """
{load}
{init}
__kubesafe_refresh
sleep 2.2
__kubesafe_refresh
noop() {{ :; }}
measure() {{
  local calls=$1 start=$EPOCHREALTIME i
  shift
  for ((i = 0; i < calls; i++)); do "$@" >/dev/null; done
  local end=$EPOCHREALTIME
  printf '%s %s %s %s\\n' "$1" "$calls" "$start" "$end"
}}
unchanged() {{ __kubesafe_refresh; kubesafe_prompt; }}
switched() {{
  printf '%s' "$KUBESAFE_BENCH_TOUCH" >> {kubeconfig}
  __kubesafe_refresh
  kubesafe_prompt
}}
kube_ps1_like() {{ local c; c=$(kubectl config current-context); printf '%s' "$c"; }}
for ((r = 0; r < {repeats}; r++)); do
  measure {calls} noop
  measure {calls} unchanged
done
for ((r = 0; r < {slow_loops}; r++)); do measure {slow_calls} switched; done
for ((r = 0; r < {slow_loops}; r++)); do measure {slow_calls} kube_ps1_like; done
"""


def make_world(directory: Path, guard: str = "on") -> dict[str, str]:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "ctx-0",
        "clusters": [
            {"name": f"c-{i}", "cluster": {"server": f"https://10.0.0.{i % 250}:6443"}}
            for i in range(CONTEXTS)
        ],
        "users": [{"name": f"u-{i}", "user": {"token": "t" * 900}} for i in range(CONTEXTS)],
        "contexts": [
            {"name": f"ctx-{i}", "context": {"cluster": f"c-{i}", "user": f"u-{i}"}}
            for i in range(CONTEXTS)
        ],
    }
    home = directory / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text(yaml.safe_dump(doc))
    (home / ".config" / "kubesafe").mkdir(parents=True)
    (home / ".config" / "kubesafe" / "config.yaml").write_text("rules:\n  - context: ctx-1*\n")
    kubectl = kubectl_binary(33)
    return {
        "HOME": str(home),
        "PATH": f"{Path(sys.executable).parent}:{kubectl.parent}:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "KUBESAFE_BENCH_TOUCH": "\n",
        # "one render": wait for it (the default shows a marker after 30 ms; fleet.py measures that)
        "KUBESAFE_PROMPT_WAIT": "60",
        # The protected contexts (ctx-1*) go through the terminal's API guard unless "off".
        "KUBESAFE_GUARD": guard,
    }


def run_shell(
    shell: str, env: dict[str, str], calls: int, repeats: int, slow: int = 5
) -> dict[str, list[float]]:
    """Milliseconds per call of each loop; the switch and the reference run ``slow`` x ``slow``."""
    load = "zmodload zsh/datetime" if shell == "zsh" else ""
    script = LOOP.format(
        load=load,
        init=f'eval "$({KUBESAFE} init {shell})"',
        calls=calls,
        repeats=repeats,
        slow_loops=slow,
        slow_calls=slow,
        kubeconfig=str(Path(env["HOME"]) / ".kube" / "config"),
    )
    binary = shutil.which(shell)
    if binary is None:
        raise BenchmarkError(f"{shell} is not installed")
    done = subprocess.run([binary, "-c", script], env=env, capture_output=True, text=True)
    if done.returncode:
        raise BenchmarkError(f"{shell} loop failed: {done.stderr.strip()[-300:]}")
    results: dict[str, list[float]] = {}
    for line in done.stdout.splitlines():
        name, count, start, end = line.split()
        results.setdefault(name, []).append((float(end) - float(start)) * 1000 / int(count))
    return results


def shell_rows(shell: str, results: dict[str, list[float]]) -> list[Row]:
    return [
        row(
            BENCHMARK,
            f"{shell}: prompt, nothing changed",
            f"{shell}: empty function",
            results["noop"],
            results["unchanged"],
            "ms",
            added_at_most(3, "ms"),
        ),
        row(
            BENCHMARK,
            f"{shell}: first prompt after a switch (one render)",
            f"{shell}: $(kubectl config current-context) per prompt",
            results["kube_ps1_like"],
            results["switched"],
            "ms",
        ),
    ]


def measure(
    repeats: int = 15, quick: bool = False, calls: int | None = None, guard: str = "on"
) -> list[Row]:
    """Two rows per shell; ``quick`` runs loops of 10 calls and the slow loops 2 x 2."""
    calls = calls or (10 if quick else 200)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = make_world(Path(tmp), guard)
        for shell in SHELLS:
            rows += shell_rows(shell, run_shell(shell, env, calls, repeats, 2 if quick else 5))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--markdown", action="store_true", help="(the output is always Markdown)")
    parser.add_argument("--guard", choices=("on", "off"), default="on", help="the API guard")
    args = parser.parse_args()
    rows = measure(args.repeats, calls=args.calls, guard=args.guard)
    print(
        "| shell | empty function | prompt, unchanged | added | after a switch "
        "| $(kubectl config current-context) | budget +3 ms |"
    )
    print("|---|---|---|---|---|---|---|")
    for shell, unchanged, switched in zip(SHELLS, rows[::2], rows[1::2], strict=True):
        print(
            f"| {shell} | {unchanged.baseline:.3f} ms | {unchanged.measured:.3f} ms | "
            f"{unchanged.added:+.3f} ms | {switched.measured:.1f} ms | "
            f"{switched.baseline:.1f} ms | {unchanged.verdict} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
