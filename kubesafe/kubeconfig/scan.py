"""A fast reader for the block-style YAML that kubectl and cloud CLIs write.

PyYAML (even with libyaml) builds a node graph and then Python objects for every
scalar: about 5 s for a 10,000-context kubeconfig here, where kubectl needs 1-2 s.
Almost every kubeconfig is block style with one ``key: value`` per line, so this
module reads that subset in one pass into the same plain document PyYAML would
build, and gives up (returns None) on anything outside it: flow collections other
than ``{}``/``[]``, anchors, aliases, tags, block scalars, multi-line scalars,
escapes in double quotes, comments after a value, several documents, tabs, control
characters, YAML's other line breaks, merge keys, or a plain scalar that YAML might
read as a number (``123``, ``1.5``, ``0x1F``); booleans and nulls (``true``, ``yes``,
``~``, ``null``) it builds as the loader does. The caller then uses the full parser, so
the result is always the full parser's: the scanner is only allowed to be faster.
tests/kubeconfig/test_scan.py checks that claim differentially on fuzzed files.
"""

from __future__ import annotations

TYPE_CHECKING = False  # the first call after a kubeconfig change: no typing, no re
if TYPE_CHECKING:
    from typing import Any

# What YAML reads differently from a plain line or refuses: tabs and control characters
# (C0, DEL, C1, U+FFFE/U+FFFF), CR, a byte-order mark, and the line breaks NEL, LS and PS.
# Control bytes become NUL, everything else stays: one translate and one memchr.
_CONTROL_TABLE = bytes(0 if (b < 0x20 and b != 0x0A) or b == 0x7F else b for b in range(256))
_C1 = tuple(bytes((0xC2, second)) for second in range(0x80, 0xA0))  # U+0080..U+009F
_UNSAFE_SEQUENCES = (
    b"\xef\xbb\xbf",
    b"\xef\xbf\xbe",
    b"\xef\xbf\xbf",
    b"\xe2\x80\xa8",
    b"\xe2\x80\xa9",
)
_KEY_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_KEY_CHARS = _KEY_FIRST | frozenset(".-/")
# Characters that start a YAML indicator, so a plain scalar cannot begin with them.
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
# YAML 1.1 words that are not strings, and what kubesafe's loader makes of them (go-yaml v2
# agrees: y/n are booleans too). "=" and "<<" are left to the full parser.
_WORDS: dict[str, bool | None] = {
    **dict.fromkeys(
        ("y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"), True
    ),
    **dict.fromkeys(
        ("n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"), False
    ),
    **dict.fromkeys(["~", "null", "Null", "NULL"], None),
}
_NOT_STRINGS = frozenset({*_WORDS, "=", "<<"})
_NUMERIC = frozenset("0123456789_:.xXoObBeEaAcCdDfF+-")
_NUMBER_STARTS = frozenset("0123456789+-.")
# First characters that need _scalar's full look (indicators, quotes, numbers, "{}", "[]").
_SPECIAL_STARTS = _INDICATORS | _NUMBER_STARTS | {" "}


class _GiveUp(Exception):
    """Outside the subset: let the full parser decide."""


def scan(content: bytes) -> dict[str, Any] | None:
    """The document PyYAML would load from ``content``, or None when unsure."""
    if not safe_bytes(content):
        return None
    return scan_text(content.decode("utf-8"))


def safe_bytes(content: bytes) -> bool:
    """Whether ``content`` is UTF-8 free of what the scanner leaves to the full parser."""
    if b"\x00" in content.translate(_CONTROL_TABLE):
        return False
    if not content.isascii():
        if any(sequence in content for sequence in (*_C1, *_UNSAFE_SEQUENCES)):
            return False
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def scan_text(text: str) -> dict[str, Any] | None:
    """``scan`` for text that passed ``safe_bytes``."""
    try:
        document = _parse(text)
    except (_GiveUp, IndexError):
        return None
    return document if isinstance(document, dict) and document else None


