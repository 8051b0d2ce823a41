"""The native plan file (``apiVersion: cnisim/v1``, ``kind: Plan``) read into a :class:`Plan`.

The file speaks the vocabulary users know: camelCase keys as Kubernetes and eksctl write them,
the aws-node settings by their environment variable names, durations as ``90s``/``10m``/``2h``
and quantities as ``250m``/``512Mi``. :data:`SECTIONS` is the one field map: every key, its
type, its default and that default's source. The reader checks keys against it and
``cnisim.io.reference`` writes ``docs/plan-reference.md`` from it.

References
----------
``docs/cluster-model.md`` (defaults and their sources); eksctl
``pkg/apis/eksctl.io/v1alpha5/types.go`` (node group field names and defaults).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from cnisim.io._yaml import (
    Registry,
    Where,
    YamlMap,
    as_bool,
    as_cpu_millicores,
    as_duration_s,
    as_float,
    as_int,
    as_list,
    as_map,
    as_memory_mib,
    as_str,
    as_str_list,
    as_str_map,
    check_keys,
)
from cnisim.limits import DEFAULT_CNI_VERSION
from cnisim.plan import (
    ALB_ADDRESSES_PER_SUBNET,
    COREDNS,
    PLAN_API_VERSION,
    AddressHolder,
    Autoscaler,
    AwsNode,
    BootTime,
    CidrReservation,
    ControlPlane,
    DaemonSet,
    Deployment,
    Diurnal,
    EC2NodeClass,
    FargateProfile,
    FargateSelector,
    Hpa,
    JobStream,
    Karpenter,
    Lifetime,
    NodeGroup,
    NodePool,
    Plan,
    Requirement,
    Resources,
    RollingUpdate,
    Run,
    Scheduler,
    Service,
    Steps,
    Subnet,
    SubnetSelectorTerm,
    UpgradeEvent,
    Vpc,
    Workload,
    region_of_zone,
    resolve_sizes,
)

__all__ = [
    "PLAN_KIND",
    "SECTIONS",
    "WORKLOADS_KIND",
    "Field",
    "Section",
    "check_header",
    "plan_from_yaml",
    "workloads_from_yaml",
]

PLAN_KIND = "Plan"
WORKLOADS_KIND = "Workloads"

Converter = Callable[[Any, Where], Any]


@dataclass(frozen=True)
class Field:
    """One key of a plan file section.

    Attributes
    ----------
    key : str
        The key as the file writes it (camelCase).
    type : str
        Its type and unit, for the reference page.
    default : str
        The default as the file would write it, or ``"required"``.
    source : str
        Where the default comes from.
    doc : str
        What it means.
    attr : str or None
        The plan attribute it fills in directly, or None when the reader handles it itself.
    convert : callable or None
        ``convert(value, where)`` for ``attr``.
    """

    key: str
    type: str
    default: str
    source: str
    doc: str
    attr: str | None = None
    convert: Converter | None = None


@dataclass(frozen=True)
class Section:
    """A mapping of the plan file: its path (``nodeGroups[]``), what it is, its keys."""

    path: str
    doc: str
    fields: tuple[Field, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys the section accepts."""
        return tuple(f.key for f in self.fields)


def _enum(*options: str) -> Converter:
    def convert(value: Any, where: Where) -> str:
        text = as_str(value, where)
        if text not in options:
            raise where.error(f"{text!r} is not one of {', '.join(options)}")
        return text

    return convert


def _percent(value: Any, where: Where) -> float:
    text = as_str(value, where).strip()
    if not (text.endswith("%") and text[:-1].isdigit()):
        raise where.error(f"{text!r} is not a percentage of nodes: write e.g. 10%")
    return int(text[:-1]) / 100.0


def _per_minute_to_per_s(value: Any, where: Where) -> float:
    return as_float(value, where) / 60.0


