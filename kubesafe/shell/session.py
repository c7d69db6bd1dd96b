"""Per-terminal state: a small kubeconfig put first in ``KUBECONFIG``.

Each shell with the integration loaded owns a directory ``<root>/<pid>-<token>``
holding ``kubeconfig`` (this terminal's ``current-context`` and, for contexts
whose namespace was switched here, a copy of the context entry with the new
namespace), ``switch.json`` (the previous context and namespaces, for ``-``)
and the prompt stamp and toggle. The kubeconfig copies references only, never
clusters or users, so credential plugins and token refresh keep writing to the
user's real files: client-go writes a user or cluster back to the file that
defined it.

Because the file comes first, client-go takes this terminal's
``current-context`` from it, and ``kubectl config use-context`` run in the
terminal writes there too (it writes to the first existing file). Entries that
other tools add to the file (``aws eks update-kubeconfig`` writes clusters and
users to the first file) are saved to ``rescued/`` when the shell ends rather
than deleted with it.
"""

from __future__ import annotations

import os
import time

from kubesafe import paths
from kubesafe.guard import pids
from kubesafe.kubeconfig.parse import EXTENSION_NAME, KubeconfigError, parse_bytes
from kubesafe.kubeconfig.resolve import (
    GUARD_PREFIX,
    Overrides,
    ResolveError,
    candidate_files,
    load_merged,
)
from kubesafe.shell.names import KUBECONFIG_NAME, SESSION_VARIABLE

TYPE_CHECKING = False  # typing costs an import at every shell start; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from kubesafe.kubeconfig.cache import FileIndex
    from kubesafe.kubeconfig.parse import FileData

_HEADER = (
    "# kubesafe: this terminal's context and namespace; removed when the shell exits.\n"
    "# Holds no credentials: clusters and users stay in your own kubeconfig files.\n"
)


class SessionError(Exception):
    """A per-terminal state problem, reported as one line."""


class ShadowContext:
    """A context entry copied into the terminal's file (references only)."""

    __slots__ = ("cluster", "extension", "namespace", "user")

    def __init__(self, cluster: str, user: str, namespace: str, extension: Any) -> None:
        self.cluster = cluster
        self.user = user
        self.namespace = namespace
        # The kubesafe extension travels with the copy: a context protected by an
        # extension must stay protected when this terminal overrides its namespace.
        self.extension = extension


class SessionFile:
    """The parsed per-terminal kubeconfig."""

    __slots__ = ("contexts", "current_context", "foreign", "guard_dir", "guarded")

    def __init__(
        self,
        current_context: str = "",
        contexts: dict[str, ShadowContext] | None = None,
        foreign: tuple[str, ...] = (),
        guarded: dict[str, str] | None = None,
        guard_dir: str = "",
    ) -> None:
        self.current_context = current_context
        self.contexts = contexts or {}
        # Clusters and users another tool wrote into the file (e.g. "cluster eks-1").
        self.foreign = foreign
        # Contexts sent through this terminal's guard: name -> the guard's URL for it.
        # Their copies in ``contexts`` keep the REAL cluster and user; the file names
        # the guard's entries instead, which carry the real names in an extension.
        self.guarded = guarded or {}
        # The guard's private directory (its CA and the terminal's token).
        self.guard_dir = guard_dir


def guard_dir(directory: str) -> str:
    """The terminal's guard directory, inside its session directory."""
    return os.path.join(directory, "guard")


def sessions_root(env: Mapping[str, str]) -> str:
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isdir(runtime) and os.access(runtime, os.W_OK):
        return os.path.join(runtime, "kubesafe", "sessions")
    return os.path.join(paths.state_dir(), "sessions")


