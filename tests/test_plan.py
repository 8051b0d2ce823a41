"""The Plan dataclasses check themselves: every refusal names the object and attribute at fault;
durations, eksctl's size rules and the did-you-mean helper."""

from __future__ import annotations

import ipaddress
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnisim.catalog import load_catalog
from cnisim.durations import DurationError, parse_duration_s
from cnisim.errors import PlanError, UsageError, did_you_mean
from cnisim.plan import (
    COREDNS,
    AwsNode,
    BootTime,
    CidrReservation,
    Deployment,
    JobStream,
    Lifetime,
    NodeGroup,
    Plan,
    Resources,
    Run,
    Subnet,
    Vpc,
    check_instance_types,
    resolve_sizes,
)

SUBNET_A = Subnet("a", "us-east-1a", "10.0.0.0/20")
SUBNET_B = Subnet("b", "us-east-1b", "10.0.16.0/20")
VPC = Vpc(("10.0.0.0/16",), (SUBNET_A, SUBNET_B))


def group(**changes: object) -> NodeGroup:
    fields: dict[str, object] = {
        "name": "g",
        "instance_types": ("m5.large",),
        "min_size": 1,
        "desired_capacity": 2,
        "max_size": 3,
        "subnets": ("a", "b"),
    }
    fields.update(changes)
    return NodeGroup(**fields)  # type: ignore[arg-type]


def refusal(make: object, *args: object, **kwargs: object) -> PlanError:
    """The PlanError of building and checking a part (a Plan raises as it is built)."""
    with pytest.raises(PlanError) as info:
        made = make(*args, **kwargs)  # type: ignore[operator]
        if made is not None:
            made.check()
    return info.value


# --- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("10m", 600.0),
        ("2h", 7200.0),
        ("1h30m", 5400.0),
        ("250ms", 0.25),
        ("1.5h", 5400.0),
        ("0", 0.0),
        (" 5s ", 5.0),
    ],
)
def test_durations_as_go_writes_them(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["90", "-5s", "1d", "5 s", "s", "", "1h-30m", "+1s", "1e3s"])
def test_not_durations(text: str) -> None:
    with pytest.raises(DurationError, match="write a number with a unit"):
        parse_duration_s(text)


@given(h=st.integers(0, 10_000), m=st.integers(0, 59), s=st.integers(0, 59))
def test_duration_terms_add_up(h: int, m: int, s: int) -> None:
    assert parse_duration_s(f"{h}h{m}m{s}s") == 3600 * h + 60 * m + s


def test_an_absurd_duration_is_refused() -> None:
    with pytest.raises(DurationError, match="too long"):
        parse_duration_s("9" * 400 + "h")


# --- errors ----------------------------------------------------------------------------------


def test_did_you_mean() -> None:
    assert did_you_mean("minSise", ["minSize", "maxSize"]) == "did you mean minSize?"
    assert did_you_mean("zzz", ["minSize", "maxSize"]) == ""


def test_plan_error_names_object_and_attribute() -> None:
    error = refusal(group, min_size=4)
    assert isinstance(error, UsageError) and error.exit_code == 2
    assert error.attr == "min_size" and isinstance(error.obj, NodeGroup)
    assert error.message == "minSize 4 is above maxSize 3: lower minSize or raise maxSize"


# --- subnets and the VPC ---------------------------------------------------------------------


def test_a_valid_vpc() -> None:
    VPC.check()
    assert VPC.availability_zones == ("us-east-1a", "us-east-1b")
    assert VPC.subnet("b") is SUBNET_B


@given(
    a=st.tuples(st.integers(0, 255), st.integers(16, 28)),
    b=st.tuples(st.integers(0, 255), st.integers(16, 28)),
)
def test_two_subnets_are_accepted_exactly_when_they_do_not_overlap(
    a: tuple[int, int], b: tuple[int, int]
) -> None:
    nets = [
        ipaddress.IPv4Network(f"10.0.{third}.0/{prefix}", strict=False) for third, prefix in (a, b)
    ]
    subnets = tuple(Subnet(f"s{i}", "us-east-1a", str(n)) for i, n in enumerate(nets))
    if nets[0].overlaps(nets[1]):
        error = refusal(Vpc, ("10.0.0.0/16",), subnets)
        assert error.obj is subnets[1] and "overlaps subnet s0" in error.message
    else:
        Vpc(("10.0.0.0/16",), subnets).check()


