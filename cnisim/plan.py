"""The cluster plan that ``cnisim simulate`` runs: frozen dataclasses in cnisim's units, no I/O.

A :class:`Plan` is what a plan file (``apiVersion: cnisim/v1``, ``kind: Plan``) or an eksctl
``ClusterConfig`` becomes once parsed (``cnisim.io``): the VPC and its subnets, the aws-node
settings, node groups, the scheduler's scoring, workloads and the run's length and seed. Names
are snake_case with units here; the files keep the camelCase names users know.

The simulator builds on these classes only; readers of files build them. Defaults are those of
``docs/cluster-model.md`` (each with its source there).

Every :class:`Plan` is checked as it is built: its parts' ``check()`` methods (impossible
numbers, CIDRs, sizes) and the checks across parts (subnets named by node groups, zones,
aws-node settings). A part can be built on its own with any values; its ``check()`` raises
:class:`cnisim.errors.PlanError` with the object and attribute at fault.

References
----------
eksctl ``pkg/apis/eksctl.io/v1alpha5/types.go`` (node group fields); kubernetes
``pkg/apis/apps/v1/defaults.go`` (Deployment defaults); ``docs/cluster-model.md``.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, TypeAlias

from cnisim.cni import IpamdConfig
from cnisim.errors import PlanError, UsageError, did_you_mean
from cnisim.limits import DEFAULT_CNI_VERSION

if TYPE_CHECKING:
    from cnisim.catalog import Catalog

__all__ = [
    "ALB_ADDRESSES_PER_SUBNET",
    "COREDNS",
    "DEFAULT_NODE_COUNT",
    "HOLDER_KINDS",
    "KARPENTER_REQUIREMENT_KEYS",
    "MAX_NODES_PER_GROUP",
    "MAX_PODS_PER_NODE_LIMIT",
    "MAX_RUN_DURATION_S",
    "PLAN_API_VERSION",
    "AddressHolder",
    "Autoscaler",
    "AwsNode",
    "BootTime",
    "CidrReservation",
    "ControlPlane",
    "DaemonSet",
    "Deployment",
    "Diurnal",
    "EC2NodeClass",
    "FargateProfile",
    "FargateSelector",
    "Hpa",
    "JobStream",
    "Karpenter",
    "Lifetime",
    "NodeGroup",
    "NodePool",
    "Plan",
    "Requirement",
    "Resources",
    "RollingUpdate",
    "Run",
    "Scheduler",
    "Service",
    "Steps",
    "Subnet",
    "SubnetSelectorTerm",
    "UpgradeEvent",
    "Vpc",
    "Workload",
    "check_instance_types",
    "parse_int_or_percent",
    "region_of_zone",
    "resolve_sizes",
]

PLAN_API_VERSION = "cnisim/v1"
"""The plan file version this cnisim reads (``apiVersion``)."""


MAX_NODES_PER_GROUP = 100_000
"""Largest Auto Scaling group size cnisim accepts [nodes] (EKS's largest clusters' size)."""

MAX_PODS_PER_NODE_LIMIT = 10_000
"""Largest ``maxPodsPerNode`` accepted [pods]: far above any instance's address limit (737)."""

MAX_RUN_DURATION_S = 366 * 86_400.0
"""Longest simulated run [s]: a year."""

_MAX_COUNT = 10_000_000
# Job arrivals beyond this rate would mean millions of pods a minute: a typo, not a plan.
_MAX_ARRIVALS_PER_S = 10_000.0


def _frozen_map(values: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(values or {}))


def _freeze(obj: object, *attrs: str) -> None:
    # Frozen dataclasses still hold the caller's dict: keep a read-only copy instead.
    for attr in attrs:
        object.__setattr__(obj, attr, _frozen_map(getattr(obj, attr)))


def _check(ok: bool, message: str, obj: object, attr: str) -> None:
    if not ok:
        raise PlanError(message, obj=obj, attr=attr)


def _check_count(obj: object, attr: str, low: int, high: int) -> None:
    value = getattr(obj, attr)
    _check(
        isinstance(value, int) and not isinstance(value, bool),
        f"{value!r} is not a whole number",
        obj,
        attr,
    )
    _check(low <= value <= high, f"{value} is out of range: use {low} to {high:,}", obj, attr)


def _check_seconds(obj: object, attr: str, *, positive: bool = False) -> None:
    value = getattr(obj, attr)
    _check(math.isfinite(value), f"{value} is not a finite duration", obj, attr)
    if positive:
        _check(value > 0, f"{value:g} s is not positive: use a duration above 0s", obj, attr)
    else:
        _check(value >= 0, f"{value:g} s is negative: use 0s or more", obj, attr)


