"""Namespace lookups with real kubectl against the fake API server, and their cache."""

from __future__ import annotations

import json
import marshal
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesafe import namespaces
from kubesafe.kubectl.locate import NO_KUBECTL
from kubesafe.namespaces import NamespaceLookupError
from kubesafe.versions import server_cache
from tests.support.fake_apiserver import FakeAPIServer, FakeResponse, write_kubeconfig
from tests.support.kubectl_binaries import binary_version, kubectl_binary

pytestmark = pytest.mark.e2e

PREFIX = "c-ns"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAPIServer]:
    with FakeAPIServer(tls=True) as srv:
        yield srv


@pytest.fixture
def env(tmp_path: Path, server: FakeAPIServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Two contexts on one cluster with different users, kubectl 1.33 pinned."""
    config = server.kubeconfig(PREFIX, token="tok-secret-alice", context="alice", user="alice")
    config["users"].append({"name": "bob", "user": {"token": "tok-secret-bob"}})
    config["contexts"].append({"name": "bob", "context": {"cluster": PREFIX, "user": "bob"}})
    write_kubeconfig(tmp_path / "kubeconfig", config)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.setenv("KUBESAFE_KUBECTL", str(kubectl_binary(33)))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    server.clear()
    return dict(os.environ)


def _resource_requests(server: FakeAPIServer) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in server.resource_requests() if r.prefix == PREFIX]


def _cache_files() -> list[Path]:
    root = Path(os.environ["XDG_CACHE_HOME"]) / "kubesafe" / "namespaces"
    return sorted(root.glob("*.marshal")) if root.exists() else []


# -- namespace_exists --------------------------------------------------------------------


def test_existing_namespace_is_one_get_not_a_list(server, env) -> None:
    server.add_namespace(PREFIX, "team-a")
    server.clear()
    assert namespaces.namespace_exists("alice", "team-a", env) is True
    assert _resource_requests(server) == [("GET", "/api/v1/namespaces/team-a")]
    [request] = server.find_requests("GET", prefix=PREFIX, name="team-a")
    assert request.bearer_token == "tok-secret-alice"  # the context's own credentials


def test_missing_namespace_is_false_and_not_created(server, env) -> None:
    assert namespaces.namespace_exists("alice", "nope", env) is False
    assert _resource_requests(server) == [("GET", "/api/v1/namespaces/nope")]
    assert namespaces.namespace_exists("alice", "nope", env) is False  # a GET creates nothing


def test_forbidden_suggests_force(server, env) -> None:
    def forbid(request):
        if request.name == "secret-ns" and request.prefix == PREFIX:
            return FakeResponse(
                403,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "Forbidden",
                    "code": 403,
                    "message": 'namespaces "secret-ns" is forbidden: User "alice" cannot get',
                },
            )
        return None

    remove = server.intercept(forbid)
    try:
        with pytest.raises(NamespaceLookupError) as caught:
            namespaces.namespace_exists("alice", "secret-ns", env)
    finally:
        remove()
    assert caught.value.kind == "forbidden"
    message = str(caught.value)
    assert "--force" in message and "\n" not in message
    assert server.cluster_url(PREFIX) in message


def test_unauthorized_suggests_force(tmp_path, env) -> None:
    with FakeAPIServer(tls=True, require_token="right") as strict:
        config = strict.kubeconfig("c-auth", token="wrong", context="auth")
        write_kubeconfig(tmp_path / "strict", config)
        env = {**env, "KUBECONFIG": str(tmp_path / "strict")}
        with pytest.raises(NamespaceLookupError) as caught:
            namespaces.namespace_exists("auth", "default", env)
    assert caught.value.kind == "unauthorized"
    assert "--force" in str(caught.value) and "\n" not in str(caught.value)


def test_user_without_credentials_is_unauthorized_not_a_prompt(tmp_path, server, env) -> None:
    # kubectl asks "Please enter Username:" for a user entry with no credentials at all.
    config = server.kubeconfig(PREFIX, context="anon", user="anon")
    write_kubeconfig(tmp_path / "anon", config)
    env = {**env, "KUBECONFIG": str(tmp_path / "anon")}
    with pytest.raises(NamespaceLookupError) as caught:
        namespaces.namespace_exists("anon", "default", env)
    assert caught.value.kind == "unauthorized"


def test_unreachable_server_names_it(tmp_path, env) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "gone", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
    }
    write_kubeconfig(tmp_path / "gone", config)
    env = {**env, "KUBECONFIG": str(tmp_path / "gone")}
    with pytest.raises(NamespaceLookupError) as caught:
        namespaces.namespace_exists("gone", "default", env)
    assert caught.value.kind == "unreachable"
    assert "https://127.0.0.1:1" in str(caught.value) and "\n" not in str(caught.value)


def test_slow_server_times_out(server, env) -> None:
    remove = server.intercept(
        lambda r: FakeResponse(200, {}, delay=5) if r.name == "slow" else None
    )
    started = time.monotonic()
    try:
        with pytest.raises(NamespaceLookupError) as caught:
            namespaces.namespace_exists("alice", "slow", env, timeout=1)
    finally:
        remove()
    assert caught.value.kind == "unreachable"
    assert time.monotonic() - started < 4.5
    assert server.cluster_url(PREFIX) in str(caught.value)


@pytest.mark.parametrize("name", ["--all-namespaces", "-A", "Team", "a_b", "", "x" * 64, "a/b"])
def test_invalid_names_never_reach_kubectl(server, env, name) -> None:
    with pytest.raises(NamespaceLookupError, match="not a valid namespace name"):
        namespaces.namespace_exists("alice", name, env)
    assert _resource_requests(server) == []


def test_unknown_context(env) -> None:
    with pytest.raises(NamespaceLookupError, match='context "nowhere" not found') as caught:
        namespaces.namespace_exists("nowhere", "default", env)
    assert caught.value.kind == "config"


def test_no_kubectl_at_all_and_never_the_shim(tmp_path, env) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "shim-ran"
    shim = bin_dir / "kubectl"  # what a kubesafe console script looks like to locate.py
    shim.write_text(f"#!/bin/sh\n# python -m kubesafe\ntouch {marker}\n")
    shim.chmod(0o755)
    env = {k: v for k, v in env.items() if k != "KUBESAFE_KUBECTL"}
    env["PATH"] = str(bin_dir)
    with pytest.raises(NamespaceLookupError) as caught:
        namespaces.namespace_exists("alice", "default", env)
    assert str(caught.value) == NO_KUBECTL
    assert not marker.exists()


def _user_agent_minor(server: FakeAPIServer, name: str) -> str:
    [request] = server.find_requests("GET", prefix=PREFIX, name=name)
    return request.user_agent.split()[0]  # "kubectl/v1.33.9"


def _install_in_store(minor: int) -> str:
    binary = kubectl_binary(minor)
    tag = binary_version(binary)
    directory = Path(os.environ["XDG_CACHE_HOME"]) / "kubesafe" / "kubectl" / tag
    directory.mkdir(parents=True)
    (directory / "kubectl").symlink_to(binary)
    return tag


def test_runs_the_kubectl_kubesafe_chooses(tmp_path, server, env, monkeypatch) -> None:
    """The server's minor picks the binary, as for the shim; missing -> nearest, no download."""
    env = {k: v for k, v in env.items() if k != "KUBESAFE_KUBECTL"}
    env["KUBESAFE_MIRROR"] = "http://127.0.0.1:1"  # any download attempt would fail loudly
    tag31 = _install_in_store(31)
    path_dir = tmp_path / "path"
    path_dir.mkdir()
    (path_dir / "kubectl").symlink_to(kubectl_binary(33))
    env["PATH"] = f"{path_dir}:/usr/bin:/bin"
    tag33 = binary_version(kubectl_binary(33))

    versions = server_cache.ServerVersions()
    versions.record(server.cluster_url(PREFIX), "v1.31.2")
    versions.save()
    server.add_namespace(PREFIX, "pick-31")
    server.clear()
    assert namespaces.namespace_exists("alice", "pick-31", env)
    assert _user_agent_minor(server, "pick-31") == f"kubectl/{tag31}"

    versions = server_cache.ServerVersions()
    versions.record(server.cluster_url(PREFIX), "v1.36.1")  # neither present: nearest is 1.33
    versions.save()
    server.add_namespace(PREFIX, "pick-36")
    assert namespaces.namespace_exists("alice", "pick-36", env)
    assert _user_agent_minor(server, "pick-36") == f"kubectl/{tag33}"
    assert not (Path(os.environ["XDG_CACHE_HOME"]) / "kubesafe" / "kubectl" / "v1.36.1").exists()


# -- the namespace list and its cache ----------------------------------------------------


def test_refresh_lists_sorts_and_caches_privately(server, env) -> None:
    for name in ("zeta", "alpha", "mid"):
        server.add_namespace(PREFIX, name)
    server.clear()
    names = namespaces.refresh_namespaces("alice", env)
    assert names == sorted(names)
    assert {"alpha", "mid", "zeta", "default", "kube-system"} <= set(names)
    assert _resource_requests(server) == [("GET", "/api/v1/namespaces")]  # one LIST
    assert namespaces.cached_namespaces("alice", env) == names
    [cache] = _cache_files()
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert b"tok-secret" not in cache.read_bytes()


def test_cache_is_per_user_and_server(tmp_path, server, env) -> None:
    namespaces.refresh_namespaces("alice", env)
    assert namespaces.cached_namespaces("bob", env) is None  # same cluster, another user
    namespaces.refresh_namespaces("bob", env)
    assert len(_cache_files()) == 2
    # The same context name pointing somewhere else does not see alice's cache.
    config = json.loads(Path(env["KUBECONFIG"]).read_text())
    config["clusters"][0]["cluster"]["server"] = server.cluster_url("c-other")
    write_kubeconfig(tmp_path / "moved", config)
    assert (
        namespaces.cached_namespaces("alice", {**env, "KUBECONFIG": str(tmp_path / "moved")})
        is None
    )


def test_a_cache_others_can_write_is_ignored(env) -> None:
    namespaces.refresh_namespaces("alice", env)
    [cache] = _cache_files()
    cache.chmod(0o666)
    assert namespaces.cached_namespaces("alice", env) is None


def test_corrupt_cache_is_ignored(env) -> None:
    namespaces.refresh_namespaces("alice", env)
    [cache] = _cache_files()
    cache.write_bytes(b'{"key": 1')
    assert namespaces.cached_namespaces("alice", env) is None


def test_list_without_cache_lists_now(server, env, monkeypatch) -> None:
    started: list[object] = []
    monkeypatch.setattr(namespaces, "start_background_refresh", lambda *a: started.append(a))
    names = namespaces.list_namespaces("alice", env)
    assert "default" in names
    assert _resource_requests(server) == [("GET", "/api/v1/namespaces")]
    assert started == []


def _age_cache(seconds: float) -> None:
    [cache] = _cache_files()
    payload = marshal.loads(cache.read_bytes())
    payload["time"] -= seconds
    cache.write_bytes(marshal.dumps(payload))


def test_fresh_cache_is_not_refreshed_again(server, env, monkeypatch) -> None:
    namespaces.refresh_namespaces("alice", env)
    started: list[object] = []
    monkeypatch.setattr(namespaces, "start_background_refresh", lambda *a: started.append(a))
    server.clear()
    namespaces.list_namespaces("alice", env)
    assert started == [] and _resource_requests(server) == []
    _age_cache(namespaces.FRESH_SECONDS + 1)
    namespaces.list_namespaces("alice", env)
    assert len(started) == 1 and _resource_requests(server) == []


def _wait_for(predicate, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_stale_cache_answers_at_once_and_a_detached_process_refreshes_it(server, env) -> None:
    namespaces.refresh_namespaces("alice", env)
    _age_cache(60)
    server.add_namespace(PREFIX, "born-later")
    # The caller is a separate process that exits right away: the refresh outlives it.
    driver = (
        "import os, sys, time; from kubesafe.namespaces import list_namespaces;"
        "t = time.monotonic(); names = list_namespaces('alice', os.environ);"
        "print(int('born-later' in names), time.monotonic() - t)"
    )
    result = subprocess.run(
        [sys.executable, "-c", driver], env=env, capture_output=True, text=True, check=True
    )
    seen, elapsed = result.stdout.split()
    assert seen == "0"  # the cached answer, without waiting for the cluster
    assert float(elapsed) < 1.0
    assert _wait_for(lambda: "born-later" in (namespaces.cached_namespaces("alice", env) or []))


def test_one_refresh_per_context_at_a_time(server, env) -> None:
    namespaces.refresh_namespaces("alice", env)
    _age_cache(60)
    target = namespaces._target("alice", env)
    lock = namespaces._cache_file(target) + ".lock"
    server.clear()
    with namespaces._Locked(lock) as held:
        assert held
        assert namespaces.start_background_refresh(target, env) is False
        assert namespaces.main(["refresh", "alice"]) == 0  # a second refresher just leaves
    assert _resource_requests(server) == []


def test_background_entry_point(server, env) -> None:
    assert namespaces.main(["bogus"]) == 2
    result = subprocess.run(
        [sys.executable, "-m", "kubesafe.namespaces", "refresh", "nowhere"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("kubesafe: ") and result.stderr.count("\n") == 1
    subprocess.run(
        [sys.executable, "-m", "kubesafe.namespaces", "refresh", "alice"], env=env, check=True
    )
    assert "default" in (namespaces.cached_namespaces("alice", env) or [])


def test_thousands_of_namespaces_from_cache_fast(tmp_path, env, monkeypatch) -> None:
    with FakeAPIServer() as big:
        for i in range(5000):
            big.add_namespace("c-big", f"ns-{i:05d}")
        write_kubeconfig(tmp_path / "big", big.kubeconfig("c-big", context="big"))
        env = {**env, "KUBECONFIG": str(tmp_path / "big")}
        names = namespaces.refresh_namespaces("big", env)
    assert len(names) == 5004
    monkeypatch.setattr(namespaces, "start_background_refresh", lambda *a: True)
    _age_cache(60)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        assert namespaces.list_namespaces("big", env) == names
        timings.append(time.perf_counter() - started)
    assert sorted(timings)[2] < 0.25, timings


# -- `kubesafe ns` off a terminal: the fast path -------------------------------------------

_FAST_DRIVER = """
import sys
sys.argv = ["kubesafe", "ns"]
from kubesafe.entry import main
try:
    code = main()
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
# YAML is left out: a kubeconfig written under two seconds ago is parsed, not cached.
heavy = sorted(m for m in ("click", "subprocess", "hashlib", "json") if m in sys.modules)
print("HEAVY", ",".join(heavy), code, file=sys.stderr)
"""


def _seed_cache(env: dict[str, str], names: list[str], age: float) -> None:
    target = namespaces._target("alice", env)
    payload = {"key": namespaces._key(target), "time": time.time() - age, "namespaces": names}
    path = Path(namespaces._cache_file(target))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(marshal.dumps(payload))


def _run_fast(env: dict[str, str]) -> tuple[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", _FAST_DRIVER],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout, done.stderr.strip().splitlines()[-1]


def test_kubesafe_ns_lists_twenty_thousand_cached_namespaces_without_click(env) -> None:
    names = sorted(f"team-{i:05d}" for i in range(20_000))
    _seed_cache(env, names, age=0)
    stdout, heavy = _run_fast(env)
    assert stdout.splitlines() == names
    # Neither click, subprocess, json nor OpenSSL's hashlib: a few ms of imports at most.
    assert heavy == "HEAVY  0"
    # The full command prints exactly the same list.
    from kubesafe.commands.switch import ns

    assert ns((), current=False, unset=False, force=False, global_=False, env=env) + "\n" == stdout


def test_kubesafe_ns_fast_path_refreshes_a_stale_cache_in_a_detached_process(server, env) -> None:
    _seed_cache(env, ["old-only"], age=60)
    stdout, heavy = _run_fast(env)
    assert stdout == "old-only\n"  # the cached answer at once
    assert heavy == "HEAVY  0"  # the refresh was spawned without importing subprocess
    assert _wait_for(lambda: "default" in (namespaces.cached_namespaces("alice", env) or []))


def test_kubesafe_ns_fast_path_leaves_errors_to_the_full_command(env, tmp_path) -> None:
    write_kubeconfig(tmp_path / "empty", {"apiVersion": "v1", "kind": "Config"})
    stdout, heavy = _run_fast({**env, "KUBECONFIG": str(tmp_path / "empty")})
    assert stdout == ""
    assert heavy.startswith("HEAVY click") and heavy.endswith(" 1")
