"""The right kubectl for each cluster, end to end, with real binaries and no internet.

A loopback mirror lays out real kubectl releases exactly like dl.k8s.io (with
digest files); the fake API server reports vendor-style versions. kubesafe must
discover, download, verify and run the matching kubectl once, then run it again
with no request to the mirror or to /version until the time to live runs out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_apiserver import FakeAPIServer, write_kubeconfig
from tests.support.kubectl_binaries import binary_version
from tests.support.mirror import Mirror, build_mirror_tree

pytestmark = pytest.mark.e2e

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")


@pytest.fixture
def releases(tmp_path: Path, kubectl33: Path, kubectl37: Path) -> dict[str, str]:
    """Tag of each real binary, as its own `version --client` reports it."""
    return {"33": binary_version(kubectl33), "37": binary_version(kubectl37)}


@pytest.fixture
def mirror(
    tmp_path: Path, kubectl33: Path, kubectl37: Path, releases: dict[str, str]
) -> Iterator[Mirror]:
    root = tmp_path / "mirror"
    build_mirror_tree(root, releases["33"], kubectl33)
    build_mirror_tree(root, releases["37"], kubectl37)
    with Mirror(root) as server:
        yield server


def _world(
    tmp_path: Path, apiserver: FakeAPIServer, mirror: Mirror, home: Path, extra: str = ""
) -> dict[str, str]:
    config = apiserver.kubeconfig("eks", context="eks", namespace="team")
    write_kubeconfig(tmp_path / "kubeconfig", config)
    policy = tmp_path / "config.yaml"
    policy.write_text("kubectl:\n  discovery-timeout: 3\n" + extra)
    bin_dir = tmp_path / "emptybin"  # no kubectl on PATH: the download is the only way
    bin_dir.mkdir(exist_ok=True)
    return {
        "HOME": str(home),
        "PATH": str(bin_dir),
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        "KUBESAFE_CONFIG": str(policy),
        "KUBESAFE_MIRROR": mirror.url,
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".state"),
    }


def _run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBESAFE, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _version_requests(apiserver: FakeAPIServer) -> int:
    return len(
        [r for r in apiserver.requests if r.prefix == "eks" and r.path.rstrip("/") == "/version"]
    )


def _mirror_requests(mirror: Mirror) -> int:
    return sum(mirror.requests.values())


def test_discover_download_verify_run_then_stay_offline(
    tmp_path: Path,
    apiserver: FakeAPIServer,
    mirror: Mirror,
    releases: dict[str, str],
    isolated_home: Path,
) -> None:
    tag33 = releases["33"]
    apiserver.set_version("eks", f"{tag33}-eks-a5565ad")
    apiserver.add_pod("eks", "team", "web-0")
    apiserver.clear()
    env = _world(tmp_path, apiserver, mirror, isolated_home, "  version-ttl: 8s\n")

    first = _run(env, "kubectl", "get", "pods")
    discovered_by = time.monotonic()
    assert first.returncode == 0, first.stderr
    assert "web-0" in first.stdout
    assert _version_requests(apiserver) == 1
    stored = isolated_home / ".cache" / "kubesafe" / "kubectl" / tag33 / "kubectl"
    assert stored.exists() and os.access(stored, os.X_OK)
    assert binary_version(stored) == tag33
    client = json.loads(
        subprocess.run(
            [str(stored), "version", "--client", "-o", "json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert client["clientVersion"]["minor"] == tag33.split(".")[1]
    assert _mirror_requests(mirror) >= 2  # digest + binary

    apiserver.clear()
    mirror.requests.clear()
    second = _run(env, "kubectl", "get", "pods")
    assert second.returncode == 0, second.stderr
    assert _mirror_requests(mirror) == 0 and _version_requests(apiserver) == 0

    # The server is upgraded; after the time to live kubesafe notices and switches.
    tag37 = releases["37"]
    apiserver.set_version("eks", f"{tag37}+k3s1")
    time.sleep(max(0.0, discovered_by + 8.5 - time.monotonic()))
    third = _run(env, "kubectl", "get", "pods")
    assert third.returncode == 0, third.stderr
    assert _version_requests(apiserver) == 1
    assert (isolated_home / ".cache" / "kubesafe" / "kubectl" / tag37 / "kubectl").exists()
    which = _run(env, "versions", "which", "--", "get", "pods")
    assert tag37 in which.stdout, which.stdout


def test_explain_and_local_commands_never_discover(
    tmp_path: Path,
    apiserver: FakeAPIServer,
    mirror: Mirror,
    releases: dict[str, str],
    isolated_home: Path,
) -> None:
    apiserver.set_version("eks", releases["33"])
    env = _world(tmp_path, apiserver, mirror, isolated_home)
    apiserver.clear()
    explained = _run(env, "explain", "--json", "--", "get", "pods")
    report = json.loads(explained.stdout)
    assert report["server_version"] is None and report["server_version_stale"] is True
    for argv in (
        ["kubectl", "config", "view"],
        ["kubectl", "__complete", "get", ""],
        ["kubectl", "completion", "bash"],
        ["kubectl", "version", "--client"],
    ):
        _run(env, *argv)
    assert _version_requests(apiserver) == 0
    assert _mirror_requests(mirror) == 0


def test_unreachable_server_falls_back_quietly_to_the_default_version(
    tmp_path: Path,
    apiserver: FakeAPIServer,
    mirror: Mirror,
    releases: dict[str, str],
    isolated_home: Path,
) -> None:
    env = _world(
        tmp_path,
        apiserver,
        mirror,
        isolated_home,
        f'  default-version: "{releases["33"].lstrip("v")}"\n  discovery-timeout: 1\n',
    )
    config = json.loads(Path(env["KUBECONFIG"]).read_text())
    config["clusters"][0]["cluster"]["server"] = "http://127.0.0.1:9/unreachable"
    write_kubeconfig(Path(env["KUBECONFIG"]), config)
    started = time.monotonic()
    result = _run(env, "kubectl", "version", "-o", "json", "--request-timeout=1s")
    elapsed = time.monotonic() - started
    # kubectl itself fails to reach the server; kubesafe ran it with the default version, quietly.
    assert "clientVersion" in result.stdout, result.stderr
    assert json.loads(result.stdout)["clientVersion"]["gitVersion"] == releases["33"]
    assert "kubesafe:" not in result.stderr  # non-interactive: nothing from kubesafe
    assert elapsed < 30


def test_eight_concurrent_first_runs_download_once(
    tmp_path: Path,
    apiserver: FakeAPIServer,
    mirror: Mirror,
    releases: dict[str, str],
    isolated_home: Path,
) -> None:
    apiserver.set_version("eks", releases["33"])
    env = _world(tmp_path, apiserver, mirror, isolated_home)
    processes = [
        subprocess.Popen(
            [KUBESAFE, "kubectl", "get", "pods"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        for _ in range(8)
    ]
    codes = [p.wait(timeout=180) for p in processes]
    assert codes == [0] * 8, [p.stderr.read() for p in processes if p.stderr]
    binary_path = f"/release/{releases['33']}/bin/linux/amd64/kubectl"
    assert mirror.requests[binary_path] == 1


def test_exec_plugin_auth_and_no_discovery_loop(
    tmp_path: Path, mirror: Mirror, releases: dict[str, str], isolated_home: Path
) -> None:
    """/version refuses anonymous access; the token comes from an exec credential plugin
    that is itself a kubectl plugin run through kubesafe's shim (``kubectl credplugin``).
    Without the recursion guard, discovery would run the plugin, which would discover..."""
    shim_dir = tmp_path / "shimbin"
    shim_dir.mkdir()
    (shim_dir / "kubectl").symlink_to(KUBESAFE)
    log = tmp_path / "plugin.log"
    plugin = shim_dir / "kubectl-credplugin"
    plugin.write_text(
        "#!/bin/sh\n"
        f'echo "discovery=${{KUBESAFE_DISCOVERY:-}}" >> {log}\n'
        'printf \'{"apiVersion":"client.authentication.k8s.io/v1beta1",'
        '"kind":"ExecCredential","status":{"token":"tok-exec"}}\'\n'
    )
    plugin.chmod(0o755)
    with FakeAPIServer(tls=True, anonymous_version=False) as server:
        server.set_version("auth", releases["33"])
        server.set_required_token("auth", "tok-exec")
        server.add_pod("auth", "default", "secret-pod")
        config = server.kubeconfig("auth", context="auth")
        config["users"][0]["user"] = {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": str(shim_dir / "kubectl"),
                "args": ["credplugin"],
                "interactiveMode": "Never",
            }
        }
        write_kubeconfig(tmp_path / "kubeconfig", config)
        policy = tmp_path / "config.yaml"
        policy.write_text(
            f'kubectl:\n  discovery-timeout: 20\n  default-version: "{releases["33"][1:]}"\n'
        )
        env = {
            "HOME": str(isolated_home),
            "PATH": str(shim_dir),
            "KUBECONFIG": str(tmp_path / "kubeconfig"),
            "KUBESAFE_CONFIG": str(policy),
            "KUBESAFE_MIRROR": mirror.url,
            "XDG_CACHE_HOME": str(isolated_home / ".cache"),
            "XDG_STATE_HOME": str(isolated_home / ".state"),
        }
        result = subprocess.run(
            [str(shim_dir / "kubectl"), "get", "pods"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, result.stderr
        assert "secret-pod" in result.stdout
        versions = [
            r for r in server.requests if r.prefix == "auth" and r.path.startswith("/version")
        ]
        assert [r.authorization for r in versions] == ["Bearer tok-exec"]
    runs = log.read_text().splitlines()
    # Once for discovery (guarded), then for kubectl's own requests (not in discovery).
    assert runs[0] == "discovery=1" and "discovery=" in runs[1:]


def test_versions_commands(
    tmp_path: Path,
    apiserver: FakeAPIServer,
    mirror: Mirror,
    releases: dict[str, str],
    isolated_home: Path,
) -> None:
    env = _world(tmp_path, apiserver, mirror, isolated_home)
    minor = releases["33"].lstrip("v").rsplit(".", 1)[0]
    installed = _run(env, "versions", "install", minor)  # newest patch via stable-1.NN.txt
    assert installed.returncode == 0, installed.stderr
    assert releases["33"] in installed.stdout
    exact = _run(env, "versions", "install", releases["37"])
    assert exact.returncode == 0, exact.stderr
    missing = _run(env, "versions", "install", "1.19.99")
    assert missing.returncode == 1 and missing.stderr.startswith("kubesafe: cannot install kubectl")
    assert "\n" not in missing.stderr.strip()
    unreleased = _run(env, "versions", "install", "9.99")
    assert unreleased.returncode == 1
    # Each thing said once: the release, and the KUBESAFE_MIRROR hint.
    assert unreleased.stderr.count("KUBESAFE_MIRROR") == 1, unreleased.stderr
    assert unreleased.stderr.count("kubectl 9.99") == 1, unreleased.stderr
    assert "HTTP 404" in unreleased.stderr

    # A system kubectl under a versioned name counts as a candidate too.
    system_bin = tmp_path / "emptybin" / f"kubectl{minor}"
    system_bin.symlink_to(
        isolated_home / ".cache" / "kubesafe" / "kubectl" / releases["33"] / "kubectl"
    )

    apiserver.set_version("eks", releases["33"])
    assert _run(env, "kubectl", "get", "pods").returncode == 0
    listing = _run(env, "versions")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    cached33 = next(line for line in lines if releases["33"] in line and "cache" in line)
    assert "contexts: eks" in cached33
    assert any("system" in line and f"kubectl{minor}" in line for line in lines)
    which = _run(env, "versions", "which", "--", "--context", "eks", "get", "pods")
    assert releases["33"] in which.stdout and "same minor as the server" in which.stdout

    dry = _run(env, "versions", "prune", "--dry-run")
    assert releases["37"] in dry.stdout and releases["33"] not in dry.stdout
    pruned = _run(env, "versions", "prune")
    assert pruned.returncode == 0
    assert not (isolated_home / ".cache" / "kubesafe" / "kubectl" / releases["37"]).exists()
    assert (isolated_home / ".cache" / "kubesafe" / "kubectl" / releases["33"] / "kubectl").exists()
