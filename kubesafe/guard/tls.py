"""A CA made for one terminal, and the guard's server certificate signed by it.

Generated with the ``openssl`` command-line tool: none of kubesafe's declared
dependencies brings an X.509 library (``cryptography`` is not among them or
their dependencies; ``.venv/bin/pip list`` has no crypto package), the
standard library's ``ssl`` can use certificates but not make them, and adding
a compiled dependency for three one-off commands per terminal is not worth it.

The CA key signs the one server certificate and is deleted right after: no
one, not even this user's other processes later, can mint another
certificate that this terminal's clients would trust. The CA is
``pathlen:0``-constrained and the server certificate names only 127.0.0.1 and
localhost. Both use P-256 keys (fast handshakes).
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess

from kubesafe.guard.layout import Layout

VALID_DAYS = 30
_TIMEOUT = 30


class CertificateError(Exception):
    """The certificates could not be made; one line for the user."""


def _openssl(arguments: list[str], directory: str) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise CertificateError("the guard needs the openssl command to make its certificates")
    try:
        done = subprocess.run(
            [binary, *arguments],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CertificateError(f"openssl failed: {exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise CertificateError(f"openssl {arguments[0]} failed: {last}")


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)


def make_certificates(layout: Layout) -> None:
    """Write ca.pem, server.pem and server-key.pem (0600) into the layout."""
    work = layout.directory
    ca_key, csr, extensions = (os.path.join(work, n) for n in ("ca-key.tmp", "csr.tmp", "ext.tmp"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    old_umask = os.umask(0o077)  # openssl creates its key files with the umask
    try:
        _openssl(
            [
                "req", "-x509", *ec, "-keyout", ca_key, "-out", layout.ca,
                "-days", str(VALID_DAYS), "-subj", "/CN=kubesafe terminal guard CA",
                "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ],
            work,
        )  # fmt: skip
        _openssl(
            ["req", "-new", *ec, "-keyout", layout.key, "-out", csr, "-subj", "/CN=127.0.0.1"],
            work,
        )
        _write(
            extensions,
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        _openssl(
            [
                "x509", "-req", "-in", csr, "-CA", layout.ca, "-CAkey", ca_key,
                "-CAcreateserial", "-days", str(VALID_DAYS), "-sha256",
                "-extfile", extensions, "-out", layout.certificate,
            ],
            work,
        )  # fmt: skip
    finally:
        os.umask(old_umask)
        for leftover in (ca_key, csr, extensions, os.path.join(work, "ca.srl")):
            try:
                os.unlink(leftover)
            except OSError:
                pass
    for path in (layout.ca, layout.certificate, layout.key):
        os.chmod(path, 0o600)


def certificates_present(layout: Layout) -> bool:
    return all(os.path.isfile(p) for p in (layout.ca, layout.certificate, layout.key))


def server_context(layout: Layout) -> ssl.SSLContext:
    """TLS 1.2+ for the guard; ALPN offers HTTP/1.1 only, so clients never try h2."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(layout.certificate, layout.key)
    context.set_alpn_protocols(["http/1.1"])
    return context
