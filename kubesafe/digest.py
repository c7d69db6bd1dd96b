"""Digests without ``hashlib``: it imports OpenSSL, about 4-13 ms on paths that run often.

CPython's builtin ``_sha2`` (3.12+) / ``_sha256`` and ``_blake2`` modules compute the
same digests; ``hashlib`` stays the fallback elsewhere.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from typing import Any


def sha256(data: bytes) -> Any:
    try:
        from _sha2 import sha256 as make  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        try:
            from _sha256 import sha256 as make  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ImportError:
            from hashlib import sha256 as make  # type: ignore[assignment,unused-ignore]
    return make(data)


def blake2b(data: bytes, digest_size: int = 16) -> Any:
    try:
        from _blake2 import blake2b as make
    except ImportError:
        from hashlib import blake2b as make
    return make(data, digest_size=digest_size)
