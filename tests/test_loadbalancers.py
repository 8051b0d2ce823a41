"""Load balancers, endpoints, NAT gateways and the control plane's ENIs: their addresses
counted in their subnets, their failures when none are left, the plan fields' bad input."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from clihelp import assert_one_line_error
from typer.testing import CliRunner

from cnisim.catalog import load_catalog
from cnisim.cli import app
from cnisim.io import load_plan
from cnisim.plan import Subnet, Vpc
from cnisim.report import format_summary, summarize
from cnisim.sim.holders import HolderFailure, HoldersSummary
from cnisim.sim.scenario import simulate
from cnisim.sim.scenario_result import SimulationResult

CATALOG = load_catalog()
runner = CliRunner()

# The node is in subnet-a; lb-a (a /28: 16 - 5 = 11 usable) and lb-b hold only what the test
# puts there.
HEAD = """\
apiVersion: cnisim/v1
kind: Plan
vpc:
  cidrs: [10.0.0.0/16]
  subnets:
    - {id: subnet-a, az: us-east-1a, cidr: 10.0.0.0/24}
    - {id: lb-a, az: us-east-1a, cidr: 10.0.1.0/28}
    - {id: lb-b, az: us-east-1b, cidr: 10.0.2.0/24}
nodeGroups:
  - {name: ng, instanceTypes: [c5.large], desiredCapacity: 1, subnets: [subnet-a]}
coreDNS: false
run: {duration: 10m}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


def run(tmp_path: Path, text: str) -> SimulationResult:
    plan = load_plan(write(tmp_path, HEAD + textwrap.dedent(text)), catalog=CATALOG)
    return simulate(plan, CATALOG, engine="reference")


def subnet_rows(result: SimulationResult) -> dict[str, dict]:
    return {row["id"]: row for row in summarize(result)["subnets"]}


def used_at_end(result: SimulationResult, subnet_id: str) -> int:
    j = result.ipamd.subnet_ids.index(subnet_id)
    free = int(result.ipamd.subnet_samples["n_free_ips"][-1, j])
    return int(subnet_rows(result)[subnet_id]["n_usable_ips"]) - free


def test_an_albs_addresses_are_counted_in_its_subnets_as_it_scales_and_goes(
    tmp_path: Path,
) -> None:
    """By hand: the ALB takes 8 per subnet at 0 s, 10 from 3 min, none after 8 min; three
    control-plane ENIs round-robin over [lb-b, subnet-a] put two in lb-b. So lb-a peaks at 10,
    lb-b at 10 + 2 = 12, and at the end lb-a holds 0 and lb-b 2."""
    result = run(
        tmp_path,
        """\
        controlPlane: {enis: 3, subnets: [lb-b, subnet-a]}
        loadBalancers:
          - name: web
            type: alb
            subnets: [lb-a, lb-b]
            scaling: [{at: 3m, addressesPerSubnet: 10}]
            stop: 8m
        """,
    )
    rows = subnet_rows(result)
    assert (rows["lb-a"]["n_peak_used_ips"], rows["lb-b"]["n_peak_used_ips"]) == (10, 12)
    assert (used_at_end(result, "lb-a"), used_at_end(result, "lb-b")) == (0, 2)
    holders = result.controllers["holders"]
    assert isinstance(holders, HoldersSummary)
    assert [(r.name, r.subnet) for r in holders.records] == [
        ("eks-eni-1", "lb-b"),
        ("eks-eni-2", "subnet-a"),
        ("eks-eni-3", "lb-b"),
        ("web", "lb-a"),
        ("web", "lb-b"),
    ]
    web = holders.records[3]
    assert (web.kind, web.n_addresses_max, web.n_addresses_at_end) == ("alb", 10, 0)
    assert (web.created_s, web.deleted_s) == (0.0, 480.0)
    assert holders.failures == () and holders.cluster_subnets == ("lb-b", "subnet-a")
    summary = summarize(result)
    assert {"holders", "holder_failures", "fargate"} <= set(summary)
    assert summary["holders"][0]["subnet"] == "subnet-a"  # listed in the VPC's subnet order
    assert "address holders (counted in the subnets above)" in format_summary(summary)


