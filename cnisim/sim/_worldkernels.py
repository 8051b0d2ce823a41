"""Compiled kernels of the fast World: the subnets and the EC2 model as arrays.

The same rules, in the same order, with the same draws as :mod:`cnisim.sim.subnet` and
:mod:`cnisim.sim.ec2` (their docstrings state the model; this module states only how it is
laid out). :mod:`cnisim.sim.fastworld` wraps these kernels for Python callers, and the fast
engine's kernels call them directly.

Layout
------
``SubnetArrays``: every subnet's addresses side by side in flat arrays (a subnet's first
address at ``sn_start[s]``; sizes are multiples of 16, so address ``a`` lies in the aligned
/28 block ``a >> 4``), with per-block and per-subnet counts kept up to date, so that counts
and the free-/28 search cost no scan of the addresses. ``Ec2Arrays``: ENIs by ENI id (owner
ids are shared with other holders), instances by id, one token bucket and one set of
counters per API action (in :data:`cnisim.sim.contract.ACTIONS` order), attempts per minute.

An operation returns ``(done_s, error, eni_id, primary_ip, n_addresses, n_throttled,
subnet)`` with error -1 (none) or an index into :data:`cnisim.sim.contract.ERROR_CODES`, and
writes its addresses to ``ea.out``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numba import njit
from numpy.typing import NDArray

from cnisim.sim import _rng

# address states (cnisim.sim.subnet.STATE_*) and reservation kinds
FREE = 0
AWS_RESERVED = 1
PRIMARY = 2
SECONDARY = 3
PREFIX = 4
FIXED = 5
PICKED = 255  # transient mark of an address drawn but not yet taken
RES_NONE = 0
RES_EXPLICIT = 1
RES_PREFIX = 2
# error codes (ERROR_CODES order)
NO_ERROR = -1
E_FREE = 0
E_CIDR = 1
E_THROTTLED = 2
# ENI kinds
K_NONE = 0
K_PRIMARY = 1
K_TRUNK = 2
K_SECONDARY = 3
K_BRANCH = 4
# EC2 actions (ACTIONS order)
A_ASSIGN = 0
A_UNASSIGN = 1
A_CREATE = 2
A_DELETE = 3
A_MODIFY = 4
A_ATTACH = 5
A_DETACH = 6
A_ASSOCIATE = 7
A_DISASSOCIATE = 8
A_DESCRIBE_SUBNETS = 9
A_DESCRIBE_ENIS = 10
A_DESCRIBE_INSTANCES = 11
N_ACTIONS = 12
# clients
CONTROLLER = -1
NO_CLIENT = -2
# Ec2Arrays.p indices
P_IMDS_FIRST = 0
P_IMDS_MAX = 1
P_JITTER = 2
P_IMDS_POLLS = 3
P_DETACH_SLEEP = 4
P_MAX_ATTEMPTS = 5
P_CTRL_ATTEMPTS = 6
P_MAX_BACKOFF = 7
P_QUOTA = 8  # -1: no retry quota
P_RETRY_COST = 9
P_NO_RETRY_INC = 10
P_BACKOFF_CAP_ATTEMPT = 11
N_PARAMS = 12
# SubnetArrays.ctr / Ec2Arrays.ctr indices
C_NEXT_OWNER = 0
C_NEXT_INSTANCE = 0
C_LATE = 1  # attempts at a minute past the per-minute arrays (a capacity miss)


class SubnetArrays(NamedTuple):
    """The subnets as flat arrays (see the module docstring)."""

    state: NDArray[np.uint8]
    owner: NDArray[np.int64]
    reservation: NDArray[np.uint8]
    ip_allowed: NDArray[np.bool_]
    blk_free: NDArray[np.int64]
    blk_free_allowed: NDArray[np.int64]
    blk_allowed: NDArray[np.bool_]
    blk_in_res: NDArray[np.bool_]
    sn_start: NDArray[np.int64]
    sn_size: NDArray[np.int64]
    sn_base: NDArray[np.int64]
    sn_n_free: NDArray[np.int64]
    sn_n_free_allowed: NDArray[np.int64]
    sn_n_free_blocks: NDArray[np.int64]  # (n_subnets, 2): in a prefix reservation, others
    sn_failures: NDArray[np.int64]  # (n_subnets, 2): InsufficientFree..., InsufficientCidr...
    sn_first_failure_s: NDArray[np.float64]  # (n_subnets, 2), inf: never
    owner_subnets: NDArray[np.uint64]  # bit s: the owner holds addresses in subnet s
    ctr: NDArray[np.int64]
    pick: NDArray[np.int64]  # scratch: addresses of the allocation in progress


class Ec2Arrays(NamedTuple):
    """The EC2 model's state (see the module docstring)."""

    eni_subnet: NDArray[np.int64]
    eni_instance: NDArray[np.int64]
    eni_primary: NDArray[np.int64]
    eni_kind: NDArray[np.int8]
    inst_alive: NDArray[np.bool_]
    inst_quota: NDArray[np.int64]
    ctrl_quota: NDArray[np.int64]
    bk_tokens: NDArray[np.float64]
    bk_last_s: NDArray[np.float64]
    bk_cap: NDArray[np.float64]
    bk_refill: NDArray[np.float64]
    lat: NDArray[np.float64]  # (N_ACTIONS, 3): median_s, sigma, max_s
    ready_lat: NDArray[np.float64]  # (3,)
    p: NDArray[np.float64]
    n_calls: NDArray[np.int64]
    n_sdk_calls: NDArray[np.int64]
    n_throttled: NDArray[np.int64]
    n_quota_exhausted: NDArray[np.int64]
    n_errors: NDArray[np.int64]
    minute_calls: NDArray[np.int64]  # (n_minutes, N_ACTIONS)
    minute_throttled: NDArray[np.int64]
    ctr: NDArray[np.int64]
    out: NDArray[np.int64]  # addresses of the last operation


