#!/usr/bin/env python3
"""Generate ``kubesafe/kubectl/table.py`` from real kubectl binaries.

Usage::

    .venv/bin/python tools/gen_kubectl_table.py KUBECTL [KUBECTL...] > kubesafe/kubectl/table.py
    .venv/bin/python tools/gen_kubectl_table.py --check KUBECTL [KUBECTL...]

For every kubectl binary the script

1. walks the command tree: the command sections of each ``--help`` ("Available Commands:",
   "Basic Commands (Beginner):", ...; plugin sections are skipped), cross-checked with
   cobra's ``__complete <path> ""``, plus a few hidden commands tried by name
   (``alpha``, ``options``, ``help``, ``__complete``, ...).  Every candidate is resolved
   empirically: ``kubectl <words> --<unknown flag>`` fails with "See 'kubectl <path>
   --help' for usage.", which names the command cobra actually picked (this also
   resolves aliases);
2. collects each command's flags from the "Options:" section of its help, plus flags
   that ``__complete <path> -`` offers beyond the global ones (persistent flags of
   intermediate commands such as ``config --kubeconfig``), plus hidden/deprecated flags
   found by trying names mentioned in the help text and a list of historical kubectl
   flags;
3. decides for each flag whether it consumes the next argument with two oracles:
   ``kubectl <path> --flag -h`` prints exactly the command's help and exits 0 only when
   the flag does not take the ``-h`` as its value, and ``kubectl <path> --flag
   --<unknown flag>`` fails with "unknown flag" only when the flag leaves the next
   argument alone.  When the oracles disagree (after a slower retry) the flag is
   recorded as ``None`` (ambiguous) and reported.

The walk is done twice per binary: with a plain environment and with every
``KUBECTL_<GATE>`` feature gate found in the binary set to ``true`` (gated commands and
flags such as ``apply --applyset`` only exist then).  Results of all binaries are merged:
anything present in any version is kept, a flag whose answer differs between versions
becomes ``None``.

Each kubectl runs with a private ``HOME``/working directory, a kubeconfig whose only
server is ``http://127.0.0.1:1``, ``EDITOR=false``, no stdin and a timeout.
Diagnostics go to stderr; the generated module goes to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import re
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TABLE = REPO_ROOT / "kubesafe" / "kubectl" / "table.py"

UNKNOWN_FLAG = "kubesafe-probe-unknown-flag"
"""A flag no kubectl defines; ``--`` + this provokes cobra's "unknown flag" error."""

KUBECONFIG_TEXT = """\
apiVersion: v1
kind: Config
clusters:
- name: kubesafe-probe
  cluster:
    server: http://127.0.0.1:1
contexts:
- name: kubesafe-probe
  context:
    cluster: kubesafe-probe
    user: kubesafe-probe
    namespace: default
current-context: kubesafe-probe
users:
- name: kubesafe-probe
  user: {}
"""

# Commands that cobra or kubectl hide from help and completion; tried by name at the root.
HIDDEN_ROOT_CANDIDATES: tuple[str, ...] = (
    "alpha",
    "completion",
    "convert",
    "help",
    "kuberc",
    "options",
    "rolling-update",
    "version",
)
# cobra's shell-completion request commands (DisableFlagParsing, only created on demand).
COMPLETE_COMMANDS: tuple[str, ...] = ("__complete", "__completeNoDesc")

# Flags that kubectl had at some point (often now hidden or deprecated).  Each is tried on
# every command; the ones that exist but are not shown in help are reported as hidden.
HISTORICAL_FLAGS: tuple[str, ...] = (
    "all",
    "cascade",
    "container",
    "delete-local-data",
    "dry-run",
    "export",
    "filename",
    "force",
    "generator",
    "heapster-namespace",
    "heapster-port",
    "heapster-scheme",
    "heapster-service",
    "include-uninitialized",
    "limits",
    "openapi-patch",
    "output",
    "pod",
    "prune-whitelist",
    "record",
    "requests",
    "schedule",
    "server-dry-run",
    "server-print",
    "serviceaccount",
    "short",
    "show-all",
    "show-kind",
    "timeout",
    "use-openapi-print-columns",
    "use-protocol-buffers",
    "validate",
)

# Flags defined on at least this many commands are also tried as hidden flags everywhere.
COMMON_FLAG_MIN_COMMANDS = 3
SHORTHAND_LETTERS = string.ascii_letters + string.digits

# KUBECTL_* environment variables that are not boolean feature gates.
NON_GATE_ENV: frozenset[str] = frozenset({"KUBECTL_EXTERNAL_DIFF", "KUBECTL_PATH"})

HEADING_RE = re.compile(r"^(\S.*):$")
COMMAND_LINE_RE = re.compile(r"^  ([A-Za-z0-9_][A-Za-z0-9_.-]*)(?:\s{2,}(.*))?$")
FLAG_LINE_RE = re.compile(
    r"^ {2,6}(?:-(?P<short>[^-\s]), )?--(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)=(?P<default>.*):$"
)
# After "unknown flag", kubectl names the command it picked: "See 'kubectl get --help' for
# usage." (most commands), "See 'kubectl diff -h' for help and examples", "Run 'kubectl
# options' without flags."
SEE_HELP_RE = re.compile(r"'kubectl(?P<path>(?: [^\s']+)*?)(?: --help| -h)?'")
COMPLETION_DIRECTIVE_RE = re.compile(r"^:\d+$")
FLAG_MENTION_RE = re.compile(r"(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)")
ENV_GATE_RE = re.compile(rb"KUBECTL_[A-Z0-9_]+")

