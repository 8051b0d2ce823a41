"""Compiled kernels of the scheduler: kube-scheduler's cycle, pod by pod, over node arrays.

The same rules, in the same order, with the same draws as :mod:`cnisim.sim.scheduler`
states in its docstring (this module states only how it is laid out).
:class:`cnisim.sim.scheduler.ClusterState` owns the arrays and wraps these kernels.

Layout
------
``nodes``: int64, one row per node, columns :data:`READY` .. :data:`NONZERO_REQUESTED_MEM`
(memory in bytes, CPU in millicores, readiness 0 or 1). ``host_pods``: int64, (nodes,
workloads), each workload's pods on each node. ``zone_pods``: int64, (zones, workloads), the
same summed per zone. ``score_cache`` / ``score_stale``: int64 / bool, (pod shapes, nodes),
each node's NodeResourcesFit plus BalancedAllocation score for a pod of each shape (CPU,
memory, scoring), valid where not stale: a node's score changes only when a pod is bound to
it or leaves it, which marks its column stale. The tie-break draws come from a PCG64 state
array (:mod:`._rng`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray

from cnisim.sim import _rng

# columns of ``nodes``
READY = 0
ZONE = 1
ALLOCATABLE_CPU = 2
ALLOCATABLE_MEM = 3
ALLOCATABLE_PODS = 4
ALLOCATABLE_POD_ENIS = 5
REQUESTED_CPU = 6
REQUESTED_MEM = 7
REQUESTED_PODS = 8
REQUESTED_POD_ENIS = 9
NONZERO_REQUESTED_CPU = 10
NONZERO_REQUESTED_MEM = 11
N_COLUMNS = 12

# columns of the per-pod failure counts: nodes rejecting a pod, by reason
FAIL_NOT_READY = 0
FAIL_TOO_MANY_PODS = 1
FAIL_CPU = 2
FAIL_MEMORY = 3
FAIL_POD_ENI = 4
N_FAILURES = 5

DEFAULT_MILLI_CPU_REQUEST = 100  # util.DefaultMilliCPURequest
DEFAULT_MEMORY_REQUEST_BYTES = 200 * 2**20  # util.DefaultMemoryRequest
_MAX_NODE_SCORE = 100
# PodTopologySpread systemDefaultConstraints: maxSkew - 1 is added to each constraint's score.
_HOSTNAME_MAX_SKEW = 3
_ZONE_MAX_SKEW = 5
# default_plugins.go score weights (NodeResourcesFit and BalancedAllocation weigh 1).
_SPREAD_WEIGHT = 2


@njit(cache=True, inline="always")
def _assume(
    nodes: NDArray[np.int64],
    host_pods: NDArray[np.int64],
    zone_pods: NDArray[np.int64],
    j: int,
    cpu: int,
    mem: int,
    pod_eni: bool,
    w: int,
    sign: int,
) -> None:
    """Account one pod on node ``j`` (``sign`` 1), or take it off (-1)."""
    row = nodes[j]
    row[REQUESTED_CPU] += sign * cpu
    row[REQUESTED_MEM] += sign * mem
    row[REQUESTED_PODS] += sign
    row[REQUESTED_POD_ENIS] += sign * pod_eni
    row[NONZERO_REQUESTED_CPU] += sign * (cpu if cpu else DEFAULT_MILLI_CPU_REQUEST)
    row[NONZERO_REQUESTED_MEM] += sign * (mem if mem else DEFAULT_MEMORY_REQUEST_BYTES)
    host_pods[j, w] += sign
    zone_pods[row[ZONE], w] += sign


@njit(cache=True, inline="always")
def shift_one(
    nodes: NDArray[np.int64],
    host_pods: NDArray[np.int64],
    zone_pods: NDArray[np.int64],
    score_stale: NDArray[np.bool_],
    j: int,
    cpu: int,
    mem: int,
    pod_eni: bool,
    w: int,
    sign: int,
) -> None:
    """Bind (``sign`` 1) or unbind (-1) one pod on node ``j``: its cached scores go stale."""
    score_stale[:, j] = True
    _assume(nodes, host_pods, zone_pods, j, cpu, mem, pod_eni, w, sign)


SHIFTED = 0
NODE_OUT_OF_RANGE = 1
WORKLOAD_OUT_OF_RANGE = 2
NOT_BOUND_THERE = 3


@njit(cache=True)
def shift(
    nodes: NDArray[np.int64],
    host_pods: NDArray[np.int64],
    zone_pods: NDArray[np.int64],
    node_index: NDArray[np.int64],
    cpu: NDArray[np.int64],
    mem: NDArray[np.int64],
    pod_eni: NDArray[np.bool_],
    workload: NDArray[np.int64],
    sign: int,
    score_stale: NDArray[np.bool_],
) -> int:
    """Add (``sign`` 1) or remove (-1) pods on their nodes: :data:`SHIFTED`, or why not
    (the arrays then left as they were)."""
    for i in range(node_index.size):
        if not 0 <= node_index[i] < nodes.shape[0]:
            return NODE_OUT_OF_RANGE
        if not 0 <= workload[i] < host_pods.shape[1]:
            return WORKLOAD_OUT_OF_RANGE
    negative = False
    for i in range(node_index.size):
        j = node_index[i]
        shift_one(
            nodes,
            host_pods,
            zone_pods,
            score_stale,
            j,
            cpu[i],
            mem[i],
            pod_eni[i],
            workload[i],
            sign,
        )
        negative |= nodes[j, REQUESTED_PODS] < 0 or host_pods[j, workload[i]] < 0
    if not negative:
        return SHIFTED
    for i in range(node_index.size):
        j = node_index[i]
        _assume(nodes, host_pods, zone_pods, j, cpu[i], mem[i], pod_eni[i], workload[i], -sign)
    return NOT_BOUND_THERE


@njit(cache=True, inline="always")
def _fits(nodes: NDArray[np.int64], j: int, cpu: int, mem: int, pod_eni: bool) -> bool:
    """TaintToleration (Ready) and NodeResourcesFit's filter (a zero request is not checked)."""
    row = nodes[j]
    return (
        row[READY] != 0
        and row[REQUESTED_PODS] < row[ALLOCATABLE_PODS]
        and (cpu == 0 or row[ALLOCATABLE_CPU] - row[REQUESTED_CPU] >= cpu)
        and (mem == 0 or row[ALLOCATABLE_MEM] - row[REQUESTED_MEM] >= mem)
        and (not pod_eni or row[REQUESTED_POD_ENIS] < row[ALLOCATABLE_POD_ENIS])
    )


