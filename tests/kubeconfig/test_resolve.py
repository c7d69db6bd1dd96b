from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from kubesafe.kubeconfig import cache as filecache
from kubesafe.kubeconfig import resolve as kc
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubeconfig.parse import parse_bytes
from kubesafe.kubeconfig.resolve import DEFAULT_SERVER, Overrides, ResolveError, resolve
from tests.kubeconfigs import kubeconfig, write

PROD = "https://prod.example:6443"
DEV = "https://dev.example:6443"


def env_for(home: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(home), **extra}


@pytest.fixture
def two_files(tmp_path: Path) -> tuple[Path, Path]:
    first = write(
        tmp_path / "a.yaml",
        kubeconfig(
            clusters={"shared": DEV, "a-only": "https://a.example"},
            contexts={"dev": {"cluster": "shared", "user": "alice", "namespace": "team"}},
            users=["alice"],
            current="",
        ),
    )
    second = write(
        tmp_path / "b.yaml",
        kubeconfig(
            clusters={"shared": PROD, "prod": PROD},
            contexts={
                "dev": {"cluster": "prod", "user": "bob"},
                "prod": {"cluster": "prod", "user": "bob", "namespace": "shop"},
            },
            users=["bob"],
            current="prod",
        ),
    )
    return first, second


def test_first_file_wins_for_names_and_first_nonempty_current_context(
    tmp_path: Path, two_files: tuple[Path, Path]
) -> None:
    first, second = two_files
    env = env_for(tmp_path, KUBECONFIG=f"{first}:{second}")
    target = resolve(Overrides(), env)
    assert (target.context, target.cluster, target.server, target.namespace) == (
        "prod",
        "prod",
        PROD,
        "shop",
    )
    dev = resolve(Overrides(context="dev"), env)
    # The whole "dev" entry comes from the first file; "shared" cluster too.
    assert (dev.cluster, dev.user, dev.server, dev.namespace) == ("shared", "alice", DEV, "team")
    assert target.kubeconfig == (str(first), str(second))


def test_kubeconfig_list_skips_empty_missing_and_duplicate_entries(
    tmp_path: Path, two_files: tuple[Path, Path]
) -> None:
    first, second = two_files
    listed = f":{tmp_path / 'missing.yaml'}::{second}:{first}:{second}:"
    target = resolve(Overrides(), env_for(tmp_path, KUBECONFIG=listed))
    assert target.kubeconfig == (str(second), str(first))
    assert resolve(Overrides(context="dev"), env_for(tmp_path, KUBECONFIG=listed)).server == PROD


def test_windows_separator(tmp_path: Path, two_files: tuple[Path, Path]) -> None:
    first, second = two_files
    files, explicit = kc.candidate_files("", {"KUBECONFIG": f"{first};{second}"}, pathsep=";")
    assert files == [str(first), str(second)] and not explicit


def test_explicit_kubeconfig_replaces_the_list(
    tmp_path: Path, two_files: tuple[Path, Path]
) -> None:
    first, second = two_files
    env = env_for(tmp_path, KUBECONFIG=str(second))
    target = resolve(Overrides(kubeconfig=str(first), context="dev"), env)
    assert target.kubeconfig == (str(first),)
    with pytest.raises(ResolveError, match="does not exist"):
        resolve(Overrides(kubeconfig=str(tmp_path / "nope.yaml")), env)


def test_home_kube_config_is_the_default(tmp_path: Path) -> None:
    config = write(
        tmp_path / ".kube" / "config",
        kubeconfig(clusters={"c": PROD}, contexts={"x": {"cluster": "c"}}, current="x"),
    )
    for env in (env_for(tmp_path), env_for(tmp_path, KUBECONFIG="")):
        target = resolve(Overrides(), env)
        assert target.kubeconfig == (str(config),) and target.server == PROD


