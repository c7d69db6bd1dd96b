"""Change kubeconfig files the way kubectl would, without kubectl's damage.

Which file: ``current_context_file`` and ``context_file`` follow client-go's
``ModifyConfig`` (``tools/clientcmd/config.go``) exactly. How: every write
takes kubectl's ``<file>.lock`` (plus a private flock), edits only the bytes
of the values that change (``yaml_surgery``), checks the new text twice (its
YAML event stream equals the old one with exactly the intended change, and
kubesafe's own loader reads the intended values back), then replaces the
file atomically keeping its mode and owner (``atomic_write``), unless a
writer that takes no lock replaced it meanwhile (then it edits again). Comments, key
order, quoting, line endings and unknown fields survive; kubectl itself
rewrites the whole file and drops them. Anything the surgical editor cannot
handle (flow style, anchors, merge keys) fails with a one-line error and
leaves the file untouched.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from kubesafe.kubeconfig import atomic as atomic_write
from kubesafe.kubeconfig import quoting
from kubesafe.kubeconfig.cache import FileIndex, FileReadError
from kubesafe.kubeconfig.lock import LockError, WriteLock
from kubesafe.kubeconfig.parse import KubeconfigError, file_problem, parse_bytes
from kubesafe.kubeconfig.resolve import candidate_files, home_dir, opened_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kubesafe.kubeconfig.parse import FileData
    from kubesafe.kubeconfig.surgery import Document, Edit, Node

    # (content, section memo) -> (new content, new content parsed), or None: use the surgery.
    Fast = Callable[[bytes, dict[bytes, Any]], tuple[bytes, FileData] | None]

_BOM = "\ufeff"
# What kubectl writes into a kubeconfig it creates (keys sorted, empty lists null).
_NEW_FILE = (
    "apiVersion: v1\nclusters: null\ncontexts: null\ncurrent-context: {current}\n"
    "kind: Config\npreferences: {{}}\nusers: null\n"
)


class KubeconfigWriteError(Exception):
    """A kubeconfig change that was not made; the file is untouched. One line."""


# -- which file ---------------------------------------------------------------


def _precedence(env: Mapping[str, str], explicit: str | None) -> list[str]:
    """client-go's GetLoadingPrecedence: KUBECONFIG split, deduplicated, empty entries kept."""
    if explicit:
        return [explicit]
    listed = env.get("KUBECONFIG", "")
    if not listed:
        return [os.path.join(home_dir(env), ".kube", "config")]
    unique: list[str] = []
    for entry in listed.split(os.pathsep):
        if entry not in unique:
            unique.append(entry)
    return unique


def default_file(env: Mapping[str, str], explicit: str | None = None) -> str:
    """client-go's GetDefaultFilename: where kubectl writes what has no file of origin."""
    files = _precedence(env, explicit)
    if len(files) > 1:
        for name in files:
            if name and os.path.exists(name):
                return name
    chosen = files[-1]
    if not chosen:
        raise KubeconfigWriteError(
            f"KUBECONFIG={env.get('KUBECONFIG', '')!r} names no file kubectl could write"
        )
    return chosen


def _loaded(env: Mapping[str, str], explicit: str | None) -> list[tuple[str, FileData]]:
    index = FileIndex()
    found: list[tuple[str, FileData]] = []
    try:
        for name in candidate_files(explicit or "", env)[0]:
            try:
                data = index.read(opened_path(name), "kubeconfig", parse_bytes)
            except (KubeconfigError, FileReadError) as exc:
                raise KubeconfigWriteError(file_problem(name, exc)) from None
            if data is not None:
                found.append((name, data))
    finally:
        index.save()
    return found


def current_context_file(
    env: Mapping[str, str], explicit: str | None = None, *, clearing: bool = False
) -> str:
    """The file kubectl writes ``current-context`` to (client-go ``writeCurrentContext``).

    Setting: the ``--kubeconfig`` file, else the only KUBECONFIG entry, else the
    first listed file that exists, else the last listed; ``~/.kube/config``
    without KUBECONFIG. Clearing: the first file that sets a current context
    (kubectl writes nothing when none does; then this is the default file).
    """
    if clearing and not explicit:
        for name, data in _loaded(env, explicit):
            if data["current_context"]:
                return name
    return default_file(env, explicit)


def context_file(env: Mapping[str, str], context_name: str, explicit: str | None = None) -> str:
    """The file that defines the context (first in precedence), else where kubectl would add it."""
    if explicit:
        return explicit
    for name, data in _loaded(env, explicit):
        if context_name in data["contexts"]:
            return name
    return default_file(env, explicit)


