"""The fast block-style scanner against the full parser (PyYAML with kubesafe's loader).

The scanner may give up (None) on anything; whenever it answers, its document must be
exactly what the full parser builds. Fuzzed documents are written in many styles (PyYAML's
own dumps, hand-made indentation, quoting, comments, flow, anchors, several documents) and
then mutated byte by byte, so that invalid YAML is tried too.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubesafe.kubeconfig.parse import KubeconfigError, _loader, extract, parse_bytes
from kubesafe.kubeconfig.scan import scan

TRICKY = [
    "prod",
    "arn:aws:eks:eu-west-1:123456789012:cluster/prod-0",
    "https://10.0.0.1:6443",
    "https://[::1]:6443/k8s/clusters/c-1",
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM=",
    "+xIem3+iXCCyDgsE",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "n",
    "true",
    "false",
    "True",
    "~",
    "null",
    "",
    "123",
    "-7",
    "0x1F",
    "0o17",
    "017",
    "1_000",
    "1:20",
    "1.5",
    "1e5",
    "1.0e-5",
    ".5",
    "+.inf",
    ".nan",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "a: b",
    "#x",
    "x #y",
    "x#y",
    "-x",
    "--region",
    "- x",
    ":x",
    "?x",
    "x:",
    "=",
    "<<",
    "it's",
    'say "hi"',
    "back\\slash",
    "é-ü",
    "tab\there",
    "café",
    "[]",
    "{}",
    "[a]",
    "{a: b}",
    "*alias",
    "&anchor",
    "!tag",
    "|",
    ">",
    "%x",
    "@x",
    "`x",
    "kubesafe",
    "0",
    "00",
    "1a",
    "a1",
    "1.2.3",
    "v1.33.2",
]
KEYS = [
    "name",
    "cluster",
    "context",
    "user",
    "server",
    "namespace",
    "current-context",
    "certificate-authority-data",
    "certificate-authority",
    "tls-server-name",
    "insecure-skip-tls-verify",
    "exec",
    "args",
    "env",
    "command",
    "apiVersion",
    "kind",
    "extensions",
    "extension",
    "preferences",
    "token",
    "yes",
    "1",
    "<<",
    "a b",
    "x.y/z",
]

scalars = st.sampled_from(TRICKY) | st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12
)
keys = st.sampled_from(KEYS)


def documents() -> st.SearchStrategy[Any]:
    leaf = scalars | st.booleans() | st.integers(-5, 5) | st.none()
    tree = st.recursive(
        leaf,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4)
        ),
        max_leaves=25,
    )
    entry = st.fixed_dictionaries(
        {"name": scalars},
        optional={
            "cluster": st.dictionaries(keys, tree, max_size=4),
            "context": st.dictionaries(keys, tree, max_size=4),
            "user": st.dictionaries(keys, tree, max_size=4),
        },
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "apiVersion": st.just("v1"),
            "kind": st.just("Config"),
            "clusters": st.lists(entry, max_size=4),
            "contexts": st.lists(entry, max_size=4),
            "users": st.lists(entry, max_size=4),
            "current-context": scalars,
            "preferences": st.just({}),
            "extra": tree,
        },
    )


def _quote(value: Any, rng: random.Random) -> str:
    if value is None:
        return rng.choice(["", "null", "~"])
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    style = rng.randrange(4)
    if style == 0:
        return "'" + text.replace("'", "''") + "'"
    if style == 1:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text  # plain, whatever that means to YAML


def hand_render(value: Any, rng: random.Random, indent: int = 0, step: int = 2) -> list[str]:
    """Block YAML written the way a person or a shell script might: any step, any quoting."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, child in value.items():
            if isinstance(child, (dict, list)) and child:
                lines.append(f"{pad}{key}:")
                compact = isinstance(child, list) and rng.random() < 0.5
                lines += hand_render(child, rng, indent if compact else indent + step, step)
            else:
                rendered = "{}" if child == {} else "[]" if child == [] else _quote(child, rng)
                lines.append(f"{pad}{key}: {rendered}".rstrip() if rendered else f"{pad}{key}:")
            if rng.random() < 0.1:
                lines.append(pad + rng.choice(["# a comment", "", "   "]))
    elif isinstance(value, list):
        for child in value:
            if isinstance(child, dict) and child:
                inner = hand_render(child, rng, indent + 2, step)
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines += inner[1:]
            elif isinstance(child, list) and child:
                lines.append(f"{pad}-")
                lines += hand_render(child, rng, indent + step, step)
            else:
                rendered = "{}" if child == {} else "[]" if child == [] else _quote(child, rng)
                lines.append(f"{pad}- {rendered}".rstrip())
    else:
        lines.append(pad + _quote(value, rng))
    return lines


