"""The current target: reachable, its version, the kubectl that would run, completion."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping

from kubesafe.doctor.check import FAIL, OK, WARN, Check
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubeconfig.resolve import Target
from kubesafe.policy import Policy
from kubesafe.versions import server_cache
from kubesafe.versions.choose import DEFAULT_TIMEOUT, Choice, choose
from kubesafe.versions.parse import KubeVersion, parse_git_version

# Doctor should answer quickly even when the configured discovery timeout is long.
MAX_TIMEOUT = 5.0
COMPLETION_TIMEOUT = 15.0
_DIRECTIVE = re.compile(r"^:\d+$")
# Reached the server but may not read /version: reachable, version unknown.
_REFUSED = ("unauthorized", "forbidden")


def server_version(target: Target, policy: Policy) -> tuple[Check, str | None]:
    """Ask the target's ``/version`` (read only: nothing is written, not even the cache)."""
    from kubesafe.versions.discovery import DiscoveryError, fetch_server_version

    configured = policy.kubectl.get("discovery-timeout", DEFAULT_TIMEOUT)
    timeout = min(float(configured), MAX_TIMEOUT)
    label = f"{target.context or '(no context)'} at {target.server}"
    try:
        payload = fetch_server_version(
            kubeconfig_files=list(target.kubeconfig),
            context=target.context,
            cluster=target.cluster,
            user=target.user,
            server=target.server,
            timeout=timeout,
        )
    except DiscoveryError as exc:
        status = WARN if exc.reason in _REFUSED else FAIL
        fix = (f"check the network or VPN to {target.server}, or switch: kubesafe ctx OTHER",)
        if exc.reason in _REFUSED:
            fix = (
                "kubesafe falls back on the kubectl last used for it; pin one with "
                "kubectl.contexts in the policy file",
            )
        return Check("server", status, f"{label}: {exc}", subject=target.context, fix=fix), None
    git_version = str(payload.get("gitVersion") or "")
    if parse_git_version(git_version) is None:
        return Check(
            "server",
            WARN,
            f"{label} answers, but its version {git_version or '(none)'} cannot be parsed",
            subject=target.context,
        ), None
    return Check(
        "server", OK, f"{label} is reachable, version {git_version}", subject=target.context
    ), git_version


def _skew(kubectl: KubeVersion, server: KubeVersion) -> int | None:
    """Minor versions between them; None when the majors differ."""
    return abs(kubectl.minor - server.minor) if kubectl.major == server.major else None


def kubectl_choice(
    target: Target, policy: Policy, env: Mapping[str, str], known_version: str | None
) -> Check:
    """The kubectl ``kubesafe versions which`` names, given the version just learned."""
    versions = server_cache.ServerVersions()
    if known_version is not None:
        versions.record(target.server, known_version)  # in memory only: never saved
    index = FileIndex()
    choice = choose(target, policy.kubectl, env, index, versions=versions)
    return _judge_choice(choice, target, known_version or choice.server_version)


def binary_version(path: str) -> str:
    """A kubectl binary's own ``gitVersion`` ("" when it cannot say)."""
    import json

    try:
        result = subprocess.run(
            [path, "version", "--client", "-o", "json"],
            capture_output=True,
            timeout=COMPLETION_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "KUBESAFE_DISCOVERY": "1"},
        )
        return str(json.loads(result.stdout or b"{}")["clientVersion"]["gitVersion"])
    except (OSError, ValueError, KeyError, TypeError, subprocess.SubprocessError):
        return ""


def _judge_choice(choice: Choice, target: Target, server_version: str | None) -> Check:
    # A pinned kubectl's Choice carries no server version: the caller supplies it.
    server = parse_git_version(server_version) if server_version else None
    if choice.path is None and choice.download is None:
        return Check(
            "kubectl-version",
            FAIL,
            f"no kubectl to run for {target.context}: {choice.reason}",
            subject=target.context,
            fix=(f"kubesafe versions install {server.minor_str if server else '1.NN'}",),
        )
    if choice.download is not None:
        return Check(
            "kubectl-version",
            WARN,
            f"kubectl {choice.download} will be downloaded on first use ({choice.reason})",
            subject=target.context,
            fix=(f"kubesafe versions install {choice.download.removeprefix('v')}",),
        )
    version = choice.version or binary_version(choice.path or "")
    kubectl = parse_git_version(version) if version else None
    head = f"kubectl {version or '(version unknown)'} {choice.path}: {choice.reason}"
    if kubectl is None or server is None:
        return Check(
            "kubectl-version",
            WARN,
            f"{head}; the version skew cannot be checked",
            subject=target.context,
        )
    skew = _skew(kubectl, server)
    if skew is not None and skew <= 1:
        return Check(
            "kubectl-version",
            OK,
            f"{head}; within the supported skew of server {server.tag}",
            subject=target.context,
        )
    fix = f"kubesafe versions install {server.minor_str}"
    if "KUBESAFE_KUBECTL" in choice.reason:
        fix = "unset KUBESAFE_KUBECTL"
    elif "pinned" in choice.reason:
        fix += " and drop the pin (kubectl.version / kubectl.contexts) from the policy file"
    return Check(
        "kubectl-version",
        FAIL,
        f"{head}; outside the supported skew (one minor) of server {server.tag}",
        subject=target.context,
        fix=(fix,),
    )


def completion(env: Mapping[str, str], context_names: list[str]) -> Check:
    """TAB completion: ``kubectl __complete`` through the shim reaches a real kubectl."""
    argv = [sys.executable, "-m", "kubesafe", "kubectl", "__complete", "config", "use-context", ""]
    try:
        result = subprocess.run(
            argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMPLETION_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Check(
            "completion",
            FAIL,
            f"kubesafe kubectl __complete did not answer within {COMPLETION_TIMEOUT:g}s",
        )
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 or not lines or not _DIRECTIVE.match(lines[-1]):
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        return Check(
            "completion",
            FAIL,
            "kubesafe kubectl __complete does not reach a real kubectl "
            f"(exit status {result.returncode})",
            detail=tuple(errors[:3]),
            fix=("install kubectl on PATH, or: kubesafe versions install 1.NN",),
        )
    offered = lines[:-1]
    missing = [name for name in context_names if name not in offered]
    if missing:
        return Check(
            "completion",
            WARN,
            f"completion works but did not offer the contexts {', '.join(missing)}",
            detail=tuple(lines),
        )
    return Check(
        "completion",
        OK,
        f"kubectl completion passes through kubesafe (directive {lines[-1]}, "
        f"{len(offered)} context{'s' if len(offered) != 1 else ''} offered)",
    )