def _int_or_percent(value: Any, where: Where) -> int | str:
    """A Kubernetes IntOrString of a rolling update: a whole number or a percent (``25%``)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise where.error(f"is {value!r}: write a whole number of pods or a percent such as 25%")
    return value


_CM = "cluster-model.md"
_K8S_APPS = "kubernetes pkg/apis/apps/v1/defaults.go"
_NO_REQUEST = "Kubernetes: no request is 0 for the scheduler"
_CA = f"{_CM} sec. 3 (cluster-autoscaler FAQ.md)"

SECTIONS: dict[str, Section] = {
    s.path: s
    for s in (
        Section(
            "",
            "The top level of a plan file.",
            (
                Field("apiVersion", "string", "required", "", f"{PLAN_API_VERSION}"),
                Field("kind", "string", "required", "", PLAN_KIND),
                Field("name", "string", "cluster", "cnisim", "Cluster name.", "name", as_str),
                Field(
                    "region",
                    "string",
                    "the subnets' Region, else us-east-1",
                    "their zone names (e.g. us-east-1a is in us-east-1)",
                    "AWS Region (zone names are `<region>a`, ...).",
                    "region",
                    as_str,
                ),
                Field(
                    "cniVersion",
                    "string",
                    DEFAULT_CNI_VERSION,
                    "the VPC CNI release cnisim's model follows (ipamd-model.md)",
                    "VPC CNI version.",
                    "cni_version",
                    as_str,
                ),
                Field(
                    "ipFamily",
                    "IPv4 or IPv6",
                    "IPv4",
                    "eksctl DefaultIPFamily (types.go)",
                    "With IPv6 pods take no IPv4 address (a /80 per node); nodes still do.",
                    "ip_family",
                    _enum("IPv4", "IPv6"),
                ),
                Field("vpc", "mapping", "required", "", "The VPC: see `vpc`."),
                Field("awsNode", "mapping", "{}", "", "aws-node settings: see `awsNode`."),
                Field("nodeGroups", "list", "required", "", "At least one: see `nodeGroups[]`."),
                Field("scheduler", "mapping", "{}", "", "See `scheduler`."),
                Field("workloads", "list", "[]", "", "See `workloads[]`."),
                Field(
                    "coreDNS",
                    "mapping or false",
                    "2 replicas",
                    f"{_CM} sec. 9 (the EKS add-on)",
                    "CoreDNS, on every EKS cluster; `false` removes it. See `coreDNS`.",
                ),
                Field("run", "mapping", "{}", "", "See `run`."),
                Field("fargateProfiles", "list", "[]", "", "See `fargateProfiles[]`."),
                Field("loadBalancers", "list", "[]", "", "See `loadBalancers[]`."),
                Field("vpcEndpoints", "list", "[]", "", "See `vpcEndpoints[]`."),
                Field("natGateways", "list", "[]", "", "See `natGateways[]`."),
                Field(
                    "controlPlane",
                    "mapping",
                    "none (not modelled)",
                    "",
                    "The EKS control plane's ENIs: see `controlPlane`.",
                ),
                Field("autoscaler", "mapping", "{}", "", "See `autoscaler`."),
                Field("events", "list", "[]", "", "Scheduled version updates: see `events[]`."),
                Field(
                    "karpenter",
                    "mapping",
                    "none",
                    "",
                    "Karpenter as a provisioner: see `karpenter`.",
                ),
            ),
        ),
        Section(
            "vpc",
            "The VPC: its CIDRs and subnets.",
            (
                Field(
                    "cidrs",
                    "list of IPv4 CIDRs",
                    "required",
                    "",
                    "Primary CIDR first, then secondary ones (e.g. 100.64.0.0/16 for custom"
                    " networking); /16 to /28, not overlapping.",
                ),
                Field("subnets", "list", "required", "", "See `vpc.subnets[]`."),
            ),
        ),
        Section(
            "vpc.subnets[]",
            "One subnet; each lies inside a VPC CIDR and overlaps no other.",
            (
                Field("id", "string", "required", "", "Subnet id, as node groups name it.", "id"),
                Field("az", "string", "required", "", "Availability zone.", "az"),
                Field("cidr", "IPv4 CIDR", "required", "", "/16 to /28.", "cidr"),
                Field(
                    "tags",
                    "mapping of strings",
                    "{}",
                    "",
                    '`kubernetes.io/role/cni: "1"` marks subnets for ipamd\'s subnet discovery.',
                    "tags",
                    as_str_map,
                ),
                Field(
                    "reservations",
                    "list",
                    "[]",
                    "",
                    "Subnet CIDR reservations: see `vpc.subnets[].reservations[]`.",
                ),
                Field(
                    "public",
                    "boolean",
                    "false",
                    "",
                    "A public subnet: node groups use it only when named in their `subnets`.",
                    "public",
                    as_bool,
                ),
            ),
        ),
        Section(
            "vpc.subnets[].reservations[]",
            "A subnet CIDR reservation (EC2 CreateSubnetCidrReservation).",
            (
                Field("cidr", "IPv4 CIDR", "required", "", "Inside the subnet.", "cidr"),
                Field(
                    "type",
                    "prefix or explicit",
                    "required",
                    "",
                    "`prefix`: EC2 hands these addresses out only as /28 prefixes; `explicit`:"
                    " EC2 never picks them itself.",
                    "type",
                    _enum("prefix", "explicit"),
                ),
            ),
        ),
        Section(
            "awsNode",
            "The aws-node DaemonSet of the cluster.",
            (
                Field(
                    "env",
                    "mapping of strings",
                    "{}",
                    "aws-node manifest (amazon-vpc-cni-k8s config/master/aws-k8s-cni.yaml)",
                    "Environment variables by their names (WARM_IP_TARGET, ...); unset ones"
                    " take the manifest's value. A value ipamd would coerce is coerced, with a"
                    " note; a combination it refuses is an error.",
                    "env",
                    as_str_map,
                ),
                Field(
                    "eniConfigs",
                    "mapping zone -> subnet id",
                    "{}",
                    "",
                    "Custom networking: the pod subnet of each zone (its ENIConfig).",
                    "eni_configs",
                    as_str_map,
                ),
            ),
        ),
        Section(
            "nodeGroups[]",
            "A managed or self-managed node group (an Auto Scaling group).",
            (
                Field("name", "string", "required", "", "Unique name.", "name", as_str),
                Field(
                    "managed",
                    "boolean",
                    "true",
                    "eksctl (managedNodeGroups is its default kind)",
                    "A managed node group sets max pods itself (110/250 cap, smallest of its"
                    " types).",
                    "managed",
                    as_bool,
                ),
                Field(
                    "instanceTypes",
                    "list of instance types",
                    "[m5.large]",
                    "eksctl DefaultNodeType (types.go)",
                    "The first is the one the cluster autoscaler reads.",
                    "instance_types",
                    as_str_list,
                ),
                Field(
                    "minSize",
                    "integer [nodes]",
                    "desiredCapacity, else 2",
                    "eksctl DefaultNodeCount and nodegroup.go",
                    "Auto Scaling group minimum.",
                    "min_size",
                    as_int,
                ),
                Field(
                    "desiredCapacity",
                    "integer [nodes]",
                    "minSize",
                    "eksctl nodegroup.go",
                    "Nodes at the start.",
                    "desired_capacity",
                    as_int,
                ),
                Field(
                    "maxSize",
                    "integer [nodes]",
                    "desiredCapacity, else minSize",
                    "eksctl nodegroup.go",
                    "Auto Scaling group maximum.",
                    "max_size",
                    as_int,
                ),
                Field(
                    "subnets",
                    "list of subnet ids",
                    "the VPC's private subnets",
                    f"{_CM} sec. 1",
                    "Subnets the group launches into (public ones only when named here).",
                ),
                Field(
                    "availabilityZones",
                    "list of zones",
                    "all zones",
                    "",
                    "Instead of `subnets`: the private subnets of these zones (each zone needs"
                    " one). ENIConfig pod subnets are never node subnets.",
                ),
                Field(
                    "maxPodsPerNode",
                    "integer [pods]",
                    "the AMI's or managed node group's",
                    "max-pods.md",
                    "kubelet maxPods (eksctl maxPodsPerNode).",
                    "max_pods_per_node",
                    as_int,
                ),
                Field(
                    "amiFamily",
                    "string",
                    "AmazonLinux2023",
                    "eksctl DefaultNodeImageFamily (types.go)",
                    "AmazonLinux2023, AmazonLinux2, Bottlerocket, ...",
                    "ami_family",
                    as_str,
                ),
                Field(
                    "awsNode",
                    "mapping",
                    "{}",
                    "",
                    "This group's aws-node `env`, over the cluster's `awsNode.env`.",
                ),
                Field(
                    "labels",
                    "mapping of strings",
                    "{}",
                    "",
                    "Node labels.",
                    "labels",
                    as_str_map,
                ),
                Field("bootTime", "mapping", "{}", "", "See `nodeGroups[].bootTime`."),
                Field("updateConfig", "mapping", "{}", "", "See `nodeGroups[].updateConfig`."),
            ),
        ),
        Section(
            "nodeGroups[].awsNode",
            "A node group's own aws-node settings.",
            (
                Field(
                    "env",
                    "mapping of strings",
                    "{}",
                    "",
                    "Variables over the cluster's.",
                    "env",
                    as_str_map,
                ),
            ),
        ),
        Section(
            "nodeGroups[].bootTime",
            "Launch to Ready, a lognormal distribution.",
            (
                Field(
                    "median",
                    "duration",
                    "60s",
                    f"{_CM} sec. 9 (reports in sec. 1)",
                    "Median launch-to-Ready time.",
                    "median_s",
                    as_duration_s,
                ),
                Field(
                    "p95",
                    "duration",
                    "150s",
                    f"{_CM} sec. 9",
                    "95th percentile.",
                    "p95_s",
                    as_duration_s,
                ),
            ),
        ),
        Section(
            "nodeGroups[].updateConfig",
            "Managed node group updates.",
            (
                Field(
                    "maxUnavailable",
                    "integer [nodes]",
                    "1",
                    f"{_CM} sec. 1 (EKS user guide, managed node update behavior)",
                    "Nodes drained at a time.",
                    "max_unavailable",
                    as_int,
                ),
            ),
        ),
        Section(
            "scheduler",
            "kube-scheduler's scoring (EKS's cannot be changed: a what-if).",
            (
                Field(
                    "scoring",
                    "LeastAllocated or MostAllocated",
                    "LeastAllocated",
                    f"{_CM} sec. 2 (kube-scheduler defaults)",
                    "NodeResourcesFit scoring strategy.",
                    "scoring",
                    _enum("LeastAllocated", "MostAllocated"),
                ),
            ),
        ),
        Section(
            "workloads[] (kind: Deployment)",
            "Pods that stay from `start` until the run ends.",
            (
                Field("kind", "Deployment", "required", "", "The workload kind."),
                Field("name", "string", "required", "", "Name.", "name", as_str),
                Field("namespace", "string", "default", "Kubernetes", "", "namespace", as_str),
                Field(
                    "replicas",
                    "integer [pods]",
                    "1",
                    _K8S_APPS,
                    "Pods.",
                    "replicas",
                    as_int,
                ),
                Field("requests", "mapping", "{}", "", "See `requests`."),
                Field("start", "duration", "0s", "", "Creation time.", "start_s", as_duration_s),
                Field("labels", "mapping of strings", "{}", "", "", "labels", as_str_map),
                Field(
                    "securityGroups",
                    "boolean",
                    "false",
                    "",
                    "Pods get branch ENIs (security groups for pods).",
                    "security_groups",
                    as_bool,
                ),
                Field(
                    "hostNetwork",
                    "boolean",
                    "false",
                    "",
                    "Host-network pods take a max-pods slot and no address.",
                    "host_network",
                    as_bool,
                ),
                Field(
                    "service",
                    "mapping",
                    "none",
                    "",
                    "A Service of type LoadBalancer: its NLB or ALB is created at `start`. See"
                    " `workloads[].service`.",
                ),
                Field(
                    "strategy",
                    "mapping",
                    "rollingUpdate 25% / 25%",
                    f"{_K8S_APPS} ({_CM} sec. 5)",
                    "See `strategy`.",
                ),
                Field(
                    "rollouts",
                    "list",
                    "[]",
                    "",
                    "When a new pod template rolls out: see `rollouts[]`.",
                ),
                Field(
                    "schedule",
                    "list",
                    "none",
                    "",
                    "Replicas from given times on: see `schedule[]`. At most one of `schedule`,"
                    " `diurnal` and `hpa`.",
                ),
                Field(
                    "diurnal", "mapping", "none", "", "Replicas on a daily curve: see `diurnal`."
                ),
                Field("hpa", "mapping", "none", "", "A HorizontalPodAutoscaler: see `hpa`."),
            ),
        ),
        Section(
            "workloads[].service",
            "A Service of type LoadBalancer, served by the AWS Load Balancer Controller: its"
            " load balancer takes one subnet per zone, found by the subnets'"
            " `kubernetes.io/role/internal-elb` (or `kubernetes.io/role/elb`) tags, else the"
            " private (or public) subnets, the first by id in each zone.",
            (
                Field(
                    "type",
                    "LoadBalancer",
                    "required",
                    "",
                    "Only LoadBalancer Services take subnet addresses.",
                    "type",
                    _enum("LoadBalancer"),
                ),
                Field(
                    "loadBalancerType",
                    "nlb or alb",
                    "nlb",
                    "AWS Load Balancer Controller (a Service gets an NLB)",
                    "An NLB, or an ALB (the Service behind an Ingress).",
                    "load_balancer_type",
                    _enum("nlb", "alb"),
                ),
                Field(
                    "scheme",
                    "internal or internet-facing",
                    "internal",
                    "AWS Load Balancer Controller (its default scheme)",
                    "Private or public subnets.",
                    "scheme",
                    _enum("internal", "internet-facing"),
                ),
            ),
        ),
        Section(
            "strategy",
            "A Deployment's update strategy (Kubernetes `spec.strategy`).",
            (
                Field(
                    "type",
                    "RollingUpdate",
                    "RollingUpdate",
                    _K8S_APPS,
                    "Only rolling updates are simulated (not Recreate).",
                ),
                Field("rollingUpdate", "mapping", "{}", "", "See `strategy.rollingUpdate`."),
            ),
        ),
        Section(
            "strategy.rollingUpdate",
            "Pods a rollout may add above `replicas` and take below it.",
            (
                Field(
                    "maxSurge",
                    "pods or percent of replicas",
                    "25%",
                    f"{_K8S_APPS} ({_CM} sec. 5)",
                    "A percent rounds up (Kubernetes ResolveFenceposts); not both 0.",
                    "max_surge",
                    _int_or_percent,
                ),
                Field(
                    "maxUnavailable",
                    "pods or percent of replicas",
                    "25%",
                    f"{_K8S_APPS} ({_CM} sec. 5)",
                    "A percent rounds down, at most 100%; if both round to 0 it is 1.",
                    "max_unavailable",
                    _int_or_percent,
                ),
            ),
        ),
        Section(
            "rollouts[]",
            "One rollout of a new pod template (a new ReplicaSet revision).",
            (
                Field(
                    "at",
                    "duration",
                    "required",
                    "",
                    "When it starts (not before the Deployment's `start`).",
                    "at_s",
                    as_duration_s,
                ),
            ),
        ),
        Section(
            "schedule[]",
            "The Deployment's replicas from a time on (its `replicas` before the first entry).",
            (
                Field("at", "duration", "required", "", "From when.", "at_s", as_duration_s),
                Field(
                    "replicas", "integer [pods]", "required", "", "Replicas.", "replicas", as_int
                ),
            ),
        ),
        Section(
            "diurnal",
            "Replicas = min + (max - min) (1 + cos(2 pi (t - peakAt) / period)) / 2, rounded to"
            " the nearest pod, set at `start` and every `every` after.",
            (
                Field("minReplicas", "integer [pods]", "required", "", "Least.", "low", as_int),
                Field("maxReplicas", "integer [pods]", "required", "", "Most.", "high", as_int),
                Field(
                    "peakAt",
                    "duration",
                    "required",
                    "",
                    "Time of the peak (14h: 2 pm if the run starts at midnight).",
                    "peak_at_s",
                    as_duration_s,
                ),
                Field(
                    "period", "duration", "24h", "cnisim", "One cycle.", "period_s", as_duration_s
                ),
                Field(
                    "every",
                    "duration",
                    "5m",
                    "cnisim",
                    "How often the replicas follow the curve.",
                    "every_s",
                    as_duration_s,
                ),
            ),
        ),
        Section(
            "hpa",
            "A HorizontalPodAutoscaler on CPU utilization (sync 15 s, tolerance 0.1, scale-down"
            " stabilization 5 min; cluster-model.md sec. 5). Needs `requests.cpu`.",
            (
                Field(
                    "minReplicas",
                    "integer [pods]",
                    "1",
                    "kubernetes pkg/apis/autoscaling/v1/defaults.go",
                    "Least replicas.",
                    "min_replicas",
                    as_int,
                ),
                Field(
                    "maxReplicas",
                    "integer [pods]",
                    "required",
                    "",
                    "Most replicas.",
                    "max_replicas",
                    as_int,
                ),
                Field(
                    "targetCPUUtilization",
                    "integer [%]",
                    "80",
                    "kubernetes pkg/apis/autoscaling/v1/defaults.go",
                    "Target CPU use over the pods' CPU requests.",
                    "target_cpu_utilization_percent",
                    as_int,
                ),
                Field(
                    "load",
                    "mapping",
                    "required",
                    "",
                    "The Deployment's total CPU use over time, shared by its available pods:"
                    " see `hpa.load`.",
                ),
            ),
        ),
        Section(
            "hpa.load",
            "Total CPU use [millicores] over time: one of `schedule` or `diurnal`.",
            (
                Field("schedule", "list", "none", "", "See `hpa.load.schedule[]`."),
                Field("diurnal", "mapping", "none", "", "See `hpa.load.diurnal`."),
            ),
        ),
        Section(
            "hpa.load.schedule[]",
            "The load from a time on (0 before the first entry).",
            (
                Field("at", "duration", "required", "", "From when.", "at_s", as_duration_s),
                Field(
                    "cpu",
                    "CPU quantity (4, 2500m)",
                    "required",
                    "",
                    "Total CPU use.",
                    "cpu_millicores",
                    as_cpu_millicores,
                ),
            ),
        ),
        Section(
            "hpa.load.diurnal",
            "Load = min + (max - min) (1 + cos(2 pi (t - peakAt) / period)) / 2, read at every"
            " sync of the HPA.",
            (
                Field("min", "CPU quantity", "required", "", "Least.", "low", as_cpu_millicores),
                Field("max", "CPU quantity", "required", "", "Most.", "high", as_cpu_millicores),
                Field(
                    "peakAt",
                    "duration",
                    "required",
                    "",
                    "Time of the peak.",
                    "peak_at_s",
                    as_duration_s,
                ),
                Field(
                    "period", "duration", "24h", "cnisim", "One cycle.", "period_s", as_duration_s
                ),
            ),
        ),
        Section(
            "workloads[] (kind: JobStream)",
            "Jobs arriving as a Poisson process, one pod each.",
            (
                Field("kind", "JobStream", "required", "", "The workload kind."),
                Field("name", "string", "required", "", "Name.", "name", as_str),
                Field("namespace", "string", "default", "Kubernetes", "", "namespace", as_str),
                Field(
                    "arrivalsPerMinute",
                    "number [1/min]",
                    "required",
                    "",
                    "Mean arrival rate.",
                    "arrivals_per_s",
                    _per_minute_to_per_s,
                ),
                Field("lifetime", "mapping", "required", "", "See `lifetime`."),
                Field("requests", "mapping", "{}", "", "See `requests`."),
                Field("start", "duration", "0s", "", "First arrivals.", "start_s", as_duration_s),
                Field(
                    "stop",
                    "duration",
                    "the end of the run",
                    "",
                    "No arrivals from then on.",
                    "stop_s",
                    as_duration_s,
                ),
                Field("labels", "mapping of strings", "{}", "", "", "labels", as_str_map),
                Field(
                    "securityGroups",
                    "boolean",
                    "false",
                    "",
                    "Pods get branch ENIs.",
                    "security_groups",
                    as_bool,
                ),
            ),
        ),
        Section(
            "workloads[] (kind: DaemonSet)",
            "One pod on every node.",
            (
                Field("kind", "DaemonSet", "required", "", "The workload kind."),
                Field("name", "string", "required", "", "Name.", "name", as_str),
                Field("namespace", "string", "default", "Kubernetes", "", "namespace", as_str),
                Field("requests", "mapping", "{}", "", "See `requests`."),
                Field(
                    "hostNetwork",
                    "boolean",
                    "false",
                    "",
                    "Host-network pods take a max-pods slot and no address; others take an"
                    " address on every node.",
                    "host_network",
                    as_bool,
                ),
            ),
        ),
        Section(
            "lifetime",
            "How long a Job's pod runs.",
            (
                Field(
                    "distribution",
                    "exponential, lognormal or fixed",
                    "exponential",
                    f"{_CM} sec. 5",
                    "Shape.",
                    "distribution",
                    _enum("exponential", "lognormal", "fixed"),
                ),
                Field(
                    "mean",
                    "duration",
                    "required",
                    "",
                    "Mean (exponential), median (lognormal) or the value (fixed).",
                    "mean_s",
                    as_duration_s,
                ),
                Field(
                    "p95",
                    "duration",
                    "none",
                    "",
                    "95th percentile, lognormal only (then required).",
                    "p95_s",
                    as_duration_s,
                ),
            ),
        ),
        Section(
            "requests",
            "A pod's resource requests (Kubernetes `resources.requests`).",
            (
                Field(
                    "cpu",
                    "CPU quantity (250m, 0.5)",
                    "0",
                    _NO_REQUEST,
                    "",
                    "cpu_millicores",
                    as_cpu_millicores,
                ),
                Field(
                    "memory",
                    "memory quantity (512Mi, 1Gi)",
                    "0",
                    _NO_REQUEST,
                    "",
                    "memory_mib",
                    as_memory_mib,
                ),
            ),
        ),
        Section(
            "coreDNS",
            "CoreDNS (namespace kube-system), added to the workloads.",
            (
                Field(
                    "replicas",
                    "integer [pods]",
                    "2",
                    f"{_CM} sec. 9 (the EKS add-on)",
                    "0 removes it, as `coreDNS: false` does.",
                    "replicas",
                    as_int,
                ),
                Field(
                    "requests",
                    "mapping",
                    "cpu 100m, memory 70Mi",
                    f"{_CM} sec. 9 (the EKS add-on)",
                    "See `requests`.",
                ),
            ),
        ),
        Section(
            "autoscaler",
            "The node autoscaler; cluster-autoscaler's flags in camelCase.",
            (
                Field(
                    "kind",
                    "none or cluster-autoscaler",
                    "none",
                    "EKS and eksctl install no autoscaler",
                    "`cnisim simulate --autoscaler` overrides it.",
                    "kind",
                    _enum("none", "cluster-autoscaler"),
                ),
                Field(
                    "scanInterval",
                    "duration",
                    "10s",
                    _CA,
                    "How often the cluster is re-evaluated.",
                    "scan_interval_s",
                    as_duration_s,
                ),
                Field(
                    "scaleDownEnabled",
                    "boolean",
                    "true",
                    _CA,
                    "Remove unneeded nodes.",
                    "scale_down_enabled",
                    as_bool,
                ),
                Field(
                    "scaleDownUnneededTime",
                    "duration",
                    "10m",
                    _CA,
                    "How long a node is unneeded before it is removed.",
                    "scale_down_unneeded_time_s",
                    as_duration_s,
                ),
                Field(
                    "scaleDownUtilizationThreshold",
                    "fraction, 0 to 1",
                    "0.5",
                    _CA,
                    "Below it (the larger of CPU and memory requests over allocatable) a node"
                    " may be unneeded.",
                    "scale_down_utilization_threshold_frac",
                    as_float,
                ),
                Field(
                    "scaleDownDelayAfterAdd",
                    "duration",
                    "10m",
                    _CA,
                    "No scale-down this long after a scale-up.",
                    "scale_down_delay_after_add_s",
                    as_duration_s,
                ),
                Field(
                    "maxNodeProvisionTime",
                    "duration",
                    "15m",
                    _CA,
                    "A scale-up whose nodes are not Ready by then failed (the group backs off).",
                    "max_node_provision_time_s",
                    as_duration_s,
                ),
                Field(
                    "expander",
                    "least-waste or random",
                    "least-waste",
                    "cluster-autoscaler config/flags.go",
                    "How the node group to grow is chosen.",
                    "expander",
                    _enum("least-waste", "random"),
                ),
                Field(
                    "maxEmptyBulkDelete",
                    "integer [nodes]",
                    "10",
                    _CA,
                    "Empty nodes removed at once (others one at a time).",
                    "max_empty_bulk_delete",
                    as_int,
                ),
                Field(
                    "ignoreDaemonsetsUtilization",
                    "boolean",
                    "false",
                    _CA,
                    "Leave DaemonSet pods out of a node's utilization.",
                    "ignore_daemonsets_utilization",
                    as_bool,
                ),
                Field(
                    "initialNodeGroupBackoffDuration",
                    "duration",
                    "5m",
                    f"{_CM} sec. 3",
                    "A group whose scale-up failed is skipped this long, doubling per failure.",
                    "initial_node_group_backoff_s",
                    as_duration_s,
                ),
                Field(
                    "maxNodeGroupBackoffDuration",
                    "duration",
                    "30m",
                    f"{_CM} sec. 3",
                    "The longest such backoff.",
                    "max_node_group_backoff_s",
                    as_duration_s,
                ),
            ),
        ),
        Section(
            "run",
            "The simulation's length, tick, sampling and seed.",
            (
                Field(
                    "duration",
                    "duration",
                    "2h",
                    "cnisim",
                    "Simulated time (`--duration`).",
                    "duration_s",
                    as_duration_s,
                ),
                Field("tick", "duration", "1s", "cnisim", "Tick length.", "tick_s", as_duration_s),
                Field(
                    "sampleEvery",
                    "duration",
                    "60s",
                    "issue 8 (sampling every 60 s or less)",
                    "Time series sampling period.",
                    "sample_every_s",
                    as_duration_s,
                ),
                Field("seed", "integer", "0", "cnisim", "Run seed (`--seed`).", "seed", as_int),
            ),
        ),
        Section(
            "fargateProfiles[]",
            "A Fargate profile: pods its selectors match run on Fargate, not on the node"
            " groups: one address each in the profile's subnets, no warm pool.",
            (
                Field("name", "string", "required", "", "Unique name.", "name", as_str),
                Field(
                    "selectors",
                    "list",
                    "required",
                    "EKS CreateFargateProfile (1 to 5 selectors)",
                    "A pod matching any selector runs here. See `fargateProfiles[].selectors[]`.",
                ),
                Field(
                    "subnets",
                    "list of subnet ids",
                    "the VPC's private subnets",
                    "eksctl (a profile without subnets takes the cluster's private subnets)",
                    "Private subnets only (EKS refuses public ones).",
                ),
                Field(
                    "startDelay",
                    "duration",
                    "40s",
                    f"{_CM} sec. 1 (30-45 s to create and register; no image pull)",
                    "From a pod's creation to its start; its address is held from creation.",
                    "start_delay_s",
                    as_duration_s,
                ),
            ),
        ),
        Section(
            "fargateProfiles[].selectors[]",
            "Which pods a profile takes: all of `labels` in `namespace`.",
            (
                Field(
                    "namespace",
                    "string",
                    "required",
                    "",
                    "Namespace; `*` and `?` are wildcards.",
                    "namespace",
                    as_str,
                ),
                Field(
                    "labels",
                    "mapping of strings",
                    "{}",
                    "EKS CreateFargateProfile (at most 5)",
                    "Labels the pod must carry (values may use wildcards).",
                    "labels",
                    as_str_map,
                ),
            ),
        ),
        Section(
            "loadBalancers[]",
            "An ALB or NLB not made by a workload's Service (those come from"
            " `workloads[].service`).",
            (
                Field("name", "string", "required", "", "Unique name.", "name", as_str),
                Field(
                    "type",
                    "alb or nlb",
                    "required",
                    "",
                    "ALB: 8 addresses per subnet at rest and more under load; NLB: one ENI per"
                    " subnet.",
                    "kind",
                    _enum("alb", "nlb"),
                ),
                Field(
                    "subnets",
                    "list of subnet ids",
                    "one private subnet per zone",
                    "AWS Load Balancer Controller subnet discovery",
                    "One per zone (an ALB needs two zones or more).",
                ),
                Field("start", "duration", "0s", "", "Creation time.", "start_s", as_duration_s),
                Field(
                    "stop",
                    "duration",
                    "never",
                    "",
                    "Deletion time (its addresses return).",
                    "stop_s",
                    as_duration_s,
                ),
                Field(
                    "addressesPerSubnet",
                    "integer [addresses]",
                    f"{ALB_ADDRESSES_PER_SUBNET} (ALB), 1 (NLB)",
                    f"{_CM} sec. 6 and 9 (ELB asks for 8 free per subnet)",
                    "An ALB's addresses per subnet at rest; creating it needs this many free"
                    " in each subnet (and at least 8).",
                    "addresses_per_subnet",
                    as_int,
                ),
                Field(
                    "scaling",
                    "list",
                    "[]",
                    f"{_CM} sec. 9 (AWS does not publish how an ALB grows)",
                    "An ALB under load: `[{at: 30m, addressesPerSubnet: 20}, ...]`, in time"
                    " order. See `loadBalancers[].scaling[]`.",
                ),
            ),
        ),
        Section(
            "loadBalancers[].scaling[]",
            "One step of an ALB's load: from `at` it holds `addressesPerSubnet` in each subnet.",
            (
                Field("at", "duration", "required", "", "When.", "at_s", as_duration_s),
                Field(
                    "addressesPerSubnet",
                    "integer [addresses]",
                    "required",
                    "",
                    "Addresses per subnet from then on.",
                    "n",
                    as_int,
                ),
            ),
        ),
        Section(
            "vpcEndpoints[]",
            "An interface VPC endpoint (PrivateLink): one ENI, one address, in each subnet.",
            (
                Field(
                    "name",
                    "string",
                    "required",
                    "",
                    "Unique name, e.g. its service (com.amazonaws.us-east-1.ecr.api).",
                    "name",
                    as_str,
                ),
                Field(
                    "subnets",
                    "list of subnet ids",
                    "one private subnet per zone",
                    f"{_CM} sec. 6",
                    "One per zone.",
                ),
                Field("start", "duration", "0s", "", "Creation time.", "start_s", as_duration_s),
                Field("stop", "duration", "never", "", "Deletion time.", "stop_s", as_duration_s),
            ),
        ),
        Section(
            "natGateways[]",
            "NAT gateways: one in each subnet named, one address each.",
            (
                Field("name", "string", "required", "", "Unique name.", "name", as_str),
                Field(
                    "subnets",
                    "list of subnet ids",
                    "required",
                    f"{_CM} sec. 6 (eksctl: one NAT gateway, in a public subnet)",
                    "Usually public subnets.",
                ),
                Field("start", "duration", "0s", "", "Creation time.", "start_s", as_duration_s),
                Field("stop", "duration", "never", "", "Deletion time.", "stop_s", as_duration_s),
            ),
        ),
        Section(
            "controlPlane",
            "The EKS control plane's cross-account ENIs in the cluster subnets, from the"
            " start; the report says when a cluster subnet had fewer free addresses than EKS"
            " requires (6, 16 recommended) or an upgrade needs (5).",
            (
                Field(
                    "enis",
                    "integer [ENIs]",
                    "2",
                    f"{_CM} sec. 6 and 9 (EKS creates 2-4)",
                    "One address each, round-robin over the subnets.",
                    "n_enis",
                    as_int,
                ),
                Field(
                    "subnets",
                    "list of subnet ids",
                    "the node groups' subnets",
                    "",
                    "The cluster subnets.",
                ),
                Field(
                    "upgradeAt",
                    "duration",
                    "none",
                    "",
                    "A cluster version upgrade: new ENIs next to the old ones (EKS refuses it,"
                    " InsufficientFreeAddresses, when a cluster subnet has fewer than 5 free).",
                    "upgrade_at_s",
                    as_duration_s,
                ),
                Field(
                    "upgradeOverlap",
                    "duration",
                    "10m",
                    "cnisim (AWS publishes no figure)",
                    "How long old and new ENIs coexist during an upgrade.",
                    "upgrade_overlap_s",
                    as_duration_s,
                ),
            ),
        ),
        Section(
            "karpenter",
            "Karpenter: NodePools and EC2NodeClasses, written here or in a manifest file.",
            (
                Field(
                    "manifests",
                    "path",
                    "none",
                    "",
                    "A multi-document YAML file of karpenter.sh/v1 NodePools and"
                    " karpenter.k8s.aws/v1 EC2NodeClasses, relative to the plan (also"
                    " `cnisim simulate --karpenter FILE`); added to the lists below.",
                ),
                Field("nodePools", "list", "[]", "", "See `karpenter.nodePools[]`."),
                Field("nodeClasses", "list", "[]", "", "See `karpenter.nodeClasses[]`."),
                Field(
                    "prices",
                    "mapping type -> USD per hour",
                    "Karpenter's on-demand table",
                    "karpenter-provider-aws zz_generated.pricing_aws.go (data/"
                    "karpenter-on-demand-prices.tsv: its commit and date)",
                    "On-demand prices over the shipped us-east-1 table.",
                ),
                Field(
                    "batchIdleDuration",
                    "duration",
                    "1s",
                    f"{_CM} sec. 4 (BATCH_IDLE_DURATION)",
                    "A batch of pending pods closes after this long without a new one.",
                    "batch_idle_s",
                    as_duration_s,
                ),
                Field(
                    "batchMaxDuration",
                    "duration",
                    "10s",
                    f"{_CM} sec. 4 (BATCH_MAX_DURATION)",
                    "A batch closes this long after it opened at the latest.",
                    "batch_max_s",
                    as_duration_s,
                ),
                Field("bootTime", "mapping", "{}", "", "See `nodeGroups[].bootTime`."),
            ),
        ),
        Section(
            "karpenter.nodePools[]",
            "A NodePool (karpenter.sh/v1 `spec`, flattened).",
            (
                Field(
                    "name",
                    "string",
                    "required",
                    "",
                    "Its nodes are reported under it.",
                    "name",
                    as_str,
                ),
                Field(
                    "nodeClassRef",
                    "string",
                    "default",
                    "",
                    "The EC2NodeClass name.",
                    "node_class",
                    as_str,
                ),
                Field(
                    "requirements", "list", "[]", "", "See `karpenter.nodePools[].requirements[]`."
                ),
                Field("limits", "mapping", "none", "", "See `karpenter.nodePools[].limits`."),
                Field("disruption", "mapping", "{}", "", "See `karpenter.nodePools[].disruption`."),
            ),
        ),
        Section(
            "karpenter.nodePools[].requirements[]",
            "A requirement over the catalog: instance-category (c, m, ...), -family, -cpu,"
            " -memory [MiB], -generation, kubernetes.io/arch, topology.kubernetes.io/zone,"
            " karpenter.sh/capacity-type, node.kubernetes.io/instance-type.",
            (
                Field("key", "string", "required", "", "A well-known label.", "key", as_str),
                Field(
                    "operator",
                    "In, NotIn, Exists, DoesNotExist, Gt or Lt",
                    "required",
                    "",
                    "",
                    "operator",
                    as_str,
                ),
                Field("values", "list of strings", "[]", "", "", "values", as_str_list),
            ),
        ),
        Section(
            "karpenter.nodePools[].limits",
            "The pool's total node capacity.",
            (
                Field(
                    "cpu",
                    "CPU quantity",
                    "none",
                    "",
                    "vCPUs.",
                    "limit_cpu_millicores",
                    as_cpu_millicores,
                ),
                Field(
                    "memory", "memory quantity", "none", "", "", "limit_memory_mib", as_memory_mib
                ),
            ),
        ),
        Section(
            "karpenter.nodePools[].disruption",
            "Consolidation.",
            (
                Field(
                    "consolidationPolicy",
                    "WhenEmptyOrUnderutilized or WhenEmpty",
                    "WhenEmptyOrUnderutilized",
                    f"{_CM} sec. 4 (karpenter.sh/v1 default)",
                    "",
                    "consolidation_policy",
                    _enum("WhenEmptyOrUnderutilized", "WhenEmpty"),
                ),
                Field(
                    "consolidateAfter",
                    "duration",
                    "0s",
                    f"{_CM} sec. 4",
                    "How long a node stays empty or underutilized before it goes.",
                    "consolidate_after_s",
                    as_duration_s,
                ),
                Field(
                    "budget",
                    "percentage of nodes",
                    "10%",
                    f"{_CM} sec. 4 (karpenter.sh/v1 default budget)",
                    "Nodes disrupted at a time (budgets[0].nodes).",
                    "budget_nodes_frac",
                    _percent,
                ),
            ),
        ),
        Section(
            "karpenter.nodeClasses[]",
            "An EC2NodeClass (karpenter.k8s.aws/v1 `spec`, flattened).",
            (
                Field("name", "string", "required", "", "", "name", as_str),
                Field(
                    "subnetSelectorTerms",
                    "list",
                    "required",
                    "",
                    "See `karpenter.nodeClasses[].subnetSelectorTerms[]`; terms are ORed.",
                ),
                Field("kubelet", "mapping", "{}", "", "See `karpenter.nodeClasses[].kubelet`."),
            ),
        ),
        Section(
            "karpenter.nodeClasses[].subnetSelectorTerms[]",
            "One term: a subnet id, or tags that all match (`*` matches any value).",
            (
                Field("id", "subnet id", "none", "", "", "id", as_str),
                Field("tags", "mapping of strings", "{}", "", "", "tags", as_str_map),
            ),
        ),
        Section(
            "karpenter.nodeClasses[].kubelet",
            "Pod density of the class's nodes.",
            (
                Field(
                    "maxPods",
                    "integer [pods]",
                    "the type's ENI-limited value, uncapped",
                    "max-pods.md (Karpenter)",
                    "",
                    "max_pods",
                    as_int,
                ),
                Field(
                    "podsPerCore",
                    "integer [pods]",
                    "none",
                    "",
                    "Max pods at most this x vCPUs.",
                    "pods_per_core",
                    as_int,
                ),
            ),
        ),
        Section(
            "events[]",
            "A version update at a time of the run: `{at: 2h, upgrade: nodeGroup/general}` or"
            " `{at: 3h, upgrade: cluster}`.",
            (
                Field("at", "duration", "required", "", "When it starts.", "at_s", as_duration_s),
                Field(
                    "upgrade",
                    "nodeGroup/<name> or cluster",
                    "required",
                    "",
                    "A managed node group's update (surge of max(2 x its zones,"
                    " maxUnavailable) nodes, then maxUnavailable old nodes drained at a time) or"
                    " the control plane's (two new ENIs in the private subnets beside the old).",
                    "upgrade",
                    as_str,
                ),
                Field(
                    "duration",
                    "duration",
                    "10m",
                    "cnisim (AWS publishes no figure)",
                    "Cluster updates: how long the new control-plane ENIs stand beside the old.",
                    "duration_s",
                    as_duration_s,
                ),
            ),
        ),
    )
}


class _Reader:
    """The keys of one mapping, read through its :class:`Section` (unknown keys refused)."""

    def __init__(self, value: Any, where: Where, section: str, registry: Registry) -> None:
        self.section = SECTIONS[section]
        self.mapping = as_map(value, where)
        self.where = where
        self.registry = registry
        self.attrs: dict[str, Where] = {}
        self.kwargs: dict[str, Any] = {}
        check_keys(self.mapping, where, self.section.keys, self.section.path or "a plan")
        # Keys that fill an attribute directly are read here, once; the others by the caller.
        for f in self.section.fields:
            if f.attr is not None and f.key in self.mapping:
                convert = f.convert or as_str
                self.kwargs[f.attr] = convert(self.mapping[f.key], self.at(f.key))
                self.attrs[f.attr] = self.at(f.key)

    def at(self, key: str) -> Where:
        return self.where.key(self.mapping, key)

    def has(self, key: str) -> bool:
        return key in self.mapping

    def raw(self, key: str) -> Any:
        return self.mapping.get(key)

    def require(self, key: str) -> Any:
        if key not in self.mapping:
            raise self.where.error(f"needs {key!r}")
        return self.mapping[key]

    def child(self, key: str, section: str) -> _Reader:
        """The reader of the mapping under ``key``."""
        return _Reader(self.mapping.get(key), self.at(key), section, self.registry)

    def put(self, attr: str, key: str, value: Any) -> None:
        """An attribute the caller converted itself, located at ``key``."""
        self.kwargs[attr] = value
        self.attrs[attr] = self.at(key)

    def build(self, cls: Callable[..., Any], **extra: Any) -> Any:
        for f in self.section.fields:
            if f.default == "required" and f.attr is not None and f.attr not in self.kwargs:
                raise self.where.error(f"needs {f.key!r}")
        return self.registry.build(cls, self.where, self.attrs, **self.kwargs, **extra)


def _with_requests(reader: _Reader) -> None:
    if reader.has("requests"):
        reader.put("requests", "requests", reader.child("requests", "requests").build(Resources))


def _workload(value: Any, where: Where, registry: Registry) -> Workload:
    mapping = as_map(value, where)
    if "kind" not in mapping:
        raise where.error("needs 'kind': Deployment, JobStream or DaemonSet")
    kind = mapping["kind"]
    kinds = {"Deployment": Deployment, "JobStream": JobStream, "DaemonSet": DaemonSet}
    if not isinstance(kind, str) or kind not in kinds:
        raise where.key(mapping, "kind").error(
            f"{kind!r} is not a workload kind cnisim simulates: use Deployment, JobStream or"
            " DaemonSet"
        )
    reader = _Reader(mapping, where, f"workloads[] (kind: {kind})", registry)
    _with_requests(reader)
    if reader.has("service"):
        service = reader.child("service", "workloads[].service")
        service.require("type")
        reader.put("service", "service", service.build(Service))
    if kind == "Deployment" and "replicas" not in reader.kwargs:
        reader.kwargs["replicas"] = 1
    if kind == "Deployment":
        _deployment_moves(reader, registry)
    if kind == "JobStream":
        reader.require("lifetime")
        lifetime = reader.child("lifetime", "lifetime")
        lifetime.kwargs.setdefault("distribution", "exponential")
        reader.put("lifetime", "lifetime", lifetime.build(Lifetime))
    return cast(Workload, reader.build(kinds[kind]))


def _subnet_list(reader: _Reader, default: tuple[str, ...] | None) -> None:
    """``subnets`` as the holder's subnets (``default`` when left out; None: required)."""
    if reader.has("subnets"):
        subnets = as_str_list(reader.raw("subnets"), reader.at("subnets"))
        reader.put("subnets", "subnets", subnets)
    elif default is None:
        raise reader.where.error("needs 'subnets'")
    else:
        reader.kwargs["subnets"] = default


