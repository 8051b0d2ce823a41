"""Simulator benchmark: the fast engine with security groups for pods at cluster scale.

The engine's days at 1,000 and 5,000 nodes and its ratio to the reference model are in
``test_bench_fastengine.py``. CI runs this once at full size (``--benchmark-disable``);
``make bench`` times it (one round). Figures go to ``benchmark.extra_info``: wall time,
node-steps per second (simulated ipamd pool steps, one per node per 5 s, per wall second), pod
events (ADDs + DELs) per second and peak RSS.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from cnisim.cni import IpamdConfig
from cnisim.sim.contract import OPS, POOL_INTERVAL_S, NodeSpec
from cnisim.sim.fastengine import Engine
from cnisim.sim.workload import PodEvents, steady_churn

# m5.large: 3 ENIs x 10 IPv4 (aws/amazon-vpc-cni-k8s pkg/vpc/vpc_ip_resource_limit.go), max
# pods 29 (misc/eni-max-pods.txt); with prefixes the calculator gives 110
# (awslabs/amazon-eks-ami templates/al2/runtime/max-pods-calculator.sh).
N_SUBNETS = 8
SUBNETS = {f"subnet-{i}": f"10.{i}.0.0/16" for i in range(N_SUBNETS)}
NODES_PER_WAVE = 50
JOIN_EVERY_S = 60.0
MEAN_PODS = 12.0


def run_once(benchmark: Any, fn: Callable[[], None]) -> float:
    """Run ``fn`` once under pytest-benchmark and return its wall time [s]."""
    t0 = time.perf_counter()
    benchmark.pedantic(fn, rounds=1, iterations=1)
    return time.perf_counter() - t0


def record(benchmark: Any, engine: Engine, events: PodEvents, wall_s: float, sim_s: float) -> None:
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    node_steps = engine.n_nodes * sim_s / POOL_INTERVAL_S
    benchmark.extra_info.update(
        {
            "wall_s": round(wall_s, 2),
            "n_nodes": engine.n_nodes,
            "n_pod_starts": events.n_adds,
            "node_steps_per_s": round(node_steps / wall_s),
            "pod_events_per_s": round(len(events) / wall_s),
            "node_steps_evaluated": engine.n_node_steps,
            "ticks_run": engine.n_ticks,
            "peak_rss_mib": round(peak_rss_mib),
        }
    )


def test_bench_1000_sgp_nodes_four_hours(benchmark: Any) -> None:
    """1,000 m5.large nodes with security groups for pods, 4 simulated hours, 30 % SGP pods.

    Every node has a trunk and 9 branch ENIs (aws/amazon-vpc-resource-controller-k8s
    pkg/aws/vpc/limits.go; max pods (3 - 1) x 9 + 2 = 20); each SGP pod costs the controller
    a CreateNetworkInterface and an AssociateTrunkInterface, and its DEL a deletion after the
    60 s cool-down, all in the engine's scalar branch path and the EC2 model. Figure: wall
    time (``wall_s``) and the controller's calls; no target. The controller's calls drain the
    account's CreateNetworkInterface bucket (5 per s), so most creations are throttled.
    """
    hours_s = 4 * 3_600.0
    engine = Engine(subnet_cidrs=SUBNETS, seed=4, placement="random", sample_every_s=300.0)
    join_s = np.arange(1000) // NODES_PER_WAVE * JOIN_EVERY_S
    for i, t_s in enumerate(join_s):
        subnet = f"subnet-{i % N_SUBNETS}"
        spec = NodeSpec("m5.large", 3, 10, 20, subnet, subnet, True, max_branch_enis=9)
        engine.add_nodes([spec], IpamdConfig(enable_pod_eni=True), float(t_s))
    rng = np.random.default_rng(4)
    events = steady_churn(
        1000, MEAN_PODS, 5_000.0, hours_s - join_s, rng, start_s=join_s, branch_frac=0.3
    )
    engine.submit_pods(events)
    wall_s = run_once(benchmark, lambda: engine.run_until(hours_s))
    record(benchmark, engine, events, wall_s, hours_s)
    result = engine.result()
    branch_ops = [OPS.index("create_branch_eni"), OPS.index("delete_branch_eni")]
    n_branch_calls = result.n_calls[:, branch_ops].sum(axis=0)
    benchmark.extra_info["n_branch_eni_creates_deletes"] = n_branch_calls.tolist()
    assert 0 < result.samples["branch_pods"].max() <= 9
    assert n_branch_calls.min() > 0
