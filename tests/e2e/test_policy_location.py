"""A moved XDG_CONFIG_HOME or HOME does not take the policy away (issue 11, class 8).

Real kubectl runs through ``kubesafe kubectl`` without a terminal against the recording
fake API server. The user's policy protects ``prod``; a Makefile-style
``XDG_CONFIG_HOME=$PWD/.config`` (or ``HOME=...``) hides it from the usual lookup, and the
write must still be refused, with nothing reaching the server. The password-database
fallback reads the real home, so it is tested in-process (tests/test_policy_location.py).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from kubesafe.policy_location import PIN_VARIABLE
from tests.support.fake_apiserver import FakeAPIServer, write_kubeconfig

pytestmark = pytest.mark.e2e

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
PREFIX = "location-prod"


@pytest.fixture
def world(
    tmp_path: Path, apiserver: FakeAPIServer, kubectl33: Path, isolated_home: Path
) -> dict[str, str]:
    apiserver.add_pod(PREFIX, "shop", "web-0")
    config = tmp_path / "kubeconfig"
    write_kubeconfig(config, apiserver.kubeconfig(PREFIX, context="prod", namespace="shop"))
    policy = isolated_home / ".config" / "kubesafe" / "config.yaml"
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text("rules:\n  - context: prod\n")
    (tmp_path / "project" / ".config").mkdir(parents=True)
    return {
        "HOME": str(isolated_home),
        "XDG_CONFIG_HOME": str(isolated_home / ".config"),
        "XDG_STATE_HOME": str(isolated_home / "state"),
        "XDG_CACHE_HOME": str(isolated_home / "cache"),
        "PATH": "/usr/bin:/bin",
        "KUBECONFIG": str(config),
        "KUBESAFE_KUBECTL": str(kubectl33),
        "NO_COLOR": "1",
    }


def _run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    # A new session: no controlling terminal, like make or CI.
    return subprocess.run(
        [KUBESAFE, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
    )


def _deletes(apiserver: FakeAPIServer) -> list[str]:
    return [r.path for r in apiserver.requests if r.method == "DELETE"]


def _policy(world: dict[str, str]) -> str:
    return str(Path(world["HOME"]) / ".config" / "kubesafe" / "config.yaml")


def test_usual_lookup_refuses(world: dict[str, str], apiserver: FakeAPIServer) -> None:
    apiserver.clear()
    result = _run(world, "kubectl", "delete", "pod", "web-0")
    assert result.returncode == 3 and "KUBESAFE_CONFIRM=prod" in result.stderr
    assert _deletes(apiserver) == []


def test_moved_xdg_config_home_with_the_pin_still_refuses(
    world: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    moved = {
        **world,
        PIN_VARIABLE: _policy(world),
        "XDG_CONFIG_HOME": str(tmp_path / "project" / ".config"),
    }
    apiserver.clear()
    result = _run(moved, "kubectl", "delete", "pod", "web-0")
    assert result.returncode == 3, result.stderr
    assert _deletes(apiserver) == []
    report = json.loads(_run(moved, "explain", "--json", "--", "delete", "pod", "web-0").stdout)
    assert report["decision"] == "confirm" and report["policy_file"] == _policy(world)
    assert PIN_VARIABLE in report["policy_note"]


def test_moved_home_and_state_with_the_pin_still_refuses(
    world: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    other = tmp_path / "other-home"
    other.mkdir()
    moved = {
        **world,
        PIN_VARIABLE: _policy(world),
        "HOME": str(other),
        "XDG_CONFIG_HOME": "",
        "XDG_STATE_HOME": "",
        "XDG_CACHE_HOME": "",
    }
    apiserver.clear()
    result = _run(moved, "kubectl", "delete", "pod", "web-0")
    assert result.returncode == 3, result.stderr
    assert _deletes(apiserver) == []


def test_the_state_dir_remembers_the_policy_without_a_pin(
    world: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    # A read with the usual lookup parses the policy and records where it is.
    assert _run(world, "kubectl", "get", "pods").returncode == 0
    record = Path(world["XDG_STATE_HOME"]) / "kubesafe" / "policy-location"
    assert record.read_text().strip() == _policy(world)
    # A pin naming no file: the pin is set (so no password-database guess), the record
    # is what finds the policy.
    moved = {
        **world,
        PIN_VARIABLE: str(tmp_path / "nowhere.yaml"),
        "XDG_CONFIG_HOME": str(tmp_path / "project" / ".config"),
    }
    apiserver.clear()
    result = _run(moved, "kubectl", "delete", "pod", "web-0")
    assert result.returncode == 3, result.stderr
    assert _deletes(apiserver) == []
    record.unlink()
    forgotten = _run(moved, "explain", "--json", "--", "delete", "pod", "web-0")
    assert json.loads(forgotten.stdout)["decision"] == "allow"


def test_explicit_kubesafe_config_stays_authoritative(
    world: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-policy.yaml"
    empty.write_text("")
    explicit = {**world, PIN_VARIABLE: _policy(world), "KUBESAFE_CONFIG": str(empty)}
    apiserver.clear()
    result = _run(explicit, "kubectl", "delete", "pod", "web-0")
    assert result.returncode == 0, result.stderr
    assert _deletes(apiserver) == ["/api/v1/namespaces/shop/pods/web-0"]
    apiserver.add_pod(PREFIX, "shop", "web-0")


def test_a_policy_with_rules_where_xdg_points_wins(
    world: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    project = tmp_path / "project" / ".config" / "kubesafe" / "config.yaml"
    project.parent.mkdir(parents=True)
    project.write_text("rules:\n  - context: prod\n    level: block\n")
    moved = {
        **world,
        PIN_VARIABLE: _policy(world),
        "XDG_CONFIG_HOME": str(tmp_path / "project" / ".config"),
    }
    report = json.loads(_run(moved, "explain", "--json", "--", "label", "pod", "a=b").stdout)
    assert report["decision"] == "block" and "policy_note" not in report


def test_integrated_shell_pins_the_policy_for_a_script(
    world: dict[str, str], apiserver: FakeAPIServer, tmp_path: Path
) -> None:
    """``eval "$(kubesafe init bash)"``, then a script (a Makefile recipe) that moves
    XDG_CONFIG_HOME and finds kubectl on PATH, not through the shell function."""
    project = tmp_path / "project"
    # XDG_STATE_HOME moves too, so the state record cannot help: the pin must.
    recipe = "XDG_CONFIG_HOME=$PWD/.config XDG_STATE_HOME=$PWD/.state kubectl delete pod web-0"
    script = f'eval "$({KUBESAFE} init bash)"; cd {project}; sh -c {shlex.quote(recipe)}'
    apiserver.clear()
    result = subprocess.run(
        ["/bin/bash", "-c", script],
        env=world,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 3, result.stderr
    assert "KUBESAFE_CONFIRM=prod" in result.stderr
    assert _deletes(apiserver) == []
