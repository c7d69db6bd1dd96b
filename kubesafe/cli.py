"""The ``kubesafe`` command line: parse and dispatch, nothing else."""

from __future__ import annotations

import sys

import click

from kubesafe import __version__


def _complete_contexts(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[click.shell_completion.CompletionItem]:
    from kubesafe.completion import context_names

    return [click.shell_completion.CompletionItem(n) for n in context_names(incomplete)]


def _complete_namespaces(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[click.shell_completion.CompletionItem]:
    from kubesafe.completion import namespace_names

    return [click.shell_completion.CompletionItem(n) for n in namespace_names(incomplete)]


def _complete_versions(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[click.shell_completion.CompletionItem]:
    from kubesafe.completion import version_names

    return [click.shell_completion.CompletionItem(n) for n in version_names(incomplete)]


class Group(click.Group):
    """A group whose command list shows each first sentence whole.

    click cuts a description that does not fit the terminal after a word and
    adds "..."; a description that wraps onto a second line reads better.
    """

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=_WHOLE)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


_WHOLE = 10_000  # longer than any first sentence


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="kubesafe")
def cli() -> None:
    """Run kubectl against the cluster you meant, with the kubectl that matches it.

    \b
    Example:
      kubesafe explain -- --context prod delete pod web-0
    """


@cli.command(context_settings={"ignore_unknown_options": True})
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--helm", "for_helm", is_flag=True, help="The arguments are helm's, not kubectl's.")
@click.option(
    "--preview",
    "with_preview",
    is_flag=True,
    help="Also read the cluster to show what a write would touch (reads and dry runs only).",
)
@click.argument("kubectl_args", nargs=-1, type=click.UNPROCESSED)
def explain(
    as_json: bool, for_helm: bool, with_preview: bool, kubectl_args: tuple[str, ...]
) -> None:
    """Show what kubesafe would do with a kubectl (or helm) command, without running it.

    Put the kubectl (or, with --helm, helm) arguments after `--`. Exit status 1
    when kubesafe cannot judge the command: a broken kubeconfig or policy file.

    \b
    Examples:
      kubesafe explain --json -- -n shop --context prod rollout restart deploy/web
      kubesafe explain --helm -- --kube-context prod uninstall web
      kubesafe explain --preview -- --context prod delete ns shop
    """
    from kubesafe.commands.explain import explain as explain_command

    text, failed = explain_command(
        list(kubectl_args), as_json=as_json, for_helm=for_helm, with_preview=with_preview
    )
    click.echo(text)
    if failed:
        sys.exit(1)


@cli.command(
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("kubectl_args", nargs=-1, type=click.UNPROCESSED)
def kubectl(kubectl_args: tuple[str, ...]) -> None:
    """Run kubectl through kubesafe's checks (what the shell's `kubectl` function calls).

    \b
    Example:
      kubesafe kubectl --context prod get pods
    """
    from kubesafe.kubectl.shim import run

    sys.exit(run(list(kubectl_args)))


@cli.command(
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("helm_args", nargs=-1, type=click.UNPROCESSED)
def helm(helm_args: tuple[str, ...]) -> None:
    """Run helm through kubesafe's checks (what the shell's `helm` function calls).

    \b
    Example:
      kubesafe helm --kube-context prod upgrade web ./chart
    """
    from kubesafe.helm.shim import run

    sys.exit(run(list(helm_args)))


LEVEL_CHOICES = click.Choice(["none", "confirm", "typed", "block"])


def _run_command(action: object) -> None:
    """Print a command's message, or its error as one line with exit status 1."""
    from kubesafe.commands.protect import CommandError

    try:
        message = action() if callable(action) else action
    except CommandError as exc:
        click.echo(f"kubesafe: {exc}", err=True)
        sys.exit(1)
    click.echo(message)


@cli.command()
@click.argument("pattern")
@click.option("--env", "environment", default="", help="Environment name (default: production).")
@click.option("--level", type=LEVEL_CHOICES, default=None, help="Level for every write.")
@click.option("--server", is_flag=True, help="PATTERN is an API server URL (glob), not a context.")
@click.option("--regex", is_flag=True, help="PATTERN is a regular expression on context names.")
@click.option(
    "--namespace", "namespaces", multiple=True, help="Only these namespaces (repeatable)."
)
def protect(
    pattern: str,
    environment: str,
    level: str | None,
    server: bool,
    regex: bool,
    namespaces: tuple[str, ...],
) -> None:
    """Protect contexts matching PATTERN (a glob), or an API server with --server.

    Production targets ask y/N before writes and want the context name typed
    before destructive commands; --level sets one level for every write.

    \b
    Examples:
      kubesafe protect prod
      kubesafe protect 'prod-*' --env production --level typed
      kubesafe protect --server 'https://api.prod.example.com*'
      kubesafe protect shared --env staging --namespace staging --level confirm
    """
    import os

    from kubesafe.commands.protect import protect as do_protect

    if server and regex:
        raise click.UsageError("--server and --regex cannot be combined")
    _run_command(
        lambda: do_protect(
            pattern,
            environment=environment,
            level=level or "",
            server=server,
            regex=regex,
            namespaces=namespaces,
            env=os.environ,
        )
    )


@cli.command()
@click.argument("pattern")
def unprotect(pattern: str) -> None:
    """Remove the policy-file rules whose pattern is exactly PATTERN.

    \b
    Example:
      kubesafe unprotect prod
    """
    import os

    from kubesafe.commands.protect import unprotect as do_unprotect

    _run_command(lambda: do_unprotect(pattern, os.environ))


@cli.command()
def policy() -> None:
    """List protection rules, where each comes from, and the contexts it matches.

    \b
    Example:
      kubesafe policy
    """
    import os

    from kubesafe.commands.protect import render_policy

    _run_command(lambda: render_policy(os.environ))


@cli.group(cls=Group, invoke_without_command=True)
@click.pass_context
def versions(ctx: click.Context) -> None:
    """List kubectl binaries (downloaded and on PATH) and the contexts using each.

    \b
    Examples:
      kubesafe versions
      kubesafe versions install 1.31
      kubesafe versions which -- --context prod get pods
    """
    if ctx.invoked_subcommand is None:
        import os

        from kubesafe.commands.versions import render_list

        _run_command(lambda: render_list(os.environ))


@versions.command("install")
@click.argument("version", shell_complete=_complete_versions)
def versions_install(version: str) -> None:
    """Download and verify kubectl VERSION (1.31 = its latest patch, or 1.31.4).

    \b
    Example:
      kubesafe versions install 1.31
    """
    import os

    from kubesafe.commands.versions import install

    _run_command(lambda: install(version, os.environ))


@versions.command("prune")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
def versions_prune(dry_run: bool) -> None:
    """Remove downloaded kubectl binaries that no known context needs.

    \b
    Example:
      kubesafe versions prune --dry-run
    """
    import os

    from kubesafe.commands.versions import prune

    _run_command(lambda: prune(os.environ, dry_run=dry_run))


@versions.command("which", context_settings={"ignore_unknown_options": True})
@click.argument("kubectl_args", nargs=-1, type=click.UNPROCESSED)
def versions_which(kubectl_args: tuple[str, ...]) -> None:
    """Which kubectl would run for a command, and why.

    \b
    Example:
      kubesafe versions which -- --context prod get pods
    """
    import os

    from kubesafe.commands.versions import which

    _run_command(lambda: which(list(kubectl_args), os.environ))


# -- per-terminal contexts, namespaces and the prompt ------------------------------


@cli.command("ctx")
@click.argument("names", nargs=-1, shell_complete=_complete_contexts)
@click.option("-c", "--current", is_flag=True, help="Print the current context.")
@click.option("-d", "--delete", is_flag=True, help="Delete the named contexts ('.' = current).")
@click.option("-u", "--unset", is_flag=True, help="Unset the current context.")
@click.option(
    "--global", "global_", is_flag=True, help="Change the kubeconfig (new terminals) too."
)
def ctx_command(
    names: tuple[str, ...], current: bool, delete: bool, unset: bool, global_: bool
) -> None:
    """List, switch, rename or delete contexts (kubectx), in this terminal only.

    NAME switches, '-' goes back to the previous one, NEW=OLD renames
    (OLD may be '.'), no argument lists them or, on a terminal, opens a picker.
    With the shell integration loaded a switch affects only this terminal;
    --global also changes the kubeconfig that new terminals start from.

    \b
    Examples:
      kubesafe ctx prod
      kubesafe ctx -
      kubesafe ctx short=arn:aws:eks:eu-west-1:123456789012:cluster/shop
    """
    from kubesafe.commands.switch import ctx

    _run_quiet(lambda: ctx(names, current=current, delete=delete, unset=unset, global_=global_))


@cli.command("ns")
@click.argument("names", nargs=-1, shell_complete=_complete_namespaces)
@click.option("-c", "--current", is_flag=True, help="Print the current namespace.")
@click.option("-u", "--unset", is_flag=True, help="Drop the namespace choice (back to default).")
@click.option("-f", "--force", is_flag=True, help="Switch without checking the namespace exists.")
@click.option(
    "--global", "global_", is_flag=True, help="Change the kubeconfig (new terminals) too."
)
def ns_command(
    names: tuple[str, ...], current: bool, unset: bool, force: bool, global_: bool
) -> None:
    """List or switch the namespace of the current context (kubens), in this terminal only.

    NAME switches after checking it exists (one GET; --force skips it),
    '-' goes back to the previous one, no argument lists them from a cache
    (refreshed in the background) or, on a terminal, opens a picker.

    \b
    Examples:
      kubesafe ns payments
      kubesafe ns -
    """
    from kubesafe.commands.switch import ns

    _run_quiet(lambda: ns(names, current=current, unset=unset, force=force, global_=global_))


def _run_quiet(action: object) -> None:
    """Like _run_command, for commands that may have nothing to print."""
    from kubesafe.commands.protect import CommandError

    try:
        result = action() if callable(action) else action
    except CommandError as exc:
        click.echo(f"kubesafe: {exc}", err=True)
        sys.exit(1)
    if result:
        # Colours are decided by the command (tty, NO_COLOR); click would strip them.
        click.echo(result, color=True)


@cli.command("init")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.option("--pid", type=int, default=None, hidden=True)
def init_command(shell: str, pid: int | None) -> None:
    """Print the shell integration; evaluate it from your shell's rc file.

    It routes kubectl and helm through kubesafe, gives this terminal its own
    context and namespace, and defines the kubesafe_prompt function and the
    KUBESAFE_PROMPT variable (refreshed before each prompt, no process forked
    when nothing changed).

    \b
    Examples:
      echo 'eval "$(kubesafe init bash)"' >> ~/.bashrc
      echo 'eval "$(kubesafe init zsh)"' >> ~/.zshrc
      echo 'status is-interactive; and kubesafe init fish | source' >> ~/.config/fish/config.fish
    \b
    Then put the segment in your prompt:
      bash:  PS1='${KUBESAFE_PROMPT}'"$PS1"
      zsh:   setopt prompt_subst; PROMPT='${KUBESAFE_PROMPT}'"$PROMPT"
      fish:  in fish_prompt, call kubesafe_prompt
    """
    import os

    from kubesafe.commands.shell import init

    _run_command(lambda: init(shell, pid if pid is not None else os.getppid(), os.environ))


@cli.command("prompt")
@click.argument("state", required=False, type=click.Choice(["on", "off"]))
@click.option("--global", "global_", is_flag=True, help="For every terminal, not just this one.")
@click.option("--render", type=click.Choice(["bash", "zsh", "fish"]), hidden=True)
def prompt_command(state: str | None, global_: bool, render: str | None) -> None:
    """Turn the prompt segment on or off, or show it.

    \b
    Examples:
      kubesafe prompt off
      kubesafe prompt on --global
    """
    import os

    from kubesafe.commands.shell import prompt

    _run_quiet(lambda: prompt(state, global_=global_, render=render, env=os.environ))


@cli.command("shell-exit", hidden=True)
@click.argument("session")
def shell_exit_command(session: str) -> None:
    """Remove a terminal's state when its shell exits (called by the integration)."""
    import os

    from kubesafe.commands.shell import shell_exit

    _run_quiet(lambda: shell_exit(session, os.environ))


@cli.command("lift")
@click.argument("context", shell_complete=_complete_contexts)
@click.option("--for", "duration", default=None, help="How long: 15m, 1h (at most guard.max-lift).")
@click.option("--reason", default="", help="Why; written to the audit log with every write.")
@click.option("--end", is_flag=True, help="Close the lift now.")
@click.option(
    "--user-guard",
    is_flag=True,
    help="For the user-level guard (kubesafe guard kubeconfig), not this terminal.",
)
def lift_command(
    context: str, duration: str | None, reason: str, end: bool, user_guard: bool
) -> None:
    """Open writes to a protected CONTEXT from this terminal for a while.

    Every client in this terminal (kubectl, helm, k9s, scripts) may write to
    CONTEXT until the lift ends; each write is audited with the reason. You
    type the context's name to confirm; refused without a terminal and in a
    coding agent's session. block rules cannot be lifted.

    \b
    Examples:
      kubesafe lift prod --for 15m --reason "rotate the TLS secret"
      kubesafe lift prod --end
    """
    import os

    from kubesafe.commands.lift import lift

    _run_command(
        lambda: lift(context, duration, reason, end=end, env=os.environ, user_guard=user_guard)
    )


@cli.group("guard", cls=Group)
def guard_group() -> None:
    """The per-terminal API guard that stops writes from every client.

    In a terminal with the shell integration, protected contexts are reached
    through this terminal's guard: k9s, helm, scripts, client libraries and
    kubectl by its absolute path get a 403 for writes until `kubesafe lift`.

    \b
    Example:
      kubesafe guard status
    """


@guard_group.command("kubeconfig")
@click.argument("path")
def guard_kubeconfig(path: str) -> None:
    """Write PATH: a kubeconfig reaching the protected contexts through a user-level guard.

    For programs started outside a terminal (Lens, Headlamp, IDEs): point them
    at PATH. It holds only the protected contexts and no real credential;
    writes are refused until `kubesafe lift CONTEXT --for 15m --user-guard`,
    run from a terminal. Run it again after the policy changes.

    \b
    Example:
      kubesafe guard kubeconfig ~/.kube/guarded.yaml
    """
    import os

    from kubesafe.commands.guard import write_kubeconfig

    _run_command(lambda: write_kubeconfig(path, os.environ))


@guard_group.command("status")
def guard_status() -> None:
    """Show whether this terminal's guard runs, its contexts and open lifts.

    \b
    Example:
      kubesafe guard status
    """
    import os

    from kubesafe.commands.guard import status

    _run_command(lambda: status(os.environ))


@cli.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of checks, nothing else.")
def doctor_command(as_json: bool) -> None:
    """Check the setup and say exactly how to fix what is wrong.

    What kubectl runs in your shell (and what bypasses kubesafe), the shell
    integration, kubeconfig files, the policy, the cache, the current
    cluster and its kubectl, and completion. Exit status 1 when a check fails.

    \b
    Examples:
      kubesafe doctor
      kubesafe doctor --json | jq '.[] | select(.status == "fail") | .fix'
    """
    import os

    from kubesafe.commands.doctor import run

    sys.exit(run(os.environ, as_json=as_json))


@cli.command("demo")
@click.option("--script", is_flag=True, help="Run the tour by itself and print what happened.")
def demo_command(script: bool) -> None:
    """Try kubesafe without a cluster, in a throw-away sandbox.

    A stand-in API server on 127.0.0.1 plays three clusters (dev, staging,
    prod) and a demo policy protects prod. Without --script you get a shell
    where kubectl goes through kubesafe; with it, a guided tour runs by
    itself. Your kubeconfig, policy and cache are never used, and everything
    is removed at the end.

    \b
    Examples:
      kubesafe demo --script
      kubesafe demo
    """
    from kubesafe.commands.demo import run

    sys.exit(run(script=script, echo=click.echo, has_ctx="ctx" in cli.commands))


def main() -> int:
    try:
        cli.main(prog_name="kubesafe", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
