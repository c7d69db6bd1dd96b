from __future__ import annotations

import copy
import pickle
import subprocess
import sys

import pytest

from kubesafe.versions.parse import (
    KubeVersion,
    parse_git_version,
    parse_user_version,
    parse_version_payload,
    prerelease,
)


@pytest.mark.parametrize(
    ("text", "expected", "pre"),
    [
        # upstream / AKS
        ("v1.30.2", (1, 30, 2), ""),
        ("1.30.2", (1, 30, 2), ""),
        ("  v1.30.2\n", (1, 30, 2), ""),
        ("v1.9.11", (1, 9, 11), ""),
        # vendors
        ("v1.23.17-eks-a5565ad", (1, 23, 17), ""),
        ("v1.28.5-gke.1200", (1, 28, 5), ""),
        ("v1.30.5-gke.1014001", (1, 30, 5), ""),
        ("v1.22.7+k3s1", (1, 22, 7), ""),
        ("v1.23.7+rke2r2", (1, 23, 7), ""),
        ("v1.29.6+aba1e8d", (1, 29, 6), ""),
        ("v1.27.16-rancher1", (1, 27, 16), ""),
        # pre-releases keep their numbers
        ("v1.31.0-rc.1", (1, 31, 0), "rc.1"),
        ("v1.31.0-alpha.2", (1, 31, 0), "alpha.2"),
        ("v1.31.0-beta.0", (1, 31, 0), "beta.0"),
        ("v1.32.0-alpha.1.123+0123456789abcd", (1, 32, 0), "alpha.1.123"),
        ("v1.31.0-rc1", (1, 31, 0), "rc1"),
        # unknown: development builds and junk
        ("v0.0.0-master+$Format:%H$", None, ""),
        ("v0.0.0", None, ""),
        ("", None, ""),
        ("v", None, ""),
        ("v1.31", None, ""),
        ("v1.31.4.1", None, ""),
        ("v1.31.x", None, ""),
        ("vv1.31.4", None, ""),
        ("v1.-31.4", None, ""),
        ("v1.31.4-", None, ""),
        ("v1.31.4+", None, ""),
        ("v1.31.4 extra", None, ""),
        ("v1.31.4-eks with space", None, ""),
        ("v1.3\u00b2.4", None, ""),  # superscript two is a "digit" to str.isdigit
        ("v1.1_0.4", None, ""),
        ("unknown", None, ""),
    ],
)
def test_parse_git_version(text: str, expected: tuple[int, int, int] | None, pre: str) -> None:
    parsed = parse_git_version(text)
    assert parsed == expected
    if parsed is not None:
        assert isinstance(parsed, KubeVersion)
    assert prerelease(text) == pre


def test_vendor_suffixes_that_look_like_prereleases_are_releases() -> None:
    assert prerelease("v1.28.5-gke.1200") == ""
    assert prerelease("v1.23.17-eks-a5565ad") == ""
    assert prerelease("v1.29.6+rc.1") == ""  # build metadata, not a pre-release
    assert prerelease("v1.29.6-rcx") == ""


def test_non_strings_are_unknown() -> None:
    assert parse_git_version(None) is None  # type: ignore[arg-type]
    assert parse_git_version(1.31) is None  # type: ignore[arg-type]
    assert prerelease(None) == ""  # type: ignore[arg-type]