def active_session(env: Mapping[str, str]) -> str | None:
    """The session directory when this process runs under a loaded integration.

    Loaded means the terminal's file is still the first ``KUBECONFIG`` entry: a
    user who re-exported ``KUBECONFIG`` has stepped out of per-terminal mode.
    """
    directory = env.get(SESSION_VARIABLE, "")
    if not directory:
        return None
    own_file = os.path.join(directory, KUBECONFIG_NAME)
    listed = env.get("KUBECONFIG", "").split(os.pathsep)
    if not listed or listed[0] != own_file or not os.path.isfile(own_file):
        return None
    return directory


def session_kubeconfig(directory: str) -> str:
    return os.path.join(directory, KUBECONFIG_NAME)


def read_session_file(path: str) -> SessionFile:
    try:
        with open(path, "rb") as handle:
            content = handle.read()
    except FileNotFoundError:
        return SessionFile()
    except OSError as exc:
        raise SessionError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = parse_bytes(content)
    except KubeconfigError as exc:
        raise SessionError(f"this terminal's kubeconfig {path}: {exc}") from None
    return state_from_data(data, guard_dir(os.path.dirname(path)))


def _guard_refs(data: FileData, name: str) -> tuple[str, str, str] | None:
    """(URL, real cluster, real user) of a guard cluster entry of this file."""
    server, extension = data["clusters"].get(name, ("", None))
    guard = extension.get("guard") if isinstance(extension, dict) else None
    if not isinstance(guard, dict):
        return None
    cluster, user = guard.get("cluster"), guard.get("user")
    if not isinstance(cluster, str) or not isinstance(user, str):
        return None
    return server, cluster, user


def state_from_data(data: FileData, guard_directory: str) -> SessionFile:
    contexts: dict[str, ShadowContext] = {}
    guarded: dict[str, str] = {}
    for name, (cluster, user, namespace, extension) in data["contexts"].items():
        refs = _guard_refs(data, cluster) if cluster == GUARD_PREFIX + name else None
        if refs is not None:
            guarded[name] = refs[0]
            cluster, user = refs[1], refs[2]
        contexts[name] = ShadowContext(cluster, user, namespace, extension)
    ours = {GUARD_PREFIX + name for name in guarded}
    foreign = tuple(f"cluster {name}" for name in data["clusters"] if name not in ours) + tuple(
        f"user {name}" for name in data["users"] if name not in ours
    )
    return SessionFile(data["current_context"], contexts, foreign, guarded, guard_directory)


def _quoted(value: Any) -> str:
    import json  # json and shutil load lazily: the prompt imports this module

    # JSON is valid YAML flow style, once the characters YAML reads as line breaks
    # or refuses (NEL, DEL, U+2028/9) are escaped too.
    return json.dumps(value, ensure_ascii=False).translate(_YAML_ESCAPES)


_YAML_ESCAPES = {ord(c): f"\\u{ord(c):04x}" for c in "\x7f\x85\u2028\u2029"}


def render_session_file(state: SessionFile) -> str:
    lines = [_HEADER, "apiVersion: v1\nkind: Config\n"]
    if state.current_context:
        lines.append(f"current-context: {_quoted(state.current_context)}\n")
    if state.contexts:
        lines.append("contexts:\n")
        for name, shadow in sorted(state.contexts.items()):
            through = GUARD_PREFIX + name if name in state.guarded else ""
            lines.append(f"- name: {_quoted(name)}\n  context:\n")
            lines.append(f"    cluster: {_quoted(through or shadow.cluster)}\n")
            lines.append(f"    user: {_quoted(through or shadow.user)}\n")
            if shadow.namespace:
                lines.append(f"    namespace: {_quoted(shadow.namespace)}\n")
            if shadow.extension is not None:
                extension = _quoted(shadow.extension)
                lines.append(
                    f"    extensions:\n    - name: {EXTENSION_NAME}\n      extension: {extension}\n"
                )
    lines.append(_render_guard_entries(state))
    return "".join(lines)


