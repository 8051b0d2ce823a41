"""Recommend aws-node warm-pool settings: a grid swept over seeds, its Pareto set, one pick.

:func:`settings_grid` builds the candidates (the :data:`DEFAULT_GRID`, or the product of
``--grid NAME=V1,V2`` lists); :func:`recommend` sweeps them with :func:`cnisim.sweep.run_sweep`
and :func:`assess` turns the rows into candidates: per settings, the means over the seeds of the
idle addresses per node and the p99 address wait, the most EC2 calls, throttles and exhausted
subnets in any seed, and whether the settings are Pareto-optimal over (idle addresses, p99 wait,
EC2 calls, exhausted subnets), all minimized. :func:`pick` names the recommendation: no subnet
exhausted in any seed, a p99 wait within the limit, then the fewest idle addresses (ties: the
shorter wait, then fewer EC2 calls, so the pick is always Pareto-optimal); none may qualify.

:func:`subnet_sizing` answers the subnet question directly: per zone, the smallest subnet (prefix
length) whose usable addresses (its size minus AWS's 5 reserved) hold the peak in use over every
seed, and the headroom left at that peak.

Simplifications (also in the README):

- The peak in use is read at the subnet samples (every ``run.sampleEvery``), so a shorter peak
  may be missed; the sizing counts addresses, not aligned /28 blocks (prefix delegation also
  needs those free: a subnet of exactly that size can still fail with InsufficientCidrBlocks).
- A zone whose subnet ran dry asked for more than it got. When that happens under the plan's
  current settings, :func:`recommend` runs those settings again (same seeds) with every subnet
  widened to a /16 of its own (:func:`widened_subnets`: reservations kept at their offsets),
  so nothing runs dry, and sizes the zones from that run's peaks. Wider subnets also have more
  aligned /28s and take no failed launches, so that run is the demand with no subnet limit,
  not a replay of the plan.
- A zone's subnets are summed as if they were one subnet.

References
----------
Amazon VPC User Guide, "Subnet CIDR blocks" (5 reserved addresses per subnet; IPv4 subnets from
/16 to /28); aws/amazon-vpc-cni-k8s ``docs/eni-and-ip-target.md`` and
``docs/prefix-and-ip-target.md`` (what the warm-pool variables do).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from cnisim.errors import UsageError

if TYPE_CHECKING:
    from distributed import Client

    from cnisim.catalog import Catalog
    from cnisim.plan import Plan
    from cnisim.sweep import Progress, RunRow

# Light at import (the CLI's help lists the default grid): the sweep and the report are
# imported where they are used.

__all__ = [
    "DEFAULT_GRID",
    "DEFAULT_GRID_HELP",
    "DEFAULT_MAX_WAIT_P99_S",
    "Candidate",
    "Recommendation",
    "assess",
    "pareto_mask",
    "parse_grid",
    "pick",
    "recommend",
    "settings_grid",
    "subnet_sizing",
]

#: ``--max-wait-p99``'s default: a pod's p99 wait for an address within this [s].
DEFAULT_MAX_WAIT_P99_S: Final = 10.0

#: The smallest and largest IPv4 subnet AWS allows (VPC User Guide, "Subnet CIDR blocks").
MIN_SUBNET_PREFIX_LENGTH: Final = 16
MAX_SUBNET_PREFIX_LENGTH: Final = 28

# Every default candidate sets all five variables, so that none inherits a plan's other
# warm-pool mode (a plan's WARM_IP_TARGET would override a WARM_ENI_TARGET candidate).
_OFF: Final = {
    "WARM_ENI_TARGET": "1",
    "WARM_IP_TARGET": "0",
    "MINIMUM_IP_TARGET": "0",
    "ENABLE_PREFIX_DELEGATION": "false",
    "WARM_PREFIX_TARGET": "1",
}


_WARM_ENI_TARGETS: Final = (1, 2)
_WARM_IP_TARGETS: Final = (1, 2, 5, 10)
_MINIMUM_IP_TARGETS: Final = (0, 10)
_WARM_PREFIX_TARGETS: Final = (1, 2)


def _default_grid() -> tuple[dict[str, str], ...]:
    eni = [{**_OFF, "WARM_ENI_TARGET": str(n)} for n in _WARM_ENI_TARGETS]
    ip = [
        {**_OFF, "WARM_IP_TARGET": str(warm), "MINIMUM_IP_TARGET": str(minimum)}
        for warm in _WARM_IP_TARGETS
        for minimum in _MINIMUM_IP_TARGETS
    ]
    prefix = [
        {**_OFF, "ENABLE_PREFIX_DELEGATION": "true", "WARM_PREFIX_TARGET": str(n)}
        for n in _WARM_PREFIX_TARGETS
    ]
    return (*eni, *ip, *prefix)


def _values(values: Sequence[int]) -> str:
    return ",".join(map(str, values))


#: The settings ``cnisim recommend`` tries without ``--grid``: WARM_ENI_TARGET 1 and 2;
#: WARM_IP_TARGET 1, 2, 5, 10, each with MINIMUM_IP_TARGET unset (0) and 10; prefix delegation
#: with WARM_PREFIX_TARGET 1 and 2. Each sets all five variables.
DEFAULT_GRID: Final = _default_grid()
#: :data:`DEFAULT_GRID` in words, for ``--help``.
DEFAULT_GRID_HELP: Final = (
    f"WARM_ENI_TARGET={_values(_WARM_ENI_TARGETS)}; "
    f"WARM_IP_TARGET={_values(_WARM_IP_TARGETS)} x MINIMUM_IP_TARGET="
    f"{_values(_MINIMUM_IP_TARGETS)}; ENABLE_PREFIX_DELEGATION=true x WARM_PREFIX_TARGET="
    f"{_values(_WARM_PREFIX_TARGETS)} ({len(_default_grid())} settings; each sets all five, "
    f"those not swept at {' '.join(f'{k}={v}' for k, v in _OFF.items())})"
)


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """``--grid NAME=V1,V2,...`` items as lists of values by variable name.

    Each value must be one ipamd reads as written (not one it would coerce, with a warning);
    the name must be a variable cnisim simulates; a name may appear once.

    Raises
    ------
    UsageError
        Not NAME=V1,V2; an unknown or unsimulated name; an empty or coerced value; a name twice.

    Examples
    --------
    >>> parse_grid(["WARM_IP_TARGET=2,5", "MINIMUM_IP_TARGET=10"])
    {'WARM_IP_TARGET': ['2', '5'], 'MINIMUM_IP_TARGET': ['10']}
    """
    from cnisim.cni import UNMODELED_VARIABLES, IpamdConfig

    grid: dict[str, list[str]] = {}
    for item in items:
        name, sep, values_text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(
                f"--grid {item[:60]!r} is not NAME=V1,V2,...: write e.g. --grid WARM_IP_TARGET=2,5"
            )
        if name in grid:
            raise UsageError(f"--grid {name} is given twice: list all its values in one --grid")
        try:
            IpamdConfig.from_env({name: ""})  # an empty value is a default: only a bad name fails
        except UsageError as exc:
            raise UsageError(f"--grid {name}: {exc}") from None
        if name in UNMODELED_VARIABLES:
            raise UsageError(f"--grid {name}: cnisim does not simulate it, so sweeping it is moot")
        values = values_text.split(",")
        for value in values:
            if not value:
                raise UsageError(f"--grid {item[:60]!r} has an empty value: write e.g. {name}=2,5")
            try:
                warnings = IpamdConfig.from_env({name: value}).warnings
            except UsageError:
                # refused alone (ENABLE_IPv6=true needs ENABLE_IPv4=false): recommend checks
                # each candidate whole, with --set
                warnings = ()
            if warnings:
                raise UsageError(f"--grid {name}={value}: {warnings[0]}; give a value it reads")
        grid[name] = list(dict.fromkeys(values))
    return grid


def settings_grid(grid: Mapping[str, Sequence[str]] | None) -> list[dict[str, str]]:
    """The candidates: the product of ``grid``'s value lists, or :data:`DEFAULT_GRID`.

    Examples
    --------
    >>> settings_grid({"WARM_IP_TARGET": ["2", "5"], "MINIMUM_IP_TARGET": ["10"]})
    [{'WARM_IP_TARGET': '2', 'MINIMUM_IP_TARGET': '10'}, {'WARM_IP_TARGET': '5', \
'MINIMUM_IP_TARGET': '10'}]
    >>> len(settings_grid(None))
    12
    """
    if not grid:
        return [dict(settings) for settings in DEFAULT_GRID]
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


@dataclass(frozen=True)
class Candidate:
    """One settings' results over the seeds.

    Attributes
    ----------
    settings : dict of str to str
        aws-node variables by their names.
    idle_ips_per_node_mean : float
        Mean over the seeds of each run's idle addresses per node [addresses].
    ip_wait_p99_s : float
        Mean over the seeds of each run's p99 wait for an address [s].
    n_ec2_calls, n_throttled, exhausted_subnets : int
        The most in any seed: EC2 requests, throttled ones, subnets that ran out.
    peak_used_ips_by_az : dict of str to int
        Per zone, the most addresses in use at once in any seed [addresses].
    ran_dry_by_az : dict of str to bool
        Per zone, whether a subnet of it ran out in any seed.
    pareto : bool
        No other candidate is as good on all four of (idle addresses, p99 wait, EC2 calls,
        exhausted subnets) and better on one.
    """

    settings: dict[str, str]
    idle_ips_per_node_mean: float
    ip_wait_p99_s: float
    n_ec2_calls: int
    n_throttled: int
    exhausted_subnets: int
    peak_used_ips_by_az: dict[str, int]
    ran_dry_by_az: dict[str, bool]
    pareto: bool = False

    def objectives(self) -> tuple[float, float, float, float]:
        """What the Pareto set minimizes, in this order."""
        return (
            self.idle_ips_per_node_mean,
            self.ip_wait_p99_s,
            self.n_ec2_calls,
            self.exhausted_subnets,
        )

    def to_json(self) -> dict[str, Any]:
        """The candidate as ``cnisim recommend -o json`` prints it."""
        return {
            "settings": dict(self.settings),
            "idle_ips_per_node_mean": round(self.idle_ips_per_node_mean, 3),
            "ip_wait_p99_s": round(self.ip_wait_p99_s, 3),
            "n_ec2_calls": self.n_ec2_calls,
            "n_throttled": self.n_throttled,
            "exhausted_subnets": self.exhausted_subnets,
            "pareto": self.pareto,
        }


def _zones(candidate: Candidate) -> dict[str, Any]:
    """A candidate's per-zone fields (the subnet ids of a widened plan keep their zones)."""
    return {
        "peak_used_ips_by_az": candidate.peak_used_ips_by_az,
        "ran_dry_by_az": candidate.ran_dry_by_az,
    }


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _combine(rows: Sequence[RunRow]) -> Candidate:
    """One candidate from its runs (one per seed)."""
    zones = sorted({az for row in rows for az in row.peak_used_ips_by_az})
    return Candidate(
        settings=dict(rows[0].settings),
        idle_ips_per_node_mean=_mean([row.idle_ips_per_node_mean for row in rows]),
        ip_wait_p99_s=_mean([row.ip_wait_p99_s for row in rows]),
        n_ec2_calls=max(row.n_ec2_calls for row in rows),
        n_throttled=max(row.n_throttled for row in rows),
        exhausted_subnets=max(row.n_exhausted_subnets for row in rows),
        peak_used_ips_by_az={
            az: max(row.peak_used_ips_by_az.get(az, 0) for row in rows) for az in zones
        },
        ran_dry_by_az={az: any(row.ran_dry_by_az.get(az, False) for row in rows) for az in zones},
    )


