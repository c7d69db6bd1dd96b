"""The ``kubesafe`` command line: parse and dispatch, nothing else."""

from __future__ import annotations

import sys

import click

from kubesafe import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="kubesafe")
def cli() -> None:
    """Run kubectl against the cluster you meant, with the kubectl that matches it.

    \b
    Example:
      kubesafe explain -- --context prod delete pod web-0
    """


@cli.command(context_settings={"ignore_unknown_options": True})
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.argument("kubectl_args", nargs=-1, type=click.UNPROCESSED)
def explain(as_json: bool, kubectl_args: tuple[str, ...]) -> None:
    """Show what kubesafe would do with a kubectl command, without running it.

    Put the kubectl arguments after `--`.

    \b
    Example:
      kubesafe explain --json -- -n shop --context prod rollout restart deploy/web
    """
    from kubesafe.commands.explain import render_json, render_text
    from kubesafe.plan import make_plan

    plan = make_plan(list(kubectl_args))
    click.echo(render_json(plan) if as_json else render_text(plan))
    if plan.resolve_error is not None:
        sys.exit(1)


@cli.command(
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("kubectl_args", nargs=-1, type=click.UNPROCESSED)
def kubectl(kubectl_args: tuple[str, ...]) -> None:
    """Run kubectl through kubesafe's checks (what the `kubectl` alias calls).

    \b
    Example:
      kubesafe kubectl --context prod get pods
    """
    from kubesafe.shim import run

    sys.exit(run(list(kubectl_args)))


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


@cli.group(invoke_without_command=True)
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
@click.argument("version")
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


def main() -> int:
    try:
        cli.main(prog_name="kubesafe", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
