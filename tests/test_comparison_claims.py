"""Claims in docs/comparison.md that no other test states on its own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubesafe import entry
from kubesafe.classification import DESTRUCTIVE, WRITE
from kubesafe.kubeconfig.parse import parse_bytes
from kubesafe.kubectl.args import parse
from kubesafe.kubectl.classify import classify
from kubesafe.shell import session

KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: {name}
contexts:
- name: {name}
  context: {{cluster: {name}, user: {name}}}
clusters:
- {{name: {name}, cluster: {{server: "https://127.0.0.1:1"}}}}
users:
- {{name: {name}, user: {{token: secret-{name}}}}}
"""


def test_session_keeps_an_existing_kubeconfig_list(tmp_path: Path) -> None:
    """kubeswitch overwrites KUBECONFIG; the terminal's file goes in front of the list."""
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(KUBECONFIG.format(name="a"))
    second.write_text(KUBECONFIG.format(name="b"))
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {
        **os.environ,
        "KUBECONFIG": os.pathsep.join([str(first), str(second)]),
        "XDG_RUNTIME_DIR": str(runtime),
    }
    env.pop("KUBESAFE_SESSION", None)
    directory, value = session.start_session(os.getpid(), env)
    own = session.session_kubeconfig(directory)
    assert value.split(os.pathsep) == [own, str(first), str(second)]
    data = parse_bytes(Path(own).read_bytes())
    assert data["current_context"] == "a"
    assert "secret" not in Path(own).read_text()


@pytest.mark.parametrize(
    "flags",
    [["-v", "6"], ["-v6"], ["--as", "admin"], ["--as=admin"], ["-n", "kube-system"]],
)
def test_flags_before_the_verb_do_not_hide_a_delete(flags: list[str]) -> None:
    readings = parse([*flags, "delete", "pod", "web-0"]).readings
    assert readings
    assert all(classify(reading).category == DESTRUCTIVE for reading in readings)


@pytest.mark.parametrize(
    "argv",
    [
        ["certificate", "approve", "csr-1"],
        ["auth", "reconcile", "-f", "rbac.yaml"],
        ["rollout", "undo", "deploy/web"],
        ["exec", "web-0", "--", "ls"],
        ["cp", "./a", "web-0:/tmp/a"],
        ["debug", "web-0", "--image=busybox"],
        ["apply", "-f", "app.yaml", "--dry-run=none"],
        ["apply", "-f", "app.yaml", "--dry-run=false"],
        ["frobnicate", "everything"],  # a plugin, or a kuberc alias
    ],
)
def test_commands_blocklists_miss_are_writes(argv: list[str]) -> None:
    readings = parse(argv).readings
    assert readings
    assert all(classify(reading).category in (WRITE, DESTRUCTIVE) for reading in readings)


@pytest.mark.parametrize("program", ["kubesafe", "kubectl"])
def test_kubesafe_kubectl_has_no_options_of_its_own(
    program: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every word after ``kubesafe kubectl`` (or a kubectl symlink) is kubectl's."""
    args = ["-y", "--force", "-v", "6", "-h", "--help", "--version", "--", "--context", "prod"]
    seen: list[list[str]] = []

    def fake_run(argv: list[str]) -> int:
        seen.append(argv)
        return 0

    monkeypatch.setattr("kubesafe.kubectl.shim.run", fake_run)
    prefix = [f"/usr/local/bin/{program}"] + (["kubectl"] if program == "kubesafe" else [])
    monkeypatch.setattr("sys.argv", [*prefix, *args])
    assert entry.main() == 0
    assert seen == [args]
