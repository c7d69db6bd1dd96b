"""The shim's hot path imports nothing heavy and touches no network on a warm cache.

Timing lives in benchmarks/; these tests check the structural reasons it is fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.kubeconfigs import kubeconfig, write

HEAVY = [
    "yaml",
    "click",
    "httpx",
    "kubernetes",
    "dataclasses",
    "typing",
    "re",
    "fnmatch",
    "json",
    "inspect",
    "pathlib",
    "socket",
    "ssl",
    "colorama",
    "platformdirs",
    "packaging",
    "collections",
]

# No json or re in the probe itself: it must not load what it looks for.
PROBE = """
import sys
events = []
sys.addaudithook(lambda event, args: events.append(event) if event.startswith("socket.") else None)
import kubesafe.kubeconfig.cache as filecache
import kubesafe.resolution_memo as memo
filecache.RACY_SECONDS = 0
if sys.argv[3] == "memo":
    memo.RACY_SECONDS = 0  # the files are written once: no identity can be reused
from kubesafe.kubectl.plan import make_plan
argvs = [argv.split("\\x1f") for argv in sys.argv[1].split("\\x1e")]
heavy = sys.argv[2].split(",")
before = set(sys.modules)
plans = [make_plan(argv) for argv in argvs]
loaded = sorted((set(sys.modules) - before) | (set(sys.modules) & set(heavy)))
print(" ".join(p.decision for p in plans))
print(" ".join(loaded))
print(" ".join(events))
"""


def _probe(
    env: dict[str, str], argvs: list[list[str]], memo: bool = False
) -> dict[str, list[str]]:
    encoded = "\x1e".join("\x1f".join(argv) for argv in argvs)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, encoded, ",".join(HEAVY), "memo" if memo else "-"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    decisions, loaded, sockets = [*result.stdout.split("\n"), "", "", ""][:3]
    return {"decisions": decisions.split(), "loaded": loaded.split(), "socket": sockets.split()}


def test_warm_cache_loads_no_heavy_module_and_opens_no_socket(tmp_path: Path) -> None:
    config = write(
        tmp_path / "kubeconfig",
        kubeconfig(
            clusters={f"c{i}": f"https://10.0.0.{i}:6443" for i in range(200)},
            contexts={f"ctx-{i}": {"cluster": f"c{i}", "namespace": f"ns{i}"} for i in range(200)},
            current="ctx-0",
        ),
    )
    policy = write(
        tmp_path / "policy.yaml", "rules:\n  - context: 'ctx-1*'\n  - server: '*10.0.0.7*'\n"
    )
    env = {
        "HOME": str(tmp_path),
        "PATH": os.environ.get("PATH", ""),
        "KUBECONFIG": str(config),
        "KUBESAFE_CONFIG": str(policy),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    argvs = [
        ["get", "pods", "--context", "ctx-150"],  # read on a protected context
        ["-n", "x", "scale", "deploy/web", "--replicas=2"],  # write, unprotected
        ["delete", "pod", "x", "--context", "ctx-150"],  # write that needs confirmation
        ["__complete", "get", "pods", ""],  # TAB
    ]
    cold = _probe(env, argvs)
    assert "yaml" in cold["loaded"]  # the first call parses
    warm = _probe(env, argvs)
    assert warm["decisions"] == ["allow", "allow", "confirm", "allow"]
    assert [m for m in warm["loaded"] if m.split(".")[0] in HEAVY] == []
    assert warm["socket"] == []
    _probe(env, argvs, memo=True)  # keeps the answers
    remembered = _probe(env, argvs, memo=True)  # answered by the resolution memo
    assert remembered["decisions"] == warm["decisions"]
    assert [m for m in remembered["loaded"] if m.split(".")[0] in HEAVY] == []
    assert Path(tmp_path / "cache" / "kubesafe" / "resolutions.marshal").exists()


def test_warm_cache_with_a_kuberc_loads_no_heavy_module(tmp_path: Path) -> None:
    config = write(
        tmp_path / "kubeconfig",
        kubeconfig(
            clusters={"dev": "https://10.0.0.1:6443", "prod": "https://10.0.0.2:6443"},
            contexts={"dev": {"cluster": "dev"}, "prod": {"cluster": "prod"}},
            current="dev",
        ),
    )
    policy = write(tmp_path / "policy.yaml", "rules:\n  - context: prod\n")
    write(
        tmp_path / ".kube" / "kuberc",
        "apiVersion: kubectl.config.k8s.io/v1beta1\nkind: Preference\n"
        "defaults:\n- command: delete\n  options:\n  - {name: context, default: prod}\n"
        "aliases:\n- name: gp\n  command: get\n  prependArgs: [pods]\n",
    )
    env = {
        "HOME": str(tmp_path),
        "PATH": "",
        "KUBECONFIG": str(config),
        "KUBESAFE_CONFIG": str(policy),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    argvs = [["delete", "pod", "x"], ["gp", "--context", "prod"], ["get", "pods"]]
    cold = _probe(env, argvs)
    assert "kubesafe.kubectl.kuberc_decode" in cold["loaded"]
    warm = _probe(env, argvs)
    # No kubectl is known: the alias is judged as kubectl 1.37 and as an unknown plugin.
    assert warm["decisions"] == ["confirm", "confirm", "allow"]
    assert [m for m in warm["loaded"] if m.split(".")[0] in HEAVY] == []
    assert "kubesafe.kubectl.kuberc_decode" not in warm["loaded"]


def test_entry_point_does_not_import_click_for_the_shim() -> None:
    code = (
        "import sys; sys.argv=['kubectl']; import kubesafe.entry, kubesafe.kubectl.shim; "
        "print('click' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


HELM_PROBE = """
import sys
import kubesafe.kubeconfig.cache as filecache
import kubesafe.resolution_memo as memo
filecache.RACY_SECONDS = 0
if sys.argv[3] == "memo":
    memo.RACY_SECONDS = 0  # the files are written once: no identity can be reused
