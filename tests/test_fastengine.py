"""The fast engine agrees with the reference model, field by field, on many-node scenarios.

Hypothesis draws node groups (shapes, max pods, MAX_ENI, trunking-compatible or not, branch
ENI limits, extra subnets for subnet discovery), aws-node settings (warm-ENI, warm-IP, prefix
delegation with and without warm-IP targets, custom networking, security groups for pods,
subnet discovery, IP cooldown), subnets small enough to run out, EC2 buckets small enough to
throttle, joins and leaves, bursts of pods (pool and branch pods, DELs in the tick of their
ADD, pods that never get an address), both placements, tick and pool lengths and cool-downs.
The reference model runs on a PlainWorld and the engine on a FastWorld built from the same
seed: every field of the shared result must be equal (except the counters of ticks and steps
visited), and so must the World afterwards (every address's state and holder, every EC2
counter). The same pods driven in slices (submit, run a while, submit more) give the result
of submitting them at once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simchecks import assert_same_result, assert_same_world
from simstrategies import ipamd_configs

from cnisim.cni import IpamdConfig
from cnisim.errors import UsageError
from cnisim.sim.contract import FAIL_REASONS, NodeSpec, first_tick_at
from cnisim.sim.ec2 import DEFAULT_BUCKETS, Bucket, Ec2Params, Latency
from cnisim.sim.fastengine import Engine
from cnisim.sim.fastworld import FastWorld
from cnisim.sim.ipamd import ReferenceEngine
from cnisim.sim.workload import PodEvents, steady_churn
from cnisim.sim.world import PlainWorld


def small_buckets(capacity: int, refill_per_s: float) -> Ec2Params:
    buckets = {
        a: Bucket(min(b.capacity, capacity), refill_per_s) for a, b in DEFAULT_BUCKETS.items()
    }
    return Ec2Params(buckets=buckets)


@st.composite
def node_groups(draw: st.DrawFn, config: IpamdConfig, n_nodes: int) -> list[NodeSpec]:
    max_enis = draw(st.integers(1, 4))  # after MAX_ENI
    ipv4_per_eni = draw(st.integers(2, 8))
    pod_subnet = "subnet-pod" if config.custom_network_cfg else "subnet-node"
    spec = NodeSpec(
        "x.test",
        max_enis,
        ipv4_per_eni,
        draw(st.sampled_from([max_enis * (ipv4_per_eni - 1) + 2, 6, 110])),
        "subnet-node",
        pod_subnet,
        draw(st.booleans()),
        draw(st.integers(0, 4)),
        trunking_compatible=draw(st.booleans()),
        extra_subnets=draw(st.sampled_from([(), ("subnet-extra",)])),
    )
    return [spec] * n_nodes


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    groups = []
    for _ in range(draw(st.integers(1, 2))):
        config = draw(ipamd_configs(max_minimum_ip=20))
        n_nodes = draw(st.integers(1, 20))
        groups.append((config, draw(node_groups(config, n_nodes))))
    n_nodes = sum(len(specs) for _, specs in groups)
    duration_s = 300.0
    join_s = [float(draw(st.integers(0, 30))) for _ in groups]
    leave_s = draw(
        st.lists(
            st.one_of(st.none(), st.none(), st.integers(60, 290).map(float)),
            min_size=n_nodes,
            max_size=n_nodes,
        )
    )
    n_bursts = draw(st.integers(1, 4))
    time_s: list[float] = []
    node: list[int] = []
    delta: list[int] = []
    pod: list[int] = []
    branch: list[bool] = []
    p = 0
    for _ in range(n_bursts):
        start = draw(st.integers(0, 250))
        width = draw(st.sampled_from([0, 3, 30, 120]))
        n_pods = draw(st.integers(0, 60))
        rng = np.random.default_rng(draw(st.integers(0, 2**16)))
        for _ in range(n_pods):
            t = start + float(rng.integers(0, width + 1)) + 0.5 * float(rng.integers(0, 2))
            n = int(rng.integers(0, n_nodes))
            is_branch = bool(rng.random() < 0.3)
            time_s.append(t)
            node.append(n)
            delta.append(1)
            pod.append(p)
            branch.append(is_branch)
            if rng.random() < 0.7:
                time_s.append(t + float(rng.choice([0.0, 0.25, 20.0, 90.0])))
                node.append(n)
                delta.append(-1)
                pod.append(p)
                branch.append(is_branch)
            p += 1
    tick_s = draw(st.sampled_from([1.0, 1.0, 0.5, 0.3]))
    return {
        "subnets": {
            "subnet-node": draw(st.sampled_from(["10.0.0.0/25", "10.0.0.0/26", "10.0.0.0/23"])),
            "subnet-pod": draw(st.sampled_from(["10.0.4.0/26", "10.0.4.0/24"])),
            "subnet-extra": draw(st.sampled_from(["10.0.8.0/28", "10.0.8.0/25"])),
        },
        "ec2_params": draw(st.sampled_from([None, small_buckets(2, 0.5), small_buckets(10, 2.0)])),
        "groups": groups,
        "join_s": join_s,
        "leave_s": leave_s,
        "pods": PodEvents.from_arrays(time_s, node, delta, pod, branch),
        "duration_s": duration_s,
        "seed": draw(st.integers(0, 2**16)),
        "options": {
            "placement": draw(st.sampled_from(["first_fit", "random"])),
            "tick_s": tick_s,
            "pool_interval_s": draw(st.sampled_from([5.0, 5.0, 2.0, 0.0])),
            "pod_retry_interval_s": draw(st.sampled_from([10.0, 3.0])),
            "sample_every_s": draw(st.sampled_from([tick_s, 7.0, 60.0])),
            "branch_eni_cooldown_s": draw(st.sampled_from([0.0, 30.0, 60.0])),
        },
    }


ENGINE_KINDS = ("reference", "fast")


def build(scenario: dict[str, Any], kind: str) -> tuple[Any, Any]:
    """A World and an engine of ``kind`` ("reference" or "fast") for the scenario."""
    world_cls, engine_cls = (
        (PlainWorld, ReferenceEngine) if kind == "reference" else (FastWorld, Engine)
    )
    world = world_cls(scenario["subnets"], seed=scenario["seed"], ec2_params=scenario["ec2_params"])
    return world, engine_cls(world, **scenario["options"])


def add_nodes(engine: Any, scenario: dict[str, Any]) -> None:
    for (config, specs), t_s in zip(scenario["groups"], scenario["join_s"], strict=True):
        engine.add_nodes(specs, config, t_s)
    for i, t_leave in enumerate(scenario["leave_s"]):
        if t_leave is not None:
            engine.remove_nodes([i], t_leave)


def run_at_once(scenario: dict[str, Any], kind: str) -> tuple[Any, Any]:
    world, engine = build(scenario, kind)
    add_nodes(engine, scenario)
    engine.submit_pods(scenario["pods"])
    engine.run_until(scenario["duration_s"])
    return world, engine


def slices(pods: PodEvents, bounds_s: list[float]) -> list[tuple[float, PodEvents]]:
    """The schedule cut at ``bounds_s``: (time to run to first, the rows from that bound)."""
    cuts = np.searchsorted(pods.time_s, bounds_s, side="left")
    edges = [0, *cuts.tolist(), len(pods)]
    out = []
    for j in range(len(edges) - 1):
        rows = slice(edges[j], edges[j + 1])
        events = PodEvents(
            pods.time_s[rows], pods.node[rows], pods.delta[rows], pods.pod[rows], pods.branch[rows]
        )
        out.append(([-1.0, *bounds_s][j], events))
    return out


def run_in_slices(scenario: dict[str, Any], kind: str, bounds_s: list[float]) -> tuple[Any, Any]:
    """Submit each slice just before the first tick it could be due in."""
    world, engine = build(scenario, kind)
    add_nodes(engine, scenario)
    tick_s = scenario["options"]["tick_s"]
    for bound_s, events in slices(scenario["pods"], bounds_s):
        engine.run_until(math.ceil(bound_s / tick_s - 1e-9) * tick_s - tick_s)
        engine.submit_pods(events)
    engine.run_until(scenario["duration_s"])
    return world, engine


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_fast_engine_matches_reference(scenario: dict[str, Any]) -> None:
    plain, reference = run_at_once(scenario, "reference")
    fast, engine = run_at_once(scenario, "fast")
    assert_same_result(reference.result(), engine.result())
    assert_same_world(plain, fast)
    assert engine.peek_s() == reference.peek_s()
    for name, values in reference.metrics().items():
        np.testing.assert_array_equal(engine.metrics()[name], values, name)
    for name, values in reference.node_status().items():
        np.testing.assert_array_equal(engine.node_status()[name], values, name)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios(), st.lists(st.integers(1, 299), min_size=1, max_size=8, unique=True))
def test_pods_driven_in_slices_match_pods_at_once(
    scenario: dict[str, Any], bounds: list[int]
) -> None:
    bounds_s = sorted(float(b) for b in bounds)
    _, at_once = run_at_once(scenario, "fast")
    fast, sliced = run_in_slices(scenario, "fast", bounds_s)
    plain, reference = run_in_slices(scenario, "reference", bounds_s)
    assert_same_result(at_once.result(), sliced.result())
    assert_same_result(reference.result(), sliced.result())
    assert_same_world(plain, fast)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios(), st.lists(st.integers(0, 299), min_size=1, max_size=6, unique=True))
def test_node_peeks_and_samples_match_the_reference_as_the_run_goes(
    scenario: dict[str, Any], stops: list[int]
) -> None:
    """At each stop of a run: each node's next event (a join, a leave, a step or its
    completion) and the node samples since the last stop, the same in both engines and the
    same as the final result's; the nodes' earliest event is never before the engine's."""
    ref, fast = (run_at_once({**scenario, "duration_s": -1.0}, kind)[1] for kind in ENGINE_KINDS)
    since_s = 0.0
    for stop_s in [*sorted(float(s) for s in stops), scenario["duration_s"]]:
        ref.run_until(stop_s)
        fast.run_until(stop_s)
        n_nodes = fast.n_nodes
        each = [fast.peek_nodes_s([i]) for i in range(n_nodes)]
        assert each == [ref.peek_nodes_s([i]) for i in range(n_nodes)]
        assert fast.peek_nodes_s(range(n_nodes)) == min(each) >= fast.peek_s()
        for a, b in zip(ref.node_samples(since_s), fast.node_samples(since_s), strict=True):
            np.testing.assert_equal(a, b)
        since_s = stop_s
    result = fast.result()
    times, nodes, metrics = fast.node_samples(100.0)
    late = result.sample_s >= 100.0
    np.testing.assert_array_equal(times, result.sample_s[late])
    np.testing.assert_array_equal(nodes, result.sample_node[late])
    for name, values in metrics.items():
        np.testing.assert_array_equal(values, result.samples[name][late], name)
    for engine in (ref, fast):
        with pytest.raises(UsageError, match="peek_nodes_s got a node id that was never added"):
            engine.peek_nodes_s([n_nodes])


