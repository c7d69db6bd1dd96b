"""The resolution memo answers exactly as a fresh resolution would, and records all it read.

Two proofs, both over random sequences of changes to a world of several kubeconfig
files (missing ones, relative ones, a CA file, a hosts file, service account files,
a terminal's guard entries, the policy, the environment, the working directory
and the flags):

* every answer given by the memo equals the one a fresh resolution gives right
  after it, which in turn equals the next answer of the memo;
* while a fresh resolution runs, every ``open``, ``stat``, ``lstat``, ``access``,
  ``listdir`` and ``scandir`` and every ``os.environ`` lookup is watched: each file
  must be in what the memo entry records, each variable in it or in its key.

``tests/e2e/test_differential_resolution.py`` compares memo answers with real kubectl.
"""

from __future__ import annotations

import builtins
import io
import os
import random
import time
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesafe import endpoint, paths, protected_endpoints, reads, resolution_memo, verdict
from kubesafe.commands.explain import plan_to_json
from kubesafe.kubeconfig import cache, resolve
from kubesafe.kubectl.plan import make_plan

PROD = "https://api.prod.example:6443"
SERVERS = [
    PROD,
    "https://API.prod.example:6443/",
    "https://prod-alias.example:6443",
    "https://10.1.1.1:6443",
    "https://api.dev.example:6443",
    "https://api.stage.example:6443",
]
CONTEXTS = ["prod", "dev", "stage", "sandbox"]
CLUSTERS = ["prodc", "devc", "stagec", "tunnel"]
POLICIES = [
    "rules:\n  - context: prod\n",
    f"rules:\n  - server: {PROD}\n",
    "rules:\n  - context: 'stage*'\n    environment: staging\n",
    "rules: []\n",
    "rules:\n  - context: prod\n  - context: sandbox\n    namespaces: [payments]\n",
    "rules:\n  - context: 'stage*'\n    environment: staging\n"
    "environments:\n  staging: {write: none, destructive: none}\n",
]
COMMANDS = [["get", "pods"], ["delete", "pod", "web"], ["scale", "deploy/web", "--replicas=2"]]
# Environment variables that pick kubesafe's own directories, which are in the memo's key.
KEYED_VARIABLES = {
    "KUBESAFE_CACHE_DIR",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
    "XDG_CONFIG_HOME",
    "HOME",
}


