"""How long ``kubesafe demo --script`` takes, the whole tour, start to sandbox removed.

Usage: .venv/bin/python benchmarks/demo.py [--repeats N]

The tour as a new user runs it the second time: a kubectl 1.33 (from the test wheel)
already in kubesafe's store, so nothing is downloaded; PATH holds only bash and sh (no
system kubectl). Every step runs, the terminal steps too (two bash terminals in
pseudo-terminals, the banner answered). Baseline: ``python -c pass``. Budget: the tour
stays under 10 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.hot_path import KUBESAFE  # noqa: E402
from benchmarks.report import BenchmarkError, Row, added_at_most, markdown_table, row  # noqa: E402
from kubesafe.demo.objects import DEMO_VERSION  # noqa: E402
from tests.support.kubectl_binaries import kubectl_binary  # noqa: E402

BENCHMARK = "demo"
LABEL = "kubesafe demo --script (the whole tour, kubectl cached)"
BUDGET_MS = 10_000.0


def make_env(directory: Path) -> dict[str, str]:
    home = directory / "home"
    store = home / "cache" / "kubesafe" / "kubectl" / DEMO_VERSION
    store.mkdir(parents=True)
    (store / "kubectl").symlink_to(kubectl_binary(33))
    bin_dir = directory / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sh"):
        (bin_dir / tool).symlink_to(f"/bin/{tool}")
    (directory / "tmp").mkdir()
    return {
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "TMPDIR": str(directory / "tmp"),
        "PATH": str(bin_dir),
        "LANG": "C.UTF-8",
    }


def _timed(argv: list[str], env: dict[str, str], expect: str = "") -> float:
    started = time.perf_counter()
    done = subprocess.run(
        argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode != 0 or expect not in done.stdout:
        raise BenchmarkError(f"{' '.join(argv[1:])} failed: {done.stdout[-500:]}{done.stderr}")
    return elapsed


def measure(repeats: int = 3, quick: bool = False) -> list[Row]:
    tours: list[float] = []
    floors: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = make_env(Path(tmp))
        for _ in range(repeats):
            floors.append(_timed([sys.executable, "-c", "pass"], env))
            tours.append(
                _timed([KUBESAFE, "demo", "--script"], env, "The tour behaved as expected.")
            )
    return [
        row(
            BENCHMARK,
            LABEL,
            "python -c pass",
            floors,
            tours,
            "ms",
            added_at_most(BUDGET_MS, "ms"),
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"kubesafe demo --script, medians of {args.repeats} on {os.cpu_count()} CPUs\n")
    rows = measure(args.repeats)
    print(markdown_table(rows))
    print("\nevery tour (ms): " + ", ".join(f"{s:.0f}" for s in rows[0].measured_samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
