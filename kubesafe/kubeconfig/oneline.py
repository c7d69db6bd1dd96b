"""The one-line ``current-context`` edit, proven by reading back only its own section.

``kubesafe ctx NAME`` changes one line of a kubeconfig that may hold 10,000 contexts;
re-reading the whole new file to verify that line cost more than the edit, the lock
and the atomic rename together. The old file is read section by section
(``sections.parse_sections``, which gives up on anything its block-style scanner does
not read as the full parser would). Top-level sections are read independently of each
other, and the new file differs from the old one only inside the ``current-context``
section, so reading that section back (split off exactly as ``parse_sections`` splits
it) proves the new file reads as the old one with only the current context changed.

Only the common layout is handled: the word ``current-context`` appears once in the
file, at the start of a line. Anything else returns None, and the caller falls back
to ``sections.replace_current_context`` and then the event-checked surgery.
"""

from __future__ import annotations

from kubesafe.kubeconfig.sections import parse_sections

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from typing import Any

    from kubesafe.kubeconfig.parse import FileData

_KEY = b"current-context:"
# The first byte of a line that continues the section above it (see sections.py).
_CONTINUATION = frozenset(b" #-")


def switch_line(
    content: bytes, quoted: str, value: str, memo: dict[bytes, dict[str, Any]]
) -> tuple[bytes, FileData, str] | None:
    """``content`` with its current context set to ``value`` (written as ``quoted``).

    Returns (new content, the new content's data, the previous current context), or
    None when the file is not in the layout this handles. ``memo`` is the file's
    section memo: afterwards it describes the new content's sections.
    """
    from kubesafe.kubeconfig.parse import KubeconfigError, extract
    from kubesafe.kubeconfig.scan import safe_bytes, scan_text

    if content.count(b"current-context") != 1:
        return None  # none to replace, or a comment, a quoted key, a name: the general path
    start = 0 if content.startswith(_KEY) else content.find(b"\n" + _KEY) + 1
    if start == 0 and not content.startswith(_KEY):
        return None  # the word is there, but not as a key at the start of a line
    old = parse_sections(content, memo)
    if old is None:
        return None
    line_end = content.find(b"\n", start)
    line_end = len(content) if line_end < 0 else line_end
    section_end = _section_end(content, line_end)
    new_line = b"current-context: " + quoted.encode("utf-8")
    old_section = content[start:section_end]
    new_section = new_line + content[line_end:section_end]
    if not safe_bytes(new_section):
        return None
    base = extract({})
    fields: list[dict[str, Any]] = []
    for section in (old_section, new_section):
        document = scan_text(section.decode("utf-8"))
        if document is None:
            return None
        try:
            extracted = extract(document)
        except KubeconfigError:
            return None
        fields.append({k: v for k, v in dict(extracted).items() if v != base[k]})  # type: ignore[literal-required]
    previous = old["current_context"]
    was, now = fields
    if was != ({"current_context": previous} if previous else {}):
        return None
    if now != {"current_context": value}:
        return None
    from kubesafe.digest import blake2b

    memo.pop(blake2b(old_section).digest(), None)
    memo[blake2b(new_section).digest()] = now
    new: FileData = {**old, "current_context": value}
    return content[:start] + new_line + content[line_end:], new, previous


def _section_end(content: bytes, line_end: int) -> int:
    """Where the section whose first line ends at ``line_end`` ends (its last newline
    excluded when a section follows, as ``parse_sections`` splits them)."""
    position = line_end + 1
    while position < len(content):
        following = content.find(b"\n", position)
        following = len(content) if following < 0 else following
        if content[position] not in _CONTINUATION and position != following:
            return position - 1
        position = following + 1
    return len(content)
