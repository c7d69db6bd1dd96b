"""``kubesafe demo``: start the stand-in server and the sandbox, run the tour or a shell,
and remove everything afterwards, also on Ctrl+C, SIGTERM and SIGHUP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from kubesafe.demo.apiserver import DemoAPIServer
from kubesafe.demo.objects import CLUSTERS, DEMO_VERSION
from kubesafe.demo.sandbox import Sandbox
from kubesafe.versions import store

Echo = Callable[[str], None]
EXIT_INTERRUPTED = 130


@contextmanager
def signals_as_exit() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind the stack like Ctrl+C does, so cleanup code runs."""

    def leave(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    names = ("SIGTERM", "SIGHUP")
    wanted = [getattr(signal, name) for name in names if hasattr(signal, name)]
    previous = {signum: signal.signal(signum, leave) for signum in wanted}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run(*, script: bool, echo: Echo, has_ctx: bool = False) -> int:
    if not script and not sys.stdin.isatty():
        echo("kubesafe: the interactive demo needs a terminal; try: kubesafe demo --script")
        return 1
    try:
        with signals_as_exit(), DemoAPIServer() as server:
            urls = {name: server.cluster_url(name) for name in CLUSTERS}
            with Sandbox(urls, os.environ) as sandbox:
                sandbox.seed_kubectl(store.store_dir())
                if script:
                    return _script(server, sandbox, echo)
                return _interactive(server, sandbox, echo, has_ctx)
    except KeyboardInterrupt:
        echo("\nkubesafe demo: interrupted; the sandbox is removed.")
        return EXIT_INTERRUPTED


def _intro(server: DemoAPIServer, sandbox: Sandbox) -> str:
    return (
        f"kubesafe demo: a stand-in API server at {server.url} plays three clusters,\n"
        f"dev, staging and prod (Kubernetes {DEMO_VERSION}). A demo policy protects prod "
        '(y/N before writes,\ntype "prod" before deletes) and staging (y/N before deletes). '
        f"Sandbox: {sandbox.root}\n"
        "Your own kubeconfig, policy and cache are not used, and the sandbox is removed "
        "at the end."
    )


def _script(server: DemoAPIServer, sandbox: Sandbox, echo: Echo) -> int:
    from kubesafe.demo import terminal
    from kubesafe.demo.shell import find_bash, write_rc
    from kubesafe.demo.tour import DemoTerminals, run_tour

    echo(_intro(server, sandbox))
    bash = find_bash(sandbox.env)
    terminals = None
    if bash is not None and terminal.available():
        colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        terminals = DemoTerminals(bash, write_rc(sandbox.root), sandbox.env, colour=colour)
    try:
        ok = run_tour(sandbox.env, echo, terminals=terminals.run if terminals else None)
    finally:
        if terminals is not None:
            terminals.close()
    echo("Sandbox removed. To try it yourself: kubesafe demo")
    return 0 if ok else 1


def _interactive(server: DemoAPIServer, sandbox: Sandbox, echo: Echo, has_ctx: bool) -> int:
    from kubesafe.demo.shell import find_bash, run_shell, welcome, write_rc

    bash = find_bash(sandbox.env)
    if bash is None:
        echo("kubesafe: the interactive demo needs bash on PATH; try: kubesafe demo --script")
        return 1
    echo(_intro(server, sandbox))
    echo("\nAsking dev for its version; kubesafe fetches the matching kubectl if needed:")
    echo("$ kubectl version")
    fetched = subprocess.run(
        [sys.executable, "-m", "kubesafe", "kubectl", "version"],
        env=sandbox.env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if fetched.returncode != 0:
        echo(
            f"\nNo kubectl {DEMO_VERSION} could be found or fetched, so kubectl commands will "
            "fail here;\nkubesafe still decides (`kubesafe explain -- ARGS` shows how). "
            "Set KUBESAFE_MIRROR or connect to the internet to see it all."
        )
    echo("")
    echo(welcome(server.url, has_ctx))
    rc_file = write_rc(sandbox.root)
    run_shell(bash, rc_file, sandbox.env)
    echo("kubesafe demo: the sandbox is removed.")
    return 0
