"""Endpoint identity: when two server URLs, or two cluster entries, reach one API server.

Server URLs are read the way client-go reads them (Go's ``net/url`` plus
``rest.DefaultServerURL``), as checked against real kubectl ``-v=6``: a value
without a scheme gets ``http://``, even when the entry has a CA (clientcmd
applies TLS settings only to a server that is https already) and it must not
have a path; the query and a user part do not change the connection; a
fragment stays in the request path (``/p#f`` requests ``/p%23f/api``); the port
may have leading zeros; the request path is the URL's decoded path joined and
cleaned (``/c/./`` is ``/c``). The scheme itself is not part of the identity: one port speaks one
protocol, so only the port it implies by default matters.

Hosts are canonical: IP literals in every spelling (``[::ffff:127.0.0.1]``,
``[0:0:0:0:0:0:0:1]``, ``127.1``), and "this machine" (127/8, ``::1``,
``0.0.0.0``, ``localhost``, ``*.localhost``, the machine's own name and every
name or address ``/etc/hosts`` maps to any of these) is one host, ``LOOPBACK``.
Other names are resolved through ``/etc/hosts`` only: a DNS lookup on every
kubectl call would cost milliseconds to seconds, so two DNS names that resolve
to one address are not linked (docs/security.md).

Two cluster entries are one cluster when they share an endpoint, the same CA
(certificate data, or a CA file with the same content) or the same TLS server
name, always under the same request path: path-routed proxies (Rancher's
``/k8s/clusters/<id>``) serve many clusters with one certificate, and it is the
path that tells those apart.
"""

from __future__ import annotations

import os

from kubesafe import reads
from kubesafe.record import Record

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from kubesafe.kubeconfig.cache import FileIndex

    # (keys, explicit server names, https host names, request path)
    Parts = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]

LOOPBACK = "loopback"
HOSTS_FILE = "/etc/hosts"
_HEX = "0123456789abcdefABCDEF"


class Endpoint(Record):
    """A parsed server URL: what client-go connects to and the path prefix it requests."""

    __slots__ = ("fragment_path", "host", "path", "port", "port_given", "scheme")

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        path: str,
        port_given: bool,
        fragment_path: str | None = None,
    ) -> None:
        self.scheme = scheme
        # lower-case, brackets and zone removed, percent escapes decoded; not canonical yet
        self.host = host
        self.port = port
        # "" for the root
        self.path = path
        # False when the port is the scheme's default
        self.port_given = port_given
        # kubectl keeps a fragment in the request path (``/p#f`` requests ``/p%23f/api``);
        # a server that ignores it sees ``path``: both are the same endpoint
        self.fragment_path = fragment_path


def _unquote(text: str) -> str:
    if "%" not in text:
        return text
    out = bytearray()
    index = 0
    raw = text.encode("utf-8", "surrogateescape")
    while index < len(raw):
        byte = raw[index]
        pair = raw[index + 1 : index + 3].decode("latin-1")
        if byte == 0x25 and len(pair) == 2 and all(c in _HEX for c in pair):
            out.append(int(pair, 16))
            index += 3
        else:
            out.append(byte)
            index += 1
    return out.decode("utf-8", "replace")


def clean_path(path: str) -> str:
    """Go's ``path.Join``/``path.Clean`` of a request prefix; "" for the root."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts) if parts else ""


def _has_scheme(text: str) -> bool:
    """Go's getScheme followed by a non-empty host, as client-go requires."""
    scheme, separator, rest = text.partition("://")
    if not separator or not scheme or not scheme[0].isalpha():
        return False
    if not all(c.isalnum() or c in "+-." for c in scheme):
        return False
    return bool(rest) and rest[0] not in "/?#"