def pareto_mask(points: Sequence[Sequence[float]]) -> list[bool]:
    """Which points no other point dominates (all minimized).

    A point dominates another when it is no worse in every objective and better in one; equal
    points do not dominate each other.

    Examples
    --------
    >>> pareto_mask([(1, 5), (2, 2), (3, 3), (1, 5)])
    [True, True, False, True]
    """

    def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
        return all(x <= y for x, y in zip(a, b, strict=True)) and any(
            x < y for x, y in zip(a, b, strict=True)
        )

    return [not any(dominates(other, point) for other in points) for point in points]


def assess(rows: Sequence[RunRow]) -> list[Candidate]:
    """Candidates from a sweep's rows (grouped by ``candidate``), their Pareto set marked."""
    by_candidate: dict[int, list[RunRow]] = {}
    for row in rows:
        by_candidate.setdefault(row.candidate, []).append(row)
    combined = [_combine(by_candidate[c]) for c in sorted(by_candidate)]
    mask = pareto_mask([candidate.objectives() for candidate in combined])
    return [
        replace(candidate, pareto=optimal)
        for candidate, optimal in zip(combined, mask, strict=True)
    ]


def pick(candidates: Sequence[Candidate], max_wait_p99_s: float) -> Candidate | None:
    """The recommendation: no subnet exhausted in any seed, p99 wait within the limit, then
    the fewest idle addresses (ties: the shorter wait, then fewer EC2 calls, then the first
    listed); None if no candidate qualifies."""
    qualifying = [
        c for c in candidates if c.exhausted_subnets == 0 and c.ip_wait_p99_s <= max_wait_p99_s
    ]
    if not qualifying:
        return None
    return min(qualifying, key=lambda c: (c.idle_ips_per_node_mean, c.ip_wait_p99_s, c.n_ec2_calls))


