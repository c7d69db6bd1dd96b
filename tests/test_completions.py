"""The completion scripts in completions/ (for packagers) are what kubesafe generates."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KUBESAFE = str(Path(sys.executable).parent / "kubesafe")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_checked_in_completion_matches_the_generator(shell: str) -> None:
    generated = subprocess.run(
        [KUBESAFE],
        env={**os.environ, "_KUBESAFE_COMPLETE": f"{shell}_source"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert generated.strip(), "the generator printed nothing"
    checked_in = (ROOT / "completions" / f"kubesafe.{shell}").read_text()
    assert checked_in == generated, (
        f"completions/kubesafe.{shell} is stale: regenerate it with "
        f"_KUBESAFE_COMPLETE={shell}_source kubesafe > completions/kubesafe.{shell}"
    )


def test_completion_offers_subcommands() -> None:
    result = subprocess.run(
        [KUBESAFE],
        env={
            **os.environ,
            "_KUBESAFE_COMPLETE": "bash_complete",
            "COMP_WORDS": "kubesafe pro",
            "COMP_CWORD": "1",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert "protect" in result.stdout