def test_holders_fail_as_aws_does_when_the_subnet_is_short(tmp_path: Path) -> None:
    """lb-a has 11 usable addresses. By hand: control-plane ENI 1 and the NLB at 0 s leave 9;
    the ALB web at 1 min needs 8 free (ELB's rule) and takes 8: 1 left; the ALB admin at 2 min
    finds 1 < 8 (InvalidSubnet) and takes nothing in lb-b either; the NAT gateway at 3 min
    takes the last one; the endpoint at 4 min gets none (InsufficientFreeAddressesInSubnet);
    the NLB late at 5 min is refused by ELB (InvalidSubnet)."""
    result = run(
        tmp_path,
        """\
        controlPlane: {subnets: [lb-a, lb-b]}
        loadBalancers:
          - {name: api, type: nlb, subnets: [lb-a]}
          - {name: web, type: alb, subnets: [lb-a, lb-b], start: 1m}
          - {name: admin, type: alb, subnets: [lb-a, lb-b], start: 2m}
          - {name: late, type: nlb, subnets: [lb-a], start: 5m}
        natGateways: [{name: nat-a, subnets: [lb-a], start: 3m}]
        vpcEndpoints: [{name: ecr.api, subnets: [lb-a], start: 4m}]
        """,
    )
    holders = result.controllers["holders"]
    assert isinstance(holders, HoldersSummary)
    assert [(f.name, f.subnet, f.at_s, f.error) for f in holders.failures] == [
        ("admin", "lb-a", 120.0, "InvalidSubnet"),
        ("ecr.api", "lb-a", 240.0, "InsufficientFreeAddressesInSubnet"),
        ("late", "lb-a", 300.0, "InvalidSubnet"),
    ]
    assert all(isinstance(f, HolderFailure) for f in holders.failures)
    rows = subnet_rows(result)
    assert rows["lb-a"]["n_peak_used_ips"] == 11 and rows["lb-a"]["n_min_free_ips"] == 0
    assert rows["lb-a"]["exhausted_at_s"] == 240.0  # EC2 refused the endpoint's ENI
    assert used_at_end(result, "lb-b") == 1 + 8  # ENI 2 and web; admin took nothing there
    admin = [r for r in holders.records if r.name == "admin"]
    assert all(r.n_addresses_max == 0 for r in admin)
    summary = summarize(result)
    assert [f["error"] for f in summary["holder_failures"]] == [
        "InvalidSubnet",
        "InsufficientFreeAddressesInSubnet",
        "InvalidSubnet",
    ]
    findings = summary["findings"]
    assert (
        "alb admin not created: subnet lb-a has fewer than 8 free addresses at 0h02m00s"
        " (InvalidSubnet)" in findings
    )
    assert (
        "vpc-endpoint ecr.api not created: no 1 free address in lb-a at 0h04m00s"
        " (InsufficientFreeAddressesInSubnet)" in findings
    )
    short = [f for f in findings if f.startswith("cluster subnet")]
    assert short == [
        "cluster subnet lb-a had 0 free addresses at its lowest: EKS requires 6 in each cluster"
        " subnet (16 recommended) and a cluster upgrade needs up to 5 for the control plane's"
        " new ENIs"
    ]


def test_a_cluster_upgrade_briefly_doubles_the_control_planes_enis(tmp_path: Path) -> None:
    """Two ENIs over [lb-a, lb-b] from 0 s; the upgrade at 2 min adds eni-3 (lb-a) and eni-4
    (lb-b); the old two go 3 min later. So each subnet peaks at 2 and ends with 1."""
    result = run(
        tmp_path, "controlPlane: {subnets: [lb-a, lb-b], upgradeAt: 2m, upgradeOverlap: 3m}\n"
    )
    holders = result.controllers["holders"]
    assert isinstance(holders, HoldersSummary)
    assert [(r.name, r.subnet, r.created_s, r.deleted_s) for r in holders.records] == [
        ("eks-eni-1", "lb-a", 0.0, 300.0),
        ("eks-eni-2", "lb-b", 0.0, 300.0),
        ("eks-eni-3", "lb-a", 120.0, pytest.approx(float("nan"), nan_ok=True)),
        ("eks-eni-4", "lb-b", 120.0, pytest.approx(float("nan"), nan_ok=True)),
    ]
    rows = subnet_rows(result)
    assert rows["lb-a"]["n_peak_used_ips"] == rows["lb-b"]["n_peak_used_ips"] == 2
    assert used_at_end(result, "lb-a") == used_at_end(result, "lb-b") == 1


