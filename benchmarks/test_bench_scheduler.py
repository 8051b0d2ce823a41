"""Scheduler benchmarks: 1,000 nodes, in one big schedule() call and one pod at a time.

- One call: 10,000 pending pods onto 1,000 nodes (kube-scheduler's cycle for every pod: the
  filter walk, NodeResourcesFit, BalancedAllocation and the default topology spread over the
  420 nodes numFeasibleNodesToFind gives for 1,000). Target: median <= 0.6 s over the rounds
  (0.37 s before the cycle was compiled; 0.09 s compiled, December 2026, load average 3).
- One pod at a time, as ``cnisim simulate`` calls it: a :class:`ClusterState` kept across
  calls, each call deciding one Job pod, then binding it and unbinding an older one (a
  cluster in steady churn). Target: median <= 100 us per call with its bind and unbind
  (issue 8: the NodeView path cost ~110 us per pod, ~115 us per call and ~60 us per bind or
  unbind, ~345 us in all; 55 us with the kept state, December 2026, load average 3).

Targets are asserted when timing is enabled (``make bench``), not in CI's single untimed run;
every run also checks the bindings. On a machine shared with other jobs, wall time swings
with their load: ``--benchmark-timer=time.process_time`` times this process's CPU alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cnisim.catalog import load_catalog
from cnisim.plan import Deployment, JobStream, Lifetime, Resources
from cnisim.sim.nodes import node_capacity
from cnisim.sim.scheduler import ClusterState, NodeView, ScheduleResult, schedule
from cnisim.sim.workloads import EKS_DEFAULT_WORKLOADS, daemonset_pods, generate_pods

N_NODES = 1000
N_PODS = 10_000
N_ZONES = 3
TARGET_MEDIAN_S = 0.6  # the scheduler's share of a 1,000-node run (issue 8)
ROUNDS = 7
N_CALLS = 2000
TARGET_PER_CALL_S = 100e-6  # issue 8: under a third of the NodeView path's ~345 us

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
    benchmark.extra_info["target"] = f"median <= {TARGET_MEDIAN_S:g} s"
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


def test_bench_one_pod_per_call_on_a_kept_state(benchmark: Any) -> None:
    view, pods = cluster()
    jobs = pods.take(np.flatnonzero(pods.workload == pods.workload_names.index("batch")))
    results: list[list[int]] = []

    first = schedule(pods.take(np.arange(6000)), view, rng=np.random.default_rng(1))

    def setup() -> tuple[tuple[ClusterState], dict[str, Any]]:
        # the first 6,000 pods (CoreDNS, web, api, the first Jobs) bound, then churn
        state = ClusterState.from_view(view)
        state.bind(pods.take(np.arange(6000)), first.node_index)
        return (state,), {}

    def run(state: ClusterState) -> None:
        rng = np.random.default_rng(2)
        placed: list[int] = []
        for i in range(N_CALLS):
            pod = jobs.take([i % len(jobs)])
            result = state.schedule(pod, rng=rng, start_node_index=i)
            state.bind(pod, result.node_index)
            placed.append(int(result.node_index[0]))
            if i >= 100:
                state.unbind(jobs.take([(i - 100) % len(jobs)]), [placed[i - 100]])
        results.append(placed)

    benchmark.pedantic(run, setup=setup, rounds=3 if benchmark.enabled else 1, iterations=1)
    benchmark.extra_info["target"] = f"median per call <= {TARGET_PER_CALL_S * 1e6:g} us"
    # Every pod placed, and the same each round.
    assert all(node >= 0 for node in results[0])
    assert all(r == results[0] for r in results)
    if benchmark.enabled:
        per_call_s = benchmark.stats.stats.median / N_CALLS
        benchmark.extra_info["median_per_call_us"] = round(per_call_s * 1e6, 1)
        print(f"\none pod per call on a kept state: {per_call_s * 1e6:.1f} us per call")
        assert per_call_s <= TARGET_PER_CALL_S
