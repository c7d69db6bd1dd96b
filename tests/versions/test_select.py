from __future__ import annotations

import pytest

from kubesafe.versions.parse import KubeVersion
from kubesafe.versions.select import select
from kubesafe.versions.store import Candidate


def v(text: str) -> KubeVersion:
    major, minor, patch = (int(x) for x in text.split("."))
    return KubeVersion(major, minor, patch)


CANDIDATES = [
    Candidate(v("1.29.3"), "/cache/v1.29.3/kubectl", "cache"),
    Candidate(v("1.30.1"), "/cache/v1.30.1/kubectl", "cache"),
    Candidate(v("1.30.5"), "/usr/bin/kubectl", "system"),
    Candidate(v("1.31.0"), "/usr/local/bin/kubectl1.31", "system"),
    Candidate(None, "/opt/bin/kubectl", "system"),
]


@pytest.mark.parametrize(
    ("server", "settings", "path", "download"),
    [
        # minor (default): a cached download beats a newer system patch of the same minor
        ("1.30.9", {}, "/cache/v1.30.1/kubectl", None),
        ("1.31.7", {}, "/usr/local/bin/kubectl1.31", None),
        ("1.33.2", {}, None, "v1.33.2"),
        ("1.28.0", {}, None, "v1.28.0"),
        # exact
        ("1.30.5", {"selection": "exact"}, "/usr/bin/kubectl", None),
        ("1.30.6", {"selection": "exact"}, None, "v1.30.6"),
        # skew: within one minor, cached first then newest
        ("1.32.0", {"selection": "skew"}, "/usr/local/bin/kubectl1.31", None),
        ("1.30.0", {"selection": "skew"}, "/cache/v1.30.1/kubectl", None),
        ("1.34.0", {"selection": "skew"}, None, "v1.34.0"),
        # pins beat the server
        ("1.33.0", {"version": "1.29"}, "/cache/v1.29.3/kubectl", None),
        ("1.33.0", {"version": "1.27"}, None, "1.27"),
        ("1.33.0", {"version": "1.27.4"}, None, "v1.27.4"),
        ("1.33.0", {"contexts": {"legacy": "1.30.5"}}, "/usr/bin/kubectl", None),
    ],
)
def test_selection(
    server: str, settings: dict[str, object], path: str | None, download: str | None
) -> None:
    chosen = select(v(server), CANDIDATES, settings, context="legacy")
    assert (chosen.path, chosen.download) == (path, download), chosen.reason


def test_unknown_server_falls_back_in_order_never_to_the_newest() -> None:
    last = select(None, CANDIDATES, {}, last_used="v1.29.3")
    assert last.path == "/cache/v1.29.3/kubectl" and "last used" in last.reason
    default = select(None, CANDIDATES, {"default-version": "1.30"})
    assert default.path == "/cache/v1.30.1/kubectl"
    default_missing = select(None, CANDIDATES, {"default-version": "1.26"})
    assert default_missing.path is None and default_missing.download == "1.26"
    on_path = select(None, CANDIDATES, {})
    assert on_path.path == "/usr/bin/kubectl" and "first real kubectl on PATH" in on_path.reason
    nothing = select(None, [c for c in CANDIDATES if c.source == "cache"], {})
    assert nothing.path is None and nothing.download is None


def test_unversioned_system_binaries_are_never_matched_by_version() -> None:
    only_unknown = [Candidate(None, "/opt/bin/kubectl", "system")]
    chosen = select(v("1.30.0"), only_unknown, {})
    assert chosen.path is None and chosen.download == "v1.30.0"