def rows(pods: PodEvents, keep: np.ndarray) -> PodEvents:
    return PodEvents(
        pods.time_s[keep], pods.node[keep], pods.delta[keep], pods.pod[keep], pods.branch[keep]
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_pods_driven_tick_by_tick_match_pods_at_once(scenario: dict[str, Any]) -> None:
    """As a scenario drives the engine: before each tick the pods due in it are submitted
    (events at the tick's own time among them, and several in one tick), then ``run_until``
    that tick, so most calls run one tick or none; the result and what the engine shows
    afterwards are those of submitting every pod at once."""
    _, at_once = run_at_once(scenario, "fast")
    _, driven = build(scenario, "fast")
    add_nodes(driven, scenario)
    tick_s = scenario["options"]["tick_s"]
    pods = scenario["pods"]
    due_k = np.array([first_tick_at(t, tick_s) for t in pods.time_s.tolist()], dtype=np.int64)
    last_k = math.floor(scenario["duration_s"] / tick_s + 1e-9)
    for k in range(last_k + 1):
        if np.any(due_k == k):
            driven.submit_pods(rows(pods, due_k == k))
        driven.run_until(k * tick_s)
    driven.submit_pods(rows(pods, due_k > last_k))
    driven.run_until(scenario["duration_s"])
    assert_same_result(at_once.result(), driven.result())
    assert driven.peek_s() == at_once.peek_s()
    for name, values in at_once.metrics().items():
        np.testing.assert_array_equal(driven.metrics()[name], values, name)


def test_strided_columns_are_read_as_their_values() -> None:
    """Columns that are views with strides (every other row of a larger array) give the
    result of their contiguous copies: the kernels read C-contiguous arrays only."""
    spec = NodeSpec("m5.large", 3, 10, 29, "subnet-a", "subnet-a")
    # every other row: pods 0 and 1 added at 30 and 31 s, deleted at 32 and 33 s
    wide = (
        np.repeat([30.0, 31.0, 32.0, 33.0], 2),
        np.tile([0, 7], 4),
        np.repeat(np.array([1, 1, -1, -1], dtype=np.int8), 2),
        np.array([0, 7, 1, 7, 0, 7, 1, 7]),
        np.zeros(8, dtype=bool),
    )
    results = []
    for copy in (True, False):
        engine = Engine(subnet_cidrs={"subnet-a": "10.0.0.0/24"}, seed=1)
        engine.add_nodes([spec], IpamdConfig(), 0.0)
        engine.submit_pods(PodEvents(*(c[::2].copy() if copy else c[::2] for c in wide)))
        engine.submit_pods(PodEvents.from_arrays([34.0, 35.0], [0, 0], [1, 1], [2, 3]))
        times, ids = np.array([40.0, 0.0, 41.0, 0.0]), np.array([2, 7, 3, 7])
        engine.delete_pods(*((c[::2].copy() if copy else c[::2]) for c in (times, ids)))
        engine.run_until(60.0)
        results.append(engine.result())
    assert results[0].pod_ids.tolist() == [0, 1, 2, 3]
    assert (results[0].pod_outcome == 0).all()
    assert_same_result(results[0], results[1])


def holder_scenario() -> dict[str, Any]:
    config = IpamdConfig(warm_ip_target=2, minimum_ip_target=4)
    spec = NodeSpec("m5.large", 3, 10, 29, "subnet-node", "subnet-node")
    rng = np.random.default_rng(5)
    return {
        "subnets": {
            "subnet-node": "10.0.0.0/26",
            "subnet-pod": "10.0.4.0/26",
            "subnet-extra": "10.0.8.0/28",
        },
        "ec2_params": None,
        "groups": [(config, [spec] * 4)],
        "join_s": [0.0],
        "leave_s": [None] * 4,
        "pods": steady_churn(4, 8.0, 200.0, 900.0, rng),
        "duration_s": 900.0,
        "seed": 5,
        "options": {"placement": "random", "sample_every_s": 10.0},
    }


def run_with_holder(scenario: dict[str, Any], kind: str) -> tuple[Any, Any]:
    """A load balancer takes all but 2 free addresses of the node subnet at 200 s and returns
    them at 500 s."""
    world, engine = build(scenario, kind)
    add_nodes(engine, scenario)
    engine.submit_pods(scenario["pods"])
    engine.run_until(200.0)
    holder = world.new_owner_id()
    n_ips = world.available_ip_address_count("subnet-node") - 2
    world.allocate_fixed("subnet-node", holder, n_ips=n_ips, now_s=200.0)
    engine.run_until(500.0)
    world.release_owner(holder)
    engine.run_until(scenario["duration_s"])
    return world, engine


def test_an_outside_holder_changes_what_nodes_get_identically_in_both_engines() -> None:
    scenario = holder_scenario()
    plain, reference = run_with_holder(scenario, "reference")
    fast, engine = run_with_holder(scenario, "fast")
    result = engine.result()
    assert_same_result(reference.result(), result)
    assert_same_world(plain, fast)
    _, alone = run_at_once(scenario, "fast")
    # the holder left the nodes short: failed ADDs for want of free subnet addresses
    full = FAIL_REASONS.index("no_ip_subnet_full")
    assert (
        result.n_failed_by_reason[:, full].sum() > alone.result().n_failed_by_reason[:, full].sum()
    )
    assert not np.isnan(result.subnet_exhausted_at_s[0])


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_littles_law_mean_running_pods_is_arrival_rate_times_mean_life(seed: int) -> None:
    """Unlimited addresses and instant EC2: no pod waits beyond its first tick, and the
    time-average of running pods is the arrival rate times the mean life (M/M/inf in steady
    state, Little's law)."""
    instant = Latency(1e-3, 0.0, 1e-3)
    params = Ec2Params(latencies=dict.fromkeys(DEFAULT_BUCKETS, instant), eni_ready_latency=instant)
    world = FastWorld({"subnet-a": "10.0.0.0/16"}, seed=seed, ec2_params=params)
    engine = Engine(world, placement="random", sample_every_s=10.0)
    n_nodes, mean_pods, mean_life_s, start_s, duration_s = 20, 12.0, 600.0, 60.0, 14_400.0
    spec = NodeSpec("big.test", 15, 50, 737, "subnet-a", "subnet-a")
    engine.add_nodes([spec] * n_nodes, IpamdConfig(), 0.0)
    events = steady_churn(
        n_nodes, mean_pods, mean_life_s, duration_s, np.random.default_rng(seed), start_s=start_s
    )
    engine.submit_pods(events)
    engine.run_until(start_s + duration_s)
    result = engine.result()
    assert result.pod_ids.size == events.n_adds
    # no wait: every pod got its address at its first tick (wait = that tick - its ADD time),
    # but those deleted in that same tick, which never start
    assert result.n_failed_adds.sum() == 0
    assert set(result.pod_outcome.tolist()) <= {0, 2} and np.all(result.wait_s < 1.0)
    frame = result.to_frame()
    window = frame[(frame.now_s > start_s) & (frame.now_s <= start_s + duration_s)]
    running = window.groupby("now_s").ips_assigned.sum()
    # exactly the schedule's running pods (every ADD and DEL at the first tick at or after it)
    add_k = np.ceil(events.time_s[events.delta == 1])
    del_k = np.ceil(events.time_s[events.delta == -1])
    want = [(add_k <= t).sum() - (del_k <= t).sum() for t in running.index]
    np.testing.assert_array_equal(running.to_numpy(), want)
    # and Little's law: sd of the time-average is about sqrt(2 L tau / T / n) = 0.22
    assert abs(running.mean() / n_nodes - mean_pods) < 1.0


def test_bad_input_is_refused_as_by_the_reference() -> None:
    engine = Engine(subnet_cidrs={"subnet-a": "10.0.0.0/24"})
    reference = ReferenceEngine(subnet_cidrs={"subnet-a": "10.0.0.0/24"})
    spec = NodeSpec("m5.large", 3, 10, 29, "subnet-a", "subnet-a")
    calls: list[Any] = [
        lambda e: e.add_nodes(
            [NodeSpec("m5.large", 3, 10, 29, "nope", "nope")], IpamdConfig(), 0.0
        ),
        lambda e: e.add_nodes([spec], IpamdConfig(enable_ipv6=True), 0.0),
        lambda e: e.add_nodes([spec], IpamdConfig(), 10.0),
        lambda e: e.remove_nodes([0], 5.0),
        lambda e: e.remove_nodes([3], 50.0),
        lambda e: e.submit_pods(PodEvents.from_arrays([1.0], [2], [1], [0])),
        lambda e: e.submit_pods(PodEvents.from_arrays([11.0], [0], [1], [0])),
        lambda e: e.submit_pods(PodEvents.from_arrays([12.0], [0], [1], [0])),
        lambda e: e.delete_pods(5.0, [0]),
        lambda e: e.delete_pods(15.0, [1]),
        lambda e: e.delete_pods(15.0, [0]),
        lambda e: e.delete_pods(16.0, [0]),
        lambda e: e.run_until(math.inf),
    ]
    for call in calls:
        outcomes = []
        for e in (reference, engine):
            try:
                call(e)
                outcomes.append(None)
            except UsageError as err:
                outcomes.append(str(err))
        assert outcomes[0] == outcomes[1]
    with pytest.raises(UsageError, match="FastWorld"):
        Engine(PlainWorld({"subnet-a": "10.0.0.0/24"}))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="tick_s"):
        Engine(tick_s=0.0)


