"""The one error type commands raise for the CLI to print as a single line."""


class CommandError(Exception):
    """A user-facing failure of a kubesafe command (one line)."""
