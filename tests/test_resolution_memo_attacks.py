"""Attacks on the resolution memo: each sets up a world, gets an answer kept, changes
something, and requires the memo's answer to equal a fresh resolution's.

A fresh resolution here is the same call with the memo turned off (``key_for`` gives
None), in a new "process" (nothing of kubesafe's loaded in memory), made right after
the memo's answer. Most attacks keep the racy window (``RACY_SECONDS``) as it is and
wait it out once: an answer kept only because a test shortened the window proves
nothing about a real terminal.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesafe import endpoint, protected_endpoints, resolution_memo
from kubesafe.commands.explain import plan_to_json
from kubesafe.kubeconfig import resolve
from kubesafe.kubectl.plan import make_plan

PROD = "https://api.prod.example:6443"
DEV = "https://api.dev.example:6443"
WRITE = ["delete", "pod", "web"]


def kubeconfig(
    contexts: dict[str, tuple[str, str]],
    current: str = "",
    clusters: dict[str, dict[str, Any]] | None = None,
) -> str:
    """contexts: name -> (server, namespace); each context gets a cluster of its own name."""
    bodies = dict(clusters or {})
    for name, (server, _) in contexts.items():
        bodies.setdefault(name, {"server": server})
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": body} for n, body in bodies.items()],
        "contexts": [
            {
                "name": name,
                "context": {"cluster": name, "user": "u", **({"namespace": ns} if ns else {})},
            }
            for name, (_, ns) in contexts.items()
        ],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "current-context": current or next(iter(contexts), ""),
    }
    return yaml.safe_dump(doc, sort_keys=False)


class World:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.monkeypatch = monkeypatch
        self.home = root / "home"
        (self.home / ".kube").mkdir(parents=True)
        self.accounts = root / "serviceaccount"
        self.accounts.mkdir()
        self.hosts = root / "hosts"
        self.hosts.write_text("127.0.0.1 localhost\n")
        monkeypatch.setattr(endpoint, "HOSTS_FILE", str(self.hosts))
        monkeypatch.setattr(resolve, "SERVICE_ACCOUNT_DIR", str(self.accounts))
        self.policy = root / "policy.yaml"
        self.policy.write_text("rules:\n  - context: prod\n")
        self.here = root / "here"
        self.here.mkdir()
        monkeypatch.chdir(self.here)
        self.env: dict[str, str] = {
            "HOME": str(self.home),
            "KUBESAFE_CONFIG": str(self.policy),
            "KUBESAFE_KUBECTL": "/bin/true",  # no version discovery: only resolution differs
            "PATH": "",
        }
        self.hits = 0
        real_lookup = resolution_memo.lookup

        def counting_lookup(key: Any, env: Any) -> Any:
            answer = real_lookup(key, env)
            if answer is not None:
                self.hits += 1
            return answer

        monkeypatch.setattr(resolution_memo, "lookup", counting_lookup)

    def use_config(self, content: str) -> Path:
        """``KUBECONFIG=<root>/config`` holding ``content``."""
        config = self.root / "config"
        config.write_text(content)
        self.env["KUBECONFIG"] = str(config)
        return config

    @staticmethod
    def fresh_process() -> None:
        protected_endpoints.forget_loaded()
        resolution_memo.forget_loaded()
        endpoint.reset_hosts()

    def outcome(self, argv: list[str], memo: bool = True) -> Any:
        self.fresh_process()
        with pytest.MonkeyPatch.context() as patch:
            if not memo:
                patch.setattr(resolution_memo, "key_for", lambda *_: None)
            plan = make_plan(argv, dict(self.env))
        return (plan_to_json(plan), plan.protection, plan.targets, plan.decision, plan.guarded)

    @staticmethod
    def settle() -> None:
        """Let every file written so far leave the racy window (ctime cannot be backdated)."""
        time.sleep(resolution_memo.RACY_SECONDS + 0.1)

    def kept(self, argv: list[str]) -> Any:
        """Call until the memo answers (files settled first), and return its answer."""
        self.settle()
        self.outcome(argv)  # may store, or write kubesafe's own state (then waits again)
        for _ in range(3):
            before = self.hits
            answer = self.outcome(argv)
            if self.hits > before:
                return answer
            self.settle()
        raise AssertionError("the memo never answered: the attack has nothing to attack")

    def check(self, argv: list[str]) -> Any:
        """The memo's answer now equals a fresh resolution's; returns the fresh one."""
        remembered = self.outcome(argv)
        fresh = self.outcome(argv, memo=False)
        assert remembered == fresh
        return fresh


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield World(tmp_path, monkeypatch)


def same_identity_rewrite(path: Path, content: str) -> None:
    """Replace ``path`` with ``content`` of the same size and mtime (``cp -p``, ``touch -r``)."""
    old = path.stat()
    assert len(content.encode()) == old.st_size
    path.write_text(content)
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))


def prod_added_behind_kubeconfig_flag(world: World) -> list[str]:
    """``--kubeconfig admin.yaml`` on prod's server, an answer kept for it from the fast path
    (which does not read ``~/.kube/config``), then prod added to ``~/.kube/config``."""
    admin = world.root / "admin.yaml"
    admin.write_text(kubeconfig({"admin": (PROD, "")}))
    # Something protected elsewhere, so the first (slow) call writes the endpoint memory
    # and its own answer is not kept: the kept one comes from the fast path.
    default = world.home / ".kube" / "config"
    default.write_text(kubeconfig({"prod": (DEV, "")}))
    argv = [*WRITE, "--kubeconfig", str(admin)]
    assert world.kept(argv)[3] == "allow"
    default.write_text(kubeconfig({"dev": (DEV, ""), "prod": (PROD, "")}, current="dev"))
    return argv


def test_policy_reparsed_with_the_same_rules_still_learns_protected_endpoints(
    world: World,
) -> None:
    """A re-parsed policy refreshes the endpoint memory from the default kubeconfig.

    ``--kubeconfig admin.yaml`` reaches prod's server under another name. The answer
    kept for it was computed on the fast path (nothing re-parsed), which does not read
    ``~/.kube/config``. Then prod is added there and the policy file is saved again
    with the same rules (a comment at the end): a fresh call re-parses the policy, refreshes the
    memory from ``~/.kube/config`` and lends prod's rule; the memo's key (the rules)
    is unchanged, so its hit must not skip that.
    """
    argv = prod_added_behind_kubeconfig_flag(world)
    world.policy.write_text("rules:\n  - context: prod\n# reviewed\n")
    assert world.check(argv)[3] == "confirm"


def test_kubeconfig_rewritten_in_place_with_same_size_and_mtime(world: World) -> None:
    """``touch -r`` after an edit keeps size and mtime: the ctime still tells."""
    config = world.use_config(kubeconfig({"zzzz": (DEV, "")}))
    assert world.kept(WRITE)[3] == "allow"
    same_identity_rewrite(config, kubeconfig({"prod": (DEV, "")}))
    assert world.check(WRITE)[3] == "confirm"


def test_kubeconfig_replaced_by_a_copy_with_its_size_and_mtime(world: World) -> None:
    """``cp -p``/``rsync -t``/``tar x`` of another file over it (the inode may be reused)."""
    config = world.use_config(kubeconfig({"zzzz": (DEV, "")}))
    assert world.kept(WRITE)[3] == "allow"
    old = config.stat()
    other = world.root / "other"
    other.write_text(kubeconfig({"prod": (DEV, "")}))
    os.utime(other, ns=(old.st_atime_ns, old.st_mtime_ns))
    config.unlink()
    shutil.copy2(other, config)
    assert world.check(WRITE)[3] == "confirm"


def test_symlinked_kubeconfig_pointed_elsewhere(world: World) -> None:
    """``ln -sfn prod.yaml config``: the link's target changes, its own path does not."""
    dev, prod = world.root / "dev.yaml", world.root / "prod.yaml"
    dev.write_text(kubeconfig({"dev": (DEV, "")}))
    prod.write_text(kubeconfig({"prod": (PROD, "")}))
    link = world.root / "config"
    link.symlink_to(dev)
    world.env["KUBECONFIG"] = str(link)
    assert world.kept(WRITE)[3] == "allow"
    link.unlink()
    link.symlink_to(prod)
    assert world.check(WRITE)[3] == "confirm"


