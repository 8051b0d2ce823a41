"""Subnet address space: the IPv4 addresses EC2 hands to ENIs, as numpy state per subnet.

Each subnet keeps one ``uint8`` state per address (see ``STATE_*``), one ``uint8`` reservation
kind per address (``RESERVATION_*``) and one ``int64`` owner per address (``-1`` = nobody).
Addresses are ``uint32`` integers; :mod:`ipaddress` is used only to parse and print CIDRs.
No Python object exists per address.

Rules (all from AWS documentation, see References):

- A subnet is a /16 to /28. AWS reserves 5 addresses in each: the network address, +1 (VPC
  router), +2 (DNS), +3 (future use) and the broadcast (last) address. They are never handed out.
- Secondary IPs and ENI primary IPs are /32s that EC2 picks itself. The model draws them
  uniformly at random (from the ``rng`` given to :class:`AddressSpace`) among the free addresses
  that are outside every subnet CIDR reservation: addresses in a ``prefix`` reservation are only
  assigned as prefixes, and addresses in an ``explicit`` reservation only when a caller names them.
- A prefix is a free, aligned /28 that contains no AWS-reserved and no explicitly reserved
  address. Free /28s inside ``prefix`` reservations are used first, then any free aligned /28;
  within each group the block is drawn uniformly at random.
- A request for ``n`` IPs or ``n`` prefixes is all-or-nothing: if it cannot be served in full it
  raises :class:`InsufficientAddressesError` with the EC2 error code
  (``InsufficientFreeAddressesInSubnet`` or ``InsufficientCidrBlocks``) and takes nothing.
- ``AvailableIpAddressCount`` as EC2 reports it (DescribeSubnets) counts the free addresses of the
  subnet: not the 5 AWS-reserved ones and not the ones held by any interface. Addresses inside a
  CIDR reservation that no interface holds still count as available: a reservation only
  restricts *who* may get them ("set aside so that AWS can't assign them to your network
  interfaces", VPC User Guide). The AWS documents read for this model do not say how
  reservations enter the count, so this is a modelling choice;
  :meth:`AddressSpace.n_free_ips_outside_reservations` gives the other reading (what EC2 may
  still pick for a secondary IP).

Speed: each subnet keeps its free count, its count of free addresses outside reservations and
the free count of every aligned /28 up to date, so the EC2 counts and the free-/28 mask cost no
scan of the subnet. While free addresses are dense, an IP is drawn by rejection sampling over
the whole subnet instead of listing the free ones. On a busy /16 an allocate+release pair takes
about 40-65 us and a full scan alone about 34 us (``benchmarks/test_bench_subnet.py``).

Simplifications: EC2's real choice of address is unpublished; uniform random draws are a model.
The model has no IPv6 and no secondary VPC CIDRs beyond what separate subnets give.

References
----------
- Amazon VPC User Guide, "Subnet CIDR blocks" (5 reserved addresses; /16 to /28 sizes).
- Amazon VPC User Guide, "Subnet CIDR reservations"; EC2 API Reference,
  CreateSubnetCidrReservation (ReservationType ``prefix``: AWS assigns the reserved addresses to
  network interfaces; ``explicit``: you assign them).
- Amazon EC2 User Guide, "Assign prefixes to network interfaces" (aligned /28 prefixes,
  ``InsufficientCidrBlocks``).
- aws/amazon-vpc-cni-k8s ``pkg/ipamd/ipamd.go`` (the two InsufficientCidr* error codes).
"""

from __future__ import annotations

import ipaddress
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, NamedTuple, NoReturn

import numpy as np
import numpy.typing as npt

from cnisim.errors import UsageError

__all__ = [
    "ADDRESSES_PER_PREFIX",
    "INSUFFICIENT_CIDR_BLOCKS",
    "INSUFFICIENT_FREE_ADDRESSES",
    "N_AWS_RESERVED_PER_SUBNET",
    "RESERVATION_EXPLICIT",
    "RESERVATION_NONE",
    "RESERVATION_PREFIX",
    "STATE_AWS_RESERVED",
    "STATE_FIXED",
    "STATE_FREE",
    "STATE_PREFIX",
    "STATE_PRIMARY",
    "STATE_SECONDARY",
    "AddressSpace",
    "AllocationErrorCode",
    "InsufficientAddressesError",
    "ReservationType",
    "SubnetConfigError",
    "SubnetStats",
]

