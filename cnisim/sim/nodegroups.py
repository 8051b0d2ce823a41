"""Node groups as EC2 Auto Scaling groups: sizes, AZ balance, launches, failures and scale-in.

An :class:`AutoScalingGroup` is one node group's Auto Scaling group as a small deterministic
state machine that a scenario (or an autoscaler, Karpenter, a managed-node-group update) drives
in simulated time; it never touches the engine or the World itself:

- :meth:`~AutoScalingGroup.set_desired` clamps to ``min_size..max_size`` and says why;
- :meth:`~AutoScalingGroup.launches` returns the instances to launch now (type, AZ, subnet and
  the time the kubelet is Ready, a seeded lognormal draw), :meth:`~AutoScalingGroup.launch_failed`
  takes back one that EC2 refused and backs that subnet (or type in that AZ) off, and
  :meth:`~AutoScalingGroup.launch_succeeded` clears the backoff (and confirms a rebalancing
  launch);
- :meth:`~AutoScalingGroup.terminations` picks the instances to terminate on scale-in,
  :meth:`~AutoScalingGroup.instance_terminated` takes an instance someone else terminated;
- :meth:`~AutoScalingGroup.peek_s` says when the group next has something to do.

:class:`GroupNodeSpecs` turns a launch into the engine's :class:`~cnisim.sim.contract.NodeSpec`
with the group's kubelet max pods (:func:`group_max_pods`), and :func:`node_ready_s` is the rule
the scenario applies for a node's Ready time.

How EC2 Auto Scaling behaves, and what cnisim simplifies (the numbers are defaults):

- **AZ balance** (``balanced-best-effort``, the default capacity distribution strategy): a new
  instance goes to the AZ with the fewest instances of the group (pending launches count); ties
  go to the AZ whose subnet comes first in the group's subnets. An AZ in which every subnet (or
  every instance type) is backed off after a failed launch is skipped, so the launch goes to
  another AZ. Within an AZ, the first of the group's subnets there that is not backed off.
- **Mixed instance types**: the on-demand allocation strategy ``prioritized`` (the default when
  types are listed, and what a managed node group uses for on-demand) takes the first type of
  the list; a launch refused for capacity (``InsufficientInstanceCapacity``) backs that type off
  in that AZ, so the next launch takes the next type. ``lowest-price`` needs prices, which
  cnisim does not have: not modeled. Spot is not modeled.
- **Launch failures and backoff**: AWS publishes no figure for how long an ASG waits before
  retrying where a launch failed. cnisim's assumption (:class:`LaunchBackoff`): 10 s after the
  first failure, doubling with each consecutive failure up to 300 s; a success clears it. A
  subnet without free addresses (``InsufficientFreeAddressesInSubnet``) backs the subnet off for
  every type; a capacity failure backs off one type in one AZ. Whether an ASG launches part of a
  scale-up when a subnet runs short is not confirmed by AWS: cnisim launches what it can.
- **AZ rebalancing** (the AZRebalance process, on by default): when moving one instance from
  the AZ with the most to the AZ with the fewest narrows the spread (after a failed AZ comes
  back, or after instances were terminated without replacement),
  :meth:`~AutoScalingGroup.launches` launches one more in the AZ with the fewest first, up to
  ``max_size`` plus 10 % (at least one); once the scenario confirms it
  (:meth:`~AutoScalingGroup.launch_succeeded`), :meth:`~AutoScalingGroup.terminations`
  terminates one in the AZ with the most. Such a launch takes addresses like any other and can
  fail the same way (PrairieLearn/PrairieLearn #3271). Simplified: it is checked at every
  ``launches`` call, not on AWS's own schedule, and moves as many instances at once as narrow
  the spread.
- **Scale-in** (the default termination policy, simplified): the instances in the AZs with the
  most instances; of those, the ones whose type is lowest in the priority order, aligning the
  group to its allocation strategy; then at random (seeded). Not modeled: launch templates or
  configurations (one per group, so "oldest launch template" never decides), "closest to the
  next billing hour" (per-second billing), scale-in protection, warm pools, lifecycle hooks,
  Spot capacity rebalancing, and the administrative suspension of a group that has failed to
  launch for 24 hours.
- **Boot to Ready**: lognormal, median 60 s and 95th percentile 150 s by default
  (:class:`~cnisim.plan.BootTime`; ``docs/cluster-model.md`` sec. 9, fitted to reports of 30-150
  s: aws/karpenter-provider-aws #6128, #3102, awslabs/amazon-eks-ami #417); AWS publishes none.

References
----------
EC2 Auto Scaling user guide: "Auto Scaling group Availability Zone distribution"
(balanced-best-effort), "Configure termination policies" (default termination policy),
"Allocation strategies for multiple instance types" (prioritized, lowest-price), "Suspend and
resume Amazon EC2 Auto Scaling processes" (AZRebalance; "up to 10 percent larger than its
maximum size" while rebalancing); API reference ``AvailabilityZoneDistribution``,
``InstancesDistribution``, ``TerminateInstanceInAutoScalingGroup``; ``docs/cluster-model.md``
sec. 1 and 9
(PrairieLearn/PrairieLearn #3271: a launch refused for lack of free addresses in the subnet).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal, NamedTuple

import numpy as np

from cnisim.catalog import Catalog
from cnisim.cni import IpamdConfig
from cnisim.errors import UsageError
from cnisim.limits import DEFAULT_CNI_VERSION, ArrayOrScalar, MaxPodsOptions, compute_limits
from cnisim.plan import BootTime, NodeGroup, Subnet
from cnisim.sim.contract import NodeSpec
from cnisim.sim.warmpool import node_spec

__all__ = [
    "LAUNCH_FAILURE_REASONS",
    "Z_P95",
    "AutoScalingGroup",
    "DesiredChange",
    "GroupEvent",
    "GroupNodeSpecs",
    "LaunchBackoff",
    "LaunchFailureReason",
    "LaunchRequest",
    "boot_sigma",
    "group_max_pods",
    "node_ready_s",
]

#: The standard normal's 95th percentile (``scipy.stats.norm.ppf(0.95)``).
Z_P95: Final = 1.6448536269514722

LaunchFailureReason = Literal["InsufficientFreeAddressesInSubnet", "InsufficientInstanceCapacity"]
#: Why EC2 refused a launch: the subnet has no free address (RunInstances'
#: InsufficientFreeAddressesInSubnet), or EC2 has no capacity for the type in that AZ.
LAUNCH_FAILURE_REASONS: Final = (
    "InsufficientFreeAddressesInSubnet",
    "InsufficientInstanceCapacity",
)


def boot_sigma(boot: BootTime) -> float:
    """The lognormal's sigma for a median and a 95th percentile of boot time.

    ``p95 = median * exp(sigma * z95)``, so ``sigma = ln(p95 / median) / z95``.

    Parameters
    ----------
    boot : BootTime
        Median [s] > 0 and 95th percentile [s] >= the median.

    Returns
    -------
    float
        Sigma of ``ln(boot_s)``.

    Raises
    ------
    UsageError
        A median that is not a positive finite number, or a 95th percentile below it.

    Examples
    --------
    >>> round(boot_sigma(BootTime(median_s=60, p95_s=150)), 4)
    0.5571
    """
    median_s, p95_s = boot.median_s, boot.p95_s
    if not (math.isfinite(median_s) and median_s > 0 and math.isfinite(p95_s)):
        raise UsageError(f"boot median {median_s} s is invalid: give a finite time > 0 s")
    if p95_s < median_s:
        raise UsageError(
            f"boot p95 {p95_s} s is below the median {median_s} s: give a p95 >= the median"
        )
    return math.log(p95_s / median_s) / Z_P95


def node_ready_s(kubelet_ready_s: ArrayOrScalar, first_address_s: ArrayOrScalar) -> ArrayOrScalar:
    """When a node is Ready: its kubelet is up and ipamd holds its first addresses.

    Since VPC CNI 1.5.3 the CNI reports the node not ready until ipamd has IPs, so a node
    booting into a full subnet stays NotReady.

    Parameters
    ----------
    kubelet_ready_s : float or ndarray
        When the kubelet would report Ready (a launch's ``kubelet_ready_s``) [s].
    first_address_s : float or ndarray
        When ipamd's pool first held an address (the engine's ``node_ready_s``) [s]; NaN if
        never.

    Returns
    -------
    float or ndarray
        The later of the two [s]; NaN if either is NaN (never Ready).

    References
    ----------
    awslabs/amazon-eks-ami #417 (CNI >= 1.5.3); aws/amazon-vpc-cni-k8s #872.

    Examples
    --------
    >>> float(node_ready_s(61.5, 3.0)), float(node_ready_s(61.5, 90.0))
    (61.5, 90.0)
    """
    return np.maximum(kubelet_ready_s, first_address_s)


@dataclass(frozen=True)
class LaunchBackoff:
    """How long a group stays away from where a launch failed (a cnisim assumption).

    Attributes
    ----------
    initial_s : float
        Backoff after the first consecutive failure [s].
    max_s : float
        Longest backoff [s]; each further consecutive failure doubles it up to this.
    """

    initial_s: float = 10.0
    max_s: float = 300.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.initial_s) and self.initial_s >= 0):
            raise UsageError(f"launch backoff {self.initial_s} s is invalid: give a time >= 0 s")
        if not (math.isfinite(self.max_s) and self.max_s >= self.initial_s):
            raise UsageError(
                f"longest launch backoff {self.max_s} s is below the first "
                f"({self.initial_s} s): give a longest backoff >= the first"
            )

    def after(self, n_failures: int) -> float:
        """Backoff after ``n_failures`` consecutive failures (>= 1) [s]."""
        return min(self.initial_s * 2.0 ** (n_failures - 1), self.max_s)


@dataclass(frozen=True)
class LaunchRequest:
    """One instance the group launches, as the scenario hands it to the engine.

    Attributes
    ----------
    group : str
        Node group name.
    instance_id : int
        The instance's id within the group (0, 1, 2, ... in launch order).
    instance_type : str
        EC2 instance type.
    az : str
        Availability zone.
    subnet_id : str
        Subnet of the instance's primary ENI (the node IP).
    launch_s : float
        When the instance is launched (RunInstances; the engine's join time) [s].
    kubelet_ready_s : float
        ``launch_s`` plus the boot-time draw: when the kubelet reports Ready, if ipamd already
        has addresses (:func:`node_ready_s`) [s].
    rebalancing : bool
        An AZ rebalancing launch: one more than the desired capacity until
        :meth:`AutoScalingGroup.launch_succeeded`, after which scale-in terminates one
        instance in the AZ with the most.
    """

    group: str
    instance_id: int
    instance_type: str
    az: str
    subnet_id: str
    launch_s: float
    kubelet_ready_s: float
    rebalancing: bool = False


@dataclass(frozen=True)
class DesiredChange:
    """What :meth:`AutoScalingGroup.set_desired` did.

    Attributes
    ----------
    requested : int
        The size asked for [nodes].
    desired : int
        The desired capacity now, within min..max [nodes].
    reason : str or None
        Why ``desired`` differs from ``requested`` (one line); None if it does not.
    """

    requested: int
    desired: int
    reason: str | None = None


class GroupEvent(NamedTuple):
    """One thing that happened to a group, for traces and reports.

    ``kind`` is ``desired`` (``detail`` is the new size, or the clamping reason), ``launch``
    or ``rebalance`` (an AZ rebalancing launch; ``detail`` is the subnet), ``launch_failed``
    (``detail`` is the reason), ``terminate`` (scale-in; ``detail`` is the AZ) or
    ``terminated`` (by someone else; ``detail`` says whether the desired capacity was
    decremented).
    """

    time_s: float
    kind: Literal["desired", "launch", "rebalance", "launch_failed", "terminate", "terminated"]
    instance_id: int | None
    detail: str


_BackoffKey = tuple[str, ...]


def _check_group(group: NodeGroup) -> None:
    """Refuse a node group no Auto Scaling group could have, with one line each."""
    name = group.name
    if not group.instance_types:
        raise UsageError(f"node group {name!r} has no instance types: list at least one")
    if len(set(group.instance_types)) != len(group.instance_types):
        raise UsageError(f"node group {name!r} lists an instance type twice: list each once")
    if not group.subnets:
        raise UsageError(f"node group {name!r} has no subnets: give subnets or zones")
    if len(set(group.subnets)) != len(group.subnets):
        raise UsageError(f"node group {name!r} lists a subnet twice: list each once")
    if not 0 <= group.min_size <= group.desired_capacity <= group.max_size:
        raise UsageError(
            f"node group {name!r}: need 0 <= minSize <= desiredCapacity <= maxSize (got "
            f"{group.min_size}, {group.desired_capacity}, {group.max_size})"
        )
    if group.max_pods_per_node is not None and group.max_pods_per_node < 1:
        raise UsageError(
            f"node group {name!r}: maxPodsPerNode {group.max_pods_per_node} is invalid: give 1 "
            "or more, or leave it unset"
        )


class AutoScalingGroup:
    """One node group's EC2 Auto Scaling group, driven in simulated time.

    The group holds its live instances (launched, not failed, not terminated) in launch order.
    It changes only when called; the same calls with the same seed give the same launches,
    boot times and terminations. Every method that takes ``now_s`` refuses (UsageError) a time
    that is not finite or is earlier than the last call's.

    Parameters
    ----------
    group : NodeGroup
        The node group: sizes, instance types in priority order, subnets, boot time.
    subnets : sequence of Subnet
        The VPC's subnets (at least the group's), for their AZs.
    rng : numpy.random.Generator
        The group's own stream (e.g. ``world.stream("nodegroup:" + name)``); boot times and
        scale-in ties draw from two streams spawned from it, so one never shifts the other.
    backoff : LaunchBackoff
        How long a failed subnet, or type in an AZ, is skipped.
    az_rebalance : bool
        The AZRebalance process (on by default in EC2 Auto Scaling): when AZs differ by more
        than one instance, launch in the AZ with the fewest first, then terminate in the AZ
        with the most; rebalancing may exceed ``max_size`` by 10 % (at least one instance).

    Raises
    ------
    UsageError
        A group no ASG could have (min > desired, no types, a subnet twice, ...), a subnet
        not in the VPC, or an invalid boot time.

    Examples
    --------
    >>> group = NodeGroup("ng", ("m5.large",), 1, 2, 4, ("subnet-a", "subnet-b"))
    >>> vpc = [Subnet("subnet-a", "us-east-1a", "10.0.0.0/20"),
    ...        Subnet("subnet-b", "us-east-1b", "10.0.16.0/20")]
    >>> asg = AutoScalingGroup(group, vpc, np.random.default_rng(0))
    >>> [launch.az for launch in asg.launches(0.0)]
    ['us-east-1a', 'us-east-1b']
    >>> asg.set_desired(10.0, 9)
    DesiredChange(requested=9, desired=4, reason='9 is above maxSize 4')
    """

    def __init__(
        self,
        group: NodeGroup,
        subnets: Sequence[Subnet],
        rng: np.random.Generator,
        *,
        backoff: LaunchBackoff = LaunchBackoff(),
        az_rebalance: bool = True,
    ) -> None:
        _check_group(group)
        az_of = {subnet.id: subnet.az for subnet in subnets}
        for subnet_id in group.subnets:
            if subnet_id not in az_of:
                raise UsageError(
                    f"node group {group.name!r}: subnet {subnet_id!r} is not in the VPC: add "
                    "it to the VPC's subnets"
                )
        self._group = group
        self._boot_sigma = boot_sigma(group.boot)
        self._boot_rng, self._pick_rng = rng.spawn(2)
        self._backoff = backoff
        self._az_rebalance = az_rebalance
        # Rebalancing may exceed max by 10 % or one instance, whichever is more (rounded down).
        self._max_rebalancing_size = group.max_size + max(1, group.max_size // 10)
        # AZs in the order their first subnet appears: the tie-break of AZ balance.
        self._subnets_by_az: dict[str, list[str]] = {}
        for subnet_id in group.subnets:
            self._subnets_by_az.setdefault(az_of[subnet_id], []).append(subnet_id)
        self._desired = group.desired_capacity
        self._max_size = group.max_size
        self._live: dict[int, LaunchRequest] = {}
        self._rebalancing: set[int] = set()  # rebalancing launches not yet confirmed
        self._n_by_az = dict.fromkeys(self._subnets_by_az, 0)
        self._next_id = 0
        self._backoff_until_s: dict[_BackoffKey, float] = {}
        self._n_failures: dict[_BackoffKey, int] = {}
        self._events: list[GroupEvent] = []
        self._now_s = 0.0

    @property
    def name(self) -> str:
        """Node group name."""
        return self._group.name

    @property
    def desired(self) -> int:
        """Desired capacity [nodes]."""
        return self._desired

    @property
    def azs(self) -> tuple[str, ...]:
        """The group's AZs, in the order of its subnets."""
        return tuple(self._subnets_by_az)

    @property
    def instances(self) -> tuple[LaunchRequest, ...]:
        """Live instances (pending or running), in launch order."""
        return tuple(self._live.values())

    @property
    def n_rebalancing(self) -> int:
        """Rebalancing launches waiting for :meth:`launch_succeeded` [nodes]."""
        return len(self._rebalancing)

    @property
    def events(self) -> tuple[GroupEvent, ...]:
        """Everything that happened to the group, in order."""
        return tuple(self._events)

    def n_instances_by_az(self) -> dict[str, int]:
        """Live instances per AZ, every AZ of the group included [nodes]."""
        return dict(self._n_by_az)

    def _advance(self, now_s: float) -> None:
        """Refuse a time that is not finite or goes back; the group's clock moves to it."""
        if not (math.isfinite(now_s) and now_s >= self._now_s):
            raise UsageError(
                f"node group {self.name!r}: time {now_s} s is invalid: give a finite time no "
                f"earlier than the last call's ({self._now_s} s)"
            )
        self._now_s = now_s

    def _add(self, launch: LaunchRequest) -> None:
        self._live[launch.instance_id] = launch
        self._n_by_az[launch.az] += 1

    def _remove(self, launch: LaunchRequest) -> None:
        del self._live[launch.instance_id]
        self._n_by_az[launch.az] -= 1
        self._rebalancing.discard(launch.instance_id)

    def _n_target(self) -> int:
        """Instances the group keeps: the desired capacity and unconfirmed rebalancing ones."""
        return self._desired + len(self._rebalancing)

    def _rebalance_gain(self, az: str) -> bool:
        """Whether one more instance in ``az`` and one fewer in the AZ with the most (after the
        terminations already owed to earlier rebalancing launches) narrows the spread."""
        projected = dict(self._n_by_az)
        for _ in self._rebalancing:
            projected[max(projected, key=projected.__getitem__)] -= 1
        return projected[az] + 2 <= max(projected.values())

    @property
    def max_size(self) -> int:
        """Maximum size now [nodes] (the node group's, unless :meth:`set_max_size` changed it)."""
        return self._max_size

    def set_max_size(self, now_s: float, max_size: int) -> None:
        """Change the maximum size (UpdateAutoScalingGroup ``MaxSize``): a managed node group
        update raises it by its surge, and restores it when done.

        Raises
        ------
        UsageError
            A size below ``min_size``.
        """
        self._advance(now_s)
        if max_size < self._group.min_size:
            raise UsageError(
                f"maxSize {max_size} of node group {self.name!r} is below its minSize "
                f"{self._group.min_size}: keep it at or above"
            )
        self._max_size = max_size

    def set_desired(self, now_s: float, n_nodes: int) -> DesiredChange:
        """Set the desired capacity, clamped to ``min_size..max_size``.

        (SetDesiredCapacity itself refuses a size outside the limits; the cluster autoscaler
        and the CLI's ``--desired`` clamp first, so cnisim clamps and says so.)

        Parameters
        ----------
        now_s : float
            Simulated time [s].
        n_nodes : int
            The size asked for [nodes], >= 0.

        Returns
        -------
        DesiredChange
            The size asked for, the size set and why they differ.

        Raises
        ------
        UsageError
            A negative or non-integer size.
        """
        if isinstance(n_nodes, bool) or not isinstance(n_nodes, int | np.integer) or n_nodes < 0:
            raise UsageError(
                f"desired size {n_nodes!r} of node group {self.name!r} is invalid: give a "
                "whole number >= 0"
            )
        self._advance(now_s)
        requested = int(n_nodes)
        desired = min(max(requested, self._group.min_size), self._max_size)
        reason = None
        if requested > self._max_size:
            reason = f"{requested} is above maxSize {self._max_size}"
        elif requested < self._group.min_size:
            reason = f"{requested} is below minSize {self._group.min_size}"
        self._desired = desired
        # Rebalancing launches still owed a termination count toward the new capacity where it
        # would otherwise pass max + 10 %: they stay, and no instance is terminated for them.
        for instance_id in sorted(self._rebalancing)[
            : max(desired + len(self._rebalancing) - self._max_rebalancing_size, 0)
        ]:
            self._rebalancing.discard(instance_id)
        self._events.append(GroupEvent(now_s, "desired", None, reason or str(desired)))
        return DesiredChange(requested, desired, reason)

    def _backed_off(self, key: _BackoffKey, now_s: float) -> bool:
        return self._backoff_until_s.get(key, -math.inf) > now_s

    def _placement(self, now_s: float) -> tuple[str, str, str] | None:
        """(AZ, subnet, type) of the next launch, or None if every AZ is backed off."""
        counts = self._n_by_az
        best: tuple[str, str, str] | None = None
        for az, subnet_ids in self._subnets_by_az.items():
            if best is not None and counts[az] >= counts[best[0]]:
                continue
            subnet = next(
                (s for s in subnet_ids if not self._backed_off(("subnet", s), now_s)), None
            )
            instance_type = next(
                (
                    t
                    for t in self._group.instance_types
                    if not self._backed_off(("capacity", t, az), now_s)
                ),
                None,
            )
            if subnet is not None and instance_type is not None:
                best = (az, subnet, instance_type)
        return best

    def launches(self, now_s: float) -> list[LaunchRequest]:
        """The instances to launch now, to bring the group up to its desired capacity.

        Each is live from now on (it counts for AZ balance and toward the desired capacity)
        until :meth:`launch_failed` or a termination takes it back.

        Parameters
        ----------
        now_s : float
            Simulated time [s]: the launch time.

        Returns
        -------
        list of LaunchRequest
            In launch order; fewer than the shortfall while AZs are backed off.
        """
        self._advance(now_s)
        out: list[LaunchRequest] = []
        while (launch := self._next_launch(now_s)) is not None:
            az, subnet_id, instance_type, rebalancing = launch
            out.append(self._launch(now_s, az, subnet_id, instance_type, rebalancing=rebalancing))
        return out

    def _next_launch(self, now_s: float) -> tuple[str, str, str, bool] | None:
        """(AZ, subnet, type, rebalancing) of the launch to make now, or None."""
        short = len(self._live) < self._n_target()
        if not (short or self._az_rebalance):
            return None
        placement = self._placement(now_s)
        if placement is None:
            return None
        if short:
            return (*placement, False)
        if len(self._live) < self._max_rebalancing_size and self._rebalance_gain(placement[0]):
            return (*placement, True)
        return None

    def _launch(
        self, now_s: float, az: str, subnet_id: str, instance_type: str, *, rebalancing: bool
    ) -> LaunchRequest:
        boot_s = self._group.boot.median_s * math.exp(
            self._boot_sigma * float(self._boot_rng.standard_normal())
        )
        launch = LaunchRequest(
            self.name,
            self._next_id,
            instance_type,
            az,
            subnet_id,
            now_s,
            now_s + boot_s,
            rebalancing,
        )
        self._next_id += 1
        self._add(launch)
        if rebalancing:
            self._rebalancing.add(launch.instance_id)
        kind: Literal["launch", "rebalance"] = "rebalance" if rebalancing else "launch"
        self._events.append(GroupEvent(now_s, kind, launch.instance_id, subnet_id))
        return launch

    def _check_live(self, launch: LaunchRequest, what: str) -> None:
        if launch.group != self.name or self._live.get(launch.instance_id) != launch:
            raise UsageError(
                f"{what}: instance {launch.instance_id} of {launch.group!r} is not live in node "
                f"group {self.name!r}"
            )

    def _failure_key(self, launch: LaunchRequest, reason: str) -> _BackoffKey:
        if reason == "InsufficientFreeAddressesInSubnet":
            return ("subnet", launch.subnet_id)
        if reason == "InsufficientInstanceCapacity":
            return ("capacity", launch.instance_type, launch.az)
        raise UsageError(
            f"launch failure {reason!r} is unknown: use one of {', '.join(LAUNCH_FAILURE_REASONS)}"
        )

    def launch_failed(
        self, now_s: float, launch: LaunchRequest, reason: LaunchFailureReason
    ) -> None:
        """EC2 refused a launch: the instance is gone and where it failed is backed off.

        The next :meth:`launches` replaces it in another AZ (or, after a capacity failure, with
        the next instance type) while the backoff lasts.

        Parameters
        ----------
        now_s : float
            When the failure was seen [s]; the backoff starts then.
        launch : LaunchRequest
            A live launch of this group.
        reason : {"InsufficientFreeAddressesInSubnet", "InsufficientInstanceCapacity"}
            The EC2 error.

        Raises
        ------
        UsageError
            An unknown reason, or a launch that is not live in this group.
        """
        self._advance(now_s)
        key = self._failure_key(launch, reason)
        self._check_live(launch, "launch_failed")
        self._remove(launch)
        n_failures = self._n_failures.get(key, 0) + 1
        self._n_failures[key] = n_failures
        self._backoff_until_s[key] = now_s + self._backoff.after(n_failures)
        self._events.append(GroupEvent(now_s, "launch_failed", launch.instance_id, reason))

    def launch_succeeded(self, launch: LaunchRequest) -> None:
        """EC2 launched the instance: the backoff of its subnet and of its type there clears,
        and a rebalancing launch is confirmed (the next :meth:`terminations` takes one instance
        from the AZ with the most).

        Raises
        ------
        UsageError
            A launch that is not live in this group.
        """
        self._check_live(launch, "launch_succeeded")
        self._rebalancing.discard(launch.instance_id)
        for key in (("subnet", launch.subnet_id), ("capacity", launch.instance_type, launch.az)):
            self._n_failures.pop(key, None)
            self._backoff_until_s.pop(key, None)

    def _victim(self) -> LaunchRequest:
        """The instance the (simplified) default termination policy terminates next."""
        counts = self._n_by_az
        most = max(counts.values())
        candidates = [launch for launch in self._live.values() if counts[launch.az] == most]
        # Allocation strategy alignment: the lowest-priority (last listed) type goes first.
        rank = self._group.instance_types.index
        lowest = max(rank(launch.instance_type) for launch in candidates)
        candidates = [launch for launch in candidates if rank(launch.instance_type) == lowest]
        return candidates[int(self._pick_rng.integers(len(candidates)))]

    def terminations(self, now_s: float) -> list[LaunchRequest]:
        """The instances to terminate now: on scale-in to the desired capacity, and one in the
        AZ with the most after each confirmed rebalancing launch.

        Each leaves the group now; the scenario removes it from the engine.

        Parameters
        ----------
        now_s : float
            Simulated time [s].

        Returns
        -------
        list of LaunchRequest
            The instances to terminate, in the order chosen.
        """
        self._advance(now_s)
        out: list[LaunchRequest] = []
        while len(self._live) > self._n_target():
            victim = self._victim()
            self._remove(victim)
            self._events.append(GroupEvent(now_s, "terminate", victim.instance_id, victim.az))
            out.append(victim)
        return out

    def instance_terminated(
        self, now_s: float, launch: LaunchRequest, *, decrement_desired: bool
    ) -> None:
        """Someone else terminated an instance (autoscaler, Karpenter, an update, a failure).

        Parameters
        ----------
        now_s : float
            Simulated time [s].
        launch : LaunchRequest
            A live instance of this group.
        decrement_desired : bool
            TerminateInstanceInAutoScalingGroup's ``ShouldDecrementDesiredCapacity``: True (the
            cluster autoscaler's scale-down) lowers the desired capacity, False (a health check
            or an interruption) lets the next :meth:`launches` replace the instance.

        Raises
        ------
        UsageError
            A launch that is not live in this group, or a decrement below ``min_size`` (EC2
            Auto Scaling refuses it: it would violate the group's min size).
        """
        self._advance(now_s)
        self._check_live(launch, "instance_terminated")
        if decrement_desired and self._desired - 1 < self._group.min_size:
            raise UsageError(
                f"node group {self.name!r} is at minSize {self._group.min_size}: terminating an "
                "instance without replacement would violate it"
            )
        self._remove(launch)
        if decrement_desired:
            self._desired -= 1
        detail = "desired decremented" if decrement_desired else "to be replaced"
        self._events.append(GroupEvent(now_s, "terminated", launch.instance_id, detail))

    def peek_s(self, now_s: float) -> float:
        """When the group next has something to do, at or after ``now_s`` [s].

        ``now_s`` if it would launch or terminate now; the end of the first backoff if it is
        short of its desired capacity, or uneven across AZs, but cannot launch now; ``inf``
        otherwise (rebalancing waits for :meth:`launch_succeeded` of its launches).
        """
        self._advance(now_s)
        if len(self._live) > self._n_target() or self._next_launch(now_s) is not None:
            return now_s
        uneven = self._az_rebalance and any(map(self._rebalance_gain, self._n_by_az))
        if len(self._live) == self._n_target() and not uneven:
            return math.inf
        return min((t_s for t_s in self._backoff_until_s.values() if t_s > now_s), default=math.inf)


