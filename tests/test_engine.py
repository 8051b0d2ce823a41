"""Exact traces of tiny scenarios and invariants of the fast engine, through the names
``cnisim.sim.engine`` has always exported (now the compiled engine's)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnisim.cni import IpamdConfig
from cnisim.errors import UsageError
from cnisim.sim.engine import OPS, Engine
from cnisim.sim.ipamd import NodeSpec
from cnisim.sim.workload import PodEvents, WorkloadError, steady_churn

# t3.small: 3 ENIs x 4 IPv4 addresses (aws/amazon-vpc-cni-k8s pkg/vpc/vpc_ip_resource_limit.go),
# max pods 3 * (4 - 1) + 2 = 11 (misc/eni-max-pods.txt).
T3_SMALL = NodeSpec("t3.small", 3, 4, 11, "subnet-a", "subnet-a", True)
# With prefix delegation the max-pods calculator gives min(3 * 3 * 16 + 2, 110) = 110
# (awslabs/amazon-eks-ami templates/al2/runtime/max-pods-calculator.sh); ipamd stops growing
# at max pods, so the doc rows for prefixes need that value.
T3_SMALL_PD = NodeSpec("t3.small", 3, 4, 110, "subnet-a", "subnet-a", True)
BIG_SUBNET = {"subnet-a": "10.0.0.0/20"}


def slow_arrivals(node: int, n_pods: int, first_pod: int = 0, every_s: float = 60.0) -> PodEvents:
    """One pod ADD per ``every_s`` on ``node``: ipamd settles between pods."""
    return PodEvents.from_arrays(
        np.arange(n_pods) * every_s,
        np.full(n_pods, node),
        np.ones(n_pods),
        first_pod + np.arange(n_pods),
    )


def metrics_at(engine: Engine, t_s: float, node: int) -> dict[str, int]:
    engine.run_until(t_s)
    return {name: int(values[node]) for name, values in engine.metrics().items()}


def test_t3_small_defaults_follow_the_eni_and_ip_target_doc_table() -> None:
    # aws/amazon-vpc-cni-k8s docs/eni-and-ip-target.md, t3.small with WARM_ENI_TARGET=1:
    # 0 pods -> 1 ENI, 3 IPs; 5 pods -> 3 ENIs, 9 IPs; 9 pods -> 3 ENIs, 9 IPs.
    engine = Engine(subnet_cidrs=BIG_SUBNET, seed=1)
    engine.add_nodes([T3_SMALL], IpamdConfig(), 0.0)
    rows = {0: metrics_at(engine, 50.0, 0)}
    engine.submit_pods(
        PodEvents.from_arrays(60.0 + 60.0 * np.arange(9), np.zeros(9), np.ones(9), np.arange(9))
    )
    rows[5] = metrics_at(engine, 60.0 * 5 + 50.0, 0)
    rows[9] = metrics_at(engine, 60.0 * 9 + 50.0, 0)
    assert [(rows[p]["enis"], rows[p]["ips_held"]) for p in (0, 5, 9)] == [(1, 3), (3, 9), (3, 9)]
    assert [rows[p]["ips_assigned"] for p in (0, 5, 9)] == [0, 5, 9]
    # The subnet gives each ENI its primary IP plus the secondaries (docs/ipamd-model.md s. 6).
    assert rows[9]["subnet_ips"] == 3 + 9
    assert engine.world.space.available_ip_address_count("subnet-a") == 4096 - 5 - 12


def test_two_node_groups_in_one_run_each_follow_their_table() -> None:
    # Group A: defaults (eni-and-ip-target.md). Group B: prefix delegation, WARM_PREFIX_TARGET=1
    # (aws/amazon-vpc-cni-k8s docs/prefix-and-ip-target.md, t3.small: 0 pods -> 1 prefix and
    # 16 free; 5 pods -> 2 prefixes and 27 free).
    engine = Engine(subnet_cidrs=BIG_SUBNET, seed=2, placement="random")
    a = engine.add_nodes([T3_SMALL], IpamdConfig(), 0.0)
    b = engine.add_nodes([T3_SMALL_PD], IpamdConfig(enable_prefix_delegation=True), 0.0)
    assert a.tolist() == [0] and b.tolist() == [1]
    engine.run_until(50.0)
    m = engine.metrics()
    assert (m["enis"].tolist(), m["ips_held"].tolist(), m["prefixes"].tolist()) == (
        [1, 1],
        [3, 16],
        [0, 1],
    )
    times = 60.0 + 60.0 * np.arange(5)
    engine.submit_pods(
        PodEvents.from_arrays(
            np.r_[times, times], np.r_[np.zeros(5), np.ones(5)], np.ones(10), np.arange(10)
        )
    )
    engine.run_until(400.0)
    m = engine.metrics()
    assert m["enis"].tolist() == [3, 1]
    assert m["ips_held"].tolist() == [9, 32]
    assert m["ips_free"].tolist() == [4, 27]
    assert m["prefixes"].tolist() == [0, 2]


def test_released_ip_is_in_cooldown_and_counts_as_free() -> None:
    # data_store.go: an unassigned IP is not reused for IP_COOLDOWN_PERIOD (30 s) but counts
    # as available in ipamd's stats.
    engine = Engine(subnet_cidrs=BIG_SUBNET, seed=3, sample_every_s=1.0)
    engine.add_nodes([T3_SMALL], IpamdConfig(), 0.0)
    engine.submit_pods(PodEvents.from_arrays([10.0, 20.0, 21.0], [0, 0, 0], [1, -1, 1], [0, 0, 1]))
    engine.run_until(10.0)
    first = engine.pod_address(0)
    engine.run_until(21.0)
    m = engine.metrics()
    assert m["ips_cooldown"][0] == 1 and m["ips_assigned"][0] == 1
    assert m["ips_free"][0] == m["ips_held"][0] - 1
    assert engine.pod_address(1) != first  # first_fit skips the cooling address
    assert engine.metrics(now_s=51.0)["ips_cooldown"][0] == 0  # cooling while now <= +30 s


def test_nodes_joining_and_leaving_return_addresses_to_the_subnet() -> None:
    engine = Engine(subnet_cidrs={"subnet-a": "10.0.0.0/24"}, seed=4)
    free_before = engine.world.space.available_ip_address_count("subnet-a")
    assert free_before == 256 - 5
    ids = engine.add_nodes([T3_SMALL] * 3, IpamdConfig(), 0.0)
    engine.add_nodes([T3_SMALL_PD], IpamdConfig(enable_prefix_delegation=True), 30.0)
    engine.submit_pods(steady_churn(4, 4.0, 120.0, 600.0, np.random.default_rng(0)))
    engine.run_until(300.0)
    taken = int(engine.metrics()["subnet_ips"].sum())
    assert taken > 4 * 4
    assert engine.world.space.available_ip_address_count("subnet-a") == free_before - taken
    engine.remove_nodes(ids[:2], 301.0)
    engine.run_until(301.0)
    m = engine.metrics()
    assert m["enis"][:2].tolist() == [0, 0]
    assert engine.world.space.available_ip_address_count("subnet-a") == free_before - int(
        m["subnet_ips"].sum()
    )
    engine.remove_nodes([2, 3], 400.0)
    engine.run_until(600.0)
    assert engine.world.space.available_ip_address_count("subnet-a") == free_before
    # Pods of a node that left never run again: no ADD attempt is counted after the leave.
    result = engine.result()
    assert (result.sample_node[result.sample_s > 400.0]).size == 0


def test_two_nodes_sharing_a_small_subnet_hit_insufficient_free_addresses() -> None:
    # A /28 has 16 - 5 = 11 usable addresses. Each node takes its node IP and, at init, 3
    # secondaries on the primary ENI (8 in all). One pod per node leaves 2 free < S = 3, so
    # each node tries a new ENI with 3 IPs (4 addresses) while 3 are left: the call fails with
    # InsufficientFreeAddressesInSubnet and growth pauses for 120 s (ipamd.go
    # insufficientCidrErrorCooldown).
    engine = Engine(subnet_cidrs={"subnet-a": "10.0.0.0/28"}, seed=5)
    engine.add_nodes([T3_SMALL, T3_SMALL], IpamdConfig(), 0.0)
    engine.submit_pods(PodEvents.from_arrays([1.0, 1.0], [0, 1], [1, 1], [0, 1]))
    create = OPS.index("create_eni")
    engine.run_until(100.0)
    result = engine.result()
    assert result.n_calls[:, create].tolist() == [1, 1]
    assert result.n_errors[:, 0].tolist() == [1, 1]  # column 0: InsufficientFreeAddressesInSubnet
    assert engine.world.ec2.n_errors_by_code["InsufficientFreeAddressesInSubnet"] == 2
    assert engine.world.space.available_ip_address_count("subnet-a") == 3
    m = engine.metrics()
    assert m["enis"].tolist() == [1, 1] and m["ips_held"].tolist() == [3, 3]
    engine.run_until(200.0)  # the pause is over: both try again, and fail again
    assert engine.result().n_calls[:, create].tolist() == [2, 2]
    assert engine.world.space.available_ip_address_count("subnet-a") == 3


def test_adding_a_prefix_group_later_keeps_running_pods_and_addresses() -> None:
    # The address arrays grow (16 addresses per CIDR slot, 8 ENIs, more nodes) mid-run.
    engine = Engine(subnet_cidrs={"subnet-a": "10.0.0.0/20", "subnet-b": "10.1.0.0/16"}, seed=6)
    engine.add_nodes([T3_SMALL] * 2, IpamdConfig(), 0.0)
    engine.submit_pods(PodEvents.from_arrays([5.0] * 6, [0, 0, 0, 1, 1, 1], [1] * 6, range(6)))
    engine.run_until(100.0)
    before = [engine.pod_address(p) for p in range(6)]
    held = [engine.node_addresses(i).tolist() for i in range(2)]
    big = NodeSpec("m5.4xlarge", 8, 30, 234, "subnet-b", "subnet-b", True)
    new = engine.add_nodes([big] * 300, IpamdConfig(enable_prefix_delegation=True), 100.0)
    assert new[0] == 2 and new.size == 300
    engine.run_until(400.0)
    assert [engine.pod_address(p) for p in range(6)] == before
    assert [engine.node_addresses(i).tolist() for i in range(2)] == held
    # 300 simultaneous AssignPrivateIpAddresses drain the 100-token bucket (5 per s): some
    # are throttled, retried by the SDK or by the next pool step, and all nodes get there.
    assert engine.world.ec2.n_throttled_by_action["AssignPrivateIpAddresses"] > 0
    assert engine.metrics()["prefixes"][2:].tolist() == [1] * 300


def test_running_branch_pods_survive_the_arrays_growing() -> None:
    # Branch pods hold no datastore position, so a reshape (8 ENIs, 16 addresses per slot)
    # must leave them alone while it moves the pool pods' positions.
    engine = Engine(subnet_cidrs={"subnet-a": "10.0.0.0/20", "subnet-b": "10.1.0.0/16"}, seed=6)
    m5 = NodeSpec("m5.large", 3, 10, 20, "subnet-a", "subnet-a", True, max_branch_enis=9)
    engine.add_nodes([m5], IpamdConfig(enable_pod_eni=True), 0.0)
    flags = [True, False, True, False]
    engine.submit_pods(PodEvents.from_arrays([5.0] * 4, [0] * 4, [1] * 4, range(4), flags))
    engine.run_until(50.0)
    before = [engine.pod_address(p) for p in range(4)]
    assert None not in before
    big = NodeSpec("m5.4xlarge", 8, 30, 234, "subnet-b", "subnet-b", True)
    engine.add_nodes([big], IpamdConfig(enable_prefix_delegation=True), 50.0)
    engine.run_until(100.0)
    assert [engine.pod_address(p) for p in range(4)] == before
    assert engine.metrics()["branch_pods"].tolist() == [2, 0]


def test_result_frames_and_waits() -> None:
    engine = Engine(subnet_cidrs=BIG_SUBNET, seed=7, sample_every_s=10.0)
    engine.add_nodes([T3_SMALL], IpamdConfig(), 0.0)
    # 6 pods at once: 3 get the primary ENI's IPs; 3 wait for the 2nd ENI and retry at +10 s.
    engine.submit_pods(PodEvents.from_arrays([1.0] * 6, [0] * 6, [1] * 6, range(6)))
    engine.run_until(60.0)
    result = engine.result()
    frame = result.to_frame()
    assert list(frame.columns[:2]) == ["now_s", "node"]
    assert frame["now_s"].tolist() == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    waits = dict(zip(result.pod_ids.tolist(), result.wait_s.tolist(), strict=True))
    assert [waits[p] for p in range(3)] == [0.0, 0.0, 0.0]
    assert all(waits[p] == 10.0 for p in range(3, 6))
    assert result.n_failed_adds[0] == 3 and result.n_adds[0] == 9
    nodes = result.nodes_frame()
    assert nodes.loc[0, "n_failed_adds"] == 3
    assert result.waits_frame()["wait_s"].max() == 10.0


def test_user_errors_are_usage_errors() -> None:
    engine = Engine(subnet_cidrs=BIG_SUBNET)
    with pytest.raises(UsageError, match="ENABLE_IPv6"):
        engine.add_nodes([T3_SMALL], IpamdConfig(enable_ipv6=True, enable_ipv4=False), 0.0)
    with pytest.raises(UsageError, match="subnet"):
        engine.add_nodes([NodeSpec("t3.small", 3, 4, 11, "nope", "nope", True)], IpamdConfig(), 0)
    with pytest.raises(UsageError, match="node id"):
        engine.submit_pods(slow_arrivals(3, 1))
    with pytest.raises(UsageError, match="never added"):
        engine.remove_nodes([7], 1.0)
    with pytest.raises(UsageError, match="placement"):
        Engine(subnet_cidrs=BIG_SUBNET, placement="best")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="branch_eni_cooldown_s"):
        Engine(subnet_cidrs=BIG_SUBNET, branch_eni_cooldown_s=-1.0)
    with pytest.raises(WorkloadError, match="before its ADD"):
        PodEvents.from_arrays([5.0, 1.0], [0, 0], [1, -1], [0, 0])
    with pytest.raises(WorkloadError, match="added twice"):
        PodEvents.from_arrays([1.0, 2.0], [0, 0], [1, 1], [0, 0])
    with pytest.raises(WorkloadError, match="another node"):
        PodEvents.from_arrays([1.0, 2.0], [0, 1], [1, -1], [0, 0])


def test_steady_churn_obeys_littles_law() -> None:
    # M/M/inf: running pods are Poisson with mean = arrival rate x mean lifetime.
    rng = np.random.default_rng(8)
    events = steady_churn(200, 10.0, 600.0, 6000.0, rng)
    expected_starts = 200 * 10.0 * (1 + 6000.0 / 600.0)
    assert abs(events.n_adds - expected_starts) < 4 * np.sqrt(expected_starts)
    running_at_end = events.n_adds - int((events.delta == -1).sum())
    assert abs(running_at_end / 200 - 10.0) < 4 * np.sqrt(10.0 / 200)
    assert np.all(np.diff(events.time_s) >= 0)


# ---------------------------------------------------------------- invariants (hypothesis)
@st.composite
def runs(draw: st.DrawFn) -> dict[str, Any]:
    pd_on = draw(st.booleans())
    config = IpamdConfig(
        warm_eni_target=draw(st.integers(0, 2)),
        warm_ip_target=draw(st.integers(0, 4)),
        minimum_ip_target=draw(st.integers(0, 8)),
        warm_prefix_target=draw(st.integers(0, 2)),
        enable_prefix_delegation=pd_on,
    )
    shapes = [(draw(st.integers(1, 4)), draw(st.integers(2, 6))) for _ in range(3)]
    return {
        "config": config,
        "specs": [
            NodeSpec("x.test", e, ip, e * (ip - 1) + 2, "subnet-a", "subnet-a", True)
            for e, ip in shapes
        ],
        "seed": draw(st.integers(0, 1000)),
        "placement": draw(st.sampled_from(["first_fit", "random"])),
        "mean_pods": draw(st.floats(0.5, 12.0)),
        "subnet": draw(st.sampled_from(["10.0.0.0/26", "10.0.0.0/24"])),
    }


def simulate(run: dict[str, Any], checks: bool) -> Engine:
    engine = Engine(
        subnet_cidrs={"subnet-a": run["subnet"]},
        seed=run["seed"],
        placement=run["placement"],
        sample_every_s=5,
    )
    engine.add_nodes(run["specs"], run["config"], 0.0)
    rng = np.random.default_rng(run["seed"])
    events = steady_churn(3, run["mean_pods"], 60.0, 300.0, rng)
    engine.submit_pods(events)
    for t_s in range(0, 301, 20):
        engine.run_until(float(t_s))
        if checks:
            check_invariants(engine, run["specs"], events.n_adds)
    return engine


def check_invariants(engine: Engine, specs: list[NodeSpec], n_pods: int) -> None:
    m = engine.metrics()
    all_held = [engine.node_addresses(i) for i in range(len(specs))]
    held = np.concatenate(all_held)
    assert np.unique(held).size == held.size  # no address held twice, across nodes too
    assert np.all(m["ips_assigned"] <= m["ips_held"])
    for i, spec in enumerate(specs):
        assert m["enis"][i] <= spec.max_enis
        per_eni = engine.ips_per_eni(i)
        cidr = 16 if m["prefixes"][i] else 1
        assert all(n <= (spec.ipv4_per_eni - 1) * cidr for n in per_eni)
        assert sum(per_eni) == m["ips_held"][i] == all_held[i].size
    owners = engine.world.space.owner_of("subnet-a", held)
    assert np.all(owners >= 0)  # the subnet agrees that each held address is taken
    running = [engine.pod_address(p) for p in range(n_pods)]
    placed = [a for a in running if a is not None]
    assert len(placed) == len(set(placed)) == int(m["ips_assigned"].sum())
    assert set(placed) <= {int(a) for a in held}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_invariants_hold_under_churn(run: dict[str, Any]) -> None:
    simulate(run, checks=True)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_same_seed_same_result(run: dict[str, Any]) -> None:
    a = simulate(run, checks=False).result()
    b = simulate(run, checks=False).result()
    assert a.to_frame().equals(b.to_frame())
    assert np.array_equal(a.wait_s, b.wait_s) and a.n_calls_by_action == b.n_calls_by_action


def test_branch_pods_at_scale_keep_the_limit_and_the_subnet_accounting() -> None:
    # 60 m5.large nodes with security groups for pods (9 branch ENIs each, vpc-resource-
    # controller limits.go; max pods (3 - 1) x 9 + 2 = 20 with the trunk), 14 pods each on
    # average, 40 % of them SGP pods: nodes hit the branch limit, pods wait for cooled-down
    # ENIs, and every address the nodes hold is accounted for in the subnet.
    engine = Engine(subnet_cidrs=BIG_SUBNET, seed=3, placement="random", sample_every_s=30.0)
    spec = NodeSpec("m5.large", 3, 10, 20, "subnet-a", "subnet-a", True, max_branch_enis=9)
    engine.add_nodes([spec] * 60, IpamdConfig(enable_pod_eni=True), 0.0)
    events = steady_churn(60, 14.0, 300.0, 1800.0, np.random.default_rng(8), branch_frac=0.4)
    engine.submit_pods(events)
    engine.run_until(1800.0)
    result = engine.result()
    assert 0 < result.samples["branch_pods"].max() <= 9
    final = engine.metrics()
    # a /20 has 4096 - 5 usable addresses (AWS reserves 5 per subnet)
    assert (
        engine.world.space.available_ip_address_count("subnet-a")
        == 4091 - final["subnet_ips"].sum()
    )
    # branch ENIs held per node (running pods' and cooling ones): at least the running
    # pods, at most the limit
    held_branch = final["subnet_ips"] - final["enis"] - final["ips_held"]
    assert np.all(final["branch_pods"] <= held_branch) and np.all(held_branch <= 9)
    assert result.n_calls[:, OPS.index("delete_branch_eni")].sum() > 0
    assert result.n_failed_adds.sum() > 0  # some SGP pods waited for a branch ENI
