"""An eksctl ``ClusterConfig`` (``eksctl.io/v1alpha5``) read into a Plan, with eksctl's defaults.

The fields that bear on addresses are read: ``metadata.{name,region}``, ``availabilityZones``,
``vpc.{cidr,extraCIDRs,subnets}``, ``kubernetesNetworkConfig.ipFamily``, ``managedNodeGroups``
and ``nodeGroups`` (instance types, sizes, zones, subnets, ``privateNetworking``,
``maxPodsPerNode``, ``amiFamily``, ``labels``, ``updateConfig.maxUnavailable``),
``fargateProfiles`` (``name``, ``selectors`` of ``namespace`` and ``labels``, ``subnets``: by
default the VPC's private subnets, as eksctl gives a profile) and the ``vpc-cni`` addon's
``configurationValues`` (JSON or YAML with ``env``). The other fields of
eksctl's schema are accepted and ignored; a key eksctl does not know is an error, as in eksctl.

eksctl's defaults apply: VPC 192.168.0.0/16, cut as eksctl cuts it (public subnets first, then
private); node type m5.large; 2 nodes; AMI family AmazonLinux2023; ``privateNetworking: false``
(nodes in the public subnets). Where eksctl picks at random (the zones), cnisim picks
``<region>a, b, c`` (two in us-east-1, as eksctl picks two there) and says so in ``notes``.

References
----------
eksctl-io/eksctl at 99984adb: ``pkg/apis/eksctl.io/v1alpha5/types.go`` (DefaultNodeType,
DefaultNodeCount, DefaultNodeImageFamily, DefaultRegion, DefaultIPFamily), ``vpc.go``
(DefaultCIDR, RecommendedAvailabilityZones), ``pkg/vpc/vpc.go`` (SetSubnets,
getSubnetNetworkSize, SplitInto), ``pkg/az/az.go`` (two zones in us-east-1, else three),
``pkg/apis/eksctl.io/v1alpha5/assets/schema.json`` (the field names below);
``docs/cluster-model.md`` sec. 7.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import yaml

from cnisim.errors import did_you_mean
from cnisim.io._yaml import (
    Registry,
    Where,
    YamlMap,
    as_bool,
    as_int,
    as_list,
    as_map,
    as_str,
    as_str_list,
    as_str_map,
    check_keys,
)
from cnisim.plan import (
    AwsNode,
    FargateProfile,
    FargateSelector,
    NodeGroup,
    Plan,
    Subnet,
    Vpc,
    resolve_sizes,
)

__all__ = [
    "EKSCTL_API_VERSION",
    "EKSCTL_DEFAULT_CIDR",
    "EKSCTL_DEFAULT_REGION",
    "eksctl_subnet_cidrs",
    "plan_from_cluster_config",
]

EKSCTL_API_VERSION = "eksctl.io/v1alpha5"
EKSCTL_KIND = "ClusterConfig"
EKSCTL_DEFAULT_CIDR = "192.168.0.0/16"
"""eksctl ``DefaultCIDR`` (``pkg/apis/eksctl.io/v1alpha5/vpc.go``)."""
EKSCTL_DEFAULT_REGION = "us-west-2"
"""eksctl ``DefaultRegion`` (``types.go``)."""
_DEFAULT_NODE_TYPE = "m5.large"  # eksctl DefaultNodeType (types.go)
_DEFAULT_AMI_FAMILY = "AmazonLinux2023"  # eksctl DefaultNodeImageFamily (types.go)

# Keys of eksctl's schema, eksctl-io/eksctl@99984adb pkg/apis/eksctl.io/v1alpha5/assets/schema.json
# (definitions ClusterConfig, ClusterMeta, ClusterVPC, ClusterSubnets, AZSubnetSpec,
# KubernetesNetworkConfig, ManagedNodeGroup, NodeGroup, NodeGroupInstancesDistribution,
# NodeGroupUpdateConfig, Addon).
_NODE_GROUP_BASE = (
    "additionalVolumes ami amiFamily asgSuspendProcesses availabilityZones bottlerocket"
    " capacityReservation desiredCapacity disableIMDSv1 disablePodIMDS ebsOptimized efaEnabled"
    " enableDetailedMonitoring iam instanceMarketOptions instanceName instancePrefix"
    " instanceSelector instanceType labels maxPodsPerNode maxSize minSize name outpostARN"
    " overrideBootstrapCommand placement preBootstrapCommands privateNetworking"
    " propagateASGTags securityGroups ssh subnets tags taints updateConfig volumeEncrypted"
    " volumeIOPS volumeKmsKeyID volumeName volumeSize volumeThroughput volumeType"
)
_SCHEMA_KEYS: dict[str, tuple[str, ...]] = {
    name: tuple(keys.split())
    for name, keys in {
        "ClusterConfig": "accessConfig addons addonsConfig apiVersion autoModeConfig"
        " availabilityZones capabilities cloudWatch controlPlaneScalingConfig fargateProfiles"
        " gitops iam iamIdentityMappings identityProviders karpenter kind kubeAPIServerConfig"
        " kubeControllerManagerConfig kubeSchedulerConfig kubernetesNetworkConfig localZones"
        " managedNodeGroups metadata nodeGroups outpost privateCluster remoteNetworkConfig"
        " secretsEncryption upgradePolicy vpc zonalShiftConfig",
        "ClusterMeta": "annotations forceUpdateVersion name region rollbackConfig tags version",
        "ClusterVPC": "autoAllocateIPv6 cidr clusterEndpoints controlPlaneEgressMode"
        " controlPlaneOnPrivateSubnets controlPlaneSecurityGroupIDs controlPlaneSubnetIDs"
        " extraCIDRs extraIPv6CIDRs hostnameType id ipv6Cidr ipv6Pool"
        " manageSharedNodeSecurityGroupRules nat publicAccessCIDRs securityGroup"
        " sharedNodeSecurityGroup subnets",
        "ClusterSubnets": "private public",
        "AZSubnetSpec": "az cidr id",
        "KubernetesNetworkConfig": "ipFamily serviceIPv4CIDR serviceIPv6CIDR",
        "ManagedNodeGroup": _NODE_GROUP_BASE
        + " instanceTypes launchTemplate nodeRepairConfig releaseVersion spot",
        "NodeGroup": _NODE_GROUP_BASE
        + " asgMetricsCollection classicLoadBalancerNames clusterDNS containerRuntime cpuCredits"
        " enclaveEnabled instancesDistribution kubeletExtraConfig localZones"
        " maxInstanceLifetime targetGroupARNs",
        "NodeGroupInstancesDistribution": "capacityRebalance instanceTypes maxPrice"
        " onDemandBaseCapacity onDemandPercentageAboveBaseCapacity spotAllocationStrategy"
        " spotInstancePools",
        "NodeGroupUpdateConfig": "maxUnavailable maxUnavailablePercentage",
        # eksctl types.go FargateProfile and FargateProfileSelector
        "FargateProfile": "name podExecutionRoleARN selectors status subnets tags",
        "FargateProfileSelector": "labels namespace",
        "Addon": "attachPolicy attachPolicyARNs configurationValues name namespaceConfig owners"
        " permissionsBoundary podIdentityAssociations publishers resolveConflicts"
        " serviceAccountRoleARN tags types useDefaultPodIdentityAssociations version"
        " wellKnownPolicies",
    }.items()
}


def _empty(where: Where) -> YamlMap:
    # A section the file leaves out: its errors point at the line of the enclosing one.
    mapping = YamlMap()
    mapping.line = where.line
    return mapping


def _mapping(value: Any, where: Where, schema: str) -> YamlMap:
    mapping = as_map(value, where)
    check_keys(mapping, where, _SCHEMA_KEYS[schema], f"an eksctl {schema}")
    return mapping


def eksctl_subnet_cidrs(vpc_cidr: str, n_zones: int) -> tuple[list[str], list[str]]:
    """The public and private subnet CIDRs eksctl cuts from a new VPC, one of each per zone.

    Parameters
    ----------
    vpc_cidr : str
        The VPC CIDR, /16 to /24.
    n_zones : int
        Availability zones (1 to 8).

    Returns
    -------
    tuple of list of str
        ``(public, private)``, in zone order: up to 4 zones the VPC is cut into 8 blocks of
        prefix + 3, public ones first; up to 8 zones into 16 of prefix + 4.

    Raises
    ------
    ValueError
        A prefix outside /16 to /24 or more than 8 zones (eksctl refuses both).

    References
    ----------
    eksctl ``pkg/vpc/vpc.go`` SetSubnets, getSubnetNetworkSize, SplitInto.

    Examples
    --------
    >>> eksctl_subnet_cidrs("192.168.0.0/16", 3)
    (['192.168.0.0/19', '192.168.32.0/19', '192.168.64.0/19'], \
['192.168.96.0/19', '192.168.128.0/19', '192.168.160.0/19'])
    """
    network = ipaddress.IPv4Network(vpc_cidr)
    if not 16 <= network.prefixlen <= 24:
        raise ValueError(f"VPC CIDR {vpc_cidr} is a /{network.prefixlen}: eksctl needs /16 to /24")
    n_subnets = 2 * n_zones
    if n_subnets > 16:
        raise ValueError(f"{n_zones} zones need {n_subnets} subnets: eksctl makes at most 16")
    new_prefix = network.prefixlen + (3 if n_subnets <= 8 else 4)
    blocks = [str(block) for block in network.subnets(new_prefix=new_prefix)]
    return blocks[:n_zones], blocks[n_zones : 2 * n_zones]


class _Subnets:
    """The VPC's subnets by topology, each by its key (alias or zone) and id."""

    def __init__(self) -> None:
        self.by_topology: dict[str, dict[str, Subnet]] = {"public": {}, "private": {}}

    def add(self, topology: str, key: str, subnet: Subnet) -> None:
        self.by_topology[topology][key] = subnet

    def all(self) -> list[Subnet]:
        return [*self.by_topology["public"].values(), *self.by_topology["private"].values()]

    def find(self, topology: str, name: str) -> Subnet | None:
        for subnets in (self.by_topology[topology], *self.by_topology.values()):
            for key, subnet in subnets.items():
                if name in (key, subnet.id):
                    return subnet
        return None

    def names(self) -> list[str]:
        return [name for s in self.by_topology.values() for k, v in s.items() for name in (k, v.id)]


