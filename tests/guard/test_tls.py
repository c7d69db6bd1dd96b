"""The terminal's CA, the guard's certificate and the private files around them."""

from __future__ import annotations

import asyncio
import os
import ssl
import stat
import subprocess
from pathlib import Path

from kubesafe.guard.layout import ensure_token, prepare
from kubesafe.guard.tls import make_certificates, server_context


def _text(path: str) -> str:
    done = subprocess.run(
        ["openssl", "x509", "-in", path, "-noout", "-text"],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return done.stdout


def test_files_are_private_and_the_ca_key_is_gone(tmp_path: Path) -> None:
    layout = prepare(str(tmp_path / "guard"))
    token = ensure_token(layout)
    make_certificates(layout)
    assert stat.S_IMODE(os.stat(layout.directory).st_mode) == 0o700
    for path in (layout.ca, layout.certificate, layout.key, layout.token_file):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert sorted(os.listdir(layout.directory)) == [
        "ca.pem",
        "server-key.pem",
        "server.pem",
        "token",
    ]
    assert len(token) >= 43 and ensure_token(layout) == token  # 256 bits, kept
    ca, server = _text(layout.ca), _text(layout.certificate)
    assert "CA:TRUE, pathlen:0" in ca
    assert "CA:FALSE" in server and "IP Address:127.0.0.1" in server
    assert "TLS Web Server Authentication" in server


def test_http11_only_and_trusted_only_through_the_terminal_ca(tmp_path: Path) -> None:
    layout = prepare(str(tmp_path / "guard"))
    make_certificates(layout)

    async def scenario() -> None:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_context(layout))
        port = server.sockets[0].getsockname()[1]
        client = ssl.create_default_context(cafile=layout.ca)
        client.set_alpn_protocols(["h2", "http/1.1"])
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
        assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == "http/1.1"
        writer.close()
        # a client that trusts only the system CAs does not trust the guard
        try:
            await asyncio.open_connection("127.0.0.1", port, ssl=ssl.create_default_context())
        except ssl.SSLCertVerificationError:
            pass
        else:
            raise AssertionError("the guard's certificate verified without its CA")
        server.close()

    asyncio.run(scenario())
