"""Karpenter as a provisioner: pending pods batched, packed into the cheapest instances that fit,
launched into the subnet of a zone with the most free addresses, and consolidated.

:class:`KarpenterController` is a controller (:mod:`cnisim.sim.controllers`) that launches nodes
itself, outside any Auto Scaling group (:meth:`cnisim.sim.scenario.ClusterRun.launch_node`),
each NodePool a pseudo node group of the report. What it follows (numbers are defaults):

- **Batching**: pods the scheduler could not place open a batch; it closes 1 s after the last
  new pod (``BATCH_IDLE_DURATION``) or 10 s after it opened (``BATCH_MAX_DURATION``).
- **Instance types** (:func:`pool_offerings`): the catalog's types that meet every NodePool
  requirement (category, family, cpu, memory, generation, arch, zone, capacity type, type) and
  have a price; each type's allocatable is :func:`cnisim.sim.nodes.node_capacity`'s, with
  Karpenter's 7.5 % VM memory overhead and its max pods (the ENI-limited value, uncapped, unless
  the EC2NodeClass sets ``kubelet.maxPods``; ``podsPerCore`` x vCPUs at most), less the
  DaemonSets' requests and pods.
- **Packing** (:func:`pack_first_fit_decreasing`): pods sorted by CPU then memory, largest
  first; each goes into the first open node some remaining type can still hold it in (the node's
  types narrow to those), else opens a node; each node then takes the cheapest of its types
  within the pool's ``limits``.
- **Subnets** (:class:`SubnetChooser`, karpenter-provider-aws ``pkg/providers/subnet``): per zone,
  the EC2NodeClass subnet with the most available IPs (DescribeSubnets' count, refreshed every
  minute, ``SUBNET_REFRESH_INTERVAL``) minus those in flight: each launch takes the smallest max
  pods of its node's types off its subnet until the next refresh. A launch refused with
  InsufficientFreeAddressesInSubnet (no free address for the node) makes that subnet
  unavailable for 3 min (``UnavailableOfferingsTTL``, per subnet) and its count 0.
- **Registration**: a node not Ready 15 min after its launch is terminated (a node booted into
  a subnet with its own address but none for ipamd never is).
- **Consolidation** (``WhenEmptyOrUnderutilized``, ``WhenEmpty``): see
  :class:`KarpenterController`.

Simplifications (also in the README):

- On-demand only: prices are the on-demand table Karpenter ships (``data/
  karpenter-on-demand-prices.tsv``, us-east-1; ``karpenter.prices`` overrides); a pool that
  allows only spot launches nothing. No ICE for capacity, no spot interruptions.
- The zone of a node is the one whose chosen subnet has the most available IPs (CreateFleet's
  lowest-price strategy sees equal prices across zones; EC2's pick among them is not public).
- Pods have no node selectors, affinities or topology spread for Karpenter. Pending pods go
  first, first-fit decreasing, into the free requests of the Ready nodes and the room of the
  nodes in flight (:func:`fill_rooms`, as Karpenter's scheduler tries existing nodes and
  in-flight NodeClaims first); only the rest are packed into new nodes. kube-scheduler then
  places pods where it likes.
- A launch fails at once when the node's subnet has no free address EC2 may pick (CreateFleet's
  check; addresses in CIDR reservations count as available for DescribeSubnets and are not
  picked); a node that gets its address and then none for ipamd waits for the registration
  timeout.

References
----------
aws/karpenter-provider-aws ``pkg/providers/subnet/subnet.go`` (``ZonalSubnetsForLaunch``,
``UpdateInflightIPs``, ``UpdateICEdSubnet``), ``pkg/cache/cache.go`` (3 min
``UnavailableOfferingsTTL``), ``pkg/operator/options/options.go`` (1 min
``SUBNET_REFRESH_INTERVAL``), ``pkg/providers/pricing/zz_generated.pricing_aws.go`` (prices);
kubernetes-sigs/karpenter ``pkg/controllers/provisioning/batcher.go`` (batch durations),
``pkg/controllers/provisioning/scheduling/`` (first-fit decreasing by CPU then memory),
``pkg/controllers/nodeclaim/lifecycle/liveness.go`` (15 min registration TTL);
``docs/cluster-model.md`` sec. 4.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import TYPE_CHECKING, Final

import numpy as np
from numpy.typing import NDArray

from cnisim.catalog import Catalog
from cnisim.cni import IpamdConfig
from cnisim.errors import UsageError
from cnisim.limits import KARPENTER_VM_MEMORY_OVERHEAD_FRAC
from cnisim.plan import KARPENTER_REQUIREMENT_KEYS, NodeGroup, NodePool, Plan, Requirement
from cnisim.sim import _schedulerkernels as _k
from cnisim.sim.nodegroups import GroupNodeSpecs, LaunchRequest, boot_sigma
from cnisim.sim.nodes import NodeCapacity, node_capacity
from cnisim.sim.spec import max_pods_options
from cnisim.sim.workloads import WORKLOAD_KINDS, daemonset_pods

if TYPE_CHECKING:
    from cnisim.sim.scenario import ClusterRun

__all__ = [
    "PRICES_FILE",
    "REGISTRATION_TTL_S",
    "SUBNET_REFRESH_S",
    "UNAVAILABLE_SUBNET_TTL_S",
    "KarpenterController",
    "KarpenterSummary",
    "Offerings",
    "PackedNode",
    "SubnetChooser",
    "fill_rooms",
    "karpenter_controllers",
    "load_prices",
    "pack_first_fit_decreasing",
    "pool_offerings",
]

#: The shipped on-demand price table (``cnisim/data``): its first line names its source.
PRICES_FILE: Final = "karpenter-on-demand-prices.tsv"
#: How long a subnet that refused a launch for lack of addresses is skipped [s].
UNAVAILABLE_SUBNET_TTL_S: Final = 180.0
#: How often Karpenter reads the subnets' available IP counts (DescribeSubnets) [s].
SUBNET_REFRESH_S: Final = 60.0
#: A node not Ready this long after its launch is terminated [s].
REGISTRATION_TTL_S: Final = 900.0
#: Pods pending while nothing can be launched are retried this often, and consolidation
#: looks for nodes to remove this often (the disruption controller's poll) [s].
_RETRY_S: Final = 10.0
_MIB: Final = 2**20
_DAEMONSET_KIND: Final = WORKLOAD_KINDS.index("DaemonSet")


@cache
def load_prices() -> Mapping[str, float]:
    """The shipped on-demand prices: instance type -> USD per hour (us-east-1).

    Examples
    --------
    >>> load_prices()["m5.large"]
    0.096
    """
    from cnisim.catalog import _data_dir

    prices: dict[str, float] = {}
    with open(_data_dir() / PRICES_FILE, encoding="utf-8") as f:
        for line in f:
            if line.startswith(("#", "instance_type\t")):
                continue
            name, price = line.rstrip("\n").split("\t")
            prices[name] = float(price)
    return prices


_FAMILY_RE = re.compile(r"([a-z]+)-?(\d*)")


def _labels(columns: Mapping[str, NDArray], i: int) -> dict[str, str]:
    """The well-known labels Karpenter gives an instance type (those the plan can select on)."""
    family = str(columns["family"][i])
    match = _FAMILY_RE.match(family)
    category, generation = (match.group(1), match.group(2)) if match else (family, "")
    arch = str(columns["arch"][i])
    return {
        "category": category,
        "family": family,
        "vcpus": str(int(columns["vcpus"][i])),
        "memory_mib": str(int(columns["memory_mib"][i])),
        "generation": generation or "0",
        "arch": {"x86_64": "amd64"}.get(arch, arch),
        "instance_type": str(columns["instance_type"][i]),
    }


def _admits(requirement: Requirement, value: str) -> bool:
    op, values = requirement.operator, requirement.values
    if op == "In":
        return value in values
    if op == "NotIn":
        return value not in values
    if op in ("Gt", "Lt"):
        number = int(value) if value.lstrip("-").isdigit() else None
        if number is None:
            return False
        return number > int(values[0]) if op == "Gt" else number < int(values[0])
    return op == "Exists"  # every type has every well-known label: DoesNotExist admits none


@dataclass(frozen=True, eq=False)
class Offerings:
    """What one NodePool can launch: per instance type (row), what pods can use of a node.

    Attributes
    ----------
    instance_types : tuple of str
        The types, in catalog order.
    zones : tuple of str
        Zones the pool may launch in (its requirements and its node class's subnets).
    cpu_millicores, memory_mib, n_pods : ndarray
        Allocatable less the DaemonSets' requests and pods [millicores], [MiB], [pods].
    max_pods : ndarray of int64
        Kubelet max pods [pods].
    vcpus, memory_capacity_mib : ndarray
        Capacity, for the pool's limits [vCPUs], [MiB].
    price_usd_per_hour : ndarray of float64
        On-demand price [USD/h].
    capacity : tuple of NodeCapacity
        Per type: one node's allocatable, as the scheduler sees it.
    specs : GroupNodeSpecs
        The engine's NodeSpec of a launch (before ``podsPerCore``: see ``max_pods``).
    """

    instance_types: tuple[str, ...]
    zones: tuple[str, ...]
    cpu_millicores: NDArray[np.float64]
    memory_mib: NDArray[np.float64]
    n_pods: NDArray[np.int64]
    max_pods: NDArray[np.int64]
    vcpus: NDArray[np.int64]
    memory_capacity_mib: NDArray[np.int64]
    price_usd_per_hour: NDArray[np.float64]
    capacity: tuple[NodeCapacity, ...] = field(repr=False)
    specs: GroupNodeSpecs = field(repr=False)


def pool_offerings(
    plan: Plan,
    pool: NodePool,
    catalog: Catalog,
    config: IpamdConfig,
    daemonset_cpu_millicores: float,
    daemonset_memory_mib: float,
    n_daemonset_pods: int,
    cni_subnets: Mapping[str, Sequence[str]] | None = None,
) -> Offerings:
    """The instance types a NodePool may launch and what each offers pods.

    ``daemonset_*``: what the DaemonSets take on every node [millicores], [MiB], [pods];
    ``cni_subnets``: subnet discovery's tagged subnets per zone.

    Raises
    ------
    UsageError
        A pool that allows no on-demand capacity (cnisim has on-demand prices only), or
        whose requirements no priced type meets.
    """
    assert plan.karpenter is not None
    keys = KARPENTER_REQUIREMENT_KEYS
    by_what: dict[str, list[Requirement]] = {}
    for requirement in pool.requirements:
        by_what.setdefault(keys[requirement.key], []).append(requirement)
    if not all(_admits(r, "on-demand") for r in by_what.get("capacity_type", [])):
        raise UsageError(
            f"NodePool {pool.name} allows no on-demand capacity: cnisim launches on-demand only"
            " (it has no spot prices); add on-demand to karpenter.sh/capacity-type"
        )
    node_class = plan.karpenter.node_class(pool.node_class)
    subnet_zones = dict.fromkeys(plan.vpc.subnet(s).az for s in node_class.subnets(plan.vpc))
    zones = tuple(z for z in subnet_zones if all(_admits(r, z) for r in by_what.get("zone", [])))
    prices = {**load_prices(), **plan.karpenter.prices_usd_per_hour}
    columns = catalog.columns
    chosen = []
    for i in range(len(catalog)):
        labels = _labels(columns, i)
        if labels["instance_type"] in prices and all(
            _admits(r, labels[what])
            for what, reqs in by_what.items()
            if what in labels
            for r in reqs
        ):
            chosen.append(labels["instance_type"])
    if not chosen or not zones:
        raise UsageError(
            f"NodePool {pool.name}'s requirements leave no priced instance type in a zone of"
            f" its EC2NodeClass {node_class.name}: widen them"
        )
    specs = _pool_specs(plan, pool, catalog, config, tuple(chosen), cni_subnets)
    options = max_pods_options(
        config, cni_version=plan.cni_version, vm_overhead_frac=KARPENTER_VM_MEMORY_OVERHEAD_FRAC
    )
    rows = catalog.take(catalog.locate(chosen))
    max_pods = np.array([specs.max_pods[t] for t in chosen], dtype=np.int64)
    if node_class.pods_per_core is not None:
        max_pods = np.minimum(max_pods, node_class.pods_per_core * rows.columns["vcpus"])
    capacity = tuple(
        node_capacity(rows.take([i]), options=options, max_pods=int(n))
        for i, n in enumerate(max_pods.tolist())
    )
    return Offerings(
        instance_types=tuple(chosen),
        zones=zones,
        cpu_millicores=np.array(
            [c.allocatable_cpu_millicores[0] for c in capacity], dtype=np.float64
        )
        - daemonset_cpu_millicores,
        memory_mib=np.array([c.allocatable_memory_mib[0] for c in capacity], dtype=np.float64)
        - daemonset_memory_mib,
        n_pods=max_pods - n_daemonset_pods,
        max_pods=max_pods,
        vcpus=np.asarray(rows.columns["vcpus"], dtype=np.int64),
        memory_capacity_mib=np.asarray(rows.columns["memory_mib"], dtype=np.int64),
        price_usd_per_hour=np.array([prices[t] for t in chosen], dtype=np.float64),
        capacity=capacity,
        specs=specs,
    )


def _pool_specs(
    plan: Plan,
    pool: NodePool,
    catalog: Catalog,
    config: IpamdConfig,
    instance_types: tuple[str, ...],
    cni_subnets: Mapping[str, Sequence[str]] | None,
) -> GroupNodeSpecs:
    """The NodeSpecs of a pool's nodes: a self-managed group's (the ENI table's max pods,
    uncapped, as Karpenter sets it) or the EC2NodeClass's ``kubelet.maxPods``."""
    assert plan.karpenter is not None
    node_class = plan.karpenter.node_class(pool.node_class)
    group = NodeGroup(
        pool.name,
        instance_types,
        0,
        0,
        0,
        node_class.subnets(plan.vpc),
        managed=False,
        max_pods_per_node=node_class.max_pods,
    )
    return GroupNodeSpecs(
        group,
        catalog,
        config,
        cni_version=plan.cni_version,
        eni_configs=plan.aws_node.eni_configs,
        extra_subnets=cni_subnets,
    )


@dataclass(frozen=True)
class PackedNode:
    """One node of a packing: the types that can hold its pods, and its pods."""

    types: NDArray[np.bool_]
    pods: tuple[int, ...]
    cpu_millicores: float
    memory_mib: float


def pack_first_fit_decreasing(
    pod_cpu_millicores: NDArray[np.float64],
    pod_memory_mib: NDArray[np.float64],
    cap_cpu_millicores: NDArray[np.float64],
    cap_memory_mib: NDArray[np.float64],
    cap_pods: NDArray[np.int64],
) -> tuple[list[PackedNode], list[int]]:
    """Pack pods into new nodes, first-fit decreasing, as Karpenter's scheduler does.

    Pods go largest first (CPU, then memory); each into the first open node that some of its
    remaining types can hold it in, with the others (the node's types narrow), else into a new
    node that any type can hold it in.

    Parameters
    ----------
    pod_cpu_millicores, pod_memory_mib : ndarray
        Each pod's requests [millicores], [MiB].
    cap_cpu_millicores, cap_memory_mib, cap_pods : ndarray
        Per instance type: what a node offers pods [millicores], [MiB], [pods]
        (:class:`Offerings`).

    Returns
    -------
    nodes : list of PackedNode
        In the order they were opened; pods by their index in the inputs.
    unplaced : list of int
        Pods no type can hold.

    References
    ----------
    kubernetes-sigs/karpenter ``pkg/controllers/provisioning/scheduling/scheduler.go`` (pods
    by CPU then memory, descending; existing nodes, then in-flight NodeClaims, then a new one).
    """
    order = np.lexsort((-pod_memory_mib, -pod_cpu_millicores))
    all_types = np.ones(cap_pods.shape, dtype=bool)
    nodes: list[PackedNode] = []
    unplaced: list[int] = []
    i = 0
    while i < order.size:
        # A run of pods of one shape fills each node as one pod after another would: as many
        # as the node's roomiest remaining type holds (its types narrow to those holding them).
        cpu, mem = float(pod_cpu_millicores[order[i]]), float(pod_memory_mib[order[i]])
        j = i
        while (
            j < order.size
            and pod_cpu_millicores[order[j]] == cpu
            and pod_memory_mib[order[j]] == mem
        ):
            j += 1
        shape = order[i:j].tolist()
        i = j
        for k, node in enumerate(nodes):
            if not shape:
                break
            counts = _n_fit(node, cpu, mem, cap_cpu_millicores, cap_memory_mib, cap_pods)
            n = min(int(counts.max()), len(shape))
            if n > 0:
                nodes[k] = PackedNode(
                    node.types & (counts >= n),
                    (*node.pods, *shape[:n]),
                    node.cpu_millicores + n * cpu,
                    node.memory_mib + n * mem,
                )
                shape = shape[n:]
        while shape:
            empty = PackedNode(all_types, (), 0.0, 0.0)
            counts = _n_fit(empty, cpu, mem, cap_cpu_millicores, cap_memory_mib, cap_pods)
            n = min(int(counts.max()), len(shape))
            if n <= 0:
                unplaced.extend(shape)
                break
            nodes.append(PackedNode(counts >= n, tuple(shape[:n]), n * cpu, n * mem))
            shape = shape[n:]
    return nodes, unplaced


def _n_fit(
    node: PackedNode,
    cpu: float,
    mem: float,
    cap_cpu: NDArray[np.float64],
    cap_mem: NDArray[np.float64],
    cap_pods: NDArray[np.int64],
) -> NDArray[np.int64]:
    """Per type: how many more pods of one shape the node holds on it (0 off its types)."""
    counts = (cap_pods - len(node.pods)).astype(np.float64)
    for cap, used, need in ((cap_cpu, node.cpu_millicores, cpu), (cap_mem, node.memory_mib, mem)):
        room = cap - used
        if need > 0:
            n = np.floor(room / need)
            n -= (used + n * need) > cap  # never past the capacity, whatever the rounding
            counts = np.minimum(counts, n)
        else:
            counts = np.where(room >= 0, counts, -1.0)
    return np.where(node.types, np.maximum(counts, 0), 0).astype(np.int64)


def fill_rooms(
    pod_cpu_millicores: NDArray[np.float64],
    pod_memory_mib: NDArray[np.float64],
    room_cpu_millicores: NDArray[np.float64],
    room_memory_mib: NDArray[np.float64],
    room_pods: NDArray[np.int64],
) -> list[int]:
    """Pods (largest first, CPU then memory) first-fit into the free room of existing nodes;
    the pods no room holds.

    Karpenter's scheduler places pending pods on the cluster's nodes and the nodes it has in
    flight before it opens new ones; a run of pods of one shape fills each room in turn.

    Examples
    --------
    Rooms of 1000 m and 500 m hold two 400 m pods and one; the fourth is left:

    >>> fill_rooms(np.full(4, 400.0), np.zeros(4), np.array([1000.0, 500.0]),
    ...            np.array([1e6, 1e6]), np.array([10, 10]))
    [3]
    """
    rooms = np.stack([room_cpu_millicores, room_memory_mib]).astype(np.float64)
    n_pods = np.asarray(room_pods, dtype=np.float64).copy()
    order = np.lexsort((-pod_memory_mib, -pod_cpu_millicores))
    left: list[int] = []
    i = 0
    while i < order.size:
        need = np.array([pod_cpu_millicores[order[i]], pod_memory_mib[order[i]]])
        j = i
        while j < order.size and (
            pod_cpu_millicores[order[j]] == need[0] and pod_memory_mib[order[j]] == need[1]
        ):
            j += 1
        counts = n_pods.copy()
        for r in range(2):
            if need[r] > 0:
                n = np.floor(rooms[r] / need[r])
                n -= n * need[r] > rooms[r]
                counts = np.minimum(counts, n)
            else:
                counts = np.where(rooms[r] >= 0, counts, 0.0)
        counts = np.maximum(counts, 0.0)
        before = np.cumsum(counts) - counts
        take = np.clip(j - i - before, 0.0, counts)
        rooms -= take * need[:, None]
        n_pods -= take
        left.extend(order[i + int(take.sum()) : j].tolist())
        i = j
    return left


def _free_room(
    run: ClusterRun, nodes: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """What the scheduler has not given out on these nodes: [millicores], [MiB], [pods]."""
    state = run.cluster.nodes
    return (
        (state[nodes, _k.ALLOCATABLE_CPU] - state[nodes, _k.REQUESTED_CPU]).astype(np.float64),
        (state[nodes, _k.ALLOCATABLE_MEM] - state[nodes, _k.REQUESTED_MEM]) / _MIB,
        state[nodes, _k.ALLOCATABLE_PODS] - state[nodes, _k.REQUESTED_PODS],
    )


class SubnetChooser:
    """Karpenter's subnet for a launch: per zone the subnet with the most available IPs less
    those in flight, skipping subnets that refused a launch in the last 3 min.

    Parameters
    ----------
    subnet_ids : sequence of str
        The EC2NodeClass's subnets, in the VPC's order (the first wins a tie).
    zone_of : mapping of str to str
        Subnet -> its zone.

    Examples
    --------
    >>> chooser = SubnetChooser(["a1", "a2", "b1"], {"a1": "za", "a2": "za", "b1": "zb"})
    >>> chooser.refresh({"a1": 10, "a2": 30, "b1": 20}, 0.0)
    >>> chooser.choose(("za", "zb"), 0.0)
    'a2'
    >>> chooser.launched("a2", 29)  # 30 - 29 = 1 left in flight
    >>> chooser.choose(("za", "zb"), 0.0)
    'b1'
    """

    def __init__(self, subnet_ids: Sequence[str], zone_of: Mapping[str, str]) -> None:
        self._subnets = list(subnet_ids)
        self._zone = dict(zone_of)
        self._cached: dict[str, int] = dict.fromkeys(self._subnets, 0)
        self._inflight: dict[str, int] = {}
        self._refreshed_s = -math.inf
        self._unavailable_until_s: dict[str, float] = {}

    @property
    def subnet_ids(self) -> tuple[str, ...]:
        """The subnets it chooses among."""
        return tuple(self._subnets)

    def needs_refresh(self, now_s: float) -> bool:
        """Whether DescribeSubnets is due (every :data:`SUBNET_REFRESH_S`)."""
        return now_s >= self._refreshed_s + SUBNET_REFRESH_S

    def refresh(self, available: Mapping[str, int], now_s: float) -> None:
        """DescribeSubnets' AvailableIpAddressCount of each subnet: in-flight IPs are forgotten."""
        self._cached.update(available)
        self._inflight.clear()
        self._refreshed_s = now_s

    def available(self, subnet_id: str) -> int:
        """Available IPs as Karpenter counts them: the cached count less those in flight."""
        return self._inflight.get(subnet_id, self._cached[subnet_id])

    def unavailable(self, subnet_id: str, now_s: float) -> bool:
        """Whether the subnet refused a launch less than 3 min ago."""
        return self._unavailable_until_s.get(subnet_id, -math.inf) > now_s

    def zonal(self, zones: Sequence[str], now_s: float) -> dict[str, str]:
        """Zone -> the subnet a launch there would use (zones with none left out)."""
        out: dict[str, str] = {}
        for subnet_id in self._subnets:
            zone = self._zone[subnet_id]
            if zone not in zones or self.unavailable(subnet_id, now_s):
                continue
            if zone not in out or self.available(subnet_id) > self.available(out[zone]):
                out[zone] = subnet_id
        return out

    def choose(self, zones: Sequence[str], now_s: float) -> str | None:
        """The subnet of the next launch: of the zonal ones, the one with the most available
        IPs (the first zone on a tie); None if every subnet is unavailable."""
        zonal = list(self.zonal(zones, now_s).values())
        if not zonal:
            return None
        return max(zonal, key=self.available)

    def launched(self, subnet_id: str, n_ips: int) -> None:
        """A launch in the subnet: its in-flight count drops by ``n_ips`` (the smallest max pods
        of the launch's types) until the next refresh."""
        self._inflight[subnet_id] = self.available(subnet_id) - n_ips

    def refused(self, subnet_id: str, now_s: float) -> None:
        """InsufficientFreeAddressesInSubnet: unavailable for 3 min, its count 0 (a subnet it
        does not choose among is ignored)."""
        if subnet_id not in self._cached:
            return
        self._unavailable_until_s[subnet_id] = now_s + UNAVAILABLE_SUBNET_TTL_S
        self._cached[subnet_id] = 0
        self._inflight.pop(subnet_id, None)


@dataclass(frozen=True)
class KarpenterSummary:
    """What Karpenter did in a run.

    Attributes
    ----------
    node_pools : tuple of str
        The NodePools, in order.
    n_nodes_launched : tuple of int
        Per pool: nodes launched [nodes].
    launches : tuple of (float, str, str, str)
        Every launch: time [s], pool, instance type, subnet.
    refused : tuple of (float, str)
        Every launch refused with InsufficientFreeAddressesInSubnet: time [s], subnet (then
        unavailable for 3 min).
    n_batches : int
        Batches of pending pods solved.
    n_registration_timeouts : int
        Nodes terminated for not being Ready 15 min after launch.
    n_pods_over_limits : int
        The most pods one batch could not launch for within the pools' limits.
    n_consolidated : int
        Nodes removed by consolidation (deleted or replaced).
    n_replaced : int
        Of those, nodes replaced by a cheaper one (which was Ready first).
    """

    node_pools: tuple[str, ...]
    n_nodes_launched: tuple[int, ...]
    launches: tuple[tuple[float, str, str, str], ...]
    refused: tuple[tuple[float, str], ...]
    n_batches: int
    n_registration_timeouts: int
    n_pods_over_limits: int
    n_consolidated: int
    n_replaced: int


@dataclass
class _Pool:
    pool: NodePool
    g: int
    offerings: Offerings
    chooser: SubnetChooser
    n_launched: int = 0


@dataclass
class _Claim:
    """A node Karpenter launched and waits for."""

    pool: int
    launch_s: float
    subnet_id: str
    replaces: int | None = None  # consolidation: the node it replaces once Ready


class KarpenterController:
    """Karpenter's provisioner and disruption controller over a cluster run.

    Consolidation (every 10 s, when no pod is pending and no launch is in flight), per pool, at
    most its budget of nodes at a time (the fraction of its nodes, rounded up, less those being
    disrupted): ``WhenEmpty`` removes Ready nodes with no pod but DaemonSets' for
    ``consolidateAfter``; ``WhenEmptyOrUnderutilized`` also removes a node whose pods fit on the
    other Ready nodes (fewest pods first), and replaces a node by a cheaper type of its pool
    that holds its pods (the replacement is launched and Ready before the old node goes: a
    transient extra node of addresses).

    Simplified: consolidation considers one node at a time (not Karpenter's multi-node
    consolidation), and its check that the pods fit elsewhere is first-fit over the other
    nodes' free requests (kube-scheduler then places them as it likes).
    """

    name = "karpenter"
    #: Its next step depends on the pods the scheduler could not place (they open a batch):
    #: the run asks again after every tick that leaves some pending.
    watches_unschedulable = True

    def __init__(self, plan: Plan, run: ClusterRun) -> None:
        assert plan.karpenter is not None
        self._plan = plan
        self._karpenter = plan.karpenter
        self._run = run
        self._config = IpamdConfig.from_env(dict(plan.aws_node.env))
        ds_table, _ = daemonset_pods(run.workloads, [0], 0.0)
        zone_of = {s.id: s.az for s in plan.vpc.subnets}
        self._pools: list[_Pool] = []
        for pool in self._karpenter.node_pools:
            offerings = pool_offerings(
                plan,
                pool,
                run.catalog,
                self._config,
                float(ds_table.cpu_millicores.sum()),
                float(ds_table.memory_mib.sum()),
                len(ds_table),
                run.cni_subnets_by_az,
            )
            subnets = self._karpenter.node_class(pool.node_class).subnets(plan.vpc)
            self._pools.append(
                _Pool(
                    pool, run.add_node_pool(pool.name), offerings, SubnetChooser(subnets, zone_of)
                )
            )
            if any(
                KARPENTER_REQUIREMENT_KEYS[r.key] == "capacity_type" and _admits(r, "spot")
                for r in pool.requirements
            ):
                run.note(f"karpenter: NodePool {pool.name} allows spot: cnisim launches on-demand")
        if plan.region != "us-east-1":
            run.note(
                f"karpenter: prices are the shipped us-east-1 on-demand table, not {plan.region}'s"
                " (karpenter.prices overrides them)"
            )
        self._boot_rng = run.world.stream("karpenter")
        self._boot_sigma = boot_sigma(self._karpenter.boot)
        self._claims: dict[int, _Claim] = {}
        self._next_id = 0
        self._batch_open_s = math.nan
        self._batch_last_s = math.nan
        self._batch_seen: set[int] = set()
        self._hold_until_s = -math.inf
        self._next_consolidation_s = 0.0
        self._seen: dict[int, tuple[frozenset[int], float]] = {}  # node -> its pods, since
        self._launches: list[tuple[float, str, str, str]] = []
        self._refused: list[tuple[float, str]] = []
        self._n_batches = 0
        self._n_timeouts = 0
        self._n_over_limits = 0
        self._n_over_batch = 0
        self._n_consolidated = 0
        self._n_replaced = 0

    # ------------------------------------------------------------------ the clock
    def _pending(self) -> list[int]:
        """Pods the scheduler could not place that neither the Ready nodes' room nor the nodes
        in flight hold (:func:`fill_rooms`): those need new nodes."""
        run = self._run
        pods = np.fromiter(run.unschedulable, dtype=np.int64, count=len(run.unschedulable))
        pods.sort()
        pods = pods[np.isnan(run.pods["bound_s"][pods]) & np.isnan(run.pods["deleted_s"][pods])]
        if not pods.size:
            return []
        # the room of the Ready nodes (what the scheduler has not given out), then of the
        # nodes in flight (what their type offers pods)
        room = _free_room(run, np.flatnonzero(run.node_ready & ~run.node_gone))
        flying: list[list[float]] = [[], [], []]
        for node, claim in self._claims.items():
            if not (run.node_ready[node] or run.node_gone[node]):
                offerings = self._pools[claim.pool].offerings
                i = offerings.instance_types.index(run.node_request[node].instance_type)
                flying[0].append(offerings.cpu_millicores[i])
                flying[1].append(offerings.memory_mib[i])
                flying[2].append(offerings.n_pods[i])
        table = run.pods.table(pods)
        left = fill_rooms(
            table.cpu_millicores.astype(np.float64),
            table.memory_mib,
            np.concatenate([room[0], flying[0]]).astype(np.float64),
            np.concatenate([room[1], flying[1]]).astype(np.float64),
            np.concatenate([room[2], flying[2]]).astype(np.int64),
        )
        return sorted(pods[left].tolist())

    def next_due_s(self, now_s: float) -> float:
        due = [self._next_consolidation_s if self._run.node_group else math.inf]
        if not math.isnan(self._batch_open_s):
            due.append(
                min(
                    self._batch_last_s + self._karpenter.batch_idle_s,
                    self._batch_open_s + self._karpenter.batch_max_s,
                )
            )
        elif self._pending():
            due.append(max(now_s, self._hold_until_s))
        due.extend(claim.launch_s + REGISTRATION_TTL_S for claim in self._claims.values())
        return max(min(due), now_s)

    def step(self, run: ClusterRun, now_s: float) -> bool:
        changed = self._settle_claims(run, now_s)
        pending = self._pending()
        if math.isnan(self._batch_open_s):
            if pending and now_s >= self._hold_until_s:
                self._batch_open_s = self._batch_last_s = now_s
                self._batch_seen = set(pending)
        else:
            new = set(pending) - self._batch_seen
            if new:
                self._batch_last_s = now_s
                self._batch_seen |= new
            closes_s = min(
                self._batch_last_s + self._karpenter.batch_idle_s,
                self._batch_open_s + self._karpenter.batch_max_s,
            )
            if now_s >= closes_s:
                self._batch_open_s = math.nan
                self._n_batches += 1
                if pending:
                    self._solve(run, pending, now_s)
        if now_s >= self._next_consolidation_s:
            self._next_consolidation_s = now_s + _RETRY_S
            if not pending and not self._in_flight(run):
                changed = self._consolidate(run, now_s) or changed
        return changed

    def _in_flight(self, run: ClusterRun) -> bool:
        return any(not (run.node_ready[n] or run.node_gone[n]) for n in self._claims)

    def _settle_claims(self, run: ClusterRun, now_s: float) -> bool:
        """Launched nodes that became Ready, failed or timed out; True if a node left."""
        changed = False
        for node, claim in list(self._claims.items()):
            if run.node_ready[node]:
                del self._claims[node]
                if claim.replaces is not None and not run.node_gone[claim.replaces]:
                    run.terminate_node(claim.replaces, now_s, decrement_desired=False)
                    self._n_consolidated += 1
                    self._n_replaced += 1
                    changed = True
            elif run.node_gone[node]:  # the subnet had no address for it when it booted
                del self._claims[node]
                self._refuse(claim.subnet_id, now_s)
            elif now_s >= claim.launch_s + REGISTRATION_TTL_S:
                del self._claims[node]
                run.terminate_node(node, now_s, decrement_desired=False)
                self._n_timeouts += 1
                changed = True
        return changed

    def _refuse(self, subnet_id: str, now_s: float) -> None:
        """A launch refused with InsufficientFreeAddressesInSubnet: every pool skips the
        subnet for 3 min (the unavailable offerings cache is Karpenter's, not a pool's)."""
        for p in self._pools:
            p.chooser.refused(subnet_id, now_s)
        self._refused.append((now_s, subnet_id))

    # ------------------------------------------------------------------ provisioning
    def _refresh(self, run: ClusterRun, chooser: SubnetChooser, now_s: float) -> None:
        if not chooser.needs_refresh(now_s):
            return
        run.catch_up(now_s)  # the engine's addresses and EC2 calls up to this tick
        run.world.describe(now_s, "DescribeSubnets")
        chooser.refresh(
            {s: run.world.available_ip_address_count(s) for s in chooser.subnet_ids}, now_s
        )

    def _pool_usage(self, run: ClusterRun, p: _Pool) -> tuple[float, float]:
        """The pool's live nodes' capacity: vCPUs x 1000 [millicores], memory [MiB]."""
        offerings = p.offerings
        index = {t: i for i, t in enumerate(offerings.instance_types)}
        cpu = mem = 0.0
        for node, g in enumerate(run.node_group):
            if g == p.g and not run.node_gone[node]:
                i = index[run.node_request[node].instance_type]
                cpu += 1000.0 * offerings.vcpus[i]
                mem += float(offerings.memory_capacity_mib[i])
        return cpu, mem

    def _solve(self, run: ClusterRun, pending: list[int], now_s: float) -> None:
        """Pack the batch's pods into new nodes of the first pool that takes them, and launch."""
        ids = np.array(pending, dtype=np.int64)
        table = run.pods.table(ids)
        self._n_over_batch = 0
        left = np.ones(ids.size, dtype=bool)
        for k, p in enumerate(self._pools):
            if not left.any():
                break
            rows = np.flatnonzero(left)
            offerings = p.offerings
            nodes, _ = pack_first_fit_decreasing(
                table.cpu_millicores[rows].astype(np.float64),
                table.memory_mib[rows],
                offerings.cpu_millicores,
                offerings.memory_mib,
                offerings.n_pods,
            )
            self._refresh(run, p.chooser, now_s)
            used_cpu, used_mem = self._pool_usage(run, p)
            for packed in nodes:
                pods = rows[list(packed.pods)]
                node = self._launch(run, k, p, packed.types, ids[pods], now_s, used_cpu, used_mem)
                if node is None:
                    continue
                left[pods] = False
                i = p.offerings.instance_types.index(run.node_request[node].instance_type)
                used_cpu += 1000.0 * p.offerings.vcpus[i]
                used_mem += float(p.offerings.memory_capacity_mib[i])
        self._n_over_limits = max(self._n_over_limits, self._n_over_batch)
        if left.any():
            self._hold_until_s = now_s + _RETRY_S

    def _launch(
        self,
        run: ClusterRun,
        k: int,
        p: _Pool,
        types: NDArray[np.bool_],
        pods: NDArray[np.int64],
        now_s: float,
        used_cpu: float,
        used_mem: float,
        replaces: int | None = None,
    ) -> int | None:
        """Launch the cheapest of ``types`` within the pool's limits; its node, or None."""
        offerings, pool = p.offerings, p.pool
        within = (
            types
            & (used_cpu + 1000.0 * offerings.vcpus <= pool.limit_cpu_millicores)
            & (used_mem + offerings.memory_capacity_mib <= pool.limit_memory_mib)
        )
        if not within.any():
            self._n_over_batch += pods.size
            return None
        subnet_id = p.chooser.choose(offerings.zones, now_s)
        if subnet_id is None:
            return None
        run.catch_up(now_s)  # the engine's addresses up to this tick
        if run.world.stats(subnet_id).n_free_ips_outside_reservations == 0:
            # CreateFleet: InsufficientFreeAddressesInSubnet, no node (EC2 picks no address
            # in a CIDR reservation, which DescribeSubnets still counts as available)
            self._refuse(subnet_id, now_s)
            return None
        i = int(np.argmin(np.where(within, offerings.price_usd_per_hour, np.inf)))
        instance_type = offerings.instance_types[i]
        boot_s = self._karpenter.boot.median_s * math.exp(
            self._boot_sigma * float(self._boot_rng.standard_normal())
        )
        zone = self._plan.vpc.subnet(subnet_id).az
        request = LaunchRequest(
            pool.name, self._next_id, instance_type, zone, subnet_id, now_s, now_s + boot_s
        )
        self._next_id += 1
        spec = replace(offerings.specs.node_spec(request), max_pods=int(offerings.max_pods[i]))
        node = run.launch_node(p.g, request, spec, offerings.capacity[i], self._config)
        p.chooser.launched(subnet_id, int(offerings.max_pods[types].min()))
        p.n_launched += 1
        self._claims[node] = _Claim(k, now_s, subnet_id, replaces)
        self._launches.append((now_s, pool.name, instance_type, subnet_id))
        return node

    # ------------------------------------------------------------------ disruption
    def _consolidate(self, run: ClusterRun, now_s: float) -> bool:
        """One consolidation pass (see the class docstring); True if a node left."""
        changed = False
        kind = run.pods["kind"]
        for k, p in enumerate(self._pools):
            live = [n for n, g in enumerate(run.node_group) if g == p.g and not run.node_gone[n]]
            budget = math.ceil(p.pool.budget_nodes_frac * len(live) - 1e-9)
            candidates = []
            for node in live:
                pods = frozenset(q for q in run.pods_on[node] if kind[q] != _DAEMONSET_KIND)
                seen = self._seen.get(node)
                if seen is None or seen[0] != pods:
                    self._seen[node] = (pods, now_s)  # its pods changed: the wait starts again
                    continue
                if run.node_ready[node] and now_s - seen[1] >= p.pool.consolidate_after_s:
                    candidates.append((len(pods), node, pods))
            for n_pods, node, pods in sorted(candidates):
                if budget <= 0:
                    break
                if n_pods and p.pool.consolidation_policy == "WhenEmpty":
                    continue
                if not n_pods or self._fits_elsewhere(run, node, pods):
                    run.terminate_node(node, now_s, decrement_desired=False)
                    self._n_consolidated += 1
                    budget -= 1
                    changed = True
                elif self._replace(run, k, p, node, pods, now_s):
                    return changed  # one replacement at a time: wait for it to be Ready
        return changed

    def _fits_elsewhere(self, run: ClusterRun, node: int, pods: frozenset[int]) -> bool:
        """Whether the node's pods fit, first-fit decreasing, in the free requests of the other
        Ready nodes."""
        others = np.flatnonzero(run.node_ready & ~run.node_gone)
        room = _free_room(run, others[others != node])
        table = run.pods.table(np.array(sorted(pods), dtype=np.int64))
        return not fill_rooms(table.cpu_millicores.astype(np.float64), table.memory_mib, *room)

    def _replace(
        self, run: ClusterRun, k: int, p: _Pool, node: int, pods: frozenset[int], now_s: float
    ) -> bool:
        """Launch a cheaper type of the pool that holds the node's pods; True if launched."""
        offerings = p.offerings
        table = run.pods.table(np.array(sorted(pods), dtype=np.int64))
        price = offerings.price_usd_per_hour[
            offerings.instance_types.index(run.node_request[node].instance_type)
        ]
        types = (
            (offerings.cpu_millicores >= table.cpu_millicores.sum())
            & (offerings.memory_mib >= table.memory_mib.sum())
            & (offerings.n_pods >= len(table))
            & (offerings.price_usd_per_hour < price)
        )
        if not types.any():
            return False
        self._refresh(run, p.chooser, now_s)
        used_cpu, used_mem = self._pool_usage(run, p)
        ids = np.array(sorted(pods), dtype=np.int64)
        return self._launch(run, k, p, types, ids, now_s, used_cpu, used_mem, node) is not None

    def summary(self) -> KarpenterSummary:
        return KarpenterSummary(
            node_pools=tuple(p.pool.name for p in self._pools),
            n_nodes_launched=tuple(p.n_launched for p in self._pools),
            launches=tuple(self._launches),
            refused=tuple(self._refused),
            n_batches=self._n_batches,
            n_registration_timeouts=self._n_timeouts,
            n_pods_over_limits=self._n_over_limits,
            n_consolidated=self._n_consolidated,
            n_replaced=self._n_replaced,
        )


def karpenter_controllers(plan: Plan, run: ClusterRun) -> list[KarpenterController]:
    """Karpenter's controller if the plan has Karpenter."""
    return [] if plan.karpenter is None else [KarpenterController(plan, run)]
