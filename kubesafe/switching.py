"""Context and namespace switching, per terminal or in the kubeconfig itself.

With the shell integration loaded a switch changes only this terminal's file
(``shell.session``); ``global_`` (or no integration) changes the kubeconfig
the way kubectl does, in the file kubectl itself would write. Both keep the
previous context and, per context, the previous namespace, for ``-``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from kubesafe import paths
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubeconfig.resolve import (
    Merged,
    Overrides,
    ResolveError,
    candidate_files,
    load_merged,
    merge,
)
from kubesafe.kubeconfig.write import (
    KubeconfigWriteError,
    context_file,
    current_context_file,
    delete_context,
    rename_context,
    set_context_namespace,
    set_current_context,
)
from kubesafe.shell.names import NO_CONTEXT
from kubesafe.shell.session import (
    SessionError,
    SessionFile,
    ShadowContext,
    active_session,
    read_session_file,
    session_kubeconfig,
    sync_shadows,
    write_session_file,
)


class SwitchError(Exception):
    """A switch that cannot be done; one line for the user."""


def _global_env(env: Mapping[str, str], session: str | None) -> dict[str, str]:
    """The environment as it would be without this terminal's file."""
    result = dict(env)
    if session is not None:
        own = session_kubeconfig(session)
        rest = [p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p and p != own]
        result["KUBECONFIG"] = os.pathsep.join(rest)
    return result


