"""Tests of cnisim.limits against published numbers, with hypothesis for the invariants."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnisim.errors import UsageError
from cnisim.limits import (
    BINDING_RESOURCES,
    EVICTION_HARD_MEMORY_MIB,
    KUBELET_DEFAULT_MAX_PODS,
    CniRefusesConfigError,
    InvalidOptionError,
    MaxPodsOptions,
    allocatable_cpu_millicores,
    allocatable_memory_mib,
    branch_eni_pods,
    compute_limits,
    cpu_per_pod_millicores,
    enis_for_pods,
    kube_reserved_cpu_millicores,
    kube_reserved_memory_mib,
    max_pods_prefix_delegation,
    max_pods_secondary,
    memory_per_pod_mib,
    parse_cni_version,
    pods_that_fit,
    policy_cap,
    prefix_delegation_supported,
    tool_answers,
    vm_overhead_mib,
)

# Published instance specs: EC2 DescribeInstanceTypes records as moto 5.2.5 serves them (the
# worked table of /work/shared/docs/max-pods.md, "moto data") and, for branch ENIs and
# trunking, aws/karpenter-provider-aws zz_generated.vpclimits.go @ 7f27b4e8 (a copy of
# aws/amazon-vpc-resource-controller-k8s pkg/aws/vpc/limits.go).
# type: vcpus, memory_mib, hypervisor, bare_metal, arch, max_enis (all cards),
#       max_enis_default_card, ipv4_per_eni, branch_enis, trunking_compatible
PUBLISHED_SPECS = {
    "t3.nano": (2, 512, "nitro", False, "x86_64", 2, 2, 2, 0, False),
    "t3.medium": (2, 4096, "nitro", False, "x86_64", 3, 3, 6, 0, False),
    "m5.large": (2, 8192, "nitro", False, "x86_64", 3, 3, 10, 9, True),
    "m5.xlarge": (4, 16384, "nitro", False, "x86_64", 4, 4, 15, 18, True),
    "m5.4xlarge": (16, 65536, "nitro", False, "x86_64", 8, 8, 30, 54, True),
    "m5.8xlarge": (32, 131072, "nitro", False, "x86_64", 8, 8, 30, 54, True),
    "m5.24xlarge": (96, 393216, "nitro", False, "x86_64", 15, 15, 50, 107, True),
    "m5.metal": (96, 393216, "", True, "x86_64", 15, 15, 50, 120, True),
    "m7g.large": (2, 8192, "nitro", False, "arm64", 3, 3, 10, 9, True),
    "c7g.medium": (1, 2048, "nitro", False, "arm64", 2, 2, 4, 4, True),
    "c5.4xlarge": (16, 32768, "nitro", False, "x86_64", 8, 8, 30, 54, True),
    "c6in.32xlarge": (128, 262144, "nitro", False, "x86_64", 16, 8, 50, 106, True),
    "p5.48xlarge": (192, 2097152, "nitro", False, "x86_64", 64, 2, 50, 120, True),
    "m4.xlarge": (4, 16384, "xen", False, "x86_64", 4, 4, 15, 0, False),
}
SPEC_COLUMNS = (
    "vcpus",
    "memory_mib",
    "hypervisor",
    "bare_metal",
    "arch",
    "max_enis",
    "max_enis_default_card",
    "ipv4_per_eni",
    "branch_enis",
    "trunking_compatible",
)


def published(*types: str) -> dict[str, np.ndarray]:
    """Canonical columns for the named types, from PUBLISHED_SPECS."""
    rows = [PUBLISHED_SPECS[t] for t in types]
    columns = {name: np.array([row[i] for row in rows]) for i, name in enumerate(SPEC_COLUMNS)}
    columns["ipv6_supported"] = np.ones(len(types), dtype=bool)
    return columns


def one(columns: dict[str, np.ndarray], options: MaxPodsOptions, key: str = "max_pods") -> int:
    """The single value of ``key`` for a one-row column set."""
    (value,) = compute_limits(columns, options)[key].tolist()
    return value


# --- Calculator semantics ------------------------------------------------------------------


def test_m5_large_user_guide_values():
    # EKS user guide, choosing-instance-type: m5.large 29; custom networking 20; PD 110.
    m5_large = published("m5.large")
    assert one(m5_large, MaxPodsOptions()) == 29
    assert one(m5_large, MaxPodsOptions(custom_networking=True)) == 20
    assert one(m5_large, MaxPodsOptions(prefix_delegation=True)) == 110


def test_calculator_test_cases():
    # awslabs/amazon-eks-ami templates/test/cases/max-pods-cni-*.sh (deleted in b2289030).
    m5_8xlarge = published("m5.8xlarge")
    assert one(m5_8xlarge, MaxPodsOptions(cni_version="1.11.2")) == 234
    assert one(m5_8xlarge, MaxPodsOptions(cni_version="1.11.2", prefix_delegation=True)) == 250
    assert one(published("m4.xlarge"), MaxPodsOptions(cni_version="1.7.5")) == 58
    c6in = published("c6in.32xlarge")
    # 8 ENIs of card 0 x 49 + 2, not the 16 ENIs of both cards.
    assert one(c6in, MaxPodsOptions(cni_version="1.18.0", show_max_allowed=True)) == 394


def test_t3_nano_has_two_ips_per_eni():
    # docs/max-pods.md section 5: t3.nano -> 4 pods.
    assert one(published("t3.nano"), MaxPodsOptions()) == 4


def test_eksbuild_suffix_is_accepted_like_the_calculator():
    options = MaxPodsOptions(cni_version="v1.19.0-eksbuild.1", prefix_delegation=True)
    assert one(published("m5.large"), options) == 110


# Worked table of /work/shared/docs/max-pods.md ("Worked numbers for the planner", moto data,
# nodeadm/Karpenter rules): classic, calc (capped), PD calc, cust-net (uncapped), mem rsv,
# cpu rsv, Karpenter allocatable MiB, MiB per pod at the classic value.
WORKED_TABLE = {
    "t3.nano": (4, 4, 34, 3, 299, 70, 74, 18),
    "t3.medium": (17, 17, 110, 12, 442, 70, 3246, 191),
    "m5.large": (29, 29, 110, 20, 574, 70, 6903, 238),
    "m5.xlarge": (58, 58, 110, 44, 893, 80, 14162, 244),
    "m5.4xlarge": (234, 110, 110, 205, 2829, 110, 57691, 247),
    "m5.24xlarge": (737, 250, 250, 688, 8362, 310, 355262, 482),
    "m7g.large": (29, 29, 110, 20, 574, 70, 6844, 236),
    "c6in.32xlarge": (394, 250, 250, 345, 4589, 390, 237794, 604),
    "p5.48xlarge": (100, 100, 250, 51, 1355, 550, 1938410, 19384),
}


@pytest.mark.parametrize("instance_type", sorted(WORKED_TABLE))
def test_worked_table(instance_type):
    classic, calc, pd_calc, cust_net, mem_rsv, cpu_rsv, karp_alloc, mib_per_pod = WORKED_TABLE[
        instance_type
    ]
    columns = published(instance_type)
    assert one(columns, MaxPodsOptions()) == calc
    assert one(columns, MaxPodsOptions(), "max_pods_secondary") == classic
    assert one(columns, MaxPodsOptions(show_max_allowed=True)) == classic
    assert one(columns, MaxPodsOptions(prefix_delegation=True)) == pd_calc
    assert one(columns, MaxPodsOptions(custom_networking=True, show_max_allowed=True)) == cust_net
    karpenter = MaxPodsOptions(show_max_allowed=True, vm_overhead_frac=0.075)
    limits = {key: values.tolist()[0] for key, values in compute_limits(columns, karpenter).items()}
    assert limits["kube_reserved_memory_mib"] == mem_rsv
    assert limits["kube_reserved_cpu_millicores"] == cpu_rsv
    assert limits["allocatable_memory_mib"] == karp_alloc
    assert round(limits["memory_per_pod_mib"]) == mib_per_pod


def test_published_specs_match_the_catalog_snapshot():
    """The hand-copied specs above are the rows of the shipped snapshot (so both agree)."""
    from cnisim.catalog import load_catalog

    catalog = load_catalog()
    rows = catalog.locate(list(PUBLISHED_SPECS))
    for name in SPEC_COLUMNS:
        expected = [spec[SPEC_COLUMNS.index(name)] for spec in PUBLISHED_SPECS.values()]
        assert catalog[name][rows].tolist() == expected, name


def test_whole_catalog_calculator_values():
    """By catalog: the worked table's calculator columns for the same rows."""
    from cnisim.catalog import load_catalog

    catalog = load_catalog()
    rows = catalog.locate(sorted(WORKED_TABLE))
    expected = np.array([WORKED_TABLE[t] for t in sorted(WORKED_TABLE)])
    default = compute_limits(catalog.columns, MaxPodsOptions())
    pd_limits = compute_limits(catalog.columns, MaxPodsOptions(prefix_delegation=True))
    assert default["max_pods_secondary"][rows].tolist() == expected[:, 0].tolist()
    assert default["max_pods"][rows].tolist() == expected[:, 1].tolist()
    assert pd_limits["max_pods"][rows].tolist() == expected[:, 2].tolist()


