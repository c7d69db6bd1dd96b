"""kuberc read exactly as kubectl reads it: kubesafe against real kubectl, differentially.

Each case is a kuberc file (hand-written for every rule kubectl's ``pkg/kuberc``
has, then generated from the same building blocks) and a command line. Real
kubectl runs it against a recording fake API server: the first resource request
it sends is the truth for the cluster, namespace and verb. kubesafe's plan, with
the kubectl version pinned, must name that cluster and namespace and call the
command a write whenever kubectl wrote. With the version unknown, kubesafe must
still name kubectl's target among its readings and never allow a write kubectl
sends to the protected context.
"""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubectl.plan import Plan, make_plan
from kubesafe.verdict import ALLOW
from tests.support.fake_apiserver import FakeAPIServer, RecordedRequest

pytestmark = pytest.mark.e2e

CONTEXTS = ("dev", "prod", "stage")
NAMESPACES = ("team-a", "team-b")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Case:
    name: str
    kuberc: str | None
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # False: kubectl 1.37 refuses to start (so kubesafe's reading of it cannot matter).
    reaches: bool = True


def _rc(body: str, version: str = "v1beta1") -> str:
    return f"apiVersion: kubectl.config.k8s.io/{version}\nkind: Preference\n{body}"


IN_PROD = "  - {name: context, default: prod}\n"
DELETE_IN_PROD = _rc(
    "defaults:\n- command: delete\n  options:\n  - {name: context, default: prod}\n"
)
NUKE = _rc(
    "aliases:\n- name: nuke\n  command: delete\n  prependArgs: [pod]\n"
    "  options:\n  - {name: context, default: prod}\n"
)

