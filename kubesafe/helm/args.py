"""Parse helm's argv the way helm, cobra and pflag do, without running helm.

helm reads its global flags (``--kube-context``, ``-n``, ``--kubeconfig``,
``--kube-apiserver``...) in up to three passes, and the last one that sets a
flag wins:

1. At start-up, before any command is found, pflag parses the *whole* argv
   with the global flags only, skipping unknown flags (an unknown ``--flag``
   swallows the next word unless that starts with ``-``) and stopping at ``--``
   or ``-h``. So ``helm list --filter -nfoo`` really lists namespace ``foo``.
2. For a built-in command, cobra finds the command and pflag parses its flags
   (global ones included) properly: these values replace those of pass 1.
3. For a plugin, helm picks the known global flags out of the plugin's
   arguments by hand (``--`` does not stop it, ``-nfoo`` is not recognised)
   and parses only those; these replace the values of pass 1.

A flag kubesafe does not know (a newer helm) may or may not take a value:
``parse`` returns every reading that matters so that callers apply the
strictest. Stdlib only: this module is on the hot path of every helm call.
"""

from __future__ import annotations

import itertools

from kubesafe.helm import table
from kubesafe.record import Record

MAX_READINGS = 16

COMPLETION_COMMANDS = frozenset({"__complete", "__completeNoDesc"})

# The value recorded for a flag given without one (``--dry-run``, ``--force``): pflag
# then uses the flag's no-option default, which is not what ``--flag=`` means (helm
# 3.17 reads ``--dry-run=`` as "none"). NUL cannot occur in a real argument.
BARE = "\0"

# The global flags helm hands to a plugin when it finds them in the plugin's arguments.
_PLUGIN_VALUE_FLAGS = frozenset(
    {
        "--kube-context",
        "--namespace",
        "-n",
        "--kubeconfig",
        "--kube-apiserver",
        "--kube-token",
        "--kube-as-user",
        "--kube-as-group",
        "--kube-ca-file",
        "--registry-config",
        "--repository-cache",
        "--repository-config",
        "--kube-insecure-skip-tls-verify",
        "--kube-tls-server-name",
    }
)


class HelmReading(Record):
    """One consistent interpretation of a helm argv."""

    __slots__ = ("after_dashdash", "command", "error", "flags", "globals", "plugin", "positionals")

    def __init__(
        self,
        command: tuple[str, ...],
        plugin: bool,
        positionals: tuple[str, ...],
        flags: dict[str, list[str]],
        global_values: dict[str, str],
        after_dashdash: tuple[str, ...] = (),
        error: str | None = None,
    ) -> None:
        # Canonical command path, e.g. ("get", "values"); (NAME,) for a plugin.
        self.command = command
        self.plugin = plugin
        self.positionals = positionals
        # The command's own flag parse: long name -> every value given.
        self.flags = flags
        # The global flags as helm's settings end up after all passes: name -> value.
        self.globals = global_values
        self.after_dashdash = after_dashdash
        # helm would reject this argv (unknown flag, missing value) and run nothing.
        self.error = error

    def last(self, name: str) -> str | None:
        values = self.flags.get(name)
        return values[-1] if values else None

    def has(self, name: str) -> bool:
        return name in self.flags


class HelmArgs(Record):
    """All readings of a helm argv; ``readings[0]`` is the one the known table implies."""

    __slots__ = ("argv", "exhaustive", "readings", "uncertain_flags")

    def __init__(
        self,
        argv: tuple[str, ...],
        readings: tuple[HelmReading, ...],
        uncertain_flags: tuple[str, ...] = (),
        exhaustive: bool = True,
    ) -> None:
        self.argv = argv
        self.readings = readings
        self.uncertain_flags = uncertain_flags
        self.exhaustive = exhaustive

    @property
    def primary(self) -> HelmReading:
        return self.readings[0]

    @property
    def ambiguous(self) -> bool:
        return len(self.readings) > 1


class _FlagSet:
    __slots__ = ("long", "short")

    def __init__(self, long: dict[str, bool | None], short: dict[str, str]) -> None:
        self.long = long
        self.short = short