def _default_zones(region: str) -> tuple[str, ...]:
    count = 2 if region == "us-east-1" else 3
    return tuple(f"{region}{letter}" for letter in "abc"[:count])


def _vpc(
    config: YamlMap, root: Where, registry: Registry, region: str, notes: list[str]
) -> tuple[Vpc, _Subnets]:
    vpc_map = (
        _mapping(config["vpc"], root.key(config, "vpc"), "ClusterVPC")
        if "vpc" in config
        else _empty(root)
    )
    where = root.key(config, "vpc")
    cidr = as_str(vpc_map["cidr"], where.key(vpc_map, "cidr")) if "cidr" in vpc_map else None
    extra = (
        as_str_list(vpc_map["extraCIDRs"], where.key(vpc_map, "extraCIDRs"))
        if "extraCIDRs" in vpc_map
        else ()
    )
    subnets = _Subnets()
    attrs = {"cidrs": where.key(vpc_map, "cidr" if cidr else "extraCIDRs")}
    if "subnets" in vpc_map:
        subnets_where = where.key(vpc_map, "subnets")
        topologies = _mapping(vpc_map["subnets"], subnets_where, "ClusterSubnets")
        for topology, value in topologies.items():
            t_where = subnets_where.key(topologies, topology)
            for key, spec in as_map(value, t_where).items():
                s_where = t_where.key(as_map(value, t_where), key)
                spec_map = _mapping(
                    spec if spec is not None else _empty(s_where), s_where, "AZSubnetSpec"
                )
                if "cidr" not in spec_map:
                    raise s_where.error(
                        "has no cidr: cnisim does not look up existing subnets; give each"
                        " subnet's cidr"
                    )
                az = as_str(spec_map.get("az", key), s_where)
                subnet_id = (
                    as_str(spec_map["id"], s_where.key(spec_map, "id"))
                    if "id" in spec_map
                    else f"{topology}-{key}"
                )
                s_attrs = {a: s_where.key(spec_map, a) for a in ("id", "az", "cidr")}
                subnet = registry.build(
                    Subnet,
                    s_where,
                    s_attrs,
                    id=subnet_id,
                    az=az,
                    cidr=as_str(spec_map["cidr"], s_where.key(spec_map, "cidr")),
                    public=topology == "public",
                )
                subnets.add(topology, key, subnet)
        if cidr is None:
            cidr = EKSCTL_DEFAULT_CIDR
            notes.append(f"vpc.cidr not given: eksctl's default {EKSCTL_DEFAULT_CIDR} assumed")
    else:
        if "id" in vpc_map:
            raise where.key(vpc_map, "id").error(
                "an existing VPC without vpc.subnets: cnisim does not look up subnets; list"
                " them under vpc.subnets with their cidr"
            )
        cidr = cidr or EKSCTL_DEFAULT_CIDR
        if "availabilityZones" in config:
            zones = as_str_list(config["availabilityZones"], root.key(config, "availabilityZones"))
        else:
            zones = _default_zones(region)
            notes.append(
                f"availabilityZones not given: eksctl picks {len(zones)} at random; cnisim"
                f" assumes {', '.join(zones)}"
            )
        try:
            public, private = eksctl_subnet_cidrs(cidr, len(zones))
        except ValueError as exc:
            at = where.key(vpc_map, "cidr")
            if "cidr" not in vpc_map and "availabilityZones" in config:
                at = root.key(config, "availabilityZones")
            raise at.error(str(exc)) from None
        for zone, public_cidr, private_cidr in zip(zones, public, private, strict=True):
            for topology, block in (("public", public_cidr), ("private", private_cidr)):
                subnet = Subnet(f"{topology}-{zone}", zone, block, public=topology == "public")
                subnets.add(topology, zone, subnet)
        notes.append(
            f"subnets as eksctl cuts {cidr}: public {', '.join(public)}; private"
            f" {', '.join(private)}"
        )
    vpc = registry.build(Vpc, where, attrs, cidrs=(cidr, *extra), subnets=tuple(subnets.all()))
    return vpc, subnets