HAND_WRITTEN = [
    Case("default applies", DELETE_IN_PROD, ["delete", "pod", "web"]),
    Case("explicit flag wins", DELETE_IN_PROD, ["delete", "pod", "web", "--context", "stage"]),
    Case(
        "explicit flag before the verb", DELETE_IN_PROD, ["--context=stage", "delete", "pod", "w"]
    ),
    Case("default on another command", DELETE_IN_PROD, ["label", "pod", "web", "a=b"]),
    Case("alias", NUKE, ["nuke", "web"]),
    Case("alias, explicit flag wins", NUKE, ["nuke", "web", "--context", "dev"]),
    Case(
        "defaults do not apply to an alias",
        _rc(
            "defaults:\n- command: delete\n  options:\n  - {name: context, default: prod}\n"
            "aliases:\n- name: rm\n  command: delete\n  prependArgs: [pod]\n"
        ),
        ["rm", "web"],
    ),
    Case(
        "appendArgs go after --",
        _rc(
            "aliases:\n- name: gp\n  command: get\n  prependArgs: [pods]\n"
            "  appendArgs: [--context, prod]\n"
        ),
        ["gp", "--", "web"],
    ),
    Case(
        "appendArgs without --",
        _rc(
            "aliases:\n- name: lbl\n  command: label\n  prependArgs: [pod]\n"
            "  appendArgs: [--context, prod]\n"
        ),
        ["lbl", "web", "a=b"],
    ),
    Case(
        "wrong apiVersion: the whole kuberc is ignored",
        DELETE_IN_PROD.replace("v1beta1", "v2"),
        ["delete", "pod", "web"],
    ),
    Case(
        "an unquoted boolean: the whole kuberc is ignored",
        DELETE_IN_PROD + "  - name: wait\n    default: true\n",
        ["delete", "pod", "web"],
    ),
    Case(
        "y is a boolean to go-yaml",
        DELETE_IN_PROD + "  - name: wait\n    default: y\n",
        ["delete", "pod", "web"],
    ),
    Case(
        "1e3 is a number to go-yaml",
        DELETE_IN_PROD + "  - name: grace-period\n    default: 1e3\n",
        ["delete", "pod", "web"],
    ),
    Case(
        "v1alpha1 overrides and flags",
        _rc(
            "overrides:\n- command: delete\n  flags:\n  - {name: context, default: prod}\n",
            "v1alpha1",
        ),
        ["delete", "pod", "web"],
    ),
    Case(
        "v1alpha1 ignores v1beta1 field names",
        _rc(
            "overrides:\n- command: delete\n  options:\n  - {name: context, default: prod}\n",
            "v1alpha1",
        ),
        ["delete", "pod", "web"],
    ),
    Case(
        "v1beta1 ignores v1alpha1 field names",
        _rc("overrides:\n- command: delete\n  flags:\n  - {name: context, default: prod}\n"),
        ["delete", "pod", "web"],
    ),
    Case(
        "a default for another leaf (top pod) does not apply",
        _rc("defaults:\n- command: top pod\n  options:\n  - {name: context, default: prod}\n"),
        ["get", "pods"],
    ),
    Case(
        "a default's command is found like cobra's Find (extra words ignored)",
        _rc("defaults:\n- command: get pods\n  options:\n  - {name: context, default: prod}\n"),
        ["get", "configmaps"],
    ),
    Case(
        "a default on a two-word command",
        _rc("defaults:\n- command: rollout restart\n  options:\n" + IN_PROD),
        ["rollout", "restart", "deploy/web"],
    ),
    Case(
        "a default through a command alias",
        _rc("defaults:\n- command: create ns\n  options:\n" + IN_PROD),
        ["create", "namespace", "x"],
    ),
    Case(
        "flags inside an alias's command are ignored",
        _rc("aliases:\n- name: rmp\n  command: delete --context prod\n  prependArgs: [pod]\n"),
        ["rmp", "web"],
    ),
    Case(
        "words inside an alias's command are ignored",
        _rc("aliases:\n- name: gp\n  command: get pods --context prod\n  prependArgs: [cm]\n"),
        ["gp"],
    ),
    Case(
        "--context after -- stops a default",
        _rc("defaults:\n- command: get\n  options:\n  - {name: context, default: prod}\n"),
        ["get", "pods", "--", "--context"],
    ),
    Case(
        "-n anywhere stops a namespace default",
        _rc("defaults:\n- command: get\n  options:\n  - {name: namespace, default: team-b}\n"),
        ["get", "pods", "-nteam-a"],
    ),
    Case(
        "a -in word after -- counts as -n",
        _rc("defaults:\n- command: exec\n  options:\n  - {name: namespace, default: team-b}\n"),
        ["exec", "web", "--", "grep", "-in", "x"],
    ),
    Case(
        "a -it word after -- does not",
        _rc("defaults:\n- command: exec\n  options:\n  - {name: namespace, default: team-b}\n"),
        ["exec", "web", "--", "grep", "-it", "x"],
    ),
    Case(
        "an alias with an empty command is a bare prefix",
        _rc("aliases:\n- name: just\n  command: ''\n  options:\n" + IN_PROD),
        ["just", "delete", "pod", "web"],
    ),
    Case(
        "a namespace default",
        _rc("defaults:\n- command: get\n  options:\n  - {name: namespace, default: team-b}\n"),
        ["get", "pods"],
    ),
    Case(
        "merge keys as go-yaml resolves them",
        _rc(
            "base: &b {name: context, default: prod}\n"
            "defaults:\n- command: delete\n  options:\n  - {default: dev, <<: *b}\n"
        ),
        ["delete", "pod", "web"],
    ),
    Case(
        "an explicit key after a merge wins",
        _rc(
            "base: &b {name: context, default: prod}\n"
            "defaults:\n- command: delete\n  options:\n  - {<<: *b, default: stage}\n"
        ),
        ["delete", "pod", "web"],
    ),
    Case(
        "a key a merge sets twice is a strict error (1.33 then ignores the file)",
        _rc(
            "overrides:\n- &a {command: delete, flags: [{name: context, default: prod}]}\n"
            "- {command: get, <<: *a}\n",
            "v1alpha1",
        ),
        ["delete", "pod", "web"],
    ),
    Case(
        "two documents: the first usable one",
        "apiVersion: v1\nkind: Foo\n---\n" + DELETE_IN_PROD + "---\n" + NUKE,
        ["delete", "pod", "web"],
    ),
    Case(
        "two documents: the second is never read",
        DELETE_IN_PROD
        + "---\n"
        + _rc("defaults:\n- command: get\n  options:\n  - {name: context, default: prod}\n"),
        ["get", "pods"],
    ),
    Case(
        "a bad separator line ends the file",
        "apiVersion: v1\nkind: Foo\n--- x: 1\n" + DELETE_IN_PROD,
        ["delete", "pod", "web"],
    ),
    Case(
        "a bad separator line loses the document before it",
        DELETE_IN_PROD + "---- x\n",
        ["delete", "pod", "web"],
    ),
    Case("KUBECTL_KUBERC empty", DELETE_IN_PROD, ["delete", "pod", "w"], {"KUBECTL_KUBERC": ""}),
    Case("KUBERC=off", DELETE_IN_PROD, ["delete", "pod", "web"], {"KUBERC": "off"}),
    Case(
        "KUBECTL_KUBERC=false",
        DELETE_IN_PROD,
        ["delete", "pod", "web"],
        {"KUBECTL_KUBERC": "false"},
    ),
    Case("KUBERC names the file", None, ["delete", "pod", "web"], {"KUBERC": "{other}"}),
    Case("--kuberc names the file", None, ["--kuberc", "{other}", "delete", "pod", "web"]),
    Case(
        "the first --kuberc wins",
        DELETE_IN_PROD,
        ["--kuberc", "{other}", "delete", "pod", "web", "--kuberc={home}/.kube/kuberc"],
    ),
    Case(
        "KUBERC beats a --kuberc naming the default file",
        None,
        ["--kuberc", "{home}/.kube/kuberc", "delete", "pod", "web"],
        {"KUBERC": "{other}"},
    ),
    Case(
        "KUBERC=off with --kuberc: kubectl refuses",
        DELETE_IN_PROD,
        ["--kuberc", "{other}", "delete", "pod", "web"],
        {"KUBERC": "off"},
        reaches=False,
    ),
    Case(
        "a named kuberc that does not decode: kubectl refuses",
        DELETE_IN_PROD.replace("v1beta1", "v2"),
        ["--kuberc", "{home}/.kube/kuberc", "delete", "pod", "web"],
        reaches=False,
    ),
    Case(
        "an option the command lacks: kubectl refuses",
        _rc("defaults:\n- command: delete\n  options:\n  - {name: no-such-flag, default: x}\n"),
        ["delete", "pod", "web"],
        reaches=False,
    ),
    Case(
        "an invalid alias name: kubectl refuses every command",
        _rc("aliases:\n- name: get-all\n  command: get\n"),
        ["get", "pods"],
        reaches=False,
    ),
    Case("HOME unset: ./.kube/kuberc", DELETE_IN_PROD, ["delete", "pod", "web"], {"HOME": ""}),
    Case(
        "an alias named help",
        _rc(
            "aliases:\n- name: help\n  command: delete\n  prependArgs: [pod]\n"
            "  options:\n  - {name: context, default: prod}\n"
        ),
        ["help", "web"],
    ),
    Case(
        "an alias shadowing a built-in is ignored",
        _rc("aliases:\n- name: get\n  command: delete\n  options:\n" + IN_PROD),
        ["get", "pods"],
    ),
]

