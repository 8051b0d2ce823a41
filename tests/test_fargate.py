"""Fargate profiles: one address per pod in the profile's subnets, spread, released at the end;
Pending when the subnets are full; selectors; the plan's and eksctl's fargateProfiles."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from clihelp import assert_one_line_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnisim.catalog import load_catalog
from cnisim.cli import app
from cnisim.io import load_plan
from cnisim.plan import DaemonSet, Deployment, FargateProfile, FargateSelector, JobStream, Lifetime
from cnisim.report import format_summary, summarize
from cnisim.sim.fargate import FargateSummary, profile_of_workloads
from cnisim.sim.scenario import simulate
from cnisim.sim.scenario_result import SimulationResult

CATALOG = load_catalog()
runner = CliRunner()

# Nodes in subnet-a only; the Fargate profile's subnets f-a and f-b hold nothing else, so every
# address used there is a Fargate pod's.
PLAN = """\
    apiVersion: cnisim/v1
    kind: Plan
    vpc:
      cidrs: [10.0.0.0/16]
      subnets:
        - {id: subnet-a, az: us-east-1a, cidr: 10.0.0.0/24}
        - {id: f-a, az: us-east-1a, cidr: 10.0.1.0/24}
        - {id: f-b, az: us-east-1b, cidr: 10.0.2.0/24}
    nodeGroups:
      - {name: ng, instanceTypes: [c5.large], desiredCapacity: 1, subnets: [subnet-a]}
    coreDNS: false
    fargateProfiles:
      - name: batch
        selectors: [{namespace: batch}]
        subnets: [f-a, f-b]
    run: {duration: 10m}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def run(tmp_path: Path, text: str) -> SimulationResult:
    plan = load_plan(write(tmp_path, text), catalog=CATALOG)
    return simulate(plan, CATALOG, engine="reference")


def used_at_end(result: SimulationResult, subnet_id: str) -> int:
    row = next(r for r in summarize(result)["subnets"] if r["id"] == subnet_id)
    j = result.ipamd.subnet_ids.index(subnet_id)
    return int(row["n_usable_ips"] - result.ipamd.subnet_samples["n_free_ips"][-1, j])


def test_one_address_per_pod_spread_over_the_profiles_subnets(tmp_path: Path) -> None:
    """7 batch pods at 1 min: each takes one address in the profile subnet with the most free.
    By hand: f-a and f-b start with 251 free each; the tie goes to f-a (listed first), then f-b
    has more, and so on alternately: f-a 4, f-b 3. They start 40 s later (the default start
    delay) and never reach a node; the web pods do."""
    text = PLAN + textwrap.indent(
        textwrap.dedent("""\
        workloads:
          - {kind: Deployment, name: etl, namespace: batch, replicas: 7, start: 1m}
          - {kind: Deployment, name: web, replicas: 3, start: 1m}
        """),
        "    ",
    )
    result = run(tmp_path, text)
    fargate = result.controllers["fargate"]
    assert isinstance(fargate, FargateSummary)
    etl = result.pod_workload == result.workload_names.index("etl")
    assert sorted(fargate.pod.tolist()) == np.flatnonzero(etl).tolist()
    assert fargate.pod_subnet.tolist() == ["f-a", "f-b"] * 3 + ["f-a"]
    assert (used_at_end(result, "f-a"), used_at_end(result, "f-b")) == (4, 3)
    assert (fargate.pod_address_s == 60.0).all() and (fargate.pod_started_s == 100.0).all()
    assert (result.pod_bound_s[etl] == 100.0).all() and (result.pod_node[etl] == -1).all()
    web = result.pod_workload == result.workload_names.index("web")
    assert (result.pod_node[web] == 0).all()
    summary = summarize(result)
    rows = {(h["subnet"], h["kind"]): h for h in summary["holders"]}
    assert rows["f-a", "fargate"]["n_ips_max"] == 4 and rows["f-b", "fargate"]["n_ips_at_end"] == 3
    assert summary["fargate"] == [
        {
            "name": "batch",
            "n_pods": 7,
            "n_started": 7,
            "n_pending_at_end": 0,
            "n_failed_attempts": 0,
            "first_failure_at_s": None,
        }
    ]
    # 7 on Fargate; 3 web, aws-node and kube-proxy on the node
    assert summary["pods"]["n_started"] == 12


def test_a_jobs_address_returns_when_the_pod_ends(tmp_path: Path) -> None:
    """Jobs of 60 s on Fargate: each holds its address from its creation to 40 s + 60 s later;
    arrivals stop at 5 min, so by 10 min every address is back."""
    text = PLAN + textwrap.indent(
        textwrap.dedent("""\
        workloads:
          - kind: JobStream
            name: etl
            namespace: batch
            arrivalsPerMinute: 6
            lifetime: {distribution: fixed, mean: 60s}
            stop: 5m
        """),
        "    ",
    )
    result = run(tmp_path, text)
    fargate = result.controllers["fargate"]
    assert isinstance(fargate, FargateSummary)
    assert fargate.pod.size > 10  # about 30 arrive
    held_s = fargate.pod_released_s - fargate.pod_address_s
    # the release comes at the first tick at or after the end (1 s ticks)
    assert ((held_s >= 100.0) & (held_s < 101.0)).all()
    assert used_at_end(result, "f-a") == used_at_end(result, "f-b") == 0
    peak = max(r["n_peak_used_ips"] for r in summarize(result)["subnets"] if r["id"] != "subnet-a")
    assert peak > 0  # the World's samples saw them


