"""kubectl's kuberc preferences: aliases and flag defaults that change the real command.

Which kubectl runs matters: 1.31-1.32 read no kuberc; 1.33 reads a v1alpha1
kuberc only with ``KUBECTL_KUBERC=true``; 1.34+ reads v1alpha1 and v1beta1
unless ``KUBECTL_KUBERC=false``. The file is the first ``--kuberc`` (before a
bare ``--``), else (1.35+ only) ``$KUBERC``, else ``$HOME/.kube/kuberc``
(``./.kube/kuberc`` with no ``HOME``); ``KUBERC=off`` turns it off.

``effective_argvs`` rewrites argv into an equivalent command line kubesafe's
parser reads as kubectl will run it. The rules, from kubectl's
``pkg/kuberc`` and checked against real kubectl:

* An alias applies only when the first word is not a kubectl command; the
  alias's ``command`` is looked up like cobra's ``Find`` (flags and extra words
  in it are ignored), its ``prependArgs`` go right after the alias word and its
  ``appendArgs`` at the very end (after any ``--``).
* A default applies to every command whose leaf name is that of its
  ``command`` (``config view`` and ``kuberc view`` alike), never to an alias.
* A default or alias option is dropped when the flag appears anywhere in argv
  (a ``--context`` after ``--`` too), in kubectl's own loose sense of
  "appears"; otherwise it is set before argv is parsed, so argv still wins.

A kuberc kubectl cannot decode is ignored (or, when named explicitly, makes
kubectl refuse to run): either way argv runs unchanged.
"""

from __future__ import annotations

import os

from kubesafe.kubeconfig.cache import FileIndex, FileReadError
from kubesafe.kubectl import args as kubectl_args

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

# kubectl minors whose kuberc handling differs; an unknown kubectl may be any of them
# (and 1.31/1.32, which read none).
FAMILIES = (35, 34, 33)

# (command, [(flag, default)]) per default; (name, command, prepend, append,
# [(flag, default)]) per alias
Options = list[tuple[str, str]]
Defaults = list[tuple[str, Options]]
Aliases = list[tuple[str, str, list[str], list[str], Options]]


class KubercError(Exception):
    """A kuberc whose effect kubesafe cannot tell (YAML it cannot read)."""


def reads_kuberc(minor: int, env: Mapping[str, str]) -> bool:
    """Whether kubectl 1.<minor> reads a kuberc at all (its feature gate)."""
    gate = env.get("KUBECTL_KUBERC", "").lower()
    if minor <= 32:
        return False
    if minor == 33:
        return gate == "true"
    return gate != "false"


def explicit_kuberc(argv: list[str] | tuple[str, ...]) -> tuple[str, bool]:
    """kubectl's scan for ``--kuberc``: the first one before ``--`` wins.

    Returns (path, ok); ok is False when kubectl refuses (no value given).
    """
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--kuberc":
            return (argv[i + 1], True) if i + 1 < len(argv) else ("", False)
        if "--kuberc=" in arg:
            value = arg.split("=")[1]
            return (value, True) if value else ("", False)
    return "", True


def locate(
    argv: list[str] | tuple[str, ...], env: Mapping[str, str], minor: int
) -> tuple[str, bool] | None:
    """(file, named explicitly) that kubectl 1.<minor> reads, or None for none."""
    if not reads_kuberc(minor, env):
        return None
    flag, ok = explicit_kuberc(argv)
    if not ok:
        return None  # kubectl refuses to run
    variable = env.get("KUBERC", "")
    if variable == "off":
        return None  # with --kuberc too, kubectl refuses to run
    # Go's filepath.Join drops an empty HOME: the path is then relative to the cwd.
    home = env.get("HOME", "")
    default = os.path.join(home, ".kube", "kuberc") if home else os.path.join(".kube", "kuberc")
    if minor >= 35 and variable and (not flag or flag == default):
        return variable, True
    return (flag, True) if flag else (default, False)


def _valid(defaults: Defaults, aliases: Aliases) -> bool:
    """kubectl's checks; a kuberc failing them makes every kubectl command fail."""
    names: set[str] = set()
    for name, _, _, _, options in aliases:
        if not name.isascii() or not name.isalpha() or name in names:
            return False
        names.add(name)
        if any(option.startswith("-") for option, _ in options):
            return False
    return not any(option.startswith("-") for _, options in defaults for option, _ in options)


def preferences(
    documents: list[Any], minor: int, explicit: bool
) -> tuple[Defaults, Aliases] | None:
    """What kubectl 1.<minor> takes from a decoded kuberc (None: nothing applies).

    Raises KubercError when a document kubesafe cannot read comes before the one
    kubectl would use: go-yaml might read it differently.
    """
    for document in documents:
        kind = document[0]
        if kind == "fatal":
            return None
        if kind == "syntax":
            raise KubercError(document[1])
        if kind != "preference":
            continue
        _, version, strict, defaults, aliases = document
        if version == "v1beta1" and minor < 34:
            continue  # 1.33 knows only v1alpha1
        if strict and minor == 33 and not explicit:
            return None  # 1.33 ignores a default kuberc with unknown fields
        return (defaults, aliases) if _valid(defaults, aliases) else None
    return None


def _decode(content: bytes) -> list[Any]:
    from kubesafe.kubectl.kuberc_decode import decode

    return decode(content)