ADDRESSES_PER_PREFIX: Final = 16
"""Addresses in one delegated IPv4 prefix (a /28)."""
N_AWS_RESERVED_PER_SUBNET: Final = 5
MIN_SUBNET_PREFIX_LEN: Final = 16
MAX_SUBNET_PREFIX_LEN: Final = 28

STATE_FREE: Final = 0
STATE_AWS_RESERVED: Final = 1
STATE_PRIMARY: Final = 2
"""Primary private IP of an ENI (for the node's first ENI: the node IP)."""
STATE_SECONDARY: Final = 3
STATE_PREFIX: Final = 4
"""Part of a /28 prefix delegated to an ENI."""
STATE_FIXED: Final = 5
"""Held by something outside the CNI (load balancer, VPC endpoint, other instances)."""

RESERVATION_NONE: Final = 0
RESERVATION_EXPLICIT: Final = 1
RESERVATION_PREFIX: Final = 2

INSUFFICIENT_FREE_ADDRESSES: Final = "InsufficientFreeAddressesInSubnet"
INSUFFICIENT_CIDR_BLOCKS: Final = "InsufficientCidrBlocks"

AllocationErrorCode = Literal["InsufficientFreeAddressesInSubnet", "InsufficientCidrBlocks"]
ReservationType = Literal["prefix", "explicit"]
AddressArray = npt.NDArray[np.uint32]

NO_OWNER: Final = -1


class SubnetConfigError(UsageError):
    """A subnet or CIDR reservation is malformed, overlaps another, or is unknown."""


class InsufficientAddressesError(Exception):
    """EC2 could not serve an allocation in full; nothing was taken.

    Not a user error: it is a simulated EC2 answer, which :class:`cnisim.sim.ec2.Ec2Api` turns
    into an error code on its result record.
    """

    def __init__(self, code: AllocationErrorCode, subnet_id: str, n_requested: int) -> None:
        super().__init__(f"{code}: subnet {subnet_id} cannot serve {n_requested} more")
        self.code: AllocationErrorCode = code
        self.subnet_id = subnet_id
        self.n_requested = n_requested


@dataclass(frozen=True)
class SubnetStats:
    """Snapshot of one subnet's address use and fragmentation.

    Attributes
    ----------
    subnet_id, cidr
        Identity of the subnet.
    n_addresses
        Size of the CIDR, AWS-reserved addresses included.
    available_ip_address_count
        ``AvailableIpAddressCount`` as DescribeSubnets reports it.
    n_free_ips_outside_reservations
        Free addresses EC2 may pick for a secondary or primary IP.
    n_primary, n_secondary, n_prefix_addresses, n_fixed
        Held addresses by kind (a prefix counts 16).
    n_free_prefix_blocks
        Free aligned /28s EC2 may delegate as prefixes.
    largest_free_block_prefix_len
        Prefix length of the largest free aligned block (28 means a /28), or ``None``.
    failures_by_code
        Failed allocation requests by EC2 error code.
    """

    subnet_id: str
    cidr: str
    n_addresses: int
    available_ip_address_count: int
    n_free_ips_outside_reservations: int
    n_primary: int
    n_secondary: int
    n_prefix_addresses: int
    n_fixed: int
    n_free_prefix_blocks: int
    largest_free_block_prefix_len: int | None
    failures_by_code: dict[str, int]