def test_symlinked_directory_swapped(world: World) -> None:
    """A directory on the path swapped (``ln -sfn``, a k8s ``..data`` link, a checkout)."""
    for name, context in (("dev", "dev"), ("prod", "prod")):
        (world.root / name).mkdir()
        (world.root / name / "config").write_text(kubeconfig({context: (DEV, "")}))
    current = world.root / "current"
    current.symlink_to(world.root / "dev")
    world.env["KUBECONFIG"] = str(current / "config")
    assert world.kept(WRITE)[3] == "allow"
    tmp = world.root / "current.new"
    tmp.symlink_to(world.root / "prod")
    os.replace(tmp, current)
    assert world.check(WRITE)[3] == "confirm"


def test_relative_kubeconfig_after_cd(world: World) -> None:
    """``KUBECONFIG=kubeconfig`` names a file per directory: the same entry, another file."""
    there = world.root / "there"
    there.mkdir()
    (world.here / "kubeconfig").write_text(kubeconfig({"dev": (DEV, "")}))
    (there / "kubeconfig").write_text(kubeconfig({"prod": (PROD, "")}))
    world.env["KUBECONFIG"] = "kubeconfig"
    assert world.kept(WRITE)[3] == "allow"
    os.chdir(there)
    assert world.check(WRITE)[3] == "confirm"


