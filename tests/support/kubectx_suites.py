"""kubectx's own bats suites (``test/kubectx.bats``, ``test/kubens.bats``), fetched at test time.

They come from Debian's source package of kubectx, through apt with a private
configuration (a ``deb-src`` list in a temporary directory; the machine's own apt
configuration is left alone): ``apt-cache showsrc`` gives the orig tarball's path and
SHA-256 from the signed Sources index, and ``apt-helper download-file`` fetches it and
checks that digest.
Only the ``test/`` directory is kept, cached under ``$KUBESAFE_TEST_CACHE/kubectx-suites``;
nothing of it is ever committed.

The machine's own release's source package is tried first; its orig tarball may be gone
from the mirror (bookworm's 0.9.3 is), so later suites follow. The suites in 0.9.5 are the
upstream ones that test the bash kubectx, which is what Debian's bookworm package ships.

Usage: python -m tests.support.kubectx_suites   (prints the directory holding test/)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.support.kubectl_binaries import cache_root

WANTED = ("test/kubectx.bats", "test/kubens.bats", "test/common.bash")
SUITES_AFTER_OWN = ("stable", "testing", "unstable")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
MIRROR = "http://deb.debian.org/debian"


class SuitesUnavailable(RuntimeError):
    """The suites could not be had from Debian; the message says what was tried."""


def suites_dir() -> Path:
    return cache_root() / "kubectx-suites"


def _own_codename() -> str:
    try:
        text = Path("/etc/os-release").read_text(encoding="utf-8")
    except OSError:
        return ""
    for line in text.splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return ""


def _apt(root: Path, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    options = [
        "-o", "Dir::Etc::SourceList=/dev/null",
        "-o", f"Dir::Etc::SourceParts={root / 'sources'}",
        "-o", f"Dir::State::Lists={root / 'lists'}",
        "-o", f"Dir::Cache={root / 'cache'}",
        "-o", "APT::Sandbox::User=root",
        "-o", "Debug::NoLocking=1",
    ]  # fmt: skip
    return subprocess.run(
        [tool, *options, *args], capture_output=True, text=True, timeout=600, check=False
    )


def orig_tarballs(showsrc: str) -> list[tuple[str, str]]:
    """(pool path, SHA-256) of each orig tarball in ``apt-cache showsrc`` records."""
    found: list[tuple[str, str]] = []
    for record in showsrc.split("\n\n"):
        directory = ""
        sums: list[tuple[str, str]] = []
        in_sums = False
        for line in record.splitlines():
            if line.startswith("Directory:"):
                directory = line.split(":", 1)[1].strip()
            if line.startswith(" ") and in_sums:
                parts = line.split()
                if len(parts) == 3 and ".orig.tar." in parts[2]:
                    sums.append((parts[2], parts[0]))
                continue
            in_sums = line.startswith("Checksums-Sha256:")
        found += [(f"{directory}/{name}", digest) for name, digest in sums if directory]
    return found


def _try_suite(root: Path, suite: str) -> Path | str:
    """The orig tarball of ``suite``'s kubectx, verified against its signed index, or why not.

    Not ``apt-get source``: it also wants the .dsc and the Debian tarball, which a mirror
    may not serve; the tests only need the orig tarball.
    """
    for directory in ("sources", "lists/partial", "cache/archives/partial", "download"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "sources" / "kubectx-src.sources").write_text(
        f"Types: deb-src\nURIs: {MIRROR}\nSuites: {suite}\nComponents: main\n"
        f"Signed-By: {KEYRING}\n",
        encoding="utf-8",
    )
    updated = _apt(root, "apt-get", "-qq", "update")
    if updated.returncode != 0:
        return f"{suite}: apt-get update failed: {updated.stderr.strip()[-300:]}"
    shown = _apt(root, "apt-cache", "showsrc", "kubectx")
    candidates = orig_tarballs(shown.stdout)
    if not candidates:
        return f"{suite}: no kubectx source package"
    reasons = []
    for pool_path, digest in candidates:
        target = root / "download" / os.path.basename(pool_path)
        fetched = _apt(
            root,
            "/usr/lib/apt/apt-helper",
            "download-file",
            f"{MIRROR}/{pool_path}",
            str(target),
            f"SHA256:{digest}",
        )
        if fetched.returncode == 0 and target.is_file():
            return target
        lines = (fetched.stderr or fetched.stdout).strip().splitlines()
        reasons.append(f"{pool_path}: {lines[-1] if lines else 'failed'}")
    return f"{suite}: " + ", ".join(reasons)


def _extract_tests(tarball: Path, target: Path) -> bool:
    with tarfile.open(tarball) as archive:
        members = [
            member
            for member in archive.getmembers()
            if "/test/" in member.name and (member.isfile() or member.isdir())
        ]
        if not members:
            return False
        for member in members:
            member.name = member.name.split("/", 1)[1]  # drop kubectx-X.Y.Z/
            archive.extract(member, target, filter="data")
    return all((target / name).is_file() for name in WANTED)


def fetch_suites() -> Path:
    """The directory holding ``test/``; fetched once, then cached. Raises SuitesUnavailable."""
    cached = suites_dir()
    if all((cached / name).is_file() for name in WANTED):
        return cached
    if shutil.which("apt-get") is None or not os.path.exists(KEYRING):
        raise SuitesUnavailable("apt-get or Debian's archive keyring is missing")
    own = _own_codename()
    tried: list[str] = []
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cached.parent) as tmp:
        root = Path(tmp)
        for suite in (own, *SUITES_AFTER_OWN) if own else SUITES_AFTER_OWN:
            found = _try_suite(root / "apt", suite)
            if isinstance(found, str):
                tried.append(found)
                continue
            staged = root / "staged"
            shutil.rmtree(staged, ignore_errors=True)
            if not _extract_tests(found, staged):
                tried.append(f"{suite}: {found.name} has no test/kubectx.bats")
                continue
            (staged / "SOURCE").write_text(f"{suite}: {found.name}\n", encoding="utf-8")
            try:
                os.replace(staged, cached)
            except OSError:
                if not all((cached / name).is_file() for name in WANTED):
                    raise
            return cached
    raise SuitesUnavailable("; ".join(tried))


def main(argv: Sequence[str] | None = None) -> int:
    try:
        print(fetch_suites())
    except SuitesUnavailable as error:
        print(f"kubectx suites unavailable: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