def _documents(path: str, index: FileIndex) -> list[Any] | None:
    try:
        return index.read(os.path.abspath(path), "kuberc-documents", _decode)
    except FileReadError:
        return None  # kubectl warns (or, explicitly named, refuses) and applies nothing


def load(
    argv: list[str] | tuple[str, ...], env: Mapping[str, str], index: FileIndex, minor: int
) -> tuple[Defaults, Aliases] | None:
    """The preferences kubectl 1.<minor> applies to argv, or None."""
    found = locate(argv, env, minor)
    documents = _documents(found[0], index) if found is not None else None
    return _chosen(documents, found, minor)


def _chosen(
    documents: list[Any] | None, found: tuple[str, bool] | None, minor: int
) -> tuple[Defaults, Aliases] | None:
    if documents is None or found is None:
        return None
    try:
        return preferences(documents, minor, found[1])
    except KubercError as exc:
        raise KubercError(f"kuberc {found[0]}: {exc}") from None


def given(name: str, shorthand: str | None, args: list[str]) -> bool:
    """kubectl's searchInArgs: whether a flag counts as already set on the command line.

    It looks at every word, after ``--`` too, and treats any word starting with
    ``-<shorthand>`` (or a ``-abc`` bundle containing it) as the flag.
    """
    long_form = f"--{name}"
    for arg in args:
        if arg == long_form or arg.startswith(f"{long_form}="):
            return True
        if not shorthand:
            continue
        if arg.startswith(f"-{shorthand}"):
            return True
        bundle = arg[1:]
        if arg.startswith("-") and bundle.isascii() and bundle.isalpha() and shorthand in bundle:
            return True
    return False


def _option_flags(command: tuple[str, ...], options: Options, args: list[str]) -> list[str]:
    flags: list[str] = []
    for option, value in options:
        name = option.replace("_", "-")
        if not given(name, kubectl_args.flag_shorthand(command, name), args):
            flags.append(f"--{name}={value}")
    return flags


def _leaf(command: tuple[str, ...]) -> str:
    return command[-1] if command else "kubectl"


def _with_defaults(argv: list[str], command: tuple[str, ...], defaults: Defaults) -> list[str]:
    added: list[str] = []
    for words, options in defaults:
        target, found = kubectl_args.find_command(words.split())
        if found and _leaf(target) == _leaf(command):
            added += _option_flags(command, options, argv)
    # Set before argv is parsed: a flag in argv still wins.
    return [*added, *argv]


def _with_alias(
    argv: list[str], defaults: Defaults, aliases: Aliases, minor: int
) -> list[str] | None:
    position = next(
        (
            i
            for i, arg in enumerate(argv)
            if not arg.startswith("-") and (minor < 34 or not arg.startswith("__complete"))
        ),
        None,
    )
    if position is None:
        return None
    word = argv[position]
    alias = next((entry for entry in aliases if entry[0] == word), None)
    if alias is None or kubectl_args.find_command([word])[1]:
        return None  # not an alias, or one shadowing a built-in (ignored)
    _, command_words, prepend, append, options = alias
    command, found = kubectl_args.find_command(command_words.split())
    if not found:
        return None  # kubectl refuses to run
    for words, _ in defaults:
        target, known = kubectl_args.find_command(words.split())
        first = next((w for w in words.split() if not w.startswith("-")), "")
        if first == word or (known and _leaf(target) == word):
            return None  # "alias ... can not be overridden": kubectl refuses to run
    added = _option_flags(command, options, argv)
    expanded = [*argv[: position + 1], *prepend, *argv[position + 1 :], *append]
    seen = kubectl_args.command_word(expanded)
    if seen is None or expanded[seen] != word:
        return expanded  # cobra will not reach the alias; argv is read as it stands
    return [*added, *expanded[:seen], *command, *expanded[seen + 1 :]]


def expand(
    argv: list[str] | tuple[str, ...], defaults: Defaults, aliases: Aliases, minor: int
) -> list[str] | None:
    """argv as kubectl 1.<minor> runs it under these preferences, or None when unchanged."""
    args = list(argv)
    command, found = kubectl_args.find_command(args)
    if found:
        result = _with_defaults(args, command, defaults)
    else:
        expanded = _with_alias(args, defaults, aliases, minor)
        if expanded is None:
            return None
        result = expanded
    return result if result != args else None


def effective_argvs(
    argv: list[str] | tuple[str, ...],
    env: Mapping[str, str],
    index: FileIndex,
    minors: tuple[int, ...],
) -> list[list[str] | None]:
    """argv as each kubectl 1.<minor> really runs it (None: unchanged by any kuberc).

    Raises KubercError when kubesafe cannot tell.
    """
    if len(argv) < 1:
        return [None for _ in minors]
    results: list[list[str] | None] = []
    files: dict[str, list[Any] | None] = {}
    expanded: dict[tuple[int, int, bool], list[str] | None] = {}
    for minor in minors:
        found = locate(argv, env, minor)
        if found is not None and found[0] not in files:
            files[found[0]] = _documents(found[0], index)
        chosen = _chosen(files[found[0]] if found else None, found, minor)
        if chosen is None:
            results.append(None)
            continue
        # kubectls reading the same document differ only in the __complete rule. The
        # documents stay referenced by ``files``, so the ids are stable here.
        key = (id(chosen[0]), id(chosen[1]), minor >= 34)
        if key not in expanded:
            expanded[key] = expand(argv, chosen[0], chosen[1], minor)
        results.append(expanded[key])
    return results
