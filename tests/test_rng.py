"""The compiled draws of cnisim.sim._rng are numpy's, bit for bit, and share its stream."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnisim.sim import _rng


@given(
    seed=st.integers(0, 2**63),
    kinds=st.lists(st.sampled_from(["random", "normal", "int", "u32", "u64"]), max_size=300),
    bound=st.integers(1, 2**32),
)
@settings(max_examples=150, deadline=None)
def test_mixed_draws_equal_numpy_and_leave_the_same_state(
    seed: int, kinds: list[str], bound: int
) -> None:
    mine = np.random.default_rng(seed)
    theirs = np.random.default_rng(seed)
    state = _rng.state_of(mine)
    for i, kind in enumerate(kinds):
        n = 1 + (bound + 7919 * i) % bound  # a bound that changes along the sequence
        if kind == "random":
            assert _rng.random(state) == theirs.random()
        elif kind == "normal":
            assert _rng.standard_normal(state) == theirs.standard_normal()
        elif kind == "int":
            assert _rng.integers(state, n) == theirs.integers(n)
        elif kind == "u32":
            assert _rng.next_uint32(state) == theirs.integers(0, 2**32, dtype=np.uint32)
        else:
            assert _rng.next_uint64(state) == theirs.integers(0, 2**64, dtype=np.uint64)
    _rng.set_state(mine, state)
    assert mine.bit_generator.state == theirs.bit_generator.state
    assert mine.random() == theirs.random()


def test_a_million_normals_include_the_ziggurat_tails() -> None:
    # About 0.7 % of draws leave the fast path and 1 in ~10**4 come from the base strip.
    theirs = np.random.default_rng(12345)
    expected = theirs.standard_normal(1_000_000)
    state = _rng.state_of(np.random.default_rng(12345))
    got = np.array([_rng.standard_normal(state) for _ in range(1_000_000)])
    assert np.array_equal(got, expected)
    assert np.abs(expected).max() > 4.5  # the tail path was taken


@pytest.mark.parametrize("n", [2, 3, 7, 1000, 65536, 2**31 + 1, 2**32 - 1, 2**32])
def test_bounded_integers_with_rejections_equal_numpy_vector_draws(n: int) -> None:
    # integers(0, n, size=k) draws the same values one after another, rejections included.
    theirs = np.random.default_rng(n).integers(0, n, size=20_000)
    state = _rng.state_of(np.random.default_rng(n))
    assert [_rng.integers(state, n) for _ in range(20_000)] == theirs.tolist()


def test_only_pcg64_is_accepted() -> None:
    with pytest.raises(TypeError, match="PCG64"):
        _rng.state_of(np.random.Generator(np.random.MT19937(0)))
