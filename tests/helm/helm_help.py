"""Read helm's command tree and flags from real helm binaries (``helm CMD --help``).

``kubesafe/helm/table.py`` is generated from this and a test regenerates it from
the helm binaries of the test wheels, so the table cannot drift from real helm::

    .venv/bin/python -m tests.helm.helm_help HELM [HELM...] > kubesafe/helm/table.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence

# cobra help line: "  -n, --namespace string   text" / "      --debug   text"
_FLAG_LINE = re.compile(r"^\s+(?:-(\w), )?--([\w-]+)(?: (\S+))?\s{2,}")

# Hidden flags that `--help` does not list, checked by hand against helm 3.17 and 4.x:
# klog's flags (helm registers them hidden, "_" turned into "-") and the deprecated
# `template --validate` of helm 4.
HIDDEN_GLOBALS: dict[str, bool] = {
    "add-dir-header": False,
    "alsologtostderr": False,
    "log-backtrace-at": True,
    "log-dir": True,
    "log-file": True,
    "log-file-max-size": True,
    "logtostderr": False,
    "one-output": False,
    "skip-headers": False,
    "skip-log-headers": False,
    "stderrthreshold": True,
    "v": True,
    "vmodule": True,
}
HIDDEN_SHORTHANDS = {"v": "v"}
HIDDEN_LOCAL: dict[str, dict[str, bool]] = {"template": {"validate": False}}

Flags = dict[str, tuple[str, bool]]  # name -> (shorthand, takes a value)


class CommandHelp:
    def __init__(self, flags: Flags, subcommands: list[str], aliases: list[str]) -> None:
        self.flags = flags
        self.subcommands = subcommands
        self.aliases = aliases


def command_help(helm: str, path: Sequence[str], home: str) -> CommandHelp:
    env = {"HOME": home, "PATH": "/usr/bin:/bin", "KUBECONFIG": os.devnull}
    text = subprocess.run(
        [helm, *path, "--help"], capture_output=True, text=True, env=env, timeout=30, check=True
    ).stdout
    flags: Flags = {}
    subcommands: list[str] = []
    aliases: list[str] = []
    section = ""
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            section = line[:-1]
            continue
        if section == "Aliases" and line.strip():
            aliases = [word.strip() for word in line.split(",")]
        elif section == "Available Commands" and line.startswith("  "):
            subcommands.append(line.split()[0])
        elif section == "Flags":
            match = _FLAG_LINE.match(line)
            if match:
                kind = match.group(3) or ""
                # "string[="client"]" has a no-option default: only --flag=value takes one.
                flags[match.group(2)] = (match.group(1) or "", bool(kind) and "[=" not in kind)
    return CommandHelp(flags, subcommands, aliases)


def walk(helm: str) -> dict[str, CommandHelp]:
    """Every command path of one helm binary ("" is the root)."""
    found: dict[str, CommandHelp] = {}
    with tempfile.TemporaryDirectory() as home:

        def visit(path: list[str]) -> None:
            info = command_help(helm, path, home)
            found[" ".join(path)] = info
            for sub in info.subcommands:
                if sub != "help":
                    visit([*path, sub])

        visit([])
    return found


def helm_version(helm: str) -> str:
    with tempfile.TemporaryDirectory() as home:
        text = subprocess.run(
            [helm, "version", "--short"],
            capture_output=True,
            text=True,
            env={"HOME": home, "PATH": "/usr/bin:/bin"},
            timeout=30,
            check=True,
        ).stdout
    return text.strip().split("+")[0]


class Table:
    def __init__(self) -> None:
        self.versions: list[str] = []
        self.global_flags: dict[str, bool | None] = {}
        self.global_short: dict[str, str] = {}
        self.commands: dict[str, tuple[dict[str, bool | None], dict[str, str]]] = {}
        self.aliases: dict[str, str] = {}


def _put(flags: dict[str, bool | None], name: str, takes: bool) -> None:
    if name in flags and flags[name] != takes:
        flags[name] = None  # the versions disagree
    else:
        flags[name] = takes


def merge(helms: Sequence[str]) -> Table:
    table = Table()
    for helm in helms:
        table.versions.append(helm_version(helm))
        tree = walk(helm)
        for path, info in tree.items():
            if path == "":
                for name, (short, takes) in info.flags.items():
                    _put(table.global_flags, name, takes)
                    if short:
                        table.global_short[short] = name
                continue
            local, shorts = table.commands.setdefault(path, ({}, {}))
            for name, (short, takes) in info.flags.items():
                _put(local, name, takes)
                if short:
                    shorts[short] = name
            parent, _, word = path.rpartition(" ")
            for alias in info.aliases:
                if alias != word:
                    table.aliases[f"{parent} {alias}".strip()] = path
    for name, takes in HIDDEN_GLOBALS.items():
        _put(table.global_flags, name, takes)
    table.global_short.update(HIDDEN_SHORTHANDS)
    for path, extra in HIDDEN_LOCAL.items():
        for name, takes in extra.items():
            _put(table.commands[path][0], name, takes)
    return table


def render(table: Table) -> str:
    versions = ", ".join(table.versions)
    lines = [
        f"# Generated by tests/helm/helm_help.py from helm {versions}.",
        "# DO NOT EDIT BY HAND. Regenerate with:",
        "#   .venv/bin/python -m tests.helm.helm_help HELM [HELM...] > kubesafe/helm/table.py",
        '"""helm\'s command tree and, per flag, whether it consumes the next argument.',
        "",
        "True = ``--flag VALUE``; False = it does not (bools, and flags with a no-option",
        "default such as ``--dry-run``, which take a value only as ``--flag=VALUE``);",
        "None = the helm versions disagree. helm does not normalise ``_`` in flag names.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        f"HELM_VERSIONS: tuple[str, ...] = {tuple(table.versions)!r}",
        "",
        "GLOBAL_FLAGS: dict[str, bool | None] = {",
        *(f"    {name!r}: {takes!r}," for name, takes in sorted(table.global_flags.items())),
        "}",
        "",
        "GLOBAL_SHORTHANDS: dict[str, str] = {",
        *(f"    {s!r}: {name!r}," for s, name in sorted(table.global_short.items())),
        "}",
        "",
        "# command path -> (long flag -> takes a value, shorthand -> long flag)",
        "COMMANDS: dict[str, tuple[dict[str, bool | None], dict[str, str]]] = {",
    ]
    for path in sorted(table.commands):
        local, shorts = table.commands[path]
        lines.append(f"    {path!r}: (")
        lines.append("        {")
        lines += [f"            {n!r}: {t!r}," for n, t in sorted(local.items())]
        lines.append("        },")
        lines.append(
            "        {" + ", ".join(f"{s!r}: {n!r}" for s, n in sorted(shorts.items())) + "},"
        )
        lines.append("    ),")
    lines += [
        "}",
        "",
        "# alias path -> canonical command path",
        "ALIASES: dict[str, str] = {",
        *(f"    {alias!r}: {path!r}," for alias, path in sorted(table.aliases.items())),
        "}",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str]) -> int:
    if not argv:
        print("usage: python -m tests.helm.helm_help HELM [HELM...]", file=sys.stderr)
        return 2
    sys.stdout.write(render(merge(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
