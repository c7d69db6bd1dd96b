"""The policy file: parse it (with line numbers) and edit it without losing comments.

Format (YAML), at ``$KUBESAFE_CONFIG`` or ``<user config dir>/kubesafe/config.yaml``::

    rules:
      - context: "prod*"            # glob on the context name
        environment: production     # free name; production/prod get the production defaults
        level: typed                # optional: none | confirm | typed | block, for every write
        namespaces: [payments]      # optional: only these namespaces (globs)
      - context-regex: "^arn:aws:eks:.*:cluster/prod-"
      - server: "https://prod.example.com:6443"   # glob on the API server URL
    environments:                   # optional: default levels per environment
      staging: {write: none, destructive: confirm}

Parsing is the slow path; ``filecache`` keeps the result, which therefore is
made of plain tuples and dicts.
"""

from __future__ import annotations

import os

from kubesafe.policy_location import configured_path

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

LEVELS = ("none", "confirm", "typed", "block")
RULE_KINDS = ("context", "context-regex", "server")
RULE_KEYS = frozenset({*RULE_KINDS, "environment", "level", "namespaces"})
TOP_KEYS = frozenset({"rules", "environments", "aliases", "kubectl", "blast-radius", "guard"})
# The ``guard:`` section (the per-terminal API guard, see docs/guard.md).
GUARD_KEYS = frozenset({"max-lift"})
DEFAULT_MAX_LIFT = 3600.0
# ``environments.<name>.guard``: whether that environment's contexts go through the guard.
GUARD_SWITCH_KEY = "guard"
GUARD_SWITCH = ("on", "off")
# What raises a protected write's level by what it would touch (see kubectl/escalate.py).
BLAST_KEYS = frozenset(
    {"namespace-delete", "volumes", "wide-selection", "objects-over", "objects-level", "timeout"}
)
KUBECTL_KEYS = frozenset(
    {
        "selection",
        "version",
        "default-version",
        "mirror",
        "discovery-timeout",
        "version-ttl",
        "contexts",
    }
)
SELECTIONS = ("minor", "exact", "skew")
CLASS_KEYS = ("write", "destructive")

# (kind, pattern, environment or "", level or "", namespaces, first line, last line)
RuleTuple = tuple[str, str, str, str, tuple[str, ...], int, int]


class PolicyError(Exception):
    """The policy file cannot be used; the message names the line."""


def policy_path(env: Mapping[str, str]) -> str:
    """Where the lookup starts; ``policy.load_policy`` may fall back elsewhere (see
    ``policy_location``), and ``Policy.path`` is the file actually in use."""
    return configured_path(env)


def _scalar_text(node: Any, what: str) -> str:
    import yaml

    if not isinstance(node, yaml.ScalarNode):
        raise PolicyError(f"line {node.start_mark.line + 1}: {what} must be a string")
    value: str = node.value
    return value


def _mapping_items(node: Any, what: str) -> list[tuple[Any, Any]]:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise PolicyError(f"line {node.start_mark.line + 1}: {what} must be a mapping")
    items: list[tuple[Any, Any]] = node.value
    return items


def _level(node: Any, what: str) -> str:
    level = _scalar_text(node, what)
    if level not in LEVELS:
        raise PolicyError(
            f"line {node.start_mark.line + 1}: unknown level '{level}' (use {', '.join(LEVELS)})"
        )
    return level


