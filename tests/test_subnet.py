"""Tests of the subnet address space (cnisim.sim.subnet)."""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnisim.errors import UsageError
from cnisim.sim.subnet import (
    STATE_AWS_RESERVED,
    STATE_FIXED,
    STATE_FREE,
    STATE_PREFIX,
    STATE_PRIMARY,
    STATE_SECONDARY,
    AddressSpace,
    InsufficientAddressesError,
    SubnetConfigError,
)


def ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def space_with(cidr: str, seed: int = 0, subnet_id: str = "s") -> AddressSpace:
    space = AddressSpace(rng=np.random.default_rng(seed))
    space.add_subnet(subnet_id, cidr)
    return space


# Amazon VPC User Guide, "Subnet CIDR blocks": AWS reserves the first four addresses and the
# last one of every subnet, so a /28 offers 11 addresses and a /24 offers 251.
@pytest.mark.parametrize(
    ("cidr", "n_available"),
    [("10.0.0.0/28", 11), ("10.0.0.0/24", 251), ("10.0.0.0/16", 65_531), ("10.0.0.0/20", 4_091)],
)
def test_fresh_subnet_reports_size_minus_five_reserved(cidr: str, n_available: int) -> None:
    space = space_with(cidr)
    assert space.available_ip_address_count("s") == n_available
    assert space.n_free_ips_outside_reservations("s") == n_available


def test_the_five_reserved_addresses_are_never_handed_out() -> None:
    space = space_with("10.1.2.32/28")
    taken = space.allocate_ips("s", 11, owner=space.new_owner_id())
    # .32 network, .33 router, .34 DNS, .35 future use and .47 broadcast stay with AWS.
    assert sorted(taken.tolist()) == [ip(f"10.1.2.{i}") for i in range(36, 47)]
    assert space.available_ip_address_count("s") == 0
    reserved = [ip(f"10.1.2.{i}") for i in (32, 33, 34, 35, 47)]
    assert (space.state_of("s", reserved) == STATE_AWS_RESERVED).all()


def test_shortage_is_all_or_nothing_and_counted() -> None:
    space = space_with("10.0.0.0/28")
    owner = space.new_owner_id()
    with pytest.raises(InsufficientAddressesError) as info:
        space.allocate_ips("s", 12, owner)
    assert info.value.code == "InsufficientFreeAddressesInSubnet"
    assert space.available_ip_address_count("s") == 11
    assert space.held_by(owner).size == 0
    assert space.failure_counts("s") == {"InsufficientFreeAddressesInSubnet": 1}
    space.allocate_ips("s", 11, owner)
    with pytest.raises(InsufficientAddressesError):
        space.allocate_ips("s", 1, owner)
    assert space.failure_counts("s") == {"InsufficientFreeAddressesInSubnet": 2}


def test_available_count_after_mixed_allocations() -> None:
    space = space_with("10.0.0.0/24")
    eni = space.new_owner_id()
    lb = space.new_owner_id()
    primary = space.allocate_ips("s", 1, eni, kind="primary")
    secondaries = space.allocate_ips("s", 10, eni)
    bases = space.allocate_prefixes("s", 2, eni)
    space.allocate_fixed("s", lb, addresses=[ip("10.0.0.200"), ip("10.0.0.201")])
    space.allocate_fixed("s", lb, n_ips=1)
    # 251 - 1 primary - 10 secondary - 2 x 16 prefix - 3 fixed
    assert space.available_ip_address_count("s") == 251 - 1 - 10 - 32 - 3
    stats = space.stats("s")
    assert (stats.n_primary, stats.n_secondary, stats.n_prefix_addresses, stats.n_fixed) == (
        1,
        10,
        32,
        3,
    )
    assert (space.state_of("s", primary) == STATE_PRIMARY).all()
    assert (space.state_of("s", secondaries) == STATE_SECONDARY).all()
    assert (bases % 16 == 0).all()
    prefix_addresses = (bases[:, None] + np.arange(16)).ravel()
    assert (space.state_of("s", prefix_addresses) == STATE_PREFIX).all()
    assert (space.owner_of("s", prefix_addresses) == eni).all()