@njit(cache=True, inline="always")
def _resource_score(nodes: NDArray[np.int64], j: int, cpu: int, mem: int, least: bool) -> np.int64:
    """NodeResourcesFit (weight 1) plus BalancedAllocation (weight 1) of node ``j``."""
    row = nodes[j]
    cpu_scored = row[ALLOCATABLE_CPU] > 0
    mem_scored = row[ALLOCATABLE_MEM] > 0
    cpu_divisor = max(row[ALLOCATABLE_CPU], 1)
    mem_divisor = max(row[ALLOCATABLE_MEM], 1)
    cpu_spare = max(
        row[ALLOCATABLE_CPU]
        - row[NONZERO_REQUESTED_CPU]
        - (cpu if cpu else DEFAULT_MILLI_CPU_REQUEST),
        0,
    )
    mem_spare = max(
        row[ALLOCATABLE_MEM]
        - row[NONZERO_REQUESTED_MEM]
        - (mem if mem else DEFAULT_MEMORY_REQUEST_BYTES),
        0,
    )
    if least:
        cpu_score = cpu_spare * _MAX_NODE_SCORE // cpu_divisor
        mem_score = mem_spare * _MAX_NODE_SCORE // mem_divisor
    else:
        cpu_score = (cpu_divisor - cpu_spare) * _MAX_NODE_SCORE // cpu_divisor
        mem_score = (mem_divisor - mem_spare) * _MAX_NODE_SCORE // mem_divisor
    n_scored = max(np.int64(cpu_scored) + np.int64(mem_scored), 1)
    total = (cpu_score * cpu_scored + mem_score * mem_scored) // n_scored
    if cpu or mem:
        cpu_frac = min((row[REQUESTED_CPU] + cpu) / cpu_divisor, 1.0)
        mem_frac = min((row[REQUESTED_MEM] + mem) / mem_divisor, 1.0)
        std = abs((cpu_frac - mem_frac) / 2) if cpu_scored and mem_scored else 0.0
        total += np.int64((1 - std) * _MAX_NODE_SCORE)
    return np.int64(total)


