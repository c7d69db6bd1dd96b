"""The kubeconfig writer: surgical edits, verification, atomicity, locking, file choice."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubesafe.kubeconfig import atomic as atomic_write
from kubesafe.kubeconfig import quoting
from kubesafe.kubeconfig import surgery as yaml_surgery
from kubesafe.kubeconfig.lock import MARKER
from kubesafe.kubeconfig.parse import parse_bytes
from kubesafe.kubeconfig.write import (
    KubeconfigWriteError,
    context_file,
    current_context_file,
    default_file,
    delete_context,
    rename_context,
    set_context_namespace,
    set_current_context,
)

ROOT = Path(__file__).resolve().parent.parent

COMMENTED = """\
# managed by hand; keep this comment
apiVersion: v1
clusters:
- cluster:
    server: https://prod.example:6443  # the real one
    extensions:
    - name: audit
      extension: {level: high}
  name: prod
contexts:
  # production first
  - name: "arn:aws:eks:eu-west-1:1:cluster/prod"
    context:
      cluster: prod
      user: admin   # break-glass
      extensions:
      - name: kubesafe
        extension: {protect: true}
  - context:
      cluster: prod
      namespace: 'team-a'
      user: dev
    name: dev
current-context: "arn:aws:eks:eu-west-1:1:cluster/prod"  # set by aws eks
kind: Config
preferences:
  colors: true
x-custom-key: {keep: [1, 2, 3]}
users:
- name: admin
  user: {token: secret}
- name: dev
  user: {token: dev}
"""

# The same kubeconfig written in other layouts people have.
STYLES = {
    "commented": COMMENTED,
    "four-space": """apiVersion: v1
clusters:
    -   name: prod   # indented list, four spaces
        cluster:
            server: https://prod.example:6443
contexts:
    -   name: "arn:aws:eks:eu-west-1:1:cluster/prod"
        context:
            cluster: prod
            user: admin
    -   name: dev
        context:
            cluster: prod
            namespace: team-a
            user: dev
current-context: "arn:aws:eks:eu-west-1:1:cluster/prod"
preferences: {}
users:
    -   name: admin
        user:
            token: secret
""",
    "crlf": COMMENTED.replace("\n", "\r\n"),
    "no-final-newline": COMMENTED.rstrip("\n"),
    "bom": "\ufeff" + COMMENTED,
    "flow-bodies": """apiVersion: v1
clusters: [{name: prod, cluster: {server: "https://prod.example:6443"}}]
contexts:
- {name: "arn:aws:eks:eu-west-1:1:cluster/prod", context: {cluster: prod, user: admin}}
- name: dev
  context: {cluster: prod, namespace: team-a, user: dev}