def test_full_profile_subnets_leave_pods_pending_and_say_why(tmp_path: Path) -> None:
    """A /28 has 16 - 5 = 11 usable addresses: of 13 pods, 11 start and 2 stay Pending."""
    text = PLAN.replace("cidr: 10.0.1.0/24", "cidr: 10.0.1.0/28").replace(
        "subnets: [f-a, f-b]", "subnets: [f-a]"
    ) + textwrap.indent(
        "workloads:\n  - {kind: Deployment, name: etl, namespace: batch, replicas: 13}\n", "    "
    )
    result = run(tmp_path, text)
    summary = summarize(result)
    (profile,) = summary["fargate"]
    assert (profile["n_pods"], profile["n_started"], profile["n_pending_at_end"]) == (13, 11, 2)
    assert profile["first_failure_at_s"] == 0.0 and profile["n_failed_attempts"] > 2  # retried
    reason = "Fargate profile batch: no free address in f-a (InsufficientFreeAddressesInSubnet)"
    assert summary["pods"]["pending_at_end_by_reason"] == {reason: 2}
    f_a = next(r for r in summary["subnets"] if r["id"] == "f-a")
    assert f_a["n_peak_used_ips"] == 11 and f_a["exhausted_at_s"] == 0.0
    text_out = format_summary(summary)
    assert "Fargate profile batch: pods found no free address" in text_out
    assert "2 still Pending at the end" in text_out


def test_selectors_namespaces_labels_wildcards_and_the_profile_label() -> None:
    first = FargateProfile("first", (FargateSelector("team-*", {"tier": "b?tch"}),), ("f-a",))
    second = FargateProfile("second", (FargateSelector("team-a"),), ("f-a",))
    coredns = Deployment("coredns", 2, namespace="kube-system")
    workloads = (
        Deployment("a", 1, namespace="team-a", labels={"tier": "batch"}),  # both: the first
        Deployment(
            "b",
            1,
            namespace="team-a",
            labels={"tier": "batch", "eks.amazonaws.com/fargate-profile": "second"},
        ),
        Deployment("c", 1, namespace="team-a", labels={"tier": "web"}),  # the second only
        JobStream("d", 1.0, Lifetime("fixed", 1.0), namespace="team-b"),  # no label: none
        DaemonSet("e", namespace="team-a"),  # Fargate runs no DaemonSets
        coredns,  # annotated for EC2
    )
    everything = FargateProfile("all", (FargateSelector("*"),), ("f-a",))
    assert profile_of_workloads((first, second), workloads, coredns).tolist() == [
        0, 1, 1, -1, -1, -1,
    ]  # fmt: skip
    assert profile_of_workloads((everything,), workloads, coredns).tolist() == [
        0, 0, 0, 0, -1, -1,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("profile", "fragments"),
    [
        ("{name: p, subnets: [f-a]}", ["fargateProfiles[0]", "needs 'selectors'"]),
        ("{selectors: [{namespace: a}]}", ["fargateProfiles[0]", "needs 'name'"]),
        ("{name: p, selectors: [{namespace: a, labels: [x]}]}", ["labels", "mapping"]),
        ("{name: p, selectors: []}", ["has 0 selectors: give 1 to 5"]),
        (
            "{name: p, selectors: [" + ", ".join(["{namespace: a}"] * 6) + "]}",
            ["has 6 selectors: give 1 to 5"],
        ),
        ("{name: p, selectors: [{labels: {a: b}}]}", ["selectors[0]", "needs 'namespace'"]),
        ("{name: p, selectors: [{namespace: a}], subnets: [f-c]}", ["names subnet f-c"]),
        (
            "{name: p, selectors: [{namespace: a}], subnets: [pub]}",
            ["public subnet pub: Fargate takes private subnets only"],
        ),
        (
            "{name: p, selectors: [{namespace: a}], startDelay: -5s}",
            ["startDelay", "is not a duration"],
        ),
        ("{name: p, selectors: [{namespace: a}], subnet: [f-a]}", ["did you mean subnets?"]),
        (
            "{name: p, selectors: [{namespace: a, labels: {a: '1', b: '2', c: '3', d: '4',"
            " e: '5', f: '6'}}]}",
            ["6 labels: a Fargate selector takes at most 5"],
        ),
    ],
)
def test_bad_fargate_profiles_are_one_line_errors(
    tmp_path: Path, profile: str, fragments: list[str]
) -> None:
    text = textwrap.dedent(PLAN).replace(
        "    - {id: f-b,",
        "    - {id: pub, az: us-east-1b, cidr: 10.0.3.0/24, public: true}\n    - {id: f-b,",
    )
    text = text.split("fargateProfiles:")[0] + f"fargateProfiles:\n  - {profile}\n"
    result = runner.invoke(app, ["simulate", str(write(tmp_path, text)), "--engine", "reference"])
    assert result.exit_code == 2, result.stderr
    assert_one_line_error(result.stderr, "plan.yaml:", *fragments)


