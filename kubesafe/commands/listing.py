"""How ``kubesafe ctx`` and ``kubesafe ns`` print a list: light enough for the fast path.

``kubesafe ns`` without arguments is answered by :mod:`kubesafe.commands.ns_list`
before click is imported; it prints with these same functions, so both paths print
byte for byte the same list.
"""

from __future__ import annotations

import sys

from kubesafe.policy import PRODUCTION_NAMES

TYPE_CHECKING = False  # typing costs an import on the fast path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


def interactive(env: Mapping[str, str]) -> bool:
    """A picker only for a person at a terminal; KUBECTX_IGNORE_FZF asks for the list."""
    return sys.stdin.isatty() and sys.stdout.isatty() and not env.get("KUBECTX_IGNORE_FZF")


def color_enabled(env: Mapping[str, str], stream_is_tty: bool) -> bool:
    return stream_is_tty and not env.get("NO_COLOR")


def paint(text: str, code: str, enabled: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if enabled else text


def render_list(
    items: Sequence[str],
    current: str,
    env: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
) -> str:
    """One item a line, the current one highlighted, environment labels after the name."""
    enabled = color_enabled(env, sys.stdout.isatty())
    if not enabled and not labels:
        return "\n".join(items)  # 20,000 namespaces: no work per line
    lines = []
    for item in items:
        line = paint(item, "1;33", enabled) if item == current else item
        if labels and item in labels:
            label = labels[item]
            red = label.lower() in PRODUCTION_NAMES
            line += " " + paint(f"[{label}]", "31" if red else "33", enabled)
        lines.append(line)
    return "\n".join(lines)
