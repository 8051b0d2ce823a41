"""Durations as users write them (``90s``, ``10m``, ``2h``, ``1h30m``), converted once to seconds.

The spelling is Go's ``time.ParseDuration`` (kubelet, Karpenter and the cluster autoscaler take
durations this way), without the sub-millisecond units: a sequence of decimal numbers, each with
a unit ``ms``, ``s``, ``m`` or ``h``. A bare number is refused, since ``60`` could mean seconds or
minutes; ``0`` alone is accepted, as Go does.

References
----------
Go standard library ``time/format.go`` ParseDuration.
"""

from __future__ import annotations

import math
import re

from cnisim.errors import UsageError

__all__ = ["DurationError", "parse_duration_s"]

_UNIT_S = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_TERM = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ms|s|m|h)"
_DURATION_RE = re.compile(rf"(?:{_TERM})+")
_TERM_RE = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ms|s|m|h)")


class DurationError(UsageError):
    """A duration that is not written as ``90s``, ``10m`` or ``2h``."""


def parse_duration_s(text: str) -> float:
    """Parse a duration into seconds.

    Parameters
    ----------
    text : str
        ``"90s"``, ``"10m"``, ``"2h"``, ``"1h30m"``, ``"250ms"`` or ``"0"``.

    Returns
    -------
    float
        The duration [s], finite and >= 0.

    Raises
    ------
    DurationError
        Not a duration (a bare number, an unknown unit, a sign, a space inside).

    References
    ----------
    Go ``time/format.go`` ParseDuration (same grammar; negative durations refused here).

    Examples
    --------
    >>> parse_duration_s("90s"), parse_duration_s("10m"), parse_duration_s("1h30m")
    (90.0, 600.0, 5400.0)
    """
    stripped = text.strip()
    if stripped == "0":
        return 0.0
    if not _DURATION_RE.fullmatch(stripped):
        raise DurationError(
            f"duration {text!r} is not a duration: write a number with a unit"
            " (ms, s, m or h), e.g. 90s, 10m, 2h or 1h30m"
        )
    seconds = sum(float(value) * _UNIT_S[unit] for value, unit in _TERM_RE.findall(stripped))
    if not math.isfinite(seconds):
        raise DurationError(f"duration {text!r} is too long: write at most a few years")
    return seconds
