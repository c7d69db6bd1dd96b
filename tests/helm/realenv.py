"""A tiny chart, kubeconfig and policy for running real helm through kubesafe."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.support.fake_apiserver import FakeAPIServer, write_kubeconfig

KUBESAFE = str(Path(sys.executable).parent / "kubesafe")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def make_chart(directory: Path, value: str = "v1") -> Path:
    (directory / "templates").mkdir(parents=True, exist_ok=True)
    (directory / "Chart.yaml").write_text("apiVersion: v2\nname: tiny\nversion: 0.1.0\n")
    (directory / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\n"
        'data:\n  key: {{ .Values.key | default "' + value + '" | quote }}\n'
    )
    return directory


def make_env(
    tmp_path: Path, apiserver: FakeAPIServer, helm: Path, prod: str, dev: str
) -> dict[str, str]:
    """Contexts ``prod`` (namespace shop, protected) and ``dev`` (current) on two prefixes."""
    config = apiserver.kubeconfig(prod, context="prod", namespace="shop")
    other = apiserver.kubeconfig(dev, context="dev")
    config["clusters"] += other["clusters"]
    config["contexts"] += other["contexts"]
    config["current-context"] = "dev"
    write_kubeconfig(tmp_path / "kubeconfig", config)
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  - context: prod\n")
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "PATH": "/usr/bin:/bin",
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        "KUBESAFE_CONFIG": str(policy),
        "KUBESAFE_HELM": str(helm),
        "NO_COLOR": "1",
        "TERM": "dumb",
    }


def writes(apiserver: FakeAPIServer, prefix: str) -> list[str]:
    return [
        f"{r.method} {r.resource}/{r.name}"
        for r in apiserver.requests
        if r.prefix == prefix and r.method in WRITE_METHODS
    ]
