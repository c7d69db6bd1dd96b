from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubesafe.kubectl.args import Reading, parse


def primary(*argv: str) -> Reading:
    return parse(list(argv)).primary


NAMESPACE_SPELLINGS = [
    ["-n", "team"],
    ["-nteam"],
    ["-n=team"],
    ["--namespace", "team"],
    ["--namespace=team"],
]


@pytest.mark.parametrize("spelling", NAMESPACE_SPELLINGS)
@pytest.mark.parametrize("position", [0, 1, 2, 3])
def test_flag_spellings_and_positions(spelling: list[str], position: int) -> None:
    words = ["rollout", "restart", "deploy/web"]
    argv = [*words[:position], *spelling, *words[position:]]
    reading = primary(*argv)
    assert reading.command == ("rollout", "restart")
    assert reading.last("namespace") == "team"
    assert reading.positionals == ("deploy/web",)
    assert reading.error is None


@pytest.mark.parametrize(
    "prefix",
    [
        ["--as", "admin"],
        ["--as=admin"],
        ["--as-group", "system:masters", "--as-group", "dev"],
        ["--as-uid", "1"],
        ["--cache-dir", "/tmp/x"],
        ["--certificate-authority", "ca.crt"],
        ["--client-certificate", "c.crt", "--client-key", "c.key"],
        ["--request-timeout", "5s"],
        ["--request_timeout", "5s"],
        ["-s", "https://x"],
        ["--server", "https://x"],
        ["--tls-server-name", "api"],
        ["--token", "t"],
        ["--username", "u", "--password", "p"],
        ["-v", "6"],
        ["-v6"],
        ["--v", "6"],
        ["--vmodule", "x=2"],
        ["--profile", "cpu", "--profile-output", "o.pprof"],
        ["--log-flush-frequency", "5s"],
        ["--insecure-skip-tls-verify"],
        ["--match-server-version"],
        ["--disable-compression"],
        ["--warnings-as-errors"],
        ["--kubeconfig", "k.yaml", "--user", "u", "--cluster", "c"],
    ],
)
def test_value_flags_before_the_verb_do_not_hide_it(prefix: list[str]) -> None:
    reading = primary(*prefix, "delete", "ns", "prod-data")
    assert reading.command == ("delete",)
    assert reading.positionals == ("ns", "prod-data")
    assert not reading.plugin


def test_repeated_flags_last_wins_and_all_are_kept() -> None:
    reading = primary("-n", "a", "get", "--namespace=b", "pods", "-nc")
    assert reading.last("namespace") == "c"
    assert reading.flags["namespace"] == ["a", "b", "c"]


def test_double_dash_ends_kubectl_flags() -> None:
    reading = primary(
        "exec", "pod", "-n", "x", "--", "kubectl", "--context", "prod", "delete", "ns", "x"
    )
    assert reading.command == ("exec",)
    assert reading.last("context") is None
    assert reading.last("namespace") == "x"
    assert reading.after_dashdash == ("kubectl", "--context", "prod", "delete", "ns", "x")


def test_flag_value_that_looks_like_a_flag_is_consumed() -> None:
    # pflag takes the next word as the value even when it starts with "-".
    reading = primary("get", "pods", "-o", "--context=prod")
    assert reading.last("output") == "--context=prod"
    assert reading.last("context") is None


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["apply", "view-last-applied", "deploy/x"], ("apply", "view-last-applied")),
        (["config", "use-context", "prod"], ("config", "use-context")),
        (["--context", "prod", "config", "view"], ("config", "view")),
        (
            ["create", "secret", "generic", "s", "--from-literal=a=b"],
            ("create", "secret", "generic"),
        ),
        (["create", "deploy", "web", "--image", "nginx"], ("create", "deployment")),
        (["top", "pod"], ("top", "pod")),
        (["auth", "can-i", "delete", "pods"], ("auth", "can-i")),
        (["rollout", "status", "deploy/x"], ("rollout", "status")),
        (["get", "rollout"], ("get",)),
        ([], ()),
        (["--help"], ()),
    ],
)
def test_command_paths(argv: list[str], command: tuple[str, ...]) -> None:
    assert primary(*argv).command == command


def test_bundled_short_booleans_and_a_trailing_value() -> None:
    reading = primary("exec", "-itc", "box", "web-0", "--", "sh")
    assert reading.has("stdin") and reading.has("tty")
    assert reading.last("container") == "box"
    assert reading.positionals == ("web-0",)


def test_bool_flag_does_not_swallow_the_next_word() -> None:
    reading = primary("delete", "--now", "pod", "x")
    assert reading.positionals == ("pod", "x")
    reading = primary("apply", "--dry-run", "server", "-f", "x.yaml")
    # --dry-run has an optional value: without "=" it does not take "server".
    assert reading.last("dry-run") == ""
    assert reading.positionals == ("server",)


