"""One terminal's guard: which contexts it covers, starting it, finding it.

The shell integration calls ``plan_terminal`` when a terminal starts: it picks
the contexts the policy protects (minus environments with ``guard: off``), a
loopback port and the terminal's token, and records them in
``<session>/guard/terminal.marshal``. The terminal's kubeconfig then points those
contexts at ``https://127.0.0.1:PORT/<id>`` with the CA file the guard will
make; a client that comes before the guard is up fails on the missing CA or a
refused connection, never reaches the real server.

``spawn`` starts the guard's keeper in the background (the shell does not wait
for the certificates): it holds the port and restarts a guard that died
(``keeper``). ``ensure_running`` is what the prompt render and the shim call to
restart a keeper that died. Keeper and guard end when the terminal's shell is
gone, and ``stop`` ends them from the shell's exit hook.
"""

from __future__ import annotations

import marshal
import os
import sys
import time
from collections.abc import Mapping

from kubesafe import paths
from kubesafe.guard import layout as layout_module
from kubesafe.guard.pids import alive as pid_alive
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubeconfig.resolve import Overrides, ResolveError, load_merged, resolve_merged
from kubesafe.policy import (
    endpoint_rules,
    guard_wanted,
    load_policy,
    normalize_server,
    protection,
)

# marshal, not json: this is written at every shell start (json costs an import of re).
TERMINAL_FILE = "terminal.marshal"
PID_FILE = "guard.pid"
LOG_FILE = "guard.log"


class TerminalGuard:
    __slots__ = ("contexts", "directory", "kubeconfig", "port", "shell_pid", "terminal")

    def __init__(
        self,
        directory: str,
        terminal: str,
        shell_pid: int,
        port: int,
        contexts: dict[str, str],
        kubeconfig: str,
    ) -> None:
        self.directory = directory
        self.terminal = terminal
        self.shell_pid = shell_pid
        self.port = port
        # context name -> path prefix (its id)
        self.contexts = contexts
        # The user's real kubeconfig files (never the terminal's own), for the guard.
        self.kubeconfig = kubeconfig

    def server(self, context: str) -> str:
        return f"https://127.0.0.1:{self.port}/{self.contexts[context]}"


def guarded_contexts(env: Mapping[str, str], index: FileIndex | None = None) -> list[str] | None:
    """Contexts of the kubeconfig in ``env`` whose writes the policy protects anywhere.

    A broken policy file guards every context (its guard then refuses every write,
    as the shim does); None when the kubeconfig cannot be read.
    """
    files = index or FileIndex()
    policy = load_policy(env, files)
    try:
        merged = load_merged(Overrides(), env, files)
    except ResolveError:
        return None
    if policy.error is not None:
        return list(merged.contexts)
    targets = []
    for name in merged.contexts:
        try:
            targets.append(resolve_merged(merged, Overrides(context=name), env))
        except ResolveError:
            continue
    # Rules lent between contexts on one endpoint (endpoint_rules) matter only where
    # an endpoint has several contexts: asking for them everywhere costs n^2.
    shared: dict[object, int] = {}
    for target in targets:
        for key in (("cluster", target.cluster), ("server", normalize_server(target.server))):
            shared[key] = shared.get(key, 0) + 1
    found: list[str] = []
    for target in targets:
        keys = (("cluster", target.cluster), ("server", normalize_server(target.server)))
        lent = any(shared[key] > 1 for key in keys)
        verdict = protection(
            policy,
            target,
            mutating=True,
            destructive=True,
            namespaces=None,
            endpoints=endpoint_rules(policy, merged, target) if lent else (),
        )
        if guard_wanted(policy, verdict):
            found.append(target.context)
    return found


def _free_port() -> int:
    # _socket, not socket: socket pulls in selectors and enum at every shell start.
    import _socket

    probe = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    finally:
        probe.close()
    return port


def plan_terminal(
    directory: str,
    terminal: str,
    shell_pid: int,
    contexts: list[str],
    kubeconfig: str,
    port: int = 0,
) -> TerminalGuard:
    """Prepare the guard directory and token; record what the guard will serve."""
    layout = layout_module.prepare(directory)
    layout_module.ensure_token(layout)
    ids = {name: layout_module.context_id(name) for name in contexts}
    guard = TerminalGuard(directory, terminal, shell_pid, port or _free_port(), ids, kubeconfig)
    record = {
        "terminal": terminal,
        "shell_pid": shell_pid,
        "port": guard.port,
        "contexts": ids,
        "kubeconfig": kubeconfig,
    }
    path = os.path.join(directory, TERMINAL_FILE)
    if not paths.write_private(path, marshal.dumps(record)):
        raise OSError(f"cannot write {path}")
    return guard


