"""Scalar REFERENCE model of ipamd's warm pool: the oracle of the fast engine.

Written for clarity, not speed: one ipamd decision per line, named after ipamd's functions,
on the plain World (:class:`cnisim.sim.world.PlainWorld`). It follows the tick contract of
:mod:`cnisim.sim.contract`, which the fast engine (:mod:`cnisim.sim.fastengine`) follows too; the
two are written independently and held together by the agreement tests.

:class:`ReferenceEngine` is the driver interface (add and remove nodes, submit pods at any
time, ``peek_s``, ``run_until``, ``result``), the same as the fast engine's;
:func:`run_reference` runs one node group to the end and keeps a full trace for tests.

Differences from the real CNI (documented simplifications)
-------------------------------------------------------
- Go map order decides which ENI/CIDR ipamd fills, releases or frees; here it is ENI order
  then CIDR order. Pod placement can be random (see the contract). In a /28 ipamd reuses a
  cooled-down address (map order) before the lowest never-used one; here always the lowest
  eligible.
- All calls of a step hit the EC2 token buckets at the tick's ``now_s``; their latencies add
  up for the node. Additions enter the pool at the end of the step, not at their own call's
  return; the pause and ``last_decrease_s`` are stamped with ``step_end_s``.
- Not modelled: the IMDS/EC2 reconcile loop, PrivateIpAddressLimitExceeded, aws-node restarts
  (ENI age resets), unschedulable nodes, multiple network cards, EFA, IPv6 (no warm pool),
  subnets tagged ``kubernetes.io/role/cni=0`` (the candidates are given), the node-init
  failure when custom networking leaves the pool empty, and kubelet retry jitter.
- Security groups for pods: the controller's latency is not modelled (a branch pod gets its
  IP at its ADD tick, though the calls' ``done_s`` is later), nor its requeue after
  ``ErrCurrentlyAtMaxCapacity`` (the pod retries every ``pod_retry_interval_s`` instead), nor
  its delete job's 30 s period (an ENI is deleted at the first tick after its cool-down), nor
  a deletion that fails and is retried (the IP returns at once). A failed association
  deletes the new ENI at once. Branch pods use one branch ENI each.
- A release call that EC2 refuses (throttled) still leaves the datastore, as in ipamd (which
  logs a warning); the reconcile that would re-add leaked addresses is not modelled.

References
----------
aws/amazon-vpc-cni-k8s v1.23.1 ``pkg/ipamd/ipamd.go``, ``pkg/ipamd/datastore/data_store.go``,
``pkg/awsutils/awsutils.go``; aws/amazon-vpc-resource-controller-k8s
``pkg/provider/branch/trunk/trunk.go``; the functions and constants each rule comes from are
listed in :mod:`cnisim.sim.contract`.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from cnisim.cni import IpamdConfig
from cnisim.errors import UsageError
from cnisim.sim.contract import (
    BRANCH_ENI_COOLDOWN_S,
    DECREASE_INTERVAL_S,
    ERROR_CODES,
    FAIL_REASONS,
    INSUFFICIENT_CIDR_PAUSE_S,
    INSUFFICIENT_CODES,
    IPS_PER_PREFIX,
    METRICS,
    MIN_ENI_LIFETIME_S,
    OPS,
    OUTCOME_OF_ERROR,
    POD_RETRY_INTERVAL_S,
    POOL_INTERVAL_S,
    SUBNET_METRICS,
    NodeSpec,
    Placement,
    next_sample_s,
)
from cnisim.sim.drive import (
    check_engine_options,
    check_node_ids,
    check_node_specs,
    check_pod_batch,
    drive_one_group,
)
from cnisim.sim.ec2 import REQUEST_LIMIT_EXCEEDED, Ec2Api, Ec2Params, Ec2Result
from cnisim.sim.records import POD_OUTCOMES, SimResult, first_failures
from cnisim.sim.workload import PodEvents
from cnisim.sim.world import PlainWorld

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
    "ReferenceEngine",
    "ReferenceNode",
    "ReferenceRun",
    "run_reference",
]

_OUTCOME_OF_ERROR = OUTCOME_OF_ERROR


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
        # hasRoomForEni and the VPC resource controller: a trunk only on trunking types.
        self.trunking = config.enable_pod_eni and spec.trunking_compatible
        self.branch_pods: dict[int, tuple[int, int]] = {}  # pod -> (branch ENI id, address)
        self.n_branch_cooling = 0  # branch ENIs of deleted pods still in the deletion queue
        self.next_step_s = math.inf
        self.step_end_s: float | None = None  # set while a step's calls are in flight
        self.ready_s: float | None = None  # when the pool first held an address
        self.pool_outcome = "not_tried"  # POOL_OUTCOMES: what the last pool step ran into
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
        if self.trunking and self.spec.max_enis >= 2:
            # The VPC resource controller attaches the trunk once ipamd says there is room.
            trunk = self.ec2.attach_trunk_eni(now_s, instance_id, self.spec.pod_subnet)
            self._log(now_s, "attach_trunk", trunk)
            if trunk.ok and trunk.eni_id is not None and trunk.primary_ip is not None:
                self.enis.append(_Eni(trunk.eni_id, trunk.primary_ip, False, True, now_s))
        self._begin_step()
        if self._pool_low():
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
        if self.ready_s is None and self._total() > 0:
            self.ready_s = now_s

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
            The address (uint32 value), None when no address is eligible (then
            :meth:`fail_reason` says why).
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

    def fail_reason(self) -> str:
        """Why a pool pod's ADD found no eligible address (a name in FAIL_REASONS)."""
        if not self.joined:
            return "node_not_ready"
        if self._avail() > 0:
            return "ips_cooling"  # unassigned addresses exist, all in their cooldown
        return f"no_ip_{self.pool_outcome}"

    # ------------------------------------------------------------------ branch ENIs (SGP)
    def assign_branch_pod(self, pod: int, now_s: float) -> int | str:
        """Phase 4 for an SGP pod: the controller's branch ENI, or why it cannot be made.

        Returns
        -------
        int or str
            The branch ENI's IP (uint32 value), or the failure reason: ``node_not_ready``,
            ``branch_no_trunk``, ``branch_at_limit`` (cooling ENIs count, as in
            canCreateMore), ``branch_subnet_full`` or ``branch_throttled``.
        """
        if not self.joined:
            return "node_not_ready"
        trunk = next((eni for eni in self.enis if eni.is_trunk), None)
        if trunk is None:
            return "branch_no_trunk"
        if len(self.branch_pods) + self.n_branch_cooling >= self.max_branch_enis:
            return "branch_at_limit"
        assert self.instance_id is not None
        subnet_id = self.ec2.subnet_of(trunk.eni_id)
        result = self.ec2.create_branch_eni(now_s, self.instance_id, subnet_id)
        self._count(now_s, "create_branch_eni", result)
        if not result.ok or result.eni_id is None or result.primary_ip is None:
            return (
                "branch_throttled"
                if result.error == REQUEST_LIMIT_EXCEEDED
                else "branch_subnet_full"
            )
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
        if self._pool_low():
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
    def _pool_low(self) -> bool:
        """isDatastorePoolTooLow, recording the pool outcome when it is not low."""
        if self._total() >= self.spec.max_pods:
            self.pool_outcome = "max_pods"
            return False
        if not self.isDatastorePoolTooLow():
            self.pool_outcome = "target_met"
            return False
        return True

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
        """Add CIDRs to an existing ENI, else attach one new ENI; record the pool outcome.

        The outcome is ``pending`` if something was added, else the code of the last EC2
        error of the increase, else ``max_enis`` (nothing to fill and no ENI slot). During the
        120 s pause it keeps the error that started the pause.
        """
        if now_s <= self.insufficient_until_s:
            return  # inInsufficientCidrCoolingPeriod
        n_calls = len(self._step_results)
        outcome = self.tryAssignCidrs(now_s)
        if outcome in INSUFFICIENT_CODES:
            self._step_insufficient = True
        elif outcome == "nothing" and self.hasRoomForEni():
            self.tryAllocateENI(now_s)
        errors = [r.error for r in self._step_results[n_calls:] if r.error is not None]
        if self.pending:
            self.pool_outcome = "pending"
        elif errors:
            self.pool_outcome = _OUTCOME_OF_ERROR[errors[-1]]
        else:
            self.pool_outcome = "max_enis"

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
        """Whether another ENI may be attached (MAX_ENI; a trunk slot reserved under SGP on a
        trunking-compatible type until the trunk is there)."""
        has_trunk = any(eni.is_trunk for eni in self.enis)
        trunk_reserve = 1 if self.trunking and not has_trunk else 0
        return len(self.enis) < self.spec.max_enis - trunk_reserve

    def tryAllocateENI(self, now_s: float) -> None:
        """Create and attach one ENI, pre-loaded (GetENIResourcesToAllocate).

        In the pod subnet or, with subnet discovery, the best of it and the extra subnets.
        """
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
            [self.spec.pod_subnet, *self.spec.extra_subnets],
            n_ips=0 if self.pd else n_resources,
            n_prefixes=n_resources if self.pd else 0,
            subnet_discovery=self.config.enable_subnet_discovery,
            custom_networking=self.config.custom_network_cfg,
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