def _reserved_ips_per_subnet() -> int:
    from cnisim.report import AWS_RESERVED_IPS_PER_SUBNET

    return AWS_RESERVED_IPS_PER_SUBNET


def subnet_prefix_length(n_ips: int) -> int | None:
    """The smallest subnet (the largest prefix length) with at least ``n_ips`` usable
    addresses after AWS's 5 reserved; None if even a /16 is too small.

    Examples
    --------
    >>> subnet_prefix_length(11), subnet_prefix_length(12), subnet_prefix_length(251)
    (28, 27, 24)
    """
    for length in range(MAX_SUBNET_PREFIX_LENGTH, MIN_SUBNET_PREFIX_LENGTH - 1, -1):
        if 2 ** (32 - length) - _reserved_ips_per_subnet() >= n_ips:
            return length
    return None


def widened_subnets(plan: Plan) -> Plan:
    """The plan with each subnet a /16 of its own (``10.<i>.0.0/16``, one VPC CIDR each), its
    reservations moved with it (the same offset and size): the same cluster with no subnet
    limit, to measure what each zone asks for."""
    import dataclasses
    import ipaddress

    subnets = []
    for i, subnet in enumerate(plan.vpc.subnets):
        old = ipaddress.IPv4Network(subnet.cidr)
        new = ipaddress.IPv4Network((0x0A00_0000 + (i << 16), 16))  # 10.<i>.0.0/16, then on
        reservations = tuple(
            dataclasses.replace(
                r,
                cidr=str(
                    ipaddress.IPv4Network(
                        (
                            int(new.network_address)
                            + int(ipaddress.IPv4Network(r.cidr).network_address)
                            - int(old.network_address),
                            ipaddress.IPv4Network(r.cidr).prefixlen,
                        )
                    )
                ),
            )
            for r in subnet.reservations
        )
        subnets.append(dataclasses.replace(subnet, cidr=str(new), reservations=reservations))
    vpc = dataclasses.replace(
        plan.vpc, cidrs=tuple(s.cidr for s in subnets), subnets=tuple(subnets)
    )
    return dataclasses.replace(plan, vpc=vpc)


