"""kubectl's kuberc preferences: aliases and flag defaults that change the real command.

kubectl 1.34+ (1.33 with ``KUBECTL_KUBERC=true``) reads ``--kuberc FILE``, else
``$KUBERC`` (``off`` disables it), else ``~/.kube/kuberc``. Its ``defaults``
add flags to a command unless given explicitly, and its ``aliases`` expand a
new word into a command with arguments and flags. Either can name another
context, kubeconfig or ``--raw`` request, so kubesafe applies them to argv
before deciding anything. ``KUBECTL_KUBERC=false`` turns kuberc off. Whether
the kubectl that runs is old enough to ignore it cannot be known here, so
kubesafe assumes it is read (the stricter view).
"""

from __future__ import annotations

import os

from kubesafe.kubeconfig.cache import FileIndex, FileReadError

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from kubesafe.kubectl.args import Reading

# (command words, [(flag, default)]) per default; (name, command words, prepend, append,
# [(flag, default)]) per alias
Defaults = list[tuple[tuple[str, ...], list[tuple[str, str]]]]
Aliases = dict[str, tuple[tuple[str, ...], list[str], list[str], list[tuple[str, str]]]]


class KubercError(Exception):
    """A kuberc file that cannot be read; its effect on commands is unknown."""


def kuberc_path(reading: Reading, env: Mapping[str, str]) -> str | None:
    if env.get("KUBECTL_KUBERC", "").lower() == "false":
        return None
    explicit = reading.last("kuberc")
    if explicit:
        return explicit
    variable = env.get("KUBERC", "")
    if variable:
        return None if variable == "off" else variable
    home = env.get("HOME", "")
    return os.path.join(home, ".kube", "kuberc") if home else None


def _options(entry: dict[str, Any], where: str) -> list[tuple[str, str]]:
    options = entry.get("options") or []
    if not isinstance(options, list):
        raise KubercError(f"{where}: options must be a list")
    found: list[tuple[str, str]] = []
    for option in options:
        if not isinstance(option, dict) or not isinstance(option.get("name"), str):
            raise KubercError(f"{where}: every option needs a name")
        default = option.get("default", "")
        found.append((option["name"], "" if default is None else str(default)))
    return found


def _words(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise KubercError(f"{where} must be a list")
    return [str(item) for item in value]


def parse_kuberc(content: bytes) -> dict[str, Any]:
    import yaml

    try:
        document = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        raise KubercError(str(exc).splitlines()[0]) from None
    if document is None:
        return {"defaults": [], "aliases": {}}
    if not isinstance(document, dict):
        raise KubercError("the document is not a mapping")
    defaults: Defaults = []
    # v1alpha1 called them "overrides"
    for key in ("defaults", "overrides"):
        entries = document.get(key) or []
        if not isinstance(entries, list):
            raise KubercError(f"{key} must be a list")
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("command"), str):
                raise KubercError(f"every entry of {key} needs a command")
            defaults.append((tuple(entry["command"].split()), _options(entry, key)))
    aliases: Aliases = {}
    entries = document.get("aliases") or []
    if not isinstance(entries, list):
        raise KubercError("aliases must be a list")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise KubercError("every alias needs a name")
        if not isinstance(entry.get("command"), str):
            raise KubercError(f"alias {entry['name']} needs a command")
        aliases[entry["name"]] = (
            tuple(entry["command"].split()),
            _words(entry.get("prependArgs"), f"alias {entry['name']} prependArgs"),
            _words(entry.get("appendArgs"), f"alias {entry['name']} appendArgs"),
            _options(entry, f"alias {entry['name']}"),
        )
    return {"defaults": defaults, "aliases": aliases}


def load(reading: Reading, env: Mapping[str, str], index: FileIndex) -> dict[str, Any] | None:
    """The kuberc in effect, or None. Raises KubercError when it exists but is unusable."""
    path = kuberc_path(reading, env)
    if path is None:
        return None
    try:
        return index.read(os.path.abspath(path), "kuberc", parse_kuberc)
    except FileReadError as exc:
        raise KubercError(f"kuberc {path}: {exc}") from None
    except KubercError as exc:
        raise KubercError(f"kuberc {path}: {exc}") from None


def _with_flags(argv: list[str], flags: list[str]) -> list[str]:
    """Add flags before a bare ``--`` (or at the end)."""
    if "--" in argv:
        cut = argv.index("--")
        return [*argv[:cut], *flags, *argv[cut:]]
    return [*argv, *flags]


def expand(argv: list[str], reading: Reading, rc: dict[str, Any]) -> list[str] | None:
    """argv as kubectl will really run it under this kuberc, or None when unchanged."""
    changed = False
    options: list[tuple[str, str]] = []
    if reading.plugin and reading.command[0] in rc["aliases"]:
        words, prepend, append, alias_options = rc["aliases"][reading.command[0]]
        index = argv.index(reading.command[0])
        argv = [*argv[:index], *words, *prepend, *argv[index + 1 :]]
        argv = _with_flags(argv, append) if append else argv
        options += alias_options
        changed = True
        from kubesafe.kubectl.args import parse

        reading = parse(argv).primary
    for command, defaults in rc["defaults"]:
        if command == reading.command:
            options += defaults
    added = [
        f"--{name}={value}"
        for name, value in dict(options).items()
        if not reading.has(name.replace("_", "-"))
    ]
    if added:
        argv = _with_flags(argv, added)
        changed = True
    return argv if changed else None
