"""The endpoint memory's refresh is skipped only when nothing it reads has changed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from kubesafe import protected_endpoints
from kubesafe.kubectl.plan import make_plan
from kubesafe.verdict import ALLOW, CONFIRM
from tests.kubeconfigs import write

PROD_URL = "https://api.prod.example:6443"


def _config(current: str = "dev", token: str = "t1", ca_file: str = "") -> dict[str, Any]:
    prod: dict[str, Any] = {"server": PROD_URL}
    if ca_file:
        prod["certificate-authority"] = ca_file
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "prodc", "cluster": prod},
            {"name": "devc", "cluster": {"server": "https://api.dev.example:6443"}},
        ],
        "contexts": [
            {"name": "prod", "context": {"cluster": "prodc", "user": "u"}},
            {"name": "dev", "context": {"cluster": "devc", "user": "u"}},
        ],
        "users": [{"name": "u", "user": {"token": token}}],
        "current-context": current,
    }


@pytest.fixture
def judged(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The contexts each refresh judged (empty: the refresh was skipped)."""
    from kubesafe.kubeconfig import cache

    # Every call parses the files again, however slow the machine: refresh runs each time.
    monkeypatch.setattr(cache, "RACY_SECONDS", 10**9)
    protected_endpoints.forget_loaded()
    seen: list[str] = []
    real = protected_endpoints._own_protection

    def counting(policy: Any, target: Any) -> Any:
        seen.append(target.context)
        return real(policy, target)

    monkeypatch.setattr(protected_endpoints, "_own_protection", counting)
    return seen


def _env(tmp_path: Path, policy: str = "rules:\n  - context: prod\n") -> dict[str, str]:
    write(tmp_path / "kubeconfig", _config())
    (tmp_path / "policy.yaml").write_text(policy)
    return {
        "HOME": str(tmp_path),
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        "KUBESAFE_CONFIG": str(tmp_path / "policy.yaml"),
        "PATH": "",
    }


def _judge(env: dict[str, str], seen: list[str]) -> list[str]:
    """What the refresh of one kubectl call judged (dev is the target: nothing else judges)."""
    seen.clear()
    protected_endpoints.forget_loaded()
    make_plan(["--context", "dev", "get", "pods"], env)
    return sorted(seen)


def test_unchanged_inputs_skip_and_changed_ones_refresh(tmp_path: Path, judged: list[str]) -> None:
    env = _env(tmp_path)
    assert _judge(env, judged) == ["dev", "prod"]
    assert _judge(env, judged) == []  # the same file parsed again: nothing to judge
    # What refresh does not read: the current context and the users' credentials.
    write(tmp_path / "kubeconfig", _config(current="prod", token="t2"))
    assert _judge(env, judged) == []
    # What it reads: the policy, the contexts and clusters.
    (tmp_path / "policy.yaml").write_text("rules:\n  - context: prod\n  - context: dev\n")
    # dev protected now: the call's own target is also judged once (remember).
    assert _judge(env, judged) == ["dev", "dev", "prod"]
    assert _judge(env, judged) == ["dev"]
    config = _config()
    config["contexts"].append({"name": "tunnel", "context": {"cluster": "devc"}})
    write(tmp_path / "kubeconfig", config)
    assert _judge(env, judged) == ["dev", "dev", "prod", "tunnel"]
    assert _judge(env, judged) == ["dev"]


def test_a_ca_file_or_the_hosts_file_changing_refreshes(
    tmp_path: Path, judged: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubesafe import endpoint

    env = _env(tmp_path)
    ca = tmp_path / "ca.pem"
    ca.write_text("one\n")
    write(tmp_path / "kubeconfig", _config(ca_file=str(ca)))
    assert _judge(env, judged) == ["dev", "prod"]
    assert _judge(env, judged) == []
    ca.write_text("two, longer\n")
    assert _judge(env, judged) == ["dev", "prod"]
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    monkeypatch.setattr(endpoint, "HOSTS_FILE", str(hosts))
    endpoint.reset_hosts()
    assert _judge(env, judged) == ["dev", "prod"]
    assert _judge(env, judged) == []


def test_another_write_of_the_memory_voids_the_skip(tmp_path: Path, judged: list[str]) -> None:
    env = _env(tmp_path)
    assert _judge(env, judged) == ["dev", "prod"]
    state = Path(protected_endpoints.state_path())
    state.write_bytes(state.read_bytes())  # another process rewrote it
    os.utime(state, ns=(0, 0))
    assert _judge(env, judged) == ["dev", "prod"]


def test_what_is_remembered_still_protects_after_skips(tmp_path: Path, judged: list[str]) -> None:
    env = _env(tmp_path)
    admin = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "k", "cluster": {"server": "https://API.prod.example:6443/"}}],
        "contexts": [{"name": "admin", "context": {"cluster": "k"}}],
        "current-context": "admin",
    }
    write(tmp_path / "admin.conf", admin)
    for current in ("dev", "prod", "dev"):
        write(tmp_path / "kubeconfig", _config(current=current))
        _judge(env, judged)
    other = {**env, "KUBECONFIG": str(tmp_path / "admin.conf")}
    assert make_plan(["delete", "ns", "x"], other).decision == CONFIRM
    (tmp_path / "policy.yaml").write_text("rules: []\n")
    assert make_plan(["delete", "ns", "x"], other).decision == ALLOW
