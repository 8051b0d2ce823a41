"""A cluster run: node groups, workloads and the scheduler around ipamd on every node.

:func:`simulate` builds the World from the plan's VPC, an Auto Scaling group per node group, the
pods of every workload, and drives an ipamd engine through its driver interface
(:mod:`cnisim.sim.drive`) with a small clock, as simpy's ``run(until)`` does: each part says
when it is next due and the loop jumps there.

Per tick at which anything is due, in this order:

1. the engine runs up to this tick (joins, completions, DELs, ADDs, pool steps, samples);
2. nodes whose pool got its first address become Ready (kubelet Ready and ipamd's first
   address, whichever is later); nodes whose launch failed (node subnet full) go back to their
   Auto Scaling group, which launches again in another AZ;
3. pods whose lifetime ended leave their node (its requests and its pods slot are freed);
4. new pods are created (Deployments at their start, Jobs as their stream arrives);
5. the scheduler places pending pods on Ready nodes, one at a time; a bound pod's ADD is due at
   the next tick and its DEL at the end of its lifetime;
6. the scenario's own series are sampled (the pods waiting for an address at a sample are
   read later from the engine's node samples of the same tick, which it takes at its end).

Ticks at which only steps 3 to 6 have anything to do (pods end, arrive and are scheduled, a
sample is due) run in compiled code, many at a time, between the run's stops
(:mod:`._scenariokernels`); they do exactly what the steps above do, one tick at a time
(``tests/test_scenario_ticks.py``).

Simplifications (each also in the README):

- A node joins the engine (its primary ENI and node IP, then ipamd's pre-scaling) when it has
  booted (the kubelet's Ready time, a seeded draw), not at the EC2 launch: its node address is
  taken that much later than in EC2, and a launch into a full subnet fails (and goes back to
  its Auto Scaling group) then. ipamd itself starts only once the node has booted, so its
  warm pool is right.
- A pod's lifetime runs from its binding; image pulls and container start take no time.
- Scheduling is instantaneous and binds at most the pods pending at that tick; the kubelet sees
  a binding at the next tick.
- DaemonSet pods are bound to each node as it becomes Ready (the DaemonSet controller's
  binding, no scheduler cycle); host-network ones take a pods slot and no address.
- Node groups keep their desired size unless the cluster autoscaler (``autoscaler:``,
  :mod:`cnisim.sim.autoscaler`) changes it, or a version update (:mod:`cnisim.sim.upgrades`)
  surges and drains them; Karpenter's nodes (:mod:`cnisim.sim.karpenter`) come from no node
  group.
- IPv6 clusters (``ipFamily: IPv6``): ipamd gives each node a /80 and pods no IPv4 address, so
  no engine runs; each node takes its one IPv4 node address from its subnet when it boots
  (and fails to launch if the subnet is full), and is Ready then.

References
----------
kubernetes ``pkg/scheduler/schedule_one.go`` (one pod at a time); ``docs/cluster-model.md``.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections.abc import Callable
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cnisim.catalog import Catalog
from cnisim.cni import IpamdConfig
from cnisim.errors import UsageError
from cnisim.plan import Plan
from cnisim.sim import _rng
from cnisim.sim import _scenariokernels as _k
from cnisim.sim import _schedulerkernels as _sched_k
from cnisim.sim.autoscaler import ClusterAutoscaler
from cnisim.sim.contract import NodeSpec, first_tick_at
from cnisim.sim.controllers import Controller, PodClaimer
from cnisim.sim.drive import EngineDriver
from cnisim.sim.fargate import FargateController
from cnisim.sim.holders import HoldersController, holders_in
from cnisim.sim.nodegroups import (
    AutoScalingGroup,
    DesiredChange,
    GroupNodeSpecs,
    LaunchRequest,
    node_ready_s,
)
from cnisim.sim.nodes import NodeCapacity, node_capacity
from cnisim.sim.rollouts import workload_controllers
from cnisim.sim.scenario_result import SimulationResult
from cnisim.sim.scheduler import (
    DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE,
    ClusterState,
    PendingPods,
    fit_error,
    num_feasible_nodes_to_find,
)
from cnisim.sim.spec import max_pods_options
from cnisim.sim.subnet import InsufficientAddressesError
from cnisim.sim.workload import PodEvents
from cnisim.sim.workloads import (
    AWS_NODE,
    KUBE_PROXY,
    WORKLOAD_KINDS,
    PodTable,
    daemonset_pods,
    generate_pods,
)
from cnisim.sim.world import World

__all__ = ["CNI_SUBNET_TAG", "ENGINES", "ClusterRun", "EngineName", "make_controllers", "simulate"]

EngineName = Literal["fast", "reference"]
ENGINES: Final = ("fast", "reference")

#: Subnet tag that ipamd's subnet discovery looks for (GetVpcSubnets, CNI >= 1.18).
CNI_SUBNET_TAG: Final = "kubernetes.io/role/cni"

_DAEMONSET_KIND: Final = WORKLOAD_KINDS.index("DaemonSet")
_DEPLOYMENT_KIND: Final = WORKLOAD_KINDS.index("Deployment")

#: Engine events as the compiled code writes them: time [s], node, delta, pod, branch.
_Events = tuple[
    NDArray[np.float64], NDArray[np.int64], NDArray[np.int8], NDArray[np.int64], NDArray[np.bool_]
]


def _new_events(size: int) -> _Events:
    return (
        np.empty(size),
        np.empty(size, dtype=np.int64),
        np.empty(size, dtype=np.int8),
        np.empty(size, dtype=np.int64),
        np.empty(size, dtype=np.bool_),
    )


#: New pods up to this many find their score cache rows one by one, more by numpy uniques
#: (which cost some 20 us a call however few).
_FEW_NEW_PODS: Final = 256
#: Stops a run with a progress bar makes, spread over its duration, so that the bar moves.
_PROGRESS_STOPS: Final = 100


class _PodStore:
    """Every pod of the run as growable arrays (row = the engine's pod id).

    Beside the PodTable's columns, the run's own (:mod:`._scenariokernels` layout): when each
    was bound and deleted, its node, its scheduler shape, whether a claimer took it, the links
    of its node's pod list, and ``fail``, its last failed scheduling attempt.
    """

    _TABLE_FIELDS: Final = tuple(
        f.name for f in dataclasses.fields(PodTable) if f.name != "workload_names"
    )
    #: The run's own columns: the value of a new pod, and the type.
    _RUN_COLUMNS: Final[dict[str, tuple[Any, type]]] = {
        "bound_s": (math.nan, np.float64),
        "deleted_s": (math.nan, np.float64),
        "node": (-1, np.int64),
        "shape": (-1, np.int64),
        "offloaded": (False, np.bool_),
        "next": (-1, np.int64),
        "prev": (-1, np.int64),
    }

    def __init__(self, table: PodTable) -> None:
        self.workload_names = table.workload_names
        self.n = 0
        self.n_shaped = 0  # pods [0, n_shaped) have their scheduler shape
        self.columns: dict[str, NDArray[Any]] = {}
        self.fail = np.zeros((0, 1 + _sched_k.N_FAILURES), dtype=np.int64)
        self.reason: dict[int, str] = {}  # set by claimers (Fargate)
        self.append(table)

    def __getitem__(self, name: str) -> NDArray[Any]:
        return self.columns[name][: self.n]

    def append(self, table: PodTable) -> NDArray[np.int64]:
        """Add pods; their ids."""
        first, n_new = self.n, len(table)
        if not self.columns or first + n_new > self.fail.shape[0]:
            size = max(2 * (first + n_new), 1024)
            columns = {name: getattr(table, name).dtype for name in self._TABLE_FIELDS}
            for name, (fill, dtype) in self._RUN_COLUMNS.items():
                grown: NDArray[Any] = np.full(size, fill, dtype=dtype)
                if name in self.columns:
                    grown[:first] = self.columns[name][:first]
                self.columns[name] = grown
            for name, dtype in columns.items():
                grown = np.zeros(size, dtype=dtype)
                if name in self.columns:
                    grown[:first] = self.columns[name][:first]
                self.columns[name] = grown
            fail = np.full((size, self.fail.shape[1]), -1, dtype=np.int64)
            fail[:first] = self.fail[:first]
            self.fail = fail
        for name in self._TABLE_FIELDS:
            self.columns[name][first : first + n_new] = getattr(table, name)
        self.n += n_new
        return np.arange(first, self.n, dtype=np.int64)

    def table(self, ids: NDArray[np.int64]) -> PodTable:
        """The pods ``ids`` as a PodTable (for the scheduler and its cache).

        Built without PodTable's shape checks: rows of one store are consistent by
        construction, and this runs several times per tick.
        """
        table = object.__new__(PodTable)
        columns = self.columns
        fields = table.__dict__
        for name in self._TABLE_FIELDS:
            fields[name] = columns[name][ids]
        fields["workload_names"] = self.workload_names
        return table


class _NodePods:
    """Read-only: per node, the pods bound there and still running (``run.pods_on[node]``)."""

    def __init__(self, run: ClusterRun) -> None:
        self._run = run

    def __len__(self) -> int:
        return len(self._run.node_group)

    def __getitem__(self, node: int) -> frozenset[int]:
        pod_next = self._run.pods.columns["next"]
        pods = []
        pod = int(self._run.node_first[node])
        while pod >= 0:
            pods.append(pod)
            pod = int(pod_next[pod])
        return frozenset(pods)


def _capacity(
    catalog: Catalog, group_specs: GroupNodeSpecs, plan: Plan, g: int
) -> dict[str, NodeCapacity]:
    """Per instance type of group ``g``: one node's allocatable resources."""
    group = plan.node_groups[g]
    extra: dict[str, Any] = {}
    if group.ami_family == "Bottlerocket":
        extra["reservation_basis"] = "bottlerocket"
    options = max_pods_options(plan.ipamd_config(group), cni_version=plan.cni_version, **extra)
    return {
        name: node_capacity(catalog, [name], options=options, max_pods=group_specs.max_pods[name])
        for name in group.instance_types
    }


def _make_world(plan: Plan, engine: EngineName) -> World:
    subnet_cidrs = {subnet.id: subnet.cidr for subnet in plan.vpc.subnets}
    world: World
    if engine == "fast":
        from cnisim.sim.fastworld import FastWorld

        world = FastWorld(subnet_cidrs, seed=plan.run.seed)
    else:
        from cnisim.sim.world import PlainWorld

        world = PlainWorld(subnet_cidrs, seed=plan.run.seed)
    for subnet in plan.vpc.subnets:
        for reservation in subnet.reservations:
            world.reserve_cidr(subnet.id, reservation.cidr, reservation.type)
    return world


def _make_engine(plan: Plan, engine: EngineName, world: World) -> EngineDriver:
    options: dict[str, Any] = {
        "tick_s": plan.run.tick_s,
        "sample_every_s": plan.run.sample_every_s,
        "placement": "random",  # ipamd walks Go maps: no address order is preferred
    }
    if engine == "fast":
        from cnisim.sim.fastengine import Engine

        return Engine(world, **options)  # type: ignore[arg-type]
    from cnisim.sim.ipamd import ReferenceEngine

    return ReferenceEngine(world, **options)  # type: ignore[arg-type]


class ClusterRun:
    """One simulation's state and clock.

    :func:`simulate` builds and runs it. Controllers (:mod:`cnisim.sim.controllers`) act on it
    through its public methods only: :meth:`add_pods`, :meth:`delete_pods`,
    :meth:`set_group_desired`, :meth:`terminate_node`, :meth:`note`, :meth:`claim_pods`
    (take new pods before the scheduler sees them), :meth:`catch_up` (before taking or
    returning subnet addresses), and read its state
    (``cluster``, ``pods``, ``queue``, ``unschedulable``, ``node_group``, ``node_ready``,
    ``node_gone``, ``node_launch_s``, ``asgs``, ``world``, ``engine``; ``capacity``, each
    group's allocatable per instance type, and ``catalog``, the instance data, for templates
    of new nodes) and :meth:`pods_available`.
    """

    def __init__(self, plan: Plan, catalog: Catalog, engine: EngineName) -> None:
        self.plan = plan
        self.catalog = catalog
        self.tick_s = plan.run.tick_s
        self.duration_s = plan.run.duration_s
        self.engine_name = engine
        self.world = _make_world(plan, engine)
        self.engine = _make_engine(plan, engine, self.world)
        self.rng_pods = self.world.stream("workloads")
        # kube-scheduler's tie-breaks: the "scheduler" stream's PCG64 state, drawn from in
        # compiled code only (:mod:`._rng`)
        self.scheduler_rng_state = _rng.state_of(self.world.stream("scheduler"))
        self.zones = sorted({subnet.az for subnet in plan.vpc.subnets})
        self.notes: list[str] = list(plan.ipamd_warnings())
        # node groups
        tagged: dict[str, list[str]] = {}
        for subnet in plan.vpc.subnets:
            if subnet.tags.get(CNI_SUBNET_TAG) == "1":
                tagged.setdefault(subnet.az, []).append(subnet.id)
        #: Subnet discovery: AZ -> the subnets tagged for the CNI there.
        self.cni_subnets_by_az = tagged
        self.configs = [plan.ipamd_config(group) for group in plan.node_groups]
        self.specs = [
            GroupNodeSpecs(
                group,
                catalog,
                config,
                cni_version=plan.cni_version,
                eni_configs=plan.aws_node.eni_configs,
                extra_subnets=tagged,
            )
            for group, config in zip(plan.node_groups, self.configs, strict=True)
        ]
        self.capacity = [_capacity(catalog, specs, plan, g) for g, specs in enumerate(self.specs)]
        #: Node groups, then provisioners' pseudo groups (:meth:`add_node_pool`).
        self.group_names = [group.name for group in plan.node_groups]
        self.asgs = [
            AutoScalingGroup(
                group,
                [plan.vpc.subnet(subnet_id) for subnet_id in group.subnets],
                self.world.stream(f"nodegroup:{group.name}"),
            )
            for group in plan.node_groups
        ]
        # workloads: the plan's (CoreDNS included unless removed) and EKS's DaemonSets
        self.workloads = (*plan.all_workloads, AWS_NODE, KUBE_PROXY)
        self.pods = _PodStore(generate_pods(self.workloads, self.duration_s, self.rng_pods))
        self.n_generated = self.pods.n
        self.queue = PendingPods()
        #: The compiled ticks' counters (:mod:`._scenariokernels`: the ends heap's size, the
        #: next generated pod to arrive, the scheduler's next start index, events written).
        self.ctr = np.zeros(_k.N_CTR, dtype=np.int64)
        self.heap_s = np.zeros(1024)  # pods with a finite life: (end [s], pod), a min-heap
        self.heap_pod = np.zeros(1024, dtype=np.int64)
        self.node_first = np.zeros(0, dtype=np.int64)  # per node: its first pod, or -1
        self.events = _new_events(1024)  # what the compiled code gives the engine
        #: Per node: the pods bound there and still running (a read-only mapping).
        self.pods_on = _NodePods(self)
        self.n_address_pods = np.zeros(0, dtype=np.int64)  # per node: those with an address
        # nodes (ids = the engine's)
        self.cluster = ClusterState(len(self.workloads))  # the scheduler's cache
        self.node_group: list[int] = []
        self.node_group_ids = np.zeros(0, dtype=np.int64)  # node_group, for compiled code
        self.node_request: list[LaunchRequest] = []
        self.node_kubelet_ready_s = np.zeros(0)
        self.node_launch_s = np.zeros(0)
        self.node_confirmed = np.zeros(0, dtype=bool)  # its Auto Scaling group knows how it went
        self.node_ready = np.zeros(0, dtype=bool)
        self.node_gone = np.zeros(0, dtype=bool)
        self.n_unsettled = 0  # nodes not yet confirmed, or neither Ready nor gone
        self.ipv6 = plan.ip_family == "IPv6"
        self.ipv6_owner: dict[int, int] = {}  # IPv6 node -> its node address's holder id
        self.ipv6_failed = np.zeros(0, dtype=bool)
        self.boots: list[tuple[float, int]] = []  # (kubelet Ready [s], node) of booting nodes
        self.asg_due_s = [0.0] * len(self.asgs)
        self.node_of_request: dict[tuple[int, int], int] = {}
        # the series, sampled in compiled code (:func:`._scenariokernels.sample`): the next
        # sample [s] and the period [s]; per sample its time, counts and the per-node snapshot
        # of bound pods with an address (sized when the run starts)
        self.clock = np.array([0.0, plan.run.sample_every_s])
        self.smp_s = np.zeros(0)
        self.smp = np.zeros((0, _k.SM_GROUPS), dtype=np.int64)
        self.snap = np.zeros(0, dtype=np.int32)
        self.snap_start = np.zeros(0, dtype=np.int64)
        self._final_with_address: NDArray[np.int64] | None = None  # at an end off the grid
        self._waiting_last = (-1, 0)  # (sample, its pods waiting for an address)
        self.claimers: list[PodClaimer] = []
        self.controllers: list[Controller] = make_controllers(plan, self)
        # a controller whose next step depends on the pods the scheduler could not place
        # (Karpenter) is asked again after every tick that leaves some pending
        self.watch_unschedulable = any(
            getattr(c, "watches_unschedulable", False) for c in self.controllers
        )

    @property
    def unschedulable(self) -> frozenset[int]:
        """Pending pods the scheduler tried and could not place (not yet bound or deleted)."""
        return frozenset(self.queue.waiting_pods.tolist())

    # ------------------------------------------------------------------ for controllers
    def note(self, line: str) -> None:
        """Add one line to the run's notes (shown with the summary), once."""
        if line not in self.notes:
            self.notes.append(line)

    def add_pods(self, table: PodTable, now_s: float) -> NDArray[np.int64]:
        """New pods (a controller's: a scale-up, a rollout's surge), pending from now; their ids."""
        ids = self.pods.append(table)
        self.queue.add(self._unclaimed(ids, now_s), now_s)
        return ids

    def claim_pods(self, claimer: PodClaimer) -> None:
        """Let ``claimer`` take new pods before the scheduler sees them (Fargate): every pod
        created from now on is offered to it first, and it hears of pods deleted."""
        self.claimers.append(claimer)

    def catch_up(self, now_s: float) -> None:
        """Run ipamd through this tick before a controller takes or returns subnet addresses
        now, so that none of ipamd's earlier ticks sees the change (the engine otherwise
        catches up lazily, see :meth:`run`)."""
        self.engine.run_until(now_s)

    def _unclaimed(self, ids: NDArray[np.int64], now_s: float) -> NDArray[np.int64]:
        for claimer in self.claimers:
            if ids.size:
                ids = ids[~claimer.claim(ids, now_s)]
        return ids

    def delete_pods(self, pod_ids: ArrayLike, now_s: float) -> None:
        """Delete pods now (a scale-down, a rollout): pending ones leave the queue, bound ones
        their node (its requests and its pods slot are freed now, the address at the kubelet's
        DEL, the next tick). Pods already deleted are ignored.

        Raises
        ------
        ValueError
            A bound pod with a finite lifetime: its DEL is queued for the end of its life
            (controllers delete Deployment pods only).
        """
        pods = self.pods
        given = np.asarray(pod_ids, dtype=np.int64).ravel()
        ids = given[np.isnan(pods["deleted_s"][given])]
        if not ids.size:
            return
        self.queue.remove(ids)
        pods["deleted_s"][ids] = now_s
        for claimer in self.claimers:
            claimer.deleted(ids, now_s)
        bound = ids[pods["node"][ids] >= 0]
        if not bound.size:
            return
        table = pods.table(bound)
        if np.isfinite(table.lifetime_s).any():
            raise ValueError("delete_pods: a bound pod with a finite lifetime")
        nodes = pods["node"][bound]
        _k.unlink_pods(self.node_first, pods.columns["next"], pods.columns["prev"], nodes, bound)
        self.cluster.unbind(table, nodes)
        np.add.at(self.n_address_pods, nodes[table.needs_address], -1)
        if not self.ipv6:
            with_address = bound[table.needs_address]
            if with_address.size:
                self.engine.delete_pods(now_s + self.tick_s, with_address)

    def pods_available(self, pod_ids: ArrayLike, now_s: float) -> NDArray[np.bool_]:
        """Per pod: bound and running, its ADD got its address (or branch ENI) by ``now_s``,
        and not deleted. Host-network pods (and every pod of an IPv6 cluster, which takes no
        IPv4 address) are available once bound; a Fargate pod once it started (it holds its
        address from its creation). The engine runs up to ``now_s`` to answer.

        This is the Deployment controller's "available" with ``minReadySeconds: 0`` and a
        container that is Ready as soon as it has its network (no image pull, no probe).
        """
        pods = self.pods
        ids = np.asarray(pod_ids, dtype=np.int64).ravel()
        # bound to a node, or started on Fargate (no node): bound_s is set for both
        available = (pods["bound_s"][ids] <= now_s) & np.isnan(pods["deleted_s"][ids])
        ask = available & (pods["node"][ids] >= 0) & pods["needs_address"][ids]
        if ask.any() and not self.ipv6:
            self.engine.run_until(now_s)
            available[ask] = self.engine.pods_running(ids[ask])
        return available

    def set_group_desired(self, g: int, n_nodes: int, now_s: float) -> DesiredChange:
        """Set node group ``g``'s desired size (clamped to min..max); its Auto Scaling group
        launches or terminates at this tick."""
        change = self.asgs[g].set_desired(now_s, n_nodes)
        self.asg_due_s[g] = now_s
        return change

    def terminate_node(self, node: int, now_s: float, *, decrement_desired: bool) -> None:
        """Terminate one node of a node group (the cluster autoscaler's scale-down, an
        update's drain), or a provisioner's node (``decrement_desired`` is then ignored): its
        pods are recreated by their controllers, as on any node loss."""
        g = self.node_group[node]
        if g >= len(self.asgs):
            self._terminate(node, now_s)
            return
        self.asgs[g].instance_terminated(
            now_s, self.node_request[node], decrement_desired=decrement_desired
        )
        self._terminate(node, now_s)
        self.asg_due_s[g] = now_s

    # ------------------------------------------------------------------ nodes
    def launch(self, g: int, now_s: float) -> bool:
        """Add the instances group ``g``'s Auto Scaling group launches now; True if any."""
        requests = self.asgs[g].launches(now_s)
        specs = None if self.ipv6 else [self.specs[g].node_spec(r) for r in requests]
        self._add_nodes(g, requests, specs, self.configs[g])
        return bool(requests)

    def add_node_pool(self, name: str) -> int:
        """Register a provisioner's pseudo node group (a Karpenter NodePool), before the run
        starts: nodes it launches with :meth:`launch_node` are reported under ``name``, as a
        node group's are. Its index.

        Raises
        ------
        UsageError
            A name a node group or another pool already has.
        """
        if name in self.group_names:
            raise UsageError(f"NodePool {name!r} has the name of a node group: rename one")
        self.group_names.append(name)
        self.capacity.append({})
        return len(self.group_names) - 1

    def launch_node(
        self,
        g: int,
        request: LaunchRequest,
        spec: NodeSpec,
        capacity: NodeCapacity,
        config: IpamdConfig,
    ) -> int:
        """Launch one node outside any Auto Scaling group (Karpenter's CreateFleet), in pseudo
        group ``g`` (:meth:`add_node_pool`): it joins the engine when it has booted, with
        ``config``, and becomes Ready as a group's node does (:func:`node_ready_s`); a launch
        into a full node subnet fails then (the node is gone, ``node_gone``). Its id.

        Parameters
        ----------
        g : int
            The pseudo group.
        request : LaunchRequest
            Type, zone, subnet, launch and kubelet Ready times (``instance_id`` unique in ``g``).
        spec : NodeSpec
            The node ipamd manages (its max pods and subnets).
        capacity : NodeCapacity
            Its allocatable resources (one row).
        config : IpamdConfig
            ipamd's settings on it.

        Raises
        ------
        UsageError
            ``g`` is a node group's (use :meth:`set_group_desired`).
        """
        if g < len(self.asgs):
            raise UsageError(f"{self.group_names[g]} is a node group: use set_group_desired")
        self.capacity[g][request.instance_type] = capacity
        (node,) = self._add_nodes(g, [request], None if self.ipv6 else [spec], config)
        return node

    def _add_nodes(
        self,
        g: int,
        requests: list[LaunchRequest],
        specs: list[NodeSpec] | None,
        config: IpamdConfig,
    ) -> list[int]:
        """Launched instances join the run (and the engine, once booted; IPv6: ``specs`` is
        None); their node ids."""
        if not requests:
            return []
        first = len(self.node_group)
        nodes = list(range(first, first + len(requests)))
        for i, (node, request) in enumerate(zip(nodes, requests, strict=True)):
            if specs is None:  # no ipamd IPv4 pool: the engine has no nodes
                self.ipv6_owner[node] = self.world.new_owner_id()
            else:
                # ipamd starts once the node has booted (see the module docstring)
                self.engine.add_nodes([specs[i]], config, request.kubelet_ready_s)
            heapq.heappush(self.boots, (request.kubelet_ready_s, node))
            self.node_of_request[(g, request.instance_id)] = node
        capacity = [self.capacity[g][r.instance_type] for r in requests]
        self.cluster.add_nodes(
            NodeCapacity(
                *(
                    np.concatenate([getattr(c, f.name) for c in capacity])
                    for f in dataclasses.fields(NodeCapacity)
                )
            ),
            [self.zones.index(r.az) for r in requests],
            False,
        )
        n = len(requests)
        self.node_group += [g] * n
        self.node_group_ids = np.append(self.node_group_ids, np.full(n, g, dtype=np.int64))
        self.node_request += requests
        self.node_kubelet_ready_s = np.append(
            self.node_kubelet_ready_s, [r.kubelet_ready_s for r in requests]
        )
        self.node_launch_s = np.append(self.node_launch_s, [r.launch_s for r in requests])
        for name in ("node_confirmed", "node_ready", "node_gone", "ipv6_failed"):
            setattr(self, name, np.append(getattr(self, name), np.zeros(n, dtype=bool)))
        self.node_first = np.append(self.node_first, np.full(n, -1, dtype=np.int64))
        self.n_address_pods = np.append(self.n_address_pods, np.zeros(n, dtype=np.int64))
        self.n_unsettled += n
        return nodes

    def node_updates(self, now_s: float) -> bool:
        """Launch results, Ready nodes, scale-in and new launches; True if the scheduler
        should try its unschedulable pods again (a node became Ready or left)."""
        changed = False
        if self.n_unsettled:
            changed = self._settle(now_s)
        for g, asg in enumerate(self.asgs):
            if self.asg_due_s[g] > now_s:
                continue
            for request in asg.terminations(now_s):
                self._terminate(self.node_of_request[(g, request.instance_id)], now_s)
                changed = True
            self.launch(g, now_s)
            self.asg_due_s[g] = asg.peek_s(now_s)
        return changed

    def _settle(self, now_s: float) -> bool:
        """Tell each group how its launches went; nodes that became Ready get their
        DaemonSet pods. True if any node became Ready."""
        status = self._ipv6_status(now_s) if self.ipv6 else self.engine.node_status()
        for i in np.flatnonzero(status["joined"] & ~self.node_confirmed).tolist():
            self.node_confirmed[i] = True
            g = self.node_group[i]
            if status["launch_failed"][i]:
                self.node_gone[i] = True
                self.n_unsettled -= 1
            if g >= len(self.asgs):
                continue  # a provisioner's node: it sees node_gone itself
            if status["launch_failed"][i]:
                self.asgs[g].launch_failed(
                    now_s, self.node_request[i], "InsufficientFreeAddressesInSubnet"
                )
            else:
                self.asgs[g].launch_succeeded(self.node_request[i])
            self.asg_due_s[g] = now_s
        ready_s = node_ready_s(
            self.node_kubelet_ready_s, np.where(status["ready"], now_s, math.nan)
        )
        new = np.flatnonzero((ready_s <= now_s) & ~self.node_ready & ~self.node_gone)
        if not new.size:
            return False
        self.node_ready[new] = True
        self.n_unsettled -= new.size
        self.cluster.set_ready(self.node_ready & ~self.node_gone)
        self._bind_daemonsets(new, now_s)
        return True

    def _ipv6_status(self, now_s: float) -> dict[str, NDArray[np.bool_]]:
        """IPv6 nodes: each takes its node address when it boots (a node whose subnet is full
        fails to launch) and is Ready then; its pods take no IPv4 address (a /80 per node)."""
        joined = self.node_kubelet_ready_s <= now_s
        failed = np.zeros_like(joined)
        for i in np.flatnonzero(joined & ~self.node_confirmed).tolist():
            try:
                self.world.allocate_fixed(
                    self.node_request[i].subnet_id, self.ipv6_owner[i], n_ips=1, now_s=now_s
                )
            except InsufficientAddressesError:
                failed[i] = True
        self.ipv6_failed |= failed
        return {
            "joined": joined,
            "launch_failed": self.ipv6_failed,
            "ready": joined & ~self.ipv6_failed,
        }

    def _terminate(self, node: int, now_s: float) -> None:
        """The node leaves; the ReplicaSets and Jobs recreate its pods, with the life left."""
        if self.ipv6:
            self.world.release_owner(self.ipv6_owner[node])
        else:
            # ipamd ran this tick before the termination (step 1): the node leaves at the
            # next, whether or not the engine has caught up yet; a node still booting has not
            # joined the engine: it leaves as it joins
            leave_s = max(now_s + self.tick_s, float(self.node_kubelet_ready_s[node]))
            self.engine.remove_nodes([node], leave_s)
        if not self.node_ready[node] and not self.node_gone[node]:
            self.n_unsettled -= 1
        self.node_confirmed[node] = True  # its group knows: it was terminated
        self.node_gone[node] = True
        self.cluster.set_ready(self.node_ready & ~self.node_gone)
        ids = np.array(sorted(self.pods_on[node]), dtype=np.int64)
        self.node_first[node] = -1  # its pods are deleted: their links are never read again
        if not ids.size:
            return
        pods = self.pods
        pods["deleted_s"][ids] = now_s
        self.n_address_pods[node] = 0
        self.cluster.unbind(pods.table(ids), np.full(ids.size, node))
        owned = ids[pods["kind"][ids] != _DAEMONSET_KIND]
        if owned.size:
            table = pods.table(owned)
            left_s = pods["bound_s"][owned] + table.lifetime_s - now_s
            replacements = dataclasses.replace(
                table, created_s=np.full(owned.size, now_s), lifetime_s=left_s
            )
            self.queue.add(pods.append(replacements), now_s)

    # ------------------------------------------------------------------ pods
    def _pod_arrays(
        self,
    ) -> tuple[
        NDArray[np.bool_],
        NDArray[np.bool_],
        NDArray[np.int64],
        NDArray[np.float64],
        NDArray[np.int64],
        NDArray[np.int64],
        NDArray[np.int64],
    ]:
        """The store's columns the compiled bind and pod ends read and change."""
        c = self.pods.columns
        return (
            c["needs_address"],
            c["security_groups"],
            c["cpu_millicores"],
            c["memory_mib"],
            c["workload"],
            c["next"],
            c["prev"],
        )

    def _cluster_arrays(
        self,
    ) -> tuple[
        NDArray[np.int64],
        NDArray[np.int64],
        NDArray[np.int64],
        NDArray[np.bool_],
        NDArray[np.int64],
        NDArray[np.int64],
    ]:
        """The scheduler cache's node arrays, its stale scores, and the per-node pod counts
        and lists (for the compiled bind and pod ends)."""
        nodes, host_pods, zone_pods, _, score_stale = self.cluster.arrays()
        return nodes, host_pods, zone_pods, score_stale, self.n_address_pods, self.node_first

    def _reserve_ends(self, n_more: int) -> None:
        """Room in the ends heap for ``n_more`` more pods."""
        n = int(self.ctr[_k.HEAP_N])
        if n + n_more > self.heap_s.size:
            size = 2 * (n + n_more)
            self.heap_s = np.resize(self.heap_s, size)
            self.heap_pod = np.resize(self.heap_pod, size)

    def _event_buffer(self, size: int) -> _Events:
        """Room for ``size`` engine events (one buffer, grown as needed)."""
        if self.events[0].size < size:
            self.events = _new_events(max(size, 2 * self.events[0].size))
        return self.events

    def _submit(self, events: _Events) -> None:
        """Give the engine the events the compiled code wrote (in its order), and reset."""
        n = int(self.ctr[_k.N_EVENTS])
        self.ctr[_k.N_EVENTS] = 0
        if n:
            time_s, node, delta, pod, branch = events
            self.engine.submit_pods(PodEvents(time_s[:n], node[:n], delta[:n], pod[:n], branch[:n]))

    def _bind(self, ids: NDArray[np.int64], nodes: NDArray[np.int64], now_s: float) -> None:
        """Apply bindings: the nodes' requests, each pod's ADD at the next tick and its DEL at
        its end (:func:`._scenariokernels.bind`)."""
        if not ids.size:
            return
        c = self.pods.columns
        self._reserve_ends(ids.size)
        events = self._event_buffer(2 * ids.size)
        _k.bind(
            c["lifetime_s"],
            c["bound_s"],
            c["node"],
            *self._pod_arrays(),
            *self._cluster_arrays(),
            self.heap_s,
            self.heap_pod,
            self.ctr,
            *events,
            np.ascontiguousarray(ids, dtype=np.int64),
            np.ascontiguousarray(nodes, dtype=np.int64),
            ids.size,
            now_s,
            self.tick_s,
            self.ipv6,
        )
        self._submit(events)

    def _bind_daemonsets(self, nodes: NDArray[np.int64], now_s: float) -> None:
        """The DaemonSet controller's pods on nodes that just became Ready."""
        table, node_of_pod = daemonset_pods(self.workloads, nodes, now_s)
        self._bind(self.pods.append(table), node_of_pod, now_s)

    def pod_ends(self, now_s: float) -> bool:
        """Pods whose lifetime ended leave their node; True if any did."""
        c = self.pods.columns
        return bool(
            _k.pod_ends(
                c["deleted_s"],
                c["node"],
                *self._pod_arrays(),
                *self._cluster_arrays(),
                self.heap_s,
                self.heap_pod,
                self.ctr,
                now_s,
            )
        )

    def _offer_arrivals(self, now_s: float) -> None:
        """Pods created by now are offered to the claimers first (Fargate): those taken never
        join the scheduling queue."""
        start = int(self.ctr[_k.I_ARRIVAL])
        stop = int(np.searchsorted(self.pods["created_s"][: self.n_generated], now_s, "right"))
        ids = np.arange(start, stop, dtype=np.int64)
        # a controller may have deleted a pod before it was due (a scale-down at a start)
        ids = ids[np.isnan(self.pods["deleted_s"][ids])]
        if ids.size:
            self.pods["offloaded"][np.setdiff1d(ids, self._unclaimed(ids, now_s))] = True

    def _shape_new_pods(self) -> None:
        """Each new pod's row of the scheduler's score cache."""
        pods = self.pods
        first = pods.n_shaped
        if first == pods.n:
            return
        cpu = pods["cpu_millicores"][first:].astype(np.int64)
        mem = (pods["memory_mib"][first:] * 2**20).astype(np.int64)
        least = self.plan.scheduler.scoring == "LeastAllocated"
        if cpu.size <= _FEW_NEW_PODS:  # a node's DaemonSet pods, a controller's few
            rows = self.cluster.shape_rows(cpu.tolist(), mem.tolist(), least)
        else:
            # the distinct (CPU, memory) pairs, by 1-D uniques (pods of a workload share one)
            cpus, i_cpu = np.unique(cpu, return_inverse=True)
            mems, i_mem = np.unique(mem, return_inverse=True)
            pairs, i_pair = np.unique(i_cpu * mems.size + i_mem, return_inverse=True)
            rows = self.cluster.shape_rows(
                cpus[pairs // mems.size].tolist(), mems[pairs % mems.size].tolist(), least
            )[i_pair]
        pods["shape"][first:] = rows
        pods.n_shaped = pods.n

    def _reserve_samples(self, until_s: float) -> None:
        """Room for every sample due by ``until_s``."""
        next_s, every_s = float(self.clock[0]), float(self.clock[1])
        n_more = math.floor((until_s - next_s) / every_s) + 2 if until_s >= next_s else 1
        n = int(self.ctr[_k.N_SAMPLES])
        if n + n_more > self.smp_s.size:
            size = max(n + n_more, 2 * self.smp_s.size)
            self.smp_s = np.resize(self.smp_s, size)
            self.smp = np.resize(self.smp, (size, self.smp.shape[1]))
            self.snap_start = np.resize(self.snap_start, size + 1)
        n_snap = int(self.ctr[_k.N_SNAP]) + n_more * len(self.node_group)
        if n_snap > self.snap.size:
            self.snap = np.resize(self.snap, max(n_snap, 2 * self.snap.size))

    def _advance(self, k0: int, k1: int) -> int:
        """Run the ticks from ``k0`` up to ``k1`` in compiled code
        (:func:`._scenariokernels.advance`); the tick it stopped at."""
        pods, queue = self.pods, self.queue
        self._reserve_samples((k1 - 1) * self.tick_s)
        start = int(self.ctr[_k.I_ARRIVAL])
        stop = int(
            np.searchsorted(pods["created_s"][: self.n_generated], k1 * self.tick_s, "right")
        )
        n_more = len(queue) + max(stop - start, 0) + 1  # pods that may be bound in between
        queue.reserve(n_more)
        self._reserve_ends(n_more)
        self._shape_new_pods()
        events = self._event_buffer(2 * n_more)
        nodes, host_pods, zone_pods, score_cache, score_stale = self.cluster.arrays()
        n_nodes = len(self.cluster)
        c = pods.columns
        k = _k.advance(
            c["created_s"],
            c["lifetime_s"],
            c["deleted_s"],
            c["bound_s"],
            c["node"],
            c["needs_address"],
            c["security_groups"],
            c["cpu_millicores"],
            c["memory_mib"],
            c["workload"],
            c["kind"],
            c["shape"],
            c["offloaded"],
            pods.fail,
            c["next"],
            c["prev"],
            self.n_generated,
            nodes,
            host_pods,
            zone_pods,
            score_cache,
            score_stale,
            self.n_address_pods,
            self.node_first,
            self.node_group_ids,
            self.node_launch_s,
            self.node_gone,
            self.node_ready,
            self.heap_s,
            self.heap_pod,
            *queue.arrays,
            queue.counts,
            *events,
            self.clock,
            self.smp_s,
            self.smp,
            self.snap,
            self.snap_start,
            self.ctr,
            self.scheduler_rng_state,
            k0,
            k1,
            self.tick_s,
            self.watch_unschedulable,
            num_feasible_nodes_to_find(n_nodes, DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE),
            self.plan.scheduler.scoring == "LeastAllocated",
            self.ipv6,
            _DEPLOYMENT_KIND,
            queue.initial_backoff_s,
            queue.max_backoff_s,
            queue.max_in_unschedulable_s,
        )
        self._submit(events)
        return int(k)

    # ------------------------------------------------------------------ the clock
    def _sample_end(self) -> None:
        """The last sample, at the end of the run (off the sampling grid): the pods waiting
        for an address then come from the engine's metrics now."""
        self._reserve_samples(self.duration_s)
        nodes, *_ = self.cluster.arrays()
        queue = self.queue
        _k.sample(
            nodes,
            self.node_group_ids,
            self.node_launch_s,
            self.node_gone,
            self.node_ready,
            self.n_address_pods,
            queue.arrays[3],
            queue.counts,
            self.clock,
            self.smp_s,
            self.smp,
            self.snap,
            self.snap_start,
            self.ctr,
            self.duration_s,
        )
        metrics = self.engine.metrics()
        self._final_with_address = metrics["ips_assigned"] + metrics["branch_pods"]

    def run(self, progress: Callable[[float], None] | None) -> None:
        """Every tick at which anything is due, up to the run's duration.

        At each of the run's stops (a controller, a node group or a boot due, the engine's
        next event while a node is not settled, and with ``progress`` a hundredth of the run)
        Python does the tick; the ticks between, with only pods ending, arriving and being
        scheduled and samples due, run in compiled code (:meth:`_advance`), exactly as one at
        a time (``tests/test_scenario_ticks.py``).
        """
        tick_s = self.tick_s
        k_end = first_tick_at(self.duration_s, tick_s)
        if k_end * tick_s > self.duration_s:
            k_end -= 1
        n_groups = len(self.group_names)  # every provisioner's pool is registered by now
        self.smp = np.zeros((0, _k.SM_GROUPS + 3 * n_groups), dtype=np.int64)
        progress_k = max((k_end + 1) // _PROGRESS_STOPS, 1)
        for g in range(len(self.asgs)):
            self.launch(g, 0.0)
        k = 0
        while k <= k_end:
            t_s = k * tick_s
            if self.n_unsettled:
                # The scenario reads the engine only for launches and readiness; otherwise
                # the engine catches up later on the same events: what it is given (ADDs from
                # the next tick, DELs, leaves) is never in its past, and it takes its node
                # samples itself.
                self.engine.run_until(t_s)
            changed = self.node_updates(t_s)
            changed = self.pod_ends(t_s) or changed
            for controller in self.controllers:
                if controller.next_due_s(t_s) <= t_s:
                    changed = controller.step(self, t_s) or changed
            if changed:
                self.queue.on_cluster_change(t_s)
            if self.claimers:
                self._offer_arrivals(t_s)
            if progress is not None:
                progress(t_s)
            k1 = min(self._next_stop_k(k), k_end + 1)
            if progress is not None:
                k1 = min(k1, (k // progress_k + 1) * progress_k)
            k = self._advance(k, k1)
        self.engine.run_until(self.duration_s)
        n = int(self.ctr[_k.N_SAMPLES])
        if not n or self.smp_s[n - 1] < self.duration_s:
            self._sample_end()

    def _next_stop_k(self, k_now: int) -> int:
        """The next tick at which the engine (a node not settled), a group, a boot, a
        controller or (with claimers) a pod's creation is due; pods ending, the queue and the
        samples are :meth:`_advance`'s."""
        now_s = k_now * self.tick_s
        due = [math.inf]
        if self.n_unsettled and not self.ipv6:
            # a launch's result or a node's Ready comes from the engine, at an event of that
            # node: a join, a step or its completion; what ipamd does elsewhere (ADDs, other
            # nodes' steps) needs no visit (IPv6 nodes are Ready when they boot)
            unsettled = ~self.node_confirmed | ~(self.node_ready | self.node_gone)
            due.append(self.engine.peek_nodes_s(np.flatnonzero(unsettled)))
        if self.claimers:
            created_s = self.pods["created_s"][: self.n_generated]
            i = int(np.searchsorted(created_s, now_s, "right"))
            if i < self.n_generated:
                due.append(float(created_s[i]))
        while self.boots and (
            self.boots[0][0] <= now_s
            or self.node_ready[self.boots[0][1]]
            or self.node_gone[self.boots[0][1]]
        ):
            heapq.heappop(self.boots)
        if self.boots:
            due.append(self.boots[0][0])
        due.extend(self.asg_due_s)
        due.extend(controller.next_due_s(now_s) for controller in self.controllers)
        return max(first_tick_at(min(due), self.tick_s), k_now + 1)

    def ip_waiting(
        self,
        first: int,
        stop: int,
        engine_s: NDArray[np.float64],
        engine_node: NDArray[np.int64],
        engine_with_address: NDArray[np.int64],
    ) -> NDArray[np.int64]:
        """Per sample ``first`` to ``stop - 1``: the bound pods still without an address, node
        by node (bound there minus those holding an address or a branch ENI, at least 0),
        given the engine's node samples (time [s], node, pods with an address) at those
        times; a node without one (not joined) has none."""
        times = self.smp_s[first:stop]
        if not times.size:
            return np.zeros(0, dtype=np.int64)
        starts = self.snap_start[first : stop + 1]  # and where the last one ends
        base = starts[0]
        waiting = self.snap[base : starts[-1]].astype(np.int64)
        i = np.minimum(np.searchsorted(times, engine_s), times.size - 1)
        at = times[i] == engine_s
        waiting[starts[i[at]] - base + engine_node[at]] -= engine_with_address[at]
        total = np.concatenate([[0], np.cumsum(np.maximum(waiting, 0))])
        return total[starts[1:] - base] - total[starts[:-1] - base]

    def ip_waiting_at_last_sample(self) -> int:
        """Bound pods without an address yet at the last sample (0 before the first): the
        engine runs up to that sample, if it has not."""
        n = int(self.ctr[_k.N_SAMPLES])
        if not n:
            return 0
        if self._waiting_last[0] != n - 1:
            t_s = float(self.smp_s[n - 1])
            self.engine.run_until(t_s)
            times, nodes, metrics = self.engine.node_samples(t_s)
            with_address = metrics["ips_assigned"] + metrics["branch_pods"]
            (count,) = self.ip_waiting(n - 1, n, times, nodes, with_address)
            self._waiting_last = (n - 1, int(count))
        return self._waiting_last[1]

    def result(self) -> SimulationResult:
        """What the run recorded."""
        pods = self.pods
        n_groups = len(self.group_names)
        requests = self.node_request
        capacity = [
            self.capacity[g][r.instance_type]
            for g, r in zip(self.node_group, requests, strict=True)
        ]

        def per_node(name: str, dtype: type) -> NDArray[Any]:
            return np.array([float(getattr(c, name)[0]) for c in capacity], dtype=dtype)

        n_samples = int(self.ctr[_k.N_SAMPLES])
        counts = self.smp[:n_samples]

        def by_group(i: int) -> NDArray[np.int64]:
            first = _k.SM_GROUPS + i * n_groups
            return counts[:, first : first + n_groups].copy()

        ipamd = self.engine.result()
        with_address = ipamd.samples["ips_assigned"] + ipamd.samples["branch_pods"]
        engine_s, engine_node = ipamd.sample_s, ipamd.sample_node
        if self._final_with_address is not None:  # the last sample, off the grid
            n_final = self._final_with_address.size
            engine_s = np.append(engine_s, np.full(n_final, self.smp_s[n_samples - 1]))
            engine_node = np.append(engine_node, np.arange(n_final))
            with_address = np.append(with_address, self._final_with_address)

        reasons = np.full(pods.n, "", dtype=object)
        fail = pods.fail[: pods.n]
        for pod in np.flatnonzero(fail[:, 0] >= 0).tolist():
            row = fail[pod].tolist()
            reasons[pod] = fit_error(row[0], tuple(row[1:]))
        for pod, reason in pods.reason.items():
            reasons[pod] = reason
        return SimulationResult(
            plan=self.plan,
            engine_name=self.engine_name,
            ipamd=ipamd,
            node_group=np.asarray(self.node_group, dtype=np.int64),
            node_instance_type=np.array([r.instance_type for r in requests], dtype=np.str_),
            node_subnet=np.array([r.subnet_id for r in requests], dtype=np.str_),
            node_max_pods=per_node("max_pods", np.int64),
            node_allocatable_cpu_millicores=per_node("allocatable_cpu_millicores", np.float64),
            node_allocatable_memory_mib=per_node("allocatable_memory_mib", np.float64),
            node_launch_s=np.array([r.launch_s for r in requests], dtype=np.float64),
            node_kubelet_ready_s=np.array([r.kubelet_ready_s for r in requests], dtype=np.float64),
            pod_workload=pods["workload"].copy(),
            workload_names=pods.workload_names,
            pod_created_s=pods["created_s"].copy(),
            pod_bound_s=pods["bound_s"].copy(),
            pod_deleted_s=pods["deleted_s"].copy(),
            pod_node=pods["node"].copy(),
            pod_needs_address=pods["needs_address"].copy(),
            pod_unschedulable_reason=reasons,
            sample_s=self.smp_s[:n_samples].copy(),
            n_pending=counts[:, _k.SM_PENDING].copy(),
            n_unschedulable=counts[:, _k.SM_UNSCHEDULABLE].copy(),
            n_nodes_by_group=by_group(0),
            n_ready_by_group=by_group(1),
            n_pods_by_group=by_group(2),
            n_ip_waiting=self.ip_waiting(0, n_samples, engine_s, engine_node, with_address),
            notes=tuple(self.notes),
            controllers={c.name: c.summary() for c in self.controllers},
            group_names=tuple(self.group_names),
        )


def make_controllers(plan: Plan, run: ClusterRun) -> list[Controller]:
    """The controllers the plan asks for, in the order they step each tick."""
    from cnisim.sim.karpenter import karpenter_controllers
    from cnisim.sim.upgrades import upgrade_controllers

    controllers: list[Controller] = []
    if plan.fargate_profiles:
        controllers.append(FargateController(plan, run))
    if holders_in(plan) or plan.control_plane is not None:
        controllers.append(HoldersController(plan, run))
    controllers += workload_controllers(run.workloads)
    controllers += upgrade_controllers(plan, run)
    controllers += karpenter_controllers(plan, run)
    if plan.autoscaler.kind == "cluster-autoscaler":
        controllers.append(ClusterAutoscaler(plan.autoscaler, run))
    return controllers


def simulate(
    plan: Plan,
    catalog: Catalog,
    *,
    engine: EngineName = "fast",
    progress: Callable[[float], None] | None = None,
) -> SimulationResult:
    """Run a plan: its node groups, workloads and scheduler around ipamd on every node.

    Parameters
    ----------
    plan : Plan
        The cluster (``cnisim.io.load_plan`` reads one from a file).
    catalog : Catalog
        Instance data for the plan's instance types.
    engine : {"fast", "reference"}
        The ipamd engine: the compiled one, or the reference model (the oracle; slow).
    progress : callable, optional
        Called with the simulated time [s] as the run advances (for a progress bar).

    Returns
    -------
    SimulationResult
        The engine's record and the scenario's series.

    Raises
    ------
    UsageError
        An engine name it does not know.
    PlanError
        aws-node settings ipamd refuses on a node group.
    """
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}: use 'fast' or 'reference'")
    run = ClusterRun(plan, catalog, engine)
    run.run(progress)
    return run.result()
