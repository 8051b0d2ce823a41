"""Scheduler benchmark: 10,000 pending pods onto 1,000 nodes in one schedule() call.

The figure is the wall time of one call (kube-scheduler's cycle for every pod: the filter
walk, NodeResourcesFit, BalancedAllocation and the default topology spread over the 420
nodes numFeasibleNodesToFind gives for 1,000). Target: median <= 0.6 s over the rounds,
asserted when timing is enabled (``make bench``), not in CI's single untimed run; every run
also checks the bindings. On a machine shared with other jobs, wall time swings with their
load: ``--benchmark-timer=time.process_time`` times this process's CPU alone (0.36-0.38 s
median, 2 cores shared, December 2026; wall 0.38-0.72 s under load averages 2.4-3.2).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cnisim.catalog import load_catalog
from cnisim.plan import Deployment, JobStream, Lifetime, Resources
from cnisim.sim.nodes import node_capacity
from cnisim.sim.scheduler import NodeView, ScheduleResult, schedule
from cnisim.sim.workloads import EKS_DEFAULT_WORKLOADS, daemonset_pods, generate_pods

N_NODES = 1000
N_PODS = 10_000
N_ZONES = 3
TARGET_MEDIAN_S = 0.6  # the scheduler's share of a 1,000-node run (issue 8)
ROUNDS = 7

WORKLOADS = (
    *EKS_DEFAULT_WORKLOADS,
    Deployment("web", 5000, Resources(100, 128)),
    Deployment("api", 2500, Resources(250, 512)),
    JobStream("batch", 50.0, Lifetime("exponential", 600.0), Resources(500, 256)),
)


def cluster() -> tuple[NodeView, Any]:
    """1,000 nodes, half m5.large and half m5.xlarge, round-robin over 3 zones, Ready, with
    aws-node and kube-proxy bound; the 10,000 first pods of the workloads (CoreDNS, web and
    api at 0 s, then Jobs) pending."""
    types = ["m5.large", "m5.xlarge"] * (N_NODES // 2)
    capacity = node_capacity(load_catalog(), types)
    view = NodeView.empty(capacity, np.arange(N_NODES) % N_ZONES, True, len(WORKLOADS))
    daemons, daemon_nodes = daemonset_pods(WORKLOADS, np.arange(N_NODES), 0.0)
    view = view.bind(daemons, daemon_nodes)
    pods = generate_pods(WORKLOADS, 3600.0, np.random.default_rng(0))
    return view, pods.take(np.arange(N_PODS))


@pytest.mark.parametrize("scoring", ["LeastAllocated", "MostAllocated"])
def test_bench_schedule_10000_pods_onto_1000_nodes(benchmark: Any, scoring: str) -> None:
    view, pods = cluster()
    results: list[ScheduleResult] = []

    def run() -> None:
        results.append(schedule(pods, view, rng=np.random.default_rng(1), scoring=scoring))

    benchmark.pedantic(run, rounds=ROUNDS if benchmark.enabled else 1, iterations=1)
    result = results[0]
    # Correct: every pod fits (the cluster holds 1,000 x 29-58 pods), no node goes over its
    # pods, CPU or memory, the same seed gives the same bindings each round, and each
    # Deployment's pods are spread over the three zones within the zone maxSkew scale.
    assert result.bound.all()
    after = view.bind(pods, result.node_index)
    assert np.all(after.requested_pods <= after.allocatable_pods)
    assert np.all(after.requested_cpu_millicores <= after.allocatable_cpu_millicores)
    assert np.all(after.requested_memory_mib <= after.allocatable_memory_mib)
    assert all(np.array_equal(r.node_index, result.node_index) for r in results)
    for name in ("web", "api"):
        w = pods.workload_names.index(name)
        per_zone = np.bincount(view.zone[result.node_index[pods.workload == w]], minlength=N_ZONES)
        assert per_zone.max() - per_zone.min() <= 0.02 * per_zone.sum(), per_zone
    if benchmark.enabled:
        stats = benchmark.stats.stats
        benchmark.extra_info.update(
            {
                "median_s": round(stats.median, 3),
                "min_s": round(stats.min, 3),
                "max_s": round(stats.max, 3),
                "iqr_s": round(stats.iqr, 3),
            }
        )
        assert stats.median <= TARGET_MEDIAN_S
