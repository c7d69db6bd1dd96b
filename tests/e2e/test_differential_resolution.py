"""kubesafe's resolution against real kubectl's, over many generated layouts.

Each case writes 1-3 kubeconfig files with overlapping context, cluster and user
names, lays them out in KUBECONFIG (with empty entries and missing files) or
passes one with --kubeconfig, and adds --context/--cluster/--user/--server/-n in
random spellings and positions. Real kubectl then runs ``get pods`` against a
recording fake API server: the request it sends is the truth for server,
namespace and user, and ``kubectl config view --minify`` is the truth for the
context. ``kubesafe explain --json`` must agree, or fail where kubectl fails.

Each case is planned twice, as two kubesafe processes would: the second answer
comes from the resolution memo (``kubesafe.resolution_memo``) and is the one
compared with kubectl, after it is shown equal to the first.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesafe import endpoint, protected_endpoints, resolution_memo
from kubesafe.commands.explain import plan_to_json
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubectl.plan import make_plan
from tests.support.fake_apiserver import FakeAPIServer
from tests.support.kubectl_log import contacted_server

pytestmark = pytest.mark.e2e

CASES = 160
CONTEXTS = ["dev", "prod", "stage"]
CLUSTERS = ["east", "west", "ghost"]
USERS = ["alice", "bob"]
NAMESPACES = ["team-a", "team-b", ""]


@dataclass
class Case:
    index: int
    files: list[Path]
    env: dict[str, str]
    argv_flags: list[str]
    words: list[str]
    # The files kubectl reads, in order, with the index each was generated as.
    effective: list[tuple[Path, int]]


def _kubeconfig_doc(
    rng: random.Random, case: int, file_index: int, base_url: str, ca_data: str
) -> dict[str, Any]:
    clusters = rng.sample(CLUSTERS[:2], rng.choice([0, 1, 2, 2]))
    # Every file defines the users (with file-tagged tokens), so that first-file-wins is
    # visible in the token kubectl sends; a context without credentials over https would
    # make kubectl prompt for a username instead.
    users = list(USERS)
    contexts = rng.sample(CONTEXTS, rng.choice([0, 1, 2, 2, 3, 3]))
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Config"}
    doc["clusters"] = [
        {
            "name": name,
            "cluster": {
                "server": f"{base_url}/k{case}-{name}-f{file_index}",
                "certificate-authority-data": ca_data,
            },
        }
        for name in clusters
    ]
    doc["users"] = [
        {"name": name, "user": {"token": f"tok-{name}-f{file_index}"}} for name in users
    ]
    doc["contexts"] = []
    for name in contexts:
        body: dict[str, str] = {
            "cluster": "ghost" if rng.random() < 0.12 else rng.choice(CLUSTERS[:2])
        }
        if rng.random() < 0.95:
            body["user"] = rng.choice(USERS)
        namespace = rng.choice(NAMESPACES)
        if namespace:
            body["namespace"] = namespace
        doc["contexts"].append({"name": name, "context": body})
    current = rng.choice([*CONTEXTS, "", "", None])
    if current is not None:
        doc["current-context"] = current
    return doc


def _flag(rng: random.Random, name: str, value: str, short: str | None) -> list[str]:
    forms = [[f"--{name}", value], [f"--{name}={value}"]]
    if short:
        forms += [[f"-{short}", value], [f"-{short}{value}"], [f"-{short}={value}"]]
    return rng.choice(forms)


def _make_case(
    rng: random.Random, index: int, directory: Path, home: Path, base_url: str, ca_data: str
) -> Case:
    count = rng.randint(1, 3)
    files = []
    for file_index in range(count):
        path = directory / f"case{index}-f{file_index}.yaml"
        path.write_text(yaml.safe_dump(_kubeconfig_doc(rng, index, file_index, base_url, ca_data)))
        files.append(path)
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "")}
    flags: list[str] = []
    layout = rng.random()
    if layout < 0.15:
        chosen = rng.randrange(count)
        flags += _flag(rng, "kubeconfig", str(files[chosen]), None)
        env["KUBECONFIG"] = str(files[0])
        effective = [(files[chosen], chosen)]
    elif layout < 0.25:
        (home / ".kube").mkdir(exist_ok=True)
        (home / ".kube" / "config").write_text(files[0].read_text())
        effective = [(home / ".kube" / "config", 0)]
    else:
        entries = [str(f) for f in files]
        if rng.random() < 0.3:
            entries.insert(rng.randint(0, len(entries)), str(directory / "missing.yaml"))
        if rng.random() < 0.3:
            entries.insert(rng.randint(0, len(entries)), "")
        if rng.random() < 0.2:
            entries.append(entries[0])
        env["KUBECONFIG"] = os.pathsep.join(entries)
        effective = []
        for entry in entries:
            if (
                entry
                and Path(entry) in files
                and (Path(entry), files.index(Path(entry))) not in effective
            ):
                effective.append((Path(entry), files.index(Path(entry))))
    if rng.random() < 0.5:
        flags += _flag(rng, "context", rng.choice(CONTEXTS), None)
    if rng.random() < 0.2:
        flags += _flag(rng, "cluster", rng.choice(CLUSTERS[:2]), None)
    if rng.random() < 0.2:
        flags += _flag(rng, "user", rng.choice(USERS), None)
    if rng.random() < 0.15:
        flags += _flag(rng, "server", f"{base_url}/k{index}-override", "s")
    if rng.random() < 0.4:
        flags += _flag(rng, "namespace", rng.choice(["flag-ns", "other-ns"]), "n")
    if rng.random() < 0.15:
        # A repeated flag: the last one wins.
        flags += _flag(rng, "namespace", "last-ns", "n")
    if rng.random() < 0.2:
        flags += ["--as", "someone"] if rng.random() < 0.5 else ["-v", "0"]
    return Case(index, files, env, flags, ["get", "pods"], effective)


def _place(rng: random.Random, flags: list[str], words: list[str]) -> list[str]:
    """Interleave flag groups with the command words, keeping each group together."""
    groups: list[list[str]] = []
    i = 0
    while i < len(flags):
        if (flags[i].startswith("--") and "=" not in flags[i]) or flags[i] in ("-n", "-s", "-v"):
            groups.append(flags[i : i + 2])
            i += 2
        else:
            groups.append([flags[i]])
            i += 1
    units = [[word] for word in words]
    for group in groups:
        units.insert(rng.randint(0, len(units)), group)
    return [word for unit in units for word in unit]


def _kubectl(
    binary: Path, argv: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), *argv],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _generated_cases(tmp_path: Path, apiserver: FakeAPIServer) -> list[tuple[Case, list[str]]]:
    rng = random.Random(20261129)
    cases = []
    for index in range(CASES):
        home = tmp_path / f"home{index}"
        home.mkdir()
        assert apiserver.ca_data is not None
        case = _make_case(rng, index, tmp_path, home, apiserver.url, apiserver.ca_data)
        cases.append((case, _place(rng, case.argv_flags, case.words)))
    return cases


def _planned_twice(argv: list[str], env: dict[str, str], cache: Path) -> dict[str, Any]:
    """The second of two plans (the memo's answer), shown equal to the first."""
    reports = []
    for _ in range(2):
        protected_endpoints.forget_loaded()
        resolution_memo.forget_loaded()
        endpoint.reset_hosts()
        reports.append(plan_to_json(make_plan(argv, env, FileIndex(str(cache)))))
    assert reports[0] == reports[1], argv
    return reports[1]


def test_resolution_matches_real_kubectl(
    tmp_path: Path, tls_apiserver: FakeAPIServer, kubectl33: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apiserver = tls_apiserver
    outcomes = {"request": 0, "error": 0, "elsewhere": 0, "prompted": 0}
    # Every file here is written once: no two versions can share an identity, so the
    # memo may keep answers at once (it waits RACY_SECONDS for files that may change).
    monkeypatch.setattr(resolution_memo, "RACY_SECONDS", 0)
    real_lookup = resolution_memo.lookup
    hits: list[object] = []

    def lookup(key: Any, env: Any) -> Any:
        answer = real_lookup(key, env)
        if answer is not None:
            hits.append(key)
        return answer

    monkeypatch.setattr(resolution_memo, "lookup", lookup)
    resolved = 0
    for case, argv in _generated_cases(tmp_path, apiserver):
        apiserver.clear()
        result = _kubectl(kubectl33, [*argv, "-v=6", "--request-timeout=5s"], case.env)
        report = _planned_twice(argv, case.env, tmp_path / f"cache{case.index}")
        resolved += "error" not in report
        where = (
            f"case {case.index}: kubectl {' '.join(argv)} (KUBECONFIG={case.env.get('KUBECONFIG')})"
        )
        contacted = contacted_server(result.stderr)
        if contacted is None and result.stderr.rstrip().endswith("error: EOF"):
            # No credentials for an https server: kubectl asked stdin for a username
            # before connecting, so there is no request to compare with.
            outcomes["prompted"] += 1
            continue
        if contacted is None:
            # kubectl refused the configuration before contacting any server.
            assert result.returncode != 0, where
            assert "error" in report, (
                f"{where}: kubectl failed ({result.stderr.strip()}) but kubesafe resolved {report}"
            )
            outcomes["error"] += 1
            continue
        assert "error" not in report, (
            f"{where}: kubectl contacted {contacted} but kubesafe says {report.get('error')}"
        )
        assert report["server"] == contacted, where
        pods = [r for r in apiserver.requests if r.path.endswith("/pods")]
        if not pods:
            # A server other than the fake one (localhost:8080 for dangling clusters): only
            # the URL can be compared.
            outcomes["elsewhere"] += 1
            continue
        request = pods[-1]
        assert report["namespace"] == request.namespace, where
        token = request.authorization
        if token is None:
            assert report["user"] not in _users_with_tokens(case), where
        else:
            name, _, file_tag = token.removeprefix("Bearer tok-").rpartition("-f")
            assert report["user"] == name, where
            assert int(file_tag) == _first_file_defining_user(case, name), where
        minified = _kubectl(
            kubectl33, ["config", "view", "--minify", "-o", "json", *_context_flags(argv)], case.env
        )
        if minified.returncode == 0:
            assert report["context"] == json.loads(minified.stdout).get("current-context", ""), (
                where
            )
        outcomes["request"] += 1
    # Every resolvable case was answered by the memo the second time.
    assert len(hits) == resolved, (len(hits), resolved)
    # The generator must exercise every outcome substantially.
    assert outcomes["request"] > CASES // 3, outcomes
    assert outcomes["error"] > 10 and outcomes["elsewhere"] > 5, outcomes
    assert outcomes["prompted"] < CASES // 10, outcomes


def _context_flags(argv: list[str]) -> list[str]:
    """The argv without the command words (config view takes the same global flags)."""
    return [a for a in argv if a not in ("get", "pods")]


def _users_with_tokens(case: Case) -> set[str]:
    return {
        user["name"]
        for path, _ in case.effective
        for user in (yaml.safe_load(path.read_text()) or {}).get("users") or []
    }


def _first_file_defining_user(case: Case, name: str) -> int:
    for path, file_index in case.effective:
        doc = yaml.safe_load(path.read_text()) or {}
        if any(user["name"] == name for user in doc.get("users") or []):
            return file_index
    raise AssertionError(f"no file defines user {name}")
