"""The Deployment controller: rolling updates (maxSurge / maxUnavailable) and scaling.

A Deployment that moves (a ``rollouts`` schedule, replicas from a ``schedule``, a ``diurnal``
curve or an ``hpa``) gets a :class:`DeploymentController`, which does what Kubernetes'
Deployment and ReplicaSet controllers do for it:

- **Scaling** (no rollout in progress): pods are created up to ``replicas``, or deleted in the
  ReplicaSet controller's order (:func:`deletion_order`: pending pods first, then pods bound
  but not yet available, then the newest).
- **A rollout** starts a new revision (a new ReplicaSet). Each sync, as ``rolloutRolling``:
  the new revision is scaled up while all pods stay at most ``replicas + maxSurge``; then
  old pods are deleted, unavailable ones first, while at least ``replicas - maxUnavailable``
  stay available (:func:`resolve_fenceposts` rounds a percent surge up and a percent
  unavailable down). A rollout is complete when every pod is of the new revision and
  ``replicas`` of them are available. During a rollout the controller syncs every tick.

A pod is *available* when it is bound and its ADD got its address
(:meth:`cnisim.sim.scenario.ClusterRun.pods_available`), so a rollout in a subnet that has no
address for the surge pods stalls, as it does in EKS, and needs up to ``maxSurge`` more
addresses (25 % by default, rounded up) for its duration.

Simplifications (each also in the README):

- Available = bound and has its address: ``minReadySeconds`` 0, no image pull, no readiness
  probe delay.
- A change of replicas during a rollout goes through the rolling update's rules (the new
  revision absorbs it); Kubernetes' proportional scaling across ReplicaSets is left out, as are
  ``progressDeadlineSeconds`` (a stalled rollout is reported as not finished, not failed),
  ``paused`` and ``revisionHistoryLimit``.
- The ReplicaSet controller's deletion ranking keeps pending < not ready < newest; its
  colocation rank (pods doubled up on a node first), ready time and restart count are left out.
- Deleted pods leave at once (no termination grace period): their node's slot and requests are
  free at the deletion, their address at the kubelet's DEL (next tick).

References
----------
kubernetes/kubernetes ``pkg/controller/deployment/rolling.go`` (``rolloutRolling``,
``reconcileNewReplicaSet``, ``reconcileOldReplicaSets``, ``cleanupUnhealthyReplicas``,
``scaleDownOldReplicaSetsForRollingUpdate``), ``pkg/controller/deployment/util/
deployment_util.go`` (``ResolveFenceposts``, ``MaxUnavailable``, ``NewRSNewReplicas``),
``staging/src/k8s.io/apimachinery/pkg/util/intstr/intstr.go``
(``GetScaledValueFromIntOrPercent``), ``pkg/controller/controller_utils.go``
(``ActivePodsWithRanks``); ``docs/cluster-model.md`` sec. 5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from cnisim.plan import Deployment, RollingUpdate, Workload, parse_int_or_percent
from cnisim.sim.hpa import HorizontalPodAutoscaler
from cnisim.sim.replicas import ReplicaSchedule
from cnisim.sim.workloads import deployment_pods

if TYPE_CHECKING:
    from cnisim.sim.controllers import Controller
    from cnisim.sim.scenario import ClusterRun

__all__ = [
    "DeploymentController",
    "DeploymentSummary",
    "RolloutRecord",
    "deletion_order",
    "fenceposts",
    "resolve_fenceposts",
    "workload_controllers",
]


def _scaled(value: int | str, replicas: int, *, round_up: bool) -> int:
    number, percent = parse_int_or_percent(value)
    if not percent:
        return number
    # integer arithmetic: ceil / floor of number * replicas / 100
    scaled = number * replicas
    return -(-scaled // 100) if round_up else scaled // 100


def resolve_fenceposts(strategy: RollingUpdate, replicas: int) -> tuple[int, int]:
    """The pods a rollout may add above and take below ``replicas``: (surge, unavailable).

    A percent surge rounds up, a percent unavailable rounds down; if both come to 0 (a small
    Deployment's rounding), unavailable is 1 so the rollout can proceed. (The controller then
    takes at most ``replicas`` unavailable, as ``MaxUnavailable`` does: :func:`fenceposts`.)

    Parameters
    ----------
    strategy : RollingUpdate
        ``maxSurge`` and ``maxUnavailable``, numbers or percents.
    replicas : int
        The Deployment's replicas [pods].

    Returns
    -------
    tuple of int
        (max surge, max unavailable) [pods].

    References
    ----------
    kubernetes ``pkg/controller/deployment/util/deployment_util.go`` ``ResolveFenceposts``
    and ``MaxUnavailable``.

    Examples
    --------
    >>> resolve_fenceposts(RollingUpdate(), 10)  # 2.5 -> 3 up, 2.5 -> 2 down
    (3, 2)
    >>> resolve_fenceposts(RollingUpdate("0%", "25%"), 3)  # 0.75 -> 0: unavailable 1
    (0, 1)
    """
    surge = _scaled(strategy.max_surge, replicas, round_up=True)
    unavailable = _scaled(strategy.max_unavailable, replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def fenceposts(strategy: RollingUpdate, replicas: int) -> tuple[int, int]:
    """What the controller uses: :func:`resolve_fenceposts` with unavailable at most
    ``replicas`` (``MaxUnavailable``).

    Examples
    --------
    >>> fenceposts(RollingUpdate(1, 2), 1), resolve_fenceposts(RollingUpdate(1, 2), 1)
    ((1, 1), (1, 2))
    """
    surge, unavailable = resolve_fenceposts(strategy, replicas)
    return surge, min(unavailable, replicas)


def deletion_order(
    bound: NDArray[np.bool_],
    available: NDArray[np.bool_],
    created_s: NDArray[np.float64],
    pod_ids: NDArray[np.int64],
) -> NDArray[np.int64]:
    """Positions of pods in the order the ReplicaSet controller deletes them.

    Pending (unbound) pods first, then bound pods not yet available, then available ones;
    within each, the newest first (later creation, then the higher id).

    References
    ----------
    kubernetes ``pkg/controller/controller_utils.go`` ``ActivePodsWithRanks.Less``
    (unassigned < assigned, pending < running, not ready < ready, newer < older).

    Examples
    --------
    >>> order = deletion_order(
    ...     np.array([True, False, True, True]), np.array([True, False, False, True]),
    ...     np.array([0.0, 5.0, 5.0, 9.0]), np.arange(4))
    >>> order.tolist()  # the pending pod, the one without an address, then newest first
    [1, 2, 3, 0]
    """
    rank = np.where(~bound, 0, np.where(~available, 1, 2))
    return np.lexsort((-pod_ids, -created_s, rank))


@dataclass(frozen=True)
class RolloutRecord:
    """One rollout of a Deployment.

    Attributes
    ----------
    revision : int
        The new revision (1 for the first rollout).
    start_s : float
        When it started [s].
    end_s : float
        When it completed: every pod of the new revision, ``replicas`` of them available [s];
        NaN if it did not (still in progress at the end, or superseded).
    outcome : {"complete", "in progress", "superseded"}
        How it ended (``superseded``: a newer rollout started first).
    n_replicas : int
        The Deployment's replicas when it started [pods].
    n_max_surge, n_max_unavailable : int
        Its fenceposts (:func:`fenceposts`) [pods].
    n_peak_pods : int
        Most pods of the Deployment at once, old and new, pending ones included [pods].
    n_peak_pods_with_address : int
        Most of its pods holding an address at once (running: bound and its ADD answered)
        [pods].
    n_min_available : int
        Fewest of its pods available at once (at least ``n_replicas - n_max_unavailable``
        when it started with all available and no node left) [pods].
    n_peak_extra_addresses : int
        ``n_peak_pods_with_address - n_replicas``, at least 0: the addresses the rollout
        needed beyond the Deployment's own [addresses].
    """

    revision: int
    start_s: float
    end_s: float
    outcome: str
    n_replicas: int
    n_max_surge: int
    n_max_unavailable: int
    n_peak_pods: int
    n_peak_pods_with_address: int
    n_min_available: int

    @property
    def n_peak_extra_addresses(self) -> int:
        """Addresses beyond ``n_replicas`` at the rollout's peak."""
        return max(self.n_peak_pods_with_address - self.n_replicas, 0)


