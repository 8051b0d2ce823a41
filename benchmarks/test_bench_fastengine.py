"""Benchmarks of the compiled engine (:mod:`cnisim.sim.fastengine`): ratios within one run,
and cluster-scale wall times.

CI runs each once with ``--benchmark-disable``; every benchmark also checks its result (the
engine against the reference model field by field, or the run's own invariants), so none can
rot. Wall-time targets that a loaded machine can miss are asserted only when timing is on
(``make bench``), and the ratios are taken within one process, on the same scenario.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from cnisim.cni import IpamdConfig
from cnisim.sim.contract import NodeSpec
from cnisim.sim.fastengine import Engine
from cnisim.sim.fastworld import FastWorld
from cnisim.sim.ipamd import ReferenceEngine
from cnisim.sim.records import SimResult
from cnisim.sim.workload import PodEvents, steady_churn
from cnisim.sim.world import PlainWorld

DAY_S = 86_400.0
GIB = 1024**3
N_SUBNETS = 8
SUBNETS = {f"subnet-{i}": f"10.{i}.0.0/16" for i in range(N_SUBNETS)}
NODES_PER_WAVE = 50
JOIN_EVERY_S = 60.0
MEAN_PODS = 12.0
# m5.large: 3 ENIs x 10 IPv4 (aws/amazon-vpc-cni-k8s pkg/vpc/vpc_ip_resource_limit.go), max
# pods 29 (misc/eni-max-pods.txt)
M5_LARGE = NodeSpec("m5.large", 3, 10, 29, "subnet-0", "subnet-0")
DEFAULTS_RATIO_TARGET = 20.0  # issue 6
WARM_IP_RATIO_TARGET = 8.0  # issue 6
DRIVEN_RATIO_TARGET = 2.0  # issue 6
DRIVEN_STRETCH_S = 300  # the driven benchmark's turns [simulated s]
ONE_DAY_1000_NODES_TARGET_S = 3.0  # issue 6
ONE_DAY_5000_NODES_TARGET_S = 15.0  # issue 6


def same_result(want: SimResult, got: SimResult) -> bool:
    """Every field but the counters of ticks and steps visited equal."""
    for name in want.field_names():
        if name in ("n_ticks", "n_node_steps"):
            continue
        a, b = getattr(want, name), getattr(got, name)
        if isinstance(a, dict):
            if a.keys() != b.keys() or not all(np.array_equal(a[k], b[k]) for k in a):
                return False
        elif isinstance(a, np.ndarray):
            if not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
                return False
        elif a != b:
            return False
    return True


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def warm_up() -> None:
    """Load the compiled kernels (from numba's cache, or compile them) outside the timings."""
    engine = Engine(FastWorld({"subnet-0": "10.0.0.0/24"}, seed=0))
    engine.add_nodes([M5_LARGE], IpamdConfig(), 0.0)
    engine.submit_pods(PodEvents.from_arrays([1.0, 30.0], [0, 0], [1, -1], [0, 0]))
    engine.run_until(120.0)
    engine.peek_s()
    engine.result()


def run_pair(
    n_nodes: int, config: IpamdConfig, duration_s: float, mean_life_s: float, seed: int
) -> dict[str, Any]:
    """The same scenario on both engines: results and wall times of ``run_until``."""
    events = steady_churn(n_nodes, MEAN_PODS, mean_life_s, duration_s, np.random.default_rng(seed))
    out: dict[str, Any] = {"n_pod_starts": events.n_adds}
    warm_up()
    for kind, world_cls, engine_cls in (
        ("reference", PlainWorld, ReferenceEngine),
        ("fast", FastWorld, Engine),
    ):
        world = world_cls({"subnet-0": "10.0.0.0/16"}, seed=seed)
        engine = engine_cls(world, placement="random")  # type: ignore[operator]
        engine.add_nodes([M5_LARGE] * n_nodes, config, 0.0)
        engine.submit_pods(events)
        _, out[f"{kind}_wall_s"] = timed(lambda e=engine: e.run_until(duration_s))
        out[kind] = engine.result()
    out["speedup"] = out["reference_wall_s"] / out["fast_wall_s"]
    return out


@pytest.mark.parametrize(
    ("label", "n_nodes", "config", "duration_s", "target"),
    [
        ("defaults", 200, IpamdConfig(), 7_200.0, DEFAULTS_RATIO_TARGET),
        (
            "warm_ip",
            100,
            IpamdConfig(warm_ip_target=3, minimum_ip_target=10),
            3_600.0,
            WARM_IP_RATIO_TARGET,
        ),
    ],
)
def test_bench_engine_against_reference(
    benchmark: Any, label: str, n_nodes: int, config: IpamdConfig, duration_s: float, target: float
) -> None:
    """Figure: reference wall time / engine wall time on the same scenario, one process.

    200 m5.large, steady churn (12 pods, 30 min mean life), 2 h, default settings (target
    >= 20x); 100 nodes, 1 h, WARM_IP_TARGET=3 and MINIMUM_IP_TARGET=10 (target >= 8x, every
    ADD and cooled DEL calls EC2). Both results must agree field by field.
    """
    out: dict[str, Any] = {}
    if benchmark.disabled:  # CI: a quarter of the time, the agreement checked the same
        duration_s /= 4
    benchmark.pedantic(
        lambda: out.update(run_pair(n_nodes, config, duration_s, 1_800.0, seed=3)),
        rounds=1,
        iterations=1,
    )
    assert same_result(out["reference"], out["fast"])
    benchmark.extra_info.update(
        {k: round(v, 3) for k, v in out.items() if k.endswith(("_s", "speedup"))}
    )
    benchmark.extra_info["n_pod_starts"] = out["n_pod_starts"]
    benchmark.extra_info["target"] = f"speedup >= {target:g}x"
    if benchmark.enabled:
        assert out["speedup"] >= target, label


def cluster(n_nodes: int, seed: int) -> Engine:
    """The cluster of ``benchmarks/test_bench_sim.py``: two node groups (secondary IPs with
    defaults, and prefix delegation), 4 subnets each, 50 nodes joining a minute."""
    engine = Engine(FastWorld(SUBNETS, seed=seed), placement="random", sample_every_s=300.0)
    half = n_nodes // 2
    for i, t_s in enumerate(join_times_s(n_nodes)):
        subnet = f"subnet-{i % (N_SUBNETS // 2) + (N_SUBNETS // 2) * (i >= half)}"
        spec = NodeSpec("m5.large", 3, 10, 29 if i < half else 110, subnet, subnet)
        config = IpamdConfig(enable_prefix_delegation=i >= half)
        engine.add_nodes([spec], config, float(t_s))
    return engine


def join_times_s(n_nodes: int) -> np.ndarray:
    return np.arange(n_nodes) // NODES_PER_WAVE * JOIN_EVERY_S


def day_of_churn(n_nodes: int, seed: int) -> PodEvents:
    """Steady churn of 12 pods (5,000 s mean life) on every node from its join to 24 h."""
    join_s = join_times_s(n_nodes)
    rng = np.random.default_rng(seed)
    return steady_churn(n_nodes, MEAN_PODS, 5_000.0, DAY_S - join_s, rng, start_s=join_s)


def prefix_of(events: PodEvents, until_s: float) -> PodEvents:
    """The events up to ``until_s`` (a prefix of the day; DELs after it dropped)."""
    kept = events.time_s <= until_s
    return PodEvents(events.time_s[kept], events.node[kept], events.delta[kept], events.pod[kept])


def check_day(engine: Engine, events: PodEvents, end_s: float = DAY_S) -> None:
    """Every pod was tried (but those deleted in the tick of their ADD), samples hold."""
    result = engine.result()
    add = events.delta == 1
    add_tick = np.zeros(events.pod.max() + 1)
    add_tick[events.pod[add]] = np.ceil(events.time_s[add])
    dels = events.delta == -1
    n_cancelled = np.count_nonzero(np.ceil(events.time_s[dels]) == add_tick[events.pod[dels]])
    assert result.n_adds.sum() >= events.n_adds - n_cancelled
    assert np.all(result.samples["ips_assigned"] <= result.samples["ips_held"])
    assert result.end_s == end_s


@pytest.mark.parametrize(
    ("n_nodes", "target_s"),
    [
        (1000, ONE_DAY_1000_NODES_TARGET_S),
        pytest.param(5000, ONE_DAY_5000_NODES_TARGET_S, marks=pytest.mark.slow),
    ],
)
def test_bench_cluster_day(benchmark: Any, n_nodes: int, target_s: float) -> None:
    """Figure: wall time of ``run_until(24 h)`` for 1,000 nodes (about 200,000 pod starts,
    target <= 3 s) and 5,000 nodes (about a million, target <= 15 s); peak RSS <= 1 GiB with
    the kernels loaded from numba's cache. On the shared 2-core machine: 1.23-1.31 s, 350 MiB;
    10.8-11.2 s, 928 MiB."""
    warm_up()
    end_s = DAY_S if benchmark.enabled or n_nodes <= 1000 else 4 * 3600.0  # CI: 5,000 x 4 h
    engine = cluster(n_nodes, seed=n_nodes)
    events = prefix_of(day_of_churn(n_nodes, seed=n_nodes), end_s)
    engine.submit_pods(events)
    _, wall_s = timed(lambda: benchmark.pedantic(engine.run_until, (end_s,), rounds=1))
    check_day(engine, events, end_s)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    benchmark.extra_info.update(
        {
            "wall_s": round(wall_s, 2),
            "n_pod_starts": events.n_adds,
            "node_steps_evaluated": engine.n_node_steps,
            "ticks_run": engine.n_ticks,
            "peak_rss_mib": round(peak_rss / 2**20),
            "target": f"wall <= {target_s:g} s, peak RSS <= 1 GiB",
        }
    )
    # ru_maxrss is the process's peak: a cold numba cache adds the compiler's (~300 MiB)
    assert peak_rss <= 2 * GIB
    if benchmark.enabled:
        assert wall_s <= target_s
        assert peak_rss <= GIB


def test_bench_driven_second_by_second(benchmark: Any) -> None:
    """Figure: a day driven second by second (the pods due in each second submitted, then
    ``run_until`` that second, 86,400 times) against the same pods submitted at once and run
    to the same end (target: at most 2x). The two engines take turns, 300 simulated seconds
    each (the one with every pod submitted runs each stretch in one call), and each one's
    CPU time is summed: the load of other processes on the shared machine falls on both
    alike (run one after the other, the ratio moved from 1.5x to 2.3x). Both results must
    agree field by field."""
    n_nodes = 1000
    warm_up()
    events = day_of_churn(n_nodes, seed=7)
    at_once = cluster(n_nodes, seed=7)
    at_once.submit_pods(events)
    driven = cluster(n_nodes, seed=7)
    second = np.ceil(events.time_s).astype(np.int64)
    cuts = np.searchsorted(second, np.arange(int(DAY_S) + 2), side="left")
    cpu_s = {"at_once": 0.0, "driven": 0.0}

    def drive(first_s: int, end_s: int) -> None:
        for s in range(first_s, end_s):
            lo, hi = cuts[s], cuts[s + 1]
            if hi > lo:
                rows = slice(lo, hi)
                driven.submit_pods(
                    PodEvents(
                        events.time_s[rows],
                        events.node[rows],
                        events.delta[rows],
                        events.pod[rows],
                        events.branch[rows],
                    )
                )
            driven.run_until(float(s))

    def in_turns() -> None:
        for first_s in range(0, int(DAY_S) + 1, DRIVEN_STRETCH_S):
            end_s = min(first_s + DRIVEN_STRETCH_S, int(DAY_S) + 1)
            t0 = time.process_time()
            at_once.run_until(float(end_s - 1))
            t1 = time.process_time()
            drive(first_s, end_s)
            cpu_s["driven"] += time.process_time() - t1
            cpu_s["at_once"] += t1 - t0

    benchmark.pedantic(in_turns, rounds=1)
    assert same_result(at_once.result(), driven.result())
    ratio = cpu_s["driven"] / cpu_s["at_once"]
    benchmark.extra_info.update(
        {
            "at_once_cpu_s": round(cpu_s["at_once"], 2),
            "driven_cpu_s": round(cpu_s["driven"], 2),
            "ratio": round(ratio, 2),
        }
    )
    # issue 6 target: 1.67x-1.77x in three runs on the shared 2-core machine (the engine
    # before the driven path's changes: 2.12x-2.25x); reported, not asserted
    benchmark.extra_info["target_ratio"] = DRIVEN_RATIO_TARGET


def _slope(sizes: list[float], walls_s: list[float]) -> float:
    """The exponent b of wall = a * size**b, least squares on the logs."""
    return float(np.polyfit(np.log(sizes), np.log(walls_s), 1)[0])


def test_bench_scaling_law(benchmark: Any) -> None:
    """Figures: how the engine's wall time grows with the nodes (250 to 2,000 over 6 h) and
    with the simulated hours (3 to 24 h of 1,000 nodes), each series in one process, with the
    exponent of a power law fitted to it (1: linear) and the cost per node-hour at each point,
    so where it bends shows. With ``--benchmark-disable`` (CI): 25 to 100 nodes, 1 to 4 h."""
    small = benchmark.disabled
    warm_up()

    def run(n_nodes: int, hours: float) -> float:
        engine = cluster(n_nodes, seed=n_nodes)
        engine.submit_pods(prefix_of(day_of_churn(n_nodes, seed=n_nodes), hours * 3600.0))
        _, wall_s = timed(lambda: engine.run_until(hours * 3600.0))
        assert engine.result().n_adds.sum() > 0
        return wall_s

    node_sizes = [25, 50, 100] if small else [250, 500, 1000, 2000]
    hour_sizes = [1.0, 2.0, 4.0] if small else [3.0, 6.0, 12.0, 24.0]
    fixed_hours, fixed_nodes = (1.0, 50) if small else (6.0, 1000)

    def measure() -> dict[str, Any]:
        by_nodes = [run(n, fixed_hours) for n in node_sizes]
        by_hours = [run(fixed_nodes, h) for h in hour_sizes]
        return {
            "nodes": node_sizes,
            "wall_s_by_nodes": [round(t, 3) for t in by_nodes],
            "us_per_node_hour_by_nodes": [
                round(1e6 * t / (n * fixed_hours))
                for n, t in zip(node_sizes, by_nodes, strict=True)
            ],
            "exponent_nodes": round(_slope(node_sizes, by_nodes), 2),
            "hours": hour_sizes,
            "wall_s_by_hours": [round(t, 3) for t in by_hours],
            "us_per_node_hour_by_hours": [
                round(1e6 * t / (fixed_nodes * h))
                for h, t in zip(hour_sizes, by_hours, strict=True)
            ],
            "exponent_hours": round(_slope(hour_sizes, by_hours), 2),
        }

    out = benchmark.pedantic(measure, rounds=1)
    benchmark.extra_info.update(out | {"target": "- (the scaling law: exponents near 1)"})
