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
        # cluster name -> (CA data digest, CA file as written, tls-server-name, insecure)
        cluster_tls: dict[str, tuple[str, str, str, bool]]
        # digest of clusters and cluster_tls: what the endpoint index is keyed on
        clusters_digest: bytes
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


def go_yaml_loader() -> Any:
    """The go-yaml-like PyYAML loader, for other files kubectl reads (kuberc)."""
    return _loader()


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
    cluster_tls: dict[str, tuple[str, str, str, bool]] = {}
    for name, body in _named(top, "clusters", "cluster"):
        where = f'cluster "{name}"'
        clusters[name] = (_string(body.get("server"), f"{where} server"), _extension(body, where))
        cluster_tls[name] = _tls(body)
    users = tuple(name for name, _ in _named(top, "users", "user"))
    import marshal

    from kubesafe.digest import blake2b

    clusters_digest = blake2b(
        marshal.dumps((clusters, cluster_tls), 2),
        digest_size=16,  # 2: no back-references
    ).digest()
    return {
        "current_context": _string(top.get("current-context"), "current-context"),
        "contexts": contexts,
        "clusters": clusters,
        "cluster_tls": cluster_tls,
        "clusters_digest": clusters_digest,
        "users": users,
    }


def file_problem(path: str, problem: object) -> str:
    """The one wording of a kubeconfig file kubectl would refuse, wherever it is reported."""
    return f"kubeconfig {path}: {problem}"


def yaml_problem(exc: Any, content: bytes) -> str:
    """A YAML error as kubectl words it: go-yaml v2's line number and message.

    go-yaml counts lines from 0 for parser errors and from 1 for scanner errors,
    and says no line at all when the one it picked is 0; PyYAML's marks are
    libyaml's, like go-yaml's, so the same rule gives kubectl's number.
    """
    import yaml

    problem: str = exc.problem or exc.context or "invalid YAML"
    if isinstance(exc, yaml.composer.ComposerError) and problem.startswith("found undefined alias"):
        return f"unknown anchor '{_alias_at(exc.problem_mark, content)}' referenced"
    problem_line = exc.problem_mark.line if exc.problem_mark is not None else 0
    context_line = exc.context_mark.line if exc.context_mark is not None else 0
    line = 0
    if problem_line:
        line = problem_line + 1 if isinstance(exc, yaml.scanner.ScannerError) else problem_line
    elif context_line:
        line = context_line
    return f"line {line}: {problem}" if line else problem


def _alias_at(mark: Any, content: bytes) -> str:
    """The anchor name of the ``*alias`` at ``mark``."""
    try:
        text: str = content.decode("utf-8-sig").splitlines()[mark.line][mark.column :]
    except (UnicodeDecodeError, IndexError, AttributeError):
        return ""
    name = text.removeprefix("*")
    for index, char in enumerate(name):
        if char.isspace() or char in ",[]{}":
            return name[:index]
    return name


def _tls(body: dict[Any, Any]) -> tuple[str, str, str, bool]:
    """What ties a cluster entry to its API server besides the URL (public data only)."""
    from kubesafe.endpoint import ca_digest_of

    data, path, name = (
        body.get(key)
        for key in ("certificate-authority-data", "certificate-authority", "tls-server-name")
    )
    digest = ""
    if isinstance(data, str) and data.strip():
        import base64
        import binascii

        try:
            digest = ca_digest_of(base64.b64decode("".join(data.split()), validate=True))
        except (binascii.Error, ValueError):
            digest = ca_digest_of(data.encode("utf-8", "replace"))
    return (
        digest,
        path if isinstance(path, str) else "",
        name if isinstance(name, str) else "",
        body.get("insecure-skip-tls-verify") is True,
    )


def _first_document(content: bytes) -> Any:
    loader = _loader()(content)
    try:
        return loader.construct_document(loader.get_node()) if loader.check_node() else None
    finally:
        loader.dispose()


def parse_bytes(content: bytes, memo: dict[bytes, Any] | None = None) -> FileData:
    """Parse kubeconfig YAML (UTF-8, or UTF-16 with a BOM); errors carry a line number.

    Block-style files (nearly all) are read by the fast scanner; ``memo`` (kept by the
    caller per file) lets unchanged top-level sections skip even that. Anything the
    scanner does not read goes to the full parser.
    """
    for seen, result in _parsed:
        if seen == content:
            return result  # one process reads the same files on several paths
    result = _parse_uncached(content, memo)
    _remember(content, result)
    return result


# The last few files parsed in this process: a switch in an integrated terminal reads the
# big kubeconfig and the terminal's own file (which the scanner leaves to PyYAML) in turn.
_parsed: list[tuple[bytes, FileData]] = []
_PARSED_KEPT = 4


def _remember(content: bytes, result: FileData) -> None:
    _parsed.insert(0, (content, result))
    del _parsed[_PARSED_KEPT:]


def _parse_uncached(content: bytes, memo: dict[bytes, Any] | None) -> FileData:
    if memo is not None:
        from kubesafe.kubeconfig.sections import parse_sections

        sectioned = parse_sections(content, memo)
        if sectioned is not None:
            return sectioned
    from kubesafe.kubeconfig.scan import scan

    scanned = scan(content)
    if scanned is not None:
        return extract(scanned)
    import yaml

    try:
        document = _first_document(content)
    except yaml.MarkedYAMLError as exc:
        raise KubeconfigError(yaml_problem(exc, content)) from None
    except yaml.YAMLError as exc:
        raise KubeconfigError(str(exc).splitlines()[0] if str(exc) else "invalid YAML") from None
    except RecursionError:
        raise KubeconfigError("document nested too deeply") from None
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise KubeconfigError(f"cannot be parsed: {exc}") from None
    return extract(document)

