"""Endpoint identity: every spelling of one API server is one endpoint, others are not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kubesafe import endpoint
from kubesafe.endpoint import (
    LOOPBACK,
    Hosts,
    ca_digest_of,
    canonical_urls,
    identity,
    ip_key,
    parse,
    same_cluster,
    url_keys,
)

HOSTS = """
127.0.0.1   localhost
::1         localhost ip6-localhost ip6-loopback
127.0.1.1   workstation
10.1.2.3    prod-api prod-api.corp.example  # the VPN's address
10.1.2.3    prod-alias
10.9.9.9    dev-api
172.17.0.2  container-name
"""


@pytest.fixture(autouse=True)
def hosts_file() -> Iterator[None]:
    endpoint.reset_hosts(Hosts(HOSTS, "container-name"))
    yield
    endpoint.reset_hosts()


PROD = "http://127.0.0.1:6443/c-prod"

# Each of these reaches the same API server as PROD, as real kubectl connects.
SAME_AS_PROD = [
    "http://127.0.0.1:06443/c-prod",  # leading zero in the port
    "127.0.0.1:6443/c-prod",  # no scheme: http:// without TLS settings
    "http://127.0.0.1:6443/c-prod?x=1",
    "http://127.0.0.1:6443/c-prod#frag",
    "http://127.0.0.1:6443/c-prod/.",
    "http://127.0.0.1:6443/c-prod/",
    "http://127.0.0.1:6443//c-prod",
    "http://127.0.0.1:6443/x/../c-prod",
    "http://127.0.0.1:6443/%63-prod",
    "HTTP://127.0.0.1:6443/c-prod",
    "http://user:pw@127.0.0.1:6443/c-prod",
    "http://[::ffff:127.0.0.1]:6443/c-prod",
    "http://[::ffff:7f00:1]:6443/c-prod",
    "http://[0:0:0:0:0:0:0:1]:6443/c-prod",
    "http://[::1]:6443/c-prod",
    "http://[::1%25lo]:6443/c-prod",
    "http://[::]:6443/c-prod",
    "http://0.0.0.0:6443/c-prod",
    "http://localhost:6443/c-prod",
    "http://LOCALHOST.:6443/c-prod",
    "http://api.localhost:6443/c-prod",
    "http://127.0.0.2:6443/c-prod",
    "http://127.1:6443/c-prod",
    "http://0x7f.0.0.1:6443/c-prod",
    "http://2130706433:6443/c-prod",
    "http://workstation:6443/c-prod",  # /etc/hosts maps it to 127.0.1.1
    "http://ip6-localhost:6443/c-prod",
    "http://container-name:6443/c-prod",  # this machine's own name
    "http://172.17.0.2:6443/c-prod",  # the address /etc/hosts gives this machine
    "https://127.0.0.1:6443/c-prod",  # the scheme does not make another server
]

DIFFERENT_FROM_PROD = [
    "http://127.0.0.1:6444/c-prod",  # another port
    "http://127.0.0.1:6443/c-dev",  # another path prefix on the same server
    "http://127.0.0.1:6443",
    "http://127.0.0.1:6443/c-prod-2",
    "http://10.0.0.1:6443/c-prod",
    "http://[::2]:6443/c-prod",
    "127.0.0.1/c-prod",  # port 80
    "http://dev-api:6443/c-prod",
]


@pytest.mark.parametrize("url", SAME_AS_PROD)
def test_spellings_of_the_same_server_share_a_key(url: str) -> None:
    assert not set(url_keys(url)).isdisjoint(url_keys(PROD)), url_keys(url)


@pytest.mark.parametrize("url", DIFFERENT_FROM_PROD)
def test_other_servers_do_not(url: str) -> None:
    assert set(url_keys(url)).isdisjoint(url_keys(PROD)), url_keys(url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # Scheme-less is http even with a CA: tests/e2e/test_endpoint_identity.py checks kubectl.
        ("h:6443", ("http", "h", 6443, "")),
        ("h", ("http", "h", 80, "")),
        ("localhost:8080/x", ("http", "localhost", 8080, "/x")),
        ("https://h", ("https", "h", 443, "")),
        ("http://h", ("http", "h", 80, "")),
        ("https://H.Example.:0443/a/b/../c/", ("https", "h.example", 443, "/a/c")),
        ("https://h:/p", ("https", "h", 443, "/p")),
        ("https://[fe80::1%25eth0]:6443", ("https", "fe80::1", 6443, "")),
        ("https://a@b@h:1/p?q#f", ("https", "h", 1, "/p")),
        ("  https://h:6443  ", ("https", "h", 6443, "")),
    ],
)
def test_parse_like_go_and_client_go(url: str, expected: tuple[str, str, int, str]) -> None:
    parsed = parse(url)
    assert parsed is not None
    assert (parsed.scheme, parsed.host, parsed.port, parsed.path) == expected


@pytest.mark.parametrize("url", ["https://h:x", "https://[::1", "https://[::1]x", ""])
def test_urls_without_a_usable_host_do_not_parse(url: str) -> None:
    assert parse(url) is None


def test_an_unparseable_url_gets_a_key_of_its_own() -> None:
    assert url_keys("https://h:x") == ("raw:https://h:x",)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", (LOOPBACK,)),
        ("127.255.0.9", (LOOPBACK,)),
        ("::ffff:10.1.2.3", ("10.1.2.3",)),
        ("::10.1.2.3", ("10.1.2.3",)),
        ("0:0:0:0:0:ffff:0a01:0203", ("10.1.2.3",)),
        ("2001:DB8:0:0::1", ("2001:db8:0:0:0:0:0:1",)),
        ("prod-api", ("10.1.2.3",)),
        ("prod-alias", ("10.1.2.3",)),
        ("prod-api.corp.example", ("10.1.2.3",)),
        ("api.example.com", ("api.example.com",)),
        ("10.1.2.3", ("10.1.2.3",)),
        ("010.001.002.003", ("8.1.2.3",)),  # inet_aton reads octal; kubectl refuses it
    ],
)
def test_canonical_hosts(host: str, expected: tuple[str, ...]) -> None:
    assert endpoint.hosts().canonical(host) == expected


def test_hosts_aliases_of_one_address_are_one_host() -> None:
    assert url_keys("https://prod-alias:6443") == url_keys("https://10.1.2.3:6443")
    assert url_keys("https://prod-api:6443") == url_keys("https://prod-alias:6443")


PEM = b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ0FGRQ==\n-----END CERTIFICATE-----\n"


def test_ca_digest_ignores_pem_layout() -> None:
    relaid = b"# comment\n-----BEGIN CERTIFICATE-----\r\nMIIBszCCAVmg\r\nAwIBAgIUQ0FGRQ==\r\n"
    relaid += b"-----END CERTIFICATE-----\r\n"
    assert ca_digest_of(PEM) == ca_digest_of(relaid)
    assert ca_digest_of(PEM) != ca_digest_of(PEM.replace(b"Q0FG", b"Q0FH"))


def test_clusters_sharing_a_ca_are_one_cluster_under_the_same_path() -> None:
    ca = ca_digest_of(PEM)
    prod = identity("https://api.prod.example.com:6443", ca, "", "", False)
    tunnel = identity("https://localhost:16443", ca, "", "", False)
    dev = identity("https://api.dev.example.com:6443", "", "", "", False)
    assert same_cluster(prod, tunnel) and same_cluster(tunnel, prod)
    assert not same_cluster(prod, dev)
    # One proxy, one certificate, many clusters told apart by the path (Rancher).
    rancher_prod = identity("https://rancher.example.com/k8s/clusters/c-prod", ca, "", "", False)
    rancher_dev = identity("https://rancher.example.com/k8s/clusters/c-dev", ca, "", "", False)
    assert not same_cluster(rancher_prod, rancher_dev)


def test_a_ca_file_with_the_same_content_is_the_same_ca(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    (tmp_path / "ca.crt").write_bytes(PEM)
    inline = identity("https://api.prod.example.com", ca_digest_of(PEM), "", "", False)
    from_file = identity("https://127.0.0.1:7000", "", str(tmp_path / "ca.crt"), "", False)
    assert same_cluster(inline, from_file)


def test_tls_server_name_links_a_tunnel_to_the_name_it_verifies() -> None:
    prod = identity("https://api.prod.example.com:6443", "", "", "", False)
    tunnel = identity("https://localhost:16443", "", "", "api.prod.example.com", True)
    other_tunnel = identity("https://localhost:16444", "", "", "API.prod.example.com.", True)
    assert same_cluster(prod, tunnel) and same_cluster(tunnel, prod)
    assert same_cluster(tunnel, other_tunnel)
    # A bare https name is not a link by itself: two ports on one bastion are two clusters.
    assert not same_cluster(
        identity("https://bastion.example.com:6443", "", "", "", False),
        identity("https://bastion.example.com:6444", "", "", "", False),
    )


def test_canonical_urls_for_glob_rules() -> None:
    assert canonical_urls("https://[::ffff:127.0.0.1]:6443/p/") == (
        "https://127.0.0.1:6443/p",
        "https://localhost:6443/p",
    )
    assert canonical_urls("https://prod-alias:443") == ("https://10.1.2.3",)


def test_a_fragment_is_both_dropped_and_kept_in_the_path() -> None:
    keys = url_keys("http://127.0.0.1:6443/c-prod#frag")
    assert keys == ("url:loopback:6443/c-prod", "url:loopback:6443/c-prod#frag")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("::1", LOOPBACK),
        ("0:0:0:0:0:0:0:1", LOOPBACK),
        ("::", LOOPBACK),
        ("::2", "0:0:0:0:0:0:0:2"),
        ("::ffff:0.0.0.1", "0.0.0.1"),
        ("::ffff:127.0.0.9", LOOPBACK),
        ("::0.1.0.1", "0.1.0.1"),
        ("0.0.0.0", LOOPBACK),
        ("127.0.0.2", LOOPBACK),
        ("1.2.3", "1.2.0.3"),
        ("fe80::1:2", "fe80:0:0:0:0:0:1:2"),
        ("1::2::3", None),
        ("12345::", None),
        ("256.1.1.1", None),
        ("example.com", None),
    ],
)
def test_ip_literals_without_a_hosts_file(host: str, expected: str | None) -> None:
    endpoint.reset_hosts(Hosts("", "nothing"))
    assert ip_key(host) == expected
