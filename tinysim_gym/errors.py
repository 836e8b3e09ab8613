"""Errors that the ``tinysim`` command turns into one-line messages and exit code 2."""


class TinySimError(ValueError):
    """Bad input from the user: a config, a name or a parameter.

    The message is always one line that names the offending field and, where it can, the allowed values.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class ConfigError(TinySimError):
    """A configuration file or value that does not validate."""
