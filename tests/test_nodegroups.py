"""Node groups as Auto Scaling groups: traces of tiny groups, the boot-time fit, max pods rules,
hypothesis properties (AZ balance, sizes within min..max, determinism) and one run on the
reference engine (a launch into a full subnet retried in another AZ)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cnisim.catalog import Catalog, UnknownInstanceType, load_catalog
from cnisim.cni import IpamdConfig
from cnisim.errors import UsageError
from cnisim.plan import BootTime, NodeGroup, Subnet
from cnisim.sim.ipamd import ReferenceEngine
from cnisim.sim.nodegroups import (
    AutoScalingGroup,
    DesiredChange,
    GroupNodeSpecs,
    LaunchBackoff,
    LaunchRequest,
    boot_sigma,
    group_max_pods,
    node_ready_s,
)

VPC = (
    Subnet("subnet-a", "us-east-1a", "10.0.0.0/20"),
    Subnet("subnet-b", "us-east-1b", "10.0.16.0/20"),
    Subnet("subnet-c", "us-east-1c", "10.0.32.0/20"),
    Subnet("subnet-a2", "us-east-1a", "10.0.48.0/20"),
)
THREE_AZS = ("subnet-a", "subnet-b", "subnet-c")


def group_of(
    desired: int = 3,
    *,
    min_size: int = 0,
    max_size: int = 10,
    subnets: tuple[str, ...] = THREE_AZS,
    types: tuple[str, ...] = ("m5.large",),
) -> NodeGroup:
    return NodeGroup("general", types, min_size, desired, max_size, subnets)


def asg_of(group: NodeGroup, seed: int = 0) -> AutoScalingGroup:
    return AutoScalingGroup(group, VPC, np.random.default_rng(seed))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


# --- boot time ---------------------------------------------------------------------------


def test_boot_sigma_is_ln_p95_over_median_over_z95() -> None:
    # cluster-model.md sec. 9: median 60 s, p95 150 s; ln(150 / 60) / 1.645 = 0.5570
    assert boot_sigma(BootTime()) == pytest.approx(math.log(150 / 60) / 1.645, rel=1e-4)
    assert boot_sigma(BootTime()) == pytest.approx(0.55707, abs=1e-5)
    assert boot_sigma(BootTime(median_s=30, p95_s=30)) == 0.0


@pytest.mark.parametrize(("median_s", "p95_s"), [(0, 150), (-1, 150), (60, 59), (60, math.inf)])
def test_bad_boot_time_is_refused(median_s: float, p95_s: float) -> None:
    # UsageError from BootTime itself once the plan validates on construction, else from here
    with pytest.raises(UsageError):
        boot_sigma(BootTime(median_s, p95_s))
    with pytest.raises(UsageError):
        asg_of(replace(group_of(), boot=BootTime(median_s, p95_s)))


def test_boot_draws_have_the_median_and_p95_asked_for() -> None:
    group = NodeGroup("big", ("m5.large",), 0, 20_000, 20_000, ("subnet-a",))
    launches = asg_of(group, seed=3).launches(100.0)
    boot_s = np.array([launch.kubelet_ready_s - launch.launch_s for launch in launches])
    assert len(boot_s) == 20_000
    # sampling error of a median or p95 of 20,000 draws is well under 2 %
    assert np.median(boot_s) == pytest.approx(60.0, rel=0.03)
    assert np.percentile(boot_s, 95) == pytest.approx(150.0, rel=0.04)
    assert boot_s.min() > 0


def test_a_fixed_boot_time_gives_exactly_the_median() -> None:
    group = replace(group_of(2), boot=BootTime(median_s=45, p95_s=45))
    assert [launch.kubelet_ready_s for launch in asg_of(group).launches(10.0)] == [55.0, 55.0]


def test_node_ready_is_the_later_of_kubelet_and_first_address() -> None:
    assert node_ready_s(61.5, 3.0) == 61.5
    assert node_ready_s(61.5, 90.0) == 90.0
    assert math.isnan(node_ready_s(61.5, math.nan))  # ipamd never got an address
    kubelet = np.array([60.0, 60.0, 60.0])
    first = np.array([5.0, 75.0, np.nan])
    np.testing.assert_array_equal(node_ready_s(kubelet, first), [60.0, 75.0, np.nan])


# --- sizes ---------------------------------------------------------------------------------


def test_set_desired_clamps_to_min_and_max_with_a_reason() -> None:
    asg = asg_of(group_of(3, min_size=2, max_size=5))
    assert asg.set_desired(0.0, 4) == DesiredChange(4, 4, None)
    assert asg.set_desired(1.0, 9) == DesiredChange(9, 5, "9 is above maxSize 5")
    assert asg.set_desired(2.0, 1) == DesiredChange(1, 2, "1 is below minSize 2")
    assert asg.desired == 2
    details = [event.detail for event in asg.events]
    assert details == ["4", "9 is above maxSize 5", "1 is below minSize 2"]


@pytest.mark.parametrize("n_nodes", [-1, 2.5, True, "3"])
def test_set_desired_refuses_what_is_not_a_size(n_nodes: object) -> None:
    with pytest.raises(UsageError, match="whole number"):
        asg_of(group_of()).set_desired(0.0, n_nodes)  # type: ignore[arg-type]


def test_time_must_not_go_back() -> None:
    asg = asg_of(group_of())
    asg.launches(10.0)
    with pytest.raises(UsageError, match="no earlier"):
        asg.set_desired(9.0, 2)
    with pytest.raises(UsageError, match="finite"):
        asg.launches(math.nan)


@pytest.mark.parametrize(
    "change",
    [
        {"min_size": 4},
        {"max_size": 2},
        {"instance_types": ()},
        {"subnets": ()},
        {"max_pods_per_node": 0},
    ],
)
def test_impossible_groups_are_refused(change: dict[str, object]) -> None:
    # The plan refuses these on construction once it validates; the ASG refuses them too.
    with pytest.raises(UsageError):
        asg_of(replace(group_of(), **change))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"instance_types": ("m5.large", "m5.large")}, "type twice"),
        ({"subnets": ("subnet-a", "subnet-a")}, "subnet twice"),
        ({"subnets": ("subnet-z",)}, "not in the VPC"),
    ],
)
def test_group_types_and_subnets_are_checked(change: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        asg_of(replace(group_of(), **change))  # type: ignore[arg-type]


def test_bad_backoff_is_refused() -> None:
    with pytest.raises(UsageError):
        LaunchBackoff(initial_s=-1)
    with pytest.raises(UsageError):
        LaunchBackoff(initial_s=20, max_s=10)


# --- launches and AZ balance ------------------------------------------------------------------


def test_launches_go_round_the_azs_in_subnet_order() -> None:
    asg = asg_of(group_of(5))
    launches = asg.launches(0.0)
    assert [(x.instance_id, x.az, x.subnet_id) for x in launches] == [
        (0, "us-east-1a", "subnet-a"),
        (1, "us-east-1b", "subnet-b"),
        (2, "us-east-1c", "subnet-c"),
        (3, "us-east-1a", "subnet-a"),
        (4, "us-east-1b", "subnet-b"),
    ]
    assert all(x.launch_s == 0.0 and x.instance_type == "m5.large" for x in launches)
    assert asg.launches(1.0) == []  # at size
    assert asg.peek_s(1.0) == math.inf


def test_ties_go_to_the_az_of_the_first_subnet() -> None:
    asg = asg_of(group_of(2, subnets=("subnet-c", "subnet-a")))
    assert [x.az for x in asg.launches(0.0)] == ["us-east-1c", "us-east-1a"]
    assert asg.azs == ("us-east-1c", "us-east-1a")


def test_two_subnets_in_one_az_count_as_one_az() -> None:
    asg = asg_of(group_of(3, subnets=("subnet-a", "subnet-a2", "subnet-b")))
    assert [x.subnet_id for x in asg.launches(0.0)] == ["subnet-a", "subnet-b", "subnet-a"]
    assert asg.n_instances_by_az() == {"us-east-1a": 2, "us-east-1b": 1}


def test_a_full_subnet_sends_the_replacement_to_another_az() -> None:
    asg = asg_of(group_of(3))
    a, _, _ = asg.launches(0.0)
    asg.launch_failed(2.0, a, "InsufficientFreeAddressesInSubnet")
    assert asg.n_instances_by_az() == {"us-east-1a": 0, "us-east-1b": 1, "us-east-1c": 1}
    (replacement,) = asg.launches(2.0)
    assert (replacement.instance_id, replacement.az) == (3, "us-east-1b")
    assert asg.launches(11.9) == []  # 1a is backed off until 12 s
    assert asg.peek_s(11.9) == 12.0  # 1b has 2, 1a none: rebalancing is due then


def test_rebalancing_launches_first_and_terminates_once_it_is_confirmed() -> None:
    asg = asg_of(group_of(3))
    a, _, _ = asg.launches(0.0)
    asg.launch_failed(2.0, a, "InsufficientFreeAddressesInSubnet")
    asg.launches(2.0)  # the replacement goes to 1b
    (rebalancing,) = asg.launches(12.0)
    assert (rebalancing.az, rebalancing.rebalancing) == ("us-east-1a", True)
    assert asg.n_rebalancing == 1
    assert len(asg.instances) == 4  # one over the desired capacity, within max
    assert asg.terminations(12.0) == []  # launch before terminate
    assert asg.peek_s(13.0) == math.inf  # waiting for the rebalancing launch
    asg.launch_succeeded(rebalancing)
    assert asg.peek_s(20.0) == 20.0
    (victim,) = asg.terminations(20.0)
    assert victim.az == "us-east-1b"
    assert asg.n_instances_by_az() == {"us-east-1a": 1, "us-east-1b": 1, "us-east-1c": 1}
    assert asg.launches(21.0) == []
    assert [event.kind for event in asg.events] == [
        "launch",
        "launch",
        "launch",
        "launch_failed",
        "launch",
        "rebalance",
        "terminate",
    ]


def test_a_failed_rebalancing_launch_is_backed_off_and_retried() -> None:
    asg = asg_of(group_of(3))
    a, _, _ = asg.launches(0.0)
    asg.launch_failed(2.0, a, "InsufficientFreeAddressesInSubnet")
    asg.launches(2.0)
    (first,) = asg.launches(12.0)
    asg.launch_failed(13.0, first, "InsufficientFreeAddressesInSubnet")  # still full
    assert (asg.n_rebalancing, len(asg.instances)) == (0, 3)
    assert asg.peek_s(13.0) == 33.0  # 20 s: the second consecutive failure in subnet-a
    (second,) = asg.launches(33.0)
    assert second.rebalancing and second.subnet_id == "subnet-a"


def test_rebalancing_may_exceed_max_by_ten_percent_or_one() -> None:
    asg = asg_of(group_of(2, max_size=2, subnets=("subnet-a", "subnet-b")))
    a, _ = asg.launches(0.0)
    asg.launch_failed(0.0, a, "InsufficientFreeAddressesInSubnet")
    asg.launches(0.0)  # both in 1b
    (rebalancing,) = asg.launches(10.0)  # 3 > max 2: the one-instance margin
    assert rebalancing.az == "us-east-1a" and len(asg.instances) == 3
    no_rebalance = AutoScalingGroup(
        group_of(2, max_size=2, subnets=("subnet-a", "subnet-b")),
        VPC,
        np.random.default_rng(0),
        az_rebalance=False,
    )
    a, _ = no_rebalance.launches(0.0)
    no_rebalance.launch_failed(0.0, a, "InsufficientFreeAddressesInSubnet")
    no_rebalance.launches(0.0)
    assert no_rebalance.launches(10.0) == []
    assert no_rebalance.peek_s(10.0) == math.inf


def test_a_second_subnet_in_the_az_takes_over_from_a_full_one() -> None:
    asg = asg_of(group_of(1, subnets=("subnet-a", "subnet-a2")))
    (first,) = asg.launches(0.0)
    asg.launch_failed(1.0, first, "InsufficientFreeAddressesInSubnet")
    (second,) = asg.launches(1.0)
    assert (second.az, second.subnet_id) == ("us-east-1a", "subnet-a2")


def test_backoff_doubles_on_consecutive_failures_and_clears_on_success() -> None:
    asg = asg_of(group_of(1, subnets=("subnet-a",)))
    (first,) = asg.launches(0.0)
    asg.launch_failed(1.0, first, "InsufficientFreeAddressesInSubnet")
    assert asg.launches(10.9) == []
    assert asg.peek_s(10.9) == 11.0  # 10 s after the first failure
    (second,) = asg.launches(11.0)
    asg.launch_failed(12.0, second, "InsufficientFreeAddressesInSubnet")
    assert asg.peek_s(12.0) == 32.0  # then 20 s
    (third,) = asg.launches(32.0)
    asg.launch_succeeded(third)
    asg.instance_terminated(40.0, third, decrement_desired=False)
    (fourth,) = asg.launches(40.0)  # no backoff left
    asg.launch_failed(41.0, fourth, "InsufficientFreeAddressesInSubnet")
    assert asg.peek_s(41.0) == 51.0  # 10 s again: the success reset the count


def test_backoff_stops_doubling_at_its_longest() -> None:
    assert [LaunchBackoff().after(n) for n in (1, 2, 3, 5, 6, 12)] == [
        10.0,
        20.0,
        40.0,
        160.0,
        300.0,
        300.0,
    ]


def test_a_capacity_failure_falls_to_the_next_type_in_that_az() -> None:
    types = ("m5.large", "m5a.large")
    asg = asg_of(group_of(1, subnets=("subnet-a", "subnet-b"), types=types))
    (first,) = asg.launches(0.0)
    assert (first.az, first.instance_type) == ("us-east-1a", "m5.large")
    asg.launch_failed(1.0, first, "InsufficientInstanceCapacity")
    (second,) = asg.launches(1.0)
    assert (second.az, second.instance_type) == ("us-east-1a", "m5a.large")
    asg.launch_failed(2.0, second, "InsufficientInstanceCapacity")
    (third,) = asg.launches(2.0)  # both types out in 1a: another AZ, the first type
    assert (third.az, third.instance_type) == ("us-east-1b", "m5.large")


def test_every_az_backed_off_waits_for_the_first_backoff_to_end() -> None:
    asg = asg_of(group_of(2, subnets=("subnet-a", "subnet-b")))
    a, b = asg.launches(0.0)
    asg.launch_failed(3.0, a, "InsufficientFreeAddressesInSubnet")
    asg.launch_failed(5.0, b, "InsufficientFreeAddressesInSubnet")
    assert asg.launches(5.0) == []
    assert asg.peek_s(5.0) == 13.0
    # 1a is back first and takes both while 1b is backed off (balanced-best-effort)
    assert [x.az for x in asg.launches(13.0)] == ["us-east-1a", "us-east-1a"]
    assert asg.peek_s(15.0) == 15.0  # then rebalancing into 1b once its backoff ends


def test_failures_are_checked() -> None:
    asg = asg_of(group_of(1))
    (launch,) = asg.launches(0.0)
    with pytest.raises(UsageError, match="unknown"):
        asg.launch_failed(1.0, launch, "Throttled")  # type: ignore[arg-type]
    other = replace(launch, group="other")
    with pytest.raises(UsageError, match="not live"):
        asg.launch_failed(1.0, other, "InsufficientInstanceCapacity")
    asg.launch_failed(1.0, launch, "InsufficientInstanceCapacity")
    with pytest.raises(UsageError, match="not live"):
        asg.launch_failed(1.0, launch, "InsufficientInstanceCapacity")  # twice
    with pytest.raises(UsageError, match="not live"):
        asg.launch_succeeded(launch)


# --- scale-in ------------------------------------------------------------------------------


def test_scale_in_takes_from_the_az_with_the_most_first() -> None:
    asg = asg_of(group_of(4))
    asg.launches(0.0)  # 1a: 0, 3; 1b: 1; 1c: 2
    asg.set_desired(10.0, 3)
    (victim,) = asg.terminations(10.0)
    assert victim.az == "us-east-1a" and victim.instance_id in (0, 3)
    assert asg.n_instances_by_az() == {"us-east-1a": 1, "us-east-1b": 1, "us-east-1c": 1}
    assert asg.terminations(11.0) == []


def test_scale_in_takes_the_lowest_priority_type_first() -> None:
    types = ("m5.large", "m5a.large")
    asg = asg_of(group_of(2, subnets=("subnet-a",), types=types))
    first, _ = asg.launches(0.0)
    asg.launch_failed(1.0, first, "InsufficientInstanceCapacity")
    (fallback,) = asg.launches(1.0)  # m5a.large while m5.large is backed off
    assert fallback.instance_type == "m5a.large"
    asg.set_desired(2.0, 1)
    assert asg.terminations(2.0) == [fallback]
    assert [x.instance_type for x in asg.instances] == ["m5.large"]


def test_scale_in_ties_are_random_but_seeded() -> None:
    picks = []
    for seed in range(30):
        asg = asg_of(group_of(6), seed=seed)
        asg.launches(0.0)
        asg.set_desired(1.0, 3)
        picks.append(tuple(x.instance_id for x in asg.terminations(1.0)))
    assert len(set(picks)) > 1  # ties are broken at random
    again = asg_of(group_of(6), seed=0)
    again.launches(0.0)
    again.set_desired(1.0, 3)
    assert tuple(x.instance_id for x in again.terminations(1.0)) == picks[0]


def test_scale_in_draws_do_not_shift_boot_times() -> None:
    quiet, busy = asg_of(group_of(3), seed=5), asg_of(group_of(3), seed=5)
    quiet.launches(0.0)
    busy.launches(0.0)
    busy.set_desired(1.0, 1)
    busy.terminations(1.0)
    quiet.set_desired(2.0, 6)
    busy.set_desired(2.0, 4)
    boots_quiet = [x.kubelet_ready_s for x in quiet.launches(2.0)]
    boots_busy = [x.kubelet_ready_s for x in busy.launches(2.0)]
    assert boots_busy == boots_quiet[:3]


def test_external_termination_with_and_without_decrement() -> None:
    asg = asg_of(group_of(3, min_size=2))
    a, b, c = asg.launches(0.0)
    asg.instance_terminated(5.0, b, decrement_desired=True)  # the cluster autoscaler
    assert asg.desired == 2
    assert asg.launches(5.0) == []
    asg.instance_terminated(6.0, c, decrement_desired=False)  # an interruption
    assert asg.desired == 2
    (replacement,) = asg.launches(6.0)
    assert replacement.az == "us-east-1b"  # 1b and 1c are empty: the first in order
    with pytest.raises(UsageError, match="minSize 2"):
        asg.instance_terminated(7.0, a, decrement_desired=True)
    with pytest.raises(UsageError, match="not live"):
        asg.instance_terminated(7.0, b, decrement_desired=False)
    assert [event.kind for event in asg.events] == [
        "launch",
        "launch",
        "launch",
        "terminated",
        "terminated",
        "launch",
    ]


# --- properties -----------------------------------------------------------------------------

sizes = st.lists(st.integers(min_value=0, max_value=25), min_size=1, max_size=12)


@given(sizes=sizes, seed=st.integers(0, 2**16), n_subnets=st.integers(1, 4))
def test_az_counts_stay_balanced_and_sizes_within_limits(
    sizes: list[int], seed: int, n_subnets: int
) -> None:
    subnets = ("subnet-a", "subnet-b", "subnet-c", "subnet-a2")[:n_subnets]
    group = group_of(3, min_size=1, max_size=20, subnets=subnets)
    asg = asg_of(group, seed)
    for step, size in enumerate(sizes):
        now_s = 10.0 * step
        change = asg.set_desired(now_s, size)
        assert group.min_size <= change.desired <= group.max_size
        asg.launches(now_s)
        asg.terminations(now_s)
        counts = asg.n_instances_by_az().values()
        assert max(counts) - min(counts) <= 1
        assert len(asg.instances) == asg.desired
        assert asg.peek_s(now_s) == math.inf


@given(
    sizes=sizes,
    seed=st.integers(0, 2**16),
    fail_every=st.integers(1, 4),
    reason=st.sampled_from(["InsufficientFreeAddressesInSubnet", "InsufficientInstanceCapacity"]),
)
# desired rising while rebalancing launches are unconfirmed once went past max + 10 %
@example(
    sizes=[20, 2, 7, 17, 0, 8, 0, 19, 8, 20],
    seed=0,
    fail_every=4,
    reason="InsufficientInstanceCapacity",
)
def test_with_failures_the_group_stays_within_limits_and_is_deterministic(
    sizes: list[int], seed: int, fail_every: int, reason: str
) -> None:
    def run() -> tuple[object, ...]:
        group = group_of(3, min_size=1, max_size=20, types=("m5.large", "m5a.large"))
        asg = asg_of(group, seed)
        for step, size in enumerate(sizes):
            now_s = 7.0 * step
            asg.set_desired(now_s, size)
            for i, launch in enumerate(asg.launches(now_s)):
                if i % fail_every == 0:
                    asg.launch_failed(now_s, launch, reason)  # type: ignore[arg-type]
            asg.terminations(now_s)
            assert group.min_size <= asg.desired <= group.max_size
            assert len(asg.instances) <= asg.desired + asg.n_rebalancing
            assert len(asg.instances) <= group.max_size + 2  # 10 % of 20 over max at most
            assert asg.peek_s(now_s) >= now_s
        return asg.events, asg.instances

    assert run() == run()


@given(
    sizes=sizes,
    seed=st.integers(0, 2**16),
    fail_every=st.integers(1, 3),
    reason=st.sampled_from(["InsufficientFreeAddressesInSubnet", "InsufficientInstanceCapacity"]),
)
def test_once_launches_succeed_again_the_group_rebalances(
    sizes: list[int], seed: int, fail_every: int, reason: str
) -> None:
    group = group_of(3, min_size=1, max_size=20, types=("m5.large",))
    asg = asg_of(group, seed)
    for step, size in enumerate(sizes):  # a failing spell
        asg.set_desired(5.0 * step, size)
        for i, launch in enumerate(asg.launches(5.0 * step)):
            if i % fail_every == 0:
                asg.launch_failed(5.0 * step, launch, reason)  # type: ignore[arg-type]
            else:
                asg.launch_succeeded(launch)
        asg.terminations(5.0 * step)
    for round_ in range(1, 10):  # then every launch works; each round outlasts any backoff
        now_s = 5.0 * len(sizes) + 301.0 * round_
        for launch in asg.launches(now_s):
            asg.launch_succeeded(launch)
        asg.terminations(now_s)
    counts = asg.n_instances_by_az().values()
    assert max(counts) - min(counts) <= 1
    assert (len(asg.instances), asg.n_rebalancing) == (asg.desired, 0)


# --- max pods and node specs -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("types", "managed", "env", "expected"),
    [
        # docs/max-pods.md worked numbers (eni-max-pods.txt; max-pods-calculator.sh with the
        # 110/250 cap): m5.large 29, m5.xlarge 58, m5.24xlarge 737 (calculator 250)
        (("m5.large",), True, {}, [29]),
        (("m5.large", "m5.xlarge"), True, {}, [29, 29]),  # managed: the smallest on every node
        (("m5.large", "m5.xlarge"), False, {}, [29, 58]),  # self-managed: each type its own
        (("m5.24xlarge",), True, {}, [250]),  # the calculator's cap for > 30 vCPUs
        (("m5.24xlarge",), False, {}, [737]),  # nodeadm: no cap
        (("m5.large",), True, {"ENABLE_PREFIX_DELEGATION": "true"}, [110]),
        (("m5.large",), False, {"ENABLE_PREFIX_DELEGATION": "true"}, [29]),  # AMI knows no PD
        (("m5.large",), True, {"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true"}, [20]),
        (("m5.large",), False, {"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true"}, [29]),
    ],
)
def test_group_max_pods_rules(
    catalog: Catalog,
    types: tuple[str, ...],
    managed: bool,
    env: dict[str, str],
    expected: list[int],
) -> None:
    group = replace(group_of(1, types=types), managed=managed)
    config = IpamdConfig.from_env(env)
    assert group_max_pods(group, catalog, config) == dict(zip(types, expected, strict=True))


@pytest.mark.parametrize("managed", [True, False])
def test_max_pods_per_node_overrides_every_rule(catalog: Catalog, managed: bool) -> None:
    group = replace(group_of(1, types=("m5.large", "m5.24xlarge")), managed=managed)
    group = replace(group, max_pods_per_node=50)
    assert group_max_pods(group, catalog, IpamdConfig()) == {"m5.large": 50, "m5.24xlarge": 50}


def test_unknown_instance_type_is_refused(catalog: Catalog) -> None:
    with pytest.raises(UnknownInstanceType, match=r"m5\.lrage"):
        group_max_pods(group_of(1, types=("m5.lrage",)), catalog, IpamdConfig())


def test_node_spec_of_a_launch(catalog: Catalog) -> None:
    group = group_of(1, types=("m5.large", "t3.large"))
    specs = GroupNodeSpecs(
        group, catalog, IpamdConfig(), extra_subnets={"us-east-1a": ["subnet-a", "subnet-a2"]}
    )
    launch = LaunchRequest("general", 0, "t3.large", "us-east-1a", "subnet-a", 0.0, 60.0)
    spec = specs.node_spec(launch)
    # t3.large: 3 ENIs x 12 IPv4 (eni-max-pods.txt: 35); managed: min(29, 35) = 29
    assert (spec.instance_type, spec.max_enis, spec.ipv4_per_eni, spec.max_pods) == (
        "t3.large",
        3,
        12,
        29,
    )
    assert (spec.node_subnet, spec.pod_subnet, spec.extra_subnets) == (
        "subnet-a",
        "subnet-a",
        ("subnet-a2",),
    )
    assert spec.max_branch_enis == 0  # no t-family type takes a trunk
    with pytest.raises(UsageError, match="not an instance type"):
        specs.node_spec(replace(launch, instance_type="c5.large"))


def test_node_spec_under_custom_networking(catalog: Catalog) -> None:
    config = IpamdConfig.from_env({"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true"})
    specs = GroupNodeSpecs(group_of(1), catalog, config, eni_configs={"us-east-1a": "pods-a"})
    launch = LaunchRequest("general", 0, "m5.large", "us-east-1a", "subnet-a", 0.0, 60.0)
    spec = specs.node_spec(launch)
    assert (spec.node_subnet, spec.pod_subnet, spec.max_pods) == ("subnet-a", "pods-a", 20)
    with pytest.raises(UsageError, match="no ENIConfig"):
        specs.node_spec(replace(launch, az="us-east-1b", subnet_id="subnet-b"))


def test_node_specs_carry_the_group_max_pods(catalog: Catalog) -> None:
    group = replace(group_of(1, types=("m5.large", "m5.xlarge")), managed=False)
    specs = GroupNodeSpecs(group, catalog, IpamdConfig())
    assert specs.max_pods == {"m5.large": 29, "m5.xlarge": 58}
    launch = LaunchRequest("general", 0, "m5.xlarge", "us-east-1b", "subnet-b", 0.0, 60.0)
    assert specs.node_spec(launch).max_pods == 58


# --- on the reference engine -------------------------------------------------------------------


def test_a_launch_into_a_full_subnet_is_retried_in_another_az(catalog: Catalog) -> None:
    vpc = (
        Subnet("subnet-a", "us-east-1a", "10.0.0.0/28"),
        Subnet("subnet-b", "us-east-1b", "10.0.1.0/24"),
    )
    group = group_of(2, subnets=("subnet-a", "subnet-b"))
    config = IpamdConfig()
    engine = ReferenceEngine(subnet_cidrs={s.id: s.cidr for s in vpc}, seed=1)
    holder = engine.world.new_owner_id()
    engine.world.allocate_fixed("subnet-a", holder, n_ips=11)  # a /28 has 16 - 5 usable
    asg = AutoScalingGroup(group, vpc, np.random.default_rng(1))
    specs = GroupNodeSpecs(group, catalog, config)
    by_node: dict[int, LaunchRequest] = {}

    def launch(now_s: float) -> None:
        for request in asg.launches(now_s):
            (node,) = engine.add_nodes([specs.node_spec(request)], config, request.launch_s)
            by_node[int(node)] = request

    launch(0.0)
    engine.run_until(2.0)
    status = engine.node_status()
    assert status["launch_failed"].tolist() == [True, False]
    asg.launch_failed(2.0, by_node[0], "InsufficientFreeAddressesInSubnet")
    asg.launch_succeeded(by_node[1])
    launch(2.0)
    assert by_node[2].subnet_id == "subnet-b"
    engine.run_until(12.0)
    asg.launch_succeeded(by_node[2])
    launch(12.0)  # subnet-a's backoff is over: AZ rebalancing tries it again
    assert by_node[3].rebalancing and by_node[3].subnet_id == "subnet-a"
    engine.run_until(14.0)
    assert engine.node_status()["launch_failed"].tolist() == [True, False, False, True]
    asg.launch_failed(14.0, by_node[3], "InsufficientFreeAddressesInSubnet")
    assert asg.peek_s(14.0) == 34.0  # the second failure there: 20 s
    engine.run_until(400.0)
    result = engine.result()
    kubelet = np.array([by_node[i].kubelet_ready_s for i in range(4)])
    ready = node_ready_s(kubelet, result.node_ready_s)
    assert np.isnan(ready[[0, 3]]).all()  # never Ready: their launches failed
    assert (ready[1:3] >= kubelet[1:3]).all()
    assert (ready[1:3] >= result.node_ready_s[1:3]).all()
    assert asg.n_instances_by_az() == {"us-east-1a": 0, "us-east-1b": 2}