def subnet_sizing(candidate: Candidate) -> list[dict[str, Any]]:
    """Per zone: the smallest subnet that held the peak in use, and the headroom at it.

    Returns
    -------
    list of dict
        ``az``; ``n_peak_used_ips`` (the most in use at once in any seed); ``prefix_length``
        (e.g. 24 for a /24; null if no subnet up to a /16 holds it); ``n_usable_ips`` of that
        size; ``n_headroom_ips`` and ``headroom_frac`` (usable minus peak, and over usable);
        ``ran_dry``: a subnet of the zone ran out in a seed, so the zone asked for more than
        the peak and the run cannot say how much: no size (null) is given then.
    """
    out = []
    for az, peak in candidate.peak_used_ips_by_az.items():
        ran_dry = candidate.ran_dry_by_az[az]
        length = None if ran_dry else subnet_prefix_length(peak)
        usable = None if length is None else 2 ** (32 - length) - _reserved_ips_per_subnet()
        out.append(
            {
                "az": az,
                "n_peak_used_ips": peak,
                "prefix_length": length,
                "n_usable_ips": usable,
                "n_headroom_ips": None if usable is None else usable - peak,
                "headroom_frac": None if usable is None else round((usable - peak) / usable, 3),
                "ran_dry": ran_dry,
            }
        )
    return out


