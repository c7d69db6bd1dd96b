"""The BUILT documentation site (mkdocs build --strict), read as HTML.

What a reader copies must be what the page means: no ``\\|`` left over from Markdown table
escaping, lists that are lists. The browser checks (layout, requests, colours) are in
tests/test_docs_site_browser.py.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tools.site_screenshots import build_site, page_paths

ROOT = Path(__file__).resolve().parent.parent


class _Page(HTMLParser):
    """Text of the page, of its paragraphs, and of the code spans inside table cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.html = ""
        self.text: list[str] = []
        self.paragraphs: list[str] = []
        self.cell_code: list[str] = []
        self._open: list[str] = []
        self._paragraph: list[str] | None = None
        self._code: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "img", "input", "meta", "link", "hr", "wbr"):
            return
        self._open.append(tag)
        if tag == "p":
            self._paragraph = []
        elif tag == "code" and ({"td", "th"} & set(self._open)):
            self._code = []

    def handle_endtag(self, tag: str) -> None:
        if tag not in self._open:
            return
        while self._open and self._open.pop() != tag:
            pass
        if tag == "p" and self._paragraph is not None:
            self.paragraphs.append("".join(self._paragraph))
            self._paragraph = None
        elif tag == "code" and self._code is not None:
            self.cell_code.append("".join(self._code))
            self._code = None

    def handle_data(self, data: str) -> None:
        if {"script", "style"} & set(self._open):
            return
        self.text.append(data)
        if self._paragraph is not None:
            self._paragraph.append(data)
        if self._code is not None:
            self._code.append(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, _Page]:
    directory = tmp_path_factory.mktemp("site")
    build_site(directory)
    pages = {}
    for path in page_paths(directory):
        parser = _Page()
        parser.html = (directory / path / "index.html").read_text(encoding="utf-8")
        parser.feed(parser.html)
        pages[path or "index"] = parser
    return pages


def test_every_page_of_the_nav_is_built(site: dict[str, _Page]) -> None:
    nav = re.findall(r"^  - [^:]+: (\S+)\.md$", (ROOT / "mkdocs.yml").read_text(), re.M)
    assert sorted(site) == sorted("index" if name == "index" else f"{name}/" for name in nav)


def test_no_escaped_pipe_survives_in_the_built_site(site: dict[str, _Page]) -> None:
    leftovers = [path for path, page in site.items() if "\\|" in "".join(page.text)]
    assert leftovers == []


@pytest.mark.parametrize(
    ("page", "command"),
    [
        ("index", "status is-interactive; and kubesafe init fish | source"),
        ("shell/", "status is-interactive; and kubesafe init fish | source"),
        ("security/", "printf 'y\\n' | kubectl delete ..."),
        ("comparison/", "printf y |"),
    ],
)
def test_commands_in_table_cells_read_as_typed(
    site: dict[str, _Page], page: str, command: str
) -> None:
    assert command in site[page].cell_code


# A line of a paragraph that Markdown should have made a list item (it needs a blank line).
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+\S", re.M)


def test_no_list_runs_into_the_paragraph_before_it(site: dict[str, _Page]) -> None:
    joined = [
        (path, paragraph)
        for path, page in site.items()
        for paragraph in page.paragraphs
        if LIST_ITEM.search(paragraph)
    ]
    assert joined == []


def test_nested_lists_are_indented_so_the_site_nests_them() -> None:
    """Python-Markdown nests a list only when indented by 4 spaces; GitHub also takes 2,
    so a 2-space nested list looks right in the repository and flat on the site."""
    shallow = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        in_fence = False
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("```"):
                in_fence = not in_fence
            indent = len(line) - len(line.lstrip(" "))
            if not in_fence and re.match(r"\s*(?:[-*+]|\d+\.) ", line) and indent % 4:
                shallow.append(f"{page.name}:{number}: {line.strip()}")
    assert shallow == []


def test_a_nested_list_renders_nested(site: dict[str, _Page]) -> None:
    assert re.search(
        r"<strong>Environment variables</strong>[^<]*<code>kubesafe doctor</code>:\s*<ul>\s*"
        r"<li><code>KUBESAFE_SHELL</code>",
        site["shell/"].html,
    )


def test_long_code_in_table_cells_wraps_between_words_and_copies_whole(
    site: dict[str, _Page],
) -> None:
    name = "tests/e2e/test_kubectx_parity.py::test_ctx_matches_kubectx_step_by_step"
    assert name in site["comparison/"].cell_code  # the text a reader copies
    marked = "tests/<wbr />e2e/<wbr />test_<wbr />kubectx_<wbr />parity.<wbr />py::<wbr />test_"
    assert marked in site["comparison/"].html
