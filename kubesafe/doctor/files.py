"""Kubeconfig files, the current context, and kubesafe's cache directories."""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Mapping
from typing import TYPE_CHECKING

from kubesafe import paths
from kubesafe.doctor.check import FAIL, OK, WARN, Check
from kubesafe.kubeconfig.parse import KubeconfigError, file_problem, parse_bytes
from kubesafe.kubeconfig.resolve import candidate_files
from kubesafe.shell.names import SHELL_KUBECONFIG_VARIABLE

if TYPE_CHECKING:
    from kubesafe.kubeconfig.parse import FileData


def _mode(st: os.stat_result) -> str:
    return f"{stat.S_IMODE(st.st_mode):04o}"


def _directory_problem(path: str) -> Check | None:
    """Anyone may replace a file in a world-writable directory without the sticky bit."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        st = os.stat(directory)
    except OSError:
        return None
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        return Check(
            "kubeconfig",
            FAIL,
            f"{path} is in a directory every user can write to: anyone can replace it",
            subject=path,
            detail=(f"{directory}: mode {_mode(st)}",),
            fix=(f"chmod o-w {directory}",),
        )
    return None


def kubeconfig_file(path: str, listed: bool, own: bool = False) -> tuple[Check, FileData | None]:
    """One kubeconfig file: present, parses, private, in a safe directory.

    ``own``: the terminal's own file, which holds only this terminal's choice of
    context (no clusters or users of its own, so "0 contexts" would mislead).
    """
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
            # Reading a pipe would take its content away from kubectl (or hang).
            return Check(
                "kubeconfig",
                WARN,
                f"{path} is not a regular file (a pipe or device); kubesafe does not read it, "
                "so it refuses writes through it and lets reads run unchecked",
                subject=path,
                fix=(f"put the kubeconfig in a regular file instead of {path}",),
            ), None
        with open(path, "rb") as handle:
            content = handle.read()
    except FileNotFoundError:
        where = "listed in KUBECONFIG" if listed else "the default kubeconfig"
        return Check(
            "kubeconfig",
            WARN,
            f"{path} ({where}) does not exist; kubectl skips it",
            subject=path,
        ), None
    except OSError as exc:
        return Check(
            "kubeconfig",
            FAIL,
            f"{path} cannot be read: {exc.strerror or exc}",
            subject=path,
            fix=(f"chmod u+r {path}",),
        ), None
    try:
        data = parse_bytes(content)
    except KubeconfigError as exc:
        line = re.match(r"line (\d+): ", str(exc))
        where = f" at line {line.group(1)}" if line else ""
        return Check(
            "kubeconfig",
            FAIL,
            file_problem(path, exc),
            subject=path,
            detail=("kubectl refuses every command while a kubeconfig in use is broken",),
            fix=(f"edit {path}{where}, then check: kubectl config view --kubeconfig {path}",),
        ), None
    problem = _directory_problem(path)
    if problem is not None:
        return problem, data
    if st.st_mode & 0o077:
        return Check(
            "kubeconfig",
            FAIL,
            f"{path} is readable or writable by other users (mode {_mode(st)}); "
            "it holds credentials",
            subject=path,
            fix=(f"chmod 600 {path}",),
        ), data
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return Check(
            "kubeconfig",
            WARN,
            f"{path} belongs to another user (uid {st.st_uid}), who can change what it points at",
            subject=path,
            fix=(f'sudo chown "$(id -un)" {path}',),
        ), data
    if own:
        chosen = data["current_context"]
        choice = f"current context {chosen!r}" if chosen else "no context chosen here yet"
        return Check(
            "kubeconfig",
            OK,
            f"{path} is this terminal's own kubeconfig ({choice}), mode {_mode(st)}",
            subject=path,
        ), data
    contexts = len(data["contexts"])
    return Check(
        "kubeconfig",
        OK,
        f"{path} parses ({contexts} context{'s' if contexts != 1 else ''}), mode {_mode(st)}",
        subject=path,
    ), data


def kubeconfig_files(
    env: Mapping[str, str],
) -> tuple[list[Check], list[tuple[str, FileData]], bool]:
    """Checks, the files that parse, and whether one that kubectl needs is unusable."""
    paths_, _ = candidate_files("", env)
    listed = bool(env.get("KUBECONFIG"))
    own = env.get(SHELL_KUBECONFIG_VARIABLE, "")
    checks: list[Check] = []
    loaded: list[tuple[str, FileData]] = []
    broken = False
    for path in paths_:
        absolute = os.path.abspath(path)
        check, data = kubeconfig_file(
            absolute, listed, own=bool(own) and absolute == os.path.abspath(own)
        )
        checks.append(check)
        if data is not None:
            loaded.append((absolute, data))
        elif check.status == FAIL:
            broken = True
    return checks, loaded, broken


def current_context(loaded: list[tuple[str, FileData]], broken: bool) -> Check:
    """Which file sets current-context, and which defines that context."""
    if broken:
        return Check(
            "current-context",
            FAIL,
            "the current context cannot be resolved while a kubeconfig file is broken",
        )
    setter = next(((path, data) for path, data in loaded if data["current_context"]), None)
    names = [name for _, data in loaded for name in data["contexts"]]
    example = names[0] if names else "CONTEXT"
    if setter is None:
        return Check(
            "current-context",
            WARN,
            "no current context: kubectl needs --context (or talks to localhost:8080)",
            fix=(f"kubesafe ctx {example}",),
        )
    path, data = setter
    name = data["current_context"]
    definer = next((p for p, d in loaded if name in d["contexts"]), None)
    if definer is None:
        return Check(
            "current-context",
            FAIL,
            f"the current context {name!r} (set in {path}) is defined in no kubeconfig file",
            detail=(f"contexts: {', '.join(dict.fromkeys(names)) or '(none)'}",),
            fix=(f"kubesafe ctx {example}",),
        )
    return Check(
        "current-context",
        OK,
        f"current context {name!r}: set in {path}, defined in {definer}",
        subject=name,
    )


def _blocking_file(directory: str) -> str | None:
    """The first ancestor of ``directory`` that exists but is not a directory."""
    probe = os.path.abspath(directory)
    chain = []
    while True:
        chain.append(probe)
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    for path in reversed(chain):
        if os.path.lexists(path) and not os.path.isdir(path):
            return path
    return None


def writable_dir(name: str, directory: str) -> Check:
    """Create (as kubesafe would) and write a temporary file in ``directory``."""
    try:
        paths.ensure_private_dir(directory)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".kubesafe-doctor-")
        os.close(fd)
        os.unlink(temporary)
    except OSError as exc:
        blocker = _blocking_file(directory)
        if blocker is not None:
            fix = f"mv {blocker} {blocker}.bak  (a file stands where a directory must be)"
        else:
            fix = f'mkdir -p {directory} && chown "$(id -un)" {directory} && chmod 700 {directory}'
        return Check(
            name,
            FAIL,
            f"the {name} directory {directory} is not writable: {exc.strerror or exc}",
            subject=directory,
            detail=("kubesafe stays correct but slow: it re-reads files and asks servers again",),
            fix=(fix,),
        )
    st = os.stat(directory)
    if st.st_mode & 0o022:
        return Check(
            name,
            WARN,
            f"the {name} directory {directory} is writable by other users (mode {_mode(st)})",
            subject=directory,
            detail=("kubesafe ignores files there that others could have written",),
            fix=(f"chmod go-w {directory}",),
        )
    return Check(name, OK, f"the {name} directory {directory} is writable", subject=directory)


def cache_dirs() -> list[Check]:
    return [writable_dir("cache", paths.cache_dir()), writable_dir("state", paths.state_dir())]