@pytest.mark.parametrize("pd", [False, True])
def test_decreases_keep_their_30_s_interval_on_a_fine_grid(pd: bool) -> None:
    """Pods leave one by one, so the pool is too high again and again; with a 0.25 s tick
    and a 1 s pool interval a step lands in every second, so a decrease one second early or
    late shows in the EC2 calls and the samples."""
    config = IpamdConfig(warm_ip_target=1, minimum_ip_target=0, enable_prefix_delegation=pd)
    spec = NodeSpec("m5.4xlarge", 8, 30, 234, "subnet-node", "subnet-node")
    n_pods = 60
    time_s = [0.0] * n_pods + [100.0 + 7.0 * k for k in range(n_pods)]
    pods = PodEvents.from_arrays(
        time_s, [0] * (2 * n_pods), [1] * n_pods + [-1] * n_pods, [*range(n_pods)] * 2
    )
    scenario = {
        "subnets": {"subnet-node": "10.0.0.0/22"},
        "ec2_params": None,
        "groups": [(config, [spec])],
        "join_s": [0.0],
        "leave_s": [None],
        "pods": pods,
        "duration_s": 600.0,
        "seed": 9,
        "options": {"tick_s": 0.25, "pool_interval_s": 1.0, "sample_every_s": 0.25},
    }
    _, reference = run_at_once(scenario, "reference")
    _, engine = run_at_once(scenario, "fast")
    result = engine.result()
    assert_same_result(reference.result(), result)
    # unassign calls: the interval was tested several times (prefixes go 16 IPs at a time)
    assert result.n_calls[0, 1] >= (3 if pd else 10)