@njit(cache=True)
def schedule_pods(
    nodes: NDArray[np.int64],
    host_pods: NDArray[np.int64],
    zone_pods: NDArray[np.int64],
    pod_cpu: NDArray[np.int64],
    pod_mem: NDArray[np.int64],
    pod_eni: NDArray[np.bool_],
    pod_workload: NDArray[np.int64],
    pod_spread: NDArray[np.bool_],
    pod_shape: NDArray[np.int64],
    score_cache: NDArray[np.int64],
    score_stale: NDArray[np.bool_],
    n_to_find: int,
    start: int,
    least: bool,
    rng_state: NDArray[np.uint64],
    out_node: NDArray[np.int64],
    out_failures: NDArray[np.int64],
) -> int:
    """Decide every pod in turn, each seeing the ones before it on their nodes; the next start.

    ``out_node`` gets each pod's node or -1, ``out_failures`` (pods x :data:`N_FAILURES`)
    the nodes rejecting each unplaced pod, by reason. The pods are assumed onto their nodes
    in the arrays as the scheduler cache does, and taken off again before the return, so the
    arrays come back as they were (the score cache only fills in).
    """
    n_nodes = nodes.shape[0]
    n_zones = zone_pods.shape[0]
    walk = np.empty(n_nodes, dtype=np.int64)
    scores = np.empty(n_nodes, dtype=np.int64)
    raw = np.empty(n_nodes, dtype=np.int64)
    tied = np.empty(n_nodes, dtype=np.int64)  # walk indices of the nodes with the best score
    zone_seen = np.zeros(n_zones, dtype=np.bool_)
    assumed = np.zeros(n_nodes, dtype=np.bool_)  # nodes whose cached scores do not hold now
    n_assumed = 0
    # Per pod shape and pod-ENI request: the last pod of it that fit nowhere, and how many
    # pods had been assumed then; with none since, a pod of it fits nowhere either, for the
    # same reasons (pending pods are often many copies of one pod).
    n_keys = 2 * (score_cache.shape[0] + 1)
    failed_pod = np.full(n_keys, -1, dtype=np.int64)
    failed_at = np.full(n_keys, -1, dtype=np.int64)
    for i in range(pod_cpu.size):
        cpu = pod_cpu[i]
        mem = pod_mem[i]
        eni = pod_eni[i]
        w = pod_workload[i]
        key = 2 * pod_shape[i] + eni
        if failed_at[key] == n_assumed:
            out_node[i] = -1
            out_failures[i] = out_failures[failed_pod[key]]
            continue
        # Filter from `start` round the node list up to n_to_find fits; one fit more means
        # the filter stopped early, and the next cycle starts after the last one taken. Each
        # node found is scored as it is found (in walk order), keeping the best score and the
        # nodes that have it. (Written out here, not in a function: numba compiled the loop
        # 7x slower through one.)
        shape = pod_shape[i]
        n_found = 0
        more = False
        best = np.int64(-1)
        n_tied = 0
        n_head = -1  # nodes found before the walk wrapped to node 0 (-1: it did not)
        j = start
        for _ in range(n_nodes):
            if _fits(nodes, j, cpu, mem, eni):
                if n_found == n_to_find:
                    more = True
                    break
                walk[n_found] = j
                if assumed[j]:
                    score = _resource_score(nodes, j, cpu, mem, least)
                else:
                    if score_stale[shape, j]:
                        score_cache[shape, j] = _resource_score(nodes, j, cpu, mem, least)
                        score_stale[shape, j] = False
                    score = score_cache[shape, j]
                scores[n_found] = score
                if score > best:
                    best, n_tied = score, 0
                if score == best:
                    tied[n_tied] = n_found
                    n_tied += 1
                n_found += 1
            j += 1
            if j == n_nodes:
                j = 0
                n_head = n_found
        if n_found == 0:
            out_node[i] = -1
            for k in range(n_nodes):
                row = nodes[k]
                if row[READY] == 0:
                    out_failures[i, FAIL_NOT_READY] += 1
                    continue
                if row[REQUESTED_PODS] >= row[ALLOCATABLE_PODS]:
                    out_failures[i, FAIL_TOO_MANY_PODS] += 1
                if cpu and row[ALLOCATABLE_CPU] - row[REQUESTED_CPU] < cpu:
                    out_failures[i, FAIL_CPU] += 1
                if mem and row[ALLOCATABLE_MEM] - row[REQUESTED_MEM] < mem:
                    out_failures[i, FAIL_MEMORY] += 1
                if eni and row[REQUESTED_POD_ENIS] >= row[ALLOCATABLE_POD_ENIS]:
                    out_failures[i, FAIL_POD_ENI] += 1
            failed_pod[key] = i
            failed_at[key] = n_assumed
            continue
        if more:
            start = walk[n_found - 1] + 1
            if start == n_nodes:
                start = 0
        if n_found > 1 and pod_spread[i]:
            # PodTopologySpread's system defaults, normalized (scoring.go): weights
            # log(domains + 2), the hostname domains the nodes scored, the zone domains
            # the zones among them; Go's math.Round on x >= 0 is floor(x + 0.5).
            zone_seen[:] = False
            n_zone_domains = 0
            for k in range(n_found):
                z = nodes[walk[k], ZONE]
                if not zone_seen[z]:
                    zone_seen[z] = True
                    n_zone_domains += 1
            host_weight = math.log(n_found + 2)
            zone_weight = math.log(n_zone_domains + 2)
            low = np.int64(0)
            high = np.int64(0)
            for k in range(n_found):
                c = walk[k]
                value = (host_pods[c, w] * host_weight + (_HOSTNAME_MAX_SKEW - 1)) + (
                    zone_pods[nodes[c, ZONE], w] * zone_weight + (_ZONE_MAX_SKEW - 1)
                )
                raw[k] = math.floor(value + 0.5)
                if k == 0 or raw[k] < low:
                    low = raw[k]
                if k == 0 or raw[k] > high:
                    high = raw[k]
            best = np.int64(-1)
            for k in range(n_found):
                scores[k] += _MAX_NODE_SCORE * (high + low - raw[k]) // high * _SPREAD_WEIGHT
                if scores[k] > best:
                    best, n_tied = scores[k], 0
                if scores[k] == best:
                    tied[n_tied] = k
                    n_tied += 1
        node = walk[tied[0]]
        if n_found > 1 and n_tied > 1:
            # The pick-th of the tied nodes in node order. The walk wraps once at most: node
            # order is walk[n_head:], then walk[:n_head], and so for the tied (in walk order).
            if n_head < 0:
                n_head = n_found
            tied_head = np.searchsorted(tied[:n_tied], n_head)
            n_tied_tail = n_tied - tied_head
            pick = _rng.integers(rng_state, n_tied)
            node = walk[tied[tied_head + pick if pick < n_tied_tail else pick - n_tied_tail]]
        out_node[i] = node
        assumed[node] = True
        n_assumed += 1
        _assume(nodes, host_pods, zone_pods, node, cpu, mem, eni, w, 1)
    for i in range(pod_cpu.size):
        if out_node[i] >= 0:
            _assume(
                nodes,
                host_pods,
                zone_pods,
                out_node[i],
                pod_cpu[i],
                pod_mem[i],
                pod_eni[i],
                pod_workload[i],
                -1,
            )
    return start


