"""Which namespaces ``-f`` manifests reach: only what kubectl really puts where -n says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubesafe.kubectl.args import parse
from kubesafe.kubectl.classify import namespaces_reached
from kubesafe.kubectl.manifests import NAMESPACED_KINDS, manifest_namespaces
from kubesafe.kubectl.plan import make_plan
from kubesafe.verdict import ALLOW, CONFIRM
from tests.kubeconfigs import kubeconfig, write

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n"
POD_IN_SHOP = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\n"
DEPLOY_IN_TEAM = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: team}\n"
NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"
BINDING = (
    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
    "metadata: {name: admins}\nroleRef: {kind: ClusterRole, name: cluster-admin, apiGroup: x}\n"
)
ROLE = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\n"
CRD_OBJECT = "apiVersion: example.com/v1\nkind: Pod\nmetadata: {name: x}\n"  # not core's Pod
LIST = "apiVersion: v1\nkind: List\nitems:\n- " + NAMESPACE.replace("\n", "\n  ")


@pytest.mark.parametrize(
    ("files", "argv", "expected"),
    [
        # Namespaced built-ins go to -n (or the context's namespace) unless they name their own.
        ({"p.yaml": POD}, ["apply", "-f", "p.yaml", "-n", "team"], ("team",)),
        ({"p.yaml": POD_IN_SHOP}, ["apply", "-f", "p.yaml"], ("shop",)),
        ({"p.yaml": POD_IN_SHOP}, ["delete", "-f", "p.yaml", "-n", "team"], ("shop",)),
        ({"r.yaml": ROLE}, ["auth", "reconcile", "-f", "r.yaml"], ("team",)),
        (
            {"m.yaml": POD + "---\n" + DEPLOY_IN_TEAM + "--- # end\n" + POD_IN_SHOP},
            ["apply", "-f", "m.yaml"],
            ("shop", "team"),
        ),
        (
            {
                "p.json": '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}\n'
                '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b",'
                ' "namespace": "vault"}}'
            },
            ["apply", "-f", "p.json"],
            ("team", "vault"),
        ),
        (
            {"a.yaml": POD, "b.yaml": POD_IN_SHOP},
            ["apply", "-f", "a.yaml,b.yaml"],
            ("shop", "team"),
        ),
        (
            {"a.yaml": POD, "b.yaml": POD_IN_SHOP},
            ["apply", "-f", "a.yaml", "-f", "b.yaml"],
            ("shop", "team"),
        ),
        ({"p.yaml": "# only a comment\n---\n" + POD}, ["create", "-f", "p.yaml"], ("team",)),
        # Anything -n does not move, or that kubesafe cannot know: any namespace.
        ({"ns.yaml": NAMESPACE}, ["delete", "-f", "ns.yaml", "-n", "team"], None),
        ({"crb.yaml": BINDING}, ["apply", "-f", "crb.yaml", "-n", "team"], None),
        ({"crb.yaml": BINDING}, ["auth", "reconcile", "-f", "crb.yaml", "-n", "team"], None),
        ({"x.yaml": CRD_OBJECT}, ["apply", "-f", "x.yaml", "-n", "team"], None),
        ({"l.yaml": LIST}, ["apply", "-f", "l.yaml", "-n", "team"], None),
        ({"m.yaml": POD + "---\n" + NAMESPACE}, ["apply", "-f", "m.yaml", "-n", "team"], None),
        ({"p.yaml": POD + "items: []\n"}, ["apply", "-f", "p.yaml", "-n", "team"], None),
        ({"p.yaml": "kind: Pod\nmetadata: {name: x}\n"}, ["apply", "-f", "p.yaml"], None),
        ({"p.yaml": "apiVersion: v1\nkind: pod\n"}, ["apply", "-f", "p.yaml"], None),
        ({"p.yaml": POD + "  namespace: 7\n"}, ["apply", "-f", "p.yaml"], None),
        (
            {"p.yaml": "apiVersion: v1\nkind: Pod\nkind: Namespace\n"},
            ["apply", "-f", "p.yaml"],
            None,
        ),
        (
            {"p.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: x\n"},
            ["apply", "-f", "p.yaml"],
            None,
        ),
        ({"p.yaml": POD + "--- !!map\n" + NAMESPACE}, ["apply", "-f", "p.yaml"], None),
        ({"p.yaml": POD + "...\n" + NAMESPACE}, ["apply", "-f", "p.yaml"], None),
        ({"p.yaml": "- " + POD}, ["apply", "-f", "p.yaml"], None),
        ({"p.yaml": POD}, ["apply", "-f", "-", "-n", "team"], None),
        ({"p.yaml": POD}, ["apply", "-f", "missing.yaml", "-n", "team"], None),
        ({"p.yaml": POD}, ["apply", "-f", "*.yaml", "-n", "team"], None),  # kubectl's glob
        ({"p.yaml": POD}, ["apply", "-f", "https://example.com/p.yaml", "-n", "team"], None),
        ({"p.yaml": POD}, ["apply", "-f", "http://example.com/p.yaml", "-n", "team"], None),
        ({"p.yaml": POD}, ["apply", "-k", ".", "-n", "team"], None),
        ({"p.yaml": POD}, ["apply", "-f", "p.yaml", "-k", ".", "-n", "team"], None),
        ({"p.yaml": POD}, ["apply", "-f", '"p.yaml"', "-n", "team"], None),
        ({"p.yaml": POD}, ["apply", "-f", "p.yaml", "--prune", "-l", "a=b"], None),
        ({"p.yaml": POD}, ["delete", "-f", "p.yaml", "--all-namespaces"], None),
        ({"e.yaml": ""}, ["apply", "-f", "e.yaml"], None),  # no objects: kubectl's error
        ({"p.yaml": POD}, ["create", "--edit", "-f", "p.yaml"], None),  # the editor decides
        (
            {"n.yaml": "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n"},
            ["debug", "-f", "n.yaml", "--image=busybox", "-n", "team"],
            None,
        ),
        ({"p.yaml": POD_IN_SHOP}, ["debug", "-f", "p.yaml", "--image=busybox"], ("shop",)),
        ({"p.yaml": POD}, ["create", "-f", "p.yaml", "--edit=false"], ("team",)),
    ],
)
def test_manifest_namespaces(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, str],
    argv: list[str],
    expected: tuple[str, ...] | None,
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    assert namespaces_reached(parse(argv).primary, "team") == expected


def test_directories_like_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.yaml").write_text(POD)
    (tmp_path / "d" / "b.yml").write_text(DEPLOY_IN_TEAM)
    (tmp_path / "d" / "README.md").write_text("not a manifest: kubectl skips it")
    (tmp_path / "d" / "NOTES.YAML").write_text(NAMESPACE)  # extensions are case-sensitive
    (tmp_path / "d" / "yaml").write_text(NAMESPACE)  # no extension at all
    (tmp_path / "d" / "sub" / "c.json").write_text(
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "deep"}}'
    )

    def reach(*argv: str) -> object:
        return namespaces_reached(parse(list(argv)).primary, "dev")

    assert reach("apply", "-f", "d") == ("dev", "team")  # sub/ is skipped without -R
    assert reach("apply", "-f", "d", "-R") == ("deep", "dev", "team")
    assert reach("apply", "-f", "d", "--recursive=false") == ("dev", "team")
    (tmp_path / "d" / "sub" / "ns.yaml").write_text(NAMESPACE)
    assert reach("apply", "-f", "d") == ("dev", "team")
    assert reach("apply", "-f", "d", "-R") is None
    # Go's filepath.Ext(".yaml") is ".yaml": kubectl reads a file called just ".yaml".
    (tmp_path / "d" / ".yaml").write_text(NAMESPACE)
    assert reach("apply", "-f", "d") is None
    (tmp_path / "d" / ".yaml").unlink()
    # A file named explicitly is read whatever its extension.
    assert reach("apply", "-f", "d/README.md") is None
    (tmp_path / "pod.txt").write_text(POD_IN_SHOP)
    assert reach("apply", "-f", "pod.txt") == ("shop",)


def test_an_unreadable_file_reaches_any_namespace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "bad.yaml").write_bytes(b"\xff\xfe not utf-8")
    assert namespaces_reached(parse(["apply", "-f", "d"]).primary, "dev") is None
    (tmp_path / "d" / "bad.yaml").unlink()
    (tmp_path / "d" / "link.yaml").symlink_to(tmp_path / "nowhere")
    assert namespaces_reached(parse(["apply", "-f", "d"]).primary, "dev") is None
    (tmp_path / "d" / "link.yaml").unlink()
    os.mkfifo(tmp_path / "d" / "fifo.yaml")
    assert namespaces_reached(parse(["apply", "-f", "d"]).primary, "dev") is None
    (tmp_path / "d" / "fifo.yaml").unlink()
    (tmp_path / "d" / "p.yaml").write_text(POD)
    assert namespaces_reached(parse(["apply", "-R", "-f", "d"]).primary, "dev") == ("dev",)
    deep = tmp_path / "d" / "/".join(["x"] * 40)
    deep.mkdir(parents=True)
    (deep / "p.yaml").write_text(POD)
    assert namespaces_reached(parse(["apply", "-R", "-f", "d"]).primary, "dev") is None  # too deep


def test_stdin_is_never_read_whatever_its_name(tmp_path: Path) -> None:
    """A manifest piped in must reach kubectl whole: kubesafe reads nothing from stdin."""
    probe = (
        "import sys\n"
        "from kubesafe.kubectl.manifests import manifest_namespaces\n"
        "for name in sys.argv[1:]:\n"
        "    assert manifest_namespaces([name], recursive=False, namespace='dev') is None, name\n"
        "sys.stdout.write(sys.stdin.read())\n"
    )
    names = ["-", "/dev/stdin", "/proc/self/fd/0", "/dev/fd/0"]
    for stdin_kind in ("pipe", "file"):
        source = tmp_path / "piped.yaml"
        source.write_text(POD)
        if stdin_kind == "pipe":
            result = subprocess.run(
                [sys.executable, "-c", probe, *names],
                input=POD,
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            )
        else:
            with source.open() as handle:
                result = subprocess.run(
                    [sys.executable, "-c", probe, *names, str(source)],
                    stdin=handle,
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=30,
                )
        assert result.returncode == 0, result.stderr
        assert result.stdout == POD


def test_yaml_merge_keys_may_override_but_keys_may_not_repeat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(
        "base: &base {namespace: shop, name: a}\napiVersion: v1\nkind: ConfigMap\n"
        "metadata:\n  <<: *base\n  namespace: vault\n"
    )
    assert manifest_namespaces(["m.yaml"], recursive=False, namespace="dev") == ("vault",)
    (tmp_path / "m.yaml").write_text(POD_IN_SHOP + "  namespace: vault\n")
    assert manifest_namespaces(["m.yaml"], recursive=False, namespace="dev") is None


def _client_kinds() -> dict[tuple[str, str], bool]:
    """(group, kind) -> namespaced, for every kind the ``kubernetes`` client can create,
    read from its generated request paths (``/apis/GROUP/VERSION/namespaces/{namespace}/...``)."""
    import inspect
    import re

    import kubernetes.client

    kinds: dict[tuple[str, str], bool] = {}
    for name, api in inspect.getmembers(kubernetes.client, inspect.isclass):
        if not name.endswith("Api") or name in ("ApiClient", "CustomObjectsApi"):
            continue
        for method in dir(api):
            if not (method.startswith("_create_") and method.endswith("_serialize")):
                continue
            found = re.search(r"resource_path='([^']+)'", inspect.getsource(getattr(api, method)))
            public = getattr(api, method[1 : -len("_serialize")] + "_with_http_info")
            model = re.search(r"'20[01]': \"(\w+)\"", inspect.getsource(public))
            assert found is not None and model is not None, method
            path = found.group(1)
            if "{name}" in path:
                continue  # a subresource: not creatable from a manifest
            kind = re.sub(
                r"^(?:[A-Z][a-z]+)*V\d+(?:alpha\d+|beta\d+)?(?=[A-Z])", "", model.group(1)
            )
            parts = path.split("/")
            group = "" if parts[1] == "api" else parts[2]
            kinds[(group, kind)] = "{namespace}" in path
    return kinds


def test_the_table_matches_the_kubernetes_api() -> None:
    kinds = _client_kinds()
    namespaced = {key for key, scoped in kinds.items() if scoped}
    cluster_scoped = {key for key, scoped in kinds.items() if not scoped}
    assert ("", "Pod") in namespaced and ("", "Namespace") in cluster_scoped  # parsed right
    assert namespaced <= NAMESPACED_KINDS, namespaced - NAMESPACED_KINDS
    assert not cluster_scoped & NAMESPACED_KINDS


def test_the_table_holds_only_namespaced_kinds() -> None:
    cluster_scoped = {
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("storage.k8s.io", "StorageClass"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("networking.k8s.io", "IngressClass"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
    }
    assert not cluster_scoped & NAMESPACED_KINDS
    assert {("", "Pod"), ("apps", "Deployment"), ("rbac.authorization.k8s.io", "Role")} <= (
        NAMESPACED_KINDS
    )


def test_manifests_are_read_only_for_writes_a_namespace_rule_may_cover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kubesafe.kubectl.manifests

    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.yaml").write_text(POD)
    config = write(
        tmp_path / "kubeconfig",
        kubeconfig(
            clusters={"c": "https://c.example"}, contexts={"dev": {"cluster": "c"}}, current="dev"
        ),
    )
    env = {"HOME": str(tmp_path), "KUBECONFIG": str(config), "PATH": ""}
    opened: list[list[str]] = []
    real = kubesafe.kubectl.manifests.manifest_namespaces

    def spy(filenames: list[str], *, recursive: bool, namespace: str) -> tuple[str, ...] | None:
        opened.append(filenames)
        return real(filenames, recursive=recursive, namespace=namespace)

    monkeypatch.setattr(kubesafe.kubectl.manifests, "manifest_namespaces", spy)

    def plan(policy: str, *argv: str) -> str:
        (tmp_path / "policy.yaml").write_text(policy)
        return make_plan(
            list(argv), {**env, "KUBESAFE_CONFIG": str(tmp_path / "policy.yaml")}
        ).decision

    narrowed = "rules:\n  - context: dev\n    namespaces: [shop]\n"
    assert plan(narrowed, "get", "-f", "p.yaml", "-n", "team") == ALLOW
    assert plan(narrowed, "__complete", "apply", "-f", "p.yaml", "") == ALLOW
    assert plan("rules:\n  - context: dev\n", "apply", "-f", "p.yaml") == CONFIRM
    assert plan("rules: []\n", "apply", "-f", "p.yaml") == ALLOW
    assert opened == []  # reads, TAB, and rules not narrowed to namespaces read nothing
    assert plan(narrowed, "apply", "-f", "p.yaml", "-n", "team") == ALLOW
    assert plan(narrowed, "apply", "-f", "p.yaml", "-n", "shop") == CONFIRM
    assert opened == [["p.yaml"], ["p.yaml"]]