def test_working_directory_renamed_under_the_shell(world: World) -> None:
    """``mv here old && mv there here``: the shell's $PWD is the same string, the files not."""
    (world.here / "kubeconfig").write_text(kubeconfig({"dev": (DEV, "")}))
    there = world.root / "there"
    there.mkdir()
    (there / "kubeconfig").write_text(kubeconfig({"prod": (PROD, "")}))
    world.env["KUBECONFIG"] = "kubeconfig"
    assert world.kept(WRITE)[3] == "allow"
    os.rename(world.here, world.root / "old")
    os.rename(there, world.here)
    os.chdir(world.here)
    assert world.check(WRITE)[3] == "confirm"


def test_ca_file_content_swapped_behind_its_path(world: World) -> None:
    """``certificate-authority: tunnel-ca.pem`` now holds prod's CA: the tunnel is prod."""
    (world.root / "prod-ca.pem").write_text("CA-PROD\n")
    tunnel_ca = world.root / "tunnel-ca.pem"
    tunnel_ca.write_text("CA-TUNL\n")
    config = world.root / "config"
    tunnel = "https://127.0.0.1:16443"
    config.write_text(
        kubeconfig(
            {"tunnel": (tunnel, ""), "prod": (PROD, "")},
            clusters={
                "tunnel": {"server": tunnel, "certificate-authority": "tunnel-ca.pem"},
                "prod": {"server": PROD, "certificate-authority": "prod-ca.pem"},
            },
        )
    )
    world.env["KUBECONFIG"] = str(config)
    assert world.kept(WRITE)[3] == "allow"
    same_identity_rewrite(tunnel_ca, "CA-PROD\n")
    assert world.check(WRITE)[3] == "confirm"


def test_certificate_authority_flag_relative_to_the_working_directory(world: World) -> None:
    """``--certificate-authority ca.pem`` is another file after ``cd``."""
    there = world.root / "there"
    there.mkdir()
    (world.root / "prod-ca.pem").write_text("CA-PROD\n")
    (world.here / "ca.pem").write_text("CA-TUNL\n")
    (there / "ca.pem").write_text("CA-PROD\n")
    world.use_config(
        kubeconfig(
            {"tunnel": ("https://127.0.0.1:16443", ""), "prod": (PROD, "")},
            clusters={"prod": {"server": PROD, "certificate-authority": "prod-ca.pem"}},
        )
    )
    argv = [*WRITE, "--certificate-authority", "ca.pem"]
    assert world.kept(argv)[3] == "allow"
    os.chdir(there)
    assert world.check(argv)[3] == "confirm"


def test_hosts_file_now_names_the_alias_as_prod(world: World) -> None:
    world.use_config(kubeconfig({"alias": ("https://alias.example:6443", ""), "prod": (PROD, "")}))
    world.hosts.write_text("127.0.0.1 localhost\n10.1.1.1 api.prod.example\n")
    assert world.kept(WRITE)[3] == "allow"
    world.hosts.write_text("127.0.0.1 localhost\n10.1.1.1 api.prod.example alias.example\n")
    assert world.check(WRITE)[3] == "confirm"


