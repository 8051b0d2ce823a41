"""Fast ipamd simulator: many nodes in many subnets stepped together as numpy arrays.

The engine follows the tick contract stated in :mod:`cnisim.sim.ipamd` (the scalar reference
model, which is its oracle) and must give identical results for identical inputs and seeds. Per
node the datastore lives in padded structure-of-arrays:

- per ENI ``(n_nodes, max_enis, ...)``: ENI id, primary IP, trunk flag, creation time, CIDR
  count, assigned-IP count; ENIs sit at their position in ipamd's ENI list (attach order);
- per CIDR ``(n_nodes, max_enis, max_cidrs)``: base address and assigned count, in the order
  the CIDRs entered the datastore (a released CIDR or freed ENI is removed by shifting the
  rest left, so a slot index is always the list position the contract orders by);
- per address ``(n_nodes, max_enis, max_cidrs, cidr_size)`` with ``cidr_size`` 16 once any
  node runs prefix delegation (else 1): one float64 ``until`` per address that encodes its
  state: NaN not held, +inf assigned to a pod, else the end of its cooldown (-inf never used);
  an address is eligible for a pod when ``until < now_s``; plus the pod id holding it.

For 5,000 m5.large nodes in prefix mode that is 5,000 x 3 x 9 x 16 addresses (17 MB of
``until``, as much for the pod ids); 5,000 of the largest types (15 ENIs x 49 slots) with
prefixes would take about 940 MB. Arrays grow by chunks of 256 nodes as nodes join; node ids
are never reused.

Within a tick: joins and leaves, completions, DELs and ADDs are array operations over the nodes
concerned (ADDs in rounds: the r-th ADD of each node in round r); the pool step's decisions
(isDatastorePoolTooLow, isDatastorePoolTooHigh, shouldRemoveExtraENIs, the deletable ENI) are
array expressions over every node due; only nodes that call EC2 run Python code, one node at a
time in increasing index, because EC2 calls are per action and their order fixes the draws.
A typical tick has a few pod events and a few due nodes, where numpy's fixed cost per call
outweighs the work: with at most ``_FEW`` (32) DELs, ADDs or due nodes, the same decisions run
as scalar Python, one pod or node at a time in the contract's order (``_pod_del_one``,
``_pod_adds_few``, ``_place_one``, ``_pool_step_one``); both paths are compared with the
reference by the agreement tests.

Two shortcuts keep results identical while skipping work: ticks where nothing is due are
skipped, and a node whose pool step made no EC2 call sleeps (see ``Engine._sleep``): its
decisions depend only on its own datastore and on four timers, so it is not evaluated again
until a timer that can change a decision may flip, or its datastore changes in a way that can
give it a call to make (an ADD that leaves the pool too low; a DEL that may make it too high or
leaves a secondary ENI without pods; any change made by the array paths), and then at the next
time on its 5 s grid. Sleeping needs exact tick arithmetic (``tick_s`` a power of two,
``pool_interval_s`` a multiple of it); otherwise every due step is evaluated. ``n_node_steps``
counts only the steps evaluated.

Random placement consumes ``placement_rng`` exactly as the reference's scalar
``placement_rng.integers(n)`` calls do: numpy's bounded integers take one 32-bit word ``w`` and
return ``(w * n) >> 32`` (Lemire), take nothing when ``n == 1``, and redraw on a rare
rejection. The engine pre-draws words and assigns them to ADDs in (due, sequence) order.

Security groups for pods: branch pods (``PodEvents.branch``) never touch the arrays above; their
ADDs, DELs and the deletion of cooled-down branch ENIs run in scalar code, one pod at a time in
the contract's order (they are few), with per-node counters of running and cooling branch ENIs.

Simplifications are those of the reference model (see :mod:`cnisim.sim.ipamd`). In addition a
pod still waiting for an address when its node leaves is dropped with the node (the contract's
"its pods are gone").

References
----------
aws/amazon-vpc-cni-k8s v1.23.1 ``pkg/ipamd/ipamd.go`` and ``pkg/ipamd/datastore/data_store.go``
(via the reference model, ``cnisim/sim/ipamd.py``); numpy ``random/src/distributions/
distributions.c`` (bounded_lemire_uint32) for the draw arithmetic.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cnisim.cni import IpamdConfig
from cnisim.errors import UsageError
from cnisim.sim.ec2 import Ec2Api, Ec2Params, Ec2Result
from cnisim.sim.ipamd import (
    BRANCH_ENI_COOLDOWN_S,
    DECREASE_INTERVAL_S,
    INSUFFICIENT_CIDR_PAUSE_S,
    INSUFFICIENT_CODES,
    IPS_PER_PREFIX,
    MIN_ENI_LIFETIME_S,
    POD_RETRY_INTERVAL_S,
    POOL_INTERVAL_S,
    NodeSpec,
    Placement,
)
from cnisim.sim.subnet import AddressSpace
from cnisim.sim.workload import PodEvents

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["METRICS", "OPS", "Engine", "EngineResult", "run_engine"]

#: Per-node metrics of the contract, in sample order.
METRICS: Final = (
    "enis",
    "ips_held",
    "ips_assigned",
    "ips_free",
    "ips_cooldown",
    "prefixes",
    "subnet_ips",
    "branch_pods",
)
#: ipamd operations, then the VPC resource controller's, counted per node (reference names).
OPS: Final = (
    "assign",
    "unassign",
    "create_eni",
    "free_eni",
    "create_branch_eni",
    "delete_branch_eni",
)
_OP_INDEX: Final = {op: i for i, op in enumerate(OPS)}
_ERROR_CODES: Final = (
    "InsufficientFreeAddressesInSubnet",
    "InsufficientCidrBlocks",
    "RequestLimitExceeded",
)
_ERROR_INDEX: Final = {code: i for i, code in enumerate(_ERROR_CODES)}

#: Per-node arrays (first axis = node id), reshaped together.
_NODE_ARRAYS: Final = (
    "_joined",
    "_gone",
    "_join_s",
    "_leave_s",
    "_instance",
    "_max_enis",
    "_n_slots",
    "_max_pods",
    "_pd",
    "_cidr_size",
    "_warm_ip_mode",
    "_warm_ip",
    "_min_ip",
    "_warm_prefix",
    "_cooldown_s",
    "_custom",
    "_pod_eni",
    "_max_branch",
    "_n_branch",
    "_n_branch_cooling",
    "_unit",
    "_warm_w",
    "_asleep",
    "_anchor_k",
    "_next_step_s",
    "_step_end_s",
    "_last_decrease_s",
    "_insufficient_until_s",
    "_n_enis",
    "_n_cidrs",
    "_n_assigned",
    "_n_adds",
    "_n_failed",
    "_n_calls",
    "_n_errors",
    "_eni_id",
    "_eni_trunk",
    "_eni_created_s",
    "_eni_n_cidrs",
    "_eni_n_assigned",
    "_cidr_base",
    "_cidr_n_assigned",
    "_ip_until",
    "_ip_pod",
)
_POD_ARRAYS: Final = (
    "_pod_state",
    "_pod_node",
    "_pod_loc",
    "_pod_seq",
    "_pod_first_s",
    "_pod_wait_s",
    "_pod_branch",
)
_NODE_CHUNK: Final = 256
_WORD_CHUNK: Final = 4096
_POD_STATE_NONE: Final = 0
_POD_STATE_WAITING: Final = 1
_POD_STATE_RUNNING: Final = 2
_POD_STATE_DONE: Final = 3
_TWO_32: Final = 1 << 32
_FEW: Final = 32  # at most this many pods or nodes: scalar code beats array overhead

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass
class _Addition:
    """CIDRs an increase adds when its step completes (on an ENI, or with a new ENI)."""

    eni_id: int
    bases: NDArray[np.uint32]
    new_eni: bool = False


@dataclass(frozen=True, slots=True)
class _Consts:
    """One node's fixed limits and settings as Python scalars, for the scalar code paths."""

    cidr_size: int  # addresses per CIDR: 16 in PD, else 1
    pd: bool
    warm_ip_mode: bool
    warm_w: int  # WARM_ENI_TARGET, or WARM_PREFIX_TARGET in PD
    unit: int  # IPs per warm-target unit: S, or 16 in PD
    n_slots: int
    max_pods: int
    max_enis: int
    warm_ip: int
    min_ip: int
    warm_prefix: int
    custom: bool
    pod_eni: bool
    cooldown_s: float


@dataclass
class _Step:
    """Scratch of one node's pool step: its call results and whether a pause starts."""

    results: list[Ec2Result]
    insufficient: bool = False


@dataclass
class EngineResult:
    """Output of an engine run: samples, counters and waits as arrays.

    Attributes
    ----------
    sample_s, sample_node : ndarray
        Time [s] and node id of each sample row (every joined node at every sample time).
    samples : dict of str to ndarray of int64
        One column per name in :data:`METRICS`, aligned with ``sample_s``.
    n_adds, n_failed_adds : ndarray of int64
        ADD attempts and failed ADD attempts per node.
    n_calls : ndarray of int64, shape (n_nodes, len(OPS))
        ipamd operations per node by :data:`OPS`.
    n_errors : ndarray of int64, shape (n_nodes, 3)
        Operations that ended in each EC2 error code, per node.
    n_calls_by_action, n_throttled_by_action : dict of str to int
        EC2 API calls (attempts) and throttled attempts by action, from the Ec2Api.
    pod_ids, wait_s : ndarray
        Pods that got an address and their wait: successful ADD minus scheduled ADD [s].
    n_ticks : int
        Ticks simulated (ticks with nothing due are skipped).
    n_node_steps : int
        Pool steps evaluated (the no-op steps of sleeping nodes are not evaluated).
    """

    sample_s: FloatArray
    sample_node: IntArray
    samples: dict[str, IntArray]
    n_adds: IntArray
    n_failed_adds: IntArray
    n_calls: IntArray
    n_errors: IntArray
    n_calls_by_action: dict[str, int]
    n_throttled_by_action: dict[str, int]
    pod_ids: IntArray
    wait_s: FloatArray
    n_ticks: int
    n_node_steps: int

    def to_frame(self) -> pd.DataFrame:
        """Samples as a tidy DataFrame: ``now_s``, ``node`` and one column per metric."""
        import pandas as pd

        return pd.DataFrame({"now_s": self.sample_s, "node": self.sample_node, **self.samples})

    def nodes_frame(self) -> pd.DataFrame:
        """Counters per node: ADDs, failed ADDs, ``n_calls_<op>`` and ``n_errors_<code>``."""
        import pandas as pd

        columns: dict[str, ArrayLike] = {
            "node": np.arange(self.n_adds.size),
            "n_adds": self.n_adds,
            "n_failed_adds": self.n_failed_adds,
        }
        for i, op in enumerate(OPS):
            columns[f"n_calls_{op}"] = self.n_calls[:, i]
        for i, code in enumerate(_ERROR_CODES):
            columns[f"n_errors_{code}"] = self.n_errors[:, i]
        return pd.DataFrame(columns)

    def waits_frame(self) -> pd.DataFrame:
        """Pod waits: ``pod`` and ``wait_s`` [s]."""
        import pandas as pd

        return pd.DataFrame({"pod": self.pod_ids, "wait_s": self.wait_s})


