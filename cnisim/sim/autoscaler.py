"""The Kubernetes cluster autoscaler as a controller of a cluster run.

:class:`ClusterAutoscaler` follows cluster-autoscaler's main loop (``RunOnce``), every
``--scan-interval`` (10 s):

1. **Failed scale-ups.** A scale-up failed when its group is short of its desired size in
   Ready nodes ``--max-node-provision-time`` (15 min) after it: the nodes launched since
   that are not Ready are terminated (the desired size decremented, and lowered to the Ready
   nodes for launches EC2 never made) and the group is backed off, 5 min doubling to 30 min
   (``--initial-`` / ``--max-node-group-backoff-duration``; the count resets after 3 h
   without a failure).
2. **Scale-up**, for the pods the scheduler could not place (``run.unschedulable``) only.
   First the pods that fit on a Ready node, or on an *upcoming* one (a group's desired size
   minus its Ready nodes, each a template node), are set aside: they wait for the
   scheduler, so the same pods never scale a group up twice. For the rest, each node group
   not backed off and below its max size is estimated as the binpacking estimator does:
   the pods in equivalence groups (same requests), largest first (CPU over allocatable plus
   memory over allocatable of the template), first-fit onto new template nodes, a new node
   when a pod fits none of them, up to the group's max size. The template is a node of the
   group's first instance type with its DaemonSet pods. Of the groups that would help some
   pod, the expander picks one: ``least-waste`` (the least idle CPU fraction plus idle memory
   fraction of the new nodes' capacity after the pods; ties at random) or ``random``; its
   desired size grows by the estimate (``run.set_group_desired``, within min and max).
   A loop that scales up does no scale-down.
3. **Scale-down** (unless ``--scale-down-enabled=false``). A Ready node is unneeded when
   its utilization, the larger of its CPU and memory requests over allocatable (DaemonSet
   pods included unless ``--ignore-daemonsets-utilization``), is below the threshold (0.5)
   and all its pods other than DaemonSet pods fit on the other nodes (first-fit with the
   scheduler's filter; nodes found removable earlier in the same pass are gone, their pods
   where the simulation put them). At most 30 non-empty nodes are simulated per loop
   (``--scale-down-non-empty-candidates-count``), the ones already unneeded first. A node
   unneeded since the loop that first found it so for ``--scale-down-unneeded-time``
   (10 min) is removed, unless a scale-up happened less than ``--scale-down-delay-after-add``
   (10 min) ago or a node was removed less than ``--scale-down-delay-after-delete`` ago (the
   scan interval); empty ones (DaemonSet pods only) up to ``--max-empty-bulk-delete`` (10)
   at once, else one non-empty node; never below a group's min size
   (``run.terminate_node(..., decrement_desired=True)``). Its pods are recreated by their
   controllers and scheduled again.

Pods waiting for an IP address are bound to their node (the CNI ADD fails, the kubelet
retries), not Pending: the autoscaler does not see them. When pods wait for addresses in a
loop that scales nothing up while CPU is free, the run's notes say so.

Simplifications: node groups are the autoscaler's node groups one to one, and only the first
instance type of a group is its template (as on AWS, ``cloudprovider/aws/README.md``); the
priority, price and most-pods expanders, ``--balance-similar-node-groups``, ``--max-nodes-total``
and the cluster's core and memory limits, scale-down-unready-time, pod priorities, PDBs and
the pods that block a scale-down (CoreDNS, in kube-system, is taken as movable, as with a
PodDisruptionBudget) are not modelled; a registered but not Ready node counts as upcoming
until max-node-provision-time; equivalence groups are pods of equal requests; draining is
instant (no eviction or graceful termination time); the filter of unschedulable pods that fit
on Ready or upcoming nodes places them first-fit in the order they were created.

References
----------
kubernetes/autoscaler ``cluster-autoscaler/FAQ.md`` ("How does scale-up work?", "How does
scale-down work?", "What are the parameters to CA?"), ``config/flags.go`` (least-waste is
the default expander), ``estimator/binpacking_estimator.go``,
``estimator/decreasing_pod_orderer.go``, ``expander/waste/waste.go``;
``docs/cluster-model.md`` sec. 0 and 3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
from numpy.typing import NDArray

from cnisim.plan import Autoscaler
from cnisim.sim import _autoscalerkernels as _ak
from cnisim.sim import _schedulerkernels as _k
from cnisim.sim.scheduler import ClusterState
from cnisim.sim.workloads import WORKLOAD_KINDS, daemonset_pods

if TYPE_CHECKING:
    from cnisim.sim.scenario import ClusterRun

__all__ = [
    "IP_WAIT_UNSEEN_NOTE",
    "MAX_NON_EMPTY_CANDIDATES",
    "NODE_GROUP_BACKOFF_RESET_S",
    "AutoscalerSummary",
    "ClusterAutoscaler",
    "ScaleEvent",
]

MAX_NON_EMPTY_CANDIDATES: Final = 30
"""``--scale-down-non-empty-candidates-count`` (FAQ.md parameters table) [nodes]."""

NODE_GROUP_BACKOFF_RESET_S: Final = 3 * 3600.0
"""``--node-group-backoff-reset-timeout`` (config/flags.go, 3 h) [s]."""

IP_WAIT_UNSEEN_NOTE: Final = (
    "pods waited for IP addresses on full subnets while CPU was free: the cluster autoscaler"
    " does not see them (they are bound, not Pending)"
)

_DAEMONSET: Final = WORKLOAD_KINDS.index("DaemonSet")
_MIB_BYTES: Final = 2**20


@dataclass(frozen=True)
class ScaleEvent:
    """One thing the autoscaler did to a node group.

    Attributes
    ----------
    time_s : float
        When [s].
    group : str
        The node group.
    kind : {"scale-up", "scale-down", "scale-up-failed"}
        A desired size raised, nodes removed, or a scale-up that timed out (its not-Ready
        nodes removed and the group backed off).
    n_nodes : int
        Nodes added or removed [nodes].
    """

    time_s: float
    group: str
    kind: Literal["scale-up", "scale-down", "scale-up-failed"]
    n_nodes: int


@dataclass(frozen=True)
class AutoscalerSummary:
    """What the cluster autoscaler did in a run.

    Attributes
    ----------
    events : tuple of ScaleEvent
        Every scale-up, scale-down and failed scale-up, in time order.
    n_scans : int
        Loops run.
    ip_wait_unseen_s : float
        The first loop with nothing to scale up while bound pods waited for an address and
        CPU was free [s]; NaN if never.
    """

    events: tuple[ScaleEvent, ...]
    n_scans: int
    ip_wait_unseen_s: float


def _shapes(
    cpu: NDArray[np.int64], mem: NDArray[np.int64], eni: NDArray[np.bool_]
) -> NDArray[np.int64]:
    """Each pod's equivalence group (equal requests), numbered from 0 in order of appearance."""
    if not cpu.size:
        return np.zeros(0, dtype=np.int64)
    keys = np.stack([cpu, mem, eni.astype(np.int64)], axis=1)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inverse.ravel()]


