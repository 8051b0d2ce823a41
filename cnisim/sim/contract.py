"""The tick contract both ipamd engines follow: its types, constants, phase order and names.

The reference model (:mod:`cnisim.sim.ipamd`, the oracle, written for clarity) and the fast
engine (:mod:`cnisim.sim.fastengine`, compiled) each implement this contract on their own and must
give identical results for identical inputs, seeds and World; the agreement tests
(``tests/test_fastengine.py`` and every trace test of ``tests/test_ipamd_reference.py``) hold
them together. Neither imports the other.

The World
---------
Both engines act on a World (:mod:`cnisim.sim.world`): the subnets, the EC2 API model and the
named random streams, built from one seed outside the engines (``subnet``, ``ec2`` and
``placement`` are the first three streams spawned from the seed). Anything else (load
balancers, Fargate pods, the EKS control plane) may take or return subnet addresses between
two ``run_until`` calls, and every EC2 caller shares the account's token buckets.

Tick contract
-------------
Time advances in ticks of ``tick_s`` (default 1 s); an event due at ``t`` happens at the first
tick with ``now_s >= t``. At each tick, in this order (:data:`PHASES`):

1. **Joins and leaves.** For each node due (increasing node id), its join, then its leave.
   A join launches the instance (``launch_instance`` in ``node_subnet``: the primary ENI with
   only its primary IP, the node IP, never given to pods). With ``ENABLE_POD_ENI`` on a
   trunking-compatible type (``NodeSpec.trunking_compatible``) with ``max_enis >= 2``, the
   VPC resource controller's trunk ENI is attached next (``attach_trunk_eni`` in
   ``pod_subnet``; no ipamd call, no pool IPs, never freed; in reality it attaches seconds
   later while ipamd already reserves its slot, so slot counting is the same). Then node-init
   pre-scaling: if ``isDatastorePoolTooLow`` (always on an empty node), one
   ``increaseDatastorePool`` as in a pool step (phase 5); no decrease or free at init. A
   launch that finds the node subnet full fails: the node never comes up and its pods fail
   their ADDs (``node_not_ready``).
   A **leave** (``terminate_instance``) returns every address of the node, branch ENIs
   included (running or cooling down; their queued deletions are dropped); its pods are gone
   (no cooldown); its in-flight step is dropped; its waiting and later pods are never tried.
2. **Completions.** A node whose in-flight step has ``step_end_s <= now_s`` applies its
   additions (IPs/prefixes appended to that ENI's CIDR list in the order EC2 returned them; a
   new ENI appended to the node's ENI list with ``created_s = now_s``) and becomes idle. The
   first time a node's pool holds an address it is **Ready** (``ready_s``; a node is not
   Ready before ipamd has its first IPs, CNI >= 1.5.3).
3. **Branch ENI deletions, then pod DELs.** First every branch ENI whose cool-down is over
   (``now_s > release_s + branch_eni_cooldown_s``, the controller's ``time.Now().After``) is
   deleted (``delete_branch_eni``), in the order the pods were deleted. Then the pod DELs due,
   in (time, sequence) order (sequence = submission order of the DEL): a pool pod's address
   becomes unassigned with ``cooldown_until_s = now_s + IP_COOLDOWN_PERIOD``; a branch pod's
   ENI enters the deletion queue (it keeps its IP and counts against ``max_branch_enis`` until
   deleted). A DEL of a pod still waiting for an address cancels its ADD, and so does a DEL
   whose pod's first ADD is due in this same tick and not yet tried: the pod never starts.
4. **Pod ADDs** due (first attempts and retries) in (due time, sequence of the ADD) order. An
   address is eligible if held, unassigned and not in cooldown (in cooldown while ``now_s <=
   cooldown_until_s``: ipamd's ``time.Since(unassigned) <= period``); only CIDRs of the active
   kind count (/32 secondary IPs, or /28 prefixes in PD).

   - ``"first_fit"``: the lowest ENI (attach order, primary first), then the lowest CIDR
     position on it (the order CIDRs entered the datastore; a released CIDR leaves the list),
     then in a /28 the lowest eligible address.
   - ``"random"`` (Go map order): ``integers(n)`` on the ``placement`` stream over the ENIs
     with an eligible address (in ENI order), then ``integers(m)`` over that ENI's CIDRs with
     an eligible address (in CIDR order), then in a /28 the lowest eligible address. Both
     draws happen even when n or m is 1 (``integers(1)`` takes nothing from the stream); no
     draw when nothing is eligible.

   A **branch pod** (security groups for pods) never touches the datastore and draws nothing
   from ``placement``: its ADD succeeds if the node has its trunk and fewer than
   ``max_branch_enis`` branch ENIs (running plus cooling, the controller's ``canCreateMore``)
   and ``create_branch_eni`` in the trunk's subnet succeeds.

   A failed ADD is counted with its reason (:data:`FAIL_REASONS`) and is due again at ``now_s
   + pod_retry_interval_s`` (10 s: the kubelet pod worker's ``backOffPeriod``; its jitter is
   not modelled). A pod's wait is ``now_s`` of its successful ADD minus its first ADD time;
   pods still waiting at the end report their wait so far.
5. **Pool steps.** Nodes that are idle with ``next_step_s <= now_s`` (increasing node id) run
   ``updateIPPoolIfRequired`` on the state at ``now_s``:

   - ``stats`` = (total, assigned) now; ``avail = total - assigned`` (cooldown counts as
     available);
   - ``if isDatastorePoolTooLow: increaseDatastorePool``
     ``elif isDatastorePoolTooHigh and now_s - last_decrease_s > 30: decreaseDatastorePool``;
   - ``if shouldRemoveExtraENIs(stats): tryFreeENI`` (gate on the stats from the start of
     the step; candidates judged on the datastore after the decrease);
   - if the decrease branch ran, ``last_decrease_s = step_end_s``.

   ipamd's EC2 calls are synchronous: the calls of a step are issued at the tick's ``now_s``
   in ipamd's order, and the step ends at ``step_end_s = now_s + sum(done_s - now_s)``.
   Additions take effect at phase 2 of the first tick with ``now_s >= step_end_s``; releases
   (decrease, free ENI) leave the datastore and the subnet at issue. The node is busy until
   ``step_end_s``; ``next_step_s = step_end_s + pool_interval_s`` (``now_s + 5`` without a
   call). Each step records the node's pool outcome (:data:`POOL_OUTCOMES`), which names the
   reason of later ADDs that find no address.
6. **Sample.** If ``now_s`` reached the next sampling time, every joined node's
   :data:`METRICS` and every subnet's :data:`SUBNET_METRICS`.

Formulas (``S = ipv4_per_eni - 1`` slots per ENI; PD: ``P = S`` prefixes of 16 IPs,
``max_ips_per_eni = 16 P``, else ``S``; ``free_prefixes`` = prefixes with no assigned IP):

- ``isDatastorePoolTooLow``: False if ``total >= max_pods``. Warm-IP mode (WARM_IP_TARGET or
  MINIMUM_IP_TARGET > 0): ``short = max(WARM_IP - avail, MIN - total, 0)`` (PD:
  ``ceil(short / 16)``), low if ``short > 0``. Otherwise, with ``W`` = WARM_ENI_TARGET and
  ``unit = S`` (PD: W = WARM_PREFIX_TARGET, unit = 16): low if ``avail < W * unit`` or
  ``W == 0 and avail == 0``.
- ``increaseDatastorePool``: nothing while ``now_s <= insufficient_until_s``. Then over the
  allocatable ENIs (not the trunk, not the primary under custom networking, fewer than S
  CIDRs) in ENI order: request ``k = min(S - n_cidrs, want)`` with ``want = S``
  (secondary, warm-ENI), ``short`` (secondary, warm-IP; nothing at all if 0), ``max(1,
  short)`` (PD, warm-IP) or ``max(1, WARM_PREFIX - free_prefixes)`` (PD). On an error retry
  the same ENI with 1; if that fails too: with subnet discovery and an InsufficientCidr*
  error go on to the next ENI, otherwise the increase ends (an InsufficientCidr* error
  starts the 120 s pause). The first success ends it. Only if nothing was added and
  ``hasRoomForEni`` (``n_enis < max_enis - trunk_reserve``, trunk_reserve = 1 with
  ENABLE_POD_ENI on a trunking-compatible type while no trunk exists): one
  ``create_and_attach_eni`` pre-loaded with ``S`` IPs (warm-ENI), ``min(short, S)`` IPs
  (warm-IP; nothing if 0) or ``min(want, P)`` prefixes (PD), in ``pod_subnet`` or, with
  subnet discovery and no custom networking, in the best of ``pod_subnet`` and
  ``extra_subnets`` by AvailableIpAddressCount. An InsufficientCidr* error starts the pause:
  ``insufficient_until_s = step_end_s + 120``.
- ``isDatastorePoolTooHigh``: warm-IP secondary ``over = max(min(avail - WARM_IP, total -
  MIN), 0)``; warm-IP PD ``over = max(min(free_prefixes, n_prefixes - ceil((assigned +
  WARM_IP) / 16), n_prefixes - ceil(MIN / 16)), 0)``; PD otherwise ``over = max(free_prefixes
  - WARM_PREFIX, 0)``; warm-ENI mode never (only whole ENIs are freed). High if ``over > 0``.
- ``decreaseDatastorePool``: ENIs in ENI order; on each, its CIDRs with no assigned IP
  (cooldown ignored) in CIDR order, up to the remaining ``over``; one unassign call per ENI
  that gives any.
- ``shouldRemoveExtraENIs``: True in warm-IP mode; else ``avail >= (W + 1) *
  max_ips_per_eni``; in PD also True if a non-primary, non-trunk ENI has no assigned IP.
- ``tryFreeENI``: the first ENI (ENI order) that is not primary, not trunk, ``now_s -
  created_s >= 60``, has no address in cooldown, no assigned IP, and is not required
  (``WARM_IP > 0`` and the other ENIs' unassigned IPs < WARM_IP, PD: rounded up to a multiple
  of 16; ``MIN > 0`` and the other ENIs' IPs < MIN, PD: rounded up; PD and ``WARM_PREFIX >
  0`` and the other ENIs' free prefixes < WARM_PREFIX). One free-ENI operation.

References
----------
aws/amazon-vpc-cni-k8s v1.23.1 ``pkg/ipamd/ipamd.go`` (updateIPPoolIfRequired,
isDatastorePoolTooLow, increaseDatastorePool, tryAssignIPs, tryAssignPrefixes,
getPrefixesNeeded, tryAllocateENI, hasRoomForEni, isDatastorePoolTooHigh,
tryUnassignCidrsFromAll, shouldRemoveExtraENIs, tryFreeENI, handlePreScaling),
``pkg/ipamd/datastore/data_store.go`` (AssignPodIPv4Address, UnassignPodIPAddress,
getDeletableENI, minENILifeTime), ``pkg/awsutils/awsutils.go`` (IsTrunkingCompatible,
createENI); kubernetes ``pkg/kubelet/pod_workers.go`` (backOffPeriod 10 s);
aws/amazon-vpc-resource-controller-k8s ``pkg/provider/branch/trunk/trunk.go`` and
``pkg/provider/branch/cooldown/cooldown.go`` (branch ENI cool-down 60 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "ACTIONS",
    "BRANCH_ENI_COOLDOWN_S",
    "DECREASE_INTERVAL_S",
    "ERROR_CODES",
    "FAIL_REASONS",
    "INSUFFICIENT_CIDR_PAUSE_S",
    "INSUFFICIENT_CODES",
    "IPS_PER_PREFIX",
    "METRICS",
    "MIN_ENI_LIFETIME_S",
    "OPS",
    "OUTCOME_OF_ERROR",
    "PHASES",
    "POD_RETRY_INTERVAL_S",
    "POOL_INTERVAL_S",
    "POOL_OUTCOMES",
    "SUBNET_METRICS",
    "NodeSpec",
    "Placement",
    "first_tick_at",
    "next_sample_s",
]

INSUFFICIENT_CIDR_PAUSE_S: Final = 120.0  # ipamd.go insufficientCidrErrorCooldown
DECREASE_INTERVAL_S: Final = 30.0  # ipamd.go decreaseIPPoolInterval
MIN_ENI_LIFETIME_S: Final = 60.0  # data_store.go minENILifeTime
POOL_INTERVAL_S: Final = 5.0  # ipamd.go ipPoolMonitorInterval
POD_RETRY_INTERVAL_S: Final = 10.0  # kubelet.go backOffPeriod (pod worker retry after an error)
IPS_PER_PREFIX: Final = 16  # data_store.go GetPrefixDelegationDefaults: a /28
BRANCH_ENI_COOLDOWN_S: Final = 60.0  # vpc-resource-controller cooldown.go DefaultCoolDownPeriod

#: The phases of a tick, in order (see the module docstring).
PHASES: Final = ("joins_and_leaves", "completions", "dels", "adds", "pool_steps", "sample")

#: EC2 error codes an operation can end in, in the order the result arrays count them.
ERROR_CODES: Final = (
    "InsufficientFreeAddressesInSubnet",
    "InsufficientCidrBlocks",
    "RequestLimitExceeded",
)
#: Errors that pause ipamd's growth for 120 s (ipamd.go containsInsufficientCIDRsOrSubnetIPs).
INSUFFICIENT_CODES: Final = frozenset(ERROR_CODES[:2])

#: EC2 API actions the model knows, in the order the per-action arrays count them.
ACTIONS: Final = (
    "AssignPrivateIpAddresses",
    "UnassignPrivateIpAddresses",
    "CreateNetworkInterface",
    "DeleteNetworkInterface",
    "ModifyNetworkInterfaceAttribute",
    "AttachNetworkInterface",
    "DetachNetworkInterface",
    "AssociateTrunkInterface",
    "DisassociateTrunkInterface",
    "DescribeSubnets",
    "DescribeNetworkInterfaces",
    "DescribeInstances",
)

#: Per-node metrics of a sample, in column order. ``enis``, ``ips_*`` and ``prefixes`` are
#: the warm pool's (ipamd's datastore; branch pods are not in it); ``branch_pods`` counts
#: running branch pods; ``subnet_ips`` every subnet address the node holds (ENI primaries,
#: pool IPs with 16 per prefix, branch ENIs running or cooling down).
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
#: Per-subnet metrics of a sample: ``AvailableIpAddressCount`` and free aligned /28 blocks.
SUBNET_METRICS: Final = ("n_free_ips", "n_free_prefix_blocks")

#: Operations counted per node: ipamd's, then the VPC resource controller's.
OPS: Final = (
    "assign",
    "unassign",
    "create_eni",
    "free_eni",
    "create_branch_eni",
    "delete_branch_eni",
)

#: What a node's last pool step ran into (the second half of a failed ADD's reason).
POOL_OUTCOMES: Final = (
    "not_tried",  # no pool step has evaluated the pool since the node joined
    "pending",  # the last increase added IPs or prefixes (in flight, or landed and taken)
    "target_met",  # the last step found the warm targets met (no increase asked)
    "max_pods",  # the pool holds max pods IPs: ipamd stops growing (v1.17.1+)
    "max_enis",  # every ENI is full and no ENI slot is left (instance limit or MAX_ENI)
    "subnet_full",  # InsufficientFreeAddressesInSubnet
    "no_free_prefix",  # InsufficientCidrBlocks: no aligned /28 left
    "throttled",  # RequestLimitExceeded after the SDK's retries
)

#: The pool outcome an EC2 error code gives.
OUTCOME_OF_ERROR: Final = {
    "InsufficientFreeAddressesInSubnet": "subnet_full",
    "InsufficientCidrBlocks": "no_free_prefix",
    "RequestLimitExceeded": "throttled",
}

#: Why a pod ADD failed, in the order the result arrays count them.
FAIL_REASONS: Final = (
    "node_not_ready",  # the node has not joined yet, or its launch failed
    "ips_cooling",  # unassigned IPs exist but every one is in its cooldown
    *(f"no_ip_{outcome}" for outcome in POOL_OUTCOMES),  # no unassigned IP, by pool outcome
    "branch_no_trunk",  # security-groups pod on a node without a trunk ENI
    "branch_at_limit",  # the node's branch ENIs (running + cooling) are at the type's limit
    "branch_subnet_full",  # the trunk's subnet has no address for a branch ENI
    "branch_throttled",  # the controller's CreateNetworkInterface/Associate was throttled
)

Placement = Literal["first_fit", "random"]


def first_tick_at(t_s: float, tick_s: float) -> int:
    """Index ``k`` of the first tick with ``k * tick_s >= t_s`` (robust to float division).

    Examples
    --------
    >>> first_tick_at(2.5, 1.0), first_tick_at(1.0, 0.5), first_tick_at(-1.0, 1.0)
    (3, 2, 0)
    """
    if not math.isfinite(t_s):
        return 0 if t_s < 0 else 2**62
    k = max(math.ceil(t_s / tick_s), 0)
    while k > 0 and (k - 1) * tick_s >= t_s:
        k -= 1
    while k * tick_s < t_s:
        k += 1
    return k


def next_sample_s(now_s: float, sample_every_s: float) -> float:
    """The first multiple of ``sample_every_s`` after ``now_s`` (robust to float division)."""
    n_periods = math.floor(now_s / sample_every_s) + 1
    while n_periods * sample_every_s <= now_s:
        n_periods += 1
    return n_periods * sample_every_s


@dataclass(frozen=True)
class NodeSpec:
    """One node as ipamd sees it.

    Positional order is stable (``NodeSpec("m5.large", 3, 10, 29, "subnet-a", "subnet-a")``);
    fields added later come last, with defaults: pass them by keyword.

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
    trunking_compatible : bool
        ``IsTrunkingCompatible``: with ENABLE_POD_ENI, ipamd reserves a trunk slot and the VPC
        resource controller attaches a trunk only on such types (no t-family type is).
    extra_subnets : tuple of str
        Other subnets of the node's AZ that subnet discovery may put new ENIs in (tagged
        ``kubernetes.io/role/cni``); unused under custom networking or without discovery.

    References
    ----------
    aws/amazon-vpc-cni-k8s ``pkg/vpc/vpc_ip_resource_limit.go`` and ``misc/eni-max-pods.txt``
    (m5.large: 3 ENIs x 10 IPv4 -> 3 * (10 - 1) + 2 = 29 max pods), ``pkg/ipamd/ipamd.go``
    hasRoomForEni, ``pkg/awsutils/awsutils.go`` IsTrunkingCompatible and createENI;
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
    trunking_compatible: bool = True
    extra_subnets: tuple[str, ...] = ()

    @property
    def n_slots_per_eni(self) -> int:
        """Secondary IP (or prefix) slots per ENI, S = ipv4_per_eni - 1 [slots]."""
        return self.ipv4_per_eni - 1
