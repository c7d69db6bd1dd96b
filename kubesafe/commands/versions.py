"""``kubesafe versions``: list, install, prune and explain kubectl binaries."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

from kubesafe.commands.protect import CommandError
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubeconfig.resolve import Overrides, ResolveError, load_merged, resolve_merged
from kubesafe.policy import load_policy
from kubesafe.versions import server_cache, store
from kubesafe.versions.choose import Choice, choose


def _context_choices(env: Mapping[str, str], index: FileIndex) -> dict[str, Choice]:
    """The kubectl each context would run (remembered server versions only)."""
    policy = load_policy(env, index)
    try:
        merged = load_merged(Overrides(), env, index)
    except ResolveError:
        return {}
    versions = server_cache.ServerVersions()
    choices: dict[str, Choice] = {}
    for name in sorted(merged.contexts):
        try:
            target = resolve_merged(merged, Overrides(context=name), env)
        except ResolveError:
            continue
        choices[name] = choose(target, policy.kubectl, env, index, versions=versions)
    return choices


def render_list(env: Mapping[str, str]) -> str:
    index = FileIndex()
    cached = store.cached()
    system = store.system(env, index)
    choices = _context_choices(env, index)
    index.save()
    users: dict[str, list[str]] = {}
    for context, choice in choices.items():
        key = choice.path or f"download {choice.download}"
        users.setdefault(key, []).append(context)
    lines = [f"kubectl store: {store.store_dir()}"]
    if not cached and not system:
        lines.append("No kubectl binaries yet. Try: kubesafe versions install 1.31")
    for candidate in [*cached, *system]:
        using = ", ".join(users.pop(candidate.path, [])) or "-"
        tag = candidate.version.tag if candidate.version else "unknown"
        lines.append(f"  {tag:<10} {candidate.source:<7} {candidate.path}  contexts: {using}")
    for key, contexts in users.items():
        if key.startswith("download "):
            lines.append(f"  (missing)  {key}  contexts: {', '.join(contexts)}")
    return "\n".join(lines)


def install(spec: str, env: Mapping[str, str]) -> str:
    from kubesafe.versions.fetch import FetchError, fetch

    policy = load_policy(env, FileIndex())
    try:
        path = fetch(spec, policy.kubectl, env)
    except FetchError as exc:
        raise CommandError(str(exc)) from None
    return f"kubectl {os.path.basename(os.path.dirname(path))} installed at {path}"


def prune(env: Mapping[str, str], *, dry_run: bool) -> str:
    index = FileIndex()
    choices = _context_choices(env, index)
    needed = {choice.path for choice in choices.values() if choice.path}
    versions = server_cache.ServerVersions()
    needed_tags = {entry[3] for entry in versions.entries.values() if entry[3]}
    removed: list[str] = []
    for candidate in store.cached():
        tag = candidate.version.tag if candidate.version else os.path.dirname(candidate.path)
        if candidate.path in needed or tag in needed_tags:
            continue
        removed.append(tag)
        if not dry_run:
            shutil.rmtree(os.path.dirname(candidate.path), ignore_errors=True)
    if not removed:
        return "Nothing to prune: every downloaded kubectl is used by a context."
    verb = "Would remove" if dry_run else "Removed"
    return f"{verb} {', '.join(removed)} (no known context uses them)"


def which(kubectl_args: list[str], env: Mapping[str, str]) -> str:
    from kubesafe.kubectl.plan import make_plan

    plan = make_plan(kubectl_args, env)
    choice = plan.choice
    if choice.download:
        head = f"kubectl {choice.download} (not downloaded yet)"
    else:
        head = choice.path or "(no kubectl)"
        if choice.version:
            head += f" ({choice.version})"
    lines = [head, f"  why: {choice.reason}"]
    if plan.target is not None:
        lines.append(f"  server: {plan.target.server} version {choice.server_version or 'unknown'}")
        if choice.stale:
            lines.append(
                "  the server's version is not remembered (or expired): the next call asks it"
            )
    return "\n".join(lines)
