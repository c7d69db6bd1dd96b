"""``kubesafe kubectl`` hands kubectl exactly what the user typed, and becomes it.

A tiny recorder program stands in where the test needs to see raw argv bytes,
stdin and the process identity; real kubectl covers output and exit codes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

from tests.support.fake_apiserver import FakeAPIServer

pytestmark = pytest.mark.e2e

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")

RECORDER = f"""#!{sys.executable}
import json, os, sys
out = os.environ["RECORD_TO"]
data = {{
    "argv": [os.fsencode(a).hex() for a in sys.argv[1:]],
    "pid": os.getpid(),
    "stdin": sys.stdin.buffer.read().hex() if os.environ.get("RECORD_STDIN") else None,
    "tty": [os.isatty(fd) for fd in (0, 1, 2)],
}}
with open(out, "w") as f:
    json.dump(data, f)
if os.environ.get("RECORD_SLEEP"):
    import time
    time.sleep(float(os.environ["RECORD_SLEEP"]))
code = os.environ.get("RECORD_EXIT", "0")
sys.exit(int(code))
"""


@pytest.fixture
def recorder(tmp_path: Path) -> Path:
    directory = tmp_path / "realbin"
    directory.mkdir()
    path = directory / "kubectl"
    path.write_text(RECORDER)
    path.chmod(0o755)
    return path


def _env(tmp_path: Path, recorder: Path, **extra: str) -> dict[str, str]:
    env = {
        "HOME": os.environ["HOME"],
        "PATH": f"{recorder.parent}:/usr/bin:/bin",
        "KUBESAFE_KUBECTL": str(recorder),
        "RECORD_TO": str(tmp_path / "record.json"),
        "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
    }
    env.update(extra)
    return env


def _record(tmp_path: Path) -> dict[str, object]:
    return json.loads((tmp_path / "record.json").read_text())


ODD_ARGS = [
    "--context=prod",
    "get",
    "",
    "pods",
    "ünïcödé",
    "a b  c",
    "-n",
    "x\ny",
    "--",
    "--context",
    "$(rm -rf /)",
    "'quoted'",
]


def test_arguments_reach_kubectl_byte_for_byte(tmp_path: Path, recorder: Path) -> None:
    raw = [os.fsencode(a) for a in ODD_ARGS] + [b"\xff\xfe-not-utf8"]
    result = subprocess.run(
        [os.fsencode(KUBESAFE), b"kubectl", *raw],
        env=_env(tmp_path, recorder),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert [bytes.fromhex(a) for a in _record(tmp_path)["argv"]] == raw  # type: ignore[union-attr]


def test_stdin_is_untouched_and_exit_status_is_kubectls(tmp_path: Path, recorder: Path) -> None:
    payload = bytes(range(256)) * 4096
    result = subprocess.run(
        [KUBESAFE, "kubectl", "apply", "-f", "-", "--dry-run=client"],
        env=_env(tmp_path, recorder, RECORD_STDIN="1", RECORD_EXIT="37"),
        input=payload,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 37
    assert bytes.fromhex(_record(tmp_path)["stdin"]) == payload  # type: ignore[arg-type]


def test_kubesafe_becomes_kubectl_so_signals_reach_it(tmp_path: Path, recorder: Path) -> None:
    process = subprocess.Popen(
        [KUBESAFE, "kubectl", "get", "pods", "-w"],
        env=_env(tmp_path, recorder, RECORD_SLEEP="30"),
    )
    record = tmp_path / "record.json"
    deadline = time.monotonic() + 20
    while not record.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _record(tmp_path)["pid"] == process.pid  # exec'd in place: same process
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == -signal.SIGTERM


def test_terminal_is_untouched(tmp_path: Path, recorder: Path) -> None:
    child = pexpect.spawn(
        KUBESAFE, ["kubectl", "get", "pods"], env=_env(tmp_path, recorder), timeout=20
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert _record(tmp_path)["tty"] == [True, True, True]


def test_invoked_as_kubectl_via_symlink_and_skips_itself_on_path(
    tmp_path: Path, recorder: Path
) -> None:
    shim_dir = tmp_path / "shimbin"
    shim_dir.mkdir()
    (shim_dir / "kubectl").symlink_to(KUBESAFE)
    env = _env(tmp_path, recorder)
    del env["KUBESAFE_KUBECTL"]
    env["PATH"] = f"{shim_dir}:{recorder.parent}"
    result = subprocess.run(
        [str(shim_dir / "kubectl"), "version", "--client"],
        env=env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert [bytes.fromhex(a).decode() for a in _record(tmp_path)["argv"]] == ["version", "--client"]  # type: ignore[union-attr]


def test_only_itself_on_path_is_a_clear_error(tmp_path: Path, recorder: Path) -> None:
    shim_dir = tmp_path / "shimbin"
    shim_dir.mkdir()
    (shim_dir / "kubectl").symlink_to(KUBESAFE)
    env = _env(tmp_path, recorder)
    del env["KUBESAFE_KUBECTL"]
    env["PATH"] = str(shim_dir)  # not /bin: on merged-/usr systems it holds /usr/bin/kubectl
    result = subprocess.run(
        [str(shim_dir / "kubectl"), "get", "pods"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 127
    assert result.stderr.startswith("kubesafe: ")
    assert "no kubectl found on PATH besides kubesafe itself" in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_a_kubectl_that_loops_back_is_stopped(tmp_path: Path, recorder: Path) -> None:
    loop = tmp_path / "loop" / "kubectl"
    loop.parent.mkdir()
    # A wrapper kubesafe cannot recognise as itself, calling kubesafe again.
    loop.write_text(f'#!/bin/sh\nexec {KUBESAFE} kubectl "$@"\n')
    loop.chmod(0o755)
    env = _env(tmp_path, recorder, KUBESAFE_KUBECTL=str(loop))
    result = subprocess.run(
        [KUBESAFE, "kubectl", "get", "pods"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "keeps resolving back to kubesafe" in result.stderr


def test_real_kubectl_output_and_exit_codes_are_unchanged(tmp_path: Path, kubectl33: Path) -> None:
    env = {
        "HOME": os.environ["HOME"],
        "PATH": "/bin",
        "KUBESAFE_KUBECTL": str(kubectl33),
        "KUBECONFIG": str(tmp_path / "none"),
    }
    direct = subprocess.run(
        [str(kubectl33), "version", "--client", "-o", "json"],
        env=env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    shimmed = subprocess.run(
        [KUBESAFE, "kubectl", "version", "--client", "-o", "json"],
        env=env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert (
        (shimmed.returncode, shimmed.stdout)
        == (direct.returncode, direct.stdout)
        == (0, direct.stdout)
    )
    bad = ["get", "pods", "--context", "nope"]
    direct = subprocess.run(
        [str(kubectl33), *bad], env=env, capture_output=True, timeout=30, check=False
    )
    shimmed = subprocess.run(
        [KUBESAFE, "kubectl", *bad], env=env, capture_output=True, timeout=30, check=False
    )
    assert shimmed.returncode == direct.returncode == 1
    assert shimmed.stderr == direct.stderr


def test_piped_manifest_reaches_the_api_server(
    tmp_path: Path, kubectl33: Path, apiserver: FakeAPIServer
) -> None:
    config = tmp_path / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
        f"clusters:\n- name: dev\n  cluster: {{server: '{apiserver.url}/pipe'}}\n"
        "contexts:\n- name: dev\n  context: {cluster: dev, namespace: ns1}\n"
    )
    manifest = (
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: piped\n"
        b"data:\n  key: value-from-stdin\n"
    )
    env = {
        "HOME": os.environ["HOME"],
        "PATH": "/bin",
        "KUBESAFE_KUBECTL": str(kubectl33),
        "KUBECONFIG": str(config),
    }
    apiserver.clear()
    result = subprocess.run(
        [KUBESAFE, "kubectl", "apply", "-f", "-"],
        env=env,
        input=manifest,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    bodies = [
        r.body for r in apiserver.requests if r.prefix == "pipe" and r.method in ("POST", "PATCH")
    ]
    assert any(b"value-from-stdin" in body for body in bodies)


def test_write_with_a_broken_kubeconfig_never_reaches_kubectl(
    tmp_path: Path, recorder: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("contexts: {}\n")
    env = _env(tmp_path, recorder, KUBECONFIG=str(broken))
    result = subprocess.run(
        [KUBESAFE, "kubectl", "delete", "pod", "web-0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 3
    assert "cannot tell where this write goes" in result.stderr and str(broken) in result.stderr
    assert not (tmp_path / "record.json").exists()
    # A read is handed to kubectl, which reports the problem in its own words.
    read = subprocess.run(
        [KUBESAFE, "kubectl", "get", "pods"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert read.returncode == 0 and (tmp_path / "record.json").exists()