def _fargate_profile(reader: _Reader, vpc: Vpc) -> FargateProfile:
    reader.require("selectors")
    section = "fargateProfiles[].selectors[]"
    selectors = tuple(r.build(FargateSelector) for r in _items(reader, "selectors", section))
    reader.put("selectors", "selectors", selectors)
    _subnet_list(reader, tuple(s.id for s in vpc.subnets if not s.public))
    return cast(FargateProfile, reader.build(FargateProfile))


def _holder(reader: _Reader, vpc: Vpc, kind: str | None) -> AddressHolder:
    if kind is not None:
        reader.kwargs["kind"] = kind
    elif "kind" not in reader.kwargs:
        raise reader.where.error("needs 'type': alb or nlb")
    if reader.has("scaling"):
        steps = tuple(r.build(dict) for r in _items(reader, "scaling", "loadBalancers[].scaling[]"))
        reader.put("scaling", "scaling", tuple((step["at_s"], step["n"]) for step in steps))
    _subnet_list(reader, None if kind == "nat-gateway" else vpc.load_balancer_subnets())
    return cast(AddressHolder, reader.build(AddressHolder))


def _holders(reader: _Reader, vpc: Vpc) -> tuple[AddressHolder, ...]:
    holders: list[AddressHolder] = []
    for key, kind in (
        ("loadBalancers", None),
        ("vpcEndpoints", "vpc-endpoint"),
        ("natGateways", "nat-gateway"),
    ):
        holders.extend(_holder(r, vpc, kind) for r in _items(reader, key, f"{key}[]"))
    return tuple(holders)


