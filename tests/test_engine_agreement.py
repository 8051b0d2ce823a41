"""The fast engine agrees with the scalar reference model step by step.

Hypothesis draws node shapes, aws-node settings (warm-ENI, warm-IP, prefix delegation,
MAX_ENI, custom networking, security groups for pods with branch-ENI pods and their limit and
cool-down, subnet discovery, cooldown), subnets
small enough to run out, joins and leaves, random pod schedules and both placements; both
engines run the same inputs and seed and must give identical per-tick metrics for every node,
the same addresses held by every node and every running pod, the same counters and waits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simstrategies import ipamd_configs

from cnisim.cni import IpamdConfig
from cnisim.sim.engine import METRICS, OPS, Engine, EngineResult, run_engine
from cnisim.sim.ipamd import NodeSpec, ReferenceRun, run_reference
from cnisim.sim.workload import PodEvents

SUBNETS = {"subnet-node": "10.0.0.0/25", "subnet-pod": "10.0.1.0/26"}


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    config = draw(ipamd_configs())
    n_nodes = draw(st.integers(1, 3))
    specs = []
    for _ in range(n_nodes):
        max_enis = draw(st.integers(1, 4))  # after MAX_ENI
        ipv4_per_eni = draw(st.integers(2, 8))
        max_pods = draw(st.sampled_from([max_enis * (ipv4_per_eni - 1) + 2, 110]))
        pod_subnet = "subnet-pod" if config.custom_network_cfg else "subnet-node"
        max_branch = draw(st.integers(0, 4)) if config.enable_pod_eni else 0
        specs.append(
            NodeSpec(
                "x.test",
                max_enis,
                ipv4_per_eni,
                max_pods,
                "subnet-node",
                pod_subnet,
                True,
                max_branch,
            )
        )
    duration_s = 240.0
    join_s = [float(draw(st.integers(0, 20))) for _ in range(n_nodes)]
    leave_s: list[float | None] = [
        draw(st.one_of(st.none(), st.integers(100, 230).map(float))) for _ in range(n_nodes)
    ]
    n_pods = draw(st.integers(0, 40))
    add_s = draw(st.lists(st.integers(0, 200), min_size=n_pods, max_size=n_pods))
    nodes = draw(st.lists(st.integers(0, n_nodes - 1), min_size=n_pods, max_size=n_pods))
    lifetimes = draw(
        st.lists(st.one_of(st.none(), st.integers(0, 120)), min_size=n_pods, max_size=n_pods)
    )
    time_s, node, delta, pod, branch = [], [], [], [], []
    for p, (t, n, life) in enumerate(zip(add_s, nodes, lifetimes, strict=True)):
        start_s = t + 0.5 * draw(st.integers(0, 1))
        is_branch = config.enable_pod_eni and draw(st.booleans())  # an SGP pod
        time_s.append(start_s)
        node.append(n)
        delta.append(1)
        pod.append(p)
        branch.append(is_branch)
        if life is not None:
            time_s.append(start_s + life + 0.25)
            node.append(n)
            delta.append(-1)
            pod.append(p)
            branch.append(is_branch)
    return {
        "nodes": specs,
        "config": config,
        "pods": PodEvents.from_arrays(time_s, node, delta, pod, branch),
        "duration_s": duration_s,
        "join_s": join_s,
        "leave_s": leave_s,
        "seed": draw(st.integers(0, 2**16)),
        "placement": draw(st.sampled_from(["first_fit", "random"])),
        "tick_s": draw(st.sampled_from([1.0, 0.5, 0.3])),
        "branch_eni_cooldown_s": draw(st.sampled_from([0.0, 30.0, 60.0])),
    }


def run_both(scenario: dict[str, Any]) -> tuple[ReferenceRun, Engine, EngineResult]:
    ref = run_reference(subnet_cidrs=SUBNETS, **scenario)
    engine, result = run_engine(subnet_cidrs=SUBNETS, sample_every_s=scenario["tick_s"], **scenario)
    return ref, engine, result


def assert_agree(ref: ReferenceRun, engine: Engine, result: EngineResult) -> None:
    ref_rows = np.array(
        [[row["now_s"], row["node"], *(row[m] for m in METRICS)] for row in ref.ticks]
    ).reshape(-1, 2 + len(METRICS))
    frame = result.to_frame()
    ours = frame[["now_s", "node", *METRICS]].to_numpy(dtype=np.float64)
    assert ours.shape == ref_rows.shape
    mismatch = np.flatnonzero((ours != ref_rows).any(axis=1))
    assert mismatch.size == 0, (ref_rows[mismatch[:3]], ours[mismatch[:3]])
    for i, node in enumerate(ref.reference_nodes):
        held = sorted(c.base + k for e in node.enis for c in e.cidrs for k in range(c.size))
        assert engine.node_addresses(i).tolist() == held
        assert engine.ips_per_eni(i) == node.ips_per_eni()
        for pod, (cidr, offset) in node.pod_cidr.items():
            assert engine.pod_address(pod) == cidr.base + offset
        for pod, (_, address) in node.branch_pods.items():
            assert engine.pod_address(pod) == address
        summary = ref.nodes[i]
        assert result.n_adds[i] == summary["n_adds"]
        assert result.n_failed_adds[i] == summary["n_failed_adds"]
        for j, op in enumerate(OPS):
            assert result.n_calls[i, j] == summary.get(f"n_calls_{op}", 0)
    assert dict(zip(result.pod_ids.tolist(), result.wait_s.tolist(), strict=True)) == ref.waits_s


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_engine_matches_reference_step_by_step(scenario: dict[str, Any]) -> None:
    ref, engine, result = run_both(scenario)
    assert_agree(ref, engine, result)


@pytest.mark.parametrize("add_window_s", [60, 3])
@pytest.mark.parametrize("placement", ["first_fit", "random"])
def test_busy_nodes_with_several_adds_per_tick_agree(placement: str, add_window_s: int) -> None:
    # Bursts: up to 12 ADDs per node in one tick exercise the rounds and the word offsets; in
    # a 3 s window about 50 ADDs fall in each tick, more than the engine places one by one.
    rng = np.random.default_rng(11)
    n_pods = 150
    add_s = rng.integers(0, add_window_s, size=n_pods).astype(float)
    node = rng.integers(0, 4, size=n_pods)
    del_s = add_s + rng.integers(5, 90, size=n_pods)
    pods = PodEvents.from_arrays(
        np.r_[add_s, del_s],
        np.r_[node, node],
        np.r_[np.ones(n_pods), -np.ones(n_pods)],
        np.r_[np.arange(n_pods), np.arange(n_pods)],
    )
    specs = [NodeSpec("m5.large", 3, 10, 29, "subnet-node", "subnet-node", True)] * 4
    for config in (IpamdConfig(), IpamdConfig(enable_prefix_delegation=True, warm_ip_target=3)):
        scenario: dict[str, Any] = {
            "nodes": specs,
            "config": config,
            "pods": pods,
            "duration_s": 200.0,
            "seed": 5,
            "placement": placement,
            "tick_s": 1.0,
        }
        ref = run_reference(subnet_cidrs={"subnet-node": "10.0.0.0/22"}, **scenario)
        engine, result = run_engine(
            subnet_cidrs={"subnet-node": "10.0.0.0/22"}, sample_every_s=1.0, **scenario
        )
        assert_agree(ref, engine, result)


@pytest.mark.parametrize("placement", ["first_fit", "random"])
def test_del_in_the_tick_of_its_add_agrees(placement: str) -> None:
    # Lifetimes shorter than a tick: each pod's ADD and DEL fall due in the same tick, so the
    # DEL cancels the ADD in both engines; the others run and leave normally.
    rng = np.random.default_rng(4)
    n_pods = 60
    add_s = rng.integers(0, 100, size=n_pods) + 0.1
    life_s = np.where(rng.random(n_pods) < 0.5, 0.5, rng.integers(2, 60, size=n_pods))
    node = rng.integers(0, 2, size=n_pods)
    pods = PodEvents.from_arrays(
        np.r_[add_s, add_s + life_s],
        np.r_[node, node],
        np.r_[np.ones(n_pods), -np.ones(n_pods)],
        np.r_[np.arange(n_pods), np.arange(n_pods)],
    )
    scenario: dict[str, Any] = {
        "nodes": [NodeSpec("m5.large", 3, 10, 29, "subnet-node", "subnet-node", True)] * 2,
        "config": IpamdConfig(),
        "pods": pods,
        "duration_s": 200.0,
        "seed": 9,
        "placement": placement,
        "tick_s": 1.0,
    }
    ref, engine, result = run_both(scenario)
    assert_agree(ref, engine, result)
    n_cancelled = sum(1 for e in ref.events if e["op"] == "add_cancelled")
    assert n_cancelled == int((life_s == 0.5).sum())
    assert result.n_adds.sum() == n_pods - n_cancelled


@pytest.mark.parametrize(
    "config",
    [
        IpamdConfig(),
        IpamdConfig(warm_ip_target=2, minimum_ip_target=4, ip_cooldown_period_s=5.0),
        IpamdConfig(enable_prefix_delegation=True, warm_prefix_target=1),
    ],
)
def test_many_nodes_stepping_in_the_same_tick_agree(config: IpamdConfig) -> None:
    # 40 nodes that join together share their 5 s step grid, and pods come and go in waves:
    # more nodes step in a tick than the engine steps one by one, so its array path for many
    # due nodes (and for many ADDs) is compared too.
    rng = np.random.default_rng(21)
    n_nodes, n_pods = 40, 400
    add_s = 30.0 * rng.integers(0, 5, size=n_pods) + 0.5
    node = rng.integers(0, n_nodes, size=n_pods)
    pods = PodEvents.from_arrays(
        np.r_[add_s, add_s + 30.0 * rng.integers(1, 3, size=n_pods)],
        np.r_[node, node],
        np.r_[np.ones(n_pods), -np.ones(n_pods)],
        np.r_[np.arange(n_pods), np.arange(n_pods)],
    )
    scenario: dict[str, Any] = {
        "nodes": [NodeSpec("t3.medium", 3, 6, 17, "subnet-node", "subnet-node", True)] * n_nodes,
        "config": config,
        "pods": pods,
        "duration_s": 240.0,
        "seed": 2,
        "placement": "random",
        "tick_s": 1.0,
    }
    subnets = {"subnet-node": "10.0.0.0/20"}
    ref = run_reference(subnet_cidrs=subnets, **scenario)
    engine, result = run_engine(subnet_cidrs=subnets, sample_every_s=1.0, **scenario)
    assert_agree(ref, engine, result)


@pytest.mark.parametrize("placement", ["first_fit", "random"])
def test_bursts_of_branch_and_pool_pods_agree(placement: str) -> None:
    # Security groups for pods on 6 m5.large nodes (9 branch ENIs each): 300 pods, a third of
    # them SGP pods, arrive within 4 s and leave in waves, so ADD and DEL batches exceed what
    # the engine handles one by one and branch pods go through its array paths; branch ENIs
    # hit the limit, cool down and are deleted, and a node leaves with cooling ENIs.
    rng = np.random.default_rng(17)
    n_pods = 300
    add_s = rng.integers(0, 4, size=n_pods).astype(float)
    node = rng.integers(0, 6, size=n_pods)
    del_s = add_s + 20.0 * rng.integers(1, 6, size=n_pods)
    branch = rng.random(n_pods) < 1 / 3
    pods = PodEvents.from_arrays(
        np.r_[add_s, del_s],
        np.r_[node, node],
        np.r_[np.ones(n_pods), -np.ones(n_pods)],
        np.r_[np.arange(n_pods), np.arange(n_pods)],
        np.r_[branch, branch],
    )
    spec = NodeSpec("m5.large", 3, 10, 29, "subnet-node", "subnet-node", True, 9)
    scenario: dict[str, Any] = {
        "nodes": [spec] * 6,
        "config": IpamdConfig(enable_pod_eni=True),
        "pods": pods,
        "duration_s": 300.0,
        "seed": 2,
        "placement": placement,
        "tick_s": 1.0,
        "leave_s": [None] * 5 + [90.0],
        "branch_eni_cooldown_s": 30.0,
    }
    ref = run_reference(subnet_cidrs={"subnet-node": "10.0.0.0/22"}, **scenario)
    engine, result = run_engine(
        subnet_cidrs={"subnet-node": "10.0.0.0/22"}, sample_every_s=1.0, **scenario
    )
    assert_agree(ref, engine, result)
    n_branch_adds = sum(1 for e in ref.events if e["op"] == "create_branch_eni")
    n_deletions = sum(1 for e in ref.events if e["op"] == "delete_branch_eni")
    assert n_branch_adds > 6 * 9 and n_deletions > 0  # the limit and the cool-down were hit