_GLOBALS = _FlagSet(table.GLOBAL_FLAGS, table.GLOBAL_SHORTHANDS)


def _command_flags(path: str) -> _FlagSet:
    local, short = table.COMMANDS.get(path, ({}, {}))
    return _FlagSet({**table.GLOBAL_FLAGS, **local}, {**table.GLOBAL_SHORTHANDS, **short})


def _known_anywhere(name: str) -> bool:
    return name in table.GLOBAL_FLAGS or any(name in f for f, _ in table.COMMANDS.values())


def _short_known_anywhere(letter: str) -> bool:
    return letter in table.GLOBAL_SHORTHANDS or any(letter in s for _, s in table.COMMANDS.values())


class _Arity:
    """Whether a flag consumes the next word; unknown flags answer from ``guesses``."""

    def __init__(self, guesses: dict[str, bool]) -> None:
        self.guesses = guesses
        self.uncertain: list[str] = []

    def _guess(self, key: str, default: bool) -> bool:
        if key not in self.uncertain:
            self.uncertain.append(key)
        return self.guesses.get(key, default)

    def long(self, flags: _FlagSet, name: str, *, default: bool, strict: bool = True) -> bool:
        """``strict``: a flag of another helm command is as uncertain as an unknown one."""
        known = flags.long.get(name, "missing")
        if isinstance(known, bool):
            return known
        if known == "missing" and not strict and _known_anywhere(name):
            return default  # cobra's fixed assumption for another command's flag
        return self._guess(f"--{name}", default)

    def short(self, flags: _FlagSet, letter: str, *, default: bool, strict: bool = True) -> bool:
        name = flags.short.get(letter)
        if name is not None:
            return self.long(flags, name, default=default)
        if not strict and _short_known_anywhere(letter):
            return default
        return self._guess(f"-{letter}", default)


def _strip_flags(args: list[str], flags: _FlagSet, arity: _Arity) -> list[str]:
    """cobra's stripFlags, up to the first word left once flag-looking args are removed."""
    words: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            break
        takes = False
        if arg.startswith("--") and "=" not in arg:
            takes = arity.long(flags, arg[2:], default=True, strict=False)
        elif arg.startswith("-") and "=" not in arg and len(arg) == 2:
            takes = arity.short(flags, arg[1], default=True, strict=False)
        elif arg and not arg.startswith("-"):
            words.append(arg)
            break  # cobra's Find only looks at the first word
        if takes:
            if len(args) - i <= 1:
                break  # cobra's quirk: a value in last place ends the scan
            i += 1
    return words


def _minus_first(args: list[str], word: str, flags: _FlagSet, arity: _Arity) -> list[str]:
    """cobra's argsMinusFirstX: drop the first non-flag occurrence of ``word``."""
    pos = 0
    while pos < len(args):
        arg = args[pos]
        if arg == "--":
            break
        if arg.startswith("--") and "=" not in arg:
            if arity.long(flags, arg[2:], default=True, strict=False):
                pos += 1
        elif arg.startswith("-") and "=" not in arg and len(arg) == 2:
            if arity.short(flags, arg[1], default=True, strict=False):
                pos += 1
        elif not arg.startswith("-") and arg == word:
            return args[:pos] + args[pos + 1 :]
        pos += 1
    return args


def command_index(argv: list[str] | tuple[str, ...]) -> int | None:
    """Where the first command word (``install``, a plugin name...) stands in argv."""
    args = list(argv)
    flags = _command_flags("")
    arity = _Arity({})
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return None
        if arg.startswith("--") and "=" not in arg:
            if arity.long(flags, arg[2:], default=True, strict=False):
                i += 1
        elif arg.startswith("-") and "=" not in arg and len(arg) == 2:
            if arity.short(flags, arg[1], default=True, strict=False):
                i += 1
        elif arg and not arg.startswith("-"):
            return i
        i += 1
    return None


