"""Issue 11: the protected API server reached under another name, file, entry or approval.

Every case is differential: real kubectl (or helm), run directly with the same
arguments, really writes to prod's fake cluster; through ``kubesafe kubectl``
with no terminal the same write is refused (status 3) and the recording API
server sees no write. The benign twin (a genuinely different dev server) passes.
"""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.support.fake_apiserver import FakeAPIServer, write_kubeconfig
from tests.support.kubectl_binaries import helm_binary, kubectl_binary

pytestmark = pytest.mark.e2e

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PROD, DEV = "ep-prod", "ep-dev"
_NAMES = itertools.count()


def _writes(server: FakeAPIServer, prefix: str) -> list[str]:
    return [
        f"{r.method} {r.path}" for r in server.requests if r.prefix == prefix and r.method in WRITES
    ]


def _hosts_aliases_of_loopback() -> list[str]:
    names: list[str] = []
    with open("/etc/hosts", encoding="utf-8") as handle:
        for line in handle:
            fields = line.partition("#")[0].split()
            if len(fields) > 1 and fields[0].startswith("127."):
                names += [n for n in fields[1:] if n != "localhost"]
    return names


class Setup:
    def __init__(self, tmp_path: Path, server: FakeAPIServer, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.server = server
        self.env = env

    def name(self) -> str:
        # The fake API server lives for the session: names must not repeat across tests.
        return f"cm-{next(_NAMES)}"

    def direct(self, argv: list[str], extra: dict[str, str] | None = None) -> list[str]:
        """Writes real kubectl makes to prod with these arguments (ground truth)."""
        self.server.clear()
        kubectl = self.env["KUBESAFE_KUBECTL"]
        result = subprocess.run(
            [kubectl, *argv], env={**self.env, **(extra or {})}, capture_output=True, timeout=60
        )
        assert result.returncode == 0, (argv, result.stderr)
        return _writes(self.server, PROD)

    def guarded(
        self, argv: list[str], extra: dict[str, str] | None = None, program: str = "kubectl"
    ) -> subprocess.CompletedProcess[str]:
        self.server.clear()
        return subprocess.run(
            [KUBESAFE, program, *argv],
            env={**self.env, **(extra or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            start_new_session=True,  # no controlling terminal, like CI
            stdin=subprocess.DEVNULL,
        )

    def assert_refused(
        self, argv: list[str], extra: dict[str, str] | None = None, program: str = "kubectl"
    ) -> subprocess.CompletedProcess[str]:
        result = self.guarded(argv, extra, program)
        assert result.returncode == 3, (argv, extra, result.stderr)
        assert _writes(self.server, PROD) == [], argv
        return result

    def assert_passes(
        self, argv: list[str], prefix: str, extra: dict[str, str] | None = None
    ) -> None:
        result = self.guarded(argv, extra)
        assert result.returncode == 0, (argv, result.stderr)
        assert _writes(self.server, prefix) != [], argv


def _environment(
    tmp_path: Path, kubectl: Path, config: dict[str, Any], policy: str
) -> dict[str, str]:
    write_kubeconfig(tmp_path / "kubeconfig", config)
    (tmp_path / "policy.yaml").write_text(policy)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "PATH": "/usr/bin:/bin",
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        "KUBESAFE_CONFIG": str(tmp_path / "policy.yaml"),
        "KUBESAFE_KUBECTL": str(kubectl),
        "NO_COLOR": "1",
        "TERM": "dumb",
    }


def _two_clusters(server: FakeAPIServer) -> dict[str, Any]:
    """Contexts prod (cluster prodc) and dev (cluster devc, current) on one fake server."""
    config = server.kubeconfig(PROD, context="prod", cluster="prodc")
    other = server.kubeconfig(DEV, context="dev", cluster="devc")
    config["clusters"] += other["clusters"]
    config["contexts"] += other["contexts"]
    config["current-context"] = "dev"
    return config


@pytest.fixture
def plain(tmp_path: Path, apiserver: FakeAPIServer, kubectl33: Path) -> Setup:
    env = _environment(tmp_path, kubectl33, _two_clusters(apiserver), "rules:\n  - context: prod\n")
    return Setup(tmp_path, apiserver, env)


def _spellings(server: FakeAPIServer, prefix: str) -> list[str]:
    port = server.port
    spelled = [
        f"http://127.0.0.1:0{port}/{prefix}",  # leading zero in the port
        f"http://127.0.0.1:{port}/{prefix}?watch=0",
        f"http://127.0.0.1:{port}/{prefix}/.",
        f"http://127.0.0.1:{port}/x/../{prefix}",
        f"http://127.0.0.1:{port}//{prefix}/",
        f"http://[::ffff:127.0.0.1]:{port}/{prefix}",
        f"http://0.0.0.0:{port}/{prefix}",
        f"http://localhost:{port}/{prefix}",
        f"http://LocalHost:{port}/{prefix}",
        f"http://kubesafe@127.0.0.1:{port}/{prefix}",
    ]
    return spelled + [f"http://{name}:{port}/{prefix}" for name in _hosts_aliases_of_loopback()]


def _other_loopback_addresses(server: FakeAPIServer, prefix: str) -> list[str]:
    # The fake server listens on 127.0.0.1 only, so kubectl cannot be the judge here;
    # an API server listening on 0.0.0.0 or [::] answers on all of them.
    return [
        f"http://127.0.0.2:{server.port}/{prefix}",
        f"http://[0:0:0:0:0:0:0:1]:{server.port}/{prefix}",
        f"http://[::1]:{server.port}/{prefix}",
    ]


# ---- class 1: another name for prod's API server -------------------------------------------


def test_server_flag_spellings_of_prod_are_refused(plain: Setup) -> None:
    for url in _spellings(plain.server, PROD):
        argv = ["--server", url, "create", "configmap", plain.name()]
        assert plain.direct(argv) != [], url  # real kubectl writes to prod
        result = plain.assert_refused(argv)
        assert "KUBESAFE_CONFIRM=prod" in result.stderr, (url, result.stderr)
    for url in _other_loopback_addresses(plain.server, PROD):
        plain.assert_refused(["--server", url, "create", "configmap", plain.name()])


@pytest.mark.parametrize("version", [31, 37])
def test_every_spelling_reaches_prod_with_other_kubectl_versions(
    plain: Setup, version: int
) -> None:
    # kubesafe decides before kubectl runs; what must hold for 1.31 and 1.37 too is
    # that each spelling it treats as prod really is prod.
    plain.env = {**plain.env, "KUBESAFE_KUBECTL": str(kubectl_binary(version))}
    for url in _spellings(plain.server, PROD):
        assert plain.direct(["--server", url, "create", "configmap", plain.name()]) != [], url
    url = f"{plain.server.cluster_url(PROD)}#frag"
    plain.direct(["--server", url, "create", "configmap", plain.name()])
    assert _writes(plain.server, f"{PROD}#frag") != []


def test_the_prompt_asks_for_the_protected_contexts_name(plain: Setup) -> None:
    (plain.tmp_path / "policy.yaml").write_text("rules:\n  - context: prod\n  - context: dev\n")
    command = f"{KUBESAFE} kubectl --cluster prodc delete configmap gone --ignore-not-found"
    child = pexpect.spawn("/bin/bash", ["-c", command], env=plain.env, timeout=60, encoding="utf-8")
    child.expect("Type prod to proceed: ")
    child.sendline("dev")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3


def test_a_fragment_stays_in_the_request_path_and_is_still_prod(plain: Setup) -> None:
    # kubectl requests /ep-prod%23frag/api/...: a server routing on the first segment
    # only (or ignoring it) is prod; kubesafe treats both readings as prod's endpoint.
    url = f"{plain.server.cluster_url(PROD)}#frag"
    argv = ["--server", url, "create", "configmap", plain.name()]
    plain.direct(argv)
    assert _writes(plain.server, f"{PROD}#frag") != []
    plain.assert_refused(argv)
    assert _writes(plain.server, f"{PROD}#frag") == []


def test_kubeconfig_entries_spelling_prods_server_are_refused(plain: Setup) -> None:
    config = _two_clusters(plain.server)
    urls = _spellings(plain.server, PROD)
    for number, url in enumerate(urls):
        config["clusters"].append({"name": f"alias{number}", "cluster": {"server": url}})
        config["contexts"].append(
            {
                "name": f"sneaky{number}",
                "context": {"cluster": f"alias{number}", "user": "fake-user"},
            }
        )
    write_kubeconfig(plain.tmp_path / "kubeconfig", config)
    for number, url in enumerate(urls):
        argv = ["--context", f"sneaky{number}", "create", "configmap", plain.name()]
        assert plain.direct(argv) != [], url
        plain.assert_refused(argv)


def test_server_rules_in_other_spellings_protect_prod(plain: Setup) -> None:
    argv = ["--context", "prod", "create", "configmap", "by-server-rule"]
    for url in [*_spellings(plain.server, PROD), *_other_loopback_addresses(plain.server, PROD)]:
        (plain.tmp_path / "policy.yaml").write_text(f"rules:\n  - server: '{url}'\n")
        plain.assert_refused(argv)
    assert plain.direct(argv) != []


def test_genuinely_different_servers_still_pass(plain: Setup) -> None:
    port = plain.server.port
    for url in [
        plain.server.cluster_url(DEV),
        f"http://localhost:{port}/{DEV}",
    ]:
        plain.assert_passes(["--server", url, "create", "configmap", plain.name()], DEV)
    plain.assert_passes(["create", "configmap", plain.name()], DEV)


def test_helm_spellings_of_prod_are_refused(plain: Setup, tmp_path: Path) -> None:
    from tests.helm.realenv import make_chart

    chart = str(make_chart(tmp_path / "chart"))
    helm = str(helm_binary(37))
    env = {**plain.env, "KUBESAFE_HELM": helm}
    plain.env = env
    port = plain.server.port
    for url in [
        f"http://localhost:{port}/{PROD}",
        f"http://[::ffff:127.0.0.1]:{port}/{PROD}/.",
        f"http://127.0.0.1:0{port}/{PROD}?x",
    ]:
        argv = ["upgrade", "--install", plain.name(), chart]
        plain.server.clear()
        direct = subprocess.run(
            [helm, *argv, "--kube-apiserver", url], env=env, capture_output=True, timeout=120
        )
        assert direct.returncode == 0 and _writes(plain.server, PROD) != [], direct.stderr
        plain.assert_refused([*argv, "--kube-apiserver", url], program="helm")
        plain.assert_refused(argv, {"HELM_KUBEAPISERVER": url}, program="helm")


def test_schemeless_servers_get_the_scheme_kubectl_uses(
    tmp_path: Path, apiserver: FakeAPIServer, tls_apiserver: FakeAPIServer, kubectl33: Path
) -> None:
    """client-go adds http:// to a scheme-less server, whatever TLS settings the entry has."""
    from kubesafe.endpoint import parse

    for server in (apiserver, tls_apiserver):
        config = server.kubeconfig("")
        bare = f"127.0.0.1:{server.port}"
        config["clusters"][0]["cluster"]["server"] = bare
        write_kubeconfig(tmp_path / "scheme.yaml", config)
        result = subprocess.run(
            [
                str(kubectl33),
                f"--kubeconfig={tmp_path / 'scheme.yaml'}",
                "get",
                "ns",
                "-v=6",
                "--request-timeout=2s",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        )
        # clientcmd applies the CA only to a server that is https already: http even here.
        parsed = parse(bare)
        assert parsed is not None and parsed.scheme == "http"
        assert f"GET http://127.0.0.1:{server.port}/api" in result.stderr or (
            f'url="http://127.0.0.1:{server.port}/api' in result.stderr
        ), result.stderr


def test_a_schemeless_server_at_the_root_is_prod(
    tmp_path: Path, apiserver: FakeAPIServer, kubectl33: Path
) -> None:
    config = apiserver.kubeconfig("", context="prod", cluster="prodc")
    other = apiserver.kubeconfig(DEV, context="dev", cluster="devc")
    config["clusters"] += other["clusters"]
    config["contexts"] += other["contexts"]
    config["current-context"] = "dev"
    env = _environment(tmp_path, kubectl33, config, "rules:\n  - context: prod\n")
    setup = Setup(tmp_path, apiserver, env)
    port = apiserver.port
    for url in (f"127.0.0.1:{port}", f"localhost:0{port}", f"[::ffff:127.0.0.1]:{port}"):
        argv = ["--server", url, "create", "configmap", setup.name()]
        apiserver.clear()
        direct = subprocess.run([env["KUBESAFE_KUBECTL"], *argv], env=env, capture_output=True)
        assert direct.returncode == 0 and _writes(apiserver, "") != [], (url, direct.stderr)
        result = setup.guarded(argv)
        assert result.returncode == 3 and _writes(apiserver, "") == [], (url, result.stderr)


# ---- class 1 with TLS: a tunnel (ssh -L) to prod with prod's CA ------------------------------


class Tunnel:
    """A TCP relay from 127.0.0.1:<port> to the fake server, as ``ssh -L`` makes one."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            try:
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def tunnel(tls_apiserver: FakeAPIServer) -> Iterator[Tunnel]:
    relay = Tunnel(tls_apiserver.port)
    yield relay
    relay.close()


@pytest.fixture
def tls(tmp_path: Path, tls_apiserver: FakeAPIServer, kubectl33: Path) -> Setup:
    env = _environment(
        tmp_path, kubectl33, _two_clusters(tls_apiserver), "rules:\n  - context: prod\n"
    )
    return Setup(tmp_path, tls_apiserver, env)


def test_a_tunnel_with_prods_ca_is_prod(tls: Setup, tunnel: Tunnel) -> None:
    server = tls.server
    assert server.ca_pem is not None and server.ca_data is not None
    (tls.tmp_path / "prod-ca.crt").write_text(server.ca_pem)
    config = _two_clusters(server)
    config["users"] = [{"name": "fake-user", "user": {"token": "tok"}}]  # or kubectl asks
    url = f"https://localhost:{tunnel.port}/{PROD}"
    config["clusters"] += [
        {
            "name": "t-data",
            "cluster": {"server": url, "certificate-authority-data": server.ca_data},
        },
        {"name": "t-file", "cluster": {"server": url, "certificate-authority": "prod-ca.crt"}},
    ]
    config["contexts"] += [
        {"name": f"tunnel-{kind}", "context": {"cluster": f"t-{kind}", "user": "fake-user"}}
        for kind in ("data", "file")
    ]
    write_kubeconfig(tls.tmp_path / "kubeconfig", config)
    for context in ("tunnel-data", "tunnel-file"):
        argv = ["--context", context, "create", "configmap", tls.name()]
        assert tls.direct(argv) != [], context
        result = tls.assert_refused(argv)
        assert "KUBESAFE_CONFIRM=prod" in result.stderr
    # --server through the tunnel under dev, with dev's entry (same CA file) or the CA flag
    argv = ["--server", url, "--certificate-authority", str(tls.tmp_path / "prod-ca.crt")]
    argv += ["create", "configmap", tls.name()]
    assert tls.direct(argv) != []
    tls.assert_refused(argv)
    # dev behind the same certificate, at its own path, is not prod
    tls.assert_passes(["--context", "dev", "create", "configmap", tls.name()], DEV)
    tunnel_dev = ["--server", f"https://localhost:{tunnel.port}/{DEV}"]
    tls.assert_passes([*tunnel_dev, "create", "configmap", tls.name()], DEV)


# ---- class 2: another kubeconfig file --------------------------------------------------------


def _admin_conf(setup: Setup, server_url: str) -> Path:
    """kubeadm's admin.conf: context kubernetes-admin@kubernetes, cluster kubernetes."""
    config = setup.server.kubeconfig(
        PROD, context="kubernetes-admin@kubernetes", cluster="kubernetes", user="kubernetes-admin"
    )
    config["clusters"][0]["cluster"]["server"] = server_url
    return write_kubeconfig(setup.tmp_path / "admin.conf", config)


@pytest.mark.parametrize(
    "first", ["a read through the usual kubeconfig", "kubesafe protect", "nothing"]
)
def test_another_kubeconfig_file_pointing_at_prod_is_refused(plain: Setup, first: str) -> None:
    port = plain.server.port
    admin = _admin_conf(plain, f"https://localhost:{port}/{PROD}".replace("https", "http"))
    if first == "kubesafe protect":
        (plain.tmp_path / "policy.yaml").write_text("rules: []\n")
        result = subprocess.run(
            [KUBESAFE, "protect", "prod"], env=plain.env, capture_output=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
    elif first != "nothing":
        assert plain.guarded(["get", "pods"]).returncode == 0
    argv = ["create", "configmap", plain.name()]
    assert plain.direct(["--kubeconfig", str(admin), *argv]) != []
    refused = plain.assert_refused(["--kubeconfig", str(admin), *argv])
    assert "KUBESAFE_CONFIRM=prod" in refused.stderr, refused.stderr
    plain.assert_refused(argv, {"KUBECONFIG": str(admin)})
    plain.assert_refused(
        ["--kubeconfig", str(admin), *argv], {"KUBESAFE_CONFIRM": "kubernetes-admin@kubernetes"}
    )
    argv = ["create", "configmap", plain.name()]
    approved = plain.guarded(["--kubeconfig", str(admin), *argv], {"KUBESAFE_CONFIRM": "prod"})
    assert approved.returncode == 0 and _writes(plain.server, PROD) != [], approved.stderr


def test_another_kubeconfig_file_pointing_at_dev_passes(plain: Setup) -> None:
    assert plain.guarded(["get", "pods"]).returncode == 0
    admin = _admin_conf(plain, plain.server.cluster_url(DEV))
    plain.assert_passes(["--kubeconfig", str(admin), "create", "configmap", plain.name()], DEV)


def test_unprotecting_prod_forgets_its_endpoint_elsewhere(plain: Setup) -> None:
    admin = _admin_conf(plain, plain.server.cluster_url(PROD))
    argv = ["--kubeconfig", str(admin), "create", "configmap", plain.name()]
    plain.assert_refused(argv)
    (plain.tmp_path / "policy.yaml").write_text("rules: []\n")
    result = plain.guarded(argv)
    assert result.returncode == 0 and _writes(plain.server, PROD) != [], result.stderr


# ---- class 3: a kubesafe extension on a cluster entry ----------------------------------------


def test_a_cluster_extension_protects_its_endpoint(plain: Setup) -> None:
    config = _two_clusters(plain.server)
    config["clusters"][0]["cluster"]["extensions"] = [
        {"name": "kubesafe", "extension": {"environment": "production"}}
    ]
    url = plain.server.cluster_url(PROD)
    config["clusters"].append({"name": "copy", "cluster": {"server": url}})
    config["contexts"].append(
        {"name": "copyctx", "context": {"cluster": "copy", "user": "fake-user"}}
    )
    write_kubeconfig(plain.tmp_path / "kubeconfig", config)
    (plain.tmp_path / "policy.yaml").write_text("rules: []\n")
    port = plain.server.port
    for argv in (
        ["--server", url],
        ["--server", f"http://localhost:{port}/{PROD}/"],
        ["--context", "copyctx"],
        ["--cluster", "prodc"],
    ):
        full = [*argv, "create", "configmap", plain.name()]
        assert plain.direct(full) != [], argv
        plain.assert_refused(full)
        plain.assert_refused(full, {"KUBESAFE_CONFIRM": "dev"})
    plain.assert_passes(["create", "configmap", plain.name()], DEV)


# ---- class 4: KUBESAFE_CONFIRM naming the wrong context -------------------------------------


def test_confirming_dev_does_not_approve_prods_endpoint(plain: Setup) -> None:
    config = _two_clusters(plain.server)
    config["contexts"].append(
        {"name": "dev2", "context": {"cluster": "prodc", "user": "fake-user"}}
    )
    write_kubeconfig(plain.tmp_path / "kubeconfig", config)
    (plain.tmp_path / "policy.yaml").write_text(
        "rules:\n  - context: prod\n  - context: dev\n  - context: dev2\n    environment: dev\n"
    )
    url = plain.server.cluster_url(PROD)
    cases: list[tuple[list[str], str]] = [
        (["--cluster", "prodc"], "dev"),
        (["--server", url], "dev"),
        (["--server", url.replace("127.0.0.1", "localhost")], "dev"),
        (["--server", url.replace("127.0.0.1", "[::ffff:127.0.0.1]")], "dev"),
        (["--context", "dev2"], "dev2"),
    ]
    for flags, wrong in cases:
        argv = [*flags, "delete", "configmap", "gone", "--ignore-not-found"]
        refused = plain.assert_refused(argv, {"KUBESAFE_CONFIRM": wrong})
        assert "KUBESAFE_CONFIRM=prod" in refused.stderr, refused.stderr
        approved = plain.guarded(argv, {"KUBESAFE_CONFIRM": "prod"})
        assert approved.returncode == 0 and _writes(plain.server, PROD) != [], approved.stderr
    # dev's own writes are still approved by dev's name
    ok = plain.guarded(
        ["delete", "configmap", "x", "--ignore-not-found"], {"KUBESAFE_CONFIRM": "dev"}
    )
    assert ok.returncode == 0 and _writes(plain.server, DEV) != [], ok.stderr


def test_helm_confirming_dev_does_not_approve_prods_endpoint(plain: Setup, tmp_path: Path) -> None:
    from tests.helm.realenv import make_chart

    chart = str(make_chart(tmp_path / "chart"))
    plain.env = {**plain.env, "KUBESAFE_HELM": str(helm_binary(37))}
    (plain.tmp_path / "policy.yaml").write_text("rules:\n  - context: prod\n  - context: dev\n")
    url = plain.server.cluster_url(PROD).replace("127.0.0.1", "localhost")
    argv = ["upgrade", "--install", "scoped", chart, "--kube-apiserver", url]
    refused = plain.assert_refused(argv, {"KUBESAFE_CONFIRM": "dev"}, program="helm")
    assert "KUBESAFE_CONFIRM=prod" in refused.stderr, refused.stderr
    approved = plain.guarded(argv, {"KUBESAFE_CONFIRM": "prod"}, program="helm")
    assert approved.returncode == 0 and _writes(plain.server, PROD) != [], approved.stderr
