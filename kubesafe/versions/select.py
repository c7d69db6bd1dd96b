"""Choose the kubectl for a server version: pure logic, no I/O.

Policies (``kubectl.selection`` in the config file):

* ``minor`` (default): same major.minor as the server; a cached download first,
  then a system binary; otherwise download the server's exact patch release.
* ``exact``: same patch release.
* ``skew``: anything within one minor version (upstream's support window),
  newest first; otherwise download the server's release.

A pinned version (``kubectl.contexts.<name>`` or ``kubectl.version``) beats the
server. When the server's version is unknown, the fallback is the kubectl last
used for that server, then ``kubectl.default-version``, then the first kubectl
on PATH: never an arbitrary newest binary.
"""

from __future__ import annotations

from kubesafe.record import Record
from kubesafe.versions.parse import KubeVersion, parse_user_version
from kubesafe.versions.store import Candidate

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Callable


class Selection(Record):
    __slots__ = ("download", "path", "reason", "version")

    def __init__(self, path: str | None, version: str, download: str | None, reason: str) -> None:
        # The binary to run, or None when it must be downloaded first.
        self.path = path
        # Its version tag (e.g. "v1.31.4"), "" when unknown.
        self.version = version
        # The release to download ("v1.31.4" or a minor "1.31" to resolve), or None.
        self.download = download
        self.reason = reason


def _ordered(candidates: list[Candidate]) -> list[Candidate]:
    """Versioned candidates: cached downloads before system binaries, newest first."""
    known = [c for c in candidates if c.version is not None]
    return sorted(known, key=lambda c: (c.source != "cache", tuple(-n for n in c.version or ())))


def _first(candidates: list[Candidate], accept: Callable[[KubeVersion], bool]) -> Candidate | None:
    for candidate in _ordered(candidates):
        if candidate.version is not None and accept(candidate.version):
            return candidate
    return None


def _tag(candidate: Candidate) -> str:
    return candidate.version.tag if candidate.version is not None else ""


def _pinned(spec: str, candidates: list[Candidate], why: str) -> Selection:
    wanted, exact = parse_user_version(spec)
    if exact:
        found = _first(candidates, lambda v: v == wanted)
    else:
        found = _first(candidates, lambda v: v[:2] == wanted[:2])
    if found is not None:
        return Selection(found.path, _tag(found), None, f"{why} ({found.source})")
    target = wanted.tag if exact else wanted.minor_str
    return Selection(None, wanted.tag if exact else "", target, f"{why}; not present yet")


def select(
    server: KubeVersion | None,
    candidates: list[Candidate],
    settings: dict[str, object],
    *,
    context: str = "",
    last_used: str | None = None,
) -> Selection:
    contexts = settings.get("contexts")
    if isinstance(contexts, dict) and context in contexts:
        return _pinned(str(contexts[context]), candidates, f"pinned for context {context!r}")
    if settings.get("version"):
        return _pinned(str(settings["version"]), candidates, "pinned by kubectl.version")
    if server is None:
        return _fallback(candidates, settings, last_used)
    policy = str(settings.get("selection", "minor"))
    if policy == "exact":
        found = _first(candidates, lambda v: v == server)
        why = f"same release as the server ({server.tag})"
    elif policy == "skew":
        found = _first(candidates, lambda v: v[0] == server[0] and abs(v[1] - server[1]) <= 1)
        why = f"within one minor of the server ({server.minor_str})"
    else:
        found = _first(candidates, lambda v: v[:2] == server[:2])
        why = f"same minor as the server ({server.minor_str})"
    if found is not None:
        return Selection(found.path, _tag(found), None, f"{why}; {found.source}")
    return Selection(None, server.tag, server.tag, f"{why}; will download {server.tag}")


def _fallback(
    candidates: list[Candidate], settings: dict[str, object], last_used: str | None
) -> Selection:
    if last_used:
        found = _first(candidates, lambda v: v.tag == last_used)
        if found is not None:
            return Selection(found.path, _tag(found), None, "server version unknown; last used")
    default = settings.get("default-version")
    if default:
        return _pinned(str(default), candidates, "server version unknown; kubectl.default-version")
    for candidate in candidates:
        if candidate.source == "system":
            why = "first real kubectl on PATH"
            return Selection(candidate.path, _tag(candidate), None, why)
    return Selection(None, "", None, "server version unknown and no kubectl to fall back on")