class World:
    """Files under ``root`` that a random sequence of changes rewrites."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.clock = time.time_ns() - 3600 * 10**9
        self.configs = root / "configs"
        self.here = root / "here"
        self.there = root / "there"
        self.accounts = root / "serviceaccount"
        self.session = root / "session"
        self.home = root / "home"
        for directory in (self.configs, self.here, self.there, self.accounts, self.session):
            directory.mkdir(parents=True)
        (self.home / ".kube").mkdir(parents=True)
        self.hosts = root / "hosts"
        monkeypatch.setattr(endpoint, "HOSTS_FILE", str(self.hosts))
        monkeypatch.setattr(resolve, "SERVICE_ACCOUNT_DIR", str(self.accounts))
        monkeypatch.chdir(self.here)
        self.policy = root / "policy.yaml"
        self.env: dict[str, str] = {
            "HOME": str(self.home),
            "KUBESAFE_CONFIG": str(self.policy),
            "KUBESAFE_KUBECTL": "/bin/true",  # no version discovery: only resolution differs
            "PATH": "",
        }
        self._write(self.policy, POLICIES[0])
        self._write(self.hosts, "127.0.0.1 localhost\n")
        self._write(self.root / "ca.pem", "CA-ONE\n")
        for name in ("a.yaml", "b.yaml"):
            self.rewrite_config(self.configs / name)
        self.rewrite_config(self.here / "rel.yaml")
        self.env["KUBECONFIG"] = os.pathsep.join(
            [str(self.configs / "a.yaml"), str(self.configs / "b.yaml")]
        )

    def _write(self, path: Path, content: str) -> None:
        """Write ``content`` with an mtime of its own: no two versions share an identity."""
        path.write_text(content)
        self.clock += 1_000_000_007
        os.utime(path, ns=(self.clock, self.clock))

    def _config(self) -> dict[str, Any]:
        rng = self.rng
        clusters = []
        for name in rng.sample(CLUSTERS, rng.randint(1, len(CLUSTERS))):
            body: dict[str, Any] = {"server": rng.choice(SERVERS)}
            roll = rng.random()
            if roll < 0.3:
                body["certificate-authority"] = "../ca.pem" if rng.random() < 0.5 else "ca.pem"
            elif roll < 0.5:
                body["certificate-authority-data"] = "Q0EtT05FCg=="
            if rng.random() < 0.2:
                body["tls-server-name"] = "api.prod.example"
            if rng.random() < 0.15:
                body["extensions"] = [
                    {"name": "kubesafe", "extension": {"environment": "production"}}
                ]
            clusters.append({"name": name, "cluster": body})
        contexts = []
        for name in rng.sample(CONTEXTS, rng.randint(0, len(CONTEXTS))):
            entry: dict[str, Any] = {"cluster": rng.choice([*CLUSTERS, "ghost"]), "user": "u"}
            if rng.random() < 0.5:
                entry["namespace"] = rng.choice(["payments", "web", "default"])
            item: dict[str, Any] = {"name": name, "context": entry}
            if rng.random() < 0.1:
                item["context"]["extensions"] = [
                    {"name": "kubesafe", "extension": {"environment": "production"}}
                ]
            contexts.append(item)
        doc: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": clusters,
            "contexts": contexts,
            "users": [{"name": "u", "user": {"token": "t"}}],
        }
        if rng.random() < 0.8:
            doc["current-context"] = rng.choice([*CONTEXTS, ""])
        return doc

    def rewrite_config(self, path: Path) -> None:
        self._write(path, yaml.safe_dump(self._config(), sort_keys=False))

    def _session_config(self) -> str:
        port = self.rng.choice([41000, 41001])
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "kubesafe-guard/prod",
                    "cluster": {
                        "server": f"https://127.0.0.1:{port}/g1",
                        "extensions": [
                            {
                                "name": "kubesafe",
                                "extension": {"guard": {"cluster": "prodc", "user": "u"}},
                            }
                        ],
                    },
                }
            ],
            "users": [{"name": "kubesafe-guard/prod", "user": {"token": "g"}}],
            "contexts": [
                {
                    "name": "prod",
                    "context": {"cluster": "kubesafe-guard/prod", "user": "kubesafe-guard/prod"},
                }
            ],
        }
        return yaml.safe_dump(doc, sort_keys=False)

    def change(self) -> str:
        """One random change; returns what it was, for failure messages."""
        rng = self.rng
        choice = rng.randrange(14)
        if choice == 0:
            path = rng.choice([self.configs / "a.yaml", self.configs / "b.yaml"])
            self.rewrite_config(path)
            return f"rewrote {path.name}"
        if choice == 1:
            path = self.configs / "c.yaml"
            if path.exists():
                path.unlink()
                return "deleted c.yaml"
            self.rewrite_config(path)
            return "created c.yaml"
        if choice == 2:
            content = rng.choice(["CA-ONE\n", "CA-TWO\n"])
            self._write(self.root / "ca.pem", content)
            return f"ca.pem is {content.strip()}"
        if choice == 3:
            line = rng.choice(["", "10.1.1.1 api.prod.example prod-alias.example\n"])
            self._write(self.hosts, "127.0.0.1 localhost\n" + line)
            return f"hosts: {line.strip()!r}"
        if choice == 4:
            policy = rng.choice(POLICIES)
            self._write(self.policy, policy)
            return f"policy {policy!r}"
        if choice == 5:
            files = [str(self.configs / n) for n in ("a.yaml", "b.yaml", "c.yaml")]
            layouts = [
                files[:2],
                files[1::-1],
                files,
                ["rel.yaml", files[0]],
                [files[1], "", "rel.yaml"],
                [],
            ]
            chosen = rng.choice(layouts)
            if chosen:
                self.env["KUBECONFIG"] = os.pathsep.join(chosen)
            else:
                self.env.pop("KUBECONFIG", None)
            return f"KUBECONFIG={self.env.get('KUBECONFIG')}"
        if choice == 6:
            self._write(self.home / ".kube" / "config", yaml.safe_dump(self._config()))
            return "rewrote ~/.kube/config"
        if choice == 7:
            for name, value in (
                ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
                ("KUBERNETES_SERVICE_PORT", "443"),
                ("POD_NAMESPACE", "from-pod"),
                ("KUBERNETES_MASTER", "https://master.example:6443"),
            ):
                if rng.random() < 0.5:
                    self.env.pop(name, None)
                else:
                    self.env[name] = value
            return "in-cluster variables changed"
        if choice == 8:
            token = self.accounts / "token"
            if token.exists():
                token.unlink()
            else:
                self._write(token, "sa-token")
            self._write(self.accounts / "namespace", rng.choice(["kube-system\n", "batch\n"]))
            return "service account files changed"
        if choice == 9:
            os.chdir(rng.choice([self.here, self.there]))
            return f"cwd {os.getcwd()}"
        if choice == 10:
            if "KUBESAFE_SESSION" in self.env:
                del self.env["KUBESAFE_SESSION"]
                return "left the terminal session"
            self.env["KUBESAFE_SESSION"] = str(self.session)
            self._write(self.session / "kubeconfig", self._session_config())
            listed = self.env.get("KUBECONFIG", "")
            own = str(self.session / "kubeconfig")
            if own not in listed:
                self.env["KUBECONFIG"] = os.pathsep.join(p for p in (own, listed) if p)
            return "entered the terminal session"
        if choice == 11:
            self._write(self.here / "rel.yaml", yaml.safe_dump(self._config()))
            return "rewrote rel.yaml"
        return "nothing"

    def argv(self) -> list[str]:
        rng = self.rng
        flags: list[str] = []
        if rng.random() < 0.35:
            flags += ["--context", rng.choice([*CONTEXTS, "missing"])]
        if rng.random() < 0.1:
            flags += ["--cluster", rng.choice(CLUSTERS)]
        if rng.random() < 0.1:
            flags += ["--server", rng.choice(SERVERS)]
        if rng.random() < 0.25:
            flags += ["-n", rng.choice(["payments", "web"])]
        if rng.random() < 0.1:
            flags += ["--kubeconfig", rng.choice([str(self.configs / "a.yaml"), "rel.yaml"])]
        if rng.random() < 0.05:
            flags += ["--certificate-authority", "../ca.pem"]
        if rng.random() < 0.05:
            flags += ["--insecure-skip-tls-verify"]
        return [*rng.choice(COMMANDS), *flags]


def _fresh_process() -> None:
    """What a new kubesafe process starts from: nothing loaded in memory."""
    protected_endpoints.forget_loaded()
    resolution_memo.forget_loaded()
    endpoint.reset_hosts()


def _outcome(argv: list[str], env: dict[str, str]) -> Any:
    _fresh_process()
    plan = make_plan(argv, dict(env))
    return (plan_to_json(plan), plan.protection, plan.targets, plan.decision, plan.guarded)


class Watch:
    """Every file and environment variable touched while ``active``."""

    def __init__(self) -> None:
        self.active = False
        self.files: list[str] = []
        self.variables: set[str] = set()

    def path(self, value: Any) -> None:
        if self.active and isinstance(value, (str, bytes, os.PathLike)):
            self.files.append(os.path.abspath(os.fsdecode(value)))


class WatchedEnviron(MutableMapping[str, str]):
    def __init__(self, real: MutableMapping[str, str], watch: Watch) -> None:
        self._real = real
        self._watch = watch

    def __getitem__(self, name: str) -> str:
        if self._watch.active:
            self._watch.variables.add(name)
        return self._real[name]

    def __setitem__(self, name: str, value: str) -> None:
        self._real[name] = value

    def __delitem__(self, name: str) -> None:
        del self._real[name]

    def __iter__(self) -> Iterator[str]:
        if self._watch.active:
            self._watch.variables.add("*")
        return iter(self._real)

    def __len__(self) -> int:
        return len(self._real)

    def copy(self) -> dict[str, str]:
        return dict(self)


def _watching(watch: Watch, real: Callable[..., Any]) -> Callable[..., Any]:
    def watched(target: Any, *args: Any, **kwargs: Any) -> Any:
        watch.path(target)
        return real(target, *args, **kwargs)

    return watched


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Watch:
    seen = Watch()
    for module, name in (
        (os, "stat"),
        (os, "lstat"),
        (os, "open"),
        (os, "access"),
        (os, "listdir"),
        (os, "scandir"),
        (builtins, "open"),
        (io, "open"),
    ):
        monkeypatch.setattr(module, name, _watching(seen, getattr(module, name)))
    monkeypatch.setattr(os, "environ", WatchedEnviron(os.environ, seen))
    return seen


def _own_files(path: str) -> bool:
    """kubesafe's caches and temporary files: written or read for speed, never answers."""
    cache = os.path.abspath(paths.cache_dir())
    state = os.path.abspath(paths.state_dir())
    return (
        path.startswith(cache + os.sep)
        or (cache + os.sep).startswith(path + os.sep)  # made on the way to write it
        or (state + os.sep).startswith(path + os.sep)
        or path.endswith(".tmp")
        # Only says whether the memory needs refreshing; the memory itself is recorded.
        or path == os.path.abspath(protected_endpoints.memo_path())
    )


