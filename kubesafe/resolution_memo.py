"""The resolution memo: a call's target and the protection lent to its endpoint, remembered.

At 10,000 contexts, loading the parsed kubeconfig back from the cache and merging
it costs more than the rest of a call together, although the answer (where the
command goes, which other contexts' rules reach that endpoint) is the same as on
the call before. So ``verdict.judge`` keeps each answer here with what it was
computed from:

* the key: the flags that pick the target (``Overrides``), the policy's path,
  rules, environments and error, the working directory, the user, the machine
  name and kubesafe's directories;
* every file the resolution read (kubeconfig files, missing ones included, CA
  files, the hosts file, the protected-endpoints memory, the service account
  files), with its identity then: device, inode, size, mtime, ctime and mode;
* every environment variable it looked up, with its value (``reads.RecordingEnv``).

An answer is used only while all of them are unchanged. It is stored only when
nothing it read changed while it was computed and every file it read is older
than ``RACY_SECONDS`` (a file rewritten twice within the timestamp granularity
can keep its identity). The files and variables are recorded as the resolution
reads them (``kubesafe.reads``), not listed by hand: ``tests/test_resolution_memo.py``
watches every open, stat and environment access of the resolution to prove
none escapes the record, and compares memoized and fresh answers on random
sequences of changes.
"""

from __future__ import annotations

import marshal
import os
import sys

from kubesafe import __version__, paths, reads

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from kubesafe.kubeconfig.resolve import Overrides
    from kubesafe.policy import Policy

_HEADER = ("kubesafe-resolution-memo", 1, __version__, sys.version_info[:2])
MAX_ENTRIES = 64
RACY_SECONDS = 2

# The memo file last loaded and its table (per path: tests move the cache directory).
_loaded: tuple[str, dict[Any, Any]] | None = None


def memo_path() -> str:
    return os.path.join(paths.cache_dir(), "resolutions.marshal")


def key_for(overrides: Overrides, policy: Policy) -> tuple[Any, ...] | None:
    """What the answer is looked up by; None where no answer may be kept."""
    if os.name == "nt":
        return None  # client-go's home directory search there stats files of its own
    try:
        cwd = os.getcwd()
        # marshal version 2: later versions mark shared objects, spelling equal dicts apart.
        environments = marshal.dumps(policy.environments, 2)
    except (OSError, ValueError):
        return None
    return (
        overrides.values(),
        # What of the policy the resolution and the endpoint memory's refresh read.
        policy.path,
        tuple(rule.values() for rule in policy.rules),
        environments,
        policy.error,
        cwd,
        os.getuid(),
        os.uname().nodename,
        paths.cache_dir(),
        paths.state_dir(),
        paths.config_dir(),
    )


def _load() -> dict[Any, Any]:
    global _loaded
    path = memo_path()
    if _loaded is None or _loaded[0] != path:
        _loaded = (path, paths.read_private_table(path, _HEADER))
    return _loaded[1]


def forget_loaded() -> None:
    """Read the file again on next use (tests)."""
    global _loaded
    _loaded = None


def lookup(key: tuple[Any, ...], env: Mapping[str, str]) -> Any:
    """The answer kept for ``key`` while everything it was computed from holds, else None."""
    entry = _load().get(key)
    if entry is None:
        return None
    try:
        environment, files, answer = entry
        for name, value in environment:
            if env.get(name) != value:
                return None
        for path, identity in files:
            if not isinstance(path, str) or reads.file_identity(path) != identity:
                return None
    except (TypeError, ValueError):
        # Damaged, or written by another build of this version (an editable or git
        # install): the header cannot tell, so an entry of another shape is a miss.
        return None
    return answer


def store(key: tuple[Any, ...], recorded: reads.Reads, answer: Any, started_ns: int) -> bool:
    """Keep ``answer``, computed from ``recorded`` since ``started_ns``, if it can be trusted."""
    if recorded.unkeyable:
        return False
    settled = started_ns - RACY_SECONDS * 1_000_000_000
    for path, identity in recorded.files.items():
        if reads.file_identity(path) != identity:
            return False  # changed since it was read (also by this very call)
        if identity is not None and max(identity[3], identity[4]) > settled:
            return False
    table = _load()
    table.pop(key, None)
    table[key] = (tuple(recorded.environment.items()), tuple(recorded.files.items()), answer)
    while len(table) > MAX_ENTRIES:
        del table[next(iter(table))]
    try:
        content = marshal.dumps((_HEADER, table))
    except ValueError:
        # An extension holding what marshal cannot write (a YAML timestamp): not kept.
        del table[key]
        return False
    return paths.write_private(memo_path(), content)