def _instance_types(ng: YamlMap, where: Where) -> tuple[str, ...]:
    if "instanceType" in ng and "instanceTypes" in ng:
        raise where.key(ng, "instanceTypes").error(
            "give instanceType or instanceTypes, not both (eksctl refuses both)"
        )
    if "instancesDistribution" in ng:
        d_where = where.key(ng, "instancesDistribution")
        distribution = _mapping(
            ng["instancesDistribution"], d_where, "NodeGroupInstancesDistribution"
        )
        if ng.get("instanceType", "mixed") != "mixed":
            raise where.key(ng, "instanceType").error(
                'should be "mixed" or unset with instancesDistribution (as eksctl says)'
            )
        if "instanceTypes" not in distribution:
            raise d_where.error("needs instanceTypes")
        return as_str_list(
            distribution["instanceTypes"], d_where.key(distribution, "instanceTypes")
        )
    if "instanceTypes" in ng:
        return as_str_list(ng["instanceTypes"], where.key(ng, "instanceTypes"))
    if "instanceType" in ng:
        return (as_str(ng["instanceType"], where.key(ng, "instanceType")),)
    return (_DEFAULT_NODE_TYPE,)


def _group_subnets(
    ng: YamlMap, where: Where, subnets: _Subnets, name: str, notes: list[str]
) -> tuple[str, ...]:
    private = (
        as_bool(ng["privateNetworking"], where.key(ng, "privateNetworking"))
        if ("privateNetworking" in ng)
        else False
    )
    topology = "private" if private else "public"
    if "privateNetworking" not in ng:
        notes.append(
            f"node group {name}: privateNetworking not given: eksctl's default (false) puts its"
            " nodes in the public subnets"
        )
    candidates = list(subnets.by_topology[topology].values())
    if not candidates:
        fix = "set privateNetworking: true" if topology == "public" else "add private subnets"
        raise where.key(ng, "privateNetworking").error(
            f"node group {name} needs {topology} subnets"
            + (
                ""
                if private
                else " (privateNetworking: false)"
                if "privateNetworking" in ng
                else " (privateNetworking is false, eksctl's default)"
            )
            + f" and the VPC has none: {fix}"
        )
    if "subnets" in ng:
        s_where = where.key(ng, "subnets")
        chosen = []
        for i, item in enumerate(as_str_list(ng["subnets"], s_where)):
            subnet = subnets.find(topology, item)
            if subnet is None:
                hint = did_you_mean(item, subnets.names())
                raise s_where.item(ng["subnets"], i).error(
                    f"no subnet {item!r} in vpc.subnets" + (f": {hint}" if hint else "")
                )
            chosen.append(subnet)
    else:
        chosen = candidates
    if "availabilityZones" in ng:
        z_where = where.key(ng, "availabilityZones")
        zones = as_str_list(ng["availabilityZones"], z_where)
        for zone in zones:
            if not any(s.az == zone for s in chosen):
                raise z_where.error(
                    f"zone {zone} has no {topology} subnet in the VPC: add one or drop the zone"
                )
        chosen = [s for s in chosen if s.az in zones]
    return tuple(s.id for s in chosen)