@dataclass(frozen=True)
class Recommendation:
    """What :func:`recommend` found.

    Attributes
    ----------
    candidates : list of Candidate
        The grid's settings, in grid order, Pareto set marked.
    recommended : Candidate or None
        The pick (:func:`pick`), or None if none qualifies.
    current : Candidate
        The plan under its own settings (``--set`` included), on the same seeds; its
        ``settings`` are the plan's ``awsNode.env`` (node groups' own are not shown).
    current_demand : Candidate
        ``current``, or where a zone ran dry under it, the same with the per-zone peaks of a
        run on widened subnets (:func:`widened_subnets`): what the subnet sizing reads.
    seeds : list of int
        The run seeds (spawned from the sweep's seed).
    max_wait_p99_s : float
        The wait limit the pick used [s].
    """

    candidates: list[Candidate]
    recommended: Candidate | None
    current: Candidate
    current_demand: Candidate
    seeds: list[int]
    max_wait_p99_s: float

    def to_json(self) -> dict[str, Any]:
        """``cnisim recommend -o json``: ``candidates``, ``recommended`` (its settings, or
        null), ``current`` and ``subnet_sizing`` for the current and recommended settings."""
        return {
            "candidates": [candidate.to_json() for candidate in self.candidates],
            "recommended": None if self.recommended is None else dict(self.recommended.settings),
            "current": self.current.to_json(),
            "subnet_sizing": {
                "current": subnet_sizing(self.current_demand),
                "recommended": None
                if self.recommended is None
                else subnet_sizing(self.recommended),
            },
            "current_sized_on_widened_subnets": self.current_demand is not self.current,
            "seeds": self.seeds,
            "max_wait_p99_s": self.max_wait_p99_s,
        }