def parse(url: str) -> Endpoint | None:
    """The endpoint client-go connects to for ``server: url``; None when it has no host."""
    text = url.strip()
    if not _has_scheme(text):
        text = "http://" + text
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    rest, hash_mark, fragment = rest.partition("#")
    rest = rest.partition("?")[0]
    authority, slash, path = rest.partition("/")
    authority = authority.rpartition("@")[2]
    if authority.startswith("["):
        closing = authority.find("]")
        if closing == -1:
            return None
        host, port_text = authority[1:closing], authority[closing + 1 :]
        if port_text and not port_text.startswith(":"):
            return None
        port_text = port_text[1:]
        host = _unquote(host).partition("%")[0]  # the zone does not change the address
    else:
        host, colon, port_text = authority.rpartition(":")
        if not colon:
            host, port_text = authority, ""
        host = _unquote(host)
    if port_text and not port_text.isdigit():
        return None
    host = host.lower().rstrip(".")
    if not host:
        return None
    default = 443 if scheme == "https" else 80
    port = int(port_text) if port_text else default
    decoded = _unquote(slash + path)
    with_fragment = clean_path(f"{decoded}#{fragment}") if hash_mark else None
    return Endpoint(scheme, host, port, clean_path(decoded), bool(port_text), with_fragment)


def _ipv4(text: str) -> str | None:
    """Dotted IPv4 in canonical form, also the inet_aton spellings (``127.1``, ``0x7f.1``)."""
    parts = text.split(".")
    if len(parts) == 4 and all(
        part.isdigit() and part.isascii() and (part == "0" or part[0] != "0") and int(part) < 256
        for part in parts
    ):
        return text  # already canonical: the common case, answered without arithmetic
    if not 1 <= len(parts) <= 4:
        return None
    values: list[int] = []
    for part in parts:
        try:
            if part[:2] in ("0x", "0X"):
                values.append(int(part[2:], 16))
            elif len(part) > 1 and part.startswith("0") and part.isdigit():
                values.append(int(part, 8) if all(c in "01234567" for c in part) else int(part))
            elif part.isdigit():
                values.append(int(part))
            else:
                return None
        except ValueError:
            return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    number = 0
    for value in head:
        number = number * 256 + value
    number = (number << (8 * (5 - len(values)))) | last
    return ".".join(str((number >> shift) & 255) for shift in (24, 16, 8, 0))


def _ipv6(text: str) -> tuple[int, ...] | None:
    """The eight 16-bit groups of an IPv6 literal (embedded IPv4 allowed)."""
    if ":" not in text:
        return None
    head, double, tail = text.partition("::")
    if "::" in tail:
        return None

    def groups(part: str) -> list[int] | None:
        if not part:
            return []
        found: list[int] = []
        pieces = part.split(":")
        for number, piece in enumerate(pieces):
            if "." in piece and number == len(pieces) - 1:
                four = _strict_ipv4(piece)
                if four is None:
                    return None
                a, b, c, d = (int(x) for x in four.split("."))
                found += [a * 256 + b, c * 256 + d]
            elif 1 <= len(piece) <= 4 and all(c in _HEX for c in piece):
                found.append(int(piece, 16))
            else:
                return None
        return found

    left, right = groups(head), groups(tail)
    if left is None or right is None:
        return None
    missing = 8 - len(left) - len(right)
    if (double and missing < 1) or (not double and missing != 0):
        return None
    return (*left, *([0] * missing), *right)


def _strict_ipv4(text: str) -> str | None:
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) <= 255 for p in parts):
        return None
    return ".".join(str(int(p)) for p in parts)


def ip_key(host: str) -> str | None:
    """The canonical text of an IP literal host (``LOOPBACK`` for this machine); None for a name."""
    four = _ipv4(host)
    if four is None:
        six = _ipv6(host)
        if six is None:
            return None
        if six in ((0,) * 8, (0,) * 7 + (1,)):
            return LOOPBACK  # :: and ::1
        if six[:5] == (0, 0, 0, 0, 0) and (six[5] == 0xFFFF or (six[5] == 0 and six[6])):
            # IPv4-mapped (::ffff:a.b.c.d) and the old IPv4-compatible form (::a.b.c.d)
            four = f"{six[6] >> 8}.{six[6] & 255}.{six[7] >> 8}.{six[7] & 255}"
        else:
            return ":".join(f"{group:x}" for group in six)
    if four.startswith("127.") or four == "0.0.0.0":
        return LOOPBACK
    return four