def test_an_address_is_reused_only_after_its_cooldown() -> None:
    """One pool IP: pod 0 frees it at 20 s, so it cools until 50 s (data_store.go
    inCoolingPeriod: ``time.Since(unassigned) <= period``); pod 1 asks at 50 s, fails with
    ``ips_cooling`` and gets it at its retry, 10 s later."""
    spec = NodeSpec("tiny.test", 1, 2, 110, "subnet-node", "subnet-node")
    pods = PodEvents.from_arrays([10.0, 20.0, 50.0], [0, 0, 0], [1, -1, 1], [0, 0, 1])
    scenario = {
        "subnets": {"subnet-node": "10.0.0.0/26"},
        "ec2_params": None,
        "groups": [(IpamdConfig(), [spec])],
        "join_s": [0.0],
        "leave_s": [None],
        "pods": pods,
        "duration_s": 100.0,
        "seed": 1,
        "options": {},
    }
    _, reference = run_at_once(scenario, "reference")
    _, engine = run_at_once(scenario, "fast")
    result = engine.result()
    assert_same_result(reference.result(), result)
    assert result.wait_s.tolist() == [0.0, 10.0]
    assert FAIL_REASONS[result.pod_last_reason[1]] == "ips_cooling"


def fine_grid_scenario(config: IpamdConfig, spec: NodeSpec, pods: PodEvents) -> dict[str, Any]:
    """One node on a 0.25 s tick with a 1 s pool interval: a step lands in every second, so
    a timer one second off changes what the node does."""
    return {
        "subnets": {"subnet-node": "10.0.0.0/24", "subnet-pod": "10.0.4.0/28"},
        "ec2_params": None,
        "groups": [(config, [spec])],
        "join_s": [0.0],
        "leave_s": [None],
        "pods": pods,
        "duration_s": 400.0,
        "seed": 4,
        "options": {"tick_s": 0.25, "pool_interval_s": 1.0, "sample_every_s": 0.25},
    }


