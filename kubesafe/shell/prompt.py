"""The prompt segment, and the shell code that keeps it current for free.

The shell never asks kubesafe on an unchanged prompt. After each render it
holds the segment in ``KUBESAFE_PROMPT``, the list of files the segment was
computed from (kubeconfig files, policy file, prompt toggles) split into those
that existed and those that did not, and a key made of the environment
variables that choose those files. Each existing file gets a stamp file
carrying that file's own mtime. Before each prompt the shell compares the key
and tests every file against its stamp with ``-nt`` and ``-ot`` (builtins: no
fork; bash, zsh and fish compare nanosecond mtimes). Any other mtime, older
ones included (a backup moved back into place, ``cp -p``, ``touch -d``, a
server clock behind ours), or a file that appeared or vanished, makes it run
kubesafe again.

A file changed less than two seconds before the render started gets a stamp
one nanosecond older than itself, so it is read again on the next prompt: a
second write within the timestamp granularity of the first (or during the
render) cannot leave a stale prompt behind. After two quiet seconds a render
records exact mtimes and prompts cost nothing again.
"""

from __future__ import annotations

import os
import time

from kubesafe import paths
from kubesafe.glob import glob_match
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubeconfig.resolve import (
    Overrides,
    ResolveError,
    candidate_files,
    load_merged,
    resolve_merged,
)
from kubesafe.policy import PRODUCTION_NAMES, endpoint_rules, load_policy, protection
from kubesafe.policy_file import policy_path
from kubesafe.policy_location import fallbacks
from kubesafe.shell.names import NO_CONTEXT, SESSION_VARIABLE
from kubesafe.shell.session import active_session, sync_shadows

TYPE_CHECKING = False  # typing costs an import on the prompt's path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Mapping

RACY_NS = 2_000_000_000
# Environment variables that decide which files the segment depends on, or how it looks.
KEY_VARIABLES = (
    "KUBECONFIG",
    "KUBESAFE_CONFIG",
    "HOME",
    "XDG_CONFIG_HOME",
    "XDG_STATE_HOME",
    "NO_COLOR",
    "KUBESAFE_PROMPT_FORMAT",
    # client-go's server for a context whose cluster is missing: it decides protection.
    "KUBERNETES_MASTER",
)
DEFAULT_FORMAT = "⎈ {env}{context}:{namespace}"
# After a change, until the background render answers: the last segment, then this.
REFRESHING = "↻"
SHELLS = ("bash", "zsh", "fish")

RED, YELLOW, GREEN, CYAN, MAGENTA = "31", "33", "32", "36", "35"
_STAGING_HINTS = ("stag", "qa", "test", "uat", "preprod", "pre-prod")


class Segment:
    __slots__ = ("color", "text", "until")

    def __init__(self, text: str, color: str, until: int = 0) -> None:
        self.text = text
        self.color = color
        # Epoch second at which the text changes by itself (a lift's countdown), or 0.
        self.until = until


