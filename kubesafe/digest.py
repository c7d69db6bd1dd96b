"""Digests without ``hashlib``: it imports OpenSSL, about 4-13 ms on paths that run often.

CPython's builtin ``_sha2`` (3.12+) / ``_sha256`` and ``_blake2`` modules compute the
same digests; ``hashlib`` stays the fallback elsewhere.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from typing import Any


_makers: dict[str, Any] = {}  # found once: a failed import is retried on every call


def _sha256_maker() -> Any:
    try:
        from _sha2 import sha256 as make  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        try:
            from _sha256 import sha256 as make  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ImportError:
            from hashlib import sha256 as make  # type: ignore[assignment,unused-ignore]
    return make


def _blake2b_maker() -> Any:
    try:
        from _blake2 import blake2b as make
    except ImportError:
        from hashlib import blake2b as make
    return make


def sha256(data: bytes) -> Any:
    make = _makers.get("sha256")
    if make is None:
        make = _makers["sha256"] = _sha256_maker()
    return make(data)


def blake2b(data: bytes, digest_size: int = 16) -> Any:
    make = _makers.get("blake2b")
    if make is None:
        make = _makers["blake2b"] = _blake2b_maker()
    return make(data, digest_size=digest_size)
