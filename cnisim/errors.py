"""Errors a user can cause, each with a one-line message that says how to fix it.

The CLI prints ``cnisim: error: <message>`` and exits with ``exit_code``; no traceback.
Library callers catch :class:`CnisimError`.
"""

from __future__ import annotations

from collections.abc import Iterable


class CnisimError(Exception):
    """A user error: bad input, a setting the CNI refuses, missing data or credentials."""

    exit_code: int = 1


class UsageError(CnisimError):
    """The command line or a setting is wrong (exit status 2, like a usage error)."""

    exit_code = 2


class PlanError(UsageError):
    """A plan file (or a plan built in code) that cnisim cannot simulate (exit status 2).

    Raised by the plan's own checks with the object and the attribute at fault; the file readers
    (``cnisim.io``) turn those into a message that starts with the file, the line and the field
    as the file names it: ``plan.yaml:12: nodeGroups[0].minSize: ...``.

    Parameters
    ----------
    message : str
        What is wrong and how to fix it, one line.
    obj : object, optional
        The plan object at fault (a ``Subnet``, a ``NodeGroup``, ...), when known.
    attr : str, optional
        Its attribute at fault (``"cidr"``, ``"min_size"``), when known.
    """

    def __init__(self, message: str, *, obj: object = None, attr: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.obj = obj
        self.attr = attr


def did_you_mean(name: str, known: Iterable[str], *, n: int = 1, cutoff: float = 0.6) -> str:
    """A hint naming the closest known names, or ``""`` when none is close.

    Parameters
    ----------
    name : str
        What the user wrote.
    known : iterable of str
        The names that would have been accepted.
    n : int
        At most this many names, closest first.
    cutoff : float
        Similarity in [0, 1] below which no name is suggested (``difflib`` ratio).

    Examples
    --------
    >>> did_you_mean("desiredCapcity", ["minSize", "desiredCapacity", "maxSize"])
    'did you mean desiredCapacity?'
    >>> did_you_mean("m5.lage", ["m5.large", "m5.xlarge", "m5d.large", "c5.large"], n=3)
    'did you mean m5.large, m5d.large or m5.xlarge?'
    """
    import difflib

    matches = difflib.get_close_matches(name, sorted(known), n=n, cutoff=cutoff)
    if not matches:
        return ""
    options = matches[0] if len(matches) == 1 else f"{', '.join(matches[:-1])} or {matches[-1]}"
    return f"did you mean {options}?"