class Engine:
    """Vectorized ipamd warm pools of many nodes sharing one EC2 model and address space.

    Parameters
    ----------
    subnet_cidrs : mapping of str to str
        Subnet id -> IPv4 CIDR for every subnet a node names.
    seed : int
        Run seed: ``subnet_rng, ec2_rng, placement_rng = default_rng(seed).spawn(3)``.
    tick_s : float
        Tick length [s].
    placement : {"first_fit", "random"}
        Which eligible address a pod gets (see :mod:`cnisim.sim.ipamd`).
    pod_retry_interval_s : float
        Delay before a failed pod ADD is tried again [s].
    pool_interval_s : float
        Pause between the end of a pool step and the next one [s].
    sample_every_s : float
        Metrics of every joined node are recorded at the end of the first tick at or after
        each multiple of this [s].
    ec2_params : Ec2Params, optional
        EC2 latencies and token buckets (default: the EC2 model's defaults).
    prepare_space : callable, optional
        Called with the AddressSpace after the subnets are added (reservations, other holders).
    branch_eni_cooldown_s : float
        Wait between a branch pod's DEL and the deletion of its branch ENI [s].

    Notes
    -----
    Drive it with :meth:`add_nodes`, :meth:`remove_nodes`, :meth:`submit_pods` and
    :meth:`run_until`; read :meth:`metrics` at any time and :meth:`result` at the end.

    Examples
    --------
    A t3.small (3 ENIs x 4 IPv4) with the default WARM_ENI_TARGET=1 holds 3 IPs at 0 pods
    (aws/amazon-vpc-cni-k8s ``docs/eni-and-ip-target.md``):

    >>> engine = Engine({"subnet-a": "10.0.0.0/24"}, seed=0)
    >>> spec = NodeSpec("t3.small", 3, 4, 11, "subnet-a", "subnet-a", False)
    >>> engine.add_nodes([spec], IpamdConfig(), 0.0)
    array([0])
    >>> engine.run_until(10.0)
    >>> int(engine.metrics()["enis"][0]), int(engine.metrics()["ips_held"][0])
    (1, 3)

    References
    ----------
    The tick contract in ``cnisim/sim/ipamd.py``.
    """

    def __init__(
        self,
        subnet_cidrs: Mapping[str, str],
        *,
        seed: int = 0,
        tick_s: float = 1.0,
        placement: Placement = "first_fit",
        pod_retry_interval_s: float = POD_RETRY_INTERVAL_S,
        pool_interval_s: float = POOL_INTERVAL_S,
        sample_every_s: float = 60.0,
        ec2_params: Ec2Params | None = None,
        prepare_space: Callable[[AddressSpace], None] | None = None,
        branch_eni_cooldown_s: float = BRANCH_ENI_COOLDOWN_S,
    ) -> None:
        if tick_s <= 0 or sample_every_s <= 0 or pool_interval_s < 0 or branch_eni_cooldown_s < 0:
            raise UsageError(
                "the engine needs tick_s > 0, sample_every_s > 0, pool_interval_s >= 0 and "
                "branch_eni_cooldown_s >= 0"
            )
        if placement not in ("first_fit", "random"):
            raise UsageError(f"placement {placement!r} is unknown: use 'first_fit' or 'random'")
        subnet_rng, ec2_rng, placement_rng = np.random.default_rng(seed).spawn(3)
        self.space = AddressSpace(rng=subnet_rng)
        for subnet_id, cidr in subnet_cidrs.items():
            self.space.add_subnet(subnet_id, cidr)
        if prepare_space is not None:
            prepare_space(self.space)
        self.ec2 = Ec2Api(
            self.space, ec2_params if ec2_params is not None else Ec2Params(), ec2_rng
        )
        self.tick_s = float(tick_s)
        self.placement: Placement = placement
        self.pod_retry_interval_s = float(pod_retry_interval_s)
        self.pool_interval_s = float(pool_interval_s)
        self.sample_every_s = float(sample_every_s)
        self.branch_eni_cooldown_s = float(branch_eni_cooldown_s)
        self._placement_rng = placement_rng
        # Quiet nodes sleep through pool steps that cannot act when tick arithmetic is exact
        # (tick a power of two, pool interval a multiple of it): see _sleep.
        ratio = self.pool_interval_s / self.tick_s
        self._lazy = math.frexp(self.tick_s)[0] == 0.5 and ratio.is_integer() and ratio >= 1
        self._pool_ticks = int(ratio) if self._lazy else 0
        self._words: NDArray[np.uint64] = np.empty(0, dtype=np.uint64)
        self._word_pos = 0  # stream position of the next unused word
        self._word_base = 0  # stream position of _words[0]
        self._k_next = 0  # index of the next tick to run
        self._t_join_leave_s = math.inf  # next join or leave [s] (see _refresh_join_leave)
        self._t_complete_s = math.inf  # next step completion [s] (kept by the writers)
        self._next_sample_s = 0.0
        self.n_ticks = 0
        self.n_node_steps = 0

        # ---- nodes (capacity grows by chunks; node ids are never reused)
        self.n_nodes = 0
        self._cap = 0
        self._e = 1  # ENI slots per node
        self._c = 1  # CIDR slots per ENI
        self._k = 1  # addresses per CIDR slot (16 once a node runs prefix delegation)
        self._specs: list[NodeSpec] = []
        self._configs: list[IpamdConfig] = []
        self._consts: list[_Consts] = []
        self._pending: list[list[_Addition]] = []
        self._branch: list[dict[int, tuple[int, int]]] = []  # per node: pod -> (ENI id, IP)
        self._alloc_node_arrays(0)

        # ---- pods (indexed by pod id; grow on demand)
        self._pod_cap = 0
        self._alloc_pod_arrays(0)
        # schedule still to come, sorted by (time, sequence)
        self._ev_time_s: FloatArray = np.empty(0)
        self._ev_node: IntArray = np.empty(0, dtype=np.int64)
        self._ev_delta: NDArray[np.int8] = np.empty(0, dtype=np.int8)
        self._ev_pod: IntArray = np.empty(0, dtype=np.int64)
        self._ev_seq: IntArray = np.empty(0, dtype=np.int64)
        self._ev_pos = 0
        self._n_submitted = 0
        # branch ENIs of deleted branch pods in DEL order: (first tick after the cool-down
        # [s], node, ENI id)
        self._cooling: deque[tuple[float, int, int]] = deque()
        self._any_branch = False  # whether any branch pod was submitted (skips the checks)
        # retry queue, sorted by (due, sequence)
        self._retry_due_s: FloatArray = np.empty(0)
        self._retry_pod: IntArray = np.empty(0, dtype=np.int64)

        # ---- samples (long format, grown by doubling)
        self._n_rows = 0
        self._row_s: FloatArray = np.empty(0)
        self._row_node: IntArray = np.empty(0, dtype=np.int64)
        self._row_metrics: IntArray = np.empty((0, len(METRICS)), dtype=np.int64)

    # ================================================================== public API
    def add_nodes(
        self, specs: Sequence[NodeSpec], config: IpamdConfig, now_s: float
    ) -> NDArray[np.int64]:
        """Add a node group's nodes; they join at the first tick at or after ``now_s``.

        Parameters
        ----------
        specs : sequence of NodeSpec
            The nodes (limits, subnets).
        config : IpamdConfig
            aws-node settings of the group.
        now_s : float
            Join time [s].

        Returns
        -------
        ndarray of int64
            The new node ids, consecutive.

        Raises
        ------
        UsageError
            IPv6 (no IPv4 warm pool), a subnet not in the address space, or a join in the past.
        """
        if config.enable_ipv6:
            raise UsageError(
                "ENABLE_IPv6=true: ipamd keeps no IPv4 warm pool, which the simulator does not "
                "model; simulate IPv4 (ENABLE_IPv6=false)"
            )
        known = set(self.space.subnet_ids())
        for spec in specs:
            if spec.node_subnet not in known or spec.pod_subnet not in known:
                raise UsageError(
                    f"node subnet {spec.node_subnet!r} or pod subnet {spec.pod_subnet!r} is not "
                    "a simulated subnet: add it to subnet_cidrs"
                )
            if spec.max_enis < 1 or spec.ipv4_per_eni < 2:
                raise UsageError(
                    f"{spec.instance_type}: max_enis must be >= 1 and ipv4_per_eni >= 2"
                )
        if now_s < self._k_next * self.tick_s - self.tick_s:
            raise UsageError(f"cannot add nodes at {now_s} s: the run is past that time")
        n_new = len(specs)
        first = self.n_nodes
        ids = np.arange(first, first + n_new, dtype=np.int64)
        if n_new == 0:
            return ids
        pd_on = [config.prefix_delegation_active(s.supports_prefix_delegation) for s in specs]
        need_e = max(s.max_enis for s in specs)
        need_c = max(s.n_slots_per_eni for s in specs)
        need_k = IPS_PER_PREFIX if any(pd_on) else 1
        self._reshape(
            max(self._cap, _round_up(first + n_new, _NODE_CHUNK)),
            max(self._e, need_e),
            max(self._c, need_c),
            max(self._k, need_k),
        )
        sl = slice(first, first + n_new)
        self._join_s[sl] = now_s
        self._max_enis[sl] = [s.max_enis for s in specs]
        self._n_slots[sl] = [s.n_slots_per_eni for s in specs]
        self._max_pods[sl] = [s.max_pods for s in specs]
        self._pd[sl] = pd_on
        self._cidr_size[sl] = [IPS_PER_PREFIX if p else 1 for p in pd_on]
        self._warm_ip_mode[sl] = config.warm_ip_targets_defined
        self._warm_ip[sl] = config.warm_ip_target
        self._min_ip[sl] = config.minimum_ip_target
        self._warm_prefix[sl] = config.warm_prefix_target
        self._cooldown_s[sl] = config.ip_cooldown_period_s
        self._custom[sl] = config.custom_network_cfg
        self._pod_eni[sl] = config.enable_pod_eni
        self._max_branch[sl] = [s.max_branch_enis if config.enable_pod_eni else 0 for s in specs]
        self._unit[sl] = np.where(pd_on, IPS_PER_PREFIX, self._n_slots[sl])
        self._warm_w[sl] = np.where(pd_on, config.warm_prefix_target, config.warm_eni_target)
        self._specs.extend(specs)
        self._configs.extend([config] * n_new)
        self._consts.extend(
            _Consts(
                cidr_size=IPS_PER_PREFIX if p else 1,
                pd=p,
                warm_ip_mode=config.warm_ip_targets_defined,
                warm_w=config.warm_prefix_target if p else config.warm_eni_target,
                unit=IPS_PER_PREFIX if p else s.n_slots_per_eni,
                n_slots=s.n_slots_per_eni,
                max_pods=s.max_pods,
                max_enis=s.max_enis,
                warm_ip=config.warm_ip_target,
                min_ip=config.minimum_ip_target,
                warm_prefix=config.warm_prefix_target,
                custom=config.custom_network_cfg,
                pod_eni=config.enable_pod_eni,
                cooldown_s=float(config.ip_cooldown_period_s),
            )
            for s, p in zip(specs, pd_on, strict=True)
        )
        self._pending.extend([] for _ in range(n_new))
        self._branch.extend({} for _ in range(n_new))
        self.n_nodes += n_new
        self._refresh_join_leave()
        return ids

    def remove_nodes(self, ids: ArrayLike, now_s: float) -> None:
        """Terminate nodes at the first tick at or after ``now_s`` (addresses return, pods go).

        Parameters
        ----------
        ids : array_like of int
            Node ids.
        now_s : float
            Leave time [s].

        Raises
        ------
        UsageError
            An unknown node id.
        """
        node_ids = np.asarray(ids, dtype=np.int64).ravel()
        if node_ids.size and (node_ids.min() < 0 or node_ids.max() >= self.n_nodes):
            raise UsageError("remove_nodes got a node id that was never added")
        node_ids = node_ids[~self._gone[node_ids]]
        self._leave_s[node_ids] = np.minimum(self._leave_s[node_ids], now_s)
        self._refresh_join_leave()

    def submit_pods(self, events: PodEvents) -> None:
        """Queue pod ADDs and DELs; the sequence of a row is its order of submission.

        Raises
        ------
        UsageError
            A pod on a node id that was never added.
        """
        if len(events) == 0:
            return
        if int(events.node.max()) >= self.n_nodes:
            raise UsageError("a pod is scheduled on a node id that is not added: add nodes first")
        seq = self._n_submitted + np.arange(len(events), dtype=np.int64)
        self._n_submitted += len(events)
        self._ensure_pods(int(events.pod.max()) + 1)
        add = events.delta == 1
        self._pod_node[events.pod[add]] = events.node[add]
        self._pod_first_s[events.pod[add]] = events.time_s[add]
        self._pod_seq[events.pod[add]] = seq[add]
        self._pod_branch[events.pod[add]] = events.branch[add]
        self._any_branch = self._any_branch or bool(events.branch.any())
        rest = slice(self._ev_pos, None)
        t = np.concatenate([self._ev_time_s[rest], events.time_s])
        order = np.argsort(t, kind="stable")
        self._ev_time_s = t[order]
        self._ev_node = np.concatenate([self._ev_node[rest], events.node])[order]
        self._ev_delta = np.concatenate([self._ev_delta[rest], events.delta])[order]
        self._ev_pod = np.concatenate([self._ev_pod[rest], events.pod])[order]
        self._ev_seq = np.concatenate([self._ev_seq[rest], seq])[order]
        self._ev_pos = 0

    def run_until(self, until_s: float) -> None:
        """Run every tick with ``now_s <= until_s``, skipping ticks where nothing is due."""
        k_last = math.floor(until_s / self.tick_s + 1e-9)
        while self._k_next <= k_last:
            k = max(self._k_next, self._first_tick_at(self._next_event_s()))
            if k > k_last:
                self._k_next = k_last + 1
                break
            self._tick(k * self.tick_s)
            self.n_ticks += 1
            self._k_next = k + 1

    @property
    def now_s(self) -> float:
        """Time of the last tick run [s] (-tick_s before the first)."""
        return (self._k_next - 1) * self.tick_s

    def metrics(self, now_s: float | None = None) -> dict[str, IntArray]:
        """Per-node metrics (all node ids, zeros for nodes not joined) at ``now_s``.

        ``ips_cooldown`` depends on the time; it defaults to the last tick run.
        """
        t = self.now_s if now_s is None else now_s
        values = self._metric_matrix(np.arange(self.n_nodes), t)
        return {name: values[:, i] for i, name in enumerate(METRICS)}

    def ips_per_eni(self, node: int) -> list[int]:
        """IPs held on each ENI of a node, in ENI order [IPs]."""
        n = int(self._n_enis[node])
        return [int(x) for x in self._eni_n_cidrs[node, :n] * self._cidr_size[node]]

    def node_addresses(self, node: int) -> NDArray[np.uint32]:
        """Every address the node holds in its datastore (pool addresses, sorted)."""
        held = ~np.isnan(self._ip_until[node])
        e_idx, c_idx, k_idx = np.nonzero(held)
        return np.sort(self._cidr_base[node, e_idx, c_idx] + k_idx.astype(np.uint32))

    def pod_address(self, pod: int) -> int | None:
        """Address of a running pod (uint32 int), else None."""
        if pod >= self._pod_cap or self._pod_state[pod] != _POD_STATE_RUNNING:
            return None
        if self._pod_branch[pod]:
            return self._branch[int(self._pod_node[pod])][pod][1]
        node = int(self._pod_node[pod])
        e, c, k = np.unravel_index(int(self._pod_loc[pod]), (self._e, self._c, self._k))
        return int(self._cidr_base[node, e, c]) + int(k)

    def result(self) -> EngineResult:
        """Samples, counters and waits so far."""
        placed = np.flatnonzero(~np.isnan(self._pod_wait_s[: self._pod_cap]))
        n = self.n_nodes
        return EngineResult(
            sample_s=self._row_s[: self._n_rows].copy(),
            sample_node=self._row_node[: self._n_rows].copy(),
            samples={
                name: self._row_metrics[: self._n_rows, i].copy() for i, name in enumerate(METRICS)
            },
            n_adds=self._n_adds[:n].copy(),
            n_failed_adds=self._n_failed[:n].copy(),
            n_calls=self._n_calls[:n].copy(),
            n_errors=self._n_errors[:n].copy(),
            n_calls_by_action=dict(self.ec2.n_calls_by_action),
            n_throttled_by_action=dict(self.ec2.n_throttled_by_action),
            pod_ids=placed.astype(np.int64),
            wait_s=self._pod_wait_s[placed].copy(),
            n_ticks=self.n_ticks,
            n_node_steps=self.n_node_steps,
        )

    # ================================================================== storage
    def _alloc_node_arrays(self, cap: int) -> None:
        e, c, k = self._e, self._c, self._k
        self._joined = np.zeros(cap, dtype=bool)
        self._gone = np.zeros(cap, dtype=bool)
        self._join_s = np.full(cap, np.inf)
        self._leave_s = np.full(cap, np.inf)
        self._instance = np.full(cap, -1, dtype=np.int64)
        self._max_enis = np.zeros(cap, dtype=np.int64)
        self._n_slots = np.zeros(cap, dtype=np.int64)
        self._max_pods = np.zeros(cap, dtype=np.int64)
        self._pd = np.zeros(cap, dtype=bool)
        self._cidr_size = np.ones(cap, dtype=np.int64)
        self._warm_ip_mode = np.zeros(cap, dtype=bool)
        self._warm_ip = np.zeros(cap, dtype=np.int64)
        self._min_ip = np.zeros(cap, dtype=np.int64)
        self._warm_prefix = np.zeros(cap, dtype=np.int64)
        self._cooldown_s = np.zeros(cap)
        self._custom = np.zeros(cap, dtype=bool)
        self._pod_eni = np.zeros(cap, dtype=bool)
        self._max_branch = np.zeros(cap, dtype=np.int64)
        self._n_branch = np.zeros(cap, dtype=np.int64)  # running branch pods
        self._n_branch_cooling = np.zeros(cap, dtype=np.int64)  # branch ENIs awaiting deletion
        self._unit = np.zeros(cap, dtype=np.int64)  # IPs per warm-target unit: S, or 16 in PD
        self._warm_w = np.zeros(cap, dtype=np.int64)  # WARM_ENI_TARGET, or WARM_PREFIX in PD
        self._asleep = np.zeros(cap, dtype=bool)
        self._anchor_k = np.zeros(cap, dtype=np.int64)
        self._next_step_s = np.full(cap, np.inf)
        self._step_end_s = np.full(cap, np.inf)  # inf: idle
        self._last_decrease_s = np.full(cap, -np.inf)
        self._insufficient_until_s = np.full(cap, -np.inf)
        self._n_enis = np.zeros(cap, dtype=np.int64)
        self._n_cidrs = np.zeros(cap, dtype=np.int64)
        self._n_assigned = np.zeros(cap, dtype=np.int64)
        self._n_adds = np.zeros(cap, dtype=np.int64)
        self._n_failed = np.zeros(cap, dtype=np.int64)
        self._n_calls = np.zeros((cap, len(OPS)), dtype=np.int64)
        self._n_errors = np.zeros((cap, len(_ERROR_CODES)), dtype=np.int64)
        self._eni_id = np.full((cap, e), -1, dtype=np.int64)
        self._eni_trunk = np.zeros((cap, e), dtype=bool)
        self._eni_created_s = np.full((cap, e), np.inf)
        self._eni_n_cidrs = np.zeros((cap, e), dtype=np.int64)
        self._eni_n_assigned = np.zeros((cap, e), dtype=np.int64)
        self._cidr_base = np.zeros((cap, e, c), dtype=np.uint32)
        self._cidr_n_assigned = np.zeros((cap, e, c), dtype=np.int64)
        self._ip_until = np.full((cap, e, c, k), np.nan)
        self._ip_pod = np.full((cap, e, c, k), -1, dtype=np.int64)
        self._cap = cap

    def _reshape(self, cap: int, e: int, c: int, k: int) -> None:
        """Grow capacity and padded dimensions, keeping the contents."""
        if (cap, e, c, k) == (self._cap, self._e, self._c, self._k):
            return
        old = {name: getattr(self, name) for name in _NODE_ARRAYS}
        old_shape = (self._e, self._c, self._k)
        self._e, self._c, self._k = e, c, k
        self._alloc_node_arrays(cap)
        for name, before in old.items():
            getattr(self, name)[tuple(slice(0, d) for d in before.shape)] = before
        if old_shape != (e, c, k) and self._pod_cap:
            running = np.flatnonzero((self._pod_state == _POD_STATE_RUNNING) & ~self._pod_branch)
            where = np.unravel_index(self._pod_loc[running], old_shape)
            self._pod_loc[running] = np.ravel_multi_index(where, (e, c, k))

    def _alloc_pod_arrays(self, cap: int) -> None:
        self._pod_state = np.full(cap, _POD_STATE_NONE, dtype=np.int8)
        self._pod_node = np.full(cap, -1, dtype=np.int64)
        self._pod_loc = np.full(cap, -1, dtype=np.int64)
        self._pod_seq = np.zeros(cap, dtype=np.int64)
        self._pod_first_s = np.zeros(cap)
        self._pod_wait_s = np.full(cap, np.nan)
        self._pod_branch = np.zeros(cap, dtype=bool)
        self._pod_cap = cap

    def _ensure_pods(self, n: int) -> None:
        if n <= self._pod_cap:
            return
        old = {name: getattr(self, name) for name in _POD_ARRAYS}
        old_cap = self._pod_cap
        self._alloc_pod_arrays(max(n, 2 * old_cap))
        for name, before in old.items():
            getattr(self, name)[:old_cap] = before

    # ================================================================== the tick
    def _tick(self, now_s: float) -> None:
        if now_s >= self._t_join_leave_s:
            self._joins_and_leaves(now_s)
        if now_s >= self._t_complete_s:
            self._completions(now_s)
        if self._cooling and self._cooling[0][0] <= now_s:
            self._delete_cooled_branch_enis(now_s)
        lo = self._ev_pos
        hi = int(np.searchsorted(self._ev_time_s, now_s, side="right"))
        self._ev_pos = hi
        if hi > lo:
            self._pod_dels(now_s, lo, hi)
        self._pod_adds(now_s, lo, hi)
        self._pool_steps(now_s)
        if now_s >= self._next_sample_s:
            self._sample(now_s)
            n_periods = math.floor(now_s / self.sample_every_s) + 1
            while n_periods * self.sample_every_s <= now_s:  # float rounding of the division
                n_periods += 1
            self._next_sample_s = n_periods * self.sample_every_s

    def _next_event_s(self) -> float:
        """Earliest time anything is due."""
        n = self.n_nodes
        t = min(self._next_sample_s, self._t_join_leave_s, self._t_complete_s)
        if n:
            t = min(t, float(self._next_step_s[:n].min()))
        if self._ev_pos < self._ev_time_s.size:
            t = min(t, float(self._ev_time_s[self._ev_pos]))
        if self._retry_due_s.size:
            t = min(t, float(self._retry_due_s[0]))
        if self._cooling:
            t = min(t, self._cooling[0][0])
        return t

    def _refresh_join_leave(self) -> None:
        """Recompute the next join or leave time after join or leave times changed."""
        n = self.n_nodes
        self._t_join_leave_s = (
            min(float(self._join_s[:n].min()), float(self._leave_s[:n].min())) if n else math.inf
        )

    def _refresh_complete(self) -> None:
        """Recompute the next step completion after some step ends were cleared."""
        n = self.n_nodes
        self._t_complete_s = float(self._step_end_s[:n].min()) if n else math.inf

    def _first_tick_at(self, t_s: float) -> int:
        """Index of the first tick with ``k * tick_s >= t_s``."""
        if not math.isfinite(t_s):
            return 0 if t_s < 0 else 2**62
        k = math.ceil(t_s / self.tick_s)
        while k > 0 and (k - 1) * self.tick_s >= t_s:
            k -= 1
        while k * self.tick_s < t_s:
            k += 1
        return k

    # ------------------------------------------------------------------ 1. joins, leaves
    def _joins_and_leaves(self, now_s: float) -> None:
        n = self.n_nodes
        joining = self._join_s[:n] <= now_s
        leaving = (
            ~self._gone[:n] & (self._leave_s[:n] <= now_s) & (joining | np.isinf(self._join_s[:n]))
        )
        for i in np.flatnonzero(joining | leaving).tolist():
            if joining[i]:
                self._join(i, now_s)
            if leaving[i]:
                self._leave(i, now_s)
        self._refresh_join_leave()
        self._refresh_complete()

    def _join(self, i: int, now_s: float) -> None:
        self._join_s[i] = np.inf  # attempted
        spec, config = self._specs[i], self._configs[i]
        launch = self.ec2.launch_instance(now_s, spec.node_subnet)
        if not launch.ok or launch.eni_id is None or launch.primary_ip is None:
            return  # the node subnet is full: the node never comes up
        assert launch.instance_id is not None
        self._instance[i] = launch.instance_id
        self._joined[i] = True
        self._new_eni(i, launch.eni_id, now_s, trunk=False)
        if config.enable_pod_eni and spec.max_enis >= 2:
            trunk = self.ec2.attach_trunk_eni(now_s, launch.instance_id, spec.pod_subnet)
            if trunk.ok and trunk.eni_id is not None and trunk.primary_ip is not None:
                self._new_eni(i, trunk.eni_id, now_s, trunk=True)
        step = _Step([])
        ix = np.array([i])
        if self._is_low(ix)[0]:
            self._increase(i, now_s, step)
        self._end_step(i, now_s, step, decreased=False)
        self._t_complete_s = min(self._t_complete_s, float(self._step_end_s[i]))

    def _leave(self, i: int, now_s: float) -> None:
        self._gone[i] = True
        self._leave_s[i] = np.inf  # done
        if self._instance[i] >= 0:
            self.ec2.terminate_instance(now_s, int(self._instance[i]))
        running = self._ip_pod[i][self._ip_pod[i] >= 0]
        self._pod_state[running] = _POD_STATE_DONE
        if self._branch[i]:
            self._pod_state[list(self._branch[i])] = _POD_STATE_DONE
            self._branch[i] = {}
        self._n_branch[i] = self._n_branch_cooling[i] = 0  # the instance took them back
        waiting = self._retry_pod[self._pod_node[self._retry_pod] == i]
        self._pod_state[waiting[self._pod_state[waiting] == _POD_STATE_WAITING]] = _POD_STATE_DONE
        self._joined[i] = False
        self._n_enis[i] = self._n_cidrs[i] = self._n_assigned[i] = 0
        self._eni_id[i] = -1
        self._eni_trunk[i] = False
        self._eni_n_cidrs[i] = self._eni_n_assigned[i] = 0
        self._cidr_n_assigned[i] = 0
        self._ip_until[i] = np.nan
        self._ip_pod[i] = -1
        self._step_end_s[i] = self._next_step_s[i] = np.inf
        self._pending[i] = []

    def _new_eni(self, i: int, eni_id: int, now_s: float, *, trunk: bool) -> int:
        e = int(self._n_enis[i])
        self._eni_id[i, e] = eni_id
        self._eni_trunk[i, e] = trunk
        self._eni_created_s[i, e] = now_s
        self._eni_n_cidrs[i, e] = 0
        self._eni_n_assigned[i, e] = 0
        self._n_enis[i] = e + 1
        return e

    # ------------------------------------------------------------------ 2. completions
    def _completions(self, now_s: float) -> None:
        for i in np.flatnonzero(self._step_end_s[: self.n_nodes] <= now_s).tolist():
            for addition in self._pending[i]:
                if addition.new_eni:
                    e = self._new_eni(i, addition.eni_id, now_s, trunk=False)
                else:
                    found = np.flatnonzero(self._eni_id[i, : self._n_enis[i]] == addition.eni_id)
                    if not found.size:
                        continue  # freed in the same step; EC2 took the addresses back
                    e = int(found[0])
                c0 = int(self._eni_n_cidrs[i, e])
                c1 = c0 + addition.bases.size
                self._cidr_base[i, e, c0:c1] = addition.bases
                self._cidr_n_assigned[i, e, c0:c1] = 0
                self._ip_until[i, e, c0:c1, : self._cidr_size[i]] = -np.inf
                self._eni_n_cidrs[i, e] = c1
                self._n_cidrs[i] += addition.bases.size
            self._pending[i] = []
            self._step_end_s[i] = np.inf
        self._refresh_complete()

    # ------------------------------------------------------------------ 3. DELs
    def _pod_dels(self, now_s: float, lo: int, hi: int) -> None:
        dels = self._ev_delta[lo:hi] == -1
        if not dels.any():
            return
        pods = self._ev_pod[lo:hi][dels]
        if pods.size <= _FEW:
            for pod in pods.tolist():
                self._pod_del_one(pod, now_s)
            return
        state = self._pod_state[pods]
        # A DEL cancels a waiting pod's ADD, and a first ADD due in this tick (state NONE).
        not_started = (state == _POD_STATE_WAITING) | (state == _POD_STATE_NONE)
        self._pod_state[pods[not_started]] = _POD_STATE_DONE
        running = pods[state == _POD_STATE_RUNNING]
        if self._any_branch:
            branch = self._pod_branch[running]
            for pod in running[branch].tolist():
                self._branch_del(pod, now_s)
            running = running[~branch]
        if not running.size:
            return
        nodes = self._pod_node[running]
        loc = self._pod_loc[running]
        cidr = loc // self._k
        e, c = cidr // self._c, cidr % self._c
        flat_until = self._ip_until.reshape(self._cap, -1)
        flat_until[nodes, loc] = now_s + self._cooldown_s[nodes]
        self._ip_pod.reshape(self._cap, -1)[nodes, loc] = -1
        np.subtract.at(self._cidr_n_assigned, (nodes, e, c), 1)
        np.subtract.at(self._eni_n_assigned, (nodes, e), 1)
        np.subtract.at(self._n_assigned, nodes, 1)
        self._pod_state[running] = _POD_STATE_DONE
        self._wake(nodes, now_s)

    def _pod_del_one(self, pod: int, now_s: float) -> None:
        """One DEL in scalar code (as in _pod_dels)."""
        state = int(self._pod_state[pod])
        if state in (_POD_STATE_WAITING, _POD_STATE_NONE):
            self._pod_state[pod] = _POD_STATE_DONE
            return
        if state != _POD_STATE_RUNNING:
            return
        if self._any_branch and self._pod_branch[pod]:
            self._branch_del(pod, now_s)
            return
        i = int(self._pod_node[pod])
        cidr, k = divmod(int(self._pod_loc[pod]), self._k)
        e, c = divmod(cidr, self._c)
        self._ip_until[i, e, c, k] = now_s + self._consts[i].cooldown_s
        self._ip_pod[i, e, c, k] = -1
        self._cidr_n_assigned[i, e, c] -= 1
        self._eni_n_assigned[i, e] -= 1
        self._n_assigned[i] -= 1
        self._pod_state[pod] = _POD_STATE_DONE
        if self._asleep[i] and self._may_act_after_del(i):
            self._wake_one(i, now_s)

    def _may_act_after_del(self, i: int) -> bool:
        """Whether a DEL may have given a sleeping node a call to make.

        A DEL raises the available IPs: it cannot make the pool too low (nor let a low node
        grow: the pause and the room to grow are unchanged). It can make the pool too high
        (an excess over the targets), or let an ENI be freed, which needs a secondary,
        non-trunk ENI without pods; it also only makes cooldowns matter on such an ENI.
        """
        const = self._consts[i]
        if (const.warm_ip_mode or const.pd) and self._over_one(i) > 0:
            return True
        trunk = self._eni_trunk[i].tolist()
        n_assigned = self._eni_n_assigned[i].tolist()
        return any(not trunk[e] and n_assigned[e] == 0 for e in range(1, int(self._n_enis[i])))

    # ------------------------------------------------------------------ 4. ADDs
    def _pod_adds(self, now_s: float, lo: int, hi: int) -> None:
        n_retry = int(np.searchsorted(self._retry_due_s, now_s, side="right"))
        if hi - lo <= _FEW and n_retry <= _FEW:
            self._pod_adds_few(now_s, lo, hi, n_retry)
            return
        adds = self._ev_delta[lo:hi] == 1
        new_pods = self._ev_pod[lo:hi][adds]
        if new_pods.size:
            # Dropped with their node, or cancelled by a DEL of this tick.
            dropped = self._gone[self._pod_node[new_pods]] | (
                self._pod_state[new_pods] == _POD_STATE_DONE
            )
            self._pod_state[new_pods[dropped]] = _POD_STATE_DONE
            keep = ~dropped
            new_pods = new_pods[keep]
            new_due = self._ev_time_s[lo:hi][adds][keep]
            self._pod_state[new_pods] = _POD_STATE_WAITING
        else:
            new_due = np.empty(0)
        if not new_pods.size and not n_retry:
            return
        if n_retry:
            retry_pods = self._retry_pod[:n_retry]
            live = self._pod_state[retry_pods] == _POD_STATE_WAITING
            retry_due = self._retry_due_s[:n_retry][live]
            self._retry_pod = self._retry_pod[n_retry:]
            self._retry_due_s = self._retry_due_s[n_retry:]
            pods = np.concatenate([retry_pods[live], new_pods])
            if not pods.size:
                return
            if new_pods.size:  # both queues are in (due, sequence) order: merge them
                due = np.concatenate([retry_due, new_due])
                pods = pods[np.lexsort((self._pod_seq[pods], due))]
        else:
            pods = new_pods
        nodes = self._pod_node[pods]
        np.add.at(self._n_adds, nodes, 1)
        branch = self._pod_branch[pods] if self._any_branch else np.zeros(pods.size, dtype=bool)
        if branch.any():
            placed = np.zeros(pods.size, dtype=bool)
            placed[branch] = [
                self._branch_add(pod, node, now_s)
                for pod, node in zip(pods[branch].tolist(), nodes[branch].tolist(), strict=True)
            ]
            if not branch.all():
                placed[~branch] = self._place(pods[~branch], nodes[~branch], now_s)
        else:
            placed = self._place(pods, nodes, now_s)
        failed = pods[~placed]
        if failed.size:
            np.add.at(self._n_failed, nodes[~placed], 1)
            failed = failed[np.argsort(self._pod_seq[failed], kind="stable")]
            self._retry_pod = np.concatenate([self._retry_pod, failed])
            self._retry_due_s = np.concatenate(
                [self._retry_due_s, np.full(failed.size, now_s + self.pod_retry_interval_s)]
            )
        ok = pods[placed]
        self._pod_state[ok] = _POD_STATE_RUNNING
        self._pod_wait_s[ok] = now_s - self._pod_first_s[ok]
        self._wake(nodes[placed & ~branch], now_s)

    def _pod_adds_few(self, now_s: float, lo: int, hi: int, n_retry: int) -> None:
        """_pod_adds in scalar code, for a few new ADDs and retries."""
        entries: list[tuple[float, int, int]] = []  # (due, sequence, pod)
        for delta, pod, due_s in zip(
            self._ev_delta[lo:hi].tolist(),
            self._ev_pod[lo:hi].tolist(),
            self._ev_time_s[lo:hi].tolist(),
            strict=True,
        ):
            if delta != 1:
                continue
            # Dropped with their node, or cancelled by a DEL of this tick.
            if self._gone[self._pod_node[pod]] or self._pod_state[pod] == _POD_STATE_DONE:
                self._pod_state[pod] = _POD_STATE_DONE
                continue
            self._pod_state[pod] = _POD_STATE_WAITING
            entries.append((due_s, int(self._pod_seq[pod]), pod))
        if n_retry:
            due_s_list = self._retry_due_s[:n_retry].tolist()
            retry = zip(due_s_list, self._retry_pod[:n_retry].tolist(), strict=True)
            self._retry_pod = self._retry_pod[n_retry:]
            self._retry_due_s = self._retry_due_s[n_retry:]
            for due_s, pod in retry:
                if self._pod_state[pod] == _POD_STATE_WAITING:
                    entries.append((due_s, int(self._pod_seq[pod]), pod))
            entries.sort()
        failed: list[tuple[int, int]] = []  # (sequence, pod)
        for _, seq, pod in entries:
            i = int(self._pod_node[pod])
            self._n_adds[i] += 1
            if self._any_branch and self._pod_branch[pod]:
                if self._branch_add(pod, i, now_s):
                    self._pod_state[pod] = _POD_STATE_RUNNING
                    self._pod_wait_s[pod] = now_s - self._pod_first_s[pod]
                else:
                    self._n_failed[i] += 1
                    failed.append((seq, pod))
            elif self._place_one(pod, i, now_s):
                self._pod_state[pod] = _POD_STATE_RUNNING
                self._pod_wait_s[pod] = now_s - self._pod_first_s[pod]
                # An ADD only lowers the available IPs, the excess over the targets and the
                # ENIs that could be freed: a sleeping node can only be made low by it.
                if self._asleep[i] and self._is_low_one(i):
                    self._wake_one(i, now_s)
            else:
                self._n_failed[i] += 1
                failed.append((seq, pod))
        if failed:
            failed.sort()
            self._retry_pod = np.concatenate([self._retry_pod, [pod for _, pod in failed]])
            self._retry_due_s = np.concatenate(
                [self._retry_due_s, np.full(len(failed), now_s + self.pod_retry_interval_s)]
            )

    # ------------------------------------------------------------------ branch pods (SGP)
    def _branch_add(self, pod: int, i: int, now_s: float) -> bool:
        """A branch pod's ADD: the controller's branch ENI on node ``i``'s trunk, if it can."""
        if not self._joined[i] or self._n_branch[i] + self._n_branch_cooling[i] >= int(
            self._max_branch[i]
        ):
            return False
        # _join attaches the trunk right after the primary ENI, and ipamd never frees it
        if self._n_enis[i] < 2 or not self._eni_trunk[i, 1]:
            return False
        subnet_id = self.ec2.subnet_of(int(self._eni_id[i, 1]))
        result = self.ec2.create_branch_eni(now_s, int(self._instance[i]), subnet_id)
        self._count(i, "create_branch_eni", result)
        if not result.ok or result.eni_id is None or result.primary_ip is None:
            return False
        self._branch[i][pod] = (result.eni_id, result.primary_ip)
        self._n_branch[i] += 1
        return True

    def _branch_del(self, pod: int, now_s: float) -> None:
        """A running branch pod's DEL: its ENI waits for the first tick after the cool-down."""
        i = int(self._pod_node[pod])
        eni_id, _ = self._branch[i].pop(pod)
        self._n_branch[i] -= 1
        self._n_branch_cooling[i] += 1
        self._pod_state[pod] = _POD_STATE_DONE
        due_s = now_s + self.branch_eni_cooldown_s
        k = self._first_tick_at(due_s)
        if k * self.tick_s <= due_s:
            k += 1  # deleted once now_s > due_s (the controller's time.Now().After)
        self._cooling.append((k * self.tick_s, i, eni_id))

    def _delete_cooled_branch_enis(self, now_s: float) -> None:
        while self._cooling and self._cooling[0][0] <= now_s:
            _, i, eni_id = self._cooling.popleft()
            if self._gone[i]:
                continue  # returned with the instance
            self._n_branch_cooling[i] -= 1
            self._count(i, "delete_branch_eni", self.ec2.delete_branch_eni(now_s, eni_id))

    def _place(self, pods: IntArray, nodes: IntArray, now_s: float) -> BoolArray:
        """Give pods (in due order) an eligible address each, node by node in rounds."""
        if pods.size <= _FEW:
            # A few pods: one at a time in due order, as the reference does (array rounds
            # cost more in numpy overhead than they save).
            return np.array(
                [
                    self._place_one(pod, node, now_s)
                    for pod, node in zip(pods.tolist(), nodes.tolist(), strict=True)
                ],
                dtype=bool,
            )
        rounds = _rounds(nodes)
        if self.placement == "first_fit":
            placed, _, _ = self._place_rounds(pods, nodes, rounds, now_s, None)
            return placed
        # Random: a pod's draws use the words after those of every pod before it in due order;
        # guess each pod's word count, place, and redo with the true counts until they agree.
        free_enis = (
            self._eni_n_cidrs[nodes] * self._cidr_size[nodes, None] - self._eni_n_assigned[nodes]
        ) > 0
        guess = 1 + (free_enis.sum(axis=1) >= 2).astype(np.int64)
        while True:
            offsets = self._word_pos + np.cumsum(guess) - guess
            placed, used, undo = self._place_rounds(pods, nodes, rounds, now_s, offsets)
            if np.array_equal(used, guess):
                self._word_pos += int(used.sum())
                return placed
            self._undo(undo)
            guess = used

    def _place_one(self, pod: int, i: int, now_s: float) -> bool:
        """Give one pod an eligible address on node ``i``, drawing words in stream order."""
        # Eligible addresses as positions in the padded (ENI, CIDR, address) layout: C order
        # is ENI order, then CIDR order, then address order, as the contract ranks them.
        flat = (self._ip_until[i] < now_s).ravel().nonzero()[0].tolist()
        if not flat:
            return False
        n_per_cidr = self._k
        n_per_eni = self._c * n_per_cidr
        if self.placement == "random":
            starts = []  # index in flat of each eligible ENI's first eligible address
            j = 0
            while j < len(flat):
                starts.append(j)
                j = bisect.bisect_left(flat, (flat[j] // n_per_eni + 1) * n_per_eni, j)
            starts.append(len(flat))
            r = self._draw(len(starts) - 1)
            lo, hi = starts[r], starts[r + 1]
            if n_per_cidr == 1:
                first = flat[lo:hi]
            else:
                first = []  # lowest eligible position of each eligible CIDR on that ENI
                while lo < hi:
                    first.append(flat[lo])
                    lo = bisect.bisect_left(flat, (flat[lo] // n_per_cidr + 1) * n_per_cidr, lo, hi)
            flat = [first[self._draw(len(first))]]
        e, rest = divmod(flat[0], n_per_eni)
        c, k = divmod(rest, n_per_cidr)
        self._ip_until[i, e, c, k] = np.inf
        self._ip_pod[i, e, c, k] = pod
        self._cidr_n_assigned[i, e, c] += 1
        self._eni_n_assigned[i, e] += 1
        self._n_assigned[i] += 1
        self._pod_loc[pod] = (e * self._c + c) * self._k + k
        return True

    def _draw(self, n: int) -> int:
        """``placement_rng.integers(n)`` from the next words of the stream (see _bounded)."""
        if n == 1:
            return 0
        threshold = (_TWO_32 - n) % n
        while True:
            self._ensure_words(self._word_pos + 1)
            m = int(self._words[self._word_pos - self._word_base]) * n
            self._word_pos += 1
            if m & (_TWO_32 - 1) >= threshold:
                return m >> 32

    def _place_rounds(
        self,
        pods: IntArray,
        nodes: IntArray,
        rounds: list[IntArray],
        now_s: float,
        offsets: IntArray | None,
    ) -> tuple[BoolArray, IntArray, list[tuple[IntArray, ...]]]:
        placed = np.zeros(pods.size, dtype=bool)
        used = np.zeros(pods.size, dtype=np.int64)
        undo: list[tuple[IntArray, ...]] = []
        for sel in rounds:
            rn = nodes[sel]
            until: FloatArray = self._ip_until[rn]
            elig: BoolArray = np.less(until, now_s)
            cidr_elig: BoolArray = np.any(elig, axis=3)
            eni_elig: BoolArray = np.any(cidr_elig, axis=2)
            n1 = eni_elig.sum(axis=1)
            ok = n1 > 0
            if not ok.all():
                if not ok.any():
                    continue
                sel, rn, until, elig = sel[ok], rn[ok], until[ok], elig[ok]
                cidr_elig, eni_elig, n1 = cidr_elig[ok], eni_elig[ok], n1[ok]
            rows = np.arange(rn.size)
            if offsets is None:
                e = np.argmax(eni_elig, axis=1)
                ce = cidr_elig[rows, e]
                c = np.argmax(ce, axis=1)
            else:
                off = offsets[sel]
                j1, u1 = self._bounded(off, n1)
                e = np.argmax(np.cumsum(eni_elig, axis=1) > j1[:, None], axis=1)
                ce = cidr_elig[rows, e]
                j2, u2 = self._bounded(off + u1, ce.sum(axis=1))
                c = np.argmax(np.cumsum(ce, axis=1) > j2[:, None], axis=1)
                used[sel] = u1 + u2
            k = np.argmax(elig[rows, e, c], axis=1)
            old = until[rows, e, c, k]
            pod = pods[sel]
            self._ip_until[rn, e, c, k] = np.inf
            self._ip_pod[rn, e, c, k] = pod
            self._cidr_n_assigned[rn, e, c] += 1
            self._eni_n_assigned[rn, e] += 1
            self._n_assigned[rn] += 1
            self._pod_loc[pod] = (e * self._c + c) * self._k + k
            placed[sel] = True
            undo.append((rn, e, c, k, old))
        return placed, used, undo

    def _undo(self, undo: list[tuple[IntArray, ...]]) -> None:
        for node, e, c, k, old in reversed(undo):
            self._ip_until[node, e, c, k] = old
            self._ip_pod[node, e, c, k] = -1
            self._cidr_n_assigned[node, e, c] -= 1
            self._eni_n_assigned[node, e] -= 1
            self._n_assigned[node] -= 1

    def _bounded(self, offsets: IntArray, n: IntArray) -> tuple[IntArray, IntArray]:
        """``placement_rng.integers(n)`` values and word counts for draws starting at offsets.

        numpy's Lemire method: one 32-bit word ``w`` gives ``(w * n) >> 32`` unless its low
        product half falls below ``(2**32 - n) % n`` (then the next word is tried); ``n == 1``
        takes no word.
        """
        self._ensure_words(int(offsets.max()) + 1)
        bound = n.astype(np.uint64)
        product = self._words[offsets - self._word_base] * bound
        value = (product >> np.uint64(32)).astype(np.int64)  # n == 1 gives 0
        used = (n >= 2).astype(np.int64)
        threshold = (np.uint64(_TWO_32) - bound) % bound  # 0 when n == 1: never rejected
        rejected = (product & np.uint64(_TWO_32 - 1)) < threshold
        if not rejected.any():
            return value, used
        for i in np.flatnonzero(rejected).tolist():
            limit, pos = int(threshold[i]), int(offsets[i]) + 1
            while True:
                self._ensure_words(pos + 1)
                m = int(self._words[pos - self._word_base]) * int(n[i])
                pos += 1
                if m & (_TWO_32 - 1) >= limit:
                    break
            value[i] = m >> 32
            used[i] = pos - int(offsets[i])
        return value, used

    def _ensure_words(self, end: int) -> None:
        """Make words up to stream position ``end`` (exclusive) available; drop used ones."""
        have = self._word_base + self._words.size
        if end <= have:
            return
        more = self._placement_rng.integers(
            0, _TWO_32, size=max(_WORD_CHUNK, end - have), dtype=np.uint32
        )
        keep = self._words[self._word_pos - self._word_base :]
        self._words = np.concatenate([keep, more.astype(np.uint64)])
        self._word_base = self._word_pos

    # ------------------------------------------------------------------ 5. pool steps
    def _pool_steps(self, now_s: float) -> None:
        n = self.n_nodes
        # next_step_s is inf for nodes not joined, and later than step_end_s for busy ones.
        due = np.flatnonzero(self._next_step_s[:n] <= now_s)
        if not due.size:
            return
        self.n_node_steps += due.size
        if due.size <= _FEW:
            for i in due.tolist():
                self._pool_step_one(i, now_s)
            return
        self._asleep[due] = False
        low = self._is_low(due)
        # A low node only calls EC2 outside the 120 s pause and with room to grow.
        grow = low & (now_s > self._insufficient_until_s[due])
        if grow.any():
            grow[grow] = self._can_grow(due[grow])
        high = ~low & (now_s - self._last_decrease_s[due] > DECREASE_INTERVAL_S)
        special = self._warm_ip_mode[due] | self._pd[due]
        if special.any():
            high[special] &= self._over(due[special]) > 0
        high[~special] = False
        gate = self._should_remove(due)
        free_slot = np.full(due.size, -1, dtype=np.int64)
        # The ENI to free is judged after the decrease, so nodes that decrease judge it then.
        judge = gate & ~high
        if judge.any():
            free_slot[judge] = self._deletable_eni(due[judge], now_s)
        act = grow | high | (free_slot >= 0)
        quiet = due[~act]
        if quiet.size:
            self._sleep(quiet, now_s)
        for j in np.flatnonzero(act).tolist():
            self._act(
                int(due[j]), now_s, bool(grow[j]), bool(high[j]), bool(gate[j]), int(free_slot[j])
            )

    def _act(self, i: int, now_s: float, grow: bool, high: bool, gate: bool, slot: int) -> None:
        """The EC2 calls of one node's pool step, given its decisions."""
        step = _Step([])
        if grow:
            self._increase(i, now_s, step)
        elif high:
            self._decrease(i, now_s, step)
        if gate and high:
            slot = self._deletable_one(i, now_s)
        if slot >= 0:
            self._free_eni(i, slot, now_s, step)
        self._end_step(i, now_s, step, decreased=high)

    def _pool_step_one(self, i: int, now_s: float) -> None:
        """One due node's pool step in scalar code: the decisions of _pool_steps, then act."""
        self._asleep[i] = False
        const = self._consts[i]
        size = const.cidr_size
        avail = int(self._n_cidrs[i]) * size - int(self._n_assigned[i])
        warm_ip_mode = const.warm_ip_mode
        pd_on = const.pd
        warm_w = const.warm_w
        low = self._is_low_one(i)
        grow = low and now_s > self._insufficient_until_s[i] and self._can_grow_one(i)
        high = (
            not low
            and (warm_ip_mode or pd_on)
            and now_s - self._last_decrease_s[i] > DECREASE_INTERVAL_S
            and self._over_one(i) > 0
        )
        gate = warm_ip_mode or avail >= (warm_w + 1) * const.n_slots * size
        if not gate and pd_on:
            # data_store.go CheckFreeableENIexists: a secondary, non-trunk ENI with no pods.
            gate = any(
                not self._eni_trunk[i, e] and self._eni_n_assigned[i, e] == 0
                for e in range(1, int(self._n_enis[i]))
            )
        slot = self._deletable_one(i, now_s) if gate and not high else -1
        if grow or high or slot >= 0:
            self._act(i, now_s, grow, high, gate, slot)
        else:
            self._sleep_one(i, now_s)

    def _is_low_one(self, i: int) -> bool:
        """isDatastorePoolTooLow of one node (see _is_low)."""
        const = self._consts[i]
        total = int(self._n_cidrs[i]) * const.cidr_size
        if total >= const.max_pods:
            return False
        avail = total - int(self._n_assigned[i])
        if const.warm_ip_mode:
            return self._short_one(i, total, avail) > 0
        return avail < const.unit * const.warm_w or (const.warm_w == 0 and avail == 0)

    def _short_one(self, i: int, total: int, avail: int) -> int:
        """datastoreTargetState short of one node (see _short)."""
        const = self._consts[i]
        short = max(const.warm_ip - avail, 0, const.min_ip - total)
        return -(-short // IPS_PER_PREFIX) if const.pd else short

    def _can_grow_one(self, i: int) -> bool:
        """_can_grow of one node."""
        const = self._consts[i]
        n_enis = int(self._n_enis[i])
        trunk = self._eni_trunk[i].tolist()
        n_cidrs = self._eni_n_cidrs[i].tolist()
        has_trunk = False
        for e in range(n_enis):
            if trunk[e]:
                has_trunk = True
            elif not (e == 0 and const.custom) and n_cidrs[e] < const.n_slots:
                return True
        reserve = 1 if const.pod_eni and not has_trunk else 0
        return n_enis < const.max_enis - reserve

    def _deletable_one(self, i: int, now_s: float) -> int:
        """getDeletableENI of one node: the first freeable ENI slot, or -1 (see _deletable_eni)."""
        const = self._consts[i]
        size = const.cidr_size
        total = int(self._n_cidrs[i]) * size
        avail = total - int(self._n_assigned[i])
        pd_on, warm_ip, min_ip, warm_prefix = (
            const.pd,
            const.warm_ip,
            const.min_ip,
            const.warm_prefix,
        )
        for e in range(1, int(self._n_enis[i])):
            if (
                self._eni_trunk[i, e]
                or now_s - self._eni_created_s[i, e] < MIN_ENI_LIFETIME_S
                or self._eni_n_assigned[i, e] != 0
            ):
                continue
            eni_cidrs = int(self._eni_n_cidrs[i, e])
            eni_ips = eni_cidrs * size
            if warm_ip and avail - eni_ips < _need(warm_ip, pd_on):
                continue
            if min_ip and total - eni_ips < _need(min_ip, pd_on):
                continue
            if pd_on and warm_prefix and self._free_prefixes_one(i) - eni_cidrs < warm_prefix:
                continue
            until = self._ip_until[i, e]
            if ((until >= now_s) & (until < np.inf)).any():
                continue  # hasIPInCooling
            return e
        return -1

    def _over_one(self, i: int) -> int:
        """isDatastorePoolTooHigh's excess of one node (see _over)."""
        const = self._consts[i]
        if not const.pd:
            if not const.warm_ip_mode:
                return 0
            total = int(self._n_cidrs[i])
            return max(
                min(total - int(self._n_assigned[i]) - const.warm_ip, total - const.min_ip), 0
            )
        free_prefixes = self._free_prefixes_one(i)
        if not const.warm_ip_mode:
            return max(free_prefixes - const.warm_prefix, 0)
        n_prefixes = int(self._n_cidrs[i])
        assigned_and_warm = int(self._n_assigned[i]) + const.warm_ip
        return max(
            min(
                free_prefixes,
                n_prefixes - -(-assigned_and_warm // IPS_PER_PREFIX),
                n_prefixes - -(-const.min_ip // IPS_PER_PREFIX),
            ),
            0,
        )

    def _free_prefixes_one(self, i: int) -> int:
        """Held CIDRs with no assigned IP on one node (free slots have a zero count)."""
        return int(self._n_cidrs[i]) - int(np.count_nonzero(self._cidr_n_assigned[i]))

    def _sleep(self, ix: IntArray, now_s: float) -> None:
        """Nodes whose step made no call: the next step is at ``now_s + pool_interval_s``.

        A node's decisions depend only on its own datastore and on time through the 120 s
        pause, the 30 s decrease interval, the 60 s age of its secondary ENIs and the IP
        cooldowns on the ENIs it could free (secondary, not trunk, no pod: cooldown counts as
        available everywhere else, and an ENI only loses its last pod by a DEL, which wakes
        the node). Until one of those may flip (its wake time) or its datastore changes
        (:meth:`_wake`), every pool step would again make no call, so the node sleeps and its
        next step is the first one on its 5 s grid at or after the wake time. Results are
        identical to stepping it.
        """
        if not self._lazy:
            self._next_step_s[ix] = now_s + self.pool_interval_s
            return
        # Conservative wake: the earliest timer that may matter (stale slots past the ENIs
        # only cause extra evaluations, which make no call either).
        slot = np.arange(self._e)
        secondary = (slot >= 1) & (slot < self._n_enis[ix][:, None]) & ~self._eni_trunk[ix]
        freeable = secondary & (self._eni_n_assigned[ix] == 0)
        timers = np.concatenate(
            [
                self._insufficient_until_s[ix, None],
                self._last_decrease_s[ix, None] + DECREASE_INTERVAL_S,
                np.where(secondary, self._eni_created_s[ix] + MIN_ENI_LIFETIME_S, np.inf),
                np.where(freeable[:, :, None, None], self._ip_until[ix], np.inf).reshape(
                    ix.size, -1
                ),  # cooldown ends
            ],
            axis=1,
        )
        timers[~(timers >= now_s)] = np.inf  # past, never used (-inf) or not held (NaN)
        wake = timers.min(axis=1)
        k_now = round(now_s / self.tick_s)
        self._anchor_k[ix] = k_now
        self._asleep[ix] = True
        self._next_step_s[ix] = self._grid_at_or_after(ix, wake)

    def _sleep_one(self, i: int, now_s: float) -> None:
        """_sleep of one node."""
        if not self._lazy:
            self._next_step_s[i] = now_s + self.pool_interval_s
            return
        wake = math.inf
        for t in (
            float(self._insufficient_until_s[i]),
            float(self._last_decrease_s[i]) + DECREASE_INTERVAL_S,
        ):
            if now_s <= t < wake:
                wake = t
        trunk = self._eni_trunk[i].tolist()
        created_s = self._eni_created_s[i].tolist()
        n_assigned = self._eni_n_assigned[i].tolist()
        for e in range(1, int(self._n_enis[i])):
            if trunk[e]:
                continue
            t = created_s[e] + MIN_ENI_LIFETIME_S
            if now_s <= t < wake:
                wake = t
            if n_assigned[e] == 0:
                until = self._ip_until[i, e]
                # cooldown ends; not held (NaN), never used (-inf) and past ends are left out
                t = float(np.minimum.reduce(until, axis=None, initial=wake, where=until >= now_s))
                wake = min(wake, t)
        anchor = round(now_s / self.tick_s)
        self._anchor_k[i] = anchor
        self._asleep[i] = True
        if math.isinf(wake):
            self._next_step_s[i] = math.inf
            return
        m = self._pool_ticks
        k = anchor + m * max(-(-(math.ceil(wake / self.tick_s) - anchor) // m), 1)
        self._next_step_s[i] = k * self.tick_s

    def _grid_at_or_after(self, ix: IntArray, t_s: FloatArray) -> FloatArray:
        """First pool-step time of each sleeping node at or after ``t_s`` (inf stays inf)."""
        m = self._pool_ticks
        finite = np.isfinite(t_s)
        k_t = np.ceil(np.where(finite, t_s, 0.0) / self.tick_s).astype(np.int64)
        anchor = self._anchor_k[ix]
        k = anchor + m * np.maximum(-(-(k_t - anchor) // m), 1)
        return np.where(finite, k * self.tick_s, np.inf)

    def _wake(self, ix: IntArray, now_s: float) -> None:
        """The datastore of these nodes changed: sleeping ones step at their next grid time."""
        asleep = ix[self._asleep[ix]]
        if asleep.size:
            self._asleep[asleep] = False
            m = self._pool_ticks
            anchor = self._anchor_k[asleep]
            k_now = round(now_s / self.tick_s)
            k = anchor + m * np.maximum(-((anchor - k_now) // m), 1)
            self._next_step_s[asleep] = k * self.tick_s

    def _wake_one(self, i: int, now_s: float) -> None:
        """_wake of one node."""
        if self._asleep[i]:
            self._asleep[i] = False
            m = self._pool_ticks
            anchor = int(self._anchor_k[i])
            k = anchor + m * max(-((anchor - round(now_s / self.tick_s)) // m), 1)
            self._next_step_s[i] = k * self.tick_s

    def _can_grow(self, ix: IntArray) -> BoolArray:
        """Whether an increase could call EC2: an allocatable ENI with room, or an ENI slot."""
        slot = np.arange(self._e)
        n_enis = self._n_enis[ix][:, None]
        trunk = self._eni_trunk[ix]
        allocatable = (
            (slot < n_enis)
            & ~trunk
            & ~((slot == 0) & self._custom[ix][:, None])
            & (self._eni_n_cidrs[ix] < self._n_slots[ix][:, None])
        )
        reserve = self._pod_eni[ix] & ~trunk.any(axis=1)
        return allocatable.any(axis=1) | (self._n_enis[ix] < self._max_enis[ix] - reserve)

    def _end_step(self, i: int, now_s: float, step: _Step, *, decreased: bool) -> None:
        # ipamd's calls are synchronous: their durations add up (same sum as the reference).
        end_s = now_s + sum(result.done_s - now_s for result in step.results)
        if step.results:
            self._step_end_s[i] = end_s
            self._t_complete_s = min(self._t_complete_s, end_s)
        if step.insufficient:
            self._insufficient_until_s[i] = end_s + INSUFFICIENT_CIDR_PAUSE_S
        if decreased:
            self._last_decrease_s[i] = end_s
        self._next_step_s[i] = end_s + self.pool_interval_s

    def _record(self, i: int, op: str, result: Ec2Result, step: _Step) -> None:
        step.results.append(result)
        self._count(i, op, result)

    def _count(self, i: int, op: str, result: Ec2Result) -> None:
        self._n_calls[i, _OP_INDEX[op]] += 1
        if result.error is not None:
            self._n_errors[i, _ERROR_INDEX[result.error]] += 1

    # ---- datastore statistics, vectorized over node ids `ix`
    def _free_prefixes(self, ix: IntArray) -> IntArray:
        """Held CIDRs with no assigned IP, per node (prefix mode only, else 0)."""
        held = np.arange(self._c) < self._eni_n_cidrs[ix][:, :, None]
        free = (held & (self._cidr_n_assigned[ix] == 0)).sum(axis=(1, 2))
        return np.where(self._pd[ix], free, 0)

    def _short(self, ix: IntArray) -> IntArray:
        """datastoreTargetState short: IPs (prefixes in PD) missing in warm-IP mode."""
        total = self._n_cidrs[ix] * self._cidr_size[ix]
        avail = total - self._n_assigned[ix]
        short = np.maximum(np.maximum(self._warm_ip[ix] - avail, 0), self._min_ip[ix] - total)
        return np.where(self._pd[ix], _div_ceil(short, IPS_PER_PREFIX), short)

    def _over(self, ix: IntArray) -> IntArray:
        """isDatastorePoolTooHigh's excess: IPs or prefixes to release (0 in warm-ENI mode)."""
        total = self._n_cidrs[ix] * self._cidr_size[ix]
        assigned = self._n_assigned[ix]
        warm_ip, min_ip = self._warm_ip[ix], self._min_ip[ix]
        free_prefixes = self._free_prefixes(ix)
        n_prefixes = self._n_cidrs[ix]
        over_ips = np.maximum(np.minimum(total - assigned - warm_ip, total - min_ip), 0)
        over_prefixes = np.maximum(
            np.minimum(
                np.minimum(
                    free_prefixes, n_prefixes - _div_ceil(assigned + warm_ip, IPS_PER_PREFIX)
                ),
                n_prefixes - _div_ceil(min_ip, IPS_PER_PREFIX),
            ),
            0,
        )
        warm_ip_over = np.where(self._pd[ix], over_prefixes, over_ips)
        pd_over = np.where(self._pd[ix], np.maximum(free_prefixes - self._warm_prefix[ix], 0), 0)
        return np.where(self._warm_ip_mode[ix], warm_ip_over, pd_over)

    def _is_low(self, ix: IntArray) -> BoolArray:
        """isDatastorePoolTooLow per node."""
        total = self._n_cidrs[ix] * self._cidr_size[ix]
        avail = total - self._n_assigned[ix]
        warm = self._warm_w[ix]
        low = (avail < self._unit[ix] * warm) | ((warm == 0) & (avail == 0))
        warm_ip_mode = self._warm_ip_mode[ix]
        if warm_ip_mode.any():
            low[warm_ip_mode] = self._short(ix[warm_ip_mode]) > 0
        return low & (total < self._max_pods[ix])

    def _wanted(self, i: int) -> int:
        """Resources one increase asks for before the per-ENI cap (getPrefixesNeeded etc.)."""
        ix = np.array([i])
        if self._warm_ip_mode[i]:
            short = int(self._short(ix)[0])
            return max(1, short) if self._pd[i] else short
        if self._pd[i]:
            return max(1, int(self._warm_prefix[i] - self._free_prefixes(ix)[0]))
        return int(self._n_slots[i])

    def _should_remove(self, ix: IntArray) -> BoolArray:
        """shouldRemoveExtraENIs on the stats at the start of the step."""
        size = self._cidr_size[ix]
        avail = self._n_cidrs[ix] * size - self._n_assigned[ix]
        max_ips_per_eni = self._n_slots[ix] * size
        gate = self._warm_ip_mode[ix] | (avail >= (self._warm_w[ix] + 1) * max_ips_per_eni)
        pd_on = self._pd[ix] & ~gate
        if pd_on.any():
            # data_store.go CheckFreeableENIexists: a secondary, non-trunk ENI with no pods.
            pix = ix[pd_on]
            slot = np.arange(self._e)
            secondary = (slot >= 1) & (slot < self._n_enis[pix][:, None]) & ~self._eni_trunk[pix]
            gate[pd_on] = (secondary & (self._eni_n_assigned[pix] == 0)).any(axis=1)
        return gate

    def _deletable_eni(self, ix: IntArray, now_s: float) -> IntArray:
        """getDeletableENI: the first freeable ENI slot per node, or -1."""
        slot = np.arange(self._e)
        candidate = (
            (slot >= 1)
            & (slot < self._n_enis[ix][:, None])
            & ~self._eni_trunk[ix]
            & (now_s - self._eni_created_s[ix] >= MIN_ENI_LIFETIME_S)
            & (self._eni_n_assigned[ix] == 0)
        )
        found = np.full(ix.size, -1, dtype=np.int64)
        rows = np.flatnonzero(candidate.any(axis=1))
        if not rows.size:
            return found
        ix, candidate = ix[rows], candidate[rows]
        size = self._cidr_size[ix]
        total = self._n_cidrs[ix] * size
        avail = total - self._n_assigned[ix]
        eni_ips = self._eni_n_cidrs[ix] * size[:, None]
        pd_on = self._pd[ix][:, None]
        warm_ip = self._warm_ip[ix][:, None]
        min_ip = self._min_ip[ix][:, None]
        warm_ip_need = np.where(pd_on, _div_ceil(warm_ip, IPS_PER_PREFIX) * IPS_PER_PREFIX, warm_ip)
        min_ip_need = np.where(pd_on, _div_ceil(min_ip, IPS_PER_PREFIX) * IPS_PER_PREFIX, min_ip)
        # The candidate has no assigned IP, so the other ENIs hold all assigned ones.
        candidate &= (warm_ip == 0) | (avail[:, None] - eni_ips >= warm_ip_need)
        candidate &= (min_ip == 0) | (total[:, None] - eni_ips >= min_ip_need)
        warm_prefix = self._warm_prefix[ix][:, None]
        other_free_prefixes = self._free_prefixes(ix)[:, None] - self._eni_n_cidrs[ix]
        candidate &= ~pd_on | (warm_prefix == 0) | (other_free_prefixes >= warm_prefix)
        until = self._ip_until[ix]
        candidate &= ~((until >= now_s) & (until < np.inf)).any(axis=(2, 3))  # hasIPInCooling
        found[rows] = np.where(candidate.any(axis=1), np.argmax(candidate, axis=1), -1)
        return found

    # ---- EC2 actions of one node (Python, one node at a time)
    def _increase(self, i: int, now_s: float, step: _Step) -> None:
        """increaseDatastorePool: add CIDRs to an existing ENI, else attach one new ENI."""
        if now_s <= self._insufficient_until_s[i]:
            return
        config = self._configs[i]
        n_slots = int(self._n_slots[i])
        wanted = self._wanted(i)
        outcome = "nothing"
        if wanted != 0:
            for e in range(int(self._n_enis[i])):
                n_held = int(self._eni_n_cidrs[i, e])
                if self._eni_trunk[i, e] or (e == 0 and config.custom_network_cfg):
                    continue
                if n_held >= n_slots:
                    continue
                eni_id = int(self._eni_id[i, e])
                result = self._assign(i, eni_id, min(n_slots - n_held, wanted), now_s, step)
                if not result.ok:
                    result = self._assign(i, eni_id, 1, now_s, step)  # "just get one more"
                    if not result.ok:
                        assert result.error is not None
                        if config.enable_subnet_discovery and result.error in INSUFFICIENT_CODES:
                            continue
                        outcome = result.error
                        break
                self._pending[i].append(_Addition(eni_id, result.addresses.astype(np.uint32)))
                outcome = "added"
                break
        if outcome in INSUFFICIENT_CODES:
            step.insufficient = True
            return
        if outcome != "nothing":
            return
        has_trunk = bool(self._eni_trunk[i, : self._n_enis[i]].any())
        trunk_reserve = 1 if config.enable_pod_eni and not has_trunk else 0
        if self._n_enis[i] < self._max_enis[i] - trunk_reserve:
            self._allocate_eni(i, wanted, now_s, step)

    def _assign(self, i: int, eni_id: int, n: int, now_s: float, step: _Step) -> Ec2Result:
        if self._pd[i]:
            result = self.ec2.assign_prefixes(now_s, eni_id, n)
        else:
            result = self.ec2.assign_private_ips(now_s, eni_id, n)
        self._record(i, "assign", result, step)
        return result

    def _allocate_eni(self, i: int, wanted: int, now_s: float, step: _Step) -> None:
        """tryAllocateENI: one create-and-attach in the pod subnet, pre-loaded."""
        pd_on = bool(self._pd[i])
        n_slots = int(self._n_slots[i])
        n = min(wanted, n_slots) if pd_on or self._warm_ip_mode[i] else n_slots
        if n <= 0:
            return
        result = self.ec2.create_and_attach_eni(
            now_s,
            int(self._instance[i]),
            [self._specs[i].pod_subnet, *self._specs[i].extra_subnets],
            n_ips=0 if pd_on else n,
            n_prefixes=n if pd_on else 0,
            subnet_discovery=self._configs[i].enable_subnet_discovery,
            custom_networking=self._configs[i].custom_network_cfg,
        )
        self._record(i, "create_eni", result, step)
        if result.ok and result.eni_id is not None and result.primary_ip is not None:
            bases = result.addresses.astype(np.uint32)
            self._pending[i].append(_Addition(result.eni_id, bases, new_eni=True))
        elif result.error in INSUFFICIENT_CODES:
            step.insufficient = True

    def _decrease(self, i: int, now_s: float, step: _Step) -> None:
        """tryUnassignCidrsFromAll: return up to `over` unused CIDRs, one call per ENI."""
        over = self._over_one(i)
        for e in range(int(self._n_enis[i])):
            if over <= 0:
                break
            n_held = int(self._eni_n_cidrs[i, e])
            freeable = np.flatnonzero(self._cidr_n_assigned[i, e, :n_held] == 0)[:over]
            if not freeable.size:
                continue
            bases = self._cidr_base[i, e, freeable].copy()
            self._remove_cidrs(i, e, freeable)
            eni_id = int(self._eni_id[i, e])
            if self._pd[i]:
                result = self.ec2.unassign_prefixes(now_s, eni_id, bases)
            else:
                result = self.ec2.unassign_private_ips(now_s, eni_id, bases)
            self._record(i, "unassign", result, step)
            over -= freeable.size

    def _remove_cidrs(self, i: int, e: int, slots: IntArray) -> None:
        """Drop CIDR slots of one ENI; the others keep their order, shifted left."""
        n_held = int(self._eni_n_cidrs[i, e])
        keep = np.ones(n_held, dtype=bool)
        keep[slots] = False
        order = np.concatenate([np.flatnonzero(keep), slots, np.arange(n_held, self._c)])
        self._cidr_base[i, e] = self._cidr_base[i, e, order]
        self._cidr_n_assigned[i, e] = self._cidr_n_assigned[i, e, order]
        self._ip_until[i, e] = self._ip_until[i, e, order]
        self._ip_pod[i, e] = self._ip_pod[i, e, order]
        n_left = n_held - slots.size
        self._ip_until[i, e, n_left:] = np.nan
        self._cidr_n_assigned[i, e, n_left:] = 0
        self._eni_n_cidrs[i, e] = n_left
        self._n_cidrs[i] -= slots.size
        self._relocate_pods(i)

    def _free_eni(self, i: int, e: int, now_s: float, step: _Step) -> None:
        """tryFreeENI: the ENI leaves the datastore, then one free-ENI operation."""
        eni_id = int(self._eni_id[i, e])
        n_enis = int(self._n_enis[i])
        self._n_cidrs[i] -= self._eni_n_cidrs[i, e]
        slots = np.arange(self._e)
        order = np.concatenate([slots[:e], slots[e + 1 : n_enis], slots[e : e + 1], slots[n_enis:]])
        for array in (
            self._eni_id,
            self._eni_trunk,
            self._eni_created_s,
            self._eni_n_cidrs,
            self._eni_n_assigned,
            self._cidr_base,
            self._cidr_n_assigned,
            self._ip_until,
            self._ip_pod,
        ):
            array[i] = array[i, order]
        last = n_enis - 1
        self._eni_id[i, last] = -1
        self._eni_trunk[i, last] = False
        self._eni_n_cidrs[i, last] = self._eni_n_assigned[i, last] = 0
        self._cidr_n_assigned[i, last] = 0
        self._ip_until[i, last] = np.nan
        self._ip_pod[i, last] = -1
        self._n_enis[i] = last
        self._relocate_pods(i)
        self._record(i, "free_eni", self.ec2.free_eni(now_s, eni_id), step)

    def _relocate_pods(self, i: int) -> None:
        flat = self._ip_pod[i].ravel()
        where = np.flatnonzero(flat >= 0)
        self._pod_loc[flat[where]] = where

    # ------------------------------------------------------------------ metrics
    def _metric_matrix(self, ix: IntArray, now_s: float) -> IntArray:
        size = self._cidr_size[ix]
        held = self._n_cidrs[ix] * size
        assigned = self._n_assigned[ix]
        until = self._ip_until[ix].reshape(ix.size, -1)
        cooling = np.count_nonzero((until >= now_s) & (until < np.inf), axis=1)
        enis = self._n_enis[ix]
        return np.stack(
            [
                enis,
                held,
                assigned,
                held - assigned,
                cooling,
                np.where(self._pd[ix], self._n_cidrs[ix], 0),
                enis + held + self._n_branch[ix] + self._n_branch_cooling[ix],
                self._n_branch[ix],
            ],
            axis=1,
        ).astype(np.int64)

    def _sample(self, now_s: float) -> None:
        ix = np.flatnonzero(self._joined[: self.n_nodes])
        if not ix.size:
            return
        end = self._n_rows + ix.size
        if end > self._row_s.size:
            cap = max(end, 2 * self._row_s.size, 1024)
            self._row_s = np.resize(self._row_s, cap)
            self._row_node = np.resize(self._row_node, cap)
            grown = np.zeros((cap, len(METRICS)), dtype=np.int64)
            grown[: self._n_rows] = self._row_metrics[: self._n_rows]
            self._row_metrics = grown
        self._row_s[self._n_rows : end] = now_s
        self._row_node[self._n_rows : end] = ix
        self._row_metrics[self._n_rows : end] = self._metric_matrix(ix, now_s)
        self._n_rows = end


def _rounds(nodes: IntArray) -> list[IntArray]:
    """Positions of the 1st, 2nd, ... occurrence of each node: one round per rank."""
    everything = np.arange(nodes.size)
    if nodes.size == 1:
        return [everything]
    order = np.argsort(nodes, kind="stable")
    sorted_nodes = nodes[order]
    new_group = np.empty(nodes.size, dtype=bool)
    new_group[0] = True
    np.not_equal(sorted_nodes[1:], sorted_nodes[:-1], out=new_group[1:])
    if new_group.all():
        return [everything]
    starts = np.flatnonzero(new_group)
    rank = np.empty(nodes.size, dtype=np.int64)
    rank[order] = everything - starts[np.cumsum(new_group) - 1]
    return [np.flatnonzero(rank == r) for r in range(int(rank.max()) + 1)]


def _need(n_ips: int, pd_on: bool) -> int:
    """IPs a warm or minimum target needs from the other ENIs (rounded up to /28s in PD)."""
    return -(-n_ips // IPS_PER_PREFIX) * IPS_PER_PREFIX if pd_on else n_ips


def _div_ceil(x: IntArray, y: int) -> IntArray:
    # data_store.go DivCeil
    return (x + y - 1) // y


def _round_up(n: int, chunk: int) -> int:
    return -(-n // chunk) * chunk


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
    prepare_space: Callable[[AddressSpace], None] | None = None,
    sample_every_s: float = 60.0,
    branch_eni_cooldown_s: float = BRANCH_ENI_COOLDOWN_S,
) -> tuple[Engine, EngineResult]:
    """Run the fast engine on one node group; arguments as :func:`cnisim.sim.ipamd.run_reference`.

    Parameters
    ----------
    nodes, config, pods, subnet_cidrs, duration_s, seed, tick_s, placement,
    pod_retry_interval_s, pool_interval_s, join_s, leave_s, ec2_params, prepare_space,
    branch_eni_cooldown_s
        As in :func:`cnisim.sim.ipamd.run_reference`.
    sample_every_s : float
        Metrics sampling period [s]; ``tick_s`` records every tick.

    Returns
    -------
    (Engine, EngineResult)
        The engine (final state) and its result.
    """
    engine = Engine(
        subnet_cidrs,
        seed=seed,
        tick_s=tick_s,
        placement=placement,
        pod_retry_interval_s=pod_retry_interval_s,
        pool_interval_s=pool_interval_s,
        sample_every_s=sample_every_s,
        ec2_params=ec2_params,
        prepare_space=prepare_space,
        branch_eni_cooldown_s=branch_eni_cooldown_s,
    )
    joins = list(join_s) if join_s is not None else [0.0] * len(nodes)
    for spec, t_s in zip(nodes, joins, strict=True):
        engine.add_nodes([spec], config, t_s)
    if leave_s is not None:
        for i, t_leave in enumerate(leave_s):
            if t_leave is not None:
                engine.remove_nodes([i], t_leave)
    engine.submit_pods(pods)
    engine.run_until(duration_s)
    return engine, engine.result()
