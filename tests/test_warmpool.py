"""Steady-state warm pool against the VPC CNI's published tables, and the churn timeline.

Instance limits (aws/amazon-vpc-cni-k8s ``pkg/vpc/vpc_ip_resource_limit.go``,
``misc/eni-max-pods.txt``): t3.small 3 ENIs x 4 IPv4, max pods 11; t3.large 3 x 12, 35;
p3dn.24xlarge 15 x 50, 737. With prefix delegation the max-pods calculator
(awslabs/amazon-eks-ami ``templates/al2/runtime/max-pods-calculator.sh``) caps t3.small and
t3.large at 110 and p3dn.24xlarge at 250.
"""

from __future__ import annotations

from typing import Any, cast

import pytest

from cnisim.cni import IpamdConfig
from cnisim.errors import UsageError
from cnisim.sim.ipamd import NodeSpec
from cnisim.sim.warmpool import churn_timeline, node_spec, steady_state

T3_SMALL = NodeSpec("t3.small", 3, 4, 11, "node", "node", True)
T3_SMALL_PD = NodeSpec("t3.small", 3, 4, 110, "node", "node", True)
T3_LARGE = NodeSpec("t3.large", 3, 12, 35, "node", "node", True)
T3_LARGE_PD = NodeSpec("t3.large", 3, 12, 110, "node", "node", True)
P3DN = NodeSpec("p3dn.24xlarge", 15, 50, 737, "node", "node", True)
P3DN_PD = NodeSpec("p3dn.24xlarge", 15, 50, 250, "node", "node", True)

# Source: aws/amazon-vpc-cni-k8s docs/eni-and-ip-target.md at v1.23.1 (commit b52188387f2e),
# "Some example cases" table. Columns: WARM_ENI_TARGET, WARM_IP_TARGET, MINIMUM_IP_TARGET,
# pods, attached ENIs, attached secondary IPs, unused IPs, IPs per ENI.
ENI_AND_IP_TARGET_T3_SMALL = [
    ("1", None, None, 0, 1, 3, 3, [3]),
    ("1", None, None, 5, 3, 9, 4, [3, 3, 3]),
    ("1", None, None, 9, 3, 9, 0, [3, 3, 3]),
    (None, "1", "1", 0, 1, 1, 1, [1]),
    (None, "1", "1", 5, 2, 6, 1, [3, 3]),
    (None, "1", "1", 9, 3, 9, 0, [3, 3, 3]),
    # the doc lists "2,3" at 0 pods: the primary is filled first, so in attach order 3,2
    (None, "2", "5", 0, 2, 5, 5, [3, 2]),
    (None, "2", "5", 5, 3, 7, 2, [3, 3, 1]),
    (None, "2", "5", 9, 3, 9, 0, [3, 3, 3]),
]
ENI_AND_IP_TARGET_P3DN = [
    ("1", None, None, 0, 1, 49, 49, [49]),
    ("1", None, None, 3, 2, 98, 95, [49, 49]),
    ("1", None, None, 95, 3, 147, 52, [49, 49, 49]),
    (None, "5", "10", 0, 1, 10, 10, [10]),
    (None, "5", "10", 7, 1, 12, 5, [12]),
    (None, "5", "10", 15, 1, 20, 5, [20]),
    (None, "5", "10", 45, 2, 50, 5, [49, 1]),
]


def env_of(warm_eni: str | None, warm_ip: str | None, min_ip: str | None) -> dict[str, str]:
    names = ("WARM_ENI_TARGET", "WARM_IP_TARGET", "MINIMUM_IP_TARGET")
    return {n: v for n, v in zip(names, (warm_eni, warm_ip, min_ip), strict=True) if v}


@pytest.mark.parametrize(
    ("spec", "row"),
    [(T3_SMALL, row) for row in ENI_AND_IP_TARGET_T3_SMALL]
    + [(P3DN, row) for row in ENI_AND_IP_TARGET_P3DN],
)
def test_eni_and_ip_target_table(spec: NodeSpec, row: tuple[Any, ...]) -> None:
    warm_eni, warm_ip, min_ip, pods, enis, ips, unused, per_eni = row
    config = IpamdConfig.from_env(env_of(warm_eni, warm_ip, min_ip))
    (state,) = steady_state(spec, config, [pods])
    assert (state["enis"], state["ips_held"], state["ips_free"]) == (enis, ips, unused)
    assert state["ips_per_eni"] == per_eni
    assert state["failed_pods"] == 0


