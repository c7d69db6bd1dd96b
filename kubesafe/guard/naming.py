"""The URL path prefix of a context in its guard (no ``re``: shell start loads this)."""

from __future__ import annotations

import hashlib


def context_id(name: str) -> str:
    """A URL path segment for a context: readable, and unique by its hash."""
    lowered = name.lower()
    slug = "".join(c if ("a" <= c <= "z" or "0" <= c <= "9") else "-" for c in lowered)
    while "--" in slug:
        slug = slug.replace("--", "-")
    slug = slug.strip("-")[:24] or "context"
    return f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
