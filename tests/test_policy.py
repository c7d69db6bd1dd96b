from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubeconfig.resolve import Target
from kubesafe.kubectl.plan import make_plan
from kubesafe.policy import load_policy, normalize_server, protection
from kubesafe.policy_file import add_rule, parse_policy, remove_rules, rule_fields
from kubesafe.verdict import ALLOW, BLOCK, CONFIRM
from tests.kubeconfigs import kubeconfig, write

PROD_URL = "https://api.prod.example:6443"


def target(
    context: str = "prod", server: str = PROD_URL, namespace: str = "default", **kw: object
) -> Target:
    return Target(
        context=context,
        cluster="c",
        user="u",
        server=server,
        namespace=namespace,
        kubeconfig=(),
        **kw,
    )  # type: ignore[arg-type]


def policy_from(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = write(tmp_path / "policy.yaml", text)
    return load_policy({"KUBESAFE_CONFIG": str(path)}, FileIndex(str(tmp_path / "cache")))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [\n", "line 2"),
        ("rules:\n  - context: prod\n    levle: typed\n", "line 3: unknown rule key 'levle'"),
        ("rules:\n  - context: prod\n    level: maybe\n", "line 3: unknown level 'maybe'"),
        ("rules:\n  - environment: production\n", "line 2: a rule needs exactly one of"),
        ("rules:\n  - context-regex: '('\n", "line 2: invalid regular expression"),
        ("rules: prod\n", "line 1: rules must be a list"),
        ("rulez: []\n", "line 1: unknown key 'rulez'"),
        ("environments:\n  staging: {writes: confirm}\n", "line 2: use 'write' or 'destructive'"),
    ],
)
def test_broken_policy_names_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    policy = policy_from(tmp_path, text)
    assert policy.error is not None and message in policy.error
    assert str(tmp_path / "policy.yaml") in policy.error


def test_production_defaults(tmp_path: Path) -> None:
    policy = policy_from(tmp_path, "rules:\n  - context: prod\n")
    write_level = protection(
        policy, target(), mutating=True, destructive=False, namespaces=("default",)
    )
    destructive = protection(
        policy, target(), mutating=True, destructive=True, namespaces=("default",)
    )
    read = protection(policy, target(), mutating=False, destructive=False, namespaces=("default",))
    assert (write_level.level, destructive.level, read.level) == ("confirm", "typed", "none")
    assert write_level.environment == "production" and read.protected


def test_explicit_level_applies_to_every_write(tmp_path: Path) -> None:
    policy = policy_from(tmp_path, "rules:\n  - context: 'prod*'\n    level: block\n")
    found = protection(policy, target("prod-eu"), mutating=True, destructive=False, namespaces=None)
    assert found.level == "block"


def test_other_environments_and_configured_defaults(tmp_path: Path) -> None:
    policy = policy_from(
        tmp_path,
        "rules:\n  - context: stage\n    environment: staging\n"
        "  - context: qa\n    environment: qa\n"
        "environments:\n  qa: {write: confirm, destructive: block}\n",
    )
    stage = [
        protection(policy, target("stage"), mutating=True, destructive=d, namespaces=None).level
        for d in (False, True)
    ]
    qa = [
        protection(policy, target("qa"), mutating=True, destructive=d, namespaces=None).level
        for d in (False, True)
    ]
    assert stage == ["none", "confirm"] and qa == ["confirm", "block"]


def test_server_rule_catches_an_innocent_context_name(tmp_path: Path) -> None:
    policy = policy_from(tmp_path, "rules:\n  - server: 'HTTPS://API.PROD.EXAMPLE:6443/'\n")
    found = protection(
        policy, target("dev-looking"), mutating=True, destructive=False, namespaces=None
    )
    assert found.level == "confirm"
    other = protection(
        policy,
        target("dev", server="https://dev:6443"),
        mutating=True,
        destructive=False,
        namespaces=None,
    )
    assert other.level == "none"


def test_normalize_server() -> None:
    assert normalize_server("HTTPS://Api.Example:443/") == "https://api.example"
    assert normalize_server("http://x:80/path/") == "http://x/path"
    assert normalize_server("https://x:6443") == "https://x:6443"


