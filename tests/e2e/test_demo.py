"""`kubesafe demo` end to end: real kubectl, a local mirror or a pre-seeded cache, no internet.

Each test snapshots the user's HOME (which holds the XDG config, cache and state
directories) and checks the demo left it exactly as it was, and left nothing in TMPDIR.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from kubesafe.demo.objects import DEMO_VERSION
from tests.support.mirror import Mirror, build_mirror_tree, release_path

pytestmark = pytest.mark.e2e

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
RED = re.compile(r"\x1b\[[0-9;]*(?:31|91)m")

Snapshot = dict[str, tuple[bool, int, int]]


def snapshot(root: Path) -> Snapshot:
    found: Snapshot = {}
    for directory, names, files in os.walk(root):
        for name in names + files:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            found[os.path.relpath(path, root)] = (os.path.isdir(path), st.st_size, st.st_mtime_ns)
    return found


@pytest.fixture
def world(tmp_path: Path, isolated_home: Path) -> dict[str, str]:
    """The user's environment: XDG directories inside HOME, no kubectl on PATH."""
    (tmp_path / "tmp").mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sh"):
        (bin_dir / tool).symlink_to(f"/bin/{tool}")
    return {
        "HOME": str(isolated_home),
        "XDG_CONFIG_HOME": str(isolated_home / ".config"),
        "XDG_CACHE_HOME": str(isolated_home / ".cache"),
        "XDG_STATE_HOME": str(isolated_home / ".local" / "state"),
        "TMPDIR": str(tmp_path / "tmp"),
        "PATH": str(bin_dir),
        "TERM": "xterm",
        "LANG": "C.UTF-8",
    }


@pytest.fixture
def seeded(world: dict[str, str], kubectl33: Path) -> dict[str, str]:
    """The user already has a kubectl of the demo's version in kubesafe's cache."""
    binary = Path(world["XDG_CACHE_HOME"]) / "kubesafe" / "kubectl" / DEMO_VERSION / "kubectl"
    binary.parent.mkdir(parents=True)
    binary.symlink_to(kubectl33)
    return world