# ---------------------------------------------------------------------- the scheduling queue
# PendingPods' rows: pod, queue-order timestamp [s], when due [s], failed attempts, and whether
# it waits for a cluster change (unschedulable); ``q_n`` holds the row count and how many wait.
Q_N = 0
Q_N_WAITING = 1


@njit(cache=True)
def backoff_s(attempts: int, initial_s: float, max_s: float) -> float:
    """scheduling_queue.go ``calculateBackoffDuration``: 0, then ``initial_s`` doubling per
    failed attempt up to ``max_s`` [s]."""
    if attempts <= 0:
        return 0.0
    return min(initial_s * 2.0 ** (attempts - 1), max_s)


@njit(cache=True)
def queue_push(
    q_pod: NDArray[np.int64],
    q_ts: NDArray[np.float64],
    q_due: NDArray[np.float64],
    q_attempts: NDArray[np.int64],
    q_waiting: NDArray[np.bool_],
    q_n: NDArray[np.int64],
    pod: int,
    timestamp_s: float,
    due_s: float,
    attempts: int,
    waiting: bool,
) -> None:
    """Append one row (the caller makes room)."""
    r = q_n[Q_N]
    q_n[Q_N] = r + 1
    q_pod[r] = pod
    q_ts[r] = timestamp_s
    q_due[r] = due_s
    q_attempts[r] = attempts
    q_waiting[r] = waiting
    if waiting:
        q_n[Q_N_WAITING] += 1