# --- Modes ---------------------------------------------------------------------------------


def test_max_eni_applies_before_custom_networking():
    # Calculator order: ENIs = min(MAX_ENI, ENIs), then -1 for custom networking.
    m5_large = published("m5.large")
    assert one(m5_large, MaxPodsOptions(max_eni=2)) == 2 * 9 + 2
    assert one(m5_large, MaxPodsOptions(max_eni=2, custom_networking=True)) == 1 * 9 + 2
    assert one(m5_large, MaxPodsOptions(max_eni=5)) == 29


def test_host_network_pods_switch():
    # mogren (aws/amazon-vpc-cni-k8s #1077): custom networking gives "18 pods on the m5.large"
    # when the +2 host-network pods are not counted.
    options = MaxPodsOptions(custom_networking=True, host_network_pods=0)
    assert one(published("m5.large"), options) == 18


def test_security_groups_for_pods():
    # The trunk ENI takes a slot: (3 - 1) x 9 + 2 for m5.large; m5.large has 9 branch ENIs,
    # c5.4xlarge 54 branch ENIs alongside 234 IPs (vpc-cni README, containers-roadmap #1153).
    # t3.medium is not trunking-compatible: no trunk, no slot taken, 3 x 5 + 2 (ipamd.go
    # hasRoomForEni asks awsutils.go IsTrunkingCompatible; issue 6 item 7).
    limits = compute_limits(
        published("m5.large", "c5.4xlarge", "t3.medium"),
        MaxPodsOptions(security_groups_for_pods=True, show_max_allowed=True),
    )
    assert limits["max_pods"].tolist() == [20, 7 * 29 + 2, 3 * 5 + 2]
    assert limits["branch_eni_pods"].tolist() == [9, 54, 0]
    assert one(published("c5.4xlarge"), MaxPodsOptions(show_max_allowed=True)) == 234