@pytest.mark.parametrize(
    ("cidrs", "subnets", "fragment", "attr"),
    [
        ((), (SUBNET_A,), "at least one CIDR", "cidrs"),
        (("10.0.0.0/16",), (), "at least one subnet", "subnets"),
        (("10.0.0.0/16", "10.0.0.0/8"), (SUBNET_A,), "is a /8: VPC CIDRs are /16 to /28", "cidrs"),
        (("10.0.0.0/16", "10.0.128.0/17"), (SUBNET_A,), "overlaps VPC CIDR 10.0.0.0/16", "cidrs"),
        (("10.1.0.0/16",), (SUBNET_A,), "is outside every VPC CIDR (10.1.0.0/16)", "cidr"),
        (("10.0.0.0/16",), (SUBNET_A, SUBNET_A), "subnet id a is used twice", "id"),
        (("ten",), (SUBNET_A,), "'ten' is not an IPv4 CIDR", "cidrs"),
    ],
)
def test_vpc_refusals(
    cidrs: tuple[str, ...], subnets: tuple[Subnet, ...], fragment: str, attr: str
) -> None:
    error = refusal(Vpc, cidrs, subnets)
    assert fragment in error.message and error.attr == attr


def test_subnet_and_reservation_refusals() -> None:
    assert "EC2 subnets are /16 to /28" in refusal(Subnet, "a", "z", "10.0.0.0/29").message
    assert refusal(Subnet, "", "z", "10.0.0.0/24").attr == "id"
    assert refusal(Subnet, "a", "", "10.0.0.0/24").attr == "az"
    outside = CidrReservation("10.0.1.0/28", "prefix")
    error = refusal(Subnet, "a", "z", "10.0.0.0/24", reservations=(outside,))
    assert error.obj is outside and "outside subnet a" in error.message
    first, second = (
        CidrReservation("10.0.0.0/26", "prefix"),
        CidrReservation("10.0.0.32/27", "explicit"),
    )
    error = refusal(Subnet, "a", "z", "10.0.0.0/24", reservations=(first, second))
    assert error.obj is second and "overlaps reservation 10.0.0.0/26" in error.message
    assert refusal(CidrReservation, "10.0.0.0/28", "prefixes").attr == "type"


# --- node groups, workloads, run --------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "attr", "fragment"),
    [
        ({"min_size": 4}, "min_size", "minSize 4 is above maxSize 3"),
        ({"desired_capacity": 0}, "desired_capacity", "desiredCapacity 0 is outside minSize 1"),
        ({"max_size": -1}, "max_size", "-1 is out of range: use 0 to 100,000"),
        ({"max_size": 10**9}, "max_size", "is out of range"),
        ({"desired_capacity": 2.0}, "desired_capacity", "2.0 is not a whole number"),
        ({"desired_capacity": True}, "desired_capacity", "True is not a whole number"),
        ({"instance_types": ()}, "instance_types", "has no instance type"),
        ({"subnets": ()}, "subnets", "has no subnet"),
        ({"max_pods_per_node": 0}, "max_pods_per_node", "0 is out of range"),
        ({"max_unavailable": 0}, "max_unavailable", "0 is out of range"),
        ({"name": ""}, "name", "needs a name"),
    ],
)
def test_node_group_refusals(changes: dict[str, object], attr: str, fragment: str) -> None:
    error = refusal(group, **changes)
    assert error.attr == attr and fragment in error.message


@pytest.mark.parametrize(
    ("make", "attr"),
    [
        (lambda: BootTime(median_s=0.0), "median_s"),
        (lambda: BootTime(median_s=math.nan), "median_s"),
        (lambda: BootTime(median_s=60.0, p95_s=30.0), "p95_s"),
        (lambda: Resources(cpu_millicores=-1.0), "cpu_millicores"),
        (lambda: Resources(memory_mib=math.inf), "memory_mib"),
        (lambda: Lifetime("exponential", 0.0), "mean_s"),
        (lambda: Lifetime("lognormal", 60.0), "p95_s"),
        (lambda: Lifetime("lognormal", 60.0, 30.0), "p95_s"),
        (lambda: Lifetime("fixed", 60.0, 120.0), "p95_s"),
        (lambda: Lifetime("uniform", 60.0), "distribution"),  # type: ignore[arg-type]
        (lambda: Deployment("d", replicas=-1), "replicas"),
        (lambda: Deployment("d", replicas=1, start_s=-1.0), "start_s"),
        (lambda: JobStream("j", 0.0, Lifetime("fixed", 1.0)), "arrivals_per_s"),
        (lambda: JobStream("j", 1e9, Lifetime("fixed", 1.0)), "arrivals_per_s"),
        (lambda: JobStream("j", 1.0, Lifetime("fixed", 1.0), start_s=10.0, stop_s=5.0), "stop_s"),
        (lambda: Run(duration_s=0.0), "duration_s"),
        (lambda: Run(duration_s=1e12), "duration_s"),
        (lambda: Run(duration_s=10.0, tick_s=20.0), "tick_s"),
        (lambda: Run(tick_s=5.0, sample_every_s=1.0), "sample_every_s"),
        (lambda: Run(seed=-1), "seed"),
    ],
)
def test_impossible_numbers_are_refused(make: object, attr: str) -> None:
    assert refusal(make).attr == attr


def test_a_huge_request_is_not_an_error() -> None:
    # A pod that fits no node is reported by the scheduler, not refused here.
    Resources(cpu_millicores=1e9, memory_mib=1e12).check()


