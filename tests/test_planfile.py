"""The native plan file: every field read, defaults from the field map, and every class of bad
input reported as ``<file>:<line>: <field>: <what>`` (one line, a PlanError, exit status 2)."""

from __future__ import annotations

import dataclasses
import math
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnisim.catalog import load_catalog
from cnisim.errors import PlanError, UsageError
from cnisim.io import apply_overrides, load_plan, load_workloads, parse_assignments
from cnisim.io._yaml import Where
from cnisim.io.planfile import SECTIONS
from cnisim.io.reference import render_reference
from cnisim.plan import (
    COREDNS,
    Autoscaler,
    BootTime,
    DaemonSet,
    Deployment,
    JobStream,
    Lifetime,
    NodeGroup,
    Plan,
    Resources,
    Run,
    Scheduler,
)

DATA = Path(__file__).parent / "data" / "plans"
ROOT = Path(__file__).parent.parent

HEAD = """\
apiVersion: cnisim/v1
kind: Plan
vpc:
  cidrs: [10.0.0.0/16]
  subnets:
    - {id: subnet-a, az: us-east-1a, cidr: 10.0.0.0/20}
    - {id: subnet-b, az: us-east-1b, cidr: 10.0.16.0/20}
"""
GROUP = """\
nodeGroups:
  - name: general
    instanceTypes: [m5.large]
    desiredCapacity: 3
"""


def write(tmp_path: Path, text: str, name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(PlanError) as info:
        load_plan(write(tmp_path, text), catalog=load_catalog())
    message = str(info.value)
    assert "\n" not in message
    assert info.value.exit_code == 2
    return message


def test_the_sketch_of_issue_8_is_read_field_by_field() -> None:
    plan = load_plan(DATA / "sketch.yaml", catalog=load_catalog())
    assert plan.vpc.cidrs == ("10.0.0.0/16", "100.64.0.0/16")
    a, b, pods = plan.vpc.subnets
    assert (a.id, a.az, a.cidr, dict(a.tags)) == (
        "subnet-a",
        "us-east-1a",
        "10.0.0.0/20",
        {"kubernetes.io/role/cni": "1"},
    )
    assert [(r.cidr, r.type) for r in b.reservations] == [("10.0.24.0/22", "prefix")]
    assert pods.id == "pods-a"
    assert dict(plan.aws_node.env) == {"WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "10"}
    assert dict(plan.aws_node.eni_configs) == {"us-east-1a": "pods-a"}
    (group,) = plan.node_groups
    assert group == NodeGroup(
        name="general",
        instance_types=("m5.large", "m5a.large"),
        min_size=3,
        desired_capacity=6,
        max_size=20,
        subnets=("subnet-a", "subnet-b"),
        managed=True,
        aws_node_env={"WARM_ENI_TARGET": "1"},
    )
    assert plan.aws_node_env(group) == {
        "WARM_IP_TARGET": "5",
        "MINIMUM_IP_TARGET": "10",
        "WARM_ENI_TARGET": "1",
    }
    assert plan.scheduler == Scheduler("LeastAllocated")
    web, batch, exporter = plan.workloads
    assert web == Deployment("web", 225, Resources(100.0, 128.0), start_s=600.0)
    assert batch == JobStream(
        "batch", 0.5, Lifetime("lognormal", 300.0, 1200.0), Resources(250.0, 256.0)
    )
    assert exporter == DaemonSet("node-exporter", Resources(10.0, 32.0), host_network=True)
    assert plan.run == Run(duration_s=86_400.0, tick_s=1.0, seed=0)
    assert plan.coredns == COREDNS
    assert plan.all_workloads == (COREDNS, web, batch, exporter)
    assert plan.source.endswith("sketch.yaml") and len(plan.sha256) == 64


def test_defaults_of_a_minimal_plan(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, HEAD + "nodeGroups: [{name: ng}]\n"))
    (group,) = plan.node_groups
    # eksctl: m5.large, 2 nodes; all private subnets; AmazonLinux2023.
    assert group.instance_types == ("m5.large",)
    assert (group.min_size, group.desired_capacity, group.max_size) == (2, 2, 2)
    assert group.subnets == ("subnet-a", "subnet-b")
    assert group.ami_family == "AmazonLinux2023" and group.managed
    assert group.boot == BootTime(60.0, 150.0)
    assert plan.coredns == Deployment("coredns", 2, Resources(100.0, 70.0), namespace="kube-system")
    assert plan.run == Run() and plan.scheduler == Scheduler() and plan.workloads == ()


def test_every_default_in_the_field_map_is_the_one_applied() -> None:
    """The reference page's defaults, parsed as the file would write them, are the dataclasses'."""
    classes = {
        "nodeGroups[].bootTime": BootTime,
        "scheduler": Scheduler,
        "autoscaler": Autoscaler,
        "run": Run,
        "requests": Resources,
        "workloads[] (kind: Deployment)": Deployment,
        "workloads[] (kind: DaemonSet)": DaemonSet,
        "nodeGroups[]": NodeGroup,
        "": Plan,
    }
    where = Where("test", "", 1)
    checked = 0
    for path, cls in classes.items():
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        for field in SECTIONS[path].fields:
            if field.attr is None or field.convert is None or field.attr not in defaults:
                continue
            default = defaults[field.attr]
            if default in (dataclasses.MISSING, None) or field.default in ("required", "{}"):
                continue
            if (path, field.key) == ("", "region"):  # derived from the zones, tested below
                continue
            written = yaml.safe_load(field.default)
            assert field.convert(written, where) == default, (path, field.key)
            checked += 1
    assert checked >= 24


def test_region_comes_from_the_zones_unless_given(tmp_path: Path) -> None:
    west = HEAD.replace("us-east-1", "us-west-2") + GROUP
    assert load_plan(write(tmp_path, west)).region == "us-west-2"
    message = error_of(tmp_path, "region: eu-west-1\n" + west)
    assert ":7: vpc.subnets[0].az: zone us-west-2a of subnet subnet-a is not in region" in message
    assert "set the region to us-west-2 or fix the zone" in message


def test_ipv6_needs_the_aws_node_settings_of_an_ipv6_cluster(tmp_path: Path) -> None:
    message = error_of(tmp_path, HEAD + GROUP + "ipFamily: IPv6\n")
    assert ":12: ipFamily: node group general: ipFamily IPv6 with ENABLE_IPv6=false" in message
    ipv6_env = "{ENABLE_IPv6: 'true', ENABLE_IPv4: 'false', ENABLE_PREFIX_DELEGATION: 'true'}"
    plan = load_plan(
        write(tmp_path, HEAD + GROUP + f"ipFamily: IPv6\nawsNode: {{env: {ipv6_env}}}\n")
    )
    assert plan.ip_family == "IPv6"
    message = error_of(tmp_path, HEAD + GROUP + f"awsNode: {{env: {ipv6_env}}}\n")
    assert "ipFamily IPv4 with ENABLE_IPv6=true: set ipFamily: IPv6" in message


def test_coredns_can_be_resized_or_removed(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, HEAD + GROUP + "coreDNS: {replicas: 3}\n"))
    assert plan.coredns is not None and plan.coredns.replicas == 3
    assert plan.coredns.requests == COREDNS.requests
    assert load_plan(write(tmp_path, HEAD + GROUP + "coreDNS: false\n")).coredns is None
    assert load_plan(write(tmp_path, HEAD + GROUP + "coreDNS: {replicas: 0}\n")).coredns is None