def _calculator_specs(
    group: NodeGroup, catalog: Catalog, config: IpamdConfig, cni_version: str
) -> tuple[Catalog, list[NodeSpec]]:
    """The catalog rows of the group's types and their NodeSpecs at the calculator's max pods.

    The one place the catalog row -> NodeSpec translation is called (it moves to
    ``cnisim.sim.spec`` and stays re-exported by ``cnisim.sim.warmpool``).
    """
    _check_group(group)
    rows = catalog.take(catalog.locate(list(group.instance_types)))
    specs = [
        node_spec(rows.take([i]).columns, config, cni_version=cni_version) for i in range(len(rows))
    ]
    return rows, specs


def _group_max_pods(
    group: NodeGroup, rows: Catalog, specs: Sequence[NodeSpec], cni_version: str
) -> list[int]:
    """Max pods of each of the group's types, in type order (rules in :func:`group_max_pods`)."""
    if group.max_pods_per_node is not None:
        return [group.max_pods_per_node] * len(specs)
    if group.managed:
        return [min(spec.max_pods for spec in specs)] * len(specs)
    table = compute_limits(rows.columns, MaxPodsOptions(cni_version=cni_version))
    return [int(n_pods) for n_pods in table["max_pods_secondary"]]


def group_max_pods(
    group: NodeGroup,
    catalog: Catalog,
    config: IpamdConfig,
    *,
    cni_version: str = DEFAULT_CNI_VERSION,
) -> dict[str, int]:
    """Kubelet max pods of each instance type of a node group, as the group sets it.

    - eksctl ``maxPodsPerNode`` set: that value on every node (eksctl passes it through to
      the kubelet: AL2023 NodeConfig ``maxPods``, Bottlerocket ``max-pods``, AL2
      ``--max-pods``), managed or not.
    - Managed node group: the max-pods calculator's value for the aws-node settings (prefix
      delegation, custom networking, MAX_ENI, the trunk ENI of security groups for pods), under
      the 110/250 cap, and the smallest over the group's types on every node.
    - Self-managed: the AMI's own value for the node's type, the ENI table's (default card,
      secondary IPs, +2, uncapped: nodeadm, AL2 bootstrap.sh and Bottlerocket all do this), which
      knows nothing of prefix delegation or custom networking.

    Parameters
    ----------
    group : NodeGroup
        The node group.
    catalog : Catalog
        The instance catalog.
    config : IpamdConfig
        The group's aws-node settings.
    cni_version : str
        VPC CNI version.

    Returns
    -------
    dict of str to int
        Instance type -> max pods [pods], in the group's type order.

    Raises
    ------
    UnknownInstanceType
        A type the catalog lacks.
    UsageError
        An invalid node group.

    References
    ----------
    EKS user guide ``cni-increase-ip-addresses-procedure`` ("Managed node groups enforces a
    maximum number on the value of maxPods ... whether prefix delegation is enabled or not";
    "If your managed node group consists of multiple instance types, the smallest number of
    maximum Pods for an instance in the cluster is applied to all nodes"); eksctl
    ``pkg/nodebootstrap/al2023.go``, ``managed_al2.go`` (maxPodsPerNode passed through);
    awslabs/amazon-eks-ami ``nodeadm/internal/kubelet/config.go`` (ENI table value, no cap).

    Examples
    --------
    >>> from cnisim.catalog import load_catalog
    >>> group = NodeGroup("ng", ("m5.large", "m5.xlarge"), 1, 2, 4, ("subnet-a",))
    >>> group_max_pods(group, load_catalog(), IpamdConfig())
    {'m5.large': 29, 'm5.xlarge': 29}
    >>> group_max_pods(replace(group, managed=False), load_catalog(), IpamdConfig())
    {'m5.large': 29, 'm5.xlarge': 58}
    """
    rows, specs = _calculator_specs(group, catalog, config, cni_version)
    max_pods = _group_max_pods(group, rows, specs, cni_version)
    return dict(zip(group.instance_types, max_pods, strict=True))


