"""``click.echo`` for one line of text, without importing click on the usual streams."""

from __future__ import annotations

import sys


def echo(message: str, *, err: bool = False) -> None:
    """Write ``message`` and a newline exactly as ``click.echo(message, err=err)`` would.

    click writes straight to a UTF-8 text stream, but strips colour codes when the
    stream is no terminal and rewraps streams of other encodings (or Windows consoles):
    those cases are left to click itself.
    """
    stream = sys.stderr if err else sys.stdout
    encoding = getattr(stream, "encoding", None) or ""
    if (
        "\x1b" in message
        or sys.platform == "win32"
        or encoding.lower().replace("_", "-") not in ("utf-8", "utf8")
        or getattr(stream, "errors", None) is None
    ):
        import click

        click.echo(message, err=err)
        return
    stream.write(message + "\n")
    stream.flush()