@pytest.mark.parametrize(
    ("cidr", "n_blocks"),
    # The first /28 holds network, router, DNS and future-use addresses; the last holds the
    # broadcast address: neither can become a prefix.
    [("10.0.0.0/28", 0), ("10.0.0.0/27", 0), ("10.0.0.0/26", 2), ("10.0.0.0/24", 14)],
)
def test_prefix_blocks_exclude_the_edge_blocks(cidr: str, n_blocks: int) -> None:
    space = space_with(cidr)
    assert space.n_free_prefix_blocks("s") == n_blocks
    owner = space.new_owner_id()
    if n_blocks:
        space.allocate_prefixes("s", n_blocks, owner)
    with pytest.raises(InsufficientAddressesError) as info:
        space.allocate_prefixes("s", 1, owner)
    assert info.value.code == "InsufficientCidrBlocks"


def fragment_every_block(space: AddressSpace, cidr: str) -> None:
    """Hold the 6th address of every /28 of the subnet (a load balancer, say)."""
    network = ipaddress.IPv4Network(cidr)
    starts = range(int(network.network_address), int(network.broadcast_address), 16)
    space.allocate_fixed("s", space.new_owner_id(), addresses=[s + 5 for s in starts])


def test_fragmented_subnet_refuses_prefix_despite_many_free_addresses() -> None:
    space = space_with("10.0.0.0/24")
    fragment_every_block(space, "10.0.0.0/24")
    assert space.available_ip_address_count("s") == 251 - 16
    assert space.n_free_prefix_blocks("s") == 0
    # Offsets 6..15 of each /28 remain free: the largest aligned free block is a /29 (8..15).
    assert space.largest_free_block_prefix_len("s") == 29
    with pytest.raises(InsufficientAddressesError) as info:
        space.allocate_prefixes("s", 1, space.new_owner_id())
    assert info.value.code == "InsufficientCidrBlocks"
    assert space.failure_counts("s") == {"InsufficientCidrBlocks": 1}
    # The same request for 16 single IPs still succeeds.
    assert space.allocate_ips("s", 16, space.new_owner_id()).size == 16


def test_prefix_reservation_made_beforehand_keeps_prefixes_available() -> None:
    space = space_with("10.0.0.0/24", seed=3)
    space.reserve_cidr("s", "10.0.0.64/27", "prefix")
    # The reservation still counts as available space in DescribeSubnets...
    assert space.available_ip_address_count("s") == 251
    # ...but secondary IPs never come from it: take every address EC2 may pick.
    n_outside = space.n_free_ips_outside_reservations("s")
    assert n_outside == 251 - 32
    held = space.allocate_ips("s", n_outside, space.new_owner_id())
    in_reservation = (held >= ip("10.0.0.64")) & (held < ip("10.0.0.96"))
    assert not in_reservation.any()
    with pytest.raises(InsufficientAddressesError):
        space.allocate_ips("s", 1, space.new_owner_id())
    bases = space.allocate_prefixes("s", 2, space.new_owner_id())
    assert bases.tolist() == [ip("10.0.0.64"), ip("10.0.0.80")]
    with pytest.raises(InsufficientAddressesError) as info:
        space.allocate_prefixes("s", 1, space.new_owner_id())
    assert info.value.code == "InsufficientCidrBlocks"


def test_prefixes_come_from_the_reservation_first() -> None:
    space = space_with("10.0.0.0/22", seed=11)
    space.reserve_cidr("s", "10.0.2.0/26", "prefix")
    bases = space.allocate_prefixes("s", 5, space.new_owner_id())
    in_reservation = (bases >= ip("10.0.2.0")) & (bases < ip("10.0.2.64"))
    assert in_reservation.sum() == 4
    assert space.n_free_prefix_blocks("s") == 62 - 5