def test_service_account_namespace_behind_a_swapped_data_link(world: World) -> None:
    """The kubelet's atomic writer swaps ``..data``; ``namespace`` is a link through it."""
    world.policy.write_text("rules:\n  - context: prod\n    namespaces: [payments]\n")
    for version, namespace in (("..v1", "batch"), ("..v2", "payments")):
        (world.accounts / version).mkdir()
        (world.accounts / version / "namespace").write_text(namespace)
        (world.accounts / version / "token").write_text("sa-token")
    (world.accounts / "..data").symlink_to("..v1")
    for name in ("namespace", "token"):
        (world.accounts / name).symlink_to(f"..data/{name}")
    config = world.root / "config"
    config.write_text(kubeconfig({"prod": (PROD, "")}))
    world.env.update(
        KUBECONFIG=str(config), KUBERNETES_SERVICE_HOST="10.96.0.1", KUBERNETES_SERVICE_PORT="443"
    )
    assert world.kept(WRITE)[3] == "allow"
    (world.accounts / "..data_tmp").symlink_to("..v2")
    os.replace(world.accounts / "..data_tmp", world.accounts / "..data")
    assert world.check(WRITE)[3] == "confirm"


def test_service_account_token_appears(world: World) -> None:
    """No kubeconfig, in-cluster variables set: the token file decides the server."""
    world.policy.write_text("rules:\n  - server: https://10.96.0.1:443\n")
    world.env.update(KUBERNETES_SERVICE_HOST="10.96.0.1", KUBERNETES_SERVICE_PORT="443")
    assert world.kept(WRITE)[3] == "allow"
    (world.accounts / "token").write_text("sa-token")
    assert world.check(WRITE)[3] == "confirm"