OTHER = DELETE_IN_PROD.replace("prod", "stage")

ALIAS_COMMANDS = ("delete", "get", "label", "delete --context stage")
DEFAULT_COMMANDS = ("delete", "get", "label", "get pods", "config view", "top pod")
ARGVS = (
    ["delete", "pod", "web"],
    ["get", "pods"],
    ["label", "pod", "web", "a=b"],
    ["nuke", "web"],
    ["nuke", "web", "-n", "team-b"],
    ["nuke", "web", "--", "x"],
    ["delete", "pod", "web", "--context", "stage"],
    ["get", "pods", "-nteam-b"],
    ["get", "pods", "--", "--context", "stage"],
    ["--context", "stage", "get", "pods"],
    ["nuke"],
)


def _options(rng: random.Random, key: str) -> str:
    lines = []
    for _ in range(rng.choice((1, 1, 2))):
        if rng.random() < 0.6:
            lines.append(f"  - {{name: context, default: {rng.choice(CONTEXTS)}}}")
        else:
            lines.append(f"  - {{name: namespace, default: {rng.choice(NAMESPACES)}}}")
    return f"  {key}:\n" + "\n".join(lines) + "\n"


def _generated(count: int) -> list[Case]:
    rng = random.Random(20261202)
    cases = []
    for index in range(count):
        version = rng.choice(("v1beta1", "v1beta1", "v1alpha1"))
        defaults_key, options_key = (
            ("overrides", "flags") if version == "v1alpha1" else ("defaults", "options")
        )
        if rng.random() < 0.1:
            options_key = "flags" if options_key == "options" else "options"  # ignored field
        body = f"{defaults_key}:\n"
        for _ in range(rng.choice((0, 1, 2))):
            body += f"- command: {rng.choice(DEFAULT_COMMANDS)}\n" + _options(rng, options_key)
        body = body if body != f"{defaults_key}:\n" else ""
        if rng.random() < 0.7:
            body += "aliases:\n- name: nuke\n"
            body += f"  command: {rng.choice(ALIAS_COMMANDS)}\n"
            body += f"  prependArgs: [{rng.choice(('pod', 'pods', 'configmap'))}]\n"
            if rng.random() < 0.4:
                body += (
                    "  appendArgs: "
                    + rng.choice(
                        ("[--context, stage]", "['--', x]", "[-n, team-b]", "[--namespace=team-a]")
                    )
                    + "\n"
                )
            if rng.random() < 0.7:
                body += _options(rng, options_key)
        text = _rc(body, version)
        if rng.random() < 0.1:
            text = "apiVersion: v1\nkind: Other\n---\n" + text
        if rng.random() < 0.05:
            text += "  - {name: wait, default: true}\n" if options_key in text else ""
        argv = list(rng.choice(ARGVS))
        cases.append(Case(f"generated-{index}", text, argv))
    return cases


