"""Errors a user can cause, each with a one-line message that says how to fix it.

The CLI prints ``cnisim: error: <message>`` and exits with ``exit_code``; no traceback.
Library callers catch :class:`CnisimError`.
"""

from __future__ import annotations


class CnisimError(Exception):
    """A user error: bad input, a setting the CNI refuses, missing data or credentials."""

    exit_code: int = 1


class UsageError(CnisimError):
    """The command line or a setting is wrong (exit status 2, like a usage error)."""

    exit_code = 2
