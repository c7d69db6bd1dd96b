"""The command table, through the same plan() the shim uses, with flags in every place."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubesafe.classification import DESTRUCTIVE, LOCAL, READ, WRITE
from kubesafe.kubectl.args import parse
from kubesafe.kubectl.classify import COMMAND_TABLE, classify
from kubesafe.kubectl.plan import make_plan
from kubesafe.kubectl.table import COMMANDS
from kubesafe.verdict import ALLOW, BLOCK, CONFIRM
from tests.kubeconfigs import kubeconfig, write

R, W, D, L = READ, WRITE, DESTRUCTIVE, LOCAL

# (command words with their own arguments, expected class). Words before "|" are
# the command path, so that global flags can be placed between them.
CASES: list[tuple[str, str]] = [
    ("get | pods", R),
    ("get | pods -o yaml", R),
    ("get | --raw /api/v1/namespaces", R),
    ("describe | pod web-0", R),
    ("logs | web-0 -f --tail 10", R),
    ("top pod |", R),
    ("top node |", R),
    ("events |", R),
    ("wait | --for=condition=Ready pod/web-0", R),
    ("explain | pods.spec", R),
    ("diff | -f app.yaml", R),
    ("port-forward | pod/web-0 8080:80", R),
    ("cluster-info |", R),
    ("cluster-info dump |", R),
    ("api-resources |", R),
    ("api-versions |", R),
    ("auth can-i | delete pods", R),
    ("auth whoami |", R),
    ("rollout status | deploy/web", R),
    ("rollout history | deploy/web", R),
    ("apply view-last-applied | deploy/web", R),
    ("label | pods web-0 --list", R),
    ("annotate | pods web-0 --list", R),
    ("label | --local -f pod.yaml tier=web -o yaml", R),
    ("set image | --local -f deploy.yaml web=nginx:2 -o yaml", R),
    ("version |", R),
    ("apply | -f app.yaml --dry-run", R),
    ("apply | -f app.yaml --dry-run=client", R),
    ("apply | -f app.yaml --dry-run=server", R),
    ("apply | -f app.yaml --dry-run=true", R),
    # Go's strconv.ParseBool spellings of true are client dry runs too.
    ("apply | -f app.yaml --dry-run=1", R),
    ("apply | -f app.yaml --dry-run=t", R),
    ("delete | pod web-0 --dry-run=T", R),
    ("scale | deploy/web --replicas=0 --dry-run=True", R),
    ("create configmap | x --dry-run=TRUE", R),
    ("apply | -f app.yaml --dry-run=0", W),
    ("apply | -f app.yaml --dry-run=f", W),
    ("apply | -f app.yaml --dry-run=F", W),
    ("apply | -f app.yaml --dry-run=False", W),
    ("apply | -f app.yaml --dry-run=FALSE", W),
    ("delete | pod web-0 --dry-run=false", D),
    ("apply | -f app.yaml --dry-run=yes", W),  # kubectl rejects it; a newer one might not
    ("apply | -f app.yaml --dry-run=Client", W),
    ("delete | pod web-0 --dry-run=server", R),
    ("drain | node-1 --dry-run=client", R),
    ("apply | -f app.yaml", W),
    ("apply | -f app.yaml --dry-run=none", W),
    ("apply | -f app.yaml --dry-run=false", W),
    ("apply set-last-applied | -f app.yaml", W),
    ("apply edit-last-applied | deploy/web", W),
    ("create deployment | web --image=nginx", W),
    ("create deploy | web --image nginx", W),
    ("create namespace | team", W),
    ("create secret generic | s --from-literal=a=b", W),
    ("create token | default", W),
    ("create | --raw /api/v1/namespaces -f ns.json", W),
    ("edit | deploy/web", W),
    ("patch | deploy web -p {}", W),
    ("replace | -f app.yaml", W),
    ("scale | deploy/web --replicas=3", W),
    ("scale | deploy/web --replicas 2", W),
    ("autoscale | deploy web --max=5", W),
    ("rollout restart | deploy/web", W),
    ("rollout undo | deploy/web", W),
    ("rollout pause | deploy/web", W),
    ("rollout resume | deploy/web", W),
    ("label | pods web-0 tier=web", W),
    ("annotate | pods web-0 note=x --overwrite", W),
    ("set image | deploy/web web=nginx:2", W),
    ("set env | deploy/web A=b", W),
    ("set resources | deploy/web --limits=cpu=1", W),
    ("taint | nodes node-1 k=v:NoSchedule", W),
    ("cordon | node-1", W),
    ("uncordon | node-1", W),
    ("expose | deploy web --port 80", W),
    ("run | debug --image=busybox", W),
    ("certificate approve | csr-1", W),
    ("certificate deny | csr-1", W),
    ("auth reconcile | -f rbac.yaml", W),
    ("exec | web-0 -- ls", W),
    ("exec | -it web-0 -- sh", W),
    ("exec | --dry-run web-0 -- rm -rf /", W),
    ("attach | web-0 -it", W),
    ("cp | web-0:/tmp/a ./a", W),
    ("debug | web-0 -it --image=busybox", W),
    ("proxy | --port 8001", W),
    ("delete | pod web-0", D),
    ("delete | ns prod-data", D),
    ("delete | --raw /api/v1/namespaces/x", D),
    ("delete | --raw /api/v1/namespaces/x --dry-run=server", D),
    ("create | --raw /api/v1/namespaces -f ns.json --dry-run=server", W),
    ("replace | --raw /api/v1/namespaces/x -f ns.json --dry-run", W),
    ("create | --edit -f ns.json --dry-run=server", W),
    ("create | foo --dry-run=server", W),
    ("create | foo --help", W),
    ("delete | pods --all --dry-run=none", D),
    ("drain | node-1 --ignore-daemonsets", D),
    ("replace | --force -f app.yaml", D),
    ("apply | --prune -l app=web -f dir/", D),
    ("apply | --force -f app.yaml", D),
    ("scale | deploy/web --replicas=0", D),
    ("scale | deploy/web --replicas 0", D),
    ("delete | --help", L),
    ("help delete |", L),
    ("completion bash |", L),
    ("config view |", L),
    ("config get-contexts |", L),
    ("config current-context |", L),
    ("config use-context | prod", L),
    ("version | --client", L),
    ("kustomize | overlays/prod", L),
    ("plugin list |", L),
    ("options |", L),
    ("alpha |", L),
    ("rollout |", L),
    ("config |", L),
    # A word after a command group that kubesafe does not know: a newer kubectl's command.
    ("alpha | frobnicate pods", W),
    ("auth | frobnicate", W),
    ("certificate | frobnicate csr-1", W),
    ("config | frobnicate prod", W),
    ("rollout | frobnicate deploy/web", W),
    ("plugin | frobnicate", W),
    ("top | frobnicate", W),
    ("kuberc | frobnicate", W),
    # kuberc is a plugin name before kubectl 1.35; no kubectl here, so its version is unknown.
    ("kuberc view |", W),
    ("kuberc set | --section defaults --command get --option output=wide", W),
]

PLUGIN_CASES = ["ctx prod", "oidc-login get-token", "frobnicate everything"]


def _argv(case: str, flags: list[str], where: str) -> list[str]:
    path_part, _, rest = case.partition("|")
    path = path_part.split()
    args = rest.split()
    if where == "before":
        return [*flags, *path, *args]
    if where == "between":
        return [*path[:1], *flags, *path[1:], *args]
    if "--" in args:  # after the command's own words, but still before "--"
        cut = args.index("--")
        return [*path, *args[:cut], *flags, *args[cut:]]
    return [*path, *args, *flags]


FLAG_FORMS = [["--context", "{ctx}"], ["--context={ctx}"]]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    config = write(
        tmp_path / "kubeconfig",
        kubeconfig(
            clusters={"prod": "https://prod.example:6443", "dev": "https://dev.example:6443"},
            contexts={"prod": {"cluster": "prod"}, "dev": {"cluster": "dev"}},
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
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


EXPECTED_ON_PROD = {R: ALLOW, L: ALLOW, W: CONFIRM, D: CONFIRM}
EXPECTED_LEVEL_ON_PROD = {R: "none", L: "none", W: "confirm", D: "typed"}


@pytest.mark.parametrize(("case", "expected"), CASES)
@pytest.mark.parametrize("where", ["before", "between", "after"])
@pytest.mark.parametrize("form", range(len(FLAG_FORMS)))
def test_class_and_decision_with_flags_anywhere(
    world: dict[str, str], case: str, expected: str, where: str, form: int
) -> None:
    for context, protected in (("prod", True), ("dev", False)):
        flags = [f.format(ctx=context) for f in FLAG_FORMS[form]]
        argv = _argv(case, flags, where)
        plan = make_plan(argv, world)
        assert plan.classification.category == expected, (argv, plan.classification)
        if expected == LOCAL:
            continue
        assert plan.target is not None and plan.target.context == context, argv
        if protected:
            assert plan.decision == EXPECTED_ON_PROD[expected], (argv, plan.decision_reason)
            assert plan.level == EXPECTED_LEVEL_ON_PROD[expected], argv
        else:
            assert plan.decision == ALLOW, argv


@pytest.mark.parametrize("case", PLUGIN_CASES)
def test_plugins_and_unknown_commands_are_writes(world: dict[str, str], case: str) -> None:
    argv = [*case.split(), "--context", "prod"]
    plan = make_plan(argv, world)
    assert plan.classification.category == WRITE
    assert plan.decision == CONFIRM


def test_completion_passes_through_even_on_prod(world: dict[str, str]) -> None:
    for words in (
        ["__complete", "delete", "pod", ""],
        ["__completeNoDesc", "--context", "prod", "delete", ""],
    ):
        plan = make_plan([*words, "--context", "prod"], world)
        assert plan.classification.category == LOCAL and plan.decision == ALLOW
        assert plan.targets == ()  # not even resolved: TAB must stay instant


def test_every_kubectl_command_is_in_the_audited_table() -> None:
    families = {"create", "set"}
    missing = [
        path
        for path in COMMANDS
        if path not in COMMAND_TABLE and path.split(" ")[0] not in families
    ]
    assert missing == []


def test_unknown_flag_before_the_verb_cannot_hide_a_protected_target(world: dict[str, str]) -> None:
    # --frobnicate may or may not take a value; one reading targets prod, so prod's rule applies.
    plan = make_plan(["--frobnicate", "--context", "prod", "delete", "ns", "x"], world)
    assert plan.parsed.ambiguous
    assert plan.decision == CONFIRM and plan.level == "typed"


WRITE_CASES = [c for c, e in CASES if e in (W, D)]


@given(
    case=st.sampled_from(WRITE_CASES),
    where=st.sampled_from(["before", "between", "after"]),
    extra=st.lists(
        st.sampled_from(
            [
                ["-v", "6"],
                ["--as", "admin"],
                ["-n", "kube-system"],
                ["--request-timeout", "5s"],
                ["--insecure-skip-tls-verify"],
                ["--as-group", "g"],
                ["--cache-dir", "/tmp"],
            ]
        ),
        max_size=3,
    ),
    spelling=st.sampled_from([["--context", "prod"], ["--context=prod"]]),
)
@settings(max_examples=300, deadline=None)
def test_property_writes_on_prod_are_never_allowed(
    tmp_path_factory: pytest.TempPathFactory,
    case: str,
    where: str,
    extra: list[list[str]],
    spelling: list[str],
) -> None:
    directory = tmp_path_factory.mktemp("prop")
    config = write(
        directory / "kubeconfig",
        kubeconfig(clusters={"p": "https://p"}, contexts={"prod": {"cluster": "p"}}),
    )
    policy = write(directory / "policy.yaml", "rules:\n  - context: prod\n")
    env = {
        "HOME": str(directory),
        "KUBECONFIG": str(config),
        "KUBESAFE_CONFIG": str(policy),
        "PATH": "",
    }
    flags = [*spelling, *[w for group in extra for w in group]]
    plan = make_plan(_argv(case, flags, where), env)
    assert plan.decision != ALLOW


def test_classify_direct_modifiers() -> None:
    assert classify(parse(["apply", "-f", "x", "--dry_run=server"]).primary).category == READ
    assert classify(parse(["scale", "deploy/x", "--replicas=0x0"]).primary).category == DESTRUCTIVE
    assert classify(parse(["version", "--client=false"]).primary).category == READ
    assert classify(parse(["get", "pods", "--help"]).primary).category == LOCAL
    assert classify(parse(["get", "pods", "-n", "-h"]).primary).category == READ  # -h is -n's value


def test_decision_block_for_unresolvable_writes(world: dict[str, str]) -> None:
    plan = make_plan(["--context", "nope", "delete", "pod", "x"], world)
    assert plan.decision == BLOCK and "cannot tell where this write goes" in plan.decision_reason
    read = make_plan(["--context", "nope", "get", "pods"], world)
    assert read.decision == ALLOW


def test_a_commands_own_user_flag_is_not_the_kubeconfig_user(world: dict[str, str]) -> None:
    plan = make_plan(["create", "rolebinding", "rb", "--clusterrole=view", "--user=alice"], world)
    assert plan.resolve_error is None and plan.target is not None
    assert plan.target.user == "" and plan.decision == ALLOW


@pytest.mark.parametrize(
    ("words", "version", "expected"),
    [
        ("kuberc view", (1, 37), L),
        ("kuberc set --section defaults --command get --option output=wide", (1, 35), L),
        ("kuberc", (1, 37), L),
        ("kuberc view", (1, 34), W),  # kubectl-kuberc, a plugin, runs
        ("kuberc view --help", (1, 33), W),  # the plugin gets --help and does what it likes
        ("kuberc view", None, W),
        ("kuberc frobnicate", (1, 37), W),
        ("config view", None, L),
    ],
)
def test_kuberc_is_a_command_only_from_kubectl_1_35(
    words: str, version: tuple[int, int] | None, expected: str
) -> None:
    assert classify(parse(words.split()).primary, version).category == expected


def _cached_kubectl(cache: Path, tag: str) -> None:
    binary = cache / "kubectl" / tag / "kubectl"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)


@pytest.mark.parametrize(("tag", "expected"), [("v1.37.1", L), ("v1.33.9", W)])
def test_kuberc_follows_the_version_of_the_kubectl_that_will_run(
    world: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tag: str,
    expected: str,
) -> None:
    from kubesafe.versions.server_cache import ServerVersions

    cache = tmp_path / "cache"
    monkeypatch.setenv("KUBESAFE_CACHE_DIR", str(cache))
    _cached_kubectl(cache, tag)
    versions = ServerVersions()
    versions.record("https://prod.example:6443", tag)  # remembered and fresh
    versions.save()
    plan = make_plan(["kuberc", "view", "--context", "prod"], world)
    assert plan.choice.version == tag
    assert plan.classification.category == expected, plan.classification
    assert plan.decision == (ALLOW if expected == L else CONFIRM)
    # Not remembered (or expired): the shim asks the server after deciding and may run
    # another kubectl, so the version is not known at decision time.
    stale = make_plan(["kuberc", "view", "--context", "dev"], world)
    assert stale.choice.stale and stale.classification.category == W


def test_an_unknown_word_after_any_command_group_is_a_write() -> None:
    """A newer kubectl's subcommand of any group must not pass as the group's help."""
    parents = {path.rsplit(" ", 1)[0] for path in COMMANDS if " " in path}
    # cluster-info runs itself with extra words as arguments (kubectl never fails on them).
    for parent in sorted(parents - {"cluster-info"}):
        reading = parse([*parent.split(), "frobnicate", "x"]).primary
        assert classify(reading).category == WRITE, parent
    assert classify(parse(["cluster-info", "frobnicate"]).primary).category == READ
