"""The README's commands work as written on a fresh Debian machine, and CI runs the same ones.

The commands are read out of README.md, never copied here, so editing the README is what
these tests check.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TEST_SCRIPT = ROOT / "tools" / "test.sh"
DEBIAN_PYTHON = Path("/usr/bin/python3")


def readme_command(section: str) -> str:
    """The one-line ``bash`` block right under the README heading ``## <section>``."""
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## )", text, re.M | re.S)
    assert match, f"README.md has no '## {section}' section"
    blocks = re.findall(r"^```bash\n(.*?)^```$", match[1], re.M | re.S)
    assert blocks, f"README.md '## {section}' has no bash block"
    lines = blocks[0].strip().splitlines()
    assert len(lines) == 1, f"'## {section}' should be one command, got {lines}"
    return lines[0]


def test_ci_runs_the_readmes_test_command_verbatim() -> None:
    command = readme_command("Run the tests")
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert command in ci_lines


def test_the_test_command_is_the_script_that_installs_and_runs_everything() -> None:
    command = readme_command("Run the tests")
    assert command.split()[0] == "tools/test.sh"
    assert os.access(TEST_SCRIPT, os.X_OK)
    script = TEST_SCRIPT.read_text(encoding="utf-8")
    for package in ("zsh", "fish", "fzf", "kubectx", "bash-completion", "chromium"):
        assert re.search(rf"\b{re.escape(package)}:", script), package
    assert "python3 -m venv .venv" in script
    assert ".venv/bin/pip install -q -e '.[test]'" in script
    assert 'exec .venv/bin/python -m pytest "$@"' in script


# Where a file that uses the test binaries names kubectl minors: kubectl_binary(33),
# helm_binary(37), MINORS = (31, 33, 37), params=[33, 37], parametrize("minor", [31, 37]),
# for minor in (31, 33, 37).
MINOR_SITES = re.compile(
    r"(?:kubectl|helm)_binary\((\d+)\)"
    r"|(?:MINORS = |params=|parametrize\(\"minor\", |for minor in )[(\[]([\d, ]+)[)\]]"
)


def _minors_the_suite_runs() -> set[int]:
    minors: set[int] = set()
    for source in [
        *ROOT.joinpath("tests").rglob("*.py"),
        *ROOT.joinpath("benchmarks").glob("*.py"),
    ]:
        text = source.read_text(encoding="utf-8")
        if "kubectl_binaries import" not in text:
            continue
        for single, listed in MINOR_SITES.findall(text):
            minors.update(int(n) for n in re.findall(r"\d+", single or listed))
    return {minor for minor in minors if minor < 90}  # 9x: synthetic wheels of the unit tests


def test_readme_names_the_kubectl_versions_the_suite_downloads() -> None:
    """The download figure in the README holds for these versions; a new one changes it."""
    minors = _minors_the_suite_runs()
    assert minors == {31, 33, 37}
    text = README.read_text(encoding="utf-8")
    named = re.search(r"\(kubectl ([\d.,\sand]+), the versions the suite runs", text)
    assert named, "README.md should say which kubectl versions the tests download"
    assert {int(m) for m in re.findall(r"1\.(\d+)", named[1])} == minors


# --------------------------------------------------------------------------------------
# tools/test.sh's package step, with apt-get and sudo replaced by recorders
# --------------------------------------------------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[Path]:
    """A world-readable directory (the script also runs as nobody) with a copy of the
    script and a bin/ of stand-ins; zsh and the rest are absent from its PATH."""
    root = Path(tempfile.mkdtemp(prefix="kubesafe-test-sh-"))
    try:
        (root / "tools").mkdir()
        shutil.copy2(TEST_SCRIPT, root / "tools" / "test.sh")
        (root / "bin").mkdir()
        (root / "bin" / "env").symlink_to(shutil.which("env") or "/usr/bin/env")
        recorder = '#!/bin/bash\necho "${0##*/} $*" >> "${0%/*}/../calls.log"\n'
        (root / "bin" / "apt-get").write_text(recorder)
        (root / "calls.log").write_text("")
        for path in (root, root / "tools", root / "bin"):
            path.chmod(0o755)
        (root / "calls.log").chmod(0o666)
        (root / "bin" / "apt-get").chmod(0o755)
        yield root
    finally:
        shutil.rmtree(root)


def _run_script(root: Path, as_nobody: bool) -> subprocess.CompletedProcess[str]:
    command = ["/bin/bash", str(root / "tools" / "test.sh"), "--packages-only"]
    if as_nobody:
        command = [
            shutil.which("setpriv") or "/usr/bin/setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            *command,
        ]
    return subprocess.run(
        command,
        env={"PATH": str(root / "bin"), "HOME": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _calls(root: Path) -> list[str]:
    return (root / "calls.log").read_text().splitlines()


def test_as_root_missing_packages_are_installed_with_apt_get(sandbox: Path) -> None:
    done = _run_script(sandbox, as_nobody=False)
    assert done.returncode == 0, done.stderr
    update, install = _calls(sandbox)
    assert update == "apt-get update -qq"
    assert install.startswith("apt-get install -y -qq ")
    assert {"zsh", "fish", "fzf", "kubectx", "tmux", "strace", "chromium"} <= set(install.split())


def test_not_root_installs_through_sudo(sandbox: Path) -> None:
    sudo = sandbox / "bin" / "sudo"
    sudo.write_text('#!/bin/bash\necho "sudo $*" >> "${0%/*}/../calls.log"\nexec "$@"\n')
    sudo.chmod(0o755)
    done = _run_script(sandbox, as_nobody=True)
    assert done.returncode == 0, done.stderr
    calls = _calls(sandbox)
    assert calls[0] == "sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq"
    assert calls[2].startswith("sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y")
    assert calls[1::2] == [c.split(" ", 3)[3] for c in calls[0::2]]  # sudo ran apt-get


def test_not_root_without_sudo_says_what_to_install_and_fails(sandbox: Path) -> None:
    done = _run_script(sandbox, as_nobody=True)
    assert done.returncode == 1
    assert _calls(sandbox) == []
    first, second = done.stderr.splitlines()
    assert first.startswith("tools/test.sh: the tests need these Debian packages: zsh fish")
    assert "Not root and no sudo: install them as root (apt-get install zsh" in second


# --------------------------------------------------------------------------------------
# "Try it", run as written with Debian's own Python in a fresh copy of the repository
# --------------------------------------------------------------------------------------


def _fresh_copy(destination: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


def test_try_it_works_as_written_on_debian_python(tmp_path: Path) -> None:
    checkout, home = tmp_path / "kubesafe", tmp_path / "home"
    checkout.mkdir()
    home.mkdir()
    _fresh_copy(checkout)
    env = {
        # Debian's python3 first, as on a stock Debian or Ubuntu machine.
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        # The tour may try to download a kubectl: a closed port on 127.0.0.1, never the internet.
        "KUBESAFE_MIRROR": "http://127.0.0.1:9",
    }
    # The premise: this Python refuses a plain `pip install .` (what the README used to say).
    assert shutil.which("python3", path=env["PATH"]) == str(DEBIAN_PYTHON)
    refused = subprocess.run(
        ["python3", "-m", "pip", "install", "."],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode != 0
    assert "externally-managed-environment" in refused.stdout + refused.stderr

    command = readme_command("Try it")
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=checkout,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "The tour behaved as expected." in done.stdout
    assert (checkout / ".venv" / "bin" / "kubesafe").is_file()
