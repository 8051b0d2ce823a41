"""Replicas over time: a step schedule or a diurnal curve, and the controller that applies it.

A curve (:class:`cnisim.plan.Steps` or :class:`cnisim.plan.Diurnal`) gives a value at any
time: :func:`curve_value`. A Deployment's ``schedule`` or ``diurnal`` becomes a
:class:`ReplicaSchedule`, a controller that sets the Deployment's replicas from the curve at
each step of the schedule, or every ``every`` of the diurnal curve; the Deployment's own
controller (:class:`cnisim.sim.rollouts.DeploymentController`) then creates or deletes pods.
The HPA (:mod:`cnisim.sim.hpa`) reads its load curve with the same :func:`curve_value`.

The diurnal curve is a cosine between its least and greatest value, highest at ``peakAt``::

    value(t) = low + (high - low) * (1 + cos(2 pi (t - peakAt) / period)) / 2

so it is ``high`` at ``peakAt`` (and every period after), ``low`` half a period away and
halfway between a quarter period either side. Replicas are the value rounded to the nearest
pod (halves up), evaluated at ``start``, ``start + every``, ... (a step function: the
Deployment changes only at those times).

Simplifications: the curve is a what-if of the user's, not a model of real traffic; replica
changes are applied at once (no delay between the curve and the Deployment's spec).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cnisim.plan import Curve, Deployment, Diurnal, Steps

if TYPE_CHECKING:
    from cnisim.sim.rollouts import DeploymentController
    from cnisim.sim.scenario import ClusterRun

__all__ = ["ReplicaSchedule", "ReplicaScheduleSummary", "curve_value", "replicas_at"]

_HALF: Final = 0.5


def curve_value(curve: Curve, t_s: ArrayLike, *, before: float = 0.0) -> NDArray[np.float64]:
    """The value of a curve at times ``t_s``.

    Parameters
    ----------
    curve : Steps or Diurnal
        A step schedule (each value from its time on) or a diurnal cosine (module docstring).
    t_s : array_like of float
        Times [s].
    before : float
        The value of a step schedule before its first entry.

    Returns
    -------
    ndarray of float64
        One value per time (same shape as ``t_s``).

    Examples
    --------
    >>> curve_value(Steps((0.0, 7200.0), (10.0, 40.0)), [0.0, 7199.0, 7200.0]).tolist()
    [10.0, 10.0, 40.0]
    >>> day = Diurnal(low=10.0, high=100.0, peak_at_s=14 * 3600.0)
    >>> curve_value(day, [14 * 3600.0, 2 * 3600.0, 8 * 3600.0]).round(6).tolist()
    [100.0, 10.0, 55.0]
    """
    times_s = np.asarray(t_s, dtype=np.float64)
    if isinstance(curve, Steps):
        at_s = np.asarray(curve.at_s, dtype=np.float64)
        values = np.concatenate([[before], np.asarray(curve.values, dtype=np.float64)])
        return values[np.searchsorted(at_s, times_s, side="right")]
    phase = 2.0 * math.pi * (times_s - curve.peak_at_s) / curve.period_s
    return curve.low + (curve.high - curve.low) * (1.0 + np.cos(phase)) / 2.0


def replicas_at(deployment: Deployment, t_s: ArrayLike) -> NDArray[np.int64]:
    """The replicas a Deployment's schedule or diurnal curve asks for at ``t_s`` [pods].

    A diurnal curve is read at the last evaluation at or before ``t_s`` (``start``,
    ``start + every``, ...) and rounded to the nearest pod, halves up; a step schedule is its
    last entry at or before ``t_s`` (``replicas`` before its first). Before the Deployment's
    start: its ``replicas``.

    Examples
    --------
    >>> web = Deployment("web", 10, diurnal=Diurnal(10.0, 100.0, 14 * 3600.0, every_s=3600.0))
    >>> replicas_at(web, [0.0, 8 * 3600.0, 8 * 3600.0 + 3599.0, 14 * 3600.0]).tolist()
    [16, 55, 55, 100]
    """
    times_s = np.asarray(t_s, dtype=np.float64)
    curve = deployment.schedule if deployment.schedule is not None else deployment.diurnal
    if curve is None:
        return np.full(times_s.shape, deployment.replicas, dtype=np.int64)
    if isinstance(curve, Diurnal):
        k = np.floor((times_s - deployment.start_s) / curve.every_s)
        times_s = deployment.start_s + np.maximum(k, 0.0) * curve.every_s
    value = curve_value(curve, times_s, before=deployment.replicas)
    replicas = np.floor(value + _HALF).astype(np.int64)
    return np.where(times_s < deployment.start_s, deployment.replicas, replicas)


@dataclass(frozen=True)
class ReplicaScheduleSummary:
    """What a replica schedule did.

    Attributes
    ----------
    workload : str
        The Deployment.
    source : {"schedule", "diurnal"}
        Which curve.
    change_s : ndarray of float64
        When it changed the replicas [s].
    replicas : ndarray of int64
        The replicas from then on [pods].
    """

    workload: str
    source: str
    change_s: NDArray[np.float64]
    replicas: NDArray[np.int64]


class ReplicaSchedule:
    """Sets a Deployment's replicas from its ``schedule`` or ``diurnal`` curve."""

    def __init__(self, deployment: DeploymentController) -> None:
        spec = deployment.spec
        curve = spec.schedule if spec.schedule is not None else spec.diurnal
        assert curve is not None, "a ReplicaSchedule needs a schedule or a diurnal curve"
        self.curve = curve
        self.deployment = deployment
        self.source = "schedule" if isinstance(curve, Steps) else "diurnal"
        self.name = f"{self.source}/{spec.name}"
        self.start_s = spec.start_s
        # a step schedule's entries before the start take effect at the start
        self.due_s: list[float] = (
            sorted({max(t_s, spec.start_s) for t_s in curve.at_s})
            if isinstance(curve, Steps)
            else []
        )
        self.i_due = 0
        self.change_s: list[float] = []
        self.replicas: list[int] = []

    def next_due_s(self, now_s: float) -> float:
        """The next step of the schedule, or the next evaluation of the diurnal curve [s]."""
        if isinstance(self.curve, Steps):
            return self.due_s[self.i_due] if self.i_due < len(self.due_s) else math.inf
        return self.start_s + self.i_due * self.curve.every_s

    def step(self, run: ClusterRun, now_s: float) -> bool:
        """Set the replicas the curve gives now; never frees capacity itself."""
        (replicas,) = replicas_at(self.deployment.spec, [now_s]).tolist()
        while self.next_due_s(now_s) <= now_s:
            self.i_due += 1
        if self.deployment.scale(int(replicas), now_s, self.source):
            self.change_s.append(now_s)
            self.replicas.append(int(replicas))
        return False

    def summary(self) -> ReplicaScheduleSummary:
        """The replica changes it made."""
        return ReplicaScheduleSummary(
            workload=self.deployment.spec.name,
            source=self.source,
            change_s=np.asarray(self.change_s, dtype=np.float64),
            replicas=np.asarray(self.replicas, dtype=np.int64),
        )