def _node_group(
    value: Any,
    where: Where,
    registry: Registry,
    subnets: _Subnets,
    managed: bool,
    notes: list[str],
) -> NodeGroup:
    ng = _mapping(value, where, "ManagedNodeGroup" if managed else "NodeGroup")
    if "name" not in ng:
        raise where.error("needs a name")
    name = as_str(ng["name"], where.key(ng, "name"))
    sizes = [
        as_int(ng[key], where.key(ng, key)) if key in ng else None
        for key in ("minSize", "desiredCapacity", "maxSize")
    ]
    min_size, desired, max_size = resolve_sizes(*sizes)
    kwargs: dict[str, Any] = {
        "name": name,
        "managed": managed,
        "instance_types": _instance_types(ng, where),
        "min_size": min_size,
        "desired_capacity": desired,
        "max_size": max_size,
        "subnets": _group_subnets(ng, where, subnets, name, notes),
        "ami_family": (
            as_str(ng["amiFamily"], where.key(ng, "amiFamily"))
            if "amiFamily" in ng
            else _DEFAULT_AMI_FAMILY
        ),
    }
    if "maxPodsPerNode" in ng:
        kwargs["max_pods_per_node"] = as_int(ng["maxPodsPerNode"], where.key(ng, "maxPodsPerNode"))
    if "labels" in ng:
        kwargs["labels"] = as_str_map(ng["labels"], where.key(ng, "labels"))
    attrs = {
        "name": where.key(ng, "name"),
        "instance_types": where.key(
            ng,
            next(
                (k for k in ("instanceTypes", "instanceType", "instancesDistribution") if k in ng),
                "name",
            ),
        ),
        "min_size": where.key(ng, "minSize"),
        "desired_capacity": where.key(ng, "desiredCapacity"),
        "max_size": where.key(ng, "maxSize"),
        "subnets": where.key(ng, "subnets" if "subnets" in ng else "availabilityZones"),
        "max_pods_per_node": where.key(ng, "maxPodsPerNode"),
        "max_unavailable": where.key(ng, "updateConfig"),
    }
    if "updateConfig" in ng:
        u_where = where.key(ng, "updateConfig")
        update = _mapping(ng["updateConfig"], u_where, "NodeGroupUpdateConfig")
        if "maxUnavailable" in update:
            kwargs["max_unavailable"] = as_int(
                update["maxUnavailable"], u_where.key(update, "maxUnavailable")
            )
    return registry.build(NodeGroup, where, attrs, **kwargs)


