"""Read one kubeconfig file into the few values target resolution needs.

This is the slow path (PyYAML); ``kubeconfig_cache`` keeps its results so the
shim only lands here when a file changed. The checks follow client-go's
loader, which turns YAML into JSON and decodes that case-sensitively into
typed structs: a number or boolean where a string belongs, a mapping where a
list belongs, or a name used twice in one list makes kubectl refuse the file,
so it makes kubesafe refuse it too. Credentials are never extracted.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True

if TYPE_CHECKING:
    from typing import Any, TypedDict

    class FileData(TypedDict):
        current_context: str
        # context name -> (cluster, user, namespace, kubesafe extension or None)
        contexts: dict[str, tuple[str, str, str, Any]]
        # cluster name -> (server, kubesafe extension or None)
        clusters: dict[str, tuple[str, Any]]
        users: tuple[str, ...]


class KubeconfigError(Exception):
    """A kubeconfig (or the set of them) that kubectl would refuse; one line."""


EXTENSION_NAME = "kubesafe"

_loader_class: Any = None


def _loader() -> Any:
    """A PyYAML loader that resolves plain scalars the way go-yaml v2 does.

    Differences from SafeLoader that matter for kubeconfigs: timestamps stay
    strings (client-go accepts ``namespace: 2001-12-14``), and ``y``/``n``
    are booleans (client-go refuses them where a string is expected).
    """
    global _loader_class
    if _loader_class is not None:
        return _loader_class
    import re

    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class GoLikeLoader(base):  # type: ignore[misc, valid-type]
        pass

    resolvers: dict[Any, list[tuple[str, Any]]] = {}
    for first, entries in base.yaml_implicit_resolvers.items():
        kept = [(tag, rx) for tag, rx in entries if tag != "tag:yaml.org,2002:timestamp"]
        if kept:
            resolvers[first] = kept

    def flatten_mapping(self: Any, node: Any) -> None:
        # go-yaml applies a merge key ("<<") where it stands: later keys win, so a
        # merged value overrides an explicit key written before it (PyYAML would let
        # the explicit key win). In a merged list, earlier mappings win.
        merged: list[tuple[Any, Any]] = []
        for key, value in node.value:
            if key.tag != "tag:yaml.org,2002:merge":
                merged.append((key, value))
                continue
            sources = (
                list(reversed(value.value)) if isinstance(value, yaml.SequenceNode) else [value]
            )
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise KubeconfigError(
                        f"line {source.start_mark.line + 1}: a merge key (<<) needs a mapping"
                    )
                self.flatten_mapping(source)
                merged.extend(source.value)
        node.value = merged

    GoLikeLoader.flatten_mapping = flatten_mapping
    GoLikeLoader.yaml_implicit_resolvers = resolvers
    GoLikeLoader.bool_values = {**base.bool_values, "y": True, "n": False}
    GoLikeLoader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN")
    )
    _loader_class = GoLikeLoader
    return GoLikeLoader


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _string(value: object, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise KubeconfigError(f"{where} is {_describe(value)}, expected a string")


def _mapping(value: object, where: str) -> dict[Any, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise KubeconfigError(f"{where} is {_describe(value)}, expected a mapping")


def _list(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise KubeconfigError(f"{where} is {_describe(value)}, expected a list")


def _plain(value: Any) -> Any:
    """JSON-like copy of an extension value (dates and such become strings)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value)


def _extension(body: dict[Any, Any], where: str) -> Any:
    found: Any = None
    for index, entry in enumerate(_list(body.get("extensions"), f"{where}.extensions")):
        item = _mapping(entry, f"{where}.extensions[{index}]")
        if _string(item.get("name"), f"{where}.extensions[{index}].name") == EXTENSION_NAME:
            found = _plain(item.get("extension"))
    return found


def _named(document: dict[Any, Any], key: str, body_key: str) -> list[tuple[str, dict[Any, Any]]]:
    entries: list[tuple[str, dict[Any, Any]]] = []
    seen: set[str] = set()
    for index, raw in enumerate(_list(document.get(key), key)):
        item = _mapping(raw, f"{key}[{index}]")
        name = _string(item.get("name"), f"{key}[{index}].name")
        if name in seen:
            raise KubeconfigError(f'duplicate name "{name}" in {key}')
        seen.add(name)
        entries.append((name, _mapping(item.get(body_key), f"{key}[{index}].{body_key}")))
    return entries


def extract(document: object) -> FileData:
    """Validate a parsed kubeconfig document and keep what resolution needs."""
    top = _mapping(document, "the document")
    contexts: dict[str, tuple[str, str, str, Any]] = {}
    for name, body in _named(top, "contexts", "context"):
        where = f'context "{name}"'
        contexts[name] = (
            _string(body.get("cluster"), f"{where} cluster"),
            _string(body.get("user"), f"{where} user"),
            _string(body.get("namespace"), f"{where} namespace"),
            _extension(body, where),
        )
    clusters: dict[str, tuple[str, Any]] = {}
    for name, body in _named(top, "clusters", "cluster"):
        where = f'cluster "{name}"'
        clusters[name] = (_string(body.get("server"), f"{where} server"), _extension(body, where))
    users = tuple(name for name, _ in _named(top, "users", "user"))
    return {
        "current_context": _string(top.get("current-context"), "current-context"),
        "contexts": contexts,
        "clusters": clusters,
        "users": users,
    }


def _first_document(content: bytes) -> Any:
    loader = _loader()(content)
    try:
        return loader.construct_document(loader.get_node()) if loader.check_node() else None
    finally:
        loader.dispose()


def parse_bytes(content: bytes) -> FileData:
    """Parse kubeconfig YAML (UTF-8, or UTF-16 with a BOM); errors carry a line number.

    Only the first YAML document counts, as for client-go (go-yaml decodes the
    first document and never looks further): a trailing ``---``, a second
    document, even a broken one, change nothing, and an empty first document
    is an empty kubeconfig.
    """
    import yaml

    try:
        document = _first_document(content)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise KubeconfigError(f"{where}{problem}") from None
    except yaml.YAMLError as exc:
        raise KubeconfigError(str(exc).splitlines()[0] if str(exc) else "invalid YAML") from None
    except RecursionError:
        raise KubeconfigError("document nested too deeply") from None
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise KubeconfigError(f"cannot be parsed: {exc}") from None
    return extract(document)
