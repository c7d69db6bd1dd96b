"""The lift file the guard consults: per terminal, time-boxed, private."""

from __future__ import annotations

import os

from kubesafe.guard.lifts import LiftBook, close_lift, open_lift


def test_an_open_lift_is_seen_until_it_expires(tmp_path):
    path = str(tmp_path / "lifts.json")
    book = LiftBook(path, "term-1")
    assert book.current("prod") is None
    lift = open_lift(path, "term-1", "prod", 60, "rotate certs")
    assert os.stat(path).st_mode & 0o777 == 0o600
    seen = book.current("prod")
    assert seen is not None and seen.reason == "rotate certs"
    assert book.current("prod", now=lift.until + 1) is None
    assert book.current("staging") is None


def test_closing_a_lift_ends_it(tmp_path):
    path = str(tmp_path / "lifts.json")
    book = LiftBook(path, "term-1")
    open_lift(path, "term-1", "prod", 60)
    open_lift(path, "term-1", "other", 60)
    assert book.current("prod") is not None
    assert close_lift(path, "term-1", "prod")
    assert book.current("prod") is None
    assert book.current("other") is not None
    assert not close_lift(path, "term-1", "prod")


def test_another_terminals_file_opens_nothing(tmp_path):
    path = str(tmp_path / "lifts.json")
    open_lift(path, "term-2", "prod", 60)
    assert LiftBook(path, "term-1").current("prod") is None


def test_a_file_others_can_write_opens_nothing(tmp_path):
    path = str(tmp_path / "lifts.json")
    open_lift(path, "term-1", "prod", 60)
    os.chmod(path, 0o622)
    assert LiftBook(path, "term-1").current("prod") is None


def test_garbage_opens_nothing(tmp_path):
    path = tmp_path / "lifts.json"
    for content in (
        "not json",
        '{"version": 1, "terminal": "term-1", "lifts": {"prod": {"until": "never"}}}',
        '{"version": 1, "terminal": "term-1", "lifts": {"prod": {"until": true}}}',
        '{"version": 2, "terminal": "term-1", "lifts": {"prod": {"until": 1e12}}}',
    ):
        path.write_text(content)
        path.chmod(0o600)
        assert LiftBook(str(path), "term-1").current("prod") is None