current-context: dev
users: [{name: admin, user: {}}, {name: dev, user: {}}]
""",
}


def write(tmp_path: Path, text: str, name: str = "config", mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    path.chmod(mode)
    return path


def data(path: Path) -> dict:
    return dict(parse_bytes(path.read_bytes()))


def document(path: Path) -> object:
    return yaml.safe_load(path.read_bytes().decode("utf-8-sig"))


# -- surgical edits -------------------------------------------------------------------


def test_current_context_changes_only_its_value(tmp_path):
    path = write(tmp_path, COMMENTED)
    set_current_context(str(path), "dev")
    assert path.read_text() == COMMENTED.replace(
        'current-context: "arn:aws:eks:eu-west-1:1:cluster/prod"  # set',
        "current-context: dev  # set",
    )


def test_namespace_replace_insert_remove_touch_only_those_bytes(tmp_path):
    path = write(tmp_path, COMMENTED)
    set_context_namespace(str(path), "dev", "team-b")
    expected = COMMENTED.replace("namespace: 'team-a'", "namespace: team-b")
    assert path.read_text() == expected
    set_context_namespace(str(path), "arn:aws:eks:eu-west-1:1:cluster/prod", "kube-system")
    expected = expected.replace(
        "      cluster: prod\n      user: admin",
        "      cluster: prod\n      namespace: kube-system\n      user: admin",
    )
    assert path.read_text() == expected
    set_context_namespace(str(path), "dev", None)
    assert path.read_text() == expected.replace("      namespace: team-b\n", "")


def test_rename_updates_current_context_and_delete_keeps_it(tmp_path):
    path = write(tmp_path, COMMENTED)
    prod = "arn:aws:eks:eu-west-1:1:cluster/prod"
    rename_context(str(path), prod, "prod")
    assert path.read_text() == COMMENTED.replace(f'"{prod}"', "prod")
    delete_context(str(path), "prod")
    result = data(path)
    assert set(result["contexts"]) == {"dev"}
    assert result["current_context"] == "prod"  # kubectl leaves it dangling too
    text = path.read_text()
    assert "# production first\n  - context:" in text
    assert "break-glass" not in text and "x-custom-key: {keep: [1, 2, 3]}" in text


def test_deleting_the_last_context_leaves_an_empty_list(tmp_path):
    path = write(tmp_path, "contexts:\n- name: a\n  context: {cluster: c}\ncurrent-context: a\n")
    delete_context(str(path), "a")
    assert path.read_text() == "contexts: []\ncurrent-context: a\n"


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_style_keeps_everything_else(tmp_path, style):
    text = STYLES[style]
    path = write(tmp_path, text)
    before = document(path)
    set_current_context(str(path), "dev" if "prod\n" in text[-50:] else "odd: name #1")
    set_context_namespace(str(path), "dev", "yes")
    rename_context(str(path), "dev", "development")
    after = document(path)
    assert isinstance(before, dict) and isinstance(after, dict)
    for key in set(before) - {"contexts", "current-context"}:
        assert after[key] == before[key], key
    assert data(path)["contexts"]["development"][2] == "yes"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == (style == "bom")
    assert raw.endswith(b"\n") == (style != "no-final-newline")
    assert (b"\r\n" in raw) == (style == "crlf")
    if style == "crlf":
        assert raw.count(b"\n") == raw.count(b"\r\n")


def test_missing_keys_are_inserted(tmp_path):
    path = write(tmp_path, "apiVersion: v1\ncontexts:\n- name: a\n  context:\n    cluster: c\n")
    set_current_context(str(path), "a")
    set_context_namespace(str(path), "a", "ns")
    assert path.read_text() == (
        "apiVersion: v1\ncontexts:\n- name: a\n  context:\n    cluster: c\n    namespace: ns\n"
        "current-context: a\n"
    )


def test_empty_current_context_value_is_filled(tmp_path):
    path = write(tmp_path, "current-context:   # none yet\nkind: Config\n")
    set_current_context(str(path), "x")
    assert path.read_text() == "current-context: x   # none yet\nkind: Config\n"


def test_unset_writes_empty_string_like_kubectl(tmp_path):
    path = write(tmp_path, "current-context: a\nkind: Config\n")
    set_current_context(str(path), None)
    assert path.read_text() == 'current-context: ""\nkind: Config\n'
    mtime = path.stat().st_mtime_ns
    set_current_context(str(path), None)  # nothing to do: not rewritten
    assert path.stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    "value",
    [
        "yes",
        "No",
        "on",
        "y",
        "true",
        "null",
        "~",
        "123",
        "0x1f",
        "1e3",
        "1:20",
        "2001-12-14",
        "a: b",
        "a #b",
        "#x",
        "*x",
        "&x",
        "!x",
        "%x",
        "@x",
        "-",
        "- x",
        "a,b",
        "[x]",
        "{x}",
        "'q'",
        '"dq"',
        "tab\there",
        "new\nline",
        "back\\slash",
        "ünïcödé ⎈",
        "\x7f\x85\u2028",
        " lead",
        "trail ",
        "arn:aws:eks:eu-west-1:123:cluster/x",
        "a:",
        ":a",
    ],
)
def test_values_that_need_quoting_read_back_exactly(tmp_path, value):
    path = write(tmp_path, "contexts:\n- name: a\n  context:\n    cluster: c\ncurrent-context: a\n")
    set_current_context(str(path), value)
    set_context_namespace(str(path), "a", value)
    rename_context(str(path), "a", value + "!", update_current=False)
    result = data(path)
    assert result["current_context"] == value
    assert result["contexts"][value + "!"][2] == value


def test_plain_names_stay_plain_like_kubectl_writes_them(tmp_path):
    path = write(tmp_path, "current-context: a\n")
    set_current_context(str(path), "arn:aws:eks:eu-west-1:123:cluster/x")
    assert path.read_text() == "current-context: arn:aws:eks:eu-west-1:123:cluster/x\n"
    set_current_context(str(path), "true")
    assert path.read_text() == 'current-context: "true"\n'


STYLE_TEMPLATES = [
    "apiVersion: v1\ncontexts:\n- context:\n    cluster: c\n    namespace: old\n  name: ctx\n"
    "current-context: other\nkind: Config\n",
    "# c\ncontexts:\n    -   name: 'ctx'   # c\n        context:\n            cluster: c\n",
    'contexts:\r\n  - name: "ctx"\r\n    context: {cluster: c, namespace: "old"}\r\n',
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    template=st.sampled_from(STYLE_TEMPLATES),
    name=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12),
    namespace=st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
)
def test_property_set_then_parse_gives_the_value(tmp_path, template, name, namespace):
    path = write(tmp_path, template)
    set_current_context(str(path), name)
    set_context_namespace(str(path), "ctx", namespace)
    result = data(path)
    assert result["current_context"] == name
    assert result["contexts"]["ctx"][2] == namespace
    rename_context(str(path), "ctx", name)
    result = data(path)
    assert name in result["contexts"] and result["current_context"] == name


# -- refusing what cannot be edited in place -------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("contexts: [{name: a, context: {cluster: c}}]\n", "flow style"),
        ("base: &b {cluster: c}\ncontexts:\n- name: a\n  context: *b\n", "anchors"),
        ("contexts:\n- name: a\n  context:\n    <<: {cluster: c}\n    user: u\n", "merge keys"),
        ("current-context: a\ncurrent-context: b\n", "appears twice"),
        ("a: 1\n---\nb: 2\n", "more than one"),
        ("- just\n- a list\n", "not a mapping"),
    ],
)
def test_unsupported_layouts_fail_clearly_and_leave_the_file(tmp_path, text, words):
    path = write(tmp_path, text)
    with pytest.raises(KubeconfigWriteError) as info:
        if "<<" in text:
            set_context_namespace(str(path), "a", "x")
        elif "contexts" in text:
            delete_context(str(path), "a")
        else:
            set_current_context(str(path), "x")
    message = str(info.value)
    assert words in message and "\n" not in message and str(path) in message
    assert path.read_text() == text


def test_invalid_yaml_and_unknown_context_are_one_line_errors(tmp_path):
    bad = write(tmp_path, "contexts: [\n", "bad")
    with pytest.raises(KubeconfigWriteError, match="not valid YAML"):
        set_current_context(str(bad), "x")
    good = write(tmp_path, "contexts:\n- name: a\n  context: {cluster: c}\n")
    with pytest.raises(KubeconfigWriteError, match='context "b" is not defined in'):
        set_context_namespace(str(good), "b", "n")
    with pytest.raises(KubeconfigWriteError, match="already exists"):
        rename_context(str(good), "a", "a")


def test_verification_catches_a_broken_edit(tmp_path, monkeypatch):
    path = write(tmp_path, COMMENTED)
    original = path.read_bytes()
    # A quoting bug: the value is written without its closing quote.
    monkeypatch.setattr(quoting, "scalar_text", lambda value, flow=False: f'"{value}')
    with pytest.raises(KubeconfigWriteError, match="left untouched"):
        set_current_context(str(path), "dev")
    # A bug that writes a non-string where kubectl wants a string.
    monkeypatch.setattr(quoting, "scalar_text", lambda value, flow=False: "yes")
    with pytest.raises(KubeconfigWriteError, match="left untouched"):
        set_context_namespace(str(path), "dev", "yes")
    # A bug that swallows the next line into the value.
    monkeypatch.setattr(quoting, "scalar_text", lambda value, flow=False: "|\n ")
    with pytest.raises(KubeconfigWriteError, match="left untouched"):
        set_current_context(str(path), "dev")
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]


def test_verification_catches_an_edit_that_changes_something_else(tmp_path, monkeypatch):
    path = write(tmp_path, COMMENTED)
    original = path.read_bytes()
    real_apply = yaml_surgery.Edit.apply

    def sloppy(self, text):
        return real_apply(self, text).replace("colors: true", "colors: false")

    monkeypatch.setattr(yaml_surgery.Edit, "apply", sloppy)
    with pytest.raises(KubeconfigWriteError, match="changed something else"):
        set_current_context(str(path), "dev")
    assert path.read_bytes() == original


# -- files: mode, owner, symlinks, creation -------------------------------------------


@pytest.mark.parametrize("mode", [0o600, 0o644, 0o640])
def test_mode_is_kept(tmp_path, mode):
    path = write(tmp_path, COMMENTED, mode=mode)
    set_current_context(str(path), "dev")
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert data(path)["current_context"] == "dev"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_owner_is_kept(tmp_path):
    path = write(tmp_path, COMMENTED)
    os.chown(path, 4321, 4322)
    set_current_context(str(path), "dev")
    assert (path.stat().st_uid, path.stat().st_gid) == (4321, 4322)


def test_symlink_is_written_through_and_kept(tmp_path):
    target = write(tmp_path, COMMENTED, "real-config", mode=0o640)
    link = tmp_path / "link"
    link.symlink_to(target)
    set_current_context(str(link), "dev")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert data(target)["current_context"] == "dev"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_missing_file_is_created_private_like_kubectl(tmp_path):
    path = tmp_path / "new" / "dir" / "config"
    set_current_context(str(path), "a")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert yaml.safe_load(path.read_text()) == {
        "apiVersion": "v1",
        "clusters": None,
        "contexts": None,
        "current-context": "a",
        "kind": "Config",
        "preferences": {},
        "users": None,
    }
    set_current_context(str(tmp_path / "other"), None)  # unsetting creates nothing
    assert not (tmp_path / "other").exists()
    with pytest.raises(KubeconfigWriteError, match="does not exist"):
        set_context_namespace(str(tmp_path / "other"), "a", "n")


def test_empty_file_gets_the_key_appended(tmp_path):
    path = write(tmp_path, "# nothing here yet\n")
    set_current_context(str(path), "a")
    assert path.read_text() == "# nothing here yet\ncurrent-context: a\n"


# -- locks ---------------------------------------------------------------------------


def test_kubectl_lock_makes_the_write_wait(tmp_path, monkeypatch):
    path = write(tmp_path, COMMENTED)
    lock = tmp_path / "config.lock"
    fd = os.open(lock, os.O_CREAT | os.O_EXCL, 0)  # exactly what client-go's lockFile does
    os.close(fd)
    monkeypatch.setenv("KUBESAFE_LOCK_TIMEOUT", "5")
    timer = threading.Timer(0.4, lock.unlink)
    timer.start()
    started = time.monotonic()
    set_current_context(str(path), "dev")
    assert time.monotonic() - started >= 0.35
    assert data(path)["current_context"] == "dev"
    assert not lock.exists()


def test_held_kubectl_lock_fails_clearly(tmp_path, monkeypatch):
    path = write(tmp_path, COMMENTED)
    lock = tmp_path / "config.lock"
    os.close(os.open(lock, os.O_CREAT | os.O_EXCL, 0))
    monkeypatch.setenv("KUBESAFE_LOCK_TIMEOUT", "0.3")
    with pytest.raises(KubeconfigWriteError) as info:
        set_current_context(str(path), "dev")
    assert f"remove {lock}" in str(info.value)
    assert path.read_text() == COMMENTED and lock.exists()


def test_stale_kubesafe_lock_and_temp_files_are_swept(tmp_path, monkeypatch):
    path = write(tmp_path, COMMENTED)
    (tmp_path / "config.lock").write_bytes(MARKER)
    stale_temp = tmp_path / ".config.kubesafe-tmp.99999.abcd"
    stale_temp.write_text("half a file")
    monkeypatch.setenv("KUBESAFE_LOCK_TIMEOUT", "0.3")
    set_current_context(str(path), "dev")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]


def test_symlinked_file_locks_both_spellings(tmp_path, monkeypatch):
    target = write(tmp_path, COMMENTED, "real")
    (tmp_path / "link").symlink_to(target)
    os.close(os.open(tmp_path / "real.lock", os.O_CREAT | os.O_EXCL, 0))
    monkeypatch.setenv("KUBESAFE_LOCK_TIMEOUT", "0.2")
    with pytest.raises(KubeconfigWriteError, match=r"real\.lock"):
        set_current_context(str(tmp_path / "link"), "dev")


CHILD = """
import os, signal, sys
sys.path.insert(0, {root!r})
from kubesafe.kubeconfig import atomic as atomic_write
real_replace = os.replace
def stop_before_rename(src, dst):
    print(src, flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)
    real_replace(src, dst)
