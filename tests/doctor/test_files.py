"""Kubeconfig files, current context, policy and cache directories."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubesafe.doctor import files
from kubesafe.doctor.check import FAIL, OK, WARN
from kubesafe.doctor.policy_check import policy_check
from kubesafe.kubeconfig.resolve import Overrides, load_merged
from tests.kubeconfigs import kubeconfig, write

DOC = kubeconfig(
    clusters={"prod": "https://prod.example:6443", "dev": "https://dev.example:6443"},
    contexts={"prod": {"cluster": "prod", "user": "u"}, "dev": {"cluster": "dev", "user": "u"}},
    users=["u"],
    current="dev",
)


def _private(path: Path, doc: dict[str, object] | str = DOC) -> Path:
    write(path, doc)  # type: ignore[arg-type]
    path.chmod(0o600)
    return path


def test_private_kubeconfig_is_ok(tmp_path: Path) -> None:
    path = _private(tmp_path / "config")
    check, data = files.kubeconfig_file(str(path), listed=True)
    assert check.status == OK, check
    assert data is not None and set(data["contexts"]) == {"prod", "dev"}
    assert "2 contexts" in check.summary and "0600" in check.summary


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_kubeconfig_readable_by_others_fails_with_chmod(tmp_path: Path, mode: int) -> None:
    path = _private(tmp_path / "config")
    path.chmod(mode)
    check, data = files.kubeconfig_file(str(path), listed=True)
    assert check.status == FAIL
    assert f"{mode:04o}" in check.summary
    assert check.fix == (f"chmod 600 {path}",)
    assert data is not None  # it still parses: the target can be checked


def test_broken_kubeconfig_fails_with_the_line(tmp_path: Path) -> None:
    path = _private(tmp_path / "config", "apiVersion: v1\ncontexts:\n  - name: a\n   bad: [\n")
    check, data = files.kubeconfig_file(str(path), listed=True)
    assert check.status == FAIL and data is None
    # The very wording of the shim's refusal, with the line kubectl reports (go-yaml: 3).
    assert check.summary == f"kubeconfig {path}: line 3: did not find expected '-' indicator"
    assert check.fix == (
        f"edit {path} at line 3, then check: kubectl config view --kubeconfig {path}",
    )


def test_kubeconfig_type_error_is_reported(tmp_path: Path) -> None:
    path = _private(tmp_path / "config", "current-context: 5\n")
    check, _ = files.kubeconfig_file(str(path), listed=True)
    assert check.status == FAIL and "current-context is a number" in check.summary


def test_world_writable_directory_fails(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    path = _private(shared / "config")
    check, _ = files.kubeconfig_file(str(path), listed=True)
    assert check.status == FAIL and "every user can write" in check.summary
    assert check.fix == (f"chmod o-w {shared}",)
    shared.chmod(0o1777)  # sticky, like /tmp: others cannot replace the file
    check, _ = files.kubeconfig_file(str(path), listed=True)
    assert check.status == OK


def test_missing_listed_file_is_a_warning(tmp_path: Path) -> None:
    check, data = files.kubeconfig_file(str(tmp_path / "nope"), listed=True)
    assert (check.status, data) == (WARN, None)
    assert "listed in KUBECONFIG" in check.summary


def test_every_kubeconfig_file_is_checked(tmp_path: Path) -> None:
    good = _private(tmp_path / "a")
    bad = _private(tmp_path / "b", "contexts: {}\n")
    env = {"KUBECONFIG": f"{good}{os.pathsep}{bad}{os.pathsep}{good}", "HOME": str(tmp_path)}
    checks, loaded, broken = files.kubeconfig_files(env)
    assert [c.subject for c in checks] == [str(good), str(bad)]
    assert [c.status for c in checks] == [OK, FAIL]
    assert [path for path, _ in loaded] == [str(good)] and broken


def test_current_context_names_both_files(tmp_path: Path) -> None:
    terminal = _private(tmp_path / "terminal", "current-context: prod\n")
    main = _private(tmp_path / "main")
    env = {"KUBECONFIG": f"{terminal}{os.pathsep}{main}"}
    _, loaded, broken = files.kubeconfig_files(env)
    check = files.current_context(loaded, broken)
    assert check.status == OK
    assert check.summary == f"current context 'prod': set in {terminal}, defined in {main}"


def test_current_context_that_does_not_exist_fails(tmp_path: Path) -> None:
    doc = dict(DOC, **{"current-context": "gone"})
    path = _private(tmp_path / "config", doc)
    _, loaded, broken = files.kubeconfig_files({"KUBECONFIG": str(path)})
    check = files.current_context(loaded, broken)
    assert check.status == FAIL and "'gone'" in check.summary
    assert check.fix == ("kubesafe ctx prod",)


def test_no_current_context_is_a_warning(tmp_path: Path) -> None:
    doc = {k: v for k, v in DOC.items() if k != "current-context"}
    path = _private(tmp_path / "config", doc)
    _, loaded, broken = files.kubeconfig_files({"KUBECONFIG": str(path)})
    check = files.current_context(loaded, broken)
    assert check.status == WARN and check.fix == ("kubesafe ctx prod",)


def _policy_env(tmp_path: Path, policy: str | None) -> dict[str, str]:
    path = tmp_path / "policy.yaml"
    if policy is not None:
        path.write_text(policy)
    config = _private(tmp_path / "config")
    return {"KUBESAFE_CONFIG": str(path), "KUBECONFIG": str(config), "HOME": str(tmp_path)}


def test_policy_lists_protected_contexts_with_levels(tmp_path: Path) -> None:
    env = _policy_env(
        tmp_path,
        "rules:\n  - context: prod\n  - context: dev\n    environment: staging\n"
        "    namespaces: [shop]\n",
    )
    check = policy_check(env, load_merged(Overrides(), env))
    assert check.status == OK, check
    assert check.detail == (
        "dev: staging, writes go ahead unasked, deletes ask y/N (only in namespaces shop)",
        "prod: production, writes ask y/N, deletes need 'prod' typed",
    )
    assert "protects 2 of 2 contexts" in check.summary


def test_policy_protecting_nothing_warns(tmp_path: Path) -> None:
    env = _policy_env(tmp_path, None)
    check = policy_check(env, load_merged(Overrides(), env))
    assert check.status == WARN and "(none yet)" in check.summary
    assert check.fix == ("kubesafe protect dev",)


def test_broken_policy_fails_with_its_line(tmp_path: Path) -> None:
    env = _policy_env(tmp_path, "rules:\n  - context: prod\n    level: sometimes\n")
    check = policy_check(env, load_merged(Overrides(), env))
    assert check.status == FAIL
    assert "line 3" in check.summary and "unknown level 'sometimes'" in check.summary
    assert check.fix == (
        f"edit {env['KUBESAFE_CONFIG']} at line 3, then check it with: kubesafe policy",
    )
    assert "refuses every write" in check.detail[0]
    # The command the fix points at says the same thing, once, and fails.
    listing = subprocess.run(
        [str(Path(sys.executable).parent / "kubesafe"), "policy"],
        env={**env, "PATH": os.defpath},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listing.returncode == 1 and listing.stdout == ""
    assert listing.stderr.startswith(f"kubesafe: {check.summary}")


def test_writable_cache_dir(tmp_path: Path) -> None:
    directory = tmp_path / "cache" / "kubesafe"
    check = files.writable_dir("cache", str(directory))
    assert check.status == OK and directory.is_dir()
    assert list(directory.iterdir()) == []  # the probe file is gone


def test_unwritable_cache_dir_fails_with_the_blocking_file(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("not a directory")
    check = files.writable_dir("cache", str(blocker / "kubesafe"))
    assert check.status == FAIL and "not writable" in check.summary
    assert check.fix[0].startswith(f"mv {blocker} {blocker}.bak")


def test_read_only_cache_dir_fails_with_chmod(tmp_path: Path) -> None:
    """As an ordinary user (root ignores the mode: the check runs in a child as nobody)."""
    import json
    import tempfile

    base = Path(tempfile.mkdtemp())
    try:
        base.chmod(0o711)
        directory = base / "cache"
        directory.mkdir(mode=0o500)
        if os.geteuid() == 0:
            os.chown(directory, 65534, 65534)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: drop to nobody, run the check, report, exit
            try:
                os.close(read_end)
                if os.geteuid() == 0:
                    os.setgroups([])
                    os.setgid(65534)
                    os.setuid(65534)
                check = files.writable_dir("cache", str(directory))
                os.write(write_end, json.dumps([check.status, check.fix]).encode())
            finally:
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end) as reader:
            status, fix = json.loads(reader.read())
        os.waitpid(pid, 0)
    finally:
        import shutil

        shutil.rmtree(base, ignore_errors=True)
    assert status == FAIL and "chmod 700" in fix[0]


def test_cache_dirs_follow_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("KUBESAFE_CACHE_DIR", str(blocker / "cache"))
    cache, state = files.cache_dirs()
    assert (cache.status, cache.subject) == (FAIL, str(blocker / "cache"))
    assert state.status == OK


def test_the_terminals_own_file_is_named_as_such_not_as_0_contexts(tmp_path: Path) -> None:
    own = _private(tmp_path / "terminal", "current-context: prod\n")
    real = _private(tmp_path / "config")
    env = {"KUBECONFIG": f"{own}{os.pathsep}{real}", "KUBESAFE_SHELL_KUBECONFIG": str(own)}
    checks, loaded, broken = files.kubeconfig_files(env)
    assert not broken and len(loaded) == 2
    assert checks[0].status == OK
    assert checks[0].summary == (
        f"{own} is this terminal's own kubeconfig (current context 'prod'), mode 0600"
    )
    assert "0 contexts" not in checks[0].summary
    assert checks[1].summary.startswith(f"{real} parses (")
