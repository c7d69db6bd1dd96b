"""The links directory's kubectl and helm: an interpreter started without the site scan."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kubesafe.kubectl import locate

pytestmark = pytest.mark.e2e

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
# Records its arguments NUL-separated: a shell script, so the import log is the shim's alone.
RECORDER = '#!/bin/sh\nprintf "%s\\0" "$@" > "$RECORD_TO"\n'


@pytest.fixture
def world(tmp_path: Path, isolated_home: Path) -> dict[str, str]:
    real = tmp_path / "realbin"
    real.mkdir()
    (real / "kubectl").write_text(RECORDER)
    (real / "kubectl").chmod(0o755)
    return {
        "HOME": str(isolated_home),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PATH": f"{real}:/usr/bin:/bin",
        "RECORD_TO": str(tmp_path / "record"),
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
    }


def _links(world: dict[str, str]) -> Path:
    subprocess.run([KUBESAFE, "init", "bash"], env=world, check=True, capture_output=True)
    return Path(world["XDG_STATE_HOME"]) / "kubesafe" / "bin"


def _imports(stderr: str) -> set[str]:
    """Module names from PYTHONPROFILEIMPORTTIME's log."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if "|" in line}


def test_init_writes_launchers_that_skip_site_and_pass_arguments_byte_for_byte(
    world: dict[str, str], tmp_path: Path
) -> None:
    links = _links(world)
    for name in ("kubectl", "helm"):
        text = (links / name).read_text()
        interpreter = Path(sys.executable).parent  # the console script's own interpreter
        assert text.startswith(f"#!{interpreter}/") and text.splitlines()[0].endswith(" -S")
        assert locate.is_self(str(links / name))  # never taken for the real kubectl
    # The links directory first on PATH, as the integration puts it: kubesafe skips itself.
    env = {**world, "PATH": f"{links}:{world['PATH']}", "PYTHONPROFILEIMPORTTIME": "1"}
    raw = [b"version", b"--client", "ünï cödé".encode(), b"\xff-not-utf8"]
    done = subprocess.run([links / "kubectl", *raw], env=env, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "record").read_bytes().split(b"\0")[:-1] == raw
    loaded = _imports(done.stderr.decode())
    assert "kubesafe.kubectl.shim" in loaded
    assert not loaded & {"site", "yaml", "click", "re", "typing"}, loaded


def test_a_cold_kubeconfig_turns_site_packages_on_when_yaml_is_needed(
    world: dict[str, str], tmp_path: Path
) -> None:
    links = _links(world)
    # Just written, so the parsed-file cache will not trust it: YAML must be parsed.
    Path(world["KUBECONFIG"]).write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
        "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
        "contexts:\n- name: dev\n  context: {cluster: c, user: u, namespace: team-a}\n"
        "users:\n- name: u\n  user: {token: t}\n"
    )
    env = {**world, "PATH": f"{links}:{world['PATH']}", "PYTHONPROFILEIMPORTTIME": "1"}
    done = subprocess.run(
        [links / "kubectl", "get", "pods"], env=env, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "record").read_bytes() == b"get\0pods\0"
    loaded = _imports(done.stderr.decode())
    assert {"site", "yaml"} <= loaded  # site-packages came on demand, then PyYAML from them
    explained = subprocess.run(
        [KUBESAFE, "explain", "--", "get", "pods"], env=world, capture_output=True, text=True
    )
    assert "team-a" in explained.stdout  # the same kubeconfig, resolved the normal way too


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_the_shell_functions_start_kubesafe_through_the_fast_launcher(
    world: dict[str, str], tmp_path: Path, shell: str
) -> None:
    """kubectl, helm and kubesafe typed in the shell (and the prompt) skip the site scan too."""
    binary = {"bash": "/bin/bash", "zsh": "/usr/bin/zsh"}[shell]
    if not Path(binary).exists():
        pytest.fail(f"{shell} is not installed")
    script = (
        f'eval "$({KUBESAFE} init {shell})"\n'
        'printf "%s\\n" "${__kubesafe_launcher[@]}"\n'
        "PYTHONPROFILEIMPORTTIME=1 kubesafe kubectl version --client 2>&3\n"
        'PYTHONPROFILEIMPORTTIME=1 kubectl version --client --output=yaml 2>>"$IMPORTS"\n'
    )
    imports = tmp_path / "imports"
    env = {**world, "IMPORTS": str(imports)}
    done = subprocess.run(
        [binary, "-c", script.replace("2>&3", '2>"$IMPORTS"')],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    launcher = Path(world["XDG_STATE_HOME"]) / "kubesafe" / "launch" / "kubesafe"
    assert done.stdout.splitlines() == [str(launcher)]
    assert locate.is_self(str(launcher))
    assert (tmp_path / "record").read_bytes() == b"version\0--client\0--output=yaml\0"
    loaded = _imports(imports.read_text())
    assert "kubesafe.kubectl.shim" in loaded
    assert not loaded & {"site", "yaml", "click", "re"}, loaded