def test_regex_rule(tmp_path: Path) -> None:
    policy = policy_from(
        tmp_path, "rules:\n  - context-regex: '^arn:aws:eks:[^:]+:\\d+:cluster/prod-'\n"
    )
    eks = "arn:aws:eks:eu-west-1:123456789012:cluster/prod-main"
    assert (
        protection(policy, target(eks), mutating=True, destructive=False, namespaces=None).level
        == "confirm"
    )
    assert not protection(
        policy, target("prod-main"), mutating=True, destructive=False, namespaces=None
    ).protected


def test_namespace_rules_in_a_shared_cluster(tmp_path: Path) -> None:
    policy = policy_from(
        tmp_path,
        "rules:\n  - context: shared\n    environment: staging\n    namespaces: [staging]\n"
        "    level: confirm\n",
    )

    def level(namespaces: tuple[str, ...] | None) -> str:
        return protection(
            policy, target("shared"), mutating=True, destructive=False, namespaces=namespaces
        ).level

    assert level(("dev",)) == "none"
    assert level(("staging",)) == "confirm"
    assert level(None) == "confirm"  # -A, manifests without -n, cluster-scoped objects


def test_strictest_rule_wins(tmp_path: Path) -> None:
    policy = policy_from(
        tmp_path,
        "rules:\n  - context: '*'\n    environment: dev\n    level: none\n"
        "  - context: prod\n    level: typed\n  - server: '*prod*'\n    level: confirm\n",
    )
    found = protection(policy, target(), mutating=True, destructive=False, namespaces=None)
    assert (
        found.level == "typed" and found.deciding is not None and found.deciding.pattern == "prod"
    )


def test_kubeconfig_extensions_protect(tmp_path: Path) -> None:
    policy = policy_from(tmp_path, "")
    tagged = target("anything", context_extension={"environment": "production"})
    assert (
        protection(policy, tagged, mutating=True, destructive=True, namespaces=None).level
        == "typed"
    )
    cluster_tagged = target("x", cluster_extension={"environment": "staging", "level": "block"})
    assert (
        protection(policy, cluster_tagged, mutating=True, destructive=False, namespaces=None).level
        == "block"
    )
    # A malformed tag still protects, at the production defaults.
    broken = target("y", context_extension={"level": "sometimes"})
    assert (
        protection(policy, broken, mutating=True, destructive=False, namespaces=None).level
        == "confirm"
    )


def test_policy_location_honours_xdg_and_override(tmp_path: Path, isolated_home: Path) -> None:
    xdg = write(isolated_home / ".config" / "kubesafe" / "config.yaml", "rules:\n  - context: a\n")
    env = {"HOME": str(isolated_home), "XDG_CONFIG_HOME": str(isolated_home / ".config")}
    assert load_policy({**os.environ, **env}, FileIndex(str(tmp_path / "c"))).path == str(xdg)
    other = write(tmp_path / "other.yaml", "rules: []\n")
    assert load_policy({"KUBESAFE_CONFIG": str(other)}, FileIndex(str(tmp_path / "c"))).path == str(
        other
    )


def test_another_tools_dotfile_is_ignored(tmp_path: Path, isolated_home: Path) -> None:
    write(isolated_home / ".kubesafe.yaml", "contexts:\n  - prod\n")
    policy = load_policy(dict(os.environ), FileIndex(str(tmp_path / "c")))
    assert policy.rules == () and policy.error is None


def test_rule_edits_keep_comments_and_order(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "# my policy\nrules:\n  # the big one\n  - context: prod\n    level: typed\n\n"
        "aliases:\n  long-name: short  # keep me\n"
    )
    add_rule(str(path), rule_fields("server", "https://x", "staging", "", ("a", "b")))
    text = path.read_text()
    assert "# my policy" in text and "# the big one" in text and "# keep me" in text
    rules = parse_policy(text.encode())["rules"]
    assert [r[1] for r in rules] == ["prod", "https://x"]
    assert rules[1][4] == ("a", "b")
    assert remove_rules(str(path), "prod") == 1
    text = path.read_text()
    assert "# keep me" in text and "level: typed" not in text
    assert [r[1] for r in parse_policy(text.encode())["rules"]] == ["https://x"]
    assert remove_rules(str(path), "nothing") == 0


