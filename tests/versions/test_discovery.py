"""Version discovery against the fake API server on 127.0.0.1."""

from __future__ import annotations

import base64
import os
import re
import socket
import stat
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubesafe.versions.discovery import (
    DISCOVERY_VARIABLE,
    SYNTHETIC_CONTEXT,
    DiscoveryError,
    build_discovery_config,
    fetch_server_version,
    in_discovery,
)
from kubesafe.versions.parse import parse_version_payload
from tests.support.fake_apiserver import FakeAPIServer, FakeResponse, write_kubeconfig

EXEC_API = "client.authentication.k8s.io/v1beta1"


@pytest.fixture(scope="module", autouse=True)
def warm_client() -> None:
    """Import the kubernetes client once (about two seconds) so that the timing checks
    below measure the request, not the import."""
    import kubernetes.client
    import kubernetes.config  # noqa: F401


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private temporary directory for everything ``tempfile`` creates."""
    directory = tmp_path / "tmpdir"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    yield directory


@pytest.fixture
def http_server() -> Iterator[FakeAPIServer]:
    with FakeAPIServer(git_version="v1.30.2") as srv:
        yield srv


@pytest.fixture
def tls_server() -> Iterator[FakeAPIServer]:
    with FakeAPIServer(
        git_version="v1.31.4", require_token="tok-good", anonymous_version=False, tls=True
    ) as srv:
        yield srv


def discover(
    files: list[Path],
    *,
    cluster: str,
    user: str = "fake-user",
    server: str = "",
    timeout: float = 3.0,
    context: str = "fake",
) -> dict[str, Any]:
    return fetch_server_version(
        kubeconfig_files=[str(f) for f in files],
        context=context,
        cluster=cluster,
        user=user,
        server=server,
        timeout=timeout,
    )


def version_requests(srv: FakeAPIServer) -> list[Any]:
    return [r for r in srv.requests if r.path.rstrip("/") == "/version"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def exec_plugin(directory: Path, token: str, *, fail: bool = False) -> Path:
    """A credential plugin that records its KUBESAFE_DISCOVERY and prints a token."""
    script = directory / "plugin.py"
    seen = directory / "plugin-saw"
    credential = {"apiVersion": EXEC_API, "kind": "ExecCredential", "status": {"token": token}}
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"open({str(seen)!r}, 'a').write(os.environ.get({DISCOVERY_VARIABLE!r}, '-') + '\\n')\n"
        + ("sys.stderr.write('boom: no login\\n'); sys.exit(3)\n" if fail else "")
        + f"print(json.dumps({credential!r}))\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


# ======================================================================================
# Versions
# ======================================================================================

VENDOR_VERSIONS = {
    "eks": ("v1.23.17-eks-a5565ad", (1, 23, 17)),
    "gke": ("v1.28.5-gke.1200", (1, 28, 5)),
    "k3s": ("v1.22.7+k3s1", (1, 22, 7)),
    "rke2": ("v1.23.7+rke2r2", (1, 23, 7)),
    "openshift": ("v1.29.6+aba1e8d", (1, 29, 6)),
    "aks": ("v1.30.2", (1, 30, 2)),
    "rc": ("v1.31.0-rc.1", (1, 31, 0)),
}


def test_vendor_versions_from_the_server(http_server: FakeAPIServer, tmp_path: Path) -> None:
    files = []
    for prefix, (git_version, _) in VENDOR_VERSIONS.items():
        http_server.set_version(prefix, git_version, minor="29+" if prefix == "eks" else None)
        files.append(write_kubeconfig(tmp_path / prefix, http_server.kubeconfig(prefix)))
    for (prefix, (git_version, expected)), config in zip(
        VENDOR_VERSIONS.items(), files, strict=True
    ):
        payload = discover([config], cluster=prefix)
        assert payload["gitVersion"] == git_version
        assert parse_version_payload(payload) == expected
    assert payload.keys() >= {"major", "minor", "gitVersion", "platform"}
    assert [r.prefix for r in version_requests(http_server)] == list(VENDOR_VERSIONS)


def test_development_build_falls_back_on_major_minor(
    http_server: FakeAPIServer, tmp_path: Path
) -> None:
    payload = {"major": "1", "minor": "30+", "gitVersion": "v0.0.0-master+$Format:%H$"}
    http_server.set_version_payload("dev", payload)
    config = write_kubeconfig(tmp_path / "config", http_server.kubeconfig("dev"))
    got = discover([config], cluster="dev")
    assert got == payload
    assert parse_version_payload(got) == (1, 30, 0)


# ======================================================================================
# Credentials
# ======================================================================================


def test_token_auth_when_anonymous_version_is_refused(
    tls_server: FakeAPIServer, tmp_path: Path
) -> None:
    good = write_kubeconfig(tmp_path / "good", tls_server.kubeconfig("c1", token="tok-good"))
    assert discover([good], cluster="c1")["gitVersion"] == "v1.31.4"

    wrong = write_kubeconfig(tmp_path / "wrong", tls_server.kubeconfig("c1", token="tok-bad"))
    with pytest.raises(DiscoveryError, match="unauthorized") as info:
        discover([wrong], cluster="c1")
    assert info.value.reason == "unauthorized"
    assert "\n" not in str(info.value)

    anonymous = write_kubeconfig(tmp_path / "anon", tls_server.kubeconfig("c1"))
    with pytest.raises(DiscoveryError, match="unauthorized"):
        discover([anonymous], cluster="c1")

    assert [r.authorization for r in version_requests(tls_server)] == [
        "Bearer tok-good",
        "Bearer tok-bad",
        None,
    ]


def test_forbidden_and_server_errors_are_bad_responses(
    http_server: FakeAPIServer, tmp_path: Path
) -> None:
    config = write_kubeconfig(tmp_path / "config", http_server.kubeconfig("c1"))
    answers = iter([FakeResponse(403, {"kind": "Status"}), FakeResponse(500, b"oops")])
    http_server.intercept(lambda req: next(answers, None))
    with pytest.raises(DiscoveryError, match=r"forbidden.*403") as info:
        discover([config], cluster="c1")
    assert info.value.reason == "forbidden"
    with pytest.raises(DiscoveryError, match=r"HTTP 500") as info:
        discover([config], cluster="c1")
    assert info.value.reason == "bad-response"


@pytest.mark.parametrize(
    "body", [b"<html>not json</html>", b"[1, 2]", b'"v1.30.2"'], ids=["html", "list", "string"]
)
def test_non_json_answers_are_bad_responses(
    http_server: FakeAPIServer, tmp_path: Path, body: bytes
) -> None:
    config = write_kubeconfig(tmp_path / "config", http_server.kubeconfig("c1"))
    http_server.intercept(lambda req: FakeResponse(200, body, content_type="text/html"))
    with pytest.raises(DiscoveryError, match="bad response") as info:
        discover([config], cluster="c1")
    assert info.value.reason == "bad-response"


def test_exec_credential_plugin(
    tls_server: FakeAPIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls_server.set_required_token("c-exec", "tok-exec")
    plugin_dir = tmp_path / "kube"
    plugin_dir.mkdir()
    exec_plugin(plugin_dir, "tok-exec")
    config = tls_server.kubeconfig("c-exec")
    # A relative command with a separator: relative to the kubeconfig's directory.
    config["users"][0]["user"] = {
        "exec": {
            "apiVersion": EXEC_API,
            "command": "./plugin.py",
            "args": ["--cluster", "c-exec"],
            "interactiveMode": "Never",
        }
    }
    path = write_kubeconfig(plugin_dir / "config", config)
    monkeypatch.chdir(tmp_path)
    assert DISCOVERY_VARIABLE not in os.environ

    assert discover([path], cluster="c-exec")["gitVersion"] == "v1.31.4"

    assert [r.authorization for r in version_requests(tls_server)] == ["Bearer tok-exec"]
    assert (plugin_dir / "plugin-saw").read_text() == "1\n"
    assert DISCOVERY_VARIABLE not in os.environ  # restored

    # A value set before is restored too.
    monkeypatch.setenv(DISCOVERY_VARIABLE, "outer")
    discover([path], cluster="c-exec")
    assert os.environ[DISCOVERY_VARIABLE] == "outer"
    assert (plugin_dir / "plugin-saw").read_text() == "1\n1\n"


def test_failing_exec_plugin_is_reported(
    tls_server: FakeAPIServer, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    plugin = exec_plugin(tmp_path, "never", fail=True)
    config = tls_server.kubeconfig("c1")
    config["users"][0]["user"] = {"exec": {"apiVersion": EXEC_API, "command": str(plugin)}}
    path = write_kubeconfig(tmp_path / "config", config)
    with pytest.raises(DiscoveryError) as info:
        discover([path], cluster="c1")
    assert info.value.reason == "unauthorized"
    assert "exec credential plugin failed" in str(info.value)
    assert "boom: no login" in str(info.value)
    assert "\n" not in str(info.value)
    assert capfd.readouterr() == ("", "")


def test_no_credentials_and_no_plugin_over_plain_http(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """client-go ignores a user's credentials for an http:// server; so does discovery
    (the Python client alone would send the token in clear text)."""
    with FakeAPIServer(git_version="v1.29.1", require_token="tok-good") as srv:
        config = srv.kubeconfig("c1", token="tok-good")
        path = write_kubeconfig(tmp_path / "token", config)
        assert discover([path], cluster="c1")["gitVersion"] == "v1.29.1"  # anonymous /version

        exec_plugin(tmp_path, "tok-good")
        config["users"][0]["user"] = {
            "exec": {"apiVersion": EXEC_API, "command": str(tmp_path / "plugin.py")}
        }
        path = write_kubeconfig(tmp_path / "exec", config)
        assert discover([path], cluster="c1")["gitVersion"] == "v1.29.1"

        assert [r.authorization for r in version_requests(srv)] == [None, None]
        assert not (tmp_path / "plugin-saw").exists()


def test_scheme_less_server_with_a_ca_is_https(tls_server: FakeAPIServer, tmp_path: Path) -> None:
    config = tls_server.kubeconfig("c1", token="tok-good")
    config["clusters"][0]["cluster"]["server"] = f"127.0.0.1:{tls_server.port}/c1"
    path = write_kubeconfig(tmp_path / "config", config)
    assert discover([path], cluster="c1")["gitVersion"] == "v1.31.4"


def test_client_certificate_data_files_are_removed(
    tls_server: FakeAPIServer, tmp_path: Path, private_tmp: Path
) -> None:
    """``*-data`` becomes temporary files for urllib3; none survive the call."""
    from tests.support.fake_apiserver import self_signed_certificate

    cert, key = self_signed_certificate()
    config = tls_server.kubeconfig("c1", token="tok-good")
    config["users"][0]["user"].update(
        {
            "client-certificate-data": base64.b64encode(cert.read_bytes()).decode(),
            "client-key-data": base64.b64encode(key.read_bytes()).decode(),
        }
    )
    path = write_kubeconfig(tmp_path / "config", config)
    assert discover([path], cluster="c1")["gitVersion"] == "v1.31.4"
    assert list(private_tmp.iterdir()) == []


# ======================================================================================
# Kubeconfig files
# ======================================================================================


def test_relative_paths_are_relative_to_the_kubeconfig(
    tls_server: FakeAPIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    subdir = tmp_path / "sub"
    subdir.mkdir()
    (subdir / "ca.crt").write_text(tls_server.ca_pem or "")
    (subdir / "secrets").mkdir()
    (subdir / "secrets" / "token").write_text("tok-good\n")
    config = tls_server.kubeconfig("c1")
    del config["clusters"][0]["cluster"]["certificate-authority-data"]
    config["clusters"][0]["cluster"]["certificate-authority"] = "ca.crt"
    config["users"][0]["user"] = {"tokenFile": "secrets/token"}
    path = write_kubeconfig(subdir / "config", config)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    assert discover([path], cluster="c1")["gitVersion"] == "v1.31.4"
    [request] = version_requests(tls_server)
    assert request.authorization == "Bearer tok-good"

    # The same kubeconfig given by a relative path.
    monkeypatch.chdir(tmp_path)
    assert discover([Path("sub/config")], cluster="c1")["gitVersion"] == "v1.31.4"


def test_multi_file_merge_first_definition_wins(tls_server: FakeAPIServer, tmp_path: Path) -> None:
    tls_server.set_version("c-a", "v1.28.3")
    tls_server.set_version("c-b", "v1.33.0")
    first = tls_server.kubeconfig("c-a", cluster="shared", user="someone-else")
    second = tls_server.kubeconfig("c-b", cluster="shared", user="alice")
    # alice is only defined in the second file, with a relative token file beside it.
    second["users"][0]["user"] = {"tokenFile": "alice.token"}
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "alice.token").write_text("tok-good")
    one = write_kubeconfig(tmp_path / "one" / "config", first)
    two = write_kubeconfig(tmp_path / "two" / "config", second)

    payload = discover([one, tmp_path / "missing", two], cluster="shared", user="alice")
    assert payload["gitVersion"] == "v1.28.3"
    [request] = version_requests(tls_server)
    assert (request.prefix, request.authorization) == ("c-a", "Bearer tok-good")

    assert discover([two, one], cluster="shared", user="alice")["gitVersion"] == "v1.33.0"


def test_server_override(http_server: FakeAPIServer, tmp_path: Path) -> None:
    http_server.set_version("c-b", "v1.27.9")
    path = write_kubeconfig(tmp_path / "config", http_server.kubeconfig("c-a"))
    got = discover([path], cluster="c-a", server=http_server.cluster_url("c-b"))
    assert got["gitVersion"] == "v1.27.9"
    # --server without any cluster entry at all
    got = discover([path], cluster="", user="", server=http_server.cluster_url("c-b") + "/")
    assert got["gitVersion"] == "v1.27.9"
    assert [r.prefix for r in version_requests(http_server)] == ["c-b", "c-b"]


def test_kubeconfig_files_are_left_byte_for_byte_unchanged(
    tls_server: FakeAPIServer, tmp_path: Path, private_tmp: Path
) -> None:
    exec_plugin(tmp_path, "tok-good")
    config = tls_server.kubeconfig("c1")
    config["users"][0]["user"] = {
        "exec": {"apiVersion": EXEC_API, "command": str(tmp_path / "plugin.py")}
    }
    config["users"].append({"name": "other", "user": {"token": "x"}})
    # YAML with comments and odd formatting: any rewrite would show.
    yaml_text = (
        "# my precious kubeconfig\n"
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: c1\n  cluster: {{server: '{tls_server.cluster_url('c1')}',"
        f" certificate-authority-data: {tls_server.ca_data}}}\n"
        "contexts: [{name: fake, context: {cluster: c1, user: fake-user}}]\n"
        "current-context: fake   # trailing comment\n"
    )
    main = tmp_path / "main.yaml"
    main.write_text(yaml_text)
    users = write_kubeconfig(tmp_path / "users.json", {"users": config["users"]})
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (main, users)}

    assert discover([main, users], cluster="c1")["gitVersion"] == "v1.31.4"

    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (main, users)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "main.yaml",
        "plugin-saw",
        "plugin.py",
        "tmpdir",
        "users.json",
    ]
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("cluster", "server", "message"),
    [
        ("nope", "", "cluster 'nope' (context 'fake') is not in the kubeconfig"),
        ("", "", "no server"),
        ("empty", "", "no server for cluster 'empty'"),
    ],
)
def test_no_server_to_ask(tmp_path: Path, cluster: str, server: str, message: str) -> None:
    path = write_kubeconfig(
        tmp_path / "config",
        {"clusters": [{"name": "empty", "cluster": {}}, {"name": "weird"}, "junk"]},
    )
    with pytest.raises(DiscoveryError, match=re.escape(message)) as info:
        discover([path], cluster=cluster, server=server)
    assert info.value.reason == "config"


def test_broken_kubeconfig_files(tmp_path: Path, http_server: FakeAPIServer) -> None:
    broken = tmp_path / "broken"
    broken.write_text("clusters: [\n")
    with pytest.raises(DiscoveryError, match="cannot read kubeconfig") as info:
        discover([broken], cluster="c1", server=http_server.url)
    assert info.value.reason == "config" and "\n" not in str(info.value)
    scalar = tmp_path / "scalar"
    scalar.write_text("just a string\n")
    with pytest.raises(DiscoveryError, match="not a mapping"):
        discover([scalar], cluster="c1", server=http_server.url)
    # empty and missing files are skipped
    (tmp_path / "empty").write_text("")
    got = discover([tmp_path / "empty", tmp_path / "missing"], cluster="", server=http_server.url)
    assert got["gitVersion"] == "v1.30.2"


def test_missing_certificate_authority_file(tls_server: FakeAPIServer, tmp_path: Path) -> None:
    config = tls_server.kubeconfig("c1", token="tok-good")
    del config["clusters"][0]["cluster"]["certificate-authority-data"]
    config["clusters"][0]["cluster"]["certificate-authority"] = "nowhere/ca.crt"
    path = write_kubeconfig(tmp_path / "config", config)
    with pytest.raises(DiscoveryError, match=r"nowhere/ca\.crt") as info:
        discover([path], cluster="c1")
    assert info.value.reason == "config"


def test_build_discovery_config(tmp_path: Path) -> None:
    path = write_kubeconfig(
        tmp_path / "kube" / "config",
        {
            "clusters": [
                {
                    "name": "c",
                    "cluster": {"server": "HTTPS://h:6443", "certificate-authority": "ca"},
                }
            ],
            "users": [
                {
                    "name": "u",
                    "user": {
                        "client-certificate": "/abs/cert",
                        "client-key": "keys/key",
                        "exec": {"apiVersion": EXEC_API, "command": "aws", "args": ["eks"]},
                    },
                },
                {"name": "v", "user": {"exec": {"apiVersion": EXEC_API, "command": "bin/x"}}},
            ],
            "contexts": [{"name": SYNTHETIC_CONTEXT, "context": {"cluster": "c", "user": "v"}}],
        },
    )
    base = str(tmp_path / "kube")
    config = build_discovery_config([str(path)], context="ctx", cluster="c", user="u", server="")
    assert config["current-context"] == SYNTHETIC_CONTEXT
    assert config["contexts"] == [
        {"name": SYNTHETIC_CONTEXT, "context": {"cluster": SYNTHETIC_CONTEXT, "user": "u"}}
    ]
    assert config["clusters"] == [
        {
            "name": SYNTHETIC_CONTEXT,
            "cluster": {"server": "https://h:6443", "certificate-authority": f"{base}/ca"},
        }
    ]
    [user] = config["users"]
    assert user["user"]["client-certificate"] == "/abs/cert"
    assert user["user"]["client-key"] == f"{base}/keys/key"
    assert user["user"]["exec"]["command"] == "aws"  # looked up on PATH

    other = build_discovery_config([str(path)], context="", cluster="c", user="v", server="")
    assert other["users"][0]["user"]["exec"]["command"] == f"{base}/bin/x"

    unknown_user = build_discovery_config(
        [str(path)], context="", cluster="c", user="zz", server=""
    )
    assert unknown_user["users"] == [] and "user" not in unknown_user["contexts"][0]["context"]

    plain = build_discovery_config(
        [str(path)], context="", cluster="c", user="u", server="http://h:8080"
    )
    assert plain["users"] == [] and plain["clusters"][0]["cluster"]["server"] == "http://h:8080"


# ======================================================================================
# Failures: fast, quiet, one line
# ======================================================================================


def test_connection_refused_fails_fast(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = write_kubeconfig(
        tmp_path / "config",
        {"clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{free_port()}"}}]},
    )
    started = time.monotonic()
    with pytest.raises(DiscoveryError, match="unreachable") as info:
        discover([path], cluster="c")
    assert time.monotonic() - started < 1.5
    assert info.value.reason == "unreachable"
    assert capfd.readouterr() == ("", "")


def test_timeout(http_server: FakeAPIServer, tmp_path: Path) -> None:
    http_server.intercept(lambda req: FakeResponse(200, http_server.version_payload(), delay=10))
    path = write_kubeconfig(tmp_path / "config", http_server.kubeconfig("slow"))
    started = time.monotonic()
    with pytest.raises(DiscoveryError, match=r"timeout.*0\.5s") as info:
        discover([path], cluster="slow", timeout=0.5)
    elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 1.5, elapsed
    assert info.value.reason == "timeout"
    assert len(version_requests(http_server)) == 1  # no retries


def test_tls_problems_are_quiet_one_liners(
    tls_server: FakeAPIServer, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    config = tls_server.kubeconfig("c1", token="tok-good")
    del config["clusters"][0]["cluster"]["certificate-authority-data"]
    untrusted = write_kubeconfig(tmp_path / "untrusted", config)
    with pytest.raises(DiscoveryError, match="TLS problem") as info:
        discover([untrusted], cluster="c1")
    assert info.value.reason == "tls" and "\n" not in str(info.value)

    config["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    insecure = write_kubeconfig(tmp_path / "insecure", config)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert discover([insecure], cluster="c1")["gitVersion"] == "v1.31.4"
    # The fake server leaves its end of the failed handshake above to the garbage
    # collector, which may run here: that ResourceWarning is the server's, not ours.
    servers_own = f"'127.0.0.1', {tls_server.port})>"
    messages = [str(w.message) for w in caught]
    assert [m for m in messages if not m.endswith(servers_own)] == []  # no InsecureRequest...
    assert capfd.readouterr() == ("", "")


def test_silent_server_times_out_during_the_tls_handshake(tmp_path: Path) -> None:
    """A port that accepts connections but never speaks: the handshake is bounded too."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        url = f"https://127.0.0.1:{listener.getsockname()[1]}"
        cluster = {"server": url, "insecure-skip-tls-verify": True}
        path = write_kubeconfig(
            tmp_path / "config", {"clusters": [{"name": "c", "cluster": cluster}]}
        )
        started = time.monotonic()
        with pytest.raises(DiscoveryError, match="timeout") as info:
            discover([path], cluster="c", timeout=0.5)
        assert time.monotonic() - started < 1.5
        assert info.value.reason == "timeout"


