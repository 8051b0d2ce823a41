"""Scalar REFERENCE model of ipamd's warm pool on a node: the oracle of the vectorized engine.

Written for clarity, not speed: one ipamd decision per line, named after ipamd's functions. The
fast engine (``cnisim/sim/engine.py``) must reproduce this module exactly for identical inputs
and seeds; this docstring is the authoritative statement of the simulation contract.

Tick contract
-------------
Time advances in ticks of ``tick_s`` (default 1 s); an event due at ``t`` happens at the first
tick with ``now_s >= t``. At each tick, in this order:

1. **Joins.** For each node joining at ``now_s`` (increasing node index): its primary ENI is
   created in ``node_subnet`` holding only its primary IP (the node IP, never given to pods);
   with ``enable_pod_eni`` and ``max_enis >= 2`` the trunk ENI is then attached in
   ``pod_subnet`` (the controller puts the trunk and its branch ENIs in the node's ENIConfig
   subnet under custom networking, else in the node's subnet; ``Ec2Api.attach_trunk_eni``: the
   VPC resource controller's ENI, no ipamd
   call, no pool IPs, never freed; in reality it attaches seconds later, while ipamd already
   reserves its slot, so slot counting is the same; the caller must only enable SGP on
   trunking-compatible types); then node-init pre-scaling runs: if ``isDatastorePoolTooLow``
   (always true on an empty node), one ``increaseDatastorePool`` exactly as in a pool step
   (step 5, "increase"); no decrease or free at init.
   **Leaves** (``Ec2Api.terminate_instance``): all addresses of the node return to the
   subnets, its branch ENIs' too (running or cooling down; their queued deletions are
   dropped), its pods are gone (no cooldown), in-flight actions are dropped, its waiting and
   later pods are never tried. A pod whose node has not joined yet (or whose launch failed:
   node subnet full) fails its ADDs.
2. **Completions.** Nodes in increasing index: a node whose in-flight step has
   ``step_end_s <= now_s`` applies the step's additions to its datastore (IPs/prefixes on an
   existing ENI are appended to that ENI's CIDR list in the order EC2 returned them; a new ENI
   is appended to the node's ENI list with ``created_s = now_s``) and becomes idle.
3. **Branch ENI deletions**, then **pod DELs**. First every branch ENI whose cool-down is
   over (``now_s > release_s + branch_eni_cooldown_s``, the controller's
   ``time.Now().After``) is deleted (``Ec2Api.delete_branch_eni``: DisassociateTrunkInterface,
   DeleteNetworkInterface; its IP returns to the subnet), in the order the pods were deleted
   (one queue for all nodes: (release time, DEL sequence)). Then the pod DELs due, in (time,
   sequence) order, sequence = row of the sorted ``PodEvents``: a pool pod's address becomes
   unassigned with ``cooldown_until_s = now_s + ip_cooldown_period_s``; a branch pod's
   branch ENI enters the deletion queue with ``release_s = now_s`` (it keeps its IP and
   still counts against ``max_branch_enis`` until deleted). A DEL of a pod still waiting for
   an address cancels its ADD, and so does a DEL whose pod's first ADD is due in this same
   tick (not yet tried): the pod never starts (without this, the ADD would run after its DEL
   and the pod would hold an IP forever).
4. **Pod ADDs** due (first attempts and retries), in (due time, sequence of the ADD row)
   order. Eligible address: held, unassigned and not in cooldown, where an address is in
   cooldown while ``now_s <= cooldown_until_s`` (ipamd: ``time.Since(unassigned) <= period``).
   Only CIDRs of the active kind count (/32 secondary IPs, or /28 prefixes in PD).

   - ``"first_fit"``: the lowest ENI index (ENIs in attach order, primary first), then the
     lowest CIDR position on that ENI (CIDRs in the order they entered the datastore; a
     released CIDR leaves the list, the rest keep their order), then in a /28 the lowest
     eligible address.
   - ``"random"`` (Go map order): ``placement_rng.integers(n)`` over the ENIs with an eligible
     address (in ENI order), then ``placement_rng.integers(m)`` over that ENI's CIDRs with an
     eligible address (in CIDR order), then in a /28 the lowest eligible address. Both draws
     happen even when n or m is 1; no draw when nothing is eligible.

   A **branch pod** (``PodEvents.branch``, security groups for pods) never touches the
   datastore, draws nothing from ``placement_rng`` and is processed in the same (due,
   sequence) order as the others: its ADD succeeds if the node has its trunk ENI and fewer
   than ``max_branch_enis`` branch ENIs (running pods plus ENIs in the deletion queue, as
   the controller's canCreateMore counts them) and ``Ec2Api.create_branch_eni`` (in the
   trunk's subnet: CreateNetworkInterface, AssociateTrunkInterface; one address drawn with
   ``subnet_rng`` like any other) succeeds; the pod's address is the branch ENI's IP.
   Otherwise (no trunk, at the limit, subnet full, throttled) it fails like a pool ADD.

   With nothing eligible the ADD fails, is counted, and is due again at ``now_s +
   pod_retry_interval_s`` (default 10 s: the kubelet pod worker's ``backOffPeriod`` after a
   failed sync such as FailedCreatePodSandBox; its 0-50 % jitter is not modelled). A pod's
   wait is ``now_s`` of its successful ADD minus its scheduled ADD time.
5. **Pool steps.** Nodes in increasing index that are idle and have ``next_step_s <= now_s``
   run ``updateIPPoolIfRequired`` on the state at ``now_s``:

   - ``stats`` = (total, assigned, cooldown) now; ``avail = total - assigned`` (cooldown
     counts as available).
   - ``if isDatastorePoolTooLow: increaseDatastorePool``
     ``elif isDatastorePoolTooHigh and now_s - last_decrease_s > 30: decreaseDatastorePool``
   - ``if shouldRemoveExtraENIs(stats): tryFreeENI`` (with the ``stats`` from the start of the
     step; the ENI candidates are judged on the datastore after the decrease above).
   - If the decrease branch ran (isHigh and not skipped), ``last_decrease_s = step_end_s``.

   ipamd's EC2 calls are synchronous, so the calls of one step are made one after another:
   all are issued to the ``Ec2Api`` with the tick's ``now_s``, in ipamd's order (increase:
   assign, its retry with 1, the next ENI's assign..., then the ENI create; or decrease: one
   unassign per ENI in ENI order; then the free ENI), and the step
   ends at ``step_end_s = now_s + sum(result.done_s - now_s)``. Additions (increase) take effect
   at step 2 of the first tick with ``now_s >= step_end_s``; releases (decrease, free ENI)
   leave the datastore and the subnet at issue. The node is busy until ``step_end_s`` and
   ``next_step_s = step_end_s + pool_interval_s`` (5 s; ``now_s + 5`` when no call was made).
   A failure known at issue shapes the rest of the step (the Ec2Api result carries it).

Metrics per node: ``enis``, ``ips_held``, ``ips_assigned``, ``ips_free``, ``ips_cooldown``,
``prefixes`` are the warm pool's (ipamd's datastore; branch pods are not in it);
``branch_pods`` counts running branch pods; ``subnet_ips`` counts every subnet address the
node holds: ENI primaries, pool IPs (16 per prefix) and branch ENIs (running or cooling down).

Formulas (``S = ipv4_per_eni - 1`` slots per ENI; PD: ``P = S`` prefixes of 16 IPs,
``max_ips_per_eni = 16 P``, else ``S``). ``free_prefixes`` = prefixes with no assigned IP.

- ``isDatastorePoolTooLow``: False if ``total >= max_pods``. Warm-IP mode (WARM_IP_TARGET or
  MINIMUM_IP_TARGET > 0): ``short = max(WARM_IP - avail, MIN - total, 0)`` (PD:
  ``ceil(short / 16)``), low if ``short > 0``. Otherwise, with ``W`` = WARM_ENI_TARGET and
  ``unit = S`` (PD: W = WARM_PREFIX_TARGET, unit = 16): low if ``avail < W * unit`` or
  ``W == 0 and avail == 0``.
- ``increaseDatastorePool``: nothing if ``now_s <= insufficient_until_s``. Then
  ``tryAssignIPs`` / ``tryAssignPrefixes`` over the allocatable ENIs (not the trunk, not the
  primary under custom networking, fewer than S CIDRs) in ENI order:
  request ``k = min(S - n_cidrs, want)`` with ``want = S`` (secondary, warm-ENI), ``short``
  (secondary, warm-IP; if ``short == 0`` nothing at all is requested), ``max(1, short)``
  (PD, warm-IP) or ``max(1, WARM_PREFIX - free_prefixes)`` (PD). On an error, retry the same
  ENI with k = 1. If the retry fails too: with ``enable_subnet_discovery`` and an
  InsufficientCidrBlocks / InsufficientFreeAddressesInSubnet error go on to the next ENI;
  otherwise the increase ends (and an InsufficientCidr* error starts the pause). The first
  success ends the increase. Only if nothing was added (every ENI full, or every one failed
  under subnet discovery) and ``n_enis < max_enis - trunk_reserve`` (trunk_reserve = 1 with
  ``enable_pod_eni`` while no trunk exists, i.e. ``max_enis == 1``), ``tryAllocateENI``:
  one ``create_and_attach_eni`` in ``pod_subnet`` (``subnet_discovery`` =
  ``enable_subnet_discovery``, which costs a DescribeSubnets) pre-loaded with ``S`` IPs
  (warm-ENI), ``min(short, S)`` IPs (warm-IP; nothing if 0) or ``min(want, P)`` prefixes (PD); an
  InsufficientCidr* error starts the pause. Pause: ``insufficient_until_s = step_end_s +
  120`` (ipamd: ``time.Since(lastInsufficientCidrError) <= 120 s``).
- ``isDatastorePoolTooHigh``: warm-IP secondary ``over = max(min(avail - WARM_IP, total -
  MIN), 0)``; warm-IP PD ``over = max(min(free_prefixes, n_prefixes - ceil((assigned +
  WARM_IP) / 16), n_prefixes - ceil(MIN / 16)), 0)``; PD otherwise ``over = max(free_prefixes
  - WARM_PREFIX, 0)``; warm-ENI mode never (only whole ENIs are freed). High if ``over > 0``.
- ``decreaseDatastorePool`` (``tryUnassignCidrsFromAll``): ENIs in ENI order; on each, its CIDRs
  with no assigned IP (cooldown ignored: such IPs may go back to EC2) in CIDR order, up to the
  remaining ``over``; one unassign call per ENI that gives any; stop when ``over`` reaches 0.
- ``shouldRemoveExtraENIs``: True in warm-IP mode; else ``avail >= (W + 1) * max_ips_per_eni``;
  in PD also True if a non-primary, non-trunk ENI has no assigned IP.
- ``tryFreeENI`` (``getDeletableENI``): the first ENI in ENI order that is not primary, not
  trunk, ``now_s - created_s >= 60`` (minENILifeTime), has no address in cooldown, has no
  assigned IP, and is not required: ``WARM_IP > 0`` and the other ENIs' unassigned IPs <
  WARM_IP (PD: rounded up to a multiple of 16); ``MIN > 0`` and the other ENIs' IPs < MIN (PD:
  rounded up); PD and ``WARM_PREFIX > 0`` and the other ENIs' free prefixes < WARM_PREFIX
  (checked in warm-IP mode too, as in ipamd). It leaves the datastore; one free-ENI call.

Differences from the real CNI (documented simplifications)
-------------------------------------------------------
- Go map order decides which ENI/CIDR ipamd fills, releases or frees; here it is ENI order
  then CIDR order. Pod placement can be random (above). In a /28 ipamd reuses a cooled-down
  address (map order) before the lowest never-used one; here always the lowest eligible.
- All calls of a step hit the EC2 token buckets at the tick's ``now_s``; their latencies add
  up for the node. Additions enter the pool at the end of the step, not at their own call's
  return; the pause and ``last_decrease_s`` are stamped with ``step_end_s``.
- Not modelled: the IMDS/EC2 reconcile loop, PrivateIpAddressLimitExceeded, aws-node restarts
  (ENI age resets), unschedulable nodes, multiple network cards, EFA, IPv6 (no warm pool),
  subnet discovery's choice among tagged subnets (new ENIs always go to ``pod_subnet``), the
  node-init failure when custom networking leaves the pool empty, and kubelet retry jitter.
- Security groups for pods: the controller's latency is not modelled (a branch pod gets its
  IP at its ADD tick, though the calls' ``done_s`` is later), nor its requeue after
  ``ErrCurrentlyAtMaxCapacity`` (the pod retries every ``pod_retry_interval_s`` instead of
  after a cool-down period), nor its delete job's 30 s period (an ENI is deleted at the first
  tick after its cool-down), nor a deletion that fails and is retried (the IP returns at
  once). Scheduling ignores the ``vpc.amazonaws.com/pod-eni`` resource: a branch pod on a
  node without a trunk waits for ever. A failed association deletes the new ENI at once.
  Branch pods use one branch ENI each (no pods with several).
- A release call that EC2 refuses (throttled) still leaves the datastore, as in ipamd (which
  logs a warning); the reconcile that would re-add leaked addresses is not modelled.

References
----------
aws/amazon-vpc-cni-k8s v1.23.1 ``pkg/ipamd/ipamd.go`` (updateIPPoolIfRequired,
isDatastorePoolTooLow, datastoreTargetState, increaseDatastorePool, tryAssignIPs,
tryAssignPrefixes, getPrefixesNeeded, tryAllocateENI, GetENIResourcesToAllocate, hasRoomForEni,
isDatastorePoolTooHigh, tryUnassignCidrsFromAll, shouldRemoveExtraENIs, tryFreeENI,
handlePreScaling; constants ipPoolMonitorInterval 5 s, decreaseIPPoolInterval 30 s,
insufficientCidrErrorCooldown 120 s) and ``pkg/ipamd/datastore/data_store.go``
(AssignPodIPv4Address, getUnusedIP, UnassignPodIPAddress, inCoolingPeriod, GetIPStats,
getDeletableENI, minENILifeTime 60 s, FindFreeableCidrs, GetFreePrefixes,
CheckFreeableENIexists); kubernetes ``pkg/kubelet/pod_workers.go`` and ``kubelet.go``
(backOffPeriod 10 s, workerBackOffPeriodJitterFactor 0.5);
aws/amazon-vpc-resource-controller-k8s ``pkg/provider/branch/trunk/trunk.go``
(CreateAndAssociateBranchENIs, canCreateMore, PushBranchENIsToCoolDownQueue,
DeleteCooledDownENIs, deleteENI), ``pkg/aws/ec2/instance.go`` (SubnetID: the ENIConfig subnet
under custom networking), ``pkg/provider/branch/cooldown/cooldown.go`` (default
branch ENI cool-down 60 s, at least 30 s), ``pkg/aws/vpc/limits.go`` (BranchInterface).
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np

from cnisim.cni import IpamdConfig
from cnisim.errors import UsageError
from cnisim.sim.ec2 import Ec2Api, Ec2Params, Ec2Result
from cnisim.sim.subnet import AddressSpace
from cnisim.sim.workload import PodEvents

__all__ = [
    "BRANCH_ENI_COOLDOWN_S",
    "DECREASE_INTERVAL_S",
    "INSUFFICIENT_CIDR_PAUSE_S",
    "INSUFFICIENT_CODES",
    "IPS_PER_PREFIX",
    "MIN_ENI_LIFETIME_S",
    "POD_RETRY_INTERVAL_S",
    "POOL_INTERVAL_S",
    "NodeSpec",
    "Placement",
    "ReferenceNode",
    "ReferenceRun",
    "run_reference",
]


@dataclass(frozen=True)
class NodeSpec:
    """One node as ipamd sees it.

    Parameters
    ----------
    instance_type : str
        EC2 instance type, e.g. ``"m5.large"``.
    max_enis : int
        ENIs of the default network card after ``MAX_ENI`` (primary and trunk included) [ENIs].
    ipv4_per_eni : int
        IPv4 addresses per ENI incl. its primary; ``S = ipv4_per_eni - 1`` pool slots [IPs].
    max_pods : int
        kubelet ``capacity.pods``; ipamd stops growing once it holds this many IPs [pods].
    node_subnet : str
        Subnet id of the primary ENI (the node IP).
    pod_subnet : str
        Subnet id for new ENIs: the ENIConfig subnet under custom networking, else
        ``node_subnet``.
    supports_prefix_delegation : bool
        Whether the type takes /28 prefixes (Nitro); otherwise PD falls back to secondary IPs.
    max_branch_enis : int
        Branch ENIs the type's trunk takes (``BranchInterface``), i.e. SGP pods per node; used
        only with ``enable_pod_eni`` once the trunk is attached [ENIs].

    References
    ----------
    aws/amazon-vpc-cni-k8s ``pkg/vpc/vpc_ip_resource_limit.go`` and ``misc/eni-max-pods.txt``
    (m5.large: 3 ENIs x 10 IPv4 -> 3 * (10 - 1) + 2 = 29 max pods);
    aws/amazon-vpc-resource-controller-k8s ``pkg/aws/vpc/limits.go`` (m5.large: 9 branch ENIs).

    Examples
    --------
    >>> spec = NodeSpec("m5.large", 3, 10, 29, "subnet-a", "subnet-a", True)
    >>> spec.n_slots_per_eni
    9
    """

    instance_type: str
    max_enis: int
    ipv4_per_eni: int
    max_pods: int
    node_subnet: str
    pod_subnet: str
    supports_prefix_delegation: bool = True
    max_branch_enis: int = 0

    @property
    def n_slots_per_eni(self) -> int:
        """Secondary IP (or prefix) slots per ENI, S = ipv4_per_eni - 1 [slots]."""
        return self.ipv4_per_eni - 1


Placement = Literal["first_fit", "random"]

#: EC2 errors that pause growth for 120 s (ipamd.go containsInsufficientCIDRsOrSubnetIPs).
INSUFFICIENT_CODES: Final = frozenset(
    {"InsufficientCidrBlocks", "InsufficientFreeAddressesInSubnet"}
)
INSUFFICIENT_CIDR_PAUSE_S: Final = 120.0  # ipamd.go insufficientCidrErrorCooldown
DECREASE_INTERVAL_S: Final = 30.0  # ipamd.go decreaseIPPoolInterval
MIN_ENI_LIFETIME_S: Final = 60.0  # data_store.go minENILifeTime
POOL_INTERVAL_S: Final = 5.0  # ipamd.go ipPoolMonitorInterval
POD_RETRY_INTERVAL_S: Final = 10.0  # kubelet.go backOffPeriod (pod worker retry after an error)
IPS_PER_PREFIX: Final = 16  # data_store.go GetPrefixDelegationDefaults: a /28
BRANCH_ENI_COOLDOWN_S: Final = 60.0  # vpc-resource-controller cooldown.go DefaultCoolDownPeriod


@dataclass
class _Cidr:
    """One /32 secondary IP or /28 prefix in the datastore, with per-address state."""

    base: int
    size: int
    pods: list[int]  # pod id per address, -1 when unassigned
    cooldown_until_s: list[float]

    @classmethod
    def new(cls, base: int, size: int) -> _Cidr:
        return cls(base, size, [-1] * size, [-math.inf] * size)

    def n_assigned(self) -> int:
        return sum(1 for pod in self.pods if pod >= 0)

    def eligible(self, offset: int, now_s: float) -> bool:
        # data_store.go getUnusedIP: not assigned and not inCoolingPeriod (since <= period).
        return self.pods[offset] < 0 and now_s > self.cooldown_until_s[offset]

    def first_eligible(self, now_s: float) -> int | None:
        return next((i for i in range(self.size) if self.eligible(i, now_s)), None)

    def n_cooling(self, now_s: float) -> int:
        return sum(
            1 for i in range(self.size) if self.pods[i] < 0 and now_s <= self.cooldown_until_s[i]
        )


@dataclass
class _Eni:
    """An attached ENI as ipamd's datastore holds it."""

    eni_id: int
    primary_ip: int
    is_primary: bool
    is_trunk: bool
    created_s: float
    cidrs: list[_Cidr] = field(default_factory=list)

    def n_assigned(self) -> int:
        return sum(cidr.n_assigned() for cidr in self.cidrs)

    def n_ips(self) -> int:
        return sum(cidr.size for cidr in self.cidrs)