# -- the changes --------------------------------------------------------------


class Switched:
    """What ``set_current_context`` found and left: saves its caller a second parse."""

    __slots__ = ("data", "previous")

    def __init__(self, previous: str, data: FileData | None) -> None:
        # current-context in the file before the change ("" when it had none).
        self.previous = previous
        # The file as written, parsed; None when nothing had to change.
        self.data = data


def set_current_context(
    path: str, name: str | None, *, must_define: bool = False, index: FileIndex | None = None
) -> Switched:
    """Set ``current-context`` in ``path`` (None or "": unset, as kubectl writes it: ``""``).

    ``must_define``: refuse (file untouched) unless ``path`` itself defines the context,
    for callers that know it is the only kubeconfig file. ``index``: see ``_change``.
    """
    value = name or ""
    previous = [""]

    def edit(doc: Document) -> Edit | None:
        from kubesafe.kubeconfig import surgery as yaml_surgery

        top = _top(doc)
        found = yaml_surgery.lookup(top, "current-context")
        if found is not None and found[1].kind == "scalar":
            previous[0] = str(found[1].value or "")
        result = yaml_surgery.Edit()
        if found is None:
            if not value:
                return None
            yaml_surgery.insert_pair(doc, result, top, "current-context", value)
        elif _holds(found[1], value):
            return None
        else:
            yaml_surgery.set_value(doc, result, found[0], found[1], value)
        return result

    def check(data: FileData) -> bool:
        if must_define and value not in data["contexts"]:
            raise KubeconfigWriteError(f'no context exists with the name: "{value}"')
        return data["current_context"] == value

    _valid(value)
    if not value and not os.path.lexists(path):
        return Switched("", None)  # nothing to unset; kubectl creates no file for this
    quoted = quoting.scalar_text(value)
    new_file = _NEW_FILE.format(current=quoted) if value else None

    def fast(content: bytes, memo: dict[bytes, Any]) -> tuple[bytes, FileData] | None:
        from kubesafe.kubeconfig.oneline import switch_line

        line = switch_line(content, quoted, value, memo)
        if line is not None:
            previous[0] = line[2]
            return line[0], line[1]
        from kubesafe.kubeconfig.sections import replace_current_context

        done = replace_current_context(content, quoted, memo)
        if done is None or done[2]["current_context"] != value:
            return None
        previous[0] = done[1]["current_context"]
        return done[0], done[2]

    written = _change(
        path,
        edit,
        check,
        new_file=new_file,
        empty_line=f"current-context: {quoted}",
        fast=fast if value else None,
        index=index,
    )
    return Switched(previous[0], written)


def set_context_namespace(
    path: str, context: str, namespace: str | None, *, index: FileIndex | None = None
) -> None:
    """Set (None or "": remove) the ``namespace`` of ``context`` in ``path``; ``index``:
    see ``_change``."""
    value = namespace or ""
    _valid(context, value)

    def edit(doc: Document) -> Edit | None:
        from kubesafe.kubeconfig import surgery as yaml_surgery

        _, body = _context_item(doc, context)
        mapping = yaml_surgery.expect(body, f'context "{context}"', "map")
        found = yaml_surgery.lookup(mapping, "namespace")
        result = yaml_surgery.Edit()
        if found is None:
            if not value:
                return None
            yaml_surgery.insert_pair(doc, result, mapping, "namespace", value)
        elif not value:
            yaml_surgery.remove_pair(doc, result, mapping, *found)
        elif _holds(found[1], value):
            return None
        else:
            yaml_surgery.set_value(doc, result, found[0], found[1], value)
        return result

    def check(data: FileData) -> bool:
        entry = data["contexts"].get(context)
        return entry is not None and entry[2] == value

    _change(path, edit, check, index=index)


