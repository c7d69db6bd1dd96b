"""Assemble and run one terminal's guard.

``run_guard`` is what a ``kubesafe guard`` command (or the shell integration's
auto-start, next step) calls: it prepares the private directory, the token and
certificates, picks each context's kubectl with kubesafe's own version
selection, and serves until stopped. ``guard.json`` then tells clients where
it listens and which path prefix each context has (``client_config``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kubesafe import paths
from kubesafe.guard import layout as layout_module
from kubesafe.guard.gate import Gate
from kubesafe.guard.layout import Layout, context_id
from kubesafe.guard.lifts import LiftBook
from kubesafe.guard.pids import alive
from kubesafe.guard.server import HEAD_TIMEOUT, GuardedContext, GuardServer
from kubesafe.guard.tls import certificates_present, make_certificates, server_context
from kubesafe.guard.upstream import KubectlProxy, die_with_parent


class GuardError(Exception):
    """The guard cannot start; one line for the user."""


@dataclass(frozen=True)
class GuardConfig:
    directory: str
    terminal: str
    contexts: tuple[str, ...]
    # KUBECONFIG = the user's real files (never the terminal's own), KUBESAFE_CONFIG,
    # PATH for exec plugins, HOME...
    env: Mapping[str, str]
    port: int = 0
    kubectl: str | None = None
    head_timeout: float = HEAD_TIMEOUT
    # The terminal's shell: the guard ends when it is gone (0: no such watch).
    shell_pid: int = 0
    # A listening socket inherited from the keeper (-1: bind 127.0.0.1:port itself).
    listen_fd: int = -1
    # The keeper's PID: the guard ends when it is no longer its parent (0: no keeper).
    keeper: int = 0


def choose_kubectl(context: str, env: Mapping[str, str]) -> str:
    """The kubectl the shim would run for this context (pinned, cached, or downloaded)."""
    from kubesafe.kubeconfig.cache import FileIndex
    from kubesafe.kubeconfig.resolve import Overrides, ResolveError, resolve
    from kubesafe.policy import load_policy
    from kubesafe.versions.choose import choose
    from kubesafe.versions.fetch import FetchError, fetch

    index = FileIndex()
    try:
        target = resolve(Overrides(context=context), env, index)
    except ResolveError as exc:
        raise GuardError(str(exc)) from None
    settings = load_policy(env, index).kubectl
    choice = choose(target, settings, env, index, discover=True)
    if choice.path is not None:
        return choice.path
    if choice.download is None:
        raise GuardError(f"no kubectl for context {context!r}: {choice.reason}")
    try:
        return fetch(choice.download, settings, env, target, progress=False)
    except FetchError as exc:
        raise GuardError(str(exc)) from None


def _chooser(context: str, env: Mapping[str, str]) -> Callable[[], str]:
    return lambda: choose_kubectl(context, env)


def build(config: GuardConfig) -> tuple[GuardServer, Layout]:
    parent = os.path.dirname(os.path.abspath(config.directory))
    if config.shell_pid and not os.path.isdir(parent):
        # A terminal's guard lives in its session directory: gone means the shell ended.
        raise GuardError(f"{parent} is gone: the terminal has ended")
    try:
        layout = layout_module.prepare(config.directory)
        token = layout_module.ensure_token(layout)
        if not certificates_present(layout):
            make_certificates(layout)
    except OSError as exc:
        raise GuardError(f"cannot prepare {config.directory}: {exc}") from None
    ids = [context_id(name) for name in config.contexts]
    sockets = layout_module.socket_directory(layout, max((len(i) for i in ids), default=0) + 5)
    contexts = []
    for name, identifier in zip(config.contexts, ids, strict=True):
        proxy = KubectlProxy(
            config.kubectl or _chooser(name, config.env),
            name,
            os.path.join(sockets, f"{identifier}.sock"),
            config.env,
            layout.proxy_log(identifier),
        )
        contexts.append(GuardedContext(name, identifier, proxy))
    gate = Gate(config.env, LiftBook(layout.lifts, config.terminal))
    server = GuardServer(token, contexts, gate, config.terminal, head_timeout=config.head_timeout)
    return server, layout


def write_state(layout: Layout, port: int, server: GuardServer) -> None:
    state = {
        "pid": os.getpid(),
        "port": port,
        "ca": layout.ca,
        "token_file": layout.token_file,
        "contexts": {context.name: context.id for context in server.contexts.values()},
    }
    if not paths.write_private(layout.state, json.dumps(state, indent=2).encode() + b"\n"):
        raise GuardError(f"cannot write {layout.state}")


async def serve(config: GuardConfig, ready: Callable[[int], None] | None = None) -> None:
    keeper = _kept(config.keeper)
    server, layout = build(config)
    try:
        ssl_context = server_context(layout)
        sock = socket.socket(fileno=config.listen_fd) if config.listen_fd >= 0 else None
        port = await server.start(ssl_context, config.port, sock)
        write_state(layout, port, server)
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(signum, stopping.set)
        if ready is not None:
            ready(port)
        serving = asyncio.create_task(server.serve_forever())
        watching = asyncio.create_task(_watch(config.shell_pid, keeper, stopping))
        await stopping.wait()
        serving.cancel()
        watching.cancel()
    finally:
        try:  # before the port is free: a next guard on it writes its own state
            os.unlink(layout.state)
        except OSError:
            pass
        server.close()


def _kept(keeper: int) -> int:
    """Under a keeper, die with it (it may have died while this guard started)."""
    if keeper <= 0:
        return 0
    die_with_parent()
    if os.getppid() != keeper:
        raise GuardError("the guard's keeper is gone")
    return keeper


async def _watch(shell_pid: int, keeper: int, stopping: asyncio.Event) -> None:
    """End when the terminal's shell is gone, or the keeper (where no death signal came)."""
    if shell_pid <= 0 and not keeper:
        return
    while True:
        await asyncio.sleep(1.0)
        if (keeper and os.getppid() != keeper) or (shell_pid > 0 and not alive(shell_pid)):
            stopping.set()
            return


def run_guard(config: GuardConfig, ready: Callable[[int], None] | None = None) -> None:
    asyncio.run(serve(config, ready))