class Switcher:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.session = active_session(env)
        self.global_env = _global_env(env, self.session)
        self._merged: dict[bool, Merged] = {}
        self._index: FileIndex | None = None
        if self.session is not None:
            # Copies of contexts made by earlier switches take the real entries' changes
            # first, so that checks and notices see what kubectl will hit.
            sync_shadows(self.session, env)

    @property
    def per_terminal(self) -> bool:
        return self.session is not None

    # -- reading ---------------------------------------------------------------

    @property
    def index(self) -> FileIndex:
        """One parsed-file cache for this switcher's reads, its switch and the notice after.

        A file the switcher writes is remembered in it as written, so the notice that
        follows reads no kubeconfig again; ``save`` keeps what it learnt.
        """
        if self._index is None:
            self._index = FileIndex()
        return self._index

    def save(self) -> None:
        if self._index is not None:
            self._index.save()

    def merged(self, *, global_view: bool = False) -> Merged:
        """The merged kubeconfig, read once per switcher (writes forget it)."""
        if global_view not in self._merged:
            try:
                self._merged[global_view] = load_merged(
                    Overrides(), self.global_env if global_view else self.env, self.index
                )
            except ResolveError as exc:
                raise SwitchError(str(exc)) from None
            finally:
                self.save()  # as load_merged saves its own
        return self._merged[global_view]

    def missing_files(self) -> list[str]:
        """KUBECONFIG entries (or the default file) that do not exist.

        kubectl skips them without a word; they are worth naming only when
        nothing else explains an empty list or an unknown context.
        """
        paths, _ = candidate_files("", self.global_env)
        return [path for path in paths if not os.path.exists(path)]

    def contexts(self) -> list[str]:
        return sorted(self.merged().contexts)

    def current_context(self) -> str:
        current = self.merged().current_context
        return "" if current == NO_CONTEXT else current

    def namespace_of(self, context: str) -> str:
        entry = self.merged().contexts.get(context)
        if entry is None:
            raise SwitchError(f'no context exists with the name: "{context}"')
        return entry[2] or "default"

    # -- state for "-" ---------------------------------------------------------

    def _state_path(self) -> str:
        if self.session is not None:
            return os.path.join(self.session, "switch.json")
        return os.path.join(paths.state_dir(), "switch.json")

    def _state(self) -> dict[str, object]:
        raw = paths.read_private(self._state_path())
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}
        return data if isinstance(data, dict) else {}

    def _save_state(self, data: dict[str, object]) -> None:
        paths.write_private(self._state_path(), json.dumps(data, sort_keys=True).encode())

    def previous_context(self) -> str:
        value = self._state().get("context")
        if not isinstance(value, str) or not value:
            raise SwitchError("no previous context found")
        return value

    def previous_namespace(self, context: str) -> str:
        namespaces = self._state().get("namespaces")
        value = namespaces.get(context) if isinstance(namespaces, dict) else None
        if not isinstance(value, str) or not value:
            # kubens's words (its bats suite greps them), with the context named as it does.
            raise SwitchError(f"No previous namespace found for current context ({context})")
        return value

    def _remember_context(self, previous: str) -> None:
        if previous:
            self._save_state({**self._state(), "context": previous})

    def _remember_namespace(self, context: str, previous: str) -> None:
        state = self._state()
        namespaces = state.get("namespaces")
        table = dict(namespaces) if isinstance(namespaces, dict) else {}
        table[context] = previous
        self._save_state({**state, "namespaces": table})

    # -- this terminal's file --------------------------------------------------

    def _session_file(self) -> tuple[str, SessionFile]:
        assert self.session is not None
        path = session_kubeconfig(self.session)
        try:
            return path, read_session_file(path)
        except SessionError as exc:
            raise SwitchError(str(exc)) from None

    def _write_session(self, path: str, state: SessionFile) -> None:
        self._merged.clear()
        try:
            write_session_file(path, state)
        except SessionError as exc:
            raise SwitchError(str(exc)) from None

    def _defining_file(self, context: str) -> str:
        """Where kubectl writes a change to this context: the file that defines it."""
        found = self.merged(global_view=True).context_files.get(context)
        return found if found is not None else context_file(self.global_env, context)

    # -- contexts --------------------------------------------------------------

    def use_context(self, name: str, *, global_: bool = False) -> str:
        """Switch; returns the context that was current before."""
        single = self._only_file()
        if self.session is None and single is not None:
            return self._use_context_in(single, name)
        merged = self.merged()
        if name not in merged.contexts:
            raise SwitchError(f'no context exists with the name: "{name}"')
        previous = self.current_context()
        if self.session is None or global_:
            self._write_global_current(name)
        if self.session is not None:
            path, state = self._session_file()
            state.current_context = name
            self._write_session(path, state)
        if previous != name:
            self._remember_context(previous)
        return previous

    def _only_file(self) -> str | None:
        """The kubeconfig when exactly one file is in play and it exists."""
        files, _ = candidate_files("", self.global_env)
        if len(files) == 1 and os.path.isfile(files[0]):
            return os.path.abspath(files[0])
        return None

    def _use_context_in(self, path: str, name: str) -> str:
        """One file, no terminal state: check, switch and read back in a single parse.

        A 1,000-context kubeconfig takes a noticeable part of a second to parse;
        reading it once to check the name and once more after the edit made
        ``ctx`` slower than ``kubectl config use-context``.
        """
        try:
            switched = set_current_context(path, name, must_define=True, index=self.index)
        except KubeconfigWriteError as exc:
            raise SwitchError(str(exc)) from None
        self._merged.clear()
        if switched.data is not None:
            self._merged[False] = self._merged[True] = merge([(path, switched.data)])
        previous = "" if switched.previous == NO_CONTEXT else switched.previous
        if switched.data is None:
            # Already current, so nothing was written or checked.
            if name not in self.merged().contexts:
                raise SwitchError(f'no context exists with the name: "{name}"')
            previous = name
        if previous != name:
            self._remember_context(previous)
        return previous

    def _write_global_current(self, name: str | None) -> None:
        self._merged.clear()
        try:
            target = current_context_file(self.global_env, clearing=name is None)
            set_current_context(target, name, index=self.index)
        except KubeconfigWriteError as exc:
            raise SwitchError(str(exc)) from None

    def unset_context(self, *, global_: bool = False) -> None:
        if self.session is None or global_:
            self._write_global_current(None)
        if self.session is not None:
            path, state = self._session_file()
            state.current_context = "" if global_ else NO_CONTEXT
            self._write_session(path, state)

    def rename_context(self, old: str, new: str) -> None:
        global_merged = self.merged(global_view=True)
        if old not in global_merged.contexts:
            raise SwitchError(f'context "{old}" not found, can\'t rename it')
        if new in global_merged.contexts:
            raise SwitchError(f'context "{new}" already exists')
        path = self._defining_file(old)
        was_current = global_merged.current_context == old
        try:
            # As kubectl does: the context is renamed in its own file, and a current
            # context that named it is rewritten where kubectl writes current-context,
            # which may be another file.
            rename_context(path, old, new, update_current=False)
            if was_current:
                set_current_context(current_context_file(self.global_env), new)
        except KubeconfigWriteError as exc:
            raise SwitchError(str(exc)) from None
        self._merged.clear()
        if self.session is not None:
            path, state = self._session_file()
            if old in state.contexts:
                state.contexts[new] = state.contexts.pop(old)
            if state.current_context == old:
                state.current_context = new
            self._write_session(path, state)

    def delete_context(self, name: str) -> None:
        if name not in self.merged(global_view=True).contexts:
            raise SwitchError(f'no context exists with the name: "{name}"')
        path = self._defining_file(name)
        try:
            delete_context(path, name)
        except KubeconfigWriteError as exc:
            raise SwitchError(str(exc)) from None
        self._merged.clear()
        if self.session is not None:
            path, state = self._session_file()
            state.contexts.pop(name, None)
            if state.current_context == name:
                # As kubectl leaves it: no usable context (not the global one).
                state.current_context = NO_CONTEXT
            self._write_session(path, state)

    # -- namespaces ------------------------------------------------------------

    def use_namespace(self, namespace: str | None, *, global_: bool = False) -> tuple[str, str]:
        """Set (None: unset) the current context's namespace; returns (context, previous)."""
        context = self.current_context()
        if not context:
            raise SwitchError("current-context is not set; pick a context first (kubesafe ctx)")
        previous = self.namespace_of(context)
        if self.session is None or global_:
            path = self._defining_file(context)
            try:
                set_context_namespace(path, context, namespace, index=self.index)
            except KubeconfigWriteError as exc:
                raise SwitchError(str(exc)) from None
            self._merged.clear()
        if self.session is not None:
            path, state = self._session_file()
            if global_ or namespace is None:
                # Back to what the kubeconfig says for this context.
                state.contexts.pop(context, None)
            else:
                # The copy always takes the real entry as it is now: only the
                # namespace is this terminal's.
                real = self.merged(global_view=True).contexts.get(context)
                if real is None:
                    raise SwitchError(f'no context exists with the name: "{context}"')
                state.contexts[context] = ShadowContext(real[0], real[1], namespace, real[3])
            self._write_session(path, state)
        current = namespace or "default"
        if previous != current:
            self._remember_namespace(context, previous)
        return context, previous
