"""A HorizontalPodAutoscaler on CPU utilization, driven by a load curve from the plan.

The plan's ``hpa.load`` is the Deployment's total CPU demand over time [millicores] (a step
schedule or a diurnal curve, :func:`cnisim.sim.replicas.curve_value`), shared evenly by its
available pods: with ``n`` available pods of request ``r`` the HPA reads a utilization of
``floor(100 * load / (n r))`` percent (an integer, as the metrics client computes it). Every
sync (15 s), as the HPA controller does:

1. **Recommendation**: ``ratio = utilization / target``; within the tolerance
   (``|ratio - 1| <= 0.1``) the replicas stay. Otherwise ``ceil(ratio * n)``; when scaling up
   with pods not yet available (pending, or bound without an address) they count with no use,
   and if that flips the direction or lands within the tolerance the replicas stay. No
   available pod: no metrics, no change.
2. **Stabilization**: scaling down takes the highest recommendation of the last 5 min
   (``scaleDown.stabilizationWindowSeconds`` 300); scaling up takes the current one (window 0).
3. **Rate limits** (the default ``behavior``): up to ``max(2 x current, current + 4)`` per
   15 s; down to any number (100 % per 15 s); then ``minReplicas .. maxReplicas``.

So desired = ceil(current x utilization / target), as ``docs/cluster-model.md`` sec. 5 puts
it, where ``current`` is the available pods.

Simplifications (each also in the README): the pods' CPU use is the load curve at the sync,
shared evenly (no metrics-server scrape delay, no per-pod spread, no
``cpu-initialization-period``: a pod has metrics as soon as it is available); an HPA on a
Deployment with 0 replicas does nothing, as Kubernetes' does.

References
----------
kubernetes/kubernetes ``pkg/controller/podautoscaler/horizontal.go``
(``normalizeDesiredReplicasWithBehaviors``, ``stabilizeRecommendationWithBehaviors``,
``calculateScaleUpLimitWithScalingRules``), ``replica_calculator.go``
(``GetResourceReplicas``, ``groupPods``), ``metrics/utilization.go``
(``GetResourceUtilizationRatio``: integer percent); ``pkg/apis/autoscaling/v2/defaults.go``
(default behavior: up 100 % or 4 pods per 15 s, down 100 % per 15 s, 300 s window);
kube-controller-manager ``--horizontal-pod-autoscaler-sync-period`` 15 s and
``--horizontal-pod-autoscaler-tolerance`` 0.1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
from numpy.typing import NDArray

from cnisim.plan import Hpa
from cnisim.sim.replicas import curve_value

if TYPE_CHECKING:
    from cnisim.sim.rollouts import DeploymentController
    from cnisim.sim.scenario import ClusterRun

__all__ = [
    "HPA_SCALE_DOWN_WINDOW_S",
    "HPA_SYNC_PERIOD_S",
    "HPA_TOLERANCE",
    "HorizontalPodAutoscaler",
    "HpaSummary",
    "recommend_replicas",
]

HPA_SYNC_PERIOD_S: Final = 15.0
"""kube-controller-manager ``--horizontal-pod-autoscaler-sync-period`` [s]."""
HPA_TOLERANCE: Final = 0.1
"""``--horizontal-pod-autoscaler-tolerance``."""
HPA_SCALE_DOWN_WINDOW_S: Final = 300.0
"""Default ``behavior.scaleDown.stabilizationWindowSeconds`` [s]."""
_SCALE_UP_PODS: Final = 4  # default behavior.scaleUp: 4 pods or 100 % per 15 s, the larger


def recommend_replicas(
    current: int,
    load_millicores: float,
    n_ready: int,
    n_unready: int,
    cpu_request_millicores: int,
    target_percent: int,
) -> int:
    """The replicas the CPU metric asks for, before stabilization and limits [pods].

    Parameters
    ----------
    current : int
        The Deployment's replicas now [pods].
    load_millicores : float
        Total CPU use of the Deployment [millicores], rounded to a millicore.
    n_ready, n_unready : int
        Its pods available (with metrics) and not yet available [pods].
    cpu_request_millicores : int
        CPU request per pod [millicores] (> 0).
    target_percent : int
        Target utilization [%].

    References
    ----------
    ``replica_calculator.go`` ``GetResourceReplicas`` and ``calcPlainMetricReplicas``.

    Examples
    --------
    >>> recommend_replicas(10, 2000, 10, 0, 100, 50)  # 200 % of requests, target 50: x4
    40
    >>> recommend_replicas(10, 540, 10, 0, 100, 50)  # 54 %: ratio 1.08, within 0.1
    10
    """
    if n_ready == 0:
        return current  # no metrics
    load = round(load_millicores)
    utilization = (100 * load) // (n_ready * cpu_request_millicores)
    ratio = utilization / target_percent
    if abs(1.0 - ratio) <= HPA_TOLERANCE:
        return current
    if ratio > 1.0 and n_unready:
        # pods without metrics count with no use on a scale-up
        n_pods = n_ready + n_unready
        new_ratio = ((100 * load) // (n_pods * cpu_request_millicores)) / target_percent
        if abs(1.0 - new_ratio) <= HPA_TOLERANCE or new_ratio < 1.0:
            return current
        return math.ceil(new_ratio * n_pods)
    return math.ceil(ratio * n_ready)


@dataclass(frozen=True)
class HpaSummary:
    """What an HPA did, one row per sync.

    Attributes
    ----------
    workload : str
        Its Deployment.
    sync_s : ndarray of float64
        Sync times [s].
    load_millicores : ndarray of float64
        The load curve at each [millicores].
    n_ready : ndarray of int64
        Available pods at each [pods].
    n_recommended : ndarray of int64
        The metric's recommendation [pods].
    n_desired : ndarray of int64
        The replicas set, after stabilization and limits [pods].
    change_s : ndarray of float64
        When it changed the Deployment's replicas [s].
    replicas : ndarray of int64
        The replicas from each change on [pods].
    """

    workload: str
    sync_s: NDArray[np.float64]
    load_millicores: NDArray[np.float64]
    n_ready: NDArray[np.int64]
    n_recommended: NDArray[np.int64]
    n_desired: NDArray[np.int64]
    change_s: NDArray[np.float64]
    replicas: NDArray[np.int64]


class HorizontalPodAutoscaler:
    """The HPA of one Deployment (module docstring)."""

    def __init__(self, deployment: DeploymentController) -> None:
        hpa = deployment.spec.hpa
        assert isinstance(hpa, Hpa), "an HPA needs the Deployment's hpa"
        self.hpa = hpa
        self.deployment = deployment
        self.name = f"hpa/{deployment.spec.name}"
        self.cpu_request_millicores = math.ceil(deployment.spec.requests.cpu_millicores)
        self.next_sync_s = deployment.spec.start_s
        self.recommendations: list[tuple[float, int]] = []  # (sync [s], recommendation)
        self.rows: list[tuple[float, float, int, int, int]] = []
        self.changes: list[tuple[float, int]] = []

    def next_due_s(self, now_s: float) -> float:
        """The next sync [s]."""
        return self.next_sync_s

    def step(self, run: ClusterRun, now_s: float) -> bool:
        """One sync: read the metric, stabilize, limit, set the Deployment's replicas."""
        self.next_sync_s = now_s + HPA_SYNC_PERIOD_S
        hpa, deployment = self.hpa, self.deployment
        current = deployment.replicas
        live = deployment.live_pods(run)
        n_ready = int(np.count_nonzero(run.pods_available(live, now_s)))
        (load,) = curve_value(hpa.load, [now_s]).tolist()
        if current == 0:  # scaling is disabled at 0 replicas
            self.rows.append((now_s, load, n_ready, 0, 0))
            return False
        recommended = recommend_replicas(
            current,
            load,
            n_ready,
            int(live.size) - n_ready,
            self.cpu_request_millicores,
            hpa.target_cpu_utilization_percent,
        )
        # scale-down stabilization: the highest recommendation in the window (strictly after
        # its start, as the controller's cutoff is)
        cutoff_s = now_s - HPA_SCALE_DOWN_WINDOW_S
        self.recommendations = [(t, r) for t, r in self.recommendations if t > cutoff_s]
        self.recommendations.append((now_s, recommended))
        highest = max(r for _, r in self.recommendations)
        desired = recommended if recommended >= current else min(current, highest)
        # rate limits, then the bounds
        desired = min(desired, max(2 * current, current + _SCALE_UP_PODS))
        desired = min(max(desired, hpa.min_replicas), hpa.max_replicas)
        if deployment.scale(desired, now_s, "hpa"):
            self.changes.append((now_s, desired))
        self.rows.append((now_s, load, n_ready, recommended, desired))
        return False

    def summary(self) -> HpaSummary:
        """Every sync (the load, the ready pods, the recommendation, the replicas set) and
        every change."""
        columns = list(zip(*self.rows, strict=True)) if self.rows else [()] * 5
        return HpaSummary(
            workload=self.deployment.spec.name,
            sync_s=np.asarray(columns[0], dtype=np.float64),
            load_millicores=np.asarray(columns[1], dtype=np.float64),
            n_ready=np.asarray(columns[2], dtype=np.int64),
            n_recommended=np.asarray(columns[3], dtype=np.int64),
            n_desired=np.asarray(columns[4], dtype=np.int64),
            change_s=np.asarray([t for t, _ in self.changes], dtype=np.float64),
            replicas=np.asarray([n for _, n in self.changes], dtype=np.int64),
        )