def test_plugins() -> None:
    reading = primary("ctx", "prod")
    assert reading.plugin and reading.command == ("ctx",)
    assert reading.error is None
    before = primary("-n", "x", "myplugin", "arg")
    assert before.plugin and before.error == "flags cannot be placed before plugin name"
    flags_after = primary("oidc-login", "get-token", "--context", "prod")
    assert flags_after.plugin and flags_after.last("context") == "prod"


@pytest.mark.parametrize(
    "argv",
    [
        ["get", "pods", "-n"],
        ["--context"],
        [""],
        ["", "", "get"],
        ["-"],
        ["--"],
        ["---x"],
        ["--=x"],
        ["-n="],
        ["get", "pöds", "-n", "名前空間"],
        ["\udcff", "--context=\udcfe"],
    ],
)
def test_odd_input_never_crashes(argv: list[str]) -> None:
    parsed = parse(argv)
    assert parsed.readings


def test_missing_value_is_reported_not_invented() -> None:
    reading = primary("get", "pods", "-n")
    assert reading.error is not None and "needs an argument" in reading.error


def test_short_equals_quirk_matches_pflag() -> None:
    # pflag reads "-n=" as the value "=" (only "-n=x" strips the "=").
    assert primary("get", "-n=", "pods").last("namespace") == "="


def test_unknown_flag_makes_every_reading_available() -> None:
    parsed = parse(["--frobnicate", "--context", "prod", "delete", "ns", "x"])
    assert parsed.ambiguous
    assert "--frobnicate" in parsed.uncertain_flags
    contexts = {r.last("context") for r in parsed.readings}
    assert contexts == {None, "prod"}
    commands = {r.command for r in parsed.readings}
    assert ("delete",) in commands


def test_known_flags_are_not_ambiguous() -> None:
    parsed = parse(["--as", "admin", "-v", "6", "delete", "ns", "x", "--wait=false"])
    assert not parsed.ambiguous and parsed.uncertain_flags == ()


GLOBAL_VALUE_FLAGS = {
    "context": "c1",
    "cluster": "k1",
    "user": "u1",
    "namespace": "n1",
    "server": "https://s",
}
SHORT = {"namespace": "n", "server": "s"}


@st.composite
def flag_placements(draw: st.DrawFn) -> tuple[list[str], dict[str, str], tuple[str, ...]]:
    words = draw(
        st.sampled_from(
            [
                ["get", "pods"],
                ["delete", "pod", "x"],
                ["rollout", "undo", "deploy/x"],
                ["apply", "set-last-applied", "-f", "x.yaml"],
                ["auth", "reconcile", "-f", "r.yaml"],
                ["certificate", "approve", "csr-1"],
            ]
        )
    )
    command = tuple(
        w
        for w in words
        if w not in ("pod", "x", "pods", "deploy/x", "-f", "x.yaml", "r.yaml", "csr-1")
    )
    chosen = draw(st.lists(st.sampled_from(sorted(GLOBAL_VALUE_FLAGS)), unique=True))
    # Units that must stay together: "-f FILE", and each inserted flag with its value.
    units: list[list[str]] = []
    for word in words:
        if units and units[-1] == ["-f"]:
            units[-1].append(word)
        else:
            units.append([word])
    expected: dict[str, str] = {}
    for name in chosen:
        value = GLOBAL_VALUE_FLAGS[name] + draw(st.sampled_from(["", "-x", "_y"]))
        forms = [[f"--{name}", value], [f"--{name}={value}"]]
        if name in SHORT:
            letter = SHORT[name]
            forms += [[f"-{letter}", value], [f"-{letter}{value}"], [f"-{letter}={value}"]]
        position = draw(st.integers(min_value=0, max_value=len(units)))
        units.insert(position, draw(st.sampled_from(forms)))
        expected[name] = value
    argv = [word for unit in units for word in unit]
    return argv, expected, command


@given(flag_placements())
@settings(max_examples=400)
def test_property_flags_anywhere_give_the_same_reading(
    case: tuple[list[str], dict[str, str], tuple[str, ...]],
) -> None:
    argv, expected, command = case
    parsed = parse(argv)
    assert not parsed.ambiguous
    reading = parsed.primary
    assert reading.command == command, argv
    for name, value in expected.items():
        assert reading.last(name) == value, argv
    assert reading.error is None


@given(st.lists(st.text(max_size=12), max_size=12))
@settings(max_examples=400)
def test_property_never_raises(argv: list[str]) -> None:
    parsed = parse(argv)
    assert len(parsed.readings) >= 1


def test_flags_before_a_plugin_name_still_decide_the_target() -> None:
    """kubectl takes "prod" for a plugin name here and refuses; kubesafe keeps the
    user's --context so that a reading on prod is judged, not one on the default."""
    readings = parse(["--context", "prod", "--frobnicate", "a", "b", "delete", "pod", "x"]).readings
    plugin_readings = [r for r in readings if r.plugin]
    assert plugin_readings
    for reading in plugin_readings:
        assert reading.error == "flags cannot be placed before plugin name"
        assert reading.last("context") == "prod"