T = TypeVar("T")
R = TypeVar("R")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# Running kubectl
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    returncode: int | None
    """``None`` when the process was killed after the timeout."""
    stdout: str
    stderr: str

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


class Kubectl:
    """Runs one kubectl binary in throw-away sandboxes."""

    def __init__(self, binary: Path, workdir: Path, timeout: float) -> None:
        self.binary = binary
        self.workdir = workdir
        self.timeout = timeout
        self.gates: dict[str, str] = find_feature_gates(binary)
        self.calls = 0
        self._lock = threading.Lock()

    def run(
        self, args: Sequence[str], *, gated: bool = False, timeout: float | None = None
    ) -> RunResult:
        with self._lock:
            self.calls += 1
        sandbox = Path(tempfile.mkdtemp(prefix="sb-", dir=self.workdir))
        try:
            kubeconfig = sandbox / "kubeconfig"
            kubeconfig.write_text(KUBECONFIG_TEXT, encoding="utf-8")
            env = {
                "HOME": str(sandbox),
                "KUBECONFIG": str(kubeconfig),
                "EDITOR": "false",
                "KUBE_EDITOR": "false",
                "PATH": "/usr/bin:/bin",
                "LANG": "C",
                "LC_ALL": "C",
                "TMPDIR": str(sandbox),
            }
            if gated:
                env.update(self.gates)
            proc = subprocess.Popen(
                [str(self.binary), *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=sandbox,
                env=env,
                start_new_session=True,
            )
            returncode: int | None
            try:
                out, err = proc.communicate(timeout=timeout or self.timeout)
                returncode = proc.returncode
            except subprocess.TimeoutExpired:
                kill_group(proc)
                out, err = proc.communicate()
                returncode = None
            else:
                kill_group(proc)  # reap anything the command left behind
            marker = str(sandbox)
            return RunResult(
                returncode,
                out.decode("utf-8", "replace").replace(marker, "<SANDBOX>"),
                err.decode("utf-8", "replace").replace(marker, "<SANDBOX>"),
            )
        finally:
            shutil.rmtree(sandbox, ignore_errors=True)

    def client_version(self) -> str:
        result = self.run(["version", "--client", "-o", "json"])
        try:
            data = json.loads(result.stdout)
            version = data["clientVersion"]["gitVersion"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(
                f"{self.binary}: cannot read client version: {result.stderr.strip()}"
            ) from exc
        return str(version)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def find_feature_gates(binary: Path) -> dict[str, str]:
    """``KUBECTL_*`` names embedded in the binary, minus the non-boolean ones."""
    names = {m.group().decode() for m in ENV_GATE_RE.finditer(binary.read_bytes())}
    return {name: "true" for name in sorted(names - NON_GATE_ENV)}


def parallel_map(
    pool: ThreadPoolExecutor, func: Callable[[T], R], items: Iterable[T]
) -> list[R]:
    return list(pool.map(func, items))


# --------------------------------------------------------------------------------------
# Help parsing
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HelpFlag:
    name: str
    shorthand: str | None
    default: str


@dataclass
class HelpInfo:
    subcommands: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    """The "Aliases:" section: the command's own name followed by its aliases."""
    flags: dict[str, HelpFlag] = field(default_factory=dict)
    unparsed: list[str] = field(default_factory=list)
    """Lines of the "Options:" section that were neither flag entries nor descriptions."""


def split_sections(text: str) -> list[tuple[str, list[str]]]:
    """Split help text into (heading, lines) pairs; the leading text has heading ""."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines():
        match = HEADING_RE.match(line)
        if match and not line.startswith(("#", "Use ")):
            sections.append((match.group(1), []))
        else:
            sections[-1][1].append(line)
    return sections


def is_command_heading(heading: str) -> bool:
    lowered = heading.lower()
    if "plugin" in lowered:  # "Subcommands provided by plugins:" are not built in
        return False
    return heading == "Available Commands" or lowered.endswith("commands") or (
        "commands (" in lowered
    )


def parse_flag_lines(lines: Iterable[str], into: dict[str, HelpFlag], unparsed: list[str]) -> None:
    for line in lines:
        if not line.strip() or line.startswith("\t"):
            continue
        match = FLAG_LINE_RE.match(line)
        if match:
            into[match["name"]] = HelpFlag(match["name"], match["short"], match["default"])
        else:
            unparsed.append(line)


def parse_help(text: str) -> HelpInfo:
    info = HelpInfo()
    for heading, lines in split_sections(text):
        if is_command_heading(heading):
            for line in lines:
                match = COMMAND_LINE_RE.match(line)
                if match:
                    info.subcommands.append(match.group(1))
        elif heading == "Aliases":
            for line in lines:
                if line.strip():
                    info.names.extend(part.strip() for part in line.split(",") if part.strip())
                    break
        elif heading == "Options":
            parse_flag_lines(lines, info.flags, info.unparsed)
    return info


def parse_completions(text: str) -> list[tuple[str, str]] | None:
    """``__complete`` output as (value, description) pairs; None if it is not one."""
    lines = text.splitlines()
    for index in range(len(lines) - 1, -1, -1):
        if COMPLETION_DIRECTIVE_RE.match(lines[index]):
            result: list[tuple[str, str]] = []
            for line in lines[:index]:
                value, _, description = line.partition("\t")
                result.append((value, description))
            return result
    return None


# --------------------------------------------------------------------------------------
# Per-version scan
# --------------------------------------------------------------------------------------


@dataclass
class FlagInfo:
    name: str
    shorthand: str | None
    origin: str  # "help", "inherited" (offered by __complete) or "hidden"
    gated: bool
    takes_value: bool | None = None
    note: str = ""


@dataclass
class CommandInfo:
    path: str
    words: tuple[str, ...]
    gated: bool
    flag_parsing: bool = True
    help_text: str = ""
    flags: dict[str, FlagInfo] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)


@dataclass
class VersionScan:
    version: str
    globals: dict[str, FlagInfo] = field(default_factory=dict)
    global_descriptions: dict[str, str] = field(default_factory=dict)
    commands: dict[str, CommandInfo] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    prefix_matching: bool = False
    underscore_normalization: bool = False
    notes: list[str] = field(default_factory=list)
    inconclusive: list[str] = field(default_factory=list)
    seconds: float = 0.0


def path_of(words: Sequence[str]) -> str:
    return " ".join(words)


class Scanner:
    def __init__(self, kubectl: Kubectl, pool: ThreadPoolExecutor, version: str) -> None:
        self.k = kubectl
        self.pool = pool
        self.scan = VersionScan(version)
        self._help_cache: dict[tuple[tuple[str, ...], bool], RunResult] = {}
        self._lock = threading.RLock()

    # -- helpers -----------------------------------------------------------------------

    def note(self, message: str) -> None:
        with self._lock:
            self.scan.notes.append(message)
        log(f"  [{self.scan.version}] {message}")

    def help_result(self, words: tuple[str, ...], gated: bool) -> RunResult:
        key = (words, gated)
        cached = self._help_cache.get(key)
        if cached is None:
            cached = self.k.run([*words, "--help"], gated=gated)
            with self._lock:
                self._help_cache[key] = cached
        return cached

    def resolve(self, words: Sequence[str], gated: bool) -> str | None:
        """The command path cobra runs for ``kubectl <words>``, or None if none."""
        result = self.k.run([*words, f"--{UNKNOWN_FLAG}"], gated=gated)
        match = SEE_HELP_RE.search(result.stderr)
        if match and f"unknown flag: --{UNKNOWN_FLAG}" in result.stderr:
            return match["path"].strip()
        return None

    # -- global flags --------------------------------------------------------------------

    def scan_globals(self) -> None:
        for gated in (False, True):
            result = self.k.run(["options"], gated=gated)
            flags: dict[str, HelpFlag] = {}
            unparsed: list[str] = []
            parse_flag_lines(result.stdout.splitlines()[1:], flags, unparsed)
            for line in unparsed:
                self.note(f"options: unparsed line {line!r}")
            for name, flag in flags.items():
                if name not in self.scan.globals:
                    self.scan.globals[name] = FlagInfo(name, flag.shorthand, "help", gated)
                    if gated:
                        self.note(f"global flag --{name} only exists with feature gates on")
            completions = parse_completions(self.k.run(["__complete", "version", "--"],
                                                        gated=gated).stdout)
            for value, description in completions or []:
                name = value[2:]
                if value.startswith("--") and name in self.scan.globals:
                    self.scan.global_descriptions.setdefault(name, description)
        if not self.scan.globals:
            raise SystemExit(f"{self.k.binary}: `kubectl options` listed no flags")

    # -- command tree ----------------------------------------------------------------------

    def walk(self, gated: bool) -> None:
        level: list[tuple[str, ...]] = [()]
        seen: set[tuple[str, ...]] = {()}
        root_extra = [(name,) for name in HIDDEN_ROOT_CANDIDATES]
        while level:
            children_lists = parallel_map(self.pool, lambda w: self.inspect(w, gated), level)
            next_level: list[tuple[str, ...]] = []
            for words, children in zip(level, children_lists, strict=True):
                if not words:
                    children = children + [c for c in root_extra if c not in children]
                for child in children:
                    if child not in seen:
                        seen.add(child)
                        next_level.append(child)
            # Candidates must resolve to themselves to count as commands.
            resolved = parallel_map(self.pool, lambda w: self.resolve(w, gated), next_level)
            level = []
            for words, got in zip(next_level, resolved, strict=True):
                if got == path_of(words):
                    level.append(words)
                elif words[-1] in HIDDEN_ROOT_CANDIDATES and len(words) == 1:
                    continue
                elif got is None or path_of(words).startswith(got):
                    self.maybe_note_unresolved(words, got, gated)
                else:
                    self.note(f"{path_of(words)!r} resolves to {got!r}")

    def maybe_note_unresolved(self, words: tuple[str, ...], got: str | None, gated: bool) -> None:
        parent = self.scan.commands.get(path_of(words[:-1]))
        listed = parent is not None and words[-1] in parse_help(parent.help_text).subcommands
        if listed:
            self.note(f"listed subcommand {path_of(words)!r} does not resolve (got {got!r})")

    def inspect(self, words: tuple[str, ...], gated: bool) -> list[tuple[str, ...]]:
        """Record one command; return candidate child word tuples."""
        path = path_of(words)
        help_run = self.help_result(words, gated)
        info = parse_help(help_run.stdout or help_run.stderr)
        with self._lock:
            existing = self.scan.commands.get(path)
            command = existing or CommandInfo(path, words, gated)
            if existing is None:
                self.scan.commands[path] = command
                command.help_text = help_run.stdout or help_run.stderr
                if gated:
                    self.note(f"command {path!r} only exists with feature gates on")
        for line in info.unparsed:
            self.note(f"{path!r}: unparsed Options line {line!r}")
        for name, flag in info.flags.items():
            self.add_flag(command, name, flag.shorthand, "help", gated)
        if info.names:
            if words and info.names[0] != words[-1]:
                self.note(f"{path!r}: Aliases section starts with {info.names[0]!r}")
            for alias in info.names[1:]:
                if alias not in command.aliases:
                    command.aliases.append(alias)
        self.scan_completion_flags(command, gated)
        candidates = list(info.subcommands)
        completions = parse_completions(self.k.run(["__complete", *words, ""], gated=gated).stdout)
        for value, _ in completions or []:
            if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", value) and value not in candidates:
                candidates.append(value)
        return [(*words, name) for name in candidates]

    def scan_completion_flags(self, command: CommandInfo, gated: bool) -> None:
        """Flags offered by ``__complete <path> -`` that the help does not show."""
        words = command.words
        preset: list[str] = []
        offered: list[tuple[str, str]] = []
        for _ in range(4):
            result = self.k.run(["__complete", *words, *preset, "-"], gated=gated)
            completions = parse_completions(result.stdout)
            if completions is None:
                break
            new = [c for c in completions if c not in offered]
            offered.extend(new)
            # Commands with required flags only offer those until they are set.
            longs = [v[2:] for v, _ in completions if v.startswith("--")]
            extra = [f"--{n}=0" for n in longs if f"--{n}=0" not in preset and n != "help"]
            if not new or not extra:
                break
            preset.extend(extra)
        previous_long: tuple[str, str] | None = None
        for value, description in offered:
            if value.startswith("--"):
                name = value[2:]
                previous_long = (name, description)
                if name == "help" or name in command.flags:
                    continue
                if self.scan.global_descriptions.get(name) == description:
                    continue  # the inherited global flag
                self.add_flag(command, name, None, "inherited", gated)
            elif value.startswith("-") and len(value) == 2 and previous_long:
                name, long_description = previous_long
                if long_description == description and name != "help":
                    flag = command.flags.get(name)
                    if flag is not None and flag.shorthand is None:
                        flag.shorthand = value[1]

    def add_flag(
        self, command: CommandInfo, name: str, shorthand: str | None, origin: str, gated: bool
    ) -> None:
        with self._lock:
            existing = command.flags.get(name)
            if existing is None:
                command.flags[name] = FlagInfo(name, shorthand, origin, gated)
                if gated and not command.gated:
                    self.note(f"flag {command.path!r} --{name} only exists with feature gates on")
            elif shorthand and existing.shorthand is None:
                existing.shorthand = shorthand

    def check_complete_commands(self) -> None:
        for name in COMPLETE_COMMANDS:
            result = self.k.run([name, f"--{UNKNOWN_FLAG}"])
            if parse_completions(result.stdout) is not None:
                self.scan.commands[name] = CommandInfo(name, (name,), False, flag_parsing=False)
            else:
                self.note(f"cobra command {name} not found")

    def check_flag_parsing(self) -> None:
        """Commands that accept unknown flags do not parse flags at all."""
        commands = [c for c in self.scan.commands.values() if c.flag_parsing]

        def check(command: CommandInfo) -> bool:
            result = self.k.run([*command.words, f"--{UNKNOWN_FLAG}"], gated=command.gated)
            return f"unknown flag: --{UNKNOWN_FLAG}" in result.stderr

        for command, parses in zip(commands, parallel_map(self.pool, check, commands), strict=True):
            if not parses:
                command.flag_parsing = False
                self.note(f"{command.path!r} does not reject unknown flags")

    def collect_aliases(self) -> None:
        pairs: list[tuple[str, tuple[str, ...], bool]] = []
        for command in self.scan.commands.values():
            for alias in command.aliases:
                pairs.append((command.path, (*command.words[:-1], alias), command.gated))
        resolved = parallel_map(self.pool, lambda p: self.resolve(p[1], p[2]), pairs)
        for (target, words, _), got in zip(pairs, resolved, strict=True):
            if got == target:
                self.scan.aliases[path_of(words)] = target
            else:
                self.note(f"alias {path_of(words)!r} resolves to {got!r}, not {target!r}")

    def check_prefix_matching(self) -> None:
        # "rollo" is an unambiguous prefix of "rollout"; "conf" of "config".
        results = [self.resolve(["rollo"], False), self.resolve(["conf"], False)]
        self.scan.prefix_matching = any(r not in (None, "") for r in results)
        # kubectl normalises "_" to "-" in flag names (with a warning).
        result = self.k.run(["get", "--all_namespaces", "-h"])
        self.scan.underscore_normalization = result.returncode == 0 and "Usage:" in result.stdout

    # -- hidden flags -------------------------------------------------------------------------

    def find_hidden_flags(self) -> None:
        tasks: list[tuple[CommandInfo, str]] = []
        usage = Counter(name for c in self.scan.commands.values() for name in c.flags)
        common = {name for name, count in usage.items() if count >= COMMON_FLAG_MIN_COMMANDS}
        for command in self.scan.commands.values():
            if not command.flag_parsing:
                continue
            names = set(HISTORICAL_FLAGS) | common
            names.update(FLAG_MENTION_RE.findall(command.help_text))
            for name in sorted(names):
                if name not in command.flags and name not in self.scan.globals and name != "help":
                    tasks.append((command, name))

        def exists(task: tuple[CommandInfo, str]) -> bool:
            command, name = task
            result = self.k.run([*command.words, f"--{name}", "-h"], gated=command.gated)
            return f"unknown flag: --{name}" not in result.stderr

        found_list = parallel_map(self.pool, exists, tasks)
        for (command, name), found in zip(tasks, found_list, strict=True):
            if found:
                self.add_flag(command, name, None, "hidden", command.gated)
                self.note(f"hidden flag {command.path!r} --{name}")
        self.find_hidden_shorthands()

    def find_hidden_shorthands(self) -> None:
        """Shorthands of hidden flags (help and completion show neither)."""
        consensus: dict[str, Counter[str]] = {}
        for command in self.scan.commands.values():
            for flag in command.flags.values():
                if flag.shorthand and flag.origin != "hidden":
                    consensus.setdefault(flag.shorthand, Counter())[flag.name] += 1
        tasks: list[tuple[CommandInfo, str]] = []
        for command in self.scan.commands.values():
            if not any(f.origin == "hidden" for f in command.flags.values()):
                continue
            used = {f.shorthand for f in command.flags.values() if f.shorthand}
            used.update(f.shorthand for f in self.scan.globals.values() if f.shorthand)
            used.add("h")
            for letter in SHORTHAND_LETTERS:
                if letter not in used:
                    tasks.append((command, letter))

        def exists(task: tuple[CommandInfo, str]) -> bool:
            command, letter = task
            result = self.k.run([*command.words, f"-{letter}", "-h"], gated=command.gated)
            return f"unknown shorthand flag: '{letter}'" not in result.stderr

        found_list = parallel_map(self.pool, exists, tasks)
        for (command, letter), found in zip(tasks, found_list, strict=True):
            if not found:
                continue
            hidden = {n for n, f in command.flags.items() if f.origin == "hidden"}
            # Map it to the hidden flag that this letter abbreviates on other commands.
            candidates = [
                name for name, _ in consensus.get(letter, Counter()).most_common()
                if name in hidden and command.flags[name].shorthand is None
            ]
            if candidates:
                command.flags[candidates[0]].shorthand = letter
                self.note(f"hidden shorthand {command.path!r} -{letter} = --{candidates[0]}")
            else:
                self.note(f"UNMAPPED hidden shorthand {command.path!r} -{letter}")

    # -- value probing ----------------------------------------------------------------------------

    def probe(
        self, words: tuple[str, ...], option: str, gated: bool, timeout: float | None = None
    ) -> tuple[bool | None, str]:
        """Does ``option`` (``--name`` or ``-s``) consume the next argument?"""
        reference = self.help_result(words, gated)
        help_probe = self.k.run([*words, option, "-h"], gated=gated, timeout=timeout)
        printed_help = (
            help_probe.returncode == 0
            and reference.returncode == 0
            and help_probe.stdout == reference.stdout
        )
        unknown_probe = self.k.run([*words, option, f"--{UNKNOWN_FLAG}"], gated=gated,
                                   timeout=timeout)
        rejected_next = f"unknown flag: --{UNKNOWN_FLAG}" in unknown_probe.stderr
        if printed_help == rejected_next:
            return (not printed_help), ""
        if printed_help and not unknown_probe.timed_out:
            # Some commands (e.g. ``config delete-cluster``) print their help and exit 0 when
            # run without arguments, so the -h oracle cannot tell.  If a plain word after
            # the flag gives the same help, the word was consumed as the flag's value.
            value_probe = self.k.run([*words, option, "kubesafe-probe-value"], gated=gated,
                                     timeout=timeout)
            if value_probe.returncode == 0 and value_probe.stdout == reference.stdout:
                self.note(
                    f"{path_of(words)!r} {option}: the command prints its help when run"
                    " without arguments; trusting the unknown-flag oracle (takes a value)"
                )
                return True, ""
        detail = (
            f"-h oracle: rc={help_probe.returncode} help={printed_help}"
            f" {first_line(help_probe.stderr)!r}; unknown-flag oracle: "
            f"rc={unknown_probe.returncode} {first_line(unknown_probe.stderr)!r}"
        )
        return None, detail

    def probe_all(self) -> None:
        tasks: list[tuple[str, FlagInfo, tuple[str, ...], str, bool]] = []
        for name, flag in sorted(self.scan.globals.items()):
            tasks.append(("<global>", flag, ("version",), f"--{name}", flag.gated))
        for command in self.scan.commands.values():
            if not command.flag_parsing:
                continue
            for name, flag in sorted(command.flags.items()):
                tasks.append((command.path, flag, command.words, f"--{name}", flag.gated))
        log(f"  [{self.scan.version}] probing {len(tasks)} flags")
        results = parallel_map(self.pool, lambda t: self.probe(t[2], t[3], t[4]), tasks)
        retry: list[int] = []
        for index, (answer, _) in enumerate(results):
            if answer is None:
                retry.append(index)
            else:
                tasks[index][1].takes_value = answer
        for index in retry:  # one slow, serial retry for disagreements (load, timeouts)
            where, flag, words, option, gated = tasks[index]
            answer, detail = self.probe(words, option, gated, timeout=self.k.timeout * 3)
            flag.takes_value = answer
            if answer is None:
                flag.note = detail
                self.scan.inconclusive.append(f"{where} {option}: {detail}")
                self.note(f"INCONCLUSIVE {where} {option}: {detail}")
        self.check_shorthands()

    def check_shorthands(self) -> None:
        """Probe each shorthand with the -h oracle; it must agree with its long flag."""
        tasks: list[tuple[str, FlagInfo, tuple[str, ...], bool]] = []
        for flag in self.scan.globals.values():
            if flag.shorthand:
                tasks.append(("<global>", flag, ("version",), flag.gated))
        for command in self.scan.commands.values():
            for flag in command.flags.values():
                if flag.shorthand and command.flag_parsing:
                    tasks.append((command.path, flag, command.words, flag.gated))

        def short_probe(task: tuple[str, FlagInfo, tuple[str, ...], bool]) -> bool | None:
            _, flag, words, gated = task
            answer, _ = self.probe(words, f"-{flag.shorthand}", gated)
            return answer

        for task, answer in zip(tasks, parallel_map(self.pool, short_probe, tasks), strict=True):
            where, flag, _, _ = task
            if answer != flag.takes_value:
                self.note(
                    f"shorthand {where} -{flag.shorthand} says {answer},"
                    f" --{flag.name} says {flag.takes_value}"
                )

    def cross_check(self, global_names: set[str], flags: set[tuple[str, str]]) -> None:
        """Look for flags that other versions have as hidden flags of this version."""
        scan = self.scan
        missing_globals = sorted(global_names - set(scan.globals))
        missing = sorted(
            (path, name) for path, name in flags
            if path in scan.commands and scan.commands[path].flag_parsing
            and name not in scan.commands[path].flags and name not in scan.globals
        )

        def exists(words: tuple[str, ...], name: str, gated: bool) -> bool:
            result = self.k.run([*words, f"--{name}", "-h"], gated=gated)
            return f"unknown flag: --{name}" not in result.stderr

        found_globals = parallel_map(
            self.pool, lambda n: exists(("version",), n, True), missing_globals
        )
        found = parallel_map(
            self.pool,
            lambda t: exists(scan.commands[t[0]].words, t[1], scan.commands[t[0]].gated),
            missing,
        )
        new: list[tuple[str, FlagInfo, tuple[str, ...], bool]] = []
        for name, present in zip(missing_globals, found_globals, strict=True):
            if present:
                scan.globals[name] = FlagInfo(name, None, "hidden", True)
                new.append(("<global>", scan.globals[name], ("version",), True))
                self.note(f"hidden global flag --{name} (shown by another version)")
        for (path, name), present in zip(missing, found, strict=True):
            if present:
                command = scan.commands[path]
                self.add_flag(command, name, None, "hidden", command.gated)
                new.append((path, command.flags[name], command.words, command.gated))
                self.note(f"hidden flag {path!r} --{name} (shown by another version)")
        answers = parallel_map(self.pool, lambda t: self.probe(t[2], f"--{t[1].name}", t[3]), new)
        for (where, flag, _, _), (answer, detail) in zip(new, answers, strict=True):
            flag.takes_value = answer
            if answer is None:
                scan.inconclusive.append(f"{where} --{flag.name}: {detail}")
                self.note(f"INCONCLUSIVE {where} --{flag.name}: {detail}")

    def sanity_checks(self) -> None:
        expected_globals = {
            "namespace": True, "context": True, "as": True, "v": True, "request-timeout": True,
            "insecure-skip-tls-verify": False, "match-server-version": False,
            "disable-compression": False, "warnings-as-errors": False,
        }
        for name, want in expected_globals.items():
            got = self.scan.globals.get(name)
            if got is not None and got.takes_value is not want:
                raise SystemExit(f"sanity check failed: global --{name} -> {got.takes_value}")
        expected_local = {
            ("get", "output"): True, ("get", "watch"): False, ("apply", "dry-run"): False,
            ("delete", "now"): False, ("exec", "stdin"): False, ("exec", "tty"): False,
            ("exec", "container"): True, ("scale", "replicas"): True,
        }
        for (path, name), want in expected_local.items():
            command = self.scan.commands.get(path)
            flag = command.flags.get(name) if command else None
            if flag is None or flag.takes_value is not want:
                found = None if flag is None else flag.takes_value
                raise SystemExit(f"sanity check failed: {path} --{name} -> {found}")

    def run(self) -> VersionScan:
        start = time.monotonic()
        self.scan_globals()
        self.walk(gated=False)
        self.walk(gated=True)
        self.check_complete_commands()
        self.check_flag_parsing()
        self.collect_aliases()
        self.check_prefix_matching()
        log(f"  [{self.scan.version}] {len(self.scan.commands)} commands; looking for hidden flags")
        self.find_hidden_flags()
        self.probe_all()
        self.sanity_checks()
        self.scan.seconds = time.monotonic() - start
        return self.scan


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:160]
    return ""


# --------------------------------------------------------------------------------------
# Merging and rendering
# --------------------------------------------------------------------------------------


@dataclass
class Table:
    versions: list[str]
    prefix_matching: bool
    global_flags: dict[str, bool | None]
    global_shorthands: dict[str, str]
    commands: dict[str, tuple[dict[str, bool | None], dict[str, str]]]
    aliases: dict[str, str]
    no_flag_parsing: list[str]


def merge_value(values: dict[str, bool | None], name: str, value: bool | None) -> None:
    if name not in values:
        values[name] = value
    elif values[name] != value:
        values[name] = None


def merge_shorthand(
    shorthands: dict[str, str], letter: str, name: str, where: str, conflicts: list[str]
) -> None:
    existing = shorthands.get(letter)
    if existing is not None and existing != name:
        conflicts.append(f"{where} -{letter}: --{existing} vs --{name} (kept the newer)")
    shorthands[letter] = name


def merge(scans: Sequence[VersionScan], conflicts: list[str]) -> Table:
    ordered = sorted(scans, key=lambda s: version_key(s.version))
    global_flags: dict[str, bool | None] = {"help": False}
    global_shorthands: dict[str, str] = {"h": "help"}
    commands: dict[str, tuple[dict[str, bool | None], dict[str, str]]] = {}
    aliases: dict[str, str] = {}
    no_flag_parsing: set[str] = set()
    for scan in ordered:
        for name, flag in scan.globals.items():
            merge_value(global_flags, name, flag.takes_value)
            if flag.shorthand:
                merge_shorthand(global_shorthands, flag.shorthand, name, "<global>", conflicts)
        for path, command in scan.commands.items():
            flags, shorthands = commands.setdefault(path, ({}, {}))
            if not command.flag_parsing:
                no_flag_parsing.add(path)
            for name, flag in command.flags.items():
                merge_value(flags, name, flag.takes_value)
                if flag.shorthand:
                    merge_shorthand(shorthands, flag.shorthand, name, path or "<root>", conflicts)
        for alias, target in scan.aliases.items():
            if aliases.get(alias, target) != target:
                conflicts.append(f"alias {alias!r}: {aliases[alias]!r} vs {target!r}")
            aliases[alias] = target
    return Table(
        versions=[s.version for s in ordered],
        prefix_matching=any(s.prefix_matching for s in ordered),
        global_flags=global_flags,
        global_shorthands=global_shorthands,
        commands=commands,
        aliases=aliases,
        no_flag_parsing=sorted(no_flag_parsing),
    )


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def literal(value: bool | str | None) -> str:
    if isinstance(value, str):
        return json.dumps(value)  # a valid Python string literal for these plain names
    return repr(value)


def render_dict(items: dict[str, bool | None] | dict[str, str], indent: str) -> list[str]:
    if not items:
        return ["{}"]
    lines = ["{"]
    for key in sorted(items):
        lines.append(f"{indent}    {literal(key)}: {literal(items[key])},")
    lines.append(f"{indent}}}")
    return lines


def render(table: Table) -> str:
    versions = ", ".join(table.versions)
    version_literals = ", ".join(literal(v) for v in table.versions)
    globals_, shorthands_ = table.global_flags, table.global_shorthands
    out: list[str] = [
        f"# Generated by tools/gen_kubectl_table.py from kubectl {versions}.",
        "# DO NOT EDIT BY HAND. Regenerate with:",
        "#   .venv/bin/python tools/gen_kubectl_table.py KUBECTL [KUBECTL...] \\",
        "#       > kubesafe/kubectl/table.py",
        '"""kubectl\'s command tree and, per flag, whether it consumes the next argument.',
        "",
        "Flag values: True = ``--flag VALUE`` (consumes the next argument), False = it does not",
        "(bool flags and flags with a no-option default such as ``--dry-run``, which only take a",
        "value as ``--flag=VALUE``), None = the versions disagree (or the probe was inconclusive).",
        "kubectl normalises ``_`` to ``-`` in flag names.  Everything is a plain literal so that",
        "importing this module is cheap.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        f"KUBECTL_VERSIONS: tuple[str, ...] = ({version_literals},)",
        "",
        "# Whether cobra resolves unambiguous command prefixes (EnablePrefixMatching).",
        f"PREFIX_MATCHING: bool = {table.prefix_matching!r}",
        "",
        "# long flag name -> True (consumes next arg), False (does not), None (differs)",
        "GLOBAL_FLAGS: dict[str, bool | None] = " + "\n".join(render_dict(globals_, "")),
        "",
        "GLOBAL_SHORTHANDS: dict[str, str] = " + "\n".join(render_dict(shorthands_, "")),
        "",
        '# command path ("" is the root) -> (local flags, local shorthands); local flags exclude',
        "# the global ones unless the command redefines them, and include persistent flags",
        "# inherited from non-root ancestors (e.g. config's --kubeconfig).",
        "COMMANDS: dict[str, tuple[dict[str, bool | None], dict[str, str]]] = {",
    ]
    for path in sorted(table.commands):
        flags, shorthands = table.commands[path]
        if not flags and not shorthands:
            out.append(f"    {literal(path)}: ({{}}, {{}}),")
            continue
        out.append(f"    {literal(path)}: (")
        out.append("        " + "\n".join(render_dict(flags, "        ")) + ",")
        out.append("        " + "\n".join(render_dict(shorthands, "        ")) + ",")
        out.append("    ),")
    out.append("}")
    out.append("")
    out.append("# parent path + alias word -> canonical command path")
    out.append("ALIASES: dict[str, str] = " + "\n".join(render_dict(table.aliases, "")))
    out.append("")
    out.append("# Commands that do not parse flags at all (every argument is passed through).")
    out.append("NO_FLAG_PARSING: tuple[str, ...] = (")
    out.extend(f"    {literal(path)}," for path in table.no_flag_parsing)
    out.append(")")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def scan_binaries(binaries: Sequence[Path], jobs: int, timeout: float) -> list[VersionScan]:
    with (
        tempfile.TemporaryDirectory(prefix="kubesafe-gen-") as tmp,
        ThreadPoolExecutor(max_workers=jobs) as pool,
    ):
        scanners: list[Scanner] = []
        for index, binary in enumerate(binaries):
            workdir = Path(tmp) / str(index)
            workdir.mkdir()
            kubectl = Kubectl(binary, workdir, timeout)
            version = kubectl.client_version()
            log(f"[{version}] scanning {binary} (gates: {', '.join(kubectl.gates) or 'none'})")
            scanner = Scanner(kubectl, pool, version)
            scan = scanner.run()
            scanners.append(scanner)
            flags = sum(len(c.flags) for c in scan.commands.values())
            log(
                f"[{version}] done in {scan.seconds:.0f}s: {len(scan.commands)} commands,"
                f" {flags} local flags, {len(scan.globals)} global flags, {kubectl.calls} runs"
            )
        if len(scanners) > 1:
            # A flag that one version shows may be hidden (deprecated) in another: look for
            # each version's flags in the other versions too, so their answers are compared.
            all_globals = {name for s in scanners for name in s.scan.globals}
            all_flags = {
                (path, name) for s in scanners for path, c in s.scan.commands.items()
                for name in c.flags
            }
            for scanner in scanners:
                start = time.monotonic()
                scanner.cross_check(all_globals, all_flags)
                scanner.scan.seconds += time.monotonic() - start
        return [scanner.scan for scanner in scanners]


def summarise(scans: Sequence[VersionScan], table: Table, conflicts: Sequence[str]) -> None:
    log("")
    log("== summary ==")
    for scan in scans:
        log(
            f"{scan.version}: {scan.seconds:.0f}s, {len(scan.commands)} commands,"
            f" prefix matching={scan.prefix_matching},"
            f" '_'->'-' normalisation={scan.underscore_normalization}"
        )
    total_flags = sum(len(flags) for flags, _ in table.commands.values())
    log(
        f"merged: {len(table.commands)} command paths, {total_flags} local flags,"
        f" {len(table.global_flags)} global flags, {len(table.aliases)} aliases"
    )
    nones = [f"<global> --{n}" for n, v in sorted(table.global_flags.items()) if v is None]
    for path, (flags, _) in sorted(table.commands.items()):
        nones.extend(f"{path} --{n}" for n, v in sorted(flags.items()) if v is None)
    log(f"None flags: {', '.join(nones) or 'none'}")
    for conflict in conflicts:
        log(f"conflict: {conflict}")
    for scan in scans:
        for line in scan.inconclusive:
            log(f"inconclusive [{scan.version}]: {line}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("kubectl", nargs="+", type=Path, help="kubectl binaries to scan")
    parser.add_argument(
        "--check",
        action="store_true",
        help="regenerate and compare with the checked-in table; exit 1 if it differs",
    )
    parser.add_argument("--table", type=Path, default=DEFAULT_TABLE, help="table for --check")
    parser.add_argument("--jobs", type=int, default=8, help="parallel kubectl runs")
    parser.add_argument("--timeout", type=float, default=8.0, help="seconds per kubectl run")
    args = parser.parse_args(argv)

    for binary in args.kubectl:
        if not os.access(binary, os.X_OK):
            parser.error(f"{binary} is not an executable file")
    scans = scan_binaries([binary.resolve() for binary in args.kubectl], args.jobs, args.timeout)
    conflicts: list[str] = []
    table = merge(scans, conflicts)
    text = render(table)
    summarise(scans, table, conflicts)
    if args.check:
        current = args.table.read_text(encoding="utf-8") if args.table.exists() else ""
        if current == text:
            log(f"{args.table} is up to date")
            return 0
        sys.stderr.writelines(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                str(args.table),
                "regenerated",
            )
        )
        log(f"{args.table} is out of date")
        return 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