def renderings(document: Any, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = [
        yaml.safe_dump(document, sort_keys=False),
        yaml.safe_dump(document, sort_keys=False, indent=4),
        yaml.safe_dump(document, sort_keys=False, default_flow_style=None),
        yaml.safe_dump(document, sort_keys=False, explicit_start=True),
        yaml.safe_dump(document, sort_keys=False, width=20, allow_unicode=True),
        "\n".join(hand_render(document, rng, step=rng.choice([2, 3, 4]))) + "\n",
    ]
    mutated = []
    for text in texts[:2] + texts[-1:]:
        if not text.strip():
            continue
        position = rng.randrange(len(text))
        insert = rng.choice(
            [" ", "\t", "\r", "#", ":", "-", "'", '"', "&a ", "*a", "\n", "  x: y\n"]
        )
        mutated.append(text[:position] + insert + text[position:])
        mutated.append(text[:position] + text[position + 1 :])
    return texts + mutated


def full(content: bytes) -> Any:
    return yaml.load(content, Loader=_loader())


def check(text: str) -> bool:
    """Assert the scanner's promise for one text; True if the scanner answered."""
    content = text.encode("utf-8", "surrogatepass")
    scanned = scan(content)
    if scanned is None:
        return False
    try:
        expected = full(content)
    except yaml.YAMLError:
        pytest.fail(f"the scanner read a document the full parser refuses:\n{text}")
    assert scanned == expected, text
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.integers(0, 2**32))
def test_fuzzed_documents_read_exactly_as_the_full_parser_reads_them(
    document: Any, seed: int
) -> None:
    for text in renderings(document, seed):
        check(text)


def test_the_scanner_answers_for_what_kubectl_writes() -> None:
    text = (
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: LS0tCg==\n"
        "    server: https://10.0.0.1:6443\n  name: prod\ncontexts:\n- context:\n"
        "    cluster: prod\n    namespace: shop\n    user: admin\n  name: prod\n"
        "current-context: prod\nkind: Config\npreferences: {}\nusers:\n- name: admin\n  user:\n"
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      args:\n"
        "      - eks\n      - get-token\n      - --cluster-name\n      - prod\n"
        "      command: aws\n      env: null\n"
    )
    assert check(text)
    assert parse_bytes(text.encode())["contexts"]["prod"][:3] == ("prod", "admin", "shop")


@pytest.mark.parametrize(
    "text",
    [
        "clusters:\n- &a {name: x}\n",
        "contexts:\n- name: a\n  context: {cluster: c}\n",
        "current-context: =\n",
        "current-context: 0123\n",
        "a: |\n  block\n",
        "a: 'it''s'\nb: \"x\\ty\"\n",
        "---\ncurrent-context: a\n---\ncurrent-context: b\n",
        "contexts:\n- name: a\n  context:\n    cluster: c\n   user: u\n",
        "a: b # comment\n",
        "a:\n  multi\n  line\n",
        "\ufeffcurrent-context: a\n",
        "current-context: a\r\n",
        "<<: {a: b}\n",
        "contexts:\n- name: a\n  context:\n    extensions:\n    - name: kubesafe\n"
        '      extension: {"level": "block"}\n',  # a flow mapping, as a person may write it
    ],
)
def test_anything_unusual_is_left_to_the_full_parser(text: str) -> None:
    assert scan(text.encode()) is None


