"""kube-scheduler's default profile as a decision function: bind pending pods one at a time.

:func:`schedule` takes the pending pods (in queue order) and a :class:`NodeView` of the
cluster and returns a :class:`ScheduleResult`: the node each pod is bound to, or kube-
scheduler's own message for why none fits ("0/12 nodes are available: 3 Insufficient cpu,
9 Too many pods."). It mutates nothing: the caller applies the bindings
(:meth:`NodeView.bind`). Pods are decided one at a time, each seeing the bindings before it,
as the scheduler's cache assumes a pod on its node before the next cycle. :class:`PendingPods`
is the scheduling queue around it: backoff, and when unschedulable pods are tried again.

One scheduling cycle, as ``pkg/scheduler/schedule_one.go`` runs it:

1. **Filter** (``findNodesThatPassFilters``), from ``start_node_index`` on, round the node
   list, until ``numFeasibleNodesToFind`` nodes fit. A node fits if it is Ready (else the
   TaintToleration filter rejects it for the ``node.kubernetes.io/not-ready`` taint) and
   NodeResourcesFit finds room: one more pod under ``pods``, the CPU, memory and
   ``vpc.amazonaws.com/pod-eni`` requests within allocatable minus requested (a zero request
   is not checked). The start index then moves past the nodes examined.
2. **Score** the nodes found (skipped if only one): NodeResourcesFit (``LeastAllocated`` or
   ``MostAllocated`` over CPU and memory, weight 1 each, on requests where a pod without one
   counts 100m / 200Mi), NodeResourcesBalancedAllocation (weight 1), and, for Deployment
   pods, PodTopologySpread's system default constraints (hostname maxSkew 3, zone maxSkew
   5, ScheduleAnyway; plugin weight 2). All in kube-scheduler's integer arithmetic.
3. **Select** the highest total score; ties are broken uniformly at random with the seeded
   ``rng`` (kube-scheduler's ``selectHost`` reservoir-samples the tied nodes, which is the
   same distribution: here one ``integers(n_tied)`` draw per pod with more than one tie,
   over the tied nodes in node order).

:class:`ClusterState` is the scheduler's cache that a simulation keeps across calls: per-node
arrays changed in place as pods are bound and unbound and nodes join or turn Ready, so that a
call costs in proportion to the pods it decides and the nodes its filter walks, not to the
whole cluster. The cycle itself, pod by pod, is compiled (:mod:`cnisim.sim._schedulerkernels`);
:func:`schedule` runs it on a :class:`NodeView` snapshot.

Simplifications: the other default plugins score all nodes alike here (no taints other than
not-ready, no affinities, no images) and are left out; no preemption (all pods have one
priority, so preemption never finds victims and its message is omitted); the filter stops at
exactly ``numFeasibleNodesToFind`` fits (the real one runs 16 goroutines and may examine a
few nodes more before it cancels); Job pods get no default spread (a Job is not among the
owners ``helper.DefaultSelector`` reads: Services, ReplicationControllers, ReplicaSets,
StatefulSets), Deployment pods spread among their own workload's pods.

References
----------
kubernetes/kubernetes ``pkg/scheduler/schedule_one.go`` (``schedulePod``,
``findNodesThatPassFilters``, ``numFeasibleNodesToFind``, ``selectHost``);
``pkg/scheduler/framework/plugins/noderesources/fit.go``, ``least_allocated.go``,
``most_allocated.go``, ``balanced_allocation.go``, ``resource_allocation.go``;
``pkg/scheduler/framework/plugins/podtopologyspread/plugin.go`` (``systemDefaultConstraints``)
and ``scoring.go``; ``pkg/scheduler/framework/types.go`` (``FitError``);
``pkg/scheduler/util/pod_resources.go`` (``DefaultMilliCPURequest``,
``DefaultMemoryRequest``); ``pkg/scheduler/apis/config/v1/default_plugins.go`` (weights);
``pkg/scheduler/internal/queue/scheduling_queue.go`` (backoff, unschedulable pods).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cnisim.errors import UsageError
from cnisim.sim import _rng
from cnisim.sim import _schedulerkernels as _k
from cnisim.sim.nodes import NodeCapacity
from cnisim.sim.workloads import WORKLOAD_KINDS, PodTable

__all__ = [
    "DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE",
    "POD_INITIAL_BACKOFF_S",
    "POD_MAX_BACKOFF_S",
    "POD_MAX_IN_UNSCHEDULABLE_PODS_S",
    "ClusterState",
    "InvalidSchedulerInputError",
    "NodeView",
    "PendingPods",
    "ScheduleResult",
    "Scoring",
    "fit_error",
    "num_feasible_nodes_to_find",
    "schedule",
]

Scoring = Literal["LeastAllocated", "MostAllocated"]

MIN_FEASIBLE_NODES_TO_FIND: Final = 100
"""``minFeasibleNodesToFind`` (schedule_one.go): below this many nodes, all are examined."""

MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: Final = 5
"""``minFeasibleNodesPercentageToFind`` (schedule_one.go) [%]."""

DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE: Final = 0
"""``percentageOfNodesToScore`` default (apis/config ``DefaultPercentageOfNodesToScore``):
0 means adaptive, 50 % minus 1 % per 125 nodes, at least 5 %."""

POD_INITIAL_BACKOFF_S: Final = 1.0
"""``podInitialBackoffSeconds`` (apis/config/v1 defaults) [s]."""

POD_MAX_BACKOFF_S: Final = 10.0
"""``podMaxBackoffSeconds`` (apis/config/v1 defaults) [s]."""

POD_MAX_IN_UNSCHEDULABLE_PODS_S: Final = 300.0
"""``podMaxInUnschedulablePodsDuration`` (scheduling_queue.go, 5 min) [s]."""

_MIB_BYTES: Final = 2**20
_DEPLOYMENT: Final = WORKLOAD_KINDS.index("Deployment")

_NOT_READY: Final = "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
_TOO_MANY_PODS: Final = "Too many pods"
_NO_CPU: Final = "Insufficient cpu"
_NO_MEMORY: Final = "Insufficient memory"
_NO_POD_ENI: Final = "Insufficient vpc.amazonaws.com/pod-eni"
_NO_NODES: Final = "no nodes available to schedule pods"


class InvalidSchedulerInputError(UsageError):
    """The scheduler was given inconsistent nodes or pods, or an out-of-range setting."""


def num_feasible_nodes_to_find(n_nodes: int, percentage_of_nodes_to_score: int = 0) -> int:
    """How many fitting nodes the filter looks for before it stops (kube-scheduler's rule).

    Parameters
    ----------
    n_nodes : int
        Nodes in the scheduler's snapshot (>= 0).
    percentage_of_nodes_to_score : int
        ``percentageOfNodesToScore`` [%], 0 to 100; 0 (the default) is adaptive:
        50 - n_nodes / 125 (integer division), at least 5.

    Returns
    -------
    int
        All nodes below 100; else n_nodes x percentage / 100, at least 100.

    Raises
    ------
    InvalidSchedulerInputError
        If ``n_nodes`` is negative or the percentage is outside 0..100.

    References
    ----------
    kubernetes/kubernetes ``pkg/scheduler/schedule_one.go`` ``numFeasibleNodesToFind``.

    Examples
    --------
    >>> [num_feasible_nodes_to_find(n) for n in (50, 500, 1000, 5000)]
    [50, 230, 420, 500]
    """
    if n_nodes < 0:
        raise InvalidSchedulerInputError(f"{n_nodes} nodes: give 0 or more")
    if not 0 <= percentage_of_nodes_to_score <= 100:
        raise InvalidSchedulerInputError(
            f"percentageOfNodesToScore {percentage_of_nodes_to_score} is outside 0..100 "
            "(0 is adaptive)"
        )
    if n_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return n_nodes
    percentage = percentage_of_nodes_to_score
    if percentage == 0:
        percentage = max(50 - n_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(n_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


def _frozen(values: ArrayLike, dtype: type) -> NDArray[Any]:
    array: NDArray[Any] = np.array(values, dtype=dtype)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class NodeView:
    """The scheduler's snapshot of the nodes: capacity, what is requested, who runs where.

    All arrays have one row per node, in the scheduler's node order (the order the filter
    walks from ``start_node_index``). They are read-only: :meth:`bind` and :meth:`unbind`
    return new views.

    Attributes
    ----------
    ready : ndarray of bool
        The node is Ready (a node that is not is tainted ``node.kubernetes.io/not-ready``).
    zone : ndarray of int64
        Availability zone index (>= 0) of the node (``topology.kubernetes.io/zone``).
    allocatable_cpu_millicores, allocatable_memory_mib, allocatable_pods : ndarray
        Node allocatable [millicores], [MiB], [pods].
    allocatable_pod_enis : ndarray of int64
        ``vpc.amazonaws.com/pod-eni`` allocatable (branch ENIs for SGP pods) [pods].
    requested_cpu_millicores, requested_memory_mib, requested_pods, requested_pod_enis
        Sums of the requests of the pods bound to the node (DaemonSet pods included).
    nonzero_requested_cpu_millicores, nonzero_requested_memory_mib : ndarray
        The same with 100m / 200Mi for each pod that requests none (scoring only).
    workload_pods : ndarray of int64, shape (n_nodes, n_workloads)
        Pods of each workload bound to each node (the topology spread counts).
    """

    ready: NDArray[np.bool_]
    zone: NDArray[np.int64]
    allocatable_cpu_millicores: NDArray[np.int64]
    allocatable_memory_mib: NDArray[np.float64]
    allocatable_pods: NDArray[np.int64]
    allocatable_pod_enis: NDArray[np.int64]
    requested_cpu_millicores: NDArray[np.int64]
    requested_memory_mib: NDArray[np.float64]
    requested_pods: NDArray[np.int64]
    requested_pod_enis: NDArray[np.int64]
    nonzero_requested_cpu_millicores: NDArray[np.int64]
    nonzero_requested_memory_mib: NDArray[np.float64]
    workload_pods: NDArray[np.int64] = field(repr=False)

    def __post_init__(self) -> None:
        n_nodes = self.ready.shape[0]
        for name in (
            "zone",
            "allocatable_cpu_millicores",
            "allocatable_memory_mib",
            "allocatable_pods",
            "allocatable_pod_enis",
            "requested_cpu_millicores",
            "requested_memory_mib",
            "requested_pods",
            "requested_pod_enis",
            "nonzero_requested_cpu_millicores",
            "nonzero_requested_memory_mib",
        ):
            if getattr(self, name).shape != (n_nodes,):
                raise InvalidSchedulerInputError(f"NodeView {name} needs one value per node")
        if self.workload_pods.ndim != 2 or self.workload_pods.shape[0] != n_nodes:
            raise InvalidSchedulerInputError(
                "NodeView workload_pods needs one row per node and one column per workload"
            )
        if np.any(self.zone < 0):
            raise InvalidSchedulerInputError("NodeView zone indices must be 0 or more")
        for name in ("allocatable_cpu_millicores", "allocatable_memory_mib", "allocatable_pods"):
            if np.any(getattr(self, name) < 0):
                raise InvalidSchedulerInputError(f"NodeView {name} must be 0 or more")

    @classmethod
    def empty(
        cls, capacity: NodeCapacity, zone: ArrayLike, ready: ArrayLike, n_workloads: int
    ) -> NodeView:
        """Nodes with nothing bound yet.

        Parameters
        ----------
        capacity : NodeCapacity
            Allocatable resources per node (:func:`cnisim.sim.nodes.node_capacity`).
        zone : array_like of int
            Zone index per node.
        ready : array_like of bool
            Readiness per node (one value for all, or one per node).
        n_workloads : int
            Number of workloads pods may come from (columns of ``workload_pods``).

        Returns
        -------
        NodeView
            The view, all requests zero.

        Raises
        ------
        InvalidSchedulerInputError
            If a per-node array has the wrong length, or a zone or count is negative.
        """
        n_nodes = len(capacity)
        if n_workloads < 0:
            raise InvalidSchedulerInputError(f"{n_workloads} workloads: give 0 or more")
        zeros_int = _frozen(np.zeros(n_nodes), np.int64)
        zeros_float = _frozen(np.zeros(n_nodes), np.float64)
        return cls(
            ready=_frozen(np.broadcast_to(np.asarray(ready, dtype=bool), (n_nodes,)), np.bool_),
            zone=_frozen(zone, np.int64),
            allocatable_cpu_millicores=_frozen(capacity.allocatable_cpu_millicores, np.int64),
            allocatable_memory_mib=_frozen(capacity.allocatable_memory_mib, np.float64),
            allocatable_pods=_frozen(capacity.max_pods, np.int64),
            allocatable_pod_enis=_frozen(capacity.max_pod_enis, np.int64),
            requested_cpu_millicores=zeros_int,
            requested_memory_mib=zeros_float,
            requested_pods=zeros_int,
            requested_pod_enis=zeros_int,
            nonzero_requested_cpu_millicores=zeros_int,
            nonzero_requested_memory_mib=zeros_float,
            workload_pods=_frozen(np.zeros((n_nodes, n_workloads)), np.int64),
        )

    def __len__(self) -> int:
        """Return the number of nodes."""
        return int(self.ready.shape[0])

    def with_ready(self, ready: ArrayLike) -> NodeView:
        """The same nodes with new readiness (one value per node)."""
        return self._derived(ready=_frozen(np.broadcast_to(ready, self.ready.shape), np.bool_))

    def add_nodes(self, capacity: NodeCapacity, zone: ArrayLike, ready: ArrayLike) -> NodeView:
        """A view with empty nodes appended (nodes that joined), after the existing ones."""
        joined = NodeView.empty(capacity, zone, ready, self.workload_pods.shape[1])
        return NodeView(
            **{
                column.name: _frozen(
                    np.concatenate([getattr(self, column.name), getattr(joined, column.name)]),
                    getattr(self, column.name).dtype.type,
                )
                for column in dataclasses.fields(self)
            }
        )

    def _derived(self, **arrays: NDArray[Any]) -> NodeView:
        """This view with some arrays replaced; shapes kept, so the checks are not rerun."""
        view = object.__new__(NodeView)
        view.__dict__.update(self.__dict__, **arrays)
        return view

    def bind(self, pods: PodTable, node_index: ArrayLike) -> NodeView:
        """A view with ``pods`` added to the nodes ``node_index`` (one node per pod)."""
        return self._shift(pods, node_index, 1)

    def unbind(self, pods: PodTable, node_index: ArrayLike) -> NodeView:
        """A view with ``pods`` (bound to ``node_index``) removed: deleted or finished pods."""
        return self._shift(pods, node_index, -1)

    def _shift(self, pods: PodTable, node_index: ArrayLike, sign: int) -> NodeView:
        nodes = np.asarray(node_index, dtype=np.int64).ravel()
        if nodes.shape != (len(pods),):
            raise InvalidSchedulerInputError("bind/unbind needs one node index per pod")
        if nodes.size and (nodes.min() < 0 or nodes.max() >= len(self)):
            raise InvalidSchedulerInputError(f"a node index is outside 0..{len(self) - 1}")
        n_workloads = self.workload_pods.shape[1]
        if pods.workload.size and pods.workload.max() >= n_workloads:
            raise InvalidSchedulerInputError(
                f"a pod's workload index is outside the view's {n_workloads} workloads"
            )

        def added(old: NDArray[Any], per_pod: ArrayLike) -> NDArray[Any]:
            new = np.array(old)
            np.add.at(new, nodes, sign * np.asarray(per_pod, dtype=old.dtype))
            new.flags.writeable = False
            return new

        counts = np.array(self.workload_pods)
        np.add.at(counts, (nodes, pods.workload), sign)
        nonzero_cpu = np.where(
            pods.cpu_millicores > 0, pods.cpu_millicores, _k.DEFAULT_MILLI_CPU_REQUEST
        )
        nonzero_mib = np.where(
            pods.memory_mib > 0, pods.memory_mib, _k.DEFAULT_MEMORY_REQUEST_BYTES / _MIB_BYTES
        )
        view = self._derived(
            requested_cpu_millicores=added(self.requested_cpu_millicores, pods.cpu_millicores),
            requested_memory_mib=added(self.requested_memory_mib, pods.memory_mib),
            requested_pods=added(self.requested_pods, np.ones(len(pods))),
            requested_pod_enis=added(self.requested_pod_enis, pods.security_groups),
            nonzero_requested_cpu_millicores=added(
                self.nonzero_requested_cpu_millicores, nonzero_cpu
            ),
            nonzero_requested_memory_mib=added(self.nonzero_requested_memory_mib, nonzero_mib),
            workload_pods=_frozen(counts, np.int64),
        )
        if sign < 0 and (np.any(view.requested_pods < 0) or np.any(counts < 0)):
            raise InvalidSchedulerInputError("unbind removes pods that are not bound there")
        return view


@dataclass(frozen=True, eq=False)
class ScheduleResult:
    """What one :func:`schedule` call decided.

    Attributes
    ----------
    node_index : ndarray of int64
        Per pod (in the order given), the node it is bound to, or -1.
    reasons : tuple of str
        Per pod, kube-scheduler's message for why it fits nowhere ("" when bound), e.g.
        ``"0/12 nodes are available: 3 Insufficient cpu, 9 Too many pods."``.
    next_start_node_index : int
        Where the next cycle's filter starts (kube-scheduler's ``nextStartNodeIndex``).
    """

    node_index: NDArray[np.int64]
    reasons: tuple[str, ...]
    next_start_node_index: int

    @property
    def bound(self) -> NDArray[np.bool_]:
        """Per pod, whether it was bound."""
        return self.node_index >= 0


def _bytes(mib: NDArray[np.float64]) -> NDArray[np.int64]:
    """MiB (whole bytes, as PodTable rounds them) to bytes, exactly (a power-of-2 scaling)."""
    return (np.asarray(mib, dtype=np.float64) * _MIB_BYTES).astype(np.int64)


def _check_scheduler_settings(
    rng: np.random.Generator, scoring: str, start_node_index: int
) -> None:
    if not isinstance(rng, np.random.Generator):
        raise InvalidSchedulerInputError("schedule needs rng=numpy.random.Generator")
    if scoring not in ("LeastAllocated", "MostAllocated"):
        raise InvalidSchedulerInputError(
            f"scoring {scoring!r} is unknown: use LeastAllocated or MostAllocated"
        )
    if start_node_index < 0:
        raise InvalidSchedulerInputError(f"start_node_index {start_node_index} is negative")


class ClusterState:
    """The scheduler's cache: what is requested on every node, kept up to date in place.

    Where :class:`NodeView` is an immutable snapshot (each change copies it),
    a ClusterState is changed in place by :meth:`add_nodes`, :meth:`set_ready`,
    :meth:`bind` and :meth:`unbind`, so that a :meth:`schedule` call costs in proportion to
    the pods it decides, not to the nodes. :meth:`schedule` itself changes nothing.

    Parameters
    ----------
    n_workloads : int
        Number of workloads pods may come from.

    Attributes
    ----------
    nodes : ndarray of int64, shape (n_nodes, 12)
        Per node its readiness (0 or 1), zone, allocatable CPU [millicores], memory [bytes],
        pods and pod ENIs, the same requested, and the non-zero CPU and memory requests
        (columns in :mod:`cnisim.sim._schedulerkernels` order).
    workload_pods : ndarray of int64, shape (n_nodes, n_workloads)
        Pods of each workload bound to each node.
    zone_pods : ndarray of int64, shape (n_zones, n_workloads)
        The same summed per zone (zones 0 .. the largest zone index of a node).
    """

    def __init__(self, n_workloads: int) -> None:
        if n_workloads < 0:
            raise InvalidSchedulerInputError(f"{n_workloads} workloads: give 0 or more")
        self.nodes = np.zeros((0, _k.N_COLUMNS), dtype=np.int64)
        self.workload_pods = np.zeros((0, n_workloads), dtype=np.int64)
        self.zone_pods = np.zeros((0, n_workloads), dtype=np.int64)
        # Per pod shape (CPU [millicores], memory [bytes], LeastAllocated): its row of each
        # node's resource scores, valid where not stale (see _schedulerkernels).
        self._shape_row: dict[tuple[int, int, bool], int] = {}
        self._score_cache = np.zeros((0, 0), dtype=np.int64)
        self._score_stale = np.zeros((0, 0), dtype=np.bool_)

    @classmethod
    def from_view(cls, view: NodeView) -> ClusterState:
        """The state of the nodes a view holds."""
        state = cls(view.workload_pods.shape[1])
        nodes = np.empty((len(view), _k.N_COLUMNS), dtype=np.int64)
        for column, values in (
            (_k.READY, view.ready),
            (_k.ZONE, view.zone),
            (_k.ALLOCATABLE_CPU, view.allocatable_cpu_millicores),
            (_k.ALLOCATABLE_MEM, _bytes(view.allocatable_memory_mib)),
            (_k.ALLOCATABLE_PODS, view.allocatable_pods),
            (_k.ALLOCATABLE_POD_ENIS, view.allocatable_pod_enis),
            (_k.REQUESTED_CPU, view.requested_cpu_millicores),
            (_k.REQUESTED_MEM, _bytes(view.requested_memory_mib)),
            (_k.REQUESTED_PODS, view.requested_pods),
            (_k.REQUESTED_POD_ENIS, view.requested_pod_enis),
            (_k.NONZERO_REQUESTED_CPU, view.nonzero_requested_cpu_millicores),
            (_k.NONZERO_REQUESTED_MEM, _bytes(view.nonzero_requested_memory_mib)),
        ):
            nodes[:, column] = values
        state.nodes = nodes
        state._grow_score_cache(0, len(view))
        state.workload_pods = np.array(view.workload_pods, dtype=np.int64)
        n_zones = int(view.zone.max()) + 1 if len(view) else 0
        state.zone_pods = np.zeros((n_zones, state.n_workloads), dtype=np.int64)
        np.add.at(state.zone_pods, view.zone, state.workload_pods)
        return state

    def __len__(self) -> int:
        """Return the number of nodes."""
        return int(self.nodes.shape[0])

    @property
    def requested_pods(self) -> NDArray[np.int64]:
        """Pods bound to each node (a copy)."""
        return self.nodes[:, _k.REQUESTED_PODS].copy()

    @property
    def n_workloads(self) -> int:
        """Number of workloads pods may come from."""
        return int(self.workload_pods.shape[1])

    def add_nodes(self, capacity: NodeCapacity, zone: ArrayLike, ready: ArrayLike) -> None:
        """Append empty nodes (nodes that joined) after the existing ones."""
        joined = ClusterState.from_view(NodeView.empty(capacity, zone, ready, self.n_workloads))
        self.nodes = np.concatenate([self.nodes, joined.nodes])
        self._grow_score_cache(0, len(joined))
        self.workload_pods = np.concatenate([self.workload_pods, joined.workload_pods])
        n_zones = max(self.zone_pods.shape[0], joined.zone_pods.shape[0])
        if n_zones > self.zone_pods.shape[0]:
            self.zone_pods = np.concatenate(
                [self.zone_pods, np.zeros((n_zones - self.zone_pods.shape[0], self.n_workloads))]
            ).astype(np.int64)

    def _grow_score_cache(self, n_shapes: int, n_nodes: int) -> None:
        """Room for ``n_shapes`` more pod shapes and ``n_nodes`` more nodes, all stale."""
        rows, columns = self._score_cache.shape
        cache = np.zeros((rows + n_shapes, columns + n_nodes), dtype=np.int64)
        stale = np.ones(cache.shape, dtype=np.bool_)
        cache[:rows, :columns] = self._score_cache
        stale[:rows, :columns] = self._score_stale
        self._score_cache, self._score_stale = cache, stale

    def shape_rows(self, cpu: list[int], mem: list[int], least: bool) -> NDArray[np.int64]:
        """Each pod's row of the score cache, by its CPU [millicores], memory [bytes] and the
        scoring (new shapes get a new row)."""
        rows = []
        for key in zip(cpu, mem, [least] * len(cpu), strict=True):
            row = self._shape_row.get(key)
            if row is None:
                row = self._shape_row[key] = len(self._shape_row)
                self._grow_score_cache(1, 0)
            rows.append(row)
        return np.array(rows, dtype=np.int64)

    def arrays(
        self,
    ) -> tuple[
        NDArray[np.int64],
        NDArray[np.int64],
        NDArray[np.int64],
        NDArray[np.int64],
        NDArray[np.bool_],
    ]:
        """The cache's arrays as the compiled cluster run changes them in place: ``nodes``,
        ``workload_pods``, ``zone_pods``, the score cache and its stale marks (valid until the
        next node or pod shape is added)."""
        return (
            self.nodes,
            self.workload_pods,
            self.zone_pods,
            self._score_cache,
            self._score_stale,
        )

    def set_ready(self, ready: ArrayLike) -> None:
        """New readiness of the nodes (one value per node, or one for all)."""
        self.nodes[:, _k.READY] = np.broadcast_to(np.asarray(ready, dtype=bool), (len(self),))

    def bind(self, pods: PodTable, node_index: ArrayLike) -> None:
        """Add ``pods`` to the nodes ``node_index`` (one node per pod)."""
        self._shift(pods, node_index, 1)

    def unbind(self, pods: PodTable, node_index: ArrayLike) -> None:
        """Remove ``pods`` (bound to ``node_index``): deleted or finished pods.

        Raises
        ------
        InvalidSchedulerInputError
            If a pod is not bound there (the state is then left as it was).
        """
        self._shift(pods, node_index, -1)

    def _shift(self, pods: PodTable, node_index: ArrayLike, sign: int) -> None:
        nodes = np.asarray(node_index, dtype=np.int64).ravel()
        if nodes.shape != (len(pods),):
            raise InvalidSchedulerInputError("bind/unbind needs one node index per pod")
        outcome = _k.shift(
            self.nodes,
            self.workload_pods,
            self.zone_pods,
            nodes,
            pods.cpu_millicores.astype(np.int64, copy=False),
            _bytes(pods.memory_mib),
            pods.security_groups.astype(np.bool_, copy=False),
            pods.workload.astype(np.int64, copy=False),
            sign,
            self._score_stale,
        )
        if outcome == _k.NODE_OUT_OF_RANGE:
            raise InvalidSchedulerInputError(f"a node index is outside 0..{len(self) - 1}")
        if outcome == _k.WORKLOAD_OUT_OF_RANGE:
            raise InvalidSchedulerInputError(
                f"a pod's workload index is outside the state's {self.n_workloads} workloads"
            )
        if outcome == _k.NOT_BOUND_THERE:
            raise InvalidSchedulerInputError("unbind removes pods that are not bound there")

    def schedule(
        self,
        pods: PodTable,
        *,
        rng: np.random.Generator,
        scoring: Scoring = "LeastAllocated",
        percentage_of_nodes_to_score: int = DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE,
        start_node_index: int = 0,
    ) -> ScheduleResult:
        """Bind pending pods to these nodes one at a time; changes nothing but ``rng``.

        Parameters and result as :func:`schedule`'s; the caller applies the bindings
        (:meth:`bind`).
        """
        _check_scheduler_settings(rng, scoring, start_node_index)
        n_nodes = len(self)
        n_to_find = num_feasible_nodes_to_find(n_nodes, percentage_of_nodes_to_score)
        n_pods = len(pods)
        if n_pods and pods.workload.max() >= self.n_workloads:
            raise InvalidSchedulerInputError(
                f"a pod's workload index is outside the node view's {self.n_workloads} workloads"
            )
        if n_nodes == 0:
            return ScheduleResult(np.full(n_pods, -1, dtype=np.int64), (_NO_NODES,) * n_pods, 0)
        try:
            rng_state = _rng.state_of(rng)
        except TypeError as error:
            raise InvalidSchedulerInputError(str(error)) from None
        least = scoring == "LeastAllocated"
        cpu = pods.cpu_millicores.astype(np.int64, copy=False)
        mem = _bytes(pods.memory_mib)
        shapes = self.shape_rows(cpu.tolist(), mem.tolist(), least)
        bound_to = np.empty(n_pods, dtype=np.int64)
        failures = np.zeros((n_pods, _k.N_FAILURES), dtype=np.int64)
        start = _k.schedule_pods(
            self.nodes,  # each pod is assumed on its node, and taken off before the return
            self.workload_pods,
            self.zone_pods,
            cpu,
            mem,
            pods.security_groups.astype(np.bool_, copy=False),
            pods.workload.astype(np.int64, copy=False),
            pods.kind == _DEPLOYMENT,
            shapes,
            self._score_cache,
            self._score_stale,
            n_to_find,
            start_node_index % n_nodes,
            least,
            rng_state,
            bound_to,
            failures,
        )
        _rng.set_state(rng, rng_state)
        reasons = [""] * n_pods
        for i, node in enumerate(bound_to.tolist()):
            if node < 0:
                reasons[i] = fit_error(n_nodes, tuple(failures[i].tolist()))
        return ScheduleResult(bound_to, tuple(reasons), int(start))


_FAILURE_MESSAGES: Final = {
    _k.FAIL_NOT_READY: _NOT_READY,
    _k.FAIL_TOO_MANY_PODS: _TOO_MANY_PODS,
    _k.FAIL_CPU: _NO_CPU,
    _k.FAIL_MEMORY: _NO_MEMORY,
    _k.FAIL_POD_ENI: _NO_POD_ENI,
}


@functools.lru_cache(maxsize=256)  # pending pods often fail alike, many times over
def fit_error(n_nodes: int, counts: tuple[int, ...]) -> str:
    """kube-scheduler's message for a pod that fits none of ``n_nodes`` nodes, given the nodes
    rejecting it by reason (:mod:`._schedulerkernels` failure columns): FitError.Error(),
    "0/N nodes are available: " + sorted "count reason" + ".", or, with no nodes at all,
    "no nodes available to schedule pods"."""
    if n_nodes == 0:
        return _NO_NODES
    parts = sorted(
        f"{counts[column]} {message}"
        for column, message in _FAILURE_MESSAGES.items()
        if counts[column] > 0
    )
    return f"0/{n_nodes} nodes are available: {', '.join(parts)}."


def schedule(
    pods: PodTable,
    nodes: NodeView,
    *,
    rng: np.random.Generator,
    scoring: Scoring = "LeastAllocated",
    percentage_of_nodes_to_score: int = DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE,
    start_node_index: int = 0,
) -> ScheduleResult:
    """Bind pending pods to nodes one at a time, as kube-scheduler's default profile does.

    Parameters
    ----------
    pods : PodTable
        The pods to schedule, in queue order.
    nodes : NodeView
        The nodes, with what is already bound to them; not changed.
    rng : numpy.random.Generator
        Breaks ties between equally scored nodes: one ``integers(n_tied)`` per pod with more
        than one best node, nothing otherwise.
    scoring : {"LeastAllocated", "MostAllocated"}
        NodeResourcesFit's scoring strategy (LeastAllocated is kube-scheduler's default).
    percentage_of_nodes_to_score : int
        ``percentageOfNodesToScore`` [%]; 0 (default) is adaptive
        (:func:`num_feasible_nodes_to_find`).
    start_node_index : int
        Where the first cycle's filter starts (the previous result's
        ``next_start_node_index``; taken modulo the number of nodes).

    Returns
    -------
    ScheduleResult
        Per pod its node or its reason, and the next start index.

    Raises
    ------
    InvalidSchedulerInputError
        If the scoring is unknown, the percentage is outside 0..100, the start index is
        negative, a pod's workload index is outside ``nodes.workload_pods``, or ``rng`` is
        not a PCG64 Generator (the compiled tie-break continues its PCG64 stream).

    References
    ----------
    kubernetes/kubernetes ``pkg/scheduler/schedule_one.go`` (see the module docstring).

    Examples
    --------
    Two empty m5.large-sized nodes in two zones; the second is full of pods:

    >>> from cnisim.sim.nodes import NodeCapacity
    >>> capacity = NodeCapacity(np.array([1930, 1930]), np.array([7518, 7518]),
    ...     np.array([29, 0]), np.array([0, 0]))
    >>> view = NodeView.empty(capacity, zone=[0, 1], ready=True, n_workloads=1)
    >>> from cnisim.sim.workloads import generate_pods
    >>> from cnisim.plan import Deployment, Resources
    >>> pods = generate_pods([Deployment("web", 3, Resources(1000, 100))], 60.0,
    ...     np.random.default_rng(0))
    >>> result = schedule(pods, view, rng=np.random.default_rng(0))
    >>> result.node_index.tolist()
    [0, -1, -1]
    >>> result.reasons[1]
    '0/2 nodes are available: 1 Insufficient cpu, 1 Too many pods.'
    """
    return ClusterState.from_view(nodes).schedule(
        pods,
        rng=rng,
        scoring=scoring,
        percentage_of_nodes_to_score=percentage_of_nodes_to_score,
        start_node_index=start_node_index,
    )


#: PendingPods' rows: pod, timestamp [s], due [s], failed attempts, waiting (see _schedulerkernels).
QueueRows = tuple[
    NDArray[np.int64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.int64],
    NDArray[np.bool_],
]


class PendingPods:
    """kube-scheduler's scheduling queue, reduced to one priority: who is tried, and when.

    Pods enter with :meth:`add` and are tried in queue order (oldest timestamp first: the
    time they were added, or of their last attempt). A pod that fails is unschedulable: it
    waits for a cluster change that could make it fit (:meth:`on_cluster_change`: a node
    added or turned Ready, a pod deleted) or for ``max_in_unschedulable_s`` (5 min), and in
    either case no earlier than its backoff, ``initial_backoff_s`` doubling per failed
    attempt up to ``max_backoff_s``.

    Parameters
    ----------
    initial_backoff_s, max_backoff_s : float
        ``podInitialBackoffSeconds`` (1 s) and ``podMaxBackoffSeconds`` (10 s) [s].
    max_in_unschedulable_s : float
        ``podMaxInUnschedulablePodsDuration`` (5 min) [s].

    Notes
    -----
    Simplifications: every cluster change moves every unschedulable pod (the queueing
    hints that skip pods the change cannot help are not modelled), and the queue's periodic
    flushes (backoff every 1 s, unschedulable pods every 30 s) happen at the exact due time.

    References
    ----------
    kubernetes/kubernetes ``pkg/scheduler/internal/queue/scheduling_queue.go``
    (``calculateBackoffDuration``, ``flushUnschedulablePodsLeftover``,
    ``MoveAllToActiveOrBackoffQueue``, ``isPodBackingoff``).

    Examples
    --------
    >>> queue = PendingPods()
    >>> queue.add([7, 8], now_s=0.0)
    >>> queue.pop_due(0.0).tolist()
    [7, 8]
    >>> queue.unschedulable([8], now_s=0.0)  # tried and failed once
    >>> queue.next_due_s()  # no change: after 5 min
    300.0
    >>> queue.on_cluster_change(now_s=0.5)  # a node joined: due after its 1 s backoff
    >>> queue.next_due_s(), queue.pop_due(0.9).tolist(), queue.pop_due(1.0).tolist()
    (1.0, [], [8])
    """

    def __init__(
        self,
        *,
        initial_backoff_s: float = POD_INITIAL_BACKOFF_S,
        max_backoff_s: float = POD_MAX_BACKOFF_S,
        max_in_unschedulable_s: float = POD_MAX_IN_UNSCHEDULABLE_PODS_S,
    ) -> None:
        if not 0 < initial_backoff_s <= max_backoff_s:
            raise InvalidSchedulerInputError(
                f"backoff {initial_backoff_s} s to {max_backoff_s} s: give 0 < initial <= max"
            )
        if not max_in_unschedulable_s > 0:
            raise InvalidSchedulerInputError(
                f"max time unschedulable {max_in_unschedulable_s} s: give a time > 0 s"
            )
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_in_unschedulable_s = max_in_unschedulable_s
        # The queue's rows (see _schedulerkernels: pod, timestamp, due, attempts, waiting),
        # with room to grow, and [rows, rows waiting]: the compiled cluster run's tick pushes
        # and pops the same arrays (:meth:`reserve`, :attr:`arrays`).
        self.arrays = self._empty(64)
        self.counts = np.zeros(2, dtype=np.int64)
        self._trying: dict[int, int] = {}  # pods taken out to be tried: attempts with this one

    @staticmethod
    def _empty(size: int) -> QueueRows:
        return (
            np.zeros(size, dtype=np.int64),
            np.zeros(size),
            np.zeros(size),
            np.zeros(size, dtype=np.int64),
            np.zeros(size, dtype=np.bool_),
        )

    def __len__(self) -> int:
        """Return the number of pods in the queue (not counting pods being tried)."""
        return int(self.counts[_k.Q_N])

    def _column(self, i: int) -> NDArray[Any]:
        return self.arrays[i][: len(self)]

    def reserve(self, n_more: int) -> None:
        """Room for ``n_more`` more rows (the arrays may be replaced: read them after)."""
        n = len(self)
        if n + n_more > self.arrays[0].size:
            grown = self._empty(2 * (n + n_more))
            for old, new in zip(self.arrays, grown, strict=True):
                new[:n] = old[:n]
            self.arrays = grown

    @property
    def waiting_pods(self) -> NDArray[np.int64]:
        """Pods in the queue that failed at least once (kube-scheduler's unschedulable pods,
        and those moved back to be retried), sorted."""
        pods, attempts = self._column(0), self._column(3)
        return np.sort(pods[attempts > 0])

    def _push(
        self,
        pods: NDArray[np.int64],
        now_s: float,
        due_s: float,
        attempts: list[int],
        waiting: bool,
    ) -> None:
        self.reserve(pods.size)
        for pod, n_attempts in zip(pods.tolist(), attempts, strict=True):
            _k.queue_push(*self.arrays, self.counts, pod, now_s, due_s, n_attempts, waiting)

    def add(self, pod_ids: ArrayLike, now_s: float) -> None:
        """New pending pods, due now (a pod's first attempt has no backoff)."""
        pods = np.asarray(pod_ids, dtype=np.int64).ravel()
        ids = pods.tolist()
        if (
            len(set(ids)) != len(ids)
            or np.isin(pods, self._column(0)).any()
            or not self._trying.keys().isdisjoint(ids)
        ):
            raise InvalidSchedulerInputError("a pod added to the queue is already pending")
        self._push(pods, now_s, now_s, [0] * pods.size, waiting=False)

    def pop_due(self, now_s: float) -> NDArray[np.int64]:
        """Take the pods due at ``now_s`` out of the queue, in queue order, to be tried."""
        n = len(self)
        pods = np.empty(n, dtype=np.int64)
        attempts = np.empty(n, dtype=np.int64)
        n_due = _k.queue_pop_due(*self.arrays, self.counts, now_s, pods, attempts)
        pods = pods[:n_due]
        self._trying.update(zip(pods.tolist(), (attempts[:n_due] + 1).tolist(), strict=True))
        return pods

    def _taken(self, pod_ids: ArrayLike) -> tuple[NDArray[np.int64], list[int]]:
        pods = np.asarray(pod_ids, dtype=np.int64).ravel()
        try:
            attempts = [self._trying.pop(pod) for pod in pods.tolist()]
        except KeyError as missing:
            raise InvalidSchedulerInputError(
                f"pod {missing.args[0]} was not taken from the queue"
            ) from None
        return pods, attempts

    def unschedulable(self, pod_ids: ArrayLike, now_s: float) -> None:
        """Put back pods just tried that fit nowhere: they wait for a change or 5 min."""
        pods, attempts = self._taken(pod_ids)
        self._push(pods, now_s, now_s + self.max_in_unschedulable_s, attempts, waiting=True)

    def bound(self, pod_ids: ArrayLike) -> None:
        """Forget pods just tried that were bound."""
        self._taken(pod_ids)

    def remove(self, pod_ids: ArrayLike) -> None:
        """Pods deleted while pending (a scale-down, a rollout) leave the queue.

        Pods not in the queue are ignored (they were bound, or deleted already).
        """
        n = len(self)
        drop = np.isin(self._column(0), np.asarray(pod_ids, dtype=np.int64).ravel())
        if not drop.any():
            return
        self.counts[_k.Q_N_WAITING] -= int(np.count_nonzero(self._column(4)[drop]))
        keep = np.flatnonzero(~drop)
        for column in self.arrays:
            column[: keep.size] = column[:n][keep]
        self.counts[_k.Q_N] = keep.size

    def on_cluster_change(self, now_s: float) -> None:
        """A node was added or became Ready, or a pod was deleted: retry unschedulable pods.

        Each is due at the end of its backoff (from its last attempt), or now if that is past.
        """
        _k.queue_on_change(
            *self.arrays[1:],
            self.counts,
            now_s,
            self.initial_backoff_s,
            self.max_backoff_s,
        )

    def backoff_s(self, attempts: ArrayLike) -> NDArray[np.float64]:
        """Backoff after ``attempts`` failed attempts: 0, then 1 s doubling up to 10 s [s].

        References
        ----------
        scheduling_queue.go ``calculateBackoffDuration``.
        """
        flat = np.asarray(attempts, dtype=np.int64)
        return np.array(
            [
                _k.backoff_s(a, self.initial_backoff_s, self.max_backoff_s)
                for a in flat.ravel().tolist()
            ],
            dtype=np.float64,
        ).reshape(flat.shape)

    def next_due_s(self) -> float:
        """When :meth:`pop_due` next returns a pod, if nothing changes [s]; inf if never."""
        return float(self._column(2).min()) if len(self) else math.inf
