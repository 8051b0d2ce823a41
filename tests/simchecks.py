"""Checks the engine tests share: two engines' results, and their Worlds, field by field."""

from __future__ import annotations

import ipaddress

import numpy as np

from cnisim.sim.fastworld import FastWorld
from cnisim.sim.records import SimResult
from cnisim.sim.world import PlainWorld

NOT_COMPARED = ("n_ticks", "n_node_steps")  # what each engine visits, not what it simulates


def assert_same_result(want: SimResult, got: SimResult) -> None:
    """Every recorded field equal (NaN equal to NaN)."""
    for name in want.field_names():
        if name in NOT_COMPARED:
            continue
        a, b = getattr(want, name), getattr(got, name)
        if isinstance(a, dict):
            assert a.keys() == b.keys(), name
            for key in a:
                np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), name)
        elif isinstance(a, np.ndarray):
            assert a.dtype == b.dtype, name
            np.testing.assert_array_equal(a, b, name)
        else:
            assert a == b, name


def assert_same_world(plain: PlainWorld, fast: FastWorld) -> None:
    """Every address's state and holder, and every EC2 counter, equal."""
    for subnet_id in plain.subnet_ids():
        network = ipaddress.IPv4Network(plain.cidr(subnet_id))
        base = int(network.network_address)
        addresses = np.arange(base, base + network.num_addresses)
        np.testing.assert_array_equal(
            plain.space.state_of(subnet_id, addresses), fast.space.state_of(subnet_id, addresses)
        )
        np.testing.assert_array_equal(
            plain.space.owner_of(subnet_id, addresses), fast.space.owner_of(subnet_id, addresses)
        )
    assert dict(plain.ec2.n_sdk_calls_by_action) == {
        k: v for k, v in fast.ec2.n_sdk_calls_by_action.items() if v
    }
    assert {k: v for k, v in plain.ec2.n_errors_by_code.items() if v} == dict(
        fast.ec2.n_errors_by_code
    )
