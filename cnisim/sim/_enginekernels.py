"""Compiled kernels of the fast ipamd engine: the whole tick, each ipamd rule once.

The rules are those of the tick contract (:mod:`cnisim.sim.contract`), in its phase order;
:mod:`cnisim.sim.fastengine` holds the arrays and is the driver interface. The kernels call
the World's kernels (:mod:`cnisim.sim._worldkernels`) directly on FastWorld's arrays, so no
Python runs per event.

Layout
------
Per node ``i``: static settings in ``cfg[i, CF_*]``, state in ``nd[i, ND_*]`` (ints) and
``nf[i, NF_*]`` (floats), counters in ``n_reason``, ``n_ops`` and ``n_errs``. Each node owns
fixed regions of the ragged stores, sized by its limits: ``E = max_enis`` ENI slots from
``CF_ENI_BASE``, ``E * S`` CIDR slots (``S`` per ENI slot) plus ``S`` for the in-flight
addition from ``CF_CIDR_BASE``, and ``E * S * Z`` addresses (``Z`` = 16 in prefix mode,
else 1) from ``CF_ADDR_BASE``. Slots are physical and never move, so a pod keeps the index
of its address; the datastore's orders (ENIs in attach order, CIDRs in the order they
entered) are kept in ``eni_order`` and ``cidr_order``, compacted when an ENI or CIDR leaves.

Queues: first ADDs and retries in one heap keyed (due time, sequence), DELs in another, the
cooling branch ENIs in a FIFO (their deadlines only grow), and two heaps of nodes keyed (tick,
node id): completions and pool steps. A node whose pool step made no EC2 call sleeps: its
datastore cannot change but by a pod ADD or DEL, and the only times at which the same step
could decide otherwise are the ends of the 120 s pause, of the 30 s decrease interval, of an
ENI's 60 s minimum life and of its addresses' cooldown; it is next visited at the first step
of its 5 s grid at or after the earliest of these, or after its next pod event.

Pods are known by an internal index (submission order of their ADD); ``pod_index`` maps pod
ids to it.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numba import njit
from numpy.typing import NDArray

from cnisim.sim import _rng
from cnisim.sim import _worldkernels as wk

#: The kernels allocate nothing (scratch lives in the arrays, copies are loops), so they run
#: without numba's runtime: no array is reference-counted at each call and attribute access,
#: which otherwise took about half of a run's time, and a call unboxes its arrays without
#: allocating a MemInfo for each (3.3 us -> 0.8 us for run_ticks' 65 arrays). The one that
#: calls ``wk.create_and_attach_eni`` (which allocates) asks for the runtime by name
#: (:data:`NRT`): a callee without the option inherits its caller's, so the World kernel is
#: compiled with the runtime; arrays unboxed without it carry no MemInfo, which its
#: reference counting skips.
NO_NRT: dict[str, Any] = {"_nrt": False}
NRT: dict[str, Any] = {"_nrt": True}

# cfg columns (static per node)
CF_MAX_ENIS = 0
CF_S = 1
CF_Z = 2
CF_MAX_PODS = 3
CF_MAX_BRANCH = 4
CF_NODE_SUBNET = 5
CF_POD_SUBNET = 6
CF_CAND_START = 7
CF_CAND_LEN = 8
CF_PD = 9
CF_WARM_IP_MODE = 10
CF_WARM_IP = 11
CF_MIN_IP = 12
CF_WARM_ENI = 13
CF_WARM_PREFIX = 14
CF_CUSTOM = 15
CF_DISCOVERY = 16
CF_TRUNKING = 17
CF_ENI_BASE = 18
CF_CIDR_BASE = 19
CF_ADDR_BASE = 20
N_CF = 21
# nd columns (int state per node)
ND_ENGINE_JOINED = N_CF + 0  # the join was processed (launched, or the launch failed)
ND_JOINED = N_CF + 1  # ipamd runs: launched and not left
ND_LEFT = N_CF + 2
ND_INSTANCE = N_CF + 3
ND_N_ENIS = N_CF + 4
ND_TOTAL = N_CF + 5  # IPs in the datastore (16 per prefix)
ND_ASSIGNED = N_CF + 6
ND_N_BRANCH = N_CF + 7
ND_N_COOLING = N_CF + 8
ND_BUSY = N_CF + 9
ND_OUTCOME = N_CF + 10  # POOL_OUTCOMES index
ND_ASLEEP = N_CF + 11
ND_ANCHOR_K = N_CF + 12  # tick of the last step a sleeping node evaluated
ND_STEP_K = N_CF + 13  # tick of the next step to evaluate (key of the step heap)
ND_DONE_K = N_CF + 14  # tick of the completion (key of the completion heap)
ND_TRUNK = N_CF + 15  # ENI slot of the trunk, -1 if none
ND_PEND = N_CF + 16  # the in-flight addition: PEND_NONE, PEND_CIDRS or PEND_ENI
ND_PEND_ENI = N_CF + 17
ND_PEND_PRIMARY = N_CF + 18
ND_PEND_N = N_CF + 19
ND_N_ADDS = N_CF + 20
ND_N_FAILED = N_CF + 21
ND_LAUNCH_FAILED = N_CF + 22
N_ND = 23
# counters and the node heaps, after cfg and nd
NI_REASON = N_CF + N_ND
NI_OPS = NI_REASON + 14
NI_ERRS = NI_OPS + 6
NI_STEP_HEAP = NI_ERRS + 3
NI_STEP_POS = NI_STEP_HEAP + 1
NI_DONE_HEAP = NI_STEP_HEAP + 2
NI_DONE_POS = NI_STEP_HEAP + 3
N_NI = NI_STEP_HEAP + 4
# ei columns (ENI slots)
EI_ID = 0  # -1: free slot
EI_PRIMARY = 1
EI_KIND = 2
EI_NCIDR = 3
EI_NASSIGNED = 4
EI_ORDER = 5
N_EI = 6
# ci columns (CIDR slots)
CI_ADDR = 0
CI_NASSIGNED = 1
CI_ORDER = 2
CI_USED = 3
N_CI = 4
# pi / pf columns (pods)
PI_ID = 0
PI_NODE = 1
PI_BRANCH = 2
PI_STATE = 3
PI_OUTCOME = 4  # -1: not due yet
PI_NFAIL = 5
PI_REASON = 6  # -1: none failed
PI_WHERE = 7  # address slot, or branch ENI id
PI_DELETED = 8
N_PI = 9
PF_FIRST = 0
PF_WAIT = 1
N_PF = 2
# qf / qi columns (the ADD and DEL heaps, the FIFO of cooling branch ENIs)
QF_ADD = 0
QF_DEL = 1
QF_COOL = 2
N_QF = 3
QI_ADD_SEQ = 0
QI_ADD_POD = 1
QI_DEL_SEQ = 2
QI_DEL_POD = 3
QI_COOL_NODE = 4
QI_COOL_ENI = 5
N_QI = 6
SMP_NODE = 8  # smp columns: METRICS, then the node
SCRATCH_METRICS = 64  # scratch: addresses of an unassign call, a metrics row, a step's
SCRATCH_STEP = 72  # calls, pause flag and last error
N_SCRATCH = 75
# nf columns (float state per node)
NF_COOLDOWN = 0  # IP_COOLDOWN_PERIOD [s]
NF_JOIN_DUE = 1
NF_LEAVE_DUE = 2
NF_JOIN_S = 3
NF_LEAVE_S = 4
NF_READY_S = 5
NF_NEXT_STEP = 6
NF_STEP_END = 7
NF_LAST_DEC = 8
NF_INSUFF_UNTIL = 9
N_NF = 10
PEND_NONE = 0
PEND_CIDRS = 1
PEND_ENI = 2
# ENI kinds in the datastore
EK_SECONDARY = 0
EK_PRIMARY = 1
EK_TRUNK = 2
# pod states
NEW = 0
WAITING = 1
RUNNING = 2
DONE = 3
# POD_OUTCOMES
PLACED = 0
OUT_WAITING = 1
CANCELLED = 2
DROPPED = 3
# POOL_OUTCOMES
O_NOT_TRIED = 0
O_PENDING = 1
O_TARGET_MET = 2
O_MAX_PODS = 3
O_MAX_ENIS = 4
O_OF_ERROR = (5, 6, 7)  # subnet_full, no_free_prefix, throttled (ERROR_CODES order)
# FAIL_REASONS
R_NOT_READY = 0
R_COOLING = 1
R_NO_IP = 2  # + pool outcome
R_NO_TRUNK = 10
R_AT_LIMIT = 11
R_BRANCH_SUBNET = 12
R_BRANCH_THROTTLED = 13
N_REASONS = 14
# OPS
OP_ASSIGN = 0
OP_UNASSIGN = 1
OP_CREATE_ENI = 2
OP_FREE_ENI = 3
OP_CREATE_BRANCH = 4
OP_DELETE_BRANCH = 5
N_OPS = 6
# par indices
P_TICK = 0
P_POOL = 1
P_RETRY = 2
P_SAMPLE_EVERY = 3
P_BRANCH_CD = 4
P_NEXT_SAMPLE = 5
P_GRID_D = 6  # pool-step grid in ticks when it is exact, 0: walk it
P_STEP_DUR = 7  # scratch of a pool step: the sum of its calls' durations [s]
N_PAR = 8
# ctr indices
C_N_NODES = 0
C_N_PODS = 1
C_SEQ = 2
C_ADD_SIZE = 3
C_DEL_SIZE = 4
C_COOL_HEAD = 5
C_COOL_TAIL = 6
C_N_SAMPLES = 7
C_N_SUBNET_SAMPLES = 8
C_STEP_SIZE = 9
C_DONE_SIZE = 10
C_N_TICKS = 11
C_N_NODE_STEPS = 12
C_K_NEXT = 13
C_BRANCH_UNPLACED = 14
C_JL_K = 15  # tick of the next join or leave
C_MAX_CAND = 16
N_CTR = 17
# run_ticks status
RUN_DONE = 0
RUN_NEED_SAMPLES = 1
RUN_NEED_OWNERS = 2
# queue_pods / queue_dels errors
Q_OK = 0
Q_TWICE_ADDED = 1
Q_NEVER_ADDED = 2
Q_TWICE_DELETED = 3
Q_DEL_BEFORE_ADD = 4
Q_BAD_NODE = 5  # before anything is queued: a node not added
Q_BAD_POD_ID = 6  # a pod id outside 0 .. max_pod_id
Q_NEED_ROOM = 7  # the pod arrays need room: (Q_NEED_ROOM, largest pod id)
NEVER_K = 2**62
WAKE_EARLY_S = 1e-6  # a sleeping node wakes this much before a threshold (an exact re-check)
DECREASE_INTERVAL_S = 30.0
MIN_ENI_LIFETIME_S = 60.0
INSUFFICIENT_CIDR_PAUSE_S = 120.0
IPS_PER_PREFIX = 16


class EngineArrays(NamedTuple):
    """The engine's state (see the module docstring); few arrays, so calls stay cheap."""

    par: NDArray[np.float64]
    ctr: NDArray[np.int64]
    ni: NDArray[np.int64]  # (nodes, N_NI): cfg, nd, counters, node heaps
    nf: NDArray[np.float64]  # (nodes, N_NF)
    cand: NDArray[np.int64]  # candidate subnets of new ENIs, ragged by CF_CAND_START
    ei: NDArray[np.int64]  # (ENI slots, N_EI)
    ef: NDArray[np.float64]  # created_s per ENI slot
    ci: NDArray[np.int64]  # (CIDR slots, N_CI)
    addr_pod: NDArray[np.int64]  # pod per address slot, -1: unassigned
    addr_cool: NDArray[np.float64]  # cooldown end per address slot
    pod_index: NDArray[np.int64]  # pod id -> internal index, -1: never submitted
    pi: NDArray[np.int64]  # (pods, N_PI)
    pf: NDArray[np.float64]  # (pods, N_PF)
    qf: NDArray[np.float64]  # (N_QF, pods): each queue contiguous
    qi: NDArray[np.int64]  # (N_QI, pods)
    smp: NDArray[np.int64]  # (capacity, len(METRICS) + 1)
    smp_s: NDArray[np.float64]
    ssm: NDArray[np.int64]  # (capacity, n_subnets, len(SUBNET_METRICS))
    ssm_s: NDArray[np.float64]
    scratch: NDArray[np.int64]


