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