OpResult = tuple[float, int, int, int, int, int, int]


# ====================================================================== subnets
@njit(cache=True)
def _take_one(sa: Any, s: int, a: int, owner: int, state: int) -> None:
    sa.state[a] = state
    sa.owner[a] = owner
    b = a >> 4
    if sa.blk_free[b] == 16 and sa.blk_allowed[b]:
        sa.sn_n_free_blocks[s, 0 if sa.blk_in_res[b] else 1] -= 1
    sa.blk_free[b] -= 1
    sa.sn_n_free[s] -= 1
    if sa.ip_allowed[a]:
        sa.blk_free_allowed[b] -= 1
        sa.sn_n_free_allowed[s] -= 1


@njit(cache=True)
def _give_one(sa: Any, s: int, a: int) -> None:
    sa.state[a] = FREE
    sa.owner[a] = -1
    b = a >> 4
    sa.blk_free[b] += 1
    if sa.blk_free[b] == 16 and sa.blk_allowed[b]:
        sa.sn_n_free_blocks[s, 0 if sa.blk_in_res[b] else 1] += 1
    sa.sn_n_free[s] += 1
    if sa.ip_allowed[a]:
        sa.blk_free_allowed[b] += 1
        sa.sn_n_free_allowed[s] += 1


@njit(cache=True)
def _mark_owner(sa: Any, owner: int, s: int) -> None:
    sa.owner_subnets[owner] |= np.uint64(1) << np.uint64(s)


@njit(cache=True)
def _fail(sa: Any, s: int, code: int, now_s: float) -> None:
    sa.sn_failures[s, code] += 1
    if not math.isnan(now_s) and now_s < sa.sn_first_failure_s[s, code]:
        sa.sn_first_failure_s[s, code] = now_s


@njit(cache=True)
def _nth_free_allowed(sa: Any, s: int, r: int | np.int64) -> int:
    """The address of the r-th free address outside reservations (in address order)."""
    start = sa.sn_start[s]
    b = start >> 4
    while sa.blk_free_allowed[b] <= r:
        r -= sa.blk_free_allowed[b]
        b += 1
    a = b << 4
    while True:
        if sa.state[a] == FREE and sa.ip_allowed[a]:
            if r == 0:
                return a
            r -= 1
        a += 1


