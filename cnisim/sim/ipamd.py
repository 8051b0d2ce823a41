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
   with ``enable_pod_eni`` and ``max_enis >= 2`` the trunk ENI is then created in
   ``node_subnet`` with no secondaries (the VPC resource controller's ENI: no pool IPs, never
   freed, not ipamd's action so the node is not busy; in reality it attaches seconds later,
   while ipamd already reserves its slot, so slot counting is the same); then node-init
   pre-scaling runs: if ``isDatastorePoolTooLow`` (always true on an empty node), one
   ``increaseDatastorePool`` exactly as in a pool step (step 5, "increase"). No decrease or
   free at init. **Leaves**: all addresses of the node return to the subnets, its pods are gone
   (no cooldown), in-flight actions are dropped.
2. **Completions.** Nodes in increasing index: a node whose in-flight step has
   ``step_end_s <= now_s`` applies the step's additions to its datastore (IPs/prefixes on an
   existing ENI are appended to that ENI's CIDR list in the order EC2 returned them; a new ENI
   is appended to the node's ENI list with ``created_s = now_s``) and becomes idle.
3. **Pod DELs** due, in (time, sequence) order, sequence = row of the sorted ``PodEvents``:
   the pod's address becomes unassigned with ``cooldown_until_s = now_s +
   ip_cooldown_period_s``. A DEL of a pod still waiting for an address cancels its ADD.
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
   all are issued to the ``Ec2Api`` with the tick's ``now_s`` in the order below, and the step
   ends at ``step_end_s = now_s + sum(result.done_s - now_s)``. Additions (increase) take effect
   at step 2 of the first tick with ``now_s >= step_end_s``; releases (decrease, free ENI)
   leave the datastore and the subnet at issue. The node is busy until ``step_end_s`` and
   ``next_step_s = step_end_s + pool_interval_s`` (5 s; ``now_s + 5`` when no call was made).
   A failure known at issue shapes the rest of the step (the Ec2Api result carries it).

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
  one create-and-attach in ``pod_subnet`` pre-loaded with ``S`` IPs (warm-ENI),
  ``min(short, S)`` IPs (warm-IP; nothing if 0) or ``min(want, P)`` prefixes (PD); an
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
  node-init failure when custom networking leaves the pool empty, kubelet retry jitter, and
  SGP branch-ENI pods (pods here always take a pool IP; branch ENIs use subnet IPs outside the
  warm pool and are not counted).
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
(backOffPeriod 10 s, workerBackOffPeriodJitterFactor 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NodeSpec"]


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

    References
    ----------
    aws/amazon-vpc-cni-k8s ``pkg/vpc/vpc_ip_resource_limit.go`` and ``misc/eni-max-pods.txt``
    (m5.large: 3 ENIs x 10 IPv4 -> 3 * (10 - 1) + 2 = 29 max pods).

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

    @property
    def n_slots_per_eni(self) -> int:
        """Secondary IP (or prefix) slots per ENI, S = ipv4_per_eni - 1 [slots]."""
        return self.ipv4_per_eni - 1