def test_parts_are_built_freely_and_a_plan_checks_them_all() -> None:
    bad_jobs = JobStream("j", -1.0, Lifetime("fixed", 1.0))  # built, not yet checked
    assert refusal(lambda: bad_jobs).attr == "arrivals_per_s"
    error = refusal(Plan, VPC, (group(),), workloads=(bad_jobs,))
    assert error.obj is bad_jobs and error.attr == "arrivals_per_s"
    bad_boot = BootTime(median_s=-1.0)
    error = refusal(Plan, VPC, (group(boot=bad_boot),))
    assert error.obj is bad_boot
    bad_subnet = Subnet("c", "us-east-1c", "10.0.32.0/29")
    error = refusal(Plan, Vpc(("10.0.0.0/16",), (SUBNET_A, bad_subnet)), (group(subnets=("a",)),))
    assert error.obj is bad_subnet and error.attr == "cidr"
    error = refusal(Plan, VPC, (group(),), run=Run(seed=-1))
    assert error.attr == "seed"


# --- the plan --------------------------------------------------------------------------------


def test_plan_cross_checks() -> None:
    error = refusal(Plan, VPC, (group(subnets=("a", "c")),))
    assert (
        error.attr == "subnets" and "names subnet c, which the VPC does not have" in error.message
    )
    error = refusal(Plan, VPC, (group(), group()))
    assert error.attr == "name" and "node group g twice" in error.message
    error = refusal(Plan, VPC, (group(),), aws_node=AwsNode(eni_configs={"us-east-1a": "x"}))
    assert error.attr == "eni_configs"
    custom = AwsNode(
        env={"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true"}, eni_configs={"us-east-1a": "a"}
    )
    error = refusal(Plan, VPC, (group(),), aws_node=custom)
    assert "zone us-east-1b has no ENIConfig subnet" in error.message
    assert Plan(VPC, (group(subnets=("a",)),), aws_node=custom).node_groups


def test_aws_node_settings_per_group() -> None:
    plan = Plan(
        VPC,
        (group(aws_node_env={"WARM_IP_TARGET": "x"}), group(name="h")),
        aws_node=AwsNode(env={"WARM_ENI_TARGET": "2", "WARM_IP_TARGET": "3"}),
    )
    first, second = plan.node_groups
    assert plan.aws_node_env(first) == {"WARM_ENI_TARGET": "2", "WARM_IP_TARGET": "x"}
    assert plan.ipamd_config(first).warm_ip_target == 0  # ipamd's coercion of "x"
    assert plan.ipamd_config(second).warm_ip_target == 3
    assert plan.ipamd_warnings() == (
        "node group g: WARM_IP_TARGET='x' is not an integer to Go's strconv.Atoi (digits only, no "
        "spaces): ipamd uses 0",
    )
    error = refusal(Plan, VPC, (group(aws_node_env={"ENABLE_IPv4": "false"}),))
    assert error.attr == "aws_node_env" and "both false" in error.message


def test_coredns_is_there_by_default() -> None:
    plan = Plan(VPC, (group(),), workloads=(Deployment("web", 3),))
    assert plan.coredns == COREDNS
    assert COREDNS.requests == Resources(100.0, 70.0) and COREDNS.replicas == 2
    assert plan.all_workloads == (COREDNS, Deployment("web", 3))
    assert Plan(VPC, (group(),), coredns=None).all_workloads == ()


def test_maps_are_copied_and_read_only() -> None:
    env = {"WARM_IP_TARGET": "5"}
    aws_node = AwsNode(env=env)
    env["WARM_IP_TARGET"] = "9"
    assert aws_node.env["WARM_IP_TARGET"] == "5"
    with pytest.raises(TypeError):
        aws_node.env["WARM_IP_TARGET"] = "1"  # type: ignore[index]


def test_instance_types_against_the_catalog() -> None:
    catalog = load_catalog()
    check_instance_types(Plan(VPC, (group(instance_types=("m5.large", "t3.large")),)), catalog)
    error = refusal(check_instance_types, Plan(VPC, (group(instance_types=("m5.lrge",)),)), catalog)
    assert error.attr == "instance_types" and "did you mean m5.large" in error.message


@given(
    min_size=st.none() | st.integers(0, 50),
    desired=st.none() | st.integers(0, 50),
    max_size=st.none() | st.integers(0, 50),
)
def test_eksctl_size_rules(min_size: int | None, desired: int | None, max_size: int | None) -> None:
    resolved = resolve_sizes(min_size, desired, max_size)
    for given_value, value in zip((min_size, desired, max_size), resolved, strict=True):
        if given_value is not None:
            assert value == given_value
    if min_size is None and desired is None:
        assert resolved[0] == 2
    if max_size is None:
        assert resolved[2] >= 1
    consistent = (min_size or 0) <= (desired if desired is not None else min_size or 0)
    if max_size is None and desired is not None and consistent:
        assert resolved[0] <= resolved[1] <= resolved[2]
