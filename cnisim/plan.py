"""The cluster plan that ``cnisim simulate`` runs: frozen dataclasses in cnisim's units, no I/O.

A :class:`Plan` is what a plan file (``apiVersion: cnisim/v1``, ``kind: Plan``) or an eksctl
``ClusterConfig`` becomes once parsed (``cnisim.io``): the VPC and its subnets, the aws-node
settings, node groups, the scheduler's scoring, workloads and the run's length and seed. Names
are snake_case with units here; the files keep the camelCase names users know.

The simulator builds on these classes only; readers of files build them. Defaults are those of
``docs/cluster-model.md`` (each with its source there).

References
----------
eksctl ``pkg/apis/eksctl.io/v1alpha5/types.go`` (node group fields); kubernetes
``pkg/apis/apps/v1/defaults.go`` (Deployment defaults); ``docs/cluster-model.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, TypeAlias

from cnisim.limits import DEFAULT_CNI_VERSION

__all__ = [
    "PLAN_API_VERSION",
    "AwsNode",
    "BootTime",
    "CidrReservation",
    "DaemonSet",
    "Deployment",
    "JobStream",
    "Lifetime",
    "NodeGroup",
    "Plan",
    "Resources",
    "Run",
    "Scheduler",
    "Subnet",
    "Vpc",
    "Workload",
]

PLAN_API_VERSION = "cnisim/v1"
"""The plan file version this cnisim reads (``apiVersion``)."""


def _frozen_map(values: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(values or {}))


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


@dataclass(frozen=True)
class Vpc:
    """The VPC: its CIDRs (primary first, then secondary ones) and subnets."""

    cidrs: tuple[str, ...]
    subnets: tuple[Subnet, ...]


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
    """

    name: str
    replicas: int
    requests: Resources = Resources()
    start_s: float = 0.0
    namespace: str = "default"
    labels: Mapping[str, str] = field(default_factory=_frozen_map)
    security_groups: bool = False
    host_network: bool = False


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


Workload: TypeAlias = Deployment | JobStream | DaemonSet


@dataclass(frozen=True)
class Scheduler:
    """kube-scheduler's scoring (EKS's scheduler profile cannot be changed; this is a what-if)."""

    scoring: Literal["LeastAllocated", "MostAllocated"] = "LeastAllocated"


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
        Workloads, CoreDNS's two replicas included unless the plan says otherwise.
    run : Run
        Duration, tick, sampling, seed.
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
    notes : tuple of str
        Assumptions cnisim made reading the file (one line each, shown to the user).
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
    notes: tuple[str, ...] = ()
