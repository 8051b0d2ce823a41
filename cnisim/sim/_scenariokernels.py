"""Compiled kernels of a cluster run's ticks (:mod:`cnisim.sim.scenario` states the rules).

Between two of the run's stops (a controller, a node group or a boot due, a node not
settled), every tick does the same few things: pods whose life ended leave their node, new
pods join the scheduling queue, and the scheduler places the pods due, each binding queueing
the pod's ADD at the next tick and its DEL at its end; at a sample tick the scenario's series
are sampled last. :func:`advance` runs those ticks in one call, on the run's own arrays,
instead of a few dozen numpy calls per tick in Python.

Layout
------
Per pod (the run's pod store, row = pod id): ``created_s``, ``lifetime_s``, ``deleted_s``,
``bound_s``, ``pod_node``, ``needs_address``, ``security_groups``, ``cpu`` [millicores],
``memory_mib``, ``workload``, ``kind``, ``shape`` (its row of the scheduler's score cache),
``offloaded`` (taken by a claimer such as Fargate: never queued), ``fail`` (the last failed
attempt: nodes then, and the nodes rejecting it by reason, as
:data:`cnisim.sim._schedulerkernels.N_FAILURES` columns; -1 if none), and ``pod_next`` /
``pod_prev``, each node's bound pods as a doubly linked list from ``node_first``.
The scheduler's cache is :class:`cnisim.sim.scheduler.ClusterState`'s arrays, the queue
:class:`cnisim.sim.scheduler.PendingPods`' rows. Pods with a finite life wait in a binary
min-heap ``heap_s`` / ``heap_pod`` keyed (end [s], pod). Bindings write engine events (time,
node, delta, pod, branch) in the order the engine is to queue them. ``ctr`` holds the
counters below.

Samples (:func:`sample`): per node its group ``node_group``, ``node_launch_s``, ``node_gone``
and ``node_ready``; the clock ``clock`` (the next sample [s], the sampling period [s]); per
sample its time ``smp_s``, a row of ``smp`` (the SM_* columns) and the snapshot of every
node's bound pods with an address in ``snap`` from ``snap_start`` (as many as nodes then). The
pods waiting for an address at a sample come later, from the engine's own node samples at the
same time (:meth:`cnisim.sim.scenario.ClusterRun.ip_waiting`); ``snap_start`` has one entry
more, where the last snapshot ends.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray

from cnisim.sim import _schedulerkernels as _k
from cnisim.sim._enginekernels import first_tick, next_sample

# ``ctr``: heap size, next generated pod to arrive, kube-scheduler's nextStartNodeIndex, events
# written, samples taken, snapshot entries written
HEAP_N = 0
I_ARRIVAL = 1
START = 2
N_EVENTS = 3
N_SAMPLES = 4
N_SNAP = 5
N_CTR = 6
# ``smp`` columns: pods pending, pods unschedulable, then per group (n_groups columns each)
# nodes launched and not gone, those Ready, and pods bound to them
SM_PENDING = 0
SM_UNSCHEDULABLE = 1
SM_GROUPS = 2

_MIB_BYTES = 2**20


# ---------------------------------------------------------------------- the ends heap
@njit(cache=True, inline="always")
def _before(t1: float, p1: int, t2: float, p2: int) -> bool:
    return t1 < t2 or (t1 == t2 and p1 < p2)


@njit(cache=True)
def heap_push(
    heap_s: NDArray[np.float64],
    heap_pod: NDArray[np.int64],
    ctr: NDArray[np.int64],
    t: float,
    pod: int,
) -> None:
    """Add (t, pod) (the caller makes room)."""
    i = ctr[HEAP_N]
    ctr[HEAP_N] = i + 1
    while i > 0:
        parent = (i - 1) >> 1
        if not _before(t, pod, heap_s[parent], heap_pod[parent]):
            break
        heap_s[i] = heap_s[parent]
        heap_pod[i] = heap_pod[parent]
        i = parent
    heap_s[i] = t
    heap_pod[i] = pod


@njit(cache=True)
def heap_pop(
    heap_s: NDArray[np.float64], heap_pod: NDArray[np.int64], ctr: NDArray[np.int64]
) -> int:
    """Remove the earliest (t, pod); its pod."""
    top = heap_pod[0]
    n = ctr[HEAP_N] - 1
    ctr[HEAP_N] = n
    if n > 0:
        t, pod = heap_s[n], heap_pod[n]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= n:
                break
            if c + 1 < n and _before(heap_s[c + 1], heap_pod[c + 1], heap_s[c], heap_pod[c]):
                c += 1
            if not _before(heap_s[c], heap_pod[c], t, pod):
                break
            heap_s[i] = heap_s[c]
            heap_pod[i] = heap_pod[c]
            i = c
        heap_s[i] = t
        heap_pod[i] = pod
    return top


# ---------------------------------------------------------------------- each node's pods
@njit(cache=True, inline="always")
def _link(
    node_first: NDArray[np.int64],
    pod_next: NDArray[np.int64],
    pod_prev: NDArray[np.int64],
    node: int,
    pod: int,
) -> None:
    head = node_first[node]
    pod_prev[pod] = -1
    pod_next[pod] = head
    if head >= 0:
        pod_prev[head] = pod
    node_first[node] = pod


@njit(cache=True, inline="always")
def _unlink(
    node_first: NDArray[np.int64],
    pod_next: NDArray[np.int64],
    pod_prev: NDArray[np.int64],
    node: int,
    pod: int,
) -> None:
    before, after = pod_prev[pod], pod_next[pod]
    if before >= 0:
        pod_next[before] = after
    else:
        node_first[node] = after
    if after >= 0:
        pod_prev[after] = before


@njit(cache=True)
def unlink_pods(
    node_first: NDArray[np.int64],
    pod_next: NDArray[np.int64],
    pod_prev: NDArray[np.int64],
    nodes: NDArray[np.int64],
    pods: NDArray[np.int64],
) -> None:
    """Take pods off their nodes' lists (a controller deleted them)."""
    for i in range(pods.size):
        _unlink(node_first, pod_next, pod_prev, nodes[i], pods[i])