def _write_config(path: Path, server: FakeAPIServer) -> None:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server.cluster_url(f"c-{name}")}}
            for name in CONTEXTS
        ],
        "contexts": [
            {"name": name, "context": {"cluster": name, "namespace": "team-a"}} for name in CONTEXTS
        ],
        "users": [],
        "current-context": "dev",
    }
    path.write_text(yaml.safe_dump(document))


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAPIServer]:
    with FakeAPIServer() as fake:
        yield fake


def _setup(
    case: Case, tmp_path: Path, server: FakeAPIServer, minor: int
) -> tuple[list[str], dict[str, str], Path]:
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True, exist_ok=True)
    work = tmp_path / "work"
    (work / ".kube").mkdir(parents=True, exist_ok=True)
    _write_config(tmp_path / "config", server)
    other = tmp_path / "other-kuberc"
    other.write_text(OTHER)
    for where in (home / ".kube" / "kuberc", work / ".kube" / "kuberc"):
        if case.kuberc is None:
            where.unlink(missing_ok=True)
        else:
            where.write_text(case.kuberc)
    fill = {"other": str(other), "home": str(home)}
    env = {
        "HOME": str(home),
        "KUBECONFIG": str(tmp_path / "config"),
        "KUBESAFE_CONFIG": str(tmp_path / "policy.yaml"),
        "PATH": "/usr/bin:/bin",
        **({"KUBECTL_KUBERC": "true"} if minor == 33 else {}),
    }
    env.update({k: v.format(**fill) for k, v in case.env.items()})
    if not env["HOME"]:
        del env["HOME"]
    argv = [word.format(**fill) for word in case.argv]
    return argv, env, work