def _subcommand(parent: tuple[str, ...], word: str) -> tuple[str, ...] | None:
    candidate = " ".join((*parent, word))
    if candidate in table.COMMANDS:
        return (*parent, word)
    canonical = table.ALIASES.get(candidate)
    return tuple(canonical.split(" ")) if canonical is not None else None


def _find(args: list[str], arity: _Arity) -> tuple[tuple[str, ...], list[str], str | None]:
    """cobra's Find: (command path, remaining args, plugin name or None)."""
    path: tuple[str, ...] = ()
    remaining = list(args)
    while True:
        flags = _command_flags(" ".join(path))
        words = _strip_flags(remaining, flags, arity)
        if not words:
            return path, remaining, None
        if not path and (words[0] in COMPLETION_COMMANDS or words[0] == "help"):
            return (words[0],), _minus_first(remaining, words[0], flags, arity), None
        sub = _subcommand(path, words[0])
        if sub is None:
            # An unknown first word is a plugin (helm's only other kind of command).
            plugin = words[0] if not path else None
            rest = _minus_first(remaining, words[0], flags, arity) if plugin else remaining
            return path, rest, plugin
        remaining = _minus_first(remaining, words[0], flags, arity)
        path = sub


def _parse_flags(
    args: list[str], flags: _FlagSet, arity: _Arity
) -> tuple[list[str], dict[str, list[str]], list[str], str | None]:
    """pflag's parseArgs (no unknown flags allowed): positionals, values, after --, error."""
    positionals: list[str] = []
    values: dict[str, list[str]] = {}
    error: str | None = None

    def record(name: str, value: str) -> None:
        values.setdefault(name, []).append(value)

    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if len(arg) < 2 or arg[0] != "-":
            positionals.append(arg)
            continue
        if arg == "--":
            return positionals, values, args[i:], error
        if arg[1] == "-":
            body = arg[2:]
            if body.startswith(("-", "=")):
                error = error or f"bad flag syntax: {arg}"
                continue
            name, eq, inline = body.partition("=")
            if eq:
                record(name, inline)
            elif i >= len(args) and name not in flags.long:
                record(name, BARE)  # nothing follows: its arity cannot matter
            elif not arity.long(flags, name, default=False):
                record(name, BARE)
            elif i < len(args):
                record(name, args[i])
                i += 1
            else:
                record(name, "")
                error = error or f"flag needs an argument: {arg}"
            if name not in flags.long and name != "help":
                error = error or f"unknown flag: --{name}"
            continue
        shorthands = arg[1:]
        while shorthands:
            letter, rest = shorthands[0], shorthands[1:]
            long_name = flags.short.get(letter)
            name = long_name if long_name is not None else f"-{letter}"
            if long_name is None:
                if letter == "h":
                    name = "help"
                else:
                    error = error or f"unknown shorthand flag: {letter!r} in {arg}"
            if len(shorthands) > 2 and shorthands[1] == "=":
                record(name, shorthands[2:])
                break
            if name == "help" or not arity.short(flags, letter, default=False):
                record(name, BARE)
                shorthands = rest
                continue
            if rest:
                record(name, rest)
            elif i < len(args):
                record(name, args[i])
                i += 1
            else:
                record(name, "")
                error = error or f"flag needs an argument: {letter!r} in {arg}"
            break
    return positionals, values, [], error


def _strip_unknown_value(args: list[str], i: int) -> int:
    """pflag's stripUnknownFlagValue: an unknown flag takes the next word unless it is a flag."""
    if i < len(args) and not args[i].startswith("-"):
        return i + 1
    return i


def _sets_global(arg: str) -> bool:
    if arg.startswith("--"):
        return arg[2:].partition("=")[0] in table.GLOBAL_FLAGS
    return len(arg) > 1 and arg[0] == "-" and arg[1] in table.GLOBAL_SHORTHANDS


