"""Section-by-section reading and the one-line current-context edit, against the full parser."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubesafe.kubeconfig import scan as scanner
from kubesafe.kubeconfig import sections
from kubesafe.kubeconfig.parse import _loader, extract
from kubesafe.kubeconfig.sections import parse_sections, replace_current_context
from tests.kubeconfig.test_scan import documents, renderings

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")


def full_extract(content: bytes) -> Any:
    try:
        return extract(yaml.load(content, Loader=_loader()))
    except Exception:
        return "error"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.integers(0, 2**32))
def test_sections_read_exactly_as_the_whole_file(document: Any, seed: int) -> None:
    memo: dict[bytes, Any] = {}
    for text in renderings(document, seed):
        content = text.encode("utf-8", "surrogatepass")
        found = parse_sections(content, memo)
        if found is not None:
            assert found == full_extract(content), text


def kubeconfig(contexts: int, current: str = "c0") -> bytes:
    lines = ["apiVersion: v1", "clusters:"]
    for i in range(contexts):
        lines += [
            "- cluster:",
            f"    server: https://10.0.{i // 250}.{i % 250}:6443",
            f"  name: k{i}",
        ]
    lines.append("contexts:")
    for i in range(contexts):
        lines += ["- context:", f"    cluster: k{i}", "    user: u", f"  name: c{i}"]
    lines += [f"current-context: {current}", "kind: Config", "preferences: {}", "users:"]
    lines += ["- name: u", "  user:", "    token: secret"]
    return ("\n".join(lines) + "\n").encode()


def test_an_unchanged_section_is_not_scanned_again(monkeypatch: pytest.MonkeyPatch) -> None:
    memo: dict[bytes, Any] = {}
    first = kubeconfig(50)
    assert parse_sections(first, memo) == full_extract(first)
    scanned: list[str] = []
    real = scanner.scan_text

    def counting(text: str) -> Any:
        scanned.append(text.split(":", 1)[0])
        return real(text)

    monkeypatch.setattr(sections, "scan_text", counting)
    second = first.replace(b"current-context: c0", b"current-context: c7")
    assert parse_sections(second, memo) == full_extract(second)
    assert scanned == ["current-context"]
    assert "secret" not in repr(memo)  # extracted values only, no credentials


def test_the_current_context_edit_changes_one_line_and_proves_it() -> None:
    memo: dict[bytes, Any] = {}
    content = kubeconfig(20)
    done = replace_current_context(content, "c13", memo)
    assert done is not None
    new, old, parsed = done
    assert old["current_context"] == "c0" and parsed["current_context"] == "c13"
    assert parsed == full_extract(new)
    changed = [
        (a, b) for a, b in zip(content.split(b"\n"), new.split(b"\n"), strict=True) if a != b
    ]
    assert changed == [(b"current-context: c0", b"current-context: c13")]


def test_a_file_without_current_context_gets_one_appended() -> None:
    content = kubeconfig(3).replace(b"current-context: c0\n", b"")
    done = replace_current_context(content, "'c 1'", {})
    assert done is not None
    assert done[0].endswith(b"current-context: 'c 1'\n")
    assert done[2]["current_context"] == "c 1" == full_extract(done[0])["current_context"]


@pytest.mark.parametrize(
    "content",
    [
        b"current-context: a\ncurrent-context: b\n",  # written twice: the surgery explains
        b"current-context: a\n  continued\n",  # not one line
        b"contexts: [{name: a}]\ncurrent-context: a\n",  # flow: not the scanner's
        b"---\ncurrent-context: a\n",
        b"current-context: a\n---\ncurrent-context: b\n",  # a second document
        b"%YAML 1.1\n---\ncurrent-context: a\n",
    ],
)
def test_anything_else_is_left_to_the_surgery(content: bytes) -> None:
    assert replace_current_context(content, "b", {}) is None


@pytest.mark.parametrize(
    "content",
    [
        b"current-context: a\n---\ncurrent-context: b\n",
        b"current-context: a\n...\n---\nclusters: []\n",
        b"%YAML 1.1\n---\ncurrent-context: a\n",
    ],
)
def test_several_documents_are_left_to_the_full_parser(content: bytes) -> None:
    assert parse_sections(content, {}) is None