def test_rule_edits_on_missing_and_flow_style_files(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "policy.yaml"
    add_rule(str(path), rule_fields("context", "prod", "", "", ()))
    assert [r[1] for r in parse_policy(path.read_bytes())["rules"]] == ["prod"]
    flow = tmp_path / "flow.yaml"
    flow.write_text("rules: [{context: a}, {context: b}]\n")
    add_rule(str(flow), rule_fields("context", "c", "", "", ()))
    assert remove_rules(str(flow), "a") == 1
    assert [r[1] for r in parse_policy(flow.read_bytes())["rules"]] == ["b", "c"]


def test_quotes_in_patterns_survive(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    add_rule(str(path), rule_fields("context", 'we"ird: [x]', "", "", ()))
    assert parse_policy(path.read_bytes())["rules"][0][1] == 'we"ird: [x]'


@pytest.fixture
def env_with(tmp_path: Path):  # type: ignore[no-untyped-def]
    config = write(
        tmp_path / "kubeconfig",
        kubeconfig(
            clusters={"p": PROD_URL, "d": "https://dev:6443"},
            contexts={"prod": {"cluster": "p"}, "dev": {"cluster": "d"}},
            current="dev",
        ),
    )

    def make(policy_text: str) -> dict[str, str]:
        policy = write(tmp_path / "policy.yaml", policy_text)
        return {
            "HOME": str(tmp_path),
            "KUBECONFIG": str(config),
            "KUBESAFE_CONFIG": str(policy),
            "PATH": "",
        }

    return make


def test_broken_policy_refuses_writes_everywhere_but_allows_reads(env_with) -> None:  # type: ignore[no-untyped-def]
    env = env_with("rules:\n  - context: prod\n    level: [\n")
    write_plan = make_plan(["delete", "pod", "x", "--context", "dev"], env)
    assert write_plan.decision == BLOCK and "policy file" in write_plan.decision_reason
    assert "line" in write_plan.decision_reason and not write_plan.overridable
    assert make_plan(["get", "pods"], env).decision == ALLOW


def test_namespace_reach_through_plan(env_with, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = env_with("rules:\n  - context: dev\n    namespaces: [staging]\n    level: confirm\n")
    pod = write(tmp_path / "pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n")
    namespace = write(
        tmp_path / "ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: staging}\n"
    )

    def decision(*argv: str) -> str:
        return make_plan(list(argv), env).decision

    assert decision("delete", "pod", "x", "-n", "dev-1") == ALLOW
    assert decision("delete", "pod", "x", "-n", "staging") == CONFIRM
    assert decision("delete", "pods", "--all", "-A") == CONFIRM
    assert decision("apply", "-f", str(tmp_path / "missing.yaml"), "-n", "dev-1") == CONFIRM
    assert decision("apply", "-f", str(pod), "-n", "dev-1") == ALLOW  # a Pod goes to -n
    assert decision("apply", "-f", str(pod), "-n", "staging") == CONFIRM
    assert (
        decision("delete", "-f", str(namespace), "-n", "dev-1") == CONFIRM
    )  # -n moves no Namespace
    assert decision("apply", "-k", str(tmp_path), "-n", "dev-1") == CONFIRM
    assert decision("delete", "ns", "staging") == CONFIRM
    assert decision("delete", "ns", "other") == ALLOW
    assert decision("delete", "namespace/staging") == CONFIRM
    assert decision("delete", "clusterrole", "x", "-n", "dev-1") == CONFIRM
    assert decision("drain", "node-1") == CONFIRM
    for node in ("node/n1", "nodes/n1", "no/n1", "Node/n1", "nodes.v1./n1"):
        # kubectl debug node/... runs a privileged pod on the node: not one namespace's affair
        assert decision("debug", node, "-n", "dev-1", "--image=busybox") == CONFIRM, node
    assert decision("debug", "web-0", "-n", "dev-1", "--image=busybox") == ALLOW
    assert decision("debug", "pod/web-0", "-n", "dev-1", "--image=busybox") == ALLOW
    assert decision("debug", "po/web-0", "-n", "staging", "--image=busybox") == CONFIRM
    assert decision("delete", "ipaddress", "x", "-n", "dev-1") == CONFIRM  # not known as namespaced
    assert decision("delete", "clusterissuers.cert-manager.io", "x", "-n", "dev-1") == CONFIRM
    # A custom resource named like a built-in one may be cluster-scoped.
    assert decision("delete", "roles.iam.example.com", "admin", "-n", "dev-1") == CONFIRM
    assert decision("delete", "deployments.example.com/web", "-n", "dev-1") == CONFIRM
    assert decision("delete", "deployments.apps", "web", "-n", "dev-1") == ALLOW
    assert decision("delete", "deploy.v1.apps/web", "pods.v1./x", "-n", "dev-1") == ALLOW
    assert (
        decision("delete", "--raw", "/api/v1/namespaces/staging/pods/x", "-n", "dev-1") == CONFIRM
    )
    assert decision("cp", "./f", "staging/pod1:/tmp/f", "-n", "dev-1") == CONFIRM
    assert decision("cp", "./f", "pod1:/tmp/f", "-n", "dev-1") == ALLOW
    assert decision("proxy", "-n", "dev-1") == CONFIRM
    assert decision("certificate", "approve", "csr-1", "-n", "dev-1") == CONFIRM
    assert (
        decision("create", "clusterrole", "r", "--verb=get", "--resource=pods", "-n", "dev-1")
        == CONFIRM
    )
    assert decision("delete", "deploy/web", "pod/x", "-n", "dev-1") == ALLOW


def test_a_context_rule_also_protects_its_cluster_and_server(tmp_path: Path) -> None:
    config = write(
        tmp_path / "kubeconfig",
        kubeconfig(
            clusters={"p": PROD_URL, "d": "https://dev:6443"},
            contexts={
                "prod": {"cluster": "p"},
                "dev": {"cluster": "d"},
                "sandbox": {"cluster": "p"},
            },
            current="dev",
        ),
    )
    policy = write(tmp_path / "policy.yaml", "rules:\n  - context: prod\n")
    env = {
        "HOME": str(tmp_path),
        "KUBECONFIG": str(config),
        "KUBESAFE_CONFIG": str(policy),
        "PATH": "",
    }

    def decision(*argv: str) -> str:
        return make_plan(list(argv), env).decision

    assert decision("delete", "ns", "x") == ALLOW  # dev
    assert decision("--cluster", "p", "delete", "ns", "x") == CONFIRM
    assert decision("-s", "HTTPS://API.PROD.EXAMPLE:6443/", "delete", "ns", "x") == CONFIRM
    assert decision("--context", "sandbox", "delete", "ns", "x") == CONFIRM
    plan = make_plan(["--context", "sandbox", "delete", "ns", "x"], env)
    assert plan.protection.deciding is not None
    assert "via context 'prod'" in plan.protection.deciding.source


def test_blast_radius_settings_parse_and_reach_the_policy(tmp_path: Path) -> None:
    text = (
        "rules:\n  - context: prod\n"
        "blast-radius:\n  namespace-delete: block\n  volumes: confirm\n"
        "  objects-over: 50\n  objects-level: typed\n  timeout: 3s\n"
    )
    assert parse_policy(text.encode())["blast"] == {
        "namespace-delete": "block",
        "volumes": "confirm",
        "objects-over": 50,
        "objects-level": "typed",
        "timeout": 3.0,
    }
    path = write(tmp_path / "policy.yaml", text)
    policy = load_policy({"KUBESAFE_CONFIG": str(path)}, FileIndex())
    assert policy.blast["namespace-delete"] == "block"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "blast-radius:\n  namespaces: typed\n",
            "line 2: unknown blast-radius setting 'namespaces'",
        ),
        ("blast-radius:\n  volumes: loud\n", "line 2: unknown level 'loud'"),
        ("blast-radius:\n  objects-over: many\n", "line 2: objects-over must be a whole number"),
        ("blast-radius:\n  timeout: soon\n", "line 2: timeout must be a duration"),
    ],
)
def test_blast_radius_mistakes_name_the_line(text: str, message: str) -> None:
    from kubesafe.policy_file import PolicyError

    with pytest.raises(PolicyError, match=message):
        parse_policy(text.encode())
