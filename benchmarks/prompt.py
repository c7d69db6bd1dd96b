"""What the prompt segment costs per prompt, in real bash and zsh, side by side.

Usage: .venv/bin/python benchmarks/prompt.py [--repeats N] [--calls N] [--markdown]

In one shell process per shell (the integration loaded with ``kubesafe init``):

1. ``__kubesafe_refresh; kubesafe_prompt`` when nothing changed (what every prompt
   costs) vs an empty shell function called the same way (the floor);
2. the first prompt after a switch (the kubeconfig rewritten): one render;
3. for reference, ``kube_ps1``-style work: a ``$(kubectl config current-context)``
   per prompt, through the real kubectl.

Times come from the shell's own ``EPOCHREALTIME`` around a loop of ``--calls`` calls;
medians over ``--repeats`` loops. The kubeconfig has 200 contexts.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.kubectl_binaries import kubectl_binary  # noqa: E402

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
CONTEXTS = 200

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
for ((r = 0; r < 5; r++)); do measure 5 switched; done
for ((r = 0; r < 5; r++)); do measure 5 kube_ps1_like; done
"""


def make_world(directory: Path) -> dict[str, str]:
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
    }


def run_shell(shell: str, env: dict[str, str], calls: int, repeats: int) -> dict[str, list[float]]:
    load = "zmodload zsh/datetime" if shell == "zsh" else ""
    script = LOOP.format(
        load=load,
        init=f'eval "$({KUBESAFE} init {shell})"',
        calls=calls,
        repeats=repeats,
        kubeconfig=str(Path(env["HOME"]) / ".kube" / "config"),
    )
    binary = shutil.which(shell)
    if binary is None:
        raise SystemExit(f"{shell} is not installed")
    output = subprocess.run(
        [binary, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    results: dict[str, list[float]] = {}
    for line in output.splitlines():
        name, count, start, end = line.split()
        results.setdefault(name, []).append((float(end) - float(start)) * 1000 / int(count))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = make_world(Path(tmp))
        for shell in ("bash", "zsh"):
            results = run_shell(shell, env, args.calls, args.repeats)
            medians = {name: statistics.median(values) for name, values in results.items()}
            rows.append((shell, medians))
    print(
        "| shell | empty function | prompt, unchanged | added | after a switch "
        "| $(kubectl config current-context) |"
    )
    print("|---|---|---|---|---|---|")
    for shell, m in rows:
        print(
            f"| {shell} | {m['noop']:.3f} ms | {m['unchanged']:.3f} ms | "
            f"{m['unchanged'] - m['noop']:+.3f} ms | {m['switched']:.1f} ms | "
            f"{m['kube_ps1_like']:.1f} ms |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