# ---------------------------------------------------------------------- bind and end
@njit(cache=True, inline="always")
def _shift_pod(
    nodes: NDArray[np.int64],
    host_pods: NDArray[np.int64],
    zone_pods: NDArray[np.int64],
    score_stale: NDArray[np.bool_],
    cpu: NDArray[np.int64],
    memory_mib: NDArray[np.float64],
    security_groups: NDArray[np.bool_],
    workload: NDArray[np.int64],
    j: int,
    p: int,
    sign: int,
) -> None:
    """The scheduler's cache gains (``sign`` 1) or loses (-1) pod ``p`` on node ``j``."""
    _k.shift_one(
        nodes,
        host_pods,
        zone_pods,
        score_stale,
        j,
        int(cpu[p]),
        int(memory_mib[p] * _MIB_BYTES),
        security_groups[p],
        workload[p],
        sign,
    )


@njit(cache=True)
def bind(
    lifetime_s: NDArray[np.float64],
    bound_s: NDArray[np.float64],
    pod_node: NDArray[np.int64],
    needs_address: NDArray[np.bool_],
    security_groups: NDArray[np.bool_],
    cpu: NDArray[np.int64],
    memory_mib: NDArray[np.float64],
    workload: NDArray[np.int64],
    pod_next: NDArray[np.int64],
    pod_prev: NDArray[np.int64],
    nodes: NDArray[np.int64],
    host_pods: NDArray[np.int64],
    zone_pods: NDArray[np.int64],
    score_stale: NDArray[np.bool_],
    n_address_pods: NDArray[np.int64],
    node_first: NDArray[np.int64],
    heap_s: NDArray[np.float64],
    heap_pod: NDArray[np.int64],
    ctr: NDArray[np.int64],
    ev_time: NDArray[np.float64],
    ev_node: NDArray[np.int64],
    ev_delta: NDArray[np.int8],
    ev_pod: NDArray[np.int64],
    ev_branch: NDArray[np.bool_],
    ids: NDArray[np.int64],
    on: NDArray[np.int64],
    n_ids: int,
    now_s: float,
    tick_s: float,
    ipv6: bool,
) -> None:
    """Bind ``ids[:n_ids]`` to ``on[:n_ids]`` at ``now_s``: the nodes' requests, each pod's
    end, and (IPv4, pods with an address) its ADD at the next tick then its DEL at its end,
    the ADDs first, then the DELs by time (the room for events and ends is the caller's)."""
    add_s = now_s + tick_s
    e = ctr[N_EVENTS]
    del_s = np.empty(n_ids, dtype=np.float64)
    del_pod = np.empty(n_ids, dtype=np.int64)
    n_dels = 0
    for i in range(n_ids):
        p, j = ids[i], on[i]
        pod_node[p] = j
        bound_s[p] = now_s
        _shift_pod(
            nodes,
            host_pods,
            zone_pods,
            score_stale,
            cpu,
            memory_mib,
            security_groups,
            workload,
            j,
            p,
            1,
        )
        _link(node_first, pod_next, pod_prev, j, p)
        end_s = now_s + lifetime_s[p]
        if math.isfinite(end_s):
            heap_push(heap_s, heap_pod, ctr, end_s, p)
        if not needs_address[p]:
            continue  # host network: a pods slot, no address
        n_address_pods[j] += 1
        if ipv6:
            continue  # no IPv4 address
        ev_time[e], ev_node[e], ev_delta[e] = add_s, j, 1
        ev_pod[e], ev_branch[e] = p, security_groups[p]
        e += 1
        if math.isfinite(end_s):
            del_s[n_dels] = max(end_s, add_s)  # a DEL never precedes its ADD
            del_pod[n_dels] = p
            n_dels += 1
    for i in np.argsort(del_s[:n_dels], kind="mergesort"):
        p = del_pod[i]
        ev_time[e], ev_node[e], ev_delta[e] = del_s[i], pod_node[p], -1
        ev_pod[e], ev_branch[e] = p, security_groups[p]
        e += 1
    ctr[N_EVENTS] = e