@dataclass
class _Addition:
    """What an increase adds when its step completes: CIDRs on an ENI, or a new ENI."""

    eni_id: int
    bases: list[int]
    new_eni_primary_ip: int | None = None


class ReferenceNode:
    """ipamd and its datastore on one node, one decision per line.

    Parameters
    ----------
    index : int
        Engine node id (nodes are processed in increasing index within each tick phase).
    spec : NodeSpec
        The node's limits and subnets.
    config : IpamdConfig
        aws-node settings of the node group.
    ec2 : Ec2Api
        The shared EC2 model.
    pool_interval_s : float
        Pause between the end of a pool step and the next one [s].

    Notes
    -----
    See the module docstring for the exact contract; method names follow ipamd's functions.

    References
    ----------
    aws/amazon-vpc-cni-k8s ``pkg/ipamd/ipamd.go``, ``pkg/ipamd/datastore/data_store.go``.
    """

    def __init__(
        self,
        index: int,
        spec: NodeSpec,
        config: IpamdConfig,
        ec2: Ec2Api,
        *,
        pool_interval_s: float = POOL_INTERVAL_S,
    ) -> None:
        if config.enable_ipv6:
            raise UsageError(
                "ENABLE_IPv6=true: ipamd keeps no IPv4 warm pool (one /80 per ENI), which the "
                "simulator does not model; simulate IPv4 (ENABLE_IPv6=false)"
            )
        self.index = index
        self.spec = spec
        self.config = config
        self.ec2 = ec2
        self.pool_interval_s = pool_interval_s
        self.pd = config.prefix_delegation_active(spec.supports_prefix_delegation)
        self.warm_ip_mode = config.warm_ip_targets_defined
        self.n_slots = spec.n_slots_per_eni  # S secondary IPs, or P = S prefixes
        self.cidr_size = IPS_PER_PREFIX if self.pd else 1
        self.max_ips_per_eni = self.n_slots * self.cidr_size
        self.enis: list[_Eni] = []
        self.instance_id: int | None = None
        self.joined = False
        self.pod_cidr: dict[int, tuple[_Cidr, int]] = {}
        # Security groups for pods: the controller's branch ENIs, outside the datastore.
        self.max_branch_enis = spec.max_branch_enis if config.enable_pod_eni else 0
        self.branch_pods: dict[int, tuple[int, int]] = {}  # pod -> (branch ENI id, address)
        self.n_branch_cooling = 0  # branch ENIs of deleted pods still in the deletion queue
        self.next_step_s = math.inf
        self.step_end_s: float | None = None  # set while a step's calls are in flight
        self.pending: list[_Addition] = []
        self.last_decrease_s = -math.inf
        self.insufficient_until_s = -math.inf
        self.n_calls: Counter[str] = Counter()
        self.n_call_errors: Counter[str] = Counter()
        self.events: list[dict[str, object]] = []
        # Per-step scratch: the calls made so far and whether an InsufficientCidr* error hit.
        self._step_results: list[Ec2Result] = []
        self._step_insufficient = False

    # ------------------------------------------------------------------ joins and leaves
    def join(self, now_s: float) -> None:
        """Launch the instance, attach the trunk (SGP), pre-scale the pool (handlePreScaling)."""
        launch = self.ec2.launch_instance(now_s, self.spec.node_subnet)
        self._log(now_s, "launch", launch)
        if not launch.ok or launch.eni_id is None or launch.primary_ip is None:
            return  # the node subnet is full: the node never comes up
        instance_id = launch.instance_id
        assert instance_id is not None
        self.instance_id = instance_id
        self.joined = True
        self.enis.append(_Eni(launch.eni_id, launch.primary_ip, True, False, now_s))
        if self.config.enable_pod_eni and self.spec.max_enis >= 2:
            # The VPC resource controller attaches the trunk once ipamd says there is room.
            trunk = self.ec2.attach_trunk_eni(now_s, instance_id, self.spec.pod_subnet)
            self._log(now_s, "attach_trunk", trunk)
            if trunk.ok and trunk.eni_id is not None and trunk.primary_ip is not None:
                self.enis.append(_Eni(trunk.eni_id, trunk.primary_ip, False, True, now_s))
        self._begin_step()
        if self.isDatastorePoolTooLow():
            self.increaseDatastorePool(now_s)
        self._end_step(now_s, decreased=False)

    def leave(self, now_s: float) -> list[int]:
        """Terminate the instance: every address returns; returns the pods that were running."""
        pods = sorted([*self.pod_cidr, *self.branch_pods])
        if self.instance_id is not None:
            self._log(now_s, "terminate", self.ec2.terminate_instance(now_s, self.instance_id))
        self.enis.clear()
        self.pod_cidr.clear()
        self.branch_pods.clear()
        self.n_branch_cooling = 0
        self.pending.clear()
        self.joined = False
        self.step_end_s = None
        self.next_step_s = math.inf
        return pods

    # ------------------------------------------------------------------ tick phases 2-5
    def complete(self, now_s: float) -> None:
        """Phase 2: apply the additions of a finished step; the node becomes idle."""
        if self.step_end_s is None or self.step_end_s > now_s:
            return
        for addition in self.pending:
            if addition.new_eni_primary_ip is not None:
                eni = _Eni(addition.eni_id, addition.new_eni_primary_ip, False, False, now_s)
                self.enis.append(eni)
            else:
                found = [e for e in self.enis if e.eni_id == addition.eni_id]
                if not found:
                    continue  # freed by tryFreeENI in the same step; EC2 took the IPs back
                eni = found[0]
            eni.cidrs.extend(_Cidr.new(base, self.cidr_size) for base in addition.bases)
        self.pending.clear()
        self.step_end_s = None

    def unassign_pod(self, pod: int, now_s: float) -> bool:
        """Phase 3 (UnassignPodIPAddress): the pod's address starts its cooldown."""
        if pod not in self.pod_cidr:
            return False
        cidr, offset = self.pod_cidr.pop(pod)
        cidr.pods[offset] = -1
        cidr.cooldown_until_s[offset] = now_s + self.config.ip_cooldown_period_s
        return True

    def assign_pod(
        self, pod: int, now_s: float, placement: Placement, rng: np.random.Generator
    ) -> int | None:
        """Phase 4 (AssignPodIPv4Address): give the pod an eligible address, or None.

        Returns
        -------
        int or None
            The address (uint32 value), None when no address is eligible.
        """
        candidates = [
            eni
            for eni in self.enis
            if any(cidr.first_eligible(now_s) is not None for cidr in eni.cidrs)
        ]
        if not candidates:
            return None
        if placement == "first_fit":
            eni = candidates[0]
        else:
            eni = candidates[int(rng.integers(len(candidates)))]
        cidrs = [cidr for cidr in eni.cidrs if cidr.first_eligible(now_s) is not None]
        cidr = cidrs[0] if placement == "first_fit" else cidrs[int(rng.integers(len(cidrs)))]
        offset = cidr.first_eligible(now_s)
        assert offset is not None
        cidr.pods[offset] = pod
        self.pod_cidr[pod] = (cidr, offset)
        return cidr.base + offset

    # ------------------------------------------------------------------ branch ENIs (SGP)
    def assign_branch_pod(self, pod: int, now_s: float) -> int | None:
        """Phase 4 for an SGP pod: the controller's branch ENI, or None if it cannot be made.

        Returns
        -------
        int or None
            The branch ENI's IP (uint32 value); None without a trunk, at ``max_branch_enis``
            (cooling ENIs count, as in canCreateMore) or when EC2 refuses.
        """
        trunk = next((eni for eni in self.enis if eni.is_trunk), None)
        if trunk is None or len(self.branch_pods) + self.n_branch_cooling >= self.max_branch_enis:
            return None
        assert self.instance_id is not None
        subnet_id = self.ec2.subnet_of(trunk.eni_id)
        result = self.ec2.create_branch_eni(now_s, self.instance_id, subnet_id)
        self._count(now_s, "create_branch_eni", result)
        if not result.ok or result.eni_id is None or result.primary_ip is None:
            return None
        self.branch_pods[pod] = (result.eni_id, result.primary_ip)
        return result.primary_ip

    def release_branch_pod(self, pod: int) -> int | None:
        """Phase 3 for an SGP pod: its branch ENI starts cooling down; returns its id."""
        if pod not in self.branch_pods:
            return None
        eni_id, _ = self.branch_pods.pop(pod)
        self.n_branch_cooling += 1
        return eni_id

    def delete_branch_eni(self, now_s: float, eni_id: int) -> None:
        """Phase 3: delete a cooled-down branch ENI; its IP returns to the subnet."""
        self.n_branch_cooling -= 1
        self._count(now_s, "delete_branch_eni", self.ec2.delete_branch_eni(now_s, eni_id))

    def is_due(self, now_s: float) -> bool:
        """Whether phase 5 runs a pool step now: joined, idle and next_step_s reached."""
        return self.joined and self.step_end_s is None and self.next_step_s <= now_s

    def updateIPPoolIfRequired(self, now_s: float) -> None:
        """Phase 5: one pool step on the state at now_s."""
        self._begin_step()
        stats_avail = self._avail()  # decisions.Stats, taken before any action
        decreased = False
        if self.isDatastorePoolTooLow():
            self.increaseDatastorePool(now_s)
        elif self.isDatastorePoolTooHigh() and now_s - self.last_decrease_s > DECREASE_INTERVAL_S:
            decreased = True
            self.decreaseDatastorePool(now_s)
        if self.shouldRemoveExtraENIs(stats_avail):
            self.tryFreeENI(now_s)
        self._end_step(now_s, decreased=decreased)

    # ------------------------------------------------------------------ datastore stats
    def _total(self) -> int:
        return sum(eni.n_ips() for eni in self.enis)

    def _assigned(self) -> int:
        return len(self.pod_cidr)

    def _avail(self) -> int:
        # data_store.go AvailableAddresses: IPs in cooldown count as available.
        return self._total() - self._assigned()

    def _n_prefixes(self) -> int:
        return sum(len(eni.cidrs) for eni in self.enis) if self.pd else 0

    def _free_prefixes(self) -> int:
        # data_store.go GetFreePrefixes: prefixes with no assigned IP (cooldown ignored).
        if not self.pd:
            return 0
        return sum(1 for eni in self.enis for cidr in eni.cidrs if cidr.n_assigned() == 0)

    def datastoreTargetState(self) -> tuple[int, int]:
        """(short, over) of warm-IP mode, in IPs or, with PD, in prefixes."""
        warm_ip = self.config.warm_ip_target
        minimum_ip = self.config.minimum_ip_target
        total, avail = self._total(), self._avail()
        short = max(warm_ip - avail, 0)
        short = max(short, minimum_ip - total)
        over = max(avail - warm_ip, 0)
        over = max(min(over, total - minimum_ip), 0)
        if not self.pd:
            return short, over
        short_prefixes = _div_ceil(short, IPS_PER_PREFIX)
        needed_for_warm = _div_ceil(self._assigned() + warm_ip, IPS_PER_PREFIX)
        needed_for_min = _div_ceil(minimum_ip, IPS_PER_PREFIX)
        over_prefixes = max(min(self._free_prefixes(), self._n_prefixes() - needed_for_warm), 0)
        over_prefixes = max(min(over_prefixes, self._n_prefixes() - needed_for_min), 0)
        return short_prefixes, over_prefixes

    # ------------------------------------------------------------------ increase
    def isDatastorePoolTooLow(self) -> bool:
        """Whether the pool needs to grow."""
        if self._total() >= self.spec.max_pods:
            return False  # growth stops at max pods (v1.17.1+, PR #2745)
        if self.warm_ip_mode:
            short, _ = self.datastoreTargetState()
            return short > 0
        warm_target = self.config.warm_prefix_target if self.pd else self.config.warm_eni_target
        unit = IPS_PER_PREFIX if self.pd else self.n_slots
        avail = self._avail()
        return avail < unit * warm_target or (warm_target == 0 and avail == 0)

    def _resources_wanted(self) -> int:
        """IPs (secondary) or prefixes (PD) one increase asks for, before the per-ENI cap."""
        if self.pd:
            # ipamd.go getPrefixesNeeded
            if self.warm_ip_mode:
                short, _ = self.datastoreTargetState()
                return max(1, short)
            return max(1, self.config.warm_prefix_target - self._free_prefixes())
        if self.warm_ip_mode:
            short, _ = self.datastoreTargetState()
            return short
        return self.n_slots

    def increaseDatastorePool(self, now_s: float) -> None:
        """Add CIDRs to an existing ENI, else attach one new ENI."""
        if now_s <= self.insufficient_until_s:
            return  # inInsufficientCidrCoolingPeriod
        outcome = self.tryAssignCidrs(now_s)
        if outcome in INSUFFICIENT_CODES:
            self._step_insufficient = True
            return
        if outcome != "nothing":
            return  # added, or failed with another error (no ENI then)
        if self.hasRoomForEni():
            self.tryAllocateENI(now_s)

    def _allocatable_enis(self) -> list[_Eni]:
        # data_store.go GetAllocatableENIs: skip the trunk, and the primary under custom networking.
        return [
            eni
            for eni in self.enis
            if not eni.is_trunk
            and not (eni.is_primary and self.config.custom_network_cfg)
            and len(eni.cidrs) < self.n_slots
        ]

    def tryAssignCidrs(self, now_s: float) -> str:
        """tryAssignIPs / tryAssignPrefixes: "added", "nothing" or the EC2 error code."""
        wanted = self._resources_wanted()
        if wanted == 0:
            return "nothing"  # warm-IP mode and not short: nothing to add
        for eni in self._allocatable_enis():
            n_resources = min(self.n_slots - len(eni.cidrs), wanted)
            result = self._assign(now_s, eni, n_resources)
            if not result.ok:
                result = self._assign(now_s, eni, 1)  # "Try to just get one more"
                if not result.ok:
                    assert result.error is not None
                    if self.config.enable_subnet_discovery and result.error in INSUFFICIENT_CODES:
                        continue
                    return result.error
            self.pending.append(_Addition(eni.eni_id, [int(a) for a in result.addresses]))
            return "added"
        return "nothing"

    def hasRoomForEni(self) -> bool:
        """Whether another ENI may be attached (MAX_ENI, trunk slot reserved under SGP)."""
        has_trunk = any(eni.is_trunk for eni in self.enis)
        trunk_reserve = 1 if self.config.enable_pod_eni and not has_trunk else 0
        return len(self.enis) < self.spec.max_enis - trunk_reserve

    def tryAllocateENI(self, now_s: float) -> None:
        """Create and attach one ENI in the pod subnet, pre-loaded (GetENIResourcesToAllocate)."""
        if self.pd or self.warm_ip_mode:
            n_resources = min(self._resources_wanted(), self.n_slots)
        else:
            n_resources = self.n_slots
        if n_resources <= 0:
            return
        assert self.instance_id is not None
        result = self.ec2.create_and_attach_eni(
            now_s,
            self.instance_id,
            self.spec.pod_subnet,
            n_ips=0 if self.pd else n_resources,
            n_prefixes=n_resources if self.pd else 0,
            subnet_discovery=self.config.enable_subnet_discovery,
        )
        self._record(now_s, "create_eni", result, n_resources)
        if result.ok and result.eni_id is not None and result.primary_ip is not None:
            bases = [int(a) for a in result.addresses]
            self.pending.append(_Addition(result.eni_id, bases, result.primary_ip))
        elif result.error in INSUFFICIENT_CODES:
            self._step_insufficient = True

    # ------------------------------------------------------------------ decrease
    def isDatastorePoolTooHigh(self) -> bool:
        """Whether single IPs or prefixes may be returned (never in warm-ENI mode)."""
        if self.warm_ip_mode:
            _, over = self.datastoreTargetState()
            return over > 0
        if self.pd:
            return self._free_prefixes() > self.config.warm_prefix_target
        return False

    def decreaseDatastorePool(self, now_s: float) -> None:
        """tryUnassignCidrsFromAll: return up to `over` unused CIDRs, one call per ENI."""
        if self.warm_ip_mode:
            _, over = self.datastoreTargetState()
        else:
            over = max(self._free_prefixes() - self.config.warm_prefix_target, 0)
        for eni in self.enis:
            if over <= 0:
                break
            # data_store.go FindFreeableCidrs: no assigned IP; IPs in cooldown may go.
            freeable = [cidr for cidr in eni.cidrs if cidr.n_assigned() == 0][:over]
            if not freeable:
                continue
            for cidr in freeable:
                eni.cidrs.remove(cidr)
            bases = [cidr.base for cidr in freeable]
            if self.pd:
                result = self.ec2.unassign_prefixes(now_s, eni.eni_id, bases)
            else:
                result = self.ec2.unassign_private_ips(now_s, eni.eni_id, bases)
            self._record(now_s, "unassign", result)
            over -= len(freeable)

    # ------------------------------------------------------------------ free an ENI
    def shouldRemoveExtraENIs(self, stats_avail: int) -> bool:
        """Gate of tryFreeENI, on the stats taken at the start of the step."""
        if self.warm_ip_mode:
            return True
        warm_target = self.config.warm_prefix_target if self.pd else self.config.warm_eni_target
        if stats_avail >= (warm_target + 1) * self.max_ips_per_eni:
            return True
        # data_store.go CheckFreeableENIexists
        return self.pd and any(
            not eni.is_primary and not eni.is_trunk and eni.n_assigned() == 0 for eni in self.enis
        )

    def getDeletableENI(self, now_s: float) -> _Eni | None:
        """The first ENI that may be freed now, or None."""
        warm_ip = self.config.warm_ip_target
        minimum_ip = self.config.minimum_ip_target
        if self.pd:
            warm_ip = _div_ceil(warm_ip, IPS_PER_PREFIX) * IPS_PER_PREFIX
            minimum_ip = _div_ceil(minimum_ip, IPS_PER_PREFIX) * IPS_PER_PREFIX
        for eni in self.enis:
            if eni.is_primary:
                continue
            if now_s - eni.created_s < MIN_ENI_LIFETIME_S:
                continue  # isTooYoung
            if any(cidr.n_cooling(now_s) for cidr in eni.cidrs):
                continue  # hasIPInCooling
            if eni.n_assigned() > 0:
                continue  # hasPods
            others = [other for other in self.enis if other is not eni]
            if self.config.warm_ip_target != 0:
                other_free = sum(o.n_ips() - o.n_assigned() for o in others)
                if other_free < warm_ip:
                    continue  # isRequiredForWarmIPTarget
            if self.config.minimum_ip_target != 0 and sum(o.n_ips() for o in others) < minimum_ip:
                continue  # isRequiredForMinimumIPTarget
            if self.pd and self.config.warm_prefix_target != 0:
                other_free_prefixes = sum(
                    1 for o in others for cidr in o.cidrs if cidr.n_assigned() == 0
                )
                if other_free_prefixes < self.config.warm_prefix_target:
                    continue  # isRequiredForWarmPrefixTarget
            if eni.is_trunk:
                continue
            return eni
        return None

    def tryFreeENI(self, now_s: float) -> None:
        """Free at most one ENI (RemoveUnusedENIFromStore, then FreeENI)."""
        eni = self.getDeletableENI(now_s)
        if eni is None:
            return
        self.enis.remove(eni)
        self._record(now_s, "free_eni", self.ec2.free_eni(now_s, eni.eni_id))

    # ------------------------------------------------------------------ metrics
    def metrics(self, now_s: float) -> dict[str, float]:
        """Per-node metrics at now_s (the contract's names)."""
        held = self._total()
        assigned = self._assigned()
        return {
            "enis": len(self.enis),
            "ips_held": held,
            "ips_assigned": assigned,
            "ips_free": held - assigned,
            "ips_cooldown": sum(c.n_cooling(now_s) for e in self.enis for c in e.cidrs),
            "prefixes": self._n_prefixes(),
            "subnet_ips": len(self.enis) + held + len(self.branch_pods) + self.n_branch_cooling,
            "branch_pods": len(self.branch_pods),
        }

    def ips_per_eni(self) -> list[int]:
        """IPs held on each ENI, in ENI order [IPs]."""
        return [eni.n_ips() for eni in self.enis]

    # ------------------------------------------------------------------ internals
    def _assign(self, now_s: float, eni: _Eni, n_resources: int) -> Ec2Result:
        if self.pd:
            result = self.ec2.assign_prefixes(now_s, eni.eni_id, n_resources)
        else:
            result = self.ec2.assign_private_ips(now_s, eni.eni_id, n_resources)
        self._record(now_s, "assign", result, n_resources)
        return result

    def _begin_step(self) -> None:
        self._step_results = []
        self._step_insufficient = False

    def _end_step(self, now_s: float, *, decreased: bool) -> None:
        # ipamd's calls are synchronous: their durations add up.
        end_s = now_s + sum(result.done_s - now_s for result in self._step_results)
        if self._step_results:
            self.step_end_s = end_s
        if self._step_insufficient:
            self.insufficient_until_s = end_s + INSUFFICIENT_CIDR_PAUSE_S
        if decreased:
            self.last_decrease_s = end_s
        self.next_step_s = end_s + self.pool_interval_s

    def _record(self, now_s: float, op: str, result: Ec2Result, n_requested: int = 0) -> None:
        self._step_results.append(result)
        self._count(now_s, op, result, n_requested)

    def _count(self, now_s: float, op: str, result: Ec2Result, n_requested: int = 0) -> None:
        # The controller's branch ENI calls are counted here but are no part of a pool step.
        self.n_calls[op] += 1
        if result.error is not None:
            self.n_call_errors[result.error] += 1
        self._log(now_s, op, result, n_requested)

    def _log(self, now_s: float, op: str, result: Ec2Result, n_requested: int = 0) -> None:
        self.events.append(
            {
                "now_s": now_s,
                "node": self.index,
                "op": op,
                "n_requested": n_requested,
                "n_addresses": int(result.addresses.size),
                "error": result.error,
                "done_s": result.done_s,
            }
        )