class Hosts:
    """``/etc/hosts``: name -> addresses, read at most once per process."""

    def __init__(self, content: str, machine: str, signature: str = "") -> None:
        # what cached identities derived from this file are valid for
        self.signature = signature or f"content:{hash((content, machine))}"
        self.addresses: dict[str, list[str]] = {}
        for line in content.splitlines():
            fields = line.partition("#")[0].split()
            if len(fields) < 2:
                continue
            address = ip_key(fields[0].partition("%")[0].lower())
            if address is None:
                continue
            for name in fields[1:]:
                self.addresses.setdefault(name.lower().rstrip("."), []).append(address)
        # This machine: loopback, plus whatever the hosts file gives for its own name.
        self.local = {LOOPBACK, *self.addresses.get(machine.lower(), ())}
        for name, found in self.addresses.items():
            if LOOPBACK in found:
                self.local.update(found)
                self.addresses[name] = [LOOPBACK]
        self.machine = machine.lower()

    def canonical(self, host: str) -> tuple[str, ...]:
        """Every canonical address ``host`` may stand for (one for an IP literal)."""
        literal = ip_key(host)
        if literal is not None:
            return (LOOPBACK,) if literal in self.local else (literal,)
        if host == "localhost" or host.endswith(".localhost") or host == self.machine:
            return (LOOPBACK,)
        found = self.addresses.get(host)
        if not found:
            return (host,)
        return tuple(dict.fromkeys(LOOPBACK if a in self.local else a for a in found))


_hosts: Hosts | None = None
# The hosts file's identity when it was read, for the resolution memo (kubesafe.reads).
_hosts_identity: reads.FileIdentity = None


def hosts() -> Hosts:
    global _hosts, _hosts_identity
    if _hosts is None:
        machine = os.uname().nodename if hasattr(os, "uname") else ""
        try:
            with open(HOSTS_FILE, encoding="utf-8", errors="replace") as handle:
                st = os.fstat(handle.fileno())
                content = handle.read(1 << 20)
            # With the ctime: an edit that keeps size and mtime (``touch -r``) still shows.
            identity = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
            signature = f"{identity}:{machine}"
            _hosts_identity = reads.identity_of(st)
        except OSError:
            content, signature = "", f"none:{machine}"
            _hosts_identity = reads.file_identity(HOSTS_FILE)
        _hosts = Hosts(content, machine, signature)
    reads.note(HOSTS_FILE, _hosts_identity)
    return _hosts


def reset_hosts(value: Hosts | None = None) -> None:
    """For tests: use ``value`` (or re-read the hosts file on next use)."""
    global _hosts, _hosts_identity
    _hosts = value
    # Made-up hosts are no file's content: nothing resolved with them is memoized.
    _hosts_identity = reads.UNKNOWN


def canonical_urls(url: str) -> tuple[str, ...]:
    """The URL with its host in canonical spellings, for glob rules (default port dropped)."""
    endpoint = parse(url)
    if endpoint is None:
        return ()
    default = 443 if endpoint.scheme == "https" else 80
    port = "" if endpoint.port == default else f":{endpoint.port}"
    forms: list[str] = []
    for host in hosts().canonical(endpoint.host):
        if host == LOOPBACK:
            shown: tuple[str, ...] = ("127.0.0.1", "localhost")
        else:
            shown = (f"[{host}]" if ":" in host else host,)
        forms.extend(f"{endpoint.scheme}://{name}{port}{endpoint.path}" for name in shown)
    return tuple(forms)


def _is_name(host: str) -> bool:
    return ip_key(host) is None


class Identity(Record):
    """What identifies the cluster behind one cluster entry or one target."""

    __slots__ = ("keys", "names", "server_names")

    def __init__(
        self, keys: frozenset[str], server_names: frozenset[str], names: frozenset[str]
    ) -> None:
        # "url:HOST:PORT/path", "ca:DIGEST/path", "sni:NAME/path": equal keys mean one cluster
        self.keys = keys
        # "NAME/path" of an explicit tls-server-name
        self.server_names = server_names
        # "NAME/path" of the URL's DNS host on https (the name its certificate carries)
        self.names = names