def _steps(reader: _Reader, key: str, section: str, value_key: str, value_attr: str) -> Steps:
    """A step schedule: the list under ``key``, each item's ``at`` and ``value_key``."""
    where = reader.at(key)
    items = as_list(reader.raw(key), where)
    at_s, values = [], []
    for i, item in enumerate(items):
        entry = _Reader(item, where.item(items, i), section, reader.registry)
        for field_key in ("at", value_key):
            entry.require(field_key)
        at_s.append(entry.kwargs["at_s"])
        values.append(float(entry.kwargs[value_attr]))
    return reader.registry.build(
        Steps, where, {"at_s": where, "values": where}, at_s=tuple(at_s), values=tuple(values)
    )


def _deployment_moves(reader: _Reader, registry: Registry) -> None:
    """A Deployment's strategy, rollouts and replica source (schedule, diurnal, hpa)."""
    if reader.has("strategy"):
        strategy = reader.child("strategy", "strategy")
        if strategy.has("type") and strategy.raw("type") != "RollingUpdate":
            raise strategy.at("type").error(
                f"{strategy.raw('type')!r} is not simulated: cnisim rolls out with"
                " type RollingUpdate"
            )
        if strategy.has("rollingUpdate"):
            rolling = strategy.child("rollingUpdate", "strategy.rollingUpdate")
            reader.put("rolling_update", "strategy", rolling.build(RollingUpdate))
    if reader.has("rollouts"):
        where = reader.at("rollouts")
        items = as_list(reader.raw("rollouts"), where)
        times = []
        for i, item in enumerate(items):
            entry = _Reader(item, where.item(items, i), "rollouts[]", registry)
            entry.require("at")
            times.append(entry.kwargs["at_s"])
        reader.put("rollouts_s", "rollouts", tuple(times))
    if reader.has("schedule"):
        reader.put(
            "schedule", "schedule", _steps(reader, "schedule", "schedule[]", "replicas", "replicas")
        )
    if reader.has("diurnal"):
        reader.put("diurnal", "diurnal", reader.child("diurnal", "diurnal").build(Diurnal))
    if reader.has("hpa"):
        hpa = reader.child("hpa", "hpa")
        load = hpa.child("load", "hpa.load") if hpa.has("load") else None
        if load is None or load.has("schedule") == load.has("diurnal"):
            raise (hpa.at("load") if load else hpa.where).error(
                "needs a load: give load.schedule (a list of at and cpu) or load.diurnal"
                " (min, max, peakAt), one of them"
            )
        if load.has("schedule"):
            curve: Steps | Diurnal = _steps(
                load, "schedule", "hpa.load.schedule[]", "cpu", "cpu_millicores"
            )
        else:
            curve = load.child("diurnal", "hpa.load.diurnal").build(Diurnal)
        hpa.put("load", "load", curve)
        reader.put("hpa", "hpa", hpa.build(Hpa))