def _render_guard_entries(state: SessionFile) -> str:
    """The guard's cluster and user for each guarded context: no real credentials."""
    guarded = sorted(name for name in state.guarded if name in state.contexts)
    if not guarded:
        return ""
    ca = os.path.join(state.guard_dir, "ca.pem")
    content = paths.read_private(os.path.join(state.guard_dir, "token"))
    # No token file: the guard answers 401, so the context fails closed.
    token = content.decode("ascii", "replace").strip() if content else ""
    clusters, users = ["clusters:\n"], ["users:\n"]
    for name in guarded:
        shadow = state.contexts[name]
        # Block style, which the fast scanner reads (a flow mapping sends the whole
        # file to PyYAML: half a second for a thousand guarded contexts).
        clusters.append(
            f"- name: {_quoted(GUARD_PREFIX + name)}\n  cluster:\n"
            f"    server: {_quoted(state.guarded[name])}\n"
            f"    certificate-authority: {_quoted(ca)}\n"
            f"    extensions:\n    - name: {EXTENSION_NAME}\n      extension:\n        guard:\n"
            f"          context: {_quoted(name)}\n"
            f"          cluster: {_quoted(shadow.cluster)}\n"
            f"          user: {_quoted(shadow.user)}\n"
        )
        users.append(f"- name: {_quoted(GUARD_PREFIX + name)}\n  user:\n")
        users.append(f"    token: {_quoted(token)}\n")
    return "".join(clusters + users)


def write_session_file(path: str, state: SessionFile) -> None:
    if state.foreign:
        # Never drop what another tool stored here; the caller rescues it first.
        raise SessionError(f"{path} holds {', '.join(state.foreign)}; not rewriting it")
    from kubesafe.kubeconfig.atomic import AtomicWriteError, replace

    try:
        # Keeps the owner: `sudo -E kubesafe ctx` must leave a file the user can read.
        replace(path, render_session_file(state).encode(), durable=False)
    except AtomicWriteError as exc:
        raise SessionError(f"cannot write this terminal's kubeconfig: {exc}") from None


def _owner_pid(name: str) -> int | None:
    head = name.partition("-")[0]
    return int(head) if head.isdigit() else None


def end_session(directory: str) -> str | None:
    """Remove a session directory; returns where foreign entries were saved, if any."""
    import shutil

    if os.path.isdir(guard_dir(directory)):
        from kubesafe.guard.terminal import stop

        stop(guard_dir(directory))  # it would end within a second of its shell anyway
    rescued = None
    kubeconfig = session_kubeconfig(directory)
    try:
        state = read_session_file(kubeconfig)
    except SessionError:
        state = SessionFile(foreign=("unreadable content",))
    if state.foreign and os.path.isfile(kubeconfig):
        rescue_dir = paths.ensure_private_dir(os.path.join(paths.state_dir(), "rescued"))
        stamp = time.strftime("%Y%m%d-%H%M%S")
        rescued = os.path.join(rescue_dir, f"{stamp}-{os.path.basename(directory)}.yaml")
        try:
            shutil.copy2(kubeconfig, rescued)
        except OSError:
            return None  # keep the directory rather than lose what is in it
    shutil.rmtree(directory, ignore_errors=True)
    return rescued


def sweep(env: Mapping[str, str]) -> list[str]:
    """Remove the directories of shells that no longer run; returns rescued files."""
    root = sessions_root(env)
    rescued: list[str] = []
    try:
        names = os.listdir(root)
    except OSError:
        return rescued
    for name in names:
        pid = _owner_pid(name)
        if pid is None or pids.alive(pid):
            continue
        saved = end_session(os.path.join(root, name))
        if saved:
            rescued.append(saved)
    return rescued


def _without(listing: str, entry: str) -> list[str]:
    return [item for item in listing.split(os.pathsep) if item and item != entry]