def test_availability_zones_pick_the_private_subnets_of_those_zones(tmp_path: Path) -> None:
    text = HEAD + "    - {id: pub-a, az: us-east-1a, cidr: 10.0.32.0/24, public: true}\n"
    text += "nodeGroups: [{name: ng, availabilityZones: [us-east-1a]}]\n"
    assert load_plan(write(tmp_path, text)).node_groups[0].subnets == ("subnet-a",)


def test_eniconfig_pod_subnets_are_never_node_subnets(tmp_path: Path) -> None:
    text = HEAD.replace("[10.0.0.0/16]", "[10.0.0.0/16, 100.64.0.0/16]")
    text += "    - {id: pods-a, az: us-east-1a, cidr: 100.64.0.0/18}\n"
    text += "    - {id: pods-b, az: us-east-1b, cidr: 100.64.64.0/18}\n"
    text += "awsNode:\n  env: {AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: 'true'}\n"
    text += "  eniConfigs: {us-east-1a: pods-a, us-east-1b: pods-b}\n"
    plan = load_plan(write(tmp_path, text + "nodeGroups: [{name: ng}]\n"))
    assert plan.node_groups[0].subnets == ("subnet-a", "subnet-b")
    assert plan.ipamd_config(plan.node_groups[0]).custom_network_cfg