def test_security_groups_for_pods_under_max_eni_1_keeps_the_primary_for_pods():
    # MAX_ENI=1: hasRoomForEni has no room for a trunk (ENIs < maxENI - trunk is 1 < 0), so
    # no trunk ENI comes and the primary ENI's 9 secondary IPs stay for pods: 9 + 2.
    options = MaxPodsOptions(security_groups_for_pods=True, max_eni=1, show_max_allowed=True)
    assert one(published("m5.large"), options) == 11
    assert one(published("m5.large"), MaxPodsOptions(max_eni=1)) == 11


def test_prefix_delegation_c7g_medium():
    # aws/karpenter-provider-aws #6102: c7g.medium gets 8 pods without PD, 98 with it.
    c7g = published("c7g.medium")
    assert one(c7g, MaxPodsOptions()) == 8
    assert one(c7g, MaxPodsOptions(prefix_delegation=True)) == 98


def test_prefix_delegation_fallback_on_xen_and_old_cni():
    limits = compute_limits(
        published("m4.xlarge", "m5.large"), MaxPodsOptions(prefix_delegation=True)
    )
    assert limits["prefix_delegation_effective"].tolist() == [False, True]
    assert limits["prefix_delegation_fallback"].tolist() == [True, False]
    assert limits["max_pods"].tolist() == [58, 110]
    # PD arrived in CNI 1.9: with 1.8 every type falls back.
    old = compute_limits(
        published("m5.large"), MaxPodsOptions(prefix_delegation=True, cni_version="1.8.0")
    )
    assert old["max_pods"].tolist() == [29]
    assert old["prefix_delegation_fallback"].tolist() == [True]


