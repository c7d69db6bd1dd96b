"""Parse kubectl's argv the way cobra and pflag do, without running kubectl.

Two separate passes mirror kubectl itself:

* cobra's ``Find`` walks the command tree: at each level it strips what *looks*
  like flags (an unknown ``--flag`` without ``=`` is assumed to take the next
  word) and descends into the first remaining word that names a subcommand.
* pflag then parses every flag of the found command: ``--name=v``, ``--name v``,
  ``-n v``, ``-nv``, ``-n=v``, bundled booleans (``-it``), ``_`` normalised to
  ``-`` in long names, a bare ``--`` ending the flags, the last repeat winning.

A flag kubesafe does not know (a newer kubectl, a hidden flag) or one whose
arity differs between kubectl versions makes the argv ambiguous: ``parse``
returns every reading so that callers can apply the strictest one.
Stdlib only: this module is on the hot path of every kubectl call.
"""

from __future__ import annotations

import itertools

from kubesafe.kubectl import table
from kubesafe.record import Record

# Go's strconv.ParseBool spellings of true; "" is a bare boolean flag.
PARSE_BOOL_TRUE = frozenset({"", "1", "t", "T", "true", "TRUE", "True"})

# Upper bound on readings of an ambiguous argv; beyond it the argv is "unparseable".
MAX_READINGS = 16

# cobra answers these before any command runs; no cluster is contacted.
COMPLETION_COMMANDS = frozenset({"__complete", "__completeNoDesc"})


class Reading(Record):
    """One consistent interpretation of a kubectl argv."""

    __slots__ = ("after_dashdash", "command", "error", "flags", "plugin", "positionals")

    def __init__(
        self,
        command: tuple[str, ...],
        plugin: bool,
        positionals: tuple[str, ...],
        flags: dict[str, list[str]],
        after_dashdash: tuple[str, ...],
        error: str | None = None,
    ) -> None:
        # Canonical command path, e.g. ("rollout", "restart"); () for bare ``kubectl``.
        self.command = command
        # True when the first word is not a kubectl command: kubectl looks for a plugin.
        self.plugin = plugin
        # Positional words after the command path (kubectl flags removed), before ``--``.
        self.positionals = positionals
        # Long flag name -> every value given, in order (``-n a -n b`` -> ["a", "b"]).
        self.flags = flags
        # Everything after a bare ``--`` that pflag stops at.
        self.after_dashdash = after_dashdash
        # pflag would reject this argv (unknown flag, missing value); kubectl reports it.
        self.error = error

    def last(self, name: str) -> str | None:
        """The value kubectl uses for a flag: the last one given."""
        values = self.flags.get(name)
        return values[-1] if values else None

    def has(self, name: str) -> bool:
        return name in self.flags


class ParsedArgs(Record):
    """All readings of an argv; ``readings[0]`` is the one the known table implies."""

    __slots__ = ("argv", "exhaustive", "readings", "uncertain_flags")

    def __init__(
        self,
        argv: tuple[str, ...],
        readings: tuple[Reading, ...],
        uncertain_flags: tuple[str, ...] = (),
        exhaustive: bool = True,
    ) -> None:
        self.argv = argv
        self.readings = readings
        # Flags not in kubesafe's table (or of version-dependent arity) that made it ambiguous.
        self.uncertain_flags = uncertain_flags
        # False when there were too many uncertain flags to try every reading.
        self.exhaustive = exhaustive

    @property
    def primary(self) -> Reading:
        return self.readings[0]

    @property
    def ambiguous(self) -> bool:
        return len(self.readings) > 1


class _FlagSet:
    """Flags accepted by one command: long name -> takes a value (None: unknown)."""

    __slots__ = ("long", "short")

    def __init__(self, long: dict[str, bool | None], short: dict[str, str]) -> None:
        self.long = long
        self.short = short


def _normalize(name: str) -> str:
    # kubectl installs cliflag.WordSepNormalizeFunc: "_" and "-" are interchangeable.
    return name.replace("_", "-")


def _command_flags(path: str) -> _FlagSet:
    local, local_short = table.COMMANDS.get(path, ({}, {}))
    return _FlagSet({**table.GLOBAL_FLAGS, **local}, {**table.GLOBAL_SHORTHANDS, **local_short})


def command_accepts(command: tuple[str, ...], name: str) -> bool:
    """Whether kubectl's ``command`` has a flag called ``name`` (global flags included)."""
    if name in table.GLOBAL_FLAGS:
        return True
    local = table.COMMANDS.get(" ".join(command))
    return local is not None and name in local[0]