def test_no_kubeconfig_at_all_means_localhost_8080(tmp_path: Path) -> None:
    target = resolve(Overrides(), env_for(tmp_path))
    assert (target.context, target.server, target.namespace) == ("", DEFAULT_SERVER, "default")
    assert target.kubeconfig == ()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (Overrides(), ("ok", "c1", "u1", "https://c1", "default")),
        (Overrides(namespace="kube-system"), ("ok", "c1", "u1", "https://c1", "kube-system")),
        (Overrides(cluster="c2"), ("ok", "c2", "u1", "https://c2", "default")),
        (Overrides(user="u2"), ("ok", "c1", "u2", "https://c1", "default")),
        (Overrides(server="https://other"), ("ok", "c1", "u1", "https://other", "default")),
        (Overrides(context="withns"), ("withns", "c2", "", "https://c2", "ns1")),
        (Overrides(context="withns", namespace="x"), ("withns", "c2", "", "https://c2", "x")),
        # A dangling cluster reference is tolerated: kubectl falls back to the default server.
        (Overrides(context="dangling"), ("dangling", "ghost", "u1", DEFAULT_SERVER, "default")),
        (Overrides(context="noserver"), ("noserver", "empty", "", DEFAULT_SERVER, "default")),
    ],
)
def test_overrides(tmp_path: Path, overrides: Overrides, expected: tuple[str, ...]) -> None:
    path = write(
        tmp_path / "config",
        kubeconfig(
            clusters={"c1": "https://c1", "c2": "https://c2", "empty": ""},
            contexts={
                "ok": {"cluster": "c1", "user": "u1"},
                "withns": {"cluster": "c2", "namespace": "ns1"},
                "dangling": {"cluster": "ghost", "user": "u1"},
                "noserver": {"cluster": "empty"},
            },
            users=["u1", "u2"],
            current="ok",
        ),
    )
    target = resolve(overrides, env_for(tmp_path, KUBECONFIG=str(path)))
    assert (
        target.context,
        target.cluster,
        target.user,
        target.server,
        target.namespace,
    ) == expected


def test_cluster_flag_works_without_any_current_context(tmp_path: Path) -> None:
    path = write(tmp_path / "config", kubeconfig(clusters={"c1": PROD}, contexts={}, users=["u"]))
    target = resolve(Overrides(cluster="c1", user="u"), env_for(tmp_path, KUBECONFIG=str(path)))
    assert (target.context, target.cluster, target.user, target.server) == ("", "c1", "u", PROD)


def test_kubernetes_master_sets_the_default_server(tmp_path: Path) -> None:
    env = env_for(tmp_path, KUBERNETES_MASTER="http://127.0.0.1:7/km")
    assert resolve(Overrides(), env).server == "http://127.0.0.1:7/km"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (Overrides(context="nope"), 'context "nope" not found'),
        (Overrides(cluster="nope"), 'cluster "nope" (--cluster) not found'),
        (Overrides(cluster="nope", server="https://x"), 'cluster "nope"'),
        (Overrides(user="nope"), 'user "nope" (--user) not found'),
    ],
)
def test_unknown_names_are_errors(tmp_path: Path, overrides: Overrides, message: str) -> None:
    path = write(
        tmp_path / "config", kubeconfig(clusters={"c": PROD}, contexts={"x": {"cluster": "c"}})
    )
    with pytest.raises(ResolveError) as error:
        resolve(overrides, env_for(tmp_path, KUBECONFIG=str(path)))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_current_context_naming_a_missing_context_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "config", kubeconfig(contexts={}, current="ghost"))
    with pytest.raises(ResolveError, match='context "ghost" not found'):
        resolve(Overrides(), env_for(tmp_path, KUBECONFIG=str(path)))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("clusters: [\n", "line 1: did not find expected node content"),  # as kubectl says
        ("contexts: {}\n", "contexts is a mapping, expected a list"),
        ("- just\n- a list\n", "the document is a list, expected a mapping"),
        ("contexts:\n- name: x\n  context: {namespace: 0123}\n", "is a number"),
        ("contexts:\n- name: x\n  context: {namespace: n}\n", "is a boolean"),
        ("current-context: yes\n", "current-context is a boolean"),
        ("clusters:\n- name: a\n- name: a\n", 'duplicate name "a" in clusters'),
        ("contexts:\n- name: a\n  context: []\n", "expected a mapping"),
    ],
)
def test_malformed_files_name_the_file_and_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path / "broken.yaml", text)
    with pytest.raises(ResolveError) as error:
        resolve(Overrides(), env_for(tmp_path, KUBECONFIG=str(path)))
    assert str(path) in str(error.value) and message in str(error.value)
    assert "\n" not in str(error.value)


