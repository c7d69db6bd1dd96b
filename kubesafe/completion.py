"""Names for TAB completion of kubesafe's own commands; never a network call."""

from __future__ import annotations

import os

from kubesafe.kubeconfig.resolve import Overrides, ResolveError, load_merged


def context_names(incomplete: str) -> list[str]:
    try:
        merged = load_merged(Overrides(), os.environ)
    except ResolveError:
        return []
    return sorted(name for name in merged.contexts if name.startswith(incomplete))


def namespace_names(incomplete: str) -> list[str]:
    """Namespaces of the current context from the cache (TAB must not wait on a cluster)."""
    from kubesafe.namespaces import cached_namespaces
    from kubesafe.switching import Switcher, SwitchError

    try:
        context = Switcher(os.environ).current_context()
    except SwitchError:
        return []
    if not context:
        return []
    names = cached_namespaces(context, os.environ) or []
    return [name for name in names if name.startswith(incomplete)]


def version_names(incomplete: str) -> list[str]:
    """Installed kubectl versions and the versions of servers kubesafe has seen."""
    from kubesafe.versions.server_cache import ServerVersions
    from kubesafe.versions.store import cached

    found = {candidate.version.tag for candidate in cached() if candidate.version is not None}
    for entry in ServerVersions().entries.values():
        if entry[0]:
            found.add(entry[0].split("-")[0].split("+")[0])
    plain = {tag.removeprefix("v") for tag in found}
    return sorted(
        (name for name in found | plain if name.startswith(incomplete)),
        key=lambda name: (name.startswith("v"), name),
    )