def test_ipamd_coercions_become_notes(tmp_path: Path) -> None:
    text = HEAD + GROUP + "awsNode: {env: {WARM_IP_TARGET: '-1', WARM_ENI_TARGET: 2}}\n"
    plan = load_plan(write(tmp_path, text))
    assert plan.aws_node.env["WARM_ENI_TARGET"] == "2"  # a bare YAML number, as a string
    assert plan.notes == ("node group general: WARM_IP_TARGET='-1' is below 0: ipamd uses 0",)


def test_workload_file_adds_to_the_plans_workloads(tmp_path: Path) -> None:
    plan_path = write(
        tmp_path, HEAD + GROUP + "workloads: [{kind: Deployment, name: a, replicas: 1}]\n"
    )
    extra = write(
        tmp_path,
        """\
        workloads:
          - kind: JobStream
            name: jobs
            arrivalsPerMinute: 6
            lifetime: {mean: 10m}
            stop: 1h
        """,
        "more.yaml",
    )
    plan = load_plan(plan_path, workload_files=[extra])
    assert [w.name for w in plan.workloads] == ["a", "jobs"]
    jobs = plan.workloads[1]
    assert isinstance(jobs, JobStream)
    assert math.isclose(jobs.arrivals_per_s, 0.1) and jobs.stop_s == 3600.0
    assert jobs.lifetime == Lifetime("exponential", 600.0)
    assert load_workloads(extra) == (jobs,)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # unknown fields, with the closest known name
        (
            HEAD + "nodeGroups:\n  - name: g\n    desiredCapcity: 3\n",
            [":10: nodeGroups[0].desiredCapcity: unknown field", "did you mean desiredCapacity?"],
        ),
        (
            HEAD + GROUP + "runn: {duration: 1h}\n",
            [":12: runn: unknown field in a plan: did you mean run?"],
        ),
        (
            HEAD + GROUP + "run: {duration: 1h, tik: 1s}\n",
            [":12: run.tik: unknown field in run: did you mean tick?"],
        ),
        # overlapping CIDRs, a subnet outside every VPC CIDR
        (
            HEAD + "    - {id: c, az: us-east-1c, cidr: 10.0.8.0/24}\n" + GROUP,
            [":8: vpc.subnets[2].cidr: subnet c (10.0.8.0/24) overlaps subnet subnet-a"],
        ),
        (
            HEAD + "    - {id: c, az: us-east-1c, cidr: 10.1.0.0/24}\n" + GROUP,
            [
                ":8: vpc.subnets[2].cidr: subnet c (10.1.0.0/24) is outside every VPC CIDR",
                "(10.0.0.0/16)",
            ],
        ),
        (
            HEAD.replace("[10.0.0.0/16]", "[10.0.0.0/16, 10.0.128.0/17]") + GROUP,
            [":4: vpc.cidrs: VPC CIDR 10.0.128.0/17 overlaps VPC CIDR 10.0.0.0/16"],
        ),
        (
            HEAD.replace("10.0.0.0/20}", "10.0.0.1/20}") + GROUP,
            [":6: vpc.subnets[0].cidr: '10.0.0.1/20' is not an IPv4 CIDR", "has host bits set"],
        ),
        (
            HEAD.replace("10.0.0.0/20}", "10.0.0.0/29}") + GROUP,
            [":6: vpc.subnets[0].cidr: subnet subnet-a is a /29: EC2 subnets are /16 to /28"],
        ),
        (
            HEAD.replace(
                "10.0.16.0/20}", "10.0.16.0/20, reservations: [{cidr: 10.0.64.0/28, type: prefix}]}"
            )
            + GROUP,
            [
                ":7: vpc.subnets[1].reservations[0].cidr: reservation 10.0.64.0/28 is outside",
                "subnet subnet-b",
            ],
        ),
        (
            HEAD.replace(
                "10.0.16.0/20}",
                "10.0.16.0/20, reservations: [{cidr: 10.0.16.0/28, type: prefixes}]}",
            )
            + GROUP,
            ["vpc.subnets[1].reservations[0].type: 'prefixes' is not one of prefix, explicit"],
        ),
        # a node group in a zone without a subnet, a subnet the VPC does not have
        (
            HEAD + "nodeGroups: [{name: g, availabilityZones: [us-east-1c]}]\n",
            [":8: nodeGroups[0].availabilityZones: zone us-east-1c has no node subnet in the VPC"],
        ),
        (
            HEAD + "nodeGroups: [{name: g, subnets: [subnet-c]}]\n",
            [
                ":8: nodeGroups[0].subnets: node group g names subnet subnet-c,",
                "which the VPC does not have (did you mean subnet-",
            ],
        ),
        # unknown instance types
        (
            HEAD + "nodeGroups: [{name: g, instanceTypes: [m5.lrge]}]\n",
            [
                ":8: nodeGroups[0].instanceTypes: node group g: unknown instance type 'm5.lrge'",
                "did you mean m5.large",
            ],
        ),
        # min > max, desired out of range
        (
            HEAD + "nodeGroups: [{name: g, minSize: 5, maxSize: 3}]\n",
            [":8: nodeGroups[0].minSize: minSize 5 is above maxSize 3"],
        ),
        (
            HEAD
            + "nodeGroups:\n  - name: g\n    minSize: 1\n    desiredCapacity: 9\n    maxSize: 4\n",
            [
                ":11: nodeGroups[0].desiredCapacity:",
                "desiredCapacity 9 is outside minSize 1 to maxSize 4",
            ],
        ),
        # impossible numbers: negative, NaN, huge, not whole
        (
            HEAD + "nodeGroups: [{name: g, desiredCapacity: -1, minSize: -1}]\n",
            ["nodeGroups[0].minSize: -1 is out of range: use 0 to 100,000"],
        ),
        (
            HEAD + "nodeGroups: [{name: g, maxSize: 1000000000}]\n",
            ["nodeGroups[0].maxSize: 1000000000 is out of range"],
        ),
        (
            HEAD + "nodeGroups: [{name: g, desiredCapacity: 2.5}]\n",
            [":8: nodeGroups[0].desiredCapacity: is 2.5: write a whole number"],
        ),
        (
            HEAD
            + GROUP
            + "workloads:\n- kind: JobStream\n  name: j\n  arrivalsPerMinute: .nan\n"
            + "  lifetime: {mean: 1m}\n",
            [":15: workloads[0].arrivalsPerMinute: is nan: write a finite number"],
        ),
        (
            HEAD + GROUP + "workloads: [{kind: Deployment, name: d, replicas: -3}]\n",
            ["workloads[0].replicas: -3 is out of range"],
        ),
        (
            HEAD + GROUP + "workloads: [{kind: Deployment, name: d, requests: {cpu: -1}}]\n",
            ["workloads[0].requests.cpu: CPU '-1' is not a Kubernetes quantity"],
        ),
        # bad durations and quantities
        (
            HEAD + GROUP + "run: {duration: 90}\n",
            [":12: run.duration: duration '90' is not a duration", "90s, 10m, 2h"],
        ),
        (
            HEAD + GROUP + "run: {duration: 2 days}\n",
            ["run.duration: duration '2 days' is not a duration"],
        ),
        (
            HEAD + GROUP + "run: {duration: 9000h}\n",
            ["run.duration: duration 3.24e+07 s is longer than a year"],
        ),
        (HEAD + GROUP + "run: {duration: 0s}\n", ["run.duration: 0 s is not positive"]),
        (
            HEAD + GROUP + "workloads: [{kind: Deployment, name: d, requests: {memory: 128MB}}]\n",
            ["workloads[0].requests.memory: memory '128MB' has unit 'MB'"],
        ),
        (
            HEAD + "nodeGroups: [{name: g, bootTime: {median: 2m, p95: 1m}}]\n",
            ["nodeGroups[0].bootTime.p95: p95 60 s is below the median 120 s"],
        ),
        (
            HEAD
            + GROUP
            + "workloads:\n- kind: JobStream\n  name: j\n  arrivalsPerMinute: 1\n"
            + "  lifetime: {distribution: lognormal, mean: 1m}\n",
            ["workloads[0].lifetime: a lognormal lifetime needs p95"],
        ),
        (
            HEAD + "nodeGroups:\n  - name: g\n    updateConfig:\n      maxUnavailable: 0\n",
            [":11: nodeGroups[0].updateConfig.maxUnavailable: 0 is out of range"],
        ),
        # wrong kinds and types
        (
            HEAD + GROUP + "workloads: [{kind: StatefulSet, name: s}]\n",
            [":12: workloads[0].kind: 'StatefulSet' is not a workload kind cnisim simulates"],
        ),
        (
            HEAD + GROUP + "scheduler: {scoring: Balanced}\n",
            ["scheduler.scoring: 'Balanced' is not one of LeastAllocated, MostAllocated"],
        ),
        (HEAD + "nodeGroups: {name: g}\n", [":8: nodeGroups: is a mapping: write a list"]),
        (HEAD + "nodeGroups: []\n", ["nodeGroups: is empty: a plan needs at least one node group"]),
        (HEAD + "nodeGroups: [{name: g}, {name: g}]\n", ["nodeGroups[1].name: node group g twice"]),
        # aws-node: unknown names and combinations ipamd refuses
        (
            HEAD + GROUP + "awsNode: {env: {WARM_IP_TARGT: '5'}}\n",
            [
                ":12: awsNode.env: unknown aws-node variable 'WARM_IP_TARGT':",
                "did you mean WARM_IP_TARGET?",
            ],
        ),
        (
            HEAD + GROUP + "    awsNode: {env: {ENABLE_IPv6: 'true', ENABLE_IPv4: 'false'}}\n",
            [
                "nodeGroups[0].awsNode: ENABLE_IPv6=true needs prefix delegation",
                "(node group general)",
            ],
        ),
        (
            HEAD + GROUP + "awsNode: {env: {AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: 'true'}}\n",
            [
                "nodeGroups[0]: custom networking is on for node group general",
                "but zone us-east-1a has no ENIConfig subnet",
            ],
        ),
        (
            HEAD + GROUP + "awsNode: {eniConfigs: {us-east-1a: subnet-b}}\n",
            [
                "awsNode.eniConfigs: ENIConfig of us-east-1a names subnet subnet-b,",
                "which is in us-east-1b",
            ],
        ),
        # YAML itself
        (HEAD + GROUP + "run: {duration: 1h\n", ["plan.yaml:13: not valid YAML"]),
        (
            HEAD + GROUP + "run: {seed: 1}\nrun: {seed: 2}\n",
            [":13: run: the key appears twice (first on line 12)"],
        ),
    ],
    ids=lambda value: value[0][:40] if isinstance(value, list) else None,
)
def test_bad_input_names_file_line_and_field(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    message = error_of(tmp_path, text)
    assert message.startswith(str(tmp_path / "plan.yaml") + ":")
    for fragment in expected:
        assert fragment in message


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            "apiVersion: cnisim/v2\nkind: Plan\n",
            "plan version cnisim/v2 is not supported: this cnisim reads cnisim/v1",
        ),
        (
            "apiVersion: v1\nkind: Plan\n",
            "apiVersion 'v1' is not supported: cnisim reads cnisim/v1 Plan (or an eksctl.io",
        ),
        (
            "apiVersion: cnisim/v1\nkind: Cluster\n",
            "kind 'Cluster' is not supported: cnisim reads cnisim/v1 Plan",
        ),
        ("kind: Plan\n", "needs apiVersion and kind"),
        (
            "apiVersion: eksctl.io/v1alpha5\nkind: NodeGroup\n",
            "'eksctl.io/v1alpha5' 'NodeGroup' is not supported: cnisim reads eksctl.io/v1alpha5",
        ),
    ],
)
def test_wrong_api_version_or_kind_says_what_is_supported(
    tmp_path: Path, head: str, expected: str
) -> None:
    assert expected in error_of(tmp_path, head + HEAD.split("\n", 2)[2] + GROUP)


