"""Run every doctor check in order."""

from __future__ import annotations

from collections.abc import Mapping

from kubesafe.doctor import files, shell_checks, target
from kubesafe.doctor.check import FAIL, WARN, Check
from kubesafe.doctor.guard_check import guard_check
from kubesafe.doctor.policy_check import policy_check
from kubesafe.doctor.shell_probe import ProbeError, probe
from kubesafe.doctor.shells import SUPPORTED, user_shell
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubeconfig.resolve import Merged, Overrides, ResolveError, load_merged, resolve_merged
from kubesafe.policy import load_policy


def shell_section(env: Mapping[str, str]) -> list[Check]:
    shell = user_shell(env)
    checks = [shell_checks.integration(env, shell)]
    if shell not in SUPPORTED:
        checks.append(shell_checks.unprobed(shell, f"unsupported shell {shell!r}", env))
    else:
        try:
            report = probe(shell, env)
        except ProbeError as exc:
            checks.append(shell_checks.unprobed(shell, str(exc), env))
        else:
            checks += [
                shell_checks.kubectl_command(report, env),
                shell_checks.aliases(report, env),
                shell_checks.shell_completion(report, env),
                shell_checks.prompt_segment(report, env),
            ]
    checks.append(shell_checks.kubectl_path(env, shell))
    return checks


def _merged(env: Mapping[str, str]) -> Merged | None:
    try:
        return load_merged(Overrides(), env, FileIndex())
    except ResolveError:
        return None


def target_section(env: Mapping[str, str], merged: Merged | None) -> list[Check]:
    if merged is None:
        return [Check("server", FAIL, "no target: the kubeconfig cannot be loaded")]
    if not merged.current_context:
        return [Check("server", WARN, "no current context: no server to check")]
    try:
        resolved = resolve_merged(merged, Overrides(), env)
    except ResolveError as exc:
        return [Check("server", FAIL, f"no target: {exc}")]
    policy = load_policy(env, FileIndex())
    server_check, version = target.server_version(resolved, policy)
    return [server_check, target.kubectl_choice(resolved, policy, env, version)]


def run_checks(env: Mapping[str, str]) -> list[Check]:
    checks = shell_section(env)
    file_checks, loaded, broken = files.kubeconfig_files(env)
    checks += file_checks
    checks.append(files.current_context(loaded, broken))
    merged = None if broken else _merged(env)
    checks.append(policy_check(env, merged))
    checks.append(guard_check(env))
    checks += files.cache_dirs()
    checks += target_section(env, merged)
    names = sorted(merged.contexts) if merged is not None else []
    checks.append(target.completion(env, names))
    return checks
