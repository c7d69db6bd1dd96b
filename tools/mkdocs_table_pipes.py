"""mkdocs hook: code spans in table cells, as GitHub shows them and easy to read.

In a Markdown table a literal pipe must be written ``\\|``, even inside backticks, or it
splits the cell (GitHub's rule). GitHub then shows the code as ``a | b``; Python-Markdown keeps
the backslash inside code spans, so the site would show ``kubesafe init fish \\| source``,
which fails when pasted. This hook adds a tree processor that drops that backslash in the
code spans of table cells only; code blocks and text outside tables are left alone.

It also marks where a long code span in a cell may wrap (``<wbr>`` after ``/``, ``::``,
``_`` and ``.``), so a test name like ``tests/e2e/test_demo.py::test_tour`` breaks between
its words instead of anywhere, and copies unchanged.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree

from markdown import Markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor
from markdown.util import AtomicString
from mkdocs.config.defaults import MkDocsConfig

ESCAPED_PIPE = "\\|"
# Split after these; the pieces are the words a browser may put on separate lines.
WRAP_AFTER = re.compile(r"(?:(?<=::)|(?<=[/_.]))(?=[^/_.:])")


class TablePipes(Treeprocessor):
    def run(self, root: etree.Element) -> None:
        for cell in (*root.iter("td"), *root.iter("th")):
            for code in cell.iter("code"):
                if code.text and ESCAPED_PIPE in code.text:
                    code.text = AtomicString(code.text.replace(ESCAPED_PIPE, "|"))
                if code.text and len(code) == 0:
                    _mark_wrap_points(code)


def _mark_wrap_points(code: etree.Element) -> None:
    first, *rest = WRAP_AFTER.split(code.text or "")
    code.text = AtomicString(first)
    for piece in rest:
        wbr = etree.SubElement(code, "wbr")
        wbr.tail = AtomicString(piece)


class TablePipesExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:
        # After "inline" (priority 20), which builds the code elements.
        md.treeprocessors.register(TablePipes(md), "kubesafe_table_pipes", 19)


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    # Python-Markdown takes extension objects as well as names; mkdocs types the list as names.
    config.markdown_extensions.append(TablePipesExtension())  # type: ignore[arg-type]
    return config