def test_two_profiles_of_one_name_are_refused(tmp_path: Path) -> None:
    text = textwrap.dedent(PLAN).replace(
        "run:", "  - {name: batch, selectors: [{namespace: x}]}\nrun:"
    )
    result = runner.invoke(app, ["simulate", str(write(tmp_path, text))])
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "Fargate profile batch twice")


EKSCTL = """\
    apiVersion: eksctl.io/v1alpha5
    kind: ClusterConfig
    metadata: {name: c, region: us-west-2}
    managedNodeGroups: [{name: ng, privateNetworking: true}]
    fargateProfiles:
      - name: fp-default
        selectors:
          - namespace: default
            labels: {app: web}
          - namespace: kube-system
      - name: fp-batch
        podExecutionRoleARN: arn:aws:iam::123456789012:role/fargate
        selectors: [{namespace: batch}]
        subnets: [us-west-2b]
"""


def test_eksctl_fargate_profiles_take_the_private_subnets_by_default(tmp_path: Path) -> None:
    """eksctl cuts 192.168.0.0/16 into public subnets, then private ones (sec. 7); a profile
    without subnets gets the private ones, and a zone alias names one."""
    plan = load_plan(write(tmp_path, EKSCTL))
    default, batch = plan.fargate_profiles
    assert default.name == "fp-default"
    assert default.subnets == ("private-us-west-2a", "private-us-west-2b", "private-us-west-2c")
    assert default.selectors == (
        FargateSelector("default", {"app": "web"}),
        FargateSelector("kube-system"),
    )
    assert batch.subnets == ("private-us-west-2b",) and batch.start_delay_s == 40.0


@pytest.mark.parametrize(
    ("old", "new", "fragments"),
    [
        ("subnets: [us-west-2b]", "subnets: [nowhere]", ["subnets[0]", "no subnet 'nowhere'"]),
        ("- namespace: kube-system", "- labels: {a: b}", ["selectors[1]", "needs 'namespace'"]),
        ("podExecutionRoleARN:", "podExecutionRole:", ["podExecutionRole"]),
    ],
)
def test_bad_eksctl_fargate_profiles_are_one_line_errors(
    tmp_path: Path, old: str, new: str, fragments: list[str]
) -> None:
    text = textwrap.dedent(EKSCTL).replace(old, new)
    result = runner.invoke(app, ["simulate", str(write(tmp_path, text)), "--engine", "reference"])
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, *fragments)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prefix_a=st.integers(26, 28),
    prefix_b=st.integers(26, 28),
    n_pods=st.integers(0, 90),
    n_alb=st.integers(1, 12),
    seed=st.integers(0, 3),
)
def test_what_the_holders_hold_is_what_their_subnets_lose(
    tmp_path: Path, prefix_a: int, prefix_b: int, n_pods: int, n_alb: int, seed: int
) -> None:
    """In subnets no node uses, the addresses in use at the end are exactly those Fargate pods
    and the ALB hold; never more than the subnet has; each pod holds one address or none,
    and every pod either started or is still Pending."""
    text = textwrap.dedent(PLAN)
    text = text.replace("10.0.1.0/24", f"10.0.1.0/{prefix_a}").replace(
        "10.0.2.0/24", f"10.0.2.0/{prefix_b}"
    )
    text = text.replace("run: {duration: 10m}", f"run: {{duration: 5m, seed: {seed}}}")
    text += (
        f"workloads: [{{kind: Deployment, name: etl, namespace: batch, replicas: {n_pods}}}]\n"
        "loadBalancers: [{name: web, type: alb, subnets: [f-a, f-b], start: 1m,"
        f" addressesPerSubnet: {n_alb}}}]\n"
    )
    result = simulate(
        load_plan(write(tmp_path, text), catalog=CATALOG), CATALOG, engine="reference"
    )
    summary = summarize(result)
    for subnet_id in ("f-a", "f-b"):
        held = sum(h["n_ips_at_end"] for h in summary["holders"] if h["subnet"] == subnet_id)
        assert used_at_end(result, subnet_id) == held
        row = next(r for r in summary["subnets"] if r["id"] == subnet_id)
        assert row["n_min_free_ips"] >= 0 and row["n_peak_used_ips"] <= row["n_usable_ips"]
    (profile,) = summary["fargate"]
    fargate = result.controllers["fargate"]
    assert isinstance(fargate, FargateSummary)
    assert len(set(fargate.pod.tolist())) == fargate.pod.size == n_pods
    n_with_address = int(np.count_nonzero(fargate.pod_subnet != ""))
    fargate_held = sum(h["n_ips_at_end"] for h in summary["holders"] if h["kind"] == "fargate")
    assert n_with_address == fargate_held
    assert profile["n_started"] + profile["n_pending_at_end"] == n_pods