@njit(cache=True)
def pod_ends(
    deleted_s: NDArray[np.float64],
    pod_node: NDArray[np.int64],
    needs_address: NDArray[np.bool_],
    security_groups: NDArray[np.bool_],
    cpu: NDArray[np.int64],
    memory_mib: NDArray[np.float64],
    workload: NDArray[np.int64],
    pod_next: NDArray[np.int64],
    pod_prev: NDArray[np.int64],
    nodes: NDArray[np.int64],
    host_pods: NDArray[np.int64],
    zone_pods: NDArray[np.int64],
    score_stale: NDArray[np.bool_],
    n_address_pods: NDArray[np.int64],
    node_first: NDArray[np.int64],
    heap_s: NDArray[np.float64],
    heap_pod: NDArray[np.int64],
    ctr: NDArray[np.int64],
    now_s: float,
) -> bool:
    """Pods whose life ended by ``now_s`` leave their node (those deleted earlier, with their
    node, are skipped); True if any did. Their DELs were queued at their binding."""
    ended = False
    while ctr[HEAP_N] and heap_s[0] <= now_s:
        p = heap_pop(heap_s, heap_pod, ctr)
        if not math.isnan(deleted_s[p]):
            continue
        j = pod_node[p]
        deleted_s[p] = now_s
        _unlink(node_first, pod_next, pod_prev, j, p)
        _shift_pod(
            nodes,
            host_pods,
            zone_pods,
            score_stale,
            cpu,
            memory_mib,
            security_groups,
            workload,
            j,
            p,
            -1,
        )
        if needs_address[p]:
            n_address_pods[j] -= 1
        ended = True
    return ended


