"""kuberc rules one by one (kubectl's pkg/kuberc); tests/e2e/test_kuberc_differential.py
checks the same rules against real kubectl."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubesafe.commands.explain import plan_to_json, render_text
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubectl import kuberc
from kubesafe.kubectl.args import parse
from kubesafe.kubectl.kuberc_decode import decode, go_scalar_tag, split_documents
from kubesafe.kubectl.plan import _with_kuberc, make_plan
from kubesafe.kubectl.shim import _local_kubectl
from kubesafe.verdict import ALLOW, BLOCK, CONFIRM

BETA = "apiVersion: kubectl.config.k8s.io/v1beta1\nkind: Preference\n"
ALPHA = "apiVersion: kubectl.config.k8s.io/v1alpha1\nkind: Preference\n"


@pytest.mark.parametrize(
    ("scalar", "kind"),
    [
        ("prod", "str"),
        ("y", "bool"),
        ("off", "bool"),
        ("1e3", "float"),
        ("08", "float"),
        ("0o17", "float"),
        ("1_000", "float"),
        (".5", "float"),
        (".inf", "float"),
        ("1:20", "str"),
        ("2024-01-01", "str"),
        ("=", "str"),
        ("-n", "str"),
        ("~", "null"),
    ],
)
def test_scalars_resolve_as_go_yaml_does(scalar: str, kind: str) -> None:
    assert go_scalar_tag(scalar) == f"tag:yaml.org,2002:{kind}"


def test_documents_split_like_apimachinery() -> None:
    chunks, fatal = split_documents(b"a: 1\n--- # comment\n\n---\nb: 2\n")
    assert chunks == [b"a: 1\n", b"b: 2\n"] and fatal is None
    # The reader fails on the document that a bad separator ends: it is lost too.
    chunks, fatal = split_documents(b"a: 1\n---\nb: 1\n--- b: 2\nc: 3\n")
    assert chunks == [b"a: 1\n"] and fatal == "invalid YAML document separator: b: 2"


def test_each_document_decodes_on_its_own() -> None:
    content = (
        "apiVersion: v1\nkind: Foo\n---\n"
        + BETA
        + "defaults:\n- command: delete\n  options:\n  - {name: context, default: prod}\n"
        + "extra: 1\n---\nfoo: [\n"
    )
    first, second, third = decode(content.encode())
    assert first[0] == "unusable"
    assert second == ("preference", "v1beta1", True, [("delete", [("context", "prod")])], [])
    assert third[0] == "syntax"


def test_wrong_types_make_a_document_unusable() -> None:
    for value in ("true", "3", "[a]", "{a: b}"):
        text = (
            BETA
            + f"defaults:\n- command: delete\n  options:\n  - name: context\n    default: {value}\n"
        )
        assert decode(text.encode())[0][0] == "unusable", value
    assert decode((BETA + "aliases: {}\n").encode())[0][0] == "unusable"


def test_field_names_follow_the_api_version() -> None:
    alpha = ALPHA + "overrides:\n- command: get\n  flags:\n  - {name: namespace, default: x}\n"
    assert decode(alpha.encode())[0][3] == [("get", [("namespace", "x")])]
    mixed = ALPHA + "defaults:\n- command: get\n  options:\n  - {name: namespace, default: x}\n"
    assert decode(mixed.encode())[0][2:4] == (True, [])


def test_merge_keys_apply_where_they_stand() -> None:
    text = BETA + "b: &b {name: context, default: prod}\ndefaults:\n- command: get\n  options:\n"
    before = decode((text + "  - {default: dev, <<: *b}\n").encode())[0]
    after = decode((text + "  - {<<: *b, default: dev}\n").encode())[0]
    assert before[3] == [("get", [("context", "prod")])]
    assert after[3] == [("get", [("context", "dev")])]


def test_which_kubectl_reads_which_document() -> None:
    beta = [("preference", "v1beta1", False, [("get", [])], [])]
    alpha = [("preference", "v1alpha1", True, [("get", [])], [])]
    assert kuberc.preferences(beta, 37, False) == ([("get", [])], [])
    assert kuberc.preferences(beta, 33, False) is None  # 1.33 knows only v1alpha1
    assert kuberc.preferences(alpha, 34, False) == ([("get", [])], [])
    assert kuberc.preferences(alpha, 33, False) is None  # strict error, not named explicitly
    assert kuberc.preferences(alpha, 33, True) == ([("get", [])], [])
    with pytest.raises(kuberc.KubercError):
        kuberc.preferences([("syntax", "line 1: bad"), *beta], 37, False)
    assert kuberc.preferences([*beta, ("syntax", "line 9: bad")], 37, False) is not None
    assert kuberc.preferences([("fatal", "bad ---"), *beta], 37, False) is None
    invalid = [("preference", "v1beta1", False, [], [("get-all", "get", [], [], [])])]
    assert kuberc.preferences(invalid, 37, False) is None  # kubectl refuses to run at all


def test_feature_gate_per_version() -> None:
    assert not kuberc.reads_kuberc(31, {"KUBECTL_KUBERC": "true"})
    assert not kuberc.reads_kuberc(33, {})
    assert kuberc.reads_kuberc(33, {"KUBECTL_KUBERC": "TRUE"})
    assert kuberc.reads_kuberc(34, {})
    assert not kuberc.reads_kuberc(37, {"KUBECTL_KUBERC": "False"})


def test_where_kubectl_looks() -> None:
    env = {"HOME": "/h", "KUBERC": "/env"}
    assert kuberc.locate(["get"], env, 37) == ("/env", True)
    assert kuberc.locate(["get"], env, 34) == ("/h/.kube/kuberc", False)  # 1.33-1.34 ignore KUBERC
    assert kuberc.locate(["--kuberc", "/a", "get", "--kuberc=/b"], env, 37) == ("/a", True)
    assert kuberc.locate(["get", "--", "--kuberc", "/a"], {"HOME": "/h"}, 37) == (
        "/h/.kube/kuberc",
        False,
    )
    assert kuberc.locate(["get"], {}, 37) == (".kube/kuberc", False)
    assert kuberc.locate(["get"], {"KUBERC": "off"}, 37) is None
    assert kuberc.locate(["get", "--kuberc"], {}, 37) is None  # kubectl refuses
    assert kuberc.locate(["get"], {"HOME": "/h"}, 31) is None


@pytest.mark.parametrize(
    ("args", "found"),
    [
        (["--context", "x"], True),
        (["--context=x"], True),
        (["--", "--context"], True),
        (["--contexts"], False),
        (["-nfoo"], True),
        (["--", "-na"], True),
        (["-in"], True),
        (["-it"], False),
        (["--namespace_x"], False),
    ],
)
def test_given_follows_search_in_args(args: list[str], found: bool) -> None:
    name = "context" if "context" in " ".join(args) else "namespace"
    assert kuberc.given(name, "n" if name == "namespace" else None, args) is found


ALIAS = (
    "nuke",
    "delete --context stage extra",
    ["pod"],
    ["--context", "prod"],
    [("wait", "false")],
)


def test_alias_expansion() -> None:
    expanded = kuberc.expand(["nuke", "web"], [], [ALIAS], 37)
    assert expanded == ["--wait=false", "delete", "pod", "web", "--context", "prod"]
    after = kuberc.expand(["nuke", "web", "--", "x"], [], [ALIAS], 37)
    assert after == ["--wait=false", "delete", "pod", "web", "--", "x", "--context", "prod"]


def test_defaults_do_not_reach_aliases() -> None:
    defaults = [("delete", [("context", "prod")])]
    assert kuberc.expand(["nuke", "web"], defaults, [ALIAS], 37) == [
        "--wait=false",
        "delete",
        "pod",
        "web",
        "--context",
        "prod",
    ]
    # A default naming the alias makes kubectl refuse: argv stays as it is.
    assert kuberc.expand(["nuke", "web"], [("nuke", [])], [ALIAS], 37) is None


def test_defaults_match_by_leaf() -> None:
    defaults = [("kuberc view", [("context", "prod")]), ("get pods", [("namespace", "x")])]
    assert kuberc.expand(["config", "view"], defaults, [], 37) == [
        "--context=prod",
        "config",
        "view",
    ]
    assert kuberc.expand(["get", "cm"], defaults, [], 37) == ["--namespace=x", "get", "cm"]
    assert kuberc.expand(["get", "cm", "-nfoo"], defaults, [], 37) is None


KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- {name: dev, cluster: {server: "http://127.0.0.1:9/dev"}}
- {name: prod, cluster: {server: "http://127.0.0.1:9/prod"}}
contexts:
- {name: dev, context: {cluster: dev}}
- {name: prod, context: {cluster: prod}}
current-context: prod
"""


