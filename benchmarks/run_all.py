"""Every kubesafe benchmark in one run, as one Markdown table of ratios and budget verdicts.

Usage: .venv/bin/python benchmarks/run_all.py [--repeats N] [--quick] [--only NAME ...]
                                              [--wait-load LOAD [--wait-timeout S]]

Runs, one after the other, the measurements of hot_path.py (the kubectl shim vs direct
kubectl), download.py (install() vs raw httpx), prompt.py (the prompt segment vs an empty
function), kubeconfig_write.py (``kubesafe ctx`` vs kubectl and kubectx), helm.py
(``kubesafe helm`` vs helm), demo.py (the whole ``kubesafe demo --script`` tour), fleet.py
(200 to 10,000 contexts, 20,000 namespaces) and guard.py (the API guard vs the fake API
server direct). Each alternates its pairs as it does on its own; medians over
``--repeats`` (default: each benchmark's own). ``--quick`` is a sanity run: 2 repeats
and smaller inputs, numbers not worth quoting.

The header names the machine: CPUs, load average before and after, Python and tool versions.
``--wait-load 1.0`` first waits until the 1-minute load average is below 1.0 (noisy
neighbours ruin medians), for at most ``--wait-timeout`` seconds, then runs anyway and says so.

Exit status 1 only if a benchmark failed to run; a missed budget is reported, not fatal.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import (  # noqa: E402
    demo,
    download,
    fleet,
    guard,
    helm,
    hot_path,
    kubeconfig_write,
    prompt,
)
from benchmarks.report import Row, markdown_table  # noqa: E402
from tests.support.kubectl_binaries import (  # noqa: E402
    BinaryFetchError,
    binary_version,
    helm_binary,
    kubectl_binary,
)

Measure = Callable[..., list[Row]]

#: name -> (measurement, default repeats), in run order.
BENCHMARKS: dict[str, tuple[Measure, int]] = {
    "hot_path": (hot_path.measure, 40),
    "download": (download.measure, 5),
    "prompt": (prompt.measure, 15),
    "kubeconfig_write": (kubeconfig_write.measure, 15),
    "helm": (helm.measure, 20),
    "demo": (demo.measure, 3),
    "fleet": (fleet.measure, 3),
    "guard": (guard.measure, 5),
}
QUICK_REPEATS = 2


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if done.returncode == 0 and lines else "unavailable"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def tools() -> list[str]:
    """Versions of what is measured, in the form each tool prints them."""
    found = [f"Python {platform.python_version()}"]
    try:
        found.append(f"kubectl {binary_version(kubectl_binary(33))}")
        found.append(f"helm {_first_line([str(helm_binary(33)), 'version', '--short'])}")
    except BinaryFetchError as error:
        found.append(f"kubectl/helm unavailable ({error})")
    for shell, flag in (("bash", "--version"), ("zsh", "--version")):
        path = shutil.which(shell)
        found.append(_first_line([path, flag]) if path else f"{shell} unavailable")
    if shutil.which("dpkg-query"):
        version = _first_line(["dpkg-query", "-W", "-f", "${Version}\n", "kubectx"])
        found.append(f"kubectx (Debian) {version}")
    return found


def wait_for_quiet(limit: float, timeout: float) -> str:
    """Poll the 1-minute load average until it is below ``limit``; say how it went."""
    start = time.monotonic()
    while (current := os.getloadavg()[0]) >= limit:
        waited = time.monotonic() - start
        if waited >= timeout:
            return f"load still {current:.2f} after {waited:.0f} s; ran anyway"
        print(f"load {current:.2f} >= {limit}; waiting", file=sys.stderr)
        time.sleep(min(15.0, max(1.0, timeout - waited)))
    return f"waited {time.monotonic() - start:.0f} s for a 1-minute load below {limit}"


def run(names: list[str], repeats: int | None, quick: bool) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    failures: list[str] = []
    for name in names:
        measure, default = BENCHMARKS[name]
        count = repeats or (QUICK_REPEATS if quick else default)
        print(f"running {name} ({count} repeats{', quick' if quick else ''})", file=sys.stderr)
        started = time.monotonic()
        try:
            rows += measure(count, quick=quick)
        except Exception as error:  # one broken benchmark must not hide the rest
            failures.append(f"{name}: {type(error).__name__}: {error}")
            print(f"  FAILED: {failures[-1]}", file=sys.stderr)
        else:
            print(f"  done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return rows, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, help="repeats for every benchmark")
    parser.add_argument("--quick", action="store_true", help="a fast sanity run")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    parser.add_argument("--wait-load", type=float, metavar="LOAD")
    parser.add_argument("--wait-timeout", type=float, default=1800.0, metavar="SECONDS")
    args = parser.parse_args()
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    waited = wait_for_quiet(args.wait_load, args.wait_timeout) if args.wait_load else ""
    before = load()
    started = time.monotonic()
    rows, failures = run(args.only, args.repeats, args.quick)
    elapsed = time.monotonic() - started
    after = load()
    if args.repeats:
        repeats = str(args.repeats)
    elif args.quick:
        repeats = f"{QUICK_REPEATS} (quick)"
    else:
        repeats = ", ".join(f"{name} {default}" for name, (_, default) in BENCHMARKS.items())
    print("## Machine\n")
    print(f"- {os.cpu_count()} CPUs ({_cpu_model()}), {platform.system()} {platform.release()}")
    print(f"- load average (1 / 5 / 15 min): before {before}, after {after}")
    if waited:
        print(f"- {waited}")
    print(f"- {'; '.join(tools())}")
    print(f"- repeats: {repeats}; took {elapsed:.0f} s")
    print("\n## Results\n")
    print(markdown_table(rows))
    budgeted = [r for r in rows if r.met is not None]
    missed = [r for r in budgeted if not r.met]
    print(f"\n{len(budgeted) - len(missed)} of {len(budgeted)} budgets met.")
    if missed or failures:
        print()  # Markdown needs a blank line before a list, or it joins the paragraph
    for r in missed:
        print(f"- missed: {r.benchmark}: {r.label} ({r.budget.text if r.budget else ''})")
    for failure in failures:
        print(f"- FAILED to run: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