def test_values_client_go_accepts(tmp_path: Path) -> None:
    text = (
        "clusters:\n- name: c\n  cluster: {server: 'https://c'}\n"
        "contexts:\n- name: x\n  context: {cluster: c, namespace: 2001-12-14}\n"
        "current-context: x\ncurrent-context: x\n"
        "Current-Context: ignored-because-keys-are-case-sensitive\n"
    )
    path = write(tmp_path / "config", text)
    target = resolve(Overrides(), env_for(tmp_path, KUBECONFIG=str(path)))
    assert (target.context, target.namespace) == ("x", "2001-12-14")


def test_empty_and_null_files_are_fine(tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.yaml", "")
    null = write(tmp_path / "null.yaml", "~\n")
    target = resolve(Overrides(), env_for(tmp_path, KUBECONFIG=f"{empty}:{null}"))
    assert target.kubeconfig == (str(empty), str(null)) and target.server == DEFAULT_SERVER


def test_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    with pytest.raises(ResolveError, match="adir: cannot read it: Is a directory"):
        resolve(Overrides(), env_for(tmp_path, KUBECONFIG=str(tmp_path / "adir")))


def test_only_the_first_document_counts(tmp_path: Path) -> None:
    first = "clusters:\n- name: c\n  cluster: {server: 'https://first'}\n"
    first += "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n"
    second = first.replace("first", "second")
    for text, server in [
        (first + "---\n", "https://first"),
        (first + "---\n" + second, "https://first"),
        (first + "---\nbroken: [\n\tnot: yaml\n", "https://first"),
        ("---\n" + first, "https://first"),
        ("---\n---\n" + second, DEFAULT_SERVER),
        ("# a comment\n---\n" + second, "https://second"),
    ]:
        path = write(tmp_path / "config", text)
        target = resolve(Overrides(), env_for(tmp_path, KUBECONFIG=str(path)))
        assert target.server == server, text


def test_a_pipe_is_never_read(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # Opening a FIFO for reading would block here until a writer came: it is not opened.
    with pytest.raises(ResolveError, match="fifo is a pipe, not a regular file"):
        resolve(Overrides(), env_for(tmp_path, KUBECONFIG=str(fifo)))


def test_dev_null_reads_as_an_empty_kubeconfig(tmp_path: Path) -> None:
    target = resolve(Overrides(), env_for(tmp_path, KUBECONFIG=os.devnull))
    assert target.server == DEFAULT_SERVER and target.kubeconfig == (os.devnull,)


def test_a_file_swapped_for_a_fifo_after_the_stat_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "config", "current-context: x\n")
    real_open = os.open

    def swap_then_open(name: str, flags: int, *args: int) -> int:
        if name == str(path):
            path.unlink()
            os.mkfifo(path)
        return real_open(name, flags, *args)

    monkeypatch.setattr(filecache.os, "open", swap_then_open)
    with pytest.raises(filecache.NotRegularFile):
        FileIndex(str(tmp_path / "cache")).read(str(path), "kubeconfig", parse_bytes)


def test_extensions_are_read_from_context_and_cluster(tmp_path: Path) -> None:
    doc = kubeconfig(contexts={}, current="x")
    doc["clusters"] = [
        {
            "name": "c",
            "cluster": {
                "server": PROD,
                "extensions": [
                    {"name": "other", "extension": {"x": 1}},
                    {"name": "kubesafe", "extension": {"environment": "production"}},
                ],
            },
        }
    ]
    doc["contexts"] = [
        {
            "name": "x",
            "context": {
                "cluster": "c",
                "extensions": [{"name": "kubesafe", "extension": {"level": "block"}}],
            },
        }
    ]
    path = write(tmp_path / "config", doc)
    target = resolve(Overrides(), env_for(tmp_path, KUBECONFIG=str(path)))
    assert target.cluster_extension == {"environment": "production"}
    assert target.context_extension == {"level": "block"}


def test_in_cluster_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    account = tmp_path / "sa"
    account.mkdir()
    (account / "token").write_text("t")
    (account / "namespace").write_text("ci-runners\n")
    monkeypatch.setattr(kc, "SERVICE_ACCOUNT_DIR", str(account))
    env = env_for(tmp_path, KUBERNETES_SERVICE_HOST="10.0.0.1", KUBERNETES_SERVICE_PORT="443")
    target = resolve(Overrides(), env)
    assert (target.server, target.namespace) == ("https://10.0.0.1:443", "ci-runners")
    assert target.server_source == "in-cluster"
    assert resolve(Overrides(), {**env, "POD_NAMESPACE": "pod-ns"}).namespace == "pod-ns"
    # A kubeconfig with a real server wins, but the pod's namespace still fills a gap.
    path = write(
        tmp_path / "config",
        kubeconfig(clusters={"c": PROD}, contexts={"x": {"cluster": "c"}}, current="x"),
    )
    target = resolve(Overrides(), {**env, "KUBECONFIG": str(path)})
    assert (target.server, target.namespace) == (PROD, "ci-runners")
    assert resolve(Overrides(namespace="n"), {**env, "KUBECONFIG": str(path)}).namespace == "n"


def test_windows_home_prefers_a_directory_with_a_kube_config(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    write(profile / ".kube" / "config", "")
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "USERPROFILE": str(profile)}
    assert kc.home_dir(env, windows=True) == str(profile)
    assert kc.home_dir({"USERPROFILE": str(home)}, windows=True) == str(home)
    assert kc.home_dir({"HOME": "/nope", "USERPROFILE": "/nope2"}, windows=True) == "/nope"


# --- the parsed-file cache ---------------------------------------------------------------


@pytest.fixture
def settle_instantly(monkeypatch: pytest.MonkeyPatch) -> None:
    """ctime cannot be moved into the past, so let files count as settled at once."""
    monkeypatch.setattr(filecache, "RACY_SECONDS", 0)


def _age(path: Path, seconds: int = 60) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_cache_is_used_for_settled_files_and_never_for_changed_ones(
    tmp_path: Path, settle_instantly: None
) -> None:
    path = write(
        tmp_path / "config",
        kubeconfig(clusters={"c": PROD}, contexts={"x": {"cluster": "c"}}, current="x"),
    )
    _age(path)
    cache = tmp_path / "cache.marshal"
    first = FileIndex(str(cache))
    assert first.read(str(path), "kubeconfig", parse_bytes) is not None and first.misses == 1
    first.save()
    assert Path(first.paths[1]).stat().st_mode & 0o777 == 0o600
    second = FileIndex(str(cache))
    data = second.read(str(path), "kubeconfig", parse_bytes)
    assert second.hits == 1 and data is not None and data["current_context"] == "x"
    # Same size, new content, even with the old mtime put back: ctime changes, so it is re-read.
    stat = path.stat()
    path.write_text(path.read_text().replace("current-context: x", "current-context: z"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    third = FileIndex(str(cache))
    data = third.read(str(path), "kubeconfig", parse_bytes)
    assert third.misses == 1 and data is not None and data["current_context"] == "z"


def test_recently_modified_files_are_not_cached(tmp_path: Path) -> None:
    path = write(tmp_path / "config", kubeconfig(contexts={}, current="x"))
    cache = tmp_path / "cache.marshal"
    index = FileIndex(str(cache))
    index.read(str(path), "kubeconfig", parse_bytes)
    index.save()
    assert not any(Path(saved).exists() for saved in index.paths)


def test_a_young_file_parsed_once_beside_an_older_saved_entry(tmp_path: Path) -> None:
    """The saved entry names the old file; this process's parse of the new one is reused."""
    path = write(tmp_path / "config", kubeconfig(contexts={}, current="old"))
    _age(path)
    cache = tmp_path / "cache.marshal"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(filecache, "RACY_SECONDS", 0)
        saved = FileIndex(str(cache))
        saved.read(str(path), "kubeconfig", parse_bytes)
        saved.save()
    write(path, kubeconfig(contexts={}, current="new"))  # young: parsed, never saved
    index = FileIndex(str(cache))
    first = index.read(str(path), "kubeconfig", parse_bytes)
    second = index.read(str(path), "kubeconfig", parse_bytes)
    assert first is not None and second is not None
    assert first["current_context"] == second["current_context"] == "new"
    assert (index.misses, index.hits) == (1, 1)


def test_cache_holds_no_credentials(tmp_path: Path, settle_instantly: None) -> None:
    doc = kubeconfig(
        clusters={"c": PROD}, contexts={"x": {"cluster": "c", "user": "u"}}, users=["u"]
    )
    doc["users"][0]["user"] = {"token": "SECRET-TOKEN", "client-key-data": "SECRET-KEY"}
    path = write(tmp_path / "config", doc)
    _age(path)
    cache = tmp_path / "cache.marshal"
    index = FileIndex(str(cache))
    index.read(str(path), "kubeconfig", parse_bytes)
    index.save()
    content = Path(index.paths[1]).read_bytes()
    assert b"SECRET" not in content and b"https://prod.example" in content


def test_cache_writable_by_others_is_ignored(tmp_path: Path, settle_instantly: None) -> None:
    path = write(tmp_path / "config", kubeconfig(contexts={}, current="x"))
    _age(path)
    cache = tmp_path / "cache.marshal"
    index = FileIndex(str(cache))
    index.read(str(path), "kubeconfig", parse_bytes)
    index.save()
    os.chmod(index.paths[1], 0o666)
    again = FileIndex(str(cache))
    again.read(str(path), "kubeconfig", parse_bytes)
    assert again.hits == 0 and again.misses == 1


def test_corrupt_cache_is_ignored(tmp_path: Path) -> None:
    cache = tmp_path / "cache.marshal"
    cache.write_bytes(b"\x00garbage")
    os.chmod(cache, 0o600)
    path = write(tmp_path / "config", kubeconfig(contexts={}, current="x"))
    data = FileIndex(str(cache)).read(str(path), "kubeconfig", parse_bytes)
    assert data is not None and data["current_context"] == "x"


def test_resolve_uses_the_platform_cache_dir(
    tmp_path: Path, isolated_home: Path, settle_instantly: None
) -> None:
    path = write(
        tmp_path / "config",
        kubeconfig(clusters={"c": PROD}, contexts={"x": {"cluster": "c"}}, current="x"),
    )
    _age(path)
    resolve(Overrides(), env_for(tmp_path, KUBECONFIG=str(path)))
    cache = isolated_home / ".cache" / "kubesafe" / "parsed-files-kubeconfigs.marshal"
    assert cache.exists()
    assert (cache.parent.stat().st_mode & 0o777) == 0o700


def test_kubeconfig_entries_are_loaded_only_when_asked_for(
    tmp_path: Path, settle_instantly: None
) -> None:
    """A call answered without the kubeconfig (policy, versions) must not load its entries."""
    path = write(tmp_path / "config", kubeconfig(contexts={}, current="x"))
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules: []\n")
    _age(path)
    _age(policy)
    cache = tmp_path / "cache.marshal"
    first = FileIndex(str(cache))
    first.read(str(path), "kubeconfig", parse_bytes)
    first.read(str(policy), "policy", lambda content: {"size": len(content)})
    first.save()
    assert all(Path(saved).exists() for saved in first.paths)
    Path(first.paths[1]).write_bytes(b"\x00garbage, but never read")
    os.chmod(first.paths[1], 0o600)
    second = FileIndex(str(cache))
    assert second.read(str(policy), "policy", lambda content: {"size": -1}) == {"size": 10}
    assert second.hits == 1
    data = second.read(str(path), "kubeconfig", parse_bytes)
    assert data is not None and second.misses == 1  # the garbage was ignored
