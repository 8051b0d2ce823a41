"""eksctl ClusterConfig files: eksctl's defaults, the fields read, the equivalent native plan, and
bad input reported at ``<file>:<line>: <field>``.

Subnet cuts are pinned to eksctl-io/eksctl@99984adb ``pkg/vpc/vpc_test.go`` ("SetSubnets CIDR
assignment": three zones, five zones, one zone); zone counts to ``pkg/az/az.go``.
"""

from __future__ import annotations

import ipaddress
import itertools
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnisim.catalog import load_catalog
from cnisim.errors import PlanError
from cnisim.io import load_plan
from cnisim.io.eksctl import eksctl_subnet_cidrs

DATA = Path(__file__).parent / "data" / "plans"

HEAD = """\
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {name: c, region: us-west-2}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_three_zones_cut_as_eksctl_cuts_them() -> None:
    # vpc_test.go "only availabilityZones is set"
    assert eksctl_subnet_cidrs("192.168.0.0/16", 3) == (
        ["192.168.0.0/19", "192.168.32.0/19", "192.168.64.0/19"],
        ["192.168.96.0/19", "192.168.128.0/19", "192.168.160.0/19"],
    )


def test_five_zones_take_sixteen_blocks() -> None:
    # vpc_test.go "both availabilityZones and localZones are set": 3 + 2 zones, /20s,
    # public indices 0-4, private 5-9.
    public, private = eksctl_subnet_cidrs("192.168.0.0/16", 5)
    assert public == [f"192.168.{16 * i}.0/20" for i in range(5)]
    assert private == [f"192.168.{16 * i}.0/20" for i in range(5, 10)]


def test_one_zone() -> None:
    # vpc_test.go "control plane on Outposts"
    assert eksctl_subnet_cidrs("192.168.0.0/16", 1) == (["192.168.0.0/19"], ["192.168.32.0/19"])


@given(prefix=st.integers(16, 24), n_zones=st.integers(1, 8), base=st.integers(0, 255))
def test_cuts_are_disjoint_inside_the_vpc_public_first(
    prefix: int, n_zones: int, base: int
) -> None:
    vpc = ipaddress.IPv4Network(f"10.{base}.0.0/{prefix}", strict=False)
    public, private = eksctl_subnet_cidrs(str(vpc), n_zones)
    blocks = [ipaddress.IPv4Network(c) for c in public + private]
    assert len(public) == len(private) == n_zones
    assert all(block.subnet_of(vpc) for block in blocks)
    assert blocks == sorted(blocks)  # public ones first, then private, in zone order
    assert all(a.broadcast_address < b.network_address for a, b in itertools.pairwise(blocks))
    assert {block.prefixlen for block in blocks} == {prefix + (3 if n_zones <= 4 else 4)}


def test_eksctl_refuses_more_than_eight_zones_or_a_small_vpc() -> None:
    with pytest.raises(ValueError, match="at most 16"):
        eksctl_subnet_cidrs("192.168.0.0/16", 9)
    with pytest.raises(ValueError, match="/16 to /24"):
        eksctl_subnet_cidrs("192.168.0.0/25", 2)


def test_the_minimal_config_takes_eksctls_defaults() -> None:
    plan = load_plan(DATA / "eksctl-minimal.yaml", catalog=load_catalog())
    assert plan.name == "basic" and plan.region == "eu-west-1"
    assert plan.vpc.cidrs == ("192.168.0.0/16",)
    assert [(s.id, s.az, s.cidr, s.public) for s in plan.vpc.subnets] == [
        ("public-eu-west-1a", "eu-west-1a", "192.168.0.0/19", True),
        ("public-eu-west-1b", "eu-west-1b", "192.168.32.0/19", True),
        ("public-eu-west-1c", "eu-west-1c", "192.168.64.0/19", True),
        ("private-eu-west-1a", "eu-west-1a", "192.168.96.0/19", False),
        ("private-eu-west-1b", "eu-west-1b", "192.168.128.0/19", False),
        ("private-eu-west-1c", "eu-west-1c", "192.168.160.0/19", False),
    ]
    (group,) = plan.node_groups
    assert group.instance_types == ("m5.large",) and group.managed
    assert (group.min_size, group.desired_capacity, group.max_size) == (2, 2, 2)
    assert group.ami_family == "AmazonLinux2023"
    # privateNetworking: false (eksctl's default) puts the nodes in the public subnets
    assert group.subnets == ("public-eu-west-1a", "public-eu-west-1b", "public-eu-west-1c")
    assert any("cnisim assumes eu-west-1a, eu-west-1b, eu-west-1c" in n for n in plan.notes)
    assert (
        "node group ng-1: privateNetworking not given: eksctl's default (false) puts its nodes"
        " in the public subnets" in plan.notes
    )


def test_us_east_1_gets_two_zones_as_eksctl_picks_two_there(tmp_path: Path) -> None:
    text = HEAD.replace("us-west-2", "us-east-1") + "managedNodeGroups: [{name: ng}]\n"
    plan = load_plan(write(tmp_path, text))
    assert plan.vpc.availability_zones == ("us-east-1a", "us-east-1b")
    assert any("eksctl picks 2 at random" in note for note in plan.notes)


def test_region_defaults_to_eksctls(tmp_path: Path) -> None:
    text = HEAD.replace("metadata: {name: c, region: us-west-2}", "metadata: {name: c}")
    plan = load_plan(write(tmp_path, text + "nodeGroups: [{name: ng}]\n"))
    assert plan.region == "us-west-2" and not plan.node_groups[0].managed
    assert plan.vpc.availability_zones == ("us-west-2a", "us-west-2b", "us-west-2c")


def test_given_zones_are_used(tmp_path: Path) -> None:
    text = HEAD + "availabilityZones: [us-west-2b, us-west-2d]\nmanagedNodeGroups: [{name: n}]\n"
    plan = load_plan(write(tmp_path, text))
    assert plan.vpc.availability_zones == ("us-west-2b", "us-west-2d")
    assert not any("at random" in note for note in plan.notes)


def test_every_field_read_from_the_full_config() -> None:
    plan = load_plan(DATA / "eksctl-full.yaml", catalog=load_catalog())
    assert plan.vpc.cidrs == ("10.10.0.0/16", "100.64.0.0/16")
    subnets = {s.id: s for s in plan.vpc.subnets}
    assert subnets["subnet-priv-a"].cidr == "10.10.0.0/20"
    assert subnets["private-pods-a"].az == "us-west-2a"  # an alias key with its own az
    assert subnets["public-us-west-2a"].public
    assert dict(plan.aws_node.env) == {"WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "10"}
    general, spot = plan.node_groups
    assert general.instance_types == ("m5.large", "m5a.large") and general.managed
    assert (general.min_size, general.desired_capacity, general.max_size) == (3, 6, 20)
    assert general.subnets == ("subnet-priv-a", "subnet-priv-b")
    assert general.max_pods_per_node == 58 and general.max_unavailable == 2
    assert dict(general.labels) == {"role": "general"}
    assert spot.instance_types == ("c5.large", "c5a.large") and not spot.managed
    assert spot.ami_family == "Bottlerocket"
    assert spot.subnets == ("public-us-west-2b",)
    assert (spot.min_size, spot.desired_capacity, spot.max_size) == (2, 2, 2)


def test_an_eksctl_config_and_its_native_plan_are_the_same_plan(tmp_path: Path) -> None:
    eksctl = load_plan(
        write(
            tmp_path,
            HEAD
            + textwrap.dedent(
                """\
            vpc:
              cidr: 10.0.0.0/16
              subnets:
                private:
                  us-west-2a: {id: a, cidr: 10.0.0.0/24}
                  us-west-2b: {id: b, cidr: 10.0.1.0/24}
            addons:
              - name: vpc-cni
                configurationValues: |
                  env:
                    WARM_ENI_TARGET: "1"
            managedNodeGroups:
              - {name: g, instanceType: t3.large, desiredCapacity: 1, privateNetworking: true}
            """
            ),
        )
    )
    native_path = tmp_path / "plan.yaml"
    native_path.write_text(
        textwrap.dedent(
            """\
            apiVersion: cnisim/v1
            kind: Plan
            name: c
            region: us-west-2
            vpc:
              cidrs: [10.0.0.0/16]
              subnets:
                - {id: a, az: us-west-2a, cidr: 10.0.0.0/24}
                - {id: b, az: us-west-2b, cidr: 10.0.1.0/24}
            awsNode: {env: {WARM_ENI_TARGET: "1"}}
            nodeGroups: [{name: g, instanceTypes: [t3.large], desiredCapacity: 1}]
            """
        )
    )
    native = load_plan(native_path)
    assert eksctl.vpc == native.vpc
    assert eksctl.node_groups == native.node_groups
    assert eksctl.aws_node == native.aws_node
    assert (eksctl.region, eksctl.name, eksctl.coredns) == (
        native.region,
        native.name,
        native.coredns,
    )


def test_ipv6_takes_no_pod_ipv4_and_says_so(tmp_path: Path) -> None:
    text = HEAD + "kubernetesNetworkConfig: {ipFamily: IPv6}\nmanagedNodeGroups: [{name: n}]\n"
    plan = load_plan(write(tmp_path, text))
    assert plan.ip_family == "IPv6"
    assert plan.ipamd_config(plan.node_groups[0]).pool_mode(True) == "ipv6"
    assert any("pods take no IPv4 address (a /80 per node)" in note for note in plan.notes)


def test_other_vpc_cni_values_are_noted(tmp_path: Path) -> None:
    text = HEAD + (
        'addons: [{name: vpc-cni, configurationValues: \'{"env": {"WARM_IP_TARGET": "3"},'
        ' "nodeAgent": {"enabled": "false"}}\'}]\nmanagedNodeGroups: [{name: n}]\n'
    )
    plan = load_plan(write(tmp_path, text))
    assert plan.aws_node.env == {"WARM_IP_TARGET": "3"}
    assert "vpc-cni configurationValues: nodeAgent not read (env only)" in plan.notes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "managedNodeGroups:\n  - name: n\n    desiredCapcity: 3\n",
            ":6: managedNodeGroups[0].desiredCapcity: unknown field in an eksctl ManagedNodeGroup:"
            " did you mean desiredCapacity?",
        ),
        (
            "managedNodeGroups:\n  - name: n\n"
            "    instancesDistribution: {instanceTypes: [m5.large]}\n",
            "managedNodeGroups[0].instancesDistribution: unknown field in an eksctl Managed",
        ),
        (
            "vpc: {cidrr: 10.0.0.0/16}\nmanagedNodeGroups: [{name: n}]\n",
            ":4: vpc.cidrr: unknown field in an eksctl ClusterVPC: did you mean cidr?",
        ),
        (
            "managedNodeGroups: [{name: n, instanceType: m5.large, instanceTypes: [c5.large]}]\n",
            "managedNodeGroups[0].instanceTypes: give instanceType or instanceTypes, not both",
        ),
        (
            "nodeGroups:\n  - name: n\n    instanceType: m5.large\n"
            "    instancesDistribution: {instanceTypes: [c5.large]}\n",
            ':6: nodeGroups[0].instanceType: should be "mixed" or unset with instancesDistribution',
        ),
        (
            "managedNodeGroups: [{name: n, instanceType: m5.lage}]\n",
            "managedNodeGroups[0].instanceType: node group n: unknown instance type 'm5.lage'",
        ),
        (
            "vpc:\n  subnets:\n    private:\n      us-west-2a: {id: subnet-1}\n"
            "managedNodeGroups: [{name: n}]\n",
            ":7: vpc.subnets.private.us-west-2a: has no cidr: cnisim does not look up",
        ),
        (
            "vpc: {id: vpc-1}\nmanagedNodeGroups: [{name: n}]\n",
            "vpc.id: an existing VPC without vpc.subnets",
        ),
        (
            "vpc:\n  subnets:\n    private:\n      us-west-2a: {cidr: 192.168.0.0/24}\n"
            "managedNodeGroups: [{name: n}]\n",
            "managedNodeGroups[0].privateNetworking: node group n needs public subnets"
            " (privateNetworking is false, eksctl's default) and the VPC has none",
        ),
        (
            "vpc:\n  subnets:\n    private:\n      us-west-2a: {cidr: 192.168.0.0/24}\n"
            "managedNodeGroups: [{name: n, privateNetworking: true, subnets: [us-west-2x]}]\n",
            "managedNodeGroups[0].subnets[0]: no subnet 'us-west-2x' in vpc.subnets: did you mean",
        ),
        (
            "vpc:\n  subnets:\n    private:\n      us-west-2a: {cidr: 192.168.0.0/24}\n"
            "managedNodeGroups:\n"
            "- {name: n, privateNetworking: true, availabilityZones: [us-west-2b]}\n",
            ":9: managedNodeGroups[0].availabilityZones: zone us-west-2b has no private subnet",
        ),
        (
            "vpc:\n  subnets:\n    private:\n      us-west-2a: {cidr: 10.9.0.0/24}\n"
            "managedNodeGroups: [{name: n, privateNetworking: true}]\n",
            ":7: vpc.subnets.private.us-west-2a.cidr: subnet private-us-west-2a (10.9.0.0/24) is"
            " outside every VPC CIDR (192.168.0.0/16)",
        ),
        (
            "vpc: {cidr: 10.0.0.0/26}\nmanagedNodeGroups: [{name: n}]\n",
            ":4: vpc.cidr: VPC CIDR 10.0.0.0/26 is a /26: eksctl needs /16 to /24",
        ),
        (
            "availabilityZones: [a, b, c, d, e, f, g, h, i]\nmanagedNodeGroups: [{name: n}]\n",
            ":4: availabilityZones: 9 zones need 18 subnets: eksctl makes at most 16",
        ),
        (
            "addons: [{name: vpc-cni, configurationValues: '{\"env\": [1'}]\n"
            "managedNodeGroups: [{name: n}]\n",
            ":4: addons[0].configurationValues: is neither JSON nor YAML",
        ),
        (
            'addons: [{name: vpc-cni, configurationValues: \'{"env": {"ENABLE_IPv6": "yes",'
            ' "WARM_IP_TARGET": "x"}}\'}]\nmanagedNodeGroups: [{name: n}]\n',
            None,
        ),
        (
            'addons: [{name: vpc-cni, configurationValues: \'{"env": {"ENABLE_IPv4": "false"}}\'}]'
            "\nmanagedNodeGroups: [{name: n}]\n",
            ":4: addons[0].configurationValues: ENABLE_IPv4 and ENABLE_IPv6 are both false",
        ),
        ("fargateProfiles: []\n", ":1: has no managedNodeGroups or nodeGroups"),
        (
            "managedNodeGroups: [{name: n, minSize: 4, maxSize: 2}]\n",
            ":4: managedNodeGroups[0].minSize: minSize 4 is above maxSize 2",
        ),
        (
            "kubernetesNetworkConfig: {ipFamily: IPv5}\nmanagedNodeGroups: [{name: n}]\n",
            ":4: kubernetesNetworkConfig.ipFamily: 'IPv5' is not IPv4 or IPv6",
        ),
    ],
)
def test_bad_configs_name_file_line_and_field(
    tmp_path: Path, text: str, expected: str | None
) -> None:
    path = write(tmp_path, HEAD + text)
    if expected is None:  # values ipamd coerces: notes, not errors
        plan = load_plan(path, catalog=load_catalog())
        assert len(plan.notes) >= 2 and any("ENABLE_IPv6='yes'" in n for n in plan.notes)
        return
    with pytest.raises(PlanError) as info:
        load_plan(path, catalog=load_catalog())
    message = str(info.value)
    assert message.startswith(str(path) + ":") and "\n" not in message
    assert expected in message


def test_the_eksctl_example_is_the_t3_large_example() -> None:
    examples = Path(__file__).parent.parent / "examples"
    eksctl = load_plan(examples / "eksctl-t3-large.yaml", catalog=load_catalog())
    native = load_plan(examples / "t3-large.yaml", catalog=load_catalog())
    assert eksctl.vpc == native.vpc
    assert eksctl.node_groups == native.node_groups
    assert (eksctl.aws_node, eksctl.region, eksctl.name) == (
        native.aws_node,
        native.region,
        native.name,
    )


_ANY_YAML = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(["10.10.0.0/16", "m5.large", "us-west-2a", "IPv6", '{"env": 1}', "[1"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
_PATHS = [
    ("metadata",),
    ("metadata", "region"),
    ("vpc", "cidr"),
    ("vpc", "extraCIDRs"),
    ("vpc", "subnets"),
    ("vpc", "subnets", "private"),
    ("vpc", "subnets", "private", "us-west-2a"),
    ("vpc", "subnets", "public", "us-west-2a", "cidr"),
    ("addons", 0, "configurationValues"),
    ("addons", 0),
    ("managedNodeGroups", 0, "instanceTypes"),
    ("managedNodeGroups", 0, "subnets"),
    ("managedNodeGroups", 0, "privateNetworking"),
    ("managedNodeGroups", 0, "updateConfig"),
    ("nodeGroups", 0, "instancesDistribution"),
    ("nodeGroups", 0, "availabilityZones"),
    ("nodeGroups",),
    ("kubernetesNetworkConfig",),
    ("availabilityZones",),
]


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(_PATHS), value=_ANY_YAML)
def test_any_value_anywhere_is_a_plan_or_a_plan_error(
    tmp_path: Path, path: tuple[str | int, ...], value: object
) -> None:
    document = yaml.safe_load((DATA / "eksctl-full.yaml").read_text())
    node = document
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    file = tmp_path / "fuzz.yaml"
    file.write_text(yaml.safe_dump(document))
    try:
        load_plan(file, catalog=load_catalog())
    except PlanError as exc:
        message = str(exc)
        assert message.startswith(f"{file}:") and "\n" not in message