def _audited_resolve(watch: Watch, failures: list[str]) -> Callable[..., Any]:
    real = verdict._resolve

    def resolve_watched(case: Any, policy: Any, env: Any, index: Any, parsed: bool) -> Any:
        watch.files.clear()
        watch.variables.clear()
        watch.active = True
        try:
            resolved = real(case, policy, env, index, parsed)
        finally:
            watch.active = False
        recorded = resolved.recorded
        if resolved.merged is None or recorded is None:
            return resolved  # answered by the memo, or a resolver no answer is kept for
        noted = {os.path.abspath(path) for path in recorded.files}
        for path in watch.files:
            if path not in noted and not _own_files(path):
                failures.append(f"read {path} but the memo does not record it")
        for name in watch.variables:
            if name not in KEYED_VARIABLES:
                failures.append(f"looked up os.environ[{name!r}] outside the record and the key")
        return resolved

    return resolve_watched


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_memo_answers_as_a_fresh_resolution_and_records_all_it_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, watch: Watch, seed: int
) -> None:
    # Files of this world get unique mtimes, so no two versions share an identity and the
    # racy window is not needed; kubesafe's own writes are 10 ms apart (see below).
    monkeypatch.setattr(resolution_memo, "RACY_SECONDS", 0)
    # The parsed-file cache too: a policy file parsed again sends the call down the slow
    # path, past the memo (verdict._resolve), and this world's files are all seconds old.
    monkeypatch.setattr(cache, "RACY_SECONDS", 0)
    world = World(tmp_path, monkeypatch, seed)
    real_lookup = resolution_memo.lookup
    hits: list[Any] = []
    forced_miss = False

    def lookup(key: Any, env: Any) -> Any:
        if forced_miss:
            return None
        watching, watch.active = watch.active, False  # its own checks are no reads
        try:
            answer = real_lookup(key, env)
        finally:
            watch.active = watching
        if answer is not None:
            hits.append(key)
        return answer

    monkeypatch.setattr(resolution_memo, "lookup", lookup)
    failures: list[str] = []
    monkeypatch.setattr(verdict, "_resolve", _audited_resolve(watch, failures))
    steps = 150
    history: list[str] = []
    for step in range(steps):
        history.append(world.change())
        argv = world.argv()
        where = f"seed {seed} step {step}: kubectl {' '.join(argv)} after {history[-6:]}"
        remembered = _outcome(argv, world.env)
        time.sleep(0.01)  # kubesafe's own writes in another timestamp tick
        forced_miss = True
        watch.active = False
        fresh = _outcome(argv, world.env)
        forced_miss = False
        time.sleep(0.01)
        again = _outcome(argv, world.env)
        time.sleep(0.01)
        assert remembered == fresh, where
        assert again == fresh, where
        assert not failures, f"{where}: {failures}"
    # The memo must really have answered, in all kinds of situations.
    assert len(hits) > steps // 2, len(hits)


