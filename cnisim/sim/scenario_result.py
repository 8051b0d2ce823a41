"""What a cluster simulation records: the ipamd engine's result plus the scenario's own series.

:class:`SimulationResult` is what :func:`cnisim.sim.scenario.simulate` returns and what
:mod:`cnisim.report` summarizes. Like :class:`~cnisim.sim.records.SimResult` it holds plain
numpy arrays; DataFrames are built only when asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from cnisim.plan import Plan
from cnisim.sim.records import SimResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SimulationResult"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass
class SimulationResult:
    """One run of a plan.

    Attributes
    ----------
    plan : Plan
        The plan that ran (after command-line overrides).
    engine_name : str
        ``"fast"`` or ``"reference"``.
    ipamd : SimResult
        The ipamd engine's record: node samples, subnet series, pod waits, EC2 calls.
    node_group : ndarray of int64
        Per engine node id: index of its node group (or NodePool) in ``group_names``.
    node_instance_type : ndarray of str
        Per node: its instance type.
    node_subnet : ndarray of str
        Per node: the subnet of its primary ENI.
    node_max_pods : ndarray of int64
        Per node: kubelet max pods [pods].
    node_allocatable_cpu_millicores, node_allocatable_memory_mib : ndarray of float64
        Per node: allocatable CPU [millicores] and memory [MiB] (capacity minus
        kube-reserved, system-reserved and the eviction threshold).
    node_launch_s : ndarray of float64
        Per node: when its Auto Scaling group launched it [s].
    node_kubelet_ready_s : ndarray of float64
        Per node: when the kubelet would report Ready without waiting for the CNI [s]; the node
        is Ready for the scheduler at ``max(kubelet, ipamd's first address)``.
    pod_workload : ndarray of int64
        Per scenario pod (ids ``0 .. n - 1``, the engine's pod ids): index into
        ``workload_names``.
    workload_names : tuple of str
        Names of the workloads (the plan's, the EKS defaults and DaemonSets included).
    pod_created_s, pod_bound_s, pod_deleted_s : ndarray of float64
        Per pod: creation, binding to a node and deletion [s]; NaN if it did not happen.
    pod_node : ndarray of int64
        Per pod: its node, -1 if never bound.
    pod_needs_address : ndarray of bool
        Per pod: False for host-network pods (they take a max-pods slot, no address).
    pod_unschedulable_reason : ndarray of object
        Per pod: the scheduler's last reason it could not be placed ("" if it never failed).
    sample_s : ndarray of float64
        Times of the scenario's series [s].
    n_pending : ndarray of int64
        Pods created and not bound, at each sample.
    n_unschedulable : ndarray of int64
        Of those, pods the scheduler tried and could not place.
    n_nodes_by_group, n_ready_by_group, n_pods_by_group : ndarray of int64
        Shape (n_samples, n_groups): nodes running, nodes Ready, pods bound per group.
    n_ip_waiting : ndarray of int64
        Pods bound whose ADD had not yet got an address, at each sample.
    notes : tuple of str
        Simplifications and assumptions of this run, one line each (shown with the summary).
    controllers : dict of str to object
        Per controller that ran (the cluster autoscaler, workload controllers, address
        holders), by name: its summary (see :mod:`cnisim.sim.controllers`).
    group_names : tuple of str
        The names ``node_group`` indexes: the plan's node groups, then provisioners' pseudo
        groups (Karpenter's NodePools); the node groups' names when not given.
    """

    plan: Plan
    engine_name: str
    ipamd: SimResult
    node_group: IntArray
    node_instance_type: NDArray[np.str_]
    node_subnet: NDArray[np.str_]
    node_max_pods: IntArray
    node_allocatable_cpu_millicores: FloatArray
    node_allocatable_memory_mib: FloatArray
    node_launch_s: FloatArray
    node_kubelet_ready_s: FloatArray
    pod_workload: IntArray
    workload_names: tuple[str, ...]
    pod_created_s: FloatArray
    pod_bound_s: FloatArray
    pod_deleted_s: FloatArray
    pod_node: IntArray
    pod_needs_address: NDArray[np.bool_]
    pod_unschedulable_reason: NDArray[np.object_]
    sample_s: FloatArray
    n_pending: IntArray
    n_unschedulable: IntArray
    n_nodes_by_group: IntArray
    n_ready_by_group: IntArray
    n_pods_by_group: IntArray
    n_ip_waiting: IntArray
    notes: tuple[str, ...]
    controllers: dict[str, object] = field(default_factory=dict)
    group_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.group_names:
            self.group_names = tuple(group.name for group in self.plan.node_groups)

    @property
    def n_pods(self) -> int:
        """Pods created during the run."""
        return int(self.pod_created_s.size)

    def series_frame(self) -> pd.DataFrame:
        """The scenario's series, tidy: one row per sample and node group."""
        import pandas as pd

        names = list(self.group_names)
        n_samples, n_groups = self.n_nodes_by_group.shape
        return pd.DataFrame(
            {
                "now_s": np.repeat(self.sample_s, n_groups),
                "node_group": np.tile(np.array(names, dtype=object), n_samples),
                "n_nodes": self.n_nodes_by_group.ravel(),
                "n_ready_nodes": self.n_ready_by_group.ravel(),
                "n_pods": self.n_pods_by_group.ravel(),
                "n_pending_pods": np.repeat(self.n_pending, n_groups),
                "n_unschedulable_pods": np.repeat(self.n_unschedulable, n_groups),
                "n_pods_waiting_for_ip": np.repeat(self.n_ip_waiting, n_groups),
            }
        )

    def pods_frame(self) -> pd.DataFrame:
        """One row per pod: workload, times, node and the scheduler's last reason."""
        import pandas as pd

        return pd.DataFrame(
            {
                "pod": np.arange(self.n_pods),
                "workload": np.array(self.workload_names, dtype=object)[self.pod_workload],
                "created_s": self.pod_created_s,
                "bound_s": self.pod_bound_s,
                "deleted_s": self.pod_deleted_s,
                "node": self.pod_node,
                "needs_address": self.pod_needs_address,
                "unschedulable_reason": self.pod_unschedulable_reason,
            }
        )
