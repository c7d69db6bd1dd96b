"""docs/comparison.md: every kubesafe claim names a test, and every named test exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "comparison.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _claim_rows() -> list[list[str]]:
    """Rows of every table whose header has a "checked by" column."""
    rows: list[list[str]] = []
    in_table = False
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        # Escaped pipes inside cells (`\|`) are not column separators.
        line = line.replace("\\|", "¦")
        if not line.startswith("|"):
            in_table = False
            continue
        cells = _cells(line)
        if not in_table:
            in_table = cells[-1] == "checked by"
            continue
        if set("".join(cells)) <= set("-: "):
            continue
        rows.append(cells)
    return rows


def test_every_claim_row_names_a_test() -> None:
    rows = _claim_rows()
    assert len(rows) >= 30
    missing = [row[0] for row in rows if not REFERENCE.search(row[-1])]
    assert not missing, f"rows without a test in 'checked by': {missing}"


def test_every_named_test_exists() -> None:
    references = REFERENCE.findall(PAGE.read_text(encoding="utf-8"))
    assert references
    problems = []
    for path, name in set(references):
        source = ROOT / path
        if not source.is_file():
            problems.append(f"{path} does not exist")
        elif not re.search(rf"^\s*(async\s+)?def {name}\(", source.read_text(), re.MULTILINE):
            problems.append(f"{path} has no test {name}")
    assert not problems, problems
