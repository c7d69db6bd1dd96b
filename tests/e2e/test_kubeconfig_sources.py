"""What kubectl reads is what kubesafe reads: pipes, FIFOs, /dev/stdin, multi-document files.

Real kubectl (and helm) runs through ``kubesafe kubectl`` without a terminal against the
recording fake API server. A kubeconfig that is not a regular file is left unread by
kubesafe: the read works exactly as kubectl does it (the sops/vault pattern
``kubectl --kubeconfig <(sops -d x) get pods``), a write through it is refused before
anything reaches a server. A kubeconfig with several YAML documents resolves as kubectl
resolves it (the first document), checked against kubectl 1.31, 1.33 and 1.37.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from tests.support.fake_apiserver import FakeAPIServer
from tests.support.kubectl_binaries import helm_binary, kubectl_binary

pytestmark = pytest.mark.e2e

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
PREFIX = "sources-dev"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@pytest.fixture
def config_text(apiserver: FakeAPIServer) -> str:
    """An unprotected ``dev`` context: a refusal can only come from the unread file."""
    apiserver.add_pod(PREFIX, "team", "web-0")
    return yaml.safe_dump(apiserver.kubeconfig(PREFIX, context="dev", namespace="team"))


@pytest.fixture
def env(tmp_path: Path, isolated_home: Path, kubectl33: Path) -> dict[str, str]:
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  - context: prod\n")
    return {
        "HOME": str(isolated_home),
        "XDG_STATE_HOME": str(isolated_home / "state"),
        "XDG_CACHE_HOME": str(isolated_home / "cache"),
        "PATH": "/usr/bin:/bin",
        "KUBECONFIG": str(tmp_path / "absent"),
        "KUBESAFE_CONFIG": str(policy),
        "KUBESAFE_KUBECTL": str(kubectl33),
        "NO_COLOR": "1",
    }


def _bash(env: dict[str, str], script: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    # A new session: no controlling terminal, like CI.
    return subprocess.run(
        ["/bin/bash", "-c", script],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        start_new_session=True,
    )


def _writes(apiserver: FakeAPIServer) -> list[str]:
    return [f"{r.method} {r.path}" for r in apiserver.requests if r.method in WRITE_METHODS]


def _pod_reads(apiserver: FakeAPIServer) -> list[tuple[str, str]]:
    return [
        (r.prefix, r.namespace)
        for r in apiserver.requests
        if r.method == "GET" and r.resource == "pods"
    ]


def test_process_substitution_read_works(
    tmp_path: Path, env: dict[str, str], config_text: str, apiserver: FakeAPIServer
) -> None:
    (tmp_path / "secret.yaml").write_text(config_text)
    apiserver.clear()
    result = _bash(env, f"{KUBESAFE} kubectl --kubeconfig <(cat {tmp_path}/secret.yaml) get pods")
    assert result.returncode == 0, result.stderr
    assert "web-0" in result.stdout
    assert _pod_reads(apiserver) == [(PREFIX, "team")]


def test_process_substitution_write_is_refused_and_nothing_is_sent(
    tmp_path: Path, env: dict[str, str], config_text: str, apiserver: FakeAPIServer
) -> None:
    (tmp_path / "secret.yaml").write_text(config_text)
    apiserver.clear()
    result = _bash(
        env, f"{KUBESAFE} kubectl --kubeconfig <(cat {tmp_path}/secret.yaml) delete pod web-0"
    )
    assert result.returncode == 3
    [line] = result.stderr.splitlines()
    assert "is a pipe, not a regular file" in line and "use a regular file for writes" in line
    assert apiserver.requests == []
    # Without the pipe the same write to the unprotected context runs.
    plain = _bash(
        env, f"{KUBESAFE} kubectl --kubeconfig {tmp_path}/secret.yaml label pod web-0 a=b"
    )
    assert plain.returncode == 0, plain.stderr
    assert _writes(apiserver)


def test_dev_stdin_read_works_and_write_is_refused(
    env: dict[str, str], config_text: str, apiserver: FakeAPIServer
) -> None:
    apiserver.clear()
    read = _bash(env, f"{KUBESAFE} kubectl --kubeconfig /dev/stdin get pods", stdin=config_text)
    assert read.returncode == 0, read.stderr
    assert _pod_reads(apiserver) == [(PREFIX, "team")]
    apiserver.clear()
    write = _bash(
        env, f"{KUBESAFE} kubectl --kubeconfig /dev/stdin label pod web-0 a=b", stdin=config_text
    )
    assert write.returncode == 3 and "not a regular file" in write.stderr
    assert apiserver.requests == []


class _FifoWriter:
    """Writes ``text`` into a FIFO once some process opens it for reading."""

    def __init__(self, path: Path, text: str) -> None:
        os.mkfifo(path)
        self.path = path
        self.opened = threading.Event()
        self.thread = threading.Thread(target=self._write, args=(text,), daemon=True)
        self.thread.start()

    def _write(self, text: str) -> None:
        with open(self.path, "w") as handle:  # blocks until a reader opens the FIFO
            self.opened.set()
            handle.write(text)

    def release(self) -> None:
        """Open the read end ourselves so that the writer finishes."""
        if not self.opened.is_set():
            with open(self.path) as handle:
                handle.read()
        self.thread.join(timeout=10)


def test_fifo_in_kubeconfig_read_works(
    tmp_path: Path, env: dict[str, str], config_text: str, apiserver: FakeAPIServer
) -> None:
    writer = _FifoWriter(tmp_path / "fifo", config_text)
    apiserver.clear()
    try:
        result = _bash(
            {**env, "KUBECONFIG": f"{tmp_path}/missing:{writer.path}"},
            f"{KUBESAFE} kubectl get pods",
        )
    finally:
        writer.release()
    assert result.returncode == 0, result.stderr
    assert _pod_reads(apiserver) == [(PREFIX, "team")]


def test_fifo_in_kubeconfig_write_is_refused_without_opening_it(
    tmp_path: Path, env: dict[str, str], config_text: str, apiserver: FakeAPIServer
) -> None:
    writer = _FifoWriter(tmp_path / "fifo", config_text)
    apiserver.clear()
    try:
        result = _bash(
            {**env, "KUBECONFIG": str(writer.path)}, f"{KUBESAFE} kubectl delete pod web-0"
        )
        # kubesafe never opened the FIFO: the writer is still waiting for a reader.
        assert not writer.opened.is_set()
    finally:
        writer.release()
    assert result.returncode == 3
    assert "is a pipe, not a regular file" in result.stderr and "Traceback" not in result.stderr
    assert apiserver.requests == []


def test_explain_names_the_unread_file(tmp_path: Path, env: dict[str, str]) -> None:
    os.mkfifo(tmp_path / "fifo")
    result = subprocess.run(
        [KUBESAFE, "explain", "--json", "--", "delete", "pod", "x"],
        env={**env, "KUBECONFIG": str(tmp_path / "fifo")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = json.loads(result.stdout)
    assert report["decision"] == "block"
    assert "is a pipe, not a regular file" in report["error"]


@pytest.mark.parametrize("minor", [31, 37])
def test_helm_process_substitution_read_runs_as_helm_alone_and_write_is_refused(
    tmp_path: Path, env: dict[str, str], config_text: str, apiserver: FakeAPIServer, minor: int
) -> None:
    helm = helm_binary(minor)
    (tmp_path / "secret.yaml").write_text(config_text)
    helm_env = {
        **env,
        "KUBESAFE_HELM": str(helm),
        "XDG_CONFIG_HOME": str(tmp_path / "helm-config"),
        "XDG_DATA_HOME": str(tmp_path / "helm-data"),
    }
    source = f"--kubeconfig <(cat {tmp_path}/secret.yaml)"
    # helm reads its kubeconfig more than once, so a pipe leaves it an empty config
    # (it asks localhost:8080): through kubesafe the read must do exactly that too.
    alone = _bash(helm_env, f"{helm} {source} list")
    guarded = _bash(helm_env, f"{KUBESAFE} helm {source} list")
    assert (guarded.returncode, guarded.stdout, guarded.stderr) == (
        alone.returncode,
        alone.stdout,
        alone.stderr,
    )
    apiserver.clear()
    removed = _bash(helm_env, f"{KUBESAFE} helm {source} uninstall web")
    assert removed.returncode == 3 and "is a pipe, not a regular file" in removed.stderr
    assert apiserver.requests == []


def test_helm_fifo_write_is_refused_without_opening_it(
    tmp_path: Path, env: dict[str, str], config_text: str, apiserver: FakeAPIServer
) -> None:
    writer = _FifoWriter(tmp_path / "fifo", config_text)
    helm_env = {
        **env,
        "KUBESAFE_HELM": str(helm_binary(33)),
        "KUBECONFIG": str(writer.path),
        "XDG_CONFIG_HOME": str(tmp_path / "helm-config"),
    }
    apiserver.clear()
    try:
        removed = _bash(helm_env, f"{KUBESAFE} helm uninstall web")
        assert not writer.opened.is_set()
    finally:
        writer.release()
    assert removed.returncode == 3 and "is a pipe, not a regular file" in removed.stderr
    assert apiserver.requests == []


# --- several YAML documents in one kubeconfig ----------------------------------------

SECOND = "sources-second"


def _documents(apiserver: FakeAPIServer) -> tuple[str, str]:
    first = yaml.safe_dump(apiserver.kubeconfig(PREFIX, context="dev", namespace="team"))
    second = yaml.safe_dump(apiserver.kubeconfig(SECOND, context="other", namespace="else"))
    return first, second


def _layouts(first: str, second: str) -> dict[str, str]:
    return {
        "trailing-separator": first + "---\n",
        "second-document": first + "---\n" + second,
        "leading-separator": "---\n" + first,
        "empty-first-document": "---\n---\n" + second,
        "comment-before-separator": "# generated\n---\n" + second,
        "broken-second-document": first + "---\nkey: [unclosed\n\tand: a tab\n",
        "document-end-marker": first + "...\n---\n" + second,
        "directive": "%YAML 1.1\n---\n" + second,
    }


def _contacted(apiserver: FakeAPIServer, kubectl: Path, env: dict[str, str]) -> str:
    """The server real ``kubectl get pods`` went to: a fake cluster, or localhost:8080."""
    apiserver.clear()
    result = subprocess.run(
        [str(kubectl), "get", "pods", "--request-timeout=5s"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    prefixes = {r.prefix for r in apiserver.requests if r.resource == "pods"}
    if prefixes:
        [prefix] = prefixes
        return apiserver.cluster_url(prefix)
    assert "localhost:8080" in result.stderr, result.stderr
    return "http://localhost:8080"


@pytest.mark.parametrize("minor", [31, 33, 37])
def test_multi_document_kubeconfigs_resolve_as_kubectl_does(
    tmp_path: Path, env: dict[str, str], apiserver: FakeAPIServer, minor: int
) -> None:
    kubectl = kubectl_binary(minor)
    first, second = _documents(apiserver)
    servers = set()
    for name, text in _layouts(first, second).items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        case_env = {**env, "KUBECONFIG": str(path), "HOME": str(tmp_path / f"home-{name}")}
        truth = _contacted(apiserver, kubectl, case_env)
        report = subprocess.run(
            [KUBESAFE, "explain", "--json", "--", "get", "pods"],
            env=case_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        data = json.loads(report.stdout)
        assert "error" not in data, f"{name}: {data.get('error')}"
        assert data["server"] == truth, f"{name}: kubectl contacted {truth}"
        servers.add(truth)
    # The layouts exercise all three outcomes: first document, second one, empty config.
    assert servers == {
        apiserver.cluster_url(PREFIX),
        apiserver.cluster_url(SECOND),
        "http://localhost:8080",
    }


def test_write_to_an_unprotected_context_in_a_file_ending_in_a_separator_runs(
    tmp_path: Path, env: dict[str, str], apiserver: FakeAPIServer
) -> None:
    first, second = _documents(apiserver)
    apiserver.add_pod(PREFIX, "team", "web-1")
    path = tmp_path / "config.yaml"
    path.write_text(first + "---\n" + second + "---\n")
    apiserver.clear()
    result = _bash(
        {**env, "KUBECONFIG": str(path)}, f"{KUBESAFE} kubectl label pod web-1 {shlex.quote('a=b')}"
    )
    assert result.returncode == 0, result.stderr
    assert [(r.prefix, r.method) for r in apiserver.requests if r.method == "PATCH"] == [
        (PREFIX, "PATCH")
    ]