def lift_marker(session: str, context: str, now: float | None = None) -> tuple[str, int]:
    """("LIFT 14m ", the epoch second the text next changes) for an open lift here."""
    from kubesafe.shell.session import guard_dir

    path = os.path.join(guard_dir(session), "lifts.json")
    if not os.path.exists(path):
        return "", 0
    from kubesafe.guard.lifts import LiftBook

    lift = LiftBook(path, os.path.basename(session)).current(context, now)
    if lift is None:
        return "", 0
    remaining = lift.remaining(now)
    minutes = int(-(-remaining // 60))  # rounded up: "1m" until the last second
    changes = lift.until - (minutes - 1) * 60
    return f"LIFT {minutes}m ", int(changes) + 1


def toggle_files(env: Mapping[str, str]) -> tuple[str, str]:
    """(this terminal's on/off file, the global one)."""
    session = env.get(SESSION_VARIABLE, "")
    local = os.path.join(session, "prompt") if session else ""
    return local, os.path.join(paths.state_dir(), "prompt")


def _read_toggle(path: str) -> str:
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def prompt_enabled(env: Mapping[str, str]) -> bool:
    local, shared = toggle_files(env)
    choice = _read_toggle(local) or _read_toggle(shared)
    return choice != "off"


def set_prompt(enabled: bool, env: Mapping[str, str], *, global_: bool) -> str:
    """Turn the segment on or off here (or for every terminal); returns the file written."""
    local, shared = toggle_files(env)
    path = shared if global_ or not local else local
    if not paths.write_private(path, b"on\n" if enabled else b"off\n"):
        raise OSError(f"cannot write {path}")
    if global_ and local:
        try:
            os.unlink(local)  # this terminal follows the new global choice
        except FileNotFoundError:
            pass
    return path


def environment_color(environment: str | None, protected: bool) -> str:
    if environment is None:
        return CYAN
    lowered = environment.lower()
    if lowered in PRODUCTION_NAMES:
        return RED
    if any(hint in lowered for hint in _STAGING_HINTS):
        return YELLOW
    return MAGENTA if protected else GREEN


def _alias(context: str, aliases: Mapping[str, str]) -> str:
    if context in aliases:
        return aliases[context]
    for pattern, alias in aliases.items():
        if ("*" in pattern or "?" in pattern or "[" in pattern) and glob_match(pattern, context):
            return alias
    return context


def compute_segment(env: Mapping[str, str]) -> Segment:
    """What the prompt shows for the target a plain ``kubectl`` would hit now."""
    if not prompt_enabled(env):
        return Segment("", "")
    index = FileIndex()
    session = active_session(env)
    if session is not None:
        sync_shadows(session, env, index)
    try:
        merged = load_merged(Overrides(), env, index)
        if not merged.files:
            return Segment("", "")
        if merged.current_context in ("", NO_CONTEXT):
            return Segment("⎈ no context", CYAN)
        target = resolve_merged(merged, Overrides(), env)
    except ResolveError:
        return Segment("⎈ kubeconfig error", RED)
    policy = load_policy(env, index)
    index.save()
    if policy.error:
        return Segment("⎈ policy error", RED)
    guard = protection(
        policy,
        target,
        mutating=True,
        destructive=True,
        namespaces=(target.namespace,),
        endpoints=endpoint_rules(policy, merged, target),
    )
    marker = ""
    if guard.environment:  # a rule matched: show which environment, protected or not
        short = "PROD" if guard.environment.lower() in PRODUCTION_NAMES else guard.environment
        marker = f"{short.upper()} "
    fields = {
        "symbol": "⎈",
        "env": marker,
        "context": _alias(target.context, policy.aliases),
        "namespace": target.namespace,
    }
    template = env.get("KUBESAFE_PROMPT_FORMAT") or DEFAULT_FORMAT
    try:
        text = template.format(**fields)
    except (KeyError, IndexError, ValueError):
        text = DEFAULT_FORMAT.format(**fields)
    lifted, until = lift_marker(session, target.context) if session else ("", 0)
    if lifted:
        text = f"{text} {lifted.rstrip()}"
    return Segment(text, environment_color(guard.environment, guard.protected), until)


def marked(segment: Segment) -> Segment:
    """The segment as shown while a render after a change is still running."""
    return Segment(f"{segment.text} {REFRESHING}", segment.color) if segment.text else segment


def watched_files(env: Mapping[str, str]) -> list[str]:
    files, _ = candidate_files("", env)
    watched = [os.path.abspath(path) for path in files]
    watched.append(os.path.abspath(policy_path(env)))
    # The files the policy falls back to when that one holds no rules.
    watched.extend(path for path, _ in fallbacks(env))
    watched.extend(path for path in toggle_files(env) if path)
    session = env.get(SESSION_VARIABLE, "")
    if session and os.path.isdir(os.path.join(session, "guard")):
        # A lift opened or ended shows at the next prompt.
        watched.append(os.path.join(session, "guard", "lifts.json"))
    return watched


def cache_key(env: Mapping[str, str]) -> str:
    return "|".join(env.get(name, "") for name in KEY_VARIABLES)


def _colored(segment: Segment, shell: str, env: Mapping[str, str]) -> str:
    if not segment.text:
        return ""
    text = segment.text.replace("%", "%%") if shell == "zsh" else segment.text
    if env.get("NO_COLOR") or not segment.color:
        return f"{text} "
    bold = "1;" if segment.color == RED else ""
    start, end = f"\033[{bold}{segment.color}m", "\033[0m"
    if shell == "bash":
        # readline must not count escape sequences: \001 and \002 bracket them.
        start, end = f"\001{start}\002", f"\001{end}\002"
    elif shell == "zsh":
        start, end = f"%{{{start}%}}", f"%{{{end}%}}"
    return f"{start}{text}{end} "


def posix_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _stamp_base(env: Mapping[str, str]) -> str:
    session = env.get(SESSION_VARIABLE, "")
    if session and os.path.isdir(session):
        return os.path.join(session, "prompt-stamp")
    return os.path.join(paths.ensure_private_dir(paths.state_dir()), f"prompt-stamp-{os.getppid()}")


def _stamp(path: str, stamp: str, started: int) -> bool:
    """Give ``stamp`` the mtime of ``path`` (one ns less while it may still change)."""
    try:
        mtime = os.stat(path).st_mtime_ns
        if mtime > started - RACY_NS:
            mtime -= 1
        with open(stamp, "a"):
            pass
        os.utime(stamp, ns=(mtime, mtime))
    except OSError:
        return False
    return True


def _guard_pid(env: Mapping[str, str]) -> str:
    """Start this terminal's guard if it is not running; its PID for the shell's check.

    The shell tests the PID with ``kill -0`` (a builtin) before each prompt, so a
    killed guard is started again at the next prompt at no cost otherwise.
    """
    session = active_session(env)
    if session is None:
        return ""
    from kubesafe.shell.session import guard_dir, refresh_guard

    refresh_guard(session, env)  # the policy or a kubeconfig may have changed
    directory = guard_dir(session)
    if not os.path.exists(os.path.join(directory, "terminal.marshal")):
        return ""
    from kubesafe.guard.terminal import ensure_running

    try:
        pid = ensure_running(directory, env)
    except OSError:
        return ""
    return str(pid) if pid else ""


def render(shell: str, env: Mapping[str, str]) -> str:
    """Shell code that sets the segment and what to watch; also moves the stamps.

    ``__kubesafe_present`` pairs each stamp with its file: stamp, file, stamp, ...
    """
    started = time.time_ns()
    watched = watched_files(env)
    present = [path for path in watched if os.path.exists(path)]
    absent = [path for path in watched if path not in present]
    base = _stamp_base(env)
    pairs: list[str] = []
    for number, path in enumerate(present):
        stamp = f"{base}.{number}"
        if _stamp(path, stamp, started):
            pairs.extend((stamp, path))
        else:
            absent.append(path)  # it exists, so the next prompt renders again
    computed = compute_segment(env)
    segment = _colored(computed, shell, env)
    # What bash and zsh show while the next render is still running: this, marked.
    refreshing = _colored(marked(computed), shell, env)
    key = cache_key(env)
    guard = _guard_pid(env)
    if shell == "fish":
        q = fish_quote
        return "\n".join(
            [
                f"set -g KUBESAFE_PROMPT {q(segment)}",
                f"set -g __kubesafe_refreshing {q(refreshing)}",
                f"set -g __kubesafe_key {q(key)}",
                "set -g __kubesafe_present " + " ".join(q(p) for p in pairs),
                "set -g __kubesafe_absent " + " ".join(q(p) for p in absent),
                f"set -g __kubesafe_guard {guard}",
                f"set -g __kubesafe_until {computed.until or ''}",
                "",
            ]
        )
    q = posix_quote
    return "\n".join(
        [
            f"KUBESAFE_PROMPT={q(segment)}",
            f"__kubesafe_refreshing={q(refreshing)}",
            f"__kubesafe_key={q(key)}",
            "__kubesafe_present=(" + " ".join(q(p) for p in pairs) + ")",
            "__kubesafe_absent=(" + " ".join(q(p) for p in absent) + ")",
            f"__kubesafe_guard={guard}",
            f"__kubesafe_until={computed.until or ''}",
            "",
        ]
    )
