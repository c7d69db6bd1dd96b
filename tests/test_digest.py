"""Digests without hashlib: the same values, and the builtin module looked up only once."""

from __future__ import annotations

import builtins
import hashlib
from typing import Any

import pytest

from kubesafe import digest


@pytest.mark.parametrize("data", [b"", b"x", bytes(range(256)) * 40])
def test_the_same_digests_as_hashlib(data: bytes) -> None:
    assert digest.sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
    assert digest.blake2b(data).hexdigest() == hashlib.blake2b(data, digest_size=16).hexdigest()
    assert digest.blake2b(data, 8).digest() == hashlib.blake2b(data, digest_size=8).digest()


def test_no_import_is_tried_again_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """On Python 3.11 ``_sha2`` does not exist: a per-call import would search sys.path."""
    digest.sha256(b"warm")
    digest.blake2b(b"warm")
    tried: list[str] = []
    real_import = builtins.__import__

    def counting(name: str, *args: Any, **kwargs: Any) -> Any:
        tried.append(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", counting)
    for _ in range(50):
        digest.sha256(b"again")
        digest.blake2b(b"again")
    assert tried == []
