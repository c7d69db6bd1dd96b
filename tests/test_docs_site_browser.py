"""The documentation site in a real browser: Debian's headless chromium, at 1920 px.

tools/site_screenshots.py builds the site, serves it on 127.0.0.1, opens every page and
measures it in the page (a screenshot per page as well). Here: no table column is clipped or
scrolled out of sight, nothing is fetched from anywhere but 127.0.0.1 (no CDN, no web fonts),
and code blocks are coloured by the bundled highlighting.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tools.site_screenshots import (
    PageReport,
    build_site,
    highlighted_language,
    inspect_site,
    offsite,
    page_paths,
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("site")
    build_site(directory)
    return directory


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def reports(site: Path, screenshots: Path) -> list[PageReport]:
    return inspect_site(site, screenshots, width=1920)


def test_every_page_was_opened_and_shot_at_1920_px(site: Path, reports: list[PageReport]) -> None:
    assert [r.path for r in reports] == [p or "index" for p in page_paths(site)]
    for report in reports:
        assert report.title.endswith("kubesafe"), report.path
        png = Path(report.screenshot).read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        width, height = struct.unpack(">II", png[16:24])
        assert width == 1920 and height >= 1000, (report.path, width, height)


def test_no_request_leaves_127_0_0_1(reports: list[PageReport]) -> None:
    assert all(r.requests for r in reports)  # the page, its CSS and JS were recorded
    assert [(r.path, url) for r in reports for url in r.requests if offsite(url)] == []


def test_offsite_means_any_host_but_127_0_0_1() -> None:
    assert offsite("https://fonts.googleapis.com/css?family=Roboto")
    assert offsite("http://localhost:8000/")
    assert not offsite("http://127.0.0.1:8000/assets/stylesheets/main.css")
    assert not offsite("data:image/svg+xml;base64,AAAA")


def test_no_table_column_is_clipped_or_scrolled_out_of_sight(reports: list[PageReport]) -> None:
    tables = [(r.path, t) for r in reports for t in r.tables]
    assert len(tables) >= 30  # comparison, configuration, performance, ... were measured
    hidden = [
        (path, table["headers"], table["hidden_columns"], table["scroll_overflow"])
        for path, table in tables
        if table["hidden_columns"] or table["scroll_overflow"] > 1
    ]
    assert hidden == []


def test_no_table_column_is_squeezed_unreadable(reports: list[PageReport]) -> None:
    narrow = [
        (r.path, t["headers"], t["narrow_columns"])
        for r in reports
        for t in r.tables
        if t["narrow_columns"]
    ]
    assert narrow == []


def test_the_performance_table_shows_its_numbers(reports: list[PageReport]) -> None:
    [page] = [r for r in reports if r.path == "performance/"]
    tables = [t for t in page.tables if "measured median" in t["headers"]]
    assert tables  # the latest run, and a benchmark's own tables
    for results in tables:
        assert len(results["headers"]) == 9
        assert results["hidden_columns"] == []


def test_code_blocks_are_highlighted(reports: list[PageReport]) -> None:
    blocks = [(r.path, b) for r in reports for b in r.code]
    with_language = [(path, b) for path, b in blocks if highlighted_language(b["language"])]
    assert {b["language"] for _, b in with_language} >= {"bash", "yaml", "console"}
    # A one-line command with a comment shows two colours; anything longer shows more.
    coloured = [(path, b) for path, b in with_language if b["colours"] >= 2]
    assert len(coloured) >= max(8, len(with_language) // 2), (len(coloured), len(with_language))
    # Token spans that all show one colour: the highlighting's stylesheet did not load.
    grey = [(path, b["text"]) for path, b in with_language if b["tokens"] and b["colours"] < 2]
    assert grey == []


def test_every_problem_the_tool_reports_is_covered_here(reports: list[PageReport]) -> None:
    assert [problem for r in reports for problem in r.problems()] == []