def workloads_from_yaml(items: Any, where: Where, registry: Registry) -> tuple[Workload, ...]:
    """The ``workloads:`` list of a plan or workload file."""
    workloads = as_list(items, where)
    return tuple(
        _workload(item, where.item(workloads, i), registry) for i, item in enumerate(workloads)
    )


_SUBNETS = "vpc.subnets[]"


def _subnet(value: Any, where: Where, registry: Registry) -> Subnet:
    reader = _Reader(value, where, _SUBNETS, registry)
    if reader.has("reservations"):
        where_list = reader.at("reservations")
        items = as_list(reader.raw("reservations"), where_list)
        section = f"{_SUBNETS}.reservations[]"
        reservations = tuple(
            _Reader(item, where_list.item(items, i), section, registry).build(CidrReservation)
            for i, item in enumerate(items)
        )
        reader.put("reservations", "reservations", reservations)
    return cast(Subnet, reader.build(Subnet))


def _vpc(value: Any, where: Where, registry: Registry) -> Vpc:
    reader = _Reader(value, where, "vpc", registry)
    cidrs = as_str_list(reader.require("cidrs"), reader.at("cidrs"))
    items = as_list(reader.require("subnets"), reader.at("subnets"))
    subnets = tuple(
        _subnet(item, reader.at("subnets").item(items, i), registry) for i, item in enumerate(items)
    )
    reader.put("cidrs", "cidrs", cidrs)
    reader.put("subnets", "subnets", subnets)
    return cast(Vpc, reader.build(Vpc))