def test_bare_metal_prefix_delegation_rules():
    # The calculator needs Hypervisor == nitro (bare metal has none); ipamd's
    # IsPrefixDelegationSupported also accepts bare metal, since CNI v1.10.3 (#1937).
    assert not prefix_delegation_supported("", True, rule="calculator", cni_version="1.19.0")
    assert prefix_delegation_supported("", True, rule="cni", cni_version="1.10.3")
    assert not prefix_delegation_supported("", True, rule="cni", cni_version="1.10.2")
    assert not prefix_delegation_supported("xen", False, rule="cni", cni_version="1.19.0")
    assert prefix_delegation_supported("nitro", False, rule="calculator", cni_version="1.9")
    assert not prefix_delegation_supported("nitro", False, rule="calculator", cni_version="1.8.9")
    m5_metal = published("m5.metal")
    calculator = MaxPodsOptions(prefix_delegation=True, show_max_allowed=True)
    cni = MaxPodsOptions(
        prefix_delegation=True, show_max_allowed=True, prefix_delegation_rule="cni"
    )
    assert one(m5_metal, calculator) == 737
    assert one(m5_metal, calculator, "prefix_delegation_fallback") is True
    assert one(m5_metal, cni) == 15 * 49 * 16 + 2
    assert one(m5_metal, cni, "prefix_delegation_fallback") is False


def test_ipv6_is_a_policy_value():
    # Best-practices IPv6 page: PD formula, EKS recommended (capped) value; m5.large 3 x 9 x 16
    # + 2 = 434 (the page's "460" is an arithmetic slip).
    limits = compute_limits(
        published("m5.large", "m5.metal", "m4.xlarge"), MaxPodsOptions(ipv6=True)
    )
    assert limits["max_pods_uncapped"].tolist() == [434, 15 * 49 * 16 + 2, 0]
    assert limits["max_pods"].tolist() == [110, 250, 0]
    # ipamd isConfigValid: IPv6 needs PD, which a Xen type cannot do, so aws-node won't start.
    assert limits["cni_refused"].tolist() == [False, False, True]
    assert not limits["prefix_delegation_fallback"].any()


def test_ipv6_refused_where_the_type_has_no_ipv6():
    columns = published("m5.large")
    columns["ipv6_supported"] = np.array([False])
    assert one(columns, MaxPodsOptions(ipv6=True)) == 0
    assert one(columns, MaxPodsOptions(ipv6=True), "cni_refused") is True


def test_all_network_cards():
    # docs/max-pods.md section 5: with every card, p5.48xlarge would be 64 x 49 + 2 = 3138.
    options = MaxPodsOptions(all_network_cards=True, show_max_allowed=True)
    limits = compute_limits(published("p5.48xlarge", "c6in.32xlarge", "m5.large"), options)
    assert limits["max_pods"].tolist() == [3138, 16 * 49 + 2, 29]


def test_override_and_reservation_basis():
    m5_large = published("m5.large")
    # nodeadm e2e kubelet-config-max-pods: reservation from the ENI value (here 29 -> 574 Mi)
    # even though kubelet maxPods is 1.
    nodeadm = MaxPodsOptions(max_pods_override=1)
    assert one(m5_large, nodeadm) == 1
    assert one(m5_large, nodeadm, "kube_reserved_memory_mib") == 574
    # Bottlerocket reserves for the effective max-pods: 11 x 1 + 255.
    bottlerocket = MaxPodsOptions(max_pods_override=1, reservation_basis="bottlerocket")
    assert one(m5_large, bottlerocket, "kube_reserved_memory_mib") == 266
    # With PD the node runs 110 pods, but nodeadm still reserves for 29 (amazon-eks-ami #1698).
    pd = MaxPodsOptions(prefix_delegation=True)
    assert one(m5_large, pd, "kube_reserved_memory_mib") == 574
    pd_br = MaxPodsOptions(prefix_delegation=True, reservation_basis="bottlerocket")
    assert one(m5_large, pd_br, "kube_reserved_memory_mib") == 11 * 110 + 255


def test_nodeadm_expression_reservation():
    # nodeadm e2e custom-max-pods-expression: expression 60 -> 915Mi kube-reserved memory.
    assert kube_reserved_memory_mib(60) == 915


# --- Reservations and allocatable ----------------------------------------------------------