def _rule(node: Any) -> RuleTuple:
    import yaml

    line = node.start_mark.line + 1
    items = _mapping_items(node, "a rule")
    fields: dict[str, Any] = {}
    for key_node, value_node in items:
        key = _scalar_text(key_node, "a rule key")
        if key not in RULE_KEYS:
            known = ", ".join(sorted(RULE_KEYS))
            raise PolicyError(
                f"line {key_node.start_mark.line + 1}: unknown rule key '{key}' ({known})"
            )
        fields[key] = value_node
    kinds = [kind for kind in RULE_KINDS if kind in fields]
    if len(kinds) != 1:
        raise PolicyError(
            f"line {line}: a rule needs exactly one of context, context-regex, server"
        )
    kind = kinds[0]
    pattern = _scalar_text(fields[kind], kind)
    if not pattern:
        raise PolicyError(f"line {line}: empty {kind} pattern")
    if kind == "context-regex":
        import re

        try:
            re.compile(pattern)
        except re.error as exc:
            raise PolicyError(f"line {line}: invalid regular expression: {exc}") from None
    environment = (
        _scalar_text(fields["environment"], "environment") if "environment" in fields else ""
    )
    level = _level(fields["level"], "level") if "level" in fields else ""
    namespaces: tuple[str, ...] = ()
    if "namespaces" in fields:
        value = fields["namespaces"]
        if isinstance(value, yaml.ScalarNode):
            namespaces = (value.value,)
        elif isinstance(value, yaml.SequenceNode):
            namespaces = tuple(_scalar_text(item, "a namespace") for item in value.value)
        else:
            raise PolicyError(f"line {value.start_mark.line + 1}: namespaces must be a list")
    return (kind, pattern, environment, level, namespaces, line, node.end_mark.line + 1)


