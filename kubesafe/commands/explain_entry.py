"""``kubesafe explain`` without click: its usual command lines, read as click reads them.

explain is the first kubesafe call after many a kubeconfig change, and click's import
alone costs more than the shim's whole decision. :func:`run` answers the command lines
whose reading by click is certain and returns None for the rest (help, ``--json=...``,
a short option group that holds ``-h``, shell completion), which click then parses.
"""

from __future__ import annotations

import os
import sys

_FLAGS = frozenset({"--json", "--helm", "--preview"})


def parse(args: list[str]) -> tuple[frozenset[str], list[str]] | None:
    """(explain's flags, the kubectl or helm words) as click reads ``args``; None: ask click.

    click takes its options anywhere before ``--``, keeps options it does not know as
    words (``ignore_unknown_options``) and reads a single-dash word as a group of short
    options, of which explain knows only ``-h``.
    """
    flags: set[str] = set()
    words: list[str] = []
    for index, arg in enumerate(args):
        if arg == "--":
            words += args[index + 1 :]
            break
        if arg in _FLAGS:
            flags.add(arg)
            continue
        if len(arg) > 1 and arg[0] == "-":
            if arg[1] == "-":
                if arg.partition("=")[0] in (*_FLAGS, "--help"):
                    return None
            elif "h" in arg:
                return None
        words.append(arg)
    return frozenset(flags), words


def run(args: list[str]) -> int | None:
    """``kubesafe explain ARGS...`` as the click command runs it; None: let click run it."""
    parsed = parse(args)
    if parsed is None or "_KUBESAFE_COMPLETE" in os.environ:  # click's completion variable
        return None
    flags, words = parsed
    from kubesafe.commands.explain import explain
    from kubesafe.echo import echo

    try:
        text, failed = explain(
            words,
            as_json="--json" in flags,
            for_helm="--helm" in flags,
            with_preview="--preview" in flags,
        )
        echo(text)
    except (EOFError, KeyboardInterrupt):
        sys.stderr.write("\nAborted!\n")  # click's words
        return 1
    except BrokenPipeError:
        _pacify_streams()
        return 1
    return 1 if failed else 0


def _pacify_streams() -> None:
    """What click does on EPIPE: no second error when Python flushes stdout at exit."""
    from click.utils import _PacifyFlushWrapper  # rare: the reader went away; click's own

    sys.stdout = _PacifyFlushWrapper(sys.stdout)
    sys.stderr = _PacifyFlushWrapper(sys.stderr)
