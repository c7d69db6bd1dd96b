"""Ground truth from real kubectl: which API server it contacted, read from its -v=6 log."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

_URL = re.compile(r'url="([^"]+)"')
_API_MARKERS = ("/api?", "/api/", "/apis?", "/apis/", "/version")


def contacted_server(stderr: str) -> str | None:
    """The server URL (with any path prefix) of the first request kubectl logged."""
    for match in _URL.finditer(stderr):
        url = match.group(1)
        for marker in _API_MARKERS:
            if marker in url:
                return url[: url.index(marker)]
    return None


def kubectl_server(binary: Path, argv: list[str], env: dict[str, str]) -> str | None:
    """Run ``kubectl ARGV -v=6`` and return the server it contacted (None: it contacted none)."""
    result = subprocess.run(
        [str(binary), *argv, "-v=6", "--request-timeout=2s"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return contacted_server(result.stderr)