def recommend(
    plan: Plan,
    catalog: Catalog,
    *,
    grid: Mapping[str, Sequence[str]] | None = None,
    seed: int = 0,
    n_seeds: int = 3,
    max_wait_p99_s: float = DEFAULT_MAX_WAIT_P99_S,
    n_workers: int | None = None,
    dask: str | Client | None = None,
    progress: Progress | None = None,
) -> Recommendation:
    """Sweep the plan over warm-pool settings and seeds; mark the Pareto set, pick one.

    Parameters
    ----------
    plan : Plan
        The plan, its overrides (``--set`` fixes the settings not swept) applied.
    catalog : Catalog
        Instance data for its types.
    grid : mapping of str to sequence of str, optional
        Values per variable to sweep (their product); default :data:`DEFAULT_GRID`.
    seed : int
        The seed the run seeds are spawned from.
    n_seeds : int
        Runs per settings (>= 1).
    max_wait_p99_s : float
        The pick's limit on the p99 address wait [s].
    n_workers, dask, progress
        As :func:`cnisim.sweep.run_sweep`.

    Raises
    ------
    UsageError
        ``n_seeds`` below 1, or a candidate's settings ipamd refuses (checked before any run).
    SweepError
        The sweep could not run (Dask out of reach, a worker lost).
    """
    from cnisim.errors import PlanError
    from cnisim.io import apply_overrides
    from cnisim.sweep import run_sweep, spawn_seeds

    if n_seeds < 1:
        raise UsageError(f"--seeds {n_seeds}: run each setting on at least 1 seed")
    candidates = settings_grid(grid)
    for settings in candidates:
        try:
            apply_overrides(plan, env=settings)
        except PlanError as exc:
            raise UsageError(f"--grid candidate {_label(settings)}: {exc.message}") from None
    seeds = spawn_seeds(seed, n_seeds)
    rows = run_sweep(
        plan,
        catalog,
        [*candidates, {}],
        seeds,
        n_workers=n_workers,
        dask=dask,
        progress=progress,
    )
    # the last candidate is the plan's own settings: reported, not a candidate
    n_grid_rows = len(candidates) * n_seeds
    assessed = assess(rows[:n_grid_rows])
    current = replace(_combine(rows[n_grid_rows:]), settings=dict(plan.aws_node.env))
    demand = current
    if any(current.ran_dry_by_az.values()):  # how much did the dry zones ask for?
        widened = run_sweep(widened_subnets(plan), catalog, [{}], seeds, n_workers=n_workers,
                            dask=dask, progress=progress)  # fmt: skip
        demand = replace(current, **_zones(_combine(widened)))
    return Recommendation(
        candidates=assessed,
        recommended=pick(assessed, max_wait_p99_s),
        current=current,
        current_demand=demand,
        seeds=seeds,
        max_wait_p99_s=max_wait_p99_s,
    )


def _label(settings: Mapping[str, str]) -> str:
    return " ".join(f"{name}={value}" for name, value in settings.items()) or "(plan's own)"


def format_recommendation(rec: Recommendation) -> str:
    """The recommendation as text tables (``cnisim recommend``'s default output)."""
    from cnisim.report import _table

    names = list(dict.fromkeys(name for c in rec.candidates for name in c.settings))
    rows = [
        {
            **{name: c.settings.get(name, "") for name in names},
            **c.to_json(),
            "mark": ("*" if c.pareto else "") + (" <- recommended" if c is rec.recommended else ""),
        }
        for c in rec.candidates
    ]
    lines = [
        f"{len(rec.candidates)} settings x {len(rec.seeds)} seeds; idle and wait are means over "
        "the seeds, the counts the most in any seed; * Pareto-optimal",
        "",
    ]
    lines += _table(
        rows,
        [(name, name) for name in names]
        + [
            ("idle_ips_per_node_mean", "idle_ips_per_node"),
            ("ip_wait_p99_s", "wait_p99_s"),
            ("n_ec2_calls", "ec2_calls"),
            ("n_throttled", "throttled"),
            ("exhausted_subnets", "exhausted_subnets"),
            ("mark", "pareto"),
        ],
    )
    lines.append("")
    if rec.recommended is None:
        lines.append(
            f"recommended: none (every setting exhausted a subnet or waited over "
            f"{rec.max_wait_p99_s:g} s at p99)"
        )
    else:
        lines.append(f"recommended: {_label(rec.recommended.settings)}")
    sizing = [("current", rec.current_demand)]
    if rec.recommended is not None:
        sizing.append(("recommended", rec.recommended))
    lines += ["", "subnet sizing (one subnet per zone: the smallest that held the peak)"]
    if rec.current_demand is not rec.current:
        lines.append(
            "(a zone ran dry under the current settings: they were run again on a /16 per "
            "subnet to see what each zone asks for)"
        )
    lines += _table(
        [
            {
                "settings": which,
                **row,
                "size": "ran dry" if row["ran_dry"] else _size(row["prefix_length"]),
            }
            for which, candidate in sizing
            for row in subnet_sizing(candidate)
        ],
        [
            ("settings", "settings"),
            ("az", "az"),
            ("n_peak_used_ips", "peak_used"),
            ("size", "subnet"),
            ("n_usable_ips", "usable_ips"),
            ("n_headroom_ips", "headroom_at_peak"),
        ],
    )
    return "\n".join(lines)


def _size(prefix_length: int | None) -> str:
    return "over a /16" if prefix_length is None else f"/{prefix_length}"
