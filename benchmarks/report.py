"""The structured result every benchmark returns, its budget verdict and a Markdown table."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal


class BenchmarkError(RuntimeError):
    """A benchmark could not run (a command failed, a tool is missing)."""


@dataclass(frozen=True)
class Budget:
    """A limit on a row: at most ``limit`` added, or a ratio at most / at least ``limit``."""

    kind: Literal["added_max", "ratio_max", "ratio_min"]
    limit: float
    text: str

    def met(self, baseline: float, measured: float) -> bool:
        if self.kind == "added_max":
            return measured - baseline <= self.limit
        ratio = measured / baseline
        return ratio <= self.limit if self.kind == "ratio_max" else ratio >= self.limit


def added_at_most(limit: float, unit: str) -> Budget:
    return Budget("added_max", limit, f"+{limit:g} {unit} max")


def ratio_at_most(limit: float) -> Budget:
    return Budget("ratio_max", limit, f"ratio <= {limit:.2f}")


def ratio_at_least(limit: float) -> Budget:
    return Budget("ratio_min", limit, f"ratio >= {limit:.2f}")


@dataclass(frozen=True)
class Row:
    """One measurement against its baseline: medians of repeated runs in ``unit``."""

    benchmark: str
    label: str
    baseline_label: str
    baseline: float
    measured: float
    unit: str
    budget: Budget | None = None
    baseline_samples: tuple[float, ...] = ()
    measured_samples: tuple[float, ...] = ()

    @property
    def ratio(self) -> float:
        return self.measured / self.baseline if self.baseline else float("inf")

    @property
    def added(self) -> float:
        return self.measured - self.baseline

    @property
    def met(self) -> bool | None:
        return None if self.budget is None else self.budget.met(self.baseline, self.measured)

    @property
    def verdict(self) -> str:
        return {None: "-", True: "met", False: "MISSED"}[self.met]


def row(
    benchmark: str,
    label: str,
    baseline_label: str,
    baseline_samples: Sequence[float],
    measured_samples: Sequence[float],
    unit: str,
    budget: Budget | None = None,
) -> Row:
    """A row whose medians are taken over the given samples (both in ``unit``)."""
    if not baseline_samples or not measured_samples:
        raise BenchmarkError(f"{benchmark}: no samples for {label!r}")
    return Row(
        benchmark=benchmark,
        label=label,
        baseline_label=baseline_label,
        baseline=statistics.median(baseline_samples),
        measured=statistics.median(measured_samples),
        unit=unit,
        budget=budget,
        baseline_samples=tuple(baseline_samples),
        measured_samples=tuple(measured_samples),
    )


def number(value: float) -> str:
    """Enough digits to compare prompt costs (0.019 ms) and kubectl calls (567.4 ms) alike."""
    if abs(value) < 1:
        return f"{value:.3f}"
    return f"{value:.1f}" if abs(value) < 10_000 else f"{value:.0f}"


def markdown_table(rows: Iterable[Row]) -> str:
    lines = [
        "| benchmark | measured | baseline | measured median | baseline median "
        "| difference | ratio | budget | verdict |",
        "|---|---|---|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        budget = r.budget.text if r.budget else "-"
        lines.append(
            f"| {r.benchmark} | {r.label} | {r.baseline_label} "
            f"| {number(r.measured)} {r.unit} | {number(r.baseline)} {r.unit} "
            f"| {'+' if r.added >= 0 else ''}{number(r.added)} {r.unit} "
            f"| {r.ratio:.2f} | {budget} | {r.verdict} |"
        )
    return "\n".join(lines)


def run_main(main: Callable[[], int]) -> int:
    """Run a benchmark script's ``main``: a failure is one line on stderr, not a traceback."""
    try:
        return main()
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
