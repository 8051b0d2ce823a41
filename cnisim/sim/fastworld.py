"""The fast World: the subnets and the EC2 model in compiled code, for the fast engine.

Same interface and same answers as :class:`cnisim.sim.world.PlainWorld` (the oracle):
``FastWorld.space`` offers the methods of :class:`~cnisim.sim.subnet.AddressSpace` and
``FastWorld.ec2`` those of :class:`~cnisim.sim.ec2.Ec2Api`, each a thin wrapper around a
kernel of :mod:`cnisim.sim._worldkernels` that makes the same decisions and the same draws
from the same streams. The fast engine calls the kernels directly on the same arrays, so
holders outside the engine and the engine share one address space and one set of buckets.

Differences from the plain World, stated: no per-attempt log (``attempt_log``); EC2 attempts
are counted per minute instead (:meth:`FastWorld.calls_per_minute`, which the plain World
derives from its log). Subnets are given at construction (no ``add_subnet`` later).

References
----------
:mod:`cnisim.sim.subnet` and :mod:`cnisim.sim.ec2` (the model), :mod:`cnisim.sim.world`.
"""

from __future__ import annotations

import ipaddress
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt

from cnisim.errors import UsageError
from cnisim.sim import _rng
from cnisim.sim import _worldkernels as wk
from cnisim.sim.contract import ACTIONS, ERROR_CODES
from cnisim.sim.ec2 import (
    DEFAULT_BUCKETS,
    DEFAULT_LATENCIES,
    Ec2Params,
    Ec2Result,
    UnknownEniError,
)
from cnisim.sim.subnet import (
    STATE_AWS_RESERVED,
    STATE_FIXED,
    STATE_PRIMARY,
    STATE_SECONDARY,
    AddressArray,
    AllocationErrorCode,
    InsufficientAddressesError,
    ReservationType,
    SubnetConfigError,
    SubnetStats,
    check_new_subnet,
    check_reservation,
    largest_free_block_prefix_len,
    subnet_masks,
    subnet_stats,
)
from cnisim.sim.world import WorldBase

__all__ = ["FastEc2", "FastSpace", "FastWorld"]

_MAX_SUBNETS: Final = 64  # owners record their subnets in a 64-bit mask
_GROW: Final = 1.5
_CODE_INDEX: Final = {code: i for i, code in enumerate(ERROR_CODES)}
_MINUTE_MARGIN: Final = 120  # minutes past the time asked for: an operation's retries


_G = TypeVar("_G", bound=np.generic)


def _grown(array: npt.NDArray[_G], size: int, fill: object) -> npt.NDArray[_G]:
    """``array`` extended to ``size`` rows (first axis), new rows set to ``fill``."""
    out = np.empty((size, *array.shape[1:]), dtype=array.dtype)
    out[: array.shape[0]] = array
    out[array.shape[0] :] = fill
    return out