class ClusterAutoscaler:
    """The cluster autoscaler's loop on a :class:`~cnisim.sim.scenario.ClusterRun`.

    Parameters
    ----------
    settings : Autoscaler
        Its flags (``kind`` is ``cluster-autoscaler``).
    run : ClusterRun
        The run it acts on (for its node groups, templates and random stream).
    """

    name = "cluster-autoscaler"

    def __init__(self, settings: Autoscaler, run: ClusterRun) -> None:
        self.settings = settings
        self._rng = run.world.stream("cluster-autoscaler")
        plan = run.plan
        n_groups = len(plan.node_groups)
        # the DaemonSet pods every node runs, and each group's template node with them
        ds_pods, _ = daemonset_pods(run.workloads, [0], 0.0)
        self._n_ds_pods = len(ds_pods)
        self._ds_cpu_millicores = int(ds_pods.cpu_millicores.sum())
        self._ds_memory_bytes = int((ds_pods.memory_mib * _MIB_BYTES).astype(np.int64).sum())
        self._templates = np.zeros((n_groups, _k.N_COLUMNS), dtype=np.int64)
        self._capacity_cpu_millicores = np.zeros(n_groups)
        self._capacity_memory_bytes = np.zeros(n_groups)
        for g, group in enumerate(plan.node_groups):
            instance_type = group.instance_types[0]
            state = ClusterState(len(run.workloads))
            state.add_nodes(run.capacity[g][instance_type], [0], [True])
            state.bind(ds_pods, np.zeros(len(ds_pods), dtype=np.int64))
            self._templates[g] = state.nodes[0]
            # least-waste weighs the pods against the node's capacity, not its allocatable
            i = int(run.catalog.locate([instance_type])[0])
            self._capacity_cpu_millicores[g] = 1000.0 * float(run.catalog.columns["vcpus"][i])
            self._capacity_memory_bytes[g] = (
                float(run.catalog.columns["memory_mib"][i]) * _MIB_BYTES
            )
        self._next_scan_s = 0.0
        self._n_scans = 0
        self._unneeded_since: dict[int, float] = {}
        self._last_scale_up_s = -math.inf
        self._last_scale_down_s = -math.inf
        self._requests: dict[int, tuple[float, float]] = {}  # group -> (start, deadline) [s]
        self._backoff_until_s = [-math.inf] * n_groups
        self._n_failures = [0] * n_groups
        self._last_failure_s = [-math.inf] * n_groups
        self._events: list[ScaleEvent] = []
        self._ip_wait_unseen_s = math.nan

    # ------------------------------------------------------------------ the Controller protocol
    def next_due_s(self, now_s: float) -> float:
        """The next loop [s]."""
        return max(self._next_scan_s, now_s)

    def summary(self) -> AutoscalerSummary:
        """The scale-ups, scale-downs and failed scale-ups so far."""
        return AutoscalerSummary(tuple(self._events), self._n_scans, self._ip_wait_unseen_s)

    def step(self, run: ClusterRun, now_s: float) -> bool:
        """One loop of the autoscaler; True if it removed nodes (their pods are pending again)."""
        self._next_scan_s = now_s + self.settings.scan_interval_s
        self._n_scans += 1
        live = ~run.node_gone
        ready = run.node_ready & live
        group_of = np.asarray(run.node_group, dtype=np.int64)
        n_groups = len(run.asgs)
        changed = self._failed_scale_ups(run, now_s, group_of, ready, live)
        if changed:
            live = ~run.node_gone
            ready = run.node_ready & live
        n_ready = np.bincount(group_of[ready], minlength=n_groups)
        pending = np.fromiter(
            sorted(run.unschedulable), dtype=np.int64, count=len(run.unschedulable)
        )
        if pending.size and self._scale_up(run, now_s, pending, ready, n_ready):
            return changed
        self._check_ip_waits(run, now_s, ready)
        if self.settings.scale_down_enabled:
            changed = self._scale_down(run, now_s, group_of, ready) or changed
        return changed

    # ------------------------------------------------------------------ failed scale-ups
    def _failed_scale_ups(
        self,
        run: ClusterRun,
        now_s: float,
        group_of: NDArray[np.int64],
        ready: NDArray[np.bool_],
        live: NDArray[np.bool_],
    ) -> bool:
        """Scale-ups whose nodes are not all Ready in time: remove the rest, back the group off."""
        changed = False
        for g, (start_s, deadline_s) in list(self._requests.items()):
            asg = run.asgs[g]
            if int(np.count_nonzero(ready & (group_of == g))) >= asg.desired:
                del self._requests[g]  # fulfilled
                continue
            if now_s < deadline_s:
                continue
            del self._requests[g]
            if now_s - self._last_failure_s[g] >= NODE_GROUP_BACKOFF_RESET_S:
                self._n_failures[g] = 0
            self._n_failures[g] += 1
            self._last_failure_s[g] = now_s
            backoff_s = min(
                self.settings.initial_node_group_backoff_s * 2.0 ** (self._n_failures[g] - 1),
                self.settings.max_node_group_backoff_s,
            )
            self._backoff_until_s[g] = now_s + backoff_s
            min_size = run.plan.node_groups[g].min_size
            before = asg.desired
            launched = run.node_launch_s >= start_s  # the scale-up's nodes, not older ones
            for node in np.flatnonzero(live & ~ready & launched & (group_of == g)).tolist():
                if asg.desired <= min_size:
                    break
                run.terminate_node(node, now_s, decrement_desired=True)
                changed = True
            n_ready = int(np.count_nonzero(ready & (group_of == g)))
            if asg.desired > max(n_ready, min_size):  # launches EC2 never made
                run.set_group_desired(g, max(n_ready, min_size), now_s)
            self._events.append(
                ScaleEvent(now_s, asg.name, "scale-up-failed", before - asg.desired)
            )
        return changed

    # ------------------------------------------------------------------ scale-up
    def _scale_up(
        self,
        run: ClusterRun,
        now_s: float,
        pending: NDArray[np.int64],
        ready: NDArray[np.bool_],
        n_ready: NDArray[np.int64],
    ) -> bool:
        """Grow one node group for the pods no node, Ready or upcoming, can take; True if it did."""
        table = run.pods.table(pending)
        cpu = table.cpu_millicores.astype(np.int64)
        mem = (table.memory_mib * _MIB_BYTES).astype(np.int64)
        eni = table.security_groups.astype(np.bool_)
        shapes = _shapes(cpu, mem, eni)
        n_shapes = int(shapes.max()) + 1 if shapes.size else 0
        # the pods that fit on a Ready node or an upcoming one wait for the scheduler
        n_groups = len(run.asgs)
        n_upcoming = [max(run.asgs[g].desired - int(n_ready[g]), 0) for g in range(n_groups)]
        nodes = np.concatenate(
            [run.cluster.nodes[ready]]
            + [
                np.repeat(self._templates[g : g + 1], n_upcoming[g], axis=0)
                for g in range(n_groups)
            ]
        )
        where = np.empty(pending.size, dtype=np.int64)
        _ak.first_fit(nodes, np.ones(len(nodes), np.bool_), cpu, mem, eni, shapes, n_shapes, where)
        left = where < 0
        if not left.any():
            return False
        cpu, mem, eni, shapes = cpu[left], mem[left], eni[left], shapes[left]
        options = []
        for g in range(n_groups):
            n_room = run.plan.node_groups[g].max_size - run.asgs[g].desired
            if n_room <= 0 or self._backoff_until_s[g] > now_s:
                continue
            n_new, helped = self._estimate(g, cpu, mem, eni, shapes, n_shapes, n_room)
            if n_new:
                options.append((g, n_new, helped))
        if not options:
            return False
        g, n_new, _ = self._expand(options, cpu, mem)
        asg = run.asgs[g]
        before = asg.desired
        run.set_group_desired(g, before + n_new, now_s)
        self._events.append(ScaleEvent(now_s, asg.name, "scale-up", asg.desired - before))
        self._last_scale_up_s = now_s
        # a scale-up of a group still scaling up extends the deadline of the first
        start_s = self._requests.get(g, (now_s, now_s))[0]
        self._requests[g] = (start_s, now_s + self.settings.max_node_provision_time_s)
        return True

    def _estimate(
        self,
        g: int,
        cpu: NDArray[np.int64],
        mem: NDArray[np.int64],
        eni: NDArray[np.bool_],
        shapes: NDArray[np.int64],
        n_shapes: int,
        n_room: int,
    ) -> tuple[int, NDArray[np.bool_]]:
        """The binpacking estimate for group ``g``: new nodes, and which pods they take."""
        template = self._templates[g]
        score = cpu / max(template[_k.ALLOCATABLE_CPU], 1) + mem / max(
            template[_k.ALLOCATABLE_MEM], 1
        )
        # equivalence groups largest first, each in its pods' order
        order = np.lexsort((np.arange(score.size), shapes, -score))
        # first-fit onto at most n_room new nodes, used in order: a node is opened only when a
        # pod fits none before it (a pod that fits no empty template is not helped)
        nodes = np.repeat(template[None, :], min(n_room, order.size), axis=0)
        where = np.empty(order.size, dtype=np.int64)
        _ak.first_fit(
            nodes,
            np.ones(len(nodes), np.bool_),
            cpu[order],
            mem[order],
            eni[order],
            shapes[order],
            n_shapes,
            where,
        )
        helped = np.zeros(cpu.size, dtype=np.bool_)
        helped[order[where >= 0]] = True
        n_new = int(where.max()) + 1 if where.size and where.max() >= 0 else 0
        return n_new, helped

    def _expand(
        self,
        options: list[tuple[int, int, NDArray[np.bool_]]],
        cpu: NDArray[np.int64],
        mem: NDArray[np.int64],
    ) -> tuple[int, int, NDArray[np.bool_]]:
        """The expander's pick among the groups that would help."""
        if self.settings.expander == "least-waste":
            waste = []
            for g, n_new, helped in options:
                cpu_frac = cpu[helped].sum() / (n_new * self._capacity_cpu_millicores[g])
                mem_frac = mem[helped].sum() / (n_new * self._capacity_memory_bytes[g])
                waste.append((1.0 - cpu_frac) + (1.0 - mem_frac))
            best = min(waste)
            options = [o for o, w in zip(options, waste, strict=True) if w == best]
        return options[int(self._rng.integers(len(options)))] if len(options) > 1 else options[0]

    # ------------------------------------------------------------------ pods waiting for IPs
    def _check_ip_waits(self, run: ClusterRun, now_s: float, ready: NDArray[np.bool_]) -> None:
        """No scale-up: say so if bound pods wait for an address while CPU is free."""
        if not math.isnan(self._ip_wait_unseen_s):
            return
        if not run.ip_waiting_at_last_sample():
            return
        nodes = run.cluster.nodes[ready]
        if not (nodes[:, _k.ALLOCATABLE_CPU] > nodes[:, _k.REQUESTED_CPU]).any():
            return
        self._ip_wait_unseen_s = now_s
        run.note(IP_WAIT_UNSEEN_NOTE)

    # ------------------------------------------------------------------ scale-down
    def _scale_down(
        self,
        run: ClusterRun,
        now_s: float,
        group_of: NDArray[np.int64],
        ready: NDArray[np.bool_],
    ) -> bool:
        """Track unneeded nodes; remove those unneeded long enough, outside the cooldowns."""
        nodes = run.cluster.nodes
        requested_cpu = nodes[:, _k.REQUESTED_CPU].astype(np.float64)
        requested_mem = nodes[:, _k.REQUESTED_MEM].astype(np.float64)
        if self.settings.ignore_daemonsets_utilization:
            requested_cpu = requested_cpu - np.where(ready, self._ds_cpu_millicores, 0)
            requested_mem = requested_mem - np.where(ready, self._ds_memory_bytes, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            utilization = np.maximum(
                np.where(
                    nodes[:, _k.ALLOCATABLE_CPU] > 0,
                    requested_cpu / nodes[:, _k.ALLOCATABLE_CPU],
                    0.0,
                ),
                np.where(
                    nodes[:, _k.ALLOCATABLE_MEM] > 0,
                    requested_mem / nodes[:, _k.ALLOCATABLE_MEM],
                    0.0,
                ),
            )
        low = ready & (utilization < self.settings.scale_down_utilization_threshold_frac)
        # empty: nothing but its DaemonSet pods, nothing to move
        is_empty = low & (nodes[:, _k.REQUESTED_PODS] <= self._n_ds_pods)
        empty = np.flatnonzero(is_empty).tolist()
        since = self._unneeded_since
        # the non-empty ones already unneeded first (keeping their timers), then node order
        is_non_empty = low & ~is_empty
        non_empty = [n for _, n in sorted((t, n) for n, t in since.items() if is_non_empty[n])]
        if len(non_empty) < MAX_NON_EMPTY_CANDIDATES:
            is_non_empty[non_empty] = False
            non_empty += np.flatnonzero(is_non_empty)[
                : MAX_NON_EMPTY_CANDIDATES - len(non_empty)
            ].tolist()
        non_empty = non_empty[:MAX_NON_EMPTY_CANDIDATES]
        # the pods each candidate would have to move (DaemonSet pods stay with their node)
        kind = run.pods["kind"]
        moved = {n: sorted(p for p in run.pods_on[n] if kind[p] != _DAEMONSET) for n in non_empty}
        unneeded = set(empty)
        if non_empty:
            ids = np.array([p for n in non_empty for p in moved[n]], dtype=np.int64)
            start = np.cumsum([0] + [len(moved[n]) for n in non_empty]).astype(np.int64)
            table = run.pods.table(ids)
            cpu = table.cpu_millicores.astype(np.int64)
            mem = (table.memory_mib * _MIB_BYTES).astype(np.int64)
            eni = table.security_groups.astype(np.bool_)
            shapes = _shapes(cpu, mem, eni)
            ok = np.zeros(len(non_empty), dtype=np.bool_)
            _ak.removable(
                nodes.copy(),
                np.array(non_empty, dtype=np.int64),
                start,
                cpu,
                mem,
                eni,
                shapes,
                int(shapes.max()) + 1,
                ok,
            )
            unneeded.update(n for n, is_ok in zip(non_empty, ok.tolist(), strict=True) if is_ok)
        self._unneeded_since = {n: since.get(n, now_s) for n in sorted(unneeded)}
        if (
            now_s < self._last_scale_up_s + self.settings.scale_down_delay_after_add_s
            or now_s < self._last_scale_down_s + self.settings.scan_interval_s
        ):
            return False
        due = [
            n
            for n, t_s in self._unneeded_since.items()
            if now_s >= t_s + self.settings.scale_down_unneeded_time_s
        ]
        # never below a group's min size
        room = {g: asg.desired - run.plan.node_groups[g].min_size for g, asg in enumerate(run.asgs)}
        removable_now = []
        for node in due:
            g = int(group_of[node])
            if room[g] > 0:
                room[g] -= 1
                removable_now.append(node)
        n_bulk = self.settings.max_empty_bulk_delete
        victims = [n for n in removable_now if is_empty[n]][:n_bulk]
        victims = victims or [n for n in removable_now if not is_empty[n]][:1]
        removed: dict[int, int] = {}
        for node in victims:
            g = int(group_of[node])
            run.terminate_node(node, now_s, decrement_desired=True)
            del self._unneeded_since[node]
            removed[g] = removed.get(g, 0) + 1
        for g, n_nodes in removed.items():
            self._events.append(ScaleEvent(now_s, run.asgs[g].name, "scale-down", n_nodes))
        if removed:
            self._last_scale_down_s = now_s
        return bool(removed)