def _vpc_cni_env(config: YamlMap, root: Where, notes: list[str]) -> tuple[dict[str, str], Where]:
    where = root.key(config, "addons")
    if "addons" not in config:
        return {}, where
    addons = as_list(config["addons"], where)
    for i, item in enumerate(addons):
        a_where = where.item(addons, i)
        addon = _mapping(item, a_where, "Addon")
        if str(addon.get("name", "")).lower() != "vpc-cni" or "configurationValues" not in addon:
            continue
        c_where = a_where.key(addon, "configurationValues")
        text = as_str(addon["configurationValues"], c_where)
        try:
            # YAML 1.1 reads JSON objects too, as eksctl's convertConfigurationValuesToJSON does.
            values = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise c_where.error(
                f"is neither JSON nor YAML ({str(exc).splitlines()[0]}); write e.g."
                ' \'{"env":{"WARM_IP_TARGET":"5"}}\''
            ) from None
        if values is None:
            return {}, c_where
        if not isinstance(values, dict):
            raise c_where.error('must hold a mapping, e.g. {"env": {"WARM_IP_TARGET": "5"}}')
        ignored = sorted(key for key in values if key != "env")
        if ignored:
            notes.append(f"vpc-cni configurationValues: {', '.join(ignored)} not read (env only)")
        env = values.get("env") or {}
        if not isinstance(env, dict):
            raise c_where.error("env must be a mapping of variable names to strings")
        result = {}
        for key, value in env.items():
            if isinstance(value, bool):
                result[str(key)] = "true" if value else "false"
            elif isinstance(value, str | int | float):
                result[str(key)] = str(value)
            else:
                raise c_where.error(f"env {key} is not a string")
        return result, c_where
    return {}, where