def start_session(pid: int, env: Mapping[str, str]) -> tuple[str, str]:
    """Create this terminal's directory, pinned to the context it starts in.

    Returns (session directory, the KUBECONFIG value for the shell). A shell
    started from an integrated shell inherits that terminal's context and
    namespaces, not the global ones.
    """
    root = paths.ensure_private_dir(sessions_root(env))
    directory = os.path.join(root, f"{pid}-{os.urandom(4).hex()}")
    os.mkdir(directory, 0o700)
    inherited = env.get(SESSION_VARIABLE, "")
    inherited_file = session_kubeconfig(inherited) if inherited else ""
    files, _ = candidate_files("", env)
    rest = [path for path in files if path != inherited_file]
    state = SessionFile()
    if inherited_file and os.path.isfile(inherited_file):
        try:
            parent = read_session_file(inherited_file)
            state = SessionFile(parent.current_context, parent.contexts)
        except SessionError:
            state = SessionFile()
    if not state.current_context:
        try:
            merged = load_merged(Overrides(), {**env, "KUBECONFIG": os.pathsep.join(rest)})
            state.current_context = merged.current_context
        except ResolveError:
            pass  # a broken kubeconfig: the terminal follows whatever the files say
    own = session_kubeconfig(directory)
    _plan_guard(
        directory,
        pid,
        state,
        {**env, "KUBECONFIG": os.pathsep.join(_without(os.pathsep.join(rest), own))},
    )
    write_session_file(own, state)
    ours = os.path.dirname(os.path.realpath(inherited)) == os.path.realpath(root)
    if inherited and ours and _owner_pid(os.path.basename(inherited)) == pid:
        # The same PID: this shell replaced the previous one with exec, which runs no
        # exit hook. Its directory is this one's now.
        end_session(inherited)
    value = os.pathsep.join([own, *(_without(os.pathsep.join(rest), own))])
    return directory, value


def _guard_off(env: Mapping[str, str]) -> bool:
    return env.get("KUBESAFE_GUARD", "").lower() in ("off", "0", "no", "false")


def _plan_guard(
    directory: str,
    pid: int,
    state: SessionFile,
    real_env: Mapping[str, str],
    port: int = 0,
    names: list[str] | None = None,
) -> bool:
    """Point the protected contexts at this terminal's guard (started at first prompt).

    ``KUBESAFE_GUARD=off`` in the environment, or ``guard: off`` on every
    environment protecting a context, leaves it direct. Returns whether a
    guard is planned.
    """
    if _guard_off(real_env):
        return False
    from kubesafe.guard.terminal import guarded_contexts, plan_terminal
    from kubesafe.kubeconfig.cache import FileIndex

    index = FileIndex()
    if names is None:
        names = guarded_contexts(real_env, index) or []
    state.guarded = {}
    if not names:
        index.save()
        return False
    try:
        real = load_merged(Overrides(), real_env, index).contexts
    except ResolveError:
        return False
    finally:
        index.save()
    terminal = os.path.basename(directory)
    guard = plan_terminal(
        guard_dir(directory), terminal, pid, names, real_env.get("KUBECONFIG", ""), port=port
    )
    state.guard_dir = guard.directory
    for name in names:
        if name not in state.contexts:
            # The copy starts with the real namespace; from now on the terminal owns it.
            cluster, user, namespace, extension = real[name]
            state.contexts[name] = ShadowContext(cluster, user, namespace, extension)
        state.guarded[name] = guard.server(name)
    return True