def _node_subnets(reader: _Reader, vpc: Vpc, aws_node: AwsNode) -> tuple[str, ...]:
    if reader.has("subnets") and reader.has("availabilityZones"):
        raise reader.at("availabilityZones").error("give subnets or availabilityZones, not both")
    if reader.has("subnets"):
        subnets = as_str_list(reader.raw("subnets"), reader.at("subnets"))
        reader.put("subnets", "subnets", subnets)
        return subnets
    pod_subnets = set(aws_node.eni_configs.values())
    node_subnets = [s for s in vpc.subnets if not s.public and s.id not in pod_subnets]
    if reader.has("availabilityZones"):
        where = reader.at("availabilityZones")
        zones = as_str_list(reader.raw("availabilityZones"), where)
        for zone in zones:
            if not any(s.az == zone for s in node_subnets):
                raise where.error(
                    f"zone {zone} has no node subnet in the VPC (its zones:"
                    f" {', '.join(vpc.availability_zones)}): add a subnet in {zone} or drop it"
                )
        reader.put("subnets", "availabilityZones", ())
        return tuple(s.id for s in node_subnets if s.az in zones)
    return tuple(s.id for s in node_subnets)


def _node_group(
    value: Any, where: Where, registry: Registry, vpc: Vpc, aws_node: AwsNode
) -> NodeGroup:
    reader = _Reader(value, where, "nodeGroups[]", registry)
    reader.kwargs.setdefault("instance_types", ("m5.large",))
    sizes = resolve_sizes(
        reader.kwargs.get("min_size"),
        reader.kwargs.get("desired_capacity"),
        reader.kwargs.get("max_size"),
    )
    reader.kwargs.update(zip(("min_size", "desired_capacity", "max_size"), sizes, strict=True))
    if reader.has("awsNode"):
        own = reader.child("awsNode", "nodeGroups[].awsNode")
        reader.put("aws_node_env", "awsNode", own.kwargs.get("env", {}))
    if reader.has("bootTime"):
        boot = reader.child("bootTime", "nodeGroups[].bootTime")
        reader.put("boot", "bootTime", boot.build(BootTime))
    if reader.has("updateConfig"):
        update = reader.child("updateConfig", "nodeGroups[].updateConfig")
        if "max_unavailable" in update.kwargs:
            reader.kwargs["max_unavailable"] = update.kwargs["max_unavailable"]
            reader.attrs["max_unavailable"] = update.attrs["max_unavailable"]
    subnets = _node_subnets(reader, vpc, aws_node)
    reader.kwargs["subnets"] = subnets
    return cast(NodeGroup, reader.build(NodeGroup))