def _script(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBESAFE, "demo", "--script"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _assert_tour_ran_kubectl(out: str) -> None:
    assert f"Server Version: {DEMO_VERSION}" in out
    refusal = out.index("$ kubectl --context prod delete pod web-0")
    assert "kubesafe: refusing a destructive command on production target 'prod'" in out[refusal:]
    approval = out.index("$ KUBESAFE_CONFIRM=prod kubectl --context prod delete pod web-0")
    assert approval > refusal
    assert 'pod "web-0" deleted' in out[approval:]
    assert "exit 3: refused by kubesafe, as expected" in out
    _assert_terminal_steps(out, kubectl=True)
    assert "UNEXPECTED" not in out
    assert "The tour behaved as expected." in out


def _assert_terminal_steps(out: str, *, kubectl: bool) -> None:
    """Per-terminal context, the prompt segment and the banner, as the terminals showed them."""
    switched = out.index("A | ⎈ dev:default (kubesafe demo) ~ $ kubesafe ctx prod")
    assert "A | ⎈ PROD prod:default (kubesafe demo) ~ $" in out[switched:]
    other = out.index("B | ⎈ dev:default (kubesafe demo) ~ $ kubesafe ctx -c")
    assert out[other:].splitlines()[1] == "  B | dev"
    asked = out.index("A | ⎈ PROD prod:default (kubesafe demo) ~ $ kubectl delete pod web-1")
    banner = out[asked:].split("as expected", 1)[0]
    assert "A | === kubesafe:  PRODUCTION target ===" in banner
    assert "A |   command     kubectl delete pod web-1" in banner
    assert "A | Type prod to proceed: prod" in banner
    assert ('A | pod "web-1" deleted' in banner) == kubectl
    assert "\x1b[" not in out  # not a terminal: no colours in the transcript


def test_script_with_the_users_cached_kubectl(seeded: dict[str, str], tmp_path: Path) -> None:
    home = Path(seeded["HOME"])
    before = snapshot(home)
    result = _script(seeded)
    assert result.returncode == 0, result.stdout + result.stderr
    _assert_tour_ran_kubectl(result.stdout)
    assert "why: same minor as the server (1.33); cache" in result.stdout
    assert "That is the kubectl you downloaded with kubesafe before" in result.stdout
    assert "fetched once" not in result.stdout
    assert snapshot(home) == before
    assert not (home / ".kube").exists()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_script_downloads_from_the_mirror_into_the_sandbox_only(
    world: dict[str, str], tmp_path: Path, kubectl33: Path
) -> None:
    build_mirror_tree(tmp_path / "mirror", DEMO_VERSION, kubectl33)
    home = Path(world["HOME"])
    before = snapshot(home)
    with Mirror(tmp_path / "mirror") as mirror:
        result = _script({**world, "KUBESAFE_MIRROR": mirror.url})
        downloads = mirror.requests[release_path(DEMO_VERSION)]
    assert result.returncode == 0, result.stdout + result.stderr
    _assert_tour_ran_kubectl(result.stdout)
    assert "kubesafe downloaded it for this tour, verified it" in result.stdout
    assert downloads == 1
    assert snapshot(home) == before
    assert list((tmp_path / "tmp").iterdir()) == []


def test_script_offline_without_kubectl_still_shows_the_decisions(
    world: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    result = _script({**world, "KUBESAFE_MIRROR": closed})
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert f"No kubectl {DEMO_VERSION} could be found or fetched" in out
    assert "$ kubesafe explain -- get pods" in out
    assert "kubesafe: refusing a destructive command on production target 'prod'" in out
    assert "KUBESAFE_CONFIRM=prod kubectl" not in out
    _assert_terminal_steps(out, kubectl=False)
    assert "UNEXPECTED" not in out
    assert list((tmp_path / "tmp").iterdir()) == []


def test_interactive_needs_a_terminal(world: dict[str, str]) -> None:
    result = subprocess.run(
        [KUBESAFE, "demo"],
        env=world,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert result.stdout.strip() == (
        "kubesafe: the interactive demo needs a terminal; try: kubesafe demo --script"
    )


def _spawn(env: dict[str, str]) -> tuple[pexpect.spawn, str]:
    child = pexpect.spawn(
        KUBESAFE, ["demo"], env=env, encoding="utf-8", timeout=60, dimensions=(50, 200)
    )
    child.expect(r"Sandbox: (\S+)")
    root = child.match.group(1)
    child.expect(r"\(kubesafe demo\) ~ \$ ")
    return child, root


def test_interactive_prompt_turns_red_on_prod_and_asks(
    seeded: dict[str, str], tmp_path: Path
) -> None:
    home = Path(seeded["HOME"])
    before = snapshot(home)
    child, root = _spawn(seeded)
    first_prompt = child.before.rsplit("\n", 1)[-1]
    assert "dev" in first_prompt and not RED.search(first_prompt)
    child.sendline("kubectl get pods")
    child.expect("web-0")
    child.expect(r"\(kubesafe demo\) ~ \$ ")
    child.sendline("kubectl config use-context prod")
    child.expect('Switched to context "prod"')
    child.expect(r"\(kubesafe demo\) ~ \$ ")
    prod_prompt = child.before.rsplit("\n", 1)[-1]
    assert "prod" in prod_prompt and RED.search(prod_prompt), repr(prod_prompt)
    child.sendline("kubectl delete pod web-0")
    child.expect("to proceed")
    child.sendline("prod")
    child.expect('pod "web-0" deleted')
    child.expect(r"\(kubesafe demo\) ~ \$ ")
    child.sendline("exit")
    child.expect("the sandbox is removed")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert not os.path.exists(root)
    assert snapshot(home) == before
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signals_remove_the_sandbox(seeded: dict[str, str], signum: int) -> None:
    child, root = _spawn(seeded)
    assert os.path.isdir(root)
    child.sendintr()  # Ctrl+C belongs to the shell, the demo goes on
    child.sendline("echo still-$((40 + 2))")
    child.expect("still-42")
    os.kill(child.pid, signum)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 128 + signum
    assert not os.path.exists(root)