def test_explicit_reservation_is_only_taken_by_name() -> None:
    space = space_with("10.0.0.0/26", seed=5)
    space.reserve_cidr("s", "10.0.0.16/28", "explicit")
    # No prefix and no EC2-picked IP from the explicit range.
    assert space.n_free_prefix_blocks("s") == 1
    picked = space.allocate_ips("s", 59 - 16, space.new_owner_id())
    assert not ((picked >= ip("10.0.0.16")) & (picked < ip("10.0.0.32"))).any()
    named = space.allocate_fixed("s", space.new_owner_id(), addresses=[ip("10.0.0.20")])
    assert named.tolist() == [ip("10.0.0.20")]
    assert (space.state_of("s", named) == STATE_FIXED).all()


def test_fixed_address_in_use_or_in_prefix_reservation_is_refused() -> None:
    space = space_with("10.0.0.0/24")
    space.reserve_cidr("s", "10.0.0.128/28", "prefix")
    holder = space.new_owner_id()
    space.allocate_fixed("s", holder, addresses=[ip("10.0.0.10")])
    for address in ("10.0.0.10", "10.0.0.130", "10.0.0.1"):
        with pytest.raises(SubnetConfigError):
            space.allocate_fixed("s", space.new_owner_id(), addresses=[ip(address)])
    assert space.available_ip_address_count("s") == 250


def test_release_owner_returns_everything_of_an_eni_across_subnets() -> None:
    space = AddressSpace(rng=np.random.default_rng(1))
    space.add_subnet("a", "10.0.0.0/24")
    space.add_subnet("b", "10.0.1.0/24")
    eni = space.new_owner_id()
    other = space.new_owner_id()
    space.allocate_ips("a", 3, eni)
    space.allocate_prefixes("b", 2, eni)
    space.allocate_ips("a", 4, other)
    assert space.release_owner(eni) == 3 + 32
    assert space.held_by(eni).size == 0
    assert space.available_ip_address_count("a") == 251 - 4
    assert space.available_ip_address_count("b") == 251
    assert space.held_by(other).size == 4


def test_partial_release_checks_ownership_and_kind() -> None:
    space = space_with("10.0.0.0/24")
    eni = space.new_owner_id()
    ips = space.allocate_ips("s", 4, eni)
    bases = space.allocate_prefixes("s", 1, eni)
    with pytest.raises(SubnetConfigError):
        space.release_ips("s", ips[:1], owner=eni + 1)
    with pytest.raises(SubnetConfigError):
        space.release_ips("s", bases, owner=eni)  # a prefix is not released as an IP
    with pytest.raises(SubnetConfigError):
        space.release_prefixes("s", bases + 1, owner=eni)  # not a /28 base
    space.release_ips("s", ips[:2], owner=eni)
    space.release_prefixes("s", bases, owner=eni)
    assert space.available_ip_address_count("s") == 251 - 2
    assert (space.state_of("s", ips[:2]) == STATE_FREE).all()


@pytest.mark.parametrize(
    ("cidr", "largest"),
    # /24: .0-.3 and .255 are reserved, so .64/26 is the largest aligned free block.
    # /16: 10.0.64.0/18 is the largest (the /17 halves each touch a reserved address).
    [("10.0.0.0/24", 26), ("10.0.0.0/16", 18), ("10.0.0.0/28", 30)],
)
def test_largest_free_block_of_a_fresh_subnet(cidr: str, largest: int) -> None:
    assert space_with(cidr).largest_free_block_prefix_len("s") == largest


@pytest.mark.parametrize(
    "cidr", ["10.0.0.0/15", "10.0.0.0/29", "10.0.0.1/24", "300.0.0.0/24", "fd00::/64"]
)
def test_bad_subnet_cidr_is_a_usage_error(cidr: str) -> None:
    space = AddressSpace(rng=np.random.default_rng(0))
    with pytest.raises(UsageError, match="CIDR"):
        space.add_subnet("s", cidr)


