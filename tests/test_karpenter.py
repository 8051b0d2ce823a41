"""Karpenter as a provisioner: subnet choice, 3-min unavailability, FFD packing, bad input."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
from clihelp import assert_one_line_error
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnisim.catalog import load_catalog
from cnisim.cli import app
from cnisim.errors import PlanError, UsageError
from cnisim.io import load_plan
from cnisim.plan import Plan
from cnisim.report import format_summary, summarize
from cnisim.sim import scenario
from cnisim.sim.karpenter import (
    UNAVAILABLE_SUBNET_TTL_S,
    KarpenterController,
    KarpenterSummary,
    SubnetChooser,
    fill_rooms,
    load_prices,
    pack_first_fit_decreasing,
)
from cnisim.sim.scenario import ClusterRun, simulate
from cnisim.sim.scenario_result import SimulationResult

CATALOG = load_catalog()
runner = CliRunner()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def run(tmp_path: Path, text: str, engine: str = "reference") -> SimulationResult:
    plan = load_plan(write(tmp_path, text), catalog=CATALOG)
    return simulate(plan, CATALOG, engine=engine)  # type: ignore[arg-type]


def karpenter(result: SimulationResult) -> KarpenterSummary:
    summary = result.controllers["karpenter"]
    assert isinstance(summary, KarpenterSummary)
    return summary


def test_the_shipped_prices_are_karpenters_table() -> None:
    """Values from karpenter-provider-aws zz_generated.pricing_aws.go (us-east-1)."""
    prices = load_prices()
    assert prices["m5.large"] == 0.096
    assert prices["c5.large"] == 0.085
    assert prices["t3.micro"] == 0.0104
    assert len(prices) > 1000


def test_the_subnet_choice_and_its_three_minute_unavailability_by_hand() -> None:
    """Zone a has a1 (40 free) and a2 (30), zone b has b1 (35). Each launch takes the smallest
    max pods of its types (29) off its subnet's count until the next DescribeSubnets.

    t=0: a1 40 > b1 35 -> a1 (now 11); then b1 35 -> b1 (6); then a2 30 -> a2 (1).
    t=10: a2 is refused (InsufficientFreeAddressesInSubnet): skipped until 190 s, its count 0.
    t=100: a refresh reads a1 40, a2 30, b1 35, yet a2 stays out: a1. t=189: still out.
    t=190: three minutes on, a2 is back."""
    chooser = SubnetChooser(["a1", "a2", "b1"], {"a1": "za", "a2": "za", "b1": "zb"})
    zones = ("za", "zb")
    chooser.refresh({"a1": 40, "a2": 30, "b1": 35}, 0.0)
    picks = []
    for _ in range(3):
        subnet = chooser.choose(zones, 0.0)
        assert subnet is not None
        picks.append(subnet)
        chooser.launched(subnet, 29)
    assert picks == ["a1", "b1", "a2"]
    assert [chooser.available(s) for s in ("a1", "a2", "b1")] == [11, 1, 6]
    chooser.refused("a2", 10.0)
    assert chooser.available("a2") == 0 and chooser.unavailable("a2", 10.0)
    assert chooser.zonal(zones, 10.0) == {"za": "a1", "zb": "b1"}
    assert not chooser.needs_refresh(59.0) and chooser.needs_refresh(60.0)
    chooser.refresh({"a1": 40, "a2": 30, "b1": 35}, 100.0)
    assert chooser.zonal(zones, 100.0) == {"za": "a1", "zb": "b1"}
    assert chooser.unavailable("a2", 10.0 + UNAVAILABLE_SUBNET_TTL_S - 1)
    assert not chooser.unavailable("a2", 10.0 + UNAVAILABLE_SUBNET_TTL_S)
    chooser.refresh({"a1": 20, "a2": 30, "b1": 25}, 190.0)
    assert chooser.choose(zones, 190.0) == "a2"
    chooser.refused("zz", 190.0)  # a subnet it does not choose among: ignored
    chooser.refused("a1", 200.0)
    chooser.refused("a2", 200.0)
    assert chooser.zonal(("za",), 200.0) == {} and chooser.choose(("za",), 200.0) is None


# One system node in subnet-s, a NodePool of c5.large in the subnets tagged for discovery and
# three pods of 1 CPU and 2Gi at 60 s: the tail of the plans below.
POOL_AND_WEB = """\
    nodeGroups:
      - {name: system, instanceTypes: [t3.small], subnets: [subnet-s], desiredCapacity: 1}
    coreDNS: false
    karpenter:
      nodePools:
        - name: pool
          requirements:
            - {key: node.kubernetes.io/instance-type, operator: In, values: [c5.large]}
      nodeClasses:
        - name: default
          subnetSelectorTerms: [{tags: {karpenter.sh/discovery: demo}}]
    workloads:
      - {kind: Deployment, name: web, replicas: 3, start: 60s, requests: {cpu: "1", memory: 2Gi}}
    run: {duration: 10m}