def _env(tmp_path: Path, kuberc_text: str, pin: str | None = None) -> dict[str, str]:
    (tmp_path / "config").write_text(KUBECONFIG)
    (tmp_path / ".kube").mkdir(exist_ok=True)
    (tmp_path / ".kube" / "kuberc").write_text(kuberc_text)
    policy = "rules:\n  - context: prod\n"
    if pin:
        policy += f'kubectl:\n  version: "{pin}"\n'
    (tmp_path / "policy.yaml").write_text(policy)
    return {
        "HOME": str(tmp_path),
        "KUBECONFIG": str(tmp_path / "config"),
        "KUBESAFE_CONFIG": str(tmp_path / "policy.yaml"),
        "PATH": "",
    }


TO_DEV = BETA + "defaults:\n- command: delete\n  options:\n  - {name: context, default: dev}\n"


@pytest.mark.parametrize(("pin", "decision"), [(None, CONFIRM), ("1.37", ALLOW), ("1.31", CONFIRM)])
def test_a_default_to_a_safer_target_counts_only_when_kubectl_reads_it(
    pin: str | None, decision: str, tmp_path: Path
) -> None:
    env = _env(tmp_path, TO_DEV, pin)
    plan = make_plan(["delete", "pod", "web"], env, FileIndex(str(tmp_path / "index")))
    assert plan.decision == decision
    servers = {target.server for target in plan.targets}
    expected = {
        None: {"http://127.0.0.1:9/dev", "http://127.0.0.1:9/prod"},
        "1.37": {"http://127.0.0.1:9/dev"},
        "1.31": {"http://127.0.0.1:9/prod"},
    }
    assert servers == expected[pin]
    report = plan_to_json(plan)
    assert report["kubectl_dependent"] is (pin is None)
    assert ("kuberc" in render_text(plan)) is (pin is None)