def shadows_global(command: tuple[str, ...], name: str) -> bool:
    """Whether ``command`` defines its own flag ``name``, hiding the global one.

    ``create rolebinding --user alice`` names a subject, not the kubeconfig user.
    """
    local = table.COMMANDS.get(" ".join(command))
    return local is not None and name in local[0] and name in table.GLOBAL_FLAGS


def _subcommand(parent: tuple[str, ...], word: str) -> tuple[str, ...] | None:
    candidate = " ".join((*parent, word))
    if candidate in table.COMMANDS:
        return (*parent, word)
    canonical = table.ALIASES.get(candidate)
    return tuple(canonical.split(" ")) if canonical is not None else None


class _Arity:
    """Decides whether a flag consumes the next argument.

    Known flags answer from the table; for unknown ones the answer comes from
    ``guesses`` (one bool per uncertain flag name), so that every combination
    can be tried.
    """

    def __init__(self, guesses: dict[str, bool]) -> None:
        self.guesses = guesses
        self.uncertain: list[str] = []

    def takes_value(self, flags: _FlagSet, name: str, *, cobra_default: bool) -> bool:
        known = flags.long.get(name, "missing")
        if isinstance(known, bool):
            return known
        key = f"--{name}"
        if key not in self.uncertain:
            self.uncertain.append(key)
        return self.guesses.get(key, cobra_default)

    def short_takes_value(self, flags: _FlagSet, letter: str, *, cobra_default: bool) -> bool:
        long_name = flags.short.get(letter)
        if long_name is not None:
            return self.takes_value(flags, long_name, cobra_default=cobra_default)
        key = f"-{letter}"
        if key not in self.uncertain:
            self.uncertain.append(key)
        return self.guesses.get(key, cobra_default)


def _strip_flags(args: list[str], flags: _FlagSet, arity: _Arity) -> list[str]:
    """cobra's stripFlags: the words left when flag-looking args are removed."""
    words: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            break
        if arg.startswith("--") and "=" not in arg:
            # cobra treats an unknown long flag as value-taking here.
            if arity.takes_value(flags, _normalize(arg[2:]), cobra_default=True):
                if i >= len(args):
                    break
                i += 1
            continue
        if arg.startswith("-") and "=" not in arg and len(arg) == 2:
            if arity.short_takes_value(flags, arg[1], cobra_default=True):
                if i >= len(args):
                    break
                i += 1
            continue
        if arg and not arg.startswith("-"):
            words.append(arg)
    return words


def _word_position(args: list[str], word: str, flags: _FlagSet, arity: _Arity) -> int | None:
    """Where cobra's argsMinusFirstX finds ``word``: its first non-flag occurrence."""
    pos = 0
    while pos < len(args):
        arg = args[pos]
        if arg == "--":
            break
        if arg.startswith("--") and "=" not in arg:
            if arity.takes_value(flags, _normalize(arg[2:]), cobra_default=True):
                pos += 1
        elif arg.startswith("-") and "=" not in arg and len(arg) == 2:
            if arity.short_takes_value(flags, arg[1], cobra_default=True):
                pos += 1
        elif not arg.startswith("-") and arg == word:
            return pos
        pos += 1
    return None


def _minus_first(args: list[str], word: str, flags: _FlagSet, arity: _Arity) -> list[str]:
    """cobra's argsMinusFirstX: drop the first non-flag occurrence of ``word``."""
    pos = _word_position(args, word, flags, arity)
    return args if pos is None else args[:pos] + args[pos + 1 :]


def _find_command(args: list[str], arity: _Arity) -> tuple[tuple[str, ...], list[str], bool]:
    """cobra's Find: (command path, remaining args, is-plugin)."""
    path: tuple[str, ...] = ()
    remaining = list(args)
    while True:
        flags = _command_flags(" ".join(path))
        words = _strip_flags(remaining, flags, arity)
        if not words:
            return path, remaining, False
        sub = _subcommand(path, words[0])
        if sub is None:
            # At the root an unknown first word is a plugin (or a kuberc alias);
            # deeper down it is an ordinary positional argument.
            return path, remaining, not path and words[0] not in table.COMMANDS
        remaining = _minus_first(remaining, words[0], flags, arity)
        path = sub


# Commands cobra adds only when it executes: kubectl's kuberc step (which runs
# before that) does not see them, so a kuberc alias may take their name.
_ADDED_AT_EXECUTE = frozenset({"help", "__complete", "__completeNoDesc"})


def find_command(args: list[str]) -> tuple[tuple[str, ...], bool]:
    """cobra's ``Find`` as kubectl's kuberc step calls it: (command path, found).

    Not found means the first word is not a kubectl command (a plugin, or a
    kuberc alias). Unknown flags are taken to need a value, as cobra assumes.
    """
    path, _, plugin = _find_command(args, _Arity({}))
    if plugin or (path[:1] and path[0] in _ADDED_AT_EXECUTE):
        return (), False
    return path, True


