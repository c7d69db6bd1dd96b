"""Decode a kuberc file the way kubectl's scheme decoder does (the slow path, PyYAML).

kubectl splits the file into YAML documents at ``---`` lines, turns each into
JSON with go-yaml v2's scalar rules, and decodes it into a typed
``Preference``: a number or boolean where a string belongs, or a mapping where
a list belongs, makes that document unusable (kubectl then tries the next
one). Unknown fields and repeated keys are only "strict" errors: the document
is still used. This module reports every document; ``kuberc`` picks the one a
given kubectl version uses. The result is plain data so that the parsed-file
cache can keep it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from kubesafe.kubeconfig.parse import KubeconfigError, go_yaml_loader

GROUP = "kubectl.config.k8s.io"

# Document records (one per non-empty document, in file order):
#   ("fatal", message)        kubectl stops reading here (a bad "---" line)
#   ("syntax", message)       PyYAML cannot read it: go-yaml might, so nobody can tell
#   ("unusable", message)     kubectl skips it (wrong apiVersion/kind, wrong types)
#   ("preference", version, strict, defaults, aliases)
# defaults: [(command, [(name, default)])]
# aliases:  [(name, command, prependArgs, appendArgs, [(name, default)])]
Document = tuple[Any, ...]

# go-yaml v2 (which sigs.k8s.io/yaml uses) resolves plain scalars with these rules.
_GO_BOOL = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), True),
    **dict.fromkeys(("on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE"), False),
    **dict.fromkeys(("off", "Off", "OFF"), False),
}
_GO_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_GO_SPECIAL_FLOAT = frozenset(
    {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}
    | {"-.inf", "-.Inf", "-.INF"}
)
_GO_INT = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)\Z")
_GO_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_GO_FLOAT_DOT = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?\Z")

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_NUMBER = "tag:yaml.org,2002:float"


def go_scalar_tag(value: str) -> str:
    """The tag go-yaml v2 gives a plain (unquoted) scalar."""
    if value in _GO_BOOL:
        return "tag:yaml.org,2002:bool"
    if value in _GO_NULL:
        return "tag:yaml.org,2002:null"
    if value == "<<":
        return _MERGE
    if value in _GO_SPECIAL_FLOAT:
        return _NUMBER
    first = value[0]
    if first == ".":
        return _NUMBER if _GO_FLOAT_DOT.match(value) else _STR
    if first.isdigit() or first in "+-":
        plain = value.replace("_", "")
        if _GO_INT.match(plain) or _GO_FLOAT.match(plain):
            return _NUMBER
    return _STR


_loader_class: Any = None


def _loader() -> Any:
    global _loader_class
    if _loader_class is not None:
        return _loader_class
    base = go_yaml_loader()

    class KubercLoader(base):  # type: ignore[misc, valid-type]
        duplicate_keys = False

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is yaml.ScalarNode and implicit[0]:
                return go_scalar_tag(value)
            return super().resolve(kind, value, implicit)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            # go-yaml's strict mode also reports a key that a merge sets twice.
            self.flatten_mapping(node)
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    if key_node.value in seen:
                        self.duplicate_keys = True
                    seen.add(key_node.value)
            return super().construct_mapping(node, deep=deep)

    def construct_bool(loader: Any, node: Any) -> bool:
        return _GO_BOOL.get(node.value, True)

    def construct_number(loader: Any, node: Any) -> float:
        # Only "not a string" matters to a kuberc; the value itself never does.
        return 0.0

    KubercLoader.add_constructor("tag:yaml.org,2002:bool", construct_bool)
    KubercLoader.add_constructor(_NUMBER, construct_number)
    _loader_class = KubercLoader
    return KubercLoader


def split_documents(content: bytes) -> tuple[list[bytes], str | None]:
    """apimachinery's YAMLReader: a line that starts with ``---`` ends a document.

    Only a comment may follow the ``---``; anything else is an error that ends
    the reading (the second value, after the documents before it).
    """
    documents: list[bytes] = []
    current: list[bytes] = []
    for line in content.splitlines(keepends=True):
        if line.startswith(b"---"):
            rest = line[3:].strip()
            if rest and not rest.startswith(b"#"):
                kept = [document for document in documents if document.strip()]
                return kept, f"invalid YAML document separator: {rest.decode(errors='replace')}"
            documents.append(b"".join(current))
            current = []
            continue
        current.append(line)
    documents.append(b"".join(current))
    return [document for document in documents if document.strip()], None


class _Unusable(Exception):
    pass


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else type(value).__name__


def _string(value: object, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise _Unusable(f"{where} is {_describe(value)}, expected a string")


def _list(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise _Unusable(f"{where} is {_describe(value)}, expected a list")


def _object(value: object, where: str, fields: frozenset[str]) -> tuple[dict[str, Any], bool]:
    """A JSON object's known fields (case-sensitive, as kubectl decodes) and whether
    it had unknown ones (a strict error only)."""
    if value is None:
        return {}, False
    if not isinstance(value, dict):
        raise _Unusable(f"{where} is {_describe(value)}, expected a mapping")
    known: dict[str, Any] = {}
    unknown = False
    for key, item in value.items():
        if isinstance(key, (dict, list)):
            raise _Unusable(f"{where} has a key that is {_describe(key)}")
        if isinstance(key, str) and key in fields:
            known[key] = item
        else:
            unknown = True
    return known, unknown


_OPTION_FIELDS = frozenset({"name", "default"})


def _options(value: object, where: str) -> tuple[list[tuple[str, str]], bool]:
    options: list[tuple[str, str]] = []
    strict = False
    for index, raw in enumerate(_list(value, where)):
        item, unknown = _object(raw, f"{where}[{index}]", _OPTION_FIELDS)
        strict = strict or unknown
        options.append(
            (
                _string(item.get("name"), f"{where}[{index}].name"),
                _string(item.get("default"), f"{where}[{index}].default"),
            )
        )
    return options, strict


def _strings(value: object, where: str) -> list[str]:
    return [_string(item, f"{where}[{i}]") for i, item in enumerate(_list(value, where))]


def _type_meta(top: dict[Any, Any]) -> tuple[str, str]:
    """apiVersion and kind as apimachinery finds them (encoding/json: case-insensitive
    keys, the last of sorted JSON keys winning)."""
    found = {"apiversion": "", "kind": ""}
    for key in sorted(str(k) for k in top if isinstance(k, str)):
        folded = key.lower()
        if folded in found:
            found[folded] = _string(top[key], key)
    return found["apiversion"], found["kind"]


def _preference(document: object) -> Document:
    if not isinstance(document, dict):
        raise _Unusable(
            f"the document is {_describe(document) if document is not None else 'empty'}"
        )
    api_version, kind = _type_meta(document)
    if not kind:
        raise _Unusable("kind is missing")
    group, _, version = api_version.rpartition("/")
    if group != GROUP or version not in ("v1alpha1", "v1beta1") or kind != "Preference":
        raise _Unusable(f'no kind "{kind}" is registered for version "{api_version}"')
    defaults_key, options_key = (
        ("overrides", "flags") if version == "v1alpha1" else ("defaults", "options")
    )
    top_fields = {"apiVersion", "kind", defaults_key, "aliases"}
    if version == "v1beta1":
        top_fields |= {"credentialPluginPolicy", "credentialPluginAllowlist"}
    body, strict = _object(document, "the document", frozenset(top_fields))
    defaults: list[tuple[str, list[tuple[str, str]]]] = []
    for index, raw in enumerate(_list(body.get(defaults_key), defaults_key)):
        where = f"{defaults_key}[{index}]"
        entry, unknown = _object(raw, where, frozenset({"command", options_key}))
        options, loose = _options(entry.get(options_key), f"{where}.{options_key}")
        defaults.append((_string(entry.get("command"), f"{where}.command"), options))
        strict = strict or unknown or loose
    aliases: list[tuple[str, str, list[str], list[str], list[tuple[str, str]]]] = []
    alias_fields = frozenset({"name", "command", "prependArgs", "appendArgs", options_key})
    for index, raw in enumerate(_list(body.get("aliases"), "aliases")):
        where = f"aliases[{index}]"
        entry, unknown = _object(raw, where, alias_fields)
        options, loose = _options(entry.get(options_key), f"{where}.{options_key}")
        aliases.append(
            (
                _string(entry.get("name"), f"{where}.name"),
                _string(entry.get("command"), f"{where}.command"),
                _strings(entry.get("prependArgs"), f"{where}.prependArgs"),
                _strings(entry.get("appendArgs"), f"{where}.appendArgs"),
                options,
            )
        )
        strict = strict or unknown or loose
    if version == "v1beta1":
        _string(body.get("credentialPluginPolicy"), "credentialPluginPolicy")
        allowlist = _list(body.get("credentialPluginAllowlist"), "credentialPluginAllowlist")
        for index, raw in enumerate(allowlist):
            where = f"credentialPluginAllowlist[{index}]"
            entry, unknown = _object(raw, where, frozenset({"name", "command"}))
            _string(entry.get("name"), f"{where}.name")
            _string(entry.get("command"), f"{where}.command")
            strict = strict or unknown
    return ("preference", version, strict, defaults, aliases)


def _document(chunk: bytes) -> Document:
    loader = _loader()(chunk)
    try:
        try:
            data = loader.get_data() if loader.check_data() else None
        finally:
            loader.dispose()
    except yaml.constructor.ConstructorError as exc:
        return ("unusable", str(exc.problem or exc).splitlines()[0])
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        return ("syntax", f"{where}{exc.problem or exc.context or 'invalid YAML'}")
    except (yaml.YAMLError, KubeconfigError, RecursionError, ValueError, TypeError) as exc:
        return ("syntax", str(exc).splitlines()[0] if str(exc) else "invalid YAML")
    try:
        found = _preference(data)
    except _Unusable as exc:
        return ("unusable", str(exc))
    if loader.duplicate_keys:
        found = (*found[:2], True, *found[3:])
    return found


def decode(content: bytes) -> list[Document]:
    """Every non-empty document of a kuberc file, as kubectl would decode it.

    A ``("fatal", message)`` record stands where kubectl stops reading the file.
    """
    chunks, fatal = split_documents(content)
    documents = [_document(chunk) for chunk in chunks]
    return documents if fatal is None else [*documents, ("fatal", fatal)]