def test_overlapping_duplicate_or_unknown_subnets_are_refused() -> None:
    space = space_with("10.0.0.0/24")
    with pytest.raises(SubnetConfigError, match="overlaps"):
        space.add_subnet("t", "10.0.0.128/25")
    with pytest.raises(SubnetConfigError, match="already exists"):
        space.add_subnet("s", "10.0.1.0/24")
    with pytest.raises(SubnetConfigError, match="unknown subnet"):
        space.available_ip_address_count("nope")
    with pytest.raises(SubnetConfigError, match="not inside"):
        space.reserve_cidr("s", "10.0.1.0/28", "prefix")
    space.reserve_cidr("s", "10.0.0.0/26", "prefix")
    with pytest.raises(SubnetConfigError, match="overlaps an existing reservation"):
        space.reserve_cidr("s", "10.0.0.48/28", "explicit")
    space.allocate_ips("s", 5, space.new_owner_id())
    with pytest.raises(SubnetConfigError, match="already in use"):
        space.reserve_cidr("s", "10.0.0.64/26", "explicit")


# ---------------------------------------------------------------------------- properties

operation = st.tuples(
    st.sampled_from(["ips", "prefixes", "fixed", "release_some", "release_owner"]),
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=0, max_value=7),
)


def run_sequence(
    prefix_len: int, block_index: int, reserve: bool, ops: list[tuple[str, int, int]], seed: int
) -> tuple[AddressSpace, list[list[int]], str]:
    """Apply ``ops`` and check the invariants after each one; return what each op got."""
    base = ip("10.0.0.0") + block_index * 2 ** (32 - prefix_len)
    network = ipaddress.IPv4Network((base, prefix_len))
    space = AddressSpace(rng=np.random.default_rng(seed))
    space.add_subnet("s", str(network))
    if reserve and prefix_len <= 26:
        reservation = ipaddress.IPv4Network(f"{network.network_address + 32}/28")
        space.reserve_cidr("s", str(reservation), "prefix")
    n_usable = network.num_addresses - 5
    owners = [space.new_owner_id() for _ in range(8)]
    held: dict[int, set[int]] = {owner: set() for owner in owners}
    got: list[list[int]] = []
    for kind, n, owner_index in ops:
        owner = owners[owner_index]
        new: list[int] = []
        try:
            if kind == "ips":
                new = space.allocate_ips("s", n, owner).tolist()
            elif kind == "prefixes":
                bases = space.allocate_prefixes("s", n % 4, owner)
                new = (bases[:, None].astype(np.int64) + np.arange(16)).ravel().tolist()
            elif kind == "fixed":
                new = space.allocate_fixed("s", owner, n_ips=n % 5).tolist()
            elif kind == "release_some":
                singles = sorted(
                    a
                    for a in held[owner]
                    if space.state_of("s", [a])[0] in (STATE_SECONDARY, STATE_FIXED)
                )
                drop = singles[: n % 6]
                space.release_ips("s", drop, owner)
                held[owner] -= set(drop)
            else:
                assert space.release_owner(owner) == len(held[owner])
                held[owner] = set()
        except InsufficientAddressesError:
            new = []
        got.append(new)
        # No address is handed out twice, nor to two owners.
        assert len(set(new)) == len(new)
        for other, addresses in held.items():
            assert not addresses & set(new), f"address given to {owner} already held by {other}"
        held[owner] |= set(new)
        n_held = sum(len(a) for a in held.values())
        # Never more than the subnet has; EC2's count is the true free count.
        assert n_held <= n_usable
        assert space.available_ip_address_count("s") == n_usable - n_held
        assert space.stats("s").n_addresses == network.num_addresses
        everything = np.arange(int(network.network_address), int(network.broadcast_address) + 1)
        states = space.state_of("s", everything)
        assert int((states == STATE_FREE).sum()) == n_usable - n_held
        assert int((states == STATE_AWS_RESERVED).sum()) == 5
        for owner_id, addresses in held.items():
            assert set(space.held_by(owner_id).tolist()) == addresses
    return space, got, str(network)