@njit(cache=True)
def queue_pop_due(
    q_pod: NDArray[np.int64],
    q_ts: NDArray[np.float64],
    q_due: NDArray[np.float64],
    q_attempts: NDArray[np.int64],
    q_waiting: NDArray[np.bool_],
    q_n: NDArray[np.int64],
    now_s: float,
    out_pod: NDArray[np.int64],
    out_attempts: NDArray[np.int64],
) -> int:
    """Take the rows due at ``now_s`` out, into ``out_pod`` / ``out_attempts`` in queue order
    (oldest timestamp first, then pod id); how many. The rows left keep their order."""
    n = q_n[Q_N]
    n_out = 0
    n_kept = 0
    ts = np.empty(n, dtype=np.float64)
    for r in range(n):
        if q_due[r] <= now_s:
            out_pod[n_out] = q_pod[r]
            out_attempts[n_out] = q_attempts[r]
            ts[n_out] = q_ts[r]
            n_out += 1
            if q_waiting[r]:
                q_n[Q_N_WAITING] -= 1
        else:
            q_pod[n_kept] = q_pod[r]
            q_ts[n_kept] = q_ts[r]
            q_due[n_kept] = q_due[r]
            q_attempts[n_kept] = q_attempts[r]
            q_waiting[n_kept] = q_waiting[r]
            n_kept += 1
    q_n[Q_N] = n_kept
    if n_out > 1:
        by_pod = np.argsort(out_pod[:n_out], kind="mergesort")
        order = by_pod[np.argsort(ts[:n_out][by_pod], kind="mergesort")]
        out_pod[:n_out] = out_pod[:n_out][order]
        out_attempts[:n_out] = out_attempts[:n_out][order]
    return n_out


@njit(cache=True)
def queue_on_change(
    q_ts: NDArray[np.float64],
    q_due: NDArray[np.float64],
    q_attempts: NDArray[np.int64],
    q_waiting: NDArray[np.bool_],
    q_n: NDArray[np.int64],
    now_s: float,
    initial_s: float,
    max_s: float,
) -> None:
    """A cluster change: each waiting row is due at the end of its backoff, or now."""
    if q_n[Q_N_WAITING] == 0:
        return
    q_n[Q_N_WAITING] = 0
    for r in range(q_n[Q_N]):
        if q_waiting[r]:
            q_due[r] = max(q_ts[r] + backoff_s(q_attempts[r], initial_s, max_s), now_s)
            q_waiting[r] = False