def test_kubesafe_extensions_in_block_style_read_as_the_full_parser_reads_them() -> None:
    text = (
        "contexts:\n- name: prod\n  context:\n    cluster: c\n    user: u\n"
        "    extensions:\n    - name: kubesafe\n      extension:\n        environment: production\n"
        "        level: typed\n        namespaces:\n        - shop\n        - 'kube-*'\n"
        "    - name: other\n      extension: {}\n"
        "clusters:\n- name: c\n  cluster:\n    server: https://10.0.0.1:6443\n"
        "    extensions:\n    - name: kubesafe\n      extension:\n        environment: prod\n"
    )
    assert check(text)
    data = parse_bytes(text.encode())
    assert data["contexts"]["prod"][3] == {
        "environment": "production",
        "level": "typed",
        "namespaces": ["shop", "kube-*"],
    }
    assert data["clusters"]["c"][1] == {"environment": "prod"}


def test_the_terminals_own_file_is_read_by_the_scanner(tmp_path: Any) -> None:
    """Its guard entries once sent it to PyYAML: half a second at a thousand of them."""
    from kubesafe.shell.session import SessionFile, ShadowContext, render_session_file

    contexts = {
        f"ctx-{i}": ShadowContext(f"arn:aws:eks:eu-west-1:1:cluster/c-{i}", f"user-{i}", "", None)
        for i in range(50)
    }
    guarded = {name: f"https://127.0.0.1:41877/{name}-1234" for name in list(contexts)[:40]}
    text = render_session_file(SessionFile("ctx-3", contexts, (), guarded, str(tmp_path)))
    assert check(text)
    data = parse_bytes(text.encode())
    assert data["clusters"]["kubesafe-guard/ctx-7"][1] == {
        "guard": {"context": "ctx-7", "cluster": contexts["ctx-7"].cluster, "user": "user-7"}
    }
    # A copy of a user's own extension is written as JSON (flow style): the full parser's.
    contexts["odd"] = ShadowContext("c", "u", "team-a", {"level": "confirm"})
    text = render_session_file(SessionFile("ctx-3", contexts, (), guarded, str(tmp_path)))
    assert scan(text.encode()) is None
    assert parse_bytes(text.encode())["contexts"]["odd"][3] == {"level": "confirm"}


def test_errors_are_the_full_parsers_own() -> None:
    with pytest.raises(KubeconfigError, match="expected a string"):
        parse_bytes(b"contexts:\n- name: a\n  context:\n    namespace: 123\n")
    with pytest.raises(KubeconfigError, match="is a boolean, expected a string"):
        parse_bytes(b"current-context: yes\n")
    assert scan(b"current-context: yes\n") == {"current-context": True}
    with pytest.raises(KubeconfigError, match='duplicate name "a"'):
        parse_bytes(b"contexts:\n- name: a\n- name: a\n")


def test_a_ten_thousand_context_file_scans_to_the_full_parsers_result() -> None:
    from benchmarks.kubeconfig_write import generate

    content = generate(10_000).encode()
    scanned = scan(content)
    assert scanned is not None
    assert extract(scanned) == extract(full(content))


def test_a_process_parses_each_of_a_few_alternating_files_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A switch in a terminal reads the big file and the terminal's own in turn."""
    from kubesafe.kubeconfig import parse

    calls: list[bytes] = []
    real = parse._parse_uncached

    def counting(content: bytes, memo: Any) -> Any:
        calls.append(content)
        return real(content, memo)

    monkeypatch.setattr(parse, "_parse_uncached", counting)
    files = [f"current-context: c{i}\nkind: Config\n".encode() for i in range(3)]
    for _ in range(3):
        for content in files:
            assert parse.parse_bytes(bytes(content))["current_context"] == content[17:19].decode()
    assert calls == files
    changed = b"current-context: other\n"
    assert parse.parse_bytes(changed)["current_context"] == "other"
    assert calls[-1] == changed