def _kubectl_request(
    binary: Path, argv: list[str], env: dict[str, str], cwd: Path, server: FakeAPIServer
) -> RecordedRequest | None:
    server.clear()
    subprocess.run(
        [str(binary), *argv],
        env={**env, "KUBECACHEDIR": str(cwd / "cache")},
        cwd=cwd,
        capture_output=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    found = server.resource_requests()
    return found[0] if found else None


def _plan(argv: list[str], env: dict[str, str], cwd: Path, tmp_path: Path, pin: str | None) -> Plan:
    policy = "rules:\n  - context: prod\n"
    if pin:
        policy += f'kubectl:\n  version: "{pin}"\n'
    (tmp_path / "policy.yaml").write_text(policy)
    previous = Path.cwd()
    try:
        os.chdir(cwd)  # ./.kube/kuberc when HOME is unset
        return make_plan(argv, env, FileIndex(str(tmp_path / "index")))
    finally:
        os.chdir(previous)


def _check(case: Case, minor: int, binary: Path, tmp_path: Path, server: FakeAPIServer) -> bool:
    argv, env, work = _setup(case, tmp_path, server, minor)
    request = _kubectl_request(binary, argv, env, work, server)
    pinned = _plan(argv, env, work, tmp_path, f"1.{minor}")
    unknown = _plan(argv, env, work, tmp_path, None)
    if request is None:
        return False
    where = f"{case.name}: kubectl {argv} sent {request.method} {request.raw_path}"
    target = pinned.target
    assert target is not None, where
    assert target.server.endswith(f"/{request.prefix}"), f"{where}; kubesafe: {target.server}"
    if request.namespace is not None:
        assert target.namespace == request.namespace, f"{where}; kubesafe: {target.namespace}"
    if request.method in WRITES:
        assert pinned.classification.mutating, f"{where}; kubesafe: {pinned.classification}"
    servers = {(t.server, t.namespace) for t in unknown.targets}
    assert any(s.endswith(f"/{request.prefix}") for s, _ in servers), f"{where}; {servers}"
    if request.method in WRITES and request.prefix == "c-prod":
        assert unknown.decision != ALLOW, where
        assert pinned.decision != ALLOW, where
    return True


@pytest.mark.parametrize("case", HAND_WRITTEN, ids=[case.name for case in HAND_WRITTEN])
def test_hand_written_rules_match_kubectl_137(
    case: Case, tmp_path: Path, server: FakeAPIServer, kubectl37: Path
) -> None:
    reached = _check(case, 37, kubectl37, tmp_path, server)
    assert reached is case.reaches, (
        f"{case.name}: kubectl {'sent nothing' if case.reaches else 'ran'}"
    )


def test_generated_kubercs_match_kubectl_137(
    tmp_path: Path, server: FakeAPIServer, kubectl37: Path
) -> None:
    cases = _generated(60)
    answered = [_check(case, 37, kubectl37, tmp_path, server) for case in cases]
    # Most cases must reach the server, or the comparison proves nothing.
    assert sum(answered) >= len(cases) * 3 // 4


@pytest.mark.parametrize("minor", [33, 31])
def test_older_kubectls_read_kuberc_as_they_do(
    minor: int, tmp_path: Path, server: FakeAPIServer, kubectl33: Path, kubectl31: Path
) -> None:
    binary = kubectl33 if minor == 33 else kubectl31
    cases = HAND_WRITTEN + _generated(25)
    answered = [_check(case, minor, binary, tmp_path, server) for case in cases]
    # Fewer reach the server: to these kubectls an alias is an unknown plugin.
    assert sum(answered) >= len(cases) // 2


@pytest.mark.parametrize(
    ("default_command", "applies"), [("kuberc view", True), ("config view", True), ("get", False)]
)
def test_defaults_match_by_leaf_name(
    default_command: str, applies: bool, tmp_path: Path, server: FakeAPIServer, kubectl37: Path
) -> None:
    """A default for ``kuberc view`` is a default for ``config view``: both are "view"."""
    from kubesafe.kubectl.plan import _with_kuberc

    case = Case("leaf", _rc(f"defaults:\n- command: {default_command}\n  options:\n" + IN_PROD), [])
    argv = ["config", "view", "--minify", "-o", "jsonpath={.contexts[0].name}"]
    _, env, _work = _setup(case, tmp_path, server, 37)
    shown = subprocess.run(
        [str(kubectl37), *argv], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert shown == ("prod" if applies else "dev")
    from kubesafe.kubectl.args import parse

    parsed, _ = _with_kuberc(argv, parse(argv), env, FileIndex(str(tmp_path / "index")), 37)
    assert parsed.primary.last("context") == ("prod" if applies else None)
