"""Exact traces of tiny scenarios on the reference ipamd model, and its invariants.

Timing constants come from aws/amazon-vpc-cni-k8s v1.23.1 (commit b52188387f2e):
``pkg/ipamd/ipamd.go`` (ipPoolMonitorInterval 5 s, decreaseIPPoolInterval 30 s,
insufficientCidrErrorCooldown 120 s) and ``pkg/ipamd/datastore/data_store.go`` (minENILifeTime
60 s, IP_COOLDOWN_PERIOD 30 s, inCoolingPeriod uses ``<=``). Instance limits from
``pkg/vpc/vpc_ip_resource_limit.go``: t3.small 3 ENIs x 4 IPv4, m5.large 3 x 10. Security
groups for pods from aws/amazon-vpc-resource-controller-k8s (commit b8d425119bdb):
``pkg/aws/vpc/limits.go`` (m5.large BranchInterface 9), ``pkg/provider/branch/cooldown/
cooldown.go`` (branch ENI cool-down 60 s), ``pkg/provider/branch/trunk/trunk.go`` (cooling
branch ENIs count against the limit; deletion once ``time.Now().After(deleted + 60 s)``).
Expected times below are derived by hand from those rules and the contract in
``cnisim/sim/ipamd.py``.

Every run here is also run through the compiled engine (:func:`run_reference` below), whose
result must equal the reference's field by field: each trace is a test of both engines.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simchecks import assert_same_result

from cnisim.cni import IpamdConfig
from cnisim.errors import UsageError
from cnisim.sim import ipamd
from cnisim.sim.ec2 import DEFAULT_LATENCIES, Bucket, Ec2Params, Latency
from cnisim.sim.fastengine import run_engine
from cnisim.sim.ipamd import NodeSpec, ReferenceRun
from cnisim.sim.subnet import AddressSpace
from cnisim.sim.workload import PodEvents, WorkloadError, steady_churn

T3_SMALL = NodeSpec("t3.small", 3, 4, 11, "node", "node", True)
M5_LARGE = NodeSpec("m5.large", 3, 10, 29, "node", "node", True)
BIG = {"node": "10.0.0.0/16", "pods": "10.1.0.0/16"}


_TRACE_ONLY = ("record_ticks", "snapshot_s")  # the compiled engine keeps no trace


def run_reference(
    nodes: Sequence[NodeSpec], config: IpamdConfig, pods: PodEvents, **options: Any
) -> ReferenceRun:
    """The reference run, after checking that the compiled engine gives the same result."""
    run = ipamd.run_reference(nodes, config, pods, **options)
    engine, result = run_engine(
        nodes, config, pods, **{k: v for k, v in options.items() if k not in _TRACE_ONLY}
    )
    assert_same_result(run.result, result)
    for i, node in enumerate(run.reference_nodes):  # the datastores, address by address
        held = sorted(c.base + k for e in node.enis for c in e.cidrs for k in range(c.size))
        assert engine.node_addresses(i).tolist() == held
        assert engine.ips_per_eni(i) == node.ips_per_eni()
        for pod, (cidr, offset) in node.pod_cidr.items():
            assert engine.pod_address(pod) == cidr.base + offset
        for pod, (_, address) in node.branch_pods.items():
            assert engine.pod_address(pod) == address
    return run


def fixed_latency(call_s: float) -> Ec2Params:
    """Every EC2 call and the ENI's metadata wait take exactly call_s; no detach sleep.

    A create-and-attach is then 6 x call_s (DescribeSubnets, Create, DescribeInstances, Attach,
    Modify, metadata wait) and a free-ENI 3 x call_s (Describe, Detach, Delete).
    """
    return Ec2Params(
        latencies={action: Latency(call_s, 0.0, call_s) for action in DEFAULT_LATENCIES},
        eni_ready_latency=Latency(call_s, 0.0, call_s),
        imds_first_poll_s=call_s,
        imds_poll_jitter_frac=0.0,
        detach_sleep_s=0.0,
    )


def schedule(
    adds: Sequence[float], dels: Sequence[float | None] = (), branch: Sequence[bool] = ()
) -> PodEvents:
    """Pods 0..n-1 on node 0, added at adds[i], deleted at dels[i] (None: never).

    ``branch[i]`` marks pod i as an SGP (branch ENI) pod; default none.
    """
    is_branch = list(branch) or [False] * len(adds)
    times, deltas, pods, flags = [], [], [], []
    for pod, add_s in enumerate(adds):
        times.append(add_s)
        deltas.append(1)
        pods.append(pod)
        flags.append(is_branch[pod])
    for pod, del_s in enumerate(dels):
        if del_s is not None:
            times.append(del_s)
            deltas.append(-1)
            pods.append(pod)
            flags.append(is_branch[pod])
    return PodEvents.from_arrays(times, [0] * len(times), deltas, pods, flags)


def ops(run: ReferenceRun, op: str) -> list[tuple[float, object]]:
    """(time, n_requested) of each EC2 operation of one kind."""
    return [(e["now_s"], e.get("n_requested")) for e in run.events if e["op"] == op]  # type: ignore[misc]


def at(run: ReferenceRun, now_s: float, key: str) -> float:
    (row,) = [r for r in run.ticks if r["now_s"] == now_s and r["node"] == 0]
    return row[key]


def test_node_init_and_first_eni_trace() -> None:
    # WARM_ENI_TARGET=1 on t3.small: init tops up the primary to S = 3; the first pod leaves
    # 2 < 3 free, so the step at 6 s (init ended at 1 s + 5 s) attaches ENI 2 with 3 IPs,
    # which takes 7 calls x 1 s (two of them DescribeSubnets, with subnet discovery on).
    run = run_reference(
        [T3_SMALL],
        IpamdConfig(),
        schedule([2.0]),
        subnet_cidrs=BIG,
        duration_s=30,
        ec2_params=fixed_latency(1.0),
    )
    assert [(e["now_s"], e["op"]) for e in run.events if e["node"] == 0 and "done_s" in e] == [
        (0.0, "launch"),
        (0.0, "assign"),
        (6.0, "create_eni"),
    ]
    assert ops(run, "assign") == [(0.0, 3)]
    assert at(run, 0.0, "ips_held") == 0  # the assign returns at 1 s
    assert at(run, 1.0, "ips_held") == 3
    assert at(run, 12.0, "enis") == 1
    assert at(run, 13.0, "enis") == 2
    assert at(run, 13.0, "ips_held") == 6
    assert at(run, 30.0, "subnet_ips") == 8  # 2 ENI primaries + 6 secondaries
    assert run.waits_s == {0: 0.0}


def test_ip_cooldown_blocks_reuse_for_30_s_but_counts_as_free() -> None:
    # MAX_ENI=1: the node has only the primary's 3 IPs. Pod 0 leaves at 10 s; pod 3 asks at
    # 12 s and retries every second; the IP is in cooldown while now <= 10 + 30.
    config = IpamdConfig.from_env({"MAX_ENI": "1"})
    spec = NodeSpec("t3.small", config.effective_max_enis(3), 4, 11, "node", "node", True)
    run = run_reference(
        [spec],
        config,
        schedule([2.0, 2.0, 2.0, 12.0], [10.0]),
        subnet_cidrs=BIG,
        duration_s=60,
        ec2_params=fixed_latency(1.0),
        pod_retry_interval_s=1.0,
    )
    adds = {e["pod"]: e for e in run.events if e["op"] == "add"}
    assert adds[3]["now_s"] == 41.0
    assert adds[3]["address"] == adds[0]["address"]
    assert run.waits_s[3] == 29.0
    assert at(run, 12.0, "ips_free") == 1  # ipamd counts the cooling IP as available
    assert at(run, 40.0, "ips_cooldown") == 1
    assert at(run, 41.0, "ips_cooldown") == 0
    assert ops(run, "create_eni") == []  # MAX_ENI=1: never a second ENI
    assert run.nodes[0]["n_failed_adds"] == 41 - 12


def test_eni_minimum_life_is_60_s() -> None:
    # Pool step every second. Init's assign ends at 1 s; 3 pods fill the primary at 2 s and
    # that tick's step attaches ENI 2, in the pool at 2 + 7 = 9 s. All pods leave at 20 s:
    # free 6 >= (1+1)*3, so ENI 2 goes as soon as it is 60 s old, at 69 s.
    run = run_reference(
        [T3_SMALL],
        IpamdConfig(),
        schedule([2.0, 2.0, 2.0], [20.0, 20.0, 20.0]),
        subnet_cidrs=BIG,
        duration_s=100,
        ec2_params=fixed_latency(1.0),
        pool_interval_s=1.0,
    )
    assert ops(run, "create_eni") == [(2.0, 3)]
    assert at(run, 8.0, "enis") == 1
    assert at(run, 9.0, "enis") == 2
    (free,) = [e["now_s"] for e in run.events if e["op"] == "free_eni"]
    assert free == 9.0 + 60.0
    assert at(run, 68.0, "enis") == 2
    assert at(run, 69.0, "enis") == 1


def test_eni_with_cooling_ip_is_not_freed() -> None:
    # As above plus pod 3 at 10 s on ENI 2, whose step attaches ENI 3 (in the pool at 17 s).
    # All pods leave at 70 s: the empty ENI 3 goes at 77 s (60 s old); the free takes 3 s.
    # ENI 2 is old enough but its IP cools while now <= 100 s, so it goes at 101 s.
    run = run_reference(
        [T3_SMALL],
        IpamdConfig(),
        schedule([2.0, 2.0, 2.0, 10.0], [70.0, 70.0, 70.0, 70.0]),
        subnet_cidrs=BIG,
        duration_s=120,
        ec2_params=fixed_latency(1.0),
        pool_interval_s=1.0,
    )
    frees = [e["now_s"] for e in run.events if e["op"] == "free_eni"]
    assert frees == [77.0, 101.0]


def test_decrease_at_most_once_per_30_s() -> None:
    # WARM_IP_TARGET=1 on m5.large, a step every second: 3 pods, then pod 0 leaves at 50 s
    # and pod 1 at 55 s, each leaving one IP over the target. The first release is issued at
    # 50 s and its step ends at 51 s; the next may come once now - 51 > 30, at 82 s.
    run = run_reference(
        [M5_LARGE],
        IpamdConfig(warm_ip_target=1),
        schedule([2.0, 3.0, 4.0], [50.0, 55.0]),
        subnet_cidrs=BIG,
        duration_s=100,
        ec2_params=fixed_latency(1.0),
        pool_interval_s=1.0,
    )
    assert [t for t, _ in ops(run, "unassign")] == [50.0, 82.0]
    assert at(run, 49.0, "ips_held") == 4
    assert at(run, 81.0, "ips_held") == 3
    assert at(run, 82.0, "ips_held") == 2
    # FindFreeableCidrs ignores cooldown: the first freeable IP in CIDR order is the one pod 0
    # (then pod 1) just released, so the cooling IP goes back to EC2.
    assert at(run, 50.0, "ips_cooldown") == 0
    assert at(run, 81.0, "ips_cooldown") == 1
    assert at(run, 82.0, "ips_cooldown") == 0
    released = {e["address"] for e in run.events if e["op"] == "add" and e["pod"] in (0, 1)}
    held = {c.base for eni in run.reference_nodes[0].enis for c in eni.cidrs}
    assert not released & held


def test_warm_eni_mode_never_releases_single_ips() -> None:
    run = run_reference(
        [M5_LARGE],
        IpamdConfig(),
        schedule([2.0] * 5, [20.0] * 5),
        subnet_cidrs=BIG,
        duration_s=120,
        ec2_params=fixed_latency(1.0),
    )
    assert ops(run, "unassign") == []
    assert at(run, 120.0, "ips_held") == 9


@pytest.mark.parametrize(
    ("env", "assign_times", "create_times"),
    [
        # Subnet discovery on (default): assign k, retry 1 (1 s each), the failing ENI is
        # skipped, the ENI create fails after DescribeSubnets + Create (2 s): the step ends at
        # 4 s, growth pauses while now <= 124 s; steps come every 5 s from 9 s, so 129 s.
        ({"ENABLE_PREFIX_DELEGATION": "true"}, [0.0, 0.0, 129.0, 129.0], [0.0, 129.0]),
        # Subnet discovery off: the failed assign itself starts the pause (step ends at 2 s,
        # pause while now <= 122 s, steps at 7, 12, ..., 127 s); no ENI is tried.
        (
            {"ENABLE_PREFIX_DELEGATION": "true", "ENABLE_SUBNET_DISCOVERY": "false"},
            [0.0, 0.0, 127.0, 127.0],
            [],
        ),
    ],
)
def test_120_s_pause_after_insufficient_cidr_blocks(
    env: dict[str, str], assign_times: list[float], create_times: list[float]
) -> None:
    # A /27 has no free aligned /28: both contain an AWS-reserved address (.0-.3, .31).
    run = run_reference(
        [NodeSpec("m5.large", 3, 10, 110, "tiny", "tiny", True)],
        IpamdConfig.from_env(env),
        schedule([]),
        subnet_cidrs={"tiny": "10.0.0.0/27"},
        duration_s=200,
        ec2_params=fixed_latency(1.0),
    )
    assert [t for t, _ in ops(run, "assign")] == assign_times
    assert [t for t, _ in ops(run, "create_eni")] == create_times
    errors = {e["error"] for e in run.events if e["op"] in ("assign", "create_eni")}
    assert errors == {"InsufficientCidrBlocks"}


def test_growth_stops_at_max_pods() -> None:
    # m5.large with max pods 5 in warm-IP mode WARM_IP_TARGET=3: ipamd stops adding once it
    # holds >= 5 IPs, so with 5 pods it holds 5 (not 5 + 3) and a 6th pod cannot start.
    spec = NodeSpec("m5.large", 3, 10, 5, "node", "node", True)
    run = run_reference(
        [spec],
        IpamdConfig(warm_ip_target=3),
        schedule([10.0 * (i + 1) for i in range(6)]),
        subnet_cidrs=BIG,
        duration_s=150,
        ec2_params=fixed_latency(1.0),
    )
    assert run.nodes[0]["ips_held"] == 5
    assert run.nodes[0]["ips_assigned"] == 5
    assert 5 not in run.waits_s


def test_custom_networking_puts_pod_ips_on_eni_in_pod_subnet() -> None:
    spec = NodeSpec("m5.large", 3, 10, 20, "node", "pods", True)
    run = run_reference(
        [spec],
        IpamdConfig(custom_network_cfg=True),
        schedule([10.0] * 12),
        subnet_cidrs=BIG,
        duration_s=120,
        ec2_params=fixed_latency(1.0),
    )
    node = run.reference_nodes[0]
    assert node.enis[0].is_primary and node.enis[0].cidrs == []
    pod_net = ipaddress.ip_network(BIG["pods"])
    addresses = [e["address"] for e in run.events if e["op"] == "add"]
    assert len(addresses) == 12
    assert all(ipaddress.ip_address(a) in pod_net for a in addresses)  # type: ignore[arg-type]
    assert all(ipaddress.ip_address(eni.primary_ip) in pod_net for eni in node.enis[1:])
    # m5.large: 2 pod ENIs x 9 = 18 IPs; the node IP stays the only address in the node subnet
    assert node.ips_per_eni() == [0, 9, 9]


def test_security_groups_for_pods_reserves_the_trunk_slot() -> None:
    # m5.large (trunking compatible, karpenter vpclimits) with ENABLE_POD_ENI: 3 ENIs =
    # primary + trunk + 1 pool ENI, so 18 pool IPs; the trunk holds none.
    run = run_reference(
        [M5_LARGE],
        IpamdConfig(enable_pod_eni=True),
        schedule([10.0] * 20),
        subnet_cidrs=BIG,
        duration_s=100,
        ec2_params=fixed_latency(1.0),
    )
    node = run.reference_nodes[0]
    assert [eni.is_trunk for eni in node.enis] == [False, True, False]
    assert node.ips_per_eni() == [9, 0, 9]
    assert run.nodes[0]["ips_assigned"] == 18
    assert run.nodes[0]["subnet_ips"] == 3 + 18


def test_random_placement_follows_the_contract_draws() -> None:
    # WARM_ENI_TARGET=3 on t3.small holds 3 ENIs x 3 IPs; one pod at 60 s: the first draw
    # picks one of 3 ENIs, the second one of its 3 IPs, from placement_rng (3rd spawn).
    seed = 7
    run = run_reference(
        [T3_SMALL],
        IpamdConfig(warm_eni_target=3),
        schedule([60.0]),
        subnet_cidrs=BIG,
        duration_s=61,
        seed=seed,
        placement="random",
        ec2_params=fixed_latency(1.0),
    )
    placement_rng = np.random.default_rng(seed).spawn(3)[2]
    i_eni = int(placement_rng.integers(3))
    i_cidr = int(placement_rng.integers(3))
    (add,) = [e for e in run.events if e["op"] == "add"]
    assert add["address"] == run.reference_nodes[0].enis[i_eni].cidrs[i_cidr].base


def test_del_in_the_tick_of_its_add_cancels_the_add() -> None:
    # ADD at 10.2 s and DEL at 10.7 s both fall due at the 11 s tick (tick 1 s): the DEL
    # (step 3) comes before the ADD would be tried (step 4) and cancels it; the pod never
    # holds an address, so no IP leaks. Pod 1 starts normally as a control.
    run = run_reference(
        [M5_LARGE],
        IpamdConfig(),
        schedule([10.2, 12.0], [10.7]),
        subnet_cidrs=BIG,
        duration_s=20,
        ec2_params=fixed_latency(1.0),
    )
    assert [(e["now_s"], e["op"], e["pod"]) for e in run.events if "pod" in e] == [
        (11.0, "add_cancelled", 0),
        (12.0, "add", 1),
    ]
    assert 0 not in run.waits_s
    assert 0 not in run.reference_nodes[0].pod_cidr
    assert at(run, 11.0, "ips_assigned") == 0
    assert at(run, 20.0, "ips_assigned") == 1
    assert run.nodes[0]["n_adds"] == 1


def test_first_fit_packs_lowest_eni_and_slot() -> None:
    run = run_reference(
        [M5_LARGE],
        IpamdConfig(),
        schedule([10.0, 11.0]),
        subnet_cidrs=BIG,
        duration_s=12,
        ec2_params=fixed_latency(1.0),
    )
    primary = run.reference_nodes[0].enis[0]
    addresses = [e["address"] for e in run.events if e["op"] == "add"]
    assert addresses == [primary.cidrs[0].base, primary.cidrs[1].base]


def test_ipv6_is_refused() -> None:
    config = IpamdConfig(enable_ipv4=False, enable_ipv6=True, enable_prefix_delegation=True)
    with pytest.raises(UsageError, match="IPv6"):
        run_reference([T3_SMALL], config, schedule([]), subnet_cidrs=BIG, duration_s=1)


# ---------------------------------------------------------------------------------- invariants
configs = st.builds(
    IpamdConfig,
    warm_eni_target=st.integers(0, 2),
    warm_ip_target=st.sampled_from([0, 0, 1, 3, 7]),
    minimum_ip_target=st.sampled_from([0, 0, 2, 10, 20]),
    warm_prefix_target=st.integers(0, 2),
    enable_prefix_delegation=st.booleans(),
    enable_pod_eni=st.booleans(),
    ip_cooldown_period_s=st.sampled_from([0.0, 10.0, 30.0]),
)
pod_lists = st.lists(
    st.tuples(st.floats(0, 150), st.one_of(st.none(), st.floats(1, 120))), max_size=14
)


def run_random(
    config: IpamdConfig, pods: list[tuple[float, float | None]], seed: int, placement: str
) -> ReferenceRun:
    adds = [round(a, 1) for a, _ in pods]
    dels = [None if d is None else round(a + d, 1) for a, d in pods]
    return run_reference(
        [T3_SMALL if not config.enable_prefix_delegation else T3_SMALL_PD],
        config,
        schedule(adds, dels),
        subnet_cidrs=BIG,
        duration_s=240,
        seed=seed,
        placement=placement,  # type: ignore[arg-type]
    )


T3_SMALL_PD = NodeSpec("t3.small", 3, 4, 110, "node", "node", True)


@settings(max_examples=50, deadline=None)
@given(configs, pod_lists, st.integers(0, 2**16), st.sampled_from(["first_fit", "random"]))
def test_invariants_hold_on_random_schedules(
    config: IpamdConfig, pods: list[tuple[float, float | None]], seed: int, placement: str
) -> None:
    run = run_random(config, pods, seed, placement)
    spec = T3_SMALL_PD if config.enable_prefix_delegation else T3_SMALL
    cidr_size = 16 if config.enable_prefix_delegation else 1
    for row in run.ticks:
        assert 0 <= row["ips_assigned"] <= row["ips_held"]
        assert row["enis"] <= spec.max_enis
        assert row["ips_held"] <= spec.max_enis * spec.n_slots_per_eni * cidr_size
        assert row["ips_cooldown"] <= row["ips_free"]
    for eni in run.reference_nodes[0].enis:
        assert len(eni.cidrs) <= spec.n_slots_per_eni
        assert not (eni.is_trunk and eni.cidrs)
    # no address held by two pods; a released address comes back only after its cooldown,
    # unless ipamd gave it back to EC2 in between (then it is a fresh allocation)
    holder: dict[object, object] = {}
    released_s: dict[object, float] = {}
    last_return_s = -1.0
    for event in run.events:
        if event["op"] in ("unassign", "free_eni"):
            last_return_s = float(event["now_s"])  # type: ignore[arg-type]
        elif event["op"] == "add":
            address = event["address"]
            assert address not in holder
            holder[address] = event["pod"]
            if address in released_s and last_return_s < released_s[address]:
                assert float(event["now_s"]) > released_s[address] + config.ip_cooldown_period_s  # type: ignore[arg-type]
        elif event["op"] == "del":
            address = next(a for a, p in holder.items() if p == event["pod"])
            del holder[address]
            released_s[address] = float(event["now_s"])  # type: ignore[arg-type]


@settings(max_examples=8, deadline=None)
@given(configs, pod_lists, st.integers(0, 2**16))
def test_same_seed_same_trace(
    config: IpamdConfig, pods: list[tuple[float, float | None]], seed: int
) -> None:
    first = run_random(config, pods, seed, "random")
    second = run_random(config, pods, seed, "random")
    assert first.events == second.events
    assert first.ticks == second.ticks


def test_node_leave_returns_every_address_and_drops_its_pods() -> None:
    # Two m5.large nodes in one /24 (251 usable: AWS reserves 5). Node 0 leaves at 50 s.
    run = run_reference(
        [M5_LARGE, M5_LARGE],
        IpamdConfig(),
        PodEvents.from_arrays([10.0, 10.0, 10.0], [0, 0, 1], [1, 1, 1], [0, 1, 2]),
        subnet_cidrs={"node": "10.0.0.0/24"},
        duration_s=60,
        leave_s=[50.0, None],
    )
    gone = [e["pod"] for e in run.events if e["op"] == "pod_gone"]
    assert gone == [0, 1]
    space = run.reference_nodes[1].ec2.space
    assert space.available_ip_address_count("node") == 251 - run.nodes[1]["subnet_ips"]
    assert run.nodes[0]["enis"] == 0 and run.nodes[0]["ips_assigned"] == 0


def test_throttled_assign_retries_next_step_without_pause_or_new_eni() -> None:
    # tryAssignIPs: the batch and the retry with 1 both fail with RequestLimitExceeded (an empty
    # bucket, one SDK attempt): increaseDatastorePool returns the error, so no ENI is created
    # and no 120 s pause starts; the next step 5 s later tries again.
    params = fixed_latency(1.0)
    buckets = dict(params.buckets)
    buckets["AssignPrivateIpAddresses"] = Bucket(0.0, 0.0)
    throttled = replace(params, buckets=buckets, max_attempts=1)
    run = run_reference(
        [M5_LARGE],
        IpamdConfig(),
        schedule([]),
        subnet_cidrs=BIG,
        duration_s=12,
        ec2_params=throttled,
    )
    assert ops(run, "assign") == [(0.0, 9), (0.0, 1), (5.0, 9), (5.0, 1), (10.0, 9), (10.0, 1)]
    assert ops(run, "create_eni") == []
    assert {e["error"] for e in run.events if e["op"] == "assign"} == {"RequestLimitExceeded"}
    assert run.nodes[0]["ips_held"] == 0


def test_retry_with_one_ip_then_pause_when_the_subnet_runs_dry() -> None:
    # A /28 has 11 usable addresses; another holder takes 5 and the node IP 1, leaving 5.
    # Every step asks for min(S - held, S) IPs, fails (all or nothing), retries with 1 and
    # gets it (1 s per call, so a step lasts 2 s and the next comes 5 s later). Once the
    # subnet is empty the retry fails too: subnet discovery skips the ENI, the ENI create
    # fails (DescribeSubnets + Create, 2 s) and the step ending at 39 s pauses growth while
    # now <= 159 s; steps keep coming every 5 s from 44 s, so the next try is at 164 s.
    def other_holder(space: AddressSpace) -> None:
        space.allocate_fixed("node", space.new_owner_id(), n_ips=5)

    run = run_reference(
        [M5_LARGE],
        IpamdConfig(),
        schedule([]),
        subnet_cidrs={"node": "10.0.0.0/28"},
        duration_s=170,
        ec2_params=fixed_latency(1.0),
        prepare_space=other_holder,
    )
    assert ops(run, "assign") == [
        (0.0, 9),
        (0.0, 1),
        (7.0, 8),
        (7.0, 1),
        (14.0, 7),
        (14.0, 1),
        (21.0, 6),
        (21.0, 1),
        (28.0, 5),
        (28.0, 1),
        (35.0, 4),
        (35.0, 1),
        (164.0, 4),
        (164.0, 1),
    ]
    assert ops(run, "create_eni") == [(35.0, 9), (164.0, 9)]
    assert run.nodes[0]["ips_held"] == 5


@pytest.mark.parametrize(
    ("env", "prefixes_with_pods", "prefixes_after"),
    [
        # computeExtraPrefixesOverWarmTarget: free prefixes 3 - WARM_PREFIX_TARGET 1 = 2 go.
        ({"ENABLE_PREFIX_DELEGATION": "true"}, 3, 1),
        # datastoreTargetState (PD): over = min(free 2, 2 - ceil((0 + 5) / 16),
        # 2 - ceil(10 / 16)) = 1, so 1 of the 2 prefixes goes.
        (
            {"ENABLE_PREFIX_DELEGATION": "true", "WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "10"},
            2,
            1,
        ),
    ],
)
def test_prefix_release_after_pods_leave(
    env: dict[str, str], prefixes_with_pods: int, prefixes_after: int
) -> None:
    spec = NodeSpec("t3.large", 3, 12, 110, "node", "node", True)
    n_pods = 17 if "WARM_IP_TARGET" not in env else 15
    run = run_reference(
        [spec],
        IpamdConfig.from_env(env),
        schedule([10.0 + i for i in range(n_pods)], [200.0] * n_pods),
        subnet_cidrs=BIG,
        duration_s=300,
        ec2_params=fixed_latency(1.0),
    )
    assert at(run, 190.0, "prefixes") == prefixes_with_pods
    assert run.nodes[0]["prefixes"] == prefixes_after
    assert run.nodes[0]["ips_cooldown"] == 0


# ------------------------------------------------------------------- security groups for pods
M5_LARGE_SGP = replace(M5_LARGE, max_branch_enis=9)  # vpc-resource-controller limits.go
SGP = IpamdConfig(enable_pod_eni=True)
POOL_METRICS = ("enis", "ips_held", "ips_assigned", "ips_free", "ips_cooldown", "prefixes")


def test_branch_pods_up_to_the_limit_then_wait_for_a_cooled_down_eni() -> None:
    # 10 SGP pods at 10 s on an m5.large: 9 branch ENIs, the 10th ADD fails. Pod 0 leaves at
    # 20 s; its branch ENI cools down until 20 + 60 = 80 s and still counts against the limit
    # (canCreateMore), is deleted at the first tick after 80 s (81 s), so the 10th pod,
    # retrying every 10 s from 10 s, gets its branch ENI at 90 s: a wait of 80 s.
    run = run_reference(
        [M5_LARGE_SGP],
        SGP,
        schedule([10.0] * 10, [20.0], branch=[True] * 10),
        subnet_cidrs=BIG,
        duration_s=100,
        ec2_params=fixed_latency(1.0),
    )
    assert run.waits_s == {**{pod: 0.0 for pod in range(9)}, 9: 80.0}
    assert [e["now_s"] for e in run.events if e["op"] == "add_failed"] == [
        10.0 * k for k in range(1, 9)
    ]
    assert ops(run, "create_branch_eni") == [(10.0, 0)] * 9 + [(90.0, 0)]
    assert ops(run, "delete_branch_eni") == [(81.0, 0)]
    summary = run.nodes[0]
    assert (summary["n_adds"], summary["n_failed_adds"]) == (18, 8)
    assert summary["n_calls_create_branch_eni"] == 10
    assert summary["n_calls_delete_branch_eni"] == 1
    ec2 = run.reference_nodes[0].ec2
    assert ec2.n_sdk_calls_by_action["AssociateTrunkInterface"] == 10
    assert ec2.n_sdk_calls_by_action["DisassociateTrunkInterface"] == 1
    # the pool never needed a new ENI (9 warm IPs, WARM_ENI_TARGET=1 on S = 9), so every
    # CreateNetworkInterface and DeleteNetworkInterface is the controller's
    assert ec2.n_sdk_calls_by_action["CreateNetworkInterface"] == 10
    assert ec2.n_sdk_calls_by_action["DeleteNetworkInterface"] == 1
    # subnet: node IP + trunk primary + 9 pool IPs + the branch ENIs (cooling ones included)
    assert [at(run, t, "branch_pods") for t in (10.0, 20.0, 81.0, 90.0)] == [9, 8, 8, 9]
    assert [at(run, t, "subnet_ips") for t in (9.0, 10.0, 20.0, 80.0, 81.0, 90.0)] == [
        11,
        20,
        20,
        20,
        19,
        20,
    ]
    assert ec2.space.available_ip_address_count("node") == 65536 - 5 - 20


def test_branch_pods_leave_the_warm_pool_alone() -> None:
    # With fixed latencies the controller's calls change no pool decision: every pool metric
    # at every tick is what the same node shows with no pods at all.
    def pool(pods: PodEvents) -> list[tuple[float, ...]]:
        run = run_reference(
            [M5_LARGE_SGP],
            SGP,
            pods,
            subnet_cidrs=BIG,
            duration_s=200,
            ec2_params=fixed_latency(1.0),
        )
        return [tuple(row[m] for m in POOL_METRICS) for row in run.ticks]

    sgp_pods = schedule([5.0 * i for i in range(12)], [100.0] * 12, branch=[True] * 12)
    assert pool(sgp_pods) == pool(schedule([]))
    # the same pods without the flag do move the pool, so the comparison can fail
    assert pool(schedule([5.0 * i for i in range(12)], [100.0] * 12)) != pool(schedule([]))


def test_branch_and_pool_addresses_are_distinct_subnet_addresses() -> None:
    # Mixed pods: branch IPs come from the trunk's (node) subnet and are never pool IPs.
    flags = [i % 2 == 0 for i in range(12)]
    run = run_reference(
        [M5_LARGE_SGP],
        SGP,
        schedule([10.0 + i for i in range(12)], branch=flags),
        subnet_cidrs=BIG,
        duration_s=60,
        seed=3,
    )
    node = run.reference_nodes[0]
    added = {e["pod"]: e["address"] for e in run.events if e["op"] == "add"}
    branch_ips = {added[p] for p in range(12) if flags[p]}
    pool_ips = {c.base + k for e in node.enis for c in e.cidrs for k in range(c.size)}
    assert len(branch_ips) == 6 and not branch_ips & pool_ips
    node_net = ipaddress.ip_network(BIG["node"])
    assert all(ipaddress.ip_address(a) in node_net for a in branch_ips)  # type: ignore[arg-type]
    assert run.nodes[0]["branch_pods"] == 6 and run.nodes[0]["ips_assigned"] == 6
    assert run.nodes[0]["subnet_ips"] == run.nodes[0]["enis"] + run.nodes[0]["ips_held"] + 6


@pytest.mark.parametrize(
    ("spec", "config"),
    [
        (M5_LARGE_SGP, IpamdConfig()),  # ENABLE_POD_ENI off: no trunk
        (replace(M5_LARGE_SGP, max_enis=1), SGP),  # no slot for a trunk
        (M5_LARGE, SGP),  # a type with no branch ENIs (max_branch_enis 0)
    ],
)
def test_branch_pod_without_trunk_or_branch_slots_never_starts(
    spec: NodeSpec, config: IpamdConfig
) -> None:
    run = run_reference(
        [spec], config, schedule([10.0], branch=[True]), subnet_cidrs=BIG, duration_s=45
    )
    assert run.waits_s == {}
    assert (run.nodes[0]["n_adds"], run.nodes[0]["n_failed_adds"]) == (4, 4)  # 10, 20, 30, 40
    assert ops(run, "create_branch_eni") == []


def test_branch_pod_fails_on_a_full_subnet() -> None:
    # A /28 has 11 usable addresses: node IP, trunk primary and the 9 IPs init asks for
    # leave none, so CreateNetworkInterface fails with InsufficientFreeAddressesInSubnet.
    run = run_reference(
        [M5_LARGE_SGP],
        SGP,
        schedule([10.0], branch=[True]),
        subnet_cidrs={"node": "10.0.0.0/28"},
        duration_s=25,
        ec2_params=fixed_latency(1.0),
    )
    assert run.waits_s == {}
    assert ops(run, "create_branch_eni") == [(10.0, 0), (20.0, 0)]
    assert run.nodes[0]["n_errors_InsufficientFreeAddressesInSubnet"] == 2
    assert run.nodes[0]["branch_pods"] == 0 and run.nodes[0]["subnet_ips"] == 11


def test_throttled_association_deletes_the_new_branch_eni() -> None:
    params = fixed_latency(1.0)
    buckets = dict(params.buckets) | {"AssociateTrunkInterface": Bucket(0.0, 0.0)}
    run = run_reference(
        [M5_LARGE_SGP],
        SGP,
        schedule([10.0], branch=[True]),
        subnet_cidrs=BIG,
        duration_s=15,
        ec2_params=replace(params, buckets=buckets, max_attempts=1),
    )
    ec2 = run.reference_nodes[0].ec2
    assert run.waits_s == {} and run.nodes[0]["n_errors_RequestLimitExceeded"] == 1
    assert ec2.n_sdk_calls_by_action["DeleteNetworkInterface"] == 1
    assert ec2.space.available_ip_address_count("node") == 65536 - 5 - 11


def test_leaving_node_returns_running_and_cooling_branch_enis() -> None:
    # Node 0 runs 3 SGP pods, deletes one at 20 s (cooling until 80 s) and leaves at 50 s:
    # all 3 branch IPs return with the instance and no deletion is made for it later.
    pods = PodEvents.from_arrays(
        [10.0, 10.0, 10.0, 20.0, 10.0],
        [0, 0, 0, 0, 1],
        [1, 1, 1, -1, 1],
        [0, 1, 2, 0, 3],
        [True, True, True, True, False],
    )
    run = run_reference(
        [M5_LARGE_SGP, M5_LARGE_SGP],
        SGP,
        pods,
        subnet_cidrs={"node": "10.0.0.0/24"},
        duration_s=100,
        leave_s=[50.0, None],
    )
    assert [e["pod"] for e in run.events if e["op"] == "pod_gone"] == [1, 2]
    assert ops(run, "delete_branch_eni") == []
    space = run.reference_nodes[1].ec2.space
    assert space.available_ip_address_count("node") == 251 - run.nodes[1]["subnet_ips"]
    assert run.nodes[0]["subnet_ips"] == 0 and run.nodes[0]["branch_pods"] == 0


def test_branch_eni_cooldown_is_a_parameter() -> None:
    # With a 30 s cool-down (the controller's minimum) the ENI of pod 0, deleted at 20 s, goes
    # at 51 s; pod 9 gets its branch ENI at its retry at 60 s.
    run = run_reference(
        [M5_LARGE_SGP],
        SGP,
        schedule([10.0] * 10, [20.0], branch=[True] * 10),
        subnet_cidrs=BIG,
        duration_s=70,
        branch_eni_cooldown_s=30.0,
    )
    assert ops(run, "delete_branch_eni") == [(51.0, 0)]
    assert run.waits_s[9] == 50.0
    with pytest.raises(UsageError, match="branch_eni_cooldown_s"):
        run_reference(
            [M5_LARGE_SGP],
            SGP,
            schedule([]),
            subnet_cidrs=BIG,
            duration_s=1,
            branch_eni_cooldown_s=-1.0,
        )


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 150), st.one_of(st.none(), st.floats(1, 120)), st.booleans()),
        max_size=16,
    ),
    st.integers(0, 4),
    st.integers(0, 2**16),
    st.sampled_from(["first_fit", "random"]),
)
def test_invariants_hold_with_branch_pods(
    pods: list[tuple[float, float | None, bool]], max_branch: int, seed: int, placement: str
) -> None:
    # A /26 (59 usable) so the subnet can run out; cool-down 30 s so ENIs come and go.
    spec = replace(M5_LARGE, max_branch_enis=max_branch)
    adds = [round(a, 1) for a, _, _ in pods]
    dels = [None if d is None else round(a + d, 1) for a, d, _ in pods]
    run = run_reference(
        [spec],
        SGP,
        schedule(adds, dels, branch=[b for _, _, b in pods]),
        subnet_cidrs={"node": "10.0.0.0/26"},
        duration_s=240,
        seed=seed,
        placement=placement,  # type: ignore[arg-type]
        branch_eni_cooldown_s=30.0,
    )
    n_branch_enis = 0  # running plus cooling, from the event log
    holder: dict[object, int] = {}
    is_branch = {pod: b for pod, (_, _, b) in enumerate(pods)}
    for event in run.events:
        if event["op"] == "create_branch_eni" and event["error"] is None:
            n_branch_enis += 1
        elif event["op"] == "delete_branch_eni":
            n_branch_enis -= 1
        elif event["op"] == "add":
            assert event["address"] not in holder  # no address held by two pods
            holder[event["address"]] = int(event["pod"])  # type: ignore[call-overload]
        elif event["op"] == "del":
            (address,) = [a for a, p in holder.items() if p == event["pod"]]
            del holder[address]
        assert 0 <= n_branch_enis <= max_branch
    running_branch = sum(1 for p in holder.values() if is_branch[p])
    final = run.nodes[0]
    assert final["branch_pods"] == running_branch
    assert final["ips_assigned"] == len(holder) - running_branch
    for row in run.ticks:
        assert 0 <= row["branch_pods"] <= max_branch
        assert 0 <= row["ips_assigned"] <= row["ips_held"]
        assert row["subnet_ips"] >= row["enis"] + row["ips_held"] + row["branch_pods"]
    space = run.reference_nodes[0].ec2.space
    assert space.available_ip_address_count("node") == 59 - final["subnet_ips"]


# ------------------------------------------------------------------------- SGP pod schedules
def test_pod_events_branch_defaults_to_false_and_must_match_on_del() -> None:
    events = PodEvents.from_arrays([2.0, 1.0], [0, 0], [-1, 1], [0, 0])
    assert events.branch.tolist() == [False, False]
    flagged = PodEvents.from_arrays([2.0, 1.0], [0, 0], [-1, 1], [0, 0], [True, True])
    assert flagged.branch.tolist() == [True, True]
    with pytest.raises(WorkloadError, match="branch"):
        PodEvents.from_arrays([1.0, 2.0], [0, 0], [1, -1], [0, 0], [True, False])
    with pytest.raises(WorkloadError, match="length"):
        PodEvents.from_arrays([1.0], [0], [1], [0], [True, False])


def test_steady_churn_branch_fraction_keeps_the_events_of_a_seed() -> None:
    plain = steady_churn(20, 10.0, 600.0, 3600.0, np.random.default_rng(5))
    mixed = steady_churn(20, 10.0, 600.0, 3600.0, np.random.default_rng(5), branch_frac=0.3)
    for name in ("time_s", "node", "delta", "pod"):
        assert np.array_equal(getattr(plain, name), getattr(mixed, name))
    assert not plain.branch.any()
    # a pod's ADD and DEL carry its flag; the fraction is a binomial draw (mean 0.3)
    adds = mixed.delta == 1
    flag_of = dict(zip(mixed.pod[adds].tolist(), mixed.branch[adds].tolist(), strict=True))
    assert all(flag_of[p] == b for p, b in zip(mixed.pod, mixed.branch, strict=True))
    n = int(adds.sum())
    assert abs(mixed.branch[adds].sum() - 0.3 * n) < 4 * (0.3 * 0.7 * n) ** 0.5
    with pytest.raises(WorkloadError, match="branch_frac"):
        steady_churn(1, 1.0, 1.0, 1.0, np.random.default_rng(0), branch_frac=1.5)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((-1, 1.0, 60.0, 10.0), {}, "n_nodes"),
        ((2, 1.0, float("nan"), 10.0), {}, "finite"),
        ((2, float("inf"), 60.0, 10.0), {}, "finite"),
        ((2, 1.0, 60.0, [10.0, 20.0, 30.0]), {}, "one per node"),
        ((2, 1.0, 60.0, 10.0), {"start_s": -5.0}, "start_s"),
        ((2, 1.0, 0.0, 10.0), {}, "mean_lifetime_s > 0"),
    ],
)
def test_steady_churn_refuses_impossible_numbers_with_its_own_error(
    args: tuple, kwargs: dict, match: str
) -> None:
    with pytest.raises(WorkloadError, match=match):
        steady_churn(*args, np.random.default_rng(0), **kwargs)


def test_custom_networking_puts_trunk_and_branch_enis_in_the_eniconfig_subnet() -> None:
    # vpc-resource-controller pkg/aws/ec2/instance.go: SubnetID() is the ENIConfig subnet when
    # the node uses one; the trunk and every branch ENI are created there.
    spec = NodeSpec("m5.large", 3, 10, 20, "node", "pods", True, max_branch_enis=9)
    config = IpamdConfig(custom_network_cfg=True, enable_pod_eni=True)
    run = run_reference(
        [spec], config, schedule([10.0] * 3, branch=[True] * 3), subnet_cidrs=BIG, duration_s=20
    )
    node = run.reference_nodes[0]
    pods_net = ipaddress.ip_network(BIG["pods"])
    assert node.enis[1].is_trunk
    assert ipaddress.ip_address(node.enis[1].primary_ip) in pods_net
    branch_ips = [address for _, address in node.branch_pods.values()]
    assert len(branch_ips) == 3
    assert all(ipaddress.ip_address(a) in pods_net for a in branch_ips)
    # the node subnet keeps only the node IP
    assert node.ec2.space.available_ip_address_count("node") == 65536 - 5 - 1
