"""Errors a user can act on. The CLI prints them as one line (`error: ...`) instead of a traceback.

>>> str(UsageError("unknown preset 'fast'; choose one of: smoke, cpu, gpu"))
"unknown preset 'fast'; choose one of: smoke, cpu, gpu"
"""


class StarterError(Exception):
    """Something went wrong that is not a bug in our code (network, missing data, ...): exit status 1."""

    exit_code = 1


class UsageError(StarterError):
    """The user asked for something that does not exist or is not allowed: exit status 2.

    The message must name the bad value and what is allowed instead.
    """

    exit_code = 2


class Secret:
    """Holds an API key; every repr or str of it (and so of any object's vars) is redacted.

    >>> key = Secret("sk-123")
    >>> repr(key), str(key), key.reveal()
    ('<redacted>', '<redacted>', 'sk-123')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__