class ReferenceEngine:
    """The reference model as a driver: nodes, pods and ticks on a :class:`PlainWorld`.

    Parameters
    ----------
    world : PlainWorld, optional
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
        How long a deleted SGP pod's branch ENI waits before the controller deletes it [s]
        (configmap ``amazon-vpc-cni`` key ``branch-eni-cooldown``: default 60 s; the
        controller raises values below 30 s to 30 s, the model takes the value as given).
    record_ticks : bool
        Keep one metrics row per tick per joined node in :attr:`ticks` (for trace tests).
    snapshot_s : sequence of float
        Times at which to snapshot every node with its IPs per ENI [s].

    Notes
    -----
    Events submitted for a time already past are due at the next tick. Pod ids are unique
    across the run; the sequence of an event is its order of submission.
    """

    def __init__(
        self,
        world: PlainWorld | None = None,
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
        record_ticks: bool = False,
        snapshot_s: Sequence[float] = (),
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
            world = PlainWorld(subnet_cidrs or {}, seed=seed, ec2_params=ec2_params)
        self.world = world
        self.tick_s = float(tick_s)
        self.placement: Placement = placement
        self.pod_retry_interval_s = float(pod_retry_interval_s)
        self.pool_interval_s = float(pool_interval_s)
        self.sample_every_s = float(sample_every_s)
        self.branch_eni_cooldown_s = float(branch_eni_cooldown_s)
        self.record_ticks = record_ticks
        self.nodes: list[ReferenceNode] = []
        self._join_due_s: list[float] = []
        self._leave_due_s: list[float] = []
        self._join_s: list[float] = []  # when each node joined (tick time), NaN before
        self._leave_s: list[float] = []
        self._joined: list[bool] = []
        self._left: list[bool] = []
        self._n_adds: list[int] = []
        self._n_failed: list[int] = []
        self._failed_by_reason: list[Counter[str]] = []
        # pods
        self._seq = 0
        self._pod_node: dict[int, int] = {}
        self._pod_first_s: dict[int, float] = {}
        self._pod_branch: set[int] = set()
        self._pod_state: dict[int, str] = {}  # new, waiting, running, done
        self._pod_outcome: dict[int, str] = {}  # POD_OUTCOMES once due
        self._pod_wait_s: dict[int, float] = {}
        self._pod_n_failed: Counter[int] = Counter()
        self._pod_last_reason: dict[int, str] = {}
        self._pod_deleted: set[int] = set()
        self._add_heap: list[tuple[float, int, int]] = []  # first ADDs: (time, sequence, pod)
        self._del_heap: list[tuple[float, int, int]] = []
        self._waiting: dict[int, tuple[float, int, int, int, float]] = {}
        # branch ENIs of deleted SGP pods: (deletion allowed after [s], node, ENI id)
        self._cooling: deque[tuple[float, int, int]] = deque()
        self._k_next = 0
        self.n_ticks = 0
        self.n_node_steps = 0
        # traces and samples
        self.events: list[dict[str, object]] = []
        self.ticks: list[dict[str, float]] = []
        self.snapshots: list[list[dict[str, object]]] = []
        self._snap_times = sorted(snapshot_s)
        self._i_snap = 0
        self._next_sample_s = 0.0
        self._sample_rows: list[tuple[float, int, list[int]]] = []
        self._subnet_rows: list[tuple[float, list[list[int]]]] = []

    # ================================================================== driver interface
    @property
    def n_nodes(self) -> int:
        """Nodes added so far (ids 0 .. n_nodes - 1)."""
        return len(self.nodes)

    @property
    def now_s(self) -> float:
        """Time of the last tick run [s] (-tick_s before the first)."""
        return (self._k_next - 1) * self.tick_s

    def add_nodes(self, specs: Sequence[NodeSpec], config: IpamdConfig, now_s: float) -> np.ndarray:
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
        first = len(self.nodes)
        for offset, spec in enumerate(specs):
            node = ReferenceNode(
                first + offset, spec, config, self.world.ec2, pool_interval_s=self.pool_interval_s
            )
            self.nodes.append(node)
            self._join_due_s.append(float(now_s))
            self._leave_due_s.append(math.inf)
            self._join_s.append(math.nan)
            self._leave_s.append(math.nan)
            self._joined.append(False)
            self._left.append(False)
            self._n_adds.append(0)
            self._n_failed.append(0)
            self._failed_by_reason.append(Counter())
        return np.arange(first, len(self.nodes), dtype=np.int64)

    def remove_nodes(self, ids: ArrayLike, now_s: float) -> None:
        """Terminate nodes at the first tick at or after ``now_s`` (addresses return, pods go).

        Raises
        ------
        UsageError
            An unknown node id, or a leave before the node's join.
        """
        for i in check_node_ids(ids, len(self.nodes)):
            if self._left[i]:
                continue
            if not self._joined[i] and now_s < self._join_due_s[i]:
                raise UsageError(
                    f"node {i} would leave at {now_s} s before it joins at "
                    f"{self._join_due_s[i]} s: remove nodes after their join"
                )
            self._leave_due_s[i] = min(self._leave_due_s[i], float(now_s))

    def submit_pods(self, events: PodEvents) -> None:
        """Queue pod ADDs and DELs (each pod's DEL after its ADD); sequence = row order."""
        check_pod_batch(events.node, len(self.nodes))
        for r in range(len(events)):
            pod, t_s = int(events.pod[r]), float(events.time_s[r])
            if events.delta[r] == 1:
                self._queue_add(t_s, int(events.node[r]), pod, bool(events.branch[r]))
            else:
                self._queue_del(t_s, pod)

    def delete_pods(self, time_s: ArrayLike, pods: ArrayLike) -> None:
        """Queue DELs of pods submitted earlier (sequence = order given)."""
        times = np.atleast_1d(np.asarray(time_s, dtype=np.float64))
        pod_ids = np.atleast_1d(np.asarray(pods, dtype=np.int64))
        times = np.broadcast_to(times, pod_ids.shape)
        for t_s, pod in zip(times.tolist(), pod_ids.tolist(), strict=True):
            self._queue_del(t_s, pod)

    def peek_s(self) -> float:
        """The earliest time anything is due (a join or leave, a completion, a pod event, a
        pool step, a branch ENI deletion or a sample) [s]."""
        times = [self._next_sample_s]
        for i in range(len(self.nodes)):
            times += self._node_due_s(i)
        if self._add_heap:
            times.append(self._add_heap[0][0])
        if self._del_heap:
            times.append(self._del_heap[0][0])
        times.extend(entry[0] for entry in self._waiting.values())
        if self._cooling:
            times.append(self._cooling[0][0])
        return max(min(times), self._k_next * self.tick_s)

    def _node_due_s(self, i: int) -> list[float]:
        """When node ``i`` next joins, leaves, completes a step or steps [s]."""
        node = self.nodes[i]
        if not self._joined[i]:
            return [self._join_due_s[i]]
        if self._left[i]:
            return []
        if node.step_end_s is not None:
            return [self._leave_due_s[i], node.step_end_s]
        return [self._leave_due_s[i], node.next_step_s] if node.joined else [self._leave_due_s[i]]

    def peek_nodes_s(self, ids: ArrayLike) -> float:
        """The earliest time any of nodes ``ids`` joins, leaves, completes a step or steps
        (what can make a node join, fail to launch or become Ready) [s]."""
        nodes = check_node_ids(ids, len(self.nodes), "peek_nodes_s")
        times = [t for i in nodes for t in self._node_due_s(i)]
        return max(min(times, default=math.inf), self._k_next * self.tick_s)

    def run_until(self, until_s: float) -> None:
        """Run every tick with ``now_s <= until_s``."""
        if not math.isfinite(until_s):
            raise UsageError(f"run_until needs a finite time, not {until_s}")
        k_last = math.floor(until_s / self.tick_s + 1e-9)
        while self._k_next <= k_last:
            self._tick(self._k_next * self.tick_s)
            self._k_next += 1
            self.n_ticks += 1

    def metrics(self, now_s: float | None = None) -> dict[str, np.ndarray]:
        """Per-node metrics (every node id; zeros for nodes not joined) at ``now_s``."""
        t_s = self.now_s if now_s is None else now_s
        rows = [_metric_row(node, t_s) for node in self.nodes]
        matrix = np.array(rows, dtype=np.int64).reshape(len(rows), len(METRICS))
        return {name: matrix[:, j] for j, name in enumerate(METRICS)}

    def node_samples(self, since_s: float) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """The node samples taken at or after ``since_s``: times [s], nodes and metrics, as
        :meth:`result` has them."""
        first = bisect.bisect_left([row[0] for row in self._sample_rows], since_s)
        rows = self._sample_rows[first:]
        matrix = np.array([row[2] for row in rows], dtype=np.int64).reshape(len(rows), len(METRICS))
        return (
            np.array([row[0] for row in rows], dtype=np.float64),
            np.array([row[1] for row in rows], dtype=np.int64),
            {name: matrix[:, j].copy() for j, name in enumerate(METRICS)},
        )

    def node_status(self) -> dict[str, np.ndarray]:
        """Per node: ``joined``, ``ready`` (its pool held an address), ``gone``,
        ``launch_failed``."""
        return {
            "joined": np.array([n.joined for n in self.nodes], dtype=bool),
            "ready": np.array([n.joined and n.ready_s is not None for n in self.nodes], dtype=bool),
            "gone": np.array(self._left, dtype=bool),
            "launch_failed": np.array(
                [
                    j and n.instance_id is None
                    for j, n in zip(self._joined, self.nodes, strict=True)
                ],
                dtype=bool,
            ),
        }

    def pods_running(self, pods: ArrayLike) -> np.ndarray:
        """Per pod: its ADD got an address (or branch ENI) and it has not been deleted."""
        ids = np.asarray(pods, dtype=np.int64).ravel().tolist()
        return np.array([self._pod_state.get(p) == "running" for p in ids], dtype=bool)

    def result(self) -> SimResult:
        """Everything recorded so far, in the shared schema."""
        end_s = self.now_s
        n = len(self.nodes)
        n_metrics = len(METRICS)
        sample = np.array([row[2] for row in self._sample_rows], dtype=np.int64).reshape(
            -1, n_metrics
        )
        subnet_ids = tuple(self.world.subnet_ids())
        subnet_matrix = np.array([row[1] for row in self._subnet_rows], dtype=np.int64).reshape(
            -1, len(subnet_ids), len(SUBNET_METRICS)
        )
        pods = sorted(self._pod_outcome)
        outcome_index = {name: i for i, name in enumerate(POD_OUTCOMES)}
        reason_index = {name: i for i, name in enumerate(FAIL_REASONS)}
        wait_s = []
        for pod in pods:
            if self._pod_outcome[pod] == "waiting":
                wait_s.append(end_s - self._pod_first_s[pod])
            else:
                wait_s.append(self._pod_wait_s[pod])
        calls, throttled = self.world.calls_per_minute()
        return SimResult(
            sample_s=np.array([row[0] for row in self._sample_rows], dtype=np.float64),
            sample_node=np.array([row[1] for row in self._sample_rows], dtype=np.int64),
            samples={name: sample[:, j].copy() for j, name in enumerate(METRICS)},
            subnet_ids=subnet_ids,
            subnet_sample_s=np.array([row[0] for row in self._subnet_rows], dtype=np.float64),
            subnet_samples={
                name: subnet_matrix[:, :, j].copy() for j, name in enumerate(SUBNET_METRICS)
            },
            subnet_exhausted_at_s=first_failures(self.world, subnet_ids, ERROR_CODES[0]),
            subnet_prefix_exhausted_at_s=first_failures(self.world, subnet_ids, ERROR_CODES[1]),
            node_join_s=np.array(self._join_s, dtype=np.float64),
            node_ready_s=np.array(
                [math.nan if node.ready_s is None else node.ready_s for node in self.nodes],
                dtype=np.float64,
            ),
            node_leave_s=np.array(self._leave_s, dtype=np.float64),
            node_launch_failed=self.node_status()["launch_failed"],
            n_adds=np.array(self._n_adds, dtype=np.int64),
            n_failed_adds=np.array(self._n_failed, dtype=np.int64),
            n_failed_by_reason=np.array(
                [[c[r] for r in FAIL_REASONS] for c in self._failed_by_reason], dtype=np.int64
            ).reshape(n, len(FAIL_REASONS)),
            n_calls=np.array(
                [[node.n_calls[op] for op in OPS] for node in self.nodes], dtype=np.int64
            ).reshape(n, len(OPS)),
            n_errors=np.array(
                [[node.n_call_errors[code] for code in ERROR_CODES] for node in self.nodes],
                dtype=np.int64,
            ).reshape(n, len(ERROR_CODES)),
            n_calls_by_action=self.world.n_calls_by_action(),
            n_throttled_by_action=self.world.n_throttled_by_action(),
            calls_per_minute=calls,
            throttled_per_minute=throttled,
            pod_ids=np.array(pods, dtype=np.int64),
            pod_node=np.array([self._pod_node[p] for p in pods], dtype=np.int64),
            pod_outcome=np.array([outcome_index[self._pod_outcome[p]] for p in pods], np.int8),
            wait_s=np.array(wait_s, dtype=np.float64),
            pod_n_failed_adds=np.array([self._pod_n_failed[p] for p in pods], dtype=np.int64),
            pod_last_reason=np.array(
                [reason_index.get(self._pod_last_reason.get(p, ""), -1) for p in pods], np.int8
            ),
            n_ticks=self.n_ticks,
            n_node_steps=self.n_node_steps,
            end_s=end_s,
        )

    # ================================================================== queues
    def _queue_add(self, t_s: float, node: int, pod: int, branch: bool) -> None:
        if pod in self._pod_node:
            raise UsageError(f"pod {pod} was already submitted: give every pod its own id")
        self._pod_node[pod] = node
        self._pod_first_s[pod] = t_s
        self._pod_state[pod] = "new"
        if branch:
            self._pod_branch.add(pod)
        heapq.heappush(self._add_heap, (t_s, self._seq, pod))
        self._seq += 1

    def _queue_del(self, t_s: float, pod: int) -> None:
        if pod not in self._pod_node:
            raise UsageError(f"pod {pod} is deleted but was never added: submit its ADD first")
        if pod in self._pod_deleted:
            raise UsageError(f"pod {pod} is deleted twice: give each pod at most one DEL")
        if not math.isfinite(t_s) or t_s < self._pod_first_s[pod]:
            raise UsageError(
                f"pod {pod} is deleted at {t_s} s, before its ADD at {self._pod_first_s[pod]} s"
            )
        self._pod_deleted.add(pod)
        heapq.heappush(self._del_heap, (t_s, self._seq, pod))
        self._seq += 1

    def _finish(self, pod: int, outcome: str, wait_s: float) -> None:
        self._pod_state[pod] = "done"
        self._pod_outcome[pod] = outcome
        self._pod_wait_s[pod] = wait_s

    # ================================================================== the tick
    def _tick(self, now_s: float) -> None:
        # 1. joins and leaves
        for i, node in enumerate(self.nodes):
            if not self._joined[i] and self._join_due_s[i] <= now_s:
                self._joined[i] = True
                self._join_s[i] = now_s
                node.join(now_s)
            if self._joined[i] and not self._left[i] and self._leave_due_s[i] <= now_s:
                self._left[i] = True
                self._leave_s[i] = now_s
                for pod in node.leave(now_s):
                    self._pod_state[pod] = "done"
                    self.events.append({"now_s": now_s, "node": i, "op": "pod_gone", "pod": pod})
                for pod in [p for p, entry in self._waiting.items() if entry[3] == i]:
                    del self._waiting[pod]
                    self._finish(pod, "dropped", now_s - self._pod_first_s[pod])
                    self.events.append(
                        {"now_s": now_s, "node": i, "op": "add_cancelled", "pod": pod}
                    )
        # 2. completions
        for node in self.nodes:
            node.complete(now_s)
            self.events.extend(node.events)  # joins' EC2 operations, in node order
            node.events.clear()
        # 3. cooled-down branch ENIs, then DELs (a DEL also cancels its pod's first ADD when
        # that is due in this tick and not yet tried)
        while self._cooling and now_s > self._cooling[0][0]:
            _, i, cooled_eni = self._cooling.popleft()
            if not self._left[i]:
                self.nodes[i].delete_branch_eni(now_s, cooled_eni)
        while self._del_heap and self._del_heap[0][0] <= now_s:
            _, _, pod = heapq.heappop(self._del_heap)
            i = self._pod_node[pod]
            state = self._pod_state[pod]
            if state == "waiting" or (state == "new" and not self._left[i]):
                self._waiting.pop(pod, None)
                wait_s = now_s - self._pod_first_s[pod] if state == "waiting" else 0.0
                self._finish(pod, "cancelled", wait_s)
                self.events.append({"now_s": now_s, "node": i, "op": "add_cancelled", "pod": pod})
            elif state == "running" and self.nodes[i].unassign_pod(pod, now_s):
                self._pod_state[pod] = "done"
                self.events.append({"now_s": now_s, "node": i, "op": "del", "pod": pod})
            elif state == "running" and (eni := self.nodes[i].release_branch_pod(pod)) is not None:
                self._pod_state[pod] = "done"
                self._cooling.append((now_s + self.branch_eni_cooldown_s, i, eni))
                self.events.append({"now_s": now_s, "node": i, "op": "del", "pod": pod})
        # 4. ADDs: new ones join the waiting set, then all due are tried in (due, sequence) order
        while self._add_heap and self._add_heap[0][0] <= now_s:
            t_s, seq, pod = heapq.heappop(self._add_heap)
            if self._pod_state[pod] != "new":
                continue  # cancelled by its DEL
            i = self._pod_node[pod]
            if self._left[i]:
                self._finish(pod, "dropped", 0.0)  # its node is gone: never tried
                continue
            self._pod_state[pod] = "waiting"
            self._pod_outcome[pod] = "waiting"
            self._waiting[pod] = (t_s, seq, pod, i, t_s)
        for _due_s, seq, pod, i, first_s in sorted(
            e for e in self._waiting.values() if e[0] <= now_s
        ):
            node = self.nodes[i]
            if pod in self._pod_branch:
                got = node.assign_branch_pod(pod, now_s)
                self.events.extend(node.events)  # the controller's EC2 operation, before the ADD
                node.events.clear()
                address, reason = (got, "") if isinstance(got, int) else (None, got)
            else:
                address = node.assign_pod(pod, now_s, self.placement, self.world.placement_rng)
                reason = "" if address is not None else node.fail_reason()
            self._n_adds[i] += 1
            if address is None:
                self._n_failed[i] += 1
                self._failed_by_reason[i][reason] += 1
                self._pod_n_failed[pod] += 1
                self._pod_last_reason[pod] = reason
                self._waiting[pod] = (now_s + self.pod_retry_interval_s, seq, pod, i, first_s)
                self.events.append({"now_s": now_s, "node": i, "op": "add_failed", "pod": pod})
            else:
                del self._waiting[pod]
                self._pod_state[pod] = "running"
                self._pod_outcome[pod] = "placed"
                self._pod_wait_s[pod] = now_s - first_s
                self.events.append(
                    {"now_s": now_s, "node": i, "op": "add", "pod": pod, "address": address}
                )
        # 5. pool steps
        for node in self.nodes:
            if node.is_due(now_s):
                self.n_node_steps += 1
                node.updateIPPoolIfRequired(now_s)
        for node in self.nodes:
            self.events.extend(node.events)
            node.events.clear()
        # 6. snapshots, tick rows and samples
        while self._i_snap < len(self._snap_times) and self._snap_times[self._i_snap] <= now_s:
            self._i_snap += 1
            self.snapshots.append(
                [{**n.metrics(now_s), "ips_per_eni": n.ips_per_eni()} for n in self.nodes]
            )
        if self.record_ticks:
            for i, node in enumerate(self.nodes):
                if node.joined:
                    self.ticks.append({"now_s": now_s, "node": i, **node.metrics(now_s)})
        if now_s >= self._next_sample_s:
            for i, node in enumerate(self.nodes):
                if node.joined:
                    self._sample_rows.append((now_s, i, _metric_row(node, now_s)))
            self._subnet_rows.append(
                (
                    now_s,
                    [
                        [
                            self.world.available_ip_address_count(s),
                            self.world.n_free_prefix_blocks(s),
                        ]
                        for s in self.world.subnet_ids()
                    ],
                )
            )
            self._next_sample_s = next_sample_s(now_s, self.sample_every_s)


def _metric_row(node: ReferenceNode, now_s: float) -> list[int]:
    if not node.joined:
        return [0] * len(METRICS)
    values = node.metrics(now_s)
    return [int(values[name]) for name in METRICS]


@dataclass
class ReferenceRun:
    """Output of :func:`run_reference`.

    Attributes
    ----------
    ticks : list of dict
        One row per tick per joined node: ``now_s``, ``node`` and :meth:`ReferenceNode.metrics`.
    events : list of dict
        Pod events (``op`` "add", "add_failed", "del", "add_cancelled", "pod_gone") and EC2
        operations (``op`` "launch", "attach_trunk", "assign", "unassign", "create_eni",
        "free_eni", "terminate", and the controller's "create_branch_eni",
        "delete_branch_eni"), in the order they happened.
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
    result : SimResult
        The run in the schema both engines share.
    """

    ticks: list[dict[str, float]]
    events: list[dict[str, object]]
    nodes: list[dict[str, float]]
    waits_s: dict[int, float]
    reference_nodes: list[ReferenceNode]
    snapshots: list[list[dict[str, object]]]
    result: SimResult = field(repr=False)


def run_reference(
    nodes: Sequence[NodeSpec],
    config: IpamdConfig,
    pods: PodEvents,
    *,
    subnet_cidrs: Mapping[str, str] | None = None,
    duration_s: float,
    seed: int = 0,
    tick_s: float = 1.0,
    placement: Placement = "first_fit",
    pod_retry_interval_s: float = POD_RETRY_INTERVAL_S,
    pool_interval_s: float = POOL_INTERVAL_S,
    join_s: Sequence[float] | None = None,
    leave_s: Sequence[float | None] | None = None,
    ec2_params: Ec2Params | None = None,
    prepare_space: Any = None,
    record_ticks: bool = True,
    snapshot_s: Sequence[float] = (),
    branch_eni_cooldown_s: float = BRANCH_ENI_COOLDOWN_S,
    sample_every_s: float = 60.0,
    world: PlainWorld | None = None,
) -> ReferenceRun:
    """Run the reference ipamd model on a few nodes of one node group, tick by tick.

    Parameters
    ----------
    nodes : sequence of NodeSpec
        The nodes; their position is the node id ``pods`` uses.
    config : IpamdConfig
        aws-node settings (one node group).
    pods : PodEvents
        Pod ADD/DEL schedule; the row order is the event sequence.
    subnet_cidrs : mapping of str to str
        Subnet id -> IPv4 CIDR, for every subnet a NodeSpec names (without ``world``).
    duration_s : float
        Last tick time [s]; ticks run at 0, tick_s, ... <= duration_s.
    seed : int
        Run seed (without ``world``): its first three streams are subnet, ec2, placement.
    tick_s, placement, pod_retry_interval_s, pool_interval_s, branch_eni_cooldown_s,
    sample_every_s, snapshot_s, record_ticks
        As in :class:`ReferenceEngine`.
    join_s, leave_s : sequence of float, optional
        Join time per node (default 0) and leave time (default never) [s].
    ec2_params : Ec2Params, optional
        EC2 latencies and buckets (without ``world``).
    prepare_space : callable, optional
        Called with the World's AddressSpace before the run (reservations, other holders).
    world : PlainWorld, optional
        The World to run on, instead of one built from ``subnet_cidrs`` and ``seed``.

    Returns
    -------
    ReferenceRun
        Traces, per-node metrics and the shared result.

    Raises
    ------
    UsageError
        Bad tick, duration or cool-down, a pod on an unknown node, or IPv6.
    """
    if not math.isfinite(duration_s) or duration_s < 0:
        raise UsageError(f"duration_s is {duration_s}: give a finite duration >= 0")
    engine = ReferenceEngine(
        world,
        subnet_cidrs=subnet_cidrs,
        seed=seed,
        ec2_params=ec2_params,
        tick_s=tick_s,
        placement=placement,
        pod_retry_interval_s=pod_retry_interval_s,
        pool_interval_s=pool_interval_s,
        sample_every_s=sample_every_s,
        branch_eni_cooldown_s=branch_eni_cooldown_s,
        record_ticks=record_ticks,
        snapshot_s=snapshot_s,
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
    final_s = engine.now_s
    summaries: list[dict[str, float]] = []
    for i, node in enumerate(engine.nodes):
        row: dict[str, float] = {"node": i, **node.metrics(final_s)}
        row["n_adds"] = engine._n_adds[i]
        row["n_failed_adds"] = engine._n_failed[i]
        row.update({f"n_calls_{op}": n for op, n in sorted(node.n_calls.items())})
        row.update({f"n_errors_{code}": n for code, n in sorted(node.n_call_errors.items())})
        summaries.append(row)
    result = engine.result()
    waits = {
        int(p): float(w)
        for p, w, o in zip(result.pod_ids, result.wait_s, result.pod_outcome, strict=True)
        if o == 0
    }
    return ReferenceRun(
        engine.ticks, engine.events, summaries, waits, engine.nodes, engine.snapshots, result
    )