def parse_policy(content: bytes) -> dict[str, Any]:
    """Parse the policy file. Raises PolicyError with a line number."""
    import yaml

    try:
        root = yaml.compose(content, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise PolicyError(f"{where}{exc.problem or exc.context or 'invalid YAML'}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(str(exc).splitlines()[0] if str(exc) else "invalid YAML") from None
    rules: list[RuleTuple] = []
    environments: dict[str, dict[str, str]] = {}
    aliases: dict[str, str] = {}
    kubectl: dict[str, Any] = {}
    blast: dict[str, Any] = {}
    guard: dict[str, Any] = {}
    if root is None or (isinstance(root, yaml.ScalarNode) and root.value == ""):
        return {
            "rules": (),
            "environments": {},
            "aliases": {},
            "kubectl": {},
            "blast": {},
            "guard": {},
        }
    for key_node, value_node in _mapping_items(root, "the policy file"):
        key = _scalar_text(key_node, "a top-level key")
        if key not in TOP_KEYS:
            known = ", ".join(sorted(TOP_KEYS))
            raise PolicyError(f"line {key_node.start_mark.line + 1}: unknown key '{key}' ({known})")
        if key == "rules":
            if isinstance(value_node, yaml.ScalarNode) and value_node.tag.endswith(":null"):
                continue
            if not isinstance(value_node, yaml.SequenceNode):
                raise PolicyError(f"line {value_node.start_mark.line + 1}: rules must be a list")
            rules.extend(_rule(item) for item in value_node.value)
        elif key == "environments":
            for name_node, levels_node in _mapping_items(value_node, "environments"):
                name = _scalar_text(name_node, "an environment name")
                levels: dict[str, str] = {}
                for class_node, level_node in _mapping_items(levels_node, f"environment {name}"):
                    klass = _scalar_text(class_node, "write or destructive")
                    if klass == GUARD_SWITCH_KEY:
                        switch = _scalar_text(level_node, "guard").lower()
                        if switch in ("true", "yes"):
                            switch = "on"
                        if switch in ("false", "no"):
                            switch = "off"
                        if switch not in GUARD_SWITCH:
                            raise PolicyError(
                                f"line {level_node.start_mark.line + 1}: guard is on or off"
                            )
                        levels[klass] = switch
                        continue
                    if klass not in CLASS_KEYS:
                        raise PolicyError(
                            f"line {class_node.start_mark.line + 1}: "
                            f"use 'write' or 'destructive', not '{klass}'"
                        )
                    levels[klass] = _level(level_node, klass)
                environments[name] = levels
        elif key == "kubectl":
            kubectl = _kubectl_settings(value_node)
        elif key == "blast-radius":
            blast = _blast_settings(value_node)
        elif key == "guard":
            guard = _guard_settings(value_node)
        else:
            for name_node, alias_node in _mapping_items(value_node, "aliases"):
                aliases[_scalar_text(name_node, "a context name")] = _scalar_text(
                    alias_node, "an alias"
                )
    return {
        "rules": tuple(rules),
        "environments": environments,
        "aliases": aliases,
        "kubectl": kubectl,
        "blast": blast,
        "guard": guard,
    }


def _guard_settings(node: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key_node, value_node in _mapping_items(node, "guard"):
        key = _scalar_text(key_node, "a guard key")
        line = key_node.start_mark.line + 1
        if key not in GUARD_KEYS:
            known = ", ".join(sorted(GUARD_KEYS))
            raise PolicyError(f"line {line}: unknown guard key '{key}' ({known})")
        text = _scalar_text(value_node, key)
        try:
            seconds = parse_duration(text)
        except ValueError:
            raise PolicyError(f"line {line}: max-lift '{text}' is not a duration like 1h") from None
        if seconds <= 0:
            raise PolicyError(f"line {line}: max-lift must be more than 0")
        settings["max-lift"] = seconds
    return settings


def _blast_settings(node: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key_node, value_node in _mapping_items(node, "blast-radius"):
        key = _scalar_text(key_node, "a blast-radius setting")
        line = key_node.start_mark.line + 1
        if key not in BLAST_KEYS:
            known = ", ".join(sorted(BLAST_KEYS))
            raise PolicyError(f"line {line}: unknown blast-radius setting '{key}' ({known})")
        text = _scalar_text(value_node, key)
        if key == "objects-over":
            if not text.isdigit():
                raise PolicyError(f"line {line}: objects-over must be a whole number")
            settings[key] = int(text)
        elif key == "timeout":
            try:
                settings[key] = parse_duration(text)
            except (ValueError, IndexError):
                raise PolicyError(f"line {line}: timeout must be a duration like 2 or 2s") from None
        else:
            settings[key] = _level(value_node, key)
    return settings


def _version_text(node: Any, what: str) -> str:
    text = _scalar_text(node, what).strip()
    parts = text.removeprefix("v").split(".")
    if len(parts) not in (2, 3) or not all(part.isdigit() for part in parts):
        raise PolicyError(
            f"line {node.start_mark.line + 1}: {what} '{text}' is not a version like 1.31 or 1.31.4"
        )
    return text.removeprefix("v")


def parse_duration(text: str) -> float:
    """Seconds in "90", "90s", "30m", "12h" or "2d"; ValueError otherwise."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip()
    factor = units.get(text[-1:], 0)
    number = text[:-1] if factor else text
    value = float(number) * (factor or 1)
    if value < 0:
        raise ValueError(text)
    return value


def _kubectl_settings(node: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key_node, value_node in _mapping_items(node, "kubectl"):
        key = _scalar_text(key_node, "a kubectl setting")
        line = key_node.start_mark.line + 1
        if key not in KUBECTL_KEYS:
            known = ", ".join(sorted(KUBECTL_KEYS))
            raise PolicyError(f"line {line}: unknown kubectl setting '{key}' ({known})")
        if key == "selection":
            value = _scalar_text(value_node, key)
            if value not in SELECTIONS:
                raise PolicyError(f"line {line}: selection must be one of {', '.join(SELECTIONS)}")
            settings[key] = value
        elif key in ("version", "default-version"):
            settings[key] = _version_text(value_node, key)
        elif key == "mirror":
            settings[key] = _scalar_text(value_node, key).rstrip("/")
        elif key in ("discovery-timeout", "version-ttl"):
            try:
                settings[key] = parse_duration(_scalar_text(value_node, key))
            except (ValueError, IndexError):
                raise PolicyError(
                    f"line {line}: {key} must be a duration like 3, 3s, 30m or 12h"
                ) from None
        else:
            settings[key] = {
                _scalar_text(name, "a context name"): _version_text(version, "a pinned version")
                for name, version in _mapping_items(value_node, "kubectl contexts")
            }
    return settings


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rule_text(
    kind: str, pattern: str, environment: str, level: str, namespaces: tuple[str, ...]
) -> str:
    lines = [f"  - {kind}: {_quote(pattern)}"]
    if environment:
        lines.append(f"    environment: {_quote(environment)}")
    if level:
        lines.append(f"    level: {level}")
    if namespaces:
        lines.append(f"    namespaces: [{', '.join(_quote(n) for n in namespaces)}]")
    return "\n".join(lines) + "\n"


def _atomic_write(path: str, text: str) -> None:
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    mode = 0o600
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        pass
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def _last_line(node: Any) -> int:
    """0-based line on which a node's text ends (block collections end with their last child)."""
    import yaml

    children: list[Any] = []
    if isinstance(node, yaml.MappingNode) and not node.flow_style:
        children = [value for _, value in node.value]
    elif isinstance(node, yaml.SequenceNode) and not node.flow_style:
        children = list(node.value)
    if children:
        return _last_line(children[-1])
    mark = node.end_mark
    return int(mark.line if mark.column > 0 else mark.line - 1)


def _rule_spans(text: str) -> tuple[int, list[tuple[int, int]]] | None:
    """(line of "rules:", [(first, end) 0-based line spans of each rule]) for a block list.

    None when there is no block-style ``rules:`` list to edit line by line.
    """
    import yaml

    root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if not isinstance(root, yaml.MappingNode):
        return None
    for key_node, value_node in root.value:
        if key_node.value != "rules":
            continue
        if isinstance(value_node, yaml.ScalarNode):
            return key_node.start_mark.line, []
        if not isinstance(value_node, yaml.SequenceNode) or value_node.flow_style:
            return None
        spans = [(item.start_mark.line, _last_line(item) + 1) for item in value_node.value]
        return key_node.start_mark.line, spans
    return None


def rule_fields(
    kind: str, pattern: str, environment: str, level: str, namespaces: tuple[str, ...]
) -> dict[str, Any]:
    fields: dict[str, Any] = {kind: pattern}
    if environment:
        fields["environment"] = environment
    if level:
        fields["level"] = level
    if namespaces:
        fields["namespaces"] = list(namespaces)
    return fields


def read_rules(path: str) -> tuple[RuleTuple, ...]:
    """The rules in the file as it is now (none when it does not exist); PolicyError if broken."""
    rules: tuple[RuleTuple, ...] = parse_policy(_read_text(path).encode())["rules"]
    return rules


def add_rule(path: str, fields: dict[str, Any]) -> None:
    """Append a rule to the file's ``rules:`` list, keeping everything else as written."""
    text = _read_text(path)
    parse_policy(text.encode())
    if text and not text.endswith("\n"):
        text += "\n"
    kind = next(k for k in RULE_KINDS if k in fields)
    block = rule_text(
        kind,
        fields[kind],
        fields.get("environment", ""),
        fields.get("level", ""),
        tuple(fields.get("namespaces", ())),
    )
    spans = _rule_spans(text)
    if _rules_key_line(text) is None:
        text += "rules:\n" + block
    elif spans is None:
        import yaml

        # A flow-style list cannot be edited line by line: re-emit (comments are lost).
        document = yaml.safe_load(text) or {}
        document["rules"] = [*(document.get("rules") or []), fields]
        text = yaml.safe_dump(document, sort_keys=False)
    else:
        lines = text.splitlines(keepends=True)
        key_line, rule_spans = spans
        if not rule_spans:
            lines[key_line] = "rules:\n"
            lines.insert(key_line + 1, block)
        else:
            lines.insert(rule_spans[-1][1], block)
        text = "".join(lines)
    parse_policy(text.encode())
    _atomic_write(path, text)


def remove_rules(path: str, pattern: str) -> int:
    """Delete every rule whose pattern is ``pattern``; returns how many."""
    text = _read_text(path)
    parsed = parse_policy(text.encode())
    doomed = {index for index, r in enumerate(parsed["rules"]) if r[1] == pattern}
    if not doomed:
        return 0
    spans = _rule_spans(text)
    if spans is None:
        import yaml

        document = yaml.safe_load(text) or {}
        document["rules"] = [
            r for i, r in enumerate(document.get("rules") or []) if i not in doomed
        ]
        text = yaml.safe_dump(document, sort_keys=False)
    else:
        lines = text.splitlines(keepends=True)
        for index in sorted(doomed, reverse=True):
            first, end = spans[1][index]
            del lines[first:end]
        text = "".join(lines)
    parse_policy(text.encode())
    _atomic_write(path, text)
    return len(doomed)


def _rules_key_line(text: str) -> int | None:
    for number, line in enumerate(text.splitlines()):
        if line.startswith("rules") and line[5:].lstrip().startswith(":"):
            return number
    return None