# Source: aws/amazon-vpc-cni-k8s docs/prefix-and-ip-target.md at v1.23.1 (commit b52188387f2e),
# "Examples" table, t3.small. Columns: WARM_PREFIX_TARGET, WARM_IP_TARGET, MINIMUM_IP_TARGET,
# pods, ENIs, attached prefixes, unused IPs, prefixes per ENI.
PREFIX_AND_IP_TARGET_T3_SMALL = [
    ("1", None, None, 0, 1, 1, 16, [1]),
    ("1", None, None, 5, 1, 2, 27, [2]),
    ("1", None, None, 16, 1, 2, 16, [2]),
    ("1", None, None, 17, 1, 3, 31, [3]),
    ("1", None, None, 58, 2, 5, 22, [3, 2]),
    (None, "1", "1", 0, 1, 1, 16, [1]),
    (None, "1", "1", 5, 1, 1, 11, [1]),
    (None, "1", "1", 17, 1, 2, 15, [2]),
    (None, "1", "1", 58, 2, 4, 6, [3, 1]),
    (None, "7", "20", 5, 1, 2, 27, [2]),
    (None, "7", "20", 17, 1, 2, 15, [2]),
    (None, "7", "20", 58, 2, 5, 22, [3, 2]),
]


@pytest.mark.parametrize("row", PREFIX_AND_IP_TARGET_T3_SMALL)
def test_prefix_and_ip_target_table(row: tuple[Any, ...]) -> None:
    warm_prefix, warm_ip, min_ip, pods, enis, prefixes, unused, per_eni = row
    env = {"ENABLE_PREFIX_DELEGATION": "true", "WARM_PREFIX_TARGET": warm_prefix or "1"}
    env.update(env_of(None, warm_ip, min_ip))
    (state,) = steady_state(T3_SMALL_PD, IpamdConfig.from_env(env), [pods])
    assert (state["enis"], state["prefixes"], state["ips_free"]) == (enis, prefixes, unused)
    assert state["ips_per_eni"] == [16 * n for n in per_eni]


def test_prefix_doc_row_7_20_at_0_pods_contradicts_the_code() -> None:
    # docs/prefix-and-ip-target.md row "t3.small, WARM_IP 7, MIN 20, 0 pods" says 1 prefix and
    # 16 unused IPs (while its own "Prefixes per ENI" column says 2). ipamd.go
    # datastoreTargetState: short = max(7 - 0, 20 - 0) = 20 IPs -> ceil(20/16) = 2 prefixes.
    env = {"ENABLE_PREFIX_DELEGATION": "true", "WARM_IP_TARGET": "7", "MINIMUM_IP_TARGET": "20"}
    (state,) = steady_state(T3_SMALL_PD, IpamdConfig.from_env(env), [0])
    assert (state["prefixes"], state["ips_free"]) == (2, 32)


# docs/prefix-and-ip-target.md, p3dn.24xlarge rows: (WARM_PREFIX, WARM_IP, MIN, pods,
# prefixes, unused IPs, doc ENIs). The prefix and unused-IP columns agree with the code; the
# doc's ENI column (an empty 2nd and 3rd ENI) does not: ipamd.go tryAssignPrefixes fills the
# primary's 49 free prefix slots before tryAllocateENI is ever reached, so the code has 1 ENI.
PREFIX_P3DN = [
    ("1", None, None, 0, 1, 16, 1),
    ("1", None, None, 3, 2, 29, 2),
    ("1", None, None, 95, 7, 17, 3),
    (None, "5", "10", 0, 1, 16, 1),
    (None, "5", "10", 7, 1, 9, 1),
    (None, "5", "10", 15, 2, 17, 1),
    (None, "5", "10", 45, 4, 19, 2),
]