@pytest.mark.parametrize(
    ("vcpus", "millicores"),
    # nodeadm config.go bands, docs/max-pods.md 1.4.
    [(1, 60), (2, 70), (3, 75), (4, 80), (8, 90), (16, 110), (48, 190), (96, 310)],
)
def test_kube_reserved_cpu_bands(vcpus, millicores):
    assert kube_reserved_cpu_millicores(vcpus) == millicores


def test_policy_cap_threshold():
    # max-pods-calculator.sh: 250 only when DefaultVCpus > 30; exactly 30 counts as small.
    assert policy_cap(30) == 110
    assert policy_cap(31) == 250
    assert policy_cap(np.array([2, 30, 31, 192])).tolist() == [110, 110, 250, 250]


def test_m5_large_reservations():
    # docs/max-pods.md 1.4: m5.large (29 pods) reserves 574Mi and 70m.
    assert kube_reserved_memory_mib(29) == 574
    assert kube_reserved_cpu_millicores(2) == 70
    assert one(published("m5.large"), MaxPodsOptions(), "eviction_memory_mib") == 100


def test_karpenter_vm_overhead():
    # Karpenter: arm64 loses 64 MiB first, then ceil(7.5%): m5.large 615, m7g.large 64 + 610.
    assert vm_overhead_mib(8192, "x86_64") == 615
    assert vm_overhead_mib(8192, "arm64") == 674
    assert vm_overhead_mib(8192, "arm64", overhead_frac=0.0) == 64


def test_no_vm_overhead_by_default():
    limits = compute_limits(published("m7g.large"), MaxPodsOptions())
    assert limits["vm_overhead_mib"].tolist() == [0]
    # 8192 - 574 - 100, as nodeadm computes from the full capacity.
    assert limits["allocatable_memory_mib"].tolist() == [7518]
    assert limits["allocatable_cpu_millicores"].tolist() == [1930]


def test_pods_fit_and_binding_resource():
    # m5.large under Karpenter (6903 MiB, 1930 m allocatable, 29 max pods):
    # 512 MiB pods: 6903 // 512 = 13 by memory, 1930 // 100 = 19 by CPU -> 13, memory.
    # 1000 m pods: 1930 // 1000 = 1 -> cpu. 10 m / 10 MiB pods: 29 -> pods.
    columns = published("m5.large")
    cases = [((100, 512), 13, "memory"), ((1000, 64), 1, "cpu"), ((10, 10), 29, "pods")]
    for (cpu, memory), n_pods, resource in cases:
        options = MaxPodsOptions(
            vm_overhead_frac=0.075, pod_cpu_millicores=cpu, pod_memory_mib=memory
        )
        limits = compute_limits(columns, options)
        assert limits["pods_fit"].tolist() == [n_pods]
        assert limits["binding_resource"].tolist() == [resource]


def test_binding_resource_ties_go_to_the_earlier_resource():
    # nodeadm m5.large: 29 pods, 8192 - 574 - 100 = 7518 MiB, 2000 - 70 = 1930 m.
    # 7518 // 259 = 29 = max pods -> "pods"; 7518 // 3759 = 2 = 1930 // 965 -> "memory".
    columns = published("m5.large")
    for (cpu, memory), n_pods, resource in [((10, 259), 29, "pods"), ((965, 3759), 2, "memory")]:
        limits = compute_limits(
            columns, MaxPodsOptions(pod_cpu_millicores=cpu, pod_memory_mib=memory)
        )
        assert limits["pods_fit"].tolist() == [n_pods]
        assert limits["binding_resource"].tolist() == [resource]


def test_pod_profile_with_one_request_only():
    # Only a CPU request: memory never binds; 1930 // 500 = 3.
    options = MaxPodsOptions(pod_cpu_millicores=500)
    assert one(published("m5.large"), options, "pods_fit") == 3
    assert "pods_fit" not in compute_limits(published("m5.large"), MaxPodsOptions())


# --- Tool answers --------------------------------------------------------------------------


def test_tool_answers_side_by_side():
    columns = published("m5.large", "c7g.medium", "m5.4xlarge")
    answers = tool_answers(columns, MaxPodsOptions(prefix_delegation=True))
    assert answers["calculator"].tolist() == [110, 98, 110]
    assert answers["calculator_show_max_allowed"].tolist() == [434, 98, 8 * 29 * 16 + 2]
    # karpenter #6102: Karpenter has no PD logic, so c7g.medium gets 8 where the calculator
    # says 98; nodeadm and Bottlerocket use the classic uncapped table value.
    assert answers["karpenter"].tolist() == [29, 8, 234]
    assert answers["nodeadm"].tolist() == [29, 8, 234]
    assert answers["bottlerocket"].tolist() == [29, 8, 234]
    assert answers["managed_node_group"].tolist() == [110, 98, 110]
    assert answers["eks_auto_mode"].tolist() == [110, 98, 110]