@njit(cache=True)
def allocate_ips(sa: Any, rng: Any, s: int, n: int, owner: int, state: int, now_s: float) -> int:
    """Take ``n`` IPs EC2 picks; ``sa.pick[:n]`` gets them sorted. Returns an error or -1."""
    size = sa.sn_size[s]
    if sa.sn_n_free_allowed[s] < n:
        _fail(sa, s, E_FREE, now_s)
        return E_FREE
    if n == 0:
        return NO_ERROR
    start = sa.sn_start[s]
    if sa.sn_n_free_allowed[s] * 8 < size:
        for j in range(n):
            a = _nth_free_allowed(sa, s, _rng.integers(rng, sa.sn_n_free_allowed[s]))
            _take_one(sa, s, a, owner, state)
            sa.pick[j] = a
    else:
        n_free = sa.sn_n_free_allowed[s]
        chosen = 0
        while chosen < n:
            n_draws = max(2 * (n - chosen) * size // n_free, 8)
            for _ in range(n_draws):
                a = start + _rng.integers(rng, size)
                if chosen < n and sa.ip_allowed[a] and sa.state[a] == FREE:
                    sa.state[a] = PICKED
                    sa.pick[chosen] = a
                    chosen += 1
        for j in range(n):
            _take_one(sa, s, sa.pick[j], owner, state)
    _sort_in_place(sa.pick, n)
    _mark_owner(sa, owner, s)
    return NO_ERROR


@njit(cache=True)
def _sort_in_place(values: Any, n: int) -> None:
    """Sort ``values[:n]`` ascending (insertion sort: n is a few addresses; unlike
    ``ndarray.sort`` it needs no numba runtime, so kernels compiled without it can call it)."""
    for j in range(1, n):
        v = values[j]
        i = j - 1
        while i >= 0 and values[i] > v:
            values[i + 1] = values[i]
            i -= 1
        values[i + 1] = v


@njit(cache=True)
def allocate_prefixes(sa: Any, rng: Any, s: int, n: int, owner: int, now_s: float) -> int:
    """Take ``n`` free aligned /28s (reserved ones first); ``sa.pick[:n]`` gets their bases."""
    if sa.sn_n_free_blocks[s, 0] + sa.sn_n_free_blocks[s, 1] < n:
        _fail(sa, s, E_CIDR, now_s)
        return E_CIDR
    first_block = sa.sn_start[s] >> 4
    n_blocks = sa.sn_size[s] >> 4
    for j in range(n):
        group = 0 if sa.sn_n_free_blocks[s, 0] > 0 else 1
        r = _rng.integers(rng, sa.sn_n_free_blocks[s, group])
        b = first_block
        while True:
            if sa.blk_free[b] == 16 and sa.blk_allowed[b] and (sa.blk_in_res[b] == (group == 0)):
                if r == 0:
                    break
                r -= 1
            b += 1
        assert b < first_block + n_blocks
        for a in range(b << 4, (b << 4) + 16):
            _take_one(sa, s, a, owner, PREFIX)
        sa.pick[j] = b << 4
    _sort_in_place(sa.pick, n)
    if n:
        _mark_owner(sa, owner, s)
    return NO_ERROR


@njit(cache=True)
def release_owner(sa: Any, owner: int) -> int:
    """Return every address ``owner`` holds; the number returned."""
    mask = sa.owner_subnets[owner]
    n_released = 0
    for s in range(sa.sn_start.size):
        if (mask >> np.uint64(s)) & np.uint64(1):
            start = sa.sn_start[s]
            for a in range(start, start + sa.sn_size[s]):
                if sa.owner[a] == owner:
                    _give_one(sa, s, a)
                    n_released += 1
    sa.owner_subnets[owner] = np.uint64(0)
    return n_released


@njit(cache=True)
def release_addresses(sa: Any, s: int, addresses: Any, owner: int, prefixes: bool) -> int:
    """Return /32s (or /28s by base) ``owner`` holds; the first bad one's index, or -1."""
    start = sa.sn_start[s]
    for j in range(addresses.size):
        a = start + addresses[j] - sa.sn_base[s]
        if prefixes:
            if (a - start) % 16:
                return j
            for k in range(16):
                if sa.owner[a + k] != owner or sa.state[a + k] != PREFIX:
                    return j
        elif sa.owner[a] != owner or not (
            sa.state[a] == PRIMARY or sa.state[a] == SECONDARY or sa.state[a] == FIXED
        ):
            return j
    for j in range(addresses.size):
        a = start + addresses[j] - sa.sn_base[s]
        for k in range(16 if prefixes else 1):
            _give_one(sa, s, a + k)
    return -1


@njit(cache=True)
def take_addresses(sa: Any, s: int, addresses: Any, owner: int) -> int:
    """Take named addresses for a fixed holder; the first bad one's index, or -1."""
    start = sa.sn_start[s]
    for j in range(addresses.size):
        a = start + addresses[j] - sa.sn_base[s]
        if sa.state[a] != FREE or sa.reservation[a] == RES_PREFIX:
            return j
    for j in range(addresses.size):
        _take_one(sa, s, start + addresses[j] - sa.sn_base[s], owner, FIXED)
    if addresses.size:
        _mark_owner(sa, owner, s)
    return -1


@njit(cache=True)
def new_owner(sa: Any) -> int:
    owner = sa.ctr[C_NEXT_OWNER]
    sa.ctr[C_NEXT_OWNER] = owner + 1
    return owner


# ====================================================================== EC2 calls
@njit(cache=True)
def _try_take(ea: Any, action: int, t_s: float) -> bool:
    last = ea.bk_last_s[action]
    if t_s >= last:
        if last > -math.inf:
            refilled = ea.bk_tokens[action] + (t_s - last) * ea.bk_refill[action]
            ea.bk_tokens[action] = min(ea.bk_cap[action], refilled)
        ea.bk_last_s[action] = t_s
        available = ea.bk_tokens[action]
    else:
        available = ea.bk_tokens[action] - (last - t_s) * ea.bk_refill[action]
    if available >= 1.0:
        ea.bk_tokens[action] -= 1.0
        return True
    return False


@njit(cache=True)
def _quota_left(ea: Any, client: int) -> int:
    return ea.ctrl_quota[0] if client == CONTROLLER else ea.inst_quota[client]


@njit(cache=True)
def _add_quota(ea: Any, client: int, n_tokens: int) -> None:
    value = min(int(ea.p[P_QUOTA]), _quota_left(ea, client) + n_tokens)
    if client == CONTROLLER:
        ea.ctrl_quota[0] = value
    else:
        ea.inst_quota[client] = value


@njit(cache=True)
def draw_latency(ea: Any, rng: Any, median_s: float, sigma: float, max_s: float) -> float:
    return min(median_s * math.exp(sigma * _rng.standard_normal(rng)), max_s)


@njit(cache=True)
def _count_minute(ea: Any, action: int, t_s: float, throttled: bool) -> None:
    minute = np.int64(math.floor(t_s / 60.0))
    last = ea.minute_calls.shape[0] - 1
    if minute > last:
        ea.ctr[C_LATE] += 1
        minute = last
    ea.minute_calls[minute, action] += 1
    if throttled:
        ea.minute_throttled[minute, action] += 1


@njit(cache=True)
def call(ea: Any, rng: Any, action: int, t_s: float, client: int) -> tuple[float, bool, int]:
    """One SDK call with retries: (time it returns [s], succeeded, throttled attempts)."""
    max_attempts = int(ea.p[P_CTRL_ATTEMPTS] if client == CONTROLLER else ea.p[P_MAX_ATTEMPTS])
    use_quota = ea.p[P_QUOTA] >= 0 and client != NO_CLIENT
    cost = int(ea.p[P_RETRY_COST])
    n_throttled = 0
    ea.n_sdk_calls[action] += 1
    for attempt in range(1, max_attempts + 1):
        ea.n_calls[action] += 1
        granted = _try_take(ea, action, t_s)
        _count_minute(ea, action, t_s, not granted)
        if granted:
            if use_quota:
                refund = int(ea.p[P_NO_RETRY_INC]) + (cost if attempt > 1 else 0)
                _add_quota(ea, client, refund)
            lat = draw_latency(ea, rng, ea.lat[action, 0], ea.lat[action, 1], ea.lat[action, 2])
            return t_s + lat, True, n_throttled
        n_throttled += 1
        ea.n_throttled[action] += 1
        if attempt == max_attempts:
            break
        if use_quota:
            if _quota_left(ea, client) < cost:
                ea.n_quota_exhausted[action] += 1
                break
            _add_quota(ea, client, -cost)
        if attempt > int(ea.p[P_BACKOFF_CAP_ATTEMPT]):
            t_s += ea.p[P_MAX_BACKOFF]
        else:
            t_s += _rng.random(rng) * 2.0**attempt
    return t_s, False, n_throttled


@njit(cache=True)
def _imds_wait_s(ea: Any, rng: Any, visible_after_s: float) -> float:
    poll_s = 0.0
    sleep_s = ea.p[P_IMDS_FIRST]
    for _ in range(int(ea.p[P_IMDS_POLLS]) - 1):
        if poll_s >= visible_after_s:
            break
        poll_s += sleep_s * (1.0 + ea.p[P_JITTER] * _rng.random(rng))
        sleep_s = min(ea.p[P_IMDS_MAX], 2.0 * sleep_s)
    return poll_s


@njit(cache=True)
def _new_eni(ea: Any, eni: int, s: int, instance: int, primary: int, kind: int) -> None:
    ea.eni_subnet[eni] = s
    ea.eni_instance[eni] = instance
    ea.eni_primary[eni] = primary
    ea.eni_kind[eni] = kind


@njit(cache=True)
def _failed(ea: Any, t_s: float, error: int, n_throttled: int, s: int) -> OpResult:
    ea.n_errors[error] += 1
    return t_s, error, -1, -1, 0, n_throttled, s


# ====================================================================== EC2 operations
@njit(cache=True)
def _eni_without_calls(
    sa: Any, ea: Any, srng: Any, now_s: float, instance: int, s: int, kind: int
) -> OpResult:
    eni = new_owner(sa)
    if allocate_ips(sa, srng, s, 1, eni, PRIMARY, now_s) != NO_ERROR:
        ea.n_errors[E_FREE] += 1
        return now_s, E_FREE, -1, -1, 0, 0, s
    primary = sa.pick[0] - sa.sn_start[s] + sa.sn_base[s]
    _new_eni(ea, eni, s, instance, primary, kind)
    return now_s, NO_ERROR, eni, primary, 0, 0, s


@njit(cache=True)
def launch_instance(sa: Any, ea: Any, srng: Any, now_s: float, s: int) -> OpResult:
    """Start an instance with its primary ENI in subnet ``s``; ``ea.out[0]`` its id."""
    instance = ea.ctr[C_NEXT_INSTANCE]
    ea.ctr[C_NEXT_INSTANCE] = instance + 1
    ea.inst_alive[instance] = True
    ea.inst_quota[instance] = max(int(ea.p[P_QUOTA]), 0)
    ea.out[0] = instance
    return _eni_without_calls(sa, ea, srng, now_s, instance, s, K_PRIMARY)


@njit(cache=True)
def attach_trunk_eni(sa: Any, ea: Any, srng: Any, now_s: float, instance: int, s: int) -> OpResult:
    return _eni_without_calls(sa, ea, srng, now_s, instance, s, K_TRUNK)


@njit(cache=True)
def _drop_eni(sa: Any, ea: Any, eni: int) -> int:
    n = release_owner(sa, eni)
    ea.eni_kind[eni] = K_NONE
    return n


@njit(cache=True)
def terminate_instance(sa: Any, ea: Any, now_s: float, instance: int) -> OpResult:
    """Every ENI of the instance (branch ENIs included) returns its addresses."""
    n = 0
    for eni in range(sa.ctr[C_NEXT_OWNER]):
        if ea.eni_kind[eni] != K_NONE and ea.eni_instance[eni] == instance:
            n += _drop_eni(sa, ea, eni)
    ea.inst_alive[instance] = False
    return now_s, NO_ERROR, -1, -1, n, 0, -1


@njit(cache=True)
def create_branch_eni(
    sa: Any, ea: Any, srng: Any, erng: Any, now_s: float, instance: int, s: int
) -> OpResult:
    t_s, ok, n_throttled = call(ea, erng, A_CREATE, now_s, CONTROLLER)
    if not ok:
        return _failed(ea, t_s, E_THROTTLED, n_throttled, s)
    eni = new_owner(sa)
    if allocate_ips(sa, srng, s, 1, eni, PRIMARY, t_s) != NO_ERROR:
        return _failed(ea, t_s, E_FREE, n_throttled, s)
    address = sa.pick[0] - sa.sn_start[s] + sa.sn_base[s]
    t_s, ok, n = call(ea, erng, A_ASSOCIATE, t_s, CONTROLLER)
    n_throttled += n
    if not ok:
        release_owner(sa, eni)
        t_s, _, n = call(ea, erng, A_DELETE, t_s, CONTROLLER)
        return _failed(ea, t_s, E_THROTTLED, n_throttled + n, s)
    _new_eni(ea, eni, s, instance, address, K_BRANCH)
    ea.out[0] = address
    return t_s, NO_ERROR, eni, address, 1, n_throttled, s


@njit(cache=True)
def delete_branch_eni(sa: Any, ea: Any, erng: Any, now_s: float, eni: int) -> OpResult:
    s = ea.eni_subnet[eni]
    ea.out[0] = ea.eni_primary[eni]
    _drop_eni(sa, ea, eni)
    t_s, _, n_throttled = call(ea, erng, A_DISASSOCIATE, now_s, CONTROLLER)
    t_s, ok, n = call(ea, erng, A_DELETE, t_s, CONTROLLER)
    error = NO_ERROR
    if not ok:
        error = E_THROTTLED
        ea.n_errors[error] += 1
    return t_s, error, eni, -1, 1, n_throttled + n, s


@njit(cache=True)
def assign(
    sa: Any, ea: Any, srng: Any, erng: Any, now_s: float, eni: int, n: int, prefixes: bool
) -> OpResult:
    """AssignPrivateIpAddresses of ``n`` IPs or prefixes; ``ea.out[:n]`` the addresses."""
    s = ea.eni_subnet[eni]
    t_s, ok, n_throttled = call(ea, erng, A_ASSIGN, now_s, ea.eni_instance[eni])
    if not ok:  # the answer still names the ENI, as Ec2Api's does
        ea.n_errors[E_THROTTLED] += 1
        return t_s, E_THROTTLED, eni, -1, 0, n_throttled, s
    if prefixes:
        error = allocate_prefixes(sa, srng, s, n, eni, t_s)
    else:
        error = allocate_ips(sa, srng, s, n, eni, SECONDARY, t_s)
    if error != NO_ERROR:
        ea.n_errors[error] += 1
        return t_s, error, eni, -1, 0, n_throttled, s
    base = sa.sn_base[s] - sa.sn_start[s]
    for j in range(n):
        ea.out[j] = sa.pick[j] + base
    return t_s, NO_ERROR, eni, -1, n, n_throttled, s


@njit(cache=True)
def unassign(
    sa: Any, ea: Any, erng: Any, now_s: float, eni: int, addresses: Any, prefixes: bool
) -> OpResult:
    """UnassignPrivateIpAddresses; the addresses return at issue. -2 error: not held."""
    s = ea.eni_subnet[eni]
    if release_addresses(sa, s, addresses, eni, prefixes) >= 0:
        return now_s, -2, eni, -1, 0, 0, s
    t_s, ok, n_throttled = call(ea, erng, A_UNASSIGN, now_s, ea.eni_instance[eni])
    error = NO_ERROR
    if not ok:
        error = E_THROTTLED
        ea.n_errors[error] += 1
    return t_s, error, eni, -1, addresses.size, n_throttled, s


@njit(cache=True)
def create_and_attach_eni(
    sa: Any,
    ea: Any,
    srng: Any,
    erng: Any,
    now_s: float,
    instance: int,
    candidates: Any,
    n_ips: int,
    n_prefixes: int,
    subnet_discovery: bool,
    custom_networking: bool,
) -> OpResult:
    """Create and attach a pre-loaded ENI (see Ec2Api.create_and_attach_eni)."""
    t_s = now_s
    n_throttled = 0
    n_candidates = candidates.size
    order = candidates.copy()
    discovery = subnet_discovery and not custom_networking
    if discovery:
        t_s, ok, n = call(ea, erng, A_DESCRIBE_SUBNETS, t_s, instance)
        n_throttled += n
        if ok:
            # stable sort by AvailableIpAddressCount, most first
            for j in range(1, n_candidates):
                c = order[j]
                k = j
                while k > 0 and sa.sn_n_free[order[k - 1]] < sa.sn_n_free[c]:
                    order[k] = order[k - 1]
                    k -= 1
                order[k] = c
        else:
            t_s, ok, n = call(ea, erng, A_DESCRIBE_SUBNETS, t_s, instance)
            n_throttled += n
            if not ok:
                return _failed(ea, t_s, E_THROTTLED, n_throttled, candidates[0])
            n_candidates = 1
    else:
        if not custom_networking:
            t_s, _, n = call(ea, erng, A_DESCRIBE_SUBNETS, t_s, instance)
            n_throttled += n
        n_candidates = 1
    error = NO_ERROR
    for j in range(n_candidates):
        s = order[j]
        t_s, ok, n = call(ea, erng, A_CREATE, t_s, instance)
        n_throttled += n
        if not ok:
            error = E_THROTTLED
            continue
        eni = new_owner(sa)
        code = allocate_ips(sa, srng, s, 1, eni, PRIMARY, t_s)
        if code == NO_ERROR:
            primary = sa.pick[0] - sa.sn_start[s] + sa.sn_base[s]
            if n_prefixes:
                code = allocate_prefixes(sa, srng, s, n_prefixes, eni, t_s)
            else:
                code = allocate_ips(sa, srng, s, n_ips, eni, SECONDARY, t_s)
            if code != NO_ERROR:
                release_owner(sa, eni)
        if code != NO_ERROR:
            error = code
            continue
        n_added = n_prefixes if n_prefixes else n_ips
        base = sa.sn_base[s] - sa.sn_start[s]
        for k in range(n_added):
            ea.out[k] = sa.pick[k] + base
        _new_eni(ea, eni, s, instance, primary, K_SECONDARY)
        # _attach: DescribeInstances, Attach, Modify; the ENI is deleted if one fails
        for action in (A_DESCRIBE_INSTANCES, A_ATTACH, A_MODIFY):
            t_s, ok, n = call(ea, erng, action, t_s, instance)
            n_throttled += n
            if not ok:
                _drop_eni(sa, ea, eni)
                t_s, _, n = call(ea, erng, A_DELETE, t_s, instance)
                return _failed(ea, t_s, E_THROTTLED, n_throttled + n, s)
        if subnet_discovery:
            t_s, _, n = call(ea, erng, A_DESCRIBE_SUBNETS, t_s, instance)
            n_throttled += n
        visible = draw_latency(ea, erng, ea.ready_lat[0], ea.ready_lat[1], ea.ready_lat[2])
        t_s += _imds_wait_s(ea, erng, visible)
        return t_s, NO_ERROR, eni, primary, n_added, n_throttled, s
    return _failed(ea, t_s, error, n_throttled, order[n_candidates - 1])


@njit(cache=True)
def free_eni(sa: Any, ea: Any, erng: Any, now_s: float, eni: int) -> OpResult:
    """Describe, Detach, sleep, Delete a secondary ENI; its addresses return at issue."""
    s = ea.eni_subnet[eni]
    instance = ea.eni_instance[eni]
    n_released = _drop_eni(sa, ea, eni)
    t_s, ok, n_throttled = call(ea, erng, A_DESCRIBE_ENIS, now_s, instance)
    if ok:
        t_s, ok, n = call(ea, erng, A_DETACH, t_s, instance)
        n_throttled += n
    if ok:
        t_s += ea.p[P_DETACH_SLEEP]
        t_s, ok, n = call(ea, erng, A_DELETE, t_s, instance)
        n_throttled += n
    error = NO_ERROR
    if not ok:
        error = E_THROTTLED
        ea.n_errors[error] += 1
    return t_s, error, eni, -1, n_released, n_throttled, s


@njit(cache=True)
def describe(ea: Any, erng: Any, now_s: float, action: int, client: int) -> OpResult:
    t_s, ok, n_throttled = call(ea, erng, action, now_s, client)
    error = NO_ERROR
    if not ok:
        error = E_THROTTLED
        ea.n_errors[error] += 1
    return t_s, error, -1, -1, 0, n_throttled, -1
