"""Pod schedules for the simulator: explicit ADD/DEL events and a steady-churn generator.

A schedule is parallel arrays sorted by time (ties keep their input order, which is the
``sequence`` the simulation contract orders events by): ``time_s``, ``node``, ``delta`` (+1 for
a pod ADD, -1 for its DEL), ``pod`` (the pod id) and ``branch`` (the pod matches a
SecurityGroupPolicy, so it gets a branch ENI instead of a warm-pool IP). The scheduler and
realistic workloads come later; this module only feeds pods to given nodes at given times.

References
----------
Simulation contract, steps 3 and 4 (pod DELs then pod ADDs, each in (time, sequence) order),
as stated in ``cnisim/sim/ipamd.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cnisim.errors import UsageError

__all__ = ["PodEvents", "WorkloadError", "steady_churn"]


class WorkloadError(UsageError):
    """A pod schedule is inconsistent (a pod deleted before it is added, added twice, ...)."""


@dataclass(frozen=True, eq=False)
class PodEvents:
    """Pod ADD and DEL requests, sorted by (time, sequence).

    Parameters
    ----------
    time_s : ndarray of float64
        When the kubelet asks for the ADD or DEL [s].
    node : ndarray of int64
        Engine node id the pod runs on.
    delta : ndarray of int8
        +1 for an ADD, -1 for a DEL.
    pod : ndarray of int64
        Pod id; each pod has one ADD and at most one later DEL on the same node.
    branch : ndarray of bool
        Whether the pod is a security-groups-for-pods (SGP) pod: it matches a
        SecurityGroupPolicy and gets a branch ENI from the VPC resource controller, not an IP
        of ipamd's warm pool. The same on a pod's ADD and DEL; default all False.

    Build instances with :meth:`from_arrays`, which sorts and checks them.

    References
    ----------
    aws/amazon-vpc-resource-controller-k8s ``pkg/provider/branch/provider.go`` (a pod that
    matches a SecurityGroupPolicy gets branch ENIs).
    """

    time_s: NDArray[np.float64]
    node: NDArray[np.int64]
    delta: NDArray[np.int8]
    pod: NDArray[np.int64]
    branch: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        if self.branch.size == 0 and self.time_s.size:
            object.__setattr__(self, "branch", np.zeros(self.time_s.size, dtype=bool))
        if self.branch.size != self.time_s.size:
            raise WorkloadError("pod schedule `branch` needs one flag per event")

    @classmethod
    def from_arrays(
        cls,
        time_s: ArrayLike,
        node: ArrayLike,
        delta: ArrayLike,
        pod: ArrayLike,
        branch: ArrayLike | None = None,
    ) -> PodEvents:
        """Sort events by time (stable) and check that every pod is added once, then deleted.

        Parameters
        ----------
        time_s : array_like of float
            Event times [s].
        node : array_like of int
            Node id of each event.
        delta : array_like of int
            +1 (ADD) or -1 (DEL) per event.
        pod : array_like of int
            Pod id per event.
        branch : array_like of bool, optional
            Per event, whether the pod is an SGP (branch-ENI) pod; default all False.

        Returns
        -------
        PodEvents
            The sorted, checked schedule.

        Raises
        ------
        WorkloadError
            If the arrays differ in length, a delta is not +1/-1, a pod is added twice or not at
            all, deleted twice, deleted before its ADD, deleted on another node, or flagged
            ``branch`` on its ADD but not on its DEL (or the reverse).
        """
        t = np.asarray(time_s, dtype=np.float64).ravel()
        n = np.asarray(node, dtype=np.int64).ravel()
        d = np.asarray(delta, dtype=np.int8).ravel()
        p = np.asarray(pod, dtype=np.int64).ravel()
        b = np.zeros(t.size, dtype=bool) if branch is None else np.asarray(branch, bool).ravel()
        if not (t.size == n.size == d.size == p.size == b.size):
            raise WorkloadError(
                "pod schedule arrays differ in length: give time_s, node, delta, pod (and "
                "branch) per event"
            )
        if np.any((d != 1) & (d != -1)):
            raise WorkloadError("pod schedule delta must be +1 (ADD) or -1 (DEL) for every event")
        if np.any(~np.isfinite(t)) or np.any(t < 0) or np.any(n < 0) or np.any(p < 0):
            raise WorkloadError("pod schedule times, nodes and pod ids must be finite and >= 0")
        order = np.argsort(t, kind="stable")
        t, n, d, p, b = t[order], n[order], d[order], p[order], b[order]
        _check_pairs(n, d, p, b)
        return cls(time_s=t, node=n, delta=d, pod=p, branch=b)

    def __len__(self) -> int:
        """Return the number of events."""
        return int(self.time_s.size)

    @property
    def n_adds(self) -> int:
        """Number of pod ADD requests (pod starts)."""
        return int(np.count_nonzero(self.delta == 1))


def _check_pairs(
    n: NDArray[np.int64], d: NDArray[np.int8], p: NDArray[np.int64], b: NDArray[np.bool_]
) -> None:
    """Raise WorkloadError unless each pod has one ADD and at most one later DEL on its node."""
    adds = d == 1
    add_pods, add_idx = np.unique(p[adds], return_index=True)
    if add_pods.size != np.count_nonzero(adds):
        raise WorkloadError("a pod id is added twice: give every pod ADD its own pod id")
    del_pods, del_idx = np.unique(p[~adds], return_index=True)
    if del_pods.size != np.count_nonzero(~adds):
        raise WorkloadError("a pod id is deleted twice: give each pod at most one DEL")
    where = np.searchsorted(add_pods, del_pods)
    where_ok = where < add_pods.size
    found = np.zeros(del_pods.size, dtype=bool)
    found[where_ok] = add_pods[where[where_ok]] == del_pods[where_ok]
    if not np.all(found):
        raise WorkloadError("a pod is deleted but never added: add an ADD event for it")
    add_rows = np.flatnonzero(adds)[add_idx[where]]
    del_rows = np.flatnonzero(~adds)[del_idx]
    if np.any(del_rows < add_rows):
        raise WorkloadError("a pod DEL comes before its ADD: delete pods after adding them")
    if np.any(n[del_rows] != n[add_rows]):
        raise WorkloadError("a pod is deleted on another node than it was added on")
    if np.any(b[del_rows] != b[add_rows]):
        raise WorkloadError("a pod's DEL and ADD disagree on `branch`: flag both or neither")


def steady_churn(
    n_nodes: int,
    mean_pods_per_node: float,
    mean_lifetime_s: float,
    duration_s: float | ArrayLike,
    rng: np.random.Generator,
    *,
    start_s: float | ArrayLike = 0.0,
    first_node: int = 0,
    branch_frac: float = 0.0,
) -> PodEvents:
    """Steady pod churn: per node an M/M/inf queue started in its steady state.

    Each node starts with Poisson(``mean_pods_per_node``) pods at ``start_s`` whose remaining
    lifetimes are exponential (memoryless), then pods arrive as a Poisson process of rate
    ``mean_pods_per_node / mean_lifetime_s`` and live an exponential lifetime. DELs after the
    end of the window are dropped, so those pods keep running. The expected number of pod
    starts is ``n_nodes * mean_pods_per_node * (1 + duration_s / mean_lifetime_s)``.

    Parameters
    ----------
    n_nodes : int
        Number of nodes, ids ``first_node .. first_node + n_nodes - 1``.
    mean_pods_per_node : float
        Mean running pods per node (Little's law: arrival rate x mean lifetime).
    mean_lifetime_s : float
        Mean pod lifetime [s].
    duration_s : float or array_like of float
        Length of each node's window [s] (one value, or one per node).
    rng : numpy.random.Generator
        Source of every draw. Draw order: initial pod counts (one Poisson per node), arrival
        counts (one Poisson per node), arrival times (uniform), lifetimes (exponential,
        initial pods first, then arrivals), then, only if ``branch_frac > 0``, one uniform per
        pod for its SGP flag (last, so a seed gives the same events whatever the fraction).
    start_s : float or array_like of float
        Start of each node's window [s] (one value, or one per node, e.g. its join time);
        a node's window is ``[start_s, start_s + duration_s)``.
    first_node : int
        Id of the first node.
    branch_frac : float
        Probability that a pod is an SGP pod (gets a branch ENI, not a pool IP) [-].

    Returns
    -------
    PodEvents
        The schedule; pod ids are 0..n_pods-1 in node order, initial pods first.

    Raises
    ------
    WorkloadError
        If a count, rate, start or duration is negative or not finite, the lifetime is not
        positive, the per-node arrays have the wrong length or ``branch_frac`` is outside
        [0, 1].

    References
    ----------
    Kleinrock, Queueing Systems vol. 1, M/M/inf: the number in system is Poisson with mean
    arrival rate x mean service time.
    """
    if n_nodes < 0:
        raise WorkloadError(f"steady_churn n_nodes is {n_nodes}; give 0 or more")
    try:
        node_start_s = np.broadcast_to(np.asarray(start_s, dtype=np.float64), (n_nodes,))
        node_duration_s = np.broadcast_to(np.asarray(duration_s, dtype=np.float64), (n_nodes,))
    except ValueError:
        raise WorkloadError(
            "steady_churn start_s and duration_s need one value, or one per node"
        ) from None
    finite = np.isfinite([mean_pods_per_node, mean_lifetime_s]).all() and (
        np.isfinite(node_start_s).all() and np.isfinite(node_duration_s).all()
    )
    if (
        not finite
        or mean_pods_per_node < 0
        or np.any(node_duration_s < 0)
        or np.any(node_start_s < 0)
        or mean_lifetime_s <= 0
    ):
        raise WorkloadError(
            "steady_churn needs finite values: mean_pods_per_node, start_s and duration_s >= 0, "
            "mean_lifetime_s > 0"
        )
    if not 0.0 <= branch_frac <= 1.0:
        raise WorkloadError(f"steady_churn branch_frac is {branch_frac}; give a value in [0, 1]")
    rate_per_s = mean_pods_per_node / mean_lifetime_s
    n_initial = rng.poisson(mean_pods_per_node, size=n_nodes)
    n_arrivals = rng.poisson(rate_per_s * node_duration_s, size=n_nodes)
    node_ids = np.arange(first_node, first_node + n_nodes, dtype=np.int64)
    initial_nodes = np.repeat(node_ids, n_initial)
    arrival_nodes = np.repeat(node_ids, n_arrivals)
    arrival_s = np.repeat(node_start_s, n_arrivals) + np.repeat(
        node_duration_s, n_arrivals
    ) * rng.uniform(0.0, 1.0, size=arrival_nodes.size)
    add_s = np.concatenate([np.repeat(node_start_s, n_initial), arrival_s])
    nodes = np.concatenate([initial_nodes, arrival_nodes])
    lifetime_s = rng.exponential(mean_lifetime_s, size=add_s.size)
    del_s = add_s + lifetime_s
    pods = np.arange(add_s.size, dtype=np.int64)
    ends = del_s < (node_start_s + node_duration_s)[nodes - first_node]
    is_branch = np.zeros(add_s.size, dtype=bool)
    if branch_frac > 0:
        is_branch = rng.random(add_s.size) < branch_frac
    return PodEvents.from_arrays(
        time_s=np.concatenate([add_s, del_s[ends]]),
        node=np.concatenate([nodes, nodes[ends]]),
        delta=np.concatenate(
            [np.ones(add_s.size, dtype=np.int8), -np.ones(int(ends.sum()), dtype=np.int8)]
        ),
        pod=np.concatenate([pods, pods[ends]]),
        branch=np.concatenate([is_branch, is_branch[ends]]),
    )
