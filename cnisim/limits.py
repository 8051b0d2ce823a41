"""Max pods per EC2 instance type in every VPC CNI mode, kubelet reservations and per-pod resources.

Every formula takes a scalar, a ``numpy.ndarray`` or a ``pandas.Series`` and returns the same
type and shape (a Series keeps its index): the arithmetic is numpy operators and ufuncs only, so
the whole catalog is computed in one call and never in a Python loop over types.
:func:`compute_limits` is the one entry point for the whole catalog; :func:`tool_answers` says
what each tool (calculator, nodeadm, Karpenter, Bottlerocket, managed node groups, Auto Mode)
would answer for the same types.

Conventions (each rule's source is in the function that applies it):

- ENIs are those of the **default network card** (the VPC CNI uses card 0 only) unless
  ``all_network_cards`` is asked for.
- "+2" is the host-network pods (aws-node, kube-proxy) of ``misc/eni-max-pods.txt``; it is an
  explicit, switchable ``host_network_pods`` argument.
- The 110/250 cap is **policy** (max-pods-calculator.sh, managed node groups), not a network
  limit: ``max_pods_uncapped`` and ``max_pods_capped`` are both reported.

Simplifications of the real CNI are said where they are made; the main ones: IPv6 max pods is a
policy value (a /80 per ENI never runs out), all-network-cards multiplies like one big card, and
the SGP trunk ENI takes a slot only on trunking-compatible types with a slot beyond the primary
(ipamd's hasRoomForEni asks IsTrunkingCompatible).

References
----------
awslabs/amazon-eks-ami templates/al2/runtime/max-pods-calculator.sh (last at 8f395aaa);
awslabs/amazon-eks-ami nodeadm/internal/kubelet/config.go; aws/amazon-vpc-cni-k8s
pkg/ipamd/ipamd.go and pkg/awsutils/awsutils.go; aws/karpenter-provider-aws
pkg/providers/instancetype/types.go; EKS user guide choosing-instance-type.adoc.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
from numpy.typing import ArrayLike

from cnisim.errors import UsageError
from cnisim.units import INT32_MAX, INT64_MAX, check_finite, check_whole

ArrayOrScalar: TypeAlias = Any
"""A scalar, ``numpy.ndarray`` or ``pandas.Series``; formulas return the same type."""

DEFAULT_CNI_VERSION = "1.23.1"
"""The VPC CNI release cnisim models (the one ``docs/ipamd-model.md`` was traced at)."""

IPV4_ADDRESSES_PER_PREFIX = 16
"""Addresses in one delegated IPv4 prefix (a /28)."""

HOST_NETWORK_PODS = 2
"""Host-network pods counted by ``eni-max-pods.txt`` (aws-node and kube-proxy)."""

KUBELET_DEFAULT_MAX_PODS = 110
"""Kubelet's own default ``maxPods``; also the low policy cap."""

MAX_PODS_CAP_LARGE = 250
"""Policy cap for types with more than :data:`POLICY_CAP_VCPU_THRESHOLD` vCPUs."""

POLICY_CAP_VCPU_THRESHOLD = 30
"""vCPUs above which the 250 cap applies (exactly 30 counts as small)."""

KUBE_RESERVED_MEMORY_PER_POD_MIB = 11
"""kubeReserved.memory per max pod [MiB]."""

KUBE_RESERVED_MEMORY_BASE_MIB = 255
"""kubeReserved.memory base [MiB]."""

EVICTION_HARD_MEMORY_MIB = 100
"""Default kubelet ``evictionHard`` ``memory.available`` [MiB] (nodeadm, Karpenter)."""

ARM64_RESERVED_MIB = 64
"""Memory Karpenter takes off arm64 types before the VM overhead (Graviton CMA) [MiB]."""

KARPENTER_VM_MEMORY_OVERHEAD_FRAC = 0.075
"""Karpenter's default ``VM_MEMORY_OVERHEAD_PERCENT``."""

BINDING_RESOURCES = ("pods", "memory", "cpu")
"""Names of the codes :func:`pods_that_fit` returns: 0 pods, 1 memory, 2 cpu."""

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+].*)?$")

# First CNI releases with each capability (aws/amazon-vpc-cni-k8s CHANGELOG.md).
_CNI_PD_NITRO = (1, 9, 0)  # v1.9.0 "Prefix Delegation feature support" (#1516)
_CNI_PD_BARE_METAL = (1, 10, 3)  # v1.10.3 "Enable Prefix Delegation on Bare metal" (#1937)
_CNI_IPV6 = (1, 10, 1)  # EKS user guide: IPv6 needs VPC CNI 1.10.1 or later
_CNI_IPV6_SGP = (1, 16, 0)  # "IPv6 Security Groups for Pods Support" (#2639, after v1.15.3)
_CNI_MULTI_NIC = (1, 20, 0)  # ENABLE_MULTI_NIC


class InvalidOptionError(UsageError):
    """A max-pods option has a value that cannot be used."""


class CniRefusesConfigError(InvalidOptionError):
    """The VPC CNI itself refuses this combination of settings (ipamd ``isConfigValid``)."""


