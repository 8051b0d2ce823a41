"""Numbers as users write them: bounded integers and finite floats, and Kubernetes quantities.

Every numeric command-line option and setting goes through :func:`parse_int` or
:func:`parse_float`, so a value out of range, too large for int64, NaN or infinite is refused
with one line naming the option and the range, never a numpy overflow later.
``--pod-cpu 250m`` and ``--pod-memory 512Mi`` take the same strings as a pod spec's
``resources.requests``; the library works in millicores and MiB.

References
----------
Kubernetes API ``resource.Quantity`` (k8s.io/apimachinery/pkg/api/resource/quantity.go):
decimal suffixes k, M, G, T, P, E and binary Ki, Mi, Gi, Ti, Pi, Ei; ``m`` is 1/1000.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from cnisim.errors import UsageError

INT64_MAX = 2**63 - 1
"""Largest int64: Go's ``int`` on 64-bit hosts, numpy's default integer."""

INT32_MAX = 2**31 - 1
"""Largest int32: kubelet ``maxPods`` is an int32 (KubeletConfiguration.MaxPods)."""

_INT_RE = re.compile(r"^[+-]?[0-9]+$")
# A decimal float; no "nan", "inf" or hex (Python's float() would take them).
_FLOAT_RE = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")


def _range_text(minimum: float | None, maximum: float | None) -> str:
    low, high = (
        f"{x:,}" if isinstance(x, int) else "" if x is None else f"{x:g}"
        for x in (minimum, maximum)
    )
    if minimum is not None and maximum is not None:
        return f"from {low} to {high}"
    if minimum is not None:
        return f"{low} or more"
    return f"{high} or less"


def parse_int(
    value: str | int,
    *,
    name: str,
    minimum: int | None = None,
    maximum: int | None = INT64_MAX,
) -> int:
    """Parse a whole number and check its range.

    Parameters
    ----------
    value : str or int
        Decimal digits with an optional sign (surrounding spaces are allowed), or an int.
    name : str
        What the value is, for the message (``"--max-pods"``).
    minimum, maximum : int or None
        Inclusive bounds; None for no bound on that side (``maximum`` defaults to int64).

    Returns
    -------
    int

    Raises
    ------
    UsageError
        Not an integer, or out of range; the message names ``name`` and the range.

    Examples
    --------
    >>> parse_int(" 42", name="--max-pods", minimum=1)
    42
    """
    text = str(value).strip()
    if isinstance(value, bool) or not _INT_RE.match(text):
        raise UsageError(f"{name} {str(value)[:40]!r} is not a whole number: write e.g. 10")
    number = int(text)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        shown = text if len(text) <= 24 else f"{text[:12]}...({len(text)} digits)"
        raise UsageError(f"{name} {shown} is out of range: use {_range_text(minimum, maximum)}")
    return number


def parse_float(
    value: str | float,
    *,
    name: str,
    minimum: float | None = None,
    maximum: float | None = None,
    below_maximum: bool = False,
) -> float:
    """Parse a finite decimal number and check its range (NaN and infinity are refused).

    Parameters
    ----------
    value : str or float
        ``"0.075"``, ``"2"``, ``"1e3"``, or a float.
    name : str
        What the value is, for the message.
    minimum, maximum : float or None
        Inclusive bounds (``maximum`` exclusive with ``below_maximum``).
    below_maximum : bool
        The value must be strictly below ``maximum`` (fractions in [0, 1)).

    Returns
    -------
    float

    Raises
    ------
    UsageError
        Not a finite number, or out of range.

    Examples
    --------
    >>> parse_float("0.075", name="--vm-overhead", minimum=0, maximum=1, below_maximum=True)
    0.075
    """
    text = str(value).strip()
    number = float(text) if _FLOAT_RE.match(text) else math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise UsageError(f"{name} {str(value)[:40]!r} is not a finite number: write e.g. 0.5")
    too_high = maximum is not None and (number >= maximum if below_maximum else number > maximum)
    if (minimum is not None and number < minimum) or too_high:
        bounds = _range_text(minimum, maximum) + (" (excluded)" if below_maximum else "")
        raise UsageError(f"{name} {text[:24]} is out of range: use {bounds}")
    return number


_QUANTITY_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)\s*$")

_MEMORY_FACTOR_BYTES = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}

_MIB_BYTES = 2**20


class QuantityError(UsageError):
    """A CPU or memory quantity that Kubernetes would not accept."""


def check_whole(
    value: object, *, name: str, minimum: int | None = None, maximum: int | None = INT64_MAX
) -> int:
    """Check an API argument is a whole number (an int, not a bool or float) in range.

    Raises
    ------
    UsageError
        Not an int, or out of range; the message names ``name``.

    Examples
    --------
    >>> check_whole(3, name="n_pods", minimum=0)
    3
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise UsageError(f"{name} must be a whole number, not {value!r:.40}")
    number = int(value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise UsageError(f"{name} is {number}: use {_range_text(minimum, maximum)}")
    return number


def check_finite(
    value: object,
    *,
    name: str,
    minimum: float | None = None,
    maximum: float | None = None,
    above_minimum: bool = False,
    below_maximum: bool = False,
) -> float:
    """Check an API argument is a finite real number in range (NaN and infinity refused).

    Raises
    ------
    UsageError
        Not a real number, not finite, or out of range; the message names ``name``.

    Examples
    --------
    >>> check_finite(90, name="settle_s", minimum=0, above_minimum=True)
    90.0
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise UsageError(f"{name} must be a number, not {value!r:.40}")
    number = float(value)
    low = minimum is not None and (number <= minimum if above_minimum else number < minimum)
    high = maximum is not None and (number >= maximum if below_maximum else number > maximum)
    if not math.isfinite(number) or low or high:
        bounds = _range_text(minimum, maximum)
        if above_minimum or below_maximum:
            bounds += " (ends excluded)" if above_minimum and below_maximum else " (end excluded)"
        raise UsageError(f"{name} is {value!r:.40}: use a finite number {bounds}")
    return number


# resource.Quantity holds at most int64 of the base unit (bytes, or millicores for CPU).
_MAX_CPU_MILLICORES = float(INT64_MAX)
_MAX_MEMORY_BYTES = float(INT64_MAX)


def _split(text: str, what: str, example: str) -> tuple[float, str]:
    match = _QUANTITY_RE.match(text)
    if match is None:
        raise QuantityError(
            f"{what} {text[:40]!r} is not a Kubernetes quantity: write e.g. {example}"
        )
    return float(match.group(1)), match.group(2)


def _bounded(value: float, largest: float, what: str, text: str) -> float:
    if not value <= largest:  # also catches inf from a thousand digits
        raise QuantityError(
            f"{what} {text[:40]!r} is larger than a Kubernetes quantity can be (int64): "
            "use a real request, e.g. 512Mi"
        )
    return value


def parse_cpu_millicores(text: str) -> float:
    """Parse a Kubernetes CPU quantity into millicores.

    Parameters
    ----------
    text : str
        ``"250m"``, ``"0.5"``, ``"2"`` [cores, or millicores with the ``m`` suffix].

    Returns
    -------
    float
        The request [millicores].

    Examples
    --------
    >>> parse_cpu_millicores("250m"), parse_cpu_millicores("1.5")
    (250.0, 1500.0)
    """
    value, suffix = _split(text, "CPU", "250m or 0.5")
    if suffix == "m":
        return _bounded(value, _MAX_CPU_MILLICORES, "CPU", text)
    if suffix == "":
        return _bounded(value * 1000.0, _MAX_CPU_MILLICORES, "CPU", text)
    raise QuantityError(
        f"CPU {text[:40]!r} has unit {suffix!r}: use cores (0.5) or millicores (500m)"
    )


def parse_memory_mib(text: str) -> float:
    """Parse a Kubernetes memory quantity into MiB.

    Parameters
    ----------
    text : str
        ``"512Mi"``, ``"1Gi"``, ``"1G"`` or plain bytes.

    Returns
    -------
    float
        The request [MiB].

    Examples
    --------
    >>> parse_memory_mib("512Mi"), parse_memory_mib("2Gi")
    (512.0, 2048.0)
    """
    value, suffix = _split(text, "memory", "512Mi or 2Gi")
    factor = _MEMORY_FACTOR_BYTES.get(suffix)
    if factor is None:
        raise QuantityError(
            f"memory {text[:40]!r} has unit {suffix!r}: use Ki, Mi, Gi, Ti (binary) or k, M, G, T"
        )
    return _bounded(value * factor, _MAX_MEMORY_BYTES, "memory", text) / _MIB_BYTES


def parse_assignments(items: Sequence[str], *, option: str, example: str) -> dict[str, str]:
    """``NAME=VALUE`` items of a repeated command-line option (``--set``, ``--desired``).

    Names are stripped; values are kept byte for byte (ipamd reads ``' 3'`` with Go's
    strconv.Atoi, which refuses it, and :meth:`cnisim.cni.IpamdConfig.from_env` mirrors that).

    Parameters
    ----------
    items : sequence of str
        The option's values, in order; a later name wins.
    option : str
        The option's name, for messages (``"--set"``).
    example : str
        A correct item, for messages (``"WARM_IP_TARGET=5"``).

    Raises
    ------
    UsageError
        An item without ``=`` or with an empty name.

    Examples
    --------
    >>> parse_assignments(["WARM_IP_TARGET=5"], option="--set", example="WARM_IP_TARGET=5")
    {'WARM_IP_TARGET': '5'}
    """
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(
                f"{option} {item[:60]!r} is not NAME=VALUE: write e.g. {option} {example}"
            )
        pairs[name.strip()] = value
    return pairs
