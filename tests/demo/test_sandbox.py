"""The sandbox: what it writes, what it hides from the user's environment, what it removes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubesafe.demo.objects import CLUSTERS, DEMO_VERSION
from kubesafe.demo.sandbox import Sandbox
from kubesafe.kubectl.plan import make_plan

URLS = {name: f"http://127.0.0.1:9/{name}" for name in CLUSTERS}


@pytest.fixture
def tmpdir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    return temporary


def _user_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KUBECONFIG": str(home / "mine"),
        "KUBESAFE_CONFIRM": "prod",
        "KUBESAFE_KUBECTL": "/usr/bin/kubectl",
        "KUBESAFE_MIRROR": "http://mirror.example",
        "KUBERC": str(home / "kuberc"),
        "KUBECACHEDIR": str(home / "kcache"),
        "PATH": "/usr/bin:/bin",
    }


def test_environment_points_everything_into_the_sandbox(
    tmpdir_env: Path, isolated_home: Path
) -> None:
    with Sandbox(URLS, _user_env(isolated_home)) as sandbox:
        env = sandbox.env
        root = sandbox.root
        assert root.startswith(str(tmpdir_env))
        for name in ("HOME", "KUBECONFIG", "KUBECACHEDIR", "KUBESAFE_CONFIG", "KUBESAFE_CACHE_DIR"):
            assert env[name].startswith(root + os.sep), name
        for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "HISTFILE"):
            assert env[name].startswith(root + os.sep), name
        # An approval or a pinned kubectl of the user's must not leak into the demo.
        assert "KUBESAFE_CONFIRM" not in env
        assert "KUBESAFE_KUBECTL" not in env
        assert "KUBERC" not in env
        assert env["KUBESAFE_MIRROR"] == "http://mirror.example"
        assert env["PATH"] == "/usr/bin:/bin"
        assert env["PYTHONUSERBASE"]
        assert os.stat(root).st_mode & 0o077 == 0
    assert not os.path.exists(root)


def test_kubeconfig_and_policy_protect_prod_only(tmpdir_env: Path, isolated_home: Path) -> None:
    with Sandbox(URLS, _user_env(isolated_home)) as sandbox:
        levels = {}
        for context in CLUSTERS:
            plan = make_plan(["--context", context, "delete", "pod", "web-0"], sandbox.env)
            assert plan.target is not None
            assert plan.target.server == URLS[context]
            levels[context] = (plan.decision, plan.level)
            write = make_plan(
                ["--context", context, "scale", "deploy/web", "--replicas=2"], sandbox.env
            )
            levels[context + " write"] = (write.decision, write.level)
        current = make_plan(["get", "pods"], sandbox.env)
        assert current.target is not None and current.target.context == "dev"
    assert levels == {
        "dev": ("allow", "none"),
        "dev write": ("allow", "none"),
        "staging": ("confirm", "confirm"),
        "staging write": ("allow", "none"),
        "prod": ("confirm", "typed"),
        "prod write": ("confirm", "confirm"),
    }


def test_user_mirror_setting_is_carried_over_read_only(
    tmpdir_env: Path, isolated_home: Path
) -> None:
    policy = isolated_home / "policy.yaml"
    policy.write_text("kubectl:\n  mirror: http://mirror.internal/k8s\n")
    before = policy.read_bytes()
    env = {**os.environ, "KUBESAFE_CONFIG": str(policy)}
    with Sandbox(URLS, env) as sandbox:
        plan = make_plan(["get", "pods"], sandbox.env)
        assert plan.policy is not None
        assert plan.policy.kubectl["mirror"] == "http://mirror.internal/k8s"
        assert plan.policy.path == sandbox.policy
    assert policy.read_bytes() == before


def test_seed_links_the_users_kubectl_of_the_demo_minor_without_writing_there(
    tmpdir_env: Path, tmp_path: Path
) -> None:
    user_store = tmp_path / "user-store"
    minor = ".".join(DEMO_VERSION.split(".")[:2])
    for tag in (f"{minor}.2", "v1.30.1"):
        binary = user_store / tag / "kubectl"
        binary.parent.mkdir(parents=True)
        binary.write_text("#!/bin/sh\n")
        binary.chmod(0o755)
    before = sorted((p, p.stat().st_mtime_ns) for p in user_store.rglob("*"))
    with Sandbox(URLS, dict(os.environ)) as sandbox:
        assert sandbox.seed_kubectl(str(user_store)) == [f"{minor}.2"]
        from kubesafe.versions import store

        os.environ["KUBESAFE_CACHE_DIR"] = sandbox.env["KUBESAFE_CACHE_DIR"]
        try:
            found = [c.version.tag for c in store.cached() if c.version]
        finally:
            del os.environ["KUBESAFE_CACHE_DIR"]
        assert found == [f"{minor}.2"]
    after = sorted((p, p.stat().st_mtime_ns) for p in user_store.rglob("*"))
    assert after == before
    assert (user_store / f"{minor}.2" / "kubectl").read_text() == "#!/bin/sh\n"


def test_seed_without_a_user_store_links_nothing(tmpdir_env: Path, tmp_path: Path) -> None:
    with Sandbox(URLS, dict(os.environ)) as sandbox:
        assert sandbox.seed_kubectl(str(tmp_path / "absent")) == []


def test_failed_creation_leaves_nothing(tmpdir_env: Path) -> None:
    sandbox = Sandbox({"dev": "http://x"}, dict(os.environ))  # staging and prod missing
    with pytest.raises(KeyError):
        sandbox.create()
    assert list(tmpdir_env.iterdir()) == []
