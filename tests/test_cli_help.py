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


def _listed(output: str) -> dict[str, str]:
    """The Commands section of a group's --help: name -> description, wrapped lines joined."""
    listed: dict[str, str] = {}
    name = ""
    for line in output.split("Commands:\n", 1)[1].splitlines():
        words = line.split(maxsplit=1)
        if not words:
            continue
        if line.startswith("  ") and not line.startswith("   "):
            name = words[0]
            listed[name] = words[1] if len(words) > 1 else ""
        else:
            listed[name] += " " + line.strip()
    return listed


def test_command_lists_show_whole_first_sentences_at_any_width() -> None:
    for width in ("60", "80", "200"):
        for path, group in [(p, c) for p, c in _commands(cli) if isinstance(c, click.Group)]:
            result = CliRunner().invoke(cli, [*path, "--help"], env={"COLUMNS": width})
            listed = _listed(result.output)
            assert set(listed) == {n for n, c in group.commands.items() if not c.hidden}
            for name, description in listed.items():
                first = " ".join((group.commands[name].help or "").split("\n\n")[0].split())
                assert "..." not in description, (width, name, description)
                assert first.startswith(description) and description.endswith("."), (
                    width,
                    name,
                    description,
                )


def test_the_shell_integration_defines_functions_not_aliases() -> None:
    for name in ("kubectl", "helm"):
        text = cli.commands[name].help or ""
        assert "alias" not in text and "function" in text