def _coredns(value: Any, where: Where, registry: Registry) -> Deployment | None:
    if value is False:
        return None
    reader = _Reader(value, where, "coreDNS", registry)
    _with_requests(reader)
    if reader.kwargs.get("replicas") == 0:
        return None
    reader.kwargs.setdefault("replicas", COREDNS.replicas)
    reader.kwargs.setdefault("requests", COREDNS.requests)
    coredns = reader.build(Deployment, name=COREDNS.name, namespace=COREDNS.namespace)
    return cast(Deployment, coredns)


def _items(reader: _Reader, key: str, section: str) -> list[_Reader]:
    """The readers of the mappings of the list under ``key``."""
    if not reader.has(key):
        return []
    where = reader.at(key)
    items = as_list(reader.raw(key), where)
    return [
        _Reader(item, where.item(items, i), section, reader.registry)
        for i, item in enumerate(items)
    ]


def _node_pool(reader: _Reader) -> NodePool:
    section = "karpenter.nodePools[]"
    requirements = tuple(
        r.build(Requirement) for r in _items(reader, "requirements", f"{section}.requirements[]")
    )
    reader.put("requirements", "requirements", requirements)
    for key in ("limits", "disruption"):
        if reader.has(key):
            child = reader.child(key, f"{section}.{key}")
            reader.kwargs.update(child.kwargs)
            reader.attrs.update(child.attrs)
    return cast(NodePool, reader.build(NodePool))