from kubesafe.helm.plan import make_helm_plan
import kubesafe.helm.shim
argvs = [argv.split("\\x1f") for argv in sys.argv[1].split("\\x1e")]
heavy = sys.argv[2].split(",")
before = set(sys.modules)
plans = [make_helm_plan(argv) for argv in argvs]
loaded = sorted((set(sys.modules) - before) | (set(sys.modules) & set(heavy)))
print(" ".join(p.decision for p in plans))
print(" ".join(loaded))
"""


def test_helm_warm_cache_loads_no_heavy_module(tmp_path: Path) -> None:
    config = write(
        tmp_path / "kubeconfig",
        kubeconfig(
            clusters={"prod": "https://10.0.0.1:6443", "dev": "https://10.0.0.2:6443"},
            contexts={"prod": {"cluster": "prod"}, "dev": {"cluster": "dev"}},
            current="dev",
        ),
    )
    policy = write(tmp_path / "policy.yaml", "rules:\n  - context: prod\n")
    env = {
        "HOME": str(tmp_path),
        "PATH": os.environ.get("PATH", ""),
        "KUBECONFIG": str(config),
        "KUBESAFE_CONFIG": str(policy),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    argvs = [
        ["--kube-context", "prod", "list"],
        ["-n", "x", "upgrade", "--install", "web", "./chart"],
        ["--kube-context", "prod", "uninstall", "web"],
        ["template", "web", "./chart"],
    ]
    encoded = "\x1e".join("\x1f".join(argv) for argv in argvs)
    results = []
    for _ in range(2):  # the first run fills the cache
        result = subprocess.run(
            [sys.executable, "-c", HELM_PROBE, encoded, ",".join(HEAVY), "-"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        results.append(result.stdout.split("\n"))
    decisions, loaded = results[1][0], results[1][1]
    assert decisions.split() == ["allow", "allow", "confirm", "allow"]
    assert [m for m in loaded.split() if m.split(".")[0] in HEAVY] == []


def _count_parses(monkeypatch, env: dict[str, str], argv: list[str]) -> list[tuple[str, ...]]:
    """Run the shim with kubectl's exec stubbed; return every argv handed to the parser."""
    from kubesafe.kubectl import args, shim

    parsed: list[tuple[str, ...]] = []
    real_parse = args.parse

    def counting(words):  # type: ignore[no-untyped-def]
        parsed.append(tuple(words))
        return real_parse(words)

    monkeypatch.setattr(args, "parse", counting)
    monkeypatch.setattr(shim, "exec_kubectl", lambda binary, argv, env, program="kubectl": 0)
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert shim.run(argv) == 0
    return parsed