def parse_cni_version(cni_version: str) -> tuple[int, int, int]:
    """Parse a VPC CNI version into (major, minor, patch).

    Parameters
    ----------
    cni_version : str
        ``1.19.0``, ``v1.19.0-eksbuild.1`` or ``1.19``; a missing patch reads as 0.

    Returns
    -------
    tuple of int
        (major, minor, patch).

    Raises
    ------
    InvalidOptionError
        If the text is not a version.

    References
    ----------
    max-pods-calculator.sh parses only major.minor so that ``-eksbuild.1`` suffixes work; the
    patch is kept here because IPv6 (1.10.1) and PD on bare metal (1.10.3) start at a patch.

    Examples
    --------
    >>> parse_cni_version("v1.19.0-eksbuild.1")
    (1, 19, 0)
    """
    match = _VERSION_RE.match(cni_version.strip())
    if match is None:
        raise InvalidOptionError(
            f"CNI version {cni_version!r} is not a version: give MAJOR.MINOR[.PATCH], "
            "e.g. 1.19.0 or v1.19.0-eksbuild.1"
        )
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def max_pods_secondary(
    enis: ArrayOrScalar, ipv4_per_eni: ArrayOrScalar, *, host_network_pods: int = HOST_NETWORK_PODS
) -> ArrayOrScalar:
    """Max pods in secondary-IP mode: ENIs x (IPv4 per ENI - 1) + host-network pods.

    Parameters
    ----------
    enis : int, ndarray or Series
        ENIs that carry pod IPs [count] (see :func:`enis_for_pods`).
    ipv4_per_eni : int, ndarray or Series
        IPv4 addresses per ENI, the primary included [count].
    host_network_pods : int
        Pods that need no VPC IP (aws-node, kube-proxy) [count]; 2 in every AWS table, 0 for
        the "pod IPs only" convention some maintainers use.

    Returns
    -------
    int, ndarray or Series
        Max pods [count], uncapped.

    Notes
    -----
    The primary IP of each ENI is the ENI's own address and is not handed to pods.

    References
    ----------
    aws/amazon-vpc-cni-k8s misc/eni-max-pods.txt header; max-pods-calculator.sh.

    Examples
    --------
    m5.large: 3 ENIs of 10 IPv4 each.

    >>> max_pods_secondary(3, 10)
    29
    """
    return enis * (ipv4_per_eni - 1) + host_network_pods


def max_pods_prefix_delegation(
    enis: ArrayOrScalar, ipv4_per_eni: ArrayOrScalar, *, host_network_pods: int = HOST_NETWORK_PODS
) -> ArrayOrScalar:
    """Max pods with prefix delegation: ENIs x (IPv4 per ENI - 1) x 16 + host-network pods.

    Parameters
    ----------
    enis : int, ndarray or Series
        ENIs that carry pod prefixes [count].
    ipv4_per_eni : int, ndarray or Series
        IPv4 address slots per ENI, the primary included [count]; each other slot holds a /28.
    host_network_pods : int
        Pods that need no VPC IP [count].

    Returns
    -------
    int, ndarray or Series
        Max pods [count], uncapped; the 110/250 cap nearly always binds.

    References
    ----------
    max-pods-calculator.sh (PD branch); EKS user guide cni-increase-ip-addresses.

    Examples
    --------
    m5.large with prefix delegation, before the 110 cap:

    >>> max_pods_prefix_delegation(3, 10)
    434
    """
    return enis * (ipv4_per_eni - 1) * IPV4_ADDRESSES_PER_PREFIX + host_network_pods


def enis_for_pods(
    max_enis_default_card: ArrayOrScalar,
    *,
    max_eni: int | None = None,
    custom_networking: bool = False,
    security_groups_for_pods: bool = False,
    all_network_cards: bool = False,
    max_enis_total: ArrayOrScalar = None,
    trunking_compatible: ArrayOrScalar = True,
) -> ArrayOrScalar:
    """ENIs whose addresses can go to pods, after MAX_ENI, custom networking and the SGP trunk.

    Applied in the calculator's order: min with ``MAX_ENI`` first, then -1 for custom
    networking (the primary ENI keeps the node's subnet and gets no pod IPs), then -1 for the
    security-groups-for-pods trunk ENI where a trunk comes (a trunking-compatible type with at
    least 2 ENIs after ``MAX_ENI``); floored at 0.

    Parameters
    ----------
    max_enis_default_card : int, ndarray or Series
        ``MaximumNetworkInterfaces`` of the default network card [count].
    max_eni : int or None
        The aws-node ``MAX_ENI`` setting (calculator ``--cni-max-eni``) [count].
    custom_networking : bool
        ``AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG=true``.
    security_groups_for_pods : bool
        ``ENABLE_POD_ENI=true``: one ENI slot goes to the trunk ENI.
    all_network_cards : bool
        Count the ENIs of every network card (``ENABLE_MULTI_NIC=true``, VPC CNI >= 1.20);
        needs ``max_enis_total``.
    max_enis_total : int, ndarray or Series
        ``MaximumNetworkInterfaces`` over all cards [count].
    trunking_compatible : bool, ndarray or Series
        The type trunks (``IsTrunkingCompatible``); elsewhere SGP reserves no slot.

    Returns
    -------
    int, ndarray or Series
        ENIs for pods [count], >= 0.

    Notes
    -----
    ipamd reserves the trunk slot only when ``ENABLE_POD_ENI`` is set on a trunking-compatible
    type and no trunk is attached yet (``hasRoomForEni`` asks ``IsTrunkingCompatible``; the VPC
    resource controller attaches no trunk elsewhere); with ``MAX_ENI=1`` there is no room for a
    trunk, so the primary's addresses stay for pods. With all network cards, the
    custom-networking and trunk ENIs are still taken once (both live on card 0), and
    ``max_eni`` caps the total: a simplification of the per-card accounting of ipamd.

    References
    ----------
    max-pods-calculator.sh (``--cni-max-eni``, ``--cni-custom-networking-enabled``);
    aws/amazon-vpc-cni-k8s pkg/ipamd/ipamd.go ``hasRoomForEni`` (trunk ENI); Karpenter docs
    ``RESERVED_ENIS``.

    Examples
    --------
    >>> int(enis_for_pods(3, custom_networking=True))
    2
    >>> int(enis_for_pods(3, security_groups_for_pods=True, trunking_compatible=False))
    3
    """
    if all_network_cards:
        if max_enis_total is None:
            raise ValueError("all_network_cards needs max_enis_total")
        enis = max_enis_total
    else:
        enis = max_enis_default_card
    if max_eni is not None:
        enis = np.minimum(enis, max_eni)
    trunk = security_groups_for_pods & np.asarray(trunking_compatible, dtype=bool) & (enis >= 2)
    return np.maximum(enis - int(custom_networking) - trunk, 0)