def _node_class(reader: _Reader) -> EC2NodeClass:
    section = "karpenter.nodeClasses[]"
    reader.require("subnetSelectorTerms")
    terms = tuple(
        t.build(SubnetSelectorTerm)
        for t in _items(reader, "subnetSelectorTerms", f"{section}.subnetSelectorTerms[]")
    )
    reader.put("subnet_selector_terms", "subnetSelectorTerms", terms)
    if reader.has("kubelet"):
        kubelet = reader.child("kubelet", f"{section}.kubelet")
        reader.kwargs.update(kubelet.kwargs)
        reader.attrs.update(kubelet.attrs)
    return cast(EC2NodeClass, reader.build(EC2NodeClass))


def _karpenter(
    reader: _Reader, manifests: tuple[tuple[NodePool, ...], tuple[EC2NodeClass, ...]]
) -> Karpenter:
    """The ``karpenter:`` section, with the NodePools and EC2NodeClasses of manifest files."""
    pools = tuple(_node_pool(r) for r in _items(reader, "nodePools", "karpenter.nodePools[]"))
    classes = tuple(
        _node_class(r) for r in _items(reader, "nodeClasses", "karpenter.nodeClasses[]")
    )
    reader.put(
        "node_pools", "nodePools" if reader.has("nodePools") else "manifests", pools + manifests[0]
    )
    reader.put(
        "node_classes",
        "nodeClasses" if reader.has("nodeClasses") else "manifests",
        classes + manifests[1],
    )
    if reader.has("prices"):
        where = reader.at("prices")
        prices = as_map(reader.raw("prices"), where)
        reader.put(
            "prices_usd_per_hour",
            "prices",
            {str(k): as_float(v, where.key(prices, k)) for k, v in prices.items()},
        )
    if reader.has("bootTime"):
        reader.put(
            "boot", "bootTime", reader.child("bootTime", "nodeGroups[].bootTime").build(BootTime)
        )
    return cast(Karpenter, reader.build(Karpenter))


def _events(items: Any, where: Where, registry: Registry) -> tuple[UpgradeEvent, ...]:
    events = as_list(items, where)
    return tuple(
        cast(
            UpgradeEvent,
            _Reader(item, where.item(events, i), "events[]", registry).build(UpgradeEvent),
        )
        for i, item in enumerate(events)
    )


def check_header(document: Any, where: Where, kinds: tuple[str, ...]) -> YamlMap:
    """The top-level mapping, once its ``apiVersion`` and ``kind`` are ones cnisim reads."""
    mapping = as_map(document, where)
    version = mapping.get("apiVersion")
    kind = mapping.get("kind")
    supported = f"{PLAN_API_VERSION} {' or '.join(kinds)} (or an eksctl.io/v1alpha5 ClusterConfig)"
    if version is None or kind is None:
        raise where.error(f"needs apiVersion and kind: cnisim reads {supported}")
    if isinstance(version, str) and version.startswith("cnisim/") and version != PLAN_API_VERSION:
        raise where.key(mapping, "apiVersion").error(
            f"plan version {version} is not supported: this cnisim reads {PLAN_API_VERSION}"
        )
    if version != PLAN_API_VERSION:
        raise where.key(mapping, "apiVersion").error(
            f"apiVersion {version!r} is not supported: cnisim reads {supported}"
        )
    if not isinstance(kind, str) or kind not in kinds:
        raise where.key(mapping, "kind").error(
            f"kind {kind!r} is not supported: cnisim reads {supported}"
        )
    return mapping


def plan_from_yaml(document: Any, source: str, sha256: str = "") -> tuple[Plan, Registry]:
    """Read a parsed plan document into a :class:`Plan`.

    Parameters
    ----------
    document : Any
        The document as :func:`cnisim.io._yaml.parse_yaml` returns it.
    source : str
        The file's name, for messages.
    sha256 : str
        The file's SHA-256.

    Returns
    -------
    tuple of Plan and Registry
        The plan and where each of its objects came from (to locate later errors).

    Raises
    ------
    PlanError
        Naming the file, the line and the field.
    """
    registry = Registry(Where(source, "", getattr(document, "line", 1) or 1))
    mapping = check_header(document, registry.root, (PLAN_KIND,))
    reader = _Reader(mapping, registry.root, "", registry)
    vpc = _vpc(reader.require("vpc"), reader.at("vpc"), registry)
    aws_node = (
        reader.child("awsNode", "awsNode").build(AwsNode) if reader.has("awsNode") else AwsNode()
    )
    items = as_list(reader.require("nodeGroups"), reader.at("nodeGroups"))
    if not items:
        raise reader.at("nodeGroups").error("is empty: a plan needs at least one node group")
    groups = tuple(
        _node_group(item, reader.at("nodeGroups").item(items, i), registry, vpc, aws_node)
        for i, item in enumerate(items)
    )
    if "region" not in reader.kwargs:
        region = region_of_zone(vpc.subnets[0].az)
        if region is not None:
            reader.kwargs["region"] = region
    reader.put("vpc", "vpc", vpc)
    reader.put("aws_node", "awsNode" if reader.has("awsNode") else "vpc", aws_node)
    reader.put("node_groups", "nodeGroups", groups)
    if reader.has("scheduler"):
        scheduler = reader.child("scheduler", "scheduler").build(Scheduler)
        reader.put("scheduler", "scheduler", scheduler)
    if reader.has("workloads"):
        workloads = workloads_from_yaml(reader.raw("workloads"), reader.at("workloads"), registry)
        reader.put("workloads", "workloads", workloads)
    if reader.has("coreDNS"):
        coredns = _coredns(reader.raw("coreDNS"), reader.at("coreDNS"), registry)
        reader.put("coredns", "coreDNS", coredns)
    if reader.has("run"):
        reader.put("run", "run", reader.child("run", "run").build(Run))
    if reader.has("fargateProfiles"):
        profiles = tuple(
            _fargate_profile(r, vpc) for r in _items(reader, "fargateProfiles", "fargateProfiles[]")
        )
        reader.put("fargate_profiles", "fargateProfiles", profiles)
    holders = _holders(reader, vpc)
    if holders:
        reader.kwargs["holders"] = holders
    if reader.has("controlPlane"):
        control = reader.child("controlPlane", "controlPlane")
        if control.has("subnets"):
            _subnet_list(control, None)
        reader.put("control_plane", "controlPlane", control.build(ControlPlane))
    if reader.has("autoscaler"):
        autoscaler = reader.child("autoscaler", "autoscaler").build(Autoscaler)
        reader.put("autoscaler", "autoscaler", autoscaler)
    if reader.has("karpenter"):
        karpenter = reader.child("karpenter", "karpenter")
        manifests: tuple[tuple[NodePool, ...], tuple[EC2NodeClass, ...]] = ((), ())
        if karpenter.has("manifests"):
            from cnisim.io.karpenter import read_manifests

            name = as_str(karpenter.raw("manifests"), karpenter.at("manifests"))
            manifests = read_manifests(Path(source).parent / name, registry)
        reader.put("karpenter", "karpenter", _karpenter(karpenter, manifests))
    if reader.has("events"):
        reader.put("events", "events", _events(reader.raw("events"), reader.at("events"), registry))
    plan = cast(Plan, reader.build(Plan, source=source, sha256=sha256))
    return plan, registry