class FastSpace:
    """The subnets of a :class:`FastWorld`, with AddressSpace's methods.

    Addresses are ``uint32``; errors are those of AddressSpace, with the same messages.
    """

    def __init__(self, world: FastWorld, subnet_cidrs: Mapping[str, str]) -> None:
        self._world = world
        networks: dict[str, ipaddress.IPv4Network] = {}
        for subnet_id, cidr in subnet_cidrs.items():
            networks[subnet_id] = check_new_subnet(subnet_id, cidr, networks)
        if len(networks) > _MAX_SUBNETS:
            raise SubnetConfigError(
                f"{len(networks)} subnets: the simulator takes at most {_MAX_SUBNETS}"
            )
        self._networks = networks
        self._index = {subnet_id: i for i, subnet_id in enumerate(networks)}
        sizes = np.array([n.num_addresses for n in networks.values()], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        total = int(sizes.sum())
        state = np.zeros(total, dtype=np.uint8)
        for start, size in zip(starts.tolist(), sizes.tolist(), strict=True):
            # AWS reserves the network address, +1, +2, +3 and the broadcast.
            state[[start, start + 1, start + 2, start + 3, start + size - 1]] = STATE_AWS_RESERVED
        n_subnets = len(networks)
        self.arrays = wk.SubnetArrays(
            state=state,
            owner=np.full(total, -1, dtype=np.int64),
            reservation=np.zeros(total, dtype=np.uint8),
            ip_allowed=np.zeros(total, dtype=bool),
            blk_free=np.zeros(total // 16, dtype=np.int64),
            blk_free_allowed=np.zeros(total // 16, dtype=np.int64),
            blk_allowed=np.zeros(total // 16, dtype=bool),
            blk_in_res=np.zeros(total // 16, dtype=bool),
            sn_start=starts,
            sn_size=sizes,
            sn_base=np.array([int(n.network_address) for n in networks.values()], np.int64),
            sn_n_free=sizes - 5,
            sn_n_free_allowed=np.zeros(n_subnets, dtype=np.int64),
            sn_n_free_blocks=np.zeros((n_subnets, 2), dtype=np.int64),
            sn_failures=np.zeros((n_subnets, 2), dtype=np.int64),
            sn_first_failure_s=np.full((n_subnets, 2), np.inf),
            owner_subnets=np.zeros(1024, dtype=np.uint64),
            ctr=np.zeros(2, dtype=np.int64),
            pick=np.zeros(max(65536, total // 4), dtype=np.int64),
        )
        for s in range(n_subnets):
            self._refresh(s)

    # ------------------------------------------------------------------ internals
    def index(self, subnet_id: str) -> int:
        """Position of a subnet in the arrays (creation order)."""
        try:
            return self._index[subnet_id]
        except KeyError:
            raise SubnetConfigError(
                f"unknown subnet {subnet_id!r}; known: {', '.join(self._index) or 'none'}"
            ) from None

    def _slice(self, s: int) -> slice:
        start = int(self.arrays.sn_start[s])
        return slice(start, start + int(self.arrays.sn_size[s]))

    def _refresh(self, s: int) -> None:
        """Recompute the masks and counts of subnet ``s`` (after a reservation)."""
        sa = self.arrays
        view = self._slice(s)
        blocks = slice(view.start // 16, view.stop // 16)
        masks = subnet_masks(sa.state[view], sa.reservation[view])
        free = sa.state[view] == 0
        sa.ip_allowed[view] = masks.ip_allowed
        sa.blk_free[blocks] = masks.n_free_per_block
        sa.blk_free_allowed[blocks] = (free & masks.ip_allowed).reshape(-1, 16).sum(axis=1)
        sa.blk_allowed[blocks] = masks.block_allowed
        sa.blk_in_res[blocks] = masks.block_in_prefix_reservation
        sa.sn_n_free_allowed[s] = int(np.count_nonzero(free & masks.ip_allowed))
        whole = (masks.n_free_per_block == 16) & masks.block_allowed
        sa.sn_n_free_blocks[s, 0] = int(np.count_nonzero(whole & masks.block_in_prefix_reservation))
        sa.sn_n_free_blocks[s, 1] = int(
            np.count_nonzero(whole & ~masks.block_in_prefix_reservation)
        )

    def ensure_owners(self, n_more: int) -> None:
        """Room for ``n_more`` new owner ids in every per-owner array."""
        need = int(self.arrays.ctr[wk.C_NEXT_OWNER]) + n_more
        if need > self.arrays.owner_subnets.size:
            size = max(need, int(self.arrays.owner_subnets.size * _GROW) + 1024)
            self.arrays = self.arrays._replace(
                owner_subnets=_grown(self.arrays.owner_subnets, size, 0)
            )
            self._world.ec2.ensure_enis(size)

    def _offsets(self, s: int, addresses: npt.ArrayLike) -> npt.NDArray[np.int64]:
        values = np.atleast_1d(np.asarray(addresses, dtype=np.int64))
        offsets = values - int(self.arrays.sn_base[s])
        if offsets.size and (offsets.min() < 0 or offsets.max() >= self.arrays.sn_size[s]):
            subnet_id = list(self._index)[s]
            raise SubnetConfigError(
                f"address outside subnet {subnet_id} ({self._networks[subnet_id]}); "
                "release addresses in the subnet that handed them out"
            )
        return offsets

    def _picked(self, s: int, n: int) -> AddressArray:
        start = int(self.arrays.sn_start[s])
        return (self.arrays.pick[:n] - start + self.arrays.sn_base[s]).astype(np.uint32)

    def _raise(self, s: int, code: int, n: int) -> None:
        raise InsufficientAddressesError(ERROR_CODES[code], list(self._index)[s], n)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ AddressSpace methods
    def subnet_ids(self) -> list[str]:
        """Subnet ids in creation order."""
        return list(self._index)

    def cidr(self, subnet_id: str) -> str:
        """The subnet's CIDR as text."""
        self.index(subnet_id)
        return str(self._networks[subnet_id])

    def new_owner_id(self) -> int:
        """Return a fresh owner id (for an ENI or a fixed holder)."""
        self.ensure_owners(1)
        return int(wk.new_owner(self.arrays))

    def reserve_cidr(self, subnet_id: str, cidr: str, reservation_type: ReservationType) -> None:
        """Add a subnet CIDR reservation (see AddressSpace.reserve_cidr)."""
        s = self.index(subnet_id)
        view = self._slice(s)
        start, stop, kind = check_reservation(
            subnet_id,
            self._networks[subnet_id],
            self.arrays.state[view],
            self.arrays.reservation[view],
            cidr,
            reservation_type,
        )
        self.arrays.reservation[view.start + start : view.start + stop] = kind
        self._refresh(s)

    def _count(self, n: int, what: str) -> None:
        if n < 0:
            raise SubnetConfigError(f"asked for {n} {what}; ask for 0 or more")

    def allocate_ips(
        self,
        subnet_id: str,
        n_ips: int,
        owner: int,
        kind: str = "secondary",
        now_s: float | None = None,
    ) -> AddressArray:
        """Take ``n_ips`` /32s that EC2 picks (see AddressSpace.allocate_ips)."""
        s = self.index(subnet_id)
        self._count(n_ips, "IPs")
        state = {"primary": STATE_PRIMARY, "fixed": STATE_FIXED}.get(kind, STATE_SECONDARY)
        t_s = math.nan if now_s is None else now_s
        code = wk.allocate_ips(self.arrays, self._world.subnet_state, s, n_ips, owner, state, t_s)
        if code != wk.NO_ERROR:
            self._raise(s, code, n_ips)
        return self._picked(s, n_ips)

    def allocate_prefixes(
        self, subnet_id: str, n_prefixes: int, owner: int, now_s: float | None = None
    ) -> AddressArray:
        """Take ``n_prefixes`` free aligned /28s (see AddressSpace.allocate_prefixes)."""
        s = self.index(subnet_id)
        self._count(n_prefixes, "prefixes")
        t_s = math.nan if now_s is None else now_s
        code = wk.allocate_prefixes(
            self.arrays, self._world.subnet_state, s, n_prefixes, owner, t_s
        )
        if code != wk.NO_ERROR:
            self._raise(s, code, n_prefixes)
        return self._picked(s, n_prefixes)

    def allocate_fixed(
        self,
        subnet_id: str,
        owner: int,
        n_ips: int = 0,
        addresses: npt.ArrayLike | None = None,
        now_s: float | None = None,
    ) -> AddressArray:
        """Take addresses for a holder outside the CNI (see AddressSpace.allocate_fixed)."""
        if addresses is None:
            return self.allocate_ips(subnet_id, n_ips, owner, "fixed", now_s)
        s = self.index(subnet_id)
        offsets = np.unique(self._offsets(s, addresses))
        bad = wk.take_addresses(self.arrays, s, offsets + self.arrays.sn_base[s], owner)
        if bad >= 0:
            address = ipaddress.IPv4Address(int(self.arrays.sn_base[s] + offsets[bad]))
            raise SubnetConfigError(
                f"address {address} in {subnet_id} is in use, AWS-reserved or in a prefix "
                "reservation; pick a free address"
            )
        return (offsets + self.arrays.sn_base[s]).astype(np.uint32)

    def _release(
        self, subnet_id: str, addresses: npt.ArrayLike, owner: int, prefixes: bool
    ) -> None:
        s = self.index(subnet_id)
        offsets = np.unique(self._offsets(s, addresses))
        if prefixes and offsets.size and offsets.max() + 16 > self.arrays.sn_size[s]:
            raise SubnetConfigError(f"prefix base not aligned to a /28 in {subnet_id}")
        bad = wk.release_addresses(
            self.arrays, s, offsets + self.arrays.sn_base[s], owner, prefixes
        )
        if bad >= 0:
            if prefixes and offsets[bad] % 16:
                raise SubnetConfigError(f"prefix base not aligned to a /28 in {subnet_id}")
            address = ipaddress.IPv4Address(int(self.arrays.sn_base[s] + offsets[bad]))
            what = "in a prefix" if prefixes else "an IP"
            raise SubnetConfigError(
                f"address {address} in {subnet_id} is not {what} held by owner {owner}; "
                "release only what was allocated"
            )

    def release_ips(self, subnet_id: str, addresses: npt.ArrayLike, owner: int) -> None:
        """Return /32s ``owner`` holds (see AddressSpace.release_ips)."""
        self._release(subnet_id, addresses, owner, prefixes=False)

    def release_prefixes(self, subnet_id: str, bases: npt.ArrayLike, owner: int) -> None:
        """Return /28 prefixes ``owner`` holds (see AddressSpace.release_prefixes)."""
        self._release(subnet_id, bases, owner, prefixes=True)

    def release_owner(self, owner: int) -> int:
        """Return every address ``owner`` holds, in every subnet."""
        if not 0 <= owner < self.arrays.owner_subnets.size:
            return 0
        return int(wk.release_owner(self.arrays, owner))

    def available_ip_address_count(self, subnet_id: str) -> int:
        """``AvailableIpAddressCount`` as DescribeSubnets reports it."""
        return int(self.arrays.sn_n_free[self.index(subnet_id)])

    def n_free_ips_outside_reservations(self, subnet_id: str) -> int:
        """Free addresses EC2 may pick for a secondary or primary IP."""
        return int(self.arrays.sn_n_free_allowed[self.index(subnet_id)])

    def n_free_prefix_blocks(self, subnet_id: str) -> int:
        """Free aligned /28 blocks EC2 may delegate as prefixes."""
        return int(self.arrays.sn_n_free_blocks[self.index(subnet_id)].sum())

    def largest_free_block_prefix_len(self, subnet_id: str) -> int | None:
        """Prefix length of the largest free aligned block (``32`` = a lone free /32)."""
        return largest_free_block_prefix_len(self.arrays.state[self._slice(self.index(subnet_id))])

    def state_of(self, subnet_id: str, addresses: npt.ArrayLike) -> npt.NDArray[np.uint8]:
        """``STATE_*`` code of each address."""
        s = self.index(subnet_id)
        return self.arrays.state[self._offsets(s, addresses) + self.arrays.sn_start[s]]

    def owner_of(self, subnet_id: str, addresses: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Owner id of each address (``-1`` when nobody holds it)."""
        s = self.index(subnet_id)
        return self.arrays.owner[self._offsets(s, addresses) + self.arrays.sn_start[s]]

    def held_by(self, owner: int) -> AddressArray:
        """Every address ``owner`` holds, in every subnet, in increasing order."""
        sa = self.arrays
        held = np.flatnonzero(sa.owner == owner)
        if not held.size:
            return np.empty(0, dtype=np.uint32)
        subnet = np.searchsorted(sa.sn_start, held, side="right") - 1
        return np.sort(held - sa.sn_start[subnet] + sa.sn_base[subnet]).astype(np.uint32)

    def failure_counts(self, subnet_id: str) -> dict[str, int]:
        """Failed allocation requests in this subnet by EC2 error code."""
        row = self.arrays.sn_failures[self.index(subnet_id)]
        return {ERROR_CODES[i]: int(n) for i, n in enumerate(row) if n}

    def first_failure_s(self, subnet_id: str, code: AllocationErrorCode) -> float | None:
        """Earliest time [s] a timed request in this subnet was refused with ``code``."""
        first = float(self.arrays.sn_first_failure_s[self.index(subnet_id), _CODE_INDEX[code]])
        return None if math.isinf(first) else first

    def stats(self, subnet_id: str) -> SubnetStats:
        """Snapshot of use and fragmentation of one subnet."""
        s = self.index(subnet_id)
        return subnet_stats(
            subnet_id,
            self._networks[subnet_id],
            self.arrays.state[self._slice(s)],
            n_free_ips_outside_reservations=int(self.arrays.sn_n_free_allowed[s]),
            n_free_prefix_blocks=self.n_free_prefix_blocks(subnet_id),
            failures_by_code=self.failure_counts(subnet_id),
        )


def _param_array(params: Ec2Params) -> npt.NDArray[np.float64]:
    p = np.zeros(wk.N_PARAMS)
    p[wk.P_IMDS_FIRST] = params.imds_first_poll_s
    p[wk.P_IMDS_MAX] = params.imds_max_poll_s
    p[wk.P_JITTER] = params.imds_poll_jitter_frac
    p[wk.P_IMDS_POLLS] = params.imds_max_polls
    p[wk.P_DETACH_SLEEP] = params.detach_sleep_s
    p[wk.P_MAX_ATTEMPTS] = params.max_attempts
    p[wk.P_CTRL_ATTEMPTS] = params.controller_max_attempts
    p[wk.P_MAX_BACKOFF] = params.max_backoff_s
    p[wk.P_QUOTA] = -1 if params.retry_quota_tokens is None else params.retry_quota_tokens
    p[wk.P_RETRY_COST] = params.retry_cost
    p[wk.P_NO_RETRY_INC] = params.no_retry_increment
    p[wk.P_BACKOFF_CAP_ATTEMPT] = int(math.log2(params.max_backoff_s))
    return p


class FastEc2:
    """The EC2 model of a :class:`FastWorld`, with Ec2Api's methods and counters."""

    def __init__(self, world: FastWorld, params: Ec2Params) -> None:
        self._world = world
        self.params = params
        actions = list(ACTIONS)
        assert set(actions) == set(DEFAULT_BUCKETS) == set(DEFAULT_LATENCIES)
        quota = -1 if params.retry_quota_tokens is None else params.retry_quota_tokens
        self.arrays = wk.Ec2Arrays(
            eni_subnet=np.full(1024, -1, dtype=np.int64),
            eni_instance=np.full(1024, -1, dtype=np.int64),
            eni_primary=np.full(1024, -1, dtype=np.int64),
            eni_kind=np.zeros(1024, dtype=np.int8),
            inst_alive=np.zeros(256, dtype=bool),
            inst_quota=np.zeros(256, dtype=np.int64),
            ctrl_quota=np.array([max(quota, 0)], dtype=np.int64),
            bk_tokens=np.array([params.buckets[a].capacity for a in actions], dtype=np.float64),
            bk_last_s=np.full(len(actions), -np.inf),
            bk_cap=np.array([params.buckets[a].capacity for a in actions], dtype=np.float64),
            bk_refill=np.array([params.buckets[a].refill_per_s for a in actions], np.float64),
            lat=np.array(
                [
                    [
                        params.latencies[a].median_s,
                        params.latencies[a].sigma,
                        params.latencies[a].max_s,
                    ]
                    for a in actions
                ],
                dtype=np.float64,
            ),
            ready_lat=np.array(
                [
                    params.eni_ready_latency.median_s,
                    params.eni_ready_latency.sigma,
                    params.eni_ready_latency.max_s,
                ]
            ),
            p=_param_array(params),
            n_calls=np.zeros(len(actions), dtype=np.int64),
            n_sdk_calls=np.zeros(len(actions), dtype=np.int64),
            n_throttled=np.zeros(len(actions), dtype=np.int64),
            n_quota_exhausted=np.zeros(len(actions), dtype=np.int64),
            n_errors=np.zeros(len(ERROR_CODES), dtype=np.int64),
            minute_calls=np.zeros((_MINUTE_MARGIN, len(actions)), dtype=np.int64),
            minute_throttled=np.zeros((_MINUTE_MARGIN, len(actions)), dtype=np.int64),
            ctr=np.zeros(2, dtype=np.int64),
            out=np.zeros(65536, dtype=np.int64),
        )

    # ------------------------------------------------------------------ capacity
    def ensure_enis(self, size: int) -> None:
        """Room for ENI ids below ``size``."""
        ea = self.arrays
        if size > ea.eni_kind.size:
            self.arrays = ea._replace(
                eni_subnet=_grown(ea.eni_subnet, size, -1),
                eni_instance=_grown(ea.eni_instance, size, -1),
                eni_primary=_grown(ea.eni_primary, size, -1),
                eni_kind=_grown(ea.eni_kind, size, 0),
            )

    def ensure_instances(self, n_more: int) -> None:
        """Room for ``n_more`` new instances."""
        ea = self.arrays
        need = int(ea.ctr[wk.C_NEXT_INSTANCE]) + n_more
        if need > ea.inst_alive.size:
            size = max(need, int(ea.inst_alive.size * _GROW) + 256)
            self.arrays = ea._replace(
                inst_alive=_grown(ea.inst_alive, size, False),
                inst_quota=_grown(ea.inst_quota, size, 0),
            )

    def ensure_minutes(self, until_s: float) -> None:
        """Per-minute rows up to ``until_s`` plus a margin for an operation's retries."""
        ea = self.arrays
        need = int(max(until_s, 0.0) // 60) + _MINUTE_MARGIN
        if need > ea.minute_calls.shape[0]:
            size = max(need, int(ea.minute_calls.shape[0] * _GROW))
            self.arrays = ea._replace(
                minute_calls=_grown(ea.minute_calls, size, 0),
                minute_throttled=_grown(ea.minute_throttled, size, 0),
            )

    def _before(self, now_s: float, n_owners: int = 2) -> None:
        self._world.space.ensure_owners(n_owners)
        self.ensure_minutes(now_s + 3600.0)

    # ------------------------------------------------------------------ results
    def _result(
        self,
        raw: tuple[float, int, int, int, int, int, int],
        *,
        instance_id: int | None = None,
        addresses: AddressArray | None = None,
        with_instance: bool = True,
    ) -> Ec2Result:
        done_s, error, eni, primary, n, n_throttled, s = raw
        if error == -2:
            raise UsageError("an operation named addresses its ENI does not hold")
        if addresses is None:
            addresses = (
                np.sort(self.arrays.out[:n]).astype(np.uint32)
                if error == wk.NO_ERROR
                else np.empty(0, dtype=np.uint32)
            )
        return Ec2Result(
            done_s=float(done_s),
            error=None if error == wk.NO_ERROR else ERROR_CODES[error],
            addresses=addresses,
            eni_id=None if eni < 0 else int(eni),
            primary_ip=None if primary < 0 else int(primary),
            instance_id=instance_id if with_instance else None,
            n_throttled=int(n_throttled),
            subnet_id=None if s < 0 else self._world.space.subnet_ids()[s],
        )

    def _eni_checked(self, eni_id: int) -> int:
        ea = self.arrays
        if not 0 <= eni_id < ea.eni_kind.size or ea.eni_kind[eni_id] == wk.K_NONE:
            raise UnknownEniError(f"unknown ENI {eni_id}; create it first")
        return int(ea.eni_kind[eni_id])

    def _instance_checked(self, instance_id: int) -> None:
        ea = self.arrays
        if not 0 <= instance_id < ea.inst_alive.size or not ea.inst_alive[instance_id]:
            raise UnknownEniError(f"unknown instance {instance_id}; launch it first")

    # ------------------------------------------------------------------ Ec2Api methods
    def launch_instance(self, now_s: float, subnet_id: str) -> Ec2Result:
        """Start an instance with its primary ENI (see Ec2Api.launch_instance)."""
        s = self._world.space.index(subnet_id)
        self._before(now_s)
        self.ensure_instances(1)
        w = self._world
        raw = wk.launch_instance(w.space.arrays, self.arrays, w.subnet_state, now_s, s)
        instance = int(self.arrays.out[0])
        return self._result(raw, instance_id=instance, addresses=np.empty(0, dtype=np.uint32))

    def terminate_instance(self, now_s: float, instance_id: int) -> Ec2Result:
        """Every address of the instance returns (see Ec2Api.terminate_instance)."""
        self._instance_checked(instance_id)
        ea = self.arrays
        enis = np.flatnonzero((ea.eni_kind != wk.K_NONE) & (ea.eni_instance == instance_id))
        parts = [self._world.space.held_by(int(e)) for e in enis]
        addresses = np.sort(np.concatenate(parts)) if parts else np.empty(0, np.uint32)
        raw = wk.terminate_instance(self._world.space.arrays, ea, now_s, instance_id)
        return self._result(raw, instance_id=instance_id, addresses=addresses.astype(np.uint32))

    def attach_trunk_eni(self, now_s: float, instance_id: int, subnet_id: str) -> Ec2Result:
        """The trunk ENI of security groups for pods (see Ec2Api.attach_trunk_eni)."""
        self._instance_checked(instance_id)
        s = self._world.space.index(subnet_id)
        self._before(now_s)
        w = self._world
        raw = wk.attach_trunk_eni(
            w.space.arrays, self.arrays, w.subnet_state, now_s, instance_id, s
        )
        return self._result(raw, instance_id=instance_id, addresses=np.empty(0, dtype=np.uint32))

    def create_branch_eni(self, now_s: float, instance_id: int, subnet_id: str) -> Ec2Result:
        """A branch ENI for one SGP pod (see Ec2Api.create_branch_eni)."""
        self._instance_checked(instance_id)
        s = self._world.space.index(subnet_id)
        self._before(now_s)
        w = self._world
        raw = wk.create_branch_eni(
            w.space.arrays, self.arrays, w.subnet_state, w.ec2_state, now_s, instance_id, s
        )
        return self._result(raw, instance_id=instance_id)

    def delete_branch_eni(self, now_s: float, eni_id: int) -> Ec2Result:
        """Delete a branch ENI (see Ec2Api.delete_branch_eni)."""
        if self._eni_checked(eni_id) != wk.K_BRANCH:
            raise UsageError(f"ENI {eni_id} is not a branch ENI; use free_eni or terminate")
        self._before(now_s)
        instance = int(self.arrays.eni_instance[eni_id])
        addresses = self._world.space.held_by(eni_id)
        w = self._world
        raw = wk.delete_branch_eni(w.space.arrays, self.arrays, w.ec2_state, now_s, eni_id)
        return self._result(raw, instance_id=instance, addresses=addresses)

    def _assign(self, now_s: float, eni_id: int, n: int, prefixes: bool) -> Ec2Result:
        self._eni_checked(eni_id)
        self._before(now_s)
        w = self._world
        raw = wk.assign(
            w.space.arrays, self.arrays, w.subnet_state, w.ec2_state, now_s, eni_id, n, prefixes
        )
        return self._result(raw, with_instance=False)

    def assign_private_ips(self, now_s: float, eni_id: int, n_ips: int) -> Ec2Result:
        """AssignPrivateIpAddresses with a secondary IP count."""
        return self._assign(now_s, eni_id, n_ips, prefixes=False)

    def assign_prefixes(self, now_s: float, eni_id: int, n_prefixes: int) -> Ec2Result:
        """AssignPrivateIpAddresses with a /28 prefix count."""
        return self._assign(now_s, eni_id, n_prefixes, prefixes=True)

    def _unassign(
        self, now_s: float, eni_id: int, addresses: npt.ArrayLike, prefixes: bool
    ) -> Ec2Result:
        self._eni_checked(eni_id)
        self._before(now_s)
        given = np.sort(np.atleast_1d(np.asarray(addresses, dtype=np.int64)))
        values = np.unique(given)
        s = int(self.arrays.eni_subnet[eni_id])
        space = self._world.space
        space._offsets(s, values)  # addresses outside the subnet raise SubnetConfigError
        raw = wk.unassign(
            space.arrays, self.arrays, self._world.ec2_state, now_s, eni_id, values, prefixes
        )
        if raw[1] == -2:
            # not held: let the subnet say which address and why
            space._release(space.subnet_ids()[s], values, eni_id, prefixes)
        return self._result(raw, with_instance=False, addresses=given.astype(np.uint32))

    def unassign_private_ips(
        self, now_s: float, eni_id: int, addresses: npt.ArrayLike
    ) -> Ec2Result:
        """UnassignPrivateIpAddresses of secondary IPs; they return at once."""
        return self._unassign(now_s, eni_id, addresses, prefixes=False)

    def unassign_prefixes(self, now_s: float, eni_id: int, bases: npt.ArrayLike) -> Ec2Result:
        """UnassignPrivateIpAddresses of /28 prefixes; they return at once."""
        return self._unassign(now_s, eni_id, bases, prefixes=True)

    def create_and_attach_eni(
        self,
        now_s: float,
        instance_id: int,
        subnet_ids: str | Sequence[str],
        n_ips: int = 0,
        n_prefixes: int = 0,
        subnet_discovery: bool = True,
        custom_networking: bool = False,
    ) -> Ec2Result:
        """Create and attach a pre-loaded ENI (see Ec2Api.create_and_attach_eni)."""
        if n_ips and n_prefixes:
            raise UsageError("an ENI is created with secondary IPs or prefixes, not both")
        self._instance_checked(instance_id)
        names = [subnet_ids] if isinstance(subnet_ids, str) else list(subnet_ids)
        if not names:
            raise UsageError("create_and_attach_eni needs at least one candidate subnet id")
        candidates = np.array([self._world.space.index(n) for n in names], dtype=np.int64)
        self._before(now_s, 1 + len(names))
        w = self._world
        raw = wk.create_and_attach_eni(
            w.space.arrays,
            self.arrays,
            w.subnet_state,
            w.ec2_state,
            now_s,
            instance_id,
            candidates,
            n_ips,
            n_prefixes,
            subnet_discovery,
            custom_networking,
        )
        return self._result(raw, instance_id=instance_id)

    def free_eni(self, now_s: float, eni_id: int) -> Ec2Result:
        """Detach and delete a secondary ENI (see Ec2Api.free_eni)."""
        if self._eni_checked(eni_id) != wk.K_SECONDARY:
            raise UsageError(
                f"ENI {eni_id} is an instance's primary or trunk ENI; ipamd never frees it"
            )
        self._before(now_s)
        instance = int(self.arrays.eni_instance[eni_id])
        addresses = self._world.space.held_by(eni_id)
        w = self._world
        raw = wk.free_eni(w.space.arrays, self.arrays, w.ec2_state, now_s, eni_id)
        return self._result(raw, instance_id=instance, addresses=addresses)

    def describe(self, now_s: float, action: str, instance_id: int | None = None) -> Ec2Result:
        """One read-only call (see Ec2Api.describe)."""
        if not action.startswith("Describe"):
            raise UsageError(f"{action} is not a Describe* action; use its operation method")
        self._before(now_s)
        client = wk.NO_CLIENT if instance_id is None else instance_id
        raw = wk.describe(self.arrays, self._world.ec2_state, now_s, ACTIONS.index(action), client)
        return self._result(raw, with_instance=False, addresses=np.empty(0, dtype=np.uint32))

    # ------------------------------------------------------------------ queries
    def _counter(self, values: npt.NDArray[np.int64]) -> Counter[str]:
        return Counter({a: int(n) for a, n in zip(ACTIONS, values.tolist(), strict=True) if n})

    @property
    def n_calls_by_action(self) -> Counter[str]:
        """HTTP requests EC2 received, by action: every attempt, retries included."""
        return self._counter(self.arrays.n_calls)

    @property
    def n_sdk_calls_by_action(self) -> Counter[str]:
        """SDK calls by action, one however many attempts."""
        return self._counter(self.arrays.n_sdk_calls)

    @property
    def n_throttled_by_action(self) -> Counter[str]:
        """Attempts answered RequestLimitExceeded, by action."""
        return self._counter(self.arrays.n_throttled)

    @property
    def n_retry_quota_exhausted_by_action(self) -> Counter[str]:
        """Calls that stopped retrying early because their retry quota ran out."""
        return self._counter(self.arrays.n_quota_exhausted)

    @property
    def n_errors_by_code(self) -> Counter[str]:
        """Operations that ended in an error, by error code."""
        values = self.arrays.n_errors.tolist()
        return Counter({c: int(n) for c, n in zip(ERROR_CODES, values, strict=True) if n})

    def retry_quota_left(self, instance_id: int) -> int:
        """Tokens left in the retry quota of a node's EC2 client."""
        if instance_id == wk.CONTROLLER:
            return int(self.arrays.ctrl_quota[0])
        return int(self.arrays.inst_quota[instance_id])

    def enis_of(self, instance_id: int) -> list[int]:
        """ENI ids of an instance, primary first, then in attach order (no branch ENIs)."""
        ea = self.arrays
        kinds = (ea.eni_kind == wk.K_PRIMARY) | (ea.eni_kind == wk.K_TRUNK)
        kinds |= ea.eni_kind == wk.K_SECONDARY
        return np.flatnonzero(kinds & (ea.eni_instance == instance_id)).tolist()

    def branch_enis_of(self, instance_id: int) -> list[int]:
        """Branch ENI ids of an instance, in creation order."""
        ea = self.arrays
        return np.flatnonzero(
            (ea.eni_kind == wk.K_BRANCH) & (ea.eni_instance == instance_id)
        ).tolist()

    def subnet_of(self, eni_id: int) -> str:
        """Subnet id of an ENI."""
        self._eni_checked(eni_id)
        return self._world.space.subnet_ids()[int(self.arrays.eni_subnet[eni_id])]

    def primary_ip_of(self, eni_id: int) -> int:
        """Primary IP of an ENI (uint32 int)."""
        self._eni_checked(eni_id)
        return int(self.arrays.eni_primary[eni_id])


class FastWorld(WorldBase):
    """The World in compiled code: the fast engine's, with :class:`PlainWorld`'s interface.

    Parameters
    ----------
    subnet_cidrs : mapping of str to str
        Subnet id -> IPv4 CIDR (/16 to /28), in creation order (at most 64 subnets).
    seed : int
        Run seed (>= 0); its first three streams are subnet, ec2 and placement, as in
        :class:`PlainWorld`.
    ec2_params : Ec2Params, optional
        EC2 latencies, buckets and retries.

    Attributes
    ----------
    space : FastSpace
        The subnets (AddressSpace's methods).
    ec2 : FastEc2
        The EC2 model (Ec2Api's methods).
    subnet_state, ec2_state, placement_state : ndarray of uint64
        The three streams' PCG64 states, advanced by compiled code.

    Examples
    --------
    >>> world = FastWorld({"subnet-a": "10.0.0.0/24"}, seed=1)
    >>> holder = world.new_owner_id()
    >>> world.allocate_fixed("subnet-a", holder, n_ips=8).size  # an ALB's 8 addresses
    8
    >>> world.available_ip_address_count("subnet-a")
    243
    """

    kind: Final = "fast"

    def __init__(
        self,
        subnet_cidrs: Mapping[str, str],
        *,
        seed: int = 0,
        ec2_params: Ec2Params | None = None,
    ) -> None:
        if seed < 0:
            raise UsageError(f"seed {seed} is negative: use 0 or more")
        self.seed = seed
        streams = np.random.default_rng(seed).spawn(3)
        self.subnet_state, self.ec2_state, self.placement_state = (
            _rng.state_of(g) for g in streams
        )
        self.space = FastSpace(self, subnet_cidrs)
        self.ec2 = FastEc2(self, ec2_params if ec2_params is not None else Ec2Params())

    def calls_per_minute(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """EC2 attempts and throttled attempts per minute (rows) and action (columns)."""
        ea = self.ec2.arrays
        used = np.flatnonzero(ea.minute_calls.any(axis=1))
        n_minutes = int(used[-1]) + 1 if used.size else 0
        return ea.minute_calls[:n_minutes].copy(), ea.minute_throttled[:n_minutes].copy()