def prefix_delegation_supported(
    hypervisor: ArrayOrScalar,
    bare_metal: ArrayOrScalar,
    *,
    rule: Literal["calculator", "cni"],
    cni_version: str,
) -> ArrayOrScalar:
    """Whether a type gets prefix delegation, by the calculator's rule or by the CNI's own.

    Parameters
    ----------
    hypervisor : str, ndarray or Series
        ``"nitro"``, ``"xen"`` or ``""`` (absent, as on most bare metal).
    bare_metal : bool, ndarray or Series
        The type is bare metal.
    rule : {"calculator", "cni"}
        ``"calculator"``: hypervisor exactly ``nitro`` and CNI >= 1.9 (major.minor only), so
        bare metal never. ``"cni"``: what ipamd does: Nitro from 1.9.0, or bare metal from
        1.10.3.
    cni_version : str
        VPC CNI version, e.g. ``"1.19.0-eksbuild.1"``.

    Returns
    -------
    bool, ndarray or Series
        True where prefix delegation is used when asked for; elsewhere the CNI falls back to
        secondary IPs (IPv4) or refuses to start (IPv6).

    References
    ----------
    max-pods-calculator.sh (``Hypervisor == nitro`` test); aws/amazon-vpc-cni-k8s
    pkg/awsutils/awsutils.go ``IsPrefixDelegationSupported`` (nitro or bare metal) and
    pkg/ipamd/ipamd.go ``isConfigValid``; CHANGELOG v1.9.0 (#1516), v1.10.3 (#1937).

    Examples
    --------
    >>> bool(prefix_delegation_supported("nitro", False, rule="calculator", cni_version="1.9.0"))
    True
    >>> bool(prefix_delegation_supported("", True, rule="cni", cni_version="1.19.0"))
    True
    """
    version = parse_cni_version(cni_version)
    nitro = hypervisor == "nitro"
    if rule == "calculator":
        return nitro & (version[:2] >= _CNI_PD_NITRO[:2])
    if rule == "cni":
        return (nitro & (version >= _CNI_PD_NITRO)) | (bare_metal & (version >= _CNI_PD_BARE_METAL))
    raise ValueError(f"unknown rule {rule!r}: use 'calculator' or 'cni'")


def policy_cap(vcpus: ArrayOrScalar) -> ArrayOrScalar:
    """The 110/250 max-pods ceiling: 110 if vCPUs <= 30, else 250.

    Parameters
    ----------
    vcpus : int, ndarray or Series
        Default vCPUs [count].

    Returns
    -------
    int, ndarray or Series
        Cap [pods].

    References
    ----------
    EKS user guide choosing-instance-type.adoc (110 from Kubernetes scalability thresholds,
    250 above 30 vCPUs from EKS testing); max-pods-calculator.sh; managed node groups apply the
    same ceiling whether prefix delegation is on or not.

    Examples
    --------
    >>> policy_cap(2), policy_cap(96)
    (110, 250)
    """
    return KUBELET_DEFAULT_MAX_PODS + (MAX_PODS_CAP_LARGE - KUBELET_DEFAULT_MAX_PODS) * (
        vcpus > POLICY_CAP_VCPU_THRESHOLD
    )


def branch_eni_pods(
    branch_enis: ArrayOrScalar, trunking_compatible: ArrayOrScalar
) -> ArrayOrScalar:
    """Pods with their own security groups a node can run: its branch ENIs if it can trunk.

    Parameters
    ----------
    branch_enis : int, ndarray or Series
        ``BranchInterface`` of the type [count].
    trunking_compatible : bool, ndarray or Series
        ``IsTrunkingCompatible`` (no t-family type is).

    Returns
    -------
    int, ndarray or Series
        SGP pod limit [pods] (``vpc.amazonaws.com/pod-eni``); 0 on non-trunking types.
        Prefix delegation does not raise it.

    References
    ----------
    aws/amazon-vpc-resource-controller-k8s pkg/aws/vpc/limits.go (copied by Karpenter as
    zz_generated.vpclimits.go); vpc-cni README (PD does not raise branch-pod density).

    Examples
    --------
    >>> branch_eni_pods(9, True), branch_eni_pods(9, False)
    (9, 0)
    """
    return branch_enis * trunking_compatible


def kube_reserved_memory_mib(max_pods: ArrayOrScalar) -> ArrayOrScalar:
    """Kubelet ``kubeReserved.memory``: 11 MiB per pod + 255 MiB.

    Parameters
    ----------
    max_pods : int, ndarray or Series
        The max-pods value the AMI reserves for [pods] (see ``reservation_basis``).

    Returns
    -------
    int, ndarray or Series
        Reserved memory [MiB].

    References
    ----------
    awslabs/amazon-eks-ami nodeadm/internal/kubelet/config.go; Karpenter types.go;
    Bottlerocket schnauzer ``kube_reserve_memory``.

    Examples
    --------
    >>> kube_reserved_memory_mib(29)
    574
    """
    return KUBE_RESERVED_MEMORY_PER_POD_MIB * max_pods + KUBE_RESERVED_MEMORY_BASE_MIB


def kube_reserved_cpu_millicores(vcpus: ArrayOrScalar) -> ArrayOrScalar:
    """Kubelet ``kubeReserved.cpu``: 6% of core 1, 1% of core 2, 0.5% of cores 3-4, 0.25% above.

    Parameters
    ----------
    vcpus : int, ndarray or Series
        vCPUs [count].

    Returns
    -------
    int, ndarray or Series
        Reserved CPU [millicores], floored to whole millicores (2.5 m per core above 4).

    References
    ----------
    awslabs/amazon-eks-ami nodeadm/internal/kubelet/config.go; Karpenter types.go (from
    DefaultVCpus); Bottlerocket (60/70/75/80 m, then +2.5 m per core, floored).

    Examples
    --------
    >>> int(kube_reserved_cpu_millicores(2)), int(kube_reserved_cpu_millicores(96))
    (70, 310)
    """
    # 60 m for core 1, 10 m for core 2, 5 m each for cores 3-4, 2.5 m each above 4; integer
    # arithmetic (5 m per two cores) so the floor is exact.
    return (
        60 * (vcpus >= 1)
        + 10 * (vcpus >= 2)
        + 5 * np.minimum(np.maximum(vcpus - 2, 0), 2)
        + (5 * np.maximum(vcpus - 4, 0)) // 2
    )