def load_terminal(directory: str) -> TerminalGuard | None:
    content = paths.read_private(os.path.join(directory, TERMINAL_FILE))
    if content is None:
        return None
    try:
        data = marshal.loads(content)
        return TerminalGuard(
            directory,
            str(data["terminal"]),
            int(data["shell_pid"]),
            int(data["port"]),
            {str(k): str(v) for k, v in data["contexts"].items()},
            str(data["kubeconfig"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def guard_pid(directory: str) -> int | None:
    content = paths.read_private(os.path.join(directory, PID_FILE))
    try:
        return int(content) if content else None
    except ValueError:
        return None


def _is_guard(pid: int, directory: str) -> bool:
    """The process is this terminal's guard keeper (not a reused PID), where /proc says so."""
    for _ in range(20):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                words = handle.read().split(b"\0")
        except FileNotFoundError:
            return not os.path.isdir("/proc/self")  # no /proc here: trust the PID
        except OSError:
            return False
        if words != [b""]:
            # A keeper's command line holds its guard's (``-m kubesafe.guard``) too; so does
            # a guard started before keepers existed, which the prompt then watches instead.
            return b"kubesafe.guard" in words and os.fsencode(directory) in words
        # Empty: a zombie, or a process still inside execve (Popen has returned once
        # exec closed its pipe, before the new command line is in place).
        time.sleep(0.005)
    return False


def running(directory: str) -> int | None:
    """The PID of this terminal's guard keeper when it runs."""
    pid = guard_pid(directory)
    if pid is None or not pid_alive(pid) or not _is_guard(pid, directory):
        return None
    return pid


def guard_command(guard: TerminalGuard) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "kubesafe.guard",
        "serve",
        "--dir",
        guard.directory,
        "--terminal",
        guard.terminal,
        "--shell-pid",
        str(guard.shell_pid),
    ]
    for name in guard.contexts:
        command.extend(("--context", name))
    return command


def keeper_command(directory: str, port: int, shell_pid: int, guard: list[str]) -> list[str]:
    """The keeper (``keeper.py``) that binds the port and keeps ``guard`` running on it."""
    return [
        sys.executable,
        "-m",
        "kubesafe.guard.keeper",
        "--dir",
        directory,
        "--port",
        str(port),
        "--shell-pid",
        str(shell_pid),
        "--",
        *guard,
    ]


def serving(directory: str) -> int | None:
    """The PID of the guard serving under this terminal's keeper, if one does.

    None while the keeper starts the guard (again), or backs off because it fails.
    """
    import json

    content = paths.read_private(os.path.join(directory, "guard.json"))
    try:
        pid = int(json.loads(content)["pid"]) if content else 0
    except (ValueError, KeyError, TypeError):
        return None
    # A guard killed by SIGKILL leaves its guard.json behind.
    return pid if pid > 0 and pid_alive(pid) and _is_guard(pid, directory) else None


def describe(directory: str, down: str) -> str:
    """How this terminal's keeper and guard are, for ``guard status``."""
    pid = running(directory)
    if pid is None:
        return f"not running ({down})"
    guard = serving(directory)
    if guard is None:
        log = os.path.join(directory, LOG_FILE)
        return f"running (pid {pid}), but no guard serves yet: starting, or failing (see {log})"
    return f"running (pid {pid}, guard pid {guard})"


def spawn(guard: TerminalGuard, env: Mapping[str, str]) -> int:
    """Start the guard's keeper in the background; returns its PID (``guard.pid``) at once.

    The keeper binds the port and runs the guard as its child, starting it again
    when it dies; the prompt's ``kill -0`` check and ``stop`` are for the keeper.
    """
    import subprocess

    command = keeper_command(guard.directory, guard.port, guard.shell_pid, guard_command(guard))
    child_env = {k: v for k, v in env.items() if k != "KUBESAFE_SESSION"}
    child_env["KUBECONFIG"] = guard.kubeconfig
    log = os.open(
        os.path.join(guard.directory, LOG_FILE), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
    )
    try:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=child_env,
            start_new_session=True,  # the terminal's Ctrl-C and job control leave it alone
            close_fds=True,
        )
    finally:
        os.close(log)
    paths.write_private(os.path.join(guard.directory, PID_FILE), f"{child.pid}\n".encode())
    return child.pid


def ensure_running(directory: str, env: Mapping[str, str]) -> int | None:
    """Restart this terminal's guard if it died; its PID, or None without one."""
    guard = load_terminal(directory)
    if guard is None or not guard.contexts:
        return None
    pid = running(directory)
    if pid is not None:
        return pid
    if guard.shell_pid and not pid_alive(guard.shell_pid):
        return None  # 0: the user-level guard, which belongs to no shell
    return spawn(guard, env)


def stop(directory: str) -> bool:
    """End this terminal's keeper, which stops its guard first (the shell is exiting)."""
    import signal

    pid = running(directory)
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return False
    return True