atomic_write.os.replace = stop_before_rename
from kubesafe.kubeconfig.write import set_current_context
set_current_context({path!r}, "dev")
"""


def test_sigkill_between_temp_write_and_rename_leaves_the_old_file(tmp_path):
    path = write(tmp_path, COMMENTED)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(root=str(ROOT), path=str(path))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        temp = Path(child.stdout.readline().strip())
        assert temp.parent == tmp_path and temp.name.startswith(".config.kubesafe-tmp.")
        assert "current-context: dev" in temp.read_text()  # fully written, not yet renamed
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert path.read_text() == COMMENTED
    assert temp.exists() and (tmp_path / "config.lock").exists()  # what a kill leaves
    # The next write removes both (the lock is marked as kubesafe's) and succeeds.
    set_current_context(str(path), "dev")
    assert data(path)["current_context"] == "dev"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]


SWITCHER = """
import sys
sys.path.insert(0, {root!r})
from kubesafe.kubeconfig.write import set_current_context
for _ in range(5):
    set_current_context({path!r}, sys.argv[1])
"""


def test_eight_concurrent_switchers_leave_a_valid_file(tmp_path):
    contexts = "".join(f"- name: c{i}\n  context: {{cluster: x}}\n" for i in range(8))
    text = f"# shared\ncontexts:\n{contexts}current-context: none\nx-keep: 1\n"
    path = write(tmp_path, text)
    script = SWITCHER.format(root=str(ROOT), path=str(path))
    children = [subprocess.Popen([sys.executable, "-c", script, f"c{i}"]) for i in range(8)]
    assert [child.wait(timeout=120) for child in children] == [0] * 8
    result = data(path)
    assert result["current_context"] in {f"c{i}" for i in range(8)}
    assert path.read_text() == text.replace(
        "current-context: none", f"current-context: {result['current_context']}"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]


# -- which file ----------------------------------------------------------------------


def test_default_file_follows_get_default_filename(tmp_path):
    a, b, c = (str(tmp_path / n) for n in "abc")
    home = str(tmp_path / "home")
    env = {"HOME": home}
    assert default_file(env) == os.path.join(home, ".kube", "config")
    assert default_file({**env, "KUBECONFIG": a}) == a  # a single entry, even missing
    assert default_file({**env, "KUBECONFIG": f"{a}:{b}:{c}"}) == c  # none exists: the last
    Path(b).write_text("")
    assert default_file({**env, "KUBECONFIG": f"{a}:{b}:{c}"}) == b  # the first that exists
    assert default_file({**env, "KUBECONFIG": f"{b}:{b}"}) == b  # duplicates collapse
    assert default_file({**env, "KUBECONFIG": f":{a}"}) == a  # empty entries count but never exist
    assert default_file({**env, "KUBECONFIG": f"{a}:{c}"}, explicit=b) == b
    with pytest.raises(KubeconfigWriteError, match="names no file"):
        default_file({**env, "KUBECONFIG": f"{a}:"})


def test_clearing_goes_to_the_first_file_that_sets_a_context(tmp_path):
    a = write(tmp_path, "kind: Config\n", "a")
    b = write(tmp_path, "current-context: x\n", "b")
    c = write(tmp_path, "current-context: z\n", "c")
    env = {"HOME": str(tmp_path), "KUBECONFIG": f"{a}:{b}:{c}"}
    assert current_context_file(env) == str(a)
    assert current_context_file(env, clearing=True) == str(b)


def test_context_file_is_the_first_that_defines_it(tmp_path):
    a = write(tmp_path, "contexts:\n- name: x\n  context: {cluster: c}\n", "a")
    b = write(tmp_path, "contexts:\n- name: x\n  context: {}\n- name: w\n  context: {}\n", "b")
    env = {"HOME": str(tmp_path), "KUBECONFIG": f"{tmp_path / 'missing'}:{a}:{b}"}
    assert context_file(env, "x") == str(a)
    assert context_file(env, "w") == str(b)
    assert context_file(env, "new") == str(a)  # where kubectl set-context would add it


def test_sweep_only_touches_this_files_temporaries(tmp_path):
    path = write(tmp_path, "a: 1\n")
    mine = tmp_path / ".config.kubesafe-tmp.1.aa"
    other = tmp_path / ".other.kubesafe-tmp.1.aa"
    mine.write_text("")
    other.write_text("")
    assert atomic_write.sweep(str(path)) == [mine.name]
    assert other.exists()


def test_a_file_replaced_during_the_edit_is_not_overwritten(tmp_path, monkeypatch):
    """aws/gcloud and editors take no lock: a change they make while kubesafe edits
    must survive (kubesafe edits the new content again) rather than be lost."""
    import kubesafe.kubeconfig.write as module

    path = write(tmp_path, COMMENTED)
    outside = COMMENTED.replace("# managed by hand", "# added by aws eks update-kubeconfig")
    real_parse = module.parse_bytes
    calls = []

    def racing_parse(content):
        if not calls:
            other = tmp_path / "other"
            other.write_text(outside)
            os.replace(other, path)
        calls.append(1)
        return real_parse(content)

    monkeypatch.setattr(module, "parse_bytes", racing_parse)
    set_current_context(str(path), "dev")
    text = path.read_text()
    assert "# added by aws eks update-kubeconfig" in text
    assert parse_bytes(path.read_bytes())["current_context"] == "dev"