def test_a_file_that_is_not_there_or_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"nope.yaml: no such file: check the path"):
        load_plan(tmp_path / "nope.yaml")
    assert "plan.yaml:1: is a list: write a mapping" in error_of(tmp_path, "[1, 2]\n")
    assert "holds 2 YAML documents" in error_of(tmp_path, "a: 1\n---\nb: 2\n")
    assert "plan.yaml: is empty: write a plan" in error_of(tmp_path, "# nothing\n")


def test_plan_error_is_a_usage_error() -> None:
    assert issubclass(PlanError, UsageError)


def test_overrides(tmp_path: Path) -> None:
    text = (
        HEAD
        + GROUP
        + "    minSize: 1\n    maxSize: 5\n    awsNode: {env: {WARM_ENI_TARGET: '2'}}\n"
    )
    plan = load_plan(write(tmp_path, text))
    changed = apply_overrides(
        plan,
        env=parse_assignments(
            ["WARM_ENI_TARGET=x", "WARM_IP_TARGET=5"], option="--set", example="WARM_IP_TARGET=5"
        ),
        desired=parse_assignments(["general=2"], option="--desired", example="general=6"),
        duration_s=600.0,
        seed=7,
    )
    (group,) = changed.node_groups
    # --set wins over the group's own setting, for every group
    assert changed.aws_node_env(group) == {"WARM_ENI_TARGET": "x", "WARM_IP_TARGET": "5"}
    assert group.desired_capacity == 2
    assert (changed.run.duration_s, changed.run.seed) == (600.0, 7)
    assert changed.notes == (
        "node group general: WARM_ENI_TARGET='x' is not an integer to Go's strconv.Atoi (digits "
        "only, no spaces): ipamd uses 1",
    )
    assert apply_overrides(changed, env={"WARM_ENI_TARGET": "1"}).notes == ()


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"desired": {"genral": 3}},
            "--desired genral=3: no node group 'genral'; did you mean general?",
        ),
        (
            {"desired": {"general": 9}},
            "--desired general=9: desiredCapacity 9 is outside minSize 3 to maxSize 3",
        ),
        ({"desired": {"general": "many"}}, "--desired general=many: 'many' is not a whole number"),
        (
            {"env": {"ENABLE_IPv6": "true"}},
            "--set ENABLE_IPv6=true: ENABLE_IPv4 and ENABLE_IPv6 are both true",
        ),
        ({"duration_s": -5.0}, "--duration -5s: -5 s is not positive"),
        ({"seed": -1}, "--seed -1: -1 is out of range"),
    ],
)
def test_bad_overrides_name_the_option(
    tmp_path: Path, kwargs: dict[str, object], expected: str
) -> None:
    plan = load_plan(write(tmp_path, HEAD + GROUP))
    with pytest.raises(PlanError) as info:
        apply_overrides(plan, **kwargs)  # type: ignore[arg-type]
    assert expected in str(info.value)