def test_tool_answers_custom_networking():
    # Karpenter docs: RESERVED_ENIS=1 for custom networking gives (ENIs - 1) x (IPs - 1) + 2.
    answers = tool_answers(published("m5.large"), MaxPodsOptions(custom_networking=True))
    assert answers["calculator"].tolist() == [20]
    assert answers["karpenter"].tolist() == [20]
    assert answers["nodeadm"].tolist() == [29]


def test_karpenter_gives_no_pods_without_a_usable_eni():
    # Karpenter types.go ENILimitedPods: usable ENIs floored at 0, and 0 ENIs -> 0 pods (not
    # the +2); t3.nano has 2 ENIs, both reserved here by RESERVED_ENIS=2. cnisim's own answer:
    # t3.nano does not trunk, so only custom networking takes an ENI: 1 x (2 - 1) + 2.
    options = MaxPodsOptions(custom_networking=True, security_groups_for_pods=True)
    assert tool_answers(published("t3.nano"), options)["karpenter"].tolist() == [0]
    assert one(published("t3.nano"), options) == 3


# --- Validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"ipv6": True, "custom_networking": True}, CniRefusesConfigError),
        ({"ipv6": True, "cni_version": "1.10.0"}, CniRefusesConfigError),
        (
            {"ipv6": True, "security_groups_for_pods": True, "cni_version": "1.15.3"},
            CniRefusesConfigError,
        ),
        ({"all_network_cards": True, "cni_version": "1.19.0"}, CniRefusesConfigError),
        ({"max_eni": 0}, InvalidOptionError),
        ({"host_network_pods": -1}, InvalidOptionError),
        ({"max_pods_override": 0}, InvalidOptionError),
        ({"vm_overhead_frac": 1.5}, InvalidOptionError),
        ({"pod_memory_mib": -1}, InvalidOptionError),
        ({"pod_cpu_millicores": 0.5}, InvalidOptionError),
        ({"pod_memory_mib": 1e-300}, InvalidOptionError),
        ({"cni_version": "latest"}, InvalidOptionError),
        ({"reservation_basis": "al2"}, InvalidOptionError),
    ],
)
def test_invalid_options_are_usage_errors(kwargs, error):
    with pytest.raises(error) as caught:
        MaxPodsOptions(**kwargs)
    assert isinstance(caught.value, UsageError)
    assert caught.value.exit_code == 2
    assert "\n" not in str(caught.value)


def test_valid_edges_are_accepted():
    MaxPodsOptions(ipv6=True, cni_version="1.10.1")
    MaxPodsOptions(ipv6=True, security_groups_for_pods=True, cni_version="1.16.0")
    MaxPodsOptions(all_network_cards=True, cni_version="1.20.0")
    MaxPodsOptions(max_eni=1, host_network_pods=0, max_pods_override=1)


@pytest.mark.parametrize(
    ("text", "version"),
    [("1.19.0-eksbuild.1", (1, 19, 0)), ("v1.10.3", (1, 10, 3)), ("1.9", (1, 9, 0))],
)
def test_parse_cni_version(text, version):
    assert parse_cni_version(text) == version


# --- Shapes and types ----------------------------------------------------------------------


