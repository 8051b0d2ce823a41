"""The fast World gives the plain World's answers: same calls, same results, same state.

Hypothesis draws sequences of EC2 operations and outside holders (launches, terminations,
trunk and branch ENIs, IP and prefix assignments and releases, ENI creations with and without
subnet discovery or custom networking, ENI frees, fixed holders, reservations, describes), at
times that go forward and sometimes back, on subnets small enough to run out and buckets small
enough to throttle, and applies each to both Worlds built from the same seed. Every result,
every error, the subnets' states and owners and every counter must be identical.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cnisim.errors import CnisimError
from cnisim.sim import _rng
from cnisim.sim.contract import ACTIONS
from cnisim.sim.ec2 import DEFAULT_BUCKETS, Bucket, Ec2Params, Ec2Result
from cnisim.sim.fastworld import FastWorld
from cnisim.sim.subnet import InsufficientAddressesError
from cnisim.sim.world import PlainWorld

SUBNETS = {"node": "10.0.0.0/26", "pods": "10.0.1.0/27", "big": "10.0.16.0/24"}
SUBNET_IDS = list(SUBNETS)


def params(capacity: int, refill: float, quota: int | None) -> Ec2Params:
    buckets = {a: Bucket(min(b.capacity, capacity), refill) for a, b in DEFAULT_BUCKETS.items()}
    return Ec2Params(buckets=buckets, retry_quota_tokens=quota)


def outcome(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """The result of a call, or the type and message of the error it raised."""
    try:
        return fn(*args, **kwargs)
    except (CnisimError, InsufficientAddressesError) as err:
        return (type(err).__name__, str(err))


def same(a: Any, b: Any) -> bool:
    if isinstance(a, Ec2Result) and isinstance(b, Ec2Result):
        fa, fb = dataclasses.asdict(a), dataclasses.asdict(b)
        addresses_a, addresses_b = fa.pop("addresses"), fb.pop("addresses")
        return fa == fb and np.array_equal(addresses_a, addresses_b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    return bool(a == b)


def assert_same_state(plain: PlainWorld, fast: FastWorld) -> None:
    for subnet_id in SUBNET_IDS:
        assert plain.stats(subnet_id) == fast.stats(subnet_id)
        for code in ("InsufficientFreeAddressesInSubnet", "InsufficientCidrBlocks"):
            assert plain.first_failure_s(subnet_id, code) == fast.first_failure_s(subnet_id, code)
        network = ipaddress.IPv4Network(plain.cidr(subnet_id))
        base = int(network.network_address)
        addresses = np.arange(base, base + network.num_addresses)
        assert np.array_equal(
            plain.space.state_of(subnet_id, addresses), fast.space.state_of(subnet_id, addresses)
        )
        assert np.array_equal(
            plain.space.owner_of(subnet_id, addresses), fast.space.owner_of(subnet_id, addresses)
        )
    for name in (
        "n_calls_by_action",
        "n_sdk_calls_by_action",
        "n_throttled_by_action",
        "n_errors_by_code",
        "n_retry_quota_exhausted_by_action",
    ):
        assert {k: v for k, v in getattr(plain.ec2, name).items() if v} == dict(
            getattr(fast.ec2, name)
        ), name
    for got, want in zip(plain.calls_per_minute(), fast.calls_per_minute(), strict=True):
        assert np.array_equal(got, want)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "seed": draw(st.integers(0, 2**32)),
        "params": params(
            draw(st.sampled_from([1, 3, 100])),
            draw(st.sampled_from([0.5, 5.0, 20.0])),
            draw(st.sampled_from([None, 10, 500])),
        ),
        "ops": draw(
            st.lists(
                st.tuples(
                    st.sampled_from(
                        [
                            "launch",
                            "launch",
                            "terminate",
                            "trunk",
                            "branch",
                            "branch_delete",
                            "assign",
                            "assign",
                            "unassign",
                            "create_eni",
                            "create_eni",
                            "free_eni",
                            "fixed",
                            "release_owner",
                            "reserve",
                            "describe",
                        ]
                    ),
                    st.integers(0, 2**16),  # picks the entity and the sizes
                    st.floats(-20.0, 60.0),  # time step (negative: out of order)
                ),
                max_size=60,
            )
        ),
    }


def apply(
    world: PlainWorld | FastWorld, op: str, k: int, t_s: float, known: dict[str, list[int]]
) -> Any:
    """One operation on one World; ``known`` holds ids seen so far (the same in both)."""
    ec2 = world.ec2

    def pick(kind: str) -> int | None:
        items = known[kind]
        return items[k % len(items)] if items else None

    subnet = SUBNET_IDS[k % 3]
    if op == "launch":
        return outcome(ec2.launch_instance, t_s, subnet)
    if op == "fixed":
        return outcome(world.allocate_fixed, subnet, world.new_owner_id(), k % 9, None, t_s)
    if op == "reserve":
        cidr = {"node": "10.0.0.32/28", "pods": "10.0.1.16/28", "big": "10.0.16.128/26"}[subnet]
        return outcome(world.reserve_cidr, subnet, cidr, "prefix" if k % 2 else "explicit")
    if op == "describe":
        return outcome(world.describe, t_s, "DescribeSubnets", pick("instance"))
    if op == "release_owner":
        return outcome(world.release_owner, k % 40)
    instance = pick("instance")
    if instance is None:
        return None
    if op == "terminate":
        return outcome(ec2.terminate_instance, t_s, instance)
    if op == "trunk":
        return outcome(ec2.attach_trunk_eni, t_s, instance, subnet)
    if op == "branch":
        return outcome(ec2.create_branch_eni, t_s, instance, subnet)
    if op == "create_eni":
        candidates = [subnet, SUBNET_IDS[(k // 3) % 3]]
        n = (k // 9) % 5
        prefixes = bool(k % 2)
        return outcome(
            ec2.create_and_attach_eni,
            t_s,
            instance,
            candidates,
            n_ips=0 if prefixes else n,
            n_prefixes=n if prefixes else 0,
            subnet_discovery=bool((k // 2) % 2),
            custom_networking=bool((k // 4) % 2),
        )
    eni = pick("eni")
    if eni is None:
        return None
    if op == "branch_delete":
        return outcome(ec2.delete_branch_eni, t_s, eni)
    if op == "free_eni":
        return outcome(ec2.free_eni, t_s, eni)
    if op == "assign":
        n = 1 + (k // 7) % 4
        method = ec2.assign_prefixes if k % 2 else ec2.assign_private_ips
        return outcome(method, t_s, eni, n)
    held = world.space.held_by(eni)
    if not held.size:
        return None
    chosen = held[:: 1 + k % 3][: 1 + k % 2]
    method = ec2.unassign_prefixes if k % 2 else ec2.unassign_private_ips
    return outcome(method, t_s, eni, chosen)


@given(scenario=scenarios())
@settings(max_examples=300, deadline=None)
# a throttled AssignPrivateIpAddresses once lost its ENI id in the compiled World
@example(
    scenario={
        "seed": 0,
        "params": params(1, 0.5, 10),
        "ops": [("launch", 0, 0.0), ("assign", 0, 1.0), ("assign", 0, -1.0)],
    }
)
def test_fast_world_answers_as_the_plain_world(scenario: dict[str, Any]) -> None:
    plain = PlainWorld(SUBNETS, seed=scenario["seed"], ec2_params=scenario["params"])
    fast = FastWorld(SUBNETS, seed=scenario["seed"], ec2_params=scenario["params"])
    known: dict[str, list[int]] = {"instance": [], "eni": []}
    t_s = 0.0
    for op, k, step_s in scenario["ops"]:
        t_s = max(0.0, t_s + step_s)
        got_plain = apply(plain, op, k, t_s, known)
        got_fast = apply(fast, op, k, t_s, known)
        assert same(got_plain, got_fast), (op, got_plain, got_fast)
        if isinstance(got_plain, Ec2Result):
            if got_plain.instance_id is not None and got_plain.instance_id not in known["instance"]:
                known["instance"].append(got_plain.instance_id)
            if got_plain.eni_id is not None and got_plain.eni_id not in known["eni"]:
                known["eni"].append(got_plain.eni_id)
    assert_same_state(plain, fast)


def test_the_same_seed_draws_the_same_streams() -> None:
    plain, fast = PlainWorld(SUBNETS, seed=3), FastWorld(SUBNETS, seed=3)

    assert _rng.integers(fast.placement_state, 1000) == plain.placement_rng.integers(1000)
    assert plain.stream("boot").random() == fast.stream("boot").random()


def test_calls_per_minute_count_every_attempt_in_its_minute() -> None:
    for world in (PlainWorld(SUBNETS, seed=0), FastWorld(SUBNETS, seed=0)):
        for t_s in (0.0, 59.9, 60.0, 185.0):
            world.describe(t_s, "DescribeSubnets")
        calls, throttled = world.calls_per_minute()
        column = ACTIONS.index("DescribeSubnets")
        assert calls[:, column].tolist() == [2, 1, 0, 1]
        assert not throttled.any()


def test_fast_world_refuses_what_the_plain_world_refuses() -> None:
    for world in (PlainWorld(SUBNETS), FastWorld(SUBNETS)):
        with pytest.raises(CnisimError, match="overlaps"):
            type(world)({"a": "10.0.0.0/24", "b": "10.0.0.128/25"})
        with pytest.raises(CnisimError, match="unknown subnet"):
            world.available_ip_address_count("nope")
        with pytest.raises(CnisimError, match="negative"):
            type(world)(SUBNETS, seed=-1)
