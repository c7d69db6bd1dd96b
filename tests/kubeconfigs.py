"""Helpers that write kubeconfig files for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def kubeconfig(
    *,
    clusters: dict[str, str] | None = None,
    contexts: dict[str, dict[str, str]] | None = None,
    users: list[str] | None = None,
    current: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Config"}
    if clusters is not None:
        doc["clusters"] = [{"name": n, "cluster": {"server": s}} for n, s in clusters.items()]
    if contexts is not None:
        doc["contexts"] = [{"name": n, "context": dict(c)} for n, c in contexts.items()]
    if users is not None:
        doc["users"] = [{"name": n, "user": {"token": f"tok-{n}"}} for n in users]
    if current is not None:
        doc["current-context"] = current
    doc.update(extra or {})
    return doc


def write(path: Path, doc: dict[str, Any] | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
    return path