def test_kube_version_behaves_like_its_tuple() -> None:
    v = KubeVersion(1, 31, 4)
    assert (v.major, v.minor, v.patch) == (1, 31, 4)
    assert v.minor_str == "1.31"
    assert v.tag == "v1.31.4"
    assert v == (1, 31, 4) and v[:2] == (1, 31)
    assert KubeVersion(1, 9, 0) < KubeVersion(1, 10, 0) < KubeVersion(2, 0, 0)
    assert sorted([KubeVersion(1, 31, 0), KubeVersion(1, 30, 9)])[0] == (1, 30, 9)
    assert KubeVersion(1, 31) == (1, 31, 0)
    assert {v: "x"}[KubeVersion(1, 31, 4)] == "x"
    assert repr(v) == "KubeVersion(major=1, minor=31, patch=4)"
    for clone in (pickle.loads(pickle.dumps(v)), copy.copy(v), copy.deepcopy(v)):
        assert clone == v and type(clone) is KubeVersion
    assert parse_git_version(v.tag) == v


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        # gitVersion wins over major/minor
        ({"major": "1", "minor": "29+", "gitVersion": "v1.29.8-eks-a737599"}, (1, 29, 8)),
        ({"major": "1", "minor": "28+", "gitVersion": "v1.28.5-gke.1200"}, (1, 28, 5)),
        ({"major": "1", "minor": "99", "gitVersion": "v1.30.2"}, (1, 30, 2)),
        # fallback to major/minor (patch 0) only when gitVersion is unusable
        ({"major": "1", "minor": "29+", "gitVersion": "v0.0.0-master+$Format:%H$"}, (1, 29, 0)),
        ({"major": "1", "minor": "30"}, (1, 30, 0)),
        ({"major": "1", "minor": "30", "gitVersion": ""}, (1, 30, 0)),
        ({"major": "1", "minor": "30", "gitVersion": None}, (1, 30, 0)),
        ({"major": 1, "minor": 30}, (1, 30, 0)),
        # nothing usable
        ({"major": "", "minor": "", "gitVersion": "v0.0.0-master+$Format:%H$"}, None),
        ({"major": "1", "minor": ""}, None),
        ({"major": "1", "minor": "+"}, None),
        ({"major": "0", "minor": "0"}, None),
        ({"major": True, "minor": "30"}, None),
        ({"major": "1", "minor": -1}, None),
        ({"gitVersion": 130}, None),
        ({}, None),
    ],
)
def test_parse_version_payload(
    payload: dict[str, object], expected: tuple[int, ...] | None
) -> None:
    assert parse_version_payload(payload) == expected


def test_parse_version_payload_rejects_non_mappings() -> None:
    assert parse_version_payload([]) is None  # type: ignore[arg-type]
    assert parse_version_payload(None) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "version", "exact"),
    [
        ("1.31", (1, 31, 0), False),
        ("v1.31", (1, 31, 0), False),
        (" 1.31 ", (1, 31, 0), False),
        ("1.31.4", (1, 31, 4), True),
        ("v1.31.4", (1, 31, 4), True),
        ("1.31.0", (1, 31, 0), True),
        ("1.9", (1, 9, 0), False),
    ],
)
def test_parse_user_version(spec: str, version: tuple[int, int, int], exact: bool) -> None:
    parsed, is_exact = parse_user_version(spec)
    assert (parsed, is_exact) == (version, exact)
    assert isinstance(parsed, KubeVersion)


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "1",
        "v1",
        "1.",
        "1.31.",
        "1.31.4.5",
        "1.x",
        "latest",
        "1.31.0-rc.1",
        "v1.30.2-eks-a5565ad",
        "1.31.4+k3s1",
        "0.31",
        "1,31",
        "1. 31",
        "-1.31",
    ],
)
def test_parse_user_version_rejects(spec: str) -> None:
    with pytest.raises(ValueError, match=r"expected MAJOR\.MINOR .*1\.31\.4") as info:
        parse_user_version(spec)
    assert repr(spec) in str(info.value)
    assert "\n" not in str(info.value)


def test_parse_user_version_rejects_non_strings() -> None:
    # e.g. ``version: 1.30`` in YAML is the float 1.3
    with pytest.raises(ValueError, match="invalid kubectl version"):
        parse_user_version(1.3)  # type: ignore[arg-type]


def test_parse_imports_nothing() -> None:
    probe = (
        "import sys; before = set(sys.modules); import kubesafe.versions.parse; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert set(out) <= {"kubesafe", "kubesafe.versions", "kubesafe.versions.parse", "__future__"}