def refresh_guard(directory: str, env: Mapping[str, str]) -> bool:
    """Follow the policy: guard contexts protected since the terminal started, and
    leave those no longer protected; True when the terminal's file changed.

    The prompt calls this when a watched file changed (the policy, a kubeconfig).
    The guard is stopped; the caller's next ``ensure_running`` starts it again for
    the new set, on the same port.
    """
    if _guard_off(env):
        return False
    from kubesafe.guard.terminal import (
        TERMINAL_FILE,
        guarded_contexts,
        load_terminal,
        running,
        stop,
    )
    from kubesafe.kubeconfig.lock import LockError, WriteLock

    own = session_kubeconfig(directory)
    real_env = {**env, "KUBECONFIG": os.pathsep.join(_without(env.get("KUBECONFIG", ""), own))}
    previous = load_terminal(guard_dir(directory))
    names = guarded_contexts(real_env)
    if names is None:
        return False  # an unreadable kubeconfig: keep what is guarded
    if set(names) == (set(previous.contexts) if previous is not None else set()):
        return False
    pid = previous.shell_pid if previous is not None else _owner_pid(os.path.basename(directory))
    if pid is None:
        return False
    try:
        with WriteLock(own, timeout=0.5):
            state = read_session_file(own)
            if state.foreign:
                return False
            port = previous.port if previous is not None else 0
            _plan_guard(directory, pid, state, real_env, port=port, names=names)
            write_session_file(own, state)
            if not names:
                os.unlink(os.path.join(guard_dir(directory), TERMINAL_FILE))
    except (LockError, SessionError, OSError):
        return False
    if stop(guard_dir(directory)):
        deadline = time.monotonic() + 3
        while running(guard_dir(directory)) is not None and time.monotonic() < deadline:
            time.sleep(0.02)  # the new guard binds the same port
    return True


def sync_shadows(directory: str, env: Mapping[str, str], index: FileIndex | None = None) -> bool:
    """Make this terminal's context copies follow the real entries; True if changed.

    The terminal owns only a copy's namespace. A real context that now points at
    another cluster or user, or gained or lost its kubesafe extension, is copied
    again; a copy whose real context is gone is dropped, as it would be without one.
    Nothing to do costs two cached reads (the prompt calls this on every render).
    """
    from kubesafe.kubeconfig.cache import FileIndex, FileReadError
    from kubesafe.kubeconfig.lock import LockError, WriteLock

    own = session_kubeconfig(directory)
    files = index or FileIndex()
    try:
        data = files.read(os.path.abspath(own), "kubeconfig", parse_bytes)
        if data is None or not data["contexts"]:
            return False
        copies = state_from_data(data, guard_dir(directory)).contexts
        if _followed(copies, env, own, files) is None:
            return False
        # The prompt must not undo a `kubectl config` write landing at the same time.
        with WriteLock(own, timeout=0.5):
            state = read_session_file(own)
            followed = _followed(state.contexts, env, own, files)
            if followed is None or state.foreign:
                return False
            state.contexts = followed
            write_session_file(own, state)
            return True
    except (KubeconfigError, FileReadError, SessionError, LockError, OSError):
        return False


def _followed(
    copies: dict[str, ShadowContext], env: Mapping[str, str], own: str, index: FileIndex
) -> dict[str, ShadowContext] | None:
    """The copies updated from the real contexts, or None when they are current."""
    rest = os.pathsep.join(_without(env.get("KUBECONFIG", ""), own))
    try:
        real = load_merged(Overrides(), {**env, "KUBECONFIG": rest}, index).contexts
    except ResolveError:
        return None  # a broken kubeconfig: nothing to follow
    result: dict[str, ShadowContext] = {}
    for name, shadow in copies.items():
        entry = real.get(name)
        if entry is not None:
            result[name] = ShadowContext(entry[0], entry[1], shadow.namespace, entry[3])
    current = all(
        name in result
        and (shadow.cluster, shadow.user, shadow.extension)
        == (result[name].cluster, result[name].user, result[name].extension)
        for name, shadow in copies.items()
    )
    return None if current else result


def unannounced_rescues() -> list[str]:
    """Rescued files the user has not been told about yet; marks them as told."""
    directory = os.path.join(paths.state_dir(), "rescued")
    marker = os.path.join(directory, ".announced")
    try:
        names = sorted(name for name in os.listdir(directory) if name.endswith(".yaml"))
        told = os.stat(marker).st_mtime_ns if os.path.exists(marker) else 0
        fresh = [
            os.path.join(directory, name)
            for name in names
            if os.stat(os.path.join(directory, name)).st_mtime_ns > told
        ]
        if fresh:
            with open(marker, "w", encoding="utf-8"):
                pass
    except OSError:
        return []
    return fresh
