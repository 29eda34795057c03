"""The exceptions that mean "bad input from the user": a flag, a file, a configuration value.

``diamond`` reports these as one clear line with exit status 2; every other exception is a bug in the
program and keeps its traceback. Each family of user error (``ConfigError``, ``CheckpointError``,
``StoreError``, ...) derives from ``UserError``; most also derive from ``ValueError`` (or
``RuntimeError``) so that callers catching those keep working.
"""

from __future__ import annotations


class UserError(Exception):
    """Input the user can fix: the message names the value, what was expected and where it came from."""


class InvalidValue(UserError, ValueError):
    """A value from a flag, a file or a configuration is outside what is allowed."""


def is_user_error(exc: BaseException) -> bool:
    """A ``UserError``, or an ``OSError`` about a named file (missing, unreadable, unwritable: the user's to fix).

    An ``OSError`` without a file name (a broken pipe, a failed system call) is treated as a bug.
    """
    return isinstance(exc, UserError) or (isinstance(exc, OSError) and exc.filename is not None)