def _fargate_profile(
    value: Any, where: Where, registry: Registry, subnets: _Subnets
) -> FargateProfile:
    """One of eksctl's ``fargateProfiles``; without ``subnets``, the VPC's private subnets."""
    profile = _mapping(value, where, "FargateProfile")
    name = as_str(profile["name"], where.key(profile, "name")) if "name" in profile else ""
    s_where = where.key(profile, "selectors")
    items = as_list(profile.get("selectors", []), s_where)
    selectors = []
    for i, item in enumerate(items):
        i_where = s_where.item(items, i)
        selector = _mapping(item, i_where, "FargateProfileSelector")
        if "namespace" not in selector:
            raise i_where.error("needs 'namespace'")
        attrs = {"namespace": i_where.key(selector, "namespace")}
        labels: dict[str, str] = {}
        if "labels" in selector:
            attrs["labels"] = i_where.key(selector, "labels")
            labels = as_str_map(selector["labels"], attrs["labels"])
        selectors.append(
            registry.build(
                FargateSelector,
                i_where,
                attrs,
                namespace=as_str(selector["namespace"], attrs["namespace"]),
                labels=labels,
            )
        )
    chosen = [s.id for s in subnets.by_topology["private"].values()]
    attrs = {"name": where.key(profile, "name"), "selectors": s_where}
    if "subnets" in profile:
        attrs["subnets"] = n_where = where.key(profile, "subnets")
        chosen = []
        for i, item in enumerate(as_str_list(profile["subnets"], n_where)):
            subnet = subnets.find("private", item)
            if subnet is None:
                hint = did_you_mean(item, subnets.names())
                raise n_where.item(profile["subnets"], i).error(
                    f"no subnet {item!r} in vpc.subnets" + (f": {hint}" if hint else "")
                )
            chosen.append(subnet.id)
    return registry.build(
        FargateProfile,
        where,
        attrs,
        name=name,
        selectors=tuple(selectors),
        subnets=tuple(chosen),
    )


