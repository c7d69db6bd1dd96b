"""The kubeconfig entries that send a context through the guard.

For each guarded context: a cluster at ``https://127.0.0.1:PORT/<id>`` with
the terminal's CA, a user holding only the terminal's token, and the context
joining them (keeping its namespace). The shell integration will merge these
into the terminal's own kubeconfig (next step); tests and the benchmark use
them as they are.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from kubesafe.guard.layout import Layout

CLUSTER_PREFIX = "kubesafe-guard/"


def _read(path: str) -> str:
    with open(path, encoding="ascii") as handle:
        return handle.read().strip()


def guard_entries(layout: Layout, context: str, namespace: str = "") -> dict[str, Any]:
    """Cluster, user and context entries (kubeconfig list items) for one context."""
    with open(layout.state, encoding="utf-8") as handle:
        state = json.load(handle)
    identifier = state["contexts"][context]
    ca = base64.b64encode(_read(layout.ca).encode() + b"\n").decode()
    name = CLUSTER_PREFIX + context
    entry: dict[str, Any] = {"cluster": name, "user": name}
    if namespace:
        entry["namespace"] = namespace
    return {
        "cluster": {
            "name": name,
            "cluster": {
                "server": f"https://127.0.0.1:{state['port']}/{identifier}",
                "certificate-authority-data": ca,
            },
        },
        "user": {"name": name, "user": {"token": _read(layout.token_file)}},
        "context": {"name": context, "context": entry},
    }


def guard_kubeconfig(layout: Layout, contexts: dict[str, str], current: str = "") -> dict[str, Any]:
    """A whole kubeconfig for ``contexts`` (name -> namespace) through the guard."""
    parts = [guard_entries(layout, name, namespace) for name, namespace in contexts.items()]
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [p["cluster"] for p in parts],
        "users": [p["user"] for p in parts],
        "contexts": [p["context"] for p in parts],
        "current-context": current or next(iter(contexts), ""),
        "preferences": {},
    }