def test_parse_assignments_refuses_a_missing_equals_sign() -> None:
    with pytest.raises(UsageError, match=r"--set 'WARM_IP_TARGET' is not NAME=VALUE: write"):
        parse_assignments(["WARM_IP_TARGET"], option="--set", example="WARM_IP_TARGET=5")


def test_bad_workload_file(tmp_path: Path) -> None:
    path = write(tmp_path, "workload:\n  - {kind: Deployment, name: a}\n", "w.yaml")
    with pytest.raises(PlanError, match=r"w.yaml:1: workload: unknown field in a workload file"):
        load_workloads(path)
    path = write(tmp_path, "apiVersion: cnisim/v1\nkind: Plans\nworkloads: []\n", "w.yaml")
    with pytest.raises(PlanError, match=r"w.yaml:2: kind: kind 'Plans' is not supported"):
        load_workloads(path)


def test_the_committed_reference_page_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "plan-reference.md").read_text(encoding="utf-8")
    assert committed == render_reference(), "run `python -m cnisim.io.reference` and commit"


def test_the_reference_page_lists_every_key_with_a_default() -> None:
    page = render_reference()
    for section in SECTIONS.values():
        for field in section.fields:
            assert f"| `{field.key}` | {field.type} | {field.default} |" in page


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "examples").glob("*.yaml")))
def test_every_example_loads_without_notes_to_fix(name: str) -> None:
    plan = load_plan(ROOT / "examples" / name, catalog=load_catalog())
    assert plan.node_groups and not plan.ipamd_warnings()


