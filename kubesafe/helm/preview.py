"""What an ``install``/``upgrade`` would change, shown before the confirmation question.

With the ``helm diff`` plugin installed, its ``diff upgrade`` output (bounded);
otherwise the same command with ``--dry-run=server --output=table`` appended
(last flag wins), summarised as the objects it would apply, marked new, changed
or unchanged against the release's current manifest (``helm get manifest``).

The preview never changes the cluster: the dry-run argv is parsed and classified
again and must be a server dry run in every reading, or nothing runs. It never
reads stdin (a ``-f -`` values file belongs to the real command), and it gives up
after a few seconds: on any problem it says the preview is unavailable and the
question is asked all the same.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping

from kubesafe.classification import READ
from kubesafe.helm.args import parse
from kubesafe.helm.classify import classify
from kubesafe.helm.plan import HelmPlan

TIMEOUT_VARIABLE = "KUBESAFE_PREVIEW_TIMEOUT"
DEFAULT_TIMEOUT = 8.0
MAX_LINES = 40
MAX_LINE_WIDTH = 160


class PreviewError(Exception):
    """The preview cannot be shown; the message says why (one line)."""


def _timeout(env: Mapping[str, str]) -> float:
    try:
        value = float(env.get(TIMEOUT_VARIABLE, ""))
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def _reads_stdin(plan: HelmPlan) -> bool:
    reading = plan.parsed.primary
    values = [v for name in ("values", "set-file") for v in reading.flags.get(name, [])]
    return any(part == "-" or part.endswith("=-") for v in values for part in v.split(","))


def _insert_before_dashdash(argv: tuple[str, ...], extra: list[str]) -> list[str]:
    args = list(argv)
    if "--" in args:
        index = args.index("--")
        return [*args[:index], *extra, *args[index:]]
    return [*args, *extra]


def dry_run_argv(plan: HelmPlan) -> list[str]:
    """The user's argv as a server-side dry run; PreviewError unless provably harmless."""
    argv = _insert_before_dashdash(plan.argv, ["--dry-run=server", "--output=table"])
    for reading in parse(argv).readings:
        if classify(reading).category != READ or reading.last("dry-run") != "server":
            raise PreviewError("the command cannot be turned into a dry run safely")
    return argv


def plugins_dir(env: Mapping[str, str]) -> str:
    """helm's plugins directory ($HELM_PLUGINS, else helm's data home)."""
    if env.get("HELM_PLUGINS"):
        return env["HELM_PLUGINS"]
    if env.get("HELM_DATA_HOME"):
        return os.path.join(env["HELM_DATA_HOME"], "plugins")
    home = env.get("HOME", "")
    if env.get("XDG_DATA_HOME"):
        base = env["XDG_DATA_HOME"]
    elif os.name == "nt":
        base = env.get("APPDATA", "")
    elif os.uname().sysname == "Darwin":
        base = os.path.join(home, "Library")
    else:
        base = os.path.join(home, ".local", "share")
    return os.path.join(base, "helm", "plugins")


def has_diff_plugin(env: Mapping[str, str]) -> bool:
    directory = plugins_dir(env)
    return os.path.isfile(os.path.join(directory, "diff", "plugin.yaml"))


def diff_argv(plan: HelmPlan) -> list[str]:
    """``helm diff upgrade`` with the user's arguments (install: --allow-unreleased)."""
    from kubesafe.helm.args import command_index

    index = command_index(plan.argv)
    if index is None:
        raise PreviewError("cannot find the command word")
    argv = list(plan.argv)
    extra = ["--allow-unreleased"] if plan.command == ("install",) else []
    return [*argv[:index], "diff", "upgrade", *extra, *argv[index + 1 :]]


