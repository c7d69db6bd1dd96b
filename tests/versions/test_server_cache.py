from __future__ import annotations

import os
import time
from pathlib import Path

from kubesafe.versions.server_cache import FAILURE_TTL, ServerVersions


def test_remembers_versions_with_a_time_to_live(tmp_path: Path) -> None:
    path = str(tmp_path / "sv")
    cache = ServerVersions(path)
    assert not cache.fresh("https://a", 3600)
    cache.record("https://a", "v1.30.2-eks-1")
    cache.record_use("https://a", "v1.30.2")
    cache.save()
    assert os.stat(path).st_mode & 0o777 == 0o600
    again = ServerVersions(path)
    assert again.known("https://a") == "v1.30.2-eks-1"
    assert again.fresh("https://a", 3600)
    assert not again.fresh("https://a", 3600, now=time.time() + 3601)
    assert again.last_used("https://a") == "v1.30.2"


def test_failures_are_remembered_briefly_and_keep_the_old_answer(tmp_path: Path) -> None:
    cache = ServerVersions(str(tmp_path / "sv"))
    cache.record("https://a", "v1.29.1")
    cache.record_failure("https://a")
    assert cache.known("https://a") == "v1.29.1"
    assert cache.fresh("https://a", 10**9)
    assert not cache.fresh("https://a", 10**9, now=time.time() + FAILURE_TTL + 1)


def test_a_cache_others_can_write_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "sv"
    cache = ServerVersions(str(path))
    cache.record("https://a", "v1.30.0")
    cache.save()
    path.chmod(0o666)
    assert ServerVersions(str(path)).known("https://a") is None