# ====================================================================== time
@njit(cache=True, **NO_NRT)
def first_tick(t_s: float, tick_s: float) -> int:
    """contract.first_tick_at, compiled: the first ``k`` with ``k * tick_s >= t_s``."""
    if not math.isfinite(t_s):
        return 0 if t_s < 0 else NEVER_K
    k = max(math.ceil(t_s / tick_s), 0)
    while k > 0 and (k - 1) * tick_s >= t_s:
        k -= 1
    while k * tick_s < t_s:
        k += 1
    return k


@njit(cache=True, **NO_NRT)
def next_sample(now_s: float, every_s: float) -> float:
    """contract.next_sample_s, compiled."""
    n = math.floor(now_s / every_s) + 1
    while n * every_s <= now_s:
        n += 1
    return n * every_s


@njit(cache=True, **NO_NRT)
def _grid_next(A: Any, k: int) -> int:
    """Tick of the step after a no-call step at tick ``k`` (next_step_s = now_s + pool)."""
    tick = A.par[P_TICK]
    return max(first_tick(k * tick + A.par[P_POOL], tick), k + 1)


@njit(cache=True, **NO_NRT)
def _grid_at_or_after(A: Any, anchor: int, target: int) -> int:
    """The first tick after ``anchor`` on its pool-step grid that is at or after ``target``."""
    d = int(A.par[P_GRID_D])
    if d > 0:
        return anchor + max(1, -((anchor - target) // d)) * d
    k = _grid_next(A, anchor)
    while k < target:
        k = _grid_next(A, k)
    return k


@njit(cache=True, **NO_NRT)
def _grid_last_before(A: Any, anchor: int, k_end: int) -> int:
    """The last tick on the grid of ``anchor`` (anchor included) that is below ``k_end``."""
    d = int(A.par[P_GRID_D])
    if d > 0:
        return anchor + max(0, (k_end - 1 - anchor) // d) * d
    k = anchor
    while True:
        nxt = _grid_next(A, k)
        if nxt >= k_end:
            return k
        k = nxt


# ====================================================================== heaps
@njit(cache=True, inline="always", **NO_NRT)
def _ev_less(ht: Any, hs: Any, a: int, b: int) -> bool:
    return ht[a] < ht[b] or (ht[a] == ht[b] and hs[a] < hs[b])


@njit(cache=True, inline="always", **NO_NRT)
def _ev_swap(ht: Any, hs: Any, hp: Any, a: int, b: int) -> None:
    ht[a], ht[b] = ht[b], ht[a]
    hs[a], hs[b] = hs[b], hs[a]
    hp[a], hp[b] = hp[b], hp[a]


@njit(cache=True, **NO_NRT)
def ev_push(ht: Any, hs: Any, hp: Any, size: int, t_s: float, seq: int, pod: int) -> int:
    """Push (t_s, seq, pod) on a heap of ``size`` entries; the new size."""
    j = size
    ht[j] = t_s
    hs[j] = seq
    hp[j] = pod
    while j > 0:
        parent = (j - 1) >> 1
        if not _ev_less(ht, hs, j, parent):
            break
        _ev_swap(ht, hs, hp, j, parent)
        j = parent
    return size + 1


@njit(cache=True, **NO_NRT)
def ev_pop(ht: Any, hs: Any, hp: Any, size: int) -> int:
    """Remove the top of a heap of ``size`` entries (read it first); the new size."""
    size -= 1
    _ev_swap(ht, hs, hp, 0, size)
    j = 0
    while True:
        child = 2 * j + 1
        if child >= size:
            break
        if child + 1 < size and _ev_less(ht, hs, child + 1, child):
            child += 1
        if not _ev_less(ht, hs, child, j):
            break
        _ev_swap(ht, hs, hp, j, child)
        j = child
    return size


@njit(cache=True, inline="always", **NO_NRT)
def _nh_less(nd: Any, col: int, a: int, b: int) -> bool:
    return nd[a, col] < nd[b, col] or (nd[a, col] == nd[b, col] and a < b)


@njit(cache=True, **NO_NRT)
def _nh_sift(heap: Any, pos: Any, nd: Any, col: int, size: int, j: int) -> None:
    while j > 0:
        parent = (j - 1) >> 1
        if not _nh_less(nd, col, heap[j], heap[parent]):
            break
        heap[j], heap[parent] = heap[parent], heap[j]
        pos[heap[j]] = j
        pos[heap[parent]] = parent
        j = parent
    while True:
        child = 2 * j + 1
        if child >= size:
            break
        if child + 1 < size and _nh_less(nd, col, heap[child + 1], heap[child]):
            child += 1
        if not _nh_less(nd, col, heap[child], heap[j]):
            break
        heap[j], heap[child] = heap[child], heap[j]
        pos[heap[j]] = j
        pos[heap[child]] = child
        j = child


@njit(cache=True, **NO_NRT)
def nh_set(A: Any, heap: Any, pos: Any, col: int, c_size: int, node: int, key: int) -> None:
    """Schedule ``node`` at tick ``key`` in a node heap (insert or move)."""
    A.ni[node, col] = key
    size = A.ctr[c_size]
    if pos[node] < 0:
        heap[size] = node
        pos[node] = size
        A.ctr[c_size] = size + 1
        _nh_sift(heap, pos, A.ni, col, size + 1, size)
    else:
        _nh_sift(heap, pos, A.ni, col, size, pos[node])


@njit(cache=True, **NO_NRT)
def nh_remove(A: Any, heap: Any, pos: Any, col: int, c_size: int, node: int) -> None:
    """Take ``node`` out of a node heap (nothing if it is not in it)."""
    j = pos[node]
    if j < 0:
        return
    size = A.ctr[c_size] - 1
    A.ctr[c_size] = size
    pos[node] = -1
    if j == size:
        return
    heap[j] = heap[size]
    pos[heap[j]] = j
    _nh_sift(heap, pos, A.ni, col, size, j)


@njit(cache=True, **NO_NRT)
def _nh_top_key(A: Any, heap: Any, col: int, c_size: int) -> int:
    return A.ni[heap[0], col] if A.ctr[c_size] > 0 else NEVER_K


# ====================================================================== datastore stats
@njit(cache=True, inline="always", **NO_NRT)
def _div_ceil(x: int, y: int) -> int:
    return (x + y - 1) // y


@njit(cache=True, inline="always", **NO_NRT)
def _eni_slot(A: Any, i: int, k: int) -> int:
    """Physical slot of the k-th ENI of node i."""
    return A.ni[i, CF_ENI_BASE] + A.ei[A.ni[i, CF_ENI_BASE] + k, EI_ORDER]


@njit(cache=True, inline="always", **NO_NRT)
def _cidr_slot(A: Any, i: int, g: int, c: int) -> int:
    """Physical slot of the c-th CIDR of the ENI in slot ``g`` of node i."""
    s = A.ni[i, CF_S]
    row = A.ni[i, CF_CIDR_BASE] + (g - A.ni[i, CF_ENI_BASE]) * s
    return row + A.ci[row + c, CI_ORDER]


@njit(cache=True, inline="always", **NO_NRT)
def _addr_of(A: Any, i: int, gc: int) -> int:
    """First address slot of the CIDR in slot ``gc`` of node i."""
    return A.ni[i, CF_ADDR_BASE] + (gc - A.ni[i, CF_CIDR_BASE]) * A.ni[i, CF_Z]


@njit(cache=True, **NO_NRT)
def _n_cidrs(A: Any, i: int) -> int:
    n = 0
    for k in range(A.ni[i, ND_N_ENIS]):
        n += A.ei[_eni_slot(A, i, k), EI_NCIDR]
    return n


@njit(cache=True, **NO_NRT)
def _free_prefixes(A: Any, i: int) -> int:
    """GetFreePrefixes: prefixes with no assigned IP (0 outside prefix mode)."""
    if not A.ni[i, CF_PD]:
        return 0
    n = 0
    for k in range(A.ni[i, ND_N_ENIS]):
        g = _eni_slot(A, i, k)
        for c in range(A.ei[g, EI_NCIDR]):
            if A.ci[_cidr_slot(A, i, g, c), CI_NASSIGNED] == 0:
                n += 1
    return n


@njit(cache=True, **NO_NRT)
def _target_state(A: Any, i: int) -> tuple[int, int]:
    """datastoreTargetState: (short, over) in IPs, or in prefixes in prefix mode."""
    warm_ip = A.ni[i, CF_WARM_IP]
    min_ip = A.ni[i, CF_MIN_IP]
    total = A.ni[i, ND_TOTAL]
    assigned = A.ni[i, ND_ASSIGNED]
    avail = total - assigned
    short = max(max(warm_ip - avail, 0), min_ip - total)
    over = max(min(max(avail - warm_ip, 0), total - min_ip), 0)
    if not A.ni[i, CF_PD]:
        return short, over
    n_prefixes = _n_cidrs(A, i)
    needed_warm = _div_ceil(assigned + warm_ip, IPS_PER_PREFIX)
    needed_min = _div_ceil(min_ip, IPS_PER_PREFIX)
    over_p = max(min(_free_prefixes(A, i), n_prefixes - needed_warm), 0)
    over_p = max(min(over_p, n_prefixes - needed_min), 0)
    return _div_ceil(short, IPS_PER_PREFIX), over_p


@njit(cache=True, **NO_NRT)
def _is_low(A: Any, i: int) -> bool:
    """isDatastorePoolTooLow (False at max pods)."""
    if A.ni[i, ND_TOTAL] >= A.ni[i, CF_MAX_PODS]:
        return False
    if A.ni[i, CF_WARM_IP_MODE]:
        return _target_state(A, i)[0] > 0
    pd = A.ni[i, CF_PD]
    warm = A.ni[i, CF_WARM_PREFIX] if pd else A.ni[i, CF_WARM_ENI]
    unit = IPS_PER_PREFIX if pd else A.ni[i, CF_S]
    avail = A.ni[i, ND_TOTAL] - A.ni[i, ND_ASSIGNED]
    return avail < unit * warm or (warm == 0 and avail == 0)


@njit(cache=True, **NO_NRT)
def _pool_low(A: Any, i: int) -> bool:
    """isDatastorePoolTooLow, recording the pool outcome when the pool is not low."""
    if A.ni[i, ND_TOTAL] >= A.ni[i, CF_MAX_PODS]:
        A.ni[i, ND_OUTCOME] = O_MAX_PODS
        return False
    if not _is_low(A, i):
        A.ni[i, ND_OUTCOME] = O_TARGET_MET
        return False
    return True


@njit(cache=True, **NO_NRT)
def _wanted(A: Any, i: int) -> int:
    """IPs (or prefixes) one increase asks for, before the per-ENI cap (getPrefixesNeeded)."""
    if A.ni[i, CF_PD]:
        if A.ni[i, CF_WARM_IP_MODE]:
            return max(1, _target_state(A, i)[0])
        return max(1, A.ni[i, CF_WARM_PREFIX] - _free_prefixes(A, i))
    if A.ni[i, CF_WARM_IP_MODE]:
        return _target_state(A, i)[0]
    return A.ni[i, CF_S]


@njit(cache=True, **NO_NRT)
def _is_high(A: Any, i: int) -> bool:
    """isDatastorePoolTooHigh (never in warm-ENI mode)."""
    if A.ni[i, CF_WARM_IP_MODE]:
        return _target_state(A, i)[1] > 0
    if A.ni[i, CF_PD]:
        return _free_prefixes(A, i) > A.ni[i, CF_WARM_PREFIX]
    return False


@njit(cache=True, **NO_NRT)
def _should_remove(A: Any, i: int, stats_avail: int) -> bool:
    """shouldRemoveExtraENIs on the stats of the start of the step."""
    if A.ni[i, CF_WARM_IP_MODE]:
        return True
    pd = A.ni[i, CF_PD]
    warm = A.ni[i, CF_WARM_PREFIX] if pd else A.ni[i, CF_WARM_ENI]
    if stats_avail >= (warm + 1) * A.ni[i, CF_S] * A.ni[i, CF_Z]:
        return True
    if pd:  # CheckFreeableENIexists
        for k in range(A.ni[i, ND_N_ENIS]):
            g = _eni_slot(A, i, k)
            if A.ei[g, EI_KIND] == EK_SECONDARY and A.ei[g, EI_NASSIGNED] == 0:
                return True
    return False


@njit(cache=True, **NO_NRT)
def _max_cool(A: Any, i: int, g: int) -> float:
    """The latest cooldown end of an unassigned address on the ENI in slot g [s]."""
    latest = -math.inf
    z = A.ni[i, CF_Z]
    for c in range(A.ei[g, EI_NCIDR]):
        a0 = _addr_of(A, i, _cidr_slot(A, i, g, c))
        for a in range(a0, a0 + z):
            if A.addr_pod[a] < 0 and A.addr_cool[a] > latest:
                latest = A.addr_cool[a]
    return latest


@njit(cache=True, **NO_NRT)
def _not_required(A: Any, i: int, g: int) -> bool:
    """getDeletableENI's isRequiredFor* checks, false: the others keep the targets."""
    pd = A.ni[i, CF_PD]
    eni_ips = A.ei[g, EI_NCIDR] * A.ni[i, CF_Z]
    others_ips = A.ni[i, ND_TOTAL] - eni_ips
    warm_ip = A.ni[i, CF_WARM_IP]
    min_ip = A.ni[i, CF_MIN_IP]
    if pd:
        warm_ip = _div_ceil(warm_ip, IPS_PER_PREFIX) * IPS_PER_PREFIX
        min_ip = _div_ceil(min_ip, IPS_PER_PREFIX) * IPS_PER_PREFIX
    if A.ni[i, CF_WARM_IP] != 0 and others_ips - A.ni[i, ND_ASSIGNED] < warm_ip:
        return False
    if A.ni[i, CF_MIN_IP] != 0 and others_ips < min_ip:
        return False
    warm_prefix = A.ni[i, CF_WARM_PREFIX]
    return not (pd and warm_prefix != 0 and _free_prefixes(A, i) - A.ei[g, EI_NCIDR] < warm_prefix)


@njit(cache=True, **NO_NRT)
def _deletable(A: Any, i: int, now_s: float) -> int:
    """getDeletableENI: position (in ENI order) of the first freeable ENI, or -1."""
    for k in range(A.ni[i, ND_N_ENIS]):
        g = _eni_slot(A, i, k)
        if A.ei[g, EI_KIND] != EK_SECONDARY or A.ei[g, EI_NASSIGNED] > 0:
            continue
        if now_s - A.ef[g] < MIN_ENI_LIFETIME_S:
            continue  # isTooYoung
        if now_s <= _max_cool(A, i, g):
            continue  # hasIPInCooling
        if _not_required(A, i, g):
            return k
    return -1


@njit(cache=True, **NO_NRT)
def _free_candidate_s(A: Any, i: int) -> float:
    """When an ENI that only its age or cooldown keeps from being freed may be freed [s]."""
    earliest = math.inf
    for k in range(A.ni[i, ND_N_ENIS]):
        g = _eni_slot(A, i, k)
        if (
            A.ei[g, EI_KIND] != EK_SECONDARY
            or A.ei[g, EI_NASSIGNED] > 0
            or not _not_required(A, i, g)
        ):
            continue
        earliest = min(earliest, max(A.ef[g] + MIN_ENI_LIFETIME_S, _max_cool(A, i, g)))
    return earliest


# ====================================================================== datastore changes
@njit(cache=True, **NO_NRT)
def _append_cidrs(A: Any, i: int, g: int, src: int, n: int) -> None:
    """Append ``n`` CIDRs (bases at ``cidr_addr[src:src+n]``) to the ENI in slot g."""
    s = A.ni[i, CF_S]
    z = A.ni[i, CF_Z]
    row = A.ni[i, CF_CIDR_BASE] + (g - A.ni[i, CF_ENI_BASE]) * s
    for j in range(n):
        c = 0
        while A.ci[row + c, CI_USED]:
            c += 1
        gc = row + c
        A.ci[gc, CI_USED] = True
        A.ci[gc, CI_ADDR] = A.ci[src + j, CI_ADDR]
        A.ci[gc, CI_NASSIGNED] = 0
        a0 = _addr_of(A, i, gc)
        A.addr_pod[a0 : a0 + z] = -1
        A.addr_cool[a0 : a0 + z] = -math.inf
        A.ci[row + A.ei[g, EI_NCIDR], CI_ORDER] = c
        A.ei[g, EI_NCIDR] += 1
    A.ni[i, ND_TOTAL] += n * z


@njit(cache=True, **NO_NRT)
def _new_eni(A: Any, i: int, eni_id: int, primary: int, kind: int, now_s: float) -> int:
    """Append an ENI to node i's list; its slot."""
    base = A.ni[i, CF_ENI_BASE]
    e = 0
    while A.ei[base + e, EI_ID] >= 0:
        e += 1
    g = base + e
    A.ei[g, EI_ID] = eni_id
    A.ei[g, EI_PRIMARY] = primary
    A.ei[g, EI_KIND] = kind
    A.ef[g] = now_s
    A.ei[g, EI_NCIDR] = 0
    A.ei[g, EI_NASSIGNED] = 0
    s = A.ni[i, CF_S]
    row = A.ni[i, CF_CIDR_BASE] + e * s
    A.ci[row : row + s, CI_USED] = False
    A.ei[base + A.ni[i, ND_N_ENIS], EI_ORDER] = e
    A.ni[i, ND_N_ENIS] += 1
    if kind == EK_TRUNK:
        A.ni[i, ND_TRUNK] = g
    return g


@njit(cache=True, **NO_NRT)
def _drop_eni_at(A: Any, i: int, k: int) -> None:
    """Take the k-th ENI out of node i's list (its CIDRs leave the datastore)."""
    base = A.ni[i, CF_ENI_BASE]
    g = base + A.ei[base + k, EI_ORDER]
    A.ni[i, ND_TOTAL] -= A.ei[g, EI_NCIDR] * A.ni[i, CF_Z]
    A.ei[g, EI_ID] = -1
    n = A.ni[i, ND_N_ENIS]
    for j in range(k, n - 1):
        A.ei[base + j, EI_ORDER] = A.ei[base + j + 1, EI_ORDER]
    A.ni[i, ND_N_ENIS] = n - 1


# ====================================================================== EC2 calls of a step
@njit(cache=True, **NO_NRT)
def _count_op(A: Any, i: int, op: int, error: int) -> None:
    A.ni[i, NI_OPS + op] += 1
    if error >= 0:
        A.ni[i, NI_ERRS + error] += 1


@njit(cache=True, **NO_NRT)
def _try_assign(A: Any, W: Any, i: int, now_s: float, sti: Any, std: Any) -> int:
    """tryAssignIPs / tryAssignPrefixes: 1 added, 0 nothing, else 10 + the error code."""
    wanted = _wanted(A, i)
    if wanted == 0:
        return 0
    sa, ea, srng, erng = W
    s = A.ni[i, CF_S]
    pd = A.ni[i, CF_PD] == 1
    for k in range(A.ni[i, ND_N_ENIS]):
        g = _eni_slot(A, i, k)
        if A.ei[g, EI_KIND] == EK_TRUNK or A.ei[g, EI_NCIDR] >= s:
            continue
        if A.ei[g, EI_KIND] == EK_PRIMARY and A.ni[i, CF_CUSTOM]:
            continue
        n = min(s - A.ei[g, EI_NCIDR], wanted)
        raw = wk.assign(sa, ea, srng, erng, now_s, A.ei[g, EI_ID], n, pd)
        _step_call(A, i, OP_ASSIGN, raw[0], raw[1], now_s, sti, std)
        if raw[1] != wk.NO_ERROR:
            raw = wk.assign(sa, ea, srng, erng, now_s, A.ei[g, EI_ID], 1, pd)
            _step_call(A, i, OP_ASSIGN, raw[0], raw[1], now_s, sti, std)
            if raw[1] != wk.NO_ERROR:
                if A.ni[i, CF_DISCOVERY] and raw[1] != wk.E_THROTTLED:
                    continue
                return 10 + raw[1]
        _pend(A, i, PEND_CIDRS, A.ei[g, EI_ID], -1, raw[4])
        return 1
    return 0


@njit(cache=True, **NO_NRT)
def _step_call(
    A: Any, i: int, op: int, done_s: float, error: int, now_s: float, sti: Any, std: Any
) -> None:
    """Account one EC2 operation of a pool step (its duration adds to the step's)."""
    sti[0] += 1
    std[0] += done_s - now_s
    if error >= 0:
        sti[2] = error
    _count_op(A, i, op, error)


@njit(cache=True, **NO_NRT)
def _pend(A: Any, i: int, kind: int, eni_id: int, primary: int, n: int) -> None:
    """The in-flight addition: ``n`` addresses of ``ea.out`` (copied in the pending area)."""
    A.ni[i, ND_PEND] = kind
    A.ni[i, ND_PEND_ENI] = eni_id
    A.ni[i, ND_PEND_PRIMARY] = primary
    A.ni[i, ND_PEND_N] = n


@njit(cache=True, **NO_NRT)
def _copy_out(A: Any, ea: Any, i: int, n: int) -> None:
    src = A.ni[i, CF_CIDR_BASE] + A.ni[i, CF_MAX_ENIS] * A.ni[i, CF_S]
    for j in range(n):  # a loop: slice copies allocate (no NRT here)
        A.ci[src + j, CI_ADDR] = ea.out[j]


@njit(cache=True, **NO_NRT)
def _has_room(A: Any, i: int) -> bool:
    """hasRoomForEni: an ENI slot left (one kept for the trunk until it is there)."""
    reserve = 1 if A.ni[i, CF_TRUNKING] and A.ni[i, ND_TRUNK] < 0 else 0
    return A.ni[i, ND_N_ENIS] < A.ni[i, CF_MAX_ENIS] - reserve


@njit(cache=True, **NRT)  # wk.create_and_attach_eni allocates
def _increase(A: Any, W: Any, i: int, now_s: float, sti: Any, std: Any) -> None:
    """increaseDatastorePool, recording the pool outcome."""
    if now_s <= A.nf[i, NF_INSUFF_UNTIL]:
        return  # inInsufficientCidrCoolingPeriod
    sa, ea, srng, erng = W
    sti[2] = -1
    outcome = _try_assign(A, W, i, now_s, sti, std)
    if outcome >= 10 and outcome - 10 != wk.E_THROTTLED:
        sti[1] = 1  # an InsufficientCidr* error starts the pause
    elif outcome == 1:
        _copy_out(A, ea, i, A.ni[i, ND_PEND_N])
    elif outcome == 0 and _has_room(A, i):
        pd = A.ni[i, CF_PD] == 1
        n = min(_wanted(A, i), A.ni[i, CF_S]) if pd or A.ni[i, CF_WARM_IP_MODE] else A.ni[i, CF_S]
        if n > 0:
            c0 = A.ni[i, CF_CAND_START]
            raw = wk.create_and_attach_eni(
                sa,
                ea,
                srng,
                erng,
                now_s,
                A.ni[i, ND_INSTANCE],
                A.cand[c0 : c0 + A.ni[i, CF_CAND_LEN]],
                0 if pd else n,
                n if pd else 0,
                A.ni[i, CF_DISCOVERY] == 1,
                A.ni[i, CF_CUSTOM] == 1,
            )
            _step_call(A, i, OP_CREATE_ENI, raw[0], raw[1], now_s, sti, std)
            if raw[1] == wk.NO_ERROR:
                _pend(A, i, PEND_ENI, raw[2], raw[3], raw[4])
                _copy_out(A, ea, i, raw[4])
            elif raw[1] != wk.E_THROTTLED:
                sti[1] = 1
    if A.ni[i, ND_PEND] != PEND_NONE:
        A.ni[i, ND_OUTCOME] = O_PENDING
    elif sti[2] >= 0:
        A.ni[i, ND_OUTCOME] = O_OF_ERROR[sti[2]]
    else:
        A.ni[i, ND_OUTCOME] = O_MAX_ENIS


@njit(cache=True, **NO_NRT)
def _decrease(A: Any, W: Any, i: int, now_s: float, sti: Any, std: Any) -> None:
    """tryUnassignCidrsFromAll: up to ``over`` unused CIDRs, one call per ENI that gives any."""
    sa, ea, _, erng = W
    if A.ni[i, CF_WARM_IP_MODE]:
        over = _target_state(A, i)[1]
    else:
        over = max(_free_prefixes(A, i) - A.ni[i, CF_WARM_PREFIX], 0)
    s = A.ni[i, CF_S]
    z = A.ni[i, CF_Z]
    for k in range(A.ni[i, ND_N_ENIS]):
        if over <= 0:
            break
        g = _eni_slot(A, i, k)
        row = A.ni[i, CF_CIDR_BASE] + (g - A.ni[i, CF_ENI_BASE]) * s
        n_freed = 0
        kept = 0
        for c in range(A.ei[g, EI_NCIDR]):
            slot = A.ci[row + c, CI_ORDER]
            gc = row + slot
            if n_freed < over and A.ci[gc, CI_NASSIGNED] == 0:
                A.scratch[n_freed] = A.ci[gc, CI_ADDR]
                A.ci[gc, CI_USED] = False
                n_freed += 1
            else:
                A.ci[row + kept, CI_ORDER] = slot
                kept += 1
        if n_freed == 0:
            continue
        A.ei[g, EI_NCIDR] = kept
        A.ni[i, ND_TOTAL] -= n_freed * z
        raw = wk.unassign(sa, ea, erng, now_s, A.ei[g, EI_ID], A.scratch[:n_freed], z == 16)
        _step_call(A, i, OP_UNASSIGN, raw[0], raw[1], now_s, sti, std)
        over -= n_freed


@njit(cache=True, **NO_NRT)
def _try_free(A: Any, W: Any, i: int, now_s: float, sti: Any, std: Any) -> None:
    """tryFreeENI: free at most one ENI."""
    k = _deletable(A, i, now_s)
    if k < 0:
        return
    sa, ea, _, erng = W
    eni_id = A.ei[_eni_slot(A, i, k), EI_ID]
    _drop_eni_at(A, i, k)
    raw = wk.free_eni(sa, ea, erng, now_s, eni_id)
    _step_call(A, i, OP_FREE_ENI, raw[0], raw[1], now_s, sti, std)


@njit(cache=True, **NO_NRT)
def _end_step(A: Any, i: int, now_s: float, sti: Any, std: Any, decreased: bool) -> None:
    end_s = now_s + std[0]
    if sti[0] > 0:
        A.ni[i, ND_BUSY] = 1
        A.nf[i, NF_STEP_END] = end_s
    if sti[1]:
        A.nf[i, NF_INSUFF_UNTIL] = end_s + INSUFFICIENT_CIDR_PAUSE_S
    if decreased:
        A.nf[i, NF_LAST_DEC] = end_s
    A.nf[i, NF_NEXT_STEP] = end_s + A.par[P_POOL]


@njit(cache=True, **NO_NRT)
def _pool_step(A: Any, W: Any, i: int, now_s: float, sti: Any, std: Any) -> float:
    """updateIPPoolIfRequired; returns the earliest time the same step could decide
    otherwise if it made no call (inf: only a pod event can change it)."""
    sti[0] = 0
    sti[1] = 0
    std[0] = 0.0
    stats_avail = A.ni[i, ND_TOTAL] - A.ni[i, ND_ASSIGNED]
    decreased = False
    wake_s = math.inf
    if _pool_low(A, i):
        if now_s <= A.nf[i, NF_INSUFF_UNTIL]:
            wake_s = A.nf[i, NF_INSUFF_UNTIL]
        _increase(A, W, i, now_s, sti, std)
    elif _is_high(A, i):
        if now_s - A.nf[i, NF_LAST_DEC] > DECREASE_INTERVAL_S:
            decreased = True
            _decrease(A, W, i, now_s, sti, std)
        else:
            wake_s = A.nf[i, NF_LAST_DEC] + DECREASE_INTERVAL_S
    if _should_remove(A, i, stats_avail):
        n_calls = sti[0]
        _try_free(A, W, i, now_s, sti, std)
        if sti[0] == n_calls:
            wake_s = min(wake_s, _free_candidate_s(A, i))
    _end_step(A, i, now_s, sti, std, decreased)
    return wake_s


# ====================================================================== phases
@njit(cache=True, **NO_NRT)
def _join(A: Any, W: Any, i: int, now_s: float, k: int, sti: Any, std: Any) -> None:
    """Phase 1: launch, trunk, node-init pre-scaling."""
    sa, ea, srng, _ = W
    A.ni[i, ND_ENGINE_JOINED] = 1
    A.nf[i, NF_JOIN_S] = now_s
    inst = ea.ctr[wk.C_NEXT_INSTANCE]
    raw = wk.launch_instance(sa, ea, srng, now_s, A.ni[i, CF_NODE_SUBNET])
    if raw[1] != wk.NO_ERROR:
        A.ni[i, ND_LAUNCH_FAILED] = 1
        return
    A.ni[i, ND_INSTANCE] = inst
    A.ni[i, ND_JOINED] = 1
    _new_eni(A, i, raw[2], raw[3], EK_PRIMARY, now_s)
    if A.ni[i, CF_TRUNKING] and A.ni[i, CF_MAX_ENIS] >= 2:
        raw = wk.attach_trunk_eni(sa, ea, srng, now_s, inst, A.ni[i, CF_POD_SUBNET])
        if raw[1] == wk.NO_ERROR:
            _new_eni(A, i, raw[2], raw[3], EK_TRUNK, now_s)
    sti[0] = 0
    sti[1] = 0
    std[0] = 0.0
    if _pool_low(A, i):
        _increase(A, W, i, now_s, sti, std)
    _end_step(A, i, now_s, sti, std, False)
    _schedule_after_step(A, i, k, k)


@njit(cache=True, **NO_NRT)
def _schedule_after_step(A: Any, i: int, k: int, k_min: int) -> None:
    """After a step (or node init) at tick k: its completion, or its next step."""
    tick = A.par[P_TICK]
    if A.ni[i, ND_BUSY]:
        key = max(first_tick(A.nf[i, NF_STEP_END], tick), k_min)
        nh_set(A, A.ni[:, NI_DONE_HEAP], A.ni[:, NI_DONE_POS], ND_DONE_K, C_DONE_SIZE, i, key)
    else:
        key = max(first_tick(A.nf[i, NF_NEXT_STEP], tick), k_min)
        nh_set(A, A.ni[:, NI_STEP_HEAP], A.ni[:, NI_STEP_POS], ND_STEP_K, C_STEP_SIZE, i, key)


@njit(cache=True, **NO_NRT)
def _leave(A: Any, W: Any, i: int, now_s: float) -> None:
    """Phase 1: terminate; every address returns, pods go (waiting ones dropped lazily)."""
    sa, ea, _, _ = W
    A.ni[i, ND_LEFT] = 1
    A.nf[i, NF_LEAVE_S] = now_s
    if A.ni[i, ND_INSTANCE] >= 0:
        wk.terminate_instance(sa, ea, now_s, A.ni[i, ND_INSTANCE])
    base = A.ni[i, CF_ENI_BASE]
    A.ei[base : base + A.ni[i, CF_MAX_ENIS], EI_ID] = -1
    A.ni[i, ND_N_ENIS] = 0
    A.ni[i, ND_TOTAL] = 0
    A.ni[i, ND_ASSIGNED] = 0
    A.ni[i, ND_N_BRANCH] = 0
    A.ni[i, ND_N_COOLING] = 0
    A.ni[i, ND_TRUNK] = -1
    A.ni[i, ND_PEND] = PEND_NONE
    A.ni[i, ND_JOINED] = 0
    A.ni[i, ND_BUSY] = 0
    A.ni[i, ND_ASLEEP] = 0
    A.nf[i, NF_NEXT_STEP] = math.inf
    nh_remove(A, A.ni[:, NI_STEP_HEAP], A.ni[:, NI_STEP_POS], ND_STEP_K, C_STEP_SIZE, i)
    nh_remove(A, A.ni[:, NI_DONE_HEAP], A.ni[:, NI_DONE_POS], ND_DONE_K, C_DONE_SIZE, i)


@njit(cache=True, **NO_NRT)
def _complete(A: Any, i: int, now_s: float) -> None:
    """Phase 2: the step's addition enters the datastore; the node is idle."""
    kind = A.ni[i, ND_PEND]
    src = A.ni[i, CF_CIDR_BASE] + A.ni[i, CF_MAX_ENIS] * A.ni[i, CF_S]
    if kind == PEND_ENI:
        g = _new_eni(A, i, A.ni[i, ND_PEND_ENI], A.ni[i, ND_PEND_PRIMARY], EK_SECONDARY, now_s)
        _append_cidrs(A, i, g, src, A.ni[i, ND_PEND_N])
    elif kind == PEND_CIDRS:
        for k in range(A.ni[i, ND_N_ENIS]):
            g = _eni_slot(A, i, k)
            if A.ei[g, EI_ID] == A.ni[i, ND_PEND_ENI]:
                _append_cidrs(A, i, g, src, A.ni[i, ND_PEND_N])
                break  # not found: freed in the same step, EC2 took the addresses back
    A.ni[i, ND_PEND] = PEND_NONE
    A.ni[i, ND_BUSY] = 0
    if math.isnan(A.nf[i, NF_READY_S]) and A.ni[i, ND_TOTAL] > 0:
        A.nf[i, NF_READY_S] = now_s


@njit(cache=True, **NO_NRT)
def _wake(A: Any, i: int, k: int) -> None:
    """The datastore of node i changed at tick k: a sleeping node steps at its next grid tick."""
    if not A.ni[i, ND_ASLEEP]:
        return
    g = _grid_at_or_after(A, A.ni[i, ND_ANCHOR_K], k)
    if A.ni[i, NI_STEP_POS] < 0 or g < A.ni[i, ND_STEP_K]:
        nh_set(A, A.ni[:, NI_STEP_HEAP], A.ni[:, NI_STEP_POS], ND_STEP_K, C_STEP_SIZE, i, g)


@njit(cache=True, **NO_NRT)
def _finish(A: Any, p: int, outcome: int, wait_s: float) -> None:
    A.pi[p, PI_STATE] = DONE
    A.pi[p, PI_OUTCOME] = outcome
    A.pf[p, PF_WAIT] = wait_s


@njit(cache=True, **NO_NRT)
def _drop_if_gone(A: Any, p: int) -> bool:
    """A waiting pod whose node left was dropped at the leave (recorded now)."""
    i = A.pi[p, PI_NODE]
    if not A.ni[i, ND_LEFT]:
        return False
    if A.pi[p, PI_STATE] == WAITING:
        _finish(A, p, DROPPED, A.nf[i, NF_LEAVE_S] - A.pf[p, PF_FIRST])
    return True


@njit(cache=True, **NO_NRT)
def _del(A: Any, p: int, now_s: float, k: int) -> None:
    """Phase 3: one pod DEL."""
    if _drop_if_gone(A, p):
        return
    state = A.pi[p, PI_STATE]
    i = A.pi[p, PI_NODE]
    if state == WAITING:
        _finish(A, p, CANCELLED, now_s - A.pf[p, PF_FIRST])
        if A.pi[p, PI_BRANCH]:
            A.ctr[C_BRANCH_UNPLACED] -= 1
    elif state == NEW:
        _finish(A, p, CANCELLED, 0.0)
        if A.pi[p, PI_BRANCH]:
            A.ctr[C_BRANCH_UNPLACED] -= 1
    elif state == RUNNING:
        A.pi[p, PI_STATE] = DONE
        if A.pi[p, PI_BRANCH]:
            A.ni[i, ND_N_BRANCH] -= 1
            A.ni[i, ND_N_COOLING] += 1
            t = A.ctr[C_COOL_TAIL]
            A.qf[QF_COOL, t] = now_s + A.par[P_BRANCH_CD]
            A.qi[QI_COOL_NODE, t] = i
            A.qi[QI_COOL_ENI, t] = A.pi[p, PI_WHERE]
            A.ctr[C_COOL_TAIL] = t + 1
        else:
            a = A.pi[p, PI_WHERE]
            A.addr_pod[a] = -1
            A.addr_cool[a] = now_s + A.nf[i, NF_COOLDOWN]
            gc = A.ni[i, CF_CIDR_BASE] + (a - A.ni[i, CF_ADDR_BASE]) // A.ni[i, CF_Z]
            A.ci[gc, CI_NASSIGNED] -= 1
            g = A.ni[i, CF_ENI_BASE] + (gc - A.ni[i, CF_CIDR_BASE]) // A.ni[i, CF_S]
            A.ei[g, EI_NASSIGNED] -= 1
            A.ni[i, ND_ASSIGNED] -= 1
            _wake(A, i, k)


@njit(cache=True, **NO_NRT)
def _place(A: Any, prng: Any, i: int, p: int, now_s: float, random: bool) -> bool:
    """AssignPodIPv4Address: the pod gets an eligible address (first fit or random)."""
    z = A.ni[i, CF_Z]
    n_eligible_enis = 0
    for k in range(A.ni[i, ND_N_ENIS]):
        g = _eni_slot(A, i, k)
        if _eligible_cidrs(A, i, g, now_s, -1) > 0:
            n_eligible_enis += 1
            if not random:
                break
    if n_eligible_enis == 0:
        return False
    pick = _rng.integers(prng, n_eligible_enis) if random else 0
    for k in range(A.ni[i, ND_N_ENIS]):
        g = _eni_slot(A, i, k)
        if _eligible_cidrs(A, i, g, now_s, -1) == 0:
            continue
        if pick > 0:
            pick -= 1
            continue
        m = _eligible_cidrs(A, i, g, now_s, -1)
        nth = int(_rng.integers(prng, m)) if random else 0
        gc = _eligible_cidrs(A, i, g, now_s, nth)
        a0 = _addr_of(A, i, gc)
        for a in range(a0, a0 + z):
            if A.addr_pod[a] < 0 and now_s > A.addr_cool[a]:
                A.addr_pod[a] = p
                A.pi[p, PI_WHERE] = a
                A.ci[gc, CI_NASSIGNED] += 1
                A.ei[g, EI_NASSIGNED] += 1
                A.ni[i, ND_ASSIGNED] += 1
                return True
    return False


@njit(cache=True, **NO_NRT)
def _eligible_cidrs(A: Any, i: int, g: int, now_s: float, nth: int) -> int:
    """With nth < 0: how many CIDRs of the ENI in slot g have an eligible address;
    else the slot of the nth such CIDR."""
    z = A.ni[i, CF_Z]
    n = 0
    for c in range(A.ei[g, EI_NCIDR]):
        gc = _cidr_slot(A, i, g, c)
        if A.ci[gc, CI_NASSIGNED] == z:
            continue
        a0 = _addr_of(A, i, gc)
        for a in range(a0, a0 + z):
            if A.addr_pod[a] < 0 and now_s > A.addr_cool[a]:
                if n == nth:
                    return gc
                n += 1
                break
    return n


@njit(cache=True, **NO_NRT)
def _add_branch(A: Any, W: Any, i: int, p: int, now_s: float) -> int:
    """An SGP pod's branch ENI: -1 if it got one, else the FAIL_REASONS index."""
    if not A.ni[i, ND_JOINED]:
        return R_NOT_READY
    trunk = A.ni[i, ND_TRUNK]
    if trunk < 0:
        return R_NO_TRUNK
    if A.ni[i, ND_N_BRANCH] + A.ni[i, ND_N_COOLING] >= A.ni[i, CF_MAX_BRANCH]:
        return R_AT_LIMIT
    sa, ea, srng, erng = W
    subnet = ea.eni_subnet[A.ei[trunk, EI_ID]]
    raw = wk.create_branch_eni(sa, ea, srng, erng, now_s, A.ni[i, ND_INSTANCE], subnet)
    _count_op(A, i, OP_CREATE_BRANCH, raw[1])
    if raw[1] != wk.NO_ERROR:
        return R_BRANCH_THROTTLED if raw[1] == wk.E_THROTTLED else R_BRANCH_SUBNET
    A.pi[p, PI_WHERE] = raw[2]
    A.ni[i, ND_N_BRANCH] += 1
    return -1


@njit(cache=True, **NO_NRT)
def _add(A: Any, W: Any, prng: Any, p: int, seq: int, now_s: float, k: int, rnd: bool) -> None:
    """Phase 4: one ADD attempt."""
    i = A.pi[p, PI_NODE]
    A.ni[i, ND_N_ADDS] += 1
    if A.pi[p, PI_BRANCH]:
        reason = _add_branch(A, W, i, p, now_s)
        if reason < 0:
            A.ctr[C_BRANCH_UNPLACED] -= 1
    elif _place(A, prng, i, p, now_s, rnd):
        reason = -1
        _wake(A, i, k)
    elif not A.ni[i, ND_JOINED]:
        reason = R_NOT_READY
    elif A.ni[i, ND_TOTAL] > A.ni[i, ND_ASSIGNED]:
        reason = R_COOLING
    else:
        reason = R_NO_IP + A.ni[i, ND_OUTCOME]
    if reason < 0:
        A.pi[p, PI_STATE] = RUNNING
        A.pi[p, PI_OUTCOME] = PLACED
        A.pf[p, PF_WAIT] = now_s - A.pf[p, PF_FIRST]
        return
    A.ni[i, ND_N_FAILED] += 1
    A.ni[i, NI_REASON + reason] += 1
    A.pi[p, PI_NFAIL] += 1
    A.pi[p, PI_REASON] = reason
    A.ctr[C_ADD_SIZE] = ev_push(
        A.qf[QF_ADD],
        A.qi[QI_ADD_SEQ],
        A.qi[QI_ADD_POD],
        A.ctr[C_ADD_SIZE],
        now_s + A.par[P_RETRY],
        seq,
        p,
    )


@njit(cache=True, **NO_NRT)
def node_metrics(A: Any, i: int, now_s: float, out: Any) -> None:
    """The contract's METRICS of node i at now_s into ``out`` (zeros if not joined)."""
    out[:] = 0
    if not A.ni[i, ND_JOINED]:
        return
    z = A.ni[i, CF_Z]
    n_cooling = 0
    for k in range(A.ni[i, ND_N_ENIS]):
        g = _eni_slot(A, i, k)
        for c in range(A.ei[g, EI_NCIDR]):
            a0 = _addr_of(A, i, _cidr_slot(A, i, g, c))
            for a in range(a0, a0 + z):
                if A.addr_pod[a] < 0 and now_s <= A.addr_cool[a]:
                    n_cooling += 1
    n_enis = A.ni[i, ND_N_ENIS]
    total = A.ni[i, ND_TOTAL]
    assigned = A.ni[i, ND_ASSIGNED]
    out[0] = n_enis
    out[1] = total
    out[2] = assigned
    out[3] = total - assigned
    out[4] = n_cooling
    out[5] = _n_cidrs(A, i) if A.ni[i, CF_PD] else 0
    out[6] = n_enis + total + A.ni[i, ND_N_BRANCH] + A.ni[i, ND_N_COOLING]
    out[7] = A.ni[i, ND_N_BRANCH]


@njit(cache=True, **NO_NRT)
def _sample(A: Any, sa: Any, now_s: float) -> None:
    """Phase 6: every joined node's metrics and every subnet's counts."""
    n = A.ctr[C_N_SAMPLES]
    for i in range(A.ctr[C_N_NODES]):
        if A.ni[i, ND_JOINED]:
            row = A.scratch[SCRATCH_METRICS : SCRATCH_METRICS + SMP_NODE]
            node_metrics(A, i, now_s, row)
            for j in range(SMP_NODE):
                A.smp[n, j] = row[j]
            A.smp_s[n] = now_s
            A.smp[n, SMP_NODE] = i
            n += 1
    A.ctr[C_N_SAMPLES] = n
    m = A.ctr[C_N_SUBNET_SAMPLES]
    for s in range(sa.sn_n_free.size):
        A.ssm[m, s, 0] = sa.sn_n_free[s]
        A.ssm[m, s, 1] = sa.sn_n_free_blocks[s, 0] + sa.sn_n_free_blocks[s, 1]
    A.ssm_s[m] = now_s
    A.ctr[C_N_SUBNET_SAMPLES] = m + 1
    A.par[P_NEXT_SAMPLE] = next_sample(now_s, A.par[P_SAMPLE_EVERY])


@njit(cache=True, **NO_NRT)
def _cool_due_k(A: Any) -> int:
    """Tick of the first branch ENI deletion (now_s > deadline)."""
    if A.ctr[C_COOL_HEAD] == A.ctr[C_COOL_TAIL]:
        return NEVER_K
    t = A.qf[QF_COOL, A.ctr[C_COOL_HEAD]]
    tick = A.par[P_TICK]
    k = first_tick(t, tick)
    return k + 1 if k < NEVER_K and k * tick <= t else k


@njit(cache=True, **NO_NRT)
def _due_k(A: Any) -> int:
    """The next tick at which anything is due."""
    tick = A.par[P_TICK]
    k = min(A.ctr[C_JL_K], first_tick(A.par[P_NEXT_SAMPLE], tick))
    k = min(k, _nh_top_key(A, A.ni[:, NI_DONE_HEAP], ND_DONE_K, C_DONE_SIZE))
    k = min(k, _nh_top_key(A, A.ni[:, NI_STEP_HEAP], ND_STEP_K, C_STEP_SIZE))
    if A.ctr[C_ADD_SIZE] > 0:
        k = min(k, first_tick(A.qf[QF_ADD, 0], tick))
    if A.ctr[C_DEL_SIZE] > 0:
        k = min(k, first_tick(A.qf[QF_DEL, 0], tick))
    return max(min(k, _cool_due_k(A)), A.ctr[C_K_NEXT])


@njit(cache=True, **NO_NRT)
def refresh_join_leave(A: Any) -> None:
    """The tick of the next join or leave (after nodes are added or removed)."""
    tick = A.par[P_TICK]
    k = NEVER_K
    for i in range(A.ctr[C_N_NODES]):
        if not A.ni[i, ND_ENGINE_JOINED]:
            k = min(k, first_tick(A.nf[i, NF_JOIN_DUE], tick))
        elif not A.ni[i, ND_LEFT]:
            k = min(k, first_tick(A.nf[i, NF_LEAVE_DUE], tick))
    A.ctr[C_JL_K] = k


@njit(cache=True, **NO_NRT)
def _tick(A: Any, W: Any, prng: Any, k: int, rnd: bool, sti: Any, std: Any) -> None:
    """One tick, the six phases of the contract in order."""
    now_s = k * A.par[P_TICK]
    A.ctr[C_N_TICKS] += 1
    # 1. joins and leaves
    if A.ctr[C_JL_K] <= k:
        for i in range(A.ctr[C_N_NODES]):
            if not A.ni[i, ND_ENGINE_JOINED] and A.nf[i, NF_JOIN_DUE] <= now_s:
                _join(A, W, i, now_s, k, sti, std)
            joined = A.ni[i, ND_ENGINE_JOINED] and not A.ni[i, ND_LEFT]
            if joined and A.nf[i, NF_LEAVE_DUE] <= now_s:
                _leave(A, W, i, now_s)
        refresh_join_leave(A)
    # 2. completions
    while A.ctr[C_DONE_SIZE] > 0 and A.ni[A.ni[0, NI_DONE_HEAP], ND_DONE_K] <= k:
        i = A.ni[0, NI_DONE_HEAP]
        nh_remove(A, A.ni[:, NI_DONE_HEAP], A.ni[:, NI_DONE_POS], ND_DONE_K, C_DONE_SIZE, i)
        _complete(A, i, now_s)
        _schedule_after_step(A, i, k, k)
    # 3. cooled-down branch ENIs, then DELs
    sa, ea, _, erng = W
    while A.ctr[C_COOL_HEAD] < A.ctr[C_COOL_TAIL] and now_s > A.qf[QF_COOL, A.ctr[C_COOL_HEAD]]:
        h = A.ctr[C_COOL_HEAD]
        A.ctr[C_COOL_HEAD] = h + 1
        i = A.qi[QI_COOL_NODE, h]
        if not A.ni[i, ND_LEFT]:
            A.ni[i, ND_N_COOLING] -= 1
            raw = wk.delete_branch_eni(sa, ea, erng, now_s, A.qi[QI_COOL_ENI, h])
            _count_op(A, i, OP_DELETE_BRANCH, raw[1])
    while A.ctr[C_DEL_SIZE] > 0 and A.qf[QF_DEL, 0] <= now_s:
        p = A.qi[QI_DEL_POD, 0]
        A.ctr[C_DEL_SIZE] = ev_pop(
            A.qf[QF_DEL], A.qi[QI_DEL_SEQ], A.qi[QI_DEL_POD], A.ctr[C_DEL_SIZE]
        )
        _del(A, p, now_s, k)
    # 4. ADDs in (due, sequence) order
    while A.ctr[C_ADD_SIZE] > 0 and A.qf[QF_ADD, 0] <= now_s:
        p = A.qi[QI_ADD_POD, 0]
        seq = A.qi[QI_ADD_SEQ, 0]
        A.ctr[C_ADD_SIZE] = ev_pop(
            A.qf[QF_ADD], A.qi[QI_ADD_SEQ], A.qi[QI_ADD_POD], A.ctr[C_ADD_SIZE]
        )
        state = A.pi[p, PI_STATE]
        if state == DONE or _drop_if_gone(A, p):
            if state == NEW:
                _finish(A, p, DROPPED, 0.0)  # its node is gone: never tried
            if state != DONE and A.pi[p, PI_BRANCH]:
                A.ctr[C_BRANCH_UNPLACED] -= 1
            continue
        if state == NEW:
            A.pi[p, PI_STATE] = WAITING
            A.pi[p, PI_OUTCOME] = OUT_WAITING
        _add(A, W, prng, p, seq, now_s, k, rnd)
    # 5. pool steps, in node order
    while A.ctr[C_STEP_SIZE] > 0 and A.ni[A.ni[0, NI_STEP_HEAP], ND_STEP_K] <= k:
        i = A.ni[0, NI_STEP_HEAP]
        nh_remove(A, A.ni[:, NI_STEP_HEAP], A.ni[:, NI_STEP_POS], ND_STEP_K, C_STEP_SIZE, i)
        A.ctr[C_N_NODE_STEPS] += 1
        A.ni[i, ND_ASLEEP] = 0
        wake_s = _pool_step(A, W, i, now_s, sti, std)
        if A.ni[i, ND_BUSY]:
            _schedule_after_step(A, i, k, k + 1)
        else:
            A.ni[i, ND_ASLEEP] = 1
            A.ni[i, ND_ANCHOR_K] = k
            if math.isfinite(wake_s):
                target = first_tick(wake_s - WAKE_EARLY_S, A.par[P_TICK])
                key = _grid_at_or_after(A, k, target)
                nh_set(
                    A, A.ni[:, NI_STEP_HEAP], A.ni[:, NI_STEP_POS], ND_STEP_K, C_STEP_SIZE, i, key
                )
            else:
                A.ni[i, ND_STEP_K] = NEVER_K
    # 6. sample
    if now_s >= A.par[P_NEXT_SAMPLE]:
        _sample(A, sa, now_s)


@njit(cache=True, **NO_NRT)
def run_ticks(
    A: Any,
    sa: Any,
    ea: Any,
    srng: Any,
    erng: Any,
    prng: Any,
    k_last: int,
    rnd: bool,
) -> int:
    """Run every due tick up to ``k_last``; RUN_DONE, or RUN_NEED_* to be called again
    once the arrays have room."""
    W = (sa, ea, srng, erng)
    sti = A.scratch[SCRATCH_STEP : SCRATCH_STEP + 3]
    std = A.par[P_STEP_DUR : P_STEP_DUR + 1]
    n_nodes = A.ctr[C_N_NODES]
    per_tick_owners = n_nodes * (2 + A.ctr[C_MAX_CAND])
    owner_room = min(sa.owner_subnets.size, ea.eni_kind.size)  # owner ids the World has room for
    while True:
        k = _due_k(A)
        if k > k_last:
            A.ctr[C_K_NEXT] = k_last + 1
            return RUN_DONE
        A.ctr[C_K_NEXT] = k
        sample_room = A.smp_s.size - A.ctr[C_N_SAMPLES] >= n_nodes
        sample_room = sample_room and A.ssm_s.size > A.ctr[C_N_SUBNET_SAMPLES]
        if k * A.par[P_TICK] >= A.par[P_NEXT_SAMPLE] and not sample_room:
            return RUN_NEED_SAMPLES
        used = sa.ctr[wk.C_NEXT_OWNER]
        if used + per_tick_owners + A.ctr[C_BRANCH_UNPLACED] > owner_room:
            return RUN_NEED_OWNERS
        _tick(A, W, prng, k, rnd, sti, std)
        A.ctr[C_K_NEXT] = k + 1


@njit(cache=True, **NO_NRT)
def _node_due_s(A: Any, i: int, k_next: int) -> float:
    """When node ``i`` next joins, leaves, completes a step or steps [s]."""
    if not A.ni[i, ND_ENGINE_JOINED]:
        return A.nf[i, NF_JOIN_DUE]
    if A.ni[i, ND_LEFT]:
        return math.inf
    t = A.nf[i, NF_LEAVE_DUE]
    if A.ni[i, ND_BUSY]:
        return min(t, A.nf[i, NF_STEP_END])
    if A.ni[i, ND_JOINED]:
        next_s = A.nf[i, NF_NEXT_STEP]
        if A.ni[i, ND_ASLEEP]:
            last = _grid_last_before(A, A.ni[i, ND_ANCHOR_K], k_next)
            next_s = last * A.par[P_TICK] + A.par[P_POOL]
        t = min(t, next_s)
    return t


@njit(cache=True, **NO_NRT)
def peek_nodes(A: Any, ids: Any) -> float:
    """When any of nodes ``ids`` next joins, leaves, completes a step or steps [s]."""
    k_next = A.ctr[C_K_NEXT]
    t = math.inf
    for i in ids:
        t = min(t, _node_due_s(A, i, k_next))
    return max(t, k_next * A.par[P_TICK])


@njit(cache=True, **NO_NRT)
def peek(A: Any) -> float:
    """When anything is next due, as the reference model counts it [s]."""
    tick = A.par[P_TICK]
    k_next = A.ctr[C_K_NEXT]
    t = A.par[P_NEXT_SAMPLE]
    for i in range(A.ctr[C_N_NODES]):
        t = min(t, _node_due_s(A, i, k_next))
    # first ADDs and retries; drop entries of pods no longer waiting
    while A.ctr[C_ADD_SIZE] > 0:
        p = A.qi[QI_ADD_POD, 0]
        if A.pi[p, PI_STATE] == DONE or (A.pi[p, PI_STATE] == WAITING and _drop_if_gone(A, p)):
            A.ctr[C_ADD_SIZE] = ev_pop(
                A.qf[QF_ADD], A.qi[QI_ADD_SEQ], A.qi[QI_ADD_POD], A.ctr[C_ADD_SIZE]
            )
            continue
        t = min(t, A.qf[QF_ADD, 0])
        break
    if A.ctr[C_DEL_SIZE] > 0:
        t = min(t, A.qf[QF_DEL, 0])
    if A.ctr[C_COOL_HEAD] < A.ctr[C_COOL_TAIL]:
        t = min(t, A.qf[QF_COOL, A.ctr[C_COOL_HEAD]])
    return max(t, k_next * tick)


@njit(cache=True, **NO_NRT)
def queue_pods(
    A: Any,
    t_s: Any,
    node: Any,
    delta: Any,
    pod: Any,
    branch: Any,
    max_pod_id: int,
) -> tuple[int, int]:
    """Queue a batch of ADDs and DELs in row order; (Q_OK, 0) or (error, row).

    A node not added, a pod id outside ``0 .. max_pod_id`` or too little room in the pod
    arrays (``(Q_NEED_ROOM, largest id)``: grow them and call again) is found before any row
    is queued."""
    largest = -1
    for r in range(t_s.size):
        if not 0 <= node[r] < A.ctr[C_N_NODES]:
            return Q_BAD_NODE, r
        if not 0 <= pod[r] <= max_pod_id:
            return Q_BAD_POD_ID, r
        largest = max(largest, pod[r])
    if largest >= A.pod_index.size or A.ctr[C_N_PODS] + t_s.size > A.pi.shape[0]:
        return Q_NEED_ROOM, largest
    for r in range(t_s.size):
        if delta[r] == 1:
            pid = pod[r]
            if A.pod_index[pid] >= 0:
                return Q_TWICE_ADDED, r
            p = A.ctr[C_N_PODS]
            A.ctr[C_N_PODS] = p + 1
            A.pod_index[pid] = p
            A.pi[p, PI_ID] = pid
            A.pi[p, PI_NODE] = node[r]
            A.pf[p, PF_FIRST] = t_s[r]
            A.pi[p, PI_BRANCH] = branch[r]
            A.pi[p, PI_STATE] = NEW
            A.pi[p, PI_OUTCOME] = -1
            A.pi[p, PI_NFAIL] = 0
            A.pi[p, PI_REASON] = -1
            A.pi[p, PI_DELETED] = False
            if branch[r]:
                A.ctr[C_BRANCH_UNPLACED] += 1
            seq = A.ctr[C_SEQ]
            A.ctr[C_SEQ] = seq + 1
            A.ctr[C_ADD_SIZE] = ev_push(
                A.qf[QF_ADD],
                A.qi[QI_ADD_SEQ],
                A.qi[QI_ADD_POD],
                A.ctr[C_ADD_SIZE],
                t_s[r],
                seq,
                p,
            )
        else:
            code = queue_del(A, t_s[r], pod[r])
            if code != Q_OK:
                return code, r
    return Q_OK, 0


@njit(cache=True, **NO_NRT)
def queue_del(A: Any, t_s: float, pid: int) -> int:
    """Queue one DEL; Q_OK or the error."""
    p = A.pod_index[pid] if 0 <= pid < A.pod_index.size else -1
    if p < 0:
        return Q_NEVER_ADDED
    if A.pi[p, PI_DELETED]:
        return Q_TWICE_DELETED
    if not math.isfinite(t_s) or t_s < A.pf[p, PF_FIRST]:
        return Q_DEL_BEFORE_ADD
    A.pi[p, PI_DELETED] = True
    seq = A.ctr[C_SEQ]
    A.ctr[C_SEQ] = seq + 1
    A.ctr[C_DEL_SIZE] = ev_push(
        A.qf[QF_DEL], A.qi[QI_DEL_SEQ], A.qi[QI_DEL_POD], A.ctr[C_DEL_SIZE], t_s, seq, p
    )
    return Q_OK


@njit(cache=True, **NO_NRT)
def queue_dels(A: Any, t_s: Any, pod: Any) -> tuple[int, int]:
    """Queue DELs in the order given; (Q_OK, 0) or (error, index)."""
    for r in range(t_s.size):
        code = queue_del(A, t_s[r], pod[r])
        if code != Q_OK:
            return code, r
    return Q_OK, 0


@njit(cache=True, **NO_NRT)
def all_metrics(A: Any, now_s: float, out: Any) -> None:
    """METRICS of every node at now_s into ``out`` (n_nodes, len(METRICS))."""
    for i in range(A.ctr[C_N_NODES]):
        node_metrics(A, i, now_s, out[i])
