"""What the scheduler sees of a node: allocatable CPU, memory, pods and pod ENIs.

A thin layer over :func:`cnisim.limits.compute_limits` (the one place the max-pods, kubelet
reservation and allocatable formulas live): one row per node, in the scheduler's units.

References
----------
awslabs/amazon-eks-ami ``nodeadm/internal/kubelet/config.go`` (kubeReserved, evictionHard);
aws/amazon-vpc-resource-controller-k8s ``pkg/aws/vpc/limits.go`` (``vpc.amazonaws.com/pod-eni``
capacity); kubernetes/kubernetes ``pkg/scheduler/framework/types.go`` (``Allocatable``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cnisim.catalog import Catalog
from cnisim.limits import MaxPodsOptions, compute_limits

__all__ = ["NodeCapacity", "node_capacity"]


@dataclass(frozen=True, eq=False)
class NodeCapacity:
    """Node allocatable resources as the kubelet reports them, one row per node.

    Attributes
    ----------
    allocatable_cpu_millicores : ndarray of int64
        vCPUs x 1000 - kubeReserved.cpu [millicores].
    allocatable_memory_mib : ndarray of int64
        Memory - kubeReserved.memory - evictionHard (- VM overhead if asked) [MiB].
    max_pods : ndarray of int64
        Kubelet ``maxPods``, the ``pods`` allocatable [pods].
    max_pod_enis : ndarray of int64
        ``vpc.amazonaws.com/pod-eni`` allocatable: branch ENIs with security groups for pods
        on a trunking-compatible type, else 0 [pods].
    """

    allocatable_cpu_millicores: NDArray[np.int64]
    allocatable_memory_mib: NDArray[np.int64]
    max_pods: NDArray[np.int64]
    max_pod_enis: NDArray[np.int64]

    def __len__(self) -> int:
        """Return the number of nodes."""
        return int(self.max_pods.size)


def node_capacity(
    catalog: Catalog | Mapping[str, ArrayLike],
    instance_types: Sequence[str] | None = None,
    *,
    options: MaxPodsOptions | None = None,
    max_pods: int | None = None,
) -> NodeCapacity:
    """Allocatable CPU, memory, pods and pod ENIs of nodes, from catalog rows.

    Parameters
    ----------
    catalog : Catalog or mapping of str to array
        Canonical catalog columns (:attr:`cnisim.catalog.Catalog.columns`).
    instance_types : sequence of str, optional
        The instance type of each node, looked up in ``catalog``; None: one node per
        catalog row, in row order.
    options : MaxPodsOptions, optional
        The CNI mode and kubelet settings (default: secondary IPs, nodeadm reservations).
    max_pods : int, optional
        Kubelet ``maxPods`` for every node (eksctl ``maxPodsPerNode``, or what a managed node
        group chose), over what ``options`` gives; reservations follow
        ``options.reservation_basis`` as :func:`cnisim.limits.compute_limits` applies it.

    Returns
    -------
    NodeCapacity
        One row per node.

    Raises
    ------
    cnisim.catalog.UnknownInstanceType
        If an instance type is not in the catalog.
    cnisim.limits.InvalidOptionError
        If ``max_pods`` is below 1 or an option is out of range.

    References
    ----------
    :func:`cnisim.limits.compute_limits` (every formula, with its sources).

    Examples
    --------
    m5.large: 29 pods, 1930 m and 8192 - 574 - 100 = 7518 MiB allocatable.

    >>> from cnisim.catalog import load_catalog
    >>> capacity = node_capacity(load_catalog(), ["m5.large"])
    >>> capacity.max_pods.tolist(), capacity.allocatable_cpu_millicores.tolist()
    ([29], [1930])
    >>> capacity.allocatable_memory_mib.tolist()
    [7518]
    """
    table = (
        catalog
        if isinstance(catalog, Catalog)
        else Catalog({name: np.asarray(values) for name, values in catalog.items()})
    )
    if instance_types is not None:
        table = table.take(table.locate(instance_types))
    limits_options = options or MaxPodsOptions()
    if max_pods is not None:
        limits_options = dataclasses.replace(limits_options, max_pods_override=max_pods)
    limits = compute_limits(table.columns, limits_options)
    pod_enis = limits["branch_eni_pods"] * limits_options.security_groups_for_pods
    return NodeCapacity(
        allocatable_cpu_millicores=np.asarray(limits["allocatable_cpu_millicores"], np.int64),
        allocatable_memory_mib=np.asarray(limits["allocatable_memory_mib"], np.int64),
        max_pods=np.asarray(limits["max_pods"], np.int64),
        max_pod_enis=np.asarray(pod_enis, np.int64),
    )