def _early_globals(args: list[str], arity: _Arity) -> dict[str, str]:
    """helm's start-up parse of the global flags over the whole argv (pass 1)."""
    found: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            break
        if len(arg) < 2 or arg[0] != "-":
            continue
        if arg[1] == "-":
            name, eq, inline = arg[2:].partition("=")
            if name == "help" or arg[2:3] in ("-", "="):
                break  # pflag stops: ErrHelp or bad syntax
            if name not in table.GLOBAL_FLAGS:
                if eq:
                    continue
                # A flag helm may know as a global (a newer helm) swallows any next
                # word; that matters only when the next word sets a global flag.
                if not _known_anywhere(name) and i < len(args) and _sets_global(args[i]):
                    if arity.long(_GLOBALS, name, default=False):
                        i += 1
                    continue
                i = _strip_unknown_value(args, i)
                continue
            if eq:
                found[name] = inline
            elif not arity.long(_GLOBALS, name, default=False):
                found[name] = "true"
            elif i < len(args):
                found[name] = args[i]
                i += 1
            else:
                break  # flag needs an argument: pflag stops
            continue
        shorthands = arg[1:]
        while shorthands:
            letter, rest = shorthands[0], shorthands[1:]
            name = table.GLOBAL_SHORTHANDS.get(letter, "")
            if not name:
                if letter == "h":
                    return found
                if len(shorthands) > 2 and shorthands[1] == "=":
                    break
                i = _strip_unknown_value(args, i)
                shorthands = rest
                continue
            if len(shorthands) > 2 and shorthands[1] == "=":
                found[name] = shorthands[2:]
                break
            if not arity.long(_GLOBALS, name, default=False):
                found[name] = "true"
                shorthands = rest
                continue
            if rest:
                found[name] = rest
            elif i < len(args):
                found[name] = args[i]
                i += 1
            else:
                return found
            break
    return found


def _plugin_globals(args: list[str], arity: _Arity) -> tuple[dict[str, list[str]], str | None]:
    """The global flags helm picks out of a plugin's arguments by hand (pass 3)."""
    known: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--debug":
            known.append(arg)
        elif arg in _PLUGIN_VALUE_FLAGS:
            known.append(arg)
            if i < len(args):
                known.append(args[i])
                i += 1
        elif any(arg.startswith(flag + "=") for flag in _PLUGIN_VALUE_FLAGS):
            known.append(arg)
    _, values, _, error = _parse_flags(known, _GLOBALS, arity)
    return values, error


def _combine(early: dict[str, str], later: dict[str, list[str]]) -> dict[str, str]:
    combined = dict(early)
    for name, values in later.items():
        if name in table.GLOBAL_FLAGS and values:
            combined[name] = values[-1]
    return combined


def _read(argv: list[str], guesses: dict[str, bool]) -> tuple[HelmReading, list[str]]:
    arity = _Arity(guesses)
    path, remaining, plugin = _find(argv, arity)
    early = _early_globals(argv, arity)
    if plugin is not None:
        values, error = _plugin_globals(remaining, arity)
        reading = HelmReading(
            command=(plugin,),
            plugin=True,
            positionals=tuple(remaining),
            flags=values,
            global_values=_combine(early, values),
            error=error,
        )
        return reading, arity.uncertain
    flags = _command_flags(" ".join(path))
    positionals, values, rest, error = _parse_flags(remaining, flags, arity)
    reading = HelmReading(
        command=path,
        plugin=False,
        positionals=tuple(positionals),
        flags=values,
        global_values=_combine(early, values),
        after_dashdash=tuple(rest),
        error=error,
    )
    return reading, arity.uncertain


def parse(argv: list[str] | tuple[str, ...]) -> HelmArgs:
    """Parse helm's arguments (without the program name). Never raises."""
    args = list(argv)
    first, uncertain = _read(args, {})
    if not uncertain:
        return HelmArgs(tuple(args), (first,))
    if 1 << len(uncertain) > MAX_READINGS:
        return HelmArgs(tuple(args), (first,), tuple(uncertain), exhaustive=False)
    readings = [first]
    for guess in itertools.product((True, False), repeat=len(uncertain)):
        reading, _ = _read(args, dict(zip(uncertain, guess, strict=True)))
        if reading not in readings:
            readings.append(reading)
    return HelmArgs(tuple(args), tuple(readings), tuple(uncertain))
