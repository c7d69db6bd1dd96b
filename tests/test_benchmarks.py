"""benchmarks/run_all.py --quick runs every measurement and prints every row with numbers.

Timing is not asserted (2-core machines are noisy); that the scripts still run and report
every measurement is, so that they cannot rot.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import demo, run_all
from benchmarks.report import (
    Budget,
    Row,
    added_at_most,
    markdown_table,
    ratio_at_least,
    ratio_at_most,
)

ROOT = Path(__file__).resolve().parent.parent
CELL = re.compile(r"^([+-]?\d+(?:\.\d+)?) (ms|MB/s|MiB)$")

KUBECTL = "kubectl 1.33 version --client"
KC = "kubeconfig switch, 100 contexts"
USE = "kubectl config use-context"
SET_NS = "kubectl config set-context --namespace"
EXPECTED = [
    ("hot path", "kubesafe kubectl version --client", KUBECTL),
    ("hot path", "kubesafe kubectl get pods --context ctx-150 (protected read)", "/bin/true"),
    (
        "hot path",
        "kubesafe kubectl -n x scale deploy/web --replicas=2 (allowed write)",
        "/bin/true",
    ),
    ("hot path", "kubesafe kubectl __complete get pods '' (TAB)", "/bin/true"),
    ("hot path", "floor: python -c pass (the same interpreter)", "/bin/true"),
    ("download", "kubesafe install() verified, 5 MB", "raw httpx.stream -> file"),
    ("download", "install() peak RSS (fresh process)", "raw httpx peak RSS"),
    ("prompt", "bash: prompt, nothing changed", "bash: empty function"),
    (
        "prompt",
        "bash: first prompt after a switch (one render)",
        "bash: $(kubectl config current-context) per prompt",
    ),
    ("prompt", "zsh: prompt, nothing changed", "zsh: empty function"),
    (
        "prompt",
        "zsh: first prompt after a switch (one render)",
        "zsh: $(kubectl config current-context) per prompt",
    ),
    (KC, "python -c pass", USE),
    (KC, "kubesafe set_current_context", USE),
    (KC, "kubesafe set_current_context, no fsync", USE),
    (KC, "kubesafe ctx NAME (the whole command)", USE),
    (KC, "kubesafe set_context_namespace", SET_NS),
    (KC, "kubesafe ns -f NS (the whole command)", SET_NS),
    ("helm", "kubesafe helm version", "helm version"),
    (
        "helm",
        "kubesafe helm list --kube-context prod (protected read)",
        "helm list --kube-context prod",
    ),
    ("demo", "kubesafe demo --script (the whole tour, kubectl cached)", "python -c pass"),
]
FLEET = "fleet, 200 contexts"
MINIFY = "kubectl config view --minify"
SHIM_KUBECTL = "kubectl version --client (1.33, pinned)"
EXPECTED += [
    (FLEET, "first kubesafe explain -- get pods after a change", MINIFY),
    (FLEET, "the same in an integrated shell (kubesafe's fast launcher)", MINIFY),
    (FLEET, "first kubectl get pods after a change (the shim, then /bin/true)", MINIFY),
    (FLEET, "peak RSS of that first explain", MINIFY),
    (FLEET, "warm kubesafe explain -- get pods", "the same at 200 contexts"),
    (FLEET, "kubesafe ctx NAME --global", "kubectl config use-context NAME"),
    (
        FLEET,
        "kubesafe ctx NAME --global in an integrated terminal",
        "kubectl config use-context NAME",
    ),
    (FLEET, "bash: first prompt after a change", "bash: empty function"),
    ("fleet", "kubesafe ns, 20,000 cached namespaces", "/bin/true"),
    ("fleet, shim", "kubectl version --client via the fast launcher", SHIM_KUBECTL),
    ("fleet, shim", "kubesafe kubectl version --client (pip's script)", SHIM_KUBECTL),
    ("fleet, shim", "bare interpreter: python -S -c pass", "/bin/true"),
    ("fleet, shim", "the site scan: python -c pass", "python -S -c pass"),
    ("fleet, shim", "imports: python -S, the shim's modules", "python -S -c pass"),
]
LIST = "LIST 5000 pods"
EXPECTED += [
    ("guard", "GET one pod through the guard", "GET one pod direct"),
    ("guard", f"{LIST} through the guard", f"{LIST} direct"),
    (
        "guard",
        f"{LIST} pre-encoded (server at wire speed) through the guard",
        f"{LIST} pre-encoded direct",
    ),
    ("guard", "guard RSS after streaming the LISTs", "guard RSS before"),
    ("guard", "20 watches through the guard: all see a new pod", "20 watches direct"),
    ("guard", "guard RSS holding 20 watches", "guard RSS before"),
]
# Debian's kubectx and kubens are compared when installed (kubeconfig_write.py needs them there).
if os.path.exists("/usr/bin/kubectx"):
    EXPECTED += [
        (KC, "kubectx (bash)", USE),
        (KC, "kubesafe ctx NAME (the whole command)", "kubectx (bash)"),
    ]
if os.path.exists("/usr/bin/kubens"):
    EXPECTED.append((KC, "kubens (bash, lists namespaces)", SET_NS))


def table_rows(output: str) -> list[list[str]]:
    lines = output.split("## Results", 1)[1].strip().splitlines()
    table = [line for line in lines if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table[1:]]


def test_run_all_quick_reports_every_row_with_numbers() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "FAILED" not in done.stdout
    assert re.search(r"- \d+ CPUs .*\n- load average .*before \d.*after \d", done.stdout)
    assert re.search(r"Python 3\.\d+.*; kubectl v1\.33\.\d+; helm v\d", done.stdout)
    rows = table_rows(done.stdout)
    assert sorted((r[0], r[1], r[2]) for r in rows) == sorted(EXPECTED)
    for benchmark, label, _, measured, baseline, added, ratio, _, verdict in rows:
        for cell in (measured, baseline, added):
            assert CELL.match(cell), (benchmark, label, cell)
        base = CELL.match(baseline)
        assert base is not None and float(base[1]) > 0, (benchmark, label)
        assert float(ratio) > 0, (benchmark, label, ratio)
        assert verdict in ("met", "MISSED", "-")
    budgeted = {(r[0], r[1], r[2]) for r in rows if r[7] != "-"}
    assert (KC, "kubesafe ctx NAME (the whole command)", USE) in budgeted
    assert ("prompt", "zsh: prompt, nothing changed", "zsh: empty function") in budgeted
    assert ("demo", demo.LABEL, "python -c pass") in budgeted


def test_a_failing_benchmark_is_reported_and_the_rest_still_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(repeats: int, quick: bool = False) -> list[Row]:
        raise RuntimeError("kubectl exploded")

    def fine(repeats: int, quick: bool = False) -> list[Row]:
        return [Row("fine", "a", "b", 1.0, 2.0, "ms")]

    monkeypatch.setattr(run_all, "BENCHMARKS", {"broken": (broken, 3), "fine": (fine, 3)})
    rows, failures = run_all.run(["broken", "fine"], None, quick=True)
    assert [r.benchmark for r in rows] == ["fine"]
    assert failures == ["broken: RuntimeError: kubectl exploded"]


@pytest.mark.parametrize(
    ("budget", "baseline", "measured", "met"),
    [
        (added_at_most(20, "ms"), 45.0, 64.9, True),
        (added_at_most(20, "ms"), 45.0, 65.1, False),
        (ratio_at_most(1.0), 500.0, 500.0, True),
        (ratio_at_most(1.0), 500.0, 501.0, False),
        (ratio_at_least(0.8), 400.0, 320.0, True),
        (ratio_at_least(0.8), 400.0, 319.0, False),
    ],
)
def test_budget_verdicts(budget: Budget, baseline: float, measured: float, met: bool) -> None:
    r = Row("b", "m", "base", baseline, measured, "ms", budget)
    assert r.met is met
    assert markdown_table([r]).splitlines()[-1].endswith("| met |" if met else "| MISSED |")


def test_missed_budgets_print_as_a_markdown_list(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The output is pasted into docs/performance.md: the missed lines must render as a list."""
    import markdown

    def slow(repeats: int, quick: bool = False) -> list[Row]:
        return [Row("slow", "kubesafe x", "x", 10.0, 50.0, "ms", added_at_most(20, "ms"))]

    monkeypatch.setattr(run_all, "BENCHMARKS", {"slow": (slow, 3)})
    monkeypatch.setattr(run_all, "tools", lambda: ["no tools"])
    monkeypatch.setattr(sys, "argv", ["run_all.py", "--only", "slow"])
    assert run_all.main() == 0
    html = markdown.markdown(capsys.readouterr().out, extensions=["tables"])
    assert "<p>0 of 1 budgets met.</p>" in html
    assert "<li>missed: slow: kubesafe x (+20 ms max)</li>" in html