def _div_ceil(x: int, y: int) -> int:
    # data_store.go DivCeil
    return (x + y - 1) // y


@dataclass
class ReferenceRun:
    """Output of :func:`run_reference`.

    Attributes
    ----------
    ticks : list of dict
        One row per tick per joined node: ``now_s``, ``node`` and :meth:`ReferenceNode.metrics`.
    events : list of dict
        Pod events (``op`` "add", "add_failed", "del", "add_cancelled") and EC2 operations
        (``op`` "launch", "attach_trunk", "assign", "unassign", "create_eni", "free_eni",
        "terminate", and the controller's "create_branch_eni", "delete_branch_eni"), in the
        order they happened.
    nodes : list of dict
        Final metrics per node plus counters: ``n_adds``, ``n_failed_adds``, ``n_calls_<op>``,
        ``n_errors_<code>``.
    waits_s : dict of int to float
        Wait of each pod that got an address: successful ADD minus scheduled ADD [s].
    reference_nodes : list of ReferenceNode
        The final node objects (datastore inspection in tests).
    snapshots : list of list of dict
        Per requested snapshot time, per node: metrics plus ``ips_per_eni``, taken at the end
        of the first tick with ``now_s >= `` that time.
    """

    ticks: list[dict[str, float]]
    events: list[dict[str, object]]
    nodes: list[dict[str, float]]
    waits_s: dict[int, float]
    reference_nodes: list[ReferenceNode]
    snapshots: list[list[dict[str, object]]]


