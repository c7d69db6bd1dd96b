"""What a helm command does to a cluster.

* ``local``: never contacts a cluster (charts, repositories, plugins management,
  registry logins, completion); passes straight through.
* ``read``: ``list``, ``status``, ``history``, ``get ...``, ``template`` when it
  validates against the cluster, and every ``--dry-run`` except ``=none``/``=false``.
* ``write``: ``install``, ``upgrade`` (with or without ``--install``), ``rollback``,
  ``test``; ``destructive``: ``uninstall`` and ``--force``/``--force-replace``
  (delete and re-create). Unknown commands and plugins are writes.

Checked against helm 3.17 and 4.x with a recording fake API server: see
tests/e2e/test_helm_real.py.
"""

from __future__ import annotations

from kubesafe.classification import DESTRUCTIVE, LOCAL, READ, WRITE, Classification
from kubesafe.helm import table
from kubesafe.helm.args import BARE, COMPLETION_COMMANDS, HelmReading

_LOCAL_FAMILIES = {
    "completion": "prints a shell completion script",
    "create": "creates a chart directory locally",
    "dependency": "manages chart dependencies locally",
    "env": "prints helm's client environment",
    "help": "prints help",
    "lint": "checks a chart locally",
    "package": "packages a chart locally",
    "plugin": "manages helm plugins locally",
    "pull": "downloads a chart",
    "push": "uploads a chart to a registry, not to a cluster",
    "registry": "logs in to or out of a chart registry",
    "repo": "manages chart repositories",
    "search": "searches chart repositories",
    "show": "shows chart information",
    "verify": "verifies a chart signature locally",
    "version": "prints helm's version",
}

COMMAND_TABLE: dict[str, tuple[str, str]] = {
    "": (LOCAL, "bare helm prints its help"),
    "get": (LOCAL, "lists get subcommands"),
    "help": (LOCAL, "prints help"),
    "get all": (READ, "reads a release"),
    "get hooks": (READ, "reads a release's hooks"),
    "get manifest": (READ, "reads a release's manifest"),
    "get metadata": (READ, "reads a release's metadata"),
    "get notes": (READ, "reads a release's notes"),
    "get values": (READ, "reads a release's values"),
    "history": (READ, "reads release history"),
    "install": (WRITE, "installs a release"),
    "list": (READ, "lists releases"),
    "rollback": (WRITE, "rolls a release back to an earlier revision"),
    "status": (READ, "reads a release's status"),
    "template": (LOCAL, "renders a chart locally"),
    "test": (WRITE, "runs a release's test pods"),
    "uninstall": (DESTRUCTIVE, "uninstalls a release and deletes its resources"),
    "upgrade": (WRITE, "upgrades a release"),
}

# Values of --dry-run that simulate (helm 4 also takes strconv.ParseBool's true spellings).
# An explicit empty value is not one: helm 3.17 reads ``--dry-run=`` as "none" and writes.
_TRUE = frozenset({BARE, "1", "t", "T", "true", "TRUE", "True"})
_DRY_RUN_HARMLESS = _TRUE | {"client", "server", "unset"}
_DRY_RUN_COMMANDS = frozenset({("install",), ("upgrade",), ("uninstall",), ("rollback",)})
_FORCE_FLAGS = ("force", "force-replace")


def _accepts(command: tuple[str, ...], name: str) -> bool:
    local = table.COMMANDS.get(" ".join(command))
    return name in table.GLOBAL_FLAGS or (local is not None and name in local[0])


def _flag_true(reading: HelmReading, name: str) -> bool:
    value = reading.last(name)
    return value is not None and value in _TRUE and _accepts(reading.command, name)


def _base(reading: HelmReading) -> tuple[str, str]:
    path = " ".join(reading.command)
    if path in COMMAND_TABLE:
        return COMMAND_TABLE[path]
    family = reading.command[0]
    if family in _LOCAL_FAMILIES:
        return LOCAL, _LOCAL_FAMILIES[family]
    return WRITE, f"'helm {path}' is not in kubesafe's command table: treated as a write"


def classify(reading: HelmReading) -> Classification:
    """Classify one reading of a helm argv."""
    if reading.plugin:
        name = reading.command[0]
        return Classification(WRITE, f"'{name}' is a helm plugin (or unknown): it can do anything")
    if reading.command[:1] and reading.command[0] in COMPLETION_COMMANDS:
        return Classification(LOCAL, "shell completion; must stay instant and never prompt")
    if _flag_true(reading, "help"):
        return Classification(LOCAL, "--help only prints help")
    category, reason = _base(reading)
    if reading.command == ("template",):
        return _template(reading)
    if category in (LOCAL, READ):
        return Classification(category, reason)
    if reading.command in _DRY_RUN_COMMANDS and reading.has("dry-run"):
        value = reading.last("dry-run") or ""
        if value in _DRY_RUN_HARMLESS:
            shown = "--dry-run" if value == BARE else f"--dry-run={value}"
            return Classification(READ, f"{shown} persists nothing")
        reason = f"--dry-run={value} still persists changes; {reason}"
    if reading.command in (("upgrade",), ("rollback",), ("install",)):
        for name in _FORCE_FLAGS:
            if _flag_true(reading, name):
                return Classification(
                    DESTRUCTIVE, f"{reading.command[0]} --{name} deletes and re-creates resources"
                )
    return Classification(category, reason)


def _template(reading: HelmReading) -> Classification:
    dry_run = reading.last("dry-run")
    if dry_run == "server":
        return Classification(READ, "template --dry-run=server validates against the cluster")
    for name in ("validate", "is-upgrade"):
        if reading.has(name):
            return Classification(READ, f"template --{name} may read from the cluster")
    return Classification(*COMMAND_TABLE["template"])


def release_and_chart(reading: HelmReading) -> tuple[str | None, str | None]:
    """The release (comma-joined for several) and chart a command names, as far as known."""
    if reading.plugin:
        return None, None
    words = reading.positionals
    command = reading.command
    if command in (("install",), ("template",)):
        if _flag_true(reading, "generate-name"):
            return None, words[0] if words else None
        return (words[0] if words else None), (words[1] if len(words) > 1 else None)
    if command == ("upgrade",):
        return (words[0] if words else None), (words[1] if len(words) > 1 else None)
    if command == ("uninstall",):
        return (",".join(words) or None), None
    if command in (("rollback",), ("test",), ("status",), ("history",)) or command[:1] == ("get",):
        return (words[0] if words else None), None
    return None, None
