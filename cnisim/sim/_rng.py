"""numpy's PCG64 Generator draws, compiled with numba, bit for bit.

The fast engine and its World draw from the same named streams as the reference model, which
uses :class:`numpy.random.Generator` objects. Passing Generators into numba functions costs
about 15 us per call (their unboxing), so the compiled code keeps each stream's PCG64 state in
a small ``uint64`` array and reimplements the few draws the simulator makes, exactly as numpy
computes them:

- ``next_uint64`` / ``next_uint32``: PCG64 (XSL-RR 128/64, numpy's default bit generator),
  the 32-bit draw taking the low half of a 64-bit output and keeping the high half for the
  next 32-bit draw, as numpy's ``pcg64_next32`` does;
- ``random``: ``Generator.random()``, ``(next_uint64 >> 11) * 2**-53``;
- ``integers(n)``: ``Generator.integers(n)`` (and ``integers(0, n, size=k)``, which draws the
  same values one after another) for ``1 <= n <= 2**32``: Lemire's multiply-and-reject on
  32-bit words (numpy ``buffered_bounded_lemire_uint32``);
- ``standard_normal``: numpy's 256-step ziggurat (``random_standard_normal``) with numpy's own
  tables (read from numba's copy of them).

A state array is ``[state_hi, state_lo, inc_hi, inc_lo, has_uint32, uinteger]``;
:func:`state_of` reads it from a Generator and :func:`set_state` writes it back, so a stream
can move between Python and compiled code. ``tests/test_rng.py`` holds every draw to numpy's.

References
----------
numpy ``numpy/random/src/pcg64/pcg64.h`` (pcg64_next64, pcg64_next32,
pcg_output_xsl_rr_128_64, PCG_DEFAULT_MULTIPLIER_128), ``numpy/random/src/distributions/
distributions.c`` (random_standard_uniform, buffered_bounded_lemire_uint32,
random_standard_normal), ``numpy/random/src/distributions/ziggurat_constants.h``;
M. E. O'Neill, "PCG: A Family of Simple Fast Space-Efficient Statistically Good Algorithms
for Random Number Generation" (2014); D. Lemire, "Fast Random Integer Generation in an
Interval" (2019).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba.np.random import _constants as _zig  # numpy's ziggurat tables, as numba ships them
from numpy.typing import NDArray

__all__ = [
    "STATE_SIZE",
    "integers",
    "next_uint32",
    "next_uint64",
    "random",
    "set_state",
    "standard_normal",
    "state_of",
]

STATE_SIZE = 6
_MASK64 = (1 << 64) - 1
_MULT = 0x2360ED051FC65DA44385DF649FCCF645  # PCG_DEFAULT_MULTIPLIER_128
_MULT_HI = np.uint64(_MULT >> 64)
_MULT_LO = np.uint64(_MULT & _MASK64)
_U32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_S11 = np.uint64(11)
_S58 = np.uint64(58)
_S63 = np.uint64(63)
_ONE = np.uint64(1)
_ZERO = np.uint64(0)
_DOUBLE_UNIT = 1.0 / 9007199254740992.0  # 2**-53
_KI = np.asarray(_zig.ki_double, dtype=np.uint64)
_WI = np.asarray(_zig.wi_double, dtype=np.float64)
_FI = np.asarray(_zig.fi_double, dtype=np.float64)
_NOR_R = float(_zig.ziggurat_nor_r)
_NOR_INV_R = float(_zig.ziggurat_nor_inv_r)
_B52 = np.uint64(0x000FFFFFFFFFFFFF)
_FF = np.uint64(0xFF)
_S8 = np.uint64(8)

RngState = NDArray[np.uint64]


def state_of(generator: np.random.Generator) -> RngState:
    """The PCG64 state of a numpy Generator as a compiled-code state array.

    Raises
    ------
    TypeError
        The Generator's bit generator is not PCG64.
    """
    state = generator.bit_generator.state
    if state["bit_generator"] != "PCG64":
        raise TypeError(f"compiled draws need a PCG64 Generator, not {state['bit_generator']}")
    s, inc = state["state"]["state"], state["state"]["inc"]
    return np.array(
        [s >> 64, s & _MASK64, inc >> 64, inc & _MASK64, state["has_uint32"], state["uinteger"]],
        dtype=np.uint64,
    )


def set_state(generator: np.random.Generator, st: RngState) -> None:
    """Write a compiled-code state array back into a PCG64 Generator."""
    generator.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {
            "state": (int(st[0]) << 64) | int(st[1]),
            "inc": (int(st[2]) << 64) | int(st[3]),
        },
        "has_uint32": int(st[4]),
        "uinteger": int(st[5]),
    }


@njit(cache=True, inline="always")
def _mulhi64(a: np.uint64, b: np.uint64) -> np.uint64:
    a0 = a & _U32
    a1 = a >> _S32
    b0 = b & _U32
    b1 = b >> _S32
    p00 = a0 * b0
    p01 = a0 * b1
    p10 = a1 * b0
    p11 = a1 * b1
    mid = (p00 >> _S32) + (p01 & _U32) + (p10 & _U32)
    return p11 + (p01 >> _S32) + (p10 >> _S32) + (mid >> _S32)


@njit(cache=True)
def next_uint64(st: RngState) -> np.uint64:
    """One 64-bit PCG64 output: step the 128-bit LCG, then XSL-RR the new state."""
    sh = st[0]
    sl = st[1]
    lo = sl * _MULT_LO
    hi = _mulhi64(sl, _MULT_LO) + sl * _MULT_HI + sh * _MULT_LO
    new_lo = lo + st[3]
    carry = _ONE if new_lo < lo else _ZERO
    new_hi = hi + st[2] + carry
    st[0] = new_hi
    st[1] = new_lo
    v = new_hi ^ new_lo
    rot = new_hi >> _S58
    return (v >> rot) | (v << ((_ZERO - rot) & _S63))


@njit(cache=True)
def next_uint32(st: RngState) -> np.uint64:
    """A 32-bit draw: the kept high half of the last 64-bit draw, or the low half of a new one."""
    if st[4] != _ZERO:
        st[4] = _ZERO
        return st[5]
    value = next_uint64(st)
    st[4] = _ONE
    st[5] = value >> _S32
    return value & _U32


@njit(cache=True)
def random(st: RngState) -> float:
    """``Generator.random()``: a double in [0, 1)."""
    return float(next_uint64(st) >> _S11) * _DOUBLE_UNIT


@njit(cache=True)
def integers(st: RngState, n: int | np.int64) -> np.int64:
    """``Generator.integers(n)`` for ``1 <= n <= 2**32``: a uniform int in [0, n)."""
    if n == 1:
        return np.int64(0)
    if n == 4294967296:
        return np.int64(next_uint32(st))
    rng_excl = np.uint64(n)
    m = next_uint32(st) * rng_excl
    leftover = m & _U32
    if leftover < rng_excl:
        threshold = (_U32 - (rng_excl - _ONE)) % rng_excl
        while leftover < threshold:
            m = next_uint32(st) * rng_excl
            leftover = m & _U32
    return np.int64(m >> _S32)


@njit(cache=True)
def standard_normal(st: RngState) -> float:
    """``Generator.standard_normal()``: numpy's ziggurat."""
    while True:
        r = next_uint64(st)
        idx = int(r & _FF)
        r = r >> _S8
        sign = r & _ONE
        rabs = (r >> _ONE) & _B52
        x = float(rabs) * _WI[idx]
        if sign != _ZERO:
            x = -x
        if rabs < _KI[idx]:
            return x
        if idx == 0:
            while True:
                xx = -_NOR_INV_R * math.log1p(-random(st))
                yy = -math.log1p(-random(st))
                if yy + yy > xx * xx:
                    if (rabs >> _S8) & _ONE:
                        return -(_NOR_R + xx)
                    return _NOR_R + xx
        elif (_FI[idx - 1] - _FI[idx]) * random(st) + _FI[idx] < math.exp(-0.5 * x * x):
            return x