def test_an_answer_is_kept_only_for_settled_files(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        yaml.safe_dump(
            {
                "clusters": [{"name": "c", "cluster": {"server": PROD}}],
                "contexts": [{"name": "prod", "context": {"cluster": "c"}}],
                "current-context": "prod",
            }
        )
    )
    env = {"KUBECONFIG": str(config), "KUBESAFE_KUBECTL": "/bin/true", "HOME": str(tmp_path)}
    kept: list[bool] = []
    real = resolution_memo.store

    def store(*args: Any) -> bool:
        kept.append(real(*args))
        return kept[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resolution_memo, "store", store)
        _outcome(["get", "pods"], env)
        assert kept == [False]  # written just now: its identity may yet be reused
        patch.setattr(resolution_memo, "RACY_SECONDS", 0)
        _outcome(["get", "pods"], env)
        assert kept[-1] is True


def _recorded(reading: Callable[[], object]) -> reads.Reads:
    """What ``reading`` reported to the recorder."""
    recorded = reads.Reads()
    reads.start(recorded)
    try:
        reading()
    finally:
        reads.stop(recorded)
    return recorded


def test_nothing_is_kept_when_the_environment_was_listed() -> None:
    recorded = _recorded(lambda: list(reads.RecordingEnv({"A": "1"})))
    assert recorded.unkeyable
    assert resolution_memo.store(("key",), recorded, "answer", time.time_ns()) is False


