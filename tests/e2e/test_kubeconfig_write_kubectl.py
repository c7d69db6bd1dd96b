"""The kubeconfig writer against real kubectl 1.33: same files written, same result.

Each case lays out the same kubeconfig files twice, runs a ``kubectl config``
command on one copy and the equivalent kubesafe calls on the other, then
compares, file by file, whether it was written and what it means, and
kubectl's own merged view of both copies.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from kubesafe.kubeconfig.lock import WriteLock
from kubesafe.kubeconfig.parse import parse_bytes
from kubesafe.kubeconfig.resolve import Overrides, load_merged
from kubesafe.kubeconfig.write import (
    context_file,
    current_context_file,
    delete_context,
    rename_context,
    set_context_namespace,
    set_current_context,
)

pytestmark = pytest.mark.e2e


def _file(contexts: list[str], current: str | None = None, namespace: str = "") -> str:
    lines = ["# hand-written: kubectl drops this comment when it writes the file", "apiVersion: v1"]
    lines.append("clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:9'}")
    if contexts:
        lines.append("contexts:")
        for name in contexts:
            extra = f", namespace: {namespace}" if namespace else ""
            lines.append(f"- name: {name}\n  context: {{cluster: c, user: u{extra}}}")
    if current is not None:
        lines.append(f"current-context: {current}")
    lines.append("kind: Config\nusers:\n- name: u\n  user: {}\nx-unknown: kept by kubesafe only")
    return "\n".join(lines) + "\n"


# name -> (files in KUBECONFIG order; None = listed but missing)
LAYOUTS: dict[str, list[tuple[str, str | None]]] = {
    "single": [("a", _file(["alpha", "beta"], "alpha"))],
    "missing-first": [
        ("missing", None),
        ("a", _file(["alpha"], "alpha")),
        ("b", _file(["beta", "gamma"], "beta", namespace="ns-b")),
    ],
    "current-only-in-second": [
        ("a", _file(["alpha"])),
        ("b", _file(["beta", "gamma"], "beta")),
    ],
    "shadowed-duplicate": [
        ("b", _file(["beta", "gamma"], "gamma")),
        ("a", _file(["alpha", "gamma"], "alpha", namespace="ns-a")),
    ],
    "all-missing-but-last": [
        ("m1", None),
        ("m2", None),
        ("a", _file(["alpha", "beta", "gamma"])),
    ],
}

OPERATIONS = [
    ("use-context", "beta"),
    ("use-context", "gamma"),
    ("use-context", "alpha"),
    ("unset", ""),
    ("set-namespace", "gamma"),
    ("set-namespace", "alpha"),
    ("clear-namespace", "beta"),
    ("rename", "gamma"),
    ("rename", "beta"),
    ("delete", "gamma"),
    ("delete", "alpha"),
]


def _lay_out(root: Path, layout: list[tuple[str, str | None]]) -> dict[str, str]:
    root.mkdir()
    paths = [str(root / name) for name, _ in layout]
    for (_, text), path in zip(layout, paths, strict=True):
        if text is not None:
            Path(path).write_text(text)
            Path(path).chmod(0o600)
    return {"KUBECONFIG": os.pathsep.join(paths)}


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir()) if not p.name.endswith(".lock")}


def _kubectl(kubectl: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(kubectl), "config", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _ours(env: dict[str, str], operation: str, name: str) -> None:
    merged = load_merged(Overrides(), env)
    if operation == "use-context":
        if merged.current_context != name:
            set_current_context(current_context_file(env), name)
    elif operation == "unset":
        if merged.current_context:
            set_current_context(current_context_file(env, clearing=True), None)
    elif operation == "set-namespace":
        set_context_namespace(context_file(env, name), name, "changed")
    elif operation == "clear-namespace":
        set_context_namespace(context_file(env, name), name, None)
    elif operation == "rename":
        # kubectl: rename in the context's file; a new current context goes to
        # the file current_context_file picks (not necessarily the same one).
        rename_context(context_file(env, name), name, "renamed", update_current=False)
        if merged.current_context == name:
            set_current_context(current_context_file(env), "renamed")
    elif operation == "delete":
        delete_context(context_file(env, name), name)


def _kubectl_args(operation: str, name: str) -> list[str]:
    return {
        "use-context": ["use-context", name],
        "unset": ["unset", "current-context"],
        "set-namespace": ["set-context", name, "--namespace=changed"],
        "clear-namespace": ["set-context", name, "--namespace="],
        "rename": ["rename-context", name, "renamed"],
        "delete": ["delete-context", name],
    }[operation]


CASES = [
    (layout, operation, name)
    for layout, files in sorted(LAYOUTS.items())
    for operation, name in OPERATIONS
    if not name or any(text and f"- name: {name}\n" in text for _, text in files)
]


@pytest.mark.parametrize(("layout", "operation", "name"), CASES)
def test_same_files_written_with_the_same_meaning(tmp_path, kubectl33, layout, operation, name):
    theirs_env = _lay_out(tmp_path / "kubectl", LAYOUTS[layout])
    ours_env = _lay_out(tmp_path / "kubesafe", LAYOUTS[layout])
    before = _snapshot(tmp_path / "kubectl")
    done = _kubectl(kubectl33, theirs_env, *_kubectl_args(operation, name))
    assert done.returncode == 0, done.stderr
    _ours(ours_env, operation, name)

    theirs, ours = _snapshot(tmp_path / "kubectl"), _snapshot(tmp_path / "kubesafe")
    assert sorted(theirs) == sorted(ours)  # no file created on one side only
    written_by_kubectl = {n for n in theirs if before.get(n) != theirs[n]}
    written_by_us = {n for n in ours if before.get(n) != ours[n]}
    assert written_by_us == written_by_kubectl
    for file_name in theirs:
        assert parse_bytes(ours[file_name]) == parse_bytes(theirs[file_name]), file_name
    for file_name in written_by_us:
        assert b"# hand-written" in ours[file_name] and b"x-unknown" in ours[file_name]

    views = [
        _kubectl(kubectl33, env, "view", "--raw", "-o", "json") for env in (theirs_env, ours_env)
    ]
    assert views[0].returncode == views[1].returncode == 0
    assert json.loads(views[0].stdout) == json.loads(views[1].stdout)


def test_kubectl_refuses_while_kubesafe_holds_the_lock(tmp_path, kubectl33):
    path = tmp_path / "config"
    path.write_text(_file(["alpha", "beta"], "alpha"))
    with WriteLock(str(path)):
        done = _kubectl(kubectl33, {"KUBECONFIG": str(path)}, "use-context", "beta")
    assert done.returncode != 0 and "config.lock" in done.stderr and "exists" in done.stderr
    done = _kubectl(kubectl33, {"KUBECONFIG": str(path)}, "use-context", "beta")
    assert done.returncode == 0, done.stderr


def test_kubectl_reads_what_kubesafe_wrote(tmp_path, kubectl33):
    path = tmp_path / "config"
    path.write_text(_file(["alpha", "beta"], "alpha"))
    env = {"KUBECONFIG": str(path)}
    odd = "team: #1 yes"
    set_context_namespace(str(path), "beta", odd)
    set_current_context(str(path), "beta")
    done = _kubectl(kubectl33, env, "view", "--minify", "-o", "json")
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    assert view["current-context"] == "beta"
    assert view["contexts"][0]["context"]["namespace"] == odd
