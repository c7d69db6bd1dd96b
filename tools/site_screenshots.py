"""Build the documentation site, serve it on 127.0.0.1 and look at every page in chromium.

Usage: python tools/site_screenshots.py [--out DIR] [--width PX] [--site DIR]

For every page, in Debian's headless chromium at the given window width (1920 px unless told):
a full-page screenshot ``DIR/<page>.png``, and measurements taken in the page itself: table
columns that are clipped or scrolled out of sight, code blocks and how many colours their
highlighting shows, and every request the page made. Writes ``DIR/report.json`` and prints
each problem; exits 1 when there is one. ``tests/test_docs_site_browser.py`` runs the same
checks.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `tools` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.cdp import Browser

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
HEIGHT = 1080
# Taller pages are cut here in the screenshot (the measurements cover the whole page).
MAX_SCREENSHOT_HEIGHT = 16000

# Runs in the page. A cell is hidden when it is narrower than a pixel or lies outside the
# visible box: the window intersected with every ancestor that clips (overflow not visible).
MEASURE = r"""
(() => {
  const visibleBox = (element) => {
    let box = {left: 0, right: window.innerWidth};
    for (let node = element.parentElement; node; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.overflowX !== 'visible') {
        const rect = node.getBoundingClientRect();
        box = {left: Math.max(box.left, rect.left), right: Math.min(box.right, rect.right)};
      }
    }
    return box;
  };
  const tables = [...document.querySelectorAll('table')].map((table, index) => {
    const headers = [...table.querySelectorAll('thead th')].map((th) => th.textContent.trim());
    const hidden = new Set();
    const narrow = new Set();
    for (const row of table.rows) {
      [...row.cells].forEach((cell, column) => {
        const rect = cell.getBoundingClientRect();
        const box = visibleBox(cell);
        if (rect.width < 1 || rect.left < box.left - 1 || rect.right > box.right + 1) {
          hidden.add(column);
        }
        // A column too narrow to read: less than three characters of the cell's font.
        const em = parseFloat(getComputedStyle(cell).fontSize);
        if (cell.textContent.trim() && rect.width < 3 * em) narrow.add(column);
      });
    }
    const scroller = table.closest('.md-typeset__scrollwrap') || table;
    return {
      index,
      headers,
      hidden_columns: [...hidden].sort(),
      narrow_columns: [...narrow].sort(),
      scroll_overflow: Math.max(scroller.scrollWidth - scroller.clientWidth,
                                table.scrollWidth - table.clientWidth),
      width: Math.round(table.getBoundingClientRect().width),
    };
  });
  const code = [...document.querySelectorAll('pre')].map((pre) => {
    const codeEl = pre.querySelector('code') || pre;
    const holder = pre.closest('div.highlight') || pre;
    const classes = `${holder.className} ${pre.className} ${codeEl.className}`.split(/\s+/);
    const language = (classes.find((c) => c.startsWith('language-')) || '')
      .replace('language-', '');
    const colours = new Set([getComputedStyle(codeEl).color]);
    let tokens = 0;
    codeEl.querySelectorAll('span').forEach((span) => {
      if (!span.textContent.trim()) return;
      tokens += 1;
      colours.add(getComputedStyle(span).color);
    });
    const text = codeEl.textContent;
    return {language, colours: colours.size, tokens, lines: text.trimEnd().split('\n').length,
            text: text.slice(0, 60)};
  });
  return {
    title: document.title,
    height: Math.ceil(document.documentElement.scrollHeight),
    tables,
    code,
  };
})()
"""


@dataclass
class PageReport:
    path: str
    title: str = ""
    screenshot: str = ""
    requests: list[str] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    code: list[dict[str, Any]] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = [f"{self.path}: request off {HOST}: {url}" for url in self.requests if offsite(url)]
        for table in self.tables:
            name = f"{self.path}: table {table['index'] + 1} ({' | '.join(table['headers'])})"
            for column in table["hidden_columns"]:
                found.append(f"{name}: column {column + 1} is clipped or hidden")
            for column in table["narrow_columns"]:
                found.append(f"{name}: column {column + 1} is too narrow to read")
            if table["scroll_overflow"] > 1:
                found.append(f"{name}: scrolls sideways by {table['scroll_overflow']} px")
        for block in self.code:
            # One line with nothing to colour (`kubesafe doctor`) is fine; anything else that
            # names a language and shows one colour was not highlighted.
            trivial = block["lines"] == 1 and block["tokens"] == 0
            if highlighted_language(block["language"]) and block["colours"] < 2 and not trivial:
                found.append(
                    f"{self.path}: {block['language']} block not highlighted: {block['text']!r}"
                )
        return found


def highlighted_language(language: str) -> bool:
    """A fence that names a language (plain fences are ``text``: nothing to colour)."""
    return language not in ("", "text")


def offsite(url: str) -> bool:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme in ("data", "blob", "about"):
        return False
    return parsed.hostname != HOST


def build_site(destination: Path) -> None:
    """``mkdocs build --strict`` of this repository into ``destination``."""
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(destination)],
        cwd=ROOT,
        check=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def page_paths(site: Path) -> list[str]:
    """Every page of a built site, as a URL path ("", "shell/", ...), 404 page left out."""
    pages = []
    for index in sorted(site.rglob("index.html")):
        relative = index.parent.relative_to(site).as_posix()
        pages.append("" if relative == "." else f"{relative}/")
    return pages


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve(site: Path) -> Iterator[str]:
    """Serve ``site`` on 127.0.0.1 (a free port); yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def inspect_page(browser: Browser, url: str, path: str, out: Path | None, width: int) -> PageReport:
    browser.events.clear()
    browser.send("Page.navigate", {"url": url + path})
    browser.wait_for("Page.loadEventFired")
    # Let the theme's script and layout settle: fonts, then two frames.
    browser.evaluate(
        "document.fonts.ready.then(() => new Promise((done) =>"
        " requestAnimationFrame(() => requestAnimationFrame(done))))"
    )
    measured = browser.evaluate(MEASURE)
    report = PageReport(
        path=path or "index",
        title=measured["title"],
        requests=[
            event["params"]["request"]["url"]
            for event in browser.events
            if event["method"] == "Network.requestWillBeSent"
        ],
        tables=measured["tables"],
        code=measured["code"],
    )
    if out is not None:
        height = min(measured["height"], MAX_SCREENSHOT_HEIGHT)
        shot = browser.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
        )
        name = (path.strip("/") or "index").replace("/", "_") + ".png"
        (out / name).write_bytes(base64.b64decode(shot["data"]))
        report.screenshot = str(out / name)
    return report


def inspect_site(site: Path, out: Path | None, width: int = 1920) -> list[PageReport]:
    """Serve a built site and inspect every page in one headless chromium."""
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    with serve(site) as url, Browser() as browser:
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
        )
        browser.send("Network.enable")
        browser.send("Page.enable")
        return [inspect_page(browser, url, path, out, width) for path in page_paths(site)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site-screenshots")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--site", type=Path, help="an already built site (default: build it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubesafe-site-") as tmp:
        site = args.site or Path(tmp)
        if args.site is None:
            build_site(site)
        reports = inspect_site(site, args.out, args.width)
    (args.out / "report.json").write_text(
        json.dumps([asdict(r) for r in reports], indent=2) + "\n", encoding="utf-8"
    )
    problems = [problem for report in reports for problem in report.problems()]
    for report in reports:
        print(f"{report.screenshot}  {report.title}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print(f"{len(reports)} pages, {len(problems)} problem(s); screenshots in {args.out}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
