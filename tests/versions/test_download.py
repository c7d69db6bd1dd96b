"""kubesafe.versions.download against a loopback dl.k8s.io serving a real kubectl."""

from __future__ import annotations

import errno
import fcntl
import filecmp
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kubesafe.versions import download
from kubesafe.versions.download import (
    DownloadError,
    binary_name,
    download_url,
    install,
    platform_pair,
    resolve_version,
)
from tests.support.kubectl_binaries import binary_version, kubectl_binary
from tests.support.mirror import Mirror, build_mirror_tree, file_digest, release_path

ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------


class Release:
    def __init__(self, version: str, source: Path) -> None:
        self.version = version
        self.source = source  # the file the mirror serves
        self.binary = release_path(version)
        self.sha256 = release_path(version, "kubectl.sha256")
        self.sha512 = release_path(version, "kubectl.sha512")


SMALL_VERSION = "v1.30.2"  # a few MB of random bytes, for tests about plumbing, not kubectl


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mirror, Release]]:
    real = kubectl_binary(33)
    version = binary_version(real)
    root = tmp_path_factory.mktemp("mirror")
    source = build_mirror_tree(root, version, real)
    payload = tmp_path_factory.mktemp("payload") / "kubectl"
    payload.write_bytes(os.urandom(3_000_000))
    build_mirror_tree(root, SMALL_VERSION, payload)
    with Mirror(root) as mirror:
        yield mirror, Release(version, source)


@pytest.fixture
def mirror(served: tuple[Mirror, Release]) -> Mirror:
    served[0].clear()
    served[0].requests.clear()
    return served[0]


@pytest.fixture
def release(served: tuple[Mirror, Release]) -> Release:
    return served[1]


@pytest.fixture
def small(served: tuple[Mirror, Release]) -> Release:
    return Release(
        SMALL_VERSION, served[0].root / f"release/{SMALL_VERSION}/bin/linux/amd64/kubectl"
    )


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


def fetch(mirror: Mirror, store: Path, version: str, **kwargs: object) -> str:
    options: dict[str, object] = {"goos": "linux", "goarch": "amd64", "progress": False}
    options.update(kwargs)
    return install(version, store_dir=str(store), base_url=mirror.url, **options)  # type: ignore[arg-type]


def leftovers(store: Path) -> list[str]:
    """Everything in the store but lock files."""
    if not store.exists():
        return []
    return sorted(
        str(p.relative_to(store))
        for p in store.rglob("*")
        if not (p.parent == store and p.name.endswith(".lock"))
    )


