"""YAML merge keys (``<<``) are applied the way kubectl's go-yaml applies them.

go-yaml merges in place (a merged value beats an explicit key written before
it); PyYAML's default would let the explicit key win and report the wrong target.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubesafe.commands.explain import plan_to_json
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubectl.plan import make_plan
from tests.support.kubectl_log import kubectl_server

pytestmark = pytest.mark.e2e

CLUSTERS = """clusters:
- name: dev
  cluster: {server: "http://127.0.0.1:9/dev"}
- name: prod
  cluster: {server: "http://127.0.0.1:9/prod"}
"""

CASES = {
    "merge-after-explicit-key": CLUSTERS
    + """contexts:
- name: dev
  context: {cluster: dev}
- name: prod
  context: {cluster: prod}
current-context: dev
<<: {current-context: prod}
""",
    "merge-inside-a-context": CLUSTERS
    + """base: &b {cluster: prod}
contexts:
- name: dev
  context: {cluster: dev, <<: *b}
current-context: dev
""",
    "explicit-key-after-merge": CLUSTERS
    + """base: &b {cluster: prod}
contexts:
- name: dev
  context: {<<: *b, cluster: dev}
current-context: dev
""",
    "merge-list-earlier-wins": CLUSTERS
    + """a: &a {cluster: prod}
b: &b {cluster: dev}
contexts:
- name: dev
  context: {<<: [*a, *b]}
current-context: dev
""",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_merge_keys_match_kubectl(name: str, tmp_path: Path, kubectl33: Path) -> None:
    config = tmp_path / "config"
    config.write_text(CASES[name])
    env = {"HOME": str(tmp_path), "KUBECONFIG": str(config), "PATH": ""}
    server = kubectl_server(kubectl33, ["get", "pods"], env)
    assert server is not None and server.startswith("http://127.0.0.1:9/")
    report = plan_to_json(make_plan(["get", "pods"], env, FileIndex(str(tmp_path / "cache"))))
    assert report["server"] == server