def _formulas(enis, ipv4, vcpus, memory, arch, hypervisor, bare_metal, trunking, branch):
    """Every formula applied to one kind of input (scalar, ndarray or Series)."""
    reserved_memory = kube_reserved_memory_mib(max_pods_secondary(enis, ipv4))
    reserved_cpu = kube_reserved_cpu_millicores(vcpus)
    alloc_memory = allocatable_memory_mib(
        memory, reserved_memory, vm_overhead_mib=vm_overhead_mib(memory, arch)
    )
    alloc_cpu = allocatable_cpu_millicores(vcpus, reserved_cpu)
    pods = max_pods_secondary(enis, ipv4)
    fit, code = pods_that_fit(
        pods, alloc_memory, alloc_cpu, pod_cpu_millicores=50, pod_memory_mib=300
    )
    fit_float, code_float = pods_that_fit(
        pods, alloc_memory, alloc_cpu, pod_cpu_millicores=50.5, pod_memory_mib=300.25
    )
    return [
        pods,
        max_pods_secondary(enis, ipv4, host_network_pods=0),
        max_pods_prefix_delegation(enis, ipv4),
        enis_for_pods(enis, max_eni=4, custom_networking=True, security_groups_for_pods=True),
        prefix_delegation_supported(hypervisor, bare_metal, rule="cni", cni_version="1.19"),
        prefix_delegation_supported(hypervisor, bare_metal, rule="calculator", cni_version="1.19"),
        policy_cap(vcpus),
        branch_eni_pods(branch, trunking),
        reserved_memory,
        reserved_cpu,
        vm_overhead_mib(memory, arch),
        alloc_memory,
        alloc_cpu,
        memory_per_pod_mib(alloc_memory, pods),
        cpu_per_pod_millicores(alloc_cpu, pods),
        fit,
        code,
        fit_float,
        code_float,
    ]