def test_kubernetes_master_changed(world: World) -> None:
    """A context whose cluster is missing goes to $KUBERNETES_MASTER."""
    world.policy.write_text(f"rules:\n  - server: {PROD}\n")
    config = world.root / "config"
    config.write_text(
        yaml.safe_dump(
            {
                "contexts": [{"name": "ghost", "context": {"cluster": "missing", "user": "u"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "current-context": "ghost",
            }
        )
    )
    world.env.update(KUBECONFIG=str(config), KUBERNETES_MASTER=DEV)
    assert world.kept(WRITE)[3] == "allow"
    world.env["KUBERNETES_MASTER"] = PROD
    assert world.check(WRITE)[3] == "confirm"


def test_home_moved(world: World) -> None:
    """No KUBECONFIG: ``~/.kube/config`` follows $HOME (``HOME=/other kubectl ...``)."""
    (world.home / ".kube" / "config").write_text(kubeconfig({"dev": (DEV, "")}))
    other = world.root / "other-home"
    (other / ".kube").mkdir(parents=True)
    (other / ".kube" / "config").write_text(kubeconfig({"prod": (PROD, "")}))
    assert world.kept(WRITE)[3] == "allow"
    world.env["HOME"] = str(other)
    assert world.check(WRITE)[3] == "confirm"


def test_kubeconfig_turned_into_a_directory_or_a_fifo(world: World) -> None:
    config = world.use_config(kubeconfig({"dev": (DEV, "")}))
    assert world.kept(WRITE)[3] == "allow"
    config.unlink()
    config.mkdir()
    assert world.check(WRITE)[3] == "block"
    config.rmdir()
    os.mkfifo(config)
    assert world.check(WRITE)[3] == "block"


def test_kubeconfig_made_unreadable(world: World) -> None:
    """``chmod 000``: kubectl fails to read it (as non-root); the mode is in the identity."""
    config = world.use_config(kubeconfig({"dev": (DEV, "")}))
    world.kept(WRITE)
    config.chmod(0)
    try:
        world.check(WRITE)
    finally:
        config.chmod(0o600)


def test_protected_endpoint_learned_from_another_kubeconfig(world: World) -> None:
    """A write through prod.yaml teaches the endpoint memory; admin.yaml's answer must follow."""
    admin, prod = world.root / "admin.yaml", world.root / "prod.yaml"
    admin.write_text(kubeconfig({"admin": (PROD, "")}))
    prod.write_text(kubeconfig({"prod": (PROD, "")}))
    argv = [*WRITE, "--kubeconfig", str(admin)]
    assert world.kept(argv)[3] == "allow"
    world.outcome([*WRITE, "--kubeconfig", str(prod)])
    assert world.check(argv)[3] == "confirm"


@pytest.mark.parametrize("change", ["deleted", "group-writable"])
def test_endpoint_memory_deleted_or_untrusted(world: World, change: str) -> None:
    """``rm -r ~/.local/state/kubesafe``, or a memory file others could write (ignored):
    what was lent from it is gone for a fresh call, so for the memo (the mode is checked)."""
    admin, prod = world.root / "admin.yaml", world.root / "prod.yaml"
    admin.write_text(kubeconfig({"admin": (PROD, "")}))
    prod.write_text(kubeconfig({"prod": (PROD, "")}))
    world.outcome([*WRITE, "--kubeconfig", str(prod)])
    argv = [*WRITE, "--kubeconfig", str(admin)]
    assert world.kept(argv)[3] == "confirm"
    if change == "deleted":
        os.unlink(protected_endpoints.state_path())
    else:
        os.chmod(protected_endpoints.state_path(), 0o620)
    assert world.check(argv)[3] == "allow"


def cold_caches() -> None:
    """Drop kubesafe's parsed-file caches: the next call parses everything afresh."""
    from kubesafe.kubeconfig.cache import FileIndex

    for path in FileIndex().paths:
        if os.path.exists(path):
            os.unlink(path)


@pytest.mark.parametrize("moved", ["alias.example", "api.prod.example"])
def test_hosts_file_edited_in_place_keeping_size_and_mtime(world: World, moved: str) -> None:
    """A ``touch -r`` edit of the hosts file now maps one name (the target's, or prod's, whose
    entry the parsed-file cache keeps) to the other's address: the memo checks the ctime, and
    so must the cached endpoint index, or a warm call answers other than a cold one."""
    world.use_config(kubeconfig({"alias": ("https://alias.example:6443", ""), "prod": (PROD, "")}))
    names = ["alias.example", "api.prod.example"]
    names.remove(moved)
    world.hosts.write_text(f"127.0.0.1 localhost\n10.1.1.1 {names[0]}\n10.2.2.2 {moved}\n")
    assert world.kept(WRITE)[3] == "allow"
    same_identity_rewrite(
        world.hosts, f"127.0.0.1 localhost\n10.1.1.1 {names[0]}\n10.1.1.1 {moved}\n"
    )
    warm = world.check(WRITE)
    assert warm[3] == "confirm"
    cold_caches()
    assert world.outcome(WRITE, memo=False) == warm


def _rewrite_memo(change: Any) -> None:
    import marshal

    path = resolution_memo.memo_path()
    with open(path, "rb") as handle:
        header, table = marshal.load(handle)
    content = marshal.dumps(change(header, table))
    with open(path, "wb") as handle:
        handle.write(content)


@pytest.mark.parametrize(
    "damage",
    [
        "entry-not-a-triple",
        "answer-of-another-shape",
        "files-not-pairs",
        "older-version",
        "truncated",
        "garbage",
    ],
)
def test_memo_file_damaged_or_from_another_version(world: World, damage: str) -> None:
    """A memo written by another kubesafe build of the same version number (an editable
    or git install: ``__version__`` does not move with the code), or damaged: answered
    afresh, never a traceback."""
    world.use_config(kubeconfig({"prod": (PROD, "")}))
    assert world.kept(WRITE)[3] == "confirm"

    def change(header: Any, table: Any) -> Any:
        for key, (environment, files, answer) in table.items():
            if damage == "entry-not-a-triple":
                table[key] = (environment, files)
            elif damage == "answer-of-another-shape":
                table[key] = (environment, files, (answer[0][:-1], answer[1]))
            elif damage == "files-not-pairs":
                table[key] = (environment, tuple(path for path, _ in files), answer)
        if damage == "older-version":
            return (("kubesafe-resolution-memo", 1, "0.0.1", header[3]), table)
        return (header, table)

    if damage in ("truncated", "garbage"):
        path = resolution_memo.memo_path()
        content = Path(path).read_bytes()
        with open(path, "wb") as handle:
            handle.write(content[: len(content) // 2] if damage == "truncated" else b"\x00" * 9)
    else:
        _rewrite_memo(change)
    assert world.check(WRITE)[3] == "confirm"


def test_memo_file_made_world_writable(world: World) -> None:
    """Another user could have written it: ignored, as the parsed-file cache is."""
    world.use_config(kubeconfig({"dev": (DEV, "")}))
    world.kept(WRITE)

    def forge(header: Any, table: Any) -> Any:
        # An answer that sends a write to prod's cluster unasked, had it been trusted.
        for key, (environment, files, answer) in table.items():
            target = list(answer[0])
            target[0] = "prod"
            table[key] = (environment, files, (tuple(target), answer[1]))
        return (header, table)

    _rewrite_memo(forge)
    os.chmod(resolution_memo.memo_path(), 0o666)
    before = world.hits
    world.check(WRITE)
    assert world.hits == before


def test_kuberc_default_context_appears(world: World) -> None:
    """A kuberc defaulting ``delete --context prod`` changes the flags, so the key."""
    world.use_config(kubeconfig({"dev": (DEV, ""), "prod": (PROD, "")}, current="dev"))
    assert world.kept(WRITE)[3] == "allow"
    (world.home / ".kube" / "kuberc").write_text(
        "apiVersion: kubectl.config.k8s.io/v1beta1\nkind: Preference\n"
        "defaults:\n- command: delete\n  options:\n  - name: context\n    default: prod\n"
    )
    assert world.check(WRITE)[3] == "confirm"


def _session_kubeconfig(port: int, real_cluster: str) -> str:
    guard = f"kubesafe-guard/{real_cluster}"
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": guard,
                    "cluster": {
                        "server": f"https://127.0.0.1:{port}/g1",
                        "extensions": [
                            {
                                "name": "kubesafe",
                                "extension": {"guard": {"cluster": real_cluster, "user": "u"}},
                            }
                        ],
                    },
                }
            ],
            "users": [{"name": guard, "user": {"token": "g"}}],
            "contexts": [{"name": "work", "context": {"cluster": guard, "user": guard}}],
        }
    )


def test_terminal_guard_entry_rewritten_or_session_left(world: World) -> None:
    """The terminal's own kubeconfig sends ``work`` through its guard to a real cluster:
    the guard moving to prod's cluster, or leaving the session, must show."""
    session = world.root / "session"
    session.mkdir()
    own = session / "kubeconfig"
    own.write_text(_session_kubeconfig(41000, "devc"))
    config = world.root / "config"
    config.write_text(
        kubeconfig(
            {"work": (DEV, ""), "prod": (PROD, "")},
            current="work",
            clusters={"devc": {"server": DEV}, "prodc": {"server": PROD}},
        )
    )
    world.env.update(KUBESAFE_SESSION=str(session), KUBECONFIG=f"{own}{os.pathsep}{config}")
    world.policy.write_text(f"rules:\n  - server: {PROD}\n")
    assert world.kept(WRITE)[3] == "allow"
    own.write_text(_session_kubeconfig(41000, "prodc"))
    assert world.check(WRITE)[3] == "confirm"
    world.settle()
    world.outcome(WRITE)
    del world.env["KUBESAFE_SESSION"]
    world.check(WRITE)


def test_default_kubeconfig_gains_prod_behind_kubeconfig_flag(world: World) -> None:
    """The next warm call already sees prod added to ``~/.kube/config``: memo, warm and
    cold caches agree, and the write is asked about."""
    argv = prod_added_behind_kubeconfig_flag(world)
    warm = world.check(argv)
    assert warm[3] == "confirm"
    cold_caches()
    assert world.outcome(argv, memo=False) == warm


def test_odd_path_names(world: World) -> None:
    """Undecodable bytes, a newline and spaces in a kubeconfig's path: kept and checked."""
    odd = world.root / os.fsdecode(b"dir \xff\nname")
    odd.mkdir()
    config = odd / "conf ig"
    config.write_text(kubeconfig({"zzzz": (DEV, "")}))
    argv = [*WRITE, "--kubeconfig", str(config)]
    assert world.kept(argv)[3] == "allow"
    config.write_text(kubeconfig({"prod": (DEV, "")}))
    assert world.check(argv)[3] == "confirm"


def test_home_unset_reads_the_working_directory(world: World) -> None:
    """Without HOME, client-go reads ``./.kube/config``: another file in another directory."""
    del world.env["HOME"]
    (world.here / ".kube").mkdir()
    (world.here / ".kube" / "config").write_text(kubeconfig({"dev": (DEV, "")}))
    there = world.root / "there"
    (there / ".kube").mkdir(parents=True)
    (there / ".kube" / "config").write_text(kubeconfig({"prod": (PROD, "")}))
    assert world.kept(WRITE)[3] == "allow"
    os.chdir(there)
    assert world.check(WRITE)[3] == "confirm"


def test_another_process_rewrites_the_kubeconfig_while_this_one_resolves(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file read is replaced before the answer is stored: that answer must not be kept."""
    config = world.use_config(kubeconfig({"dev": (DEV, "")}))
    world.settle()
    real = resolve.resolve_merged
    raced: list[bool] = []

    def racing(*args: Any, **kwargs: Any) -> Any:
        target = real(*args, **kwargs)
        if not raced:
            raced.append(True)
            config.write_text(kubeconfig({"prod": (DEV, "")}))
        return target

    monkeypatch.setattr("kubesafe.verdict.resolve_merged", racing)
    assert world.outcome(WRITE)[3] == "allow"  # resolved from what it read before the race
    monkeypatch.setattr("kubesafe.verdict.resolve_merged", real)
    world.settle()
    assert world.check(WRITE)[3] == "confirm"


def test_policy_found_through_its_fallback_location(world: World) -> None:
    """Without KUBESAFE_CONFIG, a moved XDG_CONFIG_HOME finds the pinned policy; the pin
    pointing at another policy file changes the rules, so the key."""
    del world.env["KUBESAFE_CONFIG"]
    world.use_config(kubeconfig({"prod": (PROD, "")}))
    empty, other = world.root / "empty.yaml", world.root / "other.yaml"
    empty.write_text("rules: []\n")
    other.write_text("rules:\n  - context: prod\n")
    world.env["KUBESAFE_POLICY_PIN"] = str(empty)
    assert world.kept(WRITE)[3] == "allow"
    world.env["KUBESAFE_POLICY_PIN"] = str(other)
    assert world.check(WRITE)[3] == "confirm"


def test_dot_dot_after_a_link_is_resolved_as_kubectl_opens_it(world: World) -> None:
    """``KUBECONFIG=link/../config`` is the config beside the link's target for kubectl
    (client-go opens the name as given; the kernel follows ``link`` before ``..``), not
    the one beside the link, which a textual ``abspath`` would read and show."""
    from tests.support.kubectl_binaries import kubectl_binary

    (world.here / "config").write_text(kubeconfig({"dev": (DEV, "")}))
    elsewhere = world.root / "elsewhere"
    (elsewhere / "sub").mkdir(parents=True)
    (elsewhere / "config").write_text(kubeconfig({"prod": (PROD, "")}))
    (world.here / "link").symlink_to(elsewhere / "sub")
    world.env["KUBECONFIG"] = os.path.join("link", "..", "config")
    real = subprocess.run(
        [str(kubectl_binary()), "config", "current-context"],
        env={**world.env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert real.stdout.strip() == "prod"
    assert world.check(WRITE)[0]["context"] == "prod"
    assert world.kept(WRITE)[3] == "confirm"
    os.unlink(world.here / "link")
    (world.here / "sub").mkdir()
    (world.here / "link").symlink_to(world.here / "sub")  # ``ln -sfn``: now beside it
    assert world.check(WRITE)[0]["context"] == "dev"


@pytest.mark.parametrize(
    ("entry", "reference"), [("link/../config", "ca.pem"), ("l2/config", "../ca.pem")]
)
def test_relative_ca_file_is_found_as_client_go_finds_it(
    world: World, entry: str, reference: str
) -> None:
    """A relative ``certificate-authority`` is joined to the kubeconfig's directory as text
    (``..`` cleaned), unlike the kubeconfig's own path: the CA that identifies the endpoint
    must be the one kubectl uses (its ``--flatten`` shows which)."""
    from tests.support.kubectl_binaries import kubectl_binary

    elsewhere = world.root / "elsewhere"
    (elsewhere / "sub").mkdir(parents=True)
    (world.here / "link").symlink_to(elsewhere / "sub")
    (world.here / "l2").symlink_to(elsewhere / "sub")
    (world.here / "ca.pem").write_text("HERE\n")
    (elsewhere / "ca.pem").write_text("ELSEWHERE\n")
    clusters = {"c": {"server": PROD, "certificate-authority": reference}}
    content = kubeconfig({"c": (PROD, "")}, clusters=clusters)
    (elsewhere / "config").write_text(content)
    (elsewhere / "sub" / "config").write_text(content)
    world.env["KUBECONFIG"] = entry
    real = subprocess.run(
        [
            str(kubectl_binary()),
            "config",
            "view",
            "--flatten",
            "--minify",
            "-o",
            "jsonpath={.clusters[0].cluster.certificate-authority-data}",
        ],
        env={**world.env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    used = base64.b64decode(real.stdout).decode()
    plan = make_plan(["get", "pods"], dict(world.env))
    assert Path(plan.targets[0].tls[1]).read_text() == used == "HERE\n"
