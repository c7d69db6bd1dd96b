"""Time-boxed lifts: the guard's one question, "is a lift open for this context here?".

A lift lives in a small private state file in the terminal's guard directory::

    {"version": 1, "terminal": "<terminal id>",
     "lifts": {"<context>": {"until": <epoch seconds>, "reason": "...", "opened": <epoch>}}}

The guard only reads it (re-reading when the file changes); ``kubesafe lift``
(next step, with its person-present checks) will write it with ``open_lift``
and ``close_lift``. A file another user could write, another terminal's file,
or an unreadable one means no lift: the guard fails closed.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any, TypeGuard

from kubesafe import paths

LIFTS_FILE = "lifts.json"
_VERSION = 1


@dataclass(frozen=True)
class Lift:
    context: str
    until: float
    reason: str
    opened: float

    def remaining(self, now: float | None = None) -> float:
        return self.until - (time.time() if now is None else now)


class LiftBook:
    """Reads a terminal's lift file, cached by the file's identity."""

    def __init__(self, path: str, terminal: str) -> None:
        self.path = path
        self.terminal = terminal
        self._identity: tuple[int, int, int, int] | None = None
        self._lifts: dict[str, Lift] = {}

    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
        except OSError:
            self._identity, self._lifts = None, {}
            return
        identity = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if identity == self._identity:
            return
        self._identity = identity
        self._lifts = _parse(paths.read_private(self.path), self.terminal)

    def current(self, context: str, now: float | None = None) -> Lift | None:
        """The open lift for ``context`` in this terminal, or None."""
        self._refresh()
        lift = self._lifts.get(context)
        if lift is None or lift.remaining(now) <= 0:
            return None
        return lift


def _parse(content: bytes | None, terminal: str) -> dict[str, Lift]:
    if content is None:
        return {}
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(data, dict) or data.get("version") != _VERSION:
        return {}
    if data.get("terminal") != terminal or not isinstance(data.get("lifts"), dict):
        return {}
    found: dict[str, Lift] = {}
    for context, entry in data["lifts"].items():
        lift = _lift(context, entry)
        if lift is not None:
            found[context] = lift
    return found


def _lift(context: Any, entry: Any) -> Lift | None:
    if not isinstance(context, str) or not isinstance(entry, dict):
        return None
    until, opened, reason = entry.get("until"), entry.get("opened", 0), entry.get("reason", "")
    if not (_number(until) and _number(opened) and isinstance(reason, str)):
        return None
    return Lift(context, float(until), reason, float(opened))


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _read_all(path: str, terminal: str) -> dict[str, Any]:
    content = paths.read_private(path)
    if content is not None:
        try:
            data = json.loads(content)
            if isinstance(data, dict) and data.get("terminal") == terminal:
                lifts = data.get("lifts")
                if isinstance(lifts, dict):
                    return lifts
        except (ValueError, UnicodeDecodeError):
            pass
    return {}


def _write_all(path: str, terminal: str, lifts: dict[str, Any]) -> None:
    payload = {"version": _VERSION, "terminal": terminal, "lifts": lifts}
    if not paths.write_private(path, json.dumps(payload, indent=2).encode() + b"\n"):
        raise OSError(f"cannot write {path}")


def open_lift(path: str, terminal: str, context: str, seconds: float, reason: str = "") -> Lift:
    """Record a lift (the caller has checked that a person asked for it)."""
    now = time.time()
    lifts = {k: v for k, v in _read_all(path, terminal).items() if k != context}
    lifts[context] = {"until": now + seconds, "reason": reason, "opened": now}
    _write_all(path, terminal, lifts)
    return Lift(context, now + seconds, reason, now)


def close_lift(path: str, terminal: str, context: str) -> bool:
    """End a lift early; False when none was recorded."""
    lifts = _read_all(path, terminal)
    if context not in lifts:
        return False
    del lifts[context]
    _write_all(path, terminal, lifts)
    return True