"""


ZONAL = (
    """\
    apiVersion: cnisim/v1
    kind: Plan
    vpc:
      cidrs: [10.0.0.0/16]
      subnets:
        - {id: subnet-a1, az: us-east-1a, cidr: 10.0.0.0/26, tags: {karpenter.sh/discovery: demo}}
        - {id: subnet-a2, az: us-east-1a, cidr: 10.0.1.0/27, tags: {karpenter.sh/discovery: demo}}
        - {id: subnet-s, az: us-east-1b, cidr: 10.0.2.0/24}
"""
    + POOL_AND_WEB
)


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_each_launch_takes_the_subnet_with_the_most_addresses_less_those_in_flight(
    tmp_path: Path, engine: str
) -> None:
    """Each web pod (1 CPU, 2Gi) needs a c5.large of its own (1780 m free after aws-node's
    50 m and kube-proxy's 100 m) and fits on no t3.small (1,572 MiB allocatable). The /26 has
    59 free, the /27 27. Launch 1: a1 59 > 27 (a1 then 59 - 29 = 30); launch 2: a1 30 > 27
    (a1 then 1); launch 3: a2 27 > 1."""
    result = run(tmp_path, ZONAL, engine)
    summary = karpenter(result)
    assert [subnet for _, _, _, subnet in summary.launches] == [
        "subnet-a1",
        "subnet-a1",
        "subnet-a2",
    ]
    assert {t for _, _, t, _ in summary.launches} == {"c5.large"}
    assert summary.n_nodes_launched == (3,) and summary.refused == ()
    # one batch: the three pods arrive together, the batch closes 1 s later
    assert {t for t, _, _, _ in summary.launches} == {62.0}
    web = result.pod_workload == result.workload_names.index("web")
    assert (result.pod_node[web] >= 0).all()
    summary_json = summarize(result)
    pool = {row["name"]: row for row in summary_json["node_groups"]}["pool"]
    assert pool["n_nodes_max"] == 3 and pool["instance_types"] == ["c5.large"]
    assert "karpenter" in format_summary(summary_json)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnisim.plots import plot_nodes_per_group

    fig, ax = plt.subplots()
    labels = [line.get_label() for line in plot_nodes_per_group(ax, result).get_lines()]
    plt.close(fig)
    assert [label for label in labels if not label.startswith("_")] == ["system", "pool"]


FULL = """\
    apiVersion: cnisim/v1
    kind: Plan
    vpc:
      cidrs: [10.0.0.0/16]
      subnets:
        - {id: subnet-f, az: us-east-1a, cidr: 10.0.0.0/28, tags: {karpenter.sh/discovery: demo}}
    nodeGroups:
      - {name: filler, instanceTypes: [c5.large], desiredCapacity: 2}
    coreDNS: false
    karpenter:
      nodePools:
        - name: pool
          requirements:
            - {key: node.kubernetes.io/instance-type, operator: In, values: [c5.xlarge]}
      nodeClasses:
        - name: default
          subnetSelectorTerms: [{id: subnet-f}]
    workloads:
      - {kind: Deployment, name: big, replicas: 1, start: 10m, requests: {cpu: "1", memory: 5Gi}}
    run: {duration: 20m}
"""


def test_a_full_subnet_refuses_launches_and_is_skipped_for_three_minutes(tmp_path: Path) -> None:
    """A /28 has 11 usable addresses: the first c5.large takes 10 (node IP and 9 warm), the
    second its node IP, the last one (it never gets a pod address). The 5Gi pod fits no
    c5.large; Karpenter's c5.xlarge launch at 10 min finds no address: refused, and the subnet
    is out for 3 min; the retries then come 10 s apart, so each refusal follows the last by
    3 min and at most one retry interval."""
    result = run(tmp_path, FULL)
    summary = karpenter(result)
    assert summary.launches == ()
    times = [t for t, subnet in summary.refused if subnet == "subnet-f"]
    assert len(times) == len(summary.refused) >= 3
    assert 600 < times[0] <= 602
    gaps = np.diff(times)
    assert ((gaps >= UNAVAILABLE_SUBNET_TTL_S) & (gaps <= UNAVAILABLE_SUBNET_TTL_S + 10)).all()
    big = result.pod_workload == result.workload_names.index("big")
    assert (result.pod_node[big] == -1).all()
    findings = summarize(result)["findings"]
    assert any("refused" in f and "subnet-f" in f for f in findings), findings


@st.composite
def packing_inputs(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    n_types = draw(st.integers(1, 6))
    n_pods = draw(st.integers(0, 40))
    cap_cpu = np.array(draw(st.lists(st.integers(100, 8000), min_size=n_types, max_size=n_types)))
    cap_mem = np.array(draw(st.lists(st.integers(100, 32000), min_size=n_types, max_size=n_types)))
    cap_pods = np.array(draw(st.lists(st.integers(1, 30), min_size=n_types, max_size=n_types)))
    # pods of a few shapes (as Deployments make them) as well as of many
    cpus = st.integers(0, 4000) | st.sampled_from([0, 250, 1000])
    mems = st.integers(0, 16000) | st.sampled_from([0, 512, 2048])
    pod_cpu = np.array(draw(st.lists(cpus, min_size=n_pods, max_size=n_pods)))
    pod_mem = np.array(draw(st.lists(mems, min_size=n_pods, max_size=n_pods)))
    return (
        pod_cpu.astype(float),
        pod_mem.astype(float),
        cap_cpu.astype(float),
        cap_mem.astype(float),
        cap_pods,
    )


@settings(max_examples=200, deadline=None)
@given(packing_inputs())
def test_first_fit_decreasing_never_exceeds_a_node_capacity(inputs: tuple[np.ndarray, ...]) -> None:
    """Every type a packed node may still take holds all its pods (CPU, memory and pods), so
    the cheapest of them does; every pod is placed once, or no type can hold it alone."""
    pod_cpu, pod_mem, cap_cpu, cap_mem, cap_pods = inputs
    nodes, unplaced = pack_first_fit_decreasing(pod_cpu, pod_mem, cap_cpu, cap_mem, cap_pods)
    placed = [p for node in nodes for p in node.pods]
    assert sorted(placed + unplaced) == list(range(pod_cpu.size))
    for node in nodes:
        assert node.types.any()
        pods = list(node.pods)
        for t in np.flatnonzero(node.types):
            assert pod_cpu[pods].sum() <= cap_cpu[t]
            assert pod_mem[pods].sum() <= cap_mem[t]
            assert len(pods) <= cap_pods[t]
    for p in unplaced:
        assert not ((cap_cpu >= pod_cpu[p]) & (cap_mem >= pod_mem[p])).any()


def _one_pod_at_a_time(
    pod_cpu: np.ndarray,
    pod_mem: np.ndarray,
    cap_cpu: np.ndarray,
    cap_mem: np.ndarray,
    cap_pods: np.ndarray,
) -> list[tuple[tuple[int, ...], list[bool]]]:
    """First-fit decreasing written plainly, one pod after another (the oracle)."""
    nodes: list[list] = []
    for p in np.lexsort((-pod_mem, -pod_cpu)).tolist():
        for node in nodes:
            cpu, mem, n = node[1] + pod_cpu[p], node[2] + pod_mem[p], len(node[0]) + 1
            fits = node[3] & (cap_cpu >= cpu) & (cap_mem >= mem) & (cap_pods >= n)
            if fits.any():
                node[:] = [(*node[0], p), cpu, mem, fits]
                break
        else:
            fits = (cap_cpu >= pod_cpu[p]) & (cap_mem >= pod_mem[p]) & (cap_pods >= 1)
            if fits.any():
                nodes.append([(p,), pod_cpu[p], pod_mem[p], fits])
    return [(node[0], node[3].tolist()) for node in nodes]


@settings(max_examples=200, deadline=None)
@given(packing_inputs())
def test_first_fit_decreasing_equals_packing_one_pod_at_a_time(
    inputs: tuple[np.ndarray, ...],
) -> None:
    """Runs of pods of one shape are packed at once: the same nodes, pods and types."""
    nodes, _ = pack_first_fit_decreasing(*inputs)
    assert [(n.pods, n.types.tolist()) for n in nodes] == _one_pod_at_a_time(*inputs)


def test_first_fit_decreasing_by_hand() -> None:
    """Types: small (1000 m, 1000 MiB, 10 pods) and big (4000 m, 4000 MiB, 10 pods). Pods of
    3000, 600, 600, 500 m (0 MiB): the 3000 m one opens a node only big holds; the 600s and
    the 500 join it (3000 + 600 = 3600, + 500 = 4100 > 4000: the 500 m opens a second node,
    which small holds)."""
    nodes, unplaced = pack_first_fit_decreasing(
        np.array([600.0, 3000.0, 500.0, 600.0]),
        np.zeros(4),
        np.array([1000.0, 4000.0]),
        np.array([1000.0, 4000.0]),
        np.array([10, 10]),
    )
    assert unplaced == []
    assert [node.pods for node in nodes] == [(1, 0), (3, 2)]
    assert [node.types.tolist() for node in nodes] == [[False, True], [False, True]]


BAD = [
    ("{key: karpenter.k8s.aws/instance-famly, operator: In, values: [m5]}", "did you mean"),
    ("{key: karpenter.k8s.aws/instance-cpu, operator: Gt, values: [a]}", "one integer"),
    ("{key: karpenter.k8s.aws/instance-cpu, operator: Among, values: [1]}", "not one of"),
    ("{key: kubernetes.io/arch, operator: In, values: []}", "at least one value"),
]


def _plan_with(requirement: str = "", **edits: str) -> str:
    text = ZONAL
    if requirement:
        text = text.replace(
            "{key: node.kubernetes.io/instance-type, operator: In, values: [c5.large]}",
            requirement,
        )
    for old, new in edits.items():
        assert old in text
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize(("requirement", "fragment"), BAD)
def test_bad_requirements_are_one_line_errors(
    tmp_path: Path, requirement: str, fragment: str
) -> None:
    _expect_error(tmp_path, _plan_with(requirement), fragment)


TERMS = "subnetSelectorTerms: [{tags: {karpenter.sh/discovery: demo}}]"
POOL = "        - name: pool\n"
TOP = "    karpenter:\n"
CLASSES = "      nodeClasses:\n        - name: default\n"
BAD_EDITS = [
    ({TERMS: "subnetSelectorTerms: [{tags: {x: y}}]"}, "select no subnet"),
    ({TERMS: "subnetSelectorTerms: [{id: subnet-q}]"}, "which the VPC does not have"),
    ({TERMS: "subnetSelectorTerms: [{}]"}, "an id or tags"),
    ({TERMS: TERMS + "\n          kubelet: {maxPods: 0}"}, "out of range"),
    ({CLASSES: CLASSES.replace("default", "other")}, "names EC2NodeClass default"),
    ({POOL: POOL + "          limits: {cpu: 0}\n"}, "not positive"),
    ({POOL: POOL + "          disruption: {budget: ten}\n"}, "percentage"),
    ({POOL: POOL + "          disruption: {consolidationPolicy: Always}\n"}, "not one of"),
    ({TOP: TOP + "      batchIdleDuration: 20s\n"}, "batchIdleDuration"),
    ({TOP: TOP + "      prices: {c5.large: -1}\n"}, "not a positive number"),
    ({TOP: TOP + "      batchSize: 3\n"}, "batchSize"),
    ({TOP: TOP + "      batchMaxDuration: 0s\n"}, "not positive"),
    ({TOP: TOP + "      bootTime: {median: 60s, p95: 30s}\n"}, "p95"),
    ({POOL: "        - nodeClassRef: default\n"}, "needs 'name'"),
    ({POOL: POOL + "          limits: {memory: lots}\n"}, "limits.memory"),
    ({POOL: POOL + "          disruption: {consolidateAfter: -1s}\n"}, "not a duration"),
    ({POOL: POOL + "          weight: 10\n"}, "weight"),
    ({TERMS: TERMS + "\n          kubelet: {podsPerCore: 0}"}, "out of range"),
    ({"      nodePools:\n": "      nodePools: []\n      unused:\n"}, "unused"),
    ({"      nodePools:\n": "      nodePools: {}\n      unused:\n"}, "nodePools"),
    (
        {
            CLASSES: CLASSES
            + "          subnetSelectorTerms: [{id: subnet-a1}]\n"
            + CLASSES.split("\n", 1)[1]
        },
        "one name",
    ),
]


@pytest.mark.parametrize(("edits", "fragment"), BAD_EDITS)
def test_bad_karpenter_fields_are_one_line_errors(
    tmp_path: Path, edits: dict[str, str], fragment: str
) -> None:
    _expect_error(tmp_path, _plan_with(**edits), fragment)


def _expect_error(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(PlanError) as info:
        load_plan(write(tmp_path, text), catalog=CATALOG)
    assert "\n" not in str(info.value) and fragment in str(info.value), str(info.value)
    result = runner.invoke(app, ["simulate", str(tmp_path / "plan.yaml")])
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, fragment)


@pytest.mark.parametrize(
    ("requirement", "fragment"),
    [
        ("{key: karpenter.sh/capacity-type, operator: In, values: [spot]}", "on-demand only"),
        ("{key: karpenter.k8s.aws/instance-cpu, operator: Gt, values: ['100000']}", "widen them"),
        ("{key: topology.kubernetes.io/zone, operator: In, values: [us-east-1c]}", "widen them"),
    ],
)
def test_a_pool_that_can_launch_nothing_is_refused_at_the_start(
    tmp_path: Path, requirement: str, fragment: str
) -> None:
    plan = load_plan(write(tmp_path, _plan_with(requirement)), catalog=CATALOG)
    with pytest.raises(UsageError, match=fragment):
        simulate(plan, CATALOG, engine="reference")
    result = runner.invoke(app, ["simulate", str(tmp_path / "plan.yaml")])
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, fragment)


def test_a_pool_named_like_a_node_group_is_refused(tmp_path: Path) -> None:
    _plan = _plan_with(**{POOL: "        - name: system\n"})
    plan = load_plan(write(tmp_path, _plan), catalog=CATALOG)
    with pytest.raises(UsageError, match="NodePool 'system' has the name of a node group"):
        simulate(plan, CATALOG, engine="reference")


class _DeleteAt:
    """Deletes some web pods at ``at_s`` (a scale-down, through the controller seam)."""

    name = "delete"

    def __init__(self, at_s: float, n_pods: int) -> None:
        self.at_s, self.n_pods, self.done = at_s, n_pods, False

    def next_due_s(self, now_s: float) -> float:
        return math.inf if self.done else max(self.at_s, now_s)

    def step(self, run: ClusterRun, now_s: float) -> bool:
        self.done = True
        web = run.pods.workload_names.index("web")
        ids = np.flatnonzero((run.pods["workload"] == web) & np.isnan(run.pods["deleted_s"]))
        run.delete_pods(ids[: self.n_pods], now_s)
        return True

    def summary(self) -> object:
        return self.done


def run_with_deletion(
    tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch, n_pods: int
) -> SimulationResult:
    def controllers(plan: Plan, run: ClusterRun) -> list[object]:
        return [KarpenterController(plan, run), _DeleteAt(300.0, n_pods)]

    monkeypatch.setattr(scenario, "make_controllers", controllers)
    return run(tmp_path, text)


def pool_nodes(result: SimulationResult) -> np.ndarray:
    return np.flatnonzero(result.node_group == result.group_names.index("pool"))


def test_empty_nodes_go_one_budget_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three c5.large hold one web pod each; two pods are deleted at 5 min. The budget, 10 %
    of 3 nodes rounded up, is one node: the two empty nodes go in two passes, 10 s apart."""
    result = run_with_deletion(tmp_path, ZONAL, monkeypatch, 2)
    summary = karpenter(result)
    assert summary.n_consolidated == 2 and summary.n_replaced == 0
    nodes = pool_nodes(result)
    ends = []
    for node in nodes:
        on = result.pod_node == node
        ends.append(np.nanmax(result.pod_deleted_s[on]) if on.any() else math.nan)
    gone = sorted(t for t in ends if not math.isnan(t) and t > 300)
    assert len(gone) == 2 and gone[1] - gone[0] >= 10
    assert result.n_nodes_by_group[-1, result.group_names.index("pool")] == 1


REPLACE = ZONAL.replace("values: [c5.large]", "values: [c5.large, c5.xlarge]").replace(
    "replicas: 3", "replicas: 2"
)


def test_an_underutilized_node_is_replaced_by_a_cheaper_one_ready_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two web pods (1 CPU each) fit no c5.large together (1,780 m free) but one c5.xlarge
    ($0.17/h, 3,770 m free). One is deleted at 5 min: the other fits a c5.large ($0.085/h)
    and nowhere else (the t3.small has 1,572 MiB, the pod asks 2Gi), so Karpenter launches a
    c5.large, and terminates the c5.xlarge only once the c5.large is Ready: two pool nodes for
    a while, one at the end."""
    result = run_with_deletion(tmp_path, REPLACE, monkeypatch, 1)
    summary = karpenter(result)
    assert [t for _, _, t, _ in summary.launches] == ["c5.xlarge", "c5.large"]
    assert summary.launches[1][0] > 300
    assert summary.n_replaced == summary.n_consolidated == 1
    old, new = pool_nodes(result)
    old_gone_s = np.nanmax(result.pod_deleted_s[result.pod_node == old])
    assert old_gone_s >= result.node_kubelet_ready_s[new]
    web = result.pod_workload == result.workload_names.index("web")
    alive = web & np.isnan(result.pod_deleted_s)
    assert alive.sum() == 1 and (result.pod_node[alive] == new).all()
    pool = result.group_names.index("pool")
    assert result.n_nodes_by_group[:, pool].max() == 2
    assert result.n_nodes_by_group[-1, pool] == 1


def test_when_empty_keeps_an_underutilized_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = REPLACE.replace(
        "        - name: pool\n",
        "        - name: pool\n          disruption: {consolidationPolicy: WhenEmpty}\n",
    )
    result = run_with_deletion(tmp_path, text, monkeypatch, 1)
    assert karpenter(result).n_consolidated == 0
    assert len(pool_nodes(result)) == 1


EXAMPLES = Path(__file__).parent.parent / "examples"


def test_the_example_manifests_are_read_as_users_write_them() -> None:
    plan = load_plan(EXAMPLES / "karpenter.yaml", catalog=CATALOG)
    assert plan.karpenter is not None
    (pool,) = plan.karpenter.node_pools
    (node_class,) = plan.karpenter.node_classes
    assert (pool.name, pool.node_class) == ("general", "default")
    assert [r.key for r in pool.requirements][:2] == [
        "karpenter.sh/capacity-type",
        "karpenter.k8s.aws/instance-category",
    ]
    assert pool.limit_cpu_millicores == 200_000 and pool.limit_memory_mib == 800 * 1024
    assert pool.consolidate_after_s == 60 and pool.budget_nodes_frac == 0.1
    assert node_class.subnets(plan.vpc) == ("subnet-a", "subnet-b", "subnet-c")


MANIFEST_PLAN = (
    ZONAL.split("    karpenter:")[0]
    + ZONAL.split("          subnetSelectorTerms")[1].split("\n", 1)[1]
)

NODEPOOL = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: pool}
spec:
  template:
    spec:
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [c5.large]}
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
---
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: default}
spec:
  subnetSelectorTerms:
    - tags: {karpenter.sh/discovery: demo}
"""


def test_karpenter_flag_gives_the_same_run_as_the_plan_section(tmp_path: Path) -> None:
    """The ZONAL plan without its karpenter section, plus the same pool and class as
    manifests: the same three launches in a1, a1, a2."""
    (tmp_path / "nodepools.yaml").write_text(NODEPOOL)
    write(tmp_path, MANIFEST_PLAN)
    result = runner.invoke(
        app,
        [
            "simulate",
            str(tmp_path / "plan.yaml"),
            "--karpenter",
            str(tmp_path / "nodepools.yaml"),
            "--engine",
            "reference",
            "-o",
            "json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    import json

    summary = json.loads(result.stdout)
    assert summary["karpenter"]["node_pools"] == [{"name": "pool", "n_nodes_launched": 3}]


@pytest.mark.parametrize(
    ("manifest", "fragment"),
    [
        (NODEPOOL.replace("kind: NodePool", "kind: Deployment"), "not a Karpenter manifest"),
        (NODEPOOL.replace("karpenter.sh/v1", "karpenter.sh/v1beta1"), "not a Karpenter manifest"),
        (NODEPOOL.replace("metadata: {name: pool}", "metadata: {}"), "metadata.name"),
        (NODEPOOL.replace("operator: In", "operator: Has"), "not one of"),
        (NODEPOOL + "---\n", None),
        ("---\n", "holds no NodePool or EC2NodeClass"),
        (NODEPOOL.replace("EC2NodeClass, name: default", "EC2NodeClass, name: nope"), "nope"),
        (
            NODEPOOL.replace(
                "spec:\n  template", "spec:\n  disruption: {budgets: [{nodes: 3}]}\n  template"
            ),
            "percentage",
        ),
    ],
)
def test_bad_manifests_are_one_line_errors(
    tmp_path: Path, manifest: str, fragment: str | None
) -> None:
    (tmp_path / "nodepools.yaml").write_text(manifest)
    write(tmp_path, MANIFEST_PLAN)
    args = [
        "simulate",
        str(tmp_path / "plan.yaml"),
        "--karpenter",
        str(tmp_path / "nodepools.yaml"),
    ]
    if fragment is None:  # an empty document at the end is fine
        assert load_plan(tmp_path / "plan.yaml", karpenter_files=[tmp_path / "nodepools.yaml"])
        return
    with pytest.raises(PlanError) as info:
        load_plan(tmp_path / "plan.yaml", karpenter_files=[tmp_path / "nodepools.yaml"])
    assert fragment in str(info.value) and "nodepools.yaml" in str(info.value)
    result = runner.invoke(app, [*args, "--duration", "1m"])
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, fragment)


def test_a_plan_names_its_manifests_relative_to_itself(tmp_path: Path) -> None:
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "nodepools.yaml").write_text(NODEPOOL)
    text = MANIFEST_PLAN.replace(
        "    workloads:", "    karpenter: {manifests: k/nodepools.yaml}\n    workloads:"
    )
    plan = load_plan(write(tmp_path, text), catalog=CATALOG)
    assert plan.karpenter is not None and plan.karpenter.node_pools[0].name == "pool"
    missing = text.replace("k/nodepools.yaml", "k/none.yaml")
    with pytest.raises(PlanError, match="no such file"):
        load_plan(write(tmp_path, missing))


def test_spot_and_another_region_are_noted(tmp_path: Path) -> None:
    text = _plan_with(
        "{key: karpenter.sh/capacity-type, operator: In, values: [spot, on-demand]}"
    ).replace("us-east-1", "eu-west-1")
    notes = run(tmp_path, text.replace("run: {duration: 10m}", "run: {duration: 2m}")).notes
    assert "karpenter: NodePool pool allows spot: cnisim launches on-demand" in notes
    assert any("not eu-west-1's" in note for note in notes)


def test_a_pool_limit_leaves_pods_pending(tmp_path: Path) -> None:
    """limits.cpu 4: two c5.large (2 vCPUs each) and no more; the third web pod stays Pending."""
    text = _plan_with(**{POOL: POOL + "          limits: {cpu: 4}\n"})
    result = run(tmp_path, text)
    summary = karpenter(result)
    assert summary.n_nodes_launched == (2,) and summary.n_pods_over_limits == 1
    findings = summarize(result)["findings"]
    assert any("limits left up to 1 pods Pending" in f for f in findings)


def test_karpenter_without_node_pools_is_refused(tmp_path: Path) -> None:
    text = (
        ZONAL.split("    karpenter:")[0]
        + "    karpenter: {}\n"
        + ZONAL.split("          subnetSelectorTerms: [{tags: {karpenter.sh/discovery: demo}}]\n")[
            1
        ]
    )
    _expect_error(tmp_path, text, "karpenter has no NodePool: add one")


STALE = (
    """\
    apiVersion: cnisim/v1
    kind: Plan
    vpc:
      cidrs: [10.0.0.0/16]
      subnets:
        - id: subnet-f
          az: us-east-1a
          cidr: 10.0.0.0/28
          tags: {karpenter.sh/discovery: demo}
          reservations: [{cidr: 10.0.0.0/28, type: explicit}]
        - {id: subnet-b, az: us-east-1b, cidr: 10.0.1.0/26, tags: {karpenter.sh/discovery: demo}}
        - {id: subnet-s, az: us-east-1c, cidr: 10.0.2.0/24}
"""
    + POOL_AND_WEB
)


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_a_refused_subnet_is_passed_over_for_three_minutes(tmp_path: Path, engine: str) -> None:
    """subnet-f's 11 addresses are all in an explicit CIDR reservation: DescribeSubnets counts
    them available, EC2 picks none. Three c5.large (29 max pods each) at 62 s: b 59 > f 11 ->
    b (30 left in flight); b 30 > 11 -> b (1); f 11 > 1 -> f: refused, f out for 3 min, its
    count 0. The third pod is retried 10 s later: f is out, so b (1) takes it."""
    result = run(tmp_path, STALE, engine)
    summary = karpenter(result)
    assert summary.refused == ((62.0, "subnet-f"),)
    assert [subnet for _, _, _, subnet in summary.launches] == ["subnet-b"] * 3
    times = [t for t, _, _, _ in summary.launches]
    assert times[:2] == [62.0, 62.0] and 72.0 <= times[2] < 62.0 + UNAVAILABLE_SUBNET_TTL_S
    web = result.pod_workload == result.workload_names.index("web")
    assert (result.pod_node[web] >= 0).all()


@settings(max_examples=200, deadline=None)
@given(packing_inputs())
def test_filling_rooms_equals_placing_one_pod_at_a_time(inputs: tuple[np.ndarray, ...]) -> None:
    """Pending pods into existing nodes' room (Ready nodes, nodes in flight): the pods left
    over are those a plain first-fit decreasing, one pod after another, leaves."""
    pod_cpu, pod_mem, room_cpu, room_mem, room_pods = inputs
    left = fill_rooms(pod_cpu, pod_mem, room_cpu, room_mem, room_pods)
    rooms = [[c, m, n] for c, m, n in zip(room_cpu, room_mem, room_pods, strict=True)]
    expected = []
    for p in np.lexsort((-pod_mem, -pod_cpu)).tolist():
        for room in rooms:
            if room[0] >= pod_cpu[p] and room[1] >= pod_mem[p] and room[2] >= 1:
                room[0], room[1], room[2] = room[0] - pod_cpu[p], room[1] - pod_mem[p], room[2] - 1
                break
        else:
            expected.append(p)
    assert sorted(left) == sorted(expected)