def command_word(args: list[str]) -> int | None:
    """Index of the word cobra takes for the command at the root (flags skipped)."""
    flags = _command_flags("")
    words = _strip_flags(args, flags, _Arity({}))
    return _word_position(args, words[0], flags, _Arity({})) if words else None


def flag_shorthand(command: tuple[str, ...], name: str) -> str | None:
    """The one-letter form of ``command``'s flag ``name`` (global flags included)."""
    _, local_short = table.COMMANDS.get(" ".join(command), ({}, {}))
    for letter, long_name in {**table.GLOBAL_SHORTHANDS, **local_short}.items():
        if long_name == name:
            return letter
    return None


def _parse_flags(
    args: list[str], flags: _FlagSet, arity: _Arity
) -> tuple[list[str], dict[str, list[str]], list[str], str | None]:
    """pflag's parseArgs over the found command's flags."""
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
            name = _normalize(name)
            known = name in flags.long
            if eq:
                record(name, inline)
            elif not arity.takes_value(flags, name, cobra_default=False):
                record(name, "")
            elif i < len(args):
                record(name, args[i])
                i += 1
            else:
                record(name, "")
                error = error or f"flag needs an argument: {arg}"
            if not known and name != "help":
                error = error or f"unknown flag: --{name}"
            continue
        shorthands = arg[1:]
        while shorthands:
            letter = shorthands[0]
            rest = shorthands[1:]
            long_name = flags.short.get(letter)
            name = long_name if long_name is not None else f"-{letter}"
            if long_name is None and letter != "h":
                error = error or f"unknown shorthand flag: {letter!r} in {arg}"
            if long_name is None and letter == "h":
                name = "help"
            if len(shorthands) > 2 and shorthands[1] == "=":
                record(name, shorthands[2:])
                break
            if not arity.short_takes_value(flags, letter, cobra_default=False) or name == "help":
                record(name, "")
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


def _read(argv: list[str], guesses: dict[str, bool]) -> tuple[Reading, list[str]]:
    arity = _Arity(guesses)
    path, remaining, plugin = _find_command(argv, arity)
    if plugin:
        # kubectl hands everything after the plugin name to the plugin; flags
        # before it are an error. Plugins built on cli-runtime accept the
        # global flags, so read those from the plugin's own arguments.
        name_index = next(i for i, a in enumerate(argv) if a and not a.startswith("-"))
        flags = _FlagSet(dict(table.GLOBAL_FLAGS), dict(table.GLOBAL_SHORTHANDS))
        positionals, values, rest, _ = _parse_flags(argv[name_index + 1 :], flags, arity)
        error = None if name_index == 0 else "flags cannot be placed before plugin name"
        if name_index:
            # kubectl refuses this today ("prod" in "--context prod foo" is taken for
            # the plugin's name). Should it ever run, the flags as the user meant them
            # (--context prod) must still decide the target.
            _, meant, _, _ = _parse_flags(argv, flags, arity)
            values = {**values, **meant}
        reading = Reading(
            command=(argv[name_index],),
            plugin=True,
            positionals=tuple(positionals),
            flags=values,
            after_dashdash=tuple(rest),
            error=error,
        )
        return reading, arity.uncertain
    flags = _command_flags(" ".join(path))
    positionals, values, rest, error = _parse_flags(remaining, flags, arity)
    reading = Reading(
        command=path,
        plugin=False,
        positionals=tuple(positionals),
        flags=values,
        after_dashdash=tuple(rest),
        error=error,
    )
    return reading, arity.uncertain


def parse(argv: list[str] | tuple[str, ...]) -> ParsedArgs:
    """Parse kubectl's arguments (without the program name). Never raises."""
    args = list(argv)
    first, uncertain = _read(args, {})
    if not uncertain:
        return ParsedArgs(tuple(args), (first,))
    readings: list[Reading] = [first]
    seen_uncertain = list(uncertain)
    combos = 1 << len(seen_uncertain)
    if combos > MAX_READINGS:
        # Too many unknowns to enumerate: report them; callers fail closed.
        return ParsedArgs(tuple(args), (first,), tuple(seen_uncertain), exhaustive=False)
    for guess in itertools.product((True, False), repeat=len(seen_uncertain)):
        reading, _ = _read(args, dict(zip(seen_uncertain, guess, strict=True)))
        if reading not in readings:
            readings.append(reading)
    return ParsedArgs(tuple(args), tuple(readings), tuple(seen_uncertain))
