"""Kubernetes version strings: what servers report and what users write.

This module is on the hot path (remembered server versions and downloaded
kubectls are parsed on every call), so it imports nothing: no ``re``, no
``typing``.  :class:`KubeVersion` is a plain ``tuple`` subclass with named
accessors rather than a ``typing.NamedTuple`` for the same reason; it compares,
sorts and slices like the ``(major, minor, patch)`` tuple it is.

Server versions (``gitVersion`` from ``GET /version``) come in many vendor forms;
only the leading ``MAJOR.MINOR.PATCH`` matters for picking a kubectl::

    v1.30.2                  upstream, AKS
    1.30.2                   no "v"
    v1.23.17-eks-a5565ad     EKS
    v1.28.5-gke.1200         GKE
    v1.22.7+k3s1             k3s
    v1.23.7+rke2r2           RKE2
    v1.29.6+aba1e8d          OpenShift
    v1.31.0-rc.1             pre-release: the numbers of the coming release
    v0.0.0-master+$Format:%H$  a development build: unknown (None)
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "KubeVersion",
    "parse_git_version",
    "parse_user_version",
    "parse_version_payload",
    "prerelease",
]

_PRERELEASE_WORDS = ("alpha", "beta", "rc")


class KubeVersion(tuple[int, int, int]):
    """``(major, minor, patch)`` of a Kubernetes release."""

    __slots__ = ()

    def __new__(cls, major: int, minor: int, patch: int = 0) -> KubeVersion:
        return tuple.__new__(cls, (major, minor, patch))

    def __getnewargs__(self) -> tuple[int, int, int]:
        return (self[0], self[1], self[2])

    def __repr__(self) -> str:
        return f"KubeVersion(major={self[0]}, minor={self[1]}, patch={self[2]})"

    @property
    def major(self) -> int:
        return self[0]

    @property
    def minor(self) -> int:
        return self[1]

    @property
    def patch(self) -> int:
        return self[2]

    @property
    def minor_str(self) -> str:
        """``"1.31"``"""
        return f"{self[0]}.{self[1]}"

    @property
    def tag(self) -> str:
        """``"v1.31.4"``: the release tag (and dl.k8s.io directory) of this version."""
        return f"v{self[0]}.{self[1]}.{self[2]}"


def _number(text: str) -> int | None:
    """A non-negative decimal of ASCII digits, else None (``int()`` accepts too much:
    signs, underscores, spaces and non-ASCII digits)."""
    if text and text.isascii() and text.isdigit() and len(text) <= 9:
        return int(text)
    return None


def _split(text: str) -> tuple[list[str], str] | None:
    """``"v1.28.5-gke.1200"`` -> ``(["1", "28", "5"], "-gke.1200")``."""
    text = text.strip()
    if text[:1] in ("v", "V"):
        text = text[1:]
    end = len(text)
    for separator in ("-", "+"):
        at = text.find(separator)
        if at != -1 and at < end:
            end = at
    suffix = text[end:]
    if suffix == "-" or suffix == "+" or not suffix.isprintable() or " " in suffix:
        return None
    return text[:end].split("."), suffix


def parse_git_version(text: str) -> KubeVersion | None:
    """The release numbers in a ``gitVersion`` (or a tag such as ``v1.31.4``).

    Vendor suffixes (``-eks-…``, ``-gke.…``, ``+k3s1``, …) are ignored and
    pre-releases keep their numbers (``v1.31.0-rc.1`` -> 1.31.0; see
    :func:`prerelease`).  None for anything else, including development builds
    (``v0.0.0-master+$Format:%H$``) whose numbers mean nothing.
    """
    if not isinstance(text, str):
        return None
    split = _split(text)
    if split is None:
        return None
    parts, _suffix = split
    if len(parts) != 3:
        return None
    major, minor, patch = (_number(part) for part in parts)
    if major is None or minor is None or patch is None or major == 0:
        return None
    return KubeVersion(major, minor, patch)


def prerelease(text: str) -> str:
    """The pre-release part of a ``gitVersion``: ``"rc.1"`` for ``v1.31.0-rc.1``,
    ``"alpha.2"``, ``"beta.0"``…; ``""`` for releases, vendor builds included
    (``v1.28.5-gke.1200`` is a release)."""
    split = _split(text) if isinstance(text, str) else None
    if split is None or not split[1].startswith("-"):
        return ""
    label = split[1][1:].split("+", 1)[0]
    for word in _PRERELEASE_WORDS:
        if label.startswith(word):
            rest = label[len(word) :]
            if not rest or rest[0] == "." or rest[0].isdigit():
                return label
    return ""


def _payload_number(value: object) -> int | None:
    """``"1"`` -> 1, ``"29+"`` -> 29 (EKS/GKE mark minor versions like this); None for
    ``""`` and junk."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if not isinstance(value, str):
        return None
    return _number(value.strip().rstrip("+"))


def parse_version_payload(payload: Mapping[str, object]) -> KubeVersion | None:
    """The version in a ``GET /version`` document.

    ``gitVersion`` wins; only when it is missing or unusable (a development build)
    do ``major``/``minor`` count, with patch 0 since they do not carry one.
    """
    if not hasattr(payload, "get"):
        return None
    git_version = payload.get("gitVersion")
    parsed = parse_git_version(git_version) if isinstance(git_version, str) else None
    if parsed is not None:
        return parsed
    major = _payload_number(payload.get("major"))
    minor = _payload_number(payload.get("minor"))
    if major is None or minor is None or major == 0:
        return None
    return KubeVersion(major, minor, 0)


def parse_user_version(spec: str) -> tuple[KubeVersion, bool]:
    """A version the user asked for (config file, command line).

    ``"1.31"`` -> ``(KubeVersion(1, 31, 0), False)``: any patch of that minor;
    ``"1.31.4"`` or ``"v1.31.4"`` -> ``(KubeVersion(1, 31, 4), True)``: exactly that.
    Raises ValueError otherwise.
    """
    problem = (
        f"invalid kubectl version {spec!r}: expected MAJOR.MINOR (e.g. 1.31) "
        "or MAJOR.MINOR.PATCH (e.g. 1.31.4 or v1.31.4)"
    )
    if not isinstance(spec, str):
        raise ValueError(problem)
    split = _split(spec)
    if split is None or split[1] or len(split[0]) not in (2, 3):
        raise ValueError(problem)
    numbers = [_number(part) for part in split[0]]
    if None in numbers:
        raise ValueError(problem)
    values = [n for n in numbers if n is not None]
    if values[0] == 0:
        raise ValueError(f"{problem}; there is no kubectl 0.x")
    if len(values) == 2:
        return KubeVersion(values[0], values[1], 0), False
    return KubeVersion(values[0], values[1], values[2]), True
