"""``kubesafe ns`` without arguments, off a terminal: the cached list before click is imported.

Listing 20,000 namespaces from the cache must take less than 50 ms, and click with
the switching machinery (YAML, the kubeconfig writer) costs more than that on its own.
This path reads only the parsed-file cache and the namespace cache. Anything else
(a picker, no current context, an unknown context) returns None, and the full
command runs and says what is wrong exactly as before.
"""

from __future__ import annotations

import sys

from kubesafe.commands.listing import interactive, render_list
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubeconfig.resolve import Overrides, ResolveError, load_merged
from kubesafe.shell.names import NO_CONTEXT
from kubesafe.shell.session import active_session, sync_shadows

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def list_fast(env: Mapping[str, str]) -> int | None:
    """Print the current context's namespaces and return 0 or 1; None: use the full command."""
    if interactive(env):
        return None  # the picker, then maybe a switch: the full command
    index = FileIndex()
    session = active_session(env)
    if session is not None:
        sync_shadows(session, env, index)  # what Switcher does first, too
    try:
        merged = load_merged(Overrides(), env, index)
    except ResolveError:
        return None
    finally:
        index.save()
    context = merged.current_context
    entry = merged.contexts.get(context)
    if context in ("", NO_CONTEXT) or entry is None:
        return None
    from kubesafe.namespaces import NamespaceLookupError, list_namespaces

    try:
        names = list_namespaces(context, env)
    except NamespaceLookupError as exc:
        sys.stderr.write(f"kubesafe: {exc}\n")
        return 1
    text = render_list(names, entry[2] or "default", env)
    if text:
        sys.stdout.write(text + "\n")
    return 0
