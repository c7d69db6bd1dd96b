"""``versions install`` failures: one line, each hint once."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kubesafe.versions.fetch import FetchError, fetch


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("spec", ["9.99", "1.31.4"])
def test_an_unreachable_mirror_is_hinted_once(isolated_home: Path, spec: str) -> None:
    env = {"KUBESAFE_MIRROR": f"http://127.0.0.1:{_closed_port()}"}
    with pytest.raises(FetchError) as error:
        fetch(spec, {}, env, progress=False)
    message = str(error.value)
    assert message.startswith("cannot install kubectl ")
    assert message.count("KUBESAFE_MIRROR") == 1, message
    assert message.count("kubectl ") == 2, message  # the release, then KUBESAFE_KUBECTL's hint
    assert message.endswith("or set KUBESAFE_KUBECTL to a kubectl you already have")
    assert "\n" not in message


def test_an_invalid_version_gets_no_mirror_hint(isolated_home: Path) -> None:
    with pytest.raises(FetchError) as error:
        fetch("9.x", {}, {"KUBESAFE_MIRROR": "http://127.0.0.1:9"}, progress=False)
    message = str(error.value)
    assert message.startswith("cannot install kubectl 9.x: invalid kubectl version '9.x'")
    assert "KUBESAFE_MIRROR" not in message