def _parse_env(tmp_path: Path) -> dict[str, str]:
    config = write(
        tmp_path / "kubeconfig",
        kubeconfig(
            clusters={"dev": "https://10.0.0.2:6443"},
            contexts={"dev": {"cluster": "dev"}},
            current="dev",
        ),
    )
    fake_kubectl = tmp_path / "bin" / "kubectl"
    fake_kubectl.parent.mkdir()
    fake_kubectl.write_text("#!/bin/sh\n")
    fake_kubectl.chmod(0o755)
    return {
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "KUBECONFIG": str(config),
        "KUBESAFE_CONFIG": str(tmp_path / "policy.yaml"),
        "KUBESAFE_KUBECTL": str(fake_kubectl),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }


def test_shim_parses_argv_once(tmp_path: Path, monkeypatch) -> None:
    env = _parse_env(tmp_path)
    for argv in (["__complete", "get", "pods", ""], ["-n", "x", "delete", "pod", "web-0"]):
        assert _count_parses(monkeypatch, env, argv) == [tuple(argv)]


GUARDED_PROBE = """
import os, sys
import kubesafe.kubeconfig.cache as filecache
import kubesafe.resolution_memo as memo
filecache.RACY_SECONDS = 0
if sys.argv[3] == "memo":
    memo.RACY_SECONDS = 0  # the files are written once: no identity can be reused
from kubesafe.kubectl.plan import make_plan
from kubesafe.kubectl import shim
heavy = sys.argv[2].split(",")
before = set(sys.modules)
env = dict(os.environ)
plan = make_plan(sys.argv[1].split(" "), env)
shim._past_the_guard(plan, env)
loaded = sorted((set(sys.modules) - before) | (set(sys.modules) & set(heavy)))
print(plan.decision, plan.target.server, bool(plan.target.guard))
print(" ".join(loaded))
print(env["KUBECONFIG"].split(os.pathsep)[0])
"""


def test_a_guarded_context_in_a_terminal_stays_on_the_hot_path(tmp_path: Path) -> None:
    """Behind the terminal's guard: the real server is judged, and the kubectl the shim
    runs gets the direct kubeconfig, still without a heavy module."""
    from kubesafe.shell import session
    from kubesafe.shell.names import SESSION_VARIABLE

    config = write(
        tmp_path / "kubeconfig",
        kubeconfig(
            clusters={f"c{i}": f"https://10.0.0.{i}:6443" for i in range(20)},
            contexts={f"ctx-{i}": {"cluster": f"c{i}"} for i in range(20)},
            current="ctx-1",
        ),
    )
    policy = write(tmp_path / "policy.yaml", "rules:\n  - context: 'ctx-1*'\n")
    base = {
        **os.environ,
        "KUBECONFIG": str(config),
        "KUBESAFE_CONFIG": str(policy),
        "KUBESAFE_GUARD": "on",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    directory, kubeconfig_value = session.start_session(os.getpid(), base)
    env = {**base, "KUBECONFIG": kubeconfig_value, SESSION_VARIABLE: directory}

    def probe() -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", GUARDED_PROBE, "get pods", ",".join(HEAVY), "-"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return [*result.stdout.split("\n"), "", ""][:3]

    probe()  # cold: parses
    decision, loaded, first = probe()
    assert decision == "allow https://10.0.0.1:6443 True"
    assert [m for m in loaded.split() if m.split(".")[0] in HEAVY] == []
    assert first == os.path.join(directory, "direct", first.rsplit("/", 1)[1])
