"""The one-line current-context edit, proven by its own section, against the full parser."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubesafe.kubeconfig import oneline
from kubesafe.kubeconfig.quoting import scalar_text
from kubesafe.kubeconfig.sections import parse_sections, replace_current_context
from tests.kubeconfig.test_scan import documents, renderings, scalars
from tests.kubeconfig.test_sections import full_extract, kubeconfig


def replaced(content: bytes, quoted: str) -> bytes:
    """``content`` with the line that starts with ``current-context:`` replaced."""
    lines = content.split(b"\n")
    where = [i for i, line in enumerate(lines) if line.startswith(b"current-context:")]
    assert len(where) == 1
    lines[where[0]] = b"current-context: " + quoted.encode("utf-8")
    return b"\n".join(lines)


def check(content: bytes, name: str) -> bool:
    """Assert the edit's promise on one file; True when it made the edit."""
    memo: dict[bytes, Any] = {}
    quoted = scalar_text(name)
    before = full_extract(content)
    done = oneline.switch_line(content, quoted, name, memo)
    if done is None:
        return False
    new, data, previous = done
    assert new == replaced(content, quoted)
    assert before != "error" and previous == before["current_context"]
    assert data == full_extract(new) and data["current_context"] == name
    fresh: dict[bytes, Any] = {}
    assert parse_sections(new, fresh) == data
    assert memo == fresh  # the memo describes the new file's sections, nothing else
    # The same file and data as the section-by-section edit it stands in for.
    general = replace_current_context(content, quoted, {})
    assert general is not None and general[0] == new and general[2] == data
    return True


# Around the current-context line: what it may be followed by, and what must send the
# edit elsewhere (a continued value, a comment naming the key, a quoted key, CRLF...).
NEIGHBOURS = [
    "",
    "\n",
    "\n\n",
    "\n# a comment\n",
    "\n  # an indented comment\n",
    "\n  continued\n",
    "\n   \n  more\n",
    "\n- item\n",
    "  # trailing comment\n",
    "\n# current-context: old\n",
    "\n---\nkind: Config\n",
    "\r\n",
]
VALUES = ["c0", "", '""', "'c 1'", "yes", "c1  ", '"a', "{a: b}", "[c0]", "&x c0", "|\n  c0"]


@pytest.mark.parametrize("neighbour", NEIGHBOURS)
@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("name", ["c3", "yes", "a b", "ünï", "c0", "-x", "null"])
def test_edits_exactly_as_the_full_parser_reads_it(neighbour: str, value: str, name: str) -> None:
    head = kubeconfig(4).replace(b"current-context: c0\n", b"")
    for content in (
        head + f"current-context: {value}{neighbour}".encode(),  # last
        f"current-context: {value}{neighbour}".encode() + head,  # first
        head.replace(
            b"kind: Config\n", f"current-context: {value}{neighbour}kind: Config\n".encode()
        ),
    ):
        check(content, name)


def test_the_usual_file_takes_the_one_line_path() -> None:
    content = kubeconfig(30)
    assert check(content, "c17")
    assert check(content.rstrip(b"\n"), "c17")  # no newline at the end
    assert check(b"current-context: c0\n" + content.replace(b"current-context: c0\n", b""), "c1")
    assert check(content.replace(b"kind: Config", b"\n# kept\nkind: Config"), "c2")


@pytest.mark.parametrize(
    "content",
    [
        kubeconfig(3).replace(b"current-context: c0\n", b""),  # none: appended elsewhere
        kubeconfig(3) + b"current-context: c1\n",  # twice
        kubeconfig(3) + b"# current-context: c1\n",  # the word in a comment
        kubeconfig(3).replace(b"current-context:", b'"current-context":'),  # a quoted key
        kubeconfig(3).replace(b"\n", b"\r\n"),
        kubeconfig(3).replace(b"current-context: c0", b"current-context: c0 # old"),
        kubeconfig(3).replace(b"current-context: c0", b"current-context:\n  c0"),
        kubeconfig(3).replace(b"current-context: c0", b"current-context: {}"),
        kubeconfig(3).replace(b"apiVersion: v1", b"apiVersion: v1\n---"),
        kubeconfig(3).replace(b"users:", b"users: [{name: u, user: {}}]\nx:"),
    ],
)
def test_anything_else_is_left_to_the_general_edit(content: bytes) -> None:
    assert oneline.switch_line(content, "c2", "c2", {}) is None


def test_a_name_the_scanner_would_not_read_is_left_to_the_general_edit() -> None:
    content = kubeconfig(3)
    # A value quoted wrongly by a caller: the section read back does not say "c2".
    assert oneline.switch_line(content, "c3", "c2", {}) is None
    assert oneline.switch_line(content, '"c2', "c2", {}) is None
    assert oneline.switch_line(content, "c2\n  more", "c2", {}) is None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.integers(0, 2**32), scalars)
def test_fuzzed_files_and_names(document: Any, seed: int, name: str) -> None:
    if not name or "\ud800" <= max(name) <= "\udfff":
        return
    for text in renderings(document, seed):
        content = text.encode("utf-8", "surrogatepass")
        if content.count(b"current-context") == 1:
            check(content, name)