def _parse(text: str) -> dict[str, Any]:
    root: dict[str, Any] = {}
    # Open containers, innermost last: (indentation of their entries, container).
    stack: list[tuple[int, Any]] = [(0, root)]
    # A key (or sequence slot) whose value is a nested block, if the next line opens one.
    pending: tuple[Any, Any, int] | None = None
    # Keys repeat on every entry ("name", "server"): check each spelling once.
    keys: dict[str, bool] = {}
    for raw in text.split("\n"):
        content = raw.lstrip(" ")
        if not content:
            continue
        first = content[0]
        if first == "#":
            continue
        indent = len(raw) - len(content)
        if indent == 0 and first in "-.%" and content.startswith(("---", "...", "%")):
            raise _GiveUp
        if content[-1] == " ":
            content = content.rstrip(" ")
        entry = first == "-" and (len(content) == 1 or content[1] == " ")
        if pending is not None:
            parent, slot, opened_at = pending
            pending = None
            if indent > opened_at or (indent == opened_at and entry and type(parent) is dict):
                child: Any = [] if entry else {}
                parent[slot] = child
                stack.append((indent, child))
            else:
                parent[slot] = None
        while stack[-1][0] > indent:
            stack.pop()
        top_indent, top = stack[-1]
        if top_indent != indent:
            raise _GiveUp
        if entry:
            if type(top) is not list:
                raise _GiveUp
            rest = content[2:].lstrip(" ")
            if not rest:
                top.append(None)
                pending = (top, len(top) - 1, indent)
                continue
            key, colon, value = rest.partition(":")
            valid = keys.get(key)
            if valid is None:
                valid = keys[key] = _plain_key(key)
            if colon and (not value or value[0] == " ") and valid:
                item: dict[str, Any] = {}
                top.append(item)
                inner = indent + len(content) - len(rest)
                stack.append((inner, item))
                pending = _store(item, key, value, inner)
            else:
                top.append(_scalar(rest))
            continue
        if type(top) is list:
            # A sequence written at its key's own indentation ends with the next key.
            stack.pop()
            top_indent, top = stack[-1]
            if top_indent != indent or type(top) is not dict:
                raise _GiveUp
        key, colon, value = content.partition(":")
        valid = keys.get(key)
        if valid is None:
            valid = keys[key] = _plain_key(key)
        if not colon or not valid:
            raise _GiveUp
        if not value:
            pending = (top, key, indent)
            continue
        if value[0] != " ":
            raise _GiveUp
        value = value[1:]
        if (
            value
            and value[0] not in _SPECIAL_STARTS
            and ": " not in value
            and " #" not in value
            and value[-1] != ":"
            and value not in _NOT_STRINGS
        ):
            top[key] = value  # the common case: a plain string, as _scalar would say
        else:
            pending = _store(top, key, " " + value, indent)
    if pending is not None:
        pending[0][pending[1]] = None
    return root


def _plain_key(key: str) -> bool:
    """A key YAML reads as this very string (not ``yes``, ``1``, ``<<``)."""
    return (
        key[:1] in _KEY_FIRST
        and _KEY_CHARS.issuperset(key)
        and key not in _NOT_STRINGS
        and not (key[0] in _NUMBER_STARTS and _looks_numeric(key))
    )


def _store(
    mapping: dict[str, Any], key: str, value: str, indent: int
) -> tuple[Any, Any, int] | None:
    """Set ``key`` from the text after its colon; a pending slot when the value is nested."""
    value = value.lstrip(" ")
    if not value:
        return (mapping, key, indent)
    mapping[key] = _scalar(value)
    return None


def _scalar(text: str) -> Any:
    first = text[0]
    if first == "'":
        body = text[1:-1]
        if len(text) < 2 or text[-1] != "'" or body.replace("''", "").count("'"):
            raise _GiveUp
        return body.replace("''", "'")
    if first == '"':
        body = text[1:-1]
        if len(text) < 2 or text[-1] != '"' or '"' in body or "\\" in body:
            raise _GiveUp
        return body
    if text == "{}":
        return {}
    if text == "[]":
        return []
    if text in _WORDS:
        return _WORDS[text]
    if first in _INDICATORS and (first not in "-?:" or len(text) < 2 or text[1] == " "):
        raise _GiveUp
    if ": " in text or " #" in text or text[-1] == ":" or text in _NOT_STRINGS:
        raise _GiveUp
    if first in _NUMBER_STARTS and _looks_numeric(text):
        raise _GiveUp
    return text


def _looks_numeric(text: str) -> bool:
    """Whether YAML 1.1 might read ``text`` as an int, a float or a sexagesimal.

    A superset of PyYAML's int and float resolvers: anything that could be one is
    left to the full parser. Returns at the first character no number has.
    """
    body = text[1:] if text[0] in "+-" else text
    if not body or body in (".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN"):
        return True
    if not (body[0].isdigit() or (body[0] == "." and body[1:2].isdigit())):
        return False
    return all(c in _NUMERIC for c in body)