@pytest.mark.parametrize("row", PREFIX_P3DN)
def test_prefix_doc_p3dn_rows_prefixes_match_enis_follow_the_code(row: tuple[Any, ...]) -> None:
    warm_prefix, warm_ip, min_ip, pods, prefixes, unused, _doc_enis = row
    env = {"ENABLE_PREFIX_DELEGATION": "true", "WARM_PREFIX_TARGET": warm_prefix or "1"}
    env.update(env_of(None, warm_ip, min_ip))
    (state,) = steady_state(P3DN_PD, IpamdConfig.from_env(env), [pods])
    assert (state["prefixes"], state["ips_free"]) == (prefixes, unused)
    assert state["enis"] == 1


# docs/ipamd-model.md section 2 (project spec, derived from ipamd.go), t3.large worked table:
# (env, pods, ENIs, IPs held, free, subnet IPs).
T3_LARGE_TABLE = [
    ({}, 0, 1, 11, 11, 12),
    ({}, 5, 2, 22, 17, 24),
    ({}, 15, 3, 33, 18, 36),
    ({"WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "10"}, 0, 1, 10, 10, 11),
    ({"WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "10"}, 5, 1, 10, 5, 11),
    ({"WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "10"}, 15, 2, 20, 5, 22),
]
T3_LARGE_PD_TABLE = [
    ({}, 0, 1, 16, 16, 17),
    ({}, 5, 1, 32, 27, 33),
    ({}, 15, 1, 32, 17, 33),
    ({"WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "10"}, 0, 1, 16, 16, 17),
    ({"WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "10"}, 5, 1, 16, 11, 17),
    ({"WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "10"}, 15, 1, 32, 17, 33),
]


@pytest.mark.parametrize(
    ("spec", "pd", "row"),
    [(T3_LARGE, False, r) for r in T3_LARGE_TABLE]
    + [(T3_LARGE_PD, True, r) for r in T3_LARGE_PD_TABLE],
)
def test_t3_large_worked_table(spec: NodeSpec, pd: bool, row: tuple[Any, ...]) -> None:
    env, pods, enis, held, free, subnet_ips = row
    if pd:
        env = {**env, "ENABLE_PREFIX_DELEGATION": "true"}
    (state,) = steady_state(spec, IpamdConfig.from_env(env), [pods])
    got = (state["enis"], state["ips_held"], state["ips_free"], state["subnet_ips"])
    assert got == (enis, held, free, subnet_ips)


def test_t3_large_warm_ip_per_eni_split() -> None:
    # ipamd-model.md: "Pod 7 creates ENI 2 holding 1 IP, which then grows 1 IP per step":
    # 15 pods -> (11, 9).
    config = IpamdConfig(warm_ip_target=5, minimum_ip_target=10)
    (state,) = steady_state(T3_LARGE, config, [15])
    assert state["ips_per_eni"] == [11, 9]


def test_pd_growth_stops_at_stock_max_pods() -> None:
    # ipamd-model.md: PD with stock max-pods 35 stops once total >= 35, at 3 prefixes.
    # 33 of the 35 pods need an address (2 are host-network pods); larger counts stop there.
    rows = steady_state(T3_LARGE, IpamdConfig(enable_prefix_delegation=True), [33, 35, 40])
    assert [r["prefixes"] for r in rows] == [3, 3, 3]
    assert rows[2]["pods_placed"] == 33 and rows[2]["max_pods_reached"]
    assert [r["failed_pods"] for r in rows] == [0, 0, 0]


def test_pods_beyond_ip_capacity_fail() -> None:
    # t3.small secondary mode: 3 x 3 = 9 pod IPs; with kubelet maxPods 40, 38 pods need an
    # address: the 10th fails, and so does every later one (only 10 are simulated one by one).
    spec = NodeSpec("t3.small", 3, 4, 40, "node", "node", True)
    ten, thirty_eight = steady_state(spec, IpamdConfig(), [10, 38])
    assert (ten["ips_assigned"], ten["failed_pods"]) == (9, 1)
    assert (thirty_eight["ips_assigned"], thirty_eight["failed_pods"]) == (9, 29)
    assert thirty_eight["max_pods_reached"] and not ten["max_pods_reached"]
    same = ("enis", "ips_held", "ips_free", "subnet_ips", "ips_per_eni")
    assert [ten[k] for k in same] == [thirty_eight[k] for k in same]


def test_stock_max_pods_leaves_no_pod_without_an_address() -> None:
    # t3.small: max pods 11 = 3 x 3 + 2; the 9 pods that need an address all get one.
    (state,) = steady_state(T3_SMALL, IpamdConfig(), [11])
    assert (state["pods_placed"], state["ips_assigned"], state["failed_pods"]) == (9, 9, 0)


def test_non_nitro_type_falls_back_to_secondary_ips() -> None:
    spec = NodeSpec("m4.large", 2, 10, 20, "node", "node", False)
    (state,) = steady_state(spec, IpamdConfig(enable_prefix_delegation=True), [3])
    assert state["prefixes"] == 0
    assert state["ips_held"] == 18  # 3 pods leave 6 < 9 free: a 2nd ENI of 9 IPs


def test_result_does_not_depend_on_placement_or_seed_for_slow_arrivals() -> None:
    config = IpamdConfig()
    first = steady_state(T3_LARGE, config, [0, 7, 20], placement="first_fit", seed=1)
    other = steady_state(T3_LARGE, config, [0, 7, 20], placement="random", seed=2)
    keys = ("enis", "ips_held", "ips_free", "subnet_ips")
    assert [[r[k] for k in keys] for r in first] == [[r[k] for k in keys] for r in other]


def test_steady_state_rejects_negative_counts() -> None:
    with pytest.raises(UsageError):
        steady_state(T3_SMALL, IpamdConfig(), [-1])


def test_churn_timeline_shows_cooldown_and_eni_release() -> None:
    # t3.large defaults, 20 pods: 3 ENIs (33 IPs) while they run. All leave at 130 s; the
    # empty 3rd ENI is freed (free 33 >= 2 x 11). The 2nd wave at 140 s finds 20 of the 22
    # held IPs cooling (counted as free, so ipamd does not grow): 18 pods wait for the
    # cooldown (until 160 s) and get IPs on their retry at 170 s.
    rows = churn_timeline(T3_LARGE, IpamdConfig(), 20)
    by_s = {row["now_s"]: row for row in rows}
    assert by_s[120.0]["enis"] == 3 and by_s[120.0]["ips_assigned"] == 20
    assert by_s[131.0]["ips_cooldown"] == 20
    assert by_s[140.0]["enis"] == 2
    assert by_s[140.0]["ips_assigned"] == 2
    assert by_s[140.0]["pods_waiting"] == 18
    assert by_s[140.0]["ips_free"] == 20
    assert by_s[169.0]["pods_waiting"] == 18
    assert by_s[170.0]["pods_waiting"] == 0
    assert by_s[300.0]["ips_held"] == 33


def test_churn_timeline_rejects_unordered_times() -> None:
    with pytest.raises(UsageError):
        churn_timeline(T3_LARGE, IpamdConfig(), 5, leave_s=5.0, arrive_s=10.0)


M5_4XLARGE = NodeSpec("m5.4xlarge", 8, 30, 234, "node", "node", True)


@pytest.mark.parametrize(
    ("env", "held"),
    [
        # aws/amazon-vpc-cni-k8s README.md, MINIMUM_IP_TARGET: with 30 pods, WARM_IP_TARGET=30
        # holds "a total of 60", while MINIMUM_IP_TARGET=30 with WARM_IP_TARGET=2 holds "32
        # IPs vs 60 IPs". The README names no type; m5.4xlarge (8 x 30 IPv4, max pods 234).
        ({"WARM_IP_TARGET": "30"}, 60),
        ({"WARM_IP_TARGET": "2", "MINIMUM_IP_TARGET": "30"}, 32),
    ],
)
def test_readme_minimum_ip_target_example(env: dict[str, str], held: int) -> None:
    (state,) = steady_state(M5_4XLARGE, IpamdConfig.from_env(env), [30])
    assert state["ips_held"] == held


def test_readme_minimum_ip_target_alone_stops_growth() -> None:
    # README.md, MINIMUM_IP_TARGET note 2: without WARM_IP_TARGET the node holds MINIMUM_IP_TARGET
    # IPs and "this configuration will prevent future ENIs/IPs from being allocated".
    (state,) = steady_state(T3_LARGE, IpamdConfig.from_env({"MINIMUM_IP_TARGET": "10"}), [12])
    assert state["ips_held"] == 10
    assert state["failed_pods"] == 2


def test_large_minimum_ip_target_prescales_several_enis_before_pods() -> None:
    # ipamd.go datastoreTargetState / GetENIResourcesToAllocate: MIN=200 on m5.4xlarge (29
    # slots per ENI) fills the primary, then one ENI per step with min(short, 29) IPs:
    # 6 x 29 + 26 = 200 IPs on 7 ENIs, all before the first pod.
    config = IpamdConfig.from_env({"WARM_IP_TARGET": "2", "MINIMUM_IP_TARGET": "200"})
    (state,) = steady_state(M5_4XLARGE, config, [0])
    assert state["ips_per_eni"] == [29] * 6 + [26]


def test_knowledge_center_warm_eni_target_3_on_m5_xlarge() -> None:
    # AWS Knowledge Center "eks-configure-cni-plugin-use-ip-address": WARM_ENI_TARGET=3 on an
    # m5.xlarge (4 ENIs x 15 IPv4) keeps three ENIs attached, "45 IP addresses, 15 per
    # elastic network interface" (primaries included).
    spec = NodeSpec("m5.xlarge", 4, 15, 58, "node", "node", True)
    (state,) = steady_state(spec, IpamdConfig.from_env({"WARM_ENI_TARGET": "3"}), [0])
    assert state["enis"] == 3
    assert state["subnet_ips"] == 45


def test_best_practices_three_c5_large_nodes_with_two_coredns_pods() -> None:
    # EKS best practices, VPC CNI page (aws/aws-eks-best-practices
    # content/networking/vpc-cni/index.md; corrected by issue #502 / PR #660): three c5.large
    # nodes (3 ENIs x 10 IPv4) running 2 CoreDNS pods hold 20 + 20 + 10 = 50 subnet IPs, ENI
    # primaries included, and 43 warm IPs that no pod uses (17 + 17 + 9).
    spec = NodeSpec("c5.large", 3, 10, 29, "subnet-a", "subnet-a", True)
    by_pods = {row["pods"]: row for row in steady_state(spec, IpamdConfig(), [0, 1])}
    nodes = [by_pods[1], by_pods[1], by_pods[0]]
    assert [row["subnet_ips"] for row in nodes] == [20, 20, 10]
    assert [row["enis"] for row in nodes] == [2, 2, 1]
    assert sum(cast(int, row["ips_free"]) for row in nodes) == 43


def catalog_row(instance_type: str, branch_enis: int, trunking: bool) -> dict[str, list[Any]]:
    """One canonical catalog row of a 2 vCPU, 8 GiB Nitro type with 3 ENIs x 10 IPv4."""
    return {
        "instance_type": [instance_type],
        "vcpus": [2],
        "memory_mib": [8192],
        "hypervisor": ["nitro"],
        "bare_metal": [False],
        "arch": ["x86_64"],
        "max_enis_default_card": [3],
        "ipv4_per_eni": [10],
        "branch_enis": [branch_enis],
        "trunking_compatible": [trunking],
    }


def test_node_spec_takes_branch_enis_only_from_trunking_types() -> None:
    # aws/amazon-vpc-resource-controller-k8s pkg/aws/vpc/limits.go: m5.large BranchInterface 9,
    # IsTrunkingCompatible true; t3.large is not trunking-compatible (no t-family type is).
    sgp = IpamdConfig(enable_pod_eni=True)
    m5 = node_spec(catalog_row("m5.large", 9, True), sgp)
    # max pods with SGP: one ENI fewer for pods, (3 - 1) x (10 - 1) + 2 = 20
    assert (m5.max_branch_enis, m5.max_enis, m5.max_pods) == (9, 3, 20)
    assert node_spec(catalog_row("t3.large", 9, False), sgp).max_branch_enis == 0


def test_absurd_times_are_refused_not_simulated_for_ever() -> None:
    # Found by tests/test_cli_fuzz.py: settle_s 1e300 ticked for ever.
    with pytest.raises(UsageError, match="settle_s"):
        steady_state(T3_SMALL, IpamdConfig(), [1], settle_s=1e300)
    with pytest.raises(UsageError, match="duration_s"):
        churn_timeline(T3_SMALL, IpamdConfig(), 1, duration_s=float("inf"))
