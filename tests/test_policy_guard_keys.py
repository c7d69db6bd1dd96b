"""The policy keys of the API guard: ``environments.<name>.guard`` and ``guard.max-lift``."""

from __future__ import annotations

import pytest

from kubesafe.policy_file import PolicyError, parse_policy


def test_guard_switch_and_max_lift_parse() -> None:
    data = parse_policy(
        b"environments:\n  staging: {write: confirm, guard: off}\n  prod: {guard: yes}\n"
        b"guard:\n  max-lift: 2h\n"
    )
    assert data["environments"] == {
        "staging": {"write": "confirm", "guard": "off"},
        "prod": {"guard": "on"},
    }
    assert data["guard"] == {"max-lift": 7200.0}
    assert parse_policy(b"rules: []\n")["guard"] == {}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b"environments:\n  staging: {guard: maybe}\n", "line 2: guard is on or off"),
        (b"guard:\n  max-lift: soon\n", "line 2: max-lift 'soon' is not a duration"),
        (b"guard:\n  max-lift: 0\n", "line 2: max-lift must be more than 0"),
        (b"guard:\n  longest: 1h\n", "line 2: unknown guard key 'longest'"),
    ],
)
def test_bad_guard_keys_name_the_line(text: bytes, problem: str) -> None:
    with pytest.raises(PolicyError, match=problem):
        parse_policy(text)


def test_guard_wanted_unless_every_protecting_environment_says_off() -> None:
    from kubesafe.kubeconfig.resolve import Target
    from kubesafe.policy import Policy, Rule, guard_wanted, protection

    def rule(environment: str) -> Rule:
        return Rule("context", "prod", environment, "", (), "test")

    target = Target("prod", "c", "u", "https://prod.example", "default", ())
    both = Policy(
        "p",
        (rule("production"), rule("staging")),
        {"staging": {"guard": "off"}, "production": {}},
    )
    found = protection(both, target, mutating=True, destructive=True, namespaces=None)
    assert guard_wanted(both, found)
    off = Policy("p", (rule("staging"),), {"staging": {"guard": "off"}})
    found = protection(off, target, mutating=True, destructive=True, namespaces=None)
    assert found.protected and not guard_wanted(off, found)