class GroupNodeSpecs:
    """The engine's NodeSpec of each launch of one node group, at the group's max pods.

    Built once per group (one catalog lookup per type); :meth:`node_spec` is then a copy with
    the launch's subnets.

    Parameters
    ----------
    group : NodeGroup
        The node group.
    catalog : Catalog
        The instance catalog.
    config : IpamdConfig
        The group's aws-node settings.
    cni_version : str
        VPC CNI version.
    eni_configs : mapping of str to str
        Custom networking: AZ -> pod subnet id (the ENIConfig of the AZ).
    extra_subnets : mapping of str to sequence of str
        Subnet discovery: AZ -> subnets tagged for the CNI there (the node's own subnet is
        left out of each node's list).

    Raises
    ------
    UnknownInstanceType
        A type the catalog lacks.
    UsageError
        An invalid node group.

    Examples
    --------
    >>> from cnisim.catalog import load_catalog
    >>> group = NodeGroup("ng", ("m5.large",), 1, 1, 1, ("subnet-a",))
    >>> specs = GroupNodeSpecs(group, load_catalog(), IpamdConfig())
    >>> launch = LaunchRequest("ng", 0, "m5.large", "us-east-1a", "subnet-a", 0.0, 60.0)
    >>> spec = specs.node_spec(launch)
    >>> spec.max_pods, spec.node_subnet, spec.pod_subnet
    (29, 'subnet-a', 'subnet-a')
    """

    def __init__(
        self,
        group: NodeGroup,
        catalog: Catalog,
        config: IpamdConfig,
        *,
        cni_version: str = DEFAULT_CNI_VERSION,
        eni_configs: Mapping[str, str] | None = None,
        extra_subnets: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        rows, specs = _calculator_specs(group, catalog, config, cni_version)
        max_pods = _group_max_pods(group, rows, specs, cni_version)
        self._group = group
        self._config = config
        self._eni_configs = dict(eni_configs or {})
        self._extra_subnets = {az: tuple(ids) for az, ids in (extra_subnets or {}).items()}
        #: Instance type -> kubelet max pods of the group's nodes of that type [pods].
        self.max_pods = dict(zip(group.instance_types, max_pods, strict=True))
        self._templates = {
            spec.instance_type: replace(spec, max_pods=n_pods)
            for spec, n_pods in zip(specs, max_pods, strict=True)
        }

    def node_spec(self, launch: LaunchRequest) -> NodeSpec:
        """The node ipamd manages for a launch: its type's limits in the launch's subnets.

        Raises
        ------
        UsageError
            A type not in the group, or custom networking with no ENIConfig for the AZ.
        """
        template = self._templates.get(launch.instance_type)
        if template is None:
            raise UsageError(
                f"{launch.instance_type} is not an instance type of node group "
                f"{self._group.name!r}: use one of {', '.join(self._group.instance_types)}"
            )
        pod_subnet = launch.subnet_id
        if self._config.custom_network_cfg:
            if launch.az not in self._eni_configs:
                raise UsageError(
                    f"custom networking is on but {launch.az} has no ENIConfig: add a pod "
                    "subnet for it to eniConfigs"
                )
            pod_subnet = self._eni_configs[launch.az]
        extra = tuple(s for s in self._extra_subnets.get(launch.az, ()) if s != launch.subnet_id)
        return replace(
            template, node_subnet=launch.subnet_id, pod_subnet=pod_subnet, extra_subnets=extra
        )