# ---------------------------------------------------------------------- samples
@njit(cache=True)
def sample(
    nodes: NDArray[np.int64],
    node_group: NDArray[np.int64],
    node_launch_s: NDArray[np.float64],
    node_gone: NDArray[np.bool_],
    node_ready: NDArray[np.bool_],
    n_address_pods: NDArray[np.int64],
    q_attempts: NDArray[np.int64],
    q_n: NDArray[np.int64],
    clock: NDArray[np.float64],
    smp_s: NDArray[np.float64],
    smp: NDArray[np.int64],
    snap: NDArray[np.int32],
    snap_start: NDArray[np.int64],
    ctr: NDArray[np.int64],
    now_s: float,
) -> None:
    """The scenario's series at ``now_s`` (the caller makes room); the next sample is due a
    period after."""
    n = ctr[N_SAMPLES]
    n_groups = (smp.shape[1] - SM_GROUPS) // 3
    row = smp[n]
    row[:] = 0
    row[SM_PENDING] = q_n[_k.Q_N]
    for r in range(q_n[_k.Q_N]):
        if q_attempts[r] > 0:
            row[SM_UNSCHEDULABLE] += 1
    n_nodes = node_group.size
    for j in range(n_nodes):
        if node_launch_s[j] <= now_s and not node_gone[j]:
            g = SM_GROUPS + node_group[j]
            row[g] += 1
            row[g + n_groups] += node_ready[j]
            row[g + 2 * n_groups] += nodes[j, _k.REQUESTED_PODS]
    e = ctr[N_SNAP]
    snap_start[n] = e
    for j in range(n_nodes):
        snap[e + j] = n_address_pods[j]
    ctr[N_SNAP] = e + n_nodes
    snap_start[n + 1] = e + n_nodes
    smp_s[n] = now_s
    ctr[N_SAMPLES] = n + 1
    clock[0] = next_sample(now_s, clock[1])


