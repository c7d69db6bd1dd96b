"""The demo's throw-away world: a temporary directory that replaces everything of the user's.

Layout (under ``$TMPDIR/kubesafe-demo-XXXX``, mode 0700)::

    home/                 HOME: kubectl's discovery cache, ~/.kube, shell history
    home/.kube/config     dev, staging and prod contexts on the stand-in server
    home/web.yaml         a manifest to try ``kubectl apply -f web.yaml`` with
    config/kubesafe/config.yaml   the demo policy (KUBESAFE_CONFIG points here)
    cache/ state/         XDG_CACHE_HOME, XDG_STATE_HOME: kubectl downloads, audit log
    bashrc                the interactive shell's only rc file

HOME is replaced too, not only the kubesafe variables: kubectl itself reads
``~/.kube/kuberc`` (aliases and defaults that change what a command does) and
writes its discovery cache under ``~/.kube/cache``, and an interactive shell
reading the user's ``~/.bashrc`` could pick up an ``alias kubectl=...`` that
bypasses kubesafe. ``PYTHONUSERBASE`` keeps pointing at the user's site
directory so that a ``pip install --user`` kubesafe still imports.
"""

from __future__ import annotations

import os
import shutil
import site
import tempfile
from collections.abc import Mapping

from kubesafe.demo.objects import CLUSTERS, DEMO_VERSION

# Variables of the user's that would make the demo read or write their files,
# or change its decisions (KUBESAFE_CONFIRM would approve everything on prod).
_DROPPED_PREFIXES = ("KUBESAFE_", "XDG_")
_DROPPED = frozenset({"KUBECONFIG", "KUBERC", "KUBECACHEDIR", "HISTFILE", "ZDOTDIR", "ENV"})
# Where to download kubectl from is the one setting worth keeping (air-gapped users).
_KEPT = frozenset({"KUBESAFE_MIRROR"})

POLICY = """\
# The demo's policy; it disappears with the demo. Your own policy is untouched.
rules:
  - context: "prod"
    environment: production
  - context: "staging"
    environment: staging
environments:
  production: {write: confirm, destructive: typed}   # y/N for writes, type "prod" to delete
  staging: {write: none, destructive: confirm}        # writes pass, deletes ask y/N
kubectl:
  discovery-timeout: 5
"""

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.29
"""


class Sandbox:
    """Create with :meth:`create`, always :meth:`remove` (a context manager does both)."""

    def __init__(self, server_urls: Mapping[str, str], user_env: Mapping[str, str]) -> None:
        self.server_urls = dict(server_urls)
        self.user_env = dict(user_env)
        self.root = ""
        self.env: dict[str, str] = {}

    def __enter__(self) -> Sandbox:
        return self.create()

    def __exit__(self, *exc_info: object) -> None:
        self.remove()

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    @property
    def kubeconfig(self) -> str:
        return self.path("home", ".kube", "config")

    @property
    def policy(self) -> str:
        return self.path("config", "kubesafe", "config.yaml")

    @property
    def store(self) -> str:
        """The sandbox's kubectl store (what ``paths.cache_dir()`` gives inside it)."""
        return self.path("cache", "kubesafe", "kubectl")

    def create(self) -> Sandbox:
        self.root = tempfile.mkdtemp(prefix="kubesafe-demo-")
        try:
            for directory in ("home/.kube", "config/kubesafe", "cache", "state"):
                os.makedirs(self.path(directory), mode=0o700)
            _write(self.kubeconfig, kubeconfig_text(self.server_urls))
            _write(self.policy, POLICY + _mirror_line(self.user_env))
            _write(self.path("home", "web.yaml"), MANIFEST)
            self.env = sandbox_env(self.root, self.user_env)
        except BaseException:
            self.remove()
            raise
        return self

    def remove(self) -> None:
        if self.root:
            # rmtree never follows the links seed_kubectl made into the user's store.
            shutil.rmtree(self.root, ignore_errors=True)

    def seed_kubectl(self, user_store: str) -> list[str]:
        """Link the user's downloaded kubectl of the demo's minor into the sandbox store,
        sparing a download. Read-only: only links are created, in the sandbox."""
        minor = ".".join(DEMO_VERSION.split(".")[:2]) + "."
        linked: list[str] = []
        try:
            names = sorted(os.listdir(user_store))
        except OSError:
            return linked
        for name in names:
            binary = os.path.join(user_store, name, "kubectl")
            if not name.startswith(minor) or not os.access(binary, os.X_OK):
                continue
            os.makedirs(os.path.join(self.store, name), mode=0o700, exist_ok=True)
            target = os.path.join(self.store, name, "kubectl")
            try:
                os.symlink(binary, target)
            except OSError:
                shutil.copy2(binary, target)  # no symlinks (Windows without privilege)
            linked.append(name)
        return linked


def sandbox_env(root: str, user_env: Mapping[str, str]) -> dict[str, str]:
    env = {
        name: value
        for name, value in user_env.items()
        if name in _KEPT or not (name in _DROPPED or name.startswith(_DROPPED_PREFIXES))
    }
    home = os.path.join(root, "home")
    env.update(
        HOME=home,
        USERPROFILE=home,
        KUBECONFIG=os.path.join(home, ".kube", "config"),
        KUBECACHEDIR=os.path.join(home, ".kube", "cache"),
        KUBESAFE_CONFIG=os.path.join(root, "config", "kubesafe", "config.yaml"),
        # Explicit so that the store is at the same place on every platform (macOS
        # would otherwise use ~/Library/Caches, inside the sandbox HOME too).
        KUBESAFE_CACHE_DIR=os.path.join(root, "cache", "kubesafe"),
        XDG_CONFIG_HOME=os.path.join(root, "config"),
        XDG_CACHE_HOME=os.path.join(root, "cache"),
        XDG_STATE_HOME=os.path.join(root, "state"),
        LOCALAPPDATA=os.path.join(root, "cache"),
        HISTFILE=os.path.join(home, ".history"),
        PYTHONUSERBASE=user_env.get("PYTHONUSERBASE") or site.getuserbase(),
        KUBESAFE_DEMO=root,
        # The tour shows kubectl through kubesafe; no background guard process whose
        # files could outlive the sandbox's removal.
        KUBESAFE_GUARD="off",
    )
    return env


def kubeconfig_text(server_urls: Mapping[str, str]) -> str:
    lines = ["apiVersion: v1", "kind: Config", "current-context: dev", "clusters:"]
    for name in CLUSTERS:
        lines += [f"  - name: {name}", "    cluster:", f"      server: {server_urls[name]}"]
    lines += ["users:", "  - name: demo-user", "    user: {}", "contexts:"]
    for name in CLUSTERS:
        lines += [
            f"  - name: {name}",
            "    context:",
            f"      cluster: {name}",
            "      user: demo-user",
            "      namespace: default",
        ]
    return "\n".join(lines) + "\n"


def _mirror_line(user_env: Mapping[str, str]) -> str:
    """The user's own ``kubectl.mirror`` setting, read (never written) from their policy."""
    from kubesafe.policy_file import PolicyError, parse_policy, policy_path

    try:
        with open(policy_path(user_env), "rb") as handle:
            mirror = parse_policy(handle.read())["kubectl"].get("mirror", "")
    except (OSError, PolicyError):
        return ""
    return f'  mirror: "{mirror}"\n' if mirror and '"' not in mirror else ""


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
