"""The scheduler: kube-scheduler's numbers pinned, hand-derived cases, a reference, invariants.

``reference_schedule`` below is a plain-Python transcription of kube-scheduler's cycle (one
node at a time, Python integers, no numpy), written from the Go sources the scheduler module
cites; hypothesis holds the vectorized :func:`schedule` to it, decision for decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from cnisim.errors import UsageError
from cnisim.plan import Deployment, JobStream, Lifetime, Resources
from cnisim.sim.nodes import NodeCapacity
from cnisim.sim.scheduler import (
    POD_INITIAL_BACKOFF_S,
    POD_MAX_BACKOFF_S,
    POD_MAX_IN_UNSCHEDULABLE_PODS_S,
    ClusterState,
    InvalidSchedulerInputError,
    NodeView,
    PendingPods,
    num_feasible_nodes_to_find,
    schedule,
)
from cnisim.sim.workloads import WORKLOAD_KINDS, PodTable, generate_pods

MIB = 2**20
NOT_READY = "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"


def capacity(cpu: list[int], mem_mib: list[int], pods: list[int], enis: list[int] | None = None):
    return NodeCapacity(
        np.array(cpu, dtype=np.int64),
        np.array(mem_mib, dtype=np.int64),
        np.array(pods, dtype=np.int64),
        np.zeros(len(cpu), dtype=np.int64) if enis is None else np.array(enis, dtype=np.int64),
    )


def deployment_pods(n: int, cpu: float, mem_mib: float, *, sgp: bool = False) -> PodTable:
    web = Deployment("web", n, Resources(cpu, mem_mib), security_groups=sgp)
    return generate_pods([web], 1.0, np.random.default_rng(0))


# --- kube-scheduler's numbers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_nodes", "percentage", "expected"),
    [
        # schedule_one.go numFeasibleNodesToFind: all nodes below minFeasibleNodesToFind (100).
        (0, 0, 0),
        (1, 0, 1),
        (99, 0, 99),
        # Adaptive: 50 - n/125 percent, at least 5 %, at least 100 nodes.
        (100, 0, 100),  # 50 % = 50 -> 100
        (199, 0, 100),  # 49 % = 97 -> 100
        (250, 0, 120),  # 48 %
        (500, 0, 230),  # 46 %
        (1000, 0, 420),  # 42 %
        (5000, 0, 500),  # 10 % (the scheduler-perf-tuning page: 5000 nodes, 10 %)
        (5624, 0, 337),  # 50 - 44 = 6 %: 337.44 -> 337
        (6000, 0, 300),  # 50 - 48 = 2 -> 5 %
        (10000, 0, 500),  # 5 %
        # A configured percentage.
        (1000, 100, 1000),
        (1000, 30, 300),
        (500, 10, 100),  # 50 -> 100
        (50, 10, 50),
    ],
)
def test_num_feasible_nodes_to_find_pinned(n_nodes: int, percentage: int, expected: int) -> None:
    assert num_feasible_nodes_to_find(n_nodes, percentage) == expected


def test_kube_scheduler_defaults() -> None:
    # pkg/scheduler/apis/config/v1 defaults; scheduling_queue.go DefaultPodMaxInUnschedulable...
    assert (POD_INITIAL_BACKOFF_S, POD_MAX_BACKOFF_S) == (1.0, 10.0)
    assert POD_MAX_IN_UNSCHEDULABLE_PODS_S == 300.0


# --- hand-derived cases ----------------------------------------------------------------------


def test_reason_counts_every_resource_a_node_lacks_sorted_as_kube_does() -> None:
    # 12 nodes: 3 lack CPU, 9 are full of pods (2 of those also lack CPU), 1 is not Ready.
    cpu = [100] * 3 + [100] * 2 + [4000] * 7
    view = NodeView.empty(capacity(cpu, [8192] * 12, [10] * 3 + [0] * 9), [0] * 12, True, 1)
    view = view.with_ready([True] * 11 + [False])
    result = schedule(deployment_pods(1, 500, 64), view, rng=np.random.default_rng(0))
    assert result.node_index.tolist() == [-1]
    # The not-ready node reports only its taint (TaintToleration runs first); Go's
    # sort.Strings orders "10 ..." before "3 ...".
    assert result.reasons == (
        f"0/12 nodes are available: 1 {NOT_READY}, 5 Insufficient cpu, 8 Too many pods.",
    )


def test_no_nodes_message() -> None:
    view = NodeView.empty(capacity([], [], []), np.zeros(0, np.int64), True, 1)
    result = schedule(deployment_pods(2, 100, 64), view, rng=np.random.default_rng(0))
    assert result.reasons == ("no nodes available to schedule pods",) * 2
    assert result.node_index.tolist() == [-1, -1]


def test_a_pod_that_fills_a_node_exactly_fits() -> None:
    # m5.large allocatable (1930 m, 7518 MiB): a 1930 m / 7518 Mi pod fits (requests <=
    # allocatable - requested); the next one finds no room.
    view = NodeView.empty(capacity([1930], [7518], [29]), [0], True, 1)
    result = schedule(deployment_pods(2, 1930, 7518), view, rng=np.random.default_rng(0))
    assert result.node_index.tolist() == [0, -1]
    assert (
        result.reasons[1] == "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."
    )


def test_pod_eni_filter_for_security_group_pods() -> None:
    view = NodeView.empty(capacity([2000, 2000], [8192] * 2, [29] * 2, [0, 1]), [0, 1], True, 1)
    result = schedule(deployment_pods(2, 10, 10, sgp=True), view, rng=np.random.default_rng(0))
    assert result.node_index.tolist() == [1, -1]
    assert result.reasons[1] == (
        "0/2 nodes are available: 2 Insufficient vpc.amazonaws.com/pod-eni."
    )


def test_least_allocated_spreads_most_allocated_packs() -> None:
    # Node 0 already runs a 1000m / 4096 MiB pod (another workload); node 1 is empty.
    # LeastAllocated for a 100m / 128 MiB pod: node 0 cpu (2000-1100)*100/2000 = 45, memory
    # (8192-4224)*100/8192 = 48 -> 46; node 1: 95, 98 -> 96. Node 1 wins.
    view = NodeView.empty(capacity([2000] * 2, [8192] * 2, [29] * 2), [0, 0], True, 2)
    other = generate_pods(
        [Deployment("web", 0), Deployment("big", 1, Resources(1000, 4096))],
        1.0,
        np.random.default_rng(0),
    )
    view = view.bind(other, [0])
    pod = deployment_pods(1, 100, 128)
    assert schedule(pod, view, rng=np.random.default_rng(0)).node_index.tolist() == [1]
    assert schedule(
        pod, view, rng=np.random.default_rng(0), scoring="MostAllocated"
    ).node_index.tolist() == [0]


def test_spread_breaks_a_resource_tie_toward_the_emptier_zone() -> None:
    # Three identical nodes, two in zone 0 (node 0 runs one web pod), one in zone 1.
    # Resources: the pod fits all; node 0 scores a little lower on resources too, so compare
    # nodes 1 and 2, equal on resources. Spread raw (hostname weight ln 5, zone weight ln 4):
    # node 1: 0 x ln5 + 2 + 1 x ln4 + 4 = 7.39 -> 7; node 2: 0 + 2 + 0 + 4 = 6.
    # Node 0: ln5 + 2 + ln4 + 4 = 9.0 -> 9. Normalized 100 (max + min - s) / max, max 9,
    # min 6: node 1 -> 100 x 8 / 9 = 88, node 2 -> 100. Node 2 wins by 2 x 12.
    view = NodeView.empty(capacity([4000] * 3, [16384] * 3, [50] * 3), [0, 0, 1], True, 1)
    view = view.bind(deployment_pods(1, 0, 0), [0])
    result = schedule(deployment_pods(1, 0, 0), view, rng=np.random.default_rng(0))
    assert result.node_index.tolist() == [2]


def test_job_pods_get_no_spread() -> None:
    # Nodes 1 and 2 each run one pod without requests (a web pod on 1, a Job pod on 2), so a
    # new Job pod without requests sees equal NodeResourcesFit scores there (node 0, with two
    # web pods, scores lower). With no default spread for Jobs the tie goes either way; a
    # spread among the Job's pods would always pick node 1.
    view = NodeView.empty(capacity([4000] * 3, [16384] * 3, [50] * 3), [0, 0, 1], True, 2)
    pods = generate_pods(
        [Deployment("web", 3), JobStream("batch", 50.0, Lifetime("fixed", 1.0))],
        1.0,
        np.random.default_rng(1),
    )
    web = np.flatnonzero(pods.workload == 0)
    jobs = np.flatnonzero(pods.workload == 1)
    view = view.bind(pods.take([*web, jobs[0]]), [0, 0, 1, 2])
    one_job = pods.take(jobs[1:2])
    assert WORKLOAD_KINDS[int(one_job.kind[0])] == "JobStream"
    picks = {
        int(schedule(one_job, view, rng=np.random.default_rng(seed)).node_index[0])
        for seed in range(40)
    }
    assert picks == {1, 2}


def test_start_index_rotates_past_the_nodes_examined() -> None:
    # 200 nodes that all fit: numFeasibleNodesToFind = 100; from start 150 the filter takes
    # 150..199 and 0..49, so the next cycle starts at 50; from 0 it takes 0..99 -> 100.
    view = NodeView.empty(capacity([4000] * 200, [16384] * 200, [50] * 200), [0] * 200, True, 1)
    pod = deployment_pods(1, 100, 100)
    assert schedule(pod, view, rng=np.random.default_rng(0)).next_start_node_index == 100
    wrapped = schedule(pod, view, rng=np.random.default_rng(0), start_node_index=150)
    assert wrapped.next_start_node_index == 50
    assert not 50 <= wrapped.node_index[0] < 150
    # Fewer fits than numFeasibleNodesToFind: every node examined, the start stays.
    small = NodeView.empty(capacity([4000] * 50, [16384] * 50, [50] * 50), [0] * 50, True, 1)
    assert (
        schedule(pod, small, rng=np.random.default_rng(0), start_node_index=7).next_start_node_index
        == 7
    )


def test_bind_and_unbind_round_trip() -> None:
    view = NodeView.empty(capacity([2000] * 2, [8192] * 2, [29] * 2), [0, 1], True, 1)
    pods = deployment_pods(3, 0, 100)
    bound = view.bind(pods, [0, 1, 1])
    assert bound.requested_pods.tolist() == [1, 2]
    assert bound.requested_cpu_millicores.tolist() == [0, 0]
    assert bound.nonzero_requested_cpu_millicores.tolist() == [100, 200]  # default 100m each
    assert bound.requested_memory_mib.tolist() == [100.0, 200.0]
    assert bound.workload_pods.tolist() == [[1], [2]]
    back = bound.unbind(pods, [0, 1, 1])
    assert back.requested_pods.tolist() == [0, 0]
    assert back.nonzero_requested_memory_mib.tolist() == [0.0, 0.0]
    with pytest.raises(InvalidSchedulerInputError, match="not bound"):
        view.unbind(pods.take([0]), [0])


def test_add_nodes_appends_empty_nodes_after_the_others() -> None:
    view = NodeView.empty(capacity([2000], [8192], [29]), [0], True, 1)
    view = view.bind(deployment_pods(2, 100, 100), [0, 0])
    grown = view.add_nodes(capacity([4000, 4000], [16384] * 2, [58] * 2), [1, 2], [True, False])
    assert len(grown) == 3
    assert grown.requested_pods.tolist() == [2, 0, 0]
    assert grown.workload_pods.tolist() == [[2], [0], [0]]
    assert grown.zone.tolist() == [0, 1, 2]
    assert grown.ready.tolist() == [True, True, False]
    assert grown.allocatable_pods.tolist() == [29, 58, 58]
    result = schedule(deployment_pods(1, 100, 100), grown, rng=np.random.default_rng(0))
    assert result.node_index.tolist() == [1]  # the empty Ready node in the emptier zone


def test_bad_input_raises_one_line_usage_errors() -> None:
    view = NodeView.empty(capacity([2000], [8192], [29]), [0], True, 1)
    pods = deployment_pods(1, 100, 100)
    rng = np.random.default_rng(0)
    assert issubclass(InvalidSchedulerInputError, UsageError)
    for call, words in (
        (lambda: schedule(pods, view, rng=rng, scoring="Balanced"), "scoring"),  # type: ignore[arg-type]
        (lambda: schedule(pods, view, rng=rng, percentage_of_nodes_to_score=101), "0..100"),
        (lambda: schedule(pods, view, rng=rng, start_node_index=-1), "negative"),
        (lambda: NodeView.empty(capacity([1], [1], [1]), [0, 1], True, 1), "one value per node"),
        (lambda: NodeView.empty(capacity([1], [1], [1]), [-1], True, 1), "zone"),
        (lambda: view.bind(pods, [3]), "outside"),
        (lambda: NodeView.empty(capacity([1], [1], [1]), [0], True, 0).bind(pods, [0]), "workload"),
        (lambda: PendingPods(initial_backoff_s=0), "backoff"),
        (lambda: schedule(pods, view, rng=0), "Generator"),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidSchedulerInputError, match=words) as caught:
            call()
        assert "\n" not in str(caught.value)


# --- the scheduling queue --------------------------------------------------------------------


def test_backoff_doubles_from_one_second_to_ten() -> None:
    queue = PendingPods()
    assert queue.backoff_s(np.arange(7)).tolist() == [0.0, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


@given(steps=st.lists(st.tuples(st.floats(0.0, 400.0), st.booleans()), min_size=1, max_size=40))
def test_queue_honours_backoff_and_the_five_minute_flush(
    steps: list[tuple[float, bool]],
) -> None:
    # One pod that always fails. Whatever the cluster changes, it is tried no earlier than
    # its backoff after its last attempt, and (once changes stop) 5 min after it at latest.
    queue = PendingPods()
    queue.add([0], now_s=0.0)
    now_s, last_attempt_s, failures = 0.0, None, 0
    for advance_s, change in steps:
        now_s += advance_s
        if change:
            queue.on_cluster_change(now_s)
        is_due = queue.next_due_s() <= now_s
        due = queue.pop_due(now_s)
        assert due.size == is_due
        if due.size:
            if last_attempt_s is not None:
                assert now_s >= last_attempt_s + float(queue.backoff_s(failures))
            queue.unschedulable(due, now_s)
            last_attempt_s, failures = now_s, failures + 1
        assert len(queue) == 1
        assert queue.next_due_s() <= (last_attempt_s or 0.0) + 300.0


def test_unschedulable_pods_wait_for_a_change_or_five_minutes() -> None:
    queue = PendingPods()
    queue.add([1, 2], now_s=0.0)
    assert queue.pop_due(0.0).tolist() == [1, 2]
    queue.unschedulable([1], now_s=0.0)
    queue.bound([2])
    assert len(queue) == 1
    assert queue.next_due_s() == 300.0  # nothing changes: the 5 min flush
    assert queue.pop_due(299.9).tolist() == []
    assert queue.pop_due(300.0).tolist() == [1]
    queue.unschedulable([1], now_s=300.0)  # second failure: backoff 2 s
    queue.on_cluster_change(now_s=300.5)
    assert queue.next_due_s() == 302.0
    queue.on_cluster_change(now_s=301.0)  # not waiting any more: no change
    assert queue.next_due_s() == 302.0
    assert queue.pop_due(302.0).tolist() == [1]
    queue.unschedulable([1], now_s=302.0)  # third failure: 4 s, but the change comes later
    queue.on_cluster_change(now_s=320.0)
    assert queue.next_due_s() == 320.0
    queue.add([3], now_s=310.0)
    assert queue.pop_due(320.0).tolist() == [1, 3]  # oldest timestamp first (302 < 310)


def test_queue_refuses_inconsistent_calls() -> None:
    queue = PendingPods()
    queue.add([1], now_s=0.0)
    with pytest.raises(InvalidSchedulerInputError, match="already pending"):
        queue.add([1], now_s=0.0)
    with pytest.raises(InvalidSchedulerInputError, match="not taken"):
        queue.unschedulable([1], now_s=0.0)
    with pytest.raises(InvalidSchedulerInputError, match="not taken"):
        queue.bound([5])
    assert PendingPods().next_due_s() == math.inf


# --- the reference and the invariants --------------------------------------------------------


@dataclass
class RefNode:
    ready: bool
    zone: int
    alloc_cpu: int
    alloc_mem: int  # bytes
    alloc_pods: int
    alloc_enis: int
    cpu: int = 0
    mem: int = 0
    nonzero_cpu: int = 0
    nonzero_mem: int = 0
    pods: int = 0
    enis: int = 0


def node_reasons(nd: RefNode, cpu: int, mem: int, eni: bool) -> list[str]:
    """Why a node rejects a pod: TaintToleration first, then every NodeResourcesFit lack."""
    if not nd.ready:
        return [NOT_READY]
    out = []
    if nd.pods + 1 > nd.alloc_pods:
        out.append("Too many pods")
    if cpu > 0 and cpu > nd.alloc_cpu - nd.cpu:
        out.append("Insufficient cpu")
    if mem > 0 and mem > nd.alloc_mem - nd.mem:
        out.append("Insufficient memory")
    if eni and nd.alloc_enis - nd.enis < 1:
        out.append("Insufficient vpc.amazonaws.com/pod-eni")
    return out


def reference_schedule(
    pods: PodTable, view: NodeView, rng: np.random.Generator, scoring: str, start: int
) -> tuple[list[int], list[str], int]:
    """kube-scheduler's cycle transcribed node by node (schedule_one.go and the plugins)."""
    n = len(view)
    nodes = [
        RefNode(
            bool(view.ready[j]),
            int(view.zone[j]),
            int(view.allocatable_cpu_millicores[j]),
            int(view.allocatable_memory_mib[j]) * MIB,
            int(view.allocatable_pods[j]),
            int(view.allocatable_pod_enis[j]),
            int(view.requested_cpu_millicores[j]),
            round(float(view.requested_memory_mib[j]) * MIB),
            int(view.nonzero_requested_cpu_millicores[j]),
            round(float(view.nonzero_requested_memory_mib[j]) * MIB),
            int(view.requested_pods[j]),
            int(view.requested_pod_enis[j]),
        )
        for j in range(n)
    ]
    counts = [[int(c) for c in row] for row in view.workload_pods]
    k = num_feasible_nodes_to_find(n)
    placed, reasons = [], []
    for i in range(len(pods)):
        cpu, mem = int(pods.cpu_millicores[i]), round(float(pods.memory_mib[i]) * MIB)
        eni, w = bool(pods.security_groups[i]), int(pods.workload[i])

        found, examined = [], 0
        for step in range(n):
            j = (start + step) % n
            examined += 1
            if not node_reasons(nodes[j], cpu, mem, eni):
                found.append(j)
                if len(found) == k:
                    break
        start = (start + examined) % n if n else 0
        if not found:
            if n == 0:
                reasons.append("no nodes available to schedule pods")
            else:
                histogram: dict[str, int] = {}
                for nd in nodes:
                    for r in node_reasons(nd, cpu, mem, eni):
                        histogram[r] = histogram.get(r, 0) + 1
                parts = sorted(f"{v} {r}" for r, v in histogram.items())
                reasons.append(f"0/{n} nodes are available: {', '.join(parts)}.")
            placed.append(-1)
            continue
        if len(found) == 1:
            choice = found[0]
        else:
            zones = {nodes[j].zone for j in found}
            totals = {}
            for j in found:
                nd = nodes[j]
                pairs = [
                    (nd.alloc_cpu, nd.nonzero_cpu + (cpu or 100), nd.cpu + cpu),
                    (nd.alloc_mem, nd.nonzero_mem + (mem or 200 * MIB), nd.mem + mem),
                ]
                fit, weights, fractions = 0, 0, []
                for alloc, nonzero, plain in pairs:
                    if alloc == 0:
                        continue
                    if scoring == "LeastAllocated":
                        fit += 0 if nonzero > alloc else (alloc - nonzero) * 100 // alloc
                    else:
                        fit += min(nonzero, alloc) * 100 // alloc
                    weights += 1
                    fractions.append(min(plain / alloc, 1.0))
                total = fit // weights if weights else 0
                if cpu or mem:
                    std = abs((fractions[0] - fractions[1]) / 2) if len(fractions) == 2 else 0.0
                    total += int((1 - std) * 100.0)
                totals[j] = total
            if WORKLOAD_KINDS[int(pods.kind[i])] == "Deployment":
                raw = {}
                for j in found:
                    zone_count = sum(
                        counts[m][w] for m in range(n) if nodes[m].zone == nodes[j].zone
                    )
                    score = counts[j][w] * math.log(len(found) + 2) + 2
                    score += zone_count * math.log(len(zones) + 2) + 4
                    raw[j] = math.floor(score + 0.5)
                high, low = max(raw.values()), min(raw.values())
                for j in found:
                    totals[j] += 2 * (100 * (high + low - raw[j]) // high)
            best = max(totals.values())
            ties = sorted(j for j in found if totals[j] == best)
            choice = ties[int(rng.integers(len(ties)))] if len(ties) > 1 else ties[0]
        nd = nodes[choice]
        nd.pods += 1
        nd.cpu += cpu
        nd.mem += mem
        nd.nonzero_cpu += cpu or 100
        nd.nonzero_mem += mem or 200 * MIB
        nd.enis += eni
        counts[choice][w] += 1
        placed.append(choice)
        reasons.append("")
    return placed, reasons, start


@st.composite
def clusters(draw: st.DrawFn) -> tuple[NodeView, PodTable, int]:
    # Small clusters, or 105-140 nodes nearly all Ready with room for many pods, so that more
    # nodes fit than numFeasibleNodesToFind (100) and the filter stops early (and wraps).
    # Capacities are multiples of the requests, so pods fill nodes exactly to the limit.
    big = draw(st.booleans())
    n = draw(st.integers(105, 140)) if big else draw(st.integers(0, 12))
    n_zones = draw(st.integers(1, 3))

    def per_node(values: list[int]) -> NDArray[np.int64]:
        return np.array(draw(st.lists(st.sampled_from(values), min_size=n, max_size=n)))

    cap = NodeCapacity(
        per_node([4000, 8000] if big else [0, 500, 2000, 4000]),
        per_node([14000, 28000] if big else [0, 1400, 7000, 14000]),
        per_node([110] if big else [0, 1, 2, 3, 6]),
        per_node([0, 1, 2]),
    )
    if big:
        not_ready = draw(st.lists(st.integers(0, n - 1), max_size=3))
        ready = [j not in not_ready for j in range(n)]
    else:
        ready = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    zone = draw(st.lists(st.integers(0, n_zones - 1), min_size=n, max_size=n))
    requests = st.builds(
        Resources, st.sampled_from([0.0, 100.0, 249.5, 1000.0]), st.sampled_from([0.0, 70.0, 700.0])
    )
    workloads = [
        Deployment(
            "web", draw(st.integers(0, 40)), draw(requests), security_groups=draw(st.booleans())
        ),
        Deployment("api", draw(st.integers(0, 40)), draw(requests)),
        JobStream("batch", draw(st.floats(0.0, 20.0)), Lifetime("fixed", 10.0), draw(requests)),
    ]
    pods = generate_pods(workloads, 2.0, np.random.default_rng(draw(st.integers(0, 99))))
    view = NodeView.empty(cap, zone, True, len(workloads)).with_ready(ready)
    # Some pods already running, bound anywhere (as DaemonSets and earlier cycles left them).
    n_pre = draw(st.integers(0, min(len(pods), 2 * n)))
    if n_pre and n:
        view = view.bind(pods.take(np.arange(n_pre)), np.arange(n_pre) % n)
    return view, pods.take(np.arange(n_pre, len(pods))), draw(st.integers(0, 200))


@settings(max_examples=60, deadline=None)
@given(case=clusters(), seed=st.integers(0, 2**32 - 1), most=st.booleans())
def test_schedule_agrees_with_the_reference(
    case: tuple[NodeView, PodTable, int], seed: int, most: bool
) -> None:
    view, pods, start = case
    scoring = "MostAllocated" if most else "LeastAllocated"
    result = schedule(
        pods, view, rng=np.random.default_rng(seed), scoring=scoring, start_node_index=start
    )
    placed, reasons, next_start = reference_schedule(
        pods, view, np.random.default_rng(seed), scoring, start % len(view) if len(view) else 0
    )
    assert result.node_index.tolist() == placed
    assert list(result.reasons) == reasons
    assert result.next_start_node_index == next_start


@settings(max_examples=60, deadline=None)
@given(case=clusters(), seed=st.integers(0, 2**32 - 1))
def test_schedule_never_overcommits_and_mutates_nothing(
    case: tuple[NodeView, PodTable, int], seed: int
) -> None:
    view, pods, start = case
    before = {
        name: np.array(getattr(view, name))
        for name in (
            "requested_pods",
            "requested_cpu_millicores",
            "requested_memory_mib",
            "workload_pods",
        )
    }
    result = schedule(pods, view, rng=np.random.default_rng(seed), start_node_index=start)
    again = schedule(pods, view, rng=np.random.default_rng(seed), start_node_index=start)
    np.testing.assert_array_equal(result.node_index, again.node_index)  # same seed, same result
    for name, values in before.items():
        np.testing.assert_array_equal(getattr(view, name), values)
    bound = result.bound
    nodes = result.node_index[bound]
    assert np.all(view.ready[nodes])  # bound only to Ready nodes
    after = view.bind(pods.take(bound), nodes)
    if len(view):
        # A node may already be over (the pods bound before came from anywhere); it never
        # gets a new pod unless that pod fits.
        for field, alloc in (
            ("requested_pods", view.allocatable_pods),
            ("requested_cpu_millicores", view.allocatable_cpu_millicores),
            ("requested_memory_mib", view.allocatable_memory_mib),
            ("requested_pod_enis", view.allocatable_pod_enis),
        ):
            grew = getattr(after, field) > getattr(view, field)
            assert np.all(getattr(after, field)[grew] <= alloc[grew]), field
    for i in np.flatnonzero(~bound):
        assert result.reasons[i].startswith(("0/", "no nodes"))
    assert all(reason == "" for reason, b in zip(result.reasons, bound, strict=True) if b)


# --- the incremental state -------------------------------------------------------------------


def assert_same_state(state: ClusterState, view: NodeView) -> None:
    rebuilt = ClusterState.from_view(view)
    np.testing.assert_array_equal(state.nodes, rebuilt.nodes)
    np.testing.assert_array_equal(state.workload_pods, rebuilt.workload_pods)
    np.testing.assert_array_equal(state.zone_pods, rebuilt.zone_pods)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_state_kept_in_place_equals_one_rebuilt_and_decides_the_same(data: st.DataObject) -> None:
    # One ClusterState changed in place and one NodeView copied at each change, through the
    # same random nodes joining, readiness changes, binds, unbinds and scheduling passes: the
    # state always equals one rebuilt from the view, and its schedule() (score cache warm
    # from the calls before) decides as schedule() on the view does, draw for draw.
    requests = st.builds(
        Resources, st.sampled_from([0.0, 100.0, 700.0]), st.sampled_from([0.0, 70.0, 1400.0])
    )
    workloads = [
        Deployment("web", 60, data.draw(requests), security_groups=data.draw(st.booleans())),
        JobStream("batch", 30.0, Lifetime("fixed", 10.0), data.draw(requests)),
    ]
    pods = generate_pods(workloads, 2.0, np.random.default_rng(data.draw(st.integers(0, 99))))
    view = NodeView.empty(capacity([], [], []), np.zeros(0, np.int64), True, len(workloads))
    state = ClusterState(len(workloads))
    on_node = np.full(len(pods), -1)  # where each pod is bound, -1 if not
    seed = data.draw(st.integers(0, 2**32 - 1))
    view_rng, state_rng = np.random.default_rng(seed), np.random.default_rng(seed)
    start = 0
    ops = st.sampled_from(["add", "ready", "bind", "unbind", "schedule", "schedule"])
    for op in data.draw(st.lists(ops, min_size=5, max_size=30)):
        n = len(view)
        if op == "add":
            k = data.draw(st.integers(1, 4))
            cap = capacity(
                data.draw(st.lists(st.sampled_from([0, 1000, 4000]), min_size=k, max_size=k)),
                data.draw(st.lists(st.sampled_from([0, 2000, 8000]), min_size=k, max_size=k)),
                data.draw(st.lists(st.sampled_from([0, 2, 8]), min_size=k, max_size=k)),
                data.draw(st.lists(st.sampled_from([0, 1]), min_size=k, max_size=k)),
            )
            zone = data.draw(st.lists(st.integers(0, 3), min_size=k, max_size=k))
            ready = data.draw(st.lists(st.booleans(), min_size=k, max_size=k))
            view = view.add_nodes(cap, zone, ready)
            state.add_nodes(cap, zone, ready)
        elif op == "ready" and n:
            ready = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
            view = view.with_ready(ready)
            state.set_ready(ready)
        elif op == "bind" and n:
            free = np.flatnonzero(on_node < 0)
            ids = free[: data.draw(st.integers(0, min(5, free.size)))]
            nodes = np.array(
                data.draw(st.lists(st.integers(0, n - 1), min_size=ids.size, max_size=ids.size)),
                dtype=np.int64,
            )
            view = view.bind(pods.take(ids), nodes)
            state.bind(pods.take(ids), nodes)
            on_node[ids] = nodes
        elif op == "unbind":
            bound = np.flatnonzero(on_node >= 0)
            ids = bound[: data.draw(st.integers(0, min(5, bound.size)))]
            view = view.unbind(pods.take(ids), on_node[ids])
            state.unbind(pods.take(ids), on_node[ids])
            on_node[ids] = -1
        elif op == "schedule":
            unbound = np.flatnonzero(on_node < 0)  # Deployment pods first: mix them
            shuffle = np.random.default_rng(data.draw(st.integers(0, 99)))
            pending = shuffle.permutation(unbound)[: data.draw(st.integers(1, 8))]
            scoring = data.draw(st.sampled_from(["LeastAllocated", "MostAllocated"]))
            expected = schedule(
                pods.take(pending), view, rng=view_rng, scoring=scoring, start_node_index=start
            )
            result = state.schedule(
                pods.take(pending), rng=state_rng, scoring=scoring, start_node_index=start
            )
            assert result.node_index.tolist() == expected.node_index.tolist()
            assert result.reasons == expected.reasons
            assert result.next_start_node_index == expected.next_start_node_index
            assert_same_state(state, view)  # schedule() changed nothing
            start = result.next_start_node_index
            placed = pending[result.bound]
            view = view.bind(pods.take(placed), result.node_index[result.bound])
            state.bind(pods.take(placed), result.node_index[result.bound])
            on_node[placed] = result.node_index[result.bound]
        assert_same_state(state, view)
    assert view_rng.bit_generator.state == state_rng.bit_generator.state


def test_state_unbind_of_a_pod_not_there_changes_nothing() -> None:
    state = ClusterState.from_view(
        NodeView.empty(capacity([2000] * 2, [8192] * 2, [29] * 2), [0, 1], True, 1)
    )
    pods = deployment_pods(2, 100, 100)
    state.bind(pods.take([0]), [0])
    before = state.nodes.copy(), state.workload_pods.copy(), state.zone_pods.copy()
    with pytest.raises(InvalidSchedulerInputError, match="not bound"):
        state.unbind(pods, [0, 1])  # the first is there, the second not
    for array, old in zip((state.nodes, state.workload_pods, state.zone_pods), before, strict=True):
        np.testing.assert_array_equal(array, old)


def test_state_scores_follow_the_pods_bound_between_calls() -> None:
    # Two equal nodes; a Job pod at a time, each bound before the next call. LeastAllocated
    # sends each second pod to the emptier node, the one the pod before did not take (a
    # score kept from before a node got its pod would see a tie and pick at random).
    state = ClusterState.from_view(
        NodeView.empty(capacity([4000] * 2, [16384] * 2, [50] * 2), [0, 0], True, 1)
    )
    jobs = generate_pods(
        [JobStream("batch", 600.0, Lifetime("fixed", 1.0), Resources(100, 128))],
        1.0,
        np.random.default_rng(0),
    )
    rng = np.random.default_rng(0)
    placed = []
    for i in range(16):
        pod = jobs.take([i])
        result = state.schedule(pod, rng=rng)
        state.bind(pod, result.node_index)
        placed.append(int(result.node_index[0]))
    assert all(a != b for a, b in zip(placed[0::2], placed[1::2], strict=True)), placed


def test_queue_removes_deleted_pods() -> None:
    """Pods deleted while pending leave the queue, waiting or due; unknown ones are ignored."""
    queue = PendingPods()
    queue.add([1, 2, 3], now_s=0.0)
    assert queue.pop_due(0.0).tolist() == [1, 2, 3]
    queue.unschedulable([1, 2], now_s=0.0)
    queue.bound([3])
    queue.add([4], now_s=1.0)
    queue.remove([2, 4, 99])
    assert len(queue) == 1
    queue.on_cluster_change(now_s=5.0)
    assert queue.pop_due(5.0).tolist() == [1]
    queue.add([2], now_s=6.0)  # a removed pod may come back (it is no longer queued)
    assert len(queue) == 1
