"""Append-only audit log of decisions on protected targets (JSON lines)."""

from __future__ import annotations

import getpass
import json
import os
import time
from typing import Any

from kubesafe import paths


def audit_path() -> str:
    return os.path.join(paths.state_dir(), "audit.jsonl")


def record(entry: dict[str, Any]) -> str | None:
    """Append one decision; returns an error message instead of raising."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    line = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "user": user, **entry}
    path = audit_path()
    try:
        paths.ensure_private_dir(os.path.dirname(path))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    except OSError as exc:
        return f"cannot write the audit log {path}: {exc.strerror or exc}"
    return None