def test_unreadable_token_file(tls_server: FakeAPIServer, tmp_path: Path) -> None:
    config = tls_server.kubeconfig("c1")
    config["users"][0]["user"] = {"tokenFile": "no-such-token"}
    path = write_kubeconfig(tmp_path / "config", config)
    with pytest.raises(DiscoveryError, match="cannot read tokenFile") as info:
        discover([path], cluster="c1")
    assert info.value.reason == "config"
    # a token given as well is used instead
    config["users"][0]["user"]["token"] = "tok-good"
    path = write_kubeconfig(tmp_path / "config", config)
    assert discover([path], cluster="c1")["gitVersion"] == "v1.31.4"
    assert version_requests(tls_server)[-1].authorization == "Bearer tok-good"


def test_kubernetes_client_missing(
    http_server: FakeAPIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "kubernetes.client.api.version_api", None)
    path = write_kubeconfig(tmp_path / "config", http_server.kubeconfig("c1"))
    with pytest.raises(DiscoveryError, match="kubernetes Python client") as info:
        discover([path], cluster="c1")
    assert info.value.reason == "unavailable"
    assert DISCOVERY_VARIABLE not in os.environ


def test_in_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    assert in_discovery({DISCOVERY_VARIABLE: "1"})
    assert not in_discovery({})
    assert not in_discovery({DISCOVERY_VARIABLE: ""})
    assert not in_discovery()
    monkeypatch.setenv(DISCOVERY_VARIABLE, "1")
    assert in_discovery()


def test_discovery_error_is_one_line() -> None:
    err = DiscoveryError("tls", "TLS problem:\n  certificate\tverify failed\n")
    assert str(err) == "TLS problem: certificate verify failed"
    assert err.reason == "tls"