ROWS = st.lists(
    st.tuples(
        st.integers(0, 16),  # enis
        st.integers(2, 50),  # ipv4 per eni
        st.integers(1, 192),  # vcpus
        st.integers(512, 2_097_152),  # memory MiB
        st.sampled_from(["x86_64", "arm64"]),
        st.sampled_from(["nitro", "xen", ""]),
        st.booleans(),  # bare metal
        st.booleans(),  # trunking
        st.integers(0, 120),  # branch ENIs
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(ROWS)
def test_scalar_ndarray_and_series_agree(rows):
    fields = list(zip(*rows, strict=True))
    index = pd.RangeIndex(100, 100 + len(rows))
    by_array = _formulas(*[np.array(f) for f in fields])
    by_series = _formulas(*[pd.Series(f, index=index) for f in fields])
    by_scalar = [_formulas(*row) for row in rows]
    for position, (array, series) in enumerate(zip(by_array, by_series, strict=True)):
        assert isinstance(array, np.ndarray), position
        assert isinstance(series, pd.Series), position
        assert series.index.equals(index), position
        np.testing.assert_array_equal(series.to_numpy(), array)
        scalars = [values[position] for values in by_scalar]
        assert all(np.ndim(value) == 0 for value in scalars), position
        np.testing.assert_array_equal(np.array(scalars), array)


# --- Invariants over random catalogs and options ---------------------------------------------

CATALOGS = st.integers(1, 12).flatmap(
    lambda n: st.fixed_dictionaries(
        {
            "vcpus": st.lists(st.integers(1, 192), min_size=n, max_size=n),
            "memory_mib": st.lists(st.integers(512, 2_097_152), min_size=n, max_size=n),
            "hypervisor": st.lists(st.sampled_from(["nitro", "xen", ""]), min_size=n, max_size=n),
            "bare_metal": st.lists(st.booleans(), min_size=n, max_size=n),
            "arch": st.lists(st.sampled_from(["x86_64", "arm64"]), min_size=n, max_size=n),
            "max_enis_default_card": st.lists(st.integers(1, 16), min_size=n, max_size=n),
            "extra_card_enis": st.lists(st.integers(0, 48), min_size=n, max_size=n),
            "ipv4_per_eni": st.lists(st.integers(2, 50), min_size=n, max_size=n),
            "branch_enis": st.lists(st.integers(0, 120), min_size=n, max_size=n),
            "trunking_compatible": st.lists(st.booleans(), min_size=n, max_size=n),
            "ipv6_supported": st.lists(st.booleans(), min_size=n, max_size=n),
        }
    )
)


def as_columns(catalog: dict[str, list]) -> dict[str, np.ndarray]:
    columns = {
        name: np.array(values) for name, values in catalog.items() if name != "extra_card_enis"
    }
    columns["max_enis"] = columns["max_enis_default_card"] + np.array(catalog["extra_card_enis"])
    return columns


OPTIONS = st.builds(
    MaxPodsOptions,
    cni_version=st.sampled_from(["1.7.5", "1.9.0", "1.10.3", "1.16.0", "1.23.1"]),
    prefix_delegation=st.booleans(),
    prefix_delegation_rule=st.sampled_from(["calculator", "cni"]),
    max_eni=st.none() | st.integers(1, 20),
    host_network_pods=st.integers(0, 4),
    show_max_allowed=st.booleans(),
    reservation_basis=st.sampled_from(["nodeadm", "bottlerocket"]),
    vm_overhead_frac=st.sampled_from([0.0, 0.075]),
    pod_cpu_millicores=st.none() | st.just(0) | st.floats(1, 4000),
    pod_memory_mib=st.none() | st.just(0) | st.floats(1 / 1024**2, 16384),
)


@settings(max_examples=60, deadline=None)
@given(CATALOGS, OPTIONS)
def test_mode_orderings(catalog, options):
    columns = as_columns(catalog)
    limits = compute_limits(columns, options)
    uncapped = limits["max_pods_uncapped"]
    assert (limits["max_pods_capped"] <= uncapped).all()
    assert (limits["max_pods_capped"] <= limits["policy_cap"]).all()
    secondary = compute_limits(columns, replace(options, prefix_delegation=False))
    pd_on = compute_limits(columns, replace(options, prefix_delegation=True))
    assert (pd_on["max_pods_uncapped"] >= secondary["max_pods_uncapped"]).all()
    custom = compute_limits(columns, replace(options, custom_networking=True))
    assert (custom["max_pods_uncapped"] <= uncapped).all()
    sgp = compute_limits(columns, replace(options, security_groups_for_pods=True))
    assert (sgp["max_pods_uncapped"] <= uncapped).all()
    if "pods_fit" in limits:
        assert (limits["pods_fit"] <= limits["max_pods"]).all()
        assert (limits["pods_fit"] >= 0).all()
        assert set(limits["binding_resource"].tolist()) <= set(BINDING_RESOURCES)
    assert (limits["allocatable_memory_mib"] >= 0).all()
    assert (limits["eviction_memory_mib"] == EVICTION_HARD_MEMORY_MIB).all()


@settings(max_examples=60, deadline=None)
@given(CATALOGS, OPTIONS, st.integers(0, 8), st.integers(0, 20))
def test_monotone_in_enis_and_ips(catalog, options, more_enis, more_ips):
    columns = as_columns(catalog)
    bigger = dict(columns)
    bigger["max_enis_default_card"] = columns["max_enis_default_card"] + more_enis
    bigger["max_enis"] = columns["max_enis"] + more_enis
    bigger["ipv4_per_eni"] = columns["ipv4_per_eni"] + more_ips
    for key in ("max_pods_uncapped", "max_pods_capped", "max_pods", "max_pods_secondary"):
        before = compute_limits(columns, options)[key]
        after = compute_limits(bigger, options)[key]
        assert (after >= before).all(), key


@settings(max_examples=40, deadline=None)
@given(CATALOGS, st.sampled_from(["1.10.3", "1.16.0", "1.23.1"]))
def test_ipv6_never_exceeds_policy_or_runs_refused(catalog, cni_version):
    columns = as_columns(catalog)
    limits = compute_limits(columns, MaxPodsOptions(ipv6=True, cni_version=cni_version))
    assert (limits["max_pods"] <= limits["policy_cap"]).all()
    assert (limits["max_pods"][limits["cni_refused"]] == 0).all()
    assert (limits["max_pods"][~limits["cni_refused"]] > 0).all()
    small = columns["vcpus"] <= 30
    assert (limits["max_pods"][small] <= KUBELET_DEFAULT_MAX_PODS).all()


def test_compute_limits_refuses_columns_of_different_lengths():
    columns = published("m5.large", "c5.4xlarge")
    columns["vcpus"] = columns["vcpus"][:1]
    with pytest.raises(UsageError, match="one length"):
        compute_limits(columns, MaxPodsOptions())


@pytest.mark.parametrize(
    "changes",
    [
        {"max_eni": float("nan")},
        {"max_eni": True},
        {"max_pods_override": 2**40},
        {"max_pods_override": 1.5},
        {"vm_overhead_frac": float("nan")},
        {"pod_cpu_millicores": float("inf")},
        {"pod_memory_mib": float("nan")},
        {"cni_version": 1.9},
    ],
)
def test_options_refuse_nan_floats_and_overflow(changes):
    with pytest.raises(UsageError):
        MaxPodsOptions(**changes)
