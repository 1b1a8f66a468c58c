"""The one exception type that reaches the user as a one-line message."""


class UserError(Exception):
    """Bad input or environment: the CLI prints `error: <message>` and exits with code 2."""
