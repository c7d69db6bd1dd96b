"""Asking harder when a protected write is big: the blast-radius rules."""

from __future__ import annotations

import pytest

from kubesafe.kubectl.args import parse
from kubesafe.kubectl.blast import Blast
from kubesafe.kubectl.escalate import escalate


def level(argv: str, start: str = "confirm", blast: Blast | None = None, **rules: object) -> str:
    return escalate(start, parse(argv.split()).primary, blast, rules)[0]


@pytest.mark.parametrize(
    "argv",
    [
        "delete ns shop",
        "delete namespace/shop",
        "-n x delete namespaces shop team",
        "delete pvc data",
        "delete persistentvolume/pv-1",
        "delete pods --all",
        "delete pods -l app=web",
        "delete pods --field-selector status.phase=Failed",
        "label pods -A tier=x",
        "delete deploy -A --all",
    ],
)
def test_the_command_line_alone_raises_confirm_to_typed(argv: str) -> None:
    assert level(argv) == "typed"


@pytest.mark.parametrize(
    "argv", ["delete pod web-0", "scale deploy/web --replicas=3", "label pod web-0 a=b"]
)
def test_small_named_writes_stay_as_they_are(argv: str) -> None:
    assert level(argv) == "confirm"
    assert (
        level(argv, blast=Blast(direct=[{"kind": "Pod", "metadata": {"name": "p"}}])) == "confirm"
    )


def test_the_preview_raises_what_the_command_line_hides() -> None:
    manifest_delete = "delete -f app.yaml"
    namespace = Blast(
        direct=[{"kind": "Namespace", "metadata": {"name": "shop"}}],
        namespace_contents={"shop": {}},
    )
    assert level(manifest_delete, blast=namespace) == "typed"
    volume = Blast(
        direct=[{"kind": "PersistentVolumeClaim", "metadata": {"name": "d", "namespace": "s"}}]
    )
    assert level(manifest_delete, blast=volume) == "typed"
    many = Blast(direct=[{"kind": "Pod", "metadata": {"name": str(i)}} for i in range(21)])
    assert level(manifest_delete, blast=many) == "typed"
    assert level(manifest_delete, blast=Blast(direct=many.direct[:20])) == "confirm"


def test_rules_are_configurable_and_never_lower_a_level() -> None:
    assert level("delete ns shop", **{"namespace-delete": "block"}) == "block"
    assert level("delete ns shop", **{"namespace-delete": "none"}) == "confirm"
    assert level("delete ns shop", start="typed", **{"namespace-delete": "confirm"}) == "typed"
    many = Blast(direct=[{"kind": "Pod", "metadata": {"name": str(i)}} for i in range(4)])
    assert (
        level("delete -f x", blast=many, **{"objects-over": 3, "objects-level": "block"}) == "block"
    )


def test_unprotected_and_blocked_targets_are_left_alone() -> None:
    assert level("delete ns shop", start="none") == "none"
    assert level("delete ns shop", start="block") == "block"


def test_reasons_say_why() -> None:
    _, reasons = escalate("confirm", parse(["delete", "ns", "shop"]).primary, None, {})
    assert reasons == (
        "deletes a namespace and everything in it (blast-radius namespace-delete: typed)",
    )