def vm_overhead_mib(
    memory_mib: ArrayOrScalar,
    arch: ArrayOrScalar,
    *,
    overhead_frac: float = KARPENTER_VM_MEMORY_OVERHEAD_FRAC,
) -> ArrayOrScalar:
    """Memory the kernel and hypervisor keep from an instance, as Karpenter estimates it.

    Parameters
    ----------
    memory_mib : int, ndarray or Series
        ``MemoryInfo.SizeInMiB`` [MiB].
    arch : str, ndarray or Series
        ``"arm64"`` or ``"x86_64"``.
    overhead_frac : float
        ``VM_MEMORY_OVERHEAD_PERCENT`` as a fraction [0-1).

    Returns
    -------
    int, ndarray or Series
        64 MiB on arm64 (Graviton CMA), plus ceil(fraction x what remains) [MiB].

    Notes
    -----
    An estimate: once a node has joined, Karpenter caches the kernel-reported capacity instead.

    References
    ----------
    aws/karpenter-provider-aws pkg/providers/instancetype/types.go (memory capacity),
    pkg/operator/options/options.go (0.075 default).

    Examples
    --------
    m5.large and m7g.large (8192 MiB each):

    >>> int(vm_overhead_mib(8192, "x86_64")), int(vm_overhead_mib(8192, "arm64"))
    (615, 674)
    """
    arm_mib = ARM64_RESERVED_MIB * (arch == "arm64")
    return arm_mib + np.ceil((memory_mib - arm_mib) * overhead_frac).astype(np.int64)


def allocatable_memory_mib(
    memory_mib: ArrayOrScalar,
    kube_reserved_memory_mib: ArrayOrScalar,
    *,
    vm_overhead_mib: ArrayOrScalar = 0,
    eviction_memory_mib: ArrayOrScalar = EVICTION_HARD_MEMORY_MIB,
) -> ArrayOrScalar:
    """Node allocatable memory: capacity - kubeReserved - systemReserved (0) - eviction.

    Parameters
    ----------
    memory_mib : int, ndarray or Series
        Instance memory [MiB].
    kube_reserved_memory_mib : int, ndarray or Series
        [MiB], from :func:`kube_reserved_memory_mib`.
    vm_overhead_mib : int, ndarray or Series
        Memory the OS never sees [MiB]; 0 takes capacity = instance memory.
    eviction_memory_mib : int, ndarray or Series
        ``evictionHard`` ``memory.available`` [MiB].

    Returns
    -------
    int, ndarray or Series
        Allocatable memory [MiB], floored at 0 as the kubelet does.

    References
    ----------
    awslabs/amazon-eks-ami nodeadm/internal/kubelet/config.go; Karpenter types.go.

    Examples
    --------
    m5.large under Karpenter's defaults:

    >>> int(allocatable_memory_mib(8192, 574, vm_overhead_mib=615))
    6903
    """
    return np.maximum(
        memory_mib - vm_overhead_mib - kube_reserved_memory_mib - eviction_memory_mib, 0
    )


def allocatable_cpu_millicores(
    vcpus: ArrayOrScalar, kube_reserved_cpu_millicores: ArrayOrScalar
) -> ArrayOrScalar:
    """Node allocatable CPU: vCPUs x 1000 - kubeReserved.cpu (no systemReserved, no eviction).

    Parameters
    ----------
    vcpus : int, ndarray or Series
        vCPUs [count].
    kube_reserved_cpu_millicores : int, ndarray or Series
        [millicores], from :func:`kube_reserved_cpu_millicores`.

    Returns
    -------
    int, ndarray or Series
        Allocatable CPU [millicores].

    References
    ----------
    awslabs/amazon-eks-ami nodeadm/internal/kubelet/config.go.

    Examples
    --------
    >>> allocatable_cpu_millicores(2, 70)
    1930
    """
    return vcpus * 1000 - kube_reserved_cpu_millicores


def memory_per_pod_mib(
    allocatable_memory_mib: ArrayOrScalar, max_pods: ArrayOrScalar
) -> ArrayOrScalar:
    """Allocatable memory per pod when the node runs max pods.

    Parameters
    ----------
    allocatable_memory_mib : int, ndarray or Series
        [MiB].
    max_pods : int, ndarray or Series
        [pods].

    Returns
    -------
    float, ndarray or Series
        [MiB per pod]; 0 where max pods is 0.

    Examples
    --------
    >>> round(float(memory_per_pod_mib(6903, 29)), 1)
    238.0
    """
    return _per_pod(allocatable_memory_mib, max_pods)


def cpu_per_pod_millicores(
    allocatable_cpu_millicores: ArrayOrScalar, max_pods: ArrayOrScalar
) -> ArrayOrScalar:
    """Allocatable CPU per pod when the node runs max pods.

    Parameters
    ----------
    allocatable_cpu_millicores : int, ndarray or Series
        [millicores].
    max_pods : int, ndarray or Series
        [pods].

    Returns
    -------
    float, ndarray or Series
        [millicores per pod]; 0 where max pods is 0.

    Examples
    --------
    >>> round(float(cpu_per_pod_millicores(1930, 29)), 1)
    66.6
    """
    return _per_pod(allocatable_cpu_millicores, max_pods)


def _per_pod(allocatable: ArrayOrScalar, max_pods: ArrayOrScalar) -> ArrayOrScalar:
    """A resource shared by ``max_pods`` pods; 0 where there are no pods."""
    return allocatable / np.maximum(max_pods, 1) * (max_pods > 0)