def _run(helm: str, argv: list[str], env: Mapping[str, str], deadline: float) -> str:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise PreviewError("timed out")
    try:
        process = subprocess.Popen(
            [helm, *argv],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        raise PreviewError(f"cannot run {helm}: {exc.strerror or exc}") from None
    try:
        out, err = process.communicate(timeout=remaining)
    except subprocess.TimeoutExpired:
        _kill(process)
        raise PreviewError(f"no answer within {_timeout(env):g}s") from None
    if process.returncode != 0:
        last = (err.strip().splitlines() or ["failed"])[-1]
        raise PreviewError(last[:MAX_LINE_WIDTH])
    return out


def _kill(process: subprocess.Popen[str]) -> None:
    import signal

    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (OSError, AttributeError):
        process.kill()
    process.communicate()


def manifest_objects(text: str) -> dict[tuple[str, str, str], str]:
    """(kind, namespace, name) -> document text, for each object in a helm manifest."""
    objects: dict[tuple[str, str, str], str] = {}
    for document in text.split("\n---"):
        kind = name = namespace = ""
        in_metadata = False
        for line in document.splitlines():
            if line.startswith("kind:"):
                kind = line.partition(":")[2].strip().strip("'\"")
            if not line.startswith(" "):
                in_metadata = line.rstrip() == "metadata:"
                continue
            if in_metadata and line.startswith("  name:") and not name:
                name = line.partition(":")[2].strip().strip("'\"")
            if in_metadata and line.startswith("  namespace:") and not namespace:
                namespace = line.partition(":")[2].strip().strip("'\"")
        if kind and name:
            body = "\n".join(
                line for line in document.strip().splitlines() if not line.startswith("# Source:")
            )
            objects[(kind, namespace, name)] = body
    return objects


def _manifest_section(output: str) -> str:
    _, found, rest = output.partition("\nMANIFEST:\n")
    if not found:
        raise PreviewError("helm printed no manifest")
    return rest.split("\nNOTES:\n")[0]


def summarise(new: dict[tuple[str, str, str], str], old: dict[tuple[str, str, str], str]) -> str:
    lines: list[str] = []
    for key, body in new.items():
        state = "new" if key not in old else ("changed" if old[key] != body else "unchanged")
        kind, namespace, name = key
        where = f" (namespace {namespace})" if namespace else ""
        lines.append(f"  {state:<10}{kind}/{name}{where}")
    for key in old:
        if key not in new:
            lines.append(f"  {'removed':<10}{key[0]}/{key[2]}")
    return "\n".join(lines) if lines else "  (no objects)"


def _bounded(text: str) -> str:
    lines = [line[:MAX_LINE_WIDTH] for line in text.rstrip().splitlines()]
    if len(lines) > MAX_LINES:
        lines = [*lines[:MAX_LINES], f"  ... {len(lines) - MAX_LINES} more lines"]
    return "\n".join(lines)


def _dry_run_summary(plan: HelmPlan, helm: str, env: Mapping[str, str], deadline: float) -> str:
    output = _run(helm, dry_run_argv(plan), env, deadline)
    new = manifest_objects(_manifest_section(output))
    old: dict[tuple[str, str, str], str] = {}
    if plan.release and plan.command == ("upgrade",):
        current = _current_manifest(plan, helm, env, deadline)
        old = manifest_objects(current) if current is not None else {}
    return "server dry run, objects it would apply:\n" + summarise(new, old)


def _current_manifest(
    plan: HelmPlan, helm: str, env: Mapping[str, str], deadline: float
) -> str | None:
    """The release's deployed manifest (None when it does not exist yet)."""
    from kubesafe.helm.args import command_index

    index = command_index(plan.argv)
    target = plan.guarded or plan.target
    if index is None or target is None or plan.release is None:
        return None
    # Only the flags that pick the target: the same target as the command itself.
    argv = ["get", "manifest", plan.release, "--namespace", target.namespace]
    if target.context:
        argv += ["--kube-context", target.context]
    reading = plan.parsed.primary
    for flag in ("kubeconfig", "kube-apiserver", "kube-token"):
        value = reading.globals.get(flag)
        if value:
            argv.append(f"--{flag}={value}")
    try:
        return _run(helm, argv, env, deadline)
    except PreviewError:
        return None


def preview(plan: HelmPlan, helm: str, env: Mapping[str, str]) -> str:
    """The text to show before the question (never raises)."""
    if _reads_stdin(plan):
        return "kubesafe: no preview (the values come from stdin)\n"
    deadline = time.monotonic() + _timeout(env)
    try:
        if has_diff_plugin(env):
            text = "helm diff:\n" + (_run(helm, diff_argv(plan), env, deadline) or "(no changes)")
        else:
            text = _dry_run_summary(plan, helm, env, deadline)
    except PreviewError as exc:
        return f"kubesafe: preview unavailable: {exc}\n"
    return f"--- kubesafe preview, {_bounded(text)}\n---\n"
