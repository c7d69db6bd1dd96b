"""``kubesafe ctx`` and ``kubesafe ns``: kubectx and kubens, per terminal.

Messages go to stderr and lists to stdout, as kubectx does, so that
``kubesafe ctx -c`` and ``kubesafe ctx | grep`` stay scriptable.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence

from kubesafe.commands.errors import CommandError
from kubesafe.commands.listing import color_enabled as _color
from kubesafe.commands.listing import interactive as _interactive
from kubesafe.commands.listing import paint as _paint
from kubesafe.commands.listing import render_list as _list
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubeconfig.resolve import Merged, Overrides, ResolveError, load_merged, resolve_merged
from kubesafe.level_words import levels_words
from kubesafe.policy import PRODUCTION_NAMES, endpoint_rules, load_policy, protection
from kubesafe.switching import Switcher, SwitchError
from kubesafe.verdict import approval_label

CURRENT_ALIAS = "."


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def protection_notice(
    env: Mapping[str, str],
    merged: Merged,
    *,
    context: str = "",
    namespace: str = "",
    index: FileIndex | None = None,
) -> str | None:
    """A line for the terminal when the target a plain kubectl hits is protected.

    ``merged`` is the kubeconfig as read before the switch, with the new
    context or namespace given as overrides: reading a large kubeconfig again
    just for this would double the cost of a switch. ``index``: a parsed-file
    cache that already holds ``merged``'s files (the switcher's), so that the
    endpoint index of their clusters comes from the cache instead of parsing
    every server URL again; without one it is computed from ``merged``.
    """
    try:
        target = resolve_merged(merged, Overrides(context=context, namespace=namespace), env)
    except ResolveError:
        return None
    policy = load_policy(env, FileIndex() if index is None else index)
    if policy.error:
        return f"{policy.error}: every write is refused until it is fixed"
    endpoints = endpoint_rules(policy, merged, target, index)
    namespaces = (target.namespace,)
    write = protection(
        policy, target, mutating=True, destructive=False, namespaces=namespaces, endpoints=endpoints
    )
    if not write.protected or write.environment is None:
        return None
    destructive = protection(
        policy, target, mutating=True, destructive=True, namespaces=namespaces, endpoints=endpoints
    )
    label = write.environment.upper()
    levels = levels_words(write.level, destructive.level, approval_label(target, destructive))
    return f"{target.context} ({target.namespace}) is {label}: {levels}"


def _notify_protection(
    switcher: Switcher, merged: Merged, *, context: str = "", namespace: str = ""
) -> None:
    env = switcher.env
    index = switcher.index
    notice = protection_notice(env, merged, context=context, namespace=namespace, index=index)
    if notice is None:
        return
    enabled = _color(env, sys.stderr.isatty())
    red = any(name.upper() in notice for name in PRODUCTION_NAMES)
    _say(_paint(f"⚠ {notice}", "1;31" if red else "1;33", enabled))


def _warn_missing_files(switcher: Switcher) -> None:
    """Name the kubeconfig files that do not exist (kubectx's warning, with the file)."""
    for path in switcher.missing_files():
        _say(f"warning: kubeconfig file not found: {path}")


def _scope(switcher: Switcher, global_: bool) -> str:
    """Said after kubectx's own sentence, which scripts grep whole (period included)."""
    if switcher.per_terminal and not global_:
        return " (in this terminal)"
    return ""


def _guard(action: Callable[[], str | None]) -> str | None:
    try:
        return action()
    except SwitchError as exc:
        raise CommandError(str(exc)) from None


def context_environments(env: Mapping[str, str]) -> dict[str, str]:
    """Each protected context's environment, as the safety checks see it.

    A context is protected by its own rules, or because another context that
    shares its cluster or API server is (the same endpoint, reached by another
    name); computed per endpoint so that a thousand contexts stay instant.
    """
    from kubesafe.endpoint import url_keys
    from kubesafe.kubeconfig.resolve import Target
    from kubesafe.policy import level_rank

    index = FileIndex()
    try:
        merged = load_merged(Overrides(), env, index)
    except ResolveError:
        return {}
    policy = load_policy(env, index)
    found: dict[str, tuple[int, str]] = {}
    by_endpoint: dict[str, tuple[int, str]] = {}
    endpoints: dict[str, tuple[str, ...]] = {}
    for name, (cluster, user, namespace, extension) in merged.contexts.items():
        server, cluster_extension = merged.clusters.get(cluster, ("", None))
        target = Target(
            name,
            cluster,
            user,
            server,
            namespace or "default",
            merged.files,
            extension,
            cluster_extension,
        )
        guard = protection(policy, target, mutating=True, destructive=True, namespaces=None)
        keys = (f"cluster:{cluster}", *(f"server:{key}" for key in url_keys(server) if server))
        endpoints[name] = keys
        if guard.protected and guard.environment is not None:
            ranked = (level_rank(guard.level), guard.environment)
            found[name] = ranked
            for key in keys:
                if key and ranked > by_endpoint.get(key, (-1, "")):
                    by_endpoint[key] = ranked
    result: dict[str, str] = {}
    for name, keys in endpoints.items():
        candidates = [by_endpoint[key] for key in keys if key in by_endpoint]
        if name in found:
            candidates.append(found[name])
        if candidates:
            result[name] = max(candidates)[1]
    return result


def _pick(items: Sequence[str], current: str, title: str, env: Mapping[str, str]) -> str | None:
    from kubesafe.picker import pick

    return pick(items, current or None, title, env)


# -- ctx -------------------------------------------------------------------------


def ctx(
    args: Sequence[str],
    *,
    current: bool,
    delete: bool,
    unset: bool,
    global_: bool,
    env: Mapping[str, str] | None = None,
) -> str | None:
    """Run ``kubesafe ctx``; returns what to print on stdout (None: nothing)."""
    environment = dict(os.environ if env is None else env)
    switcher = Switcher(environment)
    try:
        return _guard(lambda: _ctx(switcher, args, current, delete, unset, global_))
    finally:
        switcher.save()


def _ctx(
    switcher: Switcher,
    args: Sequence[str],
    current: bool,
    delete: bool,
    unset: bool,
    global_: bool,
) -> str | None:
    env = switcher.env
    if sum((current, delete, unset)) > 1:
        raise SwitchError("use only one of -c, -d and -u")
    if current:
        if args:
            raise SwitchError("-c takes no arguments")
        name = switcher.current_context()
        if not name:
            raise SwitchError("current-context is not set")
        return name
    if unset:
        if args:
            raise SwitchError("-u takes no arguments")
        switcher.unset_context(global_=global_)
        _say(f"Active context unset for kubectl.{_scope(switcher, global_)}")
        return None
    if delete:
        if not args:
            raise SwitchError("-d needs at least one context name ('.' for the current one)")
        for name in args:
            here = switcher.current_context()
            target = here if name == CURRENT_ALIAS else name
            switcher.delete_context(target)
            if target == here:
                _say(
                    'warning: You deleted the current context. Use "kubesafe ctx" '
                    "to select a new context."
                )
            _say(f"Deleted context {target}.")
        return None
    if len(args) > 1:
        raise SwitchError("give one context name (or NEW=OLD to rename)")
    if not args:
        names = switcher.contexts()
        if not names:
            _warn_missing_files(switcher)
        here = switcher.current_context()
        if _interactive(env):
            chosen = _pick(names, here, "context", env)
            if chosen is None:
                return None
            return _switch_context(switcher, chosen, global_)
        # On a terminal (stdout only, e.g. KUBECTX_IGNORE_FZF), flag protected contexts;
        # piped output stays a plain list, as kubectx prints it.
        labels = context_environments(env) if sys.stdout.isatty() else None
        return _list(names, here, env, labels)
    argument = args[0]
    if argument == "-":
        return _switch_context(switcher, switcher.previous_context(), global_)
    if "=" in argument:
        new, _, old = argument.partition("=")
        if not new or not old:
            raise SwitchError("rename with NEW=OLD (OLD may be '.' for the current context)")
        if old == CURRENT_ALIAS:
            old = switcher.current_context()
        switcher.rename_context(old, new)
        _say(f"Context {old} renamed to {new}.")
        return None
    try:
        return _switch_context(switcher, argument, global_)
    except SwitchError:
        # An unknown context may well be in a file KUBECONFIG names but that is not there.
        _warn_missing_files(switcher)
        raise


def _switch_context(switcher: Switcher, name: str, global_: bool) -> str | None:
    switcher.use_context(name, global_=global_)
    _say(f'Switched to context "{name}".{_scope(switcher, global_)}')
    # The switcher keeps what it read or wrote: no second parse for the notice.
    _notify_protection(switcher, switcher.merged(), context=name)
    return None


# -- ns --------------------------------------------------------------------------


def ns(
    args: Sequence[str],
    *,
    current: bool,
    unset: bool,
    force: bool,
    global_: bool,
    env: Mapping[str, str] | None = None,
) -> str | None:
    environment = dict(os.environ if env is None else env)
    switcher = Switcher(environment)
    try:
        return _guard(lambda: _ns(switcher, args, current, unset, force, global_))
    finally:
        switcher.save()


def _ns(
    switcher: Switcher,
    args: Sequence[str],
    current: bool,
    unset: bool,
    force: bool,
    global_: bool,
) -> str | None:
    from kubesafe.namespaces import NamespaceLookupError, list_namespaces, namespace_exists

    env = switcher.env
    if current and unset:
        raise SwitchError("use only one of -c and -u")
    if len(args) > 1:
        raise SwitchError("give one namespace name")
    context = switcher.current_context()
    if not context:
        _warn_missing_files(switcher)
        raise SwitchError("current-context is not set; pick a context first (kubesafe ctx)")
    here = switcher.namespace_of(context)
    if current:
        if args:
            raise SwitchError("-c takes no arguments")
        return here
    if unset:
        if args:
            raise SwitchError("-u takes no arguments")
        switcher.use_namespace(None, global_=global_)
        now = switcher.namespace_of(context)
        _say(f'Active namespace is "{now}".{_scope(switcher, global_)}')
        return None
    if not args:
        try:
            names = list_namespaces(context, env)
        except NamespaceLookupError as exc:
            raise SwitchError(str(exc)) from None
        if _interactive(env):
            chosen = _pick(names, here, f"namespace in {context}", env)
            if chosen is None:
                return None
            return _switch_namespace(switcher, chosen, global_)
        return _list(names, here, env)
    name = switcher.previous_namespace(context) if args[0] == "-" else args[0]
    if not force:
        try:
            exists = namespace_exists(context, name, env)
        except NamespaceLookupError as exc:
            raise SwitchError(f"{exc} (use --force to switch without checking)") from None
        if not exists:
            raise SwitchError(f'no namespace exists with name "{name}" in context "{context}"')
    return _switch_namespace(switcher, name, global_)


def _switch_namespace(switcher: Switcher, name: str, global_: bool) -> str | None:
    before = switcher.merged()
    context, _ = switcher.use_namespace(name, global_=global_)
    _say(f'Context "{context}" modified.{_scope(switcher, global_)}')
    _say(f'Active namespace is "{name}".')
    _notify_protection(switcher, before, context=context, namespace=name)
    return None