def rename_context(path: str, old: str, new: str, *, update_current: bool = True) -> None:
    """Rename a context in ``path``; also its ``current-context`` when that names it.

    kubectl renames in the context's file and writes the new current context to
    ``current_context_file`` when the merged current context was the old name;
    for one file that is this, for several pass ``update_current=False`` and
    call ``set_current_context`` on that file.
    """
    if not new:
        raise KubeconfigWriteError("the new context name is empty")
    _valid(old, new)
    renamed_current: list[bool] = []

    def edit(doc: Document) -> Edit | None:
        from kubesafe.kubeconfig import surgery as yaml_surgery

        top = _top(doc)
        item, _ = _context_item(doc, old)
        if _find_item(top, new) is not None:
            raise KubeconfigWriteError(f'context "{new}" already exists in {path}')
        result = yaml_surgery.Edit()
        name = yaml_surgery.lookup(item, "name")
        assert name is not None
        yaml_surgery.set_value(doc, result, name[0], name[1], new)
        current = yaml_surgery.lookup(top, "current-context")
        if update_current and current is not None and current[1].value == old:
            yaml_surgery.set_value(doc, result, current[0], current[1], new)
            renamed_current.append(True)
        return result

    def check(data: FileData) -> bool:
        contexts = data["contexts"]
        moved = old not in contexts and new in contexts
        return moved and (not renamed_current or data["current_context"] == new)

    _change(path, edit, check)


def delete_context(path: str, name: str) -> None:
    """Delete a context from ``path``; like kubectl, ``current-context`` is left as it is."""
    _valid(name)

    def edit(doc: Document) -> Edit | None:
        from kubesafe.kubeconfig import surgery as yaml_surgery

        top = _top(doc)
        item, _ = _context_item(doc, name)
        found = yaml_surgery.lookup(top, "contexts")
        assert found is not None
        result = yaml_surgery.Edit()
        yaml_surgery.remove_item(doc, result, found[0], found[1], item)
        return result

    def check(data: FileData) -> bool:
        return name not in data["contexts"]

    _change(path, edit, check)


def _holds(node: Node, value: str) -> bool:
    """Whether a scalar already holds ``value`` (an empty "" counts, an empty null does not)."""
    return node.kind == "scalar" and node.value == value and node.start != node.end


def _valid(*values: str) -> None:
    for value in values:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise KubeconfigWriteError(f"{value!r} is not valid Unicode") from None


# -- locating -----------------------------------------------------------------


def _top(doc: Document) -> Node:
    from kubesafe.kubeconfig import surgery as yaml_surgery

    return yaml_surgery.expect(doc.root, "the document", "map")


def _find_item(top: Node, name: str) -> Node | None:
    from kubesafe.kubeconfig import surgery as yaml_surgery

    found = yaml_surgery.lookup(top, "contexts")
    if found is None or (found[1].kind == "scalar" and found[1].value in ("", "null", "~")):
        return None
    contexts = yaml_surgery.expect(found[1], "contexts", "seq")
    for item in contexts.items:
        mapping = yaml_surgery.expect(item, "an entry of contexts", "map")
        entry = yaml_surgery.lookup(mapping, "name")
        if entry is not None and entry[1].kind == "scalar" and entry[1].value == name:
            return mapping
    return None


def _context_item(doc: Document, name: str) -> tuple[Node, Node | None]:
    """The list item of context ``name`` and its ``context`` mapping."""
    from kubesafe.kubeconfig import surgery as yaml_surgery

    item = _find_item(_top(doc), name)
    if item is None:
        raise _NotFound(f'context "{name}" is not defined in')
    body = yaml_surgery.lookup(item, "context")
    return item, None if body is None else body[1]


class _NotFound(Exception):
    pass


# -- the write ------------------------------------------------------------------


def _change(
    path: str,
    edit: Callable[[Document], Edit | None],
    check: Callable[[FileData], bool],
    *,
    new_file: str | None = None,
    empty_line: str | None = None,
    fast: Fast | None = None,
    index: FileIndex | None = None,
) -> FileData | None:
    """Make the change; returns the new file parsed, or None when nothing changed.

    ``fast``: an edit of the raw bytes that proves itself (``oneline``, ``sections``),
    tried first; None from it means the event-checked surgery does the edit.
    ``index``: the caller's parsed-file cache, which it saves; it learns the new file.
    """
    directory = os.path.dirname(os.path.realpath(path))
    try:
        if not os.path.isdir(directory):
            if new_file is None:
                raise KubeconfigWriteError(f"{path} does not exist")
            # kubectl creates it too (0755); a directory of kubeconfigs is private.
            os.makedirs(directory, mode=atomic_write.NEW_DIR_MODE)
        with WriteLock(path):
            for _ in range(_ATTEMPTS):
                done, data = _attempt(path, edit, check, new_file, empty_line, fast, index)
                if done:
                    return data
            raise KubeconfigWriteError(
                f"{path} left untouched: another program kept changing it; try again"
            )
    except (LockError, atomic_write.AtomicWriteError) as exc:
        raise KubeconfigWriteError(str(exc)) from None
    except OSError as exc:
        raise KubeconfigWriteError(f"cannot write {path}: {exc.strerror or exc}") from None


