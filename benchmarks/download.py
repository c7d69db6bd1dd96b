"""What verifying and storing a kubectl download costs over a plain transfer, side by side.

Usage: .venv/bin/python benchmarks/download.py [--size-mb N] [--repeats N]

A loopback mirror (tests.support.mirror, in its own process) serves one generated file
of ``--size-mb`` MB (default 100) laid out like a kubectl release, with its real sha256.
Alternately (A B A B ...), so that machine noise hits both sides:

* raw: ``httpx.Client().stream("GET", url)`` copied chunk by chunk into a temporary file
  (no hashing, no fsync): the transfer rate on this machine;
* install: ``kubesafe.versions.download.install()`` into an empty store: digest request,
  streamed download hashed on the way, chmod, atomic rename.

Medians in MB/s (1 MB = 10**6 bytes) and their ratio (target: install >= 80% of raw), then
the peak RSS of one run of each in a fresh subprocess, and how much it grew during the
transfer (ru_maxrss after the transfer minus before it, with everything already imported).
Budget for memory: install's peak at most 8 MiB above raw's (the hashing queue holds at most
8 batches of ~1 MB).
Files are written under the system temporary directory and deleted after each run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import (  # noqa: E402
    BenchmarkError,
    Row,
    added_at_most,
    ratio_at_least,
    row,
    run_main,
)
from kubesafe.versions.download import install  # noqa: E402
from tests.support.mirror import file_digest, release_path  # noqa: E402

VERSION = "v1.99.0"
BENCHMARK = "download"
QUICK_SIZE_MB = 5


def make_tree(root: Path, size: int) -> Path:
    directory = root / "release" / VERSION / "bin" / "linux" / "amd64"
    directory.mkdir(parents=True)
    binary = directory / "kubectl"
    block = os.urandom(1 << 20)
    with binary.open("wb") as fh:
        for offset in range(0, size, len(block)):
            fh.write(block[: size - offset])
    for algorithm in ("sha256", "sha512"):
        (directory / f"kubectl.{algorithm}").write_text(file_digest(binary, algorithm) + "\n")
    return binary


def raw_get(url: str, out_dir: str) -> int:
    import httpx

    fd, name = tempfile.mkstemp(dir=out_dir, prefix="raw-", suffix=".part")
    try:
        with (
            httpx.Client(follow_redirects=True) as client,
            client.stream("GET", url) as response,
            open(fd, "wb", buffering=0) as out,
        ):
            response.raise_for_status()
            for chunk in response.iter_bytes():
                out.write(chunk)
            return response.num_bytes_downloaded
    finally:
        os.unlink(name)


def run_install(base: str, out_dir: str) -> int:
    store = tempfile.mkdtemp(dir=out_dir, prefix="store-")
    try:
        path = install(
            VERSION, store_dir=store, base_url=base, goos="linux", goarch="amd64", progress=False
        )
        return os.path.getsize(path)
    finally:
        shutil.rmtree(store)


def timed(kind: str, base: str, out_dir: str) -> tuple[float, int]:
    start = time.perf_counter()
    if kind == "raw":
        size = raw_get(base + release_path(VERSION), out_dir)
    else:
        size = run_install(base, out_dir)
    return time.perf_counter() - start, size


def _maxrss_bytes() -> int:
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def child(kind: str, base: str, out_dir: str) -> None:
    import httpx  # noqa: F401 - imported up front so the growth is the transfer's alone

    before = _maxrss_bytes()
    _, size = timed(kind, base, out_dir)
    after = _maxrss_bytes()
    print(json.dumps({"before": before, "after": after, "size": size}))


def rss_of(kind: str, base: str, out_dir: str) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", kind, base, out_dir],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode:
        raise BenchmarkError(f"{kind} child failed: {result.stderr.strip()[-300:]}")
    data: dict[str, int] = json.loads(result.stdout)
    return data


Memory = dict[str, dict[str, int]]


def transfers(size: int, repeats: int) -> tuple[dict[str, list[float]], Memory]:
    """Seconds per alternating run of each kind, and each kind's RSS in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="kubesafe-bench-") as tmp:
        make_tree(Path(tmp) / "tree", size)
        out_dir = os.path.join(tmp, "out")
        os.mkdir(out_dir)
        # The mirror runs in its own process so that it does not share the GIL with the
        # client being measured.
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.support.mirror", os.path.join(tmp, "tree")],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        try:
            assert server.stdout is not None
            base = server.stdout.readline().strip()
            if not base:
                raise BenchmarkError("the loopback mirror did not start")
            timed("raw", base, out_dir)  # warm the page cache and the imports
            times: dict[str, list[float]] = {"raw": [], "install": []}
            for _ in range(repeats):
                for kind in ("raw", "install"):
                    seconds, got = timed(kind, base, out_dir)
                    if got != size:
                        raise BenchmarkError(f"{kind} transferred {got} bytes, not {size}")
                    times[kind].append(seconds)
            rss = {kind: rss_of(kind, base, out_dir) for kind in ("raw", "install")}
        finally:
            server.terminate()
            server.wait()
    return times, rss


def rows_of(size: int, times: dict[str, list[float]], rss: Memory) -> list[Row]:
    rates = {kind: [size / t / 1e6 for t in values] for kind, values in times.items()}
    mib = {kind: [data["after"] / 2**20] for kind, data in rss.items()}
    return [
        row(
            BENCHMARK,
            f"kubesafe install() verified, {size / 1e6:.0f} MB",
            "raw httpx.stream -> file",
            rates["raw"],
            rates["install"],
            "MB/s",
            ratio_at_least(0.8),
        ),
        row(
            BENCHMARK,
            "install() peak RSS (fresh process)",
            "raw httpx peak RSS",
            mib["raw"],
            mib["install"],
            "MiB",
            added_at_most(8, "MiB"),
        ),
    ]


def measure(repeats: int = 5, quick: bool = False, size_mb: int | None = None) -> list[Row]:
    """Rate and memory rows; ``quick`` moves a 5 MB file instead of 100 MB."""
    size = (size_mb or (QUICK_SIZE_MB if quick else 100)) * 10**6
    return rows_of(size, *transfers(size, repeats))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "BASE", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0

    size = args.size_mb * 10**6
    times, rss = transfers(size, args.repeats)
    speed, memory = rows_of(size, times, rss)
    print(f"file: {args.size_mb} MB over loopback, {args.repeats} alternating repeats, medians")
    for samples, median, label in (
        (speed.baseline_samples, speed.baseline, "raw httpx.stream -> file"),
        (speed.measured_samples, speed.measured, "install() verified"),
    ):
        runs = ", ".join(f"{rate:.0f}" for rate in samples)
        print(f"  {label:26} {median:7.1f} MB/s   (runs: {runs})")
    verdict = "ok" if speed.met else "BELOW TARGET"
    print(f"  install / raw              {speed.ratio:7.1%}     (target >= 80%: {verdict})")
    print("peak RSS in a fresh subprocess (growth during the transfer):")
    for kind in ("raw", "install"):
        data = rss[kind]
        growth = (data["after"] - data["before"]) / 2**20
        print(f"  {kind:8} {data['after'] / 2**20:7.1f} MiB   (+{growth:.1f} MiB)")
    print(f"  install - raw {memory.added:+.1f} MiB (budget +8 MiB: {memory.verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
