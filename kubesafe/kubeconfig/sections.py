"""Re-read only the top-level sections of a kubeconfig that changed.

``kubectl config use-context`` rewrites a 15 MB kubeconfig to change one line, and
every kubesafe call after it would parse the whole file again. The file's top-level
keys (``clusters:``, ``contexts:``, ``users:``, ``current-context:`` ...) are read
independently of each other, so each section's extracted values are remembered by
a digest of its bytes: an unchanged section is not read again, however the file's
timestamps moved. A digest names content, so unlike the stat-keyed cache this needs
no "racy" waiting period.

Only files the block-style scanner accepts are split (``scan.safe_bytes``); each
section is scanned on its own exactly as the whole file would be, and any section
the scanner or the extractor refuses sends the whole file back to the full parser,
which then reports kubectl's own error. What is remembered is ``extract``'s output,
never the raw sections, so no credential enters the cache.
"""

from __future__ import annotations

from kubesafe.kubeconfig.scan import safe_bytes, scan_text

TYPE_CHECKING = False  # typing and re cost ~10 ms on the first call after a change
if TYPE_CHECKING:
    from typing import Any

    from kubesafe.kubeconfig.parse import FileData

# A section's first byte at column 0 that does not start a new top-level key:
# indentation, a comment, a sequence entry written at its key's indentation.
_CONTINUATION = frozenset(b" #-")


def parse_sections(content: bytes, memo: dict[bytes, dict[str, Any]]) -> FileData | None:
    """The file's data, reusing ``memo`` (digest -> fields) for unchanged sections.

    ``memo`` is updated in place to hold exactly this file's sections. None when the
    file is outside what the scanner reads: the caller then parses it whole.
    """
    from kubesafe.digest import blake2b
    from kubesafe.kubeconfig.parse import KubeconfigError, extract

    if not safe_bytes(content):
        return None
    markers = (b"---", b"...", b"%")  # several documents or a directive: the full parser's
    if content.startswith(markers) or any(b"\n" + marker in content for marker in markers):
        return None
    lines = content.split(b"\n")
    starts = [i for i, line in enumerate(lines) if line and line[0] not in _CONTINUATION]
    if not starts or any(
        line and line.lstrip(b" ")[:1] not in (b"", b"#") for line in lines[: starts[0]]
    ):
        return None
    # Where a key is written twice the last one wins, as in the whole-file parse.
    last: dict[bytes, bytes] = {}
    for begin, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        chunk = b"\n".join(lines[begin:end])
        last[chunk.split(b":", 1)[0]] = chunk
    base: dict[str, Any] = dict(extract({}))
    data = dict(base)
    fresh: dict[bytes, dict[str, Any]] = {}
    for chunk in last.values():
        digest = blake2b(chunk).digest()
        fields = memo.get(digest)
        if fields is None:
            document = scan_text(chunk.decode("utf-8"))
            if document is None:
                return None
            try:
                extracted = extract(document)
            except KubeconfigError:
                return None  # the full parser words the error as kubectl does
            fields = {name: value for name, value in dict(extracted).items() if value != base[name]}
        fresh[digest] = fields
        data.update(fields)
    memo.clear()
    memo.update(fresh)
    result: FileData = data  # type: ignore[assignment]
    return result


def replace_current_context(
    content: bytes, quoted: str, memo: dict[bytes, dict[str, Any]]
) -> tuple[bytes, FileData, FileData] | None:
    """``content`` with its ``current-context`` set to the YAML scalar ``quoted``.

    Edits one line (or appends one), and proves the result by reading it back
    section by section: every other section is byte-identical, so only the new
    ``current-context`` section is scanned. Returns (new content, old data, new
    data), or None when the file is not one the scanner reads (the caller then
    edits it with the event-checked surgery).
    """
    old = parse_sections(content, memo)
    if old is None:
        return None
    lines = content.split(b"\n")
    where = [i for i, line in enumerate(lines) if line.startswith(b"current-context:")]
    replacement = b"current-context: " + quoted.encode("utf-8")
    if len(where) > 1:
        return None  # the surgery explains why it will not pick one
    if where:
        index = where[-1]
        following = lines[index + 1] if index + 1 < len(lines) else b""
        if (
            following.startswith(b" ")
            and following.strip(b" ")
            and not following.lstrip(b" ").startswith(b"#")
        ):
            return None  # a value continued on the next line: not a one-line edit
        lines[index] = replacement
        new_content = b"\n".join(lines)
    else:
        separator = b"" if not content or content.endswith(b"\n") else b"\n"
        new_content = content + separator + replacement + b"\n"
    new = parse_sections(new_content, memo)
    if new is None:
        return None
    unchanged = all(new[key] == old[key] for key in old if key != "current_context")  # type: ignore[literal-required]
    if not unchanged or set(new) != set(old):
        return None
    return new_content, old, new