def test_eks_refuses_an_upgrade_when_a_cluster_subnet_has_fewer_than_five_free(
    tmp_path: Path,
) -> None:
    """lb-a: 11 usable - ENI 1 - the ALB's 8 = 2 free < 5 at the upgrade: refused
    (InsufficientFreeAddresses); lb-b has room and is not listed; no new ENI anywhere."""
    result = run(
        tmp_path,
        """\
        controlPlane: {subnets: [lb-a, lb-b], upgradeAt: 2m}
        loadBalancers: [{name: web, type: alb, subnets: [lb-a, lb-b]}]
        """,
    )
    holders = result.controllers["holders"]
    assert isinstance(holders, HoldersSummary)
    assert [(f.name, f.subnet, f.at_s, f.error) for f in holders.failures] == [
        ("cluster-upgrade", "lb-a", 120.0, "InsufficientFreeAddresses")
    ]
    assert [r.name for r in holders.records if r.kind == "eks-control-plane"] == [
        "eks-eni-1",
        "eks-eni-2",
    ]


def test_a_loadbalancer_service_creates_its_nlb_when_the_workload_starts(tmp_path: Path) -> None:
    """The AWS Load Balancer Controller takes the subnets tagged internal-elb, one per zone,
    the first by id: lb-a and lb-b here (subnet-a is not tagged)."""
    text = HEAD.replace(
        "cidr: 10.0.1.0/28}", "cidr: 10.0.1.0/28, tags: {kubernetes.io/role/internal-elb: '1'}}"
    ).replace(
        "cidr: 10.0.2.0/24}", "cidr: 10.0.2.0/24, tags: {kubernetes.io/role/internal-elb: '1'}}"
    )
    text += textwrap.dedent("""\
        workloads:
          - kind: Deployment
            name: web
            replicas: 2
            start: 2m
            service: {type: LoadBalancer}
        """)
    plan = load_plan(write(tmp_path, text), catalog=CATALOG)
    result = simulate(plan, CATALOG, engine="reference")
    holders = result.controllers["holders"]
    assert isinstance(holders, HoldersSummary)
    assert [(r.name, r.kind, r.subnet, r.created_s) for r in holders.records] == [
        ("k8s-default-web", "nlb", "lb-a", 120.0),
        ("k8s-default-web", "nlb", "lb-b", 120.0),
    ]
    assert (used_at_end(result, "lb-a"), used_at_end(result, "lb-b")) == (1, 1)


def test_load_balancer_subnet_discovery_tags_then_topology_first_id_per_zone() -> None:
    tag = {"kubernetes.io/role/elb": "1"}
    vpc = Vpc(
        ("10.0.0.0/16",),
        (
            Subnet("z-priv-a", "us-east-1a", "10.0.0.0/24"),
            Subnet("b-priv-a", "us-east-1a", "10.0.1.0/24"),
            Subnet("priv-b", "us-east-1b", "10.0.2.0/24"),
            Subnet("pub-a", "us-east-1a", "10.0.3.0/24", public=True),
            Subnet("pub-b", "us-east-1b", "10.0.4.0/24", tags=tag, public=True),
        ),
    )
    assert vpc.load_balancer_subnets() == ("b-priv-a", "priv-b")  # untagged: private ones
    assert vpc.load_balancer_subnets("internet-facing") == ("pub-b",)  # the tagged one only


GOOD_LB = "loadBalancers: [{name: web, type: alb, subnets: [lb-a, lb-b]}]\n"