_ANY_YAML = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(["10.0.0.0/16", "90s", "100m", "-1", "m5.large", "subnet-a", "true"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
_PATHS = [
    ("vpc", "cidrs"),
    ("vpc", "subnets", 0, "cidr"),
    ("vpc", "subnets", 1, "reservations"),
    ("vpc", "subnets", 0, "tags"),
    ("awsNode", "env"),
    ("awsNode", "eniConfigs"),
    ("nodeGroups", 0, "minSize"),
    ("nodeGroups", 0, "instanceTypes"),
    ("nodeGroups", 0, "subnets"),
    ("nodeGroups", 0, "awsNode"),
    ("workloads", 0, "requests"),
    ("workloads", 1, "lifetime"),
    ("workloads", 0, "kind"),
    ("scheduler",),
    ("run", "duration"),
    ("run",),
    ("coreDNS",),
    ("nodeGroups",),
    ("autoscaler",),
]


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(_PATHS), value=_ANY_YAML)
def test_any_value_anywhere_is_a_plan_or_a_plan_error(
    tmp_path: Path, path: tuple[str | int, ...], value: object
) -> None:
    document = yaml.safe_load((DATA / "sketch.yaml").read_text())
    node = document
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    file = tmp_path / "fuzz.yaml"
    file.write_text(yaml.safe_dump(document))
    try:
        plan = load_plan(file, catalog=load_catalog())
    except PlanError as exc:
        message = str(exc)
        assert message.startswith(f"{file}:") and "\n" not in message
    else:
        assert isinstance(plan, Plan)
