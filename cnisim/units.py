"""Kubernetes resource quantities as users write them, converted once to cnisim's units.

``--pod-cpu 250m`` and ``--pod-memory 512Mi`` take the same strings as a pod spec's
``resources.requests``; the library works in millicores and MiB.

References
----------
Kubernetes API ``resource.Quantity`` (k8s.io/apimachinery/pkg/api/resource/quantity.go):
decimal suffixes k, M, G, T, P, E and binary Ki, Mi, Gi, Ti, Pi, Ei; ``m`` is 1/1000.
"""

from __future__ import annotations

import re

from cnisim.errors import UsageError

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


def _split(text: str, what: str, example: str) -> tuple[float, str]:
    match = _QUANTITY_RE.match(text)
    if match is None:
        raise QuantityError(f"{what} {text!r} is not a Kubernetes quantity: write e.g. {example}")
    return float(match.group(1)), match.group(2)


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
        return value
    if suffix == "":
        return value * 1000.0
    raise QuantityError(f"CPU {text!r} has unit {suffix!r}: use cores (0.5) or millicores (500m)")


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
            f"memory {text!r} has unit {suffix!r}: use Ki, Mi, Gi, Ti (binary) or k, M, G, T"
        )
    return value * factor / _MIB_BYTES
