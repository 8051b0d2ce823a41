"""The recommender (:mod:`cnisim.recommend`) on made-up sweep rows: the Pareto set and the pick
checked by hand, the subnet sizing by hand, the grid's parsing and its refusals."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnisim.errors import UsageError
from cnisim.recommend import (
    DEFAULT_GRID,
    assess,
    pareto_mask,
    parse_grid,
    pick,
    settings_grid,
    subnet_prefix_length,
    subnet_sizing,
    widened_subnets,
)
from cnisim.sweep import RunRow


def row(candidate: int, seed: int, idle: float, wait_s: float, calls: int, exhausted: int,
        throttled: int = 0, peak: int = 10) -> RunRow:  # fmt: skip
    return RunRow(
        candidate=candidate,
        seed=seed,
        settings={"WARM_IP_TARGET": str(candidate)},
        idle_ips_per_node_mean=idle,
        ip_wait_p99_s=wait_s,
        n_ec2_calls=calls,
        n_throttled=throttled,
        n_exhausted_subnets=exhausted,
        peak_used_ips_by_az={"az-1": peak},
        ran_dry_by_az={"az-1": bool(exhausted)},
    )


#: Five made-up settings, two seeds each. Means over the seeds (idle, wait) and the most in a
#: seed (calls, throttles, exhausted), by hand:
#:   0: idle (1+3)/2 = 2, wait (4+6)/2 = 5, calls 10, throttled 2, exhausted 0
#:   1: idle 1, wait 20, calls 12, exhausted 0
#:   2: idle 3, wait 6, calls 11, exhausted 0   -> dominated by 0 (no better anywhere)
#:   3: idle 0.5, wait 0, calls 30, exhausted 1 -> the fewest idle and the shortest wait
#:   4: the same as 0                           -> equal points do not dominate each other
ROWS = [
    row(0, 1, 1.0, 4.0, 9, 0, throttled=2), row(0, 2, 3.0, 6.0, 10, 0),
    row(1, 1, 1.0, 20.0, 12, 0), row(1, 2, 1.0, 20.0, 12, 0),
    row(2, 1, 3.0, 6.0, 11, 0), row(2, 2, 3.0, 6.0, 11, 0),
    row(3, 1, 0.5, 0.0, 30, 1), row(3, 2, 0.5, 0.0, 20, 0),
    row(4, 1, 2.0, 5.0, 10, 0), row(4, 2, 2.0, 5.0, 10, 0),
]  # fmt: skip


def test_candidates_average_idle_and_wait_and_take_the_worst_seed_for_counts() -> None:
    first, *_ = assess(ROWS)
    assert (first.idle_ips_per_node_mean, first.ip_wait_p99_s) == (2.0, 5.0)
    assert (first.n_ec2_calls, first.n_throttled, first.exhausted_subnets) == (10, 2, 0)
    # setting 3 exhausted a subnet in one seed of two: it counts as exhausted
    assert assess(ROWS)[3].exhausted_subnets == 1 and assess(ROWS)[3].ran_dry_by_az["az-1"]


def test_the_pareto_set_of_a_tiny_grid_by_hand() -> None:
    assert [c.pareto for c in assess(ROWS)] == [True, True, False, True, True]


def test_the_pick_qualifies_then_has_the_fewest_idle_addresses() -> None:
    candidates = assess(ROWS)
    # qualifying at 10 s: 0, 2 and 4 (1 waits 20 s, 3 exhausted a subnet); fewest idle: 0
    # and 4 tie at 2, and on wait and calls: the first listed
    assert pick(candidates, max_wait_p99_s=10.0) is candidates[0]
    # at 30 s, 1 qualifies too and holds fewer idle addresses (1)
    assert pick(candidates, max_wait_p99_s=30.0) is candidates[1]
    # the fewest idle of all (3) never qualifies: it exhausted a subnet in one seed
    assert pick(candidates, max_wait_p99_s=1e9) is not candidates[3]


def test_no_candidate_qualifies_gives_none() -> None:
    # waits are 5, 20, 6, 0 (exhausted) and 5 s: none within 4 s
    assert pick(assess(ROWS), max_wait_p99_s=4.0) is None
    assert pick([], max_wait_p99_s=10.0) is None


points = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5), st.integers(0, 2)),
    min_size=1,
    max_size=12,
)


@given(points)
def test_every_point_off_the_pareto_set_is_dominated_by_one_on_it(pts: list) -> None:
    mask = pareto_mask(pts)
    assert any(mask)
    front = [p for p, on in zip(pts, mask, strict=True) if on]
    for p, on in zip(pts, mask, strict=True):
        dominated = any(all(f <= x for f, x in zip(q, p, strict=True)) and q != p for q in front)
        assert on != dominated


@given(points, st.integers(0, 6))
def test_the_pick_is_pareto_optimal_and_qualifies(pts: list, max_wait: int) -> None:
    candidates = assess(
        [row(i, 0, idle, wait, calls, exh) for i, (idle, wait, calls, exh) in enumerate(pts)]
    )
    best = pick(candidates, max_wait_p99_s=max_wait)
    qualifying = [c for c in candidates if c.exhausted_subnets == 0 and c.ip_wait_p99_s <= max_wait]
    if best is None:
        assert not qualifying
        return
    assert best.pareto and best in qualifying
    assert best.idle_ips_per_node_mean == min(c.idle_ips_per_node_mean for c in qualifying)


def test_the_smallest_subnet_that_holds_a_count_by_hand() -> None:
    # a /28 is 16 addresses, 11 usable after AWS's 5; a /27 27, a /24 251, a /16 65,531
    assert subnet_prefix_length(0) == 28 and subnet_prefix_length(11) == 28
    assert subnet_prefix_length(12) == 27 and subnet_prefix_length(27) == 27
    assert subnet_prefix_length(28) == 26
    assert (subnet_prefix_length(251), subnet_prefix_length(252)) == (24, 23)
    assert subnet_prefix_length(65_531) == 16 and subnet_prefix_length(65_532) is None


def test_subnet_sizing_per_zone_with_the_headroom_at_the_peak() -> None:
    """Peaks of 14 (WARM_IP_TARGET=2 on one m5.large with 10 pods, tests/test_sweep.py) and 30
    (WARM_ENI_TARGET=1): a /27 (27 usable, 13 spare) and a /26 (59 usable, 29 spare). A zone
    that ran dry gets no size: it asked for more than it got."""
    candidate = replace(
        assess(ROWS)[0],
        peak_used_ips_by_az={"a": 14, "b": 30, "c": 251},
        ran_dry_by_az={"a": False, "b": False, "c": True},
    )
    a, b, c = subnet_sizing(candidate)
    assert (a["az"], a["prefix_length"], a["n_usable_ips"], a["n_headroom_ips"]) == (
        "a",
        27,
        27,
        13,
    )
    assert a["headroom_frac"] == round(13 / 27, 3)
    assert (b["prefix_length"], b["n_usable_ips"], b["n_headroom_ips"]) == (26, 59, 29)
    assert c["ran_dry"] and c["prefix_length"] is None and c["n_peak_used_ips"] == 251


def test_the_default_grid_sets_all_five_variables_in_every_candidate() -> None:
    assert settings_grid(None) == [dict(s) for s in DEFAULT_GRID] and len(DEFAULT_GRID) == 12
    names = {
        "WARM_ENI_TARGET", "WARM_IP_TARGET", "MINIMUM_IP_TARGET",
        "ENABLE_PREFIX_DELEGATION", "WARM_PREFIX_TARGET",
    }  # fmt: skip
    assert all(set(settings) == names for settings in DEFAULT_GRID)
    assert sum(s["ENABLE_PREFIX_DELEGATION"] == "true" for s in DEFAULT_GRID) == 2
    assert len({tuple(s.items()) for s in DEFAULT_GRID}) == 12


def test_grids_form_their_product() -> None:
    grid = parse_grid(["WARM_IP_TARGET=1,2,5", "MINIMUM_IP_TARGET=0,20"])
    combos = settings_grid(grid)
    assert len(combos) == 6
    assert combos[0] == {"WARM_IP_TARGET": "1", "MINIMUM_IP_TARGET": "0"}
    assert combos[-1] == {"WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "20"}
    assert parse_grid(["WARM_IP_TARGET=2,2"]) == {"WARM_IP_TARGET": ["2"]}


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ("WARM_IP_TARGT=1,2", "did you mean WARM_IP_TARGET"),
        ("WARM_IP_TARGET=1,abc", "not an integer"),
        ("WARM_IP_TARGET=-1", "is below 0"),
        ("WARM_IP_TARGET=1,,2", "empty value"),
        ("WARM_IP_TARGET", "is not NAME=V1,V2"),
        ("AWS_VPC_ENI_MTU=9001", "does not simulate it"),
        ("ENABLE_PREFIX_DELEGATION=yes", "not a Go boolean"),
    ],
)
def test_bad_grid_items_are_refused_in_one_line(item: str, fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment) as caught:
        parse_grid([item])
    assert "\n" not in str(caught.value)


def test_a_name_given_twice_is_refused() -> None:
    with pytest.raises(UsageError, match="given twice"):
        parse_grid(["WARM_IP_TARGET=1", "WARM_IP_TARGET=2"])


def test_candidate_json_has_the_fields_the_issue_names() -> None:
    out = assess(ROWS)[0].to_json()
    assert set(out) == {
        "settings", "idle_ips_per_node_mean", "ip_wait_p99_s", "n_ec2_calls", "n_throttled",
        "exhausted_subnets", "pareto",
    }  # fmt: skip
    assert out["settings"] == {"WARM_IP_TARGET": "0"} and out["pareto"] is True


def test_widened_subnets_keep_ids_zones_and_reservation_offsets() -> None:
    from cnisim.plan import CidrReservation, Plan, Subnet, Vpc

    plan = Plan(
        node_groups=(),
        vpc=Vpc(
            cidrs=("192.168.0.0/16",),
            subnets=(
                Subnet(id="a", az="z1", cidr="192.168.1.0/24",
                       reservations=(CidrReservation(cidr="192.168.1.64/26", type="prefix"),)),
                Subnet(id="b", az="z2", cidr="192.168.2.0/27"),
            ),
        )
    )  # fmt: skip
    wide = widened_subnets(plan)
    a, b = wide.vpc.subnets
    assert (a.id, a.az, a.cidr, b.id, b.cidr) == ("a", "z1", "10.0.0.0/16", "b", "10.1.0.0/16")
    assert wide.vpc.cidrs == ("10.0.0.0/16", "10.1.0.0/16")
    (reservation,) = a.reservations
    assert (reservation.cidr, reservation.type) == ("10.0.0.64/26", "prefix")  # offset 64 kept
    wide.vpc.check()


def test_the_tradeoff_plot_draws_every_setting_on_the_axes_it_is_given() -> None:
    from matplotlib.figure import Figure

    from cnisim.plots import plot_tradeoff
    from cnisim.recommend import Recommendation

    candidates = assess(ROWS)
    rec = Recommendation(
        candidates=candidates,
        recommended=pick(candidates, 10.0),
        current=candidates[1],
        current_demand=candidates[1],
        seeds=[1, 2],
        max_wait_p99_s=10.0,
    )
    ax = Figure().subplots()
    assert plot_tradeoff(ax, rec) is ax
    # a point per setting (5), the recommendation's ring and the current settings' square
    assert len(ax.collections) == 5 + 2
    assert ax.get_legend() is not None