# Writers that take no lock (cloud CLIs, editors) may replace the file meanwhile.
_ATTEMPTS = 3


def _identity(path: str) -> tuple[int, ...] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


def _attempt(
    path: str,
    edit: Callable[[Document], Edit | None],
    check: Callable[[FileData], bool],
    new_file: str | None,
    empty_line: str | None,
    fast: Fast | None = None,
    shared: FileIndex | None = None,
) -> tuple[bool, FileData | None]:
    """Edit and replace ``path``; False, with nothing written, if it changed meanwhile."""
    before = _identity(path)
    content = _read(path)
    quick = None
    index = shared
    absolute = os.path.abspath(path)
    if fast is not None and content:
        if index is None:
            index = FileIndex()
        quick = fast(content, index.memo("kubeconfig-sections", absolute))
    if quick is not None:
        new, data = quick
    else:
        found = _new_content(path, content, edit, new_file, empty_line)
        if found is None:
            return True, None
        new = found
        try:
            data = parse_bytes(new)
        except KubeconfigError as exc:
            raise KubeconfigWriteError(
                f"{path} left untouched: the edited file would not load ({exc})"
            ) from None
    if not check(data):
        raise KubeconfigWriteError(
            f"{path} left untouched: the edited file does not read back as intended"
        )
    if _identity(path) != before:
        return False, None
    atomic_write.replace(path, new)
    if shared is not None:
        _remember_written(shared, absolute, new, data)
    elif index is not None:
        index.save()  # the sections just read, for the next reader of the new file
    return True, data


def _remember_written(index: FileIndex, path: str, written: bytes, data: FileData) -> None:
    """Let ``index`` answer for the file just written without parsing it again.

    The caller's next reads (the protection notice, the merged view) then cost a
    read and a comparison; a file some other writer replaced meanwhile is parsed.
    """

    def parse(content: bytes) -> FileData:
        if content == written:
            return data
        return parse_bytes(content, index.memo("kubeconfig-sections", path))

    # The entry of the file replaced is stale, and FileIndex.read would look no further.
    index.forget("kubeconfig", path)
    try:
        index.read(path, "kubeconfig", parse)
    except (KubeconfigError, FileReadError):
        pass  # the next reader reports it


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KubeconfigWriteError(f"cannot read {path}: {exc.strerror or exc}") from None


def _new_content(
    path: str,
    content: bytes | None,
    edit: Callable[[Document], Edit | None],
    new_file: str | None,
    empty_line: str | None,
) -> bytes | None:
    from kubesafe.kubeconfig import surgery as yaml_surgery

    if content is None:
        if new_file is None:
            raise KubeconfigWriteError(f"{path} does not exist")
        return new_file.encode()
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise KubeconfigWriteError(f"{path} is not UTF-8 (kubesafe edits UTF-8 only)") from None
    bom = text.startswith(_BOM)
    body = text[1:] if bom else text
    try:
        doc = yaml_surgery.Document(body)
    except yaml_surgery.Unsupported as exc:
        raise KubeconfigWriteError(_cannot(path, exc)) from None
    except Exception as exc:  # yaml.YAMLError, without importing yaml here
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["invalid YAML"])[0]
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise KubeconfigWriteError(f"{path} is not valid YAML: {where}{problem}") from None
    if _is_empty(doc):
        if new_file is None or empty_line is None:
            raise KubeconfigWriteError(f"{path} defines no contexts")
        separator = "" if not body or body.endswith("\n") else doc.newline
        new_body = body + separator + empty_line + doc.newline
    else:
        try:
            change = edit(doc)
        except yaml_surgery.Unsupported as exc:
            raise KubeconfigWriteError(_cannot(path, exc)) from None
        except _NotFound as exc:
            raise KubeconfigWriteError(f"{exc} {path}") from None
        if change is None:
            return None
        new_body = change.apply(body)
        problem = yaml_surgery.verify(doc, change, new_body)
        if problem is not None:
            raise KubeconfigWriteError(f"{path} left untouched: {problem}")
    return ((_BOM if bom else "") + new_body).encode("utf-8")


def _cannot(path: str, reason: Exception) -> str:
    return f"cannot edit {path} in place ({reason}); kubectl config can, but drops its comments"


def _is_empty(doc: Document) -> bool:
    root = doc.root
    return root is None or (root.kind == "scalar" and root.value in ("", "null", "~"))
