"""Run a real guard (``python -m kubesafe.guard serve``) against a fake API server.

Shared by tests/guard and benchmarks/guard.py. Everything lives in one
temporary directory: HOME and the XDG directories (so nothing touches the
user's own files), the "real" kubeconfig (contexts ``prod``, protected by the
policy file, and ``dev``), the policy, the guard's private directory, and a
kubeconfig that reaches ``prod`` through the guard (``guard_kubeconfig``).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from kubesafe.guard.client_config import guard_kubeconfig
from kubesafe.guard.layout import Layout
from kubesafe.guard.lifts import close_lift, open_lift
from kubesafe.guard.terminal import keeper_command
from tests.support.fake_apiserver import FakeAPIServer, write_kubeconfig

ROOT = Path(__file__).resolve().parent.parent.parent
REAL_TOKEN = "real-upstream-token"
TERMINAL = "term-test"
DEFAULT_POLICY = "rules:\n  - context: prod\n"


def isolated_env(home: Path) -> dict[str, str]:
    env = {
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
    }
    for name in ("PYTHONPATH", "SYSTEMROOT"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


class Guarded:
    """A started guard plus everything a client needs to use it."""

    def __init__(
        self,
        directory: Path,
        server: FakeAPIServer,
        kubectl: Path,
        *,
        policy: str = DEFAULT_POLICY,
        user: dict[str, Any] | None = None,
        extra_args: tuple[str, ...] = (),
        keeper: bool = False,
        shell_pid: int = 0,
    ) -> None:
        self.directory = directory
        self.server = server
        self.kubectl = kubectl
        self.home = directory / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = isolated_env(self.home)
        self.real_kubeconfig = directory / "real-kubeconfig"
        config = server.kubeconfig("c-prod", context="prod", namespace="shop", token=REAL_TOKEN)
        if user is not None:
            config["users"][0]["user"] = user
        dev = server.kubeconfig("c-dev", context="dev", user="dev-user", token=REAL_TOKEN)
        for key in ("clusters", "users", "contexts"):
            config[key] += dev[key]
        write_kubeconfig(self.real_kubeconfig, config)
        self.policy = directory / "policy.yaml"
        self.policy.write_text(policy)
        self.env["KUBECONFIG"] = str(self.real_kubeconfig)
        self.env["KUBESAFE_CONFIG"] = str(self.policy)
        self.layout = Layout(str(directory / "guard"))
        self.extra_args = extra_args
        #: Run the guard under its keeper (``process`` is then the keeper), as terminals do.
        self.keeper = keeper
        self.shell_pid = shell_pid
        self.process: subprocess.Popen[str] | None = None
        self.port = 0
        self.kubeconfig = directory / "guard-kubeconfig"
        self.log = directory / "guard.log"

    def start(self) -> Guarded:
        argv = [
            sys.executable,
            "-m",
            "kubesafe.guard",
            "serve",
            "--context",
            "prod",
            "--terminal",
            TERMINAL,
            "--dir",
            self.layout.directory,
            "--kubectl",
            str(self.kubectl),
            *self.extra_args,
        ]
        if self.shell_pid:
            argv += ["--shell-pid", str(self.shell_pid)]
        if self.keeper:
            argv = keeper_command(self.layout.directory, 0, self.shell_pid, argv)
        env = {**self.env, "PYTHONPATH": str(ROOT)}
        with open(self.log, "ab") as log:
            # Under a keeper, a file as in a terminal: the keeper and its guards write it.
            stderr: int | IO[bytes] = log if self.keeper else subprocess.PIPE
            self.process = subprocess.Popen(
                argv, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=ROOT
            )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.stop()
            raise RuntimeError(f"the guard did not start: {self.stderr()}")
        self.port = int(json.loads(line)["port"])
        config = guard_kubeconfig(self.layout, {"prod": "shop"})
        write_kubeconfig(self.kubeconfig, config)
        return self

    @property
    def token(self) -> str:
        return Path(self.layout.token_file).read_text().strip()

    @property
    def url(self) -> str:
        state = json.loads(Path(self.layout.state).read_text())
        return f"https://127.0.0.1:{self.port}/{state['contexts']['prod']}"

    def client_env(self) -> dict[str, str]:
        """What a client in the terminal sees: only the guard's kubeconfig for prod."""
        return {**self.env, "KUBECONFIG": str(self.kubeconfig)}

    def open_lift(self, seconds: float = 900, reason: str = "planned change") -> None:
        open_lift(self.layout.lifts, TERMINAL, "prod", seconds, reason)

    def close_lift(self) -> None:
        close_lift(self.layout.lifts, TERMINAL, "prod")

    def kubectl_run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.kubectl), *args],
            env=self.client_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def guard_pid(self) -> int:
        """The guard's PID (under a keeper, the keeper's child; from ``guard.json``)."""
        assert self.process is not None
        if not self.keeper:
            return self.process.pid
        return int(json.loads(Path(self.layout.state).read_text())["pid"])

    def proxy_pids(self) -> list[int]:
        """Running kubectl proxy processes of this guard (its children, zombies left out)."""
        guard = self.guard_pid()
        children = Path(f"/proc/{guard}/task/{guard}/children")
        running = []
        for pid in children.read_text().split():
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                running.append(int(pid))
        return running

    def rss_kib(self) -> int:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stderr(self) -> str:
        if self.keeper:
            return self.log.read_text()
        if self.process is None or self.process.stderr is None:
            return ""
        if self.process.poll() is None:
            return ""
        return self.process.stderr.read()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Guarded:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def wait_for(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())