def test_a_file_changed_during_the_resolution_voids_the_answer(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("one")

    def read_then_rewrite() -> None:
        reads.note_now(str(path))
        path.write_text("two, longer")

    recorded = _recorded(read_then_rewrite)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resolution_memo, "RACY_SECONDS", 0)
        assert resolution_memo.store(("key",), recorded, "answer", time.time_ns()) is False
        assert resolution_memo.lookup(("key",), {}) is None


def test_a_changed_variable_or_file_misses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolution_memo, "RACY_SECONDS", 0)
    path = tmp_path / "config"
    path.write_text("one")

    def read_all() -> None:
        reads.note_now(str(path))
        reads.note_now(str(tmp_path / "absent"))
        reads.RecordingEnv({"KUBECONFIG": "x"}).get("KUBECONFIG")
        reads.RecordingEnv({}).get("KUBERNETES_MASTER")

    recorded = _recorded(read_all)
    assert resolution_memo.store(("key",), recorded, "answer", time.time_ns())
    resolution_memo.forget_loaded()
    env = {"KUBECONFIG": "x"}
    assert resolution_memo.lookup(("key",), env) == "answer"
    assert resolution_memo.lookup(("key",), {**env, "KUBERNETES_MASTER": "m"}) is None
    assert resolution_memo.lookup(("key",), {"KUBECONFIG": "y"}) is None
    (tmp_path / "absent").write_text("")
    assert resolution_memo.lookup(("key",), env) is None
    (tmp_path / "absent").unlink()
    assert resolution_memo.lookup(("key",), env) == "answer"
    path.write_text("two")
    assert resolution_memo.lookup(("key",), env) is None


def test_an_extension_marshal_cannot_write_is_answered_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A YAML timestamp in an extension: nothing to keep, and no error."""
    config = tmp_path / "config"
    config.write_text(
        "clusters:\n- name: c\n  cluster: {server: 'https://api.prod.example:6443'}\n"
        "contexts:\n- name: prod\n  context:\n    cluster: c\n    extensions:\n"
        "    - {name: kubesafe, extension: {environment: production, since: 2024-01-01}}\n"
        "current-context: prod\n"
    )
    env = {"KUBECONFIG": str(config), "KUBESAFE_KUBECTL": "/bin/true", "HOME": str(tmp_path)}
    monkeypatch.setattr(resolution_memo, "RACY_SECONDS", 0)
    first = _outcome(["delete", "pod", "web"], env)
    second = _outcome(["delete", "pod", "web"], env)
    assert first == second
    assert first[0]["decision"] != "allow"
