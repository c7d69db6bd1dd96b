"""kubectx's own bats suites against ``kubesafe ctx``/``ns``, with Debian's kubectx as baseline.

The suites (``test/kubectx.bats``, ``test/kubens.bats`` from Debian's kubectx source
package, see tests/support/kubectx_suites.py) are fetched at test time, never committed.
Each runs twice with Debian's ``bats``: ``COMMAND`` set to Debian's kubectx/kubens (the
bash versions), then to a wrapper that runs ``kubesafe ctx``/``kubesafe ns``. Every test
the baseline passes must pass for kubesafe too: scripts grep these messages.

One change to the suites' world, applied to both runs alike: their kubeconfigs name no
API server (``server: ""``) because the bash kubens asks ``$KUBECTL`` (their mock prints
ns1 and ns2) and the Go kubens reads ``_MOCK_NAMESPACES``. kubesafe asks the API server,
so the kubeconfigs point at the fake API server on 127.0.0.1, which has ns1 and ns2. The
baseline's results are checked to be the same with and without that change.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fake_apiserver import FakeAPIServer
from tests.support.kubectx_suites import SuitesUnavailable, fetch_suites

pytestmark = pytest.mark.e2e

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
PREFIX = "kubectx-bats"
TAP = re.compile(r"^(ok|not ok) \d+ (.*?)( # skip.*)?$")
# (suite, Debian's command, kubesafe's subcommand, at least this many baseline passes)
SUITES = [("kubectx", "ctx", 10), ("kubens", "ns", 10)]


@pytest.fixture(scope="module")
def suites() -> Path:
    try:
        return fetch_suites() / "test"
    except SuitesUnavailable as error:
        pytest.fail(f"kubectx's bats suites could not be fetched from Debian: {error}")


def _bats() -> str:
    found = shutil.which("bats")
    if found is None:
        pytest.fail("bats is not installed; .ci/run installs Debian's bats")
    return found


def _baseline(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; .ci/run installs Debian's kubectx")
    return found


def _suite_copy(suites: Path, target: Path, server: str | None) -> Path:
    shutil.copytree(suites, target)
    if server is not None:
        for config in (target / "testdata").iterdir():
            text = config.read_text(encoding="utf-8")
            assert 'server: ""' in text, config
            config.write_text(text.replace('server: ""', f"server: {server}"), encoding="utf-8")
    return target


def _wrapper(directory: Path, name: str, subcommand: str) -> str:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(f'#!/bin/sh\nexec {KUBESAFE} {subcommand} "$@"\n', encoding="utf-8")
    path.chmod(0o755)
    return str(path)


def run_suite(
    suite_dir: Path, name: str, command: str, kubectl: Path
) -> tuple[dict[str, bool], str]:
    """({test name: passed, a skip is no pass}, bats' output) with ``COMMAND=command``."""
    env = {
        # The suites set HOME (and KUBECONFIG) per test; kubectl is the real 1.33.
        "PATH": f"{kubectl.parent}:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "COMMAND": command,
        "KUBECTX_IGNORE_FZF": "1",
        "TMPDIR": str(suite_dir.parent),
    }
    done = subprocess.run(
        [_bats(), "--tap", str(suite_dir / f"{name}.bats")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    results: dict[str, bool] = {}
    for line in done.stdout.splitlines():
        found = TAP.match(line)
        if found:
            results[found[2]] = found[1] == "ok" and not found[3]
    assert results, done.stdout + done.stderr
    return results, done.stdout


@pytest.mark.parametrize(("name", "subcommand", "minimum"), SUITES)
def test_kubesafe_passes_every_upstream_test_debians_kubectx_passes(
    suites: Path,
    tmp_path: Path,
    apiserver: FakeAPIServer,
    kubectl33: Path,
    name: str,
    subcommand: str,
    minimum: int,
) -> None:
    for namespace in ("ns1", "ns2"):
        apiserver.add_namespace(PREFIX, namespace)
    served = _suite_copy(suites, tmp_path / "served" / "test", apiserver.cluster_url(PREFIX))
    original = _suite_copy(suites, tmp_path / "original" / "test", None)
    baseline, _ = run_suite(served, name, _baseline(name), kubectl33)
    assert run_suite(original, name, _baseline(name), kubectl33)[0] == baseline
    passed = [test for test, ok in baseline.items() if ok]
    assert len(passed) >= minimum, baseline

    ours = _wrapper(tmp_path / "wrappers", name, subcommand)
    results, output = run_suite(served, name, ours, kubectl33)
    assert set(results) == set(baseline)
    missing = [test for test in passed if not results[test]]
    assert not missing, (missing, output[-4000:])


def test_tap_lines_are_read_as_bats_writes_them() -> None:
    assert TAP.match("ok 3 switch to previous context when no one exists")
    found = TAP.match("not ok 12 -c/--current fails when current context is not set")
    assert found is not None and found[1] == "not ok" and found[2].startswith("-c/--current")
    skipped = TAP.match("ok 4 list namespaces # skip no fzf")
    assert skipped is not None and skipped[2] == "list namespaces" and skipped[3]
