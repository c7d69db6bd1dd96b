"""The interactive demo's rc file and launcher, run by a real bash."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from kubesafe.demo.shell import rc_text, write_rc

BASH = shutil.which("bash")


def test_launcher_is_this_interpreter_and_package(tmp_path: Path) -> None:
    rc = Path(write_rc(str(tmp_path)))
    launcher = tmp_path / "bin" / "kubesafe"
    assert launcher.read_text().splitlines()[0] == f"#!{sys.executable}"
    assert os.access(launcher, os.X_OK)
    assert f"__kubesafe_demo=({launcher})" in rc.read_text()
    result = subprocess.run(
        [str(launcher), "--version"], capture_output=True, text=True, check=False, timeout=30
    )
    assert result.returncode == 0
    assert result.stdout.startswith("kubesafe")


def test_without_shell_integration_kubectl_still_goes_through_kubesafe(tmp_path: Path) -> None:
    assert BASH is not None, "the interactive demo needs bash"
    fake = tmp_path / "fake-kubesafe"
    fake.write_text('#!/bin/sh\n[ "$1" = init ] && exit 1\necho "via kubesafe: $*"\n')
    fake.chmod(0o755)
    rc = tmp_path / "rc"
    rc.write_text(rc_text([str(fake)]))
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("alias kubectl=/bin/false\necho USER-RC-READ\n")
    result = subprocess.run(
        [str(BASH), "--rcfile", str(rc), "-i"],
        input="kubectl get pods\nkubesafe explain -- get pods\n",
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert "via kubesafe: kubectl get pods" in result.stdout
    assert "via kubesafe: explain -- get pods" in result.stdout
    assert "USER-RC-READ" not in result.stdout + result.stderr