def test_an_eni_is_freed_at_60_s_of_age() -> None:
    """A burst grows the pool to 3 ENIs, then every pod leaves at once: the extra ENIs may go
    once 60 s old (data_store.go minENILifeTime), not a step earlier."""
    spec = NodeSpec("m5.large", 3, 10, 29, "subnet-node", "subnet-node")
    n_pods = 20
    pods = PodEvents.from_arrays(
        [2.0] * n_pods + [20.0] * n_pods,
        [0] * 2 * n_pods,
        [1] * n_pods + [-1] * n_pods,
        [*range(n_pods)] * 2,
    )
    scenario = fine_grid_scenario(IpamdConfig(ip_cooldown_period_s=5.0), spec, pods)
    _, reference = run_at_once(scenario, "reference")
    _, engine = run_at_once(scenario, "fast")
    result = engine.result()
    assert_same_result(reference.result(), result)
    assert result.n_calls[0, 3] >= 1  # free_eni
    assert result.samples["enis"].max() == 3


def test_the_trunk_slot_stays_reserved_while_the_trunk_is_missing() -> None:
    """ENABLE_POD_ENI under custom networking, the ENIConfig subnet held full by another
    holder at the join: the trunk cannot attach, and ipamd keeps its slot (hasRoomForEni), so
    pods fail with ``no_ip_max_enis``, not with a subnet error."""
    spec = NodeSpec("m5.large", 2, 10, 29, "subnet-node", "subnet-pod", max_branch_enis=9)
    config = IpamdConfig(enable_pod_eni=True, custom_network_cfg=True)
    pods = PodEvents.from_arrays([5.0, 6.0], [0, 0], [1, 1], [0, 1])
    scenario = fine_grid_scenario(config, spec, pods)
    outcomes = []
    for kind in ("reference", "fast"):
        world, engine = build(scenario, kind)
        world.allocate_fixed("subnet-pod", world.new_owner_id(), n_ips=11)
        add_nodes(engine, scenario)
        engine.submit_pods(scenario["pods"])
        engine.run_until(scenario["duration_s"])
        outcomes.append(engine.result())
    assert_same_result(*outcomes)
    reasons = {FAIL_REASONS[r] for r in outcomes[1].pod_last_reason}
    assert reasons == {"no_ip_max_enis"}
