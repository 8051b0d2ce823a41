"""The shared number parsers every numeric option and setting goes through, and quantities.

Kubernetes ``resource.Quantity`` holds at most int64 of its base unit
(k8s.io/apimachinery/pkg/api/resource/quantity.go); kubelet ``maxPods`` is an int32
(KubeletConfiguration.MaxPods).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnisim.errors import UsageError
from cnisim.units import (
    INT32_MAX,
    INT64_MAX,
    check_finite,
    check_whole,
    parse_cpu_millicores,
    parse_float,
    parse_int,
    parse_memory_mib,
)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-(2**80), max_value=2**80))
def test_parse_int_takes_exactly_the_range(number: int) -> None:
    inside = 0 <= number <= INT32_MAX
    try:
        assert parse_int(str(number), name="--max-pods", minimum=0, maximum=INT32_MAX) == number
    except UsageError as exc:
        assert not inside
        assert "--max-pods" in str(exc) and "out of range" in str(exc) and "\n" not in str(exc)
    else:
        assert inside


@pytest.mark.parametrize("text", ["1.0", "1e3", "0x10", "", "ten", "٣", "5 5", "--1"])
def test_parse_int_refuses_what_is_not_a_whole_number(text: str) -> None:
    with pytest.raises(UsageError, match=r"--seed .* is not a whole number"):
        parse_int(text, name="--seed", minimum=0)


def test_parse_int_shortens_a_thousand_digits() -> None:
    with pytest.raises(UsageError) as raised:
        parse_int("9" * 1000, name="--pods", minimum=0)
    assert "(1000 digits)" in str(raised.value) and len(str(raised.value)) < 150


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "1e309", "infinity", "0x1p3", ""])
def test_parse_float_refuses_special_values(text: str) -> None:
    with pytest.raises(UsageError, match="not a finite number"):
        parse_float(text, name="--vm-overhead", minimum=0, maximum=1, below_maximum=True)


def test_parse_float_bounds() -> None:
    assert parse_float("0", name="x", minimum=0, maximum=1, below_maximum=True) == 0.0
    assert parse_float(" 1e-3", name="x", minimum=0) == 0.001
    with pytest.raises(UsageError, match="excluded"):
        parse_float("1", name="x", minimum=0, maximum=1, below_maximum=True)
    with pytest.raises(UsageError, match="0 or more"):
        parse_float("-0.5", name="x", minimum=0)


@pytest.mark.parametrize("text", ["9Ei", "10E", "9" * 400 + "Mi", "9" * 400, "1" + "0" * 20 + "k"])
def test_memory_past_int64_bytes_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="larger than a Kubernetes quantity"):
        parse_memory_mib(text)


def test_cpu_past_int64_millicores_is_refused() -> None:
    with pytest.raises(UsageError, match="larger than a Kubernetes quantity"):
        parse_cpu_millicores(str(INT64_MAX * 10))
    assert parse_cpu_millicores("250m") == 250.0


@pytest.mark.parametrize("value", [True, 1.0, "3", None, math.nan])
def test_check_whole_refuses_what_is_not_an_int(value: object) -> None:
    with pytest.raises(UsageError, match="n_pods must be a whole number"):
        check_whole(value, name="n_pods")


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, 0, "5", None])
def test_check_finite_refuses_nan_infinity_and_out_of_range(value: object) -> None:
    with pytest.raises(UsageError, match="settle_s"):
        check_finite(value, name="settle_s", minimum=0, above_minimum=True)
