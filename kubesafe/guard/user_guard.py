"""The user-level guard, for programs started outside a terminal (Lens, IDEs).

``kubesafe guard kubeconfig PATH`` (re)starts one guard per user in
``<runtime>/guard/user`` for the contexts the policy protects, and writes PATH:
a kubeconfig holding only those contexts, each pointing at that guard with its
CA and token (no real credential). The guard belongs to no shell: its keeper
(``keeper``) starts it again when it dies, and runs until it is killed itself
(or logout, with ``$XDG_RUNTIME_DIR``); then the next ``kubesafe guard
kubeconfig`` or ``kubesafe lift --user-guard`` starts it again on the same
port. Lifts for it are opened from a terminal with
``kubesafe lift CONTEXT --for 15m --user-guard``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping

from kubesafe import paths
from kubesafe.guard import terminal as terminal_module
from kubesafe.kubeconfig.resolve import GUARD_PREFIX

USER_TERMINAL = "user"
START_TIMEOUT = 30.0


class UserGuardError(Exception):
    """One line for the user."""


def user_guard_dir() -> str:
    return os.path.join(paths.runtime_dir(), "guard", USER_TERMINAL)


def real_kubeconfig(env: Mapping[str, str]) -> str:
    """``KUBECONFIG`` without a terminal's own file (it points at that terminal's guard)."""
    from kubesafe.kubeconfig.resolve import candidate_files

    files, _ = candidate_files("", env)
    session = env.get("KUBESAFE_SESSION", "")
    own = os.path.join(session, "kubeconfig") if session else ""
    return os.pathsep.join(path for path in files if path != own)


def start(env: Mapping[str, str]) -> terminal_module.TerminalGuard:
    """(Re)start the user-level guard for what the policy protects now; wait until it serves."""
    directory = user_guard_dir()
    kubeconfig = real_kubeconfig(env)
    real_env = {k: v for k, v in env.items() if k != "KUBESAFE_SESSION"}
    real_env["KUBECONFIG"] = kubeconfig
    contexts = terminal_module.guarded_contexts(real_env) or []
    if not contexts:
        raise UserGuardError("no context is protected (or the guard is off for all of them)")
    previous = terminal_module.load_terminal(directory)
    unchanged = (
        previous is not None
        and previous.contexts.keys() == set(contexts)
        and previous.kubeconfig == kubeconfig
    )
    if unchanged and previous is not None and terminal_module.running(directory) is not None:
        return previous
    terminal_module.stop(directory)
    _wait_gone(directory)
    port = previous.port if previous is not None else 0
    guard = terminal_module.plan_terminal(
        directory, USER_TERMINAL, 0, contexts, kubeconfig, port=port
    )
    try:
        os.unlink(os.path.join(directory, "guard.json"))
    except FileNotFoundError:
        pass
    terminal_module.spawn(guard, real_env)
    _wait_serving(directory)
    return guard


def _wait_gone(directory: str) -> None:
    deadline = time.monotonic() + 10
    while terminal_module.running(directory) is not None and time.monotonic() < deadline:
        time.sleep(0.05)


def _wait_serving(directory: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    state = os.path.join(directory, "guard.json")
    while time.monotonic() < deadline:
        if os.path.exists(state):
            return
        if terminal_module.running(directory) is None:
            break
        time.sleep(0.05)
    log = os.path.join(directory, terminal_module.LOG_FILE)
    raise UserGuardError(f"the user-level guard did not start; see {log}")


def client_kubeconfig(guard: terminal_module.TerminalGuard, current: str) -> dict[str, object]:
    content = paths.read_private(os.path.join(guard.directory, "token"))
    if content is None:
        raise UserGuardError(f"cannot read the guard's token in {guard.directory}")
    token = content.decode("ascii").strip()
    ca = os.path.join(guard.directory, "ca.pem")
    names = sorted(guard.contexts)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": GUARD_PREFIX + name,
                "cluster": {"server": guard.server(name), "certificate-authority": ca},
            }
            for name in names
        ],
        "users": [{"name": GUARD_PREFIX + name, "user": {"token": token}} for name in names],
        "contexts": [
            {"name": name, "context": {"cluster": GUARD_PREFIX + name, "user": GUARD_PREFIX + name}}
            for name in names
        ],
        "current-context": current if current in guard.contexts else names[0],
        "preferences": {},
    }


def write_client_kubeconfig(path: str, env: Mapping[str, str]) -> terminal_module.TerminalGuard:
    from kubesafe.kubeconfig.resolve import Overrides, ResolveError, load_merged

    guard = start(env)
    try:
        current = load_merged(Overrides(), {**env, "KUBECONFIG": guard.kubeconfig}).current_context
    except ResolveError:
        current = ""
    text = json.dumps(client_kubeconfig(guard, current), indent=2) + "\n"
    target = os.path.abspath(path)
    if not paths.write_private(target, text.encode()):
        raise UserGuardError(f"cannot write {target}")
    return guard
