"""Every visible kubesafe command shows an example in its --help."""

from __future__ import annotations

import click
from click.testing import CliRunner

from kubesafe.cli import cli


def _commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = [(path, group)]
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found


def test_the_walk_reaches_nested_commands() -> None:
    paths = {path for path, _ in _commands(cli)}
    assert {(), ("explain",), ("versions",), ("versions", "install"), ("doctor",)} <= paths
    assert ("shell-exit",) not in paths  # hidden


def test_every_command_has_an_example_in_its_help() -> None:
    missing = []
    for path, command in _commands(cli):
        if command.get_help_option(click.Context(command)) is None:
            # kubectl/helm hand --help to the real program; their docstring is the help.
            text = command.help or ""
        else:
            result = CliRunner().invoke(cli, [*path, "--help"])
            assert result.exit_code == 0, (path, result.output)
            text = result.output
        if "Example" not in text:
            missing.append(" ".join(("kubesafe", *path)))
    assert not missing, f"no example in --help: {missing}"
