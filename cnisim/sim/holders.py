"""Address holders other than nodes and pods, over time: load balancers, interface VPC
endpoints, NAT gateways and the EKS control plane's ENIs, all in the World's subnets.

Each holder takes its addresses when it is created and returns them when it is deleted
(``docs/cluster-model.md`` sec. 6):

- an ALB: one subnet per zone, :data:`cnisim.plan.ALB_ADDRESSES_PER_SUBNET` addresses in each
  at rest, and what its ``scaling`` steps say under load;
- an NLB: one ENI (one address) per subnet; an interface VPC endpoint: the same;
- a NAT gateway: one address in each subnet named;
- the EKS control plane: its ENIs (2 by default) round-robin over the cluster subnets, from
  the start; at a cluster upgrade as many new ones next to them (briefly double) and the old
  ones deleted after the overlap; EKS refuses the upgrade (``InsufficientFreeAddresses``)
  when a cluster subnet has fewer than :data:`EKS_UPGRADE_FREE_IPS` free. The report says
  when a cluster subnet had fewer free addresses than EKS requires (:data:`EKS_MIN_FREE_IPS`,
  from the subnet samples);
- a Deployment with a Service of type LoadBalancer: an NLB or ALB at the workload's start, in
  the subnets the AWS Load Balancer Controller would find
  (:meth:`cnisim.plan.Vpc.load_balancer_subnets`).

A holder that cannot get its addresses fails as AWS does: ELB refuses a load balancer when a
subnet has fewer than :data:`ELB_MIN_FREE_IPS` free (``InvalidSubnet``); a NAT gateway, an
endpoint or a control-plane ENI with no free address fails with
``InsufficientFreeAddressesInSubnet``; an ALB that cannot grow under load keeps what it has
and the step is listed as failed. A holder whose creation failed is not retried.

Simplifications (each also in the README):

- Creation and deletion are instantaneous; an ALB's growth follows its plan steps, not
  traffic; an ALB that shrinks returns its newest addresses first.
- An upgrade's new control-plane ENIs go round-robin from the subnet after the last old one;
  how long both sets exist is a plan parameter (AWS publishes none).

References
----------
Elastic Load Balancing user guides (ALB subnets: one per zone, two zones or more, a /27 and
8 free addresses; NLB: 8 available addresses unless the private address is given); EKS user
guide, "Network requirements" (cluster subnets: at least 6 free, 16 recommended); the
aws-eks-best-practices upgrades guide (up to 5 free addresses per subnet for an upgrade);
EC2 API reference, NatGateway ``FailureCode``.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from cnisim.plan import AddressHolder, Deployment, Plan
from cnisim.sim.subnet import InsufficientAddressesError

if TYPE_CHECKING:
    from cnisim.sim.scenario import ClusterRun

__all__ = [
    "EKS_MIN_FREE_IPS",
    "EKS_RECOMMENDED_FREE_IPS",
    "EKS_UPGRADE_FREE_IPS",
    "ELB_MIN_FREE_IPS",
    "HolderFailure",
    "HolderRecord",
    "HoldersController",
    "HoldersSummary",
    "holders_in",
]

ELB_MIN_FREE_IPS: Final = 8
"""Free addresses ELB asks for in each subnet of a new ALB or NLB."""

EKS_MIN_FREE_IPS: Final = 6
"""Free addresses EKS requires in each cluster subnet."""

EKS_RECOMMENDED_FREE_IPS: Final = 16
"""Free addresses EKS recommends in each cluster subnet."""

EKS_UPGRADE_FREE_IPS: Final = 5
"""Free addresses a cluster upgrade needs in each cluster subnet (its new ENIs)."""

_NO_ADDRESS: Final = "InsufficientFreeAddressesInSubnet"
_ELB_SHORT: Final = "InvalidSubnet"


def holders_in(plan: Plan) -> tuple[AddressHolder, ...]:
    """The plan's load balancers, endpoints and NAT gateways, then one load balancer per
    Deployment with a LoadBalancer Service (named ``k8s-<namespace>-<name>``, as the AWS Load
    Balancer Controller names them)."""
    services = tuple(
        AddressHolder(
            name=f"k8s-{w.namespace}-{w.name}",
            kind=w.service.load_balancer_type,
            subnets=plan.vpc.load_balancer_subnets(w.service.scheme),
            start_s=w.start_s,
        )
        for w in plan.all_workloads
        if isinstance(w, Deployment) and w.service is not None
    )
    return (*plan.holders, *services)


@dataclass(frozen=True)
class HolderRecord:
    """One holder's addresses in one subnet.

    Attributes
    ----------
    name, kind, subnet : str
        The holder (kind ``alb``, ``nlb``, ``vpc-endpoint``, ``nat-gateway`` or
        ``eks-control-plane``) and the subnet.
    n_addresses_max : int
        The most it held there [addresses].
    n_addresses_at_end : int
        What it held at the end [addresses].
    created_s, deleted_s : float
        When it was created and deleted [s] (NaN: never).
    """

    name: str
    kind: str
    subnet: str
    n_addresses_max: int
    n_addresses_at_end: int
    created_s: float
    deleted_s: float


@dataclass(frozen=True)
class HolderFailure:
    """A holder that could not get its addresses, as AWS reports it.

    Attributes
    ----------
    name, kind, subnet : str
        The holder and the subnet that was short.
    at_s : float
        When [s].
    error : str
        The AWS error (``InvalidSubnet``, ``InsufficientFreeAddressesInSubnet``).
    message : str
        What failed, in words.
    """

    name: str
    kind: str
    subnet: str
    at_s: float
    error: str
    message: str


@dataclass(frozen=True)
class HoldersSummary:
    """What the holders took, and what failed.

    Attributes
    ----------
    records : tuple of HolderRecord
        Per holder and subnet, in creation order.
    failures : tuple of HolderFailure
        In time order.
    cluster_subnets : tuple of str
        The EKS cluster subnets (empty when the control plane is not modelled).
    """

    records: tuple[HolderRecord, ...]
    failures: tuple[HolderFailure, ...]
    cluster_subnets: tuple[str, ...]


@dataclass
class _Live:
    """A holder during the run: its address chunks per subnet (one World owner each)."""

    name: str
    kind: str
    subnets: tuple[str, ...]
    n_per_subnet: int
    chunks: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # (owner, n)
    n_max: dict[str, int] = field(default_factory=dict)
    created_s: float = math.nan
    deleted_s: float = math.nan
    failed: bool = False

    def n_held(self, subnet_id: str) -> int:
        return sum(n for _, n in self.chunks.get(subnet_id, ()))


class HoldersController:
    """Creates, scales and deletes the holders at their times (see the module docstring)."""

    name = "holders"

    def __init__(self, plan: Plan, run: ClusterRun) -> None:
        self.live: list[_Live] = []
        self.failures: list[HolderFailure] = []
        # (time [s], order, action, holder, addresses per subnet)
        self.events: list[tuple[float, int, str, int, int]] = []
        self.cluster_subnets: tuple[str, ...] = ()
        self.control_plane = plan.control_plane
        self.enis: list[int] = []  # the control plane's ENIs, oldest first
        if plan.control_plane is not None:
            self.cluster_subnets = plan.cluster_subnets()
            self._add_enis(0.0)
            if plan.control_plane.upgrade_at_s is not None:
                self._push(plan.control_plane.upgrade_at_s, "upgrade", -1, 0)
        for holder in holders_in(plan):
            h = self._add(
                holder.name,
                holder.kind,
                holder.subnets,
                holder.n_addresses_per_subnet,
                holder.start_s,
                holder.stop_s,
            )
            for at_s, n_addresses in holder.scaling:
                self._push(at_s, "scale", h, n_addresses)
        del run  # nothing to read before the run starts

    def _add(
        self,
        name: str,
        kind: str,
        subnets: tuple[str, ...],
        n_per_subnet: int,
        start_s: float,
        stop_s: float | None,
    ) -> int:
        self.live.append(_Live(name, kind, subnets, n_per_subnet))
        h = len(self.live) - 1
        self._push(start_s, "create", h, n_per_subnet)
        if stop_s is not None:
            self._push(stop_s, "delete", h, 0)
        return h

    def _add_enis(self, now_s: float) -> list[int]:
        """The control plane's ENIs (new ones at an upgrade), round-robin over the subnets."""
        assert self.control_plane is not None
        added = []
        for _ in range(self.control_plane.n_enis):
            k = len(self.enis)
            subnet_id = self.cluster_subnets[k % len(self.cluster_subnets)]
            self.enis.append(
                self._add(f"eks-eni-{k + 1}", "eks-control-plane", (subnet_id,), 1, now_s, None)
            )
            added.append(self.enis[-1])
        return added

    def _upgrade(self, run: ClusterRun, now_s: float) -> None:
        """A cluster version upgrade: new ENIs now, the old ones deleted after the overlap."""
        assert self.control_plane is not None
        short = [
            s
            for s in self.cluster_subnets
            if run.world.available_ip_address_count(s) < EKS_UPGRADE_FREE_IPS
        ]
        for subnet_id in short:
            self.failures.append(
                HolderFailure(
                    "cluster-upgrade",
                    "eks-control-plane",
                    subnet_id,
                    now_s,
                    "InsufficientFreeAddresses",
                    f"cluster upgrade refused: cluster subnet {subnet_id} has fewer than"
                    f" {EKS_UPGRADE_FREE_IPS} free addresses",
                )
            )
        if short:
            return
        old = [h for h in self.enis if not self.live[h].failed]
        self._add_enis(now_s)
        for h in old:
            self._push(now_s + self.control_plane.upgrade_overlap_s, "delete", h, 0)

    def _push(self, at_s: float, action: str, h: int, n: int) -> None:
        heapq.heappush(self.events, (at_s, len(self.events), action, h, n))

    # ------------------------------------------------------------------ the controller
    def next_due_s(self, now_s: float) -> float:
        """The next creation, scaling step or deletion [s]."""
        del now_s
        return self.events[0][0] if self.events else math.inf

    def step(self, run: ClusterRun, now_s: float) -> bool:
        """Apply what is due; holders free no node capacity (False)."""
        run.catch_up(now_s)
        while self.events and self.events[0][0] <= now_s:
            _, _, action, h, n = heapq.heappop(self.events)
            if action == "upgrade":
                self._upgrade(run, now_s)
                continue
            holder = self.live[h]
            if holder.failed or not math.isnan(holder.deleted_s):
                continue
            if action == "create":
                self._create(run, holder, now_s)
            elif math.isnan(holder.created_s):
                continue  # not created yet: a step before the start cannot happen (plan check)
            elif action == "scale":
                for subnet_id in holder.subnets:
                    self._resize(run, holder, subnet_id, n, now_s)
            else:
                for subnet_id in holder.subnets:
                    self._resize(run, holder, subnet_id, 0, now_s)
                holder.deleted_s = now_s
        return False

    def summary(self) -> HoldersSummary:
        """Every holder's addresses per subnet and every failure."""
        records = tuple(
            HolderRecord(
                name=h.name,
                kind=h.kind,
                subnet=subnet_id,
                n_addresses_max=h.n_max.get(subnet_id, 0),
                n_addresses_at_end=h.n_held(subnet_id),
                created_s=h.created_s,
                deleted_s=h.deleted_s,
            )
            for h in self.live
            for subnet_id in h.subnets
        )
        return HoldersSummary(records, tuple(self.failures), self.cluster_subnets)

    # ------------------------------------------------------------------ addresses
    def _fail(self, holder: _Live, subnet_id: str, now_s: float, error: str, what: str) -> None:
        self.failures.append(HolderFailure(holder.name, holder.kind, subnet_id, now_s, error, what))

    def _create(self, run: ClusterRun, holder: _Live, now_s: float) -> None:
        """Take every subnet's addresses, or none (a creation is all or nothing)."""
        is_elb = holder.kind in ("alb", "nlb")
        zones = {run.plan.vpc.subnet(s).az for s in holder.subnets}
        if not holder.subnets or (holder.kind == "alb" and len(zones) < 2):
            holder.failed = True
            self._fail(
                holder,
                ",".join(holder.subnets),
                now_s,
                "ValidationError",
                f"{holder.kind} {holder.name} found subnets in {len(zones)} zone(s): an ALB"
                " needs two zones or more"
                if holder.subnets
                else f"{holder.kind} {holder.name} found no subnet to go to",
            )
            return
        if is_elb:
            # ELB's own rule, before EC2 is asked for anything
            need = max(holder.n_per_subnet, ELB_MIN_FREE_IPS)
            short = [s for s in holder.subnets if run.world.available_ip_address_count(s) < need]
            for subnet_id in short:
                self._fail(
                    holder,
                    subnet_id,
                    now_s,
                    _ELB_SHORT,
                    f"{holder.kind} {holder.name} not created: subnet {subnet_id} has fewer than"
                    f" {need} free addresses",
                )
            if short:
                holder.failed = True
                return
        for subnet_id in holder.subnets:
            if not self._take(run, holder, subnet_id, holder.n_per_subnet, now_s):
                holder.failed = True
                self._fail(
                    holder,
                    subnet_id,
                    now_s,
                    _NO_ADDRESS,
                    f"{holder.kind} {holder.name} not created: no {holder.n_per_subnet} free"
                    f" address{'es' if holder.n_per_subnet > 1 else ''} in {subnet_id}",
                )
                for taken in holder.subnets:
                    self._resize(run, holder, taken, 0, now_s)
                holder.n_max.clear()  # it never held them
                return
        holder.created_s = now_s

    def _take(self, run: ClusterRun, holder: _Live, subnet_id: str, n: int, now_s: float) -> bool:
        owner = run.world.new_owner_id()
        try:
            run.world.allocate_fixed(subnet_id, owner, n_ips=n, now_s=now_s)
        except InsufficientAddressesError:
            return False
        holder.chunks.setdefault(subnet_id, []).append((owner, n))
        holder.n_max[subnet_id] = max(holder.n_max.get(subnet_id, 0), holder.n_held(subnet_id))
        return True

    def _resize(
        self, run: ClusterRun, holder: _Live, subnet_id: str, n_target: int, now_s: float
    ) -> None:
        """Hold ``n_target`` addresses in the subnet: return the newest chunks, take more."""
        chunks = holder.chunks.setdefault(subnet_id, [])
        while chunks and holder.n_held(subnet_id) > n_target:
            owner, _ = chunks.pop()
            run.world.release_owner(owner)
        n_more = n_target - holder.n_held(subnet_id)
        if n_more > 0 and not self._take(run, holder, subnet_id, n_more, now_s):
            self._fail(
                holder,
                subnet_id,
                now_s,
                _NO_ADDRESS,
                f"{holder.kind} {holder.name} could not grow to {n_target} addresses in"
                f" {subnet_id} under load",
            )
