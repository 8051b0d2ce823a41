"""The fast ipamd engine: the tick contract compiled, on a :class:`FastWorld`.

:class:`Engine` offers the driver interface of :mod:`cnisim.sim.drive` (the same as the
reference model's :class:`~cnisim.sim.ipamd.ReferenceEngine`) and returns the shared
:class:`~cnisim.sim.records.SimResult`. Every ipamd rule lives once, in
:mod:`cnisim.sim._enginekernels`, which runs whole stretches of ticks in compiled code and
calls the World's kernels directly; this module holds the arrays, grows them (doubling) and
checks the input.

Differences from the reference model, stated: ticks with nothing due are skipped and a node
whose pool step made no EC2 call is not visited again until its datastore changes or a timer
can change the decision (``n_ticks`` and ``n_node_steps`` count what ran); no trace
(``record_ticks``, ``snapshot_s``). Pod ids are indexed directly, so they must be below
:data:`MAX_POD_ID`.

References
----------
The tick contract, :mod:`cnisim.sim.contract`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cnisim.cni import IpamdConfig
from cnisim.errors import UsageError
from cnisim.sim import _enginekernels as ek
from cnisim.sim.contract import (
    BRANCH_ENI_COOLDOWN_S,
    ERROR_CODES,
    FAIL_REASONS,
    IPS_PER_PREFIX,
    METRICS,
    OPS,
    POD_RETRY_INTERVAL_S,
    POOL_INTERVAL_S,
    SUBNET_METRICS,
    NodeSpec,
    Placement,
    first_tick_at,
)
from cnisim.sim.drive import (
    check_engine_options,
    check_node_ids,
    check_node_specs,
    drive_one_group,
)
from cnisim.sim.ec2 import Ec2Params
from cnisim.sim.fastworld import FastWorld, _grown
from cnisim.sim.records import SimResult, first_failures
from cnisim.sim.workload import PodEvents

__all__ = ["MAX_POD_ID", "Engine", "run_engine"]

#: Pod ids index an array directly; larger ids are refused.
MAX_POD_ID: Final = 2**31 - 1
_FIRST_CAPACITY: Final = 64
# the kernels' column dtypes, as objects: np.ascontiguousarray parses them faster
_F64: Final = np.dtype(np.float64)
_I64: Final = np.dtype(np.int64)
_I8: Final = np.dtype(np.int8)
_BOOL: Final = np.dtype(np.bool_)


class _Direct:
    """A compiled kernel called through ``call``, without numba's per-call dispatch.

    numba's dispatcher types every argument on every call: for the engine's NamedTuples of
    arrays that costs about 16 us, more than a quiet tick. The kernels here have one
    signature (C-contiguous arrays of fixed dtypes, int and float scalars), so after the first
    call, which compiles or loads the kernel and types its arguments, ``call`` is the one
    compiled overload itself, which unboxes the arguments as that signature says without
    checking them (callers pass arrays of the right dtype and layout). Should a kernel ever
    gain a second overload, every call goes through the dispatcher again.
    """

    def __init__(self, kernel: Any) -> None:
        self._kernel = kernel
        self.call: Callable[..., Any] = self._first

    def _first(self, *args: Any) -> Any:
        out = self._kernel(*args)
        overloads = list(self._kernel.overloads.values())
        self.call = overloads[0].entry_point if len(overloads) == 1 else self._kernel
        return out


_run_ticks = _Direct(ek.run_ticks)
_queue_pods = _Direct(ek.queue_pods)
_queue_dels = _Direct(ek.queue_dels)
_peek = _Direct(ek.peek)


def _grown_queues(array: NDArray[Any], size: int, fill: float) -> NDArray[Any]:
    """Queues (rows, each contiguous) extended to ``size`` slots, new slots set to ``fill``:
    row by row, not through a transposed copy (which took twice as long)."""
    out = np.empty((array.shape[0], size), dtype=array.dtype)
    out[:, : array.shape[1]] = array
    out[:, array.shape[1] :] = fill
    return out


def _grid_ticks(tick_s: float, pool_interval_s: float) -> int:
    """Ticks between no-call steps when ``k * tick_s + pool_interval_s`` is exact, else 0."""
    scaled = (tick_s * 1024, pool_interval_s * 1024)
    if all(float(x).is_integer() and x < 2**40 for x in scaled):
        return max(first_tick_at(pool_interval_s, tick_s), 1)
    return 0


class Engine:
    """The fast engine as a driver: nodes, pods and ticks on a :class:`FastWorld`.

    Parameters
    ----------
    world : FastWorld, optional
        The World to act on; default one built from ``subnet_cidrs``, ``seed`` and
        ``ec2_params``.
    subnet_cidrs : mapping of str to str, optional
        Subnet id -> IPv4 CIDR (when no ``world`` is given).
    seed : int
        Run seed (when no ``world`` is given).
    ec2_params : Ec2Params, optional
        EC2 latencies and buckets (when no ``world`` is given).
    tick_s : float
        Tick length [s].
    placement : {"first_fit", "random"}
        Which eligible address a pod gets.
    pod_retry_interval_s : float
        Delay before a failed pod ADD is tried again [s] (kubelet backOffPeriod, 10 s).
    pool_interval_s : float
        Pause between pool steps [s] (ipamd ipPoolMonitorInterval, 5 s).
    sample_every_s : float
        Node and subnet samples at the end of the first tick at or after each multiple [s].
    branch_eni_cooldown_s : float
        How long a deleted SGP pod's branch ENI waits before the controller deletes it [s].

    Raises
    ------
    UsageError
        Bad options, or a World that is not a FastWorld.

    Examples
    --------
    >>> from cnisim.sim.workload import PodEvents
    >>> engine = Engine(subnet_cidrs={"subnet-a": "10.0.0.0/24"}, seed=1)
    >>> spec = NodeSpec("m5.large", 3, 10, 29, "subnet-a", "subnet-a")
    >>> engine.add_nodes([spec], IpamdConfig(), 0.0).tolist()
    [0]
    >>> engine.submit_pods(PodEvents.from_arrays([30.0], [0], [1], [7]))
    >>> engine.run_until(60.0)
    >>> int(engine.metrics()["ips_assigned"][0]), float(engine.result().wait_s[0])
    (1, 0.0)
    """

    def __init__(
        self,
        world: FastWorld | None = None,
        *,
        subnet_cidrs: Mapping[str, str] | None = None,
        seed: int = 0,
        ec2_params: Ec2Params | None = None,
        tick_s: float = 1.0,
        placement: Placement = "first_fit",
        pod_retry_interval_s: float = POD_RETRY_INTERVAL_S,
        pool_interval_s: float = POOL_INTERVAL_S,
        sample_every_s: float = 60.0,
        branch_eni_cooldown_s: float = BRANCH_ENI_COOLDOWN_S,
    ) -> None:
        check_engine_options(
            tick_s=tick_s,
            pool_interval_s=pool_interval_s,
            pod_retry_interval_s=pod_retry_interval_s,
            sample_every_s=sample_every_s,
            branch_eni_cooldown_s=branch_eni_cooldown_s,
            placement=placement,
        )
        if world is None:
            world = FastWorld(subnet_cidrs or {}, seed=seed, ec2_params=ec2_params)
        elif not isinstance(world, FastWorld):
            raise UsageError("the fast engine runs on a FastWorld: build one with the same seed")
        self.world = world
        self.tick_s = float(tick_s)
        self.placement: Placement = placement
        n_subnets = len(world.subnet_ids())
        cap = _FIRST_CAPACITY
        par = np.zeros(ek.N_PAR)
        par[ek.P_TICK] = tick_s
        par[ek.P_POOL] = pool_interval_s
        par[ek.P_RETRY] = pod_retry_interval_s
        par[ek.P_SAMPLE_EVERY] = sample_every_s
        par[ek.P_BRANCH_CD] = branch_eni_cooldown_s
        par[ek.P_GRID_D] = _grid_ticks(float(tick_s), float(pool_interval_s))
        ctr = np.zeros(ek.N_CTR, dtype=np.int64)
        ctr[ek.C_JL_K] = ek.NEVER_K
        self.arrays = ek.EngineArrays(
            par=par,
            ctr=ctr,
            ni=np.zeros((0, ek.N_NI), dtype=np.int64),
            nf=np.zeros((0, ek.N_NF)),
            cand=np.zeros(0, dtype=np.int64),
            ei=np.zeros((0, ek.N_EI), dtype=np.int64),
            ef=np.zeros(0),
            ci=np.zeros((0, ek.N_CI), dtype=np.int64),
            addr_pod=np.zeros(0, dtype=np.int64),
            addr_cool=np.zeros(0),
            pod_index=np.full(cap, -1, dtype=np.int64),
            pi=np.zeros((cap, ek.N_PI), dtype=np.int64),
            pf=np.zeros((cap, ek.N_PF)),
            qf=np.zeros((ek.N_QF, cap)),
            qi=np.zeros((ek.N_QI, cap), dtype=np.int64),
            smp=np.zeros((cap, len(METRICS) + 1), dtype=np.int64),
            smp_s=np.zeros(cap),
            ssm=np.zeros((cap, n_subnets, len(SUBNET_METRICS)), dtype=np.int64),
            ssm_s=np.zeros(cap),
            scratch=np.zeros(ek.N_SCRATCH, dtype=np.int64),
        )
        # the last tick the EC2 model's per-minute counts are sized for (a margin past it)
        self._minutes_k = -1
        self._hour_ticks = math.ceil(3600.0 / self.tick_s)
        # used lengths of the ragged node stores
        self._n_eni_slots = 0
        self._n_cidr_slots = 0
        self._n_addr_slots = 0
        self._n_cand = 0

    # ================================================================== driver interface
    @property
    def n_nodes(self) -> int:
        """Nodes added so far (ids 0 .. n_nodes - 1)."""
        return int(self.arrays.ctr[ek.C_N_NODES])

    @property
    def now_s(self) -> float:
        """Time of the last tick run [s] (-tick_s before the first)."""
        return (int(self.arrays.ctr[ek.C_K_NEXT]) - 1) * self.tick_s

    @property
    def n_ticks(self) -> int:
        """Ticks run (ticks with nothing due are skipped)."""
        return int(self.arrays.ctr[ek.C_N_TICKS])

    @property
    def n_node_steps(self) -> int:
        """Pool steps evaluated (sleeping nodes' no-op steps are not)."""
        return int(self.arrays.ctr[ek.C_N_NODE_STEPS])

    def add_nodes(
        self, specs: Sequence[NodeSpec], config: IpamdConfig, now_s: float
    ) -> NDArray[np.int64]:
        """Add a node group's nodes; they join at the first tick at or after ``now_s``.

        Returns
        -------
        ndarray of int64
            The new node ids, consecutive.

        Raises
        ------
        UsageError
            IPv6, a subnet not in the World, impossible limits, or a bad time.
        """
        check_node_specs(specs, config, self.world.subnet_ids(), now_s)
        first = self.n_nodes
        self._ensure_nodes(first + len(specs))
        index = self.world.space.index
        for offset, spec in enumerate(specs):
            self._add_node(first + offset, spec, config, index, float(now_s))
        A = self.arrays
        A.ctr[ek.C_N_NODES] = first + len(specs)
        if specs:
            A.ctr[ek.C_JL_K] = min(int(A.ctr[ek.C_JL_K]), first_tick_at(now_s, self.tick_s))
        return np.arange(first, first + len(specs), dtype=np.int64)

    def remove_nodes(self, ids: ArrayLike, now_s: float) -> None:
        """Terminate nodes at the first tick at or after ``now_s`` (addresses return, pods go).

        Raises
        ------
        UsageError
            An unknown node id, or a leave before the node's join.
        """
        A = self.arrays
        for i in check_node_ids(ids, self.n_nodes):
            if A.ni[i, ek.ND_LEFT]:
                continue
            join_due_s = float(A.nf[i, ek.NF_JOIN_DUE])
            if not A.ni[i, ek.ND_ENGINE_JOINED] and now_s < join_due_s:
                raise UsageError(
                    f"node {i} would leave at {now_s} s before it joins at {join_due_s} s: "
                    "remove nodes after their join"
                )
            A.nf[i, ek.NF_LEAVE_DUE] = min(A.nf[i, ek.NF_LEAVE_DUE], float(now_s))
            A.ctr[ek.C_JL_K] = min(int(A.ctr[ek.C_JL_K]), first_tick_at(now_s, self.tick_s))

    def submit_pods(self, events: PodEvents) -> None:
        """Queue pod ADDs and DELs (each pod's DEL after its ADD); sequence = row order.

        Raises
        ------
        UsageError
            A pod on a node not added, a pod added twice, a DEL of a pod never added, a
            second DEL or a DEL before its ADD (the rows before the bad one are queued, as in
            the reference model), or a pod id outside ``0 .. MAX_POD_ID``.
        """
        times = np.ascontiguousarray(events.time_s, _F64)
        if not times.size:
            return
        columns = (
            times,
            np.ascontiguousarray(events.node, _I64),
            np.ascontiguousarray(events.delta, _I8),
            np.ascontiguousarray(events.pod, _I64),
            np.ascontiguousarray(events.branch, _BOOL),
        )
        code, row = _queue_pods.call(self.arrays, *columns, MAX_POD_ID)
        if code == ek.Q_NEED_ROOM:
            self._ensure_pods(times.size, row)  # room for every row as an ADD
            code, row = _queue_pods.call(self.arrays, *columns, MAX_POD_ID)
        if code != ek.Q_OK:
            self._raise_queue_error(code, int(columns[3][row]), float(times[row]))

    def delete_pods(self, time_s: ArrayLike, pods: ArrayLike) -> None:
        """Queue DELs of pods submitted earlier (sequence = order given).

        Raises
        ------
        UsageError
            As :meth:`submit_pods` for DELs.
        """
        times = np.ascontiguousarray(time_s, _F64)  # at least 1-d
        pod_ids = np.ascontiguousarray(pods, _I64)
        times = np.ascontiguousarray(np.broadcast_to(times, pod_ids.shape))
        code, row = _queue_dels.call(self.arrays, times, pod_ids)
        if code != ek.Q_OK:
            self._raise_queue_error(code, int(pod_ids[row]), float(times[row]))

    def peek_s(self) -> float:
        """The earliest time anything is due, as the reference model counts it (the next pool
        step of every joined idle node included) [s]."""
        return float(_peek.call(self.arrays))

    def peek_nodes_s(self, ids: ArrayLike) -> float:
        """The earliest time any of nodes ``ids`` joins, leaves, completes a step or steps
        (what can make a node join, fail to launch or become Ready) [s]."""
        nodes = np.array(check_node_ids(ids, self.n_nodes, "peek_nodes_s"), dtype=np.int64)
        return float(ek.peek_nodes(self.arrays, nodes))

    def run_until(self, until_s: float) -> None:
        """Run every tick with ``now_s <= until_s``.

        Raises
        ------
        UsageError
            A time that is not finite.
        """
        if not math.isfinite(until_s):
            raise UsageError(f"run_until needs a finite time, not {until_s}")
        k_last = math.floor(until_s / self.tick_s + 1e-9)
        ctr = self.arrays.ctr
        if k_last < ctr[ek.C_K_NEXT]:
            return
        world = self.world
        if k_last > self._minutes_k:  # per-minute EC2 counts to an hour past every tick run,
            self._minutes_k = k_last + self._hour_ticks  # sized an hour ahead, not every call
            world.ec2.ensure_minutes(self._minutes_k * self.tick_s + 3600.0)
        if ctr[ek.C_JL_K] <= k_last:  # joins may launch instances
            joined = np.count_nonzero(self.arrays.ni[: self.n_nodes, ek.ND_ENGINE_JOINED])
            world.ec2.ensure_instances(self.n_nodes - int(joined))
        rnd = self.placement == "random"
        while True:
            status = _run_ticks.call(
                self.arrays,
                world.space.arrays,
                world.ec2.arrays,
                world.subnet_state,
                world.ec2_state,
                world.placement_state,
                k_last,
                rnd,
            )
            if status == ek.RUN_DONE:
                return
            if status == ek.RUN_NEED_SAMPLES:
                self._grow_samples(k_last * self.tick_s)
            else:
                A = self.arrays
                n_more = self.n_nodes * (2 + int(A.ctr[ek.C_MAX_CAND]))
                world.space.ensure_owners(n_more + int(A.ctr[ek.C_BRANCH_UNPLACED]) + 1)

    def metrics(self, now_s: float | None = None) -> dict[str, NDArray[np.int64]]:
        """Per-node metrics (every node id; zeros for nodes not joined) at ``now_s``."""
        t_s = self.now_s if now_s is None else now_s
        out = np.zeros((self.n_nodes, len(METRICS)), dtype=np.int64)
        ek.all_metrics(self.arrays, float(t_s), out)
        return {name: out[:, j] for j, name in enumerate(METRICS)}

    def node_samples(
        self, since_s: float
    ) -> tuple[NDArray[np.float64], NDArray[np.int64], dict[str, NDArray[np.int64]]]:
        """The node samples taken at or after ``since_s``: times [s], nodes and metrics, as
        :meth:`result` has them."""
        A = self.arrays
        n = int(A.ctr[ek.C_N_SAMPLES])
        first = int(np.searchsorted(A.smp_s[:n], since_s))
        rows = A.smp[first:n]
        return (
            A.smp_s[first:n].copy(),
            rows[:, ek.SMP_NODE].copy(),
            {name: rows[:, j].copy() for j, name in enumerate(METRICS)},
        )

    def node_status(self) -> dict[str, NDArray[np.bool_]]:
        """Per node: ``joined``, ``ready`` (its pool held an address), ``gone``,
        ``launch_failed``."""
        n = self.n_nodes
        nd, nf = self.arrays.ni[:n], self.arrays.nf[:n]
        joined = nd[:, ek.ND_JOINED] == 1
        return {
            "joined": joined,
            "ready": joined & ~np.isnan(nf[:, ek.NF_READY_S]),
            "gone": nd[:, ek.ND_LEFT] == 1,
            "launch_failed": nd[:, ek.ND_LAUNCH_FAILED] == 1,
        }

    # ================================================================== inspection
    def _eni_slots(self, node: int) -> list[int]:
        """Physical ENI slots of a node, in ipamd's ENI order (attach order)."""
        (i,) = check_node_ids([node], self.n_nodes)
        ni, ei = self.arrays.ni, self.arrays.ei
        base = int(ni[i, ek.CF_ENI_BASE])
        return [base + int(ei[base + k, ek.EI_ORDER]) for k in range(int(ni[i, ek.ND_N_ENIS]))]

    def ips_per_eni(self, node: int) -> list[int]:
        """IPs held on each ENI of a node, in ENI order (16 per prefix) [IPs]."""
        slots = self._eni_slots(node)
        z = int(self.arrays.ni[node, ek.CF_Z])
        return [int(self.arrays.ei[g, ek.EI_NCIDR]) * z for g in slots]

    def node_addresses(self, node: int) -> NDArray[np.uint32]:
        """Every address the node holds in its datastore (pool addresses, sorted)."""
        A = self.arrays
        slots = self._eni_slots(node)
        s, z = int(A.ni[node, ek.CF_S]), int(A.ni[node, ek.CF_Z])
        cidr_base, eni_base = int(A.ni[node, ek.CF_CIDR_BASE]), int(A.ni[node, ek.CF_ENI_BASE])
        bases = [
            int(A.ci[row + int(A.ci[row + c, ek.CI_ORDER]), ek.CI_ADDR])
            for g in slots
            for row in [cidr_base + (g - eni_base) * s]
            for c in range(int(A.ei[g, ek.EI_NCIDR]))
        ]
        held = (np.asarray(bases, dtype=np.int64)[:, None] + np.arange(z)).ravel()
        return np.sort(held).astype(np.uint32)

    def pod_address(self, pod: int) -> int | None:
        """Address of a running pod (uint32 int), else None (unknown, waiting or gone)."""
        A = self.arrays
        if not 0 <= pod < A.pod_index.size or A.pod_index[pod] < 0:
            return None
        p = int(A.pod_index[pod])
        if A.pi[p, ek.PI_STATE] != ek.RUNNING:
            return None
        where = int(A.pi[p, ek.PI_WHERE])
        if A.pi[p, ek.PI_BRANCH]:
            return self.world.ec2.primary_ip_of(where)  # its branch ENI's address
        i = int(A.pi[p, ek.PI_NODE])
        z = int(A.ni[i, ek.CF_Z])
        offset = where - int(A.ni[i, ek.CF_ADDR_BASE])
        gc = int(A.ni[i, ek.CF_CIDR_BASE]) + offset // z
        return int(A.ci[gc, ek.CI_ADDR]) + offset % z

    def pods_running(self, pods: ArrayLike) -> NDArray[np.bool_]:
        """Per pod: its ADD got an address (or branch ENI) and it has not been deleted."""
        A = self.arrays
        ids = np.asarray(pods, dtype=np.int64).ravel()
        if not A.pod_index.size or not A.pi.shape[0]:
            return np.zeros(ids.size, dtype=bool)
        known = (ids >= 0) & (ids < A.pod_index.size)
        rows = np.where(known, A.pod_index[np.where(known, ids, 0)], -1)
        state = A.pi[np.maximum(rows, 0), ek.PI_STATE]
        return (rows >= 0) & (state == ek.RUNNING)

    def result(self) -> SimResult:
        """Everything recorded so far, in the shared schema."""
        A = self.arrays
        world = self.world
        end_s = self.now_s
        n = self.n_nodes
        n_smp = int(A.ctr[ek.C_N_SAMPLES])
        n_ssm = int(A.ctr[ek.C_N_SUBNET_SAMPLES])
        n_pods = int(A.ctr[ek.C_N_PODS])
        pods = A.pi[:n_pods]
        outcome = pods[:, ek.PI_OUTCOME].astype(np.int8)
        wait_s = A.pf[:n_pods, ek.PF_WAIT].copy()
        first_s = A.pf[:n_pods, ek.PF_FIRST]
        node = pods[:, ek.PI_NODE]
        waiting = outcome == ek.OUT_WAITING
        gone = waiting & (A.ni[node, ek.ND_LEFT] == 1)
        outcome[gone] = ek.DROPPED  # dropped at their node's leave
        wait_s[gone] = A.nf[node[gone], ek.NF_LEAVE_S] - first_s[gone]
        still = waiting & ~gone
        wait_s[still] = end_s - first_s[still]
        due = np.flatnonzero(outcome >= 0)
        due = due[np.argsort(pods[due, ek.PI_ID], kind="stable")]
        subnet_ids = tuple(world.subnet_ids())
        calls, throttled = world.calls_per_minute()
        ni, nf = A.ni[:n], A.nf[:n]
        return SimResult(
            sample_s=A.smp_s[:n_smp].copy(),
            sample_node=A.smp[:n_smp, ek.SMP_NODE].copy(),
            samples={name: A.smp[:n_smp, j].copy() for j, name in enumerate(METRICS)},
            subnet_ids=subnet_ids,
            subnet_sample_s=A.ssm_s[:n_ssm].copy(),
            subnet_samples={
                name: A.ssm[:n_ssm, :, j].copy() for j, name in enumerate(SUBNET_METRICS)
            },
            subnet_exhausted_at_s=first_failures(world, subnet_ids, ERROR_CODES[0]),
            subnet_prefix_exhausted_at_s=first_failures(world, subnet_ids, ERROR_CODES[1]),
            node_join_s=nf[:, ek.NF_JOIN_S].copy(),
            node_ready_s=nf[:, ek.NF_READY_S].copy(),
            node_leave_s=nf[:, ek.NF_LEAVE_S].copy(),
            node_launch_failed=ni[:, ek.ND_LAUNCH_FAILED] == 1,
            n_adds=ni[:, ek.ND_N_ADDS].copy(),
            n_failed_adds=ni[:, ek.ND_N_FAILED].copy(),
            n_failed_by_reason=ni[:, ek.NI_REASON : ek.NI_REASON + len(FAIL_REASONS)].copy(),
            n_calls=ni[:, ek.NI_OPS : ek.NI_OPS + len(OPS)].copy(),
            n_errors=ni[:, ek.NI_ERRS : ek.NI_ERRS + len(ERROR_CODES)].copy(),
            n_calls_by_action=world.n_calls_by_action(),
            n_throttled_by_action=world.n_throttled_by_action(),
            calls_per_minute=calls,
            throttled_per_minute=throttled,
            pod_ids=pods[due, ek.PI_ID].copy(),
            pod_node=node[due].copy(),
            pod_outcome=outcome[due],
            wait_s=wait_s[due],
            pod_n_failed_adds=pods[due, ek.PI_NFAIL].copy(),
            pod_last_reason=pods[due, ek.PI_REASON].astype(np.int8),
            n_ticks=self.n_ticks,
            n_node_steps=self.n_node_steps,
            end_s=end_s,
        )

    # ================================================================== internals
    def _add_node(
        self, i: int, spec: NodeSpec, config: IpamdConfig, index: Any, now_s: float
    ) -> None:
        pd = config.prefix_delegation_active(spec.supports_prefix_delegation)
        n_enis, n_slots = spec.max_enis, spec.n_slots_per_eni
        cidr_size = IPS_PER_PREFIX if pd else 1
        candidates = [index(spec.pod_subnet), *(index(s) for s in spec.extra_subnets)]
        self._ensure_stores(n_enis, n_enis * n_slots + n_slots, n_enis * n_slots * cidr_size)
        self._ensure_cand(len(candidates))
        A = self.arrays
        A.cand[self._n_cand : self._n_cand + len(candidates)] = candidates
        row = np.zeros(ek.N_NI, dtype=np.int64)
        row[ek.CF_MAX_ENIS] = n_enis
        row[ek.CF_S] = n_slots
        row[ek.CF_Z] = cidr_size
        row[ek.CF_MAX_PODS] = spec.max_pods
        row[ek.CF_MAX_BRANCH] = spec.max_branch_enis if config.enable_pod_eni else 0
        row[ek.CF_NODE_SUBNET] = index(spec.node_subnet)
        row[ek.CF_POD_SUBNET] = index(spec.pod_subnet)
        row[ek.CF_CAND_START] = self._n_cand
        row[ek.CF_CAND_LEN] = len(candidates)
        row[ek.CF_PD] = pd
        row[ek.CF_WARM_IP_MODE] = config.warm_ip_targets_defined
        row[ek.CF_WARM_IP] = config.warm_ip_target
        row[ek.CF_MIN_IP] = config.minimum_ip_target
        row[ek.CF_WARM_ENI] = config.warm_eni_target
        row[ek.CF_WARM_PREFIX] = config.warm_prefix_target
        row[ek.CF_CUSTOM] = config.custom_network_cfg
        row[ek.CF_DISCOVERY] = config.enable_subnet_discovery
        row[ek.CF_TRUNKING] = config.enable_pod_eni and spec.trunking_compatible
        row[ek.CF_ENI_BASE] = self._n_eni_slots
        row[ek.CF_CIDR_BASE] = self._n_cidr_slots
        row[ek.CF_ADDR_BASE] = self._n_addr_slots
        row[[ek.ND_INSTANCE, ek.ND_TRUNK, ek.NI_STEP_POS, ek.NI_DONE_POS]] = -1
        row[[ek.ND_STEP_K, ek.ND_DONE_K]] = ek.NEVER_K
        A.ni[i] = row
        A.nf[i] = [
            config.ip_cooldown_period_s,
            now_s,  # join due
            math.inf,  # leave due
            math.nan,  # join
            math.nan,  # leave
            math.nan,  # ready
            math.inf,  # next step
            math.nan,  # step end
            -math.inf,  # last decrease
            -math.inf,  # pause until
        ]
        A.ei[self._n_eni_slots : self._n_eni_slots + n_enis, ek.EI_ID] = -1
        A.ctr[ek.C_MAX_CAND] = max(int(A.ctr[ek.C_MAX_CAND]), len(candidates))
        self._n_eni_slots += n_enis
        self._n_cidr_slots += n_enis * n_slots + n_slots
        self._n_addr_slots += n_enis * n_slots * cidr_size
        self._n_cand += len(candidates)

    def _replace(self, **arrays: Any) -> None:
        self.arrays = self.arrays._replace(**arrays)

    def _ensure_nodes(self, n: int) -> None:
        A = self.arrays
        if n > A.ni.shape[0]:
            cap = max(n, 2 * A.ni.shape[0], _FIRST_CAPACITY)
            self._replace(ni=_grown(A.ni, cap, 0), nf=_grown(A.nf, cap, 0.0))

    def _ensure_stores(self, n_enis: int, n_cidrs: int, n_addrs: int) -> None:
        A = self.arrays
        if self._n_eni_slots + n_enis > A.ef.size:
            cap = max(self._n_eni_slots + n_enis, 2 * A.ef.size)
            self._replace(ei=_grown(A.ei, cap, -1), ef=_grown(A.ef, cap, 0.0))
        if self._n_cidr_slots + n_cidrs > A.ci.shape[0]:
            self._replace(ci=_grown(A.ci, max(self._n_cidr_slots + n_cidrs, 2 * A.ci.shape[0]), 0))
        A = self.arrays
        if self._n_addr_slots + n_addrs > A.addr_pod.size:
            cap = max(self._n_addr_slots + n_addrs, 2 * A.addr_pod.size)
            self._replace(
                addr_pod=_grown(A.addr_pod, cap, -1), addr_cool=_grown(A.addr_cool, cap, 0.0)
            )

    def _ensure_cand(self, n: int) -> None:
        A = self.arrays
        if self._n_cand + n > A.cand.size:
            self._replace(cand=_grown(A.cand, max(self._n_cand + n, 2 * A.cand.size), 0))

    def _ensure_pods(self, n_more: int, max_id: int) -> None:
        A = self.arrays
        need = int(A.ctr[ek.C_N_PODS]) + n_more
        if need > A.pi.shape[0]:
            cap = max(need, 2 * A.pi.shape[0])
            self._replace(
                pi=_grown(A.pi, cap, 0),
                pf=_grown(A.pf, cap, 0.0),
                qf=_grown_queues(A.qf, cap, 0.0),
                qi=_grown_queues(A.qi, cap, 0),
            )
            A = self.arrays
        if max_id >= A.pod_index.size:
            size = max(max_id + 1, 2 * A.pod_index.size)
            self._replace(pod_index=_grown(A.pod_index, size, -1))

    def _grow_samples(self, until_s: float) -> None:
        """Room for every sample up to ``until_s`` (at least twice the room, for runs in small
        steps: the copies then add up to twice the final size)."""
        A = self.arrays
        every_s = float(A.par[ek.P_SAMPLE_EVERY])
        n_times = math.floor((until_s - A.par[ek.P_NEXT_SAMPLE]) / every_s) + 2
        n_rows = int(A.ctr[ek.C_N_SAMPLES]) + self.n_nodes * n_times
        cap = max(n_rows, 2 * A.smp_s.size)
        sub_cap = max(int(A.ctr[ek.C_N_SUBNET_SAMPLES]) + n_times, 2 * A.ssm_s.size)
        self._replace(
            smp=_grown(A.smp, cap, 0),
            smp_s=_grown(A.smp_s, cap, 0.0),
            ssm=_grown(A.ssm, sub_cap, 0),
            ssm_s=_grown(A.ssm_s, sub_cap, 0.0),
        )

    def _raise_queue_error(self, code: int, pod: int, t_s: float) -> None:
        if code == ek.Q_OK:
            return
        if code == ek.Q_BAD_NODE:
            raise UsageError("a pod is scheduled on a node id that is not added: add nodes first")
        if code == ek.Q_BAD_POD_ID:
            raise UsageError(f"pod ids must be in 0 .. {MAX_POD_ID}: number pods from 0")
        if code == ek.Q_TWICE_ADDED:
            raise UsageError(f"pod {pod} was already submitted: give every pod its own id")
        if code == ek.Q_NEVER_ADDED:
            raise UsageError(f"pod {pod} is deleted but was never added: submit its ADD first")
        if code == ek.Q_TWICE_DELETED:
            raise UsageError(f"pod {pod} is deleted twice: give each pod at most one DEL")
        first_s = float(self.arrays.pf[self.arrays.pod_index[pod], ek.PF_FIRST])
        raise UsageError(f"pod {pod} is deleted at {t_s} s, before its ADD at {first_s} s")


def run_engine(
    nodes: Sequence[NodeSpec],
    config: IpamdConfig,
    pods: PodEvents,
    *,
    subnet_cidrs: Mapping[str, str],
    duration_s: float,
    seed: int = 0,
    tick_s: float = 1.0,
    placement: Placement = "first_fit",
    pod_retry_interval_s: float = POD_RETRY_INTERVAL_S,
    pool_interval_s: float = POOL_INTERVAL_S,
    join_s: Sequence[float] | None = None,
    leave_s: Sequence[float | None] | None = None,
    ec2_params: Ec2Params | None = None,
    prepare_space: Callable[[Any], None] | None = None,
    sample_every_s: float = 60.0,
    branch_eni_cooldown_s: float = BRANCH_ENI_COOLDOWN_S,
) -> tuple[Engine, SimResult]:
    """Run the fast engine on one node group; arguments as :func:`cnisim.sim.ipamd.run_reference`.

    Parameters
    ----------
    nodes, config, pods, subnet_cidrs, duration_s, seed, tick_s, placement,
    pod_retry_interval_s, pool_interval_s, join_s, leave_s, ec2_params, prepare_space,
    branch_eni_cooldown_s
        As in :func:`cnisim.sim.ipamd.run_reference` (``prepare_space`` is called with the
        World's address space before the run).
    sample_every_s : float
        Metrics sampling period [s]; ``tick_s`` records every tick.

    Returns
    -------
    (Engine, SimResult)
        The engine (final state) and its result.

    Raises
    ------
    UsageError
        A duration that is not a finite time >= 0, ``join_s`` or ``leave_s`` not one per node,
        and what :class:`Engine` refuses.
    """
    if not math.isfinite(duration_s) or duration_s < 0:
        raise UsageError(f"duration_s is {duration_s}: give a finite duration >= 0")
    engine = Engine(
        subnet_cidrs=subnet_cidrs,
        seed=seed,
        ec2_params=ec2_params,
        tick_s=tick_s,
        placement=placement,
        pod_retry_interval_s=pod_retry_interval_s,
        pool_interval_s=pool_interval_s,
        sample_every_s=sample_every_s,
        branch_eni_cooldown_s=branch_eni_cooldown_s,
    )
    drive_one_group(
        engine,
        nodes,
        config,
        pods,
        duration_s=duration_s,
        join_s=join_s,
        leave_s=leave_s,
        prepare_space=prepare_space,
        space=engine.world.space,
    )
    return engine, engine.result()
