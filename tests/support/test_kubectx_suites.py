"""Reading apt-cache showsrc records for the orig tarball of kubectx's source package."""

from __future__ import annotations

from tests.support.kubectx_suites import orig_tarballs

SHOWSRC = """\
Package: kubectx
Version: 0.9.5-2
Checksums-Sha256:
 489420c6daf23c7ab0f95da173a23ce8d9ebd7a72561c513fc99a5febb18ed7f 2338 kubectx_0.9.5-2.dsc
 c94392fba8dfc5c8075161246749ef71c18f45da82759084664eb96027970004 523259 kubectx_0.9.5.orig.tar.gz
 8cfad672470f4c41d1a76cfd7c58c59b62e8ef5256cd9fda9d99b6bd7578f79c 3548 kubectx_0.9.5-2.debian.tar.xz
Homepage: https://github.com/ahmetb/kubectx
Directory: pool/main/k/kubectx

Package: kubectx
Version: 0.9.3-1
Files:
 481281285a42c48914fcd66828333c6f 520511 kubectx_0.9.3.orig.tar.gz
Directory: pool/main/k/kubectx
"""


def test_only_orig_tarballs_with_their_sha256_and_pool_path() -> None:
    assert orig_tarballs(SHOWSRC) == [
        (
            "pool/main/k/kubectx/kubectx_0.9.5.orig.tar.gz",
            "c94392fba8dfc5c8075161246749ef71c18f45da82759084664eb96027970004",
        )
    ]  # 0.9.3's record has only MD5 sums: not trusted enough, not listed