def _pods_by_request(
    allocatable: ArrayOrScalar, request: float, unbound: ArrayOrScalar
) -> ArrayOrScalar:
    """Pods that one resource allows: floor(allocatable / request), ``unbound`` if no request."""
    if request <= 0:
        return unbound
    if float(request).is_integer():
        # Exact integer division for whole requests (the usual case, and 10x faster than a
        # float floor-divide).
        return np.maximum(allocatable // int(request), 0)
    return np.maximum(np.floor(allocatable / request), 0)


def pods_that_fit(
    max_pods: ArrayOrScalar,
    allocatable_memory_mib: ArrayOrScalar,
    allocatable_cpu_millicores: ArrayOrScalar,
    *,
    pod_cpu_millicores: float,
    pod_memory_mib: float,
) -> tuple[ArrayOrScalar, ArrayOrScalar]:
    """How many pods of one profile really fit on a node, and which resource binds first.

    Parameters
    ----------
    max_pods : int, ndarray or Series
        The node's max pods [pods].
    allocatable_memory_mib, allocatable_cpu_millicores : int, ndarray or Series
        Node allocatable [MiB], [millicores].
    pod_cpu_millicores : float
        CPU request of one pod [millicores], 0 (CPU never binds) or >= 1.
    pod_memory_mib : float
        Memory request of one pod [MiB], 0 (memory never binds) or >= one byte.

    Returns
    -------
    pods_fit : ndarray or Series
        min(max pods, pods by memory, pods by CPU) [pods], >= 0 (float dtype when a request
        is a float).
    binding : ndarray or Series
        Code of the binding resource, an index into :data:`BINDING_RESOURCES` (0 ``pods``,
        1 ``memory``, 2 ``cpu``); on a tie the earlier one wins.

    Notes
    -----
    Requests only (as the scheduler); daemonset pods other than the host-network ones and
    per-pod overheads are not modelled.

    Examples
    --------
    m5.large (29 pods, 6903 MiB, 1930 m) with 100 m / 512 MiB pods: memory binds at 13.

    >>> fit, code = pods_that_fit(29, 6903, 1930, pod_cpu_millicores=100, pod_memory_mib=512)
    >>> int(fit), BINDING_RESOURCES[int(code)]
    (13, 'memory')
    """
    by_memory = _pods_by_request(allocatable_memory_mib, pod_memory_mib, max_pods)
    by_cpu = _pods_by_request(allocatable_cpu_millicores, pod_cpu_millicores, max_pods)
    pods_fit = np.minimum(np.minimum(max_pods, by_memory), by_cpu)
    memory_binds = (by_memory < max_pods) & (by_memory <= by_cpu)
    cpu_binds = (by_cpu < max_pods) & (by_cpu < by_memory)
    return pods_fit, 1 * memory_binds + 2 * cpu_binds


@dataclass(frozen=True)
class MaxPodsOptions:
    """The settings that decide max pods, named after the calculator flags and aws-node/eksctl.

    Attributes
    ----------
    cni_version : str
        VPC CNI version (calculator ``--cni-version``); ``-eksbuild.N`` suffixes are accepted.
    prefix_delegation : bool
        ``ENABLE_PREFIX_DELEGATION`` (``--cni-prefix-delegation-enabled``). On types that cannot
        use it the CNI falls back to secondary IPs. Implied by ``ipv6``.
    custom_networking : bool
        ``AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG`` (``--cni-custom-networking-enabled``).
    max_eni : int or None
        ``MAX_ENI`` (``--cni-max-eni``), >= 1.
    security_groups_for_pods : bool
        ``ENABLE_POD_ENI``: a trunk ENI takes one slot.
    ipv6 : bool
        ``ENABLE_IPv6``: PD is then always on; max pods becomes a policy value.
    all_network_cards : bool
        ``ENABLE_MULTI_NIC`` (CNI >= 1.20): ENIs of every card count.
    host_network_pods : int
        The "+2" [pods].
    show_max_allowed : bool
        Answer uncapped (calculator ``--show-max-allowed``).
    max_pods_override : int or None
        eksctl ``maxPodsPerNode`` / kubelet ``maxPods`` [pods], >= 1.
    reservation_basis : {"nodeadm", "bottlerocket"}
        Max pods that kubeReserved.memory is computed from: ``"nodeadm"`` (AL2, AL2023 nodeadm,
        Karpenter on AL2/AL2023) use the ENI-derived classic value even when maxPods is
        overridden; ``"bottlerocket"`` uses the effective max pods.
    vm_overhead_frac : float
        Karpenter ``VM_MEMORY_OVERHEAD_PERCENT`` in [0, 1); 0 takes capacity = instance memory
        (no arm64 deduction either), 0.075 reproduces Karpenter.
    pod_cpu_millicores, pod_memory_mib : float or None
        A pod profile's requests [millicores], [MiB]; either one turns on ``pods_fit``.
    prefix_delegation_rule : {"calculator", "cni"}
        Which types get PD: the calculator's (Nitro hypervisor only; the default, so
        ``max_pods`` equals what the calculator prints) or the CNI's (also bare metal).
        IPv6 always takes the CNI's rule.

    Raises
    ------
    InvalidOptionError
        A value is out of range or not a version.
    CniRefusesConfigError
        ipamd would refuse the combination (IPv6 with custom networking, IPv6 before 1.10.1,
        IPv6 with SGP before 1.16, multi-NIC before 1.20).

    References
    ----------
    max-pods-calculator.sh flags; aws/amazon-vpc-cni-k8s README (aws-node variables) and
    pkg/ipamd/ipamd.go ``isConfigValid``; eksctl ``maxPodsPerNode``.

    Examples
    --------
    >>> MaxPodsOptions(ipv6=True, custom_networking=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cnisim.limits.CniRefusesConfigError: the VPC CNI refuses IPv6 with custom networking ...
    """

    cni_version: str = DEFAULT_CNI_VERSION
    prefix_delegation: bool = False
    custom_networking: bool = False
    max_eni: int | None = None
    security_groups_for_pods: bool = False
    ipv6: bool = False
    all_network_cards: bool = False
    host_network_pods: int = HOST_NETWORK_PODS
    show_max_allowed: bool = False
    max_pods_override: int | None = None
    reservation_basis: Literal["nodeadm", "bottlerocket"] = "nodeadm"
    vm_overhead_frac: float = 0.0
    pod_cpu_millicores: float | None = None
    pod_memory_mib: float | None = None
    prefix_delegation_rule: Literal["calculator", "cni"] = "calculator"

    def __post_init__(self) -> None:
        if not isinstance(self.cni_version, str):
            raise InvalidOptionError(
                f"cni_version must be a string such as {DEFAULT_CNI_VERSION!r}"
            )
        version = parse_cni_version(self.cni_version)
        # Types first (NaN compares false with every bound; a huge int overflows int64 later).
        for name, maximum in (
            ("max_eni", INT64_MAX),
            ("max_pods_override", INT32_MAX),
            ("host_network_pods", INT32_MAX),
        ):
            value = getattr(self, name)
            if value is not None:
                check_whole(value, name=name, maximum=maximum)
        check_finite(self.vm_overhead_frac, name="vm_overhead_frac")
        for name in ("pod_cpu_millicores", "pod_memory_mib"):
            if getattr(self, name) is not None:
                check_finite(getattr(self, name), name=name, maximum=float(INT64_MAX))
        if self.max_eni is not None and self.max_eni < 1:
            raise InvalidOptionError(
                f"max_eni {self.max_eni} is invalid: MAX_ENI must be 1 or more (leave it unset "
                "to use every ENI)"
            )
        if self.host_network_pods < 0:
            raise InvalidOptionError(
                f"host_network_pods {self.host_network_pods} is negative: "
                "use 0 or more (AWS tables use 2)"
            )
        if self.max_pods_override is not None and self.max_pods_override < 1:
            raise InvalidOptionError(
                f"max pods override {self.max_pods_override} is invalid: kubelet maxPods must "
                "be 1 or more"
            )
        if not 0.0 <= self.vm_overhead_frac < 1.0:
            raise InvalidOptionError(
                f"vm_overhead_frac {self.vm_overhead_frac} is out of range: use a fraction in "
                "[0, 1), e.g. 0.075 like Karpenter"
            )
        # Kubernetes quantities: CPU no finer than 1 m, memory no finer than one byte.
        for name, smallest, unit in (
            ("pod_cpu_millicores", 1.0, "1 m"),
            ("pod_memory_mib", 1.0 / 1024**2, "one byte"),
        ):
            value = getattr(self, name)
            if value is not None and (value < 0 or 0 < value < smallest):
                raise InvalidOptionError(
                    f"{name} {value} is not a request: give 0 (none) or at least {unit}"
                )
        if self.prefix_delegation_rule not in ("calculator", "cni"):
            raise InvalidOptionError(
                f"prefix_delegation_rule {self.prefix_delegation_rule!r} is unknown: "
                "use 'calculator' or 'cni'"
            )
        if self.reservation_basis not in ("nodeadm", "bottlerocket"):
            raise InvalidOptionError(
                f"reservation_basis {self.reservation_basis!r} is unknown: "
                "use 'nodeadm' or 'bottlerocket'"
            )
        if self.all_network_cards and version < _CNI_MULTI_NIC:
            raise CniRefusesConfigError(
                f"all network cards needs ENABLE_MULTI_NIC, which VPC CNI {self.cni_version} "
                "lacks: use CNI 1.20.0 or later, or count the default card only"
            )
        if not self.ipv6:
            return
        if self.custom_networking:
            raise CniRefusesConfigError(
                "the VPC CNI refuses IPv6 with custom networking (ipamd isConfigValid): "
                "turn one of them off"
            )
        if version < _CNI_IPV6:
            raise CniRefusesConfigError(
                f"IPv6 needs VPC CNI 1.10.1 or later (with prefix delegation), not "
                f"{self.cni_version}: raise the CNI version"
            )
        if self.security_groups_for_pods and version < _CNI_IPV6_SGP:
            raise CniRefusesConfigError(
                f"VPC CNI {self.cni_version} refuses security groups for pods with IPv6 "
                "(ipamd isConfigValid): use CNI 1.16.0 or later"
            )


def _full(n_rows: int, value: int) -> np.ndarray:
    return np.full(n_rows, value, dtype=np.int64)


def compute_limits(
    columns: Mapping[str, ArrayLike], options: MaxPodsOptions
) -> dict[str, np.ndarray]:
    """Max pods, reservations and per-pod resources for every row of a catalog, in one call.

    Parameters
    ----------
    columns : mapping of str to array
        Canonical catalog columns (``Catalog.columns``): ``vcpus``, ``memory_mib``,
        ``hypervisor``, ``bare_metal``, ``arch``, ``max_enis_default_card``,
        ``ipv4_per_eni``, ``branch_enis``, ``trunking_compatible``; ``max_enis`` with
        ``all_network_cards``; ``ipv6_supported`` with ``ipv6``.
    options : MaxPodsOptions
        The CNI mode and node settings.

    Returns
    -------
    dict of str to ndarray
        One array per quantity, one row per type:

        - ``max_pods``: the answer the options ask for: the calculator's output for the
          calculator's flags (capped), uncapped with ``show_max_allowed``, or the override.
        - ``max_pods_uncapped``, ``max_pods_capped``, ``policy_cap``: the network limit for
          the mode, the same under the 110/250 policy cap, and the cap.
        - ``max_pods_secondary``: classic, default card, +2, uncapped (``eni-max-pods.txt``).
        - ``enis_for_pods``; ``prefix_delegation_effective`` (bool); ``prefix_delegation_fallback``
          (bool: PD asked for, the type cannot, IPv4 falls back to secondary IPs; the CLI
          warns); ``cni_refused`` (bool: IPv6 on a type the CNI will not start on; max pods 0).
        - ``branch_eni_pods``: SGP pod limit.
        - ``max_pods_for_reservation``, ``kube_reserved_memory_mib``,
          ``kube_reserved_cpu_millicores``, ``eviction_memory_mib``, ``vm_overhead_mib``,
          ``allocatable_memory_mib``, ``allocatable_cpu_millicores``,
          ``memory_per_pod_mib``, ``cpu_per_pod_millicores`` (at ``max_pods``).
        - With a pod profile: ``pods_fit`` and ``binding_resource`` (``"pods"``,
          ``"memory"`` or ``"cpu"``).

        Some keys share one array (``max_pods`` is ``max_pods_capped`` by default): copy
        before changing one in place.

    Notes
    -----
    IPv6: each ENI gets one /80, so addresses never limit pods and max pods is policy.
    cnisim then reports, like the EKS guidance (best-practices IPv6 page: use the EKS
    recommended value, which managed node groups set), ``max_pods_uncapped`` = the prefix-
    delegation formula (the calculator's figure with PD) and ``max_pods_capped`` = that under
    the 110/250 cap. Types without prefix delegation or IPv6 get 0 and ``cni_refused``: ipamd
    will not start there. Bottlerocket/nodeadm-style reservations do not change with IPv6.

    References
    ----------
    max-pods-calculator.sh; aws/amazon-vpc-cni-k8s pkg/ipamd/ipamd.go; awslabs/amazon-eks-ami
    nodeadm/internal/kubelet/config.go; Karpenter types.go; Bottlerocket schnauzer helpers.

    Examples
    --------
    m5.large:

    >>> m5_large = {"vcpus": [2], "memory_mib": [8192], "hypervisor": ["nitro"],
    ...     "bare_metal": [False], "arch": ["x86_64"], "max_enis_default_card": [3],
    ...     "ipv4_per_eni": [10], "branch_enis": [9], "trunking_compatible": [True]}
    >>> compute_limits(m5_large, MaxPodsOptions())["max_pods"].tolist()
    [29]
    >>> compute_limits(m5_large, MaxPodsOptions(prefix_delegation=True))["max_pods"].tolist()
    [110]
    """
    if not isinstance(options, MaxPodsOptions):
        raise UsageError(f"options must be a MaxPodsOptions, not {type(options).__name__}")
    vcpus = np.asarray(columns["vcpus"])
    memory_mib = np.asarray(columns["memory_mib"])
    enis_default_card = np.asarray(columns["max_enis_default_card"])
    ipv4_per_eni = np.asarray(columns["ipv4_per_eni"])
    n_rows = len(vcpus)
    lengths = {name: np.shape(values) for name, values in columns.items()}
    if any(shape != (n_rows,) for shape in lengths.values()):
        raise UsageError(
            "compute_limits needs 1-D columns of one length (one row per type), got "
            + ", ".join(f"{name} {shape}" for name, shape in lengths.items())
        )

    enis = enis_for_pods(
        enis_default_card,
        max_eni=options.max_eni,
        custom_networking=options.custom_networking,
        security_groups_for_pods=options.security_groups_for_pods,
        all_network_cards=options.all_network_cards,
        max_enis_total=np.asarray(columns["max_enis"]) if options.all_network_cards else None,
        trunking_compatible=np.asarray(columns["trunking_compatible"], dtype=bool),
    )
    host_pods = options.host_network_pods
    max_pods_classic = max_pods_secondary(enis, ipv4_per_eni, host_network_pods=host_pods)
    cni_refused = np.zeros(n_rows, dtype=bool)
    if options.ipv6:
        # IPv6 always runs in PD mode; ipamd decides per type with its own rule.
        pd_effective = prefix_delegation_supported(
            np.asarray(columns["hypervisor"]),
            np.asarray(columns["bare_metal"]),
            rule="cni",
            cni_version=options.cni_version,
        ) & np.asarray(columns["ipv6_supported"], dtype=bool)
        cni_refused = ~pd_effective
        pd_fallback = np.zeros(n_rows, dtype=bool)
        max_pods_uncapped = max_pods_prefix_delegation(
            enis, ipv4_per_eni, host_network_pods=host_pods
        )
        max_pods_uncapped = max_pods_uncapped * pd_effective
    elif options.prefix_delegation:
        pd_effective = prefix_delegation_supported(
            np.asarray(columns["hypervisor"]),
            np.asarray(columns["bare_metal"]),
            rule=options.prefix_delegation_rule,
            cni_version=options.cni_version,
        )
        pd_fallback = ~pd_effective
        max_pods_pd = max_pods_prefix_delegation(enis, ipv4_per_eni, host_network_pods=host_pods)
        max_pods_uncapped = np.where(pd_effective, max_pods_pd, max_pods_classic)
    else:
        pd_effective = np.zeros(n_rows, dtype=bool)
        pd_fallback = np.zeros(n_rows, dtype=bool)
        max_pods_uncapped = max_pods_classic

    cap = policy_cap(vcpus)
    max_pods_capped = np.minimum(max_pods_uncapped, cap)
    if options.max_pods_override is not None:
        max_pods = _full(n_rows, options.max_pods_override)
    elif options.show_max_allowed:
        max_pods = max_pods_uncapped
    else:
        max_pods = max_pods_capped

    # What the AMI computes by itself: the classic default-card value (nodeadm, AL2
    # bootstrap.sh, Karpenter's ENILimitedPods with 0 reserved ENIs), whatever maxPods is.
    max_pods_table = max_pods_secondary(enis_default_card, ipv4_per_eni)
    max_pods_for_reservation = (
        max_pods if options.reservation_basis == "bottlerocket" else max_pods_table
    )
    reserved_memory_mib = kube_reserved_memory_mib(max_pods_for_reservation)
    reserved_cpu_millicores = kube_reserved_cpu_millicores(vcpus)
    if options.vm_overhead_frac > 0:
        overhead_mib = vm_overhead_mib(
            memory_mib, np.asarray(columns["arch"]), overhead_frac=options.vm_overhead_frac
        )
    else:
        overhead_mib = _full(n_rows, 0)
    eviction_mib = _full(n_rows, EVICTION_HARD_MEMORY_MIB)
    alloc_memory_mib = allocatable_memory_mib(
        memory_mib,
        reserved_memory_mib,
        vm_overhead_mib=overhead_mib,
        eviction_memory_mib=eviction_mib,
    )
    alloc_cpu_millicores = allocatable_cpu_millicores(vcpus, reserved_cpu_millicores)

    result = {
        "max_pods": max_pods,
        "max_pods_uncapped": max_pods_uncapped,
        "max_pods_capped": max_pods_capped,
        "policy_cap": cap,
        "max_pods_secondary": max_pods_table,
        "enis_for_pods": enis,
        "prefix_delegation_effective": pd_effective,
        "prefix_delegation_fallback": pd_fallback,
        "cni_refused": cni_refused,
        "branch_eni_pods": branch_eni_pods(
            np.asarray(columns["branch_enis"]), np.asarray(columns["trunking_compatible"])
        ),
        "max_pods_for_reservation": max_pods_for_reservation,
        "kube_reserved_memory_mib": reserved_memory_mib,
        "kube_reserved_cpu_millicores": reserved_cpu_millicores,
        "eviction_memory_mib": eviction_mib,
        "vm_overhead_mib": overhead_mib,
        "allocatable_memory_mib": alloc_memory_mib,
        "allocatable_cpu_millicores": alloc_cpu_millicores,
        "memory_per_pod_mib": memory_per_pod_mib(alloc_memory_mib, max_pods),
        "cpu_per_pod_millicores": cpu_per_pod_millicores(alloc_cpu_millicores, max_pods),
    }
    if options.pod_cpu_millicores is not None or options.pod_memory_mib is not None:
        pods_fit, binding = pods_that_fit(
            max_pods,
            alloc_memory_mib,
            alloc_cpu_millicores,
            pod_cpu_millicores=options.pod_cpu_millicores or 0,
            pod_memory_mib=options.pod_memory_mib or 0,
        )
        result["pods_fit"] = pods_fit.astype(np.int64)
        result["binding_resource"] = np.array(BINDING_RESOURCES)[binding]
    return result


def tool_answers(
    columns: Mapping[str, ArrayLike], options: MaxPodsOptions
) -> dict[str, np.ndarray]:
    """What each tool answers for max pods, per type, for ``cnisim describe`` to compare.

    Parameters
    ----------
    columns : mapping of str to array
        Canonical catalog columns: ``vcpus``, ``hypervisor``, ``bare_metal``,
        ``max_enis_default_card``, ``ipv4_per_eni``.
    options : MaxPodsOptions
        The mode; each tool reads only the settings it knows. ``max_pods_override`` is not
        applied (every tool would then pass it through).

    Returns
    -------
    dict of str to ndarray
        ``calculator`` (max-pods-calculator.sh default: capped, PD on Nitro only, custom
        networking and MAX_ENI honoured); ``calculator_show_max_allowed`` (the same, uncapped);
        ``nodeadm`` (AL2023: classic default card +2, no PD, no cap); ``karpenter``
        (ENILimitedPods: default-card ENIs - RESERVED_ENIS, floored at 0 where 0 ENIs give 0
        pods; RESERVED_ENIS taken as its docs advise, 1 each for custom networking and SGP;
        no PD, no cap); ``bottlerocket`` (its eni-max-pods table: classic, uncapped);
        ``managed_node_group`` (capped, PD-aware: the calculator's value); ``eks_auto_mode``
        (min(110, the calculator's uncapped value)).

    Notes
    -----
    Bottlerocket gives 110 to types missing from its packaged table, and the managed node group
    value assumes EKS applies the calculator's rule; neither is modelled beyond that.

    References
    ----------
    max-pods-calculator.sh; nodeadm/internal/kubelet/eni_max_pods.go; Karpenter types.go
    ``ENILimitedPods``; bottlerocket-core-kit pluto; EKS user guide (managed node groups,
    automode/create-node-class.adoc).

    Examples
    --------
    >>> m5_large = {"vcpus": [2], "hypervisor": ["nitro"], "bare_metal": [False],
    ...     "max_enis_default_card": [3], "ipv4_per_eni": [10]}
    >>> answers = tool_answers(m5_large, MaxPodsOptions(prefix_delegation=True))
    >>> answers["calculator"].tolist(), answers["karpenter"].tolist()
    ([110], [29])
    """
    vcpus = np.asarray(columns["vcpus"])
    enis_default_card = np.asarray(columns["max_enis_default_card"])
    ipv4_per_eni = np.asarray(columns["ipv4_per_eni"])

    calculator_enis = enis_for_pods(
        enis_default_card, max_eni=options.max_eni, custom_networking=options.custom_networking
    )
    calculator_uncapped = max_pods_secondary(calculator_enis, ipv4_per_eni)
    if options.prefix_delegation or options.ipv6:
        calculator_pd = prefix_delegation_supported(
            np.asarray(columns["hypervisor"]),
            np.asarray(columns["bare_metal"]),
            rule="calculator",
            cni_version=options.cni_version,
        )
        calculator_uncapped = np.where(
            calculator_pd,
            max_pods_prefix_delegation(calculator_enis, ipv4_per_eni),
            calculator_uncapped,
        )
    calculator = np.minimum(calculator_uncapped, policy_cap(vcpus))
    table = max_pods_secondary(enis_default_card, ipv4_per_eni)
    reserved_enis = int(options.custom_networking) + int(options.security_groups_for_pods)
    karpenter_enis = np.maximum(enis_default_card - reserved_enis, 0)
    karpenter = max_pods_secondary(karpenter_enis, ipv4_per_eni) * (karpenter_enis > 0)
    return {
        "calculator": calculator,
        "calculator_show_max_allowed": calculator_uncapped,
        "nodeadm": table,
        "karpenter": karpenter,
        "bottlerocket": table,
        "managed_node_group": calculator,
        "eks_auto_mode": np.minimum(calculator_uncapped, KUBELET_DEFAULT_MAX_PODS),
    }
