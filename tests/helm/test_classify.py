"""What each helm command does; e2e tests check the dry-run rows against real helm."""

from __future__ import annotations

import pytest

from kubesafe.classification import DESTRUCTIVE, LOCAL, READ, WRITE, strictest
from kubesafe.helm.args import parse
from kubesafe.helm.classify import classify, release_and_chart


def _category(argv: str) -> str:
    return strictest([classify(r) for r in parse(argv.split()).readings]).category


@pytest.mark.parametrize(
    ("argv", "category"),
    [
        ("", LOCAL),
        ("install web ./c", WRITE),
        ("-n shop install web ./c --wait", WRITE),
        ("upgrade web ./c", WRITE),
        ("upgrade --install web ./c", WRITE),
        ("upgrade -i web ./c", WRITE),
        ("rollback web 3", WRITE),
        ("test web", WRITE),
        ("uninstall web", DESTRUCTIVE),
        ("delete web", DESTRUCTIVE),
        ("del web", DESTRUCTIVE),
        ("un web", DESTRUCTIVE),
        ("uninstall web --keep-history", DESTRUCTIVE),
        ("upgrade web ./c --force", DESTRUCTIVE),
        ("upgrade web ./c --force-replace", DESTRUCTIVE),
        ("upgrade web ./c --force=false", WRITE),
        ("rollback web 1 --force", DESTRUCTIVE),
        # dry runs, as verified against real helm 3.17 / 4.1 / 4.3
        ("upgrade web ./c --dry-run", READ),
        ("upgrade web ./c --dry-run=client", READ),
        ("upgrade web ./c --dry-run=server", READ),
        ("upgrade web ./c --dry-run=true", READ),
        ("upgrade --install web ./c --dry-run", READ),
        ("install web ./c --dry-run=server", READ),
        ("upgrade web ./c --dry-run=none", WRITE),
        ("upgrade web ./c --dry-run=false", WRITE),
        ("upgrade web ./c --dry-run=0", WRITE),
        ("upgrade web ./c --dry-run=nonsense", WRITE),
        ("upgrade web ./c --dry-run --dry-run=none", WRITE),
        ("upgrade web ./c --dry-run=none --dry-run", READ),
        ("uninstall web --dry-run", READ),
        ("uninstall web --dry-run=false", DESTRUCTIVE),
        ("rollback web 1 --dry-run", READ),
        ("test web --dry-run", WRITE),
        # helm 3.17 reads an explicitly empty --dry-run= as "none" and installs for real
        ("upgrade web ./c --dry-run=", WRITE),
        ("upgrade --install web ./c --dry-run=", WRITE),
        ("install web ./c --dry-run=", WRITE),
        ("upgrade web ./c --dry-run --dry-run=", WRITE),
        ("upgrade web ./c --dry-run= --dry-run", READ),
        ("uninstall web --dry-run=", DESTRUCTIVE),
        ("rollback web 1 --dry-run=", WRITE),
        # reads that talk to the cluster
        ("list", READ),
        ("ls -A", READ),
        ("status web", READ),
        ("history web", READ),
        ("hist web", READ),
        ("get values web", READ),
        ("get manifest web", READ),
        ("get all web", READ),
        ("template web ./c --validate", READ),
        ("template web ./c --is-upgrade", READ),
        ("template web ./c --dry-run=server", READ),
        # never touch a cluster
        ("template web ./c", LOCAL),
        ("lint ./c", LOCAL),
        ("pull repo/chart", LOCAL),
        ("fetch repo/chart", LOCAL),
        ("package ./c", LOCAL),
        ("show values repo/chart", LOCAL),
        ("inspect chart repo/chart", LOCAL),
        ("search repo nginx", LOCAL),
        ("repo add x https://example.invalid", LOCAL),
        ("repo update", LOCAL),
        ("dependency update ./c", LOCAL),
        ("dep build ./c", LOCAL),
        ("create mychart", LOCAL),
        ("env", LOCAL),
        ("version", LOCAL),
        ("completion bash", LOCAL),
        ("registry login r.example.invalid", LOCAL),
        ("push c.tgz oci://r.example.invalid", LOCAL),
        ("verify c.tgz", LOCAL),
        ("plugin list", LOCAL),
        ("plugin install https://example.invalid/p", LOCAL),
        ("get", LOCAL),
        ("uninstall web --help", LOCAL),
        ("uninstall web -h", LOCAL),
        ("__complete uninstall ''", LOCAL),
        ("help uninstall", LOCAL),
        # plugins and unknown commands can do anything
        ("diff upgrade web ./c", WRITE),
        ("secrets upgrade web ./c", WRITE),
        ("diff --help", WRITE),
        ("-n x mapkubeapis web", WRITE),
        # an unknown flag that may swallow the command word: the strictest reading wins
        ("--bogus uninstall web", DESTRUCTIVE),
    ],
)
def test_classification(argv: str, category: str) -> None:
    assert _category(argv) == category


@pytest.mark.parametrize(
    ("argv", "release", "chart"),
    [
        ("install web ./c", "web", "./c"),
        ("install ./c --generate-name", None, "./c"),
        ("install -g ./c", None, "./c"),
        ("-n x upgrade --install web repo/c --version 1.2", "web", "repo/c"),
        ("uninstall a b", "a,b", None),
        ("rollback web 3", "web", None),
        ("status web", "web", None),
        ("get values web", "web", None),
        ("list", None, None),
        ("diff upgrade web ./c", None, None),
    ],
)
def test_release_and_chart(argv: str, release: str | None, chart: str | None) -> None:
    assert release_and_chart(parse(argv.split()).primary) == (release, chart)