@pytest.mark.parametrize(
    ("section", "fragments"),
    [
        ("loadBalancers: [{name: w, type: clb}]", ["loadBalancers[0].type", "'clb' is not one"]),
        ("loadBalancers: [{name: w}]", ["loadBalancers[0]", "needs 'type'"]),
        (
            "loadBalancers: [{name: w, type: nlb, addressesPerSubnet: 4}]",
            ["it takes one address per subnet; drop addressesPerSubnet"],
        ),
        (
            "loadBalancers: [{name: w, type: alb, subnets: [lb-a]}]",
            ["ALB w has subnets in one zone: an ALB needs two zones or more"],
        ),
        (
            "loadBalancers: [{name: w, type: nlb, subnets: [lb-a, subnet-a]}]",
            ["two subnets in one zone"],
        ),
        ("loadBalancers: [{name: w, type: nlb, subnets: [lb-c]}]", ["names subnet lb-c"]),
        (
            "loadBalancers: [{name: w, type: alb, subnets: [lb-a, lb-b], start: 5m,"
            " scaling: [{at: 1m, addressesPerSubnet: 9}]}]",
            ["scaling", "before 300 s"],
        ),
        (
            "loadBalancers: [{name: w, type: alb, subnets: [lb-a, lb-b],"
            " scaling: [{at: 1m, addressesPerSubnet: 0}]}]",
            ["scaling to 0 addresses per subnet"],
        ),
        (
            "loadBalancers: [{name: w, type: alb, subnets: [lb-a, lb-b], scaling: [{at: 1m}]}]",
            ["scaling[0]", "needs 'addressesPerSubnet'"],
        ),
        (
            "loadBalancers: [{name: w, type: nlb, start: 5m, stop: 1m}]",
            ["loadBalancers[0].stop", "is not after start"],
        ),
        (GOOD_LB + "natGateways: [{name: web, subnets: [lb-a]}]", ["web twice"]),
        ("loadBalancers: [{name: w, type: nlb, start: later}]", ["start", "is not a duration"]),
        (
            "loadBalancers: [{name: w, type: alb, subnets: [lb-a, lb-b],"
            " addressesPerSubnet: 5000}]",
            ["addressesPerSubnet", "5000 is out of range: use 1 to 4,096"],
        ),
        ("loadBalancers: [{type: nlb}]", ["loadBalancers[0]", "needs 'name'"]),
        ("vpcEndpoints: [{name: s3, start: 2m, stop: 1m}]", ["vpcEndpoints[0].stop"]),
        (
            "vpcEndpoints: [{name: s3, subnets: [lb-a, subnet-a]}]",
            ["a vpc-endpoint takes one subnet per zone"],
        ),
        ("natGateways: [{name: nat, subnets: [lb-a], start: -1}]", ["natGateways[0].start"]),
        ("natGateways: [{name: nat}]", ["natGateways[0]", "needs 'subnets'"]),
        ("natGateways: [{name: nat, subnets: [lb-a, lb-a]}]", ["names a subnet twice"]),
        ("vpcEndpoints: [{name: s3, subnet: [lb-a]}]", ["did you mean subnets?"]),
        ("controlPlane: {enis: 9}", ["controlPlane.enis", "9 is out of range: use 1 to 4"]),
        ("controlPlane: {subnets: [nope]}", ["controlPlane.subnets", "names subnet nope"]),
        ("controlPlane: {upgradeAt: soon}", ["controlPlane.upgradeAt", "is not a duration"]),
        ("controlPlane: {upgradeOverlap: -1m}", ["controlPlane.upgradeOverlap"]),
    ],
)
def test_bad_holders_are_one_line_errors(
    tmp_path: Path, section: str, fragments: list[str]
) -> None:
    path = write(tmp_path, HEAD + section + "\n")
    result = runner.invoke(app, ["simulate", str(path), "--engine", "reference"])
    assert result.exit_code == 2, result.stderr
    assert_one_line_error(result.stderr, "plan.yaml:", *fragments)


@pytest.mark.parametrize(
    ("service", "fragments"),
    [
        ("{type: ClusterIP}", ["service.type", "'ClusterIP' is not one of LoadBalancer"]),
        ("{type: LoadBalancer, loadBalancerType: gwlb}", ["loadBalancerType", "'gwlb'"]),
        ("{type: LoadBalancer, scheme: public}", ["scheme", "'public'"]),
        ("{loadBalancerType: nlb}", ["service", "needs 'type'"]),
    ],
)
def test_bad_services_are_one_line_errors(
    tmp_path: Path, service: str, fragments: list[str]
) -> None:
    text = HEAD + f"workloads: [{{kind: Deployment, name: web, service: {service}}}]\n"
    result = runner.invoke(app, ["simulate", str(write(tmp_path, text)), "--engine", "reference"])
    assert result.exit_code == 2, result.stderr
    assert_one_line_error(result.stderr, "plan.yaml:", *fragments)