def run_reference(
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
    record_ticks: bool = True,
    snapshot_s: Sequence[float] = (),
    branch_eni_cooldown_s: float = BRANCH_ENI_COOLDOWN_S,
) -> ReferenceRun:
    """Run the reference ipamd model on a few nodes, tick by tick, per the module contract.

    Parameters
    ----------
    nodes : sequence of NodeSpec
        The nodes; their position is the engine node id used by ``pods``.
    config : IpamdConfig
        aws-node settings (one node group).
    pods : PodEvents
        Pod ADD/DEL schedule; the row order is the event sequence.
    subnet_cidrs : mapping of str to str
        Subnet id -> IPv4 CIDR, for every subnet a NodeSpec names.
    duration_s : float
        Last tick time [s]; ticks run at 0, tick_s, ... <= duration_s.
    seed : int
        Run seed: ``subnet_rng, ec2_rng, placement_rng = default_rng(seed).spawn(3)``.
    tick_s : float
        Tick length [s].
    placement : {"first_fit", "random"}
        Which eligible address a pod gets.
    pod_retry_interval_s : float
        Delay before a failed pod ADD is tried again [s] (kubelet backOffPeriod, 10 s).
    pool_interval_s : float
        Pause between pool steps [s] (ipamd ipPoolMonitorInterval, 5 s).
    join_s, leave_s : sequence of float, optional
        Join time per node (default 0) and leave time (default never) [s].
    ec2_params : Ec2Params, optional
        EC2 latencies and buckets (default: the EC2 model's defaults).
    prepare_space : callable, optional
        Called with the AddressSpace after the subnets are added (reservations, other holders).
    record_ticks : bool
        Whether to keep one metrics row per tick per node.
    snapshot_s : sequence of float
        Times at which to snapshot every node, with its IPs per ENI [s].
    branch_eni_cooldown_s : float
        How long a deleted SGP pod's branch ENI waits before the controller deletes it [s]
        (configmap ``amazon-vpc-cni`` key ``branch-eni-cooldown``: default 60 s; the
        controller raises values below 30 s to 30 s, the model takes the value as given).

    Returns
    -------
    ReferenceRun
        Traces and per-node metrics.

    Raises
    ------
    UsageError
        Bad tick, duration or cool-down, a pod on an unknown node, or IPv6.
    """
    if tick_s <= 0 or duration_s < 0 or branch_eni_cooldown_s < 0:
        raise UsageError(
            "run_reference needs tick_s > 0, duration_s >= 0 and branch_eni_cooldown_s >= 0"
        )
    if len(pods) and int(pods.node.max()) >= len(nodes):
        raise UsageError("a pod is scheduled on a node id that is not in `nodes`")
    subnet_rng, ec2_rng, placement_rng = np.random.default_rng(seed).spawn(3)
    space = AddressSpace(rng=subnet_rng)
    for subnet_id, cidr in subnet_cidrs.items():
        space.add_subnet(subnet_id, cidr)
    if prepare_space is not None:
        prepare_space(space)
    ec2 = Ec2Api(space, ec2_params if ec2_params is not None else Ec2Params(), rng=ec2_rng)
    ref_nodes = [
        ReferenceNode(i, spec, config, ec2, pool_interval_s=pool_interval_s)
        for i, spec in enumerate(nodes)
    ]
    joins = list(join_s) if join_s is not None else [0.0] * len(nodes)
    leaves = list(leave_s) if leave_s is not None else [None] * len(nodes)
    joined = [False] * len(nodes)
    left = [False] * len(nodes)

    # (due time, sequence, pod, node, scheduled ADD time) for ADDs; DELs by row.
    rows = range(len(pods))
    adds = [
        (float(pods.time_s[r]), r, int(pods.pod[r]), int(pods.node[r]), float(pods.time_s[r]))
        for r in rows
        if pods.delta[r] == 1
    ]
    dels = [
        (float(pods.time_s[r]), r, int(pods.pod[r]), int(pods.node[r]))
        for r in rows
        if pods.delta[r] == -1
    ]
    waiting: dict[int, tuple[float, int, int, int, float]] = {}  # pod -> its pending ADD
    is_branch = {int(pods.pod[r]) for r in rows if pods.branch[r]}
    # Branch ENIs of deleted SGP pods: (deletion allowed after [s], node, ENI id), in DEL order.
    cooling: deque[tuple[float, int, int]] = deque()
    i_add = i_del = 0
    events: list[dict[str, object]] = []
    ticks: list[dict[str, float]] = []
    waits_s: dict[int, float] = {}
    n_adds = [0] * len(nodes)
    n_failed = [0] * len(nodes)
    snap_times = sorted(snapshot_s)
    snapshots: list[list[dict[str, object]]] = []
    i_snap = 0

    n_ticks = math.floor(duration_s / tick_s + 1e-9) + 1
    for k in range(n_ticks):
        now_s = k * tick_s
        # 1. joins and leaves
        for i, node in enumerate(ref_nodes):
            if not joined[i] and joins[i] <= now_s:
                joined[i] = True
                node.join(now_s)
            leave_at = leaves[i]
            if joined[i] and not left[i] and leave_at is not None and leave_at <= now_s:
                left[i] = True
                for pod in node.leave(now_s):
                    events.append({"now_s": now_s, "node": i, "op": "pod_gone", "pod": pod})
                for pod in [p for p, entry in waiting.items() if entry[3] == i]:
                    del waiting[pod]
                    events.append({"now_s": now_s, "node": i, "op": "add_cancelled", "pod": pod})
        # 2. completions
        for node in ref_nodes:
            node.complete(now_s)
            events.extend(node.events)  # joins' EC2 operations, in node order
            node.events.clear()
        # 3. cooled-down branch ENIs, then DELs; a DEL also cancels its pod's first ADD when
        # that is due in this tick
        while cooling and now_s > cooling[0][0]:
            _, i, cooled_eni = cooling.popleft()
            if not left[i]:
                ref_nodes[i].delete_branch_eni(now_s, cooled_eni)
        due_adds = set()
        for j in range(i_add, len(adds)):
            if adds[j][0] > now_s:
                break
            due_adds.add(adds[j][2])
        cancelled = set()
        while i_del < len(dels) and dels[i_del][0] <= now_s:
            _, _, pod, i = dels[i_del]
            i_del += 1
            if waiting.pop(pod, None) is not None or (pod in due_adds and not left[i]):
                cancelled.add(pod)
                events.append({"now_s": now_s, "node": i, "op": "add_cancelled", "pod": pod})
            elif ref_nodes[i].unassign_pod(pod, now_s):
                events.append({"now_s": now_s, "node": i, "op": "del", "pod": pod})
            elif (eni_id := ref_nodes[i].release_branch_pod(pod)) is not None:
                cooling.append((now_s + branch_eni_cooldown_s, i, eni_id))
                events.append({"now_s": now_s, "node": i, "op": "del", "pod": pod})
        # 4. ADDs: new ones join the waiting set, then all due are tried in (due, sequence) order
        while i_add < len(adds) and adds[i_add][0] <= now_s:
            entry = adds[i_add]
            i_add += 1
            if not left[entry[3]] and entry[2] not in cancelled:
                waiting[entry[2]] = entry
        for _due_s, seq, pod, i, first_s in sorted(e for e in waiting.values() if e[0] <= now_s):
            node = ref_nodes[i]
            if not node.joined:
                address = None
            elif pod in is_branch:
                address = node.assign_branch_pod(pod, now_s)
                events.extend(node.events)  # the controller's EC2 operation, before the ADD
                node.events.clear()
            else:
                address = node.assign_pod(pod, now_s, placement, placement_rng)
            n_adds[i] += 1
            if address is None:
                n_failed[i] += 1
                waiting[pod] = (now_s + pod_retry_interval_s, seq, pod, i, first_s)
                events.append({"now_s": now_s, "node": i, "op": "add_failed", "pod": pod})
            else:
                del waiting[pod]
                waits_s[pod] = now_s - first_s
                events.append(
                    {"now_s": now_s, "node": i, "op": "add", "pod": pod, "address": address}
                )
        # 5. pool steps
        for node in ref_nodes:
            if node.is_due(now_s):
                node.updateIPPoolIfRequired(now_s)
        for node in ref_nodes:
            events.extend(node.events)
            node.events.clear()
        while i_snap < len(snap_times) and snap_times[i_snap] <= now_s:
            i_snap += 1
            snapshots.append(
                [{**n.metrics(now_s), "ips_per_eni": n.ips_per_eni()} for n in ref_nodes]
            )
        if record_ticks:
            for i, node in enumerate(ref_nodes):
                if node.joined:
                    ticks.append({"now_s": now_s, "node": i, **node.metrics(now_s)})

    final_s = (n_ticks - 1) * tick_s
    summaries: list[dict[str, float]] = []
    for i, node in enumerate(ref_nodes):
        row: dict[str, float] = {"node": i, **node.metrics(final_s)}
        row["n_adds"] = n_adds[i]
        row["n_failed_adds"] = n_failed[i]
        row.update({f"n_calls_{op}": n for op, n in sorted(node.n_calls.items())})
        row.update({f"n_errors_{code}": n for code, n in sorted(node.n_call_errors.items())})
        summaries.append(row)
    return ReferenceRun(ticks, events, summaries, waits_s, ref_nodes, snapshots)