def test_unknown_version_keeps_raw_and_expanded_readings(tmp_path: Path) -> None:
    env = _env(tmp_path, TO_DEV)
    files = FileIndex(str(tmp_path / "index"))
    argv = ["delete", "pod", "web"]
    raw_reading = parse(argv)
    both, _ = _with_kuberc(argv, raw_reading, env, files)
    assert [reading.last("context") for reading in both.readings] == ["dev", None]
    only, _ = _with_kuberc(argv, raw_reading, env, files, 37)
    assert [reading.last("context") for reading in only.readings] == ["dev"]
    raw, _ = _with_kuberc(argv, raw_reading, env, files, 32)
    assert [reading.last("context") for reading in raw.readings] == [None]


def test_two_documents_are_not_an_error(tmp_path: Path) -> None:
    text = "apiVersion: v1\nkind: Other\n---\n" + TO_DEV
    env = _env(tmp_path, text, "1.37")
    files = FileIndex(str(tmp_path / "index"))
    assert make_plan(["get", "pods"], env, files).decision == ALLOW
    plan = make_plan(["delete", "pod", "web"], env, files)
    assert plan.decision == ALLOW and plan.resolve_error is None


def test_unreadable_yaml_before_the_used_document_refuses_writes(tmp_path: Path) -> None:
    env = _env(tmp_path, "foo: [\n---\n" + TO_DEV)
    files = FileIndex(str(tmp_path / "index"))
    assert make_plan(["delete", "pod", "web"], env, files).decision == BLOCK
    assert make_plan(["get", "pods"], env, files).decision == ALLOW


def test_help_goes_through_the_plan_for_a_help_alias() -> None:
    assert _local_kubectl(["help", "delete"], parse(["help", "delete"]), {"PATH": ""}) is None


def test_repeated_keys_are_strict_errors_but_merge_keys_are_not() -> None:
    body = "defaults:\n- command: get\n  command: delete\n  options: []\n"
    assert decode((BETA + body).encode())[0][2:4] == (True, [("delete", [])])
    merged = "defaults:\n- &a {command: get}\n- &b {options: []}\n- {<<: *a, <<: *b}\n"
    assert decode((BETA + merged).encode())[0][2:4] == (
        False,
        [("get", []), ("", []), ("get", [])],
    )
    overlap = "defaults:\n- &a {command: get}\n- {command: delete, <<: *a}\n"
    assert decode((BETA + overlap).encode())[0][2:4] == (True, [("get", []), ("get", [])])