# ---------------------------------------------------------------------- the ticks
@njit(cache=True)
def advance(
    created_s: NDArray[np.float64],
    lifetime_s: NDArray[np.float64],
    deleted_s: NDArray[np.float64],
    bound_s: NDArray[np.float64],
    pod_node: NDArray[np.int64],
    needs_address: NDArray[np.bool_],
    security_groups: NDArray[np.bool_],
    cpu: NDArray[np.int64],
    memory_mib: NDArray[np.float64],
    workload: NDArray[np.int64],
    kind: NDArray[np.int8],
    shape: NDArray[np.int64],
    offloaded: NDArray[np.bool_],
    fail: NDArray[np.int64],
    pod_next: NDArray[np.int64],
    pod_prev: NDArray[np.int64],
    n_generated: int,
    nodes: NDArray[np.int64],
    host_pods: NDArray[np.int64],
    zone_pods: NDArray[np.int64],
    score_cache: NDArray[np.int64],
    score_stale: NDArray[np.bool_],
    n_address_pods: NDArray[np.int64],
    node_first: NDArray[np.int64],
    node_group: NDArray[np.int64],
    node_launch_s: NDArray[np.float64],
    node_gone: NDArray[np.bool_],
    node_ready: NDArray[np.bool_],
    heap_s: NDArray[np.float64],
    heap_pod: NDArray[np.int64],
    q_pod: NDArray[np.int64],
    q_ts: NDArray[np.float64],
    q_due: NDArray[np.float64],
    q_attempts: NDArray[np.int64],
    q_waiting: NDArray[np.bool_],
    q_n: NDArray[np.int64],
    ev_time: NDArray[np.float64],
    ev_node: NDArray[np.int64],
    ev_delta: NDArray[np.int8],
    ev_pod: NDArray[np.int64],
    ev_branch: NDArray[np.bool_],
    clock: NDArray[np.float64],
    smp_s: NDArray[np.float64],
    smp: NDArray[np.int64],
    snap: NDArray[np.int32],
    snap_start: NDArray[np.int64],
    ctr: NDArray[np.int64],
    rng_state: NDArray[np.uint64],
    k0: int,
    k1: int,
    tick_s: float,
    stop_if_unschedulable: bool,
    n_to_find: int,
    least: bool,
    ipv6: bool,
    spread_kind: int,
    initial_backoff_s: float,
    max_backoff_s: float,
    max_in_unschedulable_s: float,
) -> int:
    """Run the ticks from ``k0`` (its arrivals, scheduling and sample only: the rest of it
    was the caller's) up to, not including, ``k1``, visiting only those at which a pod ends,
    arrives or is due in the queue, or a sample is due; the tick it stopped at (``k1``, or
    the tick after one that left pods unschedulable when ``stop_if_unschedulable``). The
    caller makes room for the samples."""
    n_queue_room = q_pod.size
    popped = np.empty(n_queue_room, dtype=np.int64)
    popped_attempts = np.empty(n_queue_room, dtype=np.int64)
    k = k0
    first = True
    while True:
        t = k * tick_s
        if not first and pod_ends(
            deleted_s,
            pod_node,
            needs_address,
            security_groups,
            cpu,
            memory_mib,
            workload,
            pod_next,
            pod_prev,
            nodes,
            host_pods,
            zone_pods,
            score_stale,
            n_address_pods,
            node_first,
            heap_s,
            heap_pod,
            ctr,
            t,
        ):
            _k.queue_on_change(
                q_ts, q_due, q_attempts, q_waiting, q_n, t, initial_backoff_s, max_backoff_s
            )
        # pods created by now join the queue (not those deleted before they were due, nor
        # those a claimer took)
        i = ctr[I_ARRIVAL]
        while i < n_generated and created_s[i] <= t:
            if math.isnan(deleted_s[i]) and not offloaded[i]:
                _k.queue_push(q_pod, q_ts, q_due, q_attempts, q_waiting, q_n, i, t, t, 0, False)
            i += 1
        ctr[I_ARRIVAL] = i
        # one scheduling pass over the pods due, in queue order
        n_due = _k.queue_pop_due(
            q_pod, q_ts, q_due, q_attempts, q_waiting, q_n, t, popped, popped_attempts
        )
        if n_due:
            n_nodes = nodes.shape[0]
            out_node = np.full(n_due, -1, dtype=np.int64)
            failures = np.zeros((n_due, _k.N_FAILURES), dtype=np.int64)
            if n_nodes == 0:
                ctr[START] = 0
            else:
                ids = popped[:n_due]
                mem = np.empty(n_due, dtype=np.int64)
                spread = np.empty(n_due, dtype=np.bool_)
                for r in range(n_due):
                    mem[r] = np.int64(memory_mib[ids[r]] * _MIB_BYTES)
                    spread[r] = kind[ids[r]] == spread_kind
                ctr[START] = _k.schedule_pods(
                    nodes,
                    host_pods,
                    zone_pods,
                    cpu[ids],
                    mem,
                    security_groups[ids],
                    workload[ids],
                    spread,
                    shape[ids],
                    score_cache,
                    score_stale,
                    n_to_find,
                    ctr[START] % n_nodes,
                    least,
                    rng_state,
                    out_node,
                    failures,
                )
            bound_ids = np.empty(n_due, dtype=np.int64)
            bound_on = np.empty(n_due, dtype=np.int64)
            n_bound = 0
            for r in range(n_due):
                p = popped[r]
                if out_node[r] >= 0:
                    bound_ids[n_bound] = p
                    bound_on[n_bound] = out_node[r]
                    n_bound += 1
                    continue
                _k.queue_push(
                    q_pod,
                    q_ts,
                    q_due,
                    q_attempts,
                    q_waiting,
                    q_n,
                    p,
                    t,
                    t + max_in_unschedulable_s,
                    popped_attempts[r] + 1,
                    True,
                )
                fail[p, 0] = n_nodes
                fail[p, 1:] = failures[r]
            bind(
                lifetime_s,
                bound_s,
                pod_node,
                needs_address,
                security_groups,
                cpu,
                memory_mib,
                workload,
                pod_next,
                pod_prev,
                nodes,
                host_pods,
                zone_pods,
                score_stale,
                n_address_pods,
                node_first,
                heap_s,
                heap_pod,
                ctr,
                ev_time,
                ev_node,
                ev_delta,
                ev_pod,
                ev_branch,
                bound_ids,
                bound_on,
                n_bound,
                t,
                tick_s,
                ipv6,
            )
        if t >= clock[0]:
            sample(
                nodes,
                node_group,
                node_launch_s,
                node_gone,
                node_ready,
                n_address_pods,
                q_attempts,
                q_n,
                clock,
                smp_s,
                smp,
                snap,
                snap_start,
                ctr,
                t,
            )
        if stop_if_unschedulable and k1 > k + 1:
            for r in range(q_n[_k.Q_N]):
                if q_attempts[r] > 0:  # a pod the scheduler could not place is pending
                    k1 = k + 1
                    break
        first = False
        # the next tick at which a pod ends, arrives or is due in the queue, or a sample
        due = clock[0]
        for r in range(q_n[_k.Q_N]):
            due = min(due, q_due[r])
        if ctr[I_ARRIVAL] < n_generated:
            due = min(due, created_s[ctr[I_ARRIVAL]])
        if ctr[HEAP_N]:
            due = min(due, heap_s[0])
        k = max(first_tick(due, tick_s), k + 1)
        if k >= k1:
            return k1