@dataclass(frozen=True)
class DeploymentSummary:
    """What a Deployment controller did: its rollouts, and its replicas at the end."""

    workload: str
    rollouts: tuple[RolloutRecord, ...]
    n_replicas_at_end: int


@dataclass
class _Rollout:
    revision: int
    start_s: float
    n_replicas: int
    n_max_surge: int
    n_max_unavailable: int
    end_s: float = math.nan
    outcome: str = "in progress"
    n_peak_pods: int = 0
    n_peak_pods_with_address: int = 0
    n_min_available: int = -1  # not observed yet


class DeploymentController:
    """Kubernetes' Deployment and ReplicaSet controllers for one Deployment (module docstring).

    Parameters
    ----------
    workloads : sequence of Workload
        The run's workloads (pod rows index them).
    index : int
        The Deployment's index in ``workloads``.
    """

    def __init__(self, workloads: Sequence[Workload], index: int) -> None:
        spec = workloads[index]
        assert isinstance(spec, Deployment), "a DeploymentController needs a Deployment"
        self.spec = spec
        self.workloads = workloads
        self.index = index
        self.name = f"deployment/{spec.name}"
        self.replicas = spec.replicas
        self.revision = 0
        self.next_ordinal = spec.replicas  # the first pods are 0 .. replicas - 1
        self.rollouts_s = sorted(spec.rollouts_s)
        self.i_rollout = 0
        self.sync_due_s = math.inf
        self.rollouts: list[_Rollout] = []
        self._ids = np.zeros(0, dtype=np.int64)  # its pods, deleted ones pruned at each call
        self._n_searched = 0  # pods of the run searched for its own so far

    # ------------------------------------------------------------------ for replica sources
    def scale(self, replicas: int, now_s: float, source: str) -> bool:
        """Set the replicas (a schedule, a diurnal curve, the HPA); True if they changed."""
        del source  # the sources record their own changes
        if replicas == self.replicas:
            return False
        self.replicas = replicas
        self.sync_due_s = min(self.sync_due_s, max(now_s, self.spec.start_s))
        return True

    def live_pods(self, run: ClusterRun) -> NDArray[np.int64]:
        """The Deployment's pods not deleted (pending ones included), by id.

        Only the pods added to the run since the last call are searched (a node's loss
        recreates pods under new ids), so a call costs its own pods, not the run's.
        """
        pods = run.pods
        if pods.n > self._n_searched:
            new = pods["workload"][self._n_searched :] == self.index
            self._ids = np.concatenate([self._ids, self._n_searched + np.flatnonzero(new)])
            self._n_searched = pods.n
        self._ids = self._ids[np.isnan(pods["deleted_s"][self._ids])]
        return self._ids

    # ------------------------------------------------------------------ the controller
    def next_due_s(self, now_s: float) -> float:
        """The next rollout, or the next sync (every tick during a rollout) [s]."""
        rollout_s = (
            self.rollouts_s[self.i_rollout] if self.i_rollout < len(self.rollouts_s) else math.inf
        )
        return min(rollout_s, self.sync_due_s)

    def step(self, run: ClusterRun, now_s: float) -> bool:
        """Start a rollout that is due, then sync; True if pods were deleted (capacity freed)."""
        while self.i_rollout < len(self.rollouts_s) and self.rollouts_s[self.i_rollout] <= now_s:
            self.i_rollout += 1
            self._start_rollout(now_s)
        self.sync_due_s = math.inf
        return self._sync(run, now_s)

    def _start_rollout(self, now_s: float) -> None:
        if self.rollouts and self.rollouts[-1].outcome == "in progress":
            self.rollouts[-1].outcome = "superseded"
        self.revision += 1
        surge, unavailable = fenceposts(self.spec.rolling_update, self.replicas)
        self.rollouts.append(_Rollout(self.revision, now_s, self.replicas, surge, unavailable))

    def _sync(self, run: ClusterRun, now_s: float) -> bool:
        pods = run.pods
        live = self.live_pods(run)
        available = run.pods_available(live, now_s)
        current = self.rollouts[-1] if self.rollouts else None
        if current is not None and current.outcome == "in progress":
            with_address = available & pods["needs_address"][live] & (not run.ipv6)
            current.n_peak_pods = max(current.n_peak_pods, int(live.size))
            current.n_peak_pods_with_address = max(
                current.n_peak_pods_with_address, int(np.count_nonzero(with_address))
            )
            n_available = int(np.count_nonzero(available))
            if current.n_min_available < 0 or n_available < current.n_min_available:
                current.n_min_available = n_available
        is_new = pods["revision"][live] == self.revision
        n_new = int(np.count_nonzero(is_new))
        deleted = False
        if n_new == live.size:  # no old pods: plain scaling
            if n_new < self.replicas:
                self._create(run, self.replicas - n_new, now_s)
            elif n_new > self.replicas:
                deleted = self._delete(run, live, available, n_new - self.replicas, now_s)
            elif (
                current is not None
                and current.outcome == "in progress"
                and np.count_nonzero(available) == self.replicas
            ):
                current.end_s, current.outcome = now_s, "complete"
        else:
            deleted = self._roll(run, live, available, is_new, now_s)
        if current is not None and current.outcome == "in progress":
            self.sync_due_s = now_s + run.tick_s  # watch the pods every tick
        return deleted

    def _roll(
        self,
        run: ClusterRun,
        live: NDArray[np.int64],
        available: NDArray[np.bool_],
        is_new: NDArray[np.bool_],
        now_s: float,
    ) -> bool:
        """One ``rolloutRolling`` sync: scale the new revision up, else the old ones down."""
        surge, unavailable = fenceposts(self.spec.rolling_update, self.replicas)
        n_new = int(np.count_nonzero(is_new))
        # reconcileNewReplicaSet
        if n_new > self.replicas:
            new = live[is_new]
            return self._delete(run, new, available[is_new], n_new - self.replicas, now_s)
        n_up = min(self.replicas + surge - live.size, self.replicas - n_new)
        if n_new < self.replicas and n_up > 0:
            self._create(run, n_up, now_s)
            return False
        # reconcileOldReplicaSets
        min_available = self.replicas - unavailable
        n_new_unavailable = n_new - int(np.count_nonzero(available[is_new]))
        max_scaled_down = live.size - min_available - n_new_unavailable
        if max_scaled_down <= 0:
            return False
        pods = run.pods
        old = ~is_new
        revision = pods["revision"][live]
        # cleanupUnhealthyReplicas: old pods that are not available, oldest revision first
        unhealthy = np.flatnonzero(old & ~available)
        unhealthy = unhealthy[self._order(run, live[unhealthy], available[unhealthy])]
        unhealthy = unhealthy[np.argsort(revision[unhealthy], kind="stable")][:max_scaled_down]
        # scaleDownOldReplicaSetsForRollingUpdate: available pods above the minimum
        n_available = int(np.count_nonzero(available))
        rest = np.setdiff1d(np.flatnonzero(old), unhealthy)
        rest = rest[self._order(run, live[rest], available[rest])]
        rest = rest[np.argsort(revision[rest], kind="stable")]
        victims = np.concatenate([unhealthy, rest[: max(n_available - min_available, 0)]])
        if not victims.size:
            return False
        run.delete_pods(live[victims], now_s)
        return True

    @staticmethod
    def _order(
        run: ClusterRun, ids: NDArray[np.int64], available: NDArray[np.bool_]
    ) -> NDArray[np.int64]:
        pods = run.pods
        return deletion_order(pods["node"][ids] >= 0, available, pods["created_s"][ids], ids)

    def _create(self, run: ClusterRun, n: int, now_s: float) -> None:
        ordinals = np.arange(self.next_ordinal, self.next_ordinal + n)
        self.next_ordinal += n
        run.add_pods(
            deployment_pods(self.workloads, self.index, ordinals, now_s, self.revision), now_s
        )

    def _delete(
        self,
        run: ClusterRun,
        ids: NDArray[np.int64],
        available: NDArray[np.bool_],
        n: int,
        now_s: float,
    ) -> bool:
        victims = ids[self._order(run, ids, available)][:n]
        run.delete_pods(victims, now_s)
        return bool(victims.size)

    def summary(self) -> DeploymentSummary:
        """Its rollouts (start, end, peaks) and the replicas it ended with."""
        return DeploymentSummary(
            workload=self.spec.name,
            rollouts=tuple(
                RolloutRecord(
                    revision=r.revision,
                    start_s=r.start_s,
                    end_s=r.end_s,
                    outcome=r.outcome,
                    n_replicas=r.n_replicas,
                    n_max_surge=r.n_max_surge,
                    n_max_unavailable=r.n_max_unavailable,
                    n_peak_pods=r.n_peak_pods,
                    n_peak_pods_with_address=r.n_peak_pods_with_address,
                    n_min_available=max(r.n_min_available, 0),
                )
                for r in self.rollouts
            ),
            n_replicas_at_end=self.replicas,
        )


def workload_controllers(workloads: Sequence[Workload]) -> list[Controller]:
    """The controllers of the Deployments that move: each one's replica source (schedule,
    diurnal curve or HPA) before its Deployment controller, so a change applies in its tick."""
    controllers: list[Controller] = []
    for index, workload in enumerate(workloads):
        if not isinstance(workload, Deployment) or not workload.moves:
            continue
        deployment = DeploymentController(workloads, index)
        if workload.hpa is not None:
            controllers.append(HorizontalPodAutoscaler(deployment))
        elif workload.schedule is not None or workload.diurnal is not None:
            controllers.append(ReplicaSchedule(deployment))
        controllers.append(deployment)
    return controllers