def url_keys(url: str) -> tuple[str, ...]:
    """``url:`` keys of a server URL: one per address its host may stand for."""
    return _endpoint_keys(url, parse(url))


def _endpoint_keys(url: str, endpoint: Endpoint | None) -> tuple[str, ...]:
    if endpoint is None:
        return (f"raw:{url.strip()}",)
    paths = [endpoint.path]
    if endpoint.fragment_path is not None:
        paths.append(endpoint.fragment_path)
    return tuple(
        f"url:{host}:{endpoint.port}{path}"
        for host in hosts().canonical(endpoint.host)
        for path in paths
    )


def parts(server: str, ca_digest: str, server_name: str) -> Parts:
    """The identity of a cluster entry except a CA file's digest: plain data, cacheable.

    (keys, explicit server names, https host names, request path); valid while
    the hosts file is unchanged (``Hosts.signature``).
    """
    endpoint = parse(server)
    path = endpoint.path if endpoint is not None else ""
    keys = list(_endpoint_keys(server, endpoint))
    if ca_digest:
        keys.append(f"ca:{ca_digest}{path}")
    server_names = (f"{server_name.lower().rstrip('.')}{path}",) if server_name else ()
    keys.extend(f"sni:{name}" for name in server_names)
    names: tuple[str, ...] = ()
    https_name = endpoint is not None and endpoint.scheme == "https" and _is_name(endpoint.host)
    if endpoint is not None and https_name and hosts().canonical(endpoint.host) != (LOOPBACK,):
        names = (f"{endpoint.host}{path}",)
    return tuple(keys), server_names, names, path


def from_parts(found: Parts, ca_file: str, index: FileIndex | None = None) -> Identity:
    keys, server_names, names, path = found
    if ca_file:
        digest = file_ca_digest(ca_file, index)
        if digest:
            keys = (*keys, f"ca:{digest}{path}")
    return Identity(frozenset(keys), frozenset(server_names), frozenset(names))


def identity(
    server: str,
    ca_digest: str,
    ca_file: str,
    server_name: str,
    insecure: bool,
    index: FileIndex | None = None,
) -> Identity:
    """``ca_digest``: ``ca_digest_of`` the inline CA data; ``ca_file``: an absolute path.

    ``insecure`` (skip TLS verification) ties the entry to nothing: it is not used.
    """
    return from_parts(parts(server, ca_digest, server_name), ca_file, index)


def same_cluster(one: Identity, other: Identity) -> bool:
    if not one.keys.isdisjoint(other.keys):
        return True
    return not (
        one.server_names.isdisjoint(other.names) and other.server_names.isdisjoint(one.names)
    )


def ca_digest_of(pem_or_der: bytes) -> str:
    """A digest of a CA bundle that ignores PEM layout (line breaks, comments, order)."""
    import base64
    import binascii

    from kubesafe.digest import sha256

    text = pem_or_der.decode("latin-1")
    blocks: list[bytes] = []
    marker = "-----BEGIN CERTIFICATE-----"
    for chunk in text.split(marker)[1:]:
        body = chunk.partition("-----END CERTIFICATE-----")[0]
        try:
            blocks.append(base64.b64decode("".join(body.split()), validate=True))
        except (binascii.Error, ValueError):
            blocks.append(body.encode("latin-1"))
    material = b"".join(sorted(blocks)) if blocks else pem_or_der
    return str(sha256(material).hexdigest())[:32]


def _read_ca(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return ca_digest_of(handle.read(1 << 22))
    except OSError:
        return ""


def file_ca_digest(path: str, index: FileIndex | None) -> str:
    """The CA file's content digest, remembered while the file is unchanged."""
    if index is None:
        reads.note_now(path)
        return _read_ca(path)
    return index.computed(path, "ca-digest", _read_ca)