def _network(obj: object, attr: str, text: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.IPv4Network(text, strict=True)
    except ValueError as exc:
        raise PlanError(
            f"{text!r} is not an IPv4 CIDR ({exc}): write e.g. 10.0.0.0/16",
            obj=obj,
            attr=attr,
        ) from None
    return network


@dataclass(frozen=True)
class CidrReservation:
    """A subnet CIDR reservation (EC2 CreateSubnetCidrReservation).

    Attributes
    ----------
    cidr : str
        Range inside the subnet, e.g. ``"10.0.24.0/22"``.
    type : {"prefix", "explicit"}
        ``prefix``: EC2 delegates these addresses only as /28 prefixes; ``explicit``: EC2 never
        picks them itself.
    """

    cidr: str
    type: Literal["prefix", "explicit"]

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _network(self, "cidr", self.cidr)
        _check(
            self.type in ("prefix", "explicit"),
            f"reservation type {self.type!r} is not prefix or explicit",
            self,
            "type",
        )


@dataclass(frozen=True)
class Subnet:
    """One VPC subnet.

    Attributes
    ----------
    id : str
        Subnet id as the plan names it.
    az : str
        Availability zone, e.g. ``"us-east-1a"``.
    cidr : str
        IPv4 CIDR, /16 to /28.
    tags : mapping of str to str
        Tags; ``kubernetes.io/role/cni`` marks subnets ipamd's subnet discovery may use.
    reservations : tuple of CidrReservation
        Subnet CIDR reservations.
    public : bool
        A public subnet (eksctl ``vpc.subnets.public``): nodes go there only with
        ``privateNetworking: false``.
    """

    id: str
    az: str
    cidr: str
    tags: Mapping[str, str] = field(default_factory=_frozen_map)
    reservations: tuple[CidrReservation, ...] = ()
    public: bool = False

    def __post_init__(self) -> None:
        _freeze(self, "tags")

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(bool(self.id), "a subnet needs an id", self, "id")
        _check(bool(self.az), f"subnet {self.id} needs an availability zone", self, "az")
        network = self.network
        # EC2 CreateSubnet: the block size is between /16 and /28.
        _check(
            16 <= network.prefixlen <= 28,
            f"subnet {self.id} is a /{network.prefixlen}: EC2 subnets are /16 to /28",
            self,
            "cidr",
        )
        held: list[tuple[CidrReservation, ipaddress.IPv4Network]] = []
        for reservation in self.reservations:
            reservation.check()
            inner = ipaddress.IPv4Network(reservation.cidr)
            _check(
                inner.subnet_of(network),
                f"reservation {reservation.cidr} is outside subnet {self.id} ({self.cidr}): a"
                " reservation lies inside its subnet",
                reservation,
                "cidr",
            )
            for other, other_net in held:
                _check(
                    not inner.overlaps(other_net),
                    f"reservation {reservation.cidr} overlaps reservation {other.cidr}: merge them",
                    reservation,
                    "cidr",
                )
            held.append((reservation, inner))

    @property
    def network(self) -> ipaddress.IPv4Network:
        """The subnet's CIDR as an :class:`ipaddress.IPv4Network`."""
        return _network(self, "cidr", self.cidr)


@dataclass(frozen=True)
class Vpc:
    """The VPC: its CIDRs (primary first, then secondary ones) and subnets."""

    cidrs: tuple[str, ...]
    subnets: tuple[Subnet, ...]

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(bool(self.cidrs), "the VPC needs at least one CIDR, e.g. 10.0.0.0/16", self, "cidrs")
        _check(bool(self.subnets), "the VPC needs at least one subnet", self, "subnets")
        networks = [_network(self, "cidrs", cidr) for cidr in self.cidrs]
        for i, network in enumerate(networks):
            # EC2 CreateVpc / AssociateVpcCidrBlock: /16 to /28.
            _check(
                16 <= network.prefixlen <= 28,
                f"VPC CIDR {network} is a /{network.prefixlen}: VPC CIDRs are /16 to /28",
                self,
                "cidrs",
            )
            for other in networks[:i]:
                _check(
                    not network.overlaps(other),
                    f"VPC CIDR {network} overlaps VPC CIDR {other}: drop one or make them disjoint",
                    self,
                    "cidrs",
                )
        seen: dict[str, Subnet] = {}
        for subnet in self.subnets:
            subnet.check()
            _check(
                subnet.id not in seen,
                f"subnet id {subnet.id} is used twice: give each its own",
                subnet,
                "id",
            )
            subnet_network = subnet.network
            _check(
                any(subnet_network.subnet_of(vpc) for vpc in networks),
                f"subnet {subnet.id} ({subnet.cidr}) is outside every VPC CIDR"
                f" ({', '.join(self.cidrs)}): add its range to the VPC CIDRs or move it",
                subnet,
                "cidr",
            )
            for known in seen.values():
                _check(
                    not subnet_network.overlaps(known.network),
                    f"subnet {subnet.id} ({subnet.cidr}) overlaps subnet {known.id} ({known.cidr}):"
                    " give each subnet its own range",
                    subnet,
                    "cidr",
                )
            seen[subnet.id] = subnet

    def subnet(self, subnet_id: str) -> Subnet:
        """The subnet with this id (:class:`KeyError` if there is none)."""
        for subnet in self.subnets:
            if subnet.id == subnet_id:
                return subnet
        raise KeyError(subnet_id)

    @property
    def availability_zones(self) -> tuple[str, ...]:
        """The zones of the subnets, in first-seen order."""
        return tuple(dict.fromkeys(subnet.az for subnet in self.subnets))

    def load_balancer_subnets(self, scheme: str = "internal") -> tuple[str, ...]:
        """One subnet per zone for a load balancer, as the AWS Load Balancer Controller finds
        them: those tagged ``kubernetes.io/role/internal-elb`` (internal) or
        ``kubernetes.io/role/elb`` (internet-facing), else the private (or public) subnets;
        in each zone the first by subnet id.

        References
        ----------
        kubernetes-sigs/aws-load-balancer-controller ``docs/deploy/subnet_discovery.md``.
        """
        public = scheme == "internet-facing"
        tag = "kubernetes.io/role/elb" if public else "kubernetes.io/role/internal-elb"
        candidates = [s for s in self.subnets if s.tags.get(tag) in ("1", "")]
        if not candidates:
            candidates = [s for s in self.subnets if s.public == public]
        chosen: dict[str, str] = {}
        for subnet in sorted(candidates, key=lambda s: s.id):
            chosen.setdefault(subnet.az, subnet.id)
        return tuple(chosen[az] for az in self.availability_zones if az in chosen)


@dataclass(frozen=True)
class AwsNode:
    """Settings of the aws-node DaemonSet.

    Attributes
    ----------
    env : mapping of str to str
        aws-node environment variables by their names (``WARM_IP_TARGET``, ...), values as
        strings, parsed later by :meth:`cnisim.cni.IpamdConfig.from_env`.
    eni_configs : mapping of str to str
        Custom networking: availability zone -> subnet id of its ENIConfig (pod subnet).
    """

    env: Mapping[str, str] = field(default_factory=_frozen_map)
    eni_configs: Mapping[str, str] = field(default_factory=_frozen_map)

    def __post_init__(self) -> None:
        _freeze(self, "env", "eni_configs")


@dataclass(frozen=True)
class BootTime:
    """Launch to Ready of a node, a lognormal distribution (``docs/cluster-model.md`` sec. 9).

    Attributes
    ----------
    median_s : float
        Median [s] (default 60).
    p95_s : float
        95th percentile [s] (default 150).
    """

    median_s: float = 60.0
    p95_s: float = 150.0

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check_seconds(self, "median_s", positive=True)
        _check_seconds(self, "p95_s", positive=True)
        _check(
            self.p95_s >= self.median_s,
            f"p95 {self.p95_s:g} s is below the median {self.median_s:g} s",
            self,
            "p95_s",
        )


@dataclass(frozen=True)
class NodeGroup:
    """A managed or self-managed node group: an Auto Scaling group of similar nodes.

    Attributes
    ----------
    name : str
        Node group name.
    instance_types : tuple of str
        EC2 instance types; the first is the one the cluster autoscaler reads.
    min_size, desired_capacity, max_size : int
        Auto Scaling group sizes [nodes].
    subnets : tuple of str
        Subnet ids the group launches into (resolved from availability zones when the file
        names zones).
    managed : bool
        Managed node group (sets kubelet max pods itself, with the 110/250 cap and the
        smallest max pods of its types) or self-managed.
    max_pods_per_node : int or None
        eksctl ``maxPodsPerNode`` (kubelet ``maxPods``) [pods]; None: the AMI or managed node
        group decides.
    ami_family : str
        eksctl ``amiFamily`` (``AmazonLinux2023``, ``AmazonLinux2``, ``Bottlerocket``, ...).
    aws_node_env : mapping of str to str
        This group's aws-node environment, over the cluster's ``awsNode.env``.
    labels : mapping of str to str
        Node labels.
    boot : BootTime
        Launch-to-Ready time distribution.
    max_unavailable : int
        ``updateConfig.maxUnavailable`` (managed node group updates) [nodes].
    """

    name: str
    instance_types: tuple[str, ...]
    min_size: int
    desired_capacity: int
    max_size: int
    subnets: tuple[str, ...]
    managed: bool = True
    max_pods_per_node: int | None = None
    ami_family: str = "AmazonLinux2023"
    aws_node_env: Mapping[str, str] = field(default_factory=_frozen_map)
    labels: Mapping[str, str] = field(default_factory=_frozen_map)
    boot: BootTime = BootTime()
    max_unavailable: int = 1

    def __post_init__(self) -> None:
        _freeze(self, "aws_node_env", "labels")

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(bool(self.name), "a node group needs a name", self, "name")
        _check(
            bool(self.instance_types),
            f"node group {self.name} has no instance type: give instanceTypes, e.g. [m5.large]",
            self,
            "instance_types",
        )
        for attr in ("min_size", "desired_capacity", "max_size"):
            _check_count(self, attr, 0, MAX_NODES_PER_GROUP)
        _check(
            self.min_size <= self.max_size,
            f"minSize {self.min_size} is above maxSize {self.max_size}: lower minSize or raise"
            " maxSize",
            self,
            "min_size",
        )
        _check(
            self.min_size <= self.desired_capacity <= self.max_size,
            f"desiredCapacity {self.desired_capacity} is outside minSize {self.min_size}"
            f" to maxSize {self.max_size}: keep it within them",
            self,
            "desired_capacity",
        )
        _check(
            bool(self.subnets),
            f"node group {self.name} has no subnet: give subnets or availabilityZones",
            self,
            "subnets",
        )
        if self.max_pods_per_node is not None:
            _check_count(self, "max_pods_per_node", 1, MAX_PODS_PER_NODE_LIMIT)
        _check_count(self, "max_unavailable", 1, MAX_NODES_PER_GROUP)
        self.boot.check()


@dataclass(frozen=True)
class Resources:
    """A container's resource requests (Kubernetes ``resources.requests``).

    Attributes
    ----------
    cpu_millicores : float
        CPU request [millicores].
    memory_mib : float
        Memory request [MiB].
    """

    cpu_millicores: float = 0.0
    memory_mib: float = 0.0

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        # A request larger than every node is not an error: the pod stays Pending, reported.
        for attr in ("cpu_millicores", "memory_mib"):
            value = getattr(self, attr)
            _check(
                math.isfinite(value) and value >= 0,
                f"request {value} is not a finite, non-negative quantity",
                self,
                attr,
            )


@dataclass(frozen=True)
class Lifetime:
    """How long a Job's pod runs, from its start to its end.

    Attributes
    ----------
    distribution : {"exponential", "lognormal", "fixed"}
        Shape of the distribution.
    mean_s : float
        Mean [s] (exponential), median [s] (lognormal) or the value [s] (fixed).
    p95_s : float or None
        95th percentile [s] of a lognormal; None for the other shapes.
    """

    distribution: Literal["exponential", "lognormal", "fixed"]
    mean_s: float
    p95_s: float | None = None

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(
            self.distribution in ("exponential", "lognormal", "fixed"),
            f"lifetime distribution {self.distribution!r} is not exponential, lognormal or fixed",
            self,
            "distribution",
        )
        _check_seconds(self, "mean_s", positive=True)
        if self.distribution == "lognormal":
            _check(
                self.p95_s is not None,
                "a lognormal lifetime needs p95 as well as its median (mean)",
                self,
                "p95_s",
            )
        else:
            _check(
                self.p95_s is None,
                f"p95 is for lognormal lifetimes only, not {self.distribution}",
                self,
                "p95_s",
            )
        if self.p95_s is not None:
            _check_seconds(self, "p95_s", positive=True)
            _check(
                self.p95_s > self.mean_s,
                f"p95 {self.p95_s:g} s is not above the median {self.mean_s:g} s",
                self,
                "p95_s",
            )


LoadBalancerKind: TypeAlias = Literal["alb", "nlb"]
HolderKind: TypeAlias = Literal["alb", "nlb", "vpc-endpoint", "nat-gateway"]
HOLDER_KINDS: tuple[HolderKind, ...] = ("alb", "nlb", "vpc-endpoint", "nat-gateway")
"""Address holders other than pods and nodes that a plan can name (:class:`AddressHolder`)."""

ALB_ADDRESSES_PER_SUBNET = 8
"""Addresses an ALB holds in each of its subnets at rest (``docs/cluster-model.md`` sec. 9: ELB
asks for at least 8 free per subnet and scales by taking more; AWS publishes no figure)."""

_MAX_HOLDER_ADDRESSES = 4096  # per subnet: an ALB at any load AWS has documented is far below


@dataclass(frozen=True)
class Service:
    """A Kubernetes Service of type LoadBalancer, as the AWS Load Balancer Controller serves it.

    Attributes
    ----------
    type : {"LoadBalancer"}
        The Service type (the only one that takes subnet addresses).
    load_balancer_type : {"nlb", "alb"}
        What the controller creates: an NLB (a Service) or an ALB (an Ingress to it).
    scheme : {"internal", "internet-facing"}
        Where it goes: private subnets (``kubernetes.io/role/internal-elb``, the controller's
        default) or public ones (``kubernetes.io/role/elb``).
    """

    type: Literal["LoadBalancer"] = "LoadBalancer"
    load_balancer_type: LoadBalancerKind = "nlb"
    scheme: Literal["internal", "internet-facing"] = "internal"

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(
            self.type == "LoadBalancer",
            f"service type {self.type!r} takes no subnet address: cnisim models LoadBalancer",
            self,
            "type",
        )
        _check(
            self.load_balancer_type in ("nlb", "alb"),
            f"loadBalancerType {self.load_balancer_type!r} is not nlb or alb",
            self,
            "load_balancer_type",
        )
        _check(
            self.scheme in ("internal", "internet-facing"),
            f"scheme {self.scheme!r} is not internal or internet-facing",
            self,
            "scheme",
        )


_PERCENT_RE = re.compile(r"[0-9]+%")


def parse_int_or_percent(value: int | str) -> tuple[int, bool]:
    """A Kubernetes IntOrString of a rolling update: ``(number, is_percent)``.

    Raises
    ------
    ValueError
        Not a whole number >= 0 nor a percent such as ``25%`` (Kubernetes ``IsValidPercent``).

    Examples
    --------
    >>> parse_int_or_percent("25%"), parse_int_or_percent(1)
    ((25, True), (1, False))
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value, False
    if isinstance(value, str) and _PERCENT_RE.fullmatch(value):
        return int(value[:-1]), True
    raise ValueError(f"{value!r} is not a whole number >= 0 or a percent such as 25%")


@dataclass(frozen=True)
class RollingUpdate:
    """A Deployment's ``strategy.rollingUpdate``: pods above and below ``replicas`` in a rollout.

    Attributes
    ----------
    max_surge, max_unavailable : int or str
        A number of pods or a percent of ``replicas`` (``"25%"``, Kubernetes' default for
        both); a percent surge rounds up, a percent unavailable rounds down
        (:func:`cnisim.sim.rollouts.resolve_fenceposts`).

    References
    ----------
    kubernetes ``pkg/apis/apps/v1/defaults.go`` (25 % / 25 %) and
    ``pkg/apis/apps/validation/validation.go`` ValidateRollingUpdateDeployment (maxUnavailable
    at most 100 %; not both 0).
    """

    max_surge: int | str = "25%"
    max_unavailable: int | str = "25%"

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        parsed = {}
        for attr in ("max_surge", "max_unavailable"):
            try:
                parsed[attr] = parse_int_or_percent(getattr(self, attr))
            except ValueError as exc:
                raise PlanError(str(exc), obj=self, attr=attr) from None
        number, percent = parsed["max_unavailable"]
        _check(
            not percent or number <= 100,
            f"maxUnavailable {number}% is above 100%: give at most 100%",
            self,
            "max_unavailable",
        )
        _check(
            parsed["max_surge"][0] > 0 or number > 0,
            "maxSurge and maxUnavailable are both 0: a rollout could never start; give one of"
            " them above 0 (Kubernetes refuses it too)",
            self,
            "max_unavailable",
        )


@dataclass(frozen=True)
class Steps:
    """A value that steps at given times: ``values[i]`` from ``at_s[i]`` on.

    Attributes
    ----------
    at_s : tuple of float
        When each value starts [s], increasing.
    values : tuple of float
        The values (replicas [pods], or a load [millicores]).
    """

    at_s: tuple[float, ...]
    values: tuple[float, ...]

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(bool(self.at_s), "a schedule needs at least one entry", self, "at_s")
        _check(len(self.at_s) == len(self.values), "one value per time", self, "values")
        for t_s in self.at_s:
            _check(
                math.isfinite(t_s) and t_s >= 0,
                f"time {t_s:g} s is negative: use 0s or more",
                self,
                "at_s",
            )
        for earlier, later in zip(self.at_s, self.at_s[1:], strict=False):
            _check(
                later > earlier,
                f"entry at {later:g} s is not after the one at {earlier:g} s: list the"
                " entries in time order, each time once",
                self,
                "at_s",
            )
        for value in self.values:
            _check(
                math.isfinite(value) and 0 <= value <= _MAX_COUNT,
                f"value {value:g} is out of range: use 0 to {_MAX_COUNT:,}",
                self,
                "values",
            )


@dataclass(frozen=True)
class Diurnal:
    """A daily (or other period) cosine between ``low`` and ``high``, highest at ``peak_at_s``.

    ``value(t) = low + (high - low) * (1 + cos(2 pi (t - peak_at_s) / period_s)) / 2``,
    evaluated every ``every_s`` (:func:`cnisim.sim.replicas.curve_value`).

    Attributes
    ----------
    low, high : float
        Least and greatest value (replicas [pods], or a load [millicores]).
    peak_at_s : float
        Time of the peak within the period [s] (``14h``: 2 pm, if the run starts at midnight).
    period_s : float
        Length of one cycle [s] (default a day).
    every_s : float
        How often the value is re-evaluated [s] (default 5 min).
    """

    low: float
    high: float
    peak_at_s: float
    period_s: float = 86_400.0
    every_s: float = 300.0

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        for attr in ("low", "high"):
            value = getattr(self, attr)
            _check(
                math.isfinite(value) and 0 <= value <= _MAX_COUNT,
                f"{value:g} is out of range: use 0 to {_MAX_COUNT:,}",
                self,
                attr,
            )
        _check(
            self.low <= self.high,
            f"the least value {self.low:g} is above the greatest {self.high:g}: swap them",
            self,
            "high",
        )
        _check_seconds(self, "peak_at_s")
        _check_seconds(self, "period_s", positive=True)
        _check_seconds(self, "every_s", positive=True)


Curve: TypeAlias = Steps | Diurnal


@dataclass(frozen=True)
class Hpa:
    """A HorizontalPodAutoscaler on CPU utilization, driven by a load curve.

    Attributes
    ----------
    min_replicas, max_replicas : int
        Bounds of the replicas it sets [pods].
    target_cpu_utilization_percent : int
        Target mean CPU use over the pods' CPU requests [%] (default 80; an integer, as
        Kubernetes' ``targetCPUUtilizationPercentage``).
    load : Steps or Diurnal
        The Deployment's total CPU demand over time [millicores], shared evenly by its
        available pods; read at every sync (a Diurnal's ``every_s`` does not apply).

    References
    ----------
    kubernetes ``pkg/apis/autoscaling/v1/defaults.go`` (minReplicas 1, target 80 %);
    ``docs/cluster-model.md`` sec. 5.
    """

    max_replicas: int
    load: Curve
    min_replicas: int = 1
    target_cpu_utilization_percent: int = 80

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check_count(self, "min_replicas", 1, _MAX_COUNT)
        _check_count(self, "max_replicas", 1, _MAX_COUNT)
        _check(
            self.min_replicas <= self.max_replicas,
            f"minReplicas {self.min_replicas} is above maxReplicas {self.max_replicas}",
            self,
            "min_replicas",
        )
        _check_count(self, "target_cpu_utilization_percent", 1, 1000)
        self.load.check()


@dataclass(frozen=True)
class Deployment:
    """A Deployment: ``replicas`` pods from ``start_s`` until the run ends.

    Attributes
    ----------
    name, namespace : str
        Deployment name and namespace.
    replicas : int
        Desired pods [pods].
    requests : Resources
        Per-pod requests.
    start_s : float
        When the Deployment is created [s].
    labels : mapping of str to str
        Pod labels (Fargate profile selectors match them).
    security_groups : bool
        Pods match a SecurityGroupPolicy: each gets a branch ENI (security groups for pods).
    host_network : bool
        ``hostNetwork: true`` pods take a max-pods slot and no VPC address.
    service : Service or None
        A Service of type LoadBalancer in front of the pods: its load balancer is created at
        ``start_s``.
    rolling_update : RollingUpdate
        ``strategy.rollingUpdate`` (25 % / 25 %).
    rollouts_s : tuple of float
        When a new pod template is rolled out [s] (a new ReplicaSet revision each).
    schedule : Steps or None
        Replicas from given times on (``replicas`` until the first).
    diurnal : Diurnal or None
        Replicas following a cosine (rounded to the nearest pod).
    hpa : Hpa or None
        A HorizontalPodAutoscaler sets the replicas. At most one of ``schedule``,
        ``diurnal`` and ``hpa``.
    """

    name: str
    replicas: int
    requests: Resources = Resources()
    start_s: float = 0.0
    namespace: str = "default"
    labels: Mapping[str, str] = field(default_factory=_frozen_map)
    security_groups: bool = False
    host_network: bool = False
    service: Service | None = None
    rolling_update: RollingUpdate = RollingUpdate()
    rollouts_s: tuple[float, ...] = ()
    schedule: Steps | None = None
    diurnal: Diurnal | None = None
    hpa: Hpa | None = None

    def __post_init__(self) -> None:
        _freeze(self, "labels")

    @property
    def moves(self) -> bool:
        """Whether anything changes the Deployment after its start (a controller runs it)."""
        return bool(self.rollouts_s) or any(
            source is not None for source in (self.schedule, self.diurnal, self.hpa)
        )

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(bool(self.name), "a Deployment needs a name", self, "name")
        self.requests.check()
        _check_count(self, "replicas", 0, _MAX_COUNT)
        _check_seconds(self, "start_s")
        if self.service is not None:
            self.service.check()
        self.rolling_update.check()
        for at_s in self.rollouts_s:
            _check(
                math.isfinite(at_s) and at_s >= self.start_s,
                f"a rollout at {at_s:g} s is before the Deployment starts ({self.start_s:g} s):"
                " roll out after its start",
                self,
                "rollouts_s",
            )
        sources = [
            key
            for key, source in (
                ("schedule", self.schedule),
                ("diurnal", self.diurnal),
                ("hpa", self.hpa),
            )
            if source is not None
        ]
        _check(
            len(sources) <= 1,
            f"{' and '.join(sources)} both set the replicas: keep one",
            self,
            sources[-1] if sources else "hpa",
        )
        for source in (self.schedule, self.diurnal, self.hpa):
            if source is not None:
                source.check()
        if self.hpa is not None:
            _check(
                self.requests.cpu_millicores > 0,
                "an HPA on CPU utilization needs a CPU request (utilization is use over"
                " request): give requests.cpu",
                self,
                "hpa",
            )


@dataclass(frozen=True)
class JobStream:
    """Jobs arriving as a Poisson process, one pod each, living a random time.

    Attributes
    ----------
    name, namespace : str
        Name and namespace.
    arrivals_per_s : float
        Mean arrival rate [1/s].
    lifetime : Lifetime
        Pod run time distribution.
    requests : Resources
        Per-pod requests.
    start_s, stop_s : float, float or None
        Arrivals happen in ``[start_s, stop_s)`` [s]; None: until the run ends.
    labels : mapping of str to str
        Pod labels.
    security_groups : bool
        Pods get branch ENIs (security groups for pods).
    """

    name: str
    arrivals_per_s: float
    lifetime: Lifetime
    requests: Resources = Resources()
    start_s: float = 0.0
    stop_s: float | None = None
    namespace: str = "default"
    labels: Mapping[str, str] = field(default_factory=_frozen_map)
    security_groups: bool = False

    def __post_init__(self) -> None:
        _freeze(self, "labels")

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(bool(self.name), "a JobStream needs a name", self, "name")
        self.requests.check()
        self.lifetime.check()
        rate = self.arrivals_per_s
        _check(
            math.isfinite(rate) and 0 < rate <= _MAX_ARRIVALS_PER_S,
            f"arrival rate {rate:g}/s is out of range: use above 0 and at most"
            f" {_MAX_ARRIVALS_PER_S:,.0f} per second",
            self,
            "arrivals_per_s",
        )
        _check_seconds(self, "start_s")
        if self.stop_s is not None:
            _check_seconds(self, "stop_s")
            _check(
                self.stop_s > self.start_s,
                f"stop {self.stop_s:g} s is not after start {self.start_s:g} s",
                self,
                "stop_s",
            )


@dataclass(frozen=True)
class DaemonSet:
    """A DaemonSet: one pod on every node.

    Attributes
    ----------
    name, namespace : str
        Name and namespace.
    requests : Resources
        Per-pod requests.
    host_network : bool
        Host-network pods (aws-node, kube-proxy) take a max-pods slot and no VPC address;
        others take an address on every node.
    """

    name: str
    requests: Resources = Resources()
    host_network: bool = False
    namespace: str = "default"

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(bool(self.name), "a DaemonSet needs a name", self, "name")
        self.requests.check()


Workload: TypeAlias = Deployment | JobStream | DaemonSet

COREDNS = Deployment(
    name="coredns",
    namespace="kube-system",
    replicas=2,
    requests=Resources(cpu_millicores=100.0, memory_mib=70.0),
)
"""CoreDNS as the EKS add-on runs it on every cluster: 2 replicas, 100m CPU and 70Mi each
(``docs/cluster-model.md`` sec. 9). A plan holds it in :attr:`Plan.coredns`, apart from the
user's workloads."""


@dataclass(frozen=True)
class FargateSelector:
    """One selector of a Fargate profile: a namespace and labels a pod must all carry.

    Attributes
    ----------
    namespace : str
        Namespace; ``*`` and ``?`` are wildcards, as EKS allows.
    labels : mapping of str to str
        Labels the pod must have (values may use the same wildcards).
    """

    namespace: str
    labels: Mapping[str, str] = field(default_factory=_frozen_map)

    def __post_init__(self) -> None:
        _freeze(self, "labels")

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(bool(self.namespace), "a Fargate selector needs a namespace", self, "namespace")
        # EKS CreateFargateProfile: at most 5 labels per selector.
        _check(
            len(self.labels) <= 5,
            f"{len(self.labels)} labels: a Fargate selector takes at most 5",
            self,
            "labels",
        )


@dataclass(frozen=True)
class FargateProfile:
    """A Fargate profile: the pods its selectors match run on Fargate, one address each.

    Attributes
    ----------
    name : str
        Profile name.
    selectors : tuple of FargateSelector
        A pod matching any of them (1 to 5, EKS's limit) runs on Fargate.
    subnets : tuple of str
        Private subnets the pods' addresses come from.
    start_delay_s : float
        From a pod's creation to its start [s]: Fargate creates and registers its micro-VM
        (30-45 s, ``docs/cluster-model.md`` sec. 1; the image pull is not included).
    """

    name: str
    selectors: tuple[FargateSelector, ...]
    subnets: tuple[str, ...]
    start_delay_s: float = 40.0

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(bool(self.name), "a Fargate profile needs a name", self, "name")
        _check(
            1 <= len(self.selectors) <= 5,
            f"Fargate profile {self.name} has {len(self.selectors)} selectors: give 1 to 5",
            self,
            "selectors",
        )
        for selector in self.selectors:
            selector.check()
        _check(
            bool(self.subnets),
            f"Fargate profile {self.name} has no subnet: give its private subnets",
            self,
            "subnets",
        )
        _check_seconds(self, "start_delay_s")


@dataclass(frozen=True)
class AddressHolder:
    """Something other than a node or a pod that holds addresses in subnets over time.

    Attributes
    ----------
    name : str
        Its name.
    kind : {"alb", "nlb", "vpc-endpoint", "nat-gateway"}
        An ALB (:data:`ALB_ADDRESSES_PER_SUBNET` per subnet at rest), an NLB or an interface
        VPC endpoint (one ENI per subnet, one subnet per zone), NAT gateways (one in each
        subnet named, one address each).
    subnets : tuple of str
        Its subnets.
    start_s : float
        When it is created [s].
    stop_s : float or None
        When it is deleted [s]; None: it stays.
    addresses_per_subnet : int or None
        An ALB's addresses per subnet at rest; None: :data:`ALB_ADDRESSES_PER_SUBNET` (ALB),
        1 (the others, which cannot take more).
    scaling : tuple of (float, int)
        An ALB under load: ``(at_s, addresses_per_subnet)`` steps, in time order.
    """

    name: str
    kind: HolderKind
    subnets: tuple[str, ...]
    start_s: float = 0.0
    stop_s: float | None = None
    addresses_per_subnet: int | None = None
    scaling: tuple[tuple[float, int], ...] = ()

    @property
    def n_addresses_per_subnet(self) -> int:
        """Addresses per subnet at creation."""
        if self.addresses_per_subnet is not None:
            return self.addresses_per_subnet
        return ALB_ADDRESSES_PER_SUBNET if self.kind == "alb" else 1

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(bool(self.name), "an address holder needs a name", self, "name")
        _check(
            self.kind in HOLDER_KINDS,
            f"{self.kind!r} is not one of {', '.join(HOLDER_KINDS)}",
            self,
            "kind",
        )
        _check(bool(self.subnets), f"{self.name} has no subnet: give its subnets", self, "subnets")
        _check(
            len(set(self.subnets)) == len(self.subnets),
            f"{self.name} names a subnet twice: name each once",
            self,
            "subnets",
        )
        _check_seconds(self, "start_s")
        if self.stop_s is not None:
            _check_seconds(self, "stop_s")
            _check(
                self.stop_s > self.start_s,
                f"stop {self.stop_s:g} s is not after start {self.start_s:g} s",
                self,
                "stop_s",
            )
        if self.kind != "alb":
            # NLBs and interface endpoints have one ENI per subnet, a NAT gateway one address
            _check(
                self.addresses_per_subnet in (None, 1),
                f"{self.name} is a {self.kind}: it takes one address per subnet; drop"
                " addressesPerSubnet (it is for ALBs)",
                self,
                "addresses_per_subnet",
            )
            _check(
                not self.scaling,
                f"{self.name} is a {self.kind}: only ALBs scale; drop scaling",
                self,
                "scaling",
            )
        if self.addresses_per_subnet is not None:
            _check_count(self, "addresses_per_subnet", 1, _MAX_HOLDER_ADDRESSES)
        last_s = self.start_s
        for at_s, n_addresses in self.scaling:
            _check(
                math.isfinite(at_s) and at_s >= last_s,
                f"scaling step at {at_s:g} s is before {last_s:g} s: list steps in time order,"
                " from the start on",
                self,
                "scaling",
            )
            _check(
                isinstance(n_addresses, int) and 1 <= n_addresses <= _MAX_HOLDER_ADDRESSES,
                f"scaling to {n_addresses!r} addresses per subnet: use 1 to"
                f" {_MAX_HOLDER_ADDRESSES:,}",
                self,
                "scaling",
            )
            last_s = at_s


@dataclass(frozen=True)
class ControlPlane:
    """The EKS control plane's cross-account ENIs in the cluster subnets.

    Attributes
    ----------
    n_enis : int
        ENIs EKS places (2 at steady state, EKS creates 2-4: ``docs/cluster-model.md``
        sec. 6 and 9), one address each, round-robin over the subnets.
    subnets : tuple of str
        The cluster subnets; empty: the node groups' subnets (see :meth:`Plan.cluster_subnets`).
    upgrade_at_s : float or None
        A cluster version upgrade at this time [s]: EKS creates new ENIs next to the old ones
        (briefly double, sec. 6); None: no upgrade.
    upgrade_overlap_s : float
        How long old and new ENIs coexist [s] (an assumption: AWS publishes no figure).
    """

    n_enis: int = 2
    subnets: tuple[str, ...] = ()
    upgrade_at_s: float | None = None
    upgrade_overlap_s: float = 600.0

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check_count(self, "n_enis", 1, 4)
        if self.upgrade_at_s is not None:
            _check_seconds(self, "upgrade_at_s")
        _check_seconds(self, "upgrade_overlap_s")


@dataclass(frozen=True)
class Scheduler:
    """kube-scheduler's scoring (EKS's scheduler profile cannot be changed; this is a what-if)."""

    scoring: Literal["LeastAllocated", "MostAllocated"] = "LeastAllocated"

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(
            self.scoring in ("LeastAllocated", "MostAllocated"),
            f"scoring {self.scoring!r} is not LeastAllocated or MostAllocated",
            self,
            "scoring",
        )


@dataclass(frozen=True)
class Autoscaler:
    """The cluster's node autoscaler: none, or the Kubernetes cluster autoscaler and its flags.

    Defaults are cluster-autoscaler's (``docs/cluster-model.md`` sec. 3; kubernetes/autoscaler
    ``cluster-autoscaler/FAQ.md``, "What are the parameters to CA?", and
    ``config/flags.go``); the plan file writes the flags in camelCase.

    Attributes
    ----------
    kind : {"none", "cluster-autoscaler"}
        Which autoscaler runs; ``none`` keeps every node group at its desired size.
    scan_interval_s : float
        ``--scan-interval``: how often the cluster is re-evaluated [s].
    scale_down_enabled : bool
        ``--scale-down-enabled``.
    scale_down_unneeded_time_s : float
        ``--scale-down-unneeded-time``: how long a node must be unneeded before removal [s].
    scale_down_utilization_threshold_frac : float
        ``--scale-down-utilization-threshold``: a node whose larger of CPU and memory requests
        over allocatable is below this is a scale-down candidate, in [0, 1].
    scale_down_delay_after_add_s : float
        ``--scale-down-delay-after-add``: no scale-down this long after a scale-up [s].
    max_node_provision_time_s : float
        ``--max-node-provision-time``: a scale-up whose nodes are not Ready by then failed [s].
    expander : {"least-waste", "random"}
        ``--expander``: how a node group is chosen among those that would help.
    max_empty_bulk_delete : int
        ``--max-empty-bulk-delete``: empty nodes removed at once (non-empty: one at a time).
    ignore_daemonsets_utilization : bool
        ``--ignore-daemonsets-utilization``: leave DaemonSet pods out of a node's utilization.
    initial_node_group_backoff_s, max_node_group_backoff_s : float
        ``--initial-node-group-backoff-duration`` and ``--max-node-group-backoff-duration``:
        a node group whose scale-up failed is skipped this long, doubling per failure [s].
    """

    kind: Literal["none", "cluster-autoscaler"] = "none"
    scan_interval_s: float = 10.0
    scale_down_enabled: bool = True
    scale_down_unneeded_time_s: float = 600.0
    scale_down_utilization_threshold_frac: float = 0.5
    scale_down_delay_after_add_s: float = 600.0
    max_node_provision_time_s: float = 900.0
    expander: Literal["least-waste", "random"] = "least-waste"
    max_empty_bulk_delete: int = 10
    ignore_daemonsets_utilization: bool = False
    initial_node_group_backoff_s: float = 300.0
    max_node_group_backoff_s: float = 1800.0

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(
            self.kind in ("none", "cluster-autoscaler"),
            f"kind {self.kind!r} is not none or cluster-autoscaler",
            self,
            "kind",
        )
        _check(
            self.expander in ("least-waste", "random"),
            f"expander {self.expander!r} is not least-waste or random",
            self,
            "expander",
        )
        _check_seconds(self, "scan_interval_s", positive=True)
        _check_seconds(self, "initial_node_group_backoff_s", positive=True)
        for attr in (
            "scale_down_unneeded_time_s",
            "scale_down_delay_after_add_s",
            "max_node_provision_time_s",
            "max_node_group_backoff_s",
        ):
            _check_seconds(self, attr)
        _check(
            self.max_node_group_backoff_s >= self.initial_node_group_backoff_s,
            f"longest node group backoff {self.max_node_group_backoff_s:g} s is below the first"
            f" ({self.initial_node_group_backoff_s:g} s): give a longest backoff >= the first",
            self,
            "max_node_group_backoff_s",
        )
        threshold = self.scale_down_utilization_threshold_frac
        _check(
            0.0 <= threshold <= 1.0,
            f"{threshold:g} is outside 0 to 1: give a fraction of allocatable, e.g. 0.5",
            self,
            "scale_down_utilization_threshold_frac",
        )
        _check_count(self, "max_empty_bulk_delete", 1, _MAX_COUNT)


@dataclass(frozen=True)
class Run:
    """Length, tick, sampling and seed of a simulation.

    Attributes
    ----------
    duration_s : float
        Simulated time [s].
    tick_s : float
        Tick length [s].
    seed : int
        Run seed (>= 0).
    sample_every_s : float
        Sampling period of the time series [s].
    """

    duration_s: float = 7200.0
    tick_s: float = 1.0
    seed: int = 0
    sample_every_s: float = 60.0

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check_seconds(self, "duration_s", positive=True)
        _check(
            self.duration_s <= MAX_RUN_DURATION_S,
            f"duration {self.duration_s:g} s is longer than a year: shorten the run",
            self,
            "duration_s",
        )
        _check_seconds(self, "tick_s", positive=True)
        _check(
            self.tick_s <= self.duration_s,
            f"tick {self.tick_s:g} s is longer than the run ({self.duration_s:g} s)",
            self,
            "tick_s",
        )
        _check_seconds(self, "sample_every_s", positive=True)
        _check(
            self.sample_every_s >= self.tick_s,
            f"sampling every {self.sample_every_s:g} s is shorter than the tick"
            f" ({self.tick_s:g} s)",
            self,
            "sample_every_s",
        )
        _check_count(self, "seed", 0, 2**63 - 1)


#: Time EKS takes to update the control plane, during which its new ENIs stand beside the old
#: ones [s] (a cnisim assumption: AWS publishes no figure; the EKS user guide says an update
#: "can take" minutes).
CONTROL_PLANE_UPGRADE_S = 600.0


@dataclass(frozen=True)
class UpgradeEvent:
    """A version update scheduled in the run: a managed node group's or the cluster's.

    Attributes
    ----------
    at_s : float
        When the update starts [s].
    upgrade : str
        ``"nodeGroup/<name>"`` (a managed node group version update: surge, drain, replace)
        or ``"cluster"`` (the control plane: its ENIs are recreated).
    duration_s : float
        Cluster updates only: how long the new control-plane ENIs stand beside the old [s].
    """

    at_s: float
    upgrade: str
    duration_s: float = CONTROL_PLANE_UPGRADE_S

    @property
    def node_group(self) -> str | None:
        """The node group a node group update names, None for a cluster update."""
        return self.upgrade.removeprefix("nodeGroup/") if self.upgrade != "cluster" else None

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check_seconds(self, "at_s")
        _check(
            self.upgrade == "cluster"
            or (self.upgrade.startswith("nodeGroup/") and len(self.upgrade) > len("nodeGroup/")),
            f"upgrade {self.upgrade!r} is not a target: write nodeGroup/<name> or cluster",
            self,
            "upgrade",
        )
        _check_seconds(self, "duration_s", positive=True)


#: NodePool requirement keys cnisim knows -> what they select on (well-known labels of
#: Karpenter v1: karpenter.sh/v1 ``NodePool`` docs, karpenter-provider-aws ``apis/v1/labels.go``).
KARPENTER_REQUIREMENT_KEYS = MappingProxyType(
    {
        "karpenter.k8s.aws/instance-category": "category",
        "karpenter.k8s.aws/instance-family": "family",
        "karpenter.k8s.aws/instance-cpu": "vcpus",
        "karpenter.k8s.aws/instance-memory": "memory_mib",
        "karpenter.k8s.aws/instance-generation": "generation",
        "kubernetes.io/arch": "arch",
        "topology.kubernetes.io/zone": "zone",
        "karpenter.sh/capacity-type": "capacity_type",
        "node.kubernetes.io/instance-type": "instance_type",
    }
)
_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")


@dataclass(frozen=True)
class Requirement:
    """One NodePool requirement (a node selector requirement over well-known labels).

    Attributes
    ----------
    key : str
        A key of :data:`KARPENTER_REQUIREMENT_KEYS`.
    operator : {"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"}
        As Kubernetes reads it; Gt and Lt compare integers.
    values : tuple of str
        The values (one integer for Gt and Lt).
    """

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(
            self.key in KARPENTER_REQUIREMENT_KEYS,
            f"requirement key {self.key!r} is not one cnisim selects on"
            f"{_hint(self.key, set(KARPENTER_REQUIREMENT_KEYS))}",
            self,
            "key",
        )
        _check(
            self.operator in _OPERATORS,
            f"operator {self.operator!r} is not one of {', '.join(_OPERATORS)}",
            self,
            "operator",
        )
        if self.operator in ("Gt", "Lt"):
            _check(
                len(self.values) == 1 and self.values[0].lstrip("-").isdigit(),
                f"{self.operator} takes one integer value, not {list(self.values)}",
                self,
                "values",
            )
        if self.operator in ("In", "NotIn"):
            _check(bool(self.values), f"{self.operator} needs at least one value", self, "values")


@dataclass(frozen=True)
class NodePool:
    """A Karpenter NodePool: which instances it may launch, how many, and its disruption.

    Attributes
    ----------
    name : str
        NodePool name (its nodes are reported under it).
    node_class : str
        ``nodeClassRef.name``: the EC2NodeClass of its nodes.
    requirements : tuple of Requirement
        All must hold for an instance type (and zone, capacity type) to be launched.
    limit_cpu_millicores, limit_memory_mib : float
        ``limits``: the pool's nodes' total capacity stays within them [millicores], [MiB].
    consolidation_policy : {"WhenEmptyOrUnderutilized", "WhenEmpty"}
        ``disruption.consolidationPolicy``.
    consolidate_after_s : float
        ``disruption.consolidateAfter`` [s].
    budget_nodes_frac : float
        ``disruption.budgets[0].nodes`` as a fraction of the pool's nodes [0, 1].
    """

    name: str
    node_class: str = "default"
    requirements: tuple[Requirement, ...] = ()
    limit_cpu_millicores: float = math.inf
    limit_memory_mib: float = math.inf
    consolidation_policy: Literal["WhenEmptyOrUnderutilized", "WhenEmpty"] = (
        "WhenEmptyOrUnderutilized"
    )
    consolidate_after_s: float = 0.0
    budget_nodes_frac: float = 0.1

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(bool(self.name), "a NodePool needs a name", self, "name")
        for requirement in self.requirements:
            requirement.check()
        for attr in ("limit_cpu_millicores", "limit_memory_mib"):
            value = getattr(self, attr)
            _check(value > 0, f"limit {value:g} is not positive: raise it or drop it", self, attr)
        _check(
            self.consolidation_policy in ("WhenEmptyOrUnderutilized", "WhenEmpty"),
            f"consolidationPolicy {self.consolidation_policy!r} is not WhenEmptyOrUnderutilized"
            " or WhenEmpty",
            self,
            "consolidation_policy",
        )
        _check_seconds(self, "consolidate_after_s")
        _check(
            0.0 <= self.budget_nodes_frac <= 1.0,
            f"budget {self.budget_nodes_frac:g} is not a fraction of nodes: write e.g. 10%",
            self,
            "budget_nodes_frac",
        )


@dataclass(frozen=True)
class SubnetSelectorTerm:
    """One EC2NodeClass ``subnetSelectorTerms`` entry: a subnet id, or tags that all match
    (a tag value ``*`` matches any value). Terms are ORed."""

    id: str | None = None
    tags: Mapping[str, str] = field(default_factory=_frozen_map)

    def __post_init__(self) -> None:
        _freeze(self, "tags")

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(
            (self.id is None) != (not self.tags),
            "a subnet selector term takes an id or tags (one of them)",
            self,
            "id",
        )

    def selects(self, subnet: Subnet) -> bool:
        """Whether the term selects the subnet."""
        if self.id is not None:
            return subnet.id == self.id
        return all(
            key in subnet.tags and value in ("*", subnet.tags[key])
            for key, value in self.tags.items()
        )


@dataclass(frozen=True)
class EC2NodeClass:
    """A Karpenter EC2NodeClass: its nodes' subnets and kubelet pod density.

    Attributes
    ----------
    name : str
        EC2NodeClass name.
    subnet_selector_terms : tuple of SubnetSelectorTerm
        Which VPC subnets its nodes launch into.
    max_pods : int or None
        ``kubelet.maxPods`` [pods]; None: the ENI-limited value of each type (Karpenter's
        default, uncapped).
    pods_per_core : int or None
        ``kubelet.podsPerCore`` [pods per vCPU]; caps max pods at this x vCPUs.
    """

    name: str
    subnet_selector_terms: tuple[SubnetSelectorTerm, ...]
    max_pods: int | None = None
    pods_per_core: int | None = None

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(bool(self.name), "an EC2NodeClass needs a name", self, "name")
        _check(
            bool(self.subnet_selector_terms),
            f"EC2NodeClass {self.name} has no subnetSelectorTerms: select subnets by tags or id",
            self,
            "subnet_selector_terms",
        )
        for term in self.subnet_selector_terms:
            term.check()
        if self.max_pods is not None:
            _check_count(self, "max_pods", 1, MAX_PODS_PER_NODE_LIMIT)
        if self.pods_per_core is not None:
            _check_count(self, "pods_per_core", 1, MAX_PODS_PER_NODE_LIMIT)

    def subnets(self, vpc: Vpc) -> tuple[str, ...]:
        """The VPC subnets its selector terms select, in the VPC's order."""
        return tuple(
            s.id for s in vpc.subnets if any(t.selects(s) for t in self.subnet_selector_terms)
        )


@dataclass(frozen=True)
class Karpenter:
    """Karpenter as the cluster's provisioner, beside (or instead of) node groups.

    Attributes
    ----------
    node_pools : tuple of NodePool
        In the order Karpenter tries them.
    node_classes : tuple of EC2NodeClass
        The EC2NodeClasses the pools name.
    prices_usd_per_hour : mapping of str to float
        Instance type -> on-demand price [USD/h], over the shipped table.
    batch_idle_s, batch_max_s : float
        ``BATCH_IDLE_DURATION`` and ``BATCH_MAX_DURATION`` [s].
    boot : BootTime
        Launch-to-Ready time of its nodes.
    """

    node_pools: tuple[NodePool, ...]
    node_classes: tuple[EC2NodeClass, ...]
    prices_usd_per_hour: Mapping[str, float] = field(default_factory=dict)
    batch_idle_s: float = 1.0
    batch_max_s: float = 10.0
    boot: BootTime = BootTime()

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "prices_usd_per_hour", MappingProxyType(dict(self.prices_usd_per_hour))
        )

    def check(self) -> None:
        """Raise :class:`PlanError` naming this object and the attribute at fault."""
        _check(bool(self.node_pools), "karpenter has no NodePool: add one", self, "node_pools")
        classes = {node_class.name: node_class for node_class in self.node_classes}
        _check(
            len(classes) == len(self.node_classes),
            "two EC2NodeClasses of one name: give each its own",
            self,
            "node_classes",
        )
        for node_class in self.node_classes:
            node_class.check()
        names: set[str] = set()
        for pool in self.node_pools:
            pool.check()
            _check(
                pool.name not in names,
                f"NodePool {pool.name} twice: give each its own name",
                pool,
                "name",
            )
            names.add(pool.name)
            _check(
                pool.node_class in classes,
                f"NodePool {pool.name} names EC2NodeClass {pool.node_class}, which karpenter"
                f" does not have{_hint(pool.node_class, set(classes))}",
                pool,
                "node_class",
            )
        for instance_type, price in self.prices_usd_per_hour.items():
            _check(
                math.isfinite(price) and price > 0,
                f"price {price:g} of {instance_type} is not a positive number of USD per hour",
                self,
                "prices_usd_per_hour",
            )
        _check_seconds(self, "batch_idle_s", positive=True)
        _check_seconds(self, "batch_max_s", positive=True)
        _check(
            self.batch_idle_s <= self.batch_max_s,
            f"batchIdleDuration {self.batch_idle_s:g} s is above batchMaxDuration"
            f" {self.batch_max_s:g} s: keep it at or below",
            self,
            "batch_idle_s",
        )
        self.boot.check()

    def check_subnets(self, vpc: Vpc) -> None:
        """Raise :class:`PlanError` for a subnet selector that selects nothing in ``vpc``."""
        for node_class in self.node_classes:
            for term in node_class.subnet_selector_terms:
                _check(
                    term.id is None or any(s.id == term.id for s in vpc.subnets),
                    f"EC2NodeClass {node_class.name} selects subnet {term.id}, which the VPC does"
                    " not have",
                    term,
                    "id",
                )
            _check(
                bool(node_class.subnets(vpc)),
                f"EC2NodeClass {node_class.name}'s subnetSelectorTerms select no subnet of the"
                " VPC: tag the subnets or name them by id",
                node_class,
                "subnet_selector_terms",
            )

    def node_class(self, name: str) -> EC2NodeClass:
        """The EC2NodeClass of a name."""
        return next(c for c in self.node_classes if c.name == name)


@dataclass(frozen=True)
class Plan:
    """A cluster to simulate.

    Attributes
    ----------
    vpc : Vpc
        VPC CIDRs and subnets.
    node_groups : tuple of NodeGroup
        Node groups.
    aws_node : AwsNode
        Cluster-wide aws-node settings.
    scheduler : Scheduler
        Scoring strategy.
    workloads : tuple of Workload
        The user's workloads (the plan's and those of ``--workload`` files).
    coredns : Deployment or None
        CoreDNS, on every EKS cluster: :data:`COREDNS` (2 replicas, 100m, 70Mi) unless the
        plan changes or removes it (None). The simulator adds it to the workloads.
    run : Run
        Duration, tick, sampling, seed.
    autoscaler : Autoscaler
        The node autoscaler (none by default, as EKS and eksctl install none).
    region : str
        AWS Region.
    cni_version : str
        VPC CNI version.
    ip_family : {"IPv4", "IPv6"}
        eksctl ``kubernetesNetworkConfig.ipFamily``; with IPv6 pods take no IPv4 address.
    source : str
        Where the plan came from (file path), for messages.
    sha256 : str
        SHA-256 of the source file's bytes ("" when built in memory).
    name : str
        Cluster name (eksctl ``metadata.name``).
    notes : tuple of str
        Assumptions cnisim made reading the file and values ipamd would coerce (one line each,
        shown to the user).
    fargate_profiles : tuple of FargateProfile
        Fargate profiles (``cnisim.sim.fargate``).
    holders : tuple of AddressHolder
        Load balancers, interface endpoints and NAT gateways (``cnisim.sim.holders``; the
        load balancers of LoadBalancer Services come from the workloads).
    control_plane : ControlPlane or None
        The EKS control plane's ENIs; None: not modelled.
    events : tuple of UpgradeEvent
        Version updates scheduled in the run.
    karpenter : Karpenter or None
        Karpenter's NodePools and EC2NodeClasses; None: no Karpenter.

    Raises
    ------
    PlanError
        On construction, for a node group in a subnet the VPC does not have, custom networking
        without an ENIConfig subnet in a zone of a node group, two node groups of one name, or
        aws-node settings ipamd refuses (see :meth:`ipamd_config`).
    """

    vpc: Vpc
    node_groups: tuple[NodeGroup, ...]
    aws_node: AwsNode = AwsNode()
    scheduler: Scheduler = Scheduler()
    workloads: tuple[Workload, ...] = ()
    run: Run = Run()
    region: str = "us-east-1"
    cni_version: str = DEFAULT_CNI_VERSION
    ip_family: Literal["IPv4", "IPv6"] = "IPv4"
    source: str = "<plan>"
    sha256: str = ""
    coredns: Deployment | None = COREDNS
    name: str = "cluster"
    notes: tuple[str, ...] = ()
    fargate_profiles: tuple[FargateProfile, ...] = ()
    holders: tuple[AddressHolder, ...] = ()
    control_plane: ControlPlane | None = None
    autoscaler: Autoscaler = Autoscaler()
    events: tuple[UpgradeEvent, ...] = ()
    karpenter: Karpenter | None = None

    def __post_init__(self) -> None:
        # Every Plan is checked whole; its parts can be built freely and checked on their own.
        self.vpc.check()
        parts = (*self.node_groups, *self.all_workloads, self.scheduler, self.run, self.autoscaler)
        for part in parts:
            part.check()
        _check_holders(self)
        _check(
            self.ip_family in ("IPv4", "IPv6"),
            f"ipFamily {self.ip_family!r} is not IPv4 or IPv6",
            self,
            "ip_family",
        )
        for subnet in self.vpc.subnets:
            _check(
                region_of_zone(subnet.az) in (self.region, None),
                f"zone {subnet.az} of subnet {subnet.id} is not in region {self.region}: set the"
                f" region to {region_of_zone(subnet.az)} or fix the zone",
                subnet,
                "az",
            )
        subnet_ids = {subnet.id for subnet in self.vpc.subnets}
        for az, subnet_id in self.aws_node.eni_configs.items():
            _check(
                subnet_id in subnet_ids,
                f"ENIConfig of {az} names subnet {subnet_id}, which the VPC does not have",
                self.aws_node,
                "eni_configs",
            )
            _check(
                self.vpc.subnet(subnet_id).az == az,
                f"ENIConfig of {az} names subnet {subnet_id}, which is in"
                f" {self.vpc.subnet(subnet_id).az}: an ENIConfig's subnet is in its own zone",
                self.aws_node,
                "eni_configs",
            )
        names: set[str] = set()
        for group in self.node_groups:
            _check(
                group.name not in names,
                f"node group {group.name} twice: give each its own name",
                group,
                "name",
            )
            names.add(group.name)
            for subnet_id in group.subnets:
                _check(
                    subnet_id in subnet_ids,
                    f"node group {group.name} names subnet {subnet_id}, which the VPC does not"
                    f" have{_hint(subnet_id, subnet_ids)}",
                    group,
                    "subnets",
                )
            config = self.ipamd_config(group)
            # An IPv6 cluster's aws-node runs with ENABLE_IPv6=true and prefixes (EKS user
            # guide, "IPv6 addresses"); ipamd itself refuses IPv6 without them.
            _check(
                config.enable_ipv6 == (self.ip_family == "IPv6"),
                f"node group {group.name}: ipFamily {self.ip_family} with ENABLE_IPv6="
                f"{str(config.enable_ipv6).lower()}: "
                + (
                    "set ENABLE_IPv6=true, ENABLE_IPv4=false and ENABLE_PREFIX_DELEGATION=true"
                    if self.ip_family == "IPv6"
                    else "set ipFamily: IPv6 for an IPv6 cluster, or drop ENABLE_IPv6"
                ),
                self,
                "ip_family",
            )
            if config.custom_network_cfg:
                for az in dict.fromkeys(self.vpc.subnet(sid).az for sid in group.subnets):
                    _check(
                        az in self.aws_node.eni_configs,
                        f"custom networking is on for node group {group.name} but zone {az} has"
                        " no ENIConfig subnet: add it to awsNode.eniConfigs",
                        group,
                        "subnets",
                    )
        self._check_events(names)
        if self.karpenter is not None:
            self.karpenter.check()
            self.karpenter.check_subnets(self.vpc)

    def _check_events(self, group_names: set[str]) -> None:
        managed = {group.name for group in self.node_groups if group.managed}
        for event in self.events:
            event.check()
            name = event.node_group
            _check(
                name is None or name in group_names,
                f"upgrade names node group {name}, which the plan does not have"
                f"{_hint(name or '', group_names)}",
                event,
                "upgrade",
            )
            _check(
                name is None or name in managed,
                f"node group {name} is self-managed: EKS updates managed node groups only",
                event,
                "upgrade",
            )

    def cluster_subnets(self) -> tuple[str, ...]:
        """The EKS cluster's subnets: the control plane's, else every node group's (VPC order)."""
        if self.control_plane is not None and self.control_plane.subnets:
            return self.control_plane.subnets
        used = {subnet_id for group in self.node_groups for subnet_id in group.subnets}
        return tuple(subnet.id for subnet in self.vpc.subnets if subnet.id in used)

    def aws_node_env(self, group: NodeGroup) -> dict[str, str]:
        """The aws-node environment of one node group: the cluster's, then the group's over it."""
        return {**self.aws_node.env, **group.aws_node_env}

    def ipamd_config(self, group: NodeGroup) -> IpamdConfig:
        """ipamd's settings on one node group's nodes, parsed as ipamd does.

        Raises
        ------
        PlanError
            A variable ipamd does not know or a combination it refuses (the node would not
            start), naming the group.

        References
        ----------
        aws/amazon-vpc-cni-k8s ``pkg/ipamd/ipamd.go`` (through :meth:`IpamdConfig.from_env`).
        """
        try:
            return IpamdConfig.from_env(self.aws_node_env(group))
        except PlanError:
            raise
        except UsageError as exc:
            attr = "aws_node_env" if group.aws_node_env else "env"
            obj: object = group if group.aws_node_env else self.aws_node
            raise PlanError(f"{exc} (node group {group.name})", obj=obj, attr=attr) from None

    def ipamd_warnings(self) -> tuple[str, ...]:
        """What ipamd would coerce or ignore in the aws-node settings, once per node group."""
        return tuple(
            f"node group {group.name}: {warning}"
            for group in self.node_groups
            for warning in self.ipamd_config(group).warnings
        )

    @property
    def all_workloads(self) -> tuple[Workload, ...]:
        """CoreDNS (unless removed), then the user's workloads."""
        return (self.coredns, *self.workloads) if self.coredns is not None else self.workloads


def _check_holders(plan: Plan) -> None:
    """Fargate profiles, address holders and the control plane name subnets the VPC has, in
    the places AWS allows."""
    subnet_ids = {subnet.id for subnet in plan.vpc.subnets}
    names: set[str] = set()
    for profile in plan.fargate_profiles:
        profile.check()
        _check(
            profile.name not in names,
            f"Fargate profile {profile.name} twice: give each its own name",
            profile,
            "name",
        )
        names.add(profile.name)
        for subnet_id in profile.subnets:
            _check(
                subnet_id in subnet_ids,
                f"Fargate profile {profile.name} names subnet {subnet_id}, which the VPC does"
                f" not have{_hint(subnet_id, subnet_ids)}",
                profile,
                "subnets",
            )
            # EKS CreateFargateProfile refuses public subnets (Fargate pods run in private ones)
            _check(
                not plan.vpc.subnet(subnet_id).public,
                f"Fargate profile {profile.name} names public subnet {subnet_id}: Fargate takes"
                " private subnets only",
                profile,
                "subnets",
            )
    names = set()
    for holder in plan.holders:
        holder.check()
        _check(
            holder.name not in names,
            f"{holder.name} twice: give each load balancer, endpoint and NAT gateway its own name",
            holder,
            "name",
        )
        names.add(holder.name)
        for subnet_id in holder.subnets:
            _check(
                subnet_id in subnet_ids,
                f"{holder.name} names subnet {subnet_id}, which the VPC does not"
                f" have{_hint(subnet_id, subnet_ids)}",
                holder,
                "subnets",
            )
        zones = [plan.vpc.subnet(subnet_id).az for subnet_id in holder.subnets]
        if holder.kind != "nat-gateway":
            # ELB and PrivateLink: one subnet per Availability Zone
            _check(
                len(set(zones)) == len(zones),
                f"{holder.name} has two subnets in one zone: a {holder.kind} takes one subnet"
                " per zone",
                holder,
                "subnets",
            )
        if holder.kind == "alb":
            # ELB CreateLoadBalancer: an ALB needs subnets in at least two zones
            _check(
                len(set(zones)) >= 2,
                f"ALB {holder.name} has subnets in one zone: an ALB needs two zones or more",
                holder,
                "subnets",
            )
    if plan.control_plane is not None:
        plan.control_plane.check()
        for subnet_id in plan.control_plane.subnets:
            _check(
                subnet_id in subnet_ids,
                f"controlPlane names subnet {subnet_id}, which the VPC does not"
                f" have{_hint(subnet_id, subnet_ids)}",
                plan.control_plane,
                "subnets",
            )


_ZONE_RE = re.compile(r"([a-z]{2}(?:-[a-z]+)+-[0-9]+)(?:-[a-z]+-[0-9]+)?[a-z]")


def region_of_zone(zone: str) -> str | None:
    """The Region of an availability (or local) zone name, or None if the name is not one.

    Examples
    --------
    >>> region_of_zone("us-east-1a"), region_of_zone("us-west-2-lax-1a"), region_of_zone("z")
    ('us-east-1', 'us-west-2', None)
    """
    match = _ZONE_RE.fullmatch(zone)
    return match.group(1) if match else None


DEFAULT_NODE_COUNT = 2
"""Nodes of a group that gives no size (eksctl ``DefaultNodeCount``, ``types.go``)."""


def resolve_sizes(
    min_size: int | None, desired_capacity: int | None, max_size: int | None
) -> tuple[int, int, int]:
    """Fill in the sizes a node group leaves out, as eksctl does.

    minSize defaults to desiredCapacity, else 2; maxSize to desiredCapacity, else minSize (and 1
    if that is 0); desiredCapacity to minSize.

    Returns
    -------
    tuple of int
        ``(min_size, desired_capacity, max_size)`` [nodes], not yet checked against each other.

    References
    ----------
    eksctl ``pkg/cfn/builder/nodegroup.go`` (self-managed) and
    ``pkg/apis/eksctl.io/v1alpha5/validation.go`` validateManagedNodeGroup (managed).

    Examples
    --------
    >>> resolve_sizes(None, None, None), resolve_sizes(None, 5, None), resolve_sizes(1, None, 10)
    ((2, 2, 2), (5, 5, 5), (1, 1, 10))
    """
    if min_size is None:
        min_size = DEFAULT_NODE_COUNT if desired_capacity is None else desired_capacity
    if max_size is None:
        max_size = min_size if desired_capacity is None else desired_capacity
        max_size = max_size or 1
    if desired_capacity is None:
        desired_capacity = min_size
    return min_size, desired_capacity, max_size


def _hint(name: str, known: set[str]) -> str:
    hint = did_you_mean(name, known)
    return f" ({hint})" if hint else ""


def check_instance_types(plan: Plan, catalog: Catalog) -> None:
    """Raise :class:`PlanError` for a node group instance type the catalog does not have.

    Parameters
    ----------
    plan : Plan
        The plan.
    catalog : Catalog
        Instance table, e.g. :func:`cnisim.catalog.load_catalog`.

    Raises
    ------
    PlanError
        Naming the node group and the closest known types.
    """
    from cnisim.catalog import UnknownInstanceType

    for group in plan.node_groups:
        try:
            catalog.locate(list(group.instance_types))
        except UnknownInstanceType as exc:
            message = f"node group {group.name}: {exc}"
            raise PlanError(message, obj=group, attr="instance_types") from None