@settings(max_examples=40, deadline=None)
@given(
    prefix_len=st.integers(min_value=22, max_value=28),
    block_index=st.integers(min_value=0, max_value=15),
    reserve=st.booleans(),
    ops=st.lists(operation, max_size=25),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_random_sequences_keep_the_invariants_and_release_restores(
    prefix_len: int, block_index: int, reserve: bool, ops: list[tuple[str, int, int]], seed: int
) -> None:
    space, got, cidr = run_sequence(prefix_len, block_index, reserve, ops, seed)
    fresh = AddressSpace(rng=np.random.default_rng(0))
    fresh.add_subnet("s", cidr)
    if reserve and prefix_len <= 26:
        network = ipaddress.IPv4Network(cidr)
        fresh.reserve_cidr("s", f"{network.network_address + 32}/28", "prefix")
    for owner in range(8):
        space.release_owner(owner)
    network = ipaddress.IPv4Network(cidr)
    everything = np.arange(int(network.network_address), int(network.broadcast_address) + 1)
    assert (space.state_of("s", everything) == fresh.state_of("s", everything)).all()
    assert (space.owner_of("s", everything) == -1).all()
    assert (
        space.stats("s").available_ip_address_count == fresh.stats("s").available_ip_address_count
    )
    assert space.n_free_prefix_blocks("s") == fresh.n_free_prefix_blocks("s")
    # Same seed, same calls: the same addresses.
    _, again, _ = run_sequence(prefix_len, block_index, reserve, ops, seed)
    assert again == got


@pytest.mark.parametrize(
    ("n_held_first", "n_per_call"),
    # 0 held: free IPs are dense, so they are drawn by rejection; 231 held leaves 20 of 256
    # addresses free, below 1 in 8, so they are listed and drawn from directly.
    [(0, 1), (0, 3), (231, 1)],
)
def test_picked_ips_are_uniform_over_the_free_addresses(n_held_first: int, n_per_call: int) -> None:
    space = space_with("10.0.0.0/24", seed=42)
    space.allocate_ips("s", n_held_first, space.new_owner_id())
    n_free = space.n_free_ips_outside_reservations("s")
    owner = space.new_owner_id()
    n_calls = 40 * n_free // n_per_call
    counts: dict[int, int] = {}
    for _ in range(n_calls):
        got = space.allocate_ips("s", n_per_call, owner)
        assert np.unique(got).size == n_per_call
        for address in got.tolist():
            counts[address] = counts.get(address, 0) + 1
        space.release_ips("s", got, owner)
    assert len(counts) == n_free
    observed = np.array(list(counts.values()), dtype=float)
    expected = n_calls * n_per_call / n_free
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    dof = n_free - 1
    # Chi-square with dof degrees of freedom: mean dof, sd sqrt(2 dof); 6 sd is far out.
    assert chi2 < dof + 6 * np.sqrt(2 * dof)


def test_subnets_are_listed_in_creation_order_with_their_cidrs() -> None:
    space = AddressSpace(rng=np.random.default_rng(0))
    space.add_subnet("z", "10.0.1.0/24")
    space.add_subnet("a", "10.0.0.0/24")
    assert space.subnet_ids() == ["z", "a"]
    assert [space.cidr(s) for s in space.subnet_ids()] == ["10.0.1.0/24", "10.0.0.0/24"]


def test_negative_counts_are_refused() -> None:
    space = space_with("10.0.0.0/24")
    owner = space.new_owner_id()
    with pytest.raises(SubnetConfigError, match="-1 IPs"):
        space.allocate_ips("s", -1, owner)
    with pytest.raises(SubnetConfigError, match="-2 prefixes"):
        space.allocate_prefixes("s", -2, owner)
    with pytest.raises(SubnetConfigError, match="-3 IPs"):
        space.allocate_fixed("s", owner, n_ips=-3)
    assert space.available_ip_address_count("s") == 251