def plan_from_cluster_config(document: Any, source: str, sha256: str = "") -> tuple[Plan, Registry]:
    """Read a parsed eksctl ClusterConfig into a :class:`Plan`.

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
        The plan (``notes`` say which eksctl defaults and zone names cnisim assumed) and where
        each of its objects came from.

    Raises
    ------
    PlanError
        Naming the file, the line and the field.
    """
    registry = Registry(Where(source, "", getattr(document, "line", 1) or 1))
    root = registry.root
    config = _mapping(document, root, "ClusterConfig")
    if config.get("apiVersion") != EKSCTL_API_VERSION or config.get("kind") != EKSCTL_KIND:
        raise root.key(config, "apiVersion").error(
            f"{config.get('apiVersion')!r} {config.get('kind')!r} is not supported: cnisim reads"
            f" {EKSCTL_API_VERSION} {EKSCTL_KIND} (and cnisim/v1 Plan)"
        )
    notes: list[str] = []
    meta_where = root.key(config, "metadata")
    meta = _mapping(config.get("metadata") or _empty(root), meta_where, "ClusterMeta")
    name = as_str(meta["name"], meta_where.key(meta, "name")) if "name" in meta else "cluster"
    if "region" in meta:
        region = as_str(meta["region"], meta_where.key(meta, "region"))
    else:
        region = EKSCTL_DEFAULT_REGION
        notes.append(f"metadata.region not given: eksctl's default {region} assumed")
    vpc, subnets = _vpc(config, root, registry, region, notes)
    env, env_where = _vpc_cni_env(config, root, notes)
    ip_family = "IPv4"
    if "kubernetesNetworkConfig" in config:
        k_where = root.key(config, "kubernetesNetworkConfig")
        network = _mapping(config["kubernetesNetworkConfig"], k_where, "KubernetesNetworkConfig")
        family = as_str(network.get("ipFamily", "IPv4"), k_where.key(network, "ipFamily"))
        # eksctl compares with strings.EqualFold (types.go IPv6Enabled).
        if family.lower() not in ("ipv4", "ipv6"):
            raise k_where.key(network, "ipFamily").error(f"{family!r} is not IPv4 or IPv6")
        if family.lower() == "ipv6":
            ip_family = "IPv6"
            env = {
                "ENABLE_IPv6": "true",
                "ENABLE_IPv4": "false",
                "ENABLE_PREFIX_DELEGATION": "true",
                **env,
            }
            notes.append(
                "ipFamily IPv6: pods take no IPv4 address (a /80 per node); cnisim simulates"
                " the nodes' own addresses only"
            )
    aws_node = registry.build(AwsNode, env_where, {"env": env_where}, env=env)
    groups: list[NodeGroup] = []
    for key, managed in (("managedNodeGroups", True), ("nodeGroups", False)):
        if key in config:
            g_where = root.key(config, key)
            items = as_list(config[key], g_where)
            groups.extend(
                _node_group(item, g_where.item(items, i), registry, subnets, managed, notes)
                for i, item in enumerate(items)
            )
    if not groups:
        raise root.error(
            "has no managedNodeGroups or nodeGroups: cnisim simulates node groups; add one"
        )
    profiles: tuple[FargateProfile, ...] = ()
    if "fargateProfiles" in config:
        f_where = root.key(config, "fargateProfiles")
        items = as_list(config["fargateProfiles"], f_where)
        profiles = tuple(
            _fargate_profile(item, f_where.item(items, i), registry, subnets)
            for i, item in enumerate(items)
        )
    plan_attrs = {"ip_family": root.key(config, "kubernetesNetworkConfig")}
    plan = registry.build(
        Plan,
        root,
        plan_attrs,
        vpc=vpc,
        node_groups=tuple(groups),
        aws_node=aws_node,
        region=region,
        ip_family=ip_family,
        name=name,
        source=source,
        sha256=sha256,
        notes=tuple(notes),
        fargate_profiles=profiles,
    )
    return plan, registry
