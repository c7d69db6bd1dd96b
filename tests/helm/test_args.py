"""helm argv parsing: flags in every spelling and position (truth checked in e2e)."""

from __future__ import annotations

import pytest

from kubesafe.helm.args import command_index, parse


def _globals(argv: str) -> dict[str, str]:
    parsed = parse(argv.split())
    assert len(parsed.readings) == 1, parsed.readings
    return parsed.primary.globals


@pytest.mark.parametrize(
    ("argv", "command", "namespace"),
    [
        ("list -n shop", ("list",), "shop"),
        ("-n shop list", ("list",), "shop"),
        ("--namespace shop list", ("list",), "shop"),
        ("--namespace=shop list", ("list",), "shop"),
        ("list --namespace=shop", ("list",), "shop"),
        ("list -nshop", ("list",), "shop"),
        ("list -n=shop", ("list",), "shop"),
        ("-n a list --namespace b", ("list",), "b"),
        ("list -n a -n b", ("list",), "b"),
        ("ls -n shop", ("list",), "shop"),
        ("--debug -n shop status web", ("status",), "shop"),
        ("get values web -n shop", ("get", "values"), "shop"),
        ("-n shop get -o json values web", ("get", "values"), "shop"),
        ("hist web -n shop", ("history",), "shop"),
        ("del web -n shop", ("uninstall",), "shop"),
        ("un web -n shop", ("uninstall",), "shop"),
        ("delete -n shop web", ("uninstall",), "shop"),
        ("upgrade -i web ./c -n shop", ("upgrade",), "shop"),
        ("upgrade --set -n=x web ./c -n shop", ("upgrade",), "shop"),
        # helm's start-up parse of the global flags sees "-nfoo" as -n foo, although
        # the command's own parse gives it to --filter: helm lists namespace foo.
        ("list --filter -nfoo", ("list",), "foo"),
        ("-v 5 list -n shop", ("list",), "shop"),
        ("--kube-context prod -n shop upgrade web ./c --wait --timeout 5m", ("upgrade",), "shop"),
    ],
)
def test_namespace_and_command_in_every_position(
    argv: str, command: tuple[str, ...], namespace: str
) -> None:
    parsed = parse(argv.split())
    assert parsed.primary.command == command
    assert parsed.primary.globals.get("namespace") == namespace


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ("--kube-context prod list", {"kube-context": "prod"}),
        ("list --kube-context=prod", {"kube-context": "prod"}),
        ("--kubeconfig /k list", {"kubeconfig": "/k"}),
        ("--kube-apiserver https://x:6443 list", {"kube-apiserver": "https://x:6443"}),
        ("--kube-token t list", {"kube-token": "t"}),
        ("--kube-insecure-skip-tls-verify --kube-context prod list", {"kube-context": "prod"}),
    ],
)
def test_target_flags(argv: str, expected: dict[str, str]) -> None:
    found = _globals(argv)
    for name, value in expected.items():
        assert found[name] == value


def test_values_after_dashdash_are_positional() -> None:
    parsed = parse(["upgrade", "web", "./c", "--", "-n", "other"])
    assert parsed.primary.globals.get("namespace") is None
    assert parsed.primary.after_dashdash == ("-n", "other")


def test_set_value_is_not_the_command() -> None:
    parsed = parse(["--set", "x=uninstall", "install", "web", "./c"])
    # --set is not a root flag: cobra's Find assumes it takes a value, so "install" is found.
    assert parsed.primary.command == ("install",)


def test_plugin_globals_are_picked_out_by_hand_and_ignore_dashdash() -> None:
    parsed = parse(["diff", "upgrade", "web", "./c", "-n", "a", "--", "-n", "b"])
    reading = parsed.primary
    assert reading.plugin and reading.command == ("diff",)
    assert reading.globals["namespace"] == "b"


def test_plugin_manual_flag_beats_startup_parse() -> None:
    reading = parse(["probe", "--namespace=a", "-nb"]).primary
    assert reading.globals["namespace"] == "a"
    reading = parse(["probe", "-nb"]).primary
    assert reading.globals["namespace"] == "b"


def test_flags_before_a_plugin_name() -> None:
    reading = parse(["--kube-context", "prod", "-n", "x", "diff", "upgrade", "web"]).primary
    assert reading.plugin and reading.command == ("diff",)
    assert reading.globals == {"kube-context": "prod", "namespace": "x"}


def test_unknown_flag_gives_every_reading() -> None:
    parsed = parse(["--bogus", "x", "list"])
    commands = {(r.command, r.plugin) for r in parsed.readings}
    assert (("list",), False) in commands and (("x",), True) in commands
    assert parsed.uncertain_flags == ("--bogus",)


def test_unknown_flag_before_a_global_may_swallow_it() -> None:
    parsed = parse(["upgrade", "web", "./c", "--newflag", "-n", "x"])
    namespaces = {r.globals.get("namespace") for r in parsed.readings}
    assert namespaces == {"x", None}


def test_known_local_flags_are_not_uncertain() -> None:
    argv = "upgrade web ./c --install --atomic --wait --timeout 5m -f v.yaml --set a=b -A"
    parsed = parse(argv.split()[:-1])
    assert parsed.uncertain_flags == () and not parsed.ambiguous
    assert parse(["list", "-A", "-a"]).uncertain_flags == ()


def test_too_many_unknown_flags_is_not_exhaustive() -> None:
    argv = ["upgrade", "web", "./c"]
    for i in range(6):
        argv += [f"--new{i}", "-n", f"ns{i}"]
    assert not parse(argv).exhaustive


def test_help_and_completion() -> None:
    assert parse(["uninstall", "web", "-h"]).primary.has("help")
    assert parse(["__complete", "uninstall", ""]).primary.command == ("__complete",)


def test_underscores_are_not_normalised() -> None:
    # helm rejects --kube_context; it must not be read as the context.
    reading = parse(["--kube_context", "prod", "list"]).primary
    assert "kube-context" not in reading.globals


def test_command_index() -> None:
    assert command_index(["-n", "x", "--kube-context", "p", "upgrade", "web"]) == 4
    assert command_index(["--debug", "install", "web"]) == 1
    assert command_index(["-n", "x"]) is None