class _Subnet:
    """Numpy state of one subnet (internal)."""

    def __init__(self, subnet_id: str, network: ipaddress.IPv4Network) -> None:
        self.subnet_id = subnet_id
        self.network = network
        self.base = int(network.network_address)
        self.n_addresses = network.num_addresses
        self.state = np.zeros(self.n_addresses, dtype=np.uint8)
        # AWS reserves the network address, +1 router, +2 DNS, +3 future use and the broadcast.
        self.state[[0, 1, 2, 3, self.n_addresses - 1]] = STATE_AWS_RESERVED
        self.reservation = np.zeros(self.n_addresses, dtype=np.uint8)
        self.owner = np.full(self.n_addresses, NO_OWNER, dtype=np.int64)
        self.n_free = self.n_addresses - N_AWS_RESERVED_PER_SUBNET
        self.failures: Counter[str] = Counter()
        self.first_failure_s: dict[str, float] = {}
        self.refresh_masks()

    def refresh_masks(self) -> None:
        """Recompute the masks and counts that depend on the reservations (rarely called)."""
        masks = subnet_masks(self.state, self.reservation)
        self.ip_allowed = masks.ip_allowed
        # Free addresses EC2 may pick as /32s, kept up to date by take/give_back.
        self.n_free_ip_allowed = int(np.count_nonzero((self.state == STATE_FREE) & self.ip_allowed))
        # Free addresses per aligned /28, kept up to date by take/give_back.
        self.n_free_per_block = masks.n_free_per_block.astype(np.int16)
        self.block_allowed = masks.block_allowed
        self.block_in_prefix_reservation = masks.block_in_prefix_reservation

    def free_blocks(self) -> npt.NDArray[np.bool_]:
        """Mask of aligned /28 blocks that are entirely free and may become prefixes."""
        return (self.n_free_per_block == ADDRESSES_PER_PREFIX) & self.block_allowed

    def take(self, offsets: npt.NDArray[np.int64], owner: int, state: int) -> None:
        """Mark free ``offsets`` (no duplicates) as held by ``owner``."""
        self.state[offsets] = state
        self.owner[offsets] = owner
        self._count(offsets, -1)

    def give_back(self, offsets: npt.NDArray[np.int64]) -> None:
        """Mark held ``offsets`` (no duplicates) as free."""
        self.state[offsets] = STATE_FREE
        self.owner[offsets] = NO_OWNER
        self._count(offsets, +1)

    def _count(self, offsets: npt.NDArray[np.int64], sign: int) -> None:
        self.n_free += sign * offsets.size
        self.n_free_ip_allowed += sign * int(np.count_nonzero(self.ip_allowed[offsets]))
        np.add.at(self.n_free_per_block, offsets // ADDRESSES_PER_PREFIX, sign)

    def pick_ips(self, n_ips: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
        """Draw ``n_ips`` distinct offsets uniformly among free addresses outside reservations.

        While such addresses are dense (at least 1 in 8), offsets are drawn in batches with
        ``rng.integers(0, n_addresses, size=...)`` over the whole subnet and the ineligible or
        repeated ones skipped, in draw order, which is a uniform draw without replacement that
        needs no scan of the subnet. Otherwise each address is the ``rng.integers(m)``-th of
        the ``m`` eligible offsets in increasing order, one after another (without
        replacement). The fast World (:mod:`cnisim.sim.fastworld`) makes the same draws.
        """
        if n_ips == 0:
            return np.empty(0, dtype=np.int64)
        if self.n_free_ip_allowed * 8 < self.n_addresses:
            eligible = np.flatnonzero((self.state == STATE_FREE) & self.ip_allowed).tolist()
            sparse = [eligible.pop(int(rng.integers(len(eligible)))) for _ in range(n_ips)]
            return np.sort(np.array(sparse, dtype=np.int64))
        chosen: list[int] = []
        seen: set[int] = set()
        while len(chosen) < n_ips:
            n_draws = 2 * (n_ips - len(chosen)) * self.n_addresses // self.n_free_ip_allowed
            for draw in rng.integers(0, self.n_addresses, size=max(n_draws, 8)).tolist():
                eligible = self.ip_allowed[draw] and self.state[draw] == STATE_FREE
                if len(chosen) < n_ips and eligible and draw not in seen:
                    seen.add(draw)
                    chosen.append(draw)
        return np.sort(np.array(chosen, dtype=np.int64))

    def offsets(self, addresses: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Offsets of ``addresses`` in this subnet; raise if any lies outside it."""
        offsets = np.asarray(addresses, dtype=np.int64) - self.base
        if offsets.size and (offsets.min() < 0 or offsets.max() >= self.n_addresses):
            raise SubnetConfigError(
                f"address outside subnet {self.subnet_id} ({self.network}); "
                "release addresses in the subnet that handed them out"
            )
        return offsets


class AddressSpace:
    """All subnets of a simulated VPC and the addresses EC2 hands out from them.

    Parameters
    ----------
    rng
        Source of every random choice of address or block (the run's ``subnet_rng``).

    Notes
    -----
    Owners are plain integers from :meth:`new_owner_id` (ENIs and fixed holders alike), so all
    addresses of an ENI or of a node's ENIs can be returned in one call (:meth:`release_owner`).

    Examples
    --------
    >>> import numpy as np
    >>> space = AddressSpace(rng=np.random.default_rng(0))
    >>> space.add_subnet("subnet-a", "10.0.0.0/24")
    >>> space.available_ip_address_count("subnet-a")
    251
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._subnets: dict[str, _Subnet] = {}
        self._subnets_of_owner: dict[int, set[str]] = {}
        self._next_owner_id = 0

    # ------------------------------------------------------------------ configuration
    def add_subnet(self, subnet_id: str, cidr: str) -> None:
        """Create a subnet with AWS's 5 reserved addresses already taken.

        Parameters
        ----------
        subnet_id
            Unique name, e.g. ``"subnet-a"``.
        cidr
            IPv4 CIDR from /16 to /28, e.g. ``"10.0.0.0/19"``.

        References
        ----------
        Amazon VPC User Guide, "Subnet CIDR blocks".
        """
        existing = {sid: subnet.network for sid, subnet in self._subnets.items()}
        network = check_new_subnet(subnet_id, cidr, existing)
        self._subnets[subnet_id] = _Subnet(subnet_id, network)

    def reserve_cidr(self, subnet_id: str, cidr: str, reservation_type: ReservationType) -> None:
        """Add a subnet CIDR reservation (CreateSubnetCidrReservation).

        Parameters
        ----------
        subnet_id
            Subnet to reserve in.
        cidr
            Range inside the subnet; it must not overlap another reservation nor contain
            addresses that an interface holds.
        reservation_type
            ``"prefix"``: EC2 delegates these addresses only as prefixes (and uses them before
            other free /28s); ``"explicit"``: EC2 never picks them itself, only
            :meth:`allocate_fixed` with named addresses takes them.

        References
        ----------
        EC2 API Reference, CreateSubnetCidrReservation; Amazon VPC User Guide,
        "Subnet CIDR reservations".
        """
        subnet = self._subnet(subnet_id)
        start, stop, kind = check_reservation(
            subnet_id, subnet.network, subnet.state, subnet.reservation, cidr, reservation_type
        )
        subnet.reservation[start:stop] = kind
        subnet.refresh_masks()

    def _check_count(self, n: int, what: str) -> None:
        if n < 0:
            raise SubnetConfigError(f"asked for {n} {what}; ask for 0 or more")

    def new_owner_id(self) -> int:
        """Return a fresh owner id (for an ENI or a fixed holder)."""
        owner = self._next_owner_id
        self._next_owner_id += 1
        return owner

    # ------------------------------------------------------------------ allocation
    def allocate_ips(
        self,
        subnet_id: str,
        n_ips: int,
        owner: int,
        kind: Literal["secondary", "primary"] = "secondary",
        now_s: float | None = None,
    ) -> AddressArray:
        """Take ``n_ips`` /32s that EC2 picks (AssignPrivateIpAddresses, ENI primary IP).

        Parameters
        ----------
        subnet_id
            Subnet of the ENI.
        n_ips
            Number of addresses (>= 0).
        owner
            Holder id (an ENI).
        kind
            ``"primary"`` marks an ENI's primary IP, ``"secondary"`` a secondary IP.
        now_s
            Time of the request [s]; a refusal is then recorded in :meth:`first_failure_s`.

        Returns
        -------
        numpy.ndarray of uint32
            The addresses, in increasing order.

        Raises
        ------
        InsufficientAddressesError
            ``InsufficientFreeAddressesInSubnet`` if fewer than ``n_ips`` free addresses lie
            outside the CIDR reservations; nothing is taken.
        """
        subnet = self._subnet(subnet_id)
        self._check_count(n_ips, "IPs")
        state = STATE_PRIMARY if kind == "primary" else STATE_SECONDARY
        if subnet.n_free_ip_allowed < n_ips:
            self._fail(subnet, INSUFFICIENT_FREE_ADDRESSES, n_ips, now_s)
        offsets = subnet.pick_ips(n_ips, self._rng)
        self._take(subnet, offsets, owner, state)
        return (subnet.base + offsets).astype(np.uint32)

    def allocate_prefixes(
        self, subnet_id: str, n_prefixes: int, owner: int, now_s: float | None = None
    ) -> AddressArray:
        """Take ``n_prefixes`` free aligned /28s (AssignPrivateIpAddresses with a prefix count).

        Blocks inside ``prefix`` CIDR reservations are used first, then any free aligned /28;
        each block is the ``rng.integers(m)``-th of the ``m`` free blocks of its group in
        address order, one after another (without replacement). ``now_s`` as in
        :meth:`allocate_ips`.

        Returns
        -------
        numpy.ndarray of uint32
            The base address of each /28, in increasing order.

        Raises
        ------
        InsufficientAddressesError
            ``InsufficientCidrBlocks`` if fewer than ``n_prefixes`` free aligned /28s exist,
            however many scattered free addresses remain; nothing is taken.

        References
        ----------
        Amazon EC2 User Guide, "Assign prefixes to network interfaces";
        aws/aws-eks-best-practices ``content/networking/prefix-mode/index_linux.md``.
        """
        subnet = self._subnet(subnet_id)
        self._check_count(n_prefixes, "prefixes")
        free_blocks = subnet.free_blocks()
        groups = [
            np.flatnonzero(free_blocks & subnet.block_in_prefix_reservation).tolist(),
            np.flatnonzero(free_blocks & ~subnet.block_in_prefix_reservation).tolist(),
        ]
        if len(groups[0]) + len(groups[1]) < n_prefixes:
            self._fail(subnet, INSUFFICIENT_CIDR_BLOCKS, n_prefixes, now_s)
        blocks = []
        for _ in range(n_prefixes):
            group = groups[0] if groups[0] else groups[1]  # reserved blocks first
            blocks.append(group.pop(int(self._rng.integers(len(group)))))
        starts = np.sort(np.array(blocks, dtype=np.int64)) * ADDRESSES_PER_PREFIX
        offsets = (starts[:, None] + np.arange(ADDRESSES_PER_PREFIX)).ravel()
        self._take(subnet, offsets, owner, STATE_PREFIX)
        return (subnet.base + starts).astype(np.uint32)

    def allocate_fixed(
        self,
        subnet_id: str,
        owner: int,
        n_ips: int = 0,
        addresses: npt.ArrayLike | None = None,
        now_s: float | None = None,
    ) -> AddressArray:
        """Take addresses for a holder outside the CNI (load balancer, endpoint, other hosts).

        Parameters
        ----------
        subnet_id
            Subnet to take from.
        owner
            Holder id from :meth:`new_owner_id`.
        n_ips
            Number of addresses EC2 picks (as for secondary IPs), when ``addresses`` is None.
        addresses
            Exact addresses (uint32 ints) to take; they may lie in an ``explicit`` reservation
            but not in a ``prefix`` one.
        now_s
            Time of the request [s] (see :meth:`allocate_ips`).

        Raises
        ------
        InsufficientAddressesError
            ``InsufficientFreeAddressesInSubnet`` if EC2 cannot pick ``n_ips`` addresses.
        SubnetConfigError
            If a named address is not free, is AWS-reserved or is in a ``prefix`` reservation.
        """
        subnet = self._subnet(subnet_id)
        if addresses is None:
            self._check_count(n_ips, "IPs")
            if subnet.n_free_ip_allowed < n_ips:
                self._fail(subnet, INSUFFICIENT_FREE_ADDRESSES, n_ips, now_s)
            offsets = subnet.pick_ips(n_ips, self._rng)
        else:
            offsets = np.unique(subnet.offsets(addresses))
            bad = (subnet.state[offsets] != STATE_FREE) | (
                subnet.reservation[offsets] == RESERVATION_PREFIX
            )
            if bad.any():
                raise SubnetConfigError(
                    f"address {_fmt(subnet.base + int(offsets[bad][0]))} in {subnet_id} is "
                    "in use, AWS-reserved or in a prefix reservation; pick a free address"
                )
        self._take(subnet, offsets, owner, STATE_FIXED)
        return (subnet.base + offsets).astype(np.uint32)

    # ------------------------------------------------------------------ release
    def release_ips(self, subnet_id: str, addresses: npt.ArrayLike, owner: int) -> None:
        """Return /32s (secondary, primary or fixed) that ``owner`` holds to the subnet.

        Raises
        ------
        SubnetConfigError
            If an address is not a /32 held by ``owner``.
        """
        subnet = self._subnet(subnet_id)
        offsets = np.unique(subnet.offsets(addresses))
        states = subnet.state[offsets]
        held = (subnet.owner[offsets] == owner) & (
            (states == STATE_PRIMARY) | (states == STATE_SECONDARY) | (states == STATE_FIXED)
        )
        if not held.all():
            raise SubnetConfigError(
                f"address {_fmt(subnet.base + int(offsets[~held][0]))} in {subnet_id} is not an "
                f"IP held by owner {owner}; release only what was allocated"
            )
        subnet.give_back(offsets)

    def release_prefixes(self, subnet_id: str, bases: npt.ArrayLike, owner: int) -> None:
        """Return /28 prefixes (given by base address) that ``owner`` holds to the subnet.

        Raises
        ------
        SubnetConfigError
            If a base is not the start of a /28 prefix held by ``owner``.
        """
        subnet = self._subnet(subnet_id)
        starts = np.unique(subnet.offsets(bases))
        offsets = (starts[:, None] + np.arange(ADDRESSES_PER_PREFIX)).ravel()
        aligned = (starts % ADDRESSES_PER_PREFIX == 0).all()
        if not aligned or offsets.max(initial=0) >= subnet.n_addresses:
            raise SubnetConfigError(f"prefix base not aligned to a /28 in {subnet_id}")
        held = (subnet.owner[offsets] == owner) & (subnet.state[offsets] == STATE_PREFIX)
        if not held.all():
            raise SubnetConfigError(
                f"address {_fmt(subnet.base + int(offsets[~held][0]))} in {subnet_id} is not in "
                f"a prefix held by owner {owner}; release only what was allocated"
            )
        subnet.give_back(offsets)

    def release_owner(self, owner: int) -> int:
        """Return every address ``owner`` holds, in every subnet (ENI deleted, node gone).

        Returns
        -------
        int
            Number of addresses returned (a prefix counts 16).
        """
        n_released = 0
        for subnet_id in sorted(self._subnets_of_owner.pop(owner, set())):
            subnet = self._subnets[subnet_id]
            offsets = np.flatnonzero(subnet.owner == owner)
            subnet.give_back(offsets)
            n_released += offsets.size
        return n_released

    # ------------------------------------------------------------------ queries
    def subnet_ids(self) -> list[str]:
        """Subnet ids in creation order."""
        return list(self._subnets)

    def cidr(self, subnet_id: str) -> str:
        """The subnet's CIDR as text."""
        return str(self._subnet(subnet_id).network)

    def available_ip_address_count(self, subnet_id: str) -> int:
        """``AvailableIpAddressCount`` as DescribeSubnets reports it.

        Free addresses, excluding AWS's 5 and everything held (a prefix counts 16). Unheld
        addresses inside CIDR reservations are counted as available.

        References
        ----------
        EC2 API Reference, Subnet data type (AvailableIpAddressCount).
        """
        return self._subnet(subnet_id).n_free

    def n_free_ips_outside_reservations(self, subnet_id: str) -> int:
        """Free addresses EC2 may pick for a secondary or primary IP."""
        return self._subnet(subnet_id).n_free_ip_allowed

    def n_free_prefix_blocks(self, subnet_id: str) -> int:
        """Free aligned /28 blocks EC2 may delegate as prefixes."""
        return int(np.count_nonzero(self._subnet(subnet_id).free_blocks()))

    def largest_free_block_prefix_len(self, subnet_id: str) -> int | None:
        """Prefix length of the largest free aligned block (``32`` = a lone free /32).

        Returns ``None`` when nothing is free. AWS-reserved addresses are not free.
        """
        return largest_free_block_prefix_len(self._subnet(subnet_id).state)

    def state_of(self, subnet_id: str, addresses: npt.ArrayLike) -> npt.NDArray[np.uint8]:
        """``STATE_*`` code of each address."""
        subnet = self._subnet(subnet_id)
        return subnet.state[subnet.offsets(addresses)]

    def owner_of(self, subnet_id: str, addresses: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Owner id of each address (``-1`` when nobody holds it)."""
        subnet = self._subnet(subnet_id)
        return subnet.owner[subnet.offsets(addresses)]

    def held_by(self, owner: int) -> AddressArray:
        """Every address ``owner`` holds, in every subnet, in increasing order."""
        parts = [
            (self._subnets[sid].base + np.flatnonzero(self._subnets[sid].owner == owner)).astype(
                np.uint32
            )
            for sid in sorted(self._subnets_of_owner.get(owner, set()))
        ]
        return np.sort(np.concatenate(parts)) if parts else np.empty(0, dtype=np.uint32)

    def failure_counts(self, subnet_id: str) -> dict[str, int]:
        """Failed allocation requests in this subnet by EC2 error code."""
        return dict(self._subnet(subnet_id).failures)

    def first_failure_s(self, subnet_id: str, code: AllocationErrorCode) -> float | None:
        """Earliest time [s] a timed request in this subnet was refused with ``code``, or None."""
        return self._subnet(subnet_id).first_failure_s.get(code)

    def stats(self, subnet_id: str) -> SubnetStats:
        """Snapshot of use and fragmentation of one subnet."""
        subnet = self._subnet(subnet_id)
        return subnet_stats(
            subnet_id,
            subnet.network,
            subnet.state,
            n_free_ips_outside_reservations=subnet.n_free_ip_allowed,
            n_free_prefix_blocks=self.n_free_prefix_blocks(subnet_id),
            failures_by_code=dict(subnet.failures),
        )

    # ------------------------------------------------------------------ internals
    def _subnet(self, subnet_id: str) -> _Subnet:
        try:
            return self._subnets[subnet_id]
        except KeyError:
            raise SubnetConfigError(
                f"unknown subnet {subnet_id!r}; known: {', '.join(self._subnets) or 'none'}"
            ) from None

    def _fail(
        self, subnet: _Subnet, code: AllocationErrorCode, n_requested: int, now_s: float | None
    ) -> NoReturn:
        subnet.failures[code] += 1
        if now_s is not None:
            first = subnet.first_failure_s.get(code, math.inf)
            subnet.first_failure_s[code] = min(first, now_s)
        raise InsufficientAddressesError(code, subnet.subnet_id, n_requested)

    def _take(
        self, subnet: _Subnet, offsets: npt.NDArray[np.int64], owner: int, state: int
    ) -> None:
        subnet.take(offsets, owner, state)
        if offsets.size:
            self._subnets_of_owner.setdefault(owner, set()).add(subnet.subnet_id)


class SubnetMasks(NamedTuple):
    """What the reservations decide about a subnet's addresses and /28 blocks."""

    ip_allowed: npt.NDArray[np.bool_]
    """Addresses EC2 may pick as /32s: not AWS-reserved, in no reservation."""
    n_free_per_block: npt.NDArray[np.int64]
    """Free addresses per aligned /28."""
    block_allowed: npt.NDArray[np.bool_]
    """/28s that may become prefixes: no AWS-reserved and no explicitly reserved address."""
    block_in_prefix_reservation: npt.NDArray[np.bool_]
    """/28s entirely inside a ``prefix`` reservation."""


def subnet_masks(state: npt.NDArray[np.uint8], reservation: npt.NDArray[np.uint8]) -> SubnetMasks:
    """The masks of one subnet from its address states and reservation kinds."""
    blocks = (-1, ADDRESSES_PER_PREFIX)
    blocks_reserved = (state == STATE_AWS_RESERVED).reshape(blocks)
    blocks_explicit = (reservation == RESERVATION_EXPLICIT).reshape(blocks)
    return SubnetMasks(
        ip_allowed=(reservation == RESERVATION_NONE) & (state != STATE_AWS_RESERVED),
        n_free_per_block=(state == STATE_FREE).reshape(blocks).sum(axis=1, dtype=np.int64),
        block_allowed=~(blocks_reserved.any(axis=1) | blocks_explicit.any(axis=1)),
        block_in_prefix_reservation=(reservation == RESERVATION_PREFIX).reshape(blocks).all(axis=1),
    )


def check_new_subnet(
    subnet_id: str, cidr: str, existing: Mapping[str, ipaddress.IPv4Network]
) -> ipaddress.IPv4Network:
    """Parse a new subnet's CIDR; refuse a duplicate id, a size AWS does not allow or an overlap.

    Raises
    ------
    SubnetConfigError
        With a one-line reason.
    """
    if subnet_id in existing:
        raise SubnetConfigError(f"subnet {subnet_id!r} already exists; use a new subnet id")
    network = _parse_network(cidr)
    if not MIN_SUBNET_PREFIX_LEN <= network.prefixlen <= MAX_SUBNET_PREFIX_LEN:
        raise SubnetConfigError(
            f"subnet CIDR {cidr} is a /{network.prefixlen}; AWS subnets are /16 to /28"
        )
    for other_id, other in existing.items():
        if network.overlaps(other):
            raise SubnetConfigError(
                f"subnet CIDR {cidr} overlaps {other_id} ({other}); pick a disjoint CIDR"
            )
    return network


def check_reservation(
    subnet_id: str,
    network: ipaddress.IPv4Network,
    state: npt.NDArray[np.uint8],
    reservation: npt.NDArray[np.uint8],
    cidr: str,
    reservation_type: ReservationType,
) -> tuple[int, int, int]:
    """Check a new CIDR reservation; its (start, stop) offsets and reservation kind.

    Raises
    ------
    SubnetConfigError
        The range is outside the subnet, overlaps a reservation or holds used addresses.
    """
    reserved = _parse_network(cidr)
    if not reserved.subnet_of(network):
        raise SubnetConfigError(f"reservation {cidr} is not inside subnet {subnet_id} ({network})")
    if reservation_type not in ("prefix", "explicit"):
        raise SubnetConfigError(
            f"reservation type {reservation_type!r} is unknown: use 'prefix' or 'explicit'"
        )
    start = int(reserved.network_address) - int(network.network_address)
    stop = start + reserved.num_addresses
    if (reservation[start:stop] != RESERVATION_NONE).any():
        raise SubnetConfigError(
            f"reservation {cidr} overlaps an existing reservation in {subnet_id}"
        )
    held = np.isin(state[start:stop], (STATE_FREE, STATE_AWS_RESERVED), invert=True)
    if held.any():
        raise SubnetConfigError(
            f"reservation {cidr} contains addresses already in use in {subnet_id}; "
            "reserve before launching interfaces"
        )
    kind = RESERVATION_PREFIX if reservation_type == "prefix" else RESERVATION_EXPLICIT
    return start, stop, kind


def largest_free_block_prefix_len(state: npt.NDArray[np.uint8]) -> int | None:
    """Prefix length of the largest free aligned block of a subnet (``32``: a lone /32).

    Returns ``None`` when nothing is free. AWS-reserved addresses are not free.
    """
    free = state == STATE_FREE
    if not free.any():
        return None
    prefix_len = 32
    size = 1
    while size < state.size:
        free = free.reshape(-1, 2).all(axis=1)
        if not free.any():
            break
        size *= 2
        prefix_len -= 1
    return prefix_len


def subnet_stats(
    subnet_id: str,
    network: ipaddress.IPv4Network,
    state: npt.NDArray[np.uint8],
    *,
    n_free_ips_outside_reservations: int,
    n_free_prefix_blocks: int,
    failures_by_code: dict[str, int],
) -> SubnetStats:
    """A :class:`SubnetStats` from a subnet's address states and counts."""
    counts = np.bincount(state, minlength=STATE_FIXED + 1)
    return SubnetStats(
        subnet_id=subnet_id,
        cidr=str(network),
        n_addresses=int(state.size),
        available_ip_address_count=int(counts[STATE_FREE]),
        n_free_ips_outside_reservations=n_free_ips_outside_reservations,
        n_primary=int(counts[STATE_PRIMARY]),
        n_secondary=int(counts[STATE_SECONDARY]),
        n_prefix_addresses=int(counts[STATE_PREFIX]),
        n_fixed=int(counts[STATE_FIXED]),
        n_free_prefix_blocks=n_free_prefix_blocks,
        largest_free_block_prefix_len=largest_free_block_prefix_len(state),
        failures_by_code=failures_by_code,
    )


def _parse_network(cidr: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(cidr, strict=True)
    except ValueError as err:
        raise SubnetConfigError(
            f"bad IPv4 CIDR {cidr!r} ({err}); write it like 10.0.0.0/24"
        ) from None


def _fmt(address: int) -> str:
    return str(ipaddress.IPv4Address(address))