def failed(mirror: Mirror, store: Path, release: Release, **kwargs: object) -> str:
    """Install, expecting a DownloadError that leaves nothing behind; return its message."""
    with pytest.raises(DownloadError) as info:
        fetch(mirror, store, release.version, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert leftovers(store) == []
    return message


# --------------------------------------------------------------------------------------
# Success paths
# --------------------------------------------------------------------------------------


def test_first_install_downloads_and_verifies(
    mirror: Mirror, release: Release, store: Path
) -> None:
    path = fetch(mirror, store, release.version)

    assert path == str(store / release.version / "kubectl")
    assert filecmp.cmp(path, release.source, shallow=False)
    assert os.access(path, os.X_OK)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o755
    assert binary_version(path) == release.version
    assert leftovers(store) == [release.version, f"{release.version}/kubectl"]
    assert sorted(os.listdir(store)) == [f".{release.version}.lock", release.version]
    assert mirror.requests == {release.sha256: 1, release.binary: 1}


def test_second_install_makes_no_request(mirror: Mirror, release: Release, store: Path) -> None:
    first = fetch(mirror, store, release.version)
    mirror.requests.clear()

    assert fetch(mirror, store, release.version) == first
    # Not even the base URL matters once the binary is stored.
    assert (
        install(
            release.version.removeprefix("v"),
            store_dir=str(store),
            base_url="http://127.0.0.1:9",
            goos="linux",
            goarch="amd64",
        )
        == first
    )
    assert mirror.requests == {}


def test_redirect_to_cdn_is_followed(mirror: Mirror, release: Release, store: Path) -> None:
    mirror.redirect()
    path = fetch(mirror, store, release.version)

    assert filecmp.cmp(path, release.source, shallow=False)
    assert mirror.requests[release.binary] == 1
    assert mirror.requests["/cdn" + release.binary] == 1
    assert mirror.requests["/cdn" + release.sha256] == 1


def test_missing_sha256_falls_back_to_sha512(mirror: Mirror, release: Release, store: Path) -> None:
    mirror.status(release.sha256, 404)
    path = fetch(mirror, store, release.version)

    assert filecmp.cmp(path, release.source, shallow=False)
    assert mirror.requests == {release.sha256: 1, release.sha512: 1, release.binary: 1}


def test_digest_file_may_name_the_file(mirror: Mirror, small: Release, store: Path) -> None:
    digest = file_digest(small.source, "sha256").upper()
    mirror.body(small.sha256, f"{digest}  kubectl\r\n\n".encode())
    assert filecmp.cmp(fetch(mirror, store, small.version), small.source, shallow=False)


def test_stale_temp_file_from_a_killed_run_is_removed(
    mirror: Mirror, small: Release, store: Path
) -> None:
    (store / small.version).mkdir(parents=True)
    (store / small.version / ".kubectl-dead.part").write_bytes(b"half a kubectl")
    fetch(mirror, store, small.version)
    assert leftovers(store) == [small.version, f"{small.version}/kubectl"]


def test_progress_bar_only_when_asked(
    mirror: Mirror, small: Release, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fetch(mirror, tmp_path / "quiet", small.version, progress=None)  # stderr is no tty here
    assert capsys.readouterr() == ("", "")

    fetch(mirror, tmp_path / "loud", small.version, progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"\rkubectl {small.version} [")
    assert "[########################] 100% 3.0/3.0 MB" in err
    assert err.endswith("\n") and err.count("\n") == 1


def test_windows_binary_is_kubectl_exe(mirror: Mirror, store: Path, tmp_path: Path) -> None:
    payload = tmp_path / "payload"
    payload.write_bytes(os.urandom(300_000))
    build_mirror_tree(mirror.root, "v1.29.1", payload, goos="windows", goarch="arm64")

    path = fetch(mirror, store, "v1.29.1", goos="windows", goarch="arm64")

    assert path == str(store / "v1.29.1" / "kubectl.exe")
    assert filecmp.cmp(path, payload, shallow=False)
    assert mirror.requests[release_path("v1.29.1", "kubectl.exe", "windows", "arm64")] == 1


# --------------------------------------------------------------------------------------
# Version resolution
# --------------------------------------------------------------------------------------


def test_resolve_version(mirror: Mirror, release: Release) -> None:
    minor = ".".join(release.version.removeprefix("v").split(".")[:2])
    with httpx.Client() as client:
        assert resolve_version(minor, mirror.url, client) == release.version
        assert resolve_version(f"v{minor}", mirror.url + "/", client) == release.version
        assert mirror.requests == {f"/release/stable-{minor}.txt": 2}

        mirror.requests.clear()
        assert resolve_version("1.31.4", mirror.url, client) == "v1.31.4"
        assert resolve_version(" v1.31.4\n", mirror.url, client) == "v1.31.4"
        assert resolve_version("1.32.0-rc.1", mirror.url, client) == "v1.32.0-rc.1"
        assert mirror.requests == {}

        for bad in ("", "latest", "1", "1.x", "1.31.4.5", "v1.031", "1.31.4-foo", "../1.2.3"):
            with pytest.raises(DownloadError, match="invalid kubectl version"):
                resolve_version(bad, mirror.url, client)
        assert mirror.requests == {}

        with pytest.raises(DownloadError, match=r"HTTP 404.*is Kubernetes 1\.99 released"):
            resolve_version("1.99", mirror.url, client)
        mirror.body("/release/stable-1.98.txt", b"<html>not found</html>")
        with pytest.raises(DownloadError, match=r"does not name a 1\.98 release"):
            resolve_version("1.98", mirror.url, client)
        mirror.status("/release/stable-1.97.txt", 500)
        with pytest.raises(DownloadError, match="HTTP 500"):
            resolve_version("1.97", mirror.url, client)


def test_install_rejects_bad_version_without_network(mirror: Mirror, store: Path) -> None:
    for bad in ("../../etc", "v1.31", "latest"):
        with pytest.raises(DownloadError, match="invalid kubectl version"):
            fetch(mirror, store, bad)
    assert mirror.requests == {}
    assert not store.exists()


# --------------------------------------------------------------------------------------
# Faults: each leaves nothing but the lock file and says what went wrong
# --------------------------------------------------------------------------------------


def test_wrong_digest(mirror: Mirror, release: Release, store: Path) -> None:
    mirror.wrong_digest(release.sha256)
    message = failed(mirror, store, release)
    assert "checksum mismatch" in message
    assert mirror.url + release.binary in message
    assert "discarded" in message


def test_malformed_digest(mirror: Mirror, release: Release, store: Path) -> None:
    mirror.body(release.sha256, b"<html>oops</html>")
    assert "does not hold a sha256 digest" in failed(mirror, store, release)
    assert release.binary not in mirror.requests


def test_truncated_body(mirror: Mirror, release: Release, store: Path) -> None:
    mirror.truncate(release.binary, after=1_000_000)
    message = failed(mirror, store, release)
    assert "truncated" in message
    assert f"1000000 of {release.source.stat().st_size} bytes" in message


def test_missing_binary(mirror: Mirror, release: Release, store: Path) -> None:
    mirror.status(release.binary, 404)
    message = failed(mirror, store, release)
    assert "HTTP 404" in message
    assert "does this version exist" in message


def test_missing_checksums(mirror: Mirror, release: Release, store: Path) -> None:
    mirror.status(release.sha256, 404)
    mirror.status(release.sha512, 404)
    assert "no checksum published" in failed(mirror, store, release)
    assert release.binary not in mirror.requests


def test_server_error(mirror: Mirror, release: Release, store: Path) -> None:
    mirror.status(release.binary, 500)
    assert "HTTP 500 Internal Server Error" in failed(mirror, store, release)


def test_connection_reset_mid_stream(mirror: Mirror, release: Release, store: Path) -> None:
    mirror.reset(release.binary, after=2_000_000)
    message = failed(mirror, store, release)
    assert "Connection reset by peer" in message
    assert "after 2000000 of" in message


def test_slow_server_times_out(mirror: Mirror, release: Release, store: Path) -> None:
    mirror.slow(release.binary, delay=2.0, after=100_000)
    start = time.monotonic()
    message = failed(mirror, store, release, timeout=0.5)
    assert time.monotonic() - start < 1.9
    assert "timed out" in message
    assert "0.5 s" in message


def test_nothing_listening(store: Path, release: Release) -> None:
    with pytest.raises(DownloadError, match=r"cannot connect to http://127\.0\.0\.1:9/"):
        install(
            release.version,
            store_dir=str(store),
            base_url="http://127.0.0.1:9",
            goos="linux",
            goarch="amd64",
        )
    assert leftovers(store) == []


@pytest.mark.parametrize("target", ["os.replace", "tempfile.mkstemp", "os.makedirs"])
def test_read_only_store(
    mirror: Mirror, release: Release, store: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    # Tests run as root, which chmod 0o555 does not stop: make the call itself fail.
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(target, refuse)
    message = failed(mirror, store, release)
    assert "cannot write to" in message
    assert "Read-only file system" in message
    assert "set KUBESAFE_CACHE_DIR to a writable directory" in message


class _FullDisk(io.FileIO):
    room = 5_000_000

    def write(self, data: object) -> int:
        _FullDisk.room -= len(data)  # type: ignore[arg-type]
        if _FullDisk.room < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(data)  # type: ignore[arg-type]


def test_disk_full(
    mirror: Mirror, release: Release, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_FullDisk, "room", 5_000_000)
    monkeypatch.setattr(download, "open", lambda fd, mode: _FullDisk(fd, mode), raising=False)
    message = failed(mirror, store, release)
    assert f"cannot write to {store / release.version}: No space left on device" in message
    assert "free some space" in message


def test_interrupted_download_leaves_nothing(
    mirror: Mirror, release: Release, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(self: object, data: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(_FullDisk, "write", interrupt)
    monkeypatch.setattr(download, "open", lambda fd, mode: _FullDisk(fd, mode), raising=False)
    with pytest.raises(KeyboardInterrupt):
        fetch(mirror, store, release.version)
    assert leftovers(store) == []


# --------------------------------------------------------------------------------------
# Concurrency and memory
# --------------------------------------------------------------------------------------


def test_waits_for_the_lock_then_uses_what_the_holder_stored(
    mirror: Mirror, small: Release, store: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    store.mkdir()
    final = store / small.version / "kubectl"
    results: list[object] = []
    with (store / f".{small.version}.lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        waiter = threading.Thread(
            target=lambda: results.append(fetch(mirror, store, small.version, progress=True))
        )
        waiter.start()
        time.sleep(0.3)
        assert waiter.is_alive() and results == []
        final.parent.mkdir()  # what another process holding the lock would leave behind
        shutil.copyfile(small.source, final)
        final.chmod(0o755)
        fcntl.flock(held, fcntl.LOCK_UN)
        waiter.join(timeout=10)

    assert results == [str(final)]
    assert mirror.requests == {}
    assert "waiting for another kubesafe to finish downloading" in capfd.readouterr().err


_RACER = """
import sys
import threading
from kubesafe.versions.download import install
version, store, base = sys.argv[1:]
print("ready", flush=True)
sys.stdin.readline()
print(install(version, store_dir=store, base_url=base, goos="linux", goarch="amd64",
              progress=False), flush=True)
"""


def test_concurrent_first_runs_download_once(mirror: Mirror, release: Release, store: Path) -> None:
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, release.version, str(store), mirror.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(8)
    ]
    try:
        for racer in racers:  # everything imported: start them all at once
            assert racer.stdout is not None and racer.stdout.readline() == "ready\n"
        for racer in racers:
            assert racer.stdin is not None
            racer.stdin.write("go\n")
            racer.stdin.flush()
        results = [racer.communicate(timeout=120) for racer in racers]
    finally:
        for racer in racers:
            racer.kill()
            racer.wait()

    expected = str(store / release.version / "kubectl")
    assert [(r.returncode, out.strip()) for r, (out, _) in zip(racers, results, strict=True)] == [
        (0, expected)
    ] * 8, [err for _, err in results]
    assert mirror.requests == {release.sha256: 1, release.binary: 1}
    assert filecmp.cmp(expected, release.source, shallow=False)
    assert leftovers(store) == [release.version, f"{release.version}/kubectl"]


_MEASURE = """
import json, resource, sys
import httpx
from kubesafe.versions.download import install
version, store, base = sys.argv[1:]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
path = install(version, store_dir=store, base_url=base, goos="linux", goarch="amd64",
               progress=False)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kib": before, "after_kib": after, "path": path}))
"""


def test_memory_stays_flat_for_a_large_download(tmp_path: Path) -> None:
    size = 200 * 10**6
    big = tmp_path / "big"
    with big.open("wb") as fh:  # sparse: costs no disk on the mirror side
        fh.truncate(size)
    root = tmp_path / "mirror"
    build_mirror_tree(root, "v1.99.1", big)
    big.unlink()
    store = tmp_path / "store"
    with Mirror(root) as mirror:
        result = subprocess.run(
            [sys.executable, "-c", _MEASURE, "v1.99.1", str(store), mirror.url],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            check=True,
        )
    data = json.loads(result.stdout)
    growth_mb = (data["after_kib"] - data["before_kib"]) * 1024 / 1e6
    assert os.path.getsize(data["path"]) == size
    assert growth_mb < 20, f"peak RSS grew by {growth_mb:.1f} MB for a {size / 1e6:.0f} MB file"


# --------------------------------------------------------------------------------------
# Names and URLs
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sys_platform", "machine", "pair"),
    [
        ("linux", "x86_64", ("linux", "amd64")),
        ("linux", "aarch64", ("linux", "arm64")),
        ("linux", "armv7l", ("linux", "arm")),
        ("linux", "ppc64le", ("linux", "ppc64le")),
        ("linux", "s390x", ("linux", "s390x")),
        ("darwin", "arm64", ("darwin", "arm64")),
        ("darwin", "x86_64", ("darwin", "amd64")),
        ("win32", "AMD64", ("windows", "amd64")),
        ("win32", "ARM64", ("windows", "arm64")),
    ],
)
def test_platform_pair(sys_platform: str, machine: str, pair: tuple[str, str]) -> None:
    assert platform_pair(sys_platform, machine) == pair


def test_platform_pair_defaults_and_unknowns() -> None:
    assert platform_pair() == platform_pair(sys.platform, os.uname().machine)
    for sys_platform, machine in (("freebsd14", "amd64"), ("linux", "mips64"), ("aix", "ppc")):
        with pytest.raises(DownloadError, match="not published for"):
            platform_pair(sys_platform, machine)


def test_binary_name_and_url() -> None:
    assert binary_name("windows") == "kubectl.exe"
    assert binary_name("linux") == binary_name("darwin") == "kubectl"
    assert (
        download_url("https://dl.k8s.io", "v1.31.4", "linux", "amd64")
        == "https://dl.k8s.io/release/v1.31.4/bin/linux/amd64/kubectl"
    )
    assert (
        download_url("https://mirror.example/k8s/", "1.31.4", "windows", "amd64")
        == "https://mirror.example/k8s/release/v1.31.4/bin/windows/amd64/kubectl.exe"
    )
    assert (
        download_url("https://dl.k8s.io", "v1.30.0", "darwin", "arm64")
        == "https://dl.k8s.io/release/v1.30.0/bin/darwin/arm64/kubectl"
    )


def test_module_import_does_not_load_httpx() -> None:
    probe = "import sys, kubesafe.versions.download; print('httpx' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "False"
